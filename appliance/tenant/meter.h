#pragma once

/* Metering: durable usage intervals per instance in the store (usage_intervals). An interval opens
 * when arkd sees an instance running and closes when it stops, is deleted or arkd shuts down
 * (not while its state is unknown because libvirt is away: reconciliation decides);
 * while open, its last-alive time is brought forward every second. An interval still open when
 * arkd starts (arkd was killed, or the host crashed) is closed at its last-alive time: never
 * left open, never counted twice. Each interval records what the instance had: vCPUs, memory,
 * GPUs, their models and memory. */

#include <stdint.h>
#include <systemd/sd-bus.h>

typedef struct Manager Manager;
typedef struct Instance Instance;

/* At start-up, before the first reconciliation: closes the intervals a previous arkd left open. */
int meter_recover(Manager *m);
/* Opens or closes intervals to match the instances' states (after a state change, after a
 * reconciliation). */
void meter_sync(Manager *m);
/* Closes i's interval (the instance goes away, or arkd stops, or it is off now). */
void meter_close(Instance *i);
/* Opens i's interval now unless one is open (it runs from now). Called inside the transaction
 * that records a start, so that the interval commits with it; when that transaction fails, the
 * caller sets i->usage_interval back (meter_close() likewise). */
void meter_begin(Instance *i);
/* Starts the 1-second heartbeat. */
int meter_start(Manager *m);

/* Usage between from and to (µs, CLOCK_REALTIME), per instance, of the tenant named `tenant` and
 * with UUID `tenant_uuid` (either "" = any: a name alone finds every tenant that had it, deleted
 * ones too); intervals are clipped to the window. Rows of a tenant deleted and created again under
 * its name are apart (tenant_uuid differs; NULL for usage older than tenant UUIDs whose tenant is
 * gone). */
typedef struct UsageRow {
        const char *tenant, *instance, *gpu_models;
        const char *tenant_uuid; /* NULL: a tenant deleted before UUIDs were recorded */
        double seconds, gpu_seconds, gpu_memory_gib_seconds, vcpu_seconds, memory_gib_seconds;
        double compute_unit_seconds; /* GPU-seconds weighted by model (compute-unit.h) */
        uint64_t intervals;
} UsageRow;
typedef int (*UsageFunc)(const UsageRow *row, void *userdata);
int meter_report(Manager *m, const char *tenant, const char *tenant_uuid, uint64_t from, uint64_t to,
                 UsageFunc cb, void *userdata);

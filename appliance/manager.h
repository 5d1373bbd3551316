#pragma once

/* The node controller's single object graph: configuration, event loop, bus, store, inventory,
 * hypervisor connection, tenants and instances. One thread owns it all and runs from sd-event. The
 * only other threads are bundle imports' workers (bundle-import.c): each reads its bundle into its own
 * staging directory and touches nothing of the manager's but the atomic import_reserved; it
 * reports through atomics and an eventfd that the event loop reads. */

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sqlite3.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "instance.h"
#include "host-inventory.h"
#include "pool/workload.h"
#include "tenant.h"

typedef struct Hypervisor Hypervisor;
typedef struct Reclaim Reclaim;

/* A claim arkd cannot honour or a GPU handed out where the store does not say so: reported (log,
 * Conflicts property, arkctl status), never resolved behind the admin's back. */
typedef struct Conflict {
        char *device;  /* the PCI address concerned */
        char *message; /* one sentence */
} Conflict;

typedef struct Orphan {
        char *domain;
        char uuid[37];
        char *tenant;
} Orphan;

struct Manager {
        ArkConfig config;
        sd_event *event;
        sd_bus *bus;
        sqlite3 *db;
        int lock_fd; /* flock on <state>/arkd.lock: one arkd per state directory */

        HostInfo host;
        Accelerator *accelerators;
        size_t n_accelerators;
        PoolWorkload workload; /* [Placement] Workload=; no shapes = the built-in default */

        Hypervisor *hv; /* the VM driver's libvirt connection (vm/hypervisor.c); opaque here */
        struct Containers *containers; /* the container driver's runtime (container/); opaque here */

        Tenant *tenants;
        Instance *instances;
        struct Network *networks; /* tenant networks (network/network.h) */
        struct NetState *net;     /* their data path; NULL when tenant networks are unavailable */

        Orphan *orphans;
        size_t n_orphans;
        Conflict *conflicts;
        size_t n_conflicts;

        uint64_t started_usec;
        uint64_t last_reconcile_usec;
        sd_event_source *watchdog;
        struct Metrics *metrics;         /* NULL = no metrics endpoint */
        sd_event_source *meter_timer;    /* usage heartbeat (meter.h) */
        struct Reclaim *reclaims;        /* calls waiting for preemptible instances to stop (reclaim.h) */
        struct Reclaim *reclaim_current; /* the one being answered now */
        sd_event_source *reclaim_defer;
        char *call_pending;     /* set by a handler whose call is answered later (audit.h) */
        struct Bundle *bundles; /* what signed bundles installed (bundles.h) */
        struct Import *imports; /* imports in progress */
        uint32_t last_import_id;
        _Atomic uint64_t import_reserved; /* payload bytes the imports in progress will write */
        struct ApiGuard *guard;           /* refused calls per caller (api-guard.h) */
        sd_bus_message *caller_msg;       /* the last message whose caller was asked, referenced */
        struct Caller *caller_of_msg;     /* ... and its caller (access.h) */
        struct CallerCache *caller_cache; /* callers by bus name, for a second (access.c) */
};

int manager_new(const ArkConfig *config, Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager, manager_free);

/* Opens the store and loads tenants and instances; scans accelerators; connects the bus;
 * connects the hypervisor (retrying in the background when it is not there). Logs. */
int manager_startup(Manager *m);

/* Directory helpers under the state dir; newly allocated. */
char *manager_state_path(Manager *m, const char *sub);

unsigned manager_count_tenants(Manager *m);
unsigned manager_count_instances(Manager *m);
const char *manager_domain_type(Manager *m);

/* D-Bus (manager-dbus.c) */
int manager_bus_setup(Manager *m);
/* Takes org.ark.Ark1 once everything is loaded and reconciled. */
int manager_bus_request_name(Manager *m);
void manager_emit_counts_changed(Manager *m);
void manager_orphans_clear(Manager *m);
int manager_orphan_add(Manager *m, const char *domain, const char *uuid, const char *tenant);
void manager_conflicts_clear(Manager *m);
/* Records (and logs, as a warning with MESSAGE_ID=ARK_MESSAGE_CLAIM_CONFLICT) a conflict. */
void manager_conflict_add(Manager *m, const char *device, const char *format, ...) _printf_(3, 4);
/* Starts the conflict list over with what the store alone shows: claims of GPUs this host does
 * not have, or by instances the store does not have. hypervisor_reconcile() adds what the domains
 * show. Returns 0 or the store's negative errno. */
int manager_check_claims(Manager *m);

/* The answer to a failed read or write of the store, "FORMAT: why.": a lock another process held
 * past the busy timeout is org.ark.Ark1.Error.Timeout and says so (the caller may try again;
 * nothing was changed), anything else Failed with SQLite's sentence. Returns the negative errno
 * sd-bus gives. */
int manager_store_error(Manager *m, sd_bus_error *error, int r, const char *format, ...) _printf_(4, 5);

/* Reads claims and holds from the store onto the accelerators. A claim of a device this host
 * does not have, or of an instance the store does not know, is logged as a conflict and left in
 * the store (never dropped silently). Returns 0 or a negative errno from the store. */
int manager_load_claims(Manager *m);

/* Removes the per-instance files Ark created (disks/<uuid>.qcow2, nvram/<uuid>_VARS.fd) that
 * belong to no instance and no orphan domain: what a create interrupted by a crash leaves. Logs. */
void manager_remove_stray_files(Manager *m);

/* What the readiness checks look at, from the manager's configuration and inventory. */
struct ReadinessInput;
void manager_readiness_input(Manager *m, struct ReadinessInput *ret);

/* accelerator.c: the admin's holds. Fill `error` with a named error and return <0 when refused. */
int accelerator_hold(Manager *m, Accelerator *a, const char *state, const char *reason, sd_bus_error *error);
/* Success when there is no hold. */
int accelerator_release_hold(Manager *m, Accelerator *a, sd_bus_error *error);

/* accelerator-dbus.c */
Accelerator *manager_find_accelerator(Manager *m, const char *address);
/* The accelerator at `address`, or the one whose passthrough group `address` is an endpoint of
 * (its audio, USB-C, or another device of its IOMMU group). NULL when neither. */
Accelerator *manager_accelerator_of_function(Manager *m, const char *address);
/* Records that instance `owner` (NULL: nobody) holds the accelerator at address, and emits the
 * property changes. No-op for an address this host does not have. */
void accelerator_set_claim(Manager *m, const char *address, const Instance *owner);
extern const struct sd_bus_vtable accelerator_vtable[];
int accelerator_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
                            void **found, sd_bus_error *error);
int accelerator_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes,
                                sd_bus_error *error);

#pragma once

/* Containers' parts of GPUs (instance.h's InstancePartition): MIG instances made and destroyed
 * through NVML (hw/nvml.h), shares served by the GPU's MPS control daemon (hw/mps.h), and what a
 * container's CDI device for its partition needs. For the container driver; instance.c reaches it
 * through container.h.
 *
 * NVML is opened once, when the driver is set up ([Containers] NVML=); without it (no NVIDIA
 * driver) MIG instances and shares are refused with the sentence why, and whole GPUs still go to
 * containers. A share needs the GPU in exclusive-process compute mode (only the MPS server may
 * open it: docs/gpu-sharing.md) and the daemon running for the share's tenant, with the limits of
 * its size: active threads milli/10 percent, pinned device memory its memory. */

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "shared/cdi.h"

typedef struct Instance Instance;
typedef struct InstancePartition InstancePartition;
typedef struct Manager Manager;
typedef struct Partitions Partitions;

int partitions_new(Manager *m, Partitions **ret);
Partitions *partitions_free(Partitions *p);

/* NULL when NVML is there; else the sentence why MIG instances and shares cannot be had. */
const char *partitions_why_not(Partitions *p);

/* At startup, before anything starts: each stored MIG partition is matched with NVML's instances
 * by GPU, profile and start slice (its NVML ids and UUID recorded again; none left after a reboot:
 * made again at its start), and an NVML instance no partition has (arkd died between making it
 * and committing the container) is destroyed. Logs what it does; never fails arkd. */
void partitions_reconcile(Manager *m, Partitions *p);

/* Makes i's MIG instance at its recorded start (turning MIG mode on first when `mig_enable`) and
 * records NVML's ids in i->partition and in the store (the caller's transaction). A share has
 * nothing to make here. Fills `error` (NVML's sentence) on failure. */
int partitions_make(Manager *m, Partitions *p, Instance *i, bool mig_enable, sd_bus_error *error);
/* Undoes partitions_make() after a failure: the MIG instance destroyed, MIG mode off again when
 * `mig_enabled`. */
void partitions_undo(Manager *m, Partitions *p, const InstancePartition *part, bool mig_enabled);
/* After the partition's container was deleted (it is off the manager's list): its MIG instance
 * destroyed and MIG mode turned off with the GPU's last one; the GPU's MPS daemon stopped and
 * the default compute mode set again with its last share. Logs failures (startup reconciles). */
void partitions_release(Manager *m, Partitions *p, const InstancePartition *part);

/* A container's CDI device for its partition: cdi points into the rest. */
typedef struct PartitionDevice {
        CdiPartition cdi;
        char name[48];
        char uuid[96];
        char *pipe_dir, *shm_dir;
} PartitionDevice;
void partition_device_done(PartitionDevice *d);

/* Before i starts: its MIG instance there (made again after a reboot), or its GPU's MPS daemon
 * running for host UID/GID `uid` with the share's limits, the GPU exclusive-process. Then its CDI
 * device in *ret. Fills `error` on failure. */
int partitions_prepare(Manager *m, Partitions *p, Instance *i, uid_t uid, gid_t gid, PartitionDevice *ret,
                       sd_bus_error *error);

/* Containers' MIG instances and shares; see partitions.h. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "instance.h"
#include "manager.h"
#include "mps.h"
#include "nvml.h"
#include "partitions.h"
#include "shared/bus-util.h"
#include "store.h"

struct Partitions {
        Nvml *nvml;
        char *why_not;
        MpsConfig mps;
};

int partitions_new(Manager *m, Partitions **ret) {
        _cleanup_free_ char *why = NULL;
        Partitions *p = calloc(1, sizeof(Partitions));
        int r;

        if (!p)
                return -ENOMEM;
        p->mps = (MpsConfig) { .control = m->config.container_mps_control,
                               .runtime_dir = m->config.container_run_dir };
        r = nvml_open(m->config.container_nvml, &p->nvml, &why);
        if (r == -ENOMEM) {
                free(p);
                return r;
        }
        if (r < 0) {
                p->why_not =
                        strprintf("NVIDIA's management library cannot be used here ([Containers] NVML=%s: "
                                  "%s)",
                                  m->config.container_nvml, strna(why));
                if (!p->why_not) {
                        free(p);
                        return -ENOMEM;
                }
                log_info("MIG instances and GPU shares for containers are off: %s.", p->why_not);
        }
        *ret = p;
        return 0;
}

Partitions *partitions_free(Partitions *p) {
        if (!p)
                return NULL;
        nvml_close(p->nvml);
        free(p->why_not);
        free(p);
        return NULL;
}

const char *partitions_why_not(Partitions *p) {
        return p ? p->why_not : "containers are not set up";
}

static bool others_on_gpu(Manager *m, const InstancePartition *part, bool mig) {
        LIST_FOREACH(instances, i, m->instances)
                if (i->partition && i->partition != part && i->partition->mig == mig &&
                    streq(i->partition->address, part->address))
                        return true;
        return false;
}

static int record_nvml(Manager *m, Instance *i, const NvmlMigInstance *mi) {
        InstancePartition *part = i->partition;
        int r;

        r = store_partition_set_nvml(m->db, i->id, mi ? (int) mi->gi_id : -1, mi ? (int) mi->ci_id : -1,
                                     mi ? mi->uuid : NULL);
        if (r < 0)
                return r;
        part->gi_id = mi ? (int) mi->gi_id : -1;
        part->ci_id = mi ? (int) mi->ci_id : -1;
        return free_and_strdup(&part->uuid, mi ? mi->uuid : NULL);
}

int partitions_make(Manager *m, Partitions *p, Instance *i, bool mig_enable, sd_bus_error *error) {
        InstancePartition *part = i->partition;
        _cleanup_free_ char *why = NULL;
        NvmlMigInstance mi = {};
        int r;

        if (!part->mig)
                return 0;
        if (!p || !p->nvml)
                return sd_bus_error_setf(error, ARK_ERROR_NOT_READY, "MIG instances cannot be made: %s.",
                                         partitions_why_not(p));
        if (mig_enable) {
                r = nvml_set_mig(p->nvml, part->address, true, &why);
                if (r < 0) {
                        /* Not left pending until the next reset either. */
                        (void) nvml_set_mig(p->nvml, part->address, false, NULL);
                        return sd_bus_error_setf(error, ARK_ERROR_HYPERVISOR,
                                                 "Failed to put GPU %s in MIG mode: %s", part->address,
                                                 strna(why));
                }
        }
        r = nvml_mig_create(p->nvml, part->address, (MigProfile) part->profile, part->mig_start, &mi, &why);
        if (r < 0) {
                if (mig_enable)
                        (void) nvml_set_mig(p->nvml, part->address, false, NULL);
                return sd_bus_error_setf(
                        error, r == -ENOSPC || r == -EINVAL ? ARK_ERROR_NO_CAPACITY : ARK_ERROR_HYPERVISOR,
                        "Failed to make the %s MIG instance of '%s' on GPU %s: %s",
                        mig_profile_info((MigProfile) part->profile)->name, i->name, part->address,
                        strna(why));
        }
        r = record_nvml(m, i, &mi);
        if (r < 0) {
                (void) nvml_mig_destroy(p->nvml, part->address, mi.gi_id, mi.ci_id, NULL);
                if (mig_enable)
                        (void) nvml_set_mig(p->nvml, part->address, false, NULL);
                return manager_store_error(m, error, r, "Failed to record the MIG instance of '%s'",
                                           i->name);
        }
        return 0;
}

void partitions_undo(Manager *m, Partitions *p, const InstancePartition *part, bool mig_enabled) {
        _cleanup_free_ char *why = NULL;

        if (!part || !part->mig || !p || !p->nvml || part->gi_id < 0)
                return;
        if (nvml_mig_destroy(p->nvml, part->address, (unsigned) part->gi_id, (unsigned) part->ci_id, &why) <
            0)
                log_warning("Failed to destroy MIG instance %d of GPU %s again: %s", part->gi_id,
                            part->address, strna(why));
        if (mig_enabled)
                (void) nvml_set_mig(p->nvml, part->address, false, NULL);
}

void partitions_release(Manager *m, Partitions *p, const InstancePartition *part) {
        _cleanup_free_ char *why = NULL;
        int r;

        if (!part || !p)
                return;
        if (part->mig) {
                if (!p->nvml)
                        return;
                if (part->gi_id >= 0) {
                        r = nvml_mig_destroy(p->nvml, part->address, (unsigned) part->gi_id,
                                             (unsigned) part->ci_id, &why);
                        if (r < 0 && r != -ENOENT)
                                log_warning("Failed to destroy MIG instance %d of GPU %s: %s", part->gi_id,
                                            part->address, strna(why));
                        why = mfree(why);
                }
                if (!others_on_gpu(m, part, true) && nvml_set_mig(p->nvml, part->address, false, &why) < 0)
                        log_warning("Failed to turn MIG mode off on GPU %s: %s", part->address, strna(why));
                return;
        }
        if (others_on_gpu(m, part, false))
                return;
        r = mps_stop(&p->mps, part->address, &why);
        if (r < 0)
                log_warning("Failed to stop the MPS daemon of GPU %s: %s", part->address, strna(why));
        why = mfree(why);
        if (p->nvml && nvml_set_exclusive_process(p->nvml, part->address, false, &why) < 0)
                log_warning("Failed to give GPU %s its default compute mode again: %s", part->address,
                            strna(why));
        log_info("GPU %s carries no shares any more: its MPS daemon is stopped.", part->address);
}

/* The stored MIG instance of i, as NVML has it now: found by profile and start, or made again. */
static int mig_ensure(Manager *m, Partitions *p, Instance *i, sd_bus_error *error) {
        InstancePartition *part = i->partition;
        _cleanup_free_ NvmlMigInstance *list = NULL;
        _cleanup_free_ char *why = NULL;
        size_t n = 0;
        int r;

        r = nvml_mig_list(p->nvml, part->address, &list, &n, &why);
        if (r < 0)
                return sd_bus_error_setf(error, ARK_ERROR_HYPERVISOR,
                                         "Failed to list the MIG instances of GPU %s: %s", part->address,
                                         strna(why));
        for (size_t k = 0; k < n; k++)
                if (list[k].profile == (MigProfile) part->profile && list[k].start == part->mig_start &&
                    !isempty(list[k].uuid)) {
                        if (part->gi_id == (int) list[k].gi_id && streq_ptr(part->uuid, list[k].uuid))
                                return 0;
                        r = record_nvml(m, i, &list[k]);
                        return r < 0
                                ? manager_store_error(m, error, r,
                                                      "Failed to record the MIG instance of '%s'", i->name)
                                : 0;
                }
        /* Gone (the host rebooted): made again where it was, MIG mode on first if need be. */
        log_info("Making the MIG instance of '%s' on GPU %s again.", i->name, part->address);
        return partitions_make(m, p, i, true, error);
}

void partition_device_done(PartitionDevice *d) {
        free(d->pipe_dir);
        free(d->shm_dir);
        *d = (PartitionDevice) {};
}

int partitions_prepare(Manager *m, Partitions *p, Instance *i, uid_t uid, gid_t gid, PartitionDevice *ret,
                       sd_bus_error *error) {
        InstancePartition *part = i->partition;
        _cleanup_(partition_device_done) PartitionDevice d = {};
        _cleanup_free_ char *why = NULL, *uuid = NULL;
        CdiRoots roots = { .dev = m->config.container_dev_root, .proc = m->config.sysfs_root };
        int r;

        if (!p || !p->nvml)
                return sd_bus_error_setf(error, ARK_ERROR_NOT_READY,
                                         "The GPU partition of container '%s' cannot be given: %s.", i->name,
                                         partitions_why_not(p));
        snprintf(d.name, sizeof(d.name), "%s-%s", part->address, part->mig ? "mig" : "share");
        for (char *c = d.name; *c; c++)
                if (*c == ':')
                        *c = '-';
        if (part->mig) {
                r = mig_ensure(m, p, i, error);
                if (r < 0)
                        return r;
                snprintf(d.uuid, sizeof(d.uuid), "%s", strempty(part->uuid));
                d.cdi = (CdiPartition) { .type = CDI_NVIDIA_MIG,
                                         .address = part->address,
                                         .gi = (unsigned) part->gi_id,
                                         .ci = (unsigned) part->ci_id };
        } else {
                MpsShare s = {
                        .address = part->address,
                        .uid = uid,
                        .gid = gid,
                        .active_thread_percentage = MAX(1U, part->milli / 10),
                        .pinned_memory_bytes = part->memory_bytes,
                };

                r = cdi_nvidia_uuid(&roots, part->address, &uuid, &why);
                if (r < 0)
                        return sd_bus_error_setf(error, ARK_ERROR_NOT_READY,
                                                 "The share of container '%s': %s", i->name, strna(why));
                snprintf(d.uuid, sizeof(d.uuid), "%s", uuid);
                s.uuid = d.uuid;
                /* Only the MPS server may open the GPU: no client can go around its limits. */
                r = nvml_set_exclusive_process(p->nvml, part->address, true, &why);
                if (r < 0)
                        return sd_bus_error_setf(error, ARK_ERROR_HYPERVISOR,
                                                 "Failed to make GPU %s exclusive to its MPS server: %s",
                                                 part->address, strna(why));
                why = mfree(why);
                r = mps_start(&p->mps, &s, &why);
                /* Its sentence names the other UID: said without it. */
                if (r == -EBUSY)
                        return sd_bus_error_setf(
                                error, ARK_ERROR_IN_USE,
                                "The MPS daemon of GPU %s serves other shares (another tenant's, "
                                "or another size) and cannot serve container '%s'.",
                                part->address, i->name);
                if (r < 0)
                        return sd_bus_error_setf(error, ARK_ERROR_HYPERVISOR,
                                                 "The MPS daemon of GPU %s cannot serve container '%s': %s",
                                                 part->address, i->name, strna(why));
                /* A plain directory as the shm would let the share fill /run: only where arkd could
                 * not mount anything anyway (not root, in tests). */
                if (r == 2 && geteuid() == 0) {
                        (void) mps_stop(&p->mps, part->address, NULL);
                        return sd_bus_error_setf(
                                error, ARK_ERROR_HYPERVISOR,
                                "The MPS daemon of GPU %s got no shared-memory tmpfs of its own.",
                                part->address);
                }
                r = mps_paths(&p->mps, part->address, &d.pipe_dir, &d.shm_dir);
                if (r < 0)
                        return r;
                d.cdi = (CdiPartition) { .type = CDI_NVIDIA_SHARE,
                                         .address = part->address,
                                         .mps_pipe_dir = d.pipe_dir,
                                         .mps_shm_dir = d.shm_dir };
        }
        *ret = d;
        d = (PartitionDevice) {};
        /* Pointers into *ret, not into d, which moved. */
        ret->cdi.name = ret->name;
        ret->cdi.uuid = ret->uuid;
        return 0;
}

/* Whether NVML says the GPU at `address` is in MIG mode. */
static bool mig_enabled(Partitions *p, const char *address) {
        _cleanup_free_ NvmlGpu *gpus = NULL;
        size_t n = 0;

        if (nvml_list_gpus(p->nvml, &gpus, &n, NULL) < 0)
                return false;
        for (size_t k = 0; k < n; k++)
                if (streq(gpus[k].address, address))
                        return gpus[k].mig_enabled;
        return false;
}

void partitions_reconcile(Manager *m, Partitions *p) {
        if (!p || !p->nvml)
                return;
        for (size_t k = 0; k < m->n_accelerators; k++) {
                const Accelerator *a = &m->accelerators[k];
                _cleanup_free_ NvmlMigInstance *list = NULL;
                _cleanup_free_ char *why = NULL;
                size_t n = 0;

                if (a->vendor != 0x10de || nvml_mig_list(p->nvml, a->address, &list, &n, &why) < 0)
                        continue;
                for (size_t j = 0; j < n; j++) {
                        Instance *owner = NULL;

                        LIST_FOREACH(instances, i, m->instances)
                                if (i->partition && i->partition->mig &&
                                    streq(i->partition->address, a->address) &&
                                    (MigProfile) i->partition->profile == list[j].profile &&
                                    i->partition->mig_start == list[j].start)
                                        owner = i;
                        if (owner) {
                                if (owner->partition->gi_id != (int) list[j].gi_id &&
                                    record_nvml(m, owner, &list[j]) < 0)
                                        log_warning("Failed to record the MIG instance of '%s'.",
                                                    owner->name);
                                continue;
                        }
                        /* Made for a container whose create did not commit (arkd died): nobody's. */
                        if (a->hold)
                                continue;
                        why = mfree(why);
                        if (nvml_mig_destroy(p->nvml, a->address, list[j].gi_id, list[j].ci_id, &why) < 0)
                                log_warning(
                                        "Failed to destroy MIG instance %u of GPU %s, which no container "
                                        "has: %s",
                                        list[j].gi_id, a->address, strna(why));
                        else
                                log_notice("Destroyed MIG instance %u (%s) of GPU %s: no container has it.",
                                           list[j].gi_id, mig_profile_info(list[j].profile)->name,
                                           a->address);
                }
        }
        /* A GPU in MIG mode that no container's MIG instance is on (arkd died before it turned it
         * off), and an MPS daemon of a GPU that carries no share (arkd died before it stopped it):
         * back to what a whole GPU is. */
        for (size_t k = 0; k < m->n_accelerators; k++) {
                const Accelerator *a = &m->accelerators[k];
                InstancePartition probe = { .address = (char *) a->address };
                _cleanup_free_ char *why = NULL;

                if (a->vendor != 0x10de || a->hold)
                        continue;
                probe.mig = true;
                if (!others_on_gpu(m, &probe, true) && mig_enabled(p, a->address) &&
                    nvml_set_mig(p->nvml, a->address, false, &why) >= 0)
                        log_notice("Turned MIG mode off on GPU %s: no container has a MIG instance there.",
                                   a->address);
                probe.mig = false;
                if (!others_on_gpu(m, &probe, false) && mps_running(&p->mps, a->address, NULL) > 0) {
                        why = mfree(why);
                        if (mps_stop(&p->mps, a->address, &why) < 0)
                                log_warning(
                                        "Failed to stop the MPS daemon of GPU %s, which serves no share: %s",
                                        a->address, strna(why));
                        else
                                log_notice("Stopped the MPS daemon of GPU %s: it serves no share.",
                                           a->address);
                        (void) nvml_set_exclusive_process(p->nvml, a->address, false, NULL);
                }
        }
        /* Partitions whose instance is gone (a reboot) forget NVML's ids: made again at start. */
        LIST_FOREACH(instances, i, m->instances) {
                _cleanup_free_ NvmlMigInstance *list = NULL;
                size_t n = 0;
                bool found = false;

                if (!i->partition || !i->partition->mig || i->partition->gi_id < 0)
                        continue;
                if (nvml_mig_list(p->nvml, i->partition->address, &list, &n, NULL) < 0)
                        continue;
                for (size_t j = 0; j < n; j++)
                        found = found ||
                                ((int) list[j].gi_id == i->partition->gi_id &&
                                 list[j].start == i->partition->mig_start);
                if (!found)
                        (void) record_nvml(m, i, NULL);
        }
}

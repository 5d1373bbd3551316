/* Whole-GPU passthrough decisions; see passthrough.h. */

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "basic/macro.h"
#include "basic/string-util.h"
#include "passthrough.h"

#define GiB_ (UINT64_C(1) << 30)

static const Accelerator *find(const Accelerator *all, size_t n, const char *address) {
        for (size_t k = 0; k < n; k++)
                if (streq(all[k].address, address))
                        return &all[k];
        return NULL;
}

static bool function_is_mgmt_nic(const PciFunction *f, const char *mgmt_if) {
        if (((f->class >> 16) & 0xff) != 0x02 || !f->netdev)
                return false;
        return mgmt_if ? streq(f->netdev, mgmt_if) : f->netdev_up;
}

static void put(char *buf, size_t l, const char *s) {
        if (buf && l > 0)
                snprintf(buf, l, "%s", s);
}

static bool in_list(char *const *l, const char *s) {
        for (char *const *p = l; p && *p; p++)
                if (streq(*p, s))
                        return true;
        return false;
}

PassthroughVerdict passthrough_check_group(const Accelerator *a, const Accelerator *all, size_t n_all,
                                           const char *mgmt_if, char *const *together, char *buf, size_t l,
                                           char *remedy, size_t rl) {
        size_t endpoints = 0;
        char why[768];

        put(buf, l, "");
        put(remedy, rl, "");
        if (a->iommu_group < 0) {
                snprintf(why, sizeof(why),
                         "%s (%s) cannot be passed through: the IOMMU is off on this host, so there are no "
                         "IOMMU groups",
                         a->address, a->model);
                put(buf, l, why);
                put(remedy, rl,
                    "turn on VT-d or AMD-Vi in the firmware setup and boot with intel_iommu=on or amd_iommu=on "
                    "('arkctl host check' tells more)");
                return PASSTHROUGH_NOT_READY;
        }

        if (a->no_reset) {
                snprintf(
                        why, sizeof(why),
                        "%s (%s) cannot be passed through: the kernel knows no way to reset it, so it cannot go "
                        "cleanly from one VM to the next",
                        a->address, a->model);
                put(buf, l, why);
                put(remedy, rl,
                    "update the GPU's firmware, or put it in a slot whose port can reset its link; until then "
                    "reserve it (arkctl accelerator reserve)");
                return PASSTHROUGH_NOT_READY;
        }

        for (size_t k = 0; k < a->n_group; k++) {
                const PciFunction *f = &a->group[k];
                const Accelerator *other;
                unsigned base = (f->class >> 16) & 0xff;

                if (f->is_bridge)
                        continue;
                endpoints++;
                if (streq(f->address, a->address))
                        continue;
                /* Functions of the GPU itself (same bus and slot) go with it whatever they are. */
                if (strneq(f->address, a->address, 10))
                        continue;
                other = find(all, n_all, f->address);
                /* Another GPU in the group goes to the same VM or the group cannot be used. */
                if (other && !in_list(together, other->address)) {
                        if (other->claimed_by || other->hold)
                                snprintf(
                                        why, sizeof(why),
                                        "%s (%s) cannot be passed through: its IOMMU group %d also holds GPU %s, "
                                        "which is %s%s%s",
                                        a->address, a->model, a->iommu_group, f->address,
                                        other->claimed_by ? "claimed by instance '" : other->hold,
                                        other->claimed_by ? other->claimed_by : "",
                                        other->claimed_by ? "'" : "");
                        else
                                snprintf(
                                        why, sizeof(why),
                                        "%s (%s) cannot be passed through alone: its IOMMU group %d also holds GPU "
                                        "%s (%s), and a group goes to one VM as a whole",
                                        a->address, a->model, a->iommu_group, other->address, other->model);
                        put(buf, l, why);
                        if (other->claimed_by || other->hold)
                                put(remedy, rl,
                                    "a group goes to one VM as a whole: give both GPUs to one VM");
                        else {
                                char rem[160];
                                snprintf(rem, sizeof(rem), "ask for both in one VM: --gpu %s --gpu %s",
                                         a->address, other->address);
                                put(remedy, rl, rem);
                        }
                        return PASSTHROUGH_GROUP;
                }
                if (other)
                        continue; /* its sibling GPU, going to the same VM */
                if (function_is_mgmt_nic(f, mgmt_if)) {
                        snprintf(
                                why, sizeof(why),
                                "%s (%s) cannot be passed through: its IOMMU group %d also holds %s (network "
                                "controller %s), which carries the %s and must stay with the host",
                                a->address, a->model, a->iommu_group, f->address, f->netdev,
                                mgmt_if ? "management network" : "host's network (its link is up)");
                        put(buf, l, why);
                        put(remedy, rl,
                            mgmt_if ? "put the GPU in a slot with an IOMMU group of its own (a CPU-attached slot, or "
                                      "one behind a switch with ACS)"
                                    : "put the GPU in a slot with an IOMMU group of its own (a CPU-attached slot, or "
                                      "one behind a switch with ACS); if this NIC does not carry the management "
                                      "network, say which one does with ManagementInterface= in [Network] of "
                                      "/etc/ark/ark.conf, and this one goes to the VM with the GPU");
                        return PASSTHROUGH_GROUP;
                }
                if (base == 0x01 && f->driver && !streq(f->driver, "vfio-pci")) {
                        snprintf(
                                why, sizeof(why),
                                "%s (%s) cannot be passed through: its IOMMU group %d also holds %s (storage "
                                "controller, driver %s), which the host uses and must keep",
                                a->address, a->model, a->iommu_group, f->address, f->driver);
                        put(buf, l, why);
                        put(remedy, rl, "put the GPU in a slot with an IOMMU group of its own");
                        return PASSTHROUGH_GROUP;
                }
        }
        if (endpoints > PASSTHROUGH_FUNCTIONS_MAX) {
                snprintf(
                        why, sizeof(why),
                        "%s (%s) cannot be passed through: its IOMMU group %d holds %zu devices that would go to the "
                        "VM with it, more than the %d Ark passes through with one GPU",
                        a->address, a->model, a->iommu_group, endpoints, PASSTHROUGH_FUNCTIONS_MAX);
                put(buf, l, why);
                put(remedy, rl, "put the GPU in a slot with an IOMMU group of its own");
                return PASSTHROUGH_GROUP;
        }
        return PASSTHROUGH_OK;
}

/* The admin's hold, a conflict, the device's health and a claim, in that order: true with the
 * verdict in *ret and the sentence in buf when one of them keeps `a` from going to `to` ("a VM"). */
static bool check_holds(const Accelerator *a, const char *to, char *buf, size_t l, PassthroughVerdict *ret) {
        *ret = PASSTHROUGH_HELD;
        if (a->hold)
                snprintf(buf, l, "%s (%s) is %s%s%s%s", a->address, a->model,
                         streq(a->hold, "reserved") ? "reserved for the host" : "quarantined",
                         isempty(a->hold_reason) ? "" : " (", strempty(a->hold_reason),
                         isempty(a->hold_reason) ? "" : ")");
        else if (a->conflict)
                snprintf(
                        buf, l,
                        "%s (%s) is passed through by %s although no claim gives it there; it is not handed "
                        "out until that is resolved (see 'arkctl status')",
                        a->address, a->model, a->conflict);
        else if (a->health) {
                snprintf(
                        buf, l,
                        "%s (%s) is unhealthy: %s; check it (kernel log, vendor tools) before giving it to %s",
                        a->address, a->model, a->health, to);
                *ret = PASSTHROUGH_UNHEALTHY;
        } else if (a->claimed_by)
                snprintf(buf, l, "%s (%s) is claimed by instance '%s'", a->address, a->model, a->claimed_by);
        else
                return false;
        return true;
}

PassthroughVerdict passthrough_check(const Accelerator *a, const Accelerator *all, size_t n_all,
                                     const char *mgmt_if, char *const *together, char *buf, size_t l) {
        char why[768], remedy[512];
        PassthroughVerdict v;

        /* The host first: a hold means nothing while nothing can be passed through at all. */
        if (a->iommu_group >= 0 && check_holds(a, "a VM", buf, l, &v))
                return v;
        v = passthrough_check_group(a, all, n_all, mgmt_if, together, why, sizeof(why), remedy,
                                    sizeof(remedy));
        if (v == PASSTHROUGH_OK)
                put(buf, l, "");
        else
                snprintf(buf, l, "%s; %s", why, remedy);
        return v;
}

PassthroughVerdict passthrough_check_container(const Accelerator *a, const char *proc_root, char *buf,
                                               size_t l) {
        const char *want = a->vendor == 0x10de ? "nvidia"
                : a->vendor == 0x19e5          ? "devdrv_device_driver"
                                               : NULL;
        PassthroughVerdict v;

        if (check_holds(a, "a container", buf, l, &v))
                return v;
        if (!want) {
                snprintf(buf, l,
                         "%s (%s) cannot go to a container: containers get NVIDIA GPUs and Ascend NPUs",
                         a->address, a->model);
                return PASSTHROUGH_NOT_READY;
        }
        if (streq_ptr(a->driver, "vfio-pci")) {
                snprintf(buf, l,
                         "%s (%s) is bound to vfio-pci, for VMs; a container needs it on %s (unbind it from "
                         "vfio-pci and bind it to %s, or give it to a VM)",
                         a->address, a->model, want, want);
                return PASSTHROUGH_NOT_READY;
        }
        if (!streq_ptr(a->driver, want)) {
                snprintf(buf, l, "%s (%s) is bound to %s; a container needs it on %s", a->address, a->model,
                         a->driver ?: "no driver", want);
                return PASSTHROUGH_NOT_READY;
        }
        if (a->vendor == 0x10de) {
                char path[4096];

                snprintf(path, sizeof(path), "%s/proc/driver/nvidia/gpus/%s/information",
                         strempty(proc_root), a->address);
                if (access(path, R_OK) < 0) {
                        snprintf(buf, l,
                                 "%s (%s) is bound to nvidia, but the driver does not list it (%s is "
                                 "missing): is the NVIDIA kernel module loaded in full?",
                                 a->address, a->model, path);
                        return PASSTHROUGH_NOT_READY;
                }
        }
        put(buf, l, "");
        return PASSTHROUGH_OK;
}

size_t passthrough_functions(const Accelerator *a, const char **ret, size_t max) {
        size_t n = 0;

        if (max == 0)
                return 0;
        ret[n++] = a->address;
        for (size_t k = 0; k < a->n_group && n < max; k++)
                if (!a->group[k].is_bridge && !streq(a->group[k].address, a->address))
                        ret[n++] = a->group[k].address;
        return n;
}

uint64_t passthrough_mmio64_window(const Accelerator *const *gpus, size_t n) {
        uint64_t sum = 0, largest = 0, w;

        for (size_t k = 0; k < n; k++) {
                const Accelerator *a = gpus[k];
                bool self_in_group = false;

                for (size_t j = 0; j < a->n_group; j++) {
                        const PciFunction *f = &a->group[j];

                        if (f->is_bridge)
                                continue;
                        self_in_group = self_in_group || streq(f->address, a->address);
                        sum += f->bar64_bytes;
                        largest = MAX(largest, f->bar64_max);
                }
                if (!self_in_group) {
                        sum += a->bar64_bytes;
                        largest = MAX(largest, a->bar64_max);
                }
        }
        w = sum + largest;
        w = (w + GiB_ - 1) / GiB_ * GiB_;
        return MAX(w, 32 * GiB_);
}

int passthrough_numa_node(const Accelerator *const *gpus, size_t n, const HostInfo *host, unsigned vcpus,
                          uint64_t memory_bytes) {
        int node;

        if (n == 0 || !host || host->n_numa == 0)
                return -1;
        node = gpus[0]->numa_node;
        if (node < 0)
                return -1;
        for (size_t k = 1; k < n; k++)
                if (gpus[k]->numa_node != node)
                        return -1;
        for (size_t k = 0; k < host->n_numa; k++) {
                const NumaNode *nn = &host->numa[k];

                if (nn->id != node)
                        continue;
                if (isempty(nn->cpulist) || vcpus > nn->n_cpus || memory_bytes > nn->memory_bytes)
                        return -1;
                return (int) k;
        }
        return -1;
}

unsigned passthrough_phys_bits(uint64_t memory_bytes, uint64_t mmio64) {
        uint64_t top = 4 * GiB_ + memory_bytes + mmio64;
        unsigned bits = 0;

        while (bits < 64 && (UINT64_C(1) << bits) < top)
                bits++;
        bits += 1; /* room for the window's alignment above RAM */
        return bits < 40 ? 40 : bits > 52 ? 52 : bits;
}

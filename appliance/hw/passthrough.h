#pragma once

/* What passing a whole GPU through to a VM takes, decided from the inventory alone (no I/O):
 * whether it can go at all and, if not, the sentence that says why; which functions go with it;
 * how large the guest's 64-bit PCI window must be; where the VM's vCPUs and memory belong. The
 * instance code turns these into claims and domain XML. Nothing here logs. */

#include <stddef.h>
#include <stdint.h>

#include "host-inventory.h"

typedef enum PassthroughVerdict {
        PASSTHROUGH_OK,
        PASSTHROUGH_NOT_READY, /* the host cannot pass anything through (IOMMU off) */
        PASSTHROUGH_HELD,      /* claimed by an instance, reserved or quarantined */
        PASSTHROUGH_UNHEALTHY, /* fatal PCIe errors, link down */
        PASSTHROUGH_GROUP,     /* its IOMMU group holds a device that must stay with the host */
} PassthroughVerdict;

/* Whether accelerator a (one of all[0..n_all)) can be given to a VM now. When not, writes one
 * sentence to buf that names the device, and for a group the group and the other device and why
 * ("its IOMMU group 1 also holds 0000:05:00.0 (network controller eno1), which carries the
 * management network and must stay with the host; ..."). mgmt_if is the configured management
 * interface; NULL means every NIC whose link is up may carry it. `together` lists the GPUs going to
 * the same VM (NULL-terminated, may be NULL): another GPU in a's group must be among them, or a
 * cannot go (a group goes to one VM as a whole). */
PassthroughVerdict passthrough_check(const Accelerator *a, const Accelerator *all, size_t n_all,
                                     const char *mgmt_if, char *const *together, char *buf, size_t l);

/* The same without the holds (claims, reservations): only whether the host and a's IOMMU group
 * allow passing it through. The reason goes to buf, what to do about it to remedy (either may
 * be NULL). */
PassthroughVerdict passthrough_check_group(const Accelerator *a, const Accelerator *all, size_t n_all,
                                           const char *mgmt_if, char *const *together, char *buf, size_t l,
                                           char *remedy, size_t rl);

/* Whether accelerator a can be given whole to a container now (no IOMMU needed): not reserved,
 * quarantined, in conflict or claimed (a VM's GPU is a claim, so never offered), healthy, and
 * bound to its vendor's driver, whose device files a container opens: nvidia (with its
 * <proc_root>/proc/driver/nvidia/gpus/<address>/information, where the minor of /dev/nvidiaN is) or
 * Ascend's devdrv_device_driver. A GPU on vfio-pci, whatever bound it, is a VM's and never a
 * container's (PASSTHROUGH_NOT_READY), and so is an unbound one or another vendor's. The sentence
 * goes to buf, as passthrough_check()'s. */
PassthroughVerdict passthrough_check_container(const Accelerator *a, const char *proc_root, char *buf,
                                               size_t l);

#define PASSTHROUGH_FUNCTIONS_MAX 32

/* The functions that go to the guest with a: a itself first, then the other endpoints of its
 * group in address order (bridges stay). Borrowed pointers into a. Returns how many (at most max). */
size_t passthrough_functions(const Accelerator *a, const char **ret, size_t max);

/* The 64-bit PCI window a guest needs for every 64-bit BAR of these GPUs and their functions:
 * their sum, plus the largest BAR (the window's start need not be aligned to it), rounded up to
 * GiB, and never below the firmware's usual 32 GiB. */
uint64_t passthrough_mmio64_window(const Accelerator *const *gpus, size_t n);

/* The index in host->numa of the node the VM should be bound to: every GPU on that node and the
 * VM's vCPUs and memory fit in it. -1 when there is no such node (GPUs on several or unknown
 * nodes, or the VM too large for one). */
int passthrough_numa_node(const Accelerator *const *gpus, size_t n, const HostInfo *host, unsigned vcpus,
                          uint64_t memory_bytes);

/* Physical address bits a guest needs to place memory_bytes of RAM (above the 4 GiB hole) and a
 * window of mmio64 bytes above it: at least 40, at most 52. */
unsigned passthrough_phys_bits(uint64_t memory_bytes, uint64_t mmio64);

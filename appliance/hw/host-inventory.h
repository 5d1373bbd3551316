#pragma once

/* Host inventory: PCI accelerators found by scanning the sysfs root, plus host CPU/NUMA/memory
 * facts. The PCI scanner is pure sysfs reading (no libvirt), so unit tests run it against the
 * fixture trees in tests/fixtures/hosts/<name>/sysfs. Nothing here logs above debug. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCI_ADDRESS_MAX 16 /* "0000:3b:00.0" + NUL */

/* One PCI function in an accelerator's IOMMU group (the accelerator itself included). */
typedef struct PciFunction {
        char address[PCI_ADDRESS_MAX];
        uint16_t vendor, device;
        uint32_t class;       /* 24-bit class code, e.g. 0x030200 */
        char *driver;         /* bound driver name, NULL when unbound */
        bool is_bridge;       /* class 0x0604 (PCI bridge / root port / switch port) */
        uint64_t bar64_bytes; /* sum of its 64-bit memory BARs (they go in a guest's 64-bit MMIO window) */
        uint64_t bar32_bytes; /* sum of its 32-bit memory BARs */
        uint64_t bar64_max;   /* its largest 64-bit BAR (the guest window's alignment) */
        char *netdev;         /* network functions: the host interface on it ("eno1"), NULL = none */
        bool netdev_up;       /* ... and whether its link is up (operstate "up") */
} PciFunction;

/* Sums the memory BARs (lines 0-5) of a "resource" file: the kernel's "start end flags" table.
 * Unused lines are all zero. Returns 0, or -EBADMSG when a line is malformed. Pure. */
int pci_parse_resource(const char *text, uint64_t *ret_bar64, uint64_t *ret_bar32, uint64_t *ret_bar64_max);

typedef struct Accelerator {
        char address[PCI_ADDRESS_MAX]; /* domain:bus:slot.function */
        uint16_t vendor, device;
        uint16_t subsystem_vendor, subsystem_device;
        uint32_t class;
        const char *vendor_name; /* static: "NVIDIA", "AMD", "Huawei", "Cambricon" */
        char *model;             /* "NVIDIA H100 SXM5 80GB"; "10de:abcd" when unknown */
        uint64_t memory_bytes;   /* device memory, 0 when unknown */
        int iommu_group;         /* -1 when the IOMMU is off / no group */
        PciFunction *group;      /* every function of the IOMMU group, sorted by address */
        size_t n_group;
        int numa_node;                       /* -1 when unknown */
        char *link_speed, *max_link_speed;   /* "32.0 GT/s PCIe"; NULL when absent */
        unsigned link_width, max_link_width; /* lanes, 0 when absent */
        char *driver;                        /* bound driver, NULL when unbound */
        uint64_t bar64_bytes, bar32_bytes;   /* its own memory BARs (see PciFunction) */
        uint64_t bar64_max;
        char *health;      /* why it is unhealthy (fatal AER errors, link down); NULL = healthy */
        bool no_reset;     /* the kernel knows no way to reset it (empty reset_method) */
        char *root_port;   /* the root port it hangs off, NULL on a root bus */
        char *switch_port; /* upstream port of the PCIe switch it sits behind, NULL
                                              * when it is directly on a root port */

        /* arkd's runtime view, from the store (not from sysfs): who holds it. */
        struct Manager *manager; /* set by the manager after the scan; NULL in pure use */
        char *claimed_by;        /* instance name, NULL = not claimed */
        char *claimed_by_tenant; /* its tenant (instance names are unique per tenant) */
        char *hold;              /* "reserved" or "quarantined", NULL = none */
        char *hold_reason;
        bool hold_from_config; /* reserved by ReservedAccelerators=, not by the admin */
        char *conflict;        /* a domain passes it through although no claim says so:
                                              * which one; it is not handed out while this lasts */
} Accelerator;

/* "free", "claimed", "reserved", "quarantined", "conflict" (a domain holds it outside Ark's claims)
 * or "unhealthy": the admin's hold first, then a conflict, the device's health, a claim (a quarantined or unhealthy GPU stays with its VM until the VM
 * lets it go, but is not handed out again). */
const char *accelerator_claim_state(const Accelerator *a);

/* Scans <sysfs_root>/sys/bus/pci/devices and returns every accelerator (display/3D controller, class
 * 0x03xx, or processing accelerator, class 0x12xx, from a known accelerator vendor), sorted by PCI
 * address. Returns 0 and an empty array when there is no PCI bus; negative errno on OOM or when the
 * root cannot be read. Caller frees with accelerator_array_free(). */
int pci_scan_accelerators(const char *sysfs_root, Accelerator **ret, size_t *ret_n);
void accelerator_array_free(Accelerator *a, size_t n);
void accelerator_done(Accelerator *a);

/* True when <sysfs_root>/sys/kernel/iommu_groups holds at least one group. */
bool pci_iommu_enabled(const char *sysfs_root);

/* Looks up a human model name and memory size by PCI IDs. Returns NULL for unknown parts. The
 * table (pci-db.c) covers common NVIDIA, AMD, Huawei Ascend and Cambricon accelerators. */
typedef struct PciModel {
        uint16_t vendor, device;
        uint16_t subsystem_device; /* 0 = any */
        const char *name;
        uint64_t memory_bytes;
} PciModel;
const PciModel *pci_model_lookup(uint16_t vendor, uint16_t device, uint16_t subsystem_device);
/* "NVIDIA", "AMD", ... for accelerator vendors; NULL for anything else. */
const char *pci_vendor_name(uint16_t vendor);

/* NUMA node of the host. */
typedef struct NumaNode {
        int id;
        unsigned n_cpus;
        char *cpulist; /* "0-55,112-167" */
        uint64_t memory_bytes;
} NumaNode;

typedef struct HostInfo {
        char *hostname;
        char *cpu_model;
        char *arch;         /* "x86_64", "aarch64" (libvirt's node info) */
        unsigned phys_bits; /* the CPU's physical address bits (x86 /proc/cpuinfo), 0 = unknown */
        unsigned cpus, sockets, cores, threads, mhz;
        uint64_t memory_bytes;
        NumaNode *numa;
        size_t n_numa;
        bool iommu_enabled;
} HostInfo;

void host_info_done(HostInfo *h);

/* Reads NUMA nodes from <sysfs_root>/sys/devices/system/node (cpulist, meminfo MemTotal).
 * Returns 0 with *ret_n = 0 when the directory does not exist. */
int sysfs_read_numa(const char *sysfs_root, NumaNode **ret, size_t *ret_n);
void numa_array_free(NumaNode *n, size_t count);

/* The first "model name" in <sysfs_root>/proc/cpuinfo ("Intel(R) Xeon(R) Platinum 8480C"), newly
 * allocated. -ENOENT when the file is missing or names no model (arm64 kernels print none). */
int sysfs_read_cpu_model(const char *sysfs_root, char **ret);
/* The CPU's physical address bits ("address sizes : 46 bits physical" in proc/cpuinfo), 0 when
 * the kernel does not say (arm64). */
unsigned sysfs_read_phys_bits(const char *sysfs_root);
/* Reads a's health again (fatal AER errors since boot, link down) into a->health. Returns 0 or
 * -ENOMEM. */
int pci_refresh_health(const char *sysfs_root, Accelerator *a);
/* Reads a's bound driver again (a->driver; NULL when unbound). */
int pci_refresh_driver(const char *sysfs_root, Accelerator *a);

/* The accelerator model table: PCI IDs -> human model name and device memory.
 *
 * Only IDs we are sure of are listed (checked against the pci.ids database and vendors' driver
 * sources); a part that is not here is still found by the scanner and shown as "vvvv:dddd".
 * Memory is the marketed size of one PCI function's device memory, taken as GiB ("80GB" HBM is
 * 80 GiB of DRAM): the figure quotas are written in. Where one device ID covers boards with
 * different memory sizes, memory_bytes is 0 ("unknown") unless a subsystem ID tells them apart;
 * the vendor's management library (NVML and friends) gives the exact figure at run time. */

#include <stddef.h>

#include "host-inventory.h"
#include "basic/macro.h"

#define GiB(x) ((uint64_t) (x) << 30)

#define VENDOR_NVIDIA 0x10de
#define VENDOR_AMD 0x1002
#define VENDOR_HUAWEI 0x19e5
#define VENDOR_CAMBRICON 0xcabc
#define VENDOR_HABANA 0x1da3

static const struct {
        uint16_t vendor;
        const char *name;
} vendors[] = {
        { VENDOR_NVIDIA, "NVIDIA" },       { VENDOR_AMD, "AMD" },
        { VENDOR_HUAWEI, "Huawei" },       { VENDOR_CAMBRICON, "Cambricon" },
        { VENDOR_HABANA, "Intel Habana" },
};

/* Sorted by vendor, then device. subsystem_device 0 matches any board; an entry with a
 * subsystem ID is preferred over the catch-all one for the same device. */
static const PciModel models[] = {
        /* NVIDIA: Volta, Turing */
        { VENDOR_NVIDIA, 0x1db1, 0, "NVIDIA V100 SXM2 16GB", GiB(16) },
        { VENDOR_NVIDIA, 0x1db4, 0, "NVIDIA V100 PCIe 16GB", GiB(16) },
        { VENDOR_NVIDIA, 0x1db5, 0, "NVIDIA V100 SXM2 32GB", GiB(32) },
        { VENDOR_NVIDIA, 0x1db6, 0, "NVIDIA V100 PCIe 32GB", GiB(32) },
        { VENDOR_NVIDIA, 0x1df6, 0, "NVIDIA V100S PCIe 32GB", GiB(32) },
        { VENDOR_NVIDIA, 0x1e04, 0, "NVIDIA GeForce RTX 2080 Ti", GiB(11) },
        { VENDOR_NVIDIA, 0x1e07, 0, "NVIDIA GeForce RTX 2080 Ti", GiB(11) },
        { VENDOR_NVIDIA, 0x1e81, 0, "NVIDIA GeForce RTX 2080 SUPER", GiB(8) },
        { VENDOR_NVIDIA, 0x1e82, 0, "NVIDIA GeForce RTX 2080", GiB(8) },
        { VENDOR_NVIDIA, 0x1e84, 0, "NVIDIA GeForce RTX 2070 SUPER", GiB(8) },
        { VENDOR_NVIDIA, 0x1e87, 0, "NVIDIA GeForce RTX 2080", GiB(8) },
        { VENDOR_NVIDIA, 0x1eb8, 0, "NVIDIA T4", GiB(16) },
        /* Ampere */
        { VENDOR_NVIDIA, 0x20b0, 0, "NVIDIA A100 SXM4 40GB", GiB(40) },
        { VENDOR_NVIDIA, 0x20b1, 0, "NVIDIA A100 PCIe 40GB", GiB(40) },
        { VENDOR_NVIDIA, 0x20b2, 0, "NVIDIA A100 SXM4 80GB", GiB(80) },
        { VENDOR_NVIDIA, 0x20b5, 0, "NVIDIA A100 PCIe 80GB", GiB(80) },
        { VENDOR_NVIDIA, 0x20b7, 0, "NVIDIA A30", GiB(24) },
        { VENDOR_NVIDIA, 0x20bd, 0, "NVIDIA A800 SXM4 40GB", GiB(40) },
        { VENDOR_NVIDIA, 0x20f1, 0, "NVIDIA A100 PCIe 40GB", GiB(40) },
        { VENDOR_NVIDIA, 0x20f3, 0, "NVIDIA A800 SXM4 80GB", GiB(80) },
        { VENDOR_NVIDIA, 0x20f5, 0, "NVIDIA A800 PCIe 80GB", GiB(80) },
        { VENDOR_NVIDIA, 0x20f6, 0, "NVIDIA A800 PCIe 40GB", GiB(40) },
        { VENDOR_NVIDIA, 0x2230, 0, "NVIDIA RTX A6000", GiB(48) },
        { VENDOR_NVIDIA, 0x2235, 0, "NVIDIA A40", GiB(48) },
        { VENDOR_NVIDIA, 0x2236, 0, "NVIDIA A10", GiB(24) },
        /* Hopper */
        { VENDOR_NVIDIA, 0x2321, 0, "NVIDIA H100 NVL 94GB", GiB(94) },
        { VENDOR_NVIDIA, 0x2322, 0, "NVIDIA H800 PCIe 80GB", GiB(80) },
        { VENDOR_NVIDIA, 0x2324, 0, "NVIDIA H800 80GB", GiB(80) },
        { VENDOR_NVIDIA, 0x2329, 0, "NVIDIA H20 96GB", GiB(96) },
        { VENDOR_NVIDIA, 0x232c, 0, "NVIDIA H20 141GB", GiB(141) },
        { VENDOR_NVIDIA, 0x2330, 0, "NVIDIA H100 SXM5 80GB", GiB(80) },
        { VENDOR_NVIDIA, 0x2331, 0, "NVIDIA H100 PCIe 80GB", GiB(80) },
        { VENDOR_NVIDIA, 0x2335, 0, "NVIDIA H200 SXM 141GB", GiB(141) },
        { VENDOR_NVIDIA, 0x233b, 0, "NVIDIA H200 NVL 141GB", GiB(141) },
        /* Ada Lovelace */
        { VENDOR_NVIDIA, 0x2684, 0, "NVIDIA GeForce RTX 4090", GiB(24) },
        { VENDOR_NVIDIA, 0x26b1, 0, "NVIDIA RTX 6000 Ada Generation", GiB(48) },
        { VENDOR_NVIDIA, 0x26b5, 0, "NVIDIA L40", GiB(48) },
        { VENDOR_NVIDIA, 0x26b9, 0, "NVIDIA L40S", GiB(48) },
        { VENDOR_NVIDIA, 0x26ba, 0, "NVIDIA L20", GiB(48) },
        { VENDOR_NVIDIA, 0x27b8, 0, "NVIDIA L4", GiB(24) },

        /* AMD Instinct. An MI250X/MI250 carries two GCDs, each its own PCI function with 64 GiB. */
        { VENDOR_AMD, 0x738c, 0, "AMD Instinct MI100", GiB(32) },
        { VENDOR_AMD, 0x738e, 0, "AMD Instinct MI100", GiB(32) },
        { VENDOR_AMD, 0x7408, 0, "AMD Instinct MI250X", GiB(64) },
        { VENDOR_AMD, 0x740c, 0, "AMD Instinct MI250X/MI250", GiB(64) },
        { VENDOR_AMD, 0x740f, 0, "AMD Instinct MI210", GiB(64) },
        { VENDOR_AMD, 0x74a1, 0, "AMD Instinct MI300X", GiB(192) },

        /* Huawei Ascend. 0xd802 covers the 910B1-B4: 64 GiB of HBM, except 32 GiB on the B4,
         * which no subsystem ID we know of tells apart. The 310P ships with 24 GiB or 48 GiB per
         * chip depending on the card. */
        { VENDOR_HUAWEI, 0xd100, 0, "Huawei Ascend 310", GiB(8) },
        { VENDOR_HUAWEI, 0xd500, 0, "Huawei Ascend 310P", 0 },
        { VENDOR_HUAWEI, 0xd801, 0, "Huawei Ascend 910", GiB(32) },
        { VENDOR_HUAWEI, 0xd802, 0, "Huawei Ascend 910B", GiB(64) },

        /* Cambricon: the MLU370-S4/X4 have 24 GiB, the X8 48 GiB, all under one device ID. */
        { VENDOR_CAMBRICON, 0x0370, 0, "Cambricon MLU370", 0 },

        /* Intel Habana */
        { VENDOR_HABANA, 0x1000, 0, "Intel Gaudi", GiB(32) },
        { VENDOR_HABANA, 0x1020, 0, "Intel Gaudi2", GiB(96) },
        { VENDOR_HABANA, 0x1060, 0, "Intel Gaudi3", GiB(128) },
};

const PciModel *pci_model_lookup(uint16_t vendor, uint16_t device, uint16_t subsystem_device) {
        const PciModel *any = NULL;

        for (size_t i = 0; i < ELEMENTSOF(models); i++) {
                const PciModel *m = &models[i];

                if (m->vendor != vendor || m->device != device)
                        continue;
                if (m->subsystem_device == 0) {
                        if (!any)
                                any = m;
                } else if (m->subsystem_device == subsystem_device)
                        return m;
        }
        return any;
}

const char *pci_vendor_name(uint16_t vendor) {
        for (size_t i = 0; i < ELEMENTSOF(vendors); i++)
                if (vendors[i].vendor == vendor)
                        return vendors[i].name;
        return NULL;
}

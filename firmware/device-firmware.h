#pragma once

/* Device firmware, read-only: the system's (DMI), each GPU's video BIOS (the NVIDIA driver's
 * /proc/driver/nvidia/gpus/<address>/information, amdgpu's vbios_version) and what is not known
 * with the reason. Every read goes through a root directory (a fixture tree in tests). */

#include <stddef.h>

typedef struct FirmwareItem {
        char device[32]; /* "system" or a PCI address */
        char kind[16];   /* "system", "gpu", "accelerator", "nic" */
        char model[128];
        char component[16]; /* "BIOS", "VBIOS", "firmware" */
        char version[64];   /* "" = not known */
        char source[96];    /* where it was read, or why it could not be */
} FirmwareItem;

/* Every item, the system first, then devices by address. */
int firmware_list(const char *root, FirmwareItem **ret, size_t *ret_n);

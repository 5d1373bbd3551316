#pragma once

/* NVIDIA's management library at arkd's edge: libnvidia-ml.so.1 loaded with dlopen (so arkd runs,
 * and builds, on hosts without NVIDIA's driver), its errors turned into a negative errno and one
 * sentence naming the GPU. What Ark asks of it: the GPUs by PCI address, MIG mode, MIG instances
 * (a GPU instance with one compute instance filling it) at the placement the pooler chose, the
 * instances already there (adopted after a restart), and the exclusive-process compute mode that
 * makes MPS the only way onto a shared GPU (docs/gpu-sharing.md).
 *
 * Nothing here logs; every call that can fail says why in *ret_error (may be NULL) when it
 * returns < 0. The errno for each NVML error: INVALID_ARGUMENT -EINVAL, NOT_SUPPORTED -EOPNOTSUPP,
 * NO_PERMISSION -EPERM, NOT_FOUND -ENOENT, IN_USE -EBUSY, INSUFFICIENT_RESOURCES -ENOSPC,
 * DRIVER_NOT_LOADED -ENXIO, UNINITIALIZED -EBADF, MEMORY -ENOMEM, TIMEOUT -ETIMEDOUT,
 * GPU_IS_LOST -ENODEV, RESET_REQUIRED -EAGAIN, anything else -EIO. Not thread-safe: arkd calls it
 * from its event loop. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pool/mig.h"

#define NVML_LIBRARY "libnvidia-ml.so.1"
#define NVML_UUID_MAX 96 /* NVML_DEVICE_UUID_V2_BUFFER_SIZE */
#define NVML_NAME_MAX 96

typedef struct Nvml Nvml;

/* Loads the library (`path` NULL: NVML_LIBRARY through the dynamic loader's search) and
 * initializes NVML. -ENOENT when the library cannot be loaded (no NVIDIA driver), -ELIBBAD when it
 * lacks an entry point Ark calls, else nvmlInit's error (-ENXIO: the kernel driver is not loaded). */
int nvml_open(const char *path, Nvml **ret, char **ret_error);
/* Shuts NVML down and unloads it. Accepts NULL; returns NULL. */
Nvml *nvml_close(Nvml *n);
static inline void nvml_closep(Nvml **n) {
        if (*n)
                nvml_close(*n);
}

typedef struct NvmlGpu {
        char address[16]; /* PCI address as Ark writes it: "0000:18:00.0" */
        char uuid[NVML_UUID_MAX];
        char name[NVML_NAME_MAX];
        uint64_t memory_bytes;
        bool mig_capable; /* NVML answers MIG queries for it */
        bool mig_enabled;
        bool exclusive_process; /* compute mode EXCLUSIVE_PROCESS */
} NvmlGpu;

/* Every GPU NVML sees, in NVML's order, into a new array (*ret, caller frees; NULL when none). */
int nvml_list_gpus(Nvml *n, NvmlGpu **ret, size_t *ret_n, char **ret_error);

/* Turns MIG mode on or off on the GPU at `address`. -EOPNOTSUPP for a GPU without MIG, -EBUSY
 * when turning it off while instances exist. */
int nvml_set_mig(Nvml *n, const char *address, bool enable, char **ret_error);

typedef struct NvmlMigInstance {
        char address[16]; /* the parent GPU */
        MigProfile profile;
        unsigned start; /* first memory slice */
        unsigned gi_id, ci_id;
        char uuid[NVML_UUID_MAX]; /* MIG-..., what NVIDIA_VISIBLE_DEVICES takes */
} NvmlMigInstance;

/* Creates a GPU instance of `profile` at memory slice `start` on the GPU at `address`, with one
 * compute instance taking all its compute slices, and fills *ret. The placement is the caller's
 * (lib/pool decided it): a start the profile never takes is -EINVAL, an overlap with instances
 * already there or too few compute slices -ENOSPC, MIG off -EOPNOTSUPP, each with a sentence.
 * When the compute instance cannot be made the GPU instance is destroyed again. */
int nvml_mig_create(Nvml *n, const char *address, MigProfile profile, unsigned start, NvmlMigInstance *ret,
                    char **ret_error);
/* Destroys compute instance ci_id and then GPU instance gi_id of the GPU at `address`. -ENOENT
 * when the GPU instance does not exist (a compute instance already gone is no error, so a destroy
 * cut short can be repeated). */
int nvml_mig_destroy(Nvml *n, const char *address, unsigned gi_id, unsigned ci_id, char **ret_error);
/* The MIG instances on the GPU at `address` (each GPU instance with its first compute instance;
 * ci_id UINT_MAX and no UUID when it has none), by profile and within a profile in NVML's order
 * (the fake's: by GI id), into a new array
 * (*ret, caller frees; NULL when none). A GPU with MIG off or without MIG has none. */
int nvml_mig_list(Nvml *n, const char *address, NvmlMigInstance **ret, size_t *ret_n, char **ret_error);

/* Sets the compute mode of the GPU at `address`: EXCLUSIVE_PROCESS (exclusive true) or DEFAULT. */
int nvml_set_exclusive_process(Nvml *n, const char *address, bool exclusive, char **ret_error);

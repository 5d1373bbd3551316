/* NVML loaded with dlopen, its errors converted at the edge; see nvml.h. */

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "basic/string-util.h"
#include "nvml-abi.h"
#include "nvml.h"

/* Every entry point Ark calls; a library lacking one is refused when it is opened, not when the
 * call is first needed. */
#define NVML_SYMBOLS(X) \
        X(nvmlInit_v2) \
        X(nvmlShutdown) \
        X(nvmlErrorString) \
        X(nvmlDeviceGetCount_v2) \
        X(nvmlDeviceGetHandleByIndex_v2) \
        X(nvmlDeviceGetHandleByPciBusId_v2) \
        X(nvmlDeviceGetPciInfo_v3) \
        X(nvmlDeviceGetUUID) \
        X(nvmlDeviceGetName) \
        X(nvmlDeviceGetMemoryInfo) \
        X(nvmlDeviceGetMigMode) \
        X(nvmlDeviceSetMigMode) \
        X(nvmlDeviceGetComputeMode) \
        X(nvmlDeviceSetComputeMode) \
        X(nvmlDeviceGetGpuInstanceProfileInfo) \
        X(nvmlDeviceCreateGpuInstanceWithPlacement) \
        X(nvmlDeviceGetGpuInstances) \
        X(nvmlDeviceGetGpuInstanceById) \
        X(nvmlGpuInstanceGetInfo) \
        X(nvmlGpuInstanceDestroy) \
        X(nvmlGpuInstanceGetComputeInstanceProfileInfo) \
        X(nvmlGpuInstanceCreateComputeInstance) \
        X(nvmlGpuInstanceGetComputeInstances) \
        X(nvmlGpuInstanceGetComputeInstanceById) \
        X(nvmlComputeInstanceGetInfo_v2) \
        X(nvmlComputeInstanceDestroy) \
        X(nvmlDeviceGetMaxMigDeviceCount) \
        X(nvmlDeviceGetMigDeviceHandleByIndex) \
        X(nvmlDeviceGetGpuInstanceId) \
        X(nvmlDeviceGetComputeInstanceId)

struct Nvml {
        void *dl;
        bool initialized;
#define NVML_FIELD(name) name##_fn *name;
        NVML_SYMBOLS(NVML_FIELD)
#undef NVML_FIELD
};

/* NVML's GPU-instance profile index for each of Ark's profiles (nvml-abi.h). */
static const unsigned gi_profile_index[_MIG_PROFILE_MAX] = {
        [MIG_1G_10GB] = NVML_GPU_INSTANCE_PROFILE_1_SLICE,
        [MIG_1G_20GB] = NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV2,
        [MIG_2G_20GB] = NVML_GPU_INSTANCE_PROFILE_2_SLICE,
        [MIG_3G_40GB] = NVML_GPU_INSTANCE_PROFILE_3_SLICE,
        [MIG_4G_40GB] = NVML_GPU_INSTANCE_PROFILE_4_SLICE,
        [MIG_7G_80GB] = NVML_GPU_INSTANCE_PROFILE_7_SLICE,
};

/* The compute-instance profile that fills a GPU instance of that many compute slices. */
static int ci_profile_index(unsigned compute) {
        switch (compute) {
        case 1:
                return NVML_COMPUTE_INSTANCE_PROFILE_1_SLICE;
        case 2:
                return NVML_COMPUTE_INSTANCE_PROFILE_2_SLICE;
        case 3:
                return NVML_COMPUTE_INSTANCE_PROFILE_3_SLICE;
        case 4:
                return NVML_COMPUTE_INSTANCE_PROFILE_4_SLICE;
        case 7:
                return NVML_COMPUTE_INSTANCE_PROFILE_7_SLICE;
        default:
                return -EINVAL;
        }
}

static int nvml_errno(nvmlReturn_t r) {
        switch (r) {
        case NVML_SUCCESS:
                return 0;
        case NVML_ERROR_INVALID_ARGUMENT:
                return -EINVAL;
        case NVML_ERROR_NOT_SUPPORTED:
                return -EOPNOTSUPP;
        case NVML_ERROR_NO_PERMISSION:
                return -EPERM;
        case NVML_ERROR_NOT_FOUND:
                return -ENOENT;
        case NVML_ERROR_IN_USE:
                return -EBUSY;
        case NVML_ERROR_INSUFFICIENT_RESOURCES:
                return -ENOSPC;
        case NVML_ERROR_DRIVER_NOT_LOADED:
                return -ENXIO;
        case NVML_ERROR_UNINITIALIZED:
                return -EBADF;
        case NVML_ERROR_MEMORY:
                return -ENOMEM;
        case NVML_ERROR_TIMEOUT:
                return -ETIMEDOUT;
        case NVML_ERROR_GPU_IS_LOST:
                return -ENODEV;
        case NVML_ERROR_RESET_REQUIRED:
                return -EAGAIN;
        default:
                return -EIO;
        }
}

/* Sets the sentence "<what>: <NVML's words> (NVML error N)." and returns the errno of r. */
_printf_(4, 5) static int fail(Nvml *n, nvmlReturn_t r, char **ret_error, const char *format, ...) {
        _cleanup_free_ char *what = NULL;
        const char *s = n && n->nvmlErrorString ? n->nvmlErrorString(r) : NULL;
        va_list ap;
        int k;

        va_start(ap, format);
        k = vasprintf(&what, format, ap);
        va_end(ap);
        if (k < 0)
                return -ENOMEM;
        return set_error_sentence(ret_error, nvml_errno(r), "%s: %s (NVML error %d).", what,
                                  isempty(s) ? "unknown error" : s, (int) r);
}

int nvml_open(const char *path, Nvml **ret, char **ret_error) {
        _cleanup_(nvml_closep) Nvml *n = NULL;
        const char *lib = path ?: NVML_LIBRARY;
        nvmlReturn_t r;

        n = calloc(1, sizeof *n);
        if (!n)
                return -ENOMEM;
        n->dl = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
        if (!n->dl)
                return set_error_sentence(ret_error, -ENOENT,
                                          "NVIDIA's management library '%s' cannot be loaded: %s.", lib,
                                          strempty(dlerror()));
#define NVML_RESOLVE(name) \
        n->name = (name##_fn *) dlsym(n->dl, #name); \
        if (!n->name) \
                return set_error_sentence(ret_error, -ELIBBAD, \
                                          "NVIDIA's management library '%s' lacks %s().", lib, #name);
        NVML_SYMBOLS(NVML_RESOLVE)
#undef NVML_RESOLVE
        r = n->nvmlInit_v2();
        if (r != NVML_SUCCESS)
                return fail(n, r, ret_error, "NVML did not initialize");
        n->initialized = true;
        *ret = TAKE_PTR(n);
        return 0;
}

Nvml *nvml_close(Nvml *n) {
        if (!n)
                return NULL;
        if (n->initialized)
                (void) n->nvmlShutdown();
        if (n->dl)
                dlclose(n->dl);
        free(n);
        return NULL;
}

/* "0000:18:00.0" from any of NVML's spellings ("00000000:18:00.0"); -EINVAL for anything else. */
static int normalize_address(const char *s, char ret[static 16]) {
        unsigned dom, bus, dev, fn;
        char tail;

        if (!s || sscanf(s, "%x:%x:%x.%x%c", &dom, &bus, &dev, &fn, &tail) != 4 || dom > 0xffff ||
            bus > 0xff || dev > 0x1f || fn > 7)
                return -EINVAL;
        snprintf(ret, 16, "%04x:%02x:%02x.%x", dom, bus, dev, fn);
        return 0;
}

static int device(Nvml *n, const char *address, nvmlDevice_t *ret, char **ret_error) {
        char a[16];
        nvmlReturn_t r;

        if (normalize_address(address, a) < 0)
                return set_error_sentence(ret_error, -EINVAL, "'%s' is not a PCI address.",
                                          printable(address));
        r = n->nvmlDeviceGetHandleByPciBusId_v2(a, ret);
        if (r == NVML_ERROR_NOT_FOUND)
                return set_error_sentence(ret_error, -ENOENT, "NVML has no GPU at %s.", a);
        if (r != NVML_SUCCESS)
                return fail(n, r, ret_error, "NVML cannot open GPU %s", a);
        return 0;
}

int nvml_list_gpus(Nvml *n, NvmlGpu **ret, size_t *ret_n, char **ret_error) {
        _cleanup_free_ NvmlGpu *l = NULL;
        unsigned count;
        nvmlReturn_t r;

        r = n->nvmlDeviceGetCount_v2(&count);
        if (r != NVML_SUCCESS)
                return fail(n, r, ret_error, "NVML cannot count the GPUs");
        if (count > 0) {
                l = calloc(count, sizeof *l);
                if (!l)
                        return -ENOMEM;
        }
        for (unsigned k = 0; k < count; k++) {
                NvmlGpu *g = &l[k];
                nvmlDevice_t d;
                nvmlPciInfo_t pci;
                nvmlMemory_t mem;
                nvmlComputeMode_t mode;
                unsigned cur, pending;

                r = n->nvmlDeviceGetHandleByIndex_v2(k, &d);
                if (r != NVML_SUCCESS)
                        return fail(n, r, ret_error, "NVML cannot open GPU %u", k);
                r = n->nvmlDeviceGetPciInfo_v3(d, &pci);
                if (r != NVML_SUCCESS)
                        return fail(n, r, ret_error, "NVML cannot read the PCI address of GPU %u", k);
                pci.busId[sizeof pci.busId - 1] = 0;
                if (normalize_address(pci.busId, g->address) < 0)
                        return set_error_sentence(ret_error, -EIO, "NVML gave GPU %u the PCI address '%s'.",
                                                  k, printable(pci.busId));
                if ((r = n->nvmlDeviceGetUUID(d, g->uuid, sizeof g->uuid)) != NVML_SUCCESS ||
                    (r = n->nvmlDeviceGetName(d, g->name, sizeof g->name)) != NVML_SUCCESS ||
                    (r = n->nvmlDeviceGetMemoryInfo(d, &mem)) != NVML_SUCCESS ||
                    (r = n->nvmlDeviceGetComputeMode(d, &mode)) != NVML_SUCCESS)
                        return fail(n, r, ret_error, "NVML cannot describe GPU %s", g->address);
                g->memory_bytes = mem.total;
                g->exclusive_process = mode == NVML_COMPUTEMODE_EXCLUSIVE_PROCESS;
                r = n->nvmlDeviceGetMigMode(d, &cur, &pending);
                if (r == NVML_SUCCESS) {
                        g->mig_capable = true;
                        g->mig_enabled = cur == NVML_DEVICE_MIG_ENABLE;
                } else if (r != NVML_ERROR_NOT_SUPPORTED)
                        return fail(n, r, ret_error, "NVML cannot read the MIG mode of GPU %s", g->address);
        }
        *ret = TAKE_PTR(l);
        *ret_n = count;
        return 0;
}

int nvml_set_mig(Nvml *n, const char *address, bool enable, char **ret_error) {
        nvmlDevice_t d;
        nvmlReturn_t r, activation = NVML_SUCCESS;
        int k = device(n, address, &d, ret_error);

        if (k < 0)
                return k;
        r = n->nvmlDeviceSetMigMode(d, enable ? NVML_DEVICE_MIG_ENABLE : NVML_DEVICE_MIG_DISABLE,
                                    &activation);
        if (r == NVML_ERROR_IN_USE)
                return fail(n, r, ret_error,
                            "MIG mode of GPU %s cannot be turned off while MIG instances exist", address);
        if (r == NVML_ERROR_NOT_SUPPORTED)
                return fail(n, r, ret_error, "GPU %s has no MIG mode", address);
        if (r != NVML_SUCCESS)
                return fail(n, r, ret_error, "Turning MIG mode %s on GPU %s failed", enable ? "on" : "off",
                            address);
        /* The new mode may wait for a GPU reset; NVML says so in the activation status. */
        if (activation != NVML_SUCCESS)
                return fail(n, activation, ret_error, "MIG mode of GPU %s is pending until the GPU is reset",
                            address);
        return 0;
}

/* The UUID of the MIG device of (gi, ci) on d, found among the GPU's MIG device handles. */
static int mig_uuid(Nvml *n, nvmlDevice_t d, const char *address, unsigned gi, unsigned ci, char *buf,
                    char **ret_error) {
        unsigned max, id_gi, id_ci;
        nvmlReturn_t r;

        r = n->nvmlDeviceGetMaxMigDeviceCount(d, &max);
        if (r != NVML_SUCCESS)
                return fail(n, r, ret_error, "NVML cannot count the MIG devices of GPU %s", address);
        for (unsigned k = 0; k < max; k++) {
                nvmlDevice_t m;

                r = n->nvmlDeviceGetMigDeviceHandleByIndex(d, k, &m);
                if (r == NVML_ERROR_NOT_FOUND)
                        continue; /* indexes need not be dense */
                if (r != NVML_SUCCESS)
                        return fail(n, r, ret_error, "NVML cannot open MIG device %u of GPU %s", k, address);
                if ((r = n->nvmlDeviceGetGpuInstanceId(m, &id_gi)) != NVML_SUCCESS ||
                    (r = n->nvmlDeviceGetComputeInstanceId(m, &id_ci)) != NVML_SUCCESS)
                        return fail(n, r, ret_error, "NVML cannot identify MIG device %u of GPU %s", k,
                                    address);
                if (id_gi != gi || id_ci != ci)
                        continue;
                r = n->nvmlDeviceGetUUID(m, buf, NVML_UUID_MAX);
                if (r != NVML_SUCCESS)
                        return fail(n, r, ret_error,
                                    "NVML cannot read the UUID of MIG device %u/%u of GPU %s", gi, ci,
                                    address);
                return 0;
        }
        return set_error_sentence(ret_error, -ENOENT,
                                  "GPU %s has no MIG device for GPU instance %u, compute instance %u.",
                                  address, gi, ci);
}

static char *starts_text(const MigProfileInfo *i) {
        StrBuf b = {};

        for (unsigned s = 0; s < MIG_MEMORY_SLICES; s++)
                if ((i->starts >> s) & 1)
                        strbuf_printf(&b, "%s%u", b.len ? ", " : "", s);
        return strbuf_steal(&b);
}

int nvml_mig_create(Nvml *n, const char *address, MigProfile profile, unsigned start, NvmlMigInstance *ret,
                    char **ret_error) {
        const MigProfileInfo *pi = mig_profile_info(profile);
        nvmlGpuInstanceProfileInfo_t gpi;
        nvmlComputeInstanceProfileInfo_t cpi;
        nvmlGpuInstancePlacement_t placement;
        nvmlGpuInstanceInfo_t gi_info;
        nvmlComputeInstanceInfo_t ci_info;
        nvmlGpuInstance_t gi = NULL;
        nvmlComputeInstance_t ci = NULL;
        NvmlMigInstance m = { .profile = profile, .start = start };
        nvmlDevice_t d;
        nvmlReturn_t r;
        int k;

        if (!pi)
                return set_error_sentence(ret_error, -EINVAL, "Unknown MIG profile %d.", (int) profile);
        k = device(n, address, &d, ret_error);
        if (k < 0)
                return k;
        (void) normalize_address(address, m.address);
        r = n->nvmlDeviceGetGpuInstanceProfileInfo(d, gi_profile_index[profile], &gpi);
        if (r == NVML_ERROR_NOT_SUPPORTED)
                return fail(n, r, ret_error, "GPU %s has no MIG profile %s", m.address, pi->name);
        if (r != NVML_SUCCESS)
                return fail(n, r, ret_error, "NVML cannot describe MIG profile %s on GPU %s", pi->name,
                            m.address);
        placement = (nvmlGpuInstancePlacement_t) { .start = start, .size = pi->slices };
        r = n->nvmlDeviceCreateGpuInstanceWithPlacement(d, gpi.id, &placement, &gi);
        if (r == NVML_ERROR_INVALID_ARGUMENT) {
                _cleanup_free_ char *starts = starts_text(pi);
                return fail(
                        n, r, ret_error,
                        "A %s MIG instance cannot start at memory slice %u of GPU %s: it starts only at %s %s",
                        pi->name, start, m.address, strchr(strempty(starts), ',') ? "slices" : "slice",
                        strempty(starts));
        }
        if (r == NVML_ERROR_INSUFFICIENT_RESOURCES)
                return fail(
                        n, r, ret_error,
                        "GPU %s has no room for a %s MIG instance at memory slice %u: memory slices %u-%u or %u "
                        "compute slices are taken by instances already there",
                        m.address, pi->name, start, start, start + pi->slices - 1, pi->compute);
        if (r == NVML_ERROR_NOT_SUPPORTED)
                return fail(n, r, ret_error, "GPU %s cannot make MIG instances: MIG mode is off", m.address);
        if (r != NVML_SUCCESS)
                return fail(n, r, ret_error,
                            "Creating a %s MIG instance at memory slice %u of GPU %s failed", pi->name,
                            start, m.address);

        r = n->nvmlGpuInstanceGetInfo(gi, &gi_info);
        if (r != NVML_SUCCESS) {
                k = fail(n, r, ret_error, "NVML cannot describe the new GPU instance on GPU %s", m.address);
                goto undo;
        }
        m.gi_id = gi_info.id;
        r = n->nvmlGpuInstanceGetComputeInstanceProfileInfo(gi, (unsigned) ci_profile_index(pi->compute),
                                                            NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_SHARED,
                                                            &cpi);
        if (r == NVML_SUCCESS)
                r = n->nvmlGpuInstanceCreateComputeInstance(gi, cpi.id, &ci);
        if (r == NVML_SUCCESS)
                r = n->nvmlComputeInstanceGetInfo_v2(ci, &ci_info);
        if (r != NVML_SUCCESS) {
                k = fail(n, r, ret_error,
                         "Creating the compute instance of GPU instance %u on GPU %s failed", m.gi_id,
                         m.address);
                goto undo;
        }
        m.ci_id = ci_info.id;
        k = mig_uuid(n, d, m.address, m.gi_id, m.ci_id, m.uuid, ret_error);
        if (k < 0)
                goto undo;
        *ret = m;
        return 0;

undo:
        /* Leave the GPU as it was: the pooler's view must not hold a half-made instance. */
        if (ci)
                (void) n->nvmlComputeInstanceDestroy(ci);
        (void) n->nvmlGpuInstanceDestroy(gi);
        return k;
}

int nvml_mig_destroy(Nvml *n, const char *address, unsigned gi_id, unsigned ci_id, char **ret_error) {
        nvmlGpuInstance_t gi;
        nvmlComputeInstance_t ci;
        nvmlDevice_t d;
        nvmlReturn_t r;
        int k = device(n, address, &d, ret_error);

        if (k < 0)
                return k;
        r = n->nvmlDeviceGetGpuInstanceById(d, gi_id, &gi);
        if (r == NVML_ERROR_NOT_FOUND)
                return set_error_sentence(ret_error, -ENOENT, "GPU %s has no GPU instance %u.", address,
                                          gi_id);
        if (r != NVML_SUCCESS)
                return fail(n, r, ret_error, "NVML cannot open GPU instance %u of GPU %s", gi_id, address);
        r = n->nvmlGpuInstanceGetComputeInstanceById(gi, ci_id, &ci);
        if (r == NVML_SUCCESS)
                r = n->nvmlComputeInstanceDestroy(ci);
        if (r == NVML_ERROR_IN_USE)
                return fail(n, r, ret_error,
                            "Compute instance %u of GPU instance %u on GPU %s is still in use", ci_id, gi_id,
                            address);
        if (r != NVML_SUCCESS && r != NVML_ERROR_NOT_FOUND)
                return fail(n, r, ret_error,
                            "Destroying compute instance %u of GPU instance %u on GPU %s failed", ci_id,
                            gi_id, address);
        r = n->nvmlGpuInstanceDestroy(gi);
        if (r == NVML_ERROR_IN_USE)
                return fail(n, r, ret_error,
                            "GPU instance %u on GPU %s still has compute instances or processes", gi_id,
                            address);
        if (r != NVML_SUCCESS)
                return fail(n, r, ret_error, "Destroying GPU instance %u on GPU %s failed", gi_id, address);
        return 0;
}

int nvml_mig_list(Nvml *n, const char *address, NvmlMigInstance **ret, size_t *ret_n, char **ret_error) {
        _cleanup_free_ NvmlMigInstance *l = NULL;
        size_t count = 0;
        unsigned cur, pending;
        nvmlDevice_t d;
        nvmlReturn_t r;
        int k = device(n, address, &d, ret_error);

        if (k < 0)
                return k;
        r = n->nvmlDeviceGetMigMode(d, &cur, &pending);
        if (r == NVML_ERROR_NOT_SUPPORTED || (r == NVML_SUCCESS && cur != NVML_DEVICE_MIG_ENABLE)) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        if (r != NVML_SUCCESS)
                return fail(n, r, ret_error, "NVML cannot read the MIG mode of GPU %s", address);
        for (int p = 0; p < _MIG_PROFILE_MAX; p++) {
                const MigProfileInfo *pi = mig_profile_info((MigProfile) p);
                nvmlGpuInstanceProfileInfo_t gpi;
                nvmlGpuInstance_t gis[MIG_MEMORY_SLICES];
                unsigned n_gis = 0;

                r = n->nvmlDeviceGetGpuInstanceProfileInfo(d, gi_profile_index[p], &gpi);
                if (r == NVML_ERROR_NOT_SUPPORTED)
                        continue;
                if (r != NVML_SUCCESS)
                        return fail(n, r, ret_error, "NVML cannot describe MIG profile %s on GPU %s",
                                    pi->name, address);
                /* The array must hold instanceCount handles; no 80 GB GPU has more than 7 of a profile. */
                if (gpi.instanceCount > ELEMENTSOF(gis))
                        return set_error_sentence(ret_error, -EIO,
                                                  "NVML says GPU %s holds %u instances of %s.", address,
                                                  gpi.instanceCount, pi->name);
                r = n->nvmlDeviceGetGpuInstances(d, gpi.id, gis, &n_gis);
                if (r != NVML_SUCCESS)
                        return fail(n, r, ret_error, "NVML cannot list the %s instances of GPU %s", pi->name,
                                    address);
                for (unsigned g = 0; g < n_gis && g < ELEMENTSOF(gis); g++) {
                        NvmlMigInstance m = { .profile = (MigProfile) p, .ci_id = UINT_MAX };
                        nvmlGpuInstanceInfo_t gi_info;
                        nvmlComputeInstanceProfileInfo_t cpi;
                        nvmlComputeInstance_t cis[MIG_COMPUTE_SLICES];
                        unsigned n_cis = 0;
                        NvmlMigInstance *nl;

                        (void) normalize_address(address, m.address);
                        r = n->nvmlGpuInstanceGetInfo(gis[g], &gi_info);
                        if (r != NVML_SUCCESS)
                                return fail(n, r, ret_error, "NVML cannot describe a GPU instance of GPU %s",
                                            address);
                        m.gi_id = gi_info.id;
                        m.start = gi_info.placement.start;
                        r = n->nvmlGpuInstanceGetComputeInstanceProfileInfo(
                                gis[g], (unsigned) ci_profile_index(pi->compute),
                                NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_SHARED, &cpi);
                        if (r == NVML_SUCCESS)
                                r = n->nvmlGpuInstanceGetComputeInstances(gis[g], cpi.id, cis, &n_cis);
                        if (r != NVML_SUCCESS)
                                return fail(
                                        n, r, ret_error,
                                        "NVML cannot list the compute instances of GPU instance %u on GPU %s",
                                        m.gi_id, address);
                        if (n_cis > 0) {
                                nvmlComputeInstanceInfo_t ci_info;

                                r = n->nvmlComputeInstanceGetInfo_v2(cis[0], &ci_info);
                                if (r != NVML_SUCCESS)
                                        return fail(n, r, ret_error,
                                                    "NVML cannot describe a compute instance on GPU %s",
                                                    address);
                                m.ci_id = ci_info.id;
                                k = mig_uuid(n, d, address, m.gi_id, m.ci_id, m.uuid, ret_error);
                                if (k < 0)
                                        return k;
                        }
                        nl = reallocarray(l, count + 1, sizeof *l);
                        if (!nl)
                                return -ENOMEM;
                        l = nl;
                        l[count++] = m;
                }
        }
        *ret = TAKE_PTR(l);
        *ret_n = count;
        return 0;
}

int nvml_set_exclusive_process(Nvml *n, const char *address, bool exclusive, char **ret_error) {
        nvmlDevice_t d;
        nvmlReturn_t r;
        int k = device(n, address, &d, ret_error);

        if (k < 0)
                return k;
        r = n->nvmlDeviceSetComputeMode(
                d, exclusive ? NVML_COMPUTEMODE_EXCLUSIVE_PROCESS : NVML_COMPUTEMODE_DEFAULT);
        if (r != NVML_SUCCESS)
                return fail(n, r, ret_error, "Setting the compute mode of GPU %s to %s failed", address,
                            exclusive ? "EXCLUSIVE_PROCESS" : "DEFAULT");
        return 0;
}

/* A fake libnvidia-ml.so.1 of Ark's own, for tests: the NVML entry points Ark calls
 * (appliance/hw/nvml-abi.h), with NVML's signatures and error codes, over GPUs described in a
 * state file. Built as $(O)/tests/libnvidia-ml.so.1; appliance/hw/nvml.c loads it with dlopen
 * where it would load NVIDIA's.
 *
 * The state file (ARK_FAKE_NVML_STATE=path) is text, one record a line, '#' comments:
 *
 *   gpu 0000:18:00.0 uuid=GPU-... memory_mib=81559 mig=0 compute_mode=0 name=NVIDIA H100 80GB HBM3
 *   gi 0000:18:00.0 id=1 profile=3g.40gb start=4
 *   ci 0000:18:00.0 gi=1 id=0 slices=3
 *
 * Every call reads it again under a lock (<state>.lock) and every change writes it back (a
 * temporary file renamed over it), so MIG instances outlive the process that made them, as they
 * outlive a restart of arkd on a real host. The GPU-instance geometry is NVIDIA's for the A100
 * and H100 80GB, enforced by lib/pool/mig.c's mig_check() (compiled into this library): a start
 * the profile never takes is NVML_ERROR_INVALID_ARGUMENT, an overlap or a lack of compute slices
 * NVML_ERROR_INSUFFICIENT_RESOURCES, as the real library answers. Only GPUs whose name
 * mig_model_supported() accepts can enable MIG (NVML_ERROR_NOT_SUPPORTED otherwise).
 *
 * Simplifications: MIG mode changes at once (no pending mode, no reset needed); GPU-instance ids
 * are the lowest free one from 1 (7g.80gb takes 0, as on real GPUs); compute-instance placements
 * are not tracked (their start reads 0); permissions are not checked. */

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "../../appliance/hw/nvml-abi.h"
#include "pool/mig.h"

#define EXPORT __attribute__((visibility("default")))
#define MAX_GPUS 32
#define MAX_GIS 15 /* ids 0..14 */
#define MAX_CIS 8  /* ids 0..7 */

typedef struct FakeGi {
        bool used;
        MigProfile profile;
        unsigned start;
        unsigned ci_slices[MAX_CIS]; /* 0 = no compute instance with that id */
} FakeGi;

typedef struct FakeGpu {
        char address[32];
        unsigned domain, bus, dev, fn;
        char uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
        char name[NVML_DEVICE_NAME_V2_BUFFER_SIZE];
        unsigned long long memory_mib;
        unsigned mig, compute_mode;
        FakeGi gi[MAX_GIS];
} FakeGpu;

/* Handles are addresses of these: stable for the life of the process, whatever the file says. */
struct nvmlDevice_st {
        int gpu, gi, ci; /* gi < 0: the GPU itself; else a MIG device */
};
struct nvmlGpuInstance_st {
        int gpu, gi;
};
struct nvmlComputeInstance_st {
        int gpu, gi, ci;
};

/* The exported entry points, declared with the ABI's types: a signature that differs from
 * nvml-abi.h's does not compile. */
EXPORT nvmlInit_v2_fn nvmlInit_v2;
EXPORT nvmlShutdown_fn nvmlShutdown;
EXPORT nvmlErrorString_fn nvmlErrorString;
EXPORT nvmlDeviceGetCount_v2_fn nvmlDeviceGetCount_v2;
EXPORT nvmlDeviceGetHandleByIndex_v2_fn nvmlDeviceGetHandleByIndex_v2;
EXPORT nvmlDeviceGetHandleByPciBusId_v2_fn nvmlDeviceGetHandleByPciBusId_v2;
EXPORT nvmlDeviceGetUUID_fn nvmlDeviceGetUUID;
EXPORT nvmlDeviceGetName_fn nvmlDeviceGetName;
EXPORT nvmlDeviceGetPciInfo_v3_fn nvmlDeviceGetPciInfo_v3;
EXPORT nvmlDeviceGetMemoryInfo_fn nvmlDeviceGetMemoryInfo;
EXPORT nvmlDeviceGetMigMode_fn nvmlDeviceGetMigMode;
EXPORT nvmlDeviceSetMigMode_fn nvmlDeviceSetMigMode;
EXPORT nvmlDeviceGetComputeMode_fn nvmlDeviceGetComputeMode;
EXPORT nvmlDeviceSetComputeMode_fn nvmlDeviceSetComputeMode;
EXPORT nvmlDeviceGetGpuInstanceProfileInfo_fn nvmlDeviceGetGpuInstanceProfileInfo;
EXPORT nvmlDeviceCreateGpuInstanceWithPlacement_fn nvmlDeviceCreateGpuInstanceWithPlacement;
EXPORT nvmlDeviceGetGpuInstances_fn nvmlDeviceGetGpuInstances;
EXPORT nvmlDeviceGetGpuInstanceById_fn nvmlDeviceGetGpuInstanceById;
EXPORT nvmlGpuInstanceGetInfo_fn nvmlGpuInstanceGetInfo;
EXPORT nvmlGpuInstanceDestroy_fn nvmlGpuInstanceDestroy;
EXPORT nvmlGpuInstanceGetComputeInstanceProfileInfo_fn nvmlGpuInstanceGetComputeInstanceProfileInfo;
EXPORT nvmlGpuInstanceCreateComputeInstance_fn nvmlGpuInstanceCreateComputeInstance;
EXPORT nvmlGpuInstanceGetComputeInstances_fn nvmlGpuInstanceGetComputeInstances;
EXPORT nvmlGpuInstanceGetComputeInstanceById_fn nvmlGpuInstanceGetComputeInstanceById;
EXPORT nvmlComputeInstanceGetInfo_v2_fn nvmlComputeInstanceGetInfo_v2;
EXPORT nvmlComputeInstanceDestroy_fn nvmlComputeInstanceDestroy;
EXPORT nvmlDeviceGetMaxMigDeviceCount_fn nvmlDeviceGetMaxMigDeviceCount;
EXPORT nvmlDeviceGetMigDeviceHandleByIndex_fn nvmlDeviceGetMigDeviceHandleByIndex;
EXPORT nvmlDeviceGetGpuInstanceId_fn nvmlDeviceGetGpuInstanceId;
EXPORT nvmlDeviceGetComputeInstanceId_fn nvmlDeviceGetComputeInstanceId;

static struct nvmlDevice_st dev_handles[MAX_GPUS];
static struct nvmlDevice_st mig_handles[MAX_GPUS][MAX_GIS][MAX_CIS];
static struct nvmlGpuInstance_st gi_handles[MAX_GPUS][MAX_GIS];
static struct nvmlComputeInstance_st ci_handles[MAX_GPUS][MAX_GIS][MAX_CIS];

static FakeGpu gpus[MAX_GPUS];
static unsigned n_gpus;
static unsigned init_count;
static int lock_fd = -1;

/* NVML's GPU-instance profile per Ark profile: the `profile` index callers pass and the profile
 * `id` the real A100/H100 80GB report for it (nvidia-smi mig -lgip). */
static const struct {
        unsigned index, id;
} gi_profiles[_MIG_PROFILE_MAX] = {
        [MIG_1G_10GB] = { NVML_GPU_INSTANCE_PROFILE_1_SLICE, 19 },
        [MIG_1G_20GB] = { NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV2, 15 },
        [MIG_2G_20GB] = { NVML_GPU_INSTANCE_PROFILE_2_SLICE, 14 },
        [MIG_3G_40GB] = { NVML_GPU_INSTANCE_PROFILE_3_SLICE, 9 },
        [MIG_4G_40GB] = { NVML_GPU_INSTANCE_PROFILE_4_SLICE, 5 },
        [MIG_7G_80GB] = { NVML_GPU_INSTANCE_PROFILE_7_SLICE, 0 },
};

/* Compute slices of each compute-instance profile index (0 = none on these GPUs). */
static const unsigned ci_profile_slices[NVML_COMPUTE_INSTANCE_PROFILE_COUNT] = {
        [NVML_COMPUTE_INSTANCE_PROFILE_1_SLICE] = 1, [NVML_COMPUTE_INSTANCE_PROFILE_2_SLICE] = 2,
        [NVML_COMPUTE_INSTANCE_PROFILE_3_SLICE] = 3, [NVML_COMPUTE_INSTANCE_PROFILE_4_SLICE] = 4,
        [NVML_COMPUTE_INSTANCE_PROFILE_7_SLICE] = 7,
};

static int ci_profile_of_slices(unsigned slices) {
        for (unsigned k = 0; k < NVML_COMPUTE_INSTANCE_PROFILE_COUNT; k++)
                if (ci_profile_slices[k] == slices)
                        return (int) k;
        return -1;
}

static MigProfile profile_by_id(unsigned id) {
        for (int p = 0; p < _MIG_PROFILE_MAX; p++)
                if (gi_profiles[p].id == id)
                        return (MigProfile) p;
        return _MIG_PROFILE_INVALID;
}

/* ---------------------------------------------------------------- the state file */

static const char *state_path(void) {
        const char *p = getenv("ARK_FAKE_NVML_STATE");
        return p && *p ? p : NULL;
}

static int lock_state(int how) {
        char lock[4096];
        const char *p = state_path();

        if (!p || snprintf(lock, sizeof lock, "%s.lock", p) >= (int) sizeof lock)
                return -EINVAL;
        lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (lock_fd < 0)
                return -errno;
        if (flock(lock_fd, how) < 0) {
                int r = -errno;
                close(lock_fd);
                lock_fd = -1;
                return r;
        }
        return 0;
}

static void unlock_state(void) {
        if (lock_fd >= 0)
                close(lock_fd);
        lock_fd = -1;
}

static FakeGpu *gpu_by_address(const char *address) {
        for (unsigned k = 0; k < n_gpus; k++)
                if (strcmp(gpus[k].address, address) == 0)
                        return &gpus[k];
        return NULL;
}

static bool parse_uint(const char *s, unsigned long long max, unsigned long long *ret) {
        char *end;
        unsigned long long v;

        if (!s || *s < '0' || *s > '9')
                return false;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || *end || v > max)
                return false;
        *ret = v;
        return true;
}

/* The value of key=... among the words, NULL when missing. */
static const char *field(char **words, size_t n, const char *key) {
        size_t l = strlen(key);

        for (size_t k = 0; k < n; k++)
                if (strncmp(words[k], key, l) == 0 && words[k][l] == '=')
                        return words[k] + l + 1;
        return NULL;
}

static int parse_line(char *line, unsigned lineno) {
        char *words[16], *name = NULL, *save = NULL;
        size_t n = 0;
        unsigned long long v1, v2, v3;
        FakeGpu *g;

        /* name= runs to the end of the line: cut it off before splitting the rest into words. */
        name = strstr(line, " name=");
        if (name) {
                *name = 0;
                name += strlen(" name=");
        }
        for (char *w = strtok_r(line, " \t", &save); w && n < 16; w = strtok_r(NULL, " \t", &save))
                words[n++] = w;
        if (n == 0)
                return 0;
        if (n < 2)
                goto bad;
        if (strcmp(words[0], "gpu") == 0) {
                if (n_gpus >= MAX_GPUS || gpu_by_address(words[1]) || !name ||
                    strlen(words[1]) >= sizeof g->address)
                        goto bad;
                g = &gpus[n_gpus];
                *g = (FakeGpu) {};
                snprintf(g->address, sizeof g->address, "%s", words[1]);
                if (sscanf(g->address, "%x:%x:%x.%x", &g->domain, &g->bus, &g->dev, &g->fn) != 4)
                        goto bad;
                if (!field(words, n, "uuid") || strlen(field(words, n, "uuid")) >= sizeof g->uuid ||
                    strlen(name) >= sizeof g->name ||
                    !parse_uint(field(words, n, "memory_mib"), UINT64_MAX >> 20, &g->memory_mib) ||
                    !parse_uint(field(words, n, "mig"), 1, &v1) ||
                    !parse_uint(field(words, n, "compute_mode"), NVML_COMPUTEMODE_COUNT - 1, &v2))
                        goto bad;
                snprintf(g->uuid, sizeof g->uuid, "%s", field(words, n, "uuid"));
                snprintf(g->name, sizeof g->name, "%s", name);
                g->mig = (unsigned) v1;
                g->compute_mode = (unsigned) v2;
                n_gpus++;
                return 0;
        }
        g = gpu_by_address(words[1]);
        if (!g)
                goto bad;
        if (strcmp(words[0], "gi") == 0) {
                MigProfile p = mig_profile_from_string(field(words, n, "profile"));

                if (p < 0 || !parse_uint(field(words, n, "id"), MAX_GIS - 1, &v1) ||
                    !parse_uint(field(words, n, "start"), MIG_MEMORY_SLICES - 1, &v2) || g->gi[v1].used)
                        goto bad;
                g->gi[v1] = (FakeGi) { .used = true, .profile = p, .start = (unsigned) v2 };
                return 0;
        }
        if (strcmp(words[0], "ci") == 0) {
                if (!parse_uint(field(words, n, "gi"), MAX_GIS - 1, &v1) || !g->gi[v1].used ||
                    !parse_uint(field(words, n, "id"), MAX_CIS - 1, &v2) ||
                    !parse_uint(field(words, n, "slices"), MIG_COMPUTE_SLICES, &v3) || v3 == 0 ||
                    g->gi[v1].ci_slices[v2])
                        goto bad;
                g->gi[v1].ci_slices[v2] = (unsigned) v3;
                return 0;
        }
bad:
        fprintf(stderr, "fake-nvml: %s:%u: malformed line\n", state_path(), lineno);
        return -EINVAL;
}

static nvmlReturn_t load(void) {
        FILE *f;
        char line[512];
        unsigned lineno = 0;
        int r = 0;

        n_gpus = 0;
        f = state_path() ? fopen(state_path(), "re") : NULL;
        if (!f)
                return NVML_ERROR_DRIVER_NOT_LOADED;
        while (r == 0 && fgets(line, sizeof line, f)) {
                lineno++;
                line[strcspn(line, "\r\n")] = 0;
                if (line[0] != '#')
                        r = parse_line(line, lineno);
        }
        fclose(f);
        return r < 0 ? NVML_ERROR_UNKNOWN : NVML_SUCCESS;
}

static nvmlReturn_t save(void) {
        char tmp[4096];
        FILE *f;

        if (snprintf(tmp, sizeof tmp, "%s.tmp", state_path()) >= (int) sizeof tmp)
                return NVML_ERROR_UNKNOWN;
        f = fopen(tmp, "we");
        if (!f)
                return NVML_ERROR_UNKNOWN;
        fprintf(f, "# fake NVML state (tests/fake-nvml/fake-nvml.c)\n");
        for (unsigned k = 0; k < n_gpus; k++) {
                const FakeGpu *g = &gpus[k];

                fprintf(f, "gpu %s uuid=%s memory_mib=%llu mig=%u compute_mode=%u name=%s\n", g->address,
                        g->uuid, g->memory_mib, g->mig, g->compute_mode, g->name);
                for (unsigned i = 0; i < MAX_GIS; i++) {
                        if (!g->gi[i].used)
                                continue;
                        fprintf(f, "gi %s id=%u profile=%s start=%u\n", g->address, i,
                                mig_profile_info(g->gi[i].profile)->name, g->gi[i].start);
                        for (unsigned c = 0; c < MAX_CIS; c++)
                                if (g->gi[i].ci_slices[c])
                                        fprintf(f, "ci %s gi=%u id=%u slices=%u\n", g->address, i, c,
                                                g->gi[i].ci_slices[c]);
                }
        }
        if (fflush(f) != 0 || fsync(fileno(f)) < 0) {
                fclose(f);
                unlink(tmp);
                return NVML_ERROR_UNKNOWN;
        }
        fclose(f);
        return rename(tmp, state_path()) < 0 ? NVML_ERROR_UNKNOWN : NVML_SUCCESS;
}

/* Every entry point but init: initialized, the state read under a lock. end() releases it. */
static nvmlReturn_t begin(bool write) {
        nvmlReturn_t r;

        if (init_count == 0)
                return NVML_ERROR_UNINITIALIZED;
        if (lock_state(write ? LOCK_EX : LOCK_SH) < 0)
                return NVML_ERROR_UNKNOWN;
        r = load();
        if (r != NVML_SUCCESS)
                unlock_state();
        return r;
}

static nvmlReturn_t end(nvmlReturn_t r, bool changed) {
        if (r == NVML_SUCCESS && changed)
                r = save();
        unlock_state();
        return r;
}

static FakeGpu *gpu_of(nvmlDevice_t d) {
        if (!d || d->gpu < 0 || (unsigned) d->gpu >= n_gpus)
                return NULL;
        return &gpus[d->gpu];
}

static FakeGi *gi_of(nvmlGpuInstance_t h) {
        if (!h || h->gpu < 0 || (unsigned) h->gpu >= n_gpus || h->gi < 0 || h->gi >= MAX_GIS ||
            !gpus[h->gpu].gi[h->gi].used)
                return NULL;
        return &gpus[h->gpu].gi[h->gi];
}

static MigGpu geometry(const FakeGpu *g) {
        MigGpu m = {};

        for (unsigned i = 0; i < MAX_GIS; i++)
                if (g->gi[i].used)
                        (void) mig_add(&m, g->gi[i].profile, g->gi[i].start);
        return m;
}

static unsigned gi_ci_used(const FakeGi *gi) {
        unsigned s = 0;

        for (unsigned c = 0; c < MAX_CIS; c++)
                s += gi->ci_slices[c];
        return s;
}

/* ---------------------------------------------------------------- entry points */

EXPORT const char *nvmlErrorString(nvmlReturn_t result) {
        switch (result) {
        case NVML_SUCCESS:
                return "Success";
        case NVML_ERROR_UNINITIALIZED:
                return "Uninitialized";
        case NVML_ERROR_INVALID_ARGUMENT:
                return "Invalid Argument";
        case NVML_ERROR_NOT_SUPPORTED:
                return "Not Supported";
        case NVML_ERROR_NO_PERMISSION:
                return "Insufficient Permissions";
        case NVML_ERROR_NOT_FOUND:
                return "Not Found";
        case NVML_ERROR_INSUFFICIENT_SIZE:
                return "Insufficient Size";
        case NVML_ERROR_DRIVER_NOT_LOADED:
                return "Driver Not Loaded";
        case NVML_ERROR_IN_USE:
                return "In use by another client";
        case NVML_ERROR_INSUFFICIENT_RESOURCES:
                return "Insufficient Resources";
        default:
                return "Unknown Error";
        }
}

EXPORT nvmlReturn_t nvmlInit_v2(void) {
        nvmlReturn_t r;

        if (lock_state(LOCK_SH) < 0)
                return NVML_ERROR_DRIVER_NOT_LOADED;
        r = load();
        unlock_state();
        if (r == NVML_SUCCESS)
                init_count++;
        return r;
}

EXPORT nvmlReturn_t nvmlShutdown(void) {
        if (init_count == 0)
                return NVML_ERROR_UNINITIALIZED;
        init_count--;
        return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count) {
        nvmlReturn_t r = begin(false);

        if (r != NVML_SUCCESS)
                return r;
        if (!count)
                return end(NVML_ERROR_INVALID_ARGUMENT, false);
        *count = n_gpus;
        return end(NVML_SUCCESS, false);
}

EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
        nvmlReturn_t r = begin(false);

        if (r != NVML_SUCCESS)
                return r;
        if (!device || index >= n_gpus)
                return end(NVML_ERROR_INVALID_ARGUMENT, false);
        dev_handles[index] = (struct nvmlDevice_st) { .gpu = (int) index, .gi = -1, .ci = -1 };
        *device = &dev_handles[index];
        return end(NVML_SUCCESS, false);
}

EXPORT nvmlReturn_t nvmlDeviceGetHandleByPciBusId_v2(const char *bus_id, nvmlDevice_t *device) {
        unsigned dom = 0, bus, dev, fn;
        nvmlReturn_t r = begin(false);

        if (r != NVML_SUCCESS)
                return r;
        /* NVML takes "domain:bus:device.function" in hex, the domain optional. */
        if (!bus_id || !device ||
            (sscanf(bus_id, "%x:%x:%x.%x", &dom, &bus, &dev, &fn) != 4 &&
             (dom = 0, sscanf(bus_id, "%x:%x.%x", &bus, &dev, &fn) != 3)))
                return end(NVML_ERROR_INVALID_ARGUMENT, false);
        for (unsigned k = 0; k < n_gpus; k++)
                if (gpus[k].domain == dom && gpus[k].bus == bus && gpus[k].dev == dev && gpus[k].fn == fn) {
                        dev_handles[k] = (struct nvmlDevice_st) { .gpu = (int) k, .gi = -1, .ci = -1 };
                        *device = &dev_handles[k];
                        return end(NVML_SUCCESS, false);
                }
        return end(NVML_ERROR_NOT_FOUND, false);
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
        for (size_t k = 0; k < n; k++)
                h = (h ^ ((const unsigned char *) p)[k]) * 0x100000001b3ULL;
        return h;
}

/* A MIG device's UUID, the same in every process for the same GPU, GI and CI. */
static void mig_uuid(const FakeGpu *g, int gi, int ci, char *buf, size_t n) {
        uint64_t a = fnv1a(0xcbf29ce484222325ULL, g->uuid, strlen(g->uuid));
        uint64_t b;

        a = fnv1a(a, &gi, sizeof gi);
        a = fnv1a(a, &ci, sizeof ci);
        b = fnv1a(a, "mig", 3);
        snprintf(buf, n, "MIG-%08x-%04x-%04x-%04x-%012llx", (unsigned) (a >> 32),
                 (unsigned) (a >> 16) & 0xffff, (unsigned) a & 0xffff, (unsigned) (b >> 48),
                 (unsigned long long) (b & 0xffffffffffffULL));
}

/* A MIG device handle whose GI or CI has gone since is stale: NVML_ERROR_INVALID_ARGUMENT. */
static bool mig_handle_valid(nvmlDevice_t d) {
        const FakeGpu *g = gpu_of(d);
        return g && d->gi >= 0 && d->gi < MAX_GIS && g->gi[d->gi].used && d->ci >= 0 && d->ci < MAX_CIS &&
                g->gi[d->gi].ci_slices[d->ci];
}

static nvmlReturn_t copy_string(char *buf, unsigned length, const char *s) {
        if (!buf)
                return NVML_ERROR_INVALID_ARGUMENT;
        if (strlen(s) >= length)
                return NVML_ERROR_INSUFFICIENT_SIZE;
        memcpy(buf, s, strlen(s) + 1);
        return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length) {
        nvmlReturn_t r = begin(false);
        const FakeGpu *g;
        char m[NVML_DEVICE_UUID_V2_BUFFER_SIZE];

        if (r != NVML_SUCCESS)
                return r;
        g = gpu_of(device);
        if (!g || (device->gi >= 0 && !mig_handle_valid(device)))
                return end(NVML_ERROR_INVALID_ARGUMENT, false);
        if (device->gi < 0)
                return end(copy_string(uuid, length, g->uuid), false);
        mig_uuid(g, device->gi, device->ci, m, sizeof m);
        return end(copy_string(uuid, length, m), false);
}

EXPORT nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length) {
        nvmlReturn_t r = begin(false);
        const FakeGpu *g;
        char m[NVML_DEVICE_NAME_V2_BUFFER_SIZE + 32];

        if (r != NVML_SUCCESS)
                return r;
        g = gpu_of(device);
        if (!g || (device->gi >= 0 && !mig_handle_valid(device)))
                return end(NVML_ERROR_INVALID_ARGUMENT, false);
        if (device->gi < 0)
                return end(copy_string(name, length, g->name), false);
        snprintf(m, sizeof m, "%s MIG %s", g->name, mig_profile_info(g->gi[device->gi].profile)->name);
        return end(copy_string(name, length, m), false);
}

EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t *pci) {
        nvmlReturn_t r = begin(false);
        const FakeGpu *g;

        if (r != NVML_SUCCESS)
                return r;
        g = gpu_of(device);
        if (!g || !pci || (device->gi >= 0 && !mig_handle_valid(device)))
                return end(NVML_ERROR_INVALID_ARGUMENT, false);
        *pci = (nvmlPciInfo_t) {
                .domain = g->domain, .bus = g->bus, .device = g->dev, .pciDeviceId = 0x233010de
        };
        snprintf(pci->busIdLegacy, sizeof pci->busIdLegacy, "%04X:%02X:%02X.%X", g->domain & 0xffff, g->bus,
                 g->dev, g->fn);
        snprintf(pci->busId, sizeof pci->busId, "%08X:%02X:%02X.%X", g->domain, g->bus, g->dev, g->fn);
        return end(NVML_SUCCESS, false);
}

EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory) {
        nvmlReturn_t r = begin(false);
        const FakeGpu *g;
        unsigned long long total;

        if (r != NVML_SUCCESS)
                return r;
        g = gpu_of(device);
        if (!g || !memory || (device->gi >= 0 && !mig_handle_valid(device)))
                return end(NVML_ERROR_INVALID_ARGUMENT, false);
        total = g->memory_mib << 20;
        if (device->gi >= 0)
                total = total / MIG_MEMORY_SLICES * mig_profile_info(g->gi[device->gi].profile)->slices;
        *memory = (nvmlMemory_t) { .total = total, .free = total, .used = 0 };
        return end(NVML_SUCCESS, false);
}

EXPORT nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t device, unsigned int *current, unsigned int *pending) {
        nvmlReturn_t r = begin(false);
        const FakeGpu *g;

        if (r != NVML_SUCCESS)
                return r;
        g = gpu_of(device);
        if (!g || device->gi >= 0 || !current || !pending)
                return end(NVML_ERROR_INVALID_ARGUMENT, false);
        if (!mig_model_supported(g->name))
                return end(NVML_ERROR_NOT_SUPPORTED, false);
        *current = *pending = g->mig;
        return end(NVML_SUCCESS, false);
}

EXPORT nvmlReturn_t nvmlDeviceSetMigMode(nvmlDevice_t device, unsigned int mode, nvmlReturn_t *activation) {
        nvmlReturn_t r = begin(true);
        FakeGpu *g;

        if (r != NVML_SUCCESS)
                return r;
        g = gpu_of(device);
        if (!g || device->gi >= 0 || !activation || mode > NVML_DEVICE_MIG_ENABLE)
                return end(NVML_ERROR_INVALID_ARGUMENT, false);
        if (!mig_model_supported(g->name))
                return end(NVML_ERROR_NOT_SUPPORTED, false);
        if (mode == NVML_DEVICE_MIG_DISABLE)
                for (unsigned i = 0; i < MAX_GIS; i++)
                        if (g->gi[i].used)
                                return end(NVML_ERROR_IN_USE, false);
        g->mig = mode;
        *activation = NVML_SUCCESS;
        return end(NVML_SUCCESS, true);
}

EXPORT nvmlReturn_t nvmlDeviceGetComputeMode(nvmlDevice_t device, nvmlComputeMode_t *mode) {
        nvmlReturn_t r = begin(false);
        const FakeGpu *g;

        if (r != NVML_SUCCESS)
                return r;
        g = gpu_of(device);
        if (!g || device->gi >= 0 || !mode)
                return end(NVML_ERROR_INVALID_ARGUMENT, false);
        *mode = (nvmlComputeMode_t) g->compute_mode;
        return end(NVML_SUCCESS, false);
}

EXPORT nvmlReturn_t nvmlDeviceSetComputeMode(nvmlDevice_t device, nvmlComputeMode_t mode) {
        nvmlReturn_t r = begin(true);
        FakeGpu *g;

        if (r != NVML_SUCCESS)
                return r;
        g = gpu_of(device);
        if (!g || device->gi >= 0 || (unsigned) mode >= NVML_COMPUTEMODE_COUNT)
                return end(NVML_ERROR_INVALID_ARGUMENT, false);
        g->compute_mode = (unsigned) mode;
        return end(NVML_SUCCESS, true);
}

static void fill_gi_profile(const FakeGpu *g, MigProfile p, nvmlGpuInstanceProfileInfo_t *info) {
        const MigProfileInfo *i = mig_profile_info(p);
        unsigned starts = 0;

        for (unsigned s = 0; s < MIG_MEMORY_SLICES; s++)
                starts += (i->starts >> s) & 1;
        *info = (nvmlGpuInstanceProfileInfo_t) {
                .id = gi_profiles[p].id,
                .sliceCount = i->compute,
                /* At most as many as fit side by side: placements that do not overlap. */
                .instanceCount =
                        starts < MIG_COMPUTE_SLICES / i->compute ? starts : MIG_COMPUTE_SLICES / i->compute,
                .multiprocessorCount = i->compute == 7 ? 132 : 16 * i->compute,
                .copyEngineCount = i->compute,
                .memorySizeMB = (g->memory_mib / MIG_MEMORY_SLICES) * i->slices,
        };
}

EXPORT nvmlReturn_t nvmlDeviceGetGpuInstanceProfileInfo(nvmlDevice_t device, unsigned int profile,
                                                        nvmlGpuInstanceProfileInfo_t *info) {
        nvmlReturn_t r = begin(false);
        const FakeGpu *g;

        if (r != NVML_SUCCESS)
                return r;
        g = gpu_of(device);
        if (!g || device->gi >= 0 || !info || profile >= NVML_GPU_INSTANCE_PROFILE_COUNT)
                return end(NVML_ERROR_INVALID_ARGUMENT, false);
        if (!mig_model_supported(g->name))
                return end(NVML_ERROR_NOT_SUPPORTED, false);
        for (int p = 0; p < _MIG_PROFILE_MAX; p++)
                if (gi_profiles[p].index == profile) {
                        fill_gi_profile(g, (MigProfile) p, info);
                        return end(NVML_SUCCESS, false);
                }
        return end(NVML_ERROR_NOT_SUPPORTED, false); /* a profile these GPUs do not have */
}

EXPORT nvmlReturn_t nvmlDeviceCreateGpuInstanceWithPlacement(nvmlDevice_t device, unsigned int profile_id,
                                                             const nvmlGpuInstancePlacement_t *placement,
                                                             nvmlGpuInstance_t *instance) {
        nvmlReturn_t r = begin(true);
        FakeGpu *g;
        MigProfile p;
        MigGpu m;
        int k, id = -1;

        if (r != NVML_SUCCESS)
                return r;
        g = gpu_of(device);
        p = profile_by_id(profile_id);
        if (!g || device->gi >= 0 || !placement || !instance || p < 0)
                return end(NVML_ERROR_INVALID_ARGUMENT, false);
        if (!mig_model_supported(g->name) || !g->mig)
                return end(NVML_ERROR_NOT_SUPPORTED, false);
        if (placement->size != mig_profile_info(p)->slices)
                return end(NVML_ERROR_INVALID_ARGUMENT, false);
        m = geometry(g);
        k = mig_check(&m, p, placement->start);
        if (k == -EINVAL)
                return end(NVML_ERROR_INVALID_ARGUMENT, false);
        if (k < 0)
                return end(NVML_ERROR_INSUFFICIENT_RESOURCES, false);
        for (int i = p == MIG_7G_80GB ? 0 : 1; i < MAX_GIS && id < 0; i++)
                if (!g->gi[i].used)
                        id = i;
        if (id < 0)
                return end(NVML_ERROR_INSUFFICIENT_RESOURCES, false);
        g->gi[id] = (FakeGi) { .used = true, .profile = p, .start = placement->start };
        gi_handles[device->gpu][id] = (struct nvmlGpuInstance_st) { .gpu = device->gpu, .gi = id };
        *instance = &gi_handles[device->gpu][id];
        return end(NVML_SUCCESS, true);
}

EXPORT nvmlReturn_t nvmlDeviceGetGpuInstances(nvmlDevice_t device, unsigned int profile_id,
                                              nvmlGpuInstance_t *instances, unsigned int *count) {
        nvmlReturn_t r = begin(false);
        const FakeGpu *g;
        MigProfile p;
        unsigned n = 0;

        if (r != NVML_SUCCESS)
                return r;
        g = gpu_of(device);
        p = profile_by_id(profile_id);
        if (!g || device->gi >= 0 || !instances || !count || p < 0)
                return end(NVML_ERROR_INVALID_ARGUMENT, false);
        if (!mig_model_supported(g->name) || !g->mig)
                return end(NVML_ERROR_NOT_SUPPORTED, false);
        for (int i = 0; i < MAX_GIS; i++)
                if (g->gi[i].used && g->gi[i].profile == p) {
                        gi_handles[device->gpu][i] =
                                (struct nvmlGpuInstance_st) { .gpu = device->gpu, .gi = i };
                        instances[n++] = &gi_handles[device->gpu][i];
                }
        *count = n;
        return end(NVML_SUCCESS, false);
}

EXPORT nvmlReturn_t nvmlDeviceGetGpuInstanceById(nvmlDevice_t device, unsigned int id,
                                                 nvmlGpuInstance_t *instance) {
        nvmlReturn_t r = begin(false);
        const FakeGpu *g;

        if (r != NVML_SUCCESS)
                return r;
        g = gpu_of(device);
        if (!g || device->gi >= 0 || !instance || id >= MAX_GIS)
                return end(NVML_ERROR_INVALID_ARGUMENT, false);
        if (!mig_model_supported(g->name) || !g->mig)
                return end(NVML_ERROR_NOT_SUPPORTED, false);
        if (!g->gi[id].used)
                return end(NVML_ERROR_NOT_FOUND, false);
        gi_handles[device->gpu][id] = (struct nvmlGpuInstance_st) { .gpu = device->gpu, .gi = (int) id };
        *instance = &gi_handles[device->gpu][id];
        return end(NVML_SUCCESS, false);
}

EXPORT nvmlReturn_t nvmlGpuInstanceGetInfo(nvmlGpuInstance_t instance, nvmlGpuInstanceInfo_t *info) {
        nvmlReturn_t r = begin(false);
        const FakeGi *gi;

        if (r != NVML_SUCCESS)
                return r;
        gi = gi_of(instance);
        if (!gi || !info)
                return end(NVML_ERROR_INVALID_ARGUMENT, false);
        dev_handles[instance->gpu] = (struct nvmlDevice_st) { .gpu = instance->gpu, .gi = -1, .ci = -1 };
        *info = (nvmlGpuInstanceInfo_t) {
                .device = &dev_handles[instance->gpu],
                .id = (unsigned) instance->gi,
                .profileId = gi_profiles[gi->profile].id,
                .placement = { .start = gi->start, .size = mig_profile_info(gi->profile)->slices },
        };
        return end(NVML_SUCCESS, false);
}

EXPORT nvmlReturn_t nvmlGpuInstanceDestroy(nvmlGpuInstance_t instance) {
        nvmlReturn_t r = begin(true);
        FakeGi *gi;

        if (r != NVML_SUCCESS)
                return r;
        gi = gi_of(instance);
        if (!gi)
                return end(NVML_ERROR_INVALID_ARGUMENT, false);
        if (gi_ci_used(gi) > 0)
                return end(NVML_ERROR_IN_USE, false); /* compute instances left on it */
        *gi = (FakeGi) {};
        return end(NVML_SUCCESS, true);
}

EXPORT nvmlReturn_t nvmlGpuInstanceGetComputeInstanceProfileInfo(nvmlGpuInstance_t instance,
                                                                 unsigned int profile,
                                                                 unsigned int eng_profile,
                                                                 nvmlComputeInstanceProfileInfo_t *info) {
        nvmlReturn_t r = begin(false);
        const FakeGi *gi;
        unsigned slices, compute;

        if (r != NVML_SUCCESS)
                return r;
        gi = gi_of(instance);
        if (!gi || !info || profile >= NVML_COMPUTE_INSTANCE_PROFILE_COUNT)
                return end(NVML_ERROR_INVALID_ARGUMENT, false);
        slices = ci_profile_slices[profile];
        compute = mig_profile_info(gi->profile)->compute;
        if (eng_profile != NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_SHARED || slices == 0 || slices > compute)
                return end(NVML_ERROR_NOT_SUPPORTED, false);
        *info = (nvmlComputeInstanceProfileInfo_t) {
                .id = profile,
                .sliceCount = slices,
                .instanceCount = compute / slices,
                .multiprocessorCount = slices == 7 ? 132 : 16 * slices,
                .sharedCopyEngineCount = compute,
        };
        return end(NVML_SUCCESS, false);
}

EXPORT nvmlReturn_t nvmlGpuInstanceCreateComputeInstance(nvmlGpuInstance_t instance, unsigned int profile_id,
                                                         nvmlComputeInstance_t *ci) {
        nvmlReturn_t r = begin(true);
        FakeGi *gi;
        unsigned slices;
        int id = -1;

        if (r != NVML_SUCCESS)
                return r;
        gi = gi_of(instance);
        if (!gi || !ci || profile_id >= NVML_COMPUTE_INSTANCE_PROFILE_COUNT ||
            !ci_profile_slices[profile_id])
                return end(NVML_ERROR_INVALID_ARGUMENT, false);
        slices = ci_profile_slices[profile_id];
        if (slices > mig_profile_info(gi->profile)->compute)
                return end(NVML_ERROR_NOT_SUPPORTED, false);
        if (gi_ci_used(gi) + slices > mig_profile_info(gi->profile)->compute)
                return end(NVML_ERROR_INSUFFICIENT_RESOURCES, false);
        for (int c = 0; c < MAX_CIS && id < 0; c++)
                if (!gi->ci_slices[c])
                        id = c;
        if (id < 0)
                return end(NVML_ERROR_INSUFFICIENT_RESOURCES, false);
        gi->ci_slices[id] = slices;
        ci_handles[instance->gpu][instance->gi][id] =
                (struct nvmlComputeInstance_st) { .gpu = instance->gpu, .gi = instance->gi, .ci = id };
        *ci = &ci_handles[instance->gpu][instance->gi][id];
        return end(NVML_SUCCESS, true);
}

EXPORT nvmlReturn_t nvmlGpuInstanceGetComputeInstances(nvmlGpuInstance_t instance, unsigned int profile_id,
                                                       nvmlComputeInstance_t *cis, unsigned int *count) {
        nvmlReturn_t r = begin(false);
        const FakeGi *gi;
        unsigned n = 0;

        if (r != NVML_SUCCESS)
                return r;
        gi = gi_of(instance);
        if (!gi || !cis || !count || profile_id >= NVML_COMPUTE_INSTANCE_PROFILE_COUNT)
                return end(NVML_ERROR_INVALID_ARGUMENT, false);
        for (int c = 0; c < MAX_CIS; c++)
                if (gi->ci_slices[c] && gi->ci_slices[c] == ci_profile_slices[profile_id]) {
                        ci_handles[instance->gpu][instance->gi][c] = (struct nvmlComputeInstance_st) {
                                .gpu = instance->gpu, .gi = instance->gi, .ci = c
                        };
                        cis[n++] = &ci_handles[instance->gpu][instance->gi][c];
                }
        *count = n;
        return end(NVML_SUCCESS, false);
}

EXPORT nvmlReturn_t nvmlGpuInstanceGetComputeInstanceById(nvmlGpuInstance_t instance, unsigned int id,
                                                          nvmlComputeInstance_t *ci) {
        nvmlReturn_t r = begin(false);
        const FakeGi *gi;

        if (r != NVML_SUCCESS)
                return r;
        gi = gi_of(instance);
        if (!gi || !ci || id >= MAX_CIS)
                return end(NVML_ERROR_INVALID_ARGUMENT, false);
        if (!gi->ci_slices[id])
                return end(NVML_ERROR_NOT_FOUND, false);
        ci_handles[instance->gpu][instance->gi][id] =
                (struct nvmlComputeInstance_st) { .gpu = instance->gpu, .gi = instance->gi, .ci = (int) id };
        *ci = &ci_handles[instance->gpu][instance->gi][id];
        return end(NVML_SUCCESS, false);
}

static FakeGi *ci_parent(nvmlComputeInstance_t ci) {
        struct nvmlGpuInstance_st h;
        FakeGi *gi;

        if (!ci || ci->ci < 0 || ci->ci >= MAX_CIS)
                return NULL;
        h = (struct nvmlGpuInstance_st) { .gpu = ci->gpu, .gi = ci->gi };
        gi = gi_of(&h);
        return gi && gi->ci_slices[ci->ci] ? gi : NULL;
}

EXPORT nvmlReturn_t nvmlComputeInstanceGetInfo_v2(nvmlComputeInstance_t ci,
                                                  nvmlComputeInstanceInfo_t *info) {
        nvmlReturn_t r = begin(false);
        const FakeGi *gi;

        if (r != NVML_SUCCESS)
                return r;
        gi = ci_parent(ci);
        if (!gi || !info)
                return end(NVML_ERROR_INVALID_ARGUMENT, false);
        dev_handles[ci->gpu] = (struct nvmlDevice_st) { .gpu = ci->gpu, .gi = -1, .ci = -1 };
        gi_handles[ci->gpu][ci->gi] = (struct nvmlGpuInstance_st) { .gpu = ci->gpu, .gi = ci->gi };
        *info = (nvmlComputeInstanceInfo_t) {
                .device = &dev_handles[ci->gpu],
                .gpuInstance = &gi_handles[ci->gpu][ci->gi],
                .id = (unsigned) ci->ci,
                .profileId = (unsigned) ci_profile_of_slices(gi->ci_slices[ci->ci]),
                .placement = { .start = 0, .size = gi->ci_slices[ci->ci] },
        };
        return end(NVML_SUCCESS, false);
}

EXPORT nvmlReturn_t nvmlComputeInstanceDestroy(nvmlComputeInstance_t ci) {
        nvmlReturn_t r = begin(true);
        FakeGi *gi;

        if (r != NVML_SUCCESS)
                return r;
        gi = ci_parent(ci);
        if (!gi)
                return end(NVML_ERROR_INVALID_ARGUMENT, false);
        gi->ci_slices[ci->ci] = 0;
        return end(NVML_SUCCESS, true);
}

EXPORT nvmlReturn_t nvmlDeviceGetMaxMigDeviceCount(nvmlDevice_t device, unsigned int *count) {
        nvmlReturn_t r = begin(false);
        const FakeGpu *g;

        if (r != NVML_SUCCESS)
                return r;
        g = gpu_of(device);
        if (!g || device->gi >= 0 || !count)
                return end(NVML_ERROR_INVALID_ARGUMENT, false);
        if (!mig_model_supported(g->name))
                return end(NVML_ERROR_NOT_SUPPORTED, false);
        *count = MIG_COMPUTE_SLICES;
        return end(NVML_SUCCESS, false);
}

/* MIG devices by index: the compute instances in (GI id, CI id) order. */
EXPORT nvmlReturn_t nvmlDeviceGetMigDeviceHandleByIndex(nvmlDevice_t device, unsigned int index,
                                                        nvmlDevice_t *mig) {
        nvmlReturn_t r = begin(false);
        const FakeGpu *g;
        unsigned n = 0;

        if (r != NVML_SUCCESS)
                return r;
        g = gpu_of(device);
        if (!g || device->gi >= 0 || !mig || index >= MIG_COMPUTE_SLICES)
                return end(NVML_ERROR_INVALID_ARGUMENT, false);
        if (!mig_model_supported(g->name) || !g->mig)
                return end(NVML_ERROR_NOT_SUPPORTED, false);
        for (int i = 0; i < MAX_GIS; i++)
                for (int c = 0; g->gi[i].used && c < MAX_CIS; c++)
                        if (g->gi[i].ci_slices[c] && n++ == index) {
                                mig_handles[device->gpu][i][c] =
                                        (struct nvmlDevice_st) { .gpu = device->gpu, .gi = i, .ci = c };
                                *mig = &mig_handles[device->gpu][i][c];
                                return end(NVML_SUCCESS, false);
                        }
        return end(NVML_ERROR_NOT_FOUND, false);
}

EXPORT nvmlReturn_t nvmlDeviceGetGpuInstanceId(nvmlDevice_t device, unsigned int *id) {
        nvmlReturn_t r = begin(false);

        if (r != NVML_SUCCESS)
                return r;
        if (!gpu_of(device) || !id)
                return end(NVML_ERROR_INVALID_ARGUMENT, false);
        if (device->gi < 0)
                return end(NVML_ERROR_NOT_SUPPORTED, false); /* not a MIG device */
        if (!mig_handle_valid(device))
                return end(NVML_ERROR_INVALID_ARGUMENT, false);
        *id = (unsigned) device->gi;
        return end(NVML_SUCCESS, false);
}

EXPORT nvmlReturn_t nvmlDeviceGetComputeInstanceId(nvmlDevice_t device, unsigned int *id) {
        nvmlReturn_t r = begin(false);

        if (r != NVML_SUCCESS)
                return r;
        if (!gpu_of(device) || !id)
                return end(NVML_ERROR_INVALID_ARGUMENT, false);
        if (device->gi < 0)
                return end(NVML_ERROR_NOT_SUPPORTED, false);
        if (!mig_handle_valid(device))
                return end(NVML_ERROR_INVALID_ARGUMENT, false);
        *id = (unsigned) device->ci;
        return end(NVML_SUCCESS, false);
}

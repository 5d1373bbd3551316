#pragma once

/* The part of NVIDIA's NVML C API that Ark calls, declared from NVIDIA's public API reference
 * (NVML API Reference Guide: "Device Queries", "Multi Instance GPU Management", "Error
 * reporting"), not copied from nvml.h. Types, values and struct layouts are those of the real
 * library's ABI (libnvidia-ml.so.1, API version 11+): appliance/hw/nvml.c loads the library with
 * dlopen and calls these through function pointers, and tests/fake-nvml/ implements them. Only
 * what Ark uses is here. */

typedef struct nvmlDevice_st *nvmlDevice_t;
typedef struct nvmlGpuInstance_st *nvmlGpuInstance_t;
typedef struct nvmlComputeInstance_st *nvmlComputeInstance_t;

typedef enum nvmlReturn_enum {
        NVML_SUCCESS = 0,
        NVML_ERROR_UNINITIALIZED = 1,
        NVML_ERROR_INVALID_ARGUMENT = 2,
        NVML_ERROR_NOT_SUPPORTED = 3,
        NVML_ERROR_NO_PERMISSION = 4,
        NVML_ERROR_ALREADY_INITIALIZED = 5,
        NVML_ERROR_NOT_FOUND = 6,
        NVML_ERROR_INSUFFICIENT_SIZE = 7,
        NVML_ERROR_INSUFFICIENT_POWER = 8,
        NVML_ERROR_DRIVER_NOT_LOADED = 9,
        NVML_ERROR_TIMEOUT = 10,
        NVML_ERROR_IRQ_ISSUE = 11,
        NVML_ERROR_LIBRARY_NOT_FOUND = 12,
        NVML_ERROR_FUNCTION_NOT_FOUND = 13,
        NVML_ERROR_CORRUPTED_INFOROM = 14,
        NVML_ERROR_GPU_IS_LOST = 15,
        NVML_ERROR_RESET_REQUIRED = 16,
        NVML_ERROR_OPERATING_SYSTEM = 17,
        NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18,
        NVML_ERROR_IN_USE = 19,
        NVML_ERROR_MEMORY = 20,
        NVML_ERROR_NO_DATA = 21,
        NVML_ERROR_VGPU_ECC_NOT_SUPPORTED = 22,
        NVML_ERROR_INSUFFICIENT_RESOURCES = 23,
        NVML_ERROR_FREQ_NOT_SUPPORTED = 24,
        NVML_ERROR_ARGUMENT_VERSION_MISMATCH = 25,
        NVML_ERROR_DEPRECATED = 26,
        NVML_ERROR_NOT_READY = 27,
        NVML_ERROR_GPU_NOT_FOUND = 28,
        NVML_ERROR_INVALID_STATE = 29,
        NVML_ERROR_UNKNOWN = 999,
} nvmlReturn_t;

/* Buffer sizes the reference guarantees to be large enough. */
#define NVML_DEVICE_UUID_V2_BUFFER_SIZE 96
#define NVML_DEVICE_NAME_V2_BUFFER_SIZE 96

#define NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE 32
#define NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE 16

/* busId: "domain:bus:device.function" in hex, the domain of 8 digits ("00000000:18:00.0"). */
typedef struct nvmlPciInfo_st {
        char busIdLegacy[NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE];
        unsigned int domain;
        unsigned int bus;
        unsigned int device;
        unsigned int pciDeviceId;    /* device id << 16 | vendor id */
        unsigned int pciSubSystemId; /* subsystem device << 16 | subsystem vendor */
        char busId[NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE];
} nvmlPciInfo_t;

typedef struct nvmlMemory_st {
        unsigned long long total, free, used; /* bytes */
} nvmlMemory_t;

typedef enum nvmlComputeMode_enum {
        NVML_COMPUTEMODE_DEFAULT = 0,
        NVML_COMPUTEMODE_EXCLUSIVE_THREAD = 1, /* deprecated */
        NVML_COMPUTEMODE_PROHIBITED = 2,
        NVML_COMPUTEMODE_EXCLUSIVE_PROCESS = 3,
        NVML_COMPUTEMODE_COUNT,
} nvmlComputeMode_t;

#define NVML_DEVICE_MIG_DISABLE 0x0
#define NVML_DEVICE_MIG_ENABLE 0x1

/* GPU instance profiles, the `profile` argument of nvmlDeviceGetGpuInstanceProfileInfo(); the
 * profile's `id` it returns is what creation and listing take. REV2 of the 1-slice profile is
 * the one with two memory slices (1g.20gb on an 80 GB GPU). */
#define NVML_GPU_INSTANCE_PROFILE_1_SLICE 0x0
#define NVML_GPU_INSTANCE_PROFILE_2_SLICE 0x1
#define NVML_GPU_INSTANCE_PROFILE_3_SLICE 0x2
#define NVML_GPU_INSTANCE_PROFILE_4_SLICE 0x3
#define NVML_GPU_INSTANCE_PROFILE_7_SLICE 0x4
#define NVML_GPU_INSTANCE_PROFILE_8_SLICE 0x5
#define NVML_GPU_INSTANCE_PROFILE_6_SLICE 0x6
#define NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV1 0x7
#define NVML_GPU_INSTANCE_PROFILE_2_SLICE_REV1 0x8
#define NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV2 0x9
#define NVML_GPU_INSTANCE_PROFILE_COUNT 0xA

/* Compute instance profiles (by compute slices) and the engine profile. */
#define NVML_COMPUTE_INSTANCE_PROFILE_1_SLICE 0x0
#define NVML_COMPUTE_INSTANCE_PROFILE_2_SLICE 0x1
#define NVML_COMPUTE_INSTANCE_PROFILE_3_SLICE 0x2
#define NVML_COMPUTE_INSTANCE_PROFILE_4_SLICE 0x3
#define NVML_COMPUTE_INSTANCE_PROFILE_7_SLICE 0x4
#define NVML_COMPUTE_INSTANCE_PROFILE_8_SLICE 0x5
#define NVML_COMPUTE_INSTANCE_PROFILE_6_SLICE 0x6
#define NVML_COMPUTE_INSTANCE_PROFILE_COUNT 0x8
#define NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_SHARED 0x0

/* A placement: a run of memory slices (GPU instance) or compute slices (compute instance). */
typedef struct nvmlGpuInstancePlacement_st {
        unsigned int start, size;
} nvmlGpuInstancePlacement_t;

typedef struct nvmlComputeInstancePlacement_st {
        unsigned int start, size;
} nvmlComputeInstancePlacement_t;

typedef struct nvmlGpuInstanceProfileInfo_st {
        unsigned int id;
        unsigned int isP2pSupported;
        unsigned int sliceCount;
        unsigned int instanceCount;
        unsigned int multiprocessorCount;
        unsigned int copyEngineCount;
        unsigned int decoderCount;
        unsigned int encoderCount;
        unsigned int jpegCount;
        unsigned int ofaCount;
        unsigned long long memorySizeMB;
} nvmlGpuInstanceProfileInfo_t;

typedef struct nvmlGpuInstanceInfo_st {
        nvmlDevice_t device;
        unsigned int id;
        unsigned int profileId;
        nvmlGpuInstancePlacement_t placement;
} nvmlGpuInstanceInfo_t;

typedef struct nvmlComputeInstanceProfileInfo_st {
        unsigned int id;
        unsigned int sliceCount;
        unsigned int instanceCount;
        unsigned int multiprocessorCount;
        unsigned int sharedCopyEngineCount;
        unsigned int sharedDecoderCount;
        unsigned int sharedEncoderCount;
        unsigned int sharedJpegCount;
        unsigned int sharedOfaCount;
} nvmlComputeInstanceProfileInfo_t;

typedef struct nvmlComputeInstanceInfo_st {
        nvmlDevice_t device;
        nvmlGpuInstance_t gpuInstance;
        unsigned int id;
        unsigned int profileId;
        nvmlComputeInstancePlacement_t placement;
} nvmlComputeInstanceInfo_t;

/* The entry points, as function types: the wrapper resolves each by name with dlsym(). */
typedef nvmlReturn_t nvmlInit_v2_fn(void);
typedef nvmlReturn_t nvmlShutdown_fn(void);
typedef const char *nvmlErrorString_fn(nvmlReturn_t result);
typedef nvmlReturn_t nvmlDeviceGetCount_v2_fn(unsigned int *deviceCount);
typedef nvmlReturn_t nvmlDeviceGetHandleByIndex_v2_fn(unsigned int index, nvmlDevice_t *device);
typedef nvmlReturn_t nvmlDeviceGetHandleByPciBusId_v2_fn(const char *pciBusId, nvmlDevice_t *device);
typedef nvmlReturn_t nvmlDeviceGetUUID_fn(nvmlDevice_t device, char *uuid, unsigned int length);
typedef nvmlReturn_t nvmlDeviceGetName_fn(nvmlDevice_t device, char *name, unsigned int length);
typedef nvmlReturn_t nvmlDeviceGetPciInfo_v3_fn(nvmlDevice_t device, nvmlPciInfo_t *pci);
typedef nvmlReturn_t nvmlDeviceGetMemoryInfo_fn(nvmlDevice_t device, nvmlMemory_t *memory);
typedef nvmlReturn_t nvmlDeviceGetMigMode_fn(nvmlDevice_t device, unsigned int *currentMode,
                                             unsigned int *pendingMode);
typedef nvmlReturn_t nvmlDeviceSetMigMode_fn(nvmlDevice_t device, unsigned int mode,
                                             nvmlReturn_t *activationStatus);
typedef nvmlReturn_t nvmlDeviceGetComputeMode_fn(nvmlDevice_t device, nvmlComputeMode_t *mode);
typedef nvmlReturn_t nvmlDeviceSetComputeMode_fn(nvmlDevice_t device, nvmlComputeMode_t mode);
typedef nvmlReturn_t nvmlDeviceGetGpuInstanceProfileInfo_fn(nvmlDevice_t device, unsigned int profile,
                                                            nvmlGpuInstanceProfileInfo_t *info);
typedef nvmlReturn_t nvmlDeviceCreateGpuInstanceWithPlacement_fn(nvmlDevice_t device, unsigned int profileId,
                                                                 const nvmlGpuInstancePlacement_t *placement,
                                                                 nvmlGpuInstance_t *gpuInstance);
typedef nvmlReturn_t nvmlDeviceGetGpuInstances_fn(nvmlDevice_t device, unsigned int profileId,
                                                  nvmlGpuInstance_t *gpuInstances, unsigned int *count);
typedef nvmlReturn_t nvmlDeviceGetGpuInstanceById_fn(nvmlDevice_t device, unsigned int id,
                                                     nvmlGpuInstance_t *gpuInstance);
typedef nvmlReturn_t nvmlGpuInstanceGetInfo_fn(nvmlGpuInstance_t gpuInstance, nvmlGpuInstanceInfo_t *info);
typedef nvmlReturn_t nvmlGpuInstanceDestroy_fn(nvmlGpuInstance_t gpuInstance);
typedef nvmlReturn_t nvmlGpuInstanceGetComputeInstanceProfileInfo_fn(nvmlGpuInstance_t gpuInstance,
                                                                     unsigned int profile,
                                                                     unsigned int engProfile,
                                                                     nvmlComputeInstanceProfileInfo_t *info);
typedef nvmlReturn_t nvmlGpuInstanceCreateComputeInstance_fn(nvmlGpuInstance_t gpuInstance,
                                                             unsigned int profileId,
                                                             nvmlComputeInstance_t *computeInstance);
typedef nvmlReturn_t nvmlGpuInstanceGetComputeInstances_fn(nvmlGpuInstance_t gpuInstance,
                                                           unsigned int profileId,
                                                           nvmlComputeInstance_t *computeInstances,
                                                           unsigned int *count);
typedef nvmlReturn_t nvmlGpuInstanceGetComputeInstanceById_fn(nvmlGpuInstance_t gpuInstance, unsigned int id,
                                                              nvmlComputeInstance_t *computeInstance);
typedef nvmlReturn_t nvmlComputeInstanceGetInfo_v2_fn(nvmlComputeInstance_t computeInstance,
                                                      nvmlComputeInstanceInfo_t *info);
typedef nvmlReturn_t nvmlComputeInstanceDestroy_fn(nvmlComputeInstance_t computeInstance);
typedef nvmlReturn_t nvmlDeviceGetMaxMigDeviceCount_fn(nvmlDevice_t device, unsigned int *count);
typedef nvmlReturn_t nvmlDeviceGetMigDeviceHandleByIndex_fn(nvmlDevice_t device, unsigned int index,
                                                            nvmlDevice_t *migDevice);
typedef nvmlReturn_t nvmlDeviceGetGpuInstanceId_fn(nvmlDevice_t device, unsigned int *id);
typedef nvmlReturn_t nvmlDeviceGetComputeInstanceId_fn(nvmlDevice_t device, unsigned int *id);

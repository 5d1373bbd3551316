#pragma once

/* Container Device Interface specs (github.com/cncf-tags/container-device-interface, SPEC.md) for
 * the partitions arkd hands to containers, and the edits they make to an OCI runtime config.
 *
 * Writing: cdi_spec_build() describes whole NVIDIA GPUs, MIG instances, MPS shares (kind
 * "nvidia.com/gpu") or Ascend NPUs ("huawei.com/npu") in CDI 0.6.0 JSON. Device numbers come from
 * stat() of the nodes under a device root ("/dev" on a host, a directory of mknod'ed nodes in
 * tests); which nodes from the NVIDIA driver's files under a proc root:
 *   /proc/driver/nvidia/gpus/<pci>/information  "Device Minor: N"  -> /dev/nvidiaN
 *   /proc/driver/nvidia-caps/mig-minors          "gpuN/giG/access M", "gpuN/giG/ciC/access M"
 *                                                -> /dev/nvidia-caps/nvidia-capM
 *
 * Reading: a spec comes back from disk, so cdi_spec_parse() / cdi_spec_validate() check it
 * strictly and refuse, with a sentence naming the field, anything malformed, unknown, or that Ark
 * does not allow: hooks (a spec must not make the runtime run a program as root), intelRdt,
 * netDevices, additionalGids, device nodes other than character and block devices or without
 * type, major and minor (looking them up when applying would race with the node), device paths
 * outside /dev, relative or '..' paths, unknown fields, duplicate keys or device names, mounts of
 * a type other than "bind" or with options other than ro, rw, bind, rbind, nosuid, nodev and
 * noexec (a mount is a bind of a host path, nothing else).
 *
 * Applying: cdi_edits_collect() merges the edits of named devices into plain lists (CdiEdits) for
 * a caller that builds its own config; cdi_apply() merges the same edits into an OCI config:
 * linux.devices, linux.resources.devices allow rules ("rwm" by type, major and minor), mounts and
 * env. Both merge alike (see cdi_edits_collect()).
 *
 * jansson only; nothing here logs. */

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define CDI_VERSION "0.6.0"
#define CDI_KIND_NVIDIA "nvidia.com/gpu"
#define CDI_KIND_ASCEND "huawei.com/npu"
#define CDI_SPEC_MAX_BYTES (1024 * 1024)
/* Where a share's MPS pipe directory appears in the container (CUDA_MPS_PIPE_DIRECTORY). */
#define CDI_MPS_PIPE_DIR "/run/nvidia-mps"

typedef enum CdiPartitionType {
        CDI_NVIDIA_GPU,   /* a whole GPU */
        CDI_NVIDIA_MIG,   /* a MIG instance (GPU instance + compute instance) */
        CDI_NVIDIA_SHARE, /* an MPS client of the GPU's MPS server */
        CDI_ASCEND_NPU,   /* a whole Ascend NPU */
        _CDI_PARTITION_TYPE_MAX,
        _CDI_PARTITION_TYPE_INVALID = -22,
} CdiPartitionType;

typedef struct CdiPartition {
        CdiPartitionType type;
        const char *name;         /* the CDI device name: [A-Za-z0-9][A-Za-z0-9_.-]*, unique in the spec */
        const char *address;      /* NVIDIA: PCI address of the GPU (the MIG instance's or share's GPU) */
        const char *uuid;         /* NVIDIA: "GPU-..." (GPU, share) or "MIG-..." (MIG instance) */
        unsigned gi, ci;          /* MIG: GPU-instance and compute-instance ids */
        const char *mps_pipe_dir; /* share: the host directory of the GPU's MPS control daemon */
        const char
                *mps_shm_dir; /* share: the host tmpfs the GPU's MPS server and clients share as /dev/shm */
        unsigned npu;         /* Ascend: the NPU's index (/dev/davinciN) */
} CdiPartition;

/* Where device nodes and the driver's /proc files are: "/dev" and "/" on a host. */
typedef struct CdiRoots {
        const char *dev;
        const char *proc; /* the directory holding proc/driver/... */
} CdiRoots;

/* A CDI spec (a new json object, caller unrefs) for the partitions, all of one vendor: the kind is
 * CDI_KIND_NVIDIA or CDI_KIND_ASCEND by the first. Each device's edits hold its own nodes (a GPU's
 * /dev/nvidiaN; a MIG instance's GPU node and nvidia-caps access files; an NPU's /dev/davinciN),
 * its NVIDIA_VISIBLE_DEVICES or ASCEND_VISIBLE_DEVICES, and for a share CUDA_MPS_PIPE_DIRECTORY
 * with bind mounts of the MPS pipe directory and /dev/shm. The driver's shared nodes (nvidiactl,
 * nvidia-uvm, nvidia-uvm-tools, nvidia-modeset; davinci_manager, devmm_svm, hisi_hdc) go into the
 * spec's own edits, those that exist under the device root (nvidiactl and davinci_manager must). -EINVAL
 * with a sentence for a bad partition or a mix of vendors, -ENOENT when a node or a driver file is
 * missing, -ENODEV when a node is not a character device. */
int cdi_spec_build(const CdiPartition *parts, size_t n, const CdiRoots *roots, json_t **ret,
                   char **ret_error);

/* The UUID ("GPU-...") of the NVIDIA GPU at `address`, from the driver's information file under
 * roots->proc ("GPU UUID:"), newly allocated. -ENOENT (or another -errno) with a sentence when the
 * driver does not list it, -EIO when the file gives none. */
int cdi_nvidia_uuid(const CdiRoots *roots, const char *address, char **ret, char **ret_error);

/* Writes a spec to path atomically (a temporary file renamed), mode 0644. */
int cdi_spec_write(const json_t *spec, const char *path);

/* Checks a spec against the CDI format and Ark's rules (see the top). 0, or -EINVAL with a
 * sentence naming the field ("devices[1].containerEdits.deviceNodes[0].major"). */
int cdi_spec_validate(const json_t *spec, char **ret_error);
/* Parses untrusted bytes (at most CDI_SPEC_MAX_BYTES) and validates them. -EINVAL with a sentence,
 * -E2BIG when too large, -ENOMEM. *ret is written only on success. */
int cdi_spec_parse(const char *data, size_t size, json_t **ret, char **ret_error);
/* Reads and parses a spec file. */
int cdi_spec_load(const char *path, json_t **ret, char **ret_error);

/* A device node to give: its host node is host_path (the spec's hostPath, or path when it has
 * none), which appears at path inside. type 'c' or 'b', the numbers as the spec gives them;
 * access the spec's permissions ("rwm" when it has none), for the device cgroup. */
typedef struct CdiNode {
        char *path;
        char *host_path;
        char type;
        unsigned major, minor;
        char access[4];
} CdiNode;

/* A bind mount of host_path at container_path; readonly when the spec's options have "ro",
 * noexec when they have "noexec" (nosuid and nodev are for the caller to add always). */
typedef struct CdiMount {
        char *host_path;
        char *container_path;
        bool readonly;
        bool noexec;
} CdiMount;

/* The merged edits of some devices, all owned (cdi_edits_done() frees them). */
typedef struct CdiEdits {
        char **env; /* NULL-terminated "NAME=value", each name once; NULL when none */
        CdiNode *nodes;
        size_t n_nodes;
        CdiMount *mounts;
        size_t n_mounts;
} CdiEdits;

/* Merges the spec's own containerEdits and those of each named device (NULL-terminated names,
 * without the kind: "gpu0"), in that order, into *ret: a variable replaces an earlier one of the
 * same name, except NVIDIA_VISIBLE_DEVICES and ASCEND_VISIBLE_DEVICES, whose values are joined
 * with ',' in the first one's place ("GPU-a,GPU-b"); a device node replaces an earlier one of the
 * same path, a mount one of the same containerPath (the later one at the end). No names: empty
 * edits (not even the spec's own). The spec is validated first. -EINVAL with a sentence for a
 * spec that does not validate, -ENOENT with a sentence for a name the spec lacks, -ENOMEM. *ret
 * is written only on success. */
int cdi_edits_collect(const json_t *spec, const char *const *names, CdiEdits *ret, char **ret_error);
/* Frees what e holds and zeroes it; an all-zero e is fine. */
void cdi_edits_done(CdiEdits *e);

/* Applies the edits cdi_edits_collect() merges for the names to an OCI runtime config: each
 * variable replaces the config's of the same name (so NVIDIA_VISIBLE_DEVICES names this apply's
 * devices, not what the image had), each device node one of the same path in linux.devices and
 * gets an allow rule in linux.resources.devices (its permissions, "rwm" when none), each mount
 * replaces one of the same destination (type and options as the spec has them, ["bind"] when
 * none). No names: the config is left as it is. -ENOENT with a sentence for a name the spec lacks
 * (nothing edited then), -EINVAL for a spec that does not validate or a config whose process,
 * env, linux, devices or mounts have the wrong JSON type. On failure the config may be partly
 * edited: apply to a copy when that matters.
 *
 * With a user namespace, where the runtime bind-mounts each node instead of making it, the
 * runtime takes the node from its container path on the host: a hostPath that differs is lost
 * here; build such configs from cdi_edits_collect(). */
int cdi_apply(json_t *config, const json_t *spec, const char *const *names, char **ret_error);

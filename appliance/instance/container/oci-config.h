#pragma once

/* The OCI runtime configuration (config.json) of one container, built from a plain spec.
 *
 * What every container gets, whatever the spec says:
 *   - a user namespace mapping container IDs 0..id_count-1 to host IDs base..base+id_count-1, and
 *     new pid, ipc, uts, mount and cgroup namespaces; the network namespace is new or the one at
 *     netns_path (never the host's);
 *   - the default non-privileged capability set (no CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_SYS_MODULE,
 *     CAP_SYS_PTRACE, CAP_NET_RAW, CAP_MKNOD, ...), nothing ambient, noNewPrivileges;
 *   - Ark's default seccomp profile (oci_seccomp_denied below): everything allowed but the calls
 *     that reach past the container (kernel modules, kexec, mounts, keyrings, bpf, perf, clocks,
 *     swap, reboot, new user namespaces, io_uring), which fail with EPERM;
 *   - the masked and read-only /proc and /sys paths other runtimes mask;
 *   - the device cgroup denying everything but null, zero, full, random, urandom, tty, ptmx and
 *     the pts, plus the spec's devices;
 *   - memory+swap equal to memory, so a container over its memory is OOM-killed, not swapped.
 *
 * Nothing here logs. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct json_t;

struct CdiEdits;

/* A device node given to the container: the host node is bind-mounted at `path` (crun cannot
 * mknod inside a user namespace) and the device cgroup allows it (access, by default read, write,
 * mknod). */
typedef struct OciDevice {
        const char *host_path; /* the node on the host */
        const char *path;      /* where it appears inside, e.g. /dev/nvidia0 */
        char type;             /* 'c' or 'b' */
        unsigned major, minor;
        const char *access; /* the cgroup rule's access, some of "rwm"; NULL: "rwm" */
} OciDevice;

/* A bind mount of a host path (a model directory, a CDI library), always nosuid and nodev. */
typedef struct OciMount {
        const char *source;
        const char *destination;
        bool readonly;
        bool noexec;
} OciMount;

typedef struct OciSpec {
        char *const *args; /* NULL-terminated, at least one */
        char *const *env;  /* NULL-terminated "K=V", may be NULL (PATH and TERM are added when absent) */
        const char *cwd;   /* NULL: "/" */
        uid_t uid;         /* inside the container */
        gid_t gid;
        const char *hostname; /* NULL: none set */
        const char *rootfs;   /* NULL: "rootfs" (relative to the bundle) */

        uid_t host_uid_base; /* container 0 is this host UID; must not be 0 */
        gid_t host_gid_base;
        uint32_t id_count; /* IDs mapped, at least 1 (65536 usual) */

        uint64_t cpu_milli;    /* 0: no CPU limit; 1000 = one CPU (quota over a 100 ms period) */
        uint64_t memory_bytes; /* 0: no memory limit */
        int64_t pids_max;      /* 0: no pids limit */

        const char *netns_path;   /* NULL: a new network namespace */
        const char *cgroups_path; /* linux.cgroupsPath; NULL: left to crun */

        const OciDevice *devices;
        size_t n_devices;
        const OciMount *mounts;
        size_t n_mounts;
} OciSpec;

/* The syscalls Ark's default seccomp profile refuses with EPERM (NULL-terminated). unshare and
 * clone are refused only with CLONE_NEWUSER, and clone3 with ENOSYS (its flags are in memory,
 * where seccomp cannot look), so libc falls back to clone. */
extern const char *const oci_seccomp_denied[];

/* The capabilities a container's processes may hold (NULL-terminated). */
extern const char *const oci_default_capabilities[];

/* Builds the config. Returns 0 with *ret a new JSON object (caller json_decref()s it), -EINVAL
 * when the spec is incomplete (no args, an ID base of 0 or a count of 0, a relative path, a device
 * type other than 'c'/'b'), -ENOMEM. */
int oci_config_build(const OciSpec *spec, struct json_t **ret);

/* Builds the config and writes it to path atomically (mode 0644: it holds no secret). 0 or a negative errno. */
int oci_config_write(const OciSpec *spec, const char *path);

/* Fills *ret from the node at host_path (its type, major and minor) to appear at path (both kept
 * as pointers, not copied). -ENODEV when it is not a character or block device, -errno of stat. */
int oci_device_from_node(const char *host_path, const char *path, OciDevice *ret);

/* The arrays oci_spec_add_cdi() makes for an OciSpec, which then points into them. They point in
 * turn at the strings of the spec's earlier arrays and of the CdiEdits: all of those must outlive
 * the spec's use. */
typedef struct OciSpecExtra {
        OciDevice *devices;
        OciMount *mounts;
        char **env; /* the array only; its strings are borrowed */
} OciSpecExtra;

/* Frees the arrays and zeroes *x (an all-zero one is fine). */
void oci_spec_extra_done(OciSpecExtra *x);

/* Adds CDI edits (cdi_edits_collect()) to spec: each node becomes a device whose host node is its
 * host_path, bind-mounted at its path, and replaces a device of the same path; each mount a bind
 * mount replacing one of the same destination; the variables come after the spec's, and one
 * drops the spec's variable of the same name (the image's NVIDIA_VISIBLE_DEVICES must not
 * survive). The spec on disk may be stale: each node's type, major and minor are checked against
 * a stat() of its host node now. storage must be all zero; spec's devices, mounts and env then
 * point into it (free it with oci_spec_extra_done() once the config is built). 0, -ENOENT (or
 * another -errno of stat) with a sentence for a host node that is missing, -ENODEV for one that
 * is no device node, -ESTALE for one whose type or numbers differ from the spec's, -EINVAL for
 * storage in use, -ENOMEM. On failure spec is unchanged and storage zero. */
int oci_spec_add_cdi(OciSpec *spec, const struct CdiEdits *e, OciSpecExtra *storage, char **ret_error);

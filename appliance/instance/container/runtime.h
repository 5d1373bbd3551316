#pragma once

/* Containers run by crun under conmon, one conmon per container: conmon is crun's parent and the
 * container's monitor, it keeps the log and writes the exit code, and it is nobody's child of
 * ours (it double-forks), so a container outlives the process that started it, kill -9 included.
 * All the state is in files; a fresh Runtime finds a container again from its id alone
 * (runtime_state), running or ended while nobody watched.
 *
 * Layout, for container ID under base_dir:
 *   <base>/<id>/config.json      the OCI config (oci-config.h)
 *   <base>/<id>/rootfs           the overlay's mount point (rootfs.h)
 *   <base>/<id>/fs/              upper and work layers
 *   <base>/<id>/ctr.log          conmon's log, k8s-file format
 *   <base>/<id>/exits/<id>       the exit code, written by conmon when the container ends
 *   <base>/<id>/persist/oom      written by conmon when the kernel OOM-killed a process of it
 *   <base>/<id>/conmon.pid, pid  conmon's and the container's init PIDs
 * and crun's own state under state_root (crun --root).
 *
 * cgroups: pure v2 (the appliance, systemd) runs crun as is, with the systemd cgroup manager when
 * systemd is PID 1; v1 runs with cgroupfs. Hybrid (v1 controllers and a v2 mount at
 * /sys/fs/cgroup/unified, this development host) makes crun refuse; there every crun and conmon
 * runs in a private mount namespace with the v2 mount hidden, where crun takes cgroup v1
 * (ARCHITECTURE.md, "Machine facts"). The mode is found once, in runtime_new().
 *
 * Nothing here logs; failures come back as a negative errno and, where a user needs it, a
 * sentence (crun's own message when crun failed). Not thread-safe: one Runtime per thread. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "oci-config.h"

typedef struct RuntimeConfig {
        const char *crun;          /* NULL: /usr/bin/crun */
        const char *conmon;        /* NULL: /usr/bin/conmon */
        const char *state_root;    /* crun --root; NULL: <base_dir>/.crun */
        const char *base_dir;      /* required, absolute */
        const char *cgroup_parent; /* NULL: "ark" (cgroupfs: /ark/<id>; systemd: ark.slice) */
} RuntimeConfig;

typedef enum CgroupMode {
        CGROUP_MODE_LEGACY,  /* v1 only */
        CGROUP_MODE_HYBRID,  /* v1 controllers plus /sys/fs/cgroup/unified */
        CGROUP_MODE_UNIFIED, /* v2 only */
        _CGROUP_MODE_MAX,
        _CGROUP_MODE_INVALID = -EINVAL,
} CgroupMode;

typedef struct Runtime Runtime;

/* Copies the config and finds the cgroup mode. -EINVAL without an absolute base_dir, -ENOENT
 * when crun or conmon is not there (the caller says so), -ENOMEM. Creates base_dir (0711). */
int runtime_new(const RuntimeConfig *config, Runtime **ret);
Runtime *runtime_free(Runtime *rt);
CgroupMode runtime_cgroup_mode(const Runtime *rt);
/* "cgroupfs" or "systemd". */
const char *runtime_cgroup_manager(const Runtime *rt);

typedef struct ContainerSpec {
        OciSpec oci;         /* rootfs and cgroups_path are set by the runtime */
        char *const *layers; /* the image's layer directories, lowest first */
} ContainerSpec;

/* Makes the bundle of container id: its directory, the root filesystem mounted, config.json.
 * Idempotent: an existing mount is kept and the config rewritten (so a prepared but stopped
 * container can be given a new config). -EINVAL (an id that is not [A-Za-z0-9_.-]{1,64}, a bad
 * spec), -EBUSY when the container is running, and rootfs_mount()'s errors, each with a sentence. */
int runtime_prepare(Runtime *rt, const char *id, const ContainerSpec *spec, char **ret_error);

/* Starts a prepared container: conmon runs `crun create`, then `crun start`. Returns when the
 * container runs (0), or a negative errno with crun's message in *ret_error: -ENOENT when not
 * prepared, -EBUSY when it already runs, -EIO when crun failed. A container that ran before is
 * cleared from crun first; its exit code and OOM mark are forgotten, its log appended to. */
int runtime_start(Runtime *rt, const char *id, char **ret_error);

typedef enum ContainerStatus {
        CONTAINER_PREPARED, /* a bundle, never started or deleted from crun */
        CONTAINER_CREATED,  /* crun created it, its process has not started the image's command */
        CONTAINER_RUNNING,
        CONTAINER_PAUSED,
        CONTAINER_STOPPED,
        _CONTAINER_STATUS_MAX,
        _CONTAINER_STATUS_INVALID = -EINVAL,
} ContainerStatus;

typedef struct ContainerState {
        ContainerStatus status;
        pid_t pid;        /* the init process on the host; 0 when not running */
        pid_t conmon_pid; /* 0 when conmon is gone */
        int exit_code;    /* STOPPED: the code (128+signal when killed); -1 unknown or not stopped */
        bool oom_killed;  /* the kernel OOM-killed a process of this container since it started */
} ContainerState;

/* The state, from conmon's files and crun state; no process of ours needs to have started
 * the container. -ENOENT when there is no such container (nothing under base_dir). */
int runtime_state(Runtime *rt, const char *id, ContainerState *ret);

/* Sends sig to the container's init (crun kill). -ESRCH when it does not run. */
int runtime_kill(Runtime *rt, const char *id, int sig, char **ret_error);

/* Removes the container: killed when it runs (SIGKILL, then waits up to 5 s for conmon to record
 * the exit), deleted from crun, the root filesystem unmounted, its directory removed (all but
 * ctr.log with keep_log). 0 also when it was not there. -EBUSY when the root filesystem could not
 * be unmounted (nothing removed then). */
int runtime_delete(Runtime *rt, const char *id, bool keep_log, char **ret_error);

/* Runs argv in the running container (crun exec) with env added ("K=V", may be NULL) and the
 * given fds as its stdin, stdout and stderr (-1: /dev/null); they are not closed. Returns at once
 * with the PID of crun exec in *ret_pid: the caller waits for it (waitpid), and its exit status is
 * the command's. -ESRCH when the container does not run. */
int runtime_exec(Runtime *rt, const char *id, char *const argv[], char *const env[], int stdin_fd,
                 int stdout_fd, int stderr_fd, pid_t *ret_pid);

/* The path of the container's log (caller frees); NULL on OOM. */
char *runtime_log_path(Runtime *rt, const char *id);

/* The text lines of a k8s-file log (partial lines joined), stdout and stderr in the order written,
 * without timestamps. *ret: a NULL-terminated vector (caller strv_free()s). -ENOENT without a log. */
int runtime_log_read(const char *path, char ***ret);

/* The IDs that have a directory under base_dir (to adopt after a restart). *ret as above. */
int runtime_list(Runtime *rt, char ***ret);

/* The cgroup mode of this host (statfs of /sys/fs/cgroup and /sys/fs/cgroup/unified). */
CgroupMode cgroup_mode_detect(void);

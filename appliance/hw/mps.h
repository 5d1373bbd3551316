#pragma once

/* NVIDIA MPS control daemons for GPUs that carry shares (docs/gpu-sharing.md): one daemon per GPU,
 * serving one tenant's host UID, with the share's limits set by the daemon before the first client
 * exists. Stateless: everything a later call (or a restarted arkd) needs is on disk.
 *
 * Layout, under `<runtime_dir>/mps/`:
 *   mps/                    root, 0711
 *   mps/<pci>/              root, 0711: the tenant's server (which runs on the host as the tenant's
 *                           UID) must pass through it to reach its pipe and log directories, and
 *                           crun binds them as the container's root; it cannot list it, and holds
 *                           no file in it
 *   mps/<pci>/control.pid   root, 0600: the daemon's PID and the settings it was started with; in
 *                           the root-owned directory, so the tenant cannot point arkd at another
 *                           process (the PID is checked anyway, below)
 *   mps/<pci>/pipe/         the tenant's UID/GID, 0700: CUDA_MPS_PIPE_DIRECTORY (the daemon's
 *                           sockets; bound at /run/nvidia-mps in the share's containers)
 *   mps/<pci>/log/          the tenant's, 0700: CUDA_MPS_LOG_DIRECTORY (control.log, server.log,
 *                           and control.out, the daemon's stdout and stderr)
 *   mps/<pci>/shm/          the tenant's, 0700: a tmpfs of its own (size MpsConfig.shm_bytes,
 *                           nosuid, nodev, noexec), bound at /dev/shm in the share's containers and
 *                           in the daemon's own mount namespace, so the servers it starts and their
 *                           clients share it. Where mount() is refused (EPERM: not root; ENODEV: no
 *                           tmpfs) it is a plain directory and the daemon runs in arkd's mount
 *                           namespace with the host's /dev/shm; mps_start() says which.
 * Directories of another UID than the tenant's (0700) keep every other tenant out. The tenant's
 * UID owns pipe/ and log/, where the root daemon writes: NVIDIA's design, the server needs them.
 * Every ancestor of mps/ must be searchable by others (the tenant's UID), which mps_start()
 * checks. A start with no daemon running removes what an earlier one left (a former tenant's
 * files included) and makes the directories afresh.
 *
 * The daemon: `<control> -f` (foreground mode, NVIDIA's MPS documentation, "nvidia-cuda-mps-control"
 * options), forked twice with its own session so it is not arkd's child and outlives it; no
 * file descriptor of arkd's, default signal handling, umask 022, working directory /, stdin
 * /dev/null, stdout and stderr to log/control.out, and only this environment: PATH (the control
 * binary's directory, then /usr/sbin:/usr/bin:/sbin:/bin: the daemon starts nvidia-cuda-mps-server),
 * CUDA_MPS_PIPE_DIRECTORY, CUDA_MPS_LOG_DIRECTORY, CUDA_VISIBLE_DEVICES=<uuid>. The caller's
 * environment never reaches it. It stays in arkd's cgroup, as conmon does.
 *
 * A PID is this GPU's daemon only while /proc/<pid>/cmdline holds the control binary followed by
 * "-f" and /proc/<pid>/environ holds this GPU's CUDA_MPS_PIPE_DIRECTORY (a reused PID is not).
 *
 * Commands go through the control client (the same binary without options, one command on its
 * stdin per run, the daemon's environment, 10 s at most each). A run that exits with a non-zero
 * status, is killed or times out is -EIO with a sentence naming the command and what it printed.
 * Sources (NVIDIA's MPS documentation, docs.nvidia.com/deploy/mps/): "Legacy MPS v2 Interface" for
 * -f, the commands and their syntax (set_default_device_pinned_mem_limit <dev> <value>, the value
 * an integer followed by G or M; defaults apply to servers started afterwards; quit ends the
 * daemon); "Appendix: Environment Variables" for CUDA_MPS_PIPE_DIRECTORY, CUDA_MPS_LOG_DIRECTORY
 * and CUDA_VISIBLE_DEVICES (devices renumbered from 0 as the daemon sees them; UUIDs recommended).
 * What the client prints, and its exit status on a refused command, are not documented: hence
 * the read-back in mps_start(), to be confirmed on a GPU (tests/gpu/).
 *
 * Nothing here logs; every call that can fail says why in *ret_error (may be NULL) when it returns
 * < 0. Not thread-safe; arkd calls it from its event loop (each call blocks for at most about
 * 30 s: client runs, the daemon's readiness, its exit). */

#include <stdint.h>
#include <sys/types.h>

#define MPS_SHM_BYTES_DEFAULT (UINT64_C(1) << 30)
#define MPS_STOP_TIMEOUT_USEC (5 * 1000000ULL)

typedef struct MpsConfig {
        const char *control;     /* absolute path of nvidia-cuda-mps-control ([Containers] MPSControl=) */
        const char *runtime_dir; /* e.g. /run/ark/containers: daemons live in <runtime_dir>/mps/<pci>/ */
        uint64_t shm_bytes;      /* size of each GPU's shm tmpfs; 0: MPS_SHM_BYTES_DEFAULT */
} MpsConfig;

typedef struct MpsShare {
        const char *address;               /* the GPU's PCI address, "0000:18:00.0" */
        const char *uuid;                  /* "GPU-...", the daemon's CUDA_VISIBLE_DEVICES */
        uid_t uid;                         /* the tenant's host UID (its containers' root); never 0 */
        gid_t gid;                         /* and GID: own pipe/, log/, shm/ */
        unsigned active_thread_percentage; /* 1..100 */
        uint64_t pinned_memory_bytes;      /* per client process; at least 1 MiB, rounded down to MiB */
} MpsShare;

/* Makes sure the GPU's daemon runs for s: with none running, prepares the directories, starts the
 * daemon, waits (at most 5 s) for its control socket, sends
 *   set_default_active_thread_percentage <p>
 *   set_default_device_pinned_mem_limit 0 <n>G   (whole GiB; else <n>M, in MiB)
 *   get_default_active_thread_percentage, get_default_device_pinned_mem_limit 0  (read back: the
 *       limit must be set, at most the one asked for, and within 1 GiB of it, else -EIO)
 *   start_server -uid <uid>
 * (NVIDIA's MPS documentation, "Legacy MPS v2 Interface": the defaults apply to servers started
 * after them, and device 0 is the one GPU CUDA_VISIBLE_DEVICES leaves the daemon) and records its
 * PID. Returns 0 when it started one with a tmpfs as shm/, 2 when shm/ is a plain directory, 1
 * when the daemon already running was kept (same UID, GID, UUID and limits: nothing sent). A
 * daemon running for another UID, or with other limits (they cannot change under a running
 * server), is -EBUSY. -EINVAL for an address, UUID, UID, percentage or memory limit out of range,
 * -EACCES when an ancestor of the directories is not searchable by others, -EIO when the daemon
 * exits at once or a command fails. On any failure after the daemon started it is stopped and the
 * directories are removed again. */
int mps_start(const MpsConfig *c, const MpsShare *s, char **ret_error);

/* Stops the GPU's daemon: SIGTERM through its verified PID, then waits up to MPS_STOP_TIMEOUT_USEC
 * for it to exit; still there, it is killed (SIGKILL) and the call returns -ETIMEDOUT with a
 * sentence. Its children (the MPS servers) are killed after it. Not `quit` through the client: the
 * client connects to the pipe directory's `control`, which the share's containers can replace (a
 * symlink to another GPU's daemon, or a socket that never answers).
 * Once it is gone, unmounts shm/ and removes <runtime_dir>/mps/<pci>/. None running is 0 (what a
 * dead one left is removed too). -EBUSY when it survives SIGKILL (directories kept). */
int mps_stop(const MpsConfig *c, const char *address, char **ret_error);

/* 1 and its PID in *ret_pid (may be NULL) when the GPU's daemon runs, found by its PID file
 * (after an arkd restart too), 0 when not, -EINVAL for a bad address. */
int mps_running(const MpsConfig *c, const char *address, pid_t *ret_pid);

/* The GPU's pipe and shm directories on the host (for its shares' CDI spec), newly allocated
 * (either output may be NULL). -EINVAL for a bad address, -ENOMEM. */
int mps_paths(const MpsConfig *c, const char *address, char **ret_pipe_dir, char **ret_shm_dir);

/* Containers run by crun under conmon (runtime.h). */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/magic.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>

#include "basic/perm-util.h"
#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/spawn-util.h"
#include "basic/string-util.h"
#include "rootfs.h"
#include "runtime.h"

/* The most a container's log holds (bytes). */
#define RUNTIME_LOG_SIZE_MAX "67108864"
#define SYSTEMD_RUN "/usr/bin/systemd-run"

extern char **environ;

struct Runtime {
        char *crun, *conmon, *state_root, *base_dir, *cgroup_parent;
        CgroupMode mode;
        bool systemd;
};

CgroupMode cgroup_mode_detect(void) {
        struct statfs fs;

        if (statfs("/sys/fs/cgroup", &fs) < 0)
                return _CGROUP_MODE_INVALID;
        if (fs.f_type == CGROUP2_SUPER_MAGIC)
                return CGROUP_MODE_UNIFIED;
        if (statfs("/sys/fs/cgroup/unified", &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC)
                return CGROUP_MODE_HYBRID;
        return CGROUP_MODE_LEGACY;
}

Runtime *runtime_free(Runtime *rt) {
        if (!rt)
                return NULL;
        free(rt->crun);
        free(rt->conmon);
        free(rt->state_root);
        free(rt->base_dir);
        free(rt->cgroup_parent);
        return mfree(rt);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(Runtime, runtime_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(DIR, closedir);

int runtime_new(const RuntimeConfig *config, Runtime **ret) {
        _cleanup_(runtime_freep) Runtime *rt = NULL;
        int r;

        if (!config->base_dir || !path_is_normalized_absolute(config->base_dir))
                return -EINVAL;
        rt = calloc(1, sizeof(*rt));
        if (!rt)
                return -ENOMEM;
        rt->crun = strdup(config->crun ?: "/usr/bin/crun");
        rt->conmon = strdup(config->conmon ?: "/usr/bin/conmon");
        rt->base_dir = strdup(config->base_dir);
        rt->state_root =
                config->state_root ? strdup(config->state_root) : path_join(config->base_dir, ".crun");
        rt->cgroup_parent = strdup(config->cgroup_parent ?: "ark");
        if (!rt->crun || !rt->conmon || !rt->base_dir || !rt->state_root || !rt->cgroup_parent)
                return -ENOMEM;
        if (access(rt->crun, X_OK) < 0 || access(rt->conmon, X_OK) < 0)
                return -ENOENT;
        rt->mode = cgroup_mode_detect();
        if (rt->mode < 0)
                return rt->mode;
        /* systemd owns the cgroup tree where it is PID 1 on v2 (the appliance); elsewhere crun
         * writes the cgroups itself. */
        rt->systemd = rt->mode == CGROUP_MODE_UNIFIED && access("/run/systemd/system", F_OK) == 0;
        r = mkdir_p_mode(rt->base_dir, 0711);
        /* One made before (by an older arkd, under another umask) is opened to searching too. */
        if (r >= 0 && chmod(rt->base_dir, 0711) < 0)
                r = -errno;
        if (r < 0)
                return r;
        r = mkdir_p_mode(rt->state_root, 0700);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(rt);
        return 0;
}

CgroupMode runtime_cgroup_mode(const Runtime *rt) {
        return rt->mode;
}

const char *runtime_cgroup_manager(const Runtime *rt) {
        return rt->systemd ? "systemd" : "cgroupfs";
}

static bool id_is_valid(const char *id) {
        size_t n = id ? strlen(id) : 0;

        if (n == 0 || n > 64 || id[0] == '.')
                return false;
        return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

/* <base>/<id>[/<sub>] */
static char *ct_path(const Runtime *rt, const char *id, const char *sub) {
        return sub ? strprintf("%s/%s/%s", rt->base_dir, id, sub) : strprintf("%s/%s", rt->base_dir, id);
}

/* In a forked child about to exec crun or conmon: the signal state arkd may have changed goes
 * back to the defaults (a blocked SIGTERM would be inherited by the container), and on a hybrid
 * host the v2 mount is hidden in a private mount namespace, so crun takes cgroup v1. Only
 * async-signal-safe calls: arkd may have threads. */
static void child_setup(const Runtime *rt) {
        child_reset_signals();
        /* Nothing of arkd's service reaches crun: with NOTIFY_SOCKET, crun start would wait for
         * the container to say READY=1 (a tenant's image that never does would hold arkd). */
        (void) unsetenv("NOTIFY_SOCKET");
        (void) unsetenv("WATCHDOG_PID");
        (void) unsetenv("WATCHDOG_USEC");
        (void) unsetenv("LISTEN_PID");
        (void) unsetenv("LISTEN_FDS");
        (void) unsetenv("LISTEN_FDNAMES");
        if (rt->mode == CGROUP_MODE_HYBRID) {
                if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
                    umount2("/sys/fs/cgroup/unified", MNT_DETACH) < 0)
                        _exit(125);
        }
}

/* fds[0..2] to 0..2 and fd3 (when >= 0) to 3, inherited: conmon's sync pipe is its fd 3. */
static void child_stdio(const int fds[3], int fd3) {
        child_move_fds(fds, fd3, false);
}

/* The global crun options, then the verb's arguments: argv for execv (caller strv_free()s). */
static char **crun_argv(const Runtime *rt, const char *const *args) {
        _cleanup_strv_free_ char **l = NULL;

        if (strv_extend(&l, rt->crun) < 0 || strv_push(&l, strprintf("--root=%s", rt->state_root)) < 0 ||
            strv_push(&l, strprintf("--cgroup-manager=%s", runtime_cgroup_manager(rt))) < 0)
                return NULL;
        for (; *args; args++)
                if (strv_extend(&l, *args) < 0)
                        return NULL;
        return TAKE_PTR(l);
}

/* Reads fd to its end, up to max bytes kept. NULL on OOM. */
static char *read_all(int fd, size_t max) {
        StrBuf b = {};
        char buf[4096];
        ssize_t n;

        strbuf_append(&b, "");
        while ((n = read(fd, buf, sizeof(buf) - 1)) != 0) {
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                buf[n] = 0;
                if (b.len < max)
                        strbuf_append(&b, buf);
        }
        return strbuf_steal(&b);
}

/* Runs crun with args and waits. Returns its exit status (0..255) or a negative errno; what it
 * wrote to stdout and stderr in *ret_out and *ret_err when asked (stripped). */
static int run_crun(const Runtime *rt, const char *const *args, char **ret_out, char **ret_err) {
        _cleanup_strv_free_ char **argv = crun_argv(rt, args);
        int out[2] = { -1, -1 }, err[2] = { -1, -1 }, status;
        pid_t pid;

        if (!argv)
                return -ENOMEM;
        if (pipe2(out, O_CLOEXEC) < 0)
                return -errno;
        if (pipe2(err, O_CLOEXEC) < 0) {
                safe_close(out[0]);
                safe_close(out[1]);
                return -errno;
        }
        pid = fork();
        if (pid < 0) {
                int r = -errno;
                safe_close(out[0]);
                safe_close(out[1]);
                safe_close(err[0]);
                safe_close(err[1]);
                return r;
        }
        if (pid == 0) {
                child_setup(rt);
                child_stdio((const int[3]) { -1, out[1], err[1] }, -1);
                execv(argv[0], argv);
                _exit(127);
        }
        safe_close(out[1]);
        safe_close(err[1]);
        /* crun's output is small (a state, a message): stdout first, then stderr, cannot fill
         * both pipes at once. */
        _cleanup_free_ char *o = read_all(out[0], 65536), *e = read_all(err[0], 4096);
        safe_close(out[0]);
        safe_close(err[0]);
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        if (!o || !e)
                return -ENOMEM;
        if (ret_out)
                *ret_out = strdup(strstrip(o));
        if (ret_err)
                *ret_err = strdup(strstrip(e));
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        return -ECHILD;
}

/* crun's message for a sentence: its last line, without crun's "Error: "-style prefix noise. */
static int crun_error(char **ret_error, int r, const char *what, const char *id, const char *err) {
        _cleanup_free_ char *copy = strdup(strempty(err));

        if (!copy)
                return -ENOMEM;
        char *msg = strstrip(copy), *nl = strrchr(msg, '\n');
        if (nl)
                msg = nl + 1;
        return set_error_sentence(ret_error, r, "crun %s of container '%s' failed: %s", what, id,
                                  *msg ? msg : "no message");
}

static pid_t read_pid_file(const char *path) {
        _cleanup_free_ char *s = NULL;
        long v;

        if (read_one_line_file(path, &s) < 0)
                return 0;
        char *end;
        errno = 0;
        v = strtol(s, &end, 10);
        if (errno != 0 || end == s || v <= 0 || v > INT32_MAX)
                return 0;
        return (pid_t) v;
}

/* Whether pid is a live process (a zombie is not: nobody may have reaped it). */
static bool pid_alive(pid_t pid) {
        char path[64];
        _cleanup_free_ char *stat = NULL;

        if (pid <= 0)
                return false;
        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        if (read_one_line_file(path, &stat) < 0)
                return false;
        const char *p = strrchr(stat, ')');
        return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

/* The exit code conmon wrote, or -1. */
static int read_exit_file(const Runtime *rt, const char *id) {
        _cleanup_free_ char *path = NULL, *s = NULL;

        path = strprintf("%s/%s/exits/%s", rt->base_dir, id, id);
        if (!path || read_one_line_file(path, &s) < 0)
                return -1;
        char *end;
        long v = strtol(s, &end, 10);
        return end == s || v < 0 || v > 255 ? -1 : (int) v;
}

int runtime_state(Runtime *rt, const char *id, ContainerState *ret) {
        _cleanup_free_ char *dir = NULL, *cpid = NULL, *oom = NULL, *out = NULL;
        ContainerState s = { .status = CONTAINER_PREPARED, .exit_code = -1 };
        int r;

        if (!id_is_valid(id))
                return -EINVAL;
        dir = ct_path(rt, id, NULL);
        cpid = ct_path(rt, id, "conmon.pid");
        oom = ct_path(rt, id, "persist/oom");
        if (!dir || !cpid || !oom)
                return -ENOMEM;
        if (access(dir, F_OK) < 0)
                return -errno;

        s.conmon_pid = read_pid_file(cpid);
        if (!pid_alive(s.conmon_pid))
                s.conmon_pid = 0;

        /* conmon's exit file first: it outlives crun's state and our restarts. */
        s.exit_code = read_exit_file(rt, id);
        if (s.exit_code < 0) {
                _cleanup_free_ char *crun_dir = path_join(rt->state_root, id);

                if (!crun_dir)
                        return -ENOMEM;
                /* Not created (crun keeps <root>/<id>/ while it knows a container): no crun to
                 * ask, which saves a process at every start. */
                if (access(crun_dir, F_OK) < 0 && errno == ENOENT) {
                        s.oom_killed = access(oom, F_OK) == 0;
                        *ret = s;
                        return 0;
                }
                r = run_crun(rt, (const char *const[]) { "state", id, NULL }, &out, NULL);
                if (r < 0)
                        return r;
                if (r == 0) {
                        _cleanup_(json_decrefp) json_t *j = json_loads(out, 0, NULL);
                        const char *status = NULL;
                        json_int_t pid = 0;

                        if (!j || json_unpack(j, "{s:s, s?I}", "status", &status, "pid", &pid) < 0)
                                return -EBADMSG;
                        if (streq(status, "created"))
                                s.status = CONTAINER_CREATED;
                        else if (streq(status, "running"))
                                s.status = CONTAINER_RUNNING;
                        else if (streq(status, "paused"))
                                s.status = CONTAINER_PAUSED;
                        else
                                s.status = CONTAINER_STOPPED;
                        if (s.status != CONTAINER_STOPPED)
                                s.pid = (pid_t) pid;
                }
                /* Stopped a moment ago: conmon writes the code as soon as it has reaped. */
                for (int i = 0; i < 100 && s.status == CONTAINER_STOPPED && s.exit_code < 0 &&
                     s.conmon_pid > 0 && pid_alive(s.conmon_pid);
                     i++) {
                        (void) nanosleep(&(struct timespec) { .tv_nsec = 10 * 1000 * 1000 }, NULL);
                        s.exit_code = read_exit_file(rt, id);
                }
        } else
                s.status = CONTAINER_STOPPED;

        /* conmon watches the memory cgroup's OOM events (v1 and v2) and marks them; the cgroup's own
         * counter is not read, since a cgroup left behind under the same name keeps old counts. */
        s.oom_killed = access(oom, F_OK) == 0;
        *ret = s;
        return 0;
}

static bool status_is_live(ContainerStatus s) {
        return s == CONTAINER_CREATED || s == CONTAINER_RUNNING || s == CONTAINER_PAUSED;
}

int runtime_prepare(Runtime *rt, const char *id, const ContainerSpec *spec, char **ret_error) {
        _cleanup_free_ char *dir = NULL, *fs = NULL, *target = NULL, *config = NULL, *cgpath = NULL,
                            *exits = NULL, *persist = NULL, *sock = NULL;
        ContainerState st;
        int r;

        if (!id_is_valid(id))
                return set_error_sentence(ret_error, -EINVAL, "'%s' is not a valid container ID",
                                          printable(id));
        dir = ct_path(rt, id, NULL);
        fs = ct_path(rt, id, "fs");
        target = ct_path(rt, id, "rootfs");
        config = ct_path(rt, id, "config.json");
        exits = ct_path(rt, id, "exits");
        persist = ct_path(rt, id, "persist");
        sock = ct_path(rt, id, "sock");
        cgpath = rt->systemd ? strprintf("%s.slice:%s:%s", rt->cgroup_parent, rt->cgroup_parent, id)
                             : strprintf("/%s/%s", rt->cgroup_parent, id);
        if (!dir || !fs || !target || !config || !cgpath || !exits || !persist || !sock)
                return -ENOMEM;

        if (runtime_state(rt, id, &st) == 0 && status_is_live(st.status))
                return set_error_sentence(ret_error, -EBUSY, "container '%s' is running", id);
        /* root:<the container's root group> 0710: the container's root (an unprivileged host UID)
         * goes through to its root file system, lists nothing, and no other user of the host (a
         * tenant's, another container's root) gets in: the paths are not secret (mountinfo). */
        r = mkdir_p_mode(dir, 0710);
        if (r >= 0 && (chown(dir, 0, spec->oci.host_gid_base) < 0 || chmod(dir, 0710) < 0))
                r = -errno;
        if (r >= 0)
                r = mkdir_p_mode(exits, 0700);
        if (r >= 0)
                r = mkdir_p_mode(persist, 0700);
        if (r >= 0)
                r = mkdir_p_mode(sock, 0700);
        if (r < 0)
                return set_error_sentence(ret_error, r, "cannot make '%s': %s", dir, strerror(-r));

        if (!rootfs_is_mounted(target)) {
                RootfsSpec rs = {
                        .layers = spec->layers,
                        .state_dir = fs,
                        .target = target,
                        .uid_base = spec->oci.host_uid_base,
                        .gid_base = spec->oci.host_gid_base,
                        .id_count = spec->oci.id_count,
                };
                r = rootfs_mount(&rs, ret_error);
                if (r < 0)
                        return r;
        }

        OciSpec oci = spec->oci;
        oci.rootfs = target;
        oci.cgroups_path = cgpath;
        r = oci_config_write(&oci, config);
        if (r < 0)
                return set_error_sentence(ret_error, r, "cannot write the OCI config of container '%s': %s",
                                          id, strerror(-r));
        return 0;
}

/* Reads conmon's first sync message: {"data": PID} once crun create succeeded, {"data": -1,
 * "message": "..."} when it failed. */
static int read_sync(int fd, const char *id, char **ret_error) {
        StrBuf b = {};
        char buf[4096];
        int r = 0;

        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                int k = poll(&p, 1, 60 * 1000);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        r = set_error_sentence(ret_error, -ETIMEDOUT,
                                               "conmon did not report on container '%s'", id);
                        break;
                }
                ssize_t n = read(fd, buf, sizeof(buf) - 1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                buf[n] = 0;
                strbuf_append(&b, buf);
                if (b.buf && strchr(b.buf, '\n'))
                        break;
        }
        if (r == 0) {
                _cleanup_(json_decrefp) json_t *j =
                        b.buf ? json_loads(b.buf, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
                json_int_t data = -1;
                const char *msg = NULL;

                if (!j || json_unpack(j, "{s:I, s?s}", "data", &data, "message", &msg) < 0)
                        r = -EPIPE;
                else if (data <= 0)
                        r = crun_error(ret_error, -EIO, "create", id, msg);
        }
        strbuf_done(&b);
        return r;
}

/* Starts conmon (which double-forks and runs crun create), and waits for its report. */
static int spawn_conmon(Runtime *rt, const char *id, char **ret_error) {
        _cleanup_strv_free_ char **argv = NULL, **envp = NULL;
        _cleanup_free_ char *dir = ct_path(rt, id, NULL);
        int sync[2], status, r;
        pid_t pid;

        if (!dir)
                return -ENOMEM;
        /* Under systemd conmon gets a scope of its own in the containers' slice, so that stopping
         * or restarting arkd.service (which kills its whole cgroup) leaves the monitors and their
         * containers running; systemd-run --scope execs conmon in place, our descriptors and
         * environment kept. */
        if (rt->systemd &&
            (strv_extend(&argv, SYSTEMD_RUN) < 0 || strv_extend(&argv, "--scope") < 0 ||
             strv_extend(&argv, "--quiet") < 0 || strv_extend(&argv, "--collect") < 0 ||
             strv_push(&argv, strprintf("--unit=ark-conmon-%s", id)) < 0 ||
             strv_push(&argv, strprintf("--slice=%s.slice", rt->cgroup_parent)) < 0 ||
             strv_extend(&argv, "--") < 0))
                return -ENOMEM;
        /* conmon runs crun as --runtime with the global options before the verb (--runtime-arg). */
        if (strv_extend(&argv, rt->conmon) < 0 || strv_extend(&argv, "--api-version") < 0 ||
            strv_extend(&argv, "1") < 0 || strv_extend(&argv, "-c") < 0 || strv_extend(&argv, id) < 0 ||
            strv_extend(&argv, "-u") < 0 || strv_extend(&argv, id) < 0 || strv_extend(&argv, "-n") < 0 ||
            strv_extend(&argv, id) < 0 || strv_extend(&argv, "-r") < 0 || strv_extend(&argv, rt->crun) < 0 ||
            strv_extend(&argv, "-b") < 0 || strv_extend(&argv, dir) < 0 || strv_extend(&argv, "-p") < 0 ||
            strv_push(&argv, strprintf("%s/pid", dir)) < 0 || strv_extend(&argv, "--conmon-pidfile") < 0 ||
            strv_push(&argv, strprintf("%s/conmon.pid", dir)) < 0 || strv_extend(&argv, "-l") < 0 ||
            strv_push(&argv, strprintf("k8s-file:%s/ctr.log", dir)) < 0 ||
            /* A log that could fill the disk is cut (conmon starts it again past the size). */
            strv_extend(&argv, "--log-size-max") < 0 || strv_extend(&argv, RUNTIME_LOG_SIZE_MAX) < 0 ||
            strv_extend(&argv, "--exit-dir") < 0 || strv_push(&argv, strprintf("%s/exits", dir)) < 0 ||
            strv_extend(&argv, "--persist-dir") < 0 || strv_push(&argv, strprintf("%s/persist", dir)) < 0 ||
            strv_extend(&argv, "--socket-dir-path") < 0 || strv_push(&argv, strprintf("%s/sock", dir)) < 0 ||
            strv_extend(&argv, "--runtime-arg") < 0 ||
            strv_push(&argv, strprintf("--root=%s", rt->state_root)) < 0 ||
            strv_extend(&argv, "--runtime-arg") < 0 ||
            strv_push(&argv, strprintf("--cgroup-manager=%s", runtime_cgroup_manager(rt))) < 0)
                return -ENOMEM;
        for (char **e = environ; e && *e; e++)
                if (!startswith(*e, "_OCI_") && strv_extend(&envp, *e) < 0)
                        return -ENOMEM;
        if (strv_extend(&envp, "_OCI_SYNCPIPE=3") < 0)
                return -ENOMEM;

        _cleanup_free_ char *errlog = ct_path(rt, id, "conmon.err");
        if (!errlog)
                return -ENOMEM;
        _cleanup_close_ int errfd =
                open(errlog, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (errfd < 0)
                return -errno;
        if (pipe2(sync, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                r = -errno;
                safe_close(sync[0]);
                safe_close(sync[1]);
                return r;
        }
        if (pid == 0) {
                child_setup(rt);
                (void) setsid();
                /* conmon writes some files (its "oom" mark among them) to its working directory. */
                if (chdir(dir) < 0)
                        _exit(126);
                child_stdio((const int[3]) { -1, errfd, errfd }, sync[1]);
                execve(argv[0], argv, envp);
                _exit(127);
        }
        safe_close(sync[1]);
        r = read_sync(sync[0], id, ret_error);
        if (r == -EPIPE) {
                /* conmon itself failed (not crun): its last words are in conmon.err. */
                _cleanup_free_ char *text = NULL;
                (void) read_full_file(errlog, &text, NULL);
                r = set_error_sentence(ret_error, -EIO, "conmon failed for container '%s': %s", id,
                                       text && *strstrip(text) ? text : "no message");
        }
        safe_close(sync[0]);
        /* conmon's first process exits once it has forked the monitor. */
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        break;
        return r;
}

int runtime_start(Runtime *rt, const char *id, char **ret_error) {
        _cleanup_free_ char *config = NULL, *target = NULL, *err = NULL;
        ContainerState st;
        int r;

        if (!id_is_valid(id))
                return set_error_sentence(ret_error, -EINVAL, "'%s' is not a valid container ID",
                                          printable(id));
        config = ct_path(rt, id, "config.json");
        target = ct_path(rt, id, "rootfs");
        if (!config || !target)
                return -ENOMEM;
        if (access(config, F_OK) < 0 || !rootfs_is_mounted(target))
                return set_error_sentence(ret_error, -ENOENT, "container '%s' is not prepared", id);
        r = runtime_state(rt, id, &st);
        if (r < 0)
                return set_error_sentence(ret_error, r, "cannot read the state of container '%s': %s", id,
                                          strerror(-r));
        if (status_is_live(st.status))
                return set_error_sentence(ret_error, -EBUSY, "container '%s' is running", id);
        if (st.status == CONTAINER_STOPPED)
                (void) run_crun(rt, (const char *const[]) { "delete", "--force", id, NULL }, NULL, NULL);

        /* A new run: the last one's exit code and OOM mark go. */
        static const char *const stale[] = { "pid", "conmon.pid", "persist/oom", "persist/exit", NULL };
        for (const char *const *s = stale; *s; s++) {
                _cleanup_free_ char *p = ct_path(rt, id, *s);
                if (p)
                        (void) unlink(p);
        }
        _cleanup_free_ char *exitf = strprintf("%s/%s/exits/%s", rt->base_dir, id, id);
        if (!exitf)
                return -ENOMEM;
        (void) unlink(exitf);

        r = spawn_conmon(rt, id, ret_error);
        if (r < 0)
                return r;
        r = run_crun(rt, (const char *const[]) { "start", id, NULL }, NULL, &err);
        if (r != 0) {
                (void) run_crun(rt, (const char *const[]) { "delete", "--force", id, NULL }, NULL, NULL);
                return crun_error(ret_error, r < 0 ? r : -EIO, "start", id, err);
        }
        return 0;
}

int runtime_kill(Runtime *rt, const char *id, int sig, char **ret_error) {
        _cleanup_free_ char *err = NULL;
        ContainerState st;
        char signum[16];
        int r;

        r = runtime_state(rt, id, &st);
        if (r < 0)
                return r;
        if (!status_is_live(st.status))
                return -ESRCH;
        snprintf(signum, sizeof(signum), "%d", sig);
        r = run_crun(rt, (const char *const[]) { "kill", id, signum, NULL }, NULL, &err);
        if (r != 0)
                return crun_error(ret_error, r < 0 ? r : -EIO, "kill", id, err);
        return 0;
}

int runtime_delete(Runtime *rt, const char *id, bool keep_log, char **ret_error) {
        _cleanup_free_ char *dir = NULL, *target = NULL, *err = NULL;
        ContainerState st;
        int r;

        r = runtime_state(rt, id, &st);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        if (status_is_live(st.status))
                (void) run_crun(rt, (const char *const[]) { "kill", id, "KILL", NULL }, NULL, NULL);
        /* conmon records the exit, then ends; its files are about to go. */
        for (int i = 0; i < 500 && pid_alive(st.conmon_pid); i++)
                (void) nanosleep(&(struct timespec) { .tv_nsec = 10 * 1000 * 1000 }, NULL);
        if (st.status != CONTAINER_PREPARED) {
                r = run_crun(rt, (const char *const[]) { "delete", "--force", id, NULL }, NULL, &err);
                if (r != 0 && !(err && strstr(err, "does not exist")))
                        return crun_error(ret_error, r < 0 ? r : -EIO, "delete", id, err);
        }

        dir = ct_path(rt, id, NULL);
        target = ct_path(rt, id, "rootfs");
        if (!dir || !target)
                return -ENOMEM;
        r = rootfs_umount(target);
        if (r < 0 || rootfs_is_mounted(target))
                return set_error_sentence(ret_error, -EBUSY,
                                          "cannot unmount the root filesystem of '%s': %s", id,
                                          strerror(r < 0 ? -r : EBUSY));
        if (!keep_log)
                return rm_rf(dir);

        _cleanup_(closedirp) DIR *d = opendir(dir);
        if (!d)
                return -errno;
        struct dirent *de;
        r = 0;
        while ((de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, "..") || streq(de->d_name, "ctr.log"))
                        continue;
                _cleanup_free_ char *p = path_join(dir, de->d_name);
                if (!p)
                        return -ENOMEM;
                int k = rm_rf(p);
                if (k < 0 && r == 0)
                        r = k;
        }
        return r;
}

int runtime_exec(Runtime *rt, const char *id, char *const argv[], char *const env[], int stdin_fd,
                 int stdout_fd, int stderr_fd, pid_t *ret_pid) {
        _cleanup_strv_free_ char **args = NULL, **full = NULL;
        ContainerState st;
        pid_t pid;
        int r;

        if (!argv || !argv[0])
                return -EINVAL;
        r = runtime_state(rt, id, &st);
        if (r < 0)
                return r;
        if (st.status != CONTAINER_RUNNING)
                return -ESRCH;
        if (strv_extend(&args, "exec") < 0)
                return -ENOMEM;
        for (char *const *e = env; e && *e; e++)
                if (strv_extend(&args, "--env") < 0 || strv_extend(&args, *e) < 0)
                        return -ENOMEM;
        if (strv_extend(&args, id) < 0)
                return -ENOMEM;
        for (char *const *a = argv; *a; a++)
                if (strv_extend(&args, *a) < 0)
                        return -ENOMEM;
        full = crun_argv(rt, (const char *const *) args);
        if (!full)
                return -ENOMEM;

        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                child_setup(rt);
                child_stdio((const int[3]) { stdin_fd, stdout_fd, stderr_fd }, -1);
                execv(full[0], full);
                _exit(127);
        }
        *ret_pid = pid;
        return 0;
}

char *runtime_log_path(Runtime *rt, const char *id) {
        return ct_path(rt, id, "ctr.log");
}

int runtime_log_read(const char *path, char ***ret) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        _cleanup_strv_free_ char **lines = NULL;
        StrBuf partial[2] = {};
        size_t n = 0;
        ssize_t k;
        int r = 0;

        f = fopen(path, "re");
        if (!f)
                return -errno;
        /* "<RFC 3339 time> <stdout|stderr> <F|P> <text>": P is a piece of a longer line. */
        while ((k = getline(&line, &n, f)) > 0) {
                if (line[k - 1] == '\n')
                        line[k - 1] = 0;
                char *stream = strchr(line, ' ');
                char *tag = stream ? strchr(stream + 1, ' ') : NULL;
                char *text = tag ? strchr(tag + 1, ' ') : NULL;
                if (!text)
                        continue;
                int s = startswith(stream + 1, "stderr") ? 1 : 0;
                text++;
                strbuf_append(&partial[s], text);
                if (tag[1] == 'P')
                        continue;
                char *l = strbuf_steal(&partial[s]);
                if (!l) {
                        r = -ENOMEM;
                        break;
                }
                if (strv_push(&lines, l) < 0) {
                        free(l);
                        r = -ENOMEM;
                        break;
                }
        }
        strbuf_done(&partial[0]);
        strbuf_done(&partial[1]);
        if (r < 0)
                return r;
        if (!lines) {
                lines = calloc(1, sizeof(char *));
                if (!lines)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(lines);
        return 0;
}

int runtime_list(Runtime *rt, char ***ret) {
        _cleanup_(closedirp) DIR *d = opendir(rt->base_dir);
        _cleanup_strv_free_ char **l = NULL;
        struct dirent *de;

        if (!d)
                return -errno;
        while ((de = readdir(d)))
                if (de->d_type == DT_DIR && id_is_valid(de->d_name) && strv_extend(&l, de->d_name) < 0)
                        return -ENOMEM;
        if (!l) {
                l = calloc(1, sizeof(char *));
                if (!l)
                        return -ENOMEM;
        }
        *ret = strv_sort(TAKE_PTR(l));
        return 0;
}

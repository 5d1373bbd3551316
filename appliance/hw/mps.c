/* MPS control daemons, one per shared GPU; see mps.h. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/perm-util.h"
#include "basic/spawn-util.h"
#include "basic/string-util.h"
#include "mps.h"

#define MIB (UINT64_C(1) << 20)
#define GIB (UINT64_C(1) << 30)
#define CLIENT_TIMEOUT_USEC (10 * 1000000ULL)
#define READY_TIMEOUT_USEC (5 * 1000000ULL)
#define OUTPUT_MAX 4096
/* Where the daemon's children look for nvidia-cuda-mps-server after the control binary's own
 * directory. */
#define MPS_PATH "/usr/sbin:/usr/bin:/sbin:/bin"

typedef struct Paths {
        char *top;  /* <runtime_dir>/mps */
        char *gpu;  /* top/<pci> */
        char *pid;  /* gpu/control.pid */
        char *pipe; /* gpu/pipe */
        char *log;  /* gpu/log */
        char *shm;  /* gpu/shm */
        char *out;  /* log/control.out */
} Paths;

static void paths_done(Paths *p) {
        free(p->top);
        free(p->gpu);
        free(p->pid);
        free(p->pipe);
        free(p->log);
        free(p->shm);
        free(p->out);
}

/* "0000:18:00.0" exactly: a PCI address as Ark writes it, nothing that could leave the directory. */
static bool address_is_valid(const char *a) {
        static const char pattern[] = "xxxx:xx:xx.x";

        if (!a || strlen(a) != sizeof(pattern) - 1)
                return false;
        for (size_t i = 0; pattern[i]; i++) {
                bool hex = (a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'f');

                if (pattern[i] == 'x' ? !hex : a[i] != pattern[i])
                        return false;
        }
        return a[11] <= '7';
}

static bool uuid_is_valid(const char *u) {
        const char *rest = u ? startswith(u, "GPU-") : NULL;

        if (isempty(rest) || strlen(u) >= 96)
                return false;
        for (; *rest; rest++)
                if (!((*rest >= '0' && *rest <= '9') || (*rest >= 'a' && *rest <= 'z') ||
                      (*rest >= 'A' && *rest <= 'Z') || *rest == '-'))
                        return false;
        return true;
}

static int paths_make(const MpsConfig *c, const char *address, Paths *ret) {
        Paths p = {};

        if (!c || isempty(c->runtime_dir) || !address_is_valid(address))
                return -EINVAL;
        p.top = path_join(c->runtime_dir, "mps");
        p.gpu = p.top ? path_join(p.top, address) : NULL;
        if (p.gpu) {
                p.pid = path_join(p.gpu, "control.pid");
                p.pipe = path_join(p.gpu, "pipe");
                p.log = path_join(p.gpu, "log");
                p.shm = path_join(p.gpu, "shm");
                p.out = p.log ? path_join(p.log, "control.out") : NULL;
        }
        if (!p.pid || !p.pipe || !p.log || !p.shm || !p.out) {
                paths_done(&p);
                return -ENOMEM;
        }
        *ret = p;
        return 0;
}

int mps_paths(const MpsConfig *c, const char *address, char **ret_pipe_dir, char **ret_shm_dir) {
        _cleanup_(paths_done) Paths p = {};
        int r = paths_make(c, address, &p);

        if (r < 0)
                return r;
        if (ret_pipe_dir)
                *ret_pipe_dir = TAKE_PTR(p.pipe);
        if (ret_shm_dir)
                *ret_shm_dir = TAKE_PTR(p.shm);
        return 0;
}

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

/* ---- what the PID file says, and whether its PID is still the daemon ---- */

typedef struct Record {
        pid_t pid;
        uid_t uid;
        gid_t gid;
        char uuid[96];
        unsigned percentage;
        uint64_t pinned_mib;
        bool configured; /* every command went through; a daemon without it has no limits */
} Record;

static int record_write(const Paths *p, const Record *rec) {
        _cleanup_free_ char *s =
                strprintf("%d\nuid=%u\ngid=%u\nuuid=%s\nactive_thread_percentage=%u\n"
                          "pinned_memory_mib=%llu\nconfigured=%d\n",
                          (int) rec->pid, (unsigned) rec->uid, (unsigned) rec->gid, rec->uuid,
                          rec->percentage, (unsigned long long) rec->pinned_mib, rec->configured);
        int r;

        if (!s)
                return -ENOMEM;
        /* WRITE_ATOMIC: a crash leaves the old record or the new one, never half of one. */
        r = write_string_file(p->pid, s, WRITE_CREATE | WRITE_ATOMIC);
        if (r >= 0 && chmod(p->pid, 0600) < 0)
                r = -errno;
        return r;
}

static int record_read(const Paths *p, Record *ret) {
        _cleanup_free_ char *text = NULL;
        Record rec = {};
        char *line, *save = NULL;
        int pid, configured = 0, r;
        unsigned u;
        unsigned long long ull;

        r = read_full_file(p->pid, &text, NULL);
        if (r < 0)
                return r;
        line = strtok_r(text, "\n", &save);
        if (!line || sscanf(line, "%d", &pid) != 1 || pid <= 1)
                return -EBADMSG;
        rec.pid = pid;
        while ((line = strtok_r(NULL, "\n", &save))) {
                if (sscanf(line, "uid=%u", &u) == 1)
                        rec.uid = u;
                else if (sscanf(line, "gid=%u", &u) == 1)
                        rec.gid = u;
                else if (startswith(line, "uuid="))
                        snprintf(rec.uuid, sizeof rec.uuid, "%s", line + 5);
                else if (sscanf(line, "active_thread_percentage=%u", &u) == 1)
                        rec.percentage = u;
                else if (sscanf(line, "pinned_memory_mib=%llu", &ull) == 1)
                        rec.pinned_mib = ull;
                else if (sscanf(line, "configured=%d", &configured) == 1)
                        rec.configured = configured == 1;
        }
        *ret = rec;
        return 0;
}

/* Whether pid runs `<control> -f` with this GPU's pipe directory: the cmdline as the kernel keeps it
 * (a script's has its interpreter first, so the control path is looked for anywhere) and the
 * environment it was started with. A reused PID, or a zombie (empty cmdline), is not the daemon. */
static bool pid_is_daemon(pid_t pid, const char *control, const char *pipe_dir) {
        _cleanup_free_ char *path = NULL, *cmdline = NULL, *environ_text = NULL, *want = NULL;
        size_t n, m;
        bool found = false;

        path = strprintf("/proc/%d/cmdline", (int) pid);
        if (!path || read_full_file(path, &cmdline, &n) < 0)
                return false;
        for (size_t i = 0; i < n; i += strlen(cmdline + i) + 1) {
                size_t next = i + strlen(cmdline + i) + 1;

                if (streq(cmdline + i, control) && next < n && streq(cmdline + next, "-f")) {
                        found = true;
                        break;
                }
        }
        if (!found)
                return false;
        free(path);
        path = strprintf("/proc/%d/environ", (int) pid);
        want = strprintf("CUDA_MPS_PIPE_DIRECTORY=%s", pipe_dir);
        if (!path || !want || read_full_file(path, &environ_text, &m) < 0)
                return false;
        for (size_t i = 0; i < m; i += strlen(environ_text + i) + 1)
                if (streq(environ_text + i, want))
                        return true;
        return false;
}

static int running(const MpsConfig *c, const Paths *p, Record *ret) {
        Record rec;
        int r;

        if (isempty(c->control))
                return -EINVAL;
        r = record_read(p, &rec);
        if (r < 0)
                return 0; /* none recorded, or a record cut short: no daemon to trust */
        if (!pid_is_daemon(rec.pid, c->control, p->pipe))
                return 0;
        if (ret)
                *ret = rec;
        return 1;
}

int mps_running(const MpsConfig *c, const char *address, pid_t *ret_pid) {
        _cleanup_(paths_done) Paths p = {};
        Record rec;
        int r;

        r = paths_make(c, address, &p);
        if (r < 0)
                return r;
        r = running(c, &p, &rec);
        if (r > 0 && ret_pid)
                *ret_pid = rec.pid;
        return r;
}

/* ---- running the control binary ---- */

/* The daemon's environment, and the client's: nothing of arkd's. */
typedef struct Env {
        char *v[5];
} Env;

static void env_done(Env *e) {
        for (size_t i = 0; i < ELEMENTSOF(e->v); i++)
                free(e->v[i]);
}

static int env_make(const MpsConfig *c, const Paths *p, const char *uuid, Env *ret) {
        _cleanup_free_ char *dir = strdup(c->control);
        char *slash = dir ? strrchr(dir, '/') : NULL;
        Env e = {};

        if (!dir)
                return -ENOMEM;
        if (slash)
                *(slash == dir ? slash + 1 : slash) = 0;
        e.v[0] = strprintf("PATH=%s%s" MPS_PATH, slash ? dir : "", slash ? ":" : "");
        e.v[1] = strprintf("CUDA_MPS_PIPE_DIRECTORY=%s", p->pipe);
        e.v[2] = strprintf("CUDA_MPS_LOG_DIRECTORY=%s", p->log);
        e.v[3] = strprintf("CUDA_VISIBLE_DEVICES=%s", uuid);
        if (!e.v[0] || !e.v[1] || !e.v[2] || !e.v[3]) {
                env_done(&e);
                return -ENOMEM;
        }
        *ret = e;
        return 0;
}

/* In a forked child: arkd's signal state goes back to the defaults (a blocked SIGTERM would be
 * inherited), fds[0..2] become 0..2 (-1: /dev/null), keep (when >= 0) becomes 3, close-on-exec,
 * and every other fd is closed (arkd's database, its bus connection, its PID file lock). Only
 * async-signal-safe calls: arkd may have threads. */
static void child_setup(const int fds[3], int keep) {
        child_reset_signals();
        child_move_fds(fds, keep, true);
}

/* Runs the client with `command` on its stdin. Returns its exit status (0..255; 128+N when killed
 * by signal N), -ETIMEDOUT after CLIENT_TIMEOUT_USEC (then killed), or a negative errno when it
 * could not run. *ret_output: what it printed on stdout and stderr, stripped. */
static int run_client(const MpsConfig *c, const Env *env, const char *command, char **ret_output) {
        char *const argv[] = { (char *) c->control, NULL };
        _cleanup_close_pair_ int in[2] = EBADF_PAIR, out[2] = EBADF_PAIR;
        _cleanup_free_ char *line = strprintf("%s\n", command);
        StrBuf b = {};
        uint64_t deadline = now_usec() + CLIENT_TIMEOUT_USEC;
        bool timed_out = false;
        int status, r;
        pid_t pid;

        if (!line)
                return -ENOMEM;
        if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                child_setup((const int[3]) { in[0], out[1], out[1] }, -1);
                execve(argv[0], argv, env->v);
                _exit(127);
        }
        in[0] = safe_close(in[0]);
        out[1] = safe_close(out[1]);
        /* One short line fits the pipe: no deadlock with a client that prints before reading. */
        (void) loop_write(in[1], line, strlen(line));
        in[1] = safe_close(in[1]);

        strbuf_append(&b, "");
        for (;;) {
                struct pollfd pfd = { .fd = out[0], .events = POLLIN };
                uint64_t now = now_usec();
                char buf[1024];
                ssize_t n;

                if (now >= deadline) {
                        timed_out = true;
                        break;
                }
                r = poll(&pfd, 1, (int) ((deadline - now) / 1000) + 1);
                if (r < 0 && errno != EINTR)
                        break;
                if (r <= 0)
                        continue;
                n = read(out[0], buf, sizeof buf - 1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                buf[n] = 0;
                if (b.len < OUTPUT_MAX)
                        strbuf_append(&b, buf);
        }
        /* Its stdout closed: it exits now, or it is stuck (a daemon's child holding nothing). */
        while (!timed_out) {
                r = waitpid(pid, &status, WNOHANG);
                if (r == pid)
                        break;
                if (r < 0 && errno != EINTR) {
                        strbuf_done(&b);
                        return -errno;
                }
                if (now_usec() >= deadline)
                        timed_out = true;
                else
                        (void) usleep(10000);
        }
        if (timed_out) {
                (void) kill(pid, SIGKILL);
                while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                        ;
                strbuf_done(&b);
                return -ETIMEDOUT;
        }
        if (ret_output) {
                char *s = strbuf_steal(&b), *t;

                if (!s)
                        return -ENOMEM;
                t = strstrip(s);
                memmove(s, t, strlen(t) + 1);
                *ret_output = s;
        } else
                strbuf_done(&b);
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        return 128 + WTERMSIG(status);
}

/* Sends one command; any status but 0 is -EIO with a sentence naming it and its output. */
static int send_command(const MpsConfig *c, const Env *env, const char *address, const char *command,
                        char **ret_output, char **ret_error) {
        _cleanup_free_ char *output = NULL;
        int r = run_client(c, env, command, &output);

        if (r == -ETIMEDOUT)
                return set_error_sentence(ret_error, -EIO,
                                          "The MPS command '%s' for GPU %s did not finish within %llu s.",
                                          command, address, CLIENT_TIMEOUT_USEC / 1000000ULL);
        if (r < 0)
                return set_error_sentence(ret_error, r, "Cannot run '%s' for the MPS command '%s': %s.",
                                          printable(c->control), command, strerror(-r));
        if (r != 0)
                return set_error_sentence(
                        ret_error, -EIO, "The MPS command '%s' for GPU %s failed (exit status %d): %s",
                        command, address, r, isempty(output) ? "it printed nothing." : printable(output));
        if (ret_output)
                *ret_output = TAKE_PTR(output);
        return 0;
}

/* ---- directories ---- */

/* Unmounts shm/ (every mount stacked there) and removes the GPU's directory. */
static int remove_dirs(const Paths *p) {
        for (int i = 0; i < 8 && umount2(p->shm, MNT_DETACH | UMOUNT_NOFOLLOW) == 0; i++)
                ;
        return rm_rf(p->gpu);
}

/* Every directory from the runtime directory up must let the tenant's UID through. */
static int check_searchable(const Paths *p, char **ret_error) {
        _cleanup_free_ char *dir = strdup(p->top);
        char *slash;

        if (!dir)
                return -ENOMEM;
        for (;;) {
                struct stat st;

                if (stat(dir, &st) < 0)
                        return set_error_sentence(ret_error, -errno, "Cannot check '%s': %s.", dir,
                                                  strerror(errno));
                if (!(st.st_mode & S_IXOTH))
                        return set_error_sentence(ret_error, -EACCES,
                                                  "An MPS server cannot reach its directories: '%s' is "
                                                  "not searchable by other users.",
                                                  dir);
                slash = strrchr(dir, '/');
                if (!slash || slash == dir)
                        break;
                *slash = 0;
        }
        return 0;
}

/* Makes the GPU's directories afresh. Returns 1 when shm/ is a tmpfs, 0 when a plain directory. */
static int make_dirs(const MpsConfig *c, const Paths *p, const MpsShare *s, char **ret_error) {
        const char *sub[] = { p->pipe, p->log, p->shm };
        _cleanup_free_ char *opts = NULL;
        int r;

        r = mkdir_p_mode(p->top, 0711);
        if (r < 0)
                return set_error_sentence(ret_error, r, "Cannot make '%s': %s.", p->top, strerror(-r));
        if (chown(p->top, 0, 0) < 0 || chmod(p->top, 0711) < 0)
                return set_error_sentence(ret_error, -errno, "Cannot set the owner of '%s': %s.", p->top,
                                          strerror(errno));
        r = check_searchable(p, ret_error);
        if (r < 0)
                return r;
        r = remove_dirs(p);
        if (r < 0 && r != -ENOENT)
                return set_error_sentence(ret_error, r, "Cannot remove the old '%s': %s.", p->gpu,
                                          strerror(-r));
        /* The GPU's directory is root's and new, so nobody can have put a link where the
         * tenant's directories go. */
        if (mkdir(p->gpu, 0711) < 0 || chmod(p->gpu, 0711) < 0)
                return set_error_sentence(ret_error, -errno, "Cannot make '%s': %s.", p->gpu,
                                          strerror(errno));
        for (size_t i = 0; i < ELEMENTSOF(sub); i++)
                if (mkdir(sub[i], 0700) < 0 || lchown(sub[i], s->uid, s->gid) < 0 || chmod(sub[i], 0700) < 0)
                        return set_error_sentence(ret_error, -errno, "Cannot make '%s': %s.", sub[i],
                                                  strerror(errno));

        opts = strprintf("size=%llu,mode=0700,uid=%u,gid=%u",
                         (unsigned long long) (c->shm_bytes ?: MPS_SHM_BYTES_DEFAULT), (unsigned) s->uid,
                         (unsigned) s->gid);
        if (!opts)
                return -ENOMEM;
        if (mount("tmpfs", p->shm, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) == 0)
                return 1;
        if (errno == EPERM || errno == ENODEV)
                return 0; /* a plain directory, as the header says */
        return set_error_sentence(ret_error, -errno, "Cannot mount a tmpfs on '%s': %s.", p->shm,
                                  strerror(errno));
}

/* ---- the daemon ---- */

/* Starts `<control> -f`, forked twice (the middle process has made a session of its own and exits
 * at once), and returns its PID. With shm_ns, it runs in a mount namespace of its own with shm/
 * bound on /dev/shm (its servers inherit it; host mounts still propagate in). */
static int spawn_daemon(const MpsConfig *c, const Paths *p, const Env *env, bool shm_ns, pid_t *ret_pid,
                        char **ret_error) {
        char *const argv[] = { (char *) c->control, (char *) "-f", NULL };
        _cleanup_close_pair_ int report[2] = EBADF_PAIR;
        _cleanup_close_ int outfd = -EBADF;
        int status, err = 0;
        pid_t pid, daemon_pid = 0;
        ssize_t n;

        /* New, in the tenant's directory made just now: O_EXCL | O_NOFOLLOW take no planted file. */
        outfd = open(p->out, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_APPEND, 0600);
        if (outfd < 0)
                return set_error_sentence(ret_error, -errno, "Cannot make '%s': %s.", p->out,
                                          strerror(errno));
        if (pipe2(report, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                pid_t self;

                child_setup((const int[3]) { -1, outfd, outfd }, report[1]);
                if (setsid() < 0)
                        _exit(126);
                if (fork() != 0)
                        _exit(0); /* the middle process: its end (or fork's failure) is EOF below */
                self = getpid();
                if (write(3, &self, sizeof self) != sizeof self)
                        _exit(126);
                if (shm_ns &&
                    (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0 ||
                     mount(p->shm, "/dev/shm", NULL, MS_BIND, NULL) < 0)) {
                        err = errno;
                        (void) write(3, &err, sizeof err);
                        _exit(126);
                }
                umask(0022); /* as the tool is run from a shell, not arkd's 0077 */
                if (chdir("/") < 0)
                        _exit(126);
                execve(argv[0], argv, env->v);
                err = errno;
                (void) write(3, &err, sizeof err);
                _exit(127);
        }
        report[1] = safe_close(report[1]);
        do
                n = read(report[0], &daemon_pid, sizeof daemon_pid);
        while (n < 0 && errno == EINTR);
        if (n == sizeof daemon_pid)
                do
                        n = read(report[0], &err, sizeof err);
                while (n < 0 && errno == EINTR);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (daemon_pid <= 0)
                return set_error_sentence(ret_error, -EIO, "Cannot start the MPS control daemon '%s'.",
                                          printable(c->control));
        if (n == sizeof err)
                return set_error_sentence(ret_error, -err,
                                          "Cannot start the MPS control daemon '%s' -f: %s.",
                                          printable(c->control), strerror(err));
        *ret_pid = daemon_pid;
        return 0;
}

/* Waits until pidfd says the process ended, at most usec. 1 ended, 0 not yet. */
static int wait_exit(int pidfd, uint64_t usec) {
        uint64_t deadline = now_usec() + usec;

        for (;;) {
                struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
                uint64_t now = now_usec();
                int r;

                if (now >= deadline)
                        return 0;
                r = poll(&pfd, 1, (int) ((deadline - now) / 1000) + 1);
                if (r > 0)
                        return 1;
                if (r < 0 && errno != EINTR)
                        return -errno;
        }
}

/* The daemon's last words for a sentence: the end of control.out. */
static char *daemon_output(const Paths *p) {
        _cleanup_close_ int fd = -EBADF;
        char buf[301];
        struct stat st;
        ssize_t k;

        /* In the tenant's log directory: never through a link it made, a regular file only; its
         * last 300 bytes. */
        fd = open(p->out, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return strdup("it printed nothing.");
        k = pread(fd, buf, sizeof(buf) - 1, st.st_size > 300 ? st.st_size - 300 : 0);
        if (k <= 0)
                return strdup("it printed nothing.");
        buf[k] = 0;
        if (isempty(strstrip(buf)))
                return strdup("it printed nothing.");
        return strdup(printable(strstrip(buf)));
}

/* The control daemon creates its socket "control" in the pipe directory when it is ready ("Starting
 * control daemon using socket <pipe>/control" in its log). */
static int wait_ready(const Paths *p, int pidfd, const char *address, char **ret_error) {
        _cleanup_free_ char *sock = path_join(p->pipe, "control");
        uint64_t deadline = now_usec() + READY_TIMEOUT_USEC;

        if (!sock)
                return -ENOMEM;
        for (;;) {
                if (access(sock, F_OK) == 0)
                        return 0;
                if (wait_exit(pidfd, 20000) > 0) {
                        _cleanup_free_ char *o = daemon_output(p);
                        return set_error_sentence(ret_error, -EIO,
                                                  "The MPS control daemon of GPU %s exited at once: %s",
                                                  address, strna(o));
                }
                if (now_usec() >= deadline)
                        return set_error_sentence(ret_error, -EIO,
                                                  "The MPS control daemon of GPU %s made no control socket "
                                                  "within %llu s.",
                                                  address, READY_TIMEOUT_USEC / 1000000ULL);
        }
}

/* The daemon's children (the MPS servers it started, as the tenant's UID), as pidfds in fds (at
 * most max): they go with it. */
static size_t daemon_children(pid_t pid, int *fds, size_t max) {
        DIR *d = opendir("/proc");
        struct dirent *e;
        size_t n = 0;

        while (d && n < max && (e = readdir(d))) {
                _cleanup_free_ char *stat = NULL, *path = NULL;
                const char *close_paren;
                int ppid;

                if (strspn(e->d_name, "0123456789") != strlen(e->d_name))
                        continue;
                path = strprintf("/proc/%s/stat", e->d_name);
                if (!path || read_full_file(path, &stat, NULL) < 0)
                        continue;
                /* "pid (comm) state ppid ...": comm may hold anything, so from the last ')'. */
                close_paren = strrchr(stat, ')');
                if (!close_paren || sscanf(close_paren + 1, " %*c %d", &ppid) != 1 || ppid != pid)
                        continue;
                fds[n] = pidfd_open(atoi(e->d_name), 0);
                if (fds[n] >= 0)
                        n++;
        }
        if (d)
                closedir(d);
        return n;
}

/* Ends the daemon at pid: SIGTERM, SIGKILL after the timeout, through its pidfd, and its servers
 * with it. 0 gone after SIGTERM, -ETIMEDOUT gone after SIGKILL, -EBUSY still there. Not with the
 * client's `quit`: the client would connect to `control` in the pipe directory, which the tenant's
 * containers can write (a symlink there would send root's `quit` to another GPU's daemon, or a
 * socket that never answers would hold arkd). */
static int stop_daemon(const char *address, pid_t pid, char **ret_error) {
        _cleanup_close_ int pidfd = pidfd_open(pid, 0);
        int kids[64], r;
        size_t n_kids;

        if (pidfd < 0)
                return errno == ESRCH ? 0 : -errno;
        n_kids = daemon_children(pid, kids, ELEMENTSOF(kids));
        (void) pidfd_send_signal(pidfd, SIGTERM, NULL, 0);
        r = wait_exit(pidfd, MPS_STOP_TIMEOUT_USEC);
        if (r <= 0) {
                (void) pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
                r = wait_exit(pidfd, 1000000) > 0 ? -ETIMEDOUT : -EBUSY;
        } else
                r = 0;
        for (size_t k = 0; k < n_kids; k++) {
                (void) pidfd_send_signal(kids[k], SIGKILL, NULL, 0);
                safe_close(kids[k]);
        }
        if (r == -ETIMEDOUT)
                return set_error_sentence(
                        ret_error, r,
                        "The MPS control daemon of GPU %s did not end within %llu s of SIGTERM "
                        "and was killed.",
                        address, MPS_STOP_TIMEOUT_USEC / 1000000ULL);
        if (r == -EBUSY)
                return set_error_sentence(ret_error, r,
                                          "The MPS control daemon of GPU %s (PID %d) survived SIGKILL.",
                                          address, (int) pid);
        return 0;
}

/* "10G" for whole GiB, else MiB: the two units set_default_device_pinned_mem_limit takes. */
static char *limit_string(uint64_t mib) {
        if (mib % 1024 == 0)
                return strprintf("%lluG", (unsigned long long) (mib / 1024));
        return strprintf("%lluM", (unsigned long long) mib);
}

/* What get_default_device_pinned_mem_limit printed, in bytes: a number and a unit (G, M, K, none:
 * bytes); drivers show a limit of 1 GiB or more in whole GiB, rounded down. 0 unparsable. */
static uint64_t parse_limit(const char *s) {
        char *end;
        double v = strtod(s, &end);

        if (end == s || v <= 0)
                return 0;
        while (*end == ' ')
                end++;
        switch (*end) {
        case 'G':
        case 'g':
                return (uint64_t) (v * GIB);
        case 'M':
        case 'm':
                return (uint64_t) (v * MIB);
        case 'K':
        case 'k':
                return (uint64_t) (v * 1024);
        case 0:
                return (uint64_t) v;
        default:
                return 0;
        }
}

/* The limits, read back and the server started. A client that took a value and printed nothing
 * would otherwise leave a share without limits; the check fails closed. */
static int configure(const MpsConfig *c, const Env *env, const MpsShare *s, char **ret_error) {
        _cleanup_free_ char *pct = NULL, *limit = NULL, *mem = NULL, *start = NULL, *out1 = NULL,
                            *out2 = NULL;
        uint64_t want = s->pinned_memory_bytes / MIB * MIB, shown;
        char *end;
        double v;
        int r;

        limit = limit_string(want / MIB);
        pct = strprintf("set_default_active_thread_percentage %u", s->active_thread_percentage);
        mem = limit ? strprintf("set_default_device_pinned_mem_limit 0 %s", limit) : NULL;
        start = strprintf("start_server -uid %u", (unsigned) s->uid);
        if (!pct || !mem || !start)
                return -ENOMEM;
        r = send_command(c, env, s->address, pct, NULL, ret_error);
        if (r >= 0)
                r = send_command(c, env, s->address, mem, NULL, ret_error);
        if (r >= 0)
                r = send_command(c, env, s->address, "get_default_active_thread_percentage", &out1,
                                 ret_error);
        if (r >= 0)
                r = send_command(c, env, s->address, "get_default_device_pinned_mem_limit 0", &out2,
                                 ret_error);
        if (r < 0)
                return r;
        v = strtod(out1, &end);
        if (end == out1 || v < s->active_thread_percentage - 0.5 || v > s->active_thread_percentage + 0.5)
                return set_error_sentence(ret_error, -EIO,
                                          "The MPS daemon of GPU %s did not take '%s': "
                                          "get_default_active_thread_percentage printed '%s'.",
                                          s->address, pct, printable(out1));
        shown = parse_limit(out2);
        if (shown == 0 || shown > want || shown + GIB <= want)
                return set_error_sentence(ret_error, -EIO,
                                          "The MPS daemon of GPU %s did not take '%s': "
                                          "get_default_device_pinned_mem_limit 0 printed '%s'.",
                                          s->address, mem, printable(out2));
        return send_command(c, env, s->address, start, NULL, ret_error);
}

int mps_start(const MpsConfig *c, const MpsShare *s, char **ret_error) {
        _cleanup_(paths_done) Paths p = {};
        _cleanup_(env_done) Env env = {};
        _cleanup_close_ int pidfd = -EBADF;
        Record rec = {}, old;
        bool tmpfs;
        int r;

        if (!c || !s || isempty(c->control) || c->control[0] != '/')
                return set_error_sentence(ret_error, -EINVAL,
                                          "The MPS control binary must be an absolute path.");
        r = paths_make(c, s->address, &p);
        if (r == -EINVAL)
                return set_error_sentence(ret_error, r, "'%s' is not a PCI address.",
                                          printable(strna(s->address)));
        if (r < 0)
                return r;
        if (!uuid_is_valid(s->uuid))
                return set_error_sentence(ret_error, -EINVAL, "'%s' is not a GPU UUID.",
                                          printable(strna(s->uuid)));
        if (s->uid == 0 || s->uid == (uid_t) -1 || s->gid == (gid_t) -1)
                return set_error_sentence(ret_error, -EINVAL,
                                          "An MPS server for GPU %s must run as a tenant's UID, not %d.",
                                          s->address, (int) s->uid);
        if (s->active_thread_percentage < 1 || s->active_thread_percentage > 100)
                return set_error_sentence(ret_error, -EINVAL, "%u%% is no active thread percentage.",
                                          s->active_thread_percentage);
        if (s->pinned_memory_bytes < MIB)
                return set_error_sentence(ret_error, -EINVAL,
                                          "A pinned memory limit of %llu bytes is below 1 MiB.",
                                          (unsigned long long) s->pinned_memory_bytes);

        r = running(c, &p, &old);
        if (r > 0 && old.configured) {
                if (old.uid != s->uid || old.gid != s->gid)
                        return set_error_sentence(ret_error, -EBUSY,
                                                  "The MPS daemon of GPU %s serves UID %u; UID %u must wait "
                                                  "until its shares end.",
                                                  s->address, (unsigned) old.uid, (unsigned) s->uid);
                if (!streq(old.uuid, s->uuid) || old.percentage != s->active_thread_percentage ||
                    old.pinned_mib != s->pinned_memory_bytes / MIB)
                        return set_error_sentence(ret_error, -EBUSY,
                                                  "The MPS daemon of GPU %s runs with %u%% and %llu MiB per "
                                                  "client; its limits cannot change while it runs.",
                                                  s->address, old.percentage,
                                                  (unsigned long long) old.pinned_mib);
                return 1;
        }
        if (r > 0) {
                /* Started but never configured (arkd died halfway): it may run without limits. */
                r = mps_stop(c, s->address, ret_error);
                if (r < 0 && r != -ETIMEDOUT)
                        return r;
        }

        r = make_dirs(c, &p, s, ret_error);
        if (r < 0)
                goto fail;
        tmpfs = r > 0;
        r = env_make(c, &p, s->uuid, &env);
        if (r < 0)
                goto fail;
        r = spawn_daemon(c, &p, &env, tmpfs, &rec.pid, ret_error);
        if (r < 0)
                goto fail;
        rec.uid = s->uid;
        rec.gid = s->gid;
        snprintf(rec.uuid, sizeof rec.uuid, "%s", s->uuid);
        rec.percentage = s->active_thread_percentage;
        rec.pinned_mib = s->pinned_memory_bytes / MIB;
        /* Recorded before anything else, so a stop after a crash from here on finds it. */
        r = record_write(&p, &rec);
        if (r < 0) {
                (void) kill(rec.pid, SIGKILL);
                set_error_sentence(ret_error, r, "Cannot write '%s': %s.", p.pid, strerror(-r));
                goto fail;
        }
        pidfd = pidfd_open(rec.pid, 0);
        if (pidfd < 0) {
                r = set_error_sentence(ret_error, -EIO, "The MPS control daemon of GPU %s exited at once.",
                                       s->address);
                goto fail;
        }
        r = wait_ready(&p, pidfd, s->address, ret_error);
        if (r >= 0)
                r = configure(c, &env, s, ret_error);
        if (r >= 0) {
                rec.configured = true;
                r = record_write(&p, &rec);
                if (r < 0)
                        set_error_sentence(ret_error, r, "Cannot write '%s': %s.", p.pid, strerror(-r));
        }
        if (r < 0) {
                (void) stop_daemon(s->address, rec.pid, NULL);
                goto fail;
        }
        return tmpfs ? 0 : 2;

fail:
        (void) remove_dirs(&p);
        return r;
}

int mps_stop(const MpsConfig *c, const char *address, char **ret_error) {
        _cleanup_(paths_done) Paths p = {};
        Record rec;
        int r, k;

        r = paths_make(c, address, &p);
        if (r == -EINVAL)
                return set_error_sentence(ret_error, r, "'%s' is not a PCI address.",
                                          printable(strna(address)));
        if (r < 0)
                return r;
        r = running(c, &p, &rec);
        if (r < 0)
                return r;
        if (r > 0) {
                r = stop_daemon(address, rec.pid, ret_error);
                if (r == -EBUSY)
                        return r;
        }
        k = remove_dirs(&p);
        if (k < 0 && k != -ENOENT && r >= 0)
                return set_error_sentence(ret_error, k, "Cannot remove '%s': %s.", p.gpu, strerror(-k));
        return r;
}

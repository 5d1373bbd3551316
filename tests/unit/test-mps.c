/* Tests for appliance/hw/mps: MPS control daemons started, found again, refused and stopped, against
 * tests/fake-mps-control (a copy per test, so its knob files stay the test's own). The daemon
 * really is double-forked, mounts and ownership are real: root only. */

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tmpdir.h"

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "mps.h"

#define GPU0 "0000:18:00.0"
#define GPU1 "0000:2a:00.0"
#define UUID0 "GPU-00002330-ark0-fixt-ure0-000000000000"
#define UUID1 "GPU-00002330-ark0-fixt-ure0-000000000001"
#define TENANT_UID 231072
#define TENANT_GID 231073
#define OTHER_UID 296608
#define SHM_BYTES (64ULL << 20)
#define TMPFS_MAGIC_ 0x01021994

/* The daemon's ownership, mount and /proc/<pid>/environ need root. */
#define REQUIRE_ROOT() \
        do { \
                if (geteuid() != 0) { \
                        printf("# needs root (chown, mount, another process's environ): skipped\n"); \
                        skip(); \
                } \
        } while (0)

typedef struct Fixture {
        char *dir, *control, *journal, *run;
        MpsConfig cfg;
        MpsShare share;
} Fixture;

static const char *srcdir(void) {
        const char *e = getenv("ARK_SRCDIR");
        return isempty(e) ? ARK_SRCDIR : e;
}

static char *slurp(const char *path) {
        char *s = NULL;
        int r = read_full_file(path, &s, NULL);

        if (r < 0)
                fail_msg("cannot read %s: %s", path, strerror(-r));
        return s;
}

static void put(const char *path, const char *s) {
        assert_int_equal(write_string_file(path, s, WRITE_CREATE), 0);
}

static int fixture_setup(void **state) {
        _cleanup_free_ char *fake = strprintf("%s/tests/fake-mps-control", srcdir()), *text = NULL;
        Fixture *f = calloc(1, sizeof *f);

        assert_non_null(f);
        assert_non_null(fake);
        f->dir = make_tmpdir();
        /* The tenant's server must get through every directory above its own (mps.h). */
        assert_int_equal(chmod(tmp_root, 0711), 0);
        assert_int_equal(chmod(f->dir, 0711), 0);
        f->control = join(f->dir, "nvidia-cuda-mps-control");
        f->journal = strprintf("%s.journal", f->control);
        f->run = join(f->dir, "run");
        assert_non_null(f->journal);
        text = slurp(fake);
        put(f->control, text);
        assert_int_equal(chmod(f->control, 0755), 0);
        put(f->journal, "");
        f->cfg = (MpsConfig) { .control = f->control, .runtime_dir = f->run, .shm_bytes = SHM_BYTES };
        f->share = (MpsShare) {
                .address = GPU0,
                .uuid = UUID0,
                .uid = TENANT_UID,
                .gid = TENANT_GID,
                .active_thread_percentage = 25,
                .pinned_memory_bytes = 10ULL << 30,
        };
        *state = f;
        return 0;
}

static int fixture_teardown(void **state) {
        Fixture *f = *state;

        /* A test that failed halfway leaves its daemons: they go before the directory does. */
        (void) mps_stop(&f->cfg, GPU0, NULL);
        (void) mps_stop(&f->cfg, GPU1, NULL);
        (void) mps_stop(&f->cfg, "0000:18:00.7", NULL);
        rm_tmpdirp(&f->dir);
        free(f->control);
        free(f->journal);
        free(f->run);
        free(f);
        return 0;
}

static char *gpu_path(const Fixture *f, const char *address, const char *rel) {
        char *p = rel ? strprintf("%s/mps/%s/%s", f->run, address, rel)
                      : strprintf("%s/mps/%s", f->run, address);

        assert_non_null(p);
        return p;
}

static void assert_dir(const char *path, uid_t uid, gid_t gid, mode_t mode) {
        struct stat st;

        if (lstat(path, &st) < 0)
                fail_msg("%s: %s", path, strerror(errno));
        assert_true(S_ISDIR(st.st_mode));
        if (st.st_uid != uid || st.st_gid != gid || (st.st_mode & 07777) != mode)
                fail_msg("%s is %u:%u %04o, expected %u:%u %04o", path, st.st_uid, st.st_gid,
                         st.st_mode & 07777, uid, gid, mode);
}

static bool mounted(const char *path) {
        _cleanup_free_ char *info = slurp("/proc/self/mountinfo");
        _cleanup_free_ char *needle = strprintf(" %s ", path);

        return strstr(info, needle) != NULL;
}

static bool journal_has(const Fixture *f, const char *line) {
        _cleanup_free_ char *j = slurp(f->journal);
        _cleanup_free_ char *needle = strprintf("\n%s\n", line);
        _cleanup_free_ char *whole = strprintf("\n%s", j);

        return strstr(whole, needle) != NULL;
}

/* The value of "key: " in daemon.started. */
static long started_field(const char *started, const char *key) {
        _cleanup_free_ char *k = strprintf("\n%s: ", key), *whole = strprintf("\n%s", started);
        const char *p = strstr(whole, k);

        if (!p)
                fail_msg("daemon.started has no %s", key);
        return strtol(p + strlen(k), NULL, 10);
}

static const char expected_commands[] = "set_default_active_thread_percentage 25\n"
                                        "set_default_device_pinned_mem_limit 0 10G\n"
                                        "get_default_active_thread_percentage\n"
                                        "get_default_device_pinned_mem_limit 0\n"
                                        "start_server -uid 231072\n";

static void test_start(void **state) {
        REQUIRE_ROOT();
        Fixture *f = *state;
        _cleanup_free_ char *err = NULL, *top = NULL, *gpu = gpu_path(f, GPU0, NULL), *pipe = NULL,
                            *log = NULL, *shm = NULL, *pidfile = NULL, *started = NULL, *commands = NULL,
                            *env = NULL, *want_env = NULL, *p_pipe = NULL, *p_shm = NULL;
        struct stat st;
        struct statfs sfs;
        pid_t pid = 0;
        int r;

        top = strprintf("%s/mps", f->run);
        pipe = gpu_path(f, GPU0, "pipe");
        log = gpu_path(f, GPU0, "log");
        shm = gpu_path(f, GPU0, "shm");
        pidfile = gpu_path(f, GPU0, "control.pid");
        /* Nothing of the caller's environment reaches the daemon. */
        assert_int_equal(setenv("ARK_MPS_CANARY", "leaked", 1), 0);
        r = mps_start(&f->cfg, &f->share, &err);
        if (r < 0)
                fail_msg("mps_start: %d %s", r, err);
        assert_true(r == 0 || r == 2);

        assert_dir(top, 0, 0, 0711);
        assert_dir(gpu, 0, 0, 0711);
        assert_dir(pipe, TENANT_UID, TENANT_GID, 0700);
        assert_dir(log, TENANT_UID, TENANT_GID, 0700);
        assert_dir(shm, TENANT_UID, TENANT_GID, 0700);
        assert_int_equal(lstat(pidfile, &st), 0);
        assert_int_equal(st.st_uid, 0);
        assert_int_equal(st.st_mode & 0077, 0);
        assert_int_equal(statfs(shm, &sfs), 0);
        if (r == 0) {
                /* Its own tmpfs, of the size asked for. */
                assert_int_equal(sfs.f_type, TMPFS_MAGIC_);
                assert_int_equal((uint64_t) sfs.f_blocks * sfs.f_bsize, SHM_BYTES);
                assert_true(mounted(shm));
        } else {
                printf("# mount() is refused here: shm/ is a plain directory\n");
                assert_false(mounted(shm));
        }

        /* The daemon: -f, its whole environment the four variables, its /dev/shm the GPU's. */
        _cleanup_free_ char *started_path = join(log, "daemon.started");
        started = slurp(started_path);
        assert_non_null(strstr(started, "args: -f\n"));
        env = strdup(strstr(started, "\nshm: ") + 1);
        assert_non_null(env);
        want_env = strprintf("PATH=%s:/usr/sbin:/usr/bin:/sbin:/bin\nCUDA_MPS_PIPE_DIRECTORY=%s\n"
                             "CUDA_MPS_LOG_DIRECTORY=%s\nCUDA_VISIBLE_DEVICES=" UUID0 "\n",
                             f->dir, pipe, log);
        assert_string_equal(strchr(env, '\n') + 1, want_env);
        if (r == 0) {
                assert_int_equal(stat(shm, &st), 0);
                assert_int_equal(started_field(started, "shm"), (long) st.st_dev);
        }

        /* The commands, in order, with the share's values. */
        _cleanup_free_ char *commands_path = join(log, "commands");
        commands = slurp(commands_path);
        assert_string_equal(commands, expected_commands);

        assert_int_equal(mps_running(&f->cfg, GPU0, &pid), 1);
        assert_int_equal(pid, started_field(started, "pid"));
        /* Not the caller's child, nor in its session. */
        assert_int_not_equal(getsid(pid), getsid(0));
        assert_int_not_equal(getsid(pid), pid);
        _cleanup_free_ char *stat_path = strprintf("/proc/%d/stat", (int) pid),
                            *stat_text = slurp(stat_path);
        int ppid = 0;
        assert_int_equal(sscanf(strrchr(stat_text, ')'), ") %*c %d", &ppid), 1);
        assert_int_not_equal(ppid, getpid());

        assert_int_equal(mps_paths(&f->cfg, GPU0, &p_pipe, &p_shm), 0);
        assert_string_equal(p_pipe, pipe);
        assert_string_equal(p_shm, shm);
        assert_int_equal(mps_paths(&f->cfg, "../../etc", NULL, NULL), -EINVAL);
        unsetenv("ARK_MPS_CANARY");
}

static void test_idempotent_and_busy(void **state) {
        REQUIRE_ROOT();
        Fixture *f = *state;
        _cleanup_free_ char *err = NULL, *commands_path = gpu_path(f, GPU0, "log/commands"),
                            *commands = NULL;
        MpsShare other = f->share;
        pid_t pid, again;

        assert_true(mps_start(&f->cfg, &f->share, &err) >= 0);
        assert_int_equal(mps_running(&f->cfg, GPU0, &pid), 1);
        /* The same share again: kept, nothing sent. */
        assert_int_equal(mps_start(&f->cfg, &f->share, &err), 1);
        assert_int_equal(mps_running(&f->cfg, GPU0, &again), 1);
        assert_int_equal(again, pid);
        commands = slurp(commands_path);
        assert_string_equal(commands, expected_commands);

        /* Another tenant waits for this one's shares to end. */
        other.uid = OTHER_UID;
        other.gid = OTHER_UID;
        assert_int_equal(mps_start(&f->cfg, &other, &err), -EBUSY);
        assert_non_null(strstr(err, "serves UID 231072"));
        /* Limits cannot change under a running server. */
        other = f->share;
        other.active_thread_percentage = 50;
        assert_int_equal(mps_start(&f->cfg, &other, &err), -EBUSY);
        assert_non_null(strstr(err, "25%"));
        other = f->share;
        other.pinned_memory_bytes = 20ULL << 30;
        assert_int_equal(mps_start(&f->cfg, &other, &err), -EBUSY);
        assert_int_equal(mps_running(&f->cfg, GPU0, &again), 1);
        assert_int_equal(again, pid);
}

static void test_found_again(void **state) {
        REQUIRE_ROOT();
        Fixture *f = *state;
        _cleanup_free_ char *err = NULL, *pidfile = gpu_path(f, GPU0, "control.pid"), *saved = NULL,
                            *control = strdup(f->control), *run = strdup(f->run), *fake = NULL;
        pid_t pid, found;
        int r;

        assert_true(mps_start(&f->cfg, &f->share, &err) >= 0);
        assert_int_equal(mps_running(&f->cfg, GPU0, &pid), 1);
        /* A caller that kept nothing (arkd restarted) finds it by its PID file. */
        MpsConfig fresh = { .control = control, .runtime_dir = run };
        assert_int_equal(mps_running(&fresh, GPU0, &found), 1);
        assert_int_equal(found, pid);
        assert_int_equal(mps_start(&fresh, &f->share, &err), 1);

        /* A PID that is some other process (ours) is not the daemon, */
        saved = slurp(pidfile);
        fake = strprintf("%d\n%s", (int) getpid(), strchr(saved, '\n') + 1);
        put(pidfile, fake);
        assert_int_equal(mps_running(&fresh, GPU0, &found), 0);
        /* nor one with the daemon's environment running another program. */
        _cleanup_free_ char *pipe_env = strprintf("CUDA_MPS_PIPE_DIRECTORY=%s/mps/" GPU0 "/pipe", f->run);
        pid_t impostor = fork();
        assert_true(impostor >= 0);
        if (impostor == 0) {
                execle("/bin/sleep", "sleep", "30", (char *) NULL, (char *const[]) { pipe_env, NULL });
                _exit(127);
        }
        usleep(100000);
        free(fake);
        fake = strprintf("%d\n%s", (int) impostor, strchr(saved, '\n') + 1);
        put(pidfile, fake);
        r = mps_running(&fresh, GPU0, &found);
        kill(impostor, SIGKILL);
        waitpid(impostor, NULL, 0);
        assert_int_equal(r, 0);
        put(pidfile, saved);
        assert_int_equal(mps_running(&fresh, GPU0, &found), 1);
        /* Another GPU's record naming this daemon: its environment names another pipe directory. */
        _cleanup_free_ char *other_dir = gpu_path(f, GPU1, NULL),
                            *other_pid = gpu_path(f, GPU1, "control.pid");
        assert_int_equal(mkdir(other_dir, 0711), 0);
        put(other_pid, saved);
        assert_int_equal(mps_running(&fresh, GPU1, &found), 0);
}

static void test_stop(void **state) {
        REQUIRE_ROOT();
        Fixture *f = *state;
        _cleanup_free_ char *err = NULL, *gpu = gpu_path(f, GPU0, NULL), *shm = gpu_path(f, GPU0, "shm"),
                            *line = NULL;
        _cleanup_close_ int pidfd = -EBADF;
        struct pollfd pfd;
        pid_t pid;

        assert_true(mps_start(&f->cfg, &f->share, &err) >= 0);
        assert_int_equal(mps_running(&f->cfg, GPU0, &pid), 1);
        pidfd = pidfd_open(pid, 0);
        assert_true(pidfd >= 0);
        if (mps_stop(&f->cfg, GPU0, &err) != 0)
                fail_msg("mps_stop: %s", err);
        pfd = (struct pollfd) { .fd = pidfd, .events = POLLIN };
        assert_int_equal(poll(&pfd, 1, 0), 1); /* it has exited */
        /* Ended by a signal, not by the client's quit (the pipe directory is the tenant's). */
        assert_false(journal_has(f, "client: quit"));
        line = strprintf("daemon %d quit", (int) pid);
        assert_true(journal_has(f, line));
        assert_false(mounted(shm));
        assert_false(file_exists(gpu));
        assert_int_equal(mps_running(&f->cfg, GPU0, NULL), 0);
        /* None running is no error. */
        assert_int_equal(mps_stop(&f->cfg, GPU0, &err), 0);
        /* And it starts again, afresh. */
        assert_true(mps_start(&f->cfg, &f->share, &err) >= 0);
        assert_int_equal(mps_running(&f->cfg, GPU0, NULL), 1);
}

static void test_unconfigured_restarted(void **state) {
        REQUIRE_ROOT();
        Fixture *f = *state;
        _cleanup_free_ char *err = NULL, *pidfile = gpu_path(f, GPU0, "control.pid"), *text = NULL,
                            *commands_path = gpu_path(f, GPU0, "log/commands"), *commands = NULL;
        char *flag;
        pid_t before, after;

        /* arkd died between starting the daemon and its last command: the record says so, and
         * such a daemon may run without limits, so a start replaces it. */
        assert_true(mps_start(&f->cfg, &f->share, &err) >= 0);
        assert_int_equal(mps_running(&f->cfg, GPU0, &before), 1);
        text = slurp(pidfile);
        flag = strstr(text, "configured=1");
        assert_non_null(flag);
        flag[strlen("configured=")] = '0';
        put(pidfile, text);
        if (mps_start(&f->cfg, &f->share, &err) != 0)
                fail_msg("mps_start: %s", err);
        assert_int_equal(mps_running(&f->cfg, GPU0, &after), 1);
        assert_int_not_equal(after, before);
        commands = slurp(commands_path);
        assert_string_equal(commands, expected_commands);
}

static void test_stop_kills(void **state) {
        REQUIRE_ROOT();
        Fixture *f = *state;
        _cleanup_free_ char *err = NULL, *knob = strprintf("%s.term", f->control),
                            *gpu = gpu_path(f, GPU0, NULL);
        _cleanup_close_ int pidfd = -EBADF;
        struct pollfd pfd;
        pid_t pid;

        /* A daemon that does not end on SIGTERM is killed after MPS_STOP_TIMEOUT_USEC, and said so. */
        put(knob, "ignore");
        assert_true(mps_start(&f->cfg, &f->share, &err) >= 0);
        assert_int_equal(mps_running(&f->cfg, GPU0, &pid), 1);
        pidfd = pidfd_open(pid, 0);
        assert_true(pidfd >= 0);
        assert_int_equal(mps_stop(&f->cfg, GPU0, &err), -ETIMEDOUT);
        assert_non_null(strstr(err, "did not end within 5 s of SIGTERM and was killed"));
        pfd = (struct pollfd) { .fd = pidfd, .events = POLLIN };
        assert_int_equal(poll(&pfd, 1, 0), 1);
        assert_false(file_exists(gpu));
}

static void test_two_gpus(void **state) {
        REQUIRE_ROOT();
        Fixture *f = *state;
        _cleanup_free_ char *err = NULL, *commands_path = gpu_path(f, GPU1, "log/commands"),
                            *commands = NULL;
        MpsShare second = f->share;
        pid_t a, b;

        assert_true(mps_start(&f->cfg, &f->share, &err) >= 0);
        /* Not whole GiB: in MiB, the bytes below a MiB dropped. */
        second.address = GPU1;
        second.uuid = UUID1;
        second.uid = OTHER_UID;
        second.gid = OTHER_UID;
        second.active_thread_percentage = 50;
        second.pinned_memory_bytes = (1536ULL << 20) + 512;
        if (mps_start(&f->cfg, &second, &err) < 0)
                fail_msg("mps_start: %s", err);
        commands = slurp(commands_path);
        assert_string_equal(commands,
                            "set_default_active_thread_percentage 50\n"
                            "set_default_device_pinned_mem_limit 0 1536M\n"
                            "get_default_active_thread_percentage\n"
                            "get_default_device_pinned_mem_limit 0\n"
                            "start_server -uid 296608\n");
        assert_int_equal(mps_running(&f->cfg, GPU0, &a), 1);
        assert_int_equal(mps_running(&f->cfg, GPU1, &b), 1);
        assert_int_not_equal(a, b);
        assert_int_equal(mps_stop(&f->cfg, GPU1, &err), 0);
        assert_int_equal(mps_running(&f->cfg, GPU1, NULL), 0);
        assert_int_equal(mps_running(&f->cfg, GPU0, &b), 1);
        assert_int_equal(a, b);
}

static void assert_nothing_left(const Fixture *f) {
        _cleanup_free_ char *gpu = gpu_path(f, GPU0, NULL), *shm = gpu_path(f, GPU0, "shm");

        assert_int_equal(mps_running(&f->cfg, GPU0, NULL), 0);
        assert_false(mounted(shm));
        assert_false(file_exists(gpu));
}

static void test_command_fails(void **state) {
        REQUIRE_ROOT();
        Fixture *f = *state;
        _cleanup_free_ char *err = NULL, *knob = strprintf("%s.fail", f->control);

        put(knob, "set_default_device_pinned_mem_limit");
        assert_int_equal(mps_start(&f->cfg, &f->share, &err), -EIO);
        assert_non_null(err);
        assert_non_null(strstr(err, "'set_default_device_pinned_mem_limit 0 10G'"));
        assert_non_null(strstr(err, "exit status 1"));
        assert_non_null(strstr(err, "refused (fake)"));
        /* The daemon it started was ended (its trap wrote "daemon PID quit"), and nothing is left. */
        {
                _cleanup_free_ char *j = slurp(f->journal);
                const char *q = strstr(strempty(j), " quit\n");

                assert_non_null(q);
                assert_false(journal_has(f, "client: quit"));
        }
        assert_nothing_left(f);
}

static void test_limit_not_taken(void **state) {
        REQUIRE_ROOT();
        Fixture *f = *state;
        _cleanup_free_ char *err = NULL, *knob = strprintf("%s.ignore", f->control);

        /* A client that says nothing and applies nothing: the read-back refuses it. */
        put(knob, "set_default_device_pinned_mem_limit");
        assert_int_equal(mps_start(&f->cfg, &f->share, &err), -EIO);
        assert_non_null(strstr(err, "did not take 'set_default_device_pinned_mem_limit 0 10G'"));
        assert_false(journal_has(f, "client: start_server -uid 231072"));
        assert_nothing_left(f);
}

static void test_daemon_dies(void **state) {
        REQUIRE_ROOT();
        Fixture *f = *state;
        _cleanup_free_ char *err = NULL;

        put(f->control, "#!/bin/sh\necho 'no CUDA-capable device' >&2\nexit 3\n");
        assert_int_equal(mps_start(&f->cfg, &f->share, &err), -EIO);
        assert_non_null(strstr(err, "exited at once"));
        assert_non_null(strstr(err, "no CUDA-capable device"));
        assert_nothing_left(f);

        put(f->control, "not a program\n");
        assert_int_equal(chmod(f->control, 0644), 0);
        assert_int_equal(mps_start(&f->cfg, &f->share, &err), -EACCES);
        assert_non_null(strstr(err, "-f"));
        assert_nothing_left(f);
}

static void test_invalid(void **state) {
        REQUIRE_ROOT();
        Fixture *f = *state;
        _cleanup_free_ char *err = NULL, *parent = NULL;
        MpsShare s;
        MpsConfig c;

        s = f->share, s.address = "../../etc";
        assert_int_equal(mps_start(&f->cfg, &s, &err), -EINVAL);
        s = f->share, s.address = "0000:18:00.8"; /* functions are 0..7 */
        assert_int_equal(mps_start(&f->cfg, &s, &err), -EINVAL);
        s = f->share, s.uuid = "GPU-0/../x";
        assert_int_equal(mps_start(&f->cfg, &s, &err), -EINVAL);
        s = f->share, s.uid = 0;
        assert_int_equal(mps_start(&f->cfg, &s, &err), -EINVAL);
        s = f->share, s.active_thread_percentage = 0;
        assert_int_equal(mps_start(&f->cfg, &s, &err), -EINVAL);
        s = f->share, s.active_thread_percentage = 101;
        assert_int_equal(mps_start(&f->cfg, &s, &err), -EINVAL);
        s = f->share, s.pinned_memory_bytes = 1000;
        assert_int_equal(mps_start(&f->cfg, &s, &err), -EINVAL);
        c = f->cfg, c.control = "nvidia-cuda-mps-control";
        assert_int_equal(mps_start(&c, &f->share, &err), -EINVAL);
        assert_int_equal(mps_stop(&f->cfg, "0000:18:00", &err), -EINVAL);
        assert_int_equal(mps_running(&f->cfg, "0000:18:00.0/..", NULL), -EINVAL);
        assert_false(file_exists(f->run));

        /* A runtime directory the tenant's UID cannot pass through. */
        parent = join(f->dir, "closed");
        assert_int_equal(mkdir(parent, 0700), 0);
        c = f->cfg;
        c.runtime_dir = parent;
        assert_int_equal(mps_start(&c, &f->share, &err), -EACCES);
        assert_non_null(strstr(err, "not searchable"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_start, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_idempotent_and_busy, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_found_again, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_stop, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_unconfigured_restarted, fixture_setup,
                                                fixture_teardown),
                cmocka_unit_test_setup_teardown(test_stop_kills, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_two_gpus, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_command_fails, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_limit_not_taken, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_daemon_dies, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_invalid, fixture_setup, fixture_teardown),
        };

        return cmocka_run_group_tests(tests, tmp_root_setup, tmp_root_teardown);
}

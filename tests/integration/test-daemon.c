/* The daemon's contract with its surroundings: sd_notify readiness and watchdog, and a libvirt
 * daemon that goes away and comes back (reconnect with backoff, instances 'unknown' meanwhile,
 * reconciliation on return). The second part runs its own unprivileged libvirtd (test driver over
 * a private socket), so it needs root (to switch to 'nobody') and libvirtd. */

#include "itest.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"

static Harness H;

static int setup(void **state) {
        return harness_setup(&H, "dgx-h100") < 0 ? -1 : 0;
}

static int teardown(void **state) {
        harness_teardown(&H);
        return 0;
}

static void test_sd_notify(void **state) {
        _cleanup_free_ char *sock = strprintf("%s/notify", H.tmp);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        bool ready = false, watchdog = false, status = false, stopping = false;
        struct timeval tv = { .tv_sec = 0, .tv_usec = 200000 };
        int fd;

        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);

        setenv("NOTIFY_SOCKET", sock, 1);
        setenv("WATCHDOG_USEC", "300000", 1); /* pings expected every 150 ms */
        unsetenv("WATCHDOG_PID");
        assert_int_equal(harness_start_arkd(&H, NULL), 0);
        unsetenv("NOTIFY_SOCKET");
        unsetenv("WATCHDOG_USEC");

        for (uint64_t end = harness_wait_deadline();
             !harness_wait_over(end) && !(ready && watchdog && status);) {
                char buf[1024];
                ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
                if (n <= 0)
                        continue;
                buf[n] = 0;
                ready |= strstr(buf, "READY=1") != NULL;
                watchdog |= strstr(buf, "WATCHDOG=1") != NULL;
                status |= strstr(buf, "STATUS=Managing") != NULL;
        }
        assert_true(ready);
        assert_true(status);
        assert_true(watchdog);

        /* SIGTERM: STOPPING=1, then a clean exit. */
        kill(H.arkd_pid, SIGTERM);
        for (uint64_t end = harness_wait_deadline(); !harness_wait_over(end) && !stopping;) {
                char buf[1024];
                ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
                if (n <= 0)
                        continue;
                buf[n] = 0;
                stopping |= strstr(buf, "STOPPING=1") != NULL;
        }
        assert_true(stopping);
        assert_int_equal(harness_stop_arkd(&H, 0), 0);
        close(fd);
}

/* ------------------------------------------------------------------------ private libvirtd */

typedef struct Libvirtd {
        char *dir, *sock;
        pid_t pid;
} Libvirtd;

static int libvirtd_start(Libvirtd *l) {
        _cleanup_free_ char *out = NULL, *err = NULL;
        pid_t pid;

        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                _cleanup_free_ char *home = strprintf("HOME=%s/home", l->dir);
                _cleanup_free_ char *run = strprintf("XDG_RUNTIME_DIR=%s/run", l->dir);
                _cleanup_free_ char *cfg = strprintf("XDG_CONFIG_HOME=%s/home/.config", l->dir);
                _cleanup_free_ char *cache = strprintf("XDG_CACHE_HOME=%s/home/.cache", l->dir);
                _cleanup_free_ char *log = strprintf("%s/libvirtd.log", l->dir);
                FILE *f;

                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                f = freopen(log, "a", stderr);
                (void) f;
                setsid();
                execlp("runuser", "runuser", "-u", "nobody", "--", "env", home, run, cfg, cache, "libvirtd",
                       "--timeout", "0", (char *) NULL);
                _exit(127);
        }
        l->pid = pid;
        for (uint64_t end = harness_wait_deadline(); !harness_wait_over(end);) {
                if (harness_sh(&out, &err,
                               "virsh -q -c 'test+unix:///default?socket=%s' version >/dev/null 2>&1",
                               l->sock) == 0)
                        return 0;
                free(out);
                free(err);
                out = err = NULL;
                usleep(50000);
        }
        return -ETIMEDOUT;
}

static void libvirtd_kill(Libvirtd *l) {
        int status;

        if (l->pid <= 0)
                return;
        kill(l->pid, SIGKILL);
        /* runuser forks libvirtd; kill the whole session it started. */
        kill(-l->pid, SIGKILL);
        (void) waitpid(l->pid, &status, 0);
        l->pid = 0;
}

static bool wait_connected(Harness *h, int want, unsigned seconds) {
        for (unsigned k = 0; k < seconds * 10; k++) {
                int connected = -1;

                if (sd_bus_get_property_trivial(harness_bus(h), ARK_BUS_NAME, ARK_BUS_PATH,
                                                ARK_BUS_IFACE_MANAGER, "HypervisorConnected", NULL, 'b',
                                                &connected) >= 0 &&
                    connected == want)
                        return true;
                usleep(100000);
        }
        return false;
}

static char *state_of(Harness *h, const char *name) {
        _cleanup_free_ char *path = harness_instance_path(h, name);
        assert_non_null(path);
        return harness_get_string(h, path, ARK_BUS_IFACE_INSTANCE, "State");
}

static void test_libvirtd_goes_away(void **state) {
        _cleanup_free_ char *out = NULL, *err = NULL, *s = NULL;
        Libvirtd l = {};
        uint64_t before = 0, after = 0;

        if (geteuid() != 0 ||
            harness_sh(&out, &err, "command -v libvirtd && command -v runuser && id nobody") != 0) {
                fprintf(stderr, "skipping: needs root, libvirtd, runuser and the user 'nobody'\n");
                skip();
        }
        l.dir = strprintf("%s/lv", H.tmp);
        l.sock = strprintf("%s/run/libvirt/libvirt-sock", l.dir);
        free(out);
        free(err);
        assert_int_equal(harness_sh(&out, &err, "mkdir -p %s/run %s/home && chown nobody %s/run %s/home",
                                    l.dir, l.dir, l.dir, l.dir),
                         0);
        if (libvirtd_start(&l) < 0) {
                libvirtd_kill(&l);
                fprintf(stderr, "skipping: an unprivileged libvirtd does not start here\n");
                skip();
        }

        free(H.libvirt_uri);
        H.libvirt_uri = strprintf("test+unix://%s/host.xml?socket=%s", H.fixture, l.sock);
        assert_int_equal(harness_start_arkd(&H, NULL), 0);
        assert_true(wait_connected(&H, 1, 10));
        assert_arkctl(&H, 0, NULL, "tenant", "create", "risk");
        assert_arkctl(&H, 0, NULL, "vm", "create", "up", "--tenant", "risk", "--vcpus", "1", "--memory",
                      "256M", "--start");
        assert_arkctl(&H, 0, NULL, "vm", "create", "down", "--tenant", "risk", "--vcpus", "1", "--memory",
                      "256M");
        assert_true(sd_bus_get_property_trivial(harness_bus(&H), ARK_BUS_NAME, ARK_BUS_PATH,
                                                ARK_BUS_IFACE_MANAGER, "LastReconcile", NULL, 't',
                                                &before) >= 0);

        /* libvirtd dies: arkd notices, says so, refuses hypervisor work with a clear sentence. */
        libvirtd_kill(&l);
        assert_true(wait_connected(&H, 0, 20));
        s = state_of(&H, "up");
        assert_string_equal(s, "unknown");
        assert_arkctl(&H, 1, "not connected", "vm", "start", "down");
        assert_arkctl(&H, 0, NULL, "tenant", "create", "still-works");

        /* It comes back (with an empty test driver, as after a reboot): arkd reconnects and
         * reconciles — both VMs defined again, 'up' running again, 'down' stopped. */
        assert_int_equal(libvirtd_start(&l), 0);
        assert_true(wait_connected(&H, 1, 30));
        assert_true(sd_bus_get_property_trivial(harness_bus(&H), ARK_BUS_NAME, ARK_BUS_PATH,
                                                ARK_BUS_IFACE_MANAGER, "LastReconcile", NULL, 't',
                                                &after) >= 0);
        assert_true(after > before);
        free(s);
        s = state_of(&H, "up");
        assert_string_equal(s, "running");
        free(s);
        s = state_of(&H, "down");
        assert_string_equal(s, "stopped");
        assert_arkctl(&H, 0, NULL, "vm", "start", "down");
        assert_int_equal(itest_get_u32(&H, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "NInstances"), 2);

        assert_int_equal(harness_stop_arkd(&H, SIGTERM), 0);
        libvirtd_kill(&l);
        free(l.dir);
        free(l.sock);
}

/* arkd without its bus serves no one: when the bus goes away it says why and exits non-zero, so
 * that the service manager restarts it (a process merely alive would fool a watchdog). Issue 14:
 * arkd used to stay alive, off the bus, without a word. */
static void test_bus_lost(void **state) {
        _cleanup_free_ char *log = NULL;
        int status = 0;
        pid_t pid;

        assert_int_equal(harness_start_arkd(&H, NULL), 0);
        pid = H.arkd_pid;
        assert_int_equal(kill(H.bus_pid, SIGKILL), 0);
        assert_int_equal(waitpid(H.bus_pid, NULL, 0), H.bus_pid);
        H.bus_pid = 0;
        for (uint64_t end = harness_wait_deadline(); !harness_wait_over(end);) {
                if (waitpid(pid, &status, WNOHANG) == pid)
                        break;
                usleep(50 * 1000);
        }
        if (!WIFEXITED(status)) {
                harness_dump_log(&H);
                fail_msg("arkd did not exit after the bus went away");
        }
        H.arkd_pid = 0;
        assert_int_equal(WEXITSTATUS(status), 1);
        assert_int_equal(read_full_file(H.arkd_log, &log, NULL), 0);
        assert_non_null(strstr(log, "Lost the connection to the configured bus"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_sd_notify, setup, teardown),
                cmocka_unit_test_setup_teardown(test_libvirtd_goes_away, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bus_lost, setup, teardown),
        };
        return cmocka_run_group_tests_name("integration: daemon", tests, NULL, NULL);
}

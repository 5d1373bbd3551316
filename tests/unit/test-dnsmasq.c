/* Tests for appliance/network/dnsmasq: a real dnsmasq on a bridge in a network namespace of the
 * test's own (unshare at the start), a client in a second one (`ip netns add`) behind a veth port:
 * busybox udhcpc gets the stored address and options, busybox nslookup gets names of the domain
 * and nothing else, a change of hosts reaches the same dnsmasq through SIGHUP, a killed dnsmasq
 * comes back, one an earlier arkd left is replaced, and a stop leaves neither process nor files.
 * Without root, unshare, ip netns, busybox or dnsmasq every test is skipped with the reason. */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "basic/time-util.h"
#include "dnsmasq.h"
#include "tmpdir.h"

extern char **environ;

#define BRIDGE "arkdq0"
#define CLIENT_IF "dqclient"
#define CLIENT_MAC "52:54:00:12:34:56"

static const char *skip_reason;
static char client_ns[64];
static char *script;
/* The test's dnsmasq and event loop, stopped by the teardown also after a failure. */
static Dnsmasq *dq;
static sd_event *ev;
static pid_t stale; /* test_stale's orphan, ours to reap (child subreaper) */

static int teardown(void **state) {
        if (stale > 0) {
                (void) kill(stale, SIGKILL);
                (void) waitpid(stale, NULL, 0);
                stale = 0;
                (void) prctl(PR_SET_CHILD_SUBREAPER, 0);
        }
        dnsmasq_stop(dq);
        dq = NULL;
        ev = sd_event_unref(ev);
        return 0;
}

/* Runs `sh -c cmd` with an empty signal mask (the test blocks SIGCHLD, as arkd does once it runs
 * a dnsmasq); returns its exit status and, in *ret_out, what it printed (stdout and stderr). */
static int run(char **ret_out, const char *fmt, ...) _printf_(2, 3);
static int run(char **ret_out, const char *fmt, ...) {
        _cleanup_free_ char *cmd = NULL;
        char *argv[] = { (char *) "sh", (char *) "-c", NULL, NULL };
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        StrBuf out = {};
        sigset_t none;
        int pipefd[2], status;
        char buf[4096];
        ssize_t n;
        pid_t pid;
        va_list ap;

        va_start(ap, fmt);
        assert_true(vasprintf(&cmd, fmt, ap) >= 0);
        va_end(ap);
        argv[2] = cmd;
        assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
        sigemptyset(&none);
        assert_int_equal(posix_spawnattr_init(&attr), 0);
        assert_int_equal(posix_spawnattr_setsigmask(&attr, &none), 0);
        assert_int_equal(posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK), 0);
        assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
        posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDERR_FILENO);
        assert_int_equal(posix_spawn(&pid, "/bin/sh", &fa, &attr, argv, environ), 0);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        close(pipefd[1]);
        strbuf_append(&out, "");
        while ((n = read(pipefd[0], buf, sizeof(buf) - 1)) > 0 || (n < 0 && errno == EINTR))
                if (n > 0) {
                        buf[n] = 0;
                        strbuf_append(&out, buf);
                }
        close(pipefd[0]);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (ret_out)
                *ret_out = strbuf_steal(&out);
        else
                strbuf_done(&out);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static NetAddr addr(const char *s) {
        NetAddr a = { .family = strchr(s, ':') ? AF_INET6 : AF_INET };

        assert_int_equal(inet_pton(a.family, s, a.bytes), 1);
        return a;
}

static NetPrefix prefix(const char *s, unsigned len) {
        return (NetPrefix) { .addr = addr(s), .len = len };
}

static DnsmasqConfig config(const char *run_dir) {
        return (DnsmasqConfig) {
                .bridge = BRIDGE,
                .subnet4 = prefix("10.77.0.0", 24),
                .gateway4 = addr("10.77.0.1"),
                .subnet6 = prefix("fd00:77::", 64),
                .domain = "risk",
                .mtu = 1450,
                .run_dir = run_dir,
        };
}

static DnsmasqHost host(const char *ip, const char *name) {
        return (DnsmasqHost) { .mac = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 },
                               .ip4 = addr(ip),
                               .name = name };
}

/* A DHCP lease for the client: what the udhcpc script printed ("LEASE ip/mask router=..."), or
 * fails the test. */
static char *lease(void) {
        _cleanup_free_ char *out = NULL;
        const char *l;
        int r;

        r = run(&out, "ip netns exec %s busybox udhcpc -i " CLIENT_IF " -n -q -f -t 5 -T 1 -s %s", client_ns,
                script);
        if (r != 0)
                fail_msg("udhcpc got no lease (%d): %s", r, out);
        l = strstr(out, "LEASE ");
        assert_non_null(l);
        return strndup(l, strcspn(l, "\n"));
}

/* `busybox nslookup name 10.77.0.1` from the client: the exit status, its output in *ret. */
static int lookup(const char *name, char **ret) {
        return run(ret, "ip netns exec %s busybox nslookup %s 10.77.0.1", client_ns, name);
}

static void run_until(sd_event *e, bool (*done)(Dnsmasq *d, pid_t old), Dnsmasq *d, pid_t old,
                      usec_t timeout) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + timeout;

        while (!done(d, old) && now_usec(CLOCK_MONOTONIC) < deadline)
                assert_true(sd_event_run(e, 100 * USEC_PER_MSEC) >= 0);
}

static bool restarted(Dnsmasq *d, pid_t old) {
        return dnsmasq_pid(d) > 0 && dnsmasq_pid(d) != old;
}

static bool process_alive(pid_t pid) {
        _cleanup_free_ char *path = strprintf("/proc/%d/cmdline", (int) pid), *cmdline = NULL;
        size_t size = 0;

        /* A zombie's command line is empty. */
        return read_full_file(path, &cmdline, &size) >= 0 && size > 0;
}

static void test_refused(void **state) {
        _cleanup_tmpdir_ char *dir = NULL;
        _cleanup_free_ char *closed = NULL, *run_dir = NULL;
        DnsmasqHost h = host("10.77.0.5", "web");
        DnsmasqConfig c;

        if (skip_reason)
                skip();
        assert_int_equal(sd_event_new(&ev), 0);
        dir = make_tmpdir();
        assert_int_equal(chmod(dir, 0711), 0);
        run_dir = join(dir, "run");
        c = config(run_dir);

        c.domain = "risk/x";
        assert_int_equal(dnsmasq_start(ev, &c, &h, 1, &dq), -EINVAL);
        c.domain = "risk";
        c.bridge = "..";
        assert_int_equal(dnsmasq_start(ev, &c, &h, 1, &dq), -EINVAL);
        c.bridge = BRIDGE;
        c.subnet6.len = 48;
        assert_int_equal(dnsmasq_start(ev, &c, &h, 1, &dq), -EINVAL);
        c.subnet6.len = 64;
        c.gateway4 = addr("10.78.0.1");
        assert_int_equal(dnsmasq_start(ev, &c, &h, 1, &dq), -EINVAL);
        c.gateway4 = addr("10.77.0.1");
        h = host("10.78.0.5", "web");
        assert_int_equal(dnsmasq_start(ev, &c, &h, 1, &dq), -EINVAL);
        h = host("10.77.0.5", "web server");
        assert_int_equal(dnsmasq_start(ev, &c, &h, 1, &dq), -EINVAL);
        h = host("10.77.0.5", "web");
        c.run_dir = "run";
        assert_int_equal(dnsmasq_start(ev, &c, &h, 1, &dq), -EINVAL);
        c.run_dir = "/tmp/../run";
        assert_int_equal(dnsmasq_start(ev, &c, &h, 1, &dq), -EINVAL);
        c.run_dir = run_dir;
        assert_false(file_exists(run_dir));

        /* A binary that is not there, and nothing left behind. */
        c.binary = "/nonexistent/dnsmasq";
        assert_int_equal(dnsmasq_start(ev, &c, &h, 1, &dq), -ENOENT);
        assert_null(dq);
        assert_true(file_exists(run_dir));
        {
                _cleanup_free_ char *files = join(run_dir, BRIDGE);

                assert_false(file_exists(files));
        }
        c.binary = NULL;

        /* A run_dir the dnsmasq user could not reach. */
        closed = join(dir, "closed");
        assert_int_equal(mkdir(closed, 0700), 0);
        free(run_dir);
        run_dir = join(closed, "run");
        c.run_dir = run_dir;
        assert_int_equal(dnsmasq_start(ev, &c, &h, 1, &dq), -EACCES);
}

static void test_dhcp_dns(void **state) {
        _cleanup_tmpdir_ char *dir = NULL;
        _cleanup_free_ char *run_dir = NULL, *files = NULL, *out = NULL;
        char *l;
        DnsmasqHost h[] = { host("10.77.0.5", "web"), host("10.77.0.6", "db") };
        DnsmasqConfig c;
        struct stat st;
        usec_t start;
        pid_t pid;

        if (skip_reason)
                skip();
        h[1].mac[5] = 0x57;
        assert_int_equal(sd_event_new(&ev), 0);
        dir = make_tmpdir();
        assert_int_equal(chmod(dir, 0711), 0);
        run_dir = join(dir, "run");
        files = join(run_dir, BRIDGE);
        c = config(run_dir);

        assert_int_equal(dnsmasq_start(ev, &c, h, 2, &dq), 0);
        pid = dnsmasq_pid(dq);
        assert_true(pid > 0);
        assert_int_equal(stat(files, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0750);

        /* Router advertisements: the client makes its SLAAC address on the /64 (modified EUI-64
         * of its MAC) and takes the network's MTU. (Up to 30 s: on a loaded machine, under a
         * sanitizer, the first advertisement and duplicate address detection take their time.) */
        for (int i = 0; i < 600; i++) {
                out = mfree(out);
                (void) run(&out, "ip -n %s -6 addr show dev " CLIENT_IF, client_ns);
                if (strstr(out, "fd00:77::5054:ff:fe12:3456/64"))
                        break;
                usleep(50 * 1000);
        }
        assert_non_null(strstr(out, "fd00:77::5054:ff:fe12:3456/64"));
        out = mfree(out);
        assert_int_equal(
                run(&out, "ip netns exec %s cat /proc/sys/net/ipv6/conf/" CLIENT_IF "/mtu", client_ns), 0);
        assert_string_equal(strstrip(out), "1450");
        out = mfree(out);

        /* The stored address, with the bridge as router and DNS server, the domain, the MTU and
         * the instance's name. */
        l = lease();
        assert_string_equal(
                l, "LEASE 10.77.0.5/24 router=10.77.0.1 dns=10.77.0.1 domain=risk mtu=1450 hostname=web");
        free(l);

        /* Names of the domain from the hosts file; unknown ones of the domain do not exist; other
         * domains are not forwarded anywhere. */
        assert_int_equal(lookup("web.risk", &out), 0);
        assert_non_null(strstr(out, "Address: 10.77.0.5"));
        out = mfree(out);
        assert_int_equal(lookup("db.risk", &out), 0);
        assert_non_null(strstr(out, "Address: 10.77.0.6"));
        out = mfree(out);
        assert_int_not_equal(lookup("nope.risk", &out), 0);
        assert_non_null(strstr(out, "NXDOMAIN"));
        out = mfree(out);
        assert_int_not_equal(lookup("web.example.com", &out), 0);
        assert_null(strstr(out, "Address: 10.77.0.5"));
        out = mfree(out);

        /* Another address for web: rewritten and SIGHUP, the same dnsmasq hands it out. */
        h[0].ip4 = addr("10.77.0.9");
        assert_int_equal(dnsmasq_set_hosts(dq, h, 2), 0);
        l = lease();
        assert_non_null(startswith(l, "LEASE 10.77.0.9/24 "));
        free(l);
        assert_int_equal(lookup("web.risk", &out), 0);
        assert_non_null(strstr(out, "Address: 10.77.0.9"));
        out = mfree(out);
        assert_int_equal(dnsmasq_pid(dq), pid);

        /* A refused change changes nothing. */
        h[0].name = "-web";
        assert_int_equal(dnsmasq_set_hosts(dq, h, 2), -EINVAL);
        h[0].name = "web";

        /* Killed: it comes back within the first pause (1 s), and serves. */
        assert_int_equal(kill(pid, SIGKILL), 0);
        run_until(ev, restarted, dq, pid, 5 * USEC_PER_SEC);
        assert_true(restarted(dq, pid));
        assert_false(process_alive(pid));
        pid = dnsmasq_pid(dq);
        l = lease();
        assert_non_null(startswith(l, "LEASE 10.77.0.9/24 "));
        free(l);

        /* Killed again soon after: the pause has doubled to 2 s. */
        assert_int_equal(kill(pid, SIGKILL), 0);
        run_until(ev, restarted, dq, pid, 1500 * USEC_PER_MSEC);
        assert_int_equal(dnsmasq_pid(dq), 0);
        run_until(ev, restarted, dq, pid, 5 * USEC_PER_SEC);
        assert_true(restarted(dq, pid));
        pid = dnsmasq_pid(dq);

        /* It ends on SIGTERM (arkd's blocked SIGTERM is not passed on), well before the 2 s
         * after which it would get SIGKILL. */
        start = now_usec(CLOCK_MONOTONIC);
        dnsmasq_stop(dq);
        dq = NULL;
        assert_true(now_usec(CLOCK_MONOTONIC) - start < USEC_PER_SEC);
        assert_false(process_alive(pid));
        assert_int_equal(kill(pid, 0), -1); /* reaped, not a zombie */
        assert_false(file_exists(files));
        assert_true(file_exists(run_dir));
}

/* An arkd that died left its dnsmasq running (here: a child that starts one and exits). The next
 * start for the bridge kills it rather than failing on its ports. */
static void test_stale(void **state) {
        _cleanup_tmpdir_ char *dir = NULL;
        _cleanup_free_ char *run_dir = NULL, *pid_file = NULL, *line = NULL;
        DnsmasqHost h = host("10.77.0.5", "web");
        DnsmasqConfig c;
        pid_t child;
        int status;

        if (skip_reason)
                skip();
        dir = make_tmpdir();
        assert_int_equal(chmod(dir, 0711), 0);
        run_dir = join(dir, "run");
        pid_file = strprintf("%s/%s/dnsmasq.pid", run_dir, BRIDGE);
        c = config(run_dir);

        /* Orphans come to this process, which can then reap the stale one once it is killed. */
        assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
        child = fork();
        assert_true(child >= 0);
        if (child == 0) {
                sd_event *ce = NULL;
                Dnsmasq *cd = NULL;

                if (sd_event_new(&ce) < 0 || dnsmasq_start(ce, &c, &h, 1, &cd) < 0)
                        _exit(1);
                for (int i = 0; i < 100 && !file_exists(pid_file); i++)
                        usleep(20 * 1000);
                _exit(0);
        }
        assert_int_equal(waitpid(child, &status, 0), child);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        assert_int_equal(read_one_line_file(pid_file, &line), 0);
        stale = atoi(line);
        assert_true(stale > 0);
        assert_true(process_alive(stale));

        assert_int_equal(sd_event_new(&ev), 0);
        assert_int_equal(dnsmasq_start(ev, &c, &h, 1, &dq), 0);
        assert_false(process_alive(stale));
        assert_int_equal(waitpid(stale, NULL, 0), stale);
        stale = 0;

        /* The new one keeps running: it got the ports. */
        run_until(ev, restarted, dq, dnsmasq_pid(dq), USEC_PER_SEC);
        assert_true(process_alive(dnsmasq_pid(dq)));
        free(lease());
        assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0), 0);
}

static bool never(Dnsmasq *unused, pid_t old) {
        return false;
}

/* Hosts changed right after the start, maybe before dnsmasq has its signal handlers (a SIGHUP
 * then would end it; here it usually has them already): the same dnsmasq hands out the new
 * address. */
static void test_hosts_while_starting(void **state) {
        _cleanup_tmpdir_ char *dir = NULL;
        _cleanup_free_ char *run_dir = NULL, *deep = NULL;
        DnsmasqHost h = host("10.77.0.5", "web");
        DnsmasqConfig c;
        struct stat st;
        pid_t pid;
        char *l;

        if (skip_reason)
                skip();
        dir = make_tmpdir();
        assert_int_equal(chmod(dir, 0711), 0);
        /* Directories missing above run_dir are made, passable for dnsmasq's user. */
        run_dir = join(dir, "deep/er/run");
        deep = join(dir, "deep");
        c = config(run_dir);
        assert_int_equal(sd_event_new(&ev), 0);
        assert_int_equal(dnsmasq_start(ev, &c, &h, 1, &dq), 0);
        pid = dnsmasq_pid(dq);
        assert_int_equal(stat(deep, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0711);
        h.ip4 = addr("10.77.0.7");
        assert_int_equal(dnsmasq_set_hosts(dq, &h, 1), 0);
        run_until(ev, never, dq, 0, 300 * USEC_PER_MSEC);
        l = lease();
        assert_non_null(startswith(l, "LEASE 10.77.0.7/24 "));
        free(l);
        assert_int_equal(dnsmasq_pid(dq), pid);
}

static int group_setup(void **state) {
        _cleanup_free_ char *out = NULL;

        if (tmp_root_setup(state) < 0)
                return -1;
        if (skip_reason)
                return 0;
        snprintf(client_ns, sizeof(client_ns), "ark-test-dnsmasq-%d", (int) getpid());
        if (run(&out, "ip netns add %s", client_ns) != 0) {
                fprintf(stderr, "# ip netns add failed (%s): skipping the dnsmasq tests\n", strstrip(out));
                skip_reason = "ip netns";
                client_ns[0] = 0;
                return 0;
        }
        script = join(tmp_root, "udhcpc.sh");
        if (write_string_file(script,
                              "#!/bin/sh\n"
                              "case \"$1\" in bound|renew)\n"
                              "  ip addr flush dev \"$interface\"\n"
                              "  ip addr add \"$ip/$mask\" dev \"$interface\"\n"
                              "  echo \"LEASE $ip/$mask router=$router dns=$dns domain=$domain mtu=$mtu "
                              "hostname=$hostname\"\n"
                              "esac\n",
                              WRITE_CREATE) < 0 ||
            chmod(script, 0755) < 0 || chmod(tmp_root, 0711) < 0)
                return -1;
        free(out);
        out = NULL;
        if (run(&out,
                "ip link set lo up && "
                "ip link add " BRIDGE " type bridge && ip link set " BRIDGE " up && "
                "ip addr add 10.77.0.1/24 dev " BRIDGE " && ip addr add fd00:77::1/64 dev " BRIDGE
                " nodad && "
                "ip link add " BRIDGE "p0 type veth peer name " CLIENT_IF " && "
                "ip link set " CLIENT_IF " address " CLIENT_MAC " netns %s && "
                "ip link set " BRIDGE "p0 master " BRIDGE " up && "
                "ip -n %s link set lo up && ip -n %s link set " CLIENT_IF " up",
                client_ns, client_ns, client_ns) != 0) {
                fprintf(stderr, "# setting up the links failed: %s\n", out);
                return -1;
        }
        return 0;
}

static int group_teardown(void **state) {
        if (client_ns[0])
                (void) run(NULL, "ip netns del %s", client_ns);
        script = mfree(script);
        return tmp_root_teardown(state);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_refused, teardown),
                cmocka_unit_test_teardown(test_dhcp_dns, teardown),
                cmocka_unit_test_teardown(test_hosts_while_starting, teardown),
                cmocka_unit_test_teardown(test_stale, teardown),
        };

        sigset_t ss;

        /* As arkd runs: SIGTERM and SIGINT blocked (sd-event handles them), SIGPIPE ignored. */
        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        sigprocmask(SIG_BLOCK, &ss, NULL);
        (void) signal(SIGPIPE, SIG_IGN);

        if (geteuid() != 0)
                skip_reason = "not root";
        else if (unshare(CLONE_NEWNET) < 0)
                skip_reason = "unshare(CLONE_NEWNET) failed";
        else if (run(NULL, "command -v busybox && command -v ip") != 0)
                skip_reason = "busybox or ip missing";
        else if (run(NULL, "command -v dnsmasq || test -x /usr/sbin/dnsmasq") != 0)
                skip_reason = "dnsmasq missing (package dnsmasq-base)";
        if (skip_reason)
                printf("# %s: skipping the dnsmasq tests\n", skip_reason);
        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

/* Containers end to end, through arkctl and D-Bus against arkd with crun and conmon: an OCI image
 * made by umoci (independently of Ark's code: busybox-static, two layers, a whiteout) is bundled,
 * signed and imported; a container of it runs, `ct exec` and `ct logs` work and the whited-out
 * file is absent; limits hold (memory: OOM-killed and reported; pids; a tenant-unique unprivileged
 * host UID; no device nodes but the standard ones); kill -9 of arkd leaves containers running and
 * the next arkd adopts them with their logs and exit statuses; the audit log keeps the names of
 * environment variables, not their values. Needs root, crun, conmon and umoci: skipped with the
 * reason otherwise. */

#include "itest.h"

#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "shared/bus-json.h"
#include "../unit/partition-sequence.h"
#include "pool/mig.h"

static Harness H;
static char *work;
static const char *skip_why;

/* An OCI image layout at <work>/oci, tag bb: layer 1 holds busybox and /etc/kept, /etc/gone; layer 2
 * deletes /etc/gone (a whiteout). Made with umoci, as a publisher would. */
static int make_image(void) {
        _cleanup_free_ char *out = NULL, *err = NULL;
        int r;

        r = harness_sh(
                &out, &err,
                "set -e; cd '%s'; umoci init --layout oci; umoci new --image oci:bb;"
                "umoci unpack --image oci:bb b >/dev/null; mkdir -p b/rootfs/bin b/rootfs/etc b/rootfs/tmp;"
                "chmod 1777 b/rootfs/tmp; cp /bin/busybox b/rootfs/bin/;"
                "for c in sh cat echo ls sleep id head dd seq grep wc mknod stat tail true false mkdir httpd nc ip hostname sort printf; do"
                "  ln -s busybox b/rootfs/bin/$c; done;"
                "echo gone > b/rootfs/etc/gone; echo kept > b/rootfs/etc/kept;"
                "umoci repack --image oci:bb b; rm -rf b;"
                "umoci unpack --image oci:bb b >/dev/null; rm b/rootfs/etc/gone; umoci repack --image oci:bb b;"
                "rm -rf b; umoci config --image oci:bb --config.cmd /bin/sh --config.cmd -c"
                "  --config.cmd 'echo hello from the image; exec sleep 1000' --config.env FROM_IMAGE=1;"
                "umoci gc --layout oci",
                work);
        if (r != 0)
                fprintf(stderr, "umoci failed: %s\n", strna(err));
        return r == 0 ? 0 : -1;
}

/* Starts arkd on `fixture` (its sysfs a private copy, so tests can rebind a GPU) with the image
 * bundled, signed and imported, and tenants risk and lab. */
static int start_host(Harness *h, const char *fixture) {
        int r;

        if (harness_setup(h, fixture) < 0 || harness_writable_sysfs(h) < 0)
                return -1;
        /* As under systemd (Type=notify): arkd's NOTIFY_SOCKET must not reach crun, which would
         * then wait for the container to say READY=1. */
        {
                _cleanup_free_ char *sock = strprintf("%s/notify", h->tmp);

                if (!sock || setenv("NOTIFY_SOCKET", sock, 1) < 0)
                        return -1;
                r = harness_start_arkd(h, NULL);
                (void) unsetenv("NOTIFY_SOCKET");
                if (r < 0)
                        return -1;
        }
        {
                _cleanup_free_ char *key = strprintf("%s/pub", h->tmp),
                                    *keyfile = strprintf("%s/pub.key", h->tmp),
                                    *pub = strprintf("%s/pub.pub", h->tmp), *oci = strprintf("%s/oci", work),
                                    *ark = strprintf("%s/bb.ark", h->tmp);

                assert_arkctl(h, 0, NULL, "bundle", "keygen", key);
                assert_arkctl(h, 0, NULL, "bundle", "trust", "add", pub);
                assert_arkctl(h, 0, "Created", "bundle", "create", oci, "--kind", "container-image",
                              "--name", "bb", "--version", "1", "--key", keyfile, "-o", ark);
                assert_arkctl(h, 0, "Imported", "bundle", "import", ark);
        }
        assert_arkctl(h, 0, NULL, "tenant", "create", "risk");
        assert_arkctl(h, 0, NULL, "tenant", "create", "lab");
        return 0;
}

static int setup(void **state) {
        if (geteuid() != 0) {
                skip_why = "not root";
                return 0;
        }
        if (access("/usr/bin/crun", X_OK) < 0 || access("/usr/bin/conmon", X_OK) < 0 ||
            access("/usr/bin/umoci", X_OK) < 0) {
                skip_why = "crun, conmon or umoci is missing (scripts/deps.sh installs them)";
                return 0;
        }
        work = strdup("/tmp/ark-ct-work.XXXXXX");
        if (!work || !mkdtemp(work) || chmod(work, 0755) < 0 || make_image() < 0)
                return -1;
        return start_host(&H, "dgx-h100");
}

/* Stops arkd and the containers it left (they outlive arkd by design). */
static void stop_host(Harness *h) {
        if (h->tmp) {
                if (harness_arkd_alive(h))
                        (void) harness_stop_arkd(h, SIGTERM);
                (void) harness_sh(
                        NULL, NULL,
                        "R=%s/run/containers/crun; for c in $(crun --root=$R list -q 2>/dev/null); do "
                        "crun --root=$R delete -f $c; done; pkill -f 'conmon.*%s'; "
                        "grep -o ' %s/[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l",
                        h->tmp, h->tmp, h->tmp);
        }
        harness_teardown(h);
}

static int teardown(void **state) {
        stop_host(&H);
        if (work)
                (void) harness_sh(NULL, NULL, "rm -rf '%s'", work);
        free(work);
        return 0;
}

/* Waits until `ct show NAME` reports `state`; fails the test at the deadline. */
static void wait_state(const char *name, const char *state) {
        uint64_t deadline = harness_wait_deadline();
        _cleanup_free_ char *last = NULL;

        while (!harness_wait_over(deadline)) {
                last = mfree(last);
                if (harness_arkctl(&H, &last, NULL, "ct", "show", name, NULL) == 0 && last &&
                    strstr(last, state))
                        return;
                usleep(100 * 1000);
        }
        harness_dump_log(&H);
        fail_msg("container '%s' did not become '%s'; it is:\n%s", name, state, strna(last));
}

/* Waits until `ct logs NAME` holds `needle`. */
static void wait_log(const char *name, const char *needle) {
        uint64_t deadline = harness_wait_deadline();
        _cleanup_free_ char *last = NULL;

        while (!harness_wait_over(deadline)) {
                last = mfree(last);
                if (harness_arkctl(&H, &last, NULL, "ct", "logs", name, NULL) == 0 && last &&
                    strstr(last, needle))
                        return;
                usleep(100 * 1000);
        }
        fail_msg("the log of '%s' never held '%s'; it holds: %s", name, needle, strna(last));
}

/* The host UID of the process running `pattern` (its full command line). */
static long host_uid_of(const char *pattern) {
        _cleanup_free_ char *out = NULL;

        if (harness_sh(&out, NULL, "ps -eo uid=,args= | grep -F -- '%s' | grep -v grep | head -1",
                       pattern) != 0 ||
            !out)
                return -1;
        return strtol(out, NULL, 10);
}

static void test_run_exec_logs(void **state) {
        _cleanup_free_ char *out = NULL, *err = NULL;
        long uid_risk, uid_lab;

        if (skip_why) {
                printf("# skipped: %s\n", skip_why);
                skip();
        }
        assert_arkctl(&H, 0, "Created and started container 'web'", "ct", "create", "web", "--tenant",
                      "risk", "--image", "bb", "--start", "--env", "SECRET_TOKEN=hunter2-value");
        wait_state("web", "running");
        wait_log("web", "hello from the image");

        /* exec: the layers as the image says, the whiteout hides /etc/gone. */
        out = itest_arkctl_expect(&H, 0, "kept", "ct", "exec", "web", "--", "cat", "/etc/kept", NULL);
        out = mfree(out);
        assert_int_equal(harness_arkctl(&H, &out, &err, "ct", "exec", "web", "--", "cat", "/etc/gone", NULL),
                         1);
        assert_non_null(strstr(err, "No such file"));
        out = mfree(out);
        err = mfree(err);
        /* The command's status is arkctl's; its environment is the image's with --env on top. */
        assert_int_equal(
                harness_arkctl(&H, NULL, NULL, "ct", "exec", "web", "--", "sh", "-c", "exit 7", NULL), 7);
        out = itest_arkctl_expect(&H, 0, "1 hunter2-value", "ct", "exec", "web", "--", "sh", "-c",
                                  "echo $FROM_IMAGE $SECRET_TOKEN", NULL);
        out = mfree(out);
        /* stdin reaches it. */
        assert_int_equal(harness_sh(&out, NULL,
                                    "echo typed | ARK_BUS_ADDRESS='%s' %s/bin/arkctl ct exec web -- cat",
                                    H.bus_address, harness_build_dir()),
                         0);
        assert_non_null(strstr(out, "typed"));
        out = mfree(out);
        /* On a terminal (script(1) gives arkctl one) escape sequences from the container are shown,
         * not obeyed: in what a command prints, and in the log. */
        assert_arkctl(&H, 0, NULL, "ct", "exec", "web", "--", "sh", "-c",
                      "printf 'LOG\\033[2J\\n' > /proc/1/fd/1");
        assert_int_equal(harness_sh(&out, NULL,
                                    "ARK_BUS_ADDRESS='%s' script -qec \"%s/bin/arkctl ct exec web -- printf "
                                    "'A\\033]0;pwned\\007B'; %s/bin/arkctl ct logs web\" /dev/null",
                                    H.bus_address, harness_build_dir(), harness_build_dir()),
                         0);
        assert_non_null(strstr(out, "A^[]0;pwned^GB"));
        assert_non_null(strstr(out, "LOG^[[2J"));
        assert_null(strchr(out, 0x1b));
        out = mfree(out);
        /* Through a pipe it comes as it is. */
        out = itest_arkctl_expect(&H, 0, "LOG\033[2J", "ct", "logs", "web", NULL);
        out = mfree(out);

        /* Root inside is an unprivileged host UID of the tenant's own range; another tenant's
         * container runs as another. */
        assert_arkctl(&H, 0, NULL, "ct", "create", "other", "--tenant", "lab", "--image", "bb", "--start",
                      "--", "sh", "-c", "exec sleep 1001");
        wait_state("other", "running");
        uid_risk = host_uid_of("sleep 1000");
        uid_lab = host_uid_of("sleep 1001");
        assert_true(uid_risk >= 65536);
        assert_true(uid_lab >= 65536);
        assert_true(uid_risk != uid_lab);
        assert_true(labs(uid_risk - uid_lab) >= 65536);
        out = itest_arkctl_expect(&H, 0, NULL, "ct", "exec", "web", "--", "cat", "/proc/self/uid_map", NULL);
        {
                _cleanup_free_ char *want = strprintf("%ld", uid_risk);
                assert_non_null(strstr(out, want));
        }
        out = mfree(out);

        /* Devices: the standard ones; making one is refused, and none of the host's is there. */
        assert_int_not_equal(harness_arkctl(&H, NULL, NULL, "ct", "exec", "web", "--", "mknod", "/tmp/mem",
                                            "c", "1", "1", NULL),
                             0);
        assert_int_not_equal(
                harness_arkctl(&H, NULL, NULL, "ct", "exec", "web", "--", "cat", "/dev/mem", NULL), 0);
        assert_int_equal(harness_arkctl(&H, NULL, NULL, "ct", "exec", "web", "--", "sh", "-c",
                                        "echo x > /dev/null && head -c 1 /dev/urandom >/dev/null", NULL),
                         0);

        /* The audit log names the variable, never its value. */
        assert_int_equal(harness_arkctl(&H, &out, NULL, "audit", "export", NULL), 0);
        assert_non_null(strstr(out, "SECRET_TOKEN"));
        assert_null(strstr(out, "hunter2-value"));
        out = mfree(out);

        /* No other user of the host gets into a container's files (the paths are in mountinfo). */
        {
                _cleanup_(json_decrefp) json_t *j = harness_arkctl_json(&H, "ct", "show", "web", NULL);
                const char *id = json_string_value(json_object_get(j, "id"));

                assert_non_null(id);
                assert_int_equal(harness_sh(NULL, NULL, "cat %s/containers/%s/rootfs/etc/kept", H.tmp, id),
                                 0);
                assert_int_not_equal(harness_sh(NULL, NULL,
                                                "setpriv --reuid=65534 --regid=65534 --clear-groups "
                                                "cat %s/containers/%s/rootfs/etc/kept",
                                                H.tmp, id),
                                     0);
                assert_int_not_equal(harness_sh(NULL, NULL,
                                                "setpriv --reuid=65534 --regid=65534 --clear-groups "
                                                "ls %s/containers/%s/fs",
                                                H.tmp, id),
                                     0);
        }

        /* Commands at once: at most 16 per container (each is a process of arkd's). */
        assert_int_equal(
                harness_sh(NULL, NULL,
                           "for i in $(seq 16); do ARK_BUS_ADDRESS='%s' %s/bin/arkctl ct exec web -- "
                           "sleep 15 </dev/null >/dev/null 2>&1 & done; sleep 3",
                           H.bus_address, harness_build_dir()),
                0);
        assert_int_equal(harness_arkctl(&H, NULL, &err, "ct", "exec", "web", "--", "true", NULL), 1);
        assert_non_null(strstr(err, "runs 16 commands already"));
        err = mfree(err);

        /* Stop: SIGTERM; sleep is PID 1 and ignores it, so SIGKILL after the timeout. */
        assert_arkctl(&H, 0, "Stopped container 'other'", "ct", "stop", "other", "--timeout", "1");
        out = itest_arkctl_expect(&H, 0, "stopped (forced off after the stop timeout)", "ct", "show",
                                  "other", NULL);
        out = mfree(out);
        assert_arkctl(&H, 0, "Deleted container 'other'", "ct", "delete", "other");
}

static void test_limits(void **state) {
        _cleanup_free_ char *out = NULL;

        if (skip_why)
                skip();
        /* Memory: sort holds its 200 MiB line in a container that may have 64. */
        assert_arkctl(&H, 0, NULL, "ct", "create", "hog", "--tenant", "risk", "--image", "bb", "--memory",
                      "64M", "--start", "--", "sh", "-c",
                      "dd if=/dev/zero bs=1M count=200 2>/dev/null | sort");
        wait_state("hog", "out of memory");
        assert_arkctl(&H, 0, NULL, "ct", "delete", "hog");

        /* Pids: no more processes than the limit. A subshell forks until it cannot (the shell gives
         * up there); the container then counts its processes with the shell's builtins alone
         * (nothing is left to fork at the limit). */
        /* (1 GiB: a thousand processes' memory, so that the pids limit is what stops them.) */
        assert_arkctl(
                &H, 0, NULL, "ct", "create", "forks", "--tenant", "risk", "--image", "bb", "--memory", "1G",
                "--start", "--", "sh", "-c",
                "(i=0; while [ $i -lt 1500 ]; do sleep 1000 </dev/null >/dev/null 2>&1 & i=$((i+1)); done); "
                "c=0; for p in /proc/[0-9]*; do c=$((c+1)); done; echo procs=$c; exec sleep 1000");
        wait_log("forks", "procs=");
        {
                const char *p;
                long n;

                out = mfree(out);
                assert_int_equal(harness_arkctl(&H, &out, NULL, "ct", "logs", "forks", NULL), 0);
                assert_non_null(strstr(out, "can't fork"));
                p = strstr(out, "procs=");
                n = strtol(p + 6, NULL, 10);
                if (n < 1000 || n > 1024)
                        fail_msg("the container has %ld processes; its limit is 1024", n);
                /* (A command run in it now may find the slot the subshell left.) */
        }
        assert_arkctl(&H, 0, NULL, "ct", "stop", "forks", "--force");
        assert_arkctl(&H, 0, NULL, "ct", "delete", "forks");
}

/* kill -9 of arkd: the container runs on; the next arkd adopts it, its log and, once it ends
 * while arkd is away, its exit status. */
static void test_adoption(void **state) {
        _cleanup_free_ char *out = NULL;

        if (skip_why)
                skip();
        assert_arkctl(&H, 0, NULL, "ct", "create", "batch", "--tenant", "risk", "--image", "bb", "--start",
                      "--", "sh", "-c",
                      "echo started; while [ ! -e /tmp/go ]; do sleep 0.2; done; echo done; exit 3");
        wait_state("batch", "running");
        wait_log("batch", "started");
        assert_int_equal(harness_stop_arkd(&H, SIGKILL), 128 + SIGKILL);
        assert_int_equal(harness_start_arkd(&H, NULL), 0);
        out = itest_arkctl_expect(&H, 0, "running", "ct", "show", "batch", NULL);
        out = mfree(out);
        wait_log("batch", "started");
        assert_arkctl(&H, 0, NULL, "ct", "exec", "batch", "--", "true");

        /* It ends while no arkd watches. */
        assert_int_equal(harness_stop_arkd(&H, SIGKILL), 128 + SIGKILL);
        {
                _cleanup_free_ char *pid = NULL;

                assert_int_equal(harness_sh(&pid, NULL, "pgrep -f 'while \\[ ! -e /tmp/go' | head -1"), 0);
                assert_int_equal(
                        harness_sh(NULL, NULL, "touch /proc/%ld/root/tmp/go", strtol(pid, NULL, 10)), 0);
        }
        sleep(1);
        assert_int_equal(harness_start_arkd(&H, NULL), 0);
        wait_state("batch", "exited with status 3");
        wait_log("batch", "done");
        assert_arkctl(&H, 0, NULL, "ct", "delete", "batch");
}

/* The IPv4 address of the container's NIC on `network` (from `ct show -o json`). */
static char *container_ip(const char *name) {
        _cleanup_(json_decrefp) json_t *j = harness_arkctl_json(&H, "ct", "show", name, NULL);
        json_t *nics;

        assert_non_null(j);
        nics = json_object_get(j, "networks");
        assert_true(json_array_size(nics) >= 1);
        return strdup(json_string_value(json_object_get(json_array_get(nics, 0), "ipv4")));
}

/* An HTTP GET of http://IP:8080/ from inside container `from`, through busybox nc (its wget
 * resolves through NSS, which a static busybox cannot load); 0 and the answer in *ret. */
static int http_get(const char *from, const char *ip, char **ret) {
        _cleanup_free_ char *cmd = strprintf("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 %s 8080", ip);

        assert_non_null(cmd);
        return harness_arkctl(&H, ret, NULL, "ct", "exec", from, "--", "sh", "-c", cmd, NULL);
}

/* Two tenants' containers, each on its tenant's NAT network (a default route through the
 * gateway, forwarding on: only the rules keep the tenants apart): a container reaches its own
 * network's containers and nothing of the other tenant's, in either direction. */
static void test_networks(void **state) {
        _cleanup_free_ char *ip_srv = NULL, *ip_lab = NULL, *out = NULL;
        const char *serve = "mkdir -p /www && echo served-by-$(hostname) > /www/index.html && "
                            "exec httpd -f -p 8080 -h /www";

        if (skip_why)
                skip();
        if (!H.netns) {
                printf("# skipped: arkd runs without a network namespace of its own\n");
                skip();
        }
        /* arkd's namespace gets a way out (NAT needs an uplink) and forwards. */
        {
                _cleanup_free_ char *err = NULL;

                if (harness_sh(
                            NULL, &err,
                            "nsenter --net=%1$s ip link add up0 type veth peer name up0p && "
                            "nsenter --net=%1$s ip addr add 192.0.2.1/24 dev up0 && "
                            "nsenter --net=%1$s ip link set up0 up && nsenter --net=%1$s ip link set up0p up && "
                            "nsenter --net=%1$s ip route add default via 192.0.2.254 && "
                            "nsenter --net=%1$s sysctl -qw net.ipv4.ip_forward=1",
                            H.netns) != 0)
                        fail_msg("cannot give arkd's namespace a way out: %s", strna(err));
        }
        assert_arkctl(&H, 0, NULL, "network", "create", "rnet", "--tenant", "risk", "--nat");
        assert_arkctl(&H, 0, NULL, "network", "create", "lnet", "--tenant", "lab", "--nat");
        assert_arkctl(&H, 0, NULL, "ct", "create", "srv", "--tenant", "risk", "--image", "bb", "--network",
                      "rnet", "--start", "--", "sh", "-c", serve);
        assert_arkctl(&H, 0, NULL, "ct", "create", "cli", "--tenant", "risk", "--image", "bb", "--network",
                      "rnet", "--start", "--", "sleep", "1000");
        assert_arkctl(&H, 0, NULL, "ct", "create", "lsrv", "--tenant", "lab", "--image", "bb", "--network",
                      "lnet", "--start", "--", "sh", "-c", serve);
        wait_state("srv", "running");
        wait_state("cli", "running");
        wait_state("lsrv", "running");
        ip_srv = container_ip("srv");
        ip_lab = container_ip("lsrv");
        assert_non_null(ip_srv);
        assert_non_null(ip_lab);

        /* Same network: served (httpd may take a moment to listen). */
        for (int k = 0; k < 50; k++) {
                out = mfree(out);
                if (http_get("cli", ip_srv, &out) == 0 && strstr(out, "served-by-srv"))
                        break;
                usleep(200 * 1000);
        }
        assert_non_null(strstr(strempty(out), "served-by-srv"));
        out = mfree(out);
        /* Across tenants: nothing, either way (the route is there: the rules drop it). */
        http_get("cli", ip_lab, &out);
        assert_null(strstr(strempty(out), "served-by"));
        out = mfree(out);
        http_get("lsrv", ip_srv, &out);
        assert_null(strstr(strempty(out), "served-by"));
        out = mfree(out);
        /* Its own network's gateway answers DNS-and-DHCP only, not other ports; and the container
         * cannot take another address: it has no CAP_NET_ADMIN. */
        assert_int_not_equal(harness_arkctl(&H, NULL, NULL, "ct", "exec", "cli", "--", "ip", "addr", "add",
                                            "10.99.0.9/24", "dev", "eth0", NULL),
                             0);
        /* /sys is the host's in a joined network namespace: its network devices (the host's,
         * other containers' veth ends, the bridges) are masked. */
        out = mfree(out);
        assert_int_equal(harness_arkctl(&H, &out, NULL, "ct", "exec", "cli", "--", "ls", "/sys/class/net",
                                        "/sys/devices/virtual/net", NULL),
                         0);
        assert_null(strstr(out, "veth"));
        assert_null(strstr(out, "br"));
        assert_null(strstr(out, "lo"));
        out = mfree(out);
        for (const char *const *n = (const char *const[]) { "srv", "cli", "lsrv", NULL }; *n; n++) {
                assert_arkctl(&H, 0, NULL, "ct", "stop", *n, "--force");
                assert_arkctl(&H, 0, NULL, "ct", "delete", *n);
        }
        assert_arkctl(&H, 0, NULL, "network", "delete", "rnet");
        assert_arkctl(&H, 0, NULL, "network", "delete", "lnet");
}

/* Device nodes as the drivers make them, under the test's DeviceRoot (<tmp>/dev). */
static void make_nodes(Harness *h, const char *script) {
        _cleanup_free_ char *err = NULL;

        if (harness_sh(NULL, &err, "set -e; cd '%s'; mkdir -p dev; cd dev; %s", h->tmp, script) != 0)
                fail_msg("mknod: %s", strna(err));
}

/* Rebinds the GPU at `address` of h's sysfs copy to `driver` (the fixture's "driver" link). */
static void rebind(Harness *h, const char *address, const char *driver) {
        assert_int_equal(harness_sh(NULL, NULL,
                                    "set -e; cd '%s/sys/bus/pci/devices/%s'; t=$(readlink driver); "
                                    "ln -sfn \"${t%%/*}/%s\" driver",
                                    h->sysfs_root, address, driver),
                         0);
}

/* The value after `key` in the fixture's NVIDIA information file of the GPU. */
static char *nvidia_info(Harness *h, const char *address, const char *key) {
        _cleanup_free_ char *out = NULL;

        assert_int_equal(
                harness_sh(&out, NULL,
                           "sed -n 's/^%s:[[:space:]]*//p' '%s/proc/driver/nvidia/gpus/%s/information'", key,
                           h->sysfs_root, address),
                0);
        out[strcspn(out, "\n")] = 0;
        return TAKE_PTR(out);
}

/* The one GPU of container `name`. */
static char *gpu_of(Harness *h, const char *name, char **ret_uuid) {
        _cleanup_(json_decrefp) json_t *j = harness_arkctl_json(h, "ct", "show", name, NULL);
        json_t *g;

        assert_non_null(j);
        g = json_object_get(j, "gpus");
        if (json_array_size(g) != 1)
                fail_msg("container %s has %zu GPUs", name, json_array_size(g));
        if (ret_uuid)
                *ret_uuid = strdup(json_string_value(json_object_get(j, "id")));
        return strdup(json_string_value(json_array_get(g, 0)));
}

/* Whether config.json of the container allows the device (type, major, minor) in its cgroup. */
static bool config_allows(Harness *h, const char *uuid, unsigned major, unsigned minor) {
        _cleanup_free_ char *path = strprintf("%s/containers/%s/config.json", h->tmp, uuid);
        _cleanup_(json_decrefp) json_t *c = json_load_file(path, 0, NULL);
        json_t *rules, *r;
        size_t k;

        assert_non_null(c);
        rules = json_object_get(json_object_get(json_object_get(c, "linux"), "resources"), "devices");
        json_array_foreach(rules, k, r)
                if (json_is_true(json_object_get(r, "allow")) &&
                    json_integer_value(json_object_get(r, "major")) == major &&
                    json_integer_value(json_object_get(r, "minor")) == minor)
                        return true;
        return false;
}

/* Whole NVIDIA GPUs (acceptance 3): --gpus 1 gets exactly its GPU's nodes, the driver's shared
 * ones, the cgroup rules and the UUID; a GPU a VM holds is never offered, nor one bound to
 * vfio-pci; the CDI spec arkd writes lists the host's GPUs. */
static void test_gpus(void **state) {
        _cleanup_free_ char *gpu = NULL, *uuid = NULL, *minor = NULL, *gpu_uuid = NULL, *out = NULL,
                            *err = NULL, *spec_path = NULL, *ls = NULL, *free_gpu = NULL, *g2 = NULL;
        _cleanup_(json_decrefp) json_t *spec = NULL, *vm = NULL, *accs = NULL;
        unsigned n_nodes = 0;
        json_t *a;
        size_t k;

        if (skip_why)
                skip();
        make_nodes(&H,
                   "for i in 0 1 2 3 4 5 6 7; do mknod nvidia$i c 195 $i; done; mknod nvidiactl c 195 255; "
                   "mknod nvidia-uvm c 511 0; mknod nvidia-uvm-tools c 511 1");
        assert_arkctl(&H, 0, NULL, "ct", "create", "g1", "--tenant", "risk", "--image", "bb", "--gpus", "1",
                      "--start");
        wait_state("g1", "running");
        gpu = gpu_of(&H, "g1", &uuid);
        minor = nvidia_info(&H, gpu, "Device Minor");
        gpu_uuid = nvidia_info(&H, gpu, "GPU UUID");
        assert_true(startswith(gpu_uuid, "GPU-"));

        /* Exactly its node, and the driver's. */
        ls = itest_arkctl_expect(&H, 0, "nvidiactl", "ct", "exec", "g1", "--", "ls", "/dev", NULL);
        for (char *w = strtok(ls, " \n"); w; w = strtok(NULL, " \n"))
                if (startswith(w, "nvidia") && w[6] >= '0' && w[6] <= '9') {
                        assert_string_equal(w + 6, minor);
                        n_nodes++;
                }
        assert_int_equal(n_nodes, 1);
        {
                _cleanup_free_ char *node = strprintf("/dev/nvidia%s", minor),
                                    *want = strprintf("c3 %x", atoi(minor));

                /* busybox stat prints the numbers in hex: 195 is c3. */
                out = itest_arkctl_expect(&H, 0, want, "ct", "exec", "g1", "--", "stat", "-c", "%t %T", node,
                                          NULL);
                out = mfree(out);
        }
        out = itest_arkctl_expect(&H, 0, gpu_uuid, "ct", "exec", "g1", "--", "sh", "-c",
                                  "echo $NVIDIA_VISIBLE_DEVICES", NULL);
        out = mfree(out);
        assert_true(config_allows(&H, uuid, 195, (unsigned) atoi(minor)));
        assert_true(config_allows(&H, uuid, 195, 255));
        assert_false(config_allows(&H, uuid, 195, (unsigned) (atoi(minor) + 1) % 8));
        /* It is the container's. */
        out = itest_arkctl_expect(&H, 0, "g1", "host", "accelerators", NULL);
        out = mfree(out);

        /* The CDI spec of the host's GPUs, written at start (the nodes are there now). */
        assert_int_equal(harness_stop_arkd(&H, SIGTERM), 0);
        assert_int_equal(harness_start_arkd(&H, NULL), 0);
        spec_path = strprintf("%s/run/cdi/ark-nvidia.json", H.tmp);
        spec = json_load_file(spec_path, 0, NULL);
        assert_non_null(spec);
        assert_string_equal(json_string_value(json_object_get(spec, "kind")), "nvidia.com/gpu");
        assert_int_equal(json_array_size(json_object_get(spec, "devices")), 8);
        out = itest_arkctl_expect(&H, 0, "running", "ct", "show", "g1", NULL);
        out = mfree(out);

        /* A VM takes 6 GPUs, none of the container's; one is left. */
        assert_arkctl(&H, 0, NULL, "vm", "create", "v6", "--tenant", "lab", "--vcpus", "1", "--memory", "1G",
                      "--gpus", "6");
        vm = harness_arkctl_json(&H, "vm", "show", "v6", NULL);
        assert_non_null(vm);
        json_array_foreach(json_object_get(vm, "gpus"), k, a)
                assert_string_not_equal(json_string_value(a), gpu);
        assert_arkctl(&H, 1, "Not enough free GPUs", "ct", "create", "g2", "--tenant", "lab", "--image",
                      "bb", "--gpus", "2");
        accs = harness_arkctl_json(&H, "host", "accelerators", NULL);
        json_array_foreach(accs, k, a)
                if (streq_ptr(json_string_value(json_object_get(a, "claim_state")), "free"))
                        free_gpu = strdup(json_string_value(json_object_get(a, "address")));
        assert_non_null(free_gpu);
        /* On vfio-pci it is for VMs: never a container's, and the refusal says why. */
        rebind(&H, free_gpu, "vfio-pci");
        assert_int_equal(harness_arkctl(&H, &out, &err, "ct", "create", "g2", "--tenant", "lab", "--image",
                                        "bb", "--gpus", "1", NULL),
                         1);
        assert_non_null(strstr(err, "bound to vfio-pci"));
        out = mfree(out), err = mfree(err);
        rebind(&H, free_gpu, "nvidia");
        assert_arkctl(&H, 0, NULL, "ct", "create", "g2", "--tenant", "lab", "--image", "bb", "--gpus", "1",
                      "--start");
        wait_state("g2", "running");
        g2 = gpu_of(&H, "g2", NULL);
        assert_string_equal(g2, free_gpu);
        /* And a container's GPU is never a VM's. */
        assert_arkctl(&H, 1, "Not enough free GPUs", "vm", "gpu", "add", "v6", "--gpus", "1");

        for (const char *const *n = (const char *const[]) { "g1", "g2", NULL }; *n; n++) {
                assert_arkctl(&H, 0, NULL, "ct", "stop", *n, "--force");
                assert_arkctl(&H, 0, NULL, "ct", "delete", *n);
        }
        assert_arkctl(&H, 0, NULL, "vm", "delete", "v6");
}

/* The fake NVML's GPUs: dgx-h100's eight, with the UUIDs its driver files give. */
static void write_nvml_state(Harness *h, const char *path) {
        _cleanup_free_ char *err = NULL;

        assert_int_equal(
                harness_sh(
                        NULL, &err,
                        "for d in '%s'/proc/driver/nvidia/gpus/*; do a=$(basename $d); "
                        "u=$(sed -n 's/^GPU UUID:[[:space:]]*//p' $d/information); "
                        "echo \"gpu $a uuid=$u memory_mib=81559 mig=0 compute_mode=0 name=NVIDIA H100 80GB HBM3\"; "
                        "done > '%s'",
                        h->sysfs_root, path),
                0);
}

/* The partition of container `name` from `ct show -o json`: its GPU, and its start slice (-1 for a
 * share). */
static char *partition_of(Harness *h, const char *name, int *ret_start) {
        _cleanup_(json_decrefp) json_t *j = harness_arkctl_json(h, "ct", "show", name, NULL);
        json_t *p;

        assert_non_null(j);
        p = json_array_get(json_object_get(j, "partition"), 0);
        if (!p) {
                json_t *g = json_object_get(j, "gpus");

                *ret_start = -1;
                return json_array_size(g) > 0 ? strdup(json_string_value(json_array_get(g, 0))) : NULL;
        }
        *ret_start = streq_ptr(json_string_value(json_object_get(p, "kind")), "mig")
                ? (int) json_integer_value(json_object_get(p, "mig_start"))
                : -1;
        return strdup(json_string_value(json_object_get(p, "gpu")));
}

static int create_step(Harness *h, const PartitionStep *s, char **ret_err) {
        char cpus[16], mem[32], milli[16], smem[32];
        const char *argv[24];
        size_t n = 0;

        snprintf(cpus, sizeof(cpus), "%u", s->vcpus);
        snprintf(mem, sizeof(mem), "%" PRIu64 "G", s->memory_bytes / PARTITION_GIB);
        snprintf(milli, sizeof(milli), "0.%03u", s->share_milli);
        snprintf(smem, sizeof(smem), "%" PRIu64 "G", s->share_memory / PARTITION_GIB);
        argv[n++] = "ct", argv[n++] = "create", argv[n++] = s->name, argv[n++] = "--tenant",
        argv[n++] = s->tenant, argv[n++] = "--image", argv[n++] = "bb", argv[n++] = "--cpus",
        argv[n++] = cpus, argv[n++] = "--memory", argv[n++] = mem;
        if (s->kind == PARTITION_WHOLE) {
                static char gpus[8];

                snprintf(gpus, sizeof(gpus), "%u", s->gpus);
                argv[n++] = "--gpus", argv[n++] = gpus;
        } else if (s->kind == PARTITION_MIG)
                argv[n++] = "--mig", argv[n++] = s->profile;
        else
                argv[n++] = "--gpu-share", argv[n++] = milli, argv[n++] = "--gpu-memory", argv[n++] = smem;
        argv[n] = NULL;
        return harness_arkctl_argv(h, NULL, ret_err, (char *const *) argv);
}

/* MIG instances and shares (acceptance 3 and 4), with a fake NVML (tests/fake-nvml) and a fake
 * MPS control daemon (tests/fake-mps-control): the sharing sequence of partition-sequence.h goes
 * through arkd with the placements lib/pool makes for it, the next request is refused with its
 * sentence; a MIG container gets its instance's caps and MIG UUID; a share's container gets the
 * MPS pipe and its GPU's UUID, the daemon the share's limits and the tenant's UID, the GPU
 * exclusive-process; deleting them destroys the instances and stops the daemon. */
static void test_partitions(void **state) {
        _cleanup_free_ char *nvml_state = NULL, *conf = NULL, *fake_mps = NULL, *out = NULL, *err = NULL,
                            *nvml_text = NULL;
        uint64_t milli = 0, memory = 0;
        unsigned whole_only = 0, gpus_left = 8;

        if (skip_why)
                skip();
        nvml_state = strprintf("%s/nvml.state", H.tmp);
        fake_mps = strprintf("%s/fake-mps-control", H.tmp);
        write_nvml_state(&H, nvml_state);
        assert_int_equal(
                harness_sh(NULL, NULL, "cp '%s/tests/fake-mps-control' '%s'", harness_src_dir(), fake_mps),
                0);
        conf = strprintf("NVML=%s/tests/libnvidia-ml.so.1\nMPSControl=%s\n", harness_build_dir(), fake_mps);
        make_nodes(&H,
                   "rm -f nvidia*; for i in 0 1 2 3 4 5 6 7; do mknod nvidia$i c 195 $i; done; "
                   "mknod nvidiactl c 195 255; mknod nvidia-uvm c 511 0; mkdir -p nvidia-caps; "
                   "awk '{print $2}' ../sysfs/proc/driver/nvidia-caps/mig-minors | "
                   "while read m; do mknod nvidia-caps/nvidia-cap$m c 509 $m; done");
        assert_int_equal(harness_stop_arkd(&H, SIGTERM), 0);
        H.extra_conf = conf;
        assert_int_equal(setenv("ARK_FAKE_NVML_STATE", nvml_state, 1), 0);
        assert_int_equal(harness_start_arkd(&H, NULL), 0);
        for (const char *const *t = (const char *const[]) { "a", "b", "c", "d", "e", NULL }; *t; t++)
                assert_arkctl(&H, 0, NULL, "tenant", "create", *t);

        /* The sequence, as the library places it. */
        for (size_t k = 0; k < ELEMENTSOF(partition_sequence); k++) {
                const PartitionStep *s = &partition_sequence[k];
                _cleanup_free_ char *e = NULL, *gpu = NULL;
                int start;

                if (create_step(&H, s, &e) != 0)
                        fail_msg("step %s refused: %s", s->name, strna(e));
                gpu = partition_of(&H, s->name, &start);
                if (!streq_ptr(gpu, s->gpu) || start != s->mig_start)
                        fail_msg("step %s: GPU %s start %d; the library: %s start %d", s->name, strna(gpu),
                                 start, s->gpu, s->mig_start);
                milli += s->kind == PARTITION_WHOLE ? s->gpus * 1000U
                        : s->kind == PARTITION_MIG  ? mig_profile_milli(mig_profile_from_string(s->profile))
                                                    : s->share_milli;
                memory += s->kind == PARTITION_WHOLE ? s->gpus * 80 * PARTITION_GIB
                        : s->kind == PARTITION_MIG
                        ? mig_profile_memory(mig_profile_from_string(s->profile), 81559ULL << 20)
                        : s->share_memory;
                /* Whole GPUs only: each request takes whole GPUs while they last. */
                if (gpus_left >= MAX(s->gpus, 1U)) {
                        gpus_left -= MAX(s->gpus, 1U);
                        whole_only++;
                }
        }
        assert_int_equal(create_step(&H, &partition_refused, &err), 1);
        if (!strstr(strempty(err), PARTITION_REFUSED_MESSAGE))
                fail_msg("the refusal says: %s", strna(err));
        err = mfree(err);
        printf("# sharing: %zu requests admitted on 8 GPUs (whole GPUs only: %u), %.3f GPUs of compute and "
               "%.1f GiB of GPU memory given out\n",
               ELEMENTSOF(partition_sequence), whole_only, milli / 1000.0, (double) memory / PARTITION_GIB);
        /* NVML has the instances where the pooler put them. */
        assert_int_equal(read_full_file(nvml_state, &nvml_text, NULL), 0);
        assert_non_null(strstr(nvml_text, "gi 0000:3a:00.0 id="));
        assert_non_null(strstr(nvml_text, "profile=3g.40gb start=4"));
        nvml_text = mfree(nvml_text);

        /* The partitions in `host accelerators`: holders for the admin, and for a member of c only
         * its own (b's MIG instances are "another tenant"). */
        out = itest_arkctl_expect(&H, 0, "mig 3g.40gb: 'm3a'", "host", "accelerators", NULL);
        assert_non_null(strstr(out, "share 0.500: 's5a'"));
        out = mfree(out);
        out = itest_arkctl_expect(&H, 0, "\"claim_state\": \"partitioned\"", "-o", "json", "host",
                                  "accelerators", NULL);
        out = mfree(out);
        assert_int_equal(harness_sh(NULL, NULL,
                                    "userdel ark-t-ctpart 2>/dev/null; useradd --system --no-create-home "
                                    "--shell /usr/sbin/nologin ark-t-ctpart"),
                         0);
        assert_arkctl(&H, 0, NULL, "tenant", "member", "add", "c", "--user", "ark-t-ctpart");
        assert_int_equal(harness_sh(&out, NULL,
                                    "ARK_BUS_ADDRESS='%s' setpriv --reuid=ark-t-ctpart --regid=ark-t-ctpart "
                                    "--init-groups '%s/bin/arkctl' host accelerators",
                                    H.bus_address, harness_build_dir()),
                         0);
        (void) harness_sh(NULL, NULL, "userdel ark-t-ctpart");
        assert_non_null(strstr(out, "share 0.500: 's5a'"));
        assert_non_null(strstr(out, "mig 3g.40gb: another tenant"));
        assert_null(strstr(out, "m3a"));
        out = mfree(out);

        /* A MIG container: its instance's access files, its MIG UUID. */
        assert_arkctl(&H, 0, NULL, "ct", "start", "m3a");
        wait_state("m3a", "running");
        out = itest_arkctl_expect(&H, 0, "nvidia-cap", "ct", "exec", "m3a", "--", "ls", "/dev/nvidia-caps",
                                  NULL);
        {
                unsigned caps = 0;

                for (const char *c = out; (c = strstr(c, "nvidia-cap")); c++)
                        caps++;
                assert_int_equal(caps, 2);
        }
        out = mfree(out);
        out = itest_arkctl_expect(&H, 0, "MIG-", "ct", "exec", "m3a", "--", "sh", "-c",
                                  "echo $NVIDIA_VISIBLE_DEVICES", NULL);
        out = mfree(out);

        /* A share: the daemon serves the tenant's UID with the share's limits; the container sees
         * its pipes and its GPU. */
        assert_arkctl(&H, 0, NULL, "ct", "start", "s5a");
        wait_state("s5a", "running");
        out = itest_arkctl_expect(
                &H, 0, "/run/nvidia-mps", "ct", "exec", "s5a", "--", "sh", "-c",
                "echo $CUDA_MPS_PIPE_DIRECTORY $NVIDIA_VISIBLE_DEVICES; ls /run/nvidia-mps", NULL);
        assert_non_null(strstr(out, "GPU-"));
        assert_non_null(strstr(out, "control"));
        out = mfree(out);
        assert_int_equal(
                harness_sh(&out, NULL, "cat '%s'/run/containers/mps/0000:5d:00.0/log/commands", H.tmp), 0);
        assert_non_null(strstr(out, "set_default_active_thread_percentage 50"));
        assert_non_null(strstr(out, "set_default_device_pinned_mem_limit 0 40G"));
        assert_non_null(strstr(out, "start_server -uid "));
        out = mfree(out);
        assert_int_equal(read_full_file(nvml_state, &nvml_text, NULL), 0);
        assert_non_null(strstr(nvml_text, "gpu 0000:5d:00.0 uuid="));
        {
                const char *line = strstr(nvml_text, "gpu 0000:5d:00.0 ");

                assert_non_null(strstr(line, "compute_mode=3"));
                assert_true(strstr(line, "compute_mode=3") < strchr(line, '\n'));
        }
        nvml_text = mfree(nvml_text);

        /* kill -9 of arkd: the next one adopts the MIG instance and the daemon as they are. */
        {
                _cleanup_free_ char *before = NULL, *after = NULL, *pids = NULL;

                assert_int_equal(read_full_file(nvml_state, &before, NULL), 0);
                assert_int_equal(harness_stop_arkd(&H, SIGKILL), 128 + SIGKILL);
                assert_int_equal(harness_start_arkd(&H, NULL), 0);
                out = itest_arkctl_expect(&H, 0, "running", "ct", "show", "m3a", NULL);
                out = mfree(out);
                out = itest_arkctl_expect(&H, 0, "running", "ct", "show", "s5a", NULL);
                out = mfree(out);
                assert_arkctl(&H, 0, NULL, "ct", "exec", "s5a", "--", "true");
                assert_int_equal(read_full_file(nvml_state, &after, NULL), 0);
                assert_string_equal(before, after);
                assert_int_equal(harness_sh(&pids, NULL, "pgrep -f '%s[ ]-f' | wc -l", fake_mps), 0);
                assert_int_equal(atoi(pids), 1);
        }

        /* Metered by their fraction: GPU-seconds and CU-seconds are the partition's part of its
         * GPU's. */
        sleep(1);
        {
                _cleanup_(json_decrefp) json_t *rows = harness_arkctl_json(&H, "usage", "report", NULL);
                json_t *row;
                size_t k;
                unsigned seen = 0;

                assert_non_null(rows);
                json_array_foreach(rows, k, row) {
                        const char *inst = json_string_value(json_object_get(row, "instance"));
                        double sec = json_real_value(json_object_get(row, "seconds")),
                               gpu = json_real_value(json_object_get(row, "gpu_seconds"));
                        double want = streq_ptr(inst, "s5a") ? 0.5 : streq_ptr(inst, "m3a") ? 3.0 / 7 : -1;

                        if (want < 0)
                                continue;
                        seen++;
                        assert_true(sec > 0.5);
                        if (gpu < sec * want * 0.97 || gpu > sec * want * 1.03)
                                fail_msg("%s: %.2f GPU-seconds in %.2f s, want %.3f of them", inst, gpu, sec,
                                         want);
                        assert_true(json_real_value(json_object_get(row, "compute_unit_seconds")) > 0);
                }
                assert_int_equal(seen, 2);
        }

        /* Gone with their containers: the instances, MIG mode, the daemon. */
        assert_arkctl(&H, 0, NULL, "ct", "stop", "m3a", "--force");
        assert_arkctl(&H, 0, NULL, "ct", "stop", "s5a", "--force");
        for (size_t k = 0; k < ELEMENTSOF(partition_sequence); k++)
                assert_arkctl(&H, 0, NULL, "ct", "delete", partition_sequence[k].name);
        assert_int_equal(read_full_file(nvml_state, &nvml_text, NULL), 0);
        assert_null(strstr(nvml_text, "\ngi "));
        assert_null(strstr(nvml_text, "mig=1"));
        assert_null(strstr(nvml_text, "compute_mode=3"));
        /* (The pattern does not match pgrep's own shell, whose command line holds "[ ]".) */
        assert_int_not_equal(harness_sh(NULL, NULL, "pgrep -f '%s[ ]-f'", fake_mps), 0);

        /* Bad requests: refused with the reason, nothing made. */
        assert_arkctl(&H, 1, "is no MIG profile Ark knows; these are: 1g.10gb", "ct", "create", "bad",
                      "--tenant", "a", "--image", "bb", "--mig", "9g.99gb");
        assert_arkctl(&H, 1, "not several", "ct", "create", "bad", "--tenant", "a", "--image", "bb", "--mig",
                      "1g.10gb", "--gpus", "1");
        assert_arkctl(&H, 2, "is not a fraction of a GPU", "ct", "create", "bad", "--tenant", "a", "--image",
                      "bb", "--gpu-share", "1.5", "--gpu-memory", "1G");
        assert_arkctl(&H, 2, "go together", "ct", "create", "bad", "--tenant", "a", "--image", "bb",
                      "--gpu-share", "0.5");
        assert_arkctl(&H, 1, NULL, "ct", "show", "bad");

        /* GPUModel narrows where a partition goes, and takes no whole GPU beside it. */
        assert_arkctl(&H, 0, NULL, "ct", "create", "mm", "--tenant", "a", "--image", "bb", "--mig",
                      "1g.10gb", "--gpu-model", "H100");
        {
                int start;
                _cleanup_free_ char *gpu = partition_of(&H, "mm", &start);
                _cleanup_(json_decrefp) json_t *j = harness_arkctl_json(&H, "ct", "show", "mm", NULL);

                assert_non_null(gpu);
                assert_true(start >= 0);
                assert_int_equal(json_array_size(json_object_get(j, "gpus")), 0);
        }
        assert_arkctl(&H, 1, "gets no whole GPUs beside it", "vm", "gpu", "add", "mm", "--gpus", "1");
        assert_arkctl(&H, 0, NULL, "ct", "delete", "mm");

        /* Quotas: a GPU carrying a tenant's shares serves it alone, so it counts as one whole GPU
         * however many shares it carries; a share of another size needs another GPU. */
        assert_arkctl(&H, 0, NULL, "tenant", "create", "q");
        assert_arkctl(&H, 0, NULL, "tenant", "quota", "set", "q", "gpus=1");
        assert_arkctl(&H, 1, "in whole MiB", "ct", "create", "qx", "--tenant", "q", "--image", "bb",
                      "--gpu-share", "0.25", "--gpu-memory", "1000000");
        assert_arkctl(&H, 0, NULL, "ct", "create", "qa", "--tenant", "q", "--image", "bb", "--gpu-share",
                      "0.25", "--gpu-memory", "10G");
        assert_arkctl(&H, 0, NULL, "ct", "create", "qb", "--tenant", "q", "--image", "bb", "--gpu-share",
                      "0.25", "--gpu-memory", "10G");
        assert_arkctl(&H, 1, "would use 2 of its 1 GPUs", "ct", "create", "qc", "--tenant", "q", "--image",
                      "bb", "--gpu-share", "0.5", "--gpu-memory", "10G");
        for (const char *const *n = (const char *const[]) { "qa", "qb", NULL }; *n; n++)
                assert_arkctl(&H, 0, NULL, "ct", "delete", *n);
        assert_arkctl(&H, 0, NULL, "tenant", "delete", "q");
        for (const char *const *t = (const char *const[]) { "a", "b", "c", "d", "e", NULL }; *t; t++)
                assert_arkctl(&H, 0, NULL, "tenant", "delete", *t);
}

/* A preemptible container borrows GPUs another tenant is guaranteed and gives them back when that
 * tenant asks: stopped (its first process gets SIGTERM), its GPUs released, asked for again at its
 * next start. A share cannot be preemptible. */
static void test_preemptible(void **state) {
        _cleanup_free_ char *out = NULL;
        _cleanup_(json_decrefp) json_t *j = NULL;

        if (skip_why)
                skip();
        assert_arkctl(&H, 0, NULL, "tenant", "create", "owner");
        assert_arkctl(&H, 0, NULL, "tenant", "quota", "set", "owner", "gpus=8..8");
        assert_arkctl(&H, 1, "only a preemptible instance may borrow them", "ct", "create", "nb", "--tenant",
                      "risk", "--image", "bb", "--gpus", "2");
        assert_arkctl(&H, 1, "cannot be preemptible", "ct", "create", "ps", "--tenant", "risk", "--image",
                      "bb", "--gpu-share", "0.5", "--gpu-memory", "10G", "--preemptible");
        assert_arkctl(&H, 0, NULL, "ct", "create", "borrow", "--tenant", "risk", "--image", "bb", "--gpus",
                      "2", "--preemptible", "--start", "--", "sh", "-c",
                      "trap 'exit 0' TERM; while :; do sleep 1; done");
        wait_state("borrow", "running");
        /* The owner asks for all its 8: the borrower gives its 2 back. */
        assert_arkctl(&H, 0, NULL, "ct", "create", "own", "--tenant", "owner", "--image", "bb", "--gpus",
                      "8");
        j = harness_arkctl_json(&H, "ct", "show", "borrow", NULL);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "state")), "stopped");
        assert_non_null(strstr(json_string_value(json_object_get(j, "state_reason")), "preempted"));
        assert_int_equal(json_array_size(json_object_get(j, "gpus")), 0);
        assert_int_equal(json_integer_value(json_object_get(j, "preempted_gpus")), 2);
        json_decref(TAKE_PTR(j));
        j = harness_arkctl_json(&H, "ct", "show", "own", NULL);
        assert_int_equal(json_array_size(json_object_get(j, "gpus")), 8);
        /* None to borrow now: its start says so. */
        assert_arkctl(&H, 1, "cannot get 2 again now", "ct", "start", "borrow");
        assert_arkctl(&H, 0, NULL, "ct", "delete", "own");
        assert_arkctl(&H, 0, NULL, "ct", "start", "borrow");
        wait_state("borrow", "running");
        out = itest_arkctl_expect(&H, 0, "nvidia", "ct", "exec", "borrow", "--", "ls", "/dev", NULL);
        assert_arkctl(&H, 0, NULL, "ct", "stop", "borrow", "--force");
        assert_arkctl(&H, 0, NULL, "ct", "delete", "borrow");
        assert_arkctl(&H, 0, NULL, "tenant", "delete", "owner");
}

/* Ascend NPUs (acceptance 3): on ascend-910b, --gpus 2 gets two davinci devices and the driver's
 * shared nodes, ASCEND_VISIBLE_DEVICES naming both. */
static void test_ascend(void **state) {
        Harness A = {};
        _cleanup_free_ char *ls = NULL, *vis = NULL;
        unsigned n = 0;

        if (skip_why)
                skip();
        assert_int_equal(start_host(&A, "ascend-910b"), 0);
        make_nodes(&A,
                   "for i in 0 1 2 3 4 5 6 7; do mknod davinci$i c 236 $i; done; "
                   "mknod davinci_manager c 237 0; mknod devmm_svm c 238 0; mknod hisi_hdc c 239 0");
        assert_arkctl(&A, 0, NULL, "ct", "create", "npu", "--tenant", "risk", "--image", "bb", "--gpus", "2",
                      "--start");
        {
                uint64_t deadline = harness_wait_deadline();
                _cleanup_free_ char *o = NULL;

                while (!harness_wait_over(deadline)) {
                        o = mfree(o);
                        if (harness_arkctl(&A, &o, NULL, "ct", "show", "npu", NULL) == 0 &&
                            strstr(o, "running"))
                                break;
                        usleep(100 * 1000);
                }
        }
        ls = itest_arkctl_expect(&A, 0, "davinci_manager", "ct", "exec", "npu", "--", "ls", "/dev", NULL);
        assert_non_null(strstr(ls, "devmm_svm"));
        assert_non_null(strstr(ls, "hisi_hdc"));
        for (char *w = strtok(ls, " \n"); w; w = strtok(NULL, " \n"))
                if (startswith(w, "davinci") && w[7] >= '0' && w[7] <= '9')
                        n++;
        assert_int_equal(n, 2);
        vis = itest_arkctl_expect(&A, 0, ",", "ct", "exec", "npu", "--", "sh", "-c",
                                  "echo $ASCEND_VISIBLE_DEVICES", NULL);
        assert_arkctl(&A, 0, NULL, "ct", "stop", "npu", "--force");
        assert_arkctl(&A, 0, NULL, "ct", "delete", "npu");
        stop_host(&A);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_run_exec_logs), cmocka_unit_test(test_limits),
                cmocka_unit_test(test_adoption),      cmocka_unit_test(test_networks),
                cmocka_unit_test(test_gpus),          cmocka_unit_test(test_partitions),
                cmocka_unit_test(test_preemptible),   cmocka_unit_test(test_ascend),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}

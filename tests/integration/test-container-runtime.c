/* The container runtime layer (appliance/instance/container) against the real crun and conmon,
 * without arkd: a busybox image of two layers (the second whites out a file of the first) runs in
 * a user namespace with memory, pids and device limits; exec, logs, OOM, the host UID, devices,
 * a container outliving the process that started it and adopted by a fresh handle, and delete.
 * Needs root, crun, conmon and busybox; skips with the reason otherwise. */

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "runtime.h"

#define UID_BASE 300000
#define ID_COUNT 65536

static char tmp[] = "/tmp/test-ct-XXXXXX";
static char *base, *layer1, *layer2, *tun_node;
static const char *unavailable;
static Runtime *rt;

static char *const busybox_links[] = { "sh",   "cat",      "echo",    "sleep", "dd",   "id",
                                       "ls",   "hostname", "test",    "mknod", "stat", "seq",
                                       "kill", "head",     "unshare", "mount", "true", NULL };

static int make_layers(void) {
        _cleanup_free_ char *bin = path_join(layer1, "bin"), *etc = path_join(layer1, "etc"),
                            *etc2 = path_join(layer2, "etc"), *bb = path_join(bin, "busybox"), *data = NULL;
        size_t size;

        if (mkdir_p(bin, 0755) < 0 || mkdir_p(etc, 0755) < 0 || mkdir_p(etc2, 0755) < 0)
                return -1;
        if (read_full_file("/bin/busybox", &data, &size) < 0)
                return -1;
        _cleanup_close_ int fd = open(bb, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
        if (fd < 0 || loop_write(fd, data, size) < 0)
                return -1;
        for (char *const *l = busybox_links; *l; l++) {
                _cleanup_free_ char *p = path_join(bin, *l);
                if (!p || symlink("busybox", p) < 0)
                        return -1;
        }
        const char *dirs[] = { "proc", "sys", "dev", "tmp", "root" };
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                _cleanup_free_ char *p = path_join(layer1, dirs[i]);
                if (!p || mkdir(p, 0755) < 0)
                        return -1;
        }
        _cleanup_free_ char *hn = path_join(etc, "hostname"), *gone = path_join(etc, "gone"),
                            *wh = path_join(etc2, "gone"), *kept = path_join(etc2, "kept"),
                            *node = path_join(layer1, "tun-in-image");
        if (write_string_file(hn, "image-host", WRITE_CREATE | WRITE_NEWLINE) < 0 ||
            write_string_file(gone, "whited out", WRITE_CREATE) < 0 ||
            write_string_file(kept, "from layer 2", WRITE_CREATE) < 0)
                return -1;
        /* An overlayfs whiteout: a character device 0:0 of the same name. */
        if (mknod(wh, S_IFCHR | 0000, makedev(0, 0)) < 0)
                return -1;
        /* A device node inside the image: never openable (not given, nodev). */
        if (mknod(node, S_IFCHR | 0666, makedev(10, 200)) < 0)
                return -1;
        return 0;
}

static int group_setup(void **state) {
        RuntimeConfig c = {};

        if (geteuid() != 0) {
                unavailable = "needs root";
                return 0;
        }
        if (access("/usr/bin/crun", X_OK) < 0 || access("/usr/bin/conmon", X_OK) < 0) {
                unavailable = "crun or conmon is not installed";
                return 0;
        }
        if (access("/bin/busybox", R_OK) < 0) {
                unavailable = "busybox-static is not installed";
                return 0;
        }
        if (!mkdtemp(tmp) || chmod(tmp, 0711) < 0)
                return -1;
        base = path_join(tmp, "ct");
        layer1 = path_join(tmp, "layer1");
        layer2 = path_join(tmp, "layer2");
        tun_node = path_join(tmp, "tun");
        if (!base || !layer1 || !layer2 || !tun_node)
                return -1;
        if (make_layers() < 0)
                return -1;
        if (mknod(tun_node, S_IFCHR | 0666, makedev(10, 200)) < 0 || chmod(tun_node, 0666) < 0)
                return -1;
        c.base_dir = base;
        if (runtime_new(&c, &rt) < 0)
                return -1;
        return 0;
}

static int group_teardown(void **state) {
        _cleanup_strv_free_ char **ids = NULL;

        /* ARK_TEST_KEEP=1 leaves everything for a look (then: crun --root DIR/ct/.crun list). */
        if (getenv("ARK_TEST_KEEP")) {
                print_message("kept: %s\n", tmp);
                return 0;
        }
        if (rt && runtime_list(rt, &ids) >= 0)
                for (char **i = ids; *i; i++)
                        (void) runtime_delete(rt, *i, false, NULL);
        rt = runtime_free(rt);
        if (base)
                (void) rm_rf(tmp);
        free(base);
        free(layer1);
        free(layer2);
        free(tun_node);
        return 0;
}

#define REQUIRE_RUNTIME() \
        do { \
                if (unavailable) { \
                        print_message("skipped: %s\n", unavailable); \
                        skip(); \
                } \
        } while (0)

static void prepare(const char *id, char *const *args, const OciDevice *devs, size_t n_devs) {
        char *const layers[] = { layer1, layer2, NULL };
        ContainerSpec spec = {
                .oci = {
                        .args = args,
                        .hostname = id,
                        .host_uid_base = UID_BASE,
                        .host_gid_base = UID_BASE,
                        .id_count = ID_COUNT,
                        .cpu_milli = 500,
                        .memory_bytes = 64 << 20,
                        .pids_max = 32,
                        .devices = devs,
                        .n_devices = n_devs,
                },
                .layers = layers,
        };
        _cleanup_free_ char *err = NULL;
        int r = runtime_prepare(rt, id, &spec, &err);

        if (r < 0)
                fail_msg("prepare '%s': %s (%s)", id, strerror(-r), strna(err));
}

static void start(const char *id) {
        _cleanup_free_ char *err = NULL;
        int r = runtime_start(rt, id, &err);

        if (r < 0)
                fail_msg("start '%s': %s (%s)", id, strerror(-r), strna(err));
}

/* Runs argv in container id; its exit status, stdout and stderr. */
static int exec_capture(const char *id, char *const *argv, char **ret_out, char **ret_err) {
        int out[2], err[2], status;
        pid_t pid;

        assert_int_equal(pipe2(out, O_CLOEXEC), 0);
        assert_int_equal(pipe2(err, O_CLOEXEC), 0);
        int r = runtime_exec(rt, id, argv, NULL, -1, out[1], err[1], &pid);
        close(out[1]);
        close(err[1]);
        if (r < 0)
                fail_msg("exec in '%s': %s", id, strerror(-r));
        StrBuf o = {}, e = {};
        char buf[4096];
        ssize_t n;
        strbuf_append(&o, "");
        strbuf_append(&e, "");
        while ((n = read(out[0], buf, sizeof(buf) - 1)) > 0) {
                buf[n] = 0;
                strbuf_append(&o, buf);
        }
        while ((n = read(err[0], buf, sizeof(buf) - 1)) > 0) {
                buf[n] = 0;
                strbuf_append(&e, buf);
        }
        close(out[0]);
        close(err[0]);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        *ret_out = strstrip(strbuf_steal(&o));
        if (ret_err)
                *ret_err = strstrip(strbuf_steal(&e));
        else
                strbuf_done(&e);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static ContainerState state_of(const char *id) {
        ContainerState s;
        int r = runtime_state(rt, id, &s);

        if (r < 0)
                fail_msg("state of '%s': %s", id, strerror(-r));
        return s;
}

static void sleep_ms(long ms) {
        nanosleep(&(struct timespec) { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 }, NULL);
}

static bool log_has(const char *id, const char *text) {
        _cleanup_free_ char *path = runtime_log_path(rt, id);
        _cleanup_strv_free_ char **lines = NULL;

        return path && runtime_log_read(path, &lines) >= 0 && strv_contains(lines, text);
}

/* A running container: its log, exec, the image's layers and whiteout, its hostname. */
static void test_run(void **state) {
        REQUIRE_RUNTIME();
        OciDevice tun;
        assert_int_equal(oci_device_from_node(tun_node, "/dev/net/tun", &tun), 0);
        prepare("web", (char *const[]) { "sh", "-c", "echo hello; echo to-stderr >&2; sleep 1000", NULL },
                &tun, 1);
        start("web");

        ContainerState s = state_of("web");
        assert_int_equal(s.status, CONTAINER_RUNNING);
        assert_true(s.pid > 0);
        assert_true(s.conmon_pid > 0);
        assert_false(s.oom_killed);
        for (int i = 0; i < 100 && !log_has("web", "hello"); i++)
                sleep_ms(50);
        assert_true(log_has("web", "hello"));
        assert_true(log_has("web", "to-stderr"));

        _cleanup_free_ char *out = NULL, *hn = NULL, *gone = NULL, *kept = NULL, *owner = NULL;
        assert_int_equal(exec_capture("web", (char *const[]) { "cat", "/etc/hostname", NULL }, &out, NULL),
                         0);
        assert_string_equal(out, "image-host");
        assert_int_equal(exec_capture("web", (char *const[]) { "hostname", NULL }, &hn, NULL), 0);
        assert_string_equal(hn, "web");
        /* The whiteout in layer 2 hides layer 1's file; layer 2's own file is there. */
        assert_int_not_equal(
                exec_capture("web", (char *const[]) { "test", "-e", "/etc/gone", NULL }, &gone, NULL), 0);
        assert_int_equal(exec_capture("web", (char *const[]) { "cat", "/etc/kept", NULL }, &kept, NULL), 0);
        assert_string_equal(kept, "from layer 2");
        /* Idmapped layers: the image's files belong to the container's root, not to nobody. */
        assert_int_equal(exec_capture("web", (char *const[]) { "stat", "-c", "%u:%g", "/bin/busybox", NULL },
                                      &owner, NULL),
                         0);
        assert_string_equal(owner, "0:0");
}

/* The container's processes are the mapped unprivileged host UID; what it writes belongs to it. */
static void test_host_uid(void **state) {
        REQUIRE_RUNTIME();
        ContainerState s = state_of("web");
        char path[64];
        _cleanup_free_ char *status = NULL, *out = NULL;

        snprintf(path, sizeof(path), "/proc/%d/status", (int) s.pid);
        assert_int_equal(read_full_file(path, &status, NULL), 0);
        char expect[64];
        snprintf(expect, sizeof(expect), "Uid:\t%d\t%d\t%d\t%d\n", UID_BASE, UID_BASE, UID_BASE, UID_BASE);
        assert_non_null(strstr(status, expect));

        assert_int_equal(exec_capture("web", (char *const[]) { "sh", "-c", "echo x > /root/written", NULL },
                                      &out, NULL),
                         0);
        struct stat st;
        _cleanup_free_ char *upper = strprintf("%s/web/fs/upper/root/written", base);
        assert_int_equal(stat(upper, &st), 0);
        assert_int_equal(st.st_uid, UID_BASE);
        assert_int_equal(st.st_gid, UID_BASE);
        /* The layer on disk was not touched. */
        _cleanup_free_ char *in_layer = strprintf("%s/root/written", layer1);
        assert_false(file_exists(in_layer));
}

/* The given device opens; one in the image, one not given, /dev/mem: none does. */
static void test_devices(void **state) {
        REQUIRE_RUNTIME();
        _cleanup_free_ char *ok = NULL, *image = NULL, *mem = NULL, *mk = NULL, *e = NULL;

        assert_int_equal(
                exec_capture("web",
                             (char *const[]) { "sh", "-c", "exec 3<>/dev/net/tun && echo opened", NULL },
                             &ok, NULL),
                0);
        assert_string_equal(ok, "opened");
        assert_int_not_equal(
                exec_capture("web",
                             (char *const[]) { "sh", "-c", "exec 3<>/tun-in-image && echo opened", NULL },
                             &image, NULL),
                0);
        assert_string_equal(image, "");
        assert_int_not_equal(
                exec_capture("web", (char *const[]) { "sh", "-c", "exec 3</dev/mem && echo opened", NULL },
                             &mem, NULL),
                0);
        assert_int_not_equal(exec_capture("web",
                                          (char *const[]) { "mknod", "/tmp/fuse", "c", "10", "229", NULL },
                                          &mk, &e),
                             0);

        /* cgroup v1 (this host): the device cgroup lists the standard nodes and the given one only. */
        ContainerState s = state_of("web");
        char path[64];
        _cleanup_free_ char *cg = NULL;
        snprintf(path, sizeof(path), "/proc/%d/cgroup", (int) s.pid);
        assert_int_equal(read_full_file(path, &cg, NULL), 0);
        const char *dev = strstr(cg, ":devices:");
        if (dev) {
                _cleanup_free_ char *rel =
                        strndup(dev + strlen(":devices:"), strcspn(dev + strlen(":devices:"), "\n"));
                _cleanup_free_ char *list_path = strprintf("/sys/fs/cgroup/devices%s/devices.list", rel),
                                    *list = NULL;
                assert_int_equal(read_full_file(list_path, &list, NULL), 0);
                assert_non_null(strstr(list, "c 10:200 rwm"));
                assert_non_null(strstr(list, "c 1:3 rwm"));
                assert_null(strstr(list, "a *:* rwm"));
                assert_null(strstr(list, "c 10:229"));
        } else
                print_message("note: no v1 device cgroup here; the eBPF filter is not inspected\n");
}

/* crun applied the seccomp profile: no new user namespace, no mount (root in the container has
 * neither CAP_SYS_ADMIN nor the syscall). */
static void test_seccomp(void **state) {
        REQUIRE_RUNTIME();
        _cleanup_free_ char *o1 = NULL, *e1 = NULL, *o2 = NULL, *e2 = NULL, *o3 = NULL;

        assert_int_not_equal(
                exec_capture("web", (char *const[]) { "unshare", "-U", "true", NULL }, &o1, &e1), 0);
        assert_non_null(strstr(e1, "ermitted"));
        assert_int_not_equal(exec_capture("web",
                                          (char *const[]) { "mount", "-t", "tmpfs", "none", "/tmp", NULL },
                                          &o2, &e2),
                             0);
        /* Without CLONE_NEWUSER, unshare is allowed (and refused by the kernel only for lack of
         * capabilities): a new UTS namespace needs CAP_SYS_ADMIN, which is not there either. */
        assert_int_equal(exec_capture("web", (char *const[]) { "true", NULL }, &o3, NULL), 0);
}

/* Over 64 MiB, the kernel kills the process and the state says so. */
static void test_oom(void **state) {
        REQUIRE_RUNTIME();
        _cleanup_free_ char *out = NULL;

        assert_false(state_of("web").oom_killed);
        int r = exec_capture(
                "web", (char *const[]) { "dd", "if=/dev/zero", "of=/dev/null", "bs=128M", "count=1", NULL },
                &out, NULL);
        assert_int_equal(r, 128 + SIGKILL);
        ContainerState s = state_of("web");
        assert_true(s.oom_killed);
        assert_int_equal(s.status, CONTAINER_RUNNING);
}

/* A fork loop stops at the pids limit (32). */
static void test_pids(void **state) {
        REQUIRE_RUNTIME();
        _cleanup_free_ char *out = NULL, *err = NULL;

        (void) exec_capture(
                "web",
                (char *const[]) {
                        "sh", "-c",
                        "n=0; while [ $n -lt 100 ]; do sleep 1000 </dev/null >/dev/null 2>&1 & n=$((n+1)); done; echo $n",
                        NULL },
                &out, &err);
        assert_string_not_equal(out, "100");
        assert_non_null(strstr(err, "can't fork"));
}

/* kill, then the exit code; delete unmounts and removes, keeping the log when asked. */
static void test_kill_delete(void **state) {
        REQUIRE_RUNTIME();
        _cleanup_free_ char *err = NULL, *mounts = NULL, *dir = strprintf("%s/web", base);
        _cleanup_free_ char *log = runtime_log_path(rt, "web");

        assert_int_equal(runtime_kill(rt, "web", SIGKILL, &err), 0);
        ContainerState s;
        for (int i = 0; i < 100; i++) {
                s = state_of("web");
                if (s.status == CONTAINER_STOPPED && s.exit_code >= 0)
                        break;
                sleep_ms(50);
        }
        assert_int_equal(s.status, CONTAINER_STOPPED);
        assert_int_equal(s.exit_code, 128 + SIGKILL);
        assert_int_equal(runtime_kill(rt, "web", SIGTERM, NULL), -ESRCH);

        assert_int_equal(runtime_delete(rt, "web", true, &err), 0);
        assert_int_equal(read_full_file("/proc/self/mountinfo", &mounts, NULL), 0);
        assert_null(strstr(mounts, dir));
        assert_true(file_exists(log));
        _cleanup_free_ char *rootfs = strprintf("%s/rootfs", dir);
        assert_false(file_exists(rootfs));
        assert_int_equal(runtime_delete(rt, "web", false, &err), 0);
        assert_false(file_exists(dir));
        assert_int_equal(runtime_state(rt, "web", &s), -ENOENT);
}

/* Started by a process that then exits: the container runs on, a fresh handle finds it, and reads
 * its exit code after it ended unwatched. */
static void test_adopt(void **state) {
        REQUIRE_RUNTIME();
        pid_t child = fork();

        assert_true(child >= 0);
        if (child == 0) {
                Runtime *mine = NULL;
                RuntimeConfig c = { .base_dir = base };
                char *const layers[] = { layer1, layer2, NULL };
                ContainerSpec spec = {
                        .oci = { .args = (char *const[]) { "sh", "-c", "echo adopted; sleep 2; exit 7",
                                                           NULL },
                                 .host_uid_base = UID_BASE + ID_COUNT,
                                 .host_gid_base = UID_BASE + ID_COUNT,
                                 .id_count = ID_COUNT },
                        .layers = layers,
                };
                if (runtime_new(&c, &mine) < 0 || runtime_prepare(mine, "batch", &spec, NULL) < 0 ||
                    runtime_start(mine, "batch", NULL) < 0)
                        _exit(1);
                _exit(0);
        }
        int status;
        assert_int_equal(waitpid(child, &status, 0), child);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

        Runtime *fresh = NULL;
        RuntimeConfig c = { .base_dir = base };
        assert_int_equal(runtime_new(&c, &fresh), 0);
        _cleanup_strv_free_ char **ids = NULL;
        assert_int_equal(runtime_list(fresh, &ids), 0);
        assert_true(strv_contains(ids, "batch"));
        ContainerState s;
        assert_int_equal(runtime_state(fresh, "batch", &s), 0);
        assert_int_equal(s.status, CONTAINER_RUNNING);
        assert_true(s.conmon_pid > 0);
        for (int i = 0; i < 100 && (s.status != CONTAINER_STOPPED || s.exit_code < 0); i++) {
                sleep_ms(100);
                assert_int_equal(runtime_state(fresh, "batch", &s), 0);
        }
        assert_int_equal(s.status, CONTAINER_STOPPED);
        assert_int_equal(s.exit_code, 7);
        assert_false(s.oom_killed);
        assert_true(log_has("batch", "adopted"));

        /* Started again, by the fresh handle. */
        _cleanup_free_ char *err = NULL;
        assert_int_equal(runtime_start(fresh, "batch", &err), 0);
        assert_int_equal(runtime_state(fresh, "batch", &s), 0);
        assert_int_equal(s.status, CONTAINER_RUNNING);
        assert_int_equal(s.exit_code, -1);
        assert_int_equal(runtime_delete(fresh, "batch", false, &err), 0);
        runtime_free(fresh);
}

/* crun's refusal comes back as a sentence (a command that does not exist). */
static void test_start_error(void **state) {
        REQUIRE_RUNTIME();
        char *const layers[] = { layer1, NULL };
        ContainerSpec spec = {
                .oci = { .args = (char *const[]) { "/no/such/program", NULL },
                         .host_uid_base = UID_BASE,
                         .host_gid_base = UID_BASE,
                         .id_count = ID_COUNT },
                .layers = layers,
        };
        _cleanup_free_ char *err = NULL;

        assert_int_equal(runtime_prepare(rt, "broken", &spec, &err), 0);
        int r = runtime_start(rt, "broken", &err);
        assert_true(r < 0);
        assert_non_null(err);
        print_message("start refused: %s\n", err);
        assert_non_null(strstr(err, "/no/such/program"));
        assert_int_equal(runtime_delete(rt, "broken", false, NULL), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_run),         cmocka_unit_test(test_host_uid),
                cmocka_unit_test(test_devices),     cmocka_unit_test(test_seccomp),
                cmocka_unit_test(test_oom),         cmocka_unit_test(test_pids),
                cmocka_unit_test(test_kill_delete), cmocka_unit_test(test_adopt),
                cmocka_unit_test(test_start_error),
        };

        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

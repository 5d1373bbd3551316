/* Tests for appliance/instance/container/oci-config: the OCI config a container gets, field by
 * field (no golden file: the fields that matter are asserted), and the specs refused. crun itself
 * runs these configs in tests/integration/test-container-runtime.c. */

#include <errno.h>
#include <jansson.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cmocka.h>

#include "tmpdir.h"

#include "basic/macro.h"
#include "basic/string-util.h"
#include "oci-config.h"
#include "shared/cdi.h"

static char *const args[] = { "sh", "-c", "echo hi", NULL };

static OciSpec base_spec(void) {
        return (OciSpec) {
                .args = args,
                .host_uid_base = 200000,
                .host_gid_base = 210000,
                .id_count = 65536,
        };
}

static json_t *build(const OciSpec *spec) {
        json_t *c = NULL;
        int r = oci_config_build(spec, &c);

        if (r < 0)
                fail_msg("oci_config_build: %s", strerror(-r));
        return c;
}

static bool array_has_string(json_t *a, const char *s) {
        size_t i;
        json_t *v;

        json_array_foreach(a, i, v)
                if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
                        return true;
        return false;
}

static json_t *find_mount(json_t *c, const char *dst) {
        size_t i;
        json_t *m;

        json_array_foreach(json_object_get(c, "mounts"), i, m)
                if (strcmp(json_string_value(json_object_get(m, "destination")), dst) == 0)
                        return m;
        return NULL;
}

static json_t *find_namespace(json_t *c, const char *type) {
        size_t i;
        json_t *n;

        json_array_foreach(json_object_get(json_object_get(c, "linux"), "namespaces"), i, n)
                if (strcmp(json_string_value(json_object_get(n, "type")), type) == 0)
                        return n;
        return NULL;
}

static void test_process(void **state) {
        char *const env[] = { "FOO=bar", NULL };
        OciSpec s = base_spec();
        s.env = env;
        s.cwd = "/work";
        s.uid = 1000;
        s.gid = 100;
        s.hostname = "train-1";
        _cleanup_(json_decrefp) json_t *c = build(&s);
        json_t *p = json_object_get(c, "process");

        assert_string_equal(json_string_value(json_array_get(json_object_get(p, "args"), 2)), "echo hi");
        assert_true(array_has_string(json_object_get(p, "env"), "FOO=bar"));
        /* PATH and TERM added when the spec has none. */
        size_t i;
        json_t *e;
        bool path = false;
        json_array_foreach(json_object_get(p, "env"), i, e)
                path = path || strncmp(json_string_value(e), "PATH=", 5) == 0;
        assert_true(path);
        assert_string_equal(json_string_value(json_object_get(p, "cwd")), "/work");
        assert_int_equal(json_integer_value(json_object_get(json_object_get(p, "user"), "uid")), 1000);
        assert_int_equal(json_integer_value(json_object_get(json_object_get(p, "user"), "gid")), 100);
        assert_true(json_is_true(json_object_get(p, "noNewPrivileges")));
        assert_false(json_is_true(json_object_get(p, "terminal")));
        assert_string_equal(json_string_value(json_object_get(c, "hostname")), "train-1");
        assert_string_equal(json_string_value(json_object_get(json_object_get(c, "root"), "path")),
                            "rootfs");
}

static void test_capabilities(void **state) {
        OciSpec s = base_spec();
        _cleanup_(json_decrefp) json_t *c = build(&s);
        json_t *caps = json_object_get(json_object_get(c, "process"), "capabilities");
        const char *sets[] = { "bounding", "effective", "permitted" };

        for (size_t i = 0; i < ELEMENTSOF(sets); i++) {
                json_t *set = json_object_get(caps, sets[i]);
                assert_true(array_has_string(set, "CAP_CHOWN"));
                assert_true(array_has_string(set, "CAP_SETUID"));
                assert_false(array_has_string(set, "CAP_SYS_ADMIN"));
                assert_false(array_has_string(set, "CAP_NET_ADMIN"));
                assert_false(array_has_string(set, "CAP_SYS_MODULE"));
                assert_false(array_has_string(set, "CAP_SYS_PTRACE"));
                assert_false(array_has_string(set, "CAP_NET_RAW"));
                assert_false(array_has_string(set, "CAP_MKNOD"));
        }
        assert_int_equal(json_array_size(json_object_get(caps, "ambient")), 0);
        assert_int_equal(json_array_size(json_object_get(caps, "inheritable")), 0);
}

static void test_namespaces_and_ids(void **state) {
        OciSpec s = base_spec();
        _cleanup_(json_decrefp) json_t *c = build(&s);
        json_t *l = json_object_get(c, "linux");
        const char *types[] = { "pid", "ipc", "uts", "mount", "user", "cgroup", "network" };

        for (size_t i = 0; i < ELEMENTSOF(types); i++)
                assert_non_null(find_namespace(c, types[i]));
        assert_null(json_object_get(find_namespace(c, "network"), "path"));
        assert_int_equal(json_array_size(json_object_get(l, "namespaces")), ELEMENTSOF(types));

        json_t *um = json_array_get(json_object_get(l, "uidMappings"), 0);
        json_t *gm = json_array_get(json_object_get(l, "gidMappings"), 0);
        assert_int_equal(json_integer_value(json_object_get(um, "containerID")), 0);
        assert_int_equal(json_integer_value(json_object_get(um, "hostID")), 200000);
        assert_int_equal(json_integer_value(json_object_get(um, "size")), 65536);
        assert_int_equal(json_integer_value(json_object_get(gm, "hostID")), 210000);

        /* Joining a network namespace: its path; /sys then a read-only bind, not a sysfs mount. */
        s.netns_path = "/run/netns/ark-t1";
        _cleanup_(json_decrefp) json_t *j = build(&s);
        assert_string_equal(json_string_value(json_object_get(find_namespace(j, "network"), "path")),
                            "/run/netns/ark-t1");
        assert_string_equal(json_string_value(json_object_get(find_mount(j, "/sys"), "type")), "none");
        assert_string_equal(json_string_value(json_object_get(find_mount(c, "/sys"), "type")), "sysfs");
}

static void test_resources(void **state) {
        OciSpec s = base_spec();
        s.cpu_milli = 1500;
        s.memory_bytes = 64 << 20;
        s.pids_max = 128;
        s.cgroups_path = "/ark/t1";
        _cleanup_(json_decrefp) json_t *c = build(&s);
        json_t *l = json_object_get(c, "linux"), *res = json_object_get(l, "resources");

        assert_string_equal(json_string_value(json_object_get(l, "cgroupsPath")), "/ark/t1");
        /* memory+swap = memory: over the limit is an OOM kill, never swap. */
        assert_int_equal(json_integer_value(json_object_get(json_object_get(res, "memory"), "limit")),
                         64 << 20);
        assert_int_equal(json_integer_value(json_object_get(json_object_get(res, "memory"), "swap")),
                         64 << 20);
        assert_int_equal(json_integer_value(json_object_get(json_object_get(res, "cpu"), "quota")), 150000);
        assert_int_equal(json_integer_value(json_object_get(json_object_get(res, "cpu"), "period")), 100000);
        assert_int_equal(json_integer_value(json_object_get(json_object_get(res, "pids"), "limit")), 128);

        /* No limits asked: none written. */
        OciSpec bare = base_spec();
        _cleanup_(json_decrefp) json_t *b = build(&bare);
        json_t *bres = json_object_get(json_object_get(b, "linux"), "resources");
        assert_null(json_object_get(bres, "memory"));
        assert_null(json_object_get(bres, "cpu"));
        assert_null(json_object_get(bres, "pids"));
        assert_null(json_object_get(json_object_get(b, "linux"), "cgroupsPath"));
}

static void test_devices(void **state) {
        OciSpec s = base_spec();
        OciDevice d[] = { { .host_path = "/dev/nvidia0",
                            .path = "/dev/nvidia0",
                            .type = 'c',
                            .major = 195,
                            .minor = 0 } };
        s.devices = d;
        s.n_devices = 1;
        _cleanup_(json_decrefp) json_t *c = build(&s);
        json_t *rules =
                json_object_get(json_object_get(json_object_get(c, "linux"), "resources"), "devices");

        /* Deny everything first, then allow. */
        json_t *first = json_array_get(rules, 0);
        assert_false(json_is_true(json_object_get(first, "allow")));
        assert_null(json_object_get(first, "type"));
        assert_null(json_object_get(first, "major"));
        size_t i;
        json_t *r;
        bool null_ok = false, gpu_ok = false, any_allowed = false;
        json_array_foreach(rules, i, r) {
                if (i == 0)
                        continue;
                assert_true(json_is_true(json_object_get(r, "allow")));
                any_allowed = any_allowed || !json_object_get(r, "major");
                json_int_t maj = json_integer_value(json_object_get(r, "major"));
                json_int_t min = json_integer_value(json_object_get(r, "minor"));
                null_ok = null_ok || (maj == 1 && min == 3);
                gpu_ok = gpu_ok ||
                        (maj == 195 && min == 0 &&
                         strcmp(json_string_value(json_object_get(r, "type")), "c") == 0);
        }
        assert_true(null_ok);
        assert_true(gpu_ok);
        assert_false(any_allowed);
        /* mem (1:1), kmsg (1:11), fuse (10:229) are not allowed. */
        json_array_foreach(rules, i, r) {
                json_int_t maj = json_integer_value(json_object_get(r, "major"));
                json_int_t min = json_integer_value(json_object_get(r, "minor"));
                assert_false(maj == 1 && (min == 1 || min == 11));
                assert_false(maj == 10 && min == 229);
        }
        /* The node is a bind of the host's (crun cannot mknod in a user namespace), without nodev. */
        json_t *m = find_mount(c, "/dev/nvidia0");
        assert_non_null(m);
        assert_string_equal(json_string_value(json_object_get(m, "source")), "/dev/nvidia0");
        assert_true(array_has_string(json_object_get(m, "options"), "bind"));
        assert_false(array_has_string(json_object_get(m, "options"), "nodev"));
}

static void test_mounts_and_paths(void **state) {
        OciSpec s = base_spec();
        OciMount m[] = {
                { .source = "/var/lib/ark/models/llama", .destination = "/models/llama", .readonly = true },
                { .source = "/srv/scratch", .destination = "/scratch" }
        };
        s.mounts = m;
        s.n_mounts = 2;
        _cleanup_(json_decrefp) json_t *c = build(&s);

        json_t *model = find_mount(c, "/models/llama");
        assert_non_null(model);
        assert_true(array_has_string(json_object_get(model, "options"), "ro"));
        assert_true(array_has_string(json_object_get(model, "options"), "nodev"));
        assert_false(array_has_string(json_object_get(find_mount(c, "/scratch"), "options"), "ro"));
        assert_non_null(find_mount(c, "/proc"));
        assert_non_null(find_mount(c, "/dev/pts"));
        assert_true(array_has_string(json_object_get(find_mount(c, "/sys/fs/cgroup"), "options"), "ro"));

        json_t *l = json_object_get(c, "linux");
        assert_true(array_has_string(json_object_get(l, "maskedPaths"), "/proc/kcore"));
        assert_true(array_has_string(json_object_get(l, "maskedPaths"), "/sys/firmware"));
        assert_true(array_has_string(json_object_get(l, "readonlyPaths"), "/proc/sys"));
        assert_true(array_has_string(json_object_get(l, "readonlyPaths"), "/proc/sysrq-trigger"));
}

static void test_seccomp(void **state) {
        OciSpec s = base_spec();
        _cleanup_(json_decrefp) json_t *c = build(&s);
        json_t *sc = json_object_get(json_object_get(c, "linux"), "seccomp");

        assert_string_equal(json_string_value(json_object_get(sc, "defaultAction")), "SCMP_ACT_ALLOW");
        assert_true(array_has_string(json_object_get(sc, "architectures"), "SCMP_ARCH_X86_64"));
        assert_true(array_has_string(json_object_get(sc, "architectures"), "SCMP_ARCH_AARCH64"));
        json_t *deny = json_array_get(json_object_get(sc, "syscalls"), 0);
        assert_string_equal(json_string_value(json_object_get(deny, "action")), "SCMP_ACT_ERRNO");
        assert_int_equal(json_integer_value(json_object_get(deny, "errnoRet")), EPERM);
        const char *must[] = { "keyctl",     "add_key",         "request_key",      "mount",
                               "umount2",    "pivot_root",      "swapon",           "reboot",
                               "kexec_load", "init_module",     "finit_module",     "delete_module",
                               "bpf",        "perf_event_open", "open_by_handle_at" };
        for (size_t i = 0; i < ELEMENTSOF(must); i++)
                if (!array_has_string(json_object_get(deny, "names"), must[i]))
                        fail_msg("'%s' is not denied", must[i]);
        assert_false(array_has_string(json_object_get(deny, "names"), "ptrace"));
        assert_false(array_has_string(json_object_get(deny, "names"), "clone"));

        /* unshare/clone refused only with CLONE_NEWUSER in their flags. */
        json_t *userns = json_array_get(json_object_get(sc, "syscalls"), 1);
        assert_true(array_has_string(json_object_get(userns, "names"), "unshare"));
        json_t *arg = json_array_get(json_object_get(userns, "args"), 0);
        assert_int_equal(json_integer_value(json_object_get(arg, "index")), 0);
        assert_int_equal(json_integer_value(json_object_get(arg, "value")), CLONE_NEWUSER);
        assert_string_equal(json_string_value(json_object_get(arg, "op")), "SCMP_CMP_MASKED_EQ");
}

static void test_refused(void **state) {
        json_t *c = NULL;
        OciSpec s;

        s = base_spec();
        s.args = NULL;
        assert_int_equal(oci_config_build(&s, &c), -EINVAL);
        s = base_spec();
        s.args = (char *const[]) { NULL };
        assert_int_equal(oci_config_build(&s, &c), -EINVAL);
        s = base_spec();
        s.host_uid_base = 0; /* container root would be host root */
        assert_int_equal(oci_config_build(&s, &c), -EINVAL);
        s = base_spec();
        s.id_count = 0;
        assert_int_equal(oci_config_build(&s, &c), -EINVAL);
        s = base_spec();
        s.uid = 70000; /* outside the map */
        assert_int_equal(oci_config_build(&s, &c), -EINVAL);
        s = base_spec();
        s.cwd = "work";
        assert_int_equal(oci_config_build(&s, &c), -EINVAL);
        s = base_spec();
        s.host_uid_base = UINT32_MAX - 10;
        assert_int_equal(oci_config_build(&s, &c), -EINVAL);
        s = base_spec();
        OciDevice d = { .host_path = "/dev/x", .path = "/dev/x", .type = 'p' };
        s.devices = &d;
        s.n_devices = 1;
        assert_int_equal(oci_config_build(&s, &c), -EINVAL);
        s = base_spec();
        OciMount m = { .source = "relative", .destination = "/x" };
        s.mounts = &m;
        s.n_mounts = 1;
        assert_int_equal(oci_config_build(&s, &c), -EINVAL);
        assert_null(c);
}

static void test_device_from_node(void **state) {
        OciDevice d;

        assert_int_equal(oci_device_from_node("/dev/null", "/dev/null", &d), 0);
        assert_int_equal(d.type, 'c');
        assert_int_equal(d.major, 1);
        assert_int_equal(d.minor, 3);
        assert_int_equal(oci_device_from_node("/etc/hostname", "/x", &d), -ENODEV);
        assert_int_equal(oci_device_from_node("/no/such/node", "/x", &d), -ENOENT);
}

static json_t *find_rule(json_t *c, const char *type, int major, int minor) {
        size_t i;
        json_t *r;

        json_array_foreach(
                json_object_get(json_object_get(json_object_get(c, "linux"), "resources"), "devices"), i, r)
                if (json_is_true(json_object_get(r, "allow")) &&
                    streq_ptr(json_string_value(json_object_get(r, "type")), type) &&
                    json_integer_value(json_object_get(r, "major")) == major &&
                    json_integer_value(json_object_get(r, "minor")) == minor)
                        return r;
        return NULL;
}

static size_t env_index(json_t *c, const char *s) {
        json_t *env = json_object_get(json_object_get(c, "process"), "env"), *v;
        size_t i;

        json_array_foreach(env, i, v)
                if (streq(json_string_value(v), s))
                        return i;
        return SIZE_MAX;
}

/* CDI edits from a spec whose nodes live in a temporary directory, not at their container paths:
 * the config binds each from its host path. */
static void test_cdi(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_free_ char *gpu = join(d, "nvidia0"), *ctl = join(d, "nvidiactl"), *text = NULL,
                            *err = NULL;
        _cleanup_(json_decrefp) json_t *spec = NULL, *c = NULL;
        _cleanup_(cdi_edits_done) CdiEdits e = {};
        _cleanup_(oci_spec_extra_done) OciSpecExtra x = {};
        char *const env[] = { "FOO=image", "NVIDIA_VISIBLE_DEVICES=void", "KEEP=1", NULL };
        const OciDevice null_dev = {
                .host_path = "/dev/null", .path = "/dev/nvidia0", .type = 'c', .major = 1, .minor = 3
        };
        const OciMount model = { .source = "/srv/model", .destination = "/model", .readonly = true };
        OciSpec s = base_spec();
        json_t *m;

        if (mknod(gpu, S_IFCHR | 0666, makedev(195, 0)) < 0) {
                printf("# mknod is refused here (%s): this test needs root outside a user namespace\n",
                       strerror(errno));
                skip();
        }
        assert_int_equal(mknod(ctl, S_IFCHR | 0666, makedev(195, 255)), 0);
        text = strprintf(
                "{\"cdiVersion\": \"0.6.0\", \"kind\": \"nvidia.com/gpu\","
                " \"containerEdits\": {\"env\": [\"NVIDIA_DRIVER_CAPABILITIES=compute\"],"
                "   \"deviceNodes\": [{\"path\": \"/dev/nvidiactl\", \"hostPath\": \"%s\", \"type\": \"c\","
                "                      \"major\": 195, \"minor\": 255, \"permissions\": \"rw\"}]},"
                " \"devices\": [{\"name\": \"gpu0\", \"containerEdits\": {"
                "   \"env\": [\"NVIDIA_VISIBLE_DEVICES=GPU-a\", \"FOO=cdi\"],"
                "   \"deviceNodes\": [{\"path\": \"/dev/nvidia0\", \"hostPath\": \"%s\", \"type\": \"c\","
                "                      \"major\": 195, \"minor\": 0}],"
                "   \"mounts\": [{\"hostPath\": \"%s\", \"containerPath\": \"/run/nvidia-mps\","
                "                 \"options\": [\"ro\", \"noexec\", \"bind\"]}]}}]}",
                ctl, gpu, d);
        assert_non_null(text);
        assert_int_equal(cdi_spec_parse(text, strlen(text), &spec, &err), 0);
        assert_int_equal(cdi_edits_collect(spec, (const char *[]) { "gpu0", NULL }, &e, &err), 0);

        s.env = env;
        s.devices = &null_dev;
        s.n_devices = 1;
        s.mounts = &model;
        s.n_mounts = 1;
        assert_int_equal(oci_spec_add_cdi(&s, &e, &x, &err), 0);
        assert_ptr_equal(s.devices, x.devices);
        assert_int_equal(s.n_devices, 2); /* the spec's /dev/nvidia0 replaced */
        assert_int_equal(s.n_mounts, 2);
        c = build(&s);

        /* Each node a bind of its host node, at its container path; an allow rule each. */
        m = find_mount(c, "/dev/nvidia0");
        assert_non_null(m);
        assert_string_equal(json_string_value(json_object_get(m, "source")), gpu);
        assert_true(array_has_string(json_object_get(m, "options"), "bind"));
        m = find_mount(c, "/dev/nvidiactl");
        assert_non_null(m);
        assert_string_equal(json_string_value(json_object_get(m, "source")), ctl);
        assert_string_equal(json_string_value(json_object_get(find_rule(c, "c", 195, 0), "access")), "rwm");
        assert_string_equal(json_string_value(json_object_get(find_rule(c, "c", 195, 255), "access")), "rw");
        assert_null(find_rule(c, "c", 195, 3)); /* nothing else of the driver's */
        assert_null(json_object_get(json_object_get(c, "linux"), "devices")); /* nothing for crun to mknod */

        /* The CDI mount beside the spec's, read-only and noexec as the CDI spec says. */
        assert_non_null(find_mount(c, "/model"));
        m = find_mount(c, "/run/nvidia-mps");
        assert_non_null(m);
        assert_string_equal(json_string_value(json_object_get(m, "source")), d);
        assert_true(array_has_string(json_object_get(m, "options"), "ro"));
        assert_true(array_has_string(json_object_get(m, "options"), "noexec"));
        assert_true(array_has_string(json_object_get(m, "options"), "nosuid"));
        assert_true(array_has_string(json_object_get(m, "options"), "nodev"));

        /* CDI's variables after the image's; one of the same name drops the image's. */
        assert_int_equal(env_index(c, "KEEP=1"), 0);
        assert_int_equal(env_index(c, "NVIDIA_DRIVER_CAPABILITIES=compute"), 1);
        assert_int_equal(env_index(c, "NVIDIA_VISIBLE_DEVICES=GPU-a"), 2);
        assert_int_equal(env_index(c, "FOO=cdi"), 3);
        assert_int_equal(env_index(c, "FOO=image"), SIZE_MAX);
        assert_int_equal(env_index(c, "NVIDIA_VISIBLE_DEVICES=void"), SIZE_MAX);

        /* Storage in use is refused. */
        assert_int_equal(oci_spec_add_cdi(&s, &e, &x, &err), -EINVAL);
}

/* A spec on disk may be stale: a node whose host node differs, is gone or is no device is
 * refused with a sentence, and the OciSpec is left as it was. */
static void test_cdi_stale(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_free_ char *gpu = join(d, "nvidia0"), *gone = join(d, "gone"), *err = NULL;
        _cleanup_(oci_spec_extra_done) OciSpecExtra x = {};
        CdiNode node = { .path = "/dev/nvidia0",
                         .host_path = gpu,
                         .type = 'c',
                         .major = 195,
                         .minor = 0,
                         .access = "rwm" };
        CdiEdits e = { .nodes = &node, .n_nodes = 1 };
        OciSpec s = base_spec();

        if (mknod(gpu, S_IFCHR | 0666, makedev(195, 1)) < 0) {
                printf("# mknod is refused here (%s): this test needs root outside a user namespace\n",
                       strerror(errno));
                skip();
        }
        assert_int_equal(oci_spec_add_cdi(&s, &e, &x, &err), -ESTALE);
        assert_true(startswith(err, "The CDI spec gives /dev/nvidia0 as c 195:0, but its host node "));
        assert_true(endswith(err, " is c 195:1 now: the spec is stale."));
        assert_null(s.devices);
        assert_int_equal(s.n_devices, 0);
        assert_null(x.devices);
        node.minor = 1;
        node.type = 'b';
        assert_int_equal(oci_spec_add_cdi(&s, &e, &x, &err), -ESTALE);
        node.type = 'c';
        node.host_path = gone;
        assert_int_equal(oci_spec_add_cdi(&s, &e, &x, &err), -ENOENT);
        assert_non_null(strstr(err, "/gone: No such file or directory."));
        node.host_path = d;
        assert_int_equal(oci_spec_add_cdi(&s, &e, &x, &err), -ENODEV);
        assert_non_null(strstr(err, "is no device node."));
        assert_null(s.devices);
        node.host_path = gpu;
        assert_int_equal(oci_spec_add_cdi(&s, &e, &x, &err), 0);
        assert_int_equal(s.n_devices, 1);
        assert_int_equal(s.devices[0].minor, 1);
        assert_string_equal(s.devices[0].access, "rwm");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_process),
                cmocka_unit_test(test_capabilities),
                cmocka_unit_test(test_namespaces_and_ids),
                cmocka_unit_test(test_resources),
                cmocka_unit_test(test_devices),
                cmocka_unit_test(test_mounts_and_paths),
                cmocka_unit_test(test_seccomp),
                cmocka_unit_test(test_refused),
                cmocka_unit_test(test_device_from_node),
                cmocka_unit_test(test_cdi),
                cmocka_unit_test(test_cdi_stale),
        };

        return cmocka_run_group_tests(tests, tmp_root_setup, tmp_root_teardown);
}

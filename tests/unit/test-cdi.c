/* Tests for lib/shared/cdi: CDI specs for whole GPUs, MIG instances, MPS shares and Ascend NPUs
 * written from the fixture hosts' driver files and a device root of mknod'ed nodes; strict
 * reading; edits applied to an OCI config. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmocka.h>

#include "tmpdir.h"

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "shared/cdi.h"

#define HOSTS ARK_SRCDIR "/tests/fixtures/hosts"
#define DGX_PROC HOSTS "/dgx-h100/sysfs"
#define ASCEND_PROC HOSTS "/ascend-910b/sysfs"

/* Device numbers as a host with NVIDIA's and Huawei's drivers has them (the uvm and caps majors
 * are dynamic; these are typical). */
#define NVIDIA_MAJOR 195
#define UVM_MAJOR 509
#define CAPS_MAJOR 511

static char *dev_root;

static void node(const char *rel, unsigned maj, unsigned min) {
        _cleanup_free_ char *p = join(dev_root, rel);
        char *slash = strrchr(p, '/');

        *slash = 0;
        assert_int_equal(mkdir_p(p, 0755), 0);
        *slash = '/';
        assert_int_equal(mknod(p, S_IFCHR | 0666, makedev(maj, min)), 0);
}

static int dev_setup(void **state) {
        _cleanup_free_ char *probe = NULL;
        char name[64];

        dev_root = make_tmpdir();
        probe = join(dev_root, "probe");
        if (mknod(probe, S_IFCHR | 0600, makedev(1, 3)) < 0) {
                printf("# mknod is refused here (%s): these tests need root outside a user namespace\n",
                       strerror(errno));
                return 0;
        }
        (void) unlink(probe);
        for (unsigned k = 0; k < 8; k++) {
                snprintf(name, sizeof name, "nvidia%u", k);
                node(name, NVIDIA_MAJOR, k);
                snprintf(name, sizeof name, "davinci%u", k);
                node(name, 236, k);
        }
        node("nvidiactl", NVIDIA_MAJOR, 255);
        node("nvidia-uvm", UVM_MAJOR, 0);
        node("nvidia-uvm-tools", UVM_MAJOR, 1);
        /* No nvidia-modeset: an optional node that is missing is left out. */
        for (unsigned m = 3; m < 30; m++) {
                snprintf(name, sizeof name, "nvidia-caps/nvidia-cap%u", m);
                node(name, CAPS_MAJOR, m);
        }
        node("davinci_manager", 235, 0);
        node("devmm_svm", 234, 0);
        node("hisi_hdc", 233, 0);
        return 0;
}

static bool have_nodes(void) {
        _cleanup_free_ char *p = join(dev_root, "nvidiactl");
        return file_exists(p);
}

#define REQUIRE_NODES() \
        do { \
                if (!have_nodes()) \
                        skip(); \
        } while (0)

static json_t *unref(json_t *j) {
        json_decref(j);
        return NULL;
}

static CdiRoots dgx(void) {
        return (CdiRoots) { .dev = dev_root, .proc = DGX_PROC };
}

static json_t *device(json_t *spec, size_t k) {
        json_t *d = json_array_get(json_object_get(spec, "devices"), k);
        assert_non_null(d);
        return d;
}

static json_t *edits(json_t *spec, size_t k, const char *what) {
        return json_object_get(json_object_get(device(spec, k), "containerEdits"), what);
}

static void assert_node(json_t *n, const char *path, unsigned maj, unsigned min) {
        _cleanup_free_ char *host = join(dev_root, path + strlen("/dev/"));

        assert_non_null(n);
        assert_string_equal(json_string_value(json_object_get(n, "path")), path);
        assert_string_equal(json_string_value(json_object_get(n, "hostPath")), host);
        assert_string_equal(json_string_value(json_object_get(n, "type")), "c");
        assert_int_equal(json_integer_value(json_object_get(n, "major")), maj);
        assert_int_equal(json_integer_value(json_object_get(n, "minor")), min);
        assert_string_equal(json_string_value(json_object_get(n, "permissions")), "rwm");
}

static const char *env_at(json_t *spec, size_t dev, size_t k) {
        return json_string_value(json_array_get(edits(spec, dev, "env"), k));
}

static void test_whole_gpus(void **state) {
        _cleanup_(json_decrefp) json_t *spec = NULL;
        _cleanup_free_ char *err = NULL;
        CdiRoots roots = dgx();
        const CdiPartition parts[] = {
                { .type = CDI_NVIDIA_GPU,
                  .name = "gpu1",
                  .address = "0000:2a:00.0",
                  .uuid = "GPU-00002330-ark0-fixt-ure0-000000000001" },
                { .type = CDI_NVIDIA_GPU,
                  .name = "gpu7",
                  .address = "0000:db:00.0",
                  .uuid = "GPU-00002330-ark0-fixt-ure0-000000000007" },
        };
        json_t *nodes;

        REQUIRE_NODES();
        assert_int_equal(cdi_spec_build(parts, ELEMENTSOF(parts), &roots, &spec, &err), 0);
        assert_string_equal(json_string_value(json_object_get(spec, "cdiVersion")), "0.6.0");
        assert_string_equal(json_string_value(json_object_get(spec, "kind")), "nvidia.com/gpu");
        assert_int_equal(json_array_size(json_object_get(spec, "devices")), 2);
        assert_string_equal(json_string_value(json_object_get(device(spec, 0), "name")), "gpu1");
        /* 2a:00.0 is the second GPU in PCI order: Device Minor 1, /dev/nvidia1, and only that GPU. */
        nodes = edits(spec, 0, "deviceNodes");
        assert_int_equal(json_array_size(nodes), 1);
        assert_node(json_array_get(nodes, 0), "/dev/nvidia1", NVIDIA_MAJOR, 1);
        /* The driver's shared nodes, once, in the spec's own edits; no nvidia-modeset here. */
        nodes = json_object_get(json_object_get(spec, "containerEdits"), "deviceNodes");
        assert_int_equal(json_array_size(nodes), 3);
        assert_node(json_array_get(nodes, 0), "/dev/nvidiactl", NVIDIA_MAJOR, 255);
        assert_node(json_array_get(nodes, 1), "/dev/nvidia-uvm", UVM_MAJOR, 0);
        assert_node(json_array_get(nodes, 2), "/dev/nvidia-uvm-tools", UVM_MAJOR, 1);
        assert_int_equal(json_array_size(edits(spec, 0, "env")), 1);
        assert_string_equal(env_at(spec, 0, 0),
                            "NVIDIA_VISIBLE_DEVICES=GPU-00002330-ark0-fixt-ure0-000000000001");
        assert_null(edits(spec, 0, "mounts"));
        assert_node(json_array_get(edits(spec, 1, "deviceNodes"), 0), "/dev/nvidia7", NVIDIA_MAJOR, 7);
        /* What we write, we read back. */
        assert_int_equal(cdi_spec_validate(spec, &err), 0);
}

/* The GPU's UUID from the driver's information file; one the driver does not list is -ENOENT. */
static void test_nvidia_uuid(void **state) {
        CdiRoots roots = dgx();
        _cleanup_free_ char *uuid = NULL, *err = NULL;

        assert_int_equal(cdi_nvidia_uuid(&roots, "0000:3a:00.0", &uuid, NULL), 0);
        assert_string_equal(uuid, "GPU-00002330-ark0-fixt-ure0-000000000002");
        assert_int_equal(cdi_nvidia_uuid(&roots, "0000:77:00.0", &uuid, &err), -ENOENT);
        assert_non_null(strstr(err, "The NVIDIA driver has no GPU 0000:77:00.0"));
}

static void test_mig_instance(void **state) {
        _cleanup_(json_decrefp) json_t *spec = NULL;
        _cleanup_free_ char *err = NULL;
        CdiRoots roots = dgx();
        /* GPU instance 1, compute instance 0 on 18:00.0 (minor 0): mig-minors says 12 and 13. */
        CdiPartition p = { .type = CDI_NVIDIA_MIG,
                           .name = "mig-18-1-0",
                           .address = "0000:18:00.0",
                           .uuid = "MIG-1a2b3c4d-0000-1111-2222-333344445555",
                           .gi = 1,
                           .ci = 0 };
        json_t *nodes;

        REQUIRE_NODES();
        assert_int_equal(cdi_spec_build(&p, 1, &roots, &spec, &err), 0);
        nodes = edits(spec, 0, "deviceNodes");
        assert_int_equal(json_array_size(nodes), 3);
        assert_node(json_array_get(nodes, 0), "/dev/nvidia0", NVIDIA_MAJOR, 0);
        assert_node(json_array_get(nodes, 1), "/dev/nvidia-caps/nvidia-cap12", CAPS_MAJOR, 12);
        assert_node(json_array_get(nodes, 2), "/dev/nvidia-caps/nvidia-cap13", CAPS_MAJOR, 13);
        assert_string_equal(env_at(spec, 0, 0),
                            "NVIDIA_VISIBLE_DEVICES=MIG-1a2b3c4d-0000-1111-2222-333344445555");
        spec = unref(spec);

        /* GPU instance 2 of the same GPU: gpu0/gi2/access is 21, its ci0 22. */
        p.gi = 2;
        assert_int_equal(cdi_spec_build(&p, 1, &roots, &spec, &err), 0);
        assert_node(json_array_get(edits(spec, 0, "deviceNodes"), 1), "/dev/nvidia-caps/nvidia-cap21",
                    CAPS_MAJOR, 21);
        spec = unref(spec);

        /* The access file of GPU 1's instances is past the nodes made here: named as missing. */
        p.address = "0000:2a:00.0";
        p.gi = 1;
        assert_int_equal(cdi_spec_build(&p, 1, &roots, &spec, &err), -ENOENT);
        assert_non_null(strstr(err, "nvidia-cap147"));
        assert_null(spec);
        err = mfree(err);
        /* A GPU instance id the driver has no minor for. */
        p.address = "0000:18:00.0";
        p.gi = 15;
        assert_int_equal(cdi_spec_build(&p, 1, &roots, &spec, &err), -ENOENT);
        assert_non_null(strstr(err, "has no gpu0/gi15/access"));
}

static void test_share(void **state) {
        _cleanup_(json_decrefp) json_t *spec = NULL;
        _cleanup_free_ char *err = NULL;
        CdiRoots roots = dgx();
        CdiPartition p = { .type = CDI_NVIDIA_SHARE,
                           .name = "share-3a-0",
                           .address = "0000:3a:00.0",
                           .uuid = "GPU-00002330-ark0-fixt-ure0-000000000002",
                           .mps_pipe_dir = "/run/ark/mps/0000:3a:00.0/pipe",
                           .mps_shm_dir = "/run/ark/mps/0000:3a:00.0/shm" };
        json_t *mounts, *m;

        REQUIRE_NODES();
        assert_int_equal(cdi_spec_build(&p, 1, &roots, &spec, &err), 0);
        assert_node(json_array_get(edits(spec, 0, "deviceNodes"), 0), "/dev/nvidia2", NVIDIA_MAJOR, 2);
        assert_int_equal(json_array_size(edits(spec, 0, "env")), 2);
        assert_string_equal(env_at(spec, 0, 0),
                            "NVIDIA_VISIBLE_DEVICES=GPU-00002330-ark0-fixt-ure0-000000000002");
        assert_string_equal(env_at(spec, 0, 1), "CUDA_MPS_PIPE_DIRECTORY=/run/nvidia-mps");
        /* No limit in the environment: the control daemon sets them (docs/gpu-sharing.md). */
        mounts = edits(spec, 0, "mounts");
        assert_int_equal(json_array_size(mounts), 2);
        m = json_array_get(mounts, 0);
        assert_string_equal(json_string_value(json_object_get(m, "hostPath")),
                            "/run/ark/mps/0000:3a:00.0/pipe");
        assert_string_equal(json_string_value(json_object_get(m, "containerPath")), "/run/nvidia-mps");
        assert_string_equal(json_string_value(json_array_get(json_object_get(m, "options"), 0)), "bind");
        m = json_array_get(mounts, 1);
        assert_string_equal(json_string_value(json_object_get(m, "containerPath")), "/dev/shm");
        assert_int_equal(cdi_spec_validate(spec, &err), 0);

        p.mps_shm_dir = "run/relative";
        spec = unref(spec);
        assert_int_equal(cdi_spec_build(&p, 1, &roots, &spec, &err), -EINVAL);
}

static void test_ascend(void **state) {
        _cleanup_(json_decrefp) json_t *spec = NULL;
        _cleanup_free_ char *err = NULL;
        CdiRoots roots = { .dev = dev_root, .proc = ASCEND_PROC };
        const CdiPartition parts[] = {
                { .type = CDI_ASCEND_NPU, .name = "npu2", .npu = 2 },
                { .type = CDI_ASCEND_NPU, .name = "npu5", .npu = 5 },
        };
        json_t *nodes;

        REQUIRE_NODES();
        assert_int_equal(cdi_spec_build(parts, 2, &roots, &spec, &err), 0);
        assert_string_equal(json_string_value(json_object_get(spec, "kind")), "huawei.com/npu");
        nodes = edits(spec, 1, "deviceNodes");
        assert_int_equal(json_array_size(nodes), 1);
        assert_node(json_array_get(nodes, 0), "/dev/davinci5", 236, 5);
        nodes = json_object_get(json_object_get(spec, "containerEdits"), "deviceNodes");
        assert_int_equal(json_array_size(nodes), 3);
        assert_node(json_array_get(nodes, 0), "/dev/davinci_manager", 235, 0);
        assert_node(json_array_get(nodes, 1), "/dev/devmm_svm", 234, 0);
        assert_node(json_array_get(nodes, 2), "/dev/hisi_hdc", 233, 0);
        assert_string_equal(env_at(spec, 1, 0), "ASCEND_VISIBLE_DEVICES=5");
}

static void test_build_refused(void **state) {
        _cleanup_(json_decrefp) json_t *spec = NULL;
        _cleanup_free_ char *err = NULL, *plain = join(dev_root, "nvidia-modeset");
        CdiRoots roots = dgx();
        CdiPartition mixed[] = {
                { .type = CDI_NVIDIA_GPU, .name = "gpu0", .address = "0000:18:00.0", .uuid = "GPU-x" },
                { .type = CDI_ASCEND_NPU, .name = "npu0" },
        };
        CdiPartition p = mixed[0];

        REQUIRE_NODES();
        assert_int_equal(cdi_spec_build(mixed, 2, &roots, &spec, &err), -EINVAL);
        assert_non_null(strstr(err, "one spec per kind"));
        err = mfree(err);
        mixed[1] = mixed[0];
        assert_int_equal(cdi_spec_build(mixed, 2, &roots, &spec, &err), -EINVAL);
        assert_string_equal(err, "Two partitions are named 'gpu0'.");
        err = mfree(err);
        p.name = "-gpu";
        assert_int_equal(cdi_spec_build(&p, 1, &roots, &spec, &err), -EINVAL);
        err = mfree(err);
        p.name = "gpu0";
        p.uuid = "MIG-x"; /* a whole GPU's UUID starts GPU- */
        assert_int_equal(cdi_spec_build(&p, 1, &roots, &spec, &err), -EINVAL);
        err = mfree(err);
        p.uuid = "GPU-x";
        p.address = "0000:77:00.0"; /* no such GPU in the driver's files */
        assert_int_equal(cdi_spec_build(&p, 1, &roots, &spec, &err), -ENOENT);
        assert_non_null(strstr(err, "The NVIDIA driver has no GPU 0000:77:00.0"));
        err = mfree(err);
        p.address = "../../etc";
        assert_int_equal(cdi_spec_build(&p, 1, &roots, &spec, &err), -EINVAL);
        err = mfree(err);
        /* A node that is a regular file is no device. */
        p.address = "0000:18:00.0";
        assert_int_equal(write_string_file(plain, "", WRITE_CREATE), 0);
        assert_int_equal(cdi_spec_build(&p, 1, &roots, &spec, &err), -ENODEV);
        assert_non_null(strstr(err, "nvidia-modeset is not a character device"));
        assert_int_equal(unlink(plain), 0);
        assert_null(spec);
}

static void test_write_load(void **state) {
        _cleanup_(json_decrefp) json_t *spec = NULL, *again = NULL;
        _cleanup_free_ char *err = NULL, *path = join(tmp_root, "nvidia.json");
        CdiRoots roots = dgx();
        CdiPartition p = {
                .type = CDI_NVIDIA_GPU, .name = "gpu0", .address = "0000:18:00.0", .uuid = "GPU-a"
        };
        struct stat st;

        REQUIRE_NODES();
        assert_int_equal(cdi_spec_build(&p, 1, &roots, &spec, &err), 0);
        assert_int_equal(cdi_spec_write(spec, path), 0);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(cdi_spec_load(path, &again, &err), 0);
        assert_true(json_equal(spec, again));
}

static const char good_spec[] =
        "{\"cdiVersion\": \"0.6.0\", \"kind\": \"nvidia.com/gpu\","
        " \"containerEdits\": {\"env\": [\"NVIDIA_DRIVER_CAPABILITIES=compute\"]},"
        " \"devices\": ["
        "  {\"name\": \"gpu0\", \"containerEdits\": {"
        "    \"env\": [\"NVIDIA_VISIBLE_DEVICES=GPU-a\"],"
        "    \"deviceNodes\": [{\"path\": \"/dev/nvidia0\", \"type\": \"c\", \"major\": 195, \"minor\": 0},"
        "                      {\"path\": \"/dev/nvidiactl\", \"type\": \"c\", \"major\": 195, \"minor\": 255,"
        "                       \"permissions\": \"rw\", \"fileMode\": 438}],"
        "    \"mounts\": [{\"hostPath\": \"/run/ark/mps\", \"containerPath\": \"/run/nvidia-mps\"}]}},"
        "  {\"name\": \"gpu1\", \"containerEdits\": {"
        "    \"deviceNodes\": [{\"path\": \"/dev/nvidia1\", \"type\": \"c\", \"major\": 195, \"minor\": 1}]}}"
        " ]}";

static void test_apply(void **state) {
        _cleanup_(json_decrefp) json_t *spec = NULL, *config = NULL, *before = NULL;
        _cleanup_free_ char *err = NULL;
        json_t *env, *devices, *rules, *mounts, *r;
        const char *gpu0[] = { "gpu0", NULL }, *missing[] = { "gpu0", "gpu9", NULL };

        assert_int_equal(cdi_spec_parse(good_spec, strlen(good_spec), &spec, &err), 0);
        config = json_loads(
                "{\"ociVersion\": \"1.0.2\", \"process\": {\"env\": [\"PATH=/bin\", "
                "\"NVIDIA_VISIBLE_DEVICES=void\"]}, \"linux\": {\"resources\": {\"devices\": "
                "[{\"allow\": false, \"access\": \"rwm\"}]}}, \"mounts\": [{\"destination\": \"/proc\", "
                "\"type\": \"proc\", \"source\": \"proc\"}]}",
                0, NULL);
        assert_non_null(config);
        before = json_deep_copy(config);

        /* A device the spec lacks: refused before anything changes. */
        assert_int_equal(cdi_apply(config, spec, missing, &err), -ENOENT);
        assert_string_equal(err, "The CDI spec of nvidia.com/gpu has no device 'gpu9'.");
        assert_true(json_equal(config, before));
        err = mfree(err);

        assert_int_equal(cdi_apply(config, spec, gpu0, &err), 0);
        env = json_object_get(json_object_get(config, "process"), "env");
        assert_int_equal(json_array_size(env), 3);
        assert_string_equal(json_string_value(json_array_get(env, 0)), "PATH=/bin");
        assert_string_equal(json_string_value(json_array_get(env, 1)), "NVIDIA_DRIVER_CAPABILITIES=compute");
        assert_string_equal(json_string_value(json_array_get(env, 2)), "NVIDIA_VISIBLE_DEVICES=GPU-a");

        devices = json_object_get(json_object_get(config, "linux"), "devices");
        assert_int_equal(json_array_size(devices), 2); /* gpu0's nodes only, not gpu1's */
        assert_string_equal(json_string_value(json_object_get(json_array_get(devices, 0), "path")),
                            "/dev/nvidia0");
        assert_int_equal(json_integer_value(json_object_get(json_array_get(devices, 1), "minor")), 255);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(devices, 1), "fileMode")), 438);

        /* The default deny stays first; an allow rule per node follows. */
        rules = json_object_get(json_object_get(json_object_get(config, "linux"), "resources"), "devices");
        assert_int_equal(json_array_size(rules), 3);
        assert_false(json_boolean_value(json_object_get(json_array_get(rules, 0), "allow")));
        r = json_array_get(rules, 1);
        assert_true(json_boolean_value(json_object_get(r, "allow")));
        assert_string_equal(json_string_value(json_object_get(r, "type")), "c");
        assert_int_equal(json_integer_value(json_object_get(r, "major")), 195);
        assert_int_equal(json_integer_value(json_object_get(r, "minor")), 0);
        assert_string_equal(json_string_value(json_object_get(r, "access")), "rwm");
        assert_string_equal(json_string_value(json_object_get(json_array_get(rules, 2), "access")), "rw");

        mounts = json_object_get(config, "mounts");
        assert_int_equal(json_array_size(mounts), 2);
        r = json_array_get(mounts, 1);
        assert_string_equal(json_string_value(json_object_get(r, "destination")), "/run/nvidia-mps");
        assert_string_equal(json_string_value(json_object_get(r, "source")), "/run/ark/mps");
        assert_string_equal(json_string_value(json_object_get(r, "type")), "bind");
        assert_string_equal(json_string_value(json_array_get(json_object_get(r, "options"), 0)), "bind");

        /* Applied again: replaced, not doubled (rules do add up: they are harmless repeats). */
        assert_int_equal(cdi_apply(config, spec, gpu0, &err), 0);
        assert_int_equal(json_array_size(env), 3);
        assert_int_equal(json_array_size(devices), 2);
        assert_int_equal(json_array_size(mounts), 2);

        /* A config whose parts have the wrong type. */
        json_object_set_new(config, "mounts", json_string("no"));
        assert_int_equal(cdi_apply(config, spec, gpu0, &err), -EINVAL);
}

static void test_apply_built(void **state) {
        _cleanup_(json_decrefp) json_t *spec = NULL, *config = json_object();
        _cleanup_free_ char *err = NULL;
        CdiRoots roots = { .dev = dev_root, .proc = ASCEND_PROC };
        const CdiPartition parts[] = {
                { .type = CDI_ASCEND_NPU, .name = "npu0", .npu = 0 },
                { .type = CDI_ASCEND_NPU, .name = "npu1", .npu = 1 },
                { .type = CDI_ASCEND_NPU, .name = "npu2", .npu = 2 },
        };
        const char *two[] = { "npu0", "npu2", NULL };
        _cleanup_(cdi_edits_done) CdiEdits e = {};
        json_t *devices;

        REQUIRE_NODES();
        assert_int_equal(cdi_spec_build(parts, 3, &roots, &spec, &err), 0);
        assert_int_equal(cdi_apply(config, spec, two, &err), 0);
        /* Two davinci devices and the shared nodes once each: exactly what --gpus 2 gets. */
        devices = json_object_get(json_object_get(config, "linux"), "devices");
        assert_int_equal(json_array_size(devices), 5);
        assert_string_equal(json_string_value(json_object_get(json_array_get(devices, 0), "path")),
                            "/dev/davinci_manager");
        assert_string_equal(json_string_value(json_object_get(json_array_get(devices, 3), "path")),
                            "/dev/davinci0");
        assert_string_equal(json_string_value(json_object_get(json_array_get(devices, 4), "path")),
                            "/dev/davinci2");
        /* Both NPUs in the one variable that names them. */
        assert_string_equal(json_string_value(json_array_get(
                                    json_object_get(json_object_get(config, "process"), "env"), 0)),
                            "ASCEND_VISIBLE_DEVICES=0,2");
        /* The allow rules: one per node, nothing else. */
        assert_int_equal(json_array_size(json_object_get(
                                 json_object_get(json_object_get(config, "linux"), "resources"), "devices")),
                         5);

        /* The same as lists: the nodes from their paths under the device root, the variable joined. */
        assert_int_equal(cdi_edits_collect(spec, two, &e, &err), 0);
        assert_int_equal(e.n_nodes, 5);
        assert_string_equal(e.nodes[3].path, "/dev/davinci0");
        assert_true(startswith(e.nodes[3].host_path, dev_root));
        assert_true(endswith(e.nodes[3].host_path, "/davinci0"));
        assert_int_equal(e.nodes[4].minor, 2);
        assert_int_equal(strv_length(e.env), 1);
        assert_string_equal(e.env[0], "ASCEND_VISIBLE_DEVICES=0,2");
}

/* Two devices whose edits overlap each other and the spec's own. */
static const char merge_spec[] =
        "{\"cdiVersion\": \"0.6.0\", \"kind\": \"nvidia.com/gpu\","
        " \"containerEdits\": {\"env\": [\"NVIDIA_DRIVER_CAPABILITIES=compute\", \"X=spec\"],"
        "   \"deviceNodes\": [{\"path\": \"/dev/nvidiactl\", \"type\": \"c\", \"major\": 195, \"minor\": 255}]},"
        " \"devices\": ["
        "  {\"name\": \"gpu0\", \"containerEdits\": {"
        "    \"env\": [\"NVIDIA_VISIBLE_DEVICES=GPU-a\", \"X=0\", \"ASCEND_VISIBLE_DEVICES=4\"],"
        "    \"deviceNodes\": [{\"path\": \"/dev/nvidia0\", \"hostPath\": \"/srv/ark/dev/nvidia0\", \"type\": \"c\","
        "                       \"major\": 195, \"minor\": 0},"
        "                      {\"path\": \"/dev/nvidiactl\", \"type\": \"c\", \"major\": 195, \"minor\": 254,"
        "                       \"permissions\": \"rw\"}],"
        "    \"mounts\": [{\"hostPath\": \"/run/a\", \"containerPath\": \"/run/nvidia-mps\","
        "                  \"options\": [\"ro\", \"nosuid\", \"noexec\", \"bind\"]},"
        "                 {\"hostPath\": \"/run/shm-a\", \"containerPath\": \"/dev/shm\", \"type\": \"bind\"}]}},"
        "  {\"name\": \"gpu1\", \"containerEdits\": {"
        "    \"env\": [\"NVIDIA_VISIBLE_DEVICES=GPU-b\", \"X=1\", \"ASCEND_VISIBLE_DEVICES=5\"],"
        "    \"deviceNodes\": [{\"path\": \"/dev/nvidia1\", \"type\": \"b\", \"major\": 195, \"minor\": 1}],"
        "    \"mounts\": [{\"hostPath\": \"/run/b\", \"containerPath\": \"/run/nvidia-mps\"}]}},"
        "  {\"name\": \"gpu2\"}"
        " ]}";

static void test_edits_collect(void **state) {
        _cleanup_(json_decrefp) json_t *spec = NULL, *config = json_object();
        _cleanup_(cdi_edits_done) CdiEdits e = {};
        _cleanup_free_ char *err = NULL;
        const char *both[] = { "gpu0", "gpu1", NULL }, *missing[] = { "gpu1", "gpu9", NULL };
        const char *bare[] = { "gpu2", NULL };
        json_t *env;

        assert_int_equal(cdi_spec_parse(merge_spec, strlen(merge_spec), &spec, &err), 0);
        assert_int_equal(cdi_edits_collect(spec, both, &e, &err), 0);

        /* Later variables replace earlier ones (X), in the later one's place; the two that name
         * devices keep the first one's place and join the values. */
        assert_int_equal(strv_length(e.env), 4);
        assert_string_equal(e.env[0], "NVIDIA_DRIVER_CAPABILITIES=compute");
        assert_string_equal(e.env[1], "NVIDIA_VISIBLE_DEVICES=GPU-a,GPU-b");
        assert_string_equal(e.env[2], "ASCEND_VISIBLE_DEVICES=4,5");
        assert_string_equal(e.env[3], "X=1");

        /* gpu0's nvidiactl replaces the spec's (its minor and permissions), at the end. */
        assert_int_equal(e.n_nodes, 3);
        assert_string_equal(e.nodes[0].path, "/dev/nvidia0");
        assert_string_equal(e.nodes[0].host_path, "/srv/ark/dev/nvidia0"); /* hostPath kept */
        assert_int_equal(e.nodes[0].type, 'c');
        assert_int_equal(e.nodes[0].major, 195);
        assert_int_equal(e.nodes[0].minor, 0);
        assert_string_equal(e.nodes[0].access, "rwm");
        assert_string_equal(e.nodes[1].path, "/dev/nvidiactl");
        assert_string_equal(e.nodes[1].host_path, "/dev/nvidiactl"); /* no hostPath: the path */
        assert_int_equal(e.nodes[1].minor, 254);
        assert_string_equal(e.nodes[1].access, "rw");
        assert_string_equal(e.nodes[2].path, "/dev/nvidia1");
        assert_int_equal(e.nodes[2].type, 'b');
        assert_int_equal(e.nodes[2].minor, 1);

        /* gpu1's /run/nvidia-mps replaces gpu0's (read-only, noexec), after gpu0's /dev/shm. */
        assert_int_equal(e.n_mounts, 2);
        assert_string_equal(e.mounts[0].container_path, "/dev/shm");
        assert_string_equal(e.mounts[0].host_path, "/run/shm-a");
        assert_false(e.mounts[0].readonly);
        assert_string_equal(e.mounts[1].container_path, "/run/nvidia-mps");
        assert_string_equal(e.mounts[1].host_path, "/run/b");
        assert_false(e.mounts[1].readonly);
        assert_false(e.mounts[1].noexec);

        /* cdi_apply() merges alike: the same variables, nodes and mounts in the same order. */
        assert_int_equal(cdi_apply(config, spec, both, &err), 0);
        env = json_object_get(json_object_get(config, "process"), "env");
        assert_int_equal(json_array_size(env), 4);
        for (size_t k = 0; k < 4; k++)
                assert_string_equal(json_string_value(json_array_get(env, k)), e.env[k]);
        for (size_t k = 0; k < e.n_nodes; k++)
                assert_string_equal(
                        json_string_value(json_object_get(
                                json_array_get(json_object_get(json_object_get(config, "linux"), "devices"),
                                               k),
                                "path")),
                        e.nodes[k].path);
        assert_int_equal(json_array_size(json_object_get(config, "mounts")), 2);
        cdi_edits_done(&e);

        /* gpu0 alone: its mount read-only and noexec; its variables unjoined. */
        assert_int_equal(cdi_edits_collect(spec, (const char *[]) { "gpu0", NULL }, &e, &err), 0);
        assert_string_equal(e.env[1], "NVIDIA_VISIBLE_DEVICES=GPU-a");
        assert_string_equal(e.mounts[0].container_path, "/run/nvidia-mps");
        assert_true(e.mounts[0].readonly);
        assert_true(e.mounts[0].noexec);
        cdi_edits_done(&e);

        /* A device without edits gets the spec's own. */
        assert_int_equal(cdi_edits_collect(spec, bare, &e, &err), 0);
        assert_int_equal(strv_length(e.env), 2);
        assert_int_equal(e.n_nodes, 1);
        assert_int_equal(e.nodes[0].minor, 255);
        assert_int_equal(e.n_mounts, 0);
        cdi_edits_done(&e);

        /* No names: nothing, not even the spec's own. */
        assert_int_equal(cdi_edits_collect(spec, NULL, &e, &err), 0);
        assert_null(e.env);
        assert_int_equal(e.n_nodes, 0);
        assert_int_equal(e.n_mounts, 0);
        cdi_edits_done(&e);

        /* An unknown name: refused with a sentence, *ret untouched. */
        e.n_nodes = 77;
        assert_int_equal(cdi_edits_collect(spec, missing, &e, &err), -ENOENT);
        assert_string_equal(err, "The CDI spec of nvidia.com/gpu has no device 'gpu9'.");
        assert_int_equal(e.n_nodes, 77);
        assert_null(e.nodes);
        e.n_nodes = 0;
        err = mfree(err);

        /* A spec that does not validate. */
        json_object_set_new(spec, "kind", json_string("gpu"));
        assert_int_equal(cdi_edits_collect(spec, both, &e, &err), -EINVAL);
        assert_string_equal(err, "The CDI spec's kind 'gpu' is not vendor.com/class.");
}

static void test_parse_refused(void **state) {
        static const struct {
                const char *json, *error;
        } cases[] = {
                { "[]", "A CDI spec must be a JSON object." },
                { "{\"cdiVersion\": \"0.6.0\", \"kind\": \"nvidia.com/gpu\", \"devices\": [], \"x\": 1}",
                  "The CDI spec's top level has an unknown field 'x'." },
                { "{\"kind\": \"nvidia.com/gpu\", \"devices\": []}", "The CDI spec lacks 'cdiVersion'." },
                { "{\"cdiVersion\": \"9.9.9\", \"kind\": \"nvidia.com/gpu\", \"devices\": []}",
                  "The CDI spec's cdiVersion '9.9.9' is not a CDI version." },
                { "{\"cdiVersion\": \"0.6.0\", \"kind\": \"gpu\", \"devices\": []}",
                  "The CDI spec's kind 'gpu' is not vendor.com/class." },
                { "{\"cdiVersion\": \"0.6.0\", \"kind\": \"Nvidia.com/gpu\", \"devices\": []}",
                  "The CDI spec's kind 'Nvidia.com/gpu' is not vendor.com/class." },
                { "{\"cdiVersion\": \"0.6.0\", \"kind\": \"nvidia.com/gpu/x\", \"devices\": []}",
                  "The CDI spec's kind 'nvidia.com/gpu/x' is not vendor.com/class." },
                { "{\"cdiVersion\": \"0.6.0\", \"kind\": \"nvidia.com/gpu\", \"devices\": []}",
                  "The CDI spec's devices must be an array of at least one device." },
                { "{\"cdiVersion\": \"0.6.0\", \"kind\": \"nvidia.com/gpu\", \"devices\": [{\"name\": \"-x\"}]}",
                  "The CDI spec's devices[0].name '-x' is no device name." },
                { "{\"cdiVersion\": \"0.6.0\", \"kind\": \"nvidia.com/gpu\", \"devices\": [{\"name\": \"a\"}, "
                  "{\"name\": \"a\"}]}",
                  "The CDI spec's devices[1].name 'a' repeats devices[0]." },
                { "{\"cdiVersion\": \"0.6.0\", \"kind\": \"nvidia.com/gpu\", \"devices\": [{\"name\": \"a\", "
                  "\"containerEdits\": {\"hooks\": [{\"hookName\": \"createContainer\", \"path\": \"/bin/sh\"}]}}]}",
                  "The CDI spec's devices[0].containerEdits.hooks is refused: Ark applies device nodes, mounts and "
                  "environment only." },
                { "{\"cdiVersion\": \"0.7.0\", \"kind\": \"nvidia.com/gpu\", \"containerEdits\": {\"additionalGids\": "
                  "[0]}, \"devices\": [{\"name\": \"a\"}]}",
                  "The CDI spec's containerEdits.additionalGids is refused: Ark applies device nodes, mounts and "
                  "environment only." },
                { "{\"cdiVersion\": \"0.6.0\", \"kind\": \"nvidia.com/gpu\", \"devices\": [{\"name\": \"a\", "
                  "\"containerEdits\": {\"deviceNodes\": [{\"path\": \"/dev/../etc/shadow\", \"type\": \"c\", "
                  "\"major\": 1, \"minor\": 1}]}}]}",
                  "The CDI spec's devices[0].containerEdits.deviceNodes[0].path must be an absolute path without '.' "
                  "or '..'." },
                { "{\"cdiVersion\": \"0.6.0\", \"kind\": \"nvidia.com/gpu\", \"devices\": [{\"name\": \"a\", "
                  "\"containerEdits\": {\"deviceNodes\": [{\"path\": \"/etc/x\", \"type\": \"c\", \"major\": 1, "
                  "\"minor\": 1}]}}]}",
                  "The CDI spec's devices[0].containerEdits.deviceNodes[0].path must lie under /dev." },
                { "{\"cdiVersion\": \"0.6.0\", \"kind\": \"nvidia.com/gpu\", \"devices\": [{\"name\": \"a\", "
                  "\"containerEdits\": {\"deviceNodes\": [{\"path\": \"/dev/x\", \"type\": \"p\", \"major\": 1, "
                  "\"minor\": 1}]}}]}",
                  "The CDI spec's devices[0].containerEdits.deviceNodes[0].type must be \"c\" or \"b\"." },
                { "{\"cdiVersion\": \"0.6.0\", \"kind\": \"nvidia.com/gpu\", \"devices\": [{\"name\": \"a\", "
                  "\"containerEdits\": {\"deviceNodes\": [{\"path\": \"/dev/x\", \"type\": \"c\", \"minor\": 1}]}}]}",
                  "The CDI spec's devices[0].containerEdits.deviceNodes[0].major must be an integer from 0 to 4095." },
                { "{\"cdiVersion\": \"0.6.0\", \"kind\": \"nvidia.com/gpu\", \"devices\": [{\"name\": \"a\", "
                  "\"containerEdits\": {\"deviceNodes\": [{\"path\": \"/dev/x\", \"type\": \"c\", \"major\": 1, "
                  "\"minor\": -1}]}}]}",
                  "The CDI spec's devices[0].containerEdits.deviceNodes[0].minor must be an integer from 0 to 1048575." },
                { "{\"cdiVersion\": \"0.6.0\", \"kind\": \"nvidia.com/gpu\", \"devices\": [{\"name\": \"a\", "
                  "\"containerEdits\": {\"deviceNodes\": [{\"path\": \"/dev/x\", \"type\": \"c\", \"major\": 1, "
                  "\"minor\": 1, \"permissions\": \"rwx\"}]}}]}",
                  "The CDI spec's devices[0].containerEdits.deviceNodes[0].permissions must be some of \"rwm\", each "
                  "once." },
                { "{\"cdiVersion\": \"0.6.0\", \"kind\": \"nvidia.com/gpu\", \"devices\": [{\"name\": \"a\", "
                  "\"containerEdits\": {\"env\": [\"NOVALUE\"]}}]}",
                  "The CDI spec's devices[0].containerEdits.env[0] must be a string NAME=value." },
                { "{\"cdiVersion\": \"0.6.0\", \"kind\": \"nvidia.com/gpu\", \"devices\": [{\"name\": \"a\", "
                  "\"containerEdits\": {\"mounts\": [{\"hostPath\": \"relative\", \"containerPath\": \"/x\"}]}}]}",
                  "The CDI spec's devices[0].containerEdits.mounts[0].hostPath must be an absolute path without '.' "
                  "or '..'." },
                { "{\"cdiVersion\": \"0.6.0\", \"kind\": \"nvidia.com/gpu\", \"devices\": [{\"name\": \"a\", "
                  "\"containerEdits\": {\"mounts\": [{\"hostPath\": \"/x\", \"containerPath\": \"/y\", \"options\": "
                  "[1]}]}}]}",
                  "The CDI spec's devices[0].containerEdits.mounts[0].options[0] must be a string." },
                { "{\"cdiVersion\": \"0.6.0\", \"kind\": \"nvidia.com/gpu\", \"devices\": [{\"name\": \"a\", "
                  "\"containerEdits\": {\"mounts\": [{\"hostPath\": \"/x\", \"containerPath\": \"/y\", \"options\": "
                  "[\"bind\", \"rshared\"]}]}}]}",
                  "The CDI spec's devices[0].containerEdits.mounts[0].options[1] 'rshared' is refused: Ark allows ro, "
                  "rw, bind, rbind, nosuid, nodev and noexec." },
                { "{\"cdiVersion\": \"0.6.0\", \"kind\": \"nvidia.com/gpu\", \"devices\": [{\"name\": \"a\", "
                  "\"containerEdits\": {\"mounts\": [{\"hostPath\": \"/x\", \"containerPath\": \"/y\", \"options\": "
                  "[\"ro\", \"bind\", \"rw\"]}]}}]}",
                  "The CDI spec's devices[0].containerEdits.mounts[0].options has both ro and rw." },
                { "{\"cdiVersion\": \"0.6.0\", \"kind\": \"nvidia.com/gpu\", \"devices\": [{\"name\": \"a\", "
                  "\"containerEdits\": {\"mounts\": [{\"hostPath\": \"/x\", \"containerPath\": \"/y\", \"type\": "
                  "\"tmpfs\"}]}}]}",
                  "The CDI spec's devices[0].containerEdits.mounts[0].type must be \"bind\"." },
                { "{\"cdiVersion\": \"0.6.0\", \"kind\": \"nvidia.com/gpu\", \"devices\": [{\"name\": \"a\", "
                  "\"containerEdits\": {\"deviceNodes\": {}}}]}",
                  "The CDI spec's devices[0].containerEdits.deviceNodes must be an array." },
                { "{\"cdiVersion\": \"0.6.0\", \"kind\": \"nvidia.com/gpu\", \"devices\": [{\"name\": \"a\", "
                  "\"annotations\": {\"k\": 1}}]}",
                  "The CDI spec's devices[0].annotations.k must be a string." },
        };
        _cleanup_free_ char *big = NULL;

        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                _cleanup_free_ char *err = NULL;
                json_t *spec = NULL;

                if (cdi_spec_parse(cases[k].json, strlen(cases[k].json), &spec, &err) != -EINVAL)
                        fail_msg("case %zu was accepted: %s", k, cases[k].json);
                assert_null(spec);
                if (!streq(err, cases[k].error))
                        fail_msg("case %zu: got \"%s\"", k, err);
        }
        /* Duplicate keys and bytes that are no JSON. */
        {
                _cleanup_free_ char *err = NULL;
                json_t *spec = NULL;
                const char *dup = "{\"cdiVersion\": \"0.6.0\", \"cdiVersion\": \"0.6.0\"}";
                const char *nul = "{\"a\": \"b\\u0000c\"}";

                assert_int_equal(cdi_spec_parse(dup, strlen(dup), &spec, &err), -EINVAL);
                assert_true(startswith(err, "The CDI spec is not JSON: duplicate object key"));
                err = mfree(err);
                assert_int_equal(cdi_spec_parse("{", 1, &spec, &err), -EINVAL);
                err = mfree(err);
                /* A NUL byte inside a string never reaches the checks. */
                assert_int_equal(cdi_spec_parse(nul, strlen(nul), &spec, &err), -EINVAL);
                assert_true(startswith(err, "The CDI spec is not JSON:"));
                err = mfree(err);
                big = calloc(1, CDI_SPEC_MAX_BYTES + 2);
                assert_non_null(big);
                memset(big, ' ', CDI_SPEC_MAX_BYTES + 1);
                assert_int_equal(cdi_spec_parse(big, CDI_SPEC_MAX_BYTES + 1, &spec, &err), -E2BIG);
                assert_null(spec);
        }
}

static int group_setup(void **state) {
        return tmp_root_setup(state) < 0 ? -1 : dev_setup(state);
}

static int group_teardown(void **state) {
        rm_tmpdirp(&dev_root);
        return tmp_root_teardown(state);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_whole_gpus),    cmocka_unit_test(test_nvidia_uuid),
                cmocka_unit_test(test_mig_instance),  cmocka_unit_test(test_share),
                cmocka_unit_test(test_ascend),        cmocka_unit_test(test_build_refused),
                cmocka_unit_test(test_write_load),    cmocka_unit_test(test_apply),
                cmocka_unit_test(test_apply_built),   cmocka_unit_test(test_parse_refused),
                cmocka_unit_test(test_edits_collect),
        };

        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

/* Tests for appliance/hw/nvml: Ark's NVML wrapper against the project's fake NVML
 * (tests/fake-nvml/, built next to this test as libnvidia-ml.so.1), which keeps MIG state in a
 * file and enforces the A100/H100 80GB geometry as the real library does. */

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tmpdir.h"

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "nvml.h"

/* Two H100s and a GPU without MIG, as the fake's state file describes GPUs. */
static const char initial_state[] =
        "gpu 0000:18:00.0 uuid=GPU-00002330-ark0-fixt-ure0-000000000000 memory_mib=81559 mig=0 compute_mode=0 "
        "name=NVIDIA H100 80GB HBM3\n"
        "gpu 0000:2a:00.0 uuid=GPU-00002330-ark0-fixt-ure0-000000000001 memory_mib=81559 mig=1 compute_mode=0 "
        "name=NVIDIA H100 80GB HBM3\n"
        "gpu 0000:17:00.0 uuid=GPU-00001e81-ark0-fixt-ure0-000000000000 memory_mib=8192 mig=0 compute_mode=0 "
        "name=NVIDIA GeForce RTX 2080 SUPER\n";

static char *fake_library(void) {
        char exe[PATH_MAX];
        ssize_t l = readlink("/proc/self/exe", exe, sizeof exe - 1);
        char *slash;

        assert_true(l > 0);
        exe[l] = 0;
        slash = strrchr(exe, '/');
        assert_non_null(slash);
        *slash = 0;
        return join(exe, "libnvidia-ml.so.1");
}

typedef struct Fixture {
        char *dir, *state, *lib;
} Fixture;

static int fixture_setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);

        assert_non_null(f);
        f->dir = make_tmpdir();
        f->state = join(f->dir, "nvml.state");
        f->lib = fake_library();
        assert_int_equal(write_string_file(f->state, initial_state, WRITE_CREATE), 0);
        assert_int_equal(setenv("ARK_FAKE_NVML_STATE", f->state, 1), 0);
        *state = f;
        return 0;
}

static int fixture_teardown(void **state) {
        Fixture *f = *state;

        rm_tmpdirp(&f->dir);
        free(f->state);
        free(f->lib);
        free(f);
        return 0;
}

static Nvml *open_fake(const Fixture *f) {
        _cleanup_free_ char *err = NULL;
        Nvml *n = NULL;
        int r = nvml_open(f->lib, &n, &err);

        if (r < 0)
                fail_msg("nvml_open: %s", err);
        return n;
}

static void test_open_errors(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *err = NULL, *missing = join(f->dir, "nope.state");
        Nvml *n = NULL;

        assert_int_equal(nvml_open("/nonexistent/libnvidia-ml.so.1", &n, &err), -ENOENT);
        assert_null(n);
        assert_non_null(strstr(err, "cannot be loaded"));
        err = mfree(err);
        /* A library that is no NVML: libc has none of its entry points. */
        assert_int_equal(nvml_open("libc.so.6", &n, &err), -ELIBBAD);
        assert_non_null(strstr(err, "lacks nvmlInit_v2()"));
        err = mfree(err);
        /* No state file: what NVML says when the kernel driver is not loaded. */
        assert_int_equal(setenv("ARK_FAKE_NVML_STATE", missing, 1), 0);
        assert_int_equal(nvml_open(f->lib, &n, &err), -ENXIO);
        assert_string_equal(err, "NVML did not initialize: Driver Not Loaded (NVML error 9).");
        assert_int_equal(setenv("ARK_FAKE_NVML_STATE", f->state, 1), 0);
}

static void test_list_gpus(void **state) {
        Fixture *f = *state;
        _cleanup_(nvml_closep) Nvml *n = open_fake(f);
        _cleanup_free_ NvmlGpu *l = NULL;
        _cleanup_free_ char *err = NULL;
        size_t k;

        assert_int_equal(nvml_list_gpus(n, &l, &k, &err), 0);
        assert_int_equal(k, 3);
        assert_string_equal(l[0].address, "0000:18:00.0");
        assert_string_equal(l[0].uuid, "GPU-00002330-ark0-fixt-ure0-000000000000");
        assert_string_equal(l[0].name, "NVIDIA H100 80GB HBM3");
        assert_int_equal(l[0].memory_bytes, 81559ULL << 20);
        assert_true(l[0].mig_capable);
        assert_false(l[0].mig_enabled);
        assert_true(l[1].mig_enabled);
        assert_string_equal(l[2].address, "0000:17:00.0");
        assert_false(l[2].mig_capable);
        assert_false(l[2].exclusive_process);
}

static void test_mig_mode(void **state) {
        Fixture *f = *state;
        _cleanup_(nvml_closep) Nvml *n = open_fake(f);
        _cleanup_free_ char *err = NULL;
        NvmlMigInstance m;

        /* MIG off: no instance can be made, and NVML's answer becomes a sentence. */
        assert_int_equal(nvml_mig_create(n, "0000:18:00.0", MIG_3G_40GB, 0, &m, &err), -EOPNOTSUPP);
        assert_string_equal(
                err,
                "GPU 0000:18:00.0 cannot make MIG instances: MIG mode is off: Not Supported (NVML error 3).");
        err = mfree(err);
        assert_int_equal(nvml_set_mig(n, "0000:17:00.0", true, &err), -EOPNOTSUPP);
        assert_non_null(strstr(err, "GPU 0000:17:00.0 has no MIG mode"));
        err = mfree(err);
        assert_int_equal(nvml_set_mig(n, "0000:99:00.0", true, &err), -ENOENT);
        assert_string_equal(err, "NVML has no GPU at 0000:99:00.0.");
        err = mfree(err);
        assert_int_equal(nvml_set_mig(n, "18:00", true, &err), -EINVAL);
        err = mfree(err);

        assert_int_equal(nvml_set_mig(n, "0000:18:00.0", true, &err), 0);
        assert_int_equal(nvml_mig_create(n, "0000:18:00.0", MIG_7G_80GB, 0, &m, &err), 0);
        /* Instances left: MIG mode stays on. */
        assert_int_equal(nvml_set_mig(n, "0000:18:00.0", false, &err), -EBUSY);
        assert_non_null(strstr(err, "cannot be turned off while MIG instances exist"));
        assert_int_equal(nvml_mig_destroy(n, "0000:18:00.0", m.gi_id, m.ci_id, NULL), 0);
        assert_int_equal(nvml_set_mig(n, "0000:18:00.0", false, NULL), 0);
}

static void test_mig_create_geometry(void **state) {
        Fixture *f = *state;
        _cleanup_(nvml_closep) Nvml *n = open_fake(f);
        _cleanup_free_ char *err = NULL;
        NvmlMigInstance a, b, c, x;

        /* A 3g.40gb at slice 4, then the pooler's 3g at 0: both legal, the GPU's two halves. */
        assert_int_equal(nvml_mig_create(n, "0000:2a:00.0", MIG_3G_40GB, 4, &a, &err), 0);
        assert_string_equal(a.address, "0000:2a:00.0");
        assert_int_equal(a.profile, MIG_3G_40GB);
        assert_int_equal(a.start, 4);
        assert_int_equal(a.gi_id, 1);
        assert_int_equal(a.ci_id, 0);
        assert_true(startswith(a.uuid, "MIG-"));
        assert_int_equal(strlen(a.uuid), strlen("MIG-") + 36);

        /* A start 3g.40gb never takes: NVML's INVALID_ARGUMENT, said with the legal starts. */
        assert_int_equal(nvml_mig_create(n, "0000:2a:00.0", MIG_3G_40GB, 2, &x, &err), -EINVAL);
        assert_string_equal(
                err,
                "A 3g.40gb MIG instance cannot start at memory slice 2 of GPU 0000:2a:00.0: it starts "
                "only at slices 0, 4: Invalid Argument (NVML error 2).");
        err = mfree(err);
        assert_int_equal(nvml_mig_create(n, "0000:2a:00.0", MIG_4G_40GB, 4, &x, &err), -EINVAL);
        assert_non_null(strstr(err, "it starts only at slice 0:"));
        err = mfree(err);
        /* A legal start over an instance already there: INSUFFICIENT_RESOURCES. */
        assert_int_equal(nvml_mig_create(n, "0000:2a:00.0", MIG_3G_40GB, 4, &x, &err), -ENOSPC);
        assert_string_equal(
                err,
                "GPU 0000:2a:00.0 has no room for a 3g.40gb MIG instance at memory slice 4: memory "
                "slices 4-7 or 3 compute slices are taken by instances already there: "
                "Insufficient Resources (NVML error 23).");
        err = mfree(err);
        assert_int_equal(nvml_mig_create(n, "0000:2a:00.0", MIG_1G_10GB, 5, &x, &err), -ENOSPC);
        err = mfree(err);

        assert_int_equal(nvml_mig_create(n, "0000:2a:00.0", MIG_2G_20GB, 0, &b, &err), 0);
        assert_int_equal(b.gi_id, 2);
        assert_string_not_equal(a.uuid, b.uuid);
        assert_int_equal(nvml_mig_create(n, "0000:2a:00.0", MIG_1G_10GB, 2, &c, &err), 0);
        /* 3 + 2 + 1 compute slices taken, memory slice 3 free: one more 1g.10gb fits there. */
        assert_int_equal(nvml_mig_create(n, "0000:2a:00.0", MIG_1G_10GB, 3, &x, &err), 0);
        assert_int_equal(nvml_mig_destroy(n, "0000:2a:00.0", x.gi_id, x.ci_id, NULL), 0);
        /* 1g.20gb at 2 overlaps the 1g.10gb at 2. */
        assert_int_equal(nvml_mig_create(n, "0000:2a:00.0", MIG_1G_20GB, 2, &x, &err), -ENOSPC);
        err = mfree(err);

        /* Clean up for the tests after this one. */
        assert_int_equal(nvml_mig_destroy(n, "0000:2a:00.0", a.gi_id, a.ci_id, &err), 0);
        assert_int_equal(nvml_mig_destroy(n, "0000:2a:00.0", b.gi_id, b.ci_id, &err), 0);
        assert_int_equal(nvml_mig_destroy(n, "0000:2a:00.0", c.gi_id, c.ci_id, &err), 0);
}

static void test_compute_slices(void **state) {
        Fixture *f = *state;
        _cleanup_(nvml_closep) Nvml *n = open_fake(f);
        _cleanup_free_ char *err = NULL;
        NvmlMigInstance m[8], x;

        /* Seven 1g.10gb take every compute slice; slice 7 has memory but no 1g ever starts there. */
        for (unsigned s = 0; s < 7; s++) {
                assert_int_equal(nvml_mig_create(n, "0000:2a:00.0", MIG_1G_10GB, s, &m[s], &err), 0);
                assert_int_equal(m[s].start, s);
        }
        assert_int_equal(nvml_mig_create(n, "0000:2a:00.0", MIG_1G_10GB, 7, &x, &err), -EINVAL);
        err = mfree(err);
        for (unsigned s = 0; s < 7; s++)
                assert_int_equal(nvml_mig_destroy(n, "0000:2a:00.0", m[s].gi_id, m[s].ci_id, &err), 0);
        /* A 4g.40gb and a 3g.40gb: 7 compute slices, all 8 memory slices. */
        assert_int_equal(nvml_mig_create(n, "0000:2a:00.0", MIG_4G_40GB, 0, &m[0], &err), 0);
        assert_int_equal(nvml_mig_create(n, "0000:2a:00.0", MIG_3G_40GB, 4, &m[1], &err), 0);
        assert_int_equal(nvml_mig_destroy(n, "0000:2a:00.0", m[0].gi_id, m[0].ci_id, &err), 0);
        assert_int_equal(nvml_mig_destroy(n, "0000:2a:00.0", m[1].gi_id, m[1].ci_id, &err), 0);
}

static void test_state_kept_across_reopen(void **state) {
        Fixture *f = *state;
        _cleanup_free_ NvmlMigInstance *l = NULL;
        _cleanup_free_ char *err = NULL, *text = NULL;
        NvmlMigInstance a, b;
        size_t k;

        {
                _cleanup_(nvml_closep) Nvml *n = open_fake(f);

                assert_int_equal(nvml_mig_create(n, "0000:2a:00.0", MIG_3G_40GB, 0, &a, &err), 0);
                assert_int_equal(nvml_mig_create(n, "0000:2a:00.0", MIG_1G_20GB, 6, &b, &err), 0);
        }
        /* The fake kept it in its file, as the GPU keeps it across a restart of arkd. */
        assert_int_equal(read_full_file(f->state, &text, NULL), 0);
        assert_non_null(strstr(text, "gi 0000:2a:00.0 id=1 profile=3g.40gb start=0\n"));
        assert_non_null(strstr(text, "ci 0000:2a:00.0 gi=1 id=0 slices=3\n"));

        {
                _cleanup_(nvml_closep) Nvml *n = open_fake(f);
                NvmlMigInstance x;

                /* Adoption: the instances with their ids and UUIDs, in profile order. */
                assert_int_equal(nvml_mig_list(n, "0000:2a:00.0", &l, &k, &err), 0);
                assert_int_equal(k, 2);
                assert_int_equal(l[0].profile, MIG_1G_20GB);
                assert_int_equal(l[0].start, 6);
                assert_int_equal(l[0].gi_id, b.gi_id);
                assert_int_equal(l[0].ci_id, b.ci_id);
                assert_string_equal(l[0].uuid, b.uuid);
                assert_int_equal(l[1].profile, MIG_3G_40GB);
                assert_int_equal(l[1].start, 0);
                assert_string_equal(l[1].uuid, a.uuid);
                assert_string_equal(l[1].address, "0000:2a:00.0");
                /* The geometry holds against what an earlier process made. */
                assert_int_equal(nvml_mig_create(n, "0000:2a:00.0", MIG_4G_40GB, 0, &x, &err), -ENOSPC);
                err = mfree(err);
                l = mfree(l);
                /* A GPU with MIG off, or without MIG, has no instances. */
                assert_int_equal(nvml_mig_list(n, "0000:18:00.0", &l, &k, &err), 0);
                assert_int_equal(k, 0);
                assert_null(l);
                assert_int_equal(nvml_mig_list(n, "0000:17:00.0", &l, &k, &err), 0);
                assert_int_equal(k, 0);

                /* Destroy: gone from the listing; a second destroy finds nothing. */
                assert_int_equal(nvml_mig_destroy(n, "0000:2a:00.0", a.gi_id, a.ci_id, &err), 0);
                assert_int_equal(nvml_mig_destroy(n, "0000:2a:00.0", a.gi_id, a.ci_id, &err), -ENOENT);
                assert_string_equal(err, "GPU 0000:2a:00.0 has no GPU instance 1.");
                err = mfree(err);
                assert_int_equal(nvml_mig_list(n, "0000:2a:00.0", &l, &k, &err), 0);
                assert_int_equal(k, 1);
                assert_int_equal(l[0].profile, MIG_1G_20GB);
                /* The 4g.40gb fits now that slices 0-3 are free. */
                assert_int_equal(nvml_mig_create(n, "0000:2a:00.0", MIG_4G_40GB, 0, &x, &err), 0);
                assert_int_equal(nvml_mig_destroy(n, "0000:2a:00.0", x.gi_id, x.ci_id, &err), 0);
                assert_int_equal(nvml_mig_destroy(n, "0000:2a:00.0", b.gi_id, b.ci_id, &err), 0);
        }
}

static void test_adopt_gi_without_ci(void **state) {
        Fixture *f = *state;
        _cleanup_free_ NvmlMigInstance *l = NULL;
        _cleanup_free_ char *err = NULL, *s = NULL;
        size_t k;

        /* A GPU instance whose compute instance was never made (a create cut short by a crash). */
        s = strprintf("%sgi 0000:2a:00.0 id=3 profile=2g.20gb start=4\n", initial_state);
        assert_int_equal(write_string_file(f->state, s, WRITE_ATOMIC), 0);
        {
                _cleanup_(nvml_closep) Nvml *n = open_fake(f);

                assert_int_equal(nvml_mig_list(n, "0000:2a:00.0", &l, &k, &err), 0);
                assert_int_equal(k, 1);
                assert_int_equal(l[0].gi_id, 3);
                assert_int_equal(l[0].ci_id, UINT_MAX);
                assert_string_equal(l[0].uuid, "");
                assert_int_equal(nvml_mig_destroy(n, "0000:2a:00.0", 3, 0, &err), 0);
        }
        assert_int_equal(write_string_file(f->state, initial_state, WRITE_ATOMIC), 0);
}

static void test_compute_mode(void **state) {
        Fixture *f = *state;
        _cleanup_free_ NvmlGpu *l = NULL;
        _cleanup_free_ char *err = NULL;
        size_t k;

        {
                _cleanup_(nvml_closep) Nvml *n = open_fake(f);

                assert_int_equal(nvml_set_exclusive_process(n, "0000:18:00.0", true, &err), 0);
                assert_int_equal(nvml_set_exclusive_process(n, "0000:99:00.0", true, &err), -ENOENT);
        }
        {
                _cleanup_(nvml_closep) Nvml *n = open_fake(f);

                assert_int_equal(nvml_list_gpus(n, &l, &k, &err), 0);
                assert_true(l[0].exclusive_process);
                assert_false(l[1].exclusive_process);
                assert_int_equal(nvml_set_exclusive_process(n, "0000:18:00.0", false, &err), 0);
                l = mfree(l);
                assert_int_equal(nvml_list_gpus(n, &l, &k, &err), 0);
                assert_false(l[0].exclusive_process);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_open_errors, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_list_gpus, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_mig_mode, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_mig_create_geometry, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_compute_slices, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_state_kept_across_reopen, fixture_setup,
                                                fixture_teardown),
                cmocka_unit_test_setup_teardown(test_adopt_gi_without_ci, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_compute_mode, fixture_setup, fixture_teardown),
        };

        return cmocka_run_group_tests(tests, tmp_root_setup, tmp_root_teardown);
}

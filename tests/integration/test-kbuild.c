/* The build system's own checks (issue 16), on a copy of the build files in a temporary folder
 * (Makefile, every Kconfig and Kbuild file, configs/, po/ and the names of the sources; `make -n`, so nothing is
 * compiled): a source file in no Kbuild list stops the build naming it; a feature that has no
 * code yet is refused when set; a library pkg-config does not know is named; an option turned
 * off leaves its files out; a Kconfig change reaches an existing .config. */

#include "itest.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"

static char *tree;

static int setup(void **state) {
        _cleanup_free_ char *out = NULL, *err = NULL;
        char tmpl[] = "/tmp/ark-kbuild.XXXXXX";
        int r;

        if (!mkdtemp(tmpl))
                return -1;
        tree = strdup(tmpl);
        if (!tree)
                return -1;
        /* The build files as they are, each source file as an empty file of the same name. */
        r = harness_sh(
                &out, &err,
                "cd '%s' && cp Makefile Kconfig VERSION '%s'/ && cp -r configs po '%s'/ && "
                "find . -path ./build -prune -o -path ./.git -prune -o \\( -name Kbuild -o -name Kconfig \\) -print | "
                "  while read -r f; do mkdir -p \"%s/$(dirname \"$f\")\" && cp \"$f\" \"%s/$f\"; done && "
                "find . -path ./build -prune -o -path ./.git -prune -o -name '*.c' -print | "
                "  while read -r f; do mkdir -p \"%s/$(dirname \"$f\")\" && : > \"%s/$f\"; done",
                harness_src_dir(), tree, tree, tree, tree, tree, tree);
        if (r != 0) {
                fprintf(stderr, "copying the build files failed: %s %s\n", strna(out), strna(err));
                return -1;
        }
        return 0;
}

static int teardown(void **state) {
        if (tree)
                (void) rm_rf(tree);
        free(tree);
        return 0;
}

/* `make -n` in the copy with configuration `defconfig` (a fresh O= each time), after `prepare`
 * (a shell command run in the copy); returns its exit status, output in *ret_out and *ret_err. */
static int make_n(const char *defconfig, const char *prepare, const char *env, char **ret_out,
                  char **ret_err) {
        return harness_sh(
                ret_out, ret_err,
                "cd '%s' && rm -rf o && %s && %s make -s --no-print-directory O=o %s >/dev/null && "
                "%s make -n --no-print-directory O=o all",
                tree, prepare ?: "true", env ?: "", defconfig, env ?: "");
}

static void test_the_copy_builds(void **state) {
        _cleanup_free_ char *out = NULL, *err = NULL;

        if (make_n("dev_defconfig", NULL, NULL, &out, &err) != 0)
                fail_msg("make -n failed on an unchanged copy: %s", strna(err));
        /* The lists reach the compiler: arkd's metrics code is built, in its folder. */
        assert_non_null(strstr(out, "appliance/metrics.c"));
        assert_non_null(strstr(out, "appliance/instance/instance.c"));
}

static void test_unlisted_source_stops_the_build(void **state) {
        _cleanup_free_ char *out = NULL, *err = NULL;

        assert_int_not_equal(make_n("dev_defconfig", ": > appliance/instance/stray.c", NULL, &out, &err), 0);
        assert_non_null(strstr(err, "appliance/instance/stray.c is in no list"));
        _cleanup_free_ char *stray = strprintf("%s/appliance/instance/stray.c", tree);
        assert_int_equal(unlink(stray), 0);
}

static void test_option_off_leaves_files_out(void **state) {
        _cleanup_free_ char *out = NULL, *err = NULL;

        if (make_n("minimal_defconfig", NULL, NULL, &out, &err) != 0)
                fail_msg("make -n failed for minimal_defconfig: %s", strna(err));
        assert_null(strstr(out, "appliance/metrics.c"));
        assert_null(strstr(out, "test-http"));
        assert_non_null(strstr(out, "appliance/manager.c"));
}

static void test_unbuilt_feature_is_refused(void **state) {
        _cleanup_free_ char *out = NULL, *err = NULL;

        assert_int_not_equal(make_n("fleet_defconfig",
                                    "cp configs/dev_defconfig configs/fleet_defconfig && "
                                    "echo CONFIG_FLEET=y >> configs/fleet_defconfig",
                                    NULL, &out, &err),
                             0);
        assert_non_null(strstr(err, "CONFIG_FLEET is set, but that feature is not implemented yet"));
}

static void test_missing_library_is_named(void **state) {
        _cleanup_free_ char *out = NULL, *err = NULL, *fake = NULL, *script = NULL, *env = NULL;

        /* A pkg-config that knows every library but libarchive. */
        fake = strprintf("%s/fakebin", tree);
        script = strprintf("%s/fakebin/pkg-config", tree);
        env = strprintf("PATH=%s/fakebin:$PATH", tree);
        assert_true(fake && script && env);
        assert_int_equal(mkdir(fake, 0755), 0);
        assert_int_equal(write_string_file(script,
                                           "#!/bin/sh\n"
                                           "for a; do [ \"$a\" = libarchive ] && exit 1; done\n"
                                           "exec /usr/bin/pkg-config \"$@\"\n",
                                           WRITE_CREATE),
                         0);
        assert_int_equal(chmod(script, 0755), 0);
        assert_int_not_equal(make_n("dev_defconfig", NULL, env, &out, &err), 0);
        assert_non_null(strstr(err, "pkg-config does not find libarchive"));
}

static void test_kconfig_change_reaches_old_config(void **state) {
        _cleanup_free_ char *out = NULL, *err = NULL;

        /* A .config from before the METRICS option existed (the line removed) is brought up to date:
         * the option's default (on) reaches the lists, not an implicit "off". */
        if (harness_sh(&out, &err,
                       "cd '%s' && rm -rf o && make -s O=o dev_defconfig >/dev/null && "
                       "sed -i /CONFIG_METRICS/d o/.config && touch -d '1 hour ago' o/.config && "
                       "make -n O=o all",
                       tree) != 0)
                fail_msg("make -n failed: %s", strna(err));
        assert_non_null(strstr(out, "appliance/metrics.c"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_the_copy_builds),
                cmocka_unit_test(test_unlisted_source_stops_the_build),
                cmocka_unit_test(test_option_off_leaves_files_out),
                cmocka_unit_test(test_unbuilt_feature_is_refused),
                cmocka_unit_test(test_missing_library_is_named),
                cmocka_unit_test(test_kconfig_change_reaches_old_config),
        };
        return cmocka_run_group_tests_name("integration: kbuild", tests, setup, teardown);
}

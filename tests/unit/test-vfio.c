/* Tests for appliance/vfio against a copy of the ws-rtx fixture tree: the fake sysfs records
 * what Ark writes (driver_override, the old driver's unbind, drivers_probe), in that order of
 * meaning, and leaves alone what needs no change. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/spawn-util.h"
#include "basic/string-util.h"
#include "vfio.h"

#define HOSTS_DIR ARK_SRCDIR "/tests/fixtures/hosts"

static char *tmp, *root;

static int setup(void **state) {
        char t[] = "/tmp/ark-test-vfio.XXXXXX";
        _cleanup_free_ char *cmd = NULL, *out = NULL;
        char *argv[] = { (char *) "sh", (char *) "-c", NULL, NULL };

        if (!mkdtemp(t))
                return -1;
        tmp = strdup(t);
        root = strprintf("%s/sysfs", t);
        /* A private copy; 0000:17:00.1 (the 2080 SUPER's audio) is on vfio-pci already. */
        cmd = strprintf("cp -a '" HOSTS_DIR
                        "/ws-rtx/sysfs' '%s' && cd '%s/sys/bus/pci/devices/0000:17:00.1/' && "
                        "ln -sfn ../../../../bus/pci/drivers/vfio-pci driver",
                        t, root);
        argv[2] = cmd;
        return tmp && root && cmd && spawn_wait(argv, &out) == 0 ? 0 : -1;
}

static int teardown(void **state) {
        if (tmp)
                (void) rm_rf(tmp);
        tmp = mfree(tmp);
        root = mfree(root);
        return 0;
}

static char *content(const char *rel) {
        _cleanup_free_ char *p = path_join(root, rel);
        char *text = NULL;

        assert_non_null(p);
        assert_int_equal(read_full_file(p, &text, NULL), 0);
        return text;
}

static void test_current_driver(void **state) {
        char *d = (char *) "untouched";

        assert_int_equal(vfio_current_driver(root, "0000:17:00.0", &d), 0);
        assert_string_equal(d, "nvidia");
        free(d);
        assert_int_equal(vfio_current_driver(root, "0000:17:00.1", &d), 0);
        assert_string_equal(d, "vfio-pci");
        free(d);
        d = (char *) "untouched";
        assert_int_equal(vfio_current_driver(root, "0000:77:00.0", &d), -ENOENT);
        assert_int_equal(vfio_current_driver(root, "17:00.0", &d), -EINVAL);
        assert_string_equal(d, "untouched");
}

/* From nvidia to vfio-pci: the override, the old driver's unbind, a probe of the device. */
static void test_bind(void **state) {
        _cleanup_free_ char *override = NULL, *unbind = NULL, *probe = NULL, *vfio_unbind = NULL;

        assert_int_equal(vfio_bind(root, "0000:17:00.0"), 0);
        override = content("sys/bus/pci/devices/0000:17:00.0/driver_override");
        unbind = content("sys/bus/pci/drivers/nvidia/unbind");
        probe = content("sys/bus/pci/drivers_probe");
        assert_true(startswith(override, "vfio-pci"));
        assert_string_equal(unbind, "0000:17:00.0");
        assert_string_equal(probe, "0000:17:00.0");
        /* Nothing was unbound from vfio-pci. */
        vfio_unbind = content("sys/bus/pci/drivers/vfio-pci/unbind");
        assert_string_equal(vfio_unbind, "");
}

/* On vfio-pci already: bind writes nothing. */
static void test_bind_noop(void **state) {
        _cleanup_free_ char *override = NULL;

        assert_int_equal(vfio_bind(root, "0000:17:00.1"), 0);
        override = content("sys/bus/pci/devices/0000:17:00.1/driver_override");
        assert_string_equal(override, "(null)\n");
        assert_int_equal(vfio_bind(root, "0000:77:00.0"), -ENOENT);
}

/* Back to the host driver: the override cleared, unbound from vfio-pci, reprobed. */
static void test_release(void **state) {
        _cleanup_free_ char *override = NULL, *unbind = NULL, *probe = NULL, *other = NULL;

        assert_int_equal(vfio_release(root, "0000:17:00.1"), 0);
        override = content("sys/bus/pci/devices/0000:17:00.1/driver_override");
        unbind = content("sys/bus/pci/drivers/vfio-pci/unbind");
        probe = content("sys/bus/pci/drivers_probe");
        assert_int_equal(override[0], '\n');
        assert_string_equal(unbind, "0000:17:00.1");
        assert_string_equal(probe, "0000:17:00.1");
        /* A device on its host driver is left alone. */
        assert_int_equal(vfio_release(root, "0000:06:00.0"), 0);
        other = content("sys/bus/pci/devices/0000:06:00.0/driver_override");
        assert_string_equal(other, "(null)\n");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_current_driver),
                cmocka_unit_test(test_bind),
                cmocka_unit_test(test_bind_noop),
                cmocka_unit_test(test_release),
        };
        return cmocka_run_group_tests_name("vfio", tests, setup, teardown);
}

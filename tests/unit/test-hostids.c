/* Tests for appliance/instance/container/hostids: the host's accounts and subordinate ID ranges
 * against the IDs containers get, from files written here. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tmpdir.h"

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "hostids.h"

#define BASE 1073741824U

static char *put(const char *dir, const char *name, const char *text) {
        char *p = join(dir, name);

        assert_int_equal(write_string_file(p, text, WRITE_CREATE), 0);
        return p;
}

static void test_host_ids(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_free_ char *passwd = put(d, "passwd",
                                          "root:x:0:0:root:/root:/bin/bash\n"
                                          "libvirt-qemu:x:64055:108:::/usr/sbin/nologin\n"
                                          "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"),
                            *group = put(d, "group", "root:x:0:\nkvm:x:104:libvirt-qemu\n"),
                            *subuid = put(d, "subuid", "# ranges\nadmin:100000:65536\n"),
                            *missing = path_join(d, "none"), *err = NULL, *high = NULL;
        HostIdFiles f = { passwd, group, subuid, missing };

        /* The usual host: nothing up there. */
        assert_int_equal(host_ids_check(&f, BASE, &err), 0);
        assert_null(err);
        /* A base below a user's UID. */
        assert_int_equal(host_ids_check(&f, 65000, &err), -EEXIST);
        assert_non_null(
                strstr(err, "has 'nobody' with ID 65534, in the host IDs containers get from 65000"));
        err = mfree(err);
        /* A subordinate range that reaches the base. */
        high = put(d, "subgid", "podman:1073676288:131072\n");
        f.subgid = high;
        assert_int_equal(host_ids_check(&f, BASE, &err), -EEXIST);
        assert_non_null(strstr(err, "gives 'podman' IDs 1073676288-1073807359, which reach"));
        err = mfree(err);
        /* A group up there. */
        f.subgid = missing;
        free(group);
        group = put(d, "group2", "tenants:x:2000000000:\n");
        f.group = group;
        assert_int_equal(host_ids_check(&f, BASE, &err), -EEXIST);
        assert_non_null(strstr(err, "'tenants' with ID 2000000000"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_host_ids),
        };

        return cmocka_run_group_tests(tests, tmp_root_setup, tmp_root_teardown);
}

#pragma once

/* Scratch directories for unit tests. Every test works in a directory of its own under one root,
 * which the group teardown removes even when a test failed halfway (cmocka leaves a failed test by
 * longjmp, skipping cleanups). Include after <cmocka.h>; pass tmp_root_setup/tmp_root_teardown
 * to cmocka_run_group_tests(). */

#include <errno.h>
#include <stdlib.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"

static char *tmp_root;

static int tmp_root_setup(void **state) {
        const char *tmp = getenv("TMPDIR");

        tmp_root = strprintf("%s/%s.XXXXXX", isempty(tmp) ? "/tmp" : tmp, program_invocation_short_name);
        return tmp_root && mkdtemp(tmp_root) ? 0 : -1;
}

static int tmp_root_teardown(void **state) {
        int r = tmp_root ? rm_rf(tmp_root) : 0;

        tmp_root = mfree(tmp_root);
        return r < 0 ? -1 : 0;
}

static char *make_tmpdir(void) {
        char *d = strprintf("%s/t.XXXXXX", tmp_root);

        assert_non_null(d);
        assert_non_null(mkdtemp(d));
        return d;
}

static void rm_tmpdirp(char **d) {
        if (*d) {
                (void) rm_rf(*d);
                free(*d);
        }
}
#define _cleanup_tmpdir_ _cleanup_(rm_tmpdirp)

static char *join(const char *a, const char *b) {
        char *p = path_join(a, b);

        assert_non_null(p);
        return p;
}

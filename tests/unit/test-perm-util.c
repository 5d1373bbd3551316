/* Tests for lib/basic/perm-util: closing a tree to other users (arkd's state directory at
 * start-up). What it changes and what it must never do: add a bit, follow a link out of the tree,
 * stop at an entry it cannot fix. */

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/perm-util.h"
#include "basic/string-util.h"

#include "tmpdir.h"

typedef struct Seen {
        char path[64][256];
        mode_t old_mode[64], new_mode[64];
        int error[64];
        unsigned n;
} Seen;

static void record(const char *relpath, mode_t old_mode, mode_t new_mode, int error, void *userdata) {
        Seen *s = userdata;

        assert_true(s->n < ELEMENTSOF(s->path));
        snprintf(s->path[s->n], sizeof(s->path[0]), "%s", relpath);
        s->old_mode[s->n] = old_mode;
        s->new_mode[s->n] = new_mode;
        s->error[s->n] = error;
        s->n++;
}

/* The index of relpath among the reports, or -1. */
static int seen(const Seen *s, const char *relpath) {
        for (unsigned k = 0; k < s->n; k++)
                if (streq(s->path[k], relpath))
                        return (int) k;
        return -1;
}

static mode_t mode_of(const char *dir, const char *rel) {
        _cleanup_free_ char *p = join(dir, rel);
        struct stat st;

        assert_int_equal(lstat(p, &st), 0);
        return st.st_mode & 07777;
}

static void make(const char *dir, const char *rel, mode_t mode, bool directory) {
        _cleanup_free_ char *p = join(dir, rel);

        if (directory)
                assert_int_equal(mkdir(p, 0700), 0);
        else
                assert_int_equal(write_string_file(p, "secret\n", WRITE_CREATE), 0);
        assert_int_equal(chmod(p, mode), 0); /* whatever the umask */
}

/* The state directory as an arkd before the fix left it: everything open to every user. */
static void test_tighten_open_tree(void **state) {
        _cleanup_tmpdir_ char *top = make_tmpdir(), *outside = make_tmpdir();
        _cleanup_free_ char *fifo = join(top, "fifo"), *link_out = join(top, "images/link.qcow2"),
                            *dirlink_out = join(top, "bundles/linked"), *target = join(outside, "secret"),
                            *in_outside = join(outside, "dir");
        static const PermRule rules[] = {
                { ".", 0711 },
                { "disks", 0710 },
        };
        Seen s = {};
        int n;

        assert_int_equal(chmod(top, 0755), 0);
        make(top, "ark.db", 0644, false);
        make(top, "disks", 0755, true);
        make(top, "disks/a.qcow2", 0644, false);
        make(top, "images", 02775, true);
        make(top, "images/run.sh", 04755, false); /* setuid and executable: the owner keeps x */
        make(top, "bundles", 0755, true);
        make(top, "bundles/private", 0700, true);
        make(top, "bundles/private/weights", 0400, false); /* tighter than the rule: stays */
        make(top, "bundles/ro", 0555, true);
        assert_int_equal(mkfifo(fifo, 0666), 0);
        assert_int_equal(chmod(fifo, 0666), 0);
        /* Links out of the tree, to a file and to a directory: neither is followed. */
        make(outside, "secret", 0644, false);
        make(outside, "dir", 0755, true);
        assert_int_equal(symlink(target, link_out), 0);
        assert_int_equal(symlink(in_outside, dirlink_out), 0);

        n = perm_tighten_tree(top, 0700, rules, ELEMENTSOF(rules), record, &s);
        assert_int_equal(n, 9);
        assert_int_equal(s.n, 9);
        for (unsigned k = 0; k < s.n; k++)
                assert_int_equal(s.error[k], 0);

        assert_int_equal(mode_of(top, "."), 0711);
        assert_int_equal(mode_of(top, "ark.db"), 0600);
        assert_int_equal(mode_of(top, "disks"), 0710);
        assert_int_equal(mode_of(top, "disks/a.qcow2"), 0600);
        assert_int_equal(mode_of(top, "images"), 0700);
        assert_int_equal(mode_of(top, "images/run.sh"), 0700);
        assert_int_equal(mode_of(top, "bundles"), 0700);
        assert_int_equal(mode_of(top, "bundles/private"), 0700);
        assert_int_equal(mode_of(top, "bundles/private/weights"), 0400);
        assert_int_equal(mode_of(top, "bundles/ro"), 0500);
        assert_int_equal(mode_of(top, "fifo"), 0600);
        /* What the links point to is as it was. */
        assert_int_equal(mode_of(outside, "secret"), 0644);
        assert_int_equal(mode_of(outside, "dir"), 0755);

        /* Each change is reported with the mode before and after, by its path in the tree. */
        assert_true(seen(&s, ".") >= 0);
        assert_int_equal(s.old_mode[seen(&s, ".")], 0755);
        assert_int_equal(s.new_mode[seen(&s, ".")], 0711);
        assert_true(seen(&s, "disks/a.qcow2") >= 0);
        assert_int_equal(s.old_mode[seen(&s, "disks/a.qcow2")], 0644);
        assert_int_equal(s.new_mode[seen(&s, "disks/a.qcow2")], 0600);
        assert_int_equal(s.old_mode[seen(&s, "images")], 02775);
        assert_int_equal(s.new_mode[seen(&s, "images/run.sh")], 0700);
        assert_true(seen(&s, "bundles/ro") >= 0);
        assert_int_equal(seen(&s, "bundles/private"), -1);
        assert_int_equal(seen(&s, "images/link.qcow2"), -1);
        assert_int_equal(seen(&s, "bundles/linked"), -1);

        /* A second walk finds nothing to do. */
        s = (Seen) {};
        assert_int_equal(perm_tighten_tree(top, 0700, rules, ELEMENTSOF(rules), record, &s), 0);
        assert_int_equal(s.n, 0);
}

/* Rules only ever take bits away: a path tighter than its rule keeps its mode. */
static void test_never_loosens(void **state) {
        _cleanup_tmpdir_ char *top = make_tmpdir();
        static const PermRule rules[] = {
                { ".", 0755 },
                { "wide", 0777 },
        };

        assert_int_equal(chmod(top, 0700), 0);
        make(top, "wide", 0750, true);
        make(top, "wide/f", 0640, false);
        assert_int_equal(perm_tighten_tree(top, 0700, rules, ELEMENTSOF(rules), NULL, NULL), 1);
        assert_int_equal(mode_of(top, "."), 0700);
        assert_int_equal(mode_of(top, "wide"), 0750);
        assert_int_equal(mode_of(top, "wide/f"), 0600); /* the rule is for "wide" itself only */
}

/* A rule for the directories below a path (the image store's subdirectories, which QEMU passes
 * through): the files there and the path itself follow the other rules. */
static void test_dirs_below(void **state) {
        _cleanup_tmpdir_ char *top = make_tmpdir();
        static const PermRule rules[] = {
                { "images", 0710 },
                { "images", 0711, .dirs_below = true },
        };

        make(top, "images", 0755, true);
        make(top, "images/tenants", 0755, true);
        make(top, "images/tenants/a", 0751, true);
        make(top, "images/tenants/a/base.qcow2", 0644, false);
        make(top, "images/tenants/b", 0700, true);
        make(top, "imagesx", 0755, true);
        assert_int_equal(perm_tighten_tree(top, 0700, rules, ELEMENTSOF(rules), NULL, NULL), 5);
        assert_int_equal(mode_of(top, "images"), 0710);
        assert_int_equal(mode_of(top, "images/tenants"), 0711);
        assert_int_equal(mode_of(top, "images/tenants/a"), 0711);
        assert_int_equal(mode_of(top, "images/tenants/a/base.qcow2"), 0600);
        assert_int_equal(mode_of(top, "images/tenants/b"), 0700);
        assert_int_equal(mode_of(top, "imagesx"), 0700);
}

/* The top may be a link (a state directory moved to a bigger disk); what is below is not followed. */
static void test_top_is_a_link(void **state) {
        _cleanup_tmpdir_ char *dir = make_tmpdir();
        _cleanup_free_ char *real = join(dir, "real"), *lnk = join(dir, "link"),
                            *missing = join(dir, "missing");

        make(dir, "real", 0755, true);
        make(real, "f", 0666, false);
        assert_int_equal(symlink(real, lnk), 0);
        assert_int_equal(perm_tighten_tree(lnk, 0700, NULL, 0, NULL, NULL), 2);
        assert_int_equal(mode_of(dir, "real"), 0700);
        assert_int_equal(mode_of(real, "f"), 0600);

        assert_int_equal(perm_tighten_tree(missing, 0700, NULL, 0, NULL, NULL), -ENOENT);
}

static void count_loops(const char *relpath, mode_t old_mode, mode_t new_mode, int error, void *userdata) {
        unsigned *n = userdata;

        if (error == -ELOOP)
                (*n)++;
        else
                assert_int_equal(error, 0);
}

/* Too deep a tree is reported, not walked to the end; the walk goes on elsewhere. */
static void test_depth_limit(void **state) {
        _cleanup_tmpdir_ char *top = make_tmpdir();
        _cleanup_free_ char *p = strdup(top);
        unsigned loops = 0;
        int k, n;

        assert_non_null(p);
        for (k = 0; k < 300; k++) {
                char *q = join(p, "d");

                assert_int_equal(mkdir(q, 0755), 0);
                assert_int_equal(chmod(q, 0755), 0);
                free(p);
                p = q;
        }
        make(top, "other", 0644, false);
        n = perm_tighten_tree(top, 0700, NULL, 0, count_loops, &loops);
        /* rm_rf() stops at 256 levels too. */
        free(p);
        p = strprintf("rm -rf '%s'", top);
        assert_non_null(p);
        assert_int_equal(system(p), 0);
        assert_int_equal(n, 256 + 1); /* the levels it walked, and "other" */
        assert_int_equal(loops, 1);
}

/* mkdir_p_mode(): the mode asked for, whatever the umask; what exists stays as it is. */
static void test_mkdir_p_mode(void **state) {
        _cleanup_tmpdir_ char *top = make_tmpdir();
        _cleanup_free_ char *deep = join(top, "a/b//c/"), *file = join(top, "f"), *under = join(top, "f/x");
        mode_t old = umask(0077);

        make(top, "a", 0700, true);
        assert_int_equal(mkdir_p_mode(deep, 0755), 0);
        assert_int_equal(mode_of(top, "a"), 0700);
        assert_int_equal(mode_of(top, "a/b"), 0755);
        assert_int_equal(mode_of(top, "a/b/c"), 0755);
        assert_int_equal(mkdir_p_mode(deep, 0711), 0); /* all there: nothing changes */
        assert_int_equal(mode_of(top, "a/b/c"), 0755);
        make(top, "f", 0600, false);
        assert_int_equal(mkdir_p_mode(file, 0755), -ENOTDIR);
        assert_int_equal(mkdir_p_mode(under, 0755), -ENOTDIR);
        umask(old);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_tighten_open_tree), cmocka_unit_test(test_never_loosens),
                cmocka_unit_test(test_dirs_below),        cmocka_unit_test(test_top_is_a_link),
                cmocka_unit_test(test_depth_limit),       cmocka_unit_test(test_mkdir_p_mode),
        };
        return cmocka_run_group_tests_name("perm-util", tests, tmp_root_setup, tmp_root_teardown);
}

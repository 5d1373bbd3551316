/* arkd's state directory is closed to other local users (issue 14, acceptance 2): after arkd
 * starts on an existing state directory, no file below it can be opened for reading and no
 * directory listed by a user who is neither root nor in QEMU's group (libvirt-qemu), the one group
 * allowed to search (not list) the state directory, disks/, images/ and nvram/.
 *
 * The state is made the way a user would meet it: arkd creates a tenant, VMs with a disk and with
 * overlays on store images, a model bundle, console and metrics files; then everything is opened
 * up (directories 0755, files 0644), as an arkd before the fix left it, and arkd starts again on
 * it. A throwaway Unix user then tries every path `find` lists (as root), each directory with ls
 * and each file with head. A second arkd on a fresh directory checks the modes things are created
 * with. Needs root (useradd, setpriv, chgrp); skipped with a message otherwise. */

#include "itest.h"

#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"

#define USER "ark-t-perms"

static Harness H;

static void cleanup_account(void) {
        _cleanup_free_ char *out = NULL, *err = NULL;

        (void) harness_sh(&out, &err, "userdel " USER " 2>/dev/null; groupdel " USER " 2>/dev/null; true");
}

static int setup(void **state) {
        _cleanup_free_ char *out = NULL, *err = NULL;

        if (geteuid() != 0)
                return 0;
        cleanup_account();
        /* In no group but its own: not in libvirt-qemu (or qemu), the group arkd lets in. */
        if (harness_sh(&out, &err, "useradd --system --no-create-home --shell /usr/sbin/nologin " USER) !=
            0) {
                fprintf(stderr, "cannot create the test user: %s %s\n", strna(out), strna(err));
                return -1;
        }
        /* The harness's arkd inherits this: the state it creates is what the code makes it, not
         * what a strict umask would. */
        umask(022);
        return 0;
}

static int teardown(void **state) {
        if (geteuid() != 0)
                return 0;
        cleanup_account();
        return 0;
}

/* Each test has an arkd of its own; stopped here even when the test failed halfway. */
static int test_teardown(void **state) {
        if (H.tmp)
                harness_teardown(&H);
        return 0;
}

#define skip_unless_root() \
        do { \
                if (geteuid() != 0) { \
                        print_message("not root: cannot create a user, skipping\n"); \
                        skip(); \
                } \
        } while (0)

/* Runs `sh -c script` as USER (its own uid, gid and groups); returns the exit status. */
static int sh_as_user(char **out, const char *script) {
        _cleanup_free_ char *err = NULL;

        return harness_sh(out, &err, "setpriv --reuid=" USER " --regid=" USER " --init-groups sh -c '%s'",
                          script);
}

/* Every directory and file below (and including) dir, as root sees them, tried as USER: returns
 * what USER could list or read, one line each ("" when nothing), and the number of paths tried. */
static char *what_user_can_read(const char *dir, unsigned *ret_tried) {
        _cleanup_free_ char *list = strprintf("%s/paths.txt", H.tmp), *out = NULL, *err = NULL,
                            *script = NULL;
        char *seen = NULL;

        assert_non_null(list);
        /* Links are left out: they are not followed, and what they point to is not the state's. */
        assert_int_equal(harness_sh(&out, &err,
                                    "find '%s' \\( -type d -o -type f \\) -printf '%%y %%p\\n' > '%s' && "
                                    "chmod 644 '%s' && wc -l < '%s'",
                                    dir, list, list, list),
                         0);
        *ret_tried = (unsigned) strtoul(out, NULL, 10);
        script = strprintf(
                "while read -r t p; do "
                "  if [ \"$t\" = d ]; then ls -a -- \"$p\" >/dev/null 2>&1 && echo \"listable: $p\"; "
                "  else head -c 1 -- \"$p\" >/dev/null 2>&1 && echo \"readable: $p\"; fi; "
                "done < %s; true",
                list);
        assert_non_null(script);
        assert_int_equal(sh_as_user(&seen, script), 0);
        return seen ?: strdup("");
}

static mode_t mode_of(const char *path, gid_t *ret_gid) {
        struct stat st;

        if (lstat(path, &st) < 0)
                fail_msg("cannot stat %s: %m", path);
        if (ret_gid)
                *ret_gid = st.st_gid;
        return st.st_mode & 07777;
}

/* A tenant with a description, a VM with a disk, VMs with overlays on a shared and on a tenant's
 * own store image, a model bundle, a console log (virtlogd writes them on a real host; the test
 * driver does not); arkd adds the store, its lock and the metrics address. */
static void populate(Harness *h) {
        _cleanup_free_ char *out = NULL, *err = NULL;

        assert_arkctl(h, 0, NULL, "tenant", "create", "perms-a", "--description", "secret plans");
        assert_arkctl(h, 0, NULL, "vm", "create", "perms-vm1", "--tenant", "perms-a", "--vcpus", "1",
                      "--memory", "1G", "--disk", "1G", "--start");
        /* A console log as virtlogd writes it (0600); images an admin put in the store, shared and
         * the tenant's own (in a directory made with the usual umask, 0755). */
        assert_int_equal(harness_sh(&out, &err,
                                    "cd '%s' && (umask 022 && mkdir -p images/tenants/perms-a) && "
                                    "umask 077 && qemu-img create -q -f qcow2 images/base.qcow2 64M && "
                                    "qemu-img create -q -f qcow2 images/tenants/perms-a/own.qcow2 64M && "
                                    "echo 'console output' > console/perms-vm1.log",
                                    h->state_dir),
                         0);
        assert_arkctl(h, 0, NULL, "vm", "create", "perms-vm2", "--tenant", "perms-a", "--vcpus", "1",
                      "--memory", "1G", "--image", "base.qcow2");
        assert_arkctl(h, 0, NULL, "vm", "create", "perms-vm3", "--tenant", "perms-a", "--vcpus", "1",
                      "--memory", "1G", "--image", "own.qcow2");
        out = mfree(out);
        err = mfree(err);
        assert_int_equal(
                harness_sh(&out, &err,
                           "cd '%s' && mkdir -p m/sub && echo weights > m/sub/w.bin && "
                           "'%s/bin/arkctl' bundle keygen k >/dev/null && "
                           "'%s/bin/arkctl' bundle create m --kind model --name perms-m --version 1 "
                           "--key k.key -o b.ark --architecture llama --parameters 1000 --dtype bf16 "
                           "--runtime vllm --license x >/dev/null",
                           h->tmp, harness_build_dir(), harness_build_dir()),
                0);
        {
                _cleanup_free_ char *pub = strprintf("%s/k.pub", h->tmp),
                                    *ark = strprintf("%s/b.ark", h->tmp);

                assert_non_null(pub);
                assert_non_null(ark);
                assert_arkctl(h, 0, NULL, "bundle", "trust", "add", pub);
                assert_arkctl(h, 0, NULL, "bundle", "import", ark, "--tenant", "perms-a");
        }
}

/* Acceptance 2: an open state directory is closed when arkd starts on it. */
static void test_existing_state_is_closed(void **state) {
        _cleanup_free_ char *out = NULL, *err = NULL, *seen = NULL, *outside = NULL, *log = NULL;
        unsigned tried = 0;

        skip_unless_root();
        assert_int_equal(harness_setup(&H, "dgx-h100"), 0);
        assert_int_equal(harness_start_arkd(&H, NULL), 0);
        populate(&H);
        assert_int_equal(harness_stop_arkd(&H, SIGTERM), 0);

        /* As an arkd before the fix left it (umask 022, mkdir 0755): every directory 0755, every
         * file 0644. And a link out of the tree, to a file that must stay as it is. */
        outside = strprintf("%s/outside.raw", H.tmp);
        assert_non_null(outside);
        assert_int_equal(harness_sh(&out, &err,
                                    "chmod -R u=rwX,go=rX '%s' && chgrp -R root '%s' && echo data > '%s' && "
                                    "chmod 644 '%s' && ln -s '%s' '%s/images/outside.raw'",
                                    H.state_dir, H.state_dir, outside, outside, outside, H.state_dir),
                         0);
        /* The test can tell: as it is now, the user reads the store and lists the disks. */
        seen = what_user_can_read(H.state_dir, &tried);
        assert_non_null(strstr(seen, "readable: "));
        assert_non_null(strstr(seen, "/ark.db\n"));
        assert_non_null(strstr(seen, "listable: "));
        assert_non_null(strstr(seen, "/disks\n"));
        seen = mfree(seen);

        assert_int_equal(harness_start_arkd(&H, NULL), 0);
        seen = what_user_can_read(H.state_dir, &tried);
        if (!isempty(seen)) {
                harness_dump_log(&H);
                fail_msg("after arkd started on it, user " USER " can still get at these paths of the state "
                         "directory:\n%s",
                         seen);
        }
        /* It looked at everything: the store, disks, images, console, bundles and their payload. */
        assert_true(tried >= 20);

        /* Not followed out of the tree. */
        assert_int_equal(mode_of(outside, NULL), 0644);
        /* QEMU still passes through the tenant's image directory (images/ itself is the gate). */
        {
                _cleanup_free_ char *own = strprintf("%s/images/tenants/perms-a", H.state_dir);

                assert_non_null(own);
                assert_int_equal(mode_of(own, NULL), 0711);
        }
        /* Said once, as a summary. */
        assert_int_equal(read_full_file(H.arkd_log, &log, NULL), 0);
        assert_non_null(strstr(log, "to other users (e.g. "));
        /* And everything still works: the store, the VMs, the bundle. */
        assert_arkctl(&H, 0, "perms-vm1", "vm", "list");
        assert_arkctl(&H, 0, "perms-m", "model", "list", "--tenant", "perms-a");
        assert_arkctl(&H, 0, NULL, "vm", "create", "perms-vm4", "--tenant", "perms-a", "--vcpus", "1",
                      "--memory", "1G", "--image", "own.qcow2");

        /* A second start has nothing left to close. */
        assert_int_equal(harness_stop_arkd(&H, SIGTERM), 0);
        log = mfree(log);
        assert_int_equal(write_string_file(H.arkd_log, "", WRITE_CREATE), 0);
        assert_int_equal(harness_start_arkd(&H, NULL), 0);
        assert_int_equal(read_full_file(H.arkd_log, &log, NULL), 0);
        assert_null(strstr(log, "to other users (e.g. "));
}

/* What a fresh arkd creates is closed from the start, with the modes docs/operations.md gives,
 * even when it was started with a lax umask. */
static void test_new_state_is_closed(void **state) {
        _cleanup_free_ char *seen = NULL, *p = NULL;
        const struct group *g = getgrnam("libvirt-qemu") ?: getgrnam("qemu");
        unsigned tried = 0;
        gid_t gid;

        skip_unless_root();
        assert_int_equal(harness_setup(&H, "dgx-h100"), 0);
        assert_int_equal(harness_start_arkd(&H, NULL), 0);
        populate(&H);

        seen = what_user_can_read(H.state_dir, &tried);
        if (!isempty(seen))
                fail_msg("user " USER " can get at paths of a new state directory:\n%s", seen);
        assert_true(tried >= 20);

        /* QEMU's way to the disks: search for its group (or for everyone without one), no listing. */
        static const char *const qemu_dirs[] = { "", "disks", "images", "nvram" };
        for (size_t k = 0; k < ELEMENTSOF(qemu_dirs); k++) {
                p = mfree(p);
                p = path_join(H.state_dir, qemu_dirs[k]);
                assert_non_null(p);
                if (g) {
                        assert_int_equal(mode_of(p, &gid), 0710);
                        assert_int_equal(gid, g->gr_gid);
                } else
                        assert_int_equal(mode_of(p, NULL), 0711);
        }
        /* Everything else root's alone. */
        static const char *const private_paths[] = { "console",         "bundles",
                                                     "ark.db",          "ark.db-wal",
                                                     "ark.db-shm",      "arkd.lock",
                                                     "metrics.address", "console/perms-vm1.log" };
        for (size_t k = 0; k < ELEMENTSOF(private_paths); k++) {
                p = mfree(p);
                p = path_join(H.state_dir, private_paths[k]);
                assert_non_null(p);
                if ((mode_of(p, NULL) & 077) != 0)
                        fail_msg("%s is mode %04o", p, (unsigned) mode_of(p, NULL));
        }
        {
                _cleanup_free_ char *out = NULL, *err = NULL;

                /* Disks and every other file: 0600 or tighter. A bundle's payload has the modes its
                 * manifest gives (0644, 0755) inside its 0700 directory until the next start
                 * tightens them; unreachable either way (what_user_can_read() above). */
                assert_int_equal(harness_sh(&out, &err,
                                            "find '%s' -path '%s/bundles/*/*/*/*/*' -prune -o "
                                            "-type f -perm /077 -print",
                                            H.state_dir, H.state_dir),
                                 0);
                if (!isempty(out))
                        fail_msg("files open to others:\n%s", out);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_existing_state_is_closed, test_teardown),
                cmocka_unit_test_teardown(test_new_state_is_closed, test_teardown),
        };
        return cmocka_run_group_tests_name("state-perms", tests, setup, teardown);
}

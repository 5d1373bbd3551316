/* scripts/deps.sh, which `make run`, `make test` and CI use to install Debian packages: when another
 * apt-get or dpkg holds the package lock it waits for it (bounded) and then succeeds, instead of
 * failing at once (issue 15). The test holds the real dpkg frontend lock for a few seconds, as
 * apt does (fcntl), and has deps.sh install a package that is in fact installed (a dpkg-query
 * first on PATH says it is missing), so apt-get needs the lock and changes nothing. Needs root and
 * apt-get; skipped with a message otherwise. */

#include "itest.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "basic/time-util.h"

#define LOCK "/var/lib/dpkg/lock-frontend"
#define HOLD_SECONDS 4

/* A child holding the lock for HOLD_SECONDS; returns its pid once it holds it. */
static pid_t hold_lock(void) {
        int p[2];
        pid_t pid;
        char c;

        assert_int_equal(pipe(p), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
                int fd = open(LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0640);

                if (fd < 0 || fcntl(fd, F_SETLKW, &fl) < 0)
                        _exit(1);
                (void) write(p[1], "x", 1);
                sleep(HOLD_SECONDS);
                _exit(0);
        }
        close(p[1]);
        assert_int_equal(read(p[0], &c, 1), 1);
        close(p[0]);
        return pid;
}

static void test_waits_for_the_package_lock(void **state) {
        _cleanup_free_ char *out = NULL, *err = NULL, *dir = NULL, *fake = NULL;
        char tmpl[] = "/tmp/ark-deps.XXXXXX";
        uint64_t t0;
        pid_t holder;
        int status, r;

        if (geteuid() != 0 || access("/usr/bin/apt-get", X_OK) < 0 || access("/usr/bin/tmux", X_OK) < 0) {
                print_message("not root, or no apt-get or tmux: skipping\n");
                skip();
        }
        dir = strdup(mkdtemp(tmpl));
        assert_non_null(dir);
        /* dpkg-query says tmux (installed, as make test needs it) is missing, and all else is there. */
        fake = strprintf("%s/dpkg-query", dir);
        assert_int_equal(write_string_file(fake,
                                           "#!/bin/sh\n"
                                           "for a; do p=$a; done\n"
                                           "[ \"$p\" = tmux ] && exit 1\n"
                                           "printf 'install ok installed'\n",
                                           WRITE_CREATE),
                         0);
        assert_int_equal(chmod(fake, 0755), 0);

        holder = hold_lock();
        t0 = now_usec(CLOCK_MONOTONIC);
        r = harness_sh(&out, &err, "PATH='%s':\"$PATH\" ARK_DEPS_LOCK_TIMEOUT=60 '%s/scripts/deps.sh'", dir,
                       harness_src_dir());
        if (r != 0)
                fail_msg("deps.sh exited %d while the lock was held: %s %s", r, strna(out), strna(err));
        /* It waited for the holder rather than failing at once. */
        assert_true(now_usec(CLOCK_MONOTONIC) - t0 >= (HOLD_SECONDS - 1) * 1000000ULL);
        assert_non_null(strstr(err, "waiting up to 60 s"));
        assert_int_equal(waitpid(holder, &status, 0), holder);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        (void) rm_rf(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_waits_for_the_package_lock),
        };
        return cmocka_run_group_tests_name("integration: deps.sh", tests, NULL, NULL);
}

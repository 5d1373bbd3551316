/* slow-import.so: bundles that arrive slowly, for tests that must catch an import in the middle
 * (kill -9, cancel, progress, several at once).
 *
 * An import reads its bundle as fast as the disk allows, which on a test machine is over before a
 * test can look. Preloaded into arkd (LD_PRELOAD), this wraps read(): a read from a regular file
 * whose name ends in ".ark" (a bundle) takes at least as long as ARK_SLOW_IMPORT_BPS bytes per
 * second allow for what it returned; every other read is libc's. Nothing of this is in arkd: it sits
 * at the file system's edge, as a slow disk or a network mount would. The delay is spent in the
 * import's worker thread, the one that reads. */

#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static ssize_t (*real_read)(int fd, void *buf, size_t count);

static uint64_t bytes_per_sec(void) {
        const char *e = getenv("ARK_SLOW_IMPORT_BPS");
        char *end;
        unsigned long long v;

        if (!e || !*e)
                return 0;
        errno = 0;
        v = strtoull(e, &end, 10);
        if (errno != 0 || *end)
                return 0;
        return v;
}

static int is_bundle(int fd) {
        char link[64], path[4096];
        struct stat st;
        ssize_t n;

        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return 0;
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        n = readlink(link, path, sizeof(path) - 1);
        if (n < 4)
                return 0;
        path[n] = 0;
        return strcmp(path + n - 4, ".ark") == 0;
}

/* Takes the place of libc's (this library is loaded first). */
ssize_t read(int fd, void *buf, size_t count) {
        int saved_errno;
        uint64_t bps;
        ssize_t n;

        if (!real_read)
                real_read = (ssize_t(*)(int, void *, size_t)) dlsym(RTLD_NEXT, "read");
        if (!real_read) {
                errno = ENOSYS;
                return -1;
        }
        n = real_read(fd, buf, count);
        saved_errno = errno;
        bps = bytes_per_sec();
        if (n > 0 && bps > 0 && is_bundle(fd)) {
                uint64_t usec = (uint64_t) n * 1000000 / bps;
                struct timespec ts = { .tv_sec = (time_t) (usec / 1000000),
                                       .tv_nsec = (long) (usec % 1000000) * 1000 };

                while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                        ;
        }
        errno = saved_errno;
        return n;
}

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <sys/random.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "string-util.h"

#define READ_FULL_MAX (64U * 1024U * 1024U)

void unlink_and_freep(char **p) {
        if (!*p)
                return;
        (void) unlink(*p);
        *p = mfree(*p);
}

int read_full_file(const char *path, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, alloc = 0;

        struct stat st;

        /* O_NONBLOCK: a FIFO planted where an attribute should be must not hang the daemon. */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode))
                return -EBADFD;
        for (;;) {
                ssize_t n;

                if (len + 4096 + 1 > alloc) {
                        size_t a = MAX(alloc * 2, (size_t) 8192);
                        char *t;

                        if (a > READ_FULL_MAX)
                                return -EFBIG;
                        t = realloc(buf, a);
                        if (!t)
                                return -ENOMEM;
                        buf = t;
                        alloc = a;
                }
                n = read(fd, buf + len, alloc - len - 1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        if (!buf && !(buf = malloc(1)))
                return -ENOMEM;
        buf[len] = 0;
        *ret = TAKE_PTR(buf);
        if (ret_size)
                *ret_size = len;
        return 0;
}

int read_one_line_file(const char *path, char **ret) {
        _cleanup_free_ char *buf = NULL;
        char *nl;
        int r;

        r = read_full_file(path, &buf, NULL);
        if (r < 0)
                return r;
        nl = strchr(buf, '\n');
        if (nl)
                *nl = 0;
        *ret = TAKE_PTR(buf);
        return 0;
}

int loop_write(int fd, const void *buf, size_t l) {
        const char *s = buf;

        while (l > 0) {
                ssize_t n = write(fd, s, l);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                s += n;
                l -= (size_t) n;
        }
        return 0;
}

int write_string_file(const char *path, const char *s, WriteFlags flags) {
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (flags & WRITE_ATOMIC) {
                /* A name nobody can have prepared, created new (O_EXCL: never through a link planted
                 * in a directory someone else may write to), with mode 0644 less the umask. */
                for (int tries = 0; fd < 0 && tries < 64; tries++) {
                        uint64_t rnd = 0;

                        if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t) sizeof(rnd))
                                return -EIO;
                        free(tmp);
                        tmp = strprintf("%s.tmp.%016" PRIx64, path, rnd);
                        if (!tmp)
                                return -ENOMEM;
                        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
                        if (fd < 0 && errno != EEXIST)
                                return -errno;
                }
                if (fd < 0)
                        return -EEXIST;
        } else
                fd = open(path,
                          O_WRONLY | O_CLOEXEC | O_NOCTTY | ((flags & WRITE_CREATE) ? O_CREAT | O_TRUNC : 0),
                          0644);
        if (fd < 0)
                return -errno;

        r = loop_write(fd, s, strlen(s));
        if (r >= 0 && (flags & WRITE_NEWLINE))
                r = loop_write(fd, "\n", 1);
        if (r >= 0 && (flags & WRITE_ATOMIC) && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && (flags & WRITE_ATOMIC) && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0 && tmp)
                (void) unlink(tmp);
        return r;
}

int mkdir_p(const char *path, mode_t mode) {
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = 0;
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(p, mode) < 0) {
                struct stat st;

                if (errno != EEXIST)
                        return -errno;
                /* Something is there already: only a directory (or a link to one) will do. */
                if (stat(p, &st) < 0)
                        return -errno;
                if (!S_ISDIR(st.st_mode))
                        return -ENOTDIR;
        }
        return 0;
}

char *path_join(const char *a, const char *b) {
        size_t la = strlen(a);

        while (la > 1 && a[la - 1] == '/')
                la--;
        while (*b == '/')
                b++;
        if (la == 1 && a[0] == '/')
                return strprintf("/%s", b);
        return strprintf("%.*s/%s", (int) la, a, b);
}

bool path_is_normalized_absolute(const char *p) {
        if (!p || p[0] != '/')
                return false;
        if (p[1] == 0)
                return true;
        for (const char *c = p + 1;;) {
                size_t n = strcspn(c, "/");

                if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
                        return false;
                if (!c[n])
                        return true;
                c += n + 1;
        }
}

bool path_is_below(const char *path, const char *dir) {
        size_t n = strlen(dir);

        if (n == 1 && dir[0] == '/')
                return path[0] == '/' && path[1] != 0;
        return strncmp(path, dir, n) == 0 && path[n] == '/' && path[n + 1] != 0;
}

/* Removes everything in the directory dfd (taken: closed here), relative to it, so no path ever
 * gets long: a tree deeper than PATH_MAX is removed too. One fd per level. */
static int rm_rf_children(int dfd, unsigned depth) {
        DIR *d;
        struct dirent *de;
        int r = 0;

        if (depth > 256) {
                close(dfd);
                return -ELOOP;
        }
        d = fdopendir(dfd);
        if (!d) {
                r = -errno;
                close(dfd);
                return r;
        }
        while ((de = readdir(d))) {
                struct stat st;
                int k = 0;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        k = errno == ENOENT ? 0 : -errno;
                else if (S_ISDIR(st.st_mode)) {
                        int sub = openat(dirfd(d), de->d_name,
                                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

                        k = sub < 0 ? -errno : rm_rf_children(sub, depth + 1);
                        if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0 && k == 0 && errno != ENOENT)
                                k = -errno;
                } else if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT)
                        k = -errno;
                if (k < 0 && r == 0)
                        r = k;
        }
        closedir(d);
        return r;
}

int rm_rf(const char *path) {
        struct stat st;
        int fd, r;

        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISDIR(st.st_mode))
                return unlink(path) < 0 ? -errno : 0;
        fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = rm_rf_children(fd, 0);
        if (rmdir(path) < 0 && r == 0)
                r = -errno;
        return r;
}

bool file_exists(const char *path) {
        return access(path, F_OK) == 0;
}

int lock_pid_file(const char *path, pid_t *ret_holder) {
        _cleanup_close_ int fd = -EBADF;
        char buf[32];
        int n;

        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
        if (fd < 0)
                return -errno;
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                int r = errno == EWOULDBLOCK ? -EBUSY : -errno;
                ssize_t k;

                if (r == -EBUSY && ret_holder) {
                        k = pread(fd, buf, sizeof(buf) - 1, 0);
                        buf[k > 0 ? k : 0] = 0;
                        *ret_holder = (pid_t) strtol(buf, NULL, 10);
                }
                return r;
        }
        n = snprintf(buf, sizeof(buf), "%ld\n", (long) getpid());
        if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t) n, 0) != n)
                return -errno;
        return TAKE_FD(fd);
}

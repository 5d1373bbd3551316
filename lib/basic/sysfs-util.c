#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "string-util.h"
#include "sysfs-util.h"

char *sysfs_path(const char *root, const char *rel) {
        return path_join(isempty(root) ? "/" : root, rel);
}

int sysfs_read_string(const char *root, const char *rel, char **ret) {
        _cleanup_free_ char *p = sysfs_path(root, rel), *line = NULL;
        char *s;
        int r;

        if (!p)
                return -ENOMEM;
        r = read_one_line_file(p, &line);
        if (r < 0)
                return r;
        s = strstrip(line);
        if (s != line)
                memmove(line, s, strlen(s) + 1);
        *ret = TAKE_PTR(line);
        return 0;
}

int sysfs_read_i64(const char *root, const char *rel, int64_t *ret) {
        _cleanup_free_ char *s = NULL;
        long long v;
        char *e;
        int r;

        r = sysfs_read_string(root, rel, &s);
        if (r < 0)
                return r;
        if (isempty(s))
                return -EINVAL;
        errno = 0;
        v = strtoll(s, &e, 0);
        if (errno == ERANGE)
                return -ERANGE;
        if (*e)
                return -EINVAL;
        *ret = v;
        return 0;
}

int sysfs_read_link_basename(const char *root, const char *rel, char **ret) {
        _cleanup_free_ char *p = sysfs_path(root, rel);
        char buf[PATH_MAX];
        const char *b;
        ssize_t n;

        if (!p)
                return -ENOMEM;
        n = readlink(p, buf, sizeof(buf) - 1);
        if (n < 0)
                return -errno;
        buf[n] = 0;
        b = strrchr(buf, '/');
        b = b ? b + 1 : buf;
        if (isempty(b))
                return -EINVAL;
        *ret = strdup(b);
        return *ret ? 0 : -ENOMEM;
}

int sysfs_write_string(const char *root, const char *rel, const char *value) {
        _cleanup_free_ char *p = sysfs_path(root, rel);

        if (!p)
                return -ENOMEM;
        return write_string_file(p, value, 0);
}

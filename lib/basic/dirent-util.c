#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dirent-util.h"
#include "macro.h"
#include "string-util.h"

static inline void closedirp(DIR **d) {
        if (*d)
                closedir(*d);
}

static int compare_strings(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int dir_list_names(const char *path, char ***ret) {
        _cleanup_(closedirp) DIR *d = NULL;
        _cleanup_strv_free_ char **names = NULL;
        size_t n = 0, allocated = 0;
        struct dirent *de;

        d = opendir(path);
        if (!d)
                return -errno;

        for (;;) {
                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0)
                                return -errno;
                        break;
                }
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;

                /* Grow geometrically rather than through strv_push(), which reallocates (and
                 * walks the vector) for every entry: sysfs directories can be large. */
                if (n + 2 > allocated) {
                        size_t a = MAX(allocated * 2, (size_t) 16);
                        char **t = realloc(names, a * sizeof(char *));

                        if (!t)
                                return -ENOMEM;
                        names = t;
                        allocated = a;
                }
                names[n] = strdup(de->d_name);
                if (!names[n])
                        return -ENOMEM;
                names[++n] = NULL;
        }

        if (!names) {
                names = calloc(1, sizeof(char *));
                if (!names)
                        return -ENOMEM;
        }
        qsort(names, n, sizeof(char *), compare_strings);
        *ret = TAKE_PTR(names);
        return 0;
}

#pragma once

/* Removable media and the bundles on them, for the Bundles screen: every mounted filesystem of a
 * block device whose sysfs says it is removable (a USB stick), plus directories given with
 * --media DIR (tests, the sandbox); in each, the .ark files at the top and one directory down. */

#include <stddef.h>

typedef struct MediaList {
        char **files; /* absolute paths, sorted */
        size_t n;
        char **roots; /* where they were looked for */
} MediaList;

void media_done(MediaList *l);
/* sysfs_root: "/" normally. extra: NULL-terminated directories to look in too. */
int media_scan(MediaList *l, const char *sysfs_root, char *const *extra);

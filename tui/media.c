/* Removable media (media.h). */

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "media.h"
#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"

void media_done(MediaList *l) {
        l->files = strv_free(l->files);
        l->roots = strv_free(l->roots);
        l->n = 0;
}

/* Whether the block device /dev/<name> (or the disk it is a partition of) is removable. */
static bool removable(const char *sysfs_root, const char *name) {
        _cleanup_free_ char *p = strprintf("%s/sys/class/block/%s/removable", sysfs_root, name), *v = NULL,
                            *parent = strprintf("%s/sys/class/block/%s/../removable", sysfs_root, name);

        if (p && read_one_line_file(p, &v) >= 0)
                return streq(v, "1");
        v = mfree(v);
        return parent && read_one_line_file(parent, &v) >= 0 && streq(v, "1");
}

static int add_arks(MediaList *l, const char *dir, unsigned depth) {
        DIR *d = opendir(dir);
        struct dirent *de;

        if (!d)
                return 0;
        while ((de = readdir(d))) {
                _cleanup_free_ char *p = NULL;
                struct stat st;

                if (de->d_name[0] == '.')
                        continue;
                p = path_join(dir, de->d_name);
                if (!p || stat(p, &st) < 0)
                        continue;
                if (S_ISDIR(st.st_mode) && depth == 0)
                        (void) add_arks(l, p, 1);
                else if (S_ISREG(st.st_mode) && endswith(de->d_name, ".ark") &&
                         strv_extend(&l->files, p) < 0) {
                        closedir(d);
                        return -ENOMEM;
                }
        }
        closedir(d);
        return 0;
}

int media_scan(MediaList *l, const char *sysfs_root, char *const *extra) {
        FILE *f;
        char line[4096];

        media_done(l);
        for (char *const *e = extra; e && *e; e++)
                if (strv_extend(&l->roots, *e) < 0)
                        return -ENOMEM;
        /* Mounted filesystems of removable block devices: "/dev/sdb1 /media/usb ..." */
        f = fopen("/proc/self/mounts", "re");
        while (f && fgets(line, sizeof(line), f)) {
                char dev[512], mnt[2048];

                if (sscanf(line, "%511s %2047s", dev, mnt) != 2 || !startswith(dev, "/dev/"))
                        continue;
                if (removable(sysfs_root, dev + 5) && !strv_contains(l->roots, mnt) &&
                    strv_extend(&l->roots, mnt) < 0) {
                        fclose(f);
                        return -ENOMEM;
                }
        }
        if (f)
                fclose(f);
        for (char **r = l->roots; r && *r; r++)
                if (add_arks(l, *r, 0) < 0)
                        return -ENOMEM;
        strv_sort(l->files);
        l->n = strv_length(l->files);
        return 0;
}

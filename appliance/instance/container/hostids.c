/* Host IDs containers get, against the host's accounts; see hostids.h. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "hostids.h"

/* Each line of `path`: "name:x:ID:..." (passwd, group: field 3) or "name:start:count" (subuid,
 * subgid). */
static int check_file(const char *path, bool ranges, uint32_t base, char **ret_error) {
        _cleanup_free_ char *text = NULL;
        char *save = NULL;
        int r;

        if (!path)
                return 0;
        r = read_full_file(path, &text, NULL);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return set_error_sentence(ret_error, r, "Cannot read %s: %s.", path, strerror(-r));
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *f[4] = {}, *p = line;
                unsigned long long a, b = 1;
                char *end;

                if (*line == '#' || !*line)
                        continue;
                for (unsigned k = 0; k < 4 && p; k++) {
                        f[k] = p;
                        p = strchr(p, ':');
                        if (p)
                                *p++ = 0;
                }
                if (!f[2] || (!ranges && !f[3]))
                        continue;
                a = strtoull(ranges ? f[1] : f[2], &end, 10);
                if (*end)
                        continue;
                if (ranges) {
                        b = strtoull(f[2], &end, 10);
                        if (*end || b == 0)
                                continue;
                }
                if (a + b - 1 >= base)
                        return set_error_sentence(
                                ret_error, -EEXIST,
                                ranges ? "%s gives '%s' IDs %llu-%llu, which reach the host IDs containers get "
                                         "from %u on ([Containers] HostIdBase=): a tenant's container would "
                                         "share them"
                                       : "%s has '%s' with ID %llu%.0llu, in the host IDs containers get from %u "
                                         "on ([Containers] HostIdBase=): a tenant's container would share it",
                                path, printable(f[0]), a, ranges ? a + b - 1 : 0, base);
        }
        return 0;
}

int host_ids_check(const HostIdFiles *f, uint32_t base, char **ret_error) {
        int r;

        r = check_file(f->passwd, false, base, ret_error);
        if (r >= 0)
                r = check_file(f->group, false, base, ret_error);
        if (r >= 0)
                r = check_file(f->subuid, true, base, ret_error);
        if (r >= 0)
                r = check_file(f->subgid, true, base, ret_error);
        return r;
}

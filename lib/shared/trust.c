/* The trusted bundle keys (trust.h). */

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/perm-util.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "shared/trust.h"

static int set_error(char **ret_error, int r, char *s) {
        if (ret_error) {
                free(*ret_error);
                *ret_error = s;
        } else
                free(s);
        return s ? r : -ENOMEM;
}

/* The revoked ids, one per line. A missing list is empty. */
static int read_revoked(const char *dir, char ***ret) {
        _cleanup_free_ char *path = path_join(dir, TRUST_REVOKED_FILE), *data = NULL;
        char **l = NULL;
        size_t n = 0;
        int r;

        if (!path)
                return -ENOMEM;
        r = read_full_file(path, &data, &n);
        if (r == -ENOENT) {
                *ret = NULL;
                return 0;
        }
        if (r < 0)
                return r;
        for (char *line = data, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                line = strstrip(line);
                if (!*line || *line == '#')
                        continue;
                if (is_lower_hex(line, KEY_ID_HEX - 1) && !strv_contains(l, line) &&
                    strv_extend(&l, line) < 0) {
                        strv_free(l);
                        return -ENOMEM;
                }
        }
        *ret = l;
        return 0;
}

bool trust_is_revoked(const char *dir, const char *key_id) {
        _cleanup_(strv_freep) char **l = NULL;

        if (read_revoked(dir, &l) < 0)
                return true; /* unreadable: trust nothing */
        return strv_contains(l, key_id);
}

static char *key_path(const char *dir, const char *key_id) {
        _cleanup_free_ char *name = strprintf("%s.pub", key_id);

        return name ? path_join(dir, name) : NULL;
}

int trust_lookup(const char *dir, const char *key_id, ArkKey **ret, char **ret_error) {
        _cleanup_free_ char *path = NULL, *err = NULL;
        _cleanup_(ark_key_freep) ArkKey *k = NULL;
        _cleanup_(strv_freep) char **revoked = NULL;
        char id[KEY_ID_HEX];
        int r;

        if (!is_lower_hex(key_id, KEY_ID_HEX - 1))
                return set_error(
                        ret_error, -EINVAL,
                        strprintf("'%s' is not a key id (16 lowercase hex digits).", printable(key_id)));
        r = read_revoked(dir, &revoked);
        if (r < 0)
                return set_error(ret_error, r,
                                 strprintf("Cannot read the revocation list in %s: %s.", dir, strerror(-r)));
        if (strv_contains(revoked, key_id))
                return set_error(ret_error, -EKEYREVOKED,
                                 strprintf("The signing key %s is revoked.", key_id));
        path = key_path(dir, key_id);
        if (!path)
                return -ENOMEM;
        if (!file_exists(path))
                return set_error(
                        ret_error, -ENOKEY,
                        strprintf(
                                "The signing key %s is not trusted (no %s; see 'arkctl bundle trust add').",
                                key_id, path));
        r = ark_key_load_public(path, &k, &err);
        if (r < 0)
                return set_error(ret_error, r, TAKE_PTR(err));
        ark_key_id(k, id);
        if (!streq(id, key_id))
                return set_error(ret_error, -EBADMSG,
                                 strprintf("%s holds key %s, not %s.", path, id, key_id));
        *ret = TAKE_PTR(k);
        return 0;
}

static int compare_keys(const void *a, const void *b) {
        return strcmp(((const TrustedKey *) a)->id, ((const TrustedKey *) b)->id);
}

int trust_list(const char *dir, TrustedKey **ret, size_t *ret_n, char **ret_error) {
        _cleanup_(strv_freep) char **revoked = NULL;
        _cleanup_free_ TrustedKey *l = NULL;
        size_t n = 0, cap = 0;
        DIR *d;
        struct dirent *de;
        int r;

        r = read_revoked(dir, &revoked);
        if (r < 0)
                return set_error(ret_error, r,
                                 strprintf("Cannot read the revocation list in %s: %s.", dir, strerror(-r)));
        d = opendir(dir);
        if (!d && errno != ENOENT)
                return set_error(ret_error, -errno, strprintf("Cannot read %s: %s.", dir, strerror(errno)));
        while (d && (de = readdir(d))) {
                const char *dot = strrchr(de->d_name, '.');

                if (!dot || !streq(dot, ".pub") || (size_t) (dot - de->d_name) != KEY_ID_HEX - 1)
                        continue;
                if (n == cap) {
                        TrustedKey *nl = realloc(l, (cap = cap ? cap * 2 : 16) * sizeof(TrustedKey));

                        if (!nl) {
                                closedir(d);
                                return -ENOMEM;
                        }
                        l = nl;
                }
                l[n] = (TrustedKey) { .present = true };
                memcpy(l[n].id, de->d_name, KEY_ID_HEX - 1);
                l[n].id[KEY_ID_HEX - 1] = 0;
                if (!is_lower_hex(l[n].id, KEY_ID_HEX - 1))
                        continue;
                l[n].revoked = strv_contains(revoked, l[n].id);
                n++;
        }
        if (d)
                closedir(d);
        for (char **v = revoked; v && *v; v++) {
                bool seen = false;

                for (size_t k = 0; k < n && !seen; k++)
                        seen = streq(l[k].id, *v);
                if (seen)
                        continue;
                if (n == cap) {
                        TrustedKey *nl = realloc(l, (cap = cap ? cap * 2 : 16) * sizeof(TrustedKey));

                        if (!nl)
                                return -ENOMEM;
                        l = nl;
                }
                l[n] = (TrustedKey) { .revoked = true };
                memcpy(l[n].id, *v, KEY_ID_HEX);
                n++;
        }
        if (n > 0)
                qsort(l, n, sizeof(TrustedKey), compare_keys);
        *ret = TAKE_PTR(l);
        *ret_n = n;
        return 0;
}

/* Keys and the revocation list are public: readable by every user (a non-root 'arkctl bundle
 * verify' reads them), whatever the writer's umask (arkd's is 0077). */
static int write_public_file(const char *path, const char *text) {
        int r = write_string_file(path, text, WRITE_CREATE | WRITE_ATOMIC);

        if (r >= 0 && chmod(path, 0644) < 0)
                r = -errno;
        return r;
}

int trust_add(const char *dir, const char *name, const char *pem, size_t n, char ret_id[static KEY_ID_HEX],
              char **ret_error) {
        _cleanup_(ark_key_freep) ArkKey *k = NULL;
        _cleanup_free_ char *err = NULL, *path = NULL, *text = NULL;
        char id[KEY_ID_HEX];
        int r;

        r = ark_key_parse_public(name, pem, n, &k, &err);
        if (r < 0)
                return set_error(ret_error, r, TAKE_PTR(err));
        ark_key_id(k, id);
        if (trust_is_revoked(dir, id))
                return set_error(ret_error, -EKEYREVOKED,
                                 strprintf("The key %s is revoked; it cannot be trusted again.", id));
        path = key_path(dir, id);
        if (!path)
                return -ENOMEM;
        if (file_exists(path))
                return set_error(ret_error, -EEXIST,
                                 strprintf("The key %s is already trusted (%s).", id, path));
        r = mkdir_p_mode(dir, 0755);
        if (r < 0)
                return set_error(ret_error, r, strprintf("Cannot create %s: %s.", dir, strerror(-r)));
        /* Written as we print it: the comment line names the id. */
        r = ark_key_public_pem(k, &text);
        if (r < 0)
                return r;
        r = write_public_file(path, text);
        if (r < 0)
                return set_error(ret_error, r, strprintf("Cannot write %s: %s.", path, strerror(-r)));
        memcpy(ret_id, id, KEY_ID_HEX);
        return 0;
}

int trust_remove(const char *dir, const char *key_id, char **ret_error) {
        _cleanup_free_ char *path = NULL;

        if (!is_lower_hex(key_id, KEY_ID_HEX - 1))
                return set_error(
                        ret_error, -EINVAL,
                        strprintf("'%s' is not a key id (16 lowercase hex digits).", printable(key_id)));
        path = key_path(dir, key_id);
        if (!path)
                return -ENOMEM;
        if (unlink(path) < 0) {
                if (errno == ENOENT)
                        return set_error(ret_error, -ENOENT, strprintf("No trusted key %s.", key_id));
                return set_error(ret_error, -errno,
                                 strprintf("Cannot remove %s: %s.", path, strerror(errno)));
        }
        return 0;
}

int trust_revoke(const char *dir, const char *key_id, char **ret_error) {
        _cleanup_(strv_freep) char **revoked = NULL;
        _cleanup_free_ char *path = NULL, *joined = NULL, *text = NULL;
        int r;

        if (!is_lower_hex(key_id, KEY_ID_HEX - 1))
                return set_error(
                        ret_error, -EINVAL,
                        strprintf("'%s' is not a key id (16 lowercase hex digits).", printable(key_id)));
        r = read_revoked(dir, &revoked);
        if (r < 0)
                return set_error(ret_error, r,
                                 strprintf("Cannot read the revocation list in %s: %s.", dir, strerror(-r)));
        if (strv_contains(revoked, key_id))
                return set_error(ret_error, -EALREADY, strprintf("The key %s is already revoked.", key_id));
        if (strv_extend(&revoked, key_id) < 0)
                return -ENOMEM;
        strv_sort(revoked);
        joined = strv_join(revoked, "\n");
        text = joined ? strprintf("# Revoked bundle signing keys, one key id per line.\n%s\n", joined)
                      : NULL;
        path = path_join(dir, TRUST_REVOKED_FILE);
        if (!text || !path)
                return -ENOMEM;
        r = mkdir_p_mode(dir, 0755);
        if (r >= 0)
                r = write_public_file(path, text);
        if (r < 0)
                return set_error(ret_error, r, strprintf("Cannot write %s: %s.", path, strerror(-r)));
        return 0;
}

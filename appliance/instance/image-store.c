/* What a caller may name on the host; see image-store.h. */

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/parse-util.h"
#include "basic/string-util.h"
#include "image-store.h"
#include "manager.h"
#include "shared/bus-util.h"

static bool store_name_is_valid(const char *s) {
        if (isempty(s) || strlen(s) > 255 || s[0] == '.')
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      *p == '.' || *p == '_' || *p == '-'))
                        return false;
        return true;
}

/* Where a file of the store may lead: into the tenant's own directory `own` (NULL: none), or into
 * the shared part of canonical `root`, never into another tenant's (root/tenants/...). */
static bool store_target_allowed(const char *real, const char *root, const char *own) {
        _cleanup_free_ char *tenants = path_join(root, "tenants");

        if (own && path_is_below(real, own))
                return true;
        return tenants && path_is_below(real, root) && !path_is_below(real, tenants);
}

/* The canonical form of `path` when it is a usable file that store_target_allowed(); NULL
 * otherwise (why in *ret_reason). */
static char *canonical_below(const char *path, const char *root, const char *own, const char **ret_reason) {
        _cleanup_free_ char *real = realpath(path, NULL);
        struct stat st;

        if (!real) {
                *ret_reason = errno == ENOENT ? "it does not exist" : "it cannot be resolved";
                return NULL;
        }
        if (!store_target_allowed(real, root, own)) {
                *ret_reason = "it is a link that leads out of the directory";
                return NULL;
        }
        if (stat(real, &st) < 0 || (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))) {
                *ret_reason = "it is not a regular file";
                return NULL;
        }
        if (access(real, R_OK) < 0) {
                *ret_reason = "arkd cannot read it";
                return NULL;
        }
        return TAKE_PTR(real);
}

/* Looks for `name` in directory dir of the store (canonical root): 1 with *ret set when it is there
 * and usable, 0 when it is not there, or a negative errno with `error` set. */
static int store_lookup(const char *root, const char *dir, const char *field, const char *name, char **ret,
                        sd_bus_error *error) {
        _cleanup_free_ char *path = path_join(dir, name);
        const char *reason = NULL;

        if (!path)
                return -ENOMEM;
        if (!file_exists(path))
                return 0;
        *ret = canonical_below(path, root, streq(dir, root) ? NULL : dir, &reason);
        if (!*ret)
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "%s '%s' of the image store cannot be used: %s.", field, name,
                                         reason);
        return 1;
}

static int resolve_store_name(Manager *m, const char *tenant, const char *field, const char *name,
                              char **ret, sd_bus_error *error) {
        _cleanup_free_ char *store = manager_state_path(m, "images"), *root = NULL, *own = NULL;
        int r = 0;

        if (!store)
                return -ENOMEM;
        if (!store_name_is_valid(name))
                return sd_bus_error_setf(
                        error, ARK_ERROR_INVALID_ARGUMENT,
                        "%s '%.80s' is not a valid image store name (letters, digits, '.', '_', '-'; "
                        "not starting with '.').",
                        field, name);
        root = realpath(store, NULL);
        /* The tenant's own first, then the shared ones. */
        if (root && tenant && ark_name_is_valid(tenant)) {
                own = strprintf("%s/tenants/%s", root, tenant);
                if (!own)
                        return -ENOMEM;
                r = store_lookup(root, own, field, name, ret, error);
        }
        if (root && r == 0)
                r = store_lookup(root, root, field, name, ret, error);
        if (r != 0)
                return r < 0 ? r : 0;
        return sd_bus_error_setf(
                error, ARK_ERROR_NOT_FOUND,
                "%s '%s' is not in the image store (an admin puts shared images in %s/ and tenant '%s' "
                "images in %s/tenants/%s/).",
                field, name, store, strempty(tenant), store, strempty(tenant));
}

static int resolve_admin_path(Manager *m, const char *field, const char *path, char **ret,
                              sd_bus_error *error) {
        _cleanup_free_ char *state = NULL, *store = NULL;
        const char *reason = NULL;
        char **dirs = m->config.image_admin_dirs;

        /* Compared as text first, so that nothing about a path outside the directories (not even
         * whether it exists) shows in the answer. */
        if (path_is_normalized_absolute(path))
                for (char **d = dirs; d && *d; d++) {
                        _cleanup_free_ char *root = NULL;
                        char *p;

                        if (!path_is_below(path, *d))
                                continue;
                        root = realpath(*d, NULL);
                        if (!root)
                                return sd_bus_error_setf(
                                        error, ARK_ERROR_INVALID_ARGUMENT,
                                        "%s '%.200s' cannot be used: directory %s of [Images] "
                                        "AdminDirectories= does not exist.",
                                        field, path, *d);
                        p = canonical_below(path, root, root,
                                            &reason); /* anything below an admin directory */
                        if (!p)
                                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                                         "%s '%.200s' cannot be used: %s.", field, path,
                                                         reason);
                        /* arkd's own state (other instances' disks, the store, bundles) is never a
                         * base image, whatever the configuration says; the image store is. */
                        state = realpath(m->config.state_dir, NULL);
                        store = state ? path_join(state, "images") : NULL;
                        if (state && (streq(p, state) || path_is_below(p, state)) &&
                            !(store && path_is_below(p, store))) {
                                free(p);
                                return sd_bus_error_setf(
                                        error, ARK_ERROR_INVALID_ARGUMENT,
                                        "%s '%.200s' cannot be used: it is part of arkd's state.", field,
                                        path);
                        }
                        *ret = p;
                        return 0;
                }
        if (strv_length(dirs) == 0)
                return sd_bus_error_setf(
                        error, ARK_ERROR_INVALID_ARGUMENT,
                        "%s '%.200s' is a path: give the name of a file in the image store, or set "
                        "[Images] AdminDirectories= to allow paths below a directory.",
                        field, path);
        return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                 "%s '%.200s' is not a normalized path below a directory of [Images] "
                                 "AdminDirectories=.",
                                 field, path);
}

int image_store_resolve(Manager *m, const char *tenant, bool admin, const char *field, const char *value,
                        char **ret, sd_bus_error *error) {
        if (isempty(value))
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT, "%s may not be empty.", field);
        if (!strchr(value, '/'))
                return resolve_store_name(m, tenant, field, value, ret, error);
        if (!admin)
                /* The same words for every path, existing or not. */
                return sd_bus_error_setf(
                        error, ARK_ERROR_INVALID_ARGUMENT,
                        "%s must be the name of a file in the image store: only admins may give a "
                        "path.",
                        field);
        return resolve_admin_path(m, field, value, ret, error);
}

/* The usable files of directory `dir` (below canonical `root`), sorted, each handed to fn. */
static int store_list_dir(const char *root, const char *dir, const char *scope, ImageStoreFn fn,
                          void *userdata) {
        struct dirent **names = NULL;
        int n, r = 0;

        n = scandir(dir, &names, NULL, alphasort);
        if (n < 0)
                return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
        for (int k = 0; k < n; k++) {
                _cleanup_free_ char *path = NULL, *real = NULL;
                const char *reason = NULL;
                struct stat st;

                /* What image_store_resolve() would take: a regular file or a block device. */
                if (r >= 0 && store_name_is_valid(names[k]->d_name) &&
                    (path = path_join(dir, names[k]->d_name)) &&
                    (real = canonical_below(path, root, streq(dir, root) ? NULL : dir, &reason)) &&
                    stat(real, &st) >= 0 && (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)))
                        r = fn(names[k]->d_name, scope, (uint64_t) st.st_size, userdata);
                free(names[k]);
        }
        free(names);
        return r;
}

int image_store_foreach(Manager *m, const char *tenant, ImageStoreFn fn, void *userdata) {
        _cleanup_free_ char *store = manager_state_path(m, "images"), *root = NULL, *dir = NULL;

        if (!store)
                return -ENOMEM;
        if (tenant && !ark_name_is_valid(tenant))
                return -EINVAL;
        root = realpath(store, NULL);
        if (!root)
                return errno == ENOENT ? 0 : -errno;
        dir = tenant ? strprintf("%s/tenants/%s", root, tenant) : strdup(root);
        if (!dir)
                return -ENOMEM;
        return store_list_dir(root, dir, strempty(tenant), fn, userdata);
}

/* Bundles in arkd (bundles.h): the objects, loading them at start-up with the cleanup of what a
 * crash left, and deletion. Imports are in bundle-import.c, the D-Bus side in bundles-dbus.c. */

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "access.h"
#include "bundles.h"
#include "image.h"
#include "instance.h"
#include "manager.h"
#include "store.h"
#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "shared/bus-util.h"
#include "shared/db.h"
#include "shared/oci-image.h"

#define SHARED_DIR "@shared" /* the tenant directory of shared bundles; no tenant name has '@' */

static void closedirp(DIR **d) {
        if (*d)
                closedir(*d);
}

Bundle *bundle_free(Bundle *b) {
        if (!b)
                return NULL;
        free(b->kind);
        free(b->tenant);
        free(b->name);
        free(b->version);
        free(b->key_id);
        free(b->sha256);
        free(b->directory);
        manifest_free(b->manifest);
        free(b->manifest_text);
#if IS_ENABLED(CONFIG_CONTAINERS)
        oci_image_free(b->oci_image);
#endif
        free(b->path);
        free(b);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(Bundle, bundle_free);

int bundle_new(Manager *m, const StoreBundle *s, Bundle **ret) {
        _cleanup_(bundle_freep) Bundle *b = calloc(1, sizeof(Bundle));
        _cleanup_free_ char *err = NULL, *id = NULL;
        int r;

        if (!b)
                return -ENOMEM;
        *b = (Bundle) { .manager = m,
                        .id = s->id,
                        .size_bytes = s->size_bytes,
                        .imported_usec = s->imported_usec,
                        .imported_uid = s->imported_uid,
                        .files = s->files };
        b->kind = strdup(s->kind);
        b->tenant = s->tenant ? strdup(s->tenant) : NULL;
        b->name = strdup(s->name);
        b->version = strdup(s->version);
        b->key_id = strdup(s->key_id);
        b->sha256 = strdup(s->sha256);
        b->directory = strdup(s->directory);
        b->manifest_text = strdup(s->manifest);
        id = strprintf("%" PRId64, s->id);
        if (!b->kind || (s->tenant && !b->tenant) || !b->name || !b->version || !b->key_id || !b->sha256 ||
            !b->directory || !b->manifest_text || !id)
                return -ENOMEM;
        r = sd_bus_path_encode(ARK_BUS_PREFIX_BUNDLE, id, &b->path);
        if (r < 0)
                return r;
        r = manifest_parse(b->manifest_text, strlen(b->manifest_text), &b->manifest, &err);
        if (r < 0)
                return log_error_errno(r, "The store's manifest of bundle %s %s is unreadable: %s", b->name,
                                       b->version, strna(err));
        *ret = TAKE_PTR(b);
        return 0;
}

unsigned bundle_count_for_tenant(Manager *m, const char *tenant) {
        unsigned n = 0;

        LIST_FOREACH(bundles, b, m->bundles)
                n += streq_ptr(b->tenant, tenant);
        return n;
}

Bundle *bundle_by_id(Manager *m, int64_t id) {
        LIST_FOREACH(bundles, b, m->bundles)
                if (b->id == id)
                        return b;
        return NULL;
}

int bundle_find_model(Manager *m, const char *tenant, const char *spec, Bundle **ret, sd_bus_error *error) {
        _cleanup_free_ char *name = strdup(spec);
        const char *version = NULL;
        Bundle *found = NULL;
        StrBuf versions = {};
        unsigned hits = 0;
        char *at;

        if (!name)
                return -ENOMEM;
        at = strchr(name, '@');
        if (at) {
                *at = 0;
                version = at + 1;
        }
        if (manifest_check_name(name) || (version && manifest_check_version(version)))
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "Model '%s' is not NAME or NAME@VERSION of an imported model.",
                                         printable(spec));
        /* The tenant's own models first: they shadow a shared one of the same name and version. */
        for (int pass = 0; pass < 2 && hits == 0; pass++)
                LIST_FOREACH(bundles, b, m->bundles) {
                        if (!streq(b->kind, "model") || !streq(b->name, name) ||
                            (version && !streq(b->version, version)))
                                continue;
                        if (pass == 0 ? !streq_ptr(b->tenant, tenant) : b->tenant != NULL)
                                continue;
                        strbuf_printf(&versions, "%s%s", hits ? ", " : "", b->version);
                        found = b;
                        hits++;
                }
        if (hits == 1) {
                strbuf_done(&versions);
                *ret = found;
                return 0;
        }
        if (hits == 0) {
                strbuf_done(&versions);
                return sd_bus_error_setf(
                        error, ARK_ERROR_NOT_FOUND,
                        "Tenant '%s' has no model '%s'%s%s (see 'arkctl model list'; import it with "
                        "'arkctl bundle import').",
                        tenant, name, version ? " version " : "", strempty(version));
        }
        {
                _cleanup_free_ char *v = strbuf_steal(&versions);
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "Model '%s' has versions %s; say which (Model '%s@VERSION').", name,
                                         strna(v), name);
        }
}

Bundle *bundle_find(Manager *m, const char *kind, const char *tenant, const char *name,
                    const char *version) {
        LIST_FOREACH(bundles, b, m->bundles)
                if (streq(b->kind, kind) && streq_ptr(b->tenant, tenant) && streq(b->name, name) &&
                    streq(b->version, version))
                        return b;
        return NULL;
}

char *bundle_directory(Manager *m, const char *kind, const char *tenant, const char *name,
                       const char *version) {
        return strprintf("%s/bundles/%s/%s/%s/%s", m->config.state_dir, kind, tenant ?: SHARED_DIR, name,
                         version);
}

static int load_one(const StoreBundle *s, void *userdata) {
        Manager *m = userdata;
        Bundle *b = NULL;
        char *dir;
        int r = bundle_new(m, s, &b);

        if (r < 0)
                return r;
        /* Where it is under this state directory, however that is spelled today (moved, a trailing
         * '/', a symbolic link): the stored path is what it was at import. */
        dir = bundle_directory(m, b->kind, b->tenant, b->name, b->version);
        if (!dir) {
                bundle_free(b);
                return -ENOMEM;
        }
        free(b->directory);
        b->directory = dir;
        LIST_PREPEND(bundles, m->bundles, b);
        if (!file_exists(b->directory))
                log_warning("Bundle %s %s %s is recorded but its directory %s is gone.", b->kind, b->name,
                            b->version, b->directory);
        return 0;
}

/* Removes the name and tenant directories above a bundle's directory that are empty now. */
static void remove_empty_parents(const char *dir) {
        _cleanup_free_ char *p = strdup(dir);

        for (int k = 0; p && k < 2; k++) {
                char *slash = strrchr(p, '/');

                if (!slash)
                        break;
                *slash = 0;
                if (rmdir(p) < 0)
                        break;
        }
}

/* Removes whatever under <state>/bundles/<kind>/<tenant>/<name>/<version> the store does not know. */
static void remove_unrecorded(Manager *m) {
        static const char *const kinds[] = { "model", "image", "update", "container-image" };

        for (size_t k = 0; k < ELEMENTSOF(kinds); k++) {
                _cleanup_free_ char *kdir = strprintf("%s/bundles/%s", m->config.state_dir, kinds[k]);
                _cleanup_(closedirp) DIR *d1 = kdir ? opendir(kdir) : NULL;
                struct dirent *t;

                while (d1 && (t = readdir(d1))) {
                        _cleanup_free_ char *tdir = NULL;
                        _cleanup_(closedirp) DIR *d2 = NULL;
                        struct dirent *n;

                        if (t->d_name[0] == '.')
                                continue;
                        tdir = path_join(kdir, t->d_name);
                        d2 = tdir ? opendir(tdir) : NULL;
                        while (d2 && (n = readdir(d2))) {
                                _cleanup_free_ char *ndir = NULL;
                                _cleanup_(closedirp) DIR *d3 = NULL;
                                struct dirent *v;

                                if (n->d_name[0] == '.')
                                        continue;
                                ndir = path_join(tdir, n->d_name);
                                d3 = ndir ? opendir(ndir) : NULL;
                                while (d3 && (v = readdir(d3))) {
                                        _cleanup_free_ char *vdir = NULL;
                                        bool known = false;

                                        if (v->d_name[0] == '.')
                                                continue;
                                        vdir = path_join(ndir, v->d_name);
                                        /* By its names, not its path's spelling. */
                                        LIST_FOREACH(bundles, b, m->bundles)
                                                known = known ||
                                                        (streq(b->kind, kinds[k]) &&
                                                         streq(b->tenant ?: SHARED_DIR, t->d_name) &&
                                                         streq(b->name, n->d_name) &&
                                                         streq(b->version, v->d_name));
                                        if (vdir && !known) {
                                                log_warning(
                                                        "Removing %s: no bundle in the store installed it (an import "
                                                        "cut short by a crash).",
                                                        vdir);
                                                (void) rm_rf(vdir);
                                                (void) rmdir(ndir);
                                                (void) rmdir(tdir);
                                        }
                                }
                        }
                }
        }
}

int bundles_startup(Manager *m) {
        _cleanup_free_ char *staging = strprintf("%s/bundles/staging", m->config.state_dir);
        int r;

        if (!staging)
                return -ENOMEM;
        r = store_bundle_foreach(m->db, load_one, m);
        if (r < 0)
                return log_error_errno(r, "Failed to load bundles from the store: %s", db_errmsg(m->db));
        if (file_exists(staging)) {
                _cleanup_(closedirp) DIR *d = opendir(staging);
                struct dirent *de;
                unsigned n = 0;

                while (d && (de = readdir(d)))
                        n += de->d_name[0] != '.';
                if (n > 0)
                        log_notice("Removing %u staging director%s left by imports that did not finish.", n,
                                   n == 1 ? "y" : "ies");
                r = rm_rf(staging);
                if (r < 0)
                        log_warning_errno(r, "Failed to remove %s: %m", staging);
        }
        remove_unrecorded(m);
#if IS_ENABLED(CONFIG_CONTAINERS)
        r = container_layers_startup(m);
        if (r < 0)
                return r;
#endif
        return 0;
}

void bundles_free_all(Manager *m) {
        LIST_FOREACH_SAFE(bundles, b, n, m->bundles) {
                LIST_REMOVE(bundles, m->bundles, b);
                bundle_free(b);
        }
}

int bundle_delete(Bundle *b, const Caller *c, sd_bus_error *error) {
        _cleanup_transaction_ DbTransaction tx = {};
        _cleanup_free_ char *trash = NULL, *staging_root = NULL, *path = NULL;
        Manager *m = b->manager;
        bool container_image _unused_ = streq(b->kind, "container-image");
        int r;

#if IS_ENABLED(CONFIG_CONTAINERS)
        if (container_image) {
                r = container_image_in_use(m, b, c, error);
                if (r < 0)
                        return r;
        }
#endif
        {
                StrBuf users = {};
                unsigned n = 0;

                LIST_FOREACH(instances, i, m->instances)
                        if (i->model_id == b->id) {
                                /* Another tenant's instance is not named to this caller. */
                                if (caller_in_tenant_named(m, c, i->tenant))
                                        strbuf_printf(&users, "%s'%s'", users.len > 0 ? ", " : "", i->name);
                                n++;
                        }
                if (n > 0) {
                        _cleanup_free_ char *l = strbuf_steal(&users);
                        _cleanup_free_ char *named = isempty(l) ? strdup("") : strprintf(" (%s)", l);

                        return sd_bus_error_setf(error, ARK_ERROR_IN_USE,
                                                 "%s %s %s is used by %u instance%s%s; delete %s first.",
                                                 b->kind, b->name, b->version, n, n == 1 ? "" : "s",
                                                 strempty(named), n == 1 ? "it" : "them");
                }
        }
        /* Forgotten by the store first: from then on its directory is one the store does not know,
         * which the next start removes should this be cut short. Then out of sight at once (one
         * rename into staging), then removed. */
        /* The call's result, before the commit that writes its audit row (audit.c). */
        free(m->call_pending);
        m->call_pending = strprintf("ok: deleted %s %s %s%s%s, bundle sha256 %s, key %s", b->kind, b->name,
                                    b->version, b->tenant ? " of tenant " : " (shared)", strempty(b->tenant),
                                    b->sha256, b->key_id);
        r = db_transaction_begin(m->db, &tx);
        if (r >= 0)
                r = store_bundle_delete(m->db, b->id);
        if (r >= 0)
                r = db_transaction_commit(&tx);
        if (r < 0) {
                m->call_pending = mfree(m->call_pending);
                return manager_store_error(m, error, r, "Cannot delete %s %s from the store", b->name,
                                           b->version);
        }
        staging_root = strprintf("%s/bundles/staging", m->config.state_dir);
        trash = staging_root ? strprintf("%s/delete-XXXXXX", staging_root) : NULL;
        if (trash && mkdir_p(staging_root, 0700) >= 0 && mkdtemp(trash) && rename(b->directory, trash) >= 0)
                (void) rm_rf(trash);
        else {
                log_warning_errno(errno ? -errno : -ENOMEM,
                                  "Cannot move %s out of the way (%m); it goes at the next start.",
                                  b->directory);
                if (trash)
                        (void) rmdir(trash);
        }
        remove_empty_parents(b->directory);
        log_info("Deleted %s %s %s%s%s.", b->kind, b->name, b->version,
                 b->tenant ? " of tenant " : " (shared)", strempty(b->tenant));
        path = strdup(b->path);
        (void) sd_bus_emit_signal(m->bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "BundleRemoved", "so",
                                  b->name, strempty(path));
        (void) sd_bus_emit_object_removed(m->bus, b->path);
        LIST_REMOVE(bundles, m->bundles, b);
        bundle_free(b);
#if IS_ENABLED(CONFIG_CONTAINERS)
        /* Its layers go unless another image has them. */
        if (container_image)
                container_layers_gc(m);
#endif
        return 0;
}

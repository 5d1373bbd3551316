/* Bundles in arkd (bundles.h). */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "api-guard.h"
#include "access.h"
#include "audit.h"
#include "bundles.h"
#include "instance.h"
#include "manager.h"
#include "store.h"
#include "tenant.h"
#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/macro.h"
#include "basic/parse-util.h"
#include "basic/string-util.h"
#include "basic/time-util.h"
#include "shared/bundle.h"
#include "shared/bus-util.h"
#include "shared/db.h"
#include "shared/trust.h"

static void closedirp(DIR **d) {
        if (*d)
                closedir(*d);
}

#define SHARED_DIR "@shared"
#define IMPORTS_MAX 4           /* at once, in all */
#define IMPORTS_PER_USER_MAX 2  /* for a tenant member */    /* the tenant directory of shared bundles; no tenant name has '@' */

struct Import {
        Manager *manager;
        uint32_t id;
        sd_bus_message *call;
        uint32_t uid;
        char *who, *sender;
        char *tenant;                   /* NULL = shared */
        char *name;                     /* for messages: what the caller called the file */
        char *staging;
        int fd, staging_fd, event_fd;
        sd_event_source *event_source;
        pthread_t thread;
        bool thread_started;
        _Atomic uint64_t reserved;      /* of Manager.import_reserved, once admitted */
        uint64_t start_usec;
        _Atomic uint64_t done, total;
        atomic_bool cancel, finished;
        /* Written by the thread, read after it was joined. */
        int result;
        char *error;
        BundleResult res;
        LIST_FIELDS(Import, imports);
};

/* ------------------------------------------------------------------------------ trust */

static int trust_error(sd_bus_error *error, int r, const char *sentence) {
        const char *name = r == -EEXIST || r == -EALREADY ? ARK_ERROR_ALREADY_EXISTS
                           : r == -ENOENT                   ? ARK_ERROR_NOT_FOUND
                           : r == -EINVAL || r == -EKEYREVOKED || r == -EPROTONOSUPPORT ? ARK_ERROR_INVALID_ARGUMENT
                                                                                        : NULL;

        if (!name)
                return sd_bus_error_setf(error, SD_BUS_ERROR_FAILED, "%s", sentence ?: strerror(-r));
        return sd_bus_error_setf(error, name, "%s", sentence ?: strerror(-r));
}

int method_trust_key(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        _cleanup_free_ char *err = NULL;
        const char *pem;
        char id[KEY_ID_HEX];
        int r;

        r = sd_bus_message_read(msg, "s", &pem);
        if (r < 0)
                return r;
        r = access_require_admin(m, msg, "trust bundle signing keys", error);
        if (r < 0)
                return r;
        r = trust_add(m->config.trust_dir, "The key", pem, strlen(pem), id, &err);
        if (r < 0)
                return trust_error(error, r, err);
        log_info("Trusting bundle signing key %s.", id);
        return sd_bus_reply_method_return(msg, "s", id);
}

/* UntrustKey and RevokeKey: an admin names a key id, the trust directory changes. */
static int key_id_method(sd_bus_message *msg, Manager *m, const char *what,
                         int (*op)(const char *dir, const char *key_id, char **ret_error), const char *done,
                         sd_bus_error *error) {
        _cleanup_free_ char *err = NULL;
        const char *id;
        int r;

        r = sd_bus_message_read(msg, "s", &id);
        if (r < 0)
                return r;
        r = access_require_admin(m, msg, what, error);
        if (r < 0)
                return r;
        r = op(m->config.trust_dir, id, &err);
        if (r < 0)
                return trust_error(error, r, err);
        log_notice("%s bundle signing key %s.", done, id);
        return sd_bus_reply_method_return(msg, NULL);
}

int method_untrust_key(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return key_id_method(msg, userdata, "remove trusted keys", trust_remove, "No longer trusting", error);
}

int method_revoke_key(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return key_id_method(msg, userdata, "revoke keys", trust_revoke, "Revoked", error);
}

int method_list_trusted_keys(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ TrustedKey *keys = NULL;
        _cleanup_free_ char *err = NULL;
        Manager *m = userdata;
        size_t n = 0;
        int r;

        r = trust_list(m->config.trust_dir, &keys, &n, &err);
        if (r < 0)
                return trust_error(error, r, err);
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(sbb)");
        for (size_t k = 0; r >= 0 && k < n; k++)
                r = sd_bus_message_append(reply, "(sbb)", keys[k].id, (int) keys[k].present, (int) keys[k].revoked);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* ------------------------------------------------------------------------------ objects */

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
        free(b->path);
        free(b);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(Bundle, bundle_free);

static int bundle_new(Manager *m, const StoreBundle *s, Bundle **ret) {
        _cleanup_(bundle_freep) Bundle *b = calloc(1, sizeof(Bundle));
        _cleanup_free_ char *err = NULL, *id = NULL;
        int r;

        if (!b)
                return -ENOMEM;
        *b = (Bundle) { .manager = m, .id = s->id, .size_bytes = s->size_bytes, .imported_usec = s->imported_usec,
                        .imported_uid = s->imported_uid, .files = s->files };
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
                return log_error_errno(r, "The store's manifest of bundle %s %s is unreadable: %s", b->name, b->version,
                                       strna(err));
        *ret = TAKE_PTR(b);
        return 0;
}

static bool caller_sees(Manager *m, const Caller *c, const Bundle *b) {
        return !b->tenant || caller_in_tenant_named(m, c, b->tenant);
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
                                         "Model '%s' is not NAME or NAME@VERSION of an imported model.", printable(spec));
        /* The tenant's own models first: they shadow a shared one of the same name and version. */
        for (int pass = 0; pass < 2 && hits == 0; pass++)
                LIST_FOREACH(bundles, b, m->bundles) {
                        if (!streq(b->kind, "model") || !streq(b->name, name) || (version && !streq(b->version, version)))
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
                return sd_bus_error_setf(error, ARK_ERROR_NOT_FOUND,
                                         "Tenant '%s' has no model '%s'%s%s (see 'arkctl model list'; import it with "
                                         "'arkctl bundle import').", tenant, name, version ? " version " : "",
                                         strempty(version));
        }
        {
                _cleanup_free_ char *v = strbuf_steal(&versions);
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "Model '%s' has versions %s; say which (Model '%s@VERSION').", name, strna(v),
                                         name);
        }
}

static Bundle *find_bundle(Manager *m, const char *kind, const char *tenant, const char *name, const char *version) {
        LIST_FOREACH(bundles, b, m->bundles)
                if (streq(b->kind, kind) && streq_ptr(b->tenant, tenant) && streq(b->name, name) &&
                    streq(b->version, version))
                        return b;
        return NULL;
}

static char *bundle_directory(Manager *m, const char *kind, const char *tenant, const char *name, const char *version) {
        return strprintf("%s/bundles/%s/%s/%s/%s", m->config.state_dir, kind, tenant ?: SHARED_DIR, name, version);
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
                log_warning("Bundle %s %s %s is recorded but its directory %s is gone.", b->kind, b->name, b->version,
                            b->directory);
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
        static const char *const kinds[] = { "model", "image", "update" };

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
                                                known = known || (streq(b->kind, kinds[k]) &&
                                                                  streq(b->tenant ?: SHARED_DIR, t->d_name) &&
                                                                  streq(b->name, n->d_name) &&
                                                                  streq(b->version, v->d_name));
                                        if (vdir && !known) {
                                                log_warning("Removing %s: no bundle in the store installed it (an import "
                                                            "cut short by a crash).", vdir);
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
        return 0;
}

void bundles_free_all(Manager *m) {
        LIST_FOREACH_SAFE(bundles, b, n, m->bundles) {
                LIST_REMOVE(bundles, m->bundles, b);
                bundle_free(b);
        }
}

/* ------------------------------------------------------------------------------ import */

static Import *import_free(Import *im) {
        if (!im)
                return NULL;
        im->event_source = sd_event_source_disable_unref(im->event_source);
        safe_close(im->event_fd);
        safe_close(im->fd);
        safe_close(im->staging_fd);
        if (im->staging)
                (void) rm_rf(im->staging);
        free(im->staging);
        sd_bus_message_unref(im->call);
        free(im->who);
        free(im->sender);
        free(im->tenant);
        free(im->name);
        free(im->error);
        bundle_result_done(&im->res);
        free(im);
        return NULL;
}

static int import_progress(uint64_t done, uint64_t total, void *userdata) {
        Import *im = userdata;

        atomic_store(&im->done, done);
        atomic_store(&im->total, total);
        (void) eventfd_write(im->event_fd, 1);
        return atomic_load(&im->cancel) ? -ECANCELED : 0;
}

/* In the worker, once the signature verified: the space the imports under way will take counts
 * against what is free, so two imports cannot both fit in space only one has. */
static int import_admit(const Manifest *mf, void *userdata, char **ret_error) {
        Import *im = userdata;
        uint64_t others = atomic_fetch_add(&im->manager->import_reserved, mf->total_bytes), avail;
        struct statvfs sv;
        char a[32], b[32];

        atomic_store(&im->reserved, mf->total_bytes);
        if (fstatvfs(im->staging_fd, &sv) < 0)
                return 0;
        avail = (uint64_t) sv.f_bavail * sv.f_frsize;
        if (avail >= others + mf->total_bytes + (64ULL << 20))
                return 0;
        return set_error_sentence(ret_error, -ENOSPC,
                                  "%s: the payload needs %s; the store has %s free, of which imports under way will take "
                                  "%s.", im->name, format_bytes(a, sizeof(a), mf->total_bytes),
                                  format_bytes(b, sizeof(b), avail), format_bytes((char[32]) {}, 32, others));
}

static void import_unreserve(Import *im) {
        uint64_t r = atomic_exchange(&im->reserved, 0);

        if (r > 0)
                atomic_fetch_sub(&im->manager->import_reserved, r);
}

static void *import_thread(void *userdata) {
        Import *im = userdata;
        BundleReadOptions o = { .trust_dir = im->manager->config.trust_dir, .dest_fd = im->staging_fd, .sync = true,
                                .progress = import_progress, .admit = import_admit, .userdata = im };

        im->result = bundle_read(im->fd, im->name, &o, &im->res, &im->error);
        atomic_store(&im->finished, true);
        (void) eventfd_write(im->event_fd, 1);
        return NULL;
}

static const char *import_error_name(int r) {
        switch (r) {
        case -ENOKEY:
        case -EKEYREVOKED:
        case -EBADMSG:
        case -EINVAL:
                return ARK_ERROR_VERIFICATION_FAILED;
        case -ENOSPC:
                return ARK_ERROR_NO_CAPACITY;
        case -ECANCELED:
                return ARK_ERROR_CANCELLED;
        default:
                return SD_BUS_ERROR_FAILED;
        }
}

static void import_fail(Import *im, const char *name, const char *fmt, ...) _printf_(3, 4);
static void import_fail(Import *im, const char *name, const char *fmt, ...) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *msg = NULL, *result = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        /* Gone before the caller hears of it. */
        im->staging_fd = safe_close(im->staging_fd);
        if (im->staging)
                (void) rm_rf(im->staging);
        im->staging = mfree(im->staging);
        if (msg)
                utf8_sanitize(msg); /* D-Bus sends nothing that is not UTF-8: the caller would wait */
        log_warning("Import of %s refused: %s", im->name, strna(msg));
        (void) sd_bus_error_set(&e, name, msg ?: "The import failed.");
        if (api_guard_reply_error(im->manager, im->call, &e) < 0)
                (void) sd_bus_reply_method_errorf(im->call, name, "The import of %s failed.", printable(im->name));
        result = strprintf("%s: %s", name, strna(msg));
        audit_record_answer(im->manager, im->call, im->uid, im->who, result ?: name);
}

/* The verified staging directory becomes the bundle: renamed into place, then recorded. */
static void import_install(Import *im) {
        Manager *m = im->manager;
        const Manifest *mf = im->res.manifest;
        const char *kind = bundle_kind_to_string(mf->kind);
        _cleanup_free_ char *dir = NULL, *parent = NULL, *text = NULL, *result = NULL;
        _cleanup_transaction_ DbTransaction tx = {};
        StoreBundle s;
        Bundle *b = NULL;
        int r;

        if (im->tenant && !manager_find_tenant(m, im->tenant))
                return import_fail(im, ARK_ERROR_NOT_FOUND, "Tenant '%s' was deleted during the import.", im->tenant);
        if (find_bundle(m, kind, im->tenant, mf->name, mf->version))
                return import_fail(im, ARK_ERROR_ALREADY_EXISTS, "%s %s %s is already installed%s%s%s; delete it first.",
                                   kind, mf->name, mf->version, im->tenant ? " for tenant '" : " (shared)",
                                   strempty(im->tenant), im->tenant ? "'" : "");
        dir = bundle_directory(m, kind, im->tenant, mf->name, mf->version);
        parent = dir ? strdup(dir) : NULL;
        r = manifest_format(mf, &text);
        if (!dir || !parent || r < 0)
                return import_fail(im, SD_BUS_ERROR_NO_MEMORY, "Out of memory.");
        *strrchr(parent, '/') = 0;
        r = mkdir_p(parent, 0755);
        if (r >= 0 && file_exists(dir))
                (void) rm_rf(dir); /* not in the store (checked above): left by a crash */
        if (r >= 0 && renameat2(AT_FDCWD, im->staging, AT_FDCWD, dir, RENAME_NOREPLACE) < 0)
                r = -errno;
        if (r < 0)
                return import_fail(im, SD_BUS_ERROR_FAILED, "Cannot move the verified payload to %s: %s.", dir,
                                   strerror(-r));
        /* The rename, and the directories mkdir_p() may have made above it, down to the disk. */
        for (int k = 0; k < 4; k++) {
                _cleanup_close_ int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                char *slash = strrchr(parent, '/');

                if (pfd >= 0)
                        (void) fsync(pfd);
                if (!slash)
                        break;
                *slash = 0; /* name, tenant, kind, bundles */
        }
        s = (StoreBundle) {
                .kind = kind, .tenant = im->tenant, .name = mf->name, .version = mf->version, .key_id = mf->key_id,
                .sha256 = im->res.sha256, .directory = dir, .manifest = text, .size_bytes = mf->total_bytes,
                .files = (unsigned) mf->n_files, .imported_usec = now_usec(CLOCK_REALTIME), .imported_uid = im->uid,
        };
        r = db_transaction_begin(m->db, &tx);
        if (r >= 0)
                r = store_bundle_insert(m->db, &s);
        if (r >= 0)
                r = db_transaction_commit(&tx);
        if (r >= 0)
                r = bundle_new(m, &s, &b);
        if (r < 0) {
                if (b)
                        bundle_free(b);
                log_error_errno(r, "Failed to record bundle %s %s: %s", mf->name, mf->version, db_errmsg(m->db));
                /* Back to staging, which import_free() removes. */
                if (renameat2(AT_FDCWD, dir, AT_FDCWD, im->staging, RENAME_NOREPLACE) < 0)
                        (void) rm_rf(dir);
                return import_fail(im, r == -EEXIST ? ARK_ERROR_ALREADY_EXISTS : SD_BUS_ERROR_FAILED,
                                   "Cannot record %s %s %s in the store: %s.", kind, mf->name, mf->version,
                                   strerror(-r));
        }
        im->staging = mfree(im->staging); /* it is the bundle's directory now */
        LIST_PREPEND(bundles, m->bundles, b);
        log_info("Imported %s %s %s%s%s: %zu files, %" PRIu64 " bytes, signed by %s, bundle SHA-256 %s.", kind, mf->name,
                 mf->version, im->tenant ? " for tenant " : " (shared)", strempty(im->tenant), mf->n_files,
                 mf->total_bytes, mf->key_id, im->res.sha256);
        (void) sd_bus_emit_signal(m->bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "BundleNew", "so", b->name, b->path);
        (void) sd_bus_emit_object_added(m->bus, b->path);
        (void) sd_bus_reply_method_return(im->call, "o", b->path);
        result = strprintf("ok: %s %s %s, bundle sha256 %s, key %s, %zu files, %" PRIu64 " bytes", kind, mf->name,
                           mf->version, im->res.sha256, mf->key_id, mf->n_files, mf->total_bytes);
        audit_record_answer(m, im->call, im->uid, im->who, result ?: "ok");
}

static void import_finish(Import *im) {
        Manager *m = im->manager;

        (void) pthread_join(im->thread, NULL);
        im->thread_started = false;
        LIST_REMOVE(imports, m->imports, im);
        import_unreserve(im);
        if (im->result < 0)
                import_fail(im, import_error_name(im->result), "%s", im->error ?: strerror(-im->result));
        else
                import_install(im);
        import_free(im);
}

/* To the caller only: the file's name is nobody else's business (the bus policy lets everyone
 * receive this one signal, so that a tenant's arkctl sees its progress). */
static void emit_progress(Import *im) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *s = NULL;
        uint64_t done = atomic_load(&im->done), total = atomic_load(&im->total);
        uint64_t elapsed = now_usec(CLOCK_MONOTONIC) - im->start_usec;
        uint64_t rate = elapsed > 0 ? (uint64_t) ((double) done * 1e6 / (double) elapsed) : 0;
        uint64_t eta = rate > 0 && total > done ? (total - done + rate - 1) / rate : 0;

        if (sd_bus_message_new_signal(im->manager->bus, &s, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "ImportProgress") >= 0 &&
            (isempty(im->sender) || sd_bus_message_set_destination(s, im->sender) >= 0) &&
            sd_bus_message_append(s, "usstttt", im->id, im->sender, im->name, done, total, rate, eta) >= 0)
                (void) sd_bus_send(im->manager->bus, s, NULL);
}

static int on_import_event(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Import *im = userdata;
        eventfd_t v;

        (void) eventfd_read(fd, &v);
        emit_progress(im);
        if (atomic_load(&im->finished))
                import_finish(im);
        return 0;
}

void bundles_abort_all(Manager *m) {
        LIST_FOREACH_SAFE(imports, im, n, m->imports) {
                atomic_store(&im->cancel, true);
                if (im->thread_started)
                        (void) pthread_join(im->thread, NULL);
                im->thread_started = false;
                LIST_REMOVE(imports, m->imports, im);
                import_unreserve(im);
                import_fail(im, ARK_ERROR_INVALID_STATE, "arkd is stopping; the import of %s was cancelled and left "
                            "nothing behind.", im->name);
                import_free(im);
        }
}

int method_import_bundle(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(caller_done) Caller c = {};
        Manager *m = userdata;
        Import *im = NULL;
        const char *tenant, *name;
        _cleanup_free_ char *staging_root = NULL;
        struct stat st;
        int fd, r;

        r = sd_bus_message_read(msg, "hss", &fd, &name, &tenant);
        if (r < 0)
                return r;
        r = caller_get(m, msg, &c, error);
        if (r < 0)
                return r;
        if (isempty(tenant)) {
                r = access_require_admin(m, msg, "import shared bundles (give a tenant to import for it)", error);
                if (r < 0)
                        return r;
        } else {
                if (c.admin && !manager_find_tenant(m, tenant))
                        return sd_bus_error_setf(error, ARK_ERROR_NOT_FOUND, "Tenant '%s' does not exist.",
                                                 printable(tenant));
                /* The same sentence whether the tenant exists or not. */
                if (!caller_in_tenant_named(m, &c, tenant))
                        return sd_bus_error_setf(error, ARK_ERROR_ACCESS_DENIED,
                                                 "User %u may not import bundles for tenant '%s': it is not a member.",
                                                 (unsigned) c.uid, printable(tenant));
        }
        {
                unsigned all = 0, mine = 0;

                LIST_FOREACH(imports, x, m->imports) {
                        all++;
                        mine += x->uid == (uint32_t) c.uid;
                }
                if (all >= IMPORTS_MAX || (!c.admin && mine >= IMPORTS_PER_USER_MAX))
                        return sd_bus_error_setf(error, ARK_ERROR_NO_CAPACITY,
                                                 "%u imports are under way%s; start this one when %s finished.",
                                                 all >= IMPORTS_MAX ? all : mine,
                                                 all >= IMPORTS_MAX ? "" : " for this user",
                                                 all >= IMPORTS_MAX ? "one has" : "one of them has");
        }
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT, "%s is not a regular file.",
                                         isempty(name) ? "The bundle" : name);

        im = calloc(1, sizeof(Import));
        if (!im)
                return -ENOMEM;
        *im = (Import) { .manager = m, .id = ++m->last_import_id, .fd = -EBADF, .staging_fd = -EBADF,
                         .event_fd = -EBADF, .start_usec = now_usec(CLOCK_MONOTONIC) };
        im->name = strdup(isempty(name) ? "the bundle" : name);
        im->sender = strdup(strempty(sd_bus_message_get_sender(msg)));
        im->tenant = isempty(tenant) ? NULL : strdup(tenant);
        staging_root = strprintf("%s/bundles/staging", m->config.state_dir);
        im->staging = staging_root ? strprintf("%s/import-XXXXXX", staging_root) : NULL;
        if (!im->name || !im->sender || (!isempty(tenant) && !im->tenant) || !im->staging ||
            audit_caller(m, msg, &im->uid, &im->who) < 0) {
                free(im->staging);
                im->staging = NULL;
                import_free(im);
                return -ENOMEM;
        }
        r = mkdir_p(staging_root, 0700);
        if (r < 0 || !mkdtemp(im->staging)) {
                r = r < 0 ? r : -errno;
                im->staging = mfree(im->staging);
                import_free(im);
                return sd_bus_error_setf(error, SD_BUS_ERROR_FAILED, "Cannot create a staging directory under %s: %s.",
                                         staging_root, strerror(-r));
        }
        im->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        im->staging_fd = open(im->staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        im->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (im->fd < 0 || im->staging_fd < 0 || im->event_fd < 0) {
                r = -errno;
                import_free(im);
                return r;
        }
        (void) lseek(im->fd, 0, SEEK_SET);
        r = sd_event_add_io(m->event, &im->event_source, im->event_fd, EPOLLIN, on_import_event, im);
        if (r < 0) {
                import_free(im);
                return r;
        }
        im->call = sd_bus_message_ref(msg);
        r = -pthread_create(&im->thread, NULL, import_thread, im);
        if (r < 0) {
                import_free(im);
                return sd_bus_error_setf(error, SD_BUS_ERROR_FAILED, "Cannot start the import: %s.", strerror(-r));
        }
        im->thread_started = true;
        LIST_PREPEND(imports, m->imports, im);
        log_info("Importing %s%s%s (import %u, %" PRIu64 " bytes).", im->name, im->tenant ? " for tenant " : " (shared)",
                 strempty(im->tenant), im->id, (uint64_t) st.st_size);
        emit_progress(im);
        free(m->call_pending);
        m->call_pending = strprintf("pending: import %u of %s", im->id, im->name);
        return 1; /* answered when it is done */
}

int method_cancel_import(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(caller_done) Caller c = {};
        Manager *m = userdata;
        uint32_t id;
        int r;

        r = sd_bus_message_read(msg, "u", &id);
        if (r < 0)
                return r;
        /* Who can start no import cancels none. */
        r = access_require_member(m, msg, &c, "cancel imports", error);
        if (r < 0)
                return r;
        /* Another user's import reads as one that does not exist. */
        LIST_FOREACH(imports, im, m->imports)
                if (im->id == id && (c.admin || im->uid == (uint32_t) c.uid)) {
                        atomic_store(&im->cancel, true);
                        return sd_bus_reply_method_return(msg, NULL);
                }
        return sd_bus_error_setf(error, ARK_ERROR_NOT_FOUND, "No import %u of yours is in progress.", id);
}

int method_list_bundles(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(caller_done) Caller c = {};
        Manager *m = userdata;
        int r;

        r = caller_get(m, msg, &c, error);
        if (r < 0)
                return r;
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(sssso)");
        LIST_FOREACH(bundles, b, m->bundles)
                if (r >= 0 && caller_sees(m, &c, b))
                        r = sd_bus_message_append(reply, "(sssso)", b->kind, strempty(b->tenant), b->name, b->version,
                                                  b->path);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* ------------------------------------------------------------------------------ Bundle object */

static int method_delete(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(caller_done) Caller c = {};
        _cleanup_transaction_ DbTransaction tx = {};
        _cleanup_free_ char *trash = NULL, *staging_root = NULL, *path = NULL;
        Bundle *b = userdata;
        Manager *m = b->manager;
        int r;

        r = caller_get(m, msg, &c, error);
        if (r < 0)
                return r;
        if (b->tenant ? !caller_in_tenant_named(m, &c, b->tenant) : !c.admin)
                return sd_bus_error_setf(error, ARK_ERROR_ACCESS_DENIED, "User %u may not delete %s %s %s%s.",
                                         (unsigned) c.uid, b->kind, b->name, b->version,
                                         b->tenant ? "" : ": it is shared, only an admin may");
        {
                StrBuf users = {};
                unsigned n = 0;

                LIST_FOREACH(instances, i, m->instances)
                        if (i->model_id == b->id) {
                                /* Another tenant's instance is not named to this caller. */
                                if (caller_in_tenant_named(m, &c, i->tenant))
                                        strbuf_printf(&users, "%s'%s'", users.len > 0 ? ", " : "", i->name);
                                n++;
                        }
                if (n > 0) {
                        _cleanup_free_ char *l = strbuf_steal(&users);
                        _cleanup_free_ char *named = isempty(l) ? strdup("") : strprintf(" (%s)", l);

                        return sd_bus_error_setf(error, ARK_ERROR_IN_USE,
                                                 "%s %s %s is used by %u instance%s%s; delete %s first.", b->kind, b->name,
                                                 b->version, n, n == 1 ? "" : "s", strempty(named),
                                                 n == 1 ? "it" : "them");
                }
        }
        /* Forgotten by the store first: from then on its directory is one the store does not know,
         * which the next start removes should this be cut short. Then out of sight at once (one
         * rename into staging), then removed. */
        r = db_transaction_begin(m->db, &tx);
        if (r >= 0)
                r = store_bundle_delete(m->db, b->id);
        if (r >= 0)
                r = db_transaction_commit(&tx);
        if (r < 0)
                return manager_store_error(m, error, r, "Cannot delete %s %s from the store", b->name, b->version);
        staging_root = strprintf("%s/bundles/staging", m->config.state_dir);
        trash = staging_root ? strprintf("%s/delete-XXXXXX", staging_root) : NULL;
        if (trash && mkdir_p(staging_root, 0700) >= 0 && mkdtemp(trash) && rename(b->directory, trash) >= 0)
                (void) rm_rf(trash);
        else {
                log_warning_errno(errno ? -errno : -ENOMEM, "Cannot move %s out of the way (%m); it goes at the next start.",
                                  b->directory);
                if (trash)
                        (void) rmdir(trash);
        }
        remove_empty_parents(b->directory);
        log_info("Deleted %s %s %s%s%s.", b->kind, b->name, b->version, b->tenant ? " of tenant " : " (shared)",
                 strempty(b->tenant));
        free(m->call_pending);
        m->call_pending = strprintf("ok: deleted %s %s %s%s%s, bundle sha256 %s, key %s", b->kind, b->name, b->version,
                                    b->tenant ? " of tenant " : " (shared)", strempty(b->tenant), b->sha256, b->key_id);
        path = strdup(b->path);
        (void) sd_bus_emit_signal(m->bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "BundleRemoved", "so", b->name,
                                  strempty(path));
        (void) sd_bus_emit_object_removed(m->bus, b->path);
        LIST_REMOVE(bundles, m->bundles, b);
        bundle_free(b);
        return sd_bus_reply_method_return(msg, NULL);
}

static int property_get_string(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Bundle *b = userdata;
        const ManifestModel *mm = &b->manifest->model;
        const char *v = streq(property, "Kind") ? b->kind
                        : streq(property, "Name") ? b->name
                        : streq(property, "Version") ? b->version
                        : streq(property, "Tenant") ? b->tenant
                        : streq(property, "KeyId") ? b->key_id
                        : streq(property, "SHA256") ? b->sha256
                        : streq(property, "Directory") ? b->directory
                        : streq(property, "Created") ? b->manifest->created
                        : streq(property, "Architecture") ? mm->architecture
                        : streq(property, "Dtype") ? mm->dtype
                        : streq(property, "Runtime") ? mm->runtime
                        : streq(property, "License") ? mm->license
                        : streq(property, "Manifest") ? b->manifest_text : NULL;

        return sd_bus_message_append(reply, "s", strempty(v));
}

static int property_get_u64(sd_bus *bus, const char *path, const char *interface, const char *property,
                            sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Bundle *b = userdata;
        uint64_t v = streq(property, "SizeBytes") ? b->size_bytes
                     : streq(property, "ImportedAt") ? b->imported_usec
                     : streq(property, "Parameters") ? b->manifest->model.parameters
                     : streq(property, "MinGPUMemoryBytes") ? b->manifest->model.min_gpu_memory_bytes : 0;

        return sd_bus_message_append(reply, "t", v);
}

static int property_get_compatible(sd_bus *bus, const char *path, const char *interface, const char *property,
                                   sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Bundle *b = userdata;

        return sd_bus_message_append_strv(reply, b->manifest->compatible ?: (char *[]) { NULL });
}

const sd_bus_vtable bundle_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Kind", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Name", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Version", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Tenant", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("KeyId", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("SHA256", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("SizeBytes", "t", property_get_u64, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Files", "u", NULL, offsetof(Bundle, files), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Directory", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Created", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ImportedAt", "t", property_get_u64, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ImportedBy", "u", NULL, offsetof(Bundle, imported_uid), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Architecture", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Parameters", "t", property_get_u64, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Dtype", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("MinGPUMemoryBytes", "t", property_get_u64, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Runtime", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("License", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Compatible", "as", property_get_compatible, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Manifest", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_METHOD("Delete", NULL, NULL, method_delete, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

int bundle_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                       sd_bus_error *error) {
        _cleanup_(caller_done) Caller c = {};
        _cleanup_free_ char *id = NULL;
        Manager *m = userdata;
        int r;

        r = sd_bus_path_decode(path, ARK_BUS_PREFIX_BUNDLE, &id);
        if (r <= 0)
                return 0;
        if (caller_current(m, bus, &c) < 0)
                return 0;
        LIST_FOREACH(bundles, b, m->bundles)
                if (streq(b->path, path) && caller_sees(m, &c, b)) {
                        *found = b;
                        return 1;
                }
        return 0;
}

int bundle_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error) {
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_(caller_done) Caller c = {};
        Manager *m = userdata;

        if (caller_current(m, bus, &c) < 0)
                c.admin = false;
        LIST_FOREACH(bundles, b, m->bundles)
                if (caller_sees(m, &c, b) && strv_extend(&l, b->path) < 0)
                        return -ENOMEM;
        if (!l && !(l = calloc(1, sizeof(char *))))
                return -ENOMEM;
        *nodes = TAKE_PTR(l);
        return 1;
}

/* Bundle imports (bundle-import.h): a worker thread per import streams the bundle into a staging
 * directory through bundle_read(); the event loop hears of its progress through an eventfd and,
 * once it has finished, installs the verified payload and records it (bundles.h). */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "access.h"
#include "api-guard.h"
#include "audit.h"
#include "bundle-import.h"
#include "bundles.h"
#include "image.h"
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

#define IMPORTS_MAX 4          /* at once, in all */
#define IMPORTS_PER_USER_MAX 2 /* for a tenant member */

struct Import {
        Manager *manager;
        uint32_t id;
        sd_bus_message *call;
        uint32_t uid;
        char *who, *sender;
        char *tenant; /* NULL = shared */
        char *name;   /* for messages: what the caller called the file */
        char *staging;
        int fd, staging_fd, event_fd;
        sd_event_source *event_source;
        pthread_t thread;
        bool thread_started;
        _Atomic uint64_t reserved; /* of Manager.import_reserved, once admitted */
        uint64_t start_usec;
        _Atomic uint64_t done, total;
        atomic_bool cancel, finished;
        /* Written by the thread, read after it was joined. */
        int result;
        char *error;
        BundleResult res;
        ContainerImageStaging *container; /* kind container-image: its layers, checked and staged */
        LIST_FIELDS(Import, imports);
};

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
#if IS_ENABLED(CONFIG_CONTAINERS)
        container_image_staging_free(im->container);
#endif
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
        return set_error_sentence(
                ret_error, -ENOSPC,
                "%s: the payload needs %s; the store has %s free, of which imports under way will take "
                "%s.",
                im->name, format_bytes(a, sizeof(a), mf->total_bytes), format_bytes(b, sizeof(b), avail),
                format_bytes((char[32]) {}, 32, others));
}

static void import_unreserve(Import *im) {
        uint64_t r = atomic_exchange(&im->reserved, 0);

        if (r > 0)
                atomic_fetch_sub(&im->manager->import_reserved, r);
}

static void *import_thread(void *userdata) {
        Import *im = userdata;
        BundleReadOptions o = { .trust_dir = im->manager->config.trust_dir,
                                .dest_fd = im->staging_fd,
                                .sync = true,
                                .progress = import_progress,
                                .admit = import_admit,
                                .userdata = im };

        im->result = bundle_read(im->fd, im->name, &o, &im->res, &im->error);
        /* A container image is checked whole, and its new layers unpacked into layer staging, before
         * the main thread records anything (image.h). */
        if (im->result >= 0 && im->res.manifest->kind == BUNDLE_CONTAINER_IMAGE) {
#if IS_ENABLED(CONFIG_CONTAINERS)
                im->result = container_image_prepare(im->manager->config.state_dir, im->staging_fd, im->name,
                                                     &im->container, &im->error);
#else
                im->result = set_error_sentence(
                        &im->error, -EINVAL,
                        "%s is a container image; this Ark is built without containers.", im->name);
#endif
        }
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
        case -EFBIG: /* a container image layer that decompresses past its bound */
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
                (void) sd_bus_reply_method_errorf(im->call, name, "The import of %s failed.",
                                                  printable(im->name));
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
                return import_fail(im, ARK_ERROR_NOT_FOUND, "Tenant '%s' was deleted during the import.",
                                   im->tenant);
        if (bundle_find(m, kind, im->tenant, mf->name, mf->version))
                return import_fail(im, ARK_ERROR_ALREADY_EXISTS,
                                   "%s %s %s is already installed%s%s%s; delete it first.", kind, mf->name,
                                   mf->version, im->tenant ? " for tenant '" : " (shared)",
                                   strempty(im->tenant), im->tenant ? "'" : "");
        dir = bundle_directory(m, kind, im->tenant, mf->name, mf->version);
        parent = dir ? strdup(dir) : NULL;
        r = manifest_format(mf, &text);
        if (!dir || !parent || r < 0)
                return import_fail(im, SD_BUS_ERROR_NO_MEMORY, "Out of memory.");
        *strrchr(parent, '/') = 0;
#if IS_ENABLED(CONFIG_CONTAINERS)
        /* The image's new layers into the store first: until the record below they belong to no
         * image, and a failure (or a crash) leaves them to container_layers_gc(). */
        if (im->container) {
                _cleanup_free_ char *err = NULL;

                r = container_image_install(im->container, &err);
                if (r < 0) {
                        import_fail(im, r == -EAGAIN ? ARK_ERROR_INVALID_STATE : SD_BUS_ERROR_FAILED, "%s",
                                    strna(err));
                        container_layers_gc(m);
                        return;
                }
        }
#endif
        r = mkdir_p(parent, 0755);
        if (r >= 0 && file_exists(dir))
                (void) rm_rf(dir); /* not in the store (checked above): left by a crash */
        if (r >= 0 && renameat2(AT_FDCWD, im->staging, AT_FDCWD, dir, RENAME_NOREPLACE) < 0)
                r = -errno;
        if (r < 0) {
                import_fail(im, SD_BUS_ERROR_FAILED, "Cannot move the verified payload to %s: %s.", dir,
                            strerror(-r));
#if IS_ENABLED(CONFIG_CONTAINERS)
                if (im->container)
                        container_layers_gc(m);
#endif
                return;
        }
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
                .kind = kind,
                .tenant = im->tenant,
                .name = mf->name,
                .version = mf->version,
                .key_id = mf->key_id,
                .sha256 = im->res.sha256,
                .directory = dir,
                .manifest = text,
                .size_bytes = mf->total_bytes,
                .files = (unsigned) mf->n_files,
                .imported_usec = now_usec(CLOCK_REALTIME),
                .imported_uid = im->uid,
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
                log_error_errno(r, "Failed to record bundle %s %s: %s", mf->name, mf->version,
                                db_errmsg(m->db));
                /* Back to staging, which import_free() removes. */
                if (renameat2(AT_FDCWD, dir, AT_FDCWD, im->staging, RENAME_NOREPLACE) < 0)
                        (void) rm_rf(dir);
#if IS_ENABLED(CONFIG_CONTAINERS)
                if (im->container)
                        container_layers_gc(m);
#endif
                return import_fail(im, r == -EEXIST ? ARK_ERROR_ALREADY_EXISTS : SD_BUS_ERROR_FAILED,
                                   "Cannot record %s %s %s in the store: %s.", kind, mf->name, mf->version,
                                   strerror(-r));
        }
        im->staging = mfree(im->staging); /* it is the bundle's directory now */
        LIST_PREPEND(bundles, m->bundles, b);
        log_info("Imported %s %s %s%s%s: %zu files, %" PRIu64 " bytes, signed by %s, bundle SHA-256 %s.",
                 kind, mf->name, mf->version, im->tenant ? " for tenant " : " (shared)",
                 strempty(im->tenant), mf->n_files, mf->total_bytes, mf->key_id, im->res.sha256);
#if IS_ENABLED(CONFIG_CONTAINERS)
        if (im->container)
                log_info("Container image %s %s: %s.", mf->name, mf->version,
                         container_image_staging_summary(im->container));
#endif
        (void) sd_bus_emit_signal(m->bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "BundleNew", "so", b->name,
                                  b->path);
        (void) sd_bus_emit_object_added(m->bus, b->path);
        (void) sd_bus_reply_method_return(im->call, "o", b->path);
        result = strprintf("ok: %s %s %s, bundle sha256 %s, key %s, %zu files, %" PRIu64 " bytes", kind,
                           mf->name, mf->version, im->res.sha256, mf->key_id, mf->n_files, mf->total_bytes);
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

        if (sd_bus_message_new_signal(im->manager->bus, &s, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER,
                                      "ImportProgress") >= 0 &&
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
                import_fail(im, ARK_ERROR_INVALID_STATE,
                            "arkd is stopping; the import of %s was cancelled and left "
                            "nothing behind.",
                            im->name);
                import_free(im);
        }
}

int bundle_import_start(Manager *m, sd_bus_message *msg, const Caller *c, int fd, const char *name,
                        const char *tenant, sd_bus_error *error) {
        Import *im = NULL;
        _cleanup_free_ char *staging_root = NULL;
        struct stat st;
        int r;

        {
                unsigned all = 0, mine = 0;

                LIST_FOREACH(imports, x, m->imports) {
                        all++;
                        mine += x->uid == (uint32_t) c->uid;
                }
                if (all >= IMPORTS_MAX || (!c->admin && mine >= IMPORTS_PER_USER_MAX))
                        return sd_bus_error_setf(
                                error, ARK_ERROR_NO_CAPACITY,
                                "%u imports are under way%s; start this one when %s finished.",
                                all >= IMPORTS_MAX ? all : mine, all >= IMPORTS_MAX ? "" : " for this user",
                                all >= IMPORTS_MAX ? "one has" : "one of them has");
        }
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT, "%s is not a regular file.",
                                         isempty(name) ? "The bundle" : name);

        im = calloc(1, sizeof(Import));
        if (!im)
                return -ENOMEM;
        *im = (Import) { .manager = m,
                         .id = ++m->last_import_id,
                         .fd = -EBADF,
                         .staging_fd = -EBADF,
                         .event_fd = -EBADF,
                         .start_usec = now_usec(CLOCK_MONOTONIC) };
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
                return sd_bus_error_setf(error, SD_BUS_ERROR_FAILED,
                                         "Cannot create a staging directory under %s: %s.", staging_root,
                                         strerror(-r));
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
                return sd_bus_error_setf(error, SD_BUS_ERROR_FAILED, "Cannot start the import: %s.",
                                         strerror(-r));
        }
        im->thread_started = true;
        LIST_PREPEND(imports, m->imports, im);
        log_info("Importing %s%s%s (import %u, %" PRIu64 " bytes).", im->name,
                 im->tenant ? " for tenant " : " (shared)", strempty(im->tenant), im->id,
                 (uint64_t) st.st_size);
        emit_progress(im);
        free(m->call_pending);
        m->call_pending = strprintf("pending: import %u of %s", im->id, im->name);
        return 1; /* answered when it is done */
}

int bundle_import_cancel(Manager *m, uint32_t id, const Caller *c) {
        /* Another user's import reads as one that does not exist. */
        LIST_FOREACH(imports, im, m->imports)
                if (im->id == id && (c->admin || im->uid == (uint32_t) c->uid)) {
                        atomic_store(&im->cancel, true);
                        return 0;
                }
        return -ENOENT;
}

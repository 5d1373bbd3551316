/* The D-Bus side of bundles (bundles.h): the manager's trust, import and list methods, and the
 * Bundle objects. Who may do what is decided here; the work is in bundles.c and bundle-import.c. */

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "bundle-import.h"
#include "bundles.h"
#include "manager.h"
#include "tenant.h"
#include "basic/log.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "shared/bus-util.h"
#include "shared/oci-image.h"
#include "shared/trust.h"

/* ------------------------------------------------------------------------------ trust */

static int trust_error(sd_bus_error *error, int r, const char *sentence) {
        const char *name = r == -EEXIST || r == -EALREADY                    ? ARK_ERROR_ALREADY_EXISTS
                : r == -ENOENT                                               ? ARK_ERROR_NOT_FOUND
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
        return key_id_method(msg, userdata, "remove trusted keys", trust_remove, "No longer trusting",
                             error);
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
                r = sd_bus_message_append(reply, "(sbb)", keys[k].id, (int) keys[k].present,
                                          (int) keys[k].revoked);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static bool caller_sees(Manager *m, const Caller *c, const Bundle *b) {
        return !b->tenant || caller_in_tenant_named(m, c, b->tenant);
}

/* ------------------------------------------------------------------------------ imports */

int method_import_bundle(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(caller_done) Caller c = {};
        Manager *m = userdata;
        const char *tenant, *name;
        int fd, r;

        r = sd_bus_message_read(msg, "hss", &fd, &name, &tenant);
        if (r < 0)
                return r;
        r = caller_get(m, msg, &c, error);
        if (r < 0)
                return r;
        if (isempty(tenant)) {
                r = access_require_admin(m, msg, "import shared bundles (give a tenant to import for it)",
                                         error);
                if (r < 0)
                        return r;
        } else {
                if (c.admin && !manager_find_tenant(m, tenant))
                        return sd_bus_error_setf(error, ARK_ERROR_NOT_FOUND, "Tenant '%s' does not exist.",
                                                 printable(tenant));
                /* The same sentence whether the tenant exists or not. */
                if (!caller_in_tenant_named(m, &c, tenant))
                        return sd_bus_error_setf(
                                error, ARK_ERROR_ACCESS_DENIED,
                                "User %u may not import bundles for tenant '%s': it is not a member.",
                                (unsigned) c.uid, printable(tenant));
        }
        return bundle_import_start(m, msg, &c, fd, name, tenant, error);
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
        r = bundle_import_cancel(m, id, &c);
        if (r == -ENOENT)
                return sd_bus_error_setf(error, ARK_ERROR_NOT_FOUND, "No import %u of yours is in progress.",
                                         id);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, NULL);
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
                        r = sd_bus_message_append(reply, "(sssso)", b->kind, strempty(b->tenant), b->name,
                                                  b->version, b->path);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* ------------------------------------------------------------------------------ Bundle object */

static int method_delete(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(caller_done) Caller c = {};
        Bundle *b = userdata;
        Manager *m = b->manager;
        int r;

        r = caller_get(m, msg, &c, error);
        if (r < 0)
                return r;
        if (b->tenant ? !caller_in_tenant_named(m, &c, b->tenant) : !c.admin)
                return sd_bus_error_setf(error, ARK_ERROR_ACCESS_DENIED,
                                         "User %u may not delete %s %s %s%s.", (unsigned) c.uid, b->kind,
                                         b->name, b->version,
                                         b->tenant ? "" : ": it is shared, only an admin may");
        r = bundle_delete(b, &c, error); /* frees b */
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, NULL);
}

static int property_get_string(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Bundle *b = userdata;
        const ManifestModel *mm = &b->manifest->model;
        const char *v = streq(property, "Kind")   ? b->kind
                : streq(property, "Name")         ? b->name
                : streq(property, "Version")      ? b->version
                : streq(property, "Tenant")       ? b->tenant
                : streq(property, "KeyId")        ? b->key_id
                : streq(property, "SHA256")       ? b->sha256
                : streq(property, "Directory")    ? b->directory
                : streq(property, "Created")      ? b->manifest->created
                : streq(property, "Architecture") ? mm->architecture
                : streq(property, "Dtype")        ? mm->dtype
                : streq(property, "Runtime")      ? mm->runtime
                : streq(property, "License")      ? mm->license
                : streq(property, "Manifest")     ? b->manifest_text
                                                  : NULL;

        return sd_bus_message_append(reply, "s", strempty(v));
}

static int property_get_u64(sd_bus *bus, const char *path, const char *interface, const char *property,
                            sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Bundle *b = userdata;
        uint64_t v = streq(property, "SizeBytes")      ? b->size_bytes
                : streq(property, "ImportedAt")        ? b->imported_usec
                : streq(property, "Parameters")        ? b->manifest->model.parameters
                : streq(property, "MinGPUMemoryBytes") ? b->manifest->model.min_gpu_memory_bytes
                                                       : 0;

        return sd_bus_message_append(reply, "t", v);
}

static int property_get_compatible(sd_bus *bus, const char *path, const char *interface,
                                   const char *property, sd_bus_message *reply, void *userdata,
                                   sd_bus_error *error) {
        Bundle *b = userdata;

        return sd_bus_message_append_strv(reply, b->manifest->compatible ?: (char *[]) { NULL });
}

#if IS_ENABLED(CONFIG_CONTAINERS)
/* A container image's layout, read once (it does not change); NULL for another kind or when it
 * cannot be read (the properties are empty then). */
static const OciImage *bundle_oci_image(Bundle *b) {
        _cleanup_close_ int fd = -EBADF;

        if (b->oci_image || !streq(b->kind, "container-image"))
                return b->oci_image;
        fd = open(b->directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0)
                (void) oci_image_load(fd, NULL, &b->oci_image, NULL);
        return b->oci_image;
}

static int property_get_image_strv(sd_bus *bus, const char *path, const char *interface,
                                   const char *property, sd_bus_message *reply, void *userdata,
                                   sd_bus_error *error) {
        const OciImage *o = bundle_oci_image(userdata);
        char **v = !o                                ? NULL
                : streq(property, "ImageEntrypoint") ? o->config.entrypoint
                : streq(property, "ImageCmd")        ? o->config.cmd
                : streq(property, "ImageEnv")        ? o->config.env
                : streq(property, "ImageLayers")     ? o->config.diff_ids
                                                     : NULL;

        return sd_bus_message_append_strv(reply, v ?: (char *[]) { NULL });
}

static int property_get_image_string(sd_bus *bus, const char *path, const char *interface,
                                     const char *property, sd_bus_message *reply, void *userdata,
                                     sd_bus_error *error) {
        const OciImage *o = bundle_oci_image(userdata);
        const char *v = !o                               ? NULL
                : streq(property, "ImageWorkingDir")     ? o->config.working_dir
                : streq(property, "ImageUser")           ? o->config.user
                : streq(property, "ImageArchitecture")   ? o->config.architecture
                : streq(property, "ImageManifestDigest") ? o->manifest_digest
                                                         : NULL;

        return sd_bus_message_append(reply, "s", strempty(v));
}
#endif

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
        SD_BUS_PROPERTY("ImportedBy", "u", NULL, offsetof(Bundle, imported_uid),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Architecture", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Parameters", "t", property_get_u64, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Dtype", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("MinGPUMemoryBytes", "t", property_get_u64, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Runtime", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("License", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Compatible", "as", property_get_compatible, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Manifest", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
#if IS_ENABLED(CONFIG_CONTAINERS)
        SD_BUS_PROPERTY("ImageEntrypoint", "as", property_get_image_strv, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ImageCmd", "as", property_get_image_strv, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ImageEnv", "as", property_get_image_strv, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ImageWorkingDir", "s", property_get_image_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ImageUser", "s", property_get_image_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ImageArchitecture", "s", property_get_image_string, 0,
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ImageManifestDigest", "s", property_get_image_string, 0,
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ImageLayers", "as", property_get_image_strv, 0, SD_BUS_VTABLE_PROPERTY_CONST),
#endif
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

int bundle_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes,
                           sd_bus_error *error) {
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

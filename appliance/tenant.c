/* Tenants: creation, deletion and description changes, each one store transaction. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <grp.h>
#include <pwd.h>

#include "basic/log.h"
#include "basic/parse-util.h"
#include "basic/string-util.h"
#include "basic/time-util.h"
#include "manager.h"
#include "shared/bus-util.h"
#include "shared/db.h"
#include "store.h"
#include "tenant.h"

#define TENANT_DESCRIPTION_MAX 256

int tenant_new(Manager *m, const char *name, const char *description, Tenant **ret) {
        _cleanup_(tenant_freep) Tenant *t = calloc(1, sizeof(Tenant));
        int r;

        if (!t)
                return -ENOMEM;
        t->manager = m;
        t->name = strdup(name);
        t->description = strdup(strempty(description));
        if (!t->name || !t->description)
                return -ENOMEM;
        r = sd_bus_path_encode(ARK_BUS_PREFIX_TENANT, name, &t->path);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(t);
        return 0;
}

Tenant *tenant_free(Tenant *t) {
        if (!t)
                return NULL;
        for (size_t k = 0; k < t->n_members; k++)
                free(t->members[k].name);
        free(t->members);
        free(t->name);
        free(t->description);
        free(t->path);
        free(t);
        return NULL;
}

int tenant_compare(const Tenant *a, const Tenant *b) {
        return strcmp(a->name, b->name);
}

Tenant *manager_find_tenant(Manager *m, const char *name) {
        LIST_FOREACH(tenants, t, m->tenants)
                if (streq(t->name, name))
                        return t;
        return NULL;
}

unsigned tenant_count_instances(Tenant *t) {
        unsigned n = 0;

        LIST_FOREACH(instances, i, t->manager->instances)
                if (streq(i->tenant, t->name))
                        n++;
        return n;
}

int tenant_description_validate(const char *description, const char **ret_reason) {
        if (strlen(description) > TENANT_DESCRIPTION_MAX) {
                *ret_reason = "a description may be at most 256 characters long";
                return -EINVAL;
        }
        for (const char *p = description; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f) {
                        *ret_reason = "a description may not contain control characters";
                        return -EINVAL;
                }
        return 0;
}

int tenant_create(Manager *m, const char *name, const char *description, Tenant **ret, sd_bus_error *error) {
        _cleanup_transaction_ DbTransaction tx = {};
        _cleanup_(tenant_freep) Tenant *t = NULL;
        const char *reason;
        int r;

        reason = ark_name_invalid_reason(name);
        if (reason)
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT, "Invalid tenant name '%.80s%s': %s.",
                                         name, strlen(name) > 80 ? "..." : "", reason);
        if (tenant_description_validate(description, &reason) < 0)
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT, "Invalid description for tenant '%s': %s.",
                                         name, reason);
        if (manager_find_tenant(m, name))
                return sd_bus_error_setf(error, ARK_ERROR_ALREADY_EXISTS, "Tenant '%s' already exists.", name);

        r = tenant_new(m, name, description, &t);
        if (r < 0)
                return r;
        t->created_usec = now_usec(CLOCK_REALTIME);

        r = db_transaction_begin(m->db, &tx);
        if (r >= 0)
                r = store_tenant_insert(m->db, t);
        if (r >= 0)
                r = db_transaction_commit(&tx);
        if (r == -EEXIST)
                return sd_bus_error_setf(error, ARK_ERROR_ALREADY_EXISTS, "Tenant '%s' already exists.", name);
        if (r < 0) {
                log_error_errno(r, "Failed to store tenant '%s': %s", name, db_errmsg(m->db));
                return sd_bus_error_set_errnof(error, r, "Failed to store tenant '%s': %m", name);
        }

        LIST_INSERT_SORTED(tenants, m->tenants, t, tenant_compare);
        char field[96];
        snprintf(field, sizeof(field), "ARK_TENANT=%s", name);
        log_struct(LOG_INFO, 0, field, NULL, "Created tenant '%s'.", name);
        (void) sd_bus_emit_signal(m->bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "TenantNew", "so", t->name, t->path);
        (void) sd_bus_emit_object_added(m->bus, t->path);
        manager_emit_counts_changed(m);
        if (ret)
                *ret = t;
        TAKE_PTR(t);
        return 0;
}

int tenant_delete(Tenant *t, sd_bus_error *error) {
        _cleanup_transaction_ DbTransaction tx = {};
        _cleanup_free_ char *name = NULL, *path = NULL;
        Manager *m = t->manager;
        unsigned n;
        int r;

        n = tenant_count_instances(t);
        if (n > 0)
                return sd_bus_error_setf(error, ARK_ERROR_IN_USE,
                                         "Tenant '%s' still owns %u instance%s; delete %s first.", t->name, n,
                                         n == 1 ? "" : "s", n == 1 ? "it" : "them");

        r = db_transaction_begin(m->db, &tx);
        if (r >= 0)
                r = store_tenant_delete(m->db, t);
        if (r >= 0)
                r = db_transaction_commit(&tx);
        if (r == -EBUSY)
                return sd_bus_error_setf(error, ARK_ERROR_IN_USE, "Tenant '%s' still owns instances.", t->name);
        if (r < 0) {
                log_error_errno(r, "Failed to delete tenant '%s' from the store: %s", t->name, db_errmsg(m->db));
                return sd_bus_error_set_errnof(error, r, "Failed to delete tenant '%s': %m", t->name);
        }

        name = strdup(t->name);
        path = strdup(t->path);
        (void) sd_bus_emit_object_removed(m->bus, t->path);
        LIST_REMOVE(tenants, m->tenants, t);
        tenant_free(t);
        log_info("Deleted tenant '%s'.", strna(name));
        if (name && path)
                (void) sd_bus_emit_signal(m->bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "TenantRemoved", "so", name, path);
        manager_emit_counts_changed(m);
        return 0;
}

int tenant_set_description(Tenant *t, const char *description, sd_bus_error *error) {
        _cleanup_transaction_ DbTransaction tx = {};
        _cleanup_free_ char *copy = NULL;
        Manager *m = t->manager;
        const char *reason;
        int r;

        if (tenant_description_validate(description, &reason) < 0)
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT, "Invalid description for tenant '%s': %s.",
                                         t->name, reason);
        copy = strdup(description);
        if (!copy)
                return -ENOMEM;
        r = db_transaction_begin(m->db, &tx);
        if (r >= 0)
                r = store_tenant_update_description(m->db, t, description);
        if (r >= 0)
                r = db_transaction_commit(&tx);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to update tenant '%s': %m", t->name);

        free(t->description);
        t->description = TAKE_PTR(copy);
        (void) sd_bus_emit_properties_changed(m->bus, t->path, ARK_BUS_IFACE_TENANT, "Description", NULL);
        return 0;
}

int tenant_member_push(Tenant *t, const char *kind, uint32_t id, const char *name) {
        TenantMember *m = realloc(t->members, sizeof(TenantMember) * (t->n_members + 1));

        if (!m)
                return -ENOMEM;
        t->members = m;
        m = &t->members[t->n_members];
        *m = (TenantMember) { .id = id, .name = strdup(name) };
        snprintf(m->kind, sizeof(m->kind), "%s", kind);
        if (!m->name)
                return -ENOMEM;
        t->n_members++;
        return 0;
}

/* A user or group by name or number, as the system knows it. */
static int resolve_member(const char *kind, const char *name, uint32_t *ret_id, char **ret_name,
                          sd_bus_error *error) {
        uint32_t n;
        bool numeric = parse_u32(name, &n) >= 0;

        if (isempty(name) || strlen(name) > 64)
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT, "A %s name must be 1 to 64 characters.",
                                         kind);
        if (streq(kind, "user")) {
                struct passwd *pw = numeric ? getpwuid(n) : getpwnam(name);

                if (!pw)
                        return sd_bus_error_setf(error, ARK_ERROR_NOT_FOUND,
                                                 "There is no user '%.64s' on this host (see getent passwd).", name);
                *ret_id = pw->pw_uid;
                *ret_name = strdup(pw->pw_name);
        } else if (streq(kind, "group")) {
                struct group *gr = numeric ? getgrgid(n) : getgrnam(name);

                if (!gr)
                        return sd_bus_error_setf(error, ARK_ERROR_NOT_FOUND,
                                                 "There is no group '%.64s' on this host (see getent group).", name);
                *ret_id = gr->gr_gid;
                *ret_name = strdup(gr->gr_name);
        } else
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "A member is a 'user' or a 'group', not '%.20s'.", kind);
        return *ret_name ? 0 : -ENOMEM;
}

static void emit_members_changed(Tenant *t) {
        (void) sd_bus_emit_properties_changed(t->manager->bus, t->path, ARK_BUS_IFACE_TENANT, "Members", NULL);
}

int tenant_member_add(Tenant *t, const char *kind, const char *name, sd_bus_error *error) {
        _cleanup_transaction_ DbTransaction tx = {};
        _cleanup_free_ char *resolved = NULL;
        Manager *m = t->manager;
        uint32_t id = 0;
        int r;

        r = resolve_member(kind, name, &id, &resolved, error);
        if (r < 0)
                return r;
        for (size_t k = 0; k < t->n_members; k++)
                if (streq(t->members[k].kind, kind) && t->members[k].id == id)
                        return sd_bus_error_setf(error, ARK_ERROR_ALREADY_EXISTS, "The %s '%s' is a member of tenant '%s' "
                                                 "already.", kind, resolved, t->name);
        r = db_transaction_begin(m->db, &tx);
        if (r >= 0)
                r = store_member_insert(m->db, t->id, kind, id, resolved, now_usec(CLOCK_REALTIME));
        if (r >= 0)
                r = db_transaction_commit(&tx);
        if (r < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_FAILED, "Failed to store the member of '%s': %s.", t->name,
                                         db_errmsg(m->db));
        r = tenant_member_push(t, kind, id, resolved);
        if (r < 0)
                return r;
        log_info("Added %s '%s' (%u) to tenant '%s'.", kind, resolved, id, t->name);
        emit_members_changed(t);
        return 0;
}

int tenant_member_remove(Tenant *t, const char *kind, const char *name, sd_bus_error *error) {
        _cleanup_transaction_ DbTransaction tx = {};
        Manager *m = t->manager;
        size_t k;
        uint32_t n;
        int r;

        /* By the name or number stored: the user may be gone from the system by now. */
        for (k = 0; k < t->n_members; k++)
                if (streq(t->members[k].kind, kind) &&
                    (streq(t->members[k].name, name) || (parse_u32(name, &n) >= 0 && n == t->members[k].id)))
                        break;
        if (k == t->n_members)
                return sd_bus_error_setf(error, ARK_ERROR_NOT_FOUND, "The %s '%.64s' is not a member of tenant '%s'.",
                                         streq(kind, "group") ? "group" : "user", name, t->name);
        r = db_transaction_begin(m->db, &tx);
        if (r >= 0)
                r = store_member_delete(m->db, t->id, kind, t->members[k].id);
        if (r >= 0)
                r = db_transaction_commit(&tx);
        if (r < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_FAILED, "Failed to remove the member of '%s': %s.",
                                         t->name, db_errmsg(m->db));
        log_info("Removed %s '%s' from tenant '%s'.", kind, t->members[k].name, t->name);
        free(t->members[k].name);
        memmove(&t->members[k], &t->members[k + 1], sizeof(TenantMember) * (t->n_members - k - 1));
        t->n_members--;
        emit_members_changed(t);
        return 0;
}

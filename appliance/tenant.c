/* Tenants: creation, deletion and description changes, each one store transaction. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>

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

/* org.ark.Ark1.Tenant objects. */

#include <errno.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "basic/macro.h"
#include "basic/string-util.h"
#include "access.h"
#include "manager.h"
#include "shared/bus-util.h"
#include "tenant.h"

static int property_get_n_instances(sd_bus *bus, const char *path, const char *interface,
                                    const char *property, sd_bus_message *reply, void *userdata,
                                    sd_bus_error *error) {
        Tenant *t = userdata;
        return sd_bus_message_append(reply, "u", tenant_count_instances(t));
}

static int property_get_members(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Tenant *t = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(ssu)");
        if (r < 0)
                return r;
        for (size_t k = 0; k < t->n_members; k++) {
                r = sd_bus_message_append(reply, "(ssu)", t->members[k].kind, t->members[k].name,
                                          t->members[k].id);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int method_member(sd_bus_message *msg, void *userdata, sd_bus_error *error, bool add) {
        Tenant *t = userdata;
        const char *kind, *name;
        int r;

        r = sd_bus_message_read(msg, "ss", &kind, &name);
        if (r < 0)
                return r;
        r = access_require_admin(t->manager, msg, add ? "add tenant members" : "remove tenant members",
                                 error);
        if (r < 0)
                return r;
        r = add ? tenant_member_add(t, kind, name, error) : tenant_member_remove(t, kind, name, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, NULL);
}

static int method_add_member(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return method_member(msg, userdata, error, true);
}

static int method_remove_member(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return method_member(msg, userdata, error, false);
}

static int method_set_description(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Tenant *t = userdata;
        const char *d;
        int r;

        r = sd_bus_message_read(msg, "s", &d);
        if (r < 0)
                return r;
        r = access_require_admin(t->manager, msg, "change tenants", error);
        if (r < 0)
                return r;
        r = tenant_set_description(userdata, d, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, NULL);
}

static int method_delete(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Tenant *t = userdata;
        int r;

        r = access_require_admin(t->manager, msg, "delete tenants", error);
        if (r < 0)
                return r;
        r = tenant_delete(userdata, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, NULL);
}

static int property_get_quotas(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Tenant *t = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(sstt)");
        if (r < 0)
                return r;
        for (size_t k = 0; k < t->n_quotas; k++) {
                r = sd_bus_message_append(reply, "(sstt)", quota_resource_to_string(t->quotas[k].resource),
                                          t->quotas[k].model, t->quotas[k].guarantee, t->quotas[k].limit);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int property_get_usage(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        _cleanup_free_ const char **models = NULL;
        Tenant *t = userdata;
        QuotaUsage u;
        int r;

        r = tenant_usage(t, &u);
        if (r < 0)
                return r;
        models = (const char **) u.gpu_models;
        r = sd_bus_message_open_container(reply, 'a', "(sst)");
        if (r < 0)
                return r;
        for (QuotaResource q = 0; q < _QUOTA_RESOURCE_MAX; q++) {
                r = sd_bus_message_append(reply, "(sst)", quota_resource_to_string(q), "", u.amount[q]);
                if (r < 0)
                        return r;
        }
        /* And the GPUs of each model a quota names. */
        for (size_t k = 0; k < t->n_quotas; k++) {
                if (t->quotas[k].model[0] == 0)
                        continue;
                r = sd_bus_message_append(reply, "(sst)", "gpus", t->quotas[k].model,
                                          quota_used(&t->quotas[k], &u));
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int method_set_quota(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Tenant *t = userdata;
        const char *resource, *model;
        uint64_t guarantee, limit;
        int r;

        r = sd_bus_message_read(msg, "sstt", &resource, &model, &guarantee, &limit);
        if (r < 0)
                return r;
        r = access_require_admin(t->manager, msg, "set tenant quotas", error);
        if (r < 0)
                return r;
        r = tenant_quota_set(t, resource, model, guarantee, limit, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, NULL);
}

const sd_bus_vtable tenant_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", bus_property_get_string_ptr, offsetof(Tenant, name),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Description", "s", bus_property_get_string_ptr, offsetof(Tenant, description),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("CreatedAt", "t", NULL, offsetof(Tenant, created_usec),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("NInstances", "u", property_get_n_instances, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("SetDescription", SD_BUS_ARGS("s", description), SD_BUS_NO_RESULT,
                                method_set_description, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_PROPERTY("Members", "a(ssu)", property_get_members, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Quotas", "a(sstt)", property_get_quotas, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Usage", "a(sst)", property_get_usage, 0, 0),
        SD_BUS_METHOD_WITH_ARGS("SetQuota",
                                SD_BUS_ARGS("s", resource, "s", model, "t", guarantee, "t", limit),
                                SD_BUS_NO_RESULT, method_set_quota, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Delete", NULL, NULL, method_delete, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("AddMember", SD_BUS_ARGS("s", kind, "s", name), SD_BUS_NO_RESULT,
                                method_add_member, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RemoveMember", SD_BUS_ARGS("s", kind, "s", name), SD_BUS_NO_RESULT,
                                method_remove_member, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

int tenant_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                       sd_bus_error *error) {
        _cleanup_free_ char *name = NULL;
        Manager *m = userdata;
        Tenant *t;
        int r;

        r = sd_bus_path_decode(path, ARK_BUS_PREFIX_TENANT, &name);
        if (r <= 0)
                return 0;
        t = manager_find_tenant(m, name);
        if (!t)
                return 0;
        /* Another tenant's object does not exist for the caller. */
        {
                _cleanup_(caller_done) Caller c = {};
                if (caller_current(m, bus, &c) < 0 || !caller_in_tenant(&c, t))
                        return 0;
        }
        *found = t;
        return 1;
}

int tenant_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes,
                           sd_bus_error *error) {
        _cleanup_strv_free_ char **l = NULL;
        Manager *m = userdata;

        _cleanup_(caller_done) Caller c = {};

        if (caller_current(m, bus, &c) < 0)
                c.admin = false;
        LIST_FOREACH(tenants, t, m->tenants)
                if (caller_in_tenant(&c, t) && strv_extend(&l, t->path) < 0)
                        return -ENOMEM;
        if (!l && !(l = calloc(1, sizeof(char *))))
                return -ENOMEM;
        *nodes = TAKE_PTR(l);
        return 1;
}

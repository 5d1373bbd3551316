/* arkctl tenant create | list | show | delete. */

#include <inttypes.h>
#include <stdio.h>

#include "arkctl.h"
#include "bus-props.h"
#include "output.h"
#include "basic/string-util.h"
#include "shared/bus-util.h"

static const FieldMap tenant_fields[] = {
        { "Name", "name" },
        { "Description", "description" },
        { "CreatedAt", "created_at" },
        { "NInstances", "n_instances" },
        {},
};

static int print_tenant(json_t *props) {
        _cleanup_(table_freep) Table *t = NULL;
        char created[OUTPUT_FORMAT_MAX], n[32];

        if (arg_output == OUTPUT_JSON) {
                _cleanup_(json_decrefp) json_t *j = props_to_json(props, tenant_fields);

                return ctl_print_json(j);
        }

        snprintf(n, sizeof(n), "%" PRIu64, props_u64(props, "NInstances"));
        t = table_new_fields();
        if (!t)
                return ctl_oom();
        table_add_row(t, "Name", props_string(props, "Name"));
        table_add_row(t, "Description", props_string(props, "Description"));
        table_add_row(t, "Created",
                      format_timestamp(created, sizeof(created), props_u64(props, "CreatedAt")));
        table_add_row(t, "Instances", n);
        return ctl_print_table(t);
}

int verb_tenant_create(char **args) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(json_decrefp) json_t *props = NULL;
        const char *name = args[0], *path;
        int r;

        /* Names are checked by arkd, whose sentence says what is wrong (exit status 1). */
        r = ctl_bus_open(&bus);
        if (r < 0)
                return r;
        r = ctl_call(bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "CreateTenant", 0, &reply, "ss",
                     name, strempty(arg_description));
        if (r < 0)
                return r;

        if (arg_output != OUTPUT_JSON) {
                printf("Created tenant '%s'.\n", name);
                return 0;
        }
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return ctl_log_call_error(r, NULL, "CreateTenant");
        r = ctl_get_all(bus, path, ARK_BUS_IFACE_TENANT, &props);
        if (r < 0)
                return r;
        return print_tenant(props);
}

int verb_tenant_list(char **args) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(json_decrefp) json_t *list = json_array();
        _cleanup_(table_freep) Table *t = NULL;
        const char *name, *description, *path;
        int r;

        if (!list)
                return ctl_oom();
        r = ctl_bus_open(&bus);
        if (r < 0)
                return r;
        r = ctl_call(bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "ListTenants", 0, &reply, NULL);
        if (r < 0)
                return r;

        t = table_new("NAME", "INSTANCES", "DESCRIPTION", NULL);
        if (!t)
                return ctl_oom();
        table_set_shrinkable(t, 2, 16);

        r = sd_bus_message_enter_container(reply, 'a', "(sso)");
        if (r < 0)
                return ctl_log_call_error(r, NULL, "ListTenants");
        while ((r = sd_bus_message_read(reply, "(sso)", &name, &description, &path)) > 0) {
                _cleanup_(json_decrefp) json_t *props = NULL;
                char n[32];

                r = ctl_get_all_listed(bus, path, ARK_BUS_IFACE_TENANT, &props);
                if (r < 0)
                        return r;
                if (!props)
                        continue;
                if (arg_output == OUTPUT_JSON) {
                        if (json_array_append_new(list, props_to_json(props, tenant_fields)) < 0)
                                return ctl_oom();
                        continue;
                }
                snprintf(n, sizeof(n), "%" PRIu64, props_u64(props, "NInstances"));
                table_add_row(t, props_string(props, "Name"), n,
                              props_string(props, "Description"));
        }
        if (r < 0)
                return ctl_log_call_error(r, NULL, "ListTenants");

        if (arg_output == OUTPUT_JSON)
                return ctl_print_json(list);
        if (table_rows(t) == 0) {
                if (arg_legend)
                        puts("No tenants.");
                return 0;
        }
        return ctl_print_table(t);
}

int verb_tenant_show(char **args) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(json_decrefp) json_t *props = NULL;
        int r;

        r = ctl_bus_open(&bus);
        if (r < 0)
                return r;
        r = ctl_get_object(bus, "GetTenant", args[0], ARK_BUS_IFACE_TENANT, NULL, &props);
        if (r < 0)
                return r;
        return print_tenant(props);
}

int verb_tenant_delete(char **args) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        r = ctl_bus_open(&bus);
        if (r < 0)
                return r;
        r = ctl_call(bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "DeleteTenant", 0, NULL, "s",
                     args[0]);
        if (r < 0)
                return r;
        if (arg_output == OUTPUT_JSON)
                puts("{}");
        else
                printf("Deleted tenant '%s'.\n", args[0]);
        return 0;
}

/* tenant member add|remove|list TENANT [--user NAME]... [--group NAME]... */
int verb_tenant_member(char **args) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(json_decrefp) json_t *props = NULL;
        _cleanup_free_ char *path = NULL;
        const char *action = args[0], *tenant = args[1];
        bool list = streq(action, "list");
        int r;

        if (!list && !streq(action, "add") && !streq(action, "remove"))
                return usage_error("'tenant member' takes add, remove or list, not '%s'", action);
        if (list && (arg_member_users || arg_member_groups))
                return usage_error("'tenant member list' takes no --user or --group");
        if (!list && !arg_member_users && !arg_member_groups)
                return usage_error("'tenant member %s' needs --user NAME or --group NAME", action);

        r = ctl_bus_open(&bus);
        if (r < 0)
                return r;
        r = ctl_get_object(bus, "GetTenant", tenant, ARK_BUS_IFACE_TENANT, &path, NULL);
        if (r < 0)
                return r;
        for (int kind = 0; kind < 2 && !list; kind++)
                for (char **n = kind == 0 ? arg_member_users : arg_member_groups; n && *n; n++) {
                        r = ctl_call(bus, path, ARK_BUS_IFACE_TENANT, streq(action, "add") ? "AddMember" : "RemoveMember",
                                     0, NULL, "ss", kind == 0 ? "user" : "group", *n);
                        if (r < 0)
                                return r;
                        if (arg_output != OUTPUT_JSON)
                                printf("%s %s '%s' %s tenant '%s'.\n", streq(action, "add") ? "Added" : "Removed",
                                       kind == 0 ? "user" : "group", *n, streq(action, "add") ? "to" : "from", tenant);
                }
        if (!list && arg_output != OUTPUT_JSON)
                return 0;

        r = ctl_get_all(bus, path, ARK_BUS_IFACE_TENANT, &props);
        if (r < 0)
                return r;
        {
                json_t *members = json_object_get(props, "Members"), *m;
                _cleanup_(json_decrefp) json_t *out = json_array();
                _cleanup_(table_freep) Table *t = table_new("KIND", "NAME", "ID", NULL);
                size_t k;

                if (!out || !t)
                        return ctl_oom();
                json_array_foreach(members, k, m) {
                        char id[32];

                        snprintf(id, sizeof(id), "%" JSON_INTEGER_FORMAT, json_integer_value(json_array_get(m, 2)));
                        if (arg_output == OUTPUT_JSON) {
                                if (json_array_append_new(out, json_pack("{s:s, s:s, s:I}", "kind",
                                                                         json_string_value(json_array_get(m, 0)), "name",
                                                                         json_string_value(json_array_get(m, 1)), "id",
                                                                         json_integer_value(json_array_get(m, 2)))) < 0)
                                        return ctl_oom();
                        } else
                                table_add_row(t, json_string_value(json_array_get(m, 0)),
                                              json_string_value(json_array_get(m, 1)), id);
                }
                if (arg_output == OUTPUT_JSON)
                        return ctl_print_json(out);
                if (table_rows(t) == 0) {
                        if (arg_legend)
                                printf("Tenant '%s' has no members.\n", tenant);
                        return 0;
                }
                return ctl_print_table(t);
        }
}

/* arkctl tenant create | list | show | delete. */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arkctl.h"
#include "bus-props.h"
#include "output.h"
#include "basic/parse-util.h"
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
        r = ctl_call(bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "CreateTenant", 0, &reply, "ss", name,
                     strempty(arg_description));
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
                table_add_row(t, props_string(props, "Name"), n, props_string(props, "Description"));
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
        r = ctl_call(bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "DeleteTenant", 0, NULL, "s", args[0]);
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
                        r = ctl_call(bus, path, ARK_BUS_IFACE_TENANT,
                                     streq(action, "add") ? "AddMember" : "RemoveMember", 0, NULL, "ss",
                                     kind == 0 ? "user" : "group", *n);
                        if (r < 0)
                                return r;
                        if (arg_output != OUTPUT_JSON)
                                printf("%s %s '%s' %s tenant '%s'.\n",
                                       streq(action, "add") ? "Added" : "Removed",
                                       kind == 0 ? "user" : "group", *n,
                                       streq(action, "add") ? "to" : "from", tenant);
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

                        snprintf(id, sizeof(id), "%" JSON_INTEGER_FORMAT,
                                 json_integer_value(json_array_get(m, 2)));
                        if (arg_output == OUTPUT_JSON) {
                                if (json_array_append_new(
                                            out,
                                            json_pack("{s:s, s:s, s:I}", "kind",
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

static bool quota_is_bytes(const char *resource) {
        return streq(resource, "gpu-memory") || streq(resource, "memory") || streq(resource, "disk");
}

/* "none" or an amount (a size for the byte resources). */
static int parse_quota_amount(const char *spec, const char *resource, const char *s, uint64_t *ret) {
        int r;

        if (streq(s, "none")) {
                *ret = UINT64_MAX;
                return 0;
        }
        r = quota_is_bytes(resource) ? parse_size(s, ret) : parse_u64(s, ret);
        if (r < 0 || *ret == UINT64_MAX)
                return usage_error("'%s': '%s' is not %s", spec, s,
                                   quota_is_bytes(resource) ? "a size like 64G" : "a whole number");
        return 0;
}

/* Parses one spec and, with a bus, sets it. */
static int quota_set_one(sd_bus *bus, const char *path, const char *tenant, const char *spec) {
        _cleanup_free_ char *key = NULL;
        const char *eq = strchr(spec, '='), *colon, *dots, *model = "";
        uint64_t guarantee = 0, limit = UINT64_MAX;
        _cleanup_free_ char *g = NULL;
        int r;

        if (!eq || eq == spec)
                return usage_error(
                        "'%s' is not RESOURCE[:MODEL]=[GUARANTEE..]LIMIT (like gpus=4 or gpus:H100=1..2)",
                        spec);
        key = strndup(spec, (size_t) (eq - spec));
        if (!key)
                return ctl_oom();
        colon = strchr(key, ':');
        if (colon) {
                key[colon - key] = 0;
                model = colon + 1;
        }
        dots = strstr(eq + 1, "..");
        if (dots) {
                g = strndup(eq + 1, (size_t) (dots - eq - 1));
                if (!g)
                        return ctl_oom();
                r = parse_quota_amount(spec, key, g, &guarantee);
                if (r != 0)
                        return r;
                if (guarantee == UINT64_MAX)
                        return usage_error("'%s': the guarantee cannot be none", spec);
        }
        r = parse_quota_amount(spec, key, dots ? dots + 2 : eq + 1, &limit);
        if (r != 0 || !bus)
                return r;
        r = ctl_call(bus, path, ARK_BUS_IFACE_TENANT, "SetQuota", 0, NULL, "sstt", key, model, guarantee,
                     limit);
        if (r < 0)
                return r;
        if (arg_output != OUTPUT_JSON)
                printf("Set quota %s on tenant '%s'.\n", spec, tenant);
        return 0;
}

static void quota_format(const char *resource, uint64_t v, char *buf, size_t l) {
        if (v == UINT64_MAX)
                snprintf(buf, l, "-");
        else if (quota_is_bytes(resource))
                format_bytes(buf, l, v);
        else
                snprintf(buf, l, "%" PRIu64, v);
}

static json_t *quota_json(uint64_t v) {
        return v == UINT64_MAX ? json_null() : json_integer((json_int_t) v);
}

/* tenant quota set TENANT SPEC... | tenant quota show TENANT */
int verb_tenant_quota(char **args) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(json_decrefp) json_t *props = NULL, *out = NULL;
        _cleanup_(table_freep) Table *t = NULL;
        _cleanup_free_ char *path = NULL;
        const char *action = args[0], *tenant = args[1];
        json_t *quotas, *usage, *q, *u;
        size_t k;
        int r;

        if (!streq(action, "set") && !streq(action, "show"))
                return usage_error("'tenant quota' takes set or show, not '%s'", action);
        if (streq(action, "show") && args[2])
                return usage_error("'tenant quota show' takes only the tenant");
        if (streq(action, "set") && !args[2])
                return usage_error(
                        "'tenant quota set' needs RESOURCE[:MODEL]=[GUARANTEE..]LIMIT, like gpus=4");

        /* Every spec is checked before any is sent. */
        for (char **s = args + 2; *s; s++) {
                r = quota_set_one(NULL, NULL, tenant, *s);
                if (r != 0)
                        return r;
        }
        r = ctl_bus_open(&bus);
        if (r < 0)
                return r;
        r = ctl_get_object(bus, "GetTenant", tenant, ARK_BUS_IFACE_TENANT, &path, NULL);
        if (r < 0)
                return r;
        for (char **s = args + 2; *s; s++) {
                r = quota_set_one(bus, path, tenant, *s);
                if (r < 0)
                        return r;
        }
        if (streq(action, "set") && arg_output != OUTPUT_JSON)
                return 0;

        r = ctl_get_all(bus, path, ARK_BUS_IFACE_TENANT, &props);
        if (r < 0)
                return r;
        quotas = json_object_get(props, "Quotas");
        usage = json_object_get(props, "Usage");
        out = json_array();
        t = table_new("RESOURCE", "MODEL", "USED", "GUARANTEE", "LIMIT", NULL);
        if (!out || !t)
                return ctl_oom();
        /* Every resource with its usage; the quota where there is one. */
        json_array_foreach(usage, k, u) {
                const char *res = json_string_value(json_array_get(u, 0)),
                           *model = json_string_value(json_array_get(u, 1));
                uint64_t used = (uint64_t) json_integer_value(json_array_get(u, 2)), guarantee = 0,
                         limit = UINT64_MAX;
                char b1[32], b2[32], b3[32];
                size_t j;

                json_array_foreach(quotas, j, q)
                        if (streq(json_string_value(json_array_get(q, 0)), res) &&
                            streq(json_string_value(json_array_get(q, 1)), model)) {
                                guarantee = (uint64_t) json_integer_value(json_array_get(q, 2));
                                limit = (uint64_t) json_integer_value(json_array_get(q, 3));
                        }
                if (arg_output == OUTPUT_JSON) {
                        if (json_array_append_new(out,
                                                  json_pack("{s:s, s:s, s:I, s:I, s:o}", "resource", res,
                                                            "model", model, "used", (json_int_t) used,
                                                            "guarantee", (json_int_t) guarantee, "limit",
                                                            quota_json(limit))) < 0)
                                return ctl_oom();
                        continue;
                }
                quota_format(res, used, b1, sizeof(b1));
                quota_format(res, guarantee, b2, sizeof(b2));
                quota_format(res, limit, b3, sizeof(b3));
                table_add_row(t, res, *model ? model : "-", b1, guarantee ? b2 : "-", b3);
        }
        if (arg_output == OUTPUT_JSON)
                return ctl_print_json(out);
        return ctl_print_table(t);
}

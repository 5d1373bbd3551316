/* arkctl network create | list | show | delete | forward | prune. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "arkctl.h"
#include "basic/parse-util.h"
#include "basic/string-util.h"
#include "bus-props.h"
#include "output.h"
#include "shared/bus-util.h"

static const FieldMap nic_members[] = {
        { NULL, "instance" }, { NULL, "mac" }, { NULL, "ipv4" }, { NULL, "interface" }, {},
};

static const FieldMap forward_members[] = {
        { NULL, "protocol" }, { NULL, "port" }, { NULL, "instance" }, { NULL, "to_port" }, {},
};

static const FieldMap network_fields[] = {
        { "Name", "name" },
        { "Id", "id" },
        { "Tenant", "tenant" },
        { "Mode", "mode" },
        { "Subnet", "subnet" },
        { "Subnet6", "subnet6" },
        { "Gateway", "gateway" },
        { "VLAN", "vlan" },
        { "Uplink", "uplink" },
        { "Segment", "segment" },
        { "MTU", "mtu" },
        { "Bridge", "bridge" },
        { "CreatedAt", "created_at" },
        { "Problem", "problem" },
        { "Instances", "instances", FIELD_STRUCTS, nic_members },
        { "Forwards", "forwards", FIELD_STRUCTS, forward_members },
        {},
};

static int print_network(json_t *props) {
        _cleanup_(table_freep) Table *t = NULL;
        _cleanup_free_ char *instances = NULL, *forwards = NULL, *mode = NULL;
        char created[OUTPUT_FORMAT_MAX], mtu[32], segment[32];
        json_t *list, *e;
        size_t k;

        if (arg_output == OUTPUT_JSON) {
                _cleanup_(json_decrefp) json_t *j = props_to_json(props, network_fields);

                return ctl_print_json(j);
        }
        if (streq(props_string(props, "Mode"), "vlan"))
                mode = strprintf("vlan %" PRIu64 " on %s", props_u64(props, "VLAN"),
                                 props_string(props, "Uplink"));
        else if (streq(props_string(props, "Mode"), "nat"))
                mode = strprintf("nat out of %s", props_string(props, "Uplink"));
        else
                mode = strdup(props_string(props, "Mode"));
        {
                StrBuf b = {};

                list = json_object_get(props, "Instances");
                json_array_foreach(list, k, e)
                        strbuf_printf(&b, "%s%s %s (%s)", k > 0 ? ", " : "",
                                      strempty(json_string_value(json_array_get(e, 0))),
                                      strempty(json_string_value(json_array_get(e, 2))),
                                      strempty(json_string_value(json_array_get(e, 1))));
                instances = strbuf_steal(&b);
        }
        {
                StrBuf b = {};

                list = json_object_get(props, "Forwards");
                json_array_foreach(list, k, e)
                        strbuf_printf(&b, "%s%s %" JSON_INTEGER_FORMAT " -> %s:%" JSON_INTEGER_FORMAT,
                                      k > 0 ? ", " : "", strempty(json_string_value(json_array_get(e, 0))),
                                      json_integer_value(json_array_get(e, 1)),
                                      strempty(json_string_value(json_array_get(e, 2))),
                                      json_integer_value(json_array_get(e, 3)));
                forwards = strbuf_steal(&b);
        }
        if (!mode)
                return ctl_oom();
        snprintf(mtu, sizeof(mtu), "%" PRIu64, props_u64(props, "MTU"));
        snprintf(segment, sizeof(segment), "%" PRIu64, props_u64(props, "Segment"));

        t = table_new_fields();
        if (!t)
                return ctl_oom();
        table_add_row(t, "Name", props_string(props, "Name"));
        table_add_row(t, "Tenant", props_string(props, "Tenant"));
        table_add_row(t, "Mode", mode);
        table_add_row(t, "Subnet", props_string(props, "Subnet"));
        table_add_row(t, "Gateway", props_string(props, "Gateway"));
        table_add_row(t, "IPv6", strdash(props_string(props, "Subnet6")));
        table_add_row(t, "MTU", mtu);
        table_add_row(t, "Bridge", props_string(props, "Bridge"));
        table_add_row(t, "Segment", segment);
        table_add_row(t, "Instances", isempty(instances) ? "none" : instances);
        table_add_row(t, "Forwards", isempty(forwards) ? "none" : forwards);
        if (!isempty(props_string(props, "Problem")))
                table_add_row(t, "Problem", props_string(props, "Problem"));
        table_add_row(t, "Created",
                      format_timestamp(created, sizeof(created), props_u64(props, "CreatedAt")));
        return ctl_print_table(t);
}

static int show_network(sd_bus *bus, const char *name) {
        _cleanup_(json_decrefp) json_t *props = NULL;
        int r;

        r = ctl_get_object(bus, "GetNetwork", name, ARK_BUS_IFACE_NETWORK, NULL, &props);
        if (r < 0)
                return r;
        return print_network(props);
}

int verb_network_create(char **args) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = ctl_bus_open(&bus);
        if (r < 0)
                return r;
        if (isempty(arg_tenant))
                return usage_error("--tenant: the tenant name may not be empty");
        r = ctl_new_call(bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "CreateNetwork", &m);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "ss", args[0], arg_tenant);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0 && arg_net_mode)
                r = sd_bus_message_append(m, "{sv}", "Mode", "s", arg_net_mode);
        if (r >= 0 && arg_subnet)
                r = sd_bus_message_append(m, "{sv}", "Subnet", "s", arg_subnet);
        if (r >= 0 && arg_uplink)
                r = sd_bus_message_append(m, "{sv}", "Uplink", "s", arg_uplink);
        if (r >= 0 && arg_vlan > 0)
                r = sd_bus_message_append(m, "{sv}", "VLAN", "u", arg_vlan);
        if (r >= 0 && arg_mtu > 0)
                r = sd_bus_message_append(m, "{sv}", "MTU", "u", arg_mtu);
        if (r >= 0 && arg_no_ipv6)
                r = sd_bus_message_append(m, "{sv}", "IPv6", "b", 0);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                return ctl_oom();
        r = ctl_send(bus, m, CTL_SLOW_CALL_USEC, NULL);
        if (r < 0)
                return r;
        if (arg_output == OUTPUT_JSON) {
                _cleanup_free_ char *full = strprintf("%s/%s", arg_tenant, args[0]);

                return full ? show_network(bus, full) : ctl_oom();
        }
        printf("Created network '%s' of tenant '%s'.\n", args[0], arg_tenant);
        return 0;
}

int verb_network_list(char **args) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(json_decrefp) json_t *list = json_array();
        _cleanup_(table_freep) Table *t = NULL;
        const char *name, *tenant, *mode, *subnet, *path;
        int r;

        if (!list)
                return ctl_oom();
        r = ctl_bus_open(&bus);
        if (r < 0)
                return r;
        if (arg_tenant) {
                r = ctl_get_object(bus, "GetTenant", arg_tenant, ARK_BUS_IFACE_TENANT, NULL, NULL);
                if (r < 0)
                        return r;
        }
        r = ctl_call(bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "ListNetworks", 0, &reply, NULL);
        if (r < 0)
                return r;
        t = table_new("NAME", "TENANT", "MODE", "SUBNET", "INSTANCES", NULL);
        if (!t)
                return ctl_oom();
        r = sd_bus_message_enter_container(reply, 'a', "(sssso)");
        if (r < 0)
                return ctl_log_call_error(r, NULL, "ListNetworks");
        while ((r = sd_bus_message_read(reply, "(sssso)", &name, &tenant, &mode, &subnet, &path)) > 0) {
                _cleanup_(json_decrefp) json_t *props = NULL;
                char n[32];

                if (arg_tenant && !streq(tenant, arg_tenant))
                        continue;
                r = ctl_get_all_listed(bus, path, ARK_BUS_IFACE_NETWORK, &props);
                if (r < 0)
                        return r;
                if (!props)
                        continue;
                if (arg_output == OUTPUT_JSON) {
                        if (json_array_append_new(list, props_to_json(props, network_fields)) < 0)
                                return ctl_oom();
                        continue;
                }
                snprintf(n, sizeof(n), "%zu", json_array_size(json_object_get(props, "Instances")));
                table_add_row(t, name, tenant, mode, subnet, n);
        }
        if (r < 0)
                return ctl_log_call_error(r, NULL, "ListNetworks");
        if (arg_output == OUTPUT_JSON)
                return ctl_print_json(list);
        if (table_rows(t) == 0) {
                if (arg_legend)
                        printf("No networks.\n");
                return 0;
        }
        return ctl_print_table(t);
}

int verb_network_show(char **args) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        r = ctl_bus_open(&bus);
        if (r < 0)
                return r;
        return show_network(bus, args[0]);
}

int verb_network_delete(char **args) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        r = ctl_bus_open(&bus);
        if (r < 0)
                return r;
        r = ctl_call(bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "DeleteNetwork", CTL_SLOW_CALL_USEC, NULL,
                     "s", args[0]);
        if (r < 0)
                return r;
        if (arg_output == OUTPUT_JSON)
                printf("{}\n");
        else
                printf("Deleted network '%s'.\n", args[0]);
        return 0;
}

/* "INSTANCE:PORT" */
static int parse_target(const char *s, char **ret_instance, uint16_t *ret_port) {
        const char *colon = s ? strrchr(s, ':') : NULL;
        uint32_t port;

        if (!colon || colon == s || parse_u32(colon + 1, &port) < 0 || port < 1 || port > 65535)
                return usage_error("--to: '%s' is not INSTANCE:PORT (e.g. web:443)", strempty(s));
        *ret_instance = strndup(s, (size_t) (colon - s));
        if (!*ret_instance)
                return ctl_oom();
        *ret_port = (uint16_t) port;
        return 0;
}

int verb_network_forward(char **args) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *path = NULL, *instance = NULL;
        const char *proto = arg_udp ? "udp" : "tcp";
        bool add = streq(args[0], "add");
        uint16_t to_port = 0;
        int r;

        if (!add && !streq(args[0], "remove"))
                return usage_error("network forward: '%s' is not add or remove", args[0]);
        if (arg_port == 0)
                return usage_error("network forward %s: --port is required", args[0]);
        if (add) {
                r = parse_target(arg_to_target, &instance, &to_port);
                if (r != 0)
                        return r;
        } else if (arg_to_target)
                return usage_error("network forward remove: --to is for add only");
        r = ctl_bus_open(&bus);
        if (r < 0)
                return r;
        r = ctl_get_object(bus, "GetNetwork", args[1], ARK_BUS_IFACE_NETWORK, &path, NULL);
        if (r < 0)
                return r;
        if (add)
                r = ctl_call(bus, path, ARK_BUS_IFACE_NETWORK, "AddForward", 0, NULL, "sqsq", proto,
                             (uint16_t) arg_port, instance, to_port);
        else
                r = ctl_call(bus, path, ARK_BUS_IFACE_NETWORK, "RemoveForward", 0, NULL, "sq", proto,
                             (uint16_t) arg_port);
        if (r < 0)
                return r;
        if (arg_output == OUTPUT_JSON)
                return show_network(bus, args[1]);
        if (add)
                printf("Forwarding %s port %u of the host to %s:%u (network '%s').\n", proto, arg_port,
                       instance, to_port, args[1]);
        else
                printf("Removed the forward of %s port %u (network '%s').\n", proto, arg_port, args[1]);
        return 0;
}

int verb_network_prune(char **args) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_strv_free_ char **orphans = NULL;
        int r;

        r = ctl_bus_open(&bus);
        if (r < 0)
                return r;
        r = sd_bus_get_property_strv(bus, ARK_BUS_NAME, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER,
                                     "NetworkOrphans", NULL, &orphans);
        if (r < 0)
                return ctl_log_call_error(r, NULL, "NetworkOrphans");
        r = ctl_call(bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "PruneNetworkOrphans", 0, NULL, NULL);
        if (r < 0)
                return r;
        if (strv_length(orphans) == 0)
                printf("No network links to remove.\n");
        for (char **o = orphans; o && *o; o++)
                printf("Removed network link %s.\n", *o);
        return 0;
}

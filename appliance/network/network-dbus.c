/* org.ark.Ark1.Network objects: a tenant's network, seen by its members and admins only. */

#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <systemd/sd-bus.h>

#include "access.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "instance.h"
#include "manager.h"
#include "network.h"
#include "shared/bus-util.h"
#include "tenant.h"

static int property_get_mode(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Network *n = userdata;
        return sd_bus_message_append(reply, "s", net_mode_to_string(n->mode));
}

static int property_get_prefix(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Network *n = userdata;
        const NetPrefix *p = streq(property, "Subnet6") ? &n->subnet6 : &n->subnet4;
        char buf[NET_PREFIX_STRLEN];

        return sd_bus_message_append(reply, "s", p->addr.family ? net_prefix_to_string(p, buf) : "");
}

static int property_get_gateway(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Network *n = userdata;
        char buf[NET_ADDR_STRLEN];
        NetAddr a = {};

        (void) net_prefix_host(&n->subnet4, 1, &a);
        return sd_bus_message_append(reply, "s", net_addr_to_string(&a, buf));
}

static int property_get_bridge(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Network *n = userdata;
        return sd_bus_message_append(reply, "s", n->bridge);
}

static int property_get_uuid(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Network *n = userdata;
        return sd_bus_message_append(reply, "s", n->uuid);
}

static const char *instance_name_of(Manager *m, int64_t id) {
        LIST_FOREACH(instances, i, m->instances)
                if (i->id == id)
                        return i->name;
        return "";
}

/* (instance, MAC, IPv4 address, host-side interface) of every NIC on the network. */
static int property_get_instances(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Network *n = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(ssss)");
        if (r < 0)
                return r;
        LIST_FOREACH(nics, c, n->nics) {
                char mac[NET_MAC_STRLEN], ip[NET_ADDR_STRLEN];

                r = sd_bus_message_append(reply, "(ssss)", instance_name_of(n->manager, c->instance_id),
                                          net_mac_to_string(c->mac, mac), net_addr_to_string(&c->ip4, ip),
                                          c->ifname);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

/* (protocol, host port, instance, instance port) of every forward. */
static int property_get_forwards(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Network *n = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(sqsq)");
        if (r < 0)
                return r;
        LIST_FOREACH(forwards, f, n->forwards) {
                r = sd_bus_message_append(reply, "(sqsq)", f->proto == IPPROTO_TCP ? "tcp" : "udp", f->port,
                                          instance_name_of(n->manager, f->nic->instance_id), f->to_port);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int method_delete(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        int r = network_delete(userdata, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, NULL);
}

static int method_add_forward(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Network *n = userdata;
        const char *proto, *instance;
        uint16_t port, to_port;
        Instance *i;
        int r;

        r = sd_bus_message_read(msg, "sqsq", &proto, &port, &instance, &to_port);
        if (r < 0)
                return r;
        /* A forward opens a tenant's service to the site: the admin decides. */
        r = access_require_admin(n->manager, msg, "forward ports to tenant networks", error);
        if (r < 0)
                return r;
        i = manager_find_instance_in(n->manager, n->tenant, instance);
        if (!i)
                return sd_bus_error_setf(error, ARK_ERROR_NOT_FOUND, "Tenant '%s' has no instance '%.80s'.",
                                         n->tenant, instance);
        r = network_forward_add(n, proto, port, i, to_port, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, NULL);
}

static int method_remove_forward(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        const char *proto;
        uint16_t port;
        int r;

        r = sd_bus_message_read(msg, "sq", &proto, &port);
        if (r < 0)
                return r;
        /* Closing what is open is always allowed to the tenant. */
        r = network_forward_remove(userdata, proto, port, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, NULL);
}

static int property_get_problem(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Network *n = userdata;
        return sd_bus_message_append(reply, "s", strempty(n->problem));
}

const sd_bus_vtable network_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", bus_property_get_string_ptr, offsetof(Network, name),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Id", "s", property_get_uuid, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Tenant", "s", bus_property_get_string_ptr, offsetof(Network, tenant),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Mode", "s", property_get_mode, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Subnet", "s", property_get_prefix, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Subnet6", "s", property_get_prefix, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Gateway", "s", property_get_gateway, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("VLAN", "u", NULL, offsetof(Network, vlan_id), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Uplink", "s", bus_property_get_string_ptr, offsetof(Network, uplink),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Segment", "u", NULL, offsetof(Network, segment), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("MTU", "u", NULL, offsetof(Network, mtu), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Bridge", "s", property_get_bridge, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("CreatedAt", "t", NULL, offsetof(Network, created_usec),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Problem", "s", property_get_problem, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Instances", "a(ssss)", property_get_instances, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Forwards", "a(sqsq)", property_get_forwards, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD("Delete", NULL, NULL, method_delete, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("AddForward",
                                SD_BUS_ARGS("s", protocol, "q", port, "s", instance, "q", to_port),
                                SD_BUS_NO_RESULT, method_add_forward, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RemoveForward", SD_BUS_ARGS("s", protocol, "q", port), SD_BUS_NO_RESULT,
                                method_remove_forward, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

static bool caller_sees(Manager *m, const Caller *c, const Network *n) {
        Tenant *t = manager_find_tenant(m, n->tenant);
        return t && caller_in_tenant(c, t);
}

int network_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                        sd_bus_error *error) {
        _cleanup_free_ char *tenant = NULL, *name = NULL;
        _cleanup_(caller_done) Caller c = {};
        Manager *m = userdata;
        Network *n;
        int r;

        r = sd_bus_path_decode_many(path, ARK_BUS_PREFIX_NETWORK "/%/%", &tenant, &name);
        if (r <= 0)
                return 0;
        n = network_find(m, tenant, name);
        if (!n)
                return 0;
        /* Another tenant's object does not exist for the caller. */
        if (caller_current(m, bus, &c) < 0 || !caller_sees(m, &c, n))
                return 0;
        *found = n;
        return 1;
}

int network_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes,
                            sd_bus_error *error) {
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_(caller_done) Caller c = {};
        Manager *m = userdata;

        if (caller_current(m, bus, &c) < 0)
                c.admin = false;
        LIST_FOREACH(networks, n, m->networks)
                if (caller_sees(m, &c, n) && strv_extend(&l, n->path) < 0)
                        return -ENOMEM;
        if (!l && !(l = calloc(1, sizeof(char *))))
                return -ENOMEM;
        *nodes = TAKE_PTR(l);
        return 1;
}

/* ---------------------------------------------------------------------------------- the manager's */

static int read_options(sd_bus_message *msg, NetworkParams *p, sd_bus_error *error) {
        int r;

        r = sd_bus_message_enter_container(msg, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(msg, 'e', "sv")) > 0) {
                const char *key, *contents = NULL, *want;
                char type;

                r = sd_bus_message_read(msg, "s", &key);
                if (r < 0)
                        return r;
                if (streq(key, "Mode") || streq(key, "Subnet") || streq(key, "Uplink"))
                        want = "s";
                else if (streq(key, "VLAN") || streq(key, "MTU"))
                        want = "u";
                else if (streq(key, "IPv6"))
                        want = "b";
                else
                        return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                                 "Unknown network option '%.60s'.", key);
                r = sd_bus_message_peek_type(msg, &type, &contents);
                if (r < 0)
                        return r;
                if (type != 'v' || !streq_ptr(contents, want))
                        return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                                 "Network option '%s' must be of type '%s', got '%s'.", key,
                                                 want, strna(contents));
                if (streq(key, "Mode"))
                        r = sd_bus_message_read(msg, "v", "s", &p->mode);
                else if (streq(key, "Subnet"))
                        r = sd_bus_message_read(msg, "v", "s", &p->subnet);
                else if (streq(key, "Uplink"))
                        r = sd_bus_message_read(msg, "v", "s", &p->uplink);
                else if (streq(key, "VLAN"))
                        r = sd_bus_message_read(msg, "v", "u", &p->vlan_id);
                else if (streq(key, "MTU"))
                        r = sd_bus_message_read(msg, "v", "u", &p->mtu);
                else {
                        int b;

                        r = sd_bus_message_read(msg, "v", "b", &b);
                        p->no_ipv6 = !b;
                }
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(msg);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(msg);
}

int network_method_create(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(caller_done) Caller c = {};
        Manager *m = userdata;
        NetworkParams p = {};
        Network *n;
        int r;

        r = sd_bus_message_read(msg, "ss", &p.name, &p.tenant);
        if (r >= 0)
                r = read_options(msg, &p, error);
        if (r < 0)
                return r;
        r = caller_get(m, msg, &c, error);
        if (r < 0)
                return r;
        if (!c.admin) {
                if (!caller_in_tenant_named(m, &c, p.tenant))
                        return sd_bus_error_setf(
                                error, ARK_ERROR_ACCESS_DENIED,
                                "User %u may not create networks in tenant '%.80s': it is not a "
                                "member of it.",
                                (unsigned) c.uid, p.tenant);
                /* The site's side (uplinks, VLANs) is the admin's. */
                if (!isempty(p.uplink) || streq_ptr(p.mode, "vlan"))
                        return sd_bus_error_setf(error, ARK_ERROR_ACCESS_DENIED,
                                                 "User %u may not choose uplinks or VLANs: ask an admin.",
                                                 (unsigned) c.uid);
        }
        p.caller_admin = c.admin;
        r = network_create(m, &p, &n, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, "o", n->path);
}

int network_method_list(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(caller_done) Caller c = {};
        Manager *m = userdata;
        int r;

        r = access_require_member(m, msg, &c, "list networks", error);
        if (r < 0)
                return r;
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(sssso)");
        if (r < 0)
                return r;
        LIST_FOREACH(networks, n, m->networks) {
                char subnet[NET_PREFIX_STRLEN];

                if (!caller_sees(m, &c, n))
                        continue;
                r = sd_bus_message_append(reply, "(sssso)", n->name, n->tenant, net_mode_to_string(n->mode),
                                          net_prefix_to_string(&n->subnet4, subnet), n->path);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* `name` is NAME or TENANT/NAME (network names are unique per tenant). */
static Network *network_by_name_or_error(Manager *m, sd_bus_message *msg, const char *name, const char *what,
                                         sd_bus_error *error) {
        _cleanup_(caller_done) Caller c = {};
        Network *found = NULL;
        const char *slash = strchr(name, '/');
        unsigned n_found = 0;

        if (caller_get(m, msg, &c, error) < 0)
                return NULL;
        LIST_FOREACH(networks, n, m->networks) {
                bool match = slash ? strneq(n->tenant, name, (size_t) (slash - name)) &&
                                n->tenant[slash - name] == 0 && streq(n->name, slash + 1)
                                   : streq(n->name, name);

                if (match && caller_sees(m, &c, n)) {
                        found = n;
                        n_found++;
                }
        }
        if (n_found > 1) {
                sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                  "More than one tenant you may see has a network named '%.80s': name it as "
                                  "TENANT/%.80s.",
                                  name, name);
                return NULL;
        }
        if (found)
                return found;
        if (c.admin)
                sd_bus_error_setf(error, ARK_ERROR_NOT_FOUND, "Network '%.80s' does not exist.", name);
        else
                sd_bus_error_setf(error, ARK_ERROR_ACCESS_DENIED,
                                  "User %u may not %s network '%.80s': it is not a member of its tenant.",
                                  (unsigned) c.uid, what, name);
        return NULL;
}

int network_method_get(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        const char *name;
        Network *n;
        int r;

        r = sd_bus_message_read(msg, "s", &name);
        if (r < 0)
                return r;
        n = network_by_name_or_error(userdata, msg, name, "see", error);
        if (!n)
                return -ENOENT;
        return sd_bus_reply_method_return(msg, "o", n->path);
}

int network_method_delete(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        const char *name;
        Network *n;
        int r;

        r = sd_bus_message_read(msg, "s", &name);
        if (r < 0)
                return r;
        n = network_by_name_or_error(userdata, msg, name, "delete", error);
        if (!n)
                return -ENOENT;
        r = network_delete(n, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, NULL);
}

int network_method_prune_orphans(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        int r;

        r = access_require_admin(userdata, msg, "remove network links", error);
        if (r < 0)
                return r;
        r = network_orphans_prune(userdata, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, NULL);
}

/* The host's links are the admin's business (as Orphans): empty for everyone else. */
int network_property_get_orphans(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        _cleanup_(caller_done) Caller c = {};

        if (caller_current(userdata, bus, &c) < 0 || !c.admin)
                return sd_bus_message_append_strv(reply, NULL);
        return sd_bus_message_append_strv(reply, network_orphans(userdata));
}

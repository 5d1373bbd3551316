#pragma once

/* Tenant networks in arkd: the Network objects (from the store's records), their NICs (an
 * instance's port: MAC, address, host-side interface name, all chosen and stored by arkd) and
 * forwards, and the data path that carries them out: a bridge per network (links.h), dnsmasq per
 * network (dnsmasq.h) and Ark's nftables tables (net/netrules.h), loaded in one transaction with
 * libnftables after every change.
 *
 * The store is the source of truth: on start-up the data path is made again from it (bridges
 * corrected or created, dnsmasq started, the whole rule set replaced); links named as Ark's but
 * unknown to the store are reported (NetworkOrphans) and removed only when the admin asks. Rules
 * in tables other than Ark's are never touched.
 *
 * Every function runs in the thread of the event loop. Functions that take `error` fill it with a
 * named Ark error and a sentence on failure and return a negative errno; a refused request
 * changes nothing (no row, no link, no rule). */

#include <errno.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <systemd/sd-bus.h>

#include "basic/list.h"
#include "net/netaddr.h"
#include "net/netrules.h"

typedef struct Manager Manager;
typedef struct Instance Instance;
typedef struct Network Network;
typedef struct NetState NetState;
struct InstanceDriver;

typedef struct Nic Nic;
struct Nic {
        int64_t id;
        int64_t instance_id;
        Network *network;
        unsigned position; /* order among the instance's NICs */
        uint8_t mac[6];
        NetAddr ip4;
        char ifname[IF_NAMESIZE]; /* the host side: a VM's tap */
        LIST_FIELDS(struct Nic, nics);
};

typedef struct Forward {
        int64_t id;
        Nic *nic;
        uint8_t proto; /* IPPROTO_TCP or IPPROTO_UDP */
        uint16_t port, to_port;
        uint64_t created_usec;
        LIST_FIELDS(struct Forward, forwards);
} Forward;

struct Network {
        Manager *manager;
        int64_t id;
        char uuid[37];
        char *name, *tenant, *path;
        NetMode mode;
        NetPrefix subnet4, subnet6; /* subnet6.addr.family 0 = no IPv6 */
        unsigned vlan_id;           /* 0 = none */
        char *uplink;               /* NAT: where traffic leaves; VLAN: the tagged link; NULL */
        uint32_t segment;
        unsigned mtu;
        char bridge[IF_NAMESIZE];
        uint8_t mac[6]; /* the bridge's */
        uint64_t created_usec;
        Nic *nics;
        Forward *forwards;
        struct Dnsmasq *dnsmasq;
        char *problem; /* why its data path is not up, NULL when it is */
        LIST_FIELDS(Network, networks);
};

/* What CreateNetwork asks for. */
typedef struct NetworkParams {
        const char *name, *tenant;
        const char *mode;   /* "nat" (default), "isolated", "vlan" */
        const char *subnet; /* IPv4 CIDR; NULL = picked from the configured pool */
        const char *uplink; /* NULL = the configured or the default route's (nat); required (vlan) */
        unsigned vlan_id;   /* vlan: 1-4094 */
        unsigned mtu;       /* 0 = the configured default */
        bool no_ipv6;
        bool tenant_pending; /* the tenant is being created in the same transaction */
        bool caller_admin;   /* an admin asks (members: subnets in the pool, a cap on networks) */
} NetworkParams;

#ifndef CONFIG_TENANT_NETWORKS
/* Built without tenant networks (CONFIG_TENANT_NETWORKS): instances get no NICs, tenants no
 * networks; nothing else changes. */
static inline int network_startup(Manager *m) {
        return 0;
}
static inline void network_shutdown(Manager *m) {
}
static inline void network_metrics_render(Manager *m, struct StrBuf *b) {
}
static inline void network_tenant_usage(Manager *m, const char *tenant, uint64_t *ret_networks,
                                        uint64_t *ret_forwards) {
        *ret_networks = *ret_forwards = 0;
}
static inline bool network_available(Manager *m) {
        return false;
}
static inline void network_default_params(Manager *m, const char *tenant, NetworkParams *ret) {
        *ret = (NetworkParams) {};
}
static inline int network_create_pending(Manager *m, const NetworkParams *p, Network **ret,
                                         sd_bus_error *error) {
        return -EOPNOTSUPP;
}
static inline void network_create_finish(Network *n) {
}
static inline void network_create_undo(Network *n) {
}
static inline void network_forget_tenant(Manager *m, const char *tenant) {
}
static inline int network_nics_allocate(Manager *m, Instance *i, char *const *networks, Nic ***ret_nics,
                                        sd_bus_error *error) {
        *ret_nics = NULL;
        if (networks && networks[0])
                return sd_bus_error_setf(error, "org.ark.Ark1.Error.NotSupported",
                                         "This build of arkd has no tenant networks.");
        return 0;
}
static inline void network_nics_commit(Manager *m, Nic **nics) {
}
static inline void network_nics_abort(Manager *m, Nic **nics) {
}
static inline void network_instance_deleted(Manager *m, int64_t instance_id) {
}
static inline int network_instance_add(Instance *i, const struct InstanceDriver *d, const char *network,
                                       sd_bus_error *error) {
        return sd_bus_error_setf(error, "org.ark.Ark1.Error.NotSupported",
                                 "This build of arkd has no tenant networks.");
}
static inline int network_instance_remove(Instance *i, const struct InstanceDriver *d, const char *network,
                                          sd_bus_error *error) {
        return network_instance_add(i, d, network, error);
}
static inline Nic **network_instance_nics(Manager *m, int64_t instance_id) {
        return (Nic **) calloc(1, sizeof(Nic *));
}
static inline int network_instance_plug_netns(Instance *i, int netns_fd, sd_bus_error *error) {
        return 0;
}
#else
const char *net_mode_to_string(NetMode m);
int net_mode_from_string(const char *s, NetMode *ret);

/* Opens netlink and libnftables, loads networks, NICs and forwards from the store, and makes the
 * data path from them (a network whose data path cannot be made says why in its Problem and is
 * tried again at the next change). Reports Ark-named links the store does not know. */
int network_startup(Manager *m);
/* Stops every dnsmasq; bridges and rules stay (instances keep their network while arkd is away). */
void network_shutdown(Manager *m);

Network *network_find(Manager *m, const char *tenant, const char *name);
/* A tenant's default network (NETWORK_DEFAULT_NAME), NULL when it has none. */
#define NETWORK_DEFAULT_NAME "default"

int network_create(Manager *m, const NetworkParams *p, Network **ret, sd_bus_error *error);
/* The same in steps, for a caller with its own open transaction (a tenant created with its
 * default network): the row inserted and the data path up; then, after the commit,
 * network_create_finish(), or after a rollback network_create_undo(). */
int network_create_pending(Manager *m, const NetworkParams *p, Network **ret, sd_bus_error *error);
void network_create_finish(Network *n);
void network_create_undo(Network *n);
/* What a new tenant's network NETWORK_DEFAULT_NAME is (NAT when the host has a way out, isolated
 * otherwise). It is made when DefaultTenantNetwork= is on and networks are available. */
void network_default_params(Manager *m, const char *tenant, NetworkParams *ret);
bool network_available(Manager *m);
/* InUse while instances are on it. */
int network_delete(Network *n, sd_bus_error *error);
/* The tenant's networks, for tenant deletion: the store deletes their rows with the tenant's
 * (ON DELETE CASCADE); this takes down their data path after the commit. */
void network_forget_tenant(Manager *m, const char *tenant);

/* NICs of an instance being created (its row inserted in the caller's open transaction): one per
 * network named (the tenant's; its default network when none is named and it has one), with a MAC,
 * an address and an interface name each, inserted in that transaction and attached to their
 * networks, the rule set loaded with them. *ret_nics is a NULL-terminated array (empty when the
 * instance gets no NIC); after the commit network_nics_commit(), after a rollback
 * network_nics_abort(). */
int network_nics_allocate(Manager *m, Instance *i, char *const *networks, Nic ***ret_nics,
                          sd_bus_error *error);
/* After the commit: dnsmasq learns the new hosts. Takes the array. */
void network_nics_commit(Manager *m, Nic **nics);
/* When the transaction is rolled back: the NICs leave their networks (and the rule set). */
void network_nics_abort(Manager *m, Nic **nics);
void network_nics_free(Nic **nics);
/* After an instance's row was deleted (its NICs and forwards with it, ON DELETE CASCADE). */
void network_instance_deleted(Manager *m, int64_t instance_id);
/* The instance's NICs in order, borrowed, NULL-terminated (free the array only). */
Nic **network_instance_nics(Manager *m, int64_t instance_id);
/* A container's NICs: each a veth pair, its host end (the NIC's ifname, with the same rules as a
 * VM's tap) a port of the network's bridge, its other end eth<position> in the network namespace
 * netns_fd with the NIC's MAC and address and, on a NAT network, the default route through the
 * gateway. Unavailable networks: NotReady. */
int network_instance_plug_netns(Instance *i, int netns_fd, sd_bus_error *error);

/* An existing instance plugged into a network of its tenant, or out of one: the NIC stored (or
 * deleted, with its forwards), the rules, the running instance (driver d's attach_nic or
 * detach_nic) and its definition (define) changed together, or nothing. InvalidState while it is
 * neither running nor stopped. */
int network_instance_add(Instance *i, const struct InstanceDriver *d, const char *network,
                         sd_bus_error *error);
int network_instance_remove(Instance *i, const struct InstanceDriver *d, const char *network,
                            sd_bus_error *error);

/* Forwards: host port -> an instance's NIC on this network. Admin only (checked by the caller). */
int network_forward_add(Network *n, const char *proto, uint16_t port, Instance *i, uint16_t to_port,
                        sd_bus_error *error);
int network_forward_remove(Network *n, const char *proto, uint16_t port, sd_bus_error *error);

/* Makes the rule set match the networks (one libnftables transaction). */
int network_rules_sync(Manager *m, sd_bus_error *error);

/* What a tenant's networks count against its quotas: networks, forwards (QUOTA_NETWORKS,
 * QUOTA_FORWARDS). */
void network_tenant_usage(Manager *m, const char *tenant, uint64_t *ret_networks, uint64_t *ret_forwards);

/* The networks' part of the metrics (metrics.h): drops by reason from the rule set's counters,
 * bytes and drops of every network's bridge and every instance's port. */
void network_metrics_render(Manager *m, struct StrBuf *b);

/* Ark-named links the store does not know; borrowed NULL-terminated list (may be NULL). */
char **network_orphans(Manager *m);
/* Removes them. */
int network_orphans_prune(Manager *m, sd_bus_error *error);

/* D-Bus (network-dbus.c): the Network objects, and the manager's methods and property about
 * networks (CreateNetwork, ListNetworks, GetNetwork, DeleteNetwork, PruneNetworkOrphans,
 * NetworkOrphans; docs/api.md). */
int network_method_create(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int network_method_list(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int network_method_get(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int network_method_delete(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int network_method_prune_orphans(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int network_property_get_orphans(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error);
extern const sd_bus_vtable network_vtable[];
int network_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                        sd_bus_error *error);
int network_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes,
                            sd_bus_error *error);
#endif

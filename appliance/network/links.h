#pragma once

/* Network links of tenant networks through libnl-route-3: bridges with their MAC, MTU and
 * addresses, VLAN sub-interfaces, ports, link counters, and the host's own prefixes. Everything
 * acts in the network namespace of the calling thread. Functions return 0 or a negative errno
 * and fill no bus error; they log at debug only (the caller says what failed, naming the
 * network).
 *
 * Ark's links are told apart by name: every link arkd makes starts with NET_LINK_PREFIX. */

#include <stdbool.h>
#include <stdint.h>

#include "net/netaddr.h"

#define NET_LINK_PREFIX "ark"

typedef struct NetLinks NetLinks;

typedef struct NetLinkStats {
        uint64_t rx_bytes, tx_bytes;
        uint64_t rx_packets, tx_packets;
        uint64_t rx_dropped, tx_dropped;
} NetLinkStats;

/* A route netlink socket. -errno when netlink cannot be opened. */
int net_links_open(NetLinks **ret);
void net_links_close(NetLinks *l);

/* Makes bridge `name` exist, up, with this MAC (so its address does not change when ports come
 * and go), this MTU (pinned: the kernel would otherwise lower a bridge's MTU to its smallest
 * port's), and exactly these addresses (addr4 and addr6 are the bridge's own address with the
 * subnet's prefix length, e.g. 10.20.0.1/24; NULL or family 0 = none; IPv6 without duplicate
 * address detection, so it is usable before the bridge has carrier): creates it, or corrects one
 * that exists. Addresses it holds beyond these are removed (IPv6 link-local ones excepted).
 * -EEXIST when a link of that name exists and is not a bridge; -EINVAL for a name that is no
 * interface name, an address of the wrong family, an MTU outside 68-65535. */
int net_bridge_ensure(NetLinks *l, const char *name, const uint8_t mac[static 6], unsigned mtu,
                      const NetPrefix *addr4, const NetPrefix *addr6);

/* Makes the VLAN sub-interface `name` (VLAN `vid` on link `uplink`) exist, up, as a port of
 * `bridge`; one of that name with another VLAN id or uplink is made anew. -ENODEV when the
 * uplink or the bridge does not exist; -EEXIST when a link of that name is no VLAN; -EINVAL
 * unless vid is 1-4094; -EOPNOTSUPP when the kernel has no VLAN support (8021q). */
int net_vlan_ensure(NetLinks *l, const char *name, const char *uplink, unsigned vid, const char *bridge);

/* Makes link `port` a port of `bridge` (and up). -ENODEV when either does not exist. */
int net_link_set_master(NetLinks *l, const char *port, const char *bridge);

/* A NIC of a container: a veth pair whose host end `host` is an up port of `bridge` and whose other
 * end is made in the network namespace `netns_fd` as `peer` ("eth0") with this MAC and MTU, the
 * address addr4 (its prefix length the subnet's), up, with a default route via gw4 when gw4 is not
 * NULL; the namespace's loopback comes up too. A host end of that name that exists already is
 * removed first (a leftover of a container that went). All or nothing: on failure the pair is
 * removed. */
int net_veth_into_netns(NetLinks *l, const char *host, const char *bridge, int netns_fd, const char *peer,
                        const uint8_t mac[static 6], unsigned mtu, const NetPrefix *addr4,
                        const NetAddr *gw4);

/* A new network namespace, kept by a bind mount at `path` (a file it creates; its directory must
 * exist) so that it outlives every process in it. -EEXIST when path exists. */
int net_netns_create(const char *path);
/* Unmounts and removes the namespace at `path`; 0 also when there is none. */
int net_netns_remove(const char *path);

/* Removes link `name`; 0 also when there is none. */
int net_link_delete(NetLinks *l, const char *name);

/* 1 when link `name` exists, 0 when not. */
int net_link_exists(NetLinks *l, const char *name);

/* The names of the links whose name starts with `prefix`, sorted, NULL-terminated (free with
 * strv_free; an empty vector, not NULL, when there is none). */
int net_links_list(NetLinks *l, const char *prefix, char ***ret);

/* The counters of link `name` as the kernel keeps them. -ENODEV when there is no such link. */
int net_link_stats(NetLinks *l, const char *name, NetLinkStats *ret);

/* Every IPv4 and IPv6 prefix configured on a link whose name does not start with
 * `except_prefix` (NULL: every link) and is not in `except_links` (NULL: none), link-local and
 * loopback ones excluded: the networks the host is on, which tenant subnets must not cover. Each is
 * its network address (host bits zero), listed once. Newly allocated array in *ret (NULL when
 * there is none). */
int net_host_prefixes(NetLinks *l, const char *except_prefix, char *const *except_links, NetPrefix **ret,
                      size_t *ret_n);

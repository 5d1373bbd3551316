#pragma once

/* The nftables rule set of tenant networks, as one nft script that replaces Ark's two tables
 * (`table bridge ark_net` and `table inet ark_net`) in a single transaction: loaded with
 * libnftables (nft_run_cmd_from_buffer) or `nft -f`, it either applies whole or not at all, and it
 * never touches a table that is not Ark's. Pure: builds text from a plain description, no I/O.
 *
 * What the rules do (docs/networking.md has the picture):
 *   bridge family, on every frame a tenant port sends (hook prerouting, so both frames to other
 *   ports and frames to the host are seen):
 *     - anti-spoofing: the source MAC, the ARP sender MAC and IPv4 address, the IPv4 source and
 *       the IPv6 source must be the port's own (sets keyed by `iifname . address`, so the cost per
 *       frame does not grow with the number of ports). Exceptions: DHCP discovery from 0.0.0.0
 *       (udp 68 -> 67), ARP probes with sender 0.0.0.0, IPv6 duplicate address detection from ::
 *       (neighbour solicitations and MLD reports). A port's IPv6 addresses are its EUI-64 link-local
 *       address and its EUI-64 address on the network's /64 (SLAAC);
 *     - IPv6 neighbour advertisements may only name the port's own addresses as their target, and
 *       so may neighbour solicitations from :: (duplicate address detection); other solicitations
 *       name the address they resolve, anyone's (nd target spoofing);
 *     - frames other than ARP (for Ethernet and IPv4), IPv4 and IPv6 are dropped, VLAN-tagged ones
 *       included: the checks above cannot see into them;
 *     - no DHCP or DHCPv6 server traffic (udp sport 67 / 547) and no router advertisements (nor
 *       redirects) from a port;
 *     each of these drops counts in a named counter (NET_RULES_COUNTER_*);
 *     ports of the network's uplink (a VLAN sub-interface) are not tenant ports: not checked.
 *   inet family:
 *     - input from a tenant bridge: only DHCP (udp 67, to the bridge's address or broadcast),
 *       DHCPv6 (udp 547, to the bridge's addresses or ff02::1:2), DNS (udp/tcp 53) to the
 *       bridge's own addresses (its gateway addresses and its link-local one), ICMP echo to the
 *       gateway, IPv6 neighbour discovery and router solicitations, and replies to connections
 *       the host made; everything else dropped (counted) -- so no tenant reaches the host's
 *       management address or its services;
 *     - forward: nothing between two tenant bridges (different tenants or not: networks are
 *       separate segments); nothing from a tenant bridge to a protected prefix (the management
 *       network); from a NAT network out of its uplink only, masqueraded; into a tenant
 *       network only replies (ct state established,related) and forwarded ports (ct status dnat);
 *       isolated networks forward nothing; VLAN networks are bridged to the site by the kernel
 *       and have no routed path here;
 *     - forwards: TCP or UDP to a host port, from outside the tenant bridges, DNAT-ed to an
 *       instance's address and port (a map keyed by `l4proto . port`), and reachable from there;
 *       only NAT networks have forwards (those of other networks are left out).
 *
 * Names: the tables are NET_RULES_TABLE in both families (not "ark": that is the appliance
 * firewall's inet table, image/rootfs/etc/nftables.conf, which replacing ours must not delete);
 * chains and sets are Ark's own and may change between versions (nothing outside arkd should
 * refer to them). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/netaddr.h"

#define NET_RULES_TABLE "ark_net"
/* Tenant ports are named with this prefix (a VM's tap "arkt1a2b3c4d"): one the rules do not list
 * sends nothing. */
#define NET_RULES_PORT_PREFIX "arkt"

/* Named counters (in the bridge table unless said otherwise), read back for metrics. */
#define NET_RULES_COUNTER_SPOOF "spoofed"   /* MAC / ARP / IPv4 / IPv6 source or ND target not the port's */
#define NET_RULES_COUNTER_DHCP "rogue_dhcp" /* DHCP or DHCPv6 server traffic from a port */
#define NET_RULES_COUNTER_RA "router_adverts"      /* router advertisements from a port */
#define NET_RULES_COUNTER_HOST "to_host"           /* the inet table: input from a tenant bridge dropped */
#define NET_RULES_COUNTER_FORWARD "forward_denied" /* the inet table: forwarding dropped */

typedef enum NetMode {
        NET_MODE_NAT,      /* masqueraded out of an uplink */
        NET_MODE_ISOLATED, /* the bridge and its ports only */
        NET_MODE_VLAN,     /* bridged to the site network through a VLAN sub-interface */
        _NET_MODE_MAX,
} NetMode;

typedef struct NetRulesPort {
        const char *ifname; /* the host side of the NIC: a VM's tap, a container's veth */
        uint8_t mac[6];
        NetAddr ip4; /* its IPv4 address (family 0 = none) */
} NetRulesPort;

typedef struct NetRulesForward {
        uint8_t proto; /* IPPROTO_TCP or IPPROTO_UDP */
        uint16_t port; /* on the host's addresses (not on tenant bridges) */
        NetAddr to;    /* an instance's IPv4 address on this network */
        uint16_t to_port;
} NetRulesForward;

typedef struct NetRulesNetwork {
        const char *bridge; /* the network's bridge */
        NetMode mode;
        const char *uplink;    /* NET_MODE_NAT: the interface traffic leaves by; NULL otherwise */
        const char *vlan_port; /* NET_MODE_VLAN: the VLAN sub-interface in the bridge; NULL otherwise */
        NetPrefix subnet4;     /* the IPv4 subnet; the bridge holds host 1 (the gateway) */
        NetPrefix subnet6;     /* the IPv6 /64 (family 0 = none); the bridge holds host 1 */
        const NetRulesPort *ports;
        size_t n_ports;
        const NetRulesForward *forwards;
        size_t n_forwards;
} NetRulesNetwork;

typedef struct NetRules {
        const NetRulesNetwork *networks;
        size_t n_networks;
        /* Prefixes no tenant traffic may reach, through the host or routed (the management
         * network, the host's other networks). */
        const NetPrefix *protected;
        size_t n_protected;
} NetRules;

/* The script that makes Ark's tables exactly `r` (with no networks, the tables hold empty chains
 * and sets), newly allocated in *ret. -EINVAL when an entry would break the script (an ifname
 * longer than 15 characters or with characters other than letters, digits, '-', '_' and '.', a
 * NAT network without an uplink, a subnet4 that is not IPv4, a subnet6 that is not an IPv6 /64, a
 * port's ip4 that is not IPv4, a forward without a port, not TCP or UDP or not to an IPv4 address,
 * two forwards on one protocol and port (in any networks), a protected prefix of no family, a
 * mode out of range), -ENOMEM. Overlapping protected prefixes are fine.
 * arkd validates what it stores; this refuses only what nft could not take. */
int net_rules_render(const NetRules *r, char **ret);

/* The script that removes Ark's tables (and nothing else); loading it when they do not exist
 * succeeds. */
const char *net_rules_remove_script(void);

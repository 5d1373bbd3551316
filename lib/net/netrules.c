/* The nftables rule set of tenant networks, as text (netrules.h). */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/netrules.h"

#define T NET_RULES_TABLE

/* What nft takes as an interface name inside quotes, and what the kernel takes (IFNAMSIZ - 1). */
static bool ifname_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;

        if (n == 0 || n > 15)
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      *p == '-' || *p == '_' || *p == '.'))
                        return false;
        return true;
}

static bool prefix_valid(const NetPrefix *p) {
        return (p->addr.family == AF_INET && p->len <= 32) || (p->addr.family == AF_INET6 && p->len <= 128);
}

static int validate(const NetRules *r) {
        for (size_t k = 0; k < r->n_networks; k++) {
                const NetRulesNetwork *n = &r->networks[k];

                if (!ifname_valid(n->bridge) || n->mode < 0 || n->mode >= _NET_MODE_MAX)
                        return -EINVAL;
                if (n->mode == NET_MODE_NAT && !ifname_valid(n->uplink))
                        return -EINVAL;
                if (n->mode == NET_MODE_VLAN && n->vlan_port && !ifname_valid(n->vlan_port))
                        return -EINVAL;
                if (n->subnet4.addr.family != 0 &&
                    !(n->subnet4.addr.family == AF_INET && n->subnet4.len <= 32))
                        return -EINVAL;
                /* The ports' SLAAC addresses are EUI-64 ones: only a /64 has them. */
                if (n->subnet6.addr.family != 0 &&
                    !(n->subnet6.addr.family == AF_INET6 && n->subnet6.len == 64))
                        return -EINVAL;
                for (size_t j = 0; j < n->n_ports; j++)
                        if (!ifname_valid(n->ports[j].ifname) ||
                            (n->ports[j].ip4.family != 0 && n->ports[j].ip4.family != AF_INET))
                                return -EINVAL;
                for (size_t j = 0; j < n->n_forwards; j++) {
                        const NetRulesForward *f = &n->forwards[j];

                        if ((f->proto != IPPROTO_TCP && f->proto != IPPROTO_UDP) || f->port == 0 ||
                            f->to_port == 0 || f->to.family != AF_INET)
                                return -EINVAL;
                        /* The forwards share one map keyed by protocol and port, across networks. */
                        for (size_t k2 = 0; k2 <= k; k2++) {
                                const NetRulesNetwork *n2 = &r->networks[k2];

                                for (size_t j2 = 0; j2 < (k2 == k ? j : n2->n_forwards); j2++)
                                        if (n2->forwards[j2].proto == f->proto &&
                                            n2->forwards[j2].port == f->port)
                                                return -EINVAL;
                        }
                }
        }
        for (size_t k = 0; k < r->n_protected; k++)
                if (!prefix_valid(&r->protected[k]))
                        return -EINVAL;
        return 0;
}

/* Sets and maps are written with one element per line; `first` says whether the elements
 * clause is still to be opened (an empty set has none: nft refuses `elements = { }`). */
static void set_open(FILE *f, const char *kind, const char *name, const char *type, const char *flags) {
        fprintf(f, "\t%s %s {\n\t\t%s\n", kind, name, type);
        if (flags)
                fprintf(f, "\t\tflags %s\n", flags);
}

static void set_element(FILE *f, bool *first, const char *format, ...) __attribute__((format(printf, 3, 4)));
static void set_element(FILE *f, bool *first, const char *format, ...) {
        va_list ap;

        fputs(*first ? "\t\telements = {\n\t\t\t" : ",\n\t\t\t", f);
        *first = false;
        va_start(ap, format);
        vfprintf(f, format, ap);
        va_end(ap);
}

static void set_close(FILE *f, bool first) {
        fputs(first ? "\t}\n" : "\n\t\t}\n\t}\n", f);
}

/* Whether a port of network n is checked: the uplink or VLAN port of a network is the site's
 * side, even when a caller lists it among the ports. */
static bool port_is_tenant(const NetRulesNetwork *n, const NetRulesPort *p) {
        return !(n->vlan_port && strcmp(p->ifname, n->vlan_port) == 0) &&
                !(n->uplink && strcmp(p->ifname, n->uplink) == 0);
}

/* The port's IPv6 addresses: its EUI-64 link-local address, and its SLAAC address when the
 * network has a /64. Returns how many (1 or 2). */
static size_t port_ip6(const NetRulesNetwork *n, const NetRulesPort *p, NetAddr ret[static 2]) {
        static const NetPrefix link_local = { .addr = { .family = AF_INET6, .bytes = { 0xfe, 0x80 } },
                                              .len = 64 };
        size_t c = 0;

        if (net_eui64_address(&link_local, p->mac, &ret[c]) == 0)
                c++;
        if (n->subnet6.addr.family == AF_INET6 && net_eui64_address(&n->subnet6, p->mac, &ret[c]) == 0)
                c++;
        return c;
}

static void render_bridge(FILE *f, const NetRules *r) {
        char a[NET_ADDR_STRLEN], m[NET_MAC_STRLEN];
        bool first;

        fputs("# Frames tenant ports send, checked before the bridge forwards them or passes them to the\n"
              "# host.\n"
              "add table bridge " T "\n"
              "delete table bridge " T "\n"
              "table bridge " T " {\n"
              "\tcounter " NET_RULES_COUNTER_SPOOF " { }\n"
              "\tcounter " NET_RULES_COUNTER_DHCP " { }\n"
              "\tcounter " NET_RULES_COUNTER_RA " { }\n",
              f);

        /* Sets keyed by port and address: a frame costs one lookup per check, whatever the number
         * of ports. */
        set_open(f, "set", "ports", "type ifname", NULL);
        first = true;
        for (size_t k = 0; k < r->n_networks; k++)
                for (size_t j = 0; j < r->networks[k].n_ports; j++)
                        if (port_is_tenant(&r->networks[k], &r->networks[k].ports[j]))
                                set_element(f, &first, "\"%s\"", r->networks[k].ports[j].ifname);
        set_close(f, first);

        set_open(f, "set", "port_mac", "type ifname . ether_addr", NULL);
        first = true;
        for (size_t k = 0; k < r->n_networks; k++)
                for (size_t j = 0; j < r->networks[k].n_ports; j++) {
                        const NetRulesPort *p = &r->networks[k].ports[j];

                        if (port_is_tenant(&r->networks[k], p))
                                set_element(f, &first, "\"%s\" . %s", p->ifname,
                                            net_mac_to_string(p->mac, m));
                }
        set_close(f, first);

        set_open(f, "set", "port_ip4", "type ifname . ipv4_addr", NULL);
        first = true;
        for (size_t k = 0; k < r->n_networks; k++)
                for (size_t j = 0; j < r->networks[k].n_ports; j++) {
                        const NetRulesPort *p = &r->networks[k].ports[j];

                        if (port_is_tenant(&r->networks[k], p) && p->ip4.family == AF_INET)
                                set_element(f, &first, "\"%s\" . %s", p->ifname,
                                            net_addr_to_string(&p->ip4, a));
                }
        set_close(f, first);

        set_open(f, "set", "port_ip6", "type ifname . ipv6_addr", NULL);
        first = true;
        for (size_t k = 0; k < r->n_networks; k++)
                for (size_t j = 0; j < r->networks[k].n_ports; j++) {
                        const NetRulesPort *p = &r->networks[k].ports[j];
                        NetAddr six[2];

                        if (!port_is_tenant(&r->networks[k], p))
                                continue;
                        for (size_t i = 0, c = port_ip6(&r->networks[k], p, six); i < c; i++)
                                set_element(f, &first, "\"%s\" . %s", p->ifname,
                                            net_addr_to_string(&six[i], a));
                }
        set_close(f, first);

        /* The same addresses, for the target of neighbour discovery messages. nft 1.0.6 has no
         * expression for that field, so the rules read it raw (@th,64,128: after type, code,
         * checksum and the reserved word), and a raw field only matches a set typed like it. */
        set_open(f, "set", "port_nd", "typeof iifname . @th,64,128", NULL);
        first = true;
        for (size_t k = 0; k < r->n_networks; k++)
                for (size_t j = 0; j < r->networks[k].n_ports; j++) {
                        const NetRulesPort *p = &r->networks[k].ports[j];
                        NetAddr six[2];

                        if (!port_is_tenant(&r->networks[k], p))
                                continue;
                        for (size_t i = 0, c = port_ip6(&r->networks[k], p, six); i < c; i++) {
                                char hex[33];

                                for (size_t b = 0; b < 16; b++)
                                        snprintf(hex + 2 * b, 3, "%02x", six[i].bytes[b]);
                                set_element(f, &first, "\"%s\" . 0x%s", p->ifname, hex);
                        }
                }
        set_close(f, first);

        /* Frames to a link-local group address (01:80:c2:00:00:0X: STP, LACP, LLDP, 802.1X, ...)
         * skip the bridge's prerouting hook and go up to the host on the port itself, through the
         * input hook: the checks run there too. A port named as a tenant port that arkd does not
         * know (a tap a guest did not let go of after its NIC was unplugged) sends nothing. (The
         * bridge a frame came in by, meta ibrname, is not available to the bridge family on every
         * kernel: the ports' names decide.) */
        fputs("\tchain prerouting {\n"
              "\t\ttype filter hook prerouting priority filter; policy accept;\n"
              "\t\tiifname @ports jump port\n"
              "\t\tiifname \"" NET_RULES_PORT_PREFIX "*\" counter name \"" NET_RULES_COUNTER_SPOOF
              "\" drop\n"
              "\t}\n"
              "\tchain input {\n"
              "\t\ttype filter hook input priority filter; policy accept;\n"
              "\t\tiifname @ports jump port\n"
              "\t\tiifname \"" NET_RULES_PORT_PREFIX "*\" counter name \"" NET_RULES_COUNTER_SPOOF
              "\" drop\n"
              "\t}\n"
              /* Anything but ARP, IPv4 and IPv6 would pass the checks below unseen: a VLAN tag moves
               * the IP header out of their reach, for one. A guest has no business with the
               * link-local group addresses of bridges and switches. */
              "\tchain port {\n"
              "\t\tether daddr & ff:ff:ff:ff:ff:f0 == 01:80:c2:00:00:00 counter name \"" NET_RULES_COUNTER_SPOOF
              "\" drop\n"
              "\t\tiifname . ether saddr != @port_mac counter name \"" NET_RULES_COUNTER_SPOOF "\" drop\n"
              "\t\tether type vmap { arp : jump port_arp, ip : jump port_ip4, ip6 : jump port_ip6 }\n"
              "\t\tcounter name \"" NET_RULES_COUNTER_SPOOF "\" drop\n"
              "\t}\n"
              /* The payload matches of arp assume Ethernet and IPv4 sizes: other ARP is refused. */
              "\tchain port_arp {\n"
              "\t\tarp htype != 1 counter name \"" NET_RULES_COUNTER_SPOOF "\" drop\n"
              "\t\tarp ptype != ip counter name \"" NET_RULES_COUNTER_SPOOF "\" drop\n"
              "\t\tarp hlen != 6 counter name \"" NET_RULES_COUNTER_SPOOF "\" drop\n"
              "\t\tarp plen != 4 counter name \"" NET_RULES_COUNTER_SPOOF "\" drop\n"
              "\t\tiifname . arp saddr ether != @port_mac counter name \"" NET_RULES_COUNTER_SPOOF
              "\" drop\n"
              "\t\tarp saddr ip 0.0.0.0 accept\n"
              "\t\tiifname . arp saddr ip != @port_ip4 counter name \"" NET_RULES_COUNTER_SPOOF "\" drop\n"
              "\t\taccept\n"
              "\t}\n"
              "\tchain port_ip4 {\n"
              "\t\tudp sport 67 counter name \"" NET_RULES_COUNTER_DHCP "\" drop\n"
              "\t\tip saddr 0.0.0.0 udp sport 68 udp dport 67 accept\n"
              "\t\tiifname . ip saddr != @port_ip4 counter name \"" NET_RULES_COUNTER_SPOOF "\" drop\n"
              "\t\taccept\n"
              "\t}\n"
              /* Redirects are routers' messages as much as advertisements are. A neighbour
               * solicitation names the address it resolves, anyone's, except in duplicate address
               * detection (from ::), where it names the sender's own. */
              "\tchain port_ip6 {\n"
              "\t\ticmpv6 type { nd-router-advert, nd-redirect } counter name \"" NET_RULES_COUNTER_RA
              "\" drop\n"
              "\t\tudp sport 547 counter name \"" NET_RULES_COUNTER_DHCP "\" drop\n"
              "\t\ticmpv6 type nd-neighbor-advert iifname . @th,64,128 != @port_nd"
              " counter name \"" NET_RULES_COUNTER_SPOOF "\" drop\n"
              "\t\tip6 saddr :: icmpv6 type nd-neighbor-solicit iifname . @th,64,128 != @port_nd"
              " counter name \"" NET_RULES_COUNTER_SPOOF "\" drop\n"
              "\t\tip6 saddr :: icmpv6 type { nd-neighbor-solicit, mld-listener-report,"
              " mld2-listener-report } accept\n"
              "\t\tiifname . ip6 saddr != @port_ip6 counter name \"" NET_RULES_COUNTER_SPOOF "\" drop\n"
              "\t\taccept\n"
              "\t}\n"
              "}\n",
              f);
}

/* Whether protected[k] lies in another entry (or repeats an earlier one): nft refuses
 * overlapping intervals in one set, and prefixes overlap only by nesting. */
static bool protected_redundant(const NetRules *r, size_t k) {
        const NetPrefix *pk = r->protected + k;

        for (size_t j = 0; j < r->n_protected; j++) {
                const NetPrefix *pj = r->protected + j;

                if (j != k && net_prefix_overlaps(pj, pk) &&
                    (pj->len < pk->len || (pj->len == pk->len && j < k)))
                        return true;
        }
        return false;
}

static void render_inet(FILE *f, const NetRules *r) {
        char a[NET_ADDR_STRLEN], p[NET_PREFIX_STRLEN];
        bool first;

        fputs("# Tenant bridges as the host sees them: what reaches the host, what is routed, NAT and\n"
              "# forwards.\n"
              "add table inet " T "\n"
              "delete table inet " T "\n"
              "table inet " T " {\n"
              "\tcounter " NET_RULES_COUNTER_HOST " { }\n"
              "\tcounter " NET_RULES_COUNTER_FORWARD " { }\n",
              f);

        set_open(f, "set", "bridges", "type ifname", NULL);
        first = true;
        for (size_t k = 0; k < r->n_networks; k++)
                set_element(f, &first, "\"%s\"", r->networks[k].bridge);
        set_close(f, first);

        /* Every interface on the tenants' side. With bridge netfilter (br_netfilter, built into
         * the kernels here, and calling the IP hooks unless told not to), a frame bridged to the
         * host meets the inet prerouting hook with its port as the input interface, not the
         * bridge. */
        set_open(f, "set", "tenant_side", "type ifname", NULL);
        first = true;
        for (size_t k = 0; k < r->n_networks; k++) {
                const NetRulesNetwork *n = &r->networks[k];

                set_element(f, &first, "\"%s\"", n->bridge);
                if (n->mode == NET_MODE_VLAN && n->vlan_port)
                        set_element(f, &first, "\"%s\"", n->vlan_port);
                for (size_t j = 0; j < n->n_ports; j++)
                        if (port_is_tenant(n, &n->ports[j]))
                                set_element(f, &first, "\"%s\"", n->ports[j].ifname);
        }
        set_close(f, first);

        /* Bridge netfilter also shows frames bridged between two ports of one network to the
         * forward hook, in and out by the bridge: they are the segment's own traffic. */
        set_open(f, "set", "bridge_self", "type ifname . ifname", NULL);
        first = true;
        for (size_t k = 0; k < r->n_networks; k++)
                set_element(f, &first, "\"%s\" . \"%s\"", r->networks[k].bridge, r->networks[k].bridge);
        set_close(f, first);

        set_open(f, "set", "nat_out", "type ifname . ifname", NULL);
        first = true;
        for (size_t k = 0; k < r->n_networks; k++)
                if (r->networks[k].mode == NET_MODE_NAT)
                        set_element(f, &first, "\"%s\" . \"%s\"", r->networks[k].bridge,
                                    r->networks[k].uplink);
        set_close(f, first);

        set_open(f, "set", "gateway4", "type ifname . ipv4_addr", NULL);
        first = true;
        for (size_t k = 0; k < r->n_networks; k++) {
                NetAddr gw;

                if (r->networks[k].subnet4.addr.family == AF_INET &&
                    net_prefix_host(&r->networks[k].subnet4, 1, &gw) == 0)
                        set_element(f, &first, "\"%s\" . %s", r->networks[k].bridge,
                                    net_addr_to_string(&gw, a));
        }
        set_close(f, first);

        set_open(f, "set", "gateway6", "type ifname . ipv6_addr", NULL);
        first = true;
        for (size_t k = 0; k < r->n_networks; k++) {
                NetAddr gw;

                if (r->networks[k].subnet6.addr.family == AF_INET6 &&
                    net_prefix_host(&r->networks[k].subnet6, 1, &gw) == 0)
                        set_element(f, &first, "\"%s\" . %s", r->networks[k].bridge,
                                    net_addr_to_string(&gw, a));
        }
        set_close(f, first);

        for (int fam = 0; fam < 2; fam++) {
                int family = fam == 0 ? AF_INET : AF_INET6;

                set_open(f, "set", family == AF_INET ? "protected4" : "protected6",
                         family == AF_INET ? "type ipv4_addr" : "type ipv6_addr", "interval");
                first = true;
                for (size_t k = 0; k < r->n_protected; k++)
                        if (r->protected[k].addr.family == family && !protected_redundant(r, k))
                                set_element(f, &first, "%s", net_prefix_to_string(&r->protected[k], p));
                set_close(f, first);
        }

        /* Forwards of NAT networks only: isolated networks forward nothing, VLAN networks have no
         * routed path through the host. */
        set_open(f, "map", "forwards", "type inet_proto . inet_service : ipv4_addr . inet_service", NULL);
        first = true;
        for (size_t k = 0; k < r->n_networks; k++) {
                const NetRulesNetwork *n = &r->networks[k];

                if (n->mode != NET_MODE_NAT)
                        continue;
                for (size_t j = 0; j < n->n_forwards; j++)
                        set_element(f, &first, "%s . %u : %s . %u",
                                    n->forwards[j].proto == IPPROTO_TCP ? "tcp" : "udp", n->forwards[j].port,
                                    net_addr_to_string(&n->forwards[j].to, a), n->forwards[j].to_port);
        }
        set_close(f, first);

        fputs("\tchain prerouting {\n"
              "\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
              "\t\tiifname @tenant_side return\n"
              "\t\tfib daddr type local dnat ip to meta l4proto . th dport map @forwards\n"
              "\t}\n"
              "\tchain postrouting {\n"
              "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
              "\t\tiifname . oifname @nat_out masquerade\n"
              "\t}\n"
              /* From the tenants' side: the bridges, and their ports themselves (a frame the bridge
               * passes up on the port, as it does for link-local group addresses). */
              "\tchain input {\n"
              "\t\ttype filter hook input priority filter; policy accept;\n"
              "\t\tiifname @tenant_side jump from_tenant\n"
              "\t}\n"
              /* DHCP comes broadcast (IPv4) or to the servers' multicast group (IPv6); the bridge's
               * link-local address is its own (a link-local destination is only ever the input
               * interface's). */
              "\tchain from_tenant {\n"
              "\t\tct state established,related accept\n"
              "\t\tip daddr 255.255.255.255 udp dport 67 accept\n"
              "\t\tiifname . ip daddr @gateway4 udp dport { 53, 67 } accept\n"
              "\t\tiifname . ip daddr @gateway4 tcp dport 53 accept\n"
              "\t\tiifname . ip daddr @gateway4 icmp type echo-request accept\n"
              "\t\tip6 daddr ff02::1:2 udp dport 547 accept\n"
              "\t\tiifname . ip6 daddr @gateway6 udp dport { 53, 547 } accept\n"
              "\t\tiifname . ip6 daddr @gateway6 tcp dport 53 accept\n"
              "\t\tiifname . ip6 daddr @gateway6 icmpv6 type echo-request accept\n"
              "\t\tip6 daddr fe80::/10 udp dport { 53, 547 } accept\n"
              "\t\tip6 daddr fe80::/10 tcp dport 53 accept\n"
              "\t\ticmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit } accept\n"
              "\t\tcounter name \"" NET_RULES_COUNTER_HOST "\" drop\n"
              "\t}\n"
              "\tchain forward {\n"
              "\t\ttype filter hook forward priority filter; policy accept;\n"
              "\t\tiifname . oifname @bridge_self accept\n"
              "\t\tiifname @tenant_side jump from_tenant_routed\n"
              "\t\toifname @bridges jump to_tenant_routed\n"
              "\t}\n"
              /* Replies go before the protected prefixes: a forward may be used from the management
               * network. */
              "\tchain from_tenant_routed {\n"
              "\t\toifname @bridges counter name \"" NET_RULES_COUNTER_FORWARD "\" drop\n"
              "\t\tct state established,related accept\n"
              "\t\tip daddr @protected4 counter name \"" NET_RULES_COUNTER_FORWARD "\" drop\n"
              "\t\tip6 daddr @protected6 counter name \"" NET_RULES_COUNTER_FORWARD "\" drop\n"
              "\t\tiifname . oifname @nat_out accept\n"
              "\t\tcounter name \"" NET_RULES_COUNTER_FORWARD "\" drop\n"
              "\t}\n"
              "\tchain to_tenant_routed {\n"
              "\t\tct state established,related accept\n"
              "\t\tct status dnat accept\n"
              "\t\tcounter name \"" NET_RULES_COUNTER_FORWARD "\" drop\n"
              "\t}\n"
              "}\n",
              f);
}

int net_rules_render(const NetRules *rules, char **ret) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f;
        int r;

        r = validate(rules);
        if (r < 0)
                return r;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        render_bridge(f, rules);
        render_inet(f, rules);
        /* A write that failed (out of memory) leaves the stream in error. */
        if (ferror(f)) {
                fclose(f);
                free(buf);
                return -ENOMEM;
        }
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        return 0;
}

const char *net_rules_remove_script(void) {
        /* Adding a table that exists is no error, and deleting the one just added cannot fail. */
        return "add table bridge " T "\n"
               "delete table bridge " T "\n"
               "add table inet " T "\n"
               "delete table inet " T "\n";
}

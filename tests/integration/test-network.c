/* Tenant networks through arkd: arkd runs in a network namespace of its own ("the host"), with a
 * management link (192.168.77.1/24 on a bridge of the host's own) and an uplink (a veth to an "uplink"
 * namespace that also plays the site). The tests create networks and VMs (libvirt's test driver)
 * over D-Bus and arkctl, then stand in for each VM's tap: a veth named as arkd named the NIC, in
 * the network's bridge, its peer in an endpoint namespace with the NIC's MAC. What they check:
 *   - the API: create, list, show, delete; a tenant's default network; bad input refused with a
 *     sentence naming the field and nothing left behind (no row, no bridge, no rule);
 *   - the data path: a bridge per network, dnsmasq handing the stored address out by DHCP and
 *     answering <instance>.<tenant>, Ark's nftables tables;
 *   - isolation: the same network reaches itself, another tenant nothing, the management address
 *     nothing; a spoofed source is dropped and counted;
 *   - NAT egress to the uplink, and a forward reachable from the site until it is removed;
 *   - kill -9 and start again: the data path is made again; a bridge and a table Ark did not make
 *     are left alone, and a bridge named as Ark's but unknown is reported, removed on request.
 * Needs root (network namespaces); skipped with the reason otherwise. */

#include "itest.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"

static Harness H;
static char host_ns[64], uplink_ns[64], netns_path[128];
static char *skip_reason;
static unsigned n_endpoints;
static char endpoints[16][64];

#define MGMT_ADDR "192.168.77.1"
#define UPLINK_HOST "10.255.0.1"
#define UPLINK_PEER "10.255.0.2"

/* Runs a command; fails the test with its output when it does not exit 0. */
static void run(const char *fmt, ...) _printf_(1, 2);
static void run(const char *fmt, ...) {
        _cleanup_free_ char *cmd = NULL, *o = NULL, *e = NULL;
        va_list ap;

        va_start(ap, fmt);
        assert_true(vasprintf(&cmd, fmt, ap) >= 0);
        va_end(ap);
        if (harness_sh(&o, &e, "%s", cmd) != 0)
                fail_msg("'%s' failed: %s%s", cmd, strempty(o), strempty(e));
}

/* Exit status of a command run in a namespace. */
static int in_ns(const char *ns, char **ret_out, const char *fmt, ...) _printf_(3, 4);
static int in_ns(const char *ns, char **ret_out, const char *fmt, ...) {
        _cleanup_free_ char *cmd = NULL, *e = NULL;
        va_list ap;

        va_start(ap, fmt);
        assert_true(vasprintf(&cmd, fmt, ap) >= 0);
        va_end(ap);
        return harness_sh(ret_out, &e, "ip netns exec %s sh -c '%s' 2>&1", ns, cmd);
}

static int group_setup(void **state) {
        _cleanup_free_ char *o = NULL, *e = NULL;

        if (geteuid() != 0) {
                skip_reason = strdup("network namespaces need root");
                return 0;
        }
        snprintf(host_ns, sizeof(host_ns), "arkh-%d", (int) getpid());
        snprintf(uplink_ns, sizeof(uplink_ns), "arku-%d", (int) getpid());
        snprintf(netns_path, sizeof(netns_path), "/run/netns/%s", host_ns);
        if (harness_sh(&o, &e,
                       "ip netns add %1$s && ip netns add %2$s && "
                       "ip -n %1$s link set lo up && ip -n %2$s link set lo up && "
                       "ip -n %1$s link add mgmt0 type bridge && ip -n %1$s addr add " MGMT_ADDR
                       "/24 dev mgmt0 && "
                       "ip -n %1$s link set mgmt0 up && "
                       "ip -n %1$s link add up0 type veth peer name site0 netns %2$s && "
                       "ip -n %1$s addr add " UPLINK_HOST "/30 dev up0 && ip -n %1$s link set up0 up && "
                       "ip -n %2$s addr add " UPLINK_PEER "/30 dev site0 && ip -n %2$s link set site0 up && "
                       "ip -n %1$s route add default via " UPLINK_PEER,
                       host_ns, uplink_ns) != 0) {
                skip_reason = strprintf("cannot make network namespaces: %s", strempty(e));
                return 0;
        }
        if (harness_setup(&H, "dgx-h100") < 0)
                return -1;
        H.netns = netns_path;
        if (harness_start_arkd(&H, NULL) < 0)
                return -1;
        return 0;
}

static int group_teardown(void **state) {
        if (!skip_reason)
                harness_teardown(&H);
        for (unsigned k = 0; k < n_endpoints; k++)
                (void) harness_sh(NULL, NULL, "ip netns del %s", endpoints[k]);
        if (host_ns[0])
                (void) harness_sh(NULL, NULL, "ip netns del %s; ip netns del %s", host_ns, uplink_ns);
        free(skip_reason);
        return 0;
}

static void require_setup(void) {
        if (skip_reason) {
                fprintf(stderr, "[ SKIP     ] %s\n", skip_reason);
                skip();
        }
}

static json_t *network_json(const char *name) {
        json_t *j = harness_arkctl_json(&H, "network", "show", name, NULL);

        if (!j)
                fail_msg("arkctl network show %s failed", name);
        return j;
}

static const char *jstr(json_t *j, const char *key) {
        const char *s = json_string_value(json_object_get(j, key));

        if (!s)
                fail_msg("no '%s' in the JSON", key);
        return s;
}

/* The NIC of `instance` in a network's JSON (borrowed). */
static json_t *nic_of(json_t *net, const char *instance) {
        json_t *l = json_object_get(net, "instances"), *e;
        size_t k;

        json_array_foreach(l, k, e)
                if (streq_ptr(json_string_value(json_object_get(e, "instance")), instance))
                        return e;
        fail_msg("instance '%s' has no NIC on network '%s'", instance, jstr(net, "name"));
        return NULL;
}

/* Plays the VM's tap: a veth named as the NIC in the network's bridge, its peer eth0 in a new
 * endpoint namespace with the NIC's MAC and, unless dhcp, its address and a default route. */
static const char *endpoint(const char *network, const char *instance, bool dhcp) {
        _cleanup_(json_decrefp) json_t *net = network_json(network);
        json_t *nic = nic_of(net, instance);
        const char *ep;

        assert_true(n_endpoints < ELEMENTSOF(endpoints));
        ep = endpoints[n_endpoints];
        snprintf(endpoints[n_endpoints], sizeof(endpoints[0]), "arke%u-%d", n_endpoints, (int) getpid());
        n_endpoints++;
        run("ip netns add %s && ip -n %s link add %s type veth peer name eth0 netns %s && "
            "ip -n %s link set %s master %s up && ip -n %s link set lo up && "
            "ip -n %s link set eth0 address %s && ip -n %s link set eth0 up",
            ep, host_ns, jstr(nic, "interface"), ep, host_ns, jstr(nic, "interface"), jstr(net, "bridge"),
            ep, ep, jstr(nic, "mac"), ep);
        if (!dhcp) {
                _cleanup_free_ char *prefix = strdup(strchr(jstr(net, "subnet"), '/'));

                run("ip -n %s addr add %s%s dev eth0 && ip -n %s route add default via %s", ep,
                    jstr(nic, "ipv4"), prefix, ep, jstr(net, "gateway"));
        }
        return ep;
}

static bool pings(const char *ns, const char *addr) {
        return in_ns(ns, NULL, "busybox ping -c 1 -W 1 %s", addr) == 0;
}

/* ---------------------------------------------------------------------------------- tests */

static void test_create_list_show(void **state) {
        _cleanup_(json_decrefp) json_t *net = NULL, *list = NULL;
        _cleanup_free_ char *links = NULL;

        require_setup();
        /* No networks, no tables: a host without tenant networks keeps its nftables as they were. */
        assert_int_equal(in_ns(host_ns, &links, "nft list tables"), 0);
        assert_null(strstr(strempty(links), "ark_net"));
        links = mfree(links);
        assert_arkctl(&H, 0, NULL, "tenant", "create", "red");
        assert_arkctl(&H, 0, NULL, "tenant", "create", "blue");
        assert_arkctl(&H, 0, "Created network 'lab' of tenant 'red'", "network", "create", "lab", "--tenant",
                      "red", "--subnet", "10.50.1.0/24");
        assert_arkctl(&H, 0, NULL, "network", "create", "lab", "--tenant", "blue", "--subnet",
                      "10.50.2.0/24");
        assert_arkctl(&H, 0, NULL, "network", "create", "quiet", "--tenant", "red", "--isolated");

        net = network_json("red/lab");
        assert_string_equal(jstr(net, "tenant"), "red");
        assert_string_equal(jstr(net, "mode"), "nat");
        assert_string_equal(jstr(net, "uplink"), "up0"); /* the default route's */
        assert_string_equal(jstr(net, "gateway"), "10.50.1.1");
        assert_true(startswith(jstr(net, "subnet6"), "fd"));
        /* Its bridge is there, with the gateway's address, and dnsmasq serves it. */
        assert_int_equal(in_ns(host_ns, &links, "ip -o addr show dev %s", jstr(net, "bridge")), 0);
        assert_non_null(strstr(links, "10.50.1.1/24"));
        free(links);
        links = NULL;
        assert_int_equal(in_ns(host_ns, &links, "pgrep -a dnsmasq"), 0);
        assert_non_null(strstr(links, jstr(net, "bridge")));

        /* A picked subnet comes from the pool; the isolated network has no uplink. */
        json_decref(net);
        net = network_json("quiet");
        assert_string_equal(jstr(net, "mode"), "isolated");
        assert_true(startswith(jstr(net, "subnet"), "10.96.") || startswith(jstr(net, "subnet"), "10.9") ||
                    startswith(jstr(net, "subnet"), "10.1"));

        list = harness_arkctl_json(&H, "network", "list", NULL);
        assert_non_null(list);
        assert_int_equal(json_array_size(list), 3);
        /* "lab" is in two tenants: the short name is ambiguous for the admin. */
        assert_arkctl(&H, 1, "name it as TENANT/lab", "network", "show", "lab");
}

/* Networks and forwards count against the tenant's quotas. */
static void test_quotas(void **state) {
        require_setup();
        assert_arkctl(&H, 0, NULL, "tenant", "quota", "set", "blue", "networks=1");
        assert_arkctl(&H, 1, "Tenant 'blue' would use 2 of its 1 networks (it uses 1 now)", "network",
                      "create", "more", "--tenant", "blue", "--isolated");
        assert_arkctl(&H, 0, "networks", "tenant", "quota", "show", "blue");
        assert_arkctl(&H, 0, NULL, "tenant", "quota", "set", "blue", "networks=none");
        assert_arkctl(&H, 0, NULL, "tenant", "quota", "set", "red", "forwards=1");
}

/* Acceptance 4: bad input is refused with a sentence naming the field; nothing half-made. */
static void test_bad_input(void **state) {
        static const struct {
                const char *needle;
                const char *args[12];
        } cases[] = {
                { "overlaps 10.50.1.0/24 of network 'lab'",
                  { "--tenant", "red", "--subnet", "10.50.1.128/25" } },
                { "overlaps a subnet in use on this host",
                  { "--tenant", "red", "--subnet", "10.50.2.0/24" } },
                { "covers 192.168.77.0/24, a network this host is on",
                  { "--tenant", "red", "--subnet", "192.168.0.0/16" } },
                { "Uplink 'nosuch0' of the network does not exist",
                  { "--tenant", "red", "--uplink", "nosuch0" } },
                { "Invalid VLAN id 5000", { "--tenant", "red", "--vlan", "5000", "--uplink", "up0" } },
                { "Invalid VLAN id 0", { "--tenant", "red", "--vlan", "0", "--uplink", "up0" } },
                { "host bits", { "--tenant", "red", "--subnet", "10.60.0.1/24" } },
                { "Invalid subnet", { "--tenant", "red", "--subnet", "fd00::/64" } },
                { "Invalid MTU", { "--tenant", "red", "--mtu", "100" } },
                { "Tenant 'nobody' does not exist", { "--tenant", "nobody" } },
                { "which no network may use", { "--tenant", "red", "--subnet", "127.0.0.0/16" } },
                { "which no network may use", { "--tenant", "red", "--subnet", "169.254.0.0/16" } },
                { "overlaps 198.18.0.0/24, a route of this host's (by up0)",
                  { "--tenant", "red", "--subnet", "198.18.0.0/16" } },
        };
        _cleanup_free_ char *before = NULL, *after = NULL, *rules_before = NULL, *rules_after = NULL;

        require_setup();
        run("ip -n %s route add 198.18.0.0/24 via " UPLINK_PEER, host_ns);
        assert_int_equal(in_ns(host_ns, &before, "ip -o link show | grep -c ark || true"), 0);
        assert_int_equal(in_ns(host_ns, &rules_before, "nft list ruleset | md5sum"), 0);
        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                _cleanup_free_ char *out = NULL, *err = NULL;
                const char *args[16] = { "network", "create", "bad" };
                size_t n = 3;
                int r;

                for (size_t a = 0; cases[k].args[a]; a++)
                        args[n++] = cases[k].args[a];
                r = harness_arkctl_argv(&H, &out, &err, (char *const *) args);
                if (r != 1 || !strstr(strempty(err), cases[k].needle))
                        fail_msg("network create %s: exit %d, stderr '%s'; want 1 and '%s'",
                                 cases[k].args[3] ?: "", r, strna(err), cases[k].needle);
        }
        /* A member chooses inside the tenant subnet pool only (not a site prefix of the host's
         * routes, nor a public one), at most a /24. */
        {
                _cleanup_free_ char *out = NULL, *err = NULL;

                assert_arkctl(&H, 0, NULL, "tenant", "member", "add", "red", "--user", "nobody");
                assert_int_equal(
                        harness_sh(&out, &err,
                                   "setpriv --reuid=nobody --regid=nogroup --clear-groups '%s/bin/arkctl' "
                                   "network create bad --tenant red --isolated --subnet 203.0.113.0/24",
                                   harness_build_dir()),
                        1);
                assert_non_null(
                        strstr(strempty(err), "members choose a /24 to /29 inside the tenant subnet pool"));
                assert_arkctl(&H, 0, NULL, "tenant", "member", "remove", "red", "--user", "nobody");
        }
        /* Nothing was left: no network, no link, no rule. */
        assert_arkctl(&H, 1, "does not exist", "network", "show", "red/bad");
        assert_int_equal(in_ns(host_ns, &after, "ip -o link show | grep -c ark || true"), 0);
        assert_string_equal(before, after);
        assert_int_equal(in_ns(host_ns, &rules_after, "nft list ruleset | md5sum"), 0);
        assert_string_equal(rules_before, rules_after);
}

static void test_dhcp_dns_and_isolation(void **state) {
        _cleanup_(json_decrefp) json_t *lab = NULL;
        _cleanup_free_ char *out = NULL;
        const char *a1, *a2, *b1;

        require_setup();
        assert_arkctl(&H, 0, NULL, "vm", "create", "a1", "--tenant", "red", "--vcpus", "1", "--memory",
                      "256M", "--network", "lab");
        assert_arkctl(&H, 0, NULL, "vm", "create", "a2", "--tenant", "red", "--vcpus", "1", "--memory",
                      "256M", "--network", "lab");
        assert_arkctl(&H, 0, NULL, "vm", "create", "b1", "--tenant", "blue", "--vcpus", "1", "--memory",
                      "256M", "--network", "lab");
        lab = network_json("red/lab");
        /* Addresses in order from .2; the domain XML carries the NIC. */
        assert_string_equal(json_string_value(json_object_get(nic_of(lab, "a1"), "ipv4")), "10.50.1.2");
        assert_string_equal(json_string_value(json_object_get(nic_of(lab, "a2"), "ipv4")), "10.50.1.3");
        assert_arkctl(&H, 0, "<interface type='bridge'>", "vm", "show", "red/a1", "--xml");

        /* a1 asks DHCP: it gets its stored address. */
        a1 = endpoint("red/lab", "a1", true);
        assert_int_equal(in_ns(a1, &out, "busybox udhcpc -i eth0 -n -q -f -t 5 -T 1 -s /bin/true 2>&1"), 0);
        assert_non_null(strstr(out, "10.50.1.2"));
        free(out);
        out = NULL;
        a2 = endpoint("red/lab", "a2", false);
        b1 = endpoint("blue/lab", "b1", false);
        run("ip -n %s addr add 10.50.1.2/24 dev eth0 && ip -n %s route add default via 10.50.1.1", a1, a1);

        /* DNS: a2.red answered by the network's dnsmasq. */
        assert_int_equal(in_ns(a1, &out, "busybox nslookup a2.red 10.50.1.1"), 0);
        assert_non_null(strstr(out, "10.50.1.3"));

        /* Same network: reachable. Another tenant: nothing, either way. The management address:
         * nothing. */
        assert_true(pings(a1, "10.50.1.3"));
        assert_true(pings(a2, "10.50.1.2"));
        assert_false(pings(a1, "10.50.2.2"));
        assert_false(pings(b1, "10.50.1.2"));
        assert_false(pings(a1, MGMT_ADDR));
        assert_false(pings(b1, MGMT_ADDR));
        /* The gateway answers its own network. */
        assert_true(pings(a1, "10.50.1.1"));
        assert_false(pings(a1, "10.50.2.1"));

        /* A spoofed source address goes nowhere. */
        run("ip -n %s addr add 10.50.1.99/24 dev eth0", a2);
        assert_int_equal(in_ns(a2, NULL, "busybox ping -c 1 -W 1 -I 10.50.1.99 10.50.1.2"), 1);
}

/* The global IPv6 address an endpoint took by SLAAC from its network's router advertisements,
 * once duplicate address detection is through (waits for it); "" when none came. */
static char *ipv6_of(const char *ep) {
        for (unsigned tries = 0; tries < 100; tries++) {
                _cleanup_free_ char *out = NULL;

                if (in_ns(ep, &out,
                          "ip -6 -o addr show dev eth0 scope global -tentative | awk \"{print \\$4}\" | cut -d/ -f1") ==
                            0 &&
                    !isempty(out)) {
                        char *nl = strchr(out, '\n');
                        if (nl)
                                *nl = 0;
                        return TAKE_PTR(out);
                }
                usleep(100 * 1000);
        }
        return strdup("");
}

/* IPv6: the same network reaches itself over its /64; another tenant's network nothing. */
static void test_ipv6(void **state) {
        _cleanup_free_ char *a1 = NULL, *a2 = NULL, *b1 = NULL;

        require_setup();
        a1 = ipv6_of(endpoints[0]);
        a2 = ipv6_of(endpoints[1]);
        b1 = ipv6_of(endpoints[2]);
        if (isempty(a1) || isempty(a2) || isempty(b1))
                fail_msg(
                        "no SLAAC address from the networks' router advertisements (a1 '%s', a2 '%s', b1 '%s')",
                        a1, a2, b1);
        /* The first echo may wait on neighbour discovery: a few tries. */
        assert_int_equal(in_ns(endpoints[0], NULL, "busybox ping -6 -c 3 -W 3 %s | grep -q bytes", a2), 0);
        assert_int_not_equal(in_ns(endpoints[0], NULL, "busybox ping -6 -c 1 -W 1 %s", b1), 0);
        assert_int_not_equal(in_ns(endpoints[2], NULL, "busybox ping -6 -c 1 -W 1 %s", a1), 0);
}

/* arkd's metrics, fetched inside its namespace. */
static char *metrics(void) {
        _cleanup_free_ char *file = strprintf("%s/metrics.address", H.state_dir), *addr = NULL, *out = NULL;

        assert_int_equal(read_one_line_file(file, &addr), 0);
        assert_int_equal(in_ns(host_ns, &out, "curl -sf http://%s/metrics", addr), 0);
        return TAKE_PTR(out);
}

static uint64_t dropped(const char *reason) {
        _cleanup_free_ char *text = metrics(),
                            *needle = strprintf("ark_network_dropped_packets_total{reason=\"%s\"} ", reason);
        const char *p = strstr(text, needle);

        if (!p)
                fail_msg("the metrics have no %s", needle);
        return strtoull(p + strlen(needle), NULL, 10);
}

/* What a guest turned server would send: a DHCP offer from port 67, and a router advertisement
 * (the kernel fills in the ICMPv6 checksum; the hop limit must be 255). */
#define PY_ROGUE_DHCP \
        "import socket\n" \
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n" \
        "s.bind(('', 67))\n" \
        "s.sendto(b'offer', ('10.50.1.2', 68))\n"
#define PY_RA \
        "import socket\n" \
        "s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)\n" \
        "s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)\n" \
        "s.sendto(bytes([134, 0, 0, 0, 64, 0, 7, 8] + [0] * 8), ('ff02::1', 0, 0, socket.if_nametoindex('eth0')))\n"

/* Writes a script into the test's directory once; returns its path (static buffer per name). */
static const char *script(const char *name, const char *text) {
        static char paths[4][256];
        static unsigned n;
        char *p;

        assert_true(n < ELEMENTSOF(paths));
        p = paths[n++];
        snprintf(p, sizeof(paths[0]), "%s/%s", H.tmp, name);
        assert_int_equal(write_string_file(p, text, WRITE_CREATE), 0);
        return p;
}

/* Acceptance 1: a spoofed MAC or address, a rogue DHCP offer, a router advertisement from an
 * endpoint are dropped, and counted in the metrics. */
static void test_drops_counted(void **state) {
        const char *a2 = endpoints[1];
        _cleanup_free_ char *text = NULL;
        uint64_t before;

        require_setup();
        before = dropped("rogue_dhcp");
        assert_int_equal(in_ns(a2, NULL, "python3 %s", script("rogue-dhcp.py", PY_ROGUE_DHCP)), 0);
        assert_true(dropped("rogue_dhcp") > before);

        before = dropped("router_adverts");
        assert_int_equal(in_ns(a2, NULL, "python3 %s", script("ra.py", PY_RA)), 0);
        assert_true(dropped("router_adverts") > before);

        before = dropped("spoofed");
        run("ip -n %s link set eth0 address 52:54:00:de:ad:01", a2);
        assert_false(pings(a2, "10.50.1.2"));
        assert_true(dropped("spoofed") > before);
        {
                _cleanup_(json_decrefp) json_t *lab = network_json("red/lab");
                run("ip -n %s link set eth0 address %s", a2,
                    json_string_value(json_object_get(nic_of(lab, "a2"), "mac")));
        }
        assert_true(pings(a2, "10.50.1.2"));

        /* Frames to a bridges' link-local group address (01:80:c2:00:00:0e) are passed up to the
         * host on the port itself, past the bridge's prerouting hook: the host's input rules take
         * the port for the tenant's side too (review: another tenant's DNS and the management
         * address were reachable that way). */
        before = dropped("spoofed") + dropped("to_host");
        run("ip -n %s neigh replace 10.50.1.1 lladdr 01:80:c2:00:00:0e dev eth0 nud permanent", a2);
        assert_false(pings(a2, MGMT_ADDR));
        assert_int_not_equal(in_ns(a2, NULL, "busybox nslookup b1.blue 10.50.2.1"), 0);
        assert_true(dropped("spoofed") + dropped("to_host") > before);
        run("ip -n %s neigh del 10.50.1.1 dev eth0", a2);
        assert_true(pings(a2, "10.50.1.1"));

        /* A port named as Ark's that arkd does not know (a tap whose guest never let go of it)
         * sends nothing. */
        before = dropped("spoofed");
        {
                _cleanup_(json_decrefp) json_t *lab = network_json("red/lab");
                _cleanup_free_ char *bridge = strdup(jstr(lab, "bridge"));

                assert_non_null(bridge);
                run("ip netns add %s-x && ip -n %s link add arktdeadbeef type veth peer name eth0 netns %s-x && "
                    "ip -n %s link set arktdeadbeef master %s up && ip -n %s-x link set eth0 up && "
                    "ip -n %s-x addr add 10.50.1.250/24 dev eth0",
                    a2, host_ns, a2, host_ns, bridge, a2, a2);
        }
        {
                _cleanup_free_ char *stray = strprintf("%s-x", a2);
                assert_false(pings(stray, "10.50.1.2"));
        }
        assert_true(dropped("spoofed") > before);
        run("ip -n %s link del arktdeadbeef; ip netns del %s-x", host_ns, a2);

        /* Bytes per network and per port. */
        text = metrics();
        assert_non_null(strstr(text, "ark_network_receive_bytes_total{tenant=\"red\",network=\"lab\"}"));
        assert_non_null(
                strstr(text, "ark_nic_receive_bytes_total{tenant=\"red\",instance=\"a1\",network=\"lab\"}"));
}

static void test_nat_and_forward(void **state) {
        _cleanup_free_ char *out = NULL;
        pid_t listener;
        const char *a2 = endpoints[1];

        require_setup();
        /* NAT egress reaches the uplink namespace. */
        assert_true(pings(a2, UPLINK_PEER));

        /* A forward: the site reaches a2's port through the host's uplink address. */
        assert_arkctl(&H, 0, NULL, "network", "forward", "add", "red/lab", "--port", "18080", "--to",
                      "a2:8080");
        listener = fork();
        assert_true(listener >= 0);
        if (listener == 0) {
                execlp("ip", "ip", "netns", "exec", a2, "busybox", "nc", "-l", "-p", "8080", "-e", "echo",
                       "ark-forward-ok", NULL);
                _exit(127);
        }
        usleep(300 * 1000);
        assert_int_equal(in_ns(uplink_ns, &out, "echo | busybox nc -w 2 " UPLINK_HOST " 18080"), 0);
        assert_non_null(strstr(strempty(out), "ark-forward-ok"));
        kill(listener, SIGTERM);
        (void) waitpid(listener, NULL, 0);

        /* One port forwarded, red's quota (test_quotas); gone when removed. */
        assert_arkctl(&H, 1, "already", "network", "forward", "add", "red/lab", "--port", "18080", "--to",
                      "a1:80");
        assert_arkctl(&H, 1, "would use 2 of its 1 port forwards", "network", "forward", "add", "red/lab",
                      "--port", "18081", "--to", "a1:80");
        assert_arkctl(&H, 0, NULL, "network", "forward", "remove", "red/lab", "--port", "18080");
        /* Every change is on record, refusals included. */
        {
                _cleanup_free_ char *log = NULL;

                assert_int_equal(harness_arkctl(&H, &log, NULL, "audit", "list", NULL), 0);
                assert_non_null(strstr(strempty(log), "Manager.CreateNetwork"));
                assert_non_null(strstr(strempty(log), "Network.AddForward"));
                assert_non_null(strstr(strempty(log), "Network.RemoveForward"));
                assert_non_null(strstr(strempty(log), "QuotaExceeded"));
        }
        free(out);
        out = NULL;
        assert_int_not_equal(in_ns(uplink_ns, &out, "echo | busybox nc -w 2 " UPLINK_HOST " 18080"), 0);
}

/* Acceptance 3: kill -9, start again: the data path is made again; foreign links and tables stay. */
static void test_restart_rebuilds(void **state) {
        _cleanup_(json_decrefp) json_t *lab = NULL;
        _cleanup_free_ char *out = NULL;
        const char *a1 = endpoints[0], *a2 = endpoints[1];

        require_setup();
        lab = network_json("red/lab");
        assert_int_equal(harness_stop_arkd(&H, SIGKILL), 128 + SIGKILL);
        /* While arkd is away: its tables flushed, a bridge of the site's, a table of the site's, and
         * a bridge named as Ark's that no network owns. */
        run("ip netns exec %s nft delete table inet ark_net; ip netns exec %s nft delete table bridge ark_net; "
            "ip -n %s link add sitebr0 type bridge && ip -n %s link add arkn0000ff type bridge && "
            "ip netns exec %s nft add table inet site",
            host_ns, host_ns, host_ns, host_ns, host_ns);
        assert_int_equal(harness_start_arkd(&H, NULL), 0);

        assert_true(pings(a1, "10.50.1.3"));
        assert_false(pings(a1, MGMT_ADDR));
        assert_true(pings(a2, UPLINK_PEER));
        assert_int_equal(in_ns(host_ns, &out, "ip -o link show sitebr0 && nft list tables"), 0);
        assert_non_null(strstr(out, "table inet site"));
        free(out);
        out = NULL;
        /* The stray Ark-named bridge is reported, left, and removed on request. */
        assert_arkctl(&H, 0, "arkn0000ff ('arkctl network prune' removes them)", "status");
        assert_arkctl(&H, 0, "Removed network link arkn0000ff", "network", "prune");
        assert_int_not_equal(in_ns(host_ns, &out, "ip -o link show arkn0000ff"), 0);
}

static bool on_network(const char *network, const char *instance) {
        _cleanup_(json_decrefp) json_t *net = network_json(network);
        json_t *l = json_object_get(net, "instances"), *e;
        size_t k;

        json_array_foreach(l, k, e)
                if (streq_ptr(json_string_value(json_object_get(e, "instance")), instance))
                        return true;
        return false;
}

/* vm network add|remove: a stopped VM's definition changes; a running one's NIC is hot-plugged,
 * which libvirt's test driver cannot do (real VMs: test-real-hypervisor): refused, nothing changed. */
static void test_vm_network_add_remove(void **state) {
        _cleanup_free_ char *xml = NULL, *err = NULL;

        require_setup();
        assert_arkctl(&H, 0, NULL, "vm", "create", "solo", "--tenant", "red", "--vcpus", "1", "--memory",
                      "256M");
        assert_false(on_network("red/lab", "solo"));
        assert_arkctl(&H, 0, "VM 'red/solo' is on network 'lab' now", "vm", "network", "add", "red/solo",
                      "lab");
        assert_true(on_network("red/lab", "solo"));
        assert_arkctl(&H, 0, "<interface type='bridge'>", "vm", "show", "red/solo", "--xml");
        assert_arkctl(&H, 0, "lab 10.50.1.", "vm", "show", "red/solo");
        assert_arkctl(&H, 1, "is on network 'lab' already", "vm", "network", "add", "red/solo", "lab");
        assert_arkctl(&H, 1, "has no network 'nowhere'", "vm", "network", "add", "red/solo", "nowhere");
        /* A forward to it goes when it leaves the network. */
        assert_arkctl(&H, 0, NULL, "network", "forward", "add", "red/lab", "--port", "18090", "--to",
                      "solo:80");
        assert_arkctl(&H, 0, "left network 'lab'", "vm", "network", "remove", "red/solo", "lab");
        assert_false(on_network("red/lab", "solo"));
        assert_arkctl(&H, 1, "no forward of tcp port 18090", "network", "forward", "remove", "red/lab",
                      "--port", "18090");
        assert_int_equal(harness_arkctl(&H, &xml, &err, "vm", "show", "red/solo", "--xml", NULL), 0);
        assert_null(strstr(xml, "<interface type='bridge'>"));

        /* Running on the test driver: refused, nothing half-made. */
        assert_arkctl(&H, 0, NULL, "vm", "start", "red/solo");
        assert_arkctl(&H, 1, "cannot plug NICs into running instance 'solo'", "vm", "network", "add",
                      "red/solo", "lab");
        assert_false(on_network("red/lab", "solo"));
        assert_arkctl(&H, 0, NULL, "vm", "stop", "red/solo", "--force");
        assert_arkctl(&H, 0, NULL, "vm", "delete", "red/solo");
}

/* arkd without CAP_NET_ADMIN (a sandbox run as a user) has no tenant networks and says why; its
 * tenants then get no default network rather than failing. */
static void test_without_net_admin(void **state) {
        static char *const drop[] = { (char *) "setpriv", (char *) "--bounding-set", (char *) "-net_admin",
                                      NULL };

        require_setup();
        assert_int_equal(harness_stop_arkd(&H, SIGTERM), 0);
        H.wrap = drop;
        H.default_networks = true;
        assert_int_equal(harness_start_arkd(&H, NULL), 0);
        assert_arkctl(&H, 1, "lacks the right to manage network links", "network", "create", "more",
                      "--tenant", "red", "--isolated");
        assert_arkctl(&H, 0, NULL, "tenant", "create", "green");
        assert_arkctl(&H, 0, "No networks", "network", "list", "--tenant", "green");
        H.wrap = NULL;
        assert_int_equal(harness_stop_arkd(&H, SIGTERM), 0);
        assert_int_equal(harness_start_arkd(&H, NULL), 0);
        assert_arkctl(&H, 0, NULL, "tenant", "delete", "green");
}

/* DefaultTenantNetwork=yes: a new tenant comes with its network "default" (isolated: arkd's host
 * has a way out, but let it be either), and a VM created without --network joins it. */
static void test_default_network(void **state) {
        _cleanup_(json_decrefp) json_t *net = NULL;

        require_setup();
        assert_true(H.default_networks); /* test_without_net_admin left it on */
        assert_arkctl(&H, 0, NULL, "tenant", "create", "gold");
        net = network_json("gold/default");
        assert_arkctl(&H, 0, NULL, "vm", "create", "g1", "--tenant", "gold", "--vcpus", "1", "--memory",
                      "256M");
        assert_true(on_network("gold/default", "g1"));
        assert_arkctl(&H, 0, "default ", "vm", "show", "gold/g1");
        /* The tenant goes with its network (no instances left on it). */
        assert_arkctl(&H, 0, NULL, "vm", "delete", "gold/g1");
        assert_arkctl(&H, 0, NULL, "tenant", "delete", "gold");
        assert_arkctl(&H, 1, "does not exist", "network", "show", "gold/default");
        H.default_networks = false;
}

static void test_delete(void **state) {
        _cleanup_(json_decrefp) json_t *quiet = NULL;
        _cleanup_free_ char *out = NULL;

        require_setup();
        assert_arkctl(&H, 1, "still has 2 instances on it", "network", "delete", "red/lab");
        quiet = network_json("red/quiet");
        assert_arkctl(&H, 0, "Deleted network 'red/quiet'", "network", "delete", "red/quiet");
        assert_int_not_equal(in_ns(host_ns, &out, "ip -o link show %s", jstr(quiet, "bridge")), 0);
        /* An instance deleted frees its address. */
        assert_arkctl(&H, 0, NULL, "vm", "delete", "red/a2");
        assert_arkctl(&H, 0, NULL, "vm", "create", "a3", "--tenant", "red", "--vcpus", "1", "--memory",
                      "256M", "--network", "lab");
        {
                _cleanup_(json_decrefp) json_t *lab = network_json("red/lab");
                assert_string_equal(json_string_value(json_object_get(nic_of(lab, "a3"), "ipv4")),
                                    "10.50.1.3");
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_create_list_show),
                cmocka_unit_test(test_quotas),
                cmocka_unit_test(test_bad_input),
                cmocka_unit_test(test_dhcp_dns_and_isolation),
                cmocka_unit_test(test_ipv6),
                cmocka_unit_test(test_drops_counted),
                cmocka_unit_test(test_nat_and_forward),
                cmocka_unit_test(test_restart_rebuilds),
                cmocka_unit_test(test_vm_network_add_remove),
                cmocka_unit_test(test_without_net_admin),
                cmocka_unit_test(test_default_network),
                cmocka_unit_test(test_delete),
        };

        return cmocka_run_group_tests_name("integration: tenant networks", tests, group_setup,
                                           group_teardown);
}

/* Tests for lib/net/netrules: the nft script of a model with two tenants (NAT, isolated and VLAN
 * networks, ports, forwards, protected prefixes) holds every port and forward in the right set or
 * map and nothing nft 1.0.6 refuses (nft checks it, in a network namespace of its own, when the
 * test runs as root); what would break the script is refused; the same model gives the same text.
 * tests/integration/test-netrules-kernel loads it and sends packets through it. */

#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "basic/macro.h"
#include "net/netrules.h"

static NetAddr addr(const char *s) {
        NetAddr a;

        if (net_addr_parse(s, &a) < 0)
                fail_msg("'%s' does not parse as an address", s);
        return a;
}

static NetPrefix prefix(const char *s) {
        NetPrefix p;

        if (net_prefix_parse(s, &p, NULL, 0) < 0)
                fail_msg("'%s' does not parse as a prefix", s);
        return p;
}

/* The model: tenant A has a NAT network (two ports, two forwards) and an isolated one (a port, and
 * a forward that must not appear); tenant B a NAT network and a VLAN network whose VLAN port is
 * listed among its ports too (it must not be checked). */
typedef struct Model {
        NetRulesPort a1[2], a2[1], b1[1], b2[2];
        NetRulesForward fa1[2], fa2[1], fb1[1];
        NetRulesNetwork nets[4];
        NetPrefix protected[4];
        NetRules rules;
} Model;

static void model_init(Model *m) {
        *m = (Model) {
                .a1 = { { .ifname = "vm-a1-0", .mac = { 0x52, 0x54, 0, 0xa1, 0, 1 } },
                        { .ifname = "ct-a1-1", .mac = { 0x52, 0x54, 0, 0xa1, 0, 2 } } },
                .a2 = { { .ifname = "vm-a2-0", .mac = { 0x52, 0x54, 0, 0xa2, 0, 1 } } },
                .b1 = { { .ifname = "vm-b1-0", .mac = { 0x52, 0x54, 0, 0xb1, 0, 1 } } },
                .b2 = { { .ifname = "vm-b2-0", .mac = { 0x52, 0x54, 0, 0xb2, 0, 1 } },
                        { .ifname = "eth0.100", .mac = { 0x52, 0x54, 0, 0xb2, 0, 0xff } } },
                .fa1 = { { .proto = IPPROTO_TCP, .port = 8080, .to_port = 80 },
                         { .proto = IPPROTO_UDP, .port = 5353, .to_port = 53 } },
                .fa2 = { { .proto = IPPROTO_TCP, .port = 2222, .to_port = 22 } },
                .fb1 = { { .proto = IPPROTO_UDP, .port = 8080, .to_port = 8081 } },
        };
        m->a1[0].ip4 = addr("10.64.1.2");
        m->a1[1].ip4 = addr("10.64.1.3");
        m->a2[0].ip4 = addr("10.64.2.2");
        m->b1[0].ip4 = addr("10.64.3.2");
        /* m->b2[0] has no IPv4 address */
        m->fa1[0].to = addr("10.64.1.2");
        m->fa1[1].to = addr("10.64.1.3");
        m->fa2[0].to = addr("10.64.2.2");
        m->fb1[0].to = addr("10.64.3.2");

        m->nets[0] = (NetRulesNetwork) { .bridge = "ark-a1",
                                         .mode = NET_MODE_NAT,
                                         .uplink = "eno1",
                                         .subnet4 = prefix("10.64.1.0/24"),
                                         .subnet6 = prefix("fd00:a1::/64"),
                                         .ports = m->a1,
                                         .n_ports = 2,
                                         .forwards = m->fa1,
                                         .n_forwards = 2 };
        m->nets[1] = (NetRulesNetwork) { .bridge = "ark-a2",
                                         .mode = NET_MODE_ISOLATED,
                                         .subnet4 = prefix("10.64.2.0/24"),
                                         .ports = m->a2,
                                         .n_ports = 1,
                                         .forwards = m->fa2,
                                         .n_forwards = 1 };
        m->nets[2] = (NetRulesNetwork) { .bridge = "ark-b1",
                                         .mode = NET_MODE_NAT,
                                         .uplink = "eno1",
                                         .subnet4 = prefix("10.64.3.0/24"),
                                         .subnet6 = prefix("fd00:b1::/64"),
                                         .ports = m->b1,
                                         .n_ports = 1,
                                         .forwards = m->fb1,
                                         .n_forwards = 1 };
        m->nets[3] = (NetRulesNetwork) { .bridge = "ark-b2",
                                         .mode = NET_MODE_VLAN,
                                         .vlan_port = "eth0.100",
                                         .ports = m->b2,
                                         .n_ports = 2 };
        /* Nested and repeated prefixes: nft refuses overlapping intervals in one set. */
        m->protected[0] = prefix("192.168.0.0/16");
        m->protected[1] = prefix("192.168.7.0/24");
        m->protected[2] = prefix("fd99::/48");
        m->protected[3] = prefix("192.168.0.0/16");
        m->rules = (NetRules) {
                .networks = m->nets, .n_networks = 4, .protected = m->protected, .n_protected = 4
        };
}

static char *render(const NetRules *r) {
        char *s = NULL;
        int e = net_rules_render(r, &s);

        if (e < 0)
                fail_msg("net_rules_render: %s", strerror(-e));
        assert_non_null(s);
        return s;
}

/* The block of `what` ("set port_mac", "chain port"), from its line to its closing brace, newly
 * allocated; fails the test when the script has none. */
static char *block(const char *text, const char *table, const char *what) {
        _cleanup_free_ char *head = NULL, *open = NULL;
        const char *t, *b, *e;

        assert_true(asprintf(&head, "\ntable %s {\n", table) > 0);
        assert_true(asprintf(&open, "\n\t%s {\n", what) > 0);
        t = strstr(text, head);
        if (!t)
                fail_msg("no '%s' in the script", table);
        b = strstr(t, open);
        e = b ? strstr(b, "\n\t}\n") : NULL;
        if (!b || !e || e > strstr(t + 1, "\n}\n"))
                fail_msg("no '%s' in table %s", what, table);
        return strndup(b + 1, (size_t) (e - b) + 3);
}

static void assert_in(const char *text, const char *table, const char *what, const char *needle) {
        _cleanup_free_ char *b = block(text, table, what);

        if (!strstr(b, needle))
                fail_msg("%s %s lacks '%s':\n%s", table, what, needle, b);
}

static void assert_not_in(const char *text, const char *table, const char *what, const char *needle) {
        _cleanup_free_ char *b = block(text, table, what);

        if (strstr(b, needle))
                fail_msg("%s %s holds '%s':\n%s", table, what, needle, b);
}

/* nft's check mode on the script, in a network namespace of its own (so that the host's rule set
 * does not matter and nothing is changed). 1 when nft accepts it, 0 when it refuses it (its words
 * on stderr unless quiet), -1 when it cannot be asked (not root, no nft, no namespaces). */
static int nft_check(const char *script, bool quiet) {
        char path[] = "/tmp/test-netrules-XXXXXX";
        _cleanup_free_ char *cmd = NULL;
        int fd, st;
        FILE *f;

        if (geteuid() != 0 || system("command -v nft >/dev/null && unshare --net true 2>/dev/null") != 0)
                return -1;
        fd = mkstemp(path);
        assert_true(fd >= 0);
        f = fdopen(fd, "w");
        assert_non_null(f);
        fputs(script, f);
        assert_int_equal(fclose(f), 0);
        assert_true(asprintf(&cmd, "unshare --net nft -c -f %s%s", path, quiet ? " 2>/dev/null" : "") > 0);
        st = system(cmd);
        (void) unlink(path);
        return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static void test_nft_accepts(void **state) {
        Model m;
        _cleanup_free_ char *full = NULL, *empty = NULL;
        int r;

        model_init(&m);
        full = render(&m.rules);
        empty = render(&(NetRules) {});
        r = nft_check(full, false);
        if (r < 0) {
                printf("# nft's check of the scripts skipped: needs root, nft and network namespaces\n");
                return;
        }
        if (r == 0)
                fail_msg("nft refuses the script:\n%s", full);
        if (nft_check(empty, false) != 1)
                fail_msg("nft refuses the script of no networks:\n%s", empty);
        assert_int_equal(nft_check(net_rules_remove_script(), false), 1);
        /* The check can fail: a script nft refuses is seen as refused. */
        assert_int_equal(nft_check("table bridge ark_net { chain fwd { } }\n", true), 0);
}

static void test_sets_and_maps(void **state) {
        Model m;
        _cleanup_free_ char *s = NULL;
        const char *br = "bridge " NET_RULES_TABLE, *in = "inet " NET_RULES_TABLE;

        model_init(&m);
        s = render(&m.rules);

        /* Each table is replaced whole: made if missing, deleted, defined again. */
        assert_non_null(strstr(
                s, "add table bridge ark_net\ndelete table bridge ark_net\ntable bridge ark_net {\n"));
        assert_non_null(
                strstr(s, "add table inet ark_net\ndelete table inet ark_net\ntable inet ark_net {\n"));
        assert_null(strstr(s, "flush ruleset"));

        /* Every tenant port with its MAC, IPv4 address, link-local and SLAAC addresses. */
        assert_in(s, br, "set ports", "\"vm-a1-0\"");
        assert_in(s, br, "set ports", "\"ct-a1-1\"");
        assert_in(s, br, "set ports", "\"vm-a2-0\"");
        assert_in(s, br, "set ports", "\"vm-b1-0\"");
        assert_in(s, br, "set ports", "\"vm-b2-0\"");
        assert_in(s, br, "set port_mac", "\"vm-a1-0\" . 52:54:00:a1:00:01");
        assert_in(s, br, "set port_mac", "\"ct-a1-1\" . 52:54:00:a1:00:02");
        assert_in(s, br, "set port_mac", "\"vm-a2-0\" . 52:54:00:a2:00:01");
        assert_in(s, br, "set port_mac", "\"vm-b1-0\" . 52:54:00:b1:00:01");
        assert_in(s, br, "set port_mac", "\"vm-b2-0\" . 52:54:00:b2:00:01");
        assert_in(s, br, "set port_ip4", "\"vm-a1-0\" . 10.64.1.2");
        assert_in(s, br, "set port_ip4", "\"ct-a1-1\" . 10.64.1.3");
        assert_in(s, br, "set port_ip4", "\"vm-a2-0\" . 10.64.2.2");
        assert_in(s, br, "set port_ip4", "\"vm-b1-0\" . 10.64.3.2");
        assert_not_in(s, br, "set port_ip4", "\"vm-b2-0\"");
        assert_in(s, br, "set port_ip6", "\"vm-a1-0\" . fe80::5054:ff:fea1:1");
        assert_in(s, br, "set port_ip6", "\"vm-a1-0\" . fd00:a1::5054:ff:fea1:1");
        assert_in(s, br, "set port_ip6", "\"vm-a2-0\" . fe80::5054:ff:fea2:1");
        assert_not_in(s, br, "set port_ip6", "\"vm-a2-0\" . fd"); /* no /64 on ark-a2 */
        assert_in(s, br, "set port_ip6", "\"vm-b1-0\" . fd00:b1::5054:ff:feb1:1");
        assert_in(s, br, "set port_nd", "\"vm-a1-0\" . 0xfe80000000000000505400fffea10001");
        assert_in(s, br, "set port_nd", "\"vm-a1-0\" . 0xfd0000a100000000505400fffea10001");
        /* The VLAN port is the site's side: not checked, but not a way in to forwards either. */
        assert_not_in(s, br, "set ports", "eth0.100");
        assert_not_in(s, br, "set port_mac", "eth0.100");
        assert_in(s, in, "set tenant_side", "\"eth0.100\"");

        /* The checks are there, and count. */
        assert_in(s, br, "chain port", "iifname . ether saddr != @port_mac counter name \"spoofed\" drop");
        assert_in(s, br, "chain port_arp",
                  "iifname . arp saddr ip != @port_ip4 counter name \"spoofed\" drop");
        assert_in(s, br, "chain port_ip4", "iifname . ip saddr != @port_ip4 counter name \"spoofed\" drop");
        assert_in(s, br, "chain port_ip4", "udp sport 67 counter name \"rogue_dhcp\" drop");
        assert_in(s, br, "chain port_ip6", "udp sport 547 counter name \"rogue_dhcp\" drop");
        assert_in(s, br, "chain port_ip6", "nd-router-advert");
        assert_in(s, br, "chain port_ip6", "counter name \"router_adverts\" drop");
        assert_in(s, br, "chain port_ip6", "iifname . @th,64,128 != @port_nd counter name \"spoofed\" drop");
        assert_in(s, in, "chain from_tenant", "counter name \"to_host\" drop");
        assert_in(s, in, "chain from_tenant_routed", "counter name \"forward_denied\" drop");
        assert_non_null(strstr(
                s, "\tcounter spoofed { }\n\tcounter rogue_dhcp { }\n\tcounter router_adverts { }\n"));
        assert_non_null(strstr(s, "\tcounter to_host { }\n\tcounter forward_denied { }\n"));

        /* Bridges, NAT, gateways. */
        assert_in(s, in, "set bridges",
                  "\"ark-a1\",\n\t\t\t\"ark-a2\",\n\t\t\t\"ark-b1\",\n\t\t\t\"ark-b2\"\n");
        assert_in(s, in, "set nat_out", "\"ark-a1\" . \"eno1\"");
        assert_in(s, in, "set nat_out", "\"ark-b1\" . \"eno1\"");
        assert_not_in(s, in, "set nat_out", "ark-a2");
        assert_not_in(s, in, "set nat_out", "ark-b2");
        assert_in(s, in, "set gateway4", "\"ark-a1\" . 10.64.1.1");
        assert_in(s, in, "set gateway4", "\"ark-a2\" . 10.64.2.1");
        assert_in(s, in, "set gateway6", "\"ark-a1\" . fd00:a1::1");

        /* Forwards of NAT networks in the map; the isolated network's is left out. */
        assert_in(s, in, "map forwards", "type inet_proto . inet_service : ipv4_addr . inet_service");
        assert_in(s, in, "map forwards", "tcp . 8080 : 10.64.1.2 . 80");
        assert_in(s, in, "map forwards", "udp . 5353 : 10.64.1.3 . 53");
        assert_in(s, in, "map forwards", "udp . 8080 : 10.64.3.2 . 8081");
        assert_not_in(s, in, "map forwards", "2222");
        assert_in(s, in, "chain prerouting", "dnat ip to meta l4proto . th dport map @forwards");

        /* Protected prefixes, each once, the nested one folded into its outer one. */
        assert_in(s, in, "set protected4", "192.168.0.0/16");
        assert_not_in(s, in, "set protected4", "192.168.7.0/24");
        assert_not_in(s, in, "set protected4", "192.168.0.0/16,");
        assert_in(s, in, "set protected6", "fd99::/48");

        /* "fwd" is a word of nft 1.0.6's grammar: nothing may be named so. */
        for (const char *p = s; (p = strstr(p, "fwd")); p++) {
                bool word_start = p == s || !(p[-1] == '_' || (p[-1] >= 'a' && p[-1] <= 'z'));
                bool word_end = !(p[3] == '_' || (p[3] >= 'a' && p[3] <= 'z'));

                if (word_start && word_end)
                        fail_msg("the script has a name 'fwd' at offset %td", p - s);
        }
}

static void test_empty(void **state) {
        _cleanup_free_ char *s = render(&(NetRules) {});

        /* The chains and sets are all there, with no elements (nft refuses `elements = { }`). */
        assert_null(strstr(s, "elements"));
        assert_in(s, "bridge " NET_RULES_TABLE, "set port_mac", "type ifname . ether_addr");
        assert_in(s, "bridge " NET_RULES_TABLE, "chain prerouting", "iifname @ports jump port");
        assert_in(s, "inet " NET_RULES_TABLE, "map forwards", "type inet_proto");
        assert_in(s, "inet " NET_RULES_TABLE, "chain forward",
                  "iifname @tenant_side jump from_tenant_routed");
        assert_string_equal(net_rules_remove_script(),
                            "add table bridge ark_net\ndelete table bridge ark_net\n"
                            "add table inet ark_net\ndelete table inet ark_net\n");
}

static void test_same_twice(void **state) {
        Model m;
        _cleanup_free_ char *a = NULL, *b = NULL;

        model_init(&m);
        a = render(&m.rules);
        b = render(&m.rules);
        assert_string_equal(a, b);
        /* ... and a change shows. */
        m.a1[0].ip4 = addr("10.64.1.9");
        free(b);
        b = render(&m.rules);
        assert_string_not_equal(a, b);
        assert_in(b, "bridge " NET_RULES_TABLE, "set port_ip4", "\"vm-a1-0\" . 10.64.1.9");
}

/* Models that render no script, each a change to a good one. */
static const char *const spoiled[] = {
        "no bridge",
        "NAT without an uplink",
        "mode out of range",
        "negative mode",
        "forward without a port",
        "forward to no port",
        "forward of ICMP",
        "forward to IPv6",
        "forward to nowhere",
        "two forwards on udp 5353",
        "two forwards on tcp 8080 in two networks",
        "an isolated network's forward on a NAT network's port",
        "subnet4 of IPv6",
        "subnet6 of IPv4",
        "subnet6 not a /64",
        "a port's ip4 of IPv6",
        "a protected prefix of no family",
};

static void spoil(Model *m, size_t k) {
        switch (k) {
        case 0:
                m->nets[0].bridge = NULL;
                break;
        case 1:
                m->nets[0].uplink = NULL;
                break;
        case 2:
                m->nets[1].mode = _NET_MODE_MAX;
                break;
        case 3:
                m->nets[1].mode = (NetMode) -1;
                break;
        case 4:
                m->fa1[1].port = 0;
                break;
        case 5:
                m->fa1[1].to_port = 0;
                break;
        case 6:
                m->fa1[1].proto = IPPROTO_ICMP;
                break;
        case 7:
                m->fa1[1].to = addr("fd00:a1::2");
                break;
        case 8:
                m->fa1[1].to = (NetAddr) {};
                break;
        case 9:
                m->fa1[0] = m->fa1[1];
                break;
        case 10:
                m->fb1[0].proto = IPPROTO_TCP;
                break;
        case 11:
                m->fa2[0].port = 5353;
                m->fa2[0].proto = IPPROTO_UDP;
                break;
        case 12:
                m->nets[0].subnet4 = prefix("fd00::/64");
                break;
        case 13:
                m->nets[0].subnet6 = prefix("10.0.0.0/8");
                break;
        case 14:
                m->nets[0].subnet6 = prefix("fd00:a1::/56");
                break;
        case 15:
                m->a1[0].ip4 = addr("fd00::1");
                break;
        case 16:
                m->protected[2] = (NetPrefix) {};
                break;
        default:
                fail_msg("no spoiled model %zu", k);
        }
}

static void test_refused(void **state) {
        static const char *const bad_names[] = {
                "", "a-name-of-16-chr", "br a", "br\"a", "br;a", "br}a", "br/a", "br\na", "br\\a", "bré",
        };
        char *s = (char *) "untouched";
        Model m;

        for (size_t k = 0; k < ELEMENTSOF(bad_names); k++) {
                model_init(&m);
                m.nets[1].bridge = bad_names[k];
                assert_int_equal(net_rules_render(&m.rules, &s), -EINVAL);
                model_init(&m);
                m.a1[1].ifname = bad_names[k];
                assert_int_equal(net_rules_render(&m.rules, &s), -EINVAL);
                model_init(&m);
                m.nets[0].uplink = bad_names[k];
                assert_int_equal(net_rules_render(&m.rules, &s), -EINVAL);
                model_init(&m);
                m.nets[3].vlan_port = bad_names[k];
                assert_int_equal(net_rules_render(&m.rules, &s), -EINVAL);
        }
        model_init(&m);
        m.nets[1].bridge = "a-name-of-15chr"; /* the longest an interface name can be */
        free(render(&m.rules));

        for (size_t k = 0; k < ELEMENTSOF(spoiled); k++) {
                model_init(&m);
                free(render(&m.rules));
                spoil(&m, k);
                if (net_rules_render(&m.rules, &s) != -EINVAL)
                        fail_msg("%s: not refused", spoiled[k]);
        }
        assert_string_equal(s, "untouched");

        /* What is fine: an isolated or VLAN network without an uplink, a network without subnets,
         * the same forward port on TCP and UDP. */
        model_init(&m);
        m.nets[3].vlan_port = NULL;
        m.nets[1].subnet4 = (NetPrefix) {};
        m.fb1[0].port = 8080; /* udp, beside a1's tcp 8080 */
        free(render(&m.rules));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_nft_accepts), cmocka_unit_test(test_sets_and_maps),
                cmocka_unit_test(test_empty),       cmocka_unit_test(test_same_twice),
                cmocka_unit_test(test_refused),
        };
        return cmocka_run_group_tests_name("netrules", tests, NULL, NULL);
}

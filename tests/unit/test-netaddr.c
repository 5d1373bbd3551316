/* Tests for lib/net/netaddr: parsing and printing addresses and prefixes (and what is refused),
 * overlap, containment, the n-th host, IPAM, picking a free subnet, MACs and EUI-64. */

#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "basic/macro.h"
#include "net/netaddr.h"

static NetAddr addr(const char *s) {
        NetAddr a;

        if (net_addr_parse(s, &a) < 0)
                fail_msg("'%s' does not parse as an address", s);
        return a;
}

static NetPrefix prefix(const char *s) {
        NetPrefix p;
        char reason[128];

        if (net_prefix_parse(s, &p, reason, sizeof(reason)) < 0)
                fail_msg("'%s' does not parse as a prefix: %s", s, reason);
        return p;
}

static void test_addr_parse(void **state) {
        static const struct {
                const char *in, *out; /* out NULL: refused */
                int family;
        } cases[] = {
                { "10.20.0.7", "10.20.0.7", AF_INET },
                { "0.0.0.0", "0.0.0.0", AF_INET },
                { "255.255.255.255", "255.255.255.255", AF_INET },
                { "fd00::7", "fd00::7", AF_INET6 },
                { "FD00:0:0::7", "fd00::7", AF_INET6 },
                { "::", "::", AF_INET6 },
                { "::ffff:10.0.0.1", "::ffff:10.0.0.1", AF_INET6 },
                { "fe80::5054:ff:fe00:1", "fe80::5054:ff:fe00:1", AF_INET6 },
                { "", NULL, 0 },
                { "10.20.0", NULL, 0 },
                { "10.20.0.256", NULL, 0 },
                { "10.20.0.07", NULL, 0 },
                { "10.20.0.7 ", NULL, 0 },
                { " 10.20.0.7", NULL, 0 },
                { "10.20.0.7/24", NULL, 0 },
                { "10.20.0.7.1", NULL, 0 },
                { "0x0a.0.0.1", NULL, 0 },
                { "fd00::7%eth0", NULL, 0 },
                { "[fd00::7]", NULL, 0 },
                { "fd00:::7", NULL, 0 },
                { "1:2:3:4:5:6:7:8:9", NULL, 0 },
                { "fd00::g", NULL, 0 },
                { "localhost", NULL, 0 },
        };

        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                NetAddr a = { .family = 99 };
                char buf[NET_ADDR_STRLEN];
                int r = net_addr_parse(cases[k].in, &a);

                if (!cases[k].out) {
                        if (r != -EINVAL)
                                fail_msg("'%s' was accepted", cases[k].in);
                        assert_int_equal(a.family, 99); /* left alone */
                        continue;
                }
                if (r != 0)
                        fail_msg("'%s' was refused", cases[k].in);
                assert_int_equal(a.family, cases[k].family);
                assert_string_equal(net_addr_to_string(&a, buf), cases[k].out);
        }
        assert_int_equal(net_addr_parse(NULL, &(NetAddr) {}), -EINVAL);

        /* Printing: family 0 is "", and equality looks at the family's bytes only. */
        char buf[NET_ADDR_STRLEN];
        NetAddr none = {}, a = addr("10.0.0.1"), b = addr("10.0.0.1"), c = addr("::a00:1");
        assert_string_equal(net_addr_to_string(&none, buf), "");
        b.bytes[8] = 0xff; /* beyond an IPv4 address */
        assert_true(net_addr_equal(&a, &b));
        assert_false(net_addr_equal(&a, &c));
        assert_false(net_addr_equal(&a, &(NetAddr) { .family = AF_INET, .bytes = { 10, 0, 0, 2 } }));
}

static void test_prefix_parse(void **state) {
        static const struct {
                const char *in, *out; /* out NULL: refused, with a reason containing `why` */
                const char *why;
        } cases[] = {
                { "10.20.0.0/24", "10.20.0.0/24" },
                { "0.0.0.0/0", "0.0.0.0/0" },
                { "10.20.0.7/32", "10.20.0.7/32" },
                { "fd00:1::/64", "fd00:1::/64" },
                { "FD00:1:0:0::/64", "fd00:1::/64" },
                { "::/0", "::/0" },
                { "fd00::1/128", "fd00::1/128" },
                { "10.20.0.5/24", NULL, "10.20.0.5/24 has host bits set; the network is 10.20.0.0/24" },
                { "fd00:1::1/64", NULL, "fd00:1::1/64 has host bits set; the network is fd00:1::/64" },
                { "10.0.0.1/0", NULL, "the network is 0.0.0.0/0" },
                { "10.20.0.0", NULL, "expected ADDRESS/LENGTH" },
                { "10.20.0.0/", NULL, "from 0 to 32" },
                { "10.20.0.0/33", NULL, "from 0 to 32" },
                { "fd00::/129", NULL, "from 0 to 128" },
                { "10.20.0.0/024", NULL, "from 0 to 32" },
                { "10.20.0.0/+24", NULL, "from 0 to 32" },
                { "10.20.0.0/-1", NULL, "from 0 to 32" },
                { "10.20.0.0/24 ", NULL, "from 0 to 32" },
                { "10.20.0.0/2x", NULL, "from 0 to 32" },
                { "10.20.0.0/99999999999999999999", NULL, "from 0 to 32" },
                { "10.20.0.0/24/24", NULL, "from 0 to 32" },
                { "/24", NULL, "not an IPv4 or IPv6 address" },
                { " 10.20.0.0/24", NULL, "not an IPv4 or IPv6 address" },
                { "10.20.0/24", NULL, "not an IPv4 or IPv6 address" },
                { "fd00::%eth0/64", NULL, "not an IPv4 or IPv6 address" },
                { "1234567890123456789012345678901234567890123456789/8", NULL, "too long" },
                { "", NULL, "expected ADDRESS/LENGTH" },
        };

        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                NetPrefix p = { .len = 99 };
                char buf[NET_PREFIX_STRLEN], reason[128] = "";
                int r = net_prefix_parse(cases[k].in, &p, reason, sizeof(reason));

                if (!cases[k].out) {
                        if (r != -EINVAL)
                                fail_msg("'%s' was accepted", cases[k].in);
                        if (!strstr(reason, cases[k].why))
                                fail_msg("'%s': reason '%s' does not say '%s'", cases[k].in, reason,
                                         cases[k].why);
                        assert_int_equal(p.len, 99);
                        continue;
                }
                if (r != 0)
                        fail_msg("'%s' was refused: %s", cases[k].in, reason);
                assert_string_equal(net_prefix_to_string(&p, buf), cases[k].out);
        }
        /* No room for a reason, or a short one: refused all the same, never written past. */
        char tiny[8];
        memset(tiny, 'x', sizeof(tiny));
        assert_int_equal(net_prefix_parse("10.0.0.1/8", &(NetPrefix) {}, NULL, 0), -EINVAL);
        assert_int_equal(net_prefix_parse("10.0.0.1/8", &(NetPrefix) {}, tiny, 4), -EINVAL);
        assert_string_equal(tiny, "10.");
        assert_int_equal(tiny[4], 'x');
        assert_int_equal(net_prefix_parse(NULL, &(NetPrefix) {}, NULL, 0), -EINVAL);
        char buf[NET_PREFIX_STRLEN];
        assert_string_equal(net_prefix_to_string(&(NetPrefix) {}, buf), "");
        /* The longest prefix fits its buffer. */
        NetPrefix longest = prefix("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
        assert_string_equal(net_prefix_to_string(&longest, buf),
                            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
}

static void test_overlap_contains(void **state) {
        static const struct {
                const char *a, *b;
                bool overlap;
        } overlaps[] = {
                { "10.0.0.0/8", "10.20.0.0/24", true },
                { "10.20.0.0/24", "10.0.0.0/8", true },
                { "10.20.0.0/24", "10.20.0.0/24", true },
                { "10.20.0.0/24", "10.20.1.0/24", false },
                { "10.20.0.0/23", "10.20.1.0/24", true },
                { "0.0.0.0/0", "192.168.1.1/32", true },
                { "192.168.1.1/32", "192.168.1.2/32", false },
                { "fd00::/8", "fd00:1::/64", true },
                { "fd00:1::/64", "fd00:2::/64", false },
                { "::/0", "fd00::/64", true },
                { "0.0.0.0/0", "::/0", false }, /* families never overlap */
                { "10.0.0.0/8", "::a00:0/104", false },
        };
        static const struct {
                const char *p, *a;
                bool in;
        } contains[] = {
                { "10.20.0.0/24", "10.20.0.0", true },
                { "10.20.0.0/24", "10.20.0.255", true },
                { "10.20.0.0/24", "10.20.1.0", false },
                { "10.20.0.0/24", "10.19.255.255", false },
                { "0.0.0.0/0", "1.2.3.4", true },
                { "10.20.0.7/32", "10.20.0.7", true },
                { "10.20.0.7/32", "10.20.0.8", false },
                { "fd00:1::/64", "fd00:1::ffff:ffff:ffff:ffff", true },
                { "fd00:1::/64", "fd00:1:0:1::", false },
                { "::/0", "10.0.0.1", false },
                { "10.0.0.0/8", "::ffff:10.0.0.1", false },
        };

        for (size_t k = 0; k < ELEMENTSOF(overlaps); k++) {
                NetPrefix a = prefix(overlaps[k].a), b = prefix(overlaps[k].b);

                if (net_prefix_overlaps(&a, &b) != overlaps[k].overlap)
                        fail_msg("%s and %s: overlap should be %d", overlaps[k].a, overlaps[k].b,
                                 overlaps[k].overlap);
        }
        for (size_t k = 0; k < ELEMENTSOF(contains); k++) {
                NetPrefix p = prefix(contains[k].p);
                NetAddr a = addr(contains[k].a);

                if (net_prefix_contains(&p, &a) != contains[k].in)
                        fail_msg("%s in %s should be %d", contains[k].a, contains[k].p, contains[k].in);
        }
        assert_false(net_prefix_overlaps(&(NetPrefix) {}, &(NetPrefix) {}));
        assert_false(net_prefix_contains(&(NetPrefix) {}, &(NetAddr) {}));
}

static void test_hosts(void **state) {
        static const struct {
                const char *p;
                uint64_t n;
                const char *host; /* NULL: -ERANGE */
        } cases[] = {
                { "10.20.0.0/24", 1, "10.20.0.1" },
                { "10.20.0.0/24", 2, "10.20.0.2" },
                { "10.20.0.0/24", 254, "10.20.0.254" },
                { "10.20.0.0/24", 255, NULL }, /* the broadcast address */
                { "10.20.0.0/24", 0, NULL },   /* the network address */
                { "10.20.0.0/22", 256, "10.20.1.0" },
                { "10.20.0.0/22", 1022, "10.20.3.254" },
                { "10.20.0.0/22", 1023, NULL },
                { "10.20.0.0/30", 2, "10.20.0.2" },
                { "10.20.0.0/30", 3, NULL },
                { "10.20.0.0/31", 1, NULL },
                { "10.20.0.0/32", 1, NULL },
                { "0.0.0.0/0", 4294967294, "255.255.255.254" },
                { "fd00:1::/64", 1, "fd00:1::1" },
                { "fd00:1::/64", 0x10000, "fd00:1::1:0" },
                { "fd00:1::/64", UINT64_MAX, "fd00:1::ffff:ffff:ffff:ffff" },
                { "fd00::/48", UINT64_MAX, "fd00::ffff:ffff:ffff:ffff" },
                { "fd00::/120", 255, "fd00::ff" },
                { "fd00::/120", 256, NULL },
                { "fd00::/127", 1, "fd00::1" },
                { "fd00::/128", 1, NULL },
        };
        static const struct {
                const char *p;
                uint64_t hosts;
        } counts[] = {
                { "10.20.0.0/24", 254 },     { "10.20.0.0/30", 2 },
                { "10.20.0.0/31", 0 },       { "10.20.0.0/32", 0 },
                { "0.0.0.0/0", 4294967294 }, { "fd00::/120", 255 },
                { "fd00::/64", UINT64_MAX }, { "::/0", UINT64_MAX },
                { "fd00::/128", 0 },         { "fd00::/65", UINT64_MAX >> 1 },
        };

        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                NetPrefix p = prefix(cases[k].p);
                NetAddr a = {};
                char buf[NET_ADDR_STRLEN];
                int r = net_prefix_host(&p, cases[k].n, &a);

                if (!cases[k].host) {
                        if (r != -ERANGE)
                                fail_msg("host %" PRIu64 " of %s: %d, want -ERANGE", cases[k].n, cases[k].p,
                                         r);
                        assert_int_equal(a.family, 0);
                        continue;
                }
                if (r != 0)
                        fail_msg("host %" PRIu64 " of %s: %d", cases[k].n, cases[k].p, r);
                assert_string_equal(net_addr_to_string(&a, buf), cases[k].host);
        }
        for (size_t k = 0; k < ELEMENTSOF(counts); k++) {
                NetPrefix p = prefix(counts[k].p);

                if (net_prefix_hosts(&p) != counts[k].hosts)
                        fail_msg("%s: %" PRIu64 " hosts, want %" PRIu64, counts[k].p, net_prefix_hosts(&p),
                                 counts[k].hosts);
        }
}

static void test_ipam(void **state) {
        NetPrefix p = prefix("10.20.0.0/29"); /* hosts 1 (gateway) .. 6 */
        NetAddr used[8], a = {};
        char buf[NET_ADDR_STRLEN];

        assert_int_equal(net_ipam_pick(&p, NULL, 0, &a), 0);
        assert_string_equal(net_addr_to_string(&a, buf), "10.20.0.2");

        /* Any order; the gateway, the network, broadcast and foreign addresses do not count. */
        used[0] = addr("10.20.0.3");
        used[1] = addr("10.20.0.1");
        used[2] = addr("10.20.0.2");
        used[3] = addr("192.168.0.4");
        used[4] = addr("fd00::4");
        used[5] = addr("10.20.0.7");
        assert_int_equal(net_ipam_pick(&p, used, 6, &a), 0);
        assert_string_equal(net_addr_to_string(&a, buf), "10.20.0.4");

        /* A hole below is found first. */
        used[0] = addr("10.20.0.6");
        used[1] = addr("10.20.0.4");
        used[2] = addr("10.20.0.5");
        used[3] = addr("10.20.0.2");
        assert_int_equal(net_ipam_pick(&p, used, 4, &a), 0);
        assert_string_equal(net_addr_to_string(&a, buf), "10.20.0.3");

        /* Full: 2..6 taken (one twice). */
        used[4] = addr("10.20.0.3");
        used[5] = addr("10.20.0.6");
        a = (NetAddr) {};
        assert_int_equal(net_ipam_pick(&p, used, 6, &a), -ENOSPC);
        assert_int_equal(a.family, 0);

        /* No room for anyone but the gateway; not IPv4. */
        p = prefix("10.20.0.0/31");
        assert_int_equal(net_ipam_pick(&p, NULL, 0, &a), -ENOSPC);
        p = prefix("10.20.0.0/30");
        assert_int_equal(net_ipam_pick(&p, NULL, 0, &a), 0);
        assert_string_equal(net_addr_to_string(&a, buf), "10.20.0.2");
        p = prefix("fd00::/64");
        assert_int_equal(net_ipam_pick(&p, NULL, 0, &a), -EINVAL);

        /* A /16 with its first 1000 hosts taken, in reverse order. */
        NetPrefix big = prefix("10.30.0.0/16");
        NetAddr *many = calloc(1000, sizeof(NetAddr));
        assert_non_null(many);
        for (size_t k = 0; k < 1000; k++)
                assert_int_equal(net_prefix_host(&big, 1000 - k, &many[k]), 0);
        assert_int_equal(net_ipam_pick(&big, many, 1000, &a), 0);
        assert_string_equal(net_addr_to_string(&a, buf), "10.30.3.233"); /* host 1001 */
        free(many);
}

static void test_subnet_pick(void **state) {
        static const struct {
                const char *pool;
                unsigned len;
                const char *taken[4];
                const char *want; /* NULL: -ENOSPC */
        } cases[] = {
                { "10.64.0.0/10", 24, {}, "10.64.0.0/24" },
                { "10.64.0.0/10", 24, { "10.64.0.0/24" }, "10.64.1.0/24" },
                { "10.64.0.0/10", 24, { "10.64.1.0/24", "10.64.0.0/24" }, "10.64.2.0/24" },
                { "10.64.0.0/10", 24, { "10.64.0.0/24", "10.64.2.0/24" }, "10.64.1.0/24" },
                /* A taken prefix larger than the candidates is skipped whole. */
                { "10.64.0.0/10", 24, { "10.64.0.0/16" }, "10.65.0.0/24" },
                /* ... and a smaller one rules out its candidate. */
                { "10.64.0.0/10", 24, { "10.64.0.128/25" }, "10.64.1.0/24" },
                /* Prefixes outside the pool, or of the other family, do not matter; one holding the
                 * whole pool does. */
                { "10.64.0.0/10", 24, { "10.0.0.0/24", "fd00::/8" }, "10.64.0.0/24" },
                { "10.64.0.0/10", 24, { "10.0.0.0/8" }, NULL },
                { "10.64.0.0/23", 24, { "10.64.0.0/24", "10.64.1.0/24" }, NULL },
                { "10.64.0.0/24", 24, {}, "10.64.0.0/24" },
                { "10.64.0.0/24", 24, { "10.64.0.7/32" }, NULL },
                { "0.0.0.0/0", 0, {}, "0.0.0.0/0" },
                { "0.0.0.0/0", 1, { "0.0.0.0/1" }, "128.0.0.0/1" },
                { "fd00:ab::/48", 64, { "fd00:ab::/64", "fd00:ab:0:1::/64" }, "fd00:ab:0:2::/64" },
                { "::/0", 64, { "::/1" }, "8000::/64" },
                { "::/0", 0, {}, "::/0" },
                { "::/0", 1, { "::/1", "8000::/1" }, NULL },
                { "fd00::/127", 128, { "fd00::/128", "fd00::1/128" }, NULL },
        };

        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                NetPrefix pool = prefix(cases[k].pool), taken[4], got = {};
                char buf[NET_PREFIX_STRLEN];
                size_t n = 0;
                int r;

                while (n < 4 && cases[k].taken[n]) {
                        taken[n] = prefix(cases[k].taken[n]);
                        n++;
                }
                r = net_subnet_pick(&pool, cases[k].len, taken, n, &got);
                if (!cases[k].want) {
                        if (r != -ENOSPC)
                                fail_msg("case %zu (%s): %d, want -ENOSPC", k, cases[k].pool, r);
                        assert_int_equal(got.addr.family, 0);
                        continue;
                }
                if (r != 0)
                        fail_msg("case %zu (%s): %d", k, cases[k].pool, r);
                assert_string_equal(net_prefix_to_string(&got, buf), cases[k].want);
        }

        NetPrefix pool = prefix("10.64.0.0/10"), got;
        assert_int_equal(net_subnet_pick(&pool, 9, NULL, 0, &got), -EINVAL);  /* shorter than the pool */
        assert_int_equal(net_subnet_pick(&pool, 33, NULL, 0, &got), -EINVAL); /* longer than IPv4 */
        assert_int_equal(net_subnet_pick(&(NetPrefix) {}, 24, NULL, 0, &got), -EINVAL);

        /* A /9 with 300 /24s taken at its start (in reverse order) and a /16 after them: the walk
         * jumps over each taken prefix once. */
        NetPrefix nine = prefix("10.128.0.0/9"), *taken = calloc(305, sizeof(NetPrefix));
        char buf[NET_PREFIX_STRLEN];
        assert_non_null(taken);
        for (size_t k = 0; k < 300; k++) {
                char s[32];

                snprintf(s, sizeof(s), "10.%zu.%zu.0/24", 128 + (299 - k) / 256, (299 - k) % 256);
                taken[k] = prefix(s);
        }
        taken[300] = prefix("10.130.0.0/16");
        assert_int_equal(net_subnet_pick(&nine, 24, taken, 301, &got), 0);
        assert_string_equal(net_prefix_to_string(&got, buf), "10.129.44.0/24"); /* 300 = 256 + 44 */
        /* The rest of 10.129.0.0/16 in larger pieces: next comes the /24 after the /16. */
        taken[301] = prefix("10.129.44.0/22");
        taken[302] = prefix("10.129.48.0/20");
        taken[303] = prefix("10.129.64.0/18");
        taken[304] = prefix("10.129.128.0/17");
        assert_int_equal(net_subnet_pick(&nine, 24, taken, 305, &got), 0);
        assert_string_equal(net_prefix_to_string(&got, buf), "10.131.0.0/24");
        /* A /20 cannot start inside a taken /24 either. */
        assert_int_equal(net_subnet_pick(&nine, 20, taken, 305, &got), 0);
        assert_string_equal(net_prefix_to_string(&got, buf), "10.131.0.0/20");
        free(taken);
}

static void test_mac(void **state) {
        static const struct {
                const char *in, *out; /* out NULL: refused */
        } cases[] = {
                { "52:54:00:ab:cd:ef", "52:54:00:ab:cd:ef" },
                { "52:54:00:AB:Cd:eF", "52:54:00:ab:cd:ef" },
                { "02:00:00:00:00:01", "02:00:00:00:00:01" },
                { "00:00:00:00:00:01", "00:00:00:00:00:01" },
                { "00:00:00:00:00:00", NULL }, /* all zero */
                { "01:00:5e:00:00:01", NULL }, /* multicast */
                { "ff:ff:ff:ff:ff:ff", NULL }, /* broadcast */
                { "33:33:00:00:00:01", NULL },
                { "52:54:00:ab:cd", NULL },
                { "52:54:00:ab:cd:", NULL },
                { "52:54:00:ab:cd:e", NULL },
                { "52:54:00:ab:cd:ef:", NULL },
                { "52:54:00:ab:cd:ef0", NULL },
                { "52-54-00-ab-cd-ef", NULL },
                { "5254.00ab.cdef", NULL },
                { "525400abcdef", NULL },
                { "52:54:00:ab:cd:eg", NULL },
                { "2:54:00:ab:cd:ef", NULL },
                { " 52:54:00:ab:cd:ef", NULL },
                { "", NULL },
        };

        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                uint8_t mac[6] = { 9, 9, 9, 9, 9, 9 };
                char buf[NET_MAC_STRLEN];
                int r = net_mac_parse(cases[k].in, mac);

                if (!cases[k].out) {
                        if (r != -EINVAL)
                                fail_msg("'%s' was accepted", cases[k].in);
                        assert_memory_equal(mac, ((uint8_t[6]) { 9, 9, 9, 9, 9, 9 }), 6);
                        continue;
                }
                if (r != 0)
                        fail_msg("'%s' was refused", cases[k].in);
                assert_string_equal(net_mac_to_string(mac, buf), cases[k].out);
        }
        assert_int_equal(net_mac_parse(NULL, (uint8_t[6]) {}), -EINVAL);

        uint8_t mac[6];
        char buf[NET_MAC_STRLEN];
        net_mac_from_random((const uint8_t[3]) { 0xab, 0x01, 0xff }, mac);
        assert_string_equal(net_mac_to_string(mac, buf), "52:54:00:ab:01:ff");
        assert_int_equal(net_mac_parse(buf, mac), 0); /* a NIC's MAC */
}

static void test_eui64(void **state) {
        static const struct {
                const char *prefix, *mac, *want;
        } cases[] = {
                /* RFC 4291 appendix A: the universal/local bit flips, ff:fe goes in the middle. */
                { "fe80::/64", "52:54:00:12:34:56", "fe80::5054:ff:fe12:3456" },
                { "fd00:1::/64", "52:54:00:12:34:56", "fd00:1::5054:ff:fe12:3456" },
                { "2001:db8:1:2::/64", "00:1b:21:0a:0b:0c", "2001:db8:1:2:21b:21ff:fe0a:b0c" },
                { "fd00::/64", "02:00:00:00:00:01", "fd00::ff:fe00:1" },
        };

        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                NetPrefix p = prefix(cases[k].prefix);
                uint8_t mac[6];
                NetAddr a;
                char buf[NET_ADDR_STRLEN];

                assert_int_equal(net_mac_parse(cases[k].mac, mac), 0);
                assert_int_equal(net_eui64_address(&p, mac, &a), 0);
                assert_string_equal(net_addr_to_string(&a, buf), cases[k].want);
        }
        NetAddr a = {};
        const uint8_t mac[6] = { 0x52, 0x54, 0, 1, 2, 3 };
        NetPrefix p48 = prefix("fd00::/48"), p4 = prefix("10.0.0.0/24");
        assert_int_equal(net_eui64_address(&p48, mac, &a), -EINVAL);
        assert_int_equal(net_eui64_address(&p4, mac, &a), -EINVAL);
        assert_int_equal(a.family, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_addr_parse),
                cmocka_unit_test(test_prefix_parse),
                cmocka_unit_test(test_overlap_contains),
                cmocka_unit_test(test_hosts),
                cmocka_unit_test(test_ipam),
                cmocka_unit_test(test_subnet_pick),
                cmocka_unit_test(test_mac),
                cmocka_unit_test(test_eui64),
        };
        return cmocka_run_group_tests_name("netaddr", tests, NULL, NULL);
}

/* Tests for appliance/network/links: bridges, ports, VLANs, counters and the host's prefixes,
 * checked against what `ip -j` reports. The process runs in a network namespace of its own
 * (unshare at the start), so the host's links are never touched; without root, or where unshare
 * fails, every test is skipped with the reason. */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "basic/macro.h"
#include "basic/string-util.h"
#include "links.h"

static bool in_netns;
static NetLinks *links;

static const uint8_t mac1[6] = { 0x02, 0x00, 0x00, 0xaa, 0xbb, 0x01 };
static const uint8_t mac2[6] = { 0x02, 0x00, 0x00, 0xaa, 0xbb, 0x02 };

static void sh(const char *fmt, ...) _printf_(1, 2);
static void sh(const char *fmt, ...) {
        _cleanup_free_ char *cmd = NULL;
        va_list ap;

        va_start(ap, fmt);
        assert_true(vasprintf(&cmd, fmt, ap) >= 0);
        va_end(ap);
        if (system(cmd) != 0)
                fail_msg("command failed: %s", cmd);
}

/* `ip -j ...` parsed; the first element of the array it prints (NULL when empty). */
static json_t *ip_json(const char *fmt, ...) _printf_(1, 2);
static json_t *ip_json(const char *fmt, ...) {
        _cleanup_free_ char *args = NULL, *cmd = NULL;
        json_t *all, *first;
        json_error_t err;
        va_list ap;
        FILE *f;

        va_start(ap, fmt);
        assert_true(vasprintf(&args, fmt, ap) >= 0);
        va_end(ap);
        cmd = strprintf("ip -j %s", args);
        f = popen(cmd, "r");
        assert_non_null(f);
        all = json_loadf(f, JSON_DISABLE_EOF_CHECK, &err);
        assert_int_equal(pclose(f), 0);
        if (!all)
                fail_msg("'%s' printed no JSON: %s", cmd, err.text);
        first = json_array_get(all, 0);
        json_incref(first);
        json_decref(all);
        return first;
}

static const char *jstr(json_t *o, const char *key) {
        return json_string_value(json_object_get(o, key));
}

static bool has_flag(json_t *link, const char *flag) {
        size_t i;
        json_t *v;

        json_array_foreach(json_object_get(link, "flags"), i, v)
                if (streq(json_string_value(v), flag))
                        return true;
        return false;
}

/* The addresses of a link as "10.77.0.1/24" strings, sorted, link-local IPv6 ones left out. */
static char **link_addrs(const char *name) {
        json_t *link = ip_json("addr show dev %s", name), *a;
        char **v = calloc(1, sizeof(char *));
        size_t i;

        assert_non_null(link);
        json_array_foreach(json_object_get(link, "addr_info"), i, a) {
                const char *local = jstr(a, "local");

                if (startswith(local, "fe80:"))
                        continue;
                assert_int_equal(strv_push(&v,
                                           strprintf("%s/%lld", local,
                                                     json_integer_value(json_object_get(a, "prefixlen")))),
                                 0);
        }
        json_decref(link);
        return strv_sort(v);
}

static void assert_addrs(const char *name, const char *expected) {
        _cleanup_strv_free_ char **v = link_addrs(name);
        _cleanup_free_ char *s = strv_join(v, " ");

        assert_string_equal(s, expected);
}

static NetPrefix prefix(const char *addr, unsigned len) {
        NetPrefix p = { .len = len };

        p.addr.family = strchr(addr, ':') ? AF_INET6 : AF_INET;
        assert_int_equal(inet_pton(p.addr.family, addr, p.addr.bytes), 1);
        return p;
}

/* Every link but lo removed, so each test starts from an empty namespace even after one that
 * failed halfway. */
static int setup(void **state) {
        _cleanup_strv_free_ char **names = NULL;

        if (!in_netns)
                return 0;
        if (!links && net_links_open(&links) < 0)
                return -1;
        if (net_links_list(links, "", &names) < 0)
                return -1;
        for (char **n = names; *n; n++)
                if (!streq(*n, "lo") && net_link_delete(links, *n) < 0)
                        return -1;
        return 0;
}

static void test_bridge_ensure(void **state) {
        NetPrefix a4 = prefix("10.77.0.1", 24), a6 = prefix("fd00:77::1", 64);
        NetPrefix b4 = prefix("10.78.0.1", 24), b6 = prefix("fd00:78::1", 64);
        _cleanup_free_ char *dump = NULL;
        json_t *link;
        int ifindex;

        if (!in_netns)
                skip();
        assert_int_equal(net_link_exists(links, "arkbr0"), 0);
        assert_int_equal(net_bridge_ensure(links, "arkbr0", mac1, 1400, &a4, &a6), 0);
        assert_int_equal(net_link_exists(links, "arkbr0"), 1);

        link = ip_json("-d link show dev arkbr0");
        assert_string_equal(
                json_string_value(json_object_get(json_object_get(link, "linkinfo"), "info_kind")),
                "bridge");
        assert_string_equal(jstr(link, "address"), "02:00:00:aa:bb:01");
        assert_int_equal(json_integer_value(json_object_get(link, "mtu")), 1400);
        assert_true(has_flag(link, "UP"));
        ifindex = (int) json_integer_value(json_object_get(link, "ifindex"));
        json_decref(link);
        assert_addrs("arkbr0", "10.77.0.1/24 fd00:77::1/64");

        /* Again with the same: nothing changes, the bridge is not made anew. */
        assert_int_equal(net_bridge_ensure(links, "arkbr0", mac1, 1400, &a4, &a6), 0);
        assert_addrs("arkbr0", "10.77.0.1/24 fd00:77::1/64");

        /* Someone took it down, changed its MTU and added an address: all corrected, and other
         * addresses replace the old ones. */
        sh("ip link set dev arkbr0 down mtu 1300 && ip addr add 192.0.2.9/24 dev arkbr0");
        assert_int_equal(net_bridge_ensure(links, "arkbr0", mac2, 1500, &b4, &b6), 0);
        link = ip_json("link show dev arkbr0");
        assert_int_equal(json_integer_value(json_object_get(link, "ifindex")), ifindex);
        assert_string_equal(jstr(link, "address"), "02:00:00:aa:bb:02");
        assert_int_equal(json_integer_value(json_object_get(link, "mtu")), 1500);
        assert_true(has_flag(link, "UP"));
        json_decref(link);
        assert_addrs("arkbr0", "10.78.0.1/24 fd00:78::1/64");

        /* A different prefix length of the same address is another address. */
        b4.len = 16;
        assert_int_equal(net_bridge_ensure(links, "arkbr0", mac2, 1500, &b4, NULL), 0);
        assert_addrs("arkbr0", "10.78.0.1/16");

        /* No addresses at all; the IPv6 link-local one stays. The bridge gets one once it has
         * carrier, through a port whose peer is up. */
        sh("ip link add arkv0 type veth peer name arkv0x && ip link set arkv0x up");
        assert_int_equal(net_link_set_master(links, "arkv0", "arkbr0"), 0);
        for (int i = 0; i < 100 && !(dump && strstr(dump, "\"fe80:")); i++) {
                free(dump);
                link = ip_json("addr show dev arkbr0");
                dump = json_dumps(link, 0);
                json_decref(link);
                usleep(20 * 1000);
        }
        assert_non_null(strstr(dump, "\"fe80:"));
        assert_int_equal(net_bridge_ensure(links, "arkbr0", mac2, 1500, NULL, NULL), 0);
        assert_addrs("arkbr0", "");
        free(dump);
        link = ip_json("addr show dev arkbr0");
        dump = json_dumps(link, 0);
        json_decref(link);
        assert_non_null(strstr(dump, "\"fe80:"));

        /* Refused: a name too long, an address of the wrong family, an MTU out of range. */
        assert_int_equal(net_bridge_ensure(links, "arkbr0123456789012", mac1, 1500, NULL, NULL), -EINVAL);
        assert_int_equal(net_bridge_ensure(links, "arkbr0", mac1, 1500, &a6, NULL), -EINVAL);
        assert_int_equal(net_bridge_ensure(links, "arkbr0", mac1, 20, NULL, NULL), -EINVAL);
}

/* A port with a smaller MTU does not pull the bridge's down, also when the network's MTU is the
 * kernel's default (the kernel only keeps an MTU it was asked to change to). */
static void test_bridge_mtu_pinned(void **state) {
        json_t *link;

        if (!in_netns)
                skip();
        assert_int_equal(net_bridge_ensure(links, "arkbr0", mac1, 1500, NULL, NULL), 0);
        sh("ip link add arkp0 mtu 1400 type veth peer name arkp0x");
        assert_int_equal(net_link_set_master(links, "arkp0", "arkbr0"), 0);
        link = ip_json("link show dev arkbr0");
        assert_int_equal(json_integer_value(json_object_get(link, "mtu")), 1500);
        json_decref(link);
}

static void test_not_a_bridge(void **state) {
        if (!in_netns)
                skip();
        sh("ip link add arkbr0 type veth peer name arkbr0x");
        assert_int_equal(net_bridge_ensure(links, "arkbr0", mac1, 1500, NULL, NULL), -EEXIST);
        assert_int_equal(net_link_exists(links, "arkbr0"), 1);
}

static void test_set_master(void **state) {
        json_t *link;

        if (!in_netns)
                skip();
        assert_int_equal(net_bridge_ensure(links, "arkbr0", mac1, 1500, NULL, NULL), 0);
        sh("ip link add arkv0 type veth peer name arkv0x");
        assert_int_equal(net_link_set_master(links, "arkv0", "arkbr0"), 0);
        assert_int_equal(net_link_set_master(links, "arkv0", "arkbr0"), 0);
        link = ip_json("link show dev arkv0");
        assert_string_equal(jstr(link, "master"), "arkbr0");
        assert_true(has_flag(link, "UP"));
        json_decref(link);

        assert_int_equal(net_link_set_master(links, "arkv9", "arkbr0"), -ENODEV);
        assert_int_equal(net_link_set_master(links, "arkv0", "arkbr9"), -ENODEV);
}

/* Counters as the kernel keeps them: ARP requests sent on the bridge leave through its port and
 * arrive at the port's veth peer, and the two ends agree. */
static void test_stats(void **state) {
        NetPrefix a4 = prefix("10.79.0.1", 24);
        NetLinkStats br0, br1, port, peer;

        if (!in_netns)
                skip();
        assert_int_equal(net_bridge_ensure(links, "arkbr0", mac1, 1500, &a4, NULL), 0);
        sh("ip link add arkv1 type veth peer name arkv1x && ip link set arkv1x up");
        assert_int_equal(net_link_set_master(links, "arkv1", "arkbr0"), 0);

        assert_int_equal(net_link_stats(links, "arkbr0", &br0), 0);
        sh("busybox arping -c 3 -w 2 -I arkbr0 10.79.0.2 >/dev/null 2>&1 || true");
        assert_int_equal(net_link_stats(links, "arkbr0", &br1), 0);
        assert_int_equal(net_link_stats(links, "arkv1", &port), 0);
        assert_int_equal(net_link_stats(links, "arkv1x", &peer), 0);

        assert_true(br1.tx_packets >= br0.tx_packets + 3);
        assert_true(br1.tx_bytes >= br0.tx_bytes + 3 * 28);
        assert_true(port.tx_packets >= 3);
        assert_int_equal(peer.rx_packets, port.tx_packets);
        assert_int_equal(peer.rx_bytes, port.tx_bytes);
        assert_int_equal(port.rx_packets, peer.tx_packets);

        assert_int_equal(net_link_stats(links, "arkbr9", &br0), -ENODEV);
}

static void test_list(void **state) {
        _cleanup_strv_free_ char **v = NULL, **none = NULL;
        _cleanup_free_ char *s = NULL;

        if (!in_netns)
                skip();
        assert_int_equal(net_bridge_ensure(links, "arkb", mac1, 1500, NULL, NULL), 0);
        assert_int_equal(net_bridge_ensure(links, "arka", mac1, 1500, NULL, NULL), 0);
        assert_int_equal(net_bridge_ensure(links, "arkc", mac1, 1500, NULL, NULL), 0);
        sh("ip link add other0 type veth peer name xark0");

        assert_int_equal(net_links_list(links, NET_LINK_PREFIX, &v), 0);
        s = strv_join(v, " ");
        assert_string_equal(s, "arka arkb arkc");
        assert_int_equal(net_links_list(links, "zzz", &none), 0);
        assert_non_null(none);
        assert_null(none[0]);
}

static bool has_prefix(const NetPrefix *v, size_t n, const char *addr, unsigned len) {
        NetPrefix p = prefix(addr, len);

        for (size_t i = 0; i < n; i++)
                if (v[i].addr.family == p.addr.family && v[i].len == p.len &&
                    memcmp(v[i].addr.bytes, p.addr.bytes, p.addr.family == AF_INET ? 4 : 16) == 0)
                        return true;
        return false;
}

static void test_host_prefixes(void **state) {
        NetPrefix a4 = prefix("10.77.0.1", 24), a6 = prefix("fd00:77::1", 64);
        _cleanup_free_ NetPrefix *v = NULL, *all = NULL;
        size_t n, n_all;

        if (!in_netns)
                skip();
        sh("ip link set lo up");
        sh("ip link add host0 type veth peer name host0x && ip link set host0 up && ip link set host0x up");
        sh("ip addr add 192.0.2.77/24 dev host0 && ip addr add 198.51.100.1/24 dev host0x");
        sh("ip addr add 2001:db8:5::7/64 dev host0 nodad && ip addr add 169.254.3.3/16 dev host0");
        assert_int_equal(net_bridge_ensure(links, "arkbr0", mac1, 1500, &a4, &a6), 0);

        assert_int_equal(net_host_prefixes(links, NET_LINK_PREFIX, NULL, &v, &n), 0);
        assert_int_equal(n, 3);
        assert_true(has_prefix(v, n, "192.0.2.0", 24));
        assert_true(has_prefix(v, n, "198.51.100.0", 24));
        assert_true(has_prefix(v, n, "2001:db8:5::", 64));

        /* Without an exception, the bridge's networks are in as well; still no loopback or
         * link-local ones. */
        assert_int_equal(net_host_prefixes(links, NULL, NULL, &all, &n_all), 0);
        assert_int_equal(n_all, 5);
        assert_true(has_prefix(all, n_all, "10.77.0.0", 24));
        assert_true(has_prefix(all, n_all, "fd00:77::", 64));
        assert_false(has_prefix(all, n_all, "127.0.0.0", 8));
        all = mfree(all);

        /* Links named are left out (an uplink's own networks). */
        assert_int_equal(net_host_prefixes(links, NET_LINK_PREFIX,
                                           (char *const[]) { (char *) "host0x", NULL }, &all, &n_all),
                         0);
        assert_int_equal(n_all, 2);
        assert_false(has_prefix(all, n_all, "198.51.100.0", 24));
}

static void test_delete(void **state) {
        if (!in_netns)
                skip();
        assert_int_equal(net_bridge_ensure(links, "arkbr0", mac1, 1500, NULL, NULL), 0);
        assert_int_equal(net_link_delete(links, "arkbr0"), 0);
        assert_int_equal(net_link_exists(links, "arkbr0"), 0);
        assert_int_equal(net_link_delete(links, "arkbr0"), 0);
}

static void test_vlan(void **state) {
        json_t *link;
        int r;

        if (!in_netns)
                skip();
        assert_int_equal(net_bridge_ensure(links, "arkbr0", mac1, 1500, NULL, NULL), 0);
        sh("ip link add up0 type veth peer name up0x");

        assert_int_equal(net_vlan_ensure(links, "arkbr0.5", "up9", 5, "arkbr0"), -ENODEV);
        assert_int_equal(net_vlan_ensure(links, "arkbr0.5", "up0", 5, "arkbr9"), -ENODEV);
        assert_int_equal(net_vlan_ensure(links, "arkbr0.5", "up0", 0, "arkbr0"), -EINVAL);
        assert_int_equal(net_vlan_ensure(links, "arkbr0.5", "up0", 4095, "arkbr0"), -EINVAL);

        r = net_vlan_ensure(links, "arkbr0.5", "up0", 5, "arkbr0");
        if (r == -EOPNOTSUPP) {
                print_message("no VLAN support in this kernel (8021q): checked that it says so\n");
                assert_int_equal(net_link_exists(links, "arkbr0.5"), 0);
                return;
        }
        assert_int_equal(r, 0);
        link = ip_json("-d link show dev arkbr0.5");
        assert_string_equal(jstr(link, "master"), "arkbr0");
        assert_true(has_flag(link, "UP"));
        assert_int_equal(json_integer_value(json_object_get(
                                 json_object_get(json_object_get(link, "linkinfo"), "info_data"), "id")),
                         5);
        json_decref(link);
        assert_int_equal(net_vlan_ensure(links, "arkbr0.5", "up0", 5, "arkbr0"), 0);

        /* Another VLAN id under the same name: made anew. */
        assert_int_equal(net_vlan_ensure(links, "arkbr0.5", "up0", 6, "arkbr0"), 0);
        link = ip_json("-d link show dev arkbr0.5");
        assert_int_equal(json_integer_value(json_object_get(
                                 json_object_get(json_object_get(link, "linkinfo"), "info_data"), "id")),
                         6);
        assert_string_equal(jstr(link, "master"), "arkbr0");
        json_decref(link);

        /* A link of that name that is no VLAN. */
        sh("ip link add arkx0 type veth peer name arkx0x");
        assert_int_equal(net_vlan_ensure(links, "arkx0", "up0", 5, "arkbr0"), -EEXIST);
}

/* A container's NIC: the host end a port of the bridge, the other end in a namespace of its own
 * (kept by a bind mount) as eth0 with the MAC, address and default route given; the gateway
 * answers across it. A failure leaves no link behind. */
static void test_veth_into_netns(void **state) {
        _cleanup_free_ char *dir = NULL, *ns = NULL;
        NetPrefix gw = prefix("10.79.5.1", 24), addr = prefix("10.79.5.20", 24);
        _cleanup_close_ int fd = -EBADF;
        json_t *link;

        if (!in_netns)
                skip();
        dir = strdup("/tmp/test-links-ns.XXXXXX");
        assert_non_null(mkdtemp(dir));
        ns = strprintf("%s/ct", dir);
        assert_int_equal(net_netns_create(ns), 0);
        assert_int_equal(net_netns_create(ns), -EEXIST);
        fd = open(ns, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(net_bridge_ensure(links, "arkbr5", mac1, 1400, &gw, NULL), 0);

        assert_int_equal(
                net_veth_into_netns(links, "arkt5", "arkbr5", fd, "eth0", mac2, 1400, &addr, &gw.addr), 0);
        link = ip_json("link show dev arkt5");
        assert_string_equal(jstr(link, "master"), "arkbr5");
        assert_true(has_flag(link, "UP"));
        json_decref(link);
        sh("nsenter --net=%s ip -4 addr show dev eth0 | grep -q 'inet 10.79.5.20/24'", ns);
        sh("nsenter --net=%s ip link show dev eth0 | grep -q '02:00:00:aa:bb:02'", ns);
        sh("nsenter --net=%s ip link show dev eth0 | grep -q 'mtu 1400'", ns);
        sh("nsenter --net=%s ip route show default | grep -q 'via 10.79.5.1 dev eth0'", ns);
        sh("nsenter --net=%s ip link show dev lo | grep -q 'UP'", ns);
        sh("nsenter --net=%s busybox ping -c 1 -W 2 10.79.5.1 >/dev/null", ns);
        /* Again: the old pair goes, a new one comes. */
        assert_int_equal(net_veth_into_netns(links, "arkt5", "arkbr5", fd, "eth1", mac2, 1400, &addr, NULL),
                         0);
        sh("nsenter --net=%s ip link show dev eth0 2>/dev/null; test $? -ne 0", ns);

        /* No such bridge: nothing is made. */
        assert_int_equal(net_veth_into_netns(links, "arkt6", "arkbr9", fd, "eth2", mac2, 1400, &addr, NULL),
                         -ENODEV);
        assert_int_equal(net_link_exists(links, "arkt6"), 0);

        fd = safe_close(fd);
        assert_int_equal(net_netns_remove(ns), 0);
        assert_int_equal(net_netns_remove(ns), 0);
        /* The namespace is gone, and with it the pair. */
        for (int k = 0; k < 50 && net_link_exists(links, "arkt5") == 1; k++)
                usleep(20000);
        assert_int_equal(net_link_exists(links, "arkt5"), 0);
        assert_int_equal(rmdir(dir), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup(test_bridge_ensure, setup),
                cmocka_unit_test_setup(test_bridge_mtu_pinned, setup),
                cmocka_unit_test_setup(test_not_a_bridge, setup),
                cmocka_unit_test_setup(test_set_master, setup),
                cmocka_unit_test_setup(test_stats, setup),
                cmocka_unit_test_setup(test_list, setup),
                cmocka_unit_test_setup(test_host_prefixes, setup),
                cmocka_unit_test_setup(test_delete, setup),
                cmocka_unit_test_setup(test_vlan, setup),
                cmocka_unit_test_setup(test_veth_into_netns, setup),
        };
        int r;

        if (geteuid() != 0)
                printf("# not root: skipping the link tests (they need a network namespace of their own)\n");
        else if (unshare(CLONE_NEWNET) < 0)
                printf("# unshare(CLONE_NEWNET) failed (%s): skipping the link tests\n", strerror(errno));
        else
                in_netns = true;
        r = cmocka_run_group_tests(tests, NULL, NULL);
        net_links_close(links);
        return r;
}

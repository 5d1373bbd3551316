/* The appliance's firewall (image/rootfs/etc/nftables.conf and /usr/lib/ark/firewall), loaded
 * with the real nft into a network namespace of its own: SSH only by default; MetricsAddress= on
 * a non-loopback address and the site's rules in firewall.d opened; loopback metrics, a port
 * picked at start and malformed rules not; a rule nft refuses leaves the ruleset as it was; DNS and
 * DHCP from Ark's interfaces (tenant networks' bridges) reach the host, from others not; loading
 * the firewall again, or stopping it, leaves arkd's tables alone. */

#include "itest.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"

static char ns[64], peer[64], dir[128];

static int setup(void **state) {
        _cleanup_free_ char *o = NULL, *e = NULL;

        snprintf(ns, sizeof(ns), "ark-fw-%d", (int) getpid());
        snprintf(peer, sizeof(peer), "ark-fwp-%d", (int) getpid());
        snprintf(dir, sizeof(dir), "/tmp/ark-fw-%d", (int) getpid());
        if (harness_sh(&o, &e, "ip netns add %s && ip netns add %s && mkdir -p %s/firewall.d", ns, peer,
                       dir) != 0) {
                fprintf(stderr, "cannot make a network namespace: %s\n", strna(e));
                return -1;
        }
        return 0;
}

static int teardown(void **state) {
        _cleanup_free_ char *o = NULL, *e = NULL;

        (void) harness_sh(&o, &e, "ip netns del %s; ip netns del %s; rm -rf %s", ns, peer, dir);
        return 0;
}

/* Loads nftables.conf afresh, runs the firewall script with ark.conf holding `conf`; returns its
 * exit code, its output in *ret_out and the input chain in *ret_chain (what they held before is
 * freed). */
static int load(const char *conf, char **ret_out, char **ret_chain) {
        _cleanup_free_ char *path = strprintf("%s/ark.conf", dir), *e = NULL, *o = NULL;
        int r;

        *ret_out = mfree(*ret_out);
        *ret_chain = mfree(*ret_chain);

        assert_int_equal(write_string_file(path, conf, WRITE_CREATE), 0);
        assert_int_equal(harness_sh(&o, &e, "ip netns exec %s nft -f '%s/image/rootfs/etc/nftables.conf'",
                                    ns, harness_src_dir()),
                         0);
        o = mfree(o);
        e = mfree(e);
        r = harness_sh(ret_out, &e,
                       "ip netns exec %s '%s/image/rootfs/usr/lib/ark/firewall' '%s' '%s/firewall.d' 2>&1",
                       ns, harness_src_dir(), path, dir);
        e = mfree(e);
        assert_int_equal(harness_sh(ret_chain, &e, "ip netns exec %s nft list chain inet ark input", ns), 0);
        return r;
}

static void rules(const char *name, const char *text) {
        _cleanup_free_ char *path = strprintf("%s/firewall.d/%s", dir, name);

        if (text)
                assert_int_equal(write_string_file(path, text, WRITE_CREATE), 0);
        else
                (void) unlink(path);
}

static void test_ssh_only(void **state) {
        _cleanup_free_ char *out = NULL, *chain = NULL;

        /* The default configuration: metrics on loopback. */
        assert_int_equal(load("[Daemon]\n#MetricsAddress=127.0.0.1:9464\n", &out, &chain), 0);
        assert_non_null(strstr(chain, "policy drop"));
        assert_non_null(strstr(chain, "tcp dport 22 accept"));
        assert_null(strstr(chain, "9464"));
        assert_int_equal(load("[Daemon]\nMetricsAddress=127.0.0.1:9464\n", &out, &chain), 0);
        assert_null(strstr(chain, "9464"));
        /* Port 0 is picked at start: not known here, said so. */
        assert_int_equal(load("[Daemon]\nMetricsAddress=0.0.0.0:0\n", &out, &chain), 0);
        assert_non_null(strstr(out, "picks its port at start"));
        assert_null(strstr(chain, "dport 0"));
}

static void test_enabled(void **state) {
        _cleanup_free_ char *out = NULL, *chain = NULL;

        rules("web.nft", "# the inference gateway\ntcp dport 443 accept\n\nudp dport 4789 accept\n");
        assert_int_equal(load("[Daemon]\nMetricsAddress = 10.0.0.5:9464\n", &out, &chain), 0);
        assert_non_null(strstr(out, "opened: tcp dport 9464 accept"));
        assert_non_null(strstr(chain, "tcp dport 9464 accept comment \"MetricsAddress=10.0.0.5:9464\""));
        assert_non_null(strstr(chain, "tcp dport 443 accept comment \"web.nft:2\""));
        assert_non_null(strstr(chain, "udp dport 4789 accept comment \"web.nft:4\""));
        rules("web.nft", NULL);
}

/* A rule nft refuses, or one that tries to leave its line: nothing of the lot goes in, and the
 * file and line are named. */
static void test_refused(void **state) {
        _cleanup_free_ char *out = NULL, *chain = NULL;

        rules("a.nft", "tcp dport 443 accept\n");
        rules("b.nft", "tcp dport 80 frobnicate\n");
        assert_int_equal(load("[Daemon]\nMetricsAddress=10.0.0.5:9464\n", &out, &chain), 1);
        assert_non_null(strstr(out, "nft refused the rules"));
        assert_non_null(strstr(out, "b.nft:1"));
        assert_null(strstr(chain, "443"));
        assert_null(strstr(chain, "9464"));
        rules("b.nft", "tcp dport 80 accept; flush ruleset\n");
        assert_int_equal(load("", &out, &chain), 1);
        assert_non_null(strstr(out, "b.nft line 1: one rule per line"));
        assert_null(strstr(chain, "443"));
        assert_non_null(strstr(chain, "tcp dport 22 accept"));
        rules("b.nft", NULL);
        assert_int_equal(load("[Daemon]\nMetricsAddress=somewhere\n", &out, &chain), 1);
        assert_non_null(strstr(out, "MetricsAddress='somewhere' is not ADDRESS:PORT"));
        assert_null(strstr(chain, "443"));
        rules("a.nft", NULL);
}

/* The packets of `counter` in the probe table. */
static unsigned long probe_packets(const char *counter) {
        _cleanup_free_ char *o = NULL, *e = NULL;
        const char *p;

        assert_int_equal(harness_sh(&o, &e, "ip netns exec %s nft list counter inet probe %s", ns, counter),
                         0);
        p = strstr(o, "packets ");
        assert_non_null(p);
        return strtoul(p + strlen("packets "), NULL, 10);
}

/* Tenant networks' clients ask their network's dnsmasq, on the bridge arkd made (named ark*):
 * DNS (UDP and TCP) and DHCP from an ark* interface pass the firewall; DNS from another interface
 * is dropped. A table at a later priority of the input hook counts what the firewall let through
 * (a packet it drops goes no further); one on prerouting shows the dropped one did arrive. */
static void test_tenant_networks(void **state) {
        _cleanup_free_ char *out = NULL, *chain = NULL, *o = NULL, *e = NULL;

        assert_int_equal(load("", &out, &chain), 0);
        assert_non_null(strstr(chain, "iifname \"ark*\" udp dport { 53, 67, 547 } accept"));
        if (harness_sh(&o, &e,
                       "set -e; n=%1$s; p=%2$s\n"
                       "ip -n $n link add arkfwt0 type veth peer name t0 netns $p\n"
                       "ip -n $n link add site0 type veth peer name s0 netns $p\n"
                       "ip -n $n addr add 10.99.1.1/24 dev arkfwt0; ip -n $p addr add 10.99.1.2/24 dev t0\n"
                       "ip -n $n addr add 10.99.2.1/24 dev site0; ip -n $p addr add 10.99.2.2/24 dev s0\n"
                       "for l in lo arkfwt0 site0; do ip -n $n link set $l up; done\n"
                       "for l in lo t0 s0; do ip -n $p link set $l up; done\n"
                       "ip netns exec $n nft -f - <<EOT\n"
                       "table inet probe {\n"
                       "  counter dns_ark {}\n  counter dns_tcp_ark {}\n  counter dhcp_ark {}\n"
                       "  counter dns_other {}\n  counter dns_other_in {}\n"
                       "  chain prerouting {\n"
                       "    type filter hook prerouting priority filter; policy accept;\n"
                       "    iifname site0 udp dport 53 counter name dns_other_in\n"
                       "  }\n"
                       "  chain input {\n"
                       "    type filter hook input priority filter + 10; policy accept;\n"
                       "    iifname arkfwt0 udp dport 53 counter name dns_ark\n"
                       "    iifname arkfwt0 tcp dport 53 counter name dns_tcp_ark\n"
                       "    iifname arkfwt0 udp dport 67 counter name dhcp_ark\n"
                       "    iifname site0 udp dport 53 counter name dns_other\n"
                       "  }\n"
                       "}\n"
                       "EOT\n",
                       ns, peer) != 0) {
                fprintf(stderr, "cannot set up the interfaces: %s\n", strna(e));
                fail();
        }
        o = mfree(o);
        e = mfree(e);
        /* bash's /dev/udp and /dev/tcp: one datagram each; the TCP connection is refused (nothing
         * listens), its SYN counted. */
        (void) harness_sh(
                &o, &e,
                "ip netns exec %1$s bash -c 'echo q > /dev/udp/10.99.1.1/53; echo q > /dev/udp/10.99.1.1/67;"
                " echo q > /dev/udp/10.99.2.1/53; timeout 2 bash -c \"echo q > /dev/tcp/10.99.1.1/53\"'"
                " 2>/dev/null",
                peer);
        assert_int_equal(probe_packets("dns_ark"), 1);
        assert_true(probe_packets("dns_tcp_ark") >= 1);
        assert_int_equal(probe_packets("dhcp_ark"), 1);
        assert_int_equal(probe_packets("dns_other_in"), 1);
        assert_int_equal(probe_packets("dns_other"), 0);
        o = mfree(o);
        e = mfree(e);
        (void) harness_sh(&o, &e, "ip netns exec %s nft delete table inet probe", ns);
}

/* arkd's tables for tenant networks outlive a reload of the firewall (nftables.conf) and its stop
 * (nftables.service's ExecStop=, as the image's drop-in sets it): tenants stay apart. */
static void test_reload_keeps_arkd_tables(void **state) {
        _cleanup_free_ char *out = NULL, *chain = NULL, *o = NULL, *e = NULL;

        assert_int_equal(harness_sh(&o, &e,
                                    "ip netns exec %s nft 'add table bridge ark_net; add table inet ark_net;"
                                    " add chain inet ark_net input { type filter hook input priority 0; }'",
                                    ns),
                         0);
        assert_int_equal(load("", &out, &chain), 0);
        o = mfree(o);
        e = mfree(e);
        assert_int_equal(harness_sh(&o, &e, "ip netns exec %s nft list tables", ns), 0);
        assert_non_null(strstr(o, "table bridge ark_net"));
        assert_non_null(strstr(o, "table inet ark_net"));
        assert_non_null(strstr(o, "table inet ark\n"));

        /* Stop: the drop-in's last ExecStop= line, run as systemd would (in the namespace). */
        o = mfree(o);
        e = mfree(e);
        assert_int_equal(
                harness_sh(&o, &e,
                           "cmd=$(sed -n 's/^ExecStop=-\\{0,1\\}//p' "
                           "'%s/image/rootfs/lib/systemd/system/nftables.service.d/ark.conf' | tail -n 1);"
                           " [ -n \"$cmd\" ] && ip netns exec %s $cmd && ip netns exec %s nft list tables",
                           harness_src_dir(), ns, ns),
                0);
        assert_non_null(strstr(o, "table bridge ark_net"));
        assert_non_null(strstr(o, "table inet ark_net"));
        assert_null(strstr(o, "table inet ark\n"));
        o = mfree(o);
        e = mfree(e);
        (void) harness_sh(
                &o, &e, "ip netns exec %s nft 'delete table bridge ark_net; delete table inet ark_net'", ns);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ssh_only),
                cmocka_unit_test(test_enabled),
                cmocka_unit_test(test_refused),
                cmocka_unit_test(test_tenant_networks),
                cmocka_unit_test(test_reload_keeps_arkd_tables),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}

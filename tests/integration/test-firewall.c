/* The appliance's firewall (image/rootfs/etc/nftables.conf and /usr/lib/ark/firewall), loaded
 * with the real nft into a network namespace of its own: SSH only by default; MetricsAddress= on
 * a non-loopback address and the site's rules in firewall.d opened; loopback metrics, a port
 * picked at start and malformed rules not; a rule nft refuses leaves the ruleset as it was. */

#include "itest.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"

static char ns[64], dir[128];

static int setup(void **state) {
        _cleanup_free_ char *o = NULL, *e = NULL;

        snprintf(ns, sizeof(ns), "ark-fw-%d", (int) getpid());
        snprintf(dir, sizeof(dir), "/tmp/ark-fw-%d", (int) getpid());
        if (harness_sh(&o, &e, "ip netns add %s && mkdir -p %s/firewall.d", ns, dir) != 0) {
                fprintf(stderr, "cannot make a network namespace: %s\n", strna(e));
                return -1;
        }
        return 0;
}

static int teardown(void **state) {
        _cleanup_free_ char *o = NULL, *e = NULL;

        (void) harness_sh(&o, &e, "ip netns del %s; rm -rf %s", ns, dir);
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

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ssh_only),
                cmocka_unit_test(test_enabled),
                cmocka_unit_test(test_refused),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}

/* seed.conf: the parser's refusals name the line and the reason; ark-seed applies a good seed
 * into a root directory all at once (host name, network file, admin key, trusted key, locale,
 * marker) and a bad one not at all. */

#include <errno.h>
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

#include "tmpdir.h"
#include "../../firmware/seed.h"
#include "basic/fileio.h"
#include "basic/string-util.h"
#include "shared/crypto.h"

#define KEY "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBvR0S3g2n7gkF2k1b6m4v2WcE6dGxM admin@site"

static void parse_ok(const char *text, Seed *s) {
        char *err = NULL;
        int r = seed_parse(text, strlen(text), s, &err);

        if (r < 0)
                fail_msg("refused: %s", err);
        assert_null(err);
}

static void parse_refused(const char *text, const char *says) {
        Seed s = {};
        char *err = NULL;

        assert_int_equal(seed_parse(text, strlen(text), &s, &err), -EINVAL);
        assert_non_null(err);
        if (!strstr(err, says))
                fail_msg("'%s' does not say '%s'", err, says);
        assert_int_equal(s.n_admin_keys, 0);
        free(err);
}

static void test_parse(void **state) {
        Seed s = {};

        (void) state;
        parse_ok(
                "# a seed\n\nHostname=ark-01\nAddress=192.0.2.10/24\nGateway=192.0.2.1\nDNS=192.0.2.53 192.0.2.54\n"
                "NTP=ntp.example.com\nAdminKey=" KEY "\nAdminKey=" KEY
                "2\r\nTrustKey=keys/vendor.pub\nLocale=zh_CN.UTF-8\n",
                &s);
        assert_string_equal(s.hostname, "ark-01");
        assert_true(s.has_net);
        assert_false(s.net.dhcp);
        assert_string_equal(s.net.address, "192.0.2.10/24");
        assert_string_equal(s.net.dns, "192.0.2.53 192.0.2.54");
        assert_int_equal(s.n_admin_keys, 2);
        assert_string_equal(s.admin_keys[1], KEY "2");
        assert_int_equal(s.n_trust_keys, 1);
        assert_string_equal(s.locale, "zh_CN.UTF-8");
        seed_done(&s);
        parse_ok("DHCP=yes\nInterface=enp1s0\n", &s);
        assert_true(s.has_net && s.net.dhcp);
        assert_string_equal(s.net.iface, "enp1s0");
        seed_done(&s);
        parse_ok("", &s);
        assert_false(s.has_net);
        seed_done(&s);

        parse_refused("Hostname=ark_01\n", "line 1: Hostname");
        parse_refused("\n\nColour=blue\n", "line 3: 'Colour' is not a seed setting");
        parse_refused("Hostname\n", "is not KEY=VALUE");
        parse_refused("Address=192.0.2.10\n", "Address");
        parse_refused("Address=192.0.2.10/24\nGateway=198.51.100.1\n", "the network");
        parse_refused("DHCP=yes\nAddress=192.0.2.10/24\n", "both DHCP=yes and Address=");
        parse_refused("Gateway=192.0.2.1\n", "without Address=");
        parse_refused("AdminKey=ssh-dss AAAAB3NzaC1kc3MAAACBAJ\n", "its type");
        parse_refused("AdminKey=ssh-ed25519 AAAA!!!!notbase64!!!!\n", "not base64");
        parse_refused("AdminKey=" KEY "\x01\n", "control character");
        parse_refused("TrustKey=../etc/shadow\n", "TrustKey");
        parse_refused("TrustKey=/etc/ark/key.pub\n", "TrustKey");
        parse_refused("Interface=en*\n", "Interface");
        parse_refused("Locale=zh_CN.UTF-8; rm -rf /\n", "Locale");
        parse_refused("Hostname=\xff\xfe\n", "UTF-8");
        {
                char big[5000];

                memset(big, 'a', sizeof(big) - 1);
                big[sizeof(big) - 1] = 0;
                memcpy(big, "Hostname=", 9);
                parse_refused(big, "longer than 4095");
        }
        {
                Seed x = {};
                char *err = NULL;

                assert_int_equal(seed_parse("Hostname=a\0b", 12, &x, &err), -EINVAL);
                assert_non_null(strstr(err, "NUL"));
                free(err);
        }
}

static int run_seed(const char *root, const char *seed_dir, char **ret_stderr) {
        /* The build's ark-seed (run-tests sets ARK_BUILD_DIR); AdminKey= is not used here, so no
         * account is needed. */
        const char *build = getenv("ARK_BUILD_DIR");
        _cleanup_free_ char *cmd =
                strprintf("%s/bin/ark-seed --root %s --seed-dir %s --trust-dir /etc/ark/trust.d "
                          "--marker /var/lib/ark/seed.applied 2>%s/stderr >/dev/null",
                          build ?: ARK_SRCDIR "/build", root, seed_dir, root);
        _cleanup_free_ char *errpath = strprintf("%s/stderr", root);
        size_t n;
        int st = system(cmd);

        if (ret_stderr)
                (void) read_full_file(errpath, ret_stderr, &n);
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_apply(void **state) {
        _cleanup_tmpdir_ char *dir = make_tmpdir();
        _cleanup_free_ char *root = join(dir, "root"), *seed = join(dir, "seed"), *conf = NULL, *text = NULL,
                            *err = NULL, *pubdir = NULL, *netdir = NULL, *sysnet = NULL, *id_prefix = NULL;
        char id[KEY_ID_HEX], *p;
        size_t n;

        (void) state;
        pubdir = join(seed, "keys");
        netdir = strprintf("%s/etc/systemd/network", root);
        sysnet = strprintf("%s/sys/class/net/enp3s0", root);
        assert_int_equal(mkdir_p(pubdir, 0755), 0);
        assert_int_equal(mkdir_p(netdir, 0755), 0);
        /* A fixture NIC with a device behind it: the one the network goes to. */
        p = strprintf("%s/device", sysnet);
        assert_int_equal(mkdir_p(p, 0755), 0);
        free(p);
        id_prefix = join(pubdir, "vendor");
        assert_int_equal(ark_key_generate(id_prefix, id, &err), 0);
        conf = join(seed, "seed.conf");

        /* A mistake on the last line: nothing at all is written. */
        assert_int_equal(write_string_file(conf,
                                           "Hostname=ark-seeded\nAddress=192.0.2.10/24\nAdminKey=" KEY
                                           "\nTrustKey=keys/vendor.pub\nLocale=bogus locale\n",
                                           WRITE_CREATE),
                         0);
        assert_int_equal(run_seed(root, seed, &text), 1);
        assert_non_null(strstr(text, "line 5: Locale"));
        assert_non_null(strstr(text, "nothing was applied"));
        free(text);
        text = NULL;
        p = strprintf("%s/etc/hostname", root);
        assert_false(file_exists(p));
        free(p);
        p = strprintf("%s/var/lib/ark/seed.applied", root);
        assert_false(file_exists(p));
        free(p);
        /* A trusted key file that is not a key: nothing either. */
        p = join(pubdir, "broken.pub");
        assert_int_equal(write_string_file(p, "not a key\n", WRITE_CREATE), 0);
        free(p);
        assert_int_equal(write_string_file(conf, "Hostname=ark-seeded\nTrustKey=keys/broken.pub\n",
                                           WRITE_CREATE | WRITE_ATOMIC),
                         0);
        assert_int_equal(run_seed(root, seed, &text), 1);
        assert_non_null(strstr(text, "TrustKey keys/broken.pub"));
        free(text);
        text = NULL;
        p = strprintf("%s/etc/hostname", root);
        assert_false(file_exists(p));
        free(p);

        /* Fixed: all of it, once. */
        assert_int_equal(
                write_string_file(
                        conf,
                        "Hostname=ark-seeded\nAddress=192.0.2.10/24\nGateway=192.0.2.1\nTrustKey=keys/vendor.pub\n"
                        "Locale=zh_CN.UTF-8\n",
                        WRITE_CREATE | WRITE_ATOMIC),
                0);
        assert_int_equal(run_seed(root, seed, &text), 0);
        free(text);
        text = NULL;
        p = strprintf("%s/etc/hostname", root);
        assert_int_equal(read_full_file(p, &text, &n), 0);
        assert_string_equal(text, "ark-seeded\n");
        free(p);
        free(text);
        p = strprintf("%s/etc/systemd/network/10-ark-management.network", root);
        assert_int_equal(read_full_file(p, &text, &n), 0);
        assert_non_null(strstr(text, "Name=enp3s0"));
        assert_non_null(strstr(text, "Address=192.0.2.10/24"));
        assert_non_null(strstr(text, "Gateway=192.0.2.1"));
        free(p);
        free(text);
        p = strprintf("%s/etc/ark/trust.d/%s.pub", root, id);
        assert_true(file_exists(p));
        free(p);
        p = strprintf("%s/etc/default/locale", root);
        assert_int_equal(read_full_file(p, &text, &n), 0);
        assert_string_equal(text, "LANG=zh_CN.UTF-8\n");
        free(p);
        free(text);
        text = NULL;
        /* Once: a second run with another host name changes nothing. */
        assert_int_equal(write_string_file(conf, "Hostname=other\n", WRITE_CREATE | WRITE_ATOMIC), 0);
        assert_int_equal(run_seed(root, seed, NULL), 0);
        p = strprintf("%s/etc/hostname", root);
        assert_int_equal(read_full_file(p, &text, &n), 0);
        assert_string_equal(text, "ark-seeded\n");
        free(p);
}

/* No seed partition on the first boot: none is taken later (a stick plugged into a running
 * appliance would add trusted keys and admin keys). */
static void test_first_boot_only(void **state) {
        _cleanup_tmpdir_ char *dir = make_tmpdir();
        _cleanup_free_ char *root = join(dir, "root"), *seed = join(dir, "seed"),
                            *conf = join(seed, "seed.conf"), *marker = NULL, *hostname = NULL, *text = NULL,
                            *cmd = NULL;
        const char *build = getenv("ARK_BUILD_DIR");
        size_t n;
        int st;

        (void) state;
        assert_int_equal(mkdir_p(root, 0755), 0);
        assert_int_equal(mkdir_p(seed, 0755), 0);
        cmd = strprintf(
                "%s/bin/ark-seed --root %s --device %s/no-such-partition --wait 1 --marker /var/lib/ark/seed.applied "
                ">/dev/null 2>&1",
                build ?: ARK_SRCDIR "/build", root, root);
        st = system(cmd);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        marker = strprintf("%s/var/lib/ark/seed.applied", root);
        assert_int_equal(read_full_file(marker, &text, &n), 0);
        assert_non_null(strstr(text, "none"));
        /* The stick comes later: nothing of it is applied. */
        assert_int_equal(write_string_file(conf, "Hostname=intruder\n", WRITE_CREATE), 0);
        assert_int_equal(run_seed(root, seed, NULL), 0);
        hostname = strprintf("%s/etc/hostname", root);
        assert_false(file_exists(hostname));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse),
                cmocka_unit_test(test_apply),
                cmocka_unit_test(test_first_boot_only),
        };
        return cmocka_run_group_tests_name("seed", tests, tmp_root_setup, tmp_root_teardown);
}

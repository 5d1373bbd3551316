/* Tests for lib/basic/netconf: the management network's .network file the console writes and reads
 * back, and what it refuses. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "basic/netconf.h"

static void test_roundtrip(void **state) {
        NetConf c = { .iface = "eno1",
                      .address = "192.0.2.10/24",
                      .gateway = "192.0.2.1",
                      .dns = "192.0.2.53 192.0.2.54",
                      .ntp = "ntp.example.com" },
                back;
        char buf[256], *text;

        assert_null(netconf_validate(&c, buf, sizeof(buf)));
        text = netconf_format(&c);
        assert_non_null(strstr(text, "[Match]\nName=eno1\n"));
        assert_non_null(strstr(
                text,
                "Address=192.0.2.10/24\nGateway=192.0.2.1\nDNS=192.0.2.53\nDNS=192.0.2.54\nNTP=ntp.example.com\n"));
        assert_int_equal(netconf_parse(text, &back), 0);
        assert_string_equal(back.iface, "eno1");
        assert_false(back.dhcp);
        assert_string_equal(back.address, c.address);
        assert_string_equal(back.gateway, c.gateway);
        assert_string_equal(back.dns, c.dns);
        assert_string_equal(back.ntp, c.ntp);
        free(text);

        c.dhcp = true;
        text = netconf_format(&c);
        assert_non_null(strstr(text, "DHCP=ipv4"));
        assert_null(strstr(text, "Address="));
        assert_int_equal(netconf_parse(text, &back), 0);
        assert_true(back.dhcp);
        free(text);
}

static void test_refused(void **state) {
        NetConf c = { .iface = "eno1", .address = "192.0.2.10/24", .gateway = "198.51.100.1" };
        char buf[256];

        assert_string_equal(netconf_validate(&c, buf, sizeof(buf)),
                            "the gateway 198.51.100.1 is not in 192.0.2.10/24's subnet");
        strcpy(c.gateway, "192.0.2.1");
        strcpy(c.address, "192.0.2.10");
        assert_non_null(strstr(netconf_validate(&c, buf, sizeof(buf)), "is not a.b.c.d/prefix"));
        strcpy(c.address, "192.0.2.10/33");
        assert_non_null(netconf_validate(&c, buf, sizeof(buf)));
        strcpy(c.address, "192.0.2.10/24");
        strcpy(c.dns, "192.0.2.53 dns.example");
        assert_non_null(strstr(netconf_validate(&c, buf, sizeof(buf)), "must be IPv4 addresses"));
        strcpy(c.dns, "");
        strcpy(c.ntp, "pool=evil");
        assert_non_null(netconf_validate(&c, buf, sizeof(buf)));
        assert_null(hostname_invalid_reason("ark-01.plant.example"));
        assert_string_equal(hostname_invalid_reason("-ark"), "a label starts with '-'");
        assert_string_equal(hostname_invalid_reason("ark..x"), "it has an empty label");
        assert_string_equal(hostname_invalid_reason("ark_01"),
                            "it may only hold letters, digits, '-' and '.'");
        assert_int_equal(netconf_parse("no sections at all", &(NetConf) {}), -EINVAL);
        assert_int_equal(netconf_parse("[Network]\nDHCP=yes\n", &(NetConf) {}), -EINVAL); /* no interface */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_roundtrip),
                cmocka_unit_test(test_refused),
        };
        return cmocka_run_group_tests_name("netconf", tests, NULL, NULL);
}

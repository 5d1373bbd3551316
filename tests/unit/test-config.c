/* Tests for appliance/config: the compiled-in defaults, /etc/ark/ark.conf as admins write it (and
 * get it wrong), the messages they see, and the domain type arkd picks. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <cmocka.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "config.h"
#include "pool/pool.h"

/* ------------------------------------------------------------------------------------------ */
/* helpers */

static void config_donep(ArkConfig *c) {
        config_done(c);
}
#define _cleanup_config_ _cleanup_(config_donep)

static void assert_contains(const char *haystack, const char *needle) {
        if (!haystack)
                fail_msg("expected a message containing \"%s\", got none", needle);
        if (!strstr(haystack, needle))
                fail_msg("message \"%s\" does not contain \"%s\"", haystack, needle);
}

static void init(ArkConfig *c) {
        assert_int_equal(config_init(c), 0);
}

/* Parses text as x.conf and expects success without warnings. */
static void parse_ok(ArkConfig *c, const char *text) {
        _cleanup_free_ char *err = NULL, *warn = NULL;
        int r = config_parse_string(c, "x.conf", text, &err, &warn);

        if (r != 0)
                fail_msg("parse failed (%d): %s\n--- input:\n%s", r, strna(err), text);
        assert_null(err);
        if (warn)
                fail_msg("unexpected warnings: %s", warn);
}

/* Parses text as x.conf on a fresh config, expects -EINVAL and an error containing every
 * needle. */
static void parse_fails(const char *text, const char *const *needles) {
        _cleanup_config_ ArkConfig c = {};
        _cleanup_free_ char *err = NULL, *warn = NULL;
        int r;

        init(&c);
        r = config_parse_string(&c, "x.conf", text, &err, &warn);
        if (r != -EINVAL)
                fail_msg("parse returned %d, expected -EINVAL\n--- input:\n%s", r, text);
        assert_non_null(err);
        for (const char *const *n = needles; *n; n++)
                assert_contains(err, *n);
        /* Warnings are an output too: written only on success. */
        assert_null(warn);
}

/* ------------------------------------------------------------------------------------------ */

static void test_defaults(void **state) {
        _cleanup_config_ ArkConfig c = {};

        init(&c);
        assert_string_equal(c.state_dir, CONFIG_DEFAULT_STATE_DIR);
        assert_string_equal(c.libvirt_uri, CONFIG_DEFAULT_LIBVIRT_URI);
        assert_string_equal(c.sysfs_root, CONFIG_DEFAULT_SYSFS_ROOT);
        assert_int_equal(c.stop_timeout_sec, CONFIG_DEFAULT_STOP_TIMEOUT);
        assert_string_equal(c.domain_type, "auto");
        assert_null(c.bus_address); /* the system bus */
        assert_int_equal(c.log_level, LOG_INFO);
        assert_string_equal(c.metrics_address, "127.0.0.1:9464"); /* loopback only */
        assert_null(c.metrics_token_file);                        /* the image's ark.conf sets one */
        assert_int_equal(c.placement_policy, POOL_POLICY_ARK);
        assert_int_equal(c.placement_seed, 0);
        assert_null(c.placement_workload); /* the built-in workload */

        /* The Kconfig defaults themselves must pass the file's own validation. */
        assert_true(CONFIG_DEFAULT_STATE_DIR[0] == '/');
        assert_true(CONFIG_DEFAULT_SYSFS_ROOT[0] == '/');
        assert_true(CONFIG_DEFAULT_STOP_TIMEOUT >= 1 && CONFIG_DEFAULT_STOP_TIMEOUT <= 3600);

        /* An empty file, or one with only comments, changes nothing. */
        parse_ok(&c, "");
        parse_ok(&c, "# nothing here\n; nor here\n\n   \n");
        assert_string_equal(c.state_dir, CONFIG_DEFAULT_STATE_DIR);
        assert_int_equal(c.stop_timeout_sec, CONFIG_DEFAULT_STOP_TIMEOUT);

        /* config_done() leaves a config that can be freed again. */
        config_done(&c);
        assert_null(c.state_dir);
}

static const char full_file[] = "# /etc/ark/ark.conf\n"
                                "[Daemon]\n"
                                "StateDirectory=/srv/ark\n"
                                "BusAddress=unix:path=/run/ark/bus\n"
                                "LogLevel=debug\n"
                                "\n"
                                "[Hypervisor]\n"
                                "URI=test:///opt/ark/host.xml\n"
                                "DomainType=qemu\n"
                                "StopTimeoutSec=90\n"
                                "\n"
                                "[Hardware]\n"
                                "SysfsRoot=/srv/fixture\n";

static void assert_full_file(const ArkConfig *c) {
        assert_string_equal(c->state_dir, "/srv/ark");
        assert_string_equal(c->bus_address, "unix:path=/run/ark/bus");
        assert_int_equal(c->log_level, LOG_DEBUG);
        assert_string_equal(c->libvirt_uri, "test:///opt/ark/host.xml");
        assert_string_equal(c->domain_type, "qemu");
        assert_int_equal(c->stop_timeout_sec, 90);
        assert_string_equal(c->sysfs_root, "/srv/fixture");
}

static void test_full_file(void **state) {
        _cleanup_config_ ArkConfig c = {}, f = {};
        _cleanup_free_ char *dir = strdup("/tmp/test-config.XXXXXX"), *path = NULL, *err = NULL,
                            *warn = NULL, *missing = NULL;

        init(&c);
        parse_ok(&c, full_file);
        assert_full_file(&c);
        /* An explicit domain type wins over the URI's. */
        assert_string_equal(config_domain_type(&c), "qemu");

        /* The same through a real file; messages name the file's path. */
        assert_non_null(dir);
        assert_non_null(mkdtemp(dir));
        path = path_join(dir, "ark.conf");
        missing = path_join(dir, "missing.conf");
        assert_non_null(path);
        assert_non_null(missing);
        assert_int_equal(write_string_file(path, full_file, WRITE_CREATE), 0);
        init(&f);
        assert_int_equal(config_parse_file(&f, path, &err, &warn), 0);
        assert_null(err);
        assert_null(warn);
        assert_full_file(&f);

        assert_int_equal(write_string_file(path, "[Daemon]\nLogLevel=loud\n", WRITE_CREATE), 0);
        assert_int_equal(config_parse_file(&f, path, &err, &warn), -EINVAL);
        assert_non_null(err);
        {
                _cleanup_free_ char *where = strprintf("%s:2:", path);
                assert_contains(err, where);
        }
        err = mfree(err);

        /* A missing file is -ENOENT with no message: arkd decides whether that matters. */
        assert_int_equal(config_parse_file(&f, missing, &err, &warn), -ENOENT);
        assert_null(err);
        /* A directory is not a configuration file. */
        assert_int_equal(config_parse_file(&f, dir, &err, &warn), -EISDIR);
        assert_null(err);

        assert_int_equal(rm_rf(dir), 0);
}

static void test_each_key(void **state) {
        _cleanup_config_ ArkConfig c = {};

        init(&c);

        parse_ok(&c, "[Daemon]\nStateDirectory=/var/lib/ark-test\n");
        assert_string_equal(c.state_dir, "/var/lib/ark-test");
        parse_ok(&c, "[Daemon]\nStateDirectory=/\n");
        assert_string_equal(c.state_dir, "/");

        /* D-Bus addresses contain '=': only the first one separates key and value. */
        parse_ok(&c, "[Daemon]\nBusAddress=unix:path=/tmp/ark-bus,guid=0123456789abcdef\n");
        assert_string_equal(c.bus_address, "unix:path=/tmp/ark-bus,guid=0123456789abcdef");
        /* Empty means "back to the system bus". */
        parse_ok(&c, "[Daemon]\nBusAddress=\n");
        assert_null(c.bus_address);

        static const struct {
                const char *name;
                int level;
        } levels[] = {
                { "emerg", LOG_EMERG }, { "alert", LOG_ALERT },     { "crit", LOG_CRIT },
                { "err", LOG_ERR },     { "warning", LOG_WARNING }, { "notice", LOG_NOTICE },
                { "info", LOG_INFO },   { "debug", LOG_DEBUG },     { "WARNING", LOG_WARNING },
                { "Debug", LOG_DEBUG },
        };
        for (size_t i = 0; i < ELEMENTSOF(levels); i++) {
                _cleanup_free_ char *text = strprintf("[Daemon]\nLogLevel=%s\n", levels[i].name);

                c.log_level = -1;
                parse_ok(&c, text);
                assert_int_equal(c.log_level, levels[i].level);
        }

        parse_ok(&c, "[Hypervisor]\nURI=qemu+ssh://root@gpu-01/system\n");
        assert_string_equal(c.libvirt_uri, "qemu+ssh://root@gpu-01/system");

        static const char *const types[] = { "kvm", "qemu", "test", "auto" };
        for (size_t i = 0; i < ELEMENTSOF(types); i++) {
                _cleanup_free_ char *text = strprintf("[Hypervisor]\nDomainType=%s\n", types[i]);

                parse_ok(&c, text);
                assert_string_equal(c.domain_type, types[i]);
        }

        parse_ok(&c, "[Hypervisor]\nStopTimeoutSec=1\n");
        assert_int_equal(c.stop_timeout_sec, 1);
        parse_ok(&c, "[Hypervisor]\nStopTimeoutSec=3600\n");
        assert_int_equal(c.stop_timeout_sec, 3600);
        parse_ok(&c, "[Hypervisor]\nStopTimeoutSec=045\n");
        assert_int_equal(c.stop_timeout_sec, 45);

        static const char *const policies[] = { "fgd", "best-fit", "first-fit", "ark" };
        for (size_t i = 0; i < ELEMENTSOF(policies); i++) {
                _cleanup_free_ char *text = strprintf("[Placement]\nPolicy=%s\n", policies[i]);

                parse_ok(&c, text);
                assert_string_equal(pool_policy_to_string(c.placement_policy), policies[i]);
        }
        parse_ok(&c, "[Placement]\nSeed=18446744073709551615\nWorkload=/etc/ark/workload.csv\n");
        assert_true(c.placement_seed == UINT64_MAX);
        assert_string_equal(c.placement_workload, "/etc/ark/workload.csv");
        parse_ok(&c, "[Placement]\nSeed=0\nWorkload=\n");
        assert_int_equal(c.placement_seed, 0);
        assert_null(c.placement_workload);

        parse_ok(&c, "[Hardware]\nSysfsRoot=/opt/ark/fixtures/dgx-h100/sysfs\n");
        assert_string_equal(c.sysfs_root, "/opt/ark/fixtures/dgx-h100/sysfs");

        assert_null(c.firmware_code);
        assert_string_equal(config_firmware_code(&c, "x86_64"), "/usr/share/OVMF/OVMF_CODE_4M.fd");
        assert_string_equal(config_firmware_vars(&c, NULL), "/usr/share/OVMF/OVMF_VARS_4M.fd");
        assert_string_equal(config_firmware_code(&c, "aarch64"), "/usr/share/AAVMF/AAVMF_CODE.fd");
        assert_string_equal(config_firmware_vars(&c, "aarch64"), "/usr/share/AAVMF/AAVMF_VARS.fd");
        assert_false(c.hugepages);
        parse_ok(
                &c,
                "[Hypervisor]\nFirmwareCode=/opt/edk2/CODE.fd\nFirmwareVars=/opt/edk2/VARS.fd\nHugePages=yes\n");
        assert_string_equal(c.firmware_code, "/opt/edk2/CODE.fd");
        assert_string_equal(config_firmware_code(&c, "aarch64"), "/opt/edk2/CODE.fd"); /* configured wins */
        assert_string_equal(c.firmware_vars, "/opt/edk2/VARS.fd");
        assert_true(c.hugepages);
        parse_ok(&c, "[Hypervisor]\nHugePages=no\n");
        assert_false(c.hugepages);

        assert_null(c.management_interface);
        parse_ok(&c, "[Network]\nManagementInterface=eno1\n");
        assert_string_equal(c.management_interface, "eno1");
        parse_ok(&c, "[Network]\nManagementInterface=\n");
        assert_null(c.management_interface);

        parse_ok(&c, "[Daemon]\nMetricsTokenFile=/etc/ark/metrics.token\n");
        assert_string_equal(c.metrics_token_file, "/etc/ark/metrics.token");
        /* Empty turns it off again (arkd --metrics-token-file ''). */
        parse_ok(&c, "[Daemon]\nMetricsTokenFile=\n");
        assert_null(c.metrics_token_file);

        assert_null(c.vfio_at_boot);
        parse_ok(&c,
                 "[Hardware]\nVfioAtBoot=0000:18:00.0 0000:2a:00.0,0000:18:00.0\n"
                 "ReservedAccelerators=0000:db:00.0\n");
        assert_int_equal(strv_length(c.vfio_at_boot), 2); /* the duplicate is dropped */
        assert_string_equal(c.vfio_at_boot[1], "0000:2a:00.0");
        assert_string_equal(c.reserved[0], "0000:db:00.0");
        parse_ok(&c, "[Hardware]\nVfioAtBoot=\n");
        assert_null(c.vfio_at_boot);

        /* Directories admins may name files below; the refused-call allowance. */
        assert_null(c.image_admin_dirs);
        assert_int_equal(c.refused_call_burst, 20);
        parse_ok(&c,
                 "[Images]\nAdminDirectories=/srv/images /mnt/usb /srv/images\n"
                 "[Daemon]\nRefusedCallBurst=0\n");
        assert_int_equal(strv_length(c.image_admin_dirs), 2);
        assert_string_equal(c.image_admin_dirs[1], "/mnt/usb");
        assert_int_equal(c.refused_call_burst, 0);
        parse_ok(&c, "[Images]\nAdminDirectories=\n");
        assert_null(c.image_admin_dirs);

        /* A key given twice: the last one wins, as in systemd. */
        parse_ok(&c, "[Hypervisor]\nStopTimeoutSec=10\nStopTimeoutSec=20\n");
        assert_int_equal(c.stop_timeout_sec, 20);
        /* A section may appear twice. */
        parse_ok(&c, "[Daemon]\nLogLevel=err\n[Hardware]\nSysfsRoot=/a\n[Daemon]\nLogLevel=notice\n");
        assert_int_equal(c.log_level, LOG_NOTICE);
        assert_string_equal(c.sysfs_root, "/a");
}

static void test_whitespace_and_comments(void **state) {
        _cleanup_config_ ArkConfig c = {};

        init(&c);
        parse_ok(&c,
                 "   # indented comment\n"
                 "; semicolon comment\n"
                 "\t[Daemon]   \n"
                 "  StateDirectory   =   /srv/ark state  \n" /* inner spaces are kept */
                 "\tLogLevel\t=\tnotice\t\n"
                 "\n"
                 "[Hypervisor]\n"
                 "#StopTimeoutSec=5\n"
                 "StopTimeoutSec = 30\n");
        assert_string_equal(c.state_dir, "/srv/ark state");
        assert_int_equal(c.log_level, LOG_NOTICE);
        assert_int_equal(c.stop_timeout_sec, 30);

        /* A file saved with CRLF line ends, and one without a final newline. */
        parse_ok(&c, "[Hypervisor]\r\nStopTimeoutSec=31\r\n\r\n[Daemon]\r\nLogLevel=crit\r\n");
        assert_int_equal(c.stop_timeout_sec, 31);
        assert_int_equal(c.log_level, LOG_CRIT);
        parse_ok(&c, "[Hypervisor]\nStopTimeoutSec=32");
        assert_int_equal(c.stop_timeout_sec, 32);
}

static void test_unknown_keys(void **state) {
        _cleanup_config_ ArkConfig c = {};
        _cleanup_free_ char *err = NULL, *warn = NULL, *warn2 = NULL;

        init(&c);
        /* Unknown keys and sections are warnings, naming file, line, key and section; what is
         * known is still applied. */
        assert_int_equal(config_parse_string(&c, "x.conf",
                                             "[Daemon]\n"
                                             "LogLevel=debug\n"
                                             "Colour=blue\n"
                                             "\n"
                                             "[Network]\n"
                                             "Bridge=br0\n"
                                             "[Hypervisor]\n"
                                             "stoptimeoutsec=5\n" /* keys are case-sensitive */
                                             "StopTimeoutSec=7\n",
                                             &err, &warn),
                         0);
        assert_null(err);
        assert_int_equal(c.log_level, LOG_DEBUG);
        assert_int_equal(c.stop_timeout_sec, 7);
        assert_non_null(warn);
        assert_contains(warn, "x.conf:3:");
        assert_contains(warn, "'Colour'");
        assert_contains(warn, "[Daemon]");
        assert_contains(warn, "x.conf:6:");
        assert_contains(warn, "'Bridge'");
        assert_contains(warn, "[Network]");
        assert_contains(warn, "x.conf:8:");
        assert_contains(warn, "'stoptimeoutsec'");
        /* One line per warning, no trailing newline (arkd logs it as is). */
        assert_string_equal(warn,
                            "x.conf:3: unknown key 'Colour' in section [Daemon], ignoring\n"
                            "x.conf:6: unknown key 'Bridge' in section [Network], ignoring\n"
                            "x.conf:8: unknown key 'stoptimeoutsec' in section [Hypervisor], ignoring");

        /* A key of one section in another is unknown there. */
        assert_int_equal(config_parse_string(&c, "x.conf", "[Hardware]\nLogLevel=err\n", &err, &warn2), 0);
        assert_int_equal(c.log_level, LOG_DEBUG);
        assert_contains(warn2, "x.conf:2: unknown key 'LogLevel' in section [Hardware]");

        /* Without a place to put warnings, they are dropped (and not leaked). */
        assert_int_equal(config_parse_string(&c, "x.conf", "[Daemon]\nFoo=1\n", NULL, NULL), 0);
}

static void test_malformed(void **state) {
        /* Lines that are not Key=value, section headers that do not close, keys outside any
         * section: refused with file and line. */
        parse_fails("[Daemon]\nLogLevel=debug\njust some words\n",
                    (const char *[]) { "x.conf:3:", "just some words", NULL });
        parse_fails("[Daemon\nLogLevel=debug\n", (const char *[]) { "x.conf:1:", "section", NULL });
        parse_fails("\n\n[]\n", (const char *[]) { "x.conf:3:", "section", NULL });
        parse_fails("[Daemon]]x\n", (const char *[]) { "x.conf:1:", NULL });
        parse_fails("LogLevel=debug\n[Daemon]\n",
                    (const char *[]) { "x.conf:1:", "LogLevel", "section", NULL });
        parse_fails("# comment\n\nStateDirectory=/srv\n",
                    (const char *[]) { "x.conf:3:", "StateDirectory", NULL });
}

static void test_bad_values(void **state) {
        static const struct {
                const char *text;
                const char *key;
        } cases[] = {
                { "[Hypervisor]\nStopTimeoutSec=0\n", "StopTimeoutSec" },
                { "[Hypervisor]\nStopTimeoutSec=3601\n", "StopTimeoutSec" },
                { "[Hypervisor]\nStopTimeoutSec=-5\n", "StopTimeoutSec" },
                { "[Hypervisor]\nStopTimeoutSec=5s\n", "StopTimeoutSec" },
                { "[Hypervisor]\nStopTimeoutSec=\n", "StopTimeoutSec" },
                { "[Hypervisor]\nStopTimeoutSec=4294967306\n", "StopTimeoutSec" }, /* 10 after wrapping */
                { "[Hypervisor]\nStopTimeoutSec=99999999999999999999999\n", "StopTimeoutSec" },
                { "[Hypervisor]\nDomainType=xen\n", "DomainType" },
                { "[Placement]\nPolicy=random\n", "Policy" },
                { "[Placement]\nPolicy=\n", "Policy" },
                { "[Placement]\nSeed=-1\n", "Seed" },
                { "[Placement]\nSeed=18446744073709551616\n", "Seed" },
                { "[Placement]\nWorkload=workload.csv\n", "Workload" },
                { "[Hypervisor]\nDomainType=\n", "DomainType" },
                { "[Hypervisor]\nURI=\n", "URI" },
                { "[Daemon]\nLogLevel=verbose\n", "LogLevel" },
                { "[Daemon]\nLogLevel=7\n", "LogLevel" },
                { "[Daemon]\nLogLevel=\n", "LogLevel" },
                { "[Daemon]\nStateDirectory=\n", "StateDirectory" },
                { "[Hardware]\nSysfsRoot=\n", "SysfsRoot" },
                { "[Hypervisor]\nFirmwareCode=OVMF_CODE.fd\n", "FirmwareCode" },
                { "[Hypervisor]\nFirmwareVars=\n", "FirmwareVars" },
                { "[Hypervisor]\nHugePages=sometimes\n", "HugePages" },
                { "[Daemon]\nMetricsTokenFile=metrics.token\n", "MetricsTokenFile" },
                { "[Network]\nManagementInterface=eth0/1\n", "ManagementInterface" },
                { "[Network]\nManagementInterface=a-very-long-interface\n", "ManagementInterface" },
                { "[Network]\nManagementInterface=br 0\n", "ManagementInterface" },
                { "[Hardware]\nVfioAtBoot=18:00.0\n", "VfioAtBoot" },
                { "[Hardware]\nReservedAccelerators=0000:DB:00.0\n", "ReservedAccelerators" },
                { "[Hardware]\nReservedAccelerators=0000:db:00.0 nvidia0\n", "ReservedAccelerators" },
                { "[Images]\nAdminDirectories=images\n", "AdminDirectories" },
                { "[Images]\nAdminDirectories=/srv/../etc\n", "AdminDirectories" },
                { "[Images]\nAdminDirectories=/\n", "AdminDirectories" },
                { "[Images]\nAdminDirectories=/srv//x\n", "AdminDirectories" },
                { "[Daemon]\nRefusedCallBurst=-1\n", "RefusedCallBurst" },
                { "[Daemon]\nRefusedCallBurst=lots\n", "RefusedCallBurst" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                parse_fails(cases[i].text, (const char *[]) { "x.conf:2:", cases[i].key, NULL });

        /* The whole sentence, as arkd prints it. */
        {
                _cleanup_config_ ArkConfig c = {};
                _cleanup_free_ char *err = NULL;

                init(&c);
                assert_int_equal(config_parse_string(&c, "/etc/ark/ark.conf",
                                                     "[Daemon]\n\n[Hypervisor]\nStopTimeoutSec=0\n", &err,
                                                     NULL),
                                 -EINVAL);
                assert_string_equal(err,
                                    "/etc/ark/ark.conf:4: invalid StopTimeoutSec= in [Hypervisor]: '0' "
                                    "must be a number of seconds between 1 and 3600");
        }
}

static void test_relative_paths(void **state) {
        static const char *const bad[] = { "var/lib/ark", "./ark", "~/ark", "../ark", " relative" };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *s = strprintf("[Daemon]\nStateDirectory=%s\n", bad[i]),
                                    *h = strprintf("[Hardware]\nSysfsRoot=%s\n", bad[i]),
                                    *t = strprintf("[Daemon]\nMetricsTokenFile=%s\n", bad[i]);

                /* " relative" is stripped to "relative": still relative. */
                parse_fails(s, (const char *[]) { "x.conf:2:", "StateDirectory", "absolute", NULL });
                parse_fails(h, (const char *[]) { "x.conf:2:", "SysfsRoot", "absolute", NULL });
                parse_fails(t, (const char *[]) { "x.conf:2:", "MetricsTokenFile", "absolute", NULL });
        }
}

static void test_line_numbers(void **state) {
        /* Blank lines, comments and CRLF all count as lines. */
        parse_fails("\n\n# c\n[Daemon]\n\n\nLogLevel=nope\n",
                    (const char *[]) { "x.conf:7:", "LogLevel", NULL });
        parse_fails("\r\n\r\n[Daemon]\r\n\r\nLogLevel=nope\r\n", (const char *[]) { "x.conf:5:", NULL });
        parse_fails("[Daemon]\n\n\n\n\n\n\n\n\n\n\nLogLevel=nope", (const char *[]) { "x.conf:12:", NULL });

        /* A warning and then an error: only the error is reported. */
        parse_fails("[Daemon]\nFoo=1\nLogLevel=nope\n", (const char *[]) { "x.conf:3:", NULL });
}

static void test_failed_parse_state(void **state) {
        _cleanup_config_ ArkConfig c = {};
        _cleanup_free_ char *err = NULL, *warn = NULL;

        /* A parse is not all-or-nothing: lines before the bad one have been applied when it
         * fails. That is acceptable because arkd exits on a failed parse and never uses the
         * config; what must hold is that the config stays valid and freeable (checked under
         * ASan), and that nothing after the bad line is applied. */
        init(&c);
        assert_int_equal(config_parse_string(&c, "x.conf",
                                             "[Daemon]\n"
                                             "StateDirectory=/srv/first\n"
                                             "LogLevel=bogus\n"
                                             "BusAddress=unix:path=/never\n",
                                             &err, &warn),
                         -EINVAL);
        assert_contains(err, "x.conf:3:");
        assert_string_equal(c.state_dir, "/srv/first"); /* half-applied, see above */
        assert_int_equal(c.log_level, LOG_INFO);        /* the bad value left the old one */
        assert_null(c.bus_address);                     /* after the error: not applied */
        assert_null(warn);
        err = mfree(err);

        /* A refused path leaves the previous (valid, absolute) one. */
        assert_int_equal(config_parse_string(&c, "x.conf", "[Hardware]\nSysfsRoot=relative\n", &err, NULL),
                         -EINVAL);
        assert_string_equal(c.sysfs_root, CONFIG_DEFAULT_SYSFS_ROOT);
        err = mfree(err);
        assert_int_equal(config_parse_string(&c, "x.conf", "[Hypervisor]\nStopTimeoutSec=0\n", &err, NULL),
                         -EINVAL);
        assert_int_equal(c.stop_timeout_sec, CONFIG_DEFAULT_STOP_TIMEOUT);
}

static void test_domain_type(void **state) {
        _cleanup_config_ ArkConfig c = {};
        const char *kconfig_default = IS_ENABLED(CONFIG_DOMAIN_TYPE_QEMU) ? "qemu" : "kvm";

        init(&c);
        /* auto: the test driver gets "test", everything else the Kconfig default. */
        parse_ok(&c, "[Hypervisor]\nURI=test:///default\n");
        assert_string_equal(config_domain_type(&c), "test");
        parse_ok(&c, "[Hypervisor]\nURI=test:///opt/ark/fixtures/dgx-h100/host.xml\n");
        assert_string_equal(config_domain_type(&c), "test");
        parse_ok(&c, "[Hypervisor]\nURI=qemu:///system\n");
        assert_string_equal(config_domain_type(&c), kconfig_default);
        parse_ok(&c, "[Hypervisor]\nURI=qemu+ssh://gpu-01/system\n");
        assert_string_equal(config_domain_type(&c), kconfig_default);
        /* "test" appearing elsewhere in a URI is not the test driver. */
        parse_ok(&c, "[Hypervisor]\nURI=qemu:///system?name=test:\n");
        assert_string_equal(config_domain_type(&c), kconfig_default);

        /* An explicit type wins, whatever the URI. */
        parse_ok(&c, "[Hypervisor]\nURI=test:///default\nDomainType=kvm\n");
        assert_string_equal(config_domain_type(&c), "kvm");
        parse_ok(&c, "[Hypervisor]\nDomainType=qemu\n");
        assert_string_equal(config_domain_type(&c), "qemu");
        parse_ok(&c, "[Hypervisor]\nURI=qemu:///system\nDomainType=test\n");
        assert_string_equal(config_domain_type(&c), "test");
        parse_ok(&c, "[Hypervisor]\nURI=test:///default\nDomainType=auto\n");
        assert_string_equal(config_domain_type(&c), "test");

        /* Defaults straight from config_init(). */
        {
                _cleanup_config_ ArkConfig d = {};
                init(&d);
                const char *expected =
                        startswith(CONFIG_DEFAULT_LIBVIRT_URI, "test:") ? "test" : kconfig_default;

                assert_string_equal(config_domain_type(&d), expected);
        }
}

/* Odd inputs: the parser either accepts them or names the line, and the config stays valid. */
static void test_odd_inputs(void **state) {
        static const char *const inputs[] = {
                "[",
                "]",
                "=",
                "[Daemon]\n=\n",
                "[Daemon]\n=/x\n",
                "[D]\n[",
                "[Daemon]\nStateDirectory==/x\n",
                "\n\n\n[Hardware]\nSysfsRoot=/\x01\x7f\xff\n",
                "[Hypervisor]\nStopTimeoutSec=00000000000000000000000000000000000000000001\n",
        };

        for (size_t i = 0; i < ELEMENTSOF(inputs); i++) {
                _cleanup_config_ ArkConfig c = {};
                _cleanup_free_ char *err = NULL, *warn = NULL;
                int r;

                init(&c);
                r = config_parse_string(&c, "fuzz", inputs[i], &err, &warn);
                assert_true(r == 0 || r == -EINVAL);
                if (r < 0) {
                        assert_non_null(err);
                        assert_true(startswith(err, "fuzz:"));
                        assert_null(warn);
                } else
                        assert_null(err);
                assert_true(c.state_dir && c.state_dir[0] == '/');
                assert_true(c.sysfs_root && c.sysfs_root[0] == '/');
                assert_true(c.stop_timeout_sec >= 1 && c.stop_timeout_sec <= 3600);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),     cmocka_unit_test(test_full_file),
                cmocka_unit_test(test_each_key),     cmocka_unit_test(test_whitespace_and_comments),
                cmocka_unit_test(test_unknown_keys), cmocka_unit_test(test_malformed),
                cmocka_unit_test(test_bad_values),   cmocka_unit_test(test_relative_paths),
                cmocka_unit_test(test_line_numbers), cmocka_unit_test(test_failed_parse_state),
                cmocka_unit_test(test_domain_type),  cmocka_unit_test(test_odd_inputs),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Tests for appliance/domain-xml: the domain XML builder against golden files, libvirt's RNG
 * schema (virt-xml-validate) and the test driver, and the metadata parser against what libvirt
 * really returns and against malformed input.
 *
 * Golden files live in tests/unit/golden/domain-*.xml. After an intended change of the builder,
 * regenerate them with
 *         ARK_REGENERATE_GOLDEN=1 build/tests/test-domain-xml
 * and review the diff (git diff tests/unit/golden/) before committing. */

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "config.h"
#include "domain-xml.h"
#include "instance.h"
#include "host-inventory.h"
#include "manager.h"
#include "virt-util.h"
#include "vm-driver.h"

extern char **environ;

#define GOLDEN_DIR ARK_SRCDIR "/tests/unit/golden"

/* 2024-05-01T12:00:00Z */
#define CREATED_USEC UINT64_C(1714564800000000)

/* (a) a VM booting from its disk under KVM; the disk path needs escaping. */
static const DomainSpec spec_kvm_disk = {
        .name = "db-1",
        .uuid = "6f1f5a52-6c5e-4d6a-9a57-3b0e8d3c1a01",
        .tenant = "risk",
        .domain_type = "kvm",
        .vcpus = 4,
        .memory_bytes = UINT64_C(8) << 30,
        .disk_path = "/var/lib/ark/images/risk&ops/<db-1>.qcow2",
        .created_usec = CREATED_USEC,
};

/* (a') a VM serving an imported model: its directory shared read-only (9p). */
static const DomainSpec spec_model = {
        .name = "serve-1",
        .uuid = "6f1f5a52-6c5e-4d6a-9a57-3b0e8d3c1a02",
        .tenant = "risk",
        .domain_type = "kvm",
        .vcpus = 8,
        .memory_bytes = UINT64_C(32) << 30,
        .disk_path = "/var/lib/ark/disks/serve-1.qcow2",
        .model_dir = "/var/lib/ark/bundles/model/risk/qwen&co/2.5.1",
        .created_usec = CREATED_USEC,
};

/* (b) direct kernel boot under TCG with initrd, a command line full of markup characters, and a
 * console log. */
static const DomainSpec spec_qemu_direct = {
        .name = "fw-test",
        .uuid = "0b9e2c4d-1f3a-4e5b-8c7d-6a5b4c3d2e1f",
        .tenant = "lab-2",
        .domain_type = "qemu",
        .vcpus = 1,
        .memory_bytes = (UINT64_C(512) << 20) + 1023, /* rounds down to 524288 KiB */
        .kernel = "/var/lib/ark/boot/vmlinuz",
        .initrd = "/var/lib/ark/boot/initrd.img",
        .cmdline = "console=ttyS0 ark.note=\"a&b<c>\" ark.who='me' quiet",
        .console_log = "/var/log/ark/console/fw-test.log",
        .created_usec = CREATED_USEC + 1,
};

/* (c) a VM for the test driver; a name with every markup character and an uppercase UUID. */
static const DomainSpec spec_test = {
        .name = "web&<x>'s \"vm\"",
        .uuid = "A1B2C3D4-E5F6-4A7B-8C9D-0E1F2A3B4C5D",
        .tenant = "ops",
        .domain_type = "test",
        .vcpus = 2,
        .memory_bytes = UINT64_C(1) << 30,
        .disk_path = "/var/lib/ark/images/web.qcow2",
        .console_log = "/var/log/ark/console/web's.log",
        .created_usec = CREATED_USEC,
};

static bool regenerate(void) {
        const char *v = getenv("ARK_REGENERATE_GOLDEN");

        return v && streq(v, "1");
}

static void check_golden(const char *file, const char *xml) {
        _cleanup_free_ char *path = NULL, *expected = NULL;

        path = path_join(GOLDEN_DIR, file);
        assert_non_null(path);

        if (regenerate()) {
                assert_int_equal(mkdir_p(GOLDEN_DIR "/", 0755), 0);
                assert_int_equal(write_string_file(path, xml, WRITE_CREATE | WRITE_ATOMIC), 0);
                print_message("Regenerated %s\n", path);
                return;
        }

        if (read_full_file(path, &expected, NULL) < 0)
                fail_msg("Cannot read %s; run with ARK_REGENERATE_GOLDEN=1 to create it", path);
        if (!streq(expected, xml))
                print_message("%s differs; got:\n%s", path, xml);
        assert_string_equal(xml, expected);
}

/* Runs `virt-xml-validate FILE domain` on the XML (libvirt's RNG schema); skips with a message
 * when the tool is missing. */
static void check_schema(const char *xml) {
        char path[] = "/tmp/ark-domain-xml-XXXXXX", out[] = "/tmp/ark-domain-xml-out-XXXXXX";
        char *argv[] = { (char *) "virt-xml-validate", path, (char *) "domain", NULL };
        posix_spawn_file_actions_t fa;
        _cleanup_close_ int fd = -EBADF, fd_out = -EBADF;
        _cleanup_free_ char *output = NULL;
        int status, r;
        pid_t pid;

        fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, xml, strlen(xml)), (ssize_t) strlen(xml));
        fd_out = mkstemp(out);
        assert_true(fd_out >= 0);

        /* Its chatter ("FILE validates") goes to a file, shown only when it fails. */
        assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
        assert_int_equal(posix_spawn_file_actions_adddup2(&fa, fd_out, STDOUT_FILENO), 0);
        assert_int_equal(posix_spawn_file_actions_adddup2(&fa, fd_out, STDERR_FILENO), 0);
        r = posix_spawnp(&pid, "virt-xml-validate", &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (r == 0)
                assert_int_equal(waitpid(pid, &status, 0), pid);
        (void) read_full_file(out, &output, NULL);
        (void) unlink(path);
        (void) unlink(out);

        if (r == ENOENT) {
                print_message("virt-xml-validate not found (package libvirt-clients): "
                              "skipping schema validation\n");
                return;
        }
        assert_int_equal(r, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                fail_msg("virt-xml-validate rejected the XML:\n%s\n%s", strna(output), xml);
}

/* Defines the XML on a fresh test driver with libvirt's own schema validation and checks the
 * escaped values came through. The test driver accepts any domain type, so kvm and qemu XML is
 * checked there too. */
static void check_define(const DomainSpec *spec, const char *xml) {
        _cleanup_(virConnectClosep) virConnectPtr conn = NULL;
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        _cleanup_free_ char *msg = NULL, *dumped = NULL;
        char uuid[VIR_UUID_STRING_BUFLEN];

        conn = virConnectOpen("test:///default");
        assert_non_null(conn);
        dom = virDomainDefineXMLFlags(conn, xml, VIR_DOMAIN_DEFINE_VALIDATE);
        if (!dom) {
                (void) virt_last_error(&msg);
                fail_msg("test driver rejected the XML: %s\n%s", strna(msg), xml);
        }
        assert_string_equal(virDomainGetName(dom), spec->name);
        assert_int_equal(virDomainGetUUIDString(dom, uuid), 0);
        assert_int_equal(strcasecmp(uuid, spec->uuid), 0);

        dumped = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
        assert_non_null(dumped);
        /* The escaped values reached libvirt as the same text (libvirt escapes like we do). */
        if (spec->cmdline) {
                _cleanup_free_ char *esc = xml_escape(spec->cmdline);
                assert_non_null(esc);
                assert_non_null(strstr(dumped, esc));
        }
        if (spec->disk_path) {
                _cleanup_free_ char *esc = xml_escape(spec->disk_path);
                assert_non_null(esc);
                assert_non_null(strstr(dumped, esc));
        }
        assert_int_equal(virDomainUndefine(dom), 0);
}

/* arkd's own check (the schema compiled once, domain-xml.h), loaded on first use; NULL (with a
 * message) where libvirt's schemas are not installed. */
static DomainSchema *own_schema(void) {
        static DomainSchema *schema;
        static bool tried;
        int r;

        if (!tried) {
                tried = true;
                r = domain_schema_load(DOMAIN_SCHEMA_PATH, &schema);
                if (r == -ENOENT)
                        print_message("%s not found (package libvirt0): skipping arkd's schema check\n",
                                      DOMAIN_SCHEMA_PATH);
                else
                        assert_int_equal(r, 0);
        }
        return schema;
}

/* arkd's check agrees with virt-xml-validate on the XML arkd makes. */
static void check_own_schema(const char *xml) {
        char reason[256];

        if (!own_schema())
                return;
        if (domain_schema_validate(own_schema(), xml, reason, sizeof(reason)) != 0)
                fail_msg("arkd's schema check rejected the XML: %s\n%s", reason, xml);
}

static void check_spec(const DomainSpec *spec, const char *golden) {
        _cleanup_free_ char *xml = NULL;

        assert_int_equal(domain_xml_build(spec, &xml), 0);
        assert_non_null(xml);
        check_golden(golden, xml);
        check_schema(xml);
        check_own_schema(xml);
        check_define(spec, xml);
}

static void test_build_kvm_disk(void **state) {
        check_spec(&spec_kvm_disk, "domain-kvm-disk.xml");
}

static void test_build_model(void **state) {
        _cleanup_free_ char *xml = NULL;
        DomainSpec relative = spec_model;

        check_spec(&spec_model, "domain-model.xml");
        relative.model_dir = "bundles/model";
        assert_int_equal(domain_xml_build(&relative, &xml), -EINVAL);
}

static void test_build_qemu_direct(void **state) {
        _cleanup_free_ char *xml = NULL;

        check_spec(&spec_qemu_direct, "domain-qemu-direct.xml");

        /* Independent of the golden file: rounding and the TCG rule. */
        assert_int_equal(domain_xml_build(&spec_qemu_direct, &xml), 0);
        assert_non_null(strstr(xml, "<memory unit='KiB'>524288</memory>"));
        assert_null(strstr(xml, "host-passthrough"));
        assert_null(strstr(xml, "<boot "));
        assert_non_null(strstr(xml, "ark.note=&quot;a&amp;b&lt;c&gt;&quot;"));
}

static void test_build_test_driver(void **state) {
        _cleanup_free_ char *xml = NULL;

        check_spec(&spec_test, "domain-test.xml");

        assert_int_equal(domain_xml_build(&spec_test, &xml), 0);
        assert_non_null(strstr(xml, "<uuid>a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d</uuid>"));
        assert_non_null(strstr(xml, "<name>web&amp;&lt;x&gt;&apos;s &quot;vm&quot;</name>"));
}

/* Tenant networks: one virtio NIC per network on its bridge, with the MAC and tap name arkd
 * chose and the network's MTU; the hot-plug element is the same. */
static void test_build_nics(void **state) {
        static const DomainNic nics[] = {
                { .bridge = "arkn000001",
                  .mac = "52:54:00:12:34:56",
                  .ifname = "arkt0a1b2c3d",
                  .mtu = 1500 },
                { .bridge = "arkn000002", .mac = "52:54:00:ab:cd:ef", .ifname = "arkt00000002" },
        };
        _cleanup_free_ char *one = NULL;
        DomainSpec spec = spec_qemu_direct;
        DomainNic bad = nics[0];

        spec.nics = nics;
        spec.n_nics = ELEMENTSOF(nics);
        check_spec(&spec, "domain-nics.xml");
        assert_int_equal(domain_xml_nic(&nics[0], &one), 0);
        assert_non_null(strstr(one, "<source bridge='arkn000001'/>"));
        assert_non_null(strstr(one, "<mtu size='1500'/>"));
        bad.ifname = NULL;
        spec.nics = &bad;
        spec.n_nics = 1;
        {
                char *xml = NULL;
                assert_int_equal(domain_xml_build(&spec, &xml), -EINVAL);
                assert_null(xml);
                assert_int_equal(domain_xml_nic(&bad, &xml), -EINVAL);
        }
}

/* What libvirt's schema refuses, arkd's check refuses before libvirt sees it, saying where. */
static void test_schema_refuses(void **state) {
        _cleanup_free_ char *xml = NULL, *bad = NULL;
        const char *at;
        char reason[256];

        if (!own_schema())
                skip();
        assert_int_equal(domain_xml_build(&spec_test, &xml), 0);
        assert_int_equal(domain_schema_validate(own_schema(), xml, reason, sizeof(reason)), 0);

        /* An element the schema does not know, inside <devices>. */
        at = strstr(xml, "</devices>");
        assert_non_null(at);
        bad = strprintf("%.*s<gadget/>%s", (int) (at - xml), xml, at);
        assert_non_null(bad);
        assert_int_equal(domain_schema_validate(own_schema(), bad, reason, sizeof(reason)), -EBADMSG);
        assert_non_null(startswith(reason, "line "));

        /* A value out of its type: vCPUs are a positive number. */
        free(bad);
        at = strstr(xml, "<vcpu");
        assert_non_null(at);
        at = strchr(at, '>');
        bad = strprintf("%.*s>many%s", (int) (at - xml), xml, strchr(at, '<'));
        assert_non_null(bad);
        assert_int_equal(domain_schema_validate(own_schema(), bad, reason, sizeof(reason)), -EBADMSG);

        /* Not XML at all. */
        assert_int_equal(
                domain_schema_validate(own_schema(), "<domain type='test'>", reason, sizeof(reason)),
                -EBADMSG);
        assert_string_equal(reason, "not well-formed XML");
        assert_int_equal(domain_schema_load("/nonexistent/domain.rng", &(DomainSchema *) { NULL }), -ENOENT);
}

static void test_build_invalid(void **state) {
        static const char *const bad_text[] = {
                "a\001b",       /* control character */
                "a\033[1m",     /* terminal escape */
                "\xff",         /* not UTF-8 */
                "\xc0\xaf",     /* overlong '/' */
                "\xed\xa0\x80", /* surrogate */
        };
        DomainSpec s;
        char *xml = (char *) "untouched";

        assert_int_equal(domain_xml_build(NULL, &xml), -EINVAL);

#define EXPECT_EINVAL(field, value) \
        do { \
                s = spec_kvm_disk; \
                s.field = value; \
                assert_int_equal(domain_xml_build(&s, &xml), -EINVAL); \
                assert_string_equal(xml, "untouched"); \
        } while (0)

        /* Required fields missing. */
        EXPECT_EINVAL(name, NULL);
        EXPECT_EINVAL(name, "");
        EXPECT_EINVAL(uuid, NULL);
        EXPECT_EINVAL(tenant, NULL);
        EXPECT_EINVAL(domain_type, NULL);
        EXPECT_EINVAL(vcpus, 0);
        EXPECT_EINVAL(memory_bytes, 0);
        EXPECT_EINVAL(memory_bytes, 1023); /* 0 KiB */

        /* Present but unusable. */
        EXPECT_EINVAL(uuid, "6f1f5a52-6c5e-4d6a-9a57-3b0e8d3c1a0");
        EXPECT_EINVAL(uuid, "6f1f5a52-6c5e-4d6a-9a57-3b0e8d3c1a0g");
        EXPECT_EINVAL(uuid, "6f1f5a526c5e-4d6a-9a57-3b0e8d3c1a01x");
        EXPECT_EINVAL(tenant, "");
        EXPECT_EINVAL(tenant, "Risk");
        EXPECT_EINVAL(tenant, "a/b");
        EXPECT_EINVAL(domain_type, "xen");
        EXPECT_EINVAL(domain_type, "KVM");
        EXPECT_EINVAL(disk_path, "images/db.qcow2");
        EXPECT_EINVAL(disk_path, "");
        EXPECT_EINVAL(console_log, "console.log");
        EXPECT_EINVAL(initrd, "/boot/initrd.img"); /* no kernel */
        EXPECT_EINVAL(cmdline, "quiet");           /* no kernel */
        EXPECT_EINVAL(kernel, "vmlinuz");
        for (size_t k = 0; k < ELEMENTSOF(bad_text); k++) {
                char path[32];

                snprintf(path, sizeof(path), "/%s", bad_text[k]);
                EXPECT_EINVAL(name, bad_text[k]);
                EXPECT_EINVAL(disk_path, path);
                EXPECT_EINVAL(tenant, bad_text[k]);
        }
        s = spec_qemu_direct;
        s.cmdline = "console=ttyS0\001";
        assert_int_equal(domain_xml_build(&s, &xml), -EINVAL);
#undef EXPECT_EINVAL
}

static void test_build_optional(void **state) {
        _cleanup_free_ char *xml = NULL;
        DomainSpec s = spec_kvm_disk;

        /* No disk, no console log: still a complete, valid domain. */
        s.disk_path = NULL;
        assert_int_equal(domain_xml_build(&s, &xml), 0);
        assert_null(strstr(xml, "<disk"));
        assert_null(strstr(xml, "<log"));
        assert_non_null(strstr(xml, "<console type='pty'>"));
        assert_non_null(strstr(xml, "<boot dev='hd'/>"));
        check_schema(xml);
        check_define(&s, xml);
        xml = mfree(xml);

        /* UTF-8 in the name is fine. */
        s.name = "datenbank-größe";
        assert_int_equal(domain_xml_build(&s, &xml), 0);
        check_define(&s, xml);
}

/* ------------------------------------------------------------------------------ metadata */

static void check_parse(const char *xml, const char *tenant, const char *id) {
        _cleanup_free_ char *t = NULL, *i = NULL;
        int r;

        r = domain_xml_parse_metadata(xml, &t, &i);
        if (r < 0)
                fail_msg("parse failed (%d) on: %s", r, xml);
        assert_string_equal(t, tenant);
        assert_string_equal(i, id);
}

static void test_metadata_roundtrip(void **state) {
        _cleanup_(virConnectClosep) virConnectPtr conn = NULL;
        const DomainSpec *specs[] = { &spec_kvm_disk, &spec_qemu_direct, &spec_test };

        conn = virConnectOpen("test:///default");
        assert_non_null(conn);

        /* A domain without Ark metadata (the test driver's own "test"): a clean -ENOENT, which
         * is how arkd tells foreign domains from its own. */
        {
                _cleanup_(virDomainFreep) virDomainPtr foreign = NULL;
                _cleanup_free_ char *msg = NULL;

                foreign = virDomainLookupByName(conn, "test");
                assert_non_null(foreign);
                assert_null(virDomainGetMetadata(foreign, VIR_DOMAIN_METADATA_ELEMENT, ARK_METADATA_NS, 0));
                assert_int_equal(virt_last_error(&msg), -ENOENT);
        }

        for (size_t k = 0; k < ELEMENTSOF(specs); k++) {
                _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
                _cleanup_free_ char *xml = NULL, *md = NULL, *md_live = NULL;
                char uuid[VIR_UUID_STRING_BUFLEN];

                assert_int_equal(domain_xml_build(specs[k], &xml), 0);
                dom = virDomainDefineXMLFlags(conn, xml, VIR_DOMAIN_DEFINE_VALIDATE);
                assert_non_null(dom);
                assert_int_equal(virDomainGetUUIDString(dom, uuid), 0);

                /* libvirt 9.0 hands back the element with its namespace prefix and declaration
                 * stripped ("<instance>\n  <tenant>..."), pretty-printed; the parser must not
                 * care. */
                md = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, ARK_METADATA_NS,
                                          VIR_DOMAIN_AFFECT_CONFIG);
                assert_non_null(md);
                check_parse(md, specs[k]->tenant, uuid);

                /* And from the live definition of the running domain. */
                assert_int_equal(virDomainCreate(dom), 0);
                md_live = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, ARK_METADATA_NS,
                                               VIR_DOMAIN_AFFECT_LIVE);
                assert_non_null(md_live);
                check_parse(md_live, specs[k]->tenant, uuid);
                assert_int_equal(virDomainDestroy(dom), 0);
                assert_int_equal(virDomainUndefine(dom), 0);
        }
}

static void test_metadata_variants(void **state) {
        const char *id = "6f1f5a52-6c5e-4d6a-9a57-3b0e8d3c1a01";

        /* As written in the domain XML, prefixed. */
        check_parse("<ark:instance xmlns:ark='https://ark.dev/xmlns/instance/1'>"
                    "<ark:tenant>risk</ark:tenant><ark:id>6f1f5a52-6c5e-4d6a-9a57-3b0e8d3c1a01</ark:id>"
                    "<ark:created>2024-05-01T12:00:00Z</ark:created></ark:instance>",
                    "risk", id);
        /* Default namespace; another prefix. */
        check_parse("<instance xmlns='https://ark.dev/xmlns/instance/1'><tenant>risk</tenant>"
                    "<id>6f1f5a52-6c5e-4d6a-9a57-3b0e8d3c1a01</id></instance>",
                    "risk", id);
        check_parse("<x:instance xmlns:x='urn:other'><x:id>6f1f5a52-6c5e-4d6a-9a57-3b0e8d3c1a01</x:id>"
                    "<x:tenant>risk</x:tenant></x:instance>",
                    "risk", id);
        /* Whitespace, an XML declaration, comments, unknown elements, CDATA, uppercase id. */
        check_parse("<?xml version='1.0' encoding='UTF-8'?>\n<instance>\n  <!-- hi -->\n"
                    "  <tenant>\n    risk\n  </tenant>\n  <future a='1'><x/></future>\n"
                    "  <id><![CDATA[6F1F5A52-6C5E-4D6A-9A57-3B0E8D3C1A01]]></id>\n</instance>\n",
                    "risk", id);
}

static void test_metadata_malformed(void **state) {
        _cleanup_free_ char *long_tenant = NULL;
        char *t = (char *) "untouched", *i = (char *) "untouched";
        const char *bad[] = {
                "",
                "not xml at all",
                "<instance>",
                "<instance><tenant>risk</tenant><id>6f1f5a52-6c5e-4d6a-9a57-3b0e8d3c1a01</id>",
                "<domain><tenant>risk</tenant><id>6f1f5a52-6c5e-4d6a-9a57-3b0e8d3c1a01</id></domain>",
                "<metadata><instance><tenant>risk</tenant>"
                "<id>6f1f5a52-6c5e-4d6a-9a57-3b0e8d3c1a01</id></instance></metadata>",
                "<instance><tenant>risk</tenant></instance>",
                "<instance><id>6f1f5a52-6c5e-4d6a-9a57-3b0e8d3c1a01</id></instance>",
                "<instance><tenant>risk</tenant><id></id></instance>",
                "<instance><tenant>risk</tenant><id>not-a-uuid</id></instance>",
                "<instance><tenant>risk</tenant><id>6f1f5a52-6c5e-4d6a-9a57-3b0e8d3c1a0g</id></instance>",
                "<instance><tenant>risk</tenant><id>6f1f5a52-6c5e-4d6a-9a57-3b0e8d3c1a011</id></instance>",
                "<instance><tenant>risk</tenant><id>6f1f5a526c5e-4d6a-9a57-3b0e8d3c1a01-</id></instance>",
                "<instance><tenant>ri/sk</tenant><id>6f1f5a52-6c5e-4d6a-9a57-3b0e8d3c1a01</id></instance>",
                "<instance><tenant></tenant><id>6f1f5a52-6c5e-4d6a-9a57-3b0e8d3c1a01</id></instance>",
                "<instance><tenant>Risk</tenant><id>6f1f5a52-6c5e-4d6a-9a57-3b0e8d3c1a01</id></instance>",
                "<instance><tenant>r&amp;k</tenant><id>6f1f5a52-6c5e-4d6a-9a57-3b0e8d3c1a01</id></instance>",
                /* Ambiguous: two ids. */
                "<instance><tenant>risk</tenant><id>6f1f5a52-6c5e-4d6a-9a57-3b0e8d3c1a01</id>"
                "<id>0b9e2c4d-1f3a-4e5b-8c7d-6a5b4c3d2e1f</id></instance>",
                /* Markup inside a value. */
                "<instance><tenant><b>risk</b></tenant><id>6f1f5a52-6c5e-4d6a-9a57-3b0e8d3c1a01</id></instance>",
                /* Entities: none are substituted, and documents with a DTD are refused. */
                "<!DOCTYPE instance [<!ENTITY t 'risk'>]><instance><tenant>&t;</tenant>"
                "<id>6f1f5a52-6c5e-4d6a-9a57-3b0e8d3c1a01</id></instance>",
                "<!DOCTYPE instance [<!ENTITY t SYSTEM 'file:///etc/hostname'>]><instance>"
                "<tenant>&t;</tenant><id>6f1f5a52-6c5e-4d6a-9a57-3b0e8d3c1a01</id></instance>",
                "<!DOCTYPE instance SYSTEM 'http://example.com/x.dtd'><instance><tenant>risk</tenant>"
                "<id>6f1f5a52-6c5e-4d6a-9a57-3b0e8d3c1a01</id></instance>",
                "<instance><tenant>&undefined;</tenant><id>6f1f5a52-6c5e-4d6a-9a57-3b0e8d3c1a01</id></instance>",
                /* Trailing garbage. */
                "<instance><tenant>risk</tenant><id>6f1f5a52-6c5e-4d6a-9a57-3b0e8d3c1a01</id></instance><x/>",
        };

        for (size_t k = 0; k < ELEMENTSOF(bad); k++) {
                int r = domain_xml_parse_metadata(bad[k], &t, &i);
                if (r != -EBADMSG)
                        fail_msg("expected -EBADMSG, got %d for: %s", r, bad[k]);
                assert_string_equal(t, "untouched");
                assert_string_equal(i, "untouched");
        }

        /* A tenant of 300 characters. */
        {
                char name[301];
                memset(name, 'a', 300);
                name[300] = 0;
                long_tenant = strprintf("<instance><tenant>%s</tenant>"
                                        "<id>6f1f5a52-6c5e-4d6a-9a57-3b0e8d3c1a01</id></instance>",
                                        name);
                assert_non_null(long_tenant);
                assert_int_equal(domain_xml_parse_metadata(long_tenant, &t, &i), -EBADMSG);
        }

        /* Oversized input is refused before parsing. */
        {
                _cleanup_free_ char *huge = malloc(70000);
                assert_non_null(huge);
                memset(huge, ' ', 69999);
                memcpy(huge, "<instance>", 10);
                huge[69999] = 0;
                assert_int_equal(domain_xml_parse_metadata(huge, &t, &i), -EBADMSG);
        }

        assert_int_equal(domain_xml_parse_metadata(NULL, &t, &i), -EINVAL);
}

static int setup(void **state) {
        return virt_init() < 0 ? -1 : 0;
}

/* ------------------------------------------------------------------------------------------ */
/* GPU VMs, built the way arkd builds them: the real scanner on a fixture host, an instance that
 * claims GPUs, vm_build_xml(). */

#define HOSTS_DIR ARK_SRCDIR "/tests/fixtures/hosts"

typedef struct GpuHost {
        Manager m;
        Instance i;
} GpuHost;

static void gpu_host_setup(GpuHost *h, const char *host, const char *domain_type, const char *const *gpus,
                           unsigned vcpus, uint64_t memory) {
        char root[512];

        snprintf(root, sizeof(root), HOSTS_DIR "/%s/sysfs", host);
        *h = (GpuHost) {};
        assert_int_equal(config_init(&h->m.config), 0);
        assert_int_equal(free_and_strdup(&h->m.config.domain_type, domain_type), 0);
        assert_int_equal(pci_scan_accelerators(root, &h->m.accelerators, &h->m.n_accelerators), 0);
        assert_int_equal(sysfs_read_numa(root, &h->m.host.numa, &h->m.host.n_numa), 0);
        h->i = (Instance) {
                .manager = &h->m,
                .name = (char *) "gpu-vm",
                .tenant = (char *) "risk",
                .vcpus = vcpus,
                .memory_bytes = memory,
                .created_usec = CREATED_USEC,
                .uefi = true, /* created with GPUs */
        };
        memcpy(h->i.uuid, "3f6d2a1c-8b4e-4c7a-9e21-5d0c7b9a4e13", 37);
        for (const char *const *g = gpus; *g; g++)
                assert_int_equal(strv_extend(&h->i.gpus, *g), 0);
}

static void gpu_host_done(GpuHost *h) {
        strv_free(h->i.gpus);
        accelerator_array_free(h->m.accelerators, h->m.n_accelerators);
        host_info_done(&h->m.host);
        config_done(&h->m.config);
}

static void check_gpu_vm(GpuHost *h, const char *golden, char **ret_xml) {
        DomainSpec spec = { .name = h->i.name, .uuid = h->i.uuid };
        char *xml = NULL;

        assert_int_equal(vm_build_xml(&h->i, &xml), 0);
        check_golden(golden, xml);
        check_schema(xml);
        check_define(&spec, xml);
        *ret_xml = xml;
}

/* One H100 on a KVM host: UEFI, one hostdev, a window for its 128 GiB BAR, pinned to node 0. */
static void test_gpu_single(void **state) {
        static const char *const gpus[] = { "0000:18:00.0", NULL };
        _cleanup_free_ char *xml = NULL;
        GpuHost h;

        gpu_host_setup(&h, "dgx-h100", "kvm", gpus, 8, UINT64_C(64) << 30);
        check_gpu_vm(&h, "domain-gpu-1-dgx-h100.xml", &xml);
        assert_non_null(strstr(xml, "<maxphysaddr mode='passthrough'/>"));
        assert_non_null(strstr(xml, "cpuset='0-55,112-167'"));
        gpu_host_done(&h);
}

/* All eight H100s: they span both nodes, so nothing is pinned; the window holds 8 x 128 GiB. */
static void test_gpu_eight(void **state) {
        static const char *const gpus[] = { "0000:18:00.0", "0000:2a:00.0", "0000:3a:00.0",
                                            "0000:5d:00.0", "0000:9a:00.0", "0000:ab:00.0",
                                            "0000:ba:00.0", "0000:db:00.0", NULL };
        _cleanup_free_ char *xml = NULL;
        GpuHost h;

        gpu_host_setup(&h, "dgx-h100", "kvm", gpus, 192, UINT64_C(1536) << 30);
        check_gpu_vm(&h, "domain-gpu-8-dgx-h100.xml", &xml);
        assert_null(strstr(xml, "cpuset="));
        assert_null(strstr(xml, "<numatune>"));
        for (unsigned k = 1; k <= 8; k++) {
                char needle[96];
                snprintf(needle, sizeof(needle),
                         "<controller type='pci' index='%u' model='pcie-root-port'/>", k);
                assert_non_null(strstr(xml, needle));
        }
        gpu_host_done(&h);
}

/* The workstation's 2080 SUPER under TCG: four functions in one multifunction guest slot,
 * emulated address bits, huge pages when configured. */
static void test_gpu_grouped_functions(void **state) {
        static const char *const gpus[] = { "0000:17:00.0", NULL };
        _cleanup_free_ char *xml = NULL;
        GpuHost h;

        gpu_host_setup(&h, "ws-rtx", "qemu", gpus, 4, UINT64_C(16) << 30);
        h.m.config.hugepages = true;
        check_gpu_vm(&h, "domain-gpu-ws-rtx.xml", &xml);
        assert_non_null(strstr(xml, "function='0x0' multifunction='on'/>"));
        assert_non_null(strstr(xml, "<maxphysaddr mode='emulate' bits='40'/>"));
        assert_non_null(strstr(xml, "<hugepages/>"));
        gpu_host_done(&h);
}

/* An Ascend 910B on the Kunpeng (arm64) host: machine 'virt', GIC, AAVMF; no x86-only parts
 * (apic, maxphysaddr, pcihole64, OVMF's fw_cfg aperture). */
static void test_gpu_arm64(void **state) {
        static const char *const gpus[] = { "0000:01:00.0", NULL };
        _cleanup_free_ char *xml = NULL;
        GpuHost h;

        gpu_host_setup(&h, "ascend-910b", "kvm", gpus, 16, UINT64_C(64) << 30);
        h.m.host.arch = strdup("aarch64");
        check_gpu_vm(&h, "domain-gpu-ascend-910b.xml", &xml);
        assert_non_null(strstr(xml, "<type arch='aarch64' machine='virt'>hvm</type>"));
        assert_non_null(strstr(xml, "<gic version='3'/>"));
        assert_non_null(strstr(xml, "/usr/share/AAVMF/AAVMF_CODE.fd"));
        assert_null(strstr(xml, "<apic/>"));
        assert_null(strstr(xml, "maxphysaddr"));
        assert_null(strstr(xml, "pcihole64"));
        assert_null(strstr(xml, "X-PciMmio64Mb"));
        assert_non_null(strstr(xml, "cpuset='0-63'"));
        gpu_host_done(&h);

        /* An arm64 guest under TCG emulates the most capable CPU, not QEMU's 32-bit default. */
        {
                _cleanup_free_ char *plain = NULL;
                DomainSpec spec = spec_qemu_direct;

                spec.arch = "aarch64";
                assert_int_equal(domain_xml_build(&spec, &plain), 0);
                assert_non_null(strstr(plain, "<cpu mode='maximum' check='none'/>"));
                assert_non_null(strstr(plain, "machine='virt'"));
                check_schema(plain);
                check_define(&spec, plain);
                spec.arch = "riscv64";
                assert_int_equal(domain_xml_build(&spec, &plain), -EINVAL);
        }
}

/* A claimed GPU this host does not have (removed, or the slot changed): the build refuses. */
static void test_gpu_missing(void **state) {
        static const char *const gpus[] = { "0000:18:00.0", "0000:ee:00.0", NULL };
        char *xml = (char *) "untouched";
        GpuHost h;

        gpu_host_setup(&h, "dgx-h100", "kvm", gpus, 8, UINT64_C(8) << 30);
        assert_int_equal(vm_build_xml(&h.i, &xml), -ENODEV);
        assert_string_equal(xml, "untouched");
        gpu_host_done(&h);
}

/* The hostdevs of a domain, as arkd reads them back from libvirt to re-derive claims. */
static void test_parse_hostdevs(void **state) {
        static const char *const gpus[] = { "0000:18:00.0", "0000:2a:00.0", "0000:3a:00.0",
                                            "0000:5d:00.0", "0000:9a:00.0", "0000:ab:00.0",
                                            "0000:ba:00.0", "0000:db:00.0", NULL };
        _cleanup_free_ char *xml = NULL, *dumped = NULL;
        _cleanup_(virConnectClosep) virConnectPtr conn = NULL;
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        char **l = NULL;
        GpuHost h;

        gpu_host_setup(&h, "dgx-h100", "kvm", gpus, 16, UINT64_C(64) << 30);
        assert_int_equal(vm_build_xml(&h.i, &xml), 0);
        assert_int_equal(domain_xml_parse_hostdevs(xml, &l), 0);
        assert_int_equal(strv_length(l), 8);
        for (size_t k = 0; k < 8; k++)
                assert_string_equal(l[k], gpus[k]);
        l = strv_free(l);
        /* What libvirt gives back (its own formatting) reads the same. */
        conn = virConnectOpen("test:///default");
        assert_non_null(conn);
        dom = virDomainDefineXMLFlags(conn, xml, VIR_DOMAIN_DEFINE_VALIDATE);
        assert_non_null(dom);
        dumped = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
        assert_int_equal(domain_xml_parse_hostdevs(dumped, &l), 0);
        assert_int_equal(strv_length(l), 8);
        assert_string_equal(l[7], "0000:db:00.0");
        l = strv_free(l);
        assert_int_equal(virDomainUndefine(dom), 0);
        gpu_host_done(&h);

        /* None. */
        assert_int_equal(domain_xml_parse_hostdevs("<domain><devices><disk/></devices></domain>", &l), 0);
        assert_null(l);
        assert_int_equal(domain_xml_parse_hostdevs("<domain/>", &l), 0);
        assert_null(l);
        /* Decimal and upper-case hex, a duplicate, USB hostdevs and other places are ignored. */
        assert_int_equal(
                domain_xml_parse_hostdevs(
                        "<domain><devices>"
                        "<hostdev mode='subsystem' type='pci'><source><address domain='0' bus='24' slot='0' "
                        "function='1'/></source></hostdev>"
                        "<hostdev type='pci'><source><address domain='0x0000' bus='0x18' slot='0x00' "
                        "function='0x1'/></source></hostdev>"
                        "<hostdev mode='subsystem' type='usb'><source><vendor id='0x1'/></source></hostdev>"
                        "<hostdev mode='subsystem' type='pci'><source><address domain='0x0000' bus='0xAB' "
                        "slot='0x1F' function='0x7'/></source></hostdev>"
                        "</devices><hostdev type='pci'/></domain>",
                        &l),
                0);
        assert_int_equal(strv_length(l), 2);
        assert_string_equal(l[0], "0000:18:00.1");
        assert_string_equal(l[1], "0000:ab:1f.7");
        l = strv_free(l);

        /* Malformed: nothing returned. */
        static const char *const bad[] = {
                "",
                "<domain",
                "<vm/>",
                "<domain><devices/><devices/></domain>",
                "<domain><devices><hostdev type='pci'><source/></hostdev></devices></domain>",
                "<domain><devices><hostdev type='pci'><source><address domain='0' bus='256' slot='0' "
                "function='0'/></source></hostdev></devices></domain>",
                "<domain><devices><hostdev type='pci'><source><address domain='0' bus='1' slot='0x20' "
                "function='0'/></source></hostdev></devices></domain>",
                "<domain><devices><hostdev type='pci'><source><address domain='0' bus='1' slot='0' "
                "function='8'/></source></hostdev></devices></domain>",
                "<domain><devices><hostdev type='pci'><source><address domain='-1' bus='1' slot='0' "
                "function='0'/></source></hostdev></devices></domain>",
                "<domain><devices><hostdev type='pci'><source><address domain='0' bus='x1' slot='0' "
                "function='0'/></source></hostdev></devices></domain>",
                "<domain><devices><hostdev type='pci'><source><address bus='1' slot='0' "
                "function='0'/></source></hostdev></devices></domain>",
                "<!DOCTYPE domain [<!ENTITY e 'x'>]><domain/>",
        };
        for (size_t k = 0; k < ELEMENTSOF(bad); k++) {
                l = (char **) 0x1;
                if (domain_xml_parse_hostdevs(bad[k], &l) != -EBADMSG)
                        fail_msg("accepted: %s", bad[k]);
                assert_ptr_equal(l, (char **) 0x1);
        }
        l = NULL;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_build_kvm_disk),
                cmocka_unit_test(test_build_model),
                cmocka_unit_test(test_build_qemu_direct),
                cmocka_unit_test(test_build_test_driver),
                cmocka_unit_test(test_build_nics),
                cmocka_unit_test(test_build_invalid),
                cmocka_unit_test(test_schema_refuses),
                cmocka_unit_test(test_build_optional),
                cmocka_unit_test(test_gpu_single),
                cmocka_unit_test(test_gpu_eight),
                cmocka_unit_test(test_gpu_grouped_functions),
                cmocka_unit_test(test_gpu_arm64),
                cmocka_unit_test(test_gpu_missing),
                cmocka_unit_test(test_parse_hostdevs),
                cmocka_unit_test(test_metadata_roundtrip),
                cmocka_unit_test(test_metadata_variants),
                cmocka_unit_test(test_metadata_malformed),
        };

        return cmocka_run_group_tests(tests, setup, NULL);
}

/* The libvirt domain XML of Ark instances, and the reader of Ark's metadata element. */

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "basic/macro.h"
#include "basic/parse-util.h"
#include "basic/string-util.h"
#include "domain-xml.h"

/* Metadata is three short elements; anything much larger is not ours. */
#define METADATA_MAX 65536

static inline void strbuf_donep(StrBuf *b) {
        strbuf_done(b);
}

static inline void xmlFreeDocp(xmlDoc **doc) {
        if (*doc)
                xmlFreeDoc(*doc);
}

static inline void xmlFreep(xmlChar **p) {
        if (*p)
                xmlFree(*p);
}

/* 8-4-4-4-12 hex digits, either case. */
static bool uuid_is_valid(const char *s) {
        if (!s || strlen(s) != 36)
                return false;
        for (size_t i = 0; i < 36; i++) {
                if (i == 8 || i == 13 || i == 18 || i == 23) {
                        if (s[i] != '-')
                                return false;
                } else if (!isxdigit((unsigned char) s[i]))
                        return false;
        }
        return true;
}

/* True when s can be carried in XML 1.0 text: well-formed UTF-8 without control characters other
 * than tab and newline, surrogates or the non-characters U+FFFE/U+FFFF. xml_escape() takes care
 * of markup characters only; these would make the document malformed. */
static bool text_is_valid(const char *s) {
        const unsigned char *p = (const unsigned char *) s;

        while (*p) {
                uint32_t c;
                int n;

                if (*p < 0x80) {
                        if (*p < 0x20 && *p != '\t' && *p != '\n')
                                return false;
                        p++;
                        continue;
                }
                if ((*p & 0xe0) == 0xc0) {
                        c = *p & 0x1f;
                        n = 1;
                } else if ((*p & 0xf0) == 0xe0) {
                        c = *p & 0x0f;
                        n = 2;
                } else if ((*p & 0xf8) == 0xf0) {
                        c = *p & 0x07;
                        n = 3;
                } else
                        return false;
                p++;
                for (int i = 0; i < n; i++, p++) {
                        if ((*p & 0xc0) != 0x80)
                                return false;
                        c = (c << 6) | (*p & 0x3f);
                }
                if ((n == 1 && c < 0x80) || (n == 2 && c < 0x800) || (n == 3 && c < 0x10000))
                        return false; /* overlong */
                if (c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff) || c == 0xfffe || c == 0xffff)
                        return false;
        }
        return true;
}

static bool optional_path_is_valid(const char *p) {
        return !p || (p[0] == '/' && text_is_valid(p));
}

static int spec_validate(const DomainSpec *spec) {
        if (!spec)
                return -EINVAL;
        if (isempty(spec->name) || !text_is_valid(spec->name))
                return -EINVAL;
        if (!uuid_is_valid(spec->uuid))
                return -EINVAL;
        /* The parser accepts only valid names; never write what we could not read back. */
        if (!ark_name_is_valid(spec->tenant))
                return -EINVAL;
        if (!spec->domain_type ||
            !(streq(spec->domain_type, "kvm") || streq(spec->domain_type, "qemu") ||
              streq(spec->domain_type, "test")))
                return -EINVAL;
        if (spec->vcpus == 0 || spec->memory_bytes / 1024 == 0)
                return -EINVAL;
        /* Relative paths would be resolved by libvirtd, against its own working directory. */
        if (!optional_path_is_valid(spec->disk_path) || !optional_path_is_valid(spec->kernel) ||
            !optional_path_is_valid(spec->initrd) || !optional_path_is_valid(spec->console_log))
                return -EINVAL;
        if (spec->cmdline && !text_is_valid(spec->cmdline))
                return -EINVAL;
        /* An initrd or a command line without a kernel would be silently meaningless. */
        if (!spec->kernel && (spec->initrd || spec->cmdline))
                return -EINVAL;
        return 0;
}

static int format_created(uint64_t usec, char buf[static 32]) {
        time_t t;
        struct tm tm;

        if (usec / 1000000 > (uint64_t) INT64_MAX)
                return -EINVAL;
        t = (time_t) (usec / 1000000);
        if (!gmtime_r(&t, &tm))
                return -EINVAL;
        if (strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                return -EINVAL;
        return 0;
}

/* Appends "<indent><tag>escaped text</tag>\n". */
static void append_element(StrBuf *b, const char *indent, const char *tag, const char *text) {
        strbuf_printf(b, "%s<%s>", indent, tag);
        strbuf_append_xml(b, text);
        strbuf_printf(b, "</%s>\n", tag);
}

int domain_xml_build(const DomainSpec *spec, char **ret) {
        _cleanup_(strbuf_donep) StrBuf b = {};
        char uuid[37], created[32];
        bool kvm;
        char *s;
        int r;

        r = spec_validate(spec);
        if (r < 0)
                return r;
        r = format_created(spec->created_usec, created);
        if (r < 0)
                return r;

        /* libvirt reports UUIDs in lowercase; write them so, and compare equal later. */
        for (size_t i = 0; i < sizeof(uuid); i++)
                uuid[i] = (char) tolower((unsigned char) spec->uuid[i]);
        kvm = streq(spec->domain_type, "kvm");

        strbuf_printf(&b, "<domain type='%s'>\n", spec->domain_type);
        append_element(&b, "  ", "name", spec->name);
        append_element(&b, "  ", "uuid", uuid);

        strbuf_append(&b, "  <metadata>\n");
        strbuf_append(&b, "    <" ARK_METADATA_PREFIX ":instance xmlns:" ARK_METADATA_PREFIX "='");
        strbuf_append_xml(&b, ARK_METADATA_NS);
        strbuf_append(&b, "'>\n");
        append_element(&b, "      ", ARK_METADATA_PREFIX ":tenant", spec->tenant);
        append_element(&b, "      ", ARK_METADATA_PREFIX ":id", uuid);
        append_element(&b, "      ", ARK_METADATA_PREFIX ":created", created);
        strbuf_append(&b, "    </" ARK_METADATA_PREFIX ":instance>\n");
        strbuf_append(&b, "  </metadata>\n");

        strbuf_printf(&b, "  <memory unit='KiB'>%" PRIu64 "</memory>\n", spec->memory_bytes / 1024);
        strbuf_printf(&b, "  <vcpu placement='static'>%u</vcpu>\n", spec->vcpus);

        strbuf_append(&b, "  <os>\n");
        strbuf_append(&b, "    <type arch='x86_64' machine='q35'>hvm</type>\n");
        if (spec->kernel) {
                append_element(&b, "    ", "kernel", spec->kernel);
                if (spec->initrd)
                        append_element(&b, "    ", "initrd", spec->initrd);
                if (spec->cmdline)
                        append_element(&b, "    ", "cmdline", spec->cmdline);
        } else
                strbuf_append(&b, "    <boot dev='hd'/>\n");
        strbuf_append(&b, "  </os>\n");

        strbuf_append(&b, "  <features>\n"
                          "    <acpi/>\n"
                          "    <apic/>\n"
                          "  </features>\n");
        /* TCG cannot pass the host CPU through, and the test driver has no host CPU: leave the
         * CPU model to libvirt's default there. */
        if (kvm)
                strbuf_append(&b, "  <cpu mode='host-passthrough' check='none' migratable='on'/>\n");
        strbuf_append(&b, "  <clock offset='utc'/>\n"
                          "  <on_poweroff>destroy</on_poweroff>\n"
                          "  <on_reboot>restart</on_reboot>\n"
                          "  <on_crash>destroy</on_crash>\n");

        /* No <emulator>: libvirt picks the right binary for the domain type and architecture. */
        strbuf_append(&b, "  <devices>\n");
        if (spec->disk_path) {
                strbuf_append(&b, "    <disk type='file' device='disk'>\n"
                                  "      <driver name='qemu' type='qcow2'/>\n"
                                  "      <source file='");
                strbuf_append_xml(&b, spec->disk_path);
                strbuf_append(&b, "'/>\n"
                                  "      <target dev='vda' bus='virtio'/>\n"
                                  "    </disk>\n");
        }
        strbuf_append(&b, "    <serial type='pty'>\n");
        if (spec->console_log) {
                strbuf_append(&b, "      <log file='");
                strbuf_append_xml(&b, spec->console_log);
                strbuf_append(&b, "' append='off'/>\n");
        }
        strbuf_append(&b, "      <target port='0'/>\n"
                          "    </serial>\n"
                          "    <console type='pty'>\n"
                          "      <target type='serial' port='0'/>\n"
                          "    </console>\n"
                          "    <memballoon model='virtio'/>\n"
                          "    <rng model='virtio'>\n"
                          "      <backend model='random'>/dev/urandom</backend>\n"
                          "    </rng>\n"
                          "  </devices>\n"
                          "</domain>\n");

        s = strbuf_steal(&b);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

/* The text of an element that holds only text (no child elements, comments or processing
 * instructions), with surrounding whitespace removed, as a libc-allocated string. */
static int element_text(xmlNode *node, char **ret) {
        _cleanup_(xmlFreep) xmlChar *content = NULL;
        char *s;

        for (xmlNode *c = node->children; c; c = c->next)
                if (c->type != XML_TEXT_NODE && c->type != XML_CDATA_SECTION_NODE)
                        return -EBADMSG;

        content = xmlNodeGetContent(node);
        if (!content)
                return -EBADMSG;
        s = strdup(strstrip((char *) content));
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int domain_xml_parse_metadata(const char *xml, char **ret_tenant, char **ret_id) {
        _cleanup_(xmlFreeDocp) xmlDoc *doc = NULL;
        _cleanup_free_ char *tenant = NULL, *id = NULL;
        xmlNode *root;
        size_t l;
        int r;

        if (!xml || !ret_tenant || !ret_id)
                return -EINVAL;

        l = strlen(xml);
        if (l == 0 || l > METADATA_MAX)
                return -EBADMSG;

        /* No entity substitution, no DTD loading, no network, no noise on stderr; the input is
         * UTF-8 whatever its declaration says. */
        doc = xmlReadMemory(xml, (int) l, NULL, NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                            XML_PARSE_IGNORE_ENC);
        if (!doc)
                return -EBADMSG;
        /* libvirt never returns a document type declaration; one can only be an attempt at
         * entity tricks. */
        if (doc->intSubset || doc->extSubset)
                return -EBADMSG;

        root = xmlDocGetRootElement(doc);
        if (!root || !xmlStrEqual(root->name, BAD_CAST "instance"))
                return -EBADMSG;

        for (xmlNode *c = root->children; c; c = c->next) {
                char **field;

                if (c->type != XML_ELEMENT_NODE)
                        continue;
                if (xmlStrEqual(c->name, BAD_CAST "tenant"))
                        field = &tenant;
                else if (xmlStrEqual(c->name, BAD_CAST "id"))
                        field = &id;
                else
                        continue; /* "created" and whatever later versions add */

                if (*field) /* twice: which one would be meant? */
                        return -EBADMSG;
                r = element_text(c, field);
                if (r < 0)
                        return r;
        }

        if (!tenant || !id)
                return -EBADMSG;
        if (!ark_name_is_valid(tenant) || !uuid_is_valid(id))
                return -EBADMSG;
        /* Lowercase like virDomainGetUUIDString(), so callers can compare with streq(). */
        for (char *p = id; *p; p++)
                *p = (char) tolower((unsigned char) *p);

        *ret_tenant = TAKE_PTR(tenant);
        *ret_id = TAKE_PTR(id);
        return 0;
}

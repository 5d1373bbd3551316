/* The libvirt domain XML of Ark instances, and the reader of Ark's metadata element. */

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/parser.h>
#include <libxml/relaxng.h>
#include <libxml/tree.h>
#include <unistd.h>

#include "basic/macro.h"
#include "basic/parse-util.h"
#include "basic/string-util.h"
#include "domain-xml.h"

#define PCI_ADDRESS_BUF 16

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

#define DOMAIN_GPU_FUNCTIONS_MAX 8

/* "dddd:bb:ss.f" in lowercase or uppercase hex, slot below 0x20, function below 8. */
static int pci_address_split(const char *s, unsigned *ret_domain, unsigned *ret_bus, unsigned *ret_slot,
                             unsigned *ret_function) {
        unsigned d, b, sl, f;
        int n = 0;

        if (!s || strlen(s) != 12 || sscanf(s, "%4x:%2x:%2x.%1x%n", &d, &b, &sl, &f, &n) != 4 || n != 12)
                return -EINVAL;
        for (size_t i = 0; i < 12; i++)
                if (i != 4 && i != 7 && i != 10 && !isxdigit((unsigned char) s[i]))
                        return -EINVAL;
        if (s[4] != ':' || s[7] != ':' || s[10] != '.' || sl > 0x1f || f > 7)
                return -EINVAL;
        *ret_domain = d;
        *ret_bus = b;
        *ret_slot = sl;
        *ret_function = f;
        return 0;
}

/* "0-55,112-167": digits, ',' and '-' only, starting and ending with a digit. */
static bool number_list_is_valid(const char *s) {
        size_t n;

        if (!s)
                return true;
        n = strlen(s);
        if (n == 0 || n > 4096 || !isdigit((unsigned char) s[0]) || !isdigit((unsigned char) s[n - 1]))
                return false;
        for (const char *p = s; *p; p++)
                if (!isdigit((unsigned char) *p) && *p != ',' && *p != '-')
                        return false;
        return true;
}

static int gpus_validate(const DomainSpec *spec) {
        unsigned d, b, sl, f;

        if (spec->n_gpus > 0 && !spec->gpus)
                return -EINVAL;
        if (spec->n_gpus > DOMAIN_GPUS_MAX)
                return -EINVAL;
        for (size_t k = 0; k < spec->n_gpus; k++) {
                const DomainGpu *g = &spec->gpus[k];

                if (g->n_functions == 0 || g->n_functions > DOMAIN_GPU_FUNCTIONS_MAX || !g->functions)
                        return -EINVAL;
                for (size_t j = 0; j < g->n_functions; j++)
                        if (pci_address_split(g->functions[j], &d, &b, &sl, &f) < 0)
                                return -EINVAL;
        }
        if (!number_list_is_valid(spec->cpuset) || !number_list_is_valid(spec->memory_nodes))
                return -EINVAL;
        if (!optional_path_is_valid(spec->firmware_code) || !optional_path_is_valid(spec->firmware_vars) ||
            !optional_path_is_valid(spec->nvram))
                return -EINVAL;
        if (!spec->firmware_code && (spec->firmware_vars || spec->nvram))
                return -EINVAL;
        if (spec->phys_bits != 0 && (spec->phys_bits < 32 || spec->phys_bits > 52))
                return -EINVAL;
        return 0;
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
        if (spec->arch && !streq(spec->arch, "aarch64") && !streq(spec->arch, "x86_64"))
                return -EINVAL;
        if (!spec->domain_type ||
            !(streq(spec->domain_type, "kvm") || streq(spec->domain_type, "qemu") ||
              streq(spec->domain_type, "test")))
                return -EINVAL;
        if (spec->vcpus == 0 || spec->memory_bytes / 1024 == 0)
                return -EINVAL;
        /* Relative paths would be resolved by libvirtd, against its own working directory. */
        if (!optional_path_is_valid(spec->disk_path) || !optional_path_is_valid(spec->kernel) ||
            !optional_path_is_valid(spec->initrd) || !optional_path_is_valid(spec->console_log) ||
            !optional_path_is_valid(spec->model_dir))
                return -EINVAL;
        if (spec->cmdline && !text_is_valid(spec->cmdline))
                return -EINVAL;
        /* An initrd or a command line without a kernel would be silently meaningless. */
        if (!spec->kernel && (spec->initrd || spec->cmdline))
                return -EINVAL;
        for (size_t k = 0; k < spec->n_nics; k++)
                if (isempty(spec->nics[k].bridge) || isempty(spec->nics[k].mac) ||
                    isempty(spec->nics[k].ifname))
                        return -EINVAL;
        return gpus_validate(spec);
}

static void append_nic(StrBuf *b, const DomainNic *n, const char *indent) {
        strbuf_printf(b, "%s<interface type='bridge'>\n%s  <mac address='", indent, indent);
        strbuf_append_xml(b, n->mac);
        strbuf_printf(b, "'/>\n%s  <source bridge='", indent);
        strbuf_append_xml(b, n->bridge);
        strbuf_printf(b, "'/>\n%s  <target dev='", indent);
        strbuf_append_xml(b, n->ifname);
        strbuf_printf(b, "'/>\n%s  <model type='virtio'/>\n", indent);
        if (n->mtu > 0)
                strbuf_printf(b, "%s  <mtu size='%u'/>\n", indent, n->mtu);
        strbuf_printf(b, "%s</interface>\n", indent);
}

int domain_xml_nic(const DomainNic *n, char **ret) {
        StrBuf b = {};

        if (isempty(n->bridge) || isempty(n->mac) || isempty(n->ifname))
                return -EINVAL;
        append_nic(&b, n, "");
        *ret = strbuf_steal(&b);
        return *ret ? 0 : -ENOMEM;
}

/* The hostdevs of one GPU: every function in guest slot 0 behind root port `port`, function 0
 * marked multifunction when there are siblings. */
static void append_gpu(StrBuf *b, const DomainGpu *g, unsigned port) {
        for (size_t j = 0; j < g->n_functions; j++) {
                unsigned d, bus, sl, f;

                (void) pci_address_split(g->functions[j], &d, &bus, &sl, &f); /* validated */
                strbuf_printf(
                        b,
                        "    <hostdev mode='subsystem' type='pci' managed='yes'>\n"
                        "      <source>\n"
                        "        <address domain='0x%04x' bus='0x%02x' slot='0x%02x' function='0x%x'/>\n"
                        "      </source>\n"
                        "      <address type='pci' domain='0x0000' bus='0x%02x' slot='0x00' function='0x%zx'%s/>\n"
                        "    </hostdev>\n",
                        d, bus, sl, f, port, j, j == 0 && g->n_functions > 1 ? " multifunction='on'" : "");
        }
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
        bool kvm, arm;
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
        arm = spec->arch && streq(spec->arch, "aarch64");

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
        if (spec->hugepages)
                strbuf_append(&b,
                              "  <memoryBacking>\n"
                              "    <hugepages/>\n"
                              "  </memoryBacking>\n");
        if (spec->cpuset)
                strbuf_printf(&b, "  <vcpu placement='static' cpuset='%s'>%u</vcpu>\n", spec->cpuset,
                              spec->vcpus);
        else
                strbuf_printf(&b, "  <vcpu placement='static'>%u</vcpu>\n", spec->vcpus);
        if (spec->memory_nodes)
                strbuf_printf(&b,
                              "  <numatune>\n"
                              "    <memory mode='strict' nodeset='%s'/>\n"
                              "  </numatune>\n",
                              spec->memory_nodes);
        /* Debian 12's OVMF maps 32 GiB of 64-bit BARs unless told more through fw_cfg; one H100
         * alone has a 128 GiB BAR. */
        if (spec->firmware_code && spec->mmio64_bytes > 0 && !arm)
                strbuf_printf(&b,
                              "  <sysinfo type='fwcfg'>\n"
                              "    <entry name='opt/ovmf/X-PciMmio64Mb'>%" PRIu64 "</entry>\n"
                              "  </sysinfo>\n",
                              (spec->mmio64_bytes + (UINT64_C(1) << 20) - 1) >> 20);

        strbuf_append(&b, "  <os>\n");
        strbuf_append(&b,
                      arm ? "    <type arch='aarch64' machine='virt'>hvm</type>\n"
                          : "    <type arch='x86_64' machine='q35'>hvm</type>\n");
        if (spec->kernel) {
                append_element(&b, "    ", "kernel", spec->kernel);
                if (spec->initrd)
                        append_element(&b, "    ", "initrd", spec->initrd);
                if (spec->cmdline)
                        append_element(&b, "    ", "cmdline", spec->cmdline);
        } else
                strbuf_append(&b, "    <boot dev='hd'/>\n");
        if (spec->firmware_code) {
                strbuf_append(&b, "    <loader readonly='yes' type='pflash'>");
                strbuf_append_xml(&b, spec->firmware_code);
                strbuf_append(&b, "</loader>\n");
                if (spec->nvram) {
                        strbuf_append(&b, "    <nvram");
                        if (spec->firmware_vars) {
                                strbuf_append(&b, " template='");
                                strbuf_append_xml(&b, spec->firmware_vars);
                                strbuf_append(&b, "'");
                        }
                        strbuf_append(&b, ">");
                        strbuf_append_xml(&b, spec->nvram);
                        strbuf_append(&b, "</nvram>\n");
                }
        }
        strbuf_append(&b, "  </os>\n");

        strbuf_append(&b,
                      arm ? "  <features>\n"
                            "    <acpi/>\n"
                            "    <gic version='3'/>\n"
                            "  </features>\n"
                          : "  <features>\n"
                            "    <acpi/>\n"
                            "    <apic/>\n"
                            "  </features>\n");
        /* TCG cannot pass the host CPU through, and the test driver has no host CPU: leave the
         * CPU model to libvirt's default there. */
        /* A GPU VM's guest needs physical address bits for its 64-bit window above its RAM: the
         * host's under KVM, enough emulated ones elsewhere. */
        /* maxphysaddr is x86's; an arm64 guest takes the host's address size. */
        if (kvm && spec->n_gpus > 0 && !arm)
                strbuf_append(&b,
                              "  <cpu mode='host-passthrough' check='none' migratable='on'>\n"
                              "    <maxphysaddr mode='passthrough'/>\n"
                              "  </cpu>\n");
        else if (kvm)
                strbuf_append(&b, "  <cpu mode='host-passthrough' check='none' migratable='on'/>\n");
        else if (arm)
                /* QEMU's default CPU for 'virt' is a 32-bit Cortex-A15: emulate the most it can. */
                strbuf_append(&b, "  <cpu mode='maximum' check='none'/>\n");
        else if (spec->phys_bits > 0)
                strbuf_printf(&b,
                              "  <cpu>\n"
                              "    <maxphysaddr mode='emulate' bits='%u'/>\n"
                              "  </cpu>\n",
                              spec->phys_bits);
        strbuf_append(&b,
                      "  <clock offset='utc'/>\n"
                      "  <on_poweroff>destroy</on_poweroff>\n"
                      "  <on_reboot>restart</on_reboot>\n"
                      "  <on_crash>destroy</on_crash>\n");

        /* No <emulator>: libvirt picks the right binary for the domain type and architecture. */
        strbuf_append(&b, "  <devices>\n");
        /* QEMU's arm64 'virt' machine has a fixed high MMIO window of its own (512 GiB). */
        if (spec->mmio64_bytes > 0 && !arm)
                strbuf_printf(&b,
                              "    <controller type='pci' index='0' model='pcie-root'>\n"
                              "      <pcihole64 unit='KiB'>%" PRIu64 "</pcihole64>\n"
                              "    </controller>\n",
                              (spec->mmio64_bytes + 1023) / 1024);
        for (size_t k = 0; k < spec->n_gpus; k++)
                strbuf_printf(&b, "    <controller type='pci' index='%zu' model='pcie-root-port'/>\n",
                              k + 1);
        for (size_t k = 0; k < spec->n_gpus; k++)
                append_gpu(&b, &spec->gpus[k], (unsigned) (k + 1));
        if (spec->disk_path) {
                strbuf_append(&b,
                              "    <disk type='file' device='disk'>\n"
                              "      <driver name='qemu' type='qcow2'/>\n"
                              "      <source file='");
                strbuf_append_xml(&b, spec->disk_path);
                strbuf_append(&b,
                              "'/>\n"
                              "      <target dev='vda' bus='virtio'/>\n"
                              "    </disk>\n");
        }
        /* The model it serves: read-only, so a tenant's VM cannot change what was verified. */
        if (spec->model_dir) {
                strbuf_append(&b,
                              "    <filesystem type='mount' accessmode='squash'>\n"
                              "      <source dir='");
                strbuf_append_xml(&b, spec->model_dir);
                strbuf_append(&b,
                              "'/>\n"
                              "      <target dir='ark-model'/>\n"
                              "      <readonly/>\n"
                              "    </filesystem>\n");
        }
        for (size_t k = 0; k < spec->n_nics; k++)
                append_nic(&b, &spec->nics[k], "    ");
        strbuf_append(&b, "    <serial type='pty'>\n");
        if (spec->console_log) {
                strbuf_append(&b, "      <log file='");
                strbuf_append_xml(&b, spec->console_log);
                strbuf_append(&b, "' append='off'/>\n");
        }
        strbuf_append(&b,
                      "      <target port='0'/>\n"
                      "    </serial>\n"
                      "    <console type='pty'>\n"
                      "      <target type='serial' port='0'/>\n"
                      "    </console>\n");
        /* A VM with passthrough devices has all its memory pinned for DMA: a balloon could not
         * take any back. */
        strbuf_printf(&b, "    <memballoon model='%s'/>\n", spec->n_gpus > 0 ? "none" : "virtio");
        strbuf_append(&b,
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

/* An address attribute: "0x1f" or "31", at most max. */
static int hex_attribute(xmlNode *n, const char *name, unsigned long max, unsigned long *ret) {
        _cleanup_(xmlFreep) xmlChar *v = xmlGetProp(n, BAD_CAST name);
        unsigned long x;
        char *end;

        if (!v || !*v)
                return -EBADMSG;
        errno = 0;
        x = strtoul((const char *) v, &end, 0);
        if (errno != 0 || *end || x > max || ((const char *) v)[0] == '-')
                return -EBADMSG;
        *ret = x;
        return 0;
}

#define HOSTDEVS_XML_MAX (16U << 20)

int domain_xml_parse_hostdevs(const char *xml, char ***ret) {
        _cleanup_(xmlFreeDocp) xmlDoc *doc = NULL;
        _cleanup_strv_free_ char **l = NULL;
        xmlNode *root, *devices = NULL;
        size_t len;

        if (!xml || !ret)
                return -EINVAL;
        len = strlen(xml);
        if (len == 0 || len > HOSTDEVS_XML_MAX)
                return -EBADMSG;
        doc = xmlReadMemory(xml, (int) len, NULL, NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                                    XML_PARSE_IGNORE_ENC);
        if (!doc || doc->intSubset || doc->extSubset)
                return -EBADMSG;
        root = xmlDocGetRootElement(doc);
        if (!root || !xmlStrEqual(root->name, BAD_CAST "domain"))
                return -EBADMSG;
        for (xmlNode *c = root->children; c; c = c->next)
                if (c->type == XML_ELEMENT_NODE && xmlStrEqual(c->name, BAD_CAST "devices")) {
                        if (devices) /* two <devices>: libvirt never writes that */
                                return -EBADMSG;
                        devices = c;
                }

        for (xmlNode *h = devices ? devices->children : NULL; h; h = h->next) {
                _cleanup_(xmlFreep) xmlChar *mode = NULL, *type = NULL;
                xmlNode *source = NULL, *address = NULL;
                unsigned long dom, bus, slot, fn;
                char buf[PCI_ADDRESS_BUF];

                if (h->type != XML_ELEMENT_NODE || !xmlStrEqual(h->name, BAD_CAST "hostdev"))
                        continue;
                mode = xmlGetProp(h, BAD_CAST "mode");
                type = xmlGetProp(h, BAD_CAST "type");
                if (!type || !xmlStrEqual(type, BAD_CAST "pci") ||
                    (mode && !xmlStrEqual(mode, BAD_CAST "subsystem")))
                        continue;
                for (xmlNode *c = h->children; c; c = c->next)
                        if (c->type == XML_ELEMENT_NODE && xmlStrEqual(c->name, BAD_CAST "source"))
                                source = c;
                for (xmlNode *c = source ? source->children : NULL; c; c = c->next)
                        if (c->type == XML_ELEMENT_NODE && xmlStrEqual(c->name, BAD_CAST "address"))
                                address = c;
                if (!address)
                        return -EBADMSG; /* a PCI hostdev without a source address is not one libvirt wrote */
                if (hex_attribute(address, "domain", 0xffff, &dom) < 0 ||
                    hex_attribute(address, "bus", 0xff, &bus) < 0 ||
                    hex_attribute(address, "slot", 0x1f, &slot) < 0 ||
                    hex_attribute(address, "function", 7, &fn) < 0)
                        return -EBADMSG;
                snprintf(buf, sizeof(buf), "%04lx:%02lx:%02lx.%lx", dom, bus, slot, fn);
                if (!strv_contains(l, buf) && strv_extend(&l, buf) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

/* ---------------------------------------------------------------------------------- schema */

struct DomainSchema {
        xmlRelaxNGPtr grammar;
};

static void schema_error_ignore(void *userdata, xmlErrorPtr e) {
}

/* Keeps the first complaint, "line N: message", in the buffer userdata points to. */
typedef struct SchemaComplaint {
        char *buf;
        size_t size;
} SchemaComplaint;

static void schema_error_keep(void *userdata, xmlErrorPtr e) {
        SchemaComplaint *c = userdata;
        size_t n;

        if (!e || c->size == 0 || c->buf[0])
                return;
        snprintf(c->buf, c->size, "line %d: %s", e->line, e->message ? e->message : "invalid");
        n = strlen(c->buf);
        while (n > 0 && (c->buf[n - 1] == '\n' || c->buf[n - 1] == ' '))
                c->buf[--n] = 0;
}

int domain_schema_load(const char *path, DomainSchema **ret) {
        xmlRelaxNGParserCtxtPtr pc;
        DomainSchema *s;

        if (access(path, R_OK) < 0)
                return -errno;
        pc = xmlRelaxNGNewParserCtxt(path);
        if (!pc)
                return -ENOMEM;
        s = calloc(1, sizeof(DomainSchema));
        if (!s) {
                xmlRelaxNGFreeParserCtxt(pc);
                return -ENOMEM;
        }
        xmlRelaxNGSetParserStructuredErrors(pc, schema_error_ignore, NULL);
        s->grammar = xmlRelaxNGParse(pc);
        xmlRelaxNGFreeParserCtxt(pc);
        if (!s->grammar) {
                free(s);
                return -EBADMSG;
        }
        *ret = s;
        return 0;
}

DomainSchema *domain_schema_free(DomainSchema *s) {
        if (s) {
                xmlRelaxNGFree(s->grammar);
                free(s);
        }
        return NULL;
}

int domain_schema_validate(DomainSchema *s, const char *xml, char *reason, size_t reason_size) {
        _cleanup_(xmlFreeDocp) xmlDoc *doc = NULL;
        SchemaComplaint c = { reason, reason_size };
        xmlRelaxNGValidCtxtPtr vc;
        int r;

        if (reason_size > 0)
                reason[0] = 0;
        doc = xmlReadMemory(xml, (int) strlen(xml), "domain.xml", NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        if (!doc) {
                if (reason_size > 0)
                        snprintf(reason, reason_size, "not well-formed XML");
                return -EBADMSG;
        }
        vc = xmlRelaxNGNewValidCtxt(s->grammar);
        if (!vc)
                return -ENOMEM;
        xmlRelaxNGSetValidStructuredErrors(vc, schema_error_keep, &c);
        r = xmlRelaxNGValidateDoc(vc, doc);
        xmlRelaxNGFreeValidCtxt(vc);
        if (r == 0)
                return 0;
        if (reason_size > 0 && !reason[0])
                snprintf(reason, reason_size, "does not match the schema");
        return r < 0 ? -EIO : -EBADMSG;
}

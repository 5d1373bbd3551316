/* The management network's .network file (netconf.h). */

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "netconf.h"
#include "string-util.h"

static bool parse_ipv4(const char *s, struct in_addr *ret) {
        return s && inet_pton(AF_INET, s, ret) == 1;
}

/* "a.b.c.d/p" into address and prefix. */
static bool parse_cidr(const char *s, struct in_addr *ret, unsigned *ret_prefix) {
        char a[64];
        const char *slash = strchr(s, '/');
        char *end;
        unsigned long p;

        if (!slash || (size_t) (slash - s) >= sizeof(a))
                return false;
        memcpy(a, s, (size_t) (slash - s));
        a[slash - s] = 0;
        p = strtoul(slash + 1, &end, 10);
        if (*end || slash[1] == 0 || p < 1 || p > 32)
                return false;
        *ret_prefix = (unsigned) p;
        return parse_ipv4(a, ret);
}

static bool words_are(const char *s, bool addresses_only) {
        char buf[256];
        char *save = NULL;

        snprintf(buf, sizeof(buf), "%s", s);
        for (char *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
                struct in_addr a;

                if (addresses_only ? !parse_ipv4(w, &a)
                                   : (strlen(w) > 253 || strpbrk(w, "\"'\\;=[]") != NULL))
                        return false;
        }
        return true;
}

#define N_(s) (s) /* translated where shown */

const char *hostname_invalid_reason(const char *s) {
        size_t n = s ? strlen(s) : 0, label = 0;

        if (n == 0)
                return N_("it is empty");
        if (n > 253)
                return N_("it is longer than 253 characters");
        for (size_t k = 0; k <= n; k++) {
                char c = s[k];

                if (c == '.' || c == 0) {
                        if (label == 0)
                                return N_("it has an empty label");
                        if (s[k - 1] == '-')
                                return N_("a label ends with '-'");
                        label = 0;
                        continue;
                }
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-'))
                        return N_("it may only hold letters, digits, '-' and '.'");
                if (label == 0 && c == '-')
                        return N_("a label starts with '-'");
                if (++label > 63)
                        return N_("a label is longer than 63 characters");
        }
        return NULL;
}

const char *netconf_validate(const NetConf *c, char *buf, size_t l) {
        struct in_addr a, g;
        unsigned prefix = 0;

        if (isempty(c->iface) || strpbrk(c->iface, "/ \n"))
                return "the interface name is not valid";
        if (!words_are(c->dns, true))
                return snprintf(buf, l, "DNS '%s' must be IPv4 addresses separated by spaces", c->dns), buf;
        if (!words_are(c->ntp, false))
                return snprintf(buf, l, "NTP '%s' must be names or addresses separated by spaces", c->ntp),
                       buf;
        if (c->dhcp)
                return NULL;
        if (!parse_cidr(c->address, &a, &prefix))
                return snprintf(buf, l, "the address '%s' is not a.b.c.d/prefix (192.0.2.10/24)",
                                c->address),
                       buf;
        if (!isempty(c->gateway)) {
                uint32_t mask = prefix == 32 ? 0xffffffffu : ~(0xffffffffu >> prefix);

                if (!parse_ipv4(c->gateway, &g))
                        return snprintf(buf, l, "the gateway '%s' is not an IPv4 address", c->gateway), buf;
                if ((ntohl(g.s_addr) & mask) != (ntohl(a.s_addr) & mask))
                        return snprintf(buf, l, "the gateway %s is not in %s's subnet", c->gateway,
                                        c->address),
                               buf;
        }
        return NULL;
}

char *netconf_format(const NetConf *c) {
        StrBuf b = {};
        char buf[256];
        char *save = NULL;

        strbuf_printf(&b,
                      "# Written by arktui (the Ark console): the management network.\n"
                      "[Match]\nName=%s\n\n[Network]\n",
                      c->iface);
        if (c->dhcp)
                strbuf_append(&b, "DHCP=ipv4\n");
        else {
                strbuf_printf(&b, "Address=%s\n", c->address);
                if (!isempty(c->gateway))
                        strbuf_printf(&b, "Gateway=%s\n", c->gateway);
        }
        snprintf(buf, sizeof(buf), "%s", c->dns);
        for (char *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save))
                strbuf_printf(&b, "DNS=%s\n", w);
        snprintf(buf, sizeof(buf), "%s", c->ntp);
        save = NULL;
        for (char *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save))
                strbuf_printf(&b, "NTP=%s\n", w);
        return strbuf_steal(&b);
}

static void append_word(char *dst, size_t l, const char *w) {
        size_t n = strlen(dst);

        snprintf(dst + n, l - n, "%s%s", n ? " " : "", w);
}

int netconf_parse(const char *text, NetConf *ret) {
        _cleanup_free_ char *copy = strdup(strempty(text));
        NetConf c = {};
        char *save = NULL, section[32] = "";
        bool network = false;

        if (!copy)
                return -ENOMEM;
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *eq;

                line = strstrip(line);
                if (!*line || *line == '#' || *line == ';')
                        continue;
                if (*line == '[') {
                        snprintf(section, sizeof(section), "%s", line);
                        network = network || streq(section, "[Network]");
                        continue;
                }
                eq = strchr(line, '=');
                if (!eq)
                        return -EINVAL;
                *eq = 0;
                if (streq(section, "[Match]") && streq(line, "Name"))
                        snprintf(c.iface, sizeof(c.iface), "%s", eq + 1);
                else if (streq(section, "[Network]") && streq(line, "DHCP"))
                        c.dhcp = streq(eq + 1, "yes") || streq(eq + 1, "ipv4") || streq(eq + 1, "true");
                else if (streq(section, "[Network]") && streq(line, "Address"))
                        snprintf(c.address, sizeof(c.address), "%s", eq + 1);
                else if (streq(section, "[Network]") && streq(line, "Gateway"))
                        snprintf(c.gateway, sizeof(c.gateway), "%s", eq + 1);
                else if (streq(section, "[Network]") && streq(line, "DNS"))
                        append_word(c.dns, sizeof(c.dns), eq + 1);
                else if (streq(section, "[Network]") && streq(line, "NTP"))
                        append_word(c.ntp, sizeof(c.ntp), eq + 1);
        }
        if (!network || isempty(c.iface))
                return -EINVAL;
        *ret = c;
        return 0;
}

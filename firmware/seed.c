/* seed.conf (seed.h). */

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seed.h"
#include "basic/macro.h"
#include "basic/string-util.h"

static const char *const key_types[] = {
        "ssh-ed25519",
        "ssh-rsa",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
};

const char *ssh_key_invalid_reason(const char *line) {
        const char *sp = strchr(line, ' '), *body, *end;
        bool known = false;

        if (!sp)
                return "it is not 'TYPE BASE64 [COMMENT]'";
        for (size_t k = 0; k < ELEMENTSOF(key_types); k++)
                known = known ||
                        (strlen(key_types[k]) == (size_t) (sp - line) &&
                         strncmp(line, key_types[k], sp - line) == 0);
        if (!known)
                return "its type is not one OpenSSH takes (ssh-ed25519, ssh-rsa, ecdsa-sha2-*, sk-*)";
        body = sp + 1;
        end = body + strcspn(body, " ");
        if (end - body < 16)
                return "its key is too short";
        for (const char *p = body; p < end; p++)
                if (!(('A' <= *p && *p <= 'Z') || ('a' <= *p && *p <= 'z') || ('0' <= *p && *p <= '9') ||
                      *p == '+' || *p == '/' || *p == '='))
                        return "its key is not base64";
        for (const char *p = end; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        return "its comment holds a control character";
        return NULL;
}

static bool address_list_ok(const char *s, bool names) {
        for (const char *p = s; *p; p++)
                if (!(('0' <= *p && *p <= '9') || *p == '.' || *p == ' ' || *p == ':' ||
                      (names && (('a' <= *p && *p <= 'z') || ('A' <= *p && *p <= 'Z') || *p == '-'))))
                        return false;
        return true;
}

static bool relative_path_ok(const char *s) {
        if (isempty(s) || s[0] == '/' || strlen(s) > 255)
                return false;
        for (const char *p = s; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == '\\')
                        return false;
        for (const char *p = s; p; p = strchr(p, '/'), p = p ? p + 1 : NULL)
                if (startswith(p, "../") || streq(p, "..") || startswith(p, "./") || streq(p, "."))
                        return false;
        return true;
}

static bool locale_ok(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n >= 64)
                return false;
        for (const char *p = s; *p; p++)
                if (!(('a' <= *p && *p <= 'z') || ('A' <= *p && *p <= 'Z') || ('0' <= *p && *p <= '9') ||
                      *p == '_' || *p == '.' || *p == '-' || *p == '@'))
                        return false;
        return true;
}

void seed_done(Seed *s) {
        for (size_t k = 0; k < s->n_admin_keys; k++)
                free(s->admin_keys[k]);
        for (size_t k = 0; k < s->n_trust_keys; k++)
                free(s->trust_keys[k]);
        *s = (Seed) {};
}

static int line_error(char **ret_error, unsigned line, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static int line_error(char **ret_error, unsigned line, const char *fmt, ...) {
        if (ret_error) {
                char buf[512];
                va_list ap;

                va_start(ap, fmt);
                vsnprintf(buf, sizeof(buf), fmt, ap);
                va_end(ap);
                *ret_error = strprintf("seed.conf line %u: %s", line, buf);
                if (!*ret_error)
                        return -ENOMEM;
        }
        return -EINVAL;
}

int seed_parse(const char *text, size_t n, Seed *ret, char **ret_error) {
        Seed s = {};
        bool dhcp = false, stat = false;
        unsigned line = 0;
        size_t pos = 0;
        int r = 0;

        if (ret_error)
                *ret_error = NULL;
        if (n > SEED_MAX_SIZE) {
                if (ret_error)
                        *ret_error =
                                strprintf("seed.conf is %zu bytes; at most %d are read", n, SEED_MAX_SIZE);
                return -EINVAL;
        }
        if (memchr(text, 0, n)) {
                if (ret_error)
                        *ret_error = strdup("seed.conf holds a NUL byte: it is not a text file");
                return -EINVAL;
        }
        while (pos < n && r >= 0) {
                const char *start = text + pos, *nl = memchr(start, '\n', n - pos);
                size_t len = nl ? (size_t) (nl - start) : n - pos;
                char buf[4096], *key, *value, *eq;

                pos += len + (nl ? 1 : 0);
                line++;
                if (len > 0 && start[len - 1] == '\r')
                        len--;
                if (len >= sizeof(buf)) {
                        r = line_error(ret_error, line, "longer than 4095 bytes");
                        break;
                }
                memcpy(buf, start, len);
                buf[len] = 0;
                key = strstrip(buf);
                if (*key == 0 || *key == '#' || *key == ';')
                        continue;
                if (!utf8_is_valid(key)) {
                        r = line_error(ret_error, line, "not valid UTF-8");
                        break;
                }
                eq = strchr(key, '=');
                if (!eq) {
                        r = line_error(ret_error, line, "'%s' is not KEY=VALUE", key);
                        break;
                }
                *eq = 0;
                value = strstrip(eq + 1);
                key = strstrip(key);
                if (streq(key, "Hostname")) {
                        const char *why = hostname_invalid_reason(value);

                        if (why)
                                r = line_error(ret_error, line, "Hostname: %s", why);
                        else
                                snprintf(s.hostname, sizeof(s.hostname), "%s", value);
                } else if (streq(key, "Interface")) {
                        if (strlen(value) >= sizeof(s.net.iface) || isempty(value) ||
                            strpbrk(value, "/ *?["))
                                r = line_error(ret_error, line,
                                               "Interface: '%s' is not a network interface name", value);
                        else
                                snprintf(s.net.iface, sizeof(s.net.iface), "%s", value);
                } else if (streq(key, "DHCP")) {
                        if (!streq(value, "yes"))
                                r = line_error(ret_error, line,
                                               "DHCP: '%s' is not yes (leave Address= out for DHCP)", value);
                        dhcp = true;
                } else if (streq(key, "Address")) {
                        if (strlen(value) >= sizeof(s.net.address) ||
                            strspn(value, "0123456789./") != strlen(value) || !strchr(value, '/'))
                                r = line_error(
                                        ret_error, line,
                                        "Address: '%s' is not an IPv4 address with a prefix (a.b.c.d/n)",
                                        value);
                        else
                                snprintf(s.net.address, sizeof(s.net.address), "%s", value);
                        stat = true;
                } else if (streq(key, "Gateway")) {
                        if (strlen(value) >= sizeof(s.net.gateway) || !address_list_ok(value, false))
                                r = line_error(ret_error, line, "Gateway: '%s' is not an address", value);
                        else
                                snprintf(s.net.gateway, sizeof(s.net.gateway), "%s", value);
                } else if (streq(key, "DNS")) {
                        if (strlen(value) >= sizeof(s.net.dns) || !address_list_ok(value, false))
                                r = line_error(ret_error, line, "DNS: '%s' is not a list of addresses",
                                               value);
                        else
                                snprintf(s.net.dns, sizeof(s.net.dns), "%s", value);
                } else if (streq(key, "NTP")) {
                        if (strlen(value) >= sizeof(s.net.ntp) || !address_list_ok(value, true))
                                r = line_error(ret_error, line,
                                               "NTP: '%s' is not a list of names or addresses", value);
                        else
                                snprintf(s.net.ntp, sizeof(s.net.ntp), "%s", value);
                } else if (streq(key, "Locale")) {
                        if (!locale_ok(value))
                                r = line_error(ret_error, line,
                                               "Locale: '%s' is not a locale name (such as zh_CN.UTF-8)",
                                               value);
                        else
                                snprintf(s.locale, sizeof(s.locale), "%s", value);
                } else if (streq(key, "AdminKey")) {
                        const char *why = ssh_key_invalid_reason(value);

                        if (why)
                                r = line_error(ret_error, line, "AdminKey: %s", why);
                        else if (s.n_admin_keys >= SEED_MAX_KEYS)
                                r = line_error(ret_error, line, "AdminKey: more than %d keys",
                                               SEED_MAX_KEYS);
                        else if (!(s.admin_keys[s.n_admin_keys++] = strdup(value)))
                                r = -ENOMEM;
                } else if (streq(key, "TrustKey")) {
                        if (!relative_path_ok(value))
                                r = line_error(
                                        ret_error, line,
                                        "TrustKey: '%s' is not a path inside the seed partition (relative, no ..)",
                                        value);
                        else if (s.n_trust_keys >= SEED_MAX_KEYS)
                                r = line_error(ret_error, line, "TrustKey: more than %d keys",
                                               SEED_MAX_KEYS);
                        else if (!(s.trust_keys[s.n_trust_keys++] = strdup(value)))
                                r = -ENOMEM;
                } else
                        r = line_error(
                                ret_error, line,
                                "'%s' is not a seed setting (Hostname, Interface, DHCP, Address, Gateway, DNS, NTP, "
                                "Locale, AdminKey, TrustKey)",
                                key);
        }
        if (r >= 0 && dhcp && stat)
                r = line_error(ret_error, line, "both DHCP=yes and Address= are set");
        if (r >= 0 && !stat && (s.net.gateway[0] || s.net.dns[0]))
                r = line_error(ret_error, line, "Gateway= or DNS= without Address= (DHCP brings its own)");
        if (r >= 0 && (dhcp || stat)) {
                char why[256];
                NetConf probe = s.net;

                s.has_net = 1;
                s.net.dhcp = dhcp;
                probe.dhcp = dhcp;
                if (isempty(probe.iface))
                        snprintf(probe.iface, sizeof(probe.iface),
                                 "eth0"); /* the real one is found at apply time */
                if (netconf_validate(&probe, why, sizeof(why)))
                        r = line_error(ret_error, line, "the network: %s", why);
        }
        if (r < 0) {
                seed_done(&s);
                return r;
        }
        *ret = s;
        return 0;
}

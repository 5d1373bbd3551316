/* Addresses and prefixes of tenant networks (netaddr.h). */

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/netaddr.h"

/* Prefix arithmetic works on addresses as unsigned 128-bit numbers (an IPv4 address in the low 32
 * bits), which keeps stepping through a pool to additions and masks. */
typedef unsigned __int128 u128;

static unsigned family_bits(int family) {
        return family == AF_INET ? 32 : family == AF_INET6 ? 128 : 0;
}

static size_t family_bytes(int family) {
        return family_bits(family) / 8;
}

static u128 addr_to_u128(const NetAddr *a) {
        u128 v = 0;

        for (size_t k = 0; k < family_bytes(a->family); k++)
                v = (v << 8) | a->bytes[k];
        return v;
}

static void addr_from_u128(int family, u128 v, NetAddr *ret) {
        size_t n = family_bytes(family);

        *ret = (NetAddr) { .family = family };
        for (size_t k = n; k > 0; k--) {
                ret->bytes[k - 1] = (uint8_t) v;
                v >>= 8;
        }
}

/* The host part of a prefix of length len on a family of `bits`: its low (bits - len) bits set. A
 * shift by 128 would be undefined, hence the special case. */
static u128 host_mask(unsigned bits, unsigned len) {
        unsigned h = bits - len;

        return h >= 128 ? ~(u128) 0 : ((u128) 1 << h) - 1;
}

static void set_reason(char *reason, size_t reason_size, const char *format, ...)
        __attribute__((format(printf, 3, 4)));
static void set_reason(char *reason, size_t reason_size, const char *format, ...) {
        va_list ap;

        if (!reason || reason_size == 0)
                return;
        va_start(ap, format);
        vsnprintf(reason, reason_size, format, ap);
        va_end(ap);
}

int net_addr_parse(const char *s, NetAddr *ret) {
        NetAddr a = {};

        if (!s)
                return -EINVAL;
        /* inet_pton() takes only the strict forms: four decimal parts without leading zeros for
         * IPv4, no zone index or brackets for IPv6, nothing before or after. */
        a.family = strchr(s, ':') ? AF_INET6 : AF_INET;
        if (inet_pton(a.family, s, a.bytes) != 1)
                return -EINVAL;
        *ret = a;
        return 0;
}

const char *net_addr_to_string(const NetAddr *a, char buf[static NET_ADDR_STRLEN]) {
        if (!a || (a->family != AF_INET && a->family != AF_INET6) ||
            !inet_ntop(a->family, a->bytes, buf, NET_ADDR_STRLEN))
                buf[0] = 0;
        return buf;
}

bool net_addr_equal(const NetAddr *a, const NetAddr *b) {
        return a->family == b->family && memcmp(a->bytes, b->bytes, family_bytes(a->family)) == 0;
}

int net_prefix_parse(const char *s, NetPrefix *ret, char *reason, size_t reason_size) {
        char addr[NET_ADDR_STRLEN], canonical[NET_PREFIX_STRLEN];
        const char *slash, *l;
        unsigned len = 0, bits;
        NetPrefix p = {};
        u128 v;

        slash = s ? strchr(s, '/') : NULL;
        if (!slash) {
                set_reason(reason, reason_size,
                           "not a prefix: expected ADDRESS/LENGTH, such as 10.20.0.0/24 or fd00:1::/64");
                return -EINVAL;
        }
        if ((size_t) (slash - s) >= sizeof(addr)) {
                set_reason(reason, reason_size, "not a prefix: the address is too long");
                return -EINVAL;
        }
        memcpy(addr, s, (size_t) (slash - s));
        addr[slash - s] = 0;
        if (net_addr_parse(addr, &p.addr) < 0) {
                set_reason(reason, reason_size,
                           "not a prefix: the part before '/' is not an IPv4 or IPv6 address");
                return -EINVAL;
        }
        bits = family_bits(p.addr.family);

        /* The length: decimal digits only, no sign, no leading zero, at most three of them. */
        l = slash + 1;
        if (l[0] == 0 || (l[0] == '0' && l[1] != 0) || strspn(l, "0123456789") != strlen(l) ||
            strlen(l) > 3) {
                set_reason(reason, reason_size,
                           "not a prefix: the length after '/' must be a number from 0 to %u", bits);
                return -EINVAL;
        }
        for (; *l; l++)
                len = len * 10 + (unsigned) (*l - '0');
        if (len > bits) {
                set_reason(reason, reason_size,
                           "not a prefix: the length after '/' must be a number from 0 to %u", bits);
                return -EINVAL;
        }
        p.len = len;

        v = addr_to_u128(&p.addr);
        if (v & host_mask(bits, len)) {
                char given[NET_ADDR_STRLEN];

                net_addr_to_string(&p.addr, given);
                addr_from_u128(p.addr.family, v & ~host_mask(bits, len), &p.addr);
                set_reason(reason, reason_size, "%s/%u has host bits set; the network is %s", given, len,
                           net_prefix_to_string(&p, canonical));
                return -EINVAL;
        }
        *ret = p;
        return 0;
}

const char *net_prefix_to_string(const NetPrefix *p, char buf[static NET_PREFIX_STRLEN]) {
        char a[NET_ADDR_STRLEN];

        if (!p || !family_bits(p->addr.family)) {
                buf[0] = 0;
                return buf;
        }
        snprintf(buf, NET_PREFIX_STRLEN, "%s/%u", net_addr_to_string(&p->addr, a), p->len);
        return buf;
}

/* Whether a and b agree on their first len bits (both of p's family). */
static bool same_network(const NetAddr *a, const NetAddr *b, unsigned len) {
        unsigned bits = family_bits(a->family);
        u128 net = ~host_mask(bits, len);

        return (addr_to_u128(a) & net) == (addr_to_u128(b) & net);
}

bool net_prefix_overlaps(const NetPrefix *a, const NetPrefix *b) {
        unsigned bits = family_bits(a->addr.family);

        if (!bits || a->addr.family != b->addr.family || a->len > bits || b->len > bits)
                return false;
        return same_network(&a->addr, &b->addr, a->len < b->len ? a->len : b->len);
}

bool net_prefix_contains(const NetPrefix *p, const NetAddr *a) {
        unsigned bits = family_bits(p->addr.family);

        if (!bits || p->addr.family != a->family)
                return false;
        return p->len <= bits && same_network(&p->addr, a, p->len);
}

uint64_t net_prefix_hosts(const NetPrefix *p) {
        unsigned bits = family_bits(p->addr.family), h;

        if (!bits || p->len > bits)
                return 0;
        h = bits - p->len;
        if (p->addr.family == AF_INET)
                /* Without the network and the broadcast address: none on a /31 or /32. */
                return h < 2 ? 0 : ((uint64_t) 1 << h) - 2;
        /* IPv6 has no broadcast address; the network address (the subnet-router anycast address)
         * is no host either. */
        return h >= 64 ? UINT64_MAX : ((uint64_t) 1 << h) - 1;
}

int net_prefix_host(const NetPrefix *p, uint64_t n, NetAddr *ret) {
        unsigned bits = family_bits(p->addr.family);
        uint64_t hosts = net_prefix_hosts(p);

        /* An IPv6 prefix of 64 host bits or more holds every n (the count saturates at UINT64_MAX). */
        if (n == 0 || n > hosts)
                return -ERANGE;
        addr_from_u128(p->addr.family, (addr_to_u128(&p->addr) & ~host_mask(bits, p->len)) + n, ret);
        return 0;
}

int net_ipam_pick(const NetPrefix *subnet, const NetAddr *used, size_t n_used, NetAddr *ret) {
        uint64_t hosts, limit;
        uint8_t *taken;
        u128 base;

        if (subnet->addr.family != AF_INET || subnet->len > 32)
                return -EINVAL;
        hosts = net_prefix_hosts(subnet);
        if (hosts < 2)
                return -ENOSPC;

        /* The answer is one of the hosts 2 .. n_used + 2 (or none): mark which of those are used
         * and take the first that is not. Linear in n_used, whatever the order of used[]. */
        limit = n_used + 2 < hosts ? n_used + 2 : hosts;
        taken = calloc((size_t) limit + 1, 1);
        if (!taken)
                return -ENOMEM;
        base = addr_to_u128(&subnet->addr);
        for (size_t k = 0; k < n_used; k++) {
                u128 h;

                if (!net_prefix_contains(subnet, &used[k]))
                        continue;
                h = addr_to_u128(&used[k]) - base;
                if (h >= 2 && h <= limit)
                        taken[(size_t) h] = 1;
        }
        for (uint64_t h = 2; h <= limit; h++)
                if (!taken[h]) {
                        free(taken);
                        return net_prefix_host(subnet, h, ret);
                }
        free(taken);
        return -ENOSPC;
}

int net_subnet_pick(const NetPrefix *pool, unsigned len, const NetPrefix *taken, size_t n_taken,
                    NetPrefix *ret) {
        unsigned bits = family_bits(pool->addr.family);
        u128 cand, last;

        if (!bits || pool->len > bits || len < pool->len || len > bits)
                return -EINVAL;

        /* Walk the candidates in address order. When one overlaps a taken prefix, the next one to
         * try starts after both of them: that is aligned to `len` (a taken prefix ends on a
         * boundary of its own size), and no taken prefix is met twice, so the walk takes at most
         * n_taken + 1 steps. */
        cand = addr_to_u128(&pool->addr) & ~host_mask(bits, pool->len);
        last = cand | host_mask(bits, pool->len);
        for (;;) {
                u128 cand_last = cand | host_mask(bits, len), next = cand_last;
                bool hit = false;

                for (size_t k = 0; k < n_taken; k++) {
                        const NetPrefix *t = &taken[k];
                        u128 first, tlast;

                        if (t->addr.family != pool->addr.family || t->len > bits)
                                continue;
                        first = addr_to_u128(&t->addr) & ~host_mask(bits, t->len);
                        tlast = first | host_mask(bits, t->len);
                        if (first > cand_last || tlast < cand)
                                continue;
                        hit = true;
                        if (tlast > next)
                                next = tlast;
                }
                if (!hit) {
                        NetPrefix p = { .len = len };

                        addr_from_u128(pool->addr.family, cand, &p.addr);
                        *ret = p;
                        return 0;
                }
                if (next >= last)
                        return -ENOSPC;
                cand = next + 1;
        }
}

static int hex_digit(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int net_mac_parse(const char *s, uint8_t ret[static 6]) {
        uint8_t mac[6];

        if (!s)
                return -EINVAL;
        /* Exactly "xx:xx:xx:xx:xx:xx": each step checks its characters before the next is read,
         * so a short string ends the walk at its NUL. */
        for (size_t k = 0; k < 6; k++) {
                const char *p = s + 3 * k;
                int hi, lo;

                hi = hex_digit(p[0]);
                if (hi < 0)
                        return -EINVAL;
                lo = hex_digit(p[1]);
                if (lo < 0)
                        return -EINVAL;
                if (p[2] != (k < 5 ? ':' : 0))
                        return -EINVAL;
                mac[k] = (uint8_t) (hi << 4 | lo);
        }
        if (mac[0] & 1) /* multicast (broadcast included) */
                return -EINVAL;
        if (!(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
                return -EINVAL;
        memcpy(ret, mac, 6);
        return 0;
}

const char *net_mac_to_string(const uint8_t mac[static 6], char buf[static NET_MAC_STRLEN]) {
        snprintf(buf, NET_MAC_STRLEN, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
                 mac[4], mac[5]);
        return buf;
}

void net_mac_from_random(const uint8_t random[static 3], uint8_t ret[static 6]) {
        ret[0] = 0x52;
        ret[1] = 0x54;
        ret[2] = 0x00;
        memcpy(ret + 3, random, 3);
}

int net_eui64_address(const NetPrefix *p64, const uint8_t mac[static 6], NetAddr *ret) {
        NetAddr a = { .family = AF_INET6 };

        if (p64->addr.family != AF_INET6 || p64->len != 64)
                return -EINVAL;
        memcpy(a.bytes, p64->addr.bytes, 8);
        a.bytes[8] = mac[0] ^ 0x02; /* the universal/local bit, inverted (RFC 4291 appendix A) */
        a.bytes[9] = mac[1];
        a.bytes[10] = mac[2];
        a.bytes[11] = 0xff;
        a.bytes[12] = 0xfe;
        a.bytes[13] = mac[3];
        a.bytes[14] = mac[4];
        a.bytes[15] = mac[5];
        *ret = a;
        return 0;
}

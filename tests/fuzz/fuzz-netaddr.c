/* libFuzzer target for the parsers of lib/net/netaddr.c: net_addr_parse(), net_prefix_parse() and
 * net_mac_parse() take tenant networks' subnets, addresses and MACs from D-Bus arguments and the
 * command line. Beyond the sanitizers it checks the contract: a refusal returns -EINVAL, leaves
 * the output alone and (for a prefix) fills a sentence within the buffer; what is accepted prints
 * in a form that parses back to the same value, a prefix has no host bits and holds its own
 * address, and a MAC prints as the input in lowercase and is no multicast or all-zero one. */

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "net/netaddr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_addr(const char *s) {
        NetAddr a, back;
        char buf[NET_ADDR_STRLEN];
        int r;

        memset(&a, 0xaa, sizeof(a));
        r = net_addr_parse(s, &a);
        if (r < 0) {
                for (size_t k = 0; k < sizeof(a); k++)
                        if (((uint8_t *) &a)[k] != 0xaa || r != -EINVAL)
                                abort();
                return;
        }
        if (r != 0 || (a.family != AF_INET && a.family != AF_INET6))
                abort();
        net_addr_to_string(&a, buf);
        if (!memchr(buf, 0, sizeof(buf)) || net_addr_parse(buf, &back) != 0 || !net_addr_equal(&a, &back))
                abort();
}

static void check_prefix(const char *s) {
        NetPrefix p, back, picked;
        NetAddr host;
        char buf[NET_PREFIX_STRLEN], reason[64], small[5];
        int r;

        memset(&p, 0xaa, sizeof(p));
        memset(reason, 0, sizeof(reason));
        r = net_prefix_parse(s, &p, reason, sizeof(reason));
        /* The same with a reason buffer too small for any sentence: cut short, not overrun (ASan). */
        if (net_prefix_parse(s, &back, small, sizeof(small)) != r)
                abort();
        if (r < 0) {
                for (size_t k = 0; k < sizeof(p); k++)
                        if (((uint8_t *) &p)[k] != 0xaa)
                                abort();
                if (r != -EINVAL || reason[0] == 0 || reason[sizeof(reason) - 1] != 0 ||
                    small[sizeof(small) - 1] != 0)
                        abort();
                return;
        }
        if (r != 0 || !(p.addr.family == AF_INET ? p.len <= 32 : p.addr.family == AF_INET6 && p.len <= 128))
                abort();
        net_prefix_to_string(&p, buf);
        if (!memchr(buf, 0, sizeof(buf)) || net_prefix_parse(buf, &back, NULL, 0) != 0 ||
            !net_addr_equal(&p.addr, &back.addr) || p.len != back.len)
                abort();
        if (!net_prefix_overlaps(&p, &p) || !net_prefix_contains(&p, &p.addr))
                abort();
        /* A host of the prefix lies in it; the prefix is the one free subnet of its size in itself. */
        r = net_prefix_host(&p, 1, &host);
        if ((r == 0 && !net_prefix_contains(&p, &host)) ||
            (r < 0 && (r != -ERANGE || net_prefix_hosts(&p) != 0)))
                abort();
        if (net_subnet_pick(&p, p.len, NULL, 0, &picked) != 0 || !net_addr_equal(&picked.addr, &p.addr) ||
            net_subnet_pick(&p, p.len, &p, 1, &picked) != -ENOSPC)
                abort();
}

static void check_mac(const char *s) {
        uint8_t mac[6] = { 1, 2, 3, 4, 5, 6 };
        char buf[NET_MAC_STRLEN];
        int r = net_mac_parse(s, mac);

        if (r < 0) {
                if (r != -EINVAL || memcmp(mac, (uint8_t[6]) { 1, 2, 3, 4, 5, 6 }, 6) != 0)
                        abort();
                return;
        }
        if (r != 0 || (mac[0] & 1) || !(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
                abort();
        net_mac_to_string(mac, buf);
        if (strlen(s) != strlen(buf))
                abort();
        for (size_t k = 0; buf[k]; k++)
                if (tolower((unsigned char) s[k]) != buf[k])
                        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);

        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = 0;
        check_addr(s);
        check_prefix(s);
        check_mac(s);
        free(s);
        return 0;
}

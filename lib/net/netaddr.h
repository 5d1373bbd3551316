#pragma once

/* Addresses and prefixes of tenant networks: parsing and printing IPv4/IPv6 prefixes and
 * addresses, overlap and containment, the n-th host of a subnet, address allocation (IPAM) and
 * MAC addresses. Pure: libc only, no I/O, nothing logs. Parsers take untrusted input (D-Bus
 * arguments, the command line): they never read past the string and fill a sentence on refusal. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest text of a prefix ("ffff:...:ffff/128") or an address, with NUL. */
#define NET_PREFIX_STRLEN 50
#define NET_ADDR_STRLEN 46
#define NET_MAC_STRLEN 18 /* "52:54:00:ab:cd:ef" */

typedef struct NetAddr {
        int family;        /* AF_INET or AF_INET6; 0 = none */
        uint8_t bytes[16]; /* network byte order; AF_INET uses the first 4 */
} NetAddr;

typedef struct NetPrefix {
        NetAddr addr; /* the network address: host bits zero */
        unsigned len; /* 0-32 (AF_INET), 0-128 (AF_INET6) */
} NetPrefix;

/* Parses "10.20.0.7" or "fd00::7". 0, or -EINVAL. */
int net_addr_parse(const char *s, NetAddr *ret);
/* Prints into buf (NET_ADDR_STRLEN); returns buf. An address of family 0 prints as "". */
const char *net_addr_to_string(const NetAddr *a, char buf[static NET_ADDR_STRLEN]);
bool net_addr_equal(const NetAddr *a, const NetAddr *b);

/* Parses "10.20.0.0/24" or "fd00:1::/64" (the prefix length is required). -EINVAL with a
 * sentence in reason when it is not a prefix, or when host bits are set ("10.20.0.5/24 has host
 * bits set; the network is 10.20.0.0/24"). */
int net_prefix_parse(const char *s, NetPrefix *ret, char *reason, size_t reason_size);
const char *net_prefix_to_string(const NetPrefix *p, char buf[static NET_PREFIX_STRLEN]);
/* Whether the two prefixes share an address (always false across families). */
bool net_prefix_overlaps(const NetPrefix *a, const NetPrefix *b);
/* Whether a lies in p. */
bool net_prefix_contains(const NetPrefix *p, const NetAddr *a);
/* The host with number n of p: n = 1 is the first address after the network address. -ERANGE
 * when there is no such host (IPv4: the broadcast address is no host). */
int net_prefix_host(const NetPrefix *p, uint64_t n, NetAddr *ret);
/* The number of hosts of p (IPv4: without network and broadcast address; saturates at
 * UINT64_MAX). */
uint64_t net_prefix_hosts(const NetPrefix *p);

/* Address allocation on an IPv4 subnet: the gateway (the bridge) is host 1; instances get the
 * lowest host from 2 up that is not in used[] (n_used entries, any order; addresses outside the
 * subnet are ignored). -ENOSPC when every host is taken, -EINVAL when subnet is not IPv4,
 * -ENOMEM. */
int net_ipam_pick(const NetPrefix *subnet, const NetAddr *used, size_t n_used, NetAddr *ret);

/* A free subnet of length `len` inside `pool` that overlaps none of taken[] (n_taken): the
 * lowest such. -ENOSPC when there is none, -EINVAL when len is shorter than the pool's or the
 * families differ. Used to pick a network's subnet when none is asked for. */
int net_subnet_pick(const NetPrefix *pool, unsigned len, const NetPrefix *taken, size_t n_taken,
                    NetPrefix *ret);

/* "52:54:00:ab:cd:ef" (case-insensitive in, lowercase out). -EINVAL unless six hex pairs; a
 * multicast or all-zero MAC is refused too (it cannot be a NIC's). */
int net_mac_parse(const char *s, uint8_t ret[static 6]);
const char *net_mac_to_string(const uint8_t mac[static 6], char buf[static NET_MAC_STRLEN]);
/* A MAC for a NIC from 3 random bytes: 52:54:00:xx:xx:xx (the prefix QEMU and libvirt use). */
void net_mac_from_random(const uint8_t random[static 3], uint8_t ret[static 6]);

/* The modified EUI-64 interface identifier of mac on a /64 (SLAAC, RFC 4291 appendix A):
 * prefix's first 64 bits, then the MAC with the universal/local bit flipped and ff:fe in the
 * middle. fe80::/64 gives the link-local address. -EINVAL unless p is an IPv6 /64. */
int net_eui64_address(const NetPrefix *p64, const uint8_t mac[static 6], NetAddr *ret);

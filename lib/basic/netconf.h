#pragma once

/* The management network as the console writes it: one systemd-networkd .network file for the
 * management interface, DHCP or a static IPv4 address with gateway, DNS and NTP servers. Parsing
 * reads back what netconf_format() wrote (and plain files of that shape); validation names the
 * field that is wrong. Pure: no I/O. */

#include <net/if.h>
#include <stdbool.h>

#define NETCONF_FILE "10-ark-management.network"

typedef struct NetConf {
        char iface[IF_NAMESIZE];
        bool dhcp;
        char address[64]; /* a.b.c.d/prefix */
        char gateway[64]; /* a.b.c.d, "" = none */
        char dns[256];    /* addresses separated by spaces */
        char ntp[256];    /* names or addresses separated by spaces */
} NetConf;

/* NULL when s is a host name (RFC 1123: labels of letters, digits and '-', each 1-63, 253 in all),
 * else why not. */
const char *hostname_invalid_reason(const char *s);
/* NULL when c can be written, else why not ("the gateway 10.0.0.1 is not in 192.0.2.0/24"). */
const char *netconf_validate(const NetConf *c, char *buf, size_t l);
/* The .network file's text. NULL on OOM. */
char *netconf_format(const NetConf *c);
/* Reads [Match] Name=, [Network] DHCP=, Address=, Gateway=, DNS=, NTP=. -EINVAL when it is not a
 * file of that shape. */
int netconf_parse(const char *text, NetConf *ret);

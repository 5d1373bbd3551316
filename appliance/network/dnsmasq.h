#pragma once

/* DHCP and DNS of one tenant network: a dnsmasq (Debian's dnsmasq-base) per bridge, run and
 * watched by arkd from its sd-event loop.
 *
 * dnsmasq serves only the bridge (--interface, --bind-interfaces, no other configuration file),
 * hands out static leases only (--dhcp-range=...,static: an address is arkd's choice, stored, so an
 * instance keeps it across restarts), answers DNS for `<instance>.<domain>` from a hosts file and
 * forwards nothing (--no-resolv; tenants get no view of the site's DNS), and sends router
 * advertisements for the network's IPv6 /64 when it has one (SLAAC). Its files live in
 * `<run_dir>/<bridge>/` (hosts for DHCP, names for DNS, the lease file, the pid file), written
 * atomically; a change of hosts is a rewrite and SIGHUP, not a restart.
 *
 * A dnsmasq that exits is started again after a pause that doubles from 1 s up to 60 s (reset
 * after it has run 60 s), logged each time. Nothing here touches links or rules. */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "net/netaddr.h"

typedef struct Dnsmasq Dnsmasq;

typedef struct DnsmasqHost {
        uint8_t mac[6];
        NetAddr ip4;
        const char *name; /* a DNS label (the instance's name) */
} DnsmasqHost;

typedef struct DnsmasqConfig {
        const char *bridge;  /* the interface to serve */
        NetPrefix subnet4;   /* its IPv4 subnet */
        NetAddr gateway4;    /* the bridge's address: router and DNS server handed out */
        NetPrefix subnet6;   /* family 0 = no IPv6 */
        const char *domain;  /* names are answered as <name>.<domain> (the tenant's name) */
        unsigned mtu;        /* handed out as DHCP option 26 (0 = not sent) */
        const char *run_dir; /* where its files go (created 0750) */
        const char *binary;  /* NULL = "dnsmasq" from PATH */
} DnsmasqConfig;

/* Starts dnsmasq for `c` with these hosts. The strings of c are copied. -ENOENT when the binary
 * is missing (the message to log names the package: dnsmasq-base); other negative errnos when
 * its files cannot be written or it cannot be spawned. */
int dnsmasq_start(sd_event *event, const DnsmasqConfig *c, const DnsmasqHost *hosts, size_t n_hosts,
                  Dnsmasq **ret);

/* Replaces the hosts it serves (files rewritten, then SIGHUP). */
int dnsmasq_set_hosts(Dnsmasq *d, const DnsmasqHost *hosts, size_t n_hosts);

/* Stops it (SIGTERM, reaped; SIGKILL after 2 s) and removes its files. NULL is ignored. */
void dnsmasq_stop(Dnsmasq *d);

/* Its pid now (0 while it is being restarted). */
pid_t dnsmasq_pid(const Dnsmasq *d);

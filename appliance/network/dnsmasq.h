#pragma once

/* DHCP and DNS of one tenant network: a dnsmasq (Debian's dnsmasq-base) per bridge, run and
 * watched by arkd from its sd-event loop.
 *
 * dnsmasq serves only the bridge (--interface, --bind-interfaces, --except-interface=lo, no other
 * configuration file: --conf-file=/dev/null), hands out static leases only
 * (--dhcp-range=<net>,static,<mask>,1h and --dhcp-authoritative: an address is arkd's choice,
 * stored, so an instance keeps it across restarts; a client asking for a stale address is told no
 * at once), with the bridge's address as router and DNS server, the domain, the instance's name
 * and the network's MTU (options 3, 6, 15, 12 and 26; the MTU also to clients that do not ask for
 * it: --dhcp-option-force), answers DNS for `<instance>.<domain>` from a hosts file and forwards
 * nothing (--no-resolv, --no-hosts, --domain, --local=/<domain>/: unknown names of the domain are
 * NXDOMAIN, other names refused; tenants get no view of the site's DNS), and sends router
 * advertisements for the network's IPv6 /64 when it has one (--enable-ra,
 * --dhcp-range=<prefix>,ra-only,64, --ra-param=<bridge>,mtu:<mtu>,0: SLAAC). It runs in the
 * foreground (--keep-in-foreground) in a session of its own, stdin and stdout on /dev/null, its
 * stderr arkd's (startup failures), and logs to syslog (the journal) as dnsmasq.
 *
 * It starts as root (to bind ports 53 and 67) and drops to the user `dnsmasq` that Debian's
 * dnsmasq-base creates (`nobody` where there is none), with that user's primary group (--user,
 * --group; not dnsmasq's default group "dip"; on Debian the group is nogroup). Its files live in
 * `<run_dir>/<bridge>/`: `dhcp-hosts` (--dhcp-hostsfile: "<mac>,<ip>,<name>"), `dns-hosts`
 * (--addn-hosts: "<ip> <name>.<domain> <name>"), `leases` (--dhcp-leasefile) and `dnsmasq.pid`
 * (--pid-file). dnsmasq reads the two host files as its user, at start and on SIGHUP, so arkd
 * writes them atomically, root-owned, mode 0640 with that user's group, in directories of mode
 * 0750 with that group (run_dir included); the lease and pid files dnsmasq opens while still root.
 * A change of hosts is a rewrite and SIGHUP, not a restart (dnsmasq rereads both files then).
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
        uint8_t mac[6];   /* a NIC's: unicast, not all zero */
        NetAddr ip4;      /* in the network's IPv4 subnet */
        const char *name; /* a DNS label (the instance's name): letters, digits, inner '-' */
} DnsmasqHost;

typedef struct DnsmasqConfig {
        const char *bridge;  /* the interface to serve */
        NetPrefix subnet4;   /* its IPv4 subnet (a /30 or larger) */
        NetAddr gateway4;    /* the bridge's address: router and DNS server handed out */
        NetPrefix subnet6;   /* family 0 = no IPv6; else a /64 */
        const char *domain;  /* names are answered as <name>.<domain> (the tenant's name) */
        unsigned mtu;        /* handed out as DHCP option 26 and in RAs (0 = not sent) */
        const char *run_dir; /* where its files go: an absolute path, made 0750 with the
                              * dnsmasq user's group; directories missing above it are made 0711,
                              * those there must let that user pass */
        const char *binary;  /* NULL = "dnsmasq" from PATH, else /usr/sbin/dnsmasq */
} DnsmasqConfig;

/* Starts dnsmasq for `c` with these hosts and watches it from `event` (one per bridge). Blocks
 * SIGCHLD in the calling thread (sd_event_add_child needs it; its default action is to ignore it
 * anyway) and starts the child with an empty signal mask and default signal actions. A dnsmasq
 * that an earlier arkd left running for this bridge (its pid file names it, and its command line
 * that pid file) is killed first. The strings of c are copied. Does not log above debug.
 * -ENOENT when the binary is missing (the message to log names the package: dnsmasq-base);
 * -EINVAL for a bridge, domain or host name that cannot be one, prefixes of the wrong family or
 * length, a gateway or host address outside subnet4, a run_dir that is no normalized absolute
 * path, a binary that is no absolute path; -ESRCH when there is neither a `dnsmasq` nor a
 * `nobody` user; -EACCES when that user could not reach run_dir; other negative errnos when its
 * files cannot be written or it cannot be spawned. Returns once it is spawned, not once it serves
 * (it binds its sockets within milliseconds). */
int dnsmasq_start(sd_event *event, const DnsmasqConfig *c, const DnsmasqHost *hosts, size_t n_hosts,
                  Dnsmasq **ret);

/* Replaces the hosts it serves (files rewritten, then SIGHUP; while a dnsmasq is still starting,
 * the SIGHUP waits until its pid file shows it has its signal handlers). -EINVAL for a host as
 * dnsmasq_start says; then nothing changes. */
int dnsmasq_set_hosts(Dnsmasq *d, const DnsmasqHost *hosts, size_t n_hosts);

/* Stops it (SIGTERM, reaped; SIGKILL after 2 s, blocking the caller that long at most) and
 * removes its files (`<run_dir>/<bridge>/`; run_dir stays). NULL is ignored. */
void dnsmasq_stop(Dnsmasq *d);

/* Its pid now (0 while it is being restarted). */
pid_t dnsmasq_pid(const Dnsmasq *d);

/* One dnsmasq per tenant bridge, started and watched from arkd's sd-event loop; see dnsmasq.h. */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "basic/time-util.h"
#include "dnsmasq.h"

#define RESTART_MIN_USEC (1 * USEC_PER_SEC)
#define RESTART_MAX_USEC (60 * USEC_PER_SEC)
#define STABLE_USEC (60 * USEC_PER_SEC) /* a run this long resets the pause before a restart */
#define STOP_TIMEOUT_USEC (2 * USEC_PER_SEC)
#define HUP_RETRY_USEC (50 * USEC_PER_MSEC)
/* Static leases: the lease time only bounds how long a client keeps an address arkd has taken
 * back or changed (it asks again at half of it and is told no, being authoritative). */
#define LEASE_TIME "1h"

extern char **environ;

struct Dnsmasq {
        sd_event *event;
        char *bridge, *domain, *binary;
        NetPrefix subnet4, subnet6;
        NetAddr gateway4;
        unsigned mtu;
        char *dir, *dhcp_hosts, *dns_hosts, *leases, *pid_file;
        char *user, *group;
        gid_t gid;

        pid_t pid;           /* 0 while it is restarted */
        usec_t started_usec; /* CLOCK_MONOTONIC */
        usec_t delay_usec;   /* the pause before the next restart */
        sd_event_source *child, *restart, *hup;
};

static bool dns_label_valid(const char *s, size_t n) {
        if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];

                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-'))
                        return false;
        }
        return true;
}

static bool domain_valid(const char *s) {
        if (isempty(s) || strlen(s) > 253)
                return false;
        for (const char *p = s;;) {
                const char *dot = strchr(p, '.');
                size_t n = dot ? (size_t) (dot - p) : strlen(p);

                if (!dns_label_valid(p, n))
                        return false;
                if (!dot)
                        return true;
                p = dot + 1;
        }
}

/* An interface name that is also harmless as a directory name and in dnsmasq's arguments. */
static bool bridge_valid(const char *s) {
        if (isempty(s) || strlen(s) >= IFNAMSIZ || streq(s, ".") || streq(s, ".."))
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      strchr("-_.", *p)))
                        return false;
        return true;
}

static bool prefix4_contains(const NetPrefix *p, const NetAddr *a) {
        uint32_t net, addr, mask = p->len == 0 ? 0 : UINT32_MAX << (32 - p->len);

        if (a->family != AF_INET)
                return false;
        memcpy(&net, p->addr.bytes, 4);
        memcpy(&addr, a->bytes, 4);
        return ((ntohl(net) ^ ntohl(addr)) & mask) == 0;
}

static const char *addr_str(const NetAddr *a, char buf[static INET6_ADDRSTRLEN]) {
        if (!inet_ntop(a->family, a->bytes, buf, INET6_ADDRSTRLEN))
                buf[0] = 0;
        return buf;
}

static int hosts_validate(const NetPrefix *subnet4, const DnsmasqHost *hosts, size_t n_hosts) {
        static const uint8_t zero[6] = {};

        if (n_hosts > 0 && !hosts)
                return -EINVAL;
        for (size_t i = 0; i < n_hosts; i++)
                if (!prefix4_contains(subnet4, &hosts[i].ip4) || !hosts[i].name ||
                    !dns_label_valid(hosts[i].name, strlen(hosts[i].name)) ||
                    memcmp(hosts[i].mac, zero, 6) == 0 || (hosts[i].mac[0] & 1))
                        return -EINVAL;
        return 0;
}

/* Sets a file's or directory's group to the dnsmasq user's and its mode; the owner stays. */
static int set_access(const Dnsmasq *d, const char *path, mode_t mode) {
        if (chown(path, (uid_t) -1, d->gid) < 0 || chmod(path, mode) < 0)
                return -errno;
        return 0;
}

static int write_hosts(Dnsmasq *d, const DnsmasqHost *hosts, size_t n_hosts) {
        _cleanup_free_ char *dhcp = NULL, *dns = NULL;
        StrBuf a = {}, b = {};
        int r;

        strbuf_append(&a, "");
        strbuf_append(&b, "");
        for (size_t i = 0; i < n_hosts; i++) {
                const uint8_t *m = hosts[i].mac;
                char ip[INET6_ADDRSTRLEN];

                addr_str(&hosts[i].ip4, ip);
                strbuf_printf(&a, "%02x:%02x:%02x:%02x:%02x:%02x,%s,%s\n", m[0], m[1], m[2], m[3], m[4],
                              m[5], ip, hosts[i].name);
                strbuf_printf(&b, "%s %s.%s %s\n", ip, hosts[i].name, d->domain, hosts[i].name);
        }
        dhcp = strbuf_steal(&a);
        dns = strbuf_steal(&b);
        if (!dhcp || !dns)
                return -ENOMEM;

        /* Written as root; readable by the user dnsmasq runs as before it is told to read them. */
        r = write_string_file(d->dhcp_hosts, dhcp, WRITE_ATOMIC);
        if (r >= 0)
                r = set_access(d, d->dhcp_hosts, 0640);
        if (r >= 0)
                r = write_string_file(d->dns_hosts, dns, WRITE_ATOMIC);
        if (r >= 0)
                r = set_access(d, d->dns_hosts, 0640);
        return r;
}

static int strv_add(char ***v, char *s) {
        if (!s)
                return -ENOMEM;
        return strv_push(v, s) < 0 ? (free(s), -ENOMEM) : 0;
}

static int build_argv(const Dnsmasq *d, char ***ret) {
        _cleanup_strv_free_ char **v = NULL;
        char net[INET6_ADDRSTRLEN], gw[INET6_ADDRSTRLEN], net6[INET6_ADDRSTRLEN], mask[INET_ADDRSTRLEN];
        uint32_t m = htonl(d->subnet4.len == 0 ? 0 : UINT32_MAX << (32 - d->subnet4.len));
        int r = 0;

        addr_str(&d->subnet4.addr, net);
        addr_str(&d->gateway4, gw);
        if (!inet_ntop(AF_INET, &m, mask, sizeof(mask)))
                return -EINVAL;

        r |= strv_add(&v, strdup("dnsmasq"));
        r |= strv_add(&v, strdup("--conf-file=/dev/null"));
        r |= strv_add(&v, strdup("--keep-in-foreground"));
        r |= strv_add(&v, strprintf("--user=%s", d->user));
        r |= strv_add(&v, strprintf("--group=%s", d->group));
        r |= strv_add(&v, strprintf("--pid-file=%s", d->pid_file));
        r |= strv_add(&v, strprintf("--interface=%s", d->bridge));
        r |= strv_add(&v, strdup("--bind-interfaces"));
        r |= strv_add(&v, strdup("--except-interface=lo"));
        r |= strv_add(&v, strdup("--no-resolv"));
        r |= strv_add(&v, strdup("--no-hosts"));
        r |= strv_add(&v, strprintf("--domain=%s", d->domain));
        r |= strv_add(&v, strprintf("--local=/%s/", d->domain));
        r |= strv_add(&v, strprintf("--addn-hosts=%s", d->dns_hosts));
        r |= strv_add(&v, strprintf("--dhcp-hostsfile=%s", d->dhcp_hosts));
        r |= strv_add(&v, strprintf("--dhcp-leasefile=%s", d->leases));
        r |= strv_add(&v, strprintf("--dhcp-range=%s,static,%s,%s", net, mask, LEASE_TIME));
        r |= strv_add(&v, strdup("--dhcp-authoritative"));
        r |= strv_add(&v, strprintf("--dhcp-option=option:router,%s", gw));
        r |= strv_add(&v, strprintf("--dhcp-option=option:dns-server,%s", gw));
        if (d->mtu > 0)
                /* Sent also to clients that do not ask for it (busybox's udhcpc does not). */
                r |= strv_add(&v, strprintf("--dhcp-option-force=option:mtu,%u", d->mtu));
        if (d->subnet6.addr.family == AF_INET6) {
                addr_str(&d->subnet6.addr, net6);
                r |= strv_add(&v, strdup("--enable-ra"));
                r |= strv_add(&v, strprintf("--dhcp-range=%s,ra-only,%u", net6, d->subnet6.len));
                if (d->mtu > 0)
                        r |= strv_add(&v, strprintf("--ra-param=%s,mtu:%u,0", d->bridge, d->mtu));
        }
        if (r < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(v);
        return 0;
}

static int spawn(const Dnsmasq *d, pid_t *ret) {
        _cleanup_strv_free_ char **argv = NULL;
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t none, all;
        pid_t pid;
        int r;

        r = build_argv(d, &argv);
        if (r < 0)
                return r;
        r = posix_spawn_file_actions_init(&fa);
        if (r != 0)
                return -r;
        r = posix_spawnattr_init(&attr);
        if (r != 0) {
                posix_spawn_file_actions_destroy(&fa);
                return -r;
        }
        /* arkd blocks SIGTERM, SIGINT and SIGCHLD and ignores SIGPIPE; a blocked or ignored
         * signal stays so across exec, and dnsmasq must die on SIGTERM and reload on SIGHUP. Its
         * own session: a terminal's signals to arkd are not its. */
        sigemptyset(&none);
        sigfillset(&all);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &all);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID);
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);

        if (d->binary)
                r = posix_spawn(&pid, d->binary, &fa, &attr, argv, environ);
        else {
                r = posix_spawnp(&pid, "dnsmasq", &fa, &attr, argv, environ);
                if (r == ENOENT) /* a PATH without sbin */
                        r = posix_spawn(&pid, "/usr/sbin/dnsmasq", &fa, &attr, argv, environ);
        }
        posix_spawnattr_destroy(&attr);
        posix_spawn_file_actions_destroy(&fa);
        if (r != 0)
                return -r;
        *ret = pid;
        return 0;
}

/* Sends SIGTERM, reaps it; SIGKILL after STOP_TIMEOUT_USEC. */
static void stop_process(pid_t pid) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + STOP_TIMEOUT_USEC;

        (void) kill(pid, SIGTERM);
        for (;;) {
                pid_t r = waitpid(pid, NULL, WNOHANG);

                if (r == pid || (r < 0 && errno != EINTR))
                        return;
                if (now_usec(CLOCK_MONOTONIC) >= deadline)
                        break;
                (void) nanosleep(&(struct timespec) { .tv_nsec = 10 * 1000 * 1000 }, NULL);
        }
        log_debug("dnsmasq (pid %d) did not stop on SIGTERM within 2 s: killing it.", (int) pid);
        (void) kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
}

/* The pid its pid file names; 0 when there is none (yet). */
static pid_t read_pid_file(const char *path) {
        _cleanup_free_ char *line = NULL;
        char *end;
        long v;

        if (read_one_line_file(path, &line) < 0)
                return 0;
        errno = 0;
        v = strtol(line, &end, 10);
        if (errno != 0 || end == line || *strstrip(end) != 0 || v <= 0 || v > INT32_MAX)
                return 0;
        return (pid_t) v;
}

/* Whether process pid runs with this exact argument (a pid file may name a pid reused since). */
static bool process_has_arg(pid_t pid, const char *arg) {
        _cleanup_free_ char *path = strprintf("/proc/%d/cmdline", (int) pid), *cmdline = NULL;
        size_t size;

        if (!path || read_full_file(path, &cmdline, &size) < 0)
                return false;
        for (size_t i = 0; i < size; i += strlen(cmdline + i) + 1)
                if (streq(cmdline + i, arg))
                        return true;
        return false;
}

/* A dnsmasq an earlier arkd left for this bridge holds its ports: it goes first. It is no child
 * of ours; it is gone once its command line is (a zombie's is empty). */
static void kill_stale(const Dnsmasq *d) {
        _cleanup_free_ char *arg = strprintf("--pid-file=%s", d->pid_file);
        pid_t pid = read_pid_file(d->pid_file);

        if (!arg || pid <= 0 || !process_has_arg(pid, arg))
                return;
        log_debug("Killing the dnsmasq an earlier arkd left for bridge '%s' (pid %d).", d->bridge,
                  (int) pid);
        (void) kill(pid, SIGKILL);
        for (int i = 0; i < 200 && process_has_arg(pid, arg); i++)
                (void) nanosleep(&(struct timespec) { .tv_nsec = 10 * 1000 * 1000 }, NULL);
}

static int on_child(sd_event_source *s, const siginfo_t *si, void *userdata);

static int start_process(Dnsmasq *d) {
        pid_t pid;
        int r;

        r = spawn(d, &pid);
        if (r < 0)
                return r;
        r = sd_event_add_child(d->event, &d->child, pid, WEXITED, on_child, d);
        if (r < 0) {
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                return r;
        }
        d->pid = pid;
        d->started_usec = now_usec(CLOCK_MONOTONIC);
        return 0;
}

static int on_restart(sd_event_source *s, uint64_t usec, void *userdata);

static void schedule_restart(Dnsmasq *d) {
        int r;

        r = sd_event_add_time_relative(d->event, &d->restart, CLOCK_MONOTONIC, d->delay_usec, 0, on_restart,
                                       d);
        if (r < 0) {
                log_error_errno(r, "Failed to schedule a restart of dnsmasq for bridge '%s': %m", d->bridge);
                return;
        }
        d->delay_usec = MIN(d->delay_usec * 2, RESTART_MAX_USEC);
}

static int on_restart(sd_event_source *s, uint64_t usec, void *userdata) {
        Dnsmasq *d = userdata;
        int r;

        d->restart = sd_event_source_unref(d->restart);
        r = start_process(d);
        if (r < 0) {
                log_error_errno(r, "Failed to start dnsmasq for bridge '%s' again%s: %m", d->bridge,
                                r == -ENOENT ? " (package dnsmasq-base)" : "");
                schedule_restart(d);
                return 0;
        }
        log_info("dnsmasq for bridge '%s' started again (pid %d).", d->bridge, (int) d->pid);
        return 0;
}

/* dnsmasq's exit codes (man dnsmasq, EXIT CODES). */
static const char *exit_reason(int status) {
        switch (status) {
        case 1:
                return "a configuration problem";
        case 2:
                return "a network problem, such as an address in use";
        case 3:
                return "a file system problem";
        case 4:
                return "lack of memory";
        default:
                return "another problem";
        }
}

static int on_child(sd_event_source *s, const siginfo_t *si, void *userdata) {
        Dnsmasq *d = userdata;
        usec_t ran = now_usec(CLOCK_MONOTONIC) - d->started_usec;
        pid_t pid = d->pid;

        /* sd-event reaps it after this callback. */
        d->child = sd_event_source_unref(d->child);
        d->hup = sd_event_source_disable_unref(d->hup); /* the next one reads the files anyway */
        d->pid = 0;
        if (ran >= STABLE_USEC)
                d->delay_usec = RESTART_MIN_USEC;
        if (si->si_code == CLD_EXITED)
                log_warning("dnsmasq for bridge '%s' (pid %d) exited with status %d (%s) after %.1f s; "
                            "starting it again in %u s.",
                            d->bridge, (int) pid, si->si_status, exit_reason(si->si_status),
                            (double) ran / USEC_PER_SEC, (unsigned) (d->delay_usec / USEC_PER_SEC));
        else
                log_warning("dnsmasq for bridge '%s' (pid %d) was killed by SIG%s after %.1f s; starting "
                            "it again in %u s.",
                            d->bridge, (int) pid, strna(sigabbrev_np(si->si_status)),
                            (double) ran / USEC_PER_SEC, (unsigned) (d->delay_usec / USEC_PER_SEC));
        schedule_restart(d);
        return 0;
}

static void send_hup(Dnsmasq *d);

static int on_hup_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        Dnsmasq *d = userdata;

        d->hup = sd_event_source_unref(d->hup);
        send_hup(d);
        return 0;
}

/* SIGHUP's default action ends a process: until dnsmasq has written its pid file (after it has
 * installed its signal handlers), the signal waits. */
static void send_hup(Dnsmasq *d) {
        int r;

        if (d->pid <= 0 || d->hup)
                return;
        if (read_pid_file(d->pid_file) == d->pid) {
                if (kill(d->pid, SIGHUP) < 0)
                        log_debug_errno(-errno, "Failed to send SIGHUP to dnsmasq (pid %d): %m",
                                        (int) d->pid);
                return;
        }
        r = sd_event_add_time_relative(d->event, &d->hup, CLOCK_MONOTONIC, HUP_RETRY_USEC, 0, on_hup_retry,
                                       d);
        if (r < 0)
                log_warning_errno(r, "Failed to tell dnsmasq for bridge '%s' of its new hosts: %m",
                                  d->bridge);
}

/* Makes sure the user (uid, gid) can pass through every directory above path: those missing are
 * made (mode 0711: passable, not listable), those there must let it pass (-EACCES). */
static int prepare_ancestors(const char *path, uid_t uid, gid_t gid) {
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        for (char *slash = strchr(p + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
                struct stat st;

                *slash = 0;
                if (stat(p, &st) < 0) {
                        if (errno != ENOENT)
                                return -errno;
                        if ((mkdir(p, 0711) < 0 && errno != EEXIST) || chmod(p, 0711) < 0)
                                return -errno;
                } else if (!S_ISDIR(st.st_mode))
                        return -ENOTDIR;
                else if (!((st.st_mode & S_IXOTH) || (st.st_gid == gid && (st.st_mode & S_IXGRP)) ||
                           (st.st_uid == uid && (st.st_mode & S_IXUSR))))
                        return log_debug_errno(-EACCES, "dnsmasq's user cannot pass through '%s'.", p);
                *slash = '/';
        }
        return 0;
}

static void dnsmasq_stopp(Dnsmasq **d) {
        dnsmasq_stop(*d);
}

int dnsmasq_start(sd_event *event, const DnsmasqConfig *c, const DnsmasqHost *hosts, size_t n_hosts,
                  Dnsmasq **ret) {
        _cleanup_(dnsmasq_stopp) Dnsmasq *d = NULL;
        struct passwd *pw;
        struct group *gr;
        sigset_t ss;
        int r;

        if (!event || !c || !bridge_valid(c->bridge) || !domain_valid(c->domain) ||
            c->subnet4.addr.family != AF_INET || c->subnet4.len < 1 || c->subnet4.len > 30 ||
            !prefix4_contains(&c->subnet4, &c->gateway4) ||
            !(c->subnet6.addr.family == 0 || (c->subnet6.addr.family == AF_INET6 && c->subnet6.len == 64)) ||
            !path_is_normalized_absolute(c->run_dir) || streq(c->run_dir, "/") ||
            (c->binary && c->binary[0] != '/') || c->mtu > 65535)
                return -EINVAL;
        r = hosts_validate(&c->subnet4, hosts, n_hosts);
        if (r < 0)
                return r;

        /* Debian's dnsmasq-base makes the user dnsmasq (group nogroup); dnsmasq itself would pick
         * the group dip, which is not the one its files are readable by. */
        pw = getpwnam("dnsmasq") ?: getpwnam("nobody");
        if (!pw)
                return log_debug_errno(-ESRCH, "Neither a 'dnsmasq' nor a 'nobody' user exists.");
        gr = getgrgid(pw->pw_gid);
        if (!gr)
                return log_debug_errno(-ESRCH, "User '%s' has no group.", pw->pw_name);

        d = calloc(1, sizeof(Dnsmasq));
        if (!d)
                return -ENOMEM;
        d->event = sd_event_ref(event);
        d->subnet4 = c->subnet4;
        d->subnet6 = c->subnet6;
        d->gateway4 = c->gateway4;
        d->mtu = c->mtu;
        d->gid = pw->pw_gid;
        d->delay_usec = RESTART_MIN_USEC;
        d->bridge = strdup(c->bridge);
        d->domain = strdup(c->domain);
        d->user = strdup(pw->pw_name);
        d->group = strdup(gr->gr_name);
        d->binary = c->binary ? strdup(c->binary) : NULL;
        if (!d->bridge || !d->domain || !d->user || !d->group || (c->binary && !d->binary))
                return -ENOMEM;
        r = prepare_ancestors(c->run_dir, pw->pw_uid, pw->pw_gid);
        if (r < 0)
                return r;
        if (mkdir(c->run_dir, 0750) < 0 && errno != EEXIST)
                return -errno;
        r = set_access(d, c->run_dir, 0750);
        if (r < 0)
                return r;
        d->dir = path_join(c->run_dir, c->bridge);
        if (!d->dir)
                return -ENOMEM;
        if (mkdir(d->dir, 0750) < 0 && errno != EEXIST)
                return -errno;
        r = set_access(d, d->dir, 0750);
        if (r < 0)
                return r;
        d->dhcp_hosts = path_join(d->dir, "dhcp-hosts");
        d->dns_hosts = path_join(d->dir, "dns-hosts");
        d->leases = path_join(d->dir, "leases");
        d->pid_file = path_join(d->dir, "dnsmasq.pid");
        if (!d->dhcp_hosts || !d->dns_hosts || !d->leases || !d->pid_file)
                return -ENOMEM;

        kill_stale(d);
        r = write_hosts(d, hosts, n_hosts);
        if (r < 0)
                return log_debug_errno(r, "Failed to write the hosts of bridge '%s': %m", d->bridge);

        sigemptyset(&ss);
        sigaddset(&ss, SIGCHLD);
        r = pthread_sigmask(SIG_BLOCK, &ss, NULL);
        if (r != 0)
                return -r;

        r = start_process(d);
        if (r < 0)
                return log_debug_errno(r, "Failed to start dnsmasq for bridge '%s': %m", d->bridge);
        log_debug("Started dnsmasq for bridge '%s' (pid %d).", d->bridge, (int) d->pid);
        *ret = TAKE_PTR(d);
        return 0;
}

int dnsmasq_set_hosts(Dnsmasq *d, const DnsmasqHost *hosts, size_t n_hosts) {
        int r;

        r = hosts_validate(&d->subnet4, hosts, n_hosts);
        if (r < 0)
                return r;
        r = write_hosts(d, hosts, n_hosts);
        if (r < 0)
                return r;
        send_hup(d); /* while restarting: the next dnsmasq reads the files */
        return 0;
}

void dnsmasq_stop(Dnsmasq *d) {
        if (!d)
                return;
        d->restart = sd_event_source_disable_unref(d->restart);
        d->hup = sd_event_source_disable_unref(d->hup);
        d->child = sd_event_source_disable_unref(d->child);
        if (d->pid > 0)
                stop_process(d->pid);
        if (d->dir)
                (void) rm_rf(d->dir);
        sd_event_unref(d->event);
        free(d->bridge);
        free(d->domain);
        free(d->binary);
        free(d->dir);
        free(d->dhcp_hosts);
        free(d->dns_hosts);
        free(d->leases);
        free(d->pid_file);
        free(d->user);
        free(d->group);
        free(d);
}

pid_t dnsmasq_pid(const Dnsmasq *d) {
        return d->pid;
}

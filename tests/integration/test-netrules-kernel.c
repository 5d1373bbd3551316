/* The rule set of lib/net/netrules, loaded with the real nft into network namespaces built as arkd
 * builds tenant networks, and packets sent through it. A "host" namespace holds three bridges
 * (tenant A: a NAT network with two endpoints and an isolated one with one; tenant B: a NAT
 * network with one), a management address on another link, and an uplink veth to a "site"
 * namespace; every endpoint is a namespace of its own behind a veth port of its bridge.
 *
 * Each probe runs first without the rules, where it must get through (so that it can fail
 * later), then with them: the same network works over IPv4 and IPv6; nothing passes between
 * tenants or networks, nor to the host's management address or other services, while DNS, DHCP
 * and echo to the gateway do; spoofed frames, rogue DHCP servers and router advertisements are
 * dropped and counted; NAT networks reach the site masqueraded, isolated ones do not, protected
 * prefixes are out of reach; a forward reaches its endpoint from the site, and is gone once the
 * rules are rendered and loaded again without it. Frames are written with AF_PACKET sockets in
 * the endpoints' namespaces and watched for with one on the receiving side. Needs root. */

#include "itest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "net/netrules.h"

/* ------------------------------------------------------------------ the topology */

typedef struct Endpoint {
        const char *role; /* "a1": its namespace's suffix */
        const char *port; /* the host side of its veth, in its bridge */
        const char *bridge;
        uint8_t mac[6];
        const char *ip4, *gw4, *ip6, *gw6; /* ip6: EUI-64 on the network's /64 */
        char ns[64];
} Endpoint;

static Endpoint a1 = { "a1",
                       "vp-a1",
                       "br-a1",
                       { 0x52, 0x54, 0, 0xa1, 0, 1 },
                       "10.77.1.2",
                       "10.77.1.1",
                       "fd77:1::5054:ff:fea1:1",
                       "fd77:1::1" };
static Endpoint a2 = { "a2",
                       "vp-a2",
                       "br-a1",
                       { 0x52, 0x54, 0, 0xa1, 0, 2 },
                       "10.77.1.3",
                       "10.77.1.1",
                       "fd77:1::5054:ff:fea1:2",
                       "fd77:1::1" };
static Endpoint a3 = { "a3",
                       "vp-a3",
                       "br-a2",
                       { 0x52, 0x54, 0, 0xa2, 0, 1 },
                       "10.77.2.2",
                       "10.77.2.1",
                       "fd77:2::5054:ff:fea2:1",
                       "fd77:2::1" };
static Endpoint b1 = { "b1",
                       "vp-b1",
                       "br-b1",
                       { 0x52, 0x54, 0, 0xb1, 0, 1 },
                       "10.77.3.2",
                       "10.77.3.1",
                       "fd77:3::5054:ff:feb1:1",
                       "fd77:3::1" };
static Endpoint *const endpoints[] = { &a1, &a2, &a3, &b1 };

#define UPLINK_HOST "198.51.100.1" /* the host's address on its uplink, NAT's source */
#define UPLINK_SITE "198.51.100.2"
#define UPLINK_HOST6 "fd77:50::1"
#define UPLINK_SITE6 "fd77:50::2"
#define SITE_PROTECTED "203.0.113.1" /* behind the site, in a protected prefix */
#define MGMT4 "192.168.77.1"         /* the host's management address, protected */
#define MGMT6 "fd77:99::1"
#define FORWARD_PORT 8080 /* tcp, on the host: to a1 port 80 */

static char ns_host[64], ns_site[64], rules_path[128];
static bool unavailable;
static const char *unavailable_why;
static char *topology_error;

/* Builds the namespaces; $H, $U and $A1... name them. Sysctls come before the interfaces, which
 * take the defaults when they are made: no duplicate address detection (addresses usable at
 * once), no router advertisements taken, no reverse path filter (spoofed sources reach the
 * rules, not a filter before them). */
static const char setup_script[] =
        "set -e\n"
        "for n in $H $U $A1 $A2 $A3 $B1; do\n"
        "  ip netns add $n\n"
        "  ip -n $n link set lo up\n"
        "  ip netns exec $n sh -c 'echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad;"
        " echo 0 > /proc/sys/net/ipv6/conf/all/accept_ra;"
        " echo 0 > /proc/sys/net/ipv6/conf/default/accept_ra;"
        " echo 0 > /proc/sys/net/ipv4/conf/all/rp_filter;"
        " echo 0 > /proc/sys/net/ipv4/conf/default/rp_filter'\n"
        "done\n"
        "ip netns exec $H sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward;"
        " echo 1 > /proc/sys/net/ipv6/conf/all/forwarding'\n"
        "mkbridge() { ip -n $H link add $1 type bridge mcast_snooping 0; ip -n $H link set $1 up;"
        " ip -n $H addr add $2 dev $1; ip -n $H addr add $3 dev $1 nodad; }\n"
        "mkbridge br-a1 10.77.1.1/24 fd77:1::1/64\n"
        "mkbridge br-a2 10.77.2.1/24 fd77:2::1/64\n"
        "mkbridge br-b1 10.77.3.1/24 fd77:3::1/64\n"
        /* endpoint NS PORT BRIDGE MAC IP4 GW4 IP6 GW6 */
        "endpoint() { ip -n $H link add $2 type veth peer name eth0 netns $1;"
        " ip -n $1 link set eth0 address $4;"
        " ip -n $H link set $2 master $3 up; ip -n $1 link set eth0 up; ip -n $1 addr add $5/24 dev eth0;"
        " ip -n $1 addr add $7/64 dev eth0 nodad; ip -n $1 route add default via $6;"
        " ip -n $1 -6 route add default via $8; }\n"
        "endpoint $A1 vp-a1 br-a1 52:54:00:a1:00:01 10.77.1.2 10.77.1.1 fd77:1::5054:ff:fea1:1 fd77:1::1\n"
        "endpoint $A2 vp-a2 br-a1 52:54:00:a1:00:02 10.77.1.3 10.77.1.1 fd77:1::5054:ff:fea1:2 fd77:1::1\n"
        "endpoint $A3 vp-a3 br-a2 52:54:00:a2:00:01 10.77.2.2 10.77.2.1 fd77:2::5054:ff:fea2:1 fd77:2::1\n"
        "endpoint $B1 vp-b1 br-b1 52:54:00:b1:00:01 10.77.3.2 10.77.3.1 fd77:3::5054:ff:feb1:1 fd77:3::1\n"
        /* The uplink, and the site behind it, which routes the tenants' subnets back to the host:
         * without NAT their packets would get answers too (so NAT's source is what shows). */
        "ip -n $H link add up0 type veth peer name eth0 netns $U\n"
        "ip -n $H addr add " UPLINK_HOST "/24 dev up0; ip -n $H link set up0 up\n"
        "ip -n $U addr add " UPLINK_SITE "/24 dev eth0; ip -n $U link set eth0 up\n"
        "ip -n $H addr add " UPLINK_HOST6 "/64 dev up0 nodad; ip -n $U addr add " UPLINK_SITE6
        "/64 dev eth0 nodad\n"
        "ip -n $U -6 route add fd77::/16 via " UPLINK_HOST6 "\n"
        "ip -n $U addr add " SITE_PROTECTED "/32 dev lo\n"
        "ip -n $U route add 10.77.0.0/16 via " UPLINK_HOST "\n"
        "ip -n $H route add 203.0.113.0/24 via " UPLINK_SITE "\n"
        /* Another link of the host's (a veth pair: this kernel has no dummy links). */
        "ip -n $H link add mgmt0 type veth peer name mgmt1\n"
        "ip -n $H link set mgmt0 up; ip -n $H link set mgmt1 up\n"
        "ip -n $H addr add " MGMT4 "/24 dev mgmt0; ip -n $H addr add " MGMT6 "/64 dev mgmt0 nodad\n";

static int group_setup(void **state) {
        _cleanup_free_ char *out = NULL, *err = NULL;
        int pid = (int) getpid();

        if (geteuid() != 0) {
                unavailable = true;
                unavailable_why = "not root";
                return 0;
        }
        if (harness_sh(&out, &err, "command -v nft && command -v ip && command -v busybox") != 0) {
                unavailable = true;
                unavailable_why = "nft, ip or busybox is missing";
                return 0;
        }
        snprintf(ns_host, sizeof(ns_host), "ark-nrk-%d-host", pid);
        snprintf(ns_site, sizeof(ns_site), "ark-nrk-%d-site", pid);
        for (size_t k = 0; k < ELEMENTSOF(endpoints); k++)
                snprintf(endpoints[k]->ns, sizeof(endpoints[k]->ns), "ark-nrk-%d-%s", pid,
                         endpoints[k]->role);
        snprintf(rules_path, sizeof(rules_path), "/tmp/ark-nrk-%d.nft", pid);
        out = mfree(out);
        err = mfree(err);
        /* Without network namespaces (a container without CAP_SYS_ADMIN) there is nothing to test;
         * a topology that does not build where they work is a failure. */
        if (harness_sh(&out, &err, "ip netns add %s && ip netns del %s", ns_host, ns_host) != 0) {
                unavailable = true;
                unavailable_why = "network namespaces cannot be made here";
                return 0;
        }
        out = mfree(out);
        err = mfree(err);
        if (harness_sh(&out, &err, "H=%s U=%s A1=%s A2=%s A3=%s B1=%s; %s", ns_host, ns_site, a1.ns, a2.ns,
                       a3.ns, b1.ns, setup_script) != 0)
                topology_error = strprintf("the namespaces could not be built: %s", strna(err));
        return 0;
}

static int group_teardown(void **state) {
        if (!ns_host[0])
                return 0;
        (void) harness_sh(NULL, NULL,
                          "for n in %s %s %s %s %s %s; do ip netns del $n 2>/dev/null; done; rm -f %s",
                          ns_host, ns_site, a1.ns, a2.ns, a3.ns, b1.ns, rules_path);
        topology_error = mfree(topology_error);
        return 0;
}

#define REQUIRE_NAMESPACES() \
        do { \
                if (unavailable) { \
                        print_message("skipped: %s\n", unavailable_why); \
                        skip(); \
                } \
                if (topology_error) \
                        fail_msg("%s", topology_error); \
        } while (0)

/* ------------------------------------------------------------------ the rules */

/* The model arkd would give for the topology; with_forward: a1 port 80 on the host's tcp 8080. */
static void load_rules(bool with_forward) {
        NetRulesPort pa1[] = { { .ifname = a1.port }, { .ifname = a2.port } },
                     pa2[] = { { .ifname = a3.port } }, pb1[] = { { .ifname = b1.port } };
        NetRulesForward fwd[] = { { .proto = IPPROTO_TCP, .port = FORWARD_PORT, .to_port = 80 } };
        NetRulesNetwork nets[] = {
                { .bridge = "br-a1",
                  .mode = NET_MODE_NAT,
                  .uplink = "up0",
                  .ports = pa1,
                  .n_ports = 2,
                  .forwards = fwd,
                  .n_forwards = with_forward ? 1 : 0 },
                { .bridge = "br-a2", .mode = NET_MODE_ISOLATED, .ports = pa2, .n_ports = 1 },
                { .bridge = "br-b1", .mode = NET_MODE_NAT, .uplink = "up0", .ports = pb1, .n_ports = 1 },
        };
        NetPrefix protected[3];
        _cleanup_free_ char *script = NULL, *out = NULL, *err = NULL;

        memcpy(pa1[0].mac, a1.mac, 6);
        memcpy(pa1[1].mac, a2.mac, 6);
        memcpy(pa2[0].mac, a3.mac, 6);
        memcpy(pb1[0].mac, b1.mac, 6);
        assert_int_equal(net_addr_parse(a1.ip4, &pa1[0].ip4), 0);
        assert_int_equal(net_addr_parse(a2.ip4, &pa1[1].ip4), 0);
        assert_int_equal(net_addr_parse(a3.ip4, &pa2[0].ip4), 0);
        assert_int_equal(net_addr_parse(b1.ip4, &pb1[0].ip4), 0);
        assert_int_equal(net_addr_parse(a1.ip4, &fwd[0].to), 0);
        assert_int_equal(net_prefix_parse("10.77.1.0/24", &nets[0].subnet4, NULL, 0), 0);
        assert_int_equal(net_prefix_parse("fd77:1::/64", &nets[0].subnet6, NULL, 0), 0);
        assert_int_equal(net_prefix_parse("10.77.2.0/24", &nets[1].subnet4, NULL, 0), 0);
        assert_int_equal(net_prefix_parse("fd77:2::/64", &nets[1].subnet6, NULL, 0), 0);
        assert_int_equal(net_prefix_parse("10.77.3.0/24", &nets[2].subnet4, NULL, 0), 0);
        assert_int_equal(net_prefix_parse("fd77:3::/64", &nets[2].subnet6, NULL, 0), 0);
        assert_int_equal(net_prefix_parse("192.168.77.0/24", &protected[0], NULL, 0), 0);
        assert_int_equal(net_prefix_parse("fd77:99::/64", &protected[1], NULL, 0), 0);
        assert_int_equal(net_prefix_parse("203.0.113.0/24", &protected[2], NULL, 0), 0);

        assert_int_equal(net_rules_render(&(NetRules) { .networks = nets,
                                                        .n_networks = ELEMENTSOF(nets),
                                                        .protected = protected,
                                                        .n_protected = 3 },
                                          &script),
                         0);
        assert_int_equal(write_string_file(rules_path, script, WRITE_CREATE), 0);
        if (harness_sh(&out, &err, "ip netns exec %s nft -f %s", ns_host, rules_path) != 0)
                fail_msg("nft -f refused the rendered rules: %s\n%s", strna(err), script);
}

static void unload_rules(void) {
        _cleanup_free_ char *err = NULL;

        if (harness_sh(NULL, &err, "ip netns exec %s nft -f - <<'EOF'\n%sEOF", ns_host,
                       net_rules_remove_script()) != 0)
                fail_msg("cannot remove the rules: %s", strna(err));
}

/* The packets a named counter has counted (family "bridge" or "inet"). */
static uint64_t counter(const char *family, const char *name) {
        _cleanup_free_ char *out = NULL, *err = NULL;
        const char *p;

        if (harness_sh(&out, &err, "ip netns exec %s nft -j list counter %s " NET_RULES_TABLE " %s", ns_host,
                       family, name) != 0)
                fail_msg("cannot read counter %s %s: %s", family, name, strna(err));
        p = out ? strstr(out, "\"packets\": ") : NULL;
        if (!p)
                fail_msg("no packets in counter %s %s: %s", family, name, strna(out));
        return strtoull(p + strlen("\"packets\": "), NULL, 10);
}

/* ------------------------------------------------------------------ processes in a namespace */

static uint64_t now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* Forks a child in namespace ns; it is killed by SIGALRM after 10 s whatever it does. Returns its
 * pid in the parent, 0 in the child. */
static pid_t fork_in(const char *ns) {
        char path[128];
        pid_t pid;

        pid = fork();
        assert_true(pid >= 0);
        if (pid > 0)
                return pid;
        alarm(10);
        snprintf(path, sizeof(path), "/run/netns/%s", ns);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
                _exit(99);
        close(fd);
        return 0;
}

static int wait_exit(pid_t pid) {
        int status;

        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Reads up to size - 1 bytes from fd within timeout_ms (what came, NUL-terminated); 0 when
 * nothing came. */
static size_t read_within(int fd, char *buf, size_t size, int timeout_ms) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        ssize_t n;

        buf[0] = 0;
        if (poll(&p, 1, timeout_ms) <= 0)
                return 0;
        n = read(fd, buf, size - 1);
        if (n <= 0)
                return 0;
        buf[n] = 0;
        return (size_t) n;
}

static int family_of(const char *addr) {
        return strchr(addr, ':') ? AF_INET6 : AF_INET;
}

static socklen_t sockaddr_of(const char *addr, uint16_t port, struct sockaddr_storage *ret) {
        memset(ret, 0, sizeof(*ret));
        if (family_of(addr) == AF_INET6) {
                struct sockaddr_in6 *s = (struct sockaddr_in6 *) ret;

                s->sin6_family = AF_INET6;
                s->sin6_port = htons(port);
                if (inet_pton(AF_INET6, addr, &s->sin6_addr) != 1)
                        _exit(98);
                return sizeof(*s);
        }
        struct sockaddr_in *s = (struct sockaddr_in *) ret;
        s->sin_family = AF_INET;
        s->sin_port = htons(port);
        if (inet_pton(AF_INET, addr, &s->sin_addr) != 1)
                _exit(98);
        return sizeof(*s);
}

static void peer_string(const struct sockaddr_storage *ss, char *buf, size_t size) {
        if (ss->ss_family == AF_INET6)
                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *) ss)->sin6_addr, buf, (socklen_t) size);
        else
                inet_ntop(AF_INET, &((const struct sockaddr_in *) ss)->sin_addr, buf, (socklen_t) size);
}

/* A listener in a namespace: a TCP or UDP socket bound to addr:port that reports the address of
 * the first peer that connects or sends, within 8 s. */
typedef struct Listener {
        pid_t pid;
        int result;
} Listener;

static Listener listen_in(const char *ns, int type, const char *addr, uint16_t port) {
        int ready[2], result[2];
        Listener l;
        char c[8];
        pid_t pid;

        assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
        assert_int_equal(pipe2(result, O_CLOEXEC), 0);
        pid = fork_in(ns);
        if (pid == 0) {
                struct sockaddr_storage ss, peer = {};
                socklen_t sl = sockaddr_of(addr, port, &ss), pl = sizeof(peer);
                int s = socket(ss.ss_family, type, 0), one = 1;
                char buf[256], text[INET6_ADDRSTRLEN] = "";
                struct pollfd p = { .fd = s, .events = POLLIN };

                (void) setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                if (ss.ss_family == AF_INET6)
                        (void) setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
                if (s < 0 || bind(s, (struct sockaddr *) &ss, sl) < 0 ||
                    (type == SOCK_STREAM && listen(s, 4) < 0))
                        _exit(97);
                if (write(ready[1], "R", 1) != 1)
                        _exit(96);
                if (poll(&p, 1, 8000) <= 0)
                        _exit(1);
                if (type == SOCK_STREAM) {
                        int c2 = accept(s, (struct sockaddr *) &peer, &pl);
                        if (c2 < 0)
                                _exit(2);
                } else if (recvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *) &peer, &pl) < 0)
                        _exit(2);
                peer_string(&peer, text, sizeof(text));
                if (write(result[1], text, strlen(text)) < 0)
                        _exit(3);
                _exit(0);
        }
        close(ready[1]);
        close(result[1]);
        if (read_within(ready[0], c, sizeof(c), 5000) != 1) {
                kill(pid, SIGKILL);
                wait_exit(pid);
                fail_msg("a listener on %s port %u in %s did not start", addr, port, ns);
        }
        close(ready[0]);
        l.pid = pid;
        l.result = result[0];
        return l;
}

/* Whether something reached the listener within timeout_ms, and from which address. Ends it. */
static bool listener_reached(Listener *l, int timeout_ms, char peer[static INET6_ADDRSTRLEN]) {
        size_t n = read_within(l->result, peer, INET6_ADDRSTRLEN, timeout_ms);

        kill(l->pid, SIGKILL);
        wait_exit(l->pid);
        close(l->result);
        return n > 0;
}

/* Connects (TCP) or sends three datagrams (UDP) from namespace ns to addr:port, giving up after
 * timeout_ms; the exit status of the child says whether a TCP connection was made. */
static bool client(const char *ns, int type, const char *addr, uint16_t port, int timeout_ms) {
        pid_t pid = fork_in(ns);

        if (pid == 0) {
                struct sockaddr_storage ss;
                socklen_t sl = sockaddr_of(addr, port, &ss);
                int s = socket(ss.ss_family, type | SOCK_NONBLOCK, 0), err = 0;
                socklen_t el = sizeof(err);
                struct pollfd p = { .fd = s, .events = POLLOUT };

                if (s < 0)
                        _exit(97);
                if (type == SOCK_DGRAM) {
                        for (int k = 0; k < 3; k++) {
                                (void) sendto(s, "ark", 3, 0, (struct sockaddr *) &ss, sl);
                                usleep(100 * 1000);
                        }
                        _exit(0);
                }
                if (connect(s, (struct sockaddr *) &ss, sl) < 0 && errno != EINPROGRESS)
                        _exit(1);
                if (poll(&p, 1, timeout_ms) <= 0)
                        _exit(1);
                if (getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err != 0)
                        _exit(1);
                (void) write(s, "ark\n", 4);
                _exit(0);
        }
        return wait_exit(pid) == 0;
}

/* Whether a TCP connection (or UDP datagrams) from namespace `from` to connect_addr:connect_port
 * reaches a listener on listen_addr:port in namespace `to`; the peer it saw in *ret_peer. */
static bool reaches(const char *from, const char *to, int type, const char *listen_addr, uint16_t port,
                    const char *connect_addr, uint16_t connect_port, bool expect,
                    char ret_peer[static INET6_ADDRSTRLEN]) {
        Listener l = listen_in(to, type, listen_addr, port);

        (void) client(from, type, connect_addr, connect_port, expect ? 4000 : 1500);
        return listener_reached(&l, expect ? 3000 : 500, ret_peer);
}

static bool ping(const char *ns, const char *addr, bool expect) {
        return harness_sh(NULL, NULL, "ip netns exec %s busybox ping -c %d -W %d %s >/dev/null 2>&1", ns,
                          expect ? 2 : 1, expect ? 3 : 1, addr) == 0;
}

#define CHECK_PING(ns_ep, addr, expect, what) \
        do { \
                if (ping((ns_ep)->ns, (addr), (expect)) != (expect)) \
                        fail_msg("%s: ping from %s to %s %s", (what), (ns_ep)->role, (addr), \
                                 (expect) ? "got no answer" : "got an answer"); \
        } while (0)

/* ------------------------------------------------------------------ frames */

typedef struct Frame {
        uint8_t b[128];
        size_t n;
} Frame;

static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t all_nodes[6] = { 0x33, 0x33, 0, 0, 0, 1 };

static void put(Frame *f, const void *p, size_t n) {
        assert_true(f->n + n <= sizeof(f->b));
        memcpy(f->b + f->n, p, n);
        f->n += n;
}

static void put16(Frame *f, uint16_t v) {
        uint8_t b[2] = { (uint8_t) (v >> 8), (uint8_t) v };
        put(f, b, 2);
}

static void put_eth(Frame *f, const uint8_t dst[6], const uint8_t src[6], uint16_t type) {
        f->n = 0;
        put(f, dst, 6);
        put(f, src, 6);
        put16(f, type);
}

static uint32_t sum16(uint32_t s, const uint8_t *p, size_t n) {
        for (size_t k = 0; k + 1 < n; k += 2)
                s += (uint32_t) (p[k] << 8 | p[k + 1]);
        if (n & 1)
                s += (uint32_t) (p[n - 1] << 8);
        return s;
}

static uint16_t fold(uint32_t s) {
        while (s >> 16)
                s = (s & 0xffff) + (s >> 16);
        return (uint16_t) ~s;
}

static void addr_bytes(int family, const char *s, uint8_t *ret) {
        assert_int_equal(inet_pton(family, s, ret), 1);
}

/* An IPv4 packet after the Ethernet header (whose type the caller wrote); l4 with its checksum
 * field at l4_csum (or none: SIZE_MAX), computed over the pseudo header. */
static void put_ip4(Frame *f, const char *src, const char *dst, uint8_t proto, uint8_t *l4, size_t l4_len,
                    size_t l4_csum) {
        uint8_t h[20] = { 0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, proto }, pseudo[12];
        uint16_t c;

        h[2] = (uint8_t) ((20 + l4_len) >> 8);
        h[3] = (uint8_t) (20 + l4_len);
        addr_bytes(AF_INET, src, h + 12);
        addr_bytes(AF_INET, dst, h + 16);
        c = fold(sum16(0, h, 20));
        h[10] = (uint8_t) (c >> 8);
        h[11] = (uint8_t) c;
        if (l4_csum != SIZE_MAX) {
                memcpy(pseudo, h + 12, 8);
                pseudo[8] = 0;
                pseudo[9] = proto;
                pseudo[10] = (uint8_t) (l4_len >> 8);
                pseudo[11] = (uint8_t) l4_len;
                c = fold(sum16(sum16(0, pseudo, 12), l4, l4_len));
                l4[l4_csum] = (uint8_t) (c >> 8);
                l4[l4_csum + 1] = (uint8_t) c;
        }
        put(f, h, 20);
        put(f, l4, l4_len);
}

static void put_ip6(Frame *f, const char *src, const char *dst, uint8_t nh, uint8_t *l4, size_t l4_len,
                    size_t l4_csum) {
        uint8_t h[40] = { 0x60, 0, 0, 0, 0, 0, nh, 255 }, pseudo[40] = {};
        uint16_t c;

        h[4] = (uint8_t) (l4_len >> 8);
        h[5] = (uint8_t) l4_len;
        addr_bytes(AF_INET6, src, h + 8);
        addr_bytes(AF_INET6, dst, h + 24);
        memcpy(pseudo, h + 8, 32);
        pseudo[34] = (uint8_t) (l4_len >> 8);
        pseudo[35] = (uint8_t) l4_len;
        pseudo[39] = nh;
        c = fold(sum16(sum16(0, pseudo, 40), l4, l4_len));
        l4[l4_csum] = (uint8_t) (c >> 8);
        l4[l4_csum + 1] = (uint8_t) c;
        put(f, h, 40);
        put(f, l4, l4_len);
}

/* UDP with an 8-byte marker as its payload. */
static void frame_udp(Frame *f, const uint8_t dmac[6], const uint8_t smac[6], const char *src,
                      const char *dst, uint16_t sport, uint16_t dport, const char marker[8]) {
        uint8_t u[16] = {
                (uint8_t) (sport >> 8), (uint8_t) sport, (uint8_t) (dport >> 8), (uint8_t) dport, 0, 16
        };

        memcpy(u + 8, marker, 8);
        if (family_of(src) == AF_INET6) {
                put_eth(f, dmac, smac, ETHERTYPE_IPV6);
                put_ip6(f, src, dst, IPPROTO_UDP, u, sizeof(u), 6);
        } else {
                put_eth(f, dmac, smac, ETHERTYPE_IP);
                put_ip4(f, src, dst, IPPROTO_UDP, u, sizeof(u), 6);
        }
}

/* ICMPv6 of `type` with 4 bytes of flags/reserved, an optional 16-byte target and the marker. */
static void frame_icmp6(Frame *f, const uint8_t dmac[6], const uint8_t smac[6], const char *src,
                        const char *dst, uint8_t type, const char *target, const char marker[8]) {
        uint8_t m[36] = { type };
        size_t n = 8;

        if (type == 136)
                m[4] = 0x20; /* override */
        if (target) {
                addr_bytes(AF_INET6, target, m + 8);
                n += 16;
        } else if (type == 134)
                n += 8; /* reachable time, retransmission timer */
        memcpy(m + n, marker, 8);
        n += 8;
        put_eth(f, dmac, smac, ETHERTYPE_IPV6);
        put_ip6(f, src, dst, IPPROTO_ICMPV6, m, n, 2);
}

/* An ARP request (padded to the Ethernet minimum, the padding holding the marker). */
static void frame_arp(Frame *f, const uint8_t smac[6], const uint8_t sha[6], const char *spa,
                      const char *tpa, const char marker[8]) {
        uint8_t a[28] = { 0, 1, 8, 0, 6, 4, 0, 1 }, pad[18] = {};

        memcpy(a + 8, sha, 6);
        addr_bytes(AF_INET, spa, a + 14);
        addr_bytes(AF_INET, tpa, a + 24);
        memcpy(pad, marker, 8);
        put_eth(f, bcast, smac, ETHERTYPE_ARP);
        put(f, a, sizeof(a));
        put(f, pad, sizeof(pad));
}

/* Writes frames on eth0 of namespace ns, in order. */
static void send_frames(const char *ns, const Frame *frames, size_t n) {
        pid_t pid = fork_in(ns);

        if (pid == 0) {
                int s = socket(AF_PACKET, SOCK_RAW, 0);
                struct sockaddr_ll ll = { .sll_family = AF_PACKET,
                                          .sll_ifindex = (int) if_nametoindex("eth0"),
                                          .sll_halen = 6 };

                if (s < 0 || ll.sll_ifindex == 0)
                        _exit(97);
                for (size_t k = 0; k < n; k++) {
                        memcpy(ll.sll_addr, frames[k].b, 6);
                        if (sendto(s, frames[k].b, frames[k].n, 0, (struct sockaddr *) &ll, sizeof(ll)) < 0)
                                _exit(1);
                }
                _exit(0);
        }
        if (wait_exit(pid) != 0)
                fail_msg("cannot write frames in %s", ns);
}

/* Watches eth0 of namespace ns (promiscuous) for a frame holding `marker`, until a frame holding
 * `control` has come (and a little after): frames that one port sends to another arrive in the
 * order sent, so when the control frame, sent last, has come and the marked one has not, the
 * marked one was dropped. Returns whether the marked frame came; fails the test when the
 * control frame does not come. */
typedef struct Sniffer {
        pid_t pid;
        int result;
} Sniffer;

static Sniffer sniff_in(const char *ns, const char marker[8], const char control[8]) {
        int ready[2], result[2];
        char c[8];
        pid_t pid;

        assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
        assert_int_equal(pipe2(result, O_CLOEXEC), 0);
        pid = fork_in(ns);
        if (pid == 0) {
                int s = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
                struct sockaddr_ll ll = { .sll_family = AF_PACKET,
                                          .sll_protocol = htons(ETH_P_ALL),
                                          .sll_ifindex = (int) if_nametoindex("eth0") };
                struct packet_mreq mr = { .mr_ifindex = ll.sll_ifindex, .mr_type = PACKET_MR_PROMISC };
                bool seen = false, control_seen = false;
                uint64_t end = now_ms() + 5000;
                char verdict;

                if (s < 0 || bind(s, (struct sockaddr *) &ll, sizeof(ll)) < 0 ||
                    setsockopt(s, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0)
                        _exit(97);
                if (write(ready[1], "R", 1) != 1)
                        _exit(96);
                while (now_ms() < end) {
                        struct pollfd p = { .fd = s, .events = POLLIN };
                        uint8_t buf[2048];
                        struct sockaddr_ll from;
                        socklen_t fl = sizeof(from);
                        ssize_t n;

                        if (poll(&p, 1, (int) (end - now_ms())) <= 0)
                                break;
                        n = recvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *) &from, &fl);
                        if (n <= 0 || from.sll_pkttype == PACKET_OUTGOING)
                                continue;
                        if (memmem(buf, (size_t) n, marker, 8))
                                seen = true;
                        if (!control_seen && memmem(buf, (size_t) n, control, 8)) {
                                control_seen = true;
                                end = now_ms() + 200; /* a frame overtaken, if ever */
                        }
                }
                verdict = control_seen ? (seen ? 'Y' : 'N') : '?';
                if (write(result[1], &verdict, 1) != 1)
                        _exit(3);
                _exit(0);
        }
        close(ready[1]);
        close(result[1]);
        if (read_within(ready[0], c, sizeof(c), 5000) != 1) {
                kill(pid, SIGKILL);
                wait_exit(pid);
                fail_msg("a sniffer in %s did not start", ns);
        }
        close(ready[0]);
        return (Sniffer) { .pid = pid, .result = result[0] };
}

/* Sends `frame` from endpoint `from`, then a control frame (plain UDP from its own addresses) to
 * endpoint `to`, and returns whether `to` saw the frame. */
static bool frame_passes(const char *what, const Endpoint *from, const Endpoint *to, Frame *frame,
                         const char marker[8]) {
        char control[8], verdict[4];
        Frame frames[2];
        Sniffer s;

        memcpy(control, "ARKCTRL", 7);
        control[7] = marker[6];
        frame_udp(&frames[1], to->mac, from->mac, from->ip4, to->ip4, 40000, 9, control);
        frames[0] = *frame;
        s = sniff_in(to->ns, marker, control);
        send_frames(from->ns, frames, 2);
        read_within(s.result, verdict, sizeof(verdict), 8000);
        kill(s.pid, SIGKILL);
        wait_exit(s.pid);
        close(s.result);
        if (verdict[0] != 'Y' && verdict[0] != 'N')
                fail_msg("%s: the control frame from %s never reached %s", what, from->role, to->role);
        return verdict[0] == 'Y';
}

/* The frames that must not pass, each with the counter its drop counts in. The addresses they
 * claim are nobody's: let through (without the rules), a claim of a1's address with another MAC
 * would point the neighbour caches of a2 and the host at that MAC for a while. */
typedef struct BadFrame {
        const char *what;
        const char *counter;
        Frame frame;
        char marker[8];
} BadFrame;

static const char *link_local(const Endpoint *e, char buf[static INET6_ADDRSTRLEN]) {
        snprintf(buf, INET6_ADDRSTRLEN, "fe80::%02x%02x:%02xff:fe%02x:%02x%02x", e->mac[0] ^ 2, e->mac[1],
                 e->mac[2], e->mac[3], e->mac[4], e->mac[5]);
        return buf;
}

static size_t bad_frames(BadFrame *b) {
        static const uint8_t other_mac[6] = { 0x52, 0x54, 0, 0x66, 0x66, 0x66 };
        char ll1[INET6_ADDRSTRLEN], ll2[INET6_ADDRSTRLEN];
        size_t n = 0;

        link_local(&a1, ll1);
        link_local(&a2, ll2);
#define BAD(w, c) \
        (b[n] = (BadFrame) { .what = (w), .counter = (c) }, snprintf(b[n].marker, 8, "ARKB%03zu", n), &b[n])
        BadFrame *x;

        x = BAD("spoofed source MAC", NET_RULES_COUNTER_SPOOF);
        frame_udp(&x->frame, a2.mac, other_mac, a1.ip4, a2.ip4, 40000, 9, x->marker);
        n++;
        x = BAD("spoofed source IPv4 address", NET_RULES_COUNTER_SPOOF);
        frame_udp(&x->frame, a2.mac, a1.mac, "10.77.1.50", a2.ip4, 40000, 9, x->marker);
        n++;
        x = BAD("spoofed ARP sender address", NET_RULES_COUNTER_SPOOF);
        frame_arp(&x->frame, a1.mac, a1.mac, "10.77.1.50", a1.gw4, x->marker);
        n++;
        x = BAD("spoofed ARP sender MAC", NET_RULES_COUNTER_SPOOF);
        frame_arp(&x->frame, a1.mac, other_mac, "10.77.1.51", a1.gw4, x->marker);
        n++;
        x = BAD("spoofed source IPv6 address", NET_RULES_COUNTER_SPOOF);
        frame_udp(&x->frame, a2.mac, a1.mac, "fd77:1::50", a2.ip6, 40000, 9, x->marker);
        n++;
        x = BAD("neighbour advertisement for another's address", NET_RULES_COUNTER_SPOOF);
        frame_icmp6(&x->frame, all_nodes, a1.mac, ll1, "ff02::1", 136, "fd77:1::50", x->marker);
        n++;
        x = BAD("duplicate address detection for another's address", NET_RULES_COUNTER_SPOOF);
        frame_icmp6(&x->frame, all_nodes, a1.mac, "::", "ff02::1", 135, "fd77:1::50", x->marker);
        n++;
        x = BAD("VLAN-tagged frame", NET_RULES_COUNTER_SPOOF);
        {
                Frame inner;

                frame_udp(&inner, a2.mac, a1.mac, "10.77.1.50", a2.ip4, 40000, 9, x->marker);
                put_eth(&x->frame, a2.mac, a1.mac, ETHERTYPE_VLAN);
                put16(&x->frame, 100);
                put16(&x->frame, ETHERTYPE_IP);
                put(&x->frame, inner.b + 14, inner.n - 14);
        }
        n++;
        x = BAD("DHCP offer", NET_RULES_COUNTER_DHCP);
        frame_udp(&x->frame, bcast, a1.mac, a1.ip4, "255.255.255.255", 67, 68, x->marker);
        n++;
        x = BAD("DHCPv6 advertise", NET_RULES_COUNTER_DHCP);
        frame_udp(&x->frame, a2.mac, a1.mac, ll1, ll2, 547, 546, x->marker);
        n++;
        x = BAD("router advertisement", NET_RULES_COUNTER_RA);
        frame_icmp6(&x->frame, all_nodes, a1.mac, ll1, "ff02::1", 134, NULL, x->marker);
        n++;
#undef BAD
        return n;
}

/* ------------------------------------------------------------------ the tests */

/* Everything the rules are to stop gets through without them: the topology works, and each
 * check below can fail. */
static void test_without_rules(void **state) {
        BadFrame bad[16];
        char peer[INET6_ADDRSTRLEN];
        size_t n;

        REQUIRE_NAMESPACES();
        unload_rules();
        CHECK_PING(&a1, a2.ip4, true, "without rules, same network");
        CHECK_PING(&a1, b1.ip4, true, "without rules, tenant A to B");
        CHECK_PING(&b1, a1.ip6, true, "without rules, tenant B to A over IPv6");
        CHECK_PING(&a1, a3.ip4, true, "without rules, NAT to isolated network");
        CHECK_PING(&a1, MGMT4, true, "without rules, management address");
        CHECK_PING(&a1, b1.gw4, true, "without rules, another network's gateway");
        if (!reaches(a1.ns, ns_host, SOCK_STREAM, MGMT4, 22, MGMT4, 22, true, peer))
                fail_msg("without rules, a1 does not reach the host's management port");
        if (!reaches(a3.ns, ns_site, SOCK_STREAM, UPLINK_SITE, 7000, UPLINK_SITE, 7000, true, peer))
                fail_msg("without rules, the isolated network does not reach the site");
        assert_string_equal(peer, a3.ip4); /* the site routes the tenants' subnets back */
        if (!reaches(a3.ns, ns_site, SOCK_STREAM, UPLINK_SITE6, 7000, UPLINK_SITE6, 7000, true, peer))
                fail_msg("without rules, the isolated network does not reach the site over IPv6");
        assert_string_equal(peer, a3.ip6);
        if (!reaches(a1.ns, ns_site, SOCK_STREAM, SITE_PROTECTED, 7001, SITE_PROTECTED, 7001, true, peer))
                fail_msg("without rules, a1 does not reach the protected prefix behind the site");

        n = bad_frames(bad);
        for (size_t k = 0; k < n; k++)
                if (!frame_passes(bad[k].what, &a1, &a2, &bad[k].frame, bad[k].marker))
                        fail_msg("without rules, the %s from a1 does not reach a2", bad[k].what);
        /* Forget what the frames taught the neighbour caches and the bridges. */
        (void) harness_sh(NULL, NULL, "for n in %s %s %s %s %s %s; do ip -n $n neigh flush all; done",
                          ns_host, ns_site, a1.ns, a2.ns, a3.ns, b1.ns);
}

static void test_same_network(void **state) {
        char peer[INET6_ADDRSTRLEN];

        REQUIRE_NAMESPACES();
        load_rules(true);
        CHECK_PING(&a1, a2.ip4, true, "same network");
        CHECK_PING(&a2, a1.ip4, true, "same network");
        /* Neighbour solicitations name the peer's address: they must pass. */
        CHECK_PING(&a1, a2.ip6, true, "same network, IPv6");
        CHECK_PING(&a2, a1.ip6, true, "same network, IPv6");
        if (!reaches(a1.ns, a2.ns, SOCK_STREAM, a2.ip4, 5000, a2.ip4, 5000, true, peer))
                fail_msg("same network: TCP from a1 to a2 does not connect");
        assert_string_equal(peer, a1.ip4);
        if (!reaches(a2.ns, a1.ns, SOCK_STREAM, a1.ip6, 5000, a1.ip6, 5000, true, peer))
                fail_msg("same network: TCP over IPv6 from a2 to a1 does not connect");
        /* The gateway answers echo, and takes DNS and DHCP. */
        CHECK_PING(&a1, a1.gw4, true, "echo to the gateway");
        CHECK_PING(&a1, a1.gw6, true, "echo to the gateway over IPv6");
        if (!reaches(a1.ns, ns_host, SOCK_DGRAM, a1.gw4, 53, a1.gw4, 53, true, peer))
                fail_msg("DNS (udp 53) to the gateway does not reach a listener");
        if (!reaches(a1.ns, ns_host, SOCK_DGRAM, a1.gw6, 53, a1.gw6, 53, true, peer))
                fail_msg("DNS (udp 53) to the gateway's IPv6 address does not reach a listener");
        if (!reaches(a1.ns, ns_host, SOCK_STREAM, a1.gw4, 53, a1.gw4, 53, true, peer))
                fail_msg("DNS (tcp 53) to the gateway does not connect");

        /* DHCP discovery, from 0.0.0.0 to the broadcast address: a raw frame, as a client sends
         * it before it has an address. */
        Listener l = listen_in(ns_host, SOCK_DGRAM, "0.0.0.0", 67);
        Frame f;
        frame_udp(&f, bcast, a1.mac, "0.0.0.0", "255.255.255.255", 68, 67, "ARKDHCP1");
        send_frames(a1.ns, &f, 1);
        if (!listener_reached(&l, 3000, peer))
                fail_msg("a DHCP discovery from 0.0.0.0 does not reach a server on the host");
        assert_string_equal(peer, "0.0.0.0");
}

static void test_isolation(void **state) {
        char peer[INET6_ADDRSTRLEN];
        uint64_t fwd0, host0;

        REQUIRE_NAMESPACES();
        load_rules(true);
        fwd0 = counter("inet", NET_RULES_COUNTER_FORWARD);
        host0 = counter("inet", NET_RULES_COUNTER_HOST);

        /* Tenants, both ways, both families. */
        CHECK_PING(&a1, b1.ip4, false, "tenant A to tenant B");
        CHECK_PING(&b1, a1.ip4, false, "tenant B to tenant A");
        CHECK_PING(&a1, b1.ip6, false, "tenant A to tenant B over IPv6");
        CHECK_PING(&b1, a1.ip6, false, "tenant B to tenant A over IPv6");
        if (reaches(a1.ns, b1.ns, SOCK_STREAM, b1.ip4, 5000, b1.ip4, 5000, false, peer))
                fail_msg("tenant A to tenant B: TCP connects");
        if (reaches(b1.ns, a2.ns, SOCK_STREAM, a2.ip6, 5000, a2.ip6, 5000, false, peer))
                fail_msg("tenant B to tenant A: TCP over IPv6 connects");
        /* Two networks of one tenant are separate segments too. */
        CHECK_PING(&a1, a3.ip4, false, "NAT network to isolated network");
        CHECK_PING(&a3, a2.ip4, false, "isolated network to NAT network");
        CHECK_PING(&a3, a1.ip6, false, "isolated network to NAT network over IPv6");
        if (counter("inet", NET_RULES_COUNTER_FORWARD) <= fwd0)
                fail_msg(
                        "traffic between networks was stopped, but not counted in " NET_RULES_COUNTER_FORWARD);

        /* The host: not its management address, not another network's gateway, not services
         * on its own gateway address but DNS and DHCP. */
        CHECK_PING(&a1, MGMT4, false, "to the host's management address");
        CHECK_PING(&a1, MGMT6, false, "to the host's management address over IPv6");
        CHECK_PING(&b1, a1.gw4, false, "to another network's gateway");
        if (reaches(a1.ns, ns_host, SOCK_STREAM, MGMT4, 22, MGMT4, 22, false, peer))
                fail_msg("a1 reaches the host's management port");
        if (reaches(a1.ns, ns_host, SOCK_STREAM, "0.0.0.0", 22, a1.gw4, 22, false, peer))
                fail_msg("a1 reaches the host's port 22 on its gateway address");
        if (reaches(a1.ns, ns_host, SOCK_DGRAM, "0.0.0.0", 53, b1.gw4, 53, false, peer))
                fail_msg("a1 reaches DNS on another network's gateway");
        if (counter("inet", NET_RULES_COUNTER_HOST) <= host0)
                fail_msg("traffic to the host was stopped, but not counted in " NET_RULES_COUNTER_HOST);
}

static void test_spoofing(void **state) {
        BadFrame bad[16];
        size_t n;

        REQUIRE_NAMESPACES();
        load_rules(true);
        n = bad_frames(bad);
        for (size_t k = 0; k < n; k++) {
                uint64_t before = counter("bridge", bad[k].counter);

                if (frame_passes(bad[k].what, &a1, &a2, &bad[k].frame, bad[k].marker))
                        fail_msg("the %s from a1 reaches a2", bad[k].what);
                if (counter("bridge", bad[k].counter) <= before)
                        fail_msg("the %s was dropped, but not counted in %s", bad[k].what, bad[k].counter);
        }
        /* ... while a2's own traffic still flows, and a1's. */
        CHECK_PING(&a1, a2.ip4, true, "same network, after spoofing");
        CHECK_PING(&a2, a1.ip6, true, "same network over IPv6, after spoofing");
}

static void test_nat(void **state) {
        char peer[INET6_ADDRSTRLEN];
        uint64_t fwd0;

        REQUIRE_NAMESPACES();
        load_rules(true);
        if (!reaches(a1.ns, ns_site, SOCK_STREAM, UPLINK_SITE, 7000, UPLINK_SITE, 7000, true, peer))
                fail_msg("the NAT network does not reach the site");
        if (!streq(peer, UPLINK_HOST))
                fail_msg("the NAT network reaches the site from %s, not from the host's uplink address",
                         peer);
        if (!reaches(a2.ns, ns_site, SOCK_STREAM, UPLINK_SITE6, 7000, UPLINK_SITE6, 7000, true, peer))
                fail_msg("the NAT network does not reach the site over IPv6");
        if (!streq(peer, UPLINK_HOST6))
                fail_msg("the NAT network reaches the site over IPv6 from %s,"
                         " not from the host's uplink address",
                         peer);
        if (!reaches(b1.ns, ns_site, SOCK_STREAM, UPLINK_SITE, 7000, UPLINK_SITE, 7000, true, peer))
                fail_msg("tenant B's NAT network does not reach the site");
        assert_string_equal(peer, UPLINK_HOST);

        fwd0 = counter("inet", NET_RULES_COUNTER_FORWARD);
        if (reaches(a3.ns, ns_site, SOCK_STREAM, UPLINK_SITE, 7000, UPLINK_SITE, 7000, false, peer))
                fail_msg("the isolated network reaches the site (from %s)", peer);
        if (reaches(a3.ns, ns_site, SOCK_STREAM, UPLINK_SITE6, 7000, UPLINK_SITE6, 7000, false, peer))
                fail_msg("the isolated network reaches the site over IPv6 (from %s)", peer);
        if (reaches(a1.ns, ns_site, SOCK_STREAM, SITE_PROTECTED, 7001, SITE_PROTECTED, 7001, false, peer))
                fail_msg("the NAT network reaches a protected prefix behind the uplink");
        if (counter("inet", NET_RULES_COUNTER_FORWARD) <= fwd0)
                fail_msg("routing out was stopped, but not counted in " NET_RULES_COUNTER_FORWARD);
}

static void test_forward(void **state) {
        char peer[INET6_ADDRSTRLEN];

        REQUIRE_NAMESPACES();
        load_rules(true);
        if (!reaches(ns_site, a1.ns, SOCK_STREAM, a1.ip4, 80, UPLINK_HOST, FORWARD_PORT, true, peer))
                fail_msg("the forward of tcp %d does not reach a1 port 80 from the site", FORWARD_PORT);
        assert_string_equal(peer, UPLINK_SITE);
        /* Not from another tenant, on any of the host's addresses. */
        if (reaches(b1.ns, a1.ns, SOCK_STREAM, a1.ip4, 80, b1.gw4, FORWARD_PORT, false, peer))
                fail_msg("tenant B reaches tenant A's forward on its gateway");
        if (reaches(b1.ns, a1.ns, SOCK_STREAM, a1.ip4, 80, UPLINK_HOST, FORWARD_PORT, false, peer))
                fail_msg("tenant B reaches tenant A's forward on the uplink address");

        /* Rendered and loaded again without it: gone, and the rest still there. */
        load_rules(false);
        if (reaches(ns_site, a1.ns, SOCK_STREAM, a1.ip4, 80, UPLINK_HOST, FORWARD_PORT, false, peer))
                fail_msg("the forward of tcp %d still reaches a1 once removed", FORWARD_PORT);
        if (!reaches(a1.ns, ns_site, SOCK_STREAM, UPLINK_SITE, 7000, UPLINK_SITE, 7000, true, peer))
                fail_msg("after reloading, the NAT network does not reach the site");
        CHECK_PING(&a1, b1.ip4, false, "tenant A to tenant B, after reloading");
}

/* The remove script takes both tables away, and everything flows again. */
static void test_remove(void **state) {
        _cleanup_free_ char *out = NULL;

        REQUIRE_NAMESPACES();
        load_rules(true);
        unload_rules();
        unload_rules(); /* again: no tables, no error */
        assert_int_equal(harness_sh(&out, NULL, "ip netns exec %s nft list tables", ns_host), 0);
        assert_null(strstr(strempty(out), NET_RULES_TABLE));
        CHECK_PING(&a1, b1.ip4, true, "tenant A to tenant B, rules removed");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_without_rules), cmocka_unit_test(test_same_network),
                cmocka_unit_test(test_isolation),     cmocka_unit_test(test_spoofing),
                cmocka_unit_test(test_nat),           cmocka_unit_test(test_forward),
                cmocka_unit_test(test_remove),
        };

        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

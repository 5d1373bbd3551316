/* Network links of tenant networks through libnl-route-3; see links.h. */

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_addr.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/link/vlan.h>
#include <netlink/route/route.h>
#include <sched.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "links.h"

struct NetLinks {
        struct nl_sock *sk;
};

DEFINE_TRIVIAL_CLEANUP_FUNC(struct rtnl_link, rtnl_link_put);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct rtnl_addr, rtnl_addr_put);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nl_cache, nl_cache_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nl_addr, nl_addr_put);

/* libnl's -NLE_* to -errno (libnl folds the kernel's errno into its own codes: nl_syserr2nlerr). */
static int errno_of_nl(int nlerr) {
        switch (nlerr < 0 ? -nlerr : nlerr) {
        case 0:
                return 0;
        case NLE_INTR:
                return -EINTR;
        case NLE_BAD_SOCK:
                return -EBADF;
        case NLE_AGAIN:
                return -EAGAIN;
        case NLE_NOMEM:
                return -ENOMEM;
        case NLE_EXIST:
                return -EEXIST;
        case NLE_INVAL:
        case NLE_MISSING_ATTR:
                return -EINVAL;
        case NLE_RANGE:
                return -ERANGE;
        case NLE_MSGSIZE:
        case NLE_MSG_TRUNC:
                return -EMSGSIZE;
        case NLE_OPNOTSUPP:
                return -EOPNOTSUPP;
        case NLE_AF_NOSUPPORT:
                return -EAFNOSUPPORT;
        case NLE_OBJ_NOTFOUND:
        case NLE_NODEV:
                return -ENODEV;
        case NLE_NOADDR:
                return -EADDRNOTAVAIL;
        case NLE_NOACCESS:
                return -EACCES;
        case NLE_PERM:
                return -EPERM;
        case NLE_BUSY:
                return -EBUSY;
        case NLE_PROTO_MISMATCH:
                return -EPROTONOSUPPORT;
        case NLE_IMMUTABLE:
                return -EROFS;
        default:
                return -EIO;
        }
}

static bool ifname_valid(const char *name) {
        return !isempty(name) && strlen(name) < IFNAMSIZ && !strchr(name, '/') && !strpbrk(name, " \t\n:");
}

static size_t family_bytes(int family) {
        return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

static unsigned family_bits(int family) {
        return (unsigned) family_bytes(family) * 8;
}

/* The network address of p: host bits cleared. */
static void prefix_normalize(NetPrefix *p) {
        size_t n = family_bytes(p->addr.family);

        for (size_t i = 0; i < n; i++) {
                unsigned bit = (unsigned) i * 8;

                if (p->len >= bit + 8)
                        continue;
                p->addr.bytes[i] &= p->len <= bit ? 0 : (uint8_t) (0xffu << (8 - (p->len - bit)));
        }
}

static bool addr_is_link_local(int family, const uint8_t *b) {
        if (family == AF_INET)
                return b[0] == 169 && b[1] == 254;    /* 169.254.0.0/16 */
        return b[0] == 0xfe && (b[1] & 0xc0) == 0x80; /* fe80::/10 */
}

static bool addr_is_loopback(int family, const uint8_t *b) {
        static const uint8_t lo6[16] = { [15] = 1 };

        if (family == AF_INET)
                return b[0] == 127;
        return memcmp(b, lo6, 16) == 0;
}

int net_links_open(NetLinks **ret) {
        _cleanup_free_ NetLinks *l = calloc(1, sizeof(NetLinks));
        int r;

        if (!l)
                return -ENOMEM;
        l->sk = nl_socket_alloc();
        if (!l->sk)
                return -ENOMEM;
        r = nl_connect(l->sk, NETLINK_ROUTE);
        if (r < 0) {
                nl_socket_free(l->sk);
                return log_debug_errno(errno_of_nl(r), "Failed to open a route netlink socket: %s",
                                       nl_geterror(r));
        }
        *ret = TAKE_PTR(l);
        return 0;
}

void net_links_close(NetLinks *l) {
        if (!l)
                return;
        nl_socket_free(l->sk); /* closes it */
        free(l);
}

/* The link named `name` as the kernel has it now. -ENODEV when there is none. */
static int link_get(NetLinks *l, const char *name, struct rtnl_link **ret) {
        int r;

        if (!ifname_valid(name))
                return -EINVAL;
        r = rtnl_link_get_kernel(l->sk, 0, name, ret);
        return r < 0 ? errno_of_nl(r) : 0;
}

static int link_get_ifindex(NetLinks *l, const char *name, int *ret) {
        _cleanup_(rtnl_link_putp) struct rtnl_link *link = NULL;
        int r = link_get(l, name, &link);

        if (r < 0)
                return r;
        *ret = rtnl_link_get_ifindex(link);
        return 0;
}

static int nl_addr_of(int family, const uint8_t *bytes, unsigned prefixlen, struct nl_addr **ret) {
        struct nl_addr *a = nl_addr_build(family, bytes, family_bytes(family));

        if (!a)
                return -ENOMEM;
        nl_addr_set_prefixlen(a, (int) prefixlen);
        *ret = a;
        return 0;
}

static int addr_add(NetLinks *l, int ifindex, const NetPrefix *p) {
        _cleanup_(rtnl_addr_putp) struct rtnl_addr *a = rtnl_addr_alloc();
        _cleanup_(nl_addr_putp) struct nl_addr *local = NULL, *brd = NULL;
        int r;

        if (!a)
                return -ENOMEM;
        r = nl_addr_of(p->addr.family, p->addr.bytes, p->len, &local);
        if (r < 0)
                return r;
        rtnl_addr_set_ifindex(a, ifindex);
        rtnl_addr_set_family(a, p->addr.family);
        r = rtnl_addr_set_local(a, local);
        if (r < 0)
                return errno_of_nl(r);
        rtnl_addr_set_prefixlen(a, (int) p->len);
        if (p->addr.family == AF_INET && p->len <= 30) {
                /* The subnet's broadcast address, as `ip addr add ... brd +` sets it: DHCP
                 * clients without an address yet are answered there. */
                uint8_t b[4];

                memcpy(b, p->addr.bytes, 4);
                for (unsigned i = p->len; i < 32; i++)
                        b[i / 8] |= (uint8_t) (0x80u >> (i % 8));
                r = nl_addr_of(AF_INET, b, 32, &brd);
                if (r < 0)
                        return r;
                r = rtnl_addr_set_broadcast(a, brd);
                if (r < 0)
                        return errno_of_nl(r);
        }
        if (p->addr.family == AF_INET6)
                /* The bridge is the router of its subnet and the address is ours alone: no
                 * duplicate address detection, which would keep it tentative (and unusable for
                 * dnsmasq to bind to) while the bridge has no port with carrier. */
                rtnl_addr_set_flags(a, IFA_F_NODAD);
        r = rtnl_addr_add(l->sk, a, 0);
        if (r == -NLE_EXIST)
                return 0;
        return errno_of_nl(r);
}

static bool addr_matches(struct rtnl_addr *a, const NetPrefix *p) {
        struct nl_addr *local = rtnl_addr_get_local(a);

        return p && p->addr.family != 0 && local && rtnl_addr_get_family(a) == p->addr.family &&
                nl_addr_get_len(local) == family_bytes(p->addr.family) &&
                memcmp(nl_addr_get_binary_addr(local), p->addr.bytes, family_bytes(p->addr.family)) == 0 &&
                (unsigned) rtnl_addr_get_prefixlen(a) == p->len;
}

/* Makes ifindex hold exactly the two of `want` (NULL or family 0: none), link-local IPv6 addresses
 * aside. Extra addresses go first: removing a primary IPv4 address can take its secondaries with
 * it, so what is missing is decided on a fresh dump afterwards. */
static int addrs_sync(NetLinks *l, int ifindex, const NetPrefix *want[2]) {
        const size_t n_want = 2;
        bool have[2];
        int r;

        for (int pass = 0; pass < 2; pass++) {
                _cleanup_(nl_cache_freep) struct nl_cache *cache = NULL;

                r = rtnl_addr_alloc_cache(l->sk, &cache);
                if (r < 0)
                        return errno_of_nl(r);
                memset(have, 0, sizeof(have));
                for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
                        struct rtnl_addr *a = (struct rtnl_addr *) o;
                        struct nl_addr *local = rtnl_addr_get_local(a);
                        int family = rtnl_addr_get_family(a);
                        bool wanted = false;

                        if (rtnl_addr_get_ifindex(a) != ifindex || !local ||
                            (family != AF_INET && family != AF_INET6))
                                continue;
                        if (family == AF_INET6 && nl_addr_get_len(local) == 16 &&
                            addr_is_link_local(AF_INET6, nl_addr_get_binary_addr(local)))
                                continue;
                        for (size_t i = 0; i < n_want; i++)
                                if (addr_matches(a, want[i])) {
                                        have[i] = wanted = true;
                                        break;
                                }
                        if (wanted || pass == 1)
                                continue;
                        r = rtnl_addr_delete(l->sk, a, 0);
                        if (r < 0 && r != -NLE_NOADDR && r != -NLE_OBJ_NOTFOUND)
                                return errno_of_nl(r);
                }
        }
        for (size_t i = 0; i < n_want; i++) {
                if (have[i] || !want[i] || want[i]->addr.family == 0)
                        continue;
                r = addr_add(l, ifindex, want[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int link_set_mtu(NetLinks *l, struct rtnl_link *link, unsigned mtu) {
        _cleanup_(rtnl_link_putp) struct rtnl_link *changes = rtnl_link_alloc();
        int r;

        if (!changes)
                return -ENOMEM;
        rtnl_link_set_mtu(changes, mtu);
        r = rtnl_link_change(l->sk, link, changes, 0);
        return r < 0 ? errno_of_nl(r) : 0;
}

static bool prefix_valid(const NetPrefix *p, int family) {
        return !p || p->addr.family == 0 || (p->addr.family == family && p->len <= family_bits(family));
}

int net_bridge_ensure(NetLinks *l, const char *name, const uint8_t mac[static 6], unsigned mtu,
                      const NetPrefix *addr4, const NetPrefix *addr6) {
        _cleanup_(rtnl_link_putp) struct rtnl_link *link = NULL, *changes = NULL;
        _cleanup_(nl_addr_putp) struct nl_addr *lladdr = NULL;
        const NetPrefix *want[] = { addr4, addr6 };
        struct nl_addr *cur;
        bool changed = false, created = false;
        int r;

        if (!ifname_valid(name) || !prefix_valid(addr4, AF_INET) || !prefix_valid(addr6, AF_INET6) ||
            mtu < 68 || mtu > 65535)
                return -EINVAL;
        lladdr = nl_addr_build(AF_LLC, mac, 6);
        if (!lladdr)
                return -ENOMEM;

        r = link_get(l, name, &link);
        if (r == -ENODEV) {
                _cleanup_(rtnl_link_putp) struct rtnl_link *br = rtnl_link_bridge_alloc();

                if (!br)
                        return -ENOMEM;
                /* No MTU here: one given at creation is not the user's for the kernel, and the
                 * bridge would follow the smallest MTU of its ports (br_mtu_auto_adjust). It is
                 * set below, through a change, which pins it. */
                rtnl_link_set_name(br, name);
                rtnl_link_set_addr(br, lladdr);
                rtnl_link_set_flags(br, IFF_UP);
                r = rtnl_link_add(l->sk, br, NLM_F_CREATE | NLM_F_EXCL);
                if (r < 0 && r != -NLE_EXIST) /* made by someone else meanwhile: checked below */
                        return log_debug_errno(errno_of_nl(r), "Failed to create bridge '%s': %s", name,
                                               nl_geterror(r));
                created = r >= 0;
                r = link_get(l, name, &link);
        }
        if (r < 0)
                return r;
        if (!rtnl_link_is_bridge(link))
                return log_debug_errno(-EEXIST, "Link '%s' exists and is not a bridge.", name);
        if (created && rtnl_link_get_mtu(link) == mtu) {
                /* The kernel marks a bridge's MTU as set by the user only when it changes it: the
                 * network's MTU (handed out by DHCP) goes through a neighbour value first, while
                 * the new bridge has neither ports nor addresses. */
                r = link_set_mtu(l, link, mtu > 68 ? mtu - 1 : mtu + 1);
                if (r < 0)
                        return r;
                rtnl_link_set_mtu(link, mtu > 68 ? mtu - 1 : mtu + 1);
        }

        changes = rtnl_link_alloc();
        if (!changes)
                return -ENOMEM;
        cur = rtnl_link_get_addr(link);
        if (!cur || nl_addr_cmp(cur, lladdr) != 0) {
                rtnl_link_set_addr(changes, lladdr);
                changed = true;
        }
        if (rtnl_link_get_mtu(link) != mtu) {
                rtnl_link_set_mtu(changes, mtu);
                changed = true;
        }
        if (!(rtnl_link_get_flags(link) & IFF_UP)) {
                rtnl_link_set_flags(changes, IFF_UP);
                changed = true;
        }
        if (changed) {
                r = rtnl_link_change(l->sk, link, changes, 0);
                if (r < 0)
                        return log_debug_errno(errno_of_nl(r), "Failed to correct bridge '%s': %s", name,
                                               nl_geterror(r));
        }

        /* After it is up: IPv6 addresses a link holds are flushed when it goes down. */
        return addrs_sync(l, rtnl_link_get_ifindex(link), want);
}

static int link_set_master_up(NetLinks *l, struct rtnl_link *link, int master) {
        _cleanup_(rtnl_link_putp) struct rtnl_link *changes = rtnl_link_alloc();
        int r;

        if (!changes)
                return -ENOMEM;
        if (rtnl_link_get_master(link) == master && (rtnl_link_get_flags(link) & IFF_UP))
                return 0;
        rtnl_link_set_master(changes, master);
        rtnl_link_set_flags(changes, IFF_UP);
        r = rtnl_link_change(l->sk, link, changes, 0);
        if (r < 0)
                return log_debug_errno(errno_of_nl(r), "Failed to make '%s' a port of link %d: %s",
                                       rtnl_link_get_name(link), master, nl_geterror(r));
        return 0;
}

int net_vlan_ensure(NetLinks *l, const char *name, const char *uplink, unsigned vid, const char *bridge) {
        _cleanup_(rtnl_link_putp) struct rtnl_link *link = NULL;
        int r, uplink_index, bridge_index;

        if (!ifname_valid(name) || vid < 1 || vid > 4094)
                return -EINVAL;
        r = link_get_ifindex(l, uplink, &uplink_index);
        if (r < 0)
                return r;
        r = link_get_ifindex(l, bridge, &bridge_index);
        if (r < 0)
                return r;

        r = link_get(l, name, &link);
        if (r >= 0 && !rtnl_link_is_vlan(link))
                return log_debug_errno(-EEXIST, "Link '%s' exists and is not a VLAN.", name);
        if (r >= 0 &&
            (rtnl_link_vlan_get_id(link) != (int) vid || rtnl_link_get_link(link) != uplink_index)) {
                /* Neither the VLAN id nor the uplink of a VLAN link can be changed: made anew. */
                r = rtnl_link_delete(l->sk, link);
                if (r < 0 && r != -NLE_OBJ_NOTFOUND && r != -NLE_NODEV)
                        return errno_of_nl(r);
                rtnl_link_put(link);
                link = NULL;
                r = -ENODEV;
        }
        if (r == -ENODEV) {
                _cleanup_(rtnl_link_putp) struct rtnl_link *v = rtnl_link_vlan_alloc();

                if (!v)
                        return -ENOMEM;
                rtnl_link_set_name(v, name);
                rtnl_link_set_link(v, uplink_index);
                r = rtnl_link_vlan_set_id(v, (uint16_t) vid);
                if (r < 0)
                        return errno_of_nl(r);
                rtnl_link_set_master(v, bridge_index);
                rtnl_link_set_flags(v, IFF_UP);
                r = rtnl_link_add(l->sk, v, NLM_F_CREATE | NLM_F_EXCL);
                /* A kernel without 8021q does not know the link kind "vlan": EOPNOTSUPP. */
                if (r < 0 && r != -NLE_EXIST)
                        return log_debug_errno(errno_of_nl(r),
                                               "Failed to create VLAN %u on '%s' as '%s': %s", vid, uplink,
                                               name, nl_geterror(r));
                r = link_get(l, name, &link);
        }
        if (r < 0)
                return r;
        return link_set_master_up(l, link, bridge_index);
}

int net_link_set_master(NetLinks *l, const char *port, const char *bridge) {
        _cleanup_(rtnl_link_putp) struct rtnl_link *link = NULL;
        int r, bridge_index;

        r = link_get_ifindex(l, bridge, &bridge_index);
        if (r < 0)
                return r;
        r = link_get(l, port, &link);
        if (r < 0)
                return r;
        return link_set_master_up(l, link, bridge_index);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct rtnl_route, rtnl_route_put);

/* A route netlink socket in the network namespace netns_fd: the calling thread enters it, opens
 * the socket there (a socket stays in the namespace it was made in) and goes back. */
static int links_open_in(int netns_fd, NetLinks **ret) {
        _cleanup_close_ int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        int r, back;

        if (self < 0)
                return -errno;
        if (setns(netns_fd, CLONE_NEWNET) < 0)
                return -errno;
        r = net_links_open(ret);
        back = setns(self, CLONE_NEWNET);
        if (back < 0) {
                /* Staying in a container's namespace would cut arkd off from every network. */
                log_error_errno(-errno, "Failed to return to arkd's network namespace: %m");
                abort();
        }
        return r;
}

static int netns_configure(NetLinks *in, const char *peer, const NetPrefix *addr4, const NetAddr *gw4) {
        _cleanup_(rtnl_link_putp) struct rtnl_link *link = NULL, *lo = NULL;
        int r, ifindex;

        r = link_get(in, "lo", &lo);
        if (r >= 0)
                r = link_set_master_up(in, lo, 0);
        if (r < 0)
                return r;
        r = link_get(in, peer, &link);
        if (r < 0)
                return r;
        ifindex = rtnl_link_get_ifindex(link);
        if (addr4) {
                r = addr_add(in, ifindex, addr4);
                if (r < 0)
                        return r;
        }
        r = link_set_master_up(in, link, 0);
        if (r < 0)
                return r;
        if (gw4) {
                _cleanup_(rtnl_route_putp) struct rtnl_route *rt = rtnl_route_alloc();
                _cleanup_(nl_addr_putp) struct nl_addr *dst = NULL, *via = NULL;
                struct rtnl_nexthop *nh;

                if (!rt)
                        return -ENOMEM;
                r = nl_addr_of(AF_INET, (const uint8_t[4]) {}, 0, &dst);
                if (r >= 0)
                        r = nl_addr_of(AF_INET, gw4->bytes, 32, &via);
                if (r < 0)
                        return r;
                nh = rtnl_route_nh_alloc();
                if (!nh)
                        return -ENOMEM;
                rtnl_route_nh_set_ifindex(nh, ifindex);
                rtnl_route_nh_set_gateway(nh, via);
                rtnl_route_set_family(rt, AF_INET);
                rtnl_route_set_dst(rt, dst);
                rtnl_route_set_table(rt, RT_TABLE_MAIN);
                rtnl_route_set_protocol(rt, RTPROT_STATIC);
                rtnl_route_add_nexthop(rt, nh);
                r = rtnl_route_add(in->sk, rt, NLM_F_CREATE | NLM_F_REPLACE);
                if (r < 0)
                        return log_debug_errno(errno_of_nl(r), "Failed to add the default route: %s",
                                               nl_geterror(r));
        }
        return 0;
}

int net_veth_into_netns(NetLinks *l, const char *host, const char *bridge, int netns_fd, const char *peer,
                        const uint8_t mac[static 6], unsigned mtu, const NetPrefix *addr4,
                        const NetAddr *gw4) {
        _cleanup_(rtnl_link_putp) struct rtnl_link *veth = NULL, *made = NULL;
        _cleanup_(nl_addr_putp) struct nl_addr *lladdr = NULL;
        struct rtnl_link *other;
        NetLinks *in = NULL;
        int r, bridge_index;

        if (!ifname_valid(host) || !ifname_valid(peer) || netns_fd < 0 || mtu < 68 || mtu > 65535 ||
            (addr4 && addr4->addr.family != AF_INET) || (gw4 && gw4->family != AF_INET))
                return -EINVAL;
        r = link_get_ifindex(l, bridge, &bridge_index);
        if (r < 0)
                return r;
        r = net_link_delete(l, host);
        if (r < 0)
                return r;
        lladdr = nl_addr_build(AF_LLC, mac, 6);
        veth = rtnl_link_veth_alloc();
        if (!lladdr || !veth)
                return -ENOMEM;
        rtnl_link_set_name(veth, host);
        rtnl_link_set_mtu(veth, mtu);
        other = rtnl_link_veth_get_peer(veth);
        rtnl_link_set_name(other, peer);
        rtnl_link_set_addr(other, lladdr);
        rtnl_link_set_mtu(other, mtu);
        rtnl_link_set_ns_fd(other, netns_fd);
        rtnl_link_put(other);
        r = rtnl_link_add(l->sk, veth, NLM_F_CREATE | NLM_F_EXCL);
        if (r < 0)
                return log_debug_errno(errno_of_nl(r), "Failed to create veth '%s': %s", host,
                                       nl_geterror(r));
        r = link_get(l, host, &made);
        if (r >= 0)
                r = link_set_master_up(l, made, bridge_index);
        if (r >= 0)
                r = links_open_in(netns_fd, &in);
        if (r >= 0)
                r = netns_configure(in, peer, addr4, gw4);
        net_links_close(in);
        if (r < 0)
                (void) net_link_delete(l, host); /* its peer goes with it */
        return r;
}

int net_netns_create(const char *path) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        int status;
        pid_t pid;

        if (fd < 0)
                return -errno;
        fd = safe_close(fd);
        /* A child makes the namespace and binds it to the file: arkd's own threads stay where they
         * are. */
        pid = fork();
        if (pid < 0) {
                int e = -errno;
                (void) unlink(path);
                return e;
        }
        if (pid == 0) {
                if (unshare(CLONE_NEWNET) < 0 || mount("/proc/self/ns/net", path, NULL, MS_BIND, NULL) < 0)
                        _exit(errno & 0xff ?: 1);
                _exit(0);
        }
        if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                int e = WIFEXITED(status) && WEXITSTATUS(status) ? -WEXITSTATUS(status) : -ECHILD;
                (void) unlink(path);
                return e;
        }
        return 0;
}

int net_netns_remove(const char *path) {
        if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
                return -errno;
        if (unlink(path) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

int net_link_delete(NetLinks *l, const char *name) {
        _cleanup_(rtnl_link_putp) struct rtnl_link *link = NULL;
        int r;

        r = link_get(l, name, &link);
        if (r == -ENODEV)
                return 0;
        if (r < 0)
                return r;
        r = rtnl_link_delete(l->sk, link);
        if (r < 0 && r != -NLE_OBJ_NOTFOUND && r != -NLE_NODEV)
                return log_debug_errno(errno_of_nl(r), "Failed to delete link '%s': %s", name,
                                       nl_geterror(r));
        return 0;
}

int net_link_exists(NetLinks *l, const char *name) {
        _cleanup_(rtnl_link_putp) struct rtnl_link *link = NULL;
        int r = link_get(l, name, &link);

        return r == -ENODEV ? 0 : r < 0 ? r : 1;
}

int net_links_list(NetLinks *l, const char *prefix, char ***ret) {
        _cleanup_(nl_cache_freep) struct nl_cache *cache = NULL;
        _cleanup_strv_free_ char **names = calloc(1, sizeof(char *));
        int r;

        if (!names)
                return -ENOMEM;
        r = rtnl_link_alloc_cache(l->sk, AF_UNSPEC, &cache);
        if (r < 0)
                return errno_of_nl(r);
        for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
                const char *name = rtnl_link_get_name((struct rtnl_link *) o);

                if (!name || !startswith(name, strempty(prefix)))
                        continue;
                r = strv_extend(&names, name);
                if (r < 0)
                        return r;
        }
        *ret = strv_sort(TAKE_PTR(names));
        return 0;
}

int net_link_stats(NetLinks *l, const char *name, NetLinkStats *ret) {
        _cleanup_(rtnl_link_putp) struct rtnl_link *link = NULL;
        int r = link_get(l, name, &link);

        if (r < 0)
                return r;
        *ret = (NetLinkStats) {
                .rx_bytes = rtnl_link_get_stat(link, RTNL_LINK_RX_BYTES),
                .tx_bytes = rtnl_link_get_stat(link, RTNL_LINK_TX_BYTES),
                .rx_packets = rtnl_link_get_stat(link, RTNL_LINK_RX_PACKETS),
                .tx_packets = rtnl_link_get_stat(link, RTNL_LINK_TX_PACKETS),
                .rx_dropped = rtnl_link_get_stat(link, RTNL_LINK_RX_DROPPED),
                .tx_dropped = rtnl_link_get_stat(link, RTNL_LINK_TX_DROPPED),
        };
        return 0;
}

static bool prefix_equal(const NetPrefix *a, const NetPrefix *b) {
        return a->addr.family == b->addr.family && a->len == b->len &&
                memcmp(a->addr.bytes, b->addr.bytes, family_bytes(a->addr.family)) == 0;
}

int net_host_prefixes(NetLinks *l, const char *except_prefix, char *const *except_links, NetPrefix **ret,
                      size_t *ret_n) {
        _cleanup_(nl_cache_freep) struct nl_cache *links = NULL, *addrs = NULL;
        _cleanup_free_ NetPrefix *v = NULL;
        size_t n = 0, alloc = 0;
        int r;

        r = rtnl_link_alloc_cache(l->sk, AF_UNSPEC, &links);
        if (r < 0)
                return errno_of_nl(r);
        r = rtnl_addr_alloc_cache(l->sk, &addrs);
        if (r < 0)
                return errno_of_nl(r);
        for (struct nl_object *o = nl_cache_get_first(addrs); o; o = nl_cache_get_next(o)) {
                struct rtnl_addr *a = (struct rtnl_addr *) o;
                struct nl_addr *local = rtnl_addr_get_local(a);
                int family = rtnl_addr_get_family(a);
                char name[IFNAMSIZ] = "";
                NetPrefix p = {};
                bool dup = false;

                if ((family != AF_INET && family != AF_INET6) || !local ||
                    nl_addr_get_len(local) != family_bytes(family))
                        continue;
                memcpy(p.addr.bytes, nl_addr_get_binary_addr(local), family_bytes(family));
                p.addr.family = family;
                p.len = (unsigned) rtnl_addr_get_prefixlen(a);
                if (p.len > family_bits(family) || addr_is_link_local(family, p.addr.bytes) ||
                    addr_is_loopback(family, p.addr.bytes))
                        continue;
                if ((except_prefix || except_links) &&
                    rtnl_link_i2name(links, rtnl_addr_get_ifindex(a), name, sizeof(name)) &&
                    ((except_prefix && startswith(name, except_prefix)) ||
                     strv_contains((char **) except_links, name)))
                        continue;
                prefix_normalize(&p);
                for (size_t i = 0; i < n && !dup; i++)
                        dup = prefix_equal(&v[i], &p);
                if (dup)
                        continue;
                if (n == alloc) {
                        size_t na = alloc ? alloc * 2 : 8;
                        NetPrefix *nv = reallocarray(v, na, sizeof(NetPrefix));

                        if (!nv)
                                return -ENOMEM;
                        v = nv;
                        alloc = na;
                }
                v[n++] = p;
        }
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 0;
}

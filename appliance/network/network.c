/* Tenant networks in arkd (network.h): objects from the store, validation, and the data path
 * (bridges, dnsmasq, Ark's nftables tables) made again from the store after every change. */

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <inttypes.h>
#include <jansson.h>
#include <nftables/libnftables.h>

#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/macro.h"
#include "basic/parse-util.h"
#include "basic/string-util.h"
#include "basic/time-util.h"
#include "dnsmasq.h"
#include "driver.h"
#include "instance.h"
#include "links.h"
#include "manager.h"
#include "network.h"
#include "shared/bus-util.h"
#include "shared/db.h"
#include "store.h"
#include "tenant.h"

#define SEGMENT_MAX 0xffffffU
#define BRIDGE_FORMAT NET_LINK_PREFIX "n%06x" /* arkn000001 */
#define VLAN_FORMAT NET_LINK_PREFIX "v%06x"   /* arkv000001 */
#define NIC_PREFIX NET_RULES_PORT_PREFIX      /* arkt + 8 hex digits */
#define SUBNET_LEN_MIN 16
#define SUBNET_LEN_MAX 29
#define SUBNET_LEN_DEFAULT 24
#define MEMBER_NETWORKS_MAX 16 /* networks a tenant's members may make without a quota */
#define NETWORKS_UNAVAILABLE \
        "Tenant networks are not available: arkd lacks the right to manage network links (CAP_NET_ADMIN)."

struct NetState {
        NetLinks *links;
        struct nft_ctx *nft;
        char *run_dir;  /* dnsmasq's files */
        char **orphans; /* Ark-named links the store does not know */
};

static const char *const mode_names[_NET_MODE_MAX] = {
        [NET_MODE_NAT] = "nat",
        [NET_MODE_ISOLATED] = "isolated",
        [NET_MODE_VLAN] = "vlan",
};

const char *net_mode_to_string(NetMode m) {
        return m >= 0 && m < _NET_MODE_MAX ? mode_names[m] : NULL;
}

int net_mode_from_string(const char *s, NetMode *ret) {
        for (int k = 0; k < _NET_MODE_MAX; k++)
                if (streq_ptr(s, mode_names[k])) {
                        *ret = (NetMode) k;
                        return 0;
                }
        return -EINVAL;
}

/* ---------------------------------------------------------------------------------- objects */

/* The kernel (netlink, nftables) or a helper process refused: NetworkError with "FORMAT: why."
 * (%m in the format is the errno's sentence). Returns r. */
_printf_(3, 4) static int net_error(sd_bus_error *error, int r, const char *format, ...) {
        char what[512];
        va_list ap;

        errno = -r;
        va_start(ap, format);
        (void) vsnprintf(what, sizeof(what), format, ap);
        va_end(ap);
        sd_bus_error_setf(error, ARK_ERROR_NETWORK, "%s.", what);
        return r;
}

static void nic_free(Nic *c) {
        free(c);
}

static Network *network_free(Network *n) {
        if (!n)
                return NULL;
        while (n->forwards) {
                Forward *f = n->forwards;
                LIST_REMOVE(forwards, n->forwards, f);
                free(f);
        }
        while (n->nics) {
                Nic *c = n->nics;
                LIST_REMOVE(nics, n->nics, c);
                nic_free(c);
        }
        dnsmasq_stop(n->dnsmasq);
        free(n->name);
        free(n->tenant);
        free(n->path);
        free(n->uplink);
        free(n->problem);
        return mfree(n);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(Network, network_free)

static int network_path(const char *tenant, const char *name, char **ret) {
        return sd_bus_path_encode_many(ret, ARK_BUS_PREFIX_NETWORK "/%/%", tenant, name);
}

Network *network_find(Manager *m, const char *tenant, const char *name) {
        LIST_FOREACH(networks, n, m->networks)
                if (streq(n->tenant, tenant) && streq(n->name, name))
                        return n;
        return NULL;
}

static Network *network_by_id(Manager *m, int64_t id) {
        LIST_FOREACH(networks, n, m->networks)
                if (n->id == id)
                        return n;
        return NULL;
}

static Instance *instance_by_id(Manager *m, int64_t id) {
        LIST_FOREACH(instances, i, m->instances)
                if (i->id == id)
                        return i;
        return NULL;
}

static Nic *nic_by_id(Manager *m, int64_t id) {
        LIST_FOREACH(networks, n, m->networks)
                LIST_FOREACH(nics, c, n->nics)
                        if (c->id == id)
                                return c;
        return NULL;
}

/* From a store record; every field checked (a row is trusted no more than input). */
static int network_from_record(Manager *m, const StoreNetwork *rec, Network **ret) {
        _cleanup_(network_freep) Network *n = calloc(1, sizeof(Network));
        char reason[128];
        int r;

        if (!n)
                return -ENOMEM;
        n->manager = m;
        n->id = rec->id;
        if (strlen(rec->uuid) != 36 || strlen(rec->bridge) >= sizeof(n->bridge))
                return -EBADMSG;
        memcpy(n->uuid, rec->uuid, 37);
        strcpy(n->bridge, rec->bridge);
        n->name = strdup(rec->name);
        n->tenant = strdup(rec->tenant);
        if (!n->name || !n->tenant || strdup_or_null(&n->uplink, rec->uplink) < 0)
                return -ENOMEM;
        if (net_mode_from_string(rec->mode, &n->mode) < 0 ||
            net_prefix_parse(rec->subnet4, &n->subnet4, reason, sizeof(reason)) < 0 ||
            n->subnet4.addr.family != AF_INET || net_mac_parse(rec->mac, n->mac) < 0)
                return -EBADMSG;
        if (rec->subnet6 &&
            (net_prefix_parse(rec->subnet6, &n->subnet6, reason, sizeof(reason)) < 0 ||
             n->subnet6.addr.family != AF_INET6 || n->subnet6.len != 64))
                return -EBADMSG;
        n->vlan_id = rec->vlan_id;
        n->segment = rec->segment;
        n->mtu = rec->mtu;
        n->created_usec = rec->created_usec;
        r = network_path(n->tenant, n->name, &n->path);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(n);
        return 0;
}

static int load_network(const StoreNetwork *rec, void *userdata) {
        Manager *m = userdata;
        Network *n;
        int r;

        r = network_from_record(m, rec, &n);
        if (r < 0)
                return log_error_errno(r, "Network '%s' of tenant '%s' in the store is damaged: %m",
                                       rec->name, rec->tenant);
        LIST_PREPEND(networks, m->networks, n);
        return 0;
}

static int nic_from_record(const StoreNic *rec, Nic **ret) {
        _cleanup_free_ Nic *c = calloc(1, sizeof(Nic));

        if (!c)
                return -ENOMEM;
        c->id = rec->id;
        c->instance_id = rec->instance_id;
        c->position = rec->position;
        if (net_mac_parse(rec->mac, c->mac) < 0 || net_addr_parse(rec->ip4, &c->ip4) < 0 ||
            c->ip4.family != AF_INET || strlen(rec->ifname) >= sizeof(c->ifname))
                return -EBADMSG;
        strcpy(c->ifname, rec->ifname);
        *ret = TAKE_PTR(c);
        return 0;
}

static int load_nic(const StoreNic *rec, void *userdata) {
        Manager *m = userdata;
        Network *n = network_by_id(m, rec->network_id);
        Nic *c;
        int r;

        if (!n)
                return -EBADMSG;
        r = nic_from_record(rec, &c);
        if (r < 0)
                return log_error_errno(r, "NIC %s in the store is damaged: %m", rec->ifname);
        c->network = n;
        LIST_PREPEND(nics, n->nics, c);
        return 0;
}

static int proto_from_string(const char *s, uint8_t *ret) {
        if (streq_ptr(s, "tcp"))
                *ret = IPPROTO_TCP;
        else if (streq_ptr(s, "udp"))
                *ret = IPPROTO_UDP;
        else
                return -EINVAL;
        return 0;
}

static int load_forward(const StoreForward *rec, void *userdata) {
        Manager *m = userdata;
        Nic *c = nic_by_id(m, rec->nic_id);
        Forward *f;

        if (!c)
                return -EBADMSG;
        f = calloc(1, sizeof(Forward));
        if (!f)
                return -ENOMEM;
        *f = (Forward) { .id = rec->id,
                         .nic = c,
                         .port = (uint16_t) rec->port,
                         .to_port = (uint16_t) rec->to_port,
                         .created_usec = rec->created_usec };
        if (proto_from_string(rec->proto, &f->proto) < 0) {
                free(f);
                return -EBADMSG;
        }
        LIST_PREPEND(forwards, c->network->forwards, f);
        return 0;
}

/* ---------------------------------------------------------------------------------- the data path */

static NetPrefix gateway_prefix(const NetPrefix *subnet) {
        NetPrefix p = { .len = subnet->len };

        if (subnet->addr.family != 0)
                (void) net_prefix_host(subnet, 1, &p.addr);
        return p;
}

static void dnsmasq_hosts_of(Network *n, DnsmasqHost *hosts, size_t *ret_n) {
        Manager *m = n->manager;
        size_t k = 0;

        LIST_FOREACH(nics, c, n->nics) {
                Instance *i = instance_by_id(m, c->instance_id);

                if (!i)
                        continue;
                hosts[k] = (DnsmasqHost) { .ip4 = c->ip4, .name = i->name };
                memcpy(hosts[k].mac, c->mac, 6);
                k++;
        }
        *ret_n = k;
}

static size_t count_nics(const Network *n) {
        size_t k = 0;

        LIST_FOREACH(nics, c, n->nics)
                k++;
        return k;
}

static void network_set_problem(Network *n, const char *problem) {
        if (streq_ptr(n->problem, problem))
                return;
        (void) free_and_strdup(&n->problem, problem);
        (void) sd_bus_emit_properties_changed(n->manager->bus, n->path, ARK_BUS_IFACE_NETWORK, "Problem",
                                              NULL);
}

/* NAT and forwards route IPv4 through the host. (IPv6 stays on its network: forwarding it would
 * make the host ignore router advertisements on its own links.) */
static int enable_ip_forward(void) {
        _cleanup_free_ char *v = NULL;

        if (read_one_line_file("/proc/sys/net/ipv4/ip_forward", &v) >= 0 && streq(v, "1"))
                return 0;
        log_info("Enabling IPv4 forwarding for tenant networks.");
        return write_string_file("/proc/sys/net/ipv4/ip_forward", "1", 0);
}

/* The host's side of a tenant bridge: it answers ARP only for its own addresses on it (not the
 * host's others: a tenant could map other tenants' gateways and the uplink), and takes no router
 * advertisements from a tenant (no route or address of the host's own from there). */
static int bridge_harden(const char *bridge) {
        static const struct {
                const char *family, *key, *value;
        } settings[] = {
                { "ipv4", "arp_ignore", "1" },       { "ipv4", "arp_announce", "2" },
                { "ipv6", "accept_ra", "0" },        { "ipv6", "accept_redirects", "0" },
                { "ipv4", "accept_redirects", "0" },
        };

        for (size_t k = 0; k < ELEMENTSOF(settings); k++) {
                char path[128];
                int r;

                snprintf(path, sizeof(path), "/proc/sys/net/%s/conf/%s/%s", settings[k].family, bridge,
                         settings[k].key);
                r = write_string_file(path, settings[k].value, 0);
                if (r < 0 && r != -ENOENT) /* IPv6 off on the host: nothing to set there */
                        return r;
        }
        return 0;
}

/* Brings the network's bridge (and VLAN port) and dnsmasq up, or corrects them. */
static int network_up(Network *n, sd_bus_error *error) {
        NetState *s = n->manager->net;
        _cleanup_free_ DnsmasqHost *hosts = NULL;
        NetPrefix gw4 = gateway_prefix(&n->subnet4), gw6 = gateway_prefix(&n->subnet6);
        size_t n_hosts;
        int r;

        r = net_bridge_ensure(s->links, n->bridge, n->mac, n->mtu, &gw4,
                              n->subnet6.addr.family ? &gw6 : NULL);
        if (r < 0)
                return net_error(error, r, "Failed to set up bridge %s of network '%s': %m", n->bridge,
                                 n->name);
        r = bridge_harden(n->bridge);
        if (r < 0)
                return net_error(error, r, "Failed to configure bridge %s of network '%s': %m", n->bridge,
                                 n->name);
        if (n->mode == NET_MODE_NAT) {
                r = enable_ip_forward();
                if (r < 0)
                        return net_error(error, r, "Failed to enable IPv4 forwarding for network '%s': %m",
                                         n->name);
        }
        if (n->mode == NET_MODE_VLAN) {
                char vlan[IF_NAMESIZE];

                snprintf(vlan, sizeof(vlan), VLAN_FORMAT, n->segment);
                r = net_vlan_ensure(s->links, vlan, n->uplink, n->vlan_id, n->bridge);
                if (r == -EOPNOTSUPP)
                        return sd_bus_error_setf(
                                error, ARK_ERROR_NOT_SUPPORTED,
                                "The kernel cannot make VLAN %u on '%s' for network '%s': VLAN "
                                "support (the 8021q module) is missing.",
                                n->vlan_id, n->uplink, n->name);
                if (r < 0)
                        return net_error(error, r, "Failed to set up VLAN %u on '%s' for network '%s': %m",
                                         n->vlan_id, n->uplink, n->name);
        }
        hosts = calloc(count_nics(n) + 1, sizeof(DnsmasqHost));
        if (!hosts)
                return -ENOMEM;
        dnsmasq_hosts_of(n, hosts, &n_hosts);
        if (n->dnsmasq)
                r = dnsmasq_set_hosts(n->dnsmasq, hosts, n_hosts);
        else {
                DnsmasqConfig c = {
                        .bridge = n->bridge,
                        .subnet4 = n->subnet4,
                        .gateway4 = gw4.addr,
                        .subnet6 = n->subnet6,
                        .domain = n->tenant,
                        .mtu = n->mtu,
                        .run_dir = s->run_dir,
                };
                r = dnsmasq_start(n->manager->event, &c, hosts, n_hosts, &n->dnsmasq);
        }
        if (r == -ENOENT)
                return sd_bus_error_setf(
                        error, ARK_ERROR_NOT_READY,
                        "dnsmasq is missing: network '%s' cannot hand out addresses (install "
                        "dnsmasq-base).",
                        n->name);
        if (r < 0)
                return net_error(error, r, "Failed to start DHCP and DNS of network '%s': %m", n->name);
        network_set_problem(n, NULL);
        return 0;
}

/* Takes the network's data path down (dnsmasq, VLAN port, bridge). Logs what fails. */
static void network_down(Network *n) {
        NetState *s = n->manager->net;
        int r;

        dnsmasq_stop(n->dnsmasq);
        n->dnsmasq = NULL;
        if (n->mode == NET_MODE_VLAN) {
                char vlan[IF_NAMESIZE];

                snprintf(vlan, sizeof(vlan), VLAN_FORMAT, n->segment);
                r = net_link_delete(s->links, vlan);
                if (r < 0)
                        log_warning_errno(r, "Failed to remove VLAN port %s of network '%s': %m", vlan,
                                          n->name);
        }
        r = net_link_delete(s->links, n->bridge);
        if (r < 0)
                log_warning_errno(r, "Failed to remove bridge %s of network '%s': %m", n->bridge, n->name);
}

/* The rule set's description of every network, with arrays owned by the caller's buffers. */
typedef struct RulesModel {
        NetRules rules;
        NetRulesNetwork *networks;
        NetRulesPort *ports;
        NetRulesForward *forwards;
        NetPrefix *protected;
} RulesModel;

static void rules_model_done(RulesModel *rm) {
        free(rm->networks);
        free(rm->ports);
        free(rm->forwards);
        free(rm->protected);
}

static int rules_model_build(Manager *m, RulesModel *rm) {
        size_t nn = 0, np = 0, nf = 0, kn = 0, kp = 0, kf = 0, n_protected = 0;
        int r;

        LIST_FOREACH(networks, n, m->networks) {
                nn++;
                LIST_FOREACH(nics, c, n->nics)
                        np++;
                LIST_FOREACH(forwards, f, n->forwards)
                        nf++;
        }
        rm->networks = calloc(nn + 1, sizeof(NetRulesNetwork));
        rm->ports = calloc(np + 1, sizeof(NetRulesPort));
        rm->forwards = calloc(nf + 1, sizeof(NetRulesForward));
        if (!rm->networks || !rm->ports || !rm->forwards)
                return -ENOMEM;
        LIST_FOREACH(networks, n, m->networks) {
                NetRulesNetwork *rn = &rm->networks[kn++];

                *rn = (NetRulesNetwork) {
                        .bridge = n->bridge,
                        .mode = n->mode,
                        .uplink = n->mode == NET_MODE_NAT ? n->uplink : NULL,
                        .subnet4 = n->subnet4,
                        .subnet6 = n->subnet6,
                        .ports = rm->ports + kp,
                        .forwards = rm->forwards + kf,
                };
                LIST_FOREACH(nics, c, n->nics) {
                        NetRulesPort *p = &rm->ports[kp++];

                        *p = (NetRulesPort) { .ifname = c->ifname, .ip4 = c->ip4 };
                        memcpy(p->mac, c->mac, 6);
                        rn->n_ports++;
                }
                LIST_FOREACH(forwards, f, n->forwards) {
                        rm->forwards[kf++] = (NetRulesForward) {
                                .proto = f->proto, .port = f->port, .to = f->nic->ip4, .to_port = f->to_port
                        };
                        rn->n_forwards++;
                }
        }
        /* The host's own networks (the management network among them) are out of tenants' reach;
         * those of NAT uplinks are where NAT goes (the uplink carrying the management network too:
         * the host's own addresses stay closed by the input rules). */
        {
                _cleanup_strv_free_ char **uplinks = NULL;

                LIST_FOREACH(networks, n, m->networks)
                        if (n->mode == NET_MODE_NAT && n->uplink && !strv_contains(uplinks, n->uplink) &&
                            strv_extend(&uplinks, n->uplink) < 0)
                                return -ENOMEM;
                r = net_host_prefixes(m->net->links, NET_LINK_PREFIX, uplinks, &rm->protected, &n_protected);
                if (r < 0)
                        return r;
        }
        rm->rules = (NetRules) { .networks = rm->networks,
                                 .n_networks = nn,
                                 .protected = rm->protected,
                                 .n_protected = n_protected };
        return 0;
}

/* VLAN networks name their VLAN port for the rules (exempt from anti-spoofing). */
static void rules_model_vlan_ports(Manager *m, RulesModel *rm, char (*names)[IF_NAMESIZE]) {
        size_t k = 0;

        LIST_FOREACH(networks, n, m->networks) {
                if (n->mode == NET_MODE_VLAN) {
                        snprintf(names[k], IF_NAMESIZE, VLAN_FORMAT, n->segment);
                        rm->networks[k].vlan_port = names[k];
                }
                k++;
        }
}

static int nft_load(NetState *s, const char *script, char **ret_error) {
        const char *err;
        int r;

        r = nft_ctx_buffer_error(s->nft);
        if (r < 0)
                return -ENOMEM;
        r = nft_run_cmd_from_buffer(s->nft, script);
        err = nft_ctx_get_error_buffer(s->nft);
        if (r != 0) {
                if (ret_error)
                        *ret_error = strdup(strempty(err));
                (void) nft_ctx_unbuffer_error(s->nft);
                return -EIO;
        }
        (void) nft_ctx_unbuffer_error(s->nft);
        return 0;
}

int network_rules_sync(Manager *m, sd_bus_error *error) {
        _cleanup_(rules_model_done) RulesModel rm = {};
        _cleanup_free_ char *script = NULL, *nft_error = NULL;
        _cleanup_free_ char(*vlan_names)[IF_NAMESIZE] = NULL;
        size_t nn = 0;
        int r;

        LIST_FOREACH(networks, n, m->networks)
                nn++;
        /* No networks, no tables: a host that never uses tenant networks keeps its nftables as it
         * was (and tables an earlier arkd left go). */
        if (nn == 0) {
                r = nft_load(m->net, net_rules_remove_script(), &nft_error);
                if (r < 0)
                        return net_error(error, r, "Failed to remove the network rule set: %s",
                                         strna(nft_error));
                return 0;
        }
        vlan_names = calloc(nn + 1, IF_NAMESIZE);
        if (!vlan_names)
                return -ENOMEM;
        r = rules_model_build(m, &rm);
        if (r < 0)
                return net_error(error, r, "Failed to read the host's networks for the rule set: %m");
        rules_model_vlan_ports(m, &rm, vlan_names);
        r = net_rules_render(&rm.rules, &script);
        if (r < 0)
                return net_error(error, r, "Failed to make the network rule set: %m");
        r = nft_load(m->net, script, &nft_error);
        if (r < 0) {
                /* nft's sentence quotes the rule set, every tenant's ports and addresses: the log
                 * only. */
                log_error("nftables refused the network rule set: %s", strna(nft_error));
                return sd_bus_error_setf(error, ARK_ERROR_NETWORK,
                                         "nftables refused the network rule set; the system log says why.");
        }
        return 0;
}

/* ---------------------------------------------------------------------------------- start-up */

/* Whether `name` is one arkd makes: arkn or arkv and 6 hex digits (a bridge, a VLAN port), arkt
 * and 8 (a tap). Other links whose name happens to start with "ark" are not Ark's. */
static bool ark_made_name(const char *name) {
        const char *rest = startswith(name, NET_LINK_PREFIX);
        size_t digits;

        if (!rest || !strchr("ntv", rest[0]) || rest[0] == 0)
                return false;
        digits = strspn(rest + 1, "0123456789abcdef");
        return rest[1 + digits] == 0 && digits == (rest[0] == 't' ? 8u : 6u);
}

static bool ifname_known(Manager *m, const char *name) {
        LIST_FOREACH(networks, n, m->networks) {
                char vlan[IF_NAMESIZE];

                snprintf(vlan, sizeof(vlan), VLAN_FORMAT, n->segment);
                if (streq(name, n->bridge) || (n->mode == NET_MODE_VLAN && streq(name, vlan)))
                        return true;
                LIST_FOREACH(nics, c, n->nics)
                        if (streq(name, c->ifname))
                                return true;
        }
        return false;
}

static int network_find_orphans(Manager *m) {
        _cleanup_strv_free_ char **links = NULL;
        NetState *s = m->net;
        int r;

        s->orphans = strv_free(s->orphans);
        r = net_links_list(s->links, NET_LINK_PREFIX, &links);
        if (r < 0)
                return log_error_errno(r, "Failed to list network links: %m");
        for (char **l = links; l && *l; l++) {
                if (ifname_known(m, *l) || !ark_made_name(*l))
                        continue;
                log_warning(
                        "Network link %s looks like Ark's but belongs to no network in the store; it is left "
                        "alone ('arkctl network prune' removes it).",
                        *l);
                if (strv_extend(&s->orphans, *l) < 0)
                        return -ENOMEM;
        }
        return 0;
}

/* Whether this process may manage links and rules (CAP_NET_ADMIN in its effective set). */
static bool have_net_admin(void) {
        _cleanup_free_ char *text = NULL;
        const char *p;
        unsigned long long caps;

        if (read_full_file("/proc/self/status", &text, NULL) < 0 || !(p = strstr(text, "\nCapEff:")))
                return geteuid() == 0;
        if (sscanf(p + strlen("\nCapEff:"), "%llx", &caps) != 1)
                return false;
        return caps & (1ULL << 12); /* CAP_NET_ADMIN */
}

int network_startup(Manager *m) {
        _cleanup_free_ NetState *s = NULL;
        int r;

        /* Without the right to make links and rules (a sandbox run as a user), arkd runs without
         * tenant networks and says so; tenants then get none, VMs no NICs. */
        if (!have_net_admin()) {
                log_warning(
                        "Tenant networks are off: arkd lacks CAP_NET_ADMIN (run it as root to have them).");
                return 0;
        }
        s = calloc(1, sizeof(NetState));
        if (!s)
                return log_error_errno(-ENOMEM, "Out of memory.");
        r = net_links_open(&s->links);
        if (r < 0)
                return log_error_errno(r, "Failed to open netlink for tenant networks: %m");
        s->nft = nft_ctx_new(NFT_CTX_DEFAULT);
        if (!s->nft) {
                net_links_close(s->links);
                return log_error_errno(-ENOMEM, "Out of memory.");
        }
        s->run_dir = strdup(m->config.network_run_dir);
        if (!s->run_dir) {
                nft_ctx_free(s->nft);
                net_links_close(s->links);
                return log_error_errno(-ENOMEM, "Out of memory.");
        }
        m->net = TAKE_PTR(s);

        r = store_network_foreach(m->db, load_network, m);
        if (r >= 0)
                r = store_nic_foreach(m->db, load_nic, m);
        if (r >= 0)
                r = store_forward_foreach(m->db, load_forward, m);
        if (r < 0)
                return log_error_errno(r, "Failed to load networks from the store: %m");

        /* The rules first: a bridge never carries a tenant's traffic unchecked. Without them (nft
         * refused) no network comes up, and each says why (fail closed). */
        {
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;

                if (network_rules_sync(m, &e) < 0) {
                        log_error(
                                "The network rule set is not loaded, so no tenant network is brought up: %s",
                                e.message);
                        LIST_FOREACH(networks, n, m->networks)
                                network_set_problem(
                                        n,
                                        "The network rule set could not be loaded; the system log "
                                        "says why.");
                        return network_find_orphans(m);
                }
        }
        LIST_FOREACH(networks, n, m->networks) {
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;

                if (network_up(n, &e) < 0) {
                        log_error("Network '%s' of tenant '%s' is not up: %s", n->name, n->tenant,
                                  e.message);
                        network_set_problem(n, e.message);
                }
        }
        return network_find_orphans(m);
}

void network_shutdown(Manager *m) {
        NetState *s = m->net;

        while (m->networks) {
                Network *n = m->networks;
                LIST_REMOVE(networks, m->networks, n);
                network_free(n);
        }
        if (!s)
                return;
        if (s->nft)
                nft_ctx_free(s->nft);
        net_links_close(s->links);
        strv_free(s->orphans);
        free(s->run_dir);
        free(s);
        m->net = NULL;
}

char **network_orphans(Manager *m) {
        return m->net ? m->net->orphans : NULL;
}

int network_orphans_prune(Manager *m, sd_bus_error *error) {
        int r;

        if (!m->net)
                return 0;
        r = network_find_orphans(m);
        if (r < 0)
                return net_error(error, r, "Failed to list network links: %m");
        for (char **l = m->net->orphans; l && *l; l++) {
                r = net_link_delete(m->net->links, *l);
                if (r < 0)
                        return net_error(error, r, "Failed to remove link %s: %m", *l);
                log_info("Removed network link %s, which belonged to no network.", *l);
        }
        m->net->orphans = strv_free(m->net->orphans);
        (void) sd_bus_emit_properties_changed(m->bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "NetworkOrphans",
                                              NULL);
        return 0;
}

/* ---------------------------------------------------------------------------------- networks */

/* The interface of the default route (/proc/net/route), into buf; -ENOENT when there is none. */
static int default_route_interface(char buf[static IF_NAMESIZE]) {
        _cleanup_free_ char *text = NULL;
        int r;

        r = read_full_file("/proc/net/route", &text, NULL);
        if (r < 0)
                return r;
        for (char *line = strchr(text, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
                char iface[IF_NAMESIZE + 1];
                unsigned dest, mask;

                if (sscanf(line + 1, "%16s %x %*x %*x %*d %*d %*d %x", iface, &dest, &mask) == 3 &&
                    dest == 0 && mask == 0 && strlen(iface) < IF_NAMESIZE) {
                        strcpy(buf, iface);
                        return 0;
                }
        }
        return -ENOENT;
}

static bool ark_link_name(const char *name) {
        return startswith(name, NET_LINK_PREFIX) != NULL;
}

/* An uplink the admin named: it exists and is not one of Ark's own links. */
static int check_uplink(Manager *m, const char *uplink, const char *what, sd_bus_error *error) {
        int r;

        if (strlen(uplink) >= IF_NAMESIZE || ark_link_name(uplink))
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "Uplink '%.40s' of %s is not an interface of the host's.", uplink,
                                         what);
        r = net_link_exists(m->net->links, uplink);
        if (r < 0)
                return net_error(error, r, "Failed to look up uplink '%s': %m", uplink);
        if (r == 0)
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "Uplink '%s' of %s does not exist on this host.", uplink, what);
        return 0;
}

/* Subnets no network may have: this network, loopback, link-local, multicast, reserved. */
static const char *const reserved_subnets[] = {
        "0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "240.0.0.0/4",
};

/* What a subnet asked for must not be: reserved; a route of the host's (a bridge would take the
 * host's traffic for it away from where it goes: the site's DNS, NTP, directory servers); and,
 * asked for by a member, anything outside the tenant subnet pool or larger than a /24 (a
 * member chooses among the addresses the admin set aside for tenants). */
static int subnet_check_policy(Manager *m, const NetworkParams *p, const NetPrefix *s, sd_bus_error *error) {
        char a[NET_PREFIX_STRLEN], b[NET_PREFIX_STRLEN];

        for (size_t k = 0; k < ELEMENTSOF(reserved_subnets); k++) {
                NetPrefix r;
                char why[64];

                if (net_prefix_parse(reserved_subnets[k], &r, why, sizeof(why)) >= 0 &&
                    net_prefix_overlaps(s, &r))
                        return sd_bus_error_setf(
                                error, ARK_ERROR_INVALID_ARGUMENT,
                                "Invalid subnet '%s': it overlaps %s, which no network may use "
                                "(this host, loopback, link-local, multicast or reserved).",
                                net_prefix_to_string(s, a), reserved_subnets[k]);
        }
        if (!p->caller_admin) {
                NetPrefix start = { .addr = s->addr, .len = m->config.network_pool.len };

                if (s->len < SUBNET_LEN_DEFAULT || s->len < m->config.network_pool.len ||
                    !net_prefix_contains(&m->config.network_pool, &start.addr))
                        return sd_bus_error_setf(
                                error, ARK_ERROR_INVALID_ARGUMENT,
                                "Invalid subnet '%s': members choose a /%d to /%d inside the tenant "
                                "subnet pool %s; ask an admin for another.",
                                net_prefix_to_string(s, a), SUBNET_LEN_DEFAULT, SUBNET_LEN_MAX,
                                net_prefix_to_string(&m->config.network_pool, b));
        }
        return 0;
}

/* The host's IPv4 routes (/proc/net/route: destination and mask in the kernel's byte order) with
 * the interface of each, the default route and Ark's own bridges aside. */
typedef struct HostRoute {
        NetPrefix prefix;
        char iface[IF_NAMESIZE + 1];
} HostRoute;

static int host_routes(HostRoute **ret, size_t *ret_n) {
        _cleanup_free_ char *text = NULL;
        _cleanup_free_ HostRoute *v = NULL;
        size_t n = 0, lines = 0;

        *ret = NULL;
        *ret_n = 0;
        if (read_full_file("/proc/net/route", &text, NULL) < 0)
                return 0; /* no procfs here: the connected prefixes still count */
        for (const char *c = text; *c; c++)
                lines += *c == '\n';
        v = calloc(lines + 1, sizeof(HostRoute));
        if (!v)
                return -ENOMEM;
        for (char *line = strchr(text, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
                HostRoute *h = &v[n];
                unsigned dest, mask;

                if (sscanf(line + 1, "%16s %x %*x %*x %*d %*d %*d %x", h->iface, &dest, &mask) != 3 ||
                    mask == 0 || startswith(h->iface, NET_LINK_PREFIX))
                        continue;
                h->prefix.addr.family = AF_INET;
                memcpy(h->prefix.addr.bytes, &dest, 4);
                h->prefix.len = (unsigned) __builtin_popcount(mask);
                n++;
        }
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 0;
}

/* A subnet must not take a route of the host's away from where it goes (the site's DNS, NTP,
 * directory servers behind a gateway). */
static int subnet_check_routes(const NetPrefix *s, sd_bus_error *error) {
        _cleanup_free_ HostRoute *routes = NULL;
        char a[NET_PREFIX_STRLEN], b[NET_PREFIX_STRLEN];
        size_t n = 0;
        int r;

        r = host_routes(&routes, &n);
        if (r < 0)
                return r;
        for (size_t k = 0; k < n; k++)
                if (net_prefix_overlaps(s, &routes[k].prefix))
                        return sd_bus_error_setf(
                                error, ARK_ERROR_INVALID_ARGUMENT,
                                "Invalid subnet '%s': it overlaps %s, a route of this host's "
                                "(by %s).",
                                net_prefix_to_string(s, a), net_prefix_to_string(&routes[k].prefix, b),
                                routes[k].iface);
        return 0;
}

/* The subnet asked for, or one picked from the configured pool: IPv4, not covering a network
 * the host is on, not overlapping another network of this host (two bridges with one subnet
 * would leave the host unable to route either). */
static int network_pick_subnet(Manager *m, const NetworkParams *p, NetPrefix *ret, sd_bus_error *error) {
        _cleanup_free_ HostRoute *routes = NULL;
        size_t n_routes = 0;
        _cleanup_free_ NetPrefix *host = NULL, *taken = NULL;
        size_t n_host = 0, n_taken = 0, k = 0;
        char reason[160], a[NET_PREFIX_STRLEN], b[NET_PREFIX_STRLEN];
        int r;

        r = net_host_prefixes(m->net->links, NET_LINK_PREFIX, NULL, &host, &n_host);
        if (r < 0)
                return net_error(error, r, "Failed to read the host's networks: %m");
        r = host_routes(&routes, &n_routes);
        if (r < 0)
                return r;
        LIST_FOREACH(networks, n, m->networks)
                k++;
        taken = calloc(k + n_host + n_routes + 1, sizeof(NetPrefix));
        if (!taken)
                return -ENOMEM;

        if (p->subnet) {
                if (net_prefix_parse(p->subnet, ret, reason, sizeof(reason)) < 0)
                        return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT, "Invalid subnet: %s",
                                                 reason);
                if (ret->addr.family != AF_INET || ret->len < SUBNET_LEN_MIN || ret->len > SUBNET_LEN_MAX)
                        return sd_bus_error_setf(
                                error, ARK_ERROR_INVALID_ARGUMENT,
                                "Invalid subnet '%s': it must be IPv4, /%d to /%d (IPv6 addresses "
                                "are given to every network by itself).",
                                p->subnet, SUBNET_LEN_MIN, SUBNET_LEN_MAX);
                r = subnet_check_policy(m, p, ret, error);
                if (r < 0)
                        return r;
                for (size_t h = 0; h < n_host; h++)
                        if (net_prefix_overlaps(ret, &host[h]))
                                return sd_bus_error_setf(
                                        error, ARK_ERROR_INVALID_ARGUMENT,
                                        "Invalid subnet '%s': it covers %s, a network this host is "
                                        "on (the management network or another of the host's).",
                                        net_prefix_to_string(ret, a), net_prefix_to_string(&host[h], b));
                LIST_FOREACH(networks, n, m->networks) {
                        if (!net_prefix_overlaps(ret, &n->subnet4))
                                continue;
                        if (streq(n->tenant, p->tenant))
                                return sd_bus_error_setf(
                                        error, ARK_ERROR_INVALID_ARGUMENT,
                                        "Invalid subnet '%s': it overlaps %s of network '%s'.", p->subnet,
                                        net_prefix_to_string(&n->subnet4, a), n->name);
                        /* Another tenant's network is not named. */
                        return sd_bus_error_setf(
                                error, ARK_ERROR_INVALID_ARGUMENT,
                                "Invalid subnet '%s': it overlaps a subnet in use on this host; "
                                "choose another, or leave it out to get a free one.",
                                p->subnet);
                }
                return subnet_check_routes(ret, error);
        }
        k = 0;
        LIST_FOREACH(networks, n, m->networks)
                taken[k++] = n->subnet4;
        for (size_t h = 0; h < n_host; h++)
                taken[k++] = host[h];
        for (size_t h = 0; h < n_routes; h++)
                taken[k++] = routes[h].prefix;
        n_taken = k;
        r = net_subnet_pick(&m->config.network_pool, SUBNET_LEN_DEFAULT, taken, n_taken, ret);
        if (r < 0)
                return sd_bus_error_setf(
                        error, ARK_ERROR_NO_CAPACITY,
                        "No free /%d is left in the tenant subnet pool %s (TenantSubnetPool= in "
                        "ark.conf); name a subnet with --subnet.",
                        SUBNET_LEN_DEFAULT, net_prefix_to_string(&m->config.network_pool, a));
        return 0;
}

/* A random unique-local /64 (RFC 4193: fd, 40 random bits, subnet 0). */
static int random_ula(NetPrefix *ret) {
        uint8_t rnd[5];

        if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
                return -errno;
        *ret = (NetPrefix) { .addr.family = AF_INET6, .len = 64 };
        ret->addr.bytes[0] = 0xfd;
        memcpy(ret->addr.bytes + 1, rnd, sizeof(rnd));
        return 0;
}

/* The lowest segment no network has and whose bridge and VLAN names no link of the host has
 * (an orphan bridge, ports and all, is never taken over). */
static uint32_t free_segment(Manager *m) {
        for (uint32_t s = 1; s <= SEGMENT_MAX; s++) {
                char bridge[IF_NAMESIZE], vlan[IF_NAMESIZE];
                bool used = false;

                LIST_FOREACH(networks, n, m->networks)
                        if (n->segment == s)
                                used = true;
                if (used)
                        continue;
                snprintf(bridge, sizeof(bridge), BRIDGE_FORMAT, s);
                snprintf(vlan, sizeof(vlan), VLAN_FORMAT, s);
                if (net_link_exists(m->net->links, bridge) != 0 || net_link_exists(m->net->links, vlan) != 0)
                        continue;
                return s;
        }
        return 0;
}

static int random_mac(uint8_t ret[static 6]) {
        uint8_t rnd[3];

        if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
                return -errno;
        net_mac_from_random(rnd, ret);
        return 0;
}

static bool tenant_has_quota(const Tenant *t, QuotaResource r) {
        for (size_t k = 0; t && k < t->n_quotas; k++)
                if (t->quotas[k].resource == r)
                        return true;
        return false;
}

/* Validates p into a new, unlinked Network. */
static int network_prepare(Manager *m, const NetworkParams *p, Network **ret, sd_bus_error *error) {
        _cleanup_(network_freep) Network *n = NULL;
        const char *reason;
        char uplink[IF_NAMESIZE];
        NetMode mode = NET_MODE_NAT;
        int r;

        reason = ark_name_invalid_reason(p->name);
        if (reason)
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "Invalid network name '%.80s': %s.", p->name, reason);
        if (!p->tenant_pending && !manager_find_tenant(m, p->tenant))
                return sd_bus_error_setf(error, ARK_ERROR_NOT_FOUND, "Tenant '%.80s' does not exist.",
                                         p->tenant);
        if (network_find(m, p->tenant, p->name))
                return sd_bus_error_setf(error, ARK_ERROR_ALREADY_EXISTS,
                                         "Tenant '%s' has a network '%s' already.", p->tenant, p->name);
        if (!p->tenant_pending) {
                QuotaUsage req = { .amount = { [QUOTA_NETWORKS] = 1 } };

                Tenant *t = manager_find_tenant(m, p->tenant);
                uint64_t have = 0, forwards = 0;

                r = tenant_admit_usage(t, &req, error);
                if (r < 0)
                        return r;
                /* Without a quota on networks, a member may make a handful: each one is a bridge, a
                 * dnsmasq and a /24 of the pool, which a member could otherwise exhaust for everyone. */
                network_tenant_usage(m, p->tenant, &have, &forwards);
                if (!p->caller_admin && have >= MEMBER_NETWORKS_MAX && !tenant_has_quota(t, QUOTA_NETWORKS))
                        return sd_bus_error_setf(error, ARK_ERROR_QUOTA_EXCEEDED,
                                                 "Tenant '%s' has %" PRIu64
                                                 " networks, as many as its members may "
                                                 "make without a quota on networks; ask an admin.",
                                                 p->tenant, have);
        }
        if (!isempty(p->mode) && net_mode_from_string(p->mode, &mode) < 0)
                return sd_bus_error_setf(
                        error, ARK_ERROR_INVALID_ARGUMENT,
                        "Invalid mode '%.40s' for network '%s': it is one of nat, isolated, vlan.", p->mode,
                        p->name);
        if (p->vlan_id != 0 && mode != NET_MODE_VLAN)
                return sd_bus_error_setf(
                        error, ARK_ERROR_INVALID_ARGUMENT,
                        "Invalid VLAN id for network '%s': a VLAN id is for VLAN networks only.", p->name);
        if (mode == NET_MODE_VLAN && (p->vlan_id < 1 || p->vlan_id > 4094))
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "Invalid VLAN id %u for network '%s': it is 1 to 4094.", p->vlan_id,
                                         p->name);
        if (p->mtu != 0 && (p->mtu < 576 || p->mtu > 9000))
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "Invalid MTU %u for network '%s': it is 576 to 9000.", p->mtu,
                                         p->name);

        n = calloc(1, sizeof(Network));
        if (!n)
                return -ENOMEM;
        n->manager = m;
        n->mode = mode;
        n->vlan_id = p->vlan_id;
        n->mtu = p->mtu ?: m->config.network_mtu;
        n->name = strdup(p->name);
        n->tenant = strdup(p->tenant);
        if (!n->name || !n->tenant)
                return -ENOMEM;

        switch (mode) {
        case NET_MODE_ISOLATED:
                if (!isempty(p->uplink))
                        return sd_bus_error_setf(
                                error, ARK_ERROR_INVALID_ARGUMENT,
                                "Invalid uplink for network '%s': an isolated network has none.", p->name);
                break;
        case NET_MODE_VLAN:
                if (isempty(p->uplink))
                        return sd_bus_error_setf(
                                error, ARK_ERROR_INVALID_ARGUMENT,
                                "Network '%s' needs an uplink: the interface that carries VLAN %u.", p->name,
                                p->vlan_id);
                r = check_uplink(m, p->uplink, "the network", error);
                if (r < 0)
                        return r;
                n->uplink = strdup(p->uplink);
                break;
        default:
                if (!isempty(p->uplink)) {
                        r = check_uplink(m, p->uplink, "the network", error);
                        if (r < 0)
                                return r;
                        n->uplink = strdup(p->uplink);
                } else if (m->config.network_uplink)
                        n->uplink = strdup(m->config.network_uplink);
                else if (default_route_interface(uplink) >= 0 && !ark_link_name(uplink))
                        n->uplink = strdup(uplink);
                else
                        return sd_bus_error_setf(
                                error, ARK_ERROR_INVALID_ARGUMENT,
                                "Network '%s' has no way out: the host has no default route; name "
                                "an uplink, set Uplink= in ark.conf, or make it --isolated.",
                                p->name);
        }
        if ((mode != NET_MODE_ISOLATED) && !n->uplink)
                return -ENOMEM;

        r = network_pick_subnet(m, p, &n->subnet4, error);
        if (r < 0)
                return r;
        if (!p->no_ipv6 && m->config.network_ipv6) {
                r = random_ula(&n->subnet6);
                if (r < 0)
                        return r;
        }
        n->segment = free_segment(m);
        if (n->segment == 0)
                return sd_bus_error_setf(error, ARK_ERROR_NO_CAPACITY,
                                         "This host has no network segment left.");
        snprintf(n->bridge, sizeof(n->bridge), BRIDGE_FORMAT, n->segment);
        r = random_mac(n->mac);
        if (r < 0)
                return r;
        r = ark_uuid_generate(n->uuid);
        if (r < 0)
                return r;
        r = network_path(n->tenant, n->name, &n->path);
        if (r < 0)
                return r;
        n->created_usec = now_usec(CLOCK_REALTIME);
        *ret = TAKE_PTR(n);
        return 0;
}

static int network_insert(Network *n) {
        char subnet4[NET_PREFIX_STRLEN], subnet6[NET_PREFIX_STRLEN], mac[NET_MAC_STRLEN];
        StoreNetwork rec = {
                .uuid = n->uuid,
                .name = n->name,
                .tenant = n->tenant,
                .mode = net_mode_to_string(n->mode),
                .subnet4 = net_prefix_to_string(&n->subnet4, subnet4),
                .subnet6 = n->subnet6.addr.family ? net_prefix_to_string(&n->subnet6, subnet6) : NULL,
                .vlan_id = n->vlan_id,
                .uplink = n->uplink,
                .segment = n->segment,
                .mtu = n->mtu,
                .bridge = n->bridge,
                .mac = net_mac_to_string(n->mac, mac),
                .created_usec = n->created_usec,
        };
        int r;

        r = store_network_insert(n->manager->db, &rec);
        if (r < 0)
                return r;
        n->id = rec.id;
        return 0;
}

static void network_emit_added(Network *n) {
        Manager *m = n->manager;

        (void) sd_bus_emit_signal(m->bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "NetworkNew", "sso",
                                  n->tenant, n->name, n->path);
        (void) sd_bus_emit_object_added(m->bus, n->path);
}

int network_create_pending(Manager *m, const NetworkParams *p, Network **ret, sd_bus_error *error) {
        _cleanup_(network_freep) Network *n = NULL;
        int r;

        if (!m->net)
                return sd_bus_error_setf(error, ARK_ERROR_NOT_READY, NETWORKS_UNAVAILABLE);
        r = network_prepare(m, p, &n, error);
        if (r < 0)
                return r;
        r = network_insert(n);
        if (r == -EEXIST)
                return sd_bus_error_setf(error, ARK_ERROR_ALREADY_EXISTS,
                                         "Tenant '%s' has a network '%s' already.", n->tenant, n->name);
        if (r < 0)
                return manager_store_error(m, error, r, "Failed to store network '%s'", n->name);

        /* The data path before the commit: what fails leaves neither. */
        LIST_PREPEND(networks, m->networks, n);
        r = network_up(n, error);
        if (r >= 0)
                r = network_rules_sync(m, error);
        if (r < 0) {
                network_create_undo(TAKE_PTR(n));
                return r;
        }
        *ret = TAKE_PTR(n);
        return 0;
}

void network_create_undo(Network *n) {
        Manager *m = n->manager;

        LIST_REMOVE(networks, m->networks, n);
        network_down(n);
        (void) network_rules_sync(m, NULL);
        network_free(n);
}

void network_create_finish(Network *n) {
        log_info("Created network '%s' of tenant '%s' (%s, %s, bridge %s).", n->name, n->tenant,
                 net_mode_to_string(n->mode), n->uplink ?: "no uplink", n->bridge);
        network_emit_added(n);
}

int network_create(Manager *m, const NetworkParams *p, Network **ret, sd_bus_error *error) {
        _cleanup_transaction_ DbTransaction tx = {};
        Network *n;
        int r;

        r = db_transaction_begin(m->db, &tx);
        if (r < 0)
                return manager_store_error(m, error, r, "Failed to store network '%s'", p->name);
        r = network_create_pending(m, p, &n, error);
        if (r < 0)
                return r;
        r = db_transaction_commit(&tx);
        if (r < 0) {
                network_create_undo(n);
                return manager_store_error(m, error, r, "Failed to store network '%s'", p->name);
        }
        network_create_finish(n);
        if (ret)
                *ret = n;
        return 0;
}

static void network_unlink(Network *n) {
        Manager *m = n->manager;
        sd_bus_error e = SD_BUS_ERROR_NULL;

        LIST_REMOVE(networks, m->networks, n);
        network_down(n);
        if (network_rules_sync(m, &e) < 0)
                log_error("The network rule set still holds network '%s': %s", n->name, e.message);
        sd_bus_error_free(&e);
        (void) sd_bus_emit_signal(m->bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "NetworkRemoved", "sso",
                                  n->tenant, n->name, n->path);
        (void) sd_bus_emit_object_removed(m->bus, n->path);
        network_free(n);
}

int network_delete(Network *n, sd_bus_error *error) {
        _cleanup_transaction_ DbTransaction tx = {};
        Manager *m = n->manager;
        int r;

        if (n->nics) {
                Instance *i = instance_by_id(m, n->nics->instance_id);
                size_t k = count_nics(n);

                return sd_bus_error_setf(
                        error, ARK_ERROR_IN_USE,
                        "Network '%s' still has %zu instance%s on it ('%s'%s); delete them or take "
                        "them off the network first.",
                        n->name, k, k == 1 ? "" : "s", i ? i->name : "?", k > 1 ? ", ..." : "");
        }
        r = db_transaction_begin(m->db, &tx);
        if (r >= 0)
                r = store_network_delete(m->db, n->id);
        if (r >= 0)
                r = db_transaction_commit(&tx);
        if (r == -EBUSY)
                return sd_bus_error_setf(error, ARK_ERROR_IN_USE, "Network '%s' still has instances on it.",
                                         n->name);
        if (r < 0)
                return manager_store_error(m, error, r, "Failed to delete network '%s'", n->name);
        log_info("Deleted network '%s' of tenant '%s'.", n->name, n->tenant);
        network_unlink(n);
        return 0;
}

void network_forget_tenant(Manager *m, const char *tenant) {
        Network *next;

        for (Network *n = m->networks; n; n = next) {
                next = n->networks_next;
                if (streq(n->tenant, tenant))
                        network_unlink(n);
        }
}

/* ---------------------------------------------------------------------------------- NICs */

#define NICS_MAX 8

void network_nics_free(Nic **nics) {
        for (Nic **c = nics; c && *c; c++)
                nic_free(*c);
        free(nics);
}

/* Whether another NIC, stored or being made (pending, `self` excepted), has this MAC or name. */
static bool mac_in_use(Manager *m, const uint8_t mac[static 6], Nic **pending, const Nic *self) {
        LIST_FOREACH(networks, n, m->networks)
                LIST_FOREACH(nics, c, n->nics)
                        if (memcmp(c->mac, mac, 6) == 0)
                                return true;
        for (Nic **c = pending; c && *c; c++)
                if (*c != self && memcmp((*c)->mac, mac, 6) == 0)
                        return true;
        return false;
}

static bool ifname_in_use(Manager *m, const char *name, Nic **pending, const Nic *self) {
        for (Nic **c = pending; c && *c; c++)
                if (*c != self && streq((*c)->ifname, name))
                        return true;
        return ifname_known(m, name);
}

/* A MAC, an interface name and the lowest free address of `n` for a new NIC. */
static int nic_choose(Manager *m, Network *n, Nic **pending, Nic *c, sd_bus_error *error) {
        _cleanup_free_ NetAddr *used = NULL;
        size_t k = 0;
        int r;

        used = calloc(count_nics(n) + 1, sizeof(NetAddr));
        if (!used)
                return -ENOMEM;
        LIST_FOREACH(nics, o, n->nics)
                used[k++] = o->ip4;
        r = net_ipam_pick(&n->subnet4, used, k, &c->ip4);
        if (r == -ENOSPC)
                return sd_bus_error_setf(error, ARK_ERROR_NO_CAPACITY,
                                         "Network '%s' has no free address left.", n->name);
        if (r < 0)
                return r;
        for (unsigned tries = 0;; tries++) {
                uint32_t rnd;

                if (tries > 64)
                        return -EADDRINUSE;
                r = random_mac(c->mac);
                if (r < 0)
                        return r;
                if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
                        return -errno;
                snprintf(c->ifname, sizeof(c->ifname), NIC_PREFIX "%08x", rnd);
                if (!mac_in_use(m, c->mac, pending, c) && !ifname_in_use(m, c->ifname, pending, c))
                        return 0;
        }
}

static int nic_insert(Manager *m, Nic *c) {
        char mac[NET_MAC_STRLEN], ip[NET_ADDR_STRLEN];
        StoreNic rec = {
                .instance_id = c->instance_id,
                .network_id = c->network->id,
                .position = c->position,
                .mac = net_mac_to_string(c->mac, mac),
                .ip4 = net_addr_to_string(&c->ip4, ip),
                .ifname = c->ifname,
        };
        int r;

        r = store_nic_insert(m->db, &rec);
        if (r < 0)
                return r;
        c->id = rec.id;
        return 0;
}

static void nics_detach(Nic **nics) {
        for (Nic **c = nics; c && *c; c++)
                if ((*c)->network)
                        LIST_REMOVE(nics, (*c)->network->nics, *c);
}

int network_nics_allocate(Manager *m, Instance *i, char *const *networks, Nic ***ret_nics,
                          sd_bus_error *error) {
        /* Static: the list is read after the block that picks it. */
        static char *const default_only[] = { (char *) NETWORK_DEFAULT_NAME, NULL };
        Nic **nics = NULL;
        size_t n_names = strv_length((char **) networks);
        int r = 0;

        *ret_nics = NULL;
        if (!m->net) {
                if (n_names > 0)
                        return sd_bus_error_setf(error, ARK_ERROR_NOT_READY, NETWORKS_UNAVAILABLE);
                return 0;
        }
        if (n_names > NICS_MAX)
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "Instance '%s' asks for %zu networks; at most %d.", i->name,
                                         n_names, NICS_MAX);
        nics = calloc(NICS_MAX + 1, sizeof(Nic *));
        if (!nics)
                return -ENOMEM;
        if (n_names == 0) {
                /* The default network, when the tenant has one. */
                Network *d = network_find(m, i->tenant, NETWORK_DEFAULT_NAME);

                if (!d) {
                        *ret_nics = nics;
                        return 0;
                }
                networks = default_only;
                n_names = 1;
        }
        for (size_t k = 0; k < n_names && r >= 0; k++) {
                Network *n = network_find(m, i->tenant, networks[k]);
                Nic *c;

                for (size_t j = 0; j < k; j++)
                        if (streq(networks[j], networks[k]))
                                r = sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                                      "Network '%.80s' is named twice for instance '%s'.",
                                                      networks[k], i->name);
                if (r < 0)
                        break;
                if (!n) {
                        r = sd_bus_error_setf(error, ARK_ERROR_NOT_FOUND,
                                              "Tenant '%s' has no network '%.80s'.", i->tenant, networks[k]);
                        break;
                }
                c = calloc(1, sizeof(Nic));
                if (!c) {
                        r = -ENOMEM;
                        break;
                }
                c->instance_id = i->id;
                c->position = (unsigned) k;
                nics[k] = c;
                r = nic_choose(m, n, nics, c, error);
                if (r >= 0) {
                        c->network = n;
                        r = nic_insert(m, c);
                        if (r < 0) {
                                c->network = NULL;
                                r = manager_store_error(m, error, r, "Failed to store the NICs of '%s'",
                                                        i->name);
                        } else
                                LIST_PREPEND(nics, n->nics, c);
                }
        }
        /* Anti-spoofing knows the ports before they exist. */
        if (r >= 0)
                r = network_rules_sync(m, error);
        if (r < 0) {
                nics_detach(nics);
                network_nics_free(nics);
                (void) network_rules_sync(m, NULL);
                return r;
        }
        *ret_nics = nics;
        return 0;
}

void network_nics_abort(Manager *m, Nic **nics) {
        nics_detach(nics);
        network_nics_free(nics);
        if (m->net)
                (void) network_rules_sync(m, NULL);
}

void network_nics_commit(Manager *m, Nic **nics) {
        for (Nic **c = nics; c && *c; c++) {
                Network *n = (*c)->network;
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;

                if (network_up(n, &e) < 0) {
                        log_error("Network '%s' does not serve its new instance yet: %s", n->name,
                                  e.message);
                        network_set_problem(n, e.message);
                }
                (void) sd_bus_emit_properties_changed(m->bus, n->path, ARK_BUS_IFACE_NETWORK, "Instances",
                                                      NULL);
        }
        free(nics); /* the NICs belong to their networks now */
}

void network_instance_deleted(Manager *m, int64_t instance_id) {
        bool changed = false;

        LIST_FOREACH(networks, n, m->networks) {
                Nic *next;
                bool mine = false;

                for (Nic *c = n->nics; c; c = next) {
                        next = c->nics_next;
                        if (c->instance_id != instance_id)
                                continue;
                        /* Its forwards went with it in the store (ON DELETE CASCADE). */
                        for (Forward *f = n->forwards, *fn; f; f = fn) {
                                fn = f->forwards_next;
                                if (f->nic == c) {
                                        LIST_REMOVE(forwards, n->forwards, f);
                                        free(f);
                                }
                        }
                        LIST_REMOVE(nics, n->nics, c);
                        nic_free(c);
                        mine = changed = true;
                }
                if (mine) {
                        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;

                        if (network_up(n, &e) < 0)
                                network_set_problem(n, e.message);
                        (void) sd_bus_emit_properties_changed(m->bus, n->path, ARK_BUS_IFACE_NETWORK,
                                                              "Instances", "Forwards", NULL);
                }
        }
        if (changed)
                (void) network_rules_sync(m, NULL);
}

static int compare_nic_position(const void *a, const void *b) {
        const Nic *x = *(const Nic *const *) a, *y = *(const Nic *const *) b;
        return (x->position > y->position) - (x->position < y->position);
}

Nic **network_instance_nics(Manager *m, int64_t instance_id) {
        Nic **l;
        size_t k = 0;

        l = calloc(NICS_MAX + 1, sizeof(Nic *));
        if (!l)
                return NULL;
        LIST_FOREACH(networks, n, m->networks)
                LIST_FOREACH(nics, c, n->nics)
                        if (c->instance_id == instance_id && k < NICS_MAX)
                                l[k++] = c;
        qsort(l, k, sizeof(Nic *), compare_nic_position);
        return l;
}

int network_instance_plug_netns(Instance *i, int netns_fd, sd_bus_error *error) {
        Manager *m = i->manager;
        _cleanup_free_ Nic **nics = network_instance_nics(m, i->id);
        int r;

        if (!nics)
                return -ENOMEM;
        if (nics[0] && !m->net)
                return sd_bus_error_setf(error, ARK_ERROR_NOT_READY, "%s", NETWORKS_UNAVAILABLE);
        for (Nic **c = nics; *c; c++) {
                Network *n = (*c)->network;
                NetPrefix addr = { .addr = (*c)->ip4, .len = n->subnet4.len };
                NetPrefix gw = gateway_prefix(&n->subnet4);
                char peer[IF_NAMESIZE];

                if (n->problem)
                        return sd_bus_error_setf(error, ARK_ERROR_NOT_READY, "Network '%s' is not up: %s",
                                                 n->name, n->problem);
                snprintf(peer, sizeof(peer), "eth%u", (*c)->position);
                r = net_veth_into_netns(m->net->links, (*c)->ifname, n->bridge, netns_fd, peer, (*c)->mac,
                                        n->mtu, &addr, n->mode == NET_MODE_NAT ? &gw.addr : NULL);
                if (r < 0)
                        return sd_bus_error_setf(error, ARK_ERROR_NOT_READY,
                                                 "Failed to plug '%s' into network '%s': %s.", i->name,
                                                 n->name, strerror(-r));
        }
        return 0;
}

/* ---------------------------------------------------------------------------------- forwards */

static Forward *forward_find(Manager *m, uint8_t proto, uint16_t port) {
        LIST_FOREACH(networks, n, m->networks)
                LIST_FOREACH(forwards, f, n->forwards)
                        if (f->proto == proto && f->port == port)
                                return f;
        return NULL;
}

/* Whether a socket of the host listens on port (/proc/net/{tcp,udp}{,6}): a forward must not
 * take the host's own services (SSH) away from the site. */
static bool host_listens(uint8_t proto, uint16_t port) {
        const char *const files[2][2] = { { "/proc/net/tcp", "/proc/net/tcp6" },
                                          { "/proc/net/udp", "/proc/net/udp6" } };

        for (int k = 0; k < 2; k++) {
                _cleanup_free_ char *text = NULL;

                if (read_full_file(files[proto == IPPROTO_UDP][k], &text, NULL) < 0)
                        continue;
                for (char *line = strchr(text, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
                        unsigned p, state;

                        if (sscanf(line + 1, "%*d: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x", &p, &state) != 2)
                                continue;
                        /* TCP: LISTEN (0A); UDP: any bound socket (07, unconnected). */
                        if (p == port && (proto == IPPROTO_UDP ? state == 0x07 : state == 0x0A))
                                return true;
                }
        }
        return false;
}

int network_forward_add(Network *n, const char *proto_name, uint16_t port, Instance *i, uint16_t to_port,
                        sd_bus_error *error) {
        _cleanup_transaction_ DbTransaction tx = {};
        Manager *m = n->manager;
        Nic *nic = NULL;
        Forward *f;
        uint8_t proto;
        int r;

        if (proto_from_string(proto_name, &proto) < 0)
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "Invalid protocol '%.20s' for a forward: it is tcp or udp.",
                                         proto_name);
        if (n->mode != NET_MODE_NAT)
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "Network '%s' is %s: forwards reach NAT networks only.", n->name,
                                         net_mode_to_string(n->mode));
        if (port == 0 || to_port == 0)
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "Invalid port 0 for a forward: 1 to 65535.");
        if (!streq(i->tenant, n->tenant))
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "Instance '%s' is not on network '%s'.", i->name, n->name);
        LIST_FOREACH(nics, c, n->nics)
                if (c->instance_id == i->id)
                        nic = c;
        if (!nic)
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "Instance '%s' is not on network '%s'.", i->name, n->name);
        if (forward_find(m, proto, port))
                return sd_bus_error_setf(error, ARK_ERROR_ALREADY_EXISTS,
                                         "%s port %u of the host is forwarded already.", proto_name, port);
        {
                QuotaUsage req = { .amount = { [QUOTA_FORWARDS] = 1 } };
                Tenant *t = manager_find_tenant(m, n->tenant);

                r = t ? tenant_admit_usage(t, &req, error) : 0;
                if (r < 0)
                        return r;
        }
        if (host_listens(proto, port))
                return sd_bus_error_setf(error, ARK_ERROR_IN_USE,
                                         "%s port %u is a service of the host's own; choose another port.",
                                         proto_name, port);

        f = calloc(1, sizeof(Forward));
        if (!f)
                return -ENOMEM;
        *f = (Forward) { .nic = nic,
                         .proto = proto,
                         .port = port,
                         .to_port = to_port,
                         .created_usec = now_usec(CLOCK_REALTIME) };
        r = db_transaction_begin(m->db, &tx);
        if (r >= 0) {
                StoreForward rec = { .nic_id = nic->id,
                                     .proto = proto_name,
                                     .port = port,
                                     .to_port = to_port,
                                     .created_usec = f->created_usec };

                r = store_forward_insert(m->db, &rec);
                f->id = rec.id;
        }
        if (r < 0) {
                free(f);
                if (r == -EEXIST)
                        return sd_bus_error_setf(error, ARK_ERROR_ALREADY_EXISTS,
                                                 "%s port %u of the host is forwarded already.", proto_name,
                                                 port);
                return manager_store_error(m, error, r, "Failed to store the forward");
        }
        LIST_PREPEND(forwards, n->forwards, f);
        r = network_rules_sync(m, error);
        if (r >= 0) {
                r = db_transaction_commit(&tx);
                if (r < 0)
                        r = manager_store_error(m, error, r, "Failed to store the forward");
        }
        if (r < 0) {
                LIST_REMOVE(forwards, n->forwards, f);
                free(f);
                (void) network_rules_sync(m, NULL);
                return r;
        }
        log_info("Forwarding %s port %u to %s:%u of instance '%s' (network '%s').", proto_name, port,
                 i->name, to_port, i->name, n->name);
        (void) sd_bus_emit_properties_changed(m->bus, n->path, ARK_BUS_IFACE_NETWORK, "Forwards", NULL);
        return 0;
}

int network_forward_remove(Network *n, const char *proto_name, uint16_t port, sd_bus_error *error) {
        _cleanup_transaction_ DbTransaction tx = {};
        Manager *m = n->manager;
        Forward *f = NULL;
        uint8_t proto;
        int r;

        if (proto_from_string(proto_name, &proto) < 0)
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "Invalid protocol '%.20s' for a forward: it is tcp or udp.",
                                         proto_name);
        LIST_FOREACH(forwards, o, n->forwards)
                if (o->proto == proto && o->port == port)
                        f = o;
        if (!f)
                return sd_bus_error_setf(error, ARK_ERROR_NOT_FOUND,
                                         "Network '%s' has no forward of %s port %u.", n->name, proto_name,
                                         port);
        r = db_transaction_begin(m->db, &tx);
        if (r >= 0)
                r = store_forward_delete(m->db, f->id);
        if (r < 0)
                return manager_store_error(m, error, r, "Failed to delete the forward");
        LIST_REMOVE(forwards, n->forwards, f);
        r = network_rules_sync(m, error);
        if (r >= 0) {
                r = db_transaction_commit(&tx);
                if (r < 0)
                        r = manager_store_error(m, error, r, "Failed to delete the forward");
        }
        if (r < 0) {
                LIST_PREPEND(forwards, n->forwards, f);
                (void) network_rules_sync(m, NULL);
                return r;
        }
        free(f);
        log_info("Removed the forward of %s port %u (network '%s').", proto_name, port, n->name);
        (void) sd_bus_emit_properties_changed(m->bus, n->path, ARK_BUS_IFACE_NETWORK, "Forwards", NULL);
        return 0;
}

void network_default_params(Manager *m, const char *tenant, NetworkParams *ret) {
        char uplink[IF_NAMESIZE];
        bool way_out =
                m->config.network_uplink || (default_route_interface(uplink) >= 0 && !ark_link_name(uplink));

        /* A host with no way out still gives the tenant a network of its own. */
        *ret = (NetworkParams) { .name = NETWORK_DEFAULT_NAME,
                                 .tenant = tenant,
                                 .mode = way_out ? "nat" : "isolated",
                                 .caller_admin = true };
}

bool network_available(Manager *m) {
        return m->net != NULL;
}

/* ---------------------------------------------------------------------------------- metrics */

/* The named counters of Ark's tables (libnftables, JSON), into counts[] in the order of names[]. */
static int read_nft_counters(NetState *s, const char *const *names, size_t n, uint64_t *counts) {
        _cleanup_(json_decrefp) json_t *j = NULL;
        const char *out;
        json_t *items, *item;
        size_t k;
        int r;

        nft_ctx_output_set_flags(s->nft, NFT_CTX_OUTPUT_JSON);
        r = nft_ctx_buffer_output(s->nft);
        if (r >= 0)
                r = nft_run_cmd_from_buffer(s->nft, "list counters") == 0 ? 0 : -EIO;
        out = nft_ctx_get_output_buffer(s->nft);
        if (r >= 0)
                j = json_loads(strempty(out), 0, NULL);
        (void) nft_ctx_unbuffer_output(s->nft);
        nft_ctx_output_set_flags(s->nft, 0);
        if (r < 0 || !j)
                return r < 0 ? r : -EBADMSG;
        items = json_object_get(j, "nftables");
        json_array_foreach(items, k, item) {
                json_t *c = json_object_get(item, "counter");
                const char *table = json_string_value(json_object_get(c, "table"));
                const char *name = json_string_value(json_object_get(c, "name"));

                if (!c || !streq_ptr(table, NET_RULES_TABLE))
                        continue;
                for (size_t i = 0; i < n; i++)
                        if (streq_ptr(name, names[i]))
                                counts[i] += (uint64_t) json_integer_value(json_object_get(c, "packets"));
        }
        return 0;
}

static void render_link(StrBuf *b, const char *what, const char *labels, const NetLinkStats *st) {
        strbuf_printf(b, "ark_%s_receive_bytes_total{%s} %" PRIu64 "\n", what, labels, st->rx_bytes);
        strbuf_printf(b, "ark_%s_transmit_bytes_total{%s} %" PRIu64 "\n", what, labels, st->tx_bytes);
        strbuf_printf(b, "ark_%s_receive_drops_total{%s} %" PRIu64 "\n", what, labels, st->rx_dropped);
        strbuf_printf(b, "ark_%s_transmit_drops_total{%s} %" PRIu64 "\n", what, labels, st->tx_dropped);
}

void network_metrics_render(Manager *m, StrBuf *b) {
        static const char *const reasons[] = {
                NET_RULES_COUNTER_SPOOF, NET_RULES_COUNTER_DHCP,    NET_RULES_COUNTER_RA,
                NET_RULES_COUNTER_HOST,  NET_RULES_COUNTER_FORWARD,
        };
        uint64_t counts[ELEMENTSOF(reasons)] = {};

        if (!m->net)
                return;
        strbuf_append(b, "# HELP ark_networks Tenant networks.\n# TYPE ark_networks gauge\n");
        {
                unsigned n = 0;

                LIST_FOREACH(networks, net, m->networks)
                        n++;
                strbuf_printf(b, "ark_networks %u\n", n);
        }
        if (read_nft_counters(m->net, reasons, ELEMENTSOF(reasons), counts) >= 0) {
                strbuf_append(
                        b,
                        "# HELP ark_network_dropped_packets_total Packets the tenant network rules dropped, "
                        "by reason (spoofed: a source or ND target not the port's own; rogue_dhcp, "
                        "router_adverts: served from a tenant port; to_host: to the host other than "
                        "DHCP and DNS; forward_denied: routed where a tenant may not go).\n"
                        "# TYPE ark_network_dropped_packets_total counter\n");
                for (size_t k = 0; k < ELEMENTSOF(reasons); k++)
                        strbuf_printf(b, "ark_network_dropped_packets_total{reason=\"%s\"} %" PRIu64 "\n",
                                      reasons[k], counts[k]);
        }
        /* Seen from the host: what a network's bridge and an instance's port received is what
         * the tenant sent. */
        strbuf_append(
                b,
                "# HELP ark_network_receive_bytes_total Bytes and drops of each tenant network's bridge "
                "(receive: from its instances; also ark_network_transmit_bytes_total, "
                "ark_network_receive_drops_total, ark_network_transmit_drops_total).\n"
                "# TYPE ark_network_receive_bytes_total counter\n");
        LIST_FOREACH(networks, n, m->networks) {
                _cleanup_free_ char *labels = strprintf("tenant=\"%s\",network=\"%s\"", n->tenant, n->name);
                NetLinkStats st;

                if (labels && net_link_stats(m->net->links, n->bridge, &st) >= 0)
                        render_link(b, "network", labels, &st);
        }
        strbuf_append(
                b,
                "# HELP ark_nic_receive_bytes_total Bytes and drops of each instance's port on a tenant "
                "network, from the host's side (receive: what the instance sent; also "
                "ark_nic_transmit_bytes_total, ark_nic_receive_drops_total, "
                "ark_nic_transmit_drops_total).\n"
                "# TYPE ark_nic_receive_bytes_total counter\n");
        LIST_FOREACH(networks, n, m->networks)
                LIST_FOREACH(nics, c, n->nics) {
                        Instance *i = instance_by_id(m, c->instance_id);
                        _cleanup_free_ char *labels = NULL;
                        NetLinkStats st;

                        if (!i || net_link_stats(m->net->links, c->ifname, &st) < 0)
                                continue; /* not running: no port */
                        labels = strprintf("tenant=\"%s\",instance=\"%s\",network=\"%s\"", n->tenant,
                                           i->name, n->name);
                        if (labels)
                                render_link(b, "nic", labels, &st);
                }
}

void network_tenant_usage(Manager *m, const char *tenant, uint64_t *ret_networks, uint64_t *ret_forwards) {
        uint64_t nets = 0, fwds = 0;

        LIST_FOREACH(networks, n, m->networks) {
                if (!streq(n->tenant, tenant))
                        continue;
                nets++;
                LIST_FOREACH(forwards, f, n->forwards)
                        fwds++;
        }
        *ret_networks = nets;
        *ret_forwards = fwds;
}

/* ---------------------------------------------------------------------------------- NICs of an existing instance */

static Nic *instance_nic_on(Network *n, int64_t instance_id) {
        LIST_FOREACH(nics, c, n->nics)
                if (c->instance_id == instance_id)
                        return c;
        return NULL;
}

static int instance_live(Instance *i, sd_bus_error *error) {
        switch (i->state) {
        case INSTANCE_STOPPED:
        case INSTANCE_CRASHED:
                return 0;
        case INSTANCE_RUNNING:
        case INSTANCE_PAUSED:
                return 1;
        default:
                return sd_bus_error_setf(
                        error, ARK_ERROR_INVALID_STATE,
                        "Instance '%s' is %s; change its networks when it runs or is stopped.", i->name,
                        instance_state_to_string(i->state));
        }
}

int network_instance_add(Instance *i, const InstanceDriver *d, const char *network, sd_bus_error *error) {
        _cleanup_transaction_ DbTransaction tx = {};
        _cleanup_free_ Nic **mine = NULL;
        Manager *m = i->manager;
        Network *n;
        Nic *c = NULL;
        unsigned position = 0;
        int live, r;

        if (!m->net)
                return sd_bus_error_setf(error, ARK_ERROR_NOT_READY, NETWORKS_UNAVAILABLE);
        n = network_find(m, i->tenant, network);
        if (!n)
                return sd_bus_error_setf(error, ARK_ERROR_NOT_FOUND, "Tenant '%s' has no network '%.80s'.",
                                         i->tenant, network);
        if (instance_nic_on(n, i->id))
                return sd_bus_error_setf(error, ARK_ERROR_ALREADY_EXISTS,
                                         "Instance '%s' is on network '%s' already.", i->name, n->name);
        mine = network_instance_nics(m, i->id);
        if (!mine)
                return -ENOMEM;
        /* The first free place: one left by a NIC taken out is used again. */
        for (bool taken = true; taken && position < NICS_MAX; position += taken) {
                taken = false;
                for (Nic **o = mine; *o && !taken; o++)
                        taken = (*o)->position == position;
        }
        if (position >= NICS_MAX || mine[NICS_MAX - 1])
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "Instance '%s' has %d NICs; at most %d.", i->name, NICS_MAX,
                                         NICS_MAX);
        live = instance_live(i, error);
        if (live < 0)
                return live;

        c = calloc(1, sizeof(Nic));
        if (!c)
                return -ENOMEM;
        c->instance_id = i->id;
        c->position = position;
        r = db_transaction_begin(m->db, &tx);
        if (r < 0) {
                free(c);
                return manager_store_error(m, error, r, "Failed to store the NIC of '%s'", i->name);
        }
        r = nic_choose(m, n, NULL, c, error);
        if (r >= 0) {
                c->network = n;
                r = nic_insert(m, c);
                if (r < 0)
                        r = manager_store_error(m, error, r, "Failed to store the NIC of '%s'", i->name);
        }
        if (r < 0) {
                free(c);
                return r;
        }
        /* Rules first (anti-spoofing knows the port before it exists), then the hypervisor, then
         * the definition; undone in reverse when a step fails. */
        LIST_PREPEND(nics, n->nics, c);
        r = network_rules_sync(m, error);
        if (r >= 0 && live) {
                r = d->attach_nic(i, c, error);
                if (r < 0)
                        live = 0; /* nothing to unplug */
        }
        if (r >= 0)
                r = d->define(i, error);
        if (r >= 0) {
                r = db_transaction_commit(&tx);
                if (r < 0)
                        r = manager_store_error(m, error, r, "Failed to store the NIC of '%s'", i->name);
        }
        if (r < 0) {
                sd_bus_error e = SD_BUS_ERROR_NULL;

                if (live)
                        (void) d->detach_nic(i, c, &e);
                sd_bus_error_free(&e);
                LIST_REMOVE(nics, n->nics, c);
                nic_free(c);
                (void) d->define(i, &e); /* as the store still has it */
                sd_bus_error_free(&e);
                (void) network_rules_sync(m, NULL);
                return r;
        }
        {
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;

                if (network_up(n, &e) < 0)
                        network_set_problem(n, e.message);
        }
        log_info("Instance '%s' joined network '%s' (%s).", i->name, n->name, c->ifname);
        (void) sd_bus_emit_properties_changed(m->bus, n->path, ARK_BUS_IFACE_NETWORK, "Instances", NULL);
        return 0;
}

int network_instance_remove(Instance *i, const InstanceDriver *d, const char *network, sd_bus_error *error) {
        _cleanup_transaction_ DbTransaction tx = {};
        Manager *m = i->manager;
        Forward *held = NULL;
        Network *n;
        Nic *c;
        int live, r;

        n = m->net ? network_find(m, i->tenant, network) : NULL;
        c = n ? instance_nic_on(n, i->id) : NULL;
        if (!c)
                return sd_bus_error_setf(error, ARK_ERROR_NOT_FOUND,
                                         "Instance '%s' is not on a network '%.80s'.", i->name, network);
        live = instance_live(i, error);
        if (live < 0)
                return live;
        r = db_transaction_begin(m->db, &tx);
        if (r >= 0)
                r = store_nic_delete(m->db, c->id); /* its forwards go with it (ON DELETE CASCADE) */
        if (r < 0)
                return manager_store_error(m, error, r, "Failed to remove the NIC of '%s'", i->name);
        /* Out of the rules and the definition with its forwards, kept aside until the commit. */
        LIST_REMOVE(nics, n->nics, c);
        for (Forward *f = n->forwards, *next; f; f = next) {
                next = f->forwards_next;
                if (f->nic == c) {
                        LIST_REMOVE(forwards, n->forwards, f);
                        LIST_PREPEND(forwards, held, f);
                }
        }
        r = live ? d->detach_nic(i, c, error) : 0;
        if (r >= 0)
                r = d->define(i, error);
        if (r >= 0)
                r = network_rules_sync(m, error);
        if (r >= 0) {
                r = db_transaction_commit(&tx);
                if (r < 0)
                        r = manager_store_error(m, error, r, "Failed to remove the NIC of '%s'", i->name);
        }
        if (r < 0) {
                sd_bus_error e = SD_BUS_ERROR_NULL;

                LIST_PREPEND(nics, n->nics, c);
                while (held) {
                        Forward *f = held;
                        LIST_REMOVE(forwards, held, f);
                        LIST_PREPEND(forwards, n->forwards, f);
                }
                if (live)
                        (void) d->attach_nic(i, c, &e);
                sd_bus_error_free(&e);
                (void) d->define(i, &e);
                sd_bus_error_free(&e);
                (void) network_rules_sync(m, NULL);
                return r;
        }
        while (held) {
                Forward *f = held;
                LIST_REMOVE(forwards, held, f);
                free(f);
        }
        log_info("Instance '%s' left network '%s' (%s).", i->name, n->name, c->ifname);
        nic_free(c);
        {
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;

                if (network_up(n, &e) < 0)
                        network_set_problem(n, e.message);
        }
        (void) sd_bus_emit_properties_changed(m->bus, n->path, ARK_BUS_IFACE_NETWORK, "Instances",
                                              "Forwards", NULL);
        return 0;
}

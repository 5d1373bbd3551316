/* bench/net: the cost of Ark's tenant network rule set (issue 17, acceptance 6). See bench/README.md.
 *
 *   net [--networks N] [--ports-per-network M] [--seconds S] [--runs R] [--loads L]
 *       [--no-offload] [--no-bridge-nf]
 *
 * As root, in network namespaces of its own (named after its pid, always removed, on a signal too):
 *   - a "host" namespace with N tenant bridges and M ports on each (veth pairs named as arkd names
 *     a NIC, arkt%08x, their host side in the bridge), and the rule set of lib/net for exactly
 *     that model, rendered with net_rules_render() and loaded with libnftables as arkd loads it;
 *     the time of a load is measured L times (replacing the tables, as arkd does on every change)
 *     after a first load into the empty namespace;
 *   - two endpoint namespaces holding the peers of the first network's first two ports, with the
 *     model's MACs and addresses (so anti-spoofing lets them through);
 *   - a bare veth pair between two more namespaces (the baseline), and a bridge without rules in a
 *     namespace of its own with two endpoints (where the time goes when the ratio is low).
 * iperf3 (TCP, one stream) runs S seconds on each path, R times, the paths taking turns; the
 * medians are printed with the ratio against the bare veth pair. One stream: iperf3 3.12 runs a
 * test in one thread, and sender and receiver together already keep two cores busy (the numbers
 * are CPU-bound; the CPU count is printed). The other ports' peers stay in the host namespace,
 * down: 1,000 namespaces would take minutes to make. --no-offload and --no-bridge-nf are there to
 * see where the time goes (bench/README.md). */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <net/if.h>
#include <netinet/in.h>
#include <nftables/libnftables.h>
#include <jansson.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "basic/macro.h"
#include "basic/string-util.h"
#include "basic/time-util.h"
#include "net/netaddr.h"
#include "net/netrules.h"

#define IPERF_PORT 5201
#define MAX_NETWORKS 4096 /* 10.64.0.0/24 to 10.79.255.0/24 */
#define MAX_PORTS 250     /* hosts 2 to 251 of a /24 */
#define MAX_RUNS 100
#define UPLINK "arkbup0"

static unsigned arg_networks = 100;
static unsigned arg_ports = 10;
static unsigned arg_seconds = 3;
static unsigned arg_runs = 3;
static unsigned arg_loads = 5;
static bool arg_offload = true;
static bool arg_bridge_nf = true;

/* The namespaces, in the order they are made. */
enum {
        NS_HOST,   /* the tenant bridges, their ports and the rule set */
        NS_SERVER, /* endpoint of network 0, port 0: iperf3 -s */
        NS_CLIENT, /* endpoint of network 0, port 1: iperf3 -c */
        NS_BARE_S, /* the baseline: a bare veth pair */
        NS_BARE_C,
        NS_PLAIN,   /* a bridge without rules ... */
        NS_PLAIN_S, /* ... and its two endpoints */
        NS_PLAIN_C,
        _NS_MAX
};

static const char *const ns_role[_NS_MAX] = { "h",      "srv",   "cli",     "bare-s",
                                              "bare-c", "plain", "plain-s", "plain-c" };

/* What the cleanup needs, ready before it can run: it runs from a signal handler too, where only
 * system calls are safe. */
static char ns_name[_NS_MAX][64];
static char ns_path[_NS_MAX][96];
static volatile sig_atomic_t ns_made[_NS_MAX];
static volatile pid_t servers[3], client;

typedef enum Path {
        PATH_BARE,
        PATH_PLAIN,
        PATH_ARK,
        _PATH_MAX
} Path;

static const char *const path_label[_PATH_MAX] = {
        [PATH_BARE] = "bare veth pair (baseline)",
        [PATH_PLAIN] = "bridge, no rules",
        [PATH_ARK] = "tenant network, rule set",
};

/* Server and client namespaces and the server's address of each path. */
static const int path_ns[_PATH_MAX][2] = {
        [PATH_BARE] = { NS_BARE_S, NS_BARE_C },
        [PATH_PLAIN] = { NS_PLAIN_S, NS_PLAIN_C },
        [PATH_ARK] = { NS_SERVER, NS_CLIENT },
};
static char path_addr[_PATH_MAX][NET_ADDR_STRLEN] = {
        [PATH_BARE] = "10.255.1.1",
        [PATH_PLAIN] = "10.255.2.1",
};

typedef struct Model {
        NetRulesNetwork *networks;
        NetRulesPort *ports;
        NetRulesForward *forwards;
        char (*bridges)[IF_NAMESIZE];
        char (*ifnames)[IF_NAMESIZE];
        NetPrefix protected[2];
        NetRules rules;
} Model;

static void model_done(Model *m) {
        free(m->networks);
        free(m->ports);
        free(m->forwards);
        free(m->bridges);
        free(m->ifnames);
}

static int parse_unsigned(const char *name, const char *s, unsigned min, unsigned max, unsigned *ret) {
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
                fprintf(stderr, "net: --%s must be a number from %u to %u, not '%s'\n", name, min, max, s);
                return -EINVAL;
        }
        *ret = (unsigned) v;
        return 0;
}

static int parse_argv(int argc, char *argv[]) {
        static const struct option options[] = { { "networks", required_argument, NULL, 'n' },
                                                 { "ports-per-network", required_argument, NULL, 'p' },
                                                 { "seconds", required_argument, NULL, 's' },
                                                 { "runs", required_argument, NULL, 'r' },
                                                 { "loads", required_argument, NULL, 'l' },
                                                 { "no-offload", no_argument, NULL, 'O' },
                                                 { "no-bridge-nf", no_argument, NULL, 'B' },
                                                 { "help", no_argument, NULL, 'h' },
                                                 {} };
        int c, r = 0;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'n':
                        r = parse_unsigned("networks", optarg, 1, MAX_NETWORKS, &arg_networks);
                        break;
                case 'p':
                        r = parse_unsigned("ports-per-network", optarg, 2, MAX_PORTS, &arg_ports);
                        break;
                case 's':
                        r = parse_unsigned("seconds", optarg, 1, 3600, &arg_seconds);
                        break;
                case 'r':
                        r = parse_unsigned("runs", optarg, 1, MAX_RUNS, &arg_runs);
                        break;
                case 'l':
                        r = parse_unsigned("loads", optarg, 1, 1000, &arg_loads);
                        break;
                case 'O':
                        arg_offload = false;
                        break;
                case 'B':
                        arg_bridge_nf = false;
                        break;
                case 'h':
                        printf("net [--networks N] [--ports-per-network M] [--seconds S] [--runs R]\n"
                               "    [--loads L] [--no-offload] [--no-bridge-nf]\n"
                               "  N tenant bridges (default 100) with M ports each (default 10, at\n"
                               "  least 2) and Ark's rule set for them in a namespace of their own:\n"
                               "  the rule set's load time (median of L replacing loads, default 5),\n"
                               "  and iperf3 TCP throughput between two ports of one network against\n"
                               "  a bare veth pair, R runs (default 3) of S seconds (default 3) each,\n"
                               "  taking turns. --no-offload turns TSO and GSO off on the endpoints:\n"
                               "  every frame of MTU size meets the rules. --no-bridge-nf sets\n"
                               "  net.bridge.bridge-nf-call-{iptables,ip6tables,arptables} to 0 in\n"
                               "  the namespaces with bridges: bridged frames skip the inet hooks and\n"
                               "  conntrack. Needs root and iperf3.\n");
                        return 0;
                default:
                        return -EINVAL;
                }
                if (r < 0)
                        return r;
        }
        if (optind < argc) {
                fprintf(stderr, "net: unexpected argument '%s' (see --help)\n", argv[optind]);
                return -EINVAL;
        }
        return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* Namespaces and processes */

/* Async-signal-safe: the servers killed, the namespaces' names unmounted and removed as `ip netns
 * del` does. A namespace goes when nothing refers to it any more: its veth pairs with it. */
static void cleanup(void) {
        if (client > 0) {
                (void) kill(client, SIGKILL);
                (void) waitpid(client, NULL, 0);
                client = 0;
        }
        for (size_t k = 0; k < ELEMENTSOF(servers); k++)
                if (servers[k] > 0) {
                        (void) kill(servers[k], SIGKILL);
                        (void) waitpid(servers[k], NULL, 0);
                        servers[k] = 0;
                }
        for (size_t k = 0; k < _NS_MAX; k++)
                if (ns_made[k]) {
                        (void) umount2(ns_path[k], MNT_DETACH);
                        (void) unlink(ns_path[k]);
                        ns_made[k] = 0;
                }
}

static void on_signal(int sig) {
        cleanup();
        _exit(128 + sig);
}

static bool in_path(const char *prog) {
        _cleanup_free_ char *path = strdup(getenv("PATH") ?: "/usr/sbin:/usr/bin:/sbin:/bin");
        char *save = NULL;

        if (!path)
                return false;
        for (char *d = strtok_r(path, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
                _cleanup_free_ char *p = strprintf("%s/%s", d, prog);

                if (p && access(p, X_OK) == 0)
                        return true;
        }
        return false;
}

/* Feeds `script` to `ip -batch -` in namespace `ns`; ip stops at the first command that fails. */
static int ip_batch(const char *ns, const char *script) {
        _cleanup_free_ char *cmd = strprintf("ip -n %s -batch -", ns);
        FILE *p;
        int st;

        if (!cmd)
                return -ENOMEM;
        p = popen(cmd, "w");
        if (!p)
                return negative_errno();
        fputs(script, p);
        st = pclose(p);
        if (st != 0) {
                fprintf(stderr, "net: '%s' failed (status %d)\n", cmd, st);
                return -EIO;
        }
        return 0;
}

static int ns_create(int k) {
        _cleanup_free_ char *cmd = strprintf("ip netns add %s", ns_name[k]);

        if (!cmd)
                return -ENOMEM;
        ns_made[k] = 1; /* removing one that was not made is harmless */
        if (system(cmd) != 0) {
                fprintf(stderr, "net: '%s' failed\n", cmd);
                return -EIO;
        }
        return 0;
}

static int ns_open(int k) {
        int fd = open(ns_path[k], O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                fprintf(stderr, "net: cannot open %s: %m\n", ns_path[k]);
        return fd < 0 ? negative_errno() : fd;
}

/* Forks a child that enters namespace `ns` and runs iperf3 with argv; its stdout goes to `out_fd`
 * (or /dev/null when negative), its stderr to ours. */
static pid_t spawn_in_ns(int ns, char *const argv[], int out_fd) {
        int ns_fd = ns_open(ns);
        pid_t pid;

        if (ns_fd < 0)
                return ns_fd;
        pid = fork();
        if (pid < 0) {
                close(ns_fd);
                return negative_errno();
        }
        if (pid == 0) {
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);

                if (setns(ns_fd, CLONE_NEWNET) < 0)
                        _exit(127);
                (void) dup2(null, STDIN_FILENO);
                (void) dup2(out_fd >= 0 ? out_fd : null, STDOUT_FILENO);
                execvp(argv[0], argv);
                _exit(127);
        }
        close(ns_fd);
        return pid;
}

/* Whether process `pid` has a TCP socket listening on IPERF_PORT (its namespace's /proc/net/tcp). */
static bool listening(pid_t pid) {
        _cleanup_free_ char *path = strprintf("/proc/%d/net/tcp", (int) pid);
        _cleanup_fclose_ FILE *f = path ? fopen(path, "re") : NULL;
        char line[256], port[8];

        if (!f)
                return false;
        snprintf(port, sizeof(port), ":%04X", IPERF_PORT);
        while (fgets(line, sizeof(line), f)) {
                char local[64], remote[64], state[8];

                if (sscanf(line, " %*s %63s %63s %7s", local, remote, state) == 3 && endswith(local, port) &&
                    streq(state, "0A"))
                        return true;
        }
        return false;
}

static int server_start(Path p) {
        char *argv[] = { (char *) "iperf3", (char *) "-s", (char *) "-B", path_addr[p], NULL };
        pid_t pid = spawn_in_ns(path_ns[p][0], argv, -1);

        if (pid < 0)
                return pid;
        servers[p] = pid;
        for (int k = 0; k < 500; k++) {
                if (listening(pid))
                        return 0;
                if (waitpid(pid, NULL, WNOHANG) == pid) {
                        servers[p] = 0;
                        fprintf(stderr, "net: iperf3 -s in %s exited\n", ns_name[path_ns[p][0]]);
                        return -EIO;
                }
                usleep(10000);
        }
        fprintf(stderr, "net: iperf3 -s in %s does not listen after 5 s\n", ns_name[path_ns[p][0]]);
        return -ETIMEDOUT;
}

/* One iperf3 client run: the receiver's bits per second (end.sum_received of its JSON). */
static int client_run(Path p, double *ret_bps) {
        char secs[16], port[16];
        char *argv[] = { (char *) "iperf3",
                         (char *) "-c",
                         path_addr[p],
                         (char *) "-p",
                         port,
                         (char *) "-t",
                         secs,
                         (char *) "-J",
                         (char *) "--connect-timeout",
                         (char *) "3000",
                         NULL };
        _cleanup_(json_decrefp) json_t *root = NULL;
        StrBuf out = {};
        _cleanup_free_ char *text = NULL;
        json_error_t jerr;
        json_t *bps, *err;
        int pipefd[2], st;
        pid_t pid;

        snprintf(secs, sizeof(secs), "%u", arg_seconds);
        snprintf(port, sizeof(port), "%u", IPERF_PORT);
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return negative_errno();
        pid = spawn_in_ns(path_ns[p][1], argv, pipefd[1]);
        close(pipefd[1]);
        if (pid < 0) {
                close(pipefd[0]);
                return pid;
        }
        client = pid;
        for (;;) {
                char buf[4096];
                ssize_t n = read(pipefd[0], buf, sizeof(buf) - 1);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                buf[n] = '\0';
                strbuf_append(&out, buf);
        }
        close(pipefd[0]);
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
        client = 0;
        text = strbuf_steal(&out);
        root = text ? json_loads(text, 0, &jerr) : NULL;
        err = json_object_get(root, "error");
        bps = json_object_get(json_object_get(json_object_get(root, "end"), "sum_received"),
                              "bits_per_second");
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || !json_is_number(bps)) {
                fprintf(stderr, "net: iperf3 -c %s (%s) failed: %s\n", path_addr[p], path_label[p],
                        json_is_string(err) ? json_string_value(err) : "no result");
                return -EIO;
        }
        *ret_bps = json_number_value(bps);
        return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* The model, its links and its rules */

static int model_build(Model *m) {
        size_t n_ports = (size_t) arg_networks * arg_ports;
        char reason[128];

        m->networks = calloc(arg_networks, sizeof(*m->networks));
        m->forwards = calloc(arg_networks, sizeof(*m->forwards));
        m->bridges = calloc(arg_networks, sizeof(*m->bridges));
        m->ports = calloc(n_ports, sizeof(*m->ports));
        m->ifnames = calloc(n_ports, sizeof(*m->ifnames));
        if (!m->networks || !m->forwards || !m->bridges || !m->ports || !m->ifnames)
                return -ENOMEM;

        for (unsigned i = 0; i < arg_networks; i++) {
                NetRulesNetwork *n = &m->networks[i];
                char s4[32], s6[40];

                /* As arkd names them: arkn000001 up, arkt00000001 up. */
                snprintf(m->bridges[i], IF_NAMESIZE, "arkn%06x", i + 1);
                snprintf(s4, sizeof(s4), "10.%u.%u.0/24", 64 + i / 256, i % 256);
                snprintf(s6, sizeof(s6), "fd00:a4b:0:%x::/64", i);
                *n = (NetRulesNetwork) {
                        .bridge = m->bridges[i],
                        .mode = NET_MODE_NAT,
                        .uplink = UPLINK,
                        .ports = &m->ports[(size_t) i * arg_ports],
                        .n_ports = arg_ports,
                        .forwards = &m->forwards[i],
                        .n_forwards = 1,
                };
                if (net_prefix_parse(s4, &n->subnet4, reason, sizeof(reason)) < 0 ||
                    net_prefix_parse(s6, &n->subnet6, reason, sizeof(reason)) < 0) {
                        fprintf(stderr, "net: %s\n", reason);
                        return -EINVAL;
                }
                for (unsigned j = 0; j < arg_ports; j++) {
                        size_t k = (size_t) i * arg_ports + j;
                        uint32_t id = (uint32_t) k + 1;
                        const uint8_t rnd[3] = { id >> 16, id >> 8, id };
                        NetRulesPort *port = &m->ports[k];

                        snprintf(m->ifnames[k], IF_NAMESIZE, "arkt%08" PRIx32, id);
                        port->ifname = m->ifnames[k];
                        net_mac_from_random(rnd, port->mac);
                        if (net_prefix_host(&n->subnet4, j + 2, &port->ip4) < 0)
                                return -ERANGE;
                }
                /* One forward a network, to its second port (a site's SSH to an instance). */
                m->forwards[i] =
                        (NetRulesForward) { .proto = IPPROTO_TCP, .port = 20000 + i, .to_port = 22 };
                m->forwards[i].to = m->ports[(size_t) i * arg_ports + 1].ip4;
        }
        if (net_prefix_parse("192.168.77.0/24", &m->protected[0], reason, sizeof(reason)) < 0 ||
            net_prefix_parse("fd77::/64", &m->protected[1], reason, sizeof(reason)) < 0)
                return -EINVAL;
        m->rules = (NetRules) { .networks = m->networks,
                                .n_networks = arg_networks,
                                .protected = m->protected,
                                .n_protected = ELEMENTSOF(m->protected) };
        return 0;
}

/* The host namespace's links: an uplink, the bridges with their gateway addresses, every port in
 * its bridge (the first network's first two with their peers in the endpoint namespaces). */
static int links_make(const Model *m) {
        _cleanup_free_ char *script = NULL;
        StrBuf b = {};
        char a[NET_ADDR_STRLEN], mac[NET_MAC_STRLEN];
        int r;

        strbuf_printf(&b,
                      "link set lo up\nlink add " UPLINK " type veth peer name arkbup0p\n"
                      "link set " UPLINK " up\n");
        for (unsigned i = 0; i < arg_networks; i++) {
                const NetRulesNetwork *n = &m->networks[i];
                NetAddr gw;

                if (net_prefix_host(&n->subnet4, 1, &gw) < 0)
                        return -ERANGE;
                strbuf_printf(&b, "link add %s type bridge\naddr add %s/24 dev %s\nlink set %s up\n",
                              n->bridge, net_addr_to_string(&gw, a), n->bridge, n->bridge);
                for (unsigned j = 0; j < arg_ports; j++) {
                        const NetRulesPort *p = &n->ports[j];

                        if (i == 0 && j < 2)
                                strbuf_printf(&b, "link add %s type veth peer name eth0 netns %s\n",
                                              p->ifname, ns_name[j == 0 ? NS_SERVER : NS_CLIENT]);
                        else
                                strbuf_printf(&b, "link add %s type veth peer name arkbp%08zx\n", p->ifname,
                                              (size_t) (p - m->ports));
                        strbuf_printf(&b, "link set %s master %s up\n", p->ifname, n->bridge);
                }
        }
        script = strbuf_steal(&b);
        if (!script)
                return -ENOMEM;
        r = ip_batch(ns_name[NS_HOST], script);
        if (r < 0)
                return r;

        for (unsigned j = 0; j < 2; j++) {
                const NetRulesPort *p = &m->networks[0].ports[j];
                _cleanup_free_ char *ep =
                        strprintf("link set lo up\nlink set eth0 address %s\n"
                                  "addr add %s/24 dev eth0\nlink set eth0 up\n",
                                  net_mac_to_string(p->mac, mac), net_addr_to_string(&p->ip4, a));

                if (!ep)
                        return -ENOMEM;
                r = ip_batch(ns_name[j == 0 ? NS_SERVER : NS_CLIENT], ep);
                if (r < 0)
                        return r;
        }
        net_addr_to_string(&m->networks[0].ports[0].ip4, path_addr[PATH_ARK]);
        return 0;
}

/* The baseline's veth pair, and the bridge without rules. */
static int links_make_baselines(void) {
        _cleanup_free_ char *bare = strprintf("link add eth0 type veth peer name eth0 netns %s\n"
                                              "link set lo up\naddr add 10.255.1.1/24 dev eth0\n"
                                              "link set eth0 up\n",
                                              ns_name[NS_BARE_C]),
                            *plain = strprintf("link set lo up\nlink add br0 type bridge\nlink set br0 up\n"
                                               "link add p0 type veth peer name eth0 netns %s\n"
                                               "link add p1 type veth peer name eth0 netns %s\n"
                                               "link set p0 master br0 up\nlink set p1 master br0 up\n",
                                               ns_name[NS_PLAIN_S], ns_name[NS_PLAIN_C]);
        int r;

        if (!bare || !plain)
                return -ENOMEM;
        r = ip_batch(ns_name[NS_BARE_S], bare);
        if (r >= 0)
                r = ip_batch(ns_name[NS_BARE_C],
                             "link set lo up\naddr add 10.255.1.2/24 dev eth0\n"
                             "link set eth0 up\n");
        if (r >= 0)
                r = ip_batch(ns_name[NS_PLAIN], plain);
        if (r >= 0)
                r = ip_batch(ns_name[NS_PLAIN_S],
                             "link set lo up\naddr add 10.255.2.1/24 dev eth0\n"
                             "link set eth0 up\n");
        if (r >= 0)
                r = ip_batch(ns_name[NS_PLAIN_C],
                             "link set lo up\naddr add 10.255.2.2/24 dev eth0\n"
                             "link set eth0 up\n");
        return r;
}

/* Runs fn in namespace k: this process enters it and leaves it again (a socket stays in the
 * namespace it was opened in: libnftables's, the ioctls'). */
static int in_ns(int k, int (*fn)(void *userdata), void *userdata) {
        _cleanup_close_ int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), ns = ns_open(k);
        int r;

        if (self < 0 || ns < 0)
                return -EIO;
        if (setns(ns, CLONE_NEWNET) < 0) {
                fprintf(stderr, "net: cannot enter %s: %m\n", ns_name[k]);
                return negative_errno();
        }
        r = fn(userdata);
        if (setns(self, CLONE_NEWNET) < 0) {
                /* Nothing after this could tell which namespace it works in. */
                fprintf(stderr, "net: cannot return to the original namespace: %m\n");
                cleanup();
                _exit(1);
        }
        return r;
}

/* TSO and GSO off on eth0 (--no-offload): the sender hands the stack frames of MTU size, so that
 * the cost per frame shows, as for a guest without offloads. The legacy ethtool ioctls. */
static int offloads_off(void *userdata) {
        _cleanup_close_ int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

        for (size_t c = 0; c < 2; c++) {
                struct ethtool_value v = { .cmd = c == 0 ? ETHTOOL_STSO : ETHTOOL_SGSO, .data = 0 };
                struct ifreq ifr = { .ifr_data = (void *) &v };

                snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "eth0");
                if (sock < 0 || ioctl(sock, SIOCETHTOOL, &ifr) < 0) {
                        fprintf(stderr, "net: cannot turn %s off on eth0 in %s: %m\n",
                                c == 0 ? "TSO" : "GSO", ns_name[*(const int *) userdata]);
                        return negative_errno();
                }
        }
        return 0;
}

/* net.bridge.bridge-nf-call-* to 0 (--no-bridge-nf): bridged frames no longer pass the inet
 * family's hooks and conntrack. Per namespace since Linux 5.3: the host's own stay as they are. */
static int bridge_nf_off(void *userdata) {
        static const char *const proto[] = { "iptables", "ip6tables", "arptables" };

        for (size_t k = 0; k < ELEMENTSOF(proto); k++) {
                _cleanup_free_ char *path = strprintf("/proc/sys/net/bridge/bridge-nf-call-%s", proto[k]);
                _cleanup_fclose_ FILE *f = path ? fopen(path, "we") : NULL;

                if (!f || fputs("0\n", f) < 0 || fflush(f) != 0) {
                        fprintf(stderr, "net: cannot write %s in %s: %m\n", strna(path),
                                ns_name[*(const int *) userdata]);
                        return -EIO;
                }
        }
        return 0;
}

/* net.bridge.bridge-nf-call-iptables, or "absent" (no br_netfilter), into userdata (16 bytes). */
static int bridge_nf_read(void *userdata) {
        _cleanup_fclose_ FILE *f = fopen("/proc/sys/net/bridge/bridge-nf-call-iptables", "re");
        char *buf = userdata;

        snprintf(buf, 16, "absent");
        if (f && fgets(buf, 16, f))
                strstrip(buf);
        return 0;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;

        return x < y ? -1 : x > y;
}

static double median(const double *v, size_t n) {
        double s[MAX(MAX_RUNS, 1000)];

        memcpy(s, v, n * sizeof(*v));
        qsort(s, n, sizeof(*s), cmp_double);
        return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

typedef struct LoadTimes {
        const char *script;
        double render_ms, first_ms;
        double ms[1000];
        size_t lines, bytes;
} LoadTimes;

/* The rule set loaded once into the empty namespace, then L times over itself (as arkd replaces
 * it on every change), each load timed. One libnftables context throughout, as arkd keeps one. */
static int rules_load(void *userdata) {
        LoadTimes *t = userdata;
        struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
        int r = nft ? 0 : -ENOMEM;

        if (r >= 0 && nft_ctx_buffer_error(nft) < 0)
                r = -ENOMEM;
        for (unsigned k = 0; r >= 0 && k <= arg_loads; k++) {
                usec_t t0 = now_usec(CLOCK_MONOTONIC);
                double ms;

                if (nft_run_cmd_from_buffer(nft, t->script) != 0) {
                        fprintf(stderr, "net: loading the rule set failed: %s\n",
                                strempty(nft_ctx_get_error_buffer(nft)));
                        r = -EIO;
                        break;
                }
                ms = (double) (now_usec(CLOCK_MONOTONIC) - t0) / USEC_PER_MSEC;
                if (k == 0)
                        t->first_ms = ms;
                else
                        t->ms[k - 1] = ms;
        }
        if (nft)
                nft_ctx_free(nft);
        return r;
}

/* The rule set of the model, rendered (timed) and loaded in the host namespace. */
static int rules_render_load(const Model *m, LoadTimes *t) {
        _cleanup_free_ char *script = NULL;
        usec_t t0 = now_usec(CLOCK_MONOTONIC);
        int r;

        r = net_rules_render(&m->rules, &script);
        if (r < 0) {
                fprintf(stderr, "net: net_rules_render: %s\n", strerror(-r));
                return r;
        }
        t->render_ms = (double) (now_usec(CLOCK_MONOTONIC) - t0) / USEC_PER_MSEC;
        t->bytes = strlen(script);
        for (const char *p = script; *p; p++)
                t->lines += *p == '\n';
        t->script = script;
        r = in_ns(NS_HOST, rules_load, t);
        t->script = NULL;
        return r;
}

static void cpu_model(char *buf, size_t size) {
        _cleanup_fclose_ FILE *f = fopen("/proc/cpuinfo", "re");
        char line[256];

        snprintf(buf, size, "unknown CPU");
        while (f && fgets(line, sizeof(line), f)) {
                const char *v = startswith(line, "model name");

                if (v && (v = strchr(v, ':'))) {
                        snprintf(buf, size, "%s", v + 1 + (v[1] == ' '));
                        strstrip(buf);
                        break;
                }
        }
}

static int bench(void) {
        _cleanup_(model_done) Model m = {};
        LoadTimes *t = NULL;
        double bps[_PATH_MAX][MAX_RUNS], med[_PATH_MAX], lo, hi, load_ms;
        char bridge_nf[16];
        char cpu[128];
        struct utsname u;
        usec_t t0;
        int r;

        r = model_build(&m);
        if (r < 0)
                return r;

        t0 = now_usec(CLOCK_MONOTONIC);
        for (int k = 0; k < _NS_MAX; k++) {
                r = ns_create(k);
                if (r < 0)
                        return r;
        }
        r = links_make(&m);
        if (r >= 0)
                r = links_make_baselines();
        if (!arg_offload) {
                static const int endpoints[] = { NS_SERVER, NS_CLIENT,  NS_BARE_S,
                                                 NS_BARE_C, NS_PLAIN_S, NS_PLAIN_C };

                for (size_t k = 0; r >= 0 && k < ELEMENTSOF(endpoints); k++)
                        r = in_ns(endpoints[k], offloads_off, (void *) &endpoints[k]);
        }
        if (!arg_bridge_nf) {
                static const int bridges[] = { NS_HOST, NS_PLAIN };

                for (size_t k = 0; r >= 0 && k < ELEMENTSOF(bridges); k++)
                        r = in_ns(bridges[k], bridge_nf_off, (void *) &bridges[k]);
        }
        if (r >= 0)
                r = in_ns(NS_HOST, bridge_nf_read, bridge_nf);
        if (r < 0)
                return r;

        cpu_model(cpu, sizeof(cpu));
        (void) uname(&u);
        printf("bench/net: %u networks, %zu ports (%u a network), %ld CPUs (%s), kernel %s\n", arg_networks,
               (size_t) arg_networks * arg_ports, arg_ports, sysconf(_SC_NPROCESSORS_ONLN), cpu, u.release);
        printf("setup: %u namespaces, %u bridges, %zu veth pairs in %.1f s\n", (unsigned) _NS_MAX,
               arg_networks + 1, (size_t) arg_networks * arg_ports + 4,
               (double) (now_usec(CLOCK_MONOTONIC) - t0) / USEC_PER_SEC);
        fflush(stdout);

        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        r = rules_render_load(&m, t);
        if (r < 0) {
                free(t);
                return r;
        }
        printf("rule set: %zu lines, %zu KiB, rendered in %.1f ms; bridge-nf-call-iptables %s\n", t->lines,
               t->bytes / 1024, t->render_ms, bridge_nf);
        lo = hi = t->ms[0];
        for (unsigned k = 1; k < arg_loads; k++) {
                lo = MIN(lo, t->ms[k]);
                hi = MAX(hi, t->ms[k]);
        }
        printf("load: first %.1f ms (empty namespace); "
               "replacing: median %.1f ms, min %.1f, max %.1f (%u loads)\n",
               t->first_ms, median(t->ms, arg_loads), lo, hi, arg_loads);
        load_ms = median(t->ms, arg_loads);
        fflush(stdout);
        free(t);

        for (Path p = 0; p < _PATH_MAX; p++) {
                r = server_start(p);
                if (r < 0)
                        return r;
        }
        /* The paths take turns, each run starting with the next, so that all see the machine's
         * load alike. */
        for (unsigned run = 0; run < arg_runs; run++)
                for (unsigned j = 0; j < _PATH_MAX; j++) {
                        Path p = (run + j) % _PATH_MAX;

                        r = client_run(p, &bps[p][run]);
                        if (r < 0)
                                return r;
                }

        printf("throughput: iperf3 TCP, 1 stream, %u runs of %u s, TSO/GSO %s, median (runs) in Gbit/s\n",
               arg_runs, arg_seconds, arg_offload ? "on" : "off");
        for (Path p = 0; p < _PATH_MAX; p++) {
                med[p] = median(bps[p], arg_runs) / 1e9;
                printf("  %-28s %7.2f  (", path_label[p], med[p]);
                for (unsigned run = 0; run < arg_runs; run++)
                        printf("%s%.2f", run ? " " : "", bps[p][run] / 1e9);
                printf(")\n");
        }
        printf("ark/baseline throughput ratio: %.3f (goal >= 0.85); bridge without rules: %.3f\n",
               med[PATH_ARK] / med[PATH_BARE], med[PATH_PLAIN] / med[PATH_BARE]);
        printf("rule set load time: %.3f s (goal < 1 s)\n", load_ms / USEC_PER_MSEC);
        return 0;
}

int main(int argc, char *argv[]) {
        static const char *const tools[] = { "ip", "iperf3" };
        struct sigaction sa = { .sa_handler = on_signal };
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? 2 : 0;
        if (geteuid() != 0) {
                fprintf(stderr, "net: needs root (network namespaces, bridges, nftables)\n");
                return 1;
        }
        for (size_t k = 0; k < ELEMENTSOF(tools); k++)
                if (!in_path(tools[k])) {
                        fprintf(stderr, "net: %s is not installed (Debian package %s)\n", tools[k],
                                streq(tools[k], "ip") ? "iproute2" : tools[k]);
                        return 1;
                }

        for (int k = 0; k < _NS_MAX; k++) {
                snprintf(ns_name[k], sizeof(ns_name[k]), "arkbn-%d-%s", (int) getpid(), ns_role[k]);
                snprintf(ns_path[k], sizeof(ns_path[k]), "/run/netns/arkbn-%d-%s", (int) getpid(),
                         ns_role[k]);
        }
        sigemptyset(&sa.sa_mask);
        (void) sigaction(SIGINT, &sa, NULL);
        (void) sigaction(SIGTERM, &sa, NULL);
        (void) sigaction(SIGHUP, &sa, NULL);

        r = bench();
        cleanup();
        return r < 0 ? 1 : 0;
}

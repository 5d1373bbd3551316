/* bench/arkd-replay: a slice of the Alibaba GPU trace replayed through arkd over D-Bus must give
 * exactly the placements bench/trace-replay gives with the same policy and seed (issue 16). See
 * bench/README.md.
 *
 *   arkd-replay --nodes FILE --pods FILE --policy P --seed N [--count N] [--node-count N]
 *               [--arkd-seed N] [--dir DIR]
 *
 * The slice: --node-count nodes taken evenly through the nodes file, and the first --count pods
 * that ask for whole GPUs (no shares, no CPU-only pods) of any model or of one model, as many as
 * some node of the slice has (arkd spreads a VM no node could ever hold over several, the library
 * refuses it), with their CPU rounded up to whole cores. The slice's files go to trace-replay (--log, --workload-out);
 * tests/fixtures/gen-hosts.py makes a fixture host of the nodes (each one NUMA node of one host,
 * the GPUs in trace order); arkd runs on it with the same policy, seed and workload, as the
 * integration tests start it (tests/integration/harness.c), and gets one CreateInstance per
 * arrival of the log, in its order. Each instance's GPUs, mapped back to (trace node, GPU index),
 * must be the log's; a pod the log says fits nowhere must be refused. Exit status 0 when every
 * arrival matches, 1 on a mismatch, 2 on a usage error or a failure to run. */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tests/integration/harness.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "shared/bus-util.h"

#define REPLAY_TENANT "replay"
#define MEMORY_MIN_MIB 16 /* arkd's least VM memory */
#define MISMATCHES_SHOWN 20

static const char *arg_nodes, *arg_pods, *arg_policy, *arg_dir;
static unsigned long long arg_seed, arg_arkd_seed;
static bool arg_have_seed, arg_have_arkd_seed;
static unsigned arg_count = 400, arg_node_count = 48;

/* ------------------------------------------------------------------------------------------ */
/* small CSV files (no quoting in these) */

typedef struct Csv {
        char **lines; /* without the header */
        size_t n;
} Csv;

static void csv_done(Csv *c) {
        c->lines = strv_free(c->lines);
        c->n = 0;
}

/* Reads every line after the header. Returns 0 or -errno (printed). */
static int csv_read(const char *path, Csv *ret) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        _cleanup_free_ char *line = NULL;
        size_t alloc = 0;
        bool header = true;
        Csv c = {};

        if (!f) {
                fprintf(stderr, "arkd-replay: %s: %m\n", path);
                return -errno;
        }
        while (getline(&line, &alloc, f) >= 0) {
                line[strcspn(line, "\r\n")] = 0;
                if (header) {
                        header = false;
                        continue;
                }
                if (strv_extend(&c.lines, line) < 0) {
                        csv_done(&c);
                        return -ENOMEM;
                }
                c.n++;
        }
        *ret = c;
        return 0;
}

/* Splits a line in place. Returns the number of fields. */
static size_t split(char *line, char **f, size_t max) {
        size_t n = 0;

        while (n < max) {
                f[n++] = line;
                line = strchr(line, ',');
                if (!line)
                        break;
                *line++ = 0;
        }
        return n;
}

static bool parse_u64(const char *s, uint64_t *ret) {
        char *e;

        errno = 0;
        *ret = strtoull(s, &e, 10);
        return !errno && e != s && !*e && *s != '-';
}

/* A file of the slice, opened for writing; NULL (printed) on failure, errno set. */
static FILE *open_out(const char *path) {
        FILE *f = fopen(path, "we");

        if (!f)
                fprintf(stderr, "arkd-replay: %s: %m\n", path);
        return f;
}

/* Flushes a file of the slice. Returns 0 or -errno (printed). */
static int flush_out(FILE *f, const char *path) {
        if (fflush(f) == 0)
                return 0;
        fprintf(stderr, "arkd-replay: %s: %m\n", path);
        return -errno;
}

/* ------------------------------------------------------------------------------------------ */
/* the slice */

typedef struct Slice {
        Csv nodes_in;            /* the slice's nodes as the trace names them, split */
        const char **node_model; /* per node: its model (in nodes_in) */
        unsigned *node_gpus;     /* per node: its GPUs */
        Csv models;              /* trace_model,ark_model (from the fixture's models.csv) */
        Csv gpus;                /* address,sn,gpu (from the fixture's gpus.csv) */
        char *dir, *host, *nodes, *pods, *log, *workload;
} Slice;

static void slice_done(Slice *s) {
        csv_done(&s->nodes_in);
        free(s->node_model);
        free(s->node_gpus);
        csv_done(&s->models);
        csv_done(&s->gpus);
        free(s->dir);
        free(s->host);
        free(s->nodes);
        free(s->pods);
        free(s->log);
        free(s->workload);
}

/* The name arkd gives a trace model's GPUs, or the trace's name when the fixture has none. */
static const char *ark_model(const Slice *s, const char *trace_model) {
        size_t l = strlen(trace_model);

        for (size_t k = 0; k < s->models.n; k++)
                if (strneq(s->models.lines[k], trace_model, l) && s->models.lines[k][l] == ',')
                        return s->models.lines[k] + l + 1;
        return trace_model;
}

/* --node-count nodes evenly through the file, to <dir>/trace-nodes.csv (trace model names). */
static int write_trace_nodes(const char *path) {
        _cleanup_(csv_done) Csv in = {};
        _cleanup_fclose_ FILE *f = NULL;
        size_t n;
        int r;

        r = csv_read(arg_nodes, &in);
        if (r < 0)
                return r;
        if (in.n == 0) {
                fprintf(stderr, "arkd-replay: %s: no nodes\n", arg_nodes);
                return -ENODATA;
        }
        n = MIN((size_t) arg_node_count, in.n);
        f = open_out(path);
        if (!f)
                return -errno;
        fprintf(f, "sn,cpu_milli,memory_mib,gpu,model\n");
        for (size_t k = 0; k < n; k++)
                fprintf(f, "%s\n", in.lines[k * in.n / n]);
        return flush_out(f, path);
}

/* The nodes again with arkd's model names, for trace-replay; s keeps their models and GPUs. */
static int write_nodes(Slice *s, const char *trace_nodes) {
        _cleanup_fclose_ FILE *f = NULL;
        int r;

        r = csv_read(trace_nodes, &s->nodes_in);
        if (r < 0)
                return r;
        s->node_model = calloc(s->nodes_in.n + 1, sizeof(char *));
        s->node_gpus = calloc(s->nodes_in.n + 1, sizeof(unsigned));
        if (!s->node_model || !s->node_gpus)
                return -ENOMEM;
        f = open_out(s->nodes);
        if (!f)
                return -errno;
        fprintf(f, "sn,cpu_milli,memory_mib,gpu,model\n");
        for (size_t k = 0; k < s->nodes_in.n; k++) {
                char *fl[5];

                if (split(s->nodes_in.lines[k], fl, 5) < 5) {
                        fprintf(stderr, "arkd-replay: %s:%zu: not 'sn,cpu_milli,memory_mib,gpu,model'\n",
                                trace_nodes, k + 2);
                        return -EINVAL;
                }
                fprintf(f, "%s,%s,%s,%s,%s\n", fl[0], fl[1], fl[2], fl[3], ark_model(s, fl[4]));
                s->node_model[k] = fl[4];
                s->node_gpus[k] = (unsigned) strtoul(fl[3], NULL, 10);
        }
        return flush_out(f, s->nodes);
}

/* Whether the pod (num_gpu GPUs of `model`, "" = any) is one arkd places as the library does:
 * some node of the slice has that many GPUs of the model, or no node has the model at all (both
 * refuse it). arkd gives a VM that no node could ever hold GPUs of several nodes, where the
 * library refuses it. */
static bool pod_comparable(const Slice *s, uint64_t num_gpu, const char *model) {
        bool model_seen = false;

        for (size_t k = 0; k < s->nodes_in.n; k++) {
                if (*model && !streq(model, s->node_model[k]))
                        continue;
                model_seen = true;
                if (s->node_gpus[k] >= num_gpu)
                        return true;
        }
        return !model_seen;
}

/* The first --count pods asking for whole GPUs of any model or of one that arkd places as the
 * library does (pod_comparable()), CPU rounded up to whole cores, memory at least arkd's least,
 * models named as arkd names them. */
static int write_pods(const Slice *s) {
        _cleanup_(csv_done) Csv in = {};
        _cleanup_fclose_ FILE *f = NULL;
        unsigned kept = 0;
        int r;

        r = csv_read(arg_pods, &in);
        if (r < 0)
                return r;
        f = open_out(s->pods);
        if (!f)
                return -errno;
        fprintf(f, "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\n");
        for (size_t k = 0; k < in.n && kept < arg_count; k++) {
                uint64_t cpu, mem, ng, gm;
                char *fl[6] = {};

                if (split(in.lines[k], fl, 6) < 5 || !parse_u64(fl[1], &cpu) || !parse_u64(fl[2], &mem) ||
                    !parse_u64(fl[3], &ng) || !parse_u64(fl[4], &gm)) {
                        fprintf(stderr,
                                "arkd-replay: %s:%zu: not 'name,cpu_milli,memory_mib,num_gpu,gpu_milli,...'\n",
                                arg_pods, k + 2);
                        return -EINVAL;
                }
                if (ng == 0 || gm != 1000 || (fl[5] && strchr(fl[5], '|')) ||
                    !pod_comparable(s, ng, strempty(fl[5])))
                        continue;
                cpu = MAX((cpu + 999) / 1000, 1U) * 1000;
                mem = MAX(mem, (uint64_t) MEMORY_MIN_MIB);
                fprintf(f, "%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",1000,%s\n", fl[0], cpu, mem, ng,
                        fl[5] && *fl[5] ? ark_model(s, fl[5]) : "");
                kept++;
        }
        if (kept == 0) {
                fprintf(stderr, "arkd-replay: %s: no pod asks for whole GPUs\n", arg_pods);
                return -ENODATA;
        }
        return flush_out(f, s->pods);
}

static int make_slice(Slice *s) {
        _cleanup_free_ char *trace_nodes = NULL, *models = NULL, *gpus = NULL, *out = NULL, *err = NULL;
        int r;

        s->host = strprintf("%s/host", s->dir);
        s->nodes = strprintf("%s/nodes.csv", s->dir);
        s->pods = strprintf("%s/pods.csv", s->dir);
        s->log = strprintf("%s/log.csv", s->dir);
        s->workload = strprintf("%s/workload.csv", s->dir);
        trace_nodes = strprintf("%s/trace-nodes.csv", s->dir);
        models = strprintf("%s/host/models.csv", s->dir);
        gpus = strprintf("%s/host/gpus.csv", s->dir);
        if (!s->host || !s->nodes || !s->pods || !s->log || !s->workload || !trace_nodes || !models || !gpus)
                return -ENOMEM;

        r = write_trace_nodes(trace_nodes);
        if (r < 0)
                return r;
        r = harness_sh(&out, &err, "python3 '%s/tests/fixtures/gen-hosts.py' --trace-nodes '%s' --out '%s'",
                       harness_src_dir(), trace_nodes, s->host);
        if (r != 0) {
                fprintf(stderr, "arkd-replay: the fixture host generator failed:\n%s%s", strempty(out),
                        strempty(err));
                return -EIO;
        }
        r = csv_read(models, &s->models);
        if (r >= 0)
                r = csv_read(gpus, &s->gpus);
        if (r >= 0)
                r = write_nodes(s, trace_nodes);
        if (r >= 0)
                r = write_pods(s);
        return r;
}

static int run_trace_replay(const Slice *s) {
        _cleanup_free_ char *out = NULL, *err = NULL;
        int r;

        r = harness_sh(
                &out, &err,
                "'%s/bench/trace-replay' --nodes '%s' --pods '%s' --policy '%s' --seed %llu --log '%s' "
                "--workload-out '%s' --ark-keys",
                harness_build_dir(), s->nodes, s->pods, arg_policy, arg_seed, s->log, s->workload);
        printf("trace-replay: %s", strempty(out));
        if (r != 0) {
                fprintf(stderr, "arkd-replay: trace-replay failed (%d):\n%s", r, strempty(err));
                return -EIO;
        }
        return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* arkd */

/* What arkd reads from ark.conf to place as trace-replay does. */
static char *placement_conf(const Slice *s) {
        return strprintf("[Placement]\nPolicy=%s\nSeed=%llu\nWorkload=%s\n", arg_policy,
                         arg_have_arkd_seed ? arg_arkd_seed : arg_seed, s->workload);
}

static int start_arkd(Harness *h, const Slice *s, const char *conf) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        int r;

        free(h->fixture);
        free(h->libvirt_uri);
        free(h->sysfs_root);
        h->fixture = strdup(s->host);
        h->libvirt_uri = strprintf("test://%s/host.xml", s->host);
        h->sysfs_root = strprintf("%s/sysfs", s->host);
        if (!h->fixture || !h->libvirt_uri || !h->sysfs_root)
                return -ENOMEM;
        h->extra_conf = conf;
        r = harness_start_arkd(h, "--log-level", "info", NULL);
        if (r < 0)
                return -EIO;
        r = sd_bus_call_method(harness_bus(h), ARK_BUS_NAME, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER,
                               "CreateTenant", &e, NULL, "ss", REPLAY_TENANT, "bench/arkd-replay");
        if (r < 0) {
                fprintf(stderr, "arkd-replay: CreateTenant failed: %s\n", e.message ?: strerror(-r));
                return r;
        }
        return 0;
}

/* CreateInstance for one arrival. Returns 1 with the instance's GPU addresses, 0 with the
 * refusal's message when arkd refused, -errno when the call could not be made. */
static int ark_create(sd_bus *bus, const char *name, unsigned vcpus, uint64_t memory_mib, unsigned gpus,
                      const char *model, char ***ret_gpus, char **ret_refusal) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        const char *path;
        int r;

        if (*model)
                r = sd_bus_call_method(bus, ARK_BUS_NAME, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER,
                                       "CreateInstance", &e, &reply, "a{sv}", 7, "Name", "s", name, "Tenant",
                                       "s", REPLAY_TENANT, "Type", "s", "vm", "VCPUs", "u", vcpus,
                                       "MemoryBytes", "t", memory_mib << 20, "GPUs", "u", gpus, "GPUModel",
                                       "s", model);
        else
                r = sd_bus_call_method(bus, ARK_BUS_NAME, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER,
                                       "CreateInstance", &e, &reply, "a{sv}", 6, "Name", "s", name, "Tenant",
                                       "s", REPLAY_TENANT, "Type", "s", "vm", "VCPUs", "u", vcpus,
                                       "MemoryBytes", "t", memory_mib << 20, "GPUs", "u", gpus);
        if (r < 0) {
                if (!sd_bus_error_is_set(&e))
                        return r;
                *ret_refusal = strprintf("%s: %s", e.name, strempty(e.message));
                return *ret_refusal ? 0 : -ENOMEM;
        }
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return r;
        r = sd_bus_get_property_strv(bus, ARK_BUS_NAME, path, ARK_BUS_IFACE_INSTANCE, "GPUs", &e, ret_gpus);
        if (r < 0) {
                fprintf(stderr, "arkd-replay: reading the GPUs of %s failed: %s\n", path,
                        e.message ?: strerror(-r));
                return r;
        }
        return 1;
}

/* "sn gpu+gpu" for arkd's GPU addresses, through the fixture's map (the GPU indices ascending, as
 * the log writes them). GPUs on several nodes show as "sn:gpu+sn:gpu", an address not in the map
 * as itself. */
static char *placement_of(const Slice *s, char **addresses) {
        StrBuf b = {}, all = {};
        const char *sn = NULL;
        size_t sn_len = 0, n = 0;
        unsigned idx[64];
        bool one_node = true;

        for (char **a = addresses; a && *a; a++) {
                size_t l = strlen(*a), k;
                const char *row, *comma;

                for (k = 0; k < s->gpus.n; k++)
                        if (strneq(s->gpus.lines[k], *a, l) && s->gpus.lines[k][l] == ',')
                                break;
                if (k == s->gpus.n || n == ELEMENTSOF(idx)) {
                        strbuf_printf(&all, "%s%s", all.len ? "+" : "", *a);
                        one_node = false;
                        continue;
                }
                row = s->gpus.lines[k] + l + 1;
                comma = strrchr(row, ',');
                strbuf_printf(&all, "%s%.*s:%s", all.len ? "+" : "", (int) (comma - row), row, comma + 1);
                if (sn && (sn_len != (size_t) (comma - row) || !strneq(sn, row, sn_len)))
                        one_node = false;
                sn = row;
                sn_len = (size_t) (comma - row);
                idx[n++] = (unsigned) strtoul(comma + 1, NULL, 10);
        }
        if (!sn || !one_node) {
                strbuf_done(&b);
                if (all.len == 0)
                        strbuf_append(&all, "no GPUs");
                return strbuf_steal(&all);
        }
        strbuf_done(&all);
        for (size_t i = 1; i < n; i++)
                for (size_t j = i; j > 0 && idx[j - 1] > idx[j]; j--) {
                        unsigned t = idx[j];

                        idx[j] = idx[j - 1];
                        idx[j - 1] = t;
                }
        strbuf_printf(&b, "%.*s ", (int) sn_len, sn);
        for (size_t i = 0; i < n; i++)
                strbuf_printf(&b, "%s%u", i ? "+" : "", idx[i]);
        return strbuf_steal(&b);
}

/* Replays the log through arkd. Returns the number of mismatches, or -errno. */
static int replay(Harness *h, const Slice *s, unsigned *ret_arrivals, unsigned *ret_refused) {
        _cleanup_(csv_done) Csv log = {};
        unsigned mismatches = 0, refused = 0;
        sd_bus *bus = harness_bus(h);
        int r;

        r = csv_read(s->log, &log);
        if (r < 0)
                return r;
        for (size_t k = 0; k < log.n; k++) {
                _cleanup_free_ char *name = NULL, *refusal = NULL, *got = NULL, *want = NULL;
                _cleanup_strv_free_ char **gpus = NULL;
                uint64_t cpu, mem, ng;
                char *fl[9];

                if (split(log.lines[k], fl, 9) < 9 || !parse_u64(fl[2], &cpu) || !parse_u64(fl[3], &mem) ||
                    !parse_u64(fl[4], &ng)) {
                        fprintf(stderr, "arkd-replay: %s:%zu: not a trace-replay log line\n", s->log, k + 2);
                        return -EINVAL;
                }
                name = strprintf("a%s", fl[0]);
                if (!name)
                        return -ENOMEM;
                r = ark_create(bus, name, (unsigned) (cpu / 1000), mem, (unsigned) ng, fl[6], &gpus,
                               &refusal);
                if (r < 0) {
                        fprintf(stderr, "arkd-replay: CreateInstance '%s' failed: %s\n", name, strerror(-r));
                        return r;
                }
                want = streq(fl[7], "FAIL") ? strdup("refused") : strprintf("%s %s", fl[7], fl[8]);
                got = r == 0 ? strdup("refused") : placement_of(s, gpus);
                if (!want || !got)
                        return -ENOMEM;
                refused += r == 0;
                if (!streq(want, got)) {
                        if (++mismatches <= MISMATCHES_SHOWN)
                                printf("MISMATCH arrival %s (pod %s, %" PRIu64
                                       " vCPUs, %s MiB, %s GPUs%s%s): "
                                       "trace-replay %s, arkd %s%s%s\n",
                                       fl[0], fl[1], cpu / 1000, fl[3], fl[4], *fl[6] ? " of " : "", fl[6],
                                       want, got, refusal ? ": " : "", strempty(refusal));
                }
        }
        *ret_arrivals = (unsigned) log.n;
        *ret_refused = refused;
        return (int) mismatches;
}

/* ------------------------------------------------------------------------------------------ */

static void help(FILE *f) {
        fprintf(f,
                "arkd-replay --nodes FILE --pods FILE --policy first-fit|best-fit|fgd|ark --seed N\n"
                "            [--count N] [--node-count N] [--arkd-seed N] [--dir DIR]\n"
                "  Replays a slice of the trace (N whole-GPU pods, default 400, on N nodes, default 48)\n"
                "  through arkd over D-Bus and compares each placement with bench/trace-replay's.\n"
                "  --arkd-seed gives arkd another seed (a check that a mismatch is seen); --dir keeps\n"
                "  the slice, the log, the fixture host and arkd's log there.\n");
}

static bool parse_seed(const char *s, unsigned long long *ret) {
        uint64_t v;

        if (!parse_u64(s, &v))
                return false;
        *ret = v;
        return true;
}

static int parse_argv(int argc, char *argv[]) {
        static const struct option options[] = { { "nodes", required_argument, NULL, 'n' },
                                                 { "pods", required_argument, NULL, 'p' },
                                                 { "policy", required_argument, NULL, 'P' },
                                                 { "seed", required_argument, NULL, 's' },
                                                 { "count", required_argument, NULL, 'c' },
                                                 { "node-count", required_argument, NULL, 'N' },
                                                 { "arkd-seed", required_argument, NULL, 'S' },
                                                 { "dir", required_argument, NULL, 'd' },
                                                 { "help", no_argument, NULL, 'h' },
                                                 {} };
        uint64_t v;
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'n':
                        arg_nodes = optarg;
                        break;
                case 'p':
                        arg_pods = optarg;
                        break;
                case 'P':
                        arg_policy = optarg;
                        break;
                case 'd':
                        arg_dir = optarg;
                        break;
                case 's':
                        if (!parse_seed(optarg, &arg_seed)) {
                                fprintf(stderr, "arkd-replay: --seed: '%s' is not a number\n", optarg);
                                return -EINVAL;
                        }
                        arg_have_seed = true;
                        break;
                case 'S':
                        if (!parse_seed(optarg, &arg_arkd_seed)) {
                                fprintf(stderr, "arkd-replay: --arkd-seed: '%s' is not a number\n", optarg);
                                return -EINVAL;
                        }
                        arg_have_arkd_seed = true;
                        break;
                case 'c':
                case 'N':
                        if (!parse_u64(optarg, &v) || v == 0 || v > 100000) {
                                fprintf(stderr, "arkd-replay: --%s: '%s' is not a number from 1 to 100000\n",
                                        c == 'c' ? "count" : "node-count", optarg);
                                return -EINVAL;
                        }
                        *(c == 'c' ? &arg_count : &arg_node_count) = (unsigned) v;
                        break;
                case 'h':
                        help(stdout);
                        return 0;
                default:
                        help(stderr);
                        return -EINVAL;
                }
        if (optind < argc || !arg_nodes || !arg_pods || !arg_policy || !arg_have_seed) {
                fprintf(stderr, "arkd-replay: --nodes, --pods, --policy and --seed are needed\n");
                help(stderr);
                return -EINVAL;
        }
        if (!streq(arg_policy, "first-fit") && !streq(arg_policy, "best-fit") && !streq(arg_policy, "fgd") &&
            !streq(arg_policy, "ark")) {
                fprintf(stderr, "arkd-replay: --policy: unknown policy '%s'\n", arg_policy);
                return -EINVAL;
        }
        return 1;
}

int main(int argc, char *argv[]) {
        _cleanup_(slice_done) Slice s = {};
        _cleanup_free_ char *conf = NULL;
        unsigned arrivals = 0, refused = 0;
        Harness h;
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? 2 : 0;
        r = harness_setup(&h, "dgx-h100");
        if (r < 0) {
                fprintf(stderr, "arkd-replay: cannot start the private bus: %s\n", strerror(-r));
                harness_teardown(&h);
                return 2;
        }
        s.dir = strdup(arg_dir ?: h.tmp);
        if (!s.dir || (arg_dir && harness_sh(NULL, NULL, "mkdir -p '%s'", arg_dir) != 0)) {
                harness_teardown(&h);
                return 2;
        }
        r = make_slice(&s);
        if (r >= 0)
                r = run_trace_replay(&s);
        if (r >= 0) {
                conf = placement_conf(&s);
                r = conf ? start_arkd(&h, &s, conf) : -ENOMEM;
        }
        if (r >= 0)
                r = replay(&h, &s, &arrivals, &refused);
        if (r < 0) {
                /* Every failure was said where it happened, but for want of memory. */
                if (r == -ENOMEM)
                        fprintf(stderr, "arkd-replay: %s\n", strerror(-r));
                if (h.arkd_starts > 0)
                        harness_dump_log(&h);
        } else
                printf("policy %s seed %llu (arkd seed %llu): %u arrivals on %zu GPUs, %u refused by arkd; %u match, "
                       "%d mismatch%s\n",
                       arg_policy, arg_seed, arg_have_arkd_seed ? arg_arkd_seed : arg_seed, arrivals,
                       s.gpus.n, refused, arrivals - (unsigned) r, r, r == 1 ? "" : "es");
        if (arg_dir)
                (void) harness_sh(NULL, NULL, "cp '%s' '%s/arkd.log'", h.arkd_log, arg_dir);
        harness_teardown(&h);
        return r < 0 ? 2 : r > 0 ? 1 : 0;
}

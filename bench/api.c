/* bench/api: VM lifecycles per second through arkd over one D-Bus connection, against libvirt's
 * test driver over one connection, measured in the same run. See bench/README.md.
 *
 *   api [--count N] [--rounds R] [--host NAME]
 *
 * arkd runs on a private dbus-daemon with the test driver and a fixture host, as the integration
 * tests start it (tests/integration/harness.c). A lifecycle is CreateInstance (1 vCPU, 256 MiB, no
 * disk, no GPU, in tenant "bench"), StartInstance, StopInstance, DeleteInstance; the baseline is
 * virDomainDefineXML (no validation), virDomainCreate, virDomainDestroy, virDomainUndefine of the
 * XML arkd defined, on its own test:// connection to the same host XML. The two alternate in R
 * rounds so that both see the same load on the machine. No randomness: every run does the same. */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tests/integration/harness.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "basic/time-util.h"
#include "shared/bus-util.h"
#include "../appliance/instance/vm/virt-util.h"

#define BENCH_TENANT "bench"
#define BENCH_MEMORY (256ULL << 20)

enum {
        STEP_CREATE,
        STEP_START,
        STEP_STOP,
        STEP_DELETE,
        _STEP_MAX
};

typedef struct Timing {
        usec_t step[_STEP_MAX];
        usec_t total;
        unsigned n;
} Timing;

static unsigned arg_count = 400;
static unsigned arg_rounds = 4;
static const char *arg_host = "dgx-h100";

static int parse_argv(int argc, char *argv[]) {
        static const struct option options[] = { { "count", required_argument, NULL, 'n' },
                                                 { "rounds", required_argument, NULL, 'r' },
                                                 { "host", required_argument, NULL, 'H' },
                                                 { "help", no_argument, NULL, 'h' },
                                                 {} };
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'n':
                        arg_count = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 'r':
                        arg_rounds = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 'H':
                        arg_host = optarg;
                        break;
                case 'h':
                        printf("api [--count N] [--rounds R] [--host NAME]\n"
                               "  N lifecycles (default 400) through arkd over D-Bus and on libvirt's test\n"
                               "  driver, alternating in R rounds (default 4), on fixture host NAME\n"
                               "  (tests/fixtures/hosts/, default dgx-h100).\n");
                        return 0;
                default:
                        return -EINVAL;
                }
        if (arg_count == 0 || arg_rounds == 0 || arg_rounds > arg_count) {
                fprintf(stderr, "api: --count must be at least 1 and at least --rounds\n");
                return -EINVAL;
        }
        return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* arkd over D-Bus */

static int call_failed(const char *what, const char *name, int r, const sd_bus_error *e) {
        fprintf(stderr, "api: %s '%s' failed: %s\n", what, name, e->message ?: strerror(-r));
        return r;
}

static int ark_create(sd_bus *bus, const char *name, char **ret_path) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        const char *path;
        int r;

        r = sd_bus_call_method(bus, ARK_BUS_NAME, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "CreateInstance", &e,
                               &reply, "a{sv}", 5, "Name", "s", name, "Tenant", "s", BENCH_TENANT, "Type",
                               "s", "vm", "VCPUs", "u", 1, "MemoryBytes", "t", BENCH_MEMORY);
        if (r >= 0)
                r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return call_failed("CreateInstance", name, r, &e);
        if (ret_path) {
                *ret_path = strdup(path);
                if (!*ret_path)
                        return -ENOMEM;
        }
        return 0;
}

/* StartInstance, StopInstance and DeleteInstance, by "tenant/name". */
static int ark_call(sd_bus *bus, const char *method, const char *ref) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        int r;

        if (streq(method, "StopInstance"))
                r = sd_bus_call_method(bus, ARK_BUS_NAME, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, method, &e,
                                       NULL, "sbu", ref, 0, 0);
        else
                r = sd_bus_call_method(bus, ARK_BUS_NAME, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, method, &e,
                                       NULL, "s", ref);
        return r < 0 ? call_failed(method, ref, r, &e) : 0;
}

/* The domain XML arkd defined for instance `path`, newly allocated. */
static int ark_domain_xml(sd_bus *bus, const char *path, char **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        const char *xml;
        int r;

        r = sd_bus_call_method(bus, ARK_BUS_NAME, path, ARK_BUS_IFACE_INSTANCE, "GetXML", &e, &reply, NULL);
        if (r >= 0)
                r = sd_bus_message_read(reply, "s", &xml);
        if (r < 0)
                return call_failed("GetXML", path, r, &e);
        *ret = strdup(xml);
        return *ret ? 0 : -ENOMEM;
}

static int ark_lifecycle(sd_bus *bus, unsigned k, Timing *t, char **ret_xml) {
        _cleanup_free_ char *name = strprintf("vm-%u", k), *ref = strprintf(BENCH_TENANT "/vm-%u", k),
                            *path = NULL;
        static const char *const steps[] = { "StartInstance", "StopInstance", "DeleteInstance" };
        usec_t t0, t1;
        int r;

        if (!name || !ref)
                return -ENOMEM;
        t0 = now_usec(CLOCK_MONOTONIC);
        r = ark_create(bus, name, ret_xml ? &path : NULL);
        if (r < 0)
                return r;
        t1 = now_usec(CLOCK_MONOTONIC);
        t->step[STEP_CREATE] += t1 - t0;
        if (ret_xml) {
                r = ark_domain_xml(bus, path, ret_xml);
                if (r < 0)
                        return r;
                t1 = now_usec(CLOCK_MONOTONIC);
        }
        for (size_t s = 0; s < ELEMENTSOF(steps); s++) {
                r = ark_call(bus, steps[s], ref);
                if (r < 0)
                        return r;
                t0 = t1;
                t1 = now_usec(CLOCK_MONOTONIC);
                t->step[STEP_START + s] += t1 - t0;
        }
        t->n++;
        return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* libvirt's test driver */

/* `xml` with the domain named `name` and without its <uuid> (libvirt makes one), newly allocated. */
static char *domain_xml_renamed(const char *xml, const char *name) {
        const char *n0 = strstr(xml, "<name>"), *n1 = n0 ? strstr(n0, "</name>") : NULL;
        const char *u0 = strstr(xml, "<uuid>"), *u1 = u0 ? strstr(u0, "</uuid>") : NULL;

        if (!n1 || !u1 || u0 < n1)
                return NULL; /* libvirt writes <name> first, then <uuid> */
        return strprintf("%.*s<name>%s</name>%.*s%s", (int) (n0 - xml), xml, name,
                         (int) (u0 - n1 - strlen("</name>")), n1 + strlen("</name>"),
                         u1 + strlen("</uuid>"));
}

static int virt_failed(const char *what, const char *name) {
        _cleanup_free_ char *msg = NULL;
        int r = virt_last_error(&msg);

        fprintf(stderr, "api: %s '%s' on the test driver failed: %s\n", what, name, strna(msg));
        return r;
}

static int virt_lifecycle(virConnectPtr conn, const char *xml, unsigned k, Timing *t) {
        _cleanup_free_ char *name = strprintf("lv-%u", k), *doc = NULL;
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        usec_t t0, t1, t2, t3, t4;

        if (!name)
                return -ENOMEM;
        doc = domain_xml_renamed(xml, name);
        if (!doc)
                return -ENOMEM;
        t0 = now_usec(CLOCK_MONOTONIC);
        dom = virDomainDefineXMLFlags(conn, doc, 0);
        if (!dom)
                return virt_failed("define", name);
        t1 = now_usec(CLOCK_MONOTONIC);
        if (virDomainCreate(dom) < 0)
                return virt_failed("create", name);
        t2 = now_usec(CLOCK_MONOTONIC);
        if (virDomainDestroy(dom) < 0)
                return virt_failed("destroy", name);
        t3 = now_usec(CLOCK_MONOTONIC);
        if (virDomainUndefine(dom) < 0)
                return virt_failed("undefine", name);
        t4 = now_usec(CLOCK_MONOTONIC);
        t->step[STEP_CREATE] += t1 - t0;
        t->step[STEP_START] += t2 - t1;
        t->step[STEP_STOP] += t3 - t2;
        t->step[STEP_DELETE] += t4 - t3;
        t->n++;
        return 0;
}

/* ------------------------------------------------------------------------------------------ */

static int run_rounds(sd_bus *bus, virConnectPtr conn, const char *xml, Timing *ark, Timing *lv) {
        unsigned k = 1; /* 0 was the warm-up */
        int r;

        for (unsigned round = 0; round < arg_rounds; round++) {
                unsigned n = arg_count / arg_rounds + (round < arg_count % arg_rounds);
                usec_t t0 = now_usec(CLOCK_MONOTONIC);

                for (unsigned j = 0; j < n; j++) {
                        r = ark_lifecycle(bus, k + j, ark, NULL);
                        if (r < 0)
                                return r;
                }
                ark->total += now_usec(CLOCK_MONOTONIC) - t0;
                t0 = now_usec(CLOCK_MONOTONIC);
                for (unsigned j = 0; j < n; j++) {
                        r = virt_lifecycle(conn, xml, k + j, lv);
                        if (r < 0)
                                return r;
                }
                lv->total += now_usec(CLOCK_MONOTONIC) - t0;
                k += n;
        }
        return 0;
}

/* What one durable commit costs at least here, now: a 4 KiB write and fdatasync() in the
 * directory arkd keeps its store in (the mean of 20). Every mutation arkd makes is one or more. */
static double fdatasync_msec(const char *dir) {
        _cleanup_free_ char *path = strprintf("%s/fdatasync-probe", dir);
        char page[4096] = {};
        usec_t t0;
        int fd;

        fd = path ? open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -EBADF;
        if (fd < 0)
                return 0;
        t0 = now_usec(CLOCK_MONOTONIC);
        for (int k = 0; k < 20; k++)
                if (pwrite(fd, page, sizeof(page), (off_t) k * sizeof(page)) < 0 || fdatasync(fd) < 0)
                        break;
        t0 = now_usec(CLOCK_MONOTONIC) - t0;
        close(fd);
        (void) unlink(path);
        return (double) t0 / 20 / USEC_PER_MSEC;
}

static double per_sec(const Timing *t) {
        return t->total > 0 ? (double) t->n * USEC_PER_SEC / (double) t->total : 0;
}

static void print_row(const char *label, const Timing *t) {
        printf("%-22s", label);
        for (unsigned s = 0; s < _STEP_MAX; s++)
                printf(" %8.3f", (double) t->step[s] / t->n / USEC_PER_MSEC);
        printf(" %10.1f\n", per_sec(t));
}

static void print_report(const Timing *ark, const Timing *lv, double sync_msec) {
        printf("%u lifecycles each, in %u alternating rounds, fixture host %s\n", ark->n, arg_rounds,
               arg_host);
        printf("%-22s %8s %8s %8s %8s %10s\n", "mean ms per step", "create", "start", "stop", "delete",
               "cycles/s");
        print_row("arkd over D-Bus", ark);
        print_row("libvirt test driver", lv);
        printf("write + fdatasync in arkd's state directory: %.3f ms (before the rounds)\n", sync_msec);
        printf("ark/baseline time ratio: %.1f (arkd %.1f lifecycles/s, libvirt %.1f lifecycles/s)\n",
               per_sec(lv) / per_sec(ark), per_sec(ark), per_sec(lv));
}

static int bench(Harness *h) {
        _cleanup_(virConnectClosep) virConnectPtr conn = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *xml = NULL;
        Timing ark = {}, lv = {}, warm = {};
        double sync_msec;
        sd_bus *bus;
        int r;

        /* At arkd's default level, as an appliance runs it (the harness asks for debug). */
        r = harness_start_arkd(h, "--log-level", "info", NULL);
        if (r < 0)
                return r;
        bus = harness_bus(h);
        r = sd_bus_call_method(bus, ARK_BUS_NAME, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "CreateTenant", &e,
                               NULL, "ss", BENCH_TENANT, "bench/api");
        if (r < 0)
                return call_failed("CreateTenant", BENCH_TENANT, r, &e);

        r = virt_init();
        if (r < 0)
                return r;
        conn = virConnectOpen(h->libvirt_uri);
        if (!conn)
                return virt_failed("open", h->libvirt_uri);

        /* One of each first, out of the count: arkd's first create fills caches, and gives the
         * XML the baseline defines. */
        r = ark_lifecycle(bus, 0, &warm, &xml);
        if (r >= 0)
                r = virt_lifecycle(conn, xml, 0, &warm);
        sync_msec = fdatasync_msec(h->state_dir);
        if (r >= 0)
                r = run_rounds(bus, conn, xml, &ark, &lv);
        if (r < 0)
                return r;
        print_report(&ark, &lv, sync_msec);
        return 0;
}

int main(int argc, char *argv[]) {
        Harness h;
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? 2 : 0;
        r = harness_setup(&h, arg_host);
        if (r < 0) {
                fprintf(stderr, "api: cannot start the private bus: %s\n", strerror(-r));
                harness_teardown(&h);
                return 1;
        }
        r = bench(&h);
        if (r < 0)
                harness_dump_log(&h);
        harness_teardown(&h);
        return r < 0 ? 1 : 0;
}

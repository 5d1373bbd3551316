/* The console's screens (screens.h). */

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "screens.h"
#include "basic/macro.h"
#include "basic/parse-util.h"
#include "basic/string-util.h"
#include "basic/time-util.h"

static const char *const screen_names[_SCREEN_MAX] = {
        [SCREEN_DASHBOARD] = "dashboard", [SCREEN_ACCELERATORS] = "accelerators",
        [SCREEN_TENANTS] = "tenants",     [SCREEN_INSTANCES] = "instances",
        [SCREEN_NETWORK] = "network",     [SCREEN_BUNDLES] = "bundles",
        [SCREEN_LOGS] = "logs",           [SCREEN_SYSTEM] = "system",
};

/* Tab labels, short enough that all eight fit on 80 columns in either language (one column apart
 * there, two where there is room: screen_draw). */
static const char *const screen_tabs[_SCREEN_MAX] = {
        [SCREEN_DASHBOARD] = N_("Dashboard"), [SCREEN_ACCELERATORS] = N_("GPUs"),
        [SCREEN_TENANTS] = N_("Tenants"),     [SCREEN_INSTANCES] = N_("Instances"),
        [SCREEN_NETWORK] = N_("Network"),     [SCREEN_BUNDLES] = N_("Bundles"),
        [SCREEN_LOGS] = N_("Logs"),           [SCREEN_SYSTEM] = N_("System"),
};

const char *screen_to_string(ScreenId s) {
        return s >= 0 && s < _SCREEN_MAX ? screen_names[s] : NULL;
}

ScreenId screen_from_string(const char *s) {
        for (int k = 0; s && k < _SCREEN_MAX; k++)
                if (streq(screen_names[k], s))
                        return (ScreenId) k;
        return _SCREEN_INVALID;
}

/* "2h 05m", "3d 4h", "45s" */
static const char *format_duration(char *buf, size_t l, uint64_t sec) {
        if (sec >= 86400)
                snprintf(buf, l, "%" PRIu64 "d %" PRIu64 "h", sec / 86400, sec / 3600 % 24);
        else if (sec >= 3600)
                snprintf(buf, l, "%" PRIu64 "h %02" PRIu64 "m", sec / 3600, sec / 60 % 60);
        else if (sec >= 60)
                snprintf(buf, l, "%" PRIu64 "m %02" PRIu64 "s", sec / 60, sec % 60);
        else
                snprintf(buf, l, "%" PRIu64 "s", sec);
        return buf;
}

/* A label and its value: the label in the first `w` columns (its own width, whatever the
 * language), the value after. Returns the next row. */
static int field(Canvas *c, int y, int w, const char *label, CanvasAttr attr, const char *value) {
        canvas_cell(c, 1, y, w, false, ATTR_BOLD, label);
        canvas_text(c, 1 + w + 1, y, c->cols - w - 3, attr, value);
        return y + 1;
}

/* The widest of the labels, for aligned fields. */
static int label_width(const char *const *labels, size_t n) {
        int w = 0;

        for (size_t k = 0; k < n; k++)
                w = MAX(w, text_width(labels[k]));
        return w;
}

/* The instance's tenant, "" when unknown. */
static const char *tenant_of(const TuiModel *m, const char *instance) {
        json_t *i = model_instance(m, instance);

        return i ? jstr(i, "Tenant") : "";
}

/* A state as arkd names it (ClaimState, State), in the console's language. */
static const char *state_label(const char *state) {
        static const char *const known[][2] = {
                { "claimed", N_("claimed") },
                { "free", N_("free") },
                { "reserved", N_("reserved") },
                { "quarantined", N_("quarantined") },
                { "conflict", N_("conflict") },
                { "unhealthy", N_("unhealthy") },
                { "partitioned", N_("partitioned") },
                { "running", N_("running") },
                { "stopped", N_("stopped") },
                { "paused", N_("paused") },
                { "shutting-down", N_("shutting down") },
                { "crashed", N_("crashed") },
                { "unknown", N_("unknown") },
        };

        for (size_t k = 0; k < ELEMENTSOF(known); k++)
                if (streq(known[k][0], state))
                        return _(known[k][1]);
        return state;
}

/* "risk/train-1", "-", "reserved for the host", ... for a GPU. */
static const char *gpu_owner(char *buf, size_t l, const TuiModel *m, json_t *a) {
        const char *state = jstr(a, "ClaimState"), *by = jstr(a, "ClaimedBy");

        if (streq(state, "claimed") && !isempty(by))
                snprintf(buf, l, "%s/%s", tenant_of(m, by), by);
        else if (streq(state, "claimed"))
                snprintf(buf, l, "%s", _("another tenant"));
        else if (streq(state, "free"))
                snprintf(buf, l, "-");
        else if (streq(state, "reserved"))
                snprintf(buf, l, "%s", _("reserved for the host"));
        else if (streq(state, "quarantined"))
                snprintf(buf, l, "%s", _("quarantined"));
        else if (streq(state, "conflict"))
                snprintf(buf, l, "%s", _("conflict"));
        else if (streq(state, "unhealthy"))
                snprintf(buf, l, "%s", _("unhealthy"));
        else if (streq(state, "partitioned"))
                snprintf(buf, l, _("partitions: %zu"), json_array_size(json_object_get(a, "Partitions")));
        else
                snprintf(buf, l, "%s", state);
        return buf;
}

const char *partition_label(char *buf, size_t l, const char *kind, const char *profile, uint64_t milli,
                            uint64_t memory) {
        char mem[32];

        if (streq(kind, "mig"))
                snprintf(buf, l, "MIG %s", profile);
        else if (streq(kind, "share"))
                snprintf(buf, l, _("share %u.%03u, %s"), (unsigned) (milli / 1000),
                         (unsigned) (milli % 1000), format_bytes(mem, sizeof(mem), memory));
        else
                snprintf(buf, l, "%s", kind);
        return buf;
}

const char *instance_gpus_label(char *buf, size_t l, json_t *i) {
        /* Partition a(sssuut): kind, GPU, MIG profile, MIG start slice, milli-GPUs, GPU memory. */
        json_t *p = json_array_get(json_object_get(i, "Partition"), 0), *g;
        size_t k, o = 0;

        buf[0] = 0;
        if (p) {
                const char *kind = strempty(json_string_value(json_array_get(p, 0))),
                           *gpu = strempty(json_string_value(json_array_get(p, 1)));
                uint64_t milli = (uint64_t) json_integer_value(json_array_get(p, 4)),
                         memory = (uint64_t) json_integer_value(json_array_get(p, 5));
                char mem[32];

                if (streq(kind, "share"))
                        snprintf(buf, l, _("share %u.%03u of %s, %s"), (unsigned) (milli / 1000),
                                 (unsigned) (milli % 1000), gpu, format_bytes(mem, sizeof(mem), memory));
                else
                        snprintf(buf, l, _("MIG %s of %s"),
                                 strempty(json_string_value(json_array_get(p, 2))), gpu);
                return buf;
        }
        json_array_foreach(json_object_get(i, "GPUs"), k, g)
                if (o < l)
                        o += (size_t) snprintf(buf + o, l - o, "%s%s", k ? " " : "",
                                               strempty(json_string_value(g)));
        if (buf[0] == 0)
                snprintf(buf, l, "-");
        return buf;
}

/* How much of a GPU is given out, for its bar: none when free, its partitions' milli-GPUs when
 * partitioned, all of it otherwise (claimed or held). */
static double gpu_fill(json_t *a) {
        const char *state = jstr(a, "ClaimState");
        uint64_t milli = 0;
        json_t *p;
        size_t k;

        if (streq(state, "free"))
                return 0;
        if (!streq(state, "partitioned"))
                return 1;
        /* Partitions a(ssssuut): instance, tenant, kind, MIG profile, MIG start, milli-GPUs, memory. */
        json_array_foreach(json_object_get(a, "Partitions"), k, p)
                milli += (uint64_t) json_integer_value(json_array_get(p, 5));
        return (double) milli / 1000.0;
}

static CanvasAttr state_attr(const char *state) {
        if (streq(state, "claimed") || streq(state, "partitioned") || streq(state, "running"))
                return ATTR_OK;
        if (streq(state, "free") || streq(state, "stopped"))
                return ATTR_NORMAL;
        if (streq(state, "reserved") || streq(state, "quarantined") || streq(state, "shutting-down"))
                return ATTR_WARN;
        return ATTR_BAD;
}

/* The host's IPv4 addresses on interfaces that are up (not loopback), "addr/prefix (ifname)". */
static void host_addresses(char *buf, size_t l) {
        struct ifaddrs *ifa = NULL;
        size_t o = 0;

        buf[0] = 0;
        if (getifaddrs(&ifa) < 0)
                return;
        for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
                char a[INET_ADDRSTRLEN];
                struct sockaddr_in *sin = (struct sockaddr_in *) i->ifa_addr,
                                   *mask = (struct sockaddr_in *) i->ifa_netmask;
                unsigned prefix = 0;

                if (!sin || sin->sin_family != AF_INET || (i->ifa_flags & IFF_LOOPBACK) ||
                    !(i->ifa_flags & IFF_UP))
                        continue;
                if (mask)
                        prefix = (unsigned) __builtin_popcount(mask->sin_addr.s_addr);
                inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
                o += (size_t) snprintf(buf + o, o < l ? l - o : 0, "%s%s/%u (%s)", o ? ", " : "", a, prefix,
                                       i->ifa_name);
                if (o >= l)
                        break;
        }
        freeifaddrs(ifa);
}

static void draw_dashboard(Canvas *c, const TuiModel *m, const ScreenState *st, int y) {
        const char *labels[] = { _("Version"), _("Host"),    _("Management"), _("Health"),
                                 _("GPUs"),    _("Tenants"), _("Instances") };
        int w = label_width(labels, ELEMENTSOF(labels));
        char buf[512], a[64], b[64];
        unsigned ready = 0, n = (unsigned) json_array_size(m->accelerators), running = 0, stopped = 0,
                 other = 0;
        json_t *x;
        size_t k;
        FILE *f;
        double up = 0;

        f = fopen("/proc/uptime", "re");
        if (f) {
                if (fscanf(f, "%lf", &up) != 1)
                        up = 0;
                fclose(f);
        }
        y = field(c, y, w, labels[0], ATTR_NORMAL, jstr(m->manager, "Version"));
        snprintf(buf, sizeof(buf), _("%s, up %s (arkd up %s)"), jstr(m->manager, "Hostname"),
                 format_duration(a, sizeof(a), (uint64_t) up),
                 format_duration(b, sizeof(b),
                                 (now_usec(CLOCK_REALTIME) - ju64(m->manager, "StartedAt")) / 1000000));
        y = field(c, y, w, labels[1], ATTR_NORMAL, buf);
        host_addresses(buf, sizeof(buf));
        y = field(c, y, w, labels[2], ATTR_NORMAL,
                  buf[0] == 0 ? _("no address (set one on the Network screen)") : buf);
        snprintf(buf, sizeof(buf), "arkd %s, libvirt %s", _("running"),
                 ju64(m->manager, "HypervisorConnected") ? _("connected") : _("not connected"));
        y = field(c, y, w, labels[3], ju64(m->manager, "HypervisorConnected") ? ATTR_OK : ATTR_BAD, buf);
        json_array_foreach(m->accelerators, k, x)
                ready += model_gpu_ready(m, jstr(x, "Address"), NULL) &&
                        !streq(jstr(x, "ClaimState"), "unhealthy");
        if (m->checks)
                snprintf(buf, sizeof(buf), _("%u, %u ready for passthrough"), n, ready);
        else
                snprintf(buf, sizeof(buf), "%u", n);
        y = field(c, y, w, labels[4], ready == n ? ATTR_NORMAL : ATTR_WARN, buf);
        snprintf(buf, sizeof(buf), "%zu", json_array_size(m->tenants));
        y = field(c, y, w, labels[5], ATTR_NORMAL, buf);
        json_array_foreach(m->instances, k, x) {
                const char *s = jstr(x, "State");

                running += streq(s, "running");
                stopped += streq(s, "stopped");
                other += !streq(s, "running") && !streq(s, "stopped");
        }
        snprintf(buf, sizeof(buf), _("%zu: %u running, %u stopped, %u other"), json_array_size(m->instances),
                 running, stopped, other);
        y = field(c, y, w, labels[6], ATTR_NORMAL, buf);
        y++;
        /* A bar per GPU: filled when it is someone's. */
        json_array_foreach(m->accelerators, k, x) {
                char owner[160];
                int bw = 10, used;

                if (y >= c->rows - 1)
                        break;
                used = canvas_cell(c, 1, y, 13, false, ATTR_NORMAL, jstr(x, "Address"));
                used += 1 + canvas_cell(c, 1 + used + 1, y, 22, false, ATTR_NORMAL, jstr(x, "Model"));
                canvas_bar(c, 1 + used + 1, y, bw, gpu_fill(x), state_attr(jstr(x, "ClaimState")));
                canvas_text(c, 1 + used + 1 + bw + 1, y, c->cols - used - bw - 4,
                            state_attr(jstr(x, "ClaimState")),
                            streq(jstr(x, "ClaimState"), "free") ? _("free")
                                                                 : gpu_owner(owner, sizeof(owner), m, x));
                y++;
        }
}

/* The first row to show of a list of n in `room` rows, so that the selected one is in view. */
static size_t list_first(int selected, size_t n, int room) {
        if (room <= 0 || n <= (size_t) room || selected < room)
                return 0;
        return (size_t) (selected - room + 1);
}

/* A table's column: its head, and how it gives way when the table is wider than the screen. The
 * widths come from the content (never less than a width that reads well, while there is room), so
 * nothing is cut while there is room (120 columns); at 80 the padding goes first, then the least
 * important columns give up room; a column whose cells are names that identify the row or its
 * owner is never cut. */
typedef struct Column {
        const char *head;
        int shrink;  /* 0: never cut; else the order columns give up room in, highest first */
        int floor;   /* the narrowest a column that gives way becomes */
        bool right;  /* numbers, right-aligned */
        int pref;    /* the width it has when there is room, content or not */
        int width;   /* the widest cell (column_measure), then the width it gets (table_fit) */
        int content; /* table_fit: the widest cell or the head */
} Column;

#define TABLE_CELL_MAX 160

static void column_measure(Column *col, const char *cell) {
        col->width = MAX(col->width, text_width(cell));
}

/* Takes up to `excess` columns from cols[k], down to `to`: what is left of the excess. */
static int column_give(Column *col, int to, int excess) {
        int cut = MIN(excess, col->width - to);

        if (cut <= 0)
                return excess;
        col->width -= cut;
        return excess - cut;
}

/* The widths within `room` columns (one column between cells). */
static void table_fit(Column *cols, size_t n, int room) {
        int total = -1, top = 0;

        for (size_t k = 0; k < n; k++) {
                cols[k].content = cols[k].width = MAX(cols[k].width, text_width(cols[k].head));
                cols[k].width = MAX(cols[k].width, cols[k].pref);
                total += cols[k].width + 1;
                top = MAX(top, cols[k].shrink);
        }
        total -= room; /* the excess */
        /* The padding first, then the content of the columns that may be cut. */
        for (int level = top; level >= 0 && total > 0; level--)
                for (size_t k = 0; k < n && total > 0; k++)
                        if (cols[k].shrink == level)
                                total = column_give(&cols[k], cols[k].content, total);
        for (int level = top; level > 0 && total > 0; level--)
                for (size_t k = 0; k < n && total > 0; k++)
                        if (cols[k].shrink == level)
                                total = column_give(&cols[k], cols[k].floor, total);
}

static void table_header(Canvas *c, int y, const Column *cols, size_t n) {
        int x = 1;

        for (size_t k = 0; k < n; k++) {
                canvas_cell(c, x, y, cols[k].width, cols[k].right, ATTR_BOLD, cols[k].head);
                x += cols[k].width + 1;
        }
}

/* One row: each cell in its column's width, in attrs[k] (ATTR_SELECTED for every cell of the
 * selected row). */
static void table_row(Canvas *c, int y, const Column *cols, size_t n, char cells[][TABLE_CELL_MAX],
                      const CanvasAttr *attrs, bool selected) {
        int x = 1;

        for (size_t k = 0; k < n; k++) {
                canvas_cell(c, x, y, cols[k].width, cols[k].right, selected ? ATTR_SELECTED : attrs[k],
                            cells[k]);
                x += cols[k].width + 1;
        }
}

enum {
        ACC_ADDRESS,
        ACC_MODEL,
        ACC_STATE,
        ACC_OWNER,
        ACC_GROUP,
        ACC_NUMA,
        ACC_READY,
        _ACC_MAX
};

/* An accelerator's cells and their colours. */
static void accelerator_cells(const TuiModel *m, json_t *a, char cells[][TABLE_CELL_MAX],
                              CanvasAttr *attrs) {
        bool ready = model_gpu_ready(m, jstr(a, "Address"), NULL);

        for (size_t k = 0; k < _ACC_MAX; k++)
                attrs[k] = ATTR_NORMAL;
        snprintf(cells[ACC_ADDRESS], TABLE_CELL_MAX, "%s", jstr(a, "Address"));
        snprintf(cells[ACC_MODEL], TABLE_CELL_MAX, "%s", jstr(a, "Model"));
        snprintf(cells[ACC_STATE], TABLE_CELL_MAX, "%s", state_label(jstr(a, "ClaimState")));
        attrs[ACC_STATE] = state_attr(jstr(a, "ClaimState"));
        gpu_owner(cells[ACC_OWNER], TABLE_CELL_MAX, m, a);
        snprintf(cells[ACC_GROUP], TABLE_CELL_MAX, "%" PRId64,
                 (int64_t) json_integer_value(json_object_get(a, "IOMMUGroup")));
        snprintf(cells[ACC_NUMA], TABLE_CELL_MAX, "%" PRId64,
                 (int64_t) json_integer_value(json_object_get(a, "NUMANode")));
        snprintf(cells[ACC_READY], TABLE_CELL_MAX, "%s", !m->checks ? "?" : ready ? _("yes") : _("no"));
        attrs[ACC_READY] = ready ? ATTR_OK : ATTR_BAD;
}

/* A partition's line under its GPU: what it is, and its holder. */
static void partition_line(Canvas *c, int y, const Column *cols, json_t *p) {
        const char *instance = strempty(json_string_value(json_array_get(p, 0))),
                   *tenant = strempty(json_string_value(json_array_get(p, 1)));
        int x = 1 + cols[ACC_ADDRESS].width + 1; /* the owner's column, below */
        char what[96], holder[TABLE_CELL_MAX];

        partition_label(what, sizeof(what), strempty(json_string_value(json_array_get(p, 2))),
                        strempty(json_string_value(json_array_get(p, 3))),
                        (uint64_t) json_integer_value(json_array_get(p, 5)),
                        (uint64_t) json_integer_value(json_array_get(p, 6)));
        /* The holder goes where the GPU's owner does; an empty instance: another tenant's. */
        if (isempty(instance))
                snprintf(holder, sizeof(holder), "%s", _("another tenant"));
        else
                snprintf(holder, sizeof(holder), "%s/%s", tenant, instance);
        /* "   └ MIG 3g.40gb", the holder in the owner's column. */
        x += cols[ACC_MODEL].width + 1 + cols[ACC_STATE].width + 1;
        canvas_text(c, 3, y, 1, ATTR_DIM, "└");
        canvas_cell(c, 5, y, x - 6, false, ATTR_NORMAL, what);
        canvas_text(c, x, y, c->cols - x - 1, ATTR_NORMAL, holder);
}

static size_t gpu_partitions(json_t *a) {
        return json_array_size(json_object_get(a, "Partitions"));
}

static void draw_accelerators(Canvas *c, const TuiModel *m, const ScreenState *st, int y) {
        /* The model gives way first (the line below the table shows the selected one's whole). */
        Column cols[_ACC_MAX] = {
                [ACC_ADDRESS] = { _("ADDRESS"), .pref = 12 },
                [ACC_MODEL] = { _("MODEL"), 2, 8, .pref = 21 },
                [ACC_STATE] = { _("STATE"), 1, 6, .pref = 11 },
                [ACC_OWNER] = { _("OWNER"), .pref = 15 },
                [ACC_GROUP] = { _("GROUP"), .right = true, .pref = 5 },
                [ACC_NUMA] = { _("NUMA"), .right = true, .pref = 4 },
                [ACC_READY] = { _("READY"), .pref = 5 },
        };
        char cells[_ACC_MAX][TABLE_CELL_MAX];
        CanvasAttr attrs[_ACC_MAX];
        json_t *a, *p, *sel = NULL;
        size_t k, j, lines = 0, sel_line = 0, line = 0;

        json_array_foreach(m->accelerators, k, a) {
                accelerator_cells(m, a, cells, attrs);
                for (size_t f = 0; f < _ACC_MAX; f++)
                        column_measure(&cols[f], cells[f]);
                /* The selected GPU's line, and its last partition's: both in view when they fit. */
                if ((int) k == st->selected)
                        sel_line = lines + MIN(gpu_partitions(a), (size_t) MAX(c->rows - 5 - y, 1) - 1);
                lines += 1 + gpu_partitions(a);
        }
        table_fit(cols, _ACC_MAX, c->cols - 2);
        table_header(c, y++, cols, _ACC_MAX);
        /* A GPU's partitions (containers' MIG instances and shares) each a line under it. */
        size_t first = list_first((int) sel_line, lines, c->rows - 4 - y);

        json_array_foreach(m->accelerators, k, a) {
                if ((int) k == st->selected)
                        sel = a;
                if (line >= first && y < c->rows - 4) {
                        accelerator_cells(m, a, cells, attrs);
                        table_row(c, y++, cols, _ACC_MAX, cells, attrs, (int) k == st->selected);
                }
                line++;
                json_array_foreach(json_object_get(a, "Partitions"), j, p) {
                        if (line >= first && y < c->rows - 4)
                                partition_line(c, y++, cols, p);
                        line++;
                }
        }
        if (json_array_size(m->accelerators) == 0)
                canvas_text(c, 1, y++, -1, ATTR_DIM, _("No accelerators found on this host."));
        /* The selected one in more words. */
        if (sel) {
                const char *why = NULL;

                y++;
                canvas_hline(c, 1, y++, c->cols - 2);
                if (!model_gpu_ready(m, jstr(sel, "Address"), &why))
                        canvas_printf(c, 1, y++, -1, ATTR_BAD, "%s %s", _("Not ready:"), strempty(why));
                else if (!isempty(jstr(sel, "HoldReason")))
                        canvas_printf(c, 1, y++, -1, ATTR_WARN, "%s %s", _("Held:"),
                                      jstr(sel, "HoldReason"));
                else
                        canvas_printf(c, 1, y++, -1, ATTR_NORMAL, "%s  %s  %s %s", jstr(sel, "Address"),
                                      jstr(sel, "Model"), _("driver"),
                                      isempty(jstr(sel, "Driver")) ? "-" : jstr(sel, "Driver"));
        }
}

/* A tenant's GPU use against its limit, from its Quotas a(sstt) and Usage a(sst). */
static void tenant_gpus(json_t *t, uint64_t *used, uint64_t *limit) {
        json_t *q;
        size_t k;

        *used = 0;
        *limit = 0;
        json_array_foreach(json_object_get(t, "Usage"), k, q)
                if (streq(strempty(json_string_value(json_array_get(q, 0))), "gpus") &&
                    isempty(json_string_value(json_array_get(q, 1))))
                        *used = (uint64_t) json_integer_value(json_array_get(q, 2));
        json_array_foreach(json_object_get(t, "Quotas"), k, q)
                if (streq(strempty(json_string_value(json_array_get(q, 0))), "gpus") &&
                    isempty(json_string_value(json_array_get(q, 1))))
                        *limit = (uint64_t) json_integer_value(json_array_get(q, 3));
}

enum {
        TEN_NAME,
        TEN_VMS,
        TEN_GPUS,
        TEN_BAR,
        TEN_DESCRIPTION,
        _TEN_MAX
};

static void tenant_cells(json_t *t, char cells[][TABLE_CELL_MAX], uint64_t *ret_used, uint64_t *ret_limit) {
        tenant_gpus(t, ret_used, ret_limit);
        snprintf(cells[TEN_NAME], TABLE_CELL_MAX, "%s", jstr(t, "Name"));
        snprintf(cells[TEN_VMS], TABLE_CELL_MAX, "%" PRIu64, ju64(t, "NInstances"));
        if (*ret_limit > 0 && *ret_limit < UINT64_MAX)
                snprintf(cells[TEN_GPUS], TABLE_CELL_MAX, "%" PRIu64 "/%" PRIu64, *ret_used, *ret_limit);
        else
                snprintf(cells[TEN_GPUS], TABLE_CELL_MAX, "%" PRIu64 "/-", *ret_used);
        cells[TEN_BAR][0] = 0;
        snprintf(cells[TEN_DESCRIPTION], TABLE_CELL_MAX, "%s", jstr(t, "Description"));
}

static void draw_tenants(Canvas *c, const TuiModel *m, const ScreenState *st, int y) {
        /* The description gives way first, then the bar. */
        Column cols[_TEN_MAX] = {
                [TEN_NAME] = { _("TENANT"), .pref = 16 },
                [TEN_VMS] = { _("INSTANCES"), .right = true, .pref = 9 },
                [TEN_GPUS] = { _("GPUS"), .right = true, .pref = 9 },
                [TEN_BAR] = { "", 1, 4, .width = 12 },
                [TEN_DESCRIPTION] = { _("DESCRIPTION"), 2, 11, .pref = 31 },
        };
        char cells[_TEN_MAX][TABLE_CELL_MAX];
        const CanvasAttr attrs[_TEN_MAX] = {};
        uint64_t used, limit;
        json_t *t;
        size_t k;

        json_array_foreach(m->tenants, k, t) {
                tenant_cells(t, cells, &used, &limit);
                for (size_t f = 0; f < _TEN_MAX; f++)
                        column_measure(&cols[f], cells[f]);
        }
        table_fit(cols, _TEN_MAX, c->cols - 2);
        table_header(c, y++, cols, _TEN_MAX);
        size_t first = list_first(st->selected, json_array_size(m->tenants), c->rows - 2 - y);

        json_array_foreach(m->tenants, k, t) {
                int bar = 1 + cols[TEN_NAME].width + 1 + cols[TEN_VMS].width + 1 + cols[TEN_GPUS].width + 1;

                if (k < first)
                        continue;
                if (y >= c->rows - 2)
                        break;
                tenant_cells(t, cells, &used, &limit);
                table_row(c, y, cols, _TEN_MAX, cells, attrs, (int) k == st->selected);
                canvas_bar(c, bar, y, cols[TEN_BAR].width,
                           limit > 0 && limit < UINT64_MAX ? (double) used / (double) limit : 0,
                           used > limit && limit > 0 ? ATTR_BAD : ATTR_BAR);
                y++;
        }
        if (json_array_size(m->tenants) == 0)
                canvas_text(c, 1, y, -1, ATTR_DIM, _("No tenants yet."));
}

enum {
        INS_NAME,
        INS_TENANT,
        INS_TYPE,
        INS_STATE,
        INS_VCPUS,
        INS_MEMORY,
        INS_GPUS,
        INS_MODEL,
        _INS_MAX
};

const char *instance_type_label(json_t *i) {
        return streq(jstr(i, "Type"), "container") ? _("container") : _("VM");
}

static void instance_cells(json_t *i, char cells[][TABLE_CELL_MAX], CanvasAttr *attrs) {
        json_t *p;

        for (size_t k = 0; k < _INS_MAX; k++)
                attrs[k] = ATTR_NORMAL;
        snprintf(cells[INS_NAME], TABLE_CELL_MAX, "%s", jstr(i, "Name"));
        snprintf(cells[INS_TENANT], TABLE_CELL_MAX, "%s", jstr(i, "Tenant"));
        snprintf(cells[INS_TYPE], TABLE_CELL_MAX, "%s", instance_type_label(i));
        snprintf(cells[INS_STATE], TABLE_CELL_MAX, "%s", state_label(jstr(i, "State")));
        attrs[INS_STATE] = state_attr(jstr(i, "State"));
        snprintf(cells[INS_VCPUS], TABLE_CELL_MAX, "%" PRIu64, ju64(i, "VCPUs"));
        format_bytes(cells[INS_MEMORY], TABLE_CELL_MAX, ju64(i, "MemoryBytes"));
        /* A container's partition: its MIG profile or its share of a GPU, where a count would say 1. */
        p = json_array_get(json_object_get(i, "Partition"), 0);
        if (p && streq(strempty(json_string_value(json_array_get(p, 0))), "mig"))
                snprintf(cells[INS_GPUS], TABLE_CELL_MAX, "%s",
                         strempty(json_string_value(json_array_get(p, 2))));
        else if (p)
                snprintf(cells[INS_GPUS], TABLE_CELL_MAX, "%u.%03u",
                         (unsigned) (json_integer_value(json_array_get(p, 4)) / 1000),
                         (unsigned) (json_integer_value(json_array_get(p, 4)) % 1000));
        else
                snprintf(cells[INS_GPUS], TABLE_CELL_MAX, "%zu",
                         json_array_size(json_object_get(i, "GPUs")));
        snprintf(cells[INS_MODEL], TABLE_CELL_MAX, "%s", isempty(jstr(i, "Model")) ? "-" : jstr(i, "Model"));
}

static void draw_instances(Canvas *c, const TuiModel *m, const ScreenState *st, int y) {
        /* The served model gives way first, then the state; names and types never. */
        Column cols[_INS_MAX] = {
                [INS_NAME] = { _("NAME"), .pref = 16 },
                [INS_TENANT] = { _("TENANT"), .pref = 12 },
                [INS_TYPE] = { _("TYPE"), .pref = 9 },
                [INS_STATE] = { _("STATE"), 1, 7, .pref = 13 },
                [INS_VCPUS] = { _("VCPUS"), .right = true, .pref = 5 },
                [INS_MEMORY] = { _("MEMORY"), .right = true, .pref = 9 },
                [INS_GPUS] = { _("GPUS"), .right = true, .pref = 4 },
                [INS_MODEL] = { _("MODEL"), 2, 5, .pref = 14 },
        };
        char cells[_INS_MAX][TABLE_CELL_MAX];
        CanvasAttr attrs[_INS_MAX];
        json_t *i;
        size_t k;

        json_array_foreach(m->instances, k, i) {
                instance_cells(i, cells, attrs);
                for (size_t f = 0; f < _INS_MAX; f++)
                        column_measure(&cols[f], cells[f]);
        }
        table_fit(cols, _INS_MAX, c->cols - 2);
        table_header(c, y++, cols, _INS_MAX);
        size_t first = list_first(st->selected, json_array_size(m->instances), c->rows - 2 - y);

        json_array_foreach(m->instances, k, i) {
                if (k < first)
                        continue;
                if (y >= c->rows - 2)
                        break;
                instance_cells(i, cells, attrs);
                table_row(c, y++, cols, _INS_MAX, cells, attrs, (int) k == st->selected);
        }
        if (json_array_size(m->instances) == 0)
                canvas_text(c, 1, y, -1, ATTR_DIM, _("No instances yet."));
}

static void draw_bundles(Canvas *c, const TuiModel *m, const ScreenState *st, int y) {
        /* ListBundles: kind, tenant, name, version; shown as kind, name, version, tenant. */
        static const size_t order[] = { 0, 2, 3, 1 };
        Column cols[] = { { _("KIND"), .pref = 7 },
                          { _("NAME"), .pref = 30 },
                          { _("VERSION"), 1, 8, .pref = 14 },
                          { _("TENANT"), .pref = 20 } };
        char cells[ELEMENTSOF(cols)][TABLE_CELL_MAX];
        const CanvasAttr attrs[ELEMENTSOF(cols)] = {};
        const MediaList *media = st->media;
        json_t *b;
        size_t k;

        canvas_text(c, 1, y++, -1, ATTR_BOLD, _("On removable media (Enter: inspect and import)"));
        for (size_t f = 0; media && f < media->n && y < c->rows / 2; f++) {
                struct stat sb;
                char size[32] = "";
                const char *slash = strrchr(media->files[f], '/');

                if (stat(media->files[f], &sb) >= 0)
                        format_bytes(size, sizeof(size), (uint64_t) sb.st_size);
                canvas_cell(c, 3, y, c->cols - 28, false,
                            (int) f == st->selected ? ATTR_SELECTED : ATTR_NORMAL,
                            slash ? slash + 1 : media->files[f]);
                canvas_cell(c, c->cols - 24, y, 12, true,
                            (int) f == st->selected ? ATTR_SELECTED : ATTR_NORMAL, size);
                y++;
        }
        if (!media || media->n == 0)
                canvas_text(c, 3, y++, -1, ATTR_DIM, _("No .ark files on removable media (r looks again)."));
        if (st->progress)
                canvas_text(c, 1, y++, -1, ATTR_WARN, st->progress);
        y++;
        canvas_text(c, 1, y++, -1, ATTR_BOLD, _("Installed"));
        for (int pass = 0; pass < 2; pass++) {
                if (pass == 1) {
                        table_fit(cols, ELEMENTSOF(cols), c->cols - 2);
                        table_header(c, y++, cols, ELEMENTSOF(cols));
                }
                json_array_foreach(m->bundles, k, b) {
                        for (size_t f = 0; f < ELEMENTSOF(cols); f++) {
                                const char *v = json_string_value(json_array_get(b, order[f]));

                                snprintf(cells[f], TABLE_CELL_MAX, "%s",
                                         f == 3 && isempty(v) ? _("(shared)") : strempty(v));
                                if (pass == 0)
                                        column_measure(&cols[f], cells[f]);
                        }
                        if (pass == 0)
                                continue;
                        if (y >= c->rows - 2)
                                break;
                        table_row(c, y++, cols, ELEMENTSOF(cols), cells, attrs, false);
                }
        }
        if (json_array_size(m->bundles) == 0)
                canvas_text(c, 1, y, -1, ATTR_DIM, _("No bundles imported yet."));
}

static void draw_logs(Canvas *c, const ScreenState *st, int y) {
        const LogView *v = st->logs;
        static const char *const prios[8] = { "emerg",   "alert",  "crit", "err",
                                              "warning", "notice", "info", "debug" };
        int room = c->rows - 2 - (y + 1);
        size_t first;

        if (!v) {
                canvas_text(c, 1, y, -1, ATTR_DIM, _("No log."));
                return;
        }
        if (v->file)
                canvas_printf(c, 1, y++, -1, ATTR_BOLD, "%s %s%s", _("File:"), v->file,
                              v->follow ? _(", following") : "");
        else
                canvas_printf(c, 1, y++, -1, ATTR_BOLD, "%s %s, %s %s%s", _("Journal:"),
                              log_unit_label(v->unit), _("up to"),
                              v->max_priority >= 7 ? _("everything") : prios[v->max_priority],
                              v->follow ? _(", following") : "");
        if (v->error) {
                canvas_text(c, 1, y, -1, ATTR_BAD, v->error);
                return;
        }
        if (v->n == 0) {
                canvas_text(c, 1, y, -1, ATTR_DIM, _("No entries."));
                return;
        }
        first = v->n > (size_t) room ? v->n - (size_t) room : 0;
        for (size_t k = first; k < v->n; k++)
                canvas_text(c, 1, y++, c->cols - 2,
                            v->priorities[k] <= 3           ? ATTR_BAD
                                    : v->priorities[k] == 4 ? ATTR_WARN
                                                            : ATTR_NORMAL,
                            v->lines[k]);
}

enum {
        NET_NAME,
        NET_TENANT,
        NET_MODE,
        NET_SUBNET,
        NET_VMS,
        NET_STATUS,
        _NET_MAX
};

/* "NAT via eth0", "isolated", "VLAN 10 on eth1": the mode with what it leaves by. */
static const char *network_mode(char *buf, size_t l, json_t *n) {
        const char *mode = jstr(n, "Mode"), *uplink = jstr(n, "Uplink");

        if (streq(mode, "nat") && !isempty(uplink))
                snprintf(buf, l, _("NAT via %s"), uplink);
        else if (streq(mode, "nat"))
                snprintf(buf, l, "NAT");
        else if (streq(mode, "isolated"))
                snprintf(buf, l, "%s", _("isolated"));
        else if (streq(mode, "vlan"))
                snprintf(buf, l, _("VLAN %u on %s"), (unsigned) ju64(n, "VLAN"), uplink);
        else
                snprintf(buf, l, "%s", mode);
        return buf;
}

/* How many VMs have a NIC on the network: its Instances a(ssss) name one per NIC, a VM's name again
 * for a second NIC. */
static size_t network_vms(json_t *n) {
        json_t *nics = json_object_get(n, "Instances"), *a, *b;
        size_t k, j, vms = 0;

        json_array_foreach(nics, k, a) {
                bool seen = false;

                for (j = 0; j < k && !seen; j++) {
                        b = json_array_get(nics, j);
                        seen = streq(strempty(json_string_value(json_array_get(a, 0))),
                                     strempty(json_string_value(json_array_get(b, 0))));
                }
                vms += !seen;
        }
        return vms;
}

static void network_cells(json_t *n, char cells[][TABLE_CELL_MAX], CanvasAttr *attrs) {
        bool problem = !isempty(jstr(n, "Problem"));

        for (size_t k = 0; k < _NET_MAX; k++)
                attrs[k] = ATTR_NORMAL;
        snprintf(cells[NET_NAME], TABLE_CELL_MAX, "%s", jstr(n, "Name"));
        snprintf(cells[NET_TENANT], TABLE_CELL_MAX, "%s", jstr(n, "Tenant"));
        network_mode(cells[NET_MODE], TABLE_CELL_MAX, n);
        snprintf(cells[NET_SUBNET], TABLE_CELL_MAX, "%s", jstr(n, "Subnet"));
        snprintf(cells[NET_VMS], TABLE_CELL_MAX, "%zu", network_vms(n));
        snprintf(cells[NET_STATUS], TABLE_CELL_MAX, "%s", problem ? _("! problem") : _("ok"));
        attrs[NET_STATUS] = problem ? ATTR_BAD : ATTR_OK;
}

/* The tenant networks arkd reports, below the management network: a table (the selected one in
 * more words under it: bridge, gateway, MTU, its instances' addresses, and the problem in full).
 * Read only: networks are made with arkctl. */
static void draw_tenant_networks(Canvas *c, const TuiModel *m, const ScreenState *st, int y) {
        /* The mode gives way first, then the status; names and subnets never. */
        Column cols[_NET_MAX] = {
                [NET_NAME] = { _("NAME"), .pref = 14 },
                [NET_TENANT] = { _("TENANT"), .pref = 12 },
                [NET_MODE] = { _("MODE"), 2, 8, .pref = 18 },
                [NET_SUBNET] = { _("SUBNET"), .pref = 18 },
                [NET_VMS] = { _("VMS"), .right = true, .pref = 4 },
                [NET_STATUS] = { _("STATUS"), 1, 3, .pref = 10 },
        };
        char cells[_NET_MAX][TABLE_CELL_MAX];
        CanvasAttr attrs[_NET_MAX];
        int bottom = c->rows - 2, details = 0;
        json_t *n, *sel = NULL;
        size_t k, count = json_array_size(m->networks);
        char more[3][512] = {}; /* the selected one's: bridge and gateway, VMs, problem */

        if (y >= bottom)
                return;
        canvas_text(c, 1, y++, -1, ATTR_BOLD, _("Tenant networks"));
        if (!m->connected) {
                canvas_text(c, 1, y, -1, ATTR_DIM, _("Not known while arkd does not answer."));
                return;
        }
        if (m->networks_unsupported) {
                canvas_text(c, 1, y, -1, ATTR_DIM, _("This arkd has no tenant networks."));
                return;
        }
        if (!m->networks) {
                canvas_printf(c, 1, y, c->cols - 2, ATTR_DIM, "%s %s", _("Not available:"),
                              strempty(m->networks_error));
                return;
        }
        if (count == 0) {
                canvas_text(c, 1, y, -1, ATTR_DIM,
                            _("No tenant networks yet (arkctl network create makes one)."));
                return;
        }
        json_array_foreach(m->networks, k, n) {
                if ((int) k == st->selected)
                        sel = n;
                network_cells(n, cells, attrs);
                for (size_t f = 0; f < _NET_MAX; f++)
                        column_measure(&cols[f], cells[f]);
        }
        table_fit(cols, _NET_MAX, c->cols - 2);
        table_header(c, y++, cols, _NET_MAX);
        /* The selected one in more words (a rule, then bridge and gateway, its VMs and their
         * addresses, the problem in full; each in two lines at most), after a blank line, when the
         * table keeps room for three rows or all of them. */
        if (sel) {
                json_t *nic;
                size_t o;

                o = (size_t) snprintf(more[0], sizeof(more[0]), _("%s/%s: bridge %s, gateway %s, MTU %u"),
                                      jstr(sel, "Tenant"), jstr(sel, "Name"), jstr(sel, "Bridge"),
                                      jstr(sel, "Gateway"), (unsigned) ju64(sel, "MTU"));
                if (!isempty(jstr(sel, "Subnet6")) && o < sizeof(more[0]))
                        snprintf(more[0] + o, sizeof(more[0]) - o, _(", IPv6 %s"), jstr(sel, "Subnet6"));
                /* Instances a(ssss): instance, MAC, IPv4, interface. */
                if (json_array_size(json_object_get(sel, "Instances")) > 0) {
                        o = (size_t) snprintf(more[1], sizeof(more[1]), "%s", _("VMs:"));
                        json_array_foreach(json_object_get(sel, "Instances"), k, nic)
                                if (o < sizeof(more[1]))
                                        o += (size_t) snprintf(
                                                more[1] + o, sizeof(more[1]) - o, "%s %s %s", k ? "," : "",
                                                strempty(json_string_value(json_array_get(nic, 0))),
                                                strempty(json_string_value(json_array_get(nic, 2))));
                }
                if (!isempty(jstr(sel, "Problem")))
                        snprintf(more[2], sizeof(more[2]), "%s %s", _("Problem:"), jstr(sel, "Problem"));
                details = 2;
                for (size_t f = 0; f < ELEMENTSOF(more); f++)
                        details += more[f][0] == 0 ? 0 : text_width(more[f]) <= c->cols - 2 ? 1 : 2;
        }
        if (bottom - y - details < (int) MIN(count, 3u))
                details = 0;
        size_t first = list_first(st->selected, count, bottom - details - y);

        json_array_foreach(m->networks, k, n) {
                if (k < first)
                        continue;
                if (y >= bottom - details)
                        break;
                network_cells(n, cells, attrs);
                table_row(c, y++, cols, _NET_MAX, cells, attrs, (int) k == st->selected);
        }
        if (details == 0)
                return;
        canvas_hline(c, 1, ++y, c->cols - 2);
        y++;
        for (size_t f = 0; f < ELEMENTSOF(more); f++)
                if (more[f][0] != 0)
                        y += canvas_wrap(c, 1, y, c->cols - 2, 2, f == 2 ? ATTR_BAD : ATTR_NORMAL, more[f]);
}

static void draw_network(Canvas *c, const TuiModel *m, const ScreenState *st, int y) {
        const char *labels[] = { _("Interface"), _("Mode"), _("Address"),   _("Gateway"), _("DNS"),
                                 _("NTP"),       _("File"), _("Host name"), _("VLAN") };
        int w = label_width(labels, ELEMENTSOF(labels));
        const NetConf *n = st->net;

        if (st->simulated_host)
                canvas_text(
                        c, 1, y++, -1, ATTR_WARN,
                        _("A simulated host (the sandbox): changes go to its files, not to this machine."));
        y = field(c, y, w, labels[0], ATTR_NORMAL, strempty(st->net_iface));
        if (!n) {
                y = field(c, y, w, labels[1], ATTR_DIM,
                          _("not set by the console (the system's own configuration)"));
        } else {
                y = field(c, y, w, labels[1], ATTR_NORMAL, n->dhcp ? "DHCP" : _("static"));
                if (!n->dhcp) {
                        y = field(c, y, w, labels[2], ATTR_NORMAL, n->address);
                        y = field(c, y, w, labels[3], ATTR_NORMAL, isempty(n->gateway) ? "-" : n->gateway);
                }
                y = field(c, y, w, labels[4], ATTR_NORMAL, isempty(n->dns) ? "-" : n->dns);
                y = field(c, y, w, labels[5], ATTR_NORMAL, isempty(n->ntp) ? "-" : n->ntp);
        }
        y = field(c, y, w, labels[6], ATTR_DIM, strempty(st->net_file));
        y = field(c, y, w, labels[7], ATTR_NORMAL, isempty(st->net_hostname) ? "-" : st->net_hostname);
        y = field(c, y, w, labels[8], ATTR_DIM,
                  st->vlan_supported ? _("the kernel supports it; not set from the console yet")
                                     : _("not supported by this kernel (no 8021q module)"));
        y++;
        if (st->revert_left >= 0)
                canvas_printf(c, 1, y++, -1, ATTR_WARN,
                              _("New settings are active: press c to keep them. Reverting in %d s."),
                              st->revert_left);
        else
                canvas_text(
                        c, 1, y++, -1, ATTR_DIM,
                        _("A change is applied at once and undone after a countdown unless you keep it."));
        y++;
        draw_tenant_networks(c, m, st, y);
}

static void draw_system(Canvas *c, const TuiModel *m, const ScreenState *st, int y) {
        json_t *row;
        size_t k;
        int shown = 0, ready = 0;

        canvas_text(c, 1, y++, -1, ATTR_BOLD, _("Readiness for GPU passthrough"));
        if (!m->checks) {
                canvas_text(c, 3, y++, -1, ATTR_DIM, _("Not available (an admin sees it)."));
        } else {
                /* What is not ready first, then advice; the ready ones counted. */
                for (int pass = 0; pass < 2; pass++)
                        json_array_foreach(m->checks, k, row) {
                                const char *status = strempty(json_string_value(json_array_get(row, 2)));
                                const char *subject = strempty(json_string_value(json_array_get(row, 0)));

                                if (pass == 0 && streq(status, "ready"))
                                        ready++;
                                if (!streq(status, pass == 0 ? "not-ready" : "advice") || y >= c->rows - 16)
                                        continue;
                                canvas_cell(c, 3, y, 12, false, pass == 0 ? ATTR_BAD : ATTR_WARN,
                                            isempty(subject) ? _("host") : subject);
                                canvas_cell(c, 16, y, 20, false, pass == 0 ? ATTR_BAD : ATTR_WARN,
                                            strempty(json_string_value(json_array_get(row, 1))));
                                canvas_text(c, 37, y++, c->cols - 38, pass == 0 ? ATTR_BAD : ATTR_WARN,
                                            strempty(json_string_value(json_array_get(row, 3))));
                                shown++;
                        }
                canvas_printf(c, 3, y++, -1, ATTR_OK, _("%d checks ready, %d to look at"), ready, shown);
        }
        y++;
        canvas_text(c, 1, y++, -1, ATTR_BOLD, _("System update (A/B slots)"));
        if (st->progress && y < c->rows - 8)
                canvas_text(c, 3, y++, c->cols - 4, ATTR_WARN, st->progress);
        if (!st->update_status)
                canvas_text(c, 3, y++, -1, ATTR_DIM, _("Not known here (ark-update status says nothing)."));
        else
                for (const char *l = st->update_status; *l && y < c->rows - 7;) {
                        size_t n = strcspn(l, "\n");
                        char line[256];

                        snprintf(line, sizeof(line), "%.*s", (int) MIN(n, sizeof(line) - 1), l);
                        canvas_text(c, 3, y++, c->cols - 4, ATTR_NORMAL, line);
                        l += n + (l[n] == '\n');
                }
        y++;
        canvas_text(c, 1, y++, -1, ATTR_BOLD, _("Actions"));
        if (st->simulated_host)
                canvas_text(c, 3, y++, -1, ATTR_WARN,
                            _("A simulated host (the sandbox): these do not touch this machine."));
        canvas_text(c, 3, y++, -1, ATTR_NORMAL,
                    _("u install a system update from removable media, then b reboots into it"));
        canvas_cell(c, 3, y, 24, false, ATTR_NORMAL, _("a restart arkd"));
        canvas_text(c, 28, y++, -1, ATTR_NORMAL, _("l restart libvirtd"));
        canvas_cell(c, 3, y, 24, false, ATTR_NORMAL, _("b reboot"));
        canvas_text(c, 28, y++, -1, ATTR_NORMAL, _("o power off (both ask twice)"));
        canvas_text(c, 3, y++, -1, ATTR_NORMAL,
                    _("e support bundle to removable media (logs, inventory, config; no secrets)"));
}

/* Screens whose parts have not landed: what exists, what is missing; no made-up data. */
static void draw_missing(Canvas *c, ScreenId s, int y) {
        const char *lines[3] = {};

        switch (s) {
        default:
                break;
        }
        for (int k = 0; k < 3 && lines[k]; k++)
                canvas_text(c, 1, y + k, -1, ATTR_NORMAL, lines[k]);
}

/* The keys: everywhere, then this screen's. */
static void draw_help(Canvas *c, ScreenId screen, int y) {
        const char *lines[] = {
                _("1-8       go to a screen"),
                _("Tab/Right next screen, Shift-Tab/Left previous"),
                _("Up/Down   select a row"),
                _("r         refresh now"),
                _("?         this help"),
                _("Esc       close a dialog or this help"),
                _("L         English / 中文"),
                _("q         quit"),
                _("This screen:"),
        };
        int n = (int) ELEMENTSOF(lines);

        /* This screen's keys wrap onto two lines of their own. */
        canvas_box(c, 4, y, c->cols - 8, n + 4, _("Keys"));
        for (int k = 0; k < n + 2; k++) {
                canvas_fill(c, 5, y + 1 + k, c->cols - 10);
                if (k < n)
                        canvas_text(c, 6, y + 1 + k, c->cols - 12, ATTR_NORMAL, lines[k]);
        }
        canvas_wrap(c, 6, y + 1 + n, c->cols - 12, 2, ATTR_NORMAL, screen_actions(screen));
}

int screen_rows(const TuiModel *m, ScreenId s) {
        switch (s) {
        case SCREEN_ACCELERATORS:
                return (int) json_array_size(m->accelerators);
        case SCREEN_TENANTS:
                return (int) json_array_size(m->tenants);
        case SCREEN_INSTANCES:
                return (int) json_array_size(m->instances);
        case SCREEN_NETWORK:
                return (int) json_array_size(m->networks); /* the tenant networks' table */
        case SCREEN_BUNDLES:
                return 0; /* the media list's: the console knows it (screen_rows_media) */
        default:
                return 0;
        }
}

json_t *screen_selected(const TuiModel *m, const ScreenState *st) {
        json_t *list = st->screen == SCREEN_ACCELERATORS ? m->accelerators
                : st->screen == SCREEN_TENANTS           ? m->tenants
                : st->screen == SCREEN_INSTANCES         ? m->instances
                : st->screen == SCREEN_NETWORK           ? m->networks
                                                         : NULL;

        return list ? json_array_get(list, (size_t) st->selected) : NULL;
}

const char *screen_actions(ScreenId s) {
        switch (s) {
        case SCREEN_ACCELERATORS:
                return _("v reserve  x quarantine  u release  ? help  q quit");
        case SCREEN_TENANTS:
                return _("n new  g GPU quota  m add member  d delete  ? help  q quit");
        case SCREEN_INSTANCES:
                return _("n new VM  Enter details  s start  t stop  f force off  ? help  q quit");
        case SCREEN_LOGS:
                return _("u unit  p priority  f follow  r reload  ? help  q quit");
        case SCREEN_BUNDLES:
                return _("Enter inspect and import  r look again  ? help  q quit");
        case SCREEN_NETWORK:
                return _("s static  d DHCP  c keep  h host name  ? help  q quit");
        case SCREEN_SYSTEM:
                return _("u update  a arkd  l libvirtd  b reboot  o power off  e support bundle  q quit");
        default:
                return _("1-8 screens  Tab next  Up/Down select  r refresh  ? help  q quit");
        }
}

static void draw_dialog(Canvas *c, const ScreenState *st) {
        int w = MIN(c->cols - 8, 70), x = (c->cols - w) / 2, y = c->rows / 2 - 4;
        char line[512];

        canvas_box(c, x, y, w, 8, st->dialog_title);
        for (int k = 1; k < 7; k++)
                canvas_fill(c, x + 1, y + k, w - 2);
        canvas_wrap(c, x + 2, y + 1, w - 4, 3, ATTR_BOLD, strempty(st->dialog_text));
        if (st->dialog_input) {
                snprintf(line, sizeof(line), "> %s_", st->dialog_input);
                canvas_text(c, x + 2, y + 5, w - 4, ATTR_SELECTED, line);
                canvas_text(c, x + 2, y + 6, w - 4, ATTR_DIM, _("Enter: OK   Esc: cancel"));
        } else
                canvas_text(c, x + 2, y + 5, w - 4, st->dialog_info ? ATTR_DIM : ATTR_WARN,
                            st->dialog_info ? _("Any key closes this.") : _("y: yes   n or Esc: no"));
}

void screen_draw(Canvas *c, const TuiModel *m, const ScreenState *st) {
        int x = 1, y = 3, gap = 2, total = -2;

        canvas_clear(c);
        /* Title: product and host; tabs; a line. */
        canvas_printf(c, 1, 0, c->cols - 2, ATTR_TITLE, "Ark %s  %s",
                      m->connected ? jstr(m->manager, "Version") : "",
                      m->connected ? jstr(m->manager, "Hostname") : "");
        /* Two columns between tabs where they fit so, one at 80 columns. */
        for (int k = 0; k < _SCREEN_MAX; k++) {
                char tab[64];

                snprintf(tab, sizeof(tab), "%d %s", k + 1, _(screen_tabs[k]));
                total += text_width(tab) + 2;
        }
        if (total > c->cols - 2)
                gap = 1;
        for (int k = 0; k < _SCREEN_MAX; k++) {
                char tab[64];

                snprintf(tab, sizeof(tab), "%d %s", k + 1, _(screen_tabs[k]));
                x += canvas_text(c, x, 1, c->cols - x - 1,
                                 k == (int) st->screen ? ATTR_SELECTED : ATTR_NORMAL, tab) +
                        gap;
        }
        canvas_hline(c, 0, 2, c->cols);
        if (!m->connected && st->screen != SCREEN_LOGS && st->screen != SCREEN_NETWORK &&
            st->screen != SCREEN_SYSTEM) {
                canvas_text(c, 1, y++, -1, ATTR_BAD,
                            _("The control plane is unavailable: arkd does not answer."));
                canvas_printf(c, 1, y++, -1, ATTR_NORMAL, "%s", strempty(m->error));
                y++;
                canvas_text(c, 1, y++, -1, ATTR_NORMAL, _("The console retries every few seconds."));
                canvas_text(c, 1, y++, -1, ATTR_NORMAL, _("7 shows arkd's log; 8 restarts it (a)."));
        } else
                switch (st->screen) {
                case SCREEN_DASHBOARD:
                        draw_dashboard(c, m, st, y);
                        break;
                case SCREEN_ACCELERATORS:
                        draw_accelerators(c, m, st, y);
                        break;
                case SCREEN_TENANTS:
                        draw_tenants(c, m, st, y);
                        break;
                case SCREEN_INSTANCES:
                        draw_instances(c, m, st, y);
                        break;
                case SCREEN_BUNDLES:
                        draw_bundles(c, m, st, y);
                        break;
                case SCREEN_LOGS:
                        draw_logs(c, st, y);
                        break;
                case SCREEN_NETWORK:
                        draw_network(c, m, st, y);
                        break;
                case SCREEN_SYSTEM:
                        draw_system(c, m, st, y);
                        break;
                default:
                        draw_missing(c, st->screen, y);
                        break;
                }
        if (st->help)
                draw_help(c, st->screen, 5);
        if (st->dialog_title)
                draw_dialog(c, st);
        canvas_hline(c, 0, c->rows - 2, c->cols);
        canvas_text(c, 1, c->rows - 1, c->cols - 2, st->status ? ATTR_WARN : ATTR_DIM,
                    st->status
                            ?: screen_actions(m->connected || st->screen == SCREEN_LOGS ||
                                                              st->screen == SCREEN_NETWORK ||
                                                              st->screen == SCREEN_SYSTEM
                                                      ? st->screen
                                                      : SCREEN_DASHBOARD));
}

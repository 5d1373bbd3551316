/* arkctl audit list | verify | export. */

#include <inttypes.h>
#include <stdio.h>

#include "arkctl.h"
#include "output.h"
#include "basic/string-util.h"
#include "shared/bus-util.h"

#define AUDIT_PAGE 1000

typedef struct AuditRow {
        uint64_t seq, usec;
        uint32_t uid;
        const char *caller, *action, *object, *arguments, *result, *hash;
} AuditRow;

static json_t *row_to_json(const AuditRow *a) {
        char when[OUTPUT_FORMAT_MAX];

        return json_pack("{s:I, s:s, s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s}", "seq", (json_int_t) a->seq,
                         "time", format_timestamp(when, sizeof(when), a->usec), "usec", (json_int_t) a->usec,
                         "uid", (json_int_t) a->uid, "caller", a->caller, "action", a->action, "object",
                         a->object, "arguments", a->arguments, "result", a->result, "hash", a->hash);
}

/* Reads every row, a page at a time, handing each to `cb`. */
static int audit_walk(sd_bus *bus, int (*cb)(const AuditRow *a, void *userdata), void *userdata) {
        uint64_t after = 0;
        int r;

        for (;;) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                AuditRow a;
                unsigned n = 0;

                r = ctl_call(bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "ListAuditLog", 0, &reply, "tu",
                             after, (uint32_t) AUDIT_PAGE);
                if (r < 0)
                        return r;
                r = sd_bus_message_enter_container(reply, 'a', "(ttussssss)");
                if (r < 0)
                        return ctl_log_call_error(r, NULL, "ListAuditLog");
                while ((r = sd_bus_message_read(reply, "(ttussssss)", &a.seq, &a.usec, &a.uid, &a.caller,
                                                &a.action, &a.object, &a.arguments, &a.result, &a.hash)) >
                       0) {
                        r = cb(&a, userdata);
                        if (r < 0)
                                return r;
                        after = a.seq;
                        n++;
                }
                if (r < 0)
                        return ctl_log_call_error(r, NULL, "ListAuditLog");
                /* arkd may send fewer rows than asked for (it keeps each reply small): only an
                 * empty page is the end. */
                if (n == 0)
                        return 0;
        }
}

typedef struct ListCtx {
        Table *table;
        json_t *json;
        bool lines;
} ListCtx;

static int list_one(const AuditRow *a, void *userdata) {
        ListCtx *c = userdata;
        char seq[32], uid[32], when[OUTPUT_FORMAT_MAX];

        if (c->lines) {
                _cleanup_(json_decrefp) json_t *j = row_to_json(a);
                _cleanup_free_ char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

                if (!s)
                        return ctl_oom();
                puts(s);
                return 0;
        }
        if (c->json)
                return json_array_append_new(c->json, row_to_json(a)) < 0 ? ctl_oom() : 0;
        snprintf(seq, sizeof(seq), "%" PRIu64, a->seq);
        snprintf(uid, sizeof(uid), "%" PRIu32, a->uid);
        return table_add_row(c->table, seq, format_timestamp(when, sizeof(when), a->usec), uid, a->caller,
                             a->action, a->object, a->result) < 0
                ? ctl_oom()
                : 0;
}

/* audit list: a table, or a JSON array. */
int verb_audit_list(char **args) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(table_freep) Table *t =
                table_new("SEQ", "TIME", "UID", "CALLER", "ACTION", "OBJECT", "RESULT", NULL);
        _cleanup_(json_decrefp) json_t *j = arg_output == OUTPUT_JSON ? json_array() : NULL;
        ListCtx c = { .table = t, .json = j };
        int r;

        if (!t || (arg_output == OUTPUT_JSON && !j))
                return ctl_oom();
        r = ctl_bus_open(&bus);
        if (r < 0)
                return r;
        r = audit_walk(bus, list_one, &c);
        if (r < 0)
                return r;
        if (j)
                return ctl_print_json(j);
        if (table_rows(t) == 0) {
                if (arg_legend)
                        printf("The audit log is empty.\n");
                return 0;
        }
        return ctl_print_table(t);
}

/* audit export: every row with its hashes, one JSON object per line, for an outside auditor. */
int verb_audit_export(char **args) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        ListCtx c = { .lines = true };
        int r;

        r = ctl_bus_open(&bus);
        if (r < 0)
                return r;
        r = audit_walk(bus, list_one, &c);
        if (r < 0)
                return r;
        return fflush(stdout) == 0 ? 0 : 1;
}

/* audit verify: exit 0 when the chain is intact, 1 naming the first broken row. */
int verb_audit_verify(char **args) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        uint64_t rows, bad;
        const char *reason;
        int intact, r;

        r = ctl_bus_open(&bus);
        if (r < 0)
                return r;
        r = ctl_call(bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "VerifyAuditLog", 0, &reply, NULL);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "btts", &intact, &rows, &bad, &reason);
        if (r < 0)
                return ctl_log_call_error(r, NULL, "VerifyAuditLog");
        if (arg_output == OUTPUT_JSON) {
                _cleanup_(json_decrefp) json_t *j =
                        json_pack("{s:b, s:I, s:I, s:s}", "intact", intact, "rows", (json_int_t) rows,
                                  "first_bad", (json_int_t) bad, "reason", reason);
                r = ctl_print_json(j);
                return r < 0 ? r : (intact ? 0 : 1);
        }
        if (intact) {
                printf("The audit log is intact: %" PRIu64 " row%s.\n", rows, rows == 1 ? "" : "s");
                return 0;
        }
        fprintf(stderr, "arkctl: the audit log is broken: %s; the %" PRIu64 " row%s before it are intact.\n",
                reason, rows, rows == 1 ? "" : "s");
        return 1;
}

/* Metering; see meter.h. */

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "basic/time-util.h"
#include "instance.h"
#include "host-inventory.h"
#include "manager.h"
#include "meter.h"
#include "compute-unit.h"
#include "shared/db.h"

#define METER_HEARTBEAT_USEC (1 * USEC_PER_SEC)

/* Runs a statement with up to two integer parameters (those it has). */
static int exec_bound(sqlite3 *db, const char *sql, int64_t a, int64_t b) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r, rc;

        r = db_prepare(db, sql, &st);
        if (r < 0)
                return r;
        if (sqlite3_bind_parameter_count(st) >= 1)
                sqlite3_bind_int64(st, 1, a);
        if (sqlite3_bind_parameter_count(st) >= 2)
                sqlite3_bind_int64(st, 2, b);
        rc = sqlite3_step(st);
        return rc == SQLITE_DONE ? 0 : db_errno_of(db, rc);
}

int meter_recover(Manager *m) {
        int r = exec_bound(
                m->db, "UPDATE usage_intervals SET end_usec = last_alive_usec WHERE end_usec IS NULL", 0, 0);
        int n = sqlite3_changes(m->db);

        if (r < 0)
                return log_error_errno(r, "Failed to close the usage intervals left open: %m (%s)",
                                       db_errmsg(m->db));
        if (n > 0)
                log_notice(
                        "Closed %d usage interval%s left open by the previous arkd at their last-alive time.",
                        n, n == 1 ? "" : "s");
        return 0;
}

/* Inserts i's open usage interval and sets i->usage_interval. */
static int meter_insert_interval(Instance *i, uint64_t now) {
        Manager *m = i->manager;
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        StrBuf models = {};
        _cleanup_free_ char *ms = NULL;
        uint64_t gpu_mem = 0, milli;
        unsigned n = 0;
        int r, rc;

        for (char **g = i->gpus; g && *g; g++) {
                Accelerator *a = manager_find_accelerator(m, *g);

                strbuf_printf(&models, "%s%s", n++ ? "," : "", a && a->model ? a->model : *g);
                gpu_mem += a ? a->memory_bytes : 0;
        }
        milli = (uint64_t) n * 1000;
        /* A MIG instance or share: its GPU's model, its fraction and its memory. */
        if (i->partition) {
                Accelerator *a = manager_find_accelerator(m, i->partition->address);

                strbuf_printf(&models, "%s%s", n ? "," : "",
                              a && a->model ? a->model : i->partition->address);
                gpu_mem += i->partition->memory_bytes;
                milli += i->partition->milli;
        }
        ms = strbuf_steal(&models);
        r = db_prepare(
                m->db,
                "INSERT INTO usage_intervals (instance_uuid, instance, tenant, start_usec, last_alive_usec, vcpus, "
                "memory_bytes, gpus, gpu_memory_bytes, gpu_models, tenant_uuid, gpu_milli) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, i->uuid, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, i->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, i->tenant, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, (sqlite3_int64) now);
        sqlite3_bind_int64(st, 5, (sqlite3_int64) now);
        sqlite3_bind_int64(st, 6, i->vcpus);
        sqlite3_bind_int64(st, 7, (sqlite3_int64) i->memory_bytes);
        sqlite3_bind_int64(st, 8, n);
        sqlite3_bind_int64(st, 9, (sqlite3_int64) gpu_mem);
        sqlite3_bind_text(st, 10, strempty(ms), -1, SQLITE_STATIC);
        {
                Tenant *t = manager_find_tenant(m, i->tenant);

                if (t)
                        sqlite3_bind_text(st, 11, t->uuid, -1, SQLITE_STATIC);
                else
                        sqlite3_bind_null(st, 11);
        }
        sqlite3_bind_int64(st, 12, (sqlite3_int64) milli);
        rc = sqlite3_step(st);
        if (rc != SQLITE_DONE)
                return db_errno_of(m->db, rc);
        i->usage_interval = sqlite3_last_insert_rowid(m->db);
        return 0;
}

static void meter_open(Instance *i, uint64_t now) {
        if (meter_insert_interval(i, now) < 0)
                log_warning("Failed to open a usage interval for instance '%s': %s", i->name,
                            db_errmsg(i->manager->db));
}

void meter_close(Instance *i) {
        Manager *m = i->manager;
        uint64_t now = now_usec(CLOCK_REALTIME);

        if (i->usage_interval <= 0 || !m || !m->db)
                return;
        if (exec_bound(
                    m->db,
                    "UPDATE usage_intervals SET end_usec = MAX(?1, start_usec), last_alive_usec = MAX(?1, start_usec) "
                    "WHERE id = ?2",
                    (int64_t) now, i->usage_interval) < 0)
                log_warning("Failed to close the usage interval of instance '%s': %s", i->name,
                            db_errmsg(m->db));
        i->usage_interval = 0;
}

void meter_begin(Instance *i) {
        if (i->usage_interval <= 0 && i->manager && i->manager->db)
                meter_open(i, now_usec(CLOCK_REALTIME));
}

void meter_sync(Manager *m) {
        uint64_t now = now_usec(CLOCK_REALTIME);

        if (!m->db)
                return;
        LIST_FOREACH(instances, i, m->instances) {
                bool running = i->state == INSTANCE_RUNNING || i->state == INSTANCE_PAUSED ||
                        i->state == INSTANCE_SHUTTING_DOWN;

                /* Unknown (libvirt is away): the VM most likely runs on; reconciliation decides. */
                if (i->state == INSTANCE_UNKNOWN)
                        continue;
                if (running && i->usage_interval <= 0)
                        meter_open(i, now);
                else if (!running && i->usage_interval > 0)
                        meter_close(i);
        }
}

static int on_heartbeat(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        meter_sync(m);
        if (exec_bound(m->db, "UPDATE usage_intervals SET last_alive_usec = ? WHERE end_usec IS NULL",
                       (int64_t) now_usec(CLOCK_REALTIME), 0) < 0)
                log_warning("Failed to record the usage heartbeat: %s", db_errmsg(m->db));
        (void) sd_event_source_set_time_relative(s, METER_HEARTBEAT_USEC);
        return 0;
}

int meter_start(Manager *m) {
        int r = sd_event_add_time_relative(m->event, &m->meter_timer, CLOCK_MONOTONIC, METER_HEARTBEAT_USEC,
                                           100 * 1000, on_heartbeat, m);
        if (r >= 0)
                r = sd_event_source_set_enabled(m->meter_timer, SD_EVENT_ON);
        if (r < 0)
                return log_error_errno(r, "Failed to start the metering heartbeat: %m");
        meter_sync(m);
        return 0;
}

/* ark_compute_units(gpu_models, gpu_milli): the CUs of an interval's GPUs (compute-unit.h), by the
 * fraction of them it holds: gpu_milli over 1000 per model listed (a whole GPU: all of its CUs; a
 * MIG slice or a share: its part of its GPU's). */
static void sql_compute_units(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
        const char *models = (const char *) sqlite3_value_text(argv[0]);
        double n = 0, milli = (double) sqlite3_value_int64(argv[1]);

        for (const char *c = models; c && *c; c++)
                n += c == models || c[-1] == ',';
        sqlite3_result_double(ctx, n > 0 ? compute_units_of_list(models) * milli / (1000.0 * n) : 0);
}

int meter_report(Manager *m, const char *tenant, const char *tenant_uuid, uint64_t from, uint64_t to,
                 UsageFunc cb, void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int64_t now = (int64_t) now_usec(CLOCK_REALTIME);
        int r, rc;

        rc = sqlite3_create_function(m->db, "ark_compute_units", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
                                     sql_compute_units, NULL, NULL);
        if (rc != SQLITE_OK)
                return db_errno_of(m->db, rc);

        /* Each interval clipped to [from, to]; an open one runs until now. */
        r = db_prepare(
                m->db,
                "WITH c AS (SELECT tenant, tenant_uuid, instance, gpu_models, gpu_milli, gpu_memory_bytes, vcpus, "
                "  memory_bytes, MAX(0, MIN(COALESCE(end_usec, ?3), ?2) - MAX(start_usec, ?1)) / 1e6 AS s "
                "  FROM usage_intervals WHERE (?4 = '' OR tenant = ?4) AND (?5 = '' OR tenant_uuid = ?5) "
                "  AND start_usec < ?2 AND COALESCE(end_usec, ?3) > ?1) "
                "SELECT tenant, instance, group_concat(DISTINCT gpu_models), SUM(s), SUM(s * gpu_milli / 1000.0), "
                "  SUM(s * gpu_memory_bytes / 1073741824.0), SUM(s * vcpus), SUM(s * memory_bytes / 1073741824.0), "
                "  COUNT(*), SUM(s * ark_compute_units(gpu_models, gpu_milli)), tenant_uuid "
                "  FROM c GROUP BY tenant_uuid, tenant, instance ORDER BY tenant, instance",
                &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, (sqlite3_int64) MIN(from, (uint64_t) INT64_MAX));
        sqlite3_bind_int64(st, 2, (sqlite3_int64) MIN(to, (uint64_t) INT64_MAX));
        sqlite3_bind_int64(st, 3, now);
        sqlite3_bind_text(st, 4, strempty(tenant), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, strempty(tenant_uuid), -1, SQLITE_STATIC);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                UsageRow u = {
                        .tenant = (const char *) sqlite3_column_text(st, 0),
                        .instance = (const char *) sqlite3_column_text(st, 1),
                        .gpu_models = strempty((const char *) sqlite3_column_text(st, 2)),
                        .seconds = sqlite3_column_double(st, 3),
                        .gpu_seconds = sqlite3_column_double(st, 4),
                        .gpu_memory_gib_seconds = sqlite3_column_double(st, 5),
                        .vcpu_seconds = sqlite3_column_double(st, 6),
                        .memory_gib_seconds = sqlite3_column_double(st, 7),
                        .intervals = (uint64_t) sqlite3_column_int64(st, 8),
                        .compute_unit_seconds = sqlite3_column_double(st, 9),
                        .tenant_uuid = (const char *) sqlite3_column_text(st, 10),
                };
                r = cb(&u, userdata);
                if (r < 0)
                        return r;
        }
        return rc == SQLITE_DONE ? 0 : db_errno(rc);
}

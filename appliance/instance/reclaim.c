/* Borrowing and reclaim on the live object graph; see reclaim.h. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "api-guard.h"
#include "audit.h"
#include "basic/list.h"
#include "basic/log.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "basic/time-util.h"
#include "pool/borrow.h"
#include "instance.h"
#include "host-inventory.h"
#include "manager.h"
#include "metrics.h"
#include "passthrough.h"
#include "reclaim.h"
#include "shared/bus-util.h"
#include "tenant.h"

struct Reclaim {
        Manager *manager;
        bool linked;  /* on manager->reclaims */
        bool started; /* the victims were asked to stop */
        sd_bus_message *call;
        ReclaimContinue cont;
        char *tenant, *instance;
        char **gpus;             /* the GPUs the call will take: kept for it until answered */
        InstanceReclaim request; /* its amounts (victims not used), counted as the tenant's */
        char **victims;          /* uuids */
        bool *was_running;       /* per victim: restarted if the reclaim fails before release */
        bool released;           /* the victims' GPUs were taken */
        uint32_t uid;            /* the caller, as the audit log names it */
        char *who;
        sd_event_source *deadline;
        LIST_FIELDS(Reclaim, reclaims);
};

/* The pending reclaims other than the one being answered now. */
static bool reclaim_counts(Manager *m, const Reclaim *rc) {
        return rc != m->reclaim_current;
}

bool reclaim_reserved(Manager *m, const char *address) {
        LIST_FOREACH(reclaims, rc, m->reclaims)
                if (reclaim_counts(m, rc) && strv_contains(rc->gpus, address))
                        return true;
        return false;
}

bool reclaim_pending_name(Manager *m, const char *tenant, const char *name) {
        LIST_FOREACH(reclaims, rc, m->reclaims)
                if (reclaim_counts(m, rc) && streq(rc->instance, strempty(name)) &&
                    streq(rc->tenant, strempty(tenant)))
                        return true;
        return false;
}

void reclaim_foreach_pending(Manager *m, const char *tenant, ReclaimRequestFunc cb, void *userdata) {
        LIST_FOREACH(reclaims, rc, m->reclaims)
                if (reclaim_counts(m, rc) && streq(rc->tenant, strempty(tenant)))
                        cb(&rc->request, userdata);
}

/* ------------------------------------------------------------------------------------------ */
/* waiting calls */

static Reclaim *reclaim_free(Reclaim *rc) {
        if (!rc)
                return NULL;
        if (rc->linked)
                LIST_REMOVE(reclaims, rc->manager->reclaims, rc);
        for (char **u = rc->victims; u && *u; u++) {
                Instance *v = manager_find_instance_by_uuid(rc->manager, *u);
                if (v)
                        v->preempting = false;
        }
        sd_bus_message_unref(rc->call);
        sd_event_source_disable_unref(rc->deadline);
        free(rc->tenant);
        free(rc->instance);
        free(rc->who);
        free(rc->was_running);
        strv_free(rc->gpus);
        strv_free(rc->victims);
        /* rc->request.gpus is rc->gpus */
        free(rc);
        return NULL;
}

/* The reclaim will not happen: the victims it stopped run again (a preempted one asks for its
 * GPUs again, and may not get them), each recorded. */
static void reclaim_undo(Reclaim *rc) {
        Manager *m = rc->manager;
        size_t k = 0;

        for (char **u = rc->victims; u && *u; u++, k++) {
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
                _cleanup_free_ char *result = NULL;
                Instance *v = manager_find_instance_by_uuid(m, *u);

                if (!v || !rc->started || !rc->was_running[k])
                        continue;
                v->preempting = false;
                if (instance_start(v, &e) < 0)
                        result = strprintf("%s: %s", strna(e.name), strempty(e.message));
                audit_record_internal(
                        m, "Instance.Start", v->path, "[]",
                        result ?: "ok: started again, the reclaim it was stopped for did not happen");
        }
}

/* Answers the call with `error` and lets the victims run again. */
static void reclaim_fail(Reclaim *rc, const sd_bus_error *error) {
        _cleanup_free_ char *result = strprintf("%s: %s", error->name, strempty(error->message));

        (void) api_guard_reply_error(rc->manager, rc->call, error);
        audit_record_answer(rc->manager, rc->call, rc->uid, rc->who, result ?: error->name);
        /* Off the list first: what it kept is free for the victims to take back. */
        if (rc->linked) {
                LIST_REMOVE(reclaims, rc->manager->reclaims, rc);
                rc->linked = false;
        }
        reclaim_undo(rc);
        reclaim_free(rc);
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        Reclaim *rc = userdata;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        const char *stuck = NULL;

        for (char **u = rc->victims; u && *u && !stuck; u++) {
                Instance *v = manager_find_instance_by_uuid(rc->manager, *u);
                if (v && v->state != INSTANCE_STOPPED && v->state != INSTANCE_CRASHED)
                        stuck = v->name;
        }
        if (!stuck) {
                /* All down, and the check is about to run: let it. */
                reclaim_kick(rc->manager);
                (void) sd_event_source_set_time_relative(s, USEC_PER_SEC);
                (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
                return 0;
        }
        sd_bus_error_setf(
                &e, ARK_ERROR_TIMEOUT,
                "Preemptible instance '%s' did not stop, so the GPUs guaranteed to tenant '%s' could not be "
                "given back; see 'arkctl vm show %s'.",
                strna(stuck), rc->tenant, strna(stuck));
        reclaim_fail(rc, &e);
        return 0;
}

/* The audit row's arguments for one victim. */
static char *preempt_args(const Instance *v, const char *tenant, const char *instance) {
        json_t *gpus = json_array(), *o;
        char *s = NULL;

        for (char **g = v->gpus; gpus && g && *g; g++)
                (void) json_array_append_new(gpus, json_string(*g));
        o = json_pack("{s:s,s:s,s:o*,s:s,s:s}", "instance", v->name, "tenant", v->tenant, "gpus", gpus,
                      "for_tenant", strempty(tenant), "for_instance", strempty(instance));
        if (o)
                s = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        return s;
}

/* Asks each victim to stop (forced off after StopTimeoutSec=, sooner than a longer stop already
 * under way). A victim that can be neither stopped nor forced off fails the call. */
static int reclaim_stop_victims(Reclaim *rc, sd_bus_error *error) {
        Manager *m = rc->manager;
        size_t k = 0;

        rc->started = true;
        for (char **u = rc->victims; u && *u; u++, k++) {
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
                _cleanup_free_ char *args = NULL, *result = NULL, *gpu_list = NULL;
                Instance *v = manager_find_instance_by_uuid(m, *u);
                uint64_t deadline, at;
                char f[96];
                int r;

                if (!v)
                        continue;
                rc->was_running[k] = v->state != INSTANCE_STOPPED && v->state != INSTANCE_CRASHED;
                gpu_list = strv_join(v->gpus, ",");
                args = preempt_args(v, rc->tenant, rc->instance);
                r = instance_stop(v, 0, NULL, &e);
                if (r < 0) {
                        sd_bus_error_free(&e);
                        r = instance_force_off(v, &e);
                }
                if (r < 0) {
                        rc->was_running[k] = false; /* it never stopped: nothing to start again */
                        result = strprintf("%s: %s", strna(e.name), strempty(e.message));
                        audit_record_internal(m, "Instance.Preempt", v->path, args ?: "{}",
                                              result ?: "failed");
                        return sd_bus_error_setf(
                                error, ARK_ERROR_HYPERVISOR,
                                "Preemptible instance '%s' holds GPUs guaranteed to tenant '%s' and "
                                "could not be stopped: %s",
                                v->name, rc->tenant, strempty(e.message));
                }
                deadline = now_usec(CLOCK_MONOTONIC) + (uint64_t) m->config.stop_timeout_sec * USEC_PER_SEC;
                if (v->stop_timer && sd_event_source_get_time(v->stop_timer, &at) >= 0 && at > deadline)
                        (void) sd_event_source_set_time(v->stop_timer, deadline);
                result = strprintf(
                        "ok: stopping it (%s of tenant '%s', preemptible, youngest first) to give its "
                        "GPUs %s back to tenant '%s', which is guaranteed them and asked for them for "
                        "instance '%s'",
                        v->name, v->tenant, strna(gpu_list), rc->tenant, rc->instance);
                audit_record_internal(m, "Instance.Preempt", v->path, args ?: "{}", result ?: "ok");
                metrics_note_preemption(m);
                snprintf(f, sizeof(f), "ARK_INSTANCE=%s", v->name);
                log_struct(
                        LOG_NOTICE, 0, LOG_FIELDS("MESSAGE_ID=" ARK_MESSAGE_PREEMPT, f),
                        "Preempting instance '%s' of tenant '%s' (GPUs %s): tenant '%s' needs the GPUs it is "
                        "guaranteed for instance '%s'.",
                        v->name, v->tenant, strna(gpu_list), rc->tenant, rc->instance);
        }
        return 0;
}

/* Whether every victim is down (or gone); then takes their GPUs. Returns 1 when done, 0 when
 * still waiting, <0 with `error` set when a GPU could not be released. */
static int reclaim_collect(Reclaim *rc, sd_bus_error *error) {
        Manager *m = rc->manager;

        for (char **u = rc->victims; u && *u; u++) {
                Instance *v = manager_find_instance_by_uuid(m, *u);
                if (v && v->state != INSTANCE_STOPPED && v->state != INSTANCE_CRASHED)
                        return 0;
        }
        rc->released = true;
        for (char **u = rc->victims; u && *u; u++) {
                Instance *v = manager_find_instance_by_uuid(m, *u);
                _cleanup_free_ char *reason = NULL;
                int r;

                if (!v)
                        continue;
                reason = strprintf("preempted: its GPUs went back to tenant '%s', which is guaranteed them",
                                   rc->tenant);
                r = instance_preempt_release(v, reason ?: "preempted", error);
                if (r < 0)
                        return r;
        }
        return 1;
}

static int on_kick(sd_event_source *s, void *userdata) {
        Manager *m = userdata;

        LIST_FOREACH_SAFE(reclaims, rc, next, m->reclaims) {
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
                int r = 0;

                /* Stopped here, not in the handler: the call's own audit row comes first. */
                if (!rc->started)
                        r = reclaim_stop_victims(rc, &e);
                if (r >= 0)
                        r = reclaim_collect(rc, &e);
                if (r == 0)
                        continue;
                if (r > 0) {
                        m->reclaim_current = rc;
                        r = rc->cont(m, rc->call, &e);
                        m->reclaim_current = NULL;
                }
                if (r < 0) {
                        if (!sd_bus_error_is_set(&e))
                                sd_bus_error_set_errnof(&e, r, "Failed to finish the call: %m");
                        reclaim_fail(rc, &e);
                        continue;
                }
                audit_record_answer(m, rc->call, rc->uid, rc->who, "ok");
                reclaim_free(rc);
        }
        return 0;
}

void reclaim_kick(Manager *m) {
        if (!m->reclaims || !m->event)
                return;
        if (m->reclaim_defer)
                (void) sd_event_source_set_enabled(m->reclaim_defer, SD_EVENT_ONESHOT);
        else if (sd_event_add_defer(m->event, &m->reclaim_defer, on_kick, m) < 0)
                log_error("Failed to schedule the check of reclaims in progress.");
}

static int victims_json(Instance *const *victims, size_t n, char **ret) {
        json_t *a = json_array();

        if (!a)
                return -ENOMEM;
        for (size_t k = 0; k < n; k++)
                if (json_array_append_new(a, json_string(victims[k]->name)) < 0) {
                        json_decref(a);
                        return -ENOMEM;
                }
        *ret = json_dumps(a, JSON_COMPACT);
        json_decref(a);
        return *ret ? 0 : -ENOMEM;
}

int reclaim_start(Manager *m, sd_bus_message *call, ReclaimContinue cont, const char *tenant,
                  const char *instance, const InstanceReclaim *req, sd_bus_error *error) {
        Instance *const *victims = req->victims;
        size_t n_victims = req->n_victims;
        _cleanup_free_ char *names = NULL;
        uint64_t freed = 0;
        Reclaim *rc;
        int r;

        rc = calloc(1, sizeof(Reclaim));
        if (!rc)
                return -ENOMEM;
        rc->manager = m;
        rc->call = sd_bus_message_ref(call);
        rc->cont = cont;
        rc->tenant = strdup(strempty(tenant));
        rc->instance = strdup(strempty(instance));
        rc->was_running = calloc(n_victims + 1, sizeof(bool));
        rc->request = (InstanceReclaim) {
                .vcpus = req->vcpus,
                .memory_bytes = req->memory_bytes,
                .disk_bytes = req->disk_bytes,
        };
        if (!rc->tenant || !rc->instance || !rc->was_running || strv_copy(&rc->gpus, req->gpus) < 0 ||
            audit_caller(m, call, &rc->uid, &rc->who) < 0 || victims_json(victims, n_victims, &names) < 0) {
                reclaim_free(rc);
                return -ENOMEM;
        }
        rc->request.gpus = rc->gpus;
        for (size_t k = 0; k < n_victims; k++) {
                if (strv_extend(&rc->victims, victims[k]->uuid) < 0) {
                        reclaim_free(rc);
                        return -ENOMEM;
                }
                freed += strv_length(victims[k]->gpus);
        }
        r = sd_event_add_time_relative(m->event, &rc->deadline, CLOCK_MONOTONIC,
                                       ((uint64_t) m->config.stop_timeout_sec + 30) * USEC_PER_SEC, 0,
                                       on_deadline, rc);
        if (r < 0) {
                reclaim_free(rc);
                return sd_bus_error_set_errnof(error, r, "Failed to arm the reclaim deadline: %m");
        }
        /* From now on nobody else picks them, nor the GPUs the call will take. */
        for (size_t k = 0; k < n_victims; k++)
                victims[k]->preempting = true;
        rc->linked = true;
        LIST_PREPEND(reclaims, m->reclaims, rc);
        free(m->call_pending);
        m->call_pending = strprintf("pending: stopping %zu preemptible instance%s (%s) to free %" PRIu64
                                    " GPU%s guaranteed to tenant '%s'",
                                    n_victims, n_victims == 1 ? "" : "s", names, freed,
                                    freed == 1 ? "" : "s", strempty(tenant));
        reclaim_kick(m);
        return 0;
}

void reclaim_abort_all(Manager *m) {
        while (m->reclaims) {
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;

                sd_bus_error_setf(
                        &e, ARK_ERROR_INVALID_STATE,
                        "arkd is shutting down; the GPUs guaranteed to tenant '%s' were not handed over, "
                        "ask again once it is back.",
                        m->reclaims->tenant);
                /* No restarts now: the instances a reclaim stopped stay stopped, as the audit says. */
                m->reclaims->started = false;
                reclaim_fail(m->reclaims, &e);
        }
        if (m->bus)
                (void) sd_bus_flush(m->bus);
        m->reclaim_defer = sd_event_source_disable_unref(m->reclaim_defer);
}

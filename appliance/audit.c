/* The audit log; see audit.h. */

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-journal.h>

#include "access.h"
#include "api-guard.h"
#include "host-inventory.h"
#include "audit.h"
#include "bundles.h"
#include "basic/log.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "basic/time-util.h"
#include "instance.h"
#include "network.h"
#include "manager.h"
#include "metrics.h"
#include "shared/bus-json.h"
#include "shared/bus-util.h"
#include "shared/db.h"
#include "tenant.h"

#define AUDIT_GENESIS "0000000000000000000000000000000000000000000000000000000000000000"

/* ------------------------------------------------------------------------------------------ */
/* the chain */

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_MD_CTX, EVP_MD_CTX_free);

static int digest_field(EVP_MD_CTX *ctx, const char *s) {
        char len[32];
        size_t l = strlen(strempty(s));

        snprintf(len, sizeof(len), "%zu:", l);
        return EVP_DigestUpdate(ctx, len, strlen(len)) && EVP_DigestUpdate(ctx, strempty(s), l) ? 0 : -EIO;
}

int audit_hash(const AuditEntry *e, char ret[AUDIT_HASH_HEX]) {
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        unsigned char md[EVP_MAX_MD_SIZE];
        char num[64];
        unsigned n = 0;

        if (!ctx)
                return -ENOMEM;
        if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
                return -EIO;
        snprintf(num, sizeof(num), "%" PRIu64 " %" PRIu64 " %" PRIu32, e->seq, e->usec, e->uid);
        if (digest_field(ctx, e->prev_hash) < 0 || digest_field(ctx, num) < 0 ||
            digest_field(ctx, e->caller) < 0 || digest_field(ctx, e->action) < 0 ||
            digest_field(ctx, e->object) < 0 || digest_field(ctx, e->arguments) < 0 ||
            digest_field(ctx, e->result) < 0)
                return -EIO;
        if (EVP_DigestFinal_ex(ctx, md, &n) != 1 || n != 32)
                return -EIO;
        for (unsigned k = 0; k < n; k++)
                snprintf(ret + 2 * k, 3, "%02x", md[k]);
        return 0;
}

static int last_row(sqlite3 *db, uint64_t *ret_seq, char ret_hash[AUDIT_HASH_HEX]) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r, rc;

        r = db_prepare(db, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1", &st);
        if (r < 0)
                return r;
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) {
                *ret_seq = 0;
                snprintf(ret_hash, AUDIT_HASH_HEX, "%s", AUDIT_GENESIS);
                return 0;
        }
        if (rc != SQLITE_ROW)
                return db_errno(rc);
        *ret_seq = (uint64_t) sqlite3_column_int64(st, 0);
        snprintf(ret_hash, AUDIT_HASH_HEX, "%s", strempty((const char *) sqlite3_column_text(st, 1)));
        return 0;
}

/* Inserts e into the transaction open on db. */
static int audit_insert(sqlite3 *db, AuditEntry *e) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        uint64_t last = 0;
        int r, rc;

        r = last_row(db, &last, e->prev_hash);
        if (r < 0)
                return r;
        e->seq = last + 1;
        r = audit_hash(e, e->hash);
        if (r < 0)
                return r;
        r = db_prepare(
                db,
                "INSERT INTO audit_log (seq, usec, uid, caller, action, object, arguments, result, prev_hash, hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, (sqlite3_int64) e->seq);
        sqlite3_bind_int64(st, 2, (sqlite3_int64) e->usec);
        sqlite3_bind_int64(st, 3, e->uid);
        sqlite3_bind_text(st, 4, strempty(e->caller), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, strempty(e->action), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, strempty(e->object), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 7, strempty(e->arguments), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 8, strempty(e->result), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 9, e->prev_hash, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 10, e->hash, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc != SQLITE_DONE)
                return db_errno_of(db, rc);
        return 0;
}

/* Set while audit_append() commits a row of its own: the call being handled does not get its
 * row from that commit, which holds no change of its. */
static __thread bool appending;

int audit_append(sqlite3 *db, AuditEntry *e) {
        _cleanup_transaction_ DbTransaction tx = {};
        int r;

        r = db_transaction_begin(db, &tx);
        if (r < 0)
                return r;
        r = audit_insert(db, e);
        if (r < 0)
                return r;
        appending = true;
        r = db_transaction_commit(&tx);
        appending = false;
        return r;
}

int audit_foreach(sqlite3 *db, uint64_t after, uint64_t max, AuditFunc cb, void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r, rc;

        r = db_prepare(
                db,
                "SELECT seq, usec, uid, caller, action, object, arguments, result, prev_hash, hash FROM audit_log "
                "WHERE seq > ? ORDER BY seq LIMIT ?",
                &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, after > INT64_MAX ? INT64_MAX : (sqlite3_int64) after);
        sqlite3_bind_int64(st, 2, max == 0 || max > INT64_MAX ? -1 : (sqlite3_int64) max);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                AuditEntry e = {
                        .seq = (uint64_t) sqlite3_column_int64(st, 0),
                        .usec = (uint64_t) sqlite3_column_int64(st, 1),
                        .uid = (uint32_t) sqlite3_column_int64(st, 2),
                        .caller = (const char *) sqlite3_column_text(st, 3),
                        .action = (const char *) sqlite3_column_text(st, 4),
                        .object = (const char *) sqlite3_column_text(st, 5),
                        .arguments = (const char *) sqlite3_column_text(st, 6),
                        .result = (const char *) sqlite3_column_text(st, 7),
                };
                snprintf(e.prev_hash, sizeof(e.prev_hash), "%s",
                         strempty((const char *) sqlite3_column_text(st, 8)));
                snprintf(e.hash, sizeof(e.hash), "%s", strempty((const char *) sqlite3_column_text(st, 9)));
                r = cb(&e, userdata);
                if (r < 0)
                        return r;
        }
        return rc == SQLITE_DONE ? 0 : db_errno(rc);
}

typedef struct Verify {
        uint64_t rows, bad_seq;
        char prev[AUDIT_HASH_HEX];
        char *reason;
        size_t reason_size;
} Verify;

static int verify_one(const AuditEntry *e, void *userdata) {
        Verify *v = userdata;
        char h[AUDIT_HASH_HEX];
        int r;

        if (e->seq != v->rows + 1) {
                v->bad_seq = v->rows + 1;
                snprintf(v->reason, v->reason_size,
                         "row %" PRIu64 " is missing (the next row is %" PRIu64 ")", v->rows + 1, e->seq);
                return -EBADMSG;
        }
        if (!streq(e->prev_hash, v->prev)) {
                v->bad_seq = e->seq;
                snprintf(v->reason, v->reason_size,
                         "row %" PRIu64 " does not follow row %" PRIu64 " (its previous hash differs)",
                         e->seq, v->rows);
                return -EBADMSG;
        }
        r = audit_hash(e, h);
        if (r < 0)
                return r;
        if (!streq(h, e->hash)) {
                v->bad_seq = e->seq;
                snprintf(v->reason, v->reason_size,
                         "row %" PRIu64 " was changed after it was written (its hash "
                         "does not match its contents)",
                         e->seq);
                return -EBADMSG;
        }
        memcpy(v->prev, e->hash, sizeof(v->prev));
        v->rows++;
        return 0;
}

int audit_verify(sqlite3 *db, uint64_t *ret_rows, uint64_t *ret_bad_seq, char *reason, size_t reason_size) {
        Verify v = { .reason = reason, .reason_size = reason_size };
        int r;

        snprintf(v.prev, sizeof(v.prev), "%s", AUDIT_GENESIS);
        if (reason_size > 0)
                reason[0] = 0;
        r = audit_foreach(db, 0, 0, verify_one, &v);
        *ret_rows = v.rows;
        *ret_bad_seq = v.bad_seq;
        return r;
}

/* ------------------------------------------------------------------------------------------ */
/* recording calls */

static void audit_journal(const AuditEntry *e) {
        (void) sd_journal_send("MESSAGE=Audit %" PRIu64 ": %s %s by uid %" PRIu32 " (%s): %s", e->seq,
                               e->action, e->object, e->uid, e->caller, e->result, "SYSLOG_IDENTIFIER=arkd",
                               "MESSAGE_ID=" ARK_MESSAGE_AUDIT, "ARK_AUDIT_SEQ=%" PRIu64, e->seq,
                               "ARK_AUDIT_UID=%" PRIu32, e->uid, "ARK_AUDIT_CALLER=%s", e->caller,
                               "ARK_AUDIT_ACTION=%s", e->action, "ARK_AUDIT_OBJECT=%s", e->object,
                               "ARK_AUDIT_ARGUMENTS=%s", e->arguments, "ARK_AUDIT_RESULT=%s", e->result,
                               "ARK_AUDIT_HASH=%s", e->hash, NULL);
}

static void audit_write(Manager *m, AuditEntry *e) {
        int r = audit_append(m->db, e);

        if (r < 0) {
                log_error_errno(r, "Failed to append to the audit log (%s %s by uid %" PRIu32 "): %m (%s)",
                                e->action, e->object, e->uid, db_errmsg(m->db));
                return;
        }
        audit_journal(e);
}

/* The row of the call being handled, written by the first commit the handler makes (the
 * precommit function of arkd's store connection): the change and the row that records it are one
 * transaction, one fdatasync, and durable before the reply. Calls that commit nothing (reads,
 * refusals, failures before any change) get their row after the handler, in a transaction of
 * their own, as does the end of a call that turned out otherwise after its commit (an error, or
 * a result the handler set in Manager.call_pending). Only the thread that handles calls writes
 * it: a bundle import's worker commits without. */
typedef struct AuditPending {
        Manager *manager;
        pthread_t thread;
        bool armed;   /* a call is being handled and its row not written yet */
        bool written; /* its row went into a commit; `result` says what it recorded */
        uint32_t uid;
        const char *caller, *action, *object, *arguments;
        char *result;
        AuditEntry entry; /* as written (for the journal, after the commit) */
} AuditPending;

static AuditPending pending;

static int audit_precommit(sqlite3 *db, void *userdata) {
        int r;

        if (appending || !pending.armed || pending.manager != userdata ||
            !pthread_equal(pending.thread, pthread_self()))
                return 0;
        free(pending.result);
        pending.result = strdup(pending.manager->call_pending ?: "ok");
        if (!pending.result)
                return -ENOMEM;
        pending.entry = (AuditEntry) {
                .usec = now_usec(CLOCK_REALTIME),
                .uid = pending.uid,
                .caller = pending.caller,
                .action = pending.action,
                .object = pending.object,
                .arguments = pending.arguments,
                .result = pending.result,
        };
        r = audit_insert(db, &pending.entry);
        if (r < 0) {
                /* The change is not made either: a mutation is never left unrecorded. */
                log_error_errno(r, "Failed to append to the audit log (%s %s by uid %" PRIu32 "): %m (%s)",
                                pending.action, pending.object, pending.uid, db_errmsg(db));
                return r;
        }
        pending.armed = false;
        pending.written = true;
        return 0;
}

static void audit_arm(Manager *m, uint32_t uid, const char *caller, const char *action, const char *object,
                      const char *arguments) {
        int r;

        /* Set on every call (cheap): the connection may have been opened again. A failure leaves
         * the row to be written after the call. */
        r = db_set_precommit(m->db, audit_precommit, m);
        if (r < 0)
                return;
        pending = (AuditPending) {
                .manager = m,
                .thread = pthread_self(),
                .armed = true,
                .uid = uid,
                .caller = caller,
                .action = action,
                .object = object,
                .arguments = arguments,
        };
}

/* Whether the row written at a commit is in the store (that commit may have failed after it). */
static bool audit_row_present(sqlite3 *db, const AuditEntry *e) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;

        if (db_prepare(db, "SELECT 1 FROM audit_log WHERE seq = ? AND hash = ?", &st) < 0)
                return false;
        sqlite3_bind_int64(st, 1, (sqlite3_int64) e->seq);
        sqlite3_bind_text(st, 2, e->hash, -1, SQLITE_STATIC);
        return sqlite3_step(st) == SQLITE_ROW;
}

/* After the handler: the result the row written at its commit recorded (sent to the journal now
 * that it is committed), or NULL when no row was written. */
static char *audit_disarm(Manager *m) {
        char *recorded = NULL;

        if (!m || pending.manager != m)
                return NULL;
        if (pending.written && audit_row_present(m->db, &pending.entry)) {
                audit_journal(&pending.entry);
                recorded = TAKE_PTR(pending.result);
        }
        pending.result = mfree(pending.result);
        pending.armed = pending.written = false;
        pending.caller = pending.action = pending.object = pending.arguments = NULL;
        return recorded;
}

typedef struct Wrapped {
        const char *interface, *member, *names;
        sd_bus_message_handler_t handler;
        bool audited;
} Wrapped;

static Wrapped *wrapped;
static size_t n_wrapped;

static bool method_is_read_only(const char *member) {
        return startswith(member, "List") || startswith(member, "Get") || streq(member, "CheckHost") ||
                streq(member, "VerifyAuditLog");
}

/* The interfaces whose objects manager_of() knows: a vtable of another one is refused by
 * audit_wrap_vtable(), so that no interface's calls go unaudited and unguarded by oversight. */
static const char *const known_interfaces[] = {
        ARK_BUS_IFACE_MANAGER,     ARK_BUS_IFACE_TENANT, ARK_BUS_IFACE_INSTANCE,
        ARK_BUS_IFACE_ACCELERATOR, ARK_BUS_IFACE_BUNDLE, ARK_BUS_IFACE_NETWORK,
};

static Manager *manager_of(const char *interface, void *userdata) {
        if (streq(interface, ARK_BUS_IFACE_MANAGER))
                return userdata;
        if (streq(interface, ARK_BUS_IFACE_TENANT))
                return ((Tenant *) userdata)->manager;
        if (streq(interface, ARK_BUS_IFACE_INSTANCE))
                return ((Instance *) userdata)->manager;
        if (streq(interface, ARK_BUS_IFACE_ACCELERATOR))
                return ((Accelerator *) userdata)->manager;
        if (streq(interface, ARK_BUS_IFACE_BUNDLE))
                return ((Bundle *) userdata)->manager;
        if (streq(interface, ARK_BUS_IFACE_NETWORK))
                return ((Network *) userdata)->manager;
        return NULL;
}

/* "admin", "tenant:a,b" or "none". */
static char *caller_describe(Manager *m, const Caller *c) {
        _cleanup_free_ char *s = NULL;

        if (c->admin)
                return strdup("admin");
        LIST_FOREACH(tenants, t, m->tenants)
                if (caller_in_tenant(c, t)) {
                        char *n = strprintf("%s%s%s", s ? s : "tenant:", s ? "," : "", t->name);
                        if (!n)
                                return NULL;
                        free(s);
                        s = n;
                }
        return s ? TAKE_PTR(s) : strdup("none");
}

/* A refusal, as far as the limit on refused calls goes: the caller asked for what it may not have
 * or sent what cannot be used. */
static bool error_is_refusal(const sd_bus_error *error) {
        return sd_bus_error_has_name(error, ARK_ERROR_ACCESS_DENIED) ||
                sd_bus_error_has_name(error, ARK_ERROR_INVALID_ARGUMENT);
}

/* A container's environment carries secrets (tokens, passwords): the record keeps each variable's
 * name, not its value. */
static void redact_env(sd_bus_message *msg, json_t *args) {
        json_t *env = json_object_get(json_array_get(args, 0), "Env"), *e;
        size_t k;

        if (!streq_ptr(sd_bus_message_get_member(msg), "CreateInstance") || !json_is_array(env))
                return;
        json_array_foreach(env, k, e) {
                const char *s = json_string_value(e), *eq = s ? strchr(s, '=') : NULL;
                _cleanup_free_ char *name = eq ? strndup(s, (size_t) (eq - s)) : NULL;
                _cleanup_free_ char *kept = name ? strprintf("%s=(redacted)", name) : NULL;

                json_t *v = kept ? json_string(kept) : NULL;

                if (!v)
                        v = json_string("(redacted)");
                /* Should even that fail, the whole list goes: never the value. */
                if (!v || json_array_set_new(env, k, v) < 0) {
                        (void) json_array_clear(env);
                        return;
                }
        }
}

/* The call's arguments as compact JSON; NULL when they cannot be read (or on OOM). */
static char *arguments_json(sd_bus_message *msg) {
        _cleanup_(json_decrefp) json_t *j = NULL;
        char *s = NULL;

        (void) sd_bus_message_rewind(msg, true);
        if (bus_message_read_json_all(msg, &j) >= 0) {
                redact_env(msg, j);
                s = json_dumps(j, JSON_COMPACT);
        }
        (void) sd_bus_message_rewind(msg, true);
        return s;
}

static int audit_trampoline(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        const char *interface = sd_bus_message_get_interface(msg), *member = sd_bus_message_get_member(msg);
        _cleanup_free_ char *args = NULL, *who = NULL, *result = NULL, *action = NULL, *unredacted = NULL,
                            *recorded = NULL;
        _cleanup_(caller_done) Caller c = { .uid = (uid_t) -1 }; /* unknown until the bus says */
        const Wrapped *w = NULL;
        uint64_t t0 = now_usec(CLOCK_MONOTONIC);
        bool have_caller = false, record;
        Manager *m;
        int r;

        for (size_t k = 0; k < n_wrapped && !w; k++)
                if (streq(wrapped[k].interface, strempty(interface)) &&
                    streq(wrapped[k].member, strempty(member)))
                        w = &wrapped[k];
        if (!w)
                return sd_bus_error_setf(error, SD_BUS_ERROR_UNKNOWN_METHOD, "Unknown method %s.",
                                         strna(member));
        m = manager_of(interface, userdata);
        action = strprintf("%s.%s", strrchr(interface, '.') + 1, member);

        /* A caller over its limit of refused calls is answered at once: nothing runs, nothing is
         * recorded (the refusals are counted; api-guard.h). */
        if (m) {
                r = api_guard_admit(m, msg, error);
                if (r < 0) {
                        if (action)
                                metrics_note_call(m, action, error->name, now_usec(CLOCK_MONOTONIC) - t0);
                        return r;
                }
        }
        /* Before the call: Delete frees the object, and membership may change. */
        if (m && w->audited && caller_get(m, msg, &c, NULL) >= 0) {
                have_caller = true;
                who = caller_describe(m, &c);
        }

        /* The limits on every argument, before the handler or the audit log reads them at length. */
        r = api_guard_check_arguments(interface, member, w->names, msg, error);
        if (r >= 0) {
                if (m && w->audited && m->db) {
                        args = arguments_json(msg);
                        audit_arm(m, (uint32_t) c.uid, who ?: "unknown", action ?: member,
                                  strempty(sd_bus_message_get_path(msg)), args ?: "[]");
                }
                r = w->handler(msg, userdata, error);
                recorded = audit_disarm(m);
        }
        /* A sentence that quotes the caller's input is cut short, and made UTF-8: sd-bus would send
         * no reply at all for one that is not, and the caller wait for its timeout. */
        /* Nor may it name another tenant's tenant or instances to a member (access.h). */
        if (r < 0 && m && sd_bus_error_is_set(error)) {
                if (!have_caller)
                        have_caller = caller_get(m, msg, &c, NULL) >= 0;
                api_guard_prepare_error(m, msg, have_caller ? &c : NULL, error, &unredacted);
        } else
                api_guard_bound_error(error);

        if (m && action)
                metrics_note_call(
                        m, action,
                        r < 0 ? (sd_bus_error_is_set(error) ? error->name : "org.ark.Ark1.Error.Failed")
                              : NULL,
                        now_usec(CLOCK_MONOTONIC) - t0);
        record = w->audited;
        if (r < 0 && m && have_caller && !c.admin && error_is_refusal(error))
                record = api_guard_note_refusal(m, sd_bus_message_get_sender(msg), c.uid) && record;
        if (!record || !m || !m->db) {
                if (m)
                        m->call_pending = mfree(m->call_pending);
                return r;
        }
        /* The row went into the handler's commit and says how the call ended. */
        if (recorded && r >= 0 && streq(recorded, m->call_pending ?: "ok")) {
                m->call_pending = mfree(m->call_pending);
                return r;
        }

        if (!args)
                args = arguments_json(msg);
        if (r < 0 && args) {
                /* A refused call's arguments are whatever the caller chose to send: a digest. */
                char *d = api_guard_digest(args);

                free(args);
                args = d;
        }
        if (r < 0 && sd_bus_error_is_set(error))
                result = strprintf("%s: %s", error->name, unredacted ?: strempty(error->message));
        else if (r < 0)
                result = strprintf("failed: %s", strerror(-r));
        {
                AuditEntry e = {
                        .usec = now_usec(CLOCK_REALTIME), .uid = (uint32_t) c.uid, .caller = who ?: "unknown",
                        .action = action ?: member, .object = sd_bus_message_get_path(msg),
                        .arguments = args ?: "[]",
                        .result = r < 0 ? (result ?: "failed") : m->call_pending ?: "ok",
                };
                audit_write(m, &e);
        }
        m->call_pending = mfree(m->call_pending);
        return r;
}

int audit_caller(Manager *m, sd_bus_message *msg, uint32_t *ret_uid, char **ret_who) {
        _cleanup_(caller_done) Caller c = { .uid = (uid_t) -1 };
        char *who;

        if (caller_get(m, msg, &c, NULL) < 0) {
                *ret_uid = (uint32_t) -1;
                who = strdup("unknown");
        } else {
                *ret_uid = (uint32_t) c.uid;
                who = caller_describe(m, &c);
        }
        if (!who)
                return -ENOMEM;
        *ret_who = who;
        return 0;
}

void audit_record_answer(Manager *m, sd_bus_message *msg, uint32_t uid, const char *who,
                         const char *result) {
        const char *interface = sd_bus_message_get_interface(msg), *member = sd_bus_message_get_member(msg);
        _cleanup_free_ char *args = NULL, *action = NULL;

        if (!m->db)
                return;
        args = arguments_json(msg);
        action = strprintf("%s.%s", interface && strrchr(interface, '.') ? strrchr(interface, '.') + 1 : "",
                           strempty(member));
        {
                AuditEntry e = {
                        .usec = now_usec(CLOCK_REALTIME),
                        .uid = uid,
                        .caller = who ?: "unknown",
                        .action = action ?: strempty(member),
                        .object = strempty(sd_bus_message_get_path(msg)),
                        .arguments = args ?: "[]",
                        .result = result,
                };
                audit_write(m, &e);
        }
}

void audit_record_internal(Manager *m, const char *action, const char *object, const char *arguments,
                           const char *result) {
        AuditEntry e = {
                .usec = now_usec(CLOCK_REALTIME),
                .uid = 0,
                .caller = "arkd",
                .action = action,
                .object = object,
                .arguments = arguments,
                .result = result,
        };

        if (m->db)
                audit_write(m, &e);
}

int audit_wrap_vtable(const sd_bus_vtable *vtable, const char *interface, sd_bus_vtable **ret) {
        size_t n = 0;
        sd_bus_vtable *copy;
        bool known = false;

        for (size_t k = 0; k < ELEMENTSOF(known_interfaces); k++)
                known = known || streq(known_interfaces[k], interface);
        if (!known)
                return -EINVAL; /* manager_of() must learn it first */

        while (vtable[n].type != _SD_BUS_VTABLE_END)
                n++;
        copy = calloc(n + 1, sizeof(sd_bus_vtable));
        if (!copy)
                return -ENOMEM;
        memcpy(copy, vtable, sizeof(sd_bus_vtable) * (n + 1));
        for (size_t k = 0; k < n; k++) {
                Wrapped *w;

                if (copy[k].type != _SD_BUS_VTABLE_METHOD)
                        continue;
                w = realloc(wrapped, sizeof(Wrapped) * (n_wrapped + 1));
                if (!w) {
                        free(copy);
                        return -ENOMEM;
                }
                wrapped = w;
                wrapped[n_wrapped++] = (Wrapped) { interface, copy[k].x.method.member,
                                                   copy[k].x.method.names, copy[k].x.method.handler,
                                                   !method_is_read_only(copy[k].x.method.member) };
                copy[k].x.method.handler = audit_trampoline;
        }
        *ret = copy;
        return 0;
}

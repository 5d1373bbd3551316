#pragma once

/* The audit log: every mutating D-Bus call (who, what, arguments, result) appended to the store's
 * audit_log table, each row carrying the SHA-256 of the row before it and of itself, so editing
 * or deleting a row breaks the chain where it happened; and sent to the journal with structured
 * fields. Calls are caught in one place: the vtables arkd registers are copies whose methods go
 * through a trampoline (audit_wrap_vtable()), which also counts and times every call for the
 * metrics; only mutating ones are recorded. */

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

typedef struct Manager Manager;

#define AUDIT_HASH_HEX 65 /* 64 hex digits and NUL */

typedef struct AuditEntry {
        uint64_t seq;  /* 1, 2, ... without gaps */
        uint64_t usec; /* CLOCK_REALTIME */
        uint32_t uid;
        const char *caller;    /* "admin", "tenant:risk,retail", "none", or "arkd" (its own actions) */
        const char *action;    /* "Tenant.SetQuota" */
        const char *object;    /* the object path called */
        const char *arguments; /* the call's arguments as JSON */
        const char *result;    /* "ok", or the error name and message */
        char prev_hash[AUDIT_HASH_HEX];
        char hash[AUDIT_HASH_HEX];
} AuditEntry;

/* The row's hash: SHA-256 over prev_hash and every field, each length-prefixed (so no two rows
 * encode alike), as lowercase hex. */
int audit_hash(const AuditEntry *e, char ret[AUDIT_HASH_HEX]);

/* Appends e (seq, prev_hash and hash are filled in) in a transaction of its own. (The row of a
 * D-Bus call that changes something is written by the change's own commit instead: audit.c,
 * "AuditPending".) */
int audit_append(sqlite3 *db, AuditEntry *e);

typedef int (*AuditFunc)(const AuditEntry *e, void *userdata);
/* Rows with seq > after, at most max (0 = all), in order. */
int audit_foreach(sqlite3 *db, uint64_t after, uint64_t max, AuditFunc cb, void *userdata);

/* Walks the chain. Returns 0 when intact (*ret_rows rows), -EBADMSG at the first broken row
 * (*ret_bad_seq, and a sentence in reason), or another negative errno when the store fails. */
int audit_verify(sqlite3 *db, uint64_t *ret_rows, uint64_t *ret_bad_seq, char *reason, size_t reason_size);

/* For a call answered later than its handler returned (a CreateInstance that waits for a
 * reclaim, reclaim.h): who sent it, as rows name callers (taken when the call comes in: the
 * sender may be gone by the answer), and the row of its answer. While the handler runs,
 * Manager.call_pending (when set) is the result its own row records instead of "ok". */
int audit_caller(Manager *m, sd_bus_message *msg, uint32_t *ret_uid, char **ret_who);
void audit_record_answer(Manager *m, sd_bus_message *msg, uint32_t uid, const char *who, const char *result);
/* What arkd does on its own (stopping a preemptible instance): uid 0, caller "arkd". */
void audit_record_internal(Manager *m, const char *action, const char *object, const char *arguments,
                           const char *result);

/* A copy of `vtable` whose methods are counted and timed (metrics.h), held to the API guard's
 * limits (api-guard.h) and, the mutating ones (all but List*, Get*, CheckHost and
 * VerifyAuditLog), recorded. The copy lives as long as the process. -EINVAL for an interface
 * audit.c does not know how to find the manager from (audit.c, known_interfaces): every
 * interface arkd exports must be added there, or its calls would pass unrecorded. */
int audit_wrap_vtable(const sd_bus_vtable *vtable, const char *interface, sd_bus_vtable **ret);

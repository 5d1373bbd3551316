#pragma once

/* The API boundary: what every D-Bus call must satisfy before a handler sees it, and how refusals
 * are kept from flooding the audit log. Called from one place, the audit trampoline (audit.c),
 * for every method of every object arkd exports.
 *
 *   - Limits: every string argument has a longest length, every array a largest count (the table
 *     in api-guard.c, documented in docs/api.md "Limits"); a call over a limit is refused with
 *     InvalidArgument naming the argument (or spec key) before anything is read, audited in full or
 *     stored.
 *   - Text: no string argument may hold control characters or Unicode bidirectional formatting
 *     characters (U+202E and friends), which would let a name or description display as something
 *     else on the console and in logs; arguments that are multi-line by nature (a PEM key) may hold
 *     line breaks.
 *   - Refusals: each non-admin caller (by UID) has a token bucket of refused calls; once it is empty
 *     further calls of that caller are answered TooManyRequests without running, and their refusals
 *     are counted instead of recorded one row each (a summary row is written when the bucket
 *     refills). Admins are never limited.
 *   - Arguments of a refused call are audited as a bounded digest (api_guard_digest()), never whole,
 *     and error messages are cut to a bounded length, so no caller can make arkd echo or store an
 *     argument of its choosing at length. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

typedef struct Manager Manager;

/* The longest error message arkd sends, in bytes (cut on a character boundary, "…" appended). */
#define API_ERROR_MESSAGE_MAX 512
/* A refused call's arguments are audited whole up to this many bytes of JSON, else as a digest. */
#define API_AUDIT_ARGS_MAX 256
/* The token bucket of refused calls per caller: [Daemon] RefusedCallBurst= at once (default 20),
 * then one per refill period. */
#define API_REFUSALS_REFILL_USEC (1000 * 1000ULL)

/* Checks the arguments of `msg`, a call of `interface`.`member` whose argument names are `names`
 * (sd-bus' NUL-separated list from SD_BUS_ARGS, may be NULL). Returns 0 when they are within the
 * limits, or a negative errno with `error` set (InvalidArgument naming the argument). Leaves the
 * message rewound. Logs nothing. */
int api_guard_check_arguments(const char *interface, const char *member, const char *names,
                              sd_bus_message *msg, sd_bus_error *error);

/* Every string in the arguments of msg (at any depth), newly allocated in *ret; the message is left
 * rewound. Returns 0 or a negative errno. */
int api_guard_strings(sd_bus_message *msg, char ***ret);

/* The audit form of a refused call's arguments (JSON text `args`): `args` itself when it is at most
 * API_AUDIT_ARGS_MAX bytes, else a JSON object {"truncated": PREFIX, "bytes": N, "sha256": HEX}.
 * Newly allocated; NULL on OOM. */
char *api_guard_digest(const char *args);

/* Cuts the message of `error` to API_ERROR_MESSAGE_MAX bytes and replaces what is not UTF-8
 * (sd-bus sends no reply for a message that is not). */
void api_guard_bound_error(sd_bus_error *error);

/* Makes `error` fit to send to the caller of msg: bounded (api_guard_bound_error()) and, unless the
 * caller `c` is an admin, without the names of tenants and instances it may not see
 * (access_redact(); the names it sent itself stay). A caller that cannot be told (c NULL) sees
 * none. *ret_original (when not NULL) gets the sentence before redaction, NULL when unchanged. */
typedef struct Caller Caller;
void api_guard_prepare_error(Manager *m, sd_bus_message *msg, const Caller *c, sd_bus_error *error,
                             char **ret_original);
/* Answers msg, a call answered later than its handler returned, with `error` prepared as above for
 * its caller. Returns what sd_bus_reply_method_error() does. */
int api_guard_reply_error(Manager *m, sd_bus_message *msg, const sd_bus_error *error);

/* A filter for the bus (sd_bus_add_filter()): calls of interfaces that are not arkd's own
 * (org.freedesktop.DBus.Properties, Introspectable, ObjectManager, Peer), which sd-bus answers
 * itself and which quote their arguments back, are held to the same limits; one over them is
 * answered InvalidArgument here. */
int api_guard_filter(sd_bus_message *msg, void *userdata, sd_bus_error *error);

/* Whether the caller of msg has used up its refused calls (by UID: a new connection of a caller over
 * its limit is refused too). Returns 0 when it may go on, or a negative errno with `error` set
 * (TooManyRequests, with the seconds to wait). */
int api_guard_admit(Manager *m, sd_bus_message *msg, sd_bus_error *error);

/* Notes a refused call by `uid` from `sender`. Returns true when it should be recorded in the
 * audit log, false when the caller is over its limit (it is then only counted). Writes the summary
 * row of the suppressed refusals when a caller's bucket has refilled. */
bool api_guard_note_refusal(Manager *m, const char *sender, uid_t uid);

/* Frees what the guard keeps in m. */
void api_guard_done(Manager *m);

/* Callers and what they may do; see access.h. */

#include <errno.h>
#include <ctype.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "access.h"
#include "basic/log.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "basic/time-util.h"
#include "network.h"
#include "manager.h"
#include "shared/bus-util.h"
#include "instance.h"
#include "tenant.h"

void caller_done(Caller *c) {
        free(c->gids);
        *c = (Caller) {};
}

static bool has_gid(const Caller *c, gid_t g) {
        for (size_t k = 0; k < c->n_gids; k++)
                if (c->gids[k] == g)
                        return true;
        return false;
}

static int caller_copy(const Caller *c, Caller *ret) {
        gid_t *gids = calloc(c->n_gids + 1, sizeof(gid_t));

        if (!gids)
                return -ENOMEM;
        memcpy(gids, c->gids, c->n_gids * sizeof(gid_t));
        *ret = *c;
        ret->gids = gids;
        return 0;
}

/* What the bus said about the callers of the last CALLER_CACHE_MAX bus names (unique names:
 * ":1.42"), each for CALLER_CACHE_USEC. A unique name is never given to another connection while
 * the bus runs, and a connection's uid is the one it connected with, so an entry can only be
 * older than the caller's group list, by a second at most. Asking the bus costs a round trip to
 * it and libsystemd's reads of /proc/PID/status and /proc/PID/stat, hundreds of syscalls (the
 * bulk of a fast call); a client making many calls asks once a second. */
#define CALLER_CACHE_MAX 32
#define CALLER_CACHE_USEC (1 * USEC_PER_SEC)

typedef struct CallerCacheEntry {
        char *sender;
        Caller caller;
        uint64_t at_usec; /* CLOCK_MONOTONIC */
} CallerCacheEntry;

typedef struct CallerCache {
        CallerCacheEntry entry[CALLER_CACHE_MAX];
        size_t next; /* the slot replaced next (round robin: the oldest) */
} CallerCache;

static void caller_cache_free(CallerCache *cc) {
        if (!cc)
                return;
        for (size_t k = 0; k < CALLER_CACHE_MAX; k++) {
                free(cc->entry[k].sender);
                caller_done(&cc->entry[k].caller);
        }
        free(cc);
}

static const Caller *caller_cache_find(Manager *m, const char *sender) {
        uint64_t now = now_usec(CLOCK_MONOTONIC);

        if (!m->caller_cache || !sender)
                return NULL;
        for (size_t k = 0; k < CALLER_CACHE_MAX; k++) {
                CallerCacheEntry *e = &m->caller_cache->entry[k];

                if (e->sender && streq(e->sender, sender) && now - e->at_usec < CALLER_CACHE_USEC)
                        return &e->caller;
        }
        return NULL;
}

static void caller_cache_add(Manager *m, const char *sender, const Caller *c) {
        CallerCacheEntry *e = NULL;
        char *copy;
        Caller cc;

        if (!sender || sender[0] != ':') /* unique names only */
                return;
        if (!m->caller_cache) {
                m->caller_cache = calloc(1, sizeof(CallerCache));
                if (!m->caller_cache)
                        return;
        }
        for (size_t k = 0; k < CALLER_CACHE_MAX && !e; k++)
                if (m->caller_cache->entry[k].sender && streq(m->caller_cache->entry[k].sender, sender))
                        e = &m->caller_cache->entry[k];
        if (!e) {
                e = &m->caller_cache->entry[m->caller_cache->next];
                m->caller_cache->next = (m->caller_cache->next + 1) % CALLER_CACHE_MAX;
        }
        copy = strdup(sender);
        if (!copy || caller_copy(c, &cc) < 0) {
                free(copy);
                return;
        }
        free(e->sender);
        caller_done(&e->caller);
        *e = (CallerCacheEntry) { .sender = copy, .caller = cc, .at_usec = now_usec(CLOCK_MONOTONIC) };
}

void caller_release(Manager *m, sd_bus_message *msg) {
        if (!m->caller_msg || m->caller_msg != msg)
                return;
        if (m->caller_of_msg) {
                caller_done(m->caller_of_msg);
                m->caller_of_msg = mfree(m->caller_of_msg);
        }
        m->caller_msg = sd_bus_message_unref(m->caller_msg);
}

void caller_forget(Manager *m) {
        if (m->caller_of_msg) {
                caller_done(m->caller_of_msg);
                m->caller_of_msg = mfree(m->caller_of_msg);
        }
        m->caller_msg = sd_bus_message_unref(m->caller_msg);
        caller_cache_free(m->caller_cache);
        m->caller_cache = NULL;
}

/* One D-Bus call asks who its caller is several times (the audit trampoline, the handler,
 * property callbacks for each object listed), and each answer takes a call to the bus and reads
 * of /proc/PID/status (SD_BUS_CREDS_AUGMENT), hundreds of syscalls: the last answer is kept. The
 * reference on the message keeps its address from being reused by another while it is kept. */
static void caller_remember(Manager *m, sd_bus_message *msg, const Caller *c) {
        Caller *copy = calloc(1, sizeof(Caller));

        if (m->caller_of_msg) {
                caller_done(m->caller_of_msg);
                m->caller_of_msg = mfree(m->caller_of_msg);
        }
        m->caller_msg = sd_bus_message_unref(m->caller_msg);
        if (!copy || caller_copy(c, copy) < 0) {
                free(copy);
                return;
        }
        m->caller_of_msg = copy;
        m->caller_msg = sd_bus_message_ref(msg);
}

int caller_get(Manager *m, sd_bus_message *msg, Caller *ret, sd_bus_error *error) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        const gid_t *supplementary = NULL;
        Caller c = {};
        gid_t egid;
        int r, n;

        if (!msg) {
                *ret = (Caller) { .uid = 0, .admin = true };
                return 0;
        }
        if (m && m->caller_msg == msg)
                return caller_copy(m->caller_of_msg, ret);
        if (m) {
                const Caller *cached = caller_cache_find(m, sd_bus_message_get_sender(msg));

                if (cached) {
                        r = caller_copy(cached, ret);
                        if (r >= 0)
                                caller_remember(m, msg, cached);
                        return r;
                }
        }
        r = sd_bus_query_sender_creds(msg,
                                      SD_BUS_CREDS_EUID | SD_BUS_CREDS_EGID |
                                              SD_BUS_CREDS_SUPPLEMENTARY_GIDS | SD_BUS_CREDS_AUGMENT,
                                      &creds);
        if (r >= 0)
                r = sd_bus_creds_get_euid(creds, &c.uid);
        if (r < 0)
                return sd_bus_error_setf(error, ARK_ERROR_ACCESS_DENIED,
                                         "arkd cannot tell who is calling (%s), so it refuses.",
                                         strerror(-r));
        n = sd_bus_creds_get_supplementary_gids(creds, &supplementary);
        c.gids = calloc((size_t) MAX(n, 0) + 1, sizeof(gid_t));
        if (!c.gids)
                return -ENOMEM;
        if (sd_bus_creds_get_egid(creds, &egid) >= 0)
                c.gids[c.n_gids++] = egid;
        for (int k = 0; k < n; k++)
                c.gids[c.n_gids++] = supplementary[k];

        c.admin = c.uid == 0;
        if (!c.admin) {
                struct group *gr = getgrnam(ARK_ADMIN_GROUP);
                c.admin = gr && has_gid(&c, gr->gr_gid);
        }
        if (m) {
                caller_remember(m, msg, &c);
                caller_cache_add(m, sd_bus_message_get_sender(msg), &c);
        }
        *ret = c;
        return 0;
}

int caller_current(Manager *m, sd_bus *bus, Caller *ret) {
        sd_bus_message *msg = bus ? sd_bus_get_current_message(bus) : NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        int r;

        r = caller_get(m, msg, ret, &e);
        sd_bus_error_free(&e);
        return r;
}

bool caller_in_tenant(const Caller *c, const Tenant *t) {
        if (c->admin)
                return true;
        if (!t)
                return false;
        for (size_t k = 0; k < t->n_members; k++) {
                const TenantMember *mb = &t->members[k];

                if (streq(mb->kind, "user") ? mb->id == c->uid : has_gid(c, (gid_t) mb->id))
                        return true;
        }
        return false;
}

bool caller_in_tenant_named(Manager *m, const Caller *c, const char *tenant) {
        return c->admin || (tenant && caller_in_tenant(c, manager_find_tenant(m, tenant)));
}

bool caller_in_any_tenant(Manager *m, const Caller *c) {
        if (c->admin)
                return true;
        LIST_FOREACH(tenants, t, m->tenants)
                if (caller_in_tenant(c, t))
                        return true;
        return false;
}

static int denied(sd_bus_error *error, const Caller *c, const char *what) {
        return sd_bus_error_setf(error, ARK_ERROR_ACCESS_DENIED,
                                 "User %u may not %s: that takes root or the group '%s'.", (unsigned) c->uid,
                                 what, ARK_ADMIN_GROUP);
}

int access_require_admin(Manager *m, sd_bus_message *msg, const char *what, sd_bus_error *error) {
        _cleanup_(caller_done) Caller c = {};
        int r;

        r = caller_get(m, msg, &c, error);
        if (r < 0)
                return r;
        return c.admin ? 0 : denied(error, &c, what);
}

int access_require_tenant(Manager *m, sd_bus_message *msg, const char *tenant, const char *what,
                          sd_bus_error *error) {
        _cleanup_(caller_done) Caller c = {};
        int r;

        r = caller_get(m, msg, &c, error);
        if (r < 0)
                return r;
        if (caller_in_tenant_named(m, &c, tenant))
                return 0;
        return sd_bus_error_setf(error, ARK_ERROR_ACCESS_DENIED,
                                 "User %u may not %s: it is not a member of the tenant that owns it.",
                                 (unsigned) c.uid, what);
}

int access_require_member(Manager *m, sd_bus_message *msg, Caller *ret, const char *what,
                          sd_bus_error *error) {
        Caller c = {};
        int r;

        r = caller_get(m, msg, &c, error);
        if (r < 0)
                return r;
        if (!caller_in_any_tenant(m, &c)) {
                r = sd_bus_error_setf(
                        error, ARK_ERROR_ACCESS_DENIED,
                        "User %u may not %s: it is a member of no tenant (an admin adds it with "
                        "'arkctl tenant member add').",
                        (unsigned) c.uid, what);
                caller_done(&c);
                return r;
        }
        *ret = c;
        return 0;
}

static bool name_is_foreign(Manager *m, const Caller *c, char *const *given, const char *name, size_t len) {
        bool foreign = false;

        for (char *const *g = given; g && *g; g++)
                if (strlen(*g) == len && strneq(*g, name, len))
                        return false;

        LIST_FOREACH(tenants, t, m->tenants)
                if (strlen(t->name) == len && strneq(t->name, name, len)) {
                        if (caller_in_tenant(c, t))
                                return false;
                        foreign = true;
                }
        LIST_FOREACH(instances, i, m->instances)
                if (strlen(i->name) == len && strneq(i->name, name, len)) {
                        if (caller_in_tenant_named(m, c, i->tenant))
                                return false;
                        foreign = true;
                }
        LIST_FOREACH(networks, n, m->networks)
                if (strlen(n->name) == len && strneq(n->name, name, len)) {
                        if (caller_in_tenant_named(m, c, n->tenant))
                                return false;
                        foreign = true;
                }
        return foreign;
}

/* Whether the len bytes before `end` in text are `word` (case-insensitively). */
static bool ends_with_word(const char *text, const char *end, const char *word) {
        size_t n = strlen(word);

        return (size_t) (end - text) >= n && strncasecmp(end - n, word, n) == 0 &&
                (end - n == text || end[-(ssize_t) n - 1] == ' ' || end[-(ssize_t) n - 1] == '(');
}

char *access_redact(Manager *m, const Caller *c, char *const *given, const char *text) {
        StrBuf b = {};
        const char *p = text, *copied = text;
        bool changed = false;

        if (c->admin || !text)
                return NULL;
        while ((p = strchr(p, '\''))) {
                const char *close = strchr(p + 1, '\'');
                const char *from = p, *with = "'(hidden)'";

                if (!close)
                        break;
                if (!name_is_foreign(m, c, given, p + 1, (size_t) (close - p - 1))) {
                        p = close + 1;
                        continue;
                }
                if (ends_with_word(text, p, "instance ")) {
                        from = p - strlen("instance ");
                        with = isupper((unsigned char) from[0]) ? "An instance of another tenant"
                                                                : "an instance of another tenant";
                } else if (ends_with_word(text, p, "network ")) {
                        from = p - strlen("network ");
                        with = isupper((unsigned char) from[0]) ? "A network of another tenant"
                                                                : "a network of another tenant";
                } else if (ends_with_word(text, p, "tenant ")) {
                        from = p - strlen("tenant ");
                        with = isupper((unsigned char) from[0]) ? "Another tenant" : "another tenant";
                }
                strbuf_printf(&b, "%.*s%s", (int) (from - copied), copied, with);
                copied = p = close + 1;
                changed = true;
        }
        if (!changed)
                return NULL;
        strbuf_append(&b, copied);
        return strbuf_steal(&b);
}

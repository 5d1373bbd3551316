/* The API boundary; see api-guard.h. */

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "api-guard.h"
#include "audit.h"
#include "basic/macro.h"
#include "basic/parse-util.h"
#include "basic/string-util.h"
#include "basic/time-util.h"
#include "manager.h"
#include "shared/bus-util.h"

/* ------------------------------------------------------------------------------------------ */
/* limits (docs/api.md, "Limits") */

#define STRING_MAX_DEFAULT 1024
/* Arguments of the interfaces sd-bus answers itself are interface and property names (at most 255
 * bytes by the D-Bus specification) and object paths; sd-bus quotes them back whole. */
#define STRING_MAX_FOREIGN 255
#define ARRAY_MAX_DEFAULT 64
#define DEPTH_MAX 8

typedef struct ArgumentLimit {
        const char *member; /* NULL: any method */
        const char *field;  /* argument name, or "spec.Key" inside CreateInstance's spec */
        size_t max;         /* bytes for a string, elements for an array */
        bool multiline;     /* may hold line breaks */
} ArgumentLimit;

static const ArgumentLimit limits[] = {
        { "TrustKey", "public_key_pem", 16384, true },    { "CreateInstance", "spec", 32, false },
        { "CreateInstance", "spec.Image", 4096, false },  { "CreateInstance", "spec.Kernel", 4096, false },
        { "CreateInstance", "spec.Initrd", 4096, false }, { "CreateInstance", "spec.Cmdline", 4096, false },
        { "CheckHost", "accelerators", 256, false },      { "ListImages", "tenant", ARK_NAME_MAX, false },
};

static const ArgumentLimit *limit_for(const char *member, const char *field) {
        for (size_t k = 0; k < ELEMENTSOF(limits); k++)
                if ((!limits[k].member || streq(limits[k].member, member)) && streq(limits[k].field, field))
                        return &limits[k];
        return NULL;
}

typedef struct Walk {
        const char *member;
        size_t string_max; /* for arguments the table does not name */
        sd_bus_error *error;
} Walk;

static size_t string_max(const Walk *w, const char *field) {
        const ArgumentLimit *l = limit_for(w->member, field);
        return l ? l->max : w->string_max;
}

static size_t array_max(const char *member, const char *field) {
        const ArgumentLimit *l = limit_for(member, field);
        return l ? l->max : ARRAY_MAX_DEFAULT;
}

/* Decodes one UTF-8 character at s (D-Bus strings are valid UTF-8); returns its length. */
static size_t utf8_decode(const char *s, uint32_t *ret) {
        const unsigned char *u = (const unsigned char *) s;

        if (u[0] < 0x80) {
                *ret = u[0];
                return 1;
        }
        if ((u[0] & 0xe0) == 0xc0 && u[1]) {
                *ret = ((uint32_t) (u[0] & 0x1f) << 6) | (u[1] & 0x3f);
                return 2;
        }
        if ((u[0] & 0xf0) == 0xe0 && u[1] && u[2]) {
                *ret = ((uint32_t) (u[0] & 0x0f) << 12) | ((uint32_t) (u[1] & 0x3f) << 6) | (u[2] & 0x3f);
                return 3;
        }
        if ((u[0] & 0xf8) == 0xf0 && u[1] && u[2] && u[3]) {
                *ret = ((uint32_t) (u[0] & 0x07) << 18) | ((uint32_t) (u[1] & 0x3f) << 12) |
                        ((uint32_t) (u[2] & 0x3f) << 6) | (u[3] & 0x3f);
                return 4;
        }
        *ret = 0xfffd;
        return 1;
}

/* NULL when s is acceptable text, else what is wrong with it (a static string) and the character. */
static const char *text_problem(const char *s, bool multiline, uint32_t *ret_char) {
        for (const char *p = s; *p;) {
                uint32_t c;

                p += utf8_decode(p, &c);
                if (multiline && (c == '\n' || c == '\r'))
                        continue;
                *ret_char = c;
                if (c < 0x20 || (c >= 0x7f && c < 0xa0))
                        return "a control character";
                if (unichar_is_bidi_control(c))
                        return "a bidirectional formatting character (text that displays as something else)";
        }
        return NULL;
}

/* "argument 'x'" or "spec key 'Image'", for sentences. */
static void describe_field(const char *field, char *buf, size_t size) {
        const char *key = startswith(field, "spec.");

        if (key)
                snprintf(buf, size, "spec key '%.64s'", key);
        else
                snprintf(buf, size, "argument '%.64s'", field);
}

static int check_value(sd_bus_message *msg, Walk *w, const char *field, unsigned depth);

static int check_string(Walk *w, const char *field, char type, const char *s) {
        size_t len = strlen(s), max = string_max(w, field);
        const ArgumentLimit *l = limit_for(w->member, field);
        const char *problem;
        char what[96];
        uint32_t c = 0;

        describe_field(field, what, sizeof(what));
        if (len > max)
                return sd_bus_error_setf(w->error, ARK_ERROR_INVALID_ARGUMENT,
                                         "The %s of %s is %zu bytes long; at most %zu are accepted.", what,
                                         w->member, len, max);
        if (type != 's')
                return 0;
        problem = text_problem(s, l && l->multiline, &c);
        if (problem)
                return sd_bus_error_setf(w->error, ARK_ERROR_INVALID_ARGUMENT,
                                         "The %s of %s contains %s (U+%04" PRIX32
                                         "), which is not accepted.",
                                         what, w->member, problem, c);
        return 0;
}

static int check_array(sd_bus_message *msg, Walk *w, const char *field, const char *contents,
                       unsigned depth) {
        size_t n = 0, max = array_max(w->member, field);
        bool dict = contents[0] == '{';
        int r;

        r = sd_bus_message_enter_container(msg, 'a', contents);
        if (r < 0)
                return r;
        while ((r = sd_bus_message_at_end(msg, false)) == 0) {
                char what[96];

                if (++n > max) {
                        describe_field(field, what, sizeof(what));
                        return sd_bus_error_setf(w->error, ARK_ERROR_INVALID_ARGUMENT,
                                                 "The %s of %s has more than %zu elements.", what, w->member,
                                                 max);
                }
                if (dict && streq(contents, "{sv}")) {
                        /* A spec: the key names the value's field ("spec.Image"). */
                        _cleanup_free_ char *sub = NULL;
                        const char *key;

                        r = sd_bus_message_enter_container(msg, 'e', "sv");
                        if (r < 0)
                                return r;
                        r = sd_bus_message_read_basic(msg, 's', &key);
                        if (r < 0)
                                return r;
                        r = check_string(w, "key", 's', key);
                        if (r < 0)
                                return r;
                        sub = strprintf("%s.%s", field, key);
                        if (!sub)
                                return -ENOMEM;
                        r = check_value(msg, w, sub, depth + 1);
                        if (r < 0)
                                return r;
                        r = sd_bus_message_exit_container(msg);
                } else
                        r = check_value(msg, w, field, depth + 1);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(msg);
}

static int check_value(sd_bus_message *msg, Walk *w, const char *field, unsigned depth) {
        const char *contents = NULL;
        char type;
        int r;

        if (depth > DEPTH_MAX)
                return sd_bus_error_setf(w->error, ARK_ERROR_INVALID_ARGUMENT,
                                         "The arguments of %s are nested too deeply.", w->member);
        r = sd_bus_message_peek_type(msg, &type, &contents);
        if (r <= 0)
                return r;
        switch (type) {
        case 's':
        case 'o':
        case 'g': {
                const char *s;

                r = sd_bus_message_read_basic(msg, type, &s);
                return r < 0 ? r : check_string(w, field, type, s);
        }
        case 'a':
                return check_array(msg, w, field, contents, depth);
        case 'v':
        case 'r':
        case 'e':
                r = sd_bus_message_enter_container(msg, type, contents);
                if (r < 0)
                        return r;
                while ((r = sd_bus_message_at_end(msg, false)) == 0) {
                        r = check_value(msg, w, field, depth + 1);
                        if (r < 0)
                                return r;
                }
                if (r < 0)
                        return r;
                return sd_bus_message_exit_container(msg);
        default: {
                uint64_t buf; /* every other basic type fits */

                return sd_bus_message_read_basic(msg, type, &buf);
        }
        }
}

int api_guard_check_arguments(const char *interface, const char *member, const char *names,
                              sd_bus_message *msg, sd_bus_error *error) {
        Walk w = {
                .member = strempty(member),
                .string_max = interface && startswith(interface, "org.ark.") ? STRING_MAX_DEFAULT
                                                                             : STRING_MAX_FOREIGN,
                .error = error,
        };
        const char *name = names && *names ? names : NULL;
        unsigned k = 0;
        int r;

        r = sd_bus_message_rewind(msg, true);
        while (r >= 0 && (r = sd_bus_message_at_end(msg, true)) == 0) {
                char fallback[32];

                if (!name) {
                        snprintf(fallback, sizeof(fallback), "#%u", k + 1);
                        r = check_value(msg, &w, fallback, 0);
                } else {
                        r = check_value(msg, &w, name, 0);
                        name += strlen(name) + 1;
                        if (!*name)
                                name = NULL;
                }
                k++;
        }
        (void) sd_bus_message_rewind(msg, true);
        if (r < 0 && !sd_bus_error_is_set(error))
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "The arguments of %s cannot be read: %s.", w.member, strerror(-r));
        return r < 0 ? r : 0;
}

static int collect_strings(sd_bus_message *msg, char ***l, unsigned depth) {
        const char *contents = NULL;
        char type;
        int r;

        while ((r = sd_bus_message_peek_type(msg, &type, &contents)) > 0) {
                if (strchr("sog", type)) {
                        const char *s;

                        r = sd_bus_message_read_basic(msg, type, &s);
                        if (r >= 0 && !strv_contains(*l, s))
                                r = strv_extend(l, s);
                } else if (strchr("avre", type)) {
                        if (depth > DEPTH_MAX)
                                return -EINVAL;
                        r = sd_bus_message_enter_container(msg, type, contents);
                        if (r >= 0)
                                r = collect_strings(msg, l, depth + 1);
                        if (r >= 0)
                                r = sd_bus_message_exit_container(msg);
                } else {
                        uint64_t buf;

                        r = sd_bus_message_read_basic(msg, type, &buf);
                }
                if (r < 0)
                        return r;
        }
        return r;
}

int api_guard_strings(sd_bus_message *msg, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        int r;

        r = sd_bus_message_rewind(msg, true);
        if (r >= 0)
                r = collect_strings(msg, &l, 0);
        (void) sd_bus_message_rewind(msg, true);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* what is audited and echoed */

char *api_guard_digest(const char *args) {
        _cleanup_free_ char *prefix = NULL;
        unsigned char md[EVP_MAX_MD_SIZE];
        char hex[2 * 32 + 1];
        unsigned n = 0;
        size_t len = strlen(args), cut = API_AUDIT_ARGS_MAX;
        json_t *j;
        char *s;

        if (len <= API_AUDIT_ARGS_MAX)
                return strdup(args);
        while (cut > 0 && ((unsigned char) args[cut] & 0xc0) == 0x80)
                cut--; /* on a character boundary */
        prefix = strndup(args, cut);
        if (!prefix || EVP_Digest(args, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32)
                return NULL;
        for (unsigned k = 0; k < n; k++)
                snprintf(hex + 2 * k, 3, "%02x", md[k]);
        j = json_pack("{s:s, s:I, s:s}", "truncated", prefix, "bytes", (json_int_t) len, "sha256", hex);
        if (!j)
                return NULL;
        s = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        return s;
}

void api_guard_bound_error(sd_bus_error *error) {
        _cleanup_free_ char *name = NULL, *text = NULL;
        size_t len;

        if (!sd_bus_error_is_set(error) || !error->message)
                return;
        len = strlen(error->message);
        if (len <= API_ERROR_MESSAGE_MAX && utf8_is_valid(error->message))
                return;
        name = strdup(error->name);
        text = strdup(error->message);
        if (!name || !text)
                return;
        utf8_sanitize(text);
        if (len > API_ERROR_MESSAGE_MAX) {
                size_t cut = API_ERROR_MESSAGE_MAX - 4;

                while (cut > 0 && ((unsigned char) text[cut] & 0xc0) == 0x80)
                        cut--;
                strcpy(text + cut, "…");
        }
        sd_bus_error_free(error);
        (void) sd_bus_error_set(error, name, text);
}

void api_guard_prepare_error(Manager *m, sd_bus_message *msg, const Caller *c, sd_bus_error *error,
                             char **ret_original) {
        _cleanup_strv_free_ char **given = NULL;
        _cleanup_free_ char *redacted = NULL, *name = NULL;
        Caller nobody = { .uid = (uid_t) -1 };

        if (ret_original)
                *ret_original = NULL;
        api_guard_bound_error(error);
        if (!sd_bus_error_is_set(error) || !error->message || (c && c->admin))
                return;
        if (api_guard_strings(msg, &given) < 0)
                given = NULL; /* then nothing is excepted */
        redacted = access_redact(m, c ?: &nobody, given, error->message);
        name = redacted ? strdup(error->name) : NULL;
        if (!name)
                return;
        if (ret_original)
                *ret_original = strdup(error->message);
        sd_bus_error_free(error);
        (void) sd_bus_error_set(error, name, redacted);
}

int api_guard_reply_error(Manager *m, sd_bus_message *msg, const sd_bus_error *error) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(caller_done) Caller c = {};
        bool known;

        /* sd_bus_error_copy() returns the errno the error maps to: whether it copied is whether
         * the copy has a name. */
        (void) sd_bus_error_copy(&e, error);
        if (!sd_bus_error_is_set(&e))
                return sd_bus_reply_method_errorf(msg, error->name, "The call failed.");
        if (!m) {
                api_guard_bound_error(&e);
                return sd_bus_reply_method_error(msg, &e);
        }
        known = caller_get(m, msg, &c, NULL) >= 0;
        api_guard_prepare_error(m, msg, known ? &c : NULL, &e, NULL);
        return sd_bus_reply_method_error(msg, &e);
}

int api_guard_filter(sd_bus_message *msg, void *userdata, sd_bus_error *ret_error) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        const char *interface = sd_bus_message_get_interface(msg);
        uint8_t type = 0;

        if (sd_bus_message_get_type(msg, &type) < 0 || type != SD_BUS_MESSAGE_METHOD_CALL)
                return 0;
        /* arkd's own methods are checked in audit.c's trampoline, with their arguments' names. */
        if (interface && startswith(interface, "org.ark."))
                return 0;
        if (api_guard_check_arguments(interface, strempty(sd_bus_message_get_member(msg)), NULL, msg, &e) >=
            0)
                return 0;
        (void) sd_bus_reply_method_error(msg, &e);
        return 1; /* answered: sd-bus goes no further */
}

/* ------------------------------------------------------------------------------------------ */
/* refused calls per caller */

#define BUCKETS_MAX 64
#define SENDERS_MAX 256

typedef struct Bucket {
        uid_t uid;
        uint64_t tokens;        /* whole refusals left */
        uint64_t refilled_usec; /* CLOCK_MONOTONIC of the last refill */
        uint64_t suppressed;    /* refusals not recorded since the bucket ran dry */
        uint64_t dry_since;     /* CLOCK_REALTIME */
} Bucket;

typedef struct SenderUid {
        char *sender;
        uid_t uid;
} SenderUid;

struct ApiGuard {
        uint64_t burst;
        Bucket buckets[BUCKETS_MAX];
        size_t n_buckets, next_bucket;
        SenderUid senders[SENDERS_MAX];
        size_t n_senders, next_sender;
};

static struct ApiGuard *guard_get(Manager *m) {
        if (!m->guard) {
                m->guard = calloc(1, sizeof(struct ApiGuard));
                if (m->guard)
                        m->guard->burst = m->config.refused_call_burst;
        }
        return m->guard;
}

static void refill(struct ApiGuard *g, Bucket *b, uint64_t now) {
        uint64_t add = (now - b->refilled_usec) / API_REFUSALS_REFILL_USEC;

        if (add == 0)
                return;
        b->tokens = MIN(b->tokens + add, g->burst);
        b->refilled_usec += add * API_REFUSALS_REFILL_USEC;
}

static Bucket *bucket_of(struct ApiGuard *g, uid_t uid, bool create) {
        Bucket *b;

        for (size_t k = 0; k < g->n_buckets; k++)
                if (g->buckets[k].uid == uid)
                        return &g->buckets[k];
        if (!create)
                return NULL;
        /* Full: the oldest slot is reused (a caller forgotten starts with a full bucket). */
        if (g->n_buckets < BUCKETS_MAX)
                b = &g->buckets[g->n_buckets++];
        else {
                b = &g->buckets[g->next_bucket];
                g->next_bucket = (g->next_bucket + 1) % BUCKETS_MAX;
        }
        *b = (Bucket) { .uid = uid, .tokens = g->burst, .refilled_usec = now_usec(CLOCK_MONOTONIC) };
        return b;
}

static SenderUid *sender_of(struct ApiGuard *g, const char *sender) {
        for (size_t k = 0; k < g->n_senders; k++)
                if (streq(g->senders[k].sender, sender))
                        return &g->senders[k];
        return NULL;
}

static bool any_dry(struct ApiGuard *g, uint64_t now) {
        for (size_t k = 0; k < g->n_buckets; k++) {
                refill(g, &g->buckets[k], now);
                if (g->buckets[k].tokens == 0)
                        return true;
        }
        return false;
}

static void remember_sender(struct ApiGuard *g, const char *sender, uid_t uid);

int api_guard_admit(Manager *m, sd_bus_message *msg, sd_bus_error *error) {
        struct ApiGuard *g = m->guard;
        const char *sender = sd_bus_message_get_sender(msg);
        uint64_t now = now_usec(CLOCK_MONOTONIC), wait;
        SenderUid *s;
        Bucket *b = NULL;

        if (!g || !sender)
                return 0;
        s = sender_of(g, sender);
        if (s)
                b = bucket_of(g, s->uid, false);
        else if (any_dry(g, now)) {
                /* A caller over its limit does not get a fresh allowance by connecting again: while
                 * some caller is limited, a new connection is asked who it is first (the bus
                 * answers; this costs nothing while no one is limited). */
                _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
                uid_t uid;

                if (sd_bus_query_sender_creds(msg, SD_BUS_CREDS_EUID, &creds) >= 0 &&
                    sd_bus_creds_get_euid(creds, &uid) >= 0) {
                        b = bucket_of(g, uid, false);
                        if (b)
                                remember_sender(g, sender, uid);
                }
        }
        if (!b)
                return 0;
        refill(g, b, now);
        if (b->tokens > 0)
                return 0;
        if (b->suppressed++ == 0)
                b->dry_since = now_usec(CLOCK_REALTIME);
        wait = (API_REFUSALS_REFILL_USEC - (now - b->refilled_usec) + 999999) / 1000000;
        return sd_bus_error_setf(
                error, ARK_ERROR_TOO_MANY_REQUESTS,
                "User %u made too many refused calls; arkd answers its calls again in %" PRIu64 " s.",
                (unsigned) b->uid, wait);
}

static void remember_sender(struct ApiGuard *g, const char *sender, uid_t uid) {
        SenderUid *s;
        char *copy;

        if (!sender || sender_of(g, sender))
                return;
        copy = strdup(sender);
        if (!copy)
                return;
        if (g->n_senders < SENDERS_MAX)
                s = &g->senders[g->n_senders++];
        else {
                s = &g->senders[g->next_sender];
                g->next_sender = (g->next_sender + 1) % SENDERS_MAX;
                free(s->sender);
        }
        *s = (SenderUid) { .sender = copy, .uid = uid };
}

bool api_guard_note_refusal(Manager *m, const char *sender, uid_t uid) {
        struct ApiGuard *g = guard_get(m);
        Bucket *b;

        if (!g || g->burst == 0)
                return true;
        remember_sender(g, sender, uid);
        b = bucket_of(g, uid, true);
        refill(g, b, now_usec(CLOCK_MONOTONIC));
        if (b->tokens == 0) {
                if (b->suppressed++ == 0)
                        b->dry_since = now_usec(CLOCK_REALTIME);
                return false;
        }
        if (b->suppressed > 0) {
                _cleanup_free_ char *args =
                        strprintf("{\"uid\":%u,\"refused_calls\":%" PRIu64 ",\"since_usec\":%" PRIu64 "}",
                                  (unsigned) uid, b->suppressed, b->dry_since);

                audit_record_internal(m, "Manager.RefusalsNotRecorded", "/org/ark/Ark1", args ?: "{}",
                                      "refused calls over the limit, counted and not recorded one by one");
                b->suppressed = 0;
        }
        b->tokens--;
        return true;
}

void api_guard_done(Manager *m) {
        struct ApiGuard *g = m->guard;

        if (!g)
                return;
        for (size_t k = 0; k < g->n_senders; k++)
                free(g->senders[k].sender);
        m->guard = mfree(g);
}

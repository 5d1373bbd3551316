/* The API fuzzer (issue 14): seeded random calls with random arguments, as random roles, against a
 * live arkd on a private bus (dgx-h100 fixture, libvirt test driver), with invariants checked
 * after every call and after every batch.
 *
 * Design. This process is root (an admin) and the oracle. It walks arkd's object tree, draws every
 * call (role, object, method, arguments) from one generator seeded by ARK_API_FUZZ_SEED, and
 * reads the store (<state>/ark.db, read-only) after each call. Each call runs in a child forked
 * for it, which drops to the role's user (uid, gid and supplementary groups: arkd reads the groups
 * from the caller's /proc entry, so only a process that really changed them is a faithful member),
 * opens its own bus connection, makes the call, scans the reply for names the role must not see
 * and reports through a pipe. Calls run one at a time, so the store before and after a call says
 * exactly what that call changed, and who may see which name is known at every call. The roles:
 * root; ark-f-a, a member of tenant tq-amber as a user; ark-f-b, a member of tq-basalt through the
 * group ark-f-grp; ark-f-none, a member of nothing. Root's random calls may change that (add
 * members, delete tenants); between batches the fuzzer puts the roles back.
 *
 * Checked after every call:
 *   - no reply or error to a non-admin names a tenant, instance or bundle (or a bundle's object
 *     path) of a tenant it is not a member of, unless the caller named it itself; names come from
 *     small pools (tq-*, iq-*, bq-*) so that they collide, and every name's owners are tracked
 *     from the store, deleted tenants (by id and creation time: SQLite reuses ids) included;
 *   - existence oracles: a refused call of a non-admin that names another tenant's object is made
 *     again with that name replaced by one that never existed (as long); both must be refused
 *     alike, but for the one oracle docs/api.md keeps (CreateInstance of a taken instance name);
 *   - a non-admin's call changes nothing outside its own tenants (tenants, members, quotas,
 *     holds, shared bundles, trusted keys, other tenants' instances, claims and bundles), except
 *     what a reclaim of its CreateInstance may do to other tenants' preemptible instances;
 *   - a new instance names no image, kernel or initrd its creator may not name (docs/api.md,
 *     "Files a caller may name");
 *   - a user in no tenant gets an answer only from the manager's properties, the shared bundles,
 *     the trusted keys, Introspect and Peer; a member none from another tenant's objects;
 *   - an answered call of an Ark method was within the limits (docs/api.md, "Limits"), and no
 *     description or hold reason stored holds control or bidi characters, no audit row a huge
 *     argument, no ListAuditLog page more than about 4 MiB;
 *   - every call is answered (30 s), with a named error (no bare errno), in a sentence of at most
 *     1 KiB; arkd answers others while an import reads a pipe its caller holds open.
 * Checked after every batch: arkd is alive and answers (Manager.Version), the store passes
 * PRAGMA integrity_check and foreign_key_check, claims stay within the fixture's accelerators (no
 * address twice, none both claimed and reserved), every tenant within its quota limits and the GPU
 * guarantees within the host, VerifyAuditLog says intact, and nothing under the state directory is
 * readable by others. At the end arkd must stop cleanly on SIGTERM, with no sanitizer report in its
 * log (run against an ASan build, as .ci/run does).
 *
 * arkd runs with RefusedCallBurst=0: most random calls of a non-admin are refused, and the
 * default limit would leave each role about a call a second.
 *
 * Environment: ARK_API_FUZZ_SECONDS (default 20), ARK_API_FUZZ_SEED (default random; printed
 * first), ARK_API_FUZZ_VERBOSE=1 (print every call), ARK_API_FUZZ_STRICT=1 (known issues fail the
 * test too). A finding of a class issue 14 names that is still open (known_open[]) is reported as
 * KNOWN and does not fail the test unless strict. Needs root (to create users); skipped otherwise. */

#include "itest.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <sqlite3.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"

static Harness H;

#define USER_A "ark-f-a"
#define USER_B "ark-f-b"
#define USER_NONE "ark-f-none"
#define GROUP_B "ark-f-grp"
#define TENANT_A "tq-amber"
#define TENANT_B "tq-basalt"
#define GHOST_PREFIX "gq-"

#define BATCH_CALLS 40
#define CALL_TIMEOUT_USEC (30 * USEC_PER_SEC)
#define USEC_PER_SEC 1000000ULL
#define ERROR_MESSAGE_MAX 512 /* docs/api.md, "Limits" */
#define AUDIT_ARGUMENTS_MAX (64 * 1024)

/* ------------------------------------------------------------------------------------------------
 * Known issues: the classes of findings that items of issue 14 name. A finding of a class listed in
 * known_open[] is reported as KNOWN and does not fail the test unless ARK_API_FUZZ_STRICT=1. Take
 * a class out of known_open[] when its fix lands: the fuzzer then tolerates nothing of it. */
typedef enum Known {
        KNOWN_NONE,
        KNOWN_HOST_PATHS,   /* item 1: any host path as a VM's image, kernel or initrd */
        KNOWN_STATE_MODE,   /* item 2: the state directory is readable by every local user */
        KNOWN_HUGE_ARGS,    /* item 3: huge arguments audited whole; arkd dropped from the bus */
        KNOWN_LONG_ERRORS,  /* item 3: error sentences that echo a whole argument */
        KNOWN_USAGE_NAMES,  /* item 4: usage history keyed by names */
        KNOWN_CLAIMER,      /* item 5: the claimer's name in errors */
        KNOWN_ORACLE,       /* item 6: existence oracles */
        KNOWN_ACCELERATORS, /* item 7: accelerator objects visible to a user in no tenant */
        KNOWN_BIDI,         /* item 8: bidi overrides accepted */
        _KNOWN_MAX,
} Known;

static const struct {
        const char *item, *what;
} known_class[_KNOWN_MAX] = {
        [KNOWN_HOST_PATHS] = { "1", "any host path as a VM's image, kernel or initrd" },
        [KNOWN_STATE_MODE] = { "2", "the state directory is readable by every local user" },
        [KNOWN_HUGE_ARGS] = { "3", "huge arguments audited whole" },
        [KNOWN_LONG_ERRORS] = { "3", "error sentences echo a whole argument" },
        [KNOWN_USAGE_NAMES] = { "4", "usage history keyed by names" },
        [KNOWN_CLAIMER] = { "5", "the claimer leaks" },
        [KNOWN_ORACLE] = { "6", "existence oracles" },
        [KNOWN_ACCELERATORS] = { "7", "accelerator objects visible" },
        [KNOWN_BIDI] = { "8", "bidi characters accepted" },
};

/* Still open: none (every class is strict; _KNOWN_MAX is no class). The last, sentences arkd's
 * bound did not reach (sd-bus' own answers for Properties.Get/GetAll/Set, and answers sent later
 * than the call), is fixed: the bus filter and api_guard_reply_error() (api-guard.h). */
static const Known known_open[] = { _KNOWN_MAX };

static bool known_issue_open(Known k) {
        for (size_t j = 0; j < ELEMENTSOF(known_open); j++)
                if (known_open[j] == k)
                        return true;
        return false;
}

/* ------------------------------------------------------------------------------------------------
 * Random numbers: splitmix64, so a seed replays the same calls. */
typedef struct Rng {
        uint64_t s;
} Rng;

static uint64_t rng_u64(Rng *r) {
        uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

static uint64_t rng_below(Rng *r, uint64_t n) {
        return n ? rng_u64(r) % n : 0;
}

static bool rng_chance(Rng *r, unsigned percent) {
        return rng_below(r, 100) < percent;
}

#define PICK(r, array) ((array)[rng_below((r), ELEMENTSOF(array))])

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

static uint64_t realtime_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

/* ------------------------------------------------------------------------------------------------
 * Roles. */
typedef enum Role {
        ROLE_ROOT,
        ROLE_A,
        ROLE_B,
        ROLE_NONE,
        _ROLE_MAX,
} Role;

static const char *const role_name[_ROLE_MAX] = { "root", "a", "b", "none" };
static const char *const role_user[_ROLE_MAX] = { "root", USER_A, USER_B, USER_NONE };

typedef struct Cred {
        uid_t uid;
        gid_t gid;
        gid_t groups[64];
        int n_groups;
} Cred;

static Cred creds[_ROLE_MAX];

/* ------------------------------------------------------------------------------------------------
 * Call arguments as plain data, built by the parent and sent by the child. */
typedef enum FdKind {
        FD_DEV_NULL,
        FD_DEV_ZERO,
        FD_RANDOM,    /* a memfd of fd_arg % 4096 pseudo-random bytes */
        FD_PIPE,      /* a pipe holding a few bytes, its write end closed */
        FD_PIPE_HELD, /* a pipe whose write end the caller holds for 3 s */
        FD_BUNDLE,    /* one of the prepared bundles, fd_arg picks it */
        FD_CORRUPT,   /* a prepared bundle with a byte changed */
        FD_DIR,       /* a directory */
        _FD_KIND_MAX,
} FdKind;

static const char *const fd_kind_name[_FD_KIND_MAX] = {
        "/dev/null",      "/dev/zero", "random file",    "pipe",
        "pipe held open", "bundle",    "corrupt bundle", "directory",
};

typedef struct Value {
        char type;      /* a D-Bus type code; containers 'a', 'r' (struct), 'e' (dict entry), 'v' */
        char *contents; /* containers: the signature of what is inside */
        uint64_t u;     /* integers and booleans; doubles as bits */
        char *s;        /* 's', 'o', 'g' */
        FdKind fd;
        unsigned fd_arg;
        struct Value *items;
        size_t n_items;
} Value;

static void value_done(Value *v) {
        free(v->contents);
        free(v->s);
        for (size_t k = 0; k < v->n_items; k++)
                value_done(&v->items[k]);
        free(v->items);
        *v = (Value) {};
}

static Value *value_push(Value *parent) {
        Value *n = realloc(parent->items, sizeof(Value) * (parent->n_items + 1));

        assert_non_null(n);
        parent->items = n;
        n[parent->n_items] = (Value) {};
        return &n[parent->n_items++];
}

static void value_copy(Value *dst, const Value *src) {
        *dst = *src;
        dst->contents = src->contents ? strdup(src->contents) : NULL;
        dst->s = src->s ? strdup(src->s) : NULL;
        dst->items = NULL;
        dst->n_items = 0;
        for (size_t k = 0; k < src->n_items; k++)
                value_copy(value_push(dst), &src->items[k]);
}

typedef struct Call {
        Role role;
        char *path, *iface, *member;
        Value args;         /* a struct of the arguments ('r'; contents = the signature) */
        bool vanish;        /* send, then exit without waiting for the answer */
        const char *origin; /* "random", "scenario", "ghost" */
} Call;

static void call_done(Call *c) {
        free(c->path);
        free(c->iface);
        free(c->member);
        value_done(&c->args);
        *c = (Call) {};
}

/* What one call's arguments may add up to: nested arrays of 300 elements of 64 KiB strings would
 * make a message larger than the bus takes (the bus then drops the caller: the fuzzer's fault, not
 * arkd's). Reset for every call; long strings and array elements are taken from it. */
#define CALL_BYTES_BUDGET (24U << 20) /* dbus-daemon refuses messages over 32 MiB */
#define CALL_ITEMS_BUDGET 20000U
static size_t bytes_left = CALL_BYTES_BUDGET, items_left = CALL_ITEMS_BUDGET;

static void call_init(Call *c, Role role, const char *path, const char *iface, const char *member,
                      const char *origin) {
        bytes_left = CALL_BYTES_BUDGET;
        items_left = CALL_ITEMS_BUDGET;
        *c = (Call) { .role = role,
                      .path = strdup(path),
                      .iface = strdup(iface),
                      .member = strdup(member),
                      .args = { .type = 'r', .contents = strdup("") },
                      .origin = origin };
        assert_true(c->path && c->iface && c->member && c->args.contents);
}

static void call_copy(Call *dst, const Call *src) {
        *dst = *src;
        dst->path = strdup(src->path);
        dst->iface = strdup(src->iface);
        dst->member = strdup(src->member);
        value_copy(&dst->args, &src->args);
}

/* Appends one argument of signature `sig` (one complete type) to a call built by hand. */
static Value *call_arg(Call *c, const char *sig) {
        Value *v = value_push(&c->args);
        char *contents = strprintf("%s%s", c->args.contents, sig);

        assert_non_null(contents);
        free(c->args.contents);
        c->args.contents = contents;
        v->type = sig[0] == '(' ? 'r' : sig[0];
        if (sig[0] == 'a')
                v->contents = strdup(sig + 1);
        return v;
}

static void call_str(Call *c, const char *s) {
        call_arg(c, "s")->s = strdup(s);
}

static void call_num(Call *c, const char *sig, uint64_t u) {
        call_arg(c, sig)->u = u;
}

/* A dict entry {sv} of a spec (an a{sv} value). */
static Value *spec_entry(Value *spec, const char *key, const char *sig) {
        Value *e = value_push(spec), *k, *v, *inner;

        e->type = 'e';
        e->contents = strdup("sv");
        k = value_push(e);
        k->type = 's';
        k->s = strdup(key);
        v = value_push(e);
        v->type = 'v';
        v->contents = strdup(sig);
        inner = value_push(v);
        inner->type = sig[0] == '(' ? 'r' : sig[0];
        if (sig[0] == 'a')
                inner->contents = strdup(sig + 1);
        return inner;
}

static void spec_str(Value *spec, const char *key, const char *s) {
        spec_entry(spec, key, "s")->s = strdup(s);
}

static void spec_num(Value *spec, const char *key, const char *sig, uint64_t u) {
        spec_entry(spec, key, sig)->u = u;
}

/* ------------------------------------------------------------------------------------------------
 * Names: a name is a word of [a-z0-9-]; an object path element is its sd_bus_path_encode() form, a
 * word of [A-Za-z0-9_]. Only distinctive names (the pools' prefixes) are tracked, so that a leak
 * is never a common word of a sentence. */
static const char *const tenant_pool[] = { "tq-amber", "tq-basalt", "tq-cobalt", "tq-dune" };
static const char *const instance_pool[] = { "iq-gale", "iq-hail", "iq-mist", "iq-rain", "iq-snow" };
static const char *const bundle_pool[] = { "bq-orca", "bq-lynx" };

static bool name_is_tracked(const char *s) {
        return startswith(s, "tq-") || startswith(s, "iq-") || startswith(s, "bq-") ||
                startswith(s, GHOST_PREFIX);
}

static bool is_word_char(char c, bool path) {
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || c == '_')
                return true;
        return !path && c == '-';
}

/* The first bounded occurrence of needle in text[0..len), or NULL. */
static const char *find_word(const char *text, size_t len, const char *needle, bool path) {
        size_t l = strlen(needle);

        if (l == 0 || len < l)
                return NULL;
        for (const char *p = text; p + l <= text + len; p++) {
                p = memmem(p, (size_t) (text + len - p), needle, l);
                if (!p)
                        return NULL;
                if ((p == text || !is_word_char(p[-1], path)) &&
                    (p + l == text + len || !is_word_char(p[l], path)))
                        return p;
        }
        return NULL;
}

static char *path_element(const char *name) {
        _cleanup_free_ char *p = NULL;
        char *e;

        if (sd_bus_path_encode("/x", name, &p) < 0)
                return NULL;
        e = strdup(p + 3);
        return e;
}

/* /org/ark/Ark1/instance/<tenant>/<name> */
static char *instance_path(const char *tenant, const char *name) {
        char *p = NULL;

        assert_true(sd_bus_path_encode_many(&p, ARK_BUS_PREFIX_INSTANCE "/%/%", tenant, name) >= 0);
        return p;
}

static char *object_path(const char *prefix, const char *name) {
        char *p = NULL;

        assert_true(sd_bus_path_encode(prefix, name, &p) >= 0);
        return p;
}

/* Replaces every bounded occurrence of `from` in *s by `to`. */
static void replace_word(char **s, const char *from, const char *to, bool path) {
        StrBuf b = {};
        const char *p = *s, *hit;
        size_t len = strlen(*s);

        if (!find_word(*s, len, from, path))
                return;
        while ((hit = find_word(p, len - (size_t) (p - *s), from, path))) {
                char *chunk = strndup(p, (size_t) (hit - p));

                strbuf_append(&b, chunk);
                free(chunk);
                strbuf_append(&b, to);
                p = hit + strlen(from);
        }
        strbuf_append(&b, p);
        free(*s);
        *s = strbuf_steal(&b);
        assert_non_null(*s);
}

/* Whether a string or path argument of v (or the path) names `name`. */
static bool value_names(const Value *v, const char *name, const char *element) {
        if ((v->type == 's' || v->type == 'g') && v->s && find_word(v->s, strlen(v->s), name, false))
                return true;
        if (v->type == 'o' && v->s && element && find_word(v->s, strlen(v->s), element, true))
                return true;
        for (size_t k = 0; k < v->n_items; k++)
                if (value_names(&v->items[k], name, element))
                        return true;
        return false;
}

static void value_subst(Value *v, const char *from, const char *to, const char *from_el, const char *to_el) {
        if ((v->type == 's' || v->type == 'g') && v->s)
                replace_word(&v->s, from, to, false);
        if (v->type == 'o' && v->s)
                replace_word(&v->s, from_el, to_el, true);
        for (size_t k = 0; k < v->n_items; k++)
                value_subst(&v->items[k], from, to, from_el, to_el);
}

/* ------------------------------------------------------------------------------------------------
 * Describing a call, for the log and for replays. */
static void describe_string(StrBuf *b, const char *s) {
        size_t l = strlen(s), k;

        strbuf_append(b, "\"");
        for (k = 0; k < l && k < 48; k++) {
                unsigned char c = (unsigned char) s[k];

                if (c < 0x20 || c == 0x7f || c == '"' || c == '\\')
                        strbuf_printf(b, "\\x%02x", c);
                else if (c == 0xe2 && k + 2 < l)
                        strbuf_printf(b, "\\u{%02x%02x%02x}", c, (unsigned char) s[k + 1],
                                      (unsigned char) s[k + 2]),
                                k += 2;
                else {
                        char one[2] = { (char) c, 0 };
                        strbuf_append(b, one);
                }
        }
        strbuf_append(b, "\"");
        if (l > 48)
                strbuf_printf(b, "...(%zu bytes)", l);
}

static void describe_value(StrBuf *b, const Value *v) {
        switch (v->type) {
        case 'y':
        case 'n':
        case 'q':
        case 'u':
        case 't':
                strbuf_printf(b, "%" PRIu64, v->u);
                break;
        case 'i':
        case 'x':
                strbuf_printf(b, "%" PRIi64, (int64_t) v->u);
                break;
        case 'b':
                strbuf_append(b, v->u ? "true" : "false");
                break;
        case 'd': {
                double d;
                memcpy(&d, &v->u, sizeof(d));
                strbuf_printf(b, "%g", d);
                break;
        }
        case 's':
        case 'o':
        case 'g':
                describe_string(b, v->s);
                break;
        case 'h':
                strbuf_printf(b, "<fd: %s", fd_kind_name[v->fd]);
                if (v->fd == FD_BUNDLE || v->fd == FD_RANDOM)
                        strbuf_printf(b, " %u", v->fd_arg);
                strbuf_append(b, ">");
                break;
        case 'v':
                strbuf_printf(b, "<%s>", v->contents);
                if (v->n_items)
                        describe_value(b, &v->items[0]);
                break;
        case 'a':
        case 'r':
        case 'e': {
                bool dict = v->type == 'a' && v->contents[0] == '{';

                strbuf_append(b, v->type == 'a' ? (dict ? "{" : "[") : v->type == 'r' ? "(" : "");
                if (v->type == 'a' && v->n_items > 8) {
                        strbuf_printf(b, "%zu items", v->n_items);
                } else
                        for (size_t k = 0; k < v->n_items; k++) {
                                if (k > 0)
                                        strbuf_append(b, v->type == 'e' ? ": " : ", ");
                                describe_value(b, &v->items[k]);
                        }
                strbuf_append(b, v->type == 'a' ? (dict ? "}" : "]") : v->type == 'r' ? ")" : "");
                break;
        }
        }
}

static char *describe_call(const Call *c) {
        StrBuf b = {};

        strbuf_printf(&b, "as %s: %s %s.%s", role_name[c->role], c->path, c->iface, c->member);
        describe_value(&b, &c->args);
        if (c->vanish)
                strbuf_append(&b, " (caller gone before the answer)");
        return strbuf_steal(&b);
}

/* ------------------------------------------------------------------------------------------------
 * The store, read-only: one snapshot after every call. */
typedef struct Table {
        size_t n, cols;
        char **cells; /* n * cols; NULL for SQL NULL */
} Table;

#define CELL(t, r, c) ((t)->cells[(r) * (t)->cols + (c)])

static void table_done(Table *t) {
        for (size_t k = 0; k < t->n * t->cols; k++)
                free(t->cells[k]);
        free(t->cells);
        *t = (Table) {};
}

static int64_t cell_i64(const Table *t, size_t r, size_t c) {
        const char *s = CELL(t, r, c);
        return s ? strtoll(s, NULL, 10) : 0;
}

static bool cell_null(const Table *t, size_t r, size_t c) {
        return !CELL(t, r, c);
}

static const char *cell(const Table *t, size_t r, size_t c) {
        return strempty(CELL(t, r, c));
}

/* The columns the queries below select, in order. */
enum {
        T_ID,
        T_NAME,
        T_DESCRIPTION,
        T_CREATED
};
enum {
        M_TENANT,
        M_KIND,
        M_ID,
        M_NAME
};
enum {
        Q_TENANT,
        Q_RESOURCE,
        Q_MODEL,
        Q_GUARANTEE,
        Q_LIMIT
};
enum {
        I_ID,
        I_TENANT,
        I_NAME,
        I_VCPUS,
        I_MEMORY,
        I_DISK_PATH,
        I_DISK_BYTES,
        I_IMAGE,
        I_KERNEL,
        I_INITRD,
        I_PREEMPTIBLE,
        I_DESIRED,
        I_PREEMPTED
};
enum {
        C_ADDRESS,
        C_INSTANCE
};
enum {
        H_ADDRESS,
        H_STATE,
        H_REASON
};
enum {
        B_ID,
        B_TENANT,
        B_KIND,
        B_NAME,
        B_VERSION,
        B_DIRECTORY
};

typedef struct Snap {
        Table tenants, members, quotas, instances, claims, holds, bundles;
        char *trust; /* the trust directory: names and sizes */
        int64_t audit_rows, audit_args_max, audit_args_sum;
} Snap;

static void snap_done(Snap *s) {
        table_done(&s->tenants);
        table_done(&s->members);
        table_done(&s->quotas);
        table_done(&s->instances);
        table_done(&s->claims);
        table_done(&s->holds);
        table_done(&s->bundles);
        free(s->trust);
        *s = (Snap) {};
}

/* A tenant, instance or bundle name (kind 't', 'i', 'b') and every tenant incarnation that ever
 * owned it (0: a shared bundle). Deleted objects stay: their names must not show up later either.
 * An incarnation is a tenant's id and creation time: SQLite gives a new row the id of a deleted
 * last row, so an id alone does not tell a re-created tenant from the one before. */
typedef struct Hist {
        char kind;
        char *name;
        int64_t *owners;
        size_t n_owners;
} Hist;

typedef struct Incarnation {
        int64_t id;
        char *created, *name;
} Incarnation;

typedef struct Member {
        char *iface, *name, *sig;
        char **argnames;
        bool property, writable;
} Member;

typedef struct Object {
        char *path;
        bool alive;
        Member *members;
        size_t n_members;
} Object;

typedef struct Finding {
        char *key;
        char *first;
        Known known;
        unsigned count;
} Finding;

typedef struct Counter {
        char *name;
        unsigned n;
} Counter;

typedef struct Scenario {
        bool active;
        unsigned step;
        Role who;
        char *tenant, *instance;
        unsigned gpus;
        bool preemptible, by_group;
} Scenario;

static struct {
        uint64_t seed;
        Rng rng;
        uint64_t deadline;
        bool strict, verbose, stop;
        char *fuzz_dir, *main_pem, *spare_pem, *main_key_id, *spare_key_id, *image_name, *image_path,
                *kernel_path;
        char *bundle_files[3]; /* bq-orca 1 and 2 (main key), bq-lynx 1 (spare key) */
        char *corrupt_bundle;
        char **addresses, **models; /* the fixture's accelerators */
        uint64_t *gpu_memory;
        size_t n_acc;
        Object *objects;
        size_t n_objects;
        sqlite3 *db;
        Snap snap;
        Hist *hist;
        size_t n_hist;
        Incarnation *incs; /* incarnation n is incs[n - 1] */
        size_t n_incs;
        Finding *findings;
        size_t n_findings;
        Counter *errors;
        size_t n_errors;
        unsigned calls[_ROLE_MAX], ok[_ROLE_MAX];
        unsigned n_calls, n_checks, n_batches, n_walks, n_ghosts, n_ghosts_answered, n_vanished, n_scenarios,
                n_restarts;
        unsigned ghost_counter;
        Scenario sc;
} F;

static const char *const bundle_file_name[] = { "bq-orca", "bq-orca", "bq-lynx" };

static int table_read(const char *sql, Table *ret) {
        sqlite3_stmt *st = NULL;
        Table t = {};
        size_t alloc = 0;
        int rc;

        rc = sqlite3_prepare_v2(F.db, sql, -1, &st, NULL);
        if (rc != SQLITE_OK)
                return -EIO;
        t.cols = (size_t) sqlite3_column_count(st);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if ((t.n + 1) * t.cols > alloc) {
                        alloc = MAX(alloc * 2, (t.n + 1) * t.cols * 4);
                        t.cells = realloc(t.cells, alloc * sizeof(char *));
                        assert_non_null(t.cells);
                }
                for (size_t c = 0; c < t.cols; c++) {
                        const unsigned char *v = sqlite3_column_text(st, (int) c);
                        t.cells[t.n * t.cols + c] = v ? strdup((const char *) v) : NULL;
                }
                t.n++;
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) {
                table_done(&t);
                return -EIO;
        }
        *ret = t;
        return 0;
}

static char *trust_listing(void) {
        _cleanup_(strv_freep) char **l = NULL;
        DIR *d = opendir(H.trust_dir);
        struct dirent *de;

        if (!d)
                return strdup("");
        while ((de = readdir(d))) {
                struct stat st;
                _cleanup_free_ char *p = NULL;

                if (de->d_name[0] == '.')
                        continue;
                p = path_join(H.trust_dir, de->d_name);
                if (p && stat(p, &st) >= 0)
                        assert_true(
                                strv_push(&l, strprintf("%s:%lld", de->d_name, (long long) st.st_size)) >=
                                0);
        }
        closedir(d);
        strv_sort(l);
        return strv_join(l, " ");
}

/* Reads the store in one read transaction. Returns 0, or -EIO (printed). */
static int snap_read(Snap *ret) {
        Snap s = {};
        Table audit = {};
        int r = 0;

        if (sqlite3_exec(F.db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
                fprintf(stderr, "api-fuzz: cannot read the store: %s\n", sqlite3_errmsg(F.db));
                return -EIO;
        }
        if (r >= 0)
                r = table_read("SELECT id, name, description, created_usec FROM tenants ORDER BY id",
                               &s.tenants);
        if (r >= 0)
                r = table_read("SELECT tenant_id, kind, id, name FROM tenant_members ORDER BY 1, 2, 3",
                               &s.members);
        if (r >= 0)
                r = table_read(
                        "SELECT tenant_id, resource, model, guarantee, limit_amount FROM tenant_quotas "
                        "ORDER BY 1, 2, 3",
                        &s.quotas);
        if (r >= 0)
                r = table_read("SELECT id, tenant_id, name, vcpus, memory_bytes, disk_path, disk_bytes, "
                               "image, kernel, "
                               "initrd, preemptible, desired_state, preempted_gpus, uuid, type, cmdline, "
                               "console_log, "
                               "created_usec, firmware, preempted_model, model_bundle_id FROM instances "
                               "ORDER BY id",
                               &s.instances);
        if (r >= 0)
                r = table_read("SELECT address, instance_id FROM claims ORDER BY address", &s.claims);
        if (r >= 0)
                r = table_read("SELECT address, state, reason FROM accelerator_holds ORDER BY address",
                               &s.holds);
        if (r >= 0)
                r = table_read(
                        "SELECT id, IFNULL(tenant_id, 0), kind, name, version, directory, key_id, sha256 "
                        "FROM bundles ORDER BY id",
                        &s.bundles);
        if (r >= 0)
                r = table_read("SELECT count(*), IFNULL(max(length(arguments)), 0), "
                               "IFNULL(sum(length(arguments)), 0) "
                               "FROM audit_log",
                               &audit);
        (void) sqlite3_exec(F.db, "COMMIT", NULL, NULL, NULL);
        if (r < 0) {
                fprintf(stderr, "api-fuzz: cannot read the store: %s\n", sqlite3_errmsg(F.db));
                table_done(&audit);
                snap_done(&s);
                return r;
        }
        s.audit_rows = cell_i64(&audit, 0, 0);
        s.audit_args_max = cell_i64(&audit, 0, 1);
        s.audit_args_sum = cell_i64(&audit, 0, 2);
        table_done(&audit);
        s.trust = trust_listing();
        *ret = s;
        return 0;
}

static const char *snap_tenant_name(const Snap *s, int64_t id) {
        for (size_t k = 0; k < s->tenants.n; k++)
                if (cell_i64(&s->tenants, k, T_ID) == id)
                        return cell(&s->tenants, k, T_NAME);
        return NULL;
}

static int64_t snap_tenant_id(const Snap *s, const char *name) {
        for (size_t k = 0; k < s->tenants.n; k++)
                if (streq(cell(&s->tenants, k, T_NAME), name))
                        return cell_i64(&s->tenants, k, T_ID);
        return -1;
}

static int64_t snap_instance_tenant(const Snap *s, int64_t instance_id) {
        for (size_t k = 0; k < s->instances.n; k++)
                if (cell_i64(&s->instances, k, I_ID) == instance_id)
                        return cell_i64(&s->instances, k, I_TENANT);
        return -1;
}

static bool snap_instance_preemptible(const Snap *s, int64_t instance_id) {
        for (size_t k = 0; k < s->instances.n; k++)
                if (cell_i64(&s->instances, k, I_ID) == instance_id)
                        return cell_i64(&s->instances, k, I_PREEMPTIBLE) != 0;
        return false;
}

/* The incarnation of tenant `id` in s (1...), or 0 when s has no such tenant. */
static int64_t incarnation(const Snap *s, int64_t id) {
        const char *created = NULL, *name = NULL;
        Incarnation *n;

        for (size_t k = 0; k < s->tenants.n; k++)
                if (cell_i64(&s->tenants, k, T_ID) == id) {
                        created = cell(&s->tenants, k, T_CREATED);
                        name = cell(&s->tenants, k, T_NAME);
                }
        if (!created)
                return 0;
        for (size_t k = 0; k < F.n_incs; k++)
                if (F.incs[k].id == id && streq(F.incs[k].created, created))
                        return (int64_t) k + 1;
        n = realloc(F.incs, sizeof(Incarnation) * (F.n_incs + 1));
        assert_non_null(n);
        F.incs = n;
        F.incs[F.n_incs++] = (Incarnation) { .id = id, .created = strdup(created), .name = strdup(name) };
        return (int64_t) F.n_incs;
}

/* Whether incarnation inc is the tenant of that id in s. */
static bool incarnation_alive(const Snap *s, int64_t inc) {
        return inc > 0 && inc <= (int64_t) F.n_incs && incarnation(s, F.incs[inc - 1].id) == inc;
}

/* Whether the member row r of s lets role in. */
static bool member_row_grants(const Snap *s, size_t r, Role role) {
        const Cred *c = &creds[role];
        int64_t id = cell_i64(&s->members, r, M_ID);

        if (streq(cell(&s->members, r, M_KIND), "user"))
                return id == (int64_t) c->uid;
        for (int k = 0; k < c->n_groups; k++)
                if (id == (int64_t) c->groups[k])
                        return true;
        return id == (int64_t) c->gid;
}

typedef struct Rights {
        bool admin;
        int64_t ids[16];  /* tenant ids in the snapshot */
        int64_t incs[16]; /* and their incarnations */
        size_t n;
} Rights;

static Rights rights_of(const Snap *s, Role role) {
        Rights r = { .admin = role == ROLE_ROOT };

        for (size_t k = 0; k < s->members.n && r.n < ELEMENTSOF(r.ids); k++) {
                int64_t t = cell_i64(&s->members, k, M_TENANT);
                bool seen = false;

                if (!member_row_grants(s, k, role))
                        continue;
                for (size_t j = 0; j < r.n; j++)
                        seen = seen || r.ids[j] == t;
                if (!seen) {
                        r.incs[r.n] = incarnation(s, t);
                        r.ids[r.n++] = t;
                }
        }
        return r;
}

static bool rights_has(const Rights *r, int64_t tenant) {
        if (r->admin)
                return true;
        for (size_t k = 0; k < r->n; k++)
                if (r->ids[k] == tenant)
                        return true;
        return false;
}

static bool rights_has_incarnation(const Rights *r, int64_t inc) {
        if (r->admin)
                return true;
        for (size_t k = 0; k < r->n; k++)
                if (r->incs[k] == inc)
                        return true;
        return false;
}

static Hist *hist_find(char kind, const char *name) {
        for (size_t k = 0; k < F.n_hist; k++)
                if (F.hist[k].kind == kind && streq(F.hist[k].name, name))
                        return &F.hist[k];
        return NULL;
}

static void hist_note(char kind, const char *name, int64_t owner) {
        Hist *h;

        if (!name_is_tracked(name))
                return;
        h = hist_find(kind, name);
        if (!h) {
                Hist *n = realloc(F.hist, sizeof(Hist) * (F.n_hist + 1));

                assert_non_null(n);
                F.hist = n;
                h = &F.hist[F.n_hist++];
                *h = (Hist) { .kind = kind, .name = strdup(name) };
        }
        for (size_t k = 0; k < h->n_owners; k++)
                if (h->owners[k] == owner)
                        return;
        h->owners = realloc(h->owners, sizeof(int64_t) * (h->n_owners + 1));
        assert_non_null(h->owners);
        h->owners[h->n_owners++] = owner;
}

static void hist_update(const Snap *s) {
        for (size_t k = 0; k < s->tenants.n; k++)
                hist_note('t', cell(&s->tenants, k, T_NAME), incarnation(s, cell_i64(&s->tenants, k, T_ID)));
        for (size_t k = 0; k < s->instances.n; k++)
                hist_note('i', cell(&s->instances, k, I_NAME),
                          incarnation(s, cell_i64(&s->instances, k, I_TENANT)));
        for (size_t k = 0; k < s->bundles.n; k++)
                hist_note('b', cell(&s->bundles, k, B_NAME),
                          cell_i64(&s->bundles, k, B_TENANT)
                                  ? incarnation(s, cell_i64(&s->bundles, k, B_TENANT))
                                  : 0);
}

/* Re-reads the store into F.snap. */
static int refresh(void) {
        Snap s;
        int r = snap_read(&s);

        if (r < 0)
                return r;
        snap_done(&F.snap);
        F.snap = s;
        hist_update(&F.snap);
        return 0;
}

/* ------------------------------------------------------------------------------------------------
 * Findings. */
static void finding(Known known, const char *key, const char *format, ...) _printf_(3, 4);
static void finding(Known known, const char *key, const char *format, ...) {
        _cleanup_free_ char *text = NULL;
        Finding *f;
        va_list ap;

        if (known && !known_issue_open(known))
                known = KNOWN_NONE;
        for (size_t k = 0; k < F.n_findings; k++)
                if (streq(F.findings[k].key, key)) {
                        F.findings[k].count++;
                        return;
                }
        va_start(ap, format);
        assert_true(vasprintf(&text, format, ap) >= 0);
        va_end(ap);
        f = realloc(F.findings, sizeof(Finding) * (F.n_findings + 1));
        assert_non_null(f);
        F.findings = f;
        F.findings[F.n_findings++] =
                (Finding) { .key = strdup(key), .first = TAKE_PTR(text), .known = known, .count = 1 };
        if (known)
                fprintf(stderr, "api-fuzz: KNOWN (issue 14 item %s, %s): %s\n", known_class[known].item,
                        known_class[known].what, F.findings[F.n_findings - 1].first);
        else
                fprintf(stderr, "api-fuzz: FINDING: %s\n", F.findings[F.n_findings - 1].first);
}

static void count_error(const char *name) {
        Counter *c;

        for (size_t k = 0; k < F.n_errors; k++)
                if (streq(F.errors[k].name, name)) {
                        F.errors[k].n++;
                        return;
                }
        c = realloc(F.errors, sizeof(Counter) * (F.n_errors + 1));
        assert_non_null(c);
        F.errors = c;
        F.errors[F.n_errors++] = (Counter) { .name = strdup(name), .n = 1 };
}

/* ------------------------------------------------------------------------------------------------
 * What a role must not see: every tracked name none of whose owners it is a member of, and the
 * object paths of other tenants' bundles, except what the call itself names. */
typedef struct Needle {
        char *text;
        bool path; /* an object path (element): bounded by [A-Za-z0-9_] */
        char kind; /* 't', 'i', 'b' */
        char *name;
        char *what;
} Needle;

static void needles_free(Needle *n, size_t count) {
        for (size_t k = 0; k < count; k++) {
                free(n[k].text);
                free(n[k].name);
                free(n[k].what);
        }
        free(n);
}

static bool call_bundle_fd_names(const Value *v, const char *name) {
        if (v->type == 'h' && (v->fd == FD_BUNDLE || v->fd == FD_CORRUPT) &&
            streq(bundle_file_name[v->fd == FD_CORRUPT ? 0 : v->fd_arg % ELEMENTSOF(bundle_file_name)],
                  name))
                return true;
        for (size_t k = 0; k < v->n_items; k++)
                if (call_bundle_fd_names(&v->items[k], name))
                        return true;
        return false;
}

/* Whether the call names `name` itself (then an answer may repeat it). */
static bool call_names(const Call *c, const char *name) {
        _cleanup_free_ char *el = path_element(name);

        return value_names(&c->args, name, el) || (el && find_word(c->path, strlen(c->path), el, true)) ||
                call_bundle_fd_names(&c->args, name);
}

static bool hist_allowed(const Hist *h, const Rights *r) {
        for (size_t k = 0; k < h->n_owners; k++)
                if (rights_has_incarnation(r, h->owners[k]) || (h->kind == 'b' && h->owners[k] == 0))
                        return true;
        return false;
}

/* A name may be a tenant's, an instance's and a bundle's at once: it may be shown if any of them
 * may. */
static bool name_allowed(const char *name, const Rights *r) {
        for (size_t k = 0; k < F.n_hist; k++)
                if (streq(F.hist[k].name, name) && hist_allowed(&F.hist[k], r))
                        return true;
        return false;
}

static const char *kind_noun(char kind) {
        return kind == 't' ? "tenant" : kind == 'i' ? "instance" : "bundle";
}

static Needle *needles_for(const Call *c, size_t *ret_n) {
        Rights r = rights_of(&F.snap, c->role);
        Needle *n = NULL;
        size_t count = 0;

        *ret_n = 0;
        if (r.admin)
                return NULL;
        n = calloc(F.n_hist * 2 + F.snap.instances.n + F.snap.bundles.n + 1, sizeof(Needle));
        assert_non_null(n);
        for (size_t k = 0; k < F.n_hist; k++) {
                const Hist *h = &F.hist[k];
                _cleanup_free_ char *el = NULL;

                if (name_allowed(h->name, &r) || call_names(c, h->name))
                        continue;
                n[count++] = (Needle) { .text = strdup(h->name),
                                        .kind = h->kind,
                                        .name = strdup(h->name),
                                        .what = strprintf("%s '%s'", kind_noun(h->kind), h->name) };
                el = path_element(h->name);
                if (el && !streq(el, h->name))
                        n[count++] = (Needle) { .text = TAKE_PTR(el),
                                                .path = true,
                                                .kind = h->kind,
                                                .name = strdup(h->name),
                                                .what = strprintf("%s '%s' (its object path)",
                                                                  kind_noun(h->kind), h->name) };
        }
        /* Instance names are unique within a tenant only: another tenant's instance may share a
         * name the caller may see; its object path is its own. */
        for (size_t k = 0; k < F.snap.instances.n; k++) {
                int64_t t = cell_i64(&F.snap.instances, k, I_TENANT);
                const char *tenant = snap_tenant_name(&F.snap, t);
                _cleanup_free_ char *p = NULL;

                if (rights_has(&r, t) || !tenant)
                        continue;
                p = instance_path(tenant, cell(&F.snap.instances, k, I_NAME));
                if (streq(p, c->path) || value_names(&c->args, "", p))
                        continue;
                n[count++] = (Needle) { .text = TAKE_PTR(p),
                                        .path = true,
                                        .kind = 'i',
                                        .name = strdup(cell(&F.snap.instances, k, I_NAME)),
                                        .what = strprintf("the object of instance '%s' of tenant '%s'",
                                                          cell(&F.snap.instances, k, I_NAME), tenant) };
        }
        for (size_t k = 0; k < F.snap.bundles.n; k++) {
                int64_t t = cell_i64(&F.snap.bundles, k, B_TENANT);
                _cleanup_free_ char *p = NULL;

                if (t == 0 || rights_has(&r, t))
                        continue;
                p = object_path("/org/ark/Ark1/bundle", cell(&F.snap.bundles, k, B_ID));
                if (streq(p, c->path) || value_names(&c->args, "", p))
                        continue;
                n[count++] = (Needle) { .text = TAKE_PTR(p),
                                        .path = true,
                                        .kind = 'b',
                                        .name = strdup(cell(&F.snap.bundles, k, B_NAME)),
                                        .what = strprintf("the object of bundle %s '%s' of tenant '%s'",
                                                          cell(&F.snap.bundles, k, B_ID),
                                                          cell(&F.snap.bundles, k, B_NAME),
                                                          strna(snap_tenant_name(&F.snap, t))) };
        }
        *ret_n = count;
        return n;
}

/* ------------------------------------------------------------------------------------------------
 * The child: one call as one role. */
static void fill_random(void *buf, size_t n, uint64_t seed) {
        Rng r = { .s = seed };
        uint8_t *p = buf;

        for (size_t k = 0; k < n; k++)
                p[k] = (uint8_t) rng_u64(&r);
}

/* An fd for an 'h' argument; *held receives the write end of a pipe the caller keeps open. */
static int open_fd(const Value *v, int *held) {
        char buf[4096];
        int fd = -1, p[2];
        size_t n;

        switch (v->fd) {
        case FD_DEV_ZERO:
                fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
                break;
        case FD_RANDOM:
                fd = memfd_create("fuzz", MFD_CLOEXEC);
                n = v->fd_arg % sizeof(buf) + 1;
                fill_random(buf, n, v->fd_arg);
                if (fd >= 0 && (write(fd, buf, n) != (ssize_t) n || lseek(fd, 0, SEEK_SET) < 0))
                        fd = -1;
                break;
        case FD_PIPE:
        case FD_PIPE_HELD:
                if (pipe2(p, O_CLOEXEC) < 0)
                        break;
                n = v->fd_arg % 1024 + 1;
                fill_random(buf, n, v->fd_arg);
                if (write(p[1], buf, n) < 0) {
                        /* The pipe is empty then; still a valid argument. */
                }
                if (v->fd == FD_PIPE_HELD && held && *held < 0)
                        *held = p[1];
                else
                        close(p[1]);
                fd = p[0];
                break;
        case FD_BUNDLE:
                fd = open(F.bundle_files[v->fd_arg % ELEMENTSOF(F.bundle_files)], O_RDONLY | O_CLOEXEC);
                break;
        case FD_CORRUPT:
                fd = open(F.corrupt_bundle, O_RDONLY | O_CLOEXEC);
                break;
        case FD_DIR:
                fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                break;
        default:
                break;
        }
        if (fd < 0)
                fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        return fd;
}

static int marshal(sd_bus_message *m, const Value *v, int *held) {
        int r;

        switch (v->type) {
        case 'y': {
                uint8_t x = (uint8_t) v->u;
                return sd_bus_message_append_basic(m, 'y', &x);
        }
        case 'b': {
                int x = !!v->u;
                return sd_bus_message_append_basic(m, 'b', &x);
        }
        case 'n':
        case 'q': {
                uint16_t x = (uint16_t) v->u;
                return sd_bus_message_append_basic(m, v->type, &x);
        }
        case 'i':
        case 'u': {
                uint32_t x = (uint32_t) v->u;
                return sd_bus_message_append_basic(m, v->type, &x);
        }
        case 'x':
        case 't':
        case 'd':
                return sd_bus_message_append_basic(m, v->type, &v->u);
        case 's':
        case 'o':
        case 'g':
                return sd_bus_message_append_basic(m, v->type, v->s);
        case 'h': {
                int fd = open_fd(v, held);

                r = sd_bus_message_append_basic(m, 'h', &fd);
                if (fd >= 0)
                        close(fd);
                return r;
        }
        case 'a':
        case 'r':
        case 'e':
        case 'v':
                r = sd_bus_message_open_container(m, v->type, v->contents);
                if (r < 0)
                        return r;
                for (size_t k = 0; k < v->n_items; k++) {
                        r = marshal(m, &v->items[k], held);
                        if (r < 0)
                                return r;
                }
                return sd_bus_message_close_container(m);
        }
        return -EINVAL;
}

typedef struct Scan {
        const Needle *needles;
        size_t n;
        json_t *leaks;
        uint64_t bytes; /* of the strings in the reply */
} Scan;

static void scan_text(Scan *sc, const char *text, const char *where) {
        size_t len = strlen(text);

        for (size_t k = 0; k < sc->n; k++) {
                const char *hit = find_word(text, len, sc->needles[k].text, sc->needles[k].path);
                const char *from;
                char ctx[161];
                size_t l;

                if (!hit)
                        continue;
                from = hit - text > 60 ? hit - 60 : text;
                l = MIN((size_t) (text + len - from), sizeof(ctx) - 1);
                memcpy(ctx, from, l);
                ctx[l] = 0;
                for (size_t j = 0; j < l; j++)
                        if ((unsigned char) ctx[j] < 0x20 || (unsigned char) ctx[j] >= 0x7f)
                                ctx[j] = '?';
                json_array_append_new(sc->leaks,
                                      json_pack("{s:I, s:s, s:s}", "needle", (json_int_t) k, "where", where,
                                                "context", ctx));
        }
}

static int scan_message(sd_bus_message *m, Scan *sc) {
        for (;;) {
                const char *contents;
                char type;
                int r;

                r = sd_bus_message_peek_type(m, &type, &contents);
                if (r <= 0)
                        return r;
                if (type == 'a' || type == 'r' || type == 'e' || type == 'v') {
                        r = sd_bus_message_enter_container(m, type, contents);
                        if (r < 0)
                                return r;
                        r = scan_message(m, sc);
                        if (r < 0)
                                return r;
                        r = sd_bus_message_exit_container(m);
                        if (r < 0)
                                return r;
                } else {
                        union {
                                uint64_t u;
                                double d;
                                const char *s;
                        } val = {};

                        r = sd_bus_message_read_basic(m, type, &val);
                        if (r < 0)
                                return r;
                        if (type == 's' || type == 'o' || type == 'g') {
                                sc->bytes += strlen(val.s);
                                scan_text(sc, val.s, "the reply");
                        }
                }
        }
}

typedef struct Pending {
        bool done;
        sd_bus_message *reply;
} Pending;

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Pending *p = userdata;

        p->done = true;
        p->reply = sd_bus_message_ref(m);
        return 0;
}

static void pump(sd_bus *bus, Pending *p, uint64_t until) {
        while (!p->done && now_usec() < until) {
                int r = sd_bus_process(bus, NULL);

                if (r < 0)
                        return;
                if (r > 0)
                        continue;
                (void) sd_bus_wait(bus, MIN(until - now_usec(), 200 * 1000ULL));
        }
}

/* Whether arkd answers the role on a second connection within 3 s. */
static bool probe_answers(void) {
        sd_bus *bus = NULL;
        sd_bus_message *m = NULL, *reply = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        bool ok = false;

        if (ark_bus_open(H.bus_address, &bus) >= 0 &&
            sd_bus_message_new_method_call(bus, &m, ARK_BUS_NAME, ARK_BUS_PATH,
                                           "org.freedesktop.DBus.Properties", "Get") >= 0 &&
            sd_bus_message_append(m, "ss", ARK_BUS_IFACE_MANAGER, "Version") >= 0)
                ok = sd_bus_call(bus, m, 3 * USEC_PER_SEC, &e, &reply) >= 0;
        sd_bus_error_free(&e);
        sd_bus_message_unref(reply);
        sd_bus_message_unref(m);
        sd_bus_flush_close_unref(bus);
        return ok;
}

static _noreturn_ void child_main(const Call *c, const Needle *needles, size_t n_needles, int out) {
        json_t *res = json_object();
        Scan sc = { .needles = needles, .n = n_needles, .leaks = json_array() };
        sd_bus *bus = NULL;
        sd_bus_message *m = NULL;
        Pending p = {};
        int held = -1, r;
        char *text;

        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
        (void) signal(SIGPIPE, SIG_IGN);
        if (c->role != ROLE_ROOT) {
                const Cred *cr = &creds[c->role];

                if (setgroups((size_t) cr->n_groups, cr->groups) < 0 ||
                    setresgid(cr->gid, cr->gid, cr->gid) < 0 || setresuid(cr->uid, cr->uid, cr->uid) < 0) {
                        json_object_set_new(res, "child_error", json_string("cannot drop privileges"));
                        goto out;
                }
        }
        r = ark_bus_open(H.bus_address, &bus);
        if (r < 0) {
                json_object_set_new(res, "child_error", json_string("cannot connect to the bus"));
                goto out;
        }
        r = sd_bus_message_new_method_call(bus, &m, ARK_BUS_NAME, c->path, c->iface, c->member);
        for (size_t k = 0; r >= 0 && k < c->args.n_items; k++)
                r = marshal(m, &c->args.items[k], &held);
        if (r < 0) {
                json_object_set_new(res, "child_error", json_string("cannot build the message"));
                goto out;
        }
        if (c->vanish) {
                (void) sd_bus_send(bus, m, NULL);
                (void) sd_bus_flush(bus);
                json_object_set_new(res, "vanished", json_true());
                goto out;
        }
        r = sd_bus_call_async(bus, NULL, m, on_reply, &p, CALL_TIMEOUT_USEC);
        if (r < 0) {
                json_object_set_new(res, "child_error", json_string("cannot send the call"));
                goto out;
        }
        if (held >= 0) {
                /* The import is reading a pipe this caller keeps open: arkd must still answer. */
                uint64_t until = now_usec() + 3 * USEC_PER_SEC;

                if (!probe_answers())
                        json_object_set_new(res, "probe_blocked", json_true());
                pump(bus, &p, until);
                close(held);
        }
        pump(bus, &p, now_usec() + CALL_TIMEOUT_USEC + 2 * USEC_PER_SEC);
        if (!p.done)
                json_object_set_new(res, "timeout", json_true());
        else if (sd_bus_message_is_method_error(p.reply, NULL)) {
                const sd_bus_error *e = sd_bus_message_get_error(p.reply);

                json_object_set_new(res, "error", json_string(strempty(e->name)));
                json_object_set_new(res, "message", json_string(strempty(e->message)));
                if (e->message)
                        scan_text(&sc, e->message, "the error message");
        } else {
                json_object_set_new(res, "ok", json_true());
                (void) scan_message(p.reply, &sc);
                json_object_set_new(res, "reply_bytes", json_integer((json_int_t) sc.bytes));
        }
out:
        json_object_set_new(res, "leaks", sc.leaks);
        text = json_dumps(res, JSON_COMPACT);
        for (size_t off = 0, l = text ? strlen(text) : 0; off < l;) {
                ssize_t w = write(out, text + off, l - off);
                if (w <= 0)
                        break;
                off += (size_t) w;
        }
        _exit(0);
}

/* ------------------------------------------------------------------------------------------------
 * The parent's side of a call. */
typedef struct Leak {
        size_t needle;
        char *where, *context;
} Leak;

typedef struct Result {
        bool ok, timed_out, vanished, failed;
        char *error, *message;
        Leak *leaks;
        size_t n_leaks;
        bool probe_blocked;
        char *child_error;
        uint64_t reply_bytes;
} Result;

static void result_done(Result *r) {
        free(r->error);
        free(r->message);
        for (size_t k = 0; k < r->n_leaks; k++) {
                free(r->leaks[k].where);
                free(r->leaks[k].context);
        }
        free(r->leaks);
        free(r->child_error);
        *r = (Result) {};
}

static void run_call(const Call *c, const Needle *needles, size_t n_needles, Result *ret) {
        char *buf = NULL;
        size_t len = 0, alloc = 0;
        uint64_t deadline = now_usec() + CALL_TIMEOUT_USEC + 15 * USEC_PER_SEC;
        json_t *j, *leaks, *x;
        int p[2], status;
        pid_t pid;

        *ret = (Result) {};
        assert_true(pipe2(p, O_CLOEXEC) >= 0);
        fflush(NULL);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                close(p[0]);
                child_main(c, needles, n_needles, p[1]);
        }
        close(p[1]);
        for (;;) {
                struct pollfd pfd = { .fd = p[0], .events = POLLIN };
                uint64_t now = now_usec();
                ssize_t n;

                if (now >= deadline) {
                        ret->timed_out = true;
                        kill(pid, SIGKILL);
                        break;
                }
                if (poll(&pfd, 1, (int) ((deadline - now) / 1000 + 1)) <= 0)
                        continue;
                if (len + 65536 > alloc) {
                        alloc = MAX(alloc * 2, len + 65536);
                        buf = realloc(buf, alloc);
                        assert_non_null(buf);
                }
                n = read(p[0], buf + len, alloc - len - 1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                len += (size_t) n;
        }
        close(p[0]);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (ret->timed_out) {
                free(buf);
                return;
        }
        j = buf ? (buf[len] = 0, json_loads(buf, 0, NULL)) : NULL;
        free(buf);
        if (!j) {
                ret->failed = true;
                ret->child_error = strprintf("the child answered nothing readable (status %d)", status);
                return;
        }
        ret->ok = json_is_true(json_object_get(j, "ok"));
        ret->timed_out = json_is_true(json_object_get(j, "timeout"));
        ret->vanished = json_is_true(json_object_get(j, "vanished"));
        ret->probe_blocked = json_is_true(json_object_get(j, "probe_blocked"));
        ret->reply_bytes = (uint64_t) json_integer_value(json_object_get(j, "reply_bytes"));
        if ((x = json_object_get(j, "error")))
                ret->error = strdup(json_string_value(x));
        if ((x = json_object_get(j, "message")))
                ret->message = strdup(json_string_value(x));
        if ((x = json_object_get(j, "child_error"))) {
                ret->failed = true;
                ret->child_error = strdup(json_string_value(x));
        }
        leaks = json_object_get(j, "leaks");
        if (leaks && json_array_size(leaks) > 0) {
                ret->leaks = calloc(json_array_size(leaks), sizeof(Leak));
                assert_non_null(ret->leaks);
        }
        for (size_t k = 0; leaks && k < json_array_size(leaks); k++) {
                json_t *l = json_array_get(leaks, k);
                size_t n = (size_t) json_integer_value(json_object_get(l, "needle"));

                if (n >= n_needles)
                        continue;
                ret->leaks[ret->n_leaks++] = (Leak) {
                        .needle = n,
                        .where = strdup(strempty(json_string_value(json_object_get(l, "where")))),
                        .context = strdup(strempty(json_string_value(json_object_get(l, "context"))))
                };
        }
        json_decref(j);
}

/* ------------------------------------------------------------------------------------------------
 * Checks after every call. */

/* Table rows as text, for comparing a part of the store before and after a call. */
static void row_append(StrBuf *b, const Table *t, size_t r) {
        for (size_t c = 0; c < t->cols; c++) {
                strbuf_append(b, CELL(t, r, c) ?: "\x1e");
                strbuf_append(b, "\x1f");
        }
        strbuf_append(b, "\n");
}

static char *table_text(const Table *t) {
        StrBuf b = {};

        strbuf_append(&b, "");
        for (size_t r = 0; r < t->n; r++)
                row_append(&b, t, r);
        return strbuf_steal(&b);
}

static char *shared_bundles_text(const Snap *s) {
        StrBuf b = {};

        strbuf_append(&b, "");
        for (size_t r = 0; r < s->bundles.n; r++)
                if (cell_i64(&s->bundles, r, B_TENANT) == 0)
                        row_append(&b, &s->bundles, r);
        return strbuf_steal(&b);
}

/* What a tenant owns: its instances, their claims and its bundles. `reduced` leaves out what a
 * reclaim may change in another tenant's preemptible instances (their desired state, preempted
 * GPUs and claims). */
static char *tenant_text(const Snap *s, int64_t tenant, bool reduced) {
        StrBuf b = {};

        strbuf_append(&b, "");
        for (size_t r = 0; r < s->instances.n; r++) {
                if (cell_i64(&s->instances, r, I_TENANT) != tenant)
                        continue;
                if (reduced && cell_i64(&s->instances, r, I_PREEMPTIBLE))
                        strbuf_printf(&b, "%s %s\n", cell(&s->instances, r, I_ID),
                                      cell(&s->instances, r, I_NAME));
                else
                        row_append(&b, &s->instances, r);
        }
        for (size_t r = 0; r < s->claims.n; r++) {
                int64_t i = cell_i64(&s->claims, r, C_INSTANCE);

                if (snap_instance_tenant(s, i) == tenant && !(reduced && snap_instance_preemptible(s, i)))
                        row_append(&b, &s->claims, r);
        }
        for (size_t r = 0; r < s->bundles.n; r++)
                if (cell_i64(&s->bundles, r, B_TENANT) == tenant)
                        row_append(&b, &s->bundles, r);
        return strbuf_steal(&b);
}

typedef char *(*PartFn)(const Snap *s);
static char *part_tenants(const Snap *s) {
        return table_text(&s->tenants);
}
static char *part_members(const Snap *s) {
        return table_text(&s->members);
}
static char *part_quotas(const Snap *s) {
        return table_text(&s->quotas);
}
static char *part_holds(const Snap *s) {
        return table_text(&s->holds);
}
static char *part_trust(const Snap *s) {
        return strdup(strempty(s->trust));
}

static const struct {
        const char *what;
        PartFn fn;
} admin_parts[] = {
        { "the tenants", part_tenants },
        { "tenant members", part_members },
        { "quotas", part_quotas },
        { "accelerator holds", part_holds },
        { "shared bundles", shared_bundles_text },
        { "the trusted keys", part_trust },
};

/* A non-admin's call changes nothing outside its own tenants. */
static void check_writes(const Call *c, const Snap *before, const Snap *after, const char *desc) {
        Rights r = rights_of(before, c->role);
        bool reduced = streq(c->member, "CreateInstance");
        int64_t ids[64];
        size_t n = 0;

        if (r.admin)
                return;
        for (size_t k = 0; k < ELEMENTSOF(admin_parts); k++) {
                _cleanup_free_ char *x = admin_parts[k].fn(before), *y = admin_parts[k].fn(after);
                _cleanup_free_ char *key =
                        strprintf("write:%s:%s:%s", admin_parts[k].what, c->member, role_name[c->role]);

                if (!streq_ptr(x, y))
                        finding(KNOWN_NONE, key, "a call %s changed %s, which only an admin may", desc,
                                admin_parts[k].what);
        }
        for (const Snap *s = before; s; s = s == before ? after : NULL)
                for (size_t k = 0; k < s->tenants.n && n < ELEMENTSOF(ids); k++) {
                        int64_t id = cell_i64(&s->tenants, k, T_ID);
                        bool seen = false;

                        for (size_t j = 0; j < n; j++)
                                seen = seen || ids[j] == id;
                        if (!seen)
                                ids[n++] = id;
                }
        for (size_t k = 0; k < n; k++) {
                _cleanup_free_ char *x = NULL, *y = NULL, *key = NULL;

                if (rights_has(&r, ids[k]))
                        continue;
                x = tenant_text(before, ids[k], reduced);
                y = tenant_text(after, ids[k], reduced);
                if (streq_ptr(x, y))
                        continue;
                key = strprintf("write:tenant:%s:%s", c->member, role_name[c->role]);
                finding(KNOWN_NONE, key,
                        "a call %s changed the instances, claims or bundles of tenant '%s', which it is "
                        "not a member of",
                        desc, strna(snap_tenant_name(before, ids[k]) ?: snap_tenant_name(after, ids[k])));
        }
}

/* Whether an instance of `tenant` may use file p, created by an admin or not (docs/api.md, "Files
 * a caller may name"): a file of the image store, the tenant's own (images/tenants/<TENANT>/) or a
 * shared one; for an admin also a file below AdminDirectories= (the harness' directory), but never
 * one inside the state directory other than the image store. Links followed. */
static bool path_allowed(const char *p, const char *tenant, bool admin) {
        _cleanup_free_ char *images = path_join(H.state_dir, "images"),
                            *tenants = path_join(images, "tenants"), *own = path_join(tenants, tenant),
                            *real = realpath(p, NULL);
        const char *q = real ?: p;

        if (!real && (strstr(p, "/../") || strstr(p, "/./")))
                return false;
        if (path_is_below(q, images))
                return !path_is_below(q, tenants) || path_is_below(q, own);
        return admin && path_is_below(q, H.tmp) && !path_is_below(q, H.state_dir) && !streq(q, H.state_dir);
}

/* No instance names a file outside what its creator may name (issue 14, item 1). */
static void check_new_instances(const Call *c, const Snap *before, const Snap *after, const char *desc) {
        static const struct {
                unsigned col;
                const char *what;
        } cols[] = { { I_IMAGE, "Image" }, { I_KERNEL, "Kernel" }, { I_INITRD, "Initrd" } };

        for (size_t k = 0; k < after->instances.n; k++) {
                int64_t id = cell_i64(&after->instances, k, I_ID);
                const char *tenant = snap_tenant_name(after, cell_i64(&after->instances, k, I_TENANT));
                bool old = false;

                for (size_t j = 0; j < before->instances.n; j++)
                        old = old ||
                                (cell_i64(&before->instances, j, I_ID) == id &&
                                 streq(cell(&before->instances, j, I_NAME),
                                       cell(&after->instances, k, I_NAME)));
                if (old)
                        continue;
                for (size_t j = 0; j < ELEMENTSOF(cols); j++) {
                        const char *p = cell(&after->instances, k, cols[j].col);
                        _cleanup_free_ char *key = NULL;

                        if (isempty(p) || path_allowed(p, strempty(tenant), c->role == ROLE_ROOT))
                                continue;
                        key = strprintf("hostpath:%s:%s", cols[j].what, role_name[c->role]);
                        finding(KNOWN_HOST_PATHS, key,
                                "a call %s created instance '%s' whose %s is '%s', a file its "
                                "caller may not name",
                                desc, cell(&after->instances, k, I_NAME), cols[j].what, p);
                }
        }
}

/* The owner of the object at path, by the store before the call: 1 and *ret_tenant (0 = shared)
 * for a tenant, instance or bundle; 0 for other objects or objects that do not exist. */
static int path_owner(const Snap *s, const char *path, int64_t *ret_tenant) {
        _cleanup_free_ char *name = NULL;

        if (sd_bus_path_decode(path, ARK_BUS_PREFIX_TENANT, &name) > 0) {
                *ret_tenant = snap_tenant_id(s, name);
                return *ret_tenant >= 0;
        }
        name = mfree(name);
        {
                _cleanup_free_ char *tenant = NULL;

                if (sd_bus_path_decode_many(path, ARK_BUS_PREFIX_INSTANCE "/%/%", &tenant, &name) > 0) {
                        int64_t t = snap_tenant_id(s, tenant);

                        for (size_t k = 0; t >= 0 && k < s->instances.n; k++)
                                if (streq(cell(&s->instances, k, I_NAME), name) &&
                                    cell_i64(&s->instances, k, I_TENANT) == t) {
                                        *ret_tenant = t;
                                        return 1;
                                }
                        return 0;
                }
        }
        name = mfree(name);
        if (sd_bus_path_decode(path, "/org/ark/Ark1/bundle", &name) > 0) {
                for (size_t k = 0; k < s->bundles.n; k++)
                        if (streq(cell(&s->bundles, k, B_ID), name)) {
                                *ret_tenant = cell_i64(&s->bundles, k, B_TENANT);
                                return 1;
                        }
        }
        return 0;
}

static const char *path_kind(const char *path) {
        if (streq(path, ARK_BUS_PATH))
                return "manager";
        if (startswith(path, ARK_BUS_PREFIX_TENANT "/"))
                return "tenant";
        if (startswith(path, ARK_BUS_PREFIX_INSTANCE "/"))
                return "instance";
        if (startswith(path, ARK_BUS_PREFIX_ACCELERATOR "/"))
                return "accelerator";
        if (startswith(path, "/org/ark/Ark1/bundle/"))
                return "bundle";
        return "node";
}

/* Who gets an answer from what (docs/api.md, "Who may do what"). */
static void check_visibility(const Call *c, const Result *res, const Snap *before, const char *desc) {
        Rights r = rights_of(before, c->role);
        bool std = streq(c->iface, "org.freedesktop.DBus.Peer") ||
                streq(c->iface, "org.freedesktop.DBus.Introspectable");
        bool props = streq(c->iface, "org.freedesktop.DBus.Properties") && !streq(c->member, "Set");
        int64_t owner = -1;
        bool owned = path_owner(before, c->path, &owner) > 0;

        if (r.admin || !res->ok || std || streq(path_kind(c->path), "node"))
                return;
        if (owned && owner != 0 && !rights_has(&r, owner)) {
                _cleanup_free_ char *key = strprintf("foreign:%s:%s.%s:%s", path_kind(c->path), c->iface,
                                                     c->member, role_name[c->role]);

                finding(KNOWN_NONE, key,
                        "a call %s was answered, on an object of tenant '%s' it is not a member of", desc,
                        strna(snap_tenant_name(before, owner)));
        }
        if (r.n == 0) {
                bool allowed =
                        (streq(c->path, ARK_BUS_PATH) &&
                         (props || streq(c->member, "ListBundles") || streq(c->member, "ListTrustedKeys") ||
                          streq(c->member, "GetManagedObjects"))) ||
                        (owned && owner == 0 && props);
                _cleanup_free_ char *key =
                        strprintf("none:%s:%s.%s", path_kind(c->path), c->iface, c->member);

                if (!allowed)
                        finding(startswith(c->path, ARK_BUS_PREFIX_ACCELERATOR "/") ? KNOWN_ACCELERATORS
                                                                                    : KNOWN_NONE,
                                key,
                                "a call %s, by a user in no tenant, was answered; it may read only the "
                                "manager's "
                                "properties, the shared bundles and the trusted keys",
                                desc);
        }
}

static Known classify_leak(const Call *c, const Needle *n, const Leak *l, const Snap *before) {
        Rights r = rights_of(before, c->role);
        const Hist *h;

        if (strstr(l->context, "claimed by") || strstr(l->context, "claims "))
                return KNOWN_CLAIMER;
        /* A deleted tenant's history shown to the members of a new tenant of the same name. */
        h = hist_find('i', n->name);
        if (streq(c->member, "GetUsageReport") && h)
                for (size_t k = 0; k < h->n_owners; k++) {
                        int64_t inc = h->owners[k];

                        /* An owner deleted since, of the same name as a tenant the caller is in. */
                        if (inc <= 0 || incarnation_alive(before, inc))
                                continue;
                        for (size_t j = 0; j < r.n; j++)
                                if (streq_ptr(snap_tenant_name(before, r.ids[j]), F.incs[inc - 1].name))
                                        return KNOWN_USAGE_NAMES;
                }
        return KNOWN_NONE;
}

/* Who owned `name`, ever: "instance of tenant 'x' (id 3, deleted), ...". */
static char *owners_text(const char *name, const Snap *s) {
        StrBuf b = {};

        strbuf_append(&b, "");
        for (size_t k = 0; k < F.n_hist; k++) {
                const Hist *h = &F.hist[k];

                if (!streq(h->name, name))
                        continue;
                for (size_t o = 0; o < h->n_owners; o++) {
                        int64_t inc = h->owners[o];
                        const Incarnation *i = inc > 0 ? &F.incs[inc - 1] : NULL;
                        const char *gone = incarnation_alive(s, inc) ? "" : ", deleted";

                        if (!i)
                                strbuf_printf(&b, "%sshared %s", b.len ? ", " : "", kind_noun(h->kind));
                        else if (h->kind == 't')
                                strbuf_printf(&b, "%stenant (id %" PRIi64 "%s)", b.len ? ", " : "", i->id,
                                              gone);
                        else
                                strbuf_printf(&b, "%s%s of tenant '%s' (id %" PRIi64 "%s)",
                                              b.len ? ", " : "", kind_noun(h->kind), i->name, i->id, gone);
                }
        }
        return strbuf_steal(&b);
}

/* 1 when s holds a control character (C0, DEL, C1), 2 a bidirectional formatting one (U+200E/F,
 * U+202A..E, U+2066..9, U+061C), else 0. */
static int bad_text(const char *s) {
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if (*p < 0x20 || *p == 0x7f || (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f))
                        return 1;
                if (p[0] == 0xe2 && p[1] == 0x80 &&
                    (p[2] == 0x8e || p[2] == 0x8f || (p[2] >= 0xaa && p[2] <= 0xae)))
                        return 2;
                if ((p[0] == 0xe2 && p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9) ||
                    (p[0] == 0xd8 && p[1] == 0x9c))
                        return 2;
        }
        return 0;
}

static bool snap_has_text(const Table *t, size_t col, const char *text) {
        for (size_t k = 0; k < t->n; k++)
                if (streq(cell(t, k, col), text))
                        return true;
        return false;
}

/* What the call stored that a console shows: no control or bidirectional formatting characters in
 * tenant descriptions and hold reasons (docs/api.md; issue 14 item 8). And no audit row keeps a
 * huge argument (item 3). */
static void check_stored_text(const Call *c, const Snap *before, const Snap *after, const char *desc) {
        static const struct {
                size_t table, col;
                const char *what;
        } fields[] = { { 0, T_DESCRIPTION, "tenant description" }, { 1, H_REASON, "hold reason" } };

        for (size_t f = 0; f < ELEMENTSOF(fields); f++) {
                const Table *ta = fields[f].table == 0 ? &after->tenants : &after->holds;
                const Table *tb = fields[f].table == 0 ? &before->tenants : &before->holds;

                for (size_t k = 0; k < ta->n; k++) {
                        const char *text = cell(ta, k, fields[f].col);
                        int bad = bad_text(text);
                        _cleanup_free_ char *key = NULL;

                        if (!bad || snap_has_text(tb, fields[f].col, text))
                                continue;
                        key = strprintf("text:%d:%s:%s", bad, fields[f].what, c->member);
                        finding(bad == 2 ? KNOWN_BIDI : KNOWN_NONE, key,
                                "a call %s stored a %s with %s characters", desc, fields[f].what,
                                bad == 2 ? "bidirectional formatting" : "control");
                }
        }
        if (after->audit_args_max > AUDIT_ARGUMENTS_MAX && after->audit_args_max > before->audit_args_max) {
                _cleanup_free_ char *key = strprintf("audit-huge:%s", c->member);
                finding(KNOWN_HUGE_ARGS, key,
                        "a call %s made the audit log keep %" PRIi64 " bytes of its arguments", desc,
                        after->audit_args_max);
        }
}

/* docs/api.md "Limits": the longest string of an argument, in bytes. */
static size_t string_limit(const char *member, const char *argname) {
        if (streq(member, "TrustKey"))
                return 16384;
        if (streq(member, "CreateInstance") &&
            (streq_ptr(argname, "Image") || streq_ptr(argname, "Kernel") || streq_ptr(argname, "Initrd") ||
             streq_ptr(argname, "Cmdline")))
                return 4096;
        return 1024;
}

/* What an answered call of an Ark method must have been within (docs/api.md, "Limits"). Returns
 * a sentence (free it) for the first argument that is not, or NULL. */
static char *over_limit(const Call *c, const Value *v, const char *argname, unsigned depth) {
        if (v->type == 's' && v->s) {
                size_t l = strlen(v->s), max = string_limit(c->member, argname);
                _cleanup_free_ char *text = strdup(v->s);
                int bad;

                if (l > max)
                        return strprintf("a string of %zu bytes (at most %zu)", l, max);
                /* Only a PEM key may hold line breaks. */
                for (char *p = text; streq(c->member, "TrustKey") && p && *p; p++)
                        if (*p == '\n' || *p == '\r')
                                *p = ' ';
                bad = text ? bad_text(text) : 0;
                if (bad)
                        return strprintf("a string with %s characters",
                                         bad == 2 ? "bidirectional formatting" : "control");
        }
        if (v->type == 'a' && v->contents && v->contents[0] != '{' &&
            v->n_items > (streq(c->member, "CheckHost") ? 256u : 64u))
                return strprintf("an array of %zu elements", v->n_items);
        if (v->type == 'a' && streq_ptr(v->contents, "{sv}") && v->n_items > 32)
                return strprintf("a spec of %zu keys", v->n_items);
        for (size_t k = 0; k < v->n_items; k++) {
                const Value *item = &v->items[k];
                const char *name = argname;
                char *r;

                /* A spec's values are limited by their key. */
                if (v->type == 'e' && k == 1 && v->items[0].s)
                        name = v->items[0].s;
                r = over_limit(c, item, name, depth + 1);
                if (r)
                        return r;
        }
        return NULL;
}

static void check_limits(const Call *c, const Result *res, const char *desc) {
        _cleanup_free_ char *why = NULL, *key = NULL;

        if (!res->ok || !startswith(c->iface, "org.ark."))
                return;
        why = over_limit(c, &c->args, NULL, 0);
        if (!why)
                return;
        key = strprintf("limits:%s", c->member);
        finding(KNOWN_NONE, key, "a call %s was answered although it has %s (docs/api.md, Limits)", desc,
                why);
}

static bool error_is_fatal(const char *name) {
        return streq(name, "org.freedesktop.DBus.Error.NoReply") ||
                streq(name, "org.freedesktop.DBus.Error.ServiceUnknown") ||
                streq(name, "org.freedesktop.DBus.Error.NameHasNoOwner") ||
                streq(name, "org.freedesktop.DBus.Error.Disconnected") ||
                streq(name, "org.freedesktop.DBus.Error.Timeout") ||
                streq(name, "org.freedesktop.DBus.Error.TimedOut");
}

/* Every failure is a named error (docs/api.md, "Errors"); sd-bus' own for a malformed call. */
static bool error_is_named(const char *name) {
        if (startswith(name, "org.ark.Ark1.Error."))
                return true;
        return startswith(name, "org.freedesktop.DBus.Error.") &&
                !streq(name, "org.freedesktop.DBus.Error.Failed") &&
                !streq(name, "org.freedesktop.DBus.Error.NoMemory") &&
                !streq(name, "org.freedesktop.DBus.Error.LimitsExceeded") && !error_is_fatal(name);
}

static void check_call(const Call *c, const Result *res, const Needle *needles, const Snap *before,
                       const Snap *after, const char *desc) {
        if (res->failed) {
                finding(KNOWN_NONE, "child", "a call %s could not be made: %s", desc,
                        strna(res->child_error));
                return;
        }
        if (res->timed_out) {
                _cleanup_free_ char *key = strprintf("hang:%s", c->member);
                finding(KNOWN_NONE, key, "a call %s was not answered within %llu s", desc,
                        (unsigned long long) (CALL_TIMEOUT_USEC / USEC_PER_SEC));
        }
        if (res->probe_blocked) {
                _cleanup_free_ char *key = strprintf("blocked:%s", c->member);
                finding(KNOWN_NONE, key,
                        "while a call %s held its pipe open, arkd did not answer Manager.Version "
                        "within 3 s",
                        desc);
        }
        if (res->error) {
                _cleanup_free_ char *key = strprintf("error:%s:%s", res->error, c->member);

                count_error(res->error);
                if (error_is_fatal(res->error))
                        finding(KNOWN_NONE, key, "a call %s got %s (\"%.200s\")", desc, res->error,
                                strempty(res->message));
                else if (!error_is_named(res->error))
                        finding(KNOWN_NONE, key, "a call %s failed with %s (\"%.200s\"), not a named error",
                                desc, res->error, strempty(res->message));
        }
        if (res->message && strlen(res->message) > ERROR_MESSAGE_MAX) {
                _cleanup_free_ char *key = strprintf("echo:%s", c->member);
                finding(KNOWN_LONG_ERRORS, key, "a call %s got an error message of %zu bytes (\"%.80s...\")",
                        desc, strlen(res->message), res->message);
        }
        for (size_t k = 0; k < res->n_leaks; k++) {
                const Needle *n = &needles[res->leaks[k].needle];
                Known known = classify_leak(c, n, &res->leaks[k], before);
                _cleanup_free_ char *key =
                        strprintf("leak:%s.%s:%s:%c:%s:%u", c->iface, c->member, role_name[c->role], n->kind,
                                  res->leaks[k].where, known);

                _cleanup_free_ char *owners = owners_text(n->name, before);

                finding(known, key,
                        "a call %s was shown %s, which belongs to a tenant it is not a member of (%s), in "
                        "%s: \"%s\"",
                        desc, n->what, owners, res->leaks[k].where, res->leaks[k].context);
        }
        check_writes(c, before, after, desc);
        check_stored_text(c, before, after, desc);
        check_limits(c, res, desc);
        if (streq(c->member, "ListAuditLog") && res->reply_bytes > 8 * 1024 * 1024) {
                _cleanup_free_ char *key = strprintf("audit-page:%s", role_name[c->role]);
                finding(KNOWN_NONE, key,
                        "a call %s got a reply of %" PRIu64 " bytes of text (pages are about 4 MiB)", desc,
                        res->reply_bytes);
        }
        if (res->ok || res->vanished)
                check_new_instances(c, before, after, desc);
        check_visibility(c, res, before, desc);
}

/* ------------------------------------------------------------------------------------------------
 * Running a call: needles, the child, the store after, the checks. */
static uint64_t throttled_until[_ROLE_MAX];

static void settle(void) {
        _cleanup_free_ char *last = NULL;

        /* A call whose caller went away (or timed out) may still be running in arkd: wait until the
         * store stops changing before blaming the next call for what it does. */
        for (unsigned k = 0; k < 50; k++) {
                Snap s;
                StrBuf b = {};
                char *now;

                if (snap_read(&s) < 0)
                        return;
                for (size_t j = 0; j < ELEMENTSOF(admin_parts); j++) {
                        _cleanup_free_ char *x = admin_parts[j].fn(&s);
                        strbuf_append(&b, strempty(x));
                }
                {
                        _cleanup_free_ char *i = table_text(&s.instances), *cl = table_text(&s.claims),
                                            *bu = table_text(&s.bundles);
                        strbuf_append(&b, strempty(i));
                        strbuf_append(&b, strempty(cl));
                        strbuf_append(&b, strempty(bu));
                }
                snap_done(&s);
                now = strbuf_steal(&b);
                if (last && streq_ptr(last, now)) {
                        free(now);
                        return;
                }
                free(last);
                last = now;
                usleep(200 * 1000);
        }
}

static void differential(const Call *c, const Result *res, const Snap *before, const char *desc);

static void exec_call(const Call *c, Result *ret) {
        _cleanup_free_ char *desc = NULL;
        Needle *needles;
        size_t n_needles;
        Snap before;

        {
                _cleanup_free_ char *d = describe_call(c);
                desc = strprintf("#%u %s", F.n_calls + 1, strempty(d));
        }
        needles = needles_for(c, &n_needles);
        before = F.snap;
        F.snap = (Snap) {};
        run_call(c, needles, n_needles, ret);
        F.n_calls++;
        F.calls[c->role]++;
        if (ret->ok)
                F.ok[c->role]++;
        if (ret->vanished)
                F.n_vanished++;
        if (ret->error && streq(ret->error, "org.ark.Ark1.Error.TooManyRequests"))
                throttled_until[c->role] = now_usec() + 1100 * 1000ULL;
        if (ret->vanished || ret->timed_out)
                settle();
        if (refresh() < 0) {
                finding(KNOWN_NONE, "store-read", "after a call %s the store could not be read", desc);
                F.snap = before;
                needles_free(needles, n_needles);
                F.stop = true;
                return;
        }
        if (F.verbose)
                fprintf(stderr, "api-fuzz: %s -> %s%s%.160s\n", desc,
                        ret->ok                 ? "ok"
                                : ret->vanished ? "(gone)"
                                                : strna(ret->error),
                        ret->message ? ": " : "", strempty(ret->message));
        check_call(c, ret, needles, &before, &F.snap, desc);
        if (!streq(c->origin, "ghost"))
                differential(c, ret, &before, desc);
        snap_done(&before);
        needles_free(needles, n_needles);
}

/* Whether the mismatch of o and g at i is one of `name` in o where g has `ghost` (both as long),
 * whole or cut short. */
static bool mismatch_is_name(const char *o, const char *g, size_t i, const char *name, const char *ghost) {
        size_t l = strlen(name);

        for (size_t s = i + 1 >= l ? i + 1 - l : 0; s <= i; s++)
                if (memcmp(o + s, name, i - s + 1) == 0 && memcmp(g + s, ghost, i - s + 1) == 0)
                        return true;
        return false;
}

/* Whether sentence o (about `name`) and g (about `ghost`) read the same but for the names, as they
 * are or encoded in object paths, whole or where a sentence was cut short. */
static bool same_but_names(const char *o, const char *g, const char *name, const char *ghost, const char *el,
                           const char *ghost_el) {
        size_t l = strlen(o);

        if (strlen(g) != l)
                return false;
        for (size_t i = 0; i < l; i++)
                if (o[i] != g[i] && !mismatch_is_name(o, g, i, name, ghost) &&
                    !mismatch_is_name(o, g, i, el, ghost_el))
                        return false;
        return true;
}

/* A name that never existed, as long as `name` (so that a sentence cut to a length, or one that
 * counts bytes, reads the same), with as many '-' (the same length as an object path element). */
static char *ghost_name(const char *name) {
        size_t l = strlen(name), dashes = 0;
        unsigned n = ++F.ghost_counter;
        char *g;

        for (const char *p = name; *p; p++)
                dashes += *p == '-';
        g = strprintf(GHOST_PREFIX "%0*u", (int) (l > 3 ? l - 3 : 1), n);
        assert_non_null(g);
        /* Keep the number of '-' (pool names have one; a longer name may have more). */
        for (size_t k = 4; dashes > 1 && k + 1 < strlen(g); k += 2, dashes--)
                g[k] = '-';
        return g;
}

/* Existence oracles: a refused call that names an object of another tenant is made again with a
 * name that never existed; it must be refused alike (the same error, the same sentence). A ghost
 * call that succeeds is counted (and reported as an oracle). */
static void differential(const Call *c, const Result *res, const Snap *before, const char *desc) {
        Rights r = rights_of(before, c->role);
        _cleanup_(strv_freep) char **cands = NULL;
        _cleanup_free_ char *ghost = NULL, *el = NULL, *ghost_el = NULL;
        Result g = {};
        Call gc;
        const char *name;
        char kind = 0;

        if (r.admin || res->ok || !res->error || res->timed_out || res->vanished || res->failed ||
            streq(res->error, "org.ark.Ark1.Error.TooManyRequests"))
                return;
        for (size_t k = 0; k < before->tenants.n; k++)
                if (!rights_has(&r, cell_i64(&before->tenants, k, T_ID)))
                        (void) strv_extend(&cands, cell(&before->tenants, k, T_NAME));
        for (size_t k = 0; k < before->instances.n; k++)
                if (!rights_has(&r, cell_i64(&before->instances, k, I_TENANT)))
                        (void) strv_extend(&cands, cell(&before->instances, k, I_NAME));
        for (size_t k = 0; k < before->bundles.n; k++) {
                const char *b = cell(&before->bundles, k, B_NAME);
                bool visible = false;

                for (size_t j = 0; j < before->bundles.n; j++)
                        if (streq(cell(&before->bundles, j, B_NAME), b)) {
                                int64_t t = cell_i64(&before->bundles, j, B_TENANT);
                                visible = visible || t == 0 || rights_has(&r, t);
                        }
                if (!visible)
                        (void) strv_extend(&cands, b);
        }
        /* The first tracked candidate the call names in its arguments or path. */
        name = NULL;
        for (char **p = cands; p && *p && !name; p++) {
                _cleanup_free_ char *e = path_element(*p);

                /* Not a name the caller may see under another hat (its own instance of that name). */
                if (name_is_tracked(*p) && !startswith(*p, GHOST_PREFIX) && !name_allowed(*p, &r) &&
                    (value_names(&c->args, *p, e) || (e && find_word(c->path, strlen(c->path), e, true))))
                        name = *p;
        }
        if (!name)
                return;
        kind = 'b';
        for (size_t k = 0; k < before->instances.n; k++)
                if (streq(cell(&before->instances, k, I_NAME), name))
                        kind = 'i';
        if (snap_tenant_id(before, name) >= 0)
                kind = 't';
        ghost = ghost_name(name);
        el = path_element(name);
        ghost_el = path_element(ghost);
        assert_true(ghost && el && ghost_el);
        call_copy(&gc, c);
        gc.origin = "ghost";
        value_subst(&gc.args, name, ghost, el, ghost_el);
        replace_word(&gc.path, el, ghost_el, true);
        F.n_ghosts++;
        exec_call(&gc, &g);
        if (g.ok)
                F.n_ghosts_answered++;
        if (g.ok ||
            (g.error && !g.timed_out && !streq(g.error, "org.ark.Ark1.Error.TooManyRequests") &&
             (!streq(g.error, res->error) ||
              !same_but_names(strempty(res->message), strempty(g.message), name, ghost, el, ghost_el)))) {
                _cleanup_free_ char *key =
                        strprintf("oracle:%s.%s:%c:%s", c->iface, c->member, kind, role_name[c->role]);

                finding(KNOWN_ORACLE, key,
                        "a call %s tells whether %s '%s' of another tenant exists: it answers "
                        "%s (\"%.200s\"), and %s (\"%.200s\") for '%s', which does not exist",
                        desc, kind_noun(kind), name, res->error, strempty(res->message),
                        g.ok ? "success" : g.error, strempty(g.message), ghost);
        }
        result_done(&g);
        call_done(&gc);
}

/* ------------------------------------------------------------------------------------------------
 * The generator: arguments from the signature, strings from a dictionary chosen by the argument's
 * name. Names of other kinds of things go everywhere too: that is how collisions happen. */
static struct {
        char **paths;     /* host files and the store's own */
        char **users;     /* for AddMember/RemoveMember */
        char **pems;      /* for TrustKey */
        char **key_ids;   /* for UntrustKey/RevokeKey: never the main key for RevokeKey */
        char **addresses; /* the fixture's GPUs and a few other PCI addresses */
} D;

#define R (&F.rng)

static const char *const odd_strings[] = {
        "",
        " ",
        "-",
        "Tq-Amber",
        "tq-amber-",
        "tq_amber",
        "tq amber",
        "tq-amber\n",
        "TQ-AMBER",
        "iq-gale.",
        "..",
        "../..",
        "/",
        "%s%s%n",
        "'",
        "\"",
        "$(id)",
        ";id",
        "\xe2\x80\xae"
        "rebma-qt",
        "\x01",
        "\x1b[31mred",
        "\xc3\xbc",
        "\xe5\x90\x8d\xe5\x89\x8d",
        "\xf0\x9f\x92\xa5",
        "\xc2\x85",
        "0",
        "-1",
        "18446744073709551615",
        "NaN",
        "{}",
        "null",
        "gpus=2",
        "gpus=-1",
        "memory=1G",
        "vm",
        "Zz9",
        "tq-amber/../tq-basalt",
        "*",
        "?",
};

static const char *const texts[] = {
        "",
        "fuzz",
        "A tenant the fuzzer made",
        "\xc3\x9cn\xc3\xaf"
        "c\xc3\xb6"
        "d\xc3\xa9 \xe5\x90\x8d",
        "tab\there",
        "line\nbreak",
        "\x1b[2J\x1b[H",
        "\x7f",
        "\xc2\x9b"
        "31m",
        "\xe2\x80\xae"
        "gnp.exe",
        "left\xe2\x80\x8fright",
        "\xe2\x81\xa6"
        "isolate"
        "\xe2\x81\xa9",
        "\xd8\x9c"
        "alm",
        "%s%s%s%n",
        "'; DROP TABLE tenants; --",
        "\xef\xbb\xbf"
        "bom",
        "\xf0\x9f\x92\xa5",
        "console=ttyS0",
        "quiet",
};

static const char *const quota_resources[] = {
        "gpus", "gpus", "gpu-memory", "vcpus", "memory", "disk", "instances", "GPUS", "gpus ", "cpus", "",
};

static const char *const gpu_models[] = { "",     "",    "H100",      "h100", "NVIDIA",
                                          "A100", "A10", "H100 SXM5", "%",    "H100\n" };

typedef struct Ctx {
        const char *member, *argname;
} Ctx;

static char *gen_fill(size_t n, const char *unit) {
        size_t u = strlen(unit);
        char *s;

        if (n > bytes_left) /* over the call's budget: short, whole units */
                n = MIN(n, 16 * u);
        bytes_left -= MIN(n, bytes_left);
        s = malloc(n + 1);

        assert_non_null(s);
        for (size_t k = 0; k < n; k++)
                s[k] = unit[k % u];
        s[n] = 0;
        return s;
}

static char *gen_long(void) {
        static const size_t sizes[] = { 64, 255, 256, 257, 1024, 4096, 65536 };
        static const char *const units[] = { "x", "A", "tq-amber ", "\xe2\x80\xae" };
        size_t n = PICK(R, sizes);
        const char *u = PICK(R, units);

        return gen_fill(n - n % strlen(u), u);
}

static char *gen_huge(void) {
        return gen_fill((size_t) (1 + rng_below(R, 4)) << 20, rng_chance(R, 80) ? "A" : "iq-gale ");
}

static char *gen_text(void) {
        unsigned k = (unsigned) rng_below(R, 1000);

        if (k < 2)
                return gen_huge();
        if (k < 60)
                return gen_fill(PICK(R, ((const size_t[]) { 256, 257, 1000, 4096 })), "x");
        return strdup(PICK(R, texts));
}

static char *gen_pick(char **list) {
        size_t n = strv_length(list);
        return strdup(n ? list[rng_below(R, n)] : "");
}

static char *gen_pool_name(void) {
        switch (rng_below(R, 3)) {
        case 0:
                return strdup(PICK(R, tenant_pool));
        case 1:
                return strdup(PICK(R, instance_pool));
        default:
                return strdup(PICK(R, bundle_pool));
        }
}

/* Printable junk that is never a valid name (it starts with a capital). */
static char *gen_junk(void) {
        size_t n = 1 + rng_below(R, 40);
        char *s = malloc(n + 2);

        assert_non_null(s);
        s[0] = 'Z';
        for (size_t k = 1; k <= n; k++)
                s[k] = (char) (0x21 + rng_below(R, 0x5e));
        s[n + 1] = 0;
        return s;
}

static char *gen_generic(void) {
        switch (rng_below(R, 10)) {
        case 0:
        case 1:
        case 2:
                return gen_pool_name();
        case 3:
                return strdup(PICK(R, odd_strings));
        case 4:
                return gen_pick(D.paths);
        case 5:
                return gen_pick(D.addresses);
        case 6:
                return strdup(rng_chance(R, 50) ? PICK(R, quota_resources) : PICK(R, gpu_models));
        case 7:
                return gen_pick(D.users);
        case 8:
                return gen_text();
        default:
                return gen_junk();
        }
}

static char *gen_string(const Ctx *ctx) {
        const char *a = strempty(ctx->argname), *m = strempty(ctx->member);
        unsigned k = (unsigned) rng_below(R, 1000);

        if (k < 2)
                return gen_huge();
        if (k < 12)
                return gen_long();
        if (streq(a, "description") || streq(a, "reason") || streq(a, "Cmdline"))
                return gen_text();
        if (rng_chance(R, 75)) {
                if (streq(a, "name")) {
                        if (streq(m, "AddMember") || streq(m, "RemoveMember"))
                                return gen_pick(D.users);
                        if (strstr(m, "Tenant"))
                                return strdup(PICK(R, tenant_pool));
                        if (strstr(m, "Instance"))
                                return rng_chance(R, 25)
                                        ? strprintf("%s/%s", PICK(R, tenant_pool), PICK(R, instance_pool))
                                        : strdup(PICK(R, instance_pool));
                        if (streq(m, "ImportBundle"))
                                return strdup(rng_chance(R, 50) ? "model.ark" : PICK(R, bundle_pool));
                }
                if (streq(a, "tenant"))
                        return strdup(rng_chance(R, 15) ? "" : PICK(R, tenant_pool));
                if (streq(a, "kind"))
                        return strdup(rng_chance(R, 50) ? "user" : "group");
                if (streq(a, "resource"))
                        return strdup(PICK(R, quota_resources));
                if (streq(a, "model"))
                        return strdup(PICK(R, gpu_models));
                if (streq(a, "public_key_pem"))
                        return gen_pick(D.pems);
                if (streq(a, "key_id")) {
                        if (streq(m, "RevokeKey"))
                                return strdup(rng_chance(R, 50) ? F.spare_key_id : "0123456789abcdef");
                        return gen_pick(D.key_ids);
                }
                if (streq(a, "addresses") || streq(a, "accelerators") || streq(a, "GPUAddresses"))
                        return gen_pick(D.addresses);
                if (streq(a, "interface"))
                        return strdup(PICK(
                                R,
                                ((const char *const[]) { ARK_BUS_IFACE_MANAGER, ARK_BUS_IFACE_TENANT,
                                                         ARK_BUS_IFACE_INSTANCE, ARK_BUS_IFACE_ACCELERATOR,
                                                         "org.ark.Ark1.Bundle", "" })));
        }
        return gen_generic();
}

static uint64_t gen_int(const Ctx *ctx, unsigned bits) {
        uint64_t max = bits >= 64 ? UINT64_MAX : (1ULL << bits) - 1, now = realtime_usec();
        const char *a = strempty(ctx->argname);

        if (rng_chance(R, 70)) {
                if (streq(a, "timeout"))
                        return PICK(R, ((const uint64_t[]) { 0, 1, 1, 2, 5 }));
                if (streq(a, "count"))
                        return PICK(R, ((const uint64_t[]) { 0, 1, 1, 2, 3, 9 }));
                if (streq(a, "max"))
                        return PICK(R, ((const uint64_t[]) { 0, 1, 5, 100 }));
                if (streq(a, "after"))
                        return PICK(R, ((const uint64_t[]) { 0, 1, 10, UINT64_MAX }));
                if (streq(a, "from"))
                        return PICK(R, ((const uint64_t[]) { 0, now - 3600 * USEC_PER_SEC, now }));
                if (streq(a, "to"))
                        return PICK(R,
                                    ((const uint64_t[]) { 0, now, now + 3600 * USEC_PER_SEC, UINT64_MAX }));
                if (streq(a, "guarantee"))
                        return PICK(R, ((const uint64_t[]) { 0, 0, 1, 2, 4, 9 }));
                if (streq(a, "limit"))
                        return PICK(
                                R,
                                ((const uint64_t[]) { 0, 1, 2, 4, 8, UINT64_MAX, UINT64_MAX, 1ULL << 40 }));
                if (streq(a, "id"))
                        return PICK(R, ((const uint64_t[]) { 0, 1, 2, 3 }));
        }
        switch (rng_below(R, 9)) {
        case 0:
                return 0;
        case 1:
                return 1;
        case 2:
                return 2;
        case 3:
                return max;
        case 4:
                return max - 1;
        case 5:
                return max / 2;
        case 6:
                return max / 2 + 1;
        case 7:
                return rng_below(R, 16);
        default:
                return rng_u64(R) & max;
        }
}

/* The length of the first complete type of sig. */
static size_t sig_one(const char *s) {
        size_t k;

        if (*s == 'a')
                return 1 + sig_one(s + 1);
        if (*s == '(' || *s == '{') {
                char close = *s == '(' ? ')' : '}';

                for (k = 1; s[k] && s[k] != close; k += sig_one(s + k))
                        ;
                return s[k] ? k + 1 : k;
        }
        return *s ? 1 : 0;
}

static void gen_value(Value *v, const char *sig, size_t len, const Ctx *ctx);

/* How deep the value being generated is nested: D-Bus allows 32 levels of arrays and of structs
 * (64 in all), and a message past that is malformed (the bus drops its sender). */
static unsigned gen_depth;
#define GEN_DEPTH_MAX 12

static void gen_variant(Value *v, const Ctx *ctx) {
        static const char *const sigs[] = {
                "s", "s", "u", "t", "b", "i", "as", "d", "o", "g", "y", "a{sv}"
        };
        /* Deep enough: a plain value ends the nesting. */
        const char *sig = gen_depth < GEN_DEPTH_MAX ? PICK(R, sigs) : "s";

        v->type = 'v';
        v->contents = strdup(sig);
        gen_value(value_push(v), sig, strlen(sig), ctx);
}

static char *gen_object_path(void) {
        if (F.n_objects > 0 && rng_chance(R, 90))
                return strdup(F.objects[rng_below(R, F.n_objects)].path);
        return strdup(PICK(
                R, ((const char *const[]) { "/", "/org/ark/Ark1/instance/zz_2dnothing", "/org/ark/Ark1" })));
}

/* One value of a CreateInstance spec, mostly of the right type and in a plausible range. */
static void gen_spec_value(Value *spec, const char *key) {
        Ctx ctx = { .member = "CreateInstance", .argname = key };
        Value *v;

        if (rng_chance(R, 12)) {
                Value *e = value_push(spec);

                e->type = 'e';
                e->contents = strdup("sv");
                value_push(e)->type = 's';
                e->items[0].s = strdup(key);
                gen_variant(value_push(e), &ctx);
                return;
        }
        if (streq(key, "Name"))
                spec_str(spec, key, rng_chance(R, 80) ? PICK(R, instance_pool) : PICK(R, odd_strings));
        else if (streq(key, "Tenant"))
                spec_str(spec, key, rng_chance(R, 85) ? PICK(R, tenant_pool) : PICK(R, odd_strings));
        else if (streq(key, "Type"))
                spec_str(spec, key,
                         rng_chance(R, 80) ? "vm"
                                           : PICK(R, ((const char *const[]) { "container", "", "VM" })));
        else if (streq(key, "VCPUs"))
                spec_num(spec, key, "u",
                         PICK(R, ((const uint64_t[]) { 1, 1, 2, 4, 0, 4096, 4097, UINT32_MAX })));
        else if (streq(key, "MemoryBytes"))
                spec_num(spec, key, "t",
                         PICK(R,
                              ((const uint64_t[]) { 64 << 20, 256 << 20, 256 << 20, 1 << 30, 16 << 20,
                                                    (16 << 20) - 1024, 1, (1 << 30) + 1, UINT64_MAX,
                                                    2ULL << 40 })));
        else if (streq(key, "DiskBytes"))
                spec_num(spec, key, "t",
                         PICK(R,
                              ((const uint64_t[]) { 0, 1 << 20, 64 << 20, 513, (64ULL << 40) + 512,
                                                    UINT64_MAX })));
        else if (streq(key, "Image")) {
                v = spec_entry(spec, key, "s");
                v->s = rng_chance(R, 40) ? strdup(F.image_name) : gen_pick(D.paths);
        } else if (streq(key, "Kernel") || streq(key, "Initrd")) {
                v = spec_entry(spec, key, "s");
                v->s = rng_chance(R, 50) ? strdup(F.kernel_path) : gen_pick(D.paths);
        } else if (streq(key, "Cmdline"))
                spec_entry(spec, key, "s")->s = gen_text();
        else if (streq(key, "Start") || streq(key, "Preemptible"))
                spec_num(spec, key, "b", rng_below(R, 2));
        else if (streq(key, "GPUs"))
                spec_num(spec, key, "u", PICK(R, ((const uint64_t[]) { 0, 1, 1, 2, 3, 8, 9, UINT32_MAX })));
        else if (streq(key, "GPUModel"))
                spec_str(spec, key, PICK(R, gpu_models));
        else if (streq(key, "GPUAddresses")) {
                size_t n = rng_below(R, 4);

                v = spec_entry(spec, key, "as");
                for (size_t k = 0; k < n; k++) {
                        Value *s = value_push(v);
                        s->type = 's';
                        s->s = gen_pick(D.addresses);
                }
        } else if (streq(key, "MIGProfile"))
                spec_str(spec, key,
                         PICK(R,
                              ((const char *const[]) { "3g.40gb", "1g.10gb", "7g.80gb", "8g.90gb", "",
                                                       "3G.40GB" })));
        else if (streq(key, "GPUShareMilli"))
                spec_num(spec, key, "u",
                         PICK(R, ((const uint64_t[]) { 0, 1, 250, 500, 999, 1000, UINT32_MAX })));
        else if (streq(key, "GPUMemoryBytes"))
                spec_num(spec, key, "t",
                         PICK(R, ((const uint64_t[]) { 0, 1, 10ULL << 30, 81ULL << 30, UINT64_MAX })));
        else if (streq(key, "Model"))
                spec_str(spec, key,
                         PICK(R,
                              ((const char *const[]) { "bq-orca", "bq-orca@1", "bq-orca@2", "bq-lynx",
                                                       "bq-lynx@1", "bq-orca@9", "@", "", "bq-orca@" })));
        else
                spec_entry(spec, key, "s")->s = gen_generic();
}

static void gen_spec(Value *v) {
        static const char *const keys[] = { "Name",        "Tenant",        "Type",          "VCPUs",
                                            "MemoryBytes", "DiskBytes",     "Image",         "Kernel",
                                            "Initrd",      "Cmdline",       "Start",         "GPUs",
                                            "GPUModel",    "GPUAddresses",  "Preemptible",   "Model",
                                            "MIGProfile",  "GPUShareMilli", "GPUMemoryBytes" };

        for (size_t k = 0; k < ELEMENTSOF(keys); k++) {
                bool required = k == 0 || k == 1 || k == 3 || k == 4;

                if (rng_chance(R, required ? 88 : 22))
                        gen_spec_value(v, keys[k]);
        }
        if (rng_chance(R, 4))
                gen_spec_value(v, PICK(R, ((const char *const[]) { "Bogus", "name", "", "Name" })));
}

static void gen_value_at(Value *v, const char *sig, size_t len, const Ctx *ctx);

static void gen_value(Value *v, const char *sig, size_t len, const Ctx *ctx) {
        gen_depth++;
        gen_value_at(v, sig, len, ctx);
        gen_depth--;
}

static void gen_value_at(Value *v, const char *sig, size_t len, const Ctx *ctx) {
        *v = (Value) { .type = sig[0] };
        switch (sig[0]) {
        case 'y':
                v->u = gen_int(ctx, 8);
                break;
        case 'b':
                v->u = rng_below(R, 2);
                break;
        case 'n':
        case 'q':
                v->u = gen_int(ctx, 16);
                break;
        case 'i':
        case 'u':
                v->u = gen_int(ctx, 32);
                break;
        case 'x':
        case 't':
                v->u = gen_int(ctx, 64);
                break;
        case 'd': {
                double d = PICK(R, ((const double[]) { 0.0, -1.0, 1e308, INFINITY, NAN, 0.5 }));
                memcpy(&v->u, &d, sizeof(d));
                break;
        }
        case 's':
                v->s = gen_string(ctx);
                break;
        case 'o':
                v->s = gen_object_path();
                break;
        case 'g':
                v->s = strdup(PICK(R, ((const char *const[]) { "", "s", "a{sv}", "(ii)", "aaai" })));
                break;
        case 'h': {
                static const FdKind kinds[] = { FD_BUNDLE,   FD_BUNDLE,   FD_BUNDLE,    FD_BUNDLE,
                                                FD_BUNDLE,   FD_BUNDLE,   FD_BUNDLE,    FD_CORRUPT,
                                                FD_CORRUPT,  FD_RANDOM,   FD_RANDOM,    FD_RANDOM,
                                                FD_PIPE,     FD_PIPE,     FD_PIPE_HELD, FD_DEV_NULL,
                                                FD_DEV_NULL, FD_DEV_ZERO, FD_DIR,       FD_DIR };
                v->fd = PICK(R, kinds);
                v->fd_arg = (unsigned) rng_u64(R);
                break;
        }
        case 'v':
                gen_variant(v, ctx);
                break;
        case 'a': {
                size_t n;

                v->contents = strndup(sig + 1, len - 1);
                if (streq(v->contents, "{sv}") && streq_ptr(ctx->member, "CreateInstance") &&
                    rng_chance(R, 90)) {
                        gen_spec(v);
                        break;
                }
                n = rng_chance(R, 2) ? 300 : rng_chance(R, 20) ? 4 + rng_below(R, 5) : rng_below(R, 4);
                n = MIN(n, items_left);
                items_left -= n;
                for (size_t k = 0; k < n; k++)
                        gen_value(value_push(v), sig + 1, len - 1, ctx);
                break;
        }
        case '(':
        case '{':
                v->type = sig[0] == '(' ? 'r' : 'e';
                v->contents = strndup(sig + 1, len - 2);
                for (size_t k = 1; k < len - 1; k += sig_one(sig + k))
                        gen_value(value_push(v), sig + k, sig_one(sig + k), ctx);
                break;
        }
}

/* ------------------------------------------------------------------------------------------------
 * The object tree, from the introspection data (as root: every object). */
static void object_members_free(Object *o) {
        for (size_t k = 0; k < o->n_members; k++) {
                free(o->members[k].iface);
                free(o->members[k].name);
                free(o->members[k].sig);
                strv_free(o->members[k].argnames);
        }
        free(o->members);
        o->members = NULL;
        o->n_members = 0;
}

static Object *object_get(const char *path) {
        Object *n;

        for (size_t k = 0; k < F.n_objects; k++)
                if (streq(F.objects[k].path, path))
                        return &F.objects[k];
        n = realloc(F.objects, sizeof(Object) * (F.n_objects + 1));
        assert_non_null(n);
        F.objects = n;
        F.objects[F.n_objects] = (Object) { .path = strdup(path) };
        return &F.objects[F.n_objects++];
}

static char *xml_prop(xmlNodePtr n, const char *name) {
        xmlChar *v = xmlGetProp(n, BAD_CAST name);
        char *s = v ? strdup((const char *) v) : NULL;

        xmlFree(v);
        return s;
}

static bool xml_is(xmlNodePtr n, const char *name) {
        return n->type == XML_ELEMENT_NODE && xmlStrcmp(n->name, BAD_CAST name) == 0;
}

static void walk(const char *path, unsigned depth) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(strv_freep) char **children = NULL;
        const char *xml;
        xmlDocPtr doc;
        xmlNodePtr root;
        Object *o;

        if (depth > 8 ||
            sd_bus_call_method(harness_bus(&H), ARK_BUS_NAME, path, "org.freedesktop.DBus.Introspectable",
                               "Introspect", &e, &reply, NULL) < 0 ||
            sd_bus_message_read(reply, "s", &xml) < 0) {
                sd_bus_error_free(&e);
                return;
        }
        doc = xmlReadMemory(xml, (int) strlen(xml), "introspect.xml", NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        root = doc ? xmlDocGetRootElement(doc) : NULL;
        o = object_get(path);
        o->alive = true;
        object_members_free(o);
        for (xmlNodePtr n = root ? root->children : NULL; n; n = n->next) {
                _cleanup_free_ char *iface = NULL;

                if (xml_is(n, "node")) {
                        char *name = xml_prop(n, "name");

                        if (name)
                                assert_true(strv_push(&children, name) >= 0);
                        continue;
                }
                if (!xml_is(n, "interface"))
                        continue;
                iface = xml_prop(n, "name");
                if (!iface || !startswith(iface, "org.ark."))
                        continue;
                for (xmlNodePtr m = n->children; m; m = m->next) {
                        Member mb = { .iface = strdup(iface) };

                        if (xml_is(m, "method")) {
                                StrBuf sig = {};

                                strbuf_append(&sig, "");
                                mb.name = xml_prop(m, "name");
                                for (xmlNodePtr a = m->children; a; a = a->next) {
                                        _cleanup_free_ char *dir = NULL, *type = NULL;

                                        if (!xml_is(a, "arg"))
                                                continue;
                                        dir = xml_prop(a, "direction");
                                        if (dir && !streq(dir, "in"))
                                                continue;
                                        type = xml_prop(a, "type");
                                        strbuf_append(&sig, strempty(type));
                                        assert_true(strv_push(&mb.argnames,
                                                              xml_prop(a, "name") ?: strdup("")) >= 0);
                                }
                                mb.sig = strbuf_steal(&sig);
                        } else if (xml_is(m, "property")) {
                                _cleanup_free_ char *access = xml_prop(m, "access");

                                mb.name = xml_prop(m, "name");
                                mb.sig = xml_prop(m, "type");
                                mb.property = true;
                                mb.writable = access && strstr(access, "write");
                        } else {
                                free(mb.iface);
                                continue;
                        }
                        if (!mb.name || !mb.sig) {
                                free(mb.iface);
                                free(mb.name);
                                free(mb.sig);
                                strv_free(mb.argnames);
                                continue;
                        }
                        o->members = realloc(o->members, sizeof(Member) * (o->n_members + 1));
                        assert_non_null(o->members);
                        o->members[o->n_members++] = mb;
                }
        }
        if (doc)
                xmlFreeDoc(doc);
        for (char **c = children; c && *c; c++) {
                _cleanup_free_ char *p =
                        streq(path, "/") ? strprintf("/%s", *c) : strprintf("%s/%s", path, *c);
                walk(p, depth + 1);
        }
}

static void walk_tree(void) {
        for (size_t k = 0; k < F.n_objects; k++)
                F.objects[k].alive = false;
        walk("/", 0);
        F.n_walks++;
}

static size_t ark_methods(const Object *o) {
        size_t n = 0;

        for (size_t k = 0; k < o->n_members; k++)
                n += !o->members[k].property;
        return n;
}

/* A random object: alive with `percent_alive` %, else one that went away (its path stays valid). */
static Object *pick_object(bool need_methods, bool not_manager, unsigned percent_alive) {
        bool alive = rng_chance(R, percent_alive);
        size_t n = 0, pick;

        for (int pass = 0; pass < 2; pass++) {
                for (size_t k = 0; k < F.n_objects; k++) {
                        Object *o = &F.objects[k];

                        if (o->alive != alive || (need_methods && ark_methods(o) == 0) ||
                            (not_manager && streq(o->path, ARK_BUS_PATH)))
                                continue;
                        n++;
                }
                if (n > 0)
                        break;
                alive = !alive;
        }
        if (n == 0)
                return NULL;
        pick = rng_below(R, n);
        for (size_t k = 0; k < F.n_objects; k++) {
                Object *o = &F.objects[k];

                if (o->alive != alive || (need_methods && ark_methods(o) == 0) ||
                    (not_manager && streq(o->path, ARK_BUS_PATH)))
                        continue;
                if (pick-- == 0)
                        return o;
        }
        return NULL;
}

static Member *pick_member(Object *o, bool property) {
        size_t n = 0, pick;

        for (size_t k = 0; k < o->n_members; k++)
                n += o->members[k].property == property;
        if (n == 0)
                return NULL;
        pick = rng_below(R, n);
        for (size_t k = 0; k < o->n_members; k++)
                if (o->members[k].property == property && pick-- == 0)
                        return &o->members[k];
        return NULL;
}

static Role pick_role(void) {
        static const Role weights[] = { ROLE_ROOT, ROLE_ROOT, ROLE_ROOT, ROLE_ROOT, ROLE_ROOT,
                                        ROLE_A,    ROLE_A,    ROLE_A,    ROLE_A,    ROLE_A,
                                        ROLE_A,    ROLE_B,    ROLE_B,    ROLE_B,    ROLE_B,
                                        ROLE_B,    ROLE_NONE, ROLE_NONE, ROLE_NONE, ROLE_NONE };
        Role r = PICK(R, weights);

        /* A role arkd rate-limits waits for its bucket to refill; the others go on meanwhile. */
        if (throttled_until[r] > now_usec())
                r = ROLE_ROOT;
        return r;
}

static void gen_method_args(Call *c, const Member *mb) {
        const char *s = mb->sig;
        size_t i = 0;

        free(c->args.contents);
        c->args.contents = strdup(mb->sig);
        while (*s) {
                size_t l = sig_one(s);
                Ctx ctx = { .member = mb->name,
                            .argname =
                                    mb->argnames && i < strv_length(mb->argnames) ? mb->argnames[i] : NULL };

                gen_value(value_push(&c->args), s, l, &ctx);
                s += l;
                i++;
        }
}

static void gen_call(Call *c) {
        Role role = pick_role();
        unsigned k = (unsigned) rng_below(R, 100);
        Object *o = NULL;
        Member *mb = NULL;

        if (k < 75) {
                o = k < 50 ? object_get(ARK_BUS_PATH) : pick_object(true, true, 80);
                if (o)
                        mb = pick_member(o, false);
                if (o && mb) {
                        call_init(c, role, o->path, mb->iface, mb->name, "random");
                        gen_method_args(c, mb);
                        c->vanish = rng_chance(R, 2);
                        return;
                }
        }
        o = pick_object(false, false, 85);
        if (!o)
                o = object_get(ARK_BUS_PATH);
        if (k < 92) {
                /* Properties: Get, GetAll or Set, mostly of the object's own. */
                static const char *const methods[] = { "Get", "Get", "Get", "GetAll", "GetAll", "Set" };
                const char *m = PICK(R, methods);
                Ctx ctx = { .member = m, .argname = "interface" };

                mb = pick_member(o, true);
                call_init(c, role, o->path, "org.freedesktop.DBus.Properties", m, "random");
                if (mb && rng_chance(R, 85))
                        call_str(c, mb->iface);
                else
                        call_arg(c, "s")->s = gen_string(&ctx);
                if (streq(m, "GetAll"))
                        return;
                if (mb && rng_chance(R, 85))
                        call_str(c, mb->name);
                else
                        call_arg(c, "s")->s = gen_generic();
                if (streq(m, "Set")) {
                        Value *v = call_arg(c, "v");
                        Ctx vctx = { .member = "Set", .argname = mb ? mb->name : NULL };

                        if (mb && rng_chance(R, 60)) {
                                v->contents = strdup(mb->sig);
                                gen_value(value_push(v), mb->sig, strlen(mb->sig), &vctx);
                        } else
                                gen_variant(v, &vctx);
                }
                return;
        }
        switch (rng_below(R, 4)) {
        case 0:
                call_init(c, role, ARK_BUS_PATH, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects",
                          "random");
                break;
        case 1:
                call_init(c, role, o->path, "org.freedesktop.DBus.Peer", "Ping", "random");
                break;
        default:
                call_init(c, role, o->path, "org.freedesktop.DBus.Introspectable", "Introspect", "random");
                break;
        }
}

/* ------------------------------------------------------------------------------------------------
 * A valid sequence, now and then, so that the deep paths are reached: a tenant, a member, maybe a
 * quota and a model, an instance with GPUs, start, stop, more GPUs, start, off, fewer GPUs, delete.
 * Random calls run in between and may spoil it; then its calls just fail. */
static void scenario_start(void) {
        Scenario *s = &F.sc;

        free(s->tenant);
        free(s->instance);
        *s = (Scenario) { .active = true,
                          .who = rng_chance(R, 50) ? ROLE_A : ROLE_B,
                          .tenant = strdup(PICK(R, tenant_pool)),
                          .instance = strdup(PICK(R, instance_pool)),
                          .gpus = (unsigned) rng_below(R, 3),
                          .preemptible = rng_chance(R, 25) };
        s->by_group = s->who == ROLE_B && rng_chance(R, 50);
        F.n_scenarios++;
}

static bool scenario_step(Call *c) {
        Scenario *s = &F.sc;
        _cleanup_free_ char *tpath = object_path(ARK_BUS_PREFIX_TENANT, s->tenant);
        _cleanup_free_ char *ipath = instance_path(s->tenant, s->instance);
        Value *spec;

        for (;;) {
                switch (s->step++) {
                case 0:
                        call_init(c, ROLE_ROOT, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "CreateTenant",
                                  "scenario");
                        call_str(c, s->tenant);
                        call_str(c, "made by a fuzzer scenario");
                        return true;
                case 1:
                        call_init(c, ROLE_ROOT, tpath, ARK_BUS_IFACE_TENANT, "AddMember", "scenario");
                        call_str(c, s->by_group ? "group" : "user");
                        call_str(c, s->by_group ? GROUP_B : role_user[s->who]);
                        return true;
                case 2:
                        if (rng_chance(R, 50))
                                continue;
                        call_init(c, ROLE_ROOT, tpath, ARK_BUS_IFACE_TENANT, "SetQuota", "scenario");
                        call_str(c, "gpus");
                        call_str(c, "");
                        call_num(c, "t", rng_below(R, 3));
                        call_num(c, "t", rng_chance(R, 50) ? UINT64_MAX : 2 + rng_below(R, 3));
                        return true;
                case 3: {
                        Value *fd;

                        if (rng_chance(R, 70))
                                continue;
                        call_init(c, s->who, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "ImportBundle",
                                  "scenario");
                        fd = call_arg(c, "h");
                        fd->fd = FD_BUNDLE;
                        fd->fd_arg = (unsigned) rng_below(R, ELEMENTSOF(F.bundle_files));
                        call_str(c, "model.ark");
                        call_str(c, s->tenant);
                        return true;
                }
                case 4:
                        call_init(c, s->who, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "CreateInstance",
                                  "scenario");
                        spec = call_arg(c, "a{sv}");
                        spec_str(spec, "Name", s->instance);
                        spec_str(spec, "Tenant", s->tenant);
                        spec_num(spec, "VCPUs", "u", 1 + rng_below(R, 2));
                        spec_num(spec, "MemoryBytes", "t", 256 << 20);
                        if (s->gpus > 0)
                                spec_num(spec, "GPUs", "u", s->gpus);
                        if (s->preemptible)
                                spec_num(spec, "Preemptible", "b", 1);
                        if (rng_chance(R, 30)) {
                                spec_str(spec, "Image", F.image_name);
                                spec_num(spec, "DiskBytes", "t", 64 << 20);
                        }
                        if (rng_chance(R, 15))
                                spec_str(spec, "Model", "bq-orca");
                        if (rng_chance(R, 30))
                                spec_num(spec, "Start", "b", 1);
                        return true;
                case 5:
                        call_init(c, s->who, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "StartInstance",
                                  "scenario");
                        call_str(c, s->instance);
                        return true;
                case 6:
                        if (rng_chance(R, 50)) {
                                call_init(c, s->who, ipath, ARK_BUS_IFACE_INSTANCE, "Stop", "scenario");
                                call_num(c, "u", 1);
                        } else {
                                call_init(c, s->who, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "StopInstance",
                                          "scenario");
                                call_str(c, s->instance);
                                call_num(c, "b", 1);
                                call_num(c, "u", 0);
                        }
                        return true;
                case 7:
                        call_init(c, s->who, ipath, ARK_BUS_IFACE_INSTANCE, "AddGPUs", "scenario");
                        call_num(c, "u", 1);
                        call_str(c, "");
                        call_arg(c, "as");
                        return true;
                case 8:
                        call_init(c, s->who, ipath, ARK_BUS_IFACE_INSTANCE, "Start", "scenario");
                        return true;
                case 9:
                        call_init(c, s->who, ipath, ARK_BUS_IFACE_INSTANCE, "ForceOff", "scenario");
                        return true;
                case 10:
                        call_init(c, s->who, ipath, ARK_BUS_IFACE_INSTANCE, "RemoveGPUs", "scenario");
                        call_arg(c, "as");
                        return true;
                case 11:
                        if (rng_chance(R, 25))
                                continue;
                        call_init(c, s->who, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "DeleteInstance",
                                  "scenario");
                        call_str(c, s->instance);
                        return true;
                case 12:
                        if (rng_chance(R, 80))
                                continue;
                        call_init(c, ROLE_ROOT, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "DeleteTenant",
                                  "scenario");
                        call_str(c, s->tenant);
                        return true;
                default:
                        s->active = false;
                        return false;
                }
        }
}

/* ------------------------------------------------------------------------------------------------
 * Root's own calls (setup, checks, putting the roles back), on the harness connection. */
static int root_call(sd_bus_message **ret_reply, sd_bus_error *ret_error, uint64_t timeout, const char *path,
                     const char *iface, const char *member, const char *types, ...) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        va_list ap;
        int r;

        r = sd_bus_message_new_method_call(harness_bus(&H), &m, ARK_BUS_NAME, path, iface, member);
        if (r >= 0 && types) {
                va_start(ap, types);
                r = sd_bus_message_appendv(m, types, ap);
                va_end(ap);
        }
        if (r >= 0)
                r = sd_bus_call(harness_bus(&H), m, timeout, &e, ret_reply);
        if (ret_error)
                *ret_error = e;
        else
                sd_bus_error_free(&e);
        return r;
}

#define ROOT_TIMEOUT (30 * USEC_PER_SEC)

/* Puts the roles back: tq-amber with ark-f-a, tq-basalt with the group of ark-f-b, ark-f-none in
 * nothing, the main key trusted; now and then frees what root's random calls held or limited, and
 * removes instances a ghost call created. */
static void restore_roles(void) {
        _cleanup_free_ char *a = object_path(ARK_BUS_PREFIX_TENANT, TENANT_A),
                            *b = object_path(ARK_BUS_PREFIX_TENANT, TENANT_B);
        bool a_in = false, b_in = false;

        (void) root_call(NULL, NULL, ROOT_TIMEOUT, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "CreateTenant", "ss",
                         TENANT_A, "");
        (void) root_call(NULL, NULL, ROOT_TIMEOUT, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "CreateTenant", "ss",
                         TENANT_B, "");
        (void) refresh();
        for (size_t k = 0; k < F.snap.members.n; k++) {
                const char *tenant = snap_tenant_name(&F.snap, cell_i64(&F.snap.members, k, M_TENANT));
                _cleanup_free_ char *path = tenant ? object_path(ARK_BUS_PREFIX_TENANT, tenant) : NULL;
                bool drop = false;

                if (!tenant)
                        continue;
                if (member_row_grants(&F.snap, k, ROLE_A)) {
                        if (streq(tenant, TENANT_A))
                                a_in = true;
                        else
                                drop = true;
                }
                if (member_row_grants(&F.snap, k, ROLE_B)) {
                        if (streq(tenant, TENANT_B))
                                b_in = true;
                        else
                                drop = true;
                }
                if (member_row_grants(&F.snap, k, ROLE_NONE))
                        drop = true;
                if (drop)
                        (void) root_call(NULL, NULL, ROOT_TIMEOUT, path, ARK_BUS_IFACE_TENANT,
                                         "RemoveMember", "ss", cell(&F.snap.members, k, M_KIND),
                                         cell(&F.snap.members, k, M_NAME));
        }
        if (!a_in)
                (void) root_call(NULL, NULL, ROOT_TIMEOUT, a, ARK_BUS_IFACE_TENANT, "AddMember", "ss",
                                 "user", USER_A);
        if (!b_in)
                (void) root_call(NULL, NULL, ROOT_TIMEOUT, b, ARK_BUS_IFACE_TENANT, "AddMember", "ss",
                                 "group", GROUP_B);
        (void) root_call(NULL, NULL, ROOT_TIMEOUT, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "TrustKey", "s",
                         F.main_pem);
        if (rng_chance(R, 30))
                for (size_t k = 0; k < F.snap.holds.n; k++) {
                        _cleanup_free_ char *p =
                                object_path(ARK_BUS_PREFIX_ACCELERATOR, cell(&F.snap.holds, k, H_ADDRESS));
                        (void) root_call(NULL, NULL, ROOT_TIMEOUT, p, ARK_BUS_IFACE_ACCELERATOR, "Release",
                                         NULL);
                }
        if (rng_chance(R, 20))
                for (size_t k = 0; k < F.snap.quotas.n; k++) {
                        const char *tenant =
                                snap_tenant_name(&F.snap, cell_i64(&F.snap.quotas, k, Q_TENANT));
                        _cleanup_free_ char *p = tenant ? object_path(ARK_BUS_PREFIX_TENANT, tenant) : NULL;

                        if (p)
                                (void) root_call(NULL, NULL, ROOT_TIMEOUT, p, ARK_BUS_IFACE_TENANT,
                                                 "SetQuota", "sstt", cell(&F.snap.quotas, k, Q_RESOURCE),
                                                 cell(&F.snap.quotas, k, Q_MODEL), (uint64_t) 0, UINT64_MAX);
                }
        for (size_t k = 0; k < F.snap.instances.n; k++) {
                const char *name = cell(&F.snap.instances, k, I_NAME);
                _cleanup_free_ char *full = NULL;

                if (!startswith(name, GHOST_PREFIX))
                        continue;
                full = strprintf("%s/%s",
                                 strna(snap_tenant_name(&F.snap, cell_i64(&F.snap.instances, k, I_TENANT))),
                                 name);
                (void) root_call(NULL, NULL, ROOT_TIMEOUT, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER,
                                 "StopInstance", "sbu", full, 1, 0);
                (void) root_call(NULL, NULL, ROOT_TIMEOUT, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER,
                                 "DeleteInstance", "s", full);
        }
        (void) refresh();
}

/* ------------------------------------------------------------------------------------------------
 * Checks after every batch. */

/* arkd is alive and answers. Returns false when the run cannot go on. */
static bool check_arkd(void) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        int status, r;

        F.n_checks++;
        if (H.arkd_pid > 0 && waitpid(H.arkd_pid, &status, WNOHANG) == H.arkd_pid) {
                H.arkd_pid = 0;
                finding(KNOWN_NONE, "arkd-died", "arkd exited (%s %d) after call #%u; its log follows",
                        WIFSIGNALED(status) ? "signal" : "status",
                        WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), F.n_calls);
                harness_dump_log(&H);
                return false;
        }
        r = root_call(&reply, &e, 10 * USEC_PER_SEC, ARK_BUS_PATH, "org.freedesktop.DBus.Properties", "Get",
                      "ss", ARK_BUS_IFACE_MANAGER, "Version");
        if (r >= 0) {
                sd_bus_error_free(&e);
                return true;
        }
        /* Issue 14 item 3: a reply too big for the bus (ListAuditLog of huge rows) got arkd
         * disconnected from the bus while it kept running. */
        {
                bool huge = F.snap.audit_args_sum > 16 * 1024 * 1024;
                _cleanup_free_ char *key = strprintf("arkd-silent:%d", huge);

                finding(huge ? KNOWN_HUGE_ARGS : KNOWN_NONE, key,
                        "arkd is running but does not answer Manager.Version after call #%u (%s: %s); the "
                        "audit log "
                        "holds %" PRIi64 " bytes of arguments",
                        F.n_calls, strna(e.name), strna(e.message), F.snap.audit_args_sum);
                sd_bus_error_free(&e);
                if (!huge || !known_issue_open(KNOWN_HUGE_ARGS)) {
                        harness_dump_log(&H);
                        return false;
                }
        }
        /* Known: start it again and go on. */
        (void) harness_stop_arkd(&H, SIGKILL);
        if (harness_start_arkd(&H, NULL) < 0)
                return false;
        F.n_restarts++;
        return true;
}

static int collect_rows(void *userdata, int n, char **values, char **names) {
        char ***l = userdata;
        StrBuf b = {};

        strbuf_append(&b, "");
        for (int k = 0; k < n; k++)
                strbuf_printf(&b, "%s%s", k ? " " : "", strna(values[k]));
        assert_true(strv_push(l, strbuf_steal(&b)) >= 0);
        return 0;
}

static bool model_matches(const char *model, const char *want) {
        size_t lw = strlen(want);

        if (lw == 0)
                return true;
        for (const char *p = model; p && *p; p++)
                if ((p == model || !isalnum((unsigned char) p[-1])) && strncasecmp(p, want, lw) == 0 &&
                    !isalnum((unsigned char) p[lw]))
                        return true;
        return false;
}

static const char *acc_model(const char *address, uint64_t *ret_memory) {
        for (size_t k = 0; k < F.n_acc; k++)
                if (streq(F.addresses[k], address)) {
                        if (ret_memory)
                                *ret_memory = F.gpu_memory[k];
                        return F.models[k];
                }
        return NULL;
}

static void check_store(void) {
        _cleanup_(strv_freep) char **integrity = NULL, **fk = NULL;
        const Snap *s = &F.snap;
        uint64_t all_guarantees = 0;

        F.n_checks++;
        if (sqlite3_exec(F.db, "PRAGMA integrity_check", collect_rows, &integrity, NULL) != SQLITE_OK ||
            strv_length(integrity) != 1 || !streq(integrity[0], "ok")) {
                _cleanup_free_ char *j = strv_join(integrity, "; ");
                finding(KNOWN_NONE, "integrity", "PRAGMA integrity_check after call #%u: %s", F.n_calls,
                        strna(j));
        }
        if (sqlite3_exec(F.db, "PRAGMA foreign_key_check", collect_rows, &fk, NULL) != SQLITE_OK ||
            strv_length(fk) != 0) {
                _cleanup_free_ char *j = strv_join(fk, "; ");
                finding(KNOWN_NONE, "foreign-keys", "PRAGMA foreign_key_check after call #%u: %s", F.n_calls,
                        strna(j));
        }
        /* Claims: accelerators of the fixture, each at most once, none also reserved. */
        for (size_t k = 0; k < s->claims.n; k++) {
                const char *a = cell(&s->claims, k, C_ADDRESS);

                if (!acc_model(a, NULL))
                        finding(KNOWN_NONE, "claim-unknown",
                                "after call #%u instance %s claims %s, which is no accelerator "
                                "of this host",
                                F.n_calls, cell(&s->claims, k, C_INSTANCE), a);
                if (k > 0 && streq(a, cell(&s->claims, k - 1, C_ADDRESS)))
                        finding(KNOWN_NONE, "claim-twice", "after call #%u %s is claimed twice", F.n_calls,
                                a);
                for (size_t j = 0; j < s->holds.n; j++)
                        if (streq(cell(&s->holds, j, H_ADDRESS), a) &&
                            streq(cell(&s->holds, j, H_STATE), "reserved"))
                                finding(KNOWN_NONE, "claim-reserved",
                                        "after call #%u %s is both claimed and reserved", F.n_calls, a);
        }
        /* Quotas: every tenant within each limit it has. */
        for (size_t q = 0; q < s->quotas.n; q++) {
                int64_t t = cell_i64(&s->quotas, q, Q_TENANT);
                const char *res = cell(&s->quotas, q, Q_RESOURCE), *model = cell(&s->quotas, q, Q_MODEL);
                uint64_t used = 0, limit = (uint64_t) cell_i64(&s->quotas, q, Q_LIMIT);

                if (streq(res, "gpus"))
                        all_guarantees += (uint64_t) cell_i64(&s->quotas, q, Q_GUARANTEE);
                if (cell_null(&s->quotas, q, Q_LIMIT))
                        continue;
                for (size_t i = 0; i < s->instances.n; i++) {
                        if (cell_i64(&s->instances, i, I_TENANT) != t)
                                continue;
                        if (streq(res, "instances"))
                                used++;
                        else if (streq(res, "vcpus"))
                                used += (uint64_t) cell_i64(&s->instances, i, I_VCPUS);
                        else if (streq(res, "memory"))
                                used += (uint64_t) cell_i64(&s->instances, i, I_MEMORY);
                        else if (streq(res, "disk") && !cell_null(&s->instances, i, I_DISK_PATH))
                                used += (uint64_t) cell_i64(&s->instances, i, I_DISK_BYTES);
                }
                for (size_t c = 0; c < s->claims.n; c++) {
                        uint64_t mem = 0;
                        const char *m;

                        if (snap_instance_tenant(s, cell_i64(&s->claims, c, C_INSTANCE)) != t)
                                continue;
                        m = acc_model(cell(&s->claims, c, C_ADDRESS), &mem);
                        if (streq(res, "gpus") && model_matches(strempty(m), model))
                                used++;
                        else if (streq(res, "gpu-memory"))
                                used += mem;
                }
                if (used > limit) {
                        _cleanup_free_ char *key = strprintf("quota:%s", res);
                        finding(KNOWN_NONE, key,
                                "after call #%u tenant '%s' uses %" PRIu64 " of %s%s%s, above its limit "
                                "of %" PRIu64,
                                F.n_calls, strna(snap_tenant_name(s, t)), used, res, *model ? " " : "",
                                model, limit);
                }
        }
        if (all_guarantees > F.n_acc)
                finding(KNOWN_NONE, "guarantees",
                        "after call #%u the tenants are guaranteed %" PRIu64 " GPUs, and this "
                        "host has %zu",
                        F.n_calls, all_guarantees, F.n_acc);
}

static void check_audit(void) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        uint64_t rows = 0, first_bad = 0;
        const char *reason = NULL;
        int intact = 0, r;

        F.n_checks++;
        r = root_call(&reply, &e, ROOT_TIMEOUT, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "VerifyAuditLog", NULL);
        if (r >= 0)
                r = sd_bus_message_read(reply, "btts", &intact, &rows, &first_bad, &reason);
        if (r < 0 || !intact)
                finding(KNOWN_NONE, "audit",
                        "after call #%u VerifyAuditLog: %s (%s; row %" PRIu64 " of %" PRIu64 ")", F.n_calls,
                        r < 0 ? "failed" : "broken", r < 0 ? strna(e.message) : strna(reason), first_bad,
                        rows);
        sd_bus_error_free(&e);
}

static unsigned open_entries;
static char *open_example;

/* Whether others may pass through every directory from the state directory down to path's. */
static bool reachable_by_others(const char *path) {
        _cleanup_free_ char *p = strdup(path);
        size_t l = strlen(H.state_dir);

        for (char *slash = p ? strrchr(p, '/') : NULL; slash && (size_t) (slash - p) >= l;
             slash = strrchr(p, '/')) {
                struct stat st;

                *slash = 0;
                if (stat(p, &st) < 0 || !(st.st_mode & S_IXOTH))
                        return false;
        }
        return true;
}

static int mode_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        /* A directory others may pass through (0711: QEMU opens the disks) but not list is closed; a
         * file or directory below one they cannot pass through is closed whatever its mode. */
        bool open_to_others = (S_ISDIR(st->st_mode) || S_ISREG(st->st_mode)) &&
                (st->st_mode & S_IROTH) != 0 && reachable_by_others(path);

        if (open_to_others) {
                if (!open_example)
                        open_example = strprintf("%s (%04o)", path, (unsigned) (st->st_mode & 07777));
                open_entries++;
        }
        return 0;
}

/* Nothing under the state directory is readable, no directory listable, by others (issue 14
 * item 2). */
static void check_state_mode(void) {
        F.n_checks++;
        open_entries = 0;
        open_example = mfree(open_example);
        (void) nftw(H.state_dir, mode_cb, 16, FTW_PHYS);
        if (open_entries > 0)
                finding(KNOWN_STATE_MODE, "state-mode",
                        "after call #%u %u files and directories under the state "
                        "directory are open to every local user, e.g. %s",
                        F.n_calls, open_entries, open_example);
        open_example = mfree(open_example);
}

static bool check_batch(void) {
        if (!check_arkd())
                return false;
        if (refresh() < 0)
                return false;
        check_store();
        check_audit();
        check_state_mode();
        return true;
}

/* ------------------------------------------------------------------------------------------------
 * Setup: users, bundles, an image, the dictionary. */
static void cleanup_accounts(void) {
        (void) harness_sh(NULL, NULL,
                          "for u in " USER_A " " USER_B " " USER_NONE "; do userdel $u 2>/dev/null; done; "
                          "groupdel " GROUP_B " 2>/dev/null; true");
}

static int load_cred(Role role) {
        struct passwd *pw = getpwnam(role_user[role]);
        Cred *c = &creds[role];

        if (!pw)
                return -ENOENT;
        c->uid = pw->pw_uid;
        c->gid = pw->pw_gid;
        c->n_groups = (int) ELEMENTSOF(c->groups);
        if (getgrouplist(role_user[role], c->gid, c->groups, &c->n_groups) < 0)
                return -E2BIG;
        return 0;
}

static void dict_refresh(void) {
        _cleanup_free_ char *db_link = path_join(F.fuzz_dir, "db-link"),
                            *image_link = path_join(F.fuzz_dir, "image-link"),
                            *fuzz_dots = strprintf("%s/../fuzz/vmlinuz", F.fuzz_dir);
        const char *fixed[] = { "/etc/shadow",
                                "/etc/passwd",
                                "/dev/zero",
                                "/dev/null",
                                "/proc/self/environ",
                                "/root",
                                "fuzz.qcow2",
                                "missing.qcow2",
                                "../ark.db",
                                "/nonexistent/file",
                                "/tmp",
                                "amber.qcow2",
                                "basalt.qcow2",
                                "escape.qcow2",
                                "db.qcow2",
                                "tenants/" TENANT_A "/amber.qcow2",
                                "../images/fuzz.qcow2",
                                F.image_path,
                                F.kernel_path,
                                F.bundle_files[0],
                                H.state_dir,
                                db_link,
                                image_link,
                                fuzz_dots,
                                "vmlinuz" };
        const char *in_state[] = { "ark.db", "ark.db-wal", "bundles", "disks", "images", "console" };

        D.paths = strv_free(D.paths);
        for (size_t k = 0; k < ELEMENTSOF(fixed); k++)
                assert_true(strv_extend(&D.paths, fixed[k]) >= 0);
        for (size_t k = 0; k < ELEMENTSOF(in_state); k++)
                assert_true(strv_push(&D.paths, path_join(H.state_dir, in_state[k])) >= 0);
        /* The store's own files of the moment: disks, bundle payloads. */
        for (size_t k = 0; k < F.snap.instances.n; k++)
                if (!cell_null(&F.snap.instances, k, I_DISK_PATH))
                        assert_true(strv_extend(&D.paths, cell(&F.snap.instances, k, I_DISK_PATH)) >= 0);
        for (size_t k = 0; k < F.snap.bundles.n; k++) {
                assert_true(strv_extend(&D.paths, cell(&F.snap.bundles, k, B_DIRECTORY)) >= 0);
                assert_true(strv_push(&D.paths,
                                      path_join(cell(&F.snap.bundles, k, B_DIRECTORY), "weights.bin")) >= 0);
        }
}

static void prepare(void) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *out = NULL, *err = NULL, *db = NULL, *private_pem = NULL, *main_pub = NULL,
                            *spare_pub = NULL, *main_key = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        const char *id;
        const char *kb = harness_build_dir();
        int r;

        F.fuzz_dir = strprintf("%s/fuzz", H.tmp);
        F.kernel_path = strprintf("%s/vmlinuz", F.fuzz_dir);
        F.bundle_files[0] = strprintf("%s/orca1.ark", F.fuzz_dir);
        F.bundle_files[1] = strprintf("%s/orca2.ark", F.fuzz_dir);
        F.bundle_files[2] = strprintf("%s/lynx1.ark", F.fuzz_dir);
        F.corrupt_bundle = strprintf("%s/corrupt.ark", F.fuzz_dir);
        F.image_name = strdup("fuzz.qcow2");
        F.image_path = strprintf("%s/images/fuzz.qcow2", H.state_dir);
        r = harness_sh(
                &out, &err,
                "set -e; mkdir -p '%1$s/m'; cd '%1$s'; printf '{\"fuzz\": 1}' > m/config.json; "
                "head -c 2048 /dev/urandom > m/weights.bin; "
                "'%2$s/bin/arkctl' bundle keygen '%1$s/main' >/dev/null; "
                "'%2$s/bin/arkctl' bundle keygen '%1$s/spare' >/dev/null; "
                "c() { '%2$s/bin/arkctl' bundle create m --kind model --name $1 --version $2 --key $3 -o $4 "
                "--architecture llama --parameters 1000 --dtype bf16 --runtime vllm --license x >/dev/null; "
                "}; "
                "c bq-orca 1 main.key orca1.ark; c bq-orca 2 main.key orca2.ark; c bq-lynx 1 spare.key "
                "lynx1.ark; "
                "cp orca1.ark corrupt.ark; printf X | dd of=corrupt.ark bs=1 seek=700 conv=notrunc "
                "2>/dev/null; "
                "head -c 4096 /dev/urandom > vmlinuz; chmod 644 *.ark vmlinuz; chmod 755 . m; "
                "umask 077; mkdir -p '%3$s/images/tenants/" TENANT_A "' '%3$s/images/tenants/" TENANT_B "'; "
                "qemu-img create -q -f qcow2 '%4$s' 16M; cp vmlinuz '%3$s/images/vmlinuz'; "
                "qemu-img create -q -f qcow2 '%3$s/images/tenants/" TENANT_A "/amber.qcow2' 16M; "
                "qemu-img create -q -f qcow2 '%3$s/images/tenants/" TENANT_B "/basalt.qcow2' 16M; "
                "ln -s /etc/shadow '%3$s/images/escape.qcow2'; ln -s ../ark.db '%3$s/images/db.qcow2'; "
                "ln -s '%3$s/ark.db' '%1$s/db-link'; ln -s '%3$s/images/fuzz.qcow2' '%1$s/image-link'",
                F.fuzz_dir, kb, H.state_dir, F.image_path);
        if (r != 0)
                fail_msg("cannot prepare the fuzzer's files: %s %s", strna(out), strna(err));

        out = mfree(out);
        main_pub = path_join(F.fuzz_dir, "main.pub");
        spare_pub = path_join(F.fuzz_dir, "spare.pub");
        main_key = path_join(F.fuzz_dir, "main.key");
        assert_int_equal(read_full_file(main_pub, &F.main_pem, NULL), 0);
        assert_int_equal(read_full_file(spare_pub, &F.spare_pem, NULL), 0);
        assert_int_equal(read_full_file(main_key, &private_pem, NULL), 0);
        r = root_call(&reply, &e, ROOT_TIMEOUT, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "TrustKey", "s",
                      F.main_pem);
        if (r < 0 || sd_bus_message_read(reply, "s", &id) < 0)
                fail_msg("TrustKey: %s", strna(e.message));
        F.main_key_id = strdup(id);
        reply = sd_bus_message_unref(reply);
        r = root_call(&reply, &e, ROOT_TIMEOUT, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "TrustKey", "s",
                      F.spare_pem);
        if (r < 0 || sd_bus_message_read(reply, "s", &id) < 0)
                fail_msg("TrustKey: %s", strna(e.message));
        F.spare_key_id = strdup(id);
        reply = sd_bus_message_unref(reply);

        /* The fixture's accelerators. */
        r = root_call(&reply, &e, ROOT_TIMEOUT, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "ListAccelerators",
                      NULL);
        assert_true(r >= 0);
        assert_true(sd_bus_message_enter_container(reply, 'a', "(sssso)") >= 0);
        for (;;) {
                const char *address, *vendor, *model, *driver, *path;
                uint64_t mem = 0;

                r = sd_bus_message_read(reply, "(sssso)", &address, &vendor, &model, &driver, &path);
                assert_true(r >= 0);
                if (r == 0)
                        break;
                (void) sd_bus_get_property_trivial(harness_bus(&H), ARK_BUS_NAME, path,
                                                   ARK_BUS_IFACE_ACCELERATOR, "MemoryBytes", NULL, 't',
                                                   &mem);
                assert_true(strv_extend(&F.addresses, address) >= 0);
                assert_true(strv_extend(&F.models, model) >= 0);
                F.gpu_memory = realloc(F.gpu_memory, sizeof(uint64_t) * (F.n_acc + 1));
                assert_non_null(F.gpu_memory);
                F.gpu_memory[F.n_acc++] = mem;
        }
        assert_true(F.n_acc > 0);

        /* The dictionary. */
        assert_true(strv_copy(&D.addresses, F.addresses) >= 0);
        for (size_t k = 0; k < 7; k++)
                assert_true(strv_extend(&D.addresses,
                                        ((const char *const[]) { "0000:00:00.0", "0000:45:00.1",
                                                                 "ffff:ff:1f.7", "0000:18:00.0 ",
                                                                 "0000:18:00", "../0000:18:00.0",
                                                                 "0000:18:00.0\n" })[k]) >= 0);
        for (Role role = 0; role < _ROLE_MAX; role++) {
                assert_true(strv_extend(&D.users, role_user[role]) >= 0);
                assert_true(strv_push(&D.users, strprintf("%u", (unsigned) creds[role].uid)) >= 0);
        }
        for (size_t k = 0; k < 8; k++)
                assert_true(strv_extend(&D.users,
                                        ((const char *const[]) { GROUP_B, GROUP_B, "nobody",
                                                                 "no-such-user-x", "ark-admin", "", "-1",
                                                                 "4294967295" })[k]) >= 0);
        assert_true(strv_extend(&D.pems, F.main_pem) >= 0);
        assert_true(strv_extend(&D.pems, F.spare_pem) >= 0);
        assert_true(strv_extend(&D.pems, private_pem) >= 0);
        assert_true(strv_extend(&D.pems, "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n") >=
                    0);
        assert_true(strv_extend(&D.pems, "") >= 0);
        assert_true(strv_extend(&D.key_ids, F.main_key_id) >= 0);
        assert_true(strv_extend(&D.key_ids, F.spare_key_id) >= 0);
        assert_true(strv_extend(&D.key_ids, "0123456789abcdef") >= 0);
        assert_true(strv_extend(&D.key_ids, "../../etc/passwd") >= 0);
        assert_true(strv_extend(&D.key_ids, "") >= 0);

        db = path_join(H.state_dir, "ark.db");
        if (sqlite3_open_v2(db, &F.db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
                fail_msg("cannot open %s: %s", db, sqlite3_errmsg(F.db));
        sqlite3_busy_timeout(F.db, 10000);
        assert_int_equal(refresh(), 0);
        dict_refresh();
        sd_bus_error_free(&e);
}

static void fuzz_free(void) {
        for (size_t k = 0; k < F.n_objects; k++) {
                object_members_free(&F.objects[k]);
                free(F.objects[k].path);
        }
        free(F.objects);
        for (size_t k = 0; k < F.n_hist; k++) {
                free(F.hist[k].name);
                free(F.hist[k].owners);
        }
        free(F.hist);
        for (size_t k = 0; k < F.n_incs; k++) {
                free(F.incs[k].created);
                free(F.incs[k].name);
        }
        free(F.incs);
        for (size_t k = 0; k < F.n_findings; k++) {
                free(F.findings[k].key);
                free(F.findings[k].first);
        }
        free(F.findings);
        for (size_t k = 0; k < F.n_errors; k++)
                free(F.errors[k].name);
        free(F.errors);
        snap_done(&F.snap);
        if (F.db)
                sqlite3_close(F.db);
        free(F.fuzz_dir);
        free(F.main_pem);
        free(F.spare_pem);
        free(F.main_key_id);
        free(F.spare_key_id);
        free(F.image_name);
        free(F.image_path);
        free(F.kernel_path);
        for (size_t k = 0; k < ELEMENTSOF(F.bundle_files); k++)
                free(F.bundle_files[k]);
        free(F.corrupt_bundle);
        strv_free(F.addresses);
        strv_free(F.models);
        free(F.gpu_memory);
        free(F.sc.tenant);
        free(F.sc.instance);
        strv_free(D.paths);
        strv_free(D.users);
        strv_free(D.pems);
        strv_free(D.key_ids);
        strv_free(D.addresses);
        F = (typeof(F)) {};
        D = (typeof(D)) {};
}

/* ------------------------------------------------------------------------------------------------
 * The run. */
static void check_exit(void) {
        _cleanup_free_ char *log = NULL;
        static const char *const reports[] = { "ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                                               "runtime error:", "SUMMARY: UndefinedBehaviorSanitizer" };
        int status;

        if (H.arkd_pid <= 0)
                return;
        status = harness_stop_arkd(&H, SIGTERM);
        F.n_checks++;
        if (status != 0)
                finding(KNOWN_NONE, "exit", "arkd exited with status %d on SIGTERM at the end", status);
        if (read_full_file(H.arkd_log, &log, NULL) < 0)
                return;
        for (size_t k = 0; k < ELEMENTSOF(reports); k++) {
                const char *hit = strstr(log, reports[k]);
                _cleanup_free_ char *key = NULL;

                if (!hit)
                        continue;
                key = strprintf("sanitizer:%s", reports[k]);
                finding(KNOWN_NONE, key, "arkd's log holds a sanitizer report:\n%.4000s", hit);
        }
}

static void print_summary(void) {
        unsigned fresh = 0, known = 0;

        fprintf(stderr, "api-fuzz: seed %" PRIu64 ": %u calls (", F.seed, F.n_calls);
        for (Role r = 0; r < _ROLE_MAX; r++)
                fprintf(stderr, "%s%s %u, %u answered", r ? "; " : "", role_name[r], F.calls[r], F.ok[r]);
        fprintf(stderr,
                "), %u batches, %u invariant checks, %u tree walks, %u scenarios, %u ghost calls (%u "
                "answered), %u callers gone before the answer, %u arkd restarts\n",
                F.n_batches, F.n_checks, F.n_walks, F.n_scenarios, F.n_ghosts, F.n_ghosts_answered,
                F.n_vanished, F.n_restarts);
        fprintf(stderr, "api-fuzz: errors:");
        for (size_t k = 0; k < F.n_errors; k++)
                fprintf(stderr, " %s %u%s", F.errors[k].name, F.errors[k].n, k + 1 < F.n_errors ? "," : "");
        fprintf(stderr, "\n");
        for (size_t k = 0; k < F.n_findings; k++) {
                if (F.findings[k].known)
                        known++;
                else
                        fresh++;
                if (F.findings[k].known)
                        fprintf(stderr, "api-fuzz: known, issue 14 item %s [%ux]: %s\n",
                                known_class[F.findings[k].known].item, F.findings[k].count,
                                F.findings[k].first);
                else
                        fprintf(stderr, "api-fuzz: FINDING [%ux]: %s\n", F.findings[k].count,
                                F.findings[k].first);
        }
        fprintf(stderr,
                "api-fuzz: %u findings, %u of them known (issue 14)%s; replay with "
                "ARK_API_FUZZ_SEED=%" PRIu64 "\n",
                fresh + known, known, F.strict ? ", strict" : "", F.seed);
}

static void test_api_fuzz(void **state) {
        const char *e;
        unsigned seconds = 20, failures = 0;

        if (geteuid() != 0) {
                print_message("not root: cannot create users, skipping\n");
                skip();
        }
        e = getenv("ARK_API_FUZZ_SECONDS");
        if (e)
                seconds = (unsigned) strtoul(e, NULL, 10);
        e = getenv("ARK_API_FUZZ_SEED");
        if (e && *e)
                F.seed = strtoull(e, NULL, 0);
        else if (getrandom(&F.seed, sizeof(F.seed), 0) != sizeof(F.seed))
                F.seed = (uint64_t) time(NULL) ^ ((uint64_t) getpid() << 32);
        F.rng.s = F.seed;
        F.verbose = !isempty(getenv("ARK_API_FUZZ_VERBOSE")) && !streq(getenv("ARK_API_FUZZ_VERBOSE"), "0");
        F.strict = !isempty(getenv("ARK_API_FUZZ_STRICT")) && !streq(getenv("ARK_API_FUZZ_STRICT"), "0");
        fprintf(stderr, "api-fuzz: seed %" PRIu64 " (replay with ARK_API_FUZZ_SEED=%" PRIu64 "), %u s\n",
                F.seed, F.seed, seconds);

        prepare();
        restore_roles();
        walk_tree();
        F.deadline = now_usec() + (uint64_t) seconds * USEC_PER_SEC;
        while (!F.stop && now_usec() < F.deadline) {
                for (unsigned k = 0; k < BATCH_CALLS && !F.stop && now_usec() < F.deadline; k++) {
                        Call c = {};
                        Result res = {};
                        bool made = false, fatal;

                        if (F.sc.active && rng_chance(R, 50))
                                made = scenario_step(&c);
                        if (!made) {
                                if (!F.sc.active && rng_chance(R, 3))
                                        scenario_start();
                                gen_call(&c);
                        }
                        exec_call(&c, &res);
                        fatal = res.timed_out || (res.error && error_is_fatal(res.error));
                        result_done(&res);
                        call_done(&c);
                        if (fatal && !check_arkd())
                                F.stop = true;
                }
                F.n_batches++;
                if (F.stop || !check_batch())
                        break;
                restore_roles();
                dict_refresh();
                if (F.n_batches % 4 == 0)
                        walk_tree();
        }
        check_exit();
        print_summary();
        for (size_t k = 0; k < F.n_findings; k++)
                failures += !F.findings[k].known || F.strict;
        if (failures > 0)
                fail_msg("the API fuzzer found %u problem%s (seed %" PRIu64 ")", failures,
                         failures == 1 ? "" : "s", F.seed);
}

static int setup(void **state) {
        _cleanup_free_ char *out = NULL, *err = NULL;

        if (geteuid() != 0)
                return 0;
        cleanup_accounts();
        if (harness_sh(&out, &err,
                       "groupadd --system " GROUP_B " && "
                       "for u in " USER_A " " USER_NONE "; do "
                       "  useradd --system --no-create-home --shell /usr/sbin/nologin $u || exit 1; done && "
                       "useradd --system --no-create-home --shell /usr/sbin/nologin -G " GROUP_B
                       " " USER_B) != 0) {
                fprintf(stderr, "cannot create test users: %s %s\n", strna(out), strna(err));
                return -1;
        }
        for (Role r = 0; r < _ROLE_MAX; r++)
                if (load_cred(r) < 0) {
                        fprintf(stderr, "cannot look up user %s\n", role_user[r]);
                        return -1;
                }
        if (harness_setup(&H, "dgx-h100") < 0)
                return -1;
        /* No limit on refused calls: most of a non-admin's random calls are refused, and the
         * limit (20, then one a second) would leave them a call a second. */
        H.extra_conf = "[Daemon]\nRefusedCallBurst=0\n";
        if (harness_start_arkd(&H, NULL) < 0)
                return -1;
        return 0;
}

static int teardown(void **state) {
        if (geteuid() != 0)
                return 0;
        harness_teardown(&H);
        fuzz_free();
        xmlCleanupParser();
        cleanup_accounts();
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_api_fuzz),
        };
        return cmocka_run_group_tests_name("integration: API fuzzer", tests, setup, teardown);
}

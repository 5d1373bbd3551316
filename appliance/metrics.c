/* Prometheus metrics; see metrics.h. */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/macro.h"
#include "basic/parse-util.h"
#include "basic/string-util.h"
#include "basic/time-util.h"
#include "http.h"
#include "instance.h"
#include "host-inventory.h"
#include "manager.h"
#include "network.h"
#include "metrics.h"
#include "shared/db.h"
#include "pool/quota.h"
#include "tenant.h"

/* Latency buckets of ark_api_call_duration_seconds, in µs. */
static const uint64_t buckets_usec[] = { 1000, 5000, 25000, 100000, 500000, 2500000, 10000000 };
#define N_BUCKETS ELEMENTSOF(buckets_usec)

typedef struct ApiStat {
        char *action;
        uint64_t ok, failed;
        uint64_t bucket[N_BUCKETS]; /* cumulative counts are summed when rendering */
        uint64_t count, sum_usec;
} ApiStat;

typedef struct Refusal {
        char *action, *reason;
        uint64_t count;
} Refusal;

#define CONNECTIONS_MAX 16

struct Metrics {
        int fd;
        sd_event_source *listen, *resume;
        unsigned n_conns;
        char *token;           /* the bearer token every request must carry; NULL = none asked */
        uint64_t unauthorized; /* requests refused for a missing or wrong token */
        ApiStat *api;
        size_t n_api;
        Refusal *refusals;
        size_t n_refusals;
        uint64_t preemptions;
};

#define REQUEST_MAX HTTP_REQUEST_MAX

typedef struct Conn {
        Manager *m;
        int fd;
        sd_event_source *io, *timer;
        char buf[REQUEST_MAX + 1];
        size_t len;
        char *out; /* the answer, once there is one */
        size_t out_len, out_off;
} Conn;

/* ------------------------------------------------------------------------------------------ */
/* counting */

void metrics_note_preemption(Manager *m) {
        if (m->metrics)
                m->metrics->preemptions++;
}

void metrics_note_call(Manager *m, const char *action, const char *error_name, uint64_t usec) {
        Metrics *x = m->metrics;
        ApiStat *s = NULL;

        if (!x)
                return;
        for (size_t k = 0; k < x->n_api && !s; k++)
                if (streq(x->api[k].action, action))
                        s = &x->api[k];
        if (!s) {
                ApiStat *n = realloc(x->api, sizeof(ApiStat) * (x->n_api + 1));
                if (!n)
                        return;
                x->api = n;
                s = &x->api[x->n_api];
                *s = (ApiStat) { .action = strdup(action) };
                if (!s->action)
                        return;
                x->n_api++;
        }
        if (error_name)
                s->failed++;
        else
                s->ok++;
        s->count++;
        s->sum_usec += usec;
        for (size_t b = 0; b < N_BUCKETS; b++)
                if (usec <= buckets_usec[b]) {
                        s->bucket[b]++;
                        break;
                }

        /* Admission: requests for capacity refused, by the reason's error name. */
        if (error_name && (streq(action, "Manager.CreateInstance") || streq(action, "Instance.AddGPUs"))) {
                const char *reason = strrchr(error_name, '.') ? strrchr(error_name, '.') + 1 : error_name;
                Refusal *f = NULL;

                for (size_t k = 0; k < x->n_refusals && !f; k++)
                        if (streq(x->refusals[k].action, action) && streq(x->refusals[k].reason, reason))
                                f = &x->refusals[k];
                if (!f) {
                        Refusal *n = realloc(x->refusals, sizeof(Refusal) * (x->n_refusals + 1));
                        if (!n)
                                return;
                        x->refusals = n;
                        f = &x->refusals[x->n_refusals];
                        *f = (Refusal) { .action = strdup(action), .reason = strdup(reason) };
                        if (!f->action || !f->reason)
                                return;
                        x->n_refusals++;
                }
                f->count++;
        }
}

/* ------------------------------------------------------------------------------------------ */
/* rendering */

/* A label value: backslash, double quote and newline escaped. */
static void label(StrBuf *b, const char *v) {
        for (const char *p = strempty(v); *p; p++) {
                char c[2] = { *p, 0 };

                if (*p == '\\')
                        strbuf_append(b, "\\\\");
                else if (*p == '"')
                        strbuf_append(b, "\\\"");
                else if (*p == '\n')
                        strbuf_append(b, "\\n");
                else
                        strbuf_append(b, c);
        }
}

static void header(StrBuf *b, const char *name, const char *type, const char *help) {
        strbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void render_tenants(Manager *m, StrBuf *b) {
        header(b, "ark_tenants", "gauge", "Tenants.");
        strbuf_printf(b, "ark_tenants %u\n", manager_count_tenants(m));

        header(b, "ark_tenant_allocated", "gauge",
               "What a tenant's instances are given, by resource (bytes for gpu-memory, memory and disk).");
        LIST_FOREACH(tenants, t, m->tenants) {
                QuotaUsage u;

                if (tenant_usage(t, &u) < 0)
                        continue;
                for (QuotaResource r = 0; r < _QUOTA_RESOURCE_MAX; r++) {
                        strbuf_append(b, "ark_tenant_allocated{tenant=\"");
                        label(b, t->name);
                        strbuf_printf(b, "\",resource=\"%s\"} %" PRIu64 "\n", quota_resource_to_string(r),
                                      u.amount[r]);
                }
                free((void *) u.gpu_models);
        }

        header(b, "ark_tenant_quota_limit", "gauge",
               "A tenant's quota limit by resource and GPU model (\"\" = any).");
        LIST_FOREACH(tenants, t, m->tenants)
                for (size_t k = 0; k < t->n_quotas; k++) {
                        if (t->quotas[k].limit == QUOTA_UNLIMITED)
                                continue;
                        strbuf_append(b, "ark_tenant_quota_limit{tenant=\"");
                        label(b, t->name);
                        strbuf_printf(b, "\",resource=\"%s\",model=\"",
                                      quota_resource_to_string(t->quotas[k].resource));
                        label(b, t->quotas[k].model);
                        strbuf_printf(b, "\"} %" PRIu64 "\n", t->quotas[k].limit);
                }
        header(b, "ark_tenant_quota_guarantee", "gauge",
               "A tenant's guaranteed amount by resource and GPU model.");
        LIST_FOREACH(tenants, t, m->tenants)
                for (size_t k = 0; k < t->n_quotas; k++) {
                        strbuf_append(b, "ark_tenant_quota_guarantee{tenant=\"");
                        label(b, t->name);
                        strbuf_printf(b, "\",resource=\"%s\",model=\"",
                                      quota_resource_to_string(t->quotas[k].resource));
                        label(b, t->quotas[k].model);
                        strbuf_printf(b, "\"} %" PRIu64 "\n", t->quotas[k].guarantee);
                }
}

static void render_instances(Manager *m, StrBuf *b) {
        header(b, "ark_instances", "gauge", "Instances by state.");
        for (InstanceState s = 0; s < _INSTANCE_STATE_MAX; s++) {
                unsigned n = 0;

                LIST_FOREACH(instances, i, m->instances)
                        n += i->state == s;
                strbuf_printf(b, "ark_instances{state=\"%s\"} %u\n", instance_state_to_string(s), n);
        }
}

static void render_accelerators(Manager *m, StrBuf *b) {
        header(b, "ark_accelerator_info", "gauge",
               "One per accelerator: its model, claim state, and the instance and tenant holding it.");
        for (size_t k = 0; k < m->n_accelerators; k++) {
                const Accelerator *a = &m->accelerators[k];

                strbuf_append(b, "ark_accelerator_info{address=\"");
                label(b, a->address);
                strbuf_append(b, "\",model=\"");
                label(b, a->model);
                strbuf_printf(b, "\",state=\"%s\",instance=\"", accelerator_claim_state(a));
                label(b, a->claimed_by);
                strbuf_append(b, "\",tenant=\"");
                label(b, a->claimed_by ? strempty(a->claimed_by_tenant) : "");
                strbuf_append(b, "\"} 1\n");
        }
        header(b, "ark_accelerator_memory_bytes", "gauge", "Device memory of each accelerator.");
        for (size_t k = 0; k < m->n_accelerators; k++)
                strbuf_printf(b, "ark_accelerator_memory_bytes{address=\"%s\"} %" PRIu64 "\n",
                              m->accelerators[k].address, m->accelerators[k].memory_bytes);
}

static void render_api(Manager *m, StrBuf *b) {
        Metrics *x = m->metrics;

        header(b, "ark_admission_refusals_total", "counter",
               "Requests for capacity refused, by call and reason.");
        for (size_t k = 0; k < x->n_refusals; k++)
                strbuf_printf(b, "ark_admission_refusals_total{call=\"%s\",reason=\"%s\"} %" PRIu64 "\n",
                              x->refusals[k].action, x->refusals[k].reason, x->refusals[k].count);

        header(b, "ark_metrics_unauthorized_total", "counter",
               "Requests to this endpoint refused for a missing or wrong bearer token (MetricsTokenFile=).");
        strbuf_printf(b, "ark_metrics_unauthorized_total %" PRIu64 "\n", x->unauthorized);

        header(b, "ark_store_commits_total", "counter",
               "Transactions committed to the state database (each one fdatasync of its write-ahead log).");
        strbuf_printf(b, "ark_store_commits_total %" PRIu64 "\n", db_commits_total());

        header(b, "ark_preemptions_total", "counter",
               "Preemptible instances stopped to give GPUs back to the tenant guaranteed them.");
        strbuf_printf(b, "ark_preemptions_total %" PRIu64 "\n", x->preemptions);

        header(b, "ark_api_calls_total", "counter", "D-Bus method calls served, by method and result.");
        for (size_t k = 0; k < x->n_api; k++)
                strbuf_printf(b,
                              "ark_api_calls_total{method=\"%s\",result=\"ok\"} %" PRIu64 "\n"
                              "ark_api_calls_total{method=\"%s\",result=\"error\"} %" PRIu64 "\n",
                              x->api[k].action, x->api[k].ok, x->api[k].action, x->api[k].failed);

        header(b, "ark_api_call_duration_seconds", "histogram", "How long D-Bus method calls took.");
        for (size_t k = 0; k < x->n_api; k++) {
                const ApiStat *s = &x->api[k];
                uint64_t cum = 0;

                for (size_t j = 0; j < N_BUCKETS; j++) {
                        cum += s->bucket[j];
                        strbuf_printf(
                                b,
                                "ark_api_call_duration_seconds_bucket{method=\"%s\",le=\"%g\"} %" PRIu64
                                "\n",
                                s->action, (double) buckets_usec[j] / 1e6, cum);
                }
                strbuf_printf(b,
                              "ark_api_call_duration_seconds_bucket{method=\"%s\",le=\"+Inf\"} %" PRIu64 "\n"
                              "ark_api_call_duration_seconds_sum{method=\"%s\"} %.6f\n"
                              "ark_api_call_duration_seconds_count{method=\"%s\"} %" PRIu64 "\n",
                              s->action, s->count, s->action, (double) s->sum_usec / 1e6, s->action,
                              s->count);
        }
}

char *metrics_render(Manager *m) {
        StrBuf b = {};

        header(&b, "ark_up", "gauge", "1 while arkd serves.");
        strbuf_append(&b, "ark_up 1\n");
        header(&b, "ark_start_time_seconds", "gauge", "When arkd started, in seconds since the epoch.");
        strbuf_printf(&b, "ark_start_time_seconds %" PRIu64 "\n",
                      (uint64_t) (m->started_usec / USEC_PER_SEC));
        render_tenants(m, &b);
        render_instances(m, &b);
        render_accelerators(m, &b);
        network_metrics_render(m, &b);
        if (m->metrics)
                render_api(m, &b);
        return strbuf_steal(&b);
}

/* ------------------------------------------------------------------------------------------ */
/* the bearer token (MetricsTokenFile=) */

#define TOKEN_MIN 16  /* characters; arkd's own tokens have 64 */
#define TOKEN_MAX 512 /* fits HTTP_AUTHORIZATION_MAX with "Bearer " */
#define TOKEN_RANDOM_BYTES 32

static void erase_and_freep(char **p) {
        if (*p) {
                explicit_bzero(*p, strlen(*p));
                free(*p);
        }
}

/* A new token file at `path`: 32 bytes from getrandom() as 64 hex digits and a newline, mode 0600,
 * owned by arkd. Written and synced under a temporary name and linked into place, so a crash
 * leaves no half-written token, and a file (or symlink) that appears at `path` meanwhile is
 * neither replaced nor followed (-EEXIST). Returns 0 and the token (without the newline). */
static int token_create(const char *path, char **ret_token) {
        _cleanup_(erase_and_freep) char *token = NULL;
        _cleanup_free_ char *tmp = strprintf("%s.XXXXXX", path), *dir = NULL;
        _cleanup_close_ int fd = -EBADF, dfd = -EBADF;
        uint8_t raw[TOKEN_RANDOM_BYTES];
        const char *slash;
        size_t got = 0;
        int r = 0;

        if (!tmp)
                return -ENOMEM;
        while (got < sizeof(raw)) {
                ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        explicit_bzero(raw, sizeof(raw));
                        return -errno;
                }
                got += (size_t) n;
        }
        token = malloc(2 * sizeof(raw) + 2);
        if (!token) {
                explicit_bzero(raw, sizeof(raw));
                return -ENOMEM;
        }
        for (size_t k = 0; k < sizeof(raw); k++) {
                token[2 * k] = "0123456789abcdef"[raw[k] >> 4];
                token[2 * k + 1] = "0123456789abcdef"[raw[k] & 15];
        }
        explicit_bzero(raw, sizeof(raw));
        token[2 * sizeof(raw)] = '\n';
        token[2 * sizeof(raw) + 1] = 0;

        fd = mkostemp(tmp, O_CLOEXEC); /* mode 0600 */
        if (fd < 0)
                return -errno;
        for (size_t off = 0, len = strlen(token); off < len && r >= 0;) {
                ssize_t n = write(fd, token + off, len - off);

                if (n < 0 && errno != EINTR)
                        r = -errno;
                else if (n > 0)
                        off += (size_t) n;
        }
        if (r >= 0 && fchmod(fd, 0600) < 0)
                r = -errno;
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && link(tmp, path) < 0)
                r = -errno;
        (void) unlink(tmp);
        if (r < 0)
                return r;

        /* The new name is durable once its directory is. */
        slash = strrchr(path, '/');
        dir = slash ? strndup(path, slash == path ? 1 : (size_t) (slash - path)) : strdup(".");
        if (dir && (dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0)
                (void) fsync(dfd);

        token[2 * sizeof(raw)] = 0;
        *ret_token = TAKE_PTR(token);
        return 0;
}

/* Reads the token from `path` (MetricsTokenFile=), or creates the file when it does not exist.
 * Returns 0 (read) or 1 (created) and the token, newly allocated (erase it before freeing); or a
 * negative errno, logged with the file's name and what to do: arkd then refuses to start. A file
 * that others may read or change, that belongs to another user, or whose content is not one
 * b64token (RFC 6750; one trailing newline is allowed) of TOKEN_MIN..TOKEN_MAX characters is
 * refused rather than served with: a scrape that works but is not protected is worse than an
 * arkd that does not start. */
static int load_token(const char *path, char **ret_token) {
        _cleanup_(erase_and_freep) char *buf = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        size_t len = 0;
        int r;

        /* O_NONBLOCK: a FIFO planted at the path must not hang the start. */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0 && errno == ENOENT) {
                r = token_create(path, ret_token);
                if (r < 0)
                        return log_error_errno(r, "Failed to create the metrics token file '%s': %m", path);
                return 1;
        }
        if (fd < 0)
                return log_error_errno(-errno, "Failed to open the metrics token file '%s': %m", path);
        if (fstat(fd, &st) < 0)
                return log_error_errno(-errno, "Failed to stat the metrics token file '%s': %m", path);
        if (!S_ISREG(st.st_mode))
                return log_error_errno(
                        -EBADFD, "The metrics token file '%s' is not a regular file; refusing to start.",
                        path);
        if (st.st_uid != 0 && st.st_uid != geteuid())
                return log_error_errno(
                        -EPERM,
                        "The metrics token file '%s' belongs to UID %u, not to root or arkd's user; "
                        "refusing to start. Make root its owner (chown root: '%s').",
                        path, (unsigned) st.st_uid, path);
        if (st.st_mode & 0077)
                return log_error_errno(
                        -EPERM,
                        "The metrics token file '%s' has mode %04o: group or others may read or change "
                        "it; refusing to start. Make it 0600 (chmod 0600 '%s').",
                        path, (unsigned) (st.st_mode & 07777), path);

        buf = calloc(1, TOKEN_MAX + 3);
        if (!buf)
                return log_error_errno(-ENOMEM, "Out of memory.");
        /* One byte more than a token and its newline: enough to tell that it is too long. */
        while (len < TOKEN_MAX + 2) {
                ssize_t n = read(fd, buf + len, TOKEN_MAX + 2 - len);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = -errno;
                        buf[len] = 0;
                        return log_error_errno(r, "Failed to read the metrics token file '%s': %m", path);
                }
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        buf[len] = 0;
        if (len > 0 && buf[len - 1] == '\n')
                buf[--len] = 0;
        if (len == 0)
                return log_error_errno(
                        -EINVAL,
                        "The metrics token file '%s' is empty; refusing to start. Remove it to have arkd "
                        "create one, or write a token of %u to %u characters into it.",
                        path, TOKEN_MIN, TOKEN_MAX);
        if (len > TOKEN_MAX)
                return log_error_errno(
                        -EINVAL,
                        "The metrics token in '%s' is longer than %u characters; refusing to start.", path,
                        TOKEN_MAX);
        if (memchr(buf, 0, len) || !http_token_is_valid(buf))
                return log_error_errno(
                        -EINVAL,
                        "The metrics token file '%s' holds characters other than A-Z a-z 0-9 - . _ ~ + / "
                        "(and '=' at the end), or more than one line; refusing to start.",
                        path);
        if (len < TOKEN_MIN)
                return log_error_errno(
                        -EINVAL,
                        "The metrics token in '%s' is shorter than %u characters; refusing to start.", path,
                        TOKEN_MIN);
        *ret_token = TAKE_PTR(buf);
        return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* HTTP */

static Conn *conn_free(Conn *c) {
        if (!c)
                return NULL;
        sd_event_source_disable_unref(c->io);
        sd_event_source_disable_unref(c->timer);
        if (c->fd >= 0)
                close(c->fd);
        if (c->m->metrics)
                c->m->metrics->n_conns--;
        free(c->out);
        explicit_bzero(c->buf, sizeof(c->buf)); /* it may hold the token */
        free(c);
        return NULL;
}

/* Queues the answer; on_conn_io() writes it out as the client reads, without blocking the loop
 * (the connection's timer bounds how long that may take). `headers` are extra header lines, each
 * ending in CRLF, or NULL. */
static void conn_reply(Conn *c, const char *status, const char *headers, const char *type,
                       const char *body) {
        free(c->out);
        c->out = strprintf(
                "HTTP/1.0 %s\r\n%sContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                status, strempty(headers), type, strlen(body), body);
        c->out_off = 0;
        c->out_len = c->out ? strlen(c->out) : 0;
        (void) sd_event_source_set_io_events(c->io, EPOLLOUT);
}

/* With a token configured, every request (any method, any path) must carry it before anything
 * else is answered. RFC 6750 §3: no credentials get the bare challenge, wrong ones
 * error="invalid_token". The comparison takes the same time wherever the tokens differ. */
static bool conn_authorized(Conn *c, const HttpRequest *req) {
        Metrics *x = c->m->metrics;
        const char *given = NULL;
        int r;

        if (!x->token)
                return true;
        r = http_request_bearer_token(req, &given);
        if (r >= 0 && http_token_equal(given, x->token))
                return true;
        x->unauthorized++;
        conn_reply(c, "401 Unauthorized",
                   r == -ENOENT || r == -EOPNOTSUPP
                           ? "WWW-Authenticate: Bearer realm=\"ark\"\r\n"
                           : "WWW-Authenticate: Bearer realm=\"ark\", error=\"invalid_token\"\r\n",
                   "text/plain", "A bearer token is required (Authorization: Bearer TOKEN).\n");
        return false;
}

static void conn_handle(Conn *c, const HttpRequest *req) {
        /* Connections are freed with the endpoint; fail closed all the same. */
        if (!c->m->metrics)
                return conn_reply(c, "503 Service Unavailable", NULL, "text/plain", "Shutting down.\n");
        if (!conn_authorized(c, req))
                return;
        if (!streq(req->method, "GET"))
                return conn_reply(c, "405 Method Not Allowed", "Allow: GET\r\n", "text/plain",
                                  "Only GET.\n");
        if (!streq(req->path, "/metrics"))
                return conn_reply(c, "404 Not Found", NULL, "text/plain", "Metrics are at /metrics.\n");
        {
                _cleanup_free_ char *text = metrics_render(c->m);
                if (!text)
                        return conn_reply(c, "500 Internal Server Error", NULL, "text/plain",
                                          "Out of memory.\n");
                conn_reply(c, "200 OK", NULL, "text/plain; version=0.0.4; charset=utf-8", text);
        }
}

static int on_conn_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Conn *c = userdata;
        HttpRequest req;
        ssize_t n;
        int r;

        if (c->out) {
                while (c->out_off < c->out_len) {
                        n = write(fd, c->out + c->out_off, c->out_len - c->out_off);
                        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                                return 0;
                        if (n <= 0)
                                break;
                        c->out_off += (size_t) n;
                }
                conn_free(c);
                return 0;
        }

        n = read(fd, c->buf + c->len, REQUEST_MAX - c->len);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (n <= 0) {
                conn_free(c);
                return 0;
        }
        c->len += (size_t) n;
        r = http_parse_request(c->buf, c->len, &req);
        if (r == -EAGAIN)
                return 0;
        if (r == 0) {
                conn_handle(c, &req);
                explicit_bzero(req.authorization, sizeof(req.authorization));
        } else if (r == -E2BIG)
                conn_reply(c, "431 Request Header Fields Too Large", NULL, "text/plain",
                           "Request too large.\n");
        else
                conn_reply(c, "400 Bad Request", NULL, "text/plain", "Bad request.\n");
        if (!c->out)
                conn_free(c); /* out of memory: nothing to send */
        return 0;
}

static int on_conn_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        conn_free(userdata);
        return 0;
}

static int on_resume(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        (void) sd_event_source_set_enabled(m->metrics->listen, SD_EVENT_ON);
        return 0;
}

/* Stops accepting for a second: out of file descriptors, or too many clients at once. Accepting
 * again at once would spin (the listening socket stays readable). */
static void pause_accepting(Manager *m) {
        Metrics *x = m->metrics;

        (void) sd_event_source_set_enabled(x->listen, SD_EVENT_OFF);
        x->resume = sd_event_source_disable_unref(x->resume);
        if (sd_event_add_time_relative(m->event, &x->resume, CLOCK_MONOTONIC, USEC_PER_SEC, 0, on_resume,
                                       m) < 0)
                (void) sd_event_source_set_enabled(x->listen, SD_EVENT_ON);
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Manager *m = userdata;
        Conn *c;
        int cfd;

        if (m->metrics->n_conns >= CONNECTIONS_MAX) {
                pause_accepting(m);
                return 0;
        }
        cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
                if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                        pause_accepting(m);
                return 0;
        }
        c = calloc(1, sizeof(Conn));
        if (!c) {
                close(cfd);
                return 0;
        }
        m->metrics->n_conns++;
        c->m = m;
        c->fd = cfd;
        if (sd_event_add_io(m->event, &c->io, cfd, EPOLLIN, on_conn_io, c) < 0 ||
            sd_event_add_time_relative(m->event, &c->timer, CLOCK_MONOTONIC, 5 * USEC_PER_SEC, 0,
                                       on_conn_timeout, c) < 0)
                conn_free(c);
        return 0;
}

int metrics_start(Manager *m) {
        _cleanup_free_ char *ip = NULL, *file = NULL, *bound = NULL;
        _cleanup_(erase_and_freep) char *token = NULL;
        struct sockaddr_in sa = { .sin_family = AF_INET };
        socklen_t sl = sizeof(sa);
        const char *addr = m->config.metrics_address, *token_file = m->config.metrics_token_file, *colon;
        Metrics *x;
        int one = 1, r;
        uint32_t port;

        if (isempty(addr)) {
                if (token_file)
                        log_debug("No MetricsAddress=, so MetricsTokenFile='%s' is not read.", token_file);
                return 0;
        }
        /* The token first: with an unusable token file, arkd does not start at all. */
        if (token_file) {
                r = load_token(token_file, &token);
                if (r < 0)
                        return r;
                if (r > 0)
                        log_notice(
                                "Created the metrics token file '%s' (mode 0600, a new random token). Copy it "
                                "to the Prometheus server (bearer_token_file, or authorization: credentials_file); "
                                "requests to /metrics without it are refused.",
                                token_file);
        }

        x = calloc(1, sizeof(Metrics));
        if (!x)
                return log_error_errno(-ENOMEM, "Out of memory.");
        x->fd = -1;
        x->token = TAKE_PTR(token);
        m->metrics = x;

        /* From here on, what goes wrong leaves arkd running without metrics. */
        colon = strrchr(addr, ':');
        ip = colon ? strndup(addr, (size_t) (colon - addr)) : NULL;
        if (!ip || inet_pton(AF_INET, ip, &sa.sin_addr) != 1 || parse_u32(colon + 1, &port) < 0 ||
            port > 65535) {
                log_warning("MetricsAddress '%s' is not IP:PORT; serving no metrics.", addr);
                return 0;
        }
        sa.sin_port = htons((uint16_t) port);
        /* Off loopback without a token, anyone who reaches the port reads every tenant's and
         * instance's name. Refusing to start would turn an update into a rollback on appliances
         * that are firewalled on purpose, so this is a warning (docs/operations.md). */
        if (!x->token && (ntohl(sa.sin_addr.s_addr) >> 24) != 127)
                log_warning(
                        "MetricsAddress=%s is not a loopback address and no MetricsTokenFile= is set: anyone who "
                        "can reach the port reads every tenant's and instance's name. Set MetricsTokenFile= "
                        "(docs/operations.md) or firewall the port.",
                        addr);
        x->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (x->fd < 0) {
                log_warning_errno(-errno, "Failed to create the metrics socket: %m");
                return 0;
        }
        (void) setsockopt(x->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(x->fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(x->fd, 16) < 0 ||
            getsockname(x->fd, (struct sockaddr *) &sa, &sl) < 0) {
                int e = -errno;
                close(x->fd);
                x->fd = -1;
                log_warning_errno(e, "Cannot serve metrics on %s: %m; arkd runs without them.", addr);
                return 0;
        }
        if (sd_event_add_io(m->event, &x->listen, x->fd, EPOLLIN, on_accept, m) < 0) {
                log_warning("Failed to watch the metrics socket.");
                return 0;
        }
        bound = strprintf("%s:%u", ip, (unsigned) ntohs(sa.sin_port));
        file = manager_state_path(m, "metrics.address");
        if (!bound || !file)
                return log_error_errno(-ENOMEM, "Out of memory.");
        if (write_string_file(file, bound, WRITE_CREATE | WRITE_ATOMIC) < 0)
                log_warning("Failed to write %s.", file);
        if (x->token)
                log_info(
                        "Serving Prometheus metrics on http://%s/metrics to clients with the bearer token in '%s'.",
                        bound, token_file);
        else
                log_info("Serving Prometheus metrics on http://%s/metrics without authentication.", bound);
        return 0;
}

void metrics_free(Manager *m) {
        Metrics *x = m->metrics;

        if (!x)
                return;
        sd_event_source_disable_unref(x->listen);
        sd_event_source_disable_unref(x->resume);
        if (x->fd >= 0)
                close(x->fd);
        for (size_t k = 0; k < x->n_api; k++)
                free(x->api[k].action);
        free(x->api);
        for (size_t k = 0; k < x->n_refusals; k++) {
                free(x->refusals[k].action);
                free(x->refusals[k].reason);
        }
        free(x->refusals);
        erase_and_freep(&x->token);
        free(x);
        m->metrics = NULL;
}

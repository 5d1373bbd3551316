#pragma once

/* Prometheus metrics: arkd serves the text exposition format (version 0.0.4) over HTTP on
 * MetricsAddress= (default 127.0.0.1:9464), GET /metrics, from its event loop: per-tenant
 * allocations and quota limits, per-GPU claim state and owner, instances by state, admission
 * refusals by reason, D-Bus API calls and their latency. With MetricsTokenFile=, every request
 * must carry "Authorization: Bearer TOKEN" (RFC 6750) and gets 401 without it. */

#include <stdbool.h>
#include <stdint.h>

typedef struct Manager Manager;
typedef struct Metrics Metrics;

#ifdef CONFIG_METRICS

/* Reads the token file (MetricsTokenFile=; creates it, 0600 with a random token, when missing),
 * binds and listens; writes the address bound to <state>/metrics.address, so port 0 can be
 * found. Logs. Returns a negative errno, and arkd must not start, only when the token file is
 * unusable (others may read it, another user owns it, empty, bad characters; the log names the
 * file) or on OOM; an address that cannot be bound leaves arkd running without metrics (0). */
int metrics_start(Manager *m);
void metrics_free(Manager *m);

/* One D-Bus call: its "Interface.Method", how it ended (NULL = ok, else the error name) and how
 * long it took. */
void metrics_note_call(Manager *m, const char *action, const char *error_name, uint64_t usec);
/* A preemptible instance was stopped for a reclaim (reclaim.h). */
void metrics_note_preemption(Manager *m);

/* The exposition text (newly allocated), or NULL on OOM. */
char *metrics_render(Manager *m);
#else
/* Built without the endpoint (CONFIG_METRICS off): nothing is served and nothing is counted. */
static inline int metrics_start(Manager *m) {
        return 0;
}
static inline void metrics_free(Manager *m) {
}
static inline void metrics_note_call(Manager *m, const char *action, const char *error_name, uint64_t usec) {
}
static inline void metrics_note_preemption(Manager *m) {
}
#endif

/* Admission on a snapshot; see admission.h. */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool/admission.h"
#include "pool/borrow.h"

#define MIB (UINT64_C(1) << 20)

void admission_decision_done(AdmissionDecision *d) {
        free(d->victims);
        d->victims = NULL;
        d->n_victims = 0;
}

__attribute__((format(printf, 3, 4))) static void refuse(AdmissionDecision *d, AdmissionRefusal why,
                                                         const char *fmt, ...) {
        va_list ap;

        d->verdict = ADMISSION_REFUSE;
        d->refusal = why;
        d->n_gpus = 0;
        va_start(ap, fmt);
        vsnprintf(d->message, sizeof(d->message), fmt, ap);
        va_end(ap);
}

/* Appends to the decision's message. */
__attribute__((format(printf, 2, 3))) static void say_more(AdmissionDecision *d, const char *fmt, ...) {
        size_t l = strlen(d->message);
        va_list ap;

        if (l + 1 >= sizeof(d->message))
                return;
        va_start(ap, fmt);
        vsnprintf(d->message + l, sizeof(d->message) - l, fmt, ap);
        va_end(ap);
}

static bool model_has(const char *model, const char *want) {
        return !want || strcasestr(model ?: "", want);
}

static const char *format_size(char *buf, size_t l, uint64_t bytes) {
        static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
        double v = (double) bytes;
        size_t u = 0;

        while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
                v /= 1024;
                u++;
        }
        if (u == 0)
                snprintf(buf, l, "%" PRIu64 " B", bytes);
        else
                snprintf(buf, l, "%.1f %s", v, units[u]);
        return buf;
}

/* ------------------------------------------------------------------------------------------ */
/* guarantees */

static uint64_t guarantee_of(const AdmissionTenant *t) {
        uint64_t g = 0;

        for (size_t k = 0; k < t->n_quotas; k++)
                if (t->quotas[k].resource == QUOTA_GPUS)
                        g += t->quotas[k].guarantee;
        return g;
}

static uint64_t unused_of(const Quota *q, const QuotaUsage *u) {
        uint64_t used = quota_used(q, u);

        return q->guarantee > used ? q->guarantee - used : 0;
}

uint64_t admission_unused_guarantee(const AdmissionTenant *t) {
        uint64_t n = 0;

        if (guarantee_of(t) == 0)
                return 0;
        for (size_t k = 0; k < t->n_quotas; k++)
                if (t->quotas[k].resource == QUOTA_GPUS)
                        n += unused_of(&t->quotas[k], &t->usage);
        return n;
}

/* Whether the GPUs picked for tenant t are all within its unused guarantees (an any-GPU guarantee
 * beside a model one may count a GPU twice, as SetQuota counts both). */
static bool entitled(const AdmissionSnapshot *s, const AdmissionTenant *t, const size_t *picked, size_t n) {
        uint64_t covered = 0;

        if (guarantee_of(t) == 0 || admission_unused_guarantee(t) < n)
                return false;
        for (size_t k = 0; k < t->n_quotas; k++) {
                const Quota *q = &t->quotas[k];
                uint64_t match = 0, unused;

                if (q->resource != QUOTA_GPUS || q->guarantee == 0)
                        continue;
                for (size_t g = 0; g < n; g++)
                        match += quota_model_matches(s->gpus[picked[g]].model ?: "", q->model);
                unused = unused_of(q, &t->usage);
                covered += match < unused ? match : unused;
        }
        return covered >= n;
}

/* Every tenant and instance as borrow.h sees them. Instances being stopped for a reclaim, and
 * those of unknown tenants, are never picked; the former's GPUs are not their tenant's. */
typedef struct Lending {
        BorrowTenant *bt;
        BorrowInstance *bi;
} Lending;

static void lending_done(Lending *l) {
        free(l->bt);
        free(l->bi);
}

static int lending_make(const AdmissionSnapshot *s, Lending *l) {
        l->bt = calloc(s->n_tenants + 1, sizeof(BorrowTenant));
        l->bi = calloc(s->n_instances + 1, sizeof(BorrowInstance));
        if (!l->bt || !l->bi)
                return -ENOMEM;
        for (size_t t = 0; t < s->n_tenants; t++)
                l->bt[t] = (BorrowTenant) { .guarantee = guarantee_of(&s->tenants[t]),
                                            .held = s->tenants[t].pending_gpus };
        for (size_t k = 0; k < s->n_instances; k++) {
                const AdmissionInstance *i = &s->instances[k];
                bool known = i->tenant < s->n_tenants;

                l->bi[k] = (BorrowInstance) {
                        .name = i->name ?: "",
                        .tenant = known ? i->tenant : 0,
                        .created_usec = i->created_usec,
                        .gpus = known ? i->n_gpus : 0,
                        .preemptible = known && i->preemptible,
                        .chosen = !known || i->preempting,
                };
                if (known && !i->preempting)
                        l->bt[i->tenant].held += i->n_gpus;
        }
        return 0;
}

/* Whether instance k holds a GPU the request can take that one of the requester's unused
 * guarantees covers. */
static bool instance_useful(const AdmissionSnapshot *s, size_t k, const AdmissionRequest *req,
                            const char *const *addresses) {
        const AdmissionTenant *t = &s->tenants[req->tenant];

        for (size_t g = 0; g < s->n_gpus; g++) {
                const AdmissionGpu *x = &s->gpus[g];
                bool listed = !addresses;

                if (x->holder != k)
                        continue;
                for (const char *const *a = addresses; a && *a && !listed; a++)
                        listed = strcmp(*a, x->address) == 0;
                if (!listed || !model_has(x->model, req->model))
                        continue;
                for (size_t q = 0; q < t->n_quotas; q++)
                        if (t->quotas[q].resource == QUOTA_GPUS && unused_of(&t->quotas[q], &t->usage) > 0 &&
                            quota_model_matches(x->model ?: "", t->quotas[q].model))
                                return true;
        }
        return false;
}

/* Whether, after `picked` go to the requester and the instances in `stopped` stop, every other
 * tenant's unused GPU guarantee can still be met from the GPUs that are free, about to be freed,
 * or lent (no more of a tenant's than it holds beyond its guarantee). 1, 0 or -ENOMEM. */
static int guarantees_kept(const AdmissionSnapshot *s, size_t requester, const size_t *picked,
                           size_t n_picked, const bool *stopped) {
        Lending l = {};
        BorrowDemand *d = NULL;
        const char **supply = NULL;
        uint64_t *lendable = NULL;
        size_t nd = 0, ns = 0, nq = 0;
        int r;

        r = lending_make(s, &l);
        if (r < 0)
                goto finish;
        for (size_t t = 0; t < s->n_tenants; t++)
                nq += s->tenants[t].n_quotas;
        d = calloc(nq + 1, sizeof(BorrowDemand));
        supply = calloc(s->n_gpus + 1, sizeof(char *));
        lendable = calloc(s->n_tenants + 1, sizeof(uint64_t));
        if (!d || !supply || !lendable) {
                r = -ENOMEM;
                goto finish;
        }
        /* What the others are promised and do not use. */
        for (size_t t = 0; t < s->n_tenants; t++) {
                const AdmissionTenant *o = &s->tenants[t];

                lendable[t] = l.bt[t].held > l.bt[t].guarantee ? l.bt[t].held - l.bt[t].guarantee : 0;
                if (t == requester || l.bt[t].guarantee == 0)
                        continue;
                for (size_t k = 0; k < o->n_quotas; k++)
                        if (o->quotas[k].resource == QUOTA_GPUS && unused_of(&o->quotas[k], &o->usage) > 0)
                                d[nd++] = (BorrowDemand) { o->quotas[k].model,
                                                           unused_of(&o->quotas[k], &o->usage) };
        }
        if (nd == 0) {
                r = 1;
                goto finish;
        }
        /* What could keep them: GPUs free and able to go, or about to be freed, or lent. */
        for (size_t g = 0; g < s->n_gpus; g++) {
                const AdmissionGpu *x = &s->gpus[g];
                bool available = false, taken = false;

                for (size_t k = 0; k < n_picked && !taken; k++)
                        taken = picked[k] == g;
                if (taken || x->hold == ADMISSION_GPU_RESERVED || x->hold == ADMISSION_GPU_QUARANTINED ||
                    x->hold == ADMISSION_GPU_CONFLICT || x->hold == ADMISSION_GPU_KEPT)
                        continue;
                if (x->holder == ADMISSION_NONE)
                        available = x->hold == ADMISSION_GPU_FREE && !x->mig && x->shares.n == 0;
                else if (x->holder < s->n_instances) {
                        size_t j = x->holder;

                        if (s->instances[j].preempting || (stopped && stopped[j]))
                                available = true;
                        else if (borrow_is_borrowing(&l.bi[j], l.bt) && lendable[l.bi[j].tenant] > 0) {
                                lendable[l.bi[j].tenant]--;
                                available = true;
                        }
                }
                if (available)
                        supply[ns++] = x->model ?: "";
        }
        r = borrow_demands_met(d, nd, supply, ns);
finish:
        lending_done(&l);
        free(d);
        free(supply);
        free(lendable);
        return r;
}

/* ------------------------------------------------------------------------------------------ */
/* placing */

/* The refusal of a request the pool has no room for. False when no GPU of the model exists
 * (nothing to reclaim). */
static bool refuse_no_room(const AdmissionSnapshot *s, const AdmissionRequest *req, unsigned count,
                           const HostRequest *hr, const HostShortage *sh, AdmissionDecision *d) {
        unsigned by_hold[_ADMISSION_HOLD_MAX] = {}, shown = 0;
        bool model_exists = !req->model;
        const char *m = req->model;
        char b1[32], b2[32];

        for (size_t k = 0; k < s->n_gpus && !model_exists; k++)
                model_exists = model_has(s->gpus[k].model, m);
        if (!model_exists) {
                refuse(d, ADMISSION_NO_CAPACITY, "This host has no GPU matching '%s'", m);
                for (size_t k = 0; k < s->n_gpus; k++) {
                        bool seen = false;

                        for (size_t j = 0; j < k && !seen; j++)
                                seen = strstr(s->gpus[j].model ?: "", s->gpus[k].model ?: "") != NULL;
                        if (!seen)
                                say_more(d, "%s%s", shown++ == 0 ? " (it has " : ", ",
                                         s->gpus[k].model ?: "");
                }
                say_more(d, "%s.", shown > 0 ? ")" : "");
                return false;
        }
        if (sh->why == HOST_SHORT_CPU_MEMORY) {
                refuse(d, ADMISSION_NO_CAPACITY, "No NUMA node with %u free GPU%s%s%s%s has ", count,
                       count == 1 ? "" : "s", m ? " matching '" : "", m ?: "", m ? "'" : "");
                if (sh->cpu)
                        say_more(d, "%" PRId64 " vCPUs%s", hr->cpu_milli / 1000, sh->memory ? " and " : "");
                if (sh->memory)
                        say_more(d, "%s", format_size(b1, sizeof(b1), (uint64_t) hr->memory_mib * MIB));
                say_more(d,
                         " free for the VM: the most left beside such GPUs is %" PRId64
                         " vCPUs and %s; ask for less, "
                         "or stop a VM there.",
                         sh->cpu_left / 1000, format_size(b2, sizeof(b2), (uint64_t) sh->memory_left * MIB));
                return true;
        }
        for (size_t k = 0; k < s->n_gpus; k++)
                if (model_has(s->gpus[k].model, m))
                        by_hold[s->gpus[k].hold]++;
        if (sh->why == HOST_SHORT_SPREAD)
                refuse(d, ADMISSION_NO_CAPACITY,
                       "Not enough free GPUs%s%s%s on one NUMA node: %u asked for, %u free, at "
                       "most %u on one NUMA node (a VM's GPUs come from one NUMA node when one has that "
                       "many)",
                       m ? " matching '" : "", m ?: "", m ? "'" : "", count, sh->free_gpus,
                       sh->most_on_node);
        else
                refuse(d, ADMISSION_NO_CAPACITY,
                       "Not enough free GPUs%s%s%s: %u asked for, %u can be given out",
                       m ? " matching '" : "", m ?: "", m ? "'" : "", count, sh->free_gpus);
        if (by_hold[ADMISSION_GPU_CLAIMED] + by_hold[ADMISSION_GPU_KEPT] + by_hold[ADMISSION_GPU_RESERVED] +
                    by_hold[ADMISSION_GPU_QUARANTINED] + by_hold[ADMISSION_GPU_CONFLICT] >
            0) {
                say_more(d, " (%u claimed by VMs, ", by_hold[ADMISSION_GPU_CLAIMED]);
                if (by_hold[ADMISSION_GPU_KEPT] > 0)
                        say_more(d, "%u kept for calls waiting on a reclaim, ", by_hold[ADMISSION_GPU_KEPT]);
                say_more(d, "%u reserved for the host, %u quarantined%s)", by_hold[ADMISSION_GPU_RESERVED],
                         by_hold[ADMISSION_GPU_QUARANTINED],
                         by_hold[ADMISSION_GPU_CONFLICT] > 0
                                 ? ", and some held by domains outside Ark's claims: see 'arkctl status'"
                                 : "");
        }
        {
                unsigned parted = 0;

                for (size_t k = 0; k < s->n_gpus; k++)
                        parted += model_has(s->gpus[k].model, m) && s->gpus[k].hold == ADMISSION_GPU_FREE &&
                                (s->gpus[k].mig || s->gpus[k].shares.n > 0);
                if (parted > 0)
                        say_more(d, "; %u carry containers' MIG instances or shares and are not given whole",
                                 parted);
        }
        /* Why the others that are not simply taken cannot go, so the admin knows what to change. */
        shown = 0;
        for (size_t k = 0; k < s->n_gpus && shown < 3; k++)
                if (s->gpus[k].hold == ADMISSION_GPU_NOT_READY && model_has(s->gpus[k].model, m)) {
                        say_more(d, "; %s", s->gpus[k].why ?: s->gpus[k].address);
                        shown++;
                }
        say_more(d, ".");
        return true;
}

/* ------------------------------------------------------------------------------------------ */
/* partitions */

static bool is_partition(const AdmissionRequest *req) {
        return req->mig || req->share_milli > 0;
}

static bool gpu_partitioned(const AdmissionGpu *x) {
        return x->mig || x->shares.n > 0;
}

/* "0.25" */
static const char *share_name(char *buf, size_t l, unsigned milli) {
        size_t n;

        snprintf(buf, l, "0.%03u", milli % 1000);
        for (n = strlen(buf); n > 3 && buf[n - 1] == '0'; n--)
                buf[n - 1] = 0;
        return buf;
}

/* The distinct models of the GPUs matching `m`, joined by ", ". */
static void say_models(AdmissionDecision *d, const AdmissionSnapshot *s, const char *m) {
        unsigned shown = 0;

        for (size_t k = 0; k < s->n_gpus; k++) {
                bool seen = false;

                if (!model_has(s->gpus[k].model, m))
                        continue;
                for (size_t j = 0; j < k && !seen; j++)
                        seen = model_has(s->gpus[j].model, m) &&
                                strcmp(s->gpus[j].model ?: "", s->gpus[k].model ?: "") == 0;
                if (!seen)
                        say_more(d, "%s%s", shown++ == 0 ? "" : ", ", s->gpus[k].model ?: "(unknown)");
        }
}

static void say_instances(AdmissionDecision *d, const MigGpu *g) {
        unsigned shown = 0;

        for (unsigned st = 0; st < MIG_MEMORY_SLICES; st++)
                if (g->at[st] > 0)
                        say_more(d, "%s%s at slice %u", shown++ == 0 ? "" : ", ",
                                 mig_profile_info((MigProfile) (g->at[st] - 1))->name, st);
        if (shown == 0)
                say_more(d, "no instances");
}

/* The refusal of a partition the pool has no room for. */
static void refuse_partition(const AdmissionSnapshot *s, const AdmissionRequest *req, const HostRequest *hr,
                             const HostShortage *sh, AdmissionDecision *d) {
        const char *m = req->model, *tenant = s->tenants[req->tenant].name ?: "";
        char what[64], b1[32], b2[32];
        unsigned shown = 0, whole = 0, shared = 0;

        if (req->mig)
                snprintf(what, sizeof(what), "a %s MIG instance", mig_profile_info(req->mig_profile)->name);
        else
                snprintf(what, sizeof(what), "a %s share with %s of GPU memory",
                         share_name(b1, sizeof(b1), req->share_milli),
                         format_size(b2, sizeof(b2), req->share_memory));
        switch (sh->why) {
        case HOST_SHORT_MIG_MODEL:
                refuse(d, ADMISSION_UNSUPPORTED,
                       "MIG needs an A100 or H100 80GB; this host's GPUs%s%s%s are ", m ? " matching '" : "",
                       m ?: "", m ? "'" : "");
                say_models(d, s, m);
                say_more(d, ".");
                return;
        case HOST_SHORT_MIG_ROOM:
                refuse(d, ADMISSION_NO_CAPACITY, "No GPU has room for %s:", what);
                for (size_t k = 0; k < s->n_gpus; k++) {
                        const AdmissionGpu *x = &s->gpus[k];

                        if (!model_has(x->model, m) || !mig_model_supported(x->model))
                                continue;
                        if (x->mig && x->hold == ADMISSION_GPU_FREE && shown++ < 4) {
                                say_more(d, " %s has ", x->address);
                                say_instances(d, &x->instances);
                                say_more(d, ";");
                        } else if (!x->mig && x->shares.n > 0)
                                shared++;
                        else if (!x->mig)
                                whole++;
                }
                say_more(d,
                         " and no GPU that could be put in MIG mode is wholly free (%u given whole or not "
                         "free, %u carrying shares).",
                         whole, shared);
                return;
        case HOST_SHORT_SHARE_MEMORY: {
                uint64_t most = 0;
                bool known = false;

                for (size_t k = 0; k < s->n_gpus; k++) {
                        const AdmissionGpu *x = &s->gpus[k];

                        if (!model_has(x->model, m) || x->hold != ADMISSION_GPU_FREE || x->mig)
                                continue;
                        known = known || x->memory_bytes > 0;
                        if (x->shares.n == 0)
                                most = x->memory_bytes > most ? x->memory_bytes : most;
                        else if (x->shares.tenant && strcmp(x->shares.tenant, tenant) == 0 &&
                                 x->shares.milli == req->share_milli &&
                                 x->shares.memory_bytes == req->share_memory &&
                                 x->memory_bytes > x->shares.n * x->shares.memory_bytes)
                                most = x->memory_bytes - x->shares.n * x->shares.memory_bytes > most
                                        ? x->memory_bytes - x->shares.n * x->shares.memory_bytes
                                        : most;
                }
                if (!known)
                        refuse(d, ADMISSION_NO_CAPACITY,
                               "No GPU can take %s: the memory of this host's GPUs%s%s%s is not known, and a "
                               "share needs its memory counted.",
                               what, m ? " matching '" : "", m ?: "", m ? "'" : "");
                else
                        refuse(d, ADMISSION_NO_CAPACITY,
                               "No GPU has the memory for %s: the most a GPU it could go on has left is %s "
                               "(the shares of a GPU together get no more than its memory).",
                               what, format_size(b1, sizeof(b1), most));
                return;
        }
        case HOST_SHORT_SHARE_JOIN:
                refuse(d, ADMISSION_NO_CAPACITY,
                       "No GPU%s%s%s can take %s for tenant '%s': the GPUs with room carry other tenants' "
                       "shares or shares of another size (a GPU's shares are one tenant's, all of one size: "
                       "one MPS server, one limit), and none is wholly free.",
                       m ? " matching '" : "", m ?: "", m ? "'" : "", what, tenant);
                return;
        case HOST_SHORT_CPU_MEMORY:
                refuse(d, ADMISSION_NO_CAPACITY, "No NUMA node with room for %s has ", what);
                if (sh->cpu)
                        say_more(d, "%" PRId64 " vCPUs%s", hr->cpu_milli / 1000, sh->memory ? " and " : "");
                if (sh->memory)
                        say_more(d, "%s", format_size(b1, sizeof(b1), (uint64_t) hr->memory_mib * MIB));
                say_more(d,
                         " free: the most left beside such GPUs is %" PRId64 " vCPUs and %s; ask for less, "
                         "or stop an instance there.",
                         sh->cpu_left / 1000, format_size(b2, sizeof(b2), (uint64_t) sh->memory_left * MIB));
                return;
        default:
                (void) refuse_no_room(s, req, 1, hr, sh, d); /* no GPU of the model */
                return;
        }
}

/* A partition on the pool h of the snapshot. 0 with the placement or a refusal in d, <0 for -ENOMEM. */
static int place_partition(const AdmissionSnapshot *s, const AdmissionRequest *req, HostPool *h,
                           const HostRequest *whole, AdmissionDecision *d) {
        HostRequest hr = *whole;
        HostPartition pt = {};
        HostShortage sh = {};
        int r;

        hr.count = 0;
        hr.share_milli = req->mig ? 0 : req->share_milli;
        hr.share_memory = req->mig ? 0 : req->share_memory;
        hr.tenant = s->tenants[req->tenant].name ?: "";
        hr.mig = req->mig;
        hr.mig_profile = req->mig_profile;
        r = host_pool_place_partition(h, s->policy, &hr, &pt, &sh);
        if (r == -EINVAL) {
                refuse(d, ADMISSION_INVALID,
                       "The partition request is malformed: a MIG profile, or a share of 1 to 999 milli-GPU "
                       "with its GPU memory, and no GPU count or devices.");
                return 0;
        }
        if (r == -ENOSPC) {
                refuse_partition(s, req, &hr, &sh, d);
                return 0;
        }
        if (r < 0)
                return r;
        d->verdict = ADMISSION_PLACE;
        d->gpus[0] = pt.gpu;
        d->n_gpus = 1;
        d->partition = true;
        d->mig_start = req->mig ? pt.mig_start : 0;
        d->mig_enable = req->mig && pt.mig_enable;
        d->share_milli = req->mig ? 0 : req->share_milli;
        d->share_memory = req->mig ? 0 : req->share_memory;
        return 0;
}

static int exact_refusal(const AdmissionSnapshot *s, const char *const *addresses, int r, size_t bad,
                         AdmissionDecision *d, bool *ret_short) {
        if (r == -ENOENT) {
                /* Perhaps a function of a GPU (its audio, say), which goes with the GPU anyway. */
                for (size_t k = 0; k < s->n_gpus; k++)
                        for (const char *const *f = s->gpus[k].functions; f && *f; f++)
                                if (strcmp(*f, addresses[bad]) == 0) {
                                        refuse(d, ADMISSION_NOT_FOUND,
                                               "%s is a function of GPU %s (%s), not a GPU; ask for %s, and "
                                               "its "
                                               "functions go with it.",
                                               addresses[bad], s->gpus[k].address, s->gpus[k].model ?: "",
                                               s->gpus[k].address);
                                        return 0;
                                }
                refuse(d, ADMISSION_NOT_FOUND,
                       "This host has no accelerator at %s (see 'arkctl host accelerators').",
                       addresses[bad]);
                return 0;
        }
        if (r == -EBUSY) {
                const AdmissionGpu *x = NULL;

                for (size_t k = 0; k < s->n_gpus && !x; k++)
                        if (strcmp(s->gpus[k].address, addresses[bad]) == 0)
                                x = &s->gpus[k];
                if (!x)
                        return -EINVAL;
                if (x->hold == ADMISSION_GPU_FREE && gpu_partitioned(x)) {
                        refuse(d, ADMISSION_IN_USE,
                               "GPU %s (%s) carries containers' %s and is not given whole until they are "
                               "gone.",
                               x->address, x->model ?: "", x->mig ? "MIG instances (MIG mode)" : "shares");
                        return 0;
                }
                refuse(d, x->hold == ADMISSION_GPU_NOT_READY ? ADMISSION_NOT_READY : ADMISSION_IN_USE,
                       "GPU %s.", x->why ?: x->address);
                *ret_short = x->hold == ADMISSION_GPU_CLAIMED;
                return 0;
        }
        if (r == -EINVAL) {
                refuse(d, ADMISSION_INVALID,
                       "The GPU request is malformed (an address listed twice, or a count that does not "
                       "match the "
                       "addresses).");
                return 0;
        }
        return r;
}

/* One try: the request placed with the instances in `stopped` (NULL = none) as if stopped. Fills
 * the GPUs, or a refusal (*ret_short: one a reclaim may cure). <0 only for -ENOMEM. */
static int place(const AdmissionSnapshot *s, const AdmissionRequest *req, unsigned count,
                 const char *const *addresses, const bool *stopped, AdmissionDecision *d, bool *ret_short) {
        HostGpu *hg = calloc(s->n_gpus + 1, sizeof(HostGpu));
        size_t *held = calloc(s->n_gpus + 1, sizeof(size_t)), bad = 0;
        HostPool h = {};
        int r;

        *ret_short = false;
        if (!hg || !held) {
                r = -ENOMEM;
                goto finish;
        }
        for (size_t k = 0; k < s->n_gpus; k++) {
                const AdmissionGpu *x = &s->gpus[k];
                bool gone = x->holder < s->n_instances && stopped && stopped[x->holder];

                hg[k] = (HostGpu) {
                        .address = x->address,
                        .model = x->model,
                        .numa_node = x->numa_node,
                        .switch_port = x->switch_port,
                        .blocked = x->hold != ADMISSION_GPU_FREE &&
                                !(gone && x->hold == ADMISSION_GPU_CLAIMED && x->free_if_released),
                        .held = x->holder != ADMISSION_NONE && !gone,
                        .memory_bytes = x->memory_bytes,
                        .mig = x->mig,
                        .instances = x->instances,
                        .shares = x->shares,
                };
        }
        d->verdict = ADMISSION_PLACE;
        if (addresses) {
                r = host_gpus_exact(hg, s->n_gpus, addresses, req->count, d->gpus, &d->n_gpus, &bad);
                if (r < 0)
                        r = exact_refusal(s, addresses, r, bad, d, ret_short);
                goto finish;
        }
        if (count > HOST_GPUS_MAX) {
                r = exact_refusal(s, addresses, -EINVAL, 0, d, ret_short);
                goto finish;
        }
        r = host_pool_make(&h, hg, s->n_gpus, s->numa, s->n_numa, s->workload, s->seed);
        if (r < 0)
                goto finish;
        /* Each instance holding GPUs is booked, but not those asked about as stopped. */
        for (size_t i = 0; i < s->n_instances && r >= 0; i++) {
                size_t n = 0;

                if (stopped && stopped[i])
                        continue;
                for (size_t k = 0; k < s->n_gpus; k++) {
                        bool holds = s->gpus[k].holder == i;

                        for (size_t j = 0; j < s->gpus[k].n_partition_holders && !holds; j++)
                                holds = s->gpus[k].partition_holders[j] == i;
                        if (holds)
                                held[n++] = k;
                }
                if (n > 0)
                        r = host_pool_occupy(&h, (int64_t) s->instances[i].vcpus * 1000,
                                             (int64_t) ((s->instances[i].memory_bytes + MIB - 1) / MIB),
                                             held, n);
        }
        if (r >= 0) {
                /* GPUs added to a VM that has some: its CPU and memory are booked with them. */
                bool has_gpus = req->instance < s->n_instances && s->instances[req->instance].n_gpus > 0;
                HostRequest hr = {
                        .cpu_milli = has_gpus ? 0 : (int64_t) req->vcpus * 1000,
                        .memory_mib = has_gpus ? 0 : (int64_t) ((req->memory_bytes + MIB - 1) / MIB),
                        .count = count,
                        .model = req->model,
                };
                HostShortage sh = {};

                if (is_partition(req)) {
                        r = place_partition(s, req, &h, &hr, d);
                        goto finish;
                }
                r = host_pool_place(&h, s->policy, &hr, d->gpus, &d->n_gpus, &sh);
                if (r == -ENOSPC) {
                        *ret_short = refuse_no_room(s, req, count, &hr, &sh, d);
                        r = 0;
                } else if (r == -EINVAL)
                        r = exact_refusal(s, addresses, -EINVAL, 0, d, ret_short);
        }
finish:
        host_pool_done(&h);
        free(hg);
        free(held);
        return r;
}

/* ------------------------------------------------------------------------------------------ */
/* deciding */

/* Borrowers to stop until the request fits (youngest first), each asked about on the snapshot.
 * On success the decision holds the GPUs and the victims whose GPUs they are; else it is left
 * as it was (the first refusal). */
static int try_reclaim(const AdmissionSnapshot *s, const AdmissionRequest *req, unsigned count,
                       const char *const *addresses, AdmissionDecision *d) {
        AdmissionDecision t = {};
        Lending l = {};
        bool *stopped = calloc(s->n_instances + 1, sizeof(bool)), placed = false;
        size_t *victims = calloc(s->n_instances + 1, sizeof(size_t)), n_victims = 0;
        int r;

        if (!stopped || !victims) {
                r = -ENOMEM;
                goto finish;
        }
        r = lending_make(s, &l);
        if (r < 0)
                goto finish;
        for (size_t k = 0; k < s->n_instances; k++)
                l.bi[k].useful = instance_useful(s, k, req, addresses);
        for (;;) {
                ssize_t v = borrow_next_victim(l.bi, s->n_instances, l.bt, req->tenant);
                bool again = false;

                if (v < 0)
                        break;
                victims[n_victims++] = (size_t) v;
                stopped[v] = true;
                t = (AdmissionDecision) {};
                r = place(s, req, count, addresses, stopped, &t, &again);
                if (r < 0)
                        goto finish;
                if (t.verdict != ADMISSION_REFUSE) {
                        placed = true;
                        break;
                }
                if (!again)
                        break;
        }
        if (!placed)
                goto finish;
        /* Only those whose GPUs the request takes. */
        {
                size_t kept = 0;

                for (size_t k = 0; k < n_victims; k++) {
                        bool used = false;

                        for (size_t g = 0; g < t.n_gpus && !used; g++)
                                used = s->gpus[t.gpus[g]].holder == victims[k];
                        if (used)
                                victims[kept++] = victims[k];
                        else
                                stopped[victims[k]] = false;
                }
                n_victims = kept;
        }
        if (!entitled(s, &s->tenants[req->tenant], t.gpus, t.n_gpus))
                goto finish;
        memcpy(d->gpus, t.gpus, sizeof(d->gpus));
        d->n_gpus = t.n_gpus;
        d->verdict = n_victims > 0 ? ADMISSION_RECLAIM : ADMISSION_PLACE;
        d->refusal = ADMISSION_OK;
        d->reclaimable = false;
        d->message[0] = 0;
        d->victims = victims;
        d->n_victims = n_victims;
        victims = NULL;
finish:
        lending_done(&l);
        free(stopped);
        free(victims);
        return r;
}

int admission_decide(const AdmissionSnapshot *s, const AdmissionRequest *req, AdmissionDecision *ret) {
        AdmissionDecision d = { .verdict = ADMISSION_PLACE };
        const char *const *addresses = req->addresses && req->addresses[0] ? req->addresses : NULL;
        unsigned count = req->count, want;
        bool is_short = false;
        int r;

        if (req->tenant >= s->n_tenants ||
            (req->instance != ADMISSION_NONE && req->instance >= s->n_instances))
                return -EINVAL;
        if (is_partition(req)) {
                if (count > 0 || addresses || (req->mig && req->share_milli > 0)) {
                        refuse(&d, ADMISSION_INVALID,
                               "A request asks for whole GPUs, a MIG instance or a share, one of them.");
                        *ret = d;
                        return 0;
                }
                count = 1;
        }
        if (count == 0 && !addresses && !req->model) {
                *ret = d; /* no GPUs asked for */
                return 0;
        }
        if (count == 0 && !addresses)
                count = 1; /* a model alone means one of that model */
        want = count;
        for (const char *const *a = addresses; a && *a && req->count == 0; a++)
                want++;

        r = place(s, req, count, addresses, NULL, &d, &is_short);
        if (r < 0)
                return r;
        /* Partitions take no reclaim (yet): borrowing is counted in whole GPUs. */
        d.reclaimable = d.verdict == ADMISSION_REFUSE && is_short && !is_partition(req);
        if (d.reclaimable && req->may_reclaim && want > 0 &&
            admission_unused_guarantee(&s->tenants[req->tenant]) >= want) {
                r = try_reclaim(s, req, count, addresses, &d);
                if (r < 0) {
                        admission_decision_done(&d);
                        return r;
                }
        }
        /* A partition joining a partitioned GPU takes no whole GPU from anyone's guarantee. */
        if (d.verdict != ADMISSION_REFUSE && !req->preemptible && d.n_gpus > 0 &&
            !(d.partition && gpu_partitioned(&s->gpus[d.gpus[0]]))) {
                bool *stopped = calloc(s->n_instances + 1, sizeof(bool));

                if (!stopped) {
                        admission_decision_done(&d);
                        return -ENOMEM;
                }
                for (size_t k = 0; k < d.n_victims; k++)
                        stopped[d.victims[k]] = true;
                r = guarantees_kept(s, req->tenant, d.gpus, d.n_gpus, stopped);
                free(stopped);
                if (r < 0) {
                        admission_decision_done(&d);
                        return r;
                }
                if (r == 0) {
                        admission_decision_done(&d);
                        refuse(&d, ADMISSION_GUARANTEED,
                               "The free GPUs are guaranteed to other tenants, which do not use them now: "
                               "only a "
                               "preemptible instance may borrow them (--preemptible), and it is stopped "
                               "when they are "
                               "needed.");
                        d.reclaimable = false;
                }
        }
        *ret = d;
        return 0;
}

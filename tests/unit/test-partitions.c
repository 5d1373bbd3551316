/* Tests for GPU partitions in lib/pool (host.h, admission.h): MIG instances and shares for
 * containers placed beside whole GPUs on one pool. The dgx-h100 sequence of issue 18's acceptance 4
 * (partition-sequence.h) is admitted in full with the placements pool_place() gives on a plain
 * Pool, and the next request is refused; then the rules one by one: MIG only on models with the
 * geometry, a GPU switched into MIG mode only when wholly free, a GPU's shares one tenant's and
 * of one size within its memory, partitioned GPUs never given whole, guarantees kept. */

#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "basic/macro.h"
#include "basic/string-util.h"
#include "partition-sequence.h"
#include "pool/admission.h"
#include "pool/pool.h"
#include "pool/workload.h"

#define H100 "NVIDIA H100 80GB HBM3"
#define L40S "NVIDIA L40S"
#define GIB (UINT64_C(1) << 30)
#define MIB (UINT64_C(1) << 20)

static const char *const addresses[8] = {
        "0000:18:00.0", "0000:2a:00.0", "0000:3a:00.0", "0000:5d:00.0",
        "0000:9a:00.0", "0000:ab:00.0", "0000:ba:00.0", "0000:db:00.0",
};
static const char *const switches[8] = {
        "0000:16:00.0", "0000:28:00.0", "0000:38:00.0", "0000:5b:00.0",
        "0000:98:00.0", "0000:a9:00.0", "0000:b8:00.0", "0000:d9:00.0",
};
static const char *const tenant_names[] = { "a", "b", "c", "d", "e" };

/* A host's state as arkd would snapshot it, changed as decisions are taken. */
typedef struct Host {
        AdmissionSnapshot s;
        AdmissionTenant tenants[ELEMENTSOF(tenant_names)];
        AdmissionInstance instances[32];
        AdmissionGpu gpus[8];
        size_t holders[8][16];
        HostNuma numa[2];
} Host;

static void host_init(Host *h, const char *model_low, const char *model_high) {
        *h = (Host) {};
        for (size_t t = 0; t < ELEMENTSOF(tenant_names); t++)
                h->tenants[t] = (AdmissionTenant) { .name = tenant_names[t] };
        for (size_t g = 0; g < 8; g++)
                h->gpus[g] = (AdmissionGpu) {
                        .address = addresses[g],
                        .model = g < 4 ? model_low : model_high,
                        .numa_node = g < 4 ? 0 : 1,
                        .switch_port = switches[g],
                        .hold = ADMISSION_GPU_FREE,
                        .holder = ADMISSION_NONE,
                        .memory_bytes = 80 * GIB,
                        .partition_holders = h->holders[g],
                };
        h->numa[0] = (HostNuma) { 0, 112, 1024 * GIB };
        h->numa[1] = (HostNuma) { 1, 112, 1024 * GIB };
        h->s = (AdmissionSnapshot) {
                .tenants = h->tenants,
                .n_tenants = ELEMENTSOF(tenant_names),
                .instances = h->instances,
                .gpus = h->gpus,
                .n_gpus = 8,
                .numa = h->numa,
                .n_numa = 2,
                .policy = POOL_POLICY_ARK,
        };
}

static size_t tenant_index(const char *name) {
        for (size_t t = 0; t < ELEMENTSOF(tenant_names); t++)
                if (streq(tenant_names[t], name))
                        return t;
        fail_msg("no tenant %s", name);
        return 0;
}

static AdmissionRequest request_of(const PartitionStep *p) {
        AdmissionRequest r = {
                .tenant = tenant_index(p->tenant),
                .vcpus = p->vcpus,
                .memory_bytes = p->memory_bytes,
                .instance = ADMISSION_NONE,
        };

        if (p->kind == PARTITION_WHOLE)
                r.count = p->gpus;
        else if (p->kind == PARTITION_MIG) {
                r.mig = true;
                r.mig_profile = mig_profile_from_string(p->profile);
                assert_true(r.mig_profile >= 0);
        } else {
                r.share_milli = p->share_milli;
                r.share_memory = p->share_memory;
        }
        return r;
}

/* Takes what the decision gives, as arkd's claims would. */
static void host_take(Host *h, const AdmissionRequest *req, const AdmissionDecision *d) {
        size_t i = h->s.n_instances++;

        assert_true(i < ELEMENTSOF(h->instances));
        h->instances[i] = (AdmissionInstance) {
                .name = "x",
                .tenant = req->tenant,
                .vcpus = req->vcpus,
                .memory_bytes = req->memory_bytes,
                .n_gpus = d->partition ? 0 : (unsigned) d->n_gpus,
        };
        if (!d->partition) {
                for (size_t g = 0; g < d->n_gpus; g++) {
                        h->gpus[d->gpus[g]].hold = ADMISSION_GPU_CLAIMED;
                        h->gpus[d->gpus[g]].holder = i;
                        h->gpus[d->gpus[g]].free_if_released = true;
                        h->tenants[req->tenant].usage.amount[QUOTA_GPUS]++;
                }
                return;
        }
        {
                AdmissionGpu *x = &h->gpus[d->gpus[0]];

                h->holders[d->gpus[0]][x->n_partition_holders++] = i;
                if (req->mig) {
                        assert_int_equal(x->mig, !d->mig_enable);
                        x->mig = true;
                        assert_int_equal(mig_add(&x->instances, req->mig_profile, d->mig_start), 0);
                        return;
                }
                if (x->shares.n == 0)
                        x->shares = (HostShares) { .tenant = h->tenants[req->tenant].name,
                                                   .milli = req->share_milli,
                                                   .memory_bytes = req->share_memory };
                x->shares.n++;
        }
}

/* The dgx-h100 as a plain Pool, as host.c makes it: a node per NUMA node, GPUs in address order
 * each behind a switch of its own, the default workload. */
static void plain_pool(Pool *p) {
        PoolWorkload w = {};
        int m;

        *p = (Pool) {};
        m = pool_model(p, H100);
        assert_true(m >= 0);
        for (size_t n = 0; n < 2; n++) {
                assert_int_equal(pool_add_node(p, n == 0 ? "numa0" : "numa1", 112000, 1024 * 1024, m, 4),
                                 (int) n);
                for (unsigned g = 0; g < 4; g++)
                        assert_int_equal(pool_set_topology(p, n, g, (int) n, (int) (n * 4 + g)), 0);
        }
        assert_int_equal(pool_workload_default(&w), 0);
        assert_int_equal(pool_workload_apply(p, &w), 0);
        pool_workload_done(&w);
}

/* Places a step on the plain pool and commits it: -ENOSPC when it does not fit. A MIG instance
 * no GPU in MIG mode takes goes to the GPU placed for one whole GPU, put in MIG mode. */
static int plain_place(Pool *p, const PartitionStep *st, bool whole_only, PoolPlacement *pl,
                       bool *ret_enable) {
        PoolRequest r = { .cpu_milli = st->vcpus * 1000,
                          .memory_mib = (int64_t) ((st->memory_bytes + MIB - 1) / MIB),
                          .num_gpu = st->kind == PARTITION_WHOLE ? st->gpus : 1,
                          .gpu_milli = POOL_MILLI };
        int k;

        *ret_enable = false;
        if (!whole_only && st->kind == PARTITION_SHARE)
                r.gpu_milli = st->share_milli;
        if (!whole_only && st->kind == PARTITION_MIG) {
                PoolRequest w = r;
                PoolPlacement wp;

                r.gpu_milli = 0;
                r.mig = (int8_t) (mig_profile_from_string(st->profile) + 1);
                k = pool_place(p, POOL_POLICY_ARK, &r, pl);
                if (k == -ENOSPC) {
                        k = pool_place(p, POOL_POLICY_ARK, &w, &wp);
                        if (k < 0)
                                return k;
                        assert_int_equal(pool_set_mig(p, wp.node, wp.gpus[0], true), 0);
                        *ret_enable = true;
                        k = pool_place(p, POOL_POLICY_ARK, &r, pl);
                }
        } else
                k = pool_place(p, POOL_POLICY_ARK, &r, pl);
        if (k < 0)
                return k;
        assert_int_equal(pool_commit(p, &r, pl), 0);
        return 0;
}

static void test_sequence(void **state) {
        _cleanup_free_ Host *h = calloc(1, sizeof(Host));
        Pool p, wp;
        uint64_t milli = 0, memory = 0, whole_milli = 0, whole_asked = 0, whole_memory = 0;
        unsigned whole_admitted = 0, whole_gpus = 0;
        AdmissionRequest req;
        AdmissionDecision d = {};

        assert_non_null(h);
        host_init(h, H100, H100);
        plain_pool(&p);
        plain_pool(&wp);
        for (size_t k = 0; k < ELEMENTSOF(partition_sequence); k++) {
                const PartitionStep *st = &partition_sequence[k];
                PoolPlacement pl = {};
                bool enable = false;
                uint64_t asked, asked_memory;

                req = request_of(st);
                assert_int_equal(admission_decide(&h->s, &req, &d), 0);
                printf("# %-4s %-7s tenant %s: %s", st->name,
                       st->kind == PARTITION_WHOLE         ? "whole"
                               : st->kind == PARTITION_MIG ? "mig"
                                                           : "share",
                       st->tenant, d.verdict == ADMISSION_PLACE ? addresses[d.gpus[0]] : d.message);
                if (d.partition && req.mig)
                        printf(" slice %u%s", d.mig_start, d.mig_enable ? " (MIG mode on)" : "");
                printf("\n");
                assert_int_equal(d.verdict, ADMISSION_PLACE);
                assert_string_equal(addresses[d.gpus[0]], st->gpu);
                assert_int_equal(d.partition, st->kind != PARTITION_WHOLE);
                assert_int_equal(d.n_gpus, st->kind == PARTITION_WHOLE ? st->gpus : 1);
                if (st->kind == PARTITION_MIG) {
                        assert_int_equal(d.mig_start, st->mig_start);
                        assert_int_equal(d.mig_enable, st->mig_enable);
                }
                /* The plain pool places it alike. */
                assert_int_equal(plain_place(&p, st, false, &pl, &enable), 0);
                assert_int_equal(pl.node * 4 + pl.gpus[0], d.gpus[0]);
                assert_int_equal(pl.n_gpus, d.n_gpus);
                for (size_t g = 0; g < d.n_gpus; g++)
                        assert_int_equal(pl.node * 4 + pl.gpus[g], d.gpus[g]);
                if (st->kind == PARTITION_MIG) {
                        assert_int_equal(pl.mig_start, d.mig_start);
                        assert_int_equal(enable, d.mig_enable);
                }
                host_take(h, &req, &d);
                admission_decision_done(&d);

                asked = st->kind == PARTITION_WHOLE ? st->gpus * 1000u
                        : st->kind == PARTITION_MIG ? mig_profile_milli(req.mig_profile)
                                                    : st->share_milli;
                asked_memory = st->kind == PARTITION_WHOLE ? st->gpus * 80 * GIB
                        : st->kind == PARTITION_MIG        ? mig_profile_memory(req.mig_profile, 80 * GIB)
                                                           : st->share_memory;
                milli += asked;
                memory += asked_memory;
                /* The same with whole GPUs only: each partition takes a GPU. */
                if (plain_place(&wp, st, true, &pl, &enable) == 0) {
                        whole_admitted++;
                        whole_gpus += pl.n_gpus;
                        whole_asked += asked;
                        whole_milli += pl.n_gpus * 1000u;
                        whole_memory += pl.n_gpus * 80 * GIB;
                }
        }
        /* Exactly full: every GPU given whole, or full of instances or shares. */
        for (size_t g = 0; g < 8; g++) {
                const AdmissionGpu *x = &h->gpus[g];

                if (x->mig)
                        assert_true(x->instances.compute == MIG_COMPUTE_SLICES ||
                                    x->instances.used == (1u << MIG_MEMORY_SLICES) - 1);
                else if (x->shares.n > 0)
                        assert_int_equal(x->shares.n * x->shares.milli, 1000);
                else
                        assert_int_equal(x->hold, ADMISSION_GPU_CLAIMED);
        }

        req = request_of(&partition_refused);
        assert_int_equal(admission_decide(&h->s, &req, &d), 0);
        printf("# next: %s\n", d.message);
        assert_int_equal(d.verdict, ADMISSION_REFUSE);
        assert_int_equal(d.refusal, ADMISSION_NO_CAPACITY);
        assert_false(d.reclaimable);
        assert_non_null(strstr(d.message, PARTITION_REFUSED_MESSAGE));
        {
                PoolPlacement pl;
                bool enable;

                assert_int_equal(plain_place(&p, &partition_refused, false, &pl, &enable), -ENOSPC);
        }
        /* A whole GPU is refused too, saying why the partitioned ones cannot go. */
        req = (AdmissionRequest) {
                .tenant = 0, .vcpus = 1, .memory_bytes = GIB, .count = 1, .instance = ADMISSION_NONE
        };
        assert_int_equal(admission_decide(&h->s, &req, &d), 0);
        assert_int_equal(d.verdict, ADMISSION_REFUSE);
        assert_non_null(strstr(d.message, "4 carry containers' MIG instances or shares"));

        printf("# with partitions: %zu of %zu requests admitted on 8 GPUs; given out %" PRIu64 ".%03" PRIu64
               " GPUs of compute, %" PRIu64 " GiB of GPU memory (of 640)\n",
               ELEMENTSOF(partition_sequence), ELEMENTSOF(partition_sequence), milli / 1000, milli % 1000,
               memory / GIB);
        printf("# whole GPUs only: %u of %zu requests admitted on %u GPUs; they asked %" PRIu64 ".%03" PRIu64
               " GPUs of compute and were given %" PRIu64 ".%03" PRIu64 " (and %" PRIu64
               " GiB of GPU memory)\n",
               whole_admitted, ELEMENTSOF(partition_sequence), whole_gpus, whole_asked / 1000,
               whole_asked % 1000, whole_milli / 1000, whole_milli % 1000, whole_memory / GIB);
        assert_true(whole_admitted < ELEMENTSOF(partition_sequence));
        assert_true(milli > whole_asked);
        pool_done(&p);
        pool_done(&wp);
}

static AdmissionDecision decide(Host *h, const AdmissionRequest *req) {
        AdmissionDecision d = {};

        assert_int_equal(admission_decide(&h->s, req, &d), 0);
        admission_decision_done(&d);
        return d;
}

static AdmissionRequest mig_request(size_t tenant, const char *profile) {
        return (AdmissionRequest) { .tenant = tenant,
                                    .vcpus = 2,
                                    .memory_bytes = GIB,
                                    .instance = ADMISSION_NONE,
                                    .mig = true,
                                    .mig_profile = mig_profile_from_string(profile) };
}

static AdmissionRequest share_request(size_t tenant, unsigned milli, uint64_t memory) {
        return (AdmissionRequest) { .tenant = tenant,
                                    .vcpus = 2,
                                    .memory_bytes = GIB,
                                    .instance = ADMISSION_NONE,
                                    .share_milli = milli,
                                    .share_memory = memory };
}

/* All GPUs but those listed (-1 ends) claimed whole by an instance of tenant 0. */
static void claim_all_but(Host *h, const int *keep) {
        size_t i = h->s.n_instances++;

        h->instances[i] = (AdmissionInstance) { .name = "vm", .tenant = 0, .vcpus = 1, .memory_bytes = GIB };
        for (size_t g = 0; g < 8; g++) {
                bool kept = false;

                for (const int *k = keep; *k >= 0; k++)
                        kept = kept || (size_t) *k == g;
                if (kept)
                        continue;
                h->gpus[g].hold = ADMISSION_GPU_CLAIMED;
                h->gpus[g].holder = i;
                h->instances[i].n_gpus++;
        }
}

static void test_mig_models(void **state) {
        _cleanup_free_ Host *h = calloc(1, sizeof(Host));
        AdmissionRequest req;
        AdmissionDecision d;

        assert_non_null(h);
        /* No GPU of the host has the geometry. */
        host_init(h, L40S, L40S);
        d = decide(h, (req = mig_request(0, "3g.40gb"), &req));
        assert_int_equal(d.verdict, ADMISSION_REFUSE);
        assert_int_equal(d.refusal, ADMISSION_UNSUPPORTED);
        assert_string_equal(d.message, "MIG needs an A100 or H100 80GB; this host's GPUs are " L40S ".");
        /* A mixed host: MIG goes on an H100 even when the L40S are free; asked on the L40S, refused. */
        host_init(h, L40S, H100);
        d = decide(h, (req = mig_request(0, "1g.10gb"), &req));
        assert_int_equal(d.verdict, ADMISSION_PLACE);
        assert_true(d.partition && d.mig_enable);
        assert_int_equal(h->gpus[d.gpus[0]].numa_node, 1);
        req.model = "l40s";
        d = decide(h, &req);
        assert_int_equal(d.refusal, ADMISSION_UNSUPPORTED);
        assert_string_equal(
                d.message, "MIG needs an A100 or H100 80GB; this host's GPUs matching 'l40s' are " L40S ".");
        req.model = "a100";
        d = decide(h, &req);
        assert_int_equal(d.refusal, ADMISSION_NO_CAPACITY);
        assert_non_null(strstr(d.message, "This host has no GPU matching 'a100'"));
}

static void test_mig_mode(void **state) {
        _cleanup_free_ Host *h = calloc(1, sizeof(Host));
        AdmissionRequest req;
        AdmissionDecision d;
        size_t first;

        assert_non_null(h);
        host_init(h, H100, H100);
        /* The first 3g.40gb puts a GPU in MIG mode and keeps slice 0 for a 4g; the second goes
         * beside it, not on a new GPU. */
        req = mig_request(1, "3g.40gb");
        d = decide(h, &req);
        assert_int_equal(d.verdict, ADMISSION_PLACE);
        assert_true(d.mig_enable);
        assert_int_equal(d.mig_start, 4);
        first = d.gpus[0];
        host_take(h, &req, &d);
        d = decide(h, &req);
        assert_int_equal(d.gpus[0], first);
        assert_false(d.mig_enable);
        assert_int_equal(d.mig_start, 0);
        /* A GPU in MIG mode takes no share, nor is it given whole (by count or by address). */
        host_take(h, &req, &d);
        req = share_request(1, 500, 10 * GIB);
        d = decide(h, &req);
        assert_true(d.gpus[0] != first);
        req = (AdmissionRequest) { .tenant = 0, .count = 8, .instance = ADMISSION_NONE };
        d = decide(h, &req);
        assert_int_equal(d.verdict, ADMISSION_REFUSE);
        {
                const char *exact[] = { addresses[first], NULL };

                req = (AdmissionRequest) { .tenant = 0, .addresses = exact, .instance = ADMISSION_NONE };
                d = decide(h, &req);
                assert_int_equal(d.refusal, ADMISSION_IN_USE);
                assert_non_null(strstr(d.message, "carries containers' MIG instances"));
        }
        /* A wholly free GPU is switched only when none in MIG mode has room, and none is left. */
        {
                const int keep[] = { (int) first, -1 };

                host_init(h, H100, H100);
                claim_all_but(h, keep);
                h->gpus[first].mig = true;
                assert_int_equal(mig_add(&h->gpus[first].instances, MIG_4G_40GB, 0), 0);
                req = mig_request(1, "4g.40gb");
                d = decide(h, &req);
                assert_int_equal(d.verdict, ADMISSION_REFUSE);
                assert_non_null(strstr(d.message, "No GPU has room for a 4g.40gb MIG instance: "));
                assert_non_null(strstr(d.message, "has 4g.40gb at slice 0;"));
                req = mig_request(1, "3g.40gb");
                d = decide(h, &req);
                assert_int_equal(d.verdict, ADMISSION_PLACE);
                assert_int_equal(d.gpus[0], first);
                assert_int_equal(d.mig_start, 4);
        }
        /* Malformed: a share and a profile at once, or a count beside a profile. */
        req = mig_request(1, "3g.40gb");
        req.share_milli = 250;
        assert_int_equal(decide(h, &req).refusal, ADMISSION_INVALID);
        req = mig_request(1, "3g.40gb");
        req.count = 1;
        assert_int_equal(decide(h, &req).refusal, ADMISSION_INVALID);
}

static void test_shares(void **state) {
        _cleanup_free_ Host *h = calloc(1, sizeof(Host));
        const int keep[] = { 2, -1 };
        AdmissionRequest req;
        AdmissionDecision d;

        assert_non_null(h);
        /* One GPU left, with two of tenant a's 0.25 shares of 30 GiB. */
        host_init(h, H100, H100);
        claim_all_but(h, keep);
        h->gpus[2].shares = (HostShares) { .tenant = "a", .n = 2, .milli = 250, .memory_bytes = 30 * GIB };
        /* Another tenant's share does not join them. */
        d = decide(h, (req = share_request(1, 250, 10 * GIB), &req));
        assert_int_equal(d.verdict, ADMISSION_REFUSE);
        assert_int_equal(d.refusal, ADMISSION_NO_CAPACITY);
        assert_false(d.reclaimable);
        assert_string_equal(
                d.message,
                "No GPU can take a 0.25 share with 10.0 GiB of GPU memory for tenant 'b': the GPUs "
                "with room carry other tenants' shares or shares of another size (a GPU's shares "
                "are one tenant's, all of one size: one MPS server, one limit), and none is wholly "
                "free.");
        /* Nor one of a's of another size. */
        d = decide(h, (req = share_request(0, 500, 30 * GIB), &req));
        assert_int_equal(d.verdict, ADMISSION_REFUSE);
        /* A third of the same size: 90 GiB of 80 is too much. */
        d = decide(h, (req = share_request(0, 250, 30 * GIB), &req));
        assert_int_equal(d.verdict, ADMISSION_REFUSE);
        assert_string_equal(d.message,
                            "No GPU has the memory for a 0.25 share with 30.0 GiB of GPU memory: the "
                            "most a GPU it could go on has left is 20.0 GiB (the shares of a GPU "
                            "together get no more than its memory).");
        /* With 20 GiB each it fits: joined, not reclaimable, no guarantee asked about. */
        h->gpus[2].shares.memory_bytes = 20 * GIB;
        d = decide(h, (req = share_request(0, 250, 20 * GIB), &req));
        assert_int_equal(d.verdict, ADMISSION_PLACE);
        assert_int_equal(d.gpus[0], 2);
        assert_true(d.partition);
        assert_int_equal(d.share_milli, 250);
        assert_int_equal(d.share_memory, 20 * GIB);
        /* Full at four. */
        h->gpus[2].shares.n = 4;
        d = decide(h, &req);
        assert_int_equal(d.verdict, ADMISSION_REFUSE);

        /* On a free host: a share bigger than a GPU's memory, and a GPU whose memory is unknown. */
        host_init(h, H100, H100);
        d = decide(h, (req = share_request(0, 500, 100 * GIB), &req));
        assert_int_equal(d.verdict, ADMISSION_REFUSE);
        assert_non_null(strstr(d.message, "has left is 80.0 GiB"));
        for (size_t g = 0; g < 8; g++)
                h->gpus[g].memory_bytes = 0;
        d = decide(h, (req = share_request(0, 500, 10 * GIB), &req));
        assert_non_null(strstr(d.message, "is not known"));
        /* A share of 1000 is a whole GPU: malformed as a share. */
        host_init(h, H100, H100);
        d = decide(h, (req = share_request(0, 1000, 10 * GIB), &req));
        assert_int_equal(d.refusal, ADMISSION_INVALID);
        d = decide(h, (req = share_request(0, 250, 0), &req));
        assert_int_equal(d.refusal, ADMISSION_INVALID);
}

/* A partition that starts a GPU takes it from the guarantees as a whole GPU would; one that joins
 * a partitioned GPU does not. CPU and memory: a partition's are booked on its GPU's NUMA node. */
static void test_guarantees_and_cpu(void **state) {
        _cleanup_free_ Host *h = calloc(1, sizeof(Host));
        const int keep[] = { 1, 2, -1 };
        Quota q = { .resource = QUOTA_GPUS, .guarantee = 1, .limit = QUOTA_UNLIMITED };
        AdmissionRequest req;
        AdmissionDecision d;

        assert_non_null(h);
        host_init(h, H100, H100);
        claim_all_but(h, keep);
        h->tenants[3].quotas = &q;
        h->tenants[3].n_quotas = 1;
        h->gpus[1].shares = (HostShares) { .tenant = "b", .n = 1, .milli = 500, .memory_bytes = 10 * GIB };
        /* GPU 2, the one free GPU, is tenant d's guarantee: c's share may not start it... */
        d = decide(h, (req = share_request(2, 500, 10 * GIB), &req));
        assert_int_equal(d.refusal, ADMISSION_GUARANTEED);
        req.preemptible = true;
        assert_int_equal(decide(h, &req).verdict, ADMISSION_PLACE);
        /* ...nor a MIG instance; b's share joins its own on GPU 1. */
        d = decide(h, (req = mig_request(2, "1g.10gb"), &req));
        assert_int_equal(d.refusal, ADMISSION_GUARANTEED);
        d = decide(h, (req = share_request(1, 500, 10 * GIB), &req));
        assert_int_equal(d.verdict, ADMISSION_PLACE);
        assert_int_equal(d.gpus[0], 1);

        /* NUMA node 0's CPUs are booked by the partition holders on it. */
        host_init(h, H100, H100);
        {
                const int keep0[] = { 0, -1 };

                claim_all_but(h, keep0);
        }
        h->gpus[0].shares = (HostShares) { .tenant = "b", .n = 1, .milli = 500, .memory_bytes = 10 * GIB };
        h->instances[1] =
                (AdmissionInstance) { .name = "s", .tenant = 1, .vcpus = 100, .memory_bytes = GIB };
        h->holders[0][0] = 1;
        h->gpus[0].n_partition_holders = 1;
        h->s.n_instances = 2;
        req = share_request(1, 500, 10 * GIB);
        req.vcpus = 12;
        d = decide(h, &req);
        assert_int_equal(d.verdict, ADMISSION_REFUSE);
        assert_non_null(strstr(d.message,
                               "No NUMA node with room for a 0.5 share with 10.0 GiB of GPU memory "
                               "has 12 vCPUs free"));
        req.vcpus = 11;
        assert_int_equal(decide(h, &req).verdict, ADMISSION_PLACE);
}

/* The host pool refuses partitions that cannot be. */
static void test_host_make(void **state) {
        HostGpu g[2] = {
                { .address = "0000:18:00.0", .model = H100, .numa_node = 0, .memory_bytes = 80 * GIB },
                { .address = "0000:2a:00.0", .model = L40S, .numa_node = 0, .memory_bytes = 48 * GIB },
        };
        HostPool hp;

        g[1].mig = true;
        assert_int_equal(host_pool_make(&hp, g, 2, NULL, 0, NULL, 0), -EOPNOTSUPP);
        g[1].mig = false;
        g[0].shares = (HostShares) { .tenant = "a", .n = 5, .milli = 250, .memory_bytes = GIB };
        assert_int_equal(host_pool_make(&hp, g, 2, NULL, 0, NULL, 0), -EINVAL);
        g[0].shares = (HostShares) {};
        g[0].mig = true;
        g[0].instances.at[0] = MIG_4G_40GB + 1;
        g[0].instances.at[2] = MIG_2G_20GB + 1; /* overlaps the 4g */
        assert_int_equal(host_pool_make(&hp, g, 2, NULL, 0, NULL, 0), -EINVAL);
        g[0].instances.at[2] = 0;
        g[0].instances.at[4] = MIG_3G_40GB + 1;
        assert_int_equal(host_pool_make(&hp, g, 2, NULL, 0, NULL, 0), 0);
        {
                HostRequest r = { .mig = true, .mig_profile = MIG_1G_10GB };
                HostPartition pt;
                HostShortage sh;

                assert_int_equal(host_pool_place_partition(&hp, POOL_POLICY_ARK, &r, &pt, &sh), -ENOSPC);
                assert_int_equal(sh.why, HOST_SHORT_MIG_ROOM);
                r.count = 1;
                assert_int_equal(host_pool_place_partition(&hp, POOL_POLICY_ARK, &r, &pt, &sh), -EINVAL);
        }
        host_pool_done(&hp);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_sequence),           cmocka_unit_test(test_mig_models),
                cmocka_unit_test(test_mig_mode),           cmocka_unit_test(test_shares),
                cmocka_unit_test(test_guarantees_and_cpu), cmocka_unit_test(test_host_make),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Tests for lib/pool/admission: admission, borrowing and reclaim decided on snapshots.
 * Each case is a host (a DGX with 8 H100 on two NUMA nodes, or a server with 4 H100 and 4 L40S),
 * tenants with GPU guarantees, instances holding GPUs, and one request; the decision is checked:
 * the GPUs, the victims in order, or the refusal and its sentence. The daemon tests (test-gpu's
 * preemption and reclaim cases) run the same rules through arkd. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pool/admission.h"
#include "basic/macro.h"
#include "basic/string-util.h"

#define H100 "NVIDIA H100 SXM5 80GB"
#define L40S "NVIDIA L40S"
#define GIB (UINT64_C(1) << 30)
#define END (-1)

static const char *const addresses[8] = {
        "0000:18:00.0", "0000:2a:00.0", "0000:3a:00.0", "0000:5d:00.0",
        "0000:9a:00.0", "0000:ab:00.0", "0000:ba:00.0", "0000:db:00.0",
};
static const char *const audio[] = { "0000:18:00.1", NULL };

typedef struct CaseTenant {
        const char *name;
        uint64_t guarantee; /* GPUs, of `model` ("" = any) */
        const char *model;
} CaseTenant;

typedef struct CaseInstance {
        const char *name;
        size_t tenant;
        uint64_t created;
        bool preemptible, preempting;
        unsigned vcpus;
        int gpus[9]; /* indices, END-terminated */
} CaseInstance;

typedef struct Case {
        const char *name;
        bool mixed; /* GPUs 4-7 are L40S */
        CaseTenant tenants[4];
        CaseInstance instances[10];
        AdmissionHold hold[8]; /* holds other than claims (FREE = none) */
        /* the request */
        size_t tenant;
        unsigned count, vcpus;
        const char *model;
        const char *exact[4];
        const char *extend; /* an instance getting more GPUs */
        bool preemptible, may_reclaim;
        /* expected */
        AdmissionVerdict verdict;
        AdmissionRefusal refusal;
        const char *message; /* in the refusal */
        unsigned n_gpus;
        const char *victims; /* "p4,p3" */
        int numa;            /* all GPUs on this NUMA node; -1 = not checked */
        bool reclaimable;
} Case;

static const Case cases[] = {
        {
                .name = "free host: a pair on one NUMA node",
                .tenants = { { "a" } },
                .count = 2,
                .vcpus = 8,
                .verdict = ADMISSION_PLACE,
                .n_gpus = 2,
                .numa = 0,
        },
        {
                .name = "no GPUs asked for",
                .tenants = { { "a" } },
                .verdict = ADMISSION_PLACE,
                .n_gpus = 0,
                .numa = -1,
        },
        {
                .name = "a model alone means one of it",
                .mixed = true,
                .tenants = { { "a" } },
                .model = "l40s",
                .vcpus = 1,
                .verdict = ADMISSION_PLACE,
                .n_gpus = 1,
                .numa = 1,
        },
        {
                .name = "no GPU of the model",
                .mixed = true,
                .tenants = { { "a" } },
                .count = 1,
                .model = "A100",
                .verdict = ADMISSION_REFUSE,
                .refusal = ADMISSION_NO_CAPACITY,
                .numa = -1,
                .message = "This host has no GPU matching 'A100' (it has " H100 ", " L40S ").",
        },
        {
                .name = "a NUMA node's CPUs: a VM larger than one is refused, naming the CPU",
                .tenants = { { "a" } },
                .count = 1,
                .vcpus = 113,
                .verdict = ADMISSION_REFUSE,
                .refusal = ADMISSION_NO_CAPACITY,
                .reclaimable = true,
                .numa = -1,
                .message = "No NUMA node with 1 free GPU has 113 vCPUs free for the VM: the most left "
                           "beside such "
                           "GPUs is 112 vCPUs and 1.0 TiB",
        },
        {
                .name = "an instance's CPU is on the NUMA node of its first GPU",
                .tenants = { { "a" } },
                .instances = { { "big", 0, 10, false, false, 100, { 0, END } } },
                .count = 1,
                .vcpus = 100,
                .verdict = ADMISSION_PLACE,
                .n_gpus = 1,
                .numa = 1,
        },
        {
                .name = "GPUs added to a VM that has some: its CPU is booked already",
                .tenants = { { "a" } },
                .instances = { { "big", 0, 10, false, false, 100, { 0, END } },
                               { "big2", 0, 11, false, false, 100, { 4, END } } },
                .count = 1,
                .vcpus = 100,
                .extend = "big",
                .verdict = ADMISSION_PLACE,
                .n_gpus = 1,
                .numa = -1,
        },
        {
                .name = "the free GPUs are guaranteed: not for a VM that cannot give them back",
                .tenants = { { "research", 4, "" }, { "risk" } },
                .instances = { { "risk-big", 1, 10, false, false, 4, { 0, 1, 2, 3, END } } },
                .tenant = 1,
                .count = 1,
                .vcpus = 1,
                .verdict = ADMISSION_REFUSE,
                .refusal = ADMISSION_GUARANTEED,
                .numa = -1,
                .message = "only a preemptible instance may borrow them (--preemptible)",
        },
        {
                .name = "a preemptible VM borrows guaranteed GPUs",
                .tenants = { { "research", 4, "" }, { "risk" }, { "retail" } },
                .instances = { { "risk-big", 1, 10, false, false, 4, { 0, 1, 2, 3, END } } },
                .tenant = 2,
                .count = 1,
                .vcpus = 1,
                .preemptible = true,
                .verdict = ADMISSION_PLACE,
                .n_gpus = 1,
                .numa = 1,
        },
        {
                .name = "the owner within its guarantee: the two youngest borrowers stop",
                .tenants = { { "research", 4, "" }, { "risk" }, { "retail" } },
                .instances = { { "risk-big", 1, 10, false, false, 4, { 0, 1, 2, 3, END } },
                               { "p1", 2, 100, true, false, 1, { 4, END } },
                               { "p2", 2, 200, true, false, 1, { 5, END } },
                               { "p4", 2, 400, true, false, 1, { 7, END } },
                               { "p3", 2, 300, true, false, 1, { 6, END } } },
                .tenant = 0,
                .count = 2,
                .vcpus = 1,
                .may_reclaim = true,
                .verdict = ADMISSION_RECLAIM,
                .n_gpus = 2,
                .victims = "p4,p3",
                .numa = 1,
        },
        {
                .name = "the same, from a caller that cannot wait",
                .tenants = { { "research", 4, "" }, { "risk" }, { "retail" } },
                .instances = { { "risk-big", 1, 10, false, false, 4, { 0, 1, 2, 3, END } },
                               { "p1", 2, 100, true, false, 1, { 4, END } },
                               { "p2", 2, 200, true, false, 1, { 5, END } },
                               { "p3", 2, 300, true, false, 1, { 6, END } },
                               { "p4", 2, 400, true, false, 1, { 7, END } } },
                .tenant = 0,
                .count = 2,
                .vcpus = 1,
                .verdict = ADMISSION_REFUSE,
                .refusal = ADMISSION_NO_CAPACITY,
                .reclaimable = true,
                .numa = -1,
                .message = "Not enough free GPUs: 2 asked for, 0 can be given out (8 claimed by VMs, 0 "
                           "reserved for "
                           "the host, 0 quarantined).",
        },
        {
                .name = "one stopping already is not picked again",
                .tenants = { { "research", 4, "" }, { "risk" }, { "retail" } },
                .instances = { { "risk-big", 1, 10, false, false, 4, { 0, 1, 2, 3, END } },
                               { "p1", 2, 100, true, false, 1, { 4, END } },
                               { "p2", 2, 200, true, false, 1, { 5, END } },
                               { "p3", 2, 300, true, false, 1, { 6, END } },
                               { "p4", 2, 400, true, true, 1, { 7, END } } },
                .tenant = 0,
                .count = 1,
                .vcpus = 1,
                .may_reclaim = true,
                .verdict = ADMISSION_RECLAIM,
                .n_gpus = 1,
                .victims = "p3",
                .numa = 1,
        },
        {
                .name = "beyond its guarantee the owner is like anyone else",
                .tenants = { { "research", 4, "" }, { "risk" }, { "retail" } },
                .instances = { { "risk-big", 1, 10, false, false, 4, { 0, 1, 2, 3, END } },
                               { "r1", 0, 500, false, false, 1, { 4, 5, 6, 7, END } } },
                .tenant = 0,
                .count = 1,
                .vcpus = 1,
                .may_reclaim = true,
                .verdict = ADMISSION_REFUSE,
                .refusal = ADMISSION_NO_CAPACITY,
                .reclaimable = true,
                .numa = -1,
                .message = "Not enough free GPUs: 1 asked for, 0 can be given out",
        },
        {
                .name = "a borrower that is not preemptible is never stopped",
                .tenants = { { "research", 4, "" }, { "retail" } },
                .instances = { { "big", 1, 10, false, false, 8, { 0, 1, 2, 3, 4, 5, 6, 7, END } } },
                .tenant = 0,
                .count = 1,
                .vcpus = 1,
                .may_reclaim = true,
                .verdict = ADMISSION_REFUSE,
                .refusal = ADMISSION_NO_CAPACITY,
                .reclaimable = true,
                .numa = -1,
                .message = "Not enough free GPUs",
        },
        {
                .name = "an L40S guarantee stops the youngest L40S borrower, not the youngest of all",
                .mixed = true,
                .tenants = { { "research", 1, "L40S" }, { "retail" } },
                .instances = { { "p1", 1, 100, true, false, 1, { 0, END } },
                               { "p2", 1, 900, true, false, 1, { 1, END } },
                               { "p3", 1, 300, true, false, 1, { 2, END } },
                               { "p4", 1, 400, true, false, 1, { 3, END } },
                               { "p5", 1, 500, true, false, 1, { 4, END } },
                               { "p6", 1, 600, true, false, 1, { 5, END } },
                               { "p7", 1, 700, true, false, 1, { 6, END } },
                               { "p8", 1, 800, true, false, 1, { 7, END } } },
                .tenant = 0,
                .count = 1,
                .vcpus = 1,
                .may_reclaim = true,
                .verdict = ADMISSION_RECLAIM,
                .n_gpus = 1,
                .victims = "p8",
                .numa = 1,
        },
        {
                .name = "an L40S guarantee does not reclaim an H100",
                .mixed = true,
                .tenants = { { "research", 1, "L40S" }, { "retail" } },
                .instances = { { "p1", 1, 100, true, false, 1, { 0, END } },
                               { "p2", 1, 900, true, false, 1, { 1, END } },
                               { "p3", 1, 300, true, false, 1, { 2, END } },
                               { "p4", 1, 400, true, false, 1, { 3, END } },
                               { "p5", 1, 500, true, false, 1, { 4, END } },
                               { "p6", 1, 600, true, false, 1, { 5, END } },
                               { "p7", 1, 700, true, false, 1, { 6, END } },
                               { "p8", 1, 800, true, false, 1, { 7, END } } },
                .tenant = 0,
                .count = 1,
                .model = "H100",
                .vcpus = 1,
                .may_reclaim = true,
                .verdict = ADMISSION_REFUSE,
                .refusal = ADMISSION_NO_CAPACITY,
                .reclaimable = true,
                .numa = -1,
                .message = "Not enough free GPUs matching 'H100': 1 asked for, 0 can be given out",
        },
        {
                .name = "an exact GPU lent out: only its borrower stops",
                .tenants = { { "research", 2, "" }, { "retail" } },
                .instances = { { "p1", 1, 100, true, false, 1, { 0, END } },
                               { "p2", 1, 200, true, false, 1, { 1, END } },
                               { "rest", 1, 50, true, false, 6, { 2, 3, 4, 5, 6, 7, END } } },
                .tenant = 0,
                .exact = { "0000:18:00.0" },
                .vcpus = 1,
                .may_reclaim = true,
                .verdict = ADMISSION_RECLAIM,
                .n_gpus = 1,
                .victims = "p1",
                .numa = 0,
        },
        {
                .name = "an exact GPU held: InUse, with its holder",
                .tenants = { { "a" } },
                .instances = { { "x", 0, 100, false, false, 1, { 7, END } } },
                .exact = { "0000:db:00.0" },
                .verdict = ADMISSION_REFUSE,
                .refusal = ADMISSION_IN_USE,
                .reclaimable = true,
                .numa = -1,
                .message = "GPU 0000:db:00.0 (" H100 ") is claimed.",
        },
        {
                .name = "an exact GPU reserved for the host",
                .tenants = { { "a" } },
                .hold = { [2] = ADMISSION_GPU_RESERVED },
                .exact = { "0000:3a:00.0" },
                .verdict = ADMISSION_REFUSE,
                .refusal = ADMISSION_IN_USE,
                .numa = -1,
                .message = "GPU 0000:3a:00.0 (" H100 ") is held.",
        },
        {
                .name = "an exact GPU that cannot be passed through",
                .tenants = { { "a" } },
                .hold = { [3] = ADMISSION_GPU_NOT_READY },
                .exact = { "0000:5d:00.0" },
                .verdict = ADMISSION_REFUSE,
                .refusal = ADMISSION_NOT_READY,
                .numa = -1,
                .message = "GPU 0000:5d:00.0 (" H100 ") is held.",
        },
        {
                .name = "an exact address that is a GPU's function",
                .tenants = { { "a" } },
                .exact = { "0000:18:00.1" },
                .verdict = ADMISSION_REFUSE,
                .refusal = ADMISSION_NOT_FOUND,
                .numa = -1,
                .message = "0000:18:00.1 is a function of GPU 0000:18:00.0 (" H100 "), not a GPU",
        },
        {
                .name = "an exact address that is nothing here",
                .tenants = { { "a" } },
                .exact = { "0000:77:00.0" },
                .verdict = ADMISSION_REFUSE,
                .refusal = ADMISSION_NOT_FOUND,
                .numa = -1,
                .message = "This host has no accelerator at 0000:77:00.0",
        },
        {
                .name = "an exact address twice",
                .tenants = { { "a" } },
                .exact = { "0000:18:00.0", "0000:18:00.0" },
                .verdict = ADMISSION_REFUSE,
                .refusal = ADMISSION_INVALID,
                .numa = -1,
                .message = "malformed",
        },
        {
                .name = "GPUs kept for a waiting call, reserved and not ready are named",
                .tenants = { { "a" } },
                .instances = { { "x", 0, 100, false, false, 1, { 0, 1, 2, 3, 4, END } } },
                .hold = { [5] = ADMISSION_GPU_KEPT,
                          [6] = ADMISSION_GPU_RESERVED,
                          [7] = ADMISSION_GPU_NOT_READY },
                .count = 1,
                .vcpus = 1,
                .verdict = ADMISSION_REFUSE,
                .refusal = ADMISSION_NO_CAPACITY,
                .reclaimable = true,
                .numa = -1,
                .message =
                        "Not enough free GPUs: 1 asked for, 0 can be given out (5 claimed by VMs, 1 kept "
                        "for calls "
                        "waiting on a reclaim, 1 reserved for the host, 0 quarantined); 0000:db:00.0 (" H100
                        ") is "
                        "held.",
        },
        {
                .name = "free GPUs one per NUMA node: a pair is refused, not spread",
                .tenants = { { "a" } },
                .instances = { { "x", 0, 100, false, false, 1, { 0, 1, 2, 4, 5, 6, END } } },
                .count = 2,
                .vcpus = 1,
                .verdict = ADMISSION_REFUSE,
                .refusal = ADMISSION_NO_CAPACITY,
                .reclaimable = true,
                .numa = -1,
                .message = "Not enough free GPUs on one NUMA node: 2 asked for, 2 free, at most 1 on one "
                           "NUMA node",
        },
        {
                .name = "an 8-GPU VM spans the two NUMA nodes",
                .tenants = { { "a" } },
                .count = 8,
                .vcpus = 200,
                .verdict = ADMISSION_PLACE,
                .n_gpus = 8,
                .numa = -1,
        },
};

/* The snapshot of a case, and what it points to. */
typedef struct Built {
        AdmissionSnapshot s;
        AdmissionTenant tenants[4];
        Quota quotas[4];
        const char *models[4][8];
        AdmissionInstance instances[10];
        AdmissionGpu gpus[8];
        char why[8][128];
        HostNuma numa[2];
} Built;

static void build(const Case *c, Built *b) {
        size_t nt = 0, ni = 0;

        *b = (Built) {};
        for (; nt < ELEMENTSOF(c->tenants) && c->tenants[nt].name; nt++) {
                b->tenants[nt] = (AdmissionTenant) { .name = c->tenants[nt].name };
                if (c->tenants[nt].guarantee > 0) {
                        b->quotas[nt] = (Quota) { .resource = QUOTA_GPUS,
                                                  .guarantee = c->tenants[nt].guarantee,
                                                  .limit = QUOTA_UNLIMITED };
                        snprintf(b->quotas[nt].model, sizeof(b->quotas[nt].model), "%s",
                                 c->tenants[nt].model);
                        b->tenants[nt].quotas = &b->quotas[nt];
                        b->tenants[nt].n_quotas = 1;
                }
                b->tenants[nt].usage.gpu_models = b->models[nt];
        }
        for (size_t g = 0; g < 8; g++) {
                const char *model = c->mixed && g >= 4 ? L40S : H100;

                b->gpus[g] = (AdmissionGpu) {
                        .address = addresses[g],
                        .model = model,
                        .numa_node = g < 4 ? 0 : 1,
                        .switch_port = NULL,
                        .hold = c->hold[g],
                        .holder = ADMISSION_NONE,
                        .functions = g == 0 ? audio : NULL,
                };
                snprintf(b->why[g], sizeof(b->why[g]), "%s (%s) is held", addresses[g], model);
                if (c->hold[g] != ADMISSION_GPU_FREE)
                        b->gpus[g].why = b->why[g];
        }
        for (; ni < ELEMENTSOF(c->instances) && c->instances[ni].name; ni++) {
                const CaseInstance *i = &c->instances[ni];
                AdmissionTenant *t = &b->tenants[i->tenant];
                unsigned n = 0;

                for (const int *g = i->gpus; *g != END; g++, n++) {
                        b->gpus[*g].hold = ADMISSION_GPU_CLAIMED;
                        b->gpus[*g].holder = ni;
                        b->gpus[*g].free_if_released = true;
                        snprintf(b->why[*g], sizeof(b->why[*g]), "%s (%s) is claimed", addresses[*g],
                                 b->gpus[*g].model);
                        b->gpus[*g].why = b->why[*g];
                        b->models[i->tenant][t->usage.n_gpu_models++] = b->gpus[*g].model;
                        t->usage.amount[QUOTA_GPUS]++;
                }
                b->instances[ni] = (AdmissionInstance) {
                        .name = i->name,
                        .tenant = i->tenant,
                        .vcpus = i->vcpus,
                        .memory_bytes = GIB,
                        .created_usec = i->created,
                        .n_gpus = n,
                        .preemptible = i->preemptible,
                        .preempting = i->preempting,
                };
        }
        b->numa[0] = (HostNuma) { 0, 112, 1024 * GIB };
        b->numa[1] = (HostNuma) { 1, 112, 1024 * GIB };
        b->s = (AdmissionSnapshot) {
                .tenants = b->tenants,
                .n_tenants = nt,
                .instances = b->instances,
                .n_instances = ni,
                .gpus = b->gpus,
                .n_gpus = 8,
                .numa = b->numa,
                .n_numa = 2,
                .policy = POOL_POLICY_ARK,
        };
}

static void test_cases(void **state) {
        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                const Case *c = &cases[k];
                _cleanup_free_ Built *b = calloc(1, sizeof(Built));
                AdmissionDecision d = {};
                AdmissionRequest req = {
                        .tenant = c->tenant,
                        .vcpus = c->vcpus,
                        .memory_bytes = GIB,
                        .count = c->count,
                        .model = c->model,
                        .addresses = c->exact[0] ? c->exact : NULL,
                        .instance = ADMISSION_NONE,
                        .preemptible = c->preemptible,
                        .may_reclaim = c->may_reclaim,
                };
                char victims[128] = "";

                assert_non_null(b);
                build(c, b);
                for (size_t i = 0; c->extend && i < b->s.n_instances; i++)
                        if (streq(b->instances[i].name, c->extend))
                                req.instance = i;
                assert_int_equal(admission_decide(&b->s, &req, &d), 0);
                for (size_t v = 0; v < d.n_victims; v++)
                        snprintf(victims + strlen(victims), sizeof(victims) - strlen(victims), "%s%s",
                                 v ? "," : "", b->instances[d.victims[v]].name);
                if (d.verdict != c->verdict || d.refusal != c->refusal || d.n_gpus != c->n_gpus ||
                    !streq(victims, strempty(c->victims)) ||
                    (c->message && !strstr(d.message, c->message)) || d.reclaimable != c->reclaimable)
                        fail_msg("case '%s': verdict %d (want %d), refusal %d (want %d), %zu GPUs (want "
                                 "%u), victims "
                                 "'%s' (want '%s'), reclaimable %d, message '%s'",
                                 c->name, d.verdict, c->verdict, d.refusal, c->refusal, d.n_gpus, c->n_gpus,
                                 victims, strempty(c->victims), d.reclaimable, d.message);
                for (size_t g = 0; g < d.n_gpus; g++) {
                        const AdmissionGpu *x = &b->gpus[d.gpus[g]];

                        /* Free, or freed by a victim. */
                        if (x->hold != ADMISSION_GPU_FREE) {
                                bool victim = false;

                                for (size_t v = 0; v < d.n_victims; v++)
                                        victim = victim || d.victims[v] == x->holder;
                                if (!victim)
                                        fail_msg("case '%s': GPU %s is not free", c->name, x->address);
                        }
                        if (c->numa >= 0 && x->numa_node != c->numa)
                                fail_msg("case '%s': GPU %s on NUMA node %d, want %d", c->name, x->address,
                                         x->numa_node, c->numa);
                        if (g > 0)
                                assert_true(strcmp(b->gpus[d.gpus[g - 1]].address, x->address) < 0);
                }
                admission_decision_done(&d);
        }
}

/* The snapshot is not changed by a decision, and the same snapshot gives the same decision. */
static void test_pure(void **state) {
        const Case *c = &cases[9]; /* the reclaim */
        _cleanup_free_ Built *b = calloc(1, sizeof(Built)), *copy = calloc(1, sizeof(Built));
        AdmissionRequest req = { .tenant = 0,
                                 .vcpus = 1,
                                 .memory_bytes = GIB,
                                 .count = 2,
                                 .instance = ADMISSION_NONE,
                                 .may_reclaim = true };
        AdmissionDecision d1 = {}, d2 = {};

        assert_non_null(b);
        assert_non_null(copy);
        assert_int_equal(c->verdict, ADMISSION_RECLAIM);
        build(c, b);
        memcpy(copy, b, sizeof(Built));
        assert_int_equal(admission_decide(&b->s, &req, &d1), 0);
        assert_int_equal(admission_decide(&b->s, &req, &d2), 0);
        assert_memory_equal(b->gpus, copy->gpus, sizeof(b->gpus));
        assert_memory_equal(b->instances, copy->instances, sizeof(b->instances));
        assert_memory_equal(b->tenants, copy->tenants, sizeof(b->tenants));
        assert_int_equal(d1.verdict, d2.verdict);
        assert_int_equal(d1.n_victims, d2.n_victims);
        assert_memory_equal(d1.victims, d2.victims, d1.n_victims * sizeof(size_t));
        assert_memory_equal(d1.gpus, d2.gpus, d1.n_gpus * sizeof(size_t));
        admission_decision_done(&d1);
        admission_decision_done(&d2);
        /* Indices out of range are the caller's bug. */
        req.tenant = 9;
        assert_int_equal(admission_decide(&b->s, &req, &d1), -EINVAL);
}

static void test_unused_guarantee(void **state) {
        const char *const used[] = { H100, L40S, H100 };
        const Quota q[] = {
                { .resource = QUOTA_GPUS, .model = "H100", .guarantee = 4, .limit = QUOTA_UNLIMITED },
                { .resource = QUOTA_GPUS, .model = "", .guarantee = 2, .limit = QUOTA_UNLIMITED },
                { .resource = QUOTA_VCPUS, .guarantee = 64, .limit = QUOTA_UNLIMITED },
        };
        AdmissionTenant t = {
                .name = "t",
                .quotas = q,
                .n_quotas = 3,
                .usage = { .gpu_models = used, .n_gpu_models = 3, .amount = { [QUOTA_GPUS] = 3 } }
        };

        /* H100: 4 - 2; any: 2 - 3 -> 0. vCPUs are no GPUs. */
        assert_int_equal(admission_unused_guarantee(&t), 2);
        t.n_quotas = 0;
        assert_int_equal(admission_unused_guarantee(&t), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_cases),
                cmocka_unit_test(test_pure),
                cmocka_unit_test(test_unused_guarantee),
        };
        return cmocka_run_group_tests_name("admission", tests, NULL, NULL);
}

#pragma once

/* Issue 18, acceptance 4 ("sharing pays"): a sequence of requests on the dgx-h100 fixture (8 H100
 * 80GB, 4 per NUMA node, one PCIe switch each; 112 CPUs and 1 TiB per NUMA node) that fills the 8
 * GPUs exactly only when packed well: whole GPUs, MIG instances of several profiles and 0.5 and
 * 0.25 shares. Every step is admitted; partition_refused, asked next, is refused. `gpu`,
 * `mig_start` and `mig_enable` are where lib/pool puts each step under Ark's policy (seed 0, the
 * default workload): tests/unit/test-partitions.c checks that admission_decide() and pool_place()
 * on a plain Pool both give them, and arkd's integration test replays the same steps through arkd
 * and compares. Header-only, for tests. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum PartitionKind {
        PARTITION_WHOLE,
        PARTITION_MIG,
        PARTITION_SHARE,
} PartitionKind;

typedef struct PartitionStep {
        const char *name; /* of the instance */
        const char *tenant;
        PartitionKind kind;
        unsigned gpus;         /* WHOLE: how many */
        const char *profile;   /* MIG: "3g.40gb" */
        unsigned share_milli;  /* SHARE: of one GPU */
        uint64_t share_memory; /* SHARE: bytes */
        unsigned vcpus;
        uint64_t memory_bytes;
        /* Where it goes: */
        const char *gpu; /* its (first) GPU */
        int mig_start;   /* MIG: the first memory slice; -1 otherwise */
        bool mig_enable; /* MIG: the GPU is put in MIG mode for it */
} PartitionStep;

#define PARTITION_GIB (UINT64_C(1) << 30)

static const PartitionStep partition_sequence[] = {
        { "w2", "a", PARTITION_WHOLE, 2, NULL, 0, 0, 16, 64 * PARTITION_GIB, "0000:18:00.0", -1, false },
        { "m3a", "b", PARTITION_MIG, 0, "3g.40gb", 0, 0, 4, 16 * PARTITION_GIB, "0000:3a:00.0", 4, true },
        { "s5a", "c", PARTITION_SHARE, 0, NULL, 500, 40 * PARTITION_GIB, 4, 16 * PARTITION_GIB,
          "0000:5d:00.0", -1, false },
        { "m4", "b", PARTITION_MIG, 0, "4g.40gb", 0, 0, 4, 16 * PARTITION_GIB, "0000:3a:00.0", 0, false },
        { "s5b", "c", PARTITION_SHARE, 0, NULL, 500, 40 * PARTITION_GIB, 4, 16 * PARTITION_GIB,
          "0000:5d:00.0", -1, false },
        { "w1", "a", PARTITION_WHOLE, 1, NULL, 0, 0, 8, 32 * PARTITION_GIB, "0000:9a:00.0", -1, false },
        { "m2", "d", PARTITION_MIG, 0, "2g.20gb", 0, 0, 2, 8 * PARTITION_GIB, "0000:ab:00.0", 4, true },
        { "s2a", "e", PARTITION_SHARE, 0, NULL, 250, 20 * PARTITION_GIB, 2, 8 * PARTITION_GIB,
          "0000:ba:00.0", -1, false },
        { "m3b", "d", PARTITION_MIG, 0, "3g.40gb", 0, 0, 4, 16 * PARTITION_GIB, "0000:ab:00.0", 0, false },
        { "s2b", "e", PARTITION_SHARE, 0, NULL, 250, 20 * PARTITION_GIB, 2, 8 * PARTITION_GIB,
          "0000:ba:00.0", -1, false },
        { "m1", "d", PARTITION_MIG, 0, "1g.20gb", 0, 0, 1, 4 * PARTITION_GIB, "0000:ab:00.0", 6, false },
        { "s2c", "e", PARTITION_SHARE, 0, NULL, 250, 20 * PARTITION_GIB, 2, 8 * PARTITION_GIB,
          "0000:ba:00.0", -1, false },
        { "s2d", "e", PARTITION_SHARE, 0, NULL, 250, 20 * PARTITION_GIB, 2, 8 * PARTITION_GIB,
          "0000:ba:00.0", -1, false },
        { "w1b", "a", PARTITION_WHOLE, 1, NULL, 0, 0, 8, 32 * PARTITION_GIB, "0000:db:00.0", -1, false },
};

/* Asked after the sequence: refused, with this in its sentence. */
static const PartitionStep partition_refused = {
        "m1x", "d", PARTITION_MIG, 0, "1g.10gb", 0, 0, 1, 4 * PARTITION_GIB, NULL, -1, false,
};
#define PARTITION_REFUSED_MESSAGE "No GPU has room for a 1g.10gb MIG instance"

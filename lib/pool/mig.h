#pragma once

/* NVIDIA Multi-Instance GPU geometry of the A100 80GB and H100 80GB: a GPU has 8 memory slices
 * (10 GB each) and 7 compute slices; a GPU instance of a profile takes a run of memory slices
 * that must start at one of the profile's legal positions, and compute slices, and instances may
 * not overlap. So MIG fragmentation is modelled exactly: a 4g.40gb only starts at slice 0, so two
 * do not fit on one GPU; no 1g starts at slice 7. Pure. */

#include <stdbool.h>
#include <stdint.h>

#define MIG_MEMORY_SLICES 8
#define MIG_COMPUTE_SLICES 7

typedef enum MigProfile {
        MIG_1G_10GB,
        MIG_1G_20GB,
        MIG_2G_20GB,
        MIG_3G_40GB,
        MIG_4G_40GB,
        MIG_7G_80GB,
        _MIG_PROFILE_MAX,
        _MIG_PROFILE_INVALID = -22,
} MigProfile;

typedef struct MigProfileInfo {
        const char *name; /* "3g.40gb" */
        unsigned compute; /* compute slices */
        unsigned slices;  /* memory slices */
        uint8_t starts;   /* bit i: may start at memory slice i */
} MigProfileInfo;

const MigProfileInfo *mig_profile_info(MigProfile p);
MigProfile mig_profile_from_string(const char *s);
/* Whether a GPU of that model name has this geometry (A100 and H100 with 80 GB). */
bool mig_model_supported(const char *model);

/* What an instance of p counts as, of its GPU (quotas, metering): its compute slices over 7 in
 * milli-GPUs, rounded down (seven 1g never count more than the GPU; a 7g counts 1000); and its
 * memory slices' part of the GPU's memory, gpu_memory_bytes / 8 a slice, or 10 GiB a slice when
 * the GPU's memory is unknown (0). 0 for an invalid profile. */
unsigned mig_profile_milli(MigProfile p);
uint64_t mig_profile_memory(MigProfile p, uint64_t gpu_memory_bytes);

/* The instances on one GPU. */
typedef struct MigGpu {
        uint8_t used;                 /* memory slices taken, bit i = slice i */
        unsigned compute;             /* compute slices taken */
        int8_t at[MIG_MEMORY_SLICES]; /* the profile + 1 of the instance starting at a slice, 0 = none */
} MigGpu;

/* Whether an instance of p may start at `start` now: -EINVAL when the profile never starts
 * there, -EBUSY when it would overlap an instance or exceed the compute slices, 0 when it fits. */
int mig_check(const MigGpu *g, MigProfile p, unsigned start);
/* Where to put an instance of p: among the starts that fit, the one that leaves the most room
 * for the larger profiles afterwards (the highest start on ties, keeping slice 0 for 4g and
 * 7g). -EBUSY when none fits. */
int mig_choose(const MigGpu *g, MigProfile p, unsigned *ret_start);
/* How much room is left on the GPU for further instances (larger profiles count more). */
unsigned mig_room(const MigGpu *g);
/* Takes / gives back an instance (mig_check() must have said 0 / it must be there). */
int mig_add(MigGpu *g, MigProfile p, unsigned start);
/* -ENOENT when no instance of p starts there. */
int mig_remove(MigGpu *g, MigProfile p, unsigned start);

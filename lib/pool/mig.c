/* MIG geometry; see mig.h. The placements are NVIDIA's for A100/H100 80GB (MIG user guide,
 * "Supported MIG Profiles"; nvidia-smi mig -lgipp). */

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "pool/mig.h"

static const MigProfileInfo profiles[_MIG_PROFILE_MAX] = {
        [MIG_1G_10GB] = { "1g.10gb", 1, 1, 0x7f }, /* slices 0-6 */
        [MIG_1G_20GB] = { "1g.20gb", 1, 2, 0x55 }, /* 0, 2, 4, 6 */
        [MIG_2G_20GB] = { "2g.20gb", 2, 2, 0x15 }, /* 0, 2, 4 */
        [MIG_3G_40GB] = { "3g.40gb", 3, 4, 0x11 }, /* 0, 4 */
        [MIG_4G_40GB] = { "4g.40gb", 4, 4, 0x01 }, /* 0 */
        [MIG_7G_80GB] = { "7g.80gb", 7, 8, 0x01 }, /* 0 */
};

const MigProfileInfo *mig_profile_info(MigProfile p) {
        return p >= 0 && p < _MIG_PROFILE_MAX ? &profiles[p] : NULL;
}

MigProfile mig_profile_from_string(const char *s) {
        for (int k = 0; s && k < _MIG_PROFILE_MAX; k++)
                if (strcasecmp(profiles[k].name, s) == 0)
                        return (MigProfile) k;
        return _MIG_PROFILE_INVALID;
}

bool mig_model_supported(const char *model) {
        if (!model || !strstr(model, "80GB"))
                return false;
        return strstr(model, "A100") || strstr(model, "H100");
}

unsigned mig_profile_milli(MigProfile p) {
        const MigProfileInfo *i = mig_profile_info(p);

        return i ? i->compute * 1000 / MIG_COMPUTE_SLICES : 0;
}

uint64_t mig_profile_memory(MigProfile p, uint64_t gpu_memory_bytes) {
        const MigProfileInfo *i = mig_profile_info(p);
        uint64_t slice = gpu_memory_bytes > 0 ? gpu_memory_bytes / MIG_MEMORY_SLICES : UINT64_C(10) << 30;

        return i ? slice * i->slices : 0;
}

static uint8_t mask(const MigProfileInfo *i, unsigned start) {
        return (uint8_t) (((1u << i->slices) - 1) << start);
}

int mig_check(const MigGpu *g, MigProfile p, unsigned start) {
        const MigProfileInfo *i = mig_profile_info(p);

        if (!i || start >= MIG_MEMORY_SLICES || !((i->starts >> start) & 1))
                return -EINVAL;
        if ((g->used & mask(i, start)) || g->compute + i->compute > MIG_COMPUTE_SLICES)
                return -EBUSY;
        return 0;
}

/* Room left for others: for each profile the placements still possible, weighted by size. */
unsigned mig_room(const MigGpu *g) {
        unsigned r = 0;

        for (int p = 0; p < _MIG_PROFILE_MAX; p++)
                for (unsigned s = 0; s < MIG_MEMORY_SLICES; s++)
                        if (mig_check(g, (MigProfile) p, s) == 0)
                                r += profiles[p].compute * profiles[p].compute;
        return r;
}

int mig_choose(const MigGpu *g, MigProfile p, unsigned *ret_start) {
        int best = -1;
        unsigned best_room = 0;

        for (unsigned s = 0; s < MIG_MEMORY_SLICES; s++) {
                MigGpu t = *g;
                unsigned r;

                if (mig_check(g, p, s) != 0)
                        continue;
                (void) mig_add(&t, p, s);
                r = mig_room(&t);
                if (best < 0 || r >= best_room) {
                        best = (int) s;
                        best_room = r;
                }
        }
        if (best < 0)
                return mig_profile_info(p) ? -EBUSY : -EINVAL;
        *ret_start = (unsigned) best;
        return 0;
}

int mig_add(MigGpu *g, MigProfile p, unsigned start) {
        int r = mig_check(g, p, start);

        if (r < 0)
                return r;
        g->used |= mask(&profiles[p], start);
        g->compute += profiles[p].compute;
        g->at[start] = (int8_t) (p + 1);
        return 0;
}

int mig_remove(MigGpu *g, MigProfile p, unsigned start) {
        const MigProfileInfo *i = mig_profile_info(p);

        if (!i || start >= MIG_MEMORY_SLICES || g->at[start] != p + 1)
                return -ENOENT;
        g->used &= (uint8_t) ~mask(i, start);
        g->compute -= i->compute;
        g->at[start] = 0;
        return 0;
}

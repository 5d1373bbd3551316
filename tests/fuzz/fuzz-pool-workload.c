/* libFuzzer target for pool_workload_parse() (lib/pool/workload.c): the placement workload file
 * ([Placement] Workload=) is written by hand or by a script from a trace. Beyond the sanitizers
 * it checks the contract: a refusal carries a sentence naming the file and leaves nothing; an
 * accepted workload holds only shapes a pool takes (pool_workload_apply() on a small pool). */

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pool/pool.h"
#include "pool/workload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        PoolWorkload w = {};
        Pool p = {};
        char *err = NULL;
        int r = pool_workload_parse("workload.csv", (const char *) data, size, &w, &err);

        if (r < 0) {
                if ((r != -EINVAL && r != -ENOMEM) ||
                    (r == -EINVAL && (!err || !strstr(err, "workload.csv"))) || w.n_shapes || w.shapes)
                        abort();
                free(err);
                return 0;
        }
        if (err || w.n_shapes == 0)
                abort();
        for (size_t k = 0; k < w.n_shapes; k++) {
                const PoolWorkloadShape *s = &w.shapes[k];

                if (s->cpu_milli < 0 || s->num_gpu > POOL_GPUS_MAX || s->gpu_milli > POOL_MILLI ||
                    (s->num_gpu == 0) != (s->gpu_milli == 0) ||
                    (s->num_gpu > 1 && s->gpu_milli != POOL_MILLI) || !(s->weight > 0) ||
                    !isfinite(s->weight) || !s->spec || strchr(s->spec, ','))
                        abort();
        }
        if (pool_model(&p, "V100M16") < 0 || pool_model(&p, "T4") < 0 ||
            pool_add_node(&p, "a", 64000, 262144, 0, 8) < 0 ||
            pool_add_node(&p, "b", 32000, 131072, 1, 2) < 0)
                abort();
        if (pool_workload_apply(&p, &w) < 0 || p.n_shapes != w.n_shapes)
                abort();
        {
                PoolRequest req = { .cpu_milli = 1000, .num_gpu = 1, .gpu_milli = POOL_MILLI };
                PoolPlacement pl;

                if (pool_place(&p, POOL_POLICY_ARK, &req, &pl) < 0)
                        abort();
        }
        pool_done(&p);
        pool_workload_done(&w);
        return 0;
}

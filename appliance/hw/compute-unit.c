/* Normalized compute units; see compute-unit.h. */

#include <stdio.h>
#include <string.h>

#include "basic/macro.h"
#include "compute-unit.h"
#include "pool/quota.h"

/* More specific names first: "H100 NVL" before "H100". Dense (no sparsity) FP16/BF16 tensor
 * TFLOPS with FP32 accumulation, from the vendors' datasheets. */
static const struct {
        const char *model;
        double tflops;
} table[] = {
        { "B200", 2250 },    { "B100", 1750 },     { "GH200", 989 },      { "H200", 989 },
        { "H100 NVL", 835 }, { "H100 PCIe", 756 }, { "H100", 989 },       { "H800", 989 },
        { "H20", 148 },      { "A100", 312 },      { "A800", 312 },       { "A40", 150 },
        { "A30", 165 },      { "A10", 125 },       { "L40S", 362 },       { "L40", 181 },
        { "L4", 121 },       { "T4", 65 },         { "V100", 125 },       { "RTX 6000 Ada", 364 },
        { "RTX 4090", 165 }, { "RTX 3090", 71 },   { "RTX 2080 Ti", 54 }, { "MI300X", 1307 },
        { "MI250X", 383 },   { "MI210", 181 },
};

double compute_unit_tflops(const char *model) {
        if (!model || !*model)
                return 0;
        for (size_t k = 0; k < ELEMENTSOF(table); k++)
                if (quota_model_matches(model, table[k].model))
                        return table[k].tflops;
        return 0;
}

double compute_unit_factor(const char *model) {
        return compute_unit_tflops(model) / COMPUTE_UNIT_REFERENCE_TFLOPS;
}

double compute_units_of_list(const char *models) {
        double sum = 0;

        for (const char *p = models; p && *p;) {
                const char *e = strchr(p, ',');
                size_t l = e ? (size_t) (e - p) : strlen(p);
                char one[256];

                snprintf(one, sizeof(one), "%.*s", (int) MIN(l, sizeof(one) - 1), p);
                sum += compute_unit_factor(one);
                p = e ? e + 1 : p + l;
        }
        return sum;
}

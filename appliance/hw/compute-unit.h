#pragma once

/* Normalized compute units: GPU time made comparable across models, as clouds bill "compute
 * degrees". One compute unit (CU) is the dense FP16/BF16 tensor throughput of an NVIDIA A100
 * (312 TFLOPS, no sparsity); a GPU counts its own dense FP16/BF16 tensor TFLOPS (with FP32
 * accumulation, from the vendor's datasheet) divided by 312, so an hour on an H100 SXM5 is about
 * 3.17 CU-hours. Models not in the table count 0 (their GPU-seconds are still reported). Pure. */

#define COMPUTE_UNIT_REFERENCE_TFLOPS 312.0

/* Dense FP16/BF16 TFLOPS of the GPU model named (its whole-word model number in the name:
 * "NVIDIA H100 SXM5 80GB"), 0 when the table does not know it. */
double compute_unit_tflops(const char *model);
/* CUs of one GPU of that model: tflops / COMPUTE_UNIT_REFERENCE_TFLOPS. */
double compute_unit_factor(const char *model);
/* CUs of a comma-separated list of models, one entry per GPU (as usage intervals keep them). */
double compute_units_of_list(const char *models);

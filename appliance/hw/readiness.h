#pragma once

/* "Can this host pass GPUs through, and can each GPU go?" — before anything is attempted. Every
 * check reads the sysfs root (fixture trees in tests) and the inventory, and says ready, advice
 * (works, but could be better) or not ready, with a sentence on what was found and, when it is
 * not ready or could be better, what to change. Nothing here logs. */

#include <stdbool.h>
#include <stddef.h>

#include "host-inventory.h"

typedef enum CheckStatus {
        CHECK_READY,
        CHECK_ADVICE,
        CHECK_NOT_READY,
        _CHECK_STATUS_MAX,
        _CHECK_STATUS_INVALID = -22,
} CheckStatus;

/* "ready", "advice", "not-ready". */
const char *check_status_to_string(CheckStatus s);

typedef struct CheckResult {
        char subject[PCI_ADDRESS_MAX]; /* "" for the host, else the accelerator's address */
        const char *check;             /* static id: "iommu", "interrupt-remapping", "iommu-group", ... */
        CheckStatus status;
        char *detail; /* what was found, one sentence without a final period */
        char *remedy; /* what to do; NULL when ready */
} CheckResult;

typedef struct CheckList {
        CheckResult *r;
        size_t n, allocated;
} CheckList;

void check_list_done(CheckList *l);

typedef struct ReadinessInput {
        const char *sysfs_root;
        const char *firmware_code, *firmware_vars; /* real paths (not under the sysfs root) */
        bool hugepages;
        const char *management_interface;
        const HostInfo *host;
        const Accelerator *accelerators;
        size_t n_accelerators;
} ReadinessInput;

/* Appends the host's checks: IOMMU, interrupt remapping, iommu=pt, KVM, vfio-pci, UEFI firmware,
 * huge pages. Returns 0 or -ENOMEM. */
int readiness_check_host(const ReadinessInput *in, CheckList *l);

/* Appends the checks of one accelerator: its IOMMU group, claim, driver, reset, BARs and the
 * window a VM gets, NUMA node, PCIe link. Returns 0 or -ENOMEM. */
int readiness_check_accelerator(const ReadinessInput *in, const Accelerator *a, CheckList *l);

/* Whether any result for `subject` (NULL = any subject) is not ready. */
bool check_list_has_not_ready(const CheckList *l, const char *subject);

/* Whether a host check that makes GPU passthrough fail is not ready (IOMMU, interrupt remapping,
 * vfio-pci, UEFI firmware, huge pages when configured; KVM when `kvm`). Returns 1 with a newly
 * allocated sentence (what, why, what to do), 0 when nothing blocks, or -ENOMEM. */
int readiness_host_blocker(const ReadinessInput *in, bool kvm, char **ret);

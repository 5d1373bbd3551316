/* Tests for appliance/readiness against the fixture hosts and against copies of them with one
 * thing broken (no interrupt remapping, no KVM, no vfio-pci, a GPU without reset): every check
 * says ready, advice or not ready as the host deserves, with a remedy when it is not ready. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/spawn-util.h"
#include "basic/string-util.h"
#include "host-inventory.h"
#include "readiness.h"

#define HOSTS_DIR ARK_SRCDIR "/tests/fixtures/hosts"
/* A file that exists on every machine, standing in for OVMF where the test does not care. */
#define SOME_FILE ARK_SRCDIR "/README.md"

typedef struct Host {
        char *root; /* sysfs root */
        char *tmp;  /* a copy of the fixture, when the test changes it */
        Accelerator *a;
        size_t n;
        HostInfo info;
        CheckList l;
        ReadinessInput in;
} Host;

static void host_load_root(Host *h, const char *root) {
        assert_int_equal(pci_scan_accelerators(root, &h->a, &h->n), 0);
        assert_int_equal(sysfs_read_numa(root, &h->info.numa, &h->info.n_numa), 0);
        for (size_t k = 0; k < h->info.n_numa; k++)
                h->info.memory_bytes += h->info.numa[k].memory_bytes;
        h->in = (ReadinessInput) {
                .sysfs_root = root,
                .firmware_code = SOME_FILE,
                .firmware_vars = SOME_FILE,
                .host = &h->info,
                .accelerators = h->a,
                .n_accelerators = h->n,
        };
}

static void host_load(Host *h, const char *name) {
        *h = (Host) {};
        h->root = strprintf(HOSTS_DIR "/%s/sysfs", name);
        assert_non_null(h->root);
        host_load_root(h, h->root);
}

/* A private copy of the fixture to break things in; `edit` is a shell command run inside it. */
static void host_load_edited(Host *h, const char *name, const char *edit) {
        char t[] = "/tmp/ark-test-readiness.XXXXXX";
        _cleanup_free_ char *cmd = NULL, *out = NULL;
        char *argv[] = { (char *) "sh", (char *) "-c", NULL, NULL };

        *h = (Host) {};
        assert_non_null(mkdtemp(t));
        h->tmp = strdup(t);
        h->root = strprintf("%s/sysfs", t);
        cmd = strprintf("cp -a '" HOSTS_DIR "/%s/sysfs' '%s' && cd '%s' && %s", name, t, h->root, edit);
        assert_non_null(cmd);
        argv[2] = cmd;
        if (spawn_wait(argv, &out) != 0)
                fail_msg("preparing the fixture failed: %s", strna(out));
        host_load_root(h, h->root);
}

static void host_done(Host *h) {
        check_list_done(&h->l);
        accelerator_array_free(h->a, h->n);
        host_info_done(&h->info);
        if (h->tmp)
                (void) rm_rf(h->tmp);
        free(h->tmp);
        free(h->root);
        *h = (Host) {};
}

static const CheckResult *find(const Host *h, const char *subject, const char *check) {
        for (size_t k = 0; k < h->l.n; k++)
                if (streq(h->l.r[k].subject, strempty(subject)) && streq(h->l.r[k].check, check))
                        return &h->l.r[k];
        return NULL;
}

static void expect(const Host *h, const char *subject, const char *check, CheckStatus status,
                   const char *needle) {
        const CheckResult *r = find(h, subject, check);

        if (!r)
                fail_msg("no '%s' check for '%s'", check, strempty(subject));
        if (r->status != status)
                fail_msg("'%s' of '%s' is %s (%s), want %s", check, strempty(subject),
                         check_status_to_string(r->status), r->detail, check_status_to_string(status));
        if (needle && !strstr(r->detail, needle))
                fail_msg("'%s' of '%s': '%s' does not contain '%s'", check, strempty(subject), r->detail,
                         needle);
        /* A remedy exactly when there is something to do. */
        if (status == CHECK_READY)
                assert_null(r->remedy);
        else if (isempty(r->remedy))
                fail_msg("'%s' of '%s' is %s without a remedy", check, strempty(subject),
                         check_status_to_string(status));
}

static void check_all(Host *h) {
        assert_int_equal(readiness_check_host(&h->in, &h->l), 0);
        for (size_t k = 0; k < h->n; k++)
                assert_int_equal(readiness_check_accelerator(&h->in, &h->a[k], &h->l), 0);
}

static void test_dgx_ready(void **state) {
        _cleanup_(host_done) Host h;

        host_load(&h, "dgx-h100");
        h.in.hugepages = true;
        check_all(&h);
        expect(&h, NULL, "iommu", CHECK_READY, "12 Intel VT-d units");
        expect(&h, NULL, "interrupt-remapping", CHECK_READY, NULL);
        expect(&h, NULL, "iommu-mode", CHECK_READY, "iommu=pt");
        expect(&h, NULL, "kvm", CHECK_READY, NULL);
        expect(&h, NULL, "vfio-pci", CHECK_READY, "loaded");
        expect(&h, NULL, "uefi-firmware", CHECK_READY, NULL);
        expect(&h, NULL, "hugepages", CHECK_READY, "1.5 TiB of huge pages free of 1.5 TiB reserved");
        /* Reserved but not used: advice. */
        {
                CheckList l2 = {};
                const CheckResult *r;

                h.in.hugepages = false;
                assert_int_equal(readiness_check_host(&h.in, &l2), 0);
                for (size_t k = 0; k < l2.n; k++)
                        if (streq(l2.r[k].check, "hugepages")) {
                                r = &l2.r[k];
                                assert_int_equal(r->status, CHECK_ADVICE);
                                assert_non_null(strstr(r->detail, "GPU VMs do not use them"));
                        }
                check_list_done(&l2);
                h.in.hugepages = true;
        }
        expect(&h, "0000:18:00.0", "iommu-group", CHECK_READY, "holds the GPU alone");
        expect(&h, "0000:18:00.0", "reset", CHECK_READY, "flr/bus");
        expect(&h, "0000:18:00.0", "mmio", CHECK_READY, "window of 257 GiB");
        expect(&h, "0000:9a:00.0", "numa", CHECK_READY, "node 1 (CPUs 56-111,168-223)");
        expect(&h, "0000:18:00.0", "link", CHECK_READY, "32.0 GT/s PCIe x16");
        assert_false(check_list_has_not_ready(&h.l, NULL));
        expect(&h, "0000:18:00.0", "health", CHECK_READY, "no fatal PCIe errors");
        expect(&h, NULL, "address-bits", CHECK_READY, "46 physical address bits hold a VM with all 8 GPUs");
        assert_int_equal(h.l.n, 8 + 8 * 8);
}

static void test_ws_rtx(void **state) {
        _cleanup_(host_done) Host h;

        host_load(&h, "ws-rtx");
        h.in.hugepages = true;
        check_all(&h);
        expect(&h, NULL, "iommu-mode", CHECK_ADVICE, "go through IOMMU translation");
        expect(&h, NULL, "hugepages", CHECK_NOT_READY, "HugePages=yes, but no huge pages are free");
        expect(&h, "0000:06:00.0", "iommu-group", CHECK_NOT_READY,
               "also holds 0000:05:00.0 (network controller eno1)");
        expect(&h, "0000:06:00.0", "reset", CHECK_READY, "no function-level reset");
        expect(&h, "0000:06:00.0", "link", CHECK_ADVICE, "x4 of the x16");
        expect(&h, "0000:17:00.0", "iommu-group", CHECK_READY,
               "audio 0000:17:00.1, USB 0000:17:00.2, USB-C 0000:17:00.3");
        expect(&h, "0000:17:00.0", "driver", CHECK_ADVICE, "host's console");
        /* Idle at 2.5 GT/s but all 16 lanes: no advice. */
        expect(&h, "0000:17:00.0", "link", CHECK_READY, NULL);
        expect(&h, "0000:17:00.0", "numa", CHECK_READY, "one NUMA node");
        assert_true(check_list_has_not_ready(&h.l, "0000:06:00.0"));
        assert_false(check_list_has_not_ready(&h.l, "0000:17:00.0"));

        /* Naming another NIC as the management one lets the group go. */
        check_list_done(&h.l);
        h.in.hugepages = false;
        h.in.management_interface = "eno2";
        check_all(&h);
        expect(&h, "0000:06:00.0", "iommu-group", CHECK_READY, "network 0000:05:00.0");
        assert_false(check_list_has_not_ready(&h.l, NULL));
}

static void test_no_iommu(void **state) {
        _cleanup_(host_done) Host h;

        host_load(&h, "no-iommu");
        check_all(&h);
        expect(&h, NULL, "iommu", CHECK_NOT_READY, "booted without intel_iommu=on");
        assert_non_null(strstr(find(&h, NULL, "iommu")->remedy, "intel_iommu=on"));
        assert_null(find(&h, NULL, "interrupt-remapping"));
        expect(&h, "0000:4b:00.0", "iommu-group", CHECK_NOT_READY, "the IOMMU is off");
        assert_true(check_list_has_not_ready(&h.l, ""));
}

static void test_ascend(void **state) {
        _cleanup_(host_done) Host h;

        host_load(&h, "ascend-910b");
        check_all(&h);
        expect(&h, NULL, "iommu", CHECK_READY, "Arm SMMU");
        expect(&h, NULL, "interrupt-remapping", CHECK_READY, "SMMU");
        expect(&h, NULL, "iommu-mode", CHECK_READY, "iommu.passthrough=1");
        assert_false(check_list_has_not_ready(&h.l, NULL));
}

static void test_broken_host(void **state) {
        _cleanup_(host_done) Host h;

        /* VT-d units without interrupt remapping (ecap bit 3 clear), no KVM, no vfio-pci. */
        host_load_edited(
                &h, "dgx-h100",
                "for f in sys/devices/virtual/iommu/*/intel-iommu/ecap; do echo f02056 > $f; done && "
                "rm -r sys/class/misc/kvm sys/bus/pci/drivers/vfio-pci");
        h.in.firmware_code = "/nonexistent/OVMF_CODE_4M.fd";
        check_all(&h);
        expect(&h, NULL, "interrupt-remapping", CHECK_NOT_READY,
               "12 VT-d units (dmar0 first) cannot remap interrupts");
        expect(&h, NULL, "kvm", CHECK_NOT_READY, "no /dev/kvm");
        expect(&h, NULL, "vfio-pci", CHECK_NOT_READY,
               "neither loaded nor installed for kernel 6.1.0-28-amd64");
        expect(&h, NULL, "uefi-firmware", CHECK_NOT_READY, "/nonexistent/OVMF_CODE_4M.fd");
}

/* A CPU with few address bits (a small desktop part) cannot hold the whole host's GPUs and memory. */
static void test_address_bits(void **state) {
        _cleanup_(host_done) Host h;

        host_load_edited(&h, "dgx-h100", "sed -i 's/46 bits physical/39 bits physical/' proc/cpuinfo");
        check_all(&h);
        expect(&h, NULL, "address-bits", CHECK_ADVICE, "needs 43 physical address bits; the CPU has 39");
        assert_false(check_list_has_not_ready(&h.l, NULL));
}

static void test_vfio_module(void **state) {
        _cleanup_(host_done) Host h;

        host_load_edited(&h, "dgx-h100",
                         "rm -r sys/bus/pci/drivers/vfio-pci && "
                         "mkdir -p lib/modules/6.1.0-28-amd64/kernel/drivers/vfio/pci && "
                         "touch lib/modules/6.1.0-28-amd64/kernel/drivers/vfio/pci/vfio-pci.ko");
        check_all(&h);
        expect(&h, NULL, "vfio-pci", CHECK_READY, "installed as a module");
}

static void test_broken_gpu(void **state) {
        _cleanup_(host_done) Host h;
        Accelerator *a;

        /* The kernel knows no reset for one GPU; another has no NUMA node on a two-node host. */
        host_load_edited(&h, "dgx-h100",
                         ": > sys/bus/pci/devices/0000:2a:00.0/reset_method && "
                         "echo -1 > sys/bus/pci/devices/0000:3a:00.0/numa_node && "
                         "sed -i 's/^TOTAL_ERR_FATAL 0/TOTAL_ERR_FATAL 3/' "
                         "sys/bus/pci/devices/0000:ab:00.0/aer_dev_fatal");
        a = &h.a[3];
        assert_string_equal(a->address, "0000:5d:00.0");
        a->hold = strdup("quarantined");
        a->hold_reason = strdup("Xid 79: fell off the bus");
        h.a[4].claimed_by = strdup("train-1");
        check_all(&h);
        expect(&h, "0000:2a:00.0", "reset", CHECK_NOT_READY, "knows no way to reset it");
        expect(&h, "0000:3a:00.0", "numa", CHECK_ADVICE, "no NUMA node for it");
        expect(&h, "0000:5d:00.0", "claim", CHECK_NOT_READY, "quarantined (Xid 79: fell off the bus)");
        expect(&h, "0000:9a:00.0", "claim", CHECK_READY, "claimed by instance 'train-1'");
        expect(&h, "0000:ab:00.0", "health", CHECK_NOT_READY,
               "unhealthy: 3 fatal PCIe errors reported since boot (AER)");
        assert_non_null(strstr(find(&h, "0000:ab:00.0", "health")->remedy,
                               "arkctl accelerator quarantine 0000:ab:00.0"));
        assert_string_equal(accelerator_claim_state(&h.a[5]), "unhealthy");
        assert_true(check_list_has_not_ready(&h.l, "0000:2a:00.0"));
        assert_false(check_list_has_not_ready(&h.l, "0000:9a:00.0"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_dgx_ready),    cmocka_unit_test(test_ws_rtx),
                cmocka_unit_test(test_no_iommu),     cmocka_unit_test(test_ascend),
                cmocka_unit_test(test_broken_host),  cmocka_unit_test(test_vfio_module),
                cmocka_unit_test(test_address_bits), cmocka_unit_test(test_broken_gpu),
        };
        return cmocka_run_group_tests_name("readiness", tests, NULL, NULL);
}

/* Tests for appliance/passthrough against the fixture hosts, scanned by the real scanner: which
 * GPUs can go to a VM and the sentence when not, the functions that go along, the guest's 64-bit
 * window, NUMA binding and address bits. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "basic/macro.h"
#include "basic/string-util.h"
#include "host-inventory.h"
#include "passthrough.h"

#define HOSTS_DIR ARK_SRCDIR "/tests/fixtures/hosts"
#define GiB(x) ((uint64_t) (x) << 30)

typedef struct Host {
        Accelerator *a;
        size_t n;
        HostInfo info;
} Host;

static void host_load(const char *name, Host *h) {
        char root[512];

        snprintf(root, sizeof(root), HOSTS_DIR "/%s/sysfs", name);
        *h = (Host) {};
        assert_int_equal(pci_scan_accelerators(root, &h->a, &h->n), 0);
        assert_int_equal(sysfs_read_numa(root, &h->info.numa, &h->info.n_numa), 0);
}

static void host_done(Host *h) {
        accelerator_array_free(h->a, h->n);
        host_info_done(&h->info);
        *h = (Host) {};
}

static Accelerator *by_address(Host *h, const char *address) {
        for (size_t k = 0; k < h->n; k++)
                if (streq(h->a[k].address, address))
                        return &h->a[k];
        fail_msg("no accelerator %s", address);
        return NULL;
}

static void check_verdict(const char *address, PassthroughVerdict v, const char *buf,
                          PassthroughVerdict want, const char *needle) {
        if (v != want)
                fail_msg("%s: verdict %d, want %d (%s)", address, v, want, buf);
        if (needle && !strstr(buf, needle))
                fail_msg("%s: '%s' does not contain '%s'", address, buf, needle);
        if (!needle)
                assert_string_equal(buf, "");
}

static void expect(Host *h, const char *address, const char *mgmt, PassthroughVerdict want,
                   const char *needle) {
        char buf[1024] = "unset";
        PassthroughVerdict v =
                passthrough_check(by_address(h, address), h->a, h->n, mgmt, NULL, buf, sizeof(buf));

        check_verdict(address, v, buf, want, needle);
}

static void test_dgx_all_free(void **state) {
        _cleanup_(host_done) Host h = {};

        host_load("dgx-h100", &h);
        for (size_t k = 0; k < h.n; k++)
                expect(&h, h.a[k].address, NULL, PASSTHROUGH_OK, NULL);
}

static void test_held(void **state) {
        _cleanup_(host_done) Host h = {};
        Accelerator *a;

        host_load("dgx-h100", &h);
        a = by_address(&h, "0000:18:00.0");
        a->claimed_by = strdup("risk-vm1");
        expect(&h, "0000:18:00.0", NULL, PASSTHROUGH_HELD,
               "0000:18:00.0 (NVIDIA H100 SXM5 80GB) is claimed by instance 'risk-vm1'");
        a = by_address(&h, "0000:2a:00.0");
        a->hold = strdup("reserved");
        a->hold_reason = strdup("host inference service");
        expect(&h, "0000:2a:00.0", NULL, PASSTHROUGH_HELD,
               "is reserved for the host (host inference service)");
        free(a->hold);
        a->hold = strdup("quarantined");
        a->hold_reason = mfree(a->hold_reason);
        expect(&h, "0000:2a:00.0", NULL, PASSTHROUGH_HELD, "is quarantined");
        expect(&h, "0000:3a:00.0", NULL, PASSTHROUGH_OK, NULL);
        a = by_address(&h, "0000:3a:00.0");
        a->health = strdup("its PCIe link is down");
        expect(&h, "0000:3a:00.0", NULL, PASSTHROUGH_UNHEALTHY,
               "0000:3a:00.0 (NVIDIA H100 SXM5 80GB) is unhealthy: its PCIe link is down");
        assert_string_equal(accelerator_claim_state(a), "unhealthy");
        /* The admin's hold says more than the health. */
        a->hold = strdup("quarantined");
        assert_string_equal(accelerator_claim_state(a), "quarantined");
}

/* The 2080 Ti shares the chipset's group with the NIC that carries the management network; the
 * sentence names the GPU, the group, the NIC and what to do. The 2080 SUPER's group is clean. */
static void test_ws_rtx_group(void **state) {
        _cleanup_(host_done) Host h = {};

        host_load("ws-rtx", &h);
        expect(&h, "0000:06:00.0", NULL, PASSTHROUGH_GROUP,
               "0000:06:00.0 (NVIDIA GeForce RTX 2080 Ti) cannot be passed through: its IOMMU group 1 also holds 0000:05:00.0 (network controller eno1)");
        expect(&h, "0000:06:00.0", NULL, PASSTHROUGH_GROUP, "ManagementInterface=");
        /* Named: the same NIC is the management one. */
        expect(&h, "0000:06:00.0", "eno1", PASSTHROUGH_GROUP,
               "which carries the management network and must stay with the host");
        /* Named as another NIC: eno1 may go with the GPU. */
        expect(&h, "0000:06:00.0", "eno2", PASSTHROUGH_OK, NULL);
        expect(&h, "0000:17:00.0", NULL, PASSTHROUGH_OK, NULL);
}

static void test_no_iommu(void **state) {
        _cleanup_(host_done) Host h = {};

        host_load("no-iommu", &h);
        assert_true(h.n > 0);
        for (size_t k = 0; k < h.n; k++)
                expect(&h, h.a[k].address, NULL, PASSTHROUGH_NOT_READY, "the IOMMU is off on this host");
}

static void test_functions(void **state) {
        _cleanup_(host_done) Host h = {}, d = {};
        const char *f[PASSTHROUGH_FUNCTIONS_MAX];
        size_t n;

        host_load("ws-rtx", &h);
        n = passthrough_functions(by_address(&h, "0000:17:00.0"), f, ELEMENTSOF(f));
        assert_int_equal(n, 4);
        assert_string_equal(f[0], "0000:17:00.0");
        assert_string_equal(f[1], "0000:17:00.1");
        assert_string_equal(f[2], "0000:17:00.2");
        assert_string_equal(f[3], "0000:17:00.3");
        /* The GPU first, bridges left out. */
        n = passthrough_functions(by_address(&h, "0000:06:00.0"), f, ELEMENTSOF(f));
        assert_int_equal(n, 5);
        assert_string_equal(f[0], "0000:06:00.0");
        assert_string_equal(f[1], "0000:05:00.0");
        assert_int_equal(passthrough_functions(by_address(&h, "0000:06:00.0"), f, 2), 2);

        host_load("dgx-h100", &d);
        n = passthrough_functions(&d.a[0], f, ELEMENTSOF(f));
        assert_int_equal(n, 1);
        assert_string_equal(f[0], d.a[0].address);
}

static void test_window(void **state) {
        _cleanup_(host_done) Host h = {}, w = {};
        const Accelerator *g[8];
        uint64_t win;

        host_load("dgx-h100", &h);
        for (size_t k = 0; k < 8; k++)
                g[k] = &h.a[k];
        /* One H100: 128 GiB + 32 MiB of 64-bit BARs, plus the 128 GiB BAR again for alignment. */
        win = passthrough_mmio64_window(g, 1);
        assert_true(win >= GiB(128) + (UINT64_C(32) << 20));
        assert_true(win == GiB(257));
        /* Two and eight: always at least the sum of their BARs. */
        win = passthrough_mmio64_window(g, 2);
        assert_true(win >= 2 * (GiB(128) + (UINT64_C(32) << 20)));
        assert_true(win == GiB(385));
        win = passthrough_mmio64_window(g, 8);
        assert_true(win >= 8 * (GiB(128) + (UINT64_C(32) << 20)));
        assert_true(win == GiB(1153));

        /* Small BARs: the firmware's 32 GiB, never less. */
        host_load("ws-rtx", &w);
        g[0] = by_address(&w, "0000:17:00.0");
        assert_true(passthrough_mmio64_window(g, 1) == GiB(32));
        assert_true(passthrough_mmio64_window(g, 0) == GiB(32));
}

static void test_numa(void **state) {
        _cleanup_(host_done) Host h = {}, w = {};
        const Accelerator *g[2];
        int k;

        host_load("dgx-h100", &h);
        g[0] = by_address(&h, "0000:18:00.0");
        g[1] = by_address(&h, "0000:2a:00.0");
        k = passthrough_numa_node(g, 2, &h.info, 16, GiB(64));
        assert_true(k >= 0);
        assert_int_equal(h.info.numa[k].id, 0);
        assert_string_equal(h.info.numa[k].cpulist, "0-55,112-167");
        /* Too large for one node (112 CPUs, 1 TiB each). */
        assert_int_equal(passthrough_numa_node(g, 2, &h.info, 113, GiB(64)), -1);
        assert_int_equal(passthrough_numa_node(g, 2, &h.info, 16, GiB(1025)), -1);
        /* GPUs on two nodes. */
        g[1] = by_address(&h, "0000:9a:00.0");
        assert_int_equal(passthrough_numa_node(g, 2, &h.info, 16, GiB(64)), -1);
        g[0] = g[1];
        k = passthrough_numa_node(g, 1, &h.info, 8, GiB(8));
        assert_int_equal(h.info.numa[k].id, 1);

        /* The workstation reports no node for its GPUs. */
        host_load("ws-rtx", &w);
        g[0] = by_address(&w, "0000:17:00.0");
        assert_int_equal(passthrough_numa_node(g, 1, &w.info, 4, GiB(8)), -1);
}

static void test_phys_bits(void **state) {
        assert_int_equal(passthrough_phys_bits(GiB(8), GiB(32)), 40);
        /* 64 GiB + a 1153 GiB window above 4 GiB: 2^41 covers it, one more bit for alignment. */
        assert_int_equal(passthrough_phys_bits(GiB(64), GiB(1153)), 42);
        assert_int_equal(passthrough_phys_bits(GiB(2048), GiB(1153)), 43);
        assert_int_equal(passthrough_phys_bits(UINT64_C(1) << 60, 0), 52);
}

static void expect_container(Host *h, const char *host, const char *address, PassthroughVerdict want,
                             const char *needle) {
        char buf[1024] = "unset", root[512];
        PassthroughVerdict v;

        snprintf(root, sizeof(root), HOSTS_DIR "/%s/sysfs", host);
        v = passthrough_check_container(by_address(h, address), root, buf, sizeof(buf));
        check_verdict(address, v, buf, want, needle);
}

/* For containers: no IOMMU needed, the vendor's driver (with the NVIDIA driver's own files) is;
 * vfio-pci is a VM's; holds and claims as for VMs. */
static void test_container(void **state) {
        _cleanup_(host_done) Host h = {}, n = {}, a = {};
        Accelerator *g;

        host_load("dgx-h100", &h);
        for (size_t k = 0; k < h.n; k++)
                expect_container(&h, "dgx-h100", h.a[k].address, PASSTHROUGH_OK, NULL);
        g = by_address(&h, "0000:18:00.0");
        free(g->driver);
        g->driver = strdup("vfio-pci");
        expect_container(&h, "dgx-h100", "0000:18:00.0", PASSTHROUGH_NOT_READY,
                         "0000:18:00.0 (NVIDIA H100 SXM5 80GB) is bound to vfio-pci, for VMs");
        g->driver = mfree(g->driver);
        expect_container(&h, "dgx-h100", "0000:18:00.0", PASSTHROUGH_NOT_READY,
                         "is bound to no driver; a container needs it on nvidia");
        g->driver = strdup("nvidia");
        g->claimed_by = strdup("v1");
        expect_container(&h, "dgx-h100", "0000:18:00.0", PASSTHROUGH_HELD, "is claimed by instance 'v1'");
        g->claimed_by = mfree(g->claimed_by);
        g->hold = strdup("reserved");
        expect_container(&h, "dgx-h100", "0000:18:00.0", PASSTHROUGH_HELD, "is reserved for the host");
        g->hold = mfree(g->hold);
        g->health = strdup("its PCIe link is down");
        expect_container(&h, "dgx-h100", "0000:18:00.0", PASSTHROUGH_UNHEALTHY, "its PCIe link is down");
        g->health = mfree(g->health);
        /* Bound to nvidia, but the driver does not list it. */
        expect_container(&h, "ws-rtx", "0000:18:00.0", PASSTHROUGH_NOT_READY, "the driver does not list it");

        /* Without an IOMMU a container still gets it. */
        host_load("no-iommu", &n);
        for (size_t k = 0; k < n.n; k++)
                if (streq_ptr(n.a[k].driver, "nvidia"))
                        expect_container(&n, "no-iommu", n.a[k].address, PASSTHROUGH_OK, NULL);
        host_load("ascend-910b", &a);
        assert_true(a.n > 0);
        for (size_t k = 0; k < a.n; k++)
                expect_container(&a, "ascend-910b", a.a[k].address, PASSTHROUGH_OK, NULL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_dgx_all_free), cmocka_unit_test(test_held),
                cmocka_unit_test(test_ws_rtx_group), cmocka_unit_test(test_no_iommu),
                cmocka_unit_test(test_functions),    cmocka_unit_test(test_window),
                cmocka_unit_test(test_numa),         cmocka_unit_test(test_phys_bits),
                cmocka_unit_test(test_container),
        };
        return cmocka_run_group_tests_name("passthrough", tests, NULL, NULL);
}

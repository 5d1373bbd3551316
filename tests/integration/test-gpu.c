/* GPU passthrough through arkctl and D-Bus against arkd on the fixture hosts (libvirt test
 * driver): GPUs picked on one NUMA node with vCPUs pinned there, the domain shape of GPU VMs (UEFI,
 * hostdevs for every function, a 64-bit window for the BARs) checked by libvirt's schema, a group
 * that holds the management NIC refused with a sentence naming both, no IOMMU refused with
 * NotReady, nine concurrent requests for eight GPUs, and claims that survive kill -9. */

#include "itest.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "basic/time-util.h"

static Harness H;

static int setup_host(void **state) {
        if (harness_setup(&H, *state) < 0)
                return -1;
        if (harness_start_arkd(&H, NULL) < 0)
                return -1;
        free(itest_arkctl_expect(&H, 0, NULL, "tenant", "create", "risk", NULL));
        return 0;
}

static int teardown_host(void **state) {
        harness_teardown(&H);
        return 0;
}

static json_t *accelerators(void) {
        json_t *j = harness_arkctl_json(&H, "host", "accelerators", NULL);
        assert_non_null(j);
        return j;
}

static const char *jstr(json_t *o, const char *key) {
        const char *s = json_string_value(json_object_get(o, key));
        if (!s)
                fail_msg("key '%s' missing or not a string", key);
        return s;
}

/* The GPUs of VM `name` as `arkctl -o json vm show` lists them (a new reference). */
static json_t *vm_gpus(const char *name) {
        json_t *j = harness_arkctl_json(&H, "vm", "show", name, NULL), *g;

        assert_non_null(j);
        g = json_incref(json_object_get(j, "gpus"));
        json_decref(j);
        assert_true(json_is_array(g));
        return g;
}

static void validate_xml(const char *xml) {
        _cleanup_free_ char *file = strprintf("%s/vm.xml", H.tmp), *out = NULL, *err = NULL;
        int r;

        assert_int_equal(write_string_file(file, xml, WRITE_CREATE | WRITE_ATOMIC), 0);
        r = harness_sh(&out, &err, "virt-xml-validate '%s' domain", file);
        if (r != 0)
                fail_msg("virt-xml-validate rejected the XML: %s %s\n%s", strna(out), strna(err), xml);
}

/* The number in `<tag ...>N</tag>` after `after`. */
static uint64_t xml_number(const char *xml, const char *after) {
        const char *p = strstr(xml, after);

        if (!p)
                fail_msg("'%s' not in the XML:\n%s", after, xml);
        p = strchr(p, '>');
        assert_non_null(p);
        return strtoull(p + 1, NULL, 10);
}

/* Acceptance 1: two GPUs on one NUMA node, vCPUs pinned there, both hostdevs, OVMF and a 64-bit
 * window at least the sum of their BARs; the XML passes libvirt's schema. */
static void test_two_gpus_one_node(void **state) {
        _cleanup_free_ char *xml = NULL;
        json_t *gpus, *list;
        const char *g0, *g1;
        json_int_t node;
        char needle[160];

        assert_arkctl(&H, 0, NULL, "vm", "create", "train-1", "--tenant", "risk", "--vcpus", "16",
                      "--memory", "64G", "--gpus", "2");
        gpus = vm_gpus("train-1");
        assert_int_equal(json_array_size(gpus), 2);
        g0 = json_string_value(json_array_get(gpus, 0));
        g1 = json_string_value(json_array_get(gpus, 1));

        list = accelerators();
        node = json_integer_value(json_object_get(itest_accelerator(list, g0), "numa_node"));
        assert_int_equal(json_integer_value(json_object_get(itest_accelerator(list, g1), "numa_node")),
                         node);
        assert_string_equal(jstr(itest_accelerator(list, g0), "claim_state"), "claimed");
        assert_string_equal(jstr(itest_accelerator(list, g0), "claimed_by"), "train-1");
        assert_string_equal(jstr(itest_accelerator(list, g1), "claimed_by"), "train-1");
        {
                _cleanup_free_ char *table = itest_arkctl_expect(&H, 0, NULL, "host", "accelerators", NULL);
                char line[128];

                snprintf(line, sizeof(line), "%s  H100 SXM5 80GB", g0);
                assert_non_null(strstr(table, line));
                assert_non_null(strstr(table, "\n              claimed by 'train-1'"));
        }

        xml = itest_arkctl_expect(&H, 0, NULL, "vm", "show", "train-1", "--xml", NULL);
        for (size_t k = 0; k < 2; k++) {
                const char *g = k == 0 ? g0 : g1;
                snprintf(needle, sizeof(needle),
                         "<address domain='0x0000' bus='0x%.2s' slot='0x00' function='0x0'/>", g + 5);
                if (!strstr(xml, needle))
                        fail_msg("no hostdev for %s in:\n%s", g, xml);
        }
        assert_non_null(strstr(xml, "managed='yes'"));
        assert_non_null(strstr(xml, "machine='q35'"));
        assert_non_null(strstr(
                xml, "<loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader>"));
        /* Two H100s: 2 x (128 GiB + 32 MiB) of 64-bit BARs. */
        assert_true(xml_number(xml, "<pcihole64") * 1024 >=
                    2 * ((UINT64_C(128) << 30) + (UINT64_C(32) << 20)));
        assert_true(xml_number(xml, "X-PciMmio64Mb") << 20 >=
                    2 * ((UINT64_C(128) << 30) + (UINT64_C(32) << 20)));
        snprintf(needle, sizeof(needle), "<vcpu placement='static' cpuset='%s'>16</vcpu>",
                 node == 0 ? "0-55,112-167" : "56-111,168-223");
        assert_non_null(strstr(xml, needle));
        snprintf(needle, sizeof(needle), "<memory mode='strict' nodeset='%lld'/>", (long long) node);
        assert_non_null(strstr(xml, needle));
        assert_non_null(strstr(xml, "<memballoon model='none'/>"));
        validate_xml(xml);

        /* It starts (on the test driver) and stops with its GPUs. */
        assert_arkctl(&H, 0, NULL, "vm", "start", "train-1");
        assert_arkctl(&H, 0, NULL, "vm", "stop", "train-1");
        /* Stopping keeps the claim; deleting releases it. */
        json_decref(list);
        list = accelerators();
        assert_string_equal(jstr(itest_accelerator(list, g0), "claimed_by"), "train-1");
        json_decref(list);
        assert_arkctl(&H, 0, NULL, "vm", "delete", "train-1");
        list = accelerators();
        assert_string_equal(jstr(itest_accelerator(list, g0), "claim_state"), "free");
        assert_string_equal(jstr(itest_accelerator(list, g1), "claim_state"), "free");
        json_decref(list);
        json_decref(gpus);
}

static void test_model_and_exact(void **state) {
        _cleanup_free_ char *msg = NULL;
        json_t *gpus;

        assert_arkctl(&H, 0, NULL, "vm", "create", "by-model", "--tenant", "risk", "--vcpus", "4",
                      "--memory", "8G", "--gpu-model", "h100");
        gpus = vm_gpus("by-model");
        assert_int_equal(json_array_size(gpus), 1);
        json_decref(gpus);
        assert_arkctl(&H, 1, "This host has no GPU matching 'A100' (it has NVIDIA H100 SXM5 80GB)", "vm",
                      "create", "no-model", "--tenant", "risk", "--vcpus", "4", "--memory", "8G",
                      "--gpu-model", "A100");

        /* Exact devices, in any case of hex; one that is taken is refused with its holder. */
        assert_arkctl(&H, 0, NULL, "vm", "create", "exact", "--tenant", "risk", "--vcpus", "4", "--memory",
                      "8G", "--gpu", "0000:DB:00.0", "--gpu", "0000:ba:00.0");
        gpus = vm_gpus("exact");
        assert_int_equal(json_array_size(gpus), 2);
        assert_string_equal(json_string_value(json_array_get(gpus, 0)), "0000:ba:00.0");
        assert_string_equal(json_string_value(json_array_get(gpus, 1)), "0000:db:00.0");
        json_decref(gpus);
        assert_arkctl(&H, 1, "GPU 0000:db:00.0 (NVIDIA H100 SXM5 80GB) is claimed by instance 'exact'", "vm",
                      "create", "again", "--tenant", "risk", "--vcpus", "4", "--memory", "8G", "--gpu",
                      "0000:db:00.0");
        assert_arkctl(&H, 1, "no accelerator at 0000:77:00.0", "vm", "create", "nowhere", "--tenant", "risk",
                      "--vcpus", "4", "--memory", "8G", "--gpu", "0000:77:00.0");
        assert_arkctl(&H, 1, "not a PCI address", "vm", "create", "garbage", "--tenant", "risk", "--vcpus",
                      "4", "--memory", "8G", "--gpu", "18:00.0");
        assert_arkctl(&H, 2, "at least 1 GPU", "vm", "create", "zero", "--tenant", "risk", "--vcpus", "4",
                      "--memory", "8G", "--gpus", "0");
        assert_arkctl(&H, 1, "disagree", "vm", "create", "both", "--tenant", "risk", "--vcpus", "4",
                      "--memory", "8G", "--gpus", "3", "--gpu", "0000:18:00.0");
        assert_arkctl(&H, 1, "GPU 0000:18:00.0 is listed twice", "vm", "create", "twice", "--tenant", "risk",
                      "--vcpus", "4", "--memory", "8G", "--gpu", "0000:18:00.0", "--gpu", "0000:18:00.0");
        assert_arkctl(&H, 1, "GPU 0000:18:00.0 (NVIDIA H100 SXM5 80GB) does not match the model 'A100'",
                      "vm", "create", "mixed", "--tenant", "risk", "--vcpus", "4", "--memory", "8G", "--gpu",
                      "0000:18:00.0", "--gpu-model", "A100");
        {
                _cleanup_free_ char *o =
                        itest_arkctl_expect(&H, 0, NULL, "accelerator", "release", "0000:5d:00.0", NULL);
                assert_non_null(
                        strstr(o, "0000:5d:00.0 was neither reserved nor quarantined (it is free)."));
        }

        /* The named errors, over D-Bus. */
        msg = itest_call_expect_error(&H, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "CreateInstance",
                                      ARK_ERROR_IN_USE, "a{sv}", 5, "Name", "s", "dbus-1", "Tenant", "s",
                                      "risk", "VCPUs", "u", 1, "MemoryBytes", "t", UINT64_C(1) << 30,
                                      "GPUAddresses", "as", 1, "0000:db:00.0");
        free(msg);
        msg = itest_call_expect_error(&H, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "CreateInstance",
                                      ARK_ERROR_NO_CAPACITY, "a{sv}", 5, "Name", "s", "dbus-2", "Tenant",
                                      "s", "risk", "VCPUs", "u", 1, "MemoryBytes", "t", UINT64_C(1) << 30,
                                      "GPUs", "u", 6);
        assert_non_null(strstr(msg, "6 asked for, 5 can be given out"));
        free(msg);
        /* A GPU VM takes its CPU and memory from the NUMA node of its GPUs (112 CPUs and 1 TiB
         * each on this host): more than one has is refused, naming what is short. */
        msg = itest_call_expect_error(&H, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "CreateInstance",
                                      ARK_ERROR_NO_CAPACITY, "a{sv}", 5, "Name", "s", "dbus-3", "Tenant",
                                      "s", "risk", "VCPUs", "u", 113, "MemoryBytes", "t", UINT64_C(1) << 30,
                                      "GPUs", "u", 1);
        if (!strstr(msg,
                    "No NUMA node with 1 free GPU has 113 vCPUs free for the VM: the most left beside such "
                    "GPUs is 108 vCPUs and "))
                fail_msg("unexpected refusal: %s", msg);

        /* Nothing of the refused requests was created or claimed. */
        assert_int_equal(itest_get_u32(&H, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "NInstances"), 2);
        assert_arkctl(&H, 0, NULL, "vm", "delete", "by-model");
        assert_arkctl(&H, 0, NULL, "vm", "delete", "exact");
}

/* Acceptance 4: nine requests at once for one GPU each on the 8-GPU host. Exactly eight win, the
 * ninth gets NoCapacity, no GPU is claimed twice, and after kill -9 the eight claims are back. */
static void test_concurrent_and_kill9(void **state) {
        _cleanup_free_ char *script = NULL, *out = NULL, *err = NULL;
        json_t *list, *a;
        size_t k;
        unsigned claimed = 0, won = 0, refused = 0;
        char owners[8][32] = {};

        script = strprintf(
                "for n in 1 2 3 4 5 6 7 8 9; do "
                "  ( ARK_BUS_ADDRESS='%s' '%s/bin/arkctl' vm create par-$n --tenant risk --vcpus 2 "
                "      --memory 4G --gpus 1 >'%s'/par-$n.out 2>&1; echo $? >'%s'/par-$n.rc ) & "
                "done; wait",
                H.bus_address, harness_build_dir(), H.tmp, H.tmp);
        assert_non_null(script);
        assert_int_equal(harness_sh(&out, &err, "%s", script), 0);
        for (int n = 1; n <= 9; n++) {
                _cleanup_free_ char *rcfile = strprintf("%s/par-%d.rc", H.tmp, n),
                                    *outfile = strprintf("%s/par-%d.out", H.tmp, n), *rc = NULL,
                                    *text = NULL;

                assert_int_equal(read_full_file(rcfile, &rc, NULL), 0);
                assert_int_equal(read_full_file(outfile, &text, NULL), 0);
                if (streq(strstrip(rc), "0"))
                        won++;
                else {
                        assert_non_null(
                                strstr(text, "Not enough free GPUs: 1 asked for, 0 can be given out"));
                        refused++;
                }
        }
        assert_int_equal(won, 8);
        assert_int_equal(refused, 1);

        list = accelerators();
        json_array_foreach(list, k, a) {
                const char *owner = jstr(a, "claimed_by");

                assert_string_equal(jstr(a, "claim_state"), "claimed");
                for (unsigned j = 0; j < claimed; j++)
                        if (streq(owners[j], owner))
                                fail_msg("'%s' holds two GPUs", owner);
                snprintf(owners[claimed++], sizeof(owners[0]), "%s", owner);
        }
        assert_int_equal(claimed, 8);
        json_decref(list);
        assert_int_equal(itest_get_u32(&H, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "NInstances"), 8);

        /* kill -9 and back: every claim is where it was. */
        assert_int_equal(harness_stop_arkd(&H, SIGKILL), 128 + SIGKILL);
        assert_int_equal(harness_start_arkd(&H, NULL), 0);
        list = accelerators();
        claimed = 0;
        json_array_foreach(list, k, a) {
                bool found = false;

                for (unsigned j = 0; j < 8; j++)
                        found = found || streq(owners[j], jstr(a, "claimed_by"));
                assert_true(found);
                assert_string_equal(jstr(a, "claimed_by"), owners[k]);
                claimed++;
        }
        assert_int_equal(claimed, 8);
        json_decref(list);
        /* ... and each VM's domain was defined again with its GPU. */
        for (unsigned j = 0; j < 8; j++) {
                _cleanup_free_ char *xml =
                        itest_arkctl_expect(&H, 0, NULL, "vm", "show", owners[j], "--xml", NULL);
                assert_non_null(strstr(xml, "<hostdev mode='subsystem' type='pci' managed='yes'>"));
        }
        assert_arkctl(&H, 1, "Not enough free GPUs", "vm", "create", "par-10", "--tenant", "risk", "--vcpus",
                      "2", "--memory", "4G", "--gpus", "1");
}

/* Acceptance 2: the GPU comes with its audio and USB-C functions; the one whose group holds the
 * management NIC is refused with a sentence naming both. */
static void test_ws_rtx(void **state) {
        _cleanup_free_ char *xml = NULL, *msg = NULL;
        json_t *gpus;

        assert_arkctl(&H, 0, NULL, "vm", "create", "ws-1", "--tenant", "risk", "--vcpus", "4", "--memory",
                      "8G", "--gpus", "1");
        gpus = vm_gpus("ws-1");
        assert_int_equal(json_array_size(gpus), 1);
        assert_string_equal(json_string_value(json_array_get(gpus, 0)), "0000:17:00.0");
        json_decref(gpus);
        xml = itest_arkctl_expect(&H, 0, NULL, "vm", "show", "ws-1", "--xml", NULL);
        for (int f = 0; f < 4; f++) {
                char needle[96];
                snprintf(needle, sizeof(needle),
                         "<address domain='0x0000' bus='0x17' slot='0x00' function='0x%d'/>", f);
                if (!strstr(xml, needle))
                        fail_msg("function %d of the GPU is not passed through:\n%s", f, xml);
        }
        /* One guest slot, function 0 multifunction, like on the host. */
        assert_non_null(strstr(xml, "bus='0x01' slot='0x00' function='0x0' multifunction='on'/>"));
        assert_non_null(strstr(xml, "bus='0x01' slot='0x00' function='0x3'/>"));
        /* No NUMA information on the workstation: nothing pinned. */
        assert_null(strstr(xml, "cpuset="));
        validate_xml(xml);

        msg = itest_call_expect_error(&H, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "CreateInstance",
                                      ARK_ERROR_NOT_READY, "a{sv}", 5, "Name", "s", "ws-2", "Tenant", "s",
                                      "risk", "VCPUs", "u", 1, "MemoryBytes", "t", UINT64_C(1) << 30,
                                      "GPUAddresses", "as", 1, "0000:06:00.0");
        assert_non_null(strstr(msg, "0000:06:00.0 (NVIDIA GeForce RTX 2080 Ti)"));
        assert_non_null(strstr(msg, "0000:05:00.0 (network controller eno1)"));
        assert_non_null(strstr(msg, "must stay with the host"));
        assert_arkctl(&H, 1, "also holds 0000:05:00.0 (network controller eno1)", "vm", "create", "ws-3",
                      "--tenant", "risk", "--vcpus", "1", "--memory", "1G", "--gpu", "0000:06:00.0");
        /* A function of a GPU is not a GPU: the sentence says which one to ask for. */
        assert_arkctl(
                &H, 1,
                "0000:17:00.1 is a function of GPU 0000:17:00.0 (NVIDIA GeForce RTX 2080 SUPER), not a GPU",
                "vm", "create", "ws-5", "--tenant", "risk", "--vcpus", "1", "--memory", "1G", "--gpu",
                "0000:17:00.1");
        /* Asking for any GPU when only that one is left says why it cannot go. */
        assert_arkctl(
                &H, 1,
                "0 can be given out (1 claimed by VMs, 0 reserved for the host, 0 quarantined); 0000:06:00.0 "
                "(NVIDIA GeForce RTX 2080 Ti) cannot be passed through",
                "vm", "create", "ws-4", "--tenant", "risk", "--vcpus", "1", "--memory", "1G", "--gpus", "1");
        assert_int_equal(itest_get_u32(&H, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "NInstances"), 1);
}

/* Acceptance 3 (the create half): without an IOMMU a GPU VM is refused with NotReady. */
static void test_no_iommu(void **state) {
        _cleanup_free_ char *msg = NULL;

        msg = itest_call_expect_error(&H, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "CreateInstance",
                                      ARK_ERROR_NOT_READY, "a{sv}", 5, "Name", "s", "g", "Tenant", "s",
                                      "risk", "VCPUs", "u", 1, "MemoryBytes", "t", UINT64_C(1) << 30, "GPUs",
                                      "u", 1);
        assert_non_null(strstr(msg, "the IOMMU, which is off on this host"));
        assert_arkctl(&H, 1, "turn on VT-d or AMD-Vi", "vm", "create", "g", "--tenant", "risk", "--vcpus",
                      "1", "--memory", "1G", "--gpus", "1");
        /* VMs without GPUs are fine. */
        assert_arkctl(&H, 0, NULL, "vm", "create", "plain", "--tenant", "risk", "--vcpus", "1", "--memory",
                      "1G");
        assert_int_equal(itest_get_u32(&H, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "NInstances"), 1);
}

static const char *claim_state(json_t *list, const char *address) {
        return jstr(itest_accelerator(list, address), "claim_state");
}

/* The admin's holds: reserved GPUs and quarantined ones are not handed out, say why, survive kill -9
 * and are released again; a VM's GPU can be quarantined (it stays with the VM), not reserved. */
static void test_holds(void **state) {
        _cleanup_free_ char *msg = NULL, *out = NULL, *err = NULL;
        json_t *list;

        assert_arkctl(&H, 0, NULL, "accelerator", "reserve", "0000:db:00.0", "--reason",
                      "host inference service");
        assert_arkctl(&H, 0, NULL, "accelerator", "quarantine", "0000:18:00.0");
        list = accelerators();
        assert_string_equal(claim_state(list, "0000:db:00.0"), "reserved");
        assert_string_equal(jstr(itest_accelerator(list, "0000:db:00.0"), "hold_reason"),
                            "host inference service");
        assert_string_equal(claim_state(list, "0000:18:00.0"), "quarantined");
        json_decref(list);

        assert_arkctl(
                &H, 1,
                "0000:db:00.0 (NVIDIA H100 SXM5 80GB) is reserved for the host (host inference service)",
                "vm", "create", "x", "--tenant", "risk", "--vcpus", "1", "--memory", "1G", "--gpu",
                "0000:db:00.0");
        msg = itest_call_expect_error(&H, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "CreateInstance",
                                      ARK_ERROR_NO_CAPACITY, "a{sv}", 5, "Name", "s", "x", "Tenant", "s",
                                      "risk", "VCPUs", "u", 1, "MemoryBytes", "t", UINT64_C(1) << 30, "GPUs",
                                      "u", 7);
        assert_non_null(strstr(msg,
                               "7 asked for, 6 can be given out (0 claimed by VMs, 1 reserved for the host, "
                               "1 quarantined)"));

        /* A VM's GPU: quarantine yes (it stays), reserve no. */
        assert_arkctl(&H, 0, NULL, "vm", "create", "v1", "--tenant", "risk", "--vcpus", "1", "--memory",
                      "1G", "--gpu", "0000:2a:00.0");
        assert_arkctl(&H, 1, "claimed by instance 'v1'; delete the VM first", "accelerator", "reserve",
                      "0000:2a:00.0");
        assert_arkctl(&H, 0, NULL, "accelerator", "quarantine", "0000:2a:00.0", "--reason", "Xid 79");
        list = accelerators();
        assert_string_equal(claim_state(list, "0000:2a:00.0"), "quarantined");
        assert_string_equal(jstr(itest_accelerator(list, "0000:2a:00.0"), "claimed_by"), "v1");
        json_decref(list);

        /* Bad input. */
        assert_arkctl(&H, 1, "contains a control character (U+000A)", "accelerator", "reserve",
                      "0000:3a:00.0", "--reason", "a\nb");
        assert_arkctl(&H, 1, "no accelerator at 0000:77:00.0", "accelerator", "reserve", "0000:77:00.0");
        assert_arkctl(&H, 1, "not a PCI address", "accelerator", "quarantine", "gpu0");
        assert_arkctl(&H, 2, "--reason does not apply", "accelerator", "release", "0000:3a:00.0", "--reason",
                      "x");

        /* Readiness says so, with the exact command to undo it. */
        assert_int_equal(
                harness_sh(&out, &err,
                           "COLUMNS=200 ARK_BUS_ADDRESS='%s' '%s/bin/arkctl' host check 0000:18:00.0",
                           H.bus_address, harness_build_dir()),
                1);
        assert_non_null(strstr(out, "arkctl accelerator release 0000:18:00.0"));

        /* Holds are in the store. */
        assert_int_equal(harness_stop_arkd(&H, SIGKILL), 128 + SIGKILL);
        assert_int_equal(harness_start_arkd(&H, NULL), 0);
        list = accelerators();
        assert_string_equal(claim_state(list, "0000:db:00.0"), "reserved");
        assert_string_equal(claim_state(list, "0000:18:00.0"), "quarantined");
        assert_string_equal(jstr(itest_accelerator(list, "0000:2a:00.0"), "hold_reason"), "Xid 79");
        json_decref(list);

        assert_arkctl(&H, 0, NULL, "accelerator", "release", "0000:db:00.0");
        assert_arkctl(&H, 0, NULL, "accelerator", "release", "0000:db:00.0"); /* nothing held: as asked */
        assert_arkctl(&H, 0, NULL, "accelerator", "release", "0000:2a:00.0");
        list = accelerators();
        assert_string_equal(claim_state(list, "0000:db:00.0"), "free");
        assert_string_equal(claim_state(list, "0000:2a:00.0"), "claimed");
        json_decref(list);
        assert_arkctl(&H, 0, NULL, "vm", "create", "v2", "--tenant", "risk", "--vcpus", "1", "--memory",
                      "1G", "--gpu", "0000:db:00.0");
}

/* ReservedAccelerators= and VfioAtBoot= from the configuration, and a released GPU returned to its
 * host driver; on a private copy of the fixture, where the writes to sysfs land in files. */
static void test_config_and_vfio(void **state) {
        _cleanup_free_ char *conf = strprintf("%s/hw.conf", H.tmp), *out = NULL, *err = NULL, *text = NULL;
        json_t *list;

        assert_int_equal(harness_stop_arkd(&H, SIGTERM), 0);
        assert_int_equal(harness_writable_sysfs(&H), 0);
        assert_int_equal(
                write_string_file(conf,
                                  "[Hardware]\nReservedAccelerators=0000:db:00.0\nVfioAtBoot=0000:ba:00.0\n",
                                  WRITE_CREATE),
                0);
        /* 9a:00.0 was left on vfio-pci (a VM that crashed, or bound by hand); ab:00.0 had fatal
         * PCIe errors. */
        assert_int_equal(harness_sh(&out, &err,
                                    "ln -sfn ../../../../bus/pci/drivers/vfio-pci "
                                    "'%s/sys/bus/pci/devices/0000:9a:00.0/driver' && "
                                    "sed -i 's/^TOTAL_ERR_FATAL 0/TOTAL_ERR_FATAL 2/' "
                                    "'%s/sys/bus/pci/devices/0000:ab:00.0/aer_dev_fatal'",
                                    H.sysfs_root, H.sysfs_root),
                         0);
        assert_int_equal(harness_start_arkd(&H, "--config", conf, NULL), 0);

        list = accelerators();
        assert_string_equal(claim_state(list, "0000:db:00.0"), "reserved");
        assert_non_null(strstr(jstr(itest_accelerator(list, "0000:db:00.0"), "hold_reason"),
                               "ReservedAccelerators="));
        json_decref(list);
        assert_arkctl(&H, 1, "reserved by ReservedAccelerators= in the configuration", "accelerator",
                      "release", "0000:db:00.0");
        /* Unhealthy: shown so, and not handed out. */
        list = accelerators();
        assert_string_equal(claim_state(list, "0000:ab:00.0"), "unhealthy");
        json_decref(list);
        assert_arkctl(
                &H, 1,
                "0000:ab:00.0 (NVIDIA H100 SXM5 80GB) is unhealthy: 2 fatal PCIe errors reported since boot",
                "vm", "create", "sick", "--tenant", "risk", "--vcpus", "1", "--memory", "1G", "--gpu",
                "0000:ab:00.0");

        /* VfioAtBoot: override, unbind from nvidia, probe. */
        out = mfree(out);
        err = mfree(err);
        assert_int_equal(harness_sh(&out, &err,
                                    "head -c 8 '%s/sys/bus/pci/devices/0000:ba:00.0/driver_override'; echo; "
                                    "cat '%s/sys/bus/pci/drivers/nvidia/unbind'; echo",
                                    H.sysfs_root, H.sysfs_root),
                         0);
        assert_string_equal(out, "vfio-pci\n0000:ba:00.0\n");

        /* Released: back to the host driver, unless it is a VfioAtBoot device. */
        assert_arkctl(&H, 0, NULL, "vm", "create", "v1", "--tenant", "risk", "--vcpus", "1", "--memory",
                      "1G", "--gpu", "0000:9a:00.0", "--gpu", "0000:ba:00.0");
        assert_arkctl(&H, 0, NULL, "vm", "delete", "v1");
        text = strprintf("%s/sys/bus/pci/drivers/vfio-pci/unbind", H.sysfs_root);
        out = mfree(out);
        assert_int_equal(read_full_file(text, &out, NULL), 0);
        assert_string_equal(out, "0000:9a:00.0");
        free(text);
        text = strprintf("%s/sys/bus/pci/devices/0000:9a:00.0/driver_override", H.sysfs_root);
        out = mfree(out);
        assert_int_equal(read_full_file(text, &out, NULL), 0);
        assert_int_equal(out[0], '\n');
        /* The repository's fixture is untouched. */
        free(text);
        text = strprintf("%s/sysfs/sys/bus/pci/devices/0000:ba:00.0/driver_override", H.fixture);
        out = mfree(out);
        assert_int_equal(read_full_file(text, &out, NULL), 0);
        assert_string_equal(out, "(null)\n");
}

/* [Placement]: the policy, seed and workload arkd places GPU VMs by; a workload file it cannot
 * parse stops it from starting, naming the file, line and field. */
static void test_placement_config(void **state) {
        _cleanup_free_ char *wl = strprintf("%s/workload.csv", H.tmp), *bad = strprintf("%s/bad.csv", H.tmp),
                            *conf = strprintf("[Placement]\nPolicy=first-fit\nSeed=0\nWorkload=%s\n", wl),
                            *bad_conf = strprintf("[Placement]\nWorkload=%s\n", bad), *log = NULL;
        json_t *gpus;

        /* Ark's policy: with a GPU of NUMA node 1 taken, the next single GPU comes from NUMA node 1
         * too, which keeps NUMA node 0 whole. */
        assert_arkctl(&H, 0, NULL, "vm", "create", "one", "--tenant", "risk", "--vcpus", "1", "--memory",
                      "1G", "--gpu", "0000:9a:00.0");
        assert_arkctl(&H, 0, NULL, "vm", "create", "by-ark", "--tenant", "risk", "--vcpus", "1", "--memory",
                      "1G", "--gpus", "1");
        gpus = vm_gpus("by-ark");
        assert_string_equal(json_string_value(json_array_get(gpus, 0)), "0000:ab:00.0");
        json_decref(gpus);
        assert_arkctl(&H, 0, NULL, "vm", "delete", "by-ark");

        /* First fit, with a workload file: the first free GPU of the first NUMA node. */
        assert_int_equal(write_string_file(wl,
                                           "cpu_milli,num_gpu,gpu_milli,gpu_spec,weight\n"
                                           "8000,1,1000,,3\n16000,2,1000,NVIDIA H100 SXM5 80GB,1\n",
                                           WRITE_CREATE),
                         0);
        assert_int_equal(harness_stop_arkd(&H, SIGTERM), 0);
        H.extra_conf = conf;
        assert_int_equal(harness_start_arkd(&H, NULL), 0);
        assert_arkctl(&H, 0, NULL, "vm", "create", "by-first-fit", "--tenant", "risk", "--vcpus", "1",
                      "--memory", "1G", "--gpus", "1");
        gpus = vm_gpus("by-first-fit");
        assert_string_equal(json_string_value(json_array_get(gpus, 0)), "0000:18:00.0");
        json_decref(gpus);

        /* A workload arkd cannot parse: it does not start, and says where. */
        assert_int_equal(write_string_file(bad,
                                           "cpu_milli,num_gpu,gpu_milli,gpu_spec,weight\n1000,1,1000,,0\n",
                                           WRITE_CREATE),
                         0);
        assert_int_equal(harness_stop_arkd(&H, SIGTERM), 0);
        H.extra_conf = bad_conf;
        assert_int_equal(harness_start_arkd(&H, NULL), -1);
        H.extra_conf = NULL;
        assert_int_equal(read_full_file(H.arkd_log, &log, NULL), 0);
        if (!strstr(log, "Invalid placement workload ([Placement] Workload=): ") ||
            !strstr(log, "bad.csv:2: weight: '0'"))
                fail_msg("arkd's log does not say what is wrong with the workload:\n%s", log);
}

static char *instance_uuid(const char *name) {
        json_t *j = harness_arkctl_json(&H, "vm", "show", name, NULL);
        char *id;

        assert_non_null(j);
        id = strdup(jstr(j, "id"));
        json_decref(j);
        return id;
}

static const char *hostdev_xml(const char *bus) {
        static char buf[256];
        snprintf(
                buf, sizeof(buf),
                "<devices><hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' "
                "bus='0x%s' slot='0x00' function='0x0'/></source></hostdev></devices>",
                bus);
        return buf;
}

/* Claims re-derived from the hypervisor's domains: a domain (Ark's, an orphan, a foreign one) that
 * passes through a GPU the store does not give it, and an instance whose domain lacks a GPU it
 * claims, are reported as conflicts (log, Conflicts, arkctl status) and nothing is changed. */
static void test_conflicts_from_domains(void **state) {
        _cleanup_free_ char *hostxml = NULL, *orig = NULL, *patched = NULL, *uri = NULL, *status = NULL,
                            *plain_id = NULL, *gpu_id = NULL, *domains = NULL, *h1 = NULL;
        json_t *j, *c, *list, *gpus;
        char *close_tag;
        size_t k;

        assert_arkctl(&H, 0, NULL, "vm", "create", "plain", "--tenant", "risk", "--vcpus", "1", "--memory",
                      "1G");
        assert_arkctl(&H, 0, NULL, "vm", "create", "withgpu", "--tenant", "risk", "--vcpus", "1", "--memory",
                      "1G", "--gpu", "0000:2a:00.0");
        plain_id = instance_uuid("plain");
        gpu_id = instance_uuid("withgpu");
        assert_int_equal(harness_stop_arkd(&H, SIGTERM), 0);

        /* The hypervisor's view after a restart, as a real libvirtd would keep it: 'plain' passes
         * through 18:00.0 (handed to it outside Ark), 'withgpu' lost its hostdev, an orphan holds
         * 2a:00.0 (which 'withgpu' claims), a foreign domain holds 3a:00.0. */
        h1 = strdup(hostdev_xml("18"));
        domains = strprintf(
                "<domain type='test'><name>plain</name><uuid>%s</uuid><memory>1048576</memory><vcpu>1</vcpu>"
                "<os><type arch='x86_64'>hvm</type></os>%s</domain>"
                "<domain type='test'><name>withgpu</name><uuid>%s</uuid><memory>1048576</memory><vcpu>1</vcpu>"
                "<os><type arch='x86_64'>hvm</type></os></domain>"
                "<domain type='test'><name>ghost</name><uuid>5e1f1c1a-0000-4000-8000-00000000beef</uuid>"
                "<metadata><ark:instance xmlns:ark='https://ark.dev/xmlns/instance/1'><ark:tenant>gone</ark:tenant>"
                "<ark:id>5e1f1c1a-0000-4000-8000-00000000beef</ark:id></ark:instance></metadata>"
                "<memory>524288</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os>%s</domain>",
                plain_id, h1, gpu_id, hostdev_xml("2a"));
        free(h1);
        h1 = strprintf("%s<domain type='test'><name>foreign</name><memory>524288</memory><vcpu>1</vcpu>"
                       "<os><type arch='x86_64'>hvm</type></os>%s</domain>",
                       domains, hostdev_xml("3a"));
        hostxml = strprintf("%s/host.xml", H.fixture);
        assert_int_equal(read_full_file(hostxml, &orig, NULL), 0);
        close_tag = strstr(orig, "</node>");
        assert_non_null(close_tag);
        *close_tag = 0;
        patched = strprintf("%s%s</node>\n", orig, h1);
        uri = strprintf("%s/host-with-domains.xml", H.tmp);
        assert_int_equal(write_string_file(uri, patched, WRITE_CREATE), 0);
        free(H.libvirt_uri);
        H.libvirt_uri = strprintf("test://%s", uri);
        assert_int_equal(harness_start_arkd(&H, NULL), 0);

        j = harness_arkctl_json(&H, "status", NULL);
        assert_non_null(j);
        c = json_object_get(j, "conflicts");
        {
                static const char *const want[] = {
                        "domain 'plain' passes through 0000:18:00.0, which the store does not give instance 'plain'",
                        "instance 'withgpu' claims 0000:2a:00.0, but its domain on the hypervisor does not pass it",
                        "orphan domain 'ghost' passes through 0000:2a:00.0, which is claimed by instance 'withgpu'",
                        "the non-Ark domain 'foreign' passes through 0000:3a:00.0",
                };
                for (size_t w = 0; w < ELEMENTSOF(want); w++) {
                        bool found = false;
                        json_t *e;

                        json_array_foreach(c, k, e)
                                found = found ||
                                        strstr(strempty(json_string_value(json_object_get(e, "message"))),
                                               want[w]);
                        if (!found)
                                fail_msg("conflict '%s' not reported; got %s", want[w], json_dumps(c, 0));
                }
                assert_int_equal(json_array_size(c), ELEMENTSOF(want));
        }
        json_decref(j);
        status = itest_arkctl_expect(&H, 0, NULL, "status", NULL);
        assert_non_null(strstr(status, "Conflicts: "));
        assert_non_null(strstr(status, "then 'arkctl reconcile'"));
        /* Reconciling again finds the same, and says so. */
        free(status);
        status = itest_arkctl_expect(&H, 0, NULL, "reconcile", NULL);
        assert_non_null(strstr(status, "the non-Ark domain 'foreign' passes through 0000:3a:00.0"));
        /* Reported, not resolved: the claims are as the store has them; but a GPU another domain
         * holds is not handed out (it would then be in two VMs). */
        list = accelerators();
        assert_string_equal(jstr(itest_accelerator(list, "0000:2a:00.0"), "claimed_by"), "withgpu");
        assert_string_equal(claim_state(list, "0000:18:00.0"), "conflict");
        assert_string_equal(claim_state(list, "0000:3a:00.0"), "conflict");
        json_decref(list);
        assert_arkctl(
                &H, 1,
                "0000:18:00.0 (NVIDIA H100 SXM5 80GB) is passed through by the Ark domain 'plain' although "
                "no claim gives it there",
                "vm", "create", "x", "--tenant", "risk", "--vcpus", "1", "--memory", "1G", "--gpu",
                "0000:18:00.0");
        /* Five of eight can go: not 18 and 3a (held by domains), not 2a (claimed). */
        assert_arkctl(&H, 1, "6 asked for, 5 can be given out", "vm", "create", "x", "--tenant", "risk",
                      "--vcpus", "1", "--memory", "1G", "--gpus", "6");
        assert_arkctl(&H, 0, NULL, "vm", "create", "x", "--tenant", "risk", "--vcpus", "1", "--memory", "1G",
                      "--gpus", "5");
        gpus = vm_gpus("x");
        for (k = 0; k < json_array_size(gpus); k++) {
                const char *g = json_string_value(json_array_get(gpus, k));
                assert_false(streq(g, "0000:18:00.0") || streq(g, "0000:3a:00.0") ||
                             streq(g, "0000:2a:00.0"));
        }
        json_decref(gpus);
        /* host check says it and what to do. */
        free(status);
        status = NULL;
        {
                _cleanup_free_ char *err = NULL;
                assert_int_equal(
                        harness_sh(
                                &status, &err,
                                "COLUMNS=200 ARK_BUS_ADDRESS='%s' '%s/bin/arkctl' host check 0000:3a:00.0",
                                H.bus_address, harness_build_dir()),
                        1);
                assert_non_null(strstr(status, "passed through by the non-Ark domain 'foreign'"));
        }
}

/* GPUs added to and removed from a stopped VM: claims and domain change together; a running VM
 * is refused; a removed GPU is free again; the change survives kill -9. */
static void test_gpu_add_remove(void **state) {
        _cleanup_free_ char *xml = NULL, *msg = NULL, *path = NULL;
        json_t *gpus, *list;

        assert_arkctl(&H, 0, NULL, "vm", "create", "grow", "--tenant", "risk", "--vcpus", "4", "--memory",
                      "8G");
        assert_arkctl(&H, 0, "VM 'grow' has GPUs 0000:18:00.0, 0000:2a:00.0.", "vm", "gpu", "add", "grow",
                      "--gpu", "0000:2a:00.0", "--gpu", "0000:18:00.0");
        assert_arkctl(&H, 0, NULL, "vm", "gpu", "add", "grow", "--gpus", "1");
        gpus = vm_gpus("grow");
        assert_int_equal(json_array_size(gpus), 3);
        json_decref(gpus);
        xml = itest_arkctl_expect(&H, 0, NULL, "vm", "show", "grow", "--xml", NULL);
        assert_non_null(strstr(xml, "<controller type='pci' index='3' model='pcie-root-port'/>"));
        assert_non_null(strstr(xml, "<loader readonly='yes' type='pflash'>"));
        validate_xml(xml);

        /* Running: refused, nothing changed. */
        assert_arkctl(&H, 0, NULL, "vm", "start", "grow");
        assert_arkctl(&H, 1, "stop it before adding its GPUs", "vm", "gpu", "add", "grow", "--gpus", "1");
        assert_arkctl(&H, 1, "stop it before removing its GPUs", "vm", "gpu", "remove", "grow", "--all");
        assert_arkctl(&H, 0, NULL, "vm", "stop", "grow");

        /* Usage and bad input. */
        assert_arkctl(&H, 2, "needs --gpu ADDRESS... or --all", "vm", "gpu", "remove", "grow");
        assert_arkctl(&H, 2, "takes add or remove", "vm", "gpu", "swap", "grow");
        assert_arkctl(&H, 1, "has GPU 0000:18:00.0 already", "vm", "gpu", "add", "grow", "--gpu",
                      "0000:18:00.0");
        assert_arkctl(&H, 1, "0000:db:00.0 is not one of the GPUs of instance 'grow'", "vm", "gpu", "remove",
                      "grow", "--gpu", "0000:db:00.0");
        path = harness_instance_path(&H, "grow");
        assert_non_null(path);
        msg = itest_call_expect_error(&H, path, ARK_BUS_IFACE_INSTANCE, "AddGPUs", ARK_ERROR_NO_CAPACITY,
                                      "usas", 6, "", 0);
        assert_non_null(strstr(msg, "6 asked for, 5 can be given out (3 claimed by VMs"));

        assert_arkctl(&H, 0, "VM 'grow' has GPUs 0000:2a:00.0", "vm", "gpu", "remove", "grow", "--gpu",
                      "0000:18:00.0");
        list = accelerators();
        assert_string_equal(claim_state(list, "0000:18:00.0"), "free");
        assert_string_equal(jstr(itest_accelerator(list, "0000:2a:00.0"), "claimed_by"), "grow");
        json_decref(list);

        /* The store has it: kill -9 and back. */
        assert_int_equal(harness_stop_arkd(&H, SIGKILL), 128 + SIGKILL);
        assert_int_equal(harness_start_arkd(&H, NULL), 0);
        gpus = vm_gpus("grow");
        assert_int_equal(json_array_size(gpus), 2);
        json_decref(gpus);

        assert_arkctl(&H, 0, "VM 'grow' has no GPUs.", "vm", "gpu", "remove", "grow", "--all");
        free(xml);
        xml = itest_arkctl_expect(&H, 0, NULL, "vm", "show", "grow", "--xml", NULL);
        assert_null(strstr(xml, "<hostdev"));
        /* Its firmware stays: the guest installed under UEFI still boots (and it survived kill -9). */
        assert_non_null(strstr(xml, "<loader readonly='yes' type='pflash'>"));
        /* A VM created without GPUs, with a disk, boots BIOS: adding GPUs would change that. */
        assert_arkctl(&H, 0, NULL, "vm", "create", "bios", "--tenant", "risk", "--vcpus", "1", "--memory",
                      "1G", "--disk", "1G");
        assert_arkctl(&H, 1, "boots BIOS (it was created without GPUs)", "vm", "gpu", "add", "bios",
                      "--gpus", "1");
        list = accelerators();
        for (size_t k = 0; k < json_array_size(list); k++)
                assert_string_equal(jstr(json_array_get(list, k), "claim_state"), "free");
        json_decref(list);
}

/* VfioAtBoot= on a GPU whose group holds the management NIC: nothing is unbound (the host keeps
 * its network), and the log says why. */
static void test_vfio_at_boot_blocked(void **state) {
        _cleanup_free_ char *conf = strprintf("%s/hw.conf", H.tmp), *unbind = NULL, *log = NULL,
                            *file = NULL;

        assert_int_equal(harness_stop_arkd(&H, SIGTERM), 0);
        assert_int_equal(harness_writable_sysfs(&H), 0);
        assert_int_equal(
                write_string_file(conf, "[Hardware]\nVfioAtBoot=0000:06:00.0 0000:17:00.0\n", WRITE_CREATE),
                0);
        assert_int_equal(harness_start_arkd(&H, "--config", conf, NULL), 0);
        file = strprintf("%s/sys/bus/pci/drivers/igc/unbind", H.sysfs_root);
        assert_int_equal(read_full_file(file, &unbind, NULL), 0);
        assert_string_equal(unbind, "");
        assert_int_equal(read_full_file(H.arkd_log, &log, NULL), 0);
        assert_non_null(
                strstr(log,
                       "VfioAtBoot=: not binding 0000:06:00.0 to vfio-pci: 0000:06:00.0 (NVIDIA GeForce "
                       "RTX 2080 Ti) cannot be passed through: its IOMMU group 1 also holds 0000:05:00.0"));
        /* The other GPU, whose group is its own, is bound with all its functions. */
        free(file);
        free(unbind);
        file = strprintf("%s/sys/bus/pci/drivers/snd_hda_intel/unbind", H.sysfs_root);
        assert_int_equal(read_full_file(file, &unbind, NULL), 0);
        assert_string_equal(unbind, "0000:17:00.1");
}

/* What host check says is not ready stops a GPU VM before anything is created: a host without
 * interrupt remapping, a GPU the kernel cannot reset. */
static void test_not_ready_refused(void **state) {
        _cleanup_free_ char *out = NULL, *err = NULL, *msg = NULL;

        assert_int_equal(harness_stop_arkd(&H, SIGTERM), 0);
        assert_int_equal(harness_writable_sysfs(&H), 0);
        assert_int_equal(harness_sh(&out, &err,
                                    ": > '%s/sys/bus/pci/devices/0000:2a:00.0/reset_method'; "
                                    "rm -f '%s/sys/bus/pci/devices/0000:2a:00.0/reset'",
                                    H.sysfs_root, H.sysfs_root),
                         0);
        assert_int_equal(harness_start_arkd(&H, NULL), 0);
        assert_arkctl(
                &H, 1,
                "0000:2a:00.0 (NVIDIA H100 SXM5 80GB) cannot be passed through: the kernel knows no way to "
                "reset it",
                "vm", "create", "x", "--tenant", "risk", "--vcpus", "1", "--memory", "1G", "--gpu",
                "0000:2a:00.0");
        assert_arkctl(&H, 1, "8 asked for, 7 can be given out", "vm", "create", "x", "--tenant", "risk",
                      "--vcpus", "1", "--memory", "1G", "--gpus", "8");

        /* Interrupt remapping off on every VT-d unit: no GPU VM at all, NotReady, with the remedy. */
        assert_int_equal(harness_stop_arkd(&H, SIGTERM), 0);
        out = mfree(out);
        err = mfree(err);
        assert_int_equal(harness_sh(&out, &err,
                                    "for f in '%s'/sys/devices/virtual/iommu/*/intel-iommu/ecap; do "
                                    "echo f02056 > \"$f\"; done",
                                    H.sysfs_root),
                         0);
        assert_int_equal(harness_start_arkd(&H, NULL), 0);
        msg = itest_call_expect_error(&H, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "CreateInstance",
                                      ARK_ERROR_NOT_READY, "a{sv}", 5, "Name", "s", "x", "Tenant", "s",
                                      "risk", "VCPUs", "u", 1, "MemoryBytes", "t", UINT64_C(1) << 30, "GPUs",
                                      "u", 1);
        assert_non_null(strstr(msg, "cannot remap interrupts"));
        assert_non_null(strstr(msg, "Interrupt Remapping"));
        /* VMs without GPUs do not care. */
        assert_arkctl(&H, 0, NULL, "vm", "create", "plain", "--tenant", "risk", "--vcpus", "1", "--memory",
                      "1G");
        assert_int_equal(itest_get_u32(&H, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "NInstances"), 1);
}

/* How many GPUs `arkctl host accelerators` shows as claimed. */
static unsigned count_claimed(void) {
        json_t *list = accelerators();
        unsigned n = 0;

        for (size_t k = 0; k < json_array_size(list); k++)
                n += streq(jstr(json_array_get(list, k), "claim_state"), "claimed");
        json_decref(list);
        return n;
}

typedef struct Race {
        unsigned done, won, no_capacity, quota, exists, other;
        char other_error[256];
} Race;

static int on_create_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Race *r = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);

        r->done++;
        if (!e)
                r->won++;
        else if (sd_bus_error_has_name(e, ARK_ERROR_NO_CAPACITY))
                r->no_capacity++;
        else if (sd_bus_error_has_name(e, ARK_ERROR_QUOTA_EXCEEDED))
                r->quota++;
        else if (sd_bus_error_has_name(e, ARK_ERROR_ALREADY_EXISTS))
                r->exists++;
        else {
                r->other++;
                snprintf(r->other_error, sizeof(r->other_error), "%s: %s", strna(e->name),
                         strna(e->message));
        }
        return 0;
}

/* Sends `n` CreateInstance calls for GPU VMs of `tenant` at once, each on a connection of its
 * own, before any reply is read, and waits for the replies (or returns early when `stop_after`
 * replies have come, leaving the rest in flight). Names are prefix-K, or all `prefix` when
 * same_name. */
static void race_as(unsigned n, const char *prefix, const char *tenant, bool same_name, uint32_t gpus,
                    unsigned stop_after, Race *r) {
        sd_bus *buses[64] = {};
        sd_bus_slot *slots[64] = {};

        assert_true(n <= ELEMENTSOF(buses));
        *r = (Race) {};
        for (unsigned k = 0; k < n; k++) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
                char name[32];

                if (same_name)
                        snprintf(name, sizeof(name), "%s", prefix);
                else
                        snprintf(name, sizeof(name), "%s-%u", prefix, k);
                assert_true(sd_bus_new(&buses[k]) >= 0);
                assert_true(sd_bus_set_address(buses[k], H.bus_address) >= 0);
                assert_true(sd_bus_set_bus_client(buses[k], 1) >= 0);
                assert_true(sd_bus_start(buses[k]) >= 0);
                assert_true(sd_bus_message_new_method_call(buses[k], &m, ARK_BUS_NAME, ARK_BUS_PATH,
                                                           ARK_BUS_IFACE_MANAGER, "CreateInstance") >= 0);
                assert_true(sd_bus_message_append(m, "a{sv}", 6, "Name", "s", name, "Tenant", "s", tenant,
                                                  "VCPUs", "u", 1, "MemoryBytes", "t", UINT64_C(1) << 30,
                                                  "GPUs", "u", gpus, "DiskBytes", "t",
                                                  UINT64_C(1) << 30) >= 0);
                assert_true(sd_bus_call_async(buses[k], &slots[k], m, on_create_reply, r,
                                              120 * 1000000ULL) >= 0);
        }
        while (r->done < n && (stop_after == 0 || r->done < stop_after)) {
                bool progress = false;

                for (unsigned k = 0; k < n; k++)
                        while (sd_bus_process(buses[k], NULL) > 0)
                                progress = true;
                if (!progress)
                        (void) sd_bus_wait(buses[0], 20000);
        }
        for (unsigned k = 0; k < n; k++) {
                sd_bus_slot_unref(slots[k]);
                sd_bus_flush_close_unref(buses[k]);
        }
}

static void race(unsigned n, const char *prefix, uint32_t gpus, unsigned stop_after, Race *r) {
        race_as(n, prefix, "risk", false, gpus, stop_after, r);
}

/* The last free GPU, asked for by twelve requests at once: exactly one wins, eleven get NoCapacity
 * (by error name), and it is claimed once. */
static void test_race_last_gpu(void **state) {
        Race r;

        assert_arkctl(&H, 0, NULL, "vm", "create", "big", "--tenant", "risk", "--vcpus", "8", "--memory",
                      "8G", "--gpus", "7");
        race(12, "last", 1, 0, &r);
        if (r.other > 0)
                fail_msg("unexpected reply: %s", r.other_error);
        assert_int_equal(r.won, 1);
        assert_int_equal(r.no_capacity, 11);
        assert_int_equal(count_claimed(), 8);
        assert_int_equal(itest_get_u32(&H, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "NInstances"), 2);
}

/* kill -9 while nine GPU VMs are being created: after the restart every instance has its GPU and
 * its disk, no GPU is claimed twice, nothing is claimed by nobody, no disk is left over and no
 * conflict is reported. */
static void test_kill9_mid_workload(void **state) {
        _cleanup_free_ char *disks = strprintf("%s/disks", H.state_dir), *out = NULL, *err = NULL,
                            *orphans = NULL;
        json_t *list, *vms, *v;
        unsigned n_vms;
        size_t k;
        Race r;

        race(9, "mid", 1, 2, &r);
        assert_true(r.won >= 1);
        assert_int_equal(harness_stop_arkd(&H, SIGKILL), 128 + SIGKILL);
        assert_int_equal(harness_start_arkd(&H, NULL), 0);

        vms = harness_arkctl_json(&H, "vm", "list", NULL);
        assert_non_null(vms);
        n_vms = (unsigned) json_array_size(vms);
        assert_true(n_vms >= r.won && n_vms <= 9);
        json_array_foreach(vms, k, v) {
                json_t *g = vm_gpus(json_string_value(json_object_get(v, "name")));
                assert_int_equal(json_array_size(g), 1);
                json_decref(g);
        }
        json_decref(vms);
        assert_int_equal(count_claimed(), n_vms);
        /* Every claim has its instance; every disk its instance. */
        assert_int_equal(harness_sh(&out, &err,
                                    "sqlite3 '%s/ark.db' 'SELECT count(*) FROM claims WHERE instance_id NOT "
                                    "IN (SELECT id FROM instances)'; ls '%s' | wc -l",
                                    H.state_dir, disks),
                         0);
        {
                unsigned dangling = 99, files = 99;
                assert_int_equal(sscanf(out, "%u %u", &dangling, &files), 2);
                assert_int_equal(dangling, 0);
                assert_int_equal(files, n_vms);
        }
        list = harness_arkctl_json(&H, "status", NULL);
        assert_int_equal(json_array_size(json_object_get(list, "conflicts")), 0);
        json_decref(list);
}

/* Tenant quotas: a limit of two GPUs lets two one-GPU VMs in and refuses the third with a sentence
 * that says so, and adding a GPU to a VM; the quota survives a restart; a guarantee beyond the
 * host and a limit below what the tenant uses are refused; a tenant without a quota is not held
 * back by another's. */
static void test_quota_limit(void **state) {
        json_t *q, *row;
        size_t k;
        bool seen = false;

        assert_arkctl(&H, 0, "Set quota gpus=2 on tenant 'risk'.", "tenant", "quota", "set", "risk",
                      "gpus=2");
        assert_arkctl(&H, 0, NULL, "vm", "create", "a", "--tenant", "risk", "--vcpus", "1", "--memory", "1G",
                      "--gpus", "1");
        assert_arkctl(&H, 0, NULL, "vm", "create", "b", "--tenant", "risk", "--vcpus", "1", "--memory", "1G",
                      "--gpus", "1");
        assert_arkctl(&H, 1, "Tenant 'risk' would use 3 of its 2 GPUs (it uses 2 now).", "vm", "create", "c",
                      "--tenant", "risk", "--vcpus", "1", "--memory", "1G", "--gpus", "1");
        assert_arkctl(&H, 1, "Tenant 'risk' would use 3 of its 2 GPUs", "vm", "gpu", "add", "a", "--gpus",
                      "1");
        assert_arkctl(&H, 1, "does not exist", "vm", "show", "c");
        /* A VM without GPUs is not held back by the GPU quota. */
        assert_arkctl(&H, 0, NULL, "vm", "create", "d", "--tenant", "risk", "--vcpus", "1", "--memory",
                      "1G");

        /* Model quotas and byte quotas. */
        assert_arkctl(&H, 0, NULL, "tenant", "quota", "set", "risk", "gpus:H100=1..2", "memory=3G");
        assert_arkctl(&H, 1, "Tenant 'risk' would use 4 GiB of its 3 GiB memory", "vm", "create", "e",
                      "--tenant", "risk", "--vcpus", "1", "--memory", "1G");

        /* Survives a restart. */
        assert_int_equal(harness_stop_arkd(&H, SIGTERM), 0);
        assert_int_equal(harness_start_arkd(&H, NULL), 0);
        q = harness_arkctl_json(&H, "tenant", "quota", "show", "risk", NULL);
        assert_non_null(q);
        json_array_foreach(q, k, row)
                if (streq(jstr(row, "resource"), "gpus") && streq(jstr(row, "model"), "H100")) {
                        assert_int_equal(json_integer_value(json_object_get(row, "used")), 2);
                        assert_int_equal(json_integer_value(json_object_get(row, "guarantee")), 1);
                        assert_int_equal(json_integer_value(json_object_get(row, "limit")), 2);
                        seen = true;
                }
        assert_true(seen);
        json_decref(q);
        assert_arkctl(&H, 1, "would use 3 of its 2 GPUs", "vm", "create", "c", "--tenant", "risk", "--vcpus",
                      "1", "--memory", "1G", "--gpus", "1");

        /* Refusals: above the limit now, a guarantee above the limit or the host, bad input. */
        assert_arkctl(&H, 1, "uses 2 GPUs now, above the limit of 1", "tenant", "quota", "set", "risk",
                      "gpus=1");
        assert_arkctl(&H, 1, "is above the limit", "tenant", "quota", "set", "risk", "gpus=3..2");
        assert_arkctl(&H, 0, NULL, "tenant", "create", "ml");
        assert_arkctl(&H, 0, NULL, "tenant", "quota", "set", "ml", "gpus=6..8");
        assert_arkctl(&H, 1, "would promise 9 in all, and this host has 8", "tenant", "quota", "set", "risk",
                      "gpus=3..4");
        /* Guarantees of different models add up too (ml 6 of any GPU + risk 3 H100s > 8)... */
        assert_arkctl(&H, 1,
                      "would promise 9 GPUs in all (guarantees of every model add up), and this host has 8",
                      "tenant", "quota", "set", "risk", "gpus:H100=3..3");
        /* ...and a quarantined GPU cannot be promised. */
        assert_arkctl(&H, 0, NULL, "accelerator", "quarantine", "0000:db:00.0");
        assert_arkctl(&H, 1,
                      "would promise 8 GPUs in all (guarantees of every model add up), and this host has 7",
                      "tenant", "quota", "set", "risk", "gpus:H100=2..2");
        assert_arkctl(&H, 0, NULL, "accelerator", "release", "0000:db:00.0");
        assert_arkctl(&H, 1, "Unknown quota resource 'tpus'", "tenant", "quota", "set", "risk", "tpus=1");
        assert_arkctl(&H, 1, "Only the gpus quota can name a GPU model", "tenant", "quota", "set", "risk",
                      "vcpus:H100=1");
        assert_arkctl(&H, 2, "is not RESOURCE[:MODEL]", "tenant", "quota", "set", "risk", "gpus");
        assert_arkctl(&H, 2, "'lots' is not a whole number", "tenant", "quota", "set", "risk", "gpus=lots");
        /* ml has a quota of its own; risk's does not hold it back. */
        assert_arkctl(&H, 0, NULL, "vm", "create", "m", "--tenant", "ml", "--vcpus", "1", "--memory", "1G",
                      "--gpus", "3");
        /* Removing the limit lets risk grow again, but not into what ml is guaranteed and does
         * not use (3 of its 6, and 3 GPUs are free): only a preemptible instance may borrow that. */
        assert_arkctl(&H, 0, NULL, "tenant", "quota", "set", "risk", "gpus=none", "gpus:H100=none",
                      "memory=none");
        assert_arkctl(&H, 1, "The free GPUs are guaranteed to other tenants", "vm", "create", "c",
                      "--tenant", "risk", "--vcpus", "1", "--memory", "1G", "--gpus", "1");
        assert_arkctl(&H, 0, NULL, "vm", "create", "c", "--tenant", "risk", "--vcpus", "1", "--memory", "1G",
                      "--gpus", "1", "--preemptible");
}

static unsigned count_state(const char *tenant, const char *state) {
        json_t *list = harness_arkctl_json(&H, "vm", "list", "--tenant", tenant, NULL), *v;
        unsigned n = 0;
        size_t k;

        assert_non_null(list);
        json_array_foreach(list, k, v)
                n += streq(json_string_value(json_object_get(v, "state")), state);
        json_decref(list);
        return n;
}

static json_t *vm_show(const char *name) {
        json_t *j = harness_arkctl_json(&H, "vm", "show", name, NULL);
        assert_non_null(j);
        return j;
}

static void assert_vm(const char *name, const char *state, size_t n_gpus, const char *reason_part) {
        json_t *j = vm_show(name);

        if (!streq(jstr(j, "state"), state) || json_array_size(json_object_get(j, "gpus")) != n_gpus ||
            (reason_part && !strstr(jstr(j, "state_reason"), reason_part)))
                fail_msg("VM %s: state %s (%s), %zu GPUs; expected %s, %zu GPUs%s%s", name, jstr(j, "state"),
                         jstr(j, "state_reason"), json_array_size(json_object_get(j, "gpus")), state, n_gpus,
                         reason_part ? ", reason with " : "", strempty(reason_part));
        json_decref(j);
}

static void create_gpu_vm(const char *name, const char *tenant, const char *gpus, bool preemptible) {
        assert_arkctl(&H, 0, NULL, "vm", "create", name, "--tenant", tenant, "--vcpus", "1", "--memory",
                      "1G", "--gpus", gpus, "--start", preemptible ? "--preemptible" : NULL, NULL);
}

/* Borrowing and reclaim: research is guaranteed 4 of the 8 GPUs and idle; risk takes 4 for good,
 * retail borrows research's 4 with preemptible VMs; research asks for its GPUs back, 2 and then
 * 2, and gets them from the youngest borrowers first; nothing non-preemptible is ever stopped,
 * and the audit log says why each borrower stopped. */
static void test_preemption(void **state) {
        json_t *rows, *r;
        size_t k, preempt_rows = 0;
        const char *order[4];

        assert_arkctl(&H, 0, NULL, "tenant", "create", "research");
        assert_arkctl(&H, 0, NULL, "tenant", "create", "retail");
        assert_arkctl(&H, 0, NULL, "tenant", "quota", "set", "research", "gpus=4..8");

        create_gpu_vm("risk-big", "risk", "4", false);
        /* The 4 GPUs left are research's: not for anything that cannot give them back. */
        assert_arkctl(&H, 1, "The free GPUs are guaranteed to other tenants", "vm", "create", "risk-more",
                      "--tenant", "risk", "--vcpus", "1", "--memory", "1G", "--gpus", "1");
        assert_arkctl(&H, 1, "only a preemptible instance may borrow them", "vm", "create", "retail-x",
                      "--tenant", "retail", "--vcpus", "1", "--memory", "1G", "--gpus", "1");
        create_gpu_vm("p1", "retail", "1", true);
        create_gpu_vm("p2", "retail", "1", true);
        create_gpu_vm("p3", "retail", "1", true);
        create_gpu_vm("p4", "retail", "1", true);
        assert_arkctl(&H, 0, "Preemptible", "vm", "show", "p1");
        /* The host is full; retail, with no guarantee, cannot take more. */
        assert_arkctl(&H, 1, "Not enough free GPUs", "vm", "create", "p5", "--tenant", "retail", "--vcpus",
                      "1", "--memory", "1G", "--gpus", "1", "--preemptible");

        /* research asks for 2: the two youngest borrowers stop. */
        create_gpu_vm("r1", "research", "2", false);
        assert_vm("r1", "running", 2, NULL);
        assert_vm("p4", "stopped", 0, "preempted");
        assert_vm("p3", "stopped", 0, "tenant 'research'");
        assert_vm("p2", "running", 1, NULL);
        assert_vm("p1", "running", 1, NULL);
        assert_vm("risk-big", "running", 4, NULL);
        assert_int_equal(count_claimed(), 8);
        {
                json_t *j = vm_show("p4");
                assert_int_equal(json_integer_value(json_object_get(j, "preempted_gpus")), 1);
                assert_true(json_is_true(json_object_get(j, "preemptible")));
                assert_string_equal(jstr(j, "desired_state"), "stopped");
                json_decref(j);
        }

        /* ... and for 2 more, in two VMs of one GPU: the next youngest, one each. */
        create_gpu_vm("r2", "research", "1", false);
        assert_vm("p2", "stopped", 0, "preempted");
        assert_vm("p1", "running", 1, NULL);
        create_gpu_vm("r3", "research", "1", true);
        assert_vm("p1", "stopped", 0, "preempted");
        assert_vm("r2", "running", 1, NULL);
        assert_vm("r3", "running", 1, NULL);

        /* Beyond its guarantee research is like anyone else: nothing left to reclaim, and
         * risk's VM, not preemptible, is never touched. */
        assert_arkctl(&H, 1, "Not enough free GPUs", "vm", "create", "r4", "--tenant", "research", "--vcpus",
                      "1", "--memory", "1G", "--gpus", "1");
        assert_vm("risk-big", "running", 4, NULL);

        /* The audit log: who was stopped, in which order, and why. */
        rows = harness_arkctl_json(&H, "audit", "list", NULL);
        assert_non_null(rows);
        json_array_foreach(rows, k, r) {
                if (!streq(jstr(r, "action"), "Instance.Preempt"))
                        continue;
                assert_true(preempt_rows < 4);
                assert_string_equal(jstr(r, "caller"), "arkd");
                assert_non_null(
                        strstr(jstr(r, "result"), "back to tenant 'research', which is guaranteed them"));
                order[preempt_rows++] = strrchr(jstr(r, "object"), '/') + 1;
        }
        assert_int_equal(preempt_rows, 4);
        assert_string_equal(order[0], "p4");
        assert_string_equal(order[1], "p3");
        assert_string_equal(order[2], "p2");
        assert_string_equal(order[3], "p1");
        {
                bool pending = false, answered = false;

                json_array_foreach(rows, k, r) {
                        if (!streq(jstr(r, "action"), "Manager.CreateInstance") ||
                            !strstr(jstr(r, "arguments"), "\"Name\":\"r1\""))
                                continue;
                        if (strstr(jstr(r, "result"),
                                   "pending: stopping 2 preemptible instances ([\"p4\",\"p3\"])"))
                                pending = true;
                        else if (pending && streq(jstr(r, "result"), "ok"))
                                answered = true;
                }
                assert_true(pending);
                assert_true(answered);
        }
        json_decref(rows);
        assert_arkctl(&H, 0, "intact", "audit", "verify");

        /* A preempted VM asks for its GPU again when started: none free now, then one. */
        assert_arkctl(&H, 1, "gave its 1 GPU back to the tenant guaranteed them and cannot get 1 again now",
                      "vm", "start", "p1");
        assert_vm("p1", "stopped", 0, NULL);
        assert_arkctl(&H, 0, NULL, "vm", "stop", "r3", "--force");
        assert_arkctl(&H, 0, NULL, "vm", "delete", "r3");
        /* Survives a restart. */
        assert_int_equal(harness_stop_arkd(&H, SIGKILL), 128 + SIGKILL);
        assert_int_equal(harness_start_arkd(&H, NULL), 0);
        assert_arkctl(&H, 0, "1 GPU taken back", "vm", "show", "p1");
        assert_arkctl(&H, 0, NULL, "vm", "start", "p1");
        assert_vm("p1", "running", 1, NULL);
        {
                json_t *j = vm_show("p1");
                assert_int_equal(json_integer_value(json_object_get(j, "preempted_gpus")), 0);
                json_decref(j);
        }
}

/* Fifty creates at once against a quota of four GPUs on a host of eight: exactly four win, the
 * rest are refused with QuotaExceeded, and four GPUs are claimed. */
static void test_quota_race(void **state) {
        Race r;

        assert_arkctl(&H, 0, NULL, "tenant", "quota", "set", "risk", "gpus=4");
        race(50, "q", 1, 0, &r);
        if (r.other > 0)
                fail_msg("unexpected reply: %s", r.other_error);
        assert_int_equal(r.won, 4);
        assert_int_equal(r.quota, 46);
        assert_int_equal(count_claimed(), 4);
        assert_int_equal(itest_get_u32(&H, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "NInstances"), 4);
}

/* All or nothing: when the store refuses a claim halfway (a trigger stands in for a full disk),
 * a GPU VM's create leaves no record, disk, domain or claim behind, and adding GPUs leaves the
 * VM and its domain as they were. */
static void test_store_failure_all_or_nothing(void **state) {
        _cleanup_free_ char *out = NULL, *err = NULL, *xml_before = NULL, *xml_after = NULL, *disks = NULL;
        json_t *list, *gpus;

        assert_arkctl(&H, 0, NULL, "vm", "create", "keep", "--tenant", "risk", "--vcpus", "1", "--memory",
                      "1G", "--gpu", "0000:18:00.0");
        xml_before = itest_arkctl_expect(&H, 0, NULL, "vm", "show", "keep", "--xml", NULL);
        assert_int_equal(harness_stop_arkd(&H, SIGTERM), 0);
        assert_int_equal(
                harness_sh(&out, &err,
                           "sqlite3 '%s/ark.db' \"CREATE TRIGGER full BEFORE INSERT ON claims WHEN "
                           "NEW.address = '0000:ba:00.0' BEGIN SELECT RAISE(ABORT, 'database or disk is "
                           "full'); END;\"",
                           H.state_dir),
                0);
        assert_int_equal(harness_start_arkd(&H, NULL), 0);

        assert_arkctl(&H, 1, "Failed to claim GPU 0000:ba:00.0", "vm", "create", "doomed", "--tenant",
                      "risk", "--vcpus", "1", "--memory", "1G", "--disk", "1G", "--gpu", "0000:db:00.0",
                      "--gpu", "0000:ba:00.0");
        assert_int_equal(itest_get_u32(&H, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "NInstances"), 1);
        assert_arkctl(&H, 1, "does not exist", "vm", "show", "doomed");
        disks = strprintf("%s/disks", H.state_dir);
        out = mfree(out);
        err = mfree(err);
        assert_int_equal(harness_sh(&out, &err, "ls '%s' | wc -l", disks), 0);
        assert_string_equal(strstrip(out), "0");
        list = accelerators();
        assert_string_equal(claim_state(list, "0000:db:00.0"), "free");
        assert_string_equal(claim_state(list, "0000:ba:00.0"), "free");
        json_decref(list);

        assert_arkctl(&H, 1, "Failed to claim GPUs for 'keep'", "vm", "gpu", "add", "keep", "--gpu",
                      "0000:db:00.0", "--gpu", "0000:ba:00.0");
        gpus = vm_gpus("keep");
        assert_int_equal(json_array_size(gpus), 1);
        json_decref(gpus);
        xml_after = itest_arkctl_expect(&H, 0, NULL, "vm", "show", "keep", "--xml", NULL);
        assert_string_equal(xml_after, xml_before);
        list = accelerators();
        assert_string_equal(claim_state(list, "0000:db:00.0"), "free");
        json_decref(list);
}

/* ws-rtx with both GPUs in the chipset's group (as if the 2080 SUPER moved to a chipset slot):
 * two GPUs of one group go to one VM together or not at all, each function once. */
static const char *merge_groups =
        "for f in 0 1 2 3; do "
        "  ln -sfn ../../../../kernel/iommu_groups/1 sys/devices/pci0000:16/0000:16:01.0/0000:17:00.$f/iommu_group && "
        "  mv sys/kernel/iommu_groups/4/devices/0000:17:00.$f sys/kernel/iommu_groups/1/devices/; "
        "done";

static void restart_on_merged_groups(const char *conf) {
        _cleanup_free_ char *out = NULL, *err = NULL;

        assert_int_equal(harness_stop_arkd(&H, SIGTERM), 0);
        if (!strstr(H.sysfs_root, H.tmp))
                assert_int_equal(harness_writable_sysfs(&H), 0);
        assert_int_equal(harness_sh(&out, &err, "cd '%s' && %s", H.sysfs_root, merge_groups), 0);
        assert_int_equal(harness_start_arkd(&H, "--config", conf, NULL), 0);
}

static void test_shared_group(void **state) {
        _cleanup_free_ char *conf = strprintf("%s/mgmt.conf", H.tmp), *xml = NULL;
        json_t *gpus;

        /* eno1 is not the management NIC here, so the group may go to a VM. */
        assert_int_equal(write_string_file(conf, "[Network]\nManagementInterface=eno9\n", WRITE_CREATE), 0);
        restart_on_merged_groups(conf);

        assert_arkctl(
                &H, 1,
                "0000:06:00.0 (NVIDIA GeForce RTX 2080 Ti) cannot be passed through alone: its IOMMU group "
                "1 also holds GPU 0000:17:00.0",
                "vm", "create", "one", "--tenant", "risk", "--vcpus", "1", "--memory", "1G", "--gpu",
                "0000:06:00.0");
        assert_arkctl(&H, 1, "ask for both in one VM: --gpu 0000:17:00.0 --gpu 0000:06:00.0", "vm", "create",
                      "one", "--tenant", "risk", "--vcpus", "1", "--memory", "1G", "--gpu", "0000:17:00.0");
        assert_arkctl(&H, 0, NULL, "vm", "create", "both", "--tenant", "risk", "--vcpus", "2", "--memory",
                      "2G", "--gpu", "0000:06:00.0", "--gpu", "0000:17:00.0");
        gpus = vm_gpus("both");
        assert_int_equal(json_array_size(gpus), 2);
        json_decref(gpus);
        xml = itest_arkctl_expect(&H, 0, NULL, "vm", "show", "both", "--xml", NULL);
        /* Every function of the group once: NIC, 06:00.0-3, 17:00.0-3. */
        {
                size_t count = 0;
                for (const char *p = xml; (p = strstr(p, "<hostdev ")); p++)
                        count++;
                assert_int_equal(count, 9);
        }
        assert_non_null(strstr(xml, "bus='0x05' slot='0x00' function='0x0'"));
        validate_xml(xml);
}

/* The hardware changed under two VMs' claims (their GPUs now share one group): reported as
 * conflicts at the next start, nothing changed. */
static void test_group_changed(void **state) {
        _cleanup_free_ char *conf = strprintf("%s/mgmt.conf", H.tmp);
        json_t *j, *c, *e;
        size_t k;
        unsigned found = 0;

        assert_int_equal(write_string_file(conf, "[Network]\nManagementInterface=eno9\n", WRITE_CREATE), 0);
        assert_int_equal(harness_stop_arkd(&H, SIGTERM), 0);
        assert_int_equal(harness_start_arkd(&H, "--config", conf, NULL), 0);
        assert_arkctl(&H, 0, NULL, "vm", "create", "a", "--tenant", "risk", "--vcpus", "1", "--memory", "1G",
                      "--gpu", "0000:06:00.0");
        assert_arkctl(&H, 0, NULL, "vm", "create", "b", "--tenant", "risk", "--vcpus", "1", "--memory", "1G",
                      "--gpu", "0000:17:00.0");
        restart_on_merged_groups(conf);
        j = harness_arkctl_json(&H, "status", NULL);
        assert_non_null(j);
        c = json_object_get(j, "conflicts");
        json_array_foreach(c, k, e) {
                const char *msg = json_string_value(json_object_get(e, "message"));
                if (strstr(msg, "instance 'a' claims it, but 0000:06:00.0") &&
                    strstr(msg, "also holds GPU 0000:17:00.0"))
                        found++;
                if (strstr(msg, "instance 'b' claims it, but 0000:17:00.0") &&
                    strstr(msg, "also holds GPU 0000:06:00.0"))
                        found++;
        }
        if (found != 2)
                fail_msg("group change not reported: %s", json_dumps(c, 0));
        json_decref(j);
}

/* A non-Ark domain that holds a function of a GPU (its audio): the GPU is withheld. */
static void test_companion_function_conflict(void **state) {
        _cleanup_free_ char *hostxml = NULL, *orig = NULL, *patched = NULL, *uri = NULL;
        json_t *list;
        char *close_tag;

        assert_int_equal(harness_stop_arkd(&H, SIGTERM), 0);
        hostxml = strprintf("%s/host.xml", H.fixture);
        assert_int_equal(read_full_file(hostxml, &orig, NULL), 0);
        close_tag = strstr(orig, "</node>");
        assert_non_null(close_tag);
        *close_tag = 0;
        patched = strprintf(
                "%s<domain type='test'><name>media</name><memory>524288</memory><vcpu>1</vcpu>"
                "<os><type arch='x86_64'>hvm</type></os>"
                "<devices><hostdev mode='subsystem' type='pci' managed='yes'><source><address "
                "domain='0x0000' bus='0x17' slot='0x00' function='0x1'/></source></hostdev></devices>"
                "</domain></node>\n",
                orig);
        uri = strprintf("%s/host-media.xml", H.tmp);
        assert_int_equal(write_string_file(uri, patched, WRITE_CREATE), 0);
        free(H.libvirt_uri);
        H.libvirt_uri = strprintf("test://%s", uri);
        assert_int_equal(harness_start_arkd(&H, NULL), 0);
        list = accelerators();
        assert_string_equal(claim_state(list, "0000:17:00.0"), "conflict");
        json_decref(list);
        {
                _cleanup_free_ char *st = itest_arkctl_expect(&H, 0, NULL, "status", NULL);
                assert_non_null(strstr(st, "passes through 0000:17:00.1, a function of GPU 0000:17:00.0"));
        }
        assert_arkctl(&H, 1, "held by domains outside Ark's claims", "vm", "create", "x", "--tenant", "risk",
                      "--vcpus", "1", "--memory", "1G", "--gpus", "1");
        assert_arkctl(&H, 1, "is passed through by the non-Ark domain 'media'", "vm", "create", "x",
                      "--tenant", "risk", "--vcpus", "1", "--memory", "1G", "--gpu", "0000:17:00.0");
}

/* Puts `value` before the variable's value, joined by `sep`, and returns the old value (newly
 * allocated, NULL when it was unset) for env_restore(). */
static char *env_prepend(const char *name, const char *value, const char *sep) {
        const char *old = getenv(name);
        _cleanup_free_ char *v = isempty(old) ? strdup(value) : strprintf("%s%s%s", value, sep, old);

        assert_non_null(v);
        assert_int_equal(setenv(name, v, 1), 0);
        return old ? strdup(old) : NULL;
}

static void env_restore(const char *name, char *old) {
        assert_int_equal(old ? setenv(name, old, 1) : unsetenv(name), 0);
        free(old);
}

/* arkd again, with guests that take `msec` ms to act on a shutdown (slow-guest.so preloaded into
 * arkd: the test driver's stop at once), and the configuration file `config` when not NULL. The
 * environment is the test's own again when this returns. */
static void restart_with_slow_guests(const char *msec, const char *config) {
        _cleanup_free_ char *preload = strprintf("%s/tests/slow-guest.so", harness_build_dir());
        char *old_preload, *old_asan;
        int r;

        assert_non_null(preload);
        if (access(preload, R_OK) < 0)
                fail_msg("%s is missing (make %s)", preload, preload);
        assert_int_equal(harness_stop_arkd(&H, SIGTERM), 0);
        old_preload = env_prepend("LD_PRELOAD", preload, ":");
        /* In an ASan build, the runtime would refuse a library loaded ahead of it. */
        old_asan = env_prepend("ASAN_OPTIONS", "verify_asan_link_order=0", ":");
        assert_int_equal(setenv("ARK_SLOW_GUEST_MSEC", msec, 1), 0);
        r = config ? harness_start_arkd(&H, "--config", config, NULL) : harness_start_arkd(&H, NULL);
        env_restore("LD_PRELOAD", old_preload);
        env_restore("ASAN_OPTIONS", old_asan);
        assert_int_equal(unsetenv("ARK_SLOW_GUEST_MSEC"), 0);
        assert_int_equal(r, 0);
}

/* research guaranteed 1 GPU and idle, risk holding 7, retail's preemptible p1 on the last. */
static void one_borrower(void) {
        assert_arkctl(&H, 0, NULL, "tenant", "create", "research");
        assert_arkctl(&H, 0, NULL, "tenant", "create", "retail");
        assert_arkctl(&H, 0, NULL, "tenant", "quota", "set", "research", "gpus=1..8");
        create_gpu_vm("fill", "risk", "7", false);
        create_gpu_vm("p1", "retail", "1", true);
}

/* Concurrent reclaims: what calls waiting for borrowers to stop will take counts against the
 * guarantee, and the GPUs they will take are nobody else's meanwhile. research (guaranteed 4)
 * sends six creates at once while retail borrows all 8 GPUs: exactly 4 win and exactly 4
 * borrowers are stopped. Then two creates of one name (2 GPUs each): one wins, the other is
 * AlreadyExists, and no borrower is stopped for it. */
static void test_reclaim_races(void **state) {
        Race r;
        char name[16];

        /* Guests that take 300 ms to shut down (the test driver's stop at once): the calls
         * overlap while the borrowers stop. */
        restart_with_slow_guests("300", NULL);
        assert_arkctl(&H, 0, NULL, "tenant", "create", "research");
        assert_arkctl(&H, 0, NULL, "tenant", "create", "retail");
        assert_arkctl(&H, 0, NULL, "tenant", "quota", "set", "research", "gpus=4..8");
        for (int k = 0; k < 8; k++) {
                snprintf(name, sizeof(name), "b%d", k);
                create_gpu_vm(name, "retail", "1", true);
        }
        assert_int_equal(count_claimed(), 8);

        race_as(6, "r", "research", false, 1, 0, &r);
        if (r.other > 0)
                fail_msg("unexpected reply: %s", r.other_error);
        assert_int_equal(r.won, 4);
        assert_int_equal(r.no_capacity, 2);
        assert_int_equal(count_state("retail", "running"), 4);
        assert_int_equal(count_state("retail", "stopped"), 4);
        assert_int_equal(count_claimed(), 8);

        /* A second guarantee, and two calls for one name. */
        assert_arkctl(&H, 0, NULL, "tenant", "create", "ml");
        assert_arkctl(&H, 0, NULL, "tenant", "quota", "set", "ml", "gpus=4..8");
        race_as(2, "dup", "ml", true, 2, 0, &r);
        if (r.other > 0)
                fail_msg("unexpected reply: %s", r.other_error);
        assert_int_equal(r.won, 1);
        assert_int_equal(r.exists, 1);
        assert_int_equal(count_state("retail", "running"), 2);
        assert_vm("dup", "stopped", 2, NULL);
        assert_arkctl(&H, 0, "intact", "audit", "verify");
}

/* A borrower whose guest ignores the shutdown is forced off after StopTimeoutSec=, and the owner
 * gets its GPUs then. */
static void test_reclaim_forced(void **state) {
        _cleanup_free_ char *conf = strprintf("%s/slow.conf", H.tmp), *log = NULL;
        uint64_t t0;

        assert_int_equal(write_string_file(conf, "[Hypervisor]\nStopTimeoutSec=1\n", WRITE_CREATE), 0);
        restart_with_slow_guests("60000", conf);
        one_borrower();
        t0 = now_usec(CLOCK_MONOTONIC);
        create_gpu_vm("r1", "research", "1", false);
        if (now_usec(CLOCK_MONOTONIC) - t0 < 900 * USEC_PER_MSEC)
                fail_msg("the create answered after %" PRIu64 " ms, before the borrower's stop timeout",
                         (now_usec(CLOCK_MONOTONIC) - t0) / USEC_PER_MSEC);
        assert_vm("r1", "running", 1, NULL);
        assert_vm("p1", "stopped", 0, "preempted");
        assert_int_equal(read_full_file(H.arkd_log, &log, NULL), 0);
        assert_non_null(strstr(log, "Instance 'p1' did not shut down in time; forcing it off."));
}

/* Runs SQL on arkd's store behind its back (to make writes fail). */
static void store_sql(const char *statement) {
        _cleanup_free_ char *out = NULL, *err = NULL;

        if (harness_sh(&out, &err, "sqlite3 '%s/ark.db' \"%s\"", H.state_dir, statement) != 0)
                fail_msg("sqlite3 %s: %s", statement, strna(err));
}

/* A borrower that can be neither stopped nor forced off (its record cannot be written) fails the
 * owner's create with the reason, arkd carries on, and the borrower stopped before it runs again:
 * a reclaim happens whole or not at all. */
static void test_reclaim_stop_fails(void **state) {
        assert_arkctl(&H, 0, NULL, "tenant", "create", "research");
        assert_arkctl(&H, 0, NULL, "tenant", "create", "retail");
        assert_arkctl(&H, 0, NULL, "tenant", "quota", "set", "research", "gpus=2..8");
        create_gpu_vm("fill", "risk", "6", false);
        create_gpu_vm("p1", "retail", "1", true);
        create_gpu_vm("p2", "retail", "1", true);
        /* p2 (the youngest) stops first; p1's desired state cannot be recorded. */
        store_sql("CREATE TRIGGER t_no_stop BEFORE UPDATE OF desired_state ON instances "
                  "WHEN NEW.name = 'p1' BEGIN SELECT RAISE(FAIL, 'refused by the test'); END;");
        assert_arkctl(
                &H, 1,
                "Preemptible instance 'p1' holds GPUs guaranteed to tenant 'research' and could not be "
                "stopped",
                "vm", "create", "r1", "--tenant", "research", "--vcpus", "1", "--memory", "1G", "--gpus",
                "2", "--start");
        assert_arkctl(&H, 1, "does not exist", "vm", "show", "r1");
        assert_vm("p1", "running", 1, NULL);
        assert_vm("p2", "running", 1, NULL);
        assert_arkctl(&H, 0, "started again, the reclaim it was stopped for did not happen", "audit",
                      "list");
        store_sql("DROP TRIGGER t_no_stop");
        /* A fault after the borrowers gave their GPUs back (r1 cannot be stored): they get them
         * back and run again. */
        store_sql("CREATE TRIGGER t_no_r1 BEFORE INSERT ON instances "
                  "WHEN NEW.name = 'r1' BEGIN SELECT RAISE(FAIL, 'refused by the test'); END;");
        assert_arkctl(&H, 1, "Failed to store instance 'r1'", "vm", "create", "r1", "--tenant", "research",
                      "--vcpus", "1", "--memory", "1G", "--gpus", "2", "--start");
        assert_vm("p1", "running", 1, NULL);
        assert_vm("p2", "running", 1, NULL);
        store_sql("DROP TRIGGER t_no_r1");

        /* Without the fault the same request goes through. */
        create_gpu_vm("r1", "research", "2", false);
        assert_vm("p1", "stopped", 0, "preempted");
        assert_vm("p2", "stopped", 0, "preempted");
        assert_vm("r1", "running", 2, NULL);
}

/* A connection of the test's own to the bus, for calls answered later. */
static sd_bus *client_bus(void) {
        sd_bus *bus = NULL;

        assert_true(sd_bus_new(&bus) >= 0);
        assert_true(sd_bus_set_address(bus, H.bus_address) >= 0);
        assert_true(sd_bus_set_bus_client(bus, 1) >= 0);
        assert_true(sd_bus_start(bus) >= 0);
        return bus;
}

/* Processes the bus until `n` replies have come (bounded by the harness's wait). */
static void wait_replies(sd_bus *bus, Race *r, unsigned n) {
        for (uint64_t end = harness_wait_deadline(); !harness_wait_over(end) && r->done < n;) {
                while (sd_bus_process(bus, NULL) > 0)
                        ;
                if (r->done < n)
                        (void) sd_bus_wait(bus, 20000);
        }
}

/* arkd stopping while a create waits for a borrower: the caller hears why before arkd goes. */
static void test_reclaim_shutdown(void **state) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        Race r = {};

        restart_with_slow_guests("30000", NULL);
        one_borrower();

        bus = client_bus();
        assert_true(sd_bus_message_new_method_call(bus, &m, ARK_BUS_NAME, ARK_BUS_PATH,
                                                   ARK_BUS_IFACE_MANAGER, "CreateInstance") >= 0);
        assert_true(sd_bus_message_append(m, "a{sv}", 5, "Name", "s", "r1", "Tenant", "s", "research",
                                          "VCPUs", "u", 1, "MemoryBytes", "t", UINT64_C(1) << 30, "GPUs",
                                          "u", 1) >= 0);
        assert_true(sd_bus_call_async(bus, &slot, m, on_create_reply, &r, 60 * 1000000ULL) >= 0);
        /* Until p1 is shutting down: the call waits. */
        for (uint64_t end = harness_wait_deadline(); !harness_wait_over(end);) {
                _cleanup_free_ char *o = itest_arkctl_expect(&H, 0, NULL, "vm", "show", "p1", NULL);
                while (sd_bus_process(bus, NULL) > 0)
                        ;
                if (strstr(o, "shutting-down"))
                        break;
                usleep(20000);
        }
        assert_int_equal(r.done, 0);
        assert_int_equal(harness_stop_arkd(&H, SIGTERM), 0);
        wait_replies(bus, &r, 1);
        assert_int_equal(r.done, 1);
        assert_int_equal(r.other, 1);
        if (!strstr(r.other_error, "org.ark.Ark1.Error.InvalidState: arkd is shutting down"))
                fail_msg("reply: %s", r.other_error);
        assert_int_equal(harness_start_arkd(&H, NULL), 0);
        assert_arkctl(&H, 1, "does not exist", "vm", "show", "r1");
        assert_arkctl(&H, 0, "arkd is shutting down", "audit", "list");
}

/* The acceptance, as it is worded: research guaranteed 4 and idle, retail runs 4
 * preemptible GPU VMs on them, research asks for 4 in one VM: retail's VMs stop, research's
 * starts, and the audit log says why. */
static void test_preemption_four(void **state) {
        json_t *rows, *r;
        size_t k;
        unsigned preempted = 0;
        char name[8];

        assert_arkctl(&H, 0, NULL, "tenant", "create", "research");
        assert_arkctl(&H, 0, NULL, "tenant", "create", "retail");
        assert_arkctl(&H, 0, NULL, "tenant", "quota", "set", "research", "gpus=4..4");
        create_gpu_vm("risk-4", "risk", "4", false);
        for (int n = 1; n <= 4; n++) {
                snprintf(name, sizeof(name), "p%d", n);
                create_gpu_vm(name, "retail", "1", true);
        }
        assert_int_equal(count_state("retail", "running"), 4);
        create_gpu_vm("train", "research", "4", false);
        assert_vm("train", "running", 4, NULL);
        assert_int_equal(count_state("retail", "stopped"), 4);
        assert_vm("risk-4", "running", 4, NULL);
        rows = harness_arkctl_json(&H, "audit", "list", NULL);
        assert_non_null(rows);
        json_array_foreach(rows, k, r)
                if (streq(jstr(r, "action"), "Instance.Preempt") &&
                    strstr(jstr(r, "result"),
                           "to tenant 'research', which is guaranteed them and asked for them for "
                           "instance 'train'"))
                        preempted++;
        json_decref(rows);
        assert_int_equal(preempted, 4);
        {
                _cleanup_free_ char *file = strprintf("%s/metrics.address", H.state_dir), *addr = NULL,
                                    *out = NULL, *err = NULL;

                assert_int_equal(read_full_file(file, &addr, NULL), 0);
                addr[strcspn(addr, "\n")] = 0;
                assert_int_equal(
                        harness_sh(&out, &err, "%scurl -sf 'http://%s/metrics'", harness_in_netns(&H), addr),
                        0);
                assert_non_null(strstr(out, "\nark_preemptions_total 4\n"));
        }
}

/* A create waiting on a reclaim has, for quotas, what it asked for: another create of the same
 * tenant cannot take the quota meanwhile and leave the first refused after the borrowers were
 * stopped. */
static void test_reclaim_pending_quota(void **state) {
        json_t *g1, *g2;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        Race r = {};

        restart_with_slow_guests("1500", NULL);
        assert_arkctl(&H, 0, NULL, "tenant", "create", "research");
        assert_arkctl(&H, 0, NULL, "tenant", "create", "retail");
        assert_arkctl(&H, 0, NULL, "tenant", "quota", "set", "research", "gpus=2..2");
        create_gpu_vm("fill", "risk", "5", false);
        create_gpu_vm("p1", "retail", "1", true);
        create_gpu_vm("p2", "retail", "1", true);
        g1 = vm_gpus("p1");
        g2 = vm_gpus("p2");
        /* One GPU is free; research's "ra" asks for p1's and p2's by address and waits. */
        bus = client_bus();
        assert_true(sd_bus_message_new_method_call(bus, &m, ARK_BUS_NAME, ARK_BUS_PATH,
                                                   ARK_BUS_IFACE_MANAGER, "CreateInstance") >= 0);
        assert_true(sd_bus_message_append(m, "a{sv}", 5, "Name", "s", "ra", "Tenant", "s", "research",
                                          "VCPUs", "u", 1, "MemoryBytes", "t", UINT64_C(1) << 30,
                                          "GPUAddresses", "as", 2, json_string_value(json_array_get(g1, 0)),
                                          json_string_value(json_array_get(g2, 0))) >= 0);
        assert_true(sd_bus_call_async(bus, &slot, m, on_create_reply, &r, 60 * 1000000ULL) >= 0);
        for (uint64_t end = harness_wait_deadline();
             !harness_wait_over(end) && count_state("retail", "shutting-down") < 1;) {
                while (sd_bus_process(bus, NULL) > 0)
                        ;
                usleep(20000);
        }
        assert_int_equal(r.done, 0);
        /* The free GPU stays free, but research's quota is spoken for by ra. */
        assert_arkctl(&H, 1, "Tenant 'research' would use 3 of its 2 GPUs (it uses 2 now).", "vm", "create",
                      "rb", "--tenant", "research", "--vcpus", "1", "--memory", "1G", "--gpus", "1");
        assert_arkctl(&H, 1, "is being created already", "vm", "create", "ra", "--tenant", "research",
                      "--vcpus", "1", "--memory", "1G");
        wait_replies(bus, &r, 1);
        if (r.other > 0)
                fail_msg("reply: %s", r.other_error);
        assert_int_equal(r.won, 1);
        assert_vm("ra", "stopped", 2, NULL);
        assert_vm("p1", "stopped", 0, "preempted");
        assert_vm("p2", "stopped", 0, "preempted");
        json_decref(g1);
        json_decref(g2);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_prestate_setup_teardown(test_two_gpus_one_node, setup_host, teardown_host,
                                                         "dgx-h100"),
                cmocka_unit_test_prestate_setup_teardown(test_model_and_exact, setup_host, teardown_host,
                                                         "dgx-h100"),
                cmocka_unit_test_prestate_setup_teardown(test_concurrent_and_kill9, setup_host,
                                                         teardown_host, "dgx-h100"),
                cmocka_unit_test_prestate_setup_teardown(test_race_last_gpu, setup_host, teardown_host,
                                                         "dgx-h100"),
                cmocka_unit_test_prestate_setup_teardown(test_kill9_mid_workload, setup_host, teardown_host,
                                                         "dgx-h100"),
                cmocka_unit_test_prestate_setup_teardown(test_store_failure_all_or_nothing, setup_host,
                                                         teardown_host, "dgx-h100"),
                cmocka_unit_test_prestate_setup_teardown(test_holds, setup_host, teardown_host, "dgx-h100"),
                cmocka_unit_test_prestate_setup_teardown(test_quota_limit, setup_host, teardown_host,
                                                         "dgx-h100"),
                cmocka_unit_test_prestate_setup_teardown(test_quota_race, setup_host, teardown_host,
                                                         "dgx-h100"),
                cmocka_unit_test_prestate_setup_teardown(test_preemption, setup_host, teardown_host,
                                                         "dgx-h100"),
                cmocka_unit_test_prestate_setup_teardown(test_preemption_four, setup_host, teardown_host,
                                                         "dgx-h100"),
                cmocka_unit_test_prestate_setup_teardown(test_reclaim_races, setup_host, teardown_host,
                                                         "dgx-h100"),
                cmocka_unit_test_prestate_setup_teardown(test_reclaim_stop_fails, setup_host, teardown_host,
                                                         "dgx-h100"),
                cmocka_unit_test_prestate_setup_teardown(test_reclaim_forced, setup_host, teardown_host,
                                                         "dgx-h100"),
                cmocka_unit_test_prestate_setup_teardown(test_reclaim_shutdown, setup_host, teardown_host,
                                                         "dgx-h100"),
                cmocka_unit_test_prestate_setup_teardown(test_reclaim_pending_quota, setup_host,
                                                         teardown_host, "dgx-h100"),
                cmocka_unit_test_prestate_setup_teardown(test_config_and_vfio, setup_host, teardown_host,
                                                         "dgx-h100"),
                cmocka_unit_test_prestate_setup_teardown(test_placement_config, setup_host, teardown_host,
                                                         "dgx-h100"),
                cmocka_unit_test_prestate_setup_teardown(test_gpu_add_remove, setup_host, teardown_host,
                                                         "dgx-h100"),
                cmocka_unit_test_prestate_setup_teardown(test_conflicts_from_domains, setup_host,
                                                         teardown_host, "dgx-h100"),
                cmocka_unit_test_prestate_setup_teardown(test_ws_rtx, setup_host, teardown_host, "ws-rtx"),
                cmocka_unit_test_prestate_setup_teardown(test_shared_group, setup_host, teardown_host,
                                                         "ws-rtx"),
                cmocka_unit_test_prestate_setup_teardown(test_group_changed, setup_host, teardown_host,
                                                         "ws-rtx"),
                cmocka_unit_test_prestate_setup_teardown(test_companion_function_conflict, setup_host,
                                                         teardown_host, "ws-rtx"),
                cmocka_unit_test_prestate_setup_teardown(test_vfio_at_boot_blocked, setup_host,
                                                         teardown_host, "ws-rtx"),
                cmocka_unit_test_prestate_setup_teardown(test_not_ready_refused, setup_host, teardown_host,
                                                         "dgx-h100"),
                cmocka_unit_test_prestate_setup_teardown(test_no_iommu, setup_host, teardown_host,
                                                         "no-iommu"),
        };
        return cmocka_run_group_tests_name("integration: gpu", tests, NULL, NULL);
}

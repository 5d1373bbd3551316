/* Passthrough readiness checks; see readiness.h. */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/dirent-util.h"
#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/parse-util.h"
#include "basic/string-util.h"
#include "basic/sysfs-util.h"
#include "passthrough.h"
#include "readiness.h"

#define PCI_DEVICES_DIR "sys/bus/pci/devices"

static const char *const status_table[_CHECK_STATUS_MAX] = {
        [CHECK_READY] = "ready",
        [CHECK_ADVICE] = "advice",
        [CHECK_NOT_READY] = "not-ready",
};

const char *check_status_to_string(CheckStatus s) {
        if (s < 0 || s >= _CHECK_STATUS_MAX)
                return NULL;
        return status_table[s];
}

void check_list_done(CheckList *l) {
        for (size_t k = 0; k < l->n; k++) {
                free(l->r[k].detail);
                free(l->r[k].remedy);
        }
        free(l->r);
        *l = (CheckList) {};
}

bool check_list_has_not_ready(const CheckList *l, const char *subject) {
        for (size_t k = 0; k < l->n; k++)
                if (l->r[k].status == CHECK_NOT_READY && (!subject || streq(l->r[k].subject, subject)))
                        return true;
        return false;
}

static int add(CheckList *l, const char *subject, const char *check, CheckStatus status, const char *remedy,
               const char *detail_format, ...) _printf_(6, 7);
static int add(CheckList *l, const char *subject, const char *check, CheckStatus status, const char *remedy,
               const char *detail_format, ...) {
        CheckResult *r;
        va_list ap;
        int n;

        if (l->n == l->allocated) {
                size_t a = MAX(l->allocated * 2, 16U);
                CheckResult *p = realloc(l->r, a * sizeof(CheckResult));

                if (!p)
                        return -ENOMEM;
                l->r = p;
                l->allocated = a;
        }
        r = &l->r[l->n];
        *r = (CheckResult) { .check = check, .status = status };
        snprintf(r->subject, sizeof(r->subject), "%s", strempty(subject));
        va_start(ap, detail_format);
        n = vasprintf(&r->detail, detail_format, ap);
        va_end(ap);
        if (n < 0)
                return -ENOMEM;
        if (remedy && status != CHECK_READY) {
                r->remedy = strdup(remedy);
                if (!r->remedy) {
                        free(r->detail);
                        return -ENOMEM;
                }
        }
        l->n++;
        return 0;
}

/* <root>/<rel> read whole, stripped; NULL when absent. */
static char *read_root_file(const char *root, const char *rel) {
        _cleanup_free_ char *p = sysfs_path(root, rel), *text = NULL;

        if (!p || read_full_file(p, &text, NULL) < 0)
                return NULL;
        strstrip(text);
        return TAKE_PTR(text);
}

static bool root_exists(const char *root, const char *rel) {
        _cleanup_free_ char *p = sysfs_path(root, rel);
        return p && access(p, F_OK) == 0;
}

/* Whether the kernel command line has `word` (a whole word, "iommu=pt"). */
static bool cmdline_has(const char *cmdline, const char *word) {
        size_t l = strlen(word);

        for (const char *p = cmdline; p && *p; p = strchr(p, ' ')) {
                while (*p == ' ')
                        p++;
                if (strncmp(p, word, l) == 0 && (p[l] == ' ' || p[l] == 0 || p[l] == '\n'))
                        return true;
        }
        return false;
}

static const char *iommu_kind(const char *unit) {
        if (startswith(unit, "dmar"))
                return "Intel VT-d";
        if (startswith(unit, "ivhd"))
                return "AMD-Vi";
        if (startswith(unit, "smmu"))
                return "Arm SMMU";
        return "IOMMU";
}

int readiness_check_host(const ReadinessInput *in, CheckList *l) {
        _cleanup_strv_free_ char **units = NULL;
        _cleanup_free_ char *cmdline = NULL, *release = NULL, *classdir = NULL;
        const char *root = in->sysfs_root;
        size_t n_units;
        int r;

        /* IOMMU */
        classdir = sysfs_path(root, "sys/class/iommu");
        if (!classdir)
                return -ENOMEM;
        if (dir_list_names(classdir, &units) == -ENOMEM)
                return -ENOMEM;
        n_units = strv_length(units);
        cmdline = read_root_file(root, "proc/cmdline");
        if (n_units > 0)
                r = add(l, NULL, "iommu", CHECK_READY, NULL, "on: %zu %s unit%s", n_units,
                        iommu_kind(units[0]), n_units == 1 ? "" : "s");
        else
                r = add(l, NULL, "iommu", CHECK_NOT_READY,
                        "turn on VT-d (Intel) or IOMMU/AMD-Vi (AMD) in the firmware setup; on Intel also boot with "
                        "intel_iommu=on (add it to GRUB_CMDLINE_LINUX in /etc/default/grub, run update-grub and "
                        "reboot)",
                        "off: no IOMMU unit in /sys/class/iommu, so no device can be passed through%s",
                        cmdline && !cmdline_has(cmdline, "intel_iommu=on") &&
                                        !cmdline_has(cmdline, "amd_iommu=on")
                                ? " (the kernel was booted without intel_iommu=on)"
                                : "");
        if (r < 0)
                return r;

        /* Interrupt remapping: without it VFIO refuses devices (or a guest could forge MSIs). */
        if (n_units > 0) {
                size_t missing = 0, unknown = 0;
                const char *first_missing = NULL;

                for (size_t k = 0; k < n_units; k++) {
                        _cleanup_free_ char *rel = NULL, *ecap = NULL;
                        uint64_t v;

                        if (!startswith(units[k], "dmar"))
                                continue;
                        rel = strprintf("sys/class/iommu/%s/intel-iommu/ecap", units[k]);
                        if (!rel)
                                return -ENOMEM;
                        ecap = read_root_file(root, rel);
                        if (!ecap || sscanf(ecap, "%" SCNx64, &v) != 1)
                                unknown++;
                        else if (!(v & (UINT64_C(1) << 3))) {
                                if (!first_missing)
                                        first_missing = units[k];
                                missing++;
                        }
                }
                if (missing > 0)
                        r = add(l, NULL, "interrupt-remapping", CHECK_NOT_READY,
                                "turn on Interrupt Remapping (and X2APIC) in the firmware setup; do not work around it "
                                "with vfio_iommu_type1 allow_unsafe_interrupts=1, which lets a guest forge interrupts",
                                "%zu VT-d unit%s (%s first) cannot remap interrupts, so VFIO refuses devices behind them",
                                missing, missing == 1 ? "" : "s", first_missing);
                else if (unknown > 0)
                        r = add(l, NULL, "interrupt-remapping", CHECK_ADVICE,
                                "check the kernel log for \"DMAR-IR: Enabled IRQ remapping\"",
                                "%zu VT-d unit%s do not say whether they remap interrupts", unknown,
                                unknown == 1 ? "" : "s");
                else if (startswith(units[0], "dmar"))
                        r = add(l, NULL, "interrupt-remapping", CHECK_READY, NULL,
                                "every VT-d unit remaps interrupts");
                else if (startswith(units[0], "smmu"))
                        r = add(l, NULL, "interrupt-remapping", CHECK_READY, NULL,
                                "MSIs are translated by the SMMU and the interrupt controller (ITS)");
                else
                        r = add(l, NULL, "interrupt-remapping", CHECK_READY, NULL, "%s remaps interrupts",
                                iommu_kind(units[0]));
                if (r < 0)
                        return r;

                /* iommu=pt: the host's own devices need no translation. */
                if (startswith(units[0], "smmu"))
                        r = cmdline && cmdline_has(cmdline, "iommu.passthrough=1")
                                ? add(l, NULL, "iommu-mode", CHECK_READY, NULL,
                                      "iommu.passthrough=1: the host's own devices bypass translation")
                                : add(l, NULL, "iommu-mode", CHECK_ADVICE,
                                      "add iommu.passthrough=1 to the kernel command line; passthrough to VMs "
                                      "is unaffected",
                                      "the host's own devices go through IOMMU translation, which costs them "
                                      "DMA performance");
                else
                        r = cmdline && cmdline_has(cmdline, "iommu=pt")
                                ? add(l, NULL, "iommu-mode", CHECK_READY, NULL,
                                      "iommu=pt: the host's own devices bypass translation")
                                : add(l, NULL, "iommu-mode", CHECK_ADVICE,
                                      "add iommu=pt to the kernel command line (GRUB_CMDLINE_LINUX in "
                                      "/etc/default/grub); passthrough to VMs is unaffected",
                                      "the host's own devices (NICs, NVMe) go through IOMMU translation, which "
                                      "costs them DMA performance");
                if (r < 0)
                        return r;
        }

        /* KVM */
        if (root_exists(root, "sys/class/misc/kvm"))
                r = add(l, NULL, "kvm", CHECK_READY, NULL, "KVM is available (/dev/kvm)");
        else
                r = add(l, NULL, "kvm", CHECK_NOT_READY,
                        "turn on VT-x (Intel) or AMD-V/SVM (AMD) in the firmware setup and load kvm_intel or kvm_amd",
                        "there is no /dev/kvm: KVM is not loaded, or virtualization is off in the firmware");
        if (r < 0)
                return r;

        /* vfio-pci */
        release = read_root_file(root, "proc/sys/kernel/osrelease");
        if (root_exists(root, "sys/bus/pci/drivers/vfio-pci"))
                r = add(l, NULL, "vfio-pci", CHECK_READY, NULL, "the vfio-pci driver is loaded");
        else {
                _cleanup_free_ char *builtin_rel = release
                        ? strprintf("lib/modules/%s/modules.builtin", release)
                        : NULL,
                                    *builtin = builtin_rel ? read_root_file(root, builtin_rel) : NULL,
                                    *mod_rel = release
                        ? strprintf("lib/modules/%s/kernel/drivers/vfio/pci", release)
                        : NULL;
                _cleanup_strv_free_ char **mods = NULL;
                _cleanup_free_ char *mod_dir = mod_rel ? sysfs_path(root, mod_rel) : NULL;
                bool module = false;

                if (mod_dir && dir_list_names(mod_dir, &mods) >= 0)
                        for (char **m = mods; *m; m++)
                                module = module || startswith(*m, "vfio-pci.ko");
                if (builtin && strstr(builtin, "vfio-pci.ko"))
                        r = add(l, NULL, "vfio-pci", CHECK_READY, NULL, "vfio-pci is built into the kernel");
                else if (module)
                        r = add(l, NULL, "vfio-pci", CHECK_READY, NULL,
                                "vfio-pci is installed as a module (loaded when the first VM gets a device)");
                else
                        r = add(l, NULL, "vfio-pci", CHECK_NOT_READY,
                                "install a kernel with VFIO (CONFIG_VFIO_PCI), or load the module: modprobe vfio-pci",
                                "the vfio-pci driver is neither loaded nor installed for kernel %s",
                                strna(release));
        }
        if (r < 0)
                return r;

        /* Physical address bits (x86): a guest's RAM and its 64-bit PCI window must fit in what
         * the CPU can address, as KVM passes the host's size through. */
        {
                _cleanup_free_ char *cpuinfo = read_root_file(root, "proc/cpuinfo");
                const char *p = cpuinfo ? strstr(cpuinfo, "address sizes") : NULL;
                unsigned bits = 0;

                if (p && (p = strchr(p, ':')) && sscanf(p + 1, "%u bits physical", &bits) == 1 && bits > 0) {
                        const Accelerator *all[64];
                        size_t n = MIN(in->n_accelerators, ELEMENTSOF(all));
                        uint64_t memory = in->host ? in->host->memory_bytes : 0, window;
                        unsigned need;
                        char b1[32], b2[32];

                        for (size_t k = 0; k < n; k++)
                                all[k] = &in->accelerators[k];
                        window = passthrough_mmio64_window(all, n);
                        need = passthrough_phys_bits(memory, window);
                        if (memory == 0)
                                r = add(l, NULL, "address-bits", CHECK_READY, NULL,
                                        "the CPU addresses %u bits physical", bits);
                        else if (need <= bits)
                                r = add(l, NULL, "address-bits", CHECK_READY, NULL,
                                        "the CPU's %u physical address bits hold a VM with all %zu GPUs (a %s window) "
                                        "and all %s of memory (%u bits)",
                                        bits, n, format_bytes(b1, sizeof(b1), window),
                                        format_bytes(b2, sizeof(b2), memory), need);
                        else
                                r = add(l, NULL, "address-bits", CHECK_ADVICE,
                                        "give such VMs less memory or fewer GPUs",
                                        "a VM with all %zu GPUs (a %s window) and all %s of memory needs %u physical "
                                        "address bits; the CPU has %u",
                                        n, format_bytes(b1, sizeof(b1), window),
                                        format_bytes(b2, sizeof(b2), memory), need, bits);
                        if (r < 0)
                                return r;
                }
        }

        /* UEFI firmware of GPU VMs (a real path: the hypervisor reads it, not the sysfs root). */
        if (!in->firmware_code || access(in->firmware_code, R_OK) < 0)
                r = add(l, NULL, "uefi-firmware", CHECK_NOT_READY,
                        "install Debian's ovmf package, or set FirmwareCode= in [Hypervisor] of /etc/ark/ark.conf",
                        "the UEFI firmware for GPU VMs (%s) is missing", strna(in->firmware_code));
        else if (in->firmware_vars && access(in->firmware_vars, R_OK) < 0)
                r = add(l, NULL, "uefi-firmware", CHECK_NOT_READY,
                        "install Debian's ovmf package, or set FirmwareVars= in [Hypervisor] of /etc/ark/ark.conf",
                        "the UEFI variable store template (%s) is missing", in->firmware_vars);
        else
                r = add(l, NULL, "uefi-firmware", CHECK_READY, NULL, "GPU VMs boot %s", in->firmware_code);
        if (r < 0)
                return r;

        /* Huge pages */
        {
                uint64_t free_bytes = 0, total_bytes = 0;
                static const struct {
                        const char *dir;
                        uint64_t size;
                } sizes[] = {
                        { "sys/kernel/mm/hugepages/hugepages-1048576kB", UINT64_C(1) << 30 },
                        { "sys/kernel/mm/hugepages/hugepages-2048kB", UINT64_C(2) << 20 },
                };
                char b1[32], b2[32];

                for (size_t k = 0; k < ELEMENTSOF(sizes); k++) {
                        _cleanup_free_ char *nr_rel = strprintf("%s/nr_hugepages", sizes[k].dir),
                                            *free_rel = strprintf("%s/free_hugepages", sizes[k].dir),
                                            *nr = NULL, *fr = NULL;
                        uint64_t v;

                        if (!nr_rel || !free_rel)
                                return -ENOMEM;
                        nr = read_root_file(root, nr_rel);
                        fr = read_root_file(root, free_rel);
                        if (nr && parse_u64(nr, &v) >= 0)
                                total_bytes += v * sizes[k].size;
                        if (fr && parse_u64(fr, &v) >= 0)
                                free_bytes += v * sizes[k].size;
                }
                if (!in->hugepages && total_bytes == 0)
                        r = add(l, NULL, "hugepages", CHECK_READY, NULL,
                                "not used (HugePages=no), none reserved");
                else if (!in->hugepages)
                        r = add(l, NULL, "hugepages", CHECK_ADVICE,
                                "set HugePages=yes in [Hypervisor] of /etc/ark/ark.conf, or stop reserving them on the "
                                "kernel command line",
                                "%s of huge pages are reserved, but GPU VMs do not use them (HugePages=no)",
                                format_bytes(b1, sizeof(b1), total_bytes));
                else if (free_bytes == 0)
                        r = add(l, NULL, "hugepages", CHECK_NOT_READY,
                                "reserve them at boot: default_hugepagesz=1G hugepagesz=1G hugepages=N on the kernel "
                                "command line, N the GiB GPU VMs need; or set HugePages=no",
                                "HugePages=yes, but no huge pages are free (%s reserved)",
                                format_bytes(b1, sizeof(b1), total_bytes));
                else
                        r = add(l, NULL, "hugepages", CHECK_READY, NULL,
                                "%s of huge pages free of %s reserved",
                                format_bytes(b1, sizeof(b1), free_bytes),
                                format_bytes(b2, sizeof(b2), total_bytes));
                if (r < 0)
                        return r;
        }
        return 0;
}

/* "audio, USB, USB-C" for the functions that go with a. */
static void describe_functions(const Accelerator *a, char *buf, size_t l) {
        size_t used = 0;

        buf[0] = 0;
        for (size_t k = 0; k < a->n_group; k++) {
                const PciFunction *f = &a->group[k];
                unsigned base = (f->class >> 16) & 0xff, sub = (f->class >> 8) & 0xff;
                const char *what;

                if (f->is_bridge || streq(f->address, a->address))
                        continue;
                what = base == 0x04                           ? "audio"
                        : base == 0x0c && sub == 0x03         ? "USB"
                        : base == 0x0c && f->vendor == 0x10de ? "USB-C"
                        : base == 0x02                        ? "network"
                        : base == 0x03                        ? "display"
                                                              : "other";
                used += (size_t) snprintf(buf + used, used < l ? l - used : 0, "%s%s %s",
                                          used > 0 ? ", " : "", what, f->address);
                if (used >= l)
                        break;
        }
}

int readiness_check_accelerator(const ReadinessInput *in, const Accelerator *a, CheckList *l) {
        const Accelerator *one[1] = { a };
        char why[768], remedy[512], funcs[256], b1[32], b2[32];
        _cleanup_free_ char *reset_rel = NULL, *reset = NULL, *vga_rel = NULL, *vga = NULL;
        PassthroughVerdict v;
        int r;

        /* IOMMU group (the reset has a check of its own below) */
        {
                Accelerator g = *a;

                g.no_reset = false;
                v = passthrough_check_group(&g, in->accelerators, in->n_accelerators,
                                            in->management_interface, NULL, why, sizeof(why), remedy,
                                            sizeof(remedy));
        }
        describe_functions(a, funcs, sizeof(funcs));
        if (a->iommu_group < 0)
                r = add(l, a->address, "iommu-group", CHECK_NOT_READY,
                        "turn the IOMMU on (see the host's iommu check)",
                        "no IOMMU group: the IOMMU is off on this host");
        else if (v != PASSTHROUGH_OK) {
                /* The heading names the GPU already: "... cannot be passed through: <why>". */
                const char *p = strstr(why, "cannot be passed through: ");
                r = add(l, a->address, "iommu-group", CHECK_NOT_READY, remedy, "%s",
                        p ? p + strlen("cannot be passed through: ") : why);
        } else if (funcs[0] == 0)
                r = add(l, a->address, "iommu-group", CHECK_READY, NULL, "group %d holds the GPU alone%s",
                        a->iommu_group, a->n_group > 1 ? " (and bridges, which stay with the host)" : "");
        else
                r = add(l, a->address, "iommu-group", CHECK_READY, NULL,
                        "group %d: the GPU and %s, which go to the VM with it", a->iommu_group, funcs);
        if (r < 0)
                return r;

        /* Claim */
        snprintf(
                remedy, sizeof(remedy),
                a->hold && streq(a->hold, "reserved")
                        ? "to give it to VMs, release it: arkctl accelerator release %s"
                        : "check the device (kernel log, vendor tools), then release it: arkctl accelerator release %s",
                a->address);
        if (a->hold && streq(a->hold, "reserved") && a->hold_from_config)
                r = add(l, a->address, "claim", CHECK_NOT_READY,
                        "remove it from ReservedAccelerators= in /etc/ark/ark.conf and restart arkd",
                        "reserved for the host by ReservedAccelerators= in the configuration");
        else if (a->hold && streq(a->hold, "reserved"))
                r = add(l, a->address, "claim", CHECK_NOT_READY, remedy, "reserved for the host%s%s%s",
                        isempty(a->hold_reason) ? "" : " (", strempty(a->hold_reason),
                        isempty(a->hold_reason) ? "" : ")");
        else if (a->hold)
                r = add(l, a->address, "claim", CHECK_NOT_READY, remedy, "quarantined%s%s%s",
                        isempty(a->hold_reason) ? "" : " (", strempty(a->hold_reason),
                        isempty(a->hold_reason) ? "" : ")");
        else if (a->conflict)
                r = add(l, a->address, "claim", CHECK_NOT_READY,
                        "resolve the conflict (see 'arkctl status'): remove the hostdev from that domain (virsh edit), "
                        "or delete the domain, then run 'arkctl reconcile'",
                        "passed through by %s although no claim gives it there", a->conflict);
        else if (a->claimed_by)
                r = add(l, a->address, "claim", CHECK_READY, NULL, "claimed by instance '%s'",
                        a->claimed_by);
        else
                r = add(l, a->address, "claim", CHECK_READY, NULL, "free");
        if (r < 0)
                return r;

        /* Health */
        snprintf(remedy, sizeof(remedy),
                 "check the GPU (kernel log: AER and Xid messages; vendor tools), reseat or replace it, and "
                 "quarantine it meanwhile: arkctl accelerator quarantine %s",
                 a->address);
        if (a->health)
                r = add(l, a->address, "health", CHECK_NOT_READY, remedy, "unhealthy: %s", a->health);
        else
                r = add(l, a->address, "health", CHECK_READY, NULL, "no fatal PCIe errors, link up");
        if (r < 0)
                return r;

        /* Driver */
        vga_rel = strprintf(PCI_DEVICES_DIR "/%s/boot_vga", a->address);
        reset_rel = strprintf(PCI_DEVICES_DIR "/%s/reset_method", a->address);
        if (!vga_rel || !reset_rel)
                return -ENOMEM;
        vga = read_root_file(in->sysfs_root, vga_rel);
        if (vga && streq(vga, "1"))
                r = add(l, a->address, "driver", CHECK_ADVICE,
                        "connect the console to the BMC's or another display before giving this GPU to a VM",
                        "it shows the host's console (boot VGA, driver %s): the console goes dark while a VM has it",
                        a->driver ?: "none");
        else if (a->driver && streq(a->driver, "vfio-pci"))
                r = add(l, a->address, "driver", CHECK_READY, NULL, "bound to vfio-pci");
        else if (a->driver)
                r = add(l, a->address, "driver", CHECK_READY, NULL,
                        "bound to %s; libvirt hands it to vfio-pci when its VM starts and back when it stops",
                        a->driver);
        else
                r = add(l, a->address, "driver", CHECK_READY, NULL, "no driver bound");
        if (r < 0)
                return r;

        /* Reset between VMs */
        reset = read_root_file(in->sysfs_root, reset_rel);
        if (reset && !isempty(reset)) {
                for (char *c = reset; *c; c++)
                        if (*c == ' ')
                                *c = '/';
                r = add(l, a->address, "reset", CHECK_READY, NULL, "the kernel resets it by %s%s", reset,
                        strstr(reset, "flr") ? "" : " (no function-level reset)");
        } else {
                _cleanup_free_ char *reset_file = strprintf(PCI_DEVICES_DIR "/%s/reset", a->address);

                if (!reset_file)
                        return -ENOMEM;
                if (!reset && root_exists(in->sysfs_root, reset_file))
                        r = add(l, a->address, "reset", CHECK_READY, NULL, "the kernel can reset it");
                else
                        r = add(l, a->address, "reset", CHECK_NOT_READY,
                                "update the GPU's firmware, or put it in a slot whose port can reset its link; until "
                                "then reserve it or give it to one long-lived VM",
                                "the kernel knows no way to reset it, so it cannot go cleanly from one VM to the next");
        }
        if (r < 0)
                return r;

        /* BARs and the window a VM gets */
        {
                uint64_t bars = 0;

                for (size_t k = 0; k < a->n_group; k++)
                        if (!a->group[k].is_bridge)
                                bars += a->group[k].bar64_bytes;
                if (a->n_group == 0)
                        bars = a->bar64_bytes;
                r = add(l, a->address, "mmio", CHECK_READY, NULL,
                        "64-bit BARs of %s; a VM with it gets a 64-bit PCI window of %s",
                        format_bytes(b1, sizeof(b1), bars),
                        format_bytes(b2, sizeof(b2), passthrough_mmio64_window(one, 1)));
                if (r < 0)
                        return r;
        }

        /* NUMA */
        if (a->numa_node >= 0) {
                const char *cpus = NULL;

                for (size_t k = 0; in->host && k < in->host->n_numa; k++)
                        if (in->host->numa[k].id == a->numa_node)
                                cpus = in->host->numa[k].cpulist;
                r = add(l, a->address, "numa", CHECK_READY, NULL,
                        "node %d%s%s%s: VMs with it are bound there", a->numa_node, cpus ? " (CPUs " : "",
                        strempty(cpus), cpus ? ")" : "");
        } else if (in->host && in->host->n_numa > 1)
                r = add(l, a->address, "numa", CHECK_ADVICE,
                        "turn on ACPI SRAT / NUMA-aware PCI (proximity domains) in the firmware setup",
                        "the firmware gives no NUMA node for it, so VMs with it are not bound to one of the %zu nodes",
                        in->host->n_numa);
        else
                r = add(l, a->address, "numa", CHECK_READY, NULL, "one NUMA node on this host");
        if (r < 0)
                return r;

        /* PCIe link: the width is what the slot gives; a lower speed is often only an idle GPU. */
        if (a->link_width > 0 && a->max_link_width > a->link_width)
                r = add(l, a->address, "link", CHECK_ADVICE, "move it to a slot wired for all its lanes",
                        "its link is x%u of the x%u it can use, which limits its bandwidth to the host",
                        a->link_width, a->max_link_width);
        else if (a->link_width > 0)
                r = add(l, a->address, "link", CHECK_READY, NULL, "%s x%u", strna(a->link_speed),
                        a->link_width);
        else
                r = add(l, a->address, "link", CHECK_READY, NULL, "no PCIe link information");
        return r;
}

int readiness_host_blocker(const ReadinessInput *in, bool kvm, char **ret) {
        static const char *const gating[] = {
                "iommu", "interrupt-remapping", "vfio-pci", "uefi-firmware", "hugepages", "kvm",
        };
        _cleanup_(check_list_done) CheckList l = {};
        int r;

        *ret = NULL;
        r = readiness_check_host(in, &l);
        if (r < 0)
                return r;
        for (size_t k = 0; k < l.n; k++) {
                bool gates = false;

                for (size_t g = 0; g < ELEMENTSOF(gating); g++)
                        gates = gates || streq(l.r[k].check, gating[g]);
                if (!gates || l.r[k].status != CHECK_NOT_READY || (streq(l.r[k].check, "kvm") && !kvm))
                        continue;
                *ret = strprintf("this host cannot pass GPUs through: %s (%s); %s", l.r[k].detail,
                                 l.r[k].check, strempty(l.r[k].remedy));
                return *ret ? 1 : -ENOMEM;
        }
        return 0;
}

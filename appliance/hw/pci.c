/* Host inventory from sysfs: PCI accelerators with their IOMMU groups, and NUMA nodes.
 *
 * Every read goes through a sysfs root ("/" in production, a fixture tree in tests), so the code
 * below is the one that runs on real machines. sysfs is trusted to be well-formed in production,
 * but the scanner still treats it as input: a missing attribute leaves its field unknown, a
 * malformed one is skipped, a device that cannot be identified is left out, and nothing in the
 * tree can make it crash. Only out-of-memory fails a scan. Debug logging only. */

#include <ctype.h>
#include <stdio.h>
#include <unistd.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "basic/dirent-util.h"
#include "basic/fileio.h"
#include "host-inventory.h"
#include "basic/log.h"
#include "basic/macro.h"
#include "basic/parse-util.h"
#include "basic/string-util.h"
#include "basic/sysfs-util.h"

#define PCI_DEVICES_DIR "sys/bus/pci/devices"
#define IOMMU_GROUPS_DIR "sys/kernel/iommu_groups"
#define NUMA_NODES_DIR "sys/devices/system/node"

#define PCI_BASE_CLASS_DISPLAY 0x03
#define PCI_BASE_CLASS_ACCELERATOR 0x12
#define PCI_CLASS_BRIDGE_PCI 0x0604 /* base class + subclass */

#define VENDOR_HUAWEI 0x19e5

/* Grows *array so that it holds at least `need` elements of `size` bytes. */
static int grow_array(void **array, size_t *allocated, size_t need, size_t size) {
        size_t a;
        void *p;

        if (need <= *allocated)
                return 0;
        a = MAX(need * 2, (size_t) 8);
        if (a > SIZE_MAX / size)
                return -ENOMEM;
        p = realloc(*array, a * size);
        if (!p)
                return -ENOMEM;
        *array = p;
        *allocated = a;
        return 0;
}
#define GROW(array, allocated, need) grow_array((void **) &(array), &(allocated), (need), sizeof(*(array)))

static const char *root_or_slash(const char *sysfs_root) {
        return isempty(sysfs_root) ? "/" : sysfs_root;
}

/* Strings we hand on end up in D-Bus messages and on the console: accept printable ASCII only. */
static bool string_is_printable(const char *s) {
        for (; *s; s++)
                if (*s < 0x20 || *s > 0x7e)
                        return false;
        return true;
}

/* ------------------------------------------------------------------------------------------ */
/* PCI addresses */

typedef struct PciAddress {
        unsigned domain, bus, slot, function;
} PciAddress;

static int parse_hex_digits(const char **p, size_t min, size_t max, unsigned *ret) {
        unsigned v = 0;
        size_t n = 0;

        for (; isxdigit((unsigned char) **p); (*p)++, n++) {
                char c = (char) tolower((unsigned char) **p);

                if (n == max)
                        return -EINVAL;
                v = v * 16 + (unsigned) (c <= '9' ? c - '0' : c - 'a' + 10);
        }
        if (n < min)
                return -EINVAL;
        *ret = v;
        return 0;
}

/* "dddd:bb:ss.f" as sysfs names PCI functions. The domain has at least 4 hex digits and may have
 * more (Intel VMD puts its devices in domains 10000 and up); the whole name must fit in
 * PCI_ADDRESS_MAX. */
static int pci_address_parse(const char *s, PciAddress *ret) {
        PciAddress a;
        const char *p = s;

        if (strlen(s) >= PCI_ADDRESS_MAX)
                return -EINVAL;
        if (parse_hex_digits(&p, 4, PCI_ADDRESS_MAX, &a.domain) < 0 || *p++ != ':')
                return -EINVAL;
        if (parse_hex_digits(&p, 2, 2, &a.bus) < 0 || *p++ != ':')
                return -EINVAL;
        if (parse_hex_digits(&p, 2, 2, &a.slot) < 0 || *p++ != '.')
                return -EINVAL;
        if (parse_hex_digits(&p, 1, 1, &a.function) < 0 || *p != 0)
                return -EINVAL;
        if (a.slot > 0x1f || a.function > 7)
                return -EINVAL;
        *ret = a;
        return 0;
}

static int pci_address_compare(const char *x, const char *y) {
        PciAddress a, b;

        /* Only parsed addresses are stored, so the fallback is for completeness. */
        if (pci_address_parse(x, &a) < 0 || pci_address_parse(y, &b) < 0)
                return strcmp(x, y);
        if (a.domain != b.domain)
                return a.domain < b.domain ? -1 : 1;
        if (a.bus != b.bus)
                return a.bus < b.bus ? -1 : 1;
        if (a.slot != b.slot)
                return a.slot < b.slot ? -1 : 1;
        if (a.function != b.function)
                return a.function < b.function ? -1 : 1;
        return 0;
}

static bool pci_address_is_valid(const char *s) {
        PciAddress a;

        return pci_address_parse(s, &a) >= 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Attributes of one function, "<root>/sys/bus/pci/devices/<address>/<attr>" */

static char *function_attr(const char *address, const char *attr) {
        return strprintf(PCI_DEVICES_DIR "/%s/%s", address, attr);
}

/* A number attribute ("0x10de", "16"), at most max. -ENOENT when absent, -EINVAL or -ERANGE when
 * malformed. */
static int read_number(const char *root, const char *address, const char *attr, int64_t min, int64_t max,
                       int64_t *ret) {
        _cleanup_free_ char *rel = function_attr(address, attr);
        int64_t v;
        int r;

        if (!rel)
                return -ENOMEM;
        r = sysfs_read_i64(root, rel, &v);
        if (r < 0)
                return r;
        if (v < min || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

/* A printable one-line attribute; *ret = NULL when it is absent, empty or malformed. Fails only
 * on OOM. */
static int read_text(const char *root, const char *address, const char *attr, char **ret) {
        _cleanup_free_ char *rel = function_attr(address, attr), *s = NULL;
        int r;

        if (!rel)
                return -ENOMEM;
        r = sysfs_read_string(root, rel, &s);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || isempty(s) || !string_is_printable(s))
                s = mfree(s);
        *ret = TAKE_PTR(s);
        return 0;
}

/* The bound driver's name from the "driver" symlink; *ret = NULL when unbound. */
static int read_driver(const char *root, const char *address, char **ret) {
        _cleanup_free_ char *rel = function_attr(address, "driver"), *s = NULL;
        int r;

        if (!rel)
                return -ENOMEM;
        r = sysfs_read_link_basename(root, rel, &s);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || !string_is_printable(s))
                s = mfree(s);
        *ret = TAKE_PTR(s);
        return 0;
}

/* The IOMMU group number from the "iommu_group" symlink; -1 when there is none. */
static int read_iommu_group_number(const char *root, const char *address, int *ret) {
        _cleanup_free_ char *rel = function_attr(address, "iommu_group"), *s = NULL;
        int r, g;

        if (!rel)
                return -ENOMEM;
        r = sysfs_read_link_basename(root, rel, &s);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || !isdigit((unsigned char) s[0]) || parse_int(s, &g) < 0)
                g = -1;
        *ret = g;
        return 0;
}

/* The link speed as the kernel words it ("32.0 GT/s PCIe"); NULL when absent or "Unknown" (a
 * link that is down, or a conventional PCI device). */
static int read_link_speed(const char *root, const char *address, const char *attr, char **ret) {
        _cleanup_free_ char *s = NULL;
        int r;

        r = read_text(root, address, attr, &s);
        if (r < 0)
                return r;
        if (s && startswith(s, "Unknown"))
                s = mfree(s);
        *ret = TAKE_PTR(s);
        return 0;
}

static unsigned read_link_width(const char *root, const char *address, const char *attr) {
        int64_t v;

        /* The kernel prints lanes in decimal; a link that is down reads 0, like an absent one. */
        if (read_number(root, address, attr, 0, 32, &v) < 0)
                return 0;
        return (unsigned) v;
}

/* Vendor, device and class: what identifies a function. Fails when any of them is missing or
 * malformed, and for vendor 0xffff (what a function that stopped answering config reads
 * return). */
static int read_ids(const char *root, const char *address, uint16_t *ret_vendor, uint16_t *ret_device,
                    uint32_t *ret_class) {
        int64_t vendor, device, class;
        int r;

        r = read_number(root, address, "vendor", 0, 0xfffe, &vendor);
        if (r < 0)
                return r;
        r = read_number(root, address, "device", 0, 0xffff, &device);
        if (r < 0)
                return r;
        r = read_number(root, address, "class", 0, 0xffffff, &class);
        if (r < 0)
                return r;
        *ret_vendor = (uint16_t) vendor;
        *ret_device = (uint16_t) device;
        *ret_class = (uint32_t) class;
        return 0;
}

/* SR-IOV virtual functions link to their physical function. */
static int function_is_virtual(const char *root, const char *address, bool *ret) {
        _cleanup_free_ char *rel = function_attr(address, "physfn"), *p = NULL;
        struct stat st;

        if (!rel)
                return -ENOMEM;
        p = sysfs_path(root, rel);
        if (!p)
                return -ENOMEM;
        *ret = lstat(p, &st) >= 0;
        return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* IOMMU groups */

static void pci_function_array_free(PciFunction *f, size_t n) {
        if (!f)
                return;
        for (size_t i = 0; i < n; i++) {
                free(f[i].driver);
                free(f[i].netdev);
        }
        free(f);
}

static int compare_functions(const void *a, const void *b) {
        return pci_address_compare(((const PciFunction *) a)->address, ((const PciFunction *) b)->address);
}

/* One member of a group. A member whose IDs cannot be read stays in the list with zero IDs: it is
 * in the group all the same, and whoever assigns the group must know about it. */
#define IORESOURCE_IO 0x00000100UL
#define IORESOURCE_MEM 0x00000200UL
#define IORESOURCE_MEM_64 0x00100000UL

int pci_parse_resource(const char *text, uint64_t *ret_bar64, uint64_t *ret_bar32, uint64_t *ret_bar64_max) {
        uint64_t bar64 = 0, bar32 = 0, bar64_max = 0;
        const char *p = text;

        for (unsigned line = 0; line < 6 && p && *p; line++) {
                unsigned long long start, end, flags;
                int n = 0;

                if (sscanf(p, "%llx %llx %llx%n", &start, &end, &flags, &n) != 3)
                        return -EBADMSG;
                if (end < start)
                        return -EBADMSG;
                if ((start != 0 || end != 0) && (flags & IORESOURCE_MEM)) {
                        uint64_t size = (uint64_t) (end - start) + 1;

                        if (flags & IORESOURCE_MEM_64) {
                                bar64 += size;
                                bar64_max = MAX(bar64_max, size);
                        } else
                                bar32 += size;
                }
                p = strchr(p + n, '\n');
                if (p)
                        p++;
        }
        *ret_bar64 = bar64;
        *ret_bar32 = bar32;
        if (ret_bar64_max)
                *ret_bar64_max = bar64_max;
        return 0;
}

/* BAR sizes of a function; zero when its resource file is absent or malformed. */
static void read_bars(const char *root, const char *address, uint64_t *ret_bar64, uint64_t *ret_bar32,
                      uint64_t *ret_bar64_max) {
        _cleanup_free_ char *rel = function_attr(address, "resource"), *path = NULL, *text = NULL;

        *ret_bar64 = *ret_bar32 = *ret_bar64_max = 0;
        if (!rel || !(path = sysfs_path(root, rel)) || read_full_file(path, &text, NULL) < 0)
                return;
        if (pci_parse_resource(text, ret_bar64, ret_bar32, ret_bar64_max) < 0)
                *ret_bar64 = *ret_bar32 = *ret_bar64_max = 0;
}

/* The first host network interface on a NIC function (its net/ directory) and whether its link
 * is up. Nothing when it has none (unbound, or bound to vfio-pci). Fails only on OOM. */
static int read_netdev(const char *root, const char *address, char **ret_name, bool *ret_up) {
        _cleanup_free_ char *rel = function_attr(address, "net"), *path = NULL, *state_rel = NULL,
                            *state = NULL;
        _cleanup_strv_free_ char **names = NULL;
        int r;

        *ret_name = NULL;
        *ret_up = false;
        if (!rel || !(path = sysfs_path(root, rel)))
                return -ENOMEM;
        r = dir_list_names(path, &names);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || !names[0] || !string_is_printable(names[0]))
                return 0;
        state_rel = strprintf("%s/%s/operstate", rel, names[0]);
        if (!state_rel)
                return -ENOMEM;
        if (sysfs_read_string(root, state_rel, &state) == -ENOMEM)
                return -ENOMEM;
        *ret_up = state && streq(state, "up");
        *ret_name = strdup(names[0]);
        return *ret_name ? 0 : -ENOMEM;
}

/* The PCI functions above `address`, from the devices/ link ("../../../devices/pci0000:15/
 * 0000:15:01.0/0000:16:00.0/0000:17:00.0/0000:18:00.0"): the root port and, behind a switch,
 * the switch's upstream port. Both NULL when the device sits on a root bus. */
static int read_topology(const char *root, const char *address, char **ret_root_port,
                         char **ret_switch_port) {
        _cleanup_free_ char *rel = strprintf(PCI_DEVICES_DIR "/%s", address), *path = NULL;
        char target[PATH_MAX], *parts[32], *save = NULL, *tok;
        size_t n = 0;
        ssize_t k;

        *ret_root_port = *ret_switch_port = NULL;
        if (!rel || !(path = sysfs_path(root, rel)))
                return -ENOMEM;
        k = readlink(path, target, sizeof(target) - 1);
        if (k < 0)
                return 0;
        target[k] = 0;
        for (tok = strtok_r(target, "/", &save); tok && n < ELEMENTSOF(parts);
             tok = strtok_r(NULL, "/", &save))
                if (pci_address_is_valid(tok))
                        parts[n++] = tok;
        /* parts[n-1] is the device itself. */
        if (n >= 2 && !(*ret_root_port = strdup(parts[0])))
                return -ENOMEM;
        if (n >= 4 && !(*ret_switch_port = strdup(parts[1])))
                return -ENOMEM;
        return 0;
}

static int read_function(const char *root, const char *address, PciFunction *ret) {
        PciFunction f = {};
        int r;

        strcpy(f.address, address); /* length checked by pci_address_parse() */
        r = read_ids(root, address, &f.vendor, &f.device, &f.class);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                log_debug("Cannot identify IOMMU group member %s: %s", address, strerror(-r));
        f.is_bridge = (f.class >> 8) == PCI_CLASS_BRIDGE_PCI;
        r = read_driver(root, address, &f.driver);
        if (r < 0)
                return r;
        read_bars(root, address, &f.bar64_bytes, &f.bar32_bytes, &f.bar64_max);
        if ((f.class >> 16) == 0x02) {
                r = read_netdev(root, address, &f.netdev, &f.netdev_up);
                if (r < 0) {
                        free(f.driver);
                        return r;
                }
        }
        *ret = f;
        return 0;
}

typedef struct PciFunctionList {
        PciFunction *f;
        size_t n, allocated;
} PciFunctionList;

static void pci_function_list_done(PciFunctionList *l) {
        pci_function_array_free(l->f, l->n);
}

static int pci_function_list_add(PciFunctionList *l, const char *root, const char *address) {
        int r;

        r = GROW(l->f, l->allocated, l->n + 1);
        if (r < 0)
                return r;
        r = read_function(root, address, &l->f[l->n]);
        if (r < 0)
                return r;
        l->n++;
        return 0;
}

/* Every function in group `group`, sorted by address. `self` is always in the list: if the
 * group's member directory is missing or does not name it, the tree is inconsistent, but the
 * device is certainly in its own group. */
static int read_iommu_group(const char *root, int group, const char *self, PciFunction **ret,
                            size_t *ret_n) {
        _cleanup_(pci_function_list_done) PciFunctionList list = {};
        _cleanup_free_ char *rel = NULL, *dir = NULL;
        _cleanup_strv_free_ char **names = NULL;
        bool have_self = false;
        int r;

        rel = strprintf(IOMMU_GROUPS_DIR "/%d/devices", group);
        if (!rel)
                return -ENOMEM;
        dir = sysfs_path(root, rel);
        if (!dir)
                return -ENOMEM;
        r = dir_list_names(dir, &names);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                log_debug("Cannot list members of IOMMU group %d: %s", group, strerror(-r));

        for (char **m = names; m && *m; m++) {
                if (!pci_address_is_valid(*m))
                        continue;
                if (streq(*m, self))
                        have_self = true;
                r = pci_function_list_add(&list, root, *m);
                if (r < 0)
                        return r;
        }
        if (!have_self) {
                r = pci_function_list_add(&list, root, self);
                if (r < 0)
                        return r;
        }

        qsort(list.f, list.n, sizeof(PciFunction), compare_functions);
        *ret = TAKE_PTR(list.f);
        *ret_n = list.n;
        list.n = 0;
        return 0;
}

bool pci_iommu_enabled(const char *sysfs_root) {
        _cleanup_free_ char *dir = sysfs_path(root_or_slash(sysfs_root), IOMMU_GROUPS_DIR);
        _cleanup_strv_free_ char **names = NULL;

        /* The kernel creates the directory whether or not an IOMMU is active; groups appear in
         * it only when one is. */
        if (!dir || dir_list_names(dir, &names) < 0)
                return false;
        for (char **n = names; *n; n++) {
                int g;

                if (isdigit((unsigned char) (*n)[0]) && parse_int(*n, &g) >= 0)
                        return true;
        }
        return false;
}

/* ------------------------------------------------------------------------------------------ */
/* Accelerators */

void accelerator_done(Accelerator *a) {
        if (!a)
                return;
        free(a->model);
        pci_function_array_free(a->group, a->n_group);
        free(a->link_speed);
        free(a->max_link_speed);
        free(a->driver);
        free(a->health);
        free(a->conflict);
        free(a->root_port);
        free(a->switch_port);
        free(a->claimed_by);
        free(a->claimed_by_tenant);
        free(a->hold);
        free(a->hold_reason);
        *a = (Accelerator) {
                .iommu_group = -1,
                .numa_node = -1,
        };
}

void accelerator_array_free(Accelerator *a, size_t n) {
        if (!a)
                return;
        for (size_t i = 0; i < n; i++)
                accelerator_done(&a[i]);
        free(a);
}

static bool is_accelerator(uint16_t vendor, uint16_t device, uint32_t class) {
        uint8_t base = (uint8_t) (class >> 16);

        if (base != PCI_BASE_CLASS_DISPLAY && base != PCI_BASE_CLASS_ACCELERATOR)
                return false;
        if (!pci_vendor_name(vendor))
                return false;
        /* Kunpeng CPUs carry on-chip engines (the ZIP compressor, 19e5:a250) that are class 0x12
         * "processing accelerator" under Huawei's vendor ID too. Ascend NPUs are the 0xdxxx
         * device IDs (310 d100, 310P d500, 910 d801, 910B d802, ...). */
        if (vendor == VENDOR_HUAWEI && (device & 0xf000) != 0xd000)
                return false;
        return true;
}

/* The sentence saying why the device is unhealthy, or NULL: fatal uncorrectable errors the
 * kernel's AER counted since boot, or a link that is down. */
static int read_health(const char *root, const Accelerator *a, char **ret) {
        _cleanup_free_ char *rel = function_attr(a->address, "aer_dev_fatal"), *p = NULL, *text = NULL;
        const char *t;

        *ret = NULL;
        if (!rel || !(p = sysfs_path(root, rel)))
                return -ENOMEM;
        if (read_full_file(p, &text, NULL) >= 0 && (t = strstr(text, "TOTAL_ERR_FATAL "))) {
                unsigned long long n = strtoull(t + strlen("TOTAL_ERR_FATAL "), NULL, 10);

                if (n > 0) {
                        *ret = strprintf("%llu fatal PCIe error%s reported since boot (AER)", n,
                                         n == 1 ? "" : "s");
                        return *ret ? 0 : -ENOMEM;
                }
        }
        if (a->max_link_width > 0 && a->link_width == 0 && a->link_speed) {
                *ret = strdup("its PCIe link is down");
                return *ret ? 0 : -ENOMEM;
        }
        return 0;
}

static int accelerator_read(const char *root, const char *address, uint16_t vendor, uint16_t device,
                            uint32_t class, Accelerator *ret) {
        _cleanup_(accelerator_done) Accelerator a = {
                .vendor = vendor,
                .device = device,
                .class = class,
                .iommu_group = -1,
                .numa_node = -1,
        };
        const PciModel *m;
        int64_t v;
        int r;

        strcpy(a.address, address); /* length checked by pci_address_parse() */
        a.vendor_name = pci_vendor_name(vendor);

        if (read_number(root, address, "subsystem_vendor", 0, 0xffff, &v) >= 0)
                a.subsystem_vendor = (uint16_t) v;
        if (read_number(root, address, "subsystem_device", 0, 0xffff, &v) >= 0)
                a.subsystem_device = (uint16_t) v;

        m = pci_model_lookup(vendor, device, a.subsystem_device);
        if (m) {
                a.model = strdup(m->name);
                a.memory_bytes = m->memory_bytes;
        } else
                a.model = strprintf("%04x:%04x", vendor, device);
        if (!a.model)
                return -ENOMEM;

        /* "-1" is what the kernel says when the firmware gave no proximity information. */
        if (read_number(root, address, "numa_node", -1, INT_MAX, &v) >= 0)
                a.numa_node = (int) v;

        r = read_link_speed(root, address, "current_link_speed", &a.link_speed);
        if (r < 0)
                return r;
        r = read_link_speed(root, address, "max_link_speed", &a.max_link_speed);
        if (r < 0)
                return r;
        a.link_width = read_link_width(root, address, "current_link_width");
        a.max_link_width = read_link_width(root, address, "max_link_width");

        r = read_driver(root, address, &a.driver);
        if (r < 0)
                return r;
        read_bars(root, address, &a.bar64_bytes, &a.bar32_bytes, &a.bar64_max);
        r = read_health(root, &a, &a.health);
        if (r < 0)
                return r;
        {
                /* Kernel 5.15+ lists the methods in reset_method (empty: none); older kernels have a
                 * "reset" file exactly when there is one. */
                _cleanup_free_ char *methods = NULL, *rel = function_attr(address, "reset"), *p = NULL;

                r = read_text(root, address, "reset_method", &methods);
                if (r < 0)
                        return r;
                if (!rel || !(p = sysfs_path(root, rel)))
                        return -ENOMEM;
                a.no_reset = !methods && access(p, F_OK) < 0;
        }
        r = read_topology(root, address, &a.root_port, &a.switch_port);
        if (r < 0)
                return r;

        r = read_iommu_group_number(root, address, &a.iommu_group);
        if (r < 0)
                return r;
        if (a.iommu_group >= 0) {
                r = read_iommu_group(root, a.iommu_group, address, &a.group, &a.n_group);
                if (r < 0)
                        return r;
        }

        *ret = a;
        a = (Accelerator) {};
        return 0;
}

static int compare_accelerators(const void *a, const void *b) {
        return pci_address_compare(((const Accelerator *) a)->address, ((const Accelerator *) b)->address);
}

typedef struct AcceleratorList {
        Accelerator *a;
        size_t n, allocated;
} AcceleratorList;

static void accelerator_list_done(AcceleratorList *l) {
        accelerator_array_free(l->a, l->n);
}

int pci_scan_accelerators(const char *sysfs_root, Accelerator **ret, size_t *ret_n) {
        _cleanup_(accelerator_list_done) AcceleratorList list = {};
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_free_ char *dir = NULL;
        const char *root = root_or_slash(sysfs_root);
        struct stat st;
        int r;

        if (!ret || !ret_n)
                return -EINVAL;

        /* A root that is not there is a configuration error; a root without a PCI bus is a
         * machine (or a container) without one. */
        if (stat(root, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;

        dir = sysfs_path(root, PCI_DEVICES_DIR);
        if (!dir)
                return -ENOMEM;
        r = dir_list_names(dir, &names);
        if (r == -ENOENT || r == -ENOTDIR) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        if (r < 0)
                return r;

        for (char **name = names; *name; name++) {
                uint16_t vendor, device;
                uint32_t class;
                bool is_vf;

                if (!pci_address_is_valid(*name)) {
                        log_debug("Ignoring '%s' in " PCI_DEVICES_DIR ": not a PCI address.", *name);
                        continue;
                }
                r = read_ids(root, *name, &vendor, &device, &class);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        log_debug("Ignoring PCI function %s: cannot read its IDs: %s", *name, strerror(-r));
                        continue;
                }
                if (!is_accelerator(vendor, device, class))
                        continue;
                /* An accelerator is a physical device. The virtual functions of an SR-IOV capable
                 * one (Ascend NPUs, NVIDIA vGPU) carry the same IDs, but they are partitions of
                 * it, not more devices. */
                r = function_is_virtual(root, *name, &is_vf);
                if (r < 0)
                        return r;
                if (is_vf)
                        continue;

                r = GROW(list.a, list.allocated, list.n + 1);
                if (r < 0)
                        return r;
                r = accelerator_read(root, *name, vendor, device, class, &list.a[list.n]);
                if (r < 0)
                        return r;
                list.n++;
        }

        if (list.n > 0)
                qsort(list.a, list.n, sizeof(Accelerator), compare_accelerators);
        *ret = list.n > 0 ? TAKE_PTR(list.a) : NULL;
        *ret_n = list.n;
        list.n = 0;
        return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* NUMA nodes */

/* Number of CPUs in a kernel CPU list ("0-55,112-167"; "" for a node without CPUs). */
static int cpulist_count(const char *s, unsigned *ret) {
        uint64_t total = 0;

        while (*s) {
                unsigned long lo, hi;
                char *e;

                if (!isdigit((unsigned char) *s))
                        return -EINVAL;
                errno = 0;
                lo = strtoul(s, &e, 10);
                if (errno != 0)
                        return -ERANGE;
                hi = lo;
                if (*e == '-') {
                        s = e + 1;
                        if (!isdigit((unsigned char) *s))
                                return -EINVAL;
                        hi = strtoul(s, &e, 10);
                        if (errno != 0)
                                return -ERANGE;
                        if (hi < lo)
                                return -EINVAL;
                }
                if (hi - lo >= UINT_MAX)
                        return -ERANGE;
                total += (uint64_t) (hi - lo) + 1;
                if (total > UINT_MAX)
                        return -ERANGE;
                if (*e == ',' && e[1] != 0)
                        e++;
                else if (*e != 0)
                        return -EINVAL;
                s = e;
        }
        *ret = (unsigned) total;
        return 0;
}

/* MemTotal from a node's meminfo ("Node 0 MemTotal:       1073741824 kB"), in bytes. */
static int meminfo_total(const char *text, uint64_t *ret) {
        const char *p = strstr(text, "MemTotal:");
        uint64_t v = 0;

        if (!p)
                return -ENODATA;
        p += strlen("MemTotal:");
        p += strspn(p, " \t");
        if (!isdigit((unsigned char) *p))
                return -EINVAL;
        for (; isdigit((unsigned char) *p); p++) {
                if (v > (UINT64_MAX - 9) / 10)
                        return -ERANGE;
                v = v * 10 + (uint64_t) (*p - '0');
        }
        p += strspn(p, " \t");
        if (!startswith(p, "kB"))
                return -EINVAL;
        if (v > UINT64_MAX / 1024)
                return -ERANGE;
        *ret = v * 1024;
        return 0;
}

void numa_array_free(NumaNode *n, size_t count) {
        if (!n)
                return;
        for (size_t i = 0; i < count; i++)
                free(n[i].cpulist);
        free(n);
}

static int compare_numa(const void *a, const void *b) {
        int x = ((const NumaNode *) a)->id, y = ((const NumaNode *) b)->id;

        return x < y ? -1 : x > y;
}

typedef struct NumaList {
        NumaNode *n;
        size_t count, allocated;
} NumaList;

static void numa_list_done(NumaList *l) {
        numa_array_free(l->n, l->count);
}

static int numa_node_read(const char *root, const char *name, int id, NumaNode *ret) {
        _cleanup_free_ char *rel = NULL, *cpulist = NULL, *path = NULL, *meminfo = NULL;
        NumaNode node = { .id = id };
        int r;

        rel = strprintf(NUMA_NODES_DIR "/%s/cpulist", name);
        if (!rel)
                return -ENOMEM;
        r = sysfs_read_string(root, rel, &cpulist);
        if (r == -ENOMEM)
                return r;
        if (r >= 0 && (!string_is_printable(cpulist) || cpulist_count(cpulist, &node.n_cpus) < 0)) {
                log_debug("Ignoring malformed CPU list of NUMA node %d.", id);
                cpulist = mfree(cpulist);
                node.n_cpus = 0;
        }

        free(rel);
        rel = strprintf(NUMA_NODES_DIR "/%s/meminfo", name);
        if (!rel)
                return -ENOMEM;
        path = sysfs_path(root, rel);
        if (!path)
                return -ENOMEM;
        r = read_full_file(path, &meminfo, NULL);
        if (r == -ENOMEM)
                return r;
        if (r >= 0 && meminfo_total(meminfo, &node.memory_bytes) < 0) {
                log_debug("Ignoring malformed meminfo of NUMA node %d.", id);
                node.memory_bytes = 0;
        }

        node.cpulist = TAKE_PTR(cpulist);
        *ret = node;
        return 0;
}

int sysfs_read_numa(const char *sysfs_root, NumaNode **ret, size_t *ret_n) {
        _cleanup_(numa_list_done) NumaList list = {};
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_free_ char *dir = NULL;
        const char *root = root_or_slash(sysfs_root);
        int r;

        if (!ret || !ret_n)
                return -EINVAL;

        dir = sysfs_path(root, NUMA_NODES_DIR);
        if (!dir)
                return -ENOMEM;
        r = dir_list_names(dir, &names);
        if (r == -ENOENT || r == -ENOTDIR) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        if (r < 0)
                return r;

        for (char **name = names; *name; name++) {
                const char *num = startswith(*name, "node");
                int id;

                /* "node12", not "node012" (which would alias node12) nor "node-1". */
                if (!num || !isdigit((unsigned char) num[0]) || (num[0] == '0' && num[1]) ||
                    parse_int(num, &id) < 0)
                        continue;

                r = GROW(list.n, list.allocated, list.count + 1);
                if (r < 0)
                        return r;
                r = numa_node_read(root, *name, id, &list.n[list.count]);
                if (r < 0)
                        return r;
                list.count++;
        }

        if (list.count > 0)
                qsort(list.n, list.count, sizeof(NumaNode), compare_numa);
        *ret = list.count > 0 ? TAKE_PTR(list.n) : NULL;
        *ret_n = list.count;
        list.count = 0;
        return 0;
}

void host_info_done(HostInfo *h) {
        if (!h)
                return;
        free(h->hostname);
        free(h->cpu_model);
        free(h->arch);
        numa_array_free(h->numa, h->n_numa);
        *h = (HostInfo) {};
}

int sysfs_read_cpu_model(const char *sysfs_root, char **ret) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        char *line, *save = NULL;
        int r;

        path = sysfs_path(root_or_slash(sysfs_root), "proc/cpuinfo");
        if (!path)
                return -ENOMEM;
        r = read_full_file(path, &text, NULL);
        if (r < 0)
                return r;
        for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                const char *v = startswith(line, "model name");
                char *colon, *model;

                if (!v || !(colon = strchr(v, ':')))
                        continue;
                model = strstrip(colon + 1);
                if (isempty(model))
                        continue;
                model = strdup(model);
                if (!model)
                        return -ENOMEM;
                *ret = model;
                return 0;
        }
        return -ENOENT;
}

const char *accelerator_claim_state(const Accelerator *a) {
        if (a->hold)
                return a->hold;
        if (a->conflict)
                return "conflict";
        if (a->health)
                return "unhealthy";
        return a->claimed_by ? "claimed" : "free";
}


unsigned sysfs_read_phys_bits(const char *sysfs_root) {
        _cleanup_free_ char *path = sysfs_path(root_or_slash(sysfs_root), "proc/cpuinfo"), *text = NULL;
        const char *p;
        unsigned bits = 0;

        if (!path || read_full_file(path, &text, NULL) < 0)
                return 0;
        p = strstr(text, "address sizes");
        if (p && (p = strchr(p, ':')) && sscanf(p + 1, "%u bits physical", &bits) == 1 && bits <= 64)
                return bits;
        return 0;
}

int pci_refresh_driver(const char *sysfs_root, Accelerator *a) {
        char *d = NULL;
        int r;

        r = read_driver(root_or_slash(sysfs_root), a->address, &d);
        if (r < 0)
                return r;
        free(a->driver);
        a->driver = d;
        return 0;
}

int pci_refresh_health(const char *sysfs_root, Accelerator *a) {
        char *h = NULL;
        int r;

        a->link_width = read_link_width(root_or_slash(sysfs_root), a->address, "current_link_width");
        r = read_health(root_or_slash(sysfs_root), a, &h);
        if (r < 0)
                return r;
        free(a->health);
        a->health = h;
        return 0;
}

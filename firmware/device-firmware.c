/* Device firmware (device-firmware.h). */

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "device-firmware.h"
#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"

static void read_attr(const char *root, const char *rel, char *buf, size_t l) {
        _cleanup_free_ char *p = strprintf("%s/%s", root, rel), *v = NULL;

        buf[0] = 0;
        if (p && read_one_line_file(p, &v) >= 0)
                snprintf(buf, l, "%s", strstrip(v));
}

/* A "Key: value" line of a /proc text. */
static void proc_field(const char *text, const char *key, char *buf, size_t l) {
        const char *p = text ? strstr(text, key) : NULL;
        size_t n;

        buf[0] = 0;
        if (!p)
                return;
        p += strlen(key);
        p += strspn(p, " \t");
        n = strcspn(p, "\n");
        snprintf(buf, l, "%.*s", (int) n, p);
}

/* The interface of a PCI network function, from its net/ directory. */
static void nic_name(const char *root, const char *addr, char *buf, size_t l) {
        _cleanup_free_ char *p = strprintf("%s/sys/bus/pci/devices/%s/net", root, addr);
        DIR *d = p ? opendir(p) : NULL;
        struct dirent *de;

        buf[0] = 0;
        while (d && (de = readdir(d)))
                if (de->d_name[0] != '.') {
                        snprintf(buf, l, "%.63s", de->d_name);
                        break;
                }
        if (d)
                closedir(d);
}

/* A live interface's firmware version, as `ethtool -i` reads it (ETHTOOL_GDRVINFO: the kernel's
 * ethtool netlink family has no driver-info message). */
static int nic_firmware(const char *ifname, char *version, size_t l, char *driver, size_t dl) {
        struct ethtool_drvinfo info = { .cmd = ETHTOOL_GDRVINFO };
        struct ifreq ifr = {};
        int fd, r;

        if (strlen(ifname) >= sizeof(ifr.ifr_name))
                return -EINVAL;
        fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
        ifr.ifr_data = (void *) &info;
        r = ioctl(fd, SIOCETHTOOL, &ifr) < 0 ? -errno : 0;
        close(fd);
        if (r < 0)
                return r;
        snprintf(version, l, "%.*s", (int) strnlen(info.fw_version, sizeof(info.fw_version)),
                 info.fw_version);
        snprintf(driver, dl, "%.*s", (int) strnlen(info.driver, sizeof(info.driver)), info.driver);
        return 0;
}

static int add(FirmwareItem **l, size_t *n, const FirmwareItem *it) {
        FirmwareItem *nl = realloc(*l, (*n + 1) * sizeof(FirmwareItem));

        if (!nl)
                return -ENOMEM;
        nl[(*n)++] = *it;
        *l = nl;
        return 0;
}

static int compare_names(const struct dirent **a, const struct dirent **b) {
        return strcmp((*a)->d_name, (*b)->d_name);
}

int firmware_list(const char *root, FirmwareItem **ret, size_t *ret_n) {
        _cleanup_free_ char *pci = strprintf("%s/sys/bus/pci/devices", root);
        struct dirent **names = NULL;
        FirmwareItem *l = NULL, sys = { .device = "system", .kind = "system", .component = "BIOS" };
        char vendor[64], product[64], date[32];
        size_t n = 0;
        int count, r = 0;

        if (!pci)
                return -ENOMEM;
        read_attr(root, "sys/class/dmi/id/bios_version", sys.version, sizeof(sys.version));
        read_attr(root, "sys/class/dmi/id/sys_vendor", vendor, sizeof(vendor));
        read_attr(root, "sys/class/dmi/id/product_name", product, sizeof(product));
        read_attr(root, "sys/class/dmi/id/bios_date", date, sizeof(date));
        snprintf(sys.model, sizeof(sys.model), "%s%s%s", vendor, *vendor && *product ? " " : "", product);
        if (sys.version[0])
                snprintf(sys.source, sizeof(sys.source), "DMI%s%s", date[0] ? ", dated " : "", date);
        else
                snprintf(sys.source, sizeof(sys.source), "not known: no DMI table");
        r = add(&l, &n, &sys);
        count = scandir(pci, &names, NULL, compare_names);
        for (int k = 0; r >= 0 && k < count; k++) {
                const char *addr = names[k]->d_name;
                FirmwareItem it = {};
                char cls[16], ven[16], dev[16], rel[512], driver[256] = "";
                unsigned long c;

                if (addr[0] == '.')
                        continue;
                snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/class", addr);
                read_attr(root, rel, cls, sizeof(cls));
                c = strtoul(cls, NULL, 16);
                snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/vendor", addr);
                read_attr(root, rel, ven, sizeof(ven));
                snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/device", addr);
                read_attr(root, rel, dev, sizeof(dev));
                {
                        _cleanup_free_ char *link = strprintf("%s/sys/bus/pci/devices/%s/driver", root,
                                                              addr),
                                            *target = NULL;
                        char buf[512];
                        ssize_t m = link ? readlink(link, buf, sizeof(buf) - 1) : -1;

                        if (m > 0) {
                                buf[m] = 0;
                                snprintf(driver, sizeof(driver), "%.255s",
                                         strrchr(buf, '/') ? strrchr(buf, '/') + 1 : buf);
                        }
                }
                if ((c >> 16) == 0x03 || (c >> 16) == 0x12)
                        snprintf(it.kind, sizeof(it.kind), "%s", (c >> 16) == 0x03 ? "gpu" : "accelerator");
                else if ((c >> 16) == 0x02)
                        snprintf(it.kind, sizeof(it.kind), "nic");
                else
                        continue;
                snprintf(it.device, sizeof(it.device), "%.31s", addr);
                snprintf(it.model, sizeof(it.model), "%s:%s", ven[0] ? ven + 2 : "?",
                         dev[0] ? dev + 2 : "?");
                snprintf(it.component, sizeof(it.component), "%s",
                         streq(it.kind, "nic") ? "firmware" : "VBIOS");
                if (streq(driver, "nvidia")) {
                        _cleanup_free_ char *p = strprintf("%s/proc/driver/nvidia/gpus/%s/information", root,
                                                           addr),
                                            *text = NULL;
                        char model[128];
                        size_t tn;

                        if (p && read_full_file(p, &text, &tn) >= 0) {
                                proc_field(text, "Video BIOS:", it.version, sizeof(it.version));
                                proc_field(text, "Model:", model, sizeof(model));
                                if (model[0])
                                        snprintf(it.model, sizeof(it.model), "%s", model);
                                snprintf(it.source, sizeof(it.source), "the NVIDIA driver");
                        } else
                                snprintf(it.source, sizeof(it.source),
                                         "not known: the NVIDIA driver says nothing");
                } else if (streq(driver, "amdgpu")) {
                        snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/vbios_version", addr);
                        read_attr(root, rel, it.version, sizeof(it.version));
                        snprintf(it.source, sizeof(it.source),
                                 it.version[0] ? "amdgpu" : "not known: amdgpu says nothing");
                } else if (streq(it.kind, "nic")) {
                        char ifname[64], drv[32];
                        int q;

                        nic_name(root, addr, ifname, sizeof(ifname));
                        if (!ifname[0])
                                snprintf(it.source, sizeof(it.source),
                                         "not known: no network interface (driver %s)",
                                         driver[0] ? driver : "none");
                        else if (!streq(root, "/"))
                                snprintf(it.source, sizeof(it.source),
                                         "not known: %s is not live (fixture tree)", ifname);
                        else if ((q = nic_firmware(ifname, it.version, sizeof(it.version), drv,
                                                   sizeof(drv))) < 0)
                                snprintf(it.source, sizeof(it.source), "not known: ethtool on %s: %s",
                                         ifname, strerror(-q));
                        else if (!it.version[0] || streq(it.version, "N/A"))
                                snprintf(it.source, sizeof(it.source),
                                         "not known: %s (%s) does not report it", ifname, drv);
                        else
                                snprintf(it.source, sizeof(it.source), "ethtool (%s, %s)", ifname, drv);
                        if (streq(it.version, "N/A"))
                                it.version[0] = 0;
                } else if (streq(driver, "vfio-pci"))
                        snprintf(it.source, sizeof(it.source),
                                 "not known: passed through (vfio-pci), no host driver");
                else
                        snprintf(it.source, sizeof(it.source), "not known: driver %s does not report it",
                                 driver[0] ? driver : "none");
                r = add(&l, &n, &it);
        }
        for (int k = 0; k < count; k++)
                free(names[k]);
        free(names);
        if (r < 0) {
                free(l);
                return r;
        }
        *ret = l;
        *ret_n = n;
        return 0;
}

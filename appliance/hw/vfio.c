/* vfio-pci binding through sysfs; see vfio.h. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/macro.h"
#include "basic/parse-util.h"
#include "basic/string-util.h"
#include "basic/sysfs-util.h"
#include "vfio.h"

#define DEVICES "sys/bus/pci/devices"
#define DRIVERS "sys/bus/pci/drivers"

static int device_exists(const char *root, const char *address) {
        _cleanup_free_ char *rel = NULL, *p = NULL;

        if (!pci_address_is_canonical(address))
                return -EINVAL;
        rel = strprintf(DEVICES "/%s", address);
        if (!rel || !(p = sysfs_path(root, rel)))
                return -ENOMEM;
        return access(p, F_OK) < 0 ? -errno : 0;
}

int vfio_current_driver(const char *root, const char *address, char **ret) {
        _cleanup_free_ char *rel = NULL;
        int r;

        r = device_exists(root, address);
        if (r < 0)
                return r;
        rel = strprintf(DEVICES "/%s/driver", address);
        if (!rel)
                return -ENOMEM;
        r = sysfs_read_link_basename(root, rel, ret);
        if (r == -ENOENT) {
                *ret = NULL;
                return 0;
        }
        return r;
}

/* Writes value to <dir>/<name>/<attr> under the sysfs root. */
static int write_attr(const char *root, const char *dir, const char *name, const char *attr,
                      const char *value) {
        _cleanup_free_ char *rel = strprintf("%s/%s/%s", dir, name, attr);

        if (!rel)
                return -ENOMEM;
        return sysfs_write_string(root, rel, value);
}

int vfio_bind(const char *root, const char *address) {
        _cleanup_free_ char *driver = NULL;
        int r;

        r = vfio_current_driver(root, address, &driver);
        if (r < 0)
                return r;
        if (driver && streq(driver, "vfio-pci"))
                return 0;
        /* The override first: whatever probes the device next, only vfio-pci may take it. */
        r = write_attr(root, DEVICES, address, "driver_override", "vfio-pci");
        if (r < 0)
                return r;
        if (driver) {
                r = write_attr(root, DRIVERS, driver, "unbind", address);
                if (r < 0)
                        return r;
        }
        return sysfs_write_string(root, "sys/bus/pci/drivers_probe", address);
}

int vfio_release(const char *root, const char *address) {
        _cleanup_free_ char *driver = NULL;
        int r;

        r = vfio_current_driver(root, address, &driver);
        if (r < 0)
                return r;
        if (!driver || !streq(driver, "vfio-pci"))
                return 0;
        /* An empty override ("\n") lets the device's own driver match again. */
        r = write_attr(root, DEVICES, address, "driver_override", "\n");
        if (r < 0)
                return r;
        r = write_attr(root, DRIVERS, "vfio-pci", "unbind", address);
        if (r < 0)
                return r;
        return sysfs_write_string(root, "sys/bus/pci/drivers_probe", address);
}

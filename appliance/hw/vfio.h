#pragma once

/* Ark's own path for handing PCI functions to vfio-pci and back, through sysfs under the sysfs
 * root (a fixture tree in tests, where the writes land in plain files). libvirt does the same for
 * the hostdevs of running VMs (managed='yes'); Ark uses this for the devices the admin wants on
 * vfio-pci from boot (VfioAtBoot=) and to return released devices to their host driver. Nothing
 * here logs. */

/* The driver bound to the function (newly allocated), or NULL when none. -ENOENT when there is no
 * such device. */
int vfio_current_driver(const char *sysfs_root, const char *address, char **ret);

/* Binds the function to vfio-pci: driver_override = "vfio-pci", unbind from its current driver,
 * then ask the bus to probe it (which binds vfio-pci). A no-op when it is on vfio-pci already.
 * Returns 0 or a negative errno (-ENOENT: no such device). */
int vfio_bind(const char *sysfs_root, const char *address);

/* Gives it back to its host driver: clears driver_override, unbinds from vfio-pci, reprobes. A
 * no-op when it is not on vfio-pci. */
int vfio_release(const char *sysfs_root, const char *address);

#pragma once

/* The VM driver's parts that need no libvirt connection. The driver itself is vm_driver
 * (driver.h); hypervisor.h holds its libvirt side. */

typedef struct Instance Instance;

/* Builds the domain XML of a VM from its stored spec and the host (its GPUs' functions, UEFI, the
 * 64-bit window, NUMA binding). Returns 0 and a newly allocated string, -ENODEV when a GPU it
 * claims is not on this host, -E2BIG for too many GPUs or functions, -EINVAL/-ENOMEM as
 * domain_xml_build(). Does not log. */
int vm_build_xml(Instance *i, char **ret);

#pragma once

/* Names and helpers shared by arkd and its clients (sd-bus). Nothing here logs. */

#include <systemd/sd-bus.h>

#define ARK_BUS_NAME "org.ark.Ark1"
#define ARK_BUS_PATH "/org/ark/Ark1"
#define ARK_BUS_PREFIX_TENANT "/org/ark/Ark1/tenant"
#define ARK_BUS_PREFIX_INSTANCE "/org/ark/Ark1/instance"
#define ARK_BUS_PREFIX_ACCELERATOR "/org/ark/Ark1/accelerator"
#define ARK_BUS_IFACE_MANAGER "org.ark.Ark1.Manager"
#define ARK_BUS_IFACE_TENANT "org.ark.Ark1.Tenant"
#define ARK_BUS_IFACE_INSTANCE "org.ark.Ark1.Instance"
#define ARK_BUS_IFACE_ACCELERATOR "org.ark.Ark1.Accelerator"

/* ark-update's announcements (signals only, under a name only root may own): docs/api.md. */
#define ARK_UPDATE_BUS_NAME "org.ark.Update1"
#define ARK_UPDATE_BUS_PATH "/org/ark/Update1"
#define ARK_UPDATE_BUS_IFACE "org.ark.Update1"

#define ARK_ERROR_NOT_FOUND "org.ark.Ark1.Error.NotFound"
#define ARK_ERROR_ALREADY_EXISTS "org.ark.Ark1.Error.AlreadyExists"
#define ARK_ERROR_INVALID_ARGUMENT "org.ark.Ark1.Error.InvalidArgument"
#define ARK_ERROR_IN_USE "org.ark.Ark1.Error.InUse"
#define ARK_ERROR_INVALID_STATE "org.ark.Ark1.Error.InvalidState"
#define ARK_ERROR_HYPERVISOR_UNAVAILABLE "org.ark.Ark1.Error.HypervisorUnavailable"
#define ARK_ERROR_HYPERVISOR "org.ark.Ark1.Error.HypervisorError"
#define ARK_ERROR_TIMEOUT "org.ark.Ark1.Error.Timeout"
#define ARK_ERROR_ACCESS_DENIED "org.ark.Ark1.Error.AccessDenied"
#define ARK_ERROR_QUOTA_EXCEEDED "org.ark.Ark1.Error.QuotaExceeded"
#define ARK_ERROR_NO_CAPACITY "org.ark.Ark1.Error.NoCapacity"
#define ARK_ERROR_NOT_READY "org.ark.Ark1.Error.NotReady"
#define ARK_ERROR_VERIFICATION_FAILED "org.ark.Ark1.Error.VerificationFailed"
#define ARK_ERROR_CANCELLED "org.ark.Ark1.Error.Cancelled"
#define ARK_ERROR_TOO_MANY_REQUESTS "org.ark.Ark1.Error.TooManyRequests"
#define ARK_ERROR_NOT_SUPPORTED "org.ark.Ark1.Error.NotSupported"
#define ARK_ERROR_NETWORK "org.ark.Ark1.Error.NetworkError"
#define ARK_BUS_IFACE_NETWORK "org.ark.Ark1.Network"
#define ARK_BUS_PREFIX_NETWORK "/org/ark/Ark1/network"

/* Registers the name <-> errno map of the errors above with sd-bus (idempotent). Returns 0 or a
 * negative errno. */
int ark_bus_error_map_register(void);

/* Connects to the bus at `address` ("unix:path=..."), or to the system bus when address is NULL or
 * empty.
 * Returns 0 and a started connection, or a negative errno. */
int ark_bus_open(const char *address, sd_bus **ret);

/* sd-bus property getters for struct fields (use with offsetof): a `char *` field, NULL shown as
 * "", and a `bool` field. */
int bus_property_get_string_ptr(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error);
int bus_property_get_bool(sd_bus *bus, const char *path, const char *interface, const char *property,
                          sd_bus_message *reply, void *userdata, sd_bus_error *error);

/* A random (version 4 style) UUID as 36 lowercase characters and NUL. Returns 0 or negative errno. */
int ark_uuid_generate(char ret[static 37]);

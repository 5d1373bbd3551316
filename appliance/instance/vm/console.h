#pragma once

/* Interactive consoles of VMs: a domain's serial console opened as a libvirt stream
 * (virDomainOpenConsole) and pumped, from arkd's event loop, to one end of a socket pair whose
 * other end goes to the caller (over D-Bus, as a file descriptor). Bytes the caller writes reach
 * the guest's serial line; what the guest prints reaches the caller. Either side closing ends the
 * session: the caller closing its descriptor, the domain stopping, the connection to libvirt going.
 *
 * One session per domain at a time (libvirt refuses a second while one is open, and arkd does
 * not take a console over). Part of the VM driver. */

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <libvirt/libvirt.h>

typedef struct VmConsole VmConsole;

/* Opens `dom`'s console (named `name` in messages) on `conn` and returns the caller's end in
 * *ret_fd (owned by the caller). The session is kept in *list until it ends. Errors: InvalidState
 * when a console session of the instance is open already or the domain is not running;
 * NotSupported when the hypervisor has no consoles (libvirt's test driver); HypervisorError. */
int vm_console_open(VmConsole **list, sd_event *event, virConnectPtr conn, virDomainPtr dom,
                    const char *name, int *ret_fd, sd_bus_error *error);

/* Ends every session in *list (before the connection they use is closed). */
void vm_console_close_all(VmConsole **list);

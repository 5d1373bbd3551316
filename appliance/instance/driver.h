#pragma once

/* Instance drivers: what runs an instance, behind a table of operations (as systemd's UnitVTable
 * is for unit types). instance.c decides: intent, the store transaction, claims, signals. The
 * driver carries the decision out on its backend (libvirt for "vm", in appliance/instance/vm/;
 * crun under conmon for "container", in appliance/instance/container/) and reports what happens
 * there through instance_set_state() and
 * instance_stop_complete() (instance.h).
 *
 * Everything here is in Ark's terms (Instance, InstanceState, sd_bus_error): no driver's library
 * shows outside its folder (tests/unit/test-instance-driver.c checks that nothing outside
 * appliance/instance/vm/ includes libvirt, directly or through a header).
 *
 * Every operation runs in the thread of arkd's event loop. An operation that takes `error` fills
 * it with a named Ark error and a sentence on failure and returns a negative errno; an instance's
 * backend object is found by the instance's UUID.
 *
 * Devices are not plugged into running instances: an instance's GPUs change while it is stopped,
 * through define() (a VM's UEFI firmware and 64-bit PCI window are sized for its GPUs at boot; a GPU
 * hot-plugged into a window sized for fewer does not get its BARs). A tenant network's NIC is
 * plugged into a running instance (attach_nic) or out of it (detach_nic), and written into its
 * definition by define(). */

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "instance.h"

typedef struct Manager Manager;
typedef struct Nic Nic; /* network/network.h */

/* The type of an instance created without one. */
#define INSTANCE_TYPE_DEFAULT "vm"

typedef struct InstanceDriver {
        const char *type; /* Instance.type, CreateInstance's Type: "vm" */

        /* ---- the backend, with arkd */

        /* Opens the backend (connects, subscribes to its events, reconciles). A backend that is
         * away is not an error: the driver keeps trying and returns 0. Logs. */
        int (*setup)(Manager *m);
        /* Closes the backend; instances keep running. Safe without setup. */
        void (*teardown)(Manager *m);
        /* Whether the backend is there now. */
        bool (*connected)(Manager *m);
        /* 0 when the backend is there; -ENOTCONN with HypervisorUnavailable when it is not. */
        int (*require)(Manager *m, sd_bus_error *error);
        /* Compares the store (m->instances of this type) with the backend: adopts what it finds,
         * defines again what it lost, restores desired states, reports orphans and conflicts.
         * Returns 0, or a negative errno (logged) when the backend could not be read. */
        int (*reconcile)(Manager *m);
        /* Whether `name` is taken on the backend (by anything, Ark's or not): 1 taken, 0 free. */
        int (*name_in_use)(Manager *m, const char *name);

        /* ---- one instance */

        /* Makes the backend's definition match the instance's spec (i->gpus, firmware, ...),
         * creating it when there is none. Nothing runs. */
        int (*define)(Instance *i, sd_bus_error *error);
        /* Removes the instance's definition, with what the backend keeps for it (managed save,
         * snapshot metadata, UEFI variables). 0 also when there is none. Must be stopped. */
        int (*remove)(Instance *i, sd_bus_error *error);
        /* Starts the instance, defining it again first when the backend lost it (logged). */
        int (*start)(Instance *i, sd_bus_error *error);
        /* Asks the guest to shut down (a VM's power button) and returns 0: the guest goes down in
         * its own time, or never (instance.c forces it off after a timeout); 1 when it is off
         * already (a backend that stops at once). -ENOENT with NotFound when the backend has no
         * such instance. */
        int (*stop)(Instance *i, sd_bus_error *error);
        /* Powers the instance off now. 0 when it is off (or was); -ENOENT with NotFound when the
         * backend has no such instance. */
        int (*force_off)(Instance *i, sd_bus_error *error);
        /* What the backend says the instance is doing: 0 and *ret (INSTANCE_STOPPED only when it
         * is off), -ENOENT when the backend has no such instance, -ENOTCONN, or another negative
         * errno when the state cannot be read. Fills no error. */
        int (*get_state)(Instance *i, InstanceState *ret);
        /* The backend's own description of the instance (a VM's domain XML), newly allocated.
         * NotFound when the backend has no such instance right now. */
        int (*describe)(Instance *i, char **ret, sd_bus_error *error);

        /* An interactive session on the instance's console (a VM's serial line): a stream socket,
         * owned by the caller, that carries what is typed to the instance and what it prints
         * back. The session ends when either side closes. InvalidState when the instance is not
         * running or a session is open already; NotSupported when the backend has no
         * consoles. */
        int (*console)(Instance *i, int *ret_fd, sd_bus_error *error);
        /* Plugs the NIC into the running instance (a VM: a hot-plugged virtio NIC on the network's
         * bridge), or out of it; the definition is not changed (define() does that). NotSupported
         * when the backend cannot (libvirt's test driver). */
        int (*attach_nic)(Instance *i, const Nic *nic, sd_bus_error *error);
        int (*detach_nic)(Instance *i, const Nic *nic, sd_bus_error *error);

        /* Optional (NULL: NotSupported). Runs argv in the running instance with fds (stdin, stdout,
         * stderr; borrowed, the callee dups what it keeps) as its standard streams; *ret_pid is a
         * child of arkd that ends when the command does and exits with its status (128 + the
         * signal when it was killed). InvalidState when it is not running. */
        int (*exec)(Instance *i, char **argv, const int fds[3], pid_t *ret_pid, sd_bus_error *error);
        /* Optional (NULL: NotSupported). A read-only descriptor of what the instance wrote to its
         * standard output and error, owned by the caller; kept after it stopped. */
        int (*open_log)(Instance *i, int *ret_fd, sd_bus_error *error);
} InstanceDriver;

/* The VM driver (appliance/instance/vm/vm-driver.c). */
extern const InstanceDriver vm_driver;
/* The container driver (appliance/instance/container/container-driver.c), with CONFIG_CONTAINERS. */
extern const InstanceDriver container_driver;

/* The driver of instances of `type` ("vm"); NULL when there is none (or type is NULL). */
const InstanceDriver *instance_driver_find(const char *type);
/* The types there are drivers for, as "'vm'" or "'vm', 'container'", newly allocated; NULL on OOM. */
char *instance_driver_types(void);

/* Every driver's setup() / teardown(), in the table's order. setup returns the first failure. */
int instance_drivers_setup(Manager *m);
void instance_drivers_teardown(Manager *m);
/* Every driver's require() and reconcile(); fills `error` and returns at the first failure. A
 * driver other than the first whose backend is not there is skipped while no instance is of its
 * type. */
int instance_drivers_reconcile(Manager *m, sd_bus_error *error);

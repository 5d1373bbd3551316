#pragma once

/* The libvirt connection of arkd: opened from the configured URI, its event loop bridged into
 * sd-event, lifecycle events turned into instance state changes, reconnect with exponential
 * backoff when libvirtd goes away, and reconciliation on every (re)connect.
 *
 * Part of the VM driver: only appliance/instance/vm/ includes this (it brings libvirt's types);
 * the rest of arkd reaches it through vm_driver (driver.h). */

#include <stdbool.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <libvirt/libvirt.h>

#include "instance.h"

typedef struct Manager Manager;

typedef struct Hypervisor Hypervisor;

/* Registers the event bridge and tries to connect; a failed first attempt schedules retries and
 * still returns 0 (arkd runs without a hypervisor and says so). */
int hypervisor_start(Manager *m);
void hypervisor_stop(Manager *m);

/* The live connection, or NULL while disconnected. */
virConnectPtr hypervisor_conn(Manager *m);
bool hypervisor_connected(Manager *m);

/* The console sessions of the connection (console.h); NULL before hypervisor_start(). */
typedef struct VmConsole VmConsole;
VmConsole **hypervisor_consoles(Manager *m);

/* Fills `error` with HypervisorUnavailable and returns -ENOTCONN when there is no connection. */
int hypervisor_require(Manager *m, sd_bus_error *error);

/* Converts the last libvirt error into `error` (HypervisorError, or NotFound/AlreadyExists where
 * it fits) prefixed by `what` ("Failed to start 'x'"); returns the negative errno. Logs at debug. */
int hypervisor_error(sd_bus_error *error, const char *what);

/* Looks up the domain of an instance by UUID. NULL when it does not exist (or on error). */
virDomainPtr hypervisor_lookup(Manager *m, const Instance *i);

/* Defines the instance's domain from its stored spec, checked against libvirt's domain schema (compiled
 * once, domain-xml.h; libvirt checks it where the schema cannot be compiled here). */
int hypervisor_define(Instance *i, sd_bus_error *error);

/* Ark's state for a libvirt domain state (VIR_DOMAIN_RUNNING, ...); anything unknown is stopped. */
InstanceState hypervisor_instance_state(int state);

/* Reads CPU, memory and NUMA facts from libvirt into m->host (NUMA falls back to the sysfs root
 * when libvirt reports no cells, as the test driver does). */
int hypervisor_read_host(Manager *m);

/* Compares store and hypervisor: adopt, redefine missing, restore desired state, report orphans. */
int hypervisor_reconcile(Manager *m);

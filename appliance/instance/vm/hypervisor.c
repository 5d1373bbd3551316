/* The libvirt connection: connect, reconnect with backoff, lifecycle events, host facts and the
 * reconciliation of the store (intent) with the hypervisor (what exists and runs). */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "basic/log.h"
#include "basic/string-util.h"
#include "basic/time-util.h"
#include "domain-xml.h"
#include "driver.h"
#include "console.h"
#include "hypervisor.h"
#include "meter.h"
#include "manager.h"
#include "reclaim.h"
#include "shared/bus-util.h"
#include "virt-util.h"
#include "vm-driver.h"

struct Hypervisor {
        Manager *manager;
        virConnectPtr conn;
        int lifecycle_id;
        sd_event_source *reconnect_timer;
        sd_event_source *disconnect_defer;
        unsigned backoff_sec;
        unsigned attempts;
        DomainSchema *schema; /* compiled on the first define, kept across reconnects */
        bool schema_unavailable;
        VmConsole *consoles; /* open console sessions (console.h) */
};

static int hypervisor_connect(Hypervisor *hv);
static void on_close(virConnectPtr conn, int reason, void *opaque);

/* The instances this driver runs (the manager's list holds every type). */
static bool is_vm(const Instance *i) {
        return streq_ptr(i->type, vm_driver.type);
}

virConnectPtr hypervisor_conn(Manager *m) {
        return m->hv ? m->hv->conn : NULL;
}

VmConsole **hypervisor_consoles(Manager *m) {
        return m->hv ? &m->hv->consoles : NULL;
}

bool hypervisor_connected(Manager *m) {
        return hypervisor_conn(m) != NULL;
}

int hypervisor_require(Manager *m, sd_bus_error *error) {
        if (hypervisor_connected(m))
                return 0;
        sd_bus_error_setf(
                error, ARK_ERROR_HYPERVISOR_UNAVAILABLE,
                "The hypervisor (%s) is not connected; arkd keeps reconnecting, try again shortly.",
                m->config.libvirt_uri);
        return -ENOTCONN;
}

int hypervisor_error(sd_bus_error *error, const char *what) {
        _cleanup_free_ char *msg = NULL;
        const char *name;
        int r;

        r = virt_last_error(&msg);
        log_debug("%s: %s", what, strna(msg));
        switch (r) {
        case -ENOENT:
                name = ARK_ERROR_NOT_FOUND;
                break;
        case -EEXIST:
                name = ARK_ERROR_ALREADY_EXISTS;
                break;
        case -ENOTCONN:
        case -ECONNRESET:
                name = ARK_ERROR_HYPERVISOR_UNAVAILABLE;
                break;
        case -ETIMEDOUT:
                name = ARK_ERROR_TIMEOUT;
                break;
        default:
                name = ARK_ERROR_HYPERVISOR;
        }
        sd_bus_error_setf(error, name, "%s: %s", what, strna(msg));
        virResetLastError();
        return r;
}

virDomainPtr hypervisor_lookup(Manager *m, const Instance *i) {
        virConnectPtr conn = hypervisor_conn(m);
        virDomainPtr dom;

        if (!conn)
                return NULL;
        dom = virDomainLookupByUUIDString(conn, i->uuid);
        if (!dom)
                virResetLastError();
        return dom;
}

/* Checks the XML against libvirt's domain schema, compiled once (domain-xml.h), and says in
 * *ret_flags how to define it: where this host has no schema to compile, libvirt validates. */
static int hypervisor_validate(Hypervisor *hv, const Instance *i, const char *xml, unsigned *ret_flags,
                               sd_bus_error *error) {
        char reason[256];
        int r;

        if (!hv->schema && !hv->schema_unavailable) {
                r = domain_schema_load(DOMAIN_SCHEMA_PATH, &hv->schema);
                if (r < 0) {
                        hv->schema_unavailable = true;
                        log_warning_errno(
                                r,
                                "Cannot compile libvirt's domain schema '%s' (%m); libvirt validates "
                                "each definition instead, which is slower.",
                                DOMAIN_SCHEMA_PATH);
                }
        }
        if (!hv->schema) {
                *ret_flags = VIR_DOMAIN_DEFINE_VALIDATE;
                return 0;
        }
        r = domain_schema_validate(hv->schema, xml, reason, sizeof(reason));
        if (r == -EBADMSG)
                return sd_bus_error_setf(
                        error, ARK_ERROR_HYPERVISOR,
                        "Failed to define instance '%s': its domain XML does not match libvirt's "
                        "schema %s: %s.",
                        i->name, DOMAIN_SCHEMA_PATH, reason);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to check the domain XML of '%s': %m",
                                               i->name);
        *ret_flags = 0;
        return 0;
}

int hypervisor_define(Instance *i, sd_bus_error *error) {
        _cleanup_free_ char *xml = NULL, *what = NULL;
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        Manager *m = i->manager;
        unsigned flags;
        int r;

        r = hypervisor_require(m, error);
        if (r < 0)
                return r;
        r = vm_build_xml(i, &xml);
        if (r == -ENODEV) {
                const char *gone = NULL;

                for (char **g = i->gpus; g && *g && !gone; g++)
                        if (!manager_find_accelerator(m, *g))
                                gone = *g;
                return sd_bus_error_setf(
                        error, ARK_ERROR_NOT_READY,
                        "Instance '%s' claims GPU %s, which this host does not have (removed, or "
                        "moved to another slot?); put it back, or give it up with 'arkctl vm gpu "
                        "remove %s --gpu %s'.",
                        i->name, strna(gone), i->name, strna(gone));
        }
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to build the domain XML of '%s': %m",
                                               i->name);
        r = hypervisor_validate(m->hv, i, xml, &flags, error);
        if (r < 0)
                return r;
        dom = virDomainDefineXMLFlags(hypervisor_conn(m), xml, flags);
        if (!dom) {
                what = strprintf("Failed to define instance '%s'", i->name);
                return hypervisor_error(error, what ?: "Failed to define instance");
        }
        return 0;
}

/* ---------------------------------------------------------------------------------- events */

static Instance *instance_of_domain(Manager *m, virDomainPtr dom) {
        char uuid[VIR_UUID_STRING_BUFLEN];

        if (virDomainGetUUIDString(dom, uuid) < 0)
                return NULL;
        return manager_find_instance_by_uuid(m, uuid);
}

InstanceState hypervisor_instance_state(int state) {
        switch (state) {
        case VIR_DOMAIN_RUNNING:
        case VIR_DOMAIN_BLOCKED:
                return INSTANCE_RUNNING;
        case VIR_DOMAIN_PAUSED:
        case VIR_DOMAIN_PMSUSPENDED:
                return INSTANCE_PAUSED;
        case VIR_DOMAIN_SHUTDOWN:
                return INSTANCE_SHUTTING_DOWN;
        case VIR_DOMAIN_CRASHED:
                return INSTANCE_CRASHED;
        case VIR_DOMAIN_SHUTOFF:
        default:
                return INSTANCE_STOPPED;
        }
}

static const char *stopped_reason(int detail) {
        switch (detail) {
        case VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN:
                return "shutdown";
        case VIR_DOMAIN_EVENT_STOPPED_DESTROYED:
                return "destroyed";
        case VIR_DOMAIN_EVENT_STOPPED_CRASHED:
                return "crashed";
        case VIR_DOMAIN_EVENT_STOPPED_MIGRATED:
                return "migrated";
        case VIR_DOMAIN_EVENT_STOPPED_SAVED:
                return "saved";
        case VIR_DOMAIN_EVENT_STOPPED_FAILED:
                return "failed";
        default:
                return "stopped";
        }
}

static void hypervisor_refresh_conflicts(Manager *m);

/* Whether `event` still describes the domain. libvirt queues events and the loop dispatches them
 * after the calls that caused them have returned: the STARTED of a Start may come after the Stop
 * that followed it. Acted on, such a stale event showed the instance running again for a moment,
 * and opened and closed a usage interval of nothing (two more commits, each an fdatasync). The
 * event that brought the domain to its present state comes later and is acted on. Events this
 * cannot judge (crashes, or no state to read) still count. */
static bool event_is_current(virDomainPtr dom, int event) {
        int state, reason;

        if (virDomainGetState(dom, &state, &reason, 0) < 0)
                return true;
        switch (event) {
        case VIR_DOMAIN_EVENT_STARTED:
        case VIR_DOMAIN_EVENT_RESUMED:
                return state == VIR_DOMAIN_RUNNING || state == VIR_DOMAIN_BLOCKED;
        case VIR_DOMAIN_EVENT_SUSPENDED:
        case VIR_DOMAIN_EVENT_PMSUSPENDED:
                return state == VIR_DOMAIN_PAUSED || state == VIR_DOMAIN_PMSUSPENDED;
        case VIR_DOMAIN_EVENT_SHUTDOWN: /* the guest was asked; it may still run for a while */
                return state != VIR_DOMAIN_SHUTOFF;
        case VIR_DOMAIN_EVENT_STOPPED:
                return state != VIR_DOMAIN_RUNNING && state != VIR_DOMAIN_BLOCKED &&
                        state != VIR_DOMAIN_PAUSED;
        default:
                return true;
        }
}

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque) {
        Hypervisor *hv = opaque;
        Manager *m = hv->manager;
        Instance *i = instance_of_domain(m, dom);

        /* A domain defined, changed or removed (by Ark or by anyone with virsh): which GPUs the
         * domains hold may have changed. */
        if (event == VIR_DOMAIN_EVENT_DEFINED || event == VIR_DOMAIN_EVENT_UNDEFINED)
                hypervisor_refresh_conflicts(m);
        if (!i)
                return 0; /* not ours */

        if (!event_is_current(dom, event)) {
                log_debug("Lifecycle event %d/%d for instance '%s' is stale; skipped.", event, detail,
                          i->name);
                return 0;
        }
        log_debug("Lifecycle event %d/%d for instance '%s'.", event, detail, i->name);
        switch (event) {
        case VIR_DOMAIN_EVENT_STARTED:
                instance_set_state(i, INSTANCE_RUNNING,
                                   detail == VIR_DOMAIN_EVENT_STARTED_BOOTED ? "booted" : "started");
                break;
        case VIR_DOMAIN_EVENT_SUSPENDED:
        case VIR_DOMAIN_EVENT_PMSUSPENDED:
                instance_set_state(i, INSTANCE_PAUSED, "suspended");
                break;
        case VIR_DOMAIN_EVENT_RESUMED:
                instance_set_state(i, INSTANCE_RUNNING, "resumed");
                break;
        case VIR_DOMAIN_EVENT_SHUTDOWN:
                if (i->state == INSTANCE_RUNNING)
                        instance_set_state(i, INSTANCE_SHUTTING_DOWN, "guest shutdown");
                break;
        case VIR_DOMAIN_EVENT_STOPPED:
                instance_set_state(
                        i, detail == VIR_DOMAIN_EVENT_STOPPED_CRASHED ? INSTANCE_CRASHED : INSTANCE_STOPPED,
                        stopped_reason(detail));
                instance_stop_complete(i, NULL, NULL);
                break;
        case VIR_DOMAIN_EVENT_CRASHED:
                instance_set_state(i, INSTANCE_CRASHED, "crashed");
                break;
        case VIR_DOMAIN_EVENT_UNDEFINED:
                log_warning(
                        "The domain of instance '%s' was undefined outside of Ark; it is defined again on the "
                        "next start or reconciliation.",
                        i->name);
                break;
        default:
                break;
        }
        return 0;
}

/* ---------------------------------------------------------------------------------- connection */

static void hypervisor_emit_connected(Manager *m) {
        (void) sd_bus_emit_properties_changed(m->bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER,
                                              "HypervisorConnected", NULL);
}

static int on_reconnect(sd_event_source *s, uint64_t usec, void *userdata) {
        Hypervisor *hv = userdata;

        hv->reconnect_timer = sd_event_source_unref(hv->reconnect_timer);
        (void) hypervisor_connect(hv);
        return 0;
}

static void hypervisor_schedule_reconnect(Hypervisor *hv) {
        int r;

        if (hv->reconnect_timer)
                return;
        hv->backoff_sec =
                hv->backoff_sec == 0 ? 1 : MIN(hv->backoff_sec * 2, (unsigned) CONFIG_LIBVIRT_RECONNECT_MAX);
        r = sd_event_add_time_relative(hv->manager->event, &hv->reconnect_timer, CLOCK_MONOTONIC,
                                       (uint64_t) hv->backoff_sec * USEC_PER_SEC, 0, on_reconnect, hv);
        if (r < 0)
                log_error_errno(r, "Failed to schedule a hypervisor reconnect: %m");
        else
                log_info("Reconnecting to %s in %u s.", hv->manager->config.libvirt_uri, hv->backoff_sec);
}

static void hypervisor_drop(Hypervisor *hv) {
        if (!hv->conn)
                return;
        vm_console_close_all(&hv->consoles);
        if (hv->lifecycle_id >= 0)
                (void) virConnectDomainEventDeregisterAny(hv->conn, hv->lifecycle_id);
        hv->lifecycle_id = -1;
        (void) virConnectUnregisterCloseCallback(hv->conn, on_close);
        (void) virConnectClose(hv->conn);
        hv->conn = NULL;
        virResetLastError();
}

static int on_disconnect(sd_event_source *s, void *userdata) {
        Hypervisor *hv = userdata;
        Manager *m = hv->manager;

        hv->disconnect_defer = sd_event_source_disable_unref(hv->disconnect_defer);
        if (!hv->conn)
                return 0;
        hypervisor_drop(hv);
        log_struct(LOG_WARNING, 0, LOG_FIELDS("MESSAGE_ID=" ARK_MESSAGE_HV_CONNECTION),
                   "Lost the connection to the hypervisor (%s).", m->config.libvirt_uri);
        LIST_FOREACH(instances, i, m->instances) {
                if (!is_vm(i))
                        continue;
                instance_stop_complete(
                        i, ARK_ERROR_HYPERVISOR_UNAVAILABLE,
                        "The connection to the hypervisor was lost; the stop is resumed after reconnect.");
                instance_set_state(i, INSTANCE_UNKNOWN, "hypervisor disconnected");
        }
        hypervisor_emit_connected(m);
        hv->backoff_sec = 0;
        hypervisor_schedule_reconnect(hv);
        return 0;
}

/* libvirt calls this from inside its own code; closing the connection here would pull the rug
 * from under it, so the actual teardown runs from the next loop iteration. */
static void on_close(virConnectPtr conn, int reason, void *opaque) {
        Hypervisor *hv = opaque;
        int r;

        if (hv->disconnect_defer)
                return;
        r = sd_event_add_defer(hv->manager->event, &hv->disconnect_defer, on_disconnect, hv);
        if (r < 0)
                log_error_errno(r, "Failed to schedule disconnect handling: %m");
}

static int hypervisor_connect(Hypervisor *hv) {
        Manager *m = hv->manager;
        _cleanup_free_ char *msg = NULL;
        virConnectPtr conn;
        int r;

        hv->attempts++;
        conn = virConnectOpen(m->config.libvirt_uri);
        if (!conn) {
                r = virt_last_error(&msg);
                virResetLastError();
                if (hv->attempts == 1 || log_get_max_level() >= LOG_DEBUG)
                        log_warning_errno(r, "Cannot connect to the hypervisor at %s: %s",
                                          m->config.libvirt_uri, strna(msg));
                hypervisor_schedule_reconnect(hv);
                return r;
        }
        hv->conn = conn;
        (void) virConnectSetKeepAlive(conn, 5, 3);
        if (virConnectRegisterCloseCallback(conn, on_close, hv, NULL) < 0)
                virResetLastError();
        hv->lifecycle_id =
                virConnectDomainEventRegisterAny(conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                 VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), hv, NULL);
        if (hv->lifecycle_id < 0) {
                r = virt_last_error(&msg);
                log_error_errno(r, "Failed to subscribe to lifecycle events of %s: %s",
                                m->config.libvirt_uri, strna(msg));
                hypervisor_drop(hv);
                hypervisor_schedule_reconnect(hv);
                return r;
        }
        hv->backoff_sec = 0;
        log_struct(LOG_INFO, 0, LOG_FIELDS("MESSAGE_ID=" ARK_MESSAGE_HV_CONNECTION),
                   "Connected to the hypervisor at %s%s.", m->config.libvirt_uri,
                   hv->attempts > 1 ? " (reconnected)" : "");
        hv->attempts = 0;

        r = hypervisor_read_host(m);
        if (r < 0)
                log_warning_errno(r, "Failed to read host facts from the hypervisor: %m");
        hypervisor_emit_connected(m);
        (void) hypervisor_reconcile(m);
        return 0;
}

int hypervisor_start(Manager *m) {
        Hypervisor *hv;
        int r;

        r = virt_init();
        if (r < 0)
                return log_error_errno(r, "Failed to initialize libvirt: %m");
        r = virt_event_register_sd_event(m->event);
        if (r < 0)
                return log_error_errno(r, "Failed to attach libvirt to the event loop: %m");
        hv = calloc(1, sizeof(Hypervisor));
        if (!hv)
                return log_error_errno(-ENOMEM, "Out of memory.");
        hv->manager = m;
        hv->lifecycle_id = -1;
        m->hv = hv;
        (void) hypervisor_connect(hv);
        return 0;
}

void hypervisor_stop(Manager *m) {
        Hypervisor *hv = m->hv;

        if (!hv)
                return;
        hv->reconnect_timer = sd_event_source_disable_unref(hv->reconnect_timer);
        hv->disconnect_defer = sd_event_source_disable_unref(hv->disconnect_defer);
        hypervisor_drop(hv);
        virt_event_unregister();
        domain_schema_free(hv->schema);
        free(hv);
        m->hv = NULL;
}

/* ---------------------------------------------------------------------------------- host facts */

static unsigned count_cpus_in_cell(xmlNode *cell, char **ret_list) {
        StrBuf b = {};
        unsigned n = 0;
        long start = -1, prev = -1;

        for (xmlNode *c = cell->children; c; c = c->next) {
                if (c->type != XML_ELEMENT_NODE || !xmlStrEqual(c->name, BAD_CAST "cpus"))
                        continue;
                for (xmlNode *cpu = c->children; cpu; cpu = cpu->next) {
                        xmlChar *id;
                        long v;

                        if (cpu->type != XML_ELEMENT_NODE || !xmlStrEqual(cpu->name, BAD_CAST "cpu"))
                                continue;
                        id = xmlGetProp(cpu, BAD_CAST "id");
                        if (!id)
                                continue;
                        v = strtol((const char *) id, NULL, 10);
                        xmlFree(id);
                        n++;
                        if (start < 0) {
                                start = prev = v;
                                continue;
                        }
                        if (v == prev + 1) {
                                prev = v;
                                continue;
                        }
                        strbuf_printf(&b, b.len ? ",%ld" : "%ld", start);
                        if (prev != start)
                                strbuf_printf(&b, "-%ld", prev);
                        start = prev = v;
                }
        }
        if (start >= 0) {
                strbuf_printf(&b, b.len ? ",%ld" : "%ld", start);
                if (prev != start)
                        strbuf_printf(&b, "-%ld", prev);
        }
        *ret_list = strbuf_steal(&b);
        return n;
}

/* NUMA cells from the capabilities XML: <host><topology><cells><cell id= ><memory unit='KiB'>. */
static int numa_from_capabilities(const char *caps, NumaNode **ret, size_t *ret_n) {
        xmlDoc *doc;
        xmlNode *root, *host = NULL, *topo = NULL, *cells = NULL;
        NumaNode *nodes = NULL;
        size_t n = 0;

        doc = xmlReadMemory(caps, (int) strlen(caps), "capabilities.xml", NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        if (!doc)
                return -EBADMSG;
        root = xmlDocGetRootElement(doc);
        for (xmlNode *c = root ? root->children : NULL; c; c = c->next)
                if (c->type == XML_ELEMENT_NODE && xmlStrEqual(c->name, BAD_CAST "host"))
                        host = c;
        for (xmlNode *c = host ? host->children : NULL; c; c = c->next)
                if (c->type == XML_ELEMENT_NODE && xmlStrEqual(c->name, BAD_CAST "topology"))
                        topo = c;
        for (xmlNode *c = topo ? topo->children : NULL; c; c = c->next)
                if (c->type == XML_ELEMENT_NODE && xmlStrEqual(c->name, BAD_CAST "cells"))
                        cells = c;
        for (xmlNode *cell = cells ? cells->children : NULL; cell; cell = cell->next) {
                NumaNode *t;
                xmlChar *id;

                if (cell->type != XML_ELEMENT_NODE || !xmlStrEqual(cell->name, BAD_CAST "cell"))
                        continue;
                t = realloc(nodes, sizeof(NumaNode) * (n + 1));
                if (!t) {
                        numa_array_free(nodes, n);
                        xmlFreeDoc(doc);
                        return -ENOMEM;
                }
                nodes = t;
                nodes[n] = (NumaNode) {};
                id = xmlGetProp(cell, BAD_CAST "id");
                nodes[n].id = id ? atoi((const char *) id) : (int) n;
                xmlFree(id);
                for (xmlNode *c = cell->children; c; c = c->next)
                        if (c->type == XML_ELEMENT_NODE && xmlStrEqual(c->name, BAD_CAST "memory")) {
                                xmlChar *v = xmlNodeGetContent(c);
                                nodes[n].memory_bytes =
                                        v ? strtoull((const char *) v, NULL, 10) * 1024ULL : 0;
                                xmlFree(v);
                        }
                nodes[n].n_cpus = count_cpus_in_cell(cell, &nodes[n].cpulist);
                n++;
        }
        xmlFreeDoc(doc);
        *ret = nodes;
        *ret_n = n;
        return 0;
}

int hypervisor_read_host(Manager *m) {
        virConnectPtr conn = hypervisor_conn(m);
        _cleanup_free_ char *caps = NULL, *hostname = NULL;
        virNodeInfo info;
        NumaNode *numa = NULL;
        size_t n_numa = 0;
        int r;

        if (!conn)
                return -ENOTCONN;
        if (virNodeGetInfo(conn, &info) < 0)
                return virt_last_error(NULL);

        m->host.cpus = info.cpus;
        m->host.mhz = info.mhz;
        m->host.sockets = info.sockets * MAX(info.nodes, 1U);
        m->host.cores = info.cores;
        m->host.threads = info.threads;
        m->host.memory_bytes = (uint64_t) info.memory * 1024ULL;
        (void) free_and_strdup(&m->host.arch, info.model);
        m->host.phys_bits = sysfs_read_phys_bits(m->config.sysfs_root);
        /* libvirt's node info names the architecture ("x86_64"), not the CPU; the kernel does. */
        {
                _cleanup_free_ char *model = NULL;

                if (sysfs_read_cpu_model(m->config.sysfs_root, &model) >= 0)
                        (void) free_and_strdup(&m->host.cpu_model, model);
                else
                        (void) free_and_strdup(&m->host.cpu_model, info.model);
        }
        hostname = virConnectGetHostname(conn);
        if (hostname)
                (void) free_and_strdup(&m->host.hostname, hostname);
        virResetLastError();

        caps = virConnectGetCapabilities(conn);
        if (caps) {
                r = numa_from_capabilities(caps, &numa, &n_numa);
                if (r < 0)
                        log_debug_errno(r, "Failed to parse the capabilities XML: %m");
        }
        virResetLastError();

        /* The test driver reports no NUMA cells; the sysfs root (a fixture tree there) knows them. */
        if (n_numa == 0) {
                r = sysfs_read_numa(m->config.sysfs_root, &numa, &n_numa);
                if (r < 0)
                        log_debug_errno(r, "Failed to read NUMA nodes from %s: %m", m->config.sysfs_root);
        }
        if (n_numa == 0 && info.nodes > 0) {
                numa = calloc(info.nodes, sizeof(NumaNode));
                if (numa) {
                        n_numa = info.nodes;
                        for (size_t k = 0; k < n_numa; k++) {
                                numa[k].id = (int) k;
                                numa[k].n_cpus = info.cpus / info.nodes;
                                numa[k].memory_bytes = m->host.memory_bytes / info.nodes;
                        }
                }
        }
        numa_array_free(m->host.numa, m->host.n_numa);
        m->host.numa = numa;
        m->host.n_numa = n_numa;

        (void) sd_bus_emit_properties_changed(m->bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "CPUModel",
                                              "CPUs", "Sockets", "CoresPerSocket", "ThreadsPerCore",
                                              "MemoryBytes", "NUMANodes", NULL);
        return 0;
}

/* ---------------------------------------------------------------------------------- reconcile */

static int domain_ark_metadata(virDomainPtr dom, char **ret_tenant, char **ret_id) {
        _cleanup_free_ char *xml =
                virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, ARK_METADATA_NS, 0);

        if (!xml) {
                virResetLastError();
                return -ENOENT;
        }
        return domain_xml_parse_metadata(xml, ret_tenant, ret_id);
}

/* Claims re-derived from the hypervisor: the GPUs a domain passes through (its hostdevs that are
 * accelerators here) against what the store gives its instance. A difference is a conflict,
 * reported and left as it is. */
static void reconcile_domain_gpus(Manager *m, virDomainPtr dom, const char *name, Instance *i, bool orphan) {
        _cleanup_strv_free_ char **hostdevs = NULL;
        _cleanup_free_ char *xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
        int r;

        if (!xml) {
                virResetLastError();
                return;
        }
        r = domain_xml_parse_hostdevs(xml, &hostdevs);
        if (r < 0) {
                log_warning_errno(r, "Cannot read the hostdevs of domain '%s': %m", name);
                return;
        }
        for (char **h = hostdevs; h && *h; h++) {
                /* A GPU, or a function that goes with one (its audio, a device of its group). */
                Accelerator *a = manager_accelerator_of_function(m, *h);

                if (!a || (i && strv_contains(i->gpus, a->address)))
                        continue;
                /* Withheld while a domain holds it outside the claims: handing it to a VM now would
                 * give it to two. (A claimed one is given twice already; that is reported.) */
                if (!a->claimed_by && !a->conflict)
                        a->conflict = strprintf("%s domain '%s'",
                                                i                ? "the Ark"
                                                        : orphan ? "the orphan"
                                                                 : "the non-Ark",
                                                name);
                if (i)
                        manager_conflict_add(
                                m, a->address,
                                "domain '%s' passes through %s%s%s, which the store does not give instance "
                                "'%s'%s%s%s",
                                name, *h, streq(*h, a->address) ? "" : ", a function of GPU ",
                                streq(*h, a->address) ? "" : a->address, i->name,
                                a->claimed_by ? " (it is claimed by instance '" : "",
                                strempty(a->claimed_by), a->claimed_by ? "')" : "");
                else
                        manager_conflict_add(m, a->address, "%s domain '%s' passes through %s%s%s%s%s%s",
                                             orphan ? "orphan" : "the non-Ark", name, *h,
                                             streq(*h, a->address) ? "" : ", a function of GPU ",
                                             streq(*h, a->address) ? "" : a->address,
                                             a->claimed_by ? ", which is claimed by instance '" : "",
                                             strempty(a->claimed_by), a->claimed_by ? "'" : "");
        }
        for (char **g = i ? i->gpus : NULL; g && *g; g++)
                if (!strv_contains(hostdevs, *g))
                        manager_conflict_add(
                                m, *g,
                                "instance '%s' claims %s, but its domain on the hypervisor does not pass "
                                "it through (changed outside Ark?)",
                                i->name, *g);
}

/* Conflicts again from the store and every domain, without touching any instance. */
static void hypervisor_refresh_conflicts(Manager *m) {
        virConnectPtr conn = hypervisor_conn(m);
        virDomainPtr *doms = NULL;
        int n;

        if (!conn || manager_check_claims(m) < 0)
                return;
        n = virConnectListAllDomains(conn, &doms, 0);
        for (int k = 0; k < n; k++) {
                _cleanup_free_ char *tenant = NULL, *id = NULL;
                char uuid[VIR_UUID_STRING_BUFLEN];
                Instance *i = virDomainGetUUIDString(doms[k], uuid) >= 0
                        ? manager_find_instance_by_uuid(m, uuid)
                        : NULL;
                bool orphan = !i && domain_ark_metadata(doms[k], &tenant, &id) >= 0;

                reconcile_domain_gpus(m, doms[k], virDomainGetName(doms[k]), i, orphan);
                virDomainFree(doms[k]);
        }
        free(doms);
        virResetLastError();
        (void) sd_bus_emit_properties_changed(m->bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "Conflicts",
                                              NULL);
        for (size_t k = 0; k < m->n_accelerators; k++) {
                _cleanup_free_ char *path = NULL;

                if (sd_bus_path_encode(ARK_BUS_PREFIX_ACCELERATOR, m->accelerators[k].address, &path) >= 0)
                        (void) sd_bus_emit_properties_changed(m->bus, path, ARK_BUS_IFACE_ACCELERATOR,
                                                              "ClaimState", "Conflict", NULL);
        }
}

int hypervisor_reconcile(Manager *m) {
        virConnectPtr conn = hypervisor_conn(m);
        virDomainPtr *doms = NULL;
        unsigned n_redefined = 0, n_started = 0, n_adopted = 0;
        int n, r;

        if (!conn)
                return -ENOTCONN;

        n = virConnectListAllDomains(conn, &doms, 0);
        if (n < 0) {
                _cleanup_free_ char *msg = NULL;
                r = virt_last_error(&msg);
                return log_error_errno(r, "Reconciliation failed: cannot list domains: %s", strna(msg));
        }

        manager_orphans_clear(m);
        r = manager_check_claims(m);
        if (r < 0)
                log_warning_errno(r, "Failed to read the claims from the store: %m");
        LIST_FOREACH(instances, i, m->instances)
                if (is_vm(i))
                        i->state = INSTANCE_UNKNOWN; /* "not seen yet" below */

        for (int k = 0; k < n; k++) {
                _cleanup_free_ char *tenant = NULL, *id = NULL;
                char uuid[VIR_UUID_STRING_BUFLEN];
                const char *name = virDomainGetName(doms[k]);
                int state, reason;
                Instance *i;

                if (virDomainGetUUIDString(doms[k], uuid) < 0)
                        continue;
                i = manager_find_instance_by_uuid(m, uuid);
                if (!i) {
                        if (domain_ark_metadata(doms[k], &tenant, &id) < 0) {
                                /* A foreign domain: not ours to judge, but it must not hold our GPUs. */
                                reconcile_domain_gpus(m, doms[k], name, NULL, false);
                                continue;
                        }
                        log_struct(
                                LOG_WARNING, 0, LOG_FIELDS("MESSAGE_ID=" ARK_MESSAGE_ORPHAN_DOMAIN),
                                "Domain '%s' (%s) carries Ark metadata for tenant '%s' but has no record; "
                                "reported as an orphan, not touched.",
                                name, uuid, tenant);
                        (void) manager_orphan_add(m, name, uuid, tenant);
                        reconcile_domain_gpus(m, doms[k], name, NULL, true);
                        continue;
                }
                reconcile_domain_gpus(m, doms[k], name, i, false);
                if (!streq(name, i->domain_name ?: i->name))
                        log_warning("Domain %s of instance '%s' is named '%s' on the hypervisor.", uuid,
                                    i->name, name);
                if (virDomainGetState(doms[k], &state, &reason, 0) < 0) {
                        virResetLastError();
                        continue;
                }
                i->state = hypervisor_instance_state(state);
                n_adopted++;
        }

        LIST_FOREACH(instances, i, m->instances) {
                sd_bus_error error = SD_BUS_ERROR_NULL;
                InstanceState seen = i->state;

                if (!is_vm(i))
                        continue;
                if (seen == INSTANCE_UNKNOWN) {
                        /* Intent without a definition: the hypervisor lost it (host reinstall,
                         * A/B update, test driver restart). Define it again from the stored spec. */
                        r = hypervisor_define(i, &error);
                        if (r < 0) {
                                log_error(
                                        "Instance '%s' is missing on the hypervisor and could not be defined "
                                        "again: %s",
                                        i->name, strna(error.message));
                                sd_bus_error_free(&error);
                                free_and_strdup(&i->state_reason, "definition failed");
                                instance_emit_state_changed(i);
                                continue;
                        }
                        n_redefined++;
                        seen = INSTANCE_STOPPED;
                }
                /* A preempted instance keeps saying why it stopped. */
                if (!(i->state == seen && i->preempted_gpus > 0 &&
                      startswith(strempty(i->state_reason), "preempted")))
                        (void) free_and_strdup(&i->state_reason, "reconciled");
                i->state = seen;

                if (i->desired_running && (seen == INSTANCE_STOPPED || seen == INSTANCE_CRASHED)) {
                        _cleanup_(virDomainFreep) virDomainPtr dom = hypervisor_lookup(m, i);
                        if (!dom || virDomainCreate(dom) < 0) {
                                _cleanup_free_ char *msg = NULL;
                                (void) virt_last_error(&msg);
                                virResetLastError();
                                log_error("Failed to start instance '%s' to restore its desired state: %s",
                                          i->name, strna(msg));
                                free_and_strdup(&i->state_reason, "restore failed");
                        } else {
                                i->state = INSTANCE_RUNNING;
                                free_and_strdup(&i->state_reason, "restored");
                                n_started++;
                        }
                } else if (!i->desired_running && seen == INSTANCE_RUNNING) {
                        /* A stop that was interrupted (arkd killed before the guest went down),
                         * or a start from outside Ark: finish the stop gracefully. */
                        log_notice("Instance '%s' runs but should be stopped; shutting it down.", i->name);
                        (void) instance_stop(i, 0, NULL, &error);
                        sd_bus_error_free(&error);
                }
                instance_emit_state_changed(i);
        }
        meter_sync(m);
        reclaim_kick(m); /* a borrower may have stopped while libvirt was away */

        for (int k = 0; k < n; k++)
                virDomainFree(doms[k]);
        free(doms);

        /* Now that the orphans are known, what an interrupted create left behind can go. */
        manager_remove_stray_files(m);

        /* Conflicts may have changed what each accelerator's state is. */
        for (size_t k = 0; k < m->n_accelerators; k++) {
                _cleanup_free_ char *path = NULL;

                if (sd_bus_path_encode(ARK_BUS_PREFIX_ACCELERATOR, m->accelerators[k].address, &path) >= 0)
                        (void) sd_bus_emit_properties_changed(m->bus, path, ARK_BUS_IFACE_ACCELERATOR,
                                                              "ClaimState", "Conflict", NULL);
        }
        m->last_reconcile_usec = now_usec(CLOCK_REALTIME);
        (void) sd_bus_emit_properties_changed(m->bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "LastReconcile",
                                              "Orphans", "Conflicts", NULL);
        log_info(
                "Reconciled with the hypervisor: %u adopted, %u defined again, %u started, %zu orphan%s, %zu "
                "conflict%s.",
                n_adopted, n_redefined, n_started, m->n_orphans, m->n_orphans == 1 ? "" : "s",
                m->n_conflicts, m->n_conflicts == 1 ? "" : "s");
        return 0;
}

/* org.ark.Ark1.Manager at /org/ark/Ark1, and the registration of every object tree. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>

#include "basic/log.h"
#include "basic/string-util.h"
#include "driver.h"
#include "image-store.h"
#include "access.h"
#include "api-guard.h"
#include "audit.h"
#include "bundles.h"
#include "meter.h"
#include "shared/db.h"
#include "network.h"
#include "manager.h"
#include "reclaim.h"
#include "readiness.h"
#include "shared/bus-util.h"

/* HypervisorConnected: the VM driver's backend, libvirt. */
static int property_get_connected(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "b", (int) vm_driver.connected(userdata));
}

static int property_get_domain_type(sd_bus *bus, const char *path, const char *interface,
                                    const char *property, sd_bus_message *reply, void *userdata,
                                    sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", manager_domain_type(userdata));
}

static int property_get_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", ARK_VERSION);
}

static int property_get_hostname(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        char buf[256] = {};

        if (m->host.hostname)
                return sd_bus_message_append(reply, "s", m->host.hostname);
        if (gethostname(buf, sizeof(buf) - 1) < 0)
                buf[0] = 0;
        return sd_bus_message_append(reply, "s", buf);
}

static int property_get_host_u(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        unsigned v = 0;

        if (streq(property, "CPUs"))
                v = m->host.cpus;
        else if (streq(property, "Sockets"))
                v = m->host.sockets;
        else if (streq(property, "CoresPerSocket"))
                v = m->host.cores;
        else if (streq(property, "ThreadsPerCore"))
                v = m->host.threads;
        else if (streq(property, "NTenants") || streq(property, "NInstances")) {
                /* Counted as the caller sees them: no counts of other tenants. */
                _cleanup_(caller_done) Caller c = {};

                if (caller_current(m, bus, &c) >= 0) {
                        if (streq(property, "NTenants")) {
                                LIST_FOREACH(tenants, t, m->tenants)
                                        v += caller_in_tenant(&c, t);
                        } else
                                LIST_FOREACH(instances, i, m->instances)
                                        v += caller_in_tenant_named(m, &c, i->tenant);
                }
        } else if (streq(property, "NAccelerators"))
                v = (unsigned) m->n_accelerators;
        return sd_bus_message_append(reply, "u", v);
}

static int property_get_iommu(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        return sd_bus_message_append(reply, "b", (int) m->host.iommu_enabled);
}

static int property_get_numa(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(iuts)");
        if (r < 0)
                return r;
        for (size_t k = 0; k < m->host.n_numa; k++) {
                NumaNode *n = &m->host.numa[k];
                r = sd_bus_message_append(reply, "(iuts)", n->id, n->n_cpus, n->memory_bytes,
                                          strempty(n->cpulist));
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

/* Whether the caller of the current message administers (orphans and conflicts name domains of
 * any tenant). */
static bool current_is_admin(Manager *m, sd_bus *bus) {
        _cleanup_(caller_done) Caller c = {};
        return caller_current(m, bus, &c) >= 0 && c.admin;
}

static int property_get_orphans(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        bool admin = current_is_admin(m, bus);
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(sss)");
        if (r < 0)
                return r;
        for (size_t k = 0; admin && k < m->n_orphans; k++) {
                r = sd_bus_message_append(reply, "(sss)", m->orphans[k].domain, m->orphans[k].uuid,
                                          m->orphans[k].tenant);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int property_get_conflicts(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        bool admin = current_is_admin(m, bus);
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(ss)");
        if (r < 0)
                return r;
        for (size_t k = 0; admin && k < m->n_conflicts; k++) {
                r = sd_bus_message_append(reply, "(ss)", m->conflicts[k].device, m->conflicts[k].message);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

/* ---------------------------------------------------------------------------------- tenants */

static int method_list_tenants(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(caller_done) Caller c = {};
        Manager *m = userdata;
        int r;

        r = access_require_member(m, msg, &c, "list tenants", error);
        if (r < 0)
                return r;
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(sso)");
        if (r < 0)
                return r;
        LIST_FOREACH(tenants, t, m->tenants) {
                if (!caller_in_tenant(&c, t))
                        continue; /* not even its name */
                r = sd_bus_message_append(reply, "(sso)", t->name, t->description, t->path);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* The tenant or instance `name`, when the caller of msg may see it; otherwise NULL with `error`
 * set (NotFound for an admin, who sees everything; AccessDenied for anyone else, whether it exists
 * or not). */
static Tenant *tenant_by_name_or_error(Manager *m, sd_bus_message *msg, const char *name, const char *what,
                                       sd_bus_error *error) {
        _cleanup_(caller_done) Caller c = {};
        Tenant *t;

        if (caller_get(m, msg, &c, error) < 0)
                return NULL;
        t = manager_find_tenant(m, name);
        if (t && caller_in_tenant(&c, t))
                return t;
        if (c.admin)
                sd_bus_error_setf(error, ARK_ERROR_NOT_FOUND, "Tenant '%.80s' does not exist.", name);
        else
                sd_bus_error_setf(error, ARK_ERROR_ACCESS_DENIED,
                                  "User %u may not %s '%.80s': it is not a member of it.", (unsigned) c.uid,
                                  what, name);
        return NULL;
}

typedef struct VisibleTo {
        Manager *m;
        const Caller *caller;
} VisibleTo;

static bool instance_visible_to(const Instance *i, void *userdata) {
        VisibleTo *v = userdata;

        return caller_in_tenant_named(v->m, v->caller, i->tenant);
}

/* `name` is NAME or TENANT/NAME (instance names are unique per tenant). */
static Instance *instance_by_name_or_error(Manager *m, sd_bus_message *msg, const char *name,
                                           const char *what, sd_bus_error *error) {
        _cleanup_(caller_done) Caller c = {};
        Instance *i = NULL;
        int r;

        if (caller_get(m, msg, &c, error) < 0)
                return NULL;
        r = manager_resolve_instance(m, name, instance_visible_to, &(VisibleTo) { m, &c }, &i);
        if (r == -ENOTUNIQ) {
                sd_bus_error_setf(
                        error, ARK_ERROR_INVALID_ARGUMENT,
                        "More than one tenant you may see has an instance named '%.80s': name it as "
                        "TENANT/%.80s.",
                        name, name);
                return NULL;
        }
        if (r < 0) {
                sd_bus_error_set_errno(error, r);
                return NULL;
        }
        if (i)
                return i;
        if (c.admin)
                sd_bus_error_setf(error, ARK_ERROR_NOT_FOUND, "Instance '%.80s' does not exist.", name);
        else
                sd_bus_error_setf(error, ARK_ERROR_ACCESS_DENIED,
                                  "User %u may not %s instance '%.80s': it is not a member of its tenant.",
                                  (unsigned) c.uid, what, name);
        return NULL;
}

static int method_create_tenant(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        const char *name, *description;
        Tenant *t;
        int r;

        r = sd_bus_message_read(msg, "ss", &name, &description);
        if (r < 0)
                return r;
        r = access_require_admin(userdata, msg, "create tenants", error);
        if (r < 0)
                return r;
        r = tenant_create(userdata, name, description, &t, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, "o", t->path);
}

static int method_get_tenant(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        const char *name;
        Tenant *t;
        int r;

        r = sd_bus_message_read(msg, "s", &name);
        if (r < 0)
                return r;
        t = tenant_by_name_or_error(userdata, msg, name, "see tenant", error);
        if (!t)
                return -ENOENT;
        return sd_bus_reply_method_return(msg, "o", t->path);
}

static int method_delete_tenant(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        const char *name;
        Tenant *t;
        int r;

        r = sd_bus_message_read(msg, "s", &name);
        if (r < 0)
                return r;
        r = access_require_admin(userdata, msg, "delete tenants", error);
        if (r < 0)
                return r;
        t = tenant_by_name_or_error(userdata, msg, name, "delete tenant", error);
        if (!t)
                return -ENOENT;
        r = tenant_delete(t, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, NULL);
}

/* ---------------------------------------------------------------------------------- instances */

static int method_list_instances(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(caller_done) Caller c = {};
        Manager *m = userdata;
        int r;

        r = access_require_member(m, msg, &c, "list instances", error);
        if (r < 0)
                return r;
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(sssssso)");
        if (r < 0)
                return r;
        LIST_FOREACH(instances, i, m->instances) {
                if (!caller_in_tenant_named(m, &c, i->tenant))
                        continue;
                r = sd_bus_message_append(reply, "(sssssso)", i->name, i->tenant, i->type,
                                          instance_state_to_string(i->state),
                                          i->desired_running ? "running" : "stopped", i->uuid, i->path);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* Reads one a{sv} entry's variant into the field that matches `key`, checking its type. */
static int read_spec_entry(sd_bus_message *msg, const char *key, InstanceCreateParams *p,
                           sd_bus_error *error) {
        static const struct {
                const char *key;
                const char *type;
                size_t offset;
        } fields[] = {
                { "Name", "s", offsetof(InstanceCreateParams, name) },
                { "Tenant", "s", offsetof(InstanceCreateParams, tenant) },
                { "Type", "s", offsetof(InstanceCreateParams, type) },
                { "VCPUs", "u", offsetof(InstanceCreateParams, vcpus) },
                { "MemoryBytes", "t", offsetof(InstanceCreateParams, memory_bytes) },
                { "DiskBytes", "t", offsetof(InstanceCreateParams, disk_bytes) },
                { "Image", "s", offsetof(InstanceCreateParams, image) },
                { "Kernel", "s", offsetof(InstanceCreateParams, kernel) },
                { "Initrd", "s", offsetof(InstanceCreateParams, initrd) },
                { "Cmdline", "s", offsetof(InstanceCreateParams, cmdline) },
                { "Start", "b", offsetof(InstanceCreateParams, start) },
                { "GPUs", "u", offsetof(InstanceCreateParams, gpus) },
                { "GPUModel", "s", offsetof(InstanceCreateParams, gpu_model) },
                { "GPUAddresses", "as", offsetof(InstanceCreateParams, gpu_addresses) },
                { "Preemptible", "b", offsetof(InstanceCreateParams, preemptible) },
                { "Model", "s", offsetof(InstanceCreateParams, model) },
                { "Networks", "as", offsetof(InstanceCreateParams, networks) },
                { "Args", "as", offsetof(InstanceCreateParams, args) },
                { "Env", "as", offsetof(InstanceCreateParams, env) },
                { "MIGProfile", "s", offsetof(InstanceCreateParams, mig_profile) },
                { "GPUShareMilli", "u", offsetof(InstanceCreateParams, share_milli) },
                { "GPUMemoryBytes", "t", offsetof(InstanceCreateParams, share_memory) },
        };
        const char *contents;
        char type;
        int r;

        for (size_t k = 0; k < ELEMENTSOF(fields); k++) {
                void *dst = (uint8_t *) p + fields[k].offset;

                if (!streq(key, fields[k].key))
                        continue;
                r = sd_bus_message_peek_type(msg, &type, &contents);
                if (r < 0)
                        return r;
                if (type != 'v' || !streq(contents, fields[k].type))
                        return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                                 "Spec key '%s' must be of type '%s', got '%s'.", key,
                                                 fields[k].type, strna(contents));
                if (fields[k].type[0] == 'b') {
                        int b;
                        r = sd_bus_message_read(msg, "v", "b", &b);
                        if (r >= 0)
                                *(bool *) dst = b;
                } else if (streq(fields[k].type, "as")) {
                        char ***l = dst;

                        l[0] = strv_free(l[0]); /* a key given twice: the last one counts */
                        r = sd_bus_message_enter_container(msg, 'v', "as");
                        if (r >= 0)
                                r = sd_bus_message_read_strv(msg, l);
                        if (r >= 0)
                                r = sd_bus_message_exit_container(msg);
                } else
                        r = sd_bus_message_read(msg, "v", fields[k].type, dst);
                if (r < 0)
                        return r;
                if (streq(key, "VCPUs"))
                        p->have_vcpus = true;
                if (streq(key, "MemoryBytes"))
                        p->have_memory = true;
                return 0;
        }
        return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT, "Unknown instance spec key '%.60s'.",
                                 key);
}

static void instance_create_params_done(InstanceCreateParams *p) {
        p->gpu_addresses = strv_free(p->gpu_addresses);
        p->networks = strv_free(p->networks);
        p->args = strv_free(p->args);
        p->env = strv_free(p->env);
}

static int read_create_spec(sd_bus_message *msg, InstanceCreateParams *p, sd_bus_error *error) {
        int r;

        r = sd_bus_message_enter_container(msg, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(msg, 'e', "sv")) > 0) {
                const char *key;

                r = sd_bus_message_read(msg, "s", &key);
                if (r < 0)
                        return r;
                r = read_spec_entry(msg, key, p, error);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(msg);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(msg);
}

/* After a reclaim: the same call again, now that the borrowers' GPUs are free. It does not
 * reclaim a second time: what is still missing then is refused. */
static int create_instance_continue(Manager *m, sd_bus_message *msg, sd_bus_error *error) {
        _cleanup_(instance_create_params_done) InstanceCreateParams p = {};
        Instance *i;
        int r;

        r = sd_bus_message_rewind(msg, true);
        if (r >= 0)
                r = read_create_spec(msg, &p, error);
        if (r < 0)
                return r;
        {
                /* A caller that has gone since is no admin: paths are then refused. */
                _cleanup_(caller_done) Caller c = {};

                p.caller_admin = caller_get(m, msg, &c, NULL) >= 0 && c.admin;
        }
        r = instance_create(m, &p, NULL, &i, error);
        if (r < 0)
                return r;
        /* Created: a failed answer (the caller has gone) does not undo that. */
        r = sd_bus_reply_method_return(msg, "o", i->path);
        if (r < 0)
                log_warning_errno(r, "Failed to answer CreateInstance of '%s' after the reclaim: %m",
                                  i->name);
        return 0;
}

static int method_create_instance(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(instance_create_params_done) InstanceCreateParams p = {};
        _cleanup_(instance_reclaim_done) InstanceReclaim rc = {};
        Instance *i;
        int r;

        r = read_create_spec(msg, &p, error);
        if (r < 0)
                return r;

        /* Only into a tenant the caller is a member of (an admin: any; one that does not exist is
         * then instance_create()'s to refuse). */
        {
                _cleanup_(caller_done) Caller c = {};

                r = caller_get(userdata, msg, &c, error);
                if (r < 0)
                        return r;
                if (!c.admin && !caller_in_tenant_named(userdata, &c, p.tenant))
                        return sd_bus_error_setf(
                                error, ARK_ERROR_ACCESS_DENIED,
                                "User %u may not create instances in tenant '%.80s': it is not a "
                                "member of it.",
                                (unsigned) c.uid, strempty(p.tenant));
                p.caller_admin = c.admin;
        }
        r = instance_create(userdata, &p, &rc, &i, error);
        if (r < 0)
                return r;
        if (rc.n_victims > 0) {
                r = reclaim_start(userdata, msg, create_instance_continue, p.tenant, p.name, &rc, error);
                return r < 0 ? r : 1; /* answered once the borrowers are down */
        }
        return sd_bus_reply_method_return(msg, "o", i->path);
}

static int method_get_instance(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        const char *name;
        Instance *i;
        int r;

        r = sd_bus_message_read(msg, "s", &name);
        if (r < 0)
                return r;
        i = instance_by_name_or_error(userdata, msg, name, "see", error);
        if (!i)
                return -ENOENT;
        return sd_bus_reply_method_return(msg, "o", i->path);
}

static int method_start_instance(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        const char *name;
        Instance *i;
        int r;

        r = sd_bus_message_read(msg, "s", &name);
        if (r < 0)
                return r;
        i = instance_by_name_or_error(userdata, msg, name, "start", error);
        if (!i)
                return -ENOENT;
        r = instance_start(i, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, NULL);
}

static int method_stop_instance(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        const char *name;
        uint32_t timeout;
        Instance *i;
        int force, r;

        r = sd_bus_message_read(msg, "sbu", &name, &force, &timeout);
        if (r < 0)
                return r;
        i = instance_by_name_or_error(userdata, msg, name, "stop", error);
        if (!i)
                return -ENOENT;
        return instance_method_stop_common(msg, i, force, timeout, error);
}

static int method_delete_instance(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        const char *name;
        Instance *i;
        int r;

        r = sd_bus_message_read(msg, "s", &name);
        if (r < 0)
                return r;
        i = instance_by_name_or_error(userdata, msg, name, "delete", error);
        if (!i)
                return -ENOENT;
        r = instance_delete(i, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, NULL);
}

/* ---------------------------------------------------------------------------------- misc */

static int method_check_host(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(check_list_done) CheckList l = {};
        _cleanup_strv_free_ char **addresses = NULL;
        Manager *m = userdata;
        ReadinessInput in;
        int r;

        r = access_require_admin(m, msg, "check the host", error);
        if (r < 0)
                return r;
        /* Health changes while arkd runs. */
        for (size_t k = 0; k < m->n_accelerators; k++)
                (void) pci_refresh_health(m->config.sysfs_root, &m->accelerators[k]);

        manager_readiness_input(m, &in);

        r = sd_bus_message_read_strv(msg, &addresses);
        if (r < 0)
                return r;
        for (char **a = addresses; a && *a; a++)
                if (!manager_find_accelerator(m, *a))
                        return sd_bus_error_setf(
                                error, ARK_ERROR_NOT_FOUND,
                                "This host has no accelerator at '%.40s' (see 'arkctl host accelerators').",
                                *a);
        r = readiness_check_host(&in, &l);
        for (size_t k = 0; r >= 0 && k < m->n_accelerators; k++)
                if (strv_length(addresses) == 0 || strv_contains(addresses, m->accelerators[k].address))
                        r = readiness_check_accelerator(&in, &m->accelerators[k], &l);
        if (r < 0)
                return r;

        r = sd_bus_message_new_method_return(msg, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(sssss)");
        if (r < 0)
                return r;
        for (size_t k = 0; k < l.n; k++) {
                r = sd_bus_message_append(reply, "(sssss)", l.r[k].subject, l.r[k].check,
                                          check_status_to_string(l.r[k].status), l.r[k].detail,
                                          strempty(l.r[k].remedy));
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_list_accelerators(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(caller_done) Caller c = {};
        Manager *m = userdata;
        int r;

        r = access_require_member(m, msg, &c, "list accelerators", error);
        if (r < 0)
                return r;

        r = sd_bus_message_new_method_return(msg, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(sssso)");
        if (r < 0)
                return r;
        for (size_t k = 0; k < m->n_accelerators; k++) {
                Accelerator *a = &m->accelerators[k];
                _cleanup_free_ char *path = NULL;

                r = sd_bus_path_encode(ARK_BUS_PREFIX_ACCELERATOR, a->address, &path);
                if (r < 0)
                        return r;
                r = sd_bus_message_append(reply, "(sssso)", a->address, strempty(a->vendor_name),
                                          strempty(a->model), strempty(a->driver), path);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_reconcile(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        int r;

        r = access_require_admin(m, msg, "reconcile", error);
        if (r < 0)
                return r;

        r = instance_drivers_reconcile(m, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, NULL);
}

/* One reply of ListAuditLog stays far below the bus' limit on a message (dbus-daemon's default is
 * 32 MiB on the system bus): at most this many rows and bytes; the caller pages with `after`. */
#define AUDIT_PAGE_ROWS_MAX 1000U
#define AUDIT_PAGE_BYTES_MAX (4U << 20)
/* A field longer than this (a row written before arguments were bounded) is sent as a digest. */
#define AUDIT_FIELD_BYTES_MAX (64U << 10)

typedef struct AuditPage {
        sd_bus_message *reply;
        size_t bytes;
        unsigned rows;
} AuditPage;

static int append_audit(const AuditEntry *e, void *userdata) {
        _cleanup_free_ char *args = NULL, *result = NULL;
        const char *a = strempty(e->arguments), *res = strempty(e->result);
        AuditPage *p = userdata;
        size_t size;

        if (strlen(a) > AUDIT_FIELD_BYTES_MAX) {
                args = api_guard_digest(a);
                if (!args)
                        return -ENOMEM;
                a = args;
        }
        if (strlen(res) > AUDIT_FIELD_BYTES_MAX) {
                result = api_guard_digest(res);
                if (!result)
                        return -ENOMEM;
                res = result;
        }
        size = 64 + strlen(strempty(e->caller)) + strlen(strempty(e->action)) + strlen(strempty(e->object)) +
                strlen(a) + strlen(res) + strlen(e->hash);
        if (p->rows > 0 && p->bytes + size > AUDIT_PAGE_BYTES_MAX)
                return -ENOBUFS; /* the page is full */
        p->bytes += size;
        p->rows++;
        return sd_bus_message_append(p->reply, "(ttussssss)", e->seq, e->usec, e->uid, e->caller, e->action,
                                     e->object, a, res, e->hash);
}

static int method_list_audit_log(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Manager *m = userdata;
        AuditPage page = {};
        uint64_t after;
        uint32_t max;
        int r;

        r = sd_bus_message_read(msg, "tu", &after, &max);
        if (r < 0)
                return r;
        r = access_require_admin(m, msg, "read the audit log", error);
        if (r < 0)
                return r;
        if (max == 0 || max > AUDIT_PAGE_ROWS_MAX)
                max = AUDIT_PAGE_ROWS_MAX;
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(ttussssss)");
        page.reply = reply;
        if (r >= 0)
                r = audit_foreach(m->db, after, max, append_audit, &page);
        if (r == -ENOBUFS)
                r = 0;
        if (r == -EIO || r == -ETIMEDOUT)
                return manager_store_error(m, error, r, "Failed to read the audit log");
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_verify_audit_log(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        uint64_t rows = 0, bad = 0;
        char reason[256] = "";
        int r;

        r = access_require_admin(m, msg, "verify the audit log", error);
        if (r < 0)
                return r;
        r = audit_verify(m->db, &rows, &bad, reason, sizeof(reason));
        if (r < 0 && r != -EBADMSG)
                return manager_store_error(m, error, r, "Failed to read the audit log");
        return sd_bus_reply_method_return(msg, "btts", r == 0, rows, bad, reason);
}

typedef struct UsageCtx {
        Manager *m;
        Caller *caller;
        sd_bus_message *reply;
} UsageCtx;

static int append_usage(const UsageRow *u, void *userdata) {
        UsageCtx *c = userdata;

        /* A member sees its tenants' usage only (also of instances deleted since), by the
         * tenant's identity: not a deleted tenant's that had the same name. */
        if (!c->caller->admin) {
                bool mine = false;

                LIST_FOREACH(tenants, t, c->m->tenants)
                        if (u->tenant_uuid && streq(t->uuid, u->tenant_uuid) &&
                            caller_in_tenant(c->caller, t))
                                mine = true;
                if (!mine)
                        return 0;
        }
        return sd_bus_message_append(c->reply, "(ssstdddddd)", u->tenant, u->instance, u->gpu_models,
                                     u->intervals, u->seconds, u->gpu_seconds, u->gpu_memory_gib_seconds,
                                     u->vcpu_seconds, u->memory_gib_seconds, u->compute_unit_seconds);
}

static int method_get_usage_report(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(caller_done) Caller c = {};
        Manager *m = userdata;
        const char *tenant;
        uint64_t from, to;
        UsageCtx ctx = { .m = m, .caller = &c };
        Tenant *t;
        int r;

        r = sd_bus_message_read(msg, "stt", &tenant, &from, &to);
        if (r < 0)
                return r;
        r = access_require_member(m, msg, &c, "read usage", error);
        if (r < 0)
                return r;
        if (!isempty(tenant) && !c.admin && !caller_in_tenant_named(m, &c, tenant))
                return sd_bus_error_setf(
                        error, ARK_ERROR_ACCESS_DENIED,
                        "User %u may not read the usage of tenant '%.64s': it is not a member.",
                        (unsigned) c.uid, tenant);
        if (from > to)
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "The report's start is after its end.");
        /* A tenant that exists is this tenant, not an earlier one of its name; an admin may still
         * ask for a deleted tenant's usage by its name. */
        t = isempty(tenant) ? NULL : manager_find_tenant(m, tenant);
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(ssstdddddd)");
        ctx.reply = reply;
        if (r >= 0)
                r = meter_report(m, tenant, t ? t->uuid : "", from, to, append_usage, &ctx);
        if (r == -EIO || r == -ETIMEDOUT)
                return manager_store_error(m, error, r, "Failed to read usage");
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int append_image(const char *name, const char *scope, uint64_t size, void *userdata) {
        return sd_bus_message_append(userdata, "(sst)", name, scope, size);
}

/* The image store's files a caller may name in a spec: of one tenant (its own, then the shared
 * ones), or with "" the shared ones and those of every tenant the caller is a member of. */
static int method_list_images(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(caller_done) Caller c = {};
        Manager *m = userdata;
        const char *tenant;
        int r;

        r = sd_bus_message_read(msg, "s", &tenant);
        if (r < 0)
                return r;
        r = access_require_member(m, msg, &c, "list images", error);
        if (r < 0)
                return r;
        /* Another tenant's and one that does not exist read the same to a member. */
        if (!isempty(tenant) && !caller_in_tenant_named(m, &c, tenant))
                return sd_bus_error_setf(
                        error, ARK_ERROR_ACCESS_DENIED,
                        "User %u may not list the images of tenant '%.64s': it is not a member.",
                        (unsigned) c.uid, tenant);
        if (!isempty(tenant) && !manager_find_tenant(m, tenant))
                return sd_bus_error_setf(error, ARK_ERROR_NOT_FOUND, "Tenant '%.64s' does not exist.",
                                         tenant);
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(sst)");
        if (r >= 0 && !isempty(tenant))
                r = image_store_foreach(m, tenant, append_image, reply);
        if (r >= 0)
                r = image_store_foreach(m, NULL, append_image, reply);
        if (isempty(tenant))
                LIST_FOREACH(tenants, t, m->tenants)
                        if (r >= 0 && caller_in_tenant(&c, t))
                                r = image_store_foreach(m, t->name, append_image, reply);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to list the image store: %m");
        return sd_bus_send(NULL, reply, NULL);
}

static sd_bus_vtable *vt_manager, *vt_tenant, *vt_instance, *vt_accelerator, *vt_bundle;
#ifdef CONFIG_TENANT_NETWORKS
static sd_bus_vtable *vt_network;
#endif

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Hostname", "s", property_get_hostname, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("StartedAt", "t", NULL, offsetof(Manager, started_usec),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("StateDirectory", "s", bus_property_get_string_ptr,
                        offsetof(Manager, config.state_dir), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("SysfsRoot", "s", bus_property_get_string_ptr, offsetof(Manager, config.sysfs_root),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("HypervisorURI", "s", bus_property_get_string_ptr,
                        offsetof(Manager, config.libvirt_uri), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("DomainType", "s", property_get_domain_type, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("HypervisorConnected", "b", property_get_connected, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("CPUModel", "s", bus_property_get_string_ptr, offsetof(Manager, host.cpu_model),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("CPUs", "u", property_get_host_u, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Sockets", "u", property_get_host_u, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("CoresPerSocket", "u", property_get_host_u, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ThreadsPerCore", "u", property_get_host_u, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("MemoryBytes", "t", NULL, offsetof(Manager, host.memory_bytes),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("NUMANodes", "a(iuts)", property_get_numa, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("IOMMUEnabled", "b", property_get_iommu, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("NTenants", "u", property_get_host_u, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("NInstances", "u", property_get_host_u, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("NAccelerators", "u", property_get_host_u, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Orphans", "a(sss)", property_get_orphans, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Conflicts", "a(ss)", property_get_conflicts, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LastReconcile", "t", NULL, offsetof(Manager, last_reconcile_usec),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),

        SD_BUS_METHOD_WITH_ARGS("ListTenants", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(sso)", tenants),
                                method_list_tenants, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CreateTenant", SD_BUS_ARGS("s", name, "s", description),
                                SD_BUS_RESULT("o", path), method_create_tenant, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetTenant", SD_BUS_ARGS("s", name), SD_BUS_RESULT("o", path),
                                method_get_tenant, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("DeleteTenant", SD_BUS_ARGS("s", name), SD_BUS_NO_RESULT,
                                method_delete_tenant, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListInstances", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(sssssso)", instances),
                                method_list_instances, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CreateInstance", SD_BUS_ARGS("a{sv}", spec), SD_BUS_RESULT("o", path),
                                method_create_instance, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetInstance", SD_BUS_ARGS("s", name), SD_BUS_RESULT("o", path),
                                method_get_instance, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("StartInstance", SD_BUS_ARGS("s", name), SD_BUS_NO_RESULT,
                                method_start_instance, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("StopInstance", SD_BUS_ARGS("s", name, "b", force, "u", timeout),
                                SD_BUS_NO_RESULT, method_stop_instance, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("DeleteInstance", SD_BUS_ARGS("s", name), SD_BUS_NO_RESULT,
                                method_delete_instance, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListAccelerators", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(sssso)", accelerators),
                                method_list_accelerators, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CheckHost", SD_BUS_ARGS("as", accelerators),
                                SD_BUS_RESULT("a(sssss)", checks), method_check_host,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Reconcile", NULL, NULL, method_reconcile, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListAuditLog", SD_BUS_ARGS("t", after, "u", max),
                                SD_BUS_RESULT("a(ttussssss)", entries), method_list_audit_log,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetUsageReport", SD_BUS_ARGS("s", tenant, "t", from, "t", to),
                                SD_BUS_RESULT("a(ssstdddddd)", usage), method_get_usage_report,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("VerifyAuditLog", SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("b", intact, "t", rows, "t", first_bad, "s", reason),
                                method_verify_audit_log, SD_BUS_VTABLE_UNPRIVILEGED),

        SD_BUS_METHOD_WITH_ARGS("TrustKey", SD_BUS_ARGS("s", public_key_pem), SD_BUS_RESULT("s", key_id),
                                method_trust_key, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("UntrustKey", SD_BUS_ARGS("s", key_id), SD_BUS_NO_RESULT, method_untrust_key,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RevokeKey", SD_BUS_ARGS("s", key_id), SD_BUS_NO_RESULT, method_revoke_key,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListTrustedKeys", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(sbb)", keys),
                                method_list_trusted_keys, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ImportBundle", SD_BUS_ARGS("h", bundle, "s", name, "s", tenant),
                                SD_BUS_RESULT("o", path), method_import_bundle, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CancelImport", SD_BUS_ARGS("u", id), SD_BUS_NO_RESULT, method_cancel_import,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListBundles", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(sssso)", bundles),
                                method_list_bundles, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListImages", SD_BUS_ARGS("s", tenant), SD_BUS_RESULT("a(sst)", images),
                                method_list_images, SD_BUS_VTABLE_UNPRIVILEGED),
#ifdef CONFIG_TENANT_NETWORKS
        SD_BUS_METHOD_WITH_ARGS("CreateNetwork", SD_BUS_ARGS("s", name, "s", tenant, "a{sv}", options),
                                SD_BUS_RESULT("o", path), network_method_create, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListNetworks", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(sssso)", networks),
                                network_method_list, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetNetwork", SD_BUS_ARGS("s", name), SD_BUS_RESULT("o", path),
                                network_method_get, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("DeleteNetwork", SD_BUS_ARGS("s", name), SD_BUS_NO_RESULT,
                                network_method_delete, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("PruneNetworkOrphans", NULL, NULL, network_method_prune_orphans,
                      SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_PROPERTY("NetworkOrphans", "as", network_property_get_orphans, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_SIGNAL_WITH_ARGS("NetworkNew", SD_BUS_ARGS("s", tenant, "s", name, "o", path), 0),
        SD_BUS_SIGNAL_WITH_ARGS("NetworkRemoved", SD_BUS_ARGS("s", tenant, "s", name, "o", path), 0),
#endif

        SD_BUS_SIGNAL_WITH_ARGS("TenantNew", SD_BUS_ARGS("s", name, "o", path), 0),
        SD_BUS_SIGNAL_WITH_ARGS("TenantRemoved", SD_BUS_ARGS("s", name, "o", path), 0),
        SD_BUS_SIGNAL_WITH_ARGS("InstanceNew", SD_BUS_ARGS("s", name, "o", path), 0),
        SD_BUS_SIGNAL_WITH_ARGS("InstanceRemoved", SD_BUS_ARGS("s", name, "o", path), 0),
        SD_BUS_SIGNAL_WITH_ARGS("InstanceStateChanged",
                                SD_BUS_ARGS("s", name, "o", path, "s", state, "s", reason), 0),
        SD_BUS_SIGNAL_WITH_ARGS("ImportProgress",
                                SD_BUS_ARGS("u", id, "s", sender, "s", name, "t", done, "t", total, "t",
                                            bytes_per_sec, "t", seconds_left),
                                0),
        SD_BUS_SIGNAL_WITH_ARGS("BundleNew", SD_BUS_ARGS("s", name, "o", path), 0),
        SD_BUS_SIGNAL_WITH_ARGS("BundleRemoved", SD_BUS_ARGS("s", name, "o", path), 0),
        SD_BUS_VTABLE_END,
};

void manager_emit_counts_changed(Manager *m) {
        (void) sd_bus_emit_properties_changed(m->bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "NTenants",
                                              "NInstances", NULL);
}

/* arkd without its bus serves no one, and a process that merely stays alive would fool a watchdog:
 * it says why and leaves with a failure, so the service manager restarts it. */
static int on_bus_disconnected(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;

        log_struct(LOG_ERR, 0, LOG_FIELDS("MESSAGE_ID=" ARK_MESSAGE_BUS_LOST),
                   "Lost the connection to the %s bus; exiting so that the service manager restarts arkd.",
                   isempty(m->config.bus_address) ? "system" : "configured");
        (void) sd_notify(0, "STOPPING=1\nSTATUS=Lost the bus connection.");
        return sd_event_exit(m->event, EXIT_FAILURE);
}

int manager_bus_setup(Manager *m) {
        int r;

        (void) ark_bus_error_map_register();

        if (isempty(m->config.bus_address))
                r = sd_bus_open_system(&m->bus);
        else {
                r = sd_bus_new(&m->bus);
                if (r >= 0)
                        r = sd_bus_set_address(m->bus, m->config.bus_address);
                if (r >= 0)
                        r = sd_bus_set_bus_client(m->bus, 1);
                if (r >= 0)
                        r = sd_bus_start(m->bus);
        }
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the %s bus%s%s: %m",
                                       isempty(m->config.bus_address) ? "system" : "given",
                                       isempty(m->config.bus_address) ? "" : " at ",
                                       strempty(m->config.bus_address));

        /* Every mutating call goes through the audit log (audit.h). */
        r = audit_wrap_vtable(manager_vtable, ARK_BUS_IFACE_MANAGER, &vt_manager);
        if (r >= 0)
                r = audit_wrap_vtable(tenant_vtable, ARK_BUS_IFACE_TENANT, &vt_tenant);
        if (r >= 0)
                r = audit_wrap_vtable(instance_vtable, ARK_BUS_IFACE_INSTANCE, &vt_instance);
        if (r >= 0)
                r = audit_wrap_vtable(accelerator_vtable, ARK_BUS_IFACE_ACCELERATOR, &vt_accelerator);
        if (r >= 0)
                r = audit_wrap_vtable(bundle_vtable, ARK_BUS_IFACE_BUNDLE, &vt_bundle);
#ifdef CONFIG_TENANT_NETWORKS
        if (r >= 0)
                r = audit_wrap_vtable(network_vtable, ARK_BUS_IFACE_NETWORK, &vt_network);
#endif
        if (r < 0)
                return log_error_errno(r, "Failed to set up the audit log's D-Bus hooks: %m");
        r = sd_bus_add_object_vtable(m->bus, NULL, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, vt_manager, m);
        if (r >= 0)
                r = sd_bus_add_fallback_vtable(m->bus, NULL, ARK_BUS_PREFIX_TENANT, ARK_BUS_IFACE_TENANT,
                                               vt_tenant, tenant_object_find, m);
        if (r >= 0)
                r = sd_bus_add_node_enumerator(m->bus, NULL, ARK_BUS_PREFIX_TENANT, tenant_node_enumerator,
                                               m);
        if (r >= 0)
                r = sd_bus_add_fallback_vtable(m->bus, NULL, ARK_BUS_PREFIX_INSTANCE, ARK_BUS_IFACE_INSTANCE,
                                               vt_instance, instance_object_find, m);
        if (r >= 0)
                r = sd_bus_add_node_enumerator(m->bus, NULL, ARK_BUS_PREFIX_INSTANCE,
                                               instance_node_enumerator, m);
        if (r >= 0)
                r = sd_bus_add_fallback_vtable(m->bus, NULL, ARK_BUS_PREFIX_ACCELERATOR,
                                               ARK_BUS_IFACE_ACCELERATOR, vt_accelerator,
                                               accelerator_object_find, m);
        if (r >= 0)
                r = sd_bus_add_node_enumerator(m->bus, NULL, ARK_BUS_PREFIX_ACCELERATOR,
                                               accelerator_node_enumerator, m);
        if (r >= 0)
                r = sd_bus_add_fallback_vtable(m->bus, NULL, ARK_BUS_PREFIX_BUNDLE, ARK_BUS_IFACE_BUNDLE,
                                               vt_bundle, bundle_object_find, m);
        if (r >= 0)
                r = sd_bus_add_node_enumerator(m->bus, NULL, ARK_BUS_PREFIX_BUNDLE, bundle_node_enumerator,
                                               m);
#ifdef CONFIG_TENANT_NETWORKS
        if (r >= 0)
                r = sd_bus_add_fallback_vtable(m->bus, NULL, ARK_BUS_PREFIX_NETWORK, ARK_BUS_IFACE_NETWORK,
                                               vt_network, network_object_find, m);
        if (r >= 0)
                r = sd_bus_add_node_enumerator(m->bus, NULL, ARK_BUS_PREFIX_NETWORK, network_node_enumerator,
                                               m);
#endif
        if (r >= 0)
                r = sd_bus_add_object_manager(m->bus, NULL, ARK_BUS_PATH);
        if (r < 0)
                return log_error_errno(r, "Failed to register the D-Bus objects: %m");

        /* The limits hold for the interfaces sd-bus answers itself too (api-guard.h). */
        r = sd_bus_add_filter(m->bus, NULL, api_guard_filter, m);
        if (r < 0)
                return log_error_errno(r, "Failed to install the bus filter: %m");
        r = sd_bus_match_signal(m->bus, NULL, "org.freedesktop.DBus.Local", NULL,
                                "org.freedesktop.DBus.Local", "Disconnected", on_bus_disconnected, m);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the bus connection: %m");
        r = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Failed to attach the bus to the event loop: %m");
        return 0;
}

int manager_bus_request_name(Manager *m) {
        int r;

        r = sd_bus_request_name(m->bus, ARK_BUS_NAME, 0);
        if (r == -EEXIST)
                return log_error_errno(r, "Another arkd already owns %s on this bus.", ARK_BUS_NAME);
        if (r < 0)
                return log_error_errno(r,
                                       "Failed to acquire the bus name %s: %m (is the D-Bus policy for arkd "
                                       "installed?)",
                                       ARK_BUS_NAME);
        return 0;
}

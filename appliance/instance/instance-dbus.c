/* org.ark.Ark1.Instance objects. */

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "access.h"
#include "bundles.h"
#include "instance.h"
#include "network.h"
#include "pool/mig.h"
#include "manager.h"
#include "shared/bus-util.h"

static int property_get_state(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Instance *i = userdata;
        return sd_bus_message_append(reply, "s", instance_state_to_string(i->state));
}

/* A reason may name the tenant or instance that caused it (the one a preempted instance's GPUs
 * went back to): a member of the instance's tenant only is told "another tenant". Outside a call
 * (a PropertiesChanged signal from a timer) it is sent whole: only admins receive signals
 * (org.ark.Ark1.conf). */
static int property_get_state_reason(sd_bus *bus, const char *path, const char *interface,
                                     const char *property, sd_bus_message *reply, void *userdata,
                                     sd_bus_error *error) {
        Instance *i = userdata;
        _cleanup_free_ char *redacted = NULL;
        _cleanup_(caller_done) Caller c = {};

        if (!sd_bus_get_current_message(bus))
                return sd_bus_message_append(reply, "s", strempty(i->state_reason));
        if (caller_current(i->manager, bus, &c) < 0)
                return sd_bus_message_append(reply, "s", "");
        redacted = access_redact(i->manager, &c, NULL, i->state_reason);
        return sd_bus_message_append(reply, "s", redacted ?: strempty(i->state_reason));
}

static int property_get_desired(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Instance *i = userdata;
        return sd_bus_message_append(reply, "s", i->desired_running ? "running" : "stopped");
}

static int property_get_uuid(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Instance *i = userdata;
        return sd_bus_message_append(reply, "s", i->uuid);
}

static int method_start(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        int r = instance_start(userdata, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, NULL);
}

int instance_method_stop_common(sd_bus_message *msg, Instance *i, int force, uint32_t timeout,
                                sd_bus_error *error) {
        int r;

        if (force) {
                r = instance_force_off(i, error);
                if (r < 0)
                        return r;
                return sd_bus_reply_method_return(msg, NULL);
        }
        if (timeout > 3600)
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "Stop timeout %u s is out of range (0 to 3600 seconds).", timeout);
        r = instance_stop(i, timeout, msg, error);
        if (r < 0)
                return r;
        if (r > 0)
                return 1; /* answered when the instance has stopped */
        return sd_bus_reply_method_return(msg, NULL);
}

static int method_stop(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        uint32_t timeout;
        int r;

        r = sd_bus_message_read(msg, "u", &timeout);
        if (r < 0)
                return r;
        return instance_method_stop_common(msg, userdata, 0, timeout, error);
}

static int method_force_off(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return instance_method_stop_common(msg, userdata, 1, 0, error);
}

static int method_delete(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        int r = instance_delete(userdata, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, NULL);
}

static int method_add_gpus(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_strv_free_ char **addresses = NULL;
        InstanceCreateParams p = {};
        const char *model;
        uint32_t count;
        int r;

        r = sd_bus_message_read(msg, "us", &count, &model);
        if (r >= 0)
                r = sd_bus_message_read_strv(msg, &addresses);
        if (r < 0)
                return r;
        p.gpus = count;
        p.gpu_model = isempty(model) ? NULL : model;
        p.gpu_addresses = addresses;
        r = instance_add_gpus(userdata, &p, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, NULL);
}

static int method_remove_gpus(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_strv_free_ char **addresses = NULL;
        int r;

        r = sd_bus_message_read_strv(msg, &addresses);
        if (r < 0)
                return r;
        r = instance_remove_gpus(userdata, addresses, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, NULL);
}

static int method_get_xml(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        char *xml = NULL;
        int r;

        r = instance_get_xml(userdata, &xml, error);
        if (r < 0)
                return r;
        r = sd_bus_reply_method_return(msg, "s", xml);
        free(xml);
        return r;
}

static int method_open_console(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        r = instance_open_console(userdata, &fd, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, "h", fd);
}

/* Commands one instance may run at once through Exec: each holds a process of arkd's (crun
 * exec) outside the container's limits. */
#define INSTANCE_EXECS_MAX 16

/* An Exec call waiting for its command to end: its answer, made when the call came, so that the
 * call (with the caller's descriptors) is let go at once. */
typedef struct ExecWait {
        Manager *manager;
        char uuid[37];
        sd_bus_message *reply;
        sd_event_source *child;
} ExecWait;

static int on_exec_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        ExecWait *w = userdata;
        int status = si->si_code == CLD_EXITED ? si->si_status : 128 + si->si_status;
        Instance *i = manager_find_instance_by_uuid(w->manager, w->uuid);

        log_debug("Exec: process %d ended with %d.", (int) si->si_pid, status);
        if (i && i->n_execs > 0)
                i->n_execs--;
        if (sd_bus_message_append(w->reply, "i", (int32_t) status) >= 0)
                (void) sd_bus_send(NULL, w->reply, NULL);
        sd_bus_message_unref(w->reply);
        sd_event_source_disable_unref(w->child);
        free(w);
        return 0;
}

/* Exec(as command, h stdin, h stdout, h stderr) -> (i status): answered when the command ends. */
static int method_exec(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Instance *i = userdata;
        _cleanup_strv_free_ char **argv = NULL;
        _cleanup_free_ ExecWait *w = NULL;
        int fds[3], r;
        pid_t pid;

        r = sd_bus_message_read_strv(msg, &argv);
        if (r < 0)
                return r;
        r = sd_bus_message_read(msg, "hhh", &fds[0], &fds[1], &fds[2]);
        if (r < 0)
                return r;
        if (i->n_execs >= INSTANCE_EXECS_MAX)
                return sd_bus_error_setf(error, ARK_ERROR_NO_CAPACITY,
                                         "Instance '%s' runs %u commands already; wait for one to end.",
                                         i->name, i->n_execs);
        w = calloc(1, sizeof(ExecWait));
        if (!w)
                return -ENOMEM;
        r = sd_bus_message_new_method_return(msg, &w->reply);
        if (r < 0)
                return r;
        r = instance_exec(i, argv, fds, &pid, error);
        if (r < 0) {
                w->reply = sd_bus_message_unref(w->reply);
                return r;
        }
        r = sd_event_add_child(i->manager->event, &w->child, pid, WEXITED, on_exec_exit, w);
        if (r < 0) {
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                w->reply = sd_bus_message_unref(w->reply);
                return sd_bus_error_set_errnof(error, r, "Failed to watch the command: %m");
        }
        (void) sd_event_source_set_child_process_own(w->child, true);
        log_debug("Exec: watching process %d.", (int) pid);
        w->manager = i->manager;
        memcpy(w->uuid, i->uuid, sizeof(w->uuid));
        i->n_execs++;
        /* The command has its own copies of the descriptors: the call's go with the call. */
        caller_release(i->manager, msg);
        TAKE_PTR(w);
        return 1;
}

static int method_open_log(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        r = instance_open_log(userdata, &fd, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, "h", fd);
}

/* (network, MAC, IPv4 address, host-side interface) of each NIC, in order. */
static int property_get_networks(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Instance *i = userdata;
        _cleanup_free_ Nic **nics = network_instance_nics(i->manager, i->id);
        int r;

        if (!nics)
                return -ENOMEM;
        r = sd_bus_message_open_container(reply, 'a', "(ssss)");
        if (r < 0)
                return r;
        for (Nic **c = nics; *c; c++) {
                char mac[NET_MAC_STRLEN], ip[NET_ADDR_STRLEN];

                r = sd_bus_message_append(reply, "(ssss)", (*c)->network->name,
                                          net_mac_to_string((*c)->mac, mac),
                                          net_addr_to_string(&(*c)->ip4, ip), (*c)->ifname);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int method_network(sd_bus_message *msg, void *userdata, sd_bus_error *error, bool add) {
        const char *network;
        int r;

        r = sd_bus_message_read(msg, "s", &network);
        if (r < 0)
                return r;
        r = instance_network(userdata, network, add, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, NULL);
}

static int method_add_network(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return method_network(msg, userdata, error, true);
}

static int method_remove_network(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return method_network(msg, userdata, error, false);
}

/* "NAME VERSION" of the model it serves, "" = none. */
static int property_get_model(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Instance *i = userdata;
        const Bundle *b = i->model_id > 0 ? bundle_by_id(i->manager, i->model_id) : NULL;
        _cleanup_free_ char *s = b ? strprintf("%s %s", b->name, b->version) : NULL;

        return sd_bus_message_append(reply, "s", strempty(s));
}

static int property_get_gpus(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Instance *i = userdata;
        return sd_bus_message_append_strv(reply, i->gpus);
}

/* Its MIG instance or share, as one struct in an array (empty for none): kind ("mig", "share"),
 * GPU, MIG profile, MIG start slice, milli-GPUs, GPU memory. */
static int property_get_partition(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Instance *i = userdata;
        const InstancePartition *p = i->partition;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(sssuut)");
        if (r >= 0 && p)
                r = sd_bus_message_append(reply, "(sssuut)", p->mig ? "mig" : "share", p->address,
                                          p->mig ? mig_profile_info((MigProfile) p->profile)->name : "",
                                          p->mig ? p->mig_start : 0, p->milli, p->memory_bytes);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        return r;
}

static int property_get_strv(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Instance *i = userdata;
        return sd_bus_message_append_strv(reply, streq(property, "Args") ? i->args : i->env);
}

const sd_bus_vtable instance_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", bus_property_get_string_ptr, offsetof(Instance, name),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Id", "s", property_get_uuid, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Tenant", "s", bus_property_get_string_ptr, offsetof(Instance, tenant),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Type", "s", bus_property_get_string_ptr, offsetof(Instance, type),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("VCPUs", "u", NULL, offsetof(Instance, vcpus), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("MemoryBytes", "t", NULL, offsetof(Instance, memory_bytes),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("DiskPath", "s", bus_property_get_string_ptr, offsetof(Instance, disk_path),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("DiskBytes", "t", NULL, offsetof(Instance, disk_bytes),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("DiskOwned", "b", bus_property_get_bool, offsetof(Instance, disk_owned),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Image", "s", bus_property_get_string_ptr, offsetof(Instance, image),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Args", "as", property_get_strv, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Env", "as", property_get_strv, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Kernel", "s", bus_property_get_string_ptr, offsetof(Instance, kernel),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Initrd", "s", bus_property_get_string_ptr, offsetof(Instance, initrd),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Cmdline", "s", bus_property_get_string_ptr, offsetof(Instance, cmdline),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ConsoleLog", "s", bus_property_get_string_ptr, offsetof(Instance, console_log),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", property_get_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("StateReason", "s", property_get_state_reason, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("DesiredState", "s", property_get_desired, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("CreatedAt", "t", NULL, offsetof(Instance, created_usec),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("GPUs", "as", property_get_gpus, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Partition", "a(sssuut)", property_get_partition, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Preemptible", "b", bus_property_get_bool, offsetof(Instance, preemptible),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Model", "s", property_get_model, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Networks", "a(ssss)", property_get_networks, 0, 0),
        SD_BUS_PROPERTY("PreemptedGPUs", "u", NULL, offsetof(Instance, preempted_gpus),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD("Start", NULL, NULL, method_start, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Stop", SD_BUS_ARGS("u", timeout), SD_BUS_NO_RESULT, method_stop,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("ForceOff", NULL, NULL, method_force_off, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Delete", NULL, NULL, method_delete, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetXML", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", xml), method_get_xml,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("OpenConsole", SD_BUS_NO_ARGS, SD_BUS_RESULT("h", console),
                                method_open_console, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Exec", SD_BUS_ARGS("as", command, "h", stdin, "h", stdout, "h", stderr),
                                SD_BUS_RESULT("i", status), method_exec, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("OpenLog", SD_BUS_NO_ARGS, SD_BUS_RESULT("h", log), method_open_log,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("AddNetwork", SD_BUS_ARGS("s", network), SD_BUS_NO_RESULT,
                                method_add_network, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RemoveNetwork", SD_BUS_ARGS("s", network), SD_BUS_NO_RESULT,
                                method_remove_network, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("AddGPUs", SD_BUS_ARGS("u", count, "s", model, "as", addresses),
                                SD_BUS_NO_RESULT, method_add_gpus, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RemoveGPUs", SD_BUS_ARGS("as", addresses), SD_BUS_NO_RESULT,
                                method_remove_gpus, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

int instance_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                         sd_bus_error *error) {
        _cleanup_free_ char *tenant = NULL, *name = NULL;
        Instance *i;
        int r;

        r = sd_bus_path_decode_many(path, ARK_BUS_PREFIX_INSTANCE "/%/%", &tenant, &name);
        if (r <= 0)
                return 0;
        i = manager_find_instance_in(userdata, tenant, name);
        if (!i)
                return 0;
        /* Another tenant's instance does not exist for the caller. */
        {
                _cleanup_(caller_done) Caller c = {};
                if (caller_current(userdata, bus, &c) < 0 ||
                    !caller_in_tenant_named(userdata, &c, i->tenant))
                        return 0;
        }
        *found = i;
        return 1;
}

int instance_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes,
                             sd_bus_error *error) {
        _cleanup_strv_free_ char **l = NULL;
        Manager *m = userdata;

        _cleanup_(caller_done) Caller c = {};

        if (caller_current(m, bus, &c) < 0)
                c.admin = false;
        LIST_FOREACH(instances, i, m->instances)
                if (caller_in_tenant_named(m, &c, i->tenant) && strv_extend(&l, i->path) < 0)
                        return -ENOMEM;
        if (!l && !(l = calloc(1, sizeof(char *))))
                return -ENOMEM;
        *nodes = TAKE_PTR(l);
        return 1;
}

/* arkctl vm create | list | show | start | stop | delete | console. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "arkctl.h"
#include "basic/time-util.h"
#include "bus-props.h"
#include "output.h"
#include "basic/fileio.h"
#include "basic/parse-util.h"
#include "basic/string-util.h"
#include "shared/bus-util.h"

/* StopInstance replies only once the instance is down: wait for the stop timeout plus a margin
 * for the forced power-off. With --timeout 0 the daemon uses its configured default, which the
 * client does not know, so wait for the longest one Kconfig allows. */
#define STOP_DEFAULT_TIMEOUT_MAX_SEC 3600U
#define STOP_MARGIN_SEC 30U

static const FieldMap nic_members[] = {
        { NULL, "network" }, { NULL, "mac" }, { NULL, "ipv4" }, { NULL, "interface" }, {},
};

static const FieldMap partition_members[] = {
        { NULL, "kind" },
        { NULL, "gpu" },
        { NULL, "mig_profile" },
        { NULL, "mig_start" },
        { NULL, "milli" },
        { NULL, "memory_bytes" },
        {},
};

static const FieldMap instance_fields[] = {
        { "Name", "name" },
        { "Id", "id" },
        { "Tenant", "tenant" },
        { "Type", "type" },
        { "State", "state" },
        { "StateReason", "state_reason" },
        { "DesiredState", "desired_state" },
        { "VCPUs", "vcpus" },
        { "MemoryBytes", "memory_bytes" },
        { "DiskPath", "disk_path" },
        { "DiskBytes", "disk_bytes" },
        { "DiskOwned", "disk_owned" },
        { "Image", "image" },
        { "Kernel", "kernel" },
        { "Initrd", "initrd" },
        { "Cmdline", "cmdline" },
        { "ConsoleLog", "console_log" },
        { "CreatedAt", "created_at" },
        { "GPUs", "gpus" },
        { "Partition", "partition", FIELD_STRUCTS, partition_members },
        { "Preemptible", "preemptible" },
        { "Model", "model" },
        { "PreemptedGPUs", "preempted_gpus" },
        { "Networks", "networks", FIELD_STRUCTS, nic_members },
        {},
};

const char *ctl_instance_type = "vm";

/* What the instances the command is about are called in messages. */
static const char *word(void) {
        return streq(ctl_instance_type, "container") ? "container" : "VM";
}

static int print_instance(json_t *props) {
        _cleanup_(table_freep) Table *t = NULL;
        _cleanup_free_ char *state = NULL, *disk = NULL, *gpu_list = NULL;
        char created[OUTPUT_FORMAT_MAX], mem[OUTPUT_FORMAT_MAX], size[OUTPUT_FORMAT_MAX], vcpus[32];
        const char *reason = props_string(props, "StateReason");

        if (arg_output == OUTPUT_JSON) {
                _cleanup_(json_decrefp) json_t *j = props_to_json(props, instance_fields);

                return ctl_print_json(j);
        }

        if (isempty(reason))
                state = strdup(props_string(props, "State"));
        else
                state = strprintf("%s (%s)", props_string(props, "State"), reason);
        if (isempty(props_string(props, "DiskPath")))
                disk = strdup("none");
        else
                disk = strprintf("%s (%s%s)", props_string(props, "DiskPath"),
                                 format_bytes(size, sizeof(size), props_u64(props, "DiskBytes")),
                                 props_bool(props, "DiskOwned") ? ", created by Ark" : "");
        if (!state || !disk)
                return ctl_oom();
        snprintf(vcpus, sizeof(vcpus), "%" PRIu64, props_u64(props, "VCPUs"));

        t = table_new_fields();
        if (!t)
                return ctl_oom();
        table_add_row(t, "Name", props_string(props, "Name"));
        table_add_row(t, "Id", props_string(props, "Id"));
        table_add_row(t, "Tenant", props_string(props, "Tenant"));
        table_add_row(t, "Type", props_string(props, "Type"));
        table_add_row(t, "State", state);
        table_add_row(t, "Desired state", props_string(props, "DesiredState"));
        table_add_row(t, "vCPUs", vcpus);
        table_add_row(t, "Memory", format_bytes(mem, sizeof(mem), props_u64(props, "MemoryBytes")));
        table_add_row(t, "Disk", disk);
        {
                json_t *gpus = json_object_get(props, "GPUs"), *g;
                StrBuf b = {};
                size_t k;

                json_array_foreach(gpus, k, g)
                        strbuf_printf(&b, "%s%s", k > 0 ? ", " : "", strempty(json_string_value(g)));
                gpu_list = strbuf_steal(&b);
                table_add_row(t, "GPUs", isempty(gpu_list) ? "none" : gpu_list);
        }
        {
                json_t *part = json_array_get(json_object_get(props, "Partition"), 0);

                if (part) {
                        _cleanup_free_ char *s = NULL;
                        char gib[OUTPUT_FORMAT_MAX];
                        uint64_t milli = json_integer_value(json_array_get(part, 4));

                        if (streq_ptr(json_string_value(json_array_get(part, 0)), "mig"))
                                s = strprintf("MIG instance %s of GPU %s (memory slices from %" PRIu64 ")",
                                              json_string_value(json_array_get(part, 2)),
                                              json_string_value(json_array_get(part, 1)),
                                              (uint64_t) json_integer_value(json_array_get(part, 3)));
                        else
                                s = strprintf("%" PRIu64 ".%03" PRIu64
                                              " of GPU %s with %s of its memory (MPS)",
                                              milli / 1000, milli % 1000,
                                              json_string_value(json_array_get(part, 1)),
                                              format_bytes(gib, sizeof(gib),
                                                           json_integer_value(json_array_get(part, 5))));
                        table_add_row(t, "GPU partition", s ?: "?");
                }
        }
        if (props_bool(props, "Preemptible")) {
                _cleanup_free_ char *p = NULL;
                uint64_t n = props_u64(props, "PreemptedGPUs");

                if (n > 0)
                        p = strprintf("yes (%" PRIu64 " GPU%s taken back, asked for again at start)", n,
                                      n == 1 ? "" : "s");
                table_add_row(t, "Preemptible", p ?: "yes");
        }
        if (!isempty(props_string(props, "Model")))
                table_add_row(t, "Model", props_string(props, "Model"));
        {
                json_t *nics = json_object_get(props, "Networks"), *e;
                _cleanup_free_ char *list = NULL;
                StrBuf b = {};
                size_t k;

                json_array_foreach(nics, k, e)
                        strbuf_printf(&b, "%s%s %s (%s)", k > 0 ? ", " : "",
                                      strempty(json_string_value(json_array_get(e, 0))),
                                      strempty(json_string_value(json_array_get(e, 2))),
                                      strempty(json_string_value(json_array_get(e, 1))));
                list = strbuf_steal(&b);
                table_add_row(t, "Networks", isempty(list) ? "none" : list);
        }
        table_add_row(t, "Image", strdash(props_string(props, "Image")));
        if (!isempty(props_string(props, "Kernel"))) {
                table_add_row(t, "Kernel", props_string(props, "Kernel"));
                table_add_row(t, "Initrd", strdash(props_string(props, "Initrd")));
                table_add_row(t, "Cmdline", strdash(props_string(props, "Cmdline")));
        }
        table_add_row(t, "Console log", strdash(props_string(props, "ConsoleLog")));
        table_add_row(t, "Created",
                      format_timestamp(created, sizeof(created), props_u64(props, "CreatedAt")));
        return ctl_print_table(t);
}

/* Fetches and prints the instance `name` (after start/stop, to show its new state). */
static int show_instance(sd_bus *bus, const char *name) {
        _cleanup_(json_decrefp) json_t *props = NULL;
        int r;

        r = ctl_get_object(bus, "GetInstance", name, ARK_BUS_IFACE_INSTANCE, NULL, &props);
        if (r < 0)
                return r;
        return print_instance(props);
}

/* arkd runs with another working directory: relative paths are resolved here. An existing file
 * is canonicalized; for a missing one its directory is, or failing that the path is joined to the
 * working directory, so that arkd's error names the path the user meant. */
static int absolute_path(const char *option, const char *path, char **ret) {
        _cleanup_free_ char *copy = NULL, *dir = NULL, *cwd = NULL;
        const char *slash;
        char *p;

        if (path[0] == '/')
                p = strdup(path);
        else if ((p = realpath(path, NULL)))
                ;
        else {
                slash = strrchr(path, '/');
                if (slash && slash[1]) {
                        copy = strndup(path, (size_t) (slash - path));
                        if (!copy)
                                return ctl_oom();
                        dir = realpath(copy, NULL);
                }
                if (dir)
                        p = path_join(dir, slash + 1);
                else {
                        cwd = getcwd(NULL, 0);
                        if (!cwd) {
                                fprintf(stderr, "arkctl: %s: cannot resolve '%s': %s\n", option, path,
                                        strerror(errno));
                                return negative_errno();
                        }
                        p = path_join(cwd, path);
                }
        }
        if (!p)
                return ctl_oom();
        *ret = p;
        return 0;
}

static int append_spec_string(sd_bus_message *m, const char *key, const char *value) {
        return sd_bus_message_append(m, "{sv}", key, "s", value);
}

int verb_vm_create(char **args) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(json_decrefp) json_t *props = NULL;
        _cleanup_free_ char *image = NULL, *kernel = NULL, *initrd = NULL;
        const char *name = args[0], *path;
        int r;

        /* The name and every range are arkd's to check (exit status 1, its sentence); here only
         * what makes the command line itself incomplete or contradictory. The dispatcher has
         * seen --tenant, --vcpus and --memory (ctl_verbs[]). */
        if (isempty(arg_tenant))
                return usage_error("--tenant: the tenant name may not be empty");
        if ((arg_given & OPT_IMAGE) && isempty(arg_image))
                return usage_error("--image: the image may not be empty");
        if ((arg_given & OPT_KERNEL) && isempty(arg_kernel))
                return usage_error("--kernel: the path may not be empty");
        if ((arg_given & OPT_INITRD) && isempty(arg_initrd))
                return usage_error("--initrd: the path may not be empty");
        if ((arg_given & (OPT_INITRD | OPT_CMDLINE)) && !(arg_given & OPT_KERNEL))
                return usage_error("%s needs --kernel", arg_given & OPT_INITRD ? "--initrd" : "--cmdline");

        /* A file without '/' names a file in arkd's image store and goes as it is. */
        if (arg_image && strchr(arg_image, '/')) {
                r = absolute_path("--image", arg_image, &image);
                if (r < 0)
                        return r;
        }
        if (arg_kernel && strchr(arg_kernel, '/')) {
                r = absolute_path("--kernel", arg_kernel, &kernel);
                if (r < 0)
                        return r;
        }
        if (arg_initrd && strchr(arg_initrd, '/')) {
                r = absolute_path("--initrd", arg_initrd, &initrd);
                if (r < 0)
                        return r;
        }

        r = ctl_bus_open(&bus);
        if (r < 0)
                return r;
        r = ctl_new_call(bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "CreateInstance", &m);
        if (r < 0)
                return r;

        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0)
                r = append_spec_string(m, "Name", name);
        if (r >= 0)
                r = append_spec_string(m, "Tenant", arg_tenant);
        if (r >= 0)
                r = append_spec_string(m, "Type", "vm");
        if (r >= 0)
                r = sd_bus_message_append(m, "{sv}", "VCPUs", "u", arg_vcpus);
        if (r >= 0)
                r = sd_bus_message_append(m, "{sv}", "MemoryBytes", "t", arg_memory);
        if (r >= 0 && (arg_given & OPT_DISK))
                r = sd_bus_message_append(m, "{sv}", "DiskBytes", "t", arg_disk);
        if (r >= 0 && arg_image)
                r = append_spec_string(m, "Image", image ?: arg_image);
        if (r >= 0 && arg_kernel)
                r = append_spec_string(m, "Kernel", kernel ?: arg_kernel);
        if (r >= 0 && arg_initrd)
                r = append_spec_string(m, "Initrd", initrd ?: arg_initrd);
        if (r >= 0 && arg_cmdline)
                r = append_spec_string(m, "Cmdline", arg_cmdline);
        if (r >= 0 && (arg_given & OPT_GPUS))
                r = sd_bus_message_append(m, "{sv}", "GPUs", "u", arg_gpus);
        if (r >= 0 && arg_gpu_model)
                r = append_spec_string(m, "GPUModel", arg_gpu_model);
        if (r >= 0 && arg_gpu_addresses) {
                r = sd_bus_message_open_container(m, 'e', "sv");
                if (r >= 0)
                        r = sd_bus_message_append(m, "s", "GPUAddresses");
                if (r >= 0)
                        r = sd_bus_message_open_container(m, 'v', "as");
                if (r >= 0)
                        r = sd_bus_message_append_strv(m, arg_gpu_addresses);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
        }
        if (r >= 0 && arg_networks) {
                r = sd_bus_message_open_container(m, 'e', "sv");
                if (r >= 0)
                        r = sd_bus_message_append(m, "s", "Networks");
                if (r >= 0)
                        r = sd_bus_message_open_container(m, 'v', "as");
                if (r >= 0)
                        r = sd_bus_message_append_strv(m, arg_networks);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
        }
        if (r >= 0 && arg_preemptible)
                r = sd_bus_message_append(m, "{sv}", "Preemptible", "b", 1);
        if (r >= 0 && arg_model)
                r = sd_bus_message_append(m, "{sv}", "Model", "s", arg_model);
        if (r >= 0 && arg_start)
                r = sd_bus_message_append(m, "{sv}", "Start", "b", 1);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                return ctl_log_call_error(r, NULL, "CreateInstance");

        /* A create that reclaims GPUs from preemptible VMs answers once they are down: up to the
         * daemon's stop timeout (at most an hour) and its margin. */
        r = ctl_send(bus, m,
                     arg_given & (OPT_GPUS | OPT_GPU_MODEL | OPT_GPU)
                             ? (uint64_t) (STOP_DEFAULT_TIMEOUT_MAX_SEC + 2 * STOP_MARGIN_SEC) * USEC_PER_SEC
                             : CTL_SLOW_CALL_USEC,
                     &reply);
        if (r < 0)
                return r;

        if (arg_output != OUTPUT_JSON) {
                printf("Created %s%s '%s' for tenant '%s'.\n", arg_start ? "and started " : "", word(), name,
                       arg_tenant);
                return 0;
        }
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return ctl_log_call_error(r, NULL, "CreateInstance");
        r = ctl_get_all(bus, path, ARK_BUS_IFACE_INSTANCE, &props);
        if (r < 0)
                return r;
        return print_instance(props);
}

int verb_vm_list(char **args) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(json_decrefp) json_t *list = json_array();
        _cleanup_(table_freep) Table *t = NULL;
        const char *name, *tenant, *type, *state, *desired, *id, *path;
        int r;

        if (!list)
                return ctl_oom();
        r = ctl_bus_open(&bus);
        if (r < 0)
                return r;

        /* A misspelt tenant is an error, not an empty list. */
        if (arg_tenant) {
                r = ctl_get_object(bus, "GetTenant", arg_tenant, ARK_BUS_IFACE_TENANT, NULL, NULL);
                if (r < 0)
                        return r;
        }

        r = ctl_call(bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "ListInstances", 0, &reply, NULL);
        if (r < 0)
                return r;

        t = table_new("NAME", "TENANT", "STATE", "DESIRED", "VCPUS", "MEMORY", "DISK", NULL);
        if (!t)
                return ctl_oom();

        r = sd_bus_message_enter_container(reply, 'a', "(sssssso)");
        if (r < 0)
                return ctl_log_call_error(r, NULL, "ListInstances");
        while ((r = sd_bus_message_read(reply, "(sssssso)", &name, &tenant, &type, &state, &desired, &id,
                                        &path)) > 0) {
                _cleanup_(json_decrefp) json_t *props = NULL;
                char vcpus[32], mem[OUTPUT_FORMAT_MAX], disk[OUTPUT_FORMAT_MAX] = "-";

                if ((arg_tenant && !streq(tenant, arg_tenant)) || !streq(type, ctl_instance_type))
                        continue;
                r = ctl_get_all_listed(bus, path, ARK_BUS_IFACE_INSTANCE, &props);
                if (r < 0)
                        return r;
                if (!props)
                        continue;
                if (arg_output == OUTPUT_JSON) {
                        if (json_array_append_new(list, props_to_json(props, instance_fields)) < 0)
                                return ctl_oom();
                        continue;
                }
                snprintf(vcpus, sizeof(vcpus), "%" PRIu64, props_u64(props, "VCPUs"));
                if (props_u64(props, "DiskBytes") > 0)
                        format_bytes(disk, sizeof(disk), props_u64(props, "DiskBytes"));
                table_add_row(t, props_string(props, "Name"), props_string(props, "Tenant"),
                              props_string(props, "State"), props_string(props, "DesiredState"), vcpus,
                              format_bytes(mem, sizeof(mem), props_u64(props, "MemoryBytes")), disk);
        }
        if (r < 0)
                return ctl_log_call_error(r, NULL, "ListInstances");

        if (arg_output == OUTPUT_JSON)
                return ctl_print_json(list);
        if (table_rows(t) == 0) {
                if (arg_legend)
                        printf(arg_tenant ? "No %ss for this tenant.\n" : "No %ss.\n", word());
                return 0;
        }
        return ctl_print_table(t);
}

int verb_vm_show(char **args) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *path = NULL;
        const char *xml;
        int r;

        r = ctl_bus_open(&bus);
        if (r < 0)
                return r;
        if (!arg_xml)
                return show_instance(bus, args[0]);

        /* --xml: the domain XML exactly as libvirt has it, whatever -o says. */
        r = ctl_get_object(bus, "GetInstance", args[0], ARK_BUS_IFACE_INSTANCE, &path, NULL);
        if (r < 0)
                return r;
        r = ctl_call(bus, path, ARK_BUS_IFACE_INSTANCE, "GetXML", 0, &reply, NULL);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "s", &xml);
        if (r < 0)
                return ctl_log_call_error(r, NULL, "GetXML");
        fputs(xml, stdout);
        if (!endswith(xml, "\n"))
                fputc('\n', stdout);
        return 0;
}

/* The observed state of VM `name` ("running", ...) into *ret; negative errno when it cannot be
 * read (the caller goes on without it). Does not log. */
static int vm_state(sd_bus *bus, const char *name, char **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *path = NULL;
        const char *p;
        int r;

        r = sd_bus_call_method(bus, ARK_BUS_NAME, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "GetInstance", NULL,
                               &reply, "s", name);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "o", &p);
        if (r < 0)
                return r;
        return sd_bus_get_property_string(bus, ARK_BUS_NAME, p, ARK_BUS_IFACE_INSTANCE, "State", NULL, ret);
}

int verb_vm_start(char **args) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        _cleanup_free_ char *before = NULL;

        r = ctl_bus_open(&bus);
        if (r < 0)
                return r;
        /* Only for the message: starting a running VM succeeds and changes nothing. */
        (void) vm_state(bus, args[0], &before);
        r = ctl_call(bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "StartInstance", CTL_SLOW_CALL_USEC, NULL,
                     "s", args[0]);
        if (r < 0)
                return r;
        if (arg_output == OUTPUT_JSON)
                return show_instance(bus, args[0]);
        if (streq_ptr(before, "running"))
                printf("%s '%s' is already running.\n", word(), args[0]);
        else
                printf("Started %s '%s'.\n", word(), args[0]);
        return 0;
}

int verb_vm_stop(char **args) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *before = NULL;
        const char *name = args[0];
        uint64_t wait_sec;
        int r;

        wait_sec =
                (uint64_t) (arg_timeout > 0 ? arg_timeout : STOP_DEFAULT_TIMEOUT_MAX_SEC) + STOP_MARGIN_SEC;

        r = ctl_bus_open(&bus);
        if (r < 0)
                return r;
        (void) vm_state(bus, name, &before);
        r = ctl_new_call(bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "StopInstance", &m);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "sbu", name, arg_force, arg_timeout);
        if (r < 0)
                return ctl_log_call_error(r, NULL, "StopInstance");

        if (isatty(STDERR_FILENO))
                fprintf(stderr, "%s '%s'...\n", arg_force ? "Powering off" : "Stopping", name);

        r = sd_bus_call(bus, m, wait_sec * 1000000ULL, &error, NULL);
        if (r < 0) {
                /* Our own patience ran out, not arkd's: the stop goes on without us. */
                if (sd_bus_error_has_names(&error, SD_BUS_ERROR_TIMEOUT, SD_BUS_ERROR_NO_REPLY)) {
                        fprintf(stderr,
                                "arkctl: gave up waiting for '%s' to stop after %" PRIu64
                                " s; arkd may still be stopping it (see 'arkctl vm show %s')\n",
                                name, wait_sec, name);
                        return r;
                }
                return ctl_log_call_error(r, &error, "StopInstance");
        }

        if (arg_output == OUTPUT_JSON)
                return show_instance(bus, name);
        if (streq_ptr(before, "stopped"))
                printf("%s '%s' is already stopped.\n", word(), name);
        else
                printf("%s %s '%s'.\n", arg_force ? "Powered off" : "Stopped", word(), name);
        return 0;
}

int verb_vm_delete(char **args) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        r = ctl_bus_open(&bus);
        if (r < 0)
                return r;
        r = ctl_call(bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "DeleteInstance", CTL_SLOW_CALL_USEC, NULL,
                     "s", args[0]);
        if (r < 0)
                return r;
        if (arg_output == OUTPUT_JSON)
                puts("{}");
        else
                printf("Deleted %s '%s'.\n", word(), args[0]);
        return 0;
}

/* vm network add|remove NAME NETWORK: a NIC plugged in or out (hot-plugged into a running VM). */
int verb_vm_network(char **args) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *path = NULL;
        const char *action = args[0], *name = args[1], *network = args[2];
        bool add = streq(action, "add");
        int r;

        if (!add && !streq(action, "remove"))
                return usage_error("'vm network' takes add or remove, not '%s'", action);
        r = ctl_bus_open(&bus);
        if (r < 0)
                return r;
        r = ctl_get_object(bus, "GetInstance", name, ARK_BUS_IFACE_INSTANCE, &path, NULL);
        if (r < 0)
                return r;
        r = ctl_call(bus, path, ARK_BUS_IFACE_INSTANCE, add ? "AddNetwork" : "RemoveNetwork",
                     CTL_SLOW_CALL_USEC, NULL, "s", network);
        if (r < 0)
                return r;
        if (arg_output == OUTPUT_JSON)
                return show_instance(bus, name);
        printf(add ? "%s '%s' is on network '%s' now.\n" : "%s '%s' left network '%s'.\n", word(), name,
               network);
        return 0;
}

/* vm gpu add|remove NAME: GPUs of a stopped VM. */
int verb_vm_gpu(char **args) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_free_ char *path = NULL;
        const char *action = args[0], *name = args[1];
        bool add = streq(action, "add");
        int r;

        if (!add && !streq(action, "remove"))
                return usage_error("'vm gpu' takes add or remove, not '%s'", action);
        if (add && arg_all)
                return usage_error("--all applies to 'vm gpu remove' only");
        if (add && !(arg_given & (OPT_GPUS | OPT_GPU_MODEL | OPT_GPU)))
                return usage_error("'vm gpu add' needs --gpus, --gpu-model or --gpu");
        if (!add && (arg_given & (OPT_GPUS | OPT_GPU_MODEL)))
                return usage_error("'vm gpu remove' takes --gpu ADDRESS... or --all");
        if (!add && !arg_all && !arg_gpu_addresses)
                return usage_error("'vm gpu remove' needs --gpu ADDRESS... or --all");
        if (!add && arg_all && arg_gpu_addresses)
                return usage_error("give --gpu or --all, not both");

        r = ctl_bus_open(&bus);
        if (r < 0)
                return r;
        r = ctl_get_object(bus, "GetInstance", name, ARK_BUS_IFACE_INSTANCE, &path, NULL);
        if (r < 0)
                return r;
        r = ctl_new_call(bus, path, ARK_BUS_IFACE_INSTANCE, add ? "AddGPUs" : "RemoveGPUs", &m);
        if (r < 0)
                return r;
        if (add)
                r = sd_bus_message_append(m, "us", arg_gpus, strempty(arg_gpu_model));
        if (r >= 0)
                r = sd_bus_message_append_strv(m, arg_gpu_addresses);
        if (r < 0)
                return ctl_log_call_error(r, NULL, add ? "AddGPUs" : "RemoveGPUs");
        r = ctl_send(bus, m, CTL_SLOW_CALL_USEC, NULL);
        if (r < 0)
                return r;
        if (arg_output == OUTPUT_JSON)
                return show_instance(bus, name);
        {
                _cleanup_(json_decrefp) json_t *props = NULL;
                json_t *g;
                size_t k;

                r = ctl_get_object(bus, "GetInstance", name, ARK_BUS_IFACE_INSTANCE, NULL, &props);
                if (r < 0)
                        return r;
                printf("VM '%s' has %s", name,
                       json_array_size(json_object_get(props, "GPUs")) == 0 ? "no GPUs" : "GPUs");
                json_array_foreach(json_object_get(props, "GPUs"), k, g)
                        printf("%s%s", k == 0 ? " " : ", ", strempty(json_string_value(g)));
                printf(".\n");
        }
        return 0;
}

/* ------------------------------------------------------------------------------ vm console */

#define CONSOLE_ESCAPE 0x1d /* Ctrl-] */

static struct termios console_saved;
static bool console_raw;

static void console_restore(void) {
        if (console_raw)
                (void) tcsetattr(STDIN_FILENO, TCSANOW, &console_saved);
        console_raw = false;
}

/* A terminal on stdin goes raw, so that keys reach the guest as typed (Ctrl-C included). */
static void console_make_raw(void) {
        struct termios raw;

        if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &console_saved) < 0)
                return;
        raw = console_saved;
        cfmakeraw(&raw);
        if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
                console_raw = true;
}

/* Copies stdin to the console and the console to stdout until the session ends, the escape key is
 * typed on a terminal, or stdout goes. At the end of a non-terminal stdin the sending half is
 * closed; the session ends there. */
static int console_pump(int fd) {
        struct pollfd p[2] = { { .fd = STDIN_FILENO, .events = POLLIN }, { .fd = fd, .events = POLLIN } };
        char buf[4096];

        for (;;) {
                ssize_t n;
                int r;

                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        int e = errno;

                        fprintf(stderr, "arkctl: waiting for the console failed: %s\n", strerror(e));
                        return -e;
                }
                if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
                        n = read(fd, buf, sizeof(buf));
                        if (n <= 0)
                                return 0; /* the session ended */
                        r = loop_write(STDOUT_FILENO, buf, (size_t) n);
                        if (r < 0)
                                return 0; /* nobody reads any more */
                }
                if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
                        n = read(STDIN_FILENO, buf, sizeof(buf));
                        if (n <= 0) {
                                (void) shutdown(fd, SHUT_WR);
                                p[0].fd = -1; /* poll ignores it from now on */
                                continue;
                        }
                        if (console_raw && memchr(buf, CONSOLE_ESCAPE, (size_t) n)) {
                                n = (char *) memchr(buf, CONSOLE_ESCAPE, (size_t) n) - buf;
                                (void) loop_write(fd, buf, (size_t) n);
                                return 0;
                        }
                        r = loop_write(fd, buf, (size_t) n);
                        if (r < 0)
                                return 0; /* the session ended */
                }
        }
}

int verb_vm_console(char **args) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r, bus_fd;

        r = ctl_bus_open(&bus);
        if (r < 0)
                return r;
        r = ctl_get_object(bus, "GetInstance", args[0], ARK_BUS_IFACE_INSTANCE, &path, NULL);
        if (r < 0)
                return r;
        r = ctl_call(bus, path, ARK_BUS_IFACE_INSTANCE, "OpenConsole", 0, &reply, NULL);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "h", &bus_fd);
        if (r < 0)
                return ctl_log_call_error(r, NULL, "OpenConsole");
        fd = fcntl(bus_fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0) {
                int e = errno;

                fprintf(stderr, "arkctl: cannot take the console's descriptor: %s\n", strerror(e));
                return -e;
        }
        reply = sd_bus_message_unref(reply);
        /* Nothing more to say to arkd: the session runs on the descriptor. */
        bus = sd_bus_flush_close_unref(bus);

        if (isatty(STDIN_FILENO))
                fprintf(stderr, "Connected to the console of VM '%s'; Ctrl-] leaves it.\r\n", args[0]);
        console_make_raw();
        r = console_pump(fd);
        console_restore();
        if (isatty(STDIN_FILENO))
                fprintf(stderr, "\nLeft the console of VM '%s'.\n", args[0]);
        return r;
}

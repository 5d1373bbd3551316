#pragma once

/* arkctl: what the noun files (status.c, host.c, tenant.c, vm.c) share with the dispatcher
 * (arkctl.c) and the bus helpers (ctl-bus.c).
 *
 * Verbs return 0 on success, a negative errno after printing why (exit status 1), or EXIT_USAGE
 * after printing a usage error (exit status 2). */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "basic/macro.h"

#define EXIT_USAGE 2

/* Timeouts of method calls: reads use sd-bus' default (25 s); calls that create, define, start or
 * delete a domain may wait for libvirt, disk creation and a cold QEMU start. */
#define CTL_SLOW_CALL_USEC (300ULL * 1000000ULL)

typedef enum OutputMode {
        OUTPUT_TABLE,
        OUTPUT_JSON,
        OUTPUT_CSV, /* usage report only */
} OutputMode;

/* Options that only some verbs take; each entry of the dispatch table lists the ones it accepts. */
typedef enum VerbOption {
        OPT_DESCRIPTION = 1 << 0,
        OPT_TENANT = 1 << 1,
        OPT_VCPUS = 1 << 2,
        OPT_MEMORY = 1 << 3,
        OPT_DISK = 1 << 4,
        OPT_IMAGE = 1 << 5,
        OPT_KERNEL = 1 << 6,
        OPT_INITRD = 1 << 7,
        OPT_CMDLINE = 1 << 8,
        OPT_START = 1 << 9,
        OPT_XML = 1 << 10,
        OPT_FORCE = 1 << 11,
        OPT_TIMEOUT = 1 << 12,
        OPT_GPUS = 1 << 13,
        OPT_GPU_MODEL = 1 << 14,
        OPT_GPU = 1 << 15,
        OPT_REASON = 1 << 16,
        OPT_ALL = 1 << 17,
        OPT_MEMBER = 1 << 18,
        OPT_FROM_TO = 1 << 19,
        OPT_PREEMPTIBLE = 1 << 20,
        OPT_BUNDLE_CREATE = 1 << 21, /* --kind, --name, --version, --key, -o FILE (all needed) */
        OPT_TRUST_DIR = 1 << 22,
        OPT_MODEL_VERSION = 1 << 23,
        OPT_MODEL = 1 << 24,
        OPT_BUNDLE_EXTRA = 1 << 25, /* --compress, --compatible, the model fields */
        OPT_NETWORK = 1 << 26,      /* --network, repeatable */
        OPT_NET_CREATE = 1 << 27,   /* --subnet, --nat, --isolated, --vlan, --uplink, --mtu, --no-ipv6 */
        OPT_FORWARD = 1 << 28,      /* --port, --to, --udp */
        OPT_CT_CREATE = 1 << 29,    /* --cpus, --env (repeatable), --mig, --gpu-share, --gpu-memory */
        OPT_FOLLOW = 1 << 30,
} VerbOption;

extern OutputMode arg_output;
extern bool arg_legend;
extern const char *arg_bus_address;
extern unsigned arg_given; /* VerbOption bits seen on the command line */
extern const char *arg_description;
extern const char *arg_tenant;
extern uint32_t arg_vcpus;
extern uint64_t arg_memory;
extern uint64_t arg_disk;
extern const char *arg_image;
extern const char *arg_kernel;
extern const char *arg_initrd;
extern const char *arg_cmdline;
extern bool arg_start;
extern bool arg_preemptible;
extern bool arg_xml;
extern bool arg_force;
extern uint32_t arg_timeout;
extern uint32_t arg_gpus;
extern const char *arg_gpu_model;
extern char **arg_gpu_addresses; /* --gpu, repeatable */
extern char **arg_networks;      /* --network, repeatable */
extern char **arg_env;           /* --env K=V, repeatable */
extern bool arg_cpus_given;      /* --cpus (into arg_vcpus) */
extern const char *arg_mig;      /* --mig PROFILE */
extern uint32_t arg_gpu_share;   /* --gpu-share FRACTION, in milli-GPUs (0 = none) */
extern uint64_t arg_gpu_memory;  /* --gpu-memory SIZE */
extern const char *arg_net_mode, *arg_subnet, *arg_uplink, *arg_to_target;
extern uint32_t arg_vlan, arg_mtu, arg_port;
extern bool arg_no_ipv6, arg_udp;
extern const char *arg_reason;
extern uint64_t arg_from, arg_to;
extern bool arg_all;
extern char **arg_member_users, **arg_member_groups; /* --user, --group (repeatable) */
/* bundle create */
extern const char *arg_bundle_kind, *arg_bundle_name, *arg_bundle_version, *arg_key, *arg_out_file,
        *arg_compress;
extern const char *arg_architecture, *arg_dtype, *arg_runtime, *arg_license;
extern uint64_t arg_parameters, arg_min_gpu_memory;
extern char **arg_compatible; /* --compatible, repeatable */
extern const char *arg_trust_dir;
extern const char *arg_model_version; /* model show/delete --version */
extern const char *arg_model;         /* vm create --model NAME[@VERSION] */

/* Prints "arkctl: <sentence>" to stderr and returns EXIT_USAGE. */
int usage_error(const char *format, ...) _printf_(1, 2);
/* Prints "arkctl: out of memory" and returns -ENOMEM. */
int ctl_oom(void);

typedef struct Table Table;
/* Prints t to stdout, its header row only with the legend on. Returns 0 or a negative errno
 * (printed). */
int ctl_print_table(Table *t);
/* Prints v as arkctl's JSON output; v == NULL means building it ran out of memory. Returns 0 or
 * a negative errno (printed). */
int ctl_print_json(json_t *v);

/* ctl-bus.c: every helper prints its own error message ("arkctl: ...") and returns the negative
 * errno, so verbs just pass r on. */

/* Connects to the bus arkd is on: --bus-address, else $ARK_BUS_ADDRESS, else the system bus. */
int ctl_bus_open(sd_bus **ret);
/* A method call to arkd (destination org.ark.Ark1). */
int ctl_new_call(sd_bus *bus, const char *path, const char *interface, const char *member,
                 sd_bus_message **ret);
/* Sends m and waits up to timeout_usec (0 = the sd-bus default) for the reply. */
int ctl_send(sd_bus *bus, sd_bus_message *m, uint64_t timeout_usec, sd_bus_message **ret_reply);
/* ctl_new_call() + append `types` + ctl_send(). ret_reply may be NULL. */
int ctl_call(sd_bus *bus, const char *path, const char *interface, const char *member, uint64_t timeout_usec,
             sd_bus_message **ret_reply, const char *types, ...);
/* Prints why a call failed: the daemon's sentence for a named error, a hint when arkd is not on
 * the bus, the errno otherwise. Returns r (negative). */
int ctl_log_call_error(int r, const sd_bus_error *error, const char *member);
/* GetAll of `interface` on `path`, decoded by bus_props_from_reply(). */
int ctl_get_all(sd_bus *bus, const char *path, const char *interface, json_t **ret);
/* Like ctl_get_all() for an object a List* call just returned: returns 0 with *ret = NULL, and
 * prints nothing, when the object went away in between. */
int ctl_get_all_listed(sd_bus *bus, const char *path, const char *interface, json_t **ret);
/* Calls the manager's `getter` (GetTenant, GetInstance) with name, then GetAll on the path it
 * returns. ret_path may be NULL. */
int ctl_get_object(sd_bus *bus, const char *getter, const char *name, const char *interface, char **ret_path,
                   json_t **ret_props);

/* Verbs. args holds the positional arguments after the command words (NULL-terminated); the
 * dispatcher has checked their number and which options were given. */
int verb_status(char **args);
int verb_host_show(char **args);
int verb_host_accelerators(char **args);
int verb_host_check(char **args);
int verb_vm_gpu(char **args);
int verb_vm_console(char **args);
int verb_vm_network(char **args);
int verb_network_create(char **args);
int verb_network_list(char **args);
int verb_network_show(char **args);
int verb_network_delete(char **args);
int verb_network_forward(char **args);
int verb_network_prune(char **args);
int verb_tenant_member(char **args);
int verb_tenant_quota(char **args);
int verb_usage_report(char **args);
int verb_audit_list(char **args);
int verb_audit_verify(char **args);
int verb_audit_export(char **args);
int verb_reconcile(char **args);
int verb_accelerator_reserve(char **args);
int verb_accelerator_quarantine(char **args);
int verb_accelerator_release(char **args);
int verb_tenant_create(char **args);
int verb_tenant_list(char **args);
int verb_tenant_show(char **args);
int verb_tenant_delete(char **args);
int verb_vm_create(char **args);
int verb_vm_list(char **args);
int verb_vm_show(char **args);
int verb_vm_start(char **args);
int verb_vm_stop(char **args);
int verb_vm_delete(char **args);
int verb_ct_create(char **args);
int verb_ct_list(char **args);
int verb_ct_show(char **args);
int verb_ct_start(char **args);
int verb_ct_stop(char **args);
int verb_ct_delete(char **args);
int verb_ct_exec(char **args);
int verb_ct_logs(char **args);
int verb_bundle_keygen(char **args);
int verb_bundle_create(char **args);
int verb_bundle_verify(char **args);
int verb_bundle_inspect(char **args);
int verb_bundle_trust(char **args);
int verb_bundle_import(char **args);
int verb_model_list(char **args);
int verb_model_show(char **args);
int verb_model_delete(char **args);
int verb_image_list(char **args);
int verb_image_show(char **args);
int verb_image_delete(char **args);

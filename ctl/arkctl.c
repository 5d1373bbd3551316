/* arkctl: the command line client of arkd. `arkctl <noun> <verb> [ARGS] [OPTIONS]`.
 *
 * Options may appear anywhere on the command line: one getopt_long() pass over everything (in
 * "return in order" mode, so POSIXLY_CORRECT does not change the meaning) collects the options
 * and the positional words; the words select an entry of the dispatch table, which says how many
 * arguments the verb takes and which verb options apply to it. The same tables (commands.h) make
 * every help text, --list-commands and the "did you mean" hints (help.c). */

#include <getopt.h>
#include <stdlib.h>
#include <time.h>
#include <locale.h>
#include <stdarg.h>
#include <string.h>

#include "arkctl.h"
#include "commands.h"
#include "output.h"
#include "basic/parse-util.h"
#include "basic/string-util.h"
#include "basic/time-util.h"

OutputMode arg_output = OUTPUT_TABLE;
bool arg_legend = true;
const char *arg_bus_address = NULL;
unsigned arg_given = 0;
const char *arg_description = NULL;
const char *arg_tenant = NULL;
uint32_t arg_vcpus = 0;
uint64_t arg_memory = 0;
uint64_t arg_disk = 0;
const char *arg_image = NULL;
const char *arg_kernel = NULL;
const char *arg_initrd = NULL;
const char *arg_cmdline = NULL;
bool arg_start = false;
bool arg_preemptible = false;
bool arg_xml = false;
bool arg_force = false;
uint32_t arg_timeout = 0;
uint32_t arg_gpus = 0;
const char *arg_gpu_model = NULL;
char **arg_gpu_addresses = NULL;
const char *arg_reason = NULL;
uint64_t arg_from = 0, arg_to = UINT64_MAX;
bool arg_all = false;
char **arg_member_users = NULL, **arg_member_groups = NULL;
const char *arg_bundle_kind = NULL, *arg_bundle_name = NULL, *arg_bundle_version = NULL, *arg_key = NULL;
const char *arg_out_file = NULL, *arg_compress = NULL;
const char *arg_architecture = NULL, *arg_dtype = NULL, *arg_runtime = NULL, *arg_license = NULL;
uint64_t arg_parameters = 0, arg_min_gpu_memory = 0;
char **arg_compatible = NULL;
const char *arg_trust_dir = NULL;
const char *arg_model_version = NULL;
const char *arg_model = NULL;
char **arg_networks = NULL;
char **arg_env = NULL;
bool arg_cpus_given = false;
const char *arg_mig = NULL;
uint32_t arg_gpu_share = 0;
uint64_t arg_gpu_memory = 0;
const char *arg_net_mode = NULL, *arg_subnet = NULL, *arg_uplink = NULL, *arg_to_target = NULL;
uint32_t arg_vlan = 0, arg_mtu = 0, arg_port = 0;
bool arg_no_ipv6 = false, arg_udp = false;

static int verb_help(char **args);

/* The command table: parsing, help, the "did you mean" hints and --list-commands all read it. */
const Verb ctl_verbs[] = {
        { "status", NULL, NULL, 0, 0, 0, 0,
          "the daemon's state: hypervisor connection, counts, orphaned domains", verb_status },
        { "reconcile", NULL, NULL, 0, 0, 0, 0,
          "compare the store and the hypervisor now, then show the status", verb_reconcile },
        { "host", "show", NULL, 0, 0, 0, 0, "CPUs, memory, NUMA nodes, IOMMU, domain type", verb_host_show },
        { "host", "accelerators", NULL, 0, 0, 0, 0,
          "the accelerators: IOMMU group, NUMA node, PCIe link, driver", verb_host_accelerators },
        { "host", "check", "[ADDRESS...]", 0, 64, 0, 0,
          "whether the host and its GPUs can do passthrough, and why not", verb_host_check },
        { "accelerator", "reserve", "ADDRESS", 1, 1, OPT_REASON, 0, "keep a GPU for the host: no VM gets it",
          verb_accelerator_reserve },
        { "accelerator", "quarantine", "ADDRESS", 1, 1, OPT_REASON, 0, "keep a GPU from new VMs",
          verb_accelerator_quarantine },
        { "accelerator", "release", "ADDRESS", 1, 1, 0, 0, "end a reservation or quarantine",
          verb_accelerator_release },
        { "tenant", "create", "NAME", 1, 1, OPT_DESCRIPTION, 0, "create a tenant", verb_tenant_create },
        { "tenant", "list", NULL, 0, 0, 0, 0, "list the tenants with their number of instances",
          verb_tenant_list },
        { "tenant", "show", "NAME", 1, 1, 0, 0, "show a tenant", verb_tenant_show },
        { "tenant", "delete", "NAME", 1, 1, 0, 0, "delete a tenant; refused while it owns instances",
          verb_tenant_delete },
        { "tenant", "member", "add|remove|list TENANT", 2, 2, OPT_MEMBER, 0,
          "add or remove the Unix users and groups that act for a tenant, or list them",
          verb_tenant_member },
        { "tenant", "quota", "set|show TENANT [RESOURCE[:MODEL]=[GUARANTEE..]LIMIT]...", 2, 64, 0, 0,
          "set a tenant's guarantees and limits, or show them with what it uses", verb_tenant_quota },
        { "vm", "create", "NAME", 1, 1,
          OPT_TENANT | OPT_VCPUS | OPT_MEMORY | OPT_DISK | OPT_IMAGE | OPT_KERNEL | OPT_INITRD |
                  OPT_CMDLINE | OPT_START | OPT_GPUS | OPT_GPU_MODEL | OPT_GPU | OPT_PREEMPTIBLE |
                  OPT_MODEL | OPT_NETWORK,
          OPT_TENANT | OPT_VCPUS | OPT_MEMORY,
          "create a VM for a tenant and define it on the hypervisor, stopped unless --start",
          verb_vm_create },
        { "vm", "list", NULL, 0, 0, OPT_TENANT, 0, "list the VMs with their state, vCPUs, memory and disk",
          verb_vm_list },
        { "vm", "show", "NAME", 1, 1, OPT_XML, 0, "every property of a VM, or its domain XML",
          verb_vm_show },
        { "vm", "start", "NAME", 1, 1, 0, 0, "start a VM", verb_vm_start },
        { "vm", "stop", "NAME", 1, 1, OPT_FORCE | OPT_TIMEOUT, 0,
          "shut a VM down (ACPI, forced off after a timeout) and wait until it has stopped", verb_vm_stop },
        { "vm", "delete", "NAME", 1, 1, 0, 0, "delete a stopped VM with the disks Ark created for it",
          verb_vm_delete },
        { "vm", "console", "NAME", 1, 1, 0, 0, "attach to a running VM's serial console (Ctrl-] leaves it)",
          verb_vm_console },
        { "vm", "network", "add|remove NAME NETWORK", 3, 3, 0, 0,
          "plug a VM into a network of its tenant, or out of it (running VMs: hot-plugged)",
          verb_vm_network },
        { "vm", "gpu", "add|remove NAME", 2, 2, OPT_GPUS | OPT_GPU_MODEL | OPT_GPU | OPT_ALL, 0,
          "add GPUs to a stopped VM, or remove them", verb_vm_gpu },
        { "ct", "create", "NAME [-- CMD...]", 1, 64,
          OPT_TENANT | OPT_CT_CREATE | OPT_MEMORY | OPT_DISK | OPT_IMAGE | OPT_START | OPT_GPUS |
                  OPT_GPU_MODEL | OPT_MODEL | OPT_NETWORK | OPT_PREEMPTIBLE,
          OPT_TENANT | OPT_IMAGE,
          "create a container of an imported image for a tenant, stopped unless --start", verb_ct_create },
        { "ct", "list", NULL, 0, 0, OPT_TENANT, 0, "list the containers with their state, CPUs and memory",
          verb_ct_list },
        { "ct", "show", "NAME", 1, 1, 0, 0, "every property of a container", verb_ct_show },
        { "ct", "start", "NAME", 1, 1, 0, 0, "start a container", verb_ct_start },
        { "ct", "stop", "NAME", 1, 1, OPT_FORCE | OPT_TIMEOUT, 0,
          "stop a container (SIGTERM, SIGKILL after a timeout) and wait until it has stopped",
          verb_ct_stop },
        { "ct", "delete", "NAME", 1, 1, 0, 0, "delete a stopped container with its writable layer and log",
          verb_ct_delete },
        { "ct", "exec", "NAME -- CMD...", 2, 64, 0, 0,
          "run a command in a running container; exits with its status", verb_ct_exec },
        { "ct", "logs", "NAME", 1, 1, OPT_FOLLOW, 0, "what a container wrote to stdout and stderr",
          verb_ct_logs },
        { "network", "create", "NAME", 1, 1, OPT_TENANT | OPT_NET_CREATE, OPT_TENANT,
          "create a tenant network: a bridge, addresses by DHCP, NAT out (default), isolated, or a VLAN",
          verb_network_create },
        { "network", "list", NULL, 0, 0, OPT_TENANT, 0, "list the tenant networks", verb_network_list },
        { "network", "show", "NAME", 1, 1, 0, 0, "a network with its instances, addresses and forwards",
          verb_network_show },
        { "network", "delete", "NAME", 1, 1, 0, 0, "delete a network; refused while instances are on it",
          verb_network_delete },
        { "network", "forward", "add|remove NETWORK", 2, 2, OPT_FORWARD, 0,
          "forward a port of the host to an instance (admins), or stop forwarding it",
          verb_network_forward },
        { "network", "prune", NULL, 0, 0, 0, 0, "remove network links named as Ark's that no network owns",
          verb_network_prune },
        { "usage", "report", NULL, 0, 0, OPT_TENANT | OPT_FROM_TO, 0,
          "per instance: run time, GPU-, compute-unit-, GPU-memory-, vCPU- and memory-seconds in a window",
          verb_usage_report },
        { "audit", "list", NULL, 0, 0, 0, 0,
          "every mutating call arkd served: who, what, on which object, the result", verb_audit_list },
        { "audit", "verify", NULL, 0, 0, 0, 0, "check the audit log's hash chain", verb_audit_verify },
        { "audit", "export", NULL, 0, 0, 0, 0, "the audit log with its hashes, one JSON object a line",
          verb_audit_export },
        { "bundle", "keygen", "PREFIX", 1, 1, 0, 0,
          "write a new signing key: PREFIX.key (private) and PREFIX.pub", verb_bundle_keygen },
        { "bundle", "create", "DIR", 1, 1, OPT_BUNDLE_CREATE | OPT_BUNDLE_EXTRA, OPT_BUNDLE_CREATE,
          "make a signed bundle of every regular file under DIR", verb_bundle_create },
        { "bundle", "verify", "FILE.ark", 1, 1, OPT_TRUST_DIR, 0,
          "check the signature, then every file's size and hash", verb_bundle_verify },
        { "bundle", "inspect", "FILE.ark", 1, 1, OPT_TRUST_DIR, 0,
          "show the manifest and whether its signer is trusted", verb_bundle_inspect },
        { "bundle", "trust", "add FILE.pub | list | remove ID | revoke ID", 1, 2, OPT_TRUST_DIR, 0,
          "manage the keys bundles may be signed with", verb_bundle_trust },
        { "bundle", "import", "FILE.ark", 1, 1, OPT_TENANT, 0, "have arkd verify and install a bundle",
          verb_bundle_import },
        { "model", "list", NULL, 0, 0, OPT_TENANT, 0, "the imported models the caller can see",
          verb_model_list },
        { "model", "show", "NAME", 1, 1, OPT_TENANT | OPT_MODEL_VERSION, 0, "one model in full",
          verb_model_show },
        { "model", "delete", "NAME", 1, 1, OPT_TENANT | OPT_MODEL_VERSION, 0, "delete a model and its files",
          verb_model_delete },
#if IS_ENABLED(CONFIG_CONTAINERS)
        { "image", "list", NULL, 0, 0, OPT_TENANT, 0, "the container images the caller can see",
          verb_image_list },
        { "image", "show", "NAME[@VERSION]", 1, 1, OPT_TENANT | OPT_MODEL_VERSION, 0,
          "one container image in full: entrypoint, cmd, env, layers", verb_image_show },
        { "image", "delete", "NAME[@VERSION]", 1, 1, OPT_TENANT | OPT_MODEL_VERSION, 0,
          "delete a container image, and its layers no other image has", verb_image_delete },
#endif
        { "help", NULL, "[NOUN [VERB]]", 0, 64, 0, 0,
          "show this help, a noun's commands or a command's options", verb_help },
};
const size_t ctl_n_verbs = ELEMENTSOF(ctl_verbs);

/* The option table, in the order help lists them. getopt_long()'s table is made from it for each
 * command line (parse_argv()). */
const CtlOption ctl_options[] = {
        /* global */
        { "output", 'o', true, 'o', 0, "table|json|csv",
          "output format (default: table; csv: usage report only)" },
        { "no-legend", 0, false, ARG_NO_LEGEND, 0, NULL, "no header row in tables" },
        { "bus-address", 0, true, ARG_BUS_ADDRESS, 0, "ADDRESS",
          "D-Bus address of arkd's bus (default: $ARK_BUS_ADDRESS, else the system bus)" },
        { "help", 'h', false, 'h', 0, NULL, "show this help (with a command: its own), and exit" },
        { "version", 0, false, ARG_VERSION, 0, NULL, "show the version, and exit" },
        { "list-commands", 0, false, ARG_LIST_COMMANDS, 0, NULL, NULL },
        /* the commands' own */
        { "tenant", 0, true, ARG_TENANT, OPT_TENANT, "TENANT",
          "the tenant: the owner of what is made, or whose to list" },
        { "description", 0, true, ARG_DESCRIPTION, OPT_DESCRIPTION, "TEXT", "a description of the tenant" },
        { "vcpus", 0, true, ARG_VCPUS, OPT_VCPUS, "N", "the number of vCPUs" },
        { "cpus", 0, true, ARG_CPUS, OPT_CT_CREATE, "N", "a container's CPUs (its CPU time limit)" },
        { "env", 0, true, ARG_ENV, OPT_CT_CREATE, "KEY=VALUE",
          "set a variable in the container's environment; repeat for more" },
        { "mig", 0, true, ARG_MIG, OPT_CT_CREATE, "PROFILE",
          "a MIG instance of this profile, e.g. 3g.40gb" },
        { "gpu-share", 0, true, ARG_GPU_SHARE, OPT_CT_CREATE, "FRACTION",
          "a share of one GPU's compute, e.g. 0.25 (MPS; with --gpu-memory)" },
        { "gpu-memory", 0, true, ARG_GPU_MEMORY, OPT_CT_CREATE, "SIZE",
          "the GPU memory of a share, e.g. 10G" },
        { "follow", 0, false, ARG_FOLLOW, OPT_FOLLOW, NULL, "keep printing what comes until it stops" },
        { "memory", 0, true, ARG_MEMORY, OPT_MEMORY, "SIZE", "memory, e.g. 4G" },
        { "disk", 0, true, ARG_DISK, OPT_DISK, "SIZE",
          "create a qcow2 disk of this size (with --image, the overlay's)" },
        { "image", 0, true, ARG_IMAGE, OPT_IMAGE, "PATH|NAME",
          "base the disk on an image of arkd's store, or a path" },
        { "kernel", 0, true, ARG_KERNEL, OPT_KERNEL, "PATH|NAME", "boot this kernel directly" },
        { "initrd", 0, true, ARG_INITRD, OPT_INITRD, "PATH|NAME", "the initial ramdisk for --kernel" },
        { "cmdline", 0, true, ARG_CMDLINE, OPT_CMDLINE, "TEXT", "the kernel command line for --kernel" },
        { "gpus", 0, true, ARG_GPUS, OPT_GPUS, "N", "N whole GPUs, on one NUMA node when possible" },
        { "gpu-model", 0, true, ARG_GPU_MODEL, OPT_GPU_MODEL, "MODEL",
          "only GPUs whose model contains MODEL (e.g. H100)" },
        { "gpu", 0, true, ARG_GPU, OPT_GPU, "ADDRESS",
          "this GPU (PCI address, 0000:3b:00.0); repeat for more" },
        { "all", 0, false, ARG_ALL, OPT_ALL, NULL, "every GPU of the VM (gpu remove)" },
        { "preemptible", 0, false, ARG_PREEMPTIBLE, OPT_PREEMPTIBLE, NULL,
          "may borrow GPUs other tenants are guaranteed; stopped when they want them" },
        { "model", 0, true, ARG_MODEL, OPT_MODEL, "NAME[@VERSION]",
          "serve an imported model (shared read-only)" },
        { "network", 0, true, ARG_NETWORK, OPT_NETWORK, "NAME",
          "plug the VM into this network of its tenant; repeat for more (default: its network 'default')" },
        { "subnet", 0, true, ARG_SUBNET, OPT_NET_CREATE, "CIDR",
          "the IPv4 subnet, /16 to /29 (default: a free /24 of TenantSubnetPool=)" },
        { "nat", 0, false, ARG_NAT, OPT_NET_CREATE, NULL,
          "reach out through the uplink, masqueraded (default)" },
        { "isolated", 0, false, ARG_ISOLATED, OPT_NET_CREATE, NULL,
          "no way out: the network's instances only" },
        { "vlan", 0, true, ARG_VLAN, OPT_NET_CREATE, "ID",
          "bridge to the site's VLAN ID (1-4094) on --uplink" },
        { "uplink", 0, true, ARG_UPLINK, OPT_NET_CREATE, "IFACE",
          "the host interface for NAT or the VLAN (admins; default for NAT: Uplink=, else the default route's)" },
        { "mtu", 0, true, ARG_MTU, OPT_NET_CREATE, "N", "the MTU, 576-9000 (default: TenantMTU=, 1500)" },
        { "no-ipv6", 0, false, ARG_NO_IPV6, OPT_NET_CREATE, NULL, "no IPv6 /64 for the network" },
        { "port", 0, true, ARG_PORT, OPT_FORWARD, "PORT", "the host's port to forward" },
        { "to", 0, true, ARG_TO_TARGET, OPT_FORWARD, "INSTANCE:PORT", "where the forwarded port goes" },
        { "udp", 0, false, ARG_UDP, OPT_FORWARD, NULL, "forward UDP (default: TCP)" },
        { "start", 0, false, ARG_START, OPT_START, NULL, "start the VM right after creating it" },
        { "xml", 0, false, ARG_XML, OPT_XML, NULL, "print the domain XML as the hypervisor has it" },
        { "force", 0, false, ARG_FORCE, OPT_FORCE, NULL, "power the VM off at once" },
        { "timeout", 0, true, ARG_TIMEOUT, OPT_TIMEOUT, "SECONDS",
          "force it off after SECONDS (default 0: arkd's StopTimeoutSec=)" },
        { "reason", 0, true, ARG_REASON, OPT_REASON, "TEXT", "why, shown with the accelerator" },
        { "user", 0, true, ARG_USER, OPT_MEMBER, "NAME", "a Unix user (add, remove); repeat for more" },
        { "group", 0, true, ARG_GROUP, OPT_MEMBER, "NAME",
          "every user of a Unix group (add, remove); repeat for more" },
        { "from", 0, true, ARG_FROM, OPT_FROM_TO, "TIME",
          "start of the window: now, @SECONDS, YYYY-MM-DD[ HH:MM[:SS]] (UTC), -N[smhd]" },
        { "to", 0, true, ARG_TO, OPT_FROM_TO, "TIME", "end of the window (default: now)" },
        { "kind", 0, true, ARG_KIND, OPT_BUNDLE_CREATE, "model|image|update|container-image",
          "what the bundle holds" },
        { "name", 0, true, ARG_NAME, OPT_BUNDLE_CREATE, "NAME", "the bundle's name" },
        { "version", 0, true, ARG_BUNDLE_VERSION, OPT_BUNDLE_CREATE, "VERSION", "the bundle's version" },
        { "key", 0, true, ARG_KEY, OPT_BUNDLE_CREATE, "PREFIX.key", "the signing key ('bundle keygen')" },
        { "output", 'o', true, ARG_OUT_FILE, OPT_BUNDLE_CREATE, "FILE.ark", "the bundle file to write" },
        { "compress", 0, true, ARG_COMPRESS, OPT_BUNDLE_EXTRA, "none|zstd|xz",
          "compression (default: none)" },
        { "architecture", 0, true, ARG_ARCHITECTURE, OPT_BUNDLE_EXTRA, "A", "a model's architecture" },
        { "parameters", 0, true, ARG_PARAMETERS, OPT_BUNDLE_EXTRA, "N", "a model's number of parameters" },
        { "dtype", 0, true, ARG_DTYPE, OPT_BUNDLE_EXTRA, "D", "a model's data type (bf16)" },
        { "min-gpu-memory", 0, true, ARG_MIN_GPU_MEMORY, OPT_BUNDLE_EXTRA, "SIZE",
          "the GPU memory a model needs" },
        { "runtime", 0, true, ARG_RUNTIME, OPT_BUNDLE_EXTRA, "R", "the runtime a model is for" },
        { "license", 0, true, ARG_LICENSE, OPT_BUNDLE_EXTRA, "L", "a model's license" },
        { "compatible", 0, true, ARG_COMPATIBLE, OPT_BUNDLE_EXTRA, "VERSION",
          "a product version an update applies to; repeat for more" },
        { "trust-dir", 0, true, ARG_TRUST_DIR, OPT_TRUST_DIR, "DIR",
          "the trusted keys (default: $ARK_TRUST_DIR, else /etc/ark/trust.d)" },
        { "version", 0, true, ARG_MODEL_VERSION, OPT_MODEL_VERSION, "VERSION",
          "which version of the model or image" },
};
const size_t ctl_n_options = ELEMENTSOF(ctl_options);

/* getopt_long() returns OPTION_BASE + the entry's index for a long option. */
#define OPTION_BASE 0x1000

/* "now", "@SECONDS" (since the epoch), "YYYY-MM-DD[ HH:MM[:SS]]" or "...T..." in UTC, or
 * "-N[smhd]" before now; µs since the epoch. */
static int parse_time_arg(const char *option, const char *value, uint64_t *ret) {
        uint64_t now = now_usec(CLOCK_REALTIME), n;
        struct tm tm = {};
        const char *end;
        char unit;

        if (streq(value, "now")) {
                *ret = now;
                return 0;
        }
        if (value[0] == '@' && parse_u64(value + 1, &n) >= 0 && n < UINT64_MAX / USEC_PER_SEC) {
                *ret = n * USEC_PER_SEC;
                return 0;
        }
        if (value[0] == '-' && strlen(value) >= 3) {
                _cleanup_free_ char *num = strndup(value + 1, strlen(value) - 2);
                uint64_t mul;

                unit = value[strlen(value) - 1];
                mul = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : unit == 'd' ? 86400 : 0;
                if (num && mul && parse_u64(num, &n) >= 0 && n < now / USEC_PER_SEC / mul) {
                        *ret = now - n * mul * USEC_PER_SEC;
                        return 0;
                }
        }
        for (const char *const *f =
                     (const char *const[]) { "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M",
                                             "%Y-%m-%dT%H:%M", "%Y-%m-%d", NULL };
             *f; f++) {
                tm = (struct tm) {};
                end = strptime(value, *f, &tm);
                if (end && *end == 0) {
                        time_t t = timegm(&tm);
                        if (t >= 0) {
                                *ret = (uint64_t) t * USEC_PER_SEC;
                                return 0;
                        }
                }
        }
        return usage_error(
                "%s: '%s' is not a time (now, @SECONDS, YYYY-MM-DD[ HH:MM[:SS]] in UTC, or -N[smhd])",
                option, value);
}

int usage_error(const char *format, ...) {
        va_list ap;

        fputs("arkctl: ", stderr);
        va_start(ap, format);
        vfprintf(stderr, format, ap);
        va_end(ap);
        fputc('\n', stderr);
        return EXIT_USAGE;
}

/* A value arkctl parses itself that cannot be used (a size of "8X"): the command line is wrong,
 * so it exits 2 like every other usage error; what only arkd can judge (a name taken, too much
 * memory for the host) exits 1 (docs/arkctl.md, "Exit status"). */
static int value_error(const char *format, ...) _printf_(1, 2);
static int value_error(const char *format, ...) {
        va_list ap;

        fputs("arkctl: ", stderr);
        va_start(ap, format);
        vfprintf(stderr, format, ap);
        va_end(ap);
        fputc('\n', stderr);
        return EXIT_USAGE;
}

int ctl_oom(void) {
        fputs("arkctl: out of memory\n", stderr);
        return -ENOMEM;
}

int ctl_print_table(Table *t) {
        int r;

        if (!t)
                return ctl_oom();
        table_set_header(t, arg_legend);
        r = table_print(t, stdout);
        if (r == -ENOMEM)
                return ctl_oom();
        if (r < 0)
                fprintf(stderr, "arkctl: cannot write the output: %s\n", strerror(-r));
        return r;
}

int ctl_print_json(json_t *v) {
        int r;

        if (!v)
                return ctl_oom();
        r = output_json(v);
        if (r == -ENOMEM)
                return ctl_oom();
        if (r < 0)
                fprintf(stderr, "arkctl: cannot write the output: %s\n", strerror(-r));
        return r;
}

static int verb_help(char **args) {
        return ctl_help(args);
}

static int parse_size_arg(const char *option, const char *value, uint64_t *ret) {
        int r = parse_size(value, ret);

        if (r == -ERANGE)
                return value_error("%s: '%s' is too large", option, value);
        if (r < 0)
                return value_error("%s: '%s' is not a valid size (use e.g. 512M, 4G)", option, value);
        return 0;
}

static int parse_u32_arg(const char *option, const char *value, const char *what, uint32_t *ret) {
        int r = parse_u32(value, ret);

        if (r == -ERANGE)
                return value_error("%s: '%s' is too large", option, value);
        if (r < 0)
                return value_error("%s: '%s' is not %s", option, value, what);
        return 0;
}

/* Which options were given, by index into ctl_options. */
static bool option_given[ELEMENTSOF(ctl_options)];

/* Finds the dispatch table entry for the positional words; on success *ret_args points at the
 * words after the command. */
static int find_verb(char **words, const Verb **ret, char ***ret_args) {
        const Verb *found = NULL;
        size_t n_words = strv_length(words), n_args;
        char **args;

        for (size_t i = 0; n_words > 0 && i < ELEMENTSOF(ctl_verbs); i++)
                if (streq(ctl_verbs[i].noun, words[0]) &&
                    (!ctl_verbs[i].verb || (n_words > 1 && streq(ctl_verbs[i].verb, words[1])))) {
                        found = &ctl_verbs[i];
                        break;
                }
        if (!found)
                return ctl_unknown_command(words);

        args = words + (found->verb ? 2 : 1);
        n_args = strv_length(args);
        if (n_args < found->min_args)
                return usage_error("'%s' needs %s (see 'arkctl %s --help')", ctl_verb_name(found),
                                   found->args, ctl_verb_name(found));
        if (n_args > found->max_args)
                return usage_error("'%s' takes %s%s; unexpected '%s'", ctl_verb_name(found),
                                   found->max_args == 0 ? "no arguments" : "only ",
                                   found->max_args == 0 ? "" : found->args, args[found->max_args]);
        *ret = found;
        *ret_args = args;
        return 0;
}

/* The options given that the verb does not take, then the ones it needs and lacks. */
static int check_verb_options(const Verb *v) {
        _cleanup_free_ char *missing = NULL;
        StrBuf b = {};

        for (size_t i = 0; i < ELEMENTSOF(ctl_options); i++)
                if (option_given[i] && ctl_options[i].bit && !(v->options & ctl_options[i].bit))
                        return usage_error("--%s does not apply to '%s' (see 'arkctl %s --help')",
                                           ctl_options[i].name, ctl_verb_name(v), ctl_verb_name(v));

        for (size_t i = 0; i < ELEMENTSOF(ctl_options); i++)
                if ((v->required & ctl_options[i].bit) && !option_given[i])
                        strbuf_printf(&b, "%s%s", b.len > 0 ? ", " : "",
                                      ctl_option_synopsis(&ctl_options[i]));
        missing = strbuf_steal(&b);
        if (!missing)
                return -ENOMEM;
        if (!isempty(missing))
                return usage_error("'%s' needs %s", ctl_verb_name(v), missing);
        return 0;
}

/* The VerbOption bits of the commands named on the line (a noun followed by one of its verbs),
 * before the options are parsed: they pick the entry of an option name that has several. */
static unsigned line_context(int argc, char *argv[]) {
        unsigned bits = 0;

        for (int i = 1; i + 1 < argc; i++)
                for (size_t k = 0; k < ELEMENTSOF(ctl_verbs); k++)
                        if (ctl_verbs[k].verb && streq(argv[i], ctl_verbs[k].noun) &&
                            streq(argv[i + 1], ctl_verbs[k].verb))
                                bits |= ctl_verbs[k].options;
        return bits;
}

/* getopt_long()'s tables for the line: the selected entries, each returning OPTION_BASE + its
 * index; '-' returns positional words in order as option 1, ':' reports a missing value. */
static void make_getopt_tables(unsigned context, struct option *opts, char *shorts) {
        size_t n = 0, k = 0;

        shorts[k++] = '-';
        shorts[k++] = ':';
        for (size_t i = 0; i < ELEMENTSOF(ctl_options); i++) {
                const CtlOption *o = &ctl_options[i];

                if (!ctl_option_selected(o, context))
                        continue;
                opts[n++] = (struct option) { o->name, o->takes_value ? required_argument : no_argument,
                                              NULL, OPTION_BASE + (int) i };
                if (o->short_name) {
                        shorts[k++] = o->short_name;
                        if (o->takes_value)
                                shorts[k++] = ':';
                }
        }
        opts[n] = (struct option) {};
        shorts[k] = 0;
}

/* The entry getopt_long() returned c for: a long option's index, or the selected entry of a
 * short one. */
static const CtlOption *option_entry(int c, unsigned context) {
        if (c >= OPTION_BASE && c < OPTION_BASE + (int) ELEMENTSOF(ctl_options))
                return &ctl_options[c - OPTION_BASE];
        for (size_t i = 0; i < ELEMENTSOF(ctl_options); i++)
                if (ctl_options[i].short_name == c && ctl_option_selected(&ctl_options[i], context))
                        return &ctl_options[i];
        return NULL;
}

/* A getopt_long() error (c is ':' or '?') as a usage error. */
static int option_error(int c, const char *arg, unsigned context) {
        const CtlOption *o = option_entry(optopt, context);

        if (c == ':' && o && o->short_name)
                return usage_error("-%c/--%s needs a value (%s)", o->short_name, o->name, o->value);
        if (c == ':' && o)
                return usage_error("--%s needs a value (%s)", o->name, o->value);
        /* A long option given a value it does not take ("--force=yes"). */
        if (o && optopt >= OPTION_BASE)
                return usage_error("--%s takes no value", o->name);
        if (optopt != 0)
                return usage_error("unknown option '-%c' (see 'arkctl --help')", optopt);
        return ctl_unknown_option(arg, context);
}

/* Whether -h or --help is anywhere among the options: then the line only says which help to
 * show, and nothing else on it is parsed or checked. */
static bool line_asks_for_help(int argc, char *argv[], const struct option *opts, const char *shorts,
                               unsigned context) {
        bool help = false;
        int c;

        optind = 0; /* glibc: start over */
        while ((c = getopt_long(argc, argv, shorts, opts, NULL)) >= 0) {
                const CtlOption *o = option_entry(c, context);

                if (o && o->val == 'h')
                        help = true;
        }
        optind = 0;
        return help;
}

/* Parses one option's value into its arg_* variable. Returns 0, EXIT_USAGE (printed) or a
 * negative errno. */
static int parse_option(const CtlOption *o, const char *value) {
        int r;

        switch (o->val) {
        case 'o':
                if (streq(value, "table"))
                        arg_output = OUTPUT_TABLE;
                else if (streq(value, "json"))
                        arg_output = OUTPUT_JSON;
                else if (streq(value, "csv"))
                        arg_output = OUTPUT_CSV;
                else
                        return usage_error("-o: '%s' is not an output format (use table, json, or csv for "
                                           "'usage report')",
                                           value);
                return 0;
        case ARG_BUS_ADDRESS:
                if (isempty(value))
                        return usage_error("--bus-address: the address may not be empty");
                arg_bus_address = value;
                return 0;
        case ARG_NO_LEGEND:
                arg_legend = false;
                return 0;
        case ARG_DESCRIPTION:
                arg_description = value;
                return 0;
        case ARG_TENANT:
                arg_tenant = value;
                return 0;
        case ARG_VCPUS:
                return parse_u32_arg("--vcpus", value, "a number of vCPUs", &arg_vcpus);
        case ARG_CPUS:
                arg_cpus_given = true;
                return parse_u32_arg("--cpus", value, "a number of CPUs", &arg_vcpus);
        case ARG_ENV:
                if (strv_extend(&arg_env, value) < 0)
                        return -ENOMEM;
                return 0;
        case ARG_FOLLOW:
                return 0;
        case ARG_MIG:
                if (isempty(value))
                        return usage_error("--mig: give a MIG profile, e.g. 3g.40gb");
                arg_mig = value;
                return 0;
        case ARG_GPU_SHARE: {
                /* A fraction with at most three decimals: 0.25 is 250 milli-GPUs. */
                const char *dot = strchr(value, '.');
                size_t decimals = dot ? strlen(dot + 1) : 0;
                unsigned whole = 0, frac = 0;
                char tail;

                if (!dot || decimals == 0 || decimals > 3 || strspn(value, "0123456789.") != strlen(value) ||
                    sscanf(value, "%u.%u%c", &whole, &frac, &tail) != 2 || whole != 0)
                        return usage_error(
                                "--gpu-share: '%s' is not a fraction of a GPU between 0.001 and 0.999",
                                value);
                for (size_t k = decimals; k < 3; k++)
                        frac *= 10;
                if (frac == 0)
                        return usage_error("--gpu-share: '%s' is no share at all", value);
                arg_gpu_share = frac;
                return 0;
        }
        case ARG_GPU_MEMORY:
                return parse_size_arg("--gpu-memory", value, &arg_gpu_memory);
        case ARG_MEMORY:
                return parse_size_arg("--memory", value, &arg_memory);
        case ARG_DISK:
                return parse_size_arg("--disk", value, &arg_disk);
        case ARG_IMAGE:
                arg_image = value;
                return 0;
        case ARG_KERNEL:
                arg_kernel = value;
                return 0;
        case ARG_INITRD:
                arg_initrd = value;
                return 0;
        case ARG_CMDLINE:
                arg_cmdline = value;
                return 0;
        case ARG_START:
                arg_start = true;
                return 0;
        case ARG_PREEMPTIBLE:
                arg_preemptible = true;
                return 0;
        case ARG_XML:
                arg_xml = true;
                return 0;
        case ARG_FORCE:
                arg_force = true;
                return 0;
        case ARG_TIMEOUT:
                return parse_u32_arg("--timeout", value, "a number of seconds", &arg_timeout);
        case ARG_GPUS:
                r = parse_u32_arg("--gpus", value, "a number of GPUs", &arg_gpus);
                if (r == 0 && arg_gpus == 0)
                        return value_error(
                                "--gpus: a VM asks for at least 1 GPU (leave the option out for none)");
                return r;
        case ARG_GPU_MODEL:
                if (isempty(value))
                        return value_error("--gpu-model: the model may not be empty (e.g. H100)");
                arg_gpu_model = value;
                return 0;
        case ARG_GPU: {
                _cleanup_free_ char *lower = strdup(value);

                if (!lower)
                        return -ENOMEM;
                /* The kernel names devices in lowercase; "0000:3B:00.0" means the same one. */
                for (char *p = lower; *p; p++)
                        if (*p >= 'A' && *p <= 'F')
                                *p = (char) (*p - 'A' + 'a');
                if (strv_push(&arg_gpu_addresses, lower) < 0)
                        return -ENOMEM;
                TAKE_PTR(lower);
                return 0;
        }
        case ARG_USER:
        case ARG_GROUP:
                if (isempty(value))
                        return value_error("--%s: the name may not be empty", o->name);
                if (strv_extend(o->val == ARG_USER ? &arg_member_users : &arg_member_groups, value) < 0)
                        return -ENOMEM;
                return 0;
        case ARG_ALL:
                arg_all = true;
                return 0;
        case ARG_REASON:
                arg_reason = value;
                return 0;
        case ARG_FROM:
                return parse_time_arg("--from", value, &arg_from);
        case ARG_TO:
                return parse_time_arg("--to", value, &arg_to);
        case ARG_MODEL_VERSION:
                if (isempty(value))
                        return value_error("--version: the value may not be empty");
                arg_model_version = value;
                return 0;
        case ARG_KIND:
        case ARG_NAME:
        case ARG_BUNDLE_VERSION:
        case ARG_KEY:
        case ARG_OUT_FILE:
        case ARG_COMPRESS:
        case ARG_ARCHITECTURE:
        case ARG_DTYPE:
        case ARG_RUNTIME:
        case ARG_LICENSE: {
                const char **t = o->val == ARG_KIND    ? &arg_bundle_kind
                        : o->val == ARG_NAME           ? &arg_bundle_name
                        : o->val == ARG_BUNDLE_VERSION ? &arg_bundle_version
                        : o->val == ARG_KEY            ? &arg_key
                        : o->val == ARG_OUT_FILE       ? &arg_out_file
                        : o->val == ARG_COMPRESS       ? &arg_compress
                        : o->val == ARG_ARCHITECTURE   ? &arg_architecture
                        : o->val == ARG_DTYPE          ? &arg_dtype
                        : o->val == ARG_RUNTIME        ? &arg_runtime
                                                       : &arg_license;

                if (isempty(value))
                        return value_error("--%s: the value may not be empty", o->name);
                *t = value;
                return 0;
        }
        case ARG_PARAMETERS:
                r = parse_u64(value, &arg_parameters);
                if (r < 0 || arg_parameters == 0)
                        return value_error("--parameters: '%s' is not a number of parameters (8000000000)",
                                           value);
                return 0;
        case ARG_MIN_GPU_MEMORY:
                return parse_size_arg("--min-gpu-memory", value, &arg_min_gpu_memory);
        case ARG_COMPATIBLE:
                if (isempty(value))
                        return value_error("--compatible: the version may not be empty");
                if (strv_extend(&arg_compatible, value) < 0)
                        return -ENOMEM;
                return 0;
        case ARG_MODEL:
                if (isempty(value))
                        return value_error("--model: give NAME or NAME@VERSION of an imported model");
                arg_model = value;
                return 0;
        case ARG_NETWORK:
                if (isempty(value))
                        return value_error("--network: the network name may not be empty");
                if (strv_extend(&arg_networks, value) < 0)
                        return -ENOMEM;
                return 0;
        case ARG_SUBNET:
                arg_subnet = value;
                return 0;
        case ARG_NAT:
        case ARG_ISOLATED:
                if (arg_net_mode)
                        return value_error("--nat, --isolated and --vlan exclude each other");
                arg_net_mode = o->val == ARG_NAT ? "nat" : "isolated";
                return 0;
        case ARG_VLAN:
                if (arg_net_mode)
                        return value_error("--nat, --isolated and --vlan exclude each other");
                arg_net_mode = "vlan";
                return parse_u32_arg("--vlan", value, "a VLAN id", &arg_vlan);
        case ARG_UPLINK:
                if (isempty(value))
                        return value_error("--uplink: the interface may not be empty");
                arg_uplink = value;
                return 0;
        case ARG_MTU:
                return parse_u32_arg("--mtu", value, "an MTU", &arg_mtu);
        case ARG_NO_IPV6:
                arg_no_ipv6 = true;
                return 0;
        case ARG_PORT:
                r = parse_u32_arg("--port", value, "a port", &arg_port);
                if (r == 0 && (arg_port < 1 || arg_port > 65535))
                        return value_error("--port: %s is not a port (1-65535)", value);
                return r;
        case ARG_TO_TARGET:
                arg_to_target = value;
                return 0;
        case ARG_UDP:
                arg_udp = true;
                return 0;
        case ARG_TRUST_DIR:
                if (isempty(value))
                        return value_error("--trust-dir: the directory may not be empty");
                arg_trust_dir = value;
                return 0;
        default:
                return -EINVAL;
        }
}

/* Returns 0 with *ret_verb set to the verb to run (NULL: nothing left to do, e.g. --help),
 * EXIT_USAGE after a usage error, or a negative errno. *ret_words is the positional words. */
static int parse_argv(int argc, char *argv[], const Verb **ret_verb, char ***ret_words, char ***ret_args) {
        _cleanup_strv_free_ char **words = NULL;
        struct option opts[ELEMENTSOF(ctl_options) + 1];
        char shorts[2 + 2 * ELEMENTSOF(ctl_options) + 1];
        unsigned context = line_context(argc, argv);
        bool help;
        const char *e;
        int c, r;

        e = getenv("ARK_BUS_ADDRESS");
        if (!isempty(e))
                arg_bus_address = e;

        make_getopt_tables(context, opts, shorts);
        /* Our own messages, with a "did you mean" for a misspelled option. */
        opterr = 0;
        help = line_asks_for_help(argc, argv, opts, shorts, context);
        *ret_verb = NULL;
        while ((c = getopt_long(argc, argv, shorts, opts, NULL)) >= 0) {
                const CtlOption *o;

                if (c == 1) {
                        if (strv_extend(&words, optarg) < 0)
                                return -ENOMEM;
                        continue;
                }
                if (help)
                        continue;
                if (c == ':' || c == '?')
                        return option_error(c, argv[optind - 1], context);
                o = option_entry(c, context);
                if (!o)
                        return -EINVAL;
                if (o->val == ARG_VERSION) {
                        printf("arkctl %s\n", ARK_VERSION);
                        return 0;
                }
                if (o->val == ARG_LIST_COMMANDS)
                        return ctl_list_commands();
                r = parse_option(o, optarg);
                if (r != 0)
                        return r;
                arg_given |= o->bit;
                option_given[o - ctl_options] = true;
        }
        /* After "--" everything is a positional word. */
        for (; optind < argc; optind++)
                if (strv_extend(&words, argv[optind]) < 0)
                        return -ENOMEM;

        if (help)
                return ctl_help(words);
        r = find_verb(words, ret_verb, ret_args);
        if (r == 0)
                r = check_verb_options(*ret_verb);
        if (r != 0) {
                *ret_verb = NULL;
                return r;
        }
        *ret_words = TAKE_PTR(words);
        return 0;
}

int main(int argc, char *argv[]) {
        _cleanup_strv_free_ char **words = NULL;
        const Verb *verb = NULL;
        char **args = NULL;
        int r;

        /* Messages and the character set from the environment; numbers always with a '.'. */
        setlocale(LC_ALL, "");
        setlocale(LC_NUMERIC, "C");

        r = parse_argv(argc, argv, &verb, &words, &args);
        if (r == -ENOMEM)
                (void) ctl_oom();
        if (r == 0 && verb && arg_output == OUTPUT_CSV && verb->run != verb_usage_report)
                r = usage_error("-o csv is only for 'usage report'");
        if (r == 0 && verb)
                r = verb->run(args);
        arg_gpu_addresses = strv_free(arg_gpu_addresses);
        arg_member_users = strv_free(arg_member_users);
        arg_member_groups = strv_free(arg_member_groups);
        arg_compatible = strv_free(arg_compatible);
        arg_env = strv_free(arg_env);
        return r < 0 ? EXIT_FAILURE : r;
}

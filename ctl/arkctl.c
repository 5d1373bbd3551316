/* arkctl: the command line client of arkd. `arkctl <noun> <verb> [ARGS] [OPTIONS]`.
 *
 * Options may appear anywhere on the command line: one getopt_long() pass over everything (in
 * "return in order" mode, so POSIXLY_CORRECT does not change the meaning) collects the options
 * and the positional words; the words select an entry of the dispatch table, which says how many
 * arguments the verb takes and which verb options apply to it. */

#include <getopt.h>
#include <stdlib.h>
#include <time.h>
#include <locale.h>
#include <stdarg.h>
#include <string.h>

#include "arkctl.h"
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

typedef struct Verb {
        const char *noun;
        const char *verb;     /* NULL: the noun is the whole command ("status") */
        const char *args;     /* positional arguments, for messages ("NAME") */
        unsigned min_args, max_args;
        unsigned options;     /* VerbOption bits the verb accepts */
        int (*run)(char **args);
} Verb;

static int verb_help(char **args);

static const Verb verbs[] = {
        { "status", NULL, NULL, 0, 0, 0, verb_status },
        { "reconcile", NULL, NULL, 0, 0, 0, verb_reconcile },
        { "host", "show", NULL, 0, 0, 0, verb_host_show },
        { "host", "accelerators", NULL, 0, 0, 0, verb_host_accelerators },
        { "host", "check", "ADDRESS", 0, 64, 0, verb_host_check },
        { "accelerator", "reserve", "ADDRESS", 1, 1, OPT_REASON, verb_accelerator_reserve },
        { "accelerator", "quarantine", "ADDRESS", 1, 1, OPT_REASON, verb_accelerator_quarantine },
        { "accelerator", "release", "ADDRESS", 1, 1, 0, verb_accelerator_release },
        { "tenant", "create", "NAME", 1, 1, OPT_DESCRIPTION, verb_tenant_create },
        { "tenant", "list", NULL, 0, 0, 0, verb_tenant_list },
        { "tenant", "show", "NAME", 1, 1, 0, verb_tenant_show },
        { "tenant", "delete", "NAME", 1, 1, 0, verb_tenant_delete },
        { "tenant", "member", "add|remove|list TENANT", 2, 2, OPT_MEMBER, verb_tenant_member },
        { "tenant", "quota", "set|show TENANT [RESOURCE[:MODEL]=[GUARANTEE..]LIMIT]...", 2, 64, 0, verb_tenant_quota },
        { "vm", "create", "NAME", 1, 1,
          OPT_TENANT | OPT_VCPUS | OPT_MEMORY | OPT_DISK | OPT_IMAGE | OPT_KERNEL | OPT_INITRD |
                  OPT_CMDLINE | OPT_START | OPT_GPUS | OPT_GPU_MODEL | OPT_GPU | OPT_PREEMPTIBLE | OPT_MODEL,
          verb_vm_create },
        { "vm", "list", NULL, 0, 0, OPT_TENANT, verb_vm_list },
        { "vm", "show", "NAME", 1, 1, OPT_XML, verb_vm_show },
        { "vm", "start", "NAME", 1, 1, 0, verb_vm_start },
        { "vm", "stop", "NAME", 1, 1, OPT_FORCE | OPT_TIMEOUT, verb_vm_stop },
        { "vm", "delete", "NAME", 1, 1, 0, verb_vm_delete },
        { "vm", "gpu", "add|remove NAME", 2, 2, OPT_GPUS | OPT_GPU_MODEL | OPT_GPU | OPT_ALL, verb_vm_gpu },
        { "usage", "report", NULL, 0, 0, OPT_TENANT | OPT_FROM_TO, verb_usage_report },
        { "audit", "list", NULL, 0, 0, 0, verb_audit_list },
        { "audit", "verify", NULL, 0, 0, 0, verb_audit_verify },
        { "audit", "export", NULL, 0, 0, 0, verb_audit_export },
        { "bundle", "keygen", "PREFIX", 1, 1, 0, verb_bundle_keygen },
        { "bundle", "create", "DIR", 1, 1, OPT_BUNDLE_CREATE, verb_bundle_create },
        { "bundle", "verify", "FILE.ark", 1, 1, OPT_TRUST_DIR, verb_bundle_verify },
        { "bundle", "inspect", "FILE.ark", 1, 1, OPT_TRUST_DIR, verb_bundle_inspect },
        { "bundle", "trust", "add FILE.pub | list | remove ID | revoke ID", 1, 2, OPT_TRUST_DIR, verb_bundle_trust },
        { "bundle", "import", "FILE.ark", 1, 1, OPT_TENANT, verb_bundle_import },
        { "model", "list", NULL, 0, 0, OPT_TENANT, verb_model_list },
        { "model", "show", "NAME", 1, 1, OPT_TENANT | OPT_MODEL_VERSION, verb_model_show },
        { "model", "delete", "NAME", 1, 1, OPT_TENANT | OPT_MODEL_VERSION, verb_model_delete },
        { "help", NULL, NULL, 0, 0, 0, verb_help },
};

enum {
        ARG_VERSION = 0x100,
        ARG_BUS_ADDRESS,
        ARG_NO_LEGEND,
        ARG_DESCRIPTION,
        ARG_TENANT,
        ARG_VCPUS,
        ARG_MEMORY,
        ARG_DISK,
        ARG_IMAGE,
        ARG_KERNEL,
        ARG_INITRD,
        ARG_CMDLINE,
        ARG_START,
        ARG_XML,
        ARG_FORCE,
        ARG_TIMEOUT,
        ARG_GPUS,
        ARG_GPU_MODEL,
        ARG_GPU,
        ARG_REASON,
        ARG_ALL,
        ARG_USER,
        ARG_GROUP,
        ARG_FROM,
        ARG_TO,
        ARG_PREEMPTIBLE,
        ARG_KIND,
        ARG_NAME,
        ARG_BUNDLE_VERSION,
        ARG_KEY,
        ARG_COMPRESS,
        ARG_ARCHITECTURE,
        ARG_PARAMETERS,
        ARG_DTYPE,
        ARG_MIN_GPU_MEMORY,
        ARG_RUNTIME,
        ARG_LICENSE,
        ARG_COMPATIBLE,
        ARG_TRUST_DIR,
        ARG_MODEL,
};

static const struct option options[] = {
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, ARG_VERSION },
        { "output", required_argument, NULL, 'o' },
        { "bus-address", required_argument, NULL, ARG_BUS_ADDRESS },
        { "no-legend", no_argument, NULL, ARG_NO_LEGEND },
        { "description", required_argument, NULL, ARG_DESCRIPTION },
        { "tenant", required_argument, NULL, ARG_TENANT },
        { "vcpus", required_argument, NULL, ARG_VCPUS },
        { "memory", required_argument, NULL, ARG_MEMORY },
        { "disk", required_argument, NULL, ARG_DISK },
        { "image", required_argument, NULL, ARG_IMAGE },
        { "kernel", required_argument, NULL, ARG_KERNEL },
        { "initrd", required_argument, NULL, ARG_INITRD },
        { "cmdline", required_argument, NULL, ARG_CMDLINE },
        { "start", no_argument, NULL, ARG_START },
        { "xml", no_argument, NULL, ARG_XML },
        { "force", no_argument, NULL, ARG_FORCE },
        { "timeout", required_argument, NULL, ARG_TIMEOUT },
        { "gpus", required_argument, NULL, ARG_GPUS },
        { "gpu-model", required_argument, NULL, ARG_GPU_MODEL },
        { "gpu", required_argument, NULL, ARG_GPU },
        { "reason", required_argument, NULL, ARG_REASON },
        { "all", no_argument, NULL, ARG_ALL },
        { "user", required_argument, NULL, ARG_USER },
        { "group", required_argument, NULL, ARG_GROUP },
        { "from", required_argument, NULL, ARG_FROM },
        { "to", required_argument, NULL, ARG_TO },
        { "preemptible", no_argument, NULL, ARG_PREEMPTIBLE },
        { "kind", required_argument, NULL, ARG_KIND },
        { "name", required_argument, NULL, ARG_NAME },
        { "key", required_argument, NULL, ARG_KEY },
        { "compress", required_argument, NULL, ARG_COMPRESS },
        { "architecture", required_argument, NULL, ARG_ARCHITECTURE },
        { "parameters", required_argument, NULL, ARG_PARAMETERS },
        { "dtype", required_argument, NULL, ARG_DTYPE },
        { "min-gpu-memory", required_argument, NULL, ARG_MIN_GPU_MEMORY },
        { "runtime", required_argument, NULL, ARG_RUNTIME },
        { "license", required_argument, NULL, ARG_LICENSE },
        { "compatible", required_argument, NULL, ARG_COMPATIBLE },
        { "trust-dir", required_argument, NULL, ARG_TRUST_DIR },
        { "model", required_argument, NULL, ARG_MODEL },
        {}
};

/* Verb option bit -> its name, for "does not apply" messages. */
static const struct {
        unsigned bit;
        const char *name;
} verb_option_names[] = {
        { OPT_DESCRIPTION, "--description" }, { OPT_TENANT, "--tenant" },
        { OPT_VCPUS, "--vcpus" },             { OPT_MEMORY, "--memory" },
        { OPT_DISK, "--disk" },               { OPT_IMAGE, "--image" },
        { OPT_KERNEL, "--kernel" },           { OPT_INITRD, "--initrd" },
        { OPT_CMDLINE, "--cmdline" },         { OPT_START, "--start" },
        { OPT_XML, "--xml" },                 { OPT_FORCE, "--force" },
        { OPT_TIMEOUT, "--timeout" },         { OPT_GPUS, "--gpus" },
        { OPT_GPU_MODEL, "--gpu-model" },     { OPT_GPU, "--gpu" },
        { OPT_REASON, "--reason" },           { OPT_ALL, "--all" },
        { OPT_MEMBER, "--user/--group" },     { OPT_FROM_TO, "--from/--to" },
        { OPT_PREEMPTIBLE, "--preemptible" },
        { OPT_BUNDLE_CREATE, "--kind/--name/--version/--key/--compress/--compatible and the model options" },
        { OPT_TRUST_DIR, "--trust-dir" },
        { OPT_MODEL_VERSION, "--version VERSION" },
        { OPT_MODEL, "--model" },
};

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
        for (const char *const *f = (const char *const[]) { "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M",
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
        return usage_error("%s: '%s' is not a time (now, @SECONDS, YYYY-MM-DD[ HH:MM[:SS]] in UTC, or -N[smhd])",
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

static void help(void) {
        printf("arkctl %s: the command line client of arkd, the Ark node controller.\n"
               "\n"
               "Usage: arkctl [OPTIONS] COMMAND ...\n"
               "\n"
               "Commands:\n"
               "  status                     daemon, hypervisor connection, counts, orphans\n"
               "  reconcile                  compare store and hypervisor now, then show status\n"
               "  host show                  CPUs, memory, NUMA nodes, IOMMU, domain type\n"
               "  host accelerators          accelerators: IOMMU group, NUMA node, link, driver\n"
               "  host check [ADDRESS...]    can the host and its GPUs do passthrough; why not\n"
               "  accelerator reserve ADDRESS [--reason TEXT]     keep a GPU for the host\n"
               "  accelerator quarantine ADDRESS [--reason TEXT]  keep a GPU from new VMs\n"
               "  accelerator release ADDRESS                     end reservation/quarantine\n"
               "  tenant create NAME [--description TEXT]\n"
               "  tenant list\n"
               "  tenant show NAME\n"
               "  tenant delete NAME\n"
               "  tenant member add|remove TENANT --user NAME|--group NAME...\n"
               "  tenant member list TENANT\n"
               "  tenant quota set TENANT RESOURCE[:MODEL]=[GUARANTEE..]LIMIT...\n"
               "  tenant quota show TENANT\n"
               "  usage report [--tenant T] [--from TIME] [--to TIME] [-o table|json|csv]\n"
               "  audit list|verify|export\n"
               "  bundle keygen PREFIX       write PREFIX.key (private) and PREFIX.pub\n"
               "  bundle create DIR --kind model|image|update --name N --version V\n"
               "            --key PREFIX.key -o FILE.ark [--compress none|zstd|xz]\n"
               "            [--architecture A --parameters N --dtype D --min-gpu-memory SIZE\n"
               "            --runtime R --license L] [--compatible VERSION]...\n"
               "  bundle verify FILE.ark [--trust-dir DIR]   signature and every hash\n"
               "  bundle inspect FILE.ark [--trust-dir DIR]  the manifest and its signer\n"
               "  bundle trust add FILE.pub [--trust-dir DIR] | list | remove ID | revoke ID\n"
               "  bundle import FILE.ark [--tenant T]        verify and install it\n"
               "  model list [--tenant T]\n"
               "  model show|delete NAME [--version V] [--tenant T]\n"
               "  vm create NAME --tenant TENANT --vcpus N --memory SIZE [--disk SIZE]\n"
               "            [--image PATH|NAME] [--kernel FILE [--initrd FILE]\n"
               "            [--cmdline TEXT]] [--gpus N] [--gpu-model MODEL]\n"
               "            [--gpu ADDRESS]... [--preemptible] [--model NAME[@VERSION]]\n"
               "            [--start]\n"
               "  vm list [--tenant TENANT]\n"
               "  vm show NAME [--xml]\n"
               "  vm start NAME\n"
               "  vm stop NAME [--force] [--timeout SECONDS]\n"
               "  vm delete NAME\n"
               "  vm gpu add NAME [--gpus N] [--gpu-model MODEL] [--gpu ADDRESS]...\n"
               "  vm gpu remove NAME --gpu ADDRESS... | --all\n"
               "  help                       show this help\n"
               "\n"
               "Options (anywhere on the command line):\n"
               "  -o, --output=table|json|csv  output format (default: table; csv: usage report)\n"
               "      --no-legend            no header row in tables\n"
               "      --bus-address=ADDRESS  D-Bus address of arkd's bus (default:\n"
               "                             $ARK_BUS_ADDRESS, else the system bus)\n"
               "  -h, --help                 show this help\n"
               "      --version              show the version\n"
               "\n"
               "SIZE takes binary units: 512M, 4G, 1.5T (K = 1024). Exit status: 0 success,\n"
               "1 failure (including every error arkd reports), 2 usage error.\n"
               "See arkctl(1).\n",
               ARK_VERSION);
}

static int verb_help(char **args) {
        help();
        return 0;
}

static const char *option_name(int val) {
        for (const struct option *o = options; o->name; o++)
                if (o->val == val)
                        return o->name;
        return "?";
}

static int parse_size_arg(const char *option, const char *value, uint64_t *ret) {
        int r = parse_size(value, ret);

        if (r == -ERANGE)
                return value_error("%s: '%s' is too large", option, value);
        if (r < 0)
                return value_error("%s: '%s' is not a valid size (use e.g. 512M, 4G)", option,
                                   value);
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

/* Finds the dispatch table entry for the positional words; on success *ret_args points at the
 * words after the command. */
static int find_verb(char **words, const Verb **ret, char ***ret_args) {
        size_t n_words = strv_length(words), n_args;
        const Verb *found = NULL;
        bool noun_known = false;
        char **args;

        if (n_words == 0)
                return usage_error("missing command (see 'arkctl --help')");

        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                if (!streq(verbs[i].noun, words[0]))
                        continue;
                noun_known = true;
                if (!verbs[i].verb || (n_words > 1 && streq(verbs[i].verb, words[1]))) {
                        found = &verbs[i];
                        break;
                }
        }
        if (!noun_known)
                return usage_error("unknown command '%s' (see 'arkctl --help')", words[0]);
        if (!found) {
                StrBuf b = {};
                _cleanup_free_ char *list = NULL;

                for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                        if (streq(verbs[i].noun, words[0]))
                                strbuf_printf(&b, "%s%s", b.len > 0 ? ", " : "", verbs[i].verb);
                list = strbuf_steal(&b);
                if (n_words == 1)
                        return usage_error("'%s' needs a verb: %s", words[0], strempty(list));
                return usage_error("unknown verb '%s' for '%s' (use one of: %s)", words[1],
                                   words[0], strempty(list));
        }

        args = words + (found->verb ? 2 : 1);
        n_args = strv_length(args);
        if (n_args < found->min_args)
                return usage_error("'%s%s%s' needs a %s", found->noun, found->verb ? " " : "",
                                   strempty(found->verb), found->args);
        if (n_args > found->max_args)
                return usage_error("'%s%s%s' takes %s; unexpected '%s'", found->noun,
                                   found->verb ? " " : "", strempty(found->verb),
                                   found->max_args == 0 ? "no arguments" : "one argument",
                                   args[found->max_args]);

        for (size_t i = 0; i < ELEMENTSOF(verb_option_names); i++)
                if ((arg_given & verb_option_names[i].bit) &&
                    !(found->options & verb_option_names[i].bit))
                        return usage_error("%s does not apply to '%s%s%s'",
                                           verb_option_names[i].name, found->noun,
                                           found->verb ? " " : "", strempty(found->verb));

        *ret = found;
        *ret_args = args;
        return 0;
}

/* Returns 0 with *ret_verb set to the verb to run (NULL: nothing left to do, e.g. --help),
 * EXIT_USAGE after a usage error, or a negative errno. *ret_words is the positional words. */
static int parse_argv(int argc, char *argv[], const Verb **ret_verb, char ***ret_words,
                      char ***ret_args) {
        _cleanup_strv_free_ char **words = NULL;
        struct option opts[ELEMENTSOF(options)];
        bool bundle_create = false, model_version = false;
        const char *e;
        int c, r;

        e = getenv("ARK_BUS_ADDRESS");
        if (!isempty(e))
                arg_bus_address = e;

        /* 'bundle create' takes --version VERSION (the bundle's) and -o FILE.ark (where to write
         * it), as tar and packaging tools do; everywhere else they are arkctl's version and the
         * output format. */
        for (int i = 1; i + 1 < argc; i++) {
                if (streq(argv[i], "bundle") && streq(argv[i + 1], "create"))
                        bundle_create = true;
                if (streq(argv[i], "model") && (streq(argv[i + 1], "show") || streq(argv[i + 1], "delete")))
                        model_version = true;
        }
        memcpy(opts, options, sizeof(options));
        for (struct option *o = opts; (bundle_create || model_version) && o->name; o++)
                if (streq(o->name, "version"))
                        *o = (struct option) { "version", required_argument, NULL, ARG_BUNDLE_VERSION };

        /* '-': return positional words in order as option 1; ':': report a missing value as ':'. */
        opterr = 0;
        while ((c = getopt_long(argc, argv, "-:ho:", opts, NULL)) >= 0) {
                switch (c) {
                case 1:
                        if (strv_extend(&words, optarg) < 0)
                                return -ENOMEM;
                        break;
                case 'h':
                        help();
                        *ret_verb = NULL;
                        return 0;
                case ARG_VERSION:
                        printf("arkctl %s\n", ARK_VERSION);
                        *ret_verb = NULL;
                        return 0;
                case 'o':
                        if (bundle_create) {
                                arg_out_file = optarg;
                                arg_given |= OPT_BUNDLE_CREATE;
                        } else if (streq(optarg, "table"))
                                arg_output = OUTPUT_TABLE;
                        else if (streq(optarg, "json"))
                                arg_output = OUTPUT_JSON;
                        else if (streq(optarg, "csv"))
                                arg_output = OUTPUT_CSV;
                        else
                                return usage_error("-o: '%s' is not an output format (use table, "
                                                   "json, or csv for 'usage report')",
                                                   optarg);
                        break;
                case ARG_BUS_ADDRESS:
                        if (isempty(optarg))
                                return usage_error("--bus-address: the address may not be empty");
                        arg_bus_address = optarg;
                        break;
                case ARG_NO_LEGEND:
                        arg_legend = false;
                        break;
                case ARG_DESCRIPTION:
                        arg_description = optarg;
                        arg_given |= OPT_DESCRIPTION;
                        break;
                case ARG_TENANT:
                        arg_tenant = optarg;
                        arg_given |= OPT_TENANT;
                        break;
                case ARG_VCPUS:
                        r = parse_u32_arg("--vcpus", optarg, "a number of vCPUs", &arg_vcpus);
                        if (r != 0)
                                return r;
                        arg_given |= OPT_VCPUS;
                        break;
                case ARG_MEMORY:
                        r = parse_size_arg("--memory", optarg, &arg_memory);
                        if (r != 0)
                                return r;
                        arg_given |= OPT_MEMORY;
                        break;
                case ARG_DISK:
                        r = parse_size_arg("--disk", optarg, &arg_disk);
                        if (r != 0)
                                return r;
                        arg_given |= OPT_DISK;
                        break;
                case ARG_IMAGE:
                        arg_image = optarg;
                        arg_given |= OPT_IMAGE;
                        break;
                case ARG_KERNEL:
                        arg_kernel = optarg;
                        arg_given |= OPT_KERNEL;
                        break;
                case ARG_INITRD:
                        arg_initrd = optarg;
                        arg_given |= OPT_INITRD;
                        break;
                case ARG_CMDLINE:
                        arg_cmdline = optarg;
                        arg_given |= OPT_CMDLINE;
                        break;
                case ARG_START:
                        arg_start = true;
                        arg_given |= OPT_START;
                        break;
                case ARG_PREEMPTIBLE:
                        arg_preemptible = true;
                        arg_given |= OPT_PREEMPTIBLE;
                        break;
                case ARG_XML:
                        arg_xml = true;
                        arg_given |= OPT_XML;
                        break;
                case ARG_FORCE:
                        arg_force = true;
                        arg_given |= OPT_FORCE;
                        break;
                case ARG_TIMEOUT:
                        r = parse_u32_arg("--timeout", optarg, "a number of seconds",
                                          &arg_timeout);
                        if (r != 0)
                                return r;
                        arg_given |= OPT_TIMEOUT;
                        break;
                case ARG_GPUS:
                        r = parse_u32_arg("--gpus", optarg, "a number of GPUs", &arg_gpus);
                        if (r != 0)
                                return r;
                        if (arg_gpus == 0)
                                return value_error("--gpus: a VM asks for at least 1 GPU (leave the option out for none)");
                        arg_given |= OPT_GPUS;
                        break;
                case ARG_GPU_MODEL:
                        if (isempty(optarg))
                                return value_error("--gpu-model: the model may not be empty (e.g. H100)");
                        arg_gpu_model = optarg;
                        arg_given |= OPT_GPU_MODEL;
                        break;
                case ARG_GPU: {
                        _cleanup_free_ char *lower = strdup(optarg);

                        if (!lower)
                                return -ENOMEM;
                        /* The kernel names devices in lowercase; "0000:3B:00.0" means the same one. */
                        for (char *p = lower; *p; p++)
                                if (*p >= 'A' && *p <= 'F')
                                        *p = (char) (*p - 'A' + 'a');
                        if (strv_push(&arg_gpu_addresses, lower) < 0)
                                return -ENOMEM;
                        TAKE_PTR(lower);
                        arg_given |= OPT_GPU;
                        break;
                }
                case ARG_USER:
                case ARG_GROUP:
                        if (isempty(optarg))
                                return value_error("--%s: the name may not be empty", c == ARG_USER ? "user" : "group");
                        if (strv_extend(c == ARG_USER ? &arg_member_users : &arg_member_groups, optarg) < 0)
                                return -ENOMEM;
                        arg_given |= OPT_MEMBER;
                        break;
                case ARG_ALL:
                        arg_all = true;
                        arg_given |= OPT_ALL;
                        break;
                case ARG_REASON:
                        arg_reason = optarg;
                        arg_given |= OPT_REASON;
                        break;
                case ARG_FROM:
                case ARG_TO:
                        r = parse_time_arg(c == ARG_FROM ? "--from" : "--to", optarg,
                                           c == ARG_FROM ? &arg_from : &arg_to);
                        if (r != 0)
                                return r;
                        arg_given |= OPT_FROM_TO;
                        break;
                case ARG_BUNDLE_VERSION:
                        if (model_version) {
                                if (isempty(optarg))
                                        return value_error("--version: the value may not be empty");
                                arg_model_version = optarg;
                                arg_given |= OPT_MODEL_VERSION;
                                break;
                        }
                        _fallthrough_;
                case ARG_KIND:
                case ARG_NAME:
                case ARG_KEY:
                case ARG_COMPRESS:
                case ARG_ARCHITECTURE:
                case ARG_DTYPE:
                case ARG_RUNTIME:
                case ARG_LICENSE: {
                        const char **t = c == ARG_KIND ? &arg_bundle_kind : c == ARG_NAME ? &arg_bundle_name
                                         : c == ARG_BUNDLE_VERSION ? &arg_bundle_version : c == ARG_KEY ? &arg_key
                                         : c == ARG_COMPRESS ? &arg_compress : c == ARG_ARCHITECTURE ? &arg_architecture
                                         : c == ARG_DTYPE ? &arg_dtype : c == ARG_RUNTIME ? &arg_runtime : &arg_license;

                        if (isempty(optarg))
                                return value_error("--%s: the value may not be empty", option_name(c));
                        *t = optarg;
                        arg_given |= OPT_BUNDLE_CREATE;
                        break;
                }
                case ARG_PARAMETERS:
                        r = parse_u64(optarg, &arg_parameters);
                        if (r < 0 || arg_parameters == 0)
                                return value_error("--parameters: '%s' is not a number of parameters (8000000000)", optarg);
                        arg_given |= OPT_BUNDLE_CREATE;
                        break;
                case ARG_MIN_GPU_MEMORY:
                        r = parse_size_arg("--min-gpu-memory", optarg, &arg_min_gpu_memory);
                        if (r != 0)
                                return r;
                        arg_given |= OPT_BUNDLE_CREATE;
                        break;
                case ARG_COMPATIBLE:
                        if (isempty(optarg))
                                return value_error("--compatible: the version may not be empty");
                        if (strv_extend(&arg_compatible, optarg) < 0)
                                return -ENOMEM;
                        arg_given |= OPT_BUNDLE_CREATE;
                        break;
                case ARG_MODEL:
                        if (isempty(optarg))
                                return value_error("--model: give NAME or NAME@VERSION of an imported model");
                        arg_model = optarg;
                        arg_given |= OPT_MODEL;
                        break;
                case ARG_TRUST_DIR:
                        if (isempty(optarg))
                                return value_error("--trust-dir: the directory may not be empty");
                        arg_trust_dir = optarg;
                        arg_given |= OPT_TRUST_DIR;
                        break;
                case ':':
                        if (optopt == 'o')
                                return usage_error("-o/--output needs a value (table or json)");
                        return usage_error("--%s needs a value", option_name(optopt));
                case '?':
                        /* A long option given a value it does not take ("--force=yes"). */
                        if (optopt >= ARG_VERSION || optopt == 'h')
                                return usage_error("--%s takes no value", option_name(optopt));
                        if (optopt != 0)
                                return usage_error("unknown option '-%c' (see 'arkctl --help')",
                                                   optopt);
                        return usage_error("unknown option '%s' (see 'arkctl --help')",
                                           argv[optind - 1]);
                default:
                        return -EINVAL;
                }
        }
        /* After "--" everything is a positional word. */
        for (; optind < argc; optind++)
                if (strv_extend(&words, argv[optind]) < 0)
                        return -ENOMEM;

        r = find_verb(words, ret_verb, ret_args);
        if (r != 0)
                return r;
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
        return r < 0 ? EXIT_FAILURE : r;
}

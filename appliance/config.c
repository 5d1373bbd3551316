#include <ctype.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/parse-util.h"
#include "basic/string-util.h"
#include "config.h"
#include "pool/pool.h"

/* Where tenant subnets come from when none is asked for: 8,192 /24s, outside the ranges home and
 * office routers and Docker use by default. */
#define DEFAULT_NETWORK_POOL "10.96.0.0/11"
/* 2^30: far above the host's users and /etc/subuid's usual ranges (100000 + 65536 a user). */
#define CONTAINER_ID_BASE_DEFAULT (UINT32_C(1) << 30)

int config_init(ArkConfig *c) {
        *c = (ArkConfig) {
                .stop_timeout_sec = CONFIG_DEFAULT_STOP_TIMEOUT,
                .log_level = LOG_INFO,
                .placement_policy = POOL_POLICY_ARK,
                .network_default = true,
                .network_mtu = 1500,
                .network_ipv6 = true,
                .container_id_base = CONTAINER_ID_BASE_DEFAULT,
                .container_id_count = 65536,
        };
        c->state_dir = strdup(CONFIG_DEFAULT_STATE_DIR);
        c->trust_dir = strdup(CONFIG_DEFAULT_TRUST_DIR);
        c->libvirt_uri = strdup(CONFIG_DEFAULT_LIBVIRT_URI);
        c->domain_type = strdup("auto");
        c->sysfs_root = strdup(CONFIG_DEFAULT_SYSFS_ROOT);
        c->metrics_address = strdup("127.0.0.1:9464");
        c->network_run_dir = strdup("/run/ark/networks");
        c->container_runtime = strdup("/usr/bin/crun");
        c->container_monitor = strdup("/usr/bin/conmon");
        c->container_run_dir = strdup("/run/ark/containers");
        c->container_dir = strdup("/var/lib/ark-containers");
        c->container_dev_root = strdup("/dev");
        c->container_cdi_dir = strdup("/run/cdi");
        c->container_mps_control = strdup("/usr/bin/nvidia-cuda-mps-control");
        c->container_nvml = strdup("libnvidia-ml.so.1");
        c->refused_call_burst = 20;
        {
                char reason[128];
                (void) net_prefix_parse(DEFAULT_NETWORK_POOL, &c->network_pool, reason, sizeof(reason));
        }
        if (!c->state_dir || !c->trust_dir || !c->libvirt_uri || !c->domain_type || !c->sysfs_root ||
            !c->metrics_address || !c->network_run_dir || !c->container_runtime || !c->container_monitor ||
            !c->container_run_dir || !c->container_dir || !c->container_dev_root || !c->container_cdi_dir ||
            !c->container_mps_control || !c->container_nvml) {
                config_done(c);
                return -ENOMEM;
        }
        return 0;
}

void config_done(ArkConfig *c) {
        free(c->state_dir);
        free(c->trust_dir);
        free(c->bus_address);
        free(c->metrics_address);
        free(c->metrics_token_file);
        free(c->placement_workload);
        free(c->libvirt_uri);
        free(c->domain_type);
        free(c->sysfs_root);
        free(c->firmware_code);
        free(c->firmware_vars);
        free(c->management_interface);
        free(c->network_uplink);
        free(c->network_run_dir);
        free(c->container_runtime);
        free(c->container_monitor);
        free(c->container_run_dir);
        free(c->container_dir);
        free(c->container_dev_root);
        free(c->container_cdi_dir);
        free(c->container_mps_control);
        free(c->container_nvml);
        strv_free(c->vfio_at_boot);
        strv_free(c->reserved);
        strv_free(c->image_admin_dirs);
        *c = (ArkConfig) {};
}

static bool arch_is_arm64(const char *arch) {
        return arch && (streq(arch, "aarch64") || streq(arch, "arm64"));
}

const char *config_firmware_code(const ArkConfig *c, const char *arch) {
        if (c->firmware_code)
                return c->firmware_code;
        return arch_is_arm64(arch) ? CONFIG_DEFAULT_FIRMWARE_CODE_AARCH64 : CONFIG_DEFAULT_FIRMWARE_CODE;
}

const char *config_firmware_vars(const ArkConfig *c, const char *arch) {
        if (c->firmware_vars)
                return c->firmware_vars;
        return arch_is_arm64(arch) ? CONFIG_DEFAULT_FIRMWARE_VARS_AARCH64 : CONFIG_DEFAULT_FIRMWARE_VARS;
}

const char *config_domain_type(const ArkConfig *c) {
        if (c->domain_type && !streq(c->domain_type, "auto")) {
                if (streq(c->domain_type, "kvm"))
                        return "kvm";
                if (streq(c->domain_type, "qemu"))
                        return "qemu";
                if (streq(c->domain_type, "test"))
                        return "test";
        }
        if (c->libvirt_uri && startswith(c->libvirt_uri, "test:"))
                return "test";
        return IS_ENABLED(CONFIG_DOMAIN_TYPE_QEMU) ? "qemu" : "kvm";
}

static int parse_log_level(const char *v, int *ret) {
        static const char *const names[] = { "emerg",   "alert",  "crit", "err",
                                             "warning", "notice", "info", "debug" };

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (strcasecmp(v, names[i]) == 0) {
                        *ret = (int) i;
                        return 0;
                }
        return -EINVAL;
}

typedef enum ValueKind {
        VALUE_STRING,     /* any non-empty string */
        VALUE_STRING_OPT, /* empty clears it */
        VALUE_PATH,       /* absolute path */
} ValueKind;

static int set_string(char **field, const char *v, ValueKind kind, const char **reason) {
        if (kind == VALUE_STRING_OPT && isempty(v))
                return free_and_strdup(field, NULL);
        if (isempty(v)) {
                *reason = "must not be empty";
                return -EINVAL;
        }
        if (kind == VALUE_PATH && v[0] != '/') {
                *reason = "must be an absolute path";
                return -EINVAL;
        }
        return free_and_strdup(field, v);
}

/* A list of words separated by spaces (or commas, when `commas`), each checked by `valid`
 * (*reason set from `bad` otherwise); duplicates dropped; empty clears the list. On a bad word
 * nothing changes. */
static int set_word_list(char ***field, const char *v, bool commas, bool (*valid)(const char *),
                         const char *bad, const char **reason) {
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_free_ char *copy = strdup(v);
        const char *seps = commas ? " \t," : " \t";
        char *save = NULL;

        if (!copy)
                return -ENOMEM;
        for (char *w = strtok_r(copy, seps, &save); w; w = strtok_r(NULL, seps, &save)) {
                if (!valid(w)) {
                        *reason = bad;
                        return -EINVAL;
                }
                if (!strv_contains(l, w) && strv_extend(&l, w) < 0)
                        return -ENOMEM;
        }
        strv_free(*field);
        *field = TAKE_PTR(l);
        return 0;
}

/* "0000:18:00.0 0000:2a:00.0": PCI addresses separated by spaces (or commas). */
static int set_address_list(char ***field, const char *v, const char **reason) {
        return set_word_list(field, v, true, pci_address_is_canonical,
                             "must be PCI addresses like 0000:3b:00.0 (lowercase), separated by spaces",
                             reason);
}

static bool directory_is_valid(const char *w) {
        return path_is_normalized_absolute(w) && !streq(w, "/");
}

/* "/srv/images /mnt/usb": absolute directories separated by spaces, without '.' or '..'
 * components (they are compared as text before anything is opened). */
static int set_directory_list(char ***field, const char *v, const char **reason) {
        return set_word_list(field, v, false, directory_is_valid,
                             "must be absolute directories other than '/' without '.' or '..' components, "
                             "separated by spaces",
                             reason);
}

/* As the kernel's dev_valid_name(): 1-15 characters, not "." or "..", no '/', ':' or white space. */
static bool interface_name_is_valid(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n > 15 || streq(s, ".") || streq(s, ".."))
                return false;
        for (const char *p = s; *p; p++)
                if (*p == '/' || *p == ':' || isspace((unsigned char) *p) || (unsigned char) *p < 0x20)
                        return false;
        return true;
}

/* "A.B.C.D:PORT", port 0-65535. */
bool metrics_address_is_valid(const char *s) {
        const char *colon = strrchr(s, ':');
        char ip[INET_ADDRSTRLEN];
        struct in_addr a;
        uint32_t port;

        if (!colon || (size_t) (colon - s) >= sizeof(ip))
                return false;
        memcpy(ip, s, (size_t) (colon - s));
        ip[colon - s] = 0;
        return inet_pton(AF_INET, ip, &a) == 1 && parse_u32(colon + 1, &port) >= 0 && port <= 65535;
}

static int config_assign(ArkConfig *c, const char *section, const char *key, const char *v,
                         const char **reason, bool *known) {
        *known = true;
        if (streq(section, "Daemon")) {
                if (streq(key, "StateDirectory"))
                        return set_string(&c->state_dir, v, VALUE_PATH, reason);
                if (streq(key, "BusAddress"))
                        return set_string(&c->bus_address, v, VALUE_STRING_OPT, reason);
                if (streq(key, "MetricsAddress")) {
                        if (!isempty(v) && !metrics_address_is_valid(v)) {
                                *reason =
                                        "must be an IPv4 address and port (127.0.0.1:9464), or empty for no metrics";
                                return -EINVAL;
                        }
                        return set_string(&c->metrics_address, v, VALUE_STRING_OPT, reason);
                }
                /* Empty: no token, as if unset (the command line's way to turn one off). */
                if (streq(key, "MetricsTokenFile"))
                        return isempty(v) ? free_and_strdup(&c->metrics_token_file, NULL)
                                          : set_string(&c->metrics_token_file, v, VALUE_PATH, reason);
                if (streq(key, "RefusedCallBurst")) {
                        uint32_t u;
                        if (parse_u32(v, &u) < 0 || u > 1000000) {
                                *reason = "must be a number of calls between 0 (no limit) and 1000000";
                                return -EINVAL;
                        }
                        c->refused_call_burst = u;
                        return 0;
                }
                if (streq(key, "LogLevel")) {
                        if (parse_log_level(v, &c->log_level) < 0) {
                                *reason =
                                        "must be one of emerg, alert, crit, err, warning, notice, info, debug";
                                return -EINVAL;
                        }
                        return 0;
                }
        } else if (streq(section, "Hypervisor")) {
                if (streq(key, "URI"))
                        return set_string(&c->libvirt_uri, v, VALUE_STRING, reason);
                if (streq(key, "DomainType")) {
                        if (!streq(v, "auto") && !streq(v, "kvm") && !streq(v, "qemu") &&
                            !streq(v, "test")) {
                                *reason = "must be one of auto, kvm, qemu, test";
                                return -EINVAL;
                        }
                        return free_and_strdup(&c->domain_type, v);
                }
                if (streq(key, "StopTimeoutSec")) {
                        uint32_t u;
                        if (parse_u32(v, &u) < 0 || u < 1 || u > 3600) {
                                *reason = "must be a number of seconds between 1 and 3600";
                                return -EINVAL;
                        }
                        c->stop_timeout_sec = u;
                        return 0;
                }
                if (streq(key, "FirmwareCode"))
                        return set_string(&c->firmware_code, v, VALUE_PATH, reason);
                if (streq(key, "FirmwareVars"))
                        return set_string(&c->firmware_vars, v, VALUE_PATH, reason);
                if (streq(key, "HugePages")) {
                        if (parse_boolean(v, &c->hugepages) < 0) {
                                *reason = "must be yes or no";
                                return -EINVAL;
                        }
                        return 0;
                }
        } else if (streq(section, "Hardware")) {
                if (streq(key, "SysfsRoot"))
                        return set_string(&c->sysfs_root, v, VALUE_PATH, reason);
                if (streq(key, "VfioAtBoot"))
                        return set_address_list(&c->vfio_at_boot, v, reason);
                if (streq(key, "ReservedAccelerators"))
                        return set_address_list(&c->reserved, v, reason);
        } else if (streq(section, "Placement")) {
                if (streq(key, "Policy")) {
                        PoolPolicy pp = pool_policy_from_string(v);

                        if (pp < 0) {
                                *reason = "must be one of ark, fgd, best-fit, first-fit";
                                return -EINVAL;
                        }
                        c->placement_policy = pp;
                        return 0;
                }
                if (streq(key, "Seed")) {
                        uint64_t u;

                        if (parse_u64(v, &u) < 0) {
                                *reason = "must be a whole number (0: the nodes in their own order)";
                                return -EINVAL;
                        }
                        c->placement_seed = u;
                        return 0;
                }
                /* Empty: the built-in workload, as if unset. */
                if (streq(key, "Workload"))
                        return isempty(v) ? free_and_strdup(&c->placement_workload, NULL)
                                          : set_string(&c->placement_workload, v, VALUE_PATH, reason);
        } else if (streq(section, "Images")) {
                if (streq(key, "AdminDirectories"))
                        return set_directory_list(&c->image_admin_dirs, v, reason);
        } else if (streq(section, "Bundles")) {
                if (streq(key, "TrustDirectory"))
                        return set_string(&c->trust_dir, v, VALUE_PATH, reason);
        } else if (streq(section, "Network")) {
                if (streq(key, "ManagementInterface")) {
                        if (!isempty(v) && !interface_name_is_valid(v)) {
                                *reason =
                                        "must be a network interface name (1-15 characters, no '/', ':' or spaces)";
                                return -EINVAL;
                        }
                        return set_string(&c->management_interface, v, VALUE_STRING_OPT, reason);
                }
                if (streq(key, "Uplink")) {
                        if (!isempty(v) && !interface_name_is_valid(v)) {
                                *reason =
                                        "must be a network interface name (1-15 characters, no '/', ':' or spaces)";
                                return -EINVAL;
                        }
                        return set_string(&c->network_uplink, v, VALUE_STRING_OPT, reason);
                }
                if (streq(key, "DefaultTenantNetwork") || streq(key, "TenantIPv6")) {
                        if (parse_boolean(v,
                                          streq(key, "TenantIPv6") ? &c->network_ipv6
                                                                   : &c->network_default) < 0) {
                                *reason = "must be yes or no";
                                return -EINVAL;
                        }
                        return 0;
                }
                if (streq(key, "TenantSubnetPool")) {
                        char why[128];
                        NetPrefix p;

                        if (net_prefix_parse(v, &p, why, sizeof(why)) < 0 || p.addr.family != AF_INET ||
                            p.len > 24) {
                                *reason = "must be an IPv4 prefix of /24 or shorter, such as 10.96.0.0/11";
                                return -EINVAL;
                        }
                        c->network_pool = p;
                        return 0;
                }
                if (streq(key, "RuntimeDirectory"))
                        return set_string(&c->network_run_dir, v, VALUE_PATH, reason);
                if (streq(key, "TenantMTU")) {
                        uint32_t u;

                        if (parse_u32(v, &u) < 0 || u < 576 || u > 9000) {
                                *reason = "must be a number between 576 and 9000";
                                return -EINVAL;
                        }
                        c->network_mtu = u;
                        return 0;
                }
        } else if (streq(section, "Containers")) {
                if (streq(key, "Runtime"))
                        return set_string(&c->container_runtime, v, VALUE_PATH, reason);
                if (streq(key, "Monitor"))
                        return set_string(&c->container_monitor, v, VALUE_PATH, reason);
                if (streq(key, "RuntimeDirectory"))
                        return set_string(&c->container_run_dir, v, VALUE_PATH, reason);
                if (streq(key, "Directory"))
                        return set_string(&c->container_dir, v, VALUE_PATH, reason);
                if (streq(key, "DeviceRoot"))
                        return set_string(&c->container_dev_root, v, VALUE_PATH, reason);
                if (streq(key, "CDIDirectory"))
                        return set_string(&c->container_cdi_dir, v, VALUE_PATH, reason);
                if (streq(key, "MPSControl"))
                        return set_string(&c->container_mps_control, v, VALUE_PATH, reason);
                /* A library name the loader looks up, or a path. */
                if (streq(key, "NVML"))
                        return set_string(&c->container_nvml, v, VALUE_STRING, reason);
                if (streq(key, "HostIdBase") || streq(key, "HostIdsPerTenant")) {
                        bool base = streq(key, "HostIdBase");
                        uint32_t u;

                        /* Above the IDs of the host's own users (and of /etc/subuid's usual
                         * ranges); a tenant needs at least 65536 IDs for an image's users. */
                        if (parse_u32(v, &u) < 0 ||
                            (base ? u < 65536 || u > UINT32_MAX / 2 : u < 65536 || u > (1U << 24))) {
                                *reason = base ? "must be a number between 65536 and 2147483647"
                                               : "must be a number between 65536 and 16777216";
                                return -EINVAL;
                        }
                        *(base ? &c->container_id_base : &c->container_id_count) = u;
                        return 0;
                }
        }
        *known = false;
        return 0;
}

int config_parse_string(ArkConfig *c, const char *name, const char *text, char **ret_error,
                        char **ret_warnings) {
        _cleanup_free_ char *copy = strdup(text), *section = NULL;
        StrBuf warnings = {};
        unsigned line = 0;
        int r = 0;

        if (!copy)
                return -ENOMEM;

        /* strtok_r would skip empty lines and so miscount them; walk the lines by hand. */
        for (char *l = copy, *next; l; l = next) {
                char *s, *eq, *key, *value;
                const char *reason = NULL;
                bool known;

                next = strchr(l, '\n');
                if (next)
                        *next++ = 0;
                line++;
                s = strstrip(l);
                if (*s == 0 || *s == '#' || *s == ';')
                        continue;
                if (*s == '[') {
                        size_t n = strlen(s);
                        if (n < 3 || s[n - 1] != ']') {
                                r = -EINVAL;
                                if (ret_error)
                                        *ret_error = strprintf("%s:%u: malformed section header '%s'", name,
                                                               line, s);
                                break;
                        }
                        s[n - 1] = 0;
                        if (free_and_strdup(&section, s + 1) < 0) {
                                r = -ENOMEM;
                                break;
                        }
                        continue;
                }
                eq = strchr(s, '=');
                if (!eq) {
                        r = -EINVAL;
                        if (ret_error)
                                *ret_error =
                                        strprintf("%s:%u: expected 'Key=value', got '%s'", name, line, s);
                        break;
                }
                *eq = 0;
                key = strstrip(s);
                value = strstrip(eq + 1);
                if (!section) {
                        r = -EINVAL;
                        if (ret_error)
                                *ret_error =
                                        strprintf("%s:%u: '%s' is outside of any section", name, line, key);
                        break;
                }
                r = config_assign(c, section, key, value, &reason, &known);
                if (r == -ENOMEM)
                        break;
                if (r < 0) {
                        if (ret_error)
                                *ret_error = strprintf("%s:%u: invalid %s= in [%s]: '%s' %s", name, line,
                                                       key, section, value, strna(reason));
                        break;
                }
                if (!known)
                        strbuf_printf(&warnings, "%s%s:%u: unknown key '%s' in section [%s], ignoring",
                                      warnings.len > 0 ? "\n" : "", name, line, key, section);
        }

        if (ret_warnings && r >= 0 && warnings.len > 0)
                *ret_warnings = strbuf_steal(&warnings);
        strbuf_done(&warnings);
        return r;
}

int config_parse_file(ArkConfig *c, const char *path, char **ret_error, char **ret_warnings) {
        _cleanup_free_ char *text = NULL;
        int r;

        r = read_full_file(path, &text, NULL);
        if (r < 0)
                return r;
        return config_parse_string(c, path, text, ret_error, ret_warnings);
}

#pragma once

/* arkd configuration: built-in defaults (Kconfig), then /etc/ark/ark.conf (INI, systemd style),
 * then command-line overrides. */

#include <stdbool.h>
#include <stdint.h>

#include "net/netaddr.h"

typedef struct ArkConfig {
        char *state_dir;
        char *bus_address; /* NULL = system bus */
        char *libvirt_uri;
        char *domain_type; /* "auto", "kvm", "qemu", "test" */
        char *sysfs_root;
        char *firmware_code; /* UEFI code for GPU VMs; NULL = the build default for the host's architecture */
        char *firmware_vars;        /* UEFI variable store template; NULL likewise */
        bool hugepages;             /* back GPU VMs' memory with huge pages */
        char *management_interface; /* NIC carrying the management network, NULL = any NIC that is up */
        char **vfio_at_boot;        /* PCI addresses arkd binds to vfio-pci at start-up (with their group) */
        char **reserved;            /* PCI addresses of accelerators kept for the host */
        unsigned stop_timeout_sec;
        int log_level;            /* syslog level */
        char *metrics_address;    /* "127.0.0.1:9464" (port 0: any free port); NULL = no metrics endpoint */
        char *metrics_token_file; /* absolute path of the bearer token /metrics requires; NULL = none */
        char *trust_dir;          /* trusted bundle signing keys (shared/trust.h) */
        char **image_admin_dirs;  /* directories below which admins may name host files by path */
        unsigned
                refused_call_burst; /* refused calls a non-admin may make at once (api-guard.h); 0 = no limit */
        int placement_policy;       /* PoolPolicy (lib/pool/pool.h) GPU VMs are placed by */
        uint64_t placement_seed;    /* the pool's node order (pool_seed()); 0 = by index */
        char *placement_workload;    /* the expected requests (lib/pool/workload.h); NULL = the default */
        bool network_default;        /* each new tenant gets a network "default" (network.h) */
        NetPrefix network_pool;      /* tenant subnets picked when none is asked for come from here */
        char *network_uplink;        /* NAT networks' way out; NULL = the default route's interface */
        unsigned network_mtu;        /* of tenant networks created without one */
        bool network_ipv6;           /* tenant networks get an IPv6 /64 (unique local) */
        char *network_run_dir;       /* dnsmasq's files: a directory its unprivileged user can reach */
        char *container_runtime;     /* the OCI runtime (crun) */
        char *container_monitor;     /* each container's monitor (conmon) */
        char *container_run_dir;     /* the runtime's state: gone at reboot, kept across arkd restarts */
        char *container_dir;         /* containers' bundles, writable layers and logs: a path every component
                              * of which a container's unprivileged root may search (not the state dir) */
        char *container_dev_root;    /* where the GPUs' device nodes are (/dev; tests: mknod'ed ones) */
        char *container_cdi_dir;     /* where arkd writes its CDI specs (/run/cdi) */
        char *container_mps_control; /* nvidia-cuda-mps-control, for GPU shares */
        char *container_nvml;        /* the NVML library (libnvidia-ml.so.1), for MIG */
        uint32_t container_id_base;  /* the first host UID/GID handed to tenants' containers */
        uint32_t container_id_count; /* host UIDs/GIDs per tenant */
} ArkConfig;

/* Whether s is "A.B.C.D:PORT" (MetricsAddress=). */
bool metrics_address_is_valid(const char *s);

/* Fills in the compiled-in defaults. Returns 0 or -ENOMEM. */
int config_init(ArkConfig *c);
void config_done(ArkConfig *c);

/* Parses an INI file into c. A missing file is -ENOENT (callers decide whether that matters).
 * Malformed lines and values are refused: returns -EINVAL and a newly allocated sentence naming
 * file, line and key in *ret_error. Unknown sections and keys are ignored with a warning sentence
 * appended to *ret_warnings (may be NULL). Logs nothing. */
int config_parse_file(ArkConfig *c, const char *path, char **ret_error, char **ret_warnings);
/* Same, from a buffer; `name` is used in messages. Untrusted input: fuzzed. */
int config_parse_string(ArkConfig *c, const char *name, const char *text, char **ret_error,
                        char **ret_warnings);

/* The UEFI firmware (code, variable store template) of GPU VMs on a host of architecture `arch`
 * ("x86_64", "aarch64"): the configured files, or the build default for the architecture. */
const char *config_firmware_code(const ArkConfig *c, const char *arch);
const char *config_firmware_vars(const ArkConfig *c, const char *arch);

/* The libvirt domain type to use: the configured one, or for "auto" "test" on test:// URIs and the
 * Kconfig default otherwise. Static string. */
const char *config_domain_type(const ArkConfig *c);

/* The VM driver: instances of type "vm" as libvirt domains. The operations of driver.h over the
 * connection of hypervisor.c, and the domain XML of a VM from its stored spec (domain-xml.h). */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "basic/log.h"
#include "basic/string-util.h"
#include "bundles.h"
#include "console.h"
#include "domain-xml.h"
#include "driver.h"
#include "hypervisor.h"
#include "instance.h"
#include "manager.h"
#include "network.h"
#include "passthrough.h"
#include "shared/bus-util.h"
#include "virt-util.h"
#include "vm-driver.h"

/* The GPU part of a domain spec: hostdevs for every GPU and its functions, UEFI, the 64-bit
 * window, NUMA binding. Pointers in *spec borrow from the manager's accelerators and from the
 * buffers passed in. -ENODEV when a claimed GPU is not on this host. */
static int vm_gpu_spec(Instance *i, DomainSpec *spec, DomainGpu *gpus,
                       const char *functions[][PASSTHROUGH_FUNCTIONS_MAX], const Accelerator **accels,
                       char **nvram, char nodes[static 16]) {
        Manager *m = i->manager;
        size_t n = strv_length(i->gpus), slots = 0;
        int node;

        if (n > DOMAIN_GPUS_MAX)
                return -E2BIG;
        for (size_t k = 0; k < n; k++) {
                const char *all[PASSTHROUGH_FUNCTIONS_MAX];
                size_t nf;

                accels[k] = manager_find_accelerator(m, i->gpus[k]);
                if (!accels[k])
                        return -ENODEV;
                /* One guest slot per host device (bus:slot), its functions in it as on the host; a
                 * function that two GPUs of one group bring goes once. */
                nf = passthrough_functions(accels[k], all, PASSTHROUGH_FUNCTIONS_MAX);
                for (size_t f = 0; f < nf; f++) {
                        size_t e;
                        bool seen = false;

                        for (e = 0; e < slots && !seen; e++)
                                for (size_t g = 0; g < gpus[e].n_functions && !seen; g++)
                                        seen = streq(gpus[e].functions[g], all[f]);
                        if (seen)
                                continue;
                        for (e = 0; e < slots; e++)
                                if (strneq(gpus[e].functions[0], all[f], 10))
                                        break;
                        if (e == slots) {
                                if (slots == DOMAIN_GPUS_MAX)
                                        return -E2BIG;
                                gpus[slots] = (DomainGpu) { .functions = functions[slots] };
                                slots++;
                        }
                        if (gpus[e].n_functions >= 8)
                                return -E2BIG;
                        functions[e][gpus[e].n_functions++] = all[f];
                }
        }
        spec->gpus = gpus;
        spec->n_gpus = slots;
        spec->mmio64_bytes = passthrough_mmio64_window(accels, n);
        spec->firmware_code = config_firmware_code(&m->config, m->host.arch);
        spec->firmware_vars = config_firmware_vars(&m->config, m->host.arch);
        *nvram = strprintf("%s/nvram/%s_VARS.fd", m->config.state_dir, i->uuid);
        if (!*nvram)
                return -ENOMEM;
        spec->nvram = *nvram;
        spec->hugepages = m->config.hugepages;
        node = passthrough_numa_node(accels, n, &m->host, i->vcpus, i->memory_bytes);
        if (node >= 0) {
                spec->cpuset = m->host.numa[node].cpulist;
                snprintf(nodes, 16, "%d", m->host.numa[node].id);
                spec->memory_nodes = nodes;
        }
        if (!streq(spec->domain_type, "kvm") && !spec->arch)
                spec->phys_bits = passthrough_phys_bits(i->memory_bytes, spec->mmio64_bytes);
        return 0;
}

/* The guest architecture for the builder: NULL (x86_64, the default) or "aarch64". */
static const char *domain_arch(const char *host_arch) {
        return host_arch && (streq(host_arch, "aarch64") || streq(host_arch, "arm64")) ? "aarch64" : NULL;
}

int vm_build_xml(Instance *i, char **ret) {
        DomainGpu gpus[DOMAIN_GPUS_MAX];
        const char *functions[DOMAIN_GPUS_MAX][PASSTHROUGH_FUNCTIONS_MAX];
        const Accelerator *accels[DOMAIN_GPUS_MAX];
        _cleanup_free_ char *nvram = NULL;
        _cleanup_free_ Nic **nics = network_instance_nics(i->manager, i->id);
        DomainNic domain_nics[8];
        char macs[8][NET_MAC_STRLEN];
        char nodes[16];
        int r;
        DomainSpec spec = {
                .name = i->domain_name ?: i->name,
                .uuid = i->uuid,
                .tenant = i->tenant,
                .domain_type = manager_domain_type(i->manager),
                .arch = domain_arch(i->manager->host.arch),
                .vcpus = i->vcpus,
                .memory_bytes = i->memory_bytes,
                .disk_path = i->disk_path,
                .kernel = i->kernel,
                .initrd = i->initrd,
                .cmdline = i->cmdline,
                .console_log = i->console_log,
                .created_usec = i->created_usec,
        };
        const Bundle *model = i->model_id > 0 ? bundle_by_id(i->manager, i->model_id) : NULL;

        spec.model_dir = model ? model->directory : NULL;
        if (!nics)
                return -ENOMEM;
        for (size_t k = 0; nics[k] && k < ELEMENTSOF(domain_nics); k++) {
                domain_nics[k] = (DomainNic) { .bridge = nics[k]->network->bridge,
                                               .mac = net_mac_to_string(nics[k]->mac, macs[k]),
                                               .ifname = nics[k]->ifname,
                                               .mtu = nics[k]->network->mtu };
                spec.n_nics = k + 1;
        }
        spec.nics = domain_nics;

        if (i->gpus) {
                r = vm_gpu_spec(i, &spec, gpus, functions, accels, &nvram, nodes);
                if (r < 0)
                        return r;
        }
        /* The firmware is the instance's, not its GPUs': it stays when they go. */
        if (!i->uefi) {
                spec.firmware_code = spec.firmware_vars = spec.nvram = NULL;
        } else if (!spec.firmware_code) {
                Manager *m = i->manager;

                spec.firmware_code = config_firmware_code(&m->config, m->host.arch);
                spec.firmware_vars = config_firmware_vars(&m->config, m->host.arch);
                nvram = strprintf("%s/nvram/%s_VARS.fd", m->config.state_dir, i->uuid);
                if (!nvram)
                        return -ENOMEM;
                spec.nvram = nvram;
        }
        return domain_xml_build(&spec, ret);
}


/* ---------------------------------------------------------------------------------- operations */

static int vm_name_in_use(Manager *m, const char *name) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        virConnectPtr conn = hypervisor_conn(m);

        if (!conn)
                return -ENOTCONN;
        dom = virDomainLookupByName(conn, name);
        if (!dom) {
                virResetLastError();
                return 0;
        }
        return 1;
}

static int vm_remove(Instance *i, sd_bus_error *error) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        _cleanup_free_ char *what = NULL;
        int r;

        r = hypervisor_require(i->manager, error);
        if (r < 0)
                return r;
        dom = hypervisor_lookup(i->manager, i);
        if (!dom)
                return 0;
        /* A GPU VM's UEFI variables go with it; libvirt versions that do not know a flag refuse
         * the call, so the plain undefine follows. */
        if (virDomainUndefineFlags(dom,
                                   VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
                                           VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
                                           VIR_DOMAIN_UNDEFINE_NVRAM) < 0 &&
            virDomainUndefine(dom) < 0) {
                what = strprintf("Failed to undefine instance '%s'", i->name);
                return hypervisor_error(error, what ?: "Failed to undefine instance");
        }
        return 0;
}

static int vm_start(Instance *i, sd_bus_error *error) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        _cleanup_free_ char *what = NULL;
        int r;

        r = hypervisor_require(i->manager, error);
        if (r < 0)
                return r;
        dom = hypervisor_lookup(i->manager, i);
        if (!dom) {
                log_warning("Domain of instance '%s' is missing on the hypervisor; defining it again.",
                            i->name);
                r = hypervisor_define(i, error);
                if (r < 0)
                        return r;
                dom = hypervisor_lookup(i->manager, i);
                if (!dom)
                        return hypervisor_error(error, "Failed to look up the domain just defined");
        }
        if (virDomainCreate(dom) < 0) {
                what = strprintf("Failed to start instance '%s'", i->name);
                return hypervisor_error(error, what ?: "Failed to start instance");
        }
        return 0;
}

/* The instance's domain into *ret: -ENOTCONN with HypervisorUnavailable without a connection,
 * -ENOENT with NotFound when libvirt has no such domain right now. */
static int vm_domain(Instance *i, virDomainPtr *ret, sd_bus_error *error) {
        int r;

        r = hypervisor_require(i->manager, error);
        if (r < 0)
                return r;
        *ret = hypervisor_lookup(i->manager, i);
        if (!*ret) {
                sd_bus_error_setf(error, ARK_ERROR_NOT_FOUND,
                                  "Instance '%s' has no domain on the hypervisor right now.", i->name);
                return -ENOENT;
        }
        return 0;
}

/* The power button: the guest's ACPI acts on it, or not. libvirt's test driver powers off at
 * once; then this returns 1. */
static int vm_stop(Instance *i, sd_bus_error *error) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        _cleanup_free_ char *what = NULL;
        int r, state, reason;

        r = vm_domain(i, &dom, error);
        if (r < 0)
                return r;
        if (virDomainShutdown(dom) < 0) {
                what = strprintf("Failed to shut down instance '%s'", i->name);
                return hypervisor_error(error, what ?: "Failed to shut down instance");
        }
        if (virDomainGetState(dom, &state, &reason, 0) < 0) {
                virResetLastError();
                return 0;
        }
        return state == VIR_DOMAIN_SHUTOFF;
}

static int vm_force_off(Instance *i, sd_bus_error *error) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        _cleanup_free_ char *what = NULL;
        int r;

        r = vm_domain(i, &dom, error);
        if (r < 0)
                return r;
        if (virDomainIsActive(dom) != 1) {
                virResetLastError();
                return 0;
        }
        if (virDomainDestroy(dom) < 0) {
                what = strprintf("Failed to force off instance '%s'", i->name);
                r = hypervisor_error(error, what ?: "Failed to force off instance");
                /* It may have gone down by itself in the meantime: off is what was asked. */
                if (virDomainIsActive(dom) == 1)
                        return r;
                virResetLastError();
                sd_bus_error_free(error);
        }
        /* virDomainDestroy is synchronous: the domain is off now. */
        return 0;
}

static int vm_get_state(Instance *i, InstanceState *ret) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        int r, state, reason;

        if (!hypervisor_connected(i->manager))
                return -ENOTCONN;
        dom = hypervisor_lookup(i->manager, i);
        if (!dom)
                return -ENOENT;
        if (virDomainGetState(dom, &state, &reason, 0) < 0) {
                r = virt_last_error(NULL);
                virResetLastError();
                return r;
        }
        /* Off means off: a domain with no state is not taken for a stopped one. */
        *ret = state == VIR_DOMAIN_NOSTATE ? INSTANCE_UNKNOWN : hypervisor_instance_state(state);
        return 0;
}

static int vm_describe(Instance *i, char **ret, sd_bus_error *error) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        _cleanup_free_ char *what = NULL;
        char *xml;
        int r;

        r = vm_domain(i, &dom, error);
        if (r < 0)
                return r;
        xml = virDomainGetXMLDesc(dom, 0);
        if (!xml) {
                what = strprintf("Failed to read the XML of '%s'", i->name);
                return hypervisor_error(error, what ?: "Failed to read the domain XML");
        }
        *ret = xml;
        return 0;
}

static int vm_console(Instance *i, int *ret_fd, sd_bus_error *error) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        int r;

        r = vm_domain(i, &dom, error);
        if (r < 0)
                return r;
        return vm_console_open(hypervisor_consoles(i->manager), i->manager->event,
                               hypervisor_conn(i->manager), dom, i->name, ret_fd, error);
}

/* A NIC plugged in or out of the running domain (AFFECT_LIVE: the persistent definition is
 * define()'s). A virtio NIC goes out when the guest lets it go: the call returns before. */
static int vm_nic(Instance *i, const Nic *nic, bool attach, sd_bus_error *error) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        _cleanup_free_ char *xml = NULL, *what = NULL;
        char mac[NET_MAC_STRLEN];
        DomainNic dn = { .bridge = nic->network->bridge,
                         .mac = net_mac_to_string(nic->mac, mac),
                         .ifname = nic->ifname,
                         .mtu = nic->network->mtu };
        int r;

        r = vm_domain(i, &dom, error);
        if (r < 0)
                return r;
        r = domain_xml_nic(&dn, &xml);
        if (r < 0)
                return r;
        if ((attach ? virDomainAttachDeviceFlags(dom, xml, VIR_DOMAIN_AFFECT_LIVE)
                    : virDomainDetachDeviceFlags(dom, xml, VIR_DOMAIN_AFFECT_LIVE)) >= 0)
                return 0;
        r = virt_last_error(NULL);
        if (r == -EOPNOTSUPP) {
                virResetLastError();
                return sd_bus_error_setf(error, ARK_ERROR_NOT_SUPPORTED,
                                         "The hypervisor cannot plug NICs %s running instance '%s'; stop it "
                                         "first.",
                                         attach ? "into" : "out of", i->name);
        }
        what = strprintf("Failed to %s the NIC of network '%s' %s instance '%s'", attach ? "plug" : "unplug",
                         nic->network->name, attach ? "into" : "out of", i->name);
        return hypervisor_error(error, what ?: "Failed to plug a NIC");
}

static int vm_attach_nic(Instance *i, const Nic *nic, sd_bus_error *error) {
        return vm_nic(i, nic, true, error);
}

static int vm_detach_nic(Instance *i, const Nic *nic, sd_bus_error *error) {
        return vm_nic(i, nic, false, error);
}

const InstanceDriver vm_driver = {
        .type = "vm",
        .setup = hypervisor_start,
        .teardown = hypervisor_stop,
        .connected = hypervisor_connected,
        .require = hypervisor_require,
        .reconcile = hypervisor_reconcile,
        .name_in_use = vm_name_in_use,
        .define = hypervisor_define,
        .remove = vm_remove,
        .start = vm_start,
        .stop = vm_stop,
        .force_off = vm_force_off,
        .get_state = vm_get_state,
        .describe = vm_describe,
        .console = vm_console,
        .attach_nic = vm_attach_nic,
        .detach_nic = vm_detach_nic,
};

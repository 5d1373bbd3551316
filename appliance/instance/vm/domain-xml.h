#pragma once

/* The one builder of libvirt domain XML for Ark instances, and the reader of Ark's metadata
 * element in domains found on the hypervisor. Pure string work (libxml2 for parsing); no libvirt
 * connection, no logging. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARK_METADATA_NS "https://ark.dev/xmlns/instance/1"
#define ARK_METADATA_PREFIX "ark"

/* One GPU passed through: its host PCI functions ("0000:18:00.0"), the GPU first, then the other
 * endpoints of its IOMMU group (audio, USB, USB-C), at most 8. They share one slot in the guest,
 * behind a PCIe root port of their own, as the GPU's driver expects its siblings. */
#define DOMAIN_GPUS_MAX 32

typedef struct DomainGpu {
        const char *const *functions;
        size_t n_functions;
} DomainGpu;

/* Everything the builder needs. Strings may be NULL where noted. */
/* A NIC: a virtio interface on a Linux bridge, with the MAC and host-side name arkd chose. */
typedef struct DomainNic {
        const char *bridge; /* the network's bridge */
        const char *mac;    /* "52:54:00:xx:xx:xx" */
        const char *ifname; /* the tap's name on the host */
        unsigned mtu;       /* 0 = the bridge's */
} DomainNic;

typedef struct DomainSpec {
        const char *name;        /* instance name = domain name */
        const char *uuid;        /* instance id, 36-char UUID = domain UUID */
        const char *tenant;      /* tenant name, recorded in the metadata */
        const char *domain_type; /* "kvm", "qemu" or "test" */
        const char *arch;        /* "aarch64" for an arm64 guest (machine 'virt'); NULL = x86_64 (q35) */
        unsigned vcpus;
        uint64_t memory_bytes;   /* rounded down to KiB in the XML */
        const char *disk_path;   /* qcow2 file; NULL = no disk */
        const char *kernel;      /* direct boot; NULL = boot from disk */
        const char *initrd;      /* NULL allowed */
        const char *cmdline;     /* NULL allowed */
        const char *console_log; /* file the serial console is logged to; NULL = none */
        const char *model_dir;   /* an imported model's directory, shared read-only with the guest
                                    * (virtio 9p, mount tag "ark-model"); NULL = none */
        uint64_t created_usec;   /* creation time (CLOCK_REALTIME, µs), recorded in the metadata */
        const DomainNic *nics;   /* tenant networks, in order */
        size_t n_nics;

        /* GPU VMs */
        const DomainGpu *gpus;
        size_t n_gpus;
        uint64_t mmio64_bytes; /* the guest's 64-bit PCI window (pcihole64 + OVMF's aperture); 0 = default */
        const char *firmware_code; /* UEFI (OVMF) code: boots UEFI; NULL = BIOS */
        const char *firmware_vars; /* UEFI variable store template; needs firmware_code */
        const char *nvram;         /* this VM's variable store; needs firmware_code */
        const char *cpuset;        /* host CPUs the vCPUs run on ("0-55,112-167"); NULL = any */
        const char *memory_nodes;  /* host NUMA nodes memory is bound to ("0"); NULL = any */
        bool hugepages;            /* back the memory with huge pages */
        unsigned phys_bits;        /* guest physical address bits where the host's cannot be passed
                                    * through (qemu, test); 0 = the CPU model's default */
} DomainSpec;

/* Builds the domain XML. Returns 0 and a newly allocated string, -EINVAL when a required field is
 * missing (name, uuid, tenant, domain_type, vcpus, memory) or malformed (a PCI address, a CPU or
 * node list, more than 8 functions or 32 GPUs, a NIC without bridge, MAC or name), -ENOMEM on OOM. */
int domain_xml_build(const DomainSpec *spec, char **ret);
/* The <interface> element of one NIC, as in the domain XML (for hot-plugging it). -EINVAL when a
 * field is missing. */
int domain_xml_nic(const DomainNic *n, char **ret);

/* Parses the content of Ark's metadata element as returned by virDomainGetMetadata(...,
 * VIR_DOMAIN_METADATA_ELEMENT, ARK_METADATA_NS, ...), i.e. "<instance><tenant>..</tenant>
 * <id>..</id></instance>" in any namespace prefix. Returns 0 with newly allocated tenant and id,
 * -EBADMSG when the XML is malformed or the fields are missing. Untrusted input: fuzzed. */
int domain_xml_parse_metadata(const char *xml, char **ret_tenant, char **ret_id);

/* The host PCI functions a domain passes through: the source address of every
 * <hostdev mode='subsystem' type='pci'> under <devices>, as "dddd:bb:ss.f" (lowercase), in
 * document order, duplicates dropped. Returns 0 and a NULL-terminated list (NULL when there are
 * none; free with strv_free()), -EBADMSG when the XML is malformed or an address is out of range.
 * Untrusted input (anyone with access to libvirt can define domains): fuzzed. */
int domain_xml_parse_hostdevs(const char *xml, char ***ret);

/* libvirt's domain schema, compiled once. libvirt's VIR_DOMAIN_DEFINE_VALIDATE reads and compiles
 * the schema's files again on every define (about 8 ms, more than the rest of a create); arkd
 * compiles it once and checks each XML it makes against it (a fraction of a millisecond). */
typedef struct DomainSchema DomainSchema;

/* Where libvirt keeps its schemas (libvirt0 on Debian). */
#define DOMAIN_SCHEMA_PATH "/usr/share/libvirt/schemas/domain.rng"

/* Reads and compiles the RelaxNG schema at `path`. Returns 0 and the schema (free with
 * domain_schema_free()), -ENOENT when the file is missing, -EBADMSG when it does not compile.
 * Logs nothing (libxml2's messages are dropped). */
int domain_schema_load(const char *path, DomainSchema **ret);
DomainSchema *domain_schema_free(DomainSchema *s);

/* Checks `xml` against the schema, as libvirt's validating define does. Returns 0 when it is
 * valid, -EBADMSG when it is not (or is not XML) with libxml2's first complaint, "line N: ...",
 * in `reason`; -ENOMEM, -EIO when libxml2 fails otherwise. Logs nothing. */
int domain_schema_validate(DomainSchema *s, const char *xml, char *reason, size_t reason_size);

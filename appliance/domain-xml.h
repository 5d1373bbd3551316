#pragma once

/* The one builder of libvirt domain XML for Ark instances, and the reader of Ark's metadata
 * element in domains found on the hypervisor. Pure string work (libxml2 for parsing); no libvirt
 * connection, no logging. */

#include <stdint.h>

#define ARK_METADATA_NS "https://ark.dev/xmlns/instance/1"
#define ARK_METADATA_PREFIX "ark"

/* Everything the builder needs. Strings may be NULL where noted. */
typedef struct DomainSpec {
        const char *name;          /* instance name = domain name */
        const char *uuid;          /* instance id, 36-char UUID = domain UUID */
        const char *tenant;        /* tenant name, recorded in the metadata */
        const char *domain_type;   /* "kvm", "qemu" or "test" */
        unsigned vcpus;
        uint64_t memory_bytes;     /* rounded down to KiB in the XML */
        const char *disk_path;     /* qcow2 file; NULL = no disk */
        const char *kernel;        /* direct boot; NULL = boot from disk */
        const char *initrd;        /* NULL allowed */
        const char *cmdline;       /* NULL allowed */
        const char *console_log;   /* file the serial console is logged to; NULL = none */
        uint64_t created_usec;     /* creation time (CLOCK_REALTIME, µs), recorded in the metadata */
} DomainSpec;

/* Builds the domain XML. Returns 0 and a newly allocated string, -EINVAL when a required field is
 * missing (name, uuid, tenant, domain_type, vcpus, memory), -ENOMEM on OOM. */
int domain_xml_build(const DomainSpec *spec, char **ret);

/* Parses the content of Ark's metadata element as returned by virDomainGetMetadata(...,
 * VIR_DOMAIN_METADATA_ELEMENT, ARK_METADATA_NS, ...), i.e. "<instance><tenant>..</tenant>
 * <id>..</id></instance>" in any namespace prefix. Returns 0 with newly allocated tenant and id,
 * -EBADMSG when the XML is malformed or the fields are missing. Untrusted input: fuzzed. */
int domain_xml_parse_metadata(const char *xml, char **ret_tenant, char **ret_id);

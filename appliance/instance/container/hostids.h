#pragma once

/* Whether the host IDs containers get are free: a tenant's container root is host UID
 * [Containers] HostIdBase= and up (a range per tenant, handed out upwards). A host user or group
 * whose ID falls there, or a /etc/subuid or /etc/subgid range reaching there (rootless podman, a
 * user's own namespaces), would share its files and processes with a tenant's containers. arkd
 * then runs no containers, and says why. */

#include <stdint.h>

typedef struct HostIdFiles {
        const char *passwd, *group, *subuid, *subgid; /* /etc/... on a host; a missing file is none */
} HostIdFiles;

/* 0 when no account and no subordinate range of the files uses an ID from `base` on; -EEXIST with
 * a sentence naming the first that does (file, name, ID or range); -errno when a file that exists
 * cannot be read. */
int host_ids_check(const HostIdFiles *f, uint32_t base, char **ret_error);

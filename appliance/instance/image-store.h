#pragma once

/* What a caller may name on the host: the one rule for every file an instance's spec points at
 * (Image, Kernel, Initrd), documented in docs/api.md ("Files a caller may name").
 *
 *   - NAME (no '/'): a file of the image store, the tenant's own first
 *     (<state>/images/tenants/<TENANT>/NAME), then the shared ones (<state>/images/NAME). Every
 *     caller who may create instances in the tenant may name these.
 *   - An absolute path: admins only, and only below a directory of [Images] AdminDirectories=
 *     (none by default), never inside arkd's state directory other than the image store.
 *
 * A refusal reads the same whether the path exists or not: a tenant member learns nothing about
 * the host's files, and an admin learns about files outside the allowed directories nothing
 * either. The resolved file is canonical (symbolic links followed, then checked again), a regular
 * file or block device, and readable by arkd. */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

typedef struct Manager Manager;

/* Resolves `value`, given for spec field `field` ("Image") of an instance of `tenant` by a caller
 * who is an admin or not, into the canonical path arkd may use (newly allocated, *ret). Returns 0,
 * or a negative errno with `error` set (InvalidArgument; NotFound for a store name that is not
 * there). Logs nothing. */
int image_store_resolve(Manager *m, const char *tenant, bool admin, const char *field, const char *value,
                        char **ret, sd_bus_error *error);

/* One file of the store, as image_store_foreach() hands it out: the name a spec gives, the tenant
 * whose directory holds it ("" for a shared one), its size in bytes. */
typedef int (*ImageStoreFn)(const char *name, const char *scope, uint64_t size, void *userdata);

/* Calls fn for every file of one directory of the store: tenant `tenant`'s own
 * (<state>/images/tenants/<TENANT>/; scope `tenant`), or with tenant NULL the shared ones
 * (<state>/images/; scope ""). Sorted by name; a file image_store_resolve() would refuse (a bad
 * name, a link that leads out, not a regular file) is left out, and a directory that does not
 * exist has none. Returns 0, the first negative value fn returns, or a negative errno (-EINVAL for
 * a tenant name that is not valid). Logs nothing. */
int image_store_foreach(Manager *m, const char *tenant, ImageStoreFn fn, void *userdata);

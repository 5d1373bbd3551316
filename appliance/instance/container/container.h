#pragma once

/* What instance.c asks of the container driver beyond its table of operations (driver.h): the
 * image a container runs, where its log is, and its tenant's host IDs. Without CONFIG_CONTAINERS
 * there is no container driver, CreateInstance refuses the type, and these are never reached. */

#include <stdint.h>
#include <systemd/sd-bus.h>

typedef struct Manager Manager;

#if IS_ENABLED(CONFIG_CONTAINERS)
/* The imported container image `spec` (NAME or NAME@VERSION) a container of `tenant` runs: the
 * tenant's own before a shared one. 0 with its bundle's store row in *ret_id and "NAME@VERSION"
 * (newly allocated) in *ret_ref; InvalidArgument or NotFound in `error` otherwise. */
int container_image_resolve(Manager *m, const char *tenant, const char *spec, int64_t *ret_id,
                            char **ret_ref, sd_bus_error *error);
/* Where the container of that UUID keeps what it writes (newly allocated; NULL on OOM). */
char *container_log_path(Manager *m, const char *uuid);
/* The tenant's range of host UIDs and GIDs, handed out on first use in the caller's transaction
 * (store_idmap_allocate()). ret_base and ret_count may be NULL. Fills `error` (NoCapacity when
 * the configured IDs are spent) and returns <0 on failure. */
int container_idmap_ensure(Manager *m, const char *tenant, uint32_t *ret_base, uint32_t *ret_count,
                           sd_bus_error *error);
#else
static inline int container_image_resolve(Manager *m, const char *tenant, const char *spec, int64_t *ret_id,
                                          char **ret_ref, sd_bus_error *error) {
        return -EOPNOTSUPP;
}
static inline char *container_log_path(Manager *m, const char *uuid) {
        return NULL;
}
static inline int container_idmap_ensure(Manager *m, const char *tenant, uint32_t *ret_base,
                                         uint32_t *ret_count, sd_bus_error *error) {
        return -EOPNOTSUPP;
}
#endif

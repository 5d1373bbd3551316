#pragma once

/* What instance.c asks of the container driver beyond its table of operations (driver.h): the
 * image a container runs, where its log is, and its tenant's host IDs. Without CONFIG_CONTAINERS
 * there is no container driver, CreateInstance refuses the type, and these are never reached. */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

typedef struct Manager Manager;
typedef struct Instance Instance;
typedef struct InstancePartition InstancePartition;

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
/* MIG instances and shares (container/partitions.h): whether this arkd can give them (NVML is
 * there), else NotReady with the sentence why; making a new container's MIG instance in the
 * create's transaction, undoing that when the create fails after it, and releasing a deleted
 * container's partition (its MIG instance, its GPU's MPS daemon with the last share). */
int container_partitions_require(Manager *m, sd_bus_error *error);
int container_partition_make(Manager *m, Instance *i, bool mig_enable, sd_bus_error *error);
void container_partition_undo(Manager *m, const InstancePartition *part, bool mig_enabled);
void container_partition_release(Manager *m, const InstancePartition *part);
#else
static inline int container_partitions_require(Manager *m, sd_bus_error *error) {
        return sd_bus_error_setf(error, "org.ark.Ark1.Error.NotSupported",
                                 "This arkd is built without containers.");
}
static inline int container_partition_make(Manager *m, Instance *i, bool mig_enable, sd_bus_error *error) {
        return -EOPNOTSUPP;
}
static inline void container_partition_undo(Manager *m, const InstancePartition *part, bool mig_enabled) {
}
static inline void container_partition_release(Manager *m, const InstancePartition *part) {
}
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

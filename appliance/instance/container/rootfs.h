#pragma once

/* A container's root filesystem: an overlay of read-only image layers under a per-container
 * upper layer, mounted on the host for crun to pivot into.
 *
 * The layers' files belong to host root (they were unpacked by arkd), and a container runs in a
 * user namespace where host root is unmapped: seen directly, its whole image would belong to
 * "nobody". So each layer is used through an idmapped mount (open_tree(OPEN_TREE_CLONE) +
 * mount_setattr(MOUNT_ATTR_IDMAP) with a user namespace mapping 0..count-1 to base..), which shows
 * a file owned by host UID u as owned by base+u; the overlay goes over those mounts (overlayfs
 * takes idmapped lower layers since Linux 5.19) and holds private clones of them, so the idmapped
 * mounts are detached again right after. The layers on disk are never chowned, and layers shared
 * by tenants with different ID ranges stay shared. The upper layer is a plain directory owned by
 * the container's root (base:base), so what the container writes belongs to its host UIDs.
 *
 * crun 1.8.1 cannot do this itself: its "idmap" mount option works on bind mounts in mounts[]
 * (checked: a bind of a root-owned layer with "idmap" shows its files as the container's root's),
 * but the OCI root has no such option, and crun does not build overlays of layers.
 *
 * Layout under state_dir: upper/ and work/ (the overlay's), l/<i> (where layer i is attached for
 * the moment of the overlay mount). Nothing here logs. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct RootfsSpec {
        char *const *layers;   /* NULL-terminated absolute directories, lowest first; at least one */
        const char *state_dir; /* per container; created when missing */
        const char *target;    /* the mount point (created when missing) */
        uid_t uid_base;        /* container 0 is this host UID */
        gid_t gid_base;
        uint32_t id_count;
} RootfsSpec;

/* Mounts the overlay on spec->target. 0, or a negative errno with a sentence in *ret_error (when
 * ret_error is not NULL; caller frees): -EINVAL (a bad spec), -ENOENT (a layer missing),
 * -EOPNOTSUPP (the kernel or a layer's file system has no idmapped mounts), -EBUSY (something is
 * mounted on target already), -E2BIG (too many layers for one mount). On failure nothing stays
 * mounted. */
int rootfs_mount(const RootfsSpec *spec, char **ret_error);

/* Whether a file system is mounted on path (path itself, not a parent). */
bool rootfs_is_mounted(const char *path);

/* Unmounts target (lazily when busy). 0 also when nothing was mounted there; a negative errno. */
int rootfs_umount(const char *target);

/* Opens a user namespace whose map sends IDs 0..count-1 to uid_base.. and gid_base.. (for
 * MOUNT_ATTR_IDMAP). Returns the fd (O_CLOEXEC; caller closes) or a negative errno. */
int userns_open_mapped(uid_t uid_base, gid_t gid_base, uint32_t count);

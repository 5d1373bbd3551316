/* A container's root filesystem: idmapped layers under an overlay (rootfs.h). */

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "basic/perm-util.h"
#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "rootfs.h"

int userns_open_mapped(uid_t uid_base, gid_t gid_base, uint32_t count) {
        int sync_pipe[2];
        char path[64], map[64];
        pid_t pid;
        int r, fd;

        if (pipe2(sync_pipe, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                r = -errno;
                safe_close(sync_pipe[0]);
                safe_close(sync_pipe[1]);
                return r;
        }
        if (pid == 0) {
                /* The child only holds the namespace open until the parent has written its maps and
                 * opened it; then it is killed. */
                char c = unshare(CLONE_NEWUSER) < 0 ? 'e' : 'u';
                safe_close(sync_pipe[0]);
                if (write(sync_pipe[1], &c, 1) < 0)
                        _exit(1);
                pause();
                _exit(0);
        }
        safe_close(sync_pipe[1]);
        char c = 0;
        r = read(sync_pipe[0], &c, 1) == 1 && c == 'u' ? 0 : -EPERM;
        safe_close(sync_pipe[0]);
        if (r == 0) {
                snprintf(map, sizeof(map), "0 %u %u\n", (unsigned) uid_base, (unsigned) count);
                snprintf(path, sizeof(path), "/proc/%d/uid_map", (int) pid);
                r = write_string_file(path, map, 0);
        }
        if (r == 0) {
                snprintf(map, sizeof(map), "0 %u %u\n", (unsigned) gid_base, (unsigned) count);
                snprintf(path, sizeof(path), "/proc/%d/gid_map", (int) pid);
                r = write_string_file(path, map, 0);
        }
        fd = -EBADF;
        if (r == 0) {
                snprintf(path, sizeof(path), "/proc/%d/ns/user", (int) pid);
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        r = -errno;
        }
        (void) kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
        return r < 0 ? r : fd;
}

bool rootfs_is_mounted(const char *path) {
        struct stat a, b;
        _cleanup_free_ char *parent = path_join(path, "..");

        /* A different device than the parent's, or the same inode as the parent (a bind of it). */
        if (!parent || stat(path, &a) < 0 || stat(parent, &b) < 0)
                return false;
        return a.st_dev != b.st_dev || a.st_ino == b.st_ino;
}

int rootfs_umount(const char *target) {
        if (!rootfs_is_mounted(target))
                return 0;
        if (umount2(target, UMOUNT_NOFOLLOW) < 0) {
                if (errno != EBUSY)
                        return errno == EINVAL ? 0 : -errno;
                /* Busy (a shell of ours in it): detached now, freed when the last user goes. */
                if (umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
                        return -errno;
        }
        return 0;
}

/* Attaches an idmapped clone of dir at mount point at. */
static int attach_idmapped(const char *dir, int userns_fd, const char *at) {
        _cleanup_close_ int tree =
                open_tree(AT_FDCWD, dir, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
        struct mount_attr attr = {
                .attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID,
                .userns_fd = (uint64_t) userns_fd,
        };

        if (tree < 0)
                return -errno;
        if (mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0)
                return errno == EINVAL || errno == ENOSYS ? -EOPNOTSUPP : -errno;
        if (move_mount(tree, "", AT_FDCWD, at, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                return -errno;
        return 0;
}

int rootfs_mount(const RootfsSpec *spec, char **ret_error) {
        _cleanup_free_ char *upper = NULL, *work = NULL, *ldir = NULL, *opts = NULL;
        _cleanup_close_ int userns = -EBADF;
        size_t n = strv_length(spec->layers);
        size_t attached = 0;
        StrBuf lower = {};
        int r;

        if (n == 0 || !spec->state_dir || !spec->target || spec->uid_base == 0 || spec->gid_base == 0 ||
            spec->id_count == 0)
                return set_error_sentence(ret_error, -EINVAL,
                                          "the root filesystem needs layers and an ID range");
        for (size_t i = 0; i < n; i++) {
                if (!path_is_normalized_absolute(spec->layers[i]))
                        return set_error_sentence(ret_error, -EINVAL, "layer '%s' is not an absolute path",
                                                  printable(spec->layers[i]));
                if (access(spec->layers[i], F_OK) < 0)
                        return set_error_sentence(ret_error, -errno, "layer '%s': %s",
                                                  printable(spec->layers[i]), strerror(errno));
        }
        r = mkdir_p_mode(spec->target, 0755);
        if (r < 0)
                return set_error_sentence(ret_error, r, "cannot make the mount point '%s': %s", spec->target,
                                          strerror(-r));
        if (rootfs_is_mounted(spec->target))
                return set_error_sentence(ret_error, -EBUSY, "'%s' is mounted already", spec->target);

        upper = path_join(spec->state_dir, "upper");
        work = path_join(spec->state_dir, "work");
        ldir = path_join(spec->state_dir, "l");
        if (!upper || !work || !ldir)
                return -ENOMEM;
        /* Root's alone: the overlay reaches its layers with the mounter's rights, the container
         * its files through the mount point, and nobody else of the host goes in. */
        r = 0;
        {
                const char *dirs[] = { spec->state_dir, upper, work, ldir };
                for (size_t i = 0; i < ELEMENTSOF(dirs) && r == 0; i++)
                        r = mkdir_p_mode(dirs[i], i == 0 ? 0700 : 0755);
        }
        if (r == 0 && chmod(spec->state_dir, 0700) < 0)
                r = -errno;
        if (r < 0)
                return set_error_sentence(ret_error, r, "cannot make '%s': %s", spec->state_dir,
                                          strerror(-r));
        /* The overlay's root is the upper directory's: owned by the container's root. */
        if (chown(upper, spec->uid_base, spec->gid_base) < 0 ||
            chown(work, spec->uid_base, spec->gid_base) < 0)
                return set_error_sentence(ret_error, -errno, "cannot give '%s' to UID %u: %s", upper,
                                          (unsigned) spec->uid_base, strerror(errno));

        userns = userns_open_mapped(spec->uid_base, spec->gid_base, spec->id_count);
        if (userns < 0)
                return set_error_sentence(ret_error, userns,
                                          "cannot make a user namespace for the ID map: %s",
                                          strerror(-userns));

        /* overlayfs lists lower layers top first. */
        for (size_t i = n; i-- > 0;) {
                _cleanup_free_ char *at = strprintf("%s/%zu", ldir, i);

                if (!at)
                        goto oom;
                if (mkdir(at, 0755) < 0 && errno != EEXIST) {
                        r = set_error_sentence(ret_error, -errno, "cannot make '%s': %s", at,
                                               strerror(errno));
                        goto fail;
                }
                r = attach_idmapped(spec->layers[i], userns, at);
                if (r < 0) {
                        r = set_error_sentence(ret_error, r,
                                               "cannot make an idmapped mount of layer '%s': %s",
                                               printable(spec->layers[i]), strerror(-r));
                        goto fail;
                }
                attached++;
                strbuf_printf(&lower, "%s%s", i == n - 1 ? "" : ":", at);
        }
        if (lower.oom)
                goto oom;
        opts = strprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower.buf, upper, work);
        if (!opts)
                goto oom;
        if (strlen(opts) >= 4096) {
                r = set_error_sentence(ret_error, -E2BIG, "%zu layers are too many for one overlay mount",
                                       n);
                goto fail;
        }
        if (mount("overlay", spec->target, "overlay", MS_NODEV | MS_NOSUID, opts) < 0) {
                r = set_error_sentence(ret_error, -errno, "cannot mount the overlay on '%s': %s",
                                       spec->target, strerror(errno));
                goto fail;
        }
        r = 0;
        goto out;
oom:
        r = -ENOMEM;
fail:
out:
        /* The overlay keeps private clones of its layers: the attached idmapped mounts go. Only
         * emptied mount points are removed (rmdir, never a recursive remove that could reach into
         * a layer still attached). */
        for (size_t i = n; i-- > n - attached;) {
                _cleanup_free_ char *at = strprintf("%s/%zu", ldir, i);
                if (at && umount2(at, MNT_DETACH) == 0)
                        (void) rmdir(at);
        }
        (void) rmdir(ldir);
        strbuf_done(&lower);
        return r;
}

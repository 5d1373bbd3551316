#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/macro.h"
#include "basic/spawn-util.h"
#include "basic/string-util.h"
#include "disk.h"

static uint32_t be32(const uint8_t *p) {
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p) {
        return (uint64_t) be32(p) << 32 | be32(p + 4);
}

int disk_parse_header(const uint8_t *buf, size_t n, uint64_t file_size, DiskImage *ret,
                      const char **ret_reason) {
        const char *reason = NULL;

        if (n >= 4 && memcmp(buf, "QFI\xfb", 4) == 0) {
                /* qcow2 header (big-endian): magic, version, backing_file_offset (8),
                 * backing_file_size, cluster_bits, size (8), crypt_method. */
                uint32_t version, cluster_bits, crypt;
                uint64_t size;

                if (n < 72)
                        reason = "truncated qcow2 header";
                else if ((version = be32(buf + 4)) != 2 && version != 3)
                        reason = "qcow2 version other than 2 or 3";
                else if (be64(buf + 8) != 0 || be32(buf + 16) != 0)
                        reason =
                                "qcow2 image with a backing file of its own (flatten it with 'qemu-img convert')";
                else if ((cluster_bits = be32(buf + 20)) < 9 || cluster_bits > 21)
                        reason = "qcow2 header with an invalid cluster size";
                else if ((crypt = be32(buf + 32)) != 0)
                        reason = "encrypted qcow2 image";
                else if ((size = be64(buf + 24)) < DISK_IMAGE_MIN || size % 512 != 0)
                        reason =
                                "qcow2 image whose virtual size is not a whole number of 512-byte sectors of at least 1 MiB";
                else {
                        *ret = (DiskImage) { .format = "qcow2", .virtual_size = size };
                        return 0;
                }
        } else if (file_size < DISK_IMAGE_MIN || file_size % 512 != 0)
                reason =
                        "not a qcow2 image, and too small or not a whole number of 512-byte sectors for a raw one";
        else {
                *ret = (DiskImage) { .format = "raw", .virtual_size = file_size };
                return 0;
        }
        if (ret_reason)
                *ret_reason = reason;
        return -EMEDIUMTYPE;
}

int disk_image_inspect(const char *path, DiskImage *ret, const char **ret_reason) {
        _cleanup_close_ int fd = -EBADF;
        uint8_t buf[DISK_HEADER_SIZE];
        struct stat st;
        uint64_t size;
        ssize_t n;

        if (ret_reason)
                *ret_reason = NULL;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISBLK(st.st_mode)) {
                off_t end = lseek(fd, 0, SEEK_END);
                if (end < 0 || lseek(fd, 0, SEEK_SET) < 0)
                        return -errno;
                size = (uint64_t) end;
        } else
                size = (uint64_t) st.st_size;
        n = pread(fd, buf, sizeof(buf), 0);
        if (n < 0)
                return -errno;
        return disk_parse_header(buf, (size_t) n, size, ret, ret_reason);
}

int disk_create_qcow2(const char *path, uint64_t size, const char *backing, const char *backing_format,
                      char **ret_message) {
        _cleanup_free_ char *output = NULL;
        _cleanup_close_ int fd = -EBADF;
        char sizebuf[32];
        const char *fmt = backing_format ?: "raw";
        char *argv[12];
        size_t n = 0;
        int r;

        argv[n++] = (char *) "qemu-img";
        argv[n++] = (char *) "create";
        argv[n++] = (char *) "-q";
        argv[n++] = (char *) "-f";
        argv[n++] = (char *) "qcow2";
        if (backing) {
                argv[n++] = (char *) "-b";
                argv[n++] = (char *) backing;
                argv[n++] = (char *) "-F";
                argv[n++] = (char *) fmt;
        }
        argv[n++] = (char *) path;
        if (size > 0) {
                snprintf(sizebuf, sizeof(sizebuf), "%" PRIu64, size);
                argv[n++] = sizebuf;
        }
        argv[n] = NULL;

        r = spawn_wait(argv, &output);
        if (r == -ENOENT) {
                if (ret_message)
                        *ret_message = strdup("qemu-img is not installed (Debian package qemu-utils)");
                return r;
        }
        if (r < 0)
                return r;
        if (r != 0) {
                (void) unlink(path);
                if (ret_message)
                        *ret_message =
                                strprintf("qemu-img failed: %s",
                                          isempty(output) ? "no message" : strip_final_period(output));
                return -EIO;
        }
        /* A VM's disk is root's alone (libvirt hands it to QEMU's user while the VM runs), whatever
         * the umask qemu-img ran with. Through an fd that did not follow a link. */
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 || fchmod(fd, 0600) < 0) {
                r = -errno;
                (void) unlink(path);
                if (ret_message)
                        *ret_message = strprintf("cannot make '%s' private: %s", path, strerror(-r));
                return r;
        }
        return 0;
}

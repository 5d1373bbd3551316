#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "basic/macro.h"
#include "basic/spawn-util.h"
#include "basic/string-util.h"
#include "disk.h"

int disk_probe_format(const char *path, const char **ret_format) {
        _cleanup_close_ int fd = -EBADF;
        unsigned char magic[4];
        ssize_t n;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        n = read(fd, magic, sizeof(magic));
        if (n < 0)
                return -errno;
        *ret_format = (n == 4 && memcmp(magic, "QFI\xfb", 4) == 0) ? "qcow2" : "raw";
        return 0;
}

int disk_create_qcow2(const char *path, uint64_t size, const char *backing, char **ret_message) {
        _cleanup_free_ char *output = NULL;
        char sizebuf[32];
        const char *fmt = NULL;
        char *argv[12];
        size_t n = 0;
        int r;

        if (backing) {
                r = disk_probe_format(backing, &fmt);
                if (r < 0) {
                        if (ret_message)
                                *ret_message = strprintf("cannot read base image '%s': %s", backing, strerror(-r));
                        return r;
                }
        }

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
                        *ret_message = strprintf("qemu-img failed: %s", isempty(output) ? "no message" : output);
                return -EIO;
        }
        return 0;
}

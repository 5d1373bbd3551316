/* libFuzzer target for disk_parse_header(): the first bytes of a base image, which an admin or a
 * tenant names and which may come from anywhere (a USB stick, a download, a host file). Beyond
 * the sanitizers, checks the contract: an accepted image has a known format and a virtual size of
 * whole sectors of at least 1 MiB, a refused one leaves the output alone and gives a reason. */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "disk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        DiskImage img = { .format = NULL, .virtual_size = 12345 };
        const char *reason = NULL;
        uint64_t file_size;
        size_t n;
        int r;

        /* The first 8 bytes choose the file's size; the rest is its start. */
        if (size < 8)
                return 0;
        memcpy(&file_size, data, 8);
        data += 8;
        size -= 8;
        n = size < DISK_HEADER_SIZE ? size : DISK_HEADER_SIZE;

        r = disk_parse_header(data, n, file_size, &img, &reason);
        if (r == 0) {
                if (!img.format || (strcmp(img.format, "qcow2") != 0 && strcmp(img.format, "raw") != 0))
                        abort();
                if (img.virtual_size < DISK_IMAGE_MIN || img.virtual_size % 512 != 0)
                        abort();
                if (strcmp(img.format, "raw") == 0 && img.virtual_size != file_size)
                        abort();
                if (reason)
                        abort();
        } else {
                if (r != -EMEDIUMTYPE || !reason || !*reason)
                        abort();
                if (img.format || img.virtual_size != 12345)
                        abort();
        }
        return 0;
}

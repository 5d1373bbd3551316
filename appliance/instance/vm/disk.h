#pragma once

/* Instance disks: qcow2 files Ark creates with qemu-img under <state>/disks, and the base images
 * they are overlays on. */

#include <stddef.h>
#include <stdint.h>

/* What Ark needs to know of a base image before it builds an overlay on it. */
typedef struct DiskImage {
        const char *format;    /* "qcow2" or "raw" (static) */
        uint64_t virtual_size; /* bytes the guest sees */
} DiskImage;

/* Bytes of an image's start that disk_parse_header() looks at. */
#define DISK_HEADER_SIZE 512
/* The smallest base image Ark accepts (a raw image is at least this and a multiple of 512). */
#define DISK_IMAGE_MIN (1ULL << 20)

/* Decides from the first bytes of a file (n may be less than DISK_HEADER_SIZE for short files)
 * and its size whether it is a usable base image: a qcow2 (version 2 or 3, sane cluster size,
 * no backing file of its own, not encrypted) or a raw image (a whole number of 512-byte sectors,
 * at least DISK_IMAGE_MIN). Returns 0 and fills *ret, or -EMEDIUMTYPE with a static reason
 * ("qcow2 image with a backing file of its own") in *ret_reason. Pure; untrusted input: fuzzed. */
int disk_parse_header(const uint8_t *buf, size_t n, uint64_t file_size, DiskImage *ret,
                      const char **ret_reason);

/* Reads path and runs disk_parse_header() on it. Returns 0, -EMEDIUMTYPE (reason as above) or
 * the negative errno of a failed open/read (reason NULL). Does not log. */
int disk_image_inspect(const char *path, DiskImage *ret, const char **ret_reason);

/* Creates a qcow2 image at path, mode 0600: empty of `size` bytes, or an overlay on `backing` (a
 * file disk_image_inspect() accepted, of format backing_format; sized `size` when non-zero, else
 * as the backing file). Returns 0, or a negative errno with a newly allocated sentence (without a
 * final period) in *ret_message. Does not log. */
int disk_create_qcow2(const char *path, uint64_t size, const char *backing, const char *backing_format,
                      char **ret_message);

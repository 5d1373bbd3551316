#pragma once

/* Instance disks: qcow2 files Ark creates with qemu-img under <state>/disks. */

#include <stdint.h>

/* Creates a qcow2 image at path: empty of `size` bytes, or an overlay on `backing` (sized `size`
 * when non-zero, else as the backing file). Returns 0, or a negative errno with a newly allocated
 * sentence from qemu-img in *ret_message. Does not log. */
int disk_create_qcow2(const char *path, uint64_t size, const char *backing, char **ret_message);

/* "qcow2" or "raw", from the file's magic. Negative errno when unreadable. */
int disk_probe_format(const char *path, const char **ret_format);

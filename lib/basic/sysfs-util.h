#pragma once

/* Reading sysfs attributes below a configurable root, so the real scanner runs against fixture
 * trees in tests. libc only; nothing here logs. Paths are relative to the root ("sys/bus/pci"). */

#include <stdint.h>

/* Newly allocated "<root>/<rel>". */
char *sysfs_path(const char *root, const char *rel);
/* The attribute's first line, whitespace-stripped. -ENOENT when absent. */
int sysfs_read_string(const char *root, const char *rel, char **ret);
/* An integer attribute: "0x10de" (hex) or "-1" / "16" (decimal). */
int sysfs_read_i64(const char *root, const char *rel, int64_t *ret);
/* The last path component of a symlink's target ("driver" -> "nvidia"). */
int sysfs_read_link_basename(const char *root, const char *rel, char **ret);
/* Writes an attribute (no create, no truncate semantics; like echo > attr). */
int sysfs_write_string(const char *root, const char *rel, const char *value);

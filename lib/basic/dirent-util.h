#pragma once

/* Directory listing helpers. libc only; nothing here logs. */

/* Lists the entry names of the directory at path, without "." and "..", sorted with strcmp().
 * Returns 0 and a NULL-terminated string vector in *ret (never NULL; empty for an empty
 * directory; caller frees with strv_free()), or a negative errno: -ENOENT when path does not
 * exist, -ENOTDIR when it is not a directory, -ENOMEM. *ret is written only on success. */
int dir_list_names(const char *path, char ***ret);

#pragma once

/* File helpers. libc only; nothing here logs. */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* For _cleanup_: unlinks the file named *p (when set), then frees the name; errors ignored. For a
 * temporary file that goes whichever way the function returns. */
void unlink_and_freep(char **p);

/* Reads a whole file (up to 64 MiB) into a NUL-terminated buffer. */
int read_full_file(const char *path, char **ret, size_t *ret_size);
/* Reads the first line without its newline. */
int read_one_line_file(const char *path, char **ret);
/* Writes s to path. With WRITE_ATOMIC, through a temporary file + fsync + rename; otherwise
 * opened O_WRONLY without O_CREAT|O_TRUNC semantics beyond what flags say (sysfs attributes). */
typedef enum WriteFlags {
        WRITE_CREATE = 1 << 0,
        WRITE_ATOMIC = 1 << 1,
        WRITE_NEWLINE = 1 << 2,
} WriteFlags;
int write_string_file(const char *path, const char *s, WriteFlags flags);
/* Writes all l bytes of buf to fd, again after EINTR and short writes. 0 or -errno. */
int loop_write(int fd, const void *buf, size_t l);
/* mkdir -p with mode for created components. -ENOTDIR if the path or a component exists and is
 * not a directory. Does not log. */
int mkdir_p(const char *path, mode_t mode);
/* Joins path components with exactly one '/' between them. NULL on OOM. */
char *path_join(const char *a, const char *b);
/* Whether p is absolute with no empty, '.' or '..' component and no trailing '/' ("/" itself is). */
bool path_is_normalized_absolute(const char *p);
/* Whether path lies strictly below directory dir, compared as text (both normalized absolute). */
bool path_is_below(const char *path, const char *dir);
/* Removes a directory tree (no symlink following). */
int rm_rf(const char *path);
bool file_exists(const char *path);

/* Takes an exclusive advisory lock (flock) on path, creating it (mode 0600), and records our PID in it.
 * Returns the open fd (O_CLOEXEC; the lock lives as long as it does). -EBUSY when another process
 * holds it, with that process's PID (from the file; 0 if unknown) in *ret_holder. */
int lock_pid_file(const char *path, pid_t *ret_holder);

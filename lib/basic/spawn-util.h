#pragma once

/* Running helper programs (qemu-img) synchronously, and setting up a forked child before its
 * exec. libc only; nothing here logs. */

#include <stdbool.h>

/* Runs argv[0] (searched in PATH) with argv, stdin from /dev/null, stdout discarded, and waits.
 * Returns the exit status (0..255), -ENOENT when the program does not exist, or a negative errno.
 * When ret_output is non-NULL it receives what the program wrote to stderr (at most 4 KiB,
 * whitespace-stripped). */
int spawn_wait(char *const argv[], char **ret_output);

/* In a forked child (only async-signal-safe calls: the parent may have threads): every signal's
 * handling back to the default and none blocked (a blocked SIGTERM would be inherited). */
void child_reset_signals(void);
/* In a forked child: fds[0..2] become 0, 1 and 2 (-1: /dev/null), fd3 (when >= 0) becomes 3,
 * close-on-exec when `fd3_cloexec`, and every other descriptor is closed. Each goes through a
 * copy above them all first, so one may already sit where another goes. _exit(126) on failure. */
void child_move_fds(const int fds[3], int fd3, bool fd3_cloexec);

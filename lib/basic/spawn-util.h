#pragma once

/* Running helper programs (qemu-img) synchronously. libc only; nothing here logs. */

/* Runs argv[0] (searched in PATH) with argv, stdin from /dev/null, stdout discarded, and waits.
 * Returns the exit status (0..255), -ENOENT when the program does not exist, or a negative errno.
 * When ret_output is non-NULL it receives what the program wrote to stderr (at most 4 KiB,
 * whitespace-stripped). */
int spawn_wait(char *const argv[], char **ret_output);

#pragma once

/* Imports of signed bundles (bundles.h has the whole story): one worker thread per import, at most
 * 4 at once and 2 for a caller who is not an admin. */

#include <stdint.h>
#include <systemd/sd-bus.h>

typedef struct Caller Caller;
typedef struct Manager Manager;

/* Starts importing the bundle open on fd (a regular file; arkd reads a copy of the descriptor) for
 * `tenant` ("" = shared), as asked by msg from caller c, who is allowed to. `name` is what the caller
 * calls the file (messages only). Returns 1: msg is answered when the import ends; < 0 with `error`
 * set on a refusal (too many imports, not a regular file, no staging directory). */
int bundle_import_start(Manager *m, sd_bus_message *msg, const Caller *c, int fd, const char *name,
                        const char *tenant, sd_bus_error *error);
/* Asks import `id` to stop (its call then fails with Cancelled). -ENOENT when c has no such import
 * in progress (another user's counts as none, unless c is an admin). */
int bundle_import_cancel(Manager *m, uint32_t id, const Caller *c);

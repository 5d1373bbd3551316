#pragma once

/* A support bundle for the vendor: what the appliance is and what it said, without secrets. A
 * tar.gz with inventory.json (arkd's view: the manager, accelerators, tenants, instances, tenant
 * networks, bundles and the passthrough checks), a text file per console screen (screens/),
 * log.txt, and the configuration files given, with the values of keys that could hold secrets
 * (password, secret, token, key) removed. Written through a temporary file that is renamed into
 * place. */

#include "logs.h"
#include "model.h"
#include "screens.h"

/* files: NULL-terminated paths to include as config/<basename>; missing ones are skipped. */
/* base: the screens' state (network, media, ...) as the console has it; each screen drawn from it. */
int support_bundle_write(const char *path, const TuiModel *m, const ScreenState *base, const LogView *logs,
                         char *const *files, char **ret_error);

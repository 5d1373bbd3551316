/* libFuzzer target for manifest_parse() (lib/shared/manifest.c): the manifest.json of a bundle,
 * which arkd parses before it checks the signature (the manifest names the key to check it with),
 * so its bytes come from whoever made the USB stick. Beyond the sanitizers it checks the contract:
 * a refusal carries a sentence and no manifest; an accepted manifest passes manifest_validate(),
 * its canonical text parses again to the same files, and every path passes the path rules. */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "shared/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Manifest *m = NULL, *again = NULL;
        char *err = NULL, *text = NULL;
        int r = manifest_parse((const char *) data, size, &m, &err);

        if (r < 0) {
                if ((r != -EINVAL && r != -ENOMEM) || m || (r == -EINVAL && !err))
                        abort();
                free(err);
                return 0;
        }
        if (!m || err || manifest_validate(m, &err) < 0)
                abort();
        for (size_t k = 0; k < m->n_files; k++)
                if (manifest_check_path(m->files[k].path) ||
                    manifest_find(m, m->files[k].path) != &m->files[k])
                        abort();
        if (manifest_format(m, &text) < 0)
                abort();
        if (manifest_parse(text, strlen(text), &again, &err) < 0 || again->n_files != m->n_files ||
            again->total_bytes != m->total_bytes || strcmp(again->name, m->name) != 0)
                abort();
        for (size_t k = 0; k < m->n_files; k++)
                if (strcmp(again->files[k].path, m->files[k].path) != 0 ||
                    again->files[k].size != m->files[k].size ||
                    strcmp(again->files[k].sha256, m->files[k].sha256) != 0)
                        abort();
        free(text);
        manifest_free(again);
        manifest_free(m);
        return 0;
}

/* libFuzzer target for seed_parse() (firmware/seed.c): seed.conf comes from a USB stick that
 * ark-seed reads as root on first boot. Beyond the sanitizers it checks the contract: a refusal
 * carries a sentence naming the line (or the file) and leaves nothing; an accepted seed holds only
 * values the checks let through (a valid host name, OpenSSH keys, relative key paths). */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../firmware/seed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Seed s = {};
        char *err = NULL;
        int r = seed_parse((const char *) data, size, &s, &err);

        if (r < 0) {
                if ((r != -EINVAL && r != -ENOMEM) ||
                    (r == -EINVAL && (!err || !strstr(err, "seed.conf"))) || s.n_admin_keys ||
                    s.n_trust_keys)
                        abort();
                free(err);
                return 0;
        }
        if (err)
                abort();
        if (s.hostname[0] && hostname_invalid_reason(s.hostname))
                abort();
        for (size_t k = 0; k < s.n_admin_keys; k++)
                if (ssh_key_invalid_reason(s.admin_keys[k]) || strchr(s.admin_keys[k], '\n'))
                        abort();
        for (size_t k = 0; k < s.n_trust_keys; k++) {
                const char *t = s.trust_keys[k];

                if (t[0] == '/' || strstr(t, "/../") || strncmp(t, "../", 3) == 0 || strcmp(t, "..") == 0 ||
                    (strlen(t) >= 3 && strcmp(t + strlen(t) - 3, "/..") == 0))
                        abort();
        }
        seed_done(&s);
        return 0;
}

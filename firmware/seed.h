#pragma once

/* seed.conf (docs/flashing.md): an integrator's settings on a partition labelled ARK-SEED, applied
 * once on first boot by ark-seed. KEY=VALUE lines, '#' comments; every key optional, AdminKey= and
 * TrustKey= may repeat. The file comes from whoever made the stick: the parser refuses anything
 * it does not know, with the line and the reason, and applies nothing then. Pure: no I/O. */

#include <stddef.h>

#include "basic/netconf.h"

#define SEED_MAX_SIZE (64 * 1024)
#define SEED_MAX_KEYS 32

typedef struct Seed {
        char hostname[254];
        NetConf net; /* iface "" = the first physical NIC at apply time */
        int has_net; /* Address= (static) or DHCP=yes given */
        char locale[64];
        char *admin_keys[SEED_MAX_KEYS];
        size_t n_admin_keys;
        char *trust_keys[SEED_MAX_KEYS]; /* paths relative to the seed partition */
        size_t n_trust_keys;
} Seed;

/* 0, or -EINVAL with "seed.conf line N: reason" in *ret_error (-ENOMEM). */
int seed_parse(const char *text, size_t n, Seed *ret, char **ret_error);
void seed_done(Seed *s);
/* NULL when the OpenSSH public key line is acceptable (type, base64 body, printable comment). */
const char *ssh_key_invalid_reason(const char *line);

#pragma once

/* The keys bundles may be signed with: a directory (TrustDirectory=, /etc/ark/trust.d by default)
 * holding one PEM public key per file, named <key id>.pub, and a revocation list `revoked.list`
 * (one key id per line, '#' comments). A revoked key is refused even while its file is still there.
 * Changes are atomic (temporary file, fsync, rename). Nothing here logs. */

#include <stdbool.h>
#include <stddef.h>

#include "shared/crypto.h"

#define TRUST_REVOKED_FILE "revoked.list"

typedef struct TrustedKey {
        char id[KEY_ID_HEX];
        bool revoked;
        bool present; /* its .pub file is there (a revoked id may have none) */
} TrustedKey;

/* The key with that id: -ENOKEY when unknown, -EKEYREVOKED when revoked, -EBADMSG when its file
 * holds another key; a sentence naming the key id in *ret_error. */
int trust_lookup(const char *dir, const char *key_id, ArkKey **ret, char **ret_error);
/* Every key in the directory and every revoked id, sorted by id. A missing directory is empty. */
int trust_list(const char *dir, TrustedKey **ret, size_t *ret_n, char **ret_error);
/* Adds the PEM public key (name for messages): -EEXIST when its id is already trusted,
 * -EKEYREVOKED when it is revoked. Creates the directory when missing. */
int trust_add(const char *dir, const char *name, const char *pem, size_t n, char ret_id[static KEY_ID_HEX],
              char **ret_error);
/* -ENOENT when no such key file. */
int trust_remove(const char *dir, const char *key_id, char **ret_error);
/* Puts the id on the revocation list (whether or not its key is there); -EALREADY when it is on it. */
int trust_revoke(const char *dir, const char *key_id, char **ret_error);
bool trust_is_revoked(const char *dir, const char *key_id);

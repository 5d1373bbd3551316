#pragma once

/* Hashing and signatures for bundles, over OpenSSL's libcrypto: SHA-256, and Ed25519 keys with
 * their Ark key ids. Keys are PEM files (PKCS#8 private, SubjectPublicKeyInfo public, so that
 * `openssl pkey` reads them too); a key id is the first 8 bytes of the SHA-256 of the raw 32-byte
 * public key, as 16 lowercase hex digits. Errors come back as -errno and, where a sentence helps,
 * a newly allocated one in *ret_error naming the file. Nothing here logs. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHA256_BYTES 32
#define SHA256_HEX (2 * SHA256_BYTES + 1)
#define ED25519_SIG_BYTES 64
#define ED25519_PUBLIC_BYTES 32
#define KEY_ID_HEX 17 /* 16 hex digits and the NUL */

typedef struct Sha256 {
        void *ctx; /* EVP_MD_CTX */
} Sha256;

int sha256_init(Sha256 *s);
int sha256_update(Sha256 *s, const void *p, size_t n);
/* Finishes and frees the context. */
int sha256_final(Sha256 *s, uint8_t out[static SHA256_BYTES]);
void sha256_done(Sha256 *s);
/* One buffer at once. */
int sha256_buffer(const void *p, size_t n, uint8_t out[static SHA256_BYTES]);

/* Lowercase hex of n bytes into out (2n + 1 bytes). */
void hex_encode(const uint8_t *p, size_t n, char *out);
/* Whether s is exactly n lowercase hex digits. */
bool is_lower_hex(const char *s, size_t n);

typedef struct ArkKey ArkKey; /* an Ed25519 key, public only or with its private half */

void ark_key_free(ArkKey *k);
static inline void ark_key_freep(ArkKey **k) {
        if (*k)
                ark_key_free(*k);
}

/* Writes PREFIX.key (the private key, mode 0600) and PREFIX.pub. Neither may exist yet (-EEXIST);
 * nothing is left behind on failure. The new key's id in ret_id. */
int ark_key_generate(const char *prefix, char ret_id[static KEY_ID_HEX], char **ret_error);
/* A private key file; refused when others can read it. */
int ark_key_load_private(const char *path, ArkKey **ret, char **ret_error);
/* A public key from PEM text (name is for messages), or from a file. */
int ark_key_parse_public(const char *name, const char *pem, size_t n, ArkKey **ret, char **ret_error);
int ark_key_load_public(const char *path, ArkKey **ret, char **ret_error);
/* The public half as PEM text (with a comment line naming its id). */
int ark_key_public_pem(const ArkKey *k, char **ret);

void ark_key_id(const ArkKey *k, char ret[static KEY_ID_HEX]);

int ark_sign(const ArkKey *k, const void *msg, size_t n, uint8_t sig[static ED25519_SIG_BYTES]);
/* 0 when sig is k's signature of msg, -EBADMSG when not. */
int ark_verify(const ArkKey *k, const void *msg, size_t n, const uint8_t sig[static ED25519_SIG_BYTES]);

/* SHA-256 and Ed25519 over libcrypto (crypto.h). */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "shared/crypto.h"

struct ArkKey {
        EVP_PKEY *pkey;
        uint8_t pub[ED25519_PUBLIC_BYTES];
        bool private;
};

int sha256_init(Sha256 *s) {
        EVP_MD_CTX *c = EVP_MD_CTX_new();

        if (!c)
                return -ENOMEM;
        if (EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
                EVP_MD_CTX_free(c);
                return -EIO;
        }
        s->ctx = c;
        return 0;
}

int sha256_update(Sha256 *s, const void *p, size_t n) {
        return EVP_DigestUpdate(s->ctx, p, n) == 1 ? 0 : -EIO;
}

int sha256_final(Sha256 *s, uint8_t out[static SHA256_BYTES]) {
        unsigned len = 0;
        int r = EVP_DigestFinal_ex(s->ctx, out, &len) == 1 && len == SHA256_BYTES ? 0 : -EIO;

        sha256_done(s);
        return r;
}

void sha256_done(Sha256 *s) {
        EVP_MD_CTX_free(s->ctx);
        s->ctx = NULL;
}

int sha256_buffer(const void *p, size_t n, uint8_t out[static SHA256_BYTES]) {
        Sha256 s;
        int r = sha256_init(&s);

        if (r < 0)
                return r;
        r = sha256_update(&s, p, n);
        if (r < 0) {
                sha256_done(&s);
                return r;
        }
        return sha256_final(&s, out);
}

void hex_encode(const uint8_t *p, size_t n, char *out) {
        static const char digits[] = "0123456789abcdef";

        for (size_t k = 0; k < n; k++) {
                out[2 * k] = digits[p[k] >> 4];
                out[2 * k + 1] = digits[p[k] & 15];
        }
        out[2 * n] = 0;
}

bool is_lower_hex(const char *s, size_t n) {
        size_t k = 0;

        for (; s[k]; k++)
                if (!((s[k] >= '0' && s[k] <= '9') || (s[k] >= 'a' && s[k] <= 'f')))
                        return false;
        return k == n;
}

void ark_key_free(ArkKey *k) {
        if (!k)
                return;
        EVP_PKEY_free(k->pkey);
        free(k);
}

static int key_wrap(EVP_PKEY *pkey, bool private, ArkKey **ret) {
        ArkKey *k;
        size_t len = ED25519_PUBLIC_BYTES;

        if (EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519) {
                EVP_PKEY_free(pkey);
                return -EPROTONOSUPPORT;
        }
        k = calloc(1, sizeof(ArkKey));
        if (!k) {
                EVP_PKEY_free(pkey);
                return -ENOMEM;
        }
        k->pkey = pkey;
        k->private = private;
        if (EVP_PKEY_get_raw_public_key(pkey, k->pub, &len) != 1 || len != ED25519_PUBLIC_BYTES) {
                ark_key_free(k);
                return -EIO;
        }
        *ret = k;
        return 0;
}

void ark_key_id(const ArkKey *k, char ret[static KEY_ID_HEX]) {
        uint8_t h[SHA256_BYTES] = {};

        (void) sha256_buffer(k->pub, sizeof(k->pub), h);
        hex_encode(h, (KEY_ID_HEX - 1) / 2, ret);
}

/* PEM text out of a memory BIO. */
static char *bio_steal(BIO *b) {
        char *data = NULL, *s;
        long n = BIO_get_mem_data(b, &data);

        if (n < 0 || !data)
                return NULL;
        s = malloc((size_t) n + 1);
        if (!s)
                return NULL;
        memcpy(s, data, (size_t) n);
        s[n] = 0;
        return s;
}

int ark_key_public_pem(const ArkKey *k, char **ret) {
        BIO *b = BIO_new(BIO_s_mem());
        char id[KEY_ID_HEX], *pem;
        int r = 0;

        if (!b)
                return -ENOMEM;
        ark_key_id(k, id);
        if (BIO_printf(b, "# Ark bundle signing key %s (Ed25519)\n", id) <= 0 ||
            PEM_write_bio_PUBKEY(b, k->pkey) != 1)
                r = -EIO;
        pem = r < 0 ? NULL : bio_steal(b);
        BIO_free(b);
        if (r < 0)
                return r;
        if (!pem)
                return -ENOMEM;
        *ret = pem;
        return 0;
}

static int write_new_file(const char *path, const char *data, mode_t mode) {
        size_t n = strlen(data);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);

        if (fd < 0)
                return -errno;
        if (fchmod(fd, mode) < 0 || write(fd, data, n) != (ssize_t) n || fsync(fd) < 0) {
                int r = errno ? -errno : -EIO;

                close(fd);
                unlink(path);
                return r;
        }
        if (close(fd) < 0) {
                unlink(path);
                return -EIO;
        }
        return 0;
}

int ark_key_generate(const char *prefix, char ret_id[static KEY_ID_HEX], char **ret_error) {
        _cleanup_free_ char *kpath = strprintf("%s.key", prefix), *ppath = strprintf("%s.pub", prefix);
        _cleanup_free_ char *priv = NULL, *pub = NULL;
        _cleanup_(ark_key_freep) ArkKey *k = NULL;
        EVP_PKEY *pkey;
        BIO *b;
        int r;

        if (!kpath || !ppath)
                return -ENOMEM;
        if (file_exists(kpath) || file_exists(ppath)) {
                *ret_error = strprintf("%s already exists; not overwriting a key.",
                                       file_exists(kpath) ? kpath : ppath);
                return -EEXIST;
        }
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        if (!pkey)
                return -EIO;
        r = key_wrap(pkey, true, &k);
        if (r < 0)
                return r;
        b = BIO_new(BIO_s_mem());
        if (!b)
                return -ENOMEM;
        if (PEM_write_bio_PrivateKey(b, k->pkey, NULL, NULL, 0, NULL, NULL) == 1)
                priv = bio_steal(b);
        BIO_free(b);
        if (!priv)
                return -EIO;
        r = ark_key_public_pem(k, &pub);
        if (r < 0)
                return r;
        r = write_new_file(kpath, priv, 0600);
        explicit_bzero(priv, strlen(priv));
        if (r < 0) {
                *ret_error = strprintf("Cannot write %s: %s.", kpath, strerror(-r));
                return r;
        }
        r = write_new_file(ppath, pub, 0644);
        if (r < 0) {
                unlink(kpath);
                *ret_error = strprintf("Cannot write %s: %s.", ppath, strerror(-r));
                return r;
        }
        ark_key_id(k, ret_id);
        return 0;
}

int ark_key_load_private(const char *path, ArkKey **ret, char **ret_error) {
        _cleanup_free_ char *data = NULL;
        struct stat st;
        size_t n = 0;
        EVP_PKEY *pkey;
        BIO *b;
        int r;

        if (stat(path, &st) < 0) {
                *ret_error = strprintf("Cannot read the key %s: %s.", path, strerror(errno));
                return -errno;
        }
        if (st.st_mode & 0077) {
                *ret_error = strprintf("The private key %s can be read by others (mode %04o); make it 0600.",
                                       path, (unsigned) (st.st_mode & 07777));
                return -EPERM;
        }
        r = read_full_file(path, &data, &n);
        if (r < 0) {
                *ret_error = strprintf("Cannot read the key %s: %s.", path, strerror(-r));
                return r;
        }
        b = BIO_new_mem_buf(data, (int) n);
        if (!b)
                return -ENOMEM;
        pkey = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
        BIO_free(b);
        explicit_bzero(data, n);
        if (!pkey) {
                *ret_error = strprintf("%s is not a PEM private key.", path);
                return -EINVAL;
        }
        r = key_wrap(pkey, true, ret);
        if (r == -EPROTONOSUPPORT)
                *ret_error = strprintf("%s is not an Ed25519 key.", path);
        return r;
}

int ark_key_parse_public(const char *name, const char *pem, size_t n, ArkKey **ret, char **ret_error) {
        EVP_PKEY *pkey;
        BIO *b;
        int r;

        if (n > 64 * 1024) {
                *ret_error = strprintf("%s is too large for a public key.", name);
                return -EINVAL;
        }
        b = BIO_new_mem_buf(pem, (int) n);
        if (!b)
                return -ENOMEM;
        pkey = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
        BIO_free(b);
        if (!pkey) {
                *ret_error = strprintf("%s is not a PEM public key.", name);
                return -EINVAL;
        }
        r = key_wrap(pkey, false, ret);
        if (r == -EPROTONOSUPPORT)
                *ret_error = strprintf("%s is not an Ed25519 key.", name);
        return r;
}

int ark_key_load_public(const char *path, ArkKey **ret, char **ret_error) {
        _cleanup_free_ char *data = NULL;
        size_t n = 0;
        int r = read_full_file(path, &data, &n);

        if (r < 0) {
                *ret_error = strprintf("Cannot read the key %s: %s.", path, strerror(-r));
                return r;
        }
        return ark_key_parse_public(path, data, n, ret, ret_error);
}

int ark_sign(const ArkKey *k, const void *msg, size_t n, uint8_t sig[static ED25519_SIG_BYTES]) {
        EVP_MD_CTX *c;
        size_t len = ED25519_SIG_BYTES;
        int r = 0;

        if (!k->private)
                return -EINVAL;
        c = EVP_MD_CTX_new();
        if (!c)
                return -ENOMEM;
        if (EVP_DigestSignInit(c, NULL, NULL, NULL, k->pkey) != 1 ||
            EVP_DigestSign(c, sig, &len, msg, n) != 1 || len != ED25519_SIG_BYTES)
                r = -EIO;
        EVP_MD_CTX_free(c);
        return r;
}

int ark_verify(const ArkKey *k, const void *msg, size_t n, const uint8_t sig[static ED25519_SIG_BYTES]) {
        EVP_MD_CTX *c = EVP_MD_CTX_new();
        int r;

        if (!c)
                return -ENOMEM;
        if (EVP_DigestVerifyInit(c, NULL, NULL, NULL, k->pkey) != 1)
                r = -EIO;
        else
                r = EVP_DigestVerify(c, sig, ED25519_SIG_BYTES, msg, n) == 1 ? 0 : -EBADMSG;
        EVP_MD_CTX_free(c);
        return r;
}

/* libFuzzer target for bundle_read() (lib/shared/bundle.c), the streaming reader every import goes
 * through. A fuzzer cannot forge Ed25519 signatures, so to reach the payload checks the harness
 * signs for it: the input is a 2-byte length, that many bytes of manifest, and then raw tar data;
 * the harness writes manifest.json and manifest.sig (signed with a key it made and trusts) as tar
 * members in front of the raw data. With the first length byte 0xff the whole input is read as the
 * archive instead (plain, zstd or xz, unsigned: the header and decompression paths). The payload is
 * written into a scratch directory, which must afterwards hold nothing but regular files and
 * directories; a refusal must carry a sentence. */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "shared/bundle.h"
#include "shared/crypto.h"
#include "shared/trust.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char root[] = "/tmp/fuzz-bundle.XXXXXX";
static char *trust, *staging;
static ArkKey *key;
static char key_id[KEY_ID_HEX];

static void cleanup(void) {
        (void) rm_rf(root);
}

static void init(void) {
        _cleanup_free_ char *prefix = NULL, *pub = NULL, *pem = NULL, *keyfile = NULL, *err = NULL;
        size_t n;

        if (!mkdtemp(root))
                abort();
        atexit(cleanup);
        prefix = path_join(root, "k");
        trust = path_join(root, "trust");
        staging = path_join(root, "staging");
        pub = strprintf("%s.pub", prefix);
        keyfile = strprintf("%s.key", prefix);
        if (ark_key_generate(prefix, key_id, &err) < 0 || ark_key_load_private(keyfile, &key, &err) < 0 ||
            read_full_file(pub, &pem, &n) < 0 || trust_add(trust, "k.pub", pem, n, key_id, &err) < 0)
                abort();
}

/* A ustar header for a regular file. */
static void ustar(uint8_t h[512], const char *name, size_t size) {
        unsigned sum = 0;

        memset(h, 0, 512);
        snprintf((char *) h, 100, "%s", name);
        snprintf((char *) h + 100, 8, "%07o", 0644);
        snprintf((char *) h + 108, 8, "%07o", 0);
        snprintf((char *) h + 116, 8, "%07o", 0);
        snprintf((char *) h + 124, 12, "%011zo", size);
        snprintf((char *) h + 136, 12, "%011o", 0);
        h[156] = '0';
        memcpy(h + 257, "ustar", 6);
        memcpy(h + 263, "00", 2);
        memset(h + 148, ' ', 8);
        for (int k = 0; k < 512; k++)
                sum += h[k];
        snprintf((char *) h + 148, 8, "%06o", sum);
}

static void put_member(FILE *f, const char *name, const void *p, size_t n) {
        uint8_t h[512], zero[512] = {};

        ustar(h, name, n);
        fwrite(h, 1, 512, f);
        fwrite(p, 1, n, f);
        fwrite(zero, 1, (512 - n % 512) % 512, f);
}

static int check_tree(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        if (flag != FTW_F && flag != FTW_D && flag != FTW_DP)
                abort();
        if (flag == FTW_F && (!S_ISREG(st->st_mode) || (st->st_mode & (S_ISUID | S_ISGID | S_ISVTX))))
                abort();
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *err = NULL;
        BundleReadOptions o = { .dest_fd = -1 };
        BundleResult res = {};
        int fd, r;
        FILE *f;

        if (!key)
                init();
        o.trust_dir = trust;
        fd = memfd_create("bundle", MFD_CLOEXEC);
        if (fd < 0)
                abort();
        f = fdopen(dup(fd), "w");
        if (size >= 2 && data[0] != 0xff) {
                size_t n = MIN((size_t) (data[0] << 8 | data[1]), size - 2);
                uint8_t sig[ED25519_SIG_BYTES];
                _cleanup_free_ char *mf = malloc(n + 1);
                char *p;

                /* The seeds name key 0123456789abcdef; it stands for the harness' own. */
                if (!mf)
                        abort();
                memcpy(mf, data + 2, n);
                mf[n] = 0;
                for (p = memmem(mf, n, "0123456789abcdef", 16); p;
                     p = memmem(p, n - (size_t) (p - mf), "0123456789abcdef", 16))
                        memcpy(p, key_id, 16);
                if (ark_sign(key, mf, n, sig) < 0)
                        abort();
                put_member(f, "manifest.json", mf, n);
                put_member(f, "manifest.sig", sig, sizeof(sig));
                fwrite(data + 2 + n, 1, size - 2 - n, f);
        } else
                fwrite(data + (size > 0), 1, size - (size > 0), f);
        fclose(f);
        lseek(fd, 0, SEEK_SET);

        (void) rm_rf(staging);
        if (mkdir(staging, 0700) < 0)
                abort();
        o.dest_fd = open(staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        r = bundle_read(fd, "fuzz.ark", &o, &res, &err);
        if (getenv("FUZZ_BUNDLE_DEBUG"))
                fprintf(stderr, "fuzz-bundle: %d %s\n", r, strna(err));
        if (r < 0 && !err)
                abort();
        if (r >= 0 && (err || !res.manifest))
                abort();
        if (nftw(staging, check_tree, 16, FTW_PHYS) < 0)
                abort();
        bundle_result_done(&res);
        close(o.dest_fd);
        close(fd);
        return 0;
}

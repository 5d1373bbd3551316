#pragma once

/* Building test bundles by hand (header-only, for unit and integration tests; cmocka and the
 * bundle headers included first): a manifest listing files[], signed with `key`, then whatever
 * archive entries a test wants, hostile ones included, written with libarchive. The signer's key
 * id is taken from the key. */

#include <archive.h>
#include <locale.h>
#include <archive_entry.h>
#include <sys/sysmacros.h>

#include "shared/bundle.h"
#include "shared/crypto.h"
#include "shared/manifest.h"

typedef struct TFile { /* what the manifest lists */
        const char *path;
        const char *data;
        size_t size; /* 0: strlen(data) */
} TFile;

typedef struct TEntry { /* what the archive holds after the manifest and signature */
        const char *path;
        unsigned type;    /* AE_IFREG (0 too), AE_IFDIR, AE_IFLNK, AE_IFCHR, AE_IFIFO */
        unsigned mode;    /* 0: 0644 */
        const char *data; /* NULL: the manifest file's of that path */
        size_t size;
        const char *hardlink, *symlink;
} TEntry;

static size_t tsize(const TFile *f) {
        return f->size ? f->size : strlen(f->data);
}

/* A signed manifest of files[], then entries[] (NULL: files[] as they are), written to out with
 * the filter ("none", "zstd", "xz"). */
static void build_signed(ArkKey *key, const char *out, const TFile *files, size_t nf, const TEntry *entries,
                         size_t ne, const char *filter) {
        Manifest m = { .format = MANIFEST_FORMAT,
                       .kind = BUNDLE_IMAGE,
                       .name = (char *) "img",
                       .version = (char *) "1",
                       .created = (char *) "2026-12-01T00:00:00Z" };
        ManifestFile mf[16] = {};
        _cleanup_free_ char *text = NULL, *err = NULL;
        uint8_t sig[ED25519_SIG_BYTES];
        struct archive *a = archive_write_new();
        struct archive_entry *e;
        locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t) 0), old = uselocale(utf8);

        assert_true(nf <= ELEMENTSOF(mf));
        ark_key_id(key, m.key_id);
        for (size_t k = 0; k < nf; k++) {
                uint8_t d[SHA256_BYTES];

                assert_int_equal(sha256_buffer(files[k].data, tsize(&files[k]), d), 0);
                mf[k] = (ManifestFile) { .path = (char *) files[k].path,
                                         .size = tsize(&files[k]),
                                         .mode = 0644 };
                hex_encode(d, SHA256_BYTES, mf[k].sha256);
                m.total_bytes += mf[k].size;
        }
        m.files = mf;
        m.n_files = nf;
        assert_int_equal(manifest_format(&m, &text), 0);
        assert_int_equal(ark_sign(key, text, strlen(text), sig), 0);

        assert_non_null(a);
        assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
        if (streq(filter, "zstd"))
                assert_int_equal(archive_write_add_filter_zstd(a), ARCHIVE_OK);
        if (streq(filter, "xz"))
                assert_int_equal(archive_write_add_filter_xz(a), ARCHIVE_OK);
        assert_int_equal(archive_write_open_filename(a, out), ARCHIVE_OK);
        for (int k = 0; k < 2; k++) {
                e = archive_entry_new();
                archive_entry_set_pathname(e, k == 0 ? "manifest.json" : "manifest.sig");
                archive_entry_set_filetype(e, AE_IFREG);
                archive_entry_set_perm(e, 0644);
                archive_entry_set_size(e, k == 0 ? (la_int64_t) strlen(text) : ED25519_SIG_BYTES);
                assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
                if (k == 0)
                        assert_int_equal(archive_write_data(a, text, strlen(text)),
                                         (la_ssize_t) strlen(text));
                else
                        assert_int_equal(archive_write_data(a, sig, sizeof(sig)), (la_ssize_t) sizeof(sig));
                archive_entry_free(e);
        }
        for (size_t k = 0; k < (entries ? ne : nf); k++) {
                TEntry t = entries ? entries[k] : (TEntry) { .path = files[k].path };
                const char *data = t.data;
                size_t size = t.size;

                if (!data && (!t.type || t.type == AE_IFREG) && !t.hardlink)
                        for (size_t j = 0; j < nf; j++)
                                if (streq(files[j].path, t.path)) {
                                        data = files[j].data;
                                        size = tsize(&files[j]);
                                }
                if (data && !size)
                        size = strlen(data);
                e = archive_entry_new();
                archive_entry_set_pathname(e, t.path);
                archive_entry_set_filetype(e, t.type ?: AE_IFREG);
                archive_entry_set_perm(e, t.mode ?: 0644);
                if (t.hardlink)
                        archive_entry_set_hardlink(e, t.hardlink);
                if (t.symlink)
                        archive_entry_set_symlink(e, t.symlink);
                if (t.type == AE_IFCHR)
                        archive_entry_set_rdev(e, makedev(1, 3));
                archive_entry_set_size(
                        e, (!t.type || t.type == AE_IFREG) && !t.hardlink ? (la_int64_t) size : 0);
                /* A name that is not UTF-8 makes libarchive warn (and write it as binary). */
                assert_true(archive_write_header(a, e) >= ARCHIVE_WARN);
                if (data && size && (!t.type || t.type == AE_IFREG) && !t.hardlink)
                        assert_int_equal(archive_write_data(a, data, size), (la_ssize_t) size);
                archive_entry_free(e);
        }
        assert_int_equal(archive_write_close(a), ARCHIVE_OK);
        archive_write_free(a);
        uselocale(old);
        freelocale(utf8);
}

/* Tests for lib/shared/{crypto,manifest,trust,bundle}: keys, the manifest's rules, the trust
 * directory and revocation, creating bundles, and reading them back: every hostile archive the
 * format refuses (built here with libarchive, signed with a real key), each refused with the entry
 * named, nothing written outside the staging directory. */

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmocka.h>

#include "tmpdir.h"
#include "bundle-fixture.h"
#include "shared/bundle.h"
#include "shared/crypto.h"
#include "shared/manifest.h"
#include "shared/trust.h"

/* One key for the whole group: PREFIX.key/.pub in the root, trusted in <root>/trust. */
static char *key_prefix, *trust, *key_path;
static char key_id[KEY_ID_HEX];
static ArkKey *key;

static int group_setup(void **state) {
        _cleanup_free_ char *err = NULL, *pub = NULL, *pem = NULL;
        char id[KEY_ID_HEX];
        size_t n;

        if (tmp_root_setup(state) < 0)
                return -1;
        key_prefix = path_join(tmp_root, "signer");
        trust = path_join(tmp_root, "trust");
        key_path = strprintf("%s.key", key_prefix);
        pub = strprintf("%s.pub", key_prefix);
        if (!key_prefix || !trust || !key_path || !pub || ark_key_generate(key_prefix, key_id, &err) < 0 ||
            ark_key_load_private(key_path, &key, &err) < 0 || read_full_file(pub, &pem, &n) < 0 ||
            trust_add(trust, pub, pem, n, id, &err) < 0 || !streq(id, key_id))
                return -1;
        return 0;
}

static int group_teardown(void **state) {
        ark_key_free(key);
        free(key_prefix);
        free(trust);
        free(key_path);
        return tmp_root_teardown(state);
}

static void write_file(const char *dir, const char *rel, const void *data, size_t n) {
        _cleanup_free_ char *p = strprintf("%s/%s", dir, rel);
        char *slash;
        int fd;

        assert_non_null(p);
        slash = strrchr(p, '/');
        *slash = 0;
        assert_int_equal(mkdir_p(p, 0755), 0);
        *slash = '/';
        fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, data, n), (ssize_t) n);
        close(fd);
}

/* ------------------------------------------------------------------------ hostile archives */

static void build(const char *out, const TFile *files, size_t nf, const TEntry *entries, size_t ne,
                  const char *filter) {
        build_signed(key, out, files, nf, entries, ne, filter);
}

/* Reads path into a staging directory <dir>/staging; returns the error and its sentence. */
static int import_into(const char *dir, const char *path, char **ret_error) {
        _cleanup_free_ char *staging = join(dir, "staging");
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC), dfd = -EBADF;
        BundleReadOptions o = { .trust_dir = trust, .sync = true };
        BundleResult res = {};
        int r;

        assert_true(fd >= 0);
        assert_int_equal(mkdir(staging, 0700), 0);
        dfd = open(staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(dfd >= 0);
        o.dest_fd = dfd;
        r = bundle_read(fd, "b.ark", &o, &res, ret_error);
        if (r >= 0)
                bundle_result_done(&res);
        return r;
}

/* The names in dir (sorted, joined by spaces). */
static char *list_dir(const char *dir) {
        struct dirent **l = NULL;
        int n = scandir(dir, &l, NULL, alphasort);
        StrBuf b = {};

        assert_true(n >= 0);
        for (int k = 0; k < n; k++) {
                if (!streq(l[k]->d_name, ".") && !streq(l[k]->d_name, ".."))
                        strbuf_printf(&b, "%s%s", b.len ? " " : "", l[k]->d_name);
                free(l[k]);
        }
        free(l);
        return strbuf_steal(&b) ?: strdup("");
}

/* Bytes the last refused import had written into its staging directory (summed over files). */
static uint64_t staged_bytes;

static int add_size(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        if (flag == FTW_F)
                staged_bytes += (uint64_t) st->st_size;
        return 0;
}

/* Builds and imports; asserts the refusal (error r, sentence containing `says`) and that nothing
 * landed next to the staging directory. */
static void refused(const TFile *files, size_t nf, const TEntry *entries, size_t ne, const char *filter,
                    int r, const char *says) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_free_ char *ark = join(d, "b.ark"), *work = join(d, "work"), *err = NULL, *names = NULL;

        build(ark, files, nf, entries, ne, filter);
        assert_int_equal(mkdir(work, 0755), 0);
        assert_int_equal(import_into(work, ark, &err), r);
        assert_non_null(err);
        if (!strstr(err, says))
                fail_msg("'%s' does not say '%s'", err, says);
        names = list_dir(work);
        assert_string_equal(names, "staging");
        free(names);
        names = list_dir(d);
        assert_string_equal(names, "b.ark work");
        staged_bytes = 0;
        assert_int_equal(nftw(work, add_size, 16, FTW_PHYS), 0);
        /* What a caller shows: a sentence D-Bus can carry. */
        assert_true(utf8_is_valid(err));
}

static const TFile two[] = { { "a.bin", "alpha" }, { "dir/b.bin", "bravo" } };

static void test_roundtrip(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_free_ char *ark = join(d, "b.ark"), *err = NULL, *a = NULL, *b = NULL,
                            *sa = join(d, "staging/a.bin"), *sb = join(d, "staging/dir/b.bin");
        size_t n;

        build(ark, two, 2, NULL, 0, "none");
        assert_int_equal(import_into(d, ark, &err), 0);
        assert_int_equal(read_full_file(sa, &a, &n), 0);
        assert_string_equal(a, "alpha");
        assert_int_equal(read_full_file(sb, &b, &n), 0);
        assert_string_equal(b, "bravo");
        /* Directory entries for the payload's own directories are fine. */
        {
                const TEntry e[] = { { "a.bin" }, { "dir/", AE_IFDIR, 0755 }, { "dir/b.bin" } };
                _cleanup_tmpdir_ char *d2 = make_tmpdir();
                _cleanup_free_ char *ark2 = join(d2, "b.ark");

                build(ark2, two, 2, e, 3, "xz");
                assert_int_equal(import_into(d2, ark2, &err), 0);
        }
}

static void test_hostile_paths(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_free_ char *evil = join(d, "evil");
        const TEntry absolute[] = { { "a.bin" }, { evil, .data = "x" } };
        const TEntry dotdot[] = { { "a.bin" }, { "../evil", .data = "x" } };
        const TEntry inner[] = { { "a.bin" }, { "dir/../../evil", .data = "x" } };
        char longpath[4200];

        refused(two, 2, absolute, 2, "none", -EINVAL, "is absolute");
        refused(two, 2, dotdot, 2, "none", -EINVAL, "'../evil' has a '..' component");
        refused(two, 2, inner, 2, "none", -EINVAL, "has a '..' component");
        assert_false(file_exists(evil));
        memset(longpath, 'a', sizeof(longpath) - 1);
        for (size_t k = 100; k < sizeof(longpath) - 1; k += 100)
                longpath[k] = '/';
        longpath[sizeof(longpath) - 1] = 0;
        {
                const TEntry e[] = { { "a.bin" }, { longpath, .data = "x" } };

                refused(two, 2, e, 2, "none", -EINVAL, "longer than 4096 bytes");
        }
}

static void test_hostile_kinds(void **state) {
        const TEntry symlink[] = { { "a.bin" }, { "dir/b.bin", AE_IFLNK, 0777, .symlink = "/etc/passwd" } };
        const TEntry hardlink[] = { { "a.bin" }, { "dir/b.bin", .hardlink = "a.bin" } };
        const TEntry device[] = { { "a.bin" }, { "dir/b.bin", AE_IFCHR, 0644 } };
        const TEntry fifo[] = { { "a.bin" }, { "dir/b.bin", AE_IFIFO, 0644 } };
        const TEntry setuid[] = { { "a.bin", .mode = 04755 }, { "dir/b.bin" } };
        const TEntry setgid[] = { { "a.bin", .mode = 02755 }, { "dir/b.bin" } };
        const TEntry dir[] = { { "a.bin" }, { "other/", AE_IFDIR, 0755 }, { "dir/b.bin" } };

        refused(two, 2, symlink, 2, "none", -EINVAL, "'dir/b.bin' is a symbolic link");
        refused(two, 2, hardlink, 2, "none", -EINVAL, "'dir/b.bin' is a hard link");
        refused(two, 2, device, 2, "none", -EINVAL, "'dir/b.bin' is a device node");
        refused(two, 2, fifo, 2, "none", -EINVAL, "'dir/b.bin' is a FIFO");
        refused(two, 2, setuid, 2, "none", -EINVAL, "'a.bin' has the setuid or setgid bit");
        refused(two, 2, setgid, 2, "zstd", -EINVAL, "'a.bin' has the setuid or setgid bit");
        refused(two, 2, dir, 3, "none", -EINVAL, "directory 'other/' is not in the manifest");
}

/* Names: a tar entry whose name is not UTF-8 is refused with a sentence that is (its bytes as
 * \xNN); paths in any script round-trip, whatever the locale (tests run in the C locale). */
static void test_names(void **state) {
        const TEntry binary[] = { { "a.bin" },
                                  { "\xff\xfe"
                                    "evil",
                                    .data = "x" } };
        static const TFile intl[] = { { "mod\xc3\xa8le/\xe6\x9d\x83\xe9\x87\x8d.bin", "poids" },
                                      { "r\xc3\xa9sum\xc3\xa9.txt", "ok" } };
        const TEntry deep_e[] = { { "a.bin" }, { "dir/b.bin" } };
        char deep[200] = "";
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_free_ char *ark = join(d, "b.ark"), *err = NULL, *copy = NULL, *text = NULL;
        size_t n;

        refused(two, 2, binary, 2, "none", -EINVAL, "'\\xff\\xfeevil' is not valid UTF-8");
        build(ark, intl, 2, NULL, 0, "none");
        assert_int_equal(import_into(d, ark, &err), 0);
        copy = strprintf("%s/staging/mod\xc3\xa8le/\xe6\x9d\x83\xe9\x87\x8d.bin", d);
        assert_int_equal(read_full_file(copy, &text, &n), 0);
        assert_string_equal(text, "poids");
        /* Deeper than 32 components: refused by the manifest's rules. */
        for (int k = 0; k < 33; k++)
                strcat(deep, "d/");
        strcat(deep, "f");
        assert_string_equal(manifest_check_path(deep), "is more than 32 directories deep");
        assert_string_equal(manifest_check_path("\xc3("), "is not valid UTF-8");
        (void) deep_e;
}

/* A file may not also be a directory, also when the two are not neighbours in byte order. */
static void test_file_and_directory(void **state) {
        static const TFile f[] = { { "a", "1" }, { "a-b", "2" }, { "a/b", "3" } };
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_free_ char *ark = join(d, "b.ark"), *err = NULL;

        build(ark, f, 3, NULL, 0, "none");
        assert_int_equal(import_into(d, ark, &err), -EINVAL);
        assert_non_null(strstr(err, "lists 'a' both as a file and as a directory"));
}

static void test_hostile_content(void **state) {
        const TEntry dup[] = { { "a.bin" }, { "a.bin" }, { "dir/b.bin" } };
        const TEntry extra[] = { { "a.bin" }, { "c.bin", .data = "charlie" }, { "dir/b.bin" } };
        const TEntry missing[] = { { "a.bin" } };
        const TEntry bigger[] = { { "a.bin", .data = "alpha and more" }, { "dir/b.bin" } };
        const TEntry smaller[] = { { "a.bin", .data = "alp" }, { "dir/b.bin" } };
        const TEntry changed[] = { { "a.bin", .data = "alphA" }, { "dir/b.bin" } };

        refused(two, 2, dup, 3, "none", -EINVAL, "'a.bin' comes twice");
        refused(two, 2, extra, 3, "none", -EINVAL, "'c.bin' is not in the manifest");
        refused(two, 2, missing, 1, "none", -EINVAL,
                "'dir/b.bin' is in the manifest but not in the archive");
        refused(two, 2, bigger, 2, "none", -EBADMSG, "'a.bin' is 14 bytes; the manifest declares 5");
        refused(two, 2, smaller, 2, "none", -EBADMSG, "'a.bin' is 3 bytes; the manifest declares 5");
        refused(two, 2, changed, 2, "none", -EBADMSG, "'a.bin' does not match its SHA-256");
}

static void test_truncated(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_free_ char *ark = join(d, "b.ark"), *work = join(d, "work"), *err = NULL,
                            *big = malloc(200000);
        const TFile f[] = { { "a.bin", big, 200000 } };
        struct stat st;

        for (size_t k = 0; k < 200000; k++)
                big[k] = (char) (k * 7919 % 251);
        for (int filter = 0; filter < 2; filter++) {
                build(ark, f, 1, NULL, 0, filter ? "zstd" : "none");
                assert_int_equal(stat(ark, &st), 0);
                assert_int_equal(truncate(ark, st.st_size / 2), 0);
                assert_int_equal(mkdir(work, 0755), 0);
                assert_int_equal(import_into(work, ark, &err), -EINVAL);
                if (!strstr(err, "truncated"))
                        fail_msg("'%s' does not say truncated", err);
                assert_int_equal(rm_rf(work), 0);
                assert_int_equal(unlink(ark), 0);
                err = mfree(err);
        }
}

/* 64 MiB of zeros compress to a few KiB: more than BUNDLE_MAX_EXPANSION per input byte. */
static void test_bomb(void **state) {
        _cleanup_free_ char *zeros = calloc(1, 64 << 20);
        const TFile f[] = { { "zeros.bin", zeros, 64 << 20 } };

        assert_non_null(zeros);
        /* Stopped while it expands, not after: a few KiB of input may give at most 1 MiB plus
         * BUNDLE_MAX_EXPANSION times itself. */
        refused(f, 1, NULL, 0, "zstd", -EINVAL, "decompression bomb");
        assert_true(staged_bytes < 16 << 20);
        refused(f, 1, NULL, 0, "xz", -EINVAL, "decompression bomb");
        assert_true(staged_bytes < 16 << 20);
}

/* The signature: a manifest changed after signing, a key nobody trusts, a revoked key. */
static void test_signature(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_free_ char *ark = join(d, "b.ark"), *data = NULL, *err = NULL, *other = join(d, "other"),
                            *other_trust = join(d, "trust"), *work = join(d, "work");
        char id[KEY_ID_HEX], *p;
        size_t n;
        FILE *f;

        build(ark, two, 2, NULL, 0, "none");
        assert_int_equal(read_full_file(ark, &data, &n), 0);
        p = memmem(data, n, "\"img\"", 5);
        assert_non_null(p);
        p[1] = 'j';
        f = fopen(ark, "we");
        assert_int_equal(fwrite(data, 1, n, f), n);
        fclose(f);
        assert_int_equal(mkdir(work, 0755), 0);
        assert_int_equal(import_into(work, ark, &err), -EBADMSG);
        assert_non_null(strstr(err, "signature does not verify"));
        {
                _cleanup_free_ char *names = list_dir(work);
                assert_string_equal(names, "staging");
        }
        err = mfree(err);

        /* Signed by a key that is not in the trust directory. */
        assert_int_equal(ark_key_generate(other, id, &err), 0);
        build(ark, two, 2, NULL, 0, "none");
        {
                _cleanup_close_ int fd = open(ark, O_RDONLY | O_CLOEXEC);
                BundleReadOptions o = { .trust_dir = other_trust, .dest_fd = -1 };
                BundleResult res = {};

                assert_int_equal(bundle_read(fd, "b.ark", &o, &res, &err), -ENOKEY);
                assert_non_null(strstr(err, key_id));
                err = mfree(err);
        }
        /* Revoked: refused although its key file is still there. */
        assert_int_equal(trust_revoke(trust, key_id, &err), 0);
        assert_int_equal(rm_rf(work), 0);
        assert_int_equal(mkdir(work, 0755), 0);
        assert_int_equal(import_into(work, ark, &err), -EKEYREVOKED);
        assert_non_null(strstr(err, key_id));
        assert_non_null(strstr(err, "revoked"));
        err = mfree(err);
        assert_int_equal(trust_revoke(trust, key_id, &err), -EALREADY);
        err = mfree(err);
        /* Un-revoke for the other tests: the list is ours to edit here. */
        {
                _cleanup_free_ char *list = join(trust, TRUST_REVOKED_FILE);
                assert_int_equal(unlink(list), 0);
        }
}

static void test_manifest_rules(void **state) {
        static const char *const bad[][2] = {
                { "not json", "not valid UTF-8 JSON" },
                { "{\"format\": 2}", "format is 2" },
                { "{\"format\": 1, \"kind\": \"firmware\"}", "kind 'firmware'" },
                { "{\"format\": 1, \"format\": 1}", "not valid UTF-8 JSON" }, /* duplicate key */
                { "{\"format\": 1, \"kind\": \"image\", \"name\": \"../x\", \"version\": \"1\", \"created\": "
                  "\"2026-12-01T00:00:00Z\", \"key_id\": \"0123456789abcdef\", \"files\": [{\"path\": \"a\", \"size\": 1, "
                  "\"sha256\": \"0000000000000000000000000000000000000000000000000000000000000000\", \"mode\": \"0644\"}]}",
                  "name must start with a letter or digit" },
                { "{\"format\": 1, \"kind\": \"image\", \"name\": \"x\", \"version\": \"1\", \"created\": "
                  "\"2026-12-01T00:00:00Z\", \"key_id\": \"0123456789abcdef\", \"files\": [{\"path\": \"a\", \"size\": 1, "
                  "\"sha256\": \"0000000000000000000000000000000000000000000000000000000000000000\", \"mode\": \"4755\"}]}",
                  "mode must be" },
                { "{\"format\": 1, \"kind\": \"image\", \"name\": \"x\", \"version\": \"1\", \"created\": "
                  "\"2026-12-01T00:00:00Z\", \"key_id\": \"0123456789abcdef\", \"files\": [{\"path\": \"b\", \"size\": 1, "
                  "\"sha256\": \"0000000000000000000000000000000000000000000000000000000000000000\", \"mode\": \"0644\"}, "
                  "{\"path\": \"a\", \"size\": 1, "
                  "\"sha256\": \"0000000000000000000000000000000000000000000000000000000000000000\", \"mode\": \"0644\"}]}",
                  "not in byte order" },
                { "{\"format\": 1, \"kind\": \"model\", \"name\": \"x\", \"version\": \"1\", \"created\": "
                  "\"2026-12-01T00:00:00Z\", \"key_id\": \"0123456789abcdef\", \"files\": [{\"path\": \"a\", \"size\": 1, "
                  "\"sha256\": \"0000000000000000000000000000000000000000000000000000000000000000\", \"mode\": \"0644\"}]}",
                  "lacks 'model'" },
                { "{\"format\": 1, \"kind\": \"image\", \"name\": \"x\", \"version\": \"1\", \"created\": "
                  "\"2026-12-01T00:00:00Z\", \"key_id\": \"0123456789abcdef\", \"extra\": 1, \"files\": []}",
                  "unknown field 'extra'" },
                { "{\"format\": 1, \"kind\": \"image\", \"name\": \"x\\u00e9\\u0000\", \"version\": \"1\"}",
                  "" },
                { "{\"format\": 1, \"kind\": \"image\", \"name\": \"\xff\"}", "not valid UTF-8 JSON" },
        };
        for (size_t k = 0; k < ELEMENTSOF(bad); k++) {
                Manifest *m = NULL;
                char *err = NULL;

                assert_int_equal(manifest_parse(bad[k][0], strlen(bad[k][0]), &m, &err), -EINVAL);
                assert_null(m);
                assert_non_null(err);
                if (!strstr(err, bad[k][1]))
                        fail_msg("case %zu: '%s' does not say '%s'", k, err, bad[k][1]);
                free(err);
        }
        /* Over 1 MiB. */
        {
                char *big = malloc(MANIFEST_MAX_BYTES + 2), *err = NULL;
                Manifest *m = NULL;

                memset(big, ' ', MANIFEST_MAX_BYTES + 1);
                big[MANIFEST_MAX_BYTES + 1] = 0;
                assert_int_equal(manifest_parse(big, MANIFEST_MAX_BYTES + 1, &m, &err), -EINVAL);
                assert_non_null(strstr(err, "larger than 1 MiB"));
                free(err);
                free(big);
        }
        assert_string_equal(manifest_check_path("a/./b"), "has a '.' component");
        assert_string_equal(manifest_check_path("a//b"), "has an empty component (// or a trailing /)");
        assert_string_equal(manifest_check_path("a\nb"), "holds a control character");
        /* A file name that displays as another ("gpj.exe" shown as "exe.jpg"). */
        assert_string_equal(manifest_check_path("weights/\u202Egpj.exe"),
                            "holds a bidirectional formatting or control character");
        assert_string_equal(manifest_check_path("a\xc2\x85"
                                                "b"),
                            "holds a bidirectional formatting or control character");
        assert_null(manifest_check_path("权重/模型.bin"));
        assert_string_equal(manifest_check_path("manifest.json"), "is the name of the manifest itself");
        assert_null(manifest_check_path("weights/model-00001.safetensors"));
}

/* bundle_create: the payload directory to a bundle that reads back; what it refuses. */
static void test_create(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_free_ char *payload = join(d, "payload"), *ark = join(d, "m.ark"), *err = NULL,
                            *link = NULL, *work = join(d, "work"), *copy = NULL, *text = NULL;
        _cleanup_(manifest_freep) Manifest *m = NULL;
        BundleCreateOptions o = {
                .kind = BUNDLE_MODEL,
                .name = "qwen2-7b",
                .version = "2.5.1",
                .key_path = key_path,
                .dir = payload,
                .output = ark,
                .compression = "zstd",
                .model = { .architecture = (char *) "qwen2",
                           .parameters = 7600000000,
                           .dtype = (char *) "bf16",
                           .min_gpu_memory_bytes = 16ULL << 30,
                           .runtime = (char *) "vllm",
                           .license = (char *) "Apache-2.0" },
        };
        size_t n;

        write_file(payload, "config.json", "{}", 2);
        write_file(payload, "weights/model-00001.safetensors", "0123456789", 10);
        assert_int_equal(bundle_create(&o, &m, &err), 0);
        assert_int_equal(m->n_files, 2);
        assert_string_equal(m->files[0].path, "config.json");
        assert_string_equal(m->files[1].path, "weights/model-00001.safetensors");
        assert_string_equal(m->key_id, key_id);
        assert_int_equal(mkdir(work, 0755), 0);
        assert_int_equal(import_into(work, ark, &err), 0);
        copy = join(work, "staging/weights/model-00001.safetensors");
        assert_int_equal(read_full_file(copy, &text, &n), 0);
        assert_string_equal(text, "0123456789");
        /* Not over an existing file. */
        assert_int_equal(bundle_create(&o, NULL, &err), -EEXIST);
        err = mfree(err);
        /* A symbolic link in the payload is refused, naming it. */
        assert_int_equal(unlink(ark), 0);
        link = join(payload, "weights/link");
        assert_int_equal(symlink("/etc/passwd", link), 0);
        assert_int_equal(bundle_create(&o, NULL, &err), -EINVAL);
        assert_non_null(strstr(err, "weights/link is a symbolic link"));
        assert_false(file_exists(ark));
        err = mfree(err);
        assert_int_equal(unlink(link), 0);
        /* A private key others can read is refused. */
        assert_int_equal(chmod(key_path, 0644), 0);
        assert_int_equal(bundle_create(&o, NULL, &err), -EPERM);
        assert_non_null(strstr(err, "can be read by others"));
        assert_int_equal(chmod(key_path, 0600), 0);
        err = mfree(err);
        assert_false(file_exists(ark));
}

static void test_trust_dir(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_free_ char *dir = join(d, "t"), *prefix = join(d, "k"), *pub = NULL, *pem = NULL,
                            *err = NULL;
        _cleanup_free_ TrustedKey *keys = NULL;
        ArkKey *k = NULL;
        char id[KEY_ID_HEX], id2[KEY_ID_HEX];
        size_t n = 0, nk = 0;

        assert_int_equal(ark_key_generate(prefix, id, &err), 0);
        assert_int_equal(ark_key_generate(prefix, id2, &err), -EEXIST); /* never over a key */
        err = mfree(err);
        pub = strprintf("%s.pub", prefix);
        assert_int_equal(read_full_file(pub, &pem, &n), 0);
        assert_int_equal(trust_lookup(dir, id, &k, &err), -ENOKEY);
        err = mfree(err);
        {
                /* Public whatever the writer's umask (arkd's is 0077): a non-root 'arkctl bundle
                 * verify' reads them. */
                mode_t old = umask(0077);
                _cleanup_free_ char *written = NULL;
                struct stat st;

                assert_int_equal(trust_add(dir, pub, pem, n, id2, &err), 0);
                umask(old);
                written = strprintf("%s/%s.pub", dir, id2);
                assert_int_equal(stat(written, &st), 0);
                assert_int_equal(st.st_mode & 07777, 0644);
                assert_int_equal(stat(dir, &st), 0);
                assert_int_equal(st.st_mode & 07777, 0755);
        }
        assert_string_equal(id, id2);
        assert_int_equal(trust_add(dir, pub, pem, n, id2, &err), -EEXIST);
        err = mfree(err);
        assert_int_equal(trust_add(dir, "junk", "hello", 5, id2, &err), -EINVAL);
        err = mfree(err);
        assert_int_equal(trust_lookup(dir, id, &k, &err), 0);
        ark_key_free(k);
        assert_int_equal(trust_list(dir, &keys, &nk, &err), 0);
        assert_int_equal(nk, 1);
        assert_true(keys[0].present && !keys[0].revoked);
        keys = mfree(keys);
        assert_int_equal(trust_revoke(dir, id, &err), 0);
        assert_int_equal(trust_lookup(dir, id, &k, &err), -EKEYREVOKED);
        err = mfree(err);
        assert_int_equal(trust_add(dir, pub, pem, n, id2, &err), -EKEYREVOKED);
        err = mfree(err);
        assert_int_equal(trust_remove(dir, id, &err), 0);
        assert_int_equal(trust_remove(dir, id, &err), -ENOENT);
        err = mfree(err);
        assert_int_equal(trust_list(dir, &keys, &nk, &err), 0);
        assert_int_equal(nk, 1); /* still on the revocation list */
        assert_true(!keys[0].present && keys[0].revoked);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_roundtrip),     cmocka_unit_test(test_hostile_paths),
                cmocka_unit_test(test_hostile_kinds), cmocka_unit_test(test_hostile_content),
                cmocka_unit_test(test_names),         cmocka_unit_test(test_file_and_directory),
                cmocka_unit_test(test_truncated),     cmocka_unit_test(test_bomb),
                cmocka_unit_test(test_signature),     cmocka_unit_test(test_manifest_rules),
                cmocka_unit_test(test_create),        cmocka_unit_test(test_trust_dir),
        };
        return cmocka_run_group_tests_name("bundle", tests, group_setup, group_teardown);
}

/* Container images end to end, through arkctl and D-Bus against arkd (issue 18, acceptance 1 image
 * side and 7): an OCI image made by umoci from busybox-static (two layers, one whiteout) is bundled
 * with `arkctl bundle create --kind container-image`, signed, imported, listed and shown; its layers
 * land in the content-addressed layer store, the whiteout as overlayfs wants it; a second image that
 * shares two layers (and a zstd copy that shares all) adds only its own; deleting an image removes
 * the layers no other image has; hostile images (a write through an absolute symbolic link, a
 * layer digest mismatch, a device node) are refused at import with the entry named and leave no
 * bundle directory, no layer, no staging and no row; a restart removes layer staging and layers no
 * image has. Needs root and umoci (skipped with the reason otherwise). */

#include "itest.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../unit/oci-fixture.h"
#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "shared/bundle.h"

static Harness H;
static char *work, *key_prefix, *key_file, *pub_file;
static const char *skip_reason;

static int setup(void **state) {
        if (harness_setup(&H, "dgx-h100") < 0 || harness_start_arkd(&H, NULL) < 0)
                return -1;
        work = strprintf("%s/work", H.tmp);
        key_prefix = strprintf("%s/publisher", H.tmp);
        key_file = strprintf("%s.key", key_prefix);
        pub_file = strprintf("%s.pub", key_prefix);
        if (!work || !key_prefix || !key_file || !pub_file || mkdir(work, 0755) < 0)
                return -1;
        if (ofx_umoci_image(work, "busybox", &skip_reason) < 0)
                print_message("every test skips: %s\n", skip_reason);
        return 0;
}

static int teardown(void **state) {
        harness_teardown(&H);
        free(work);
        free(key_prefix);
        free(key_file);
        free(pub_file);
        return 0;
}

static char *wpath(const char *name) {
        char *p = path_join(work, name);

        assert_non_null(p);
        return p;
}

static void ensure_key(void) {
        if (file_exists(key_file))
                return;
        assert_arkctl(&H, 0, "private, keep it offline", "bundle", "keygen", key_prefix);
        assert_arkctl(&H, 0, "Trusted key", "bundle", "trust", "add", pub_file);
}

/* An image bundle of layout `dir`, made and signed by arkctl. */
static char *make_bundle(const char *dir, const char *name, const char *version) {
        _cleanup_free_ char *file = strprintf("%s-%s.ark", name, version);
        char *ark = wpath(file);

        ensure_key();
        (void) unlink(ark); /* of an earlier test */
        assert_arkctl(&H, 0, "Created", "bundle", "create", dir, "--kind", "container-image", "--name", name,
                      "--version", version, "--key", key_file, "-o", ark, "--compress", "zstd");
        return ark;
}

/* The same, by the library, for layouts arkctl refuses to sign. */
static char *make_bundle_unchecked(const char *dir, const char *name) {
        _cleanup_free_ char *file = strprintf("%s.ark", name), *err = NULL;
        char *ark = wpath(file);
        BundleCreateOptions o = { .kind = BUNDLE_CONTAINER_IMAGE,
                                  .name = name,
                                  .version = "1",
                                  .key_path = key_file,
                                  .dir = dir,
                                  .output = ark };

        ensure_key();
        if (bundle_create(&o, NULL, &err) < 0)
                fail_msg("bundle_create: %s", strna(err));
        return ark;
}

/* The layer store's directories (diff_ids), sorted, one a line. */
static char *layers(void) {
        char *out = NULL;
        _cleanup_free_ char *err = NULL;

        assert_int_equal(harness_sh(&out, &err, "ls '%s/containers/layers' 2>/dev/null | sort", H.state_dir),
                         0);
        return out;
}

static size_t count_lines(const char *s) {
        size_t n = 0;

        for (; s && *s; s++)
                n += *s == '\n';
        return n;
}

/* What an import may leave: the layer store, layer staging, bundles of the kind and their rows. */
static char *snapshot(void) {
        char *out = NULL;
        _cleanup_free_ char *err = NULL;

        if (harness_sh(
                    &out, &err,
                    "cd '%s' && (find containers bundles/container-image bundles/staging 2>/dev/null | sort) && "
                    "sqlite3 ark.db \"SELECT kind, name, version FROM bundles ORDER BY id\"",
                    H.state_dir) != 0)
                fail_msg("snapshot: %s", strna(err));
        return out;
}

static void test_import_show_delete(void **state) {
        _cleanup_free_ char *layout = wpath("busybox"), *ark = NULL, *l = NULL, *out = NULL, *err = NULL,
                            *gone = NULL;
        json_t *list, *j, *ids;

        if (skip_reason)
                skip();
        ark = make_bundle(layout, "busybox", "1.0");
        assert_arkctl(&H, 0, "valid. container-image busybox 1.0", "bundle", "verify", ark);
        assert_arkctl(&H, 0, "Imported container-image busybox 1.0 (shared)", "bundle", "import", ark);

        list = harness_arkctl_json(&H, "image", "list", NULL);
        assert_int_equal(json_array_size(list), 1);
        j = json_array_get(list, 0);
        assert_string_equal(json_string_value(json_object_get(j, "name")), "busybox");
        assert_string_equal(json_string_value(json_object_get(j, "architecture")),
                            oci_native_architecture());
        assert_int_equal(json_array_size(json_object_get(j, "layers")), 2);
        json_decref(list);
        out = itest_arkctl_expect(&H, 0, "busybox", "image", "list", NULL);
        assert_non_null(strstr(out, "(shared)"));
        out = mfree(out);

        j = harness_arkctl_json(&H, "image", "show", "busybox@1.0", NULL);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_array_get(json_object_get(j, "entrypoint"), 0)),
                            "/bin/busybox");
        assert_string_equal(json_string_value(json_array_get(json_object_get(j, "cmd"), 0)), "sh");
        assert_string_equal(json_string_value(json_object_get(j, "working_dir")), "/srv");
        ids = json_object_get(j, "layers");
        assert_int_equal(json_array_size(ids), 2);
        /* The layers are in the store under their diff_ids; the whiteout is overlayfs'. */
        l = layers();
        assert_int_equal(count_lines(l), 2);
        assert_non_null(strstr(l, json_string_value(json_array_get(ids, 0))));
        assert_non_null(strstr(l, json_string_value(json_array_get(ids, 1))));
        assert_int_equal(harness_sh(&gone, &err, "stat -c '%%F %%t:%%T' '%s/containers/layers/%s/etc/gone'",
                                    H.state_dir, json_string_value(json_array_get(ids, 1))),
                         0);
        assert_string_equal(strstrip(gone), "character special file 0:0");
        json_decref(j);
        out = itest_arkctl_expect(&H, 0, "Entrypoint", "image", "show", "busybox", NULL);
        assert_non_null(strstr(out, "FOO=bar"));
        out = mfree(out);

        assert_arkctl(&H, 0, "Deleted container image busybox", "image", "delete", "busybox");
        assert_arkctl(&H, 0, "No container images.", "image", "list");
        free(l);
        l = layers();
        assert_string_equal(l, "");
        assert_arkctl(&H, 1, "no container image 'busybox'", "image", "show", "busybox");
}

/* Two images that share layers share them on disk; a layer goes with the last image that has it. */
static void test_layer_sharing(void **state) {
        _cleanup_free_ char *a = wpath("busybox"), *b = wpath("busybox-extra"), *z = wpath("busybox-zstd"),
                            *ark_a = NULL, *ark_b = NULL, *ark_z = NULL, *l = NULL, *out = NULL, *err = NULL;

        if (skip_reason)
                skip();
        /* b: a's layout and a third layer; z: a's with its first layer recompressed (same diff_ids). */
        assert_int_equal(
                harness_sh(
                        &out, &err,
                        "set -e; cd '%s'; cp -a busybox busybox-extra; cp -a busybox busybox-zstd; "
                        "umoci unpack --image busybox-extra:latest u >/dev/null; echo extra >u/rootfs/srv/extra; "
                        "umoci repack --image busybox-extra:latest u >/dev/null; rm -rf u",
                        work),
                0);
        ofx_recompress_zstd(z, 0);
        ark_a = make_bundle(a, "busybox", "1.0");
        ark_b = make_bundle(b, "busybox-extra", "1.0");
        ark_z = make_bundle(z, "busybox", "1.0-zstd");
        assert_arkctl(&H, 0, "Imported", "bundle", "import", ark_a);
        assert_arkctl(&H, 0, "Imported", "bundle", "import", ark_b);
        assert_arkctl(&H, 0, "Imported", "bundle", "import", ark_z);
        l = layers();
        assert_int_equal(count_lines(l), 3); /* 2 shared by all three, 1 of b's own */
        assert_arkctl(&H, 1, "has 2 matches", "image", "show", "busybox");
        assert_arkctl(&H, 0, "Deleted", "image", "delete", "busybox@1.0");
        free(l);
        l = layers();
        assert_int_equal(count_lines(l), 3);
        assert_arkctl(&H, 0, "Deleted", "image", "delete", "busybox-extra");
        free(l);
        l = layers();
        assert_int_equal(count_lines(l), 2); /* the zstd image keeps the shared two */
        assert_arkctl(&H, 0, "Deleted", "image", "delete", "busybox", "--version", "1.0-zstd");
        free(l);
        l = layers();
        assert_string_equal(l, "");
}

/* Hostile images: arkctl will not sign them; signed anyway, arkd refuses them with the entry named
 * and nothing changes. */
static void test_hostile_refused(void **state) {
        const OLayer symlink_write[] = { { (const OEntry[]) {
                                                   { .path = "etc", .type = AE_IFLNK, .link = "/etc" },
                                                   { .path = "etc/cron.d/x", .data = "* * * * * root sh" } },
                                           2, OCI_COMPRESSION_GZIP } };
        const OLayer device[] = { { (const OEntry[]) { { .path = "dev/kmsg", .type = AE_IFCHR } }, 1,
                                    OCI_COMPRESSION_ZSTD } };
        struct {
                const char *name;
                const char *expect;
        } cases[] = {
                { "symlink", "entry 'etc/cron.d/x' would be written through 'etc', a symbolic link" },
                { "device", "entry 'dev/kmsg' is a device node" },
                { "flipped", "does not match its digest" },
        };
        _cleanup_free_ char *before = NULL;

        if (skip_reason)
                skip();
        before = snapshot();
        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                _cleanup_free_ char *dir = wpath(cases[k].name), *ark = NULL, *out = NULL, *err = NULL,
                                    *after = NULL;
                int r;

                if (k == 0)
                        ofx_layout(dir, symlink_write, 1, "latest");
                else if (k == 1)
                        ofx_layout(dir, device, 1, "latest");
                else {
                        /* The umoci image with one byte of its first layer changed (same size). */
                        _cleanup_(oci_image_freep) OciImage *img = NULL;
                        _cleanup_free_ char *blob = NULL, *data = NULL, *e2 = NULL, *o2 = NULL, *e3 = NULL;
                        _cleanup_close_ int fd = -EBADF;
                        size_t n;

                        assert_int_equal(harness_sh(&o2, &e3, "cp -a '%s/busybox' '%s'", work, dir), 0);
                        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        assert_int_equal(oci_image_load(fd, NULL, &img, &e2), 0);
                        blob = strprintf("%s/blobs/sha256/%s", dir, img->layers[0].digest);
                        data = ofx_read(blob, &n);
                        data[n / 2] ^= 1;
                        ofx_write(blob, data, n);
                }
                /* arkctl checks before it signs. */
                assert_arkctl(&H, 1, cases[k].expect, "bundle", "create", dir, "--kind", "container-image",
                              "--name", cases[k].name, "--version", "1", "--key", key_file, "-o",
                              "/dev/null/x.ark");
                ark = make_bundle_unchecked(dir, cases[k].name);
                r = harness_arkctl(&H, &out, &err, "bundle", "import", ark, NULL);
                print_message("%s: %s", cases[k].name, strna(err));
                assert_int_equal(r, 1);
                assert_non_null(strstr(err, cases[k].expect));
                after = snapshot();
                assert_string_equal(after, before);
        }
}

/* A restart removes layer staging and layers no image has, and keeps the rest. */
static void test_restart_cleanup(void **state) {
        _cleanup_free_ char *layout = wpath("busybox"), *ark = NULL, *l = NULL, *out = NULL, *err = NULL,
                            *after = NULL, *staging = strprintf("%s/containers/staging", H.state_dir);
        static const char orphan[] = "0000000000000000000000000000000000000000000000000000000000000000";

        if (skip_reason)
                skip();
        ark = make_bundle(layout, "busybox", "2.0");
        assert_arkctl(&H, 0, "Imported", "bundle", "import", ark);
        l = layers();
        assert_int_equal(
                harness_sh(
                        &out, &err,
                        "mkdir -p '%1$s/containers/layers/%2$s/etc' '%1$s/containers/staging/import-x/%2$s'",
                        H.state_dir, orphan),
                0);
        assert_int_equal(harness_stop_arkd(&H, SIGTERM), 0);
        assert_int_equal(harness_start_arkd(&H, NULL), 0);
        after = layers();
        assert_string_equal(after, l);
        assert_false(file_exists(staging));
        assert_arkctl(&H, 0, "busybox", "image", "list");
        assert_arkctl(&H, 0, "Deleted", "image", "delete", "busybox");
        free(after);
        after = layers();
        assert_string_equal(after, "");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_import_show_delete),
                cmocka_unit_test(test_layer_sharing),
                cmocka_unit_test(test_hostile_refused),
                cmocka_unit_test(test_restart_cleanup),
        };
        return cmocka_run_group_tests_name("container-images", tests, setup, teardown);
}

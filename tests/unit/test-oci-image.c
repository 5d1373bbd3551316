/* Tests for lib/shared/oci-image: an image made independently by umoci from busybox-static (two
 * layers, one whiteout) read, checked and unpacked as overlayfs lowerdirs; the same with a layer
 * recompressed with zstd; uncompressed, gzip and zstd layers written here; whiteouts and opaque
 * directories; and every hostile image of the acceptance 7 (a layer digest mismatch, '..',
 * an absolute symbolic link followed by a write, a device node, a layer bigger than declared, a
 * decompression bomb) and more, each refused with the entry named and nothing written. */

#include <errno.h>
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
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include "tmpdir.h"
#include "oci-fixture.h"
#include "shared/oci-image.h"

#define E(...) ((const OEntry[]) { __VA_ARGS__ })
#define L(c, ...) \
        { E(__VA_ARGS__), sizeof(E(__VA_ARGS__)) / sizeof(OEntry), c }

/* Loads the layout in dir and checks every layer (lowest first); then, only when all passed,
 * unpacks each into <dest>/<k>. 0 or the first error (sentence in *ret_error). */
static int check_and_unpack(const char *dir, const char *dest, OciImage **ret_img, char **ret_error) {
        _cleanup_(oci_image_freep) OciImage *img = NULL;
        _cleanup_(oci_tree_freep) OciTree *t = oci_tree_new();
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int r;

        assert_true(dfd >= 0);
        assert_non_null(t);
        r = oci_image_load(dfd, NULL, &img, ret_error);
        if (r < 0)
                return r;
        for (size_t k = 0; k < img->n_layers; k++) {
                _cleanup_close_ int bfd = oci_blob_open(dfd, img->layers[k].digest);
                OciLayerReport rep = {};

                assert_true(bfd >= 0);
                r = oci_layer_check(bfd, &img->layers[k], (unsigned) k, t, &rep, ret_error);
                oci_layer_report_done(&rep);
                if (r < 0)
                        return r;
        }
        for (size_t k = 0; dest && k < img->n_layers; k++) {
                _cleanup_close_ int bfd = oci_blob_open(dfd, img->layers[k].digest), lfd = -EBADF;
                _cleanup_free_ char *ld = strprintf("%s/%zu", dest, k);

                assert_int_equal(mkdir_p(ld, 0755), 0);
                lfd = open(ld, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                assert_true(lfd >= 0);
                r = oci_layer_unpack(bfd, &img->layers[k], (unsigned) k, lfd, ret_error);
                if (r < 0)
                        return r;
        }
        if (ret_img)
                *ret_img = TAKE_PTR(img);
        return 0;
}

static bool dir_is_empty(const char *p) {
        _cleanup_free_ char *cmd = strprintf("test -z \"$(ls -A '%s' 2>/dev/null)\"", p);

        return system(cmd) == 0;
}

static void assert_file(const char *dir, const char *rel, const char *content, mode_t mode, uid_t uid,
                        gid_t gid) {
        _cleanup_free_ char *p = join(dir, rel), *data = NULL;
        struct stat st;
        size_t n;

        assert_int_equal(lstat(p, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_mode & 07777, mode);
        assert_int_equal(st.st_uid, uid);
        assert_int_equal(st.st_gid, gid);
        if (content) {
                assert_int_equal(read_full_file(p, &data, &n), 0);
                assert_string_equal(data, content);
        }
}

static void assert_whiteout(const char *dir, const char *rel) {
        _cleanup_free_ char *p = join(dir, rel);
        struct stat st;

        assert_int_equal(lstat(p, &st), 0);
        assert_true(S_ISCHR(st.st_mode));
        assert_int_equal(major(st.st_rdev), 0);
        assert_int_equal(minor(st.st_rdev), 0);
}

static bool is_opaque(const char *dir, const char *rel) {
        _cleanup_free_ char *p = join(dir, rel);
        char v[4] = {};

        return lgetxattr(p, "trusted.overlay.opaque", v, sizeof(v)) == 1 && v[0] == 'y';
}

static void test_umoci_image(void **state) {
        _cleanup_tmpdir_ char *dir = make_tmpdir();
        _cleanup_(oci_image_freep) OciImage *img = NULL;
        _cleanup_free_ char *layout = join(dir, "img"), *dest = join(dir, "layers"), *err = NULL, *l0 = NULL,
                            *l1 = NULL, *link = NULL, *sh = NULL;
        const char *reason = NULL;
        char target[64] = {};
        struct stat st;
        int r;

        if (ofx_umoci_image(dir, "img", &reason) < 0) {
                print_message("skipped: %s\n", reason);
                skip();
        }
        r = check_and_unpack(layout, dest, &img, &err);
        if (r < 0)
                fail_msg("%s", err);
        assert_int_equal(img->n_layers, 2);
        assert_string_equal(img->ref_name, "latest");
        assert_int_equal(img->layers[0].compression, OCI_COMPRESSION_GZIP);
        assert_string_equal(img->config.entrypoint[0], "/bin/busybox");
        assert_null(img->config.entrypoint[1]);
        assert_string_equal(img->config.cmd[0], "sh");
        assert_true(strv_contains(img->config.env, "FOO=bar"));
        assert_string_equal(img->config.working_dir, "/srv");
        assert_null(img->config.user);
        assert_string_equal(img->config.os, "linux");
        assert_non_null(img->config.architecture);

        l0 = join(dest, "0");
        l1 = join(dest, "1");
        /* Layer 0: the files as umoci wrote them, owners and modes kept. */
        assert_file(l0, "bin/busybox", NULL, 0755, 0, 0);
        assert_file(l0, "etc/gone", "bye\n", 0644, 0, 0);
        assert_file(l0, "etc/kept", "keep\n", 0640, 1000, 1000);
        sh = join(l0, "bin/sh");
        assert_int_equal(readlink(sh, target, sizeof(target) - 1), 7);
        assert_string_equal(target, "busybox");
        /* Layer 1: the whiteout as overlayfs wants it, and the new file. */
        assert_whiteout(l1, "etc/gone");
        link = join(l1, "etc/.wh.gone");
        assert_int_equal(lstat(link, &st), -1);
        assert_file(l1, "srv/added", "new\n", 0644, 0, 0);

        /* Stacked by overlayfs as lowerdirs (highest first): the whited-out file is gone, the rest is
         * there. In a mount namespace of its own, so nothing stays mounted. */
        {
                _cleanup_free_ char *mnt = join(dir, "mnt"), *cmd = NULL;

                assert_int_equal(mkdir(mnt, 0755), 0);
                cmd = strprintf("unshare -m sh -ec 'mount -t overlay overlay -o lowerdir=%s:%s %s; "
                                "test ! -e %s/etc/gone; test \"$(cat %s/etc/kept)\" = keep; "
                                "test \"$(cat %s/srv/added)\" = new; test -x %s/bin/busybox'",
                                l1, l0, mnt, mnt, mnt, mnt, mnt);
                assert_int_equal(system(cmd), 0);
        }
}

static void test_umoci_zstd(void **state) {
        _cleanup_tmpdir_ char *dir = make_tmpdir();
        _cleanup_(oci_image_freep) OciImage *img = NULL;
        _cleanup_free_ char *layout = join(dir, "img"), *dest = join(dir, "layers"), *err = NULL, *l0 = NULL;
        const char *reason = NULL;

        if (ofx_umoci_image(dir, "img", &reason) < 0) {
                print_message("skipped: %s\n", reason);
                skip();
        }
        ofx_recompress_zstd(layout, 0);
        if (check_and_unpack(layout, dest, &img, &err) < 0)
                fail_msg("%s", err);
        assert_int_equal(img->layers[0].compression, OCI_COMPRESSION_ZSTD);
        assert_int_equal(img->layers[1].compression, OCI_COMPRESSION_GZIP);
        l0 = join(dest, "0");
        assert_file(l0, "etc/gone", "bye\n", 0644, 0, 0);
        assert_file(l0, "bin/busybox", NULL, 0755, 0, 0);
}

/* Layers written here, each compression; whiteouts, opaque directories, hard links, setuid. */
static void test_layers(void **state) {
        const OLayer layers[] = {
                L(OCI_COMPRESSION_NONE, { .path = "./", .type = AE_IFDIR },
                  { .path = "etc/", .type = AE_IFDIR }, { .path = "etc/a", .data = "a" },
                  { .path = "etc/b", .data = "b" }, { .path = "var/", .type = AE_IFDIR },
                  { .path = "var/lib/old", .data = "old" }, { .path = "opt/x/y", .data = "y" }),
                L(OCI_COMPRESSION_GZIP, { .path = "etc/.wh.a" }, { .path = "var/lib/.wh..wh..opq" },
                  { .path = "var/lib/new", .data = "new" }, { .path = "opt/.wh.x" },
                  { .path = "opt/x/", .type = AE_IFDIR }, { .path = "opt/x/z", .data = "z" }),
                L(OCI_COMPRESSION_ZSTD, { .path = "usr/bin/su", .data = "su", .mode = 04755 },
                  { .path = "usr/bin/su2", .hardlink = "usr/bin/su" },
                  { .path = "usr/lib/cap", .data = "c", .xattr = "user.note=hi" },
                  { .path = "etc/b", .data = "B", .uid = 7, .gid = 8, .mode = 0600 }),
        };
        _cleanup_tmpdir_ char *dir = make_tmpdir();
        _cleanup_(oci_image_freep) OciImage *img = NULL;
        _cleanup_free_ char *layout = join(dir, "img"), *dest = join(dir, "layers"), *err = NULL, *l0 = NULL,
                            *l1 = NULL, *l2 = NULL, *su = NULL, *su2 = NULL, *cap = NULL;
        struct stat a, b;
        char v[8] = {};

        if (geteuid() != 0) {
                print_message("skipped: not root (owners, whiteout devices and trusted.* xattrs)\n");
                skip();
        }
        ofx_layout(layout, layers, ELEMENTSOF(layers), "t");
        if (check_and_unpack(layout, dest, &img, &err) < 0)
                fail_msg("%s", err);
        assert_int_equal(img->layers[0].compression, OCI_COMPRESSION_NONE);
        assert_int_equal(img->layers[1].compression, OCI_COMPRESSION_GZIP);
        assert_int_equal(img->layers[2].compression, OCI_COMPRESSION_ZSTD);
        l0 = join(dest, "0");
        l1 = join(dest, "1");
        l2 = join(dest, "2");
        assert_file(l0, "var/lib/old", "old", 0644, 0, 0);
        assert_whiteout(l1, "etc/a");
        assert_true(is_opaque(l1, "var/lib"));
        assert_false(is_opaque(l1, "var"));
        assert_file(l1, "var/lib/new", "new", 0644, 0, 0);
        /* A directory made again after its whiteout in the same layer hides the lower one. */
        assert_true(is_opaque(l1, "opt/x"));
        assert_file(l1, "opt/x/z", "z", 0644, 0, 0);
        assert_file(l2, "usr/bin/su", "su", 04755, 0, 0);
        su = join(l2, "usr/bin/su");
        su2 = join(l2, "usr/bin/su2");
        assert_int_equal(stat(su, &a), 0);
        assert_int_equal(stat(su2, &b), 0);
        assert_int_equal(a.st_ino, b.st_ino);
        cap = join(l2, "usr/lib/cap");
        assert_int_equal(getxattr(cap, "user.note", v, sizeof(v)), 2);
        assert_string_equal(v, "hi");
        assert_file(l2, "etc/b", "B", 0600, 7, 8);
}

/* Each hostile image: refused by the check pass with `expect` in the sentence, the layers'
 * directory untouched. */
typedef struct Hostile {
        const char *name;
        OLayer layers[2];
        size_t n;
        int error;
        const char *expect;
} Hostile;

static void test_hostile_entries(void **state) {
        const Hostile cases[] = {
                { "dotdot",
                  { L(OCI_COMPRESSION_GZIP, { .path = "etc/../../escape", .data = "x" }) },
                  1,
                  -EINVAL,
                  "entry 'etc/../../escape' has a '..' component" },
                { "absolute",
                  { L(OCI_COMPRESSION_NONE, { .path = "/etc/passwd", .data = "x" }) },
                  1,
                  -EINVAL,
                  "entry '/etc/passwd' is an absolute path" },
                { "symlink-write",
                  { L(OCI_COMPRESSION_GZIP, { .path = "evil", .type = AE_IFLNK, .link = "/etc" },
                      { .path = "evil/passwd", .data = "root::0:0::/:/bin/sh\n" }) },
                  1,
                  -EINVAL,
                  "entry 'evil/passwd' would be written through 'evil', a symbolic link" },
                { "symlink-lower-layer",
                  { L(OCI_COMPRESSION_GZIP, { .path = "usr/", .type = AE_IFDIR },
                      { .path = "usr/lib", .type = AE_IFLNK, .link = "/" }),
                    L(OCI_COMPRESSION_ZSTD, { .path = "usr/lib/etc/shadow", .data = "x" }) },
                  2,
                  -EINVAL,
                  "Layer 1 (sha256:" /* the second layer */ },
                { "char-device",
                  { L(OCI_COMPRESSION_GZIP, { .path = "dev/mem", .type = AE_IFCHR }) },
                  1,
                  -EINVAL,
                  "entry 'dev/mem' is a device node (character 1:3)" },
                { "block-device",
                  { L(OCI_COMPRESSION_ZSTD, { .path = "sda", .type = AE_IFBLK }) },
                  1,
                  -EINVAL,
                  "entry 'sda' is a device node (block" },
                { "hardlink-missing",
                  { L(OCI_COMPRESSION_GZIP, { .path = "a", .hardlink = "nothing" }) },
                  1,
                  -EINVAL,
                  "entry 'a' is a hard link to 'nothing', which is no earlier file of this layer" },
                { "hardlink-outside",
                  { L(OCI_COMPRESSION_GZIP, { .path = "a", .hardlink = "../../etc/shadow" }) },
                  1,
                  -EINVAL,
                  "entry 'a' is a hard link to '../../etc/shadow', which is outside the layer" },
                { "hardlink-lower-layer",
                  { L(OCI_COMPRESSION_GZIP, { .path = "f", .data = "f" }),
                    L(OCI_COMPRESSION_GZIP, { .path = "g", .hardlink = "f" }) },
                  2,
                  -EINVAL,
                  "entry 'g' is a hard link to 'f', which is no earlier file of this layer" },
                { "overlay-xattr",
                  { L(OCI_COMPRESSION_GZIP,
                      { .path = "d/", .type = AE_IFDIR, .xattr = "trusted.overlay.redirect=/etc" }) },
                  1,
                  -EINVAL,
                  "entry 'd/' carries the xattr 'trusted.overlay.redirect'" },
                { "aufs",
                  { L(OCI_COMPRESSION_GZIP, { .path = ".wh..wh.plnk/1.2", .data = "" }) },
                  1,
                  -EINVAL,
                  "lies below a whiteout name" },
                { "aufs-file",
                  { L(OCI_COMPRESSION_GZIP, { .path = "x/.wh..wh.aufs", .data = "" }) },
                  1,
                  -EINVAL,
                  "entry 'x/.wh..wh.aufs' is aufs metadata" },
        };

        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                _cleanup_tmpdir_ char *dir = make_tmpdir();
                _cleanup_free_ char *layout = join(dir, "img"), *dest = join(dir, "layers"), *err = NULL;
                int r;

                ofx_layout(layout, cases[k].layers, cases[k].n, "t");
                assert_int_equal(mkdir(dest, 0755), 0);
                r = check_and_unpack(layout, dest, NULL, &err);
                print_message("%s: %s\n", cases[k].name, strna(err));
                assert_int_equal(r, cases[k].error);
                assert_non_null(err);
                assert_non_null(strstr(err, cases[k].expect));
                assert_true(dir_is_empty(dest));
        }
}

/* The lower layer's symbolic link is named as such. */
static void test_symlink_lower_layer_named(void **state) {
        const OLayer layers[] = {
                L(OCI_COMPRESSION_GZIP, { .path = "usr/lib", .type = AE_IFLNK, .link = "/" }),
                L(OCI_COMPRESSION_GZIP, { .path = "usr/lib/etc/shadow", .data = "x" }),
        };
        _cleanup_tmpdir_ char *dir = make_tmpdir();
        _cleanup_free_ char *layout = join(dir, "img"), *err = NULL;

        ofx_layout(layout, layers, 2, "t");
        assert_int_equal(check_and_unpack(layout, NULL, NULL, &err), -EINVAL);
        assert_non_null(strstr(err,
                               "entry 'usr/lib/etc/shadow' would be written through 'usr/lib', a symbolic "
                               "link of a lower layer"));
}

/* A whiteout of the symbolic link, then a directory of that name: no longer a link. */
static void test_symlink_replaced(void **state) {
        const OLayer layers[] = {
                L(OCI_COMPRESSION_GZIP, { .path = "lib", .type = AE_IFLNK, .link = "usr/lib" }),
                L(OCI_COMPRESSION_GZIP, { .path = ".wh.lib" }, { .path = "lib/", .type = AE_IFDIR },
                  { .path = "lib/x", .data = "x" }),
        };
        _cleanup_tmpdir_ char *dir = make_tmpdir();
        _cleanup_free_ char *layout = join(dir, "img"), *err = NULL;

        ofx_layout(layout, layers, 2, "t");
        if (check_and_unpack(layout, NULL, NULL, &err) < 0)
                fail_msg("%s", err);
}

/* Blobs changed after the manifest was written: a digest mismatch, a layer bigger than declared,
 * a diff_id that does not match, a tampered manifest. */
static void test_tampered_blobs(void **state) {
        const OLayer layers[] = {
                L(OCI_COMPRESSION_GZIP, { .path = "a", .data = "hello" }),
        };
        _cleanup_tmpdir_ char *dir = make_tmpdir();
        _cleanup_(oci_image_freep) OciImage *img = NULL;
        _cleanup_free_ char *layout = join(dir, "img"), *dest = join(dir, "layers"), *err = NULL,
                            *blob = NULL, *data = NULL;
        _cleanup_close_ int dfd = -EBADF, bfd = -EBADF;
        _cleanup_(oci_tree_freep) OciTree *t = oci_tree_new();
        OciLayerReport rep = {};
        OciLayer l;
        size_t n;
        int fd;

        ofx_layout(layout, layers, 1, "t");
        assert_int_equal(mkdir(dest, 0755), 0);
        dfd = open(layout, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_int_equal(oci_image_load(dfd, "t", &img, &err), 0);
        l = img->layers[0];
        blob = strprintf("%s/blobs/sha256/%s", layout, l.digest);

        /* One byte changed, same size: the digest does not match. */
        data = ofx_read(blob, &n);
        data[n / 2] ^= 0x55;
        ofx_write(blob, data, n);
        err = mfree(err);
        assert_int_equal(check_and_unpack(layout, dest, NULL, &err), -EBADMSG);
        print_message("flipped: %s\n", err);
        assert_non_null(strstr(err, "does not match its digest"));
        assert_non_null(strstr(err, l.digest));
        assert_true(dir_is_empty(dest));
        data[n / 2] ^= 0x55;

        /* Bigger than declared: refused when loading, and by the check itself. */
        fd = open(blob, O_WRONLY | O_APPEND | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "trailer", 7), 7);
        close(fd);
        err = mfree(err);
        assert_int_equal(check_and_unpack(layout, dest, NULL, &err), -EBADMSG);
        print_message("appended: %s\n", err);
        assert_non_null(strstr(err, "is bigger than declared"));
        bfd = open(blob, O_RDONLY | O_CLOEXEC);
        err = mfree(err);
        assert_int_equal(oci_layer_check(bfd, &l, 0, t, &rep, &err), -EBADMSG);
        assert_non_null(strstr(err, "is bigger than its descriptor's"));
        oci_layer_report_done(&rep);
        assert_true(dir_is_empty(dest));
        ofx_write(blob, data, n);

        /* The tar is not the one the config names. */
        memset(l.diff_id, 'a', SHA256_HEX - 1);
        bfd = safe_close(bfd);
        bfd = open(blob, O_RDONLY | O_CLOEXEC);
        err = mfree(err);
        assert_int_equal(oci_layer_check(bfd, &l, 0, t, &rep, &err), -EBADMSG);
        assert_non_null(strstr(err, "does not match the config's diff_id"));
        oci_layer_report_done(&rep);

        /* The manifest changed under its digest. */
        free(blob);
        blob = strprintf("%s/blobs/sha256/%s", layout, img->manifest_digest);
        free(data);
        data = ofx_read(blob, &n);
        data[n - 2] = data[n - 2] == ' ' ? '\t' : ' ';
        ofx_write(blob, data, n);
        err = mfree(err);
        assert_int_equal(check_and_unpack(layout, dest, NULL, &err), -EBADMSG);
        assert_non_null(strstr(err, "The manifest blob sha256:"));
        assert_non_null(strstr(err, "does not match its digest"));
}

/* A zstd layer of a 1 GiB file of zeros: refused once decompression passes its bound. */
static void test_bomb(void **state) {
        const OLayer layers[] = {
                L(OCI_COMPRESSION_ZSTD, { .path = "zeros", .zeros = (size_t) 1 << 30 }),
        };
        _cleanup_tmpdir_ char *dir = make_tmpdir();
        _cleanup_free_ char *layout = join(dir, "img"), *dest = join(dir, "layers"), *err = NULL;

        ofx_layout(layout, layers, 1, "t");
        assert_int_equal(mkdir(dest, 0755), 0);
        assert_int_equal(check_and_unpack(layout, dest, NULL, &err), -EFBIG);
        print_message("bomb: %s\n", err);
        assert_non_null(strstr(err, "a decompression bomb is refused"));
        assert_true(dir_is_empty(dest));
}

/* The JSON documents' own refusals. */
static void test_json(void **state) {
        static const char *const bad_index[][2] = {
                { "{\"schemaVersion\":1,\"manifests\":[]}", "schemaVersion must be 2" },
                { "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                  "\"digest\":\"sha512:ab\",\"size\":1}]}",
                  "is not sha256:<64 lowercase hex digits>" },
                { "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
                  "\"digest\":\"sha256:0000000000000000000000000000000000000000000000000000000000000000\","
                  "\"size\":1}]}",
                  "is an image index (several platforms)" },
                { "[1]", "must be a JSON object" },
                { "{\"schemaVersion\":2,\"manifests\":[{\"digest\":\"sha256:"
                  "0000000000000000000000000000000000000000000000000000000000000000\",\"size\":-1}]}",
                  "size must be a whole number" },
        };
        static const char *const bad_manifest[][2] = {
                { "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
                  "\"digest\":\"sha256:0000000000000000000000000000000000000000000000000000000000000000\","
                  "\"size\":2},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+bzip2\","
                  "\"digest\":\"sha256:0000000000000000000000000000000000000000000000000000000000000000\","
                  "\"size\":2}]}",
                  "layers[0]'s media type 'application/vnd.oci.image.layer.v1.tar+bzip2' is not a tar layer" },
                { "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"text/plain\",\"digest\":\"sha256:"
                  "0000000000000000000000000000000000000000000000000000000000000000\",\"size\":2},\"layers\":[]}",
                  "config's media type 'text/plain' is not an image config" },
        };
        static const char *const bad_config[][2] = {
                { "{\"architecture\":\"amd64\",\"os\":\"windows\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
                  "is for os 'windows'" },
                { "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Env\":[\"NOEQUALS\"]},"
                  "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
                  "config.Env entry 'NOEQUALS' is not NAME=VALUE" },
                { "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Cmd\":[1]},"
                  "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
                  "config.Cmd[0] must be a string" },
                { "{\"architecture\":\"amd64\",\"os\":\"linux\"}", "rootfs.type must be \"layers\"" },
        };
        char hex[SHA256_HEX];
        uint64_t size;

        for (size_t k = 0; k < ELEMENTSOF(bad_index); k++) {
                _cleanup_free_ char *err = NULL;

                assert_int_equal(oci_index_parse(bad_index[k][0], strlen(bad_index[k][0]), NULL, hex, &size,
                                                 NULL, &err),
                                 -EINVAL);
                print_message("%s\n", err);
                assert_non_null(strstr(err, bad_index[k][1]));
                assert_true(startswith(err, "index.json"));
        }
        for (size_t k = 0; k < ELEMENTSOF(bad_manifest); k++) {
                _cleanup_free_ char *err = NULL;
                OciImage img = {};

                assert_int_equal(oci_manifest_parse(bad_manifest[k][0], strlen(bad_manifest[k][0]), "m",
                                                    &img, &size, &err),
                                 -EINVAL);
                print_message("%s\n", err);
                assert_non_null(strstr(err, bad_manifest[k][1]));
                assert_null(img.layers);
        }
        for (size_t k = 0; k < ELEMENTSOF(bad_config); k++) {
                _cleanup_free_ char *err = NULL;
                OciConfig c = {};

                assert_int_equal(oci_config_parse(bad_config[k][0], strlen(bad_config[k][0]), "c", &c, &err),
                                 -EINVAL);
                print_message("%s\n", err);
                assert_non_null(strstr(err, bad_config[k][1]));
                assert_null(c.os);
        }
}

/* Not a layout at all, or a layout whose index names another tag. */
static void test_layout(void **state) {
        const OLayer layers[] = { L(OCI_COMPRESSION_GZIP, { .path = "a", .data = "a" }) };
        _cleanup_tmpdir_ char *dir = make_tmpdir();
        _cleanup_free_ char *layout = join(dir, "img"), *err = NULL;
        _cleanup_(oci_image_freep) OciImage *img = NULL;
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), lfd = -EBADF;

        assert_int_equal(oci_image_load(dfd, NULL, &img, &err), -EINVAL);
        assert_non_null(strstr(err, "oci-layout is missing"));
        ofx_layout(layout, layers, 1, "v1");
        lfd = open(layout, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        err = mfree(err);
        assert_int_equal(oci_image_load(lfd, "v2", &img, &err), -EINVAL);
        assert_non_null(strstr(err, "names no image 'v2'"));
        assert_int_equal(oci_image_load(lfd, "v1", &img, &err), 0);
        assert_string_equal(img->ref_name, "v1");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_umoci_image),
                cmocka_unit_test(test_umoci_zstd),
                cmocka_unit_test(test_layers),
                cmocka_unit_test(test_hostile_entries),
                cmocka_unit_test(test_symlink_lower_layer_named),
                cmocka_unit_test(test_symlink_replaced),
                cmocka_unit_test(test_tampered_blobs),
                cmocka_unit_test(test_bomb),
                cmocka_unit_test(test_json),
                cmocka_unit_test(test_layout),
        };

        return cmocka_run_group_tests(tests, tmp_root_setup, tmp_root_teardown);
}

/* Tests for appliance/disk: which files are accepted as base images (qcow2 headers as qemu-img
 * writes them, raw images by size), what is refused and why, and the overlays qemu-img makes. */

#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/spawn-util.h"
#include "basic/string-util.h"
#include "disk.h"

static char *tmp;

static int group_setup(void **state) {
        char t[] = "/tmp/ark-test-disk.XXXXXX";

        if (!mkdtemp(t))
                return -1;
        tmp = strdup(t);
        return tmp ? 0 : -1;
}

static int group_teardown(void **state) {
        if (tmp)
                (void) rm_rf(tmp);
        tmp = mfree(tmp);
        return 0;
}

static char *tmp_file(const char *name) {
        char *p = path_join(tmp, name);
        assert_non_null(p);
        return p;
}

static void qemu_img(const char *a1, const char *a2, const char *a3, const char *a4, const char *a5,
                     const char *a6, const char *a7, const char *a8) {
        char *argv[] = { (char *) "qemu-img", (char *) a1, (char *) a2, (char *) a3, (char *) a4,
                         (char *) a5,         (char *) a6, (char *) a7, (char *) a8, NULL };
        _cleanup_free_ char *out = NULL;
        int r = spawn_wait(argv, &out);

        if (r != 0)
                fail_msg("qemu-img %s failed (%d): %s", a1, r, strna(out));
}

/* A qcow2 header as the spec lays it out, with the fields a test wants to change. */
static void put_be32(uint8_t *p, uint32_t v) {
        p[0] = (uint8_t) (v >> 24);
        p[1] = (uint8_t) (v >> 16);
        p[2] = (uint8_t) (v >> 8);
        p[3] = (uint8_t) v;
}

static void put_be64(uint8_t *p, uint64_t v) {
        put_be32(p, (uint32_t) (v >> 32));
        put_be32(p + 4, (uint32_t) v);
}

static void make_header(uint8_t h[DISK_HEADER_SIZE], uint32_t version, uint64_t backing_offset,
                        uint32_t cluster_bits, uint64_t size, uint32_t crypt) {
        memset(h, 0, DISK_HEADER_SIZE);
        memcpy(h, "QFI\xfb", 4);
        put_be32(h + 4, version);
        put_be64(h + 8, backing_offset);
        put_be32(h + 16, backing_offset ? 10 : 0);
        put_be32(h + 20, cluster_bits);
        put_be64(h + 24, size);
        put_be32(h + 32, crypt);
}

static void assert_refused(const uint8_t *buf, size_t n, uint64_t file_size, const char *why) {
        DiskImage img = { .format = "untouched" };
        const char *reason = NULL;

        assert_int_equal(disk_parse_header(buf, n, file_size, &img, &reason), -EMEDIUMTYPE);
        assert_string_equal(img.format, "untouched");
        assert_non_null(reason);
        if (!strstr(reason, why))
                fail_msg("reason '%s' does not mention '%s'", reason, why);
}

static void test_parse_qcow2(void **state) {
        uint8_t h[DISK_HEADER_SIZE];
        DiskImage img = {};
        const char *reason = "unset";

        make_header(h, 3, 0, 16, UINT64_C(40) << 30, 0);
        assert_int_equal(disk_parse_header(h, sizeof(h), 196608, &img, &reason), 0);
        assert_string_equal(img.format, "qcow2");
        assert_true(img.virtual_size == UINT64_C(40) << 30);
        assert_string_equal(reason, "unset"); /* untouched on success */

        make_header(h, 2, 0, 16, UINT64_C(1) << 20, 0);
        assert_int_equal(disk_parse_header(h, 72, 196608, &img, NULL), 0);
        assert_true(img.virtual_size == UINT64_C(1) << 20);

        make_header(h, 3, 0x150, 16, UINT64_C(1) << 30, 0);
        assert_refused(h, sizeof(h), 196608, "backing file of its own");
        make_header(h, 4, 0, 16, UINT64_C(1) << 30, 0);
        assert_refused(h, sizeof(h), 196608, "version");
        make_header(h, 1, 0, 16, UINT64_C(1) << 30, 0);
        assert_refused(h, sizeof(h), 196608, "version");
        make_header(h, 3, 0, 8, UINT64_C(1) << 30, 0);
        assert_refused(h, sizeof(h), 196608, "cluster size");
        make_header(h, 3, 0, 22, UINT64_C(1) << 30, 0);
        assert_refused(h, sizeof(h), 196608, "cluster size");
        make_header(h, 3, 0, 16, UINT64_C(1) << 30, 2);
        assert_refused(h, sizeof(h), 196608, "encrypted");
        make_header(h, 3, 0, 16, 1000, 0);
        assert_refused(h, sizeof(h), 196608, "virtual size");
        make_header(h, 3, 0, 16, (UINT64_C(1) << 30) + 1, 0);
        assert_refused(h, sizeof(h), 196608, "virtual size");
        /* The magic alone, or a header cut short, is not an image. */
        make_header(h, 3, 0, 16, UINT64_C(1) << 30, 0);
        assert_refused(h, 4, 4, "truncated");
        assert_refused(h, 71, 71, "truncated");
}

static void test_parse_raw(void **state) {
        uint8_t zero[DISK_HEADER_SIZE] = {};
        static const char passwd[] = "root:x:0:0:root:/root:/bin/bash\n";
        DiskImage img = {};

        assert_int_equal(disk_parse_header(zero, sizeof(zero), UINT64_C(1) << 20, &img, NULL), 0);
        assert_string_equal(img.format, "raw");
        assert_true(img.virtual_size == UINT64_C(1) << 20);
        assert_int_equal(disk_parse_header(zero, sizeof(zero), UINT64_C(8) << 30, &img, NULL), 0);
        assert_true(img.virtual_size == UINT64_C(8) << 30);

        /* Host files are not disk images: too small, or not whole sectors. */
        assert_refused((const uint8_t *) passwd, strlen(passwd), strlen(passwd), "512-byte sectors");
        assert_refused(zero, sizeof(zero), (UINT64_C(1) << 20) - 512, "too small");
        assert_refused(zero, sizeof(zero), (UINT64_C(1) << 20) + 100, "512-byte sectors");
        assert_refused(zero, 0, 0, "too small");
}

/* What qemu-img itself writes is accepted, with the size it was given; an overlay qemu-img made
 * (which has a backing file) is not a base image. */
static void test_inspect_files(void **state) {
        _cleanup_free_ char *q = tmp_file("base.qcow2"), *raw = tmp_file("base.raw"),
                            *ov = tmp_file("ov.qcow2"), *missing = tmp_file("missing"), *msg = NULL;
        DiskImage img = {};
        const char *reason = NULL;

        qemu_img("create", "-q", "-f", "qcow2", q, "3G", NULL, NULL);
        assert_int_equal(disk_image_inspect(q, &img, &reason), 0);
        assert_string_equal(img.format, "qcow2");
        assert_true(img.virtual_size == UINT64_C(3) << 30);

        qemu_img("create", "-q", "-f", "raw", raw, "2M", NULL, NULL);
        assert_int_equal(disk_image_inspect(raw, &img, &reason), 0);
        assert_string_equal(img.format, "raw");
        assert_true(img.virtual_size == UINT64_C(2) << 20);

        assert_int_equal(disk_create_qcow2(ov, 0, q, "qcow2", &msg), 0);
        assert_null(msg);
        assert_int_equal(disk_image_inspect(ov, &img, &reason), -EMEDIUMTYPE);
        assert_non_null(strstr(reason, "backing file"));

        assert_int_equal(disk_image_inspect(missing, &img, &reason), -ENOENT);
        assert_null(reason);
        assert_int_equal(disk_image_inspect(tmp, &img, &reason) < 0, 1); /* a directory */
}

static void test_create(void **state) {
        _cleanup_free_ char *empty = tmp_file("empty.qcow2"), *base = tmp_file("b.raw"),
                            *ov = tmp_file("ov2.qcow2"), *bad = tmp_file("no/such/dir/x.qcow2"), *msg = NULL;
        DiskImage img = {};
        struct stat st;
        mode_t old_umask = umask(022);

        assert_int_equal(disk_create_qcow2(empty, UINT64_C(5) << 30, NULL, NULL, &msg), 0);
        assert_int_equal(disk_image_inspect(empty, &img, NULL), 0);
        assert_true(img.virtual_size == UINT64_C(5) << 30);
        /* A VM's disk is root's alone, whatever the umask (libvirt hands it to QEMU's user). */
        assert_int_equal(stat(empty, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);

        /* An overlay on a raw image, larger than the image. */
        qemu_img("create", "-q", "-f", "raw", base, "1M", NULL, NULL);
        assert_int_equal(disk_create_qcow2(ov, UINT64_C(2) << 30, base, "raw", &msg), 0);
        assert_int_equal(stat(ov, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);

        /* A failure carries qemu-img's sentence, without its final period, and leaves no file. */
        assert_int_equal(disk_create_qcow2(bad, UINT64_C(1) << 30, NULL, NULL, &msg), -EIO);
        assert_non_null(msg);
        assert_non_null(strstr(msg, "qemu-img failed: "));
        assert_false(endswith(msg, "."));
        assert_false(file_exists(bad));
        umask(old_umask);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_qcow2),
                cmocka_unit_test(test_parse_raw),
                cmocka_unit_test(test_inspect_files),
                cmocka_unit_test(test_create),
        };
        return cmocka_run_group_tests_name("disk", tests, group_setup, group_teardown);
}

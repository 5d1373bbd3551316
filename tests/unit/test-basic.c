/* Tests for lib/basic: value parsers and object names (parse-util), human sizes, XML escaping,
 * StrBuf and string vectors (string-util), paths and files (fileio), running helper programs
 * (spawn-util) and the sorted list insertion (list.h). Everything here is what a user types or
 * reads: sizes in `arkctl vm create --memory 4G`, names of tenants and VMs, sizes in tables. */

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "basic/dirent-util.h"
#include "basic/fileio.h"
#include "basic/list.h"
#include "basic/log.h"
#include "basic/macro.h"
#include "basic/parse-util.h"
#include "basic/spawn-util.h"
#include "basic/string-util.h"

#define KiB(x) ((uint64_t) (x) << 10)
#define MiB(x) ((uint64_t) (x) << 20)
#define GiB(x) ((uint64_t) (x) << 30)
#define TiB(x) ((uint64_t) (x) << 40)

/* ------------------------------------------------------------------------------------------ */
/* helpers */

#include "tmpdir.h"

static bool is_dir(const char *p) {
        struct stat st;

        return lstat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static char *slurp(const char *p) {
        char *s = NULL;

        assert_int_equal(read_full_file(p, &s, NULL), 0);
        return s;
}

/* ------------------------------------------------------------------------------------------ */
/* parse-util */

static void assert_size(const char *s, uint64_t expected) {
        uint64_t v = 0;
        int r = parse_size(s, &v);

        if (r != 0)
                fail_msg("parse_size(\"%s\") = %d, expected %" PRIu64, s, r, expected);
        if (v != expected)
                fail_msg("parse_size(\"%s\") = %" PRIu64 ", expected %" PRIu64, s, v, expected);
}

static void assert_size_refused(const char *s, int expected) {
        uint64_t v = 4242;
        int r = parse_size(s, &v);

        if (r != expected)
                fail_msg("parse_size(\"%s\") = %d (value %" PRIu64 "), expected %d", s, r, v, expected);
        /* The output is written only on success. */
        assert_int_equal(v, 4242);
}

static void test_parse_size(void **state) {
        /* A bare number is bytes; every unit is binary, whatever its spelling. */
        assert_size("0", 0);
        assert_size("512", 512);
        assert_size("512B", 512);
        assert_size("512M", MiB(512));
        assert_size("512MB", MiB(512));
        assert_size("512MiB", MiB(512));
        assert_size("4G", GiB(4));
        assert_size("4g", GiB(4));
        assert_size("4GB", GiB(4));
        assert_size("4GiB", GiB(4));
        assert_size("4 GiB", GiB(4));
        assert_size("100KiB", KiB(100));
        assert_size("100K", KiB(100));
        assert_size("100kb", KiB(100));
        assert_size("2T", TiB(2));
        assert_size("1.5T", TiB(1) + TiB(1) / 2);
        assert_size("1.5G", GiB(1) + GiB(1) / 2);
        assert_size("0.5K", 512);
        assert_size("1.25M", MiB(1) + MiB(1) / 4);
        assert_size("1.0", 1); /* a zero fraction is still a whole number of bytes */
        assert_size("18446744073709551615", UINT64_MAX);
        /* The largest count of gibibytes that fits. */
        assert_size("17179869183G", UINT64_C(17179869183) << 30);

        /* Fractions of a byte, signs, missing digits, unknown units. */
        assert_size_refused("1.5", -EINVAL);
        assert_size_refused("1.5B", -EINVAL);
        assert_size_refused("-1", -EINVAL);
        assert_size_refused("-1G", -EINVAL);
        assert_size_refused("+1G", -EINVAL);
        assert_size_refused("", -EINVAL);
        assert_size_refused(NULL, -EINVAL);
        assert_size_refused("G", -EINVAL);
        assert_size_refused(".5G", -EINVAL);
        assert_size_refused("5.G", -EINVAL);
        assert_size_refused("4Q", -EINVAL);
        assert_size_refused("4E", -EINVAL);
        assert_size_refused("4G ", -EINVAL);
        assert_size_refused(" 4G", -EINVAL);
        assert_size_refused("4GG", -EINVAL);
        assert_size_refused("0x10", -EINVAL);
        assert_size_refused("1e9", -EINVAL);

        /* Too big for 64 bits, before or after the unit is applied. */
        assert_size_refused("18446744073709551616", -ERANGE);
        assert_size_refused("99999999999999999999999", -ERANGE);
        assert_size_refused("17179869184G", -ERANGE);
        assert_size_refused("16777216T", -ERANGE);
        assert_size_refused("18014398509481984K", -ERANGE);
}

static void test_parse_u32(void **state) {
        uint32_t v = 7;

        assert_int_equal(parse_u32("0", &v), 0);
        assert_int_equal(v, 0);
        assert_int_equal(parse_u32("42", &v), 0);
        assert_int_equal(v, 42);
        assert_int_equal(parse_u32("007", &v), 0);
        assert_int_equal(v, 7);
        assert_int_equal(parse_u32("4294967295", &v), 0);
        assert_int_equal(v, UINT32_MAX);

        v = 7;
        assert_int_equal(parse_u32("4294967296", &v), -ERANGE);
        assert_int_equal(parse_u32("18446744073709551616", &v), -ERANGE);
        assert_int_equal(parse_u32("-1", &v), -EINVAL);
        assert_int_equal(parse_u32("+1", &v), -EINVAL);
        assert_int_equal(parse_u32(" 1", &v), -EINVAL);
        assert_int_equal(parse_u32("1 ", &v), -EINVAL);
        assert_int_equal(parse_u32("1s", &v), -EINVAL);
        assert_int_equal(parse_u32("0x1", &v), -EINVAL);
        assert_int_equal(parse_u32("", &v), -EINVAL);
        assert_int_equal(parse_u32(NULL, &v), -EINVAL);
        assert_int_equal(v, 7);
}

static void test_parse_int(void **state) {
        int v = 7;

        assert_int_equal(parse_int("-2147483648", &v), 0);
        assert_int_equal(v, INT32_MIN);
        assert_int_equal(parse_int("2147483647", &v), 0);
        assert_int_equal(v, INT32_MAX);
        assert_int_equal(parse_int("-1", &v), 0);
        assert_int_equal(v, -1);

        v = 7;
        assert_int_equal(parse_int("2147483648", &v), -ERANGE);
        assert_int_equal(parse_int("-2147483649", &v), -ERANGE);
        assert_int_equal(parse_int(" 1", &v), -EINVAL);
        assert_int_equal(parse_int("1x", &v), -EINVAL);
        assert_int_equal(parse_int("", &v), -EINVAL);
        assert_int_equal(v, 7);
}

static void test_parse_boolean(void **state) {
        static const char *const yes[] = { "1", "yes", "YES", "y", "true", "True", "t", "on", "ON" };
        static const char *const no[] = { "0", "no", "No", "n", "false", "FALSE", "f", "off", "Off" };
        static const char *const bad[] = { "", "2", "yess", "enable", "o", " yes", "yes ", "-1" };
        bool b;

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                b = false;
                assert_int_equal(parse_boolean(yes[i], &b), 0);
                assert_true(b);
        }
        for (size_t i = 0; i < ELEMENTSOF(no); i++) {
                b = true;
                assert_int_equal(parse_boolean(no[i], &b), 0);
                assert_false(b);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                b = true;
                if (parse_boolean(bad[i], &b) != -EINVAL)
                        fail_msg("parse_boolean(\"%s\") accepted", bad[i]);
                assert_true(b);
        }
        assert_int_equal(parse_boolean(NULL, &b), -EINVAL);
}

static void assert_name_invalid(const char *name, const char *reason_part) {
        const char *reason = ark_name_invalid_reason(name);

        if (ark_name_is_valid(name))
                fail_msg("name \"%s\" accepted", name);
        if (!reason)
                fail_msg("name \"%s\": no reason given", name);
        if (!strstr(reason, reason_part))
                fail_msg("name \"%s\": reason \"%s\" does not mention \"%s\"", name, reason, reason_part);
}

static void test_ark_name(void **state) {
        char n63[64], n64[65], n300[301];

        memset(n63, 'a', 63);
        n63[63] = 0;
        memset(n64, 'a', 64);
        n64[64] = 0;
        memset(n300, 'a', 300);
        n300[300] = 0;

        static const char *const valid[] = { "risk", "a", "risk-vm1", "a1", "a-b-c", "a--b", "z9" };
        for (size_t i = 0; i < ELEMENTSOF(valid); i++) {
                if (!ark_name_is_valid(valid[i]))
                        fail_msg("name \"%s\" refused: %s", valid[i], ark_name_invalid_reason(valid[i]));
                assert_null(ark_name_invalid_reason(valid[i]));
        }
        assert_true(ark_name_is_valid(n63));

        assert_name_invalid("", "empty");
        assert_name_invalid(NULL, "empty");
        assert_name_invalid(n64, "at most 63");
        assert_name_invalid(n300, "at most 63");
        assert_name_invalid("../x", "start with a lowercase letter");
        assert_name_invalid("Risk", "start with a lowercase letter");
        assert_name_invalid("1abc", "start with a lowercase letter");
        assert_name_invalid("-ab", "start with a lowercase letter");
        assert_name_invalid("riSk", "only lowercase letters, digits and '-'");
        assert_name_invalid("a_b", "only lowercase letters, digits and '-'");
        assert_name_invalid("a b", "only lowercase letters, digits and '-'");
        assert_name_invalid("a/b", "only lowercase letters, digits and '-'");
        assert_name_invalid("a.b", "only lowercase letters, digits and '-'");
        assert_name_invalid("caf\xc3\xa9", "only lowercase letters, digits and '-'"); /* café */
        assert_name_invalid("a\n", "only lowercase letters, digits and '-'");
        assert_name_invalid("ab-", "may not end with '-'");
        assert_name_invalid("a-", "may not end with '-'");
}

static void assert_format(uint64_t bytes, const char *expected) {
        char buf[32];

        assert_ptr_equal(format_bytes(buf, sizeof(buf), bytes), buf);
        if (!streq(buf, expected))
                fail_msg("format_bytes(%" PRIu64 ") = \"%s\", expected \"%s\"", bytes, buf, expected);
}

static void test_format_bytes(void **state) {
        assert_format(0, "0 B");
        assert_format(1, "1 B");
        assert_format(1023, "1023 B");
        assert_format(1024, "1 KiB");
        assert_format(1536, "1.5 KiB");
        assert_format(MiB(512), "512 MiB");
        assert_format(GiB(80), "80 GiB");
        assert_format(GiB(24), "24 GiB");
        assert_format(TiB(1) + TiB(1) / 2, "1.5 TiB");
        assert_format(TiB(1024), "1 PiB");
        assert_format(UINT64_C(1) << 60, "1 EiB");
        assert_format(GiB(1023) + GiB(1) / 2, "1023.5 GiB");

        /* What arkctl prints, a user can type back: parse_size() reads every exact value. */
        static const uint64_t exact[] = {
                0, 512, KiB(1), KiB(1) + 512, MiB(512), GiB(80), TiB(2) + TiB(1) / 2,
        };
        for (size_t i = 0; i < ELEMENTSOF(exact); i++) {
                char buf[32];
                uint64_t v;

                format_bytes(buf, sizeof(buf), exact[i]);
                assert_int_equal(parse_size(buf, &v), 0);
                assert_int_equal(v, exact[i]);
        }

        /* The number shown is always below 1024 of its unit: just under 1 MiB is not
         * "1024.0 KiB". */
        static const uint64_t below[] = { MiB(1) - 1, GiB(1) - 1, TiB(1) - 1, MiB(1) - 10 };
        for (size_t i = 0; i < ELEMENTSOF(below); i++) {
                char buf[32];

                format_bytes(buf, sizeof(buf), below[i]);
                if (strtod(buf, NULL) >= 1024.0)
                        fail_msg("format_bytes(%" PRIu64 ") = \"%s\"", below[i], buf);
        }

        /* Small buffers are truncated, never overrun (the contract asks for 16 bytes). */
        {
                char buf[16];
                format_bytes(buf, sizeof(buf), UINT64_MAX);
                assert_true(strlen(buf) < sizeof(buf));
                assert_non_null(strstr(buf, "EiB"));
        }
}

/* ------------------------------------------------------------------------------------------ */
/* string-util */

static void test_xml_escape(void **state) {
        static const struct {
                const char *in, *out;
        } cases[] = {
                { "", "" },
                { "plain text", "plain text" },
                { "a&b", "a&amp;b" },
                { "<x>", "&lt;x&gt;" },
                { "it's \"q\"", "it&apos;s &quot;q&quot;" },
                { "&amp;", "&amp;amp;" }, /* escaping is not idempotent: escape once */
                { "caf\xc3\xa9 \xe2\x9c\x93", "caf\xc3\xa9 \xe2\x9c\x93" }, /* UTF-8 passes through */
                { "&<>'\"", "&amp;&lt;&gt;&apos;&quot;" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *e = xml_escape(cases[i].in);

                assert_non_null(e);
                assert_string_equal(e, cases[i].out);
        }
}

static void test_strbuf(void **state) {
        StrBuf b = {};
        _cleanup_free_ char *s = NULL, *empty = NULL, *big = NULL;

        /* An empty buffer steals as "", not NULL: callers print it. */
        empty = strbuf_steal(&b);
        assert_non_null(empty);
        assert_string_equal(empty, "");

        strbuf_append(&b, "vm ");
        strbuf_printf(&b, "%s has %u vCPUs", "db-1", 4u);
        strbuf_append(&b, "; ");
        strbuf_append_xml(&b, "<a&b>");
        assert_int_equal(b.len, strlen("vm db-1 has 4 vCPUs; &lt;a&amp;b&gt;"));
        s = strbuf_steal(&b);
        assert_string_equal(s, "vm db-1 has 4 vCPUs; &lt;a&amp;b&gt;");
        /* Stealing resets the buffer. */
        assert_null(b.buf);
        assert_int_equal(b.len, 0);

        /* Growth well past the first allocation keeps every byte. */
        for (unsigned i = 0; i < 2000; i++)
                strbuf_printf(&b, "%04u,", i);
        assert_false(b.oom);
        big = strbuf_steal(&b);
        assert_non_null(big);
        assert_int_equal(strlen(big), 2000 * 5);
        assert_memory_equal(big, "0000,0001,", 10);
        assert_memory_equal(big + 1999 * 5, "1999,", 5);

        /* After an allocation failure every later append is dropped and steal says so. */
        strbuf_append(&b, "partial");
        b.oom = true;
        strbuf_append(&b, " more");
        assert_null(strbuf_steal(&b));
        assert_null(b.buf);
        assert_false(b.oom);

        strbuf_append(&b, "x");
        strbuf_done(&b);
        assert_null(b.buf);
        strbuf_done(&b); /* twice is fine */
}

static void test_strv(void **state) {
        _cleanup_strv_free_ char **l = NULL;
        char *owned;

        assert_int_equal(strv_length(NULL), 0);
        assert_false(strv_contains(NULL, "a"));
        assert_null(strv_free(NULL));

        assert_int_equal(strv_extend(&l, "risk"), 0);
        assert_int_equal(strv_extend(&l, "ops"), 0);
        owned = strdup("lab-2");
        assert_non_null(owned);
        assert_int_equal(strv_push(&l, owned), 0);
        assert_ptr_equal(l[2], owned); /* pushed, not copied */

        assert_int_equal(strv_length(l), 3);
        assert_string_equal(l[0], "risk");
        assert_string_equal(l[1], "ops");
        assert_string_equal(l[2], "lab-2");
        assert_null(l[3]);
        assert_true(strv_contains(l, "ops"));
        assert_false(strv_contains(l, "op"));
        assert_false(strv_contains(l, "OPS"));
        {
                _cleanup_free_ char *all = strv_join(l, ","), *none = strv_join(NULL, ","),
                                    *one = strv_join((char *[]) { (char *) "a", NULL }, ", ");
                assert_string_equal(all, "risk,ops,lab-2");
                assert_string_equal(none, "");
                assert_string_equal(one, "a");
        }
}

/* A container's output on the admin's terminal: no escape sequence gets through. */
static void test_terminal_escape(void **state) {
        const char in[] = "ok\t\x1b[2J\x1b]0;pwned\x07\r\x7f \xc2\x9b"
                          "31m \xe4\xb8\xad\n";
        char out[2 * sizeof(in)];
        size_t n = terminal_escape(in, sizeof(in) - 1, out);

        out[n] = 0;
        assert_string_equal(out, "ok\t^[[2J^[]0;pwned^G^M^? ?31m \xe4\xb8\xad\n");
        assert_null(memchr(out, 0x1b, n));
        /* A raw C1 byte, a lead byte cut at the end: "?". */
        n = terminal_escape("a\x9b"
                            "b\xc2",
                            4, out);
        out[n] = 0;
        assert_string_equal(out, "a?b?");
}

static void test_string_misc(void **state) {
        char s1[] = " \t value with spaces \r\n", s2[] = "   ", s3[] = "x";
        _cleanup_free_ char *p = NULL;

        assert_string_equal(strstrip(s1), "value with spaces");
        assert_string_equal(strstrip(s2), "");
        assert_string_equal(strstrip(s3), "x");

        assert_string_equal(startswith("test:///default", "test:"), "///default");
        assert_null(startswith("qemu:///system", "test:"));
        assert_true(endswith("disk.qcow2", ".qcow2"));
        assert_false(endswith("qcow2", "disk.qcow2"));
        assert_string_equal(path_last("/media/usb/ark-1.1.0.ark"), "ark-1.1.0.ark");
        assert_string_equal(path_last("ark.ark"), "ark.ark");
        assert_string_equal(path_last("dir/"), "");

        assert_int_equal(free_and_strdup(&p, "a"), 0);
        assert_string_equal(p, "a");
        assert_int_equal(free_and_strdup(&p, "b"), 0);
        assert_string_equal(p, "b");
        assert_int_equal(free_and_strdup(&p, NULL), 0);
        assert_null(p);
}

/* Optimal string alignment: an adjacent swap counts once (arkctl's "did you mean"). */
static void test_string_distance(void **state) {
        char longer[300];

        assert_int_equal(string_distance("", ""), 0);
        assert_int_equal(string_distance("vm", "vm"), 0);
        assert_int_equal(string_distance("", "vm"), 2);
        assert_int_equal(string_distance("tenat", "tenant"), 1);
        assert_int_equal(string_distance("tenant", "tenat"), 1);
        assert_int_equal(string_distance("strat", "start"), 1);
        assert_int_equal(string_distance("vn", "vm"), 1);
        assert_int_equal(string_distance("kitten", "sitting"), 3);
        assert_int_equal(string_distance("ca", "abc"), 3); /* OSA, not Damerau: no edit of a swap */
        assert_int_equal(string_distance("frobnicate", "reconcile"), 7);
        memset(longer, 'a', sizeof(longer) - 1);
        longer[sizeof(longer) - 1] = 0;
        assert_true(string_distance(longer, "a") == SIZE_MAX);
}

/* ------------------------------------------------------------------------------------------ */
/* fileio */

static void test_path_join(void **state) {
        static const struct {
                const char *a, *b, *out;
        } cases[] = {
                { "/var/lib/ark", "ark.db", "/var/lib/ark/ark.db" },
                { "/var/lib/ark/", "ark.db", "/var/lib/ark/ark.db" },
                { "/var/lib/ark//", "//ark.db", "/var/lib/ark/ark.db" },
                { "/", "sys/bus/pci", "/sys/bus/pci" },
                { "/", "/sys", "/sys" },
                { "//", "sys", "/sys" },
                { "rel", "x", "rel/x" },
                { "/a", "b/c", "/a/b/c" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *p = path_join(cases[i].a, cases[i].b);

                assert_non_null(p);
                if (!streq(p, cases[i].out))
                        fail_msg("path_join(\"%s\", \"%s\") = \"%s\", expected \"%s\"", cases[i].a,
                                 cases[i].b, p, cases[i].out);
        }
}

static void test_mkdir_p(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_free_ char *deep = join(d, "a/b/c/d"), *trail = join(d, "x/y/"), *dbl = join(d, "p//q"),
                            *file = join(d, "file"), *under = join(d, "file/sub");
        struct stat st;

        umask(022);
        assert_int_equal(mkdir_p(deep, 0750), 0);
        assert_true(is_dir(deep));
        assert_int_equal(stat(deep, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0750);
        /* Again: everything exists already. */
        assert_int_equal(mkdir_p(deep, 0750), 0);

        assert_int_equal(mkdir_p(trail, 0755), 0);
        assert_true(is_dir(trail));
        assert_int_equal(mkdir_p(dbl, 0755), 0);
        assert_true(is_dir(dbl));

        /* A file in the way is an error, wherever it is. */
        assert_int_equal(write_string_file(file, "x", WRITE_CREATE), 0);
        assert_int_equal(mkdir_p(under, 0755), -ENOTDIR);
        if (mkdir_p(file, 0755) >= 0)
                fail_msg("mkdir_p() succeeded on a regular file: callers go on to use it as a directory");
}

static void test_rm_rf(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir(), *outside = make_tmpdir();
        _cleanup_free_ char *tree = join(d, "tree"), *deep = join(d, "tree/a/b"), *f = join(d, "tree/a/b/f"),
                            *f2 = join(d, "tree/top"), *link = join(d, "tree/a/link"),
                            *precious = join(outside, "precious"), *missing = join(d, "missing"),
                            *lone = join(d, "lone");

        assert_int_equal(mkdir_p(deep, 0755), 0);
        assert_int_equal(write_string_file(f, "x", WRITE_CREATE), 0);
        assert_int_equal(write_string_file(f2, "y", WRITE_CREATE), 0);
        assert_int_equal(write_string_file(precious, "keep", WRITE_CREATE), 0);
        /* A symlink to a directory outside: removed, never followed. */
        assert_int_equal(symlink(outside, link), 0);

        assert_int_equal(rm_rf(tree), 0);
        assert_false(file_exists(tree));
        assert_true(file_exists(precious));
        assert_true(is_dir(outside));

        assert_int_equal(rm_rf(missing), 0);

        assert_int_equal(write_string_file(lone, "z", WRITE_CREATE), 0);
        assert_int_equal(rm_rf(lone), 0);
        assert_false(file_exists(lone));

        /* A tree whose paths are longer than PATH_MAX (made relative to each directory): removed
         * all the same (a refused import's staging can be this deep). */
        {
                _cleanup_free_ char *top = join(d, "long");
                char name[201];
                int fd;

                memset(name, 'n', 200);
                name[200] = 0;
                assert_int_equal(mkdir(top, 0755), 0);
                fd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                for (int k = 0; k < 30; k++) {
                        int sub;

                        assert_int_equal(mkdirat(fd, name, 0755), 0);
                        sub = openat(fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        close(fd);
                        fd = sub;
                }
                close(openat(fd, "f", O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
                close(fd);
                assert_int_equal(rm_rf(top), 0);
                assert_false(file_exists(top));
        }
}

static void test_write_string_file(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_free_ char *p = join(d, "state"), *missing = join(d, "nope"),
                            *nodir = join(d, "no/such/file"), *s1 = NULL, *s2 = NULL, *s3 = NULL, *s4 = NULL;
        _cleanup_strv_free_ char **names = NULL, **names2 = NULL;

        assert_int_equal(write_string_file(p, "first version, rather long", WRITE_ATOMIC), 0);
        s1 = slurp(p);
        assert_string_equal(s1, "first version, rather long");

        /* Replacing: the old content is gone, not overlaid. */
        assert_int_equal(write_string_file(p, "second", WRITE_ATOMIC | WRITE_NEWLINE), 0);
        s2 = slurp(p);
        assert_string_equal(s2, "second\n");

        /* No temporary file is left beside it. */
        assert_int_equal(dir_list_names(d, &names), 0);
        assert_int_equal(strv_length(names), 1);
        assert_string_equal(names[0], "state");

        /* Without WRITE_CREATE nothing is created (sysfs attributes exist or do not). */
        assert_int_equal(write_string_file(missing, "x", 0), -ENOENT);
        assert_false(file_exists(missing));

        /* WRITE_CREATE truncates. */
        assert_int_equal(write_string_file(p, "abc", WRITE_CREATE), 0);
        s3 = slurp(p);
        assert_string_equal(s3, "abc");
        /* Without it an existing file is written from the start, as sysfs wants. */
        assert_int_equal(write_string_file(p, "Z", 0), 0);
        s4 = slurp(p);
        assert_string_equal(s4, "Zbc");

        /* An atomic write into a missing directory fails cleanly. */
        assert_int_equal(write_string_file(nodir, "x", WRITE_ATOMIC), -ENOENT);
        assert_int_equal(dir_list_names(d, &names2), 0);
        assert_int_equal(strv_length(names2), 1);
}

static void test_read_full_file(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_free_ char *p = join(d, "f"), *empty = join(d, "empty"), *fifo = join(d, "fifo"),
                            *big = join(d, "big"), *lines = join(d, "lines"), *missing = join(d, "missing"),
                            *s = NULL, *e = NULL, *l = NULL;
        char *untouched = (char *) 0x1;
        size_t n = 0;
        int fd;

        assert_int_equal(write_string_file(p, "hello\nworld\n", WRITE_CREATE), 0);
        assert_int_equal(read_full_file(p, &s, &n), 0);
        assert_string_equal(s, "hello\nworld\n");
        assert_int_equal(n, 12);

        assert_int_equal(write_string_file(empty, "", WRITE_CREATE), 0);
        assert_int_equal(read_full_file(empty, &e, &n), 0);
        assert_non_null(e);
        assert_string_equal(e, "");
        assert_int_equal(n, 0);

        assert_int_equal(write_string_file(lines, "first\nsecond\n", WRITE_CREATE), 0);
        assert_int_equal(read_one_line_file(lines, &l), 0);
        assert_string_equal(l, "first");

        assert_int_equal(read_full_file(d, &untouched, NULL), -EISDIR);
        assert_int_equal(read_full_file(missing, &untouched, NULL), -ENOENT);

        /* A FIFO where a file should be must be refused at once, not read: nobody will ever write
         * to it. If this hangs, the alarm kills the test program. */
        assert_int_equal(mkfifo(fifo, 0600), 0);
        alarm(10);
        assert_true(read_full_file(fifo, &untouched, NULL) < 0);
        alarm(0);
        assert_ptr_equal(untouched, (char *) 0x1);

        /* Larger than 64 MiB: refused (a sparse file, so this is cheap). */
        fd = open(big, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, (off_t) MiB(65)), 0);
        close(fd);
        assert_int_equal(read_full_file(big, &untouched, NULL), -EFBIG);
        assert_ptr_equal(untouched, (char *) 0x1);
}

/* ------------------------------------------------------------------------------------------ */
/* spawn-util */

static void test_spawn_wait(void **state) {
        char *const ok[] = { "true", NULL };
        char *const three[] = { "sh", "-c", "exit 3", NULL };
        char *const noisy[] = {
                "sh",
                "-c",
                "echo 'on stdout'; echo '  qemu-img: Could not open x  ' >&2; exit 1",
                NULL,
        };
        char *const quiet[] = { "sh", "-c", "echo only stdout", NULL };
        char *const flood[] = { "sh", "-c", "head -c 1000000 /dev/zero | tr '\\0' x >&2; exit 7", NULL };
        char *const killed[] = { "sh", "-c", "kill -KILL $$", NULL };
        char *const stdin_eof[] = { "sh", "-c", "cat; exit 5", NULL };
        char *const missing[] = { "ark-test-no-such-program", NULL };
        char *const missing_path[] = { "/nonexistent/ark/bin/qemu-img", NULL };
        _cleanup_free_ char *out1 = NULL, *out2 = NULL, *out3 = NULL;
        char *out = NULL;

        assert_int_equal(spawn_wait(ok, NULL), 0);
        assert_int_equal(spawn_wait(three, NULL), 3);

        /* stderr is what the program says; stdout is discarded. */
        assert_int_equal(spawn_wait(noisy, &out1), 1);
        assert_string_equal(out1, "qemu-img: Could not open x");
        assert_int_equal(spawn_wait(quiet, &out2), 0);
        assert_string_equal(out2, "");

        /* A program that writes more than we keep still finishes (no pipe deadlock); we keep
         * the start of it. */
        assert_int_equal(spawn_wait(flood, &out3), 7);
        assert_true(strlen(out3) > 0 && strlen(out3) <= 4096);
        assert_int_equal(out3[0], 'x');

        /* Killed by a signal is not an exit status. */
        assert_true(spawn_wait(killed, NULL) < 0);

        /* stdin is /dev/null: a program reading it does not wait for us. */
        alarm(10);
        assert_int_equal(spawn_wait(stdin_eof, NULL), 5);
        alarm(0);

        assert_int_equal(spawn_wait(missing, &out), -ENOENT);
        assert_null(out);
        assert_int_equal(spawn_wait(missing_path, &out), -ENOENT);
        assert_null(out);
}

/* ------------------------------------------------------------------------------------------ */
/* list.h */

typedef struct Item Item;
struct Item {
        int key;
        int seq; /* insertion order */
        LIST_FIELDS(Item, items);
};

static int item_compare(const Item *a, const Item *b) {
        return a->key < b->key ? -1 : a->key > b->key;
}

static void assert_list(Item *head, const int *keys, const int *seqs, size_t n) {
        Item *last = NULL;
        size_t k = 0;

        assert_true(!head || !head->items_prev);
        LIST_FOREACH(items, i, head) {
                assert_true(k < n);
                assert_int_equal(i->key, keys[k]);
                assert_int_equal(i->seq, seqs[k]);
                assert_ptr_equal(i->items_prev, last);
                last = i;
                k++;
        }
        assert_int_equal(k, n);
        /* Walking back from the tail gives the same elements. */
        for (Item *i = last; i; i = i->items_prev) {
                assert_true(k > 0);
                k--;
                assert_int_equal(i->seq, seqs[k]);
        }
        assert_int_equal(k, 0);
}

static void test_list_insert_sorted(void **state) {
        Item items[] = {
                { .key = 50 }, { .key = 10 }, { .key = 90 }, { .key = 50 },
                { .key = 30 }, { .key = 10 }, { .key = 90 }, { .key = 5 },
        };
        Item *head = NULL;

        for (size_t i = 0; i < ELEMENTSOF(items); i++)
                items[i].seq = (int) i;

        /* Into an empty list. */
        LIST_INSERT_SORTED(items, head, &items[0], item_compare);
        assert_list(head, (int[]) { 50 }, (int[]) { 0 }, 1);
        /* At the front, at the back, between. */
        LIST_INSERT_SORTED(items, head, &items[1], item_compare);
        LIST_INSERT_SORTED(items, head, &items[2], item_compare);
        assert_list(head, (int[]) { 10, 50, 90 }, (int[]) { 1, 0, 2 }, 3);
        /* Equal keys go after the ones already there (stable). */
        LIST_INSERT_SORTED(items, head, &items[3], item_compare);
        LIST_INSERT_SORTED(items, head, &items[4], item_compare);
        LIST_INSERT_SORTED(items, head, &items[5], item_compare);
        LIST_INSERT_SORTED(items, head, &items[6], item_compare);
        LIST_INSERT_SORTED(items, head, &items[7], item_compare);
        assert_list(head, (int[]) { 5, 10, 10, 30, 50, 50, 90, 90 }, (int[]) { 7, 1, 5, 4, 0, 3, 2, 6 }, 8);

        /* Removing keeps the rest linked both ways and sorted; inserting again finds its place. */
        LIST_REMOVE(items, head, &items[7]);
        LIST_REMOVE(items, head, &items[4]);
        LIST_REMOVE(items, head, &items[6]);
        assert_list(head, (int[]) { 10, 10, 50, 50, 90 }, (int[]) { 1, 5, 0, 3, 2 }, 5);
        LIST_INSERT_SORTED(items, head, &items[4], item_compare);
        assert_list(head, (int[]) { 10, 10, 30, 50, 50, 90 }, (int[]) { 1, 5, 4, 0, 3, 2 }, 6);
}

/* The journal's message ids name one kind of event each (the audit record once shared the claim
 * conflict's id). */
/* Paths compared as text (image-store.c): only normalized absolute ones, strictly below. */
static void test_path_below(void **state) {
        assert_true(path_is_normalized_absolute("/"));
        assert_true(path_is_normalized_absolute("/srv/images/a.qcow2"));
        assert_false(path_is_normalized_absolute("srv/images"));
        assert_false(path_is_normalized_absolute("/srv/../etc/shadow"));
        assert_false(path_is_normalized_absolute("/srv/./x"));
        assert_false(path_is_normalized_absolute("/srv//x"));
        assert_false(path_is_normalized_absolute("/srv/"));
        assert_false(path_is_normalized_absolute("/srv/.."));
        assert_true(path_is_normalized_absolute("/srv/..x/.y"));
        assert_true(path_is_below("/srv/images/a", "/srv/images"));
        assert_false(path_is_below("/srv/images", "/srv/images"));
        assert_false(path_is_below("/srv/images2/a", "/srv/images"));
        assert_false(path_is_below("/srv/images/", "/srv/images"));
        assert_true(path_is_below("/a", "/"));
        assert_false(path_is_below("/", "/"));
}

/* Text that would display as something else. */
static void test_display_traps(void **state) {
        assert_false(utf8_has_display_trap("plain, 中文, émigré, 🙂"));
        assert_true(utf8_has_display_trap("abc\u202Edef"));
        assert_true(utf8_has_display_trap("\u2066x\u2069"));
        assert_true(utf8_has_display_trap("x\u200F"));
        assert_true(utf8_has_display_trap("x\u061C"));
        assert_true(utf8_has_display_trap("x\xc2\x85"));
        assert_false(utf8_has_display_trap("x\u2070"));
        assert_true(unichar_is_bidi_control(0x202e));
        assert_false(unichar_is_bidi_control(0x2030));
}

static void test_message_ids(void **state) {
        static const char *const ids[] = {
                ARK_MESSAGE_STARTED,       ARK_MESSAGE_INSTANCE_STATE, ARK_MESSAGE_ORPHAN_DOMAIN,
                ARK_MESSAGE_HV_CONNECTION, ARK_MESSAGE_CLAIM_CONFLICT, ARK_MESSAGE_AUDIT,
                ARK_MESSAGE_PREEMPT,       ARK_MESSAGE_BUS_LOST,
        };

        for (size_t a = 0; a < ELEMENTSOF(ids); a++) {
                assert_int_equal(strlen(ids[a]), 32);
                for (size_t b = a + 1; b < ELEMENTSOF(ids); b++)
                        assert_string_not_equal(ids[a], ids[b]);
        }
}

/* An atomic write goes through a temporary file nobody could have prepared: a link planted at the
 * name the old code used (PATH.tmp.PID) is not followed, the file gets mode 0644, and nothing is
 * left behind (the simulated host's files live in a directory another user might write to). */
static void test_write_atomic_no_planted_link(void **state) {
        _cleanup_free_ char *d = make_tmpdir(), *path = NULL, *planted = NULL, *victim = NULL, *text = NULL;
        struct stat st;
        size_t n;

        path = strprintf("%s/hostname", d);
        planted = strprintf("%s/hostname.tmp.%d", d, (int) getpid());
        victim = strprintf("%s/victim", d);
        assert_int_equal(write_string_file(victim, "precious", WRITE_CREATE), 0);
        assert_int_equal(symlink(victim, planted), 0);
        assert_int_equal(write_string_file(path, "ark-7", WRITE_CREATE | WRITE_ATOMIC | WRITE_NEWLINE), 0);
        assert_int_equal(read_full_file(victim, &text, &n), 0);
        assert_string_equal(text, "precious");
        text = mfree(text);
        assert_int_equal(read_full_file(path, &text, &n), 0);
        assert_string_equal(text, "ark-7\n");
        assert_int_equal(lstat(path, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0644);
        /* The umask still applies (arkd runs with 0077: its files are 0600). */
        {
                mode_t old = umask(0077);

                assert_int_equal(write_string_file(path, "ark-8", WRITE_CREATE | WRITE_ATOMIC), 0);
                umask(old);
                assert_int_equal(lstat(path, &st), 0);
                assert_int_equal(st.st_mode & 07777, 0600);
        }
        assert_int_equal(unlink(planted), 0);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(unlink(victim), 0);
        assert_int_equal(rmdir(d), 0); /* nothing else left */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_size),
                cmocka_unit_test(test_parse_u32),
                cmocka_unit_test(test_parse_int),
                cmocka_unit_test(test_parse_boolean),
                cmocka_unit_test(test_ark_name),
                cmocka_unit_test(test_format_bytes),
                cmocka_unit_test(test_xml_escape),
                cmocka_unit_test(test_strbuf),
                cmocka_unit_test(test_strv),
                cmocka_unit_test(test_terminal_escape),
                cmocka_unit_test(test_string_misc),
                cmocka_unit_test(test_string_distance),
                cmocka_unit_test(test_path_join),
                cmocka_unit_test(test_mkdir_p),
                cmocka_unit_test(test_rm_rf),
                cmocka_unit_test(test_write_string_file),
                cmocka_unit_test(test_read_full_file),
                cmocka_unit_test(test_spawn_wait),
                cmocka_unit_test(test_list_insert_sorted),
                cmocka_unit_test(test_message_ids),
                cmocka_unit_test(test_path_below),
                cmocka_unit_test(test_display_traps),
                cmocka_unit_test(test_write_atomic_no_planted_link),
        };

        return cmocka_run_group_tests(tests, tmp_root_setup, tmp_root_teardown);
}

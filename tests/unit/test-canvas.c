/* Tests for tui/canvas: display widths, wide characters overwritten by narrow ones (no orphan
 * halves), cutting at the edge, and the text a --dump prints. */

#include <errno.h>
#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../tui/canvas.h"

static char *dump(const Canvas *c) {
        char *buf = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&buf, &n);

        assert_non_null(f);
        assert_int_equal(canvas_dump(c, f), 0);
        fclose(f);
        return buf;
}

static void test_widths(void **state) {
        assert_int_equal(text_width("abc"), 3);
        assert_int_equal(text_width("中文"), 4);
        assert_int_equal(text_width("租户 risk"), 9);
}

static void test_overwrite_halves(void **state) {
        Canvas c;
        char *text;

        assert_int_equal(canvas_init(&c, 10, 1, false), 0);
        canvas_text(&c, 0, 0, -1, ATTR_NORMAL, "中文字");
        /* 'a' over the right half of 中, 'b' over the left half of 字: both neighbours blank. */
        canvas_text(&c, 1, 0, 1, ATTR_NORMAL, "a");
        canvas_text(&c, 4, 0, 1, ATTR_NORMAL, "b");
        text = dump(&c);
        assert_string_equal(text, " a文b\n");
        free(text);
        /* No orphan halves left in the cells (a dump skips them; a terminal would not). */
        for (int x = 0; x < c.cols; x++)
                if (c.cells[x].ch == 0)
                        assert_true(x > 0 && c.cells[x - 1].ch != 0 && c.cells[x - 1].ch != L' ');
        assert_int_equal(c.cells[5].ch, L' ');
        /* A wide character over the middle of two others. */
        canvas_clear(&c);
        canvas_text(&c, 0, 0, -1, ATTR_NORMAL, "中文");
        canvas_text(&c, 1, 0, 2, ATTR_NORMAL, "字");
        text = dump(&c);
        assert_string_equal(text, " 字\n");
        free(text);
        canvas_done(&c);
}

static void test_edge(void **state) {
        Canvas c;
        char *text;

        assert_int_equal(canvas_init(&c, 5, 2, false), 0);
        /* A wide character does not fit in the last column: not drawn half, but marked as cut. */
        canvas_text(&c, 4, 0, -1, ATTR_NORMAL, "中");
        /* Too long: cut with an ellipsis. */
        canvas_text(&c, 0, 1, -1, ATTR_NORMAL, "abcdefgh");
        text = dump(&c);
        assert_string_equal(text, "    …\nabcd…\n");
        free(text);
        assert_int_equal(canvas_init(&c, 1001, 10, false), -EINVAL);
        canvas_done(&c);
}

static void test_box_over_cjk(void **state) {
        Canvas c;
        char *text;

        assert_int_equal(canvas_init(&c, 8, 3, true), 0);
        canvas_text(&c, 0, 1, -1, ATTR_NORMAL, "中文中文");
        canvas_box(&c, 1, 0, 6, 3, NULL);
        text = dump(&c);
        /* The borders whole; the wide characters they cut are gone, not half there. */
        assert_string_equal(text, " +----+\n |文中|\n +----+\n");
        free(text);
        canvas_done(&c);
}

/* A description stored before arkd refused bidi overrides (or one in a bundle) displays as what it
 * is: U+202E would show "txt.exe" as "exe.txt". Control characters likewise. */
static void test_bidi_and_controls_shown_as_marks(void **state) {
        Canvas c;
        char *text;

        assert_int_equal(text_width("a\u202Eb\u2066c\u200Fd"), 7);
        assert_int_equal(canvas_init(&c, 12, 1, false), 0);
        canvas_text(&c, 0, 0, -1, ATTR_NORMAL, "ok\u202Eexe.txt\x07");
        text = dump(&c);
        assert_string_equal(text, "ok?exe.txt?\n");
        free(text);
        canvas_done(&c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_widths),
                cmocka_unit_test(test_overwrite_halves),
                cmocka_unit_test(test_edge),
                cmocka_unit_test(test_box_over_cjk),
                cmocka_unit_test(test_bidi_and_controls_shown_as_marks),
        };
        if (!setlocale(LC_CTYPE, "C.UTF-8"))
                return 77;
        return cmocka_run_group_tests_name("canvas", tests, NULL, NULL);
}

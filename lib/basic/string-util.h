#pragma once

/* String helpers. libc only; nothing here logs. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Returns a pointer past `prefix` in `s`, or NULL when s does not start with it. */
const char *startswith(const char *s, const char *prefix);
bool endswith(const char *s, const char *suffix);
/* The part of a path after its last '/' (a pointer into p; p itself when it has none). */
const char *path_last(const char *p);

/* Removes leading and trailing whitespace in place; returns s. */
char *strstrip(char *s);

/* Removes trailing whitespace and periods in place (a message about to go into a sentence of
 * ours); returns s. */
char *strip_final_period(char *s);

/* The optimal string alignment distance between a and b: the fewest insertions, deletions,
 * substitutions and swaps of two adjacent bytes that turn one into the other ("strat" and
 * "start" are 1 apart). For "did you mean" hints; SIZE_MAX when either is longer than 255 bytes. */
size_t string_distance(const char *a, const char *b);

/* Newly allocated printf result, or NULL on OOM. */
char *strprintf(const char *format, ...) __attribute__((format(printf, 1, 2)));

/* Whether s is well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF). */
bool utf8_is_valid(const char *s);
/* Replaces every byte of s that is not part of well-formed UTF-8 with '?', in place: D-Bus
 * refuses to send a string that is not UTF-8. */
void utf8_sanitize(char *s);
/* Whether c is a Unicode bidirectional formatting character (U+061C, U+200E/F, U+202A-U+202E,
 * U+2066-U+2069): text holding one can display as something else. */
bool unichar_is_bidi_control(uint32_t c);
/* Whether UTF-8 text s holds a bidirectional formatting character or a C1 control (U+0080-U+009F). */
bool utf8_has_display_trap(const char *s);
/* s for a message: control characters and bytes that are not UTF-8 as \xNN, cut at about 200
 * bytes on a character boundary ("..." then). Returns one of a few buffers of the calling thread,
 * so several can appear in one message. */
const char *printable(const char *s);
/* n bytes of untrusted output (a container's) made safe for a terminal, into out (room for 2 * n
 * bytes): every C0 control but newline and tab, and DEL, in caret notation (ESC is "^["); a C1
 * control (U+0080-U+009F, CSI among them), a byte that is not UTF-8 (a raw 0x9b is CSI to an 8-bit
 * terminal) and a sequence cut at the end as "?". No escape sequence gets through; UTF-8 text is
 * left as it is (a character cut between two calls shows as "?"). Returns the bytes written. */
size_t terminal_escape(const char *in, size_t n, char *out);

/* For functions that explain a failure in a sentence: replaces *ret_error (when ret_error is not
 * NULL) with the formatted sentence and returns r, or -ENOMEM when the sentence could not be
 * made. */
int set_error_sentence(char **ret_error, int r, const char *format, ...)
        __attribute__((format(printf, 3, 4)));

/* Replaces *p with a copy of s (NULL allowed). Returns 0 or -ENOMEM; on failure *p is unchanged. */
int free_and_strdup(char **p, const char *s);

/* Escapes &, <, >, ' and " for XML text and attribute values. Newly allocated, NULL on OOM. */
char *xml_escape(const char *s);

/* A growable string buffer. Appends never fail silently: after OOM `oom` is set and the result
 * of strbuf_steal() is NULL. */
typedef struct StrBuf {
        char *buf;
        size_t len, alloc;
        bool oom;
} StrBuf;

void strbuf_append(StrBuf *b, const char *s);
void strbuf_printf(StrBuf *b, const char *format, ...) __attribute__((format(printf, 2, 3)));
/* Appends s escaped for XML. */
void strbuf_append_xml(StrBuf *b, const char *s);
/* Returns the buffer (caller frees) and resets b; NULL after OOM. */
char *strbuf_steal(StrBuf *b);
void strbuf_done(StrBuf *b);

/* NULL-terminated string vectors. */
char **strv_free(char **l);
size_t strv_length(char *const *l);
int strv_push(char ***l, char *value); /* takes ownership of value on success */
int strv_extend(char ***l, const char *value);
bool strv_contains(char *const *l, const char *s);
/* The strings joined with sep between them ("" for none); NULL after OOM. */
char *strv_join(char *const *l, const char *sep);
/* Sorts l in place with strcmp(); returns l. */
char **strv_sort(char **l);
/* *dst = a copy of src (NULL stays NULL). Returns 0 or -ENOMEM (then *dst is unchanged). */
int strv_copy(char ***dst, char *const *src);

static inline void strv_freep(char ***l) {
        strv_free(*l);
}
#define _cleanup_strv_free_ __attribute__((cleanup(strv_freep)))

/* *dst = a copy of s, or NULL when s is NULL. 0, or -ENOMEM. */
int strdup_or_null(char **dst, const char *s);

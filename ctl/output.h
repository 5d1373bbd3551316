#pragma once

/* arkctl output: aligned tables, "Label: value" field lists and JSON documents. Nothing here talks
 * to the bus; nothing here logs. */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "basic/macro.h"

/* jansson (>= 2.9) provides json_decrefp() for _cleanup_(json_decrefp). */

/* Big enough for format_bytes() and format_timestamp() results. */
#define OUTPUT_FORMAT_MAX 64

typedef struct Table Table;

/* A table with one column per header (NULL-terminated list, headers in caps). Columns are
 * separated by two spaces; the last column is not padded. NULL on OOM. */
Table *table_new(const char *first_header, ...) __attribute__((sentinel));
/* A field list: rows of (label, value) printed as right-aligned "Label: value" lines, the way
 * hostnamectl prints. A value with newlines continues on lines indented under the first. */
Table *table_new_fields(void);
/* Frees the table; accepts NULL, returns NULL. */
Table *table_free(Table *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(Table, table_free)

/* Lets `column` shrink (its cells ellipsized) down to min_width when the table is wider than the
 * output. Names are never made shrinkable, so `cut -d' ' -f1` always sees them whole. */
void table_set_shrinkable(Table *t, size_t column, size_t min_width);
/* Whether table_print() prints the header row (default true). */
void table_set_header(Table *t, bool header);

/* Adds a row of exactly as many cells as the table has columns (copied). In a table "" prints
 * as "-" (a value that is unknown or none) and NULL as a blank cell; in a field list both print
 * as nothing. Returns 0 or -ENOMEM; callers may ignore the
 * result, as a table that missed a row refuses to print (like StrBuf). */
int table_add_row(Table *t, ...);
int table_add_cells(Table *t, const char *const *cells);
size_t table_rows(const Table *t);

/* Prints the table fitted to output_columns(). Returns 0, -ENOMEM when an add failed, or the
 * negative errno of a failed write. */
int table_print(Table *t, FILE *f);

/* Width to fit tables to: $COLUMNS when set, else the terminal's width when stdout is a terminal,
 * else 80. */
size_t output_columns(void);

/* Prints v to stdout as a JSON document (2-space indentation, keys in insertion order, trailing
 * newline). Returns 0 or -ENOMEM. Does not take a reference. */
int output_json(json_t *v);

/* "2025-11-23 19:21:05 UTC" in local time (the zone abbreviation included), or "never" for 0. */
const char *format_timestamp(char *buf, size_t l, uint64_t usec);
/* "-" for NULL or "", s otherwise. */
const char *strdash(const char *s);

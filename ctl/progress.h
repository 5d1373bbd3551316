#pragma once

/* A progress line on stderr for long work (bundle create, verify, import): a bar, bytes done of
 * the total, the rate and the time left, redrawn at most five times a second. Only on a terminal;
 * elsewhere nothing is printed. */

#include <stdbool.h>
#include <stdint.h>

typedef struct ProgressBar {
        const char *label;
        uint64_t start_usec, last_usec;
        bool tty, drawn;
} ProgressBar;

void progress_bar_init(ProgressBar *p, const char *label);
void progress_bar_update(ProgressBar *p, uint64_t done, uint64_t total);
/* Clears the line. */
void progress_bar_end(ProgressBar *p);
/* "12.5 MiB/s, 1m20s left" for done of total after elapsed_usec, into buf. */
const char *progress_format_rate(char *buf, size_t l, uint64_t done, uint64_t total, uint64_t elapsed_usec);

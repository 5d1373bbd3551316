/* The progress line (progress.h). */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "progress.h"
#include "basic/parse-util.h"
#include "basic/time-util.h"

void progress_bar_init(ProgressBar *p, const char *label) {
        *p = (ProgressBar) { .label = label,
                             .start_usec = now_usec(CLOCK_MONOTONIC),
                             .tty = isatty(STDERR_FILENO) };
}

const char *progress_format_rate(char *buf, size_t l, uint64_t done, uint64_t total, uint64_t elapsed_usec) {
        char rate[32];
        uint64_t bps = elapsed_usec > 0 ? (uint64_t) ((double) done * 1e6 / (double) elapsed_usec) : 0;

        format_bytes(rate, sizeof(rate), bps);
        if (bps == 0 || done >= total)
                snprintf(buf, l, "%s/s", rate);
        else {
                uint64_t left = (total - done) / bps;

                if (left >= 3600)
                        snprintf(buf, l, "%s/s, %" PRIu64 "h%02" PRIu64 "m left", rate, left / 3600,
                                 left / 60 % 60);
                else if (left >= 60)
                        snprintf(buf, l, "%s/s, %" PRIu64 "m%02" PRIu64 "s left", rate, left / 60,
                                 left % 60);
                else
                        snprintf(buf, l, "%s/s, %" PRIu64 "s left", rate, left);
        }
        return buf;
}

void progress_bar_update(ProgressBar *p, uint64_t done, uint64_t total) {
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        char bar[31], a[32], b[32], rate[64];
        unsigned fill;

        if (!p->tty || (p->drawn && now - p->last_usec < 200000 && done < total))
                return;
        p->last_usec = now;
        p->drawn = true;
        fill = total > 0 ? (unsigned) ((double) done / (double) total * 30) : 30;
        if (fill > 30)
                fill = 30;
        memset(bar, '#', fill);
        memset(bar + fill, '.', 30 - fill);
        bar[30] = 0;
        fprintf(stderr, "\r%s [%s] %3u%% %s of %s, %s\033[K", p->label, bar,
                total > 0 ? (unsigned) (done * 100 / total) : 100, format_bytes(a, sizeof(a), done),
                format_bytes(b, sizeof(b), total),
                progress_format_rate(rate, sizeof(rate), done, total, now - p->start_usec));
        fflush(stderr);
}

void progress_bar_end(ProgressBar *p) {
        if (p->tty && p->drawn)
                fputs("\r\033[K", stderr);
        p->drawn = false;
}

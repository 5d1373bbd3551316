/* The Logs screen's lines (logs.h). */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "logs.h"
#include "screens.h"
#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"

static const char *const units[_LOG_UNIT_MAX][2] = {
        [LOG_UNIT_ALL] = { NULL, N_("arkd and libvirtd") },
        [LOG_UNIT_ARKD] = { "arkd.service", "arkd" },
        [LOG_UNIT_LIBVIRTD] = { "libvirtd.service", "libvirtd" },
};

const char *log_unit_label(LogUnit u) {
        return u == LOG_UNIT_ALL ? _(units[u][1]) : units[u][1];
}

void logs_done(LogView *v) {
        for (size_t k = 0; k < v->n; k++)
                free(v->lines[k]);
        v->lines = mfree(v->lines);
        v->priorities = mfree(v->priorities);
        v->n = 0;
        v->error = mfree(v->error);
}

static int add_line(LogView *v, char *line, int prio) {
        char **l = realloc(v->lines, (v->n + 1) * sizeof(char *));
        int *p;

        if (!l) {
                free(line);
                return -ENOMEM;
        }
        v->lines = l;
        p = realloc(v->priorities, (v->n + 1) * sizeof(int));
        if (!p) {
                free(line);
                return -ENOMEM;
        }
        v->priorities = p;
        v->lines[v->n] = line;
        v->priorities[v->n++] = prio;
        return 0;
}

static int load_file(LogView *v, size_t max) {
        _cleanup_free_ char *data = NULL;
        size_t n = 0, count = 0;
        char *start;
        int r = read_full_file(v->file, &data, &n);

        if (r < 0) {
                v->error = strprintf(_("Cannot read %s: %s."), v->file, strerror(-r));
                return r;
        }
        /* The last `max` lines. */
        start = data + n;
        while (start > data && count <= max) {
                start--;
                if (*start == '\n' && start + 1 < data + n)
                        count++;
        }
        if (count > max)
                start++;
        for (char *line = start, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                if (add_line(v, strdup(line), 6) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int load_journal(LogView *v, size_t max) {
        sd_journal *j = NULL;
        const void *d;
        size_t l, got = 0;
        int r;

        r = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY);
        if (r < 0) {
                v->error = strprintf(_("Cannot open the journal: %s."), strerror(-r));
                return r;
        }
        for (int u = LOG_UNIT_ARKD; u < _LOG_UNIT_MAX; u++)
                if (v->unit == LOG_UNIT_ALL || v->unit == (LogUnit) u) {
                        char m[128];

                        snprintf(m, sizeof(m), "_SYSTEMD_UNIT=%s", units[u][0]);
                        (void) sd_journal_add_match(j, m, 0);
                }
        for (int p = 0; p <= v->max_priority && v->max_priority < 7; p++) {
                char m[32];

                snprintf(m, sizeof(m), "PRIORITY=%d", p);
                (void) sd_journal_add_match(j, m, 0);
        }
        (void) sd_journal_seek_tail(j);
        while (got < max && sd_journal_previous(j) > 0)
                got++;
        for (size_t k = 0; k < got && sd_journal_next(j) > 0; k++) {
                char when[32] = "", *msg = NULL, *ident = NULL;
                uint64_t usec = 0;
                int prio = 6;
                time_t t;
                struct tm tm;

                if (sd_journal_get_realtime_usec(j, &usec) >= 0) {
                        t = (time_t) (usec / 1000000);
                        localtime_r(&t, &tm);
                        strftime(when, sizeof(when), "%m-%d %H:%M:%S", &tm);
                }
                if (sd_journal_get_data(j, "PRIORITY", &d, &l) >= 0 && l > 9)
                        prio = ((const char *) d)[9] - '0';
                if (sd_journal_get_data(j, "SYSLOG_IDENTIFIER", &d, &l) >= 0 && l > 18)
                        ident = strndup((const char *) d + 18, l - 18);
                if (sd_journal_get_data(j, "MESSAGE", &d, &l) >= 0 && l > 8)
                        msg = strndup((const char *) d + 8, l - 8);
                r = add_line(v, strprintf("%s %s: %s", when, strempty(ident), strempty(msg)), prio);
                free(ident);
                free(msg);
                if (r < 0)
                        break;
        }
        sd_journal_close(j);
        return 0;
}

int logs_load(LogView *v, size_t max) {
        logs_done(v);
        return v->file ? load_file(v, max) : load_journal(v, max);
}

#pragma once

/* What the Logs screen shows: the journal's entries for Ark's units and libvirtd (sd-journal),
 * filtered by unit and priority, or the lines of a log file (--log-file: the sandbox, whose arkd
 * logs to a file). The newest at the bottom. */

#include <stdbool.h>
#include <stddef.h>
#include <systemd/sd-journal.h>

typedef enum LogUnit {
        LOG_UNIT_ALL,
        LOG_UNIT_ARKD,
        LOG_UNIT_LIBVIRTD,
        _LOG_UNIT_MAX,
} LogUnit;

typedef struct LogView {
        const char *file; /* NULL: the journal */
        LogUnit unit;
        int max_priority; /* 7 = everything, 3 = errors and worse */
        bool follow;      /* keep showing the newest */
        char **lines;
        int *priorities; /* per line; 6 (info) for a file's */
        size_t n;
        char *error; /* why nothing can be read, a sentence */
} LogView;

void logs_done(LogView *v);
/* Reads the newest `max` entries that pass the filters. */
int logs_load(LogView *v, size_t max);
const char *log_unit_label(LogUnit u);

#include <stdio.h>

#include "time-util.h"

const char *format_timestamp_utc(char *buf, size_t l, usec_t usec) {
        time_t t = (time_t) (usec / USEC_PER_SEC);
        struct tm tm;

        if (usec == 0 || !gmtime_r(&t, &tm)) {
                snprintf(buf, l, "n/a");
                return buf;
        }
        strftime(buf, l, "%Y-%m-%dT%H:%M:%SZ", &tm);
        return buf;
}

#pragma once

#include <stdint.h>
#include <time.h>

#define USEC_PER_SEC 1000000ULL
#define USEC_PER_MSEC 1000ULL

typedef uint64_t usec_t;

static inline usec_t now_usec(clockid_t clock) {
        struct timespec ts;

        clock_gettime(clock, &ts);
        return (usec_t) ts.tv_sec * USEC_PER_SEC + (usec_t) ts.tv_nsec / 1000;
}

/* "2026-11-23T19:16:42Z" into buf (at least 32 bytes). */
const char *format_timestamp_utc(char *buf, size_t l, usec_t usec);

#pragma once

/* Logging: to the journal (native protocol, with structured fields) when stderr is connected to it
 * or arkd was told so, otherwise to stderr. libc only. Every log_*_errno() returns its error
 * argument, negative, so callers can write `return log_error_errno(r, "...: %m");` where %m
 * prints strerror(-r). */

#include <syslog.h>
#include "macro.h"

typedef enum LogTarget {
        LOG_TARGET_AUTO, /* journal if JOURNAL_STREAM matches stderr, else stderr */
        LOG_TARGET_STDERR,
        LOG_TARGET_JOURNAL,
} LogTarget;

void log_set_max_level(int level);
int log_get_max_level(void);
void log_set_target(LogTarget target);
void log_set_ident(const char *ident);

/* Logs one message at `level` with optional extra journal fields (NULL-terminated list of
 * "KEY=value" strings, may be NULL). Returns -abs(error) (or 0 when error is 0). */
int log_internal(int level, int error, const char *const *fields, const char *file, int line,
                 const char *func, const char *format, ...) _printf_(7, 8);

#define log_full_errno(level, error, ...) \
        log_internal((level), (error), NULL, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_full(level, ...) (void) log_full_errno((level), 0, __VA_ARGS__)

#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, (e), __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_INFO, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, (e), __VA_ARGS__)

/* Structured: log_struct(LOG_INFO, 0, LOG_FIELDS("MESSAGE_ID=...", "ARK_TENANT=risk"), "fmt", ...).
 * The format and its arguments are checked by the compiler as printf's are. */
#define LOG_FIELDS(...) ((const char *const[]) { __VA_ARGS__, NULL })
#define log_struct(level, error, fields, ...) \
        log_internal((level), (error), (fields), __FILE__, __LINE__, __func__, __VA_ARGS__)

/* Fixed message ids an operator can search the journal for. */
#define ARK_MESSAGE_STARTED "9a1c3e2f5b7d4e0aa1b2c3d4e5f60701"
#define ARK_MESSAGE_INSTANCE_STATE "9a1c3e2f5b7d4e0aa1b2c3d4e5f60702"
#define ARK_MESSAGE_ORPHAN_DOMAIN "9a1c3e2f5b7d4e0aa1b2c3d4e5f60703"
#define ARK_MESSAGE_HV_CONNECTION "9a1c3e2f5b7d4e0aa1b2c3d4e5f60704"
#define ARK_MESSAGE_CLAIM_CONFLICT "9a1c3e2f5b7d4e0aa1b2c3d4e5f60705"
#define ARK_MESSAGE_AUDIT "9a1c3e2f5b7d4e0aa1b2c3d4e5f60706"
#define ARK_MESSAGE_PREEMPT "9a1c3e2f5b7d4e0aa1b2c3d4e5f60707"
#define ARK_MESSAGE_BUS_LOST "9a1c3e2f5b7d4e0aa1b2c3d4e5f60708"

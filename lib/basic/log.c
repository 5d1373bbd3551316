/* Logging to stderr or to the journal's native socket, libc only. */

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>

#include "log.h"

static int max_level = LOG_INFO;
static LogTarget target = LOG_TARGET_AUTO;
static const char *ident = NULL;
static int journal_fd = -EBADF;

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

void log_set_target(LogTarget t) {
        target = t;
}

void log_set_ident(const char *i) {
        ident = i;
}

/* stderr goes to the journal when JOURNAL_STREAM names the device:inode of our stderr. */
static bool stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

static int journal_open(void) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = "/run/systemd/journal/socket" };

        if (journal_fd >= 0)
                return journal_fd;
        journal_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (journal_fd < 0)
                return -errno;
        if (connect(journal_fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int r = -errno;
                close(journal_fd);
                journal_fd = -EBADF;
                return r;
        }
        return journal_fd;
}

static bool use_journal(void) {
        if (target == LOG_TARGET_JOURNAL)
                return true;
        if (target == LOG_TARGET_STDERR)
                return false;
        return stderr_is_journal();
}

static int write_journal(int level, int error, const char *const *fields, size_t n_fields, const char *file,
                         int line, const char *func, const char *msg) {
        char prio[32], codeline[64], errnobuf[32];
        _cleanup_free_ char *codefile = NULL, *codefunc = NULL, *message = NULL, *idf = NULL;
        struct iovec iov[32];
        size_t n = 0;
        int fd;

        fd = journal_open();
        if (fd < 0)
                return fd;

        /* Messages with newlines would need the binary field encoding; flatten them instead. */
        if (asprintf(&message, "MESSAGE=%s", msg) < 0)
                return -ENOMEM;
        for (char *p = message; *p; p++)
                if (*p == '\n')
                        *p = ' ';

#define ADD(s) \
        do { \
                iov[n++] = (struct iovec) { (void *) (s), strlen(s) }; \
                iov[n++] = (struct iovec) { (void *) "\n", 1 }; \
        } while (0)

        snprintf(prio, sizeof(prio), "PRIORITY=%d", level);
        ADD(prio);
        ADD(message);
        if (asprintf(&codefile, "CODE_FILE=%s", file) >= 0)
                ADD(codefile);
        snprintf(codeline, sizeof(codeline), "CODE_LINE=%d", line);
        ADD(codeline);
        if (asprintf(&codefunc, "CODE_FUNC=%s", func) >= 0)
                ADD(codefunc);
        if (ident && asprintf(&idf, "SYSLOG_IDENTIFIER=%s", ident) >= 0)
                ADD(idf);
        if (error != 0) {
                snprintf(errnobuf, sizeof(errnobuf), "ERRNO=%d", error < 0 ? -error : error);
                ADD(errnobuf);
        }
        for (size_t i = 0; i < n_fields && n + 2 <= ELEMENTSOF(iov); i++)
                if (fields[i] && strchr(fields[i], '=') && !strchr(fields[i], '\n'))
                        ADD(fields[i]);
#undef ADD

        struct msghdr mh = { .msg_iov = iov, .msg_iovlen = n };
        if (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0)
                return -errno;
        return 0;
}

static int log_dispatch(int level, int error, const char *const *fields, size_t n_fields, const char *file,
                        int line, const char *func, const char *format, va_list ap)
        __attribute__((format(printf, 8, 0)));
static int log_dispatch(int level, int error, const char *const *fields, size_t n_fields, const char *file,
                        int line, const char *func, const char *format, va_list ap) {
        char buf[4096];
        int saved = errno;

        if (error < 0)
                error = -error;
        if (level > max_level)
                return -error;

        /* %m must print the error we were given, not whatever errno happens to be. */
        errno = error;
        vsnprintf(buf, sizeof(buf), format, ap);

        if (!use_journal() || write_journal(level, error, fields, n_fields, file, line, func, buf) < 0) {
                if (stderr_is_journal())
                        fprintf(stderr, "<%d>%s\n", level, buf);
                else
                        fprintf(stderr, "%s%s%s\n", ident ?: "", ident ? ": " : "", buf);
        }

        errno = saved;
        return -error;
}

int log_internal(int level, int error, const char *const *fields, const char *file, int line,
                 const char *func, const char *format, ...) {
        size_t n = 0;
        va_list ap;
        int r;

        if (fields)
                while (fields[n])
                        n++;
        va_start(ap, format);
        r = log_dispatch(level, error, fields, n, file, line, func, format, ap);
        va_end(ap);
        return r;
}

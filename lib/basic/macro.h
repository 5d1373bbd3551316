#pragma once

/* Small macros used everywhere. libc only. */

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <stdio.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _noreturn_ __attribute__((noreturn))
#define _fallthrough_ __attribute__((fallthrough))
#define _pure_ __attribute__((pure))
#define _likely_(x) (__builtin_expect(!!(x), 1))
#define _unlikely_(x) (__builtin_expect(!!(x), 0))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define MIN(a, b) ((a) < (b) ? (a) : (b))

/* IS_ENABLED(CONFIG_X) is 1 when the option is y, 0 when it is unset, and compiles with -Wundef. */
#define __ARK_ARG_PLACEHOLDER_1 0,
#define __ark_take_second_arg(ignored, val, ...) val
#define __ark_is_defined(x) ___ark_is_defined(x)
#define ___ark_is_defined(val) ____ark_is_defined(__ARK_ARG_PLACEHOLDER_##val)
#define ____ark_is_defined(arg1_or_junk) __ark_take_second_arg(arg1_or_junk 1, 0, 0)
#define IS_ENABLED(option) __ark_is_defined(option)

/* Hand ownership on: returns the value and clears the variable so its cleanup does nothing. */
#define TAKE_PTR(p) \
        ({ \
                __typeof__(p) _ptr_ = (p); \
                (p) = NULL; \
                _ptr_; \
        })
#define TAKE_FD(fd) \
        ({ \
                int _fd_ = (fd); \
                (fd) = -EBADF; \
                _fd_; \
        })

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                close(fd);
                errno = saved;
        }
        return -EBADF;
}
static inline void closep(int *fd) {
        safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)
static inline void close_pairp(int (*p)[2]) {
        safe_close((*p)[0]);
        safe_close((*p)[1]);
}
/* A pipe's or socket pair's two ends, closed when they go out of scope. */
#define _cleanup_close_pair_ _cleanup_(close_pairp)
#define EBADF_PAIR \
        { -EBADF, -EBADF }

static inline void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Declares `static inline void namep(type **p)` calling func(*p) when non-NULL. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func) \
        static inline void func##p(type **p) { \
                if (*p) \
                        func(*p); \
        }

#define mfree(p) \
        ({ \
                free(p); \
                (__typeof__(p)) NULL; \
        })

/* Negative errno from the current errno, never 0 (so a caller's "r < 0" always holds). */
static inline int negative_errno(void) {
        return errno > 0 ? -errno : -EIO;
}

#define RET_NERRNO(expr) \
        ({ \
                __typeof__(expr) _r_ = (expr); \
                _r_ < 0 ? negative_errno() : _r_; \
        })

#define streq(a, b) (strcmp((a), (b)) == 0)
#define streq_ptr(a, b) ((a) && (b) ? streq((a), (b)) : (a) == (b))
#define strneq(a, b, n) (strncmp((a), (b), (n)) == 0)
#define isempty(s) (!(s) || !(s)[0])
#define strempty(s) ((s) ?: "")
#define strna(s) ((s) ?: "n/a")

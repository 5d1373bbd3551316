/* File modes of a tree one daemon owns: see perm-util.h. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/macro.h"
#include "basic/perm-util.h"

#define PERM_WALK_DEPTH_MAX 256

typedef struct Walk {
        mode_t max;
        const PermRule *rules;
        size_t n_rules;
        perm_report_t report;
        void *userdata;
        char *path; /* relative to the top; "" for the top itself */
        size_t len, cap;
        int n_changed;
} Walk;

/* The path reports and rules use: "." for the top itself. */
static const char *walk_path(const Walk *w) {
        return w->len > 0 ? w->path : ".";
}

static bool rule_matches(const PermRule *rule, const char *path, bool is_dir) {
        size_t n;

        if (!rule->dirs_below)
                return streq(rule->path, path);
        if (!is_dir)
                return false;
        if (streq(rule->path, "."))
                return !streq(path, ".");
        n = strlen(rule->path);
        return strneq(path, rule->path, n) && path[n] == '/';
}

static mode_t walk_max(const Walk *w, bool is_dir) {
        for (size_t k = 0; k < w->n_rules; k++)
                if (rule_matches(&w->rules[k], walk_path(w), is_dir))
                        return w->rules[k].max & 07777;
        return w->max & 07777;
}

static void walk_report(Walk *w, mode_t old_mode, mode_t new_mode, int error) {
        if (w->report)
                w->report(walk_path(w), old_mode, new_mode, error, w->userdata);
}

/* Appends name to w->path; returns 0 or -ENOMEM. walk_pop() with the length before undoes it. */
static int walk_push(Walk *w, const char *name) {
        size_t n = strlen(name), at = w->len > 0 ? w->len + 1 : 0;

        if (at + n + 1 > w->cap) {
                size_t cap = MAX(w->cap * 2, at + n + 64);
                char *p = realloc(w->path, cap);

                if (!p)
                        return -ENOMEM;
                w->path = p;
                w->cap = cap;
        }
        if (at > 0)
                w->path[w->len] = '/';
        memcpy(w->path + at, name, n + 1);
        w->len = at + n;
        return 0;
}

static void walk_pop(Walk *w, size_t len) {
        w->path[len] = 0;
        w->len = len;
}

/* Clears the bits the rule for w->path does not allow, on fd: a real descriptor (fchmod) or an
 * O_PATH one (through /proc/self/fd, which changes the very inode it names, as fchmodat() with
 * AT_SYMLINK_NOFOLLOW does in glibc). */
static void walk_tighten(Walk *w, int fd, bool o_path, const struct stat *st) {
        mode_t old_mode = st->st_mode & 07777, new_mode = old_mode & walk_max(w, S_ISDIR(st->st_mode));
        int r = 0;

        if (new_mode == old_mode)
                return;
        if (o_path) {
                char p[sizeof("/proc/self/fd/") + 12];

                snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
                if (chmod(p, new_mode) < 0)
                        r = -errno;
        } else if (fchmod(fd, new_mode) < 0)
                r = -errno;
        if (r == 0)
                w->n_changed++;
        walk_report(w, old_mode, new_mode, r);
}

/* Tightens everything below the directory dfd (taken: closed here), one fd per level. */
static void walk_dir(Walk *w, int dfd, unsigned depth) {
        DIR *d = fdopendir(dfd);
        struct dirent *de;

        if (!d) {
                walk_report(w, 0, 0, negative_errno());
                close(dfd);
                return;
        }
        while ((de = readdir(d))) {
                _cleanup_close_ int fd = -EBADF;
                size_t saved = w->len;
                struct stat st;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (walk_push(w, de->d_name) < 0) {
                        walk_report(w, 0, 0, -ENOMEM); /* reported on the parent: the entry is lost */
                        continue;
                }
                fd = openat(dirfd(d), de->d_name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0) {
                        if (errno != ENOENT) /* gone meanwhile: nothing to close */
                                walk_report(w, 0, 0, -errno);
                } else if (fstat(fd, &st) < 0)
                        walk_report(w, 0, 0, -errno);
                else if (S_ISLNK(st.st_mode))
                        ; /* never followed; a link's own mode means nothing */
                else if (S_ISDIR(st.st_mode)) {
                        /* Reopened through the O_PATH fd: the directory we looked at, not whatever
                         * the name points to now. */
                        int sub = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

                        if (sub < 0)
                                walk_report(w, st.st_mode & 07777, st.st_mode & walk_max(w, true), -errno);
                        else {
                                walk_tighten(w, sub, false, &st);
                                if (depth + 1 >= PERM_WALK_DEPTH_MAX) {
                                        walk_report(w, st.st_mode & 07777, st.st_mode & 07777, -ELOOP);
                                        close(sub);
                                } else
                                        walk_dir(w, sub, depth + 1);
                        }
                } else
                        walk_tighten(w, fd, true, &st);
                walk_pop(w, saved);
        }
        closedir(d);
}

int perm_tighten_tree(const char *top, mode_t max, const PermRule *rules, size_t n_rules,
                      perm_report_t report, void *userdata) {
        Walk w = {
                .max = max,
                .rules = rules,
                .n_rules = n_rules,
                .report = report,
                .userdata = userdata,
        };
        struct stat st;
        int fd;

        fd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0) {
                int r = -errno;

                close(fd);
                return r;
        }
        w.cap = 256;
        w.path = malloc(w.cap);
        if (!w.path) {
                close(fd);
                return -ENOMEM;
        }
        w.path[0] = 0;
        walk_tighten(&w, fd, false, &st);
        walk_dir(&w, fd, 0);
        free(w.path);
        return w.n_changed;
}

int mkdir_p_mode(const char *path, mode_t mode) {
        _cleanup_free_ char *p = strdup(path);
        char *s;

        if (!p)
                return -ENOMEM;
        s = p;
        for (;;) {
                struct stat st;
                bool last;

                /* The next component: up to the next '/' (skipping the leading one and repeats). */
                while (*s == '/')
                        s++;
                if (!*s)
                        break;
                s += strcspn(s, "/");
                last = !*s || !s[strspn(s, "/")];
                *s = 0;
                if (mkdir(p, mode) >= 0) {
                        if (chmod(p, mode) < 0)
                                return -errno;
                } else if (errno != EEXIST)
                        return -errno;
                else if (stat(p, &st) < 0)
                        return -errno;
                else if (!S_ISDIR(st.st_mode))
                        return -ENOTDIR;
                if (last)
                        break;
                *s++ = '/';
        }
        return 0;
}

/* The workload file; see workload.h. */

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool/pool.h"
#include "pool/workload.h"

static const char header[] = "cpu_milli,num_gpu,gpu_milli,gpu_spec,weight";

void pool_workload_done(PoolWorkload *w) {
        for (size_t k = 0; k < w->n_shapes; k++)
                free(w->shapes[k].spec);
        free(w->shapes);
        *w = (PoolWorkload) {};
}

__attribute__((format(printf, 2, 3))) static int fail(char **ret_error, const char *fmt, ...) {
        va_list ap;

        if (ret_error) {
                va_start(ap, fmt);
                if (vasprintf(ret_error, fmt, ap) < 0)
                        *ret_error = NULL;
                va_end(ap);
        }
        return -EINVAL;
}

/* A whole number 0..max, digits only. */
static bool parse_count(const char *s, int64_t max, int64_t *ret) {
        int64_t v = 0;

        if (!*s)
                return false;
        for (; *s; s++) {
                if (*s < '0' || *s > '9')
                        return false;
                v = v * 10 + (*s - '0');
                if (v > max)
                        return false;
        }
        *ret = v;
        return true;
}

static bool spec_valid(const char *s) {
        bool name = false;

        if (strlen(s) > POOL_WORKLOAD_SPEC_MAX)
                return false;
        for (; *s; s++) {
                if (*s == '|') {
                        if (!name)
                                return false;
                        name = false;
                } else if ((unsigned char) *s < 0x20 || (unsigned char) *s >= 0x7f)
                        return false;
                else
                        name = true;
        }
        return true;
}

/* One data line (NUL-terminated, without its end of line) into *ret. */
static int parse_line(const char *name, unsigned line, char *l, PoolWorkloadShape *ret, char **ret_error) {
        char *f[5], *e;
        size_t n = 0;
        int64_t cpu, ng, gm;
        double w;

        for (char *p = l; n < 5; n++) {
                f[n] = p;
                p = strchr(p, ',');
                if (!p) {
                        n++;
                        break;
                }
                *p++ = 0;
                if (n == 4)
                        return fail(ret_error, "%s:%u: more than 5 fields; expected '%s'", name, line,
                                    header);
        }
        if (n != 5)
                return fail(ret_error, "%s:%u: %zu fields; expected 5, '%s'", name, line, n, header);
        if (!parse_count(f[0], INT64_C(1000000000), &cpu))
                return fail(
                        ret_error,
                        "%s:%u: cpu_milli: '%.40s' is not a whole number of milli-CPUs (0 to 1000000000)",
                        name, line, f[0]);
        if (!parse_count(f[1], POOL_GPUS_MAX, &ng))
                return fail(ret_error, "%s:%u: num_gpu: '%.40s' is not a number of GPUs from 0 to %d", name,
                            line, f[1], POOL_GPUS_MAX);
        if (!parse_count(f[2], POOL_MILLI, &gm))
                return fail(ret_error, "%s:%u: gpu_milli: '%.40s' is not a number from 0 to %d", name, line,
                            f[2], POOL_MILLI);
        if ((ng == 0) != (gm == 0))
                return fail(ret_error,
                            "%s:%u: gpu_milli: %" PRId64 " with num_gpu %" PRId64
                            "; a request without GPUs has gpu_milli 0, one with GPUs 1 to %d",
                            name, line, gm, ng, POOL_MILLI);
        if (ng > 1 && gm != POOL_MILLI)
                return fail(ret_error,
                            "%s:%u: gpu_milli: a share (%" PRId64 ") of a GPU is for one GPU, not %" PRId64,
                            name, line, gm, ng);
        if (!spec_valid(f[3]))
                return fail(
                        ret_error,
                        "%s:%u: gpu_spec: '%.40s' is not model names joined by '|' (printable, at most %d "
                        "characters)",
                        name, line, f[3], POOL_WORKLOAD_SPEC_MAX);
        errno = 0;
        w = strtod(f[4], &e);
        if (errno || e == f[4] || *e || !isfinite(w) || w <= 0 || w > 1e12)
                return fail(ret_error,
                            "%s:%u: weight: '%.40s' is not a number greater than 0 (at most 1e12)", name,
                            line, f[4]);
        *ret = (PoolWorkloadShape) { .cpu_milli = cpu,
                                     .num_gpu = (unsigned) ng,
                                     .gpu_milli = (unsigned) gm,
                                     .spec = strdup(f[3]),
                                     .weight = w };
        return ret->spec ? 0 : -ENOMEM;
}

int pool_workload_parse(const char *name, const char *text, size_t size, PoolWorkload *ret,
                        char **ret_error) {
        PoolWorkload w = {};
        size_t alloc = 0;
        unsigned line = 0;
        bool seen_header = false;
        char *copy;
        int r = 0;

        if (memchr(text, 0, size))
                return fail(ret_error, "%s: a NUL byte; not a text file", name);
        copy = malloc(size + 1);
        if (!copy)
                return -ENOMEM;
        memcpy(copy, text, size);
        copy[size] = 0;
        for (char *l = copy, *next; l && r >= 0; l = next) {
                size_t len;

                next = strchr(l, '\n');
                if (next)
                        *next++ = 0;
                line++;
                len = strlen(l);
                if (len > 0 && l[len - 1] == '\r')
                        l[--len] = 0;
                if (len == 0 || l[0] == '#')
                        continue;
                if (!seen_header) {
                        if (strcmp(l, header) != 0)
                                r = fail(ret_error, "%s:%u: expected the header '%s'", name, line, header);
                        seen_header = true;
                        continue;
                }
                if (w.n_shapes == POOL_WORKLOAD_SHAPES_MAX) {
                        r = fail(ret_error, "%s:%u: more than %d request shapes", name, line,
                                 POOL_WORKLOAD_SHAPES_MAX);
                        break;
                }
                if (w.n_shapes == alloc) {
                        PoolWorkloadShape *s =
                                realloc(w.shapes, (alloc = alloc ? alloc * 2 : 16) * sizeof(*s));

                        if (!s) {
                                r = -ENOMEM;
                                break;
                        }
                        w.shapes = s;
                }
                r = parse_line(name, line, l, &w.shapes[w.n_shapes], ret_error);
                if (r >= 0)
                        w.n_shapes++;
        }
        free(copy);
        if (r >= 0 && w.n_shapes == 0)
                r = fail(ret_error, "%s: no request shapes (a header '%s' and at least one line)", name,
                         header);
        if (r < 0) {
                pool_workload_done(&w);
                return r;
        }
        *ret = w;
        return 0;
}

int pool_workload_default(PoolWorkload *ret) {
        static const unsigned counts[] = { 1, 2, 4, 8 };
        PoolWorkload w = { .shapes = calloc(4, sizeof(PoolWorkloadShape)) };

        if (!w.shapes)
                return -ENOMEM;
        for (size_t k = 0; k < 4; k++) {
                w.shapes[k] = (PoolWorkloadShape) {
                        .num_gpu = counts[k], .gpu_milli = POOL_MILLI, .spec = strdup(""), .weight = 1
                };
                w.n_shapes++;
                if (!w.shapes[k].spec) {
                        pool_workload_done(&w);
                        return -ENOMEM;
                }
        }
        *ret = w;
        return 0;
}

uint32_t pool_spec_mask(const Pool *p, const char *spec) {
        uint32_t m = 0;

        if (!spec || !*spec)
                return 0;
        for (const char *s = spec; *s;) {
                size_t l = strcspn(s, "|");

                for (size_t k = 0; k < p->n_models; k++)
                        if (strlen(p->models[k]) == l && strncmp(p->models[k], s, l) == 0)
                                m |= UINT32_C(1) << k;
                s += l;
                if (*s == '|')
                        s++;
        }
        return m ? m : UINT32_C(1) << 31;
}

int pool_workload_apply(Pool *p, const PoolWorkload *w) {
        PoolShape *s = calloc(w->n_shapes + 1, sizeof(PoolShape));
        int r;

        if (!s)
                return -ENOMEM;
        for (size_t k = 0; k < w->n_shapes; k++)
                s[k] = (PoolShape) {
                        .request = { .cpu_milli = w->shapes[k].cpu_milli,
                                     .num_gpu = w->shapes[k].num_gpu,
                                     .gpu_milli = w->shapes[k].gpu_milli,
                                     .models = w->shapes[k].num_gpu > 0
                                             ? pool_spec_mask(p, w->shapes[k].spec)
                                             : 0 },
                        .weight = w->shapes[k].weight,
                };
        r = pool_set_workload(p, s, w->n_shapes);
        free(s);
        return r;
}

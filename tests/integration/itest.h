#pragma once

/* Small helpers shared by the integration test programs (header-only; cmocka included first). */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <systemd/sd-bus.h>

#include "basic/macro.h"
#include "harness.h"
#include "shared/bus-util.h"

/* Runs arkctl ARGS... (NULL-terminated), asserts it exited with `code` and, when `needle` is
 * non-NULL, that stderr (stdout when code is 0) contains it. Prints both streams on mismatch. Returns stdout (free it). */
static inline char *itest_arkctl_expect(Harness *h, int code, const char *needle, ...) {
        char *args[64], *out = NULL, *err = NULL;
        size_t n = 0;
        const char *a;
        va_list ap;
        int r;

        va_start(ap, needle);
        while ((a = va_arg(ap, const char *)) && n < 63)
                args[n++] = (char *) a;
        va_end(ap);
        args[n] = NULL;
        r = harness_arkctl_argv(h, &out, &err, args);
        const char *where = code == 0 ? out : err;
        if (r != code || (needle && (!where || !strstr(where, needle)))) {
                fprintf(stderr,
                        "arkctl %s %s: exited %d (want %d), want %s containing '%s'\nstdout: %s\nstderr: %s\n",
                        args[0], n > 1 ? args[1] : "", r, code, code == 0 ? "stdout" : "stderr",
                        needle ? needle : "", out ? out : "", err ? err : "");
                free(err);
                free(out);
                fail_msg("unexpected arkctl result");
        }
        free(err);
        return out;
}
#define assert_arkctl(h, code, needle, ...) \
        free(itest_arkctl_expect((h), (code), (needle), __VA_ARGS__, NULL))

/* The entry of `address` in `arkctl -o json host accelerators` output (borrowed); fails the test
 * when it is not listed. */
static inline json_t *itest_accelerator(json_t *list, const char *address) {
        json_t *a;
        size_t k;

        json_array_foreach(list, k, a)
                if (json_string_value(json_object_get(a, "address")) &&
                    strcmp(json_string_value(json_object_get(a, "address")), address) == 0)
                        return a;
        fail_msg("accelerator %s not listed", address);
        return NULL;
}

static inline uint32_t itest_get_u32(Harness *h, const char *path, const char *iface, const char *prop) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        uint32_t v = 0;
        int r = sd_bus_get_property_trivial(harness_bus(h), ARK_BUS_NAME, path, iface, prop, &e, 'u', &v);
        if (r < 0)
                fail_msg("cannot read %s.%s: %s", iface, prop, e.message ? e.message : strerror(-r));
        sd_bus_error_free(&e);
        return v;
}

/* Calls a method and asserts it fails with the named error; returns the error message (free it). */
static inline char *itest_call_expect_error(Harness *h, const char *path, const char *iface,
                                            const char *method, const char *error_name, const char *types,
                                            ...) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        char *msg;
        va_list ap;
        int r;

        r = sd_bus_message_new_method_call(harness_bus(h), &m, ARK_BUS_NAME, path, iface, method);
        assert_true(r >= 0);
        if (types) {
                va_start(ap, types);
                r = sd_bus_message_appendv(m, types, ap);
                va_end(ap);
                assert_true(r >= 0);
        }
        r = sd_bus_call(harness_bus(h), m, 0, &e, &reply);
        if (r >= 0)
                fail_msg("%s.%s succeeded; expected %s", iface, method, error_name);
        if (!sd_bus_error_has_name(&e, error_name))
                fail_msg("%s.%s failed with %s (%s); expected %s", iface, method, e.name, e.message,
                         error_name);
        msg = strdup(e.message ? e.message : "");
        sd_bus_error_free(&e);
        return msg;
}

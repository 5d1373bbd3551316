/* D-Bus values -> jansson values; see bus-json.h. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "bus-json.h"

/* The key of a dictionary entry as a string: strings as they are, numbers in decimal. */
static char *json_key_string(json_t *k) {
        char buf[32];

        if (json_is_string(k))
                return strdup(json_string_value(k));
        if (json_is_integer(k)) {
                snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(k));
                return strdup(buf);
        }
        if (json_is_boolean(k))
                return strdup(json_is_true(k) ? "true" : "false");
        return strdup("");
}

static int read_dict(sd_bus_message *m, const char *contents, json_t **ret) {
        _cleanup_(json_decrefp) json_t *o = json_object();
        int r;

        if (!o)
                return -ENOMEM;
        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, contents);
        if (r < 0)
                return r;
        for (;;) {
                _cleanup_(json_decrefp) json_t *k = NULL, *v = NULL;
                _cleanup_free_ char *key = NULL;
                char t;
                const char *c;

                r = sd_bus_message_peek_type(m, &t, &c);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                r = sd_bus_message_enter_container(m, SD_BUS_TYPE_DICT_ENTRY, c);
                if (r < 0)
                        return r;
                r = bus_message_read_json(m, &k);
                if (r < 0)
                        return r;
                r = bus_message_read_json(m, &v);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
                key = json_key_string(k);
                if (!key)
                        return -ENOMEM;
                if (json_object_set(o, key, v) < 0)
                        return -ENOMEM;
        }
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

/* Arrays and structs both become JSON arrays. */
static int read_sequence(sd_bus_message *m, char type, const char *contents, json_t **ret) {
        _cleanup_(json_decrefp) json_t *a = json_array();
        int r;

        if (!a)
                return -ENOMEM;
        r = sd_bus_message_enter_container(m, type, contents);
        if (r < 0)
                return r;
        for (;;) {
                _cleanup_(json_decrefp) json_t *v = NULL;

                r = bus_message_read_json(m, &v);
                if (r == -ENXIO)
                        break;
                if (r < 0)
                        return r;
                if (json_array_append(a, v) < 0)
                        return -ENOMEM;
        }
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(a);
        return 0;
}

int bus_message_read_json(sd_bus_message *m, json_t **ret) {
        union {
                uint8_t y;
                int16_t n;
                uint16_t q;
                int32_t i;
                uint32_t u;
                int64_t x;
                uint64_t t;
                double d;
                int b;
                const char *s;
        } v;
        const char *contents;
        json_t *j = NULL;
        char type;
        int r;

        r = sd_bus_message_peek_type(m, &type, &contents);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENXIO;

        switch (type) {
        case SD_BUS_TYPE_ARRAY:
                if (contents[0] == SD_BUS_TYPE_DICT_ENTRY_BEGIN)
                        return read_dict(m, contents, ret);
                return read_sequence(m, type, contents, ret);
        case SD_BUS_TYPE_STRUCT:
                return read_sequence(m, type, contents, ret);
        case SD_BUS_TYPE_VARIANT:
                r = sd_bus_message_enter_container(m, type, contents);
                if (r < 0)
                        return r;
                r = bus_message_read_json(m, &j);
                if (r < 0)
                        return r == -ENXIO ? -EBADMSG : r;
                r = sd_bus_message_exit_container(m);
                if (r < 0) {
                        json_decref(j);
                        return r;
                }
                *ret = j;
                return 0;
        default:
                break;
        }

        r = sd_bus_message_read_basic(m, type, &v);
        if (r < 0)
                return r;
        switch (type) {
        case SD_BUS_TYPE_BYTE:
                j = json_integer(v.y);
                break;
        case SD_BUS_TYPE_INT16:
                j = json_integer(v.n);
                break;
        case SD_BUS_TYPE_UINT16:
                j = json_integer(v.q);
                break;
        case SD_BUS_TYPE_INT32:
        case SD_BUS_TYPE_UNIX_FD:
                j = json_integer(v.i);
                break;
        case SD_BUS_TYPE_UINT32:
                j = json_integer(v.u);
                break;
        case SD_BUS_TYPE_INT64:
                j = json_integer(v.x);
                break;
        case SD_BUS_TYPE_UINT64:
                /* json_int_t is signed 64-bit: sizes and times in µs stay far below 2^63. */
                j = json_integer((json_int_t) v.t);
                break;
        case SD_BUS_TYPE_DOUBLE:
                j = json_real(v.d);
                break;
        case SD_BUS_TYPE_BOOLEAN:
                j = json_boolean(v.b);
                break;
        case SD_BUS_TYPE_STRING:
        case SD_BUS_TYPE_OBJECT_PATH:
        case SD_BUS_TYPE_SIGNATURE:
                /* D-Bus strings are valid UTF-8, so this only fails on OOM. */
                j = json_string(v.s);
                break;
        default:
                return -EBADMSG;
        }
        if (!j)
                return -ENOMEM;
        *ret = j;
        return 0;
}

int bus_message_read_json_all(sd_bus_message *m, json_t **ret) {
        _cleanup_(json_decrefp) json_t *a = json_array();
        int r;

        if (!a)
                return -ENOMEM;
        for (;;) {
                json_t *v = NULL;

                r = bus_message_read_json(m, &v);
                if (r == -ENXIO)
                        break;
                if (r < 0)
                        return r;
                if (json_array_append_new(a, v) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(a);
        return 0;
}

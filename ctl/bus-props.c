/* D-Bus values -> jansson values, and property sets -> arkctl JSON. */

#include <errno.h>
#include <stdio.h>

#include "basic/macro.h"
#include "bus-props.h"
#include "shared/bus-json.h"
#include "output.h"

int bus_props_from_reply(sd_bus_message *reply, json_t **ret) {
        json_t *o = NULL;
        int r;

        r = bus_message_read_json(reply, &o);
        if (r == -ENXIO)
                return -EBADMSG;
        if (r < 0)
                return r;
        if (!json_is_object(o)) {
                json_decref(o);
                return -EBADMSG;
        }
        *ret = o;
        return 0;
}

const char *props_string(json_t *props, const char *name) {
        json_t *v = json_object_get(props, name);

        return json_is_string(v) ? json_string_value(v) : "";
}

uint64_t props_u64(json_t *props, const char *name) {
        json_t *v = json_object_get(props, name);

        return json_is_integer(v) ? (uint64_t) json_integer_value(v) : 0;
}

int64_t props_int(json_t *props, const char *name, int64_t fallback) {
        json_t *v = json_object_get(props, name);

        return json_is_integer(v) ? (int64_t) json_integer_value(v) : fallback;
}

bool props_bool(json_t *props, const char *name) {
        return json_is_true(json_object_get(props, name));
}

static json_t *field_to_json(json_t *v, const FieldMap *f) {
        char buf[16];

        if (!v)
                return json_null();

        switch (f->format) {
        case FIELD_HEX16:
        case FIELD_HEX24:
                if (!json_is_integer(v))
                        break;
                snprintf(buf, sizeof(buf), f->format == FIELD_HEX16 ? "0x%04llx" : "0x%06llx",
                         (unsigned long long) json_integer_value(v));
                return json_string(buf);
        case FIELD_STRUCTS: {
                _cleanup_(json_decrefp) json_t *a = NULL;
                size_t i;
                json_t *item;

                if (!json_is_array(v))
                        break;
                a = json_array();
                if (!a)
                        return NULL;
                json_array_foreach(v, i, item) {
                        _cleanup_(json_decrefp) json_t *o = json_object();

                        if (!o)
                                return NULL;
                        /* A member the daemon did not send (or a non-struct item) becomes null. */
                        for (size_t k = 0; f->members[k].key; k++) {
                                json_t *m = field_to_json(json_array_get(item, k), &f->members[k]);

                                if (!m || json_object_set_new(o, f->members[k].key, m) < 0)
                                        return NULL;
                        }
                        if (json_array_append(a, o) < 0)
                                return NULL;
                }
                return TAKE_PTR(a);
        }
        case FIELD_PLAIN:
                break;
        }
        return json_incref(v);
}

json_t *props_to_json(json_t *props, const FieldMap *map) {
        _cleanup_(json_decrefp) json_t *o = json_object();

        if (!o)
                return NULL;
        for (const FieldMap *f = map; f->key; f++) {
                json_t *v = field_to_json(json_object_get(props, f->property), f);

                /* json_object_set_new() takes the reference even on failure. */
                if (!v || json_object_set_new(o, f->key, v) < 0)
                        return NULL;
        }
        return TAKE_PTR(o);
}

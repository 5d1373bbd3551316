#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "basic/string-util.h"
#include "shared/bus-json.h"
#include "shared/json-util.h"

char *strv_to_json(char *const *l) {
        _cleanup_(json_decrefp) json_t *a = json_array();

        if (!a)
                return NULL;
        for (char *const *s = l; s && *s; s++)
                if (json_array_append_new(a, json_string(*s)) < 0)
                        return NULL;
        return json_dumps(a, JSON_COMPACT);
}

int strv_from_json(const char *text, char ***ret) {
        _cleanup_(json_decrefp) json_t *a = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
        _cleanup_strv_free_ char **l = NULL;
        size_t k, n = 0;
        json_t *v;

        if (!a || !json_is_array(a))
                return -EBADMSG;
        l = calloc(json_array_size(a) + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        json_array_foreach(a, k, v) {
                if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
                        return -EBADMSG;
                l[n] = strdup(json_string_value(v));
                if (!l[n++])
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

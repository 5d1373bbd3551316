#pragma once

/* Decoding D-Bus values into jansson values, so a GetAll reply becomes a simple key -> value list
 * (a JSON object keyed by property name) and each noun maps it to arkctl's JSON with a table.
 * Nothing here logs. */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "shared/bus-json.h"

/* Decodes a reply of org.freedesktop.DBus.Properties.GetAll (a{sv}) into a JSON object keyed by
 * property name. Returns 0 and a new reference, or a negative errno. */
int bus_props_from_reply(sd_bus_message *reply, json_t **ret);

/* Typed lookups in such an object; a missing property or one of another type gives "" / 0 /
 * false / `fallback`. */
const char *props_string(json_t *props, const char *name);
uint64_t props_u64(json_t *props, const char *name);
int64_t props_int(json_t *props, const char *name, int64_t fallback);
bool props_bool(json_t *props, const char *name);

typedef enum FieldFormat {
        FIELD_PLAIN,   /* the decoded value as it is */
        FIELD_HEX16,   /* integer as "0x10de" */
        FIELD_HEX24,   /* integer as "0x030200" (PCI class codes) */
        FIELD_STRUCTS, /* array of structs: one object per struct, keys from `members` */
} FieldFormat;

/* One output key. Top-level maps name the D-Bus property; the `members` of a FIELD_STRUCTS entry
 * name struct members by position (their `property` is NULL). Terminated by an entry with a NULL
 * key. */
typedef struct FieldMap {
        const char *property;
        const char *key;
        FieldFormat format;
        const struct FieldMap *members;
} FieldMap;

/* Builds arkctl's JSON object for an object's properties: one key per map entry, in map order;
 * a property the daemon did not send becomes null. Returns a new reference or NULL on OOM. */
json_t *props_to_json(json_t *props, const FieldMap *map);

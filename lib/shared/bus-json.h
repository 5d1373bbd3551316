#pragma once

/* Decoding D-Bus values into jansson values (arkctl's JSON output, arkd's audit log). Nothing
 * here logs. */

#include <jansson.h>
#include <systemd/sd-bus.h>

/* Reads the next complete value of m (any type) into a new JSON value: integers and booleans as
 * themselves, strings/object paths/signatures as strings, doubles as reals, arrays and structs as
 * arrays, dictionaries as objects (keys turned into strings), variants as their content.
 * Returns 0, -ENXIO at the end of the current container, or a negative errno. */
int bus_message_read_json(sd_bus_message *m, json_t **ret);

/* Every remaining value of the current container (the whole body, at the top) as a JSON array. */
int bus_message_read_json_all(sd_bus_message *m, json_t **ret);

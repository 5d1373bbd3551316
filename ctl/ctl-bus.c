/* Talking to arkd: connect, call, and say clearly what went wrong. */

#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

#include "arkctl.h"
#include "bus-props.h"
#include "output.h"
#include "basic/string-util.h"
#include "shared/bus-util.h"

#define ARK_ERROR_PREFIX "org.ark.Ark1.Error."

/* "on the system bus" / "at 'unix:path=...'", for messages. Static buffer: one message at a time. */
static const char *bus_where(void) {
        static char buf[256];

        if (isempty(arg_bus_address))
                return "on the system bus";
        snprintf(buf, sizeof(buf), "at '%s'", arg_bus_address);
        return buf;
}

static const char *bus_hint(void) {
        return isempty(arg_bus_address) ? "set ARK_BUS_ADDRESS for a sandbox"
                                        : "check --bus-address or ARK_BUS_ADDRESS";
}

/* A D-Bus address is "transport:key=value,..." (several separated by ';'); sd-bus reports a
 * malformed one as a refused connection, which sends the admin looking for a daemon. */
static bool bus_address_is_plausible(const char *a) {
        const char *colon = strchr(a, ':');

        if (!colon || colon == a)
                return false;
        for (const char *p = a; p < colon; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
                        return false;
        return true;
}

int ctl_bus_open(sd_bus **ret) {
        int r;

        if (!isempty(arg_bus_address) && !bus_address_is_plausible(arg_bus_address)) {
                fprintf(stderr,
                        "arkctl: '%s' is not a D-Bus address (for example unix:path=/run/ark/bus); "
                        "check --bus-address or ARK_BUS_ADDRESS\n",
                        arg_bus_address);
                return -EINVAL;
        }
        r = ark_bus_open(arg_bus_address, ret);
        if (r < 0)
                fprintf(stderr, "arkctl: cannot connect to arkd %s: %s (is arkd running? %s)\n", bus_where(),
                        strerror(-r), bus_hint());
        return r;
}

int ctl_log_call_error(int r, const sd_bus_error *error, const char *member) {
        const char *name = error ? error->name : NULL;
        const char *message = error && !isempty(error->message) ? error->message : NULL;

        if (r >= 0)
                r = -EIO;

        if (name && startswith(name, ARK_ERROR_PREFIX))
                /* The daemon's own sentence, meant for the admin. */
                fprintf(stderr, "arkctl: %s\n", message ?: name + strlen(ARK_ERROR_PREFIX));
        else if (sd_bus_error_has_names(error, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER))
                fprintf(stderr,
                        "arkctl: arkd is not running %s (nobody owns the name %s; start arkd, "
                        "or %s)\n",
                        bus_where(), ARK_BUS_NAME, bus_hint());
        else if (sd_bus_error_has_names(error, SD_BUS_ERROR_NO_REPLY, SD_BUS_ERROR_TIMEOUT))
                fprintf(stderr, "arkctl: arkd did not answer %s in time: %s\n", member,
                        message ?: strerror(-r));
        else if (sd_bus_error_has_names(error, SD_BUS_ERROR_DISCONNECTED) || r == -ECONNRESET ||
                 r == -ENOTCONN)
                fprintf(stderr, "arkctl: lost the connection to arkd %s during %s: %s\n", bus_where(),
                        member, message ?: strerror(-r));
        else
                fprintf(stderr, "arkctl: %s failed: %s\n", member, message ?: strerror(-r));
        return r;
}

int ctl_new_call(sd_bus *bus, const char *path, const char *interface, const char *member,
                 sd_bus_message **ret) {
        int r;

        r = sd_bus_message_new_method_call(bus, ret, ARK_BUS_NAME, path, interface, member);
        if (r < 0)
                return ctl_log_call_error(r, NULL, member);
        return 0;
}

int ctl_send(sd_bus *bus, sd_bus_message *m, uint64_t timeout_usec, sd_bus_message **ret_reply) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_call(bus, m, timeout_usec, &error, ret_reply);
        if (r < 0)
                return ctl_log_call_error(r, &error, strna(sd_bus_message_get_member(m)));
        return 0;
}

int ctl_call(sd_bus *bus, const char *path, const char *interface, const char *member, uint64_t timeout_usec,
             sd_bus_message **ret_reply, const char *types, ...) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        va_list ap;
        int r;

        r = ctl_new_call(bus, path, interface, member, &m);
        if (r < 0)
                return r;
        if (!isempty(types)) {
                va_start(ap, types);
                r = sd_bus_message_appendv(m, types, ap);
                va_end(ap);
                if (r < 0)
                        return ctl_log_call_error(r, NULL, member);
        }
        return ctl_send(bus, m, timeout_usec, ret_reply);
}

int ctl_get_all(sd_bus *bus, const char *path, const char *interface, json_t **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = ctl_call(bus, path, "org.freedesktop.DBus.Properties", "GetAll", 0, &reply, "s", interface);
        if (r < 0)
                return r;
        r = bus_props_from_reply(reply, ret);
        if (r < 0)
                fprintf(stderr, "arkctl: cannot read the properties of %s: %s\n", path, strerror(-r));
        return r;
}

int ctl_get_all_listed(sd_bus *bus, const char *path, const char *interface, json_t **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, ARK_BUS_NAME, path, "org.freedesktop.DBus.Properties",
                                           "GetAll");
        if (r < 0)
                return ctl_log_call_error(r, NULL, "GetAll");
        r = sd_bus_message_append(m, "s", interface);
        if (r < 0)
                return ctl_log_call_error(r, NULL, "GetAll");
        r = sd_bus_call(bus, m, 0, &error, &reply);
        if (r < 0) {
                /* Deleted between the list call and now: leave it out of the list. */
                if (sd_bus_error_has_names(&error, SD_BUS_ERROR_UNKNOWN_OBJECT, ARK_ERROR_NOT_FOUND)) {
                        *ret = NULL;
                        return 0;
                }
                return ctl_log_call_error(r, &error, "GetAll");
        }
        r = bus_props_from_reply(reply, ret);
        if (r < 0)
                fprintf(stderr, "arkctl: cannot read the properties of %s: %s\n", path, strerror(-r));
        return r;
}

int ctl_get_object(sd_bus *bus, const char *getter, const char *name, const char *interface, char **ret_path,
                   json_t **ret_props) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *p = NULL;
        const char *path;
        int r;

        r = ctl_call(bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, getter, 0, &reply, "s", name);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return ctl_log_call_error(r, NULL, getter);
        p = strdup(path);
        if (!p)
                return ctl_log_call_error(-ENOMEM, NULL, getter);
        if (ret_props) {
                r = ctl_get_all(bus, p, interface, ret_props);
                if (r < 0)
                        return r;
        }
        if (ret_path)
                *ret_path = TAKE_PTR(p);
        return 0;
}

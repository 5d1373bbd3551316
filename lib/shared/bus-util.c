#include <errno.h>
#include <stdio.h>
#include <stdbool.h>

#include "basic/macro.h"
#include "bus-util.h"

static const sd_bus_error_map ark_error_map[] = {
        SD_BUS_ERROR_MAP(ARK_ERROR_NOT_FOUND, ENOENT),
        SD_BUS_ERROR_MAP(ARK_ERROR_ALREADY_EXISTS, EEXIST),
        SD_BUS_ERROR_MAP(ARK_ERROR_INVALID_ARGUMENT, EINVAL),
        SD_BUS_ERROR_MAP(ARK_ERROR_IN_USE, EBUSY),
        SD_BUS_ERROR_MAP(ARK_ERROR_INVALID_STATE, EALREADY),
        SD_BUS_ERROR_MAP(ARK_ERROR_HYPERVISOR_UNAVAILABLE, ENOTCONN),
        SD_BUS_ERROR_MAP(ARK_ERROR_HYPERVISOR, EIO),
        SD_BUS_ERROR_MAP(ARK_ERROR_TIMEOUT, ETIMEDOUT),
        SD_BUS_ERROR_MAP(ARK_ERROR_ACCESS_DENIED, EACCES),
        SD_BUS_ERROR_MAP(ARK_ERROR_QUOTA_EXCEEDED, EDQUOT),
        SD_BUS_ERROR_MAP(ARK_ERROR_NO_CAPACITY, ENOSPC),
        SD_BUS_ERROR_MAP(ARK_ERROR_NOT_READY, EAGAIN),
        SD_BUS_ERROR_MAP(ARK_ERROR_VERIFICATION_FAILED, EBADMSG),
        SD_BUS_ERROR_MAP(ARK_ERROR_CANCELLED, ECANCELED),
        SD_BUS_ERROR_MAP(ARK_ERROR_TOO_MANY_REQUESTS, EUSERS),
        SD_BUS_ERROR_MAP(ARK_ERROR_NOT_SUPPORTED, EOPNOTSUPP),
        SD_BUS_ERROR_MAP(ARK_ERROR_NETWORK, ENETDOWN),
        SD_BUS_ERROR_MAP_END,
};

int ark_bus_error_map_register(void) {
        int r = sd_bus_error_add_map(ark_error_map);
        return r < 0 ? r : 0;
}

int ark_bus_open(const char *address, sd_bus **ret) {
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        int r;

        (void) ark_bus_error_map_register();

        if (isempty(address)) {
                r = sd_bus_open_system(&bus);
                if (r < 0)
                        return r;
        } else {
                r = sd_bus_new(&bus);
                if (r < 0)
                        return r;
                r = sd_bus_set_address(bus, address);
                if (r < 0)
                        return r;
                r = sd_bus_set_bus_client(bus, 1);
                if (r < 0)
                        return r;
                r = sd_bus_start(bus);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(bus);
        return 0;
}

int bus_property_get_string_ptr(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        char **s = userdata;
        return sd_bus_message_append(reply, "s", strempty(*s));
}

int bus_property_get_bool(sd_bus *bus, const char *path, const char *interface, const char *property,
                          sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        bool *b = userdata;
        return sd_bus_message_append(reply, "b", (int) *b);
}

int ark_uuid_generate(char ret[static 37]) {
        sd_id128_t id;
        int r;

        r = sd_id128_randomize(&id);
        if (r < 0)
                return r;
        snprintf(ret, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                 id.bytes[0], id.bytes[1], id.bytes[2], id.bytes[3], id.bytes[4], id.bytes[5], id.bytes[6],
                 id.bytes[7], id.bytes[8], id.bytes[9], id.bytes[10], id.bytes[11], id.bytes[12],
                 id.bytes[13], id.bytes[14], id.bytes[15]);
        return 0;
}

/* arkctl accelerator reserve | quarantine | release. */

#include <stdio.h>
#include <string.h>

#include "arkctl.h"
#include "basic/parse-util.h"
#include "basic/string-util.h"
#include "shared/bus-util.h"

/* The object path of the accelerator at `address`; prints the error when it cannot be had. */
static int accelerator_path(const char *address, char **ret) {
        _cleanup_free_ char *lower = strdup(address);
        int r;

        if (!lower)
                return ctl_oom();
        for (char *p = lower; *p; p++)
                if (*p >= 'A' && *p <= 'F')
                        *p = (char) (*p - 'A' + 'a');
        if (!pci_address_is_canonical(lower)) {
                fprintf(stderr, "arkctl: '%s' is not a PCI address like 0000:3b:00.0\n", address);
                return -EINVAL;
        }
        r = sd_bus_path_encode(ARK_BUS_PREFIX_ACCELERATOR, lower, ret);
        return r < 0 ? ctl_oom() : 0;
}

static int hold(char **args, const char *method, const char *done) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *path = NULL, *before = NULL;
        int r;

        r = accelerator_path(args[0], &path);
        if (r < 0)
                return r;
        r = ctl_bus_open(&bus);
        if (r < 0)
                return r;
        /* Only for the message: releasing a GPU that holds nothing succeeds and changes nothing. */
        (void) sd_bus_get_property_string(bus, ARK_BUS_NAME, path, ARK_BUS_IFACE_ACCELERATOR, "ClaimState",
                                          NULL, &before);
        r = ctl_new_call(bus, path, ARK_BUS_IFACE_ACCELERATOR, method, &m);
        if (r < 0)
                return r;
        if (!streq(method, "Release")) {
                r = sd_bus_message_append(m, "s", strempty(arg_reason));
                if (r < 0)
                        return ctl_log_call_error(r, NULL, method);
        }
        r = sd_bus_call(bus, m, 0, &error, NULL);
        if (r < 0 && sd_bus_error_has_name(&error, SD_BUS_ERROR_UNKNOWN_OBJECT)) {
                fprintf(stderr,
                        "arkctl: this host has no accelerator at %s (see 'arkctl host accelerators')\n",
                        args[0]);
                return r;
        }
        if (r < 0)
                return ctl_log_call_error(r, &error, method);
        if (arg_output == OUTPUT_JSON)
                puts("{}");
        else if (streq(method, "Release") && before && !streq(before, "reserved") &&
                 !streq(before, "quarantined"))
                printf("%s was neither reserved nor quarantined (it is %s).\n", args[0], before);
        else
                printf("%s %s.\n", done, args[0]);
        return 0;
}

int verb_accelerator_reserve(char **args) {
        return hold(args, "Reserve", "Reserved for the host:");
}

int verb_accelerator_quarantine(char **args) {
        return hold(args, "Quarantine", "Quarantined:");
}

int verb_accelerator_release(char **args) {
        return hold(args, "Release", "Released:");
}

/* Accelerator holds: the admin reserves a GPU for the host or quarantines it (after failures),
 * and releases it again. Each change is one store transaction; ReservedAccelerators= holds come
 * from the configuration and are not the admin's to release. */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "basic/log.h"
#include "basic/string-util.h"
#include "basic/time-util.h"
#include "manager.h"
#include "shared/bus-util.h"
#include "shared/db.h"
#include "store.h"

#define HOLD_REASON_MAX 256

static void emit_hold_changed(Manager *m, Accelerator *a) {
        _cleanup_free_ char *path = NULL;

        if (sd_bus_path_encode(ARK_BUS_PREFIX_ACCELERATOR, a->address, &path) >= 0)
                (void) sd_bus_emit_properties_changed(m->bus, path, ARK_BUS_IFACE_ACCELERATOR, "ClaimState",
                                                      "HoldReason", NULL);
}

static int reason_validate(const char *reason, sd_bus_error *error) {
        if (strlen(reason) > HOLD_REASON_MAX)
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "A reason may be at most %d characters long.", HOLD_REASON_MAX);
        for (const char *p = reason; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                                 "A reason may not contain control characters.");
        return 0;
}

int accelerator_hold(Manager *m, Accelerator *a, const char *state, const char *reason,
                     sd_bus_error *error) {
        _cleanup_transaction_ DbTransaction tx = {};
        _cleanup_free_ char *h = NULL, *why = NULL;
        char field[64];
        int r;

        if (!streq(state, "reserved") && !streq(state, "quarantined"))
                return -EINVAL;
        r = reason_validate(reason, error);
        if (r < 0)
                return r;
        if (a->hold_from_config)
                return sd_bus_error_setf(
                        error, ARK_ERROR_INVALID_STATE,
                        "%s is reserved by ReservedAccelerators= in the configuration; change "
                        "/etc/ark/ark.conf to change that.",
                        a->address);
        /* A VM's GPU can be quarantined (it stays with the VM, no other gets it), not reserved. */
        if (streq(state, "reserved") && a->claimed_by)
                return sd_bus_error_setf(
                        error, ARK_ERROR_IN_USE,
                        "%s is claimed by instance '%s'; delete the VM first, or quarantine the GPU "
                        "instead.",
                        a->address, a->claimed_by);

        h = strdup(state);
        why = strdup(reason);
        if (!h || !why)
                return -ENOMEM;
        r = db_transaction_begin(m->db, &tx);
        if (r >= 0)
                r = store_hold_set(m->db, a->address, state, reason, now_usec(CLOCK_REALTIME));
        if (r >= 0)
                r = db_transaction_commit(&tx);
        if (r < 0)
                return manager_store_error(m, error, r, "Failed to record the hold of %s", a->address);

        free(a->hold);
        free(a->hold_reason);
        a->hold = TAKE_PTR(h);
        a->hold_reason = TAKE_PTR(why);
        snprintf(field, sizeof(field), "ARK_GPU=%s", a->address);
        log_struct(LOG_NOTICE, 0, LOG_FIELDS(field), "Accelerator %s is %s%s%s%s.", a->address,
                   streq(state, "reserved") ? "reserved for the host" : "quarantined",
                   isempty(reason) ? "" : " (", reason, isempty(reason) ? "" : ")");
        emit_hold_changed(m, a);
        return 0;
}

int accelerator_release_hold(Manager *m, Accelerator *a, sd_bus_error *error) {
        _cleanup_transaction_ DbTransaction tx = {};
        char field[64];
        int r;

        if (a->hold_from_config)
                return sd_bus_error_setf(
                        error, ARK_ERROR_INVALID_STATE,
                        "%s is reserved by ReservedAccelerators= in the configuration; remove it "
                        "there and restart arkd.",
                        a->address);
        if (!a->hold)
                return 0; /* nothing held: as asked */

        r = db_transaction_begin(m->db, &tx);
        if (r >= 0)
                r = store_hold_clear(m->db, a->address);
        if (r == -ENOENT)
                r = 0;
        if (r >= 0)
                r = db_transaction_commit(&tx);
        if (r < 0)
                return manager_store_error(m, error, r, "Failed to release the hold of %s", a->address);

        a->hold = mfree(a->hold);
        a->hold_reason = mfree(a->hold_reason);
        snprintf(field, sizeof(field), "ARK_GPU=%s", a->address);
        log_struct(LOG_NOTICE, 0, LOG_FIELDS(field), "Accelerator %s is released%s.", a->address,
                   a->claimed_by ? " (it stays with its VM)" : "");
        emit_hold_changed(m, a);
        return 0;
}

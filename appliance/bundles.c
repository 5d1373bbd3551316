/* Bundles in arkd (bundles.h). */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "bundles.h"
#include "manager.h"
#include "basic/log.h"
#include "basic/macro.h"
#include "shared/bus-util.h"
#include "shared/trust.h"

/* The bus error for a trust operation's -errno. */
static int trust_error(sd_bus_error *error, int r, const char *sentence) {
        const char *name = r == -EEXIST || r == -EALREADY ? ARK_ERROR_ALREADY_EXISTS
                           : r == -ENOENT                   ? ARK_ERROR_NOT_FOUND
                           : r == -EINVAL || r == -EKEYREVOKED || r == -EPROTONOSUPPORT ? ARK_ERROR_INVALID_ARGUMENT
                                                                                        : NULL;

        if (!name)
                return sd_bus_error_setf(error, SD_BUS_ERROR_FAILED, "%s", sentence ?: strerror(-r));
        return sd_bus_error_setf(error, name, "%s", sentence ?: strerror(-r));
}

int method_trust_key(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        _cleanup_free_ char *err = NULL;
        const char *pem;
        char id[KEY_ID_HEX];
        int r;

        r = sd_bus_message_read(msg, "s", &pem);
        if (r < 0)
                return r;
        r = access_require_admin(m, msg, "trust bundle signing keys", error);
        if (r < 0)
                return r;
        r = trust_add(m->config.trust_dir, "The key", pem, strlen(pem), id, &err);
        if (r < 0)
                return trust_error(error, r, err);
        log_info("Trusting bundle signing key %s.", id);
        return sd_bus_reply_method_return(msg, "s", id);
}

int method_untrust_key(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        _cleanup_free_ char *err = NULL;
        const char *id;
        int r;

        r = sd_bus_message_read(msg, "s", &id);
        if (r < 0)
                return r;
        r = access_require_admin(m, msg, "remove trusted keys", error);
        if (r < 0)
                return r;
        r = trust_remove(m->config.trust_dir, id, &err);
        if (r < 0)
                return trust_error(error, r, err);
        log_info("No longer trusting bundle signing key %s.", id);
        return sd_bus_reply_method_return(msg, NULL);
}

int method_revoke_key(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        _cleanup_free_ char *err = NULL;
        const char *id;
        int r;

        r = sd_bus_message_read(msg, "s", &id);
        if (r < 0)
                return r;
        r = access_require_admin(m, msg, "revoke keys", error);
        if (r < 0)
                return r;
        r = trust_revoke(m->config.trust_dir, id, &err);
        if (r < 0)
                return trust_error(error, r, err);
        log_notice("Revoked bundle signing key %s.", id);
        return sd_bus_reply_method_return(msg, NULL);
}

int method_list_trusted_keys(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ TrustedKey *keys = NULL;
        _cleanup_free_ char *err = NULL;
        Manager *m = userdata;
        size_t n = 0;
        int r;

        r = trust_list(m->config.trust_dir, &keys, &n, &err);
        if (r < 0)
                return trust_error(error, r, err);
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(sbb)");
        for (size_t k = 0; r >= 0 && k < n; k++)
                r = sd_bus_message_append(reply, "(sbb)", keys[k].id, (int) keys[k].present, (int) keys[k].revoked);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

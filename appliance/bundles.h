#pragma once

/* Bundles in arkd: the trusted signing keys (Manager.TrustKey, UntrustKey, RevokeKey,
 * ListTrustedKeys; admin only, audited like every mutating call), and later imports into the
 * model store. */

#include <systemd/sd-bus.h>

int method_trust_key(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int method_untrust_key(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int method_revoke_key(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int method_list_trusted_keys(sd_bus_message *msg, void *userdata, sd_bus_error *error);

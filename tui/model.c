/* The console's view of arkd (model.h). */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "shared/bus-json.h"
#include "shared/bus-util.h"

void model_done(TuiModel *m) {
        free(m->error);
        json_decref(m->manager);
        json_decref(m->accelerators);
        json_decref(m->tenants);
        json_decref(m->instances);
        json_decref(m->bundles);
        json_decref(m->networks);
        free(m->networks_error);
        json_decref(m->checks);
        *m = (TuiModel) {};
}

const char *jstr(json_t *o, const char *key) {
        json_t *v = json_object_get(o, key);

        return json_is_string(v) ? json_string_value(v) : "";
}

uint64_t ju64(json_t *o, const char *key) {
        json_t *v = json_object_get(o, key);

        return json_is_integer(v) ? (uint64_t) json_integer_value(v) : json_is_true(v) ? 1 : 0;
}

static int get_all(sd_bus *bus, const char *path, const char *iface, json_t **ret, sd_bus_error *e) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_call_method(bus, ARK_BUS_NAME, path, "org.freedesktop.DBus.Properties", "GetAll", e,
                               &reply, "s", iface);
        if (r < 0)
                return r;
        return bus_message_read_json(reply, ret);
}

/* Calls a List method whose reply is an array of structs whose last member is an object path, and
 * fetches each object's properties. */
static int list_objects(sd_bus *bus, const char *method, const char *iface, json_t **ret, sd_bus_error *e) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        json_t *rows = NULL, *out = json_array(), *row;
        size_t k;
        int r;

        if (!out)
                return -ENOMEM;
        r = sd_bus_call_method(bus, ARK_BUS_NAME, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, method, e, &reply,
                               NULL);
        if (r >= 0)
                r = bus_message_read_json(reply, &rows);
        json_array_foreach(rows, k, row) {
                json_t *props = NULL;
                const char *path = json_string_value(json_array_get(row, json_array_size(row) - 1));

                if (r < 0 || !path)
                        break;
                if (get_all(bus, path, iface, &props, NULL) >= 0)
                        json_array_append_new(out, props);
        }
        json_decref(rows);
        if (r < 0) {
                json_decref(out);
                return r;
        }
        *ret = out;
        return 0;
}

/* Networks ordered by tenant, then name (arkd lists them in its own order). */
static int network_cmp(json_t *a, json_t *b) {
        int c = strcmp(jstr(a, "Tenant"), jstr(b, "Tenant"));

        return c != 0 ? c : strcmp(jstr(a, "Name"), jstr(b, "Name"));
}

static void networks_sort(json_t *list) {
        size_t n = json_array_size(list);

        /* Insertion sort: a handful of networks; the array keeps its references. */
        for (size_t k = 1; k < n; k++) {
                json_t *v = json_incref(json_array_get(list, k));
                size_t j = k;

                while (j > 0 && network_cmp(json_array_get(list, j - 1), v) > 0) {
                        json_array_set(list, j, json_array_get(list, j - 1));
                        j--;
                }
                json_array_set_new(list, j, v);
        }
}

/* The tenant networks, or why not: a refusal (AccessDenied for a user in no tenant, UnknownMethod
 * from an arkd without them) leaves the rest of the model as it is. */
static void fetch_networks(TuiModel *n, sd_bus *bus) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        int r;

        r = list_objects(bus, "ListNetworks", ARK_BUS_IFACE_NETWORK, &n->networks, &e);
        if (r >= 0)
                networks_sort(n->networks);
        else if (sd_bus_error_has_name(&e, SD_BUS_ERROR_UNKNOWN_METHOD))
                n->networks_unsupported = true;
        else
                n->networks_error = strdup(sd_bus_error_is_set(&e) ? e.message : strerror(-r));
        sd_bus_error_free(&e);
}

int model_refresh(TuiModel *m, sd_bus *bus) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        TuiModel n = {};
        int r;

        r = get_all(bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, &n.manager, &e);
        if (r >= 0)
                r = list_objects(bus, "ListAccelerators", ARK_BUS_IFACE_ACCELERATOR, &n.accelerators, &e);
        if (r >= 0)
                r = list_objects(bus, "ListTenants", ARK_BUS_IFACE_TENANT, &n.tenants, &e);
        if (r >= 0)
                r = list_objects(bus, "ListInstances", ARK_BUS_IFACE_INSTANCE, &n.instances, &e);
        if (r >= 0) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;

                r = sd_bus_call_method(bus, ARK_BUS_NAME, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "ListBundles",
                                       &e, &reply, NULL);
                if (r >= 0)
                        r = bus_message_read_json(reply, &n.bundles);
        }
        if (r >= 0)
                fetch_networks(&n, bus);
        if (r >= 0) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;

                /* Admins only: others see no readiness. */
                if (sd_bus_call_method(bus, ARK_BUS_NAME, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "CheckHost",
                                       NULL, &reply, "as", 0) >= 0)
                        (void) bus_message_read_json(reply, &n.checks);
        }
        if (r < 0) {
                const char *why = sd_bus_error_is_set(&e) ? e.message : strerror(-r);

                if (sd_bus_error_has_names(&e, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER))
                        why = "arkd is not running";
                model_done(&n);
                n.error = strdup(strempty(why));
                sd_bus_error_free(&e);
                model_done(m);
                *m = n;
                return r;
        }
        sd_bus_error_free(&e);
        n.connected = true;
        model_done(m);
        *m = n;
        return 0;
}

bool model_gpu_ready(const TuiModel *m, const char *address, const char **ret_reason) {
        json_t *row;
        size_t k;

        if (ret_reason)
                *ret_reason = NULL;
        json_array_foreach(m->checks, k, row) {
                if (!streq(strempty(json_string_value(json_array_get(row, 0))), address))
                        continue;
                if (streq(strempty(json_string_value(json_array_get(row, 2))), "not-ready")) {
                        if (ret_reason)
                                *ret_reason = json_string_value(json_array_get(row, 3));
                        return false;
                }
        }
        return true;
}

json_t *model_instance(const TuiModel *m, const char *name) {
        json_t *i;
        size_t k;

        json_array_foreach(m->instances, k, i)
                if (streq(jstr(i, "Name"), name))
                        return i;
        return NULL;
}

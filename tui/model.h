#pragma once

/* What the console shows, as arkd reports it over D-Bus: the manager's properties and every
 * accelerator, tenant, instance, tenant network and bundle (each object's properties as a JSON
 * object, as GetAll returns them), and the passthrough checks. Fetched whole; the console fetches
 * again when arkd signals a change (NetworkNew, NetworkRemoved and a network's PropertiesChanged
 * included: any signal from arkd). */

#include <jansson.h>
#include <stdbool.h>
#include <systemd/sd-bus.h>

typedef struct TuiModel {
        bool connected;       /* arkd answered */
        char *error;          /* why not, a sentence */
        json_t *manager;      /* object of Manager properties */
        json_t *accelerators; /* array of objects, by address */
        json_t *tenants;      /* array, by name */
        json_t *instances;    /* array, by name */
        json_t *bundles;      /* array: kind, tenant, name, version (ListBundles) */
        /* Tenant networks (ListNetworks), by tenant then name. NULL when arkd did not list them:
         * an arkd built without them (networks_unsupported), or a refusal such as a user in no
         * tenant (networks_error says why, in arkd's words). Neither makes the console
         * disconnected. */
        json_t *networks;
        char *networks_error;
        bool networks_unsupported;
        json_t *checks; /* array of [subject, check, status, found, todo] (CheckHost; admins) */
} TuiModel;

void model_done(TuiModel *m);
/* Fetches everything; on failure m says why (connected false) and the old data is dropped. */
int model_refresh(TuiModel *m, sd_bus *bus);

const char *jstr(json_t *o, const char *key);
uint64_t ju64(json_t *o, const char *key);
/* Whether the accelerator at `address` passed every passthrough check (no "not-ready"); and the
 * first reason when not (NULL when ready or unknown). */
bool model_gpu_ready(const TuiModel *m, const char *address, const char **ret_reason);
/* The instance object of that name, NULL when none. */
json_t *model_instance(const TuiModel *m, const char *name);

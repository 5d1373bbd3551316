#pragma once

#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <errno.h>
#include "basic/list.h"
#include "basic/macro.h"
#include "pool/quota.h"

typedef struct Manager Manager;
typedef struct Tenant Tenant;

/* A member of a tenant: a Unix user or group. */
typedef struct TenantMember {
        char kind[8]; /* "user" or "group" */
        uint32_t id;  /* uid or gid */
        char *name;
} TenantMember;

struct Tenant {
        Manager *manager;
        TenantMember *members;
        size_t n_members;
        Quota *quotas; /* sorted by resource, then model */
        size_t n_quotas;
        int64_t id;    /* row id in the store */
        char uuid[37]; /* never reused: what history (usage) is keyed by */
        char *name;
        char *description;
        uint64_t created_usec;
        char *path; /* D-Bus object path */
        LIST_FIELDS(Tenant, tenants);
};

/* Allocates a tenant object (not yet in the store nor on the manager's list). */
int tenant_new(Manager *m, const char *name, const char *description, Tenant **ret);
Tenant *tenant_free(Tenant *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(Tenant, tenant_free);

/* Puts every tenant in the store on m's list (empty before), sorted by name; members and quotas
 * are loaded after. Returns 0 or a negative errno (the store's message in db_errmsg()); does not log. */
int tenant_load_all(Manager *m);

Tenant *manager_find_tenant(Manager *m, const char *name);
/* Orders tenants by name (the manager's list is kept sorted). */
int tenant_compare(const Tenant *a, const Tenant *b);
unsigned tenant_count_instances(Tenant *t);

/* One sentence in *ret_reason (static) when the description is not acceptable. */
int tenant_description_validate(const char *description, const char **ret_reason);

/* Creates: validates, writes the store (one transaction), adds it to the manager, emits signals.
 * A refusal or failure fills `error` (its name and sentence for the bus) and returns < 0. */
int tenant_create(Manager *m, const char *name, const char *description, Tenant **ret, sd_bus_error *error);
int tenant_delete(Tenant *t, sd_bus_error *error);
int tenant_set_description(Tenant *t, const char *description, sd_bus_error *error);
/* Adds or removes a member ("user" or "group", by name or number). Refusals fill `error`. */
int tenant_member_add(Tenant *t, const char *kind, const char *name, sd_bus_error *error);
int tenant_member_remove(Tenant *t, const char *kind, const char *name, sd_bus_error *error);
/* Appends a member to t's runtime list (loading). Returns 0 or -ENOMEM. */
int tenant_member_push(Tenant *t, const char *kind, uint32_t id, const char *name);

/* Sets the guarantee and limit on one resource ("gpus" with a model: GPUs of that model).
 * No guarantee and no limit removes the quota. Refuses a guarantee above the limit, guarantees
 * on GPUs that together exceed the host's, and a limit below what the tenant uses now. */
int tenant_quota_set(Tenant *t, const char *resource, const char *model, uint64_t guarantee, uint64_t limit,
                     sd_bus_error *error);
/* Appends a quota to t's runtime list (loading), replacing one on the same resource and model. */
int tenant_quota_put(Tenant *t, const Quota *q);
/* What the tenant's instances use (whole GPUs and partitions), and its creates waiting on a
 * reclaim (reclaim.h) will; u->gpu_models is allocated, u->gpu_milli_of with it (free
 * gpu_models only). */
int tenant_usage(Tenant *t, QuotaUsage *u);
/* Whether the tenant may add `request` (GPUs by address in request_gpus, or a container's
 * partition: its milli-GPUs and GPU memory). Refusals fill `error` with QuotaExceeded. */
int tenant_admit(Tenant *t, unsigned instances, unsigned vcpus, uint64_t memory_bytes, uint64_t disk_bytes,
                 char **request_gpus, const InstancePartition *request_partition, sd_bus_error *error);
/* The same for any request (networks, forwards: quota.h). */
int tenant_admit_usage(Tenant *t, const QuotaUsage *req, sd_bus_error *error);

/* D-Bus side (tenant-dbus.c). */
extern const struct sd_bus_vtable tenant_vtable[];
int tenant_object_find(struct sd_bus *bus, const char *path, const char *interface, void *userdata,
                       void **found, sd_bus_error *error);
int tenant_node_enumerator(struct sd_bus *bus, const char *path, void *userdata, char ***nodes,
                           sd_bus_error *error);

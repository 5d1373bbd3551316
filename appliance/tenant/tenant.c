/* Tenants: creation, deletion and description changes, each one store transaction. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <systemd/sd-bus.h>
#include <grp.h>
#include <pwd.h>

#include "basic/log.h"
#include "basic/parse-util.h"
#include "basic/string-util.h"
#include "basic/time-util.h"
#include "instance.h"
#include "manager.h"
#include "reclaim.h"
#include "shared/bus-util.h"
#include "shared/db.h"
#include "store.h"
#include "bundles.h"
#include "network.h"
#include "tenant.h"

#define TENANT_DESCRIPTION_MAX 256

int tenant_new(Manager *m, const char *name, const char *description, Tenant **ret) {
        _cleanup_(tenant_freep) Tenant *t = calloc(1, sizeof(Tenant));
        int r;

        if (!t)
                return -ENOMEM;
        t->manager = m;
        t->name = strdup(name);
        t->description = strdup(strempty(description));
        if (!t->name || !t->description)
                return -ENOMEM;
        r = sd_bus_path_encode(ARK_BUS_PREFIX_TENANT, name, &t->path);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(t);
        return 0;
}

Tenant *tenant_free(Tenant *t) {
        if (!t)
                return NULL;
        for (size_t k = 0; k < t->n_members; k++)
                free(t->members[k].name);
        free(t->members);
        free(t->quotas);
        free(t->name);
        free(t->description);
        free(t->path);
        free(t);
        return NULL;
}

static int load_tenant(const StoreTenant *rec, void *userdata) {
        _cleanup_(tenant_freep) Tenant *t = NULL;
        Manager *m = userdata;
        int r;

        r = tenant_new(m, rec->name, rec->description, &t);
        if (r < 0)
                return r;
        t->id = rec->id;
        t->created_usec = rec->created_usec;
        snprintf(t->uuid, sizeof(t->uuid), "%s", rec->uuid);
        /* The store hands them out in descending order: prepending keeps the list sorted. */
        LIST_PREPEND(tenants, m->tenants, TAKE_PTR(t));
        return 0;
}

int tenant_load_all(Manager *m) {
        return store_tenant_foreach(m->db, load_tenant, m);
}

int tenant_compare(const Tenant *a, const Tenant *b) {
        return strcmp(a->name, b->name);
}

Tenant *manager_find_tenant(Manager *m, const char *name) {
        LIST_FOREACH(tenants, t, m->tenants)
                if (streq(t->name, name))
                        return t;
        return NULL;
}

unsigned tenant_count_instances(Tenant *t) {
        unsigned n = 0;

        LIST_FOREACH(instances, i, t->manager->instances)
                if (streq(i->tenant, t->name))
                        n++;
        return n;
}

int tenant_description_validate(const char *description, const char **ret_reason) {
        if (strlen(description) > TENANT_DESCRIPTION_MAX) {
                *ret_reason = "a description may be at most 256 characters long";
                return -EINVAL;
        }
        for (const char *p = description; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f) {
                        *ret_reason = "a description may not contain control characters";
                        return -EINVAL;
                }
        return 0;
}

int tenant_create(Manager *m, const char *name, const char *description, Tenant **ret, sd_bus_error *error) {
        _cleanup_transaction_ DbTransaction tx = {};
        _cleanup_(tenant_freep) Tenant *t = NULL;
        Network *net = NULL;
        StoreTenant rec;
        const char *reason;
        int r;

        reason = ark_name_invalid_reason(name);
        if (reason)
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "Invalid tenant name '%.80s%s': %s.", name,
                                         strlen(name) > 80 ? "..." : "", reason);
        if (tenant_description_validate(description, &reason) < 0)
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "Invalid description for tenant '%s': %s.", name, reason);
        if (manager_find_tenant(m, name))
                return sd_bus_error_setf(error, ARK_ERROR_ALREADY_EXISTS, "Tenant '%s' already exists.",
                                         name);

        r = tenant_new(m, name, description, &t);
        if (r < 0)
                return r;
        t->created_usec = now_usec(CLOCK_REALTIME);
        r = ark_uuid_generate(t->uuid);
        if (r < 0)
                return r;
        rec = (StoreTenant) {
                .uuid = t->uuid,
                .name = t->name,
                .description = t->description,
                .created_usec = t->created_usec,
        };

        r = db_transaction_begin(m->db, &tx);
        if (r >= 0)
                r = store_tenant_insert(m->db, &rec);
        if (r == -EEXIST)
                return sd_bus_error_setf(error, ARK_ERROR_ALREADY_EXISTS, "Tenant '%s' already exists.",
                                         name);
        if (r < 0) {
                log_error_errno(r, "Failed to store tenant '%s': %s", name, db_errmsg(m->db));
                return manager_store_error(m, error, r, "Failed to store tenant '%s'", name);
        }
        /* Its default network in the same transaction: a tenant comes with it, or not at all. */
        if (m->config.network_default && network_available(m)) {
                NetworkParams p;

                network_default_params(m, name, &p);
                p.tenant_pending = true;
                r = network_create_pending(m, &p, &net, error);
                if (r < 0)
                        return r;
        }
        r = db_transaction_commit(&tx);
        if (r < 0) {
                if (net)
                        network_create_undo(net);
                log_error_errno(r, "Failed to store tenant '%s': %s", name, db_errmsg(m->db));
                return manager_store_error(m, error, r, "Failed to store tenant '%s'", name);
        }
        if (net)
                network_create_finish(net);

        t->id = rec.id;
        LIST_INSERT_SORTED(tenants, m->tenants, t, tenant_compare);
        char field[96];
        snprintf(field, sizeof(field), "ARK_TENANT=%s", name);
        log_struct(LOG_INFO, 0, LOG_FIELDS(field), "Created tenant '%s'.", name);
        (void) sd_bus_emit_signal(m->bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "TenantNew", "so", t->name,
                                  t->path);
        (void) sd_bus_emit_object_added(m->bus, t->path);
        manager_emit_counts_changed(m);
        if (ret)
                *ret = t;
        TAKE_PTR(t);
        return 0;
}

int tenant_delete(Tenant *t, sd_bus_error *error) {
        _cleanup_transaction_ DbTransaction tx = {};
        _cleanup_free_ char *name = NULL, *path = NULL;
        Manager *m = t->manager;
        unsigned n;
        int r;

        n = tenant_count_instances(t);
        if (n > 0) {
                /* Which ones: the admin's next command deletes them (the first few named). */
                StrBuf b = {};
                unsigned listed = 0;
                _cleanup_free_ char *names = NULL;

                LIST_FOREACH(instances, i, m->instances)
                        if (streq(i->tenant, t->name) && listed++ < 5)
                                strbuf_printf(&b, "%s'%s'", listed > 1 ? ", " : "", i->name);
                if (n > 5)
                        strbuf_printf(&b, " and %u more", n - 5);
                names = strbuf_steal(&b);
                return sd_bus_error_setf(error, ARK_ERROR_IN_USE,
                                         "Tenant '%s' still owns %u instance%s (%s); delete %s first.",
                                         t->name, n, n == 1 ? "" : "s", strna(names),
                                         n == 1 ? "it" : "them");
        }
        n = bundle_count_for_tenant(m, t->name);
        if (n > 0)
                return sd_bus_error_setf(
                        error, ARK_ERROR_IN_USE,
                        "Tenant '%s' still owns %u model%s or other bundles; delete %s first "
                        "('arkctl model list --tenant %s').",
                        t->name, n, n == 1 ? "" : "s", n == 1 ? "it" : "them", t->name);

        r = db_transaction_begin(m->db, &tx);
        if (r >= 0)
                r = store_tenant_delete(m->db, t->id);
        if (r >= 0)
                r = db_transaction_commit(&tx);
        if (r == -EBUSY)
                return sd_bus_error_setf(error, ARK_ERROR_IN_USE, "Tenant '%s' still owns instances.",
                                         t->name);
        if (r < 0) {
                log_error_errno(r, "Failed to delete tenant '%s' from the store: %s", t->name,
                                db_errmsg(m->db));
                return manager_store_error(m, error, r, "Failed to delete tenant '%s'", t->name);
        }

        network_forget_tenant(m, t->name); /* their rows went with the tenant's */
        name = strdup(t->name);
        path = strdup(t->path);
        (void) sd_bus_emit_object_removed(m->bus, t->path);
        LIST_REMOVE(tenants, m->tenants, t);
        tenant_free(t);
        log_info("Deleted tenant '%s'.", strna(name));
        if (name && path)
                (void) sd_bus_emit_signal(m->bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "TenantRemoved", "so",
                                          name, path);
        manager_emit_counts_changed(m);
        return 0;
}

int tenant_set_description(Tenant *t, const char *description, sd_bus_error *error) {
        _cleanup_transaction_ DbTransaction tx = {};
        _cleanup_free_ char *copy = NULL;
        Manager *m = t->manager;
        const char *reason;
        int r;

        if (tenant_description_validate(description, &reason) < 0)
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "Invalid description for tenant '%s': %s.", t->name, reason);
        copy = strdup(description);
        if (!copy)
                return -ENOMEM;
        r = db_transaction_begin(m->db, &tx);
        if (r >= 0)
                r = store_tenant_update_description(m->db, t->id, description);
        if (r >= 0)
                r = db_transaction_commit(&tx);
        if (r < 0)
                return manager_store_error(m, error, r, "Failed to update tenant '%s'", t->name);

        free(t->description);
        t->description = TAKE_PTR(copy);
        (void) sd_bus_emit_properties_changed(m->bus, t->path, ARK_BUS_IFACE_TENANT, "Description", NULL);
        return 0;
}

int tenant_member_push(Tenant *t, const char *kind, uint32_t id, const char *name) {
        TenantMember *m = realloc(t->members, sizeof(TenantMember) * (t->n_members + 1));

        if (!m)
                return -ENOMEM;
        t->members = m;
        m = &t->members[t->n_members];
        *m = (TenantMember) { .id = id, .name = strdup(name) };
        snprintf(m->kind, sizeof(m->kind), "%s", kind);
        if (!m->name)
                return -ENOMEM;
        t->n_members++;
        return 0;
}

/* A user or group by name or number, as the system knows it. */
static int resolve_member(const char *kind, const char *name, uint32_t *ret_id, char **ret_name,
                          sd_bus_error *error) {
        uint32_t n;
        bool numeric = parse_u32(name, &n) >= 0;

        if (isempty(name) || strlen(name) > 64)
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "A %s name must be 1 to 64 characters.", kind);
        if (streq(kind, "user")) {
                struct passwd *pw = numeric ? getpwuid(n) : getpwnam(name);

                if (!pw)
                        return sd_bus_error_setf(
                                error, ARK_ERROR_NOT_FOUND,
                                "There is no user '%.64s' on this host (see getent passwd).", name);
                *ret_id = pw->pw_uid;
                *ret_name = strdup(pw->pw_name);
        } else if (streq(kind, "group")) {
                struct group *gr = numeric ? getgrgid(n) : getgrnam(name);

                if (!gr)
                        return sd_bus_error_setf(
                                error, ARK_ERROR_NOT_FOUND,
                                "There is no group '%.64s' on this host (see getent group).", name);
                *ret_id = gr->gr_gid;
                *ret_name = strdup(gr->gr_name);
        } else
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "A member is a 'user' or a 'group', not '%.20s'.", kind);
        return *ret_name ? 0 : -ENOMEM;
}

static void emit_members_changed(Tenant *t) {
        (void) sd_bus_emit_properties_changed(t->manager->bus, t->path, ARK_BUS_IFACE_TENANT, "Members",
                                              NULL);
}

int tenant_member_add(Tenant *t, const char *kind, const char *name, sd_bus_error *error) {
        _cleanup_transaction_ DbTransaction tx = {};
        _cleanup_free_ char *resolved = NULL;
        Manager *m = t->manager;
        uint32_t id = 0;
        int r;

        r = resolve_member(kind, name, &id, &resolved, error);
        if (r < 0)
                return r;
        for (size_t k = 0; k < t->n_members; k++)
                if (streq(t->members[k].kind, kind) && t->members[k].id == id)
                        return sd_bus_error_setf(error, ARK_ERROR_ALREADY_EXISTS,
                                                 "The %s '%s' is a member of tenant '%s' "
                                                 "already.",
                                                 kind, resolved, t->name);
        r = db_transaction_begin(m->db, &tx);
        if (r >= 0)
                r = store_member_insert(m->db, t->id, kind, id, resolved, now_usec(CLOCK_REALTIME));
        if (r >= 0)
                r = db_transaction_commit(&tx);
        if (r < 0)
                return manager_store_error(m, error, r, "Failed to store the member of '%s'", t->name);
        r = tenant_member_push(t, kind, id, resolved);
        if (r < 0)
                return r;
        log_info("Added %s '%s' (%u) to tenant '%s'.", kind, resolved, id, t->name);
        emit_members_changed(t);
        return 0;
}

int tenant_member_remove(Tenant *t, const char *kind, const char *name, sd_bus_error *error) {
        _cleanup_transaction_ DbTransaction tx = {};
        Manager *m = t->manager;
        size_t k;
        uint32_t n;
        int r;

        /* By the name or number stored: the user may be gone from the system by now. */
        for (k = 0; k < t->n_members; k++)
                if (streq(t->members[k].kind, kind) &&
                    (streq(t->members[k].name, name) || (parse_u32(name, &n) >= 0 && n == t->members[k].id)))
                        break;
        if (k == t->n_members)
                return sd_bus_error_setf(error, ARK_ERROR_NOT_FOUND,
                                         "The %s '%.64s' is not a member of tenant '%s'.",
                                         streq(kind, "group") ? "group" : "user", name, t->name);
        r = db_transaction_begin(m->db, &tx);
        if (r >= 0)
                r = store_member_delete(m->db, t->id, kind, t->members[k].id);
        if (r >= 0)
                r = db_transaction_commit(&tx);
        if (r < 0)
                return manager_store_error(m, error, r, "Failed to remove the member of '%s'", t->name);
        log_info("Removed %s '%s' from tenant '%s'.", kind, t->members[k].name, t->name);
        free(t->members[k].name);
        memmove(&t->members[k], &t->members[k + 1], sizeof(TenantMember) * (t->n_members - k - 1));
        t->n_members--;
        emit_members_changed(t);
        return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* quotas */

static int quota_compare(const Quota *a, const Quota *b) {
        if (a->resource != b->resource)
                return a->resource < b->resource ? -1 : 1;
        return strcmp(a->model, b->model);
}

static Quota *tenant_find_quota(Tenant *t, QuotaResource r, const char *model) {
        Quota key = { .resource = r };

        snprintf(key.model, sizeof(key.model), "%s", model);
        for (size_t k = 0; k < t->n_quotas; k++)
                if (quota_compare(&t->quotas[k], &key) == 0)
                        return &t->quotas[k];
        return NULL;
}

int tenant_quota_put(Tenant *t, const Quota *q) {
        Quota *have = tenant_find_quota(t, q->resource, q->model), *n;
        size_t k;

        if (have) {
                if (q->guarantee == 0 && q->limit == QUOTA_UNLIMITED) {
                        k = (size_t) (have - t->quotas);
                        memmove(have, have + 1, sizeof(Quota) * (t->n_quotas - k - 1));
                        t->n_quotas--;
                } else
                        *have = *q;
                return 0;
        }
        if (q->guarantee == 0 && q->limit == QUOTA_UNLIMITED)
                return 0;
        n = realloc(t->quotas, sizeof(Quota) * (t->n_quotas + 1));
        if (!n)
                return -ENOMEM;
        t->quotas = n;
        for (k = 0; k < t->n_quotas && quota_compare(&t->quotas[k], q) < 0; k++)
                ;
        memmove(&t->quotas[k + 1], &t->quotas[k], sizeof(Quota) * (t->n_quotas - k));
        t->quotas[k] = *q;
        t->n_quotas++;
        return 0;
}

/* `models` has room for a milli-GPU (uint16_t) per entry after its `cap` pointers: the entries'
 * milli-GPUs (u->gpu_milli_of), so that one free() of the models frees both. */
static uint16_t *milli_of(const char **models, size_t cap) {
        return (uint16_t *) (models + cap + 1);
}

static const char **models_new(size_t cap) {
        return calloc(1, (cap + 1) * sizeof(char *) + (cap + 1) * sizeof(uint16_t));
}

static void usage_add_gpus(Manager *m, QuotaUsage *u, const char **models, size_t cap, char **gpus) {
        for (char **g = gpus; g && *g; g++) {
                Accelerator *a = manager_find_accelerator(m, *g);

                u->amount[QUOTA_GPUS]++;
                u->amount[QUOTA_GPU_MEMORY] += a ? a->memory_bytes : 0;
                milli_of(models, cap)[u->n_gpu_models] = QUOTA_MILLI_GPU;
                models[u->n_gpu_models++] = a && a->model ? a->model : "";
        }
}

/* Whether another instance of `tenant` than `self` holds a share of the GPU at `address`. */
static bool tenant_shares_gpu(Manager *m, const char *tenant, const char *address, const Instance *self) {
        LIST_FOREACH(instances, i, m->instances)
                if (i != self && i->partition && !i->partition->mig && streq(i->tenant, tenant) &&
                    streq(i->partition->address, address))
                        return true;
        return false;
}

/* A MIG instance counts its part of its GPU (the rest is for anyone). Shares are counted per GPU:
 * a GPU carrying a tenant's shares serves that tenant alone (one MPS server, one UID, one size:
 * docs/gpu-sharing.md), so it counts as a whole GPU, once, however many shares it carries; else a
 * tenant could lock a GPU from everyone with a share of 0.001. `counted`: the tenant's shares of
 * this GPU are counted already (an earlier instance, or the tenant's own when admitting). */
static void usage_add_partition(Manager *m, QuotaUsage *u, const char **models, size_t cap,
                                const InstancePartition *p, bool counted) {
        Accelerator *a;

        if (!p || (!p->mig && counted))
                return;
        a = manager_find_accelerator(m, p->address);
        u->gpu_milli += p->mig ? p->milli : QUOTA_MILLI_GPU;
        u->amount[QUOTA_GPU_MEMORY] +=
                p->mig || !a ? p->memory_bytes : MAX(a->memory_bytes, p->memory_bytes);
        milli_of(models, cap)[u->n_gpu_models] = (uint16_t) (p->mig ? p->milli : QUOTA_MILLI_GPU);
        models[u->n_gpu_models++] = a && a->model ? a->model : "";
        u->gpu_milli_of = milli_of(models, cap);
}

typedef struct PendingUsage {
        Manager *m;
        QuotaUsage *u;
        const char **models; /* NULL: only count the GPUs into n */
        size_t cap;
        size_t n;
} PendingUsage;

static void add_pending(const InstanceReclaim *req, void *userdata) {
        PendingUsage *p = userdata;

        if (!p->models) {
                p->n += strv_length(req->gpus);
                return;
        }
        p->u->amount[QUOTA_INSTANCES]++;
        p->u->amount[QUOTA_VCPUS] += req->vcpus;
        p->u->amount[QUOTA_MEMORY] += req->memory_bytes;
        p->u->amount[QUOTA_DISK] += req->disk_bytes;
        usage_add_gpus(p->m, p->u, p->models, p->cap, req->gpus);
}

int tenant_usage(Tenant *t, QuotaUsage *u) {
        PendingUsage pending = { .m = t->manager, .u = u };
        const char **models;
        size_t n = 0;

        *u = (QuotaUsage) {};
        LIST_FOREACH(instances, i, t->manager->instances)
                if (streq(i->tenant, t->name))
                        n += strv_length(i->gpus) + (i->partition ? 1 : 0);
        /* A create waiting on a reclaim has what it asked for, for quotas and guarantees. */
        reclaim_foreach_pending(t->manager, t->name, add_pending, &pending);
        pending.cap = n + pending.n;
        models = models_new(pending.cap);
        if (!models)
                return -ENOMEM;
        pending.models = models;
        reclaim_foreach_pending(t->manager, t->name, add_pending, &pending);
        LIST_FOREACH(instances, i, t->manager->instances) {
                if (!streq(i->tenant, t->name))
                        continue;
                u->amount[QUOTA_INSTANCES]++;
                u->amount[QUOTA_VCPUS] += i->vcpus;
                u->amount[QUOTA_MEMORY] += i->memory_bytes;
                u->amount[QUOTA_DISK] += i->disk_path ? i->disk_bytes : 0;
                usage_add_gpus(t->manager, u, models, pending.cap, i->gpus);
                {
                        bool counted = false;

                        /* Each GPU of its shares once: at the first instance on the list. */
                        for (Instance *j = t->manager->instances; i->partition && j && j != i;
                             j = j->instances_next)
                                counted = counted ||
                                        (j->partition && !j->partition->mig && streq(j->tenant, t->name) &&
                                         streq(j->partition->address, i->partition->address));
                        usage_add_partition(t->manager, u, models, pending.cap, i->partition, counted);
                }
        }
        network_tenant_usage(t->manager, t->name, &u->amount[QUOTA_NETWORKS], &u->amount[QUOTA_FORWARDS]);
        u->gpu_models = models;
        u->gpu_milli_of = milli_of(models, pending.cap);
        return 0;
}

static const char *quota_noun(const Quota *q, char *buf, size_t l) {
        static const char *const nouns[_QUOTA_RESOURCE_MAX] = {
                [QUOTA_GPUS] = "GPUs",         [QUOTA_GPU_MEMORY] = "GPU memory",
                [QUOTA_VCPUS] = "vCPUs",       [QUOTA_MEMORY] = "memory",
                [QUOTA_DISK] = "disk",         [QUOTA_INSTANCES] = "instances",
                [QUOTA_NETWORKS] = "networks", [QUOTA_FORWARDS] = "port forwards",
        };

        if (q->resource == QUOTA_GPUS && q->model[0])
                snprintf(buf, l, "%s GPUs", q->model);
        else
                snprintf(buf, l, "%s", nouns[q->resource]);
        return buf;
}

static const char *quota_amount(const Quota *q, uint64_t v, char *buf, size_t l) {
        if (quota_resource_is_bytes(q->resource))
                return format_bytes(buf, l, v);
        snprintf(buf, l, "%" PRIu64, v);
        return buf;
}

int tenant_admit(Tenant *t, unsigned instances, unsigned vcpus, uint64_t memory_bytes, uint64_t disk_bytes,
                 char **request_gpus, const InstancePartition *request_partition, sd_bus_error *error) {
        _cleanup_free_ const char **models = NULL;
        QuotaUsage req = {
                .amount = { [QUOTA_INSTANCES] = instances,
                            [QUOTA_VCPUS] = vcpus,
                            [QUOTA_MEMORY] = memory_bytes,
                            [QUOTA_DISK] = disk_bytes },
        };

        size_t cap = strv_length(request_gpus) + 1;

        if (t->n_quotas == 0)
                return 0;
        models = models_new(cap);
        if (!models)
                return -ENOMEM;
        usage_add_gpus(t->manager, &req, models, cap, request_gpus);
        usage_add_partition(
                t->manager, &req, models, cap, request_partition,
                request_partition &&
                        tenant_shares_gpu(t->manager, t->name, request_partition->address, NULL));
        req.gpu_models = models;
        req.gpu_milli_of = milli_of(models, cap);
        return tenant_admit_usage(t, &req, error);
}

int tenant_admit_usage(Tenant *t, const QuotaUsage *req, sd_bus_error *error) {
        QuotaUsage used = {};
        char b1[32], b2[32], b3[32], noun[96];
        uint64_t total = 0;
        size_t k = 0;
        int r;

        if (t->n_quotas == 0)
                return 0;
        r = tenant_usage(t, &used);
        if (r < 0)
                return r;
        r = quota_admit(t->quotas, t->n_quotas, &used, req, &k, &total);
        if (r == -EDQUOT)
                r = sd_bus_error_setf(
                        error, ARK_ERROR_QUOTA_EXCEEDED,
                        "Tenant '%s' would use %s of its %s %s (it uses %s now).", t->name,
                        quota_amount(&t->quotas[k], total, b1, sizeof(b1)),
                        quota_amount(&t->quotas[k], t->quotas[k].limit, b2, sizeof(b2)),
                        quota_noun(&t->quotas[k], noun, sizeof(noun)),
                        quota_amount(&t->quotas[k], quota_used(&t->quotas[k], &used), b3, sizeof(b3)));
        free((void *) used.gpu_models);
        return r;
}

/* GPUs of the host a quota can be guaranteed: all of them, or those of its model; not those the
 * admin reserved for the host or quarantined. */
static uint64_t host_gpus(Manager *m, const Quota *q) {
        const char *name = "";
        QuotaUsage u = { .gpu_models = &name, .n_gpu_models = 1 };
        uint64_t n = 0;

        for (size_t k = 0; k < m->n_accelerators; k++) {
                if (m->accelerators[k].hold)
                        continue;
                name = m->accelerators[k].model ?: "";
                n += q->model[0] == 0 || quota_used(q, &u) > 0;
        }
        return n;
}

static bool model_is_printable(const char *s) {
        for (; *s; s++)
                if ((unsigned char) *s < 0x20 || (unsigned char) *s >= 0x7f)
                        return false;
        return true;
}

int tenant_quota_set(Tenant *t, const char *resource, const char *model, uint64_t guarantee, uint64_t limit,
                     sd_bus_error *error) {
        _cleanup_transaction_ DbTransaction tx = {};
        Manager *m = t->manager;
        char b1[32], b2[32], noun[96];
        QuotaUsage used = {};
        Quota q = { .guarantee = guarantee, .limit = limit };
        uint64_t now, guaranteed = guarantee, cap;
        int r;

        q.resource = quota_resource_from_string(resource);
        if (q.resource < 0)
                return sd_bus_error_setf(
                        error, ARK_ERROR_INVALID_ARGUMENT,
                        "Unknown quota resource '%.40s'; use gpus, gpu-memory, vcpus, memory, disk or "
                        "instances.",
                        resource);
        model = model ?: "";
        if (!isempty(model) && q.resource != QUOTA_GPUS)
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "Only the gpus quota can name a GPU model, not %s.", resource);
        if (strlen(model) >= sizeof(q.model) || !model_is_printable(model))
                return sd_bus_error_setf(
                        error, ARK_ERROR_INVALID_ARGUMENT,
                        "GPU model '%.40s' must be printable and shorter than %zu characters.", model,
                        sizeof(q.model));
        snprintf(q.model, sizeof(q.model), "%s", model);
        if (limit != QUOTA_UNLIMITED && guarantee > limit)
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "The guarantee on %s (%s) is above the limit (%s).",
                                         quota_noun(&q, noun, sizeof(noun)),
                                         quota_amount(&q, guarantee, b1, sizeof(b1)),
                                         quota_amount(&q, limit, b2, sizeof(b2)));
        if (guarantee > INT64_MAX || (limit != QUOTA_UNLIMITED && limit > INT64_MAX))
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "Quota amounts must be below 2^63.");

        /* A guarantee is a promise the host must be able to keep for every tenant at once. */
        if (q.resource == QUOTA_GPUS && guarantee > 0) {
                const Quota any = { .resource = QUOTA_GPUS };
                uint64_t all = guarantee;

                /* Guarantees of every model draw on the same GPUs: they add up, also across
                 * models (conservatively: an H100 guarantee beside an any-GPU one counts twice). */
                LIST_FOREACH(tenants, o, m->tenants)
                        for (size_t k = 0; k < o->n_quotas; k++) {
                                const Quota *oq = &o->quotas[k];

                                if (oq->resource != QUOTA_GPUS || (o == t && quota_compare(oq, &q) == 0))
                                        continue;
                                all += oq->guarantee;
                                if (strcasecmp(oq->model, q.model) == 0)
                                        guaranteed += oq->guarantee;
                        }
                cap = host_gpus(m, &q);
                if (guaranteed > cap)
                        return sd_bus_error_setf(error, ARK_ERROR_NO_CAPACITY,
                                                 "Guaranteeing %" PRIu64 " %s to '%s' would promise %" PRIu64
                                                 " in all, and this host has %" PRIu64 ".",
                                                 guarantee, quota_noun(&q, noun, sizeof(noun)), t->name,
                                                 guaranteed, cap);
                cap = host_gpus(m, &any);
                if (all > cap)
                        return sd_bus_error_setf(
                                error, ARK_ERROR_NO_CAPACITY,
                                "Guaranteeing %" PRIu64 " %s to '%s' would promise %" PRIu64
                                " GPUs in all (guarantees of every model add up), and this host "
                                "has %" PRIu64 " to give out.",
                                guarantee, quota_noun(&q, noun, sizeof(noun)), t->name, all, cap);
        }

        r = tenant_usage(t, &used);
        if (r < 0)
                return r;
        now = quota_used(&q, &used);
        free((void *) used.gpu_models);
        if (limit != QUOTA_UNLIMITED && now > limit)
                return sd_bus_error_setf(
                        error, ARK_ERROR_IN_USE,
                        "Tenant '%s' uses %s %s now, above the limit of %s; remove instances first.",
                        t->name, quota_amount(&q, now, b1, sizeof(b1)), quota_noun(&q, noun, sizeof(noun)),
                        quota_amount(&q, limit, b2, sizeof(b2)));

        r = db_transaction_begin(m->db, &tx);
        if (r >= 0)
                r = store_quota_set(m->db, t->id, &q);
        if (r >= 0)
                r = db_transaction_commit(&tx);
        if (r < 0)
                return manager_store_error(m, error, r, "Failed to store the quota of '%s'", t->name);
        r = tenant_quota_put(t, &q);
        if (r < 0)
                return r;
        log_info("Set quota of tenant '%s' on %s: guarantee %s, limit %s.", t->name,
                 quota_noun(&q, noun, sizeof(noun)), quota_amount(&q, guarantee, b1, sizeof(b1)),
                 limit == QUOTA_UNLIMITED ? "none" : quota_amount(&q, limit, b2, sizeof(b2)));
        (void) sd_bus_emit_properties_changed(m->bus, t->path, ARK_BUS_IFACE_TENANT, "Quotas", NULL);
        return 0;
}

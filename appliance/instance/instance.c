/* Instances: create, start, stop, force-off, delete. Each mutation changes the store and the
 * instance's driver (driver.h; libvirt for VMs) together: the store transaction commits only after
 * the driver carried the change out, so a failure leaves both as they were. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-id128.h>

#include "pool/admission.h"
#include "api-guard.h"
#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/parse-util.h"
#include "basic/string-util.h"
#include "basic/time-util.h"
#include "container/container.h"
#include "shared/json-util.h"
#include "disk.h"
#include "domain-xml.h"
#include "driver.h"
#include "image-store.h"
#include "bundles.h"
#include "network.h"
#include "instance.h"
#include "meter.h"
#include "manager.h"
#include "passthrough.h"
#include "reclaim.h"
#include "readiness.h"
#include "shared/bus-util.h"
#include "shared/db.h"
#include "store.h"
#include "vfio.h"

#define VCPUS_MAX 4096U
#define MEMORY_MIN (16ULL << 20)
#define DISK_MIN (1ULL << 20)
#define DISK_MAX (64ULL << 40)
#define CMDLINE_MAX 4096
#define CONTAINER_ARGS_MAX 1024
#define CONTAINER_ARGS_BYTES_MAX (256 * 1024)
#define CONTAINER_MEMORY_DEFAULT (UINT64_C(256) << 20)
#define VIRT_HIGHMEM_MMIO (UINT64_C(512) << 30) /* QEMU's arm64 'virt': its high PCI MMIO window */

static const char *const state_table[_INSTANCE_STATE_MAX] = {
        [INSTANCE_STOPPED] = "stopped", [INSTANCE_RUNNING] = "running",
        [INSTANCE_PAUSED] = "paused",   [INSTANCE_SHUTTING_DOWN] = "shutting-down",
        [INSTANCE_CRASHED] = "crashed", [INSTANCE_UNKNOWN] = "unknown",
};

const char *instance_state_to_string(InstanceState s) {
        if (s < 0 || s >= _INSTANCE_STATE_MAX)
                return NULL;
        return state_table[s];
}

Instance *instance_free(Instance *i) {
        if (!i)
                return NULL;
        instance_stop_complete(i, ARK_ERROR_INVALID_STATE, "arkd is shutting down");
        meter_close(i);
        if (i->preempting && i->manager)
                reclaim_kick(i->manager);
        free(i->name);
        free(i->domain_name);
        free(i->tenant);
        free(i->type);
        free(i->disk_path);
        free(i->image);
        free(i->kernel);
        free(i->initrd);
        free(i->cmdline);
        free(i->preempted_model);
        free(i->console_log);
        free(i->path);
        free(i->state_reason);
        strv_free(i->gpus);
        strv_free(i->args);
        strv_free(i->env);
        instance_partition_free(i->partition);
        free(i);
        return NULL;
}

int instance_compare(const Instance *a, const Instance *b) {
        int c = strcmp(a->name, b->name);

        return c != 0 ? c : strcmp(a->tenant, b->tenant);
}

Instance *manager_find_instance_in(Manager *m, const char *tenant, const char *name) {
        if (!tenant || !name)
                return NULL;
        LIST_FOREACH(instances, i, m->instances)
                if (streq(i->name, name) && streq(i->tenant, tenant))
                        return i;
        return NULL;
}

int manager_resolve_instance(Manager *m, const char *ref, bool (*visible)(const Instance *i, void *userdata),
                             void *userdata, Instance **ret) {
        const char *slash = strchr(ref, '/');
        Instance *found = NULL;

        if (slash) {
                _cleanup_free_ char *tenant = strndup(ref, (size_t) (slash - ref));

                if (!tenant)
                        return -ENOMEM;
                found = manager_find_instance_in(m, tenant, slash + 1);
                *ret = found && visible(found, userdata) ? found : NULL;
                return 0;
        }
        LIST_FOREACH(instances, i, m->instances) {
                if (!streq(i->name, ref) || !visible(i, userdata))
                        continue;
                if (found)
                        return -ENOTUNIQ;
                found = i;
        }
        *ret = found;
        return 0;
}

int instance_object_path(const char *tenant, const char *name, char **ret) {
        return sd_bus_path_encode_many(ret, ARK_BUS_PREFIX_INSTANCE "/%/%", tenant, name);
}

Instance *manager_find_instance_by_uuid(Manager *m, const char *uuid) {
        LIST_FOREACH(instances, i, m->instances)
                if (strcasecmp(i->uuid, uuid) == 0)
                        return i;
        return NULL;
}

/* Inserts i (its spec, as the store's record) in the caller's transaction and sets i->id. Errors
 * as store_instance_insert(). */
static int instance_store_insert(Instance *i) {
        _cleanup_free_ char *args = NULL, *env = NULL;
        StoreInstance rec = {
                .uuid = i->uuid,
                .name = i->name,
                .tenant = i->tenant,
                .domain_name = i->domain_name,
                .type = i->type,
                .vcpus = i->vcpus,
                .memory_bytes = i->memory_bytes,
                .disk_path = i->disk_path,
                .disk_bytes = i->disk_bytes,
                .disk_owned = i->disk_owned,
                .image = i->image,
                .kernel = i->kernel,
                .initrd = i->initrd,
                .cmdline = i->cmdline,
                .console_log = i->console_log,
                .desired_running = i->desired_running,
                .uefi = i->uefi,
                .created_usec = i->created_usec,
                .preemptible = i->preemptible,
                .model_id = i->model_id,
                .container_image_id = i->container_image_id,
        };
        int r;

        if ((i->args && !(args = strv_to_json(i->args))) || (i->env && !(env = strv_to_json(i->env))))
                return -ENOMEM;
        rec.args_json = args;
        rec.env_json = env;
        r = store_instance_insert(i->manager->db, &rec);
        if (r < 0)
                return r;
        i->id = rec.id;
        return 0;
}

/* A copy of s, or NULL for NULL. */
/* Its partition's row (and memory slices), in the caller's transaction. -EEXIST when the schema
 * refuses it (the GPU taken otherwise meanwhile). */
static int instance_store_partition(Instance *i) {
        const InstancePartition *p = i->partition;
        const MigProfileInfo *info = p->mig ? mig_profile_info((MigProfile) p->profile) : NULL;
        StorePartition rec = {
                .instance_id = i->id,
                .address = p->address,
                .kind = p->mig ? "mig" : "share",
                .profile = info ? info->name : NULL,
                .mig_start = p->mig ? (int) p->mig_start : -1,
                .mig_slices = info ? info->slices : 0,
                .compute_slices = info ? info->compute : 0,
                .milli = p->milli,
                .memory_bytes = p->memory_bytes,
                .gi_id = p->gi_id,
                .ci_id = p->ci_id,
                .uuid = p->uuid,
                .created_usec = i->created_usec,
        };

        return store_partition_insert(i->manager->db, &rec);
}

static int load_instance(const StoreInstance *rec, void *userdata) {
        _cleanup_(instance_freep) Instance *i = calloc(1, sizeof(Instance));
        Manager *m = userdata;
        int r;

        if (!i)
                return -ENOMEM;
        i->manager = m;
        i->state = INSTANCE_UNKNOWN;
        i->id = rec->id;
        snprintf(i->uuid, sizeof(i->uuid), "%s", rec->uuid);
        if (strdup_or_null(&i->name, rec->name) < 0 || strdup_or_null(&i->tenant, rec->tenant) < 0 ||
            strdup_or_null(&i->type, rec->type) < 0 ||
            strdup_or_null(&i->domain_name, rec->domain_name) < 0 ||
            strdup_or_null(&i->disk_path, rec->disk_path) < 0 || strdup_or_null(&i->image, rec->image) < 0 ||
            strdup_or_null(&i->kernel, rec->kernel) < 0 || strdup_or_null(&i->initrd, rec->initrd) < 0 ||
            strdup_or_null(&i->cmdline, rec->cmdline) < 0 ||
            strdup_or_null(&i->console_log, rec->console_log) < 0 ||
            strdup_or_null(&i->preempted_model, rec->preempted_model) < 0)
                return -ENOMEM;
        i->vcpus = rec->vcpus;
        i->memory_bytes = rec->memory_bytes;
        i->disk_bytes = rec->disk_bytes;
        i->disk_owned = rec->disk_owned;
        i->desired_running = rec->desired_running;
        i->uefi = rec->uefi;
        i->created_usec = rec->created_usec;
        i->preemptible = rec->preemptible;
        i->preempted_gpus = rec->preempted_gpus;
        i->model_id = rec->model_id;
        i->container_image_id = rec->container_image_id;
        if ((rec->args_json && strv_from_json(rec->args_json, &i->args) < 0) ||
            (rec->env_json && strv_from_json(rec->env_json, &i->env) < 0))
                return -EBADMSG;
        r = instance_object_path(i->tenant, i->name, &i->path);
        if (r < 0)
                return r;
        /* The store hands them out in descending order: prepending keeps the list sorted. */
        LIST_PREPEND(instances, m->instances, TAKE_PTR(i));
        return 0;
}

int instance_load_all(Manager *m) {
        return store_instance_foreach(m->db, load_instance, m);
}

void instance_emit_state_changed(Instance *i) {
        Manager *m = i->manager;

        (void) sd_bus_emit_properties_changed(m->bus, i->path, ARK_BUS_IFACE_INSTANCE, "State",
                                              "StateReason", NULL);
        (void) sd_bus_emit_signal(m->bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "InstanceStateChanged",
                                  "soss", i->name, i->path, instance_state_to_string(i->state),
                                  strempty(i->state_reason));
}

void instance_set_state(Instance *i, InstanceState state, const char *reason) {
        char f_instance[96], f_state[48];

        if (i->state == state && (!reason || (i->state_reason && streq(i->state_reason, reason))))
                return;
        /* Why a preempted instance stopped stays said until it changes state (the hypervisor's
         * own report of the stop may come after). */
        if (i->state == state && i->preempted_gpus > 0 && startswith(strempty(i->state_reason), "preempted"))
                return;
        if (reason)
                (void) free_and_strdup(&i->state_reason, reason);
        if (i->state == state) {
                instance_emit_state_changed(i);
                return;
        }
        snprintf(f_instance, sizeof(f_instance), "ARK_INSTANCE=%s", i->name);
        snprintf(f_state, sizeof(f_state), "ARK_STATE=%s", strna(instance_state_to_string(state)));
        log_struct(LOG_INFO, 0, LOG_FIELDS("MESSAGE_ID=" ARK_MESSAGE_INSTANCE_STATE, f_instance, f_state),
                   "Instance '%s' is %s (%s).", i->name, strna(instance_state_to_string(state)),
                   strna(reason));
        i->state = state;
        instance_emit_state_changed(i);
        meter_sync(i->manager);
        reclaim_kick(i->manager);
}

static void instance_stop_timer_disarm(Instance *i) {
        i->stop_timer = sd_event_source_disable_unref(i->stop_timer);
}

void instance_stop_complete(Instance *i, const char *bus_error_name, const char *message) {
        instance_stop_timer_disarm(i);
        for (size_t k = 0; k < i->n_pending_stops; k++) {
                sd_bus_message *msg = i->pending_stops[k];

                if (bus_error_name) {
                        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;

                        (void) sd_bus_error_set(&e, bus_error_name, message);
                        (void) api_guard_reply_error(i->manager, msg, &e);
                } else
                        (void) sd_bus_reply_method_return(msg, NULL);
                sd_bus_message_unref(msg);
        }
        i->pending_stops = mfree(i->pending_stops);
        i->n_pending_stops = 0;
}

/* ---------------------------------------------------------------------------------- create */

/* The driver of the type a create asks for (INSTANCE_TYPE_DEFAULT when none); NULL when unknown. */
static const InstanceDriver *params_driver(const InstanceCreateParams *p) {
        return instance_driver_find(isempty(p->type) ? INSTANCE_TYPE_DEFAULT : p->type);
}

/* The instance's driver, its backend there (in *ret when ret is not NULL); fills `error` when
 * there is none for its type or its backend is away. */
static int instance_driver(Instance *i, const InstanceDriver **ret, sd_bus_error *error) {
        const InstanceDriver *d = instance_driver_find(i->type);
        int r;

        if (!d)
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_STATE,
                                         "Instance '%s' is of type '%s', which this arkd has no driver for.",
                                         i->name, strna(i->type));
        r = d->require(i->manager, error);
        if (r < 0)
                return r;
        if (ret)
                *ret = d;
        return 0;
}

/* What a container's spec may hold (its image is looked up in instance_create()). */
static int container_params_check(const InstanceCreateParams *p, sd_bus_error *error) {
        size_t total = 0;

        if (isempty(p->image))
                return sd_bus_error_setf(
                        error, ARK_ERROR_INVALID_ARGUMENT,
                        "Container '%s' needs an Image: an imported container image, NAME or "
                        "NAME@VERSION ('arkctl image list').",
                        p->name);
        if (!isempty(p->kernel) || !isempty(p->initrd) || !isempty(p->cmdline))
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "Kernel, Initrd and Cmdline are for VMs, not containers.");
        if (p->preemptible && (p->mig_profile || p->share_milli > 0))
                return sd_bus_error_setf(
                        error, ARK_ERROR_NOT_SUPPORTED,
                        "A MIG instance or a share cannot be preemptible: only whole GPUs are "
                        "lent and taken back.");
        /* Whole GPUs, a MIG instance or a share: one of them. */
        if ((p->mig_profile != NULL) + (p->share_milli > 0 || p->share_memory > 0) +
                    (p->gpus > 0 || p->gpu_addresses != NULL) >
            1)
                return sd_bus_error_setf(
                        error, ARK_ERROR_INVALID_ARGUMENT,
                        "Give a container whole GPUs (GPUs), a MIG instance (MIGProfile) or a "
                        "share of a GPU (GPUShareMilli and GPUMemoryBytes), not several.");
        if (p->mig_profile && mig_profile_from_string(p->mig_profile) < 0) {
                char names[256] = "";

                for (MigProfile k = 0; k < _MIG_PROFILE_MAX; k++)
                        snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", k ? ", " : "",
                                 mig_profile_info(k)->name);
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "MIGProfile '%.40s' is no MIG profile Ark knows; these are: %s.",
                                         p->mig_profile, names);
        }
        if ((p->share_milli > 0 || p->share_memory > 0) &&
            (p->share_milli == 0 || p->share_milli >= 1000 || p->share_memory < (UINT64_C(1) << 20) ||
             p->share_memory % (UINT64_C(1) << 20) != 0))
                return sd_bus_error_setf(
                        error, ARK_ERROR_INVALID_ARGUMENT,
                        "A share of a GPU needs GPUShareMilli between 1 and 999 (0.001 to 0.999 "
                        "of the GPU) and GPUMemoryBytes of at least 1 MiB, in whole MiB (MPS "
                        "limits memory in MiB); for a whole GPU use GPUs.");
        if (strv_length(p->args) > CONTAINER_ARGS_MAX || strv_length(p->env) > CONTAINER_ARGS_MAX)
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "Args and Env may hold at most %d strings each.",
                                         CONTAINER_ARGS_MAX);
        for (char **a = p->args; a && *a; a++)
                total += strlen(*a) + 1;
        for (char **e = p->env; e && *e; e++) {
                const char *eq = strchr(*e, '=');

                total += strlen(*e) + 1;
                if (!eq || eq == *e)
                        return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                                 "Env entry '%.60s' is not KEY=VALUE.", *e);
                for (const char *c = *e; c < eq; c++)
                        if (!(*c == '_' || (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
                              (c > *e && *c >= '0' && *c <= '9')))
                                return sd_bus_error_setf(
                                        error, ARK_ERROR_INVALID_ARGUMENT,
                                        "Env entry '%.60s': a name holds letters, digits and '_', and does "
                                        "not start with a digit.",
                                        *e);
        }
        if (p->args && !p->args[0])
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "Args may not be empty: leave it out to run the image's command.");
        if (p->args && isempty(p->args[0]))
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "Args: the program may not be empty.");
        if (total > CONTAINER_ARGS_BYTES_MAX)
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "Args and Env hold %zu bytes; at most %d are allowed.", total,
                                         CONTAINER_ARGS_BYTES_MAX);
        return 0;
}

static int validate_params(Manager *m, const InstanceCreateParams *p, sd_bus_error *error) {
        const char *reason;
        char b1[32], b2[32];
        int r;

        if (isempty(p->name))
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT, "The instance needs a name.");
        reason = ark_name_invalid_reason(p->name);
        if (reason)
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "Invalid instance name '%.80s%s': %s.", p->name,
                                         strlen(p->name) > 80 ? "..." : "", reason);
        if (isempty(p->tenant))
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "Instance '%s' needs a tenant (Tenant).", p->name);
        if (!ark_name_is_valid(p->tenant))
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "Invalid tenant name '%.80s': %s.", p->tenant,
                                         ark_name_invalid_reason(p->tenant));
        if (!manager_find_tenant(m, p->tenant))
                return sd_bus_error_setf(
                        error, ARK_ERROR_NOT_FOUND,
                        "Tenant '%s' does not exist (create it with 'arkctl tenant create %s').", p->tenant,
                        p->tenant);
        if (!params_driver(p)) {
                _cleanup_free_ char *types = instance_driver_types();

                return sd_bus_error_setf(
                        error, ARK_ERROR_INVALID_ARGUMENT,
                        "Instance type '%.40s' is not supported; arkd runs instances of type %s.", p->type,
                        strna(types));
        }
        if (!p->have_vcpus || p->vcpus < 1 || p->vcpus > VCPUS_MAX)
                return sd_bus_error_setf(
                        error, ARK_ERROR_INVALID_ARGUMENT, "VCPUs must be between 1 and %u (got %s).",
                        VCPUS_MAX, p->have_vcpus ? (snprintf(b1, sizeof(b1), "%u", p->vcpus), b1) : "none");
        if (!p->have_memory)
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "Instance '%s' needs MemoryBytes.", p->name);
        if (p->memory_bytes < MEMORY_MIN)
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "Memory of %s is too small: a VM needs at least 16 MiB.",
                                         format_bytes(b1, sizeof(b1), p->memory_bytes));
        if (p->memory_bytes % 1024 != 0)
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "Memory of %" PRIu64 " bytes is not a whole number of KiB.",
                                         p->memory_bytes);
        if (m->host.memory_bytes > 0 && p->memory_bytes > m->host.memory_bytes)
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "Memory of %s is more than the host has (%s).",
                                         format_bytes(b1, sizeof(b1), p->memory_bytes),
                                         format_bytes(b2, sizeof(b2), m->host.memory_bytes));
        if (p->disk_bytes > 0 && (p->disk_bytes < DISK_MIN || p->disk_bytes > DISK_MAX))
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "Disk size %s is out of range (1 MiB to 64 TiB).",
                                         format_bytes(b1, sizeof(b1), p->disk_bytes));
        if (p->disk_bytes % 512 != 0)
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "Disk size of %" PRIu64
                                         " bytes is not a whole number of 512-byte sectors.",
                                         p->disk_bytes);
        /* The files themselves are image_store_resolve()'s to check, in instance_create(). */
        if (isempty(p->kernel) && (!isempty(p->initrd) || !isempty(p->cmdline)))
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "Initrd and Cmdline need a Kernel for direct boot.");
        if (p->cmdline) {
                if (strlen(p->cmdline) > CMDLINE_MAX)
                        return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                                 "Cmdline is longer than %d characters.", CMDLINE_MAX);
                for (const char *c = p->cmdline; *c; c++)
                        if ((unsigned char) *c < 0x20)
                                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                                         "Cmdline may not contain control characters.");
        }
        if (p->gpus > DOMAIN_GPUS_MAX || strv_length(p->gpu_addresses) > DOMAIN_GPUS_MAX)
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT, "A VM can have at most %d GPUs.",
                                         DOMAIN_GPUS_MAX);
        if (p->gpu_model) {
                size_t l = strlen(p->gpu_model);

                if (l == 0 || l > 64)
                        return sd_bus_error_setf(
                                error, ARK_ERROR_INVALID_ARGUMENT,
                                "GPUModel must be 1 to 64 characters (part of a model name, e.g. 'H100').");
                for (const char *c = p->gpu_model; *c; c++)
                        if ((unsigned char) *c < 0x20 || (unsigned char) *c >= 0x7f)
                                return sd_bus_error_setf(
                                        error, ARK_ERROR_INVALID_ARGUMENT,
                                        "GPUModel may only contain printable ASCII characters.");
        }
        for (char **a = p->gpu_addresses; a && *a; a++) {
                if (!pci_address_is_canonical(*a))
                        return sd_bus_error_setf(
                                error, ARK_ERROR_INVALID_ARGUMENT,
                                "GPU address '%.40s' is not a PCI address like 0000:3b:00.0.", *a);
                for (char **b = p->gpu_addresses; b < a; b++)
                        if (streq(*a, *b))
                                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                                         "GPU %s is listed twice.", *a);
        }
        if (p->gpu_addresses && p->gpu_addresses[0] && p->gpus > 0 &&
            p->gpus != strv_length(p->gpu_addresses))
                return sd_bus_error_setf(
                        error, ARK_ERROR_INVALID_ARGUMENT,
                        "GPUs (%" PRIu32
                        ") and the %zu GPU addresses given disagree; give one or the other.",
                        p->gpus, strv_length(p->gpu_addresses));
        r = streq_ptr(p->type, "container") ? container_params_check(p, error) : 0;
        if (r < 0)
                return r;
        if (!streq_ptr(p->type, "container") && (p->args || p->env))
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "Args and Env are for containers (Type 'container'), not VMs.");
        if (!streq_ptr(p->type, "container") &&
            (p->mig_profile || p->share_milli > 0 || p->share_memory > 0))
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "MIGProfile, GPUShareMilli and GPUMemoryBytes are for containers "
                                         "(Type 'container'): a VM gets whole GPUs.");
        /* Unique within the tenant only: another tenant's instances are none of this caller's
         * business, not even their names. */
        if (manager_find_instance_in(m, p->tenant, p->name))
                return sd_bus_error_setf(error, ARK_ERROR_ALREADY_EXISTS,
                                         "Instance '%s' of tenant '%s' already exists.", p->name, p->tenant);
        return 0;
}

/* ------------------------------------------------------------------------- GPU admission */

/* A snapshot of the host, the tenants and the instances for admission (admission.h), with the
 * objects it was taken from. Taken per request: who may take what is decided on it, and only the
 * caller's transaction changes live claims. */
typedef struct AdmissionView {
        AdmissionSnapshot s;
        AdmissionTenant *tenants;
        AdmissionInstance *instances;
        Instance **objects; /* instance k of the snapshot */
        AdmissionGpu *gpus; /* the manager's accelerators, in their order */
        HostNuma *numa;
        char *reasons;          /* per GPU, VIEW_REASON_MAX each */
        const char **functions; /* per GPU, VIEW_FUNCTIONS_MAX + 1 each */
        size_t *holders;        /* the partitions' holders, GPU after GPU */
} AdmissionView;

#define VIEW_REASON_MAX 1280
#define VIEW_FUNCTIONS_MAX 8

static void admission_view_done(AdmissionView *v) {
        for (size_t t = 0; v->tenants && t < v->s.n_tenants; t++)
                free((void *) v->tenants[t].usage.gpu_models);
        free(v->tenants);
        free(v->instances);
        free(v->objects);
        free(v->gpus);
        free(v->numa);
        free(v->reasons);
        free(v->functions);
        free(v->holders);
        *v = (AdmissionView) {};
}

static void count_pending_gpus(const InstanceReclaim *req, void *userdata) {
        *(uint64_t *) userdata += strv_length(req->gpus);
}

static size_t view_tenant(const AdmissionView *v, const char *name) {
        for (size_t k = 0; k < v->s.n_tenants; k++)
                if (streq(v->tenants[k].name, strempty(name)))
                        return k;
        return ADMISSION_NONE;
}

static size_t view_instance(const AdmissionView *v, const Instance *i) {
        for (size_t k = 0; i && k < v->s.n_instances; k++)
                if (v->objects[k] == i)
                        return k;
        return ADMISSION_NONE;
}

/* The GPU's state for admission, its reason in `why`: whether it can be given out to a VM with
 * `together` (passthrough_check()) or to a container (passthrough_check_container()), or who
 * holds it. */
static PassthroughVerdict view_check(Manager *m, const Accelerator *a, char *const *together, bool container,
                                     char *why, size_t l) {
        if (container)
                return passthrough_check_container(a, m->config.sysfs_root, why, l);
        return passthrough_check(a, m->accelerators, m->n_accelerators, m->config.management_interface,
                                 together, why, l);
}

static AdmissionHold view_hold(Manager *m, const Accelerator *a, char *const *together, bool container,
                               char *why, size_t l, bool *ret_free_if_released) {
        PassthroughVerdict pv = view_check(m, a, together, container, why, l);

        *ret_free_if_released = false;
        if (a->claimed_by && !reclaim_reserved(m, a->address)) {
                Accelerator released = *a; /* shallow: only its claim differs */
                char buf[16];

                released.claimed_by = NULL;
                *ret_free_if_released =
                        view_check(m, &released, together, container, buf, sizeof(buf)) == PASSTHROUGH_OK;
        }
        if (pv == PASSTHROUGH_OK && reclaim_reserved(m, a->address)) {
                snprintf(
                        why, l,
                        "%s (%s) is kept for an instance waiting for preemptible instances to give their GPUs "
                        "back",
                        a->address, a->model);
                return ADMISSION_GPU_KEPT;
        }
        if (pv == PASSTHROUGH_OK)
                return ADMISSION_GPU_FREE;
        if (pv != PASSTHROUGH_HELD)
                return ADMISSION_GPU_NOT_READY;
        if (a->hold)
                return streq(a->hold, "reserved") ? ADMISSION_GPU_RESERVED : ADMISSION_GPU_QUARANTINED;
        return a->conflict ? ADMISSION_GPU_CONFLICT : ADMISSION_GPU_CLAIMED;
}

/* `container`: the GPUs as a container would get them (no IOMMU, the vendor's driver). */
/* The partitions on g (containers' MIG instances and shares): a GPU carrying them is given out
 * in partitions only (lib/pool). Their holders go to v->holders from *n_holders on. */
static void view_partitions(AdmissionView *v, AdmissionGpu *g, size_t *n_holders) {
        g->partition_holders = v->holders + *n_holders;
        for (size_t k = 0; k < v->s.n_instances; k++) {
                const InstancePartition *p = v->objects[k]->partition;

                if (!p || !streq(p->address, g->address))
                        continue;
                if (p->mig) {
                        g->mig = true;
                        (void) mig_add(&g->instances, (MigProfile) p->profile, p->mig_start);
                } else {
                        g->shares.tenant = v->objects[k]->tenant;
                        g->shares.n++;
                        g->shares.milli = p->milli;
                        g->shares.memory_bytes = p->memory_bytes;
                }
                v->holders[(*n_holders)++] = k;
                g->n_partition_holders++;
        }
}

static int admission_view_make(Manager *m, char *const *together, bool container, AdmissionView *ret) {
        AdmissionView v = {};
        size_t nt = 0, ni = 0, n = m->n_accelerators, n_holders = 0;
        int r;

        LIST_FOREACH(tenants, t, m->tenants)
                nt++;
        LIST_FOREACH(instances, i, m->instances)
                ni++;
        v.tenants = calloc(nt + 1, sizeof(AdmissionTenant));
        v.instances = calloc(ni + 1, sizeof(AdmissionInstance));
        v.objects = calloc(ni + 1, sizeof(Instance *));
        v.gpus = calloc(n + 1, sizeof(AdmissionGpu));
        v.numa = calloc(m->host.n_numa + 1, sizeof(HostNuma));
        v.reasons = calloc(n + 1, VIEW_REASON_MAX);
        v.functions = calloc((n + 1) * (VIEW_FUNCTIONS_MAX + 1), sizeof(char *));
        v.holders = calloc(ni + 1, sizeof(size_t));
        if (!v.tenants || !v.instances || !v.objects || !v.gpus || !v.numa || !v.reasons || !v.functions ||
            !v.holders) {
                admission_view_done(&v);
                return -ENOMEM;
        }
        LIST_FOREACH(tenants, t, m->tenants) {
                AdmissionTenant *a = &v.tenants[v.s.n_tenants++];

                *a = (AdmissionTenant) { .name = t->name, .quotas = t->quotas, .n_quotas = t->n_quotas };
                /* tenant_usage() counts what its calls waiting on a reclaim will take. */
                r = tenant_usage(t, &a->usage);
                if (r < 0) {
                        admission_view_done(&v);
                        return r;
                }
                reclaim_foreach_pending(m, t->name, count_pending_gpus, &a->pending_gpus);
        }
        LIST_FOREACH(instances, i, m->instances) {
                v.objects[v.s.n_instances] = i;
                v.instances[v.s.n_instances++] = (AdmissionInstance) {
                        .name = i->name,
                        .tenant = view_tenant(&v, i->tenant),
                        .vcpus = i->vcpus,
                        .memory_bytes = i->memory_bytes,
                        .created_usec = i->created_usec,
                        .n_gpus = (unsigned) strv_length(i->gpus),
                        .preemptible = i->preemptible,
                        .preempting = i->preempting,
                };
        }
        for (size_t k = 0; k < m->host.n_numa; k++)
                v.numa[k] = (HostNuma) { .id = m->host.numa[k].id,
                                         .n_cpus = m->host.numa[k].n_cpus,
                                         .memory_bytes = m->host.numa[k].memory_bytes };
        for (size_t k = 0; k < n; k++) {
                const Accelerator *a = &m->accelerators[k];
                const char **fn = v.functions + k * (VIEW_FUNCTIONS_MAX + 1);
                Instance *holder = a->claimed_by
                        ? manager_find_instance_in(m, a->claimed_by_tenant, a->claimed_by)
                        : NULL;
                char *why = v.reasons + k * VIEW_REASON_MAX;
                size_t nf = 0;
                bool free_if_released;
                AdmissionHold hold =
                        view_hold(m, a, together, container, why, VIEW_REASON_MAX, &free_if_released);

                /* The other functions of the device (its audio, say), which go with it. */
                for (size_t f = 0; f < a->n_group && nf < VIEW_FUNCTIONS_MAX; f++)
                        if (!streq(a->group[f].address, a->address) &&
                            strneq(a->group[f].address, a->address, 10))
                                fn[nf++] = a->group[f].address;
                v.gpus[k] = (AdmissionGpu) {
                        .address = a->address,
                        .model = a->model,
                        .numa_node = a->numa_node,
                        .switch_port = a->switch_port,
                        .hold = hold,
                        .why = why,
                        .holder = view_instance(&v, holder),
                        .free_if_released = free_if_released,
                        .functions = fn,
                        .memory_bytes = a->memory_bytes,
                };
                view_partitions(&v, &v.gpus[k], &n_holders);
        }
        v.s = (AdmissionSnapshot) {
                .tenants = v.tenants,
                .n_tenants = v.s.n_tenants,
                .instances = v.instances,
                .n_instances = v.s.n_instances,
                .gpus = v.gpus,
                .n_gpus = n,
                .numa = v.numa,
                .n_numa = m->host.n_numa,
                .workload = m->workload.n_shapes > 0 ? &m->workload : NULL,
                .policy = (PoolPolicy) m->config.placement_policy,
                .seed = m->config.placement_seed,
        };
        *ret = v;
        return 0;
}

static const char *const refusal_error[] = {
        [ADMISSION_INVALID] = ARK_ERROR_INVALID_ARGUMENT,
        [ADMISSION_NOT_FOUND] = ARK_ERROR_NOT_FOUND,
        [ADMISSION_IN_USE] = ARK_ERROR_IN_USE,
        [ADMISSION_NOT_READY] = ARK_ERROR_NOT_READY,
        [ADMISSION_NO_CAPACITY] = ARK_ERROR_NO_CAPACITY,
        [ADMISSION_GUARANTEED] = ARK_ERROR_NO_CAPACITY,
        [ADMISSION_UNSUPPORTED] = ARK_ERROR_NOT_SUPPORTED,
};

/* admission_decide() of req (for `tenant`) on the view; a refusal fills `error` with its sentence. */
static int view_decide(AdmissionView *v, const AdmissionRequest *req, const char *tenant,
                       AdmissionDecision *d, sd_bus_error *error) {
        int r;

        if (req->tenant == ADMISSION_NONE)
                return sd_bus_error_setf(error, ARK_ERROR_NOT_FOUND, "Tenant '%s' does not exist.",
                                         strempty(tenant));
        r = admission_decide(&v->s, req, d);
        if (r < 0)
                return r;
        if (d->verdict == ADMISSION_REFUSE)
                return sd_bus_error_setf(error, refusal_error[d->refusal] ?: ARK_ERROR_NO_CAPACITY, "%s",
                                         d->message);
        return 0;
}

/* Chooses the GPUs for p (a new instance of p->tenant, or GPUs added to `extend`) and writes their
 * addresses (sorted) to *ret, admission_decide() on a snapshot: a request that is not preemptible
 * must leave the other tenants' unused guarantees keepable; when too few GPUs are free and the
 * tenant asks within its own guarantee, borrowing preemptible instances of other tenants are
 * picked to be stopped, youngest first. They go to *ret_victims (NULL-terminated; the caller
 * stops them and tries again); a caller that cannot wait passes NULL and gets the refusal
 * instead. On refusal, fills `error`: NotReady (the host or the asked-for GPU cannot pass
 * anything through), NotFound (no such device), InUse (it is held by another instance, reserved
 * or quarantined), NoCapacity (not enough GPUs can be given out, or not with the CPU and memory
 * beside them), InvalidArgument. */
static int instance_pick_gpus(Manager *m, const InstanceCreateParams *p, Instance *extend, char ***ret,
                              Instance ***ret_victims, sd_bus_error *error) {
        _cleanup_(admission_view_done) AdmissionView v = {};
        _cleanup_(admission_decision_done) AdmissionDecision d = {};
        _cleanup_strv_free_ char **picked = NULL, **together = NULL;
        _cleanup_free_ Instance **victims = NULL;
        char **already = extend ? extend->gpus : NULL;
        uint64_t memory_bytes = extend ? extend->memory_bytes : p->memory_bytes;
        bool container = streq_ptr(extend ? extend->type : p->type, "container");
        AdmissionRequest req;
        int r;

        if (p->gpus == 0 && strv_length(p->gpu_addresses) == 0 && !p->gpu_model)
                return 0;
        /* GPUModel with a MIG instance or a share narrows where the partition goes
         * (instance_pick_partition()): no whole GPU. */
        if (!extend && (p->mig_profile || p->share_milli > 0))
                return 0;
        /* A container opens the GPU's device files through its vendor's driver: no IOMMU, no
         * window for BARs, none of passthrough's host checks. */
        if (!container && !m->host.iommu_enabled)
                return sd_bus_error_setf(
                        error, ARK_ERROR_NOT_READY,
                        "GPU passthrough needs the IOMMU, which is off on this host: turn on VT-d or "
                        "AMD-Vi in the firmware setup and boot with intel_iommu=on or amd_iommu=on "
                        "('arkctl host check' tells more).");
        /* What 'arkctl host check' would say is not ready refuses the request now, not libvirt at
         * start time. */
        if (!container) {
                _cleanup_free_ char *why = NULL;
                ReadinessInput in;

                manager_readiness_input(m, &in);
                r = readiness_host_blocker(&in, streq(manager_domain_type(m), "kvm"), &why);
                if (r < 0)
                        return r;
                if (r > 0)
                        return sd_bus_error_setf(error, ARK_ERROR_NOT_READY,
                                                 "GPU passthrough is not ready: %s.", why);
        }
        /* Exact devices and a model: each device must be of that model. */
        for (char **a = p->gpu_addresses; a && *a && p->gpu_model; a++) {
                const Accelerator *acc = manager_find_accelerator(m, *a);

                if (acc && !strcasestr(acc->model, p->gpu_model))
                        return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                                 "GPU %s (%s) does not match the model '%s'.", *a,
                                                 acc->model, p->gpu_model);
        }
        /* Health changes while arkd runs (AER counts fatal errors as they happen), and so does the
         * driver a GPU is bound to. */
        for (size_t k = 0; k < m->n_accelerators; k++) {
                (void) pci_refresh_health(m->config.sysfs_root, &m->accelerators[k]);
                if (container)
                        (void) pci_refresh_driver(m->config.sysfs_root, &m->accelerators[k]);
        }

        /* The GPUs that will share the VM: another GPU of a group may only go with them. */
        if (strv_copy(&together, p->gpu_addresses) < 0)
                return -ENOMEM;
        for (char **g = already; g && *g; g++)
                if (strv_extend(&together, *g) < 0)
                        return -ENOMEM;
        r = admission_view_make(m, together, container, &v);
        if (r < 0)
                return r;
        req = (AdmissionRequest) {
                .tenant = view_tenant(&v, extend ? extend->tenant : p->tenant),
                .vcpus = extend ? extend->vcpus : p->vcpus,
                .memory_bytes = memory_bytes,
                .count = p->gpus,
                .model = p->gpu_model,
                .addresses = (const char *const *) p->gpu_addresses,
                .instance = view_instance(&v, extend),
                .preemptible = extend ? extend->preemptible : p->preemptible,
                .may_reclaim = ret_victims != NULL,
        };
        r = view_decide(&v, &req, extend ? extend->tenant : p->tenant, &d, error);
        if (r < 0)
                return r;

        for (size_t k = 0; k < d.n_gpus; k++)
                if (strv_extend(&picked, m->accelerators[d.gpus[k]].address) < 0)
                        return -ENOMEM;

        /* The guest must be able to address its memory and the GPUs' BARs. */
        if (!container) {
                const Accelerator *all[DOMAIN_GPUS_MAX * 2];
                size_t na = 0;
                uint64_t window;
                char b1[32], b2[32];

                for (char **g = picked; g && *g && na < ELEMENTSOF(all); g++)
                        all[na++] = manager_find_accelerator(m, *g);
                for (char **g = already; g && *g && na < ELEMENTSOF(all); g++)
                        if (manager_find_accelerator(m, *g))
                                all[na++] = manager_find_accelerator(m, *g);
                window = passthrough_mmio64_window(all, na);
                if (m->host.arch && streq(m->host.arch, "aarch64") && window > VIRT_HIGHMEM_MMIO)
                        return sd_bus_error_setf(
                                error, ARK_ERROR_NOT_READY,
                                "These GPUs need a 64-bit PCI window of %s; QEMU's arm64 'virt' "
                                "machine has 512 GiB; give the VM fewer GPUs.",
                                format_bytes(b1, sizeof(b1), window));
                if (m->host.phys_bits > 0 && streq(manager_domain_type(m), "kvm") &&
                    passthrough_phys_bits(memory_bytes, window) > m->host.phys_bits)
                        return sd_bus_error_setf(
                                error, ARK_ERROR_NOT_READY,
                                "A VM with %s of memory and these GPUs (a %s window) needs %u physical "
                                "address bits; this CPU has %u: give it less memory or fewer GPUs.",
                                format_bytes(b1, sizeof(b1), memory_bytes),
                                format_bytes(b2, sizeof(b2), window),
                                passthrough_phys_bits(memory_bytes, window), m->host.phys_bits);
        }
        if (d.n_victims > 0) {
                victims = calloc(d.n_victims + 1, sizeof(Instance *));
                if (!victims)
                        return -ENOMEM;
                for (size_t k = 0; k < d.n_victims; k++)
                        victims[k] = v.objects[d.victims[k]];
        }
        *ret = TAKE_PTR(picked);
        if (ret_victims)
                *ret_victims = TAKE_PTR(victims);
        return 0;
}

InstancePartition *instance_partition_free(InstancePartition *p) {
        if (p) {
                free(p->address);
                free(p->uuid);
                free(p);
        }
        return NULL;
}

/* Where a container's MIG instance or share goes (admission_decide() on a snapshot, as whole
 * GPUs): *ret a new partition (not stored), *ret_mig_enable whether its GPU is to be put in MIG
 * mode for it. A partition reclaims nothing: when there is no room it is refused. */
static int instance_pick_partition(Manager *m, const InstanceCreateParams *p, InstancePartition **ret,
                                   bool *ret_mig_enable, sd_bus_error *error) {
        _cleanup_(admission_view_done) AdmissionView v = {};
        _cleanup_(admission_decision_done) AdmissionDecision d = {};
        _cleanup_(instance_partition_freep) InstancePartition *part = NULL;
        const Accelerator *a;
        AdmissionRequest req;
        int r;

        *ret = NULL;
        *ret_mig_enable = false;
        if (!p->mig_profile && p->share_milli == 0)
                return 0;
        r = container_partitions_require(m, error);
        if (r < 0)
                return r;
        for (size_t k = 0; k < m->n_accelerators; k++) {
                (void) pci_refresh_health(m->config.sysfs_root, &m->accelerators[k]);
                (void) pci_refresh_driver(m->config.sysfs_root, &m->accelerators[k]);
        }
        r = admission_view_make(m, NULL, true, &v);
        if (r < 0)
                return r;
        req = (AdmissionRequest) {
                .tenant = view_tenant(&v, p->tenant),
                .vcpus = p->vcpus,
                .memory_bytes = p->memory_bytes,
                .model = p->gpu_model,
                .instance = ADMISSION_NONE,
                .share_milli = p->share_milli,
                .share_memory = p->share_memory,
                .mig = p->mig_profile != NULL,
                .mig_profile = p->mig_profile ? mig_profile_from_string(p->mig_profile) : 0,
        };
        r = view_decide(&v, &req, p->tenant, &d, error);
        if (r < 0)
                return r;
        if (d.verdict != ADMISSION_PLACE || !d.partition || d.n_gpus != 1)
                return sd_bus_error_setf(error, SD_BUS_ERROR_FAILED,
                                         "The pooler gave no partition for the request.");
        a = &m->accelerators[d.gpus[0]];
        part = calloc(1, sizeof(InstancePartition));
        if (!part || !(part->address = strdup(a->address)))
                return -ENOMEM;
        part->mig = req.mig;
        part->gi_id = part->ci_id = -1;
        if (part->mig) {
                part->profile = req.mig_profile;
                part->mig_start = d.mig_start;
                part->milli = mig_profile_milli(req.mig_profile);
                part->memory_bytes = mig_profile_memory(req.mig_profile, a->memory_bytes);
        } else {
                part->milli = p->share_milli;
                part->memory_bytes = p->share_memory;
        }
        *ret_mig_enable = d.mig_enable;
        *ret = TAKE_PTR(part);
        return 0;
}

static int strdup_opt(char **dst, const char *src) {
        if (isempty(src)) {
                *dst = NULL;
                return 0;
        }
        *dst = strdup(src);
        return *dst ? 0 : -ENOMEM;
}

void instance_reclaim_done(InstanceReclaim *r) {
        r->victims = mfree(r->victims);
        r->n_victims = 0;
        r->gpus = strv_free(r->gpus);
}

static int choose_domain_name(Manager *m, const char *tenant, const char *name, char **ret) {
        bool taken = false;

        LIST_FOREACH(instances, i, m->instances)
                if (streq_ptr(i->domain_name, name))
                        taken = true;
        *ret = taken ? strprintf("%s.%s", tenant, name) : strdup(name);
        return *ret ? 0 : -ENOMEM;
}

int instance_create(Manager *m, const InstanceCreateParams *p, InstanceReclaim *ret_reclaim, Instance **ret,
                    sd_bus_error *error) {
        _cleanup_(instance_freep) Instance *i = NULL;
        _cleanup_transaction_ DbTransaction tx = {};
        _cleanup_free_ char *disks = NULL, *consoles = NULL, *msg = NULL, *base = NULL, *kernel = NULL,
                            *initrd = NULL, *domain_name = NULL;
        const InstanceDriver *driver;
        bool disk_created = false;
        DiskImage img = {};
        const char *why = NULL;
        uint64_t disk_bytes;
        _cleanup_strv_free_ char **gpus = NULL;
        _cleanup_free_ Instance **victims = NULL;
        Bundle *model = NULL;
        Instance *added;
        Nic **nics = NULL;
        bool container = streq_ptr(p->type, "container"), mig_enable = false, part_made = false;
        _cleanup_(instance_partition_freep) InstancePartition *part = NULL;
        InstanceCreateParams defaults;
        int64_t container_image_id = 0;
        int r;

        if (ret_reclaim)
                *ret_reclaim = (InstanceReclaim) {};
        /* A container without VCPUs or MemoryBytes gets one CPU and 256 MiB. */
        if (container) {
                defaults = *p;
                if (!defaults.have_vcpus)
                        defaults.vcpus = 1;
                if (!defaults.have_memory)
                        defaults.memory_bytes = CONTAINER_MEMORY_DEFAULT;
                defaults.have_vcpus = defaults.have_memory = true;
                p = &defaults;
        }
        r = validate_params(m, p, error);
        if (r < 0)
                return r;
        driver = params_driver(p);
        r = driver->require(m, error);
        if (r < 0)
                return r;
        /* Chosen here and claimed below in the same transaction as the record: arkd serves one
         * request at a time, and the claims' primary key refuses a GPU taken twice regardless. */
        /* A name a call waiting on a reclaim will create is taken. */
        if (reclaim_pending_name(m, p->tenant, p->name))
                return sd_bus_error_setf(
                        error, ARK_ERROR_ALREADY_EXISTS,
                        "Instance '%s' is being created already (waiting for preemptible instances to "
                        "give their GPUs back).",
                        p->name);
        r = instance_pick_gpus(m, p, NULL, &gpus, ret_reclaim ? &victims : NULL, error);
        if (r < 0)
                return r;
        if (container) {
                r = instance_pick_partition(m, p, &part, &mig_enable, error);
                if (r < 0)
                        return r;
        }
        disk_bytes = p->disk_bytes;
        if (!isempty(p->kernel)) {
                r = image_store_resolve(m, p->tenant, p->caller_admin, "Kernel", p->kernel, &kernel, error);
                if (r < 0)
                        return r;
        }
        if (!isempty(p->initrd)) {
                r = image_store_resolve(m, p->tenant, p->caller_admin, "Initrd", p->initrd, &initrd, error);
                if (r < 0)
                        return r;
        }
        if (container) {
                r = container_image_resolve(m, p->tenant, p->image, &container_image_id, &base, error);
                if (r < 0)
                        return r;
        } else if (!isempty(p->image)) {
                char b1[32], b2[32];

                r = image_store_resolve(m, p->tenant, p->caller_admin, "Image", p->image, &base, error);
                if (r < 0)
                        return r;
                r = disk_image_inspect(base, &img, &why);
                if (r == -EMEDIUMTYPE)
                        return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                                 "Image '%s' cannot be a base image: %s.", base, why);
                if (r < 0)
                        return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                                 "Image '%s' cannot be read: %s.", base, strerror(-r));
                if (disk_bytes > 0 && disk_bytes < img.virtual_size)
                        return sd_bus_error_setf(
                                error, ARK_ERROR_INVALID_ARGUMENT,
                                "Disk size %s is smaller than image '%s' (%s); give at least %s, or "
                                "no size to use the image's.",
                                format_bytes(b1, sizeof(b1), disk_bytes), base,
                                format_bytes(b2, sizeof(b2), img.virtual_size), b2);
                if (disk_bytes == 0)
                        disk_bytes = img.virtual_size;
        }
        r = tenant_admit(manager_find_tenant(m, p->tenant), 1, p->vcpus, p->memory_bytes,
                         p->disk_bytes > 0 || (!container && !isempty(p->image)) ? disk_bytes : 0, gpus,
                         part, error);
        if (r < 0)
                return r;
        if (!isempty(p->model)) {
                uint64_t have = 0;
                bool known = true;
                char b1[32], b2[32], b3[64];

                r = bundle_find_model(m, p->tenant, p->model, &model, error);
                if (r < 0)
                        return r;
                /* It must fit in the GPUs' memory, as its publisher says; a VM without GPUs can only
                 * hold a model that needs none. */
                for (char **g = gpus; g && *g; g++) {
                        const Accelerator *a = manager_find_accelerator(m, *g);

                        if (a && a->memory_bytes > 0)
                                have += a->memory_bytes;
                        else
                                known = false;
                }
                if (model->manifest->model.min_gpu_memory_bytes > 0 && known &&
                    have < model->manifest->model.min_gpu_memory_bytes)
                        return sd_bus_error_setf(
                                error, ARK_ERROR_INVALID_ARGUMENT, "Model %s %s needs %s of GPU memory; %s.",
                                model->name, model->version,
                                format_bytes(b1, sizeof(b1), model->manifest->model.min_gpu_memory_bytes),
                                gpus ? (snprintf(b3, sizeof(b3), "the VM's GPUs have %s",
                                                 format_bytes(b2, sizeof(b2), have)),
                                        b3)
                                     : "the VM has no GPUs (add GPUs or GPUModel)");
        }

        /* A domain of that name that Ark does not know would make the define below fail with a
         * confusing message; say what is going on instead. */
        /* The domain is named as the instance unless another tenant's domain is (then
         * "<tenant>.<name>": names hold no '.', so that one is free); members never see it. */
        r = choose_domain_name(m, p->tenant, p->name, &domain_name);
        if (r < 0)
                return r;
        if (driver->name_in_use(m, domain_name) > 0)
                return sd_bus_error_setf(
                        error, ARK_ERROR_ALREADY_EXISTS,
                        "A libvirt domain named '%s' already exists and is not managed by Ark "
                        "(see 'arkctl status' for orphans).",
                        domain_name);
        if (manager_find_instance_in(m, p->tenant, p->name))
                return sd_bus_error_setf(error, ARK_ERROR_ALREADY_EXISTS,
                                         "Instance '%s' of tenant '%s' already exists.", p->name, p->tenant);
        /* Everything that could refuse the request has been asked: now the borrowers may be
         * stopped, and the call made again once they are. */
        if (victims) {
                while (victims[ret_reclaim->n_victims])
                        ret_reclaim->n_victims++;
                ret_reclaim->victims = TAKE_PTR(victims);
                ret_reclaim->gpus = TAKE_PTR(gpus);
                ret_reclaim->vcpus = p->vcpus;
                ret_reclaim->memory_bytes = p->memory_bytes;
                ret_reclaim->disk_bytes = p->disk_bytes > 0 || !isempty(p->image) ? disk_bytes : 0;
                if (ret)
                        *ret = NULL;
                return 0;
        }

        i = calloc(1, sizeof(Instance));
        if (!i)
                return -ENOMEM;
        i->manager = m;
        i->state = INSTANCE_STOPPED;
        i->vcpus = p->vcpus;
        i->memory_bytes = p->memory_bytes;
        i->disk_bytes = disk_bytes;
        i->created_usec = now_usec(CLOCK_REALTIME);
        r = ark_uuid_generate(i->uuid);
        if (r < 0)
                return r;
        i->domain_name = TAKE_PTR(domain_name);
        if (strdup_opt(&i->name, p->name) < 0 || strdup_opt(&i->tenant, p->tenant) < 0 ||
            strdup_opt(&i->type, driver->type) < 0 || strdup_opt(&i->cmdline, p->cmdline) < 0 ||
            free_and_strdup(&i->state_reason, "created") < 0)
                return -ENOMEM;
        i->image = TAKE_PTR(base);
        i->kernel = TAKE_PTR(kernel);
        i->initrd = TAKE_PTR(initrd);
        i->gpus = TAKE_PTR(gpus);
        i->partition = TAKE_PTR(part);
        i->uefi = i->gpus != NULL;
        i->preemptible = p->preemptible;
        i->model_id = model ? model->id : 0;
        i->container_image_id = container_image_id;
        if (strv_copy(&i->args, p->args) < 0 || strv_copy(&i->env, p->env) < 0)
                return -ENOMEM;
        r = instance_object_path(i->tenant, i->name, &i->path);
        if (r < 0)
                return r;

        if (container)
                /* What it writes: kept with the container, read with OpenLog. */
                i->console_log = container_log_path(m, i->uuid);
        else {
                consoles = manager_state_path(m, "console");
                if (!consoles)
                        return -ENOMEM;
                /* By tenant and name, so that the path says nothing about other tenants. */
                i->console_log = strprintf("%s/%s.%s.log", consoles, i->tenant, i->name);
        }
        if (!i->console_log)
                return -ENOMEM;

        if (!container && (p->disk_bytes > 0 || i->image)) {
                disks = manager_state_path(m, "disks");
                if (!disks)
                        return -ENOMEM;
                i->disk_path = strprintf("%s/%s.qcow2", disks, i->uuid);
                if (!i->disk_path)
                        return -ENOMEM;
                i->disk_owned = true;
        }

        r = db_transaction_begin(m->db, &tx);
        if (r >= 0)
                r = instance_store_insert(i);
        if (r == -EEXIST)
                return sd_bus_error_setf(error, ARK_ERROR_ALREADY_EXISTS, "Instance '%s' already exists.",
                                         i->name);
        if (r == -ENOENT)
                return sd_bus_error_setf(error, ARK_ERROR_NOT_FOUND, "Tenant '%s' does not exist.",
                                         i->tenant);
        if (r < 0)
                return manager_store_error(m, error, r, "Failed to store instance '%s'", i->name);
        for (char **g = i->gpus; g && *g; g++) {
                r = store_claim_insert(m->db, *g, i->id, i->created_usec);
                if (r == -EEXIST)
                        return sd_bus_error_setf(error, ARK_ERROR_IN_USE, "GPU %s is claimed already.", *g);
                if (r < 0)
                        return manager_store_error(m, error, r, "Failed to claim GPU %s for '%s'", *g,
                                                   i->name);
        }
        if (i->partition) {
                r = instance_store_partition(i);
                if (r == -EEXIST)
                        return sd_bus_error_setf(
                                error, ARK_ERROR_IN_USE,
                                "GPU %s cannot take this partition: another took its place.",
                                i->partition->address);
                if (r < 0)
                        return manager_store_error(m, error, r, "Failed to store the GPU partition of '%s'",
                                                   i->name);
        }
        /* Its NICs: addresses and MACs in the same transaction, the rule set told first. */
        r = network_nics_allocate(m, i, p->networks, &nics, error);
        if (r < 0)
                return r;
        /* Its tenant's host IDs, handed out with its first container. */
        if (container) {
                r = container_idmap_ensure(m, i->tenant, NULL, NULL, error);
                if (r < 0)
                        return r;
        }

        if (i->disk_path) {
                r = disk_create_qcow2(i->disk_path, i->disk_bytes, i->image, img.format, &msg);
                if (r < 0) {
                        network_nics_abort(m, nics);
                        return sd_bus_error_setf(
                                error, i->image ? ARK_ERROR_INVALID_ARGUMENT : SD_BUS_ERROR_FAILED,
                                "Failed to create the disk of '%s': %s.", i->name, msg ?: strerror(-r));
                }
                disk_created = true;
        }

        /* Its MIG instance, last: NVML takes about a second for it on a real GPU. */
        if (i->partition) {
                r = container_partition_make(m, i, mig_enable, error);
                part_made = r >= 0;
        } else
                r = 0;
        if (r >= 0)
                r = driver->define(i, error);
        if (r >= 0) {
                r = db_transaction_commit(&tx);
                if (r < 0) {
                        sd_bus_error e = SD_BUS_ERROR_NULL;

                        (void) driver->remove(i, &e);
                        sd_bus_error_free(&e);
                        manager_store_error(m, error, r, "Failed to store instance '%s'", i->name);
                }
        }
        if (r < 0) {
                if (part_made)
                        container_partition_undo(m, i->partition, mig_enable);
                if (disk_created)
                        (void) unlink(i->disk_path);
                network_nics_abort(m, nics);
                return r;
        }

        added = TAKE_PTR(i);
        LIST_INSERT_SORTED(instances, m->instances, added, instance_compare);
        network_nics_commit(m, nics); /* dnsmasq serves it now */
        {
                char f[96];
                snprintf(f, sizeof(f), "ARK_INSTANCE=%s", added->name);
                log_struct(LOG_INFO, 0, LOG_FIELDS(f),
                           "Created instance '%s' (tenant '%s', %u vCPUs, %" PRIu64 " MiB, %zu GPU%s).",
                           added->name, added->tenant, added->vcpus, added->memory_bytes >> 20,
                           strv_length(added->gpus), strv_length(added->gpus) == 1 ? "" : "s");
        }
        for (char **g = added->gpus; g && *g; g++)
                accelerator_set_claim(m, *g, added);
        (void) sd_bus_emit_signal(m->bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "InstanceNew", "so",
                                  added->name, added->path);
        (void) sd_bus_emit_object_added(m->bus, added->path);
        {
                Tenant *t = manager_find_tenant(m, added->tenant);
                if (t)
                        (void) sd_bus_emit_properties_changed(m->bus, t->path, ARK_BUS_IFACE_TENANT,
                                                              "NInstances", NULL);
        }
        manager_emit_counts_changed(m);

        if (p->start) {
                r = instance_start(added, error);
                if (r < 0) {
                        /* The instance exists; say so, so the admin does not create it again. */
                        _cleanup_free_ char *start_error = strdup(strempty(error->message));
                        sd_bus_error_free(error);
                        sd_bus_error_setf(error, ARK_ERROR_HYPERVISOR,
                                          "Instance '%s' was created but could not be started: %s",
                                          added->name, strempty(start_error));
                        return r;
                }
        }
        if (ret)
                *ret = added;
        return 0;
}

/* ---------------------------------------------------------------------------------- lifecycle */

static int instance_set_desired_in(DbTransaction *tx, Instance *i, bool running, sd_bus_error *error) {
        Manager *m = i->manager;
        int r;

        r = db_transaction_begin(m->db, tx);
        if (r >= 0)
                r = store_instance_set_desired(m->db, i->id, running);
        if (r < 0)
                return manager_store_error(m, error, r, "Failed to record the desired state of '%s'",
                                           i->name);
        return 0;
}

static int instance_commit_desired(DbTransaction *tx, Instance *i, bool running, sd_bus_error *error) {
        Manager *m = i->manager;
        int r;

        r = db_transaction_commit(tx);
        if (r < 0)
                return manager_store_error(m, error, r, "Failed to record the desired state of '%s'",
                                           i->name);
        if (i->desired_running != running) {
                i->desired_running = running;
                (void) sd_bus_emit_properties_changed(m->bus, i->path, ARK_BUS_IFACE_INSTANCE,
                                                      "DesiredState", NULL);
        }
        return 0;
}

int instance_start(Instance *i, sd_bus_error *error) {
        _cleanup_transaction_ DbTransaction tx = {};
        const InstanceDriver *driver;
        int64_t interval;
        int r;

        r = instance_driver(i, &driver, error);
        if (r < 0)
                return r;
        if (i->preempting)
                return sd_bus_error_setf(
                        error, ARK_ERROR_INVALID_STATE,
                        "Instance '%s' is being stopped to give its GPUs back to the tenant guaranteed "
                        "them; start it once it has stopped.",
                        i->name);
        /* Start, like Stop, brings the instance to a state: already there is success. Only the
         * intent may need catching up (a domain started behind Ark's back). */
        if (i->state == INSTANCE_RUNNING) {
                if (i->desired_running)
                        return 0;
                r = instance_set_desired_in(&tx, i, true, error);
                if (r < 0)
                        return r;
                return instance_commit_desired(&tx, i, true, error);
        }
        if (i->state == INSTANCE_PAUSED)
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_STATE,
                                         "Instance '%s' is paused; stop it and start it again.", i->name);
        if (i->state == INSTANCE_SHUTTING_DOWN)
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_STATE,
                                         "Instance '%s' is shutting down; start it once it has stopped.",
                                         i->name);

        /* Preempted: it asks for as many GPUs as were taken, of their model. */
        if (i->preempted_gpus > 0 && !i->gpus) {
                InstanceCreateParams q = { .gpus = i->preempted_gpus, .gpu_model = i->preempted_model };
                sd_bus_error e = SD_BUS_ERROR_NULL;
                unsigned n = i->preempted_gpus;

                r = instance_add_gpus(i, &q, &e);
                if (r < 0) {
                        sd_bus_error_setf(error, e.name,
                                          "Instance '%s' gave its %u GPU%s back to the tenant guaranteed "
                                          "them and cannot get %u again now: %s",
                                          i->name, n, n == 1 ? "" : "s", n, strempty(e.message));
                        sd_bus_error_free(&e);
                        return r;
                }
        }
        r = instance_set_desired_in(&tx, i, true, error);
        if (r < 0)
                return r;
        r = driver->start(i, error);
        if (r < 0)
                return r;
        /* Its usage interval (meter.h) opens in the transaction of the intent, and commits with it. */
        interval = i->usage_interval;
        meter_begin(i);
        r = instance_commit_desired(&tx, i, true, error);
        if (r < 0) {
                sd_bus_error e = SD_BUS_ERROR_NULL;

                i->usage_interval = interval; /* the one opened went with the transaction */
                (void) driver->force_off(i, &e);
                sd_bus_error_free(&e);
                return r;
        }
        /* The lifecycle event follows; set it now so that a client that reads right after the
         * reply sees the new state. */
        instance_set_state(i, INSTANCE_RUNNING, "started");
        return 0;
}

static int on_stop_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        Instance *i = userdata;
        const InstanceDriver *driver;

        i->stop_timer = sd_event_source_unref(i->stop_timer);
        log_warning("Instance '%s' did not shut down in time; forcing it off.", i->name);
        if (instance_driver(i, &driver, &error) < 0 || driver->force_off(i, &error) < 0) {
                log_debug("Forcing off instance '%s' failed: %s", i->name, strna(error.message));
                instance_stop_complete(i, ARK_ERROR_TIMEOUT,
                                       "The instance did not stop and could not be forced off.");
                return 0;
        }
        instance_set_state(i, INSTANCE_STOPPED, "forced off after the stop timeout");
        instance_stop_complete(i, NULL, NULL);
        return 0;
}

int instance_stop(Instance *i, unsigned timeout_sec, sd_bus_message *reply_to, sd_bus_error *error) {
        _cleanup_transaction_ DbTransaction tx = {};
        const InstanceDriver *driver;
        int64_t interval;
        InstanceState state;
        sd_bus_message **l;
        bool off;
        int r;

        r = instance_driver(i, &driver, error);
        if (r < 0)
                return r;
        if (timeout_sec == 0)
                timeout_sec = i->manager->config.stop_timeout_sec;

        r = instance_set_desired_in(&tx, i, false, error);
        if (r < 0)
                return r;
        /* Where the instance is off by the time the intent commits, its usage interval (meter.h)
         * closes in the same transaction; should that fail, the interval is still open, and
         * closes when arkd next sees the instance off. */
        interval = i->usage_interval;
        if (driver->get_state(i, &state) < 0 || state == INSTANCE_STOPPED) {
                /* Already off: only the intent changes. */
                meter_close(i);
                r = instance_commit_desired(&tx, i, false, error);
                if (r < 0) {
                        i->usage_interval = interval;
                        return r;
                }
                instance_set_state(i, INSTANCE_STOPPED, NULL);
                return 0;
        }
        r = driver->stop(i, error);
        if (r < 0)
                return r;
        off = r > 0;
        if (off)
                meter_close(i);
        r = instance_commit_desired(&tx, i, false, error);
        if (r < 0) {
                i->usage_interval = interval;
                return r;
        }

        if (off) {
                instance_set_state(i, INSTANCE_STOPPED, "shutdown");
                instance_stop_complete(i, NULL, NULL);
                return 0;
        }
        instance_set_state(i, INSTANCE_SHUTTING_DOWN, "shutdown requested");

        if (!i->stop_timer) {
                r = sd_event_add_time_relative(i->manager->event, &i->stop_timer, CLOCK_MONOTONIC,
                                               (uint64_t) timeout_sec * USEC_PER_SEC, 0, on_stop_timeout, i);
                if (r < 0)
                        return sd_bus_error_set_errnof(error, r, "Failed to arm the stop timer: %m");
        }
        if (!reply_to)
                return 0;
        l = realloc(i->pending_stops, sizeof(sd_bus_message *) * (i->n_pending_stops + 1));
        if (!l)
                return -ENOMEM;
        i->pending_stops = l;
        i->pending_stops[i->n_pending_stops++] = sd_bus_message_ref(reply_to);
        return 1;
}

int instance_force_off(Instance *i, sd_bus_error *error) {
        _cleanup_transaction_ DbTransaction tx = {};
        const InstanceDriver *driver;
        int64_t interval;
        int r;

        r = instance_driver(i, &driver, error);
        if (r < 0)
                return r;
        r = instance_set_desired_in(&tx, i, false, error);
        if (r < 0)
                return r;
        r = driver->force_off(i, error);
        if (r == -ENOENT)
                sd_bus_error_free(error); /* nothing on the backend: off */
        else if (r < 0)
                return r;
        /* Off now: the usage interval closes in the transaction of the intent (or, should that
         * fail, when arkd next sees the instance off). */
        interval = i->usage_interval;
        meter_close(i);
        r = instance_commit_desired(&tx, i, false, error);
        if (r < 0) {
                i->usage_interval = interval;
                return r;
        }
        instance_set_state(i, INSTANCE_STOPPED, "forced off");
        instance_stop_complete(i, NULL, NULL);
        return 0;
}

int instance_delete(Instance *i, sd_bus_error *error) {
        _cleanup_transaction_ DbTransaction tx = {};
        _cleanup_free_ char *name = NULL, *path = NULL, *tenant = NULL;
        _cleanup_(instance_partition_freep) InstancePartition *part = NULL;
        const InstanceDriver *driver;
        Manager *m = i->manager;
        InstanceState state;
        int r;

        r = instance_driver(i, &driver, error);
        if (r < 0)
                return r;
        if (driver->get_state(i, &state) >= 0 && state != INSTANCE_STOPPED)
                return sd_bus_error_setf(
                        error, ARK_ERROR_INVALID_STATE,
                        "Instance '%s' is %s; stop it first ('arkctl vm stop %s').", i->name,
                        instance_state_to_string(i->state == INSTANCE_UNKNOWN ? INSTANCE_RUNNING : i->state),
                        i->name);

        r = db_transaction_begin(m->db, &tx);
        if (r >= 0)
                r = store_instance_delete(m->db, i->id);
        if (r < 0)
                return manager_store_error(m, error, r, "Failed to delete instance '%s' from the store",
                                           i->name);
        r = driver->remove(i, error);
        if (r < 0)
                return r;
        r = db_transaction_commit(&tx);
        if (r < 0) {
                /* Put the definition back so the store and the hypervisor still agree. */
                sd_bus_error e = SD_BUS_ERROR_NULL;
                (void) driver->define(i, &e);
                sd_bus_error_free(&e);
                return manager_store_error(m, error, r, "Failed to delete instance '%s' from the store",
                                           i->name);
        }

        network_instance_deleted(m, i->id); /* its NICs and forwards went with its row */
        /* The store released the instance's claims with its row (ON DELETE CASCADE); so does
         * the accelerators' view, and clients hear of it. */
        for (size_t k = 0; k < m->n_accelerators; k++) {
                Accelerator *a = &m->accelerators[k];

                if (!a->claimed_by || !streq(a->claimed_by, i->name) ||
                    !streq_ptr(a->claimed_by_tenant, i->tenant))
                        continue;
                log_info("Released accelerator %s of deleted instance '%s'.", a->address, i->name);
                accelerator_set_claim(m, a->address, NULL);
                /* libvirt gives managed hostdevs back when a VM stops; what is still on vfio-pci
                 * (after a crash, or bound by hand) goes back to its host driver now, unless the
                 * admin wants it on vfio-pci from boot. */
                if (!strv_contains(m->config.vfio_at_boot, a->address)) {
                        const char *functions[PASSTHROUGH_FUNCTIONS_MAX];
                        size_t n = passthrough_functions(a, functions, ELEMENTSOF(functions));

                        for (size_t f = 0; f < n; f++) {
                                int q = vfio_release(m->config.sysfs_root, functions[f]);
                                if (q < 0)
                                        log_warning_errno(q, "Failed to return %s to its host driver: %m",
                                                          functions[f]);
                        }
                }
        }

        if (i->disk_owned && i->disk_path && unlink(i->disk_path) < 0 && errno != ENOENT)
                log_warning_errno(errno, "Failed to remove disk '%s' of deleted instance '%s': %m",
                                  i->disk_path, i->name);
        if (i->console_log)
                (void) unlink(i->console_log);

        name = strdup(i->name);
        path = strdup(i->path);
        tenant = strdup(i->tenant);
        part = TAKE_PTR(i->partition);
        (void) sd_bus_emit_object_removed(m->bus, i->path);
        instance_stop_complete(i, NULL, NULL);
        LIST_REMOVE(instances, m->instances, i);
        instance_free(i);
        /* Its MIG instance goes, and its GPU's MPS daemon with the last share (the row went). */
        if (part)
                container_partition_release(m, part);
        log_info("Deleted instance '%s'.", strna(name));
        if (name && path)
                (void) sd_bus_emit_signal(m->bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "InstanceRemoved",
                                          "so", name, path);
        if (tenant) {
                Tenant *t = manager_find_tenant(m, tenant);
                if (t)
                        (void) sd_bus_emit_properties_changed(m->bus, t->path, ARK_BUS_IFACE_TENANT,
                                                              "NInstances", NULL);
        }
        manager_emit_counts_changed(m);
        return 0;
}

int instance_get_xml(Instance *i, char **ret, sd_bus_error *error) {
        const InstanceDriver *driver;
        int r;

        r = instance_driver(i, &driver, error);
        if (r < 0)
                return r;
        return driver->describe(i, ret, error);
}

int instance_open_console(Instance *i, int *ret_fd, sd_bus_error *error) {
        const InstanceDriver *driver;
        int r;

        r = instance_driver(i, &driver, error);
        if (r < 0)
                return r;
        if (i->state != INSTANCE_RUNNING)
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_STATE,
                                         "Instance '%s' is %s; start it to open its console.", i->name,
                                         instance_state_to_string(i->state));
        return driver->console(i, ret_fd, error);
}

int instance_exec(Instance *i, char **argv, const int fds[3], pid_t *ret_pid, sd_bus_error *error) {
        const InstanceDriver *driver;
        int r;

        r = instance_driver(i, &driver, error);
        if (r < 0)
                return r;
        if (!driver->exec)
                return sd_bus_error_setf(error, ARK_ERROR_NOT_SUPPORTED,
                                         "Instance '%s' is a %s: commands run only in containers (use its "
                                         "console).",
                                         i->name, i->type);
        if (!argv || isempty(argv[0]))
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT, "Exec needs a command.");
        if (strv_length(argv) > CONTAINER_ARGS_MAX)
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "A command may have at most %d arguments.", CONTAINER_ARGS_MAX);
        if (i->state != INSTANCE_RUNNING)
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_STATE,
                                         "Instance '%s' is %s; start it to run commands in it.", i->name,
                                         instance_state_to_string(i->state));
        return driver->exec(i, argv, fds, ret_pid, error);
}

int instance_open_log(Instance *i, int *ret_fd, sd_bus_error *error) {
        const InstanceDriver *driver;
        int r;

        r = instance_driver(i, &driver, error);
        if (r < 0)
                return r;
        if (!driver->open_log)
                return sd_bus_error_setf(error, ARK_ERROR_NOT_SUPPORTED,
                                         "Instance '%s' is a %s and keeps no log of its output (see its "
                                         "ConsoleLog).",
                                         i->name, i->type);
        return driver->open_log(i, ret_fd, error);
}

int instance_network(Instance *i, const char *network, bool add, sd_bus_error *error) {
        const InstanceDriver *driver;
        int r;

        r = instance_driver(i, &driver, error);
        if (r < 0)
                return r;
        if (i->preempting)
                return sd_bus_error_setf(
                        error, ARK_ERROR_INVALID_STATE,
                        "Instance '%s' is giving its GPUs back to the tenant guaranteed them; change its "
                        "networks once that is done.",
                        i->name);
        return add ? network_instance_add(i, driver, network, error)
                   : network_instance_remove(i, driver, network, error);
}

/* ---------------------------------------------------------------------------------- GPUs */

static int instance_require_stopped(Instance *i, const char *what, sd_bus_error *error) {
        if (i->state != INSTANCE_STOPPED && i->state != INSTANCE_CRASHED)
                return sd_bus_error_setf(
                        error, ARK_ERROR_INVALID_STATE,
                        "Instance '%s' is %s; stop it before %s its GPUs ('arkctl vm stop %s').", i->name,
                        instance_state_to_string(i->state), what, i->name);
        return 0;
}

/* Defines the instance again on its driver's backend from its spec. */
static int instance_define(Instance *i, sd_bus_error *error) {
        const InstanceDriver *driver;
        int r;

        r = instance_driver(i, &driver, error);
        if (r < 0)
                return r;
        return driver->define(i, error);
}

/* Makes `gpus` the instance's GPU list in the store (claims already changed in the open
 * transaction by the caller) and on the hypervisor. On failure the old list stays. */
static int instance_switch_gpus(Instance *i, DbTransaction *tx, char ***gpus, sd_bus_error *error) {
        Manager *m = i->manager;
        char **old = i->gpus;
        int r;

        i->gpus = *gpus;
        r = instance_define(i, error);
        if (r >= 0) {
                r = db_transaction_commit(tx);
                if (r < 0) {
                        sd_bus_error e = SD_BUS_ERROR_NULL;

                        i->gpus = old;
                        (void) instance_define(i, &e); /* back to what the store still says */
                        sd_bus_error_free(&e);
                        return manager_store_error(m, error, r, "Failed to store the GPUs of '%s'", i->name);
                }
        }
        if (r < 0) {
                i->gpus = old;
                return r;
        }
        *gpus = old; /* the caller frees the old list */
        (void) sd_bus_emit_properties_changed(m->bus, i->path, ARK_BUS_IFACE_INSTANCE, "GPUs", NULL);
        return 0;
}

int instance_add_gpus(Instance *i, const InstanceCreateParams *p, sd_bus_error *error) {
        _cleanup_transaction_ DbTransaction tx = {};
        _cleanup_strv_free_ char **picked = NULL, **merged = NULL;
        Manager *m = i->manager;
        int r;

        r = instance_driver(i, NULL, error);
        if (r < 0)
                return r;
        r = instance_require_stopped(i, "adding", error);
        if (r < 0)
                return r;
        if (i->preempting)
                return sd_bus_error_setf(
                        error, ARK_ERROR_INVALID_STATE,
                        "Instance '%s' is giving its GPUs back to the tenant guaranteed them; add GPUs "
                        "once that is done.",
                        i->name);
        if (p->gpus == 0 && !p->gpu_model && strv_length(p->gpu_addresses) == 0)
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "Say which GPUs to add: a count, a model or addresses.");
        if (i->partition)
                return sd_bus_error_setf(
                        error, ARK_ERROR_INVALID_ARGUMENT,
                        "Container '%s' has a %s of a GPU: it gets no whole GPUs beside it.", i->name,
                        i->partition->mig ? "MIG instance" : "share");
        if (p->gpus > DOMAIN_GPUS_MAX || strv_length(p->gpu_addresses) > DOMAIN_GPUS_MAX)
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT, "A VM can have at most %d GPUs.",
                                         DOMAIN_GPUS_MAX);
        for (char **a = p->gpu_addresses; a && *a; a++) {
                if (!pci_address_is_canonical(*a))
                        return sd_bus_error_setf(
                                error, ARK_ERROR_INVALID_ARGUMENT,
                                "GPU address '%.40s' is not a PCI address like 0000:3b:00.0.", *a);
                if (strv_contains(i->gpus, *a))
                        return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                                 "Instance '%s' has GPU %s already.", i->name, *a);
        }
        /* GPU VMs boot UEFI. A VM created without GPUs boots BIOS, and the system on its disk
         * would not boot under UEFI; one without a disk (direct kernel boot) can switch. */
        if (!i->uefi && i->disk_path)
                return sd_bus_error_setf(
                        error, ARK_ERROR_INVALID_STATE,
                        "Instance '%s' boots BIOS (it was created without GPUs) and the system on its "
                        "disk would not boot under the UEFI firmware GPU VMs need; create a VM with "
                        "--gpus instead.",
                        i->name);
        r = instance_pick_gpus(m, p, i, &picked, NULL, error);
        if (r < 0)
                return r;
        r = tenant_admit(manager_find_tenant(m, i->tenant), 0, 0, 0, 0, picked, NULL, error);
        if (r < 0)
                return r;
        if (strv_length(i->gpus) + strv_length(picked) > DOMAIN_GPUS_MAX)
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT, "A VM can have at most %d GPUs.",
                                         DOMAIN_GPUS_MAX);
        if (strv_copy(&merged, i->gpus) < 0)
                return -ENOMEM;
        for (char **g = picked; g && *g; g++)
                if (strv_extend(&merged, *g) < 0)
                        return -ENOMEM;
        strv_sort(merged);

        r = db_transaction_begin(m->db, &tx);
        for (char **g = picked; r >= 0 && g && *g; g++)
                r = store_claim_insert(m->db, *g, i->id, now_usec(CLOCK_REALTIME));
        if (r >= 0 && !i->uefi)
                r = store_instance_set_firmware(m->db, i->id, true);
        if (r >= 0 && i->preempted_gpus > 0)
                r = store_instance_set_preempted(m->db, i->id, 0, NULL); /* it has GPUs again */
        if (r == -EEXIST)
                return sd_bus_error_setf(error, ARK_ERROR_IN_USE, "A GPU asked for is claimed already.");
        if (r < 0)
                return manager_store_error(m, error, r, "Failed to claim GPUs for '%s'", i->name);
        {
                bool was_uefi = i->uefi;

                i->uefi = true;
                r = instance_switch_gpus(i, &tx, &merged, error);
                if (r < 0) {
                        i->uefi = was_uefi;
                        return r;
                }
        }
        for (char **g = picked; g && *g; g++) {
                accelerator_set_claim(m, *g, i);
                log_info("Added GPU %s to instance '%s'.", *g, i->name);
        }
        if (i->preempted_gpus > 0) {
                i->preempted_gpus = 0;
                i->preempted_model = mfree(i->preempted_model);
                (void) sd_bus_emit_properties_changed(m->bus, i->path, ARK_BUS_IFACE_INSTANCE,
                                                      "PreemptedGPUs", NULL);
        }
        return 0;
}

/* Releases the GPUs at `addresses` (NULL: all). For a preemption, records how many were taken
 * (and their model when they share one) in the same transaction, for the next start. */
static int instance_drop_gpus(Instance *i, char **addresses, bool preempted, sd_bus_error *error) {
        _cleanup_transaction_ DbTransaction tx = {};
        _cleanup_strv_free_ char **keep = NULL, **gone = NULL;
        _cleanup_free_ char *model = NULL;
        Manager *m = i->manager;
        unsigned n_preempted = 0;
        int r;

        r = instance_driver(i, NULL, error);
        if (r < 0)
                return r;
        r = instance_require_stopped(i, "removing", error);
        if (r < 0)
                return r;
        for (char **a = addresses; a && *a; a++)
                if (!strv_contains(i->gpus, *a))
                        return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                                 "%.40s is not one of the GPUs of instance '%s'%s%s.", *a,
                                                 i->name, i->gpus ? "; it has " : " (it has none)",
                                                 i->gpus ? i->gpus[0] : "");
        for (char **g = i->gpus; g && *g; g++) {
                bool drop = strv_length(addresses) == 0 || strv_contains(addresses, *g);

                if (strv_extend(drop ? &gone : &keep, *g) < 0)
                        return -ENOMEM;
        }
        if (!gone)
                return 0; /* it has none: as asked */
        if (preempted) {
                /* One model for every GPU taken (now and before), or none: mixed. */
                const char *common = i->preempted_gpus > 0 ? i->preempted_model : NULL;
                bool mixed = i->preempted_gpus > 0 && !i->preempted_model;

                for (char **g = gone; *g; g++) {
                        Accelerator *a = manager_find_accelerator(m, *g);

                        if (!a || !a->model)
                                mixed = true;
                        else if (!common)
                                common = a->model;
                        else if (!streq(common, a->model))
                                mixed = true;
                }
                if (!mixed && common && !(model = strdup(common)))
                        return -ENOMEM;
                n_preempted = i->preempted_gpus + (unsigned) strv_length(gone);
        }

        r = db_transaction_begin(m->db, &tx);
        for (char **g = gone; r >= 0 && *g; g++)
                r = store_claim_delete(m->db, *g);
        if (r >= 0 && preempted)
                r = store_instance_set_preempted(m->db, i->id, n_preempted, model);
        if (r < 0)
                return manager_store_error(m, error, r, "Failed to release the GPUs of '%s'", i->name);
        r = instance_switch_gpus(i, &tx, &keep, error);
        if (r < 0)
                return r;
        if (preempted) {
                i->preempted_gpus = n_preempted;
                free(i->preempted_model);
                i->preempted_model = TAKE_PTR(model);
                (void) sd_bus_emit_properties_changed(m->bus, i->path, ARK_BUS_IFACE_INSTANCE,
                                                      "PreemptedGPUs", NULL);
        }
        for (char **g = gone; *g; g++) {
                Accelerator *a = manager_find_accelerator(m, *g);

                accelerator_set_claim(m, *g, NULL);
                log_info("Removed GPU %s from instance '%s'.", *g, i->name);
                if (a && !strv_contains(m->config.vfio_at_boot, *g)) {
                        const char *functions[PASSTHROUGH_FUNCTIONS_MAX];
                        size_t n = passthrough_functions(a, functions, ELEMENTSOF(functions));

                        for (size_t f = 0; f < n; f++)
                                (void) vfio_release(m->config.sysfs_root, functions[f]);
                }
        }
        return 0;
}

int instance_remove_gpus(Instance *i, char **addresses, sd_bus_error *error) {
        return instance_drop_gpus(i, addresses, false, error);
}

int instance_preempt_release(Instance *i, const char *reason, sd_bus_error *error) {
        int r;

        r = instance_drop_gpus(i, NULL, true, error);
        if (r < 0)
                return r;
        instance_set_state(i, i->state, reason);
        return 0;
}

#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <stdint.h>
#include <errno.h>
#include "basic/list.h"
#include "basic/macro.h"

typedef struct Manager Manager;
typedef struct Instance Instance;

/* A container's part of one GPU (store: partitions): a MIG instance or an MPS share. */
typedef struct InstancePartition {
        char *address;         /* the GPU */
        bool mig;              /* a MIG instance; else a share */
        int profile;           /* MIG: its MigProfile (pool/mig.h) */
        unsigned mig_start;    /* MIG: its first memory slice */
        unsigned milli;        /* of the GPU's compute (MIG: its compute slices over 7) */
        uint64_t memory_bytes; /* of the GPU's memory */
        int gi_id, ci_id;      /* MIG: NVML's GPU and compute instance; -1 = none made (after a reboot) */
        char *uuid;            /* MIG: "MIG-..."; NULL = none made */
} InstancePartition;

InstancePartition *instance_partition_free(InstancePartition *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(InstancePartition, instance_partition_free);

typedef enum InstanceState {
        INSTANCE_STOPPED,
        INSTANCE_RUNNING,
        INSTANCE_PAUSED,
        INSTANCE_SHUTTING_DOWN,
        INSTANCE_CRASHED,
        INSTANCE_UNKNOWN,
        _INSTANCE_STATE_MAX,
        _INSTANCE_STATE_INVALID = -EINVAL,
} InstanceState;

const char *instance_state_to_string(InstanceState s);

/* An instance: its stored spec and intent (desired state) plus what the hypervisor last said. */
struct Instance {
        Manager *manager;
        int64_t id; /* row id */
        char uuid[37];
        char *name; /* unique within its tenant */
        char *tenant;
        char *domain_name; /* its libvirt domain's, unique on the host: the name, or
                                     * "<tenant>.<name>" when another tenant's domain has the name */
        char *type;        /* its driver's (driver.h): "vm" */
        unsigned vcpus;
        uint64_t memory_bytes;
        char *disk_path; /* NULL = no disk */
        uint64_t disk_bytes;
        bool disk_owned;
        char *image; /* base image of the overlay, NULL = none */
        char *kernel, *initrd, *cmdline;
        char *console_log;
        bool desired_running;
        bool uefi; /* boots UEFI (GPU VMs); fixed at creation */
        uint64_t created_usec;
        char **gpus;             /* PCI addresses of the GPUs it claims (from the store's claims),
                                     * sorted; NULL = none */
        bool preemptible;        /* may borrow other tenants' guaranteed GPUs (borrow.h); fixed
                                     * at creation */
        unsigned preempted_gpus; /* GPUs taken from it by a reclaim, asked for again at start */
        char *preempted_model;   /* their model, NULL = mixed or none */
        int64_t model_id;        /* store row of the model bundle it serves (bundles.h), 0 = none;
                                     * fixed at creation */
        /* containers (fixed at creation) */
        int64_t container_image_id;   /* store row of its image's bundle; 0 = none (a VM) */
        char **args;                  /* its command; NULL = the image's entrypoint and command */
        char **env;                   /* K=V added to the image's environment; NULL = none */
        InstancePartition *partition; /* its MIG instance or share (instead of gpus); NULL = none */

        /* runtime */
        char *path;
        InstanceState state;
        char *state_reason;
        sd_bus_message **pending_stops; /* Stop() calls waiting for the instance to stop */
        size_t n_pending_stops;
        sd_event_source *stop_timer; /* forces off when a graceful stop takes too long */
        int64_t usage_interval;      /* row of its open usage interval, 0 = none (meter.h) */
        bool preempting;             /* being stopped to give its GPUs back (reclaim.h) */
        unsigned n_execs;            /* Exec() calls whose commands run now */

        LIST_FIELDS(Instance, instances);
};

/* Input of instance_create(), as received over D-Bus. Strings are borrowed. */
typedef struct InstanceCreateParams {
        const char *name, *tenant, *type;
        uint32_t vcpus;
        uint64_t memory_bytes;
        uint64_t disk_bytes;
        const char *image, *kernel, *initrd, *cmdline;
        bool start;
        bool have_vcpus, have_memory;
        uint32_t gpus;           /* whole GPUs wanted (any free ones, of gpu_model if set) */
        const char *gpu_model;   /* case-insensitive part of the model name ("H100") */
        char **networks;         /* the tenant's networks to plug it into; NULL = its default network */
        char **gpu_addresses;    /* exact devices (owned by the caller) */
        bool preemptible;        /* may borrow GPUs other tenants are guaranteed */
        const char *model;       /* an imported model to serve: NAME or NAME@VERSION */
        char **args, **env;      /* containers: its command, K=V added to the image's environment */
        const char *mig_profile; /* containers: a MIG instance of this profile ("3g.40gb") */
        uint32_t share_milli;    /* containers: a share of a GPU, in milli-GPUs (1..999) */
        uint64_t share_memory;   /* ... with this much of its memory */
        bool caller_admin;       /* may name host files by path (image-store.h); not from the spec */
} InstanceCreateParams;

Instance *instance_free(Instance *i);
DEFINE_TRIVIAL_CLEANUP_FUNC(Instance, instance_free);
/* Puts every instance in the store on m's list (empty before), sorted by name then tenant, in
 * state INSTANCE_UNKNOWN (their GPUs come from the claims, loaded after). Returns 0 or a negative
 * errno (the store's message in db_errmsg()); does not log. */
int instance_load_all(Manager *m);
/* The instance `name` of tenant `tenant`; NULL when there is none. */
Instance *manager_find_instance_in(Manager *m, const char *tenant, const char *name);
/* Instance names are unique per tenant, so a caller names one as "TENANT/NAME", or as "NAME" when
 * only one of the instances it may see (`visible`, with `userdata`) has that name. Returns 0 and
 * *ret (NULL: none it may see), or -ENOTUNIQ when several it may see have the name. */
int manager_resolve_instance(Manager *m, const char *ref, bool (*visible)(const Instance *i, void *userdata),
                             void *userdata, Instance **ret);
/* The D-Bus object path of instance `name` of `tenant`: /org/ark/Ark1/instance/<tenant>/<name>,
 * each part escaped. Newly allocated in *ret. */
int instance_object_path(const char *tenant, const char *name, char **ret);
/* Orders instances by name, then tenant (the manager's list is kept sorted). */
int instance_compare(const Instance *a, const Instance *b);
Instance *manager_find_instance_by_uuid(Manager *m, const char *uuid);

/* All of these fill `error` with a named Ark error and a sentence on failure, and return <0. */
/* What a create needs first when the GPUs it asks for are lent to preemptible instances the
 * tenant may reclaim (reclaim.h): the instances to stop, and the GPUs it will then take. */
typedef struct InstanceReclaim {
        Instance **victims;
        size_t n_victims;
        char **gpus;
        /* what the instance will have, counted against the tenant's quotas while it waits */
        unsigned vcpus;
        uint64_t memory_bytes, disk_bytes;
} InstanceReclaim;
void instance_reclaim_done(InstanceReclaim *r);

/* When ret_reclaim is non-NULL and a reclaim is needed, nothing is created: *ret_reclaim says
 * what to stop (n_victims > 0), and *ret is NULL. */
int instance_create(Manager *m, const InstanceCreateParams *p, InstanceReclaim *ret_reclaim, Instance **ret,
                    sd_bus_error *error);
int instance_start(Instance *i, sd_bus_error *error);
/* Graceful stop with force-off after timeout_sec (0 = configured default). When `reply_to` is
 * non-NULL the method call is answered once the instance has stopped (returns 1 = pending). */
int instance_stop(Instance *i, unsigned timeout_sec, sd_bus_message *reply_to, sd_bus_error *error);
int instance_force_off(Instance *i, sd_bus_error *error);
int instance_delete(Instance *i, sd_bus_error *error);
int instance_get_xml(Instance *i, char **ret, sd_bus_error *error);
/* An interactive console session on the running instance (driver.h, console): *ret_fd is the
 * caller's end. */
int instance_open_console(Instance *i, int *ret_fd, sd_bus_error *error);
/* A command run in the running instance (driver.h, exec): *ret_pid is arkd's child, which exits
 * with the command's status. */
int instance_exec(Instance *i, char **argv, const int fds[3], pid_t *ret_pid, sd_bus_error *error);
/* What the instance wrote to stdout and stderr (driver.h, open_log), read-only. */
int instance_open_log(Instance *i, int *ret_fd, sd_bus_error *error);
/* Plugs the instance into a network of its tenant, or out of it (network.h,
 * network_instance_add/remove). */
int instance_network(Instance *i, const char *network, bool add, sd_bus_error *error);
/* GPUs of a stopped instance: added as CreateInstance picks them (p->gpus, gpu_model,
 * gpu_addresses), removed by address (NULL or empty: all). The claims and the redefined domain
 * change together or not at all. */
int instance_add_gpus(Instance *i, const InstanceCreateParams *p, sd_bus_error *error);
int instance_remove_gpus(Instance *i, char **addresses, sd_bus_error *error);
/* A stopped instance preempted for a reclaim: releases all its GPUs, remembers how many (and
 * their model) for its next start, and says why in its state reason. */
int instance_preempt_release(Instance *i, const char *reason, sd_bus_error *error);

/* Updates the observed state; emits signals when it changed. reason may be NULL. */
void instance_set_state(Instance *i, InstanceState state, const char *reason);
/* The hypervisor reported the domain stopped: answer pending Stop() calls. */
void instance_stop_complete(Instance *i, const char *bus_error_name, const char *message);

/* D-Bus side (instance-dbus.c). */
extern const struct sd_bus_vtable instance_vtable[];
int instance_object_find(struct sd_bus *bus, const char *path, const char *interface, void *userdata,
                         void **found, sd_bus_error *error);
int instance_node_enumerator(struct sd_bus *bus, const char *path, void *userdata, char ***nodes,
                             sd_bus_error *error);
void instance_emit_state_changed(Instance *i);

/* Shared by Instance.Stop/ForceOff and Manager.StopInstance: replies to msg (now or later). */
int instance_method_stop_common(sd_bus_message *msg, Instance *i, int force, uint32_t timeout,
                                sd_bus_error *error);

/* The container driver: instances of type "container", run by crun under one conmon each
 * (runtime.h), so that they outlive arkd. The operations of driver.h over the runtime, the OCI
 * configuration of a container from its stored spec and its image (oci-config.h), and a watch that
 * notices containers that ended.
 *
 * Where a container's files are (the runtime's layout, runtime.h): [Containers] Directory=/<uuid>/
 * holds its bundle (config.json, the mount point of its root filesystem, its writable layer) and
 * its log, which stays until the container is deleted; its network namespace is kept at
 * <RuntimeDirectory>/netns/<uuid>, crun's state at <RuntimeDirectory>/crun: gone after a reboot,
 * when a container that should run is started again by reconcile(). */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "basic/perm-util.h"
#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/parse-util.h"
#include "basic/string-util.h"
#include "basic/time-util.h"
#include "bundles.h"
#include "container.h"
#include "driver.h"
#include "gpus.h"
#include "hostids.h"
#include "partitions.h"
#include "image.h"
#include "instance.h"
#include "links.h"
#include "manager.h"
#include "network.h"
#include "runtime.h"
#include "shared/bus-util.h"
#include "store.h"

/* How often running containers are looked at for an exit. conmon writes the exit file the moment
 * the container's first process ends; this is how long arkd may take to notice. */
#define CONTAINER_WATCH_USEC (250 * USEC_PER_MSEC)
/* The processes a container may have (its pids cgroup). */
#define CONTAINER_PIDS_MAX 1024

typedef struct Containers {
        char *instances; /* [Containers] Directory=: the runtime's base */
        char *netns;     /* <RuntimeDirectory>/netns */
        Runtime *rt;     /* NULL when containers cannot run here */
        char *why_not;   /* then: the sentence */
        sd_event_source *watch;
        Partitions *parts; /* MIG instances and shares */
} Containers;

static Containers *containers(Manager *m) {
        return m->containers;
}

static bool is_container(const Instance *i) {
        return streq_ptr(i->type, "container");
}

char *container_log_path(Manager *m, const char *uuid) {
        return strprintf("%s/%s/ctr.log", m->config.container_dir, uuid);
}

static char *container_netns_path(Instance *i) {
        return strprintf("%s/%s", containers(i->manager)->netns, i->uuid);
}

int container_image_resolve(Manager *m, const char *tenant, const char *spec, int64_t *ret_id,
                            char **ret_ref, sd_bus_error *error) {
        _cleanup_(container_image_freep) ContainerImage *img = NULL;
        char *ref;
        int r;

        r = container_image_find(m, tenant, spec, &img, error);
        if (r < 0)
                return r;
        ref = strprintf("%s@%s", img->bundle->name, img->bundle->version);
        if (!ref)
                return -ENOMEM;
        *ret_id = img->bundle->id;
        *ret_ref = ref;
        return 0;
}

int container_idmap_ensure(Manager *m, const char *tenant, uint32_t *ret_base, uint32_t *ret_count,
                           sd_bus_error *error) {
        uint32_t base, count;
        int r;

        r = store_idmap_get(m->db, tenant, &base, &count);
        if (r == -ENOENT) {
                count = m->config.container_id_count;
                r = store_idmap_allocate(m->db, tenant, m->config.container_id_base, count,
                                         (uint64_t) UINT32_MAX - 1, now_usec(CLOCK_REALTIME), &base);
                if (r == -ENOSPC)
                        return sd_bus_error_setf(
                                error, ARK_ERROR_NO_CAPACITY,
                                "The host IDs for containers are spent: every range of %" PRIu32
                                " IDs from %" PRIu32 " on went to a tenant ([Containers] HostIdBase=).",
                                count, m->config.container_id_base);
                if (r >= 0)
                        log_info("Tenant '%s' runs its containers as host IDs %" PRIu32 "-%" PRIu32 ".",
                                 tenant, base, base + count - 1);
        }
        if (r < 0)
                return manager_store_error(m, error, r, "Failed to give tenant '%s' its host IDs", tenant);
        if (ret_base)
                *ret_base = base;
        if (ret_count)
                *ret_count = count;
        return 0;
}

#define CONTAINER_PIDS_MAX 1024

/* KEY=VALUE entries of `base`, each replaced by an entry of `over` with the same key, then the
 * rest of `over`. */
static int env_merge(char *const *base, char *const *over, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;

        for (char *const *b = base; b && *b; b++) {
                size_t k = strcspn(*b, "=");
                bool replaced = false;

                for (char *const *o = over; o && *o && !replaced; o++)
                        replaced = strncmp(*o, *b, k) == 0 && (*o)[k] == '=';
                if (!replaced && strv_extend(&l, *b) < 0)
                        return -ENOMEM;
        }
        for (char *const *o = over; o && *o; o++)
                if (strv_extend(&l, *o) < 0)
                        return -ENOMEM;
        *ret = TAKE_PTR(l);
        return 0;
}

/* The numeric user and group of an image's User= ("1000", "1000:1000", "" = root). A name would
 * need the image's /etc/passwd: refused with a sentence for now. */
static int image_user(const char *user, uint32_t *ret_uid, uint32_t *ret_gid, sd_bus_error *error) {
        _cleanup_free_ char *u = strdup(strempty(user));
        char *colon;
        uint32_t uid = 0, gid = 0;

        if (!u)
                return -ENOMEM;
        colon = strchr(u, ':');
        if (colon)
                *colon++ = 0;
        if ((!isempty(u) && parse_u32(u, &uid) < 0) || (colon && parse_u32(colon, &gid) < 0))
                return sd_bus_error_setf(error, ARK_ERROR_NOT_SUPPORTED,
                                         "The image runs as user '%s'; only numeric users (UID[:GID]) are "
                                         "supported yet.",
                                         user);
        if (!colon)
                gid = uid;
        *ret_uid = uid;
        *ret_gid = gid;
        return 0;
}


/* ------------------------------------------------------------------------------------------ */
/* what the runtime says */

/* How a container that stopped ended, for its state reason. */
static void exit_reason(const ContainerState *s, char *buf, size_t l) {
        if (s->oom_killed)
                snprintf(buf, l, "out of memory (killed at its memory limit)");
        else if (s->exit_code > 128)
                snprintf(buf, l, "killed by signal %d", s->exit_code - 128);
        else if (s->exit_code >= 0)
                snprintf(buf, l, "exited with status %d", s->exit_code);
        else
                snprintf(buf, l, "stopped");
}

static InstanceState state_of(const ContainerState *s) {
        switch (s->status) {
        case CONTAINER_CREATED:
        case CONTAINER_RUNNING:
                return INSTANCE_RUNNING;
        case CONTAINER_PAUSED:
                return INSTANCE_PAUSED;
        default:
                return INSTANCE_STOPPED;
        }
}

/* A container that ended: its state and pending Stop() calls are told, its network namespace goes
 * (its log, writable layer and exit status stay). */
static void container_ended(Instance *i, const ContainerState *s) {
        _cleanup_free_ char *netns = container_netns_path(i);
        char reason[96];

        exit_reason(s, reason, sizeof(reason));
        if (s->oom_killed)
                log_warning("Container '%s' of tenant '%s' was killed at its memory limit.", i->name,
                            i->tenant);
        if (netns)
                (void) net_netns_remove(netns);
        instance_set_state(i, INSTANCE_STOPPED, reason);
        instance_stop_complete(i, NULL, NULL);
}

static int on_watch(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        Containers *c = containers(m);

        LIST_FOREACH(instances, i, m->instances) {
                ContainerState st;

                if (!is_container(i) || (i->state != INSTANCE_RUNNING && i->state != INSTANCE_SHUTTING_DOWN))
                        continue;
                if (runtime_state(c->rt, i->uuid, &st) < 0 || state_of(&st) != INSTANCE_STOPPED)
                        continue;
                container_ended(i, &st);
        }
        (void) sd_event_source_set_time_relative(s, CONTAINER_WATCH_USEC);
        return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* the backend */

static int ct_reconcile(Manager *m);

static int ct_setup(Manager *m) {
        _cleanup_free_ Containers *c = calloc(1, sizeof(Containers));
        _cleanup_free_ char *crun_root = NULL, *why = NULL;
        int r;

        if (!c)
                return -ENOMEM;
        c->instances = strdup(m->config.container_dir);
        c->netns = path_join(m->config.container_run_dir, "netns");
        crun_root = path_join(m->config.container_run_dir, "crun");
        if (!c->instances || !c->netns || !crun_root)
                return -ENOMEM;
        /* The directories above what is private are only searched: a container's root (an
         * unprivileged UID) goes through them to its root file system, dnsmasq to its files
         * beside (network.h), whoever makes them first. */
        r = mkdir_p_mode(m->config.container_run_dir, 0711);
        if (r >= 0)
                r = mkdir_p_mode(c->netns, 0700);
        if (r < 0)
                return log_error_errno(r, "Failed to create '%s': %m", c->netns);
        /* Without a runtime arkd runs on (VMs need none); creating or starting a container says why. */
        if (geteuid() != 0)
                c->why_not = strdup("arkd does not run as root");
        else if (host_ids_check(
                         &(const HostIdFiles) { "/etc/passwd", "/etc/group", "/etc/subuid", "/etc/subgid" },
                         m->config.container_id_base, &why) < 0)
                c->why_not = strprintf("the host IDs they would run as are not free: %s", strna(why));
        else {
                RuntimeConfig rc = {
                        .crun = m->config.container_runtime,
                        .conmon = m->config.container_monitor,
                        .state_root = crun_root,
                        .base_dir = c->instances,
                };

                r = runtime_new(&rc, &c->rt);
                if (r == -ENOENT)
                        c->why_not =
                                strprintf("the runtime '%s' or the monitor '%s' is not there ([Containers] "
                                          "Runtime=, Monitor=)",
                                          rc.crun, rc.conmon);
                else if (r < 0)
                        c->why_not = strprintf("the runtime cannot be set up: %s", strerror(-r));
        }
        /* For other tools on the host: what arkd gives containers is built at each start. */
        if (!c->why_not) {
                r = container_cdi_refresh(m);
                if (r < 0)
                        log_warning_errno(r, "Failed to write the CDI specs to '%s': %m",
                                          m->config.container_cdi_dir);
        }
        if (c->why_not)
                log_warning("Containers cannot run: %s.", c->why_not);
        else
                log_debug("Containers run under crun with cgroup manager '%s'.",
                          runtime_cgroup_manager(c->rt));
        r = partitions_new(m, &c->parts);
        if (r < 0)
                return log_error_errno(r, "Failed to set up GPU partitions: %m");
        partitions_reconcile(m, c->parts);
        r = sd_event_add_time_relative(m->event, &c->watch, CLOCK_MONOTONIC, CONTAINER_WATCH_USEC, 0,
                                       on_watch, m);
        if (r < 0)
                return log_error_errno(r, "Failed to watch containers: %m");
        (void) sd_event_source_set_enabled(c->watch, c->rt ? SD_EVENT_ON : SD_EVENT_OFF);
        m->containers = TAKE_PTR(c);
        /* The instances are loaded: what runs is adopted now, as the VM driver does once it is
         * connected. */
        return ct_reconcile(m);
}

static void ct_teardown(Manager *m) {
        Containers *c = containers(m);

        if (!c)
                return;
        sd_event_source_disable_unref(c->watch);
        partitions_free(c->parts);
        runtime_free(c->rt);
        free(c->instances);
        free(c->netns);
        free(c->why_not);
        free(c);
        m->containers = NULL;
}

static bool ct_connected(Manager *m) {
        return containers(m) && containers(m)->rt;
}

static int ct_require(Manager *m, sd_bus_error *error);

int container_partitions_require(Manager *m, sd_bus_error *error) {
        int r;

        r = ct_require(m, error);
        if (r < 0)
                return r;
        if (partitions_why_not(containers(m)->parts))
                return sd_bus_error_setf(error, ARK_ERROR_NOT_READY,
                                         "MIG instances and GPU shares need NVIDIA's driver: %s.",
                                         partitions_why_not(containers(m)->parts));
        return 0;
}

int container_partition_make(Manager *m, Instance *i, bool mig_enable, sd_bus_error *error) {
        return partitions_make(m, containers(m) ? containers(m)->parts : NULL, i, mig_enable, error);
}

void container_partition_undo(Manager *m, const InstancePartition *part, bool mig_enabled) {
        partitions_undo(m, containers(m) ? containers(m)->parts : NULL, part, mig_enabled);
}

void container_partition_release(Manager *m, const InstancePartition *part) {
        partitions_release(m, containers(m) ? containers(m)->parts : NULL, part);
}

static int ct_require(Manager *m, sd_bus_error *error) {
        if (ct_connected(m))
                return 0;
        sd_bus_error_setf(error, ARK_ERROR_HYPERVISOR_UNAVAILABLE, "Containers cannot run on this host: %s.",
                          containers(m) ? strna(containers(m)->why_not) : "arkd is starting");
        return -ENOTCONN;
}

static int ct_name_in_use(Manager *m, const char *name) {
        return 0; /* the runtime knows containers by their UUID */
}

/* The container's bundle from its stored spec and its image, its network namespace with its NICs.
 * What it made is undone on failure. */
static int container_prepare(Instance *i, sd_bus_error *error) {
        Manager *m = i->manager;
        Containers *c = containers(m);
        _cleanup_(container_image_freep) ContainerImage *img = NULL;
        _cleanup_free_ char *why = NULL, *netns = NULL;
        _cleanup_strv_free_ char **args = NULL, **env = NULL;
        _cleanup_close_ int netns_fd = -EBADF;
        _cleanup_(cdi_edits_done) CdiEdits gpus = {};
        _cleanup_(partition_device_done) PartitionDevice part = {};
        _cleanup_(oci_spec_extra_done) OciSpecExtra extra = {};
        Bundle *b = bundle_by_id(m, i->container_image_id);
        uint32_t base = 0, count = 0, uid = 0, gid = 0;
        OciMount mounts[1];
        size_t n_mounts = 0;
        int r;

        if (!b)
                return sd_bus_error_setf(error, ARK_ERROR_NOT_FOUND,
                                         "The image of container '%s' is not installed any more.", i->name);
        r = container_image_load(m, b, &img, &why);
        if (r < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_FAILED,
                                         "The image of container '%s' cannot be read: %s", i->name,
                                         strna(why));
        r = container_idmap_ensure(m, i->tenant, &base, &count, error);
        if (r < 0)
                return r;
        r = image_user(img->user, &uid, &gid, error);
        if (r < 0)
                return r;
        if (i->args)
                r = strv_copy(&args, i->args);
        else {
                r = strv_copy(&args, img->entrypoint);
                for (char **a = img->cmd; r >= 0 && a && *a; a++)
                        r = strv_extend(&args, *a);
        }
        if (r < 0)
                return -ENOMEM;
        if (!args || !args[0])
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "Image %s %s has no command and container '%s' gives none (Args).",
                                         b->name, b->version, i->name);
        /* Its MIG instance there, or its GPU's MPS daemon serving its tenant (partitions.h). */
        if (i->partition) {
                r = partitions_prepare(m, c->parts, i, base, base, &part, error);
                if (r < 0)
                        return r;
        }
        /* The GPUs' device nodes, mounts and variables, made from the inventory now (gpus.h). */
        r = container_gpu_edits(m, i, i->partition ? &part.cdi : NULL, &gpus, &why);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return sd_bus_error_setf(error, ARK_ERROR_NOT_READY,
                                         "The GPUs of container '%s' cannot be given: %s", i->name,
                                         strna(why));
        r = env_merge(img->env, i->env, &env);
        if (r < 0)
                return r;
        if (i->model_id > 0) {
                Bundle *model = bundle_by_id(m, i->model_id);

                if (!model)
                        return sd_bus_error_setf(error, ARK_ERROR_NOT_FOUND,
                                                 "The model of container '%s' is not installed any more.",
                                                 i->name);
                mounts[n_mounts++] =
                        (OciMount) { .source = model->directory, .destination = "/model", .readonly = true };
        }

        netns = container_netns_path(i);
        if (!netns)
                return -ENOMEM;
        (void) net_netns_remove(netns); /* one a container that ended left */
        r = net_netns_create(netns);
        if (r < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_FAILED,
                                         "Failed to make the network namespace of '%s': %s.", i->name,
                                         strerror(-r));
        netns_fd = open(netns, O_RDONLY | O_CLOEXEC);
        if (netns_fd < 0)
                r = sd_bus_error_setf(error, SD_BUS_ERROR_FAILED, "Failed to open '%s': %m.", netns);
        else
                r = network_instance_plug_netns(i, netns_fd, error);
        if (r >= 0) {
                ContainerSpec spec = {
                        .oci = {
                                .args = args,
                                .env = env,
                                .cwd = img->working_dir,
                                .uid = uid,
                                .gid = gid,
                                .hostname = i->name,
                                .host_uid_base = base,
                                .host_gid_base = base,
                                .id_count = count,
                                .cpu_milli = (uint64_t) i->vcpus * 1000,
                                .memory_bytes = i->memory_bytes,
                                .pids_max = CONTAINER_PIDS_MAX,
                                .netns_path = netns,
                                .mounts = mounts,
                                .n_mounts = n_mounts,
                        },
                        .layers = img->layers,
                };

                /* The GPUs' nodes, mounts and variables, over the image's and the container's. */
                r = oci_spec_add_cdi(&spec.oci, &gpus, &extra, &why);
                if (r == -ENOMEM)
                        ;
                else if (r < 0)
                        sd_bus_error_setf(error, ARK_ERROR_NOT_READY,
                                          "The GPUs of container '%s' cannot be given: %s", i->name,
                                          strna(why));
                else {
                        r = runtime_prepare(c->rt, i->uuid, &spec, &why);
                        if (r < 0)
                                sd_bus_error_setf(error, SD_BUS_ERROR_FAILED,
                                                  "Failed to prepare container '%s': %s", i->name,
                                                  strna(why));
                }
        }
        if (r < 0)
                (void) net_netns_remove(netns);
        return r;
}

/* Compares the store's containers with the runtime: a running one is adopted as it is (with its
 * log and, once it ends, its exit status), one that ended while arkd was away is recorded as
 * stopped with how it ended, and one that should run but does not (the host rebooted) is started
 * again. */
static int ct_reconcile(Manager *m) {
        Containers *c = containers(m);
        unsigned n_adopted = 0, n_started = 0;

        if (!ct_connected(m))
                return 0;
        LIST_FOREACH(instances, i, m->instances) {
                sd_bus_error error = SD_BUS_ERROR_NULL;
                ContainerState st = { .exit_code = -1 };
                int r;

                if (!is_container(i))
                        continue;
                r = runtime_state(c->rt, i->uuid, &st);
                if (r >= 0 && state_of(&st) != INSTANCE_STOPPED) {
                        instance_set_state(i, state_of(&st),
                                           i->state == INSTANCE_UNKNOWN ? "adopted" : NULL);
                        n_adopted++;
                        continue;
                }
                if (r >= 0 && st.status == CONTAINER_STOPPED && i->state != INSTANCE_STOPPED)
                        container_ended(i, &st); /* it ended while arkd was away */
                else if (i->state != INSTANCE_STOPPED)
                        instance_set_state(i, INSTANCE_STOPPED, "not running");
                if (!i->desired_running || st.status == CONTAINER_STOPPED)
                        continue;
                /* Desired running and never ended: the host rebooted under it. */
                r = container_driver.start(i, &error);
                if (r < 0) {
                        log_error("Container '%s' of tenant '%s' should run and could not be started: %s",
                                  i->name, i->tenant, strna(error.message));
                        sd_bus_error_free(&error);
                        continue;
                }
                instance_set_state(i, INSTANCE_RUNNING, "started again after a reboot");
                n_started++;
        }
        if (n_adopted + n_started > 0)
                log_info("Containers: %u adopted, %u started again.", n_adopted, n_started);
        return 0;
}

/* Nothing runs and nothing is written until start: the bundle is made then, from the stored spec
 * and the image. */
static int ct_define(Instance *i, sd_bus_error *error) {
        return ct_require(i->manager, error);
}

static int ct_remove(Instance *i, sd_bus_error *error) {
        _cleanup_free_ char *why = NULL, *netns = container_netns_path(i);
        int r;

        if (!netns)
                return -ENOMEM;
        r = ct_require(i->manager, error);
        if (r < 0)
                return r;
        r = runtime_delete(containers(i->manager)->rt, i->uuid, false, &why);
        if (r < 0)
                return sd_bus_error_setf(error, ARK_ERROR_HYPERVISOR, "Failed to remove container '%s': %s",
                                         i->name, strna(why));
        (void) net_netns_remove(netns);
        return 0;
}

static int ct_start(Instance *i, sd_bus_error *error) {
        _cleanup_free_ char *why = NULL;
        int r;

        r = ct_require(i->manager, error);
        if (r < 0)
                return r;
        r = container_prepare(i, error);
        if (r < 0)
                return r;
        r = runtime_start(containers(i->manager)->rt, i->uuid, &why);
        if (r < 0) {
                _cleanup_free_ char *netns = container_netns_path(i);

                if (netns)
                        (void) net_netns_remove(netns);
                return sd_bus_error_setf(error, ARK_ERROR_HYPERVISOR, "Failed to start container '%s': %s",
                                         i->name, strna(why));
        }
        return 0;
}

/* SIGTERM to its first process; the watch sees it end, or instance.c forces it off after the stop
 * timeout. */
static int ct_stop(Instance *i, sd_bus_error *error) {
        _cleanup_free_ char *why = NULL;
        ContainerState st;
        int r;

        r = ct_require(i->manager, error);
        if (r < 0)
                return r;
        r = runtime_kill(containers(i->manager)->rt, i->uuid, SIGTERM, &why);
        if (r == -ESRCH)
                return 1;
        if (r < 0)
                return sd_bus_error_setf(error, ARK_ERROR_HYPERVISOR, "Failed to stop container '%s': %s",
                                         i->name, strna(why));
        if (runtime_state(containers(i->manager)->rt, i->uuid, &st) >= 0 &&
            state_of(&st) == INSTANCE_STOPPED) {
                container_ended(i, &st);
                return 1;
        }
        return 0;
}

/* SIGKILL, and waits (a little) until conmon has recorded the end. */
static int ct_force_off(Instance *i, sd_bus_error *error) {
        Runtime *rt;
        _cleanup_free_ char *why = NULL;
        ContainerState st;
        int r;

        r = ct_require(i->manager, error);
        if (r < 0)
                return r;
        rt = containers(i->manager)->rt;
        r = runtime_kill(rt, i->uuid, SIGKILL, &why);
        if (r < 0 && r != -ESRCH)
                return sd_bus_error_setf(error, ARK_ERROR_HYPERVISOR, "Failed to kill container '%s': %s",
                                         i->name, strna(why));
        for (int k = 0; k < 200; k++) {
                if (runtime_state(rt, i->uuid, &st) >= 0 && state_of(&st) == INSTANCE_STOPPED) {
                        _cleanup_free_ char *netns = container_netns_path(i);

                        if (netns)
                                (void) net_netns_remove(netns);
                        return 0;
                }
                usleep(25 * 1000);
        }
        return sd_bus_error_setf(error, ARK_ERROR_HYPERVISOR,
                                 "Container '%s' did not end within 5 s of SIGKILL.", i->name);
}

static int ct_get_state(Instance *i, InstanceState *ret) {
        ContainerState st;
        int r;

        if (!ct_connected(i->manager))
                return -ENOTCONN;
        r = runtime_state(containers(i->manager)->rt, i->uuid, &st);
        if (r < 0)
                return r;
        *ret = state_of(&st);
        return 0;
}

/* Its OCI configuration, as crun has it. */
static int ct_describe(Instance *i, char **ret, sd_bus_error *error) {
        _cleanup_free_ char *path =
                strprintf("%s/%s/config.json", containers(i->manager)->instances, i->uuid);
        int r;

        if (!path)
                return -ENOMEM;
        r = read_full_file(path, ret, NULL);
        if (r == -ENOENT)
                return sd_bus_error_setf(
                        error, ARK_ERROR_NOT_FOUND,
                        "Container '%s' has no configuration yet: it is made when it starts.", i->name);
        if (r < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_FAILED, "Failed to read '%s': %s.", path,
                                         strerror(-r));
        return 0;
}

static int ct_console(Instance *i, int *ret_fd, sd_bus_error *error) {
        return sd_bus_error_setf(
                error, ARK_ERROR_NOT_SUPPORTED,
                "Containers have no console: run a command in it ('arkctl ct exec %s -- sh').", i->name);
}

static int ct_nic(Instance *i, const Nic *nic, sd_bus_error *error) {
        return sd_bus_error_setf(error, ARK_ERROR_NOT_SUPPORTED,
                                 "Networks of a running container cannot change: stop '%s' first.", i->name);
}

static int ct_exec(Instance *i, char **argv, const int fds[3], pid_t *ret_pid, sd_bus_error *error) {
        int r;

        r = ct_require(i->manager, error);
        if (r < 0)
                return r;
        r = runtime_exec(containers(i->manager)->rt, i->uuid, argv, NULL, fds[0], fds[1], fds[2], ret_pid);
        if (r == -ESRCH)
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_STATE, "Container '%s' is not running.",
                                         i->name);
        if (r < 0)
                return sd_bus_error_setf(error, ARK_ERROR_HYPERVISOR, "Failed to run a command in '%s': %s.",
                                         i->name, strerror(-r));
        return 0;
}

static int ct_open_log(Instance *i, int *ret_fd, sd_bus_error *error) {
        _cleanup_free_ char *path = container_log_path(i->manager, i->uuid);
        int fd;

        if (!path)
                return -ENOMEM;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0 && errno == ENOENT)
                return sd_bus_error_setf(error, ARK_ERROR_NOT_FOUND,
                                         "Container '%s' has written nothing yet: it has not run.", i->name);
        if (fd < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_FAILED, "Failed to open the log of '%s': %m.",
                                         i->name);
        *ret_fd = fd;
        return 0;
}

const InstanceDriver container_driver = {
        .type = "container",
        .setup = ct_setup,
        .teardown = ct_teardown,
        .connected = ct_connected,
        .require = ct_require,
        .reconcile = ct_reconcile,
        .name_in_use = ct_name_in_use,
        .define = ct_define,
        .remove = ct_remove,
        .start = ct_start,
        .stop = ct_stop,
        .force_off = ct_force_off,
        .get_state = ct_get_state,
        .describe = ct_describe,
        .console = ct_console,
        .attach_nic = ct_nic,
        .detach_nic = ct_nic,
        .exec = ct_exec,
        .open_log = ct_open_log,
};

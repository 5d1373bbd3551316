/* The container driver: instances of type "container", run by crun under one conmon each
 * (runtime.h), so that they outlive arkd. The operations of driver.h over the runtime, the OCI
 * configuration of a container from its stored spec and its image (oci-config.h), and a watch that
 * notices containers that ended.
 *
 * Where a container's files are: <state>/containers/<uuid>/ holds its bundle (config.json, the
 * mount point of its root filesystem, its writable layer) and its log, which stays until the
 * container is deleted. The runtime's own state is under [Containers] RuntimeDirectory=, which is
 * gone after a reboot: a container that should run is then started again by reconcile(). */

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

#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/string-util.h"
#include "basic/time-util.h"
#include "bundles.h"
#include "container.h"
#include "driver.h"
#include "instance.h"
#include "manager.h"
#include "shared/bus-util.h"
#include "store.h"

/* How often running containers are looked at for an exit. conmon writes the exit file the moment
 * the container's first process ends; this is how long arkd may take to notice. */
#define CONTAINER_WATCH_USEC (500 * USEC_PER_MSEC)

typedef struct Containers {
        char *dir; /* <state>/containers */
        bool ready;
        char *why_not; /* when not ready: the sentence */
        sd_event_source *watch;
} Containers;

static Containers *containers(Manager *m) {
        return m->containers;
}

static bool is_container(const Instance *i) {
        return streq_ptr(i->type, "container");
}

char *container_log_path(Manager *m, const char *uuid) {
        return strprintf("%s/containers/%s/log", m->config.state_dir, uuid);
}

static char *container_dir(Instance *i) {
        return strprintf("%s/%s", containers(i->manager)->dir, i->uuid);
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

/* ------------------------------------------------------------------------------------------ */
/* the runtime's view */

/* What the runtime says of the instance's container: its state, and how it ended. */
static int container_status(Instance *i, RuntimeStatus *ret) {
        Containers *c = containers(i->manager);

        return runtime_status(&c->rt, i->uuid, ret);
}

/* How a container that stopped ended, for its state reason. */
static void exit_reason(const RuntimeStatus *s, char *buf, size_t l) {
        if (s->oom_killed)
                snprintf(buf, l, "out of memory (killed at its memory limit)");
        else if (s->signal > 0)
                snprintf(buf, l, "killed by signal %d", s->signal);
        else if (s->exit_code >= 0)
                snprintf(buf, l, "exited with status %d", s->exit_code);
        else
                snprintf(buf, l, "stopped");
}

/* A container that ended: its runtime state goes (the log, the writable layer and the exit status
 * stay), its state and pending Stop() calls are told. */
static void container_ended(Instance *i, const RuntimeStatus *s) {
        char reason[96];
        _cleanup_free_ char *dir = container_dir(i);

        exit_reason(s, reason, sizeof(reason));
        if (s->oom_killed)
                log_warning("Container '%s' of tenant '%s' was killed at its memory limit.", i->name,
                            i->tenant);
        if (dir)
                (void) runtime_cleanup(&containers(i->manager)->rt, i->uuid, dir);
        instance_set_state(i, INSTANCE_STOPPED, reason);
        instance_stop_complete(i, NULL, NULL);
}

static int on_watch(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        LIST_FOREACH(instances, i, m->instances) {
                RuntimeStatus st;

                if (!is_container(i) || (i->state != INSTANCE_RUNNING && i->state != INSTANCE_SHUTTING_DOWN))
                        continue;
                if (container_status(i, &st) < 0 || st.running)
                        continue;
                container_ended(i, &st);
        }
        (void) sd_event_source_set_time_relative(s, CONTAINER_WATCH_USEC);
        return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* the backend */

static int ct_setup(Manager *m) {
        _cleanup_free_ Containers *c = calloc(1, sizeof(Containers));
        int r;

        if (!c)
                return -ENOMEM;
        c->dir = manager_state_path(m, "containers");
        if (!c->dir)
                return -ENOMEM;
        r = mkdir_p(c->dir, 0700);
        if (r < 0)
                return log_error_errno(r, "Failed to create '%s': %m", c->dir);
        c->rt = (ContainerRuntime) {
                .crun = m->config.container_runtime,
                .conmon = m->config.container_monitor,
                .run_dir = m->config.container_run_dir,
        };
        /* Without a runtime arkd runs on (VMs need none); creating or starting a container says why. */
        if (access(c->rt.crun, X_OK) < 0)
                c->why_not = strprintf("the container runtime '%s' is not there ([Containers] Runtime=)",
                                       c->rt.crun);
        else if (access(c->rt.conmon, X_OK) < 0)
                c->why_not = strprintf("the container monitor '%s' is not there ([Containers] Monitor=)",
                                       c->rt.conmon);
        else if (geteuid() != 0)
                c->why_not = strdup("arkd does not run as root");
        else {
                r = runtime_setup(&c->rt);
                if (r < 0)
                        c->why_not = strprintf("the runtime cannot be prepared: %s", strerror(-r));
        }
        c->ready = !c->why_not;
        if (!c->ready)
                log_warning("Containers cannot run: %s.", strna(c->why_not));
        r = sd_event_add_time_relative(m->event, &c->watch, CLOCK_MONOTONIC, CONTAINER_WATCH_USEC, 0,
                                       on_watch, m);
        if (r < 0)
                return log_error_errno(r, "Failed to watch containers: %m");
        (void) sd_event_source_set_enabled(c->watch, SD_EVENT_ON);
        m->containers = TAKE_PTR(c);
        return 0;
}

static void ct_teardown(Manager *m) {
        Containers *c = containers(m);

        if (!c)
                return;
        sd_event_source_disable_unref(c->watch);
        free(c->dir);
        free(c->why_not);
        free(c);
        m->containers = NULL;
}

static bool ct_connected(Manager *m) {
        return containers(m) && containers(m)->ready;
}

static int ct_require(Manager *m, sd_bus_error *error) {
        if (ct_connected(m))
                return 0;
        sd_bus_error_setf(error, ARK_ERROR_HYPERVISOR_UNAVAILABLE, "Containers cannot run on this host: %s.",
                          containers(m) ? strna(containers(m)->why_not) : "arkd is starting");
        return -ENOTCONN;
}

static int ct_name_in_use(Manager *m, const char *name) {
        return 0; /* containers are known to the runtime by their UUID */
}

/* Compares the store's containers with the runtime: a running one is adopted as it is (with its
 * log and, once it ends, its exit status), one that ended while arkd was away is recorded as
 * stopped, and one that should run but does not (the host rebooted) is started again. */
static int ct_reconcile(Manager *m) {
        unsigned n_adopted = 0, n_started = 0;

        if (!ct_connected(m))
                return 0;
        LIST_FOREACH(instances, i, m->instances) {
                sd_bus_error error = SD_BUS_ERROR_NULL;
                RuntimeStatus st;
                int r;

                if (!is_container(i))
                        continue;
                r = container_status(i, &st);
                if (r >= 0 && st.running) {
                        instance_set_state(i, INSTANCE_RUNNING,
                                           i->state == INSTANCE_RUNNING ? NULL : "adopted");
                        n_adopted++;
                        continue;
                }
                if (r >= 0 && st.exists)
                        container_ended(i, &st); /* it ended while arkd was away */
                else
                        instance_set_state(i, INSTANCE_STOPPED,
                                           i->state == INSTANCE_UNKNOWN ? "not running" : NULL);
                if (!i->desired_running)
                        continue;
                r = container_driver.start(i, &error);
                if (r < 0) {
                        log_error("Container '%s' of tenant '%s' should run and could not be started: %s",
                                  i->name, i->tenant, strna(error.message));
                        sd_bus_error_free(&error);
                        continue;
                }
                instance_set_state(i, INSTANCE_RUNNING, "started by reconciliation");
                n_started++;
        }
        if (n_adopted + n_started > 0)
                log_info("Containers: %u adopted, %u started again.", n_adopted, n_started);
        return 0;
}

/* Nothing runs and nothing is written until start: the OCI configuration is made then, from the
 * stored spec and the image. */
static int ct_define(Instance *i, sd_bus_error *error) {
        return ct_require(i->manager, error);
}

static int ct_remove(Instance *i, sd_bus_error *error) {
        _cleanup_free_ char *dir = container_dir(i);
        int r;

        if (!dir)
                return -ENOMEM;
        r = runtime_delete(&containers(i->manager)->rt, i->uuid, dir);
        if (r < 0)
                return sd_bus_error_setf(error, ARK_ERROR_HYPERVISOR,
                                         "Failed to remove the container of '%s': %s.", i->name,
                                         strerror(-r));
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

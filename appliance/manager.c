/* The Manager: owns every part of arkd and starts them in order. */

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pool/mig.h"
#include "access.h"
#include "api-guard.h"
#include "basic/dirent-util.h"
#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/perm-util.h"
#include "basic/string-util.h"
#include "basic/time-util.h"
#include "driver.h"
#include "bundles.h"
#include "network.h"
#include "manager.h"
#include "reclaim.h"
#include "meter.h"
#include "metrics.h"
#include "passthrough.h"
#include "host-inventory.h"
#include "readiness.h"
#include "shared/bus-util.h"
#include "shared/db.h"
#include "store.h"
#include "vfio.h"

/* A deep copy: every value as it is (so a new setting cannot be forgotten here), then a copy of
 * every string and list of its own. */
static int config_copy(ArkConfig *dst, const ArkConfig *src) {
        char **strings[] = {
                &dst->state_dir,
                &dst->bus_address,
                &dst->libvirt_uri,
                &dst->domain_type,
                &dst->sysfs_root,
                &dst->firmware_code,
                &dst->firmware_vars,
                &dst->management_interface,
                &dst->metrics_address,
                &dst->metrics_token_file,
                &dst->trust_dir,
                &dst->placement_workload,
                &dst->network_uplink,
                &dst->network_run_dir,
                &dst->container_runtime,
                &dst->container_monitor,
                &dst->container_run_dir,
                &dst->container_dir,
                &dst->container_dev_root,
                &dst->container_cdi_dir,
                &dst->container_mps_control,
                &dst->container_nvml,
        };
        char ***lists[] = { &dst->vfio_at_boot, &dst->reserved, &dst->image_admin_dirs };
        int r = 0;

        *dst = *src;
        for (size_t k = 0; k < ELEMENTSOF(strings); k++) {
                const char *s = *strings[k];

                *strings[k] = NULL;
                if (s && r >= 0)
                        r = free_and_strdup(strings[k], s);
        }
        for (size_t k = 0; k < ELEMENTSOF(lists); k++) {
                char **l = *lists[k];

                *lists[k] = NULL;
                if (r >= 0)
                        r = strv_copy(lists[k], l);
        }
        if (r < 0) {
                config_done(dst);
                return -ENOMEM;
        }
        return 0;
}

int manager_new(const ArkConfig *config, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = calloc(1, sizeof(Manager));
        int r;

        if (!m)
                return -ENOMEM;
        r = config_copy(&m->config, config);
        if (r < 0)
                return r;
        r = sd_event_default(&m->event);
        if (r < 0)
                return r;
        m->lock_fd = -EBADF;
        m->started_usec = now_usec(CLOCK_REALTIME);
        *ret = TAKE_PTR(m);
        return 0;
}

void manager_orphans_clear(Manager *m) {
        for (size_t k = 0; k < m->n_orphans; k++) {
                free(m->orphans[k].domain);
                free(m->orphans[k].tenant);
        }
        m->orphans = mfree(m->orphans);
        m->n_orphans = 0;
}

int manager_orphan_add(Manager *m, const char *domain, const char *uuid, const char *tenant) {
        Orphan *o = realloc(m->orphans, sizeof(Orphan) * (m->n_orphans + 1));

        if (!o)
                return -ENOMEM;
        m->orphans = o;
        o = &m->orphans[m->n_orphans];
        *o = (Orphan) {};
        o->domain = strdup(domain);
        o->tenant = strdup(strempty(tenant));
        snprintf(o->uuid, sizeof(o->uuid), "%s", uuid);
        if (!o->domain || !o->tenant) {
                free(o->domain);
                free(o->tenant);
                return -ENOMEM;
        }
        m->n_orphans++;
        return 0;
}

void manager_conflicts_clear(Manager *m) {
        for (size_t k = 0; k < m->n_conflicts; k++) {
                free(m->conflicts[k].device);
                free(m->conflicts[k].message);
        }
        m->conflicts = mfree(m->conflicts);
        m->n_conflicts = 0;
}

void manager_conflict_add(Manager *m, const char *device, const char *format, ...) {
        _cleanup_free_ char *msg = NULL, *dev = strdup(device);
        char field[64];
        Conflict *c;
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(&msg, format, ap);
        va_end(ap);
        if (r < 0 || !dev)
                return (void) log_error_errno(-ENOMEM, "Out of memory.");
        snprintf(field, sizeof(field), "ARK_GPU=%s", device);
        log_struct(LOG_WARNING, 0, LOG_FIELDS("MESSAGE_ID=" ARK_MESSAGE_CLAIM_CONFLICT, field),
                   "Conflict: %s", msg);
        c = realloc(m->conflicts, sizeof(Conflict) * (m->n_conflicts + 1));
        if (!c)
                return (void) log_error_errno(-ENOMEM, "Out of memory.");
        m->conflicts = c;
        m->conflicts[m->n_conflicts++] = (Conflict) { .device = TAKE_PTR(dev), .message = TAKE_PTR(msg) };
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        reclaim_abort_all(m);
        bundles_abort_all(m);
        bundles_free_all(m);
        m->call_pending = mfree(m->call_pending);
        api_guard_done(m);
        caller_forget(m);
        instance_drivers_teardown(m);
        network_shutdown(m);
        metrics_free(m);
        m->meter_timer = sd_event_source_disable_unref(m->meter_timer);
        LIST_FOREACH_SAFE(instances, i, n, m->instances) {
                LIST_REMOVE(instances, m->instances, i);
                instance_free(i);
        }
        LIST_FOREACH_SAFE(tenants, t, n, m->tenants) {
                LIST_REMOVE(tenants, m->tenants, t);
                tenant_free(t);
        }
        manager_orphans_clear(m);
        manager_conflicts_clear(m);
        accelerator_array_free(m->accelerators, m->n_accelerators);
        host_info_done(&m->host);
        m->watchdog = sd_event_source_disable_unref(m->watchdog);
        m->bus = sd_bus_flush_close_unref(m->bus);
        m->db = db_close(m->db);
        m->lock_fd = safe_close(m->lock_fd);
        m->event = sd_event_unref(m->event);
        pool_workload_done(&m->workload);
        config_done(&m->config);
        free(m);
        return NULL;
}

char *manager_state_path(Manager *m, const char *sub) {
        return path_join(m->config.state_dir, sub);
}

unsigned manager_count_tenants(Manager *m) {
        unsigned n = 0;
        LIST_FOREACH(tenants, t, m->tenants)
                n++;
        return n;
}

unsigned manager_count_instances(Manager *m) {
        unsigned n = 0;
        LIST_FOREACH(instances, i, m->instances)
                n++;
        return n;
}

const char *manager_domain_type(Manager *m) {
        return config_domain_type(&m->config);
}

/* QEMU runs as a user of its own (libvirt's qemu.conf user= and group=: libvirt-qemu on Debian and
 * Ubuntu, qemu on Fedora, RHEL and SUSE) and opens VM disks, base images and UEFI variable stores
 * by their paths, so it must be able to search (not list) the directories on the way to them.
 * The files themselves libvirt hands to that user while the VM runs (dynamic_ownership, its
 * default); they stay 0600. The serial console logs are written by virtlogd, as root. */
static const char *const qemu_groups[] = { "libvirt-qemu", "qemu" };
static const char *const qemu_dirs[] = { ".", "disks", "images", "nvram" };
/* Search for QEMU's group; for everyone where this host has no such group (or arkd cannot give
 * a directory to it): not listable either way. */
#define STATE_DIR_MODE_QEMU_GROUP 0710
#define STATE_DIR_MODE_QEMU_ANY 0711
/* Directories an admin makes below images/ (tenants/<tenant>/): QEMU passes them as "other",
 * which nobody else reaches, images/ being closed to everyone but QEMU's group. */
#define STATE_DIR_MODE_IMAGES_BELOW 0711

/* Gives a directory QEMU passes through exactly `mode`, and group `gid` unless it is -1. A symbolic
 * link in its place (images/ on a bigger disk) is left alone: its target is not arkd's to change.
 * Returns 0, -EPERM when the group cannot be given (not logged: the caller falls back), or
 * another negative errno (logged). */
static int state_dir_set_qemu(const char *state_dir, int rootfd, const char *name, mode_t mode, gid_t gid) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        if (streq(name, "."))
                fd = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        else
                fd = openat(rootfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && (errno == ELOOP || errno == ENOTDIR) && fstatat(rootfd, name, &st, 0) >= 0 &&
            S_ISDIR(st.st_mode)) {
                log_notice(
                        "'%s/%s' is a symbolic link; arkd leaves the modes of what it points to as they are "
                        "(QEMU must be able to search it).",
                        state_dir, name);
                return 0;
        }
        if (fd < 0 || fstat(fd, &st) < 0)
                return log_error_errno(-errno, "Failed to open '%s/%s': %m", state_dir, name);
        if (gid != (gid_t) -1 && st.st_gid != gid && fchown(fd, (uid_t) -1, gid) < 0)
                return errno == EPERM ? -EPERM
                                      : log_error_errno(-errno, "Failed to give '%s/%s' to group %u: %m",
                                                        state_dir, name, (unsigned) gid);
        if ((st.st_mode & 07777) != mode && fchmod(fd, mode) < 0)
                return log_error_errno(-errno, "Failed to change the mode of '%s/%s' to %04o: %m", state_dir,
                                       name, (unsigned) mode);
        return 0;
}

/* Creates the state directory's layout, each directory closed to other users, and gives the
 * directories QEMU passes through to QEMU's group. Their mode goes to *ret_qemu_mode. Logs. */
static int manager_prepare_state_dir(Manager *m, mode_t *ret_qemu_mode) {
        static const char *const subdirs[] = { "disks", "images", "console", "nvram" };
        const char *dir = m->config.state_dir, *group = NULL;
        _cleanup_free_ char *parent = strdup(dir);
        _cleanup_close_ int fd = -EBADF;
        mode_t mode = STATE_DIR_MODE_QEMU_ANY;
        gid_t gid = (gid_t) -1;
        char *slash;
        int r;

        if (!parent)
                return log_error_errno(-ENOMEM, "Out of memory.");
        /* Directories above it are not state: searchable, as any system directory. */
        while ((slash = strrchr(parent, '/')) && !slash[1] && slash > parent)
                *slash = 0;
        slash = strrchr(parent, '/');
        if (slash && slash > parent) {
                *slash = 0;
                r = mkdir_p_mode(parent, 0755);
                if (r < 0)
                        return log_error_errno(r, "Failed to create '%s': %m", parent);
        }
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return log_error_errno(-errno, "Failed to create the state directory '%s': %m", dir);
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return log_error_errno(-errno, "Failed to open the state directory '%s': %m", dir);
        for (size_t k = 0; k < ELEMENTSOF(subdirs); k++) {
                struct stat st;

                if (mkdirat(fd, subdirs[k], 0700) < 0 && errno != EEXIST)
                        return log_error_errno(-errno, "Failed to create '%s/%s': %m", dir, subdirs[k]);
                /* Something there already: only a directory (or a link to one) will do. */
                if (fstatat(fd, subdirs[k], &st, 0) < 0)
                        return log_error_errno(-errno, "Failed to create '%s/%s': %m", dir, subdirs[k]);
                if (!S_ISDIR(st.st_mode))
                        return log_error_errno(-ENOTDIR, "Failed to create '%s/%s': %m", dir, subdirs[k]);
        }

        for (size_t k = 0; k < ELEMENTSOF(qemu_groups) && !group; k++) {
                const struct group *g = getgrnam(qemu_groups[k]);

                if (g) {
                        group = qemu_groups[k];
                        gid = g->gr_gid;
                        mode = STATE_DIR_MODE_QEMU_GROUP;
                }
        }
        r = 0;
        for (size_t k = 0; k < ELEMENTSOF(qemu_dirs) && r >= 0; k++)
                r = state_dir_set_qemu(dir, fd, qemu_dirs[k], mode, gid);
        if (r == -EPERM) {
                /* Not root (a sandbox, a test): searchable by every user instead. */
                log_debug("Cannot give '%s' to group '%s'; searchable by every user instead.", dir, group);
                group = NULL;
                mode = STATE_DIR_MODE_QEMU_ANY;
                r = 0;
                for (size_t k = 0; k < ELEMENTSOF(qemu_dirs) && r >= 0; k++)
                        r = state_dir_set_qemu(dir, fd, qemu_dirs[k], mode, (gid_t) -1);
        }
        if (r < 0)
                return r;
        log_debug(
                "State directory '%s': it, disks/, images/ and nvram/ are mode %04o%s%s; everything else is "
                "closed to other users.",
                dir, (unsigned) mode,
                group ? ", searchable by QEMU's group "
                      : " (no QEMU group: searchable, not listable, by every user)",
                strempty(group));
        *ret_qemu_mode = mode;
        return 0;
}

typedef struct TightenLog {
        const char *state_dir;
        unsigned n_changed, n_skipped;
        char *example;
} TightenLog;

#define TIGHTEN_SKIPS_LOGGED 10

static void log_tightened(const char *relpath, mode_t old_mode, mode_t new_mode, int error, void *userdata) {
        TightenLog *t = userdata;

        if (error < 0) {
                if (++t->n_skipped <= TIGHTEN_SKIPS_LOGGED)
                        log_warning_errno(
                                error, "Cannot close '%s/%s' (mode %04o) to other users: %m; left as it is.",
                                t->state_dir, relpath, (unsigned) old_mode);
                return;
        }
        if (t->n_changed++ == 0)
                t->example =
                        strprintf("'%s' %04o -> %04o", relpath, (unsigned) old_mode, (unsigned) new_mode);
}

/* An existing state directory (from an arkd before 0700/0600, a restore, a hand-copied image)
 * is closed to other users at every start: every bit beyond what arkd would have created is
 * cleared, nothing is opened up, no link is followed. One summary line; each entry that cannot be
 * fixed is logged (the first few) and skipped. */
static int manager_close_state_dir(Manager *m, mode_t qemu_mode) {
        PermRule rules[ELEMENTSOF(qemu_dirs) + 1];
        TightenLog t = { .state_dir = m->config.state_dir };
        int r;

        for (size_t k = 0; k < ELEMENTSOF(qemu_dirs); k++)
                rules[k] = (PermRule) { .path = qemu_dirs[k], .max = qemu_mode };
        rules[ELEMENTSOF(qemu_dirs)] =
                (PermRule) { .path = "images", .max = STATE_DIR_MODE_IMAGES_BELOW, .dirs_below = true };
        r = perm_tighten_tree(m->config.state_dir, 0700, rules, ELEMENTSOF(rules), log_tightened, &t);
        if (r < 0)
                return log_error_errno(r, "Failed to open the state directory '%s': %m",
                                       m->config.state_dir);
        if (t.n_changed > 0)
                log_notice("Closed %u entr%s of the state directory '%s' to other users (e.g. %s).",
                           t.n_changed, t.n_changed == 1 ? "y" : "ies", m->config.state_dir,
                           strna(t.example));
        if (t.n_skipped > TIGHTEN_SKIPS_LOGGED)
                log_warning("%u more entries of '%s' could not be closed to other users.",
                            t.n_skipped - TIGHTEN_SKIPS_LOGGED, m->config.state_dir);
        free(t.example);
        return 0;
}

static Instance *instance_by_id(Manager *m, int64_t id) {
        LIST_FOREACH(instances, i, m->instances)
                if (i->id == id)
                        return i;
        return NULL;
}

static int load_claim(const char *address, int64_t instance_id, void *userdata) {
        Manager *m = userdata;
        Accelerator *a = manager_find_accelerator(m, address);
        Instance *owner = instance_by_id(m, instance_id);
        int r;

        if (!a || !owner)
                return 0; /* reported by manager_check_claims() */
        r = free_and_strdup(&a->claimed_by, owner->name);
        return r < 0 ? r : free_and_strdup(&a->claimed_by_tenant, owner->tenant);
}

static int check_claim(const char *address, int64_t instance_id, void *userdata) {
        Manager *m = userdata;
        Instance *owner = instance_by_id(m, instance_id);

        if (!manager_find_accelerator(m, address))
                manager_conflict_add(
                        m, address,
                        "the store says accelerator %s is claimed by instance %s, but this host has "
                        "no such accelerator (removed, or moved to another slot?); the claim is kept",
                        address, owner ? owner->name : "(unknown)");
        else if (!owner)
                manager_conflict_add(m, address,
                                     "accelerator %s is claimed by instance id %" PRIi64
                                     ", which the store does "
                                     "not have; the claim is kept",
                                     address, instance_id);
        return 0;
}

int manager_store_error(Manager *m, sd_bus_error *error, int r, const char *format, ...) {
        char what[512];
        va_list ap;

        va_start(ap, format);
        (void) vsnprintf(what, sizeof(what), format, ap);
        va_end(ap);
        if (r == -ETIMEDOUT)
                return sd_bus_error_setf(
                        error, ARK_ERROR_TIMEOUT,
                        "%s: the state database stayed locked by another process for %d s; nothing was "
                        "changed, try again.",
                        what, DB_BUSY_TIMEOUT_MSEC / 1000);
        return sd_bus_error_setf(error, SD_BUS_ERROR_FAILED, "%s: %s.", what, db_errmsg(m->db));
}

int manager_check_claims(Manager *m) {
        int r;

        manager_conflicts_clear(m);
        for (size_t k = 0; k < m->n_accelerators; k++)
                m->accelerators[k].conflict = mfree(m->accelerators[k].conflict);
        r = store_claim_foreach(m->db, check_claim, m);
        if (r < 0)
                return r;

        /* The hardware may have changed under the claims (a card moved to another slot, a firmware
         * update that changed ACS): a claimed GPU whose group now holds another VM's GPU or a
         * device the host needs cannot be passed through as claimed. */
        LIST_FOREACH(instances, i, m->instances)
                for (char **g = i->gpus; g && *g; g++) {
                        Accelerator *a = manager_find_accelerator(m, *g);
                        char why[768], remedy[512];

                        if (!a || a->iommu_group < 0)
                                continue;
                        if (passthrough_check_group(
                                    a, m->accelerators, m->n_accelerators, m->config.management_interface,
                                    i->gpus, why, sizeof(why), remedy, sizeof(remedy)) == PASSTHROUGH_GROUP)
                                manager_conflict_add(m, a->address, "instance '%s' claims it, but %s; %s",
                                                     i->name, why, remedy);
                }
        return 0;
}

/* Every claim is part of its instance's spec, present on this host or not: a VM whose GPU is
 * gone must fail to define with that reason, not start without it. */
static int load_claim_spec(const char *address, int64_t instance_id, void *userdata) {
        Manager *m = userdata;

        LIST_FOREACH(instances, i, m->instances)
                if (i->id == instance_id)
                        return strv_extend(&i->gpus, address);
        return 0;
}

static int load_hold(const char *address, const char *state, const char *reason, uint64_t set_usec,
                     void *userdata) {
        Accelerator *a = manager_find_accelerator(userdata, address);

        if (!a) {
                log_warning("Accelerator %s is %s in the store, but this host has no such accelerator.",
                            address, state);
                return 0;
        }
        if (free_and_strdup(&a->hold, state) < 0 || free_and_strdup(&a->hold_reason, reason) < 0)
                return -ENOMEM;
        return 0;
}

/* A container's MIG instance or share, onto its instance. */
static int load_partition(const StorePartition *rec, void *userdata) {
        Manager *m = userdata;
        Instance *owner = instance_by_id(m, rec->instance_id);
        InstancePartition *p;

        if (!owner)
                return 0; /* the schema's foreign key keeps this from happening */
        p = calloc(1, sizeof(InstancePartition));
        if (!p)
                return -ENOMEM;
        *p = (InstancePartition) {
                .address = strdup(rec->address),
                .mig = streq(rec->kind, "mig"),
                .profile = rec->profile ? mig_profile_from_string(rec->profile) : 0,
                .mig_start = rec->mig_start >= 0 ? (unsigned) rec->mig_start : 0,
                .milli = rec->milli,
                .memory_bytes = rec->memory_bytes,
                .gi_id = rec->gi_id,
                .ci_id = rec->ci_id,
                .uuid = rec->uuid ? strdup(rec->uuid) : NULL,
        };
        if (!p->address || (rec->uuid && !p->uuid) || p->profile < 0) {
                int r = p->profile < 0 ? -EINVAL : -ENOMEM;

                instance_partition_free(p);
                return r;
        }
        instance_partition_free(owner->partition);
        owner->partition = p;
        return 0;
}

int manager_load_claims(Manager *m) {
        int r;

        r = store_partition_foreach(m->db, load_partition, m);
        if (r >= 0)
                r = store_claim_foreach(m->db, load_claim, m);
        if (r >= 0)
                r = store_claim_foreach(m->db, load_claim_spec, m);
        if (r >= 0)
                r = store_hold_foreach(m->db, load_hold, m);
        return r;
}

/* ReservedAccelerators= and VfioAtBoot=: applied at every start, never stored (the file is the
 * source of truth for them). */
static void manager_apply_hardware_config(Manager *m) {
        for (char **addr = m->config.reserved; addr && *addr; addr++) {
                Accelerator *a = manager_find_accelerator(m, *addr);

                if (!a) {
                        log_warning(
                                "ReservedAccelerators= names %s, which is not an accelerator on this host.",
                                *addr);
                        continue;
                }
                if (a->hold) /* the admin's hold (a quarantine, say) says more */
                        continue;
                if (a->claimed_by)
                        log_warning(
                                "ReservedAccelerators= names %s, which instance '%s' claims; it stays with the VM "
                                "until the VM lets it go, and no other VM gets it.",
                                *addr, a->claimed_by);
                if (free_and_strdup(&a->hold, "reserved") < 0 ||
                    free_and_strdup(&a->hold_reason, "ReservedAccelerators= in the configuration") < 0) {
                        (void) log_error_errno(-ENOMEM, "Out of memory.");
                        return;
                }
                a->hold_from_config = true;
        }

        for (char **addr = m->config.vfio_at_boot; addr && *addr; addr++) {
                const char *functions[PASSTHROUGH_FUNCTIONS_MAX];
                Accelerator *a = manager_find_accelerator(m, *addr);
                size_t n;

                if (!a) {
                        log_warning("VfioAtBoot= names %s, which is not an accelerator on this host.",
                                    *addr);
                        continue;
                }
                if (a->hold_from_config) {
                        log_warning(
                                "VfioAtBoot= and ReservedAccelerators= both name %s; it stays with the host "
                                "and is not bound to vfio-pci.",
                                *addr);
                        continue;
                }
                /* Its whole group goes to vfio-pci, or the group cannot be used by VFIO at all; a
                 * group that holds a device the host needs (its NIC) is not touched. */
                {
                        char why[768], remedy[512];

                        if (passthrough_check_group(a, m->accelerators, m->n_accelerators,
                                                    m->config.management_interface, m->config.vfio_at_boot,
                                                    why, sizeof(why), remedy,
                                                    sizeof(remedy)) != PASSTHROUGH_OK) {
                                log_error("VfioAtBoot=: not binding %s to vfio-pci: %s; %s.", a->address,
                                          why, remedy);
                                continue;
                        }
                }
                n = passthrough_functions(a, functions, ELEMENTSOF(functions));
                for (size_t k = 0; k < n; k++) {
                        int r = vfio_bind(m->config.sysfs_root, functions[k]);
                        if (r < 0)
                                log_warning_errno(r, "Failed to bind %s to vfio-pci (VfioAtBoot=): %m",
                                                  functions[k]);
                        else
                                log_info("Bound %s to vfio-pci (VfioAtBoot=).", functions[k]);
                }
        }
}

/* "<uuid><suffix>": the names Ark gives the files it creates per instance. */
static bool stray_name(const char *name, const char *suffix, char uuid[static 37]) {
        size_t l = strlen(name), ls = strlen(suffix);

        if (l != 36 + ls || !streq(name + 36, suffix))
                return false;
        for (size_t k = 0; k < 36; k++) {
                char c = name[k];
                bool dash = k == 8 || k == 13 || k == 18 || k == 23;

                if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
                        return false;
        }
        memcpy(uuid, name, 36);
        uuid[36] = 0;
        return true;
}

void manager_remove_stray_files(Manager *m) {
        static const struct {
                const char *dir, *suffix, *what;
        } kinds[] = {
                { "disks", ".qcow2", "disk" },
                { "nvram", "_VARS.fd", "UEFI variable store" },
        };

        for (size_t k = 0; k < ELEMENTSOF(kinds); k++) {
                _cleanup_free_ char *dir = manager_state_path(m, kinds[k].dir);
                _cleanup_strv_free_ char **names = NULL;

                if (!dir || dir_list_names(dir, &names) < 0)
                        continue;
                for (char **n = names; *n; n++) {
                        _cleanup_free_ char *path = NULL;
                        char uuid[37];
                        bool used = false;

                        if (!stray_name(*n, kinds[k].suffix, uuid))
                                continue; /* not a name Ark gives: not Ark's to remove */
                        used = manager_find_instance_by_uuid(m, uuid) != NULL;
                        for (size_t o = 0; o < m->n_orphans && !used; o++)
                                used = strcasecmp(m->orphans[o].uuid, uuid) ==
                                        0; /* an orphan domain may use it */
                        if (used)
                                continue;
                        path = path_join(dir, *n);
                        if (path && unlink(path) >= 0)
                                log_notice("Removed %s '%s', left by a VM creation that did not complete.",
                                           kinds[k].what, path);
                }
        }
}

void manager_readiness_input(Manager *m, ReadinessInput *ret) {
        *ret = (ReadinessInput) {
                .sysfs_root = m->config.sysfs_root,
                .firmware_code = config_firmware_code(&m->config, m->host.arch),
                .firmware_vars = config_firmware_vars(&m->config, m->host.arch),
                .hugepages = m->config.hugepages,
                .management_interface = m->config.management_interface,
                .host = &m->host,
                .accelerators = m->accelerators,
                .n_accelerators = m->n_accelerators,
        };
}

static int load_member(const char *tenant, const char *kind, uint32_t id, const char *name, void *userdata) {
        Tenant *t = manager_find_tenant(userdata, tenant);

        return t ? tenant_member_push(t, kind, id, name) : 0;
}

static int load_quota(const char *tenant, const Quota *q, void *userdata) {
        Tenant *t = manager_find_tenant(userdata, tenant);

        return t ? tenant_quota_put(t, q) : 0;
}

/* The workload GPU placement measures fragmentation against ([Placement] Workload=): a bad file
 * stops arkd from starting, with the line and field at fault. */
static int manager_load_workload(Manager *m) {
        _cleanup_free_ char *text = NULL, *err = NULL;
        size_t size = 0;
        int r;

        if (!m->config.placement_workload)
                return 0;
        r = read_full_file(m->config.placement_workload, &text, &size);
        if (r < 0)
                return log_error_errno(
                        r, "Failed to read the placement workload '%s' ([Placement] Workload=): %m",
                        m->config.placement_workload);
        r = pool_workload_parse(m->config.placement_workload, text, size, &m->workload, &err);
        if (r == -ENOMEM)
                return log_error_errno(r, "Out of memory.");
        if (r < 0)
                return log_error_errno(r, "Invalid placement workload ([Placement] Workload=): %s.",
                                       strna(err));
        log_debug("Placement: %zu request shapes from '%s'.", m->workload.n_shapes,
                  m->config.placement_workload);
        return 0;
}

int manager_startup(Manager *m) {
        _cleanup_free_ char *p = NULL;
        mode_t qemu_mode = 0;
        int r;

        r = manager_load_workload(m);
        if (r < 0)
                return r;
        r = manager_prepare_state_dir(m, &qemu_mode);
        if (r < 0)
                return r;

        /* Two daemons on one store would each keep their own picture of it and drive the
         * hypervisor apart. The lock goes with the process, so kill -9 never leaves it stale. */
        p = manager_state_path(m, "arkd.lock");
        if (!p)
                return log_error_errno(-ENOMEM, "Out of memory.");
        {
                pid_t holder = 0;

                r = lock_pid_file(p, &holder);
                if (r == -EBUSY && holder > 0)
                        return log_error_errno(r,
                                               "Another arkd (PID %ld) is using the state directory '%s'; "
                                               "stop it first.",
                                               (long) holder, m->config.state_dir);
                if (r == -EBUSY)
                        return log_error_errno(
                                r, "Another arkd is using the state directory '%s'; stop it first.",
                                m->config.state_dir);
                if (r < 0)
                        return log_error_errno(r, "Failed to lock '%s': %m", p);
                m->lock_fd = r;
        }
        r = manager_close_state_dir(m, qemu_mode);
        if (r < 0)
                return r;

        r = store_open(m->config.state_dir, &m->db);
        if (r == -EPROTO)
                return log_error_errno(
                        r,
                        "The store in '%s' was written by a newer arkd (schema newer than %d); "
                        "refusing to touch it.",
                        m->config.state_dir, store_schema_latest());
        if (r < 0)
                return log_error_errno(r, "Failed to open the store in '%s': %m", m->config.state_dir);
        r = tenant_load_all(m);
        if (r >= 0)
                r = store_member_foreach(m->db, load_member, m);
        if (r >= 0)
                r = store_quota_foreach(m->db, load_quota, m);
        if (r >= 0)
                r = instance_load_all(m);
        if (r >= 0)
                r = meter_recover(m);
        if (r < 0)
                return log_error_errno(r, "Failed to load the store: %m (%s)", db_errmsg(m->db));
        r = bundles_startup(m);
        if (r < 0)
                return r;
        log_info("Loaded %u tenant%s and %u instance%s from the store.", manager_count_tenants(m),
                 manager_count_tenants(m) == 1 ? "" : "s", manager_count_instances(m),
                 manager_count_instances(m) == 1 ? "" : "s");

        r = pci_scan_accelerators(m->config.sysfs_root, &m->accelerators, &m->n_accelerators);
        if (r < 0)
                log_warning_errno(r, "Failed to scan PCI devices under '%s': %m", m->config.sysfs_root);
        else
                log_info("Found %zu accelerator%s under '%s'.", m->n_accelerators,
                         m->n_accelerators == 1 ? "" : "s", m->config.sysfs_root);
        m->host.iommu_enabled = pci_iommu_enabled(m->config.sysfs_root);
        for (size_t k = 0; k < m->n_accelerators; k++)
                m->accelerators[k].manager = m;
        r = manager_load_claims(m);
        if (r < 0)
                return log_error_errno(r, "Failed to load accelerator claims from the store: %m (%s)",
                                       db_errmsg(m->db));
        manager_apply_hardware_config(m);
        r = manager_check_claims(m);
        if (r < 0)
                return log_error_errno(r, "Failed to read accelerator claims from the store: %m (%s)",
                                       db_errmsg(m->db));

        r = manager_bus_setup(m);
        if (r < 0)
                return r;

        /* Before the drivers: a VM defined again gets its NICs. */
        r = network_startup(m);
        if (r < 0)
                return r;
        r = instance_drivers_setup(m);
        if (r < 0)
                return r;
        /* Fails only for a metrics token file arkd must not serve with (metrics.h). */
        r = metrics_start(m);
        if (r < 0)
                return r;
        r = meter_start(m);
        if (r < 0)
                return r;
        return manager_bus_request_name(m);
}

/* The OCI runtime configuration of a container (oci-config.h). */

#include <errno.h>
#include <jansson.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "oci-config.h"
#include "shared/cdi.h"

/* Other runtimes' defaults (Docker's and podman's) less what needs root on the host anyway:
 * enough for an image that switches users and binds low ports, nothing that reaches the kernel
 * (CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_SYS_MODULE, CAP_SYS_PTRACE, CAP_SYS_RESOURCE, ...). podman
 * dropped CAP_NET_RAW, CAP_MKNOD and CAP_AUDIT_WRITE from its defaults; so do we. */
const char *const oci_default_capabilities[] = {
        "CAP_CHOWN",   "CAP_DAC_OVERRIDE",     "CAP_FOWNER",     "CAP_FSETID",
        "CAP_KILL",    "CAP_NET_BIND_SERVICE", "CAP_SETFCAP",    "CAP_SETGID",
        "CAP_SETPCAP", "CAP_SETUID",           "CAP_SYS_CHROOT", NULL,
};

/* A deny list, not an allow list: a user namespace already takes away what root would have, and
 * a deny list does not break new, harmless syscalls a newer libc uses. What is denied reaches
 * past the container: the kernel itself (modules, kexec, bpf, perf, io_uring's large attack
 * surface), global state (clocks, swap, reboot, accounting, quotas, the kernel log), keyrings
 * (not namespaced), mounts and pivot_root (the container's tree is crun's to set up), file
 * handles (open_by_handle_at escapes a bind mount) and raw I/O ports. ptrace stays allowed, as in
 * Docker since kernel 4.8: debuggers and profilers need it and it cannot leave the pid
 * namespace. */
const char *const oci_seccomp_denied[] = {
        "acct",
        "add_key",
        "adjtimex",
        "bpf",
        "clock_adjtime",
        "clock_settime",
        "create_module",
        "delete_module",
        "finit_module",
        "fsconfig",
        "fsmount",
        "fsopen",
        "fspick",
        "get_kernel_syms",
        "init_module",
        "io_uring_enter",
        "io_uring_register",
        "io_uring_setup",
        "ioperm",
        "iopl",
        "kexec_file_load",
        "kexec_load",
        "keyctl",
        "lookup_dcookie",
        "mount",
        "mount_setattr",
        "move_mount",
        "name_to_handle_at",
        "nfsservctl",
        "open_by_handle_at",
        "open_tree",
        "perf_event_open",
        "pivot_root",
        "query_module",
        "quotactl",
        "quotactl_fd",
        "reboot",
        "request_key",
        "setdomainname",
        "sethostname",
        "settimeofday",
        "stime",
        "swapoff",
        "swapon",
        "syslog",
        "umount",
        "umount2",
        "uselib",
        "userfaultfd",
        "vm86",
        "vm86old",
        "_sysctl",
        NULL,
};

static const char *const masked_paths[] = {
        "/proc/acpi",
        "/proc/asound",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/proc/sched_debug",
        "/proc/scsi",
        "/sys/firmware",
        "/sys/fs/selinux",
        "/sys/dev/block",
        NULL,
};

/* In a network namespace arkd made (joined, not its own), /sys is the host's (below): its network
 * devices (the host's, other containers' veth ends, the bridges) are none of the container's. */
static const char *const masked_host_net[] = {
        "/sys/class/net",
        "/sys/devices/virtual/net",
        NULL,
};

static const char *const readonly_paths[] = {
        "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
};

/* The nodes crun puts in every container's /dev, and the pts: char major:minor (-1 = any). */
static const struct {
        int major, minor;
} safe_devices[] = {
        { 1, 3 },    /* null */
        { 1, 5 },    /* zero */
        { 1, 7 },    /* full */
        { 1, 8 },    /* random */
        { 1, 9 },    /* urandom */
        { 5, 0 },    /* tty */
        { 5, 2 },    /* ptmx */
        { 136, -1 }, /* pts */
};

/* Drops a half-built value; returns NULL for the caller to return. */
static json_t *json_drop(json_t *j) {
        json_decref(j);
        return NULL;
}

static json_t *strv_to_json(const char *const *l) {
        json_t *a = json_array();

        if (!a)
                return NULL;
        for (; l && *l; l++)
                if (json_array_append_new(a, json_string(*l)) < 0)
                        return json_drop(a);
        return a;
}

static json_t *mount_entry(const char *dst, const char *type, const char *src, const char *const *opts) {
        return json_pack("{s:s, s:s, s:s, s:o}", "destination", dst, "type", type, "source", src, "options",
                         strv_to_json(opts));
}

static int add_mounts(json_t *root, const OciSpec *spec) {
        json_t *m = json_array();

        if (!m || json_object_set_new(root, "mounts", m) < 0)
                return -ENOMEM;
        /* With a user namespace of its own the container may mount sysfs only over a network
         * namespace it owns; over a joined one (created by arkd, owned by the host) it gets a
         * read-only bind of the host's /sys instead, masked as above (its network devices too:
         * masked_host_net). */
        bool own_netns = !spec->netns_path;
        json_t *entries[] = {
                mount_entry("/proc", "proc", "proc",
                            (const char *const[]) { "nosuid", "noexec", "nodev", NULL }),
                mount_entry(
                        "/dev", "tmpfs", "tmpfs",
                        (const char *const[]) { "nosuid", "strictatime", "mode=755", "size=65536k", NULL }),
                mount_entry("/dev/pts", "devpts", "devpts",
                            (const char *const[]) { "nosuid", "noexec", "newinstance", "ptmxmode=0666",
                                                    "mode=0620", NULL }),
                mount_entry("/dev/shm", "tmpfs", "shm",
                            (const char *const[]) { "nosuid", "noexec", "nodev", "mode=1777", "size=65536k",
                                                    NULL }),
                mount_entry("/dev/mqueue", "mqueue", "mqueue",
                            (const char *const[]) { "nosuid", "noexec", "nodev", NULL }),
                own_netns ? mount_entry("/sys", "sysfs", "sysfs",
                                        (const char *const[]) { "nosuid", "noexec", "nodev", "ro", NULL })
                          : mount_entry("/sys", "none", "/sys",
                                        (const char *const[]) { "rbind", "nosuid", "noexec", "nodev", "ro",
                                                                NULL }),
                mount_entry("/sys/fs/cgroup", "cgroup", "cgroup",
                            (const char *const[]) { "nosuid", "noexec", "nodev", "relatime", "ro", NULL }),
        };
        int r = 0;

        for (size_t i = 0; i < ELEMENTSOF(entries); i++)
                if (!entries[i] || json_array_append_new(m, entries[i]) < 0)
                        r = -ENOMEM;
        if (r < 0)
                return r;

        for (size_t i = 0; i < spec->n_mounts; i++) {
                const OciMount *b = &spec->mounts[i];

                if (!b->source || !b->destination || b->source[0] != '/' || b->destination[0] != '/')
                        return -EINVAL;
                const char *opts[6] = { "rbind", "nosuid", "nodev" };
                size_t n = 3;

                if (b->noexec)
                        opts[n++] = "noexec";
                if (b->readonly)
                        opts[n++] = "ro";
                json_t *e = mount_entry(b->destination, "none", b->source, opts);
                if (!e || json_array_append_new(m, e) < 0)
                        return -ENOMEM;
        }
        /* Devices are bind mounts of the host's nodes: inside a user namespace crun cannot mknod. */
        for (size_t i = 0; i < spec->n_devices; i++) {
                const OciDevice *d = &spec->devices[i];
                json_t *e = mount_entry(d->path, "none", d->host_path,
                                        (const char *const[]) { "bind", "nosuid", "noexec", NULL });

                if (!e || json_array_append_new(m, e) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static json_t *device_rule(bool allow, const char *type, int64_t major, int64_t minor, const char *access) {
        json_t *o = json_pack("{s:b, s:s}", "allow", allow, "access", access ?: "rwm");

        if (!o)
                return NULL;
        if (type && json_object_set_new(o, "type", json_string(type)) < 0)
                return json_drop(o);
        if (major >= 0 && json_object_set_new(o, "major", json_integer(major)) < 0)
                return json_drop(o);
        if (minor >= 0 && json_object_set_new(o, "minor", json_integer(minor)) < 0)
                return json_drop(o);
        return o;
}

static json_t *resources(const OciSpec *spec) {
        _cleanup_(json_decrefp) json_t *res = json_object(), *devs = json_array();

        if (!res || !devs)
                return NULL;
        if (json_array_append_new(devs, device_rule(false, NULL, -1, -1, NULL)) < 0)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(safe_devices); i++)
                if (json_array_append_new(
                            devs,
                            device_rule(true, "c", safe_devices[i].major, safe_devices[i].minor, NULL)) < 0)
                        return NULL;
        for (size_t i = 0; i < spec->n_devices; i++) {
                const char t[2] = { spec->devices[i].type, 0 };

                if (json_array_append_new(devs,
                                          device_rule(true, t, spec->devices[i].major,
                                                      spec->devices[i].minor, spec->devices[i].access)) < 0)
                        return NULL;
        }
        if (json_object_set(res, "devices", devs) < 0)
                return NULL;

        if (spec->memory_bytes > 0) {
                json_t *mem = json_pack("{s:I, s:I}", "limit", (json_int_t) spec->memory_bytes, "swap",
                                        (json_int_t) spec->memory_bytes);
                if (!mem || json_object_set_new(res, "memory", mem) < 0)
                        return NULL;
        }
        if (spec->cpu_milli > 0) {
                /* 100 ms periods; at least 1 ms of quota (the kernel's least). */
                const uint64_t period = 100000;
                uint64_t quota = MAX(spec->cpu_milli * period / 1000, (uint64_t) 1000);
                json_t *cpu =
                        json_pack("{s:I, s:I}", "quota", (json_int_t) quota, "period", (json_int_t) period);

                if (!cpu || json_object_set_new(res, "cpu", cpu) < 0)
                        return NULL;
        }
        if (spec->pids_max > 0) {
                json_t *p = json_pack("{s:I}", "limit", (json_int_t) spec->pids_max);
                if (!p || json_object_set_new(res, "pids", p) < 0)
                        return NULL;
        }
        return TAKE_PTR(res);
}

static json_t *seccomp(void) {
        _cleanup_(json_decrefp) json_t *s = NULL, *syscalls = json_array();
        /* x86_64 and arm64 hosts; their 32-bit compat ABIs are listed so that a 32-bit binary does
         * not run unfiltered. */
        static const char *const arches[] = { "SCMP_ARCH_X86_64",  "SCMP_ARCH_X86", "SCMP_ARCH_X32",
                                              "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", NULL };

        if (!syscalls)
                return NULL;
        s = json_pack("{s:s, s:o, s:O}", "defaultAction", "SCMP_ACT_ALLOW", "architectures",
                      strv_to_json(arches), "syscalls", syscalls);
        if (!s)
                return NULL;

        json_t *deny = json_pack("{s:o, s:s, s:i}", "names", strv_to_json(oci_seccomp_denied), "action",
                                 "SCMP_ACT_ERRNO", "errnoRet", EPERM);
        if (!deny || json_array_append_new(syscalls, deny) < 0)
                return NULL;
        /* New user namespaces: unshare(flags) and clone(flags, ...) take the flags in their first
         * argument on x86_64 and arm64. */
        json_t *userns = json_pack("{s:[s,s], s:s, s:i, s:[{s:i, s:I, s:I, s:s}]}", "names", "unshare",
                                   "clone", "action", "SCMP_ACT_ERRNO", "errnoRet", EPERM, "args", "index",
                                   0, "value", (json_int_t) CLONE_NEWUSER, "valueTwo",
                                   (json_int_t) CLONE_NEWUSER, "op", "SCMP_CMP_MASKED_EQ");
        if (!userns || json_array_append_new(syscalls, userns) < 0)
                return NULL;
        json_t *clone3 = json_pack("{s:[s], s:s, s:i}", "names", "clone3", "action", "SCMP_ACT_ERRNO",
                                   "errnoRet", ENOSYS);
        if (!clone3 || json_array_append_new(syscalls, clone3) < 0)
                return NULL;
        return TAKE_PTR(s);
}

static json_t *id_mapping(uint32_t base, uint32_t count) {
        return json_pack("[{s:i, s:I, s:I}]", "containerID", 0, "hostID", (json_int_t) base, "size",
                         (json_int_t) count);
}

int oci_config_build(const OciSpec *spec, json_t **ret) {
        if (!spec || !spec->args || !spec->args[0] || spec->host_uid_base == 0 || spec->host_gid_base == 0 ||
            spec->id_count == 0 || (uint64_t) spec->host_uid_base + spec->id_count > UINT32_MAX ||
            (uint64_t) spec->host_gid_base + spec->id_count > UINT32_MAX || spec->uid >= spec->id_count ||
            spec->gid >= spec->id_count || (spec->cwd && spec->cwd[0] != '/') ||
            (spec->netns_path && spec->netns_path[0] != '/'))
                return -EINVAL;
        for (size_t i = 0; i < spec->n_devices; i++) {
                const OciDevice *d = &spec->devices[i];
                if (!d->host_path || !d->path || d->host_path[0] != '/' || d->path[0] != '/' ||
                    (d->type != 'c' && d->type != 'b') ||
                    (d->access && (!*d->access || strspn(d->access, "rwm") != strlen(d->access))))
                        return -EINVAL;
        }

        _cleanup_(json_decrefp) json_t *env = strv_to_json((const char *const *) spec->env);
        if (!env)
                return -ENOMEM;
        bool has_path = false, has_term = false;
        for (char *const *e = spec->env; e && *e; e++) {
                has_path = has_path || startswith(*e, "PATH=");
                has_term = has_term || startswith(*e, "TERM=");
        }
        if (!has_path &&
            json_array_append_new(
                    env, json_string("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")) <
                    0)
                return -ENOMEM;
        if (!has_term && json_array_append_new(env, json_string("TERM=xterm")) < 0)
                return -ENOMEM;

        json_t *caps = strv_to_json(oci_default_capabilities);
        if (!caps)
                return -ENOMEM;
        _cleanup_(json_decrefp) json_t *process =
                json_pack("{s:b, s:{s:I, s:I}, s:o, s:O, s:s, s:{s:O, s:O, s:O, s:[], s:[]}, s:b}",
                          "terminal", false, "user", "uid", (json_int_t) spec->uid, "gid",
                          (json_int_t) spec->gid, "args", strv_to_json((const char *const *) spec->args),
                          "env", env, "cwd", spec->cwd ?: "/", "capabilities", "bounding", caps, "effective",
                          caps, "permitted", caps, "inheritable", "ambient", "noNewPrivileges", true);
        json_decref(caps);
        if (!process)
                return -ENOMEM;

        _cleanup_(json_decrefp) json_t *ns =
                json_pack("[{s:s}, {s:s}, {s:s}, {s:s}, {s:s}, {s:s}]", "type", "pid", "type", "ipc", "type",
                          "uts", "type", "mount", "type", "user", "type", "cgroup");
        if (!ns)
                return -ENOMEM;
        json_t *net = spec->netns_path ? json_pack("{s:s, s:s}", "type", "network", "path", spec->netns_path)
                                       : json_pack("{s:s}", "type", "network");
        if (!net || json_array_append_new(ns, net) < 0)
                return -ENOMEM;

        json_t *masked = strv_to_json(masked_paths);

        for (const char *const *p = masked_host_net; masked && spec->netns_path && *p; p++)
                if (json_array_append_new(masked, json_string(*p)) < 0)
                        masked = json_drop(masked);
        _cleanup_(json_decrefp) json_t *linux_ = json_pack(
                "{s:O, s:o, s:o, s:o, s:o, s:o, s:o}", "namespaces", ns, "uidMappings",
                id_mapping(spec->host_uid_base, spec->id_count), "gidMappings",
                id_mapping(spec->host_gid_base, spec->id_count), "resources", resources(spec), "seccomp",
                seccomp(), "maskedPaths", masked, "readonlyPaths", strv_to_json(readonly_paths));
        if (!linux_)
                return -ENOMEM;
        if (spec->cgroups_path &&
            json_object_set_new(linux_, "cgroupsPath", json_string(spec->cgroups_path)) < 0)
                return -ENOMEM;

        _cleanup_(json_decrefp) json_t *root =
                json_pack("{s:s, s:O, s:{s:s, s:b}, s:O}", "ociVersion", "1.0.2", "process", process, "root",
                          "path", spec->rootfs ?: "rootfs", "readonly", false, "linux", linux_);
        if (!root)
                return -ENOMEM;
        if (spec->hostname && json_object_set_new(root, "hostname", json_string(spec->hostname)) < 0)
                return -ENOMEM;
        int r = add_mounts(root, spec);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(root);
        return 0;
}

int oci_config_write(const OciSpec *spec, const char *path) {
        _cleanup_(json_decrefp) json_t *c = NULL;
        _cleanup_free_ char *text = NULL;
        int r;

        r = oci_config_build(spec, &c);
        if (r < 0)
                return r;
        text = json_dumps(c, JSON_INDENT(1) | JSON_SORT_KEYS);
        if (!text)
                return -ENOMEM;
        return write_string_file(path, text, WRITE_CREATE | WRITE_ATOMIC);
}

int oci_device_from_node(const char *host_path, const char *path, OciDevice *ret) {
        struct stat st;

        if (stat(host_path, &st) < 0)
                return -errno;
        if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
                return -ENODEV;
        *ret = (OciDevice) {
                .host_path = host_path,
                .path = path,
                .type = S_ISCHR(st.st_mode) ? 'c' : 'b',
                .major = major(st.st_rdev),
                .minor = minor(st.st_rdev),
        };
        return 0;
}

void oci_spec_extra_done(OciSpecExtra *x) {
        if (!x)
                return;
        free(x->devices);
        free(x->mounts);
        free(x->env);
        *x = (OciSpecExtra) {};
}

/* The node n as a device, from a stat() of its host node that must agree with the spec. */
static int cdi_device(const CdiNode *n, OciDevice *ret, char **ret_error) {
        int r = oci_device_from_node(n->host_path, n->path, ret);

        if (r == -ENODEV)
                return set_error_sentence(ret_error, r,
                                          "The CDI device %s's host node %s is no device node.", n->path,
                                          n->host_path);
        if (r < 0)
                return set_error_sentence(ret_error, r, "The CDI device %s's host node %s: %s.", n->path,
                                          n->host_path, strerror(-r));
        if (ret->type != n->type || ret->major != n->major || ret->minor != n->minor)
                return set_error_sentence(
                        ret_error, -ESTALE,
                        "The CDI spec gives %s as %c %u:%u, but its host node %s is %c %u:%u now: the spec is "
                        "stale.",
                        n->path, n->type, n->major, n->minor, n->host_path, ret->type, ret->major,
                        ret->minor);
        ret->access = n->access;
        return 0;
}

static bool env_named(char *const *env, const char *s) {
        size_t l = strcspn(s, "=");

        for (; env && *env; env++)
                if (strncmp(*env, s, l) == 0 && (*env)[l] == '=')
                        return true;
        return false;
}

int oci_spec_add_cdi(OciSpec *spec, const CdiEdits *e, OciSpecExtra *storage, char **ret_error) {
        _cleanup_(oci_spec_extra_done) OciSpecExtra x = {};
        size_t n_devices = 0, n_mounts = 0, n_env = 0;
        int r;

        if (!spec || !e || !storage || storage->devices || storage->mounts || storage->env)
                return -EINVAL;
        x.devices = calloc(spec->n_devices + e->n_nodes + 1, sizeof *x.devices);
        x.mounts = calloc(spec->n_mounts + e->n_mounts + 1, sizeof *x.mounts);
        x.env = calloc(strv_length(spec->env) + strv_length(e->env) + 1, sizeof *x.env);
        if (!x.devices || !x.mounts || !x.env)
                return -ENOMEM;

        /* The spec's own, less what a CDI edit of the same path, destination or name replaces. */
        for (size_t i = 0; i < spec->n_devices; i++) {
                bool replaced = false;

                for (size_t j = 0; j < e->n_nodes && !replaced; j++)
                        replaced = streq(spec->devices[i].path, e->nodes[j].path);
                if (!replaced)
                        x.devices[n_devices++] = spec->devices[i];
        }
        for (size_t i = 0; i < spec->n_mounts; i++) {
                bool replaced = false;

                for (size_t j = 0; j < e->n_mounts && !replaced; j++)
                        replaced = streq(spec->mounts[i].destination, e->mounts[j].container_path);
                if (!replaced)
                        x.mounts[n_mounts++] = spec->mounts[i];
        }
        for (char *const *v = spec->env; v && *v; v++)
                if (!env_named(e->env, *v))
                        x.env[n_env++] = *v;

        for (size_t j = 0; j < e->n_nodes; j++) {
                r = cdi_device(&e->nodes[j], &x.devices[n_devices++], ret_error);
                if (r < 0)
                        return r;
        }
        for (size_t j = 0; j < e->n_mounts; j++)
                x.mounts[n_mounts++] = (OciMount) {
                        .source = e->mounts[j].host_path,
                        .destination = e->mounts[j].container_path,
                        .readonly = e->mounts[j].readonly,
                        .noexec = e->mounts[j].noexec,
                };
        for (char *const *v = e->env; v && *v; v++)
                x.env[n_env++] = *v;

        spec->devices = x.devices;
        spec->n_devices = n_devices;
        spec->mounts = x.mounts;
        spec->n_mounts = n_mounts;
        spec->env = x.env;
        *storage = x;
        x = (OciSpecExtra) {};
        return 0;
}

/* CDI specs: written for Ark's partitions, read back strictly, applied to OCI configs; see cdi.h. */

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "shared/cdi.h"

/* Linux's limits on device numbers (MAJORBITS 12, MINORBITS 20). */
#define CDI_MAJOR_MAX 4095
#define CDI_MINOR_MAX 1048575

/* ---------------------------------------------------------------- names */

static bool name_char(char c, bool dot) {
        return isascii(c) && (isalnum(c) || c == '-' || c == '_' || (dot && c == '.'));
}

/* A device name, or the class part of a kind: alphanumeric at both ends, -_. between. */
static bool cdi_name_valid(const char *s, size_t max) {
        size_t l = s ? strlen(s) : 0;

        if (l == 0 || l > max || !isalnum((unsigned char) s[0]) || !isalnum((unsigned char) s[l - 1]))
                return false;
        for (size_t k = 0; k < l; k++)
                if (!name_char(s[k], true))
                        return false;
        return true;
}

/* "vendor.com/class": the vendor a DNS subdomain (labels of [a-z0-9-], alphanumeric at the ends),
 * the class a name of at most 63 characters. */
static bool cdi_kind_valid(const char *s) {
        const char *slash = s ? strchr(s, '/') : NULL;
        size_t label = 0;

        if (!slash || slash == s || slash - s > 253 || !cdi_name_valid(slash + 1, 63))
                return false;
        for (const char *p = s; p <= slash; p++) {
                if (*p == '.' || p == slash) {
                        if (label == 0 || !isalnum((unsigned char) p[-1]))
                                return false;
                        label = 0;
                        continue;
                }
                if (!(islower((unsigned char) *p) || isdigit((unsigned char) *p) || *p == '-') ||
                    (label == 0 && *p == '-') || ++label > 63)
                        return false;
        }
        return true;
}

/* ---------------------------------------------------------------- building */

static int json_add(json_t *o, const char *key, json_t *v) {
        return v && json_object_set_new(o, key, v) == 0 ? 0 : -ENOMEM;
}

static int array_add(json_t *a, json_t *v) {
        return v && json_array_append_new(a, v) == 0 ? 0 : -ENOMEM;
}

/* The device node dev_root/<rel> as a CDI deviceNode, appended to nodes. A missing node is
 * skipped unless required. */
static int add_node(json_t *nodes, const CdiRoots *roots, const char *rel, bool required, char **ret_error) {
        _cleanup_free_ char *host = path_join(roots->dev, rel), *path = path_join("/dev", rel);
        _cleanup_(json_decrefp) json_t *n = NULL;
        struct stat st;

        if (!host || !path)
                return -ENOMEM;
        if (stat(host, &st) < 0) {
                if (errno == ENOENT && !required)
                        return 0;
                return set_error_sentence(ret_error, -errno, "Device node %s: %s.", host, strerror(errno));
        }
        if (!S_ISCHR(st.st_mode))
                return set_error_sentence(ret_error, -ENODEV, "%s is not a character device.", host);
        n = json_object();
        if (!n || json_add(n, "path", json_string(path)) < 0 ||
            (!streq(host, path) && json_add(n, "hostPath", json_string(host)) < 0) ||
            json_add(n, "type", json_string("c")) < 0 ||
            json_add(n, "major", json_integer(major(st.st_rdev))) < 0 ||
            json_add(n, "minor", json_integer(minor(st.st_rdev))) < 0 ||
            json_add(n, "permissions", json_string("rwm")) < 0)
                return -ENOMEM;
        return array_add(nodes, TAKE_PTR(n));
}

/* The value of the line "KEY: \t VALUE" of the NVIDIA driver's information file of the GPU at
 * `address` (newly allocated, without blanks around it). */
static int nvidia_info(const CdiRoots *roots, const char *address, const char *key, char **ret,
                       char **ret_error) {
        _cleanup_free_ char *p = strprintf("%s/proc/driver/nvidia/gpus/%s/information", roots->proc,
                                           address),
                            *text = NULL;
        const char *line;
        size_t kl = strlen(key);
        int r;

        if (!p)
                return -ENOMEM;
        r = read_full_file(p, &text, NULL);
        if (r < 0)
                return set_error_sentence(ret_error, r, "The NVIDIA driver has no GPU %s (%s: %s).", address,
                                          p, strerror(-r));
        for (line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
                size_t n;

                if (strncmp(line, key, kl) != 0 || line[kl] != ':')
                        continue;
                line += kl + 1;
                line += strspn(line, " \t");
                n = strcspn(line, " \t\n");
                if (n == 0)
                        break;
                *ret = strndup(line, n);
                return *ret ? 0 : -ENOMEM;
        }
        return set_error_sentence(ret_error, -EIO, "%s gives no %s.", p, key);
}

/* "Device Minor: N" of the GPU at `address`, from the NVIDIA driver's information file. */
static int nvidia_minor(const CdiRoots *roots, const char *address, unsigned *ret, char **ret_error) {
        _cleanup_free_ char *v = NULL;
        unsigned u;
        int r;

        r = nvidia_info(roots, address, "Device Minor", &v, ret_error);
        if (r < 0)
                return r;
        if (sscanf(v, "%u", &u) != 1 || u > 255 || strspn(v, "0123456789") != strlen(v))
                return set_error_sentence(ret_error, -EIO, "GPU %s has no valid device minor ('%s').",
                                          address, printable(v));
        *ret = u;
        return 0;
}

int cdi_nvidia_uuid(const CdiRoots *roots, const char *address, char **ret, char **ret_error) {
        _cleanup_free_ char *v = NULL;
        int r;

        r = nvidia_info(roots, address, "GPU UUID", &v, ret_error);
        if (r < 0)
                return r;
        if (!startswith(v, "GPU-") || !cdi_name_valid(v, 128))
                return set_error_sentence(ret_error, -EIO, "GPU %s has no valid UUID ('%s').", address,
                                          printable(v));
        *ret = TAKE_PTR(v);
        return 0;
}

/* The nvidia-caps minor of "gpuN/giG/access" (ci < 0) or "gpuN/giG/ciC/access". */
static int caps_minor(const CdiRoots *roots, unsigned gpu, unsigned gi, int ci, unsigned *ret,
                      char **ret_error) {
        _cleanup_free_ char *p = strprintf("%s/proc/driver/nvidia-caps/mig-minors", roots->proc),
                            *text = NULL, *want = NULL;
        char *save = NULL;
        int r;

        if (!p)
                return -ENOMEM;
        want = ci < 0 ? strprintf("gpu%u/gi%u/access", gpu, gi)
                      : strprintf("gpu%u/gi%u/ci%d/access", gpu, gi, ci);
        if (!want)
                return -ENOMEM;
        r = read_full_file(p, &text, NULL);
        if (r < 0)
                return set_error_sentence(ret_error, r,
                                          "The NVIDIA driver's MIG capabilities are missing (%s: %s).", p,
                                          strerror(-r));
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char name[64];
                unsigned v;

                if (sscanf(line, "%63s %u", name, &v) == 2 && streq(name, want)) {
                        *ret = v;
                        return 0;
                }
        }
        return set_error_sentence(ret_error, -ENOENT, "%s has no %s.", p, want);
}

static int add_env(json_t *edits, const char *name, const char *value) {
        json_t *env = json_object_get(edits, "env");
        _cleanup_free_ char *s = strprintf("%s=%s", name, value);

        if (!s)
                return -ENOMEM;
        if (!env) {
                env = json_array();
                if (json_add(edits, "env", env) < 0)
                        return -ENOMEM;
        }
        return array_add(env, json_string(s));
}

static int add_mount(json_t *edits, const char *host, const char *container) {
        json_t *mounts = json_object_get(edits, "mounts");
        json_t *m = json_pack("{s:s, s:s, s:s, s:[s, s, s, s]}", "hostPath", host, "containerPath",
                              container, "type", "bind", "options", "bind", "nosuid", "nodev", "noexec");

        if (!m)
                return -ENOMEM;
        if (!mounts) {
                mounts = json_array();
                if (json_add(edits, "mounts", mounts) < 0) {
                        json_decref(m);
                        return -ENOMEM;
                }
        }
        return array_add(mounts, m);
}

static const char *const nvidia_shared_nodes[] = { "nvidiactl", "nvidia-uvm", "nvidia-uvm-tools",
                                                   "nvidia-modeset" };
static const char *const ascend_shared_nodes[] = { "davinci_manager", "devmm_svm", "hisi_hdc" };

static int check_partition(const CdiPartition *p, size_t index, char **ret_error) {
        bool nvidia = p->type != CDI_ASCEND_NPU;

        if (p->type < 0 || p->type >= _CDI_PARTITION_TYPE_MAX)
                return set_error_sentence(ret_error, -EINVAL, "Partition %zu has no valid type.", index);
        if (!cdi_name_valid(p->name, 253))
                return set_error_sentence(ret_error, -EINVAL,
                                          "Partition %zu's name '%s' is no CDI device name.", index,
                                          printable(strempty(p->name)));
        if (nvidia && (isempty(p->address) || strchr(p->address, '/') || streq(p->address, "..")))
                return set_error_sentence(ret_error, -EINVAL, "Partition '%s' has no PCI address.", p->name);
        if (nvidia && !startswith(strempty(p->uuid), p->type == CDI_NVIDIA_MIG ? "MIG-" : "GPU-"))
                return set_error_sentence(ret_error, -EINVAL, "Partition '%s' has no %s UUID.", p->name,
                                          p->type == CDI_NVIDIA_MIG ? "MIG-" : "GPU-");
        if (p->type == CDI_NVIDIA_SHARE &&
            (!p->mps_pipe_dir || !path_is_normalized_absolute(p->mps_pipe_dir) || !p->mps_shm_dir ||
             !path_is_normalized_absolute(p->mps_shm_dir)))
                return set_error_sentence(ret_error, -EINVAL,
                                          "Share '%s' needs the absolute MPS pipe and shm directories.",
                                          p->name);
        return 0;
}

static int build_device(const CdiPartition *p, const CdiRoots *roots, json_t **ret, char **ret_error) {
        _cleanup_(json_decrefp) json_t *d = json_object(), *edits = json_object(), *nodes = json_array();
        unsigned gpu_minor = 0, m = 0;
        int r;

        if (!d || !edits || !nodes)
                return -ENOMEM;
        if (p->type == CDI_ASCEND_NPU) {
                _cleanup_free_ char *node = strprintf("davinci%u", p->npu), *index = strprintf("%u", p->npu);

                if (!node || !index)
                        return -ENOMEM;
                r = add_node(nodes, roots, node, true, ret_error);
                if (r >= 0)
                        r = add_env(edits, "ASCEND_VISIBLE_DEVICES", index);
        } else {
                _cleanup_free_ char *node = NULL;

                r = nvidia_minor(roots, p->address, &gpu_minor, ret_error);
                if (r < 0)
                        return r;
                node = strprintf("nvidia%u", gpu_minor);
                if (!node)
                        return -ENOMEM;
                r = add_node(nodes, roots, node, true, ret_error);
                /* A MIG instance is reached through its GPU's node and the access files of its GPU
                 * and compute instances, which the driver checks when CUDA opens the instance. */
                for (int ci = -1; r >= 0 && p->type == CDI_NVIDIA_MIG && ci <= 0; ci++) {
                        _cleanup_free_ char *cap = NULL;

                        r = caps_minor(roots, gpu_minor, p->gi, ci < 0 ? -1 : (int) p->ci, &m, ret_error);
                        if (r < 0)
                                break;
                        cap = strprintf("nvidia-caps/nvidia-cap%u", m);
                        r = cap ? add_node(nodes, roots, cap, true, ret_error) : -ENOMEM;
                }
                if (r >= 0)
                        r = add_env(edits, "NVIDIA_VISIBLE_DEVICES", p->uuid);
                /* A share is a client of the GPU's MPS server: its pipes and its shared memory. The
                 * limits are the control daemon's, not set here (docs/gpu-sharing.md). */
                if (r >= 0 && p->type == CDI_NVIDIA_SHARE) {
                        r = add_env(edits, "CUDA_MPS_PIPE_DIRECTORY", CDI_MPS_PIPE_DIR);
                        if (r >= 0)
                                r = add_mount(edits, p->mps_pipe_dir, CDI_MPS_PIPE_DIR);
                        if (r >= 0)
                                r = add_mount(edits, p->mps_shm_dir, "/dev/shm");
                }
        }
        if (r < 0)
                return r;
        if (json_add(edits, "deviceNodes", TAKE_PTR(nodes)) < 0 ||
            json_add(d, "name", json_string(p->name)) < 0 ||
            json_add(d, "containerEdits", TAKE_PTR(edits)) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(d);
        return 0;
}

int cdi_spec_build(const CdiPartition *parts, size_t n, const CdiRoots *roots, json_t **ret,
                   char **ret_error) {
        _cleanup_(json_decrefp) json_t *spec = NULL, *devices = NULL, *shared = NULL;
        bool ascend;
        int r;

        if (n == 0)
                return set_error_sentence(ret_error, -EINVAL, "A CDI spec needs at least one device.");
        if (!roots || isempty(roots->dev) || isempty(roots->proc))
                return set_error_sentence(ret_error, -EINVAL, "No device or proc root given.");
        ascend = parts[0].type == CDI_ASCEND_NPU;
        devices = json_array();
        if (!devices)
                return -ENOMEM;
        for (size_t k = 0; k < n; k++) {
                json_t *d = NULL;

                r = check_partition(&parts[k], k, ret_error);
                if (r < 0)
                        return r;
                if ((parts[k].type == CDI_ASCEND_NPU) != ascend)
                        return set_error_sentence(
                                ret_error, -EINVAL,
                                "Partition '%s' is of another vendor than '%s': one spec per kind.",
                                parts[k].name, parts[0].name);
                for (size_t j = 0; j < k; j++)
                        if (streq(parts[j].name, parts[k].name))
                                return set_error_sentence(ret_error, -EINVAL,
                                                          "Two partitions are named '%s'.", parts[k].name);
                r = build_device(&parts[k], roots, &d, ret_error);
                if (r < 0)
                        return r;
                if (array_add(devices, d) < 0)
                        return -ENOMEM;
        }
        /* The driver's nodes every device of the vendor needs, once, in the spec's own edits (applied
         * whenever any of its devices is). */
        shared = json_array();
        if (!shared)
                return -ENOMEM;
        for (size_t k = 0; k < (ascend ? ELEMENTSOF(ascend_shared_nodes) : ELEMENTSOF(nvidia_shared_nodes));
             k++) {
                r = add_node(shared, roots, ascend ? ascend_shared_nodes[k] : nvidia_shared_nodes[k], k == 0,
                             ret_error);
                if (r < 0)
                        return r;
        }
        spec = json_object();
        if (!spec || json_add(spec, "cdiVersion", json_string(CDI_VERSION)) < 0 ||
            json_add(spec, "kind", json_string(ascend ? CDI_KIND_ASCEND : CDI_KIND_NVIDIA)) < 0 ||
            json_add(spec, "containerEdits", json_pack("{s:o}", "deviceNodes", TAKE_PTR(shared))) < 0 ||
            json_add(spec, "devices", TAKE_PTR(devices)) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(spec);
        return 0;
}

int cdi_spec_write(const json_t *spec, const char *path) {
        _cleanup_free_ char *text = json_dumps(spec, JSON_INDENT(2));

        if (!text)
                return -ENOMEM;
        return write_string_file(path, text, WRITE_CREATE | WRITE_ATOMIC | WRITE_NEWLINE);
}

/* ---------------------------------------------------------------- validation */

static const char *const known_versions[] = { "0.3.0", "0.4.0", "0.5.0", "0.6.0",
                                              "0.7.0", "0.8.0", "1.0.0", "1.1.0" };

/* A string without NUL bytes (JSON can carry \u0000). */
static const char *plain_string(const json_t *v) {
        return json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v)
                ? json_string_value(v)
                : NULL;
}

static int only_keys(const json_t *o, const char *where, const char *const *keys, size_t n,
                     char **ret_error) {
        const char *key;
        json_t *v;

        json_object_foreach((json_t *) o, key, v) {
                bool known = false;

                for (size_t k = 0; k < n && !known; k++)
                        known = streq(key, keys[k]);
                if (!known)
                        return set_error_sentence(ret_error, -EINVAL,
                                                  "The CDI spec's %s has an unknown field '%s'.", where,
                                                  printable(key));
        }
        return 0;
}

static int check_annotations(const json_t *a, const char *where, char **ret_error) {
        const char *key;
        json_t *v;

        if (!json_is_object(a))
                return set_error_sentence(ret_error, -EINVAL,
                                          "The CDI spec's %s.annotations must be an object.", where);
        json_object_foreach((json_t *) a, key, v)
                if (!plain_string(v))
                        return set_error_sentence(ret_error, -EINVAL,
                                                  "The CDI spec's %s.annotations.%s must be a string.",
                                                  where, printable(key));
        return 0;
}

static int check_uint(const json_t *o, const char *key, const char *where, json_int_t max, bool required,
                      char **ret_error) {
        json_t *v = json_object_get(o, key);

        if (!v && !required)
                return 0;
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max)
                return set_error_sentence(ret_error, -EINVAL,
                                          "The CDI spec's %s.%s must be an integer from 0 to %lld.", where,
                                          key, (long long) max);
        return 0;
}

static int check_path(const json_t *o, const char *key, const char *where, bool required, char **ret_error) {
        json_t *v = json_object_get(o, key);
        const char *s = plain_string(v);

        if (!v && !required)
                return 0;
        if (!s || !path_is_normalized_absolute(s))
                return set_error_sentence(
                        ret_error, -EINVAL,
                        "The CDI spec's %s.%s must be an absolute path without '.' or '..'.", where, key);
        return 0;
}

static int check_node(const json_t *n, const char *where, char **ret_error) {
        static const char *const keys[] = { "path",     "hostPath",    "type", "major", "minor",
                                            "fileMode", "permissions", "uid",  "gid" };
        const char *type, *perm;
        int r;

        if (!json_is_object(n))
                return set_error_sentence(ret_error, -EINVAL, "The CDI spec's %s must be an object.", where);
        r = only_keys(n, where, keys, ELEMENTSOF(keys), ret_error);
        if (r < 0)
                return r;
        if ((r = check_path(n, "path", where, true, ret_error)) < 0 ||
            (r = check_path(n, "hostPath", where, false, ret_error)) < 0)
                return r;
        if (!startswith(json_string_value(json_object_get(n, "path")), "/dev/"))
                return set_error_sentence(ret_error, -EINVAL, "The CDI spec's %s.path must lie under /dev.",
                                          where);
        /* Ark wants the numbers in the spec: looking them up when applying would race with the node. */
        type = plain_string(json_object_get(n, "type"));
        if (!type || !(streq(type, "c") || streq(type, "b")))
                return set_error_sentence(ret_error, -EINVAL,
                                          "The CDI spec's %s.type must be \"c\" or \"b\".", where);
        if ((r = check_uint(n, "major", where, CDI_MAJOR_MAX, true, ret_error)) < 0 ||
            (r = check_uint(n, "minor", where, CDI_MINOR_MAX, true, ret_error)) < 0 ||
            (r = check_uint(n, "fileMode", where, 07777, false, ret_error)) < 0 ||
            (r = check_uint(n, "uid", where, UINT32_MAX - 1, false, ret_error)) < 0 ||
            (r = check_uint(n, "gid", where, UINT32_MAX - 1, false, ret_error)) < 0)
                return r;
        if (json_object_get(n, "permissions")) {
                perm = plain_string(json_object_get(n, "permissions"));
                if (!perm || !*perm || strlen(perm) > 3 || strspn(perm, "rwm") != strlen(perm) ||
                    (strchr(perm, 'r') != strrchr(perm, 'r')) || (strchr(perm, 'w') != strrchr(perm, 'w')) ||
                    (strchr(perm, 'm') != strrchr(perm, 'm')))
                        return set_error_sentence(
                                ret_error, -EINVAL,
                                "The CDI spec's %s.permissions must be some of \"rwm\", each once.", where);
        }
        return 0;
}

static const char *const mount_options[] = {
        "ro", "rw", "bind", "rbind", "nosuid", "nodev", "noexec", NULL
};

static bool mount_has_option(const json_t *m, const char *option) {
        json_t *v;
        size_t k;

        json_array_foreach(json_object_get(m, "options"), k, v)
                if (streq_ptr(json_string_value(v), option))
                        return true;
        return false;
}

static int check_mount(const json_t *m, const char *where, char **ret_error) {
        static const char *const keys[] = { "hostPath", "containerPath", "type", "options" };
        json_t *options = json_object_get(m, "options"), *v;
        size_t k;
        int r;

        if (!json_is_object(m))
                return set_error_sentence(ret_error, -EINVAL, "The CDI spec's %s must be an object.", where);
        if ((r = only_keys(m, where, keys, ELEMENTSOF(keys), ret_error)) < 0 ||
            (r = check_path(m, "hostPath", where, true, ret_error)) < 0 ||
            (r = check_path(m, "containerPath", where, true, ret_error)) < 0)
                return r;
        /* A mount is a bind of a host path, nothing more: no other filesystem type, and no option
         * that would change propagation, ownership or what the mount means (cdi_edits_collect()'s
         * callers know only read-only and noexec). */
        if (json_object_get(m, "type") && !streq(strempty(plain_string(json_object_get(m, "type"))), "bind"))
                return set_error_sentence(ret_error, -EINVAL, "The CDI spec's %s.type must be \"bind\".",
                                          where);
        if (options && !json_is_array(options))
                return set_error_sentence(ret_error, -EINVAL, "The CDI spec's %s.options must be an array.",
                                          where);
        json_array_foreach(options, k, v) {
                const char *o = plain_string(v);

                if (isempty(o))
                        return set_error_sentence(ret_error, -EINVAL,
                                                  "The CDI spec's %s.options[%zu] must be a string.", where,
                                                  k);
                if (!strv_contains((char **) mount_options, o))
                        return set_error_sentence(
                                ret_error, -EINVAL,
                                "The CDI spec's %s.options[%zu] '%s' is refused: Ark allows ro, rw, bind, "
                                "rbind, nosuid, nodev and noexec.",
                                where, k, printable(o));
                if (streq(o, "ro") ? mount_has_option(m, "rw") : streq(o, "rw") && mount_has_option(m, "ro"))
                        return set_error_sentence(ret_error, -EINVAL,
                                                  "The CDI spec's %s.options has both ro and rw.", where);
        }
        return 0;
}

static bool env_valid(const char *s) {
        const char *eq = s ? strchr(s, '=') : NULL;

        if (!eq || eq == s || isdigit((unsigned char) s[0]))
                return false;
        for (const char *p = s; p < eq; p++)
                if (!isascii(*p) || !(isalnum((unsigned char) *p) || *p == '_'))
                        return false;
        return true;
}

static int check_edits(const json_t *e, const char *where, char **ret_error) {
        static const char *const keys[] = { "env", "deviceNodes", "mounts" };
        static const char *const refused[] = { "hooks", "intelRdt", "additionalGids", "netDevices" };
        json_t *v;
        size_t k;
        int r;

        if (!json_is_object(e))
                return set_error_sentence(ret_error, -EINVAL, "The CDI spec's %s must be an object.", where);
        for (k = 0; k < ELEMENTSOF(refused); k++)
                if (json_object_get(e, refused[k]))
                        return set_error_sentence(
                                ret_error, -EINVAL,
                                "The CDI spec's %s.%s is refused: Ark applies device nodes, mounts and "
                                "environment only.",
                                where, refused[k]);
        r = only_keys(e, where, keys, ELEMENTSOF(keys), ret_error);
        if (r < 0)
                return r;
        for (k = 0; k < ELEMENTSOF(keys); k++) {
                json_t *a = json_object_get(e, keys[k]);
                if (a && !json_is_array(a))
                        return set_error_sentence(ret_error, -EINVAL,
                                                  "The CDI spec's %s.%s must be an array.", where, keys[k]);
        }
        json_array_foreach(json_object_get(e, "env"), k, v)
                if (!env_valid(plain_string(v)))
                        return set_error_sentence(ret_error, -EINVAL,
                                                  "The CDI spec's %s.env[%zu] must be a string NAME=value.",
                                                  where, k);
        json_array_foreach(json_object_get(e, "deviceNodes"), k, v) {
                _cleanup_free_ char *w = strprintf("%s.deviceNodes[%zu]", where, k);

                if (!w)
                        return -ENOMEM;
                r = check_node(v, w, ret_error);
                if (r < 0)
                        return r;
        }
        json_array_foreach(json_object_get(e, "mounts"), k, v) {
                _cleanup_free_ char *w = strprintf("%s.mounts[%zu]", where, k);

                if (!w)
                        return -ENOMEM;
                r = check_mount(v, w, ret_error);
                if (r < 0)
                        return r;
        }
        return 0;
}

int cdi_spec_validate(const json_t *spec, char **ret_error) {
        static const char *const keys[] = { "cdiVersion", "kind", "annotations", "devices",
                                            "containerEdits" };
        static const char *const device_keys[] = { "name", "annotations", "containerEdits" };
        const char *version, *kind;
        json_t *devices, *d;
        size_t k;
        int r;

        if (!json_is_object(spec))
                return set_error_sentence(ret_error, -EINVAL, "A CDI spec must be a JSON object.");
        r = only_keys(spec, "top level", keys, ELEMENTSOF(keys), ret_error);
        if (r < 0)
                return r;
        version = plain_string(json_object_get(spec, "cdiVersion"));
        if (!version)
                return set_error_sentence(ret_error, -EINVAL, "The CDI spec lacks 'cdiVersion'.");
        r = -EINVAL;
        for (k = 0; k < ELEMENTSOF(known_versions) && r < 0; k++)
                if (streq(version, known_versions[k]))
                        r = 0;
        if (r < 0)
                return set_error_sentence(ret_error, -EINVAL,
                                          "The CDI spec's cdiVersion '%s' is not a CDI version.",
                                          printable(version));
        kind = plain_string(json_object_get(spec, "kind"));
        if (!cdi_kind_valid(kind))
                return set_error_sentence(ret_error, -EINVAL,
                                          "The CDI spec's kind '%s' is not vendor.com/class.",
                                          printable(strempty(kind)));
        if (json_object_get(spec, "annotations") &&
            (r = check_annotations(json_object_get(spec, "annotations"), "top level", ret_error)) < 0)
                return r;
        if (json_object_get(spec, "containerEdits") &&
            (r = check_edits(json_object_get(spec, "containerEdits"), "containerEdits", ret_error)) < 0)
                return r;
        devices = json_object_get(spec, "devices");
        if (!json_is_array(devices) || json_array_size(devices) == 0)
                return set_error_sentence(ret_error, -EINVAL,
                                          "The CDI spec's devices must be an array of at least one device.");
        json_array_foreach(devices, k, d) {
                _cleanup_free_ char *where = strprintf("devices[%zu]", k),
                                    *edits = strprintf("devices[%zu].containerEdits", k);
                const char *name;

                if (!where || !edits)
                        return -ENOMEM;
                if (!json_is_object(d))
                        return set_error_sentence(ret_error, -EINVAL, "The CDI spec's %s must be an object.",
                                                  where);
                if ((r = only_keys(d, where, device_keys, ELEMENTSOF(device_keys), ret_error)) < 0)
                        return r;
                name = plain_string(json_object_get(d, "name"));
                if (!cdi_name_valid(name, 253))
                        return set_error_sentence(ret_error, -EINVAL,
                                                  "The CDI spec's %s.name '%s' is no device name.", where,
                                                  printable(strempty(name)));
                for (size_t j = 0; j < k; j++)
                        if (streq(name,
                                  json_string_value(json_object_get(json_array_get(devices, j), "name"))))
                                return set_error_sentence(
                                        ret_error, -EINVAL,
                                        "The CDI spec's %s.name '%s' repeats devices[%zu].", where, name, j);
                if (json_object_get(d, "annotations") &&
                    (r = check_annotations(json_object_get(d, "annotations"), where, ret_error)) < 0)
                        return r;
                if (json_object_get(d, "containerEdits") &&
                    (r = check_edits(json_object_get(d, "containerEdits"), edits, ret_error)) < 0)
                        return r;
        }
        return 0;
}

int cdi_spec_parse(const char *data, size_t size, json_t **ret, char **ret_error) {
        _cleanup_(json_decrefp) json_t *spec = NULL;
        json_error_t e;
        int r;

        if (size > CDI_SPEC_MAX_BYTES)
                return set_error_sentence(ret_error, -E2BIG, "The CDI spec is larger than %d bytes.",
                                          CDI_SPEC_MAX_BYTES);
        spec = json_loadb(data, size, JSON_REJECT_DUPLICATES, &e);
        if (!spec)
                return set_error_sentence(ret_error, -EINVAL,
                                          "The CDI spec is not JSON: %s (line %d, column %d).",
                                          printable(e.text), e.line, e.column);
        r = cdi_spec_validate(spec, ret_error);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(spec);
        return 0;
}

int cdi_spec_load(const char *path, json_t **ret, char **ret_error) {
        _cleanup_free_ char *text = NULL;
        size_t size;
        int r = read_full_file(path, &text, &size);

        if (r < 0)
                return set_error_sentence(ret_error, r, "Cannot read CDI spec %s: %s.", path, strerror(-r));
        return cdi_spec_parse(text, size, ret, ret_error);
}

/* ---------------------------------------------------------------- applying */

/* o[key] as a JSON value of the wanted type, made when missing; NULL when it has another type. */
static json_t *member(json_t *o, const char *key, bool array) {
        json_t *v = json_object_get(o, key);

        if (!v) {
                v = array ? json_array() : json_object();
                if (!v || json_object_set_new(o, key, v) < 0)
                        return NULL;
        }
        return (array ? json_is_array(v) : json_is_object(v)) ? v : NULL;
}

/* Removes the entries of array a that are objects whose `key` equals s (or, key NULL, strings
 * starting with s). */
static void remove_matching(json_t *a, const char *key, const char *s) {
        for (size_t k = json_array_size(a); k > 0; k--) {
                json_t *v = json_array_get(a, k - 1);
                const char *t = key ? json_string_value(json_object_get(v, key)) : json_string_value(v);

                if (t && (key ? streq(t, s) : startswith(t, s) != NULL))
                        json_array_remove(a, k - 1);
        }
}

/* Appends v (taken) to array a after removing the entries that `key` of v matches as above: for
 * a string "NAME=value" (key NULL) the variables named NAME. */
static int replace_add(json_t *a, const char *key, json_t *v) {
        _cleanup_free_ char *prefix = NULL;
        const char *s;

        if (!v)
                return -ENOMEM;
        if (key)
                s = json_string_value(json_object_get(v, key));
        else {
                s = json_string_value(v);
                s = prefix = strndup(s, strchr(s, '=') - s + 1);
        }
        if (!s) {
                json_decref(v);
                return -ENOMEM;
        }
        remove_matching(a, key, s);
        return array_add(a, v);
}

/* Variables that name devices: when several devices of one apply set them, their values are
 * joined with ',' ("GPU-a,GPU-b"), replacing what the image had. */
static const char *const list_variables[] = { "NVIDIA_VISIBLE_DEVICES=", "ASCEND_VISIBLE_DEVICES=" };

/* Adds "NAME=value" s to env: a list variable joined to the one env has, any other replacing it. */
static int merge_env(json_t *env, const char *s) {
        for (size_t j = 0; j < ELEMENTSOF(list_variables); j++) {
                const char *value = startswith(s, list_variables[j]);
                size_t k;
                json_t *v;

                if (!value)
                        continue;
                json_array_foreach(env, k, v) {
                        const char *old = startswith(json_string_value(v), list_variables[j]);
                        _cleanup_free_ char *joined = NULL;

                        if (!old)
                                continue;
                        joined = strprintf("%s%s%s%s", list_variables[j], old, *old ? "," : "", value);
                        return joined && json_array_set_new(env, k, json_string(joined)) == 0 ? 0 : -ENOMEM;
                }
        }
        return replace_add(env, NULL, json_string(s));
}

/* Merges one containerEdits object into `merged` (one of the same shape, with all three arrays):
 * the one place where later edits replace or join earlier ones. */
static int merge_edits(json_t *merged, const json_t *edits) {
        json_t *v;
        size_t k;
        int r;

        json_array_foreach(json_object_get(edits, "env"), k, v)
                if ((r = merge_env(json_object_get(merged, "env"), json_string_value(v))) < 0)
                        return r;
        json_array_foreach(json_object_get(edits, "deviceNodes"), k, v)
                if ((r = replace_add(json_object_get(merged, "deviceNodes"), "path", json_deep_copy(v))) < 0)
                        return r;
        json_array_foreach(json_object_get(edits, "mounts"), k, v)
                if ((r = replace_add(json_object_get(merged, "mounts"), "containerPath",
                                     json_deep_copy(v))) < 0)
                        return r;
        return 0;
}

static const json_t *device_by_name(const json_t *spec, const char *name) {
        json_t *d;
        size_t k;

        json_array_foreach(json_object_get(spec, "devices"), k, d)
                if (streq(json_string_value(json_object_get(d, "name")), name))
                        return d;
        return NULL;
}

/* The spec's own edits and the named devices' merged into one containerEdits object with env,
 * deviceNodes and mounts arrays (empty without names). */
static int edits_merged(const json_t *spec, const char *const *names, json_t **ret, char **ret_error) {
        _cleanup_(json_decrefp) json_t *merged = NULL;
        int r;

        r = cdi_spec_validate(spec, ret_error);
        if (r < 0)
                return r;
        /* Every name first: nothing is merged for a device that is not there. */
        for (const char *const *n = names; n && *n; n++)
                if (!device_by_name(spec, *n))
                        return set_error_sentence(
                                ret_error, -ENOENT, "The CDI spec of %s has no device '%s'.",
                                json_string_value(json_object_get(spec, "kind")), printable(*n));
        merged = json_pack("{s:[], s:[], s:[]}", "env", "deviceNodes", "mounts");
        if (!merged)
                return -ENOMEM;
        if (names && *names) {
                r = merge_edits(merged, json_object_get(spec, "containerEdits"));
                for (const char *const *n = names; r >= 0 && *n; n++)
                        r = merge_edits(merged, json_object_get(device_by_name(spec, *n), "containerEdits"));
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(merged);
        return 0;
}

void cdi_edits_done(CdiEdits *e) {
        if (!e)
                return;
        strv_free(e->env);
        for (size_t k = 0; k < e->n_nodes; k++) {
                free(e->nodes[k].path);
                free(e->nodes[k].host_path);
        }
        free(e->nodes);
        for (size_t k = 0; k < e->n_mounts; k++) {
                free(e->mounts[k].host_path);
                free(e->mounts[k].container_path);
        }
        free(e->mounts);
        *e = (CdiEdits) {};
}

int cdi_edits_collect(const json_t *spec, const char *const *names, CdiEdits *ret, char **ret_error) {
        _cleanup_(json_decrefp) json_t *merged = NULL;
        _cleanup_(cdi_edits_done) CdiEdits e = {};
        json_t *nodes, *mounts, *v;
        size_t k;
        int r;

        r = edits_merged(spec, names, &merged, ret_error);
        if (r < 0)
                return r;
        json_array_foreach(json_object_get(merged, "env"), k, v)
                if (strv_extend(&e.env, json_string_value(v)) < 0)
                        return -ENOMEM;
        nodes = json_object_get(merged, "deviceNodes");
        mounts = json_object_get(merged, "mounts");
        e.nodes = calloc(json_array_size(nodes) + 1, sizeof *e.nodes);
        e.mounts = calloc(json_array_size(mounts) + 1, sizeof *e.mounts);
        if (!e.nodes || !e.mounts)
                return -ENOMEM;
        json_array_foreach(nodes, k, v) {
                const char *path = json_string_value(json_object_get(v, "path"));
                const char *perm = json_string_value(json_object_get(v, "permissions"));
                CdiNode *n = &e.nodes[e.n_nodes++];

                /* Validated: an absolute path, type "c" or "b", numbers in range, permissions of rwm. */
                n->path = strdup(path);
                n->host_path = strdup(json_string_value(json_object_get(v, "hostPath")) ?: path);
                n->type = json_string_value(json_object_get(v, "type"))[0];
                n->major = (unsigned) json_integer_value(json_object_get(v, "major"));
                n->minor = (unsigned) json_integer_value(json_object_get(v, "minor"));
                snprintf(n->access, sizeof n->access, "%s", perm ?: "rwm");
                if (!n->path || !n->host_path)
                        return -ENOMEM;
        }
        json_array_foreach(mounts, k, v) {
                CdiMount *m = &e.mounts[e.n_mounts++];

                m->host_path = strdup(json_string_value(json_object_get(v, "hostPath")));
                m->container_path = strdup(json_string_value(json_object_get(v, "containerPath")));
                m->readonly = mount_has_option(v, "ro");
                m->noexec = mount_has_option(v, "noexec");
                if (!m->host_path || !m->container_path)
                        return -ENOMEM;
        }
        *ret = e;
        e = (CdiEdits) {};
        return 0;
}

int cdi_apply(json_t *config, const json_t *spec, const char *const *names, char **ret_error) {
        _cleanup_(json_decrefp) json_t *merged = NULL;
        json_t *v, *process, *env, *linux_, *devices, *resources, *rules, *mounts;
        size_t k;
        int r;

        if (!json_is_object(config))
                return set_error_sentence(ret_error, -EINVAL, "The OCI config must be a JSON object.");
        r = edits_merged(spec, names, &merged, ret_error);
        if (r < 0)
                return r;
        if (!names || !*names)
                return 0;
        process = member(config, "process", false);
        env = process ? member(process, "env", true) : NULL;
        linux_ = member(config, "linux", false);
        devices = linux_ ? member(linux_, "devices", true) : NULL;
        resources = linux_ ? member(linux_, "resources", false) : NULL;
        rules = resources ? member(resources, "devices", true) : NULL;
        mounts = member(config, "mounts", true);
        if (!env || !devices || !rules || !mounts)
                return set_error_sentence(
                        ret_error, -EINVAL,
                        "The OCI config's process.env, linux.devices, linux.resources.devices or mounts "
                        "has the wrong type.");

        /* The merged variables replace the image's: a list variable names this apply's devices only. */
        json_array_foreach(json_object_get(merged, "env"), k, v)
                if ((r = replace_add(env, NULL, json_incref(v))) < 0)
                        return r;
        json_array_foreach(json_object_get(merged, "deviceNodes"), k, v) {
                const char *perm = json_string_value(json_object_get(v, "permissions"));
                json_t *d = json_pack("{s:O, s:O, s:O, s:O}", "path", json_object_get(v, "path"), "type",
                                      json_object_get(v, "type"), "major", json_object_get(v, "major"),
                                      "minor", json_object_get(v, "minor"));

                if (!d)
                        return -ENOMEM;
                for (const char *const *f = (const char *const[]) { "fileMode", "uid", "gid", NULL }; *f;
                     f++)
                        if (json_object_get(v, *f) && json_object_set(d, *f, json_object_get(v, *f)) < 0) {
                                json_decref(d);
                                return -ENOMEM;
                        }
                if ((r = replace_add(devices, "path", d)) < 0 ||
                    (r = array_add(rules,
                                   json_pack("{s:b, s:O, s:O, s:O, s:s}", "allow", 1, "type",
                                             json_object_get(v, "type"), "major",
                                             json_object_get(v, "major"), "minor",
                                             json_object_get(v, "minor"), "access", perm ?: "rwm"))) < 0)
                        return r;
        }
        json_array_foreach(json_object_get(merged, "mounts"), k, v) {
                json_t *options = json_object_get(v, "options");
                json_t *opts = options ? json_incref(options) : json_pack("[s]", "bind");

                r = replace_add(mounts, "destination",
                                opts ? json_pack("{s:O, s:O, s:s, s:o}", "destination",
                                                 json_object_get(v, "containerPath"), "source",
                                                 json_object_get(v, "hostPath"), "type", "bind", "options",
                                                 opts)
                                     : NULL);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* A container's GPUs as device edits; see gpus.h. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "gpus.h"
#include "instance.h"
#include "manager.h"

#define VENDOR_NVIDIA 0x10de
#define VENDOR_HUAWEI 0x19e5

static bool is_nvidia(const Accelerator *a) {
        return a->vendor == VENDOR_NVIDIA && streq_ptr(a->driver, "nvidia");
}

static bool is_ascend(const Accelerator *a) {
        return a->vendor == VENDOR_HUAWEI && streq_ptr(a->driver, "devdrv_device_driver");
}

/* The N of /dev/davinciN: the NPU's place among the host's Ascend NPUs, in PCI order. */
static unsigned ascend_index(Manager *m, const Accelerator *a) {
        unsigned n = 0;

        for (size_t k = 0; k < m->n_accelerators && &m->accelerators[k] != a; k++)
                if (m->accelerators[k].vendor == VENDOR_HUAWEI)
                        n++;
        return n;
}

/* CDI names may not hold ':'. */
static void device_name(const char *address, char *ret, size_t l) {
        snprintf(ret, l, "%s", address);
        for (char *c = ret; *c; c++)
                if (*c == ':')
                        *c = '-';
}

static CdiRoots roots_of(Manager *m) {
        return (CdiRoots) { .dev = m->config.container_dev_root, .proc = m->config.sysfs_root };
}

typedef struct Part {
        CdiPartition p;
        char name[32];
        char uuid[132]; /* cdi_nvidia_uuid() gives at most 128 characters */
} Part;

static int part_make(Manager *m, const Accelerator *a, Part *ret, char **ret_error) {
        int r;

        *ret = (Part) {};
        device_name(a->address, ret->name, sizeof(ret->name));
        if (is_ascend(a)) {
                ret->p = (CdiPartition) { .type = CDI_ASCEND_NPU,
                                          .name = ret->name,
                                          .npu = ascend_index(m, a) };
                return 0;
        }
        if (!is_nvidia(a))
                return set_error_sentence(
                        ret_error, -EINVAL,
                        "GPU %s (%s) is bound to %s, not to its vendor's driver: a container "
                        "cannot use it.",
                        a->address, a->model, a->driver ?: "no driver");
        {
                CdiRoots roots = roots_of(m);
                _cleanup_free_ char *uuid = NULL;

                r = cdi_nvidia_uuid(&roots, a->address, &uuid, ret_error);
                if (r < 0)
                        return r;
                snprintf(ret->uuid, sizeof(ret->uuid), "%s", uuid);
        }
        ret->p = (CdiPartition) {
                .type = CDI_NVIDIA_GPU, .name = ret->name, .address = a->address, .uuid = ret->uuid
        };
        return 0;
}

int container_gpu_edits(Manager *m, const Instance *i, const CdiPartition *partition, CdiEdits *ret,
                        char **ret_error) {
        _cleanup_(json_decrefp) json_t *spec = NULL;
        _cleanup_free_ Part *parts = NULL;
        _cleanup_free_ CdiPartition *p = NULL;
        _cleanup_free_ const char **names = NULL;
        CdiRoots roots = roots_of(m);
        size_t n = strv_length(i->gpus);
        int r;

        *ret = (CdiEdits) {};
        if (partition) {
                const char *name[] = { partition->name, NULL };

                r = cdi_spec_build(partition, 1, &roots, &spec, ret_error);
                if (r < 0)
                        return r;
                return cdi_edits_collect(spec, name, ret, ret_error);
        }
        if (n == 0)
                return 0;
        parts = calloc(n, sizeof(Part));
        p = calloc(n, sizeof(CdiPartition));
        names = calloc(n + 1, sizeof(char *));
        if (!parts || !p || !names)
                return -ENOMEM;
        for (size_t k = 0; k < n; k++) {
                const Accelerator *a = manager_find_accelerator(m, i->gpus[k]);

                if (!a)
                        return set_error_sentence(ret_error, -ENOENT, "GPU %s is not on this host any more.",
                                                  i->gpus[k]);
                r = part_make(m, a, &parts[k], ret_error);
                if (r < 0)
                        return r;
                p[k] = parts[k].p;
                names[k] = parts[k].name;
        }
        r = cdi_spec_build(p, n, &roots, &spec, ret_error);
        if (r < 0)
                return r;
        return cdi_edits_collect(spec, names, ret, ret_error);
}

/* One vendor's spec: every GPU of that vendor whose nodes are there. */
static int refresh_one(Manager *m, bool ascend, const char *file) {
        _cleanup_(json_decrefp) json_t *spec = NULL;
        _cleanup_free_ Part *parts = calloc(m->n_accelerators + 1, sizeof(Part));
        _cleanup_free_ CdiPartition *p = calloc(m->n_accelerators + 1, sizeof(CdiPartition));
        _cleanup_free_ char *path = strprintf("%s/%s", m->config.container_cdi_dir, file);
        CdiRoots roots = roots_of(m);
        size_t n = 0;
        int r;

        if (!parts || !p || !path)
                return -ENOMEM;
        for (size_t k = 0; k < m->n_accelerators; k++) {
                const Accelerator *a = &m->accelerators[k];
                _cleanup_free_ char *why = NULL;
                _cleanup_(json_decrefp) json_t *one = NULL;

                if (ascend ? !is_ascend(a) : !is_nvidia(a))
                        continue;
                r = part_make(m, a, &parts[n], &why);
                if (r >= 0) {
                        p[n] = parts[n].p;
                        r = cdi_spec_build(&p[n], 1, &roots, &one, &why);
                }
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        log_warning("GPU %s is left out of %s: %s", a->address, path, strna(why));
                        continue;
                }
                n++;
        }
        if (n == 0) {
                if (unlink(path) < 0 && errno != ENOENT)
                        return -errno;
                return 0;
        }
        r = cdi_spec_build(p, n, &roots, &spec, NULL);
        if (r < 0)
                return r;
        return cdi_spec_write(spec, path);
}

int container_cdi_refresh(Manager *m) {
        int r;

        r = mkdir_p(m->config.container_cdi_dir, 0755);
        if (r < 0)
                return r;
        r = refresh_one(m, false, "ark-nvidia.json");
        if (r >= 0)
                r = refresh_one(m, true, "ark-ascend.json");
        return r;
}

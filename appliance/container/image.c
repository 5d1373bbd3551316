/* Container images and the layer store (image.h). */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access.h"
#include "bundles.h"
#include "image.h"
#include "instance.h"
#include "manager.h"
#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "shared/bus-util.h"
#include "shared/oci-image.h"

#define LAYERS_DIR "containers/layers"
#define STAGING_DIR "containers/staging"

struct ContainerImageStaging {
        char *layers;  /* <state>/containers/layers */
        char *dir;     /* <state>/containers/staging/import-XXXXXX, NULL when nothing was unpacked */
        char **staged; /* diff_ids unpacked into dir */
        char **needed; /* every diff_id of the image */
        char *summary;
};

static void closedirp(DIR **d) {
        if (*d)
                closedir(*d);
}

ContainerImage *container_image_free(ContainerImage *img) {
        if (!img)
                return NULL;
        strv_free(img->layers);
        strv_free(img->diff_ids);
        strv_free(img->entrypoint);
        strv_free(img->cmd);
        strv_free(img->env);
        free(img->working_dir);
        free(img->user);
        free(img->architecture);
        free(img);
        return NULL;
}

static char *layers_dir(const char *state_dir) {
        return strprintf("%s/%s", state_dir, LAYERS_DIR);
}

int container_image_load(Manager *m, Bundle *b, ContainerImage **ret, char **ret_error) {
        _cleanup_(container_image_freep) ContainerImage *img = calloc(1, sizeof(ContainerImage));
        _cleanup_(oci_image_freep) OciImage *oci = NULL;
        _cleanup_free_ char *layers = layers_dir(m->config.state_dir);
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (!img || !layers)
                return -ENOMEM;
        fd = open(b->directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return set_error_sentence(ret_error, -errno, "The directory of image %s %s is gone: %m.",
                                          b->name, b->version);
        r = oci_image_load(fd, NULL, &oci, ret_error);
        if (r < 0)
                return r;
        img->bundle = b;
        for (size_t k = 0; k < oci->n_layers; k++) {
                _cleanup_free_ char *d = path_join(layers, oci->layers[k].diff_id);

                if (!d)
                        return -ENOMEM;
                if (!file_exists(d))
                        return set_error_sentence(
                                ret_error, -ENOENT,
                                "Layer sha256:%s of image %s %s is missing from the layer store (%s); import the "
                                "image again.",
                                oci->layers[k].diff_id, b->name, b->version, d);
                if (strv_push(&img->layers, d) < 0)
                        return -ENOMEM;
                d = NULL;
        }
        if (strv_copy(&img->diff_ids, oci->config.diff_ids) < 0 ||
            strv_copy(&img->entrypoint, oci->config.entrypoint) < 0 ||
            strv_copy(&img->cmd, oci->config.cmd) < 0 || strv_copy(&img->env, oci->config.env) < 0 ||
            strdup_or_null(&img->working_dir, oci->config.working_dir) < 0 ||
            strdup_or_null(&img->user, oci->config.user) < 0 ||
            strdup_or_null(&img->architecture, oci->config.architecture) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(img);
        return 0;
}

int container_image_find(Manager *m, const char *tenant, const char *spec, ContainerImage **ret,
                         sd_bus_error *error) {
        _cleanup_free_ char *name = strdup(spec), *err = NULL;
        const char *version = NULL;
        Bundle *found = NULL;
        StrBuf versions = {};
        unsigned hits = 0;
        char *at;
        int r;

        if (!name)
                return -ENOMEM;
        at = strchr(name, '@');
        if (at) {
                *at = 0;
                version = at + 1;
        }
        if (manifest_check_name(name) || (version && manifest_check_version(version)))
                return sd_bus_error_setf(
                        error, ARK_ERROR_INVALID_ARGUMENT,
                        "Image '%s' is not NAME or NAME@VERSION of an imported container image.",
                        printable(spec));
        /* The tenant's own images first: they shadow a shared one of the same name and version. */
        for (int pass = 0; pass < 2 && hits == 0; pass++)
                LIST_FOREACH(bundles, b, m->bundles) {
                        if (!streq(b->kind, CONTAINER_IMAGE_KIND) || !streq(b->name, name) ||
                            (version && !streq(b->version, version)))
                                continue;
                        if (pass == 0 ? !streq_ptr(b->tenant, tenant) : b->tenant != NULL)
                                continue;
                        strbuf_printf(&versions, "%s%s", hits ? ", " : "", b->version);
                        found = b;
                        hits++;
                }
        if (hits == 0) {
                strbuf_done(&versions);
                return sd_bus_error_setf(
                        error, ARK_ERROR_NOT_FOUND,
                        "Tenant '%s' has no container image '%s'%s%s (see 'arkctl image list'; "
                        "import it with 'arkctl bundle import').",
                        strna(tenant), name, version ? " version " : "", strempty(version));
        }
        if (hits > 1) {
                _cleanup_free_ char *v = strbuf_steal(&versions);
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_ARGUMENT,
                                         "Image '%s' has versions %s; say which (%s@VERSION).", name,
                                         strna(v), name);
        }
        strbuf_done(&versions);
        r = container_image_load(m, found, ret, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_FAILED, "%s", strna(err));
        return 0;
}

int container_image_in_use(Manager *m, const Bundle *b, const Caller *c, sd_bus_error *error) {
        StrBuf users = {};
        unsigned n = 0;

        LIST_FOREACH(instances, i, m->instances)
                if (i->container_image_id == b->id) {
                        /* Another tenant's container is not named to this caller. */
                        if (!c || caller_in_tenant_named(m, c, i->tenant))
                                strbuf_printf(&users, "%s'%s'", users.len > 0 ? ", " : "", i->name);
                        n++;
                }
        if (n == 0) {
                strbuf_done(&users);
                return 0;
        }
        {
                _cleanup_free_ char *l = strbuf_steal(&users);
                _cleanup_free_ char *named = isempty(l) ? strdup("") : strprintf(" (%s)", l);

                return sd_bus_error_setf(
                        error, ARK_ERROR_IN_USE,
                        "Container image %s %s is used by %u container%s%s; delete %s first.", b->name,
                        b->version, n, n == 1 ? "" : "s", strempty(named), n == 1 ? "it" : "them");
        }
}

/* ------------------------------------------------------------------------------ imports */

ContainerImageStaging *container_image_staging_free(ContainerImageStaging *s) {
        if (!s)
                return NULL;
        if (s->dir)
                (void) rm_rf(s->dir);
        free(s->dir);
        free(s->layers);
        strv_free(s->staged);
        strv_free(s->needed);
        free(s->summary);
        free(s);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(ContainerImageStaging, container_image_staging_free);

const char *container_image_staging_summary(const ContainerImageStaging *s) {
        return s->summary;
}

int container_image_prepare(const char *state_dir, int payload_fd, const char *name,
                            ContainerImageStaging **ret, char **ret_error) {
        _cleanup_(container_image_staging_freep) ContainerImageStaging *s = calloc(1, sizeof(*s));
        _cleanup_(oci_image_freep) OciImage *img = NULL;
        _cleanup_(oci_tree_freep) OciTree *tree = oci_tree_new();
        _cleanup_free_ char *staging_root = strprintf("%s/%s", state_dir, STAGING_DIR);
        _cleanup_close_ int sfd = -EBADF;
        const char *native = oci_native_architecture();
        StrBuf summary = {};
        unsigned shared = 0;
        uint64_t setuid = 0;
        int r;

        if (!s || !tree || !staging_root)
                return -ENOMEM;
        s->layers = layers_dir(state_dir);
        if (!s->layers)
                return -ENOMEM;
        r = oci_image_load(payload_fd, NULL, &img, ret_error);
        if (r < 0)
                return r;
        if (!native || !streq(img->config.architecture, native))
                return set_error_sentence(
                        ret_error, -EINVAL,
                        "%s: the image is for architecture '%s'; this machine runs '%s' containers.", name,
                        printable(img->config.architecture), strna(native));
        /* The check pass of every layer, lowest first, before anything is written. */
        for (size_t k = 0; k < img->n_layers; k++) {
                _cleanup_close_ int bfd = oci_blob_open(payload_fd, img->layers[k].digest);
                OciLayerReport rep = {};

                if (bfd < 0)
                        return set_error_sentence(ret_error, -EINVAL,
                                                  "%s: layer %zu's blob cannot be opened.", name, k);
                r = oci_layer_check(bfd, &img->layers[k], (unsigned) k, tree, &rep, ret_error);
                if (rep.setuid_files > 0 && setuid == 0)
                        strbuf_printf(&summary, "setuid or setgid files (the first: '%s' in layer %zu); ",
                                      printable(rep.first_setuid), k);
                setuid += rep.setuid_files;
                oci_layer_report_done(&rep);
                if (r < 0) {
                        strbuf_done(&summary);
                        return r;
                }
        }
        /* The unpack pass of the layers the store does not have. */
        for (size_t k = 0; k < img->n_layers; k++) {
                const OciLayer *l = &img->layers[k];
                _cleanup_free_ char *have = path_join(s->layers, l->diff_id), *dest = NULL;
                _cleanup_close_ int bfd = -EBADF, dfd = -EBADF;

                if (!have)
                        r = -ENOMEM;
                else if (strv_contains(s->needed, l->diff_id))
                        continue; /* the same layer twice in one image */
                else
                        r = strv_extend(&s->needed, l->diff_id);
                if (r < 0)
                        break;
                if (file_exists(have)) {
                        shared++;
                        continue;
                }
                if (!s->dir) {
                        r = mkdir_p(staging_root, 0700);
                        s->dir = r >= 0 ? strprintf("%s/import-XXXXXX", staging_root) : NULL;
                        if (r >= 0 && !s->dir)
                                r = -ENOMEM;
                        if (r >= 0 && !mkdtemp(s->dir)) {
                                r = -errno;
                                s->dir = mfree(s->dir);
                        }
                        if (r < 0) {
                                (void) set_error_sentence(ret_error, r,
                                                          "Cannot make layer staging under %s: %s.",
                                                          staging_root, strerror(-r));
                                break;
                        }
                }
                dest = path_join(s->dir, l->diff_id);
                if (!dest) {
                        r = -ENOMEM;
                        break;
                }
                if (mkdir(dest, 0755) < 0 || (dfd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
                        r = set_error_sentence(ret_error, -errno, "Cannot make %s: %m.", dest);
                        break;
                }
                bfd = oci_blob_open(payload_fd, l->digest);
                if (bfd < 0) {
                        r = set_error_sentence(ret_error, -EINVAL, "%s: layer %zu's blob cannot be opened.",
                                               name, k);
                        break;
                }
                r = oci_layer_unpack(bfd, l, (unsigned) k, dfd, ret_error);
                if (r < 0)
                        break;
                r = strv_extend(&s->staged, l->diff_id);
                if (r < 0)
                        break;
        }
        if (r < 0) {
                strbuf_done(&summary);
                return r;
        }
        /* Down to the disk before the main thread moves them in: a layer in the store is whole. */
        if (s->dir) {
                sfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (sfd < 0 || syncfs(sfd) < 0) {
                        strbuf_done(&summary);
                        return set_error_sentence(ret_error, -errno, "Cannot flush %s to disk: %m.", s->dir);
                }
        }
        strbuf_printf(&summary, "%zu layer%s, %zu unpacked, %u already in the layer store", img->n_layers,
                      img->n_layers == 1 ? "" : "s", strv_length(s->staged), shared);
        s->summary = strbuf_steal(&summary);
        if (!s->summary)
                return -ENOMEM;
        *ret = TAKE_PTR(s);
        return 0;
}

int container_image_install(ContainerImageStaging *s, char **ret_error) {
        int r = mkdir_p(s->layers, 0700);

        if (r < 0)
                return set_error_sentence(ret_error, r, "Cannot make the layer store %s: %s.", s->layers,
                                          strerror(-r));
        for (char **ip = s->staged; ip && *ip; ip++) {
                const char *id = *ip;
                _cleanup_free_ char *from = path_join(s->dir, id), *to = path_join(s->layers, id);

                if (!from || !to)
                        return -ENOMEM;
                if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) < 0) {
                        if (errno != EEXIST)
                                return set_error_sentence(ret_error, -errno,
                                                          "Cannot move layer %s into %s: %m.", id,
                                                          s->layers);
                        /* Another import brought it meanwhile: theirs is as good. */
                        (void) rm_rf(from);
                }
        }
        /* A layer this import found in the store may have gone with a deletion since. */
        for (char **ip = s->needed; ip && *ip; ip++) {
                const char *id = *ip;
                _cleanup_free_ char *d = path_join(s->layers, id);

                if (!d)
                        return -ENOMEM;
                if (!file_exists(d))
                        return set_error_sentence(
                                ret_error, -EAGAIN,
                                "Layer sha256:%s was deleted with another image during the "
                                "import; import this image again.",
                                id);
        }
        {
                _cleanup_close_ int fd = open(s->layers, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

                if (fd >= 0)
                        (void) fsync(fd);
        }
        return 0;
}

/* ------------------------------------------------------------------------------ the store */

/* The diff_ids of every recorded image; an image whose layout cannot be read keeps every layer
 * (*ret_keep_all): nothing is removed on a guess. */
static int used_layers(Manager *m, char ***ret, bool *ret_keep_all) {
        _cleanup_(strv_freep) char **used = NULL;
        bool keep_all = false;

        LIST_FOREACH(bundles, b, m->bundles) {
                _cleanup_(oci_image_freep) OciImage *img = NULL;
                _cleanup_free_ char *err = NULL;
                _cleanup_close_ int fd = -EBADF;

                if (!streq(b->kind, CONTAINER_IMAGE_KIND))
                        continue;
                fd = open(b->directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0 || oci_image_load(fd, NULL, &img, &err) < 0) {
                        log_warning("Cannot read image %s %s (%s); no layer is removed.", b->name,
                                    b->version, fd < 0 ? strerror(errno) : strna(err));
                        keep_all = true;
                        continue;
                }
                for (char **id = img->config.diff_ids; id && *id; id++)
                        if (!strv_contains(used, *id) && strv_extend(&used, *id) < 0)
                                return -ENOMEM;
        }
        *ret = TAKE_PTR(used);
        *ret_keep_all = keep_all;
        return 0;
}

void container_layers_gc(Manager *m) {
        _cleanup_free_ char *layers = layers_dir(m->config.state_dir);
        _cleanup_(strv_freep) char **used = NULL;
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        bool keep_all = false;

        if (!layers || used_layers(m, &used, &keep_all) < 0 || keep_all)
                return;
        d = opendir(layers);
        while (d && (de = readdir(d))) {
                _cleanup_free_ char *p = NULL;
                int r;

                if (de->d_name[0] == '.' || strv_contains(used, de->d_name))
                        continue;
                p = path_join(layers, de->d_name);
                if (!p)
                        return;
                r = rm_rf(p);
                if (r < 0)
                        log_warning_errno(r, "Cannot remove layer %s, which no image has: %m", p);
                else
                        log_info("Removed layer %s: no image has it any more.", de->d_name);
        }
}

int container_layers_startup(Manager *m) {
        _cleanup_free_ char *staging = strprintf("%s/%s", m->config.state_dir, STAGING_DIR);

        if (!staging)
                return -ENOMEM;
        if (file_exists(staging)) {
                int r = rm_rf(staging);

                log_notice("Removed layer staging left by imports that did not finish.");
                if (r < 0)
                        log_warning_errno(r, "Failed to remove %s: %m", staging);
        }
        container_layers_gc(m);
        return 0;
}

/* OCI image layouts (oci-image.h): the JSON documents with jansson, the layers with libarchive. */

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <jansson.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "shared/archive-util.h"
#include "shared/oci-image.h"

#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"

#define WHITEOUT_PREFIX ".wh."
#define WHITEOUT_OPAQUE ".wh..wh..opq"
#define OVERLAY_OPAQUE_XATTR "trusted.overlay.opaque"

static const struct {
        const char *media_type;
        OciCompression compression;
} layer_types[] = {
        { "application/vnd.oci.image.layer.v1.tar", OCI_COMPRESSION_NONE },
        { "application/vnd.oci.image.layer.v1.tar+gzip", OCI_COMPRESSION_GZIP },
        { "application/vnd.oci.image.layer.v1.tar+zstd", OCI_COMPRESSION_ZSTD },
        { "application/vnd.docker.image.rootfs.diff.tar", OCI_COMPRESSION_NONE },
        { "application/vnd.docker.image.rootfs.diff.tar.gzip", OCI_COMPRESSION_GZIP },
};

const char *oci_compression_to_string(OciCompression c) {
        static const char *const table[_OCI_COMPRESSION_MAX] = {
                [OCI_COMPRESSION_NONE] = "none",
                [OCI_COMPRESSION_GZIP] = "gzip",
                [OCI_COMPRESSION_ZSTD] = "zstd",
        };
        return c >= 0 && c < _OCI_COMPRESSION_MAX ? table[c] : NULL;
}

void oci_config_done(OciConfig *c) {
        free(c->architecture);
        free(c->os);
        strv_free(c->entrypoint);
        strv_free(c->cmd);
        strv_free(c->env);
        free(c->working_dir);
        free(c->user);
        strv_free(c->diff_ids);
        *c = (OciConfig) {};
}

OciImage *oci_image_free(OciImage *img) {
        if (!img)
                return NULL;
        free(img->ref_name);
        oci_config_done(&img->config);
        free(img->layers);
        free(img);
        return NULL;
}

void oci_layer_report_done(OciLayerReport *r) {
        r->first_setuid = mfree(r->first_setuid);
}

/* ------------------------------------------------------------------------------ JSON */

/* A string member that holds no NUL byte; NULL (and 0) when absent, -EINVAL when not a string. */
static int json_get_string(json_t *o, const char *key, const char **ret) {
        json_t *v = json_object_get(o, key);

        *ret = NULL;
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_string(v) || json_string_length(v) != strlen(json_string_value(v)))
                return -EINVAL;
        *ret = json_string_value(v);
        return 0;
}

/* "sha256:<64 lowercase hex>" into hex. */
static bool parse_digest(const char *s, char hex[static SHA256_HEX]) {
        const char *h = s ? startswith(s, "sha256:") : NULL;

        if (!h || !is_lower_hex(h, SHA256_HEX - 1))
                return false;
        memcpy(hex, h, SHA256_HEX);
        return true;
}

/* A descriptor's digest and size (what = "index.json manifests[0]" etc. for messages). */
static int parse_descriptor(json_t *d, const char *doc, const char *what, const char **ret_media_type,
                            char hex[static SHA256_HEX], uint64_t *ret_size, char **ret_error) {
        const char *mt, *digest;
        json_t *size;

        if (!json_is_object(d))
                return set_error_sentence(ret_error, -EINVAL, "%s: %s must be an object.", doc, what);
        if (json_get_string(d, "mediaType", &mt) < 0 || json_get_string(d, "digest", &digest) < 0)
                return set_error_sentence(ret_error, -EINVAL,
                                          "%s: %s's mediaType and digest must be strings.", doc, what);
        if (!parse_digest(digest, hex))
                return set_error_sentence(ret_error, -EINVAL,
                                          "%s: %s's digest '%s' is not sha256:<64 lowercase hex digits> "
                                          "(no other algorithm is accepted).",
                                          doc, what, printable(digest));
        size = json_object_get(d, "size");
        if (!json_is_integer(size) || json_integer_value(size) < 0 ||
            json_integer_value(size) > (INT64_C(1) << 53))
                return set_error_sentence(ret_error, -EINVAL,
                                          "%s: %s's size must be a whole number from 0 to 2^53.", doc, what);
        *ret_media_type = mt;
        *ret_size = (uint64_t) json_integer_value(size);
        return 0;
}

static int load_json(const char *data, size_t n, const char *doc, json_t **ret, char **ret_error) {
        json_error_t jerr;
        json_t *j;

        if (n > OCI_JSON_MAX_BYTES)
                return set_error_sentence(ret_error, -EINVAL, "%s is larger than 4 MiB.", doc);
        j = json_loadb(data, n, JSON_REJECT_DUPLICATES, &jerr);
        if (!j)
                return set_error_sentence(ret_error, -EINVAL,
                                          "%s is not valid JSON (line %d, column %d: %s).", doc, jerr.line,
                                          jerr.column, jerr.text);
        if (!json_is_object(j)) {
                json_decref(j);
                return set_error_sentence(ret_error, -EINVAL, "%s must be a JSON object.", doc);
        }
        *ret = j;
        return 0;
}

static int check_schema_version(json_t *root, const char *doc, char **ret_error) {
        json_t *v = json_object_get(root, "schemaVersion");

        if (!json_is_integer(v) || json_integer_value(v) != 2)
                return set_error_sentence(ret_error, -EINVAL, "%s: schemaVersion must be 2.", doc);
        return 0;
}

int oci_index_parse(const char *data, size_t n, const char *tag, char ret_digest[static SHA256_HEX],
                    uint64_t *ret_size, char **ret_ref_name, char **ret_error) {
        _cleanup_(json_decrefp) json_t *root = NULL;
        _cleanup_free_ char *ref = NULL;
        char hex[SHA256_HEX];
        const char *mt;
        uint64_t size = 0;
        json_t *list, *d;
        size_t i, hits = 0;
        int r;

        r = load_json(data, n, "index.json", &root, ret_error);
        if (r < 0)
                return r;
        r = check_schema_version(root, "index.json", ret_error);
        if (r < 0)
                return r;
        if (json_get_string(root, "mediaType", &mt) < 0 || (mt && !streq(mt, MT_OCI_INDEX)))
                return set_error_sentence(ret_error, -EINVAL, "index.json: mediaType must be %s.",
                                          MT_OCI_INDEX);
        list = json_object_get(root, "manifests");
        if (!json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > 1024)
                return set_error_sentence(ret_error, -EINVAL,
                                          "index.json: manifests must be a list of 1 to 1024 descriptors.");
        json_array_foreach(list, i, d) {
                _cleanup_free_ char *what = strprintf("manifests[%zu]", i);
                const char *name = NULL;
                char h[SHA256_HEX];
                uint64_t s;

                if (!what)
                        return -ENOMEM;
                r = parse_descriptor(d, "index.json", what, &mt, h, &s, ret_error);
                if (r < 0)
                        return r;
                if (json_get_string(json_object_get(d, "annotations"), "org.opencontainers.image.ref.name",
                                    &name) < 0)
                        return set_error_sentence(ret_error, -EINVAL,
                                                  "index.json: %s's ref.name annotation must be a string.",
                                                  what);
                if (tag && !streq_ptr(name, tag))
                        continue;
                if (mt && (streq(mt, MT_OCI_INDEX) || streq(mt, MT_DOCKER_LIST)))
                        return set_error_sentence(
                                ret_error, -EINVAL,
                                "index.json: %s is an image index (several platforms); copy one platform "
                                "(skopeo copy --override-arch ARCH) into the layout.",
                                what);
                if (mt && !streq(mt, MT_OCI_MANIFEST) && !streq(mt, MT_DOCKER_MANIFEST))
                        return set_error_sentence(
                                ret_error, -EINVAL,
                                "index.json: %s's media type '%s' is not an image manifest.", what,
                                printable(mt));
                if (s > OCI_JSON_MAX_BYTES)
                        return set_error_sentence(ret_error, -EINVAL,
                                                  "index.json: %s declares a manifest larger than 4 MiB.",
                                                  what);
                memcpy(hex, h, SHA256_HEX);
                size = s;
                free(ref);
                ref = name ? strdup(name) : NULL;
                if (name && !ref)
                        return -ENOMEM;
                hits++;
        }
        if (hits == 0)
                return set_error_sentence(ret_error, -EINVAL, "index.json names no image '%s'.",
                                          printable(tag));
        if (hits > 1)
                return set_error_sentence(
                        ret_error, -EINVAL,
                        tag ? "index.json names %zu images '%s'; it must name one."
                            : "index.json lists %zu images%s; the bundle must hold one (or "
                              "one tag of them).",
                        hits, tag ? printable(tag) : "");
        memcpy(ret_digest, hex, SHA256_HEX);
        *ret_size = size;
        if (ret_ref_name)
                *ret_ref_name = TAKE_PTR(ref);
        return 0;
}

int oci_manifest_parse(const char *data, size_t n, const char *digest, OciImage *img,
                       uint64_t *ret_config_size, char **ret_error) {
        _cleanup_(json_decrefp) json_t *root = NULL;
        _cleanup_free_ char *doc = strprintf("manifest sha256:%s", digest);
        _cleanup_free_ OciLayer *layers = NULL;
        char config_hex[SHA256_HEX];
        uint64_t config_size;
        const char *mt;
        json_t *list, *d;
        size_t i;
        int r;

        if (!doc)
                return -ENOMEM;
        r = load_json(data, n, doc, &root, ret_error);
        if (r < 0)
                return r;
        r = check_schema_version(root, doc, ret_error);
        if (r < 0)
                return r;
        if (json_get_string(root, "mediaType", &mt) < 0 ||
            (mt && !streq(mt, MT_OCI_MANIFEST) && !streq(mt, MT_DOCKER_MANIFEST)))
                return set_error_sentence(ret_error, -EINVAL, "%s: mediaType '%s' is not an image manifest.",
                                          doc, printable(mt));
        r = parse_descriptor(json_object_get(root, "config"), doc, "config", &mt, config_hex, &config_size,
                             ret_error);
        if (r < 0)
                return r;
        if (!mt || (!streq(mt, MT_OCI_CONFIG) && !streq(mt, MT_DOCKER_CONFIG)))
                return set_error_sentence(ret_error, -EINVAL,
                                          "%s: config's media type '%s' is not an image config.", doc,
                                          printable(mt));
        if (config_size > OCI_JSON_MAX_BYTES)
                return set_error_sentence(ret_error, -EINVAL, "%s declares a config larger than 4 MiB.",
                                          doc);
        list = json_object_get(root, "layers");
        if (!json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > OCI_LAYERS_MAX)
                return set_error_sentence(ret_error, -EINVAL,
                                          "%s: layers must be a list of 1 to %d descriptors.", doc,
                                          OCI_LAYERS_MAX);
        layers = calloc(json_array_size(list), sizeof(OciLayer));
        if (!layers)
                return -ENOMEM;
        json_array_foreach(list, i, d) {
                _cleanup_free_ char *what = strprintf("layers[%zu]", i);
                OciCompression c = _OCI_COMPRESSION_INVALID;

                if (!what)
                        return -ENOMEM;
                r = parse_descriptor(d, doc, what, &mt, layers[i].digest, &layers[i].size, ret_error);
                if (r < 0)
                        return r;
                for (size_t k = 0; mt && k < ELEMENTSOF(layer_types); k++)
                        if (streq(mt, layer_types[k].media_type))
                                c = layer_types[k].compression;
                if (c < 0)
                        return set_error_sentence(
                                ret_error, -EINVAL,
                                "%s: %s's media type '%s' is not a tar layer (uncompressed, gzip "
                                "or zstd; foreign and encrypted layers are not accepted).",
                                doc, what, printable(mt));
                layers[i].compression = c;
        }
        free(img->layers);
        img->layers = TAKE_PTR(layers);
        img->n_layers = json_array_size(list);
        memcpy(img->config_digest, config_hex, SHA256_HEX);
        *ret_config_size = config_size;
        return 0;
}

/* A list of strings into *ret (NULL for null or absent). */
static int get_strv(json_t *o, const char *key, const char *doc, char ***ret, char **ret_error) {
        _cleanup_(strv_freep) char **l = NULL;
        json_t *v = json_object_get(o, key), *e;
        size_t i;

        if (!v || json_is_null(v))
                return 0;
        if (!json_is_array(v) || json_array_size(v) > 65536)
                return set_error_sentence(ret_error, -EINVAL, "%s: config.%s must be a list of strings.",
                                          doc, key);
        /* An empty list is a list, not "unset". */
        l = calloc(1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        json_array_foreach(v, i, e) {
                if (!json_is_string(e) || json_string_length(e) != strlen(json_string_value(e)))
                        return set_error_sentence(ret_error, -EINVAL,
                                                  "%s: config.%s[%zu] must be a string without NUL bytes.",
                                                  doc, key, i);
                if (strv_extend(&l, json_string_value(e)) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static int dup_string(json_t *o, const char *key, const char *doc, char **ret, char **ret_error) {
        const char *s;

        if (json_get_string(o, key, &s) < 0)
                return set_error_sentence(ret_error, -EINVAL, "%s: %s must be a string without NUL bytes.",
                                          doc, key);
        if (!s || !*s)
                return 0;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

int oci_config_parse(const char *data, size_t n, const char *digest, OciConfig *ret, char **ret_error) {
        _cleanup_(json_decrefp) json_t *root = NULL;
        _cleanup_free_ char *doc = strprintf("config sha256:%s", digest);
        _cleanup_(oci_config_done) OciConfig c = {};
        json_t *cfg, *rootfs, *ids, *v;
        const char *type;
        size_t i;
        int r;

        if (!doc)
                return -ENOMEM;
        r = load_json(data, n, doc, &root, ret_error);
        if (r < 0)
                return r;
        if ((r = dup_string(root, "architecture", doc, &c.architecture, ret_error)) < 0 ||
            (r = dup_string(root, "os", doc, &c.os, ret_error)) < 0)
                return r;
        if (!c.architecture || !c.os)
                return set_error_sentence(ret_error, -EINVAL, "%s lacks architecture or os.", doc);
        if (!streq(c.os, "linux"))
                return set_error_sentence(ret_error, -EINVAL, "%s: the image is for os '%s', not linux.",
                                          doc, printable(c.os));
        cfg = json_object_get(root, "config");
        if (cfg && !json_is_null(cfg)) {
                if (!json_is_object(cfg))
                        return set_error_sentence(ret_error, -EINVAL, "%s: config must be an object.", doc);
                if ((r = get_strv(cfg, "Entrypoint", doc, &c.entrypoint, ret_error)) < 0 ||
                    (r = get_strv(cfg, "Cmd", doc, &c.cmd, ret_error)) < 0 ||
                    (r = get_strv(cfg, "Env", doc, &c.env, ret_error)) < 0 ||
                    (r = dup_string(cfg, "WorkingDir", doc, &c.working_dir, ret_error)) < 0 ||
                    (r = dup_string(cfg, "User", doc, &c.user, ret_error)) < 0)
                        return r;
                for (char **e = c.env; e && *e; e++)
                        if (!strchr(*e, '=') || (*e)[0] == '=')
                                return set_error_sentence(ret_error, -EINVAL,
                                                          "%s: config.Env entry '%s' is not NAME=VALUE.",
                                                          doc, printable(*e));
                if (c.working_dir && c.working_dir[0] != '/')
                        return set_error_sentence(ret_error, -EINVAL,
                                                  "%s: config.WorkingDir '%s' is not an absolute path.", doc,
                                                  printable(c.working_dir));
        }
        rootfs = json_object_get(root, "rootfs");
        if (!json_is_object(rootfs) || json_get_string(rootfs, "type", &type) < 0 || !type ||
            !streq(type, "layers"))
                return set_error_sentence(ret_error, -EINVAL, "%s: rootfs.type must be \"layers\".", doc);
        ids = json_object_get(rootfs, "diff_ids");
        if (!json_is_array(ids) || json_array_size(ids) > OCI_LAYERS_MAX)
                return set_error_sentence(ret_error, -EINVAL,
                                          "%s: rootfs.diff_ids must be a list of digests.", doc);
        c.diff_ids = calloc(1, sizeof(char *));
        if (!c.diff_ids)
                return -ENOMEM;
        json_array_foreach(ids, i, v) {
                char hex[SHA256_HEX];

                if (!json_is_string(v) || !parse_digest(json_string_value(v), hex))
                        return set_error_sentence(
                                ret_error, -EINVAL,
                                "%s: rootfs.diff_ids[%zu] is not sha256:<64 lowercase hex digits>.", doc, i);
                if (strv_extend(&c.diff_ids, hex) < 0)
                        return -ENOMEM;
        }
        *ret = c;
        c = (OciConfig) {};
        return 0;
}

/* ------------------------------------------------------------------------------ the layout */

/* path below dir_fd, resolving no symbolic link and nothing outside. */
static int open_beneath(int dir_fd, const char *path, int flags) {
        struct open_how how = { .flags = (uint64_t) flags | O_CLOEXEC | O_NOCTTY,
                                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
        long fd = syscall(SYS_openat2, dir_fd, path, &how, sizeof(how));

        return fd < 0 ? -errno : (int) fd;
}

int oci_blob_open(int dir_fd, const char *hex) {
        _cleanup_free_ char *p = strprintf("blobs/sha256/%s", hex);
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        if (!p)
                return -ENOMEM;
        fd = open_beneath(dir_fd, p, O_RDONLY);
        if (fd < 0)
                return fd == -ELOOP || fd == -EXDEV ? -EINVAL : fd;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        return TAKE_FD(fd);
}

/* A small file of the layout, read whole: at most max bytes. */
static int read_small(int fd, size_t max, char **ret, size_t *ret_n) {
        _cleanup_free_ char *buf = malloc(max + 1);
        size_t n = 0;

        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t k = read(fd, buf + n, max + 1 - n);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
                if (n > max)
                        return -EFBIG;
        }
        buf[n] = 0;
        *ret = TAKE_PTR(buf);
        *ret_n = n;
        return 0;
}

/* A JSON blob checked against its digest and size. */
static int read_blob(int dir_fd, const char *what, const char *hex, uint64_t size, char **ret, size_t *ret_n,
                     char **ret_error) {
        _cleanup_close_ int fd = oci_blob_open(dir_fd, hex);
        _cleanup_free_ char *data = NULL;
        uint8_t d[SHA256_BYTES];
        char got[SHA256_HEX];
        size_t n;
        int r;

        if (fd < 0)
                return set_error_sentence(ret_error, fd == -ENOMEM ? -ENOMEM : -EINVAL,
                                          "The %s blob sha256:%s is %s.", what, hex,
                                          fd == -ENOENT ? "missing from blobs/sha256"
                                                        : "not a regular file of blobs/sha256");
        r = read_small(fd, (size_t) size, &data, &n);
        if (r == -EFBIG || (r >= 0 && n != size))
                return set_error_sentence(
                        ret_error, -EBADMSG, "The %s blob sha256:%s is %s than its descriptor's %llu bytes.",
                        what, hex, r == -EFBIG ? "bigger" : "smaller", (unsigned long long) size);
        if (r < 0)
                return set_error_sentence(ret_error, r, "Cannot read the %s blob sha256:%s: %s.", what, hex,
                                          strerror(-r));
        r = sha256_buffer(data, n, d);
        if (r < 0)
                return r;
        hex_encode(d, SHA256_BYTES, got);
        if (!streq(got, hex))
                return set_error_sentence(
                        ret_error, -EBADMSG,
                        "The %s blob sha256:%s does not match its digest (it hashes to %s).", what, hex,
                        got);
        *ret = TAKE_PTR(data);
        *ret_n = n;
        return 0;
}

int oci_image_load(int dir_fd, const char *tag, OciImage **ret, char **ret_error) {
        _cleanup_(oci_image_freep) OciImage *img = calloc(1, sizeof(OciImage));
        _cleanup_free_ char *layout = NULL, *index = NULL, *manifest = NULL, *config = NULL;
        _cleanup_(json_decrefp) json_t *lj = NULL;
        _cleanup_close_ int fd = -EBADF;
        uint64_t size, config_size;
        const char *version;
        size_t n;
        int r;

        if (!img)
                return -ENOMEM;
        fd = open_beneath(dir_fd, "oci-layout", O_RDONLY);
        if (fd < 0)
                return set_error_sentence(ret_error, -EINVAL,
                                          "The payload is no OCI image layout: oci-layout is %s.",
                                          fd == -ENOENT ? "missing" : "not a readable regular file");
        r = read_small(fd, 4096, &layout, &n);
        if (r < 0)
                return set_error_sentence(ret_error, -EINVAL, "oci-layout cannot be read or is too big.");
        r = load_json(layout, n, "oci-layout", &lj, ret_error);
        if (r < 0)
                return r;
        if (json_get_string(lj, "imageLayoutVersion", &version) < 0 || !version || !streq(version, "1.0.0"))
                return set_error_sentence(ret_error, -EINVAL,
                                          "oci-layout: imageLayoutVersion must be \"1.0.0\".");
        fd = safe_close(fd);
        fd = open_beneath(dir_fd, "index.json", O_RDONLY);
        if (fd < 0)
                return set_error_sentence(ret_error, -EINVAL, "The OCI image layout has no index.json.");
        r = read_small(fd, OCI_JSON_MAX_BYTES, &index, &n);
        if (r < 0)
                return set_error_sentence(ret_error, -EINVAL,
                                          "index.json cannot be read or is larger than 4 MiB.");
        r = oci_index_parse(index, n, tag, img->manifest_digest, &size, &img->ref_name, ret_error);
        if (r < 0)
                return r;
        r = read_blob(dir_fd, "manifest", img->manifest_digest, size, &manifest, &n, ret_error);
        if (r < 0)
                return r;
        r = oci_manifest_parse(manifest, n, img->manifest_digest, img, &config_size, ret_error);
        if (r < 0)
                return r;
        r = read_blob(dir_fd, "config", img->config_digest, config_size, &config, &n, ret_error);
        if (r < 0)
                return r;
        r = oci_config_parse(config, n, img->config_digest, &img->config, ret_error);
        if (r < 0)
                return r;
        if (strv_length(img->config.diff_ids) != img->n_layers)
                return set_error_sentence(
                        ret_error, -EINVAL,
                        "config sha256:%s lists %zu diff_ids for a manifest of %zu layers.",
                        img->config_digest, strv_length(img->config.diff_ids), img->n_layers);
        for (size_t k = 0; k < img->n_layers; k++) {
                OciLayer *l = &img->layers[k];
                _cleanup_close_ int bfd = oci_blob_open(dir_fd, l->digest);
                struct stat st;

                memcpy(l->diff_id, img->config.diff_ids[k], SHA256_HEX);
                if (bfd < 0)
                        return set_error_sentence(ret_error, bfd == -ENOMEM ? -ENOMEM : -EINVAL,
                                                  "Layer %zu's blob sha256:%s is %s.", k, l->digest,
                                                  bfd == -ENOENT ? "missing from blobs/sha256"
                                                                 : "not a regular file of blobs/sha256");
                if (fstat(bfd, &st) < 0)
                        return -errno;
                if ((uint64_t) st.st_size != l->size)
                        return set_error_sentence(
                                ret_error, -EBADMSG,
                                "Layer %zu's blob sha256:%s is %s than declared (%llu bytes, "
                                "the manifest says %llu).",
                                k, l->digest, (uint64_t) st.st_size > l->size ? "bigger" : "smaller",
                                (unsigned long long) st.st_size, (unsigned long long) l->size);
        }
        *ret = TAKE_PTR(img);
        return 0;
}

const char *oci_native_architecture(void) {
        struct utsname u;

        if (uname(&u) < 0)
                return NULL;
        if (streq(u.machine, "x86_64"))
                return "amd64";
        if (streq(u.machine, "aarch64"))
                return "arm64";
        return NULL;
}

/* ------------------------------------------------------------------------------ the tree */

typedef enum NodeType {
        NODE_DIR,
        NODE_FILE, /* also a FIFO or a hard link's name: anything that is not a directory or symlink */
        NODE_SYMLINK,
        NODE_WHITEOUT, /* a .wh. entry of the layer being checked */
} NodeType;

typedef struct Node {
        char *name;
        NodeType type;
        unsigned layer;
        void *children; /* tsearch() tree of Node, by name */
} Node;

struct OciTree {
        Node root;
        uint64_t entries;
};

static int node_compare(const void *a, const void *b) {
        return strcmp(((const Node *) a)->name, ((const Node *) b)->name);
}

static void node_free(void *p) {
        Node *n = p;

        if (!n)
                return;
        tdestroy(n->children, node_free);
        free(n->name);
        free(n);
}

static void node_drop_children(Node *n) {
        tdestroy(n->children, node_free);
        n->children = NULL;
}

OciTree *oci_tree_new(void) {
        return calloc(1, sizeof(OciTree));
}

OciTree *oci_tree_free(OciTree *t) {
        if (!t)
                return NULL;
        node_drop_children(&t->root);
        free(t);
        return NULL;
}

static Node *node_child(Node *parent, const char *name) {
        Node key = { .name = (char *) name };
        void *p = tfind(&key, &parent->children, node_compare);

        return p ? *(Node **) p : NULL;
}

static void node_remove(Node *parent, Node *child) {
        (void) tdelete(child, &parent->children, node_compare);
        node_free(child);
}

static Node *node_add(Node *parent, const char *name, NodeType type, unsigned layer) {
        Node *n = calloc(1, sizeof(Node));
        void *p;

        if (!n || !(n->name = strdup(name))) {
                free(n);
                return NULL;
        }
        n->type = type;
        n->layer = layer;
        p = tsearch(n, &parent->children, node_compare);
        if (!p || *(Node **) p != n) {
                node_free(n);
                return NULL;
        }
        return n;
}

/* Children of a lower layer go when a directory becomes opaque; twalk_r() cannot delete while it
 * walks, so they are collected first. */
typedef struct Collect {
        Node **nodes;
        size_t n, size;
        unsigned below;
} Collect;

static void collect_lower(const void *nodep, VISIT which, void *userdata) {
        Collect *c = userdata;
        Node *n = *(Node *const *) nodep;

        if ((which != postorder && which != leaf) || n->layer >= c->below)
                return;
        if (c->n == c->size) {
                Node **nn = realloc(c->nodes, (c->size * 2 + 8) * sizeof(Node *));

                if (!nn)
                        return;
                c->nodes = nn;
                c->size = c->size * 2 + 8;
        }
        c->nodes[c->n++] = n;
}

static void collect_dirs(const void *nodep, VISIT which, void *userdata) {
        Collect *c = userdata;
        Node *n = *(Node *const *) nodep;

        if ((which != postorder && which != leaf) || n->type != NODE_DIR || n->layer < c->below)
                return;
        if (c->n == c->size) {
                Node **nn = realloc(c->nodes, (c->size * 2 + 8) * sizeof(Node *));

                if (!nn)
                        return;
                c->nodes = nn;
                c->size = c->size * 2 + 8;
        }
        c->nodes[c->n++] = n;
}

/* Nothing of a lower layer stays below an opaque directory: what this layer has there stays, and
 * its directories lose their lower children in turn. */
static void node_make_opaque(Node *dir, unsigned layer) {
        Collect c = { .below = layer };

        twalk_r(dir->children, collect_lower, &c);
        for (size_t k = 0; k < c.n; k++)
                node_remove(dir, c.nodes[k]);
        c.n = 0;
        twalk_r(dir->children, collect_dirs, &c);
        for (size_t k = 0; k < c.n; k++)
                node_make_opaque(c.nodes[k], layer);
        free(c.nodes);
}

/* ------------------------------------------------------------------------------ paths */

/* A tar entry's name made relative and normal in place ("./a//b/" -> "a/b"; "." and "" -> ""), or
 * NULL with a reason in *why. */
static char *normalize_entry_path(char *p, const char **why) {
        char *out = p, *c = p;

        if (p[0] == '/') {
                *why = "is an absolute path";
                return NULL;
        }
        if (strlen(p) > 4096) {
                *why = "is longer than 4096 bytes";
                return NULL;
        }
        while (*c) {
                char *e = strchrnul(c, '/');
                size_t l = (size_t) (e - c);

                if (l == 2 && strneq(c, "..", 2)) {
                        *why = "has a '..' component (it would escape the image's root)";
                        return NULL;
                }
                if (l > 255) {
                        *why = "has a component longer than 255 bytes";
                        return NULL;
                }
                if (l > 0 && !(l == 1 && c[0] == '.')) {
                        if (out != p)
                                *out++ = '/';
                        memmove(out, c, l);
                        out += l;
                }
                c = *e ? e + 1 : e;
        }
        *out = 0;
        return p;
}

/* Splits "a/b/c" into "a/b" (or "") and "c". */
static const char *split_base(char *p) {
        char *slash = strrchr(p, '/');

        if (!slash)
                return p;
        *slash = 0;
        return slash + 1;
}

/* The last entry a message names: "layer 1 (sha256:…) entry 'etc/x'". */
static int refuse(char **ret_error, int r, unsigned index, const OciLayer *l, const char *entry,
                  const char *fmt, ...) _printf_(6, 7);
static int refuse(char **ret_error, int r, unsigned index, const OciLayer *l, const char *entry,
                  const char *fmt, ...) {
        _cleanup_free_ char *what = NULL;
        va_list ap;
        int k;

        va_start(ap, fmt);
        k = vasprintf(&what, fmt, ap);
        va_end(ap);
        if (k < 0)
                return -ENOMEM;
        if (entry)
                return set_error_sentence(ret_error, r, "Layer %u (sha256:%s): entry '%s' %s.", index,
                                          l->digest, printable(entry), what);
        return set_error_sentence(ret_error, r, "Layer %u (sha256:%s) %s.", index, l->digest, what);
}

/* ------------------------------------------------------------------------------ reading blobs */

#define BLOCK (128 * 1024)

typedef struct BlobReader {
        int fd;
        uint64_t declared, read;
        bool too_big;
        Sha256 sha;
        bool hashing;
        uint8_t buf[BLOCK];
} BlobReader;

static ssize_t blob_read_cb(struct archive *a, void *userdata, const void **ret) {
        BlobReader *b = userdata;
        ssize_t n;

        do
                n = read(b->fd, b->buf, sizeof(b->buf));
        while (n < 0 && errno == EINTR);
        if (n < 0) {
                archive_set_error(a, errno, "read: %s", strerror(errno));
                return -1;
        }
        b->read += (uint64_t) n;
        if (b->read > b->declared) {
                /* Stop at once: a blob bigger than declared is not read to its end. */
                b->too_big = true;
                archive_set_error(a, EFBIG, "bigger than declared");
                return -1;
        }
        if (b->hashing && sha256_update(&b->sha, b->buf, (size_t) n) < 0) {
                archive_set_error(a, EIO, "hash");
                return -1;
        }
        *ret = b->buf;
        return n;
}

/* Hashes what libarchive did not read (a trailer after the compressed stream). */
static int blob_drain(BlobReader *b) {
        for (;;) {
                ssize_t n = read(b->fd, b->buf, sizeof(b->buf));

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return 0;
                b->read += (uint64_t) n;
                if (b->read > b->declared) {
                        b->too_big = true;
                        return -EFBIG;
                }
                if (b->hashing && sha256_update(&b->sha, b->buf, (size_t) n) < 0)
                        return -EIO;
        }
}

static int blob_reader_start(BlobReader *b, int fd, const OciLayer *l) {
        *b = (BlobReader) { .fd = fd, .declared = l->size };
        if (lseek(fd, 0, SEEK_SET) < 0)
                return -errno;
        if (sha256_init(&b->sha) < 0)
                return -ENOMEM;
        b->hashing = true;
        return 0;
}

static void blob_reader_done(BlobReader *b) {
        if (b->hashing)
                sha256_done(&b->sha);
        b->hashing = false;
}

/* Finishes the blob's hash into hex. */
static int blob_reader_final(BlobReader *b, char hex[static SHA256_HEX]) {
        uint8_t d[SHA256_BYTES];
        int r = sha256_final(&b->sha, d);

        b->hashing = false;
        if (r < 0)
                return r;
        hex_encode(d, SHA256_BYTES, hex);
        return 0;
}

static struct archive *archive_for(const OciLayer *l, bool raw) {
        struct archive *a = archive_read_new();

        if (!a)
                return NULL;
        if ((l->compression == OCI_COMPRESSION_GZIP && archive_read_support_filter_gzip(a) != ARCHIVE_OK) ||
            (l->compression == OCI_COMPRESSION_ZSTD && archive_read_support_filter_zstd(a) != ARCHIVE_OK) ||
            (raw ? archive_read_support_format_raw(a) : archive_read_support_format_tar(a)) != ARCHIVE_OK) {
                archive_read_free(a);
                return NULL;
        }
        return a;
}

static uint64_t expansion_limit(const OciLayer *l) {
        uint64_t lim = OCI_EXPANSION_BASE;

        if (l->size > (OCI_LAYER_MAX_BYTES - lim) / OCI_MAX_EXPANSION)
                return OCI_LAYER_MAX_BYTES;
        return lim + l->size * OCI_MAX_EXPANSION;
}

/* Pass one: the blob's digest and size, its uncompressed size (bounded) and diff_id. */
static int check_stream(int blob_fd, const OciLayer *l, unsigned index, OciLayerReport *report,
                        char **ret_error) {
        _cleanup_(archive_read_freep) struct archive *a = archive_for(l, true);
        _cleanup_free_ BlobReader *b = malloc(sizeof(BlobReader));
        struct archive_entry *e;
        uint64_t limit = expansion_limit(l), out = 0;
        Sha256 diff;
        bool diff_open = false;
        uint8_t d[SHA256_BYTES];
        int r;

        if (!a || !b)
                return -ENOMEM;
        r = blob_reader_start(b, blob_fd, l);
        if (r < 0)
                return r;
        r = sha256_init(&diff);
        if (r < 0) {
                blob_reader_done(b);
                return r;
        }
        diff_open = true;
        if (archive_read_open(a, b, NULL, blob_read_cb, NULL) != ARCHIVE_OK ||
            archive_read_next_header(a, &e) != ARCHIVE_OK) {
                if (b->too_big)
                        r = refuse(ret_error, -EBADMSG, index, l, NULL,
                                   "is bigger than its descriptor's %llu bytes",
                                   (unsigned long long) l->size);
                else
                        r = refuse(ret_error, -EINVAL, index, l, NULL,
                                   "cannot be read as a %s tar layer: %s",
                                   oci_compression_to_string(l->compression),
                                   printable(archive_error_string(a)));
                goto done;
        }
        for (;;) {
                const void *p;
                size_t n;
                int64_t off;
                int k = archive_read_data_block(a, &p, &n, &off);

                if (k == ARCHIVE_EOF)
                        break;
                if (k != ARCHIVE_OK) {
                        if (b->too_big)
                                r = refuse(ret_error, -EBADMSG, index, l, NULL,
                                           "is bigger than its descriptor's %llu bytes",
                                           (unsigned long long) l->size);
                        else
                                r = refuse(ret_error, -EINVAL, index, l, NULL, "cannot be decompressed: %s",
                                           printable(archive_error_string(a)));
                        goto done;
                }
                out += n;
                if (out > limit) {
                        r = refuse(
                                ret_error, -EFBIG, index, l, NULL,
                                "decompresses to more than %llu bytes (from %llu): a decompression bomb is refused",
                                (unsigned long long) limit, (unsigned long long) l->size);
                        goto done;
                }
                if (sha256_update(&diff, p, n) < 0) {
                        r = -EIO;
                        goto done;
                }
        }
        r = blob_drain(b);
        if (r < 0) {
                r = r == -EFBIG
                        ? refuse(ret_error, -EBADMSG, index, l, NULL,
                                 "is bigger than its descriptor's %llu bytes", (unsigned long long) l->size)
                        : r;
                goto done;
        }
        report->uncompressed_bytes = out;
        r = blob_reader_final(b, report->digest);
        if (r < 0)
                goto done;
        diff_open = false;
        r = sha256_final(&diff, d);
        if (r < 0)
                goto done;
        hex_encode(d, SHA256_BYTES, report->diff_id);
        if (b->read != l->size)
                r = refuse(ret_error, -EBADMSG, index, l, NULL,
                           "is %llu bytes, not the %llu its descriptor declares",
                           (unsigned long long) b->read, (unsigned long long) l->size);
        else if (!streq(report->digest, l->digest))
                r = refuse(ret_error, -EBADMSG, index, l, NULL,
                           "does not match its digest: the blob hashes to sha256:%s", report->digest);
        else if (!streq(report->diff_id, l->diff_id))
                r = refuse(ret_error, -EBADMSG, index, l, NULL,
                           "does not match the config's diff_id sha256:%s: its tar hashes to sha256:%s",
                           l->diff_id, report->diff_id);
done:
        if (diff_open)
                sha256_done(&diff);
        blob_reader_done(b);
        return r;
}

typedef enum EntryKind {
        ENTRY_DIR,
        ENTRY_FILE,
        ENTRY_SYMLINK,
        ENTRY_HARDLINK,
        ENTRY_FIFO,
        ENTRY_WHITEOUT,
        ENTRY_OPAQUE,
        ENTRY_ROOT,
} EntryKind;

/* What a tar entry is, its normalized path (in path: parent) and base; a refusal otherwise. */
static int classify(struct archive_entry *e, unsigned index, const OciLayer *l, char **ret_path,
                    const char **ret_base, EntryKind *ret_kind, char **ret_error) {
        const char *name = archive_entry_pathname(e), *why = NULL, *base;
        _cleanup_free_ char *p = NULL;
        mode_t type = archive_entry_filetype(e);

        if (!name)
                return refuse(ret_error, -EINVAL, index, l, NULL, "has an entry whose name cannot be read");
        p = malloc(strlen(name) + 2); /* room for the "" parent of a top-level entry, below */
        if (!p)
                return -ENOMEM;
        strcpy(p, name);
        if (!normalize_entry_path(p, &why))
                return refuse(ret_error, -EINVAL, index, l, name, "%s", why);
        if (!*p) {
                if (type != AE_IFDIR)
                        return refuse(ret_error, -EINVAL, index, l, name,
                                      "names the root but is not a directory");
                *ret_kind = ENTRY_ROOT;
                *ret_base = NULL;
                *ret_path = TAKE_PTR(p);
                return 0;
        }
        base = split_base(p);
        if (base == p)
                memmove(p + 1, p, strlen(p) + 1), p[0] = 0, base = p + 1; /* parent "" */
        /* A directory on the way may not be a whiteout or aufs metadata (.wh..wh.plnk/...). */
        for (const char *c = p; *c; c = strchrnul(c, '/'), c += !!*c)
                if (startswith(c, WHITEOUT_PREFIX))
                        return refuse(ret_error, -EINVAL, index, l, name,
                                      "lies below a whiteout name (.wh.*), which only a layer's last path "
                                      "component may be");
        if (streq(base, WHITEOUT_OPAQUE))
                *ret_kind = ENTRY_OPAQUE;
        else if (startswith(base, WHITEOUT_PREFIX WHITEOUT_PREFIX))
                return refuse(ret_error, -EINVAL, index, l, name,
                              "is aufs metadata (.wh..wh.*), which OCI layers do not hold");
        else if (startswith(base, WHITEOUT_PREFIX)) {
                const char *t = base + strlen(WHITEOUT_PREFIX);

                if (!*t || streq(t, ".") || streq(t, ".."))
                        return refuse(ret_error, -EINVAL, index, l, name, "is a whiteout of nothing");
                *ret_kind = ENTRY_WHITEOUT;
        } else if (archive_entry_hardlink(e))
                *ret_kind = ENTRY_HARDLINK;
        else
                switch (type) {
                case AE_IFDIR:
                        *ret_kind = ENTRY_DIR;
                        break;
                case AE_IFREG:
                        *ret_kind = ENTRY_FILE;
                        break;
                case AE_IFLNK:
                        if (!archive_entry_symlink(e))
                                return refuse(ret_error, -EINVAL, index, l, name,
                                              "is a symbolic link to nothing");
                        *ret_kind = ENTRY_SYMLINK;
                        break;
                case AE_IFIFO:
                        *ret_kind = ENTRY_FIFO;
                        break;
                case AE_IFCHR:
                case AE_IFBLK:
                        return refuse(ret_error, -EINVAL, index, l, name,
                                      "is a device node (%s %u:%u): images may not carry devices",
                                      type == AE_IFCHR ? "character" : "block",
                                      (unsigned) archive_entry_rdevmajor(e),
                                      (unsigned) archive_entry_rdevminor(e));
                case AE_IFSOCK:
                        return refuse(ret_error, -EINVAL, index, l, name, "is a socket");
                default:
                        return refuse(ret_error, -EINVAL, index, l, name, "is of an unknown type (0%o)",
                                      (unsigned) type);
                }
        *ret_base = base;
        *ret_path = TAKE_PTR(p);
        return 0;
}

static int check_xattrs(struct archive_entry *e, unsigned index, const OciLayer *l, const char *name,
                        char **ret_error) {
        const char *x;
        const void *v;
        size_t n;

        archive_entry_xattr_reset(e);
        while (archive_entry_xattr_next(e, &x, &v, &n) == ARCHIVE_OK)
                if (startswith(x, "trusted."))
                        return refuse(
                                ret_error, -EINVAL, index, l, name,
                                "carries the xattr '%s' (the trusted.* namespace is overlayfs' and the "
                                "host's, never an image's)",
                                printable(x));
        return 0;
}

/* The directory node of parent path p ("" = root) in the tree, made on the way where the tar left
 * out a directory; a refusal when a component is a symbolic link or not a directory. */
static int tree_parent(OciTree *t, const char *p, unsigned layer, unsigned index, const OciLayer *l,
                       const char *entry, Node **ret, char **ret_error) {
        _cleanup_free_ char *copy = strdup(p);
        Node *n = &t->root;
        char *c, *save = NULL;

        if (!copy)
                return -ENOMEM;
        for (c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                Node *child = node_child(n, c);

                if (child && child->type == NODE_WHITEOUT) {
                        /* Made again below a whiteout: a new (opaque) directory. */
                        node_remove(n, child);
                        child = NULL;
                }
                if (!child) {
                        child = node_add(n, c, NODE_DIR, layer);
                        if (!child)
                                return -ENOMEM;
                } else if (child->type == NODE_SYMLINK) {
                        size_t upto = (size_t) (c - copy) + strlen(c);

                        return refuse(
                                ret_error, -EINVAL, index, l, entry,
                                "would be written through '%.*s', a symbolic link%s (it could land outside "
                                "the image's root)",
                                (int) upto, p, child->layer < layer ? " of a lower layer" : "");
                } else if (child->type != NODE_DIR) {
                        size_t upto = (size_t) (c - copy) + strlen(c);

                        return refuse(ret_error, -EINVAL, index, l, entry,
                                      "is below '%.*s', which is not a directory", (int) upto, p);
                }
                /* This layer has it too now (the unpack makes it): an opaque directory above keeps it. */
                child->layer = MAX(child->layer, layer);
                n = child;
        }
        *ret = n;
        return 0;
}

/* Pass two: every entry against the tree. */
static int check_entries(int blob_fd, const OciLayer *l, unsigned index, OciTree *t, OciLayerReport *report,
                         char **ret_error) {
        _cleanup_(archive_read_freep) struct archive *a = archive_for(l, false);
        _cleanup_free_ BlobReader *b = malloc(sizeof(BlobReader));
        struct archive_entry *e;
        unsigned layer = index + 1; /* 0 is "no layer" */
        int r = 0, k;

        if (!a || !b)
                return -ENOMEM;
        r = blob_reader_start(b, blob_fd, l);
        if (r < 0)
                return r;
        blob_reader_done(b); /* pass one hashed it */
        if (archive_read_open(a, b, NULL, blob_read_cb, NULL) != ARCHIVE_OK)
                return refuse(ret_error, -EINVAL, index, l, NULL, "cannot be read: %s",
                              printable(archive_error_string(a)));
        while ((k = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
                _cleanup_free_ char *path = NULL;
                const char *base = NULL, *name = archive_entry_pathname(e);
                EntryKind kind;
                Node *parent = NULL, *old;

                if (++t->entries > OCI_ENTRIES_MAX)
                        return refuse(ret_error, -EFBIG, index, l, NULL,
                                      "brings the image to more than %d entries", OCI_ENTRIES_MAX);
                report->entries++;
                r = classify(e, index, l, &path, &base, &kind, ret_error);
                if (r < 0)
                        return r;
                r = check_xattrs(e, index, l, name, ret_error);
                if (r < 0)
                        return r;
                if (kind == ENTRY_ROOT)
                        continue;
                r = tree_parent(t, path, layer, index, l, name, &parent, ret_error);
                if (r < 0)
                        return r;
                if (kind == ENTRY_FILE && (archive_entry_mode(e) & (S_ISUID | S_ISGID))) {
                        if (report->setuid_files++ == 0)
                                report->first_setuid = strdup(name);
                }
                old = kind == ENTRY_OPAQUE
                        ? NULL
                        : node_child(parent, kind == ENTRY_WHITEOUT ? base + strlen(WHITEOUT_PREFIX) : base);
                switch (kind) {
                case ENTRY_OPAQUE:
                        node_make_opaque(parent, layer);
                        break;
                case ENTRY_WHITEOUT:
                        /* It hides what lower layers have there, not what this layer made. */
                        if (old && old->layer == layer)
                                break;
                        if (old)
                                node_remove(parent, old);
                        if (!node_add(parent, base + strlen(WHITEOUT_PREFIX), NODE_WHITEOUT, layer))
                                return -ENOMEM;
                        break;
                case ENTRY_DIR:
                        if (old && old->type == NODE_DIR) {
                                old->layer = MAX(old->layer, layer);
                                break;
                        }
                        if (old)
                                node_remove(parent, old);
                        if (!node_add(parent, base, NODE_DIR, layer))
                                return -ENOMEM;
                        break;
                case ENTRY_HARDLINK: {
                        _cleanup_free_ char *target = strdup(archive_entry_hardlink(e));
                        const char *tbase, *why = NULL;
                        Node *tparent = &t->root, *tn;

                        if (!target)
                                return -ENOMEM;
                        if (!normalize_entry_path(target, &why) || !*target)
                                return refuse(ret_error, -EINVAL, index, l, name,
                                              "is a hard link to '%s', which is outside the layer",
                                              printable(archive_entry_hardlink(e)));
                        tbase = split_base(target);
                        if (tbase != target) {
                                /* Walk without making anything: the target must exist. */
                                _cleanup_free_ char *copy = strdup(target);
                                char *c, *save = NULL;

                                if (!copy)
                                        return -ENOMEM;
                                for (c = strtok_r(copy, "/", &save); c && tparent;
                                     c = strtok_r(NULL, "/", &save)) {
                                        Node *x = node_child(tparent, c);

                                        tparent = x && x->type == NODE_DIR ? x : NULL;
                                }
                        }
                        tn = tparent ? node_child(tparent, tbase) : NULL;
                        if (!tn || tn->layer != layer || tn->type == NODE_DIR || tn->type == NODE_WHITEOUT)
                                return refuse(
                                        ret_error, -EINVAL, index, l, name,
                                        "is a hard link to '%s', which is no earlier file of this layer",
                                        printable(archive_entry_hardlink(e)));
                }
                        _fallthrough_;
                case ENTRY_FILE:
                case ENTRY_FIFO:
                case ENTRY_SYMLINK:
                        if (old && old->type == NODE_DIR && old->layer == layer && old->children)
                                return refuse(ret_error, -EINVAL, index, l, name,
                                              "replaces a directory this layer filled");
                        if (old)
                                node_remove(parent, old);
                        if (!node_add(parent, base, kind == ENTRY_SYMLINK ? NODE_SYMLINK : NODE_FILE, layer))
                                return -ENOMEM;
                        break;
                case ENTRY_ROOT:
                        break;
                }
                if (archive_read_data_skip(a) != ARCHIVE_OK)
                        return refuse(ret_error, -EINVAL, index, l, name, "cannot be read: %s",
                                      printable(archive_error_string(a)));
        }
        if (k != ARCHIVE_EOF)
                return refuse(ret_error, b->too_big ? -EBADMSG : -EINVAL, index, l, NULL,
                              "is not a valid tar archive: %s", printable(archive_error_string(a)));
        return 0;
}

int oci_layer_check(int blob_fd, const OciLayer *l, unsigned index, OciTree *t, OciLayerReport *report,
                    char **ret_error) {
        int r;

        r = check_stream(blob_fd, l, index, report, ret_error);
        if (r < 0)
                return r;
        return check_entries(blob_fd, l, index, t, report, ret_error);
}

/* ------------------------------------------------------------------------------ unpacking */

static bool is_whiteout_device(int dir_fd, const char *name) {
        struct stat st;

        return fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) >= 0 && S_ISCHR(st.st_mode) &&
                st.st_rdev == 0;
}

/* Makes a directory `name` in dir_fd that is opaque when it replaces a whiteout of this layer. */
static int make_dir(int dir_fd, const char *name, mode_t mode) {
        bool opaque = false;
        struct stat st;

        if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) >= 0) {
                if (S_ISDIR(st.st_mode))
                        return 0;
                opaque = S_ISCHR(st.st_mode) && st.st_rdev == 0;
                if (unlinkat(dir_fd, name, 0) < 0)
                        return -errno;
        }
        if (mkdirat(dir_fd, name, mode) < 0 && errno != EEXIST)
                return -errno;
        if (opaque) {
                _cleanup_close_ int fd =
                        openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

                if (fd < 0)
                        return -errno;
                if (fsetxattr(fd, OVERLAY_OPAQUE_XATTR, "y", 1, 0) < 0)
                        return -errno;
        }
        return 0;
}

/* Opens directory p ("" = dest itself) below dest_fd, one component at a time with O_NOFOLLOW,
 * making the ones the tar left out (0755, root's). */
static int open_dir(int dest_fd, const char *p, bool create) {
        _cleanup_free_ char *copy = strdup(p);
        _cleanup_close_ int fd = fcntl(dest_fd, F_DUPFD_CLOEXEC, 3);
        char *c, *save = NULL;

        if (!copy)
                return -ENOMEM;
        if (fd < 0)
                return -errno;
        for (c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                int nfd = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

                if (nfd < 0 && create &&
                    (errno == ENOENT || (errno == ENOTDIR && is_whiteout_device(fd, c)))) {
                        int r = make_dir(fd, c, 0755);

                        if (r < 0)
                                return r;
                        nfd = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                }
                if (nfd < 0)
                        return errno == ELOOP ? -ELOOP : -errno;
                safe_close(fd);
                fd = nfd;
        }
        return TAKE_FD(fd);
}

/* Removes what is at name (not a directory that has anything in it). */
static int remove_existing(int dir_fd, const char *name) {
        struct stat st;

        if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (unlinkat(dir_fd, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0)
                return -errno;
        return 0;
}

static bool xattr_kept(const char *name) {
        return startswith(name, "user.") || streq(name, "security.capability");
}

static int apply_xattrs(int fd, struct archive_entry *e) {
        const char *x;
        const void *v;
        size_t n;

        archive_entry_xattr_reset(e);
        while (archive_entry_xattr_next(e, &x, &v, &n) == ARCHIVE_OK)
                if (xattr_kept(x) && fsetxattr(fd, x, v, n, 0) < 0)
                        return -errno;
        return 0;
}

/* Owner, mode (after the owner: chown clears setuid), xattrs, times of an open file or directory. */
static int apply_meta(int fd, struct archive_entry *e, bool times) {
        if (fchown(fd, (uid_t) archive_entry_uid(e), (gid_t) archive_entry_gid(e)) < 0)
                return -errno;
        if (fchmod(fd, archive_entry_perm(e) & 07777) < 0)
                return -errno;
        if (apply_xattrs(fd, e) < 0)
                return -errno;
        if (times) {
                struct timespec ts[2] = {
                        { .tv_sec = archive_entry_atime(e), .tv_nsec = archive_entry_atime_nsec(e) },
                        { .tv_sec = archive_entry_mtime(e), .tv_nsec = archive_entry_mtime_nsec(e) },
                };
                if (!archive_entry_atime_is_set(e))
                        ts[0] = ts[1];
                if (futimens(fd, ts) < 0)
                        return -errno;
        }
        return 0;
}

static int write_file(struct archive *a, int dir_fd, const char *name, struct archive_entry *e,
                      uint64_t *written, uint64_t limit) {
        _cleanup_close_ int fd = -EBADF;
        int r = remove_existing(dir_fd, name);

        if (r < 0)
                return r;
        fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        for (;;) {
                const void *p;
                size_t n;
                int64_t off;
                int k = archive_read_data_block(a, &p, &n, &off);

                if (k == ARCHIVE_EOF)
                        break;
                if (k != ARCHIVE_OK)
                        return -EIO;
                *written += n;
                if (*written > limit)
                        return -EFBIG;
                for (size_t done = 0; done < n;) {
                        ssize_t w = pwrite(fd, (const char *) p + done, n - done, off + (off_t) done);

                        if (w < 0 && errno == EINTR)
                                continue;
                        if (w < 0)
                                return -errno;
                        done += (size_t) w;
                }
        }
        if (ftruncate(fd, archive_entry_size(e)) < 0) /* a sparse file's hole at its end */
                return -errno;
        return apply_meta(fd, e, true);
}

static int unpack_entry(struct archive *a, struct archive_entry *e, int dest_fd, const char *parent_path,
                        const char *base, EntryKind kind, uint64_t *written, uint64_t limit) {
        _cleanup_close_ int dfd = -EBADF;
        int r;

        if (kind == ENTRY_ROOT)
                return apply_meta(dest_fd, e, false);
        dfd = open_dir(dest_fd, parent_path, true);
        if (dfd < 0)
                return dfd;
        switch (kind) {
        case ENTRY_OPAQUE:
                return fsetxattr(dfd, OVERLAY_OPAQUE_XATTR, "y", 1, 0) < 0 ? -errno : 0;
        case ENTRY_WHITEOUT: {
                const char *t = base + strlen(WHITEOUT_PREFIX);
                struct stat st;

                /* This layer's own entry of that name stays: the whiteout hides lower layers only. */
                if (fstatat(dfd, t, &st, AT_SYMLINK_NOFOLLOW) >= 0)
                        return 0;
                return mknodat(dfd, t, S_IFCHR | 0000, makedev(0, 0)) < 0 ? -errno : 0;
        }
        case ENTRY_DIR: {
                _cleanup_close_ int fd = -EBADF;

                r = make_dir(dfd, base, 0700);
                if (r < 0)
                        return r;
                fd = openat(dfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        return -errno;
                /* Directory times change as entries land in them; they are not kept. */
                return apply_meta(fd, e, false);
        }
        case ENTRY_FILE:
                return write_file(a, dfd, base, e, written, limit);
        case ENTRY_SYMLINK: {
                struct timespec ts[2] = {
                        { .tv_sec = archive_entry_mtime(e), .tv_nsec = archive_entry_mtime_nsec(e) },
                        { .tv_sec = archive_entry_mtime(e), .tv_nsec = archive_entry_mtime_nsec(e) },
                };

                r = remove_existing(dfd, base);
                if (r < 0)
                        return r;
                if (symlinkat(archive_entry_symlink(e), dfd, base) < 0 ||
                    fchownat(dfd, base, (uid_t) archive_entry_uid(e), (gid_t) archive_entry_gid(e),
                             AT_SYMLINK_NOFOLLOW) < 0 ||
                    utimensat(dfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
                        return -errno;
                return 0;
        }
        case ENTRY_FIFO: {
                _cleanup_close_ int fd = -EBADF;

                r = remove_existing(dfd, base);
                if (r < 0)
                        return r;
                if (mknodat(dfd, base, S_IFIFO | 0600, 0) < 0)
                        return -errno;
                fd = openat(dfd, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        return -errno;
                if (fchownat(fd, "", (uid_t) archive_entry_uid(e), (gid_t) archive_entry_gid(e),
                             AT_EMPTY_PATH) < 0)
                        return -errno;
                return fchmodat(dfd, base, archive_entry_perm(e) & 07777, 0) < 0 ? -errno : 0;
        }
        case ENTRY_HARDLINK: {
                _cleanup_free_ char *target = strdup(archive_entry_hardlink(e));
                _cleanup_close_ int tfd = -EBADF;
                const char *tbase, *why = NULL;

                if (!target)
                        return -ENOMEM;
                if (!normalize_entry_path(target, &why) || !*target)
                        return -EINVAL;
                tbase = split_base(target);
                tfd = open_dir(dest_fd, tbase == target ? "" : target, false);
                if (tfd < 0)
                        return tfd;
                r = remove_existing(dfd, base);
                if (r < 0)
                        return r;
                return linkat(tfd, tbase, dfd, base, 0) < 0 ? -errno : 0;
        }
        case ENTRY_ROOT:
                break;
        }
        return 0;
}

int oci_layer_unpack(int blob_fd, const OciLayer *l, unsigned index, int dest_fd, char **ret_error) {
        _cleanup_(archive_read_freep) struct archive *a = archive_for(l, false);
        _cleanup_free_ BlobReader *b = malloc(sizeof(BlobReader));
        struct archive_entry *e;
        uint64_t written = 0, limit = expansion_limit(l);
        char got[SHA256_HEX];
        int r = 0, k;

        if (!a || !b)
                return -ENOMEM;
        r = blob_reader_start(b, blob_fd, l);
        if (r < 0)
                return r;
        if (archive_read_open(a, b, NULL, blob_read_cb, NULL) != ARCHIVE_OK) {
                r = refuse(ret_error, -EINVAL, index, l, NULL, "cannot be read: %s",
                           printable(archive_error_string(a)));
                goto done;
        }
        while ((k = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
                _cleanup_free_ char *path = NULL;
                const char *base = NULL, *name = archive_entry_pathname(e);
                EntryKind kind;

                r = classify(e, index, l, &path, &base, &kind, ret_error);
                if (r < 0)
                        goto done;
                r = unpack_entry(a, e, dest_fd, path, base, kind, &written, limit);
                if (r < 0) {
                        r = refuse(ret_error,
                                   r == -EFBIG           ? -EFBIG
                                           : r == -ELOOP ? -EINVAL
                                                         : r,
                                   index, l, name, "cannot be unpacked: %s", strerror(-r));
                        goto done;
                }
        }
        if (k != ARCHIVE_EOF) {
                r = refuse(ret_error, -EINVAL, index, l, NULL, "is not a valid tar archive: %s",
                           printable(archive_error_string(a)));
                goto done;
        }
        r = blob_drain(b);
        if (r >= 0)
                r = blob_reader_final(b, got);
        if (r >= 0 && (b->read != l->size || !streq(got, l->digest)))
                r = refuse(ret_error, -EBADMSG, index, l, NULL, "changed after it was checked");
        else if (r < 0)
                r = refuse(ret_error, r == -EFBIG ? -EBADMSG : r, index, l, NULL,
                           "cannot be read to its end: %s", strerror(-r));
done:
        blob_reader_done(b);
        return r;
}

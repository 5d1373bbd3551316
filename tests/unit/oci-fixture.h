#pragma once

/* OCI image layouts for tests (header-only, for unit and integration tests; include after
 * <cmocka.h>): one made independently of Ark's code by umoci from busybox-static, layers written
 * here with libarchive (hostile ones included), a whole layout around such layers, and a layer
 * recompressed with zstd with the manifest rewritten to match. Failures are cmocka assertions. */

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "shared/crypto.h"
#include "shared/oci-image.h"

typedef struct OEntry {
        const char *path;
        unsigned type;    /* AE_IFREG (0 too), AE_IFDIR, AE_IFLNK, AE_IFCHR, AE_IFBLK, AE_IFIFO */
        unsigned mode;    /* 0: 0644 (0755 for a directory) */
        const char *data; /* a file's content */
        const char *link; /* a symbolic link's target */
        const char *hardlink;
        unsigned uid, gid;
        const char *xattr; /* one xattr NAME=VALUE */
        size_t zeros;      /* a file of that many zero bytes instead of data (a bomb) */
} OEntry;

static void ofx_hex(const void *p, size_t n, char hex[static SHA256_HEX]) {
        uint8_t d[SHA256_BYTES];

        assert_int_equal(sha256_buffer(p, n, d), 0);
        hex_encode(d, SHA256_BYTES, hex);
}

static void ofx_write(const char *path, const void *p, size_t n) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        assert_true(fd >= 0);
        assert_int_equal(loop_write(fd, p, n), 0);
        close(fd);
}

static char *ofx_read(const char *path, size_t *ret_n) {
        char *p = NULL;

        assert_int_equal(read_full_file(path, &p, ret_n), 0);
        return p;
}

/* Writes through libarchive into memory: tar (pax) when entries, else one raw stream of `raw`. */
typedef struct OBuf {
        char *p;
        size_t n, size;
} OBuf;

static la_ssize_t ofx_write_cb(struct archive *a, void *userdata, const void *p, size_t n) {
        OBuf *b = userdata;

        if (b->n + n > b->size) {
                b->size = (b->n + n) * 2;
                b->p = realloc(b->p, b->size);
                assert_non_null(b->p);
        }
        memcpy(b->p + b->n, p, n);
        b->n += n;
        return (la_ssize_t) n;
}

static void ofx_add_filter(struct archive *a, OciCompression c) {
        if (c == OCI_COMPRESSION_GZIP)
                assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
        else if (c == OCI_COMPRESSION_ZSTD)
                assert_int_equal(archive_write_add_filter_zstd(a), ARCHIVE_OK);
}

/* The uncompressed tar of entries (for its diff_id) and the layer blob compressed with c. */
static void ofx_layer(const OEntry *es, size_t n, OciCompression c, char **ret_blob, size_t *ret_size,
                      char diff_id[static SHA256_HEX]) {
        OBuf out[2] = {};

        for (int pass = 0; pass < 2; pass++) {
                struct archive *a;

                /* A bomb's tar is not made in memory: it is refused before its diff_id matters. */
                if (pass == 0 && n == 1 && es[0].zeros) {
                        memset(diff_id, '0', SHA256_HEX - 1);
                        diff_id[SHA256_HEX - 1] = 0;
                        continue;
                }
                a = archive_write_new();

                assert_non_null(a);
                assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
                if (pass == 1)
                        ofx_add_filter(a, c);
                assert_int_equal(archive_write_set_bytes_in_last_block(a, 1), ARCHIVE_OK);
                assert_int_equal(archive_write_open2(a, &out[pass], NULL, ofx_write_cb, NULL, NULL),
                                 ARCHIVE_OK);
                for (size_t k = 0; k < n; k++) {
                        const OEntry *x = &es[k];
                        struct archive_entry *e = archive_entry_new();
                        unsigned type = x->type ?: AE_IFREG;
                        size_t size = type == AE_IFREG && !x->hardlink
                                ? (x->zeros ?: strlen(strempty(x->data)))
                                : 0;

                        archive_entry_set_pathname(e, x->path);
                        archive_entry_set_filetype(e, type);
                        archive_entry_set_perm(e, x->mode ?: type == AE_IFDIR ? 0755 : 0644);
                        archive_entry_set_uid(e, x->uid);
                        archive_entry_set_gid(e, x->gid);
                        archive_entry_set_mtime(e, 1700000000, 0);
                        archive_entry_set_size(e, (la_int64_t) size);
                        if (x->link)
                                archive_entry_set_symlink(e, x->link);
                        if (x->hardlink)
                                archive_entry_set_hardlink(e, x->hardlink);
                        if (type == AE_IFCHR || type == AE_IFBLK)
                                archive_entry_set_rdev(e, makedev(1, 3));
                        if (x->xattr) {
                                const char *eq = strchr(x->xattr, '=');
                                _cleanup_free_ char *name = strndup(x->xattr, (size_t) (eq - x->xattr));

                                archive_entry_xattr_add_entry(e, name, eq + 1, strlen(eq + 1));
                        }
                        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
                        if (x->zeros) {
                                static const char z[65536];

                                for (size_t w = 0; w < x->zeros; w += sizeof(z))
                                        assert_true(archive_write_data(a, z, MIN(sizeof(z), x->zeros - w)) >
                                                    0);
                        } else if (size > 0)
                                assert_int_equal(archive_write_data(a, x->data, size), (la_ssize_t) size);
                        archive_entry_free(e);
                }
                assert_int_equal(archive_write_close(a), ARCHIVE_OK);
                archive_write_free(a);
        }
        if (out[0].p)
                ofx_hex(out[0].p, out[0].n, diff_id);
        free(out[0].p);
        *ret_blob = out[1].p;
        *ret_size = out[1].n;
}

/* Writes blob p into <dir>/blobs/sha256/<its digest>. */
static void ofx_put_blob(const char *dir, const void *p, size_t n, char hex[static SHA256_HEX]) {
        _cleanup_free_ char *d = strprintf("%s/blobs/sha256", dir), *f = NULL;

        ofx_hex(p, n, hex);
        assert_int_equal(mkdir_p(d, 0755), 0);
        f = strprintf("%s/%s", d, hex);
        ofx_write(f, p, n);
}

static const char *ofx_media_type(OciCompression c) {
        return c == OCI_COMPRESSION_GZIP    ? "application/vnd.oci.image.layer.v1.tar+gzip"
                : c == OCI_COMPRESSION_ZSTD ? "application/vnd.oci.image.layer.v1.tar+zstd"
                                            : "application/vnd.oci.image.layer.v1.tar";
}

typedef struct OLayer {
        const OEntry *entries;
        size_t n;
        OciCompression compression;
} OLayer;

/* A whole layout in dir (made): the layers, a config (entrypoint /bin/busybox sh), the manifest,
 * index.json tagged `tag`, oci-layout. */
static void ofx_layout(const char *dir, const OLayer *layers, size_t n, const char *tag) {
        json_t *diff_ids = json_array(), *descs = json_array(), *config, *manifest, *index;
        char hex[SHA256_HEX];
        char *text;
        _cleanup_free_ char *p = NULL;

        assert_int_equal(mkdir_p(dir, 0755), 0);
        for (size_t k = 0; k < n; k++) {
                _cleanup_free_ char *blob = NULL, *d = NULL, *did = NULL;
                char diff[SHA256_HEX];
                size_t size;

                ofx_layer(layers[k].entries, layers[k].n, layers[k].compression, &blob, &size, diff);
                ofx_put_blob(dir, blob, size, hex);
                d = strprintf("sha256:%s", hex);
                did = strprintf("sha256:%s", diff);
                json_array_append_new(diff_ids, json_string(did));
                json_array_append_new(descs,
                                      json_pack("{s:s, s:s, s:I}", "mediaType",
                                                ofx_media_type(layers[k].compression), "digest", d, "size",
                                                (json_int_t) size));
        }
        config = json_pack("{s:s, s:s, s:{s:[s], s:[s], s:[s], s:s}, s:{s:s, s:o}}", "architecture",
                           oci_native_architecture(), "os", "linux", "config", "Entrypoint", "/bin/busybox",
                           "Cmd", "sh", "Env", "PATH=/bin", "WorkingDir", "/", "rootfs", "type", "layers",
                           "diff_ids", diff_ids);
        assert_non_null(config);
        text = json_dumps(config, JSON_COMPACT);
        ofx_put_blob(dir, text, strlen(text), hex);
        p = strprintf("sha256:%s", hex);
        manifest = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:o}", "schemaVersion", 2, "mediaType",
                             "application/vnd.oci.image.manifest.v1+json", "config", "mediaType",
                             "application/vnd.oci.image.config.v1+json", "digest", p, "size",
                             (json_int_t) strlen(text), "layers", descs);
        free(text);
        text = json_dumps(manifest, JSON_COMPACT);
        ofx_put_blob(dir, text, strlen(text), hex);
        free(p);
        p = strprintf("sha256:%s", hex);
        index = json_pack("{s:i, s:[{s:s, s:s, s:I, s:{s:s}}]}", "schemaVersion", 2, "manifests",
                          "mediaType", "application/vnd.oci.image.manifest.v1+json", "digest", p, "size",
                          (json_int_t) strlen(text), "annotations", "org.opencontainers.image.ref.name",
                          tag);
        free(text);
        text = json_dumps(index, JSON_COMPACT);
        free(p);
        p = path_join(dir, "index.json");
        ofx_write(p, text, strlen(text));
        free(text);
        free(p);
        p = path_join(dir, "oci-layout");
        ofx_write(p, "{\"imageLayoutVersion\":\"1.0.0\"}", 30);
        json_decref(config);
        json_decref(manifest);
        json_decref(index);
}

/* The image umoci makes from busybox-static in <parent>/<name> (tag "latest"): layer 0 has
 * bin/busybox, bin/sh -> busybox, etc/gone ("bye"), etc/kept (0640, 1000:1000); layer 1 deletes
 * etc/gone (a whiteout) and adds srv/added ("new"). Entrypoint /bin/busybox, Cmd sh, Env FOO=bar,
 * WorkingDir /srv. -EOPNOTSUPP (with the reason in *ret_reason) without umoci, busybox or root. */
static int ofx_umoci_image(const char *parent, const char *name, const char **ret_reason) {
        _cleanup_free_ char *cmd = NULL;

        if (geteuid() != 0) {
                *ret_reason = "not root (umoci unpack keeps owners)";
                return -EOPNOTSUPP;
        }
        if (system("command -v umoci >/dev/null && test -x /bin/busybox") != 0) {
                *ret_reason = "umoci or /bin/busybox (busybox-static) is missing";
                return -EOPNOTSUPP;
        }
        cmd = strprintf(
                "set -e; cd '%s'; L='%s'; B=$L.unpack; exec >/dev/null 2>&1\n"
                "umoci init --layout $L; umoci new --image $L:latest; umoci unpack --image $L:latest $B\n"
                "mkdir -p $B/rootfs/bin $B/rootfs/etc $B/rootfs/srv; cp /bin/busybox $B/rootfs/bin/busybox\n"
                "ln -s busybox $B/rootfs/bin/sh; echo bye >$B/rootfs/etc/gone; echo keep >$B/rootfs/etc/kept\n"
                "chmod 0640 $B/rootfs/etc/kept; chown 1000:1000 $B/rootfs/etc/kept\n"
                "umoci repack --image $L:latest $B; rm -rf $B; umoci unpack --image $L:latest $B\n"
                "rm $B/rootfs/etc/gone; echo new >$B/rootfs/srv/added; umoci repack --image $L:latest $B\n"
                "rm -rf $B; umoci config --image $L:latest --config.entrypoint /bin/busybox --config.cmd sh "
                "--config.env FOO=bar --config.workingdir /srv\n"
                "umoci gc --layout $L\n",
                parent, name);
        assert_non_null(cmd);
        assert_int_equal(system(cmd), 0);
        return 0;
}

/* Recompresses layer `k` of the layout in dir (gzip) with zstd, and rewrites the manifest and
 * index.json to match (the old blobs stay, unreferenced). */
static void ofx_recompress_zstd(const char *dir, size_t k) {
        _cleanup_free_ char *index_path = path_join(dir, "index.json"), *index_text = NULL, *mpath = NULL,
                            *mtext = NULL, *lpath = NULL, *ltext = NULL, *d = NULL, *out = NULL;
        json_t *index, *manifest, *desc, *layer;
        char hex[SHA256_HEX];
        size_t n;
        OBuf raw = {}, z = {};
        struct archive *a;
        struct archive_entry *e;
        const void *p;
        size_t bn;
        la_int64_t off;

        index_text = ofx_read(index_path, &n);
        index = json_loadb(index_text, n, 0, NULL);
        desc = json_array_get(json_object_get(index, "manifests"), 0);
        mpath = strprintf("%s/blobs/sha256/%s", dir, json_string_value(json_object_get(desc, "digest")) + 7);
        mtext = ofx_read(mpath, &n);
        manifest = json_loadb(mtext, n, 0, NULL);
        assert_non_null(manifest);
        layer = json_array_get(json_object_get(manifest, "layers"), k);
        lpath = strprintf("%s/blobs/sha256/%s", dir,
                          json_string_value(json_object_get(layer, "digest")) + 7);

        /* gunzip with libarchive's raw format, then zstd with its raw writer. */
        a = archive_read_new();
        archive_read_support_filter_gzip(a);
        archive_read_support_format_raw(a);
        assert_int_equal(archive_read_open_filename(a, lpath, 65536), ARCHIVE_OK);
        assert_int_equal(archive_read_next_header(a, &e), ARCHIVE_OK);
        while (archive_read_data_block(a, &p, &bn, &off) == ARCHIVE_OK)
                ofx_write_cb(NULL, &raw, p, bn);
        archive_read_free(a);
        a = archive_write_new();
        assert_int_equal(archive_write_set_format_raw(a), ARCHIVE_OK);
        assert_int_equal(archive_write_add_filter_zstd(a), ARCHIVE_OK);
        assert_int_equal(archive_write_set_bytes_in_last_block(a, 1), ARCHIVE_OK);
        assert_int_equal(archive_write_open2(a, &z, NULL, ofx_write_cb, NULL, NULL), ARCHIVE_OK);
        e = archive_entry_new();
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_pathname(e, "layer");
        archive_entry_set_size(e, (la_int64_t) raw.n);
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        assert_int_equal(archive_write_data(a, raw.p, raw.n), (la_ssize_t) raw.n);
        archive_entry_free(e);
        assert_int_equal(archive_write_close(a), ARCHIVE_OK);
        archive_write_free(a);
        assert_true(z.n > 4 && memcmp(z.p, "\x28\xb5\x2f\xfd", 4) == 0); /* zstd's magic */
        ofx_put_blob(dir, z.p, z.n, hex);
        d = strprintf("sha256:%s", hex);
        json_object_set_new(layer, "digest", json_string(d));
        json_object_set_new(layer, "size", json_integer((json_int_t) z.n));
        json_object_set_new(layer, "mediaType", json_string(ofx_media_type(OCI_COMPRESSION_ZSTD)));
        out = json_dumps(manifest, JSON_COMPACT);
        ofx_put_blob(dir, out, strlen(out), hex);
        free(d);
        d = strprintf("sha256:%s", hex);
        json_object_set_new(desc, "digest", json_string(d));
        json_object_set_new(desc, "size", json_integer((json_int_t) strlen(out)));
        free(out);
        out = json_dumps(index, JSON_COMPACT);
        ofx_write(index_path, out, strlen(out));
        json_decref(manifest);
        json_decref(index);
        free(raw.p);
        free(z.p);
}

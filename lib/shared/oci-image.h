#pragma once

/* OCI image layouts (the OCI image-layout spec), as `skopeo copy ... oci:DIR:TAG`, `umoci` or `podman
 * save --format oci-dir` write them: oci-layout, index.json and blobs/sha256/<hex>. Everything in one
 * is untrusted input (a tenant may sign and import an image bundle), so:
 *
 *   - every blob read is checked against its descriptor's digest AND size (index -> manifest ->
 *     config and layers); only sha256 digests, the OCI and Docker v2 media types and uncompressed,
 *     gzip and zstd tar layers are accepted;
 *   - a layer is checked before anything is written (oci_layer_check(): digest, size, the diff_id
 *     the config declares, a bound on decompression, then every tar entry against the image's
 *     merged tree so far) and only then unpacked (oci_layer_unpack()) into its own directory, in the
 *     form overlayfs stacks as a lowerdir: OCI whiteouts become 0:0 character devices and opaque
 *     directories get trusted.overlay.opaque=y;
 *   - a refusal is -EINVAL (-EBADMSG for a digest, size or diff_id that does not match, -EFBIG for a
 *     bomb) with a sentence that names the blob and the entry.
 *
 * Links jansson, libarchive and crypto.h's SHA-256. Nothing here logs. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shared/crypto.h"

#define OCI_JSON_MAX_BYTES (4 * 1024 * 1024) /* index.json, a manifest, a config */
#define OCI_LAYERS_MAX 256
/* Decompression bound of a layer: OCI_EXPANSION_BASE bytes plus OCI_MAX_EXPANSION per compressed
 * byte, and never more than OCI_LAYER_MAX_BYTES. */
#define OCI_EXPANSION_BASE (UINT64_C(256) << 20)
#define OCI_MAX_EXPANSION 1024
#define OCI_LAYER_MAX_BYTES (UINT64_C(1) << 40)
#define OCI_ENTRIES_MAX 2000000 /* tar entries of an image, all layers together */

typedef enum OciCompression {
        OCI_COMPRESSION_NONE,
        OCI_COMPRESSION_GZIP,
        OCI_COMPRESSION_ZSTD,
        _OCI_COMPRESSION_MAX,
        _OCI_COMPRESSION_INVALID = -1,
} OciCompression;

const char *oci_compression_to_string(OciCompression c);

typedef struct OciLayer {
        char digest[SHA256_HEX]; /* of the blob, lowercase hex without "sha256:" */
        uint64_t size;           /* of the blob */
        OciCompression compression;
        char diff_id[SHA256_HEX]; /* the config's: SHA-256 of the uncompressed tar */
} OciLayer;

typedef struct OciConfig {
        char *architecture, *os;         /* "amd64", "linux" */
        char **entrypoint, **cmd, **env; /* NULL when the image sets none; env entries are K=V */
        char *working_dir, *user;        /* NULL when the image sets none */
        char **diff_ids;                 /* rootfs.diff_ids, hex without "sha256:", lowest first */
} OciConfig;

typedef struct OciImage {
        char manifest_digest[SHA256_HEX];
        char config_digest[SHA256_HEX];
        char *ref_name; /* the index entry's org.opencontainers.image.ref.name; NULL when none */
        OciConfig config;
        OciLayer *layers; /* lowest first */
        size_t n_layers;
} OciImage;

void oci_config_done(OciConfig *c);
OciImage *oci_image_free(OciImage *img);
static inline void oci_image_freep(OciImage **img) {
        if (*img)
                oci_image_free(*img);
}

/* The JSON documents, from untrusted bytes (fuzzed). Each refuses with -EINVAL and a sentence that
 * names the document ("index.json", "manifest sha256:…", "config sha256:…") and the field; outputs
 * are written only on success.
 *
 * oci_index_parse(): the manifest of the index that `tag` names (its ref.name annotation), or its only
 * manifest when tag is NULL. */
int oci_index_parse(const char *data, size_t n, const char *tag, char ret_digest[static SHA256_HEX],
                    uint64_t *ret_size, char **ret_ref_name, char **ret_error);
/* The manifest (named by its digest in messages): fills img's config_digest and layers (sizes,
 * compression); the config's size in *ret_config_size. */
int oci_manifest_parse(const char *data, size_t n, const char *digest, OciImage *img,
                       uint64_t *ret_config_size, char **ret_error);
int oci_config_parse(const char *data, size_t n, const char *digest, OciConfig *ret, char **ret_error);

/* Reads the layout in dir_fd (nothing is followed through a symbolic link): oci-layout, index.json,
 * the manifest and the config, each blob checked against its digest and size, and checks that every
 * layer blob is there with its declared size and that the config lists one diff_id per layer. The
 * layers' contents are not read: oci_layer_check() does that. */
int oci_image_load(int dir_fd, const char *tag, OciImage **ret, char **ret_error);

/* "amd64" or "arm64" (the OCI name of this machine's architecture); NULL for another. */
const char *oci_native_architecture(void);

/* The merged tree of an image's layers as far as they were checked: what each path is, so that an
 * entry whose parent is a symbolic link of a lower layer is caught. */
typedef struct OciTree OciTree;
OciTree *oci_tree_new(void);
OciTree *oci_tree_free(OciTree *t);
static inline void oci_tree_freep(OciTree **t) {
        if (*t)
                oci_tree_free(*t);
}

typedef struct OciLayerReport {
        char digest[SHA256_HEX];  /* what the blob hashes to (filled also when it does not match) */
        char diff_id[SHA256_HEX]; /* what its uncompressed tar hashes to (likewise) */
        uint64_t uncompressed_bytes;
        uint64_t entries;
        uint64_t setuid_files; /* setuid or setgid regular files: allowed, for the caller to note */
        char *first_setuid;    /* the first of them; the caller frees it */
} OciLayerReport;

void oci_layer_report_done(OciLayerReport *r);

/* The check pass of layer `index` (for messages) of an image, read from blob_fd: writes nothing. The
 * blob must hash to l->digest and be l->size bytes (bigger is refused as soon as it passes the size),
 * decompress to at most the bound above and hash to l->diff_id; then every tar entry is checked
 * against tree t (updated): refused are paths that are absolute or hold '..', entries whose parent
 * is a symbolic link or not a directory (in this layer or a lower one), device nodes, sockets, hard
 * links to a target that is not an earlier non-directory entry of this same layer, aufs metadata
 * (.wh..wh.*), xattrs in the trusted.* namespace, and more than OCI_ENTRIES_MAX entries. Layers must
 * be checked lowest first, each once, with the same tree. The report is filled as far as the check
 * got, also on failure. */
int oci_layer_check(int blob_fd, const OciLayer *l, unsigned index, OciTree *t, OciLayerReport *report,
                    char **ret_error);

/* The unpack pass, for a layer that passed oci_layer_check(): writes its entries under dest_fd (an
 * empty directory) with their owners, modes, xattrs (user.* and security.capability; others are
 * dropped) and file times, never following a symbolic link (every directory is opened with
 * O_NOFOLLOW from dest_fd down), as an overlayfs lowerdir: `.wh.NAME` becomes a 0:0 character device
 * NAME (unless this layer has an entry NAME of its own), `.wh..wh..opq` sets trusted.overlay.opaque=y
 * on its directory, as does a directory that replaces a whiteout of the same layer. The blob is
 * hashed again on the way (-EBADMSG if it changed since the check); the caller removes dest on
 * failure. Needs CAP_MKNOD, CAP_CHOWN and CAP_SYS_ADMIN (trusted.* xattrs). */
int oci_layer_unpack(int blob_fd, const OciLayer *l, unsigned index, int dest_fd, char **ret_error);

/* Opens blobs/sha256/<hex> of the layout in dir_fd for reading (no symbolic link followed); -ENOENT,
 * -EINVAL when it is not a regular file. */
int oci_blob_open(int dir_fd, const char *hex);

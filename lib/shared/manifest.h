#pragma once

/* The manifest of a bundle (docs/bundle-format.md): what it is, who signed it and every payload
 * file with its size, SHA-256 and mode. manifest_parse() takes untrusted bytes (it runs before the
 * signature is checked, to learn the key id) and is fuzzed; it refuses anything the format does not
 * allow with a sentence naming the field. manifest_format() writes the canonical JSON that is
 * signed. Nothing here logs. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shared/crypto.h"

#define MANIFEST_FORMAT 1
#define MANIFEST_MAX_BYTES (1024 * 1024)
#define MANIFEST_PATH_MAX 4096
#define MANIFEST_FILES_MAX 65536
#define MANIFEST_NAME_MAX 64
#define MANIFEST_DEPTH_MAX 32 /* path components */

typedef enum BundleKind {
        BUNDLE_MODEL,
        BUNDLE_IMAGE,
        BUNDLE_UPDATE,
        BUNDLE_CONTAINER_IMAGE, /* an OCI image layout (oci-image.h) */
        _BUNDLE_KIND_MAX,
        _BUNDLE_KIND_INVALID = -1,
} BundleKind;

const char *bundle_kind_to_string(BundleKind k);
BundleKind bundle_kind_from_string(const char *s);

typedef struct ManifestFile {
        char *path; /* relative, '/'-separated, normalized */
        uint64_t size;
        char sha256[SHA256_HEX];
        unsigned mode; /* permission bits: 0644 or 0755 */
} ManifestFile;

typedef struct ManifestModel {
        char *architecture;  /* "llama", "qwen2" */
        uint64_t parameters; /* count */
        char *dtype;         /* "bf16", "fp8", "int4-awq" */
        uint64_t min_gpu_memory_bytes;
        char *runtime; /* serving runtime: "vllm", "sglang", "trt-llm" */
        char *license;
} ManifestModel;

typedef struct Manifest {
        unsigned format;
        BundleKind kind;
        char *name, *version;
        char *created; /* RFC 3339 UTC: 2026-12-01T23:00:00Z */
        char key_id[KEY_ID_HEX];
        ManifestFile *files;
        size_t n_files;
        uint64_t total_bytes; /* sum of the files' sizes */
        ManifestModel model;  /* kind model */
        char **compatible;    /* kind update: product versions it applies to */
} Manifest;

void manifest_free(Manifest *m);
static inline void manifest_freep(Manifest **m) {
        if (*m)
                manifest_free(*m);
}

/* -EINVAL with a sentence for anything malformed, -ENOMEM. */
int manifest_parse(const char *data, size_t n, Manifest **ret, char **ret_error);
/* The canonical text (sorted keys, two-space indent, trailing newline). */
int manifest_format(const Manifest *m, char **ret);
/* Checks a manifest built in memory (as manifest_parse would). */
int manifest_validate(const Manifest *m, char **ret_error);

/* Field checks, shared with bundle creation and the reader. NULL when fine, else why not. */
const char *manifest_check_name(const char *s);
const char *manifest_check_version(const char *s);
/* A payload path: relative, '/'-separated, no empty, "." or ".." component, at most
 * MANIFEST_PATH_MAX bytes and MANIFEST_DEPTH_MAX components, valid UTF-8 without control
 * characters, not the manifest's own. */
const char *manifest_check_path(const char *s);
/* The file of the manifest with that path, NULL when none (binary search: files are sorted). */
const ManifestFile *manifest_find(const Manifest *m, const char *path);

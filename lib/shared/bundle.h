#pragma once

/* Reading and writing .ark bundles (docs/bundle-format.md): a POSIX tar archive, plain or zstd- or
 * xz-compressed, whose first member is manifest.json, whose second is manifest.sig (the Ed25519
 * signature of the manifest's exact bytes), and then the payload files the manifest lists.
 *
 * bundle_read() streams an archive once, with libarchive: it checks the signature against the
 * trusted keys before it looks at a payload byte, then hashes every payload entry while it writes
 * it (when asked to) into a directory the caller gives, and refuses hostile archives with a
 * sentence naming the entry and the reason. It writes nothing outside that directory and does not
 * clean it up on failure: the caller made it (a staging directory) and removes it. Nothing here
 * logs. */

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "shared/crypto.h"
#include "shared/manifest.h"

/* Called as payload bytes go by (done of total), at most about every 4 MiB and once at the end.
 * A negative return stops the read with that error (-ECANCELED to cancel). */
typedef int (*BundleProgressFn)(uint64_t done, uint64_t total, void *userdata);

/* How far decompression may expand: output bytes per compressed input byte (after the first MiB). */
#define BUNDLE_MAX_EXPANSION 1024

typedef struct BundleReadOptions {
        const char *trust_dir; /* the trusted keys (trust.h) */
        int dest_fd;           /* -1: verify only; else an empty directory for the payload */
        bool sync;             /* fsync the files and directories written */
        bool manifest_only;    /* stop after the manifest and its signature */
        bool allow_untrusted;  /* manifest_only: an unknown or revoked key is no error (inspect) */
        BundleProgressFn progress;
        /* Called once the signature verified, before any payload byte: may refuse (a negative
         * errno and a sentence), e.g. when the space other imports took leaves too little. */
        int (*admit)(const Manifest *m, void *userdata, char **ret_error);
        /* Where a payload file goes instead of dest_fd: an fd open for writing (closed here), or
         * -ENOENT to only check it, or another -errno (with a sentence) to stop. */
        int (*open_file)(const ManifestFile *f, void *userdata, char **ret_error);
        void *userdata; /* of progress and admit */
} BundleReadOptions;

typedef enum BundleSignature {
        BUNDLE_SIGNATURE_VALID,
        BUNDLE_SIGNATURE_UNKNOWN_KEY,
        BUNDLE_SIGNATURE_REVOKED_KEY,
        BUNDLE_SIGNATURE_BAD,
} BundleSignature;

typedef struct BundleResult {
        Manifest *manifest;
        BundleSignature signature;
        char sha256[SHA256_HEX]; /* of the archive file's bytes (when read to its end) */
        uint64_t archive_bytes;  /* read from the file */
} BundleResult;

void bundle_result_done(BundleResult *r);

/* Reads the archive from fd (name for messages). Errors: -EINVAL a malformed or hostile archive,
 * -EBADMSG a signature, size or hash that does not match, -ENOKEY / -EKEYREVOKED an unknown or
 * revoked key, -ENOSPC too little room in dest, -ECANCELED, -EIO, -ENOMEM; always with a sentence
 * in *ret_error. */
int bundle_read(int fd, const char *name, const BundleReadOptions *o, BundleResult *ret, char **ret_error);

typedef struct BundleCreateOptions {
        BundleKind kind;
        const char *name, *version;
        const char *key_path;    /* PREFIX.key */
        const char *dir;         /* the payload: every regular file under it */
        const char *output;      /* the .ark file; must not exist */
        const char *compression; /* "none" (NULL), "zstd" or "xz" */
        ManifestModel model;     /* kind model */
        char **compatible;       /* kind update */
        time_t created;          /* 0 = now */
        BundleProgressFn progress;
        void *userdata;
} BundleCreateOptions;

/* Makes a bundle: hashes the payload, signs the manifest, writes the archive through a temporary
 * file that is renamed into place. The manifest in *ret_manifest (may be NULL). */
int bundle_create(const BundleCreateOptions *o, Manifest **ret_manifest, char **ret_error);

/* libFuzzer target for lib/shared/oci-image.c: the JSON documents of an OCI image layout
 * (oci_index_parse(), oci_manifest_parse(), oci_config_parse()) and the check pass of layers
 * (oci_layer_check()), all of which read what a tenant signed and imported. The first byte picks:
 *
 *   0: index.json (bit 7 of byte 0: with the tag "latest"), 1: a manifest, 2: a config;
 *   3, 4, 5: one layer blob, uncompressed, gzip or zstd;
 *   6: two uncompressed layers checked in turn against one tree: a 2-byte length, then the first.
 *
 * A fuzzer cannot forge digests, so the harness declares the blob's own digest and size, and
 * after a diff_id refusal checks again with the diff_id the check computed, to reach the entries.
 * Beyond the sanitizers it checks the contract: a refusal carries a sentence and leaves the
 * outputs alone; an accepted index names a sha256 digest; an accepted config is for linux with
 * NAME=VALUE environment entries; an accepted manifest has 1 to OCI_LAYERS_MAX layers. */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "basic/macro.h"
#include "basic/string-util.h"
#include "shared/crypto.h"
#include "shared/oci-image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_refusal(int r, const char *err) {
        if (r >= 0 || r == -ENOMEM)
                return;
        if (!err || !*err)
                abort();
}

/* Checks blob p as layer `index` against tree t; 0 or the refusal. */
static int check_layer(const uint8_t *p, size_t n, OciCompression c, unsigned index, OciTree *t) {
        uint8_t d[SHA256_BYTES];
        OciLayer l = { .size = n, .compression = c };
        OciLayerReport rep = {};
        char *err = NULL;
        int fd = memfd_create("layer", MFD_CLOEXEC), r;

        if (fd < 0 || (n > 0 && write(fd, p, n) != (ssize_t) n))
                abort();
        if (sha256_buffer(p, n, d) < 0)
                abort();
        hex_encode(d, SHA256_BYTES, l.digest);
        memset(l.diff_id, '0', SHA256_HEX - 1);
        r = oci_layer_check(fd, &l, index, t, &rep, &err);
        check_refusal(r, err);
        /* The blob and its digest agree by construction: only a diff_id refusal is expected from the
         * stream pass, and the check computed the right one. */
        if (r == -EBADMSG && strstr(err, "diff_id")) {
                memcpy(l.diff_id, rep.diff_id, SHA256_HEX);
                oci_layer_report_done(&rep);
                rep = (OciLayerReport) {};
                free(err);
                err = NULL;
                r = oci_layer_check(fd, &l, index, t, &rep, &err);
                check_refusal(r, err);
                if (r == -EBADMSG && strstr(err, "diff_id"))
                        abort(); /* the same stream hashed differently */
        }
        if (r >= 0 && err)
                abort();
        oci_layer_report_done(&rep);
        free(err);
        close(fd);
        return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *p = (const char *) data + 1;
        size_t n = size > 0 ? size - 1 : 0;
        char *err = NULL;
        int r;

        if (size == 0)
                return 0;
        switch (data[0] & 0x7f) {
        case 0: {
                char digest[SHA256_HEX] = "untouched", *ref = NULL;
                uint64_t sz = 7;

                r = oci_index_parse(p, n, data[0] & 0x80 ? "latest" : NULL, digest, &sz, &ref, &err);
                check_refusal(r, err);
                if (r < 0 && (strcmp(digest, "untouched") != 0 || sz != 7 || ref))
                        abort();
                if (r >= 0 &&
                    (!is_lower_hex(digest, SHA256_HEX - 1) || sz > OCI_JSON_MAX_BYTES ||
                     ((data[0] & 0x80) && (!ref || strcmp(ref, "latest") != 0))))
                        abort();
                free(ref);
                break;
        }
        case 1: {
                OciImage img = {};
                uint64_t config_size = 7;

                r = oci_manifest_parse(p, n, "fuzz", &img, &config_size, &err);
                check_refusal(r, err);
                if (r < 0 && (img.layers || config_size != 7))
                        abort();
                if (r >= 0 &&
                    (img.n_layers == 0 || img.n_layers > OCI_LAYERS_MAX ||
                     !is_lower_hex(img.config_digest, SHA256_HEX - 1)))
                        abort();
                for (size_t k = 0; r >= 0 && k < img.n_layers; k++)
                        if (!is_lower_hex(img.layers[k].digest, SHA256_HEX - 1) ||
                            !oci_compression_to_string(img.layers[k].compression))
                                abort();
                free(img.layers);
                break;
        }
        case 2: {
                OciConfig c = {};

                r = oci_config_parse(p, n, "fuzz", &c, &err);
                check_refusal(r, err);
                if (r < 0 && (c.os || c.architecture || c.diff_ids))
                        abort();
                if (r >= 0 && (!c.os || strcmp(c.os, "linux") != 0 || !c.architecture || !c.diff_ids))
                        abort();
                for (char **e = c.env; r >= 0 && e && *e; e++)
                        if (!strchr(*e, '=') || (*e)[0] == '=')
                                abort();
                for (char **d = c.diff_ids; r >= 0 && d && *d; d++)
                        if (!is_lower_hex(*d, SHA256_HEX - 1))
                                abort();
                oci_config_done(&c);
                break;
        }
        case 3:
        case 4:
        case 5: {
                OciTree *t = oci_tree_new();

                if (!t)
                        abort();
                (void) check_layer(data + 1, n, (OciCompression) ((data[0] & 0x7f) - 3), 0, t);
                oci_tree_free(t);
                break;
        }
        case 6: {
                OciTree *t = oci_tree_new();
                size_t first = n >= 2 ? MIN((size_t) (data[1] << 8 | data[2]), n - 2) : 0;

                if (!t)
                        abort();
                if (n >= 2 && check_layer(data + 3, first, OCI_COMPRESSION_NONE, 0, t) >= 0)
                        (void) check_layer(data + 3 + first, n - 2 - first, OCI_COMPRESSION_NONE, 1, t);
                oci_tree_free(t);
                break;
        }
        default:
                break;
        }
        free(err);
        return 0;
}

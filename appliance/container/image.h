#pragma once

/* Container images in arkd: bundles of kind container-image, whose payload is an OCI image layout
 * (lib/shared/oci-image.h), and the content-addressed layer store they share:
 *
 *   <state>/containers/layers/<diff_id hex>/   one unpacked layer, an overlayfs lowerdir; written
 *                                              once by the import that brought it, never after
 *   <state>/containers/staging/import-XXXXXX/  layers an import is unpacking
 *
 * An import (bundle-import.c) verifies the bundle into its staging directory as for every kind;
 * then, still in its worker thread, container_image_prepare() checks the whole image (every blob
 * against its digest and size, every layer's entries, oci_layer_check()) before it writes anything,
 * and unpacks the layers the store lacks into layer staging. Only then does the main thread move
 * them into the store (container_image_install()) and record the bundle. A refusal leaves no bundle
 * directory, no layer directory and no row. Images that share a layer share its directory; a layer
 * goes when the last image that has it is deleted (container_layers_gc()); an image a container
 * runs is not deleted (container_image_in_use()). At start-up, layer
 * staging is removed and so is every layer no recorded image has (a crash between the move and
 * the record). */

#include <stdint.h>
#include <systemd/sd-bus.h>

typedef struct Bundle Bundle;
typedef struct Caller Caller;
typedef struct Manager Manager;

#define CONTAINER_IMAGE_KIND "container-image"

typedef struct ContainerImage {
        Bundle *bundle;                  /* borrowed: the image's bundle */
        char **layers;                   /* absolute layer directories, LOWEST first (overlayfs'
                                          * lowerdir= lists them highest first) */
        char **diff_ids;                 /* of the layers, same order */
        char **entrypoint, **cmd, **env; /* NULL when the image sets none; env entries are K=V */
        char *working_dir, *user;        /* NULL when the image sets none */
        char *architecture;              /* "amd64" */
} ContainerImage;

ContainerImage *container_image_free(ContainerImage *img);
static inline void container_image_freep(ContainerImage **img) {
        if (*img)
                container_image_free(*img);
}

/* The image an instance of `tenant` asks for: NAME or NAME@VERSION of a container-image bundle, the
 * tenant's own before a shared one (as bundle_find_model()). Fills `error` (InvalidArgument,
 * NotFound, Failed when its layout or a layer directory is unreadable) and returns < 0 when there is
 * none, or several versions and no version was given. The caller frees *ret. */
int container_image_find(Manager *m, const char *tenant, const char *spec, ContainerImage **ret,
                         sd_bus_error *error);
/* The image of bundle b (of kind container-image), read from its directory: the config and the
 * layer directories, each of which must exist. -errno with a sentence; logs nothing. */
int container_image_load(Manager *m, Bundle *b, ContainerImage **ret, char **ret_error);

/* Whether containers run bundle b (Instance.container_image_id): < 0 with `error` (InUse, naming
 * those of the caller's tenants; c NULL: all) when they do, else 0. */
int container_image_in_use(Manager *m, const Bundle *b, const Caller *c, sd_bus_error *error);

/* ------------------------------------------------------------------------------ imports */

typedef struct ContainerImageStaging ContainerImageStaging;

/* In an import's worker thread, after bundle_read() verified the payload into payload_fd: loads the
 * layout, refuses an image for another architecture, checks every layer (nothing written yet), then
 * unpacks those the store lacks into <state>/containers/staging/import-XXXXXX and flushes them to
 * disk. `name` is for messages. Reads nothing of the Manager but state_dir. -errno with a sentence
 * (-EINVAL/-EBADMSG/-EFBIG for a refused image); nothing stays behind on failure. */
int container_image_prepare(const char *state_dir, int payload_fd, const char *name,
                            ContainerImageStaging **ret, char **ret_error);
/* In the main thread: moves the staged layers into the store (a layer another import put there
 * meanwhile is kept and the staged copy dropped) and checks that every layer of the image is there.
 * -errno with a sentence; the caller then drops s and runs container_layers_gc(). */
int container_image_install(ContainerImageStaging *s, char **ret_error);
/* Lines for the log once installed: setuid files, layers shared with images already there. */
const char *container_image_staging_summary(const ContainerImageStaging *s);
/* Frees s and removes whatever of it is still staged. */
ContainerImageStaging *container_image_staging_free(ContainerImageStaging *s);

/* Removes every layer directory that no recorded container-image bundle has (logs what it removes).
 * Run after a deletion and when an import failed after its layers were moved in. */
void container_layers_gc(Manager *m);
/* At start-up, after the bundles are loaded: removes layer staging, then container_layers_gc(). */
int container_layers_startup(Manager *m);

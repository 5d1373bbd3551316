#pragma once

/* Bundles in arkd: the trusted signing keys, imports of signed bundles into the store, and what
 * they installed (models, images, updates) as objects under /org/ark/Ark1/bundle/<id>.
 *
 * An import (Manager.ImportBundle, with the bundle as a file descriptor the caller opened, so arkd
 * never reads a file the caller could not) streams the archive once in a worker thread through
 * bundle_read() (lib/shared/bundle.h) into a staging directory under <state>/bundles/staging,
 * signature first, every file hashed as it is written and fsynced. Only then does the main thread
 * move it into place with one rename and record it in the store; any failure removes the staging
 * directory and leaves the store as it was. Progress goes out as ImportProgress signals; an import
 * can be cancelled. At start-up, staging left by a crash is removed, and so is a directory the
 * store does not know (a crash between the rename and the record).
 *
 * bundles.c: the objects, start-up and deletion; bundle-import.c: the imports and their worker
 * threads; bundles-dbus.c: the D-Bus methods and the Bundle objects' vtable. */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "basic/list.h"
#include "shared/manifest.h"

typedef struct Caller Caller;
typedef struct Manager Manager;
typedef struct StoreBundle StoreBundle;

#define ARK_BUS_PREFIX_BUNDLE "/org/ark/Ark1/bundle"
#define ARK_BUS_IFACE_BUNDLE "org.ark.Ark1.Bundle"

typedef struct Bundle Bundle;
struct Bundle {
        Manager *manager;
        int64_t id;          /* row id in the store */
        char *kind, *tenant; /* tenant NULL = shared */
        char *name, *version, *key_id, *sha256, *directory;
        uint64_t size_bytes, imported_usec;
        uint32_t imported_uid;
        unsigned files;
        Manifest *manifest;
        char *manifest_text;
        struct OciImage *oci_image; /* kind container-image: its layout, read when first asked for */
        char *path;                 /* D-Bus object path */
        LIST_FIELDS(Bundle, bundles);
};

typedef struct Import Import;

Bundle *bundle_free(Bundle *b);
/* A new object for the store's record s (not on the manager's list). Logs when the stored manifest
 * is unreadable. */
int bundle_new(Manager *m, const StoreBundle *s, Bundle **ret);
/* The installed bundle of that kind, tenant (NULL = shared), name and version; NULL if none. */
Bundle *bundle_find(Manager *m, const char *kind, const char *tenant, const char *name, const char *version);
/* <state>/bundles/<kind>/<tenant or @shared>/<name>/<version>, newly allocated; NULL on OOM. */
char *bundle_directory(Manager *m, const char *kind, const char *tenant, const char *name,
                       const char *version);
/* Deletes b: refused (InUse, naming the instances c may see) while instances serve it; otherwise
 * forgotten by the store, its directory removed, signals sent, and b freed. */
int bundle_delete(Bundle *b, const Caller *c, sd_bus_error *error);
/* Loads the store's bundles, then removes staging and unrecorded directories (logs). */
int bundles_startup(Manager *m);
/* Cancels every import in progress, waits for its thread and fails its call (shutdown). */
void bundles_abort_all(Manager *m);
void bundles_free_all(Manager *m);
unsigned bundle_count_for_tenant(Manager *m, const char *tenant);
Bundle *bundle_by_id(Manager *m, int64_t id);
/* The model an instance of `tenant` asks for: NAME or NAME@VERSION, the tenant's own before a
 * shared one. Fills `error` (InvalidArgument, NotFound) and returns <0 when there is none, or
 * several versions and no version was given. */
int bundle_find_model(Manager *m, const char *tenant, const char *spec, Bundle **ret, sd_bus_error *error);

/* D-Bus side (bundles-dbus.c). */
int method_trust_key(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int method_untrust_key(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int method_revoke_key(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int method_list_trusted_keys(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int method_import_bundle(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int method_cancel_import(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int method_list_bundles(sd_bus_message *msg, void *userdata, sd_bus_error *error);

extern const sd_bus_vtable bundle_vtable[];
int bundle_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                       sd_bus_error *error);
int bundle_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes,
                           sd_bus_error *error);

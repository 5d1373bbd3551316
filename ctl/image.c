/* arkctl image list | show | delete: container images (bundles of kind container-image that arkd
 * imported, with their layers in arkd's layer store), over the bundle API. */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "arkctl.h"
#include "bus-props.h"
#include "output.h"
#include "basic/parse-util.h"
#include "basic/string-util.h"

static const FieldMap image_fields[] = {
        { "Name", "name" },
        { "Version", "version" },
        { "Tenant", "tenant" },
        { "ImageArchitecture", "architecture" },
        { "ImageEntrypoint", "entrypoint" },
        { "ImageCmd", "cmd" },
        { "ImageEnv", "env" },
        { "ImageWorkingDir", "working_dir" },
        { "ImageUser", "user" },
        { "ImageLayers", "layers" },
        { "ImageManifestDigest", "manifest_digest" },
        { "SizeBytes", "size_bytes" },
        { "Files", "files" },
        { "KeyId", "key_id" },
        { "SHA256", "sha256" },
        { "Created", "created" },
        { "ImportedAt", "imported_usec" },
        { "ImportedBy", "imported_uid" },
        { "Directory", "directory" },
        {},
};

typedef struct ImageRef {
        char *path, *name, *version, *tenant;
} ImageRef;

static void refs_free(ImageRef *l, size_t n) {
        for (size_t k = 0; k < n; k++) {
                free(l[k].path);
                free(l[k].name);
                free(l[k].version);
                free(l[k].tenant);
        }
        free(l);
}

/* The container images the caller sees, of --tenant when given. */
static int list_images(sd_bus *bus, ImageRef **ret, size_t *ret_n) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *kind, *tenant, *name, *version, *path;
        ImageRef *l = NULL;
        size_t n = 0;
        int r;

        r = ctl_call(bus, "/org/ark/Ark1", "org.ark.Ark1.Manager", "ListBundles", 0, &reply, NULL);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "(sssso)");
        while (r >= 0 &&
               (r = sd_bus_message_read(reply, "(sssso)", &kind, &tenant, &name, &version, &path)) > 0) {
                ImageRef *nl;

                if (!streq(kind, "container-image") || (arg_tenant && !streq(arg_tenant, tenant)))
                        continue;
                nl = realloc(l, (n + 1) * sizeof(ImageRef));
                if (!nl) {
                        refs_free(l, n);
                        return ctl_oom();
                }
                l = nl;
                l[n] = (ImageRef) { strdup(path), strdup(name), strdup(version), strdup(tenant) };
                if (!l[n].path || !l[n].name || !l[n].version || !l[n].tenant) {
                        refs_free(l, n + 1);
                        return ctl_oom();
                }
                n++;
        }
        if (r < 0) {
                refs_free(l, n);
                return ctl_log_call_error(r, NULL, "ListBundles");
        }
        *ret = l;
        *ret_n = n;
        return 0;
}

/* A string list property joined by `sep` ("" when empty or absent); newly allocated. */
static char *props_join(json_t *props, const char *name, const char *sep) {
        json_t *a = json_object_get(props, name), *v;
        StrBuf b = {};
        size_t i;

        json_array_foreach(a, i, v)
                strbuf_printf(&b, "%s%s", i > 0 ? sep : "", json_string_value(v) ?: "");
        return strbuf_steal(&b) ?: strdup("");
}

int verb_image_list(char **args) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(table_freep) Table *t =
                table_new("NAME", "VERSION", "TENANT", "ARCH", "LAYERS", "SIZE", "KEY", "IMPORTED", NULL);
        _cleanup_(json_decrefp) json_t *list = json_array();
        ImageRef *l = NULL;
        size_t n = 0;
        int r;

        if (!t || !list)
                return ctl_oom();
        r = ctl_bus_open(&bus);
        if (r < 0)
                return r;
        r = list_images(bus, &l, &n);
        if (r < 0)
                return r;
        for (size_t k = 0; k < n; k++) {
                _cleanup_(json_decrefp) json_t *props = NULL;
                char size[OUTPUT_FORMAT_MAX], when[OUTPUT_FORMAT_MAX], layers[16];

                r = ctl_get_all_listed(bus, l[k].path, "org.ark.Ark1.Bundle", &props);
                if (r < 0)
                        break;
                if (!props)
                        continue;
                json_array_append_new(list, props_to_json(props, image_fields));
                snprintf(layers, sizeof(layers), "%zu",
                         json_array_size(json_object_get(props, "ImageLayers")));
                table_add_row(t, props_string(props, "Name"), props_string(props, "Version"),
                              isempty(props_string(props, "Tenant")) ? "(shared)"
                                                                     : props_string(props, "Tenant"),
                              props_string(props, "ImageArchitecture"), layers,
                              format_bytes(size, sizeof(size), props_u64(props, "SizeBytes")),
                              props_string(props, "KeyId"),
                              format_timestamp(when, sizeof(when), props_u64(props, "ImportedAt")));
        }
        refs_free(l, n);
        if (r < 0)
                return r;
        if (arg_output == OUTPUT_JSON)
                return ctl_print_json(list);
        if (table_rows(t) == 0) {
                puts(arg_tenant ? "No container images for this tenant." : "No container images.");
                return 0;
        }
        return ctl_print_table(t);
}

/* The one image NAME[@VERSION] (or --version, of --tenant) names; a sentence when none or several. */
static int find_image(sd_bus *bus, const char *spec, char **ret_path) {
        _cleanup_free_ char *name = strdup(spec);
        const char *version = arg_model_version;
        ImageRef *l = NULL;
        size_t n = 0, hits = 0, hit = 0;
        StrBuf versions = {};
        char *at;
        int r;

        if (!name)
                return ctl_oom();
        at = strchr(name, '@');
        if (at) {
                *at = 0;
                if (version && !streq(version, at + 1)) {
                        fprintf(stderr, "arkctl: '%s' and --version %s name different versions\n", spec,
                                version);
                        return -EINVAL;
                }
                version = at + 1;
        }
        r = list_images(bus, &l, &n);
        if (r < 0)
                return r;
        for (size_t k = 0; k < n; k++)
                if (streq(l[k].name, name) && (!version || streq(l[k].version, version))) {
                        strbuf_printf(&versions, "%s%s%s%s", hits ? ", " : "", l[k].version,
                                      isempty(l[k].tenant) ? " (shared)" : " of ", l[k].tenant);
                        hits++;
                        hit = k;
                }
        if (hits == 1) {
                *ret_path = TAKE_PTR(l[hit].path);
                strbuf_done(&versions);
                refs_free(l, n);
                return 0;
        }
        refs_free(l, n);
        if (hits == 0) {
                strbuf_done(&versions);
                fprintf(stderr, "arkctl: no container image '%s'%s%s%s%s%s (see 'arkctl image list')\n",
                        name, version ? " version " : "", strempty(version),
                        arg_tenant ? " for tenant '" : "", strempty(arg_tenant), arg_tenant ? "'" : "");
                return -ENOENT;
        }
        {
                _cleanup_free_ char *v = strbuf_steal(&versions);
                fprintf(stderr,
                        "arkctl: container image '%s' has %zu matches (%s); say which with NAME@VERSION and "
                        "--tenant\n",
                        name, hits, strempty(v));
        }
        return -EINVAL;
}

int verb_image_show(char **args) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(json_decrefp) json_t *props = NULL;
        _cleanup_(table_freep) Table *t = table_new_fields();
        _cleanup_free_ char *path = NULL, *entrypoint = NULL, *cmd = NULL, *env = NULL, *layers = NULL;
        char a[OUTPUT_FORMAT_MAX], c[OUTPUT_FORMAT_MAX], files[32];
        int r;

        if (!t)
                return ctl_oom();
        r = ctl_bus_open(&bus);
        if (r < 0)
                return r;
        r = find_image(bus, args[0], &path);
        if (r < 0)
                return r;
        r = ctl_get_all(bus, path, "org.ark.Ark1.Bundle", &props);
        if (r < 0)
                return r;
        if (arg_output == OUTPUT_JSON) {
                _cleanup_(json_decrefp) json_t *j = props_to_json(props, image_fields);

                return ctl_print_json(j);
        }
        entrypoint = props_join(props, "ImageEntrypoint", " ");
        cmd = props_join(props, "ImageCmd", " ");
        env = props_join(props, "ImageEnv", "\n");
        layers = props_join(props, "ImageLayers", "\n");
        if (!entrypoint || !cmd || !env || !layers)
                return ctl_oom();
        snprintf(files, sizeof(files), "%" PRIu64, props_u64(props, "Files"));
        table_add_row(t, "Name", props_string(props, "Name"));
        table_add_row(t, "Version", props_string(props, "Version"));
        table_add_row(t, "Tenant",
                      isempty(props_string(props, "Tenant")) ? "(shared)" : props_string(props, "Tenant"));
        table_add_row(t, "Architecture", props_string(props, "ImageArchitecture"));
        table_add_row(t, "Entrypoint", entrypoint);
        table_add_row(t, "Cmd", cmd);
        table_add_row(t, "Env", env);
        table_add_row(t, "Working dir", props_string(props, "ImageWorkingDir"));
        table_add_row(t, "User", props_string(props, "ImageUser"));
        table_add_row(t, "Layers (diff_ids)", layers);
        table_add_row(t, "Manifest", props_string(props, "ImageManifestDigest"));
        table_add_row(t, "Size", format_bytes(a, sizeof(a), props_u64(props, "SizeBytes")));
        table_add_row(t, "Files", files);
        table_add_row(t, "Signed by", props_string(props, "KeyId"));
        table_add_row(t, "Bundle SHA-256", props_string(props, "SHA256"));
        table_add_row(t, "Created", props_string(props, "Created"));
        table_add_row(t, "Imported", format_timestamp(c, sizeof(c), props_u64(props, "ImportedAt")));
        table_add_row(t, "Directory", props_string(props, "Directory"));
        return ctl_print_table(t);
}

int verb_image_delete(char **args) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *path = NULL;
        int r;

        r = ctl_bus_open(&bus);
        if (r < 0)
                return r;
        r = find_image(bus, args[0], &path);
        if (r < 0)
                return r;
        r = ctl_call(bus, path, "org.ark.Ark1.Bundle", "Delete", 0, NULL, NULL);
        if (r < 0)
                return r;
        if (arg_output != OUTPUT_JSON)
                printf("Deleted container image %s (its layers that no other image has went with it).\n",
                       args[0]);
        return 0;
}

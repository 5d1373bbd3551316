/* arkctl model list | show | delete: the model store (bundles of kind model that arkd imported). */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "arkctl.h"
#include "bus-props.h"
#include "output.h"
#include "basic/parse-util.h"
#include "basic/string-util.h"

static const FieldMap model_fields[] = {
        { "Name", "name" },
        { "Version", "version" },
        { "Tenant", "tenant" },
        { "Architecture", "architecture" },
        { "Parameters", "parameters" },
        { "Dtype", "dtype" },
        { "MinGPUMemoryBytes", "min_gpu_memory_bytes" },
        { "Runtime", "runtime" },
        { "License", "license" },
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

typedef struct ModelRef {
        char *path, *name, *version, *tenant;
} ModelRef;

static void refs_free(ModelRef *l, size_t n) {
        for (size_t k = 0; k < n; k++) {
                free(l[k].path);
                free(l[k].name);
                free(l[k].version);
                free(l[k].tenant);
        }
        free(l);
}

/* The models the caller sees, of --tenant when given ("" = shared ones only is not a filter). */
static int list_models(sd_bus *bus, ModelRef **ret, size_t *ret_n) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *kind, *tenant, *name, *version, *path;
        ModelRef *l = NULL;
        size_t n = 0;
        int r;

        r = ctl_call(bus, "/org/ark/Ark1", "org.ark.Ark1.Manager", "ListBundles", 0, &reply, NULL);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "(sssso)");
        while (r >= 0 &&
               (r = sd_bus_message_read(reply, "(sssso)", &kind, &tenant, &name, &version, &path)) > 0) {
                ModelRef *nl;

                if (!streq(kind, "model") || (arg_tenant && !streq(arg_tenant, tenant)))
                        continue;
                nl = realloc(l, (n + 1) * sizeof(ModelRef));
                if (!nl) {
                        refs_free(l, n);
                        return ctl_oom();
                }
                l = nl;
                l[n] = (ModelRef) { strdup(path), strdup(name), strdup(version), strdup(tenant) };
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

/* 8.0B, 125.0M, 1.0K, 999: never "0.0M" for a small model. */
static void format_parameters(char *buf, size_t size, uint64_t p) {
        if (p >= 1000000000ULL)
                snprintf(buf, size, "%.1fB", (double) p / 1e9);
        else if (p >= 1000000ULL)
                snprintf(buf, size, "%.1fM", (double) p / 1e6);
        else if (p >= 1000ULL)
                snprintf(buf, size, "%.1fK", (double) p / 1e3);
        else
                snprintf(buf, size, "%" PRIu64, p);
}

int verb_model_list(char **args) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(table_freep) Table *t = table_new("NAME", "VERSION", "TENANT", "PARAMS", "DTYPE",
                                                    "RUNTIME", "SIZE", "KEY", "IMPORTED", NULL);
        _cleanup_(json_decrefp) json_t *list = json_array();
        ModelRef *l = NULL;
        size_t n = 0;
        int r;

        if (!t || !list)
                return ctl_oom();
        r = ctl_bus_open(&bus);
        if (r < 0)
                return r;
        r = list_models(bus, &l, &n);
        if (r < 0)
                return r;
        for (size_t k = 0; k < n; k++) {
                _cleanup_(json_decrefp) json_t *props = NULL;
                char size[OUTPUT_FORMAT_MAX], when[OUTPUT_FORMAT_MAX], params[32];
                uint64_t p;

                r = ctl_get_all_listed(bus, l[k].path, "org.ark.Ark1.Bundle", &props);
                if (r < 0)
                        break;
                if (!props)
                        continue;
                json_array_append_new(list, props_to_json(props, model_fields));
                p = props_u64(props, "Parameters");
                format_parameters(params, sizeof(params), p);
                table_add_row(t, props_string(props, "Name"), props_string(props, "Version"),
                              isempty(props_string(props, "Tenant")) ? "(shared)"
                                                                     : props_string(props, "Tenant"),
                              params, props_string(props, "Dtype"), props_string(props, "Runtime"),
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
                puts(arg_tenant ? "No models for this tenant." : "No models.");
                return 0;
        }
        return ctl_print_table(t);
}

/* The one model NAME (of --version, of --tenant) names; a sentence when none or several. */
static int find_model(sd_bus *bus, const char *name, char **ret_path) {
        ModelRef *l = NULL;
        size_t n = 0, hits = 0, hit = 0;
        StrBuf versions = {};
        int r;

        r = list_models(bus, &l, &n);
        if (r < 0)
                return r;
        for (size_t k = 0; k < n; k++)
                if (streq(l[k].name, name) &&
                    (!arg_model_version || streq(l[k].version, arg_model_version))) {
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
                fprintf(stderr, "arkctl: no model '%s'%s%s%s%s%s (see 'arkctl model list')\n", name,
                        arg_model_version ? " version " : "", strempty(arg_model_version),
                        arg_tenant ? " for tenant '" : "", strempty(arg_tenant), arg_tenant ? "'" : "");
                return -ENOENT;
        }
        {
                _cleanup_free_ char *v = strbuf_steal(&versions);
                fprintf(stderr,
                        "arkctl: model '%s' has %zu matches (%s); say which with --version and --tenant\n",
                        name, hits, strempty(v));
        }
        return -EINVAL;
}

int verb_model_show(char **args) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(json_decrefp) json_t *props = NULL;
        _cleanup_(table_freep) Table *t = table_new_fields();
        _cleanup_free_ char *path = NULL;
        char a[OUTPUT_FORMAT_MAX], b[OUTPUT_FORMAT_MAX], c[OUTPUT_FORMAT_MAX], files[32], params[32];
        int r;

        if (!t)
                return ctl_oom();
        r = ctl_bus_open(&bus);
        if (r < 0)
                return r;
        r = find_model(bus, args[0], &path);
        if (r < 0)
                return r;
        r = ctl_get_all(bus, path, "org.ark.Ark1.Bundle", &props);
        if (r < 0)
                return r;
        if (arg_output == OUTPUT_JSON) {
                _cleanup_(json_decrefp) json_t *j = props_to_json(props, model_fields);

                return ctl_print_json(j);
        }
        snprintf(files, sizeof(files), "%" PRIu64, props_u64(props, "Files"));
        snprintf(params, sizeof(params), "%" PRIu64, props_u64(props, "Parameters"));
        table_add_row(t, "Name", props_string(props, "Name"));
        table_add_row(t, "Version", props_string(props, "Version"));
        table_add_row(t, "Tenant",
                      isempty(props_string(props, "Tenant")) ? "(shared)" : props_string(props, "Tenant"));
        table_add_row(t, "Architecture", props_string(props, "Architecture"));
        table_add_row(t, "Parameters", params);
        table_add_row(t, "Dtype", props_string(props, "Dtype"));
        table_add_row(t, "Min GPU memory",
                      format_bytes(a, sizeof(a), props_u64(props, "MinGPUMemoryBytes")));
        table_add_row(t, "Runtime", props_string(props, "Runtime"));
        table_add_row(t, "License", props_string(props, "License"));
        table_add_row(t, "Size", format_bytes(b, sizeof(b), props_u64(props, "SizeBytes")));
        table_add_row(t, "Files", files);
        table_add_row(t, "Signed by", props_string(props, "KeyId"));
        table_add_row(t, "Bundle SHA-256", props_string(props, "SHA256"));
        table_add_row(t, "Created", props_string(props, "Created"));
        table_add_row(t, "Imported", format_timestamp(c, sizeof(c), props_u64(props, "ImportedAt")));
        table_add_row(t, "Directory", props_string(props, "Directory"));
        return ctl_print_table(t);
}

int verb_model_delete(char **args) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *path = NULL;
        int r;

        r = ctl_bus_open(&bus);
        if (r < 0)
                return r;
        r = find_model(bus, args[0], &path);
        if (r < 0)
                return r;
        r = ctl_call(bus, path, "org.ark.Ark1.Bundle", "Delete", 0, NULL, NULL);
        if (r < 0)
                return r;
        if (arg_output != OUTPUT_JSON)
                printf("Deleted model %s.\n", args[0]);
        return 0;
}

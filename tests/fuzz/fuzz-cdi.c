/* libFuzzer target for cdi_spec_parse(), cdi_apply() and cdi_edits_collect() (lib/shared/cdi.c): a
 * CDI spec is read back from disk (/run/cdi), where whatever can write there could put anything,
 * before arkd applies its edits to a container's OCI config. Beyond the sanitizers it checks the
 * contract: a refusal is -EINVAL or -E2BIG with a sentence and no spec; an accepted spec validates
 * again, prints as JSON that parses back to an equal spec, and applying all its devices to an
 * empty config succeeds and yields only nodes under /dev with an allow rule each, absolute mounts
 * and NAME=value variables; collecting them yields the same variables, nodes and mounts in the
 * same order, each node with an absolute host path, type c or b and access of rwm, each variable
 * named once; an unknown name is -ENOENT with a sentence. */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "basic/string-util.h"
#include "shared/cdi.h"

/* The collected edits against the config cdi_apply() made of the same names. */
static void check_edits(const CdiEdits *e, json_t *config) {
        json_t *env = json_object_get(json_object_get(config, "process"), "env");
        json_t *devices = json_object_get(json_object_get(config, "linux"), "devices");
        json_t *mounts = json_object_get(config, "mounts");

        if (strv_length(e->env) != json_array_size(env) || e->n_nodes != json_array_size(devices) ||
            e->n_mounts != json_array_size(mounts))
                abort();
        for (size_t k = 0; e->env && e->env[k]; k++) {
                size_t l = strcspn(e->env[k], "=");

                if (!streq(e->env[k], json_string_value(json_array_get(env, k))) || !e->env[k][l])
                        abort();
                for (size_t j = 0; j < k; j++)
                        if (strncmp(e->env[j], e->env[k], l + 1) == 0)
                                abort();
        }
        for (size_t k = 0; k < e->n_nodes; k++) {
                const CdiNode *n = &e->nodes[k];
                json_t *d = json_array_get(devices, k);

                if (!streq(n->path, json_string_value(json_object_get(d, "path"))) ||
                    n->host_path[0] != '/' || (n->type != 'c' && n->type != 'b') ||
                    n->major != json_integer_value(json_object_get(d, "major")) ||
                    n->minor != json_integer_value(json_object_get(d, "minor")) || !n->access[0] ||
                    strspn(n->access, "rwm") != strlen(n->access))
                        abort();
        }
        for (size_t k = 0; k < e->n_mounts; k++) {
                json_t *m = json_array_get(mounts, k);

                if (!streq(e->mounts[k].container_path,
                           json_string_value(json_object_get(m, "destination"))) ||
                    !streq(e->mounts[k].host_path, json_string_value(json_object_get(m, "source"))))
                        abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_config(json_t *config) {
        json_t *linux_ = json_object_get(config, "linux");
        json_t *devices = json_object_get(linux_, "devices");
        json_t *rules = json_object_get(json_object_get(linux_, "resources"), "devices");
        json_t *v;
        size_t k;

        if (json_array_size(rules) < json_array_size(devices))
                abort();
        json_array_foreach(devices, k, v)
                if (!startswith(json_string_value(json_object_get(v, "path")), "/dev/") ||
                    !json_is_integer(json_object_get(v, "major")) ||
                    !json_is_integer(json_object_get(v, "minor")))
                        abort();
        json_array_foreach(json_object_get(config, "mounts"), k, v)
                if (json_string_value(json_object_get(v, "destination"))[0] != '/' ||
                    json_string_value(json_object_get(v, "source"))[0] != '/')
                        abort();
        json_array_foreach(json_object_get(json_object_get(config, "process"), "env"), k, v)
                if (!strchr(json_string_value(v), '='))
                        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        json_t *spec = NULL, *again = NULL, *config;
        char *err = NULL, *text;
        const char **names;
        json_t *devices, *d;
        size_t k;
        int r = cdi_spec_parse((const char *) data, size, &spec, &err);

        if (r < 0) {
                if ((r != -EINVAL && r != -E2BIG && r != -ENOMEM) || spec || (r != -ENOMEM && !err))
                        abort();
                free(err);
                return 0;
        }
        if (!spec || err || cdi_spec_validate(spec, &err) < 0)
                abort();
        text = json_dumps(spec, JSON_INDENT(2));
        if (!text || cdi_spec_parse(text, strlen(text), &again, &err) < 0 || !json_equal(spec, again))
                abort();
        devices = json_object_get(spec, "devices");
        names = calloc(json_array_size(devices) + 1, sizeof *names);
        config = json_object();
        if (!names || !config)
                abort();
        json_array_foreach(devices, k, d)
                names[k] = json_string_value(json_object_get(d, "name"));
        if (cdi_apply(config, spec, names, &err) < 0)
                abort();
        check_config(config);
        {
                CdiEdits e = {};
                const char *unknown[] = { "-", NULL };

                if (cdi_edits_collect(spec, names, &e, &err) < 0)
                        abort();
                check_edits(&e, config);
                cdi_edits_done(&e);
                if (cdi_edits_collect(spec, unknown, &e, &err) != -ENOENT || !err || e.nodes || e.env)
                        abort();
                err = mfree(err);
        }
        json_decref(config);
        free(names);
        free(text);
        json_decref(again);
        json_decref(spec);
        return 0;
}

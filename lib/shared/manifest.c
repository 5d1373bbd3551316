/* Bundle manifests (manifest.h) with jansson. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "basic/macro.h"
#include "basic/string-util.h"
#include "shared/manifest.h"

static const char *const kind_table[_BUNDLE_KIND_MAX] = {
        [BUNDLE_MODEL] = "model",
        [BUNDLE_IMAGE] = "image",
        [BUNDLE_UPDATE] = "update",
        [BUNDLE_CONTAINER_IMAGE] = "container-image",
};

const char *bundle_kind_to_string(BundleKind k) {
        return k >= 0 && k < _BUNDLE_KIND_MAX ? kind_table[k] : NULL;
}

BundleKind bundle_kind_from_string(const char *s) {
        for (int k = 0; s && k < _BUNDLE_KIND_MAX; k++)
                if (streq(kind_table[k], s))
                        return (BundleKind) k;
        return _BUNDLE_KIND_INVALID;
}

void manifest_free(Manifest *m) {
        if (!m)
                return;
        free(m->name);
        free(m->version);
        free(m->created);
        for (size_t k = 0; k < m->n_files; k++)
                free(m->files[k].path);
        free(m->files);
        free(m->model.architecture);
        free(m->model.dtype);
        free(m->model.runtime);
        free(m->model.license);
        strv_free(m->compatible);
        free(m);
}

/* [A-Za-z0-9] first, then also . _ - (and + when plus), 1..MANIFEST_NAME_MAX. */
static const char *check_token(const char *s, bool plus) {
        size_t n = s ? strlen(s) : 0;

        if (n == 0)
                return "must not be empty";
        if (n > MANIFEST_NAME_MAX)
                return "must be at most 64 characters";
        for (size_t k = 0; k < n; k++) {
                char c = s[k];
                bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');

                if (k == 0 && !alnum)
                        return "must start with a letter or digit";
                if (!alnum && c != '.' && c != '_' && c != '-' && !(plus && c == '+'))
                        return plus ? "may only hold letters, digits and . _ - +"
                                    : "may only hold letters, digits and . _ -";
        }
        return NULL;
}

const char *manifest_check_name(const char *s) {
        return check_token(s, false);
}

const char *manifest_check_version(const char *s) {
        return check_token(s, true);
}

const char *manifest_check_path(const char *s) {
        size_t n = s ? strlen(s) : 0;
        unsigned depth = 1;
        const char *c;

        if (n == 0)
                return "is empty";
        if (n > MANIFEST_PATH_MAX)
                return "is longer than 4096 bytes";
        if (s[0] == '/')
                return "is absolute";
        for (size_t k = 0; k < n; k++) {
                if ((unsigned char) s[k] < 0x20 || s[k] == 0x7f)
                        return "holds a control character";
                depth += s[k] == '/';
        }
        if (!utf8_is_valid(s))
                return "is not valid UTF-8";
        if (utf8_has_display_trap(s))
                return "holds a bidirectional formatting or control character";
        if (depth > MANIFEST_DEPTH_MAX)
                return "is more than 32 directories deep";
        c = s;
        for (;;) {
                const char *e = strchrnul(c, '/');
                size_t l = (size_t) (e - c);

                if (l == 0)
                        return "has an empty component (// or a trailing /)";
                if (l == 2 && strneq(c, "..", 2))
                        return "has a '..' component";
                if (l == 1 && c[0] == '.')
                        return "has a '.' component";
                if (l > 255)
                        return "has a component longer than 255 bytes";
                if (!*e)
                        break;
                c = e + 1;
        }
        if (streq(s, "manifest.json") || streq(s, "manifest.sig"))
                return "is the name of the manifest itself";
        return NULL;
}

/* RFC 3339 in UTC, seconds precision: YYYY-MM-DDTHH:MM:SSZ. */
static bool is_timestamp(const char *s) {
        static const char pattern[] = "dddd-dd-ddTdd:dd:ddZ";
        unsigned mo, d, h, mi, se;

        if (strlen(s) != strlen(pattern))
                return false;
        for (size_t k = 0; pattern[k]; k++)
                if (pattern[k] == 'd' ? !(s[k] >= '0' && s[k] <= '9') : s[k] != pattern[k])
                        return false;
        if (sscanf(s + 5, "%2u-%2uT%2u:%2u:%2u", &mo, &d, &h, &mi, &se) != 5)
                return false;
        return mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h <= 23 && mi <= 59 && se <= 60;
}

static const char *check_text(const char *s, size_t max) {
        size_t n = strlen(s);

        if (n == 0)
                return "must not be empty";
        if (n > max)
                return max == 256 ? "must be at most 256 bytes" : "is too long";
        for (size_t k = 0; k < n; k++)
                if ((unsigned char) s[k] < 0x20 || s[k] == 0x7f)
                        return "holds a control character";
        if (utf8_has_display_trap(s))
                return "holds a bidirectional formatting or control character";
        return NULL;
}

/* Only the keys in `allowed` (NULL-terminated) may appear in object o. */
static int check_keys(json_t *o, const char *where, const char *const *allowed, char **ret_error) {
        const char *key;
        json_t *v;

        json_object_foreach(o, key, v) {
                bool ok = false;

                for (const char *const *a = allowed; *a && !ok; a++)
                        ok = streq(*a, key);
                if (!ok)
                        return set_error_sentence(ret_error, -EINVAL,
                                                  "The manifest's %s has an unknown field '%s'.", where,
                                                  printable(key));
        }
        return 0;
}

static int get_string(json_t *o, const char *where, const char *key, bool required, char **ret,
                      char **ret_error) {
        json_t *v = json_object_get(o, key);

        if (!v) {
                if (!required)
                        return 0;
                return set_error_sentence(ret_error, -EINVAL, "The manifest's %s lacks '%s'.", where, key);
        }
        if (!json_is_string(v))
                return set_error_sentence(ret_error, -EINVAL, "The manifest's %s.%s must be a string.",
                                          where, key);
        if (json_string_length(v) != strlen(json_string_value(v)))
                return set_error_sentence(ret_error, -EINVAL, "The manifest's %s.%s holds a NUL byte.",
                                          where, key);
        *ret = strdup(json_string_value(v));
        return *ret ? 0 : -ENOMEM;
}

/* A non-negative integer that JSON numbers carry exactly (< 2^53). */
static int get_uint(json_t *o, const char *where, const char *key, uint64_t *ret, char **ret_error) {
        json_t *v = json_object_get(o, key);

        if (!v)
                return set_error_sentence(ret_error, -EINVAL, "The manifest's %s lacks '%s'.", where, key);
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > (INT64_C(1) << 53))
                return set_error_sentence(ret_error, -EINVAL,
                                          "The manifest's %s.%s must be a whole number from 0 to 2^53.",
                                          where, key);
        *ret = (uint64_t) json_integer_value(v);
        return 0;
}

static int parse_file(json_t *f, size_t index, ManifestFile *ret, char **ret_error) {
        static const char *const keys[] = { "path", "size", "sha256", "mode", NULL };
        _cleanup_free_ char *sha = NULL, *mode = NULL, *where = strprintf("files[%zu]", index);
        const char *why;
        int r;

        if (!where)
                return -ENOMEM;
        if (!json_is_object(f))
                return set_error_sentence(ret_error, -EINVAL, "The manifest's %s must be an object.", where);
        r = check_keys(f, where, keys, ret_error);
        if (r < 0)
                return r;
        r = get_string(f, where, "path", true, &ret->path, ret_error);
        if (r < 0)
                return r;
        why = manifest_check_path(ret->path);
        if (why)
                return set_error_sentence(ret_error, -EINVAL, "The manifest's %s.path '%s' %s.", where,
                                          printable(ret->path), why);
        r = get_uint(f, where, "size", &ret->size, ret_error);
        if (r < 0)
                return r;
        r = get_string(f, where, "sha256", true, &sha, ret_error);
        if (r < 0)
                return r;
        if (!is_lower_hex(sha, SHA256_HEX - 1))
                return set_error_sentence(ret_error, -EINVAL,
                                          "The manifest's %s.sha256 must be 64 lowercase hex digits.",
                                          where);
        memcpy(ret->sha256, sha, SHA256_HEX);
        r = get_string(f, where, "mode", true, &mode, ret_error);
        if (r < 0)
                return r;
        if (!streq(mode, "0644") && !streq(mode, "0755"))
                return set_error_sentence(
                        ret_error, -EINVAL,
                        "The manifest's %s.mode must be \"0644\" or \"0755\" (no setuid, setgid "
                        "or other bits).",
                        where);
        ret->mode = streq(mode, "0644") ? 0644 : 0755;
        return 0;
}

static int parse_model(json_t *o, ManifestModel *m, char **ret_error) {
        static const char *const keys[] = { "architecture", "parameters", "dtype", "min_gpu_memory_bytes",
                                            "runtime",      "license",    NULL };
        struct {
                const char *key;
                char **field;
                bool token;
        } strings[] = {
                { "architecture", &m->architecture, true },
                { "dtype", &m->dtype, true },
                { "runtime", &m->runtime, true },
                { "license", &m->license, false },
        };
        int r;

        if (!json_is_object(o))
                return set_error_sentence(ret_error, -EINVAL, "The manifest's model must be an object.");
        r = check_keys(o, "model", keys, ret_error);
        if (r < 0)
                return r;
        for (size_t k = 0; k < ELEMENTSOF(strings); k++) {
                const char *why;

                r = get_string(o, "model", strings[k].key, true, strings[k].field, ret_error);
                if (r < 0)
                        return r;
                why = strings[k].token ? check_token(*strings[k].field, true)
                                       : check_text(*strings[k].field, 256);
                if (why)
                        return set_error_sentence(ret_error, -EINVAL, "The manifest's model.%s %s.",
                                                  strings[k].key, why);
        }
        r = get_uint(o, "model", "parameters", &m->parameters, ret_error);
        if (r < 0)
                return r;
        r = get_uint(o, "model", "min_gpu_memory_bytes", &m->min_gpu_memory_bytes, ret_error);
        if (r < 0)
                return r;
        if (m->parameters == 0)
                return set_error_sentence(ret_error, -EINVAL,
                                          "The manifest's model.parameters must be more than 0.");
        return 0;
}

static int parse_update(json_t *o, char ***compatible, char **ret_error) {
        static const char *const keys[] = { "compatible", NULL };
        json_t *l, *v;
        size_t i;
        int r;

        if (!json_is_object(o))
                return set_error_sentence(ret_error, -EINVAL, "The manifest's update must be an object.");
        r = check_keys(o, "update", keys, ret_error);
        if (r < 0)
                return r;
        l = json_object_get(o, "compatible");
        if (!json_is_array(l) || json_array_size(l) == 0 || json_array_size(l) > 256)
                return set_error_sentence(
                        ret_error, -EINVAL,
                        "The manifest's update.compatible must be a list of 1 to 256 product "
                        "versions.");
        json_array_foreach(l, i, v) {
                const char *why;

                if (!json_is_string(v))
                        return set_error_sentence(ret_error, -EINVAL,
                                                  "The manifest's update.compatible[%zu] must be a string.",
                                                  i);
                why = check_token(json_string_value(v), true);
                if (why)
                        return set_error_sentence(ret_error, -EINVAL,
                                                  "The manifest's update.compatible[%zu] %s.", i, why);
                if (strv_extend(compatible, json_string_value(v)) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int compare_path_prefix(const void *key, const void *elem) {
        return strcmp(key, ((const ManifestFile *) elem)->path);
}

int manifest_validate(const Manifest *m, char **ret_error) {
        const char *why;
        uint64_t total = 0;
        int r;

        if (m->format != MANIFEST_FORMAT)
                return set_error_sentence(ret_error, -EINVAL,
                                          "The manifest's format is %u; this Ark reads format %d.",
                                          m->format, MANIFEST_FORMAT);
        if (!bundle_kind_to_string(m->kind))
                return set_error_sentence(
                        ret_error, -EINVAL,
                        "The manifest's kind must be model, image, update or container-image.");
        why = manifest_check_name(m->name);
        if (why)
                return set_error_sentence(ret_error, -EINVAL, "The manifest's name %s.", why);
        why = manifest_check_version(m->version);
        if (why)
                return set_error_sentence(ret_error, -EINVAL, "The manifest's version %s.", why);
        if (!m->created || !is_timestamp(m->created))
                return set_error_sentence(
                        ret_error, -EINVAL,
                        "The manifest's created must be a UTC time like 2026-12-01T23:00:00Z.");
        if (!is_lower_hex(m->key_id, KEY_ID_HEX - 1))
                return set_error_sentence(ret_error, -EINVAL,
                                          "The manifest's key_id must be 16 lowercase hex digits.");
        if (m->n_files == 0 || m->n_files > MANIFEST_FILES_MAX)
                return set_error_sentence(ret_error, -EINVAL,
                                          "The manifest must list 1 to %d payload files.",
                                          MANIFEST_FILES_MAX);
        for (size_t k = 0; k < m->n_files; k++) {
                why = manifest_check_path(m->files[k].path);
                if (why)
                        return set_error_sentence(ret_error, -EINVAL, "The manifest's path '%s' %s.",
                                                  printable(m->files[k].path), why);
                if (k > 0 && strcmp(m->files[k - 1].path, m->files[k].path) >= 0)
                        return set_error_sentence(
                                ret_error, -EINVAL,
                                streq(m->files[k - 1].path, m->files[k].path)
                                        ? "The manifest lists '%s' twice."
                                        : "The manifest's files are not in byte order of their paths (at '%s').",
                                printable(m->files[k].path));
                /* A file may not also be a directory of another: "a" and "a/b" (which need not be
                 * neighbours: "a", "a-b", "a/b"). */
                for (char *slash = strchr(m->files[k].path, '/'); slash; slash = strchr(slash + 1, '/')) {
                        bool hit;

                        *slash = 0;
                        hit = bsearch(m->files[k].path, m->files, k, sizeof(ManifestFile),
                                      compare_path_prefix) != NULL;
                        *slash = '/';
                        if (hit) {
                                *slash = 0;
                                r = set_error_sentence(
                                        ret_error, -EINVAL,
                                        "The manifest lists '%s' both as a file and as a directory.",
                                        printable(m->files[k].path));
                                *slash = '/';
                                return r;
                        }
                }
                if (m->files[k].size > (UINT64_C(1) << 53) - total)
                        return set_error_sentence(ret_error, -EINVAL,
                                                  "The manifest's files add up to more than 2^53 bytes.");
                total += m->files[k].size;
        }
        if (total != m->total_bytes)
                return set_error_sentence(ret_error, -EINVAL, "The manifest's sizes do not add up.");
        if (m->kind == BUNDLE_UPDATE && strv_length(m->compatible) == 0)
                return set_error_sentence(ret_error, -EINVAL,
                                          "An update's manifest must list the compatible product versions.");
        if (m->kind == BUNDLE_MODEL &&
            (!m->model.architecture || !m->model.dtype || !m->model.runtime || !m->model.license))
                return set_error_sentence(ret_error, -EINVAL, "A model's manifest must describe the model.");
        return 0;
}

int manifest_parse(const char *data, size_t n, Manifest **ret, char **ret_error) {
        static const char *const keys[] = { "format", "kind",  "name",  "version", "created",
                                            "key_id", "files", "model", "update",  NULL };
        _cleanup_(manifest_freep) Manifest *m = NULL;
        _cleanup_free_ char *kind = NULL, *key_id = NULL;
        _cleanup_(json_decrefp) json_t *root = NULL;
        json_t *files, *v;
        json_error_t jerr;
        uint64_t format = 0;
        size_t i;
        int r;

        if (n > MANIFEST_MAX_BYTES)
                return set_error_sentence(ret_error, -EINVAL, "The manifest is larger than 1 MiB.");
        root = json_loadb(data, n, JSON_REJECT_DUPLICATES, &jerr);
        if (!root)
                return set_error_sentence(ret_error, -EINVAL,
                                          "The manifest is not valid UTF-8 JSON (line %d, column %d: %s).",
                                          jerr.line, jerr.column, jerr.text);
        m = calloc(1, sizeof(Manifest));
        if (!m)
                return -ENOMEM;
        if (!json_is_object(root))
                return set_error_sentence(ret_error, -EINVAL, "The manifest must be a JSON object.");
        r = check_keys(root, "top level", keys, ret_error);
        if (r < 0)
                return r;
        r = get_uint(root, "top level", "format", &format, ret_error);
        if (r < 0)
                return r;
        if (format != MANIFEST_FORMAT)
                return set_error_sentence(ret_error, -EINVAL,
                                          "The manifest's format is %llu; this Ark reads format %d.",
                                          (unsigned long long) format, MANIFEST_FORMAT);
        m->format = (unsigned) format;
        r = get_string(root, "top level", "kind", true, &kind, ret_error);
        if (r < 0)
                return r;
        m->kind = bundle_kind_from_string(kind);
        if (m->kind < 0)
                return set_error_sentence(
                        ret_error, -EINVAL,
                        "The manifest's kind '%s' is not one of model, image, update, container-image.",
                        printable(kind));
        if ((r = get_string(root, "top level", "name", true, &m->name, ret_error)) < 0 ||
            (r = get_string(root, "top level", "version", true, &m->version, ret_error)) < 0 ||
            (r = get_string(root, "top level", "created", true, &m->created, ret_error)) < 0 ||
            (r = get_string(root, "top level", "key_id", true, &key_id, ret_error)) < 0)
                return r;
        if (!is_lower_hex(key_id, KEY_ID_HEX - 1))
                return set_error_sentence(ret_error, -EINVAL,
                                          "The manifest's key_id must be 16 lowercase hex digits.");
        memcpy(m->key_id, key_id, KEY_ID_HEX);
        files = json_object_get(root, "files");
        if (!json_is_array(files) || json_array_size(files) == 0 ||
            json_array_size(files) > MANIFEST_FILES_MAX)
                return set_error_sentence(ret_error, -EINVAL,
                                          "The manifest's files must be a list of 1 to %d payload files.",
                                          MANIFEST_FILES_MAX);
        m->files = calloc(json_array_size(files), sizeof(ManifestFile));
        if (!m->files)
                return -ENOMEM;
        json_array_foreach(files, i, v) {
                r = parse_file(v, i, &m->files[i], ret_error);
                m->n_files = i + 1;
                if (r < 0)
                        return r;
                if (m->files[i].size <= (UINT64_C(1) << 53) - m->total_bytes)
                        m->total_bytes += m->files[i].size;
                else
                        m->total_bytes = UINT64_MAX; /* refused below */
        }
        v = json_object_get(root, "model");
        if (m->kind == BUNDLE_MODEL) {
                if (!v)
                        return set_error_sentence(
                                ret_error, -EINVAL,
                                "A model's manifest lacks 'model' (architecture, parameters, "
                                "dtype, min_gpu_memory_bytes, runtime, license).");
                r = parse_model(v, &m->model, ret_error);
                if (r < 0)
                        return r;
        } else if (v)
                return set_error_sentence(ret_error, -EINVAL, "Only a model's manifest has 'model'.");
        v = json_object_get(root, "update");
        if (m->kind == BUNDLE_UPDATE) {
                if (!v)
                        return set_error_sentence(ret_error, -EINVAL,
                                                  "An update's manifest lacks 'update' (compatible).");
                r = parse_update(v, &m->compatible, ret_error);
                if (r < 0)
                        return r;
        } else if (v)
                return set_error_sentence(ret_error, -EINVAL, "Only an update's manifest has 'update'.");
        r = manifest_validate(m, ret_error);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

static json_t *str_or_null(const char *s) {
        return s ? json_string(s) : json_null();
}

/* update.compatible as a new JSON array; NULL when out of memory. */
static json_t *compatible_to_json(char **compatible) {
        _cleanup_(json_decrefp) json_t *c = json_array();

        for (char **v = compatible; c && v && *v; v++)
                if (json_array_append_new(c, json_string(*v)) < 0)
                        return NULL;
        return TAKE_PTR(c);
}

int manifest_format(const Manifest *m, char **ret) {
        _cleanup_(json_decrefp) json_t *root = json_object(), *files = json_array();
        _cleanup_free_ char *text = NULL;

        if (!root || !files)
                return -ENOMEM;
        if (json_object_set_new(root, "format", json_integer(m->format)) < 0 ||
            json_object_set_new(root, "kind", json_string(bundle_kind_to_string(m->kind))) < 0 ||
            json_object_set_new(root, "name", str_or_null(m->name)) < 0 ||
            json_object_set_new(root, "version", str_or_null(m->version)) < 0 ||
            json_object_set_new(root, "created", str_or_null(m->created)) < 0 ||
            json_object_set_new(root, "key_id", json_string(m->key_id)) < 0)
                return -ENOMEM;
        for (size_t k = 0; k < m->n_files; k++) {
                const ManifestFile *f = &m->files[k];

                if (json_array_append_new(files,
                                          json_pack("{s:s, s:I, s:s, s:s}", "path", f->path, "size",
                                                    (json_int_t) f->size, "sha256", f->sha256, "mode",
                                                    f->mode == 0755 ? "0755" : "0644")) < 0)
                        return -ENOMEM;
        }
        if (json_object_set(root, "files", files) < 0)
                return -ENOMEM;
        if (m->kind == BUNDLE_MODEL &&
            json_object_set_new(root, "model",
                                json_pack("{s:s?, s:I, s:s?, s:I, s:s?, s:s?}", "architecture",
                                          m->model.architecture, "parameters",
                                          (json_int_t) m->model.parameters, "dtype", m->model.dtype,
                                          "min_gpu_memory_bytes", (json_int_t) m->model.min_gpu_memory_bytes,
                                          "runtime", m->model.runtime, "license", m->model.license)) < 0)
                return -ENOMEM;
        if (m->kind == BUNDLE_UPDATE) {
                _cleanup_(json_decrefp) json_t *c = compatible_to_json(m->compatible);

                if (!c || json_object_set_new(root, "update", json_pack("{s:O}", "compatible", c)) < 0)
                        return -ENOMEM;
        }
        text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
        if (!text)
                return -ENOMEM;
        *ret = strprintf("%s\n", text);
        return *ret ? 0 : -ENOMEM;
}

static int compare_path(const void *key, const void *elem) {
        return strcmp(key, ((const ManifestFile *) elem)->path);
}

const ManifestFile *manifest_find(const Manifest *m, const char *path) {
        return bsearch(path, m->files, m->n_files, sizeof(ManifestFile), compare_path);
}

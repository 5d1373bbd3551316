/* arkctl bundle keygen | create | verify | inspect | trust: signed offline bundles. keygen,
 * create, verify and inspect work without arkd; trust goes through arkd (admin only, audited). */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arkctl.h"
#include "bus-props.h"
#include "output.h"
#include "progress.h"
#include "basic/fileio.h"
#include "basic/parse-util.h"
#include "basic/string-util.h"
#include "basic/time-util.h"
#include "shared/bundle.h"
#include "shared/oci-image.h"
#include "shared/trust.h"

#ifdef CONFIG_DEFAULT_TRUST_DIR
#define DEFAULT_TRUST_DIR CONFIG_DEFAULT_TRUST_DIR
#else
#define DEFAULT_TRUST_DIR "/etc/ark/trust.d"
#endif

/* --trust-dir, else $ARK_TRUST_DIR, else the appliance's. */
static const char *trust_dir(void) {
        const char *e = getenv("ARK_TRUST_DIR");

        if (arg_trust_dir)
                return arg_trust_dir;
        return isempty(e) ? DEFAULT_TRUST_DIR : e;
}

static int fail_with(int r, char *err) {
        fprintf(stderr, "arkctl: %s\n", err ?: strerror(-r));
        free(err);
        return r;
}

int verb_bundle_keygen(char **args) {
        _cleanup_free_ char *err = NULL;
        char id[KEY_ID_HEX];
        int r = ark_key_generate(args[0], id, &err);

        if (r < 0)
                return fail_with(r, TAKE_PTR(err));
        if (arg_output == OUTPUT_JSON) {
                _cleanup_free_ char *k = strprintf("%s.key", args[0]), *p = strprintf("%s.pub", args[0]);
                _cleanup_(json_decrefp) json_t *j = k && p
                        ? json_pack("{s:s, s:s, s:s}", "key_id", id, "private_key", k, "public_key", p)
                        : NULL;

                return ctl_print_json(j);
        }
        printf("Key %s: %s.key (private, keep it offline), %s.pub (give it to 'arkctl bundle trust add').\n",
               id, args[0], args[0]);
        return 0;
}

static int progress_cb(uint64_t done, uint64_t total, void *userdata) {
        progress_bar_update(userdata, done, total);
        return 0;
}

static json_t *manifest_json(const Manifest *m) {
        json_t *files = json_array(), *j;

        for (size_t k = 0; files && k < m->n_files; k++)
                if (json_array_append_new(files,
                                          json_pack("{s:s, s:I, s:s, s:s}", "path", m->files[k].path, "size",
                                                    (json_int_t) m->files[k].size, "sha256",
                                                    m->files[k].sha256, "mode",
                                                    m->files[k].mode == 0755 ? "0755" : "0644")) < 0)
                        files = NULL;
        if (!files)
                return NULL;
        j = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:I, s:o}", "format", m->format, "kind",
                      bundle_kind_to_string(m->kind), "name", m->name, "version", m->version, "created",
                      m->created, "key_id", m->key_id, "total_bytes", (json_int_t) m->total_bytes, "files",
                      files);
        if (j && m->kind == BUNDLE_MODEL)
                json_object_set_new(
                        j, "model",
                        json_pack("{s:s, s:I, s:s, s:I, s:s, s:s}", "architecture", m->model.architecture,
                                  "parameters", (json_int_t) m->model.parameters, "dtype", m->model.dtype,
                                  "min_gpu_memory_bytes", (json_int_t) m->model.min_gpu_memory_bytes,
                                  "runtime", m->model.runtime, "license", m->model.license));
        if (j && m->kind == BUNDLE_UPDATE) {
                json_t *c = json_array();

                for (char **v = m->compatible; c && v && *v; v++)
                        json_array_append_new(c, json_string(*v));
                json_object_set_new(j, "update", json_pack("{s:o}", "compatible", c));
        }
        return j;
}

/* 8000000000 -> "8.0B" */
static const char *format_count(char *buf, size_t l, uint64_t n) {
        if (n >= 1000000000ULL)
                snprintf(buf, l, "%.1fB", (double) n / 1e9);
        else if (n >= 1000000ULL)
                snprintf(buf, l, "%.1fM", (double) n / 1e6);
        else
                snprintf(buf, l, "%" PRIu64, n);
        return buf;
}

static int print_manifest(const Manifest *m, const char *signature) {
        _cleanup_(table_freep) Table *t = table_new_fields();
        char size[OUTPUT_FORMAT_MAX], mem[OUTPUT_FORMAT_MAX], count[32];
        int r;

        if (!t)
                return ctl_oom();
        table_add_row(t, "Name", m->name);
        table_add_row(t, "Version", m->version);
        table_add_row(t, "Kind", bundle_kind_to_string(m->kind));
        table_add_row(t, "Created", m->created);
        table_add_row(t, "Signed by", signature);
        format_bytes(size, sizeof(size), m->total_bytes);
        {
                _cleanup_free_ char *s = strprintf("%zu, %s", m->n_files, size);
                table_add_row(t, "Files", s ?: "");
        }
        if (m->kind == BUNDLE_MODEL) {
                table_add_row(t, "Architecture", m->model.architecture);
                table_add_row(t, "Parameters", format_count(count, sizeof(count), m->model.parameters));
                table_add_row(t, "Dtype", m->model.dtype);
                table_add_row(t, "Min GPU memory",
                              format_bytes(mem, sizeof(mem), m->model.min_gpu_memory_bytes));
                table_add_row(t, "Runtime", m->model.runtime);
                table_add_row(t, "License", m->model.license);
        }
        if (m->kind == BUNDLE_UPDATE) {
                _cleanup_free_ char *c = strv_join(m->compatible, ", ");
                table_add_row(t, "Compatible", c ?: "");
        }
        r = ctl_print_table(t);
        if (r < 0)
                return r;
        if (!arg_legend)
                return 0;
        {
                _cleanup_(table_freep) Table *f = table_new("PATH", "SIZE", "MODE", "SHA256", NULL);

                if (!f)
                        return ctl_oom();
                for (size_t k = 0; k < m->n_files; k++) {
                        char sz[OUTPUT_FORMAT_MAX];

                        table_add_row(f, m->files[k].path, format_bytes(sz, sizeof(sz), m->files[k].size),
                                      m->files[k].mode == 0755 ? "0755" : "0644", m->files[k].sha256);
                }
                table_set_shrinkable(f, 3, 16);
                putchar('\n');
                return ctl_print_table(f);
        }
}

#if IS_ENABLED(CONFIG_CONTAINERS)
/* A container image is checked as arkd will check it (every digest and size, every layer's
 * entries) before it is signed: a refusal now beats one at import. Writes nothing. */
static int check_container_image(const char *dir, char **ret_error) {
        _cleanup_(oci_image_freep) OciImage *img = NULL;
        _cleanup_(oci_tree_freep) OciTree *t = oci_tree_new();
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int r;

        if (fd < 0)
                return set_error_sentence(ret_error, -errno, "Cannot open %s: %m.", dir);
        if (!t)
                return -ENOMEM;
        r = oci_image_load(fd, NULL, &img, ret_error);
        for (size_t k = 0; r >= 0 && k < img->n_layers; k++) {
                _cleanup_close_ int bfd = oci_blob_open(fd, img->layers[k].digest);
                OciLayerReport rep = {};

                r = oci_layer_check(bfd, &img->layers[k], (unsigned) k, t, &rep, ret_error);
                oci_layer_report_done(&rep);
        }
        return r;
}
#endif

int verb_bundle_create(char **args) {
        _cleanup_(manifest_freep) Manifest *m = NULL;
        _cleanup_free_ char *err = NULL;
        BundleCreateOptions o = {
                .name = arg_bundle_name,
                .version = arg_bundle_version,
                .key_path = arg_key,
                .dir = args[0],
                .output = arg_out_file,
                .compression = arg_compress,
                .compatible = arg_compatible,
        };
        ProgressBar pb;
        int r;

        /* The dispatcher has checked that --kind, --name, --version, --key and -o are there. */
        o.kind = bundle_kind_from_string(arg_bundle_kind);
        if (o.kind < 0)
                return usage_error("--kind: '%s' is not model, image, update or container-image",
                                   arg_bundle_kind);
        if (manifest_check_name(arg_bundle_name))
                return usage_error("--name: '%s' %s", arg_bundle_name, manifest_check_name(arg_bundle_name));
        if (manifest_check_version(arg_bundle_version))
                return usage_error("--version: '%s' %s", arg_bundle_version,
                                   manifest_check_version(arg_bundle_version));
        if (o.kind == BUNDLE_MODEL) {
                if (!arg_architecture || !arg_parameters || !arg_dtype || !arg_runtime || !arg_license)
                        return usage_error(
                                "a model bundle needs --architecture, --parameters, --dtype, --runtime and "
                                "--license (and --min-gpu-memory)");
                o.model = (ManifestModel) { .architecture = (char *) arg_architecture,
                                            .parameters = arg_parameters,
                                            .dtype = (char *) arg_dtype,
                                            .min_gpu_memory_bytes = arg_min_gpu_memory,
                                            .runtime = (char *) arg_runtime,
                                            .license = (char *) arg_license };
        } else if (arg_architecture || arg_parameters || arg_dtype || arg_runtime || arg_license ||
                   arg_min_gpu_memory)
                return usage_error(
                        "--architecture, --parameters, --dtype, --min-gpu-memory, --runtime and --license "
                        "are for --kind model");
        if (o.kind == BUNDLE_UPDATE && strv_length(arg_compatible) == 0)
                return usage_error("an update bundle needs --compatible VERSION (one per product version)");
        if (o.kind != BUNDLE_UPDATE && arg_compatible)
                return usage_error("--compatible is for --kind update");
        if (o.kind == BUNDLE_CONTAINER_IMAGE) {
#if IS_ENABLED(CONFIG_CONTAINERS)
                r = check_container_image(args[0], &err);
                if (r < 0)
                        return fail_with(r, TAKE_PTR(err));
#else
                return usage_error("--kind container-image: this arkctl is built without containers");
#endif
        }
        progress_bar_init(&pb, "Creating");
        o.progress = progress_cb;
        o.userdata = &pb;
        r = bundle_create(&o, &m, &err);
        progress_bar_end(&pb);
        if (r < 0)
                return fail_with(r, TAKE_PTR(err));
        if (arg_output == OUTPUT_JSON) {
                _cleanup_(json_decrefp) json_t *j = manifest_json(m);

                return ctl_print_json(j);
        }
        {
                char size[OUTPUT_FORMAT_MAX];

                printf("Created %s: %s %s %s, %zu file%s, %s, signed by key %s.\n", arg_out_file,
                       bundle_kind_to_string(m->kind), m->name, m->version, m->n_files,
                       m->n_files == 1 ? "" : "s", format_bytes(size, sizeof(size), m->total_bytes),
                       m->key_id);
        }
        return 0;
}

static int open_bundle(const char *path) {
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

        if (fd < 0) {
                int r = -errno;

                fprintf(stderr, "arkctl: cannot open %s: %s\n", path, strerror(errno));
                return r;
        }
        return fd;
}

int verb_bundle_verify(char **args) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *err = NULL;
        BundleResult res = {};
        ProgressBar pb;
        BundleReadOptions o = {
                .trust_dir = trust_dir(), .dest_fd = -1, .progress = progress_cb, .userdata = &pb
        };
        uint64_t start = now_usec(CLOCK_MONOTONIC);
        int r;

        fd = open_bundle(args[0]);
        if (fd < 0)
                return fd;
        progress_bar_init(&pb, "Verifying");
        r = bundle_read(fd, args[0], &o, &res, &err);
        progress_bar_end(&pb);
        if (r < 0)
                return fail_with(r, TAKE_PTR(err));
        if (arg_output == OUTPUT_JSON) {
                _cleanup_(json_decrefp) json_t *j = json_pack(
                        "{s:s, s:b, s:s, s:s, s:s, s:s, s:I, s:I, s:s}", "bundle", args[0], "valid", 1,
                        "kind", bundle_kind_to_string(res.manifest->kind), "name", res.manifest->name,
                        "version", res.manifest->version, "key_id", res.manifest->key_id, "files",
                        (json_int_t) res.manifest->n_files, "payload_bytes",
                        (json_int_t) res.manifest->total_bytes, "sha256", res.sha256);

                r = ctl_print_json(j);
        } else {
                char size[OUTPUT_FORMAT_MAX], rate[64];

                printf("%s: valid. %s %s %s, signed by trusted key %s; %zu file%s, %s, every SHA-256 matches (%s).\n",
                       args[0], bundle_kind_to_string(res.manifest->kind), res.manifest->name,
                       res.manifest->version, res.manifest->key_id, res.manifest->n_files,
                       res.manifest->n_files == 1 ? "" : "s",
                       format_bytes(size, sizeof(size), res.manifest->total_bytes),
                       progress_format_rate(rate, sizeof(rate), res.archive_bytes, res.archive_bytes,
                                            now_usec(CLOCK_MONOTONIC) - start));
                printf("Bundle SHA-256: %s\n", res.sha256);
                r = 0;
        }
        bundle_result_done(&res);
        return r;
}

int verb_bundle_inspect(char **args) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *err = NULL, *sig = NULL;
        BundleResult res = {};
        BundleReadOptions o = {
                .trust_dir = trust_dir(), .dest_fd = -1, .manifest_only = true, .allow_untrusted = true
        };
        static const char *const sig_names[] = {
                [BUNDLE_SIGNATURE_VALID] = "trusted",
                [BUNDLE_SIGNATURE_UNKNOWN_KEY] = "unknown",
                [BUNDLE_SIGNATURE_REVOKED_KEY] = "revoked",
                [BUNDLE_SIGNATURE_BAD] = "bad",
        };
        int r;

        fd = open_bundle(args[0]);
        if (fd < 0)
                return fd;
        r = bundle_read(fd, args[0], &o, &res, &err);
        if (r < 0)
                return fail_with(r, TAKE_PTR(err));
        if (arg_output == OUTPUT_JSON) {
                json_t *j = manifest_json(res.manifest);

                if (j)
                        json_object_set_new(j, "signature", json_string(sig_names[res.signature]));
                r = ctl_print_json(j);
                json_decref(j);
        } else {
                sig = strprintf("key %s (%s)", res.manifest->key_id,
                                res.signature == BUNDLE_SIGNATURE_VALID ? "trusted, the signature verifies"
                                        : res.signature == BUNDLE_SIGNATURE_REVOKED_KEY
                                        ? "REVOKED: import would be refused"
                                        : "not trusted here: import would be refused");
                r = print_manifest(res.manifest, sig ?: "");
        }
        bundle_result_done(&res);
        return r;
}

int verb_bundle_trust(char **args) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *op = args[0], *arg = args[1];
        int r;

        if (!streq(op, "add") && !streq(op, "list") && !streq(op, "remove") && !streq(op, "revoke"))
                return usage_error(
                        "'bundle trust' takes add FILE.pub, list, remove ID or revoke ID, not '%s'", op);
        if (streq(op, "list") ? arg != NULL : arg == NULL)
                return usage_error(streq(op, "list") ? "'bundle trust list' takes no argument"
                                           : streq(op, "add")
                                           ? "'bundle trust add' needs the public key file (PREFIX.pub)"
                                           : "'bundle trust %s' needs a key id",
                                   op);
        if (arg_trust_dir && !streq(op, "add"))
                return usage_error(
                        "--trust-dir applies to 'bundle trust add' only (the daemon's keys are listed and "
                        "removed through it)");
        if (streq(op, "add")) {
                _cleanup_free_ char *pem = NULL;
                const char *id;
                size_t n = 0;

                r = read_full_file(arg, &pem, &n);
                if (r < 0) {
                        fprintf(stderr, "arkctl: cannot read %s: %s\n", arg, strerror(-r));
                        return r;
                }
                if (arg_trust_dir) {
                        /* Offline, into a directory (an image being built): no daemon, no audit. */
                        _cleanup_free_ char *err = NULL;
                        char kid[KEY_ID_HEX];

                        r = trust_add(arg_trust_dir, arg, pem, n, kid, &err);
                        if (r < 0) {
                                fprintf(stderr, "arkctl: %s\n", err ?: strerror(-r));
                                return r;
                        }
                        if (arg_output == OUTPUT_JSON) {
                                _cleanup_(json_decrefp) json_t *j = json_pack("{s:s}", "key_id", kid);

                                return ctl_print_json(j);
                        }
                        printf("Trusted key %s in %s.\n", kid, arg_trust_dir);
                        return 0;
                }
                r = ctl_bus_open(&bus);
                if (r < 0)
                        return r;
                r = ctl_call(bus, "/org/ark/Ark1", "org.ark.Ark1.Manager", "TrustKey", 0, &reply, "s", pem);
                if (r < 0)
                        return r;
                r = sd_bus_message_read(reply, "s", &id);
                if (r < 0)
                        return ctl_log_call_error(r, NULL, "TrustKey");
                if (arg_output == OUTPUT_JSON) {
                        _cleanup_(json_decrefp) json_t *j = json_pack("{s:s}", "key_id", id);

                        return ctl_print_json(j);
                }
                printf("Trusted key %s: bundles it signs can be imported.\n", id);
                return 0;
        }
        r = ctl_bus_open(&bus);
        if (r < 0)
                return r;
        if (streq(op, "remove") || streq(op, "revoke")) {
                r = ctl_call(bus, "/org/ark/Ark1", "org.ark.Ark1.Manager",
                             streq(op, "remove") ? "UntrustKey" : "RevokeKey", 0, NULL, "s", arg);
                if (r < 0)
                        return r;
                if (arg_output != OUTPUT_JSON)
                        printf(streq(op, "remove") ? "Key %s is no longer trusted.\n"
                                                   : "Key %s is revoked: bundles it signed are refused.\n",
                               arg);
                return 0;
        }
        {
                _cleanup_(table_freep) Table *t = table_new("KEY", "STATE", NULL);
                _cleanup_(json_decrefp) json_t *list = json_array();
                const char *id;
                int present, revoked;

                if (!t || !list)
                        return ctl_oom();
                r = ctl_call(bus, "/org/ark/Ark1", "org.ark.Ark1.Manager", "ListTrustedKeys", 0, &reply,
                             NULL);
                if (r < 0)
                        return r;
                r = sd_bus_message_enter_container(reply, 'a', "(sbb)");
                while (r >= 0 && (r = sd_bus_message_read(reply, "(sbb)", &id, &present, &revoked)) > 0) {
                        const char *state = revoked ? "revoked" : "trusted";

                        table_add_row(t, id, state);
                        json_array_append_new(list,
                                              json_pack("{s:s, s:b, s:b}", "key_id", id, "trusted",
                                                        present && !revoked, "revoked", revoked));
                }
                if (r < 0)
                        return ctl_log_call_error(r, NULL, "ListTrustedKeys");
                if (arg_output == OUTPUT_JSON)
                        return ctl_print_json(list);
                if (table_rows(t) == 0) {
                        puts("No trusted keys.");
                        return 0;
                }
                return ctl_print_table(t);
        }
}

/* ------------------------------------------------------------------------------ import */

typedef struct ImportWait {
        const char *unique; /* our unique bus name: only our import's progress is ours */
        uint32_t id;        /* its id, once arkd said */
        bool answered;
        sd_bus_message *reply;
        sd_bus_error error;
        ProgressBar pb;
} ImportWait;

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) {
        interrupted++;
}

static int on_progress(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        ImportWait *w = userdata;
        const char *sender, *name;
        uint64_t done, total, rate, left;
        uint32_t id;

        if (sd_bus_message_read(m, "usstttt", &id, &sender, &name, &done, &total, &rate, &left) < 0 ||
            !streq(sender, w->unique))
                return 0;
        w->id = id;
        if (total > 0)
                progress_bar_update(&w->pb, done, total);
        return 0;
}

static int on_import_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        ImportWait *w = userdata;

        w->answered = true;
        if (sd_bus_message_is_method_error(m, NULL))
                (void) sd_bus_error_copy(&w->error, sd_bus_message_get_error(m));
        else
                w->reply = sd_bus_message_ref(m);
        return 0;
}

static const FieldMap bundle_fields[] = {
        { "Kind", "kind" },
        { "Name", "name" },
        { "Version", "version" },
        { "Tenant", "tenant" },
        { "KeyId", "key_id" },
        { "SHA256", "sha256" },
        { "SizeBytes", "size_bytes" },
        { "Files", "files" },
        { "Created", "created" },
        { "ImportedAt", "imported_usec" },
        { "ImportedBy", "imported_uid" },
        { "Directory", "directory" },
        { "Architecture", "architecture" },
        { "Parameters", "parameters" },
        { "Dtype", "dtype" },
        { "MinGPUMemoryBytes", "min_gpu_memory_bytes" },
        { "Runtime", "runtime" },
        { "License", "license" },
        {},
};

int verb_bundle_import(char **args) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *match = NULL, *slot = NULL;
        _cleanup_close_ int fd = -EBADF;
        _cleanup_(json_decrefp) json_t *props = NULL;
        ImportWait w = { .error = SD_BUS_ERROR_NULL };
        const char *base = strrchr(args[0], '/') ? strrchr(args[0], '/') + 1 : args[0], *path;
        struct sigaction sa = { .sa_handler = on_sigint }, old_int, old_term;
        bool cancel_sent = false;
        int r;

        fd = open_bundle(args[0]);
        if (fd < 0)
                return fd;
        r = ctl_bus_open(&bus);
        if (r < 0)
                return r;
        r = sd_bus_get_unique_name(bus, &w.unique);
        if (r >= 0)
                r = sd_bus_match_signal(bus, &match, "org.ark.Ark1", "/org/ark/Ark1", "org.ark.Ark1.Manager",
                                        "ImportProgress", on_progress, &w);
        if (r >= 0)
                r = ctl_new_call(bus, "/org/ark/Ark1", "org.ark.Ark1.Manager", "ImportBundle", &call);
        if (r >= 0)
                r = sd_bus_message_append(call, "hss", fd, base, strempty(arg_tenant));
        if (r >= 0)
                r = sd_bus_call_async(bus, &slot, call, on_import_reply, &w, 24ULL * 3600 * 1000000);
        if (r < 0)
                return ctl_log_call_error(r, NULL, "ImportBundle");
        progress_bar_init(&w.pb, "Importing");
        sigemptyset(&sa.sa_mask);
        (void) sigaction(SIGINT, &sa, &old_int);
        (void) sigaction(SIGTERM, &sa, &old_term);
        while (!w.answered) {
                /* The first Ctrl-C asks arkd to cancel (as soon as arkd said which import is ours);
                 * a second one stops waiting. */
                if (interrupted > 1) {
                        progress_bar_end(&w.pb);
                        fprintf(stderr, "arkctl: interrupted; %s\n",
                                cancel_sent ? "arkd was asked to cancel the import"
                                            : "the import had not started");
                        r = -EINTR;
                        break;
                }
                if (interrupted && !cancel_sent && w.id > 0) {
                        _cleanup_(sd_bus_message_unrefp) sd_bus_message *c = NULL;

                        if (ctl_new_call(bus, "/org/ark/Ark1", "org.ark.Ark1.Manager", "CancelImport", &c) >=
                                    0 &&
                            sd_bus_message_append(c, "u", w.id) >= 0)
                                (void) sd_bus_send(bus, c, NULL);
                        cancel_sent = true;
                }
                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        break;
                if (r == 0)
                        (void) sd_bus_wait(bus, 200000);
        }
        (void) sigaction(SIGINT, &old_int, NULL);
        (void) sigaction(SIGTERM, &old_term, NULL);
        progress_bar_end(&w.pb);
        if (r == -EINTR)
                return r;
        if (r < 0 || sd_bus_error_is_set(&w.error)) {
                r = ctl_log_call_error(r < 0 ? r : -EIO, &w.error, "ImportBundle");
                sd_bus_error_free(&w.error);
                return r;
        }
        r = sd_bus_message_read(w.reply, "o", &path);
        if (r >= 0)
                r = ctl_get_all(bus, path, "org.ark.Ark1.Bundle", &props);
        sd_bus_message_unref(w.reply);
        if (r < 0)
                return r;
        if (arg_output == OUTPUT_JSON) {
                _cleanup_(json_decrefp) json_t *j = props_to_json(props, bundle_fields);

                return ctl_print_json(j);
        }
        {
                char size[OUTPUT_FORMAT_MAX];

                printf("Imported %s %s %s%s%s: %" PRIu64
                       " file%s, %s, signed by key %s.\nBundle SHA-256: %s\n",
                       props_string(props, "Kind"), props_string(props, "Name"),
                       props_string(props, "Version"),
                       isempty(props_string(props, "Tenant")) ? " (shared)" : " for tenant ",
                       props_string(props, "Tenant"), props_u64(props, "Files"),
                       props_u64(props, "Files") == 1 ? "" : "s",
                       format_bytes(size, sizeof(size), props_u64(props, "SizeBytes")),
                       props_string(props, "KeyId"), props_string(props, "SHA256"));
        }
        return 0;
}

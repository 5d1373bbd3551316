/* Signed bundles end to end, through arkctl and D-Bus against arkd: keys, create, verify, inspect
 * and import of a model; refused bundles (a flipped payload byte, an untrusted key, a tampered
 * manifest, hostile archives) leave the model store's files and its table as they were and no
 * staging behind; kill -9 during an import leaves no model and its staging is cleaned at the next
 * start; cancel; concurrent imports; progress signals; delete; audit rows. Imports are slowed down
 * with slow-import.so (preloaded into arkd: bundles read slowly) where a test must catch one in the
 * middle. */

#include "itest.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../unit/bundle-fixture.h"
#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "shared/trust.h"

static Harness H;
static char *work, *key_prefix, *key_file, *pub_file;

static int setup(void **state) {
        if (harness_setup(&H, "dgx-h100") < 0 || harness_start_arkd(&H, NULL) < 0)
                return -1;
        work = strprintf("%s/work", H.tmp);
        key_prefix = strprintf("%s/publisher", H.tmp);
        key_file = strprintf("%s.key", key_prefix);
        pub_file = strprintf("%s.pub", key_prefix);
        return work && key_prefix && key_file && pub_file && mkdir(work, 0755) >= 0 ? 0 : -1;
}

static int teardown(void **state) {
        harness_teardown(&H);
        free(work);
        free(key_prefix);
        free(key_file);
        free(pub_file);
        return 0;
}

static char *wpath(const char *name) {
        char *p = path_join(work, name);

        assert_non_null(p);
        return p;
}

/* A model directory: config.json and weights/model.bin of `size` pseudo-random bytes. */
static char *make_payload(const char *name, size_t size, unsigned seed) {
        char *dir = wpath(name);
        _cleanup_free_ char *out = NULL, *err = NULL;

        if (harness_sh(
                    &out, &err,
                    "mkdir -p '%s/weights' && printf '{\"seed\": %u}' > '%s/config.json' && "
                    "openssl enc -aes-128-ctr -nosalt -pass pass:%u -in /dev/zero 2>/dev/null | head -c %zu > "
                    "'%s/weights/model.bin'",
                    dir, seed, dir, seed, size, dir) != 0)
                fail_msg("cannot make the payload: %s", strna(err));
        return dir;
}

static void ensure_key(void) {
        if (file_exists(key_file))
                return;
        assert_arkctl(&H, 0, "private, keep it offline", "bundle", "keygen", key_prefix);
        assert_arkctl(&H, 0, "Trusted key", "bundle", "trust", "add", pub_file);
}

/* A model bundle of the payload, signed with the trusted key. */
static char *make_bundle(const char *name, const char *payload, const char *version, const char *compress) {
        char *ark = wpath(name);

        ensure_key();
        assert_arkctl(&H, 0, "Created", "bundle", "create", payload, "--kind", "model", "--name",
                      "llama-test", "--version", version, "--key", key_file, "-o", ark, "--compress",
                      compress, "--architecture", "llama", "--parameters", "8000000000", "--dtype", "bf16",
                      "--min-gpu-memory", "16G", "--runtime", "vllm", "--license", "Llama-3-Community");
        return ark;
}

/* The store as a string: every path under <state>/bundles with size and mode, every file's
 * SHA-256, and the whole database but the audit log (which records the refusal, as it must). */
static char *store_snapshot(void) {
        char *out = NULL;
        _cleanup_free_ char *err = NULL;

        if (harness_sh(
                    &out, &err,
                    "cd '%s' && mkdir -p bundles/staging && find bundles -printf '%%p %%s %%m\\n' | sort && "
                    "find bundles -type f -exec sha256sum {} + | sort && "
                    "sqlite3 ark.db .dump | grep -v '^INSERT INTO audit_log'",
                    H.state_dir) != 0)
                fail_msg("snapshot: %s", strna(err));
        return out;
}

static void assert_no_staging(void) {
        _cleanup_free_ char *out = NULL, *err = NULL;

        /* The staging directory itself may stay; nothing in it may. */
        assert_int_equal(
                harness_sh(&out, &err, "ls -A '%s/bundles/staging' 2>/dev/null | wc -l", H.state_dir), 0);
        assert_string_equal(strstrip(out), "0");
}

static void test_import_model(void **state) {
        _cleanup_free_ char *payload = make_payload("m1", 3 << 20, 1),
                            *ark = make_bundle("m1.ark", payload, "1.0", "zstd");
        _cleanup_free_ char *out = NULL;
        json_t *list, *j, *rows, *row;
        size_t k;
        bool found = false;

        /* Offline: verify and inspect, no daemon involved (arkd's trust directory is theirs too). */
        assert_arkctl(&H, 0, "valid. model llama-test 1.0", "bundle", "verify", ark);
        j = harness_arkctl_json(&H, "bundle", "inspect", ark, NULL);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "signature")), "trusted");
        assert_string_equal(json_string_value(json_object_get(json_object_get(j, "model"), "runtime")),
                            "vllm");
        assert_int_equal(json_array_size(json_object_get(j, "files")), 2);
        json_decref(j);
        out = itest_arkctl_expect(&H, 0, "Signed by: key", "bundle", "inspect", ark, NULL);
        assert_non_null(strstr(out, "weights/model.bin"));
        out = mfree(out);

        out = itest_arkctl_expect(&H, 0, "Imported model llama-test 1.0 (shared)", "bundle", "import", ark,
                                  NULL);
        list = harness_arkctl_json(&H, "model", "list", NULL);
        assert_int_equal(json_array_size(list), 1);
        j = json_array_get(list, 0);
        assert_string_equal(json_string_value(json_object_get(j, "name")), "llama-test");
        assert_string_equal(json_string_value(json_object_get(j, "dtype")), "bf16");
        assert_int_equal(json_integer_value(json_object_get(j, "parameters")), 8000000000);
        assert_int_equal(json_integer_value(json_object_get(j, "files")), 2);
        {
                /* The files are there, as they were signed. */
                _cleanup_free_ char *o = NULL, *e = NULL;
                const char *dir = json_string_value(json_object_get(j, "directory"));

                assert_int_equal(harness_sh(&o, &e, "cmp '%s/weights/model.bin' '%s/weights/model.bin'", dir,
                                            payload),
                                 0);
        }
        json_decref(list);
        assert_no_staging();
        /* The same again: refused, nothing changes. */
        assert_arkctl(&H, 1, "already installed", "bundle", "import", ark);
        /* The audit log names the bundle's SHA-256 and key. */
        rows = harness_arkctl_json(&H, "audit", "list", NULL);
        json_array_foreach(rows, k, row) {
                const char *res = json_string_value(json_object_get(row, "result"));

                found = found ||
                        (res && startswith(res, "ok: model llama-test 1.0, bundle sha256 ") &&
                         strstr(res, "key "));
        }
        json_decref(rows);
        assert_true(found);
        assert_arkctl(&H, 0, "Deleted model llama-test", "model", "delete", "llama-test");
        assert_arkctl(&H, 0, "No models.", "model", "list");
        /* The delete has one row, written with the change, naming what went (not a bare "ok"
         * followed by a second row). */
        rows = harness_arkctl_json(&H, "audit", "list", NULL);
        {
                size_t deletes = 0;
                json_t *last = NULL;

                json_array_foreach(rows, k, row)
                        if (streq(strempty(json_string_value(json_object_get(row, "action"))),
                                  "Bundle.Delete")) {
                                deletes++;
                                last = row;
                        }
                assert_int_equal(deletes, 1);
                assert_true(startswith(strempty(json_string_value(json_object_get(last, "result"))),
                                       "ok: deleted model llama-test 1.0"));
        }
        json_decref(rows);
}

/* Rewrites one byte of the file at the first place `needle` occurs (+ offset), or at `at`. */
static void patch(const char *path, const char *needle, size_t at, char byte) {
        _cleanup_free_ char *data = NULL;
        size_t n = 0;
        FILE *f;
        char *p;

        assert_int_equal(read_full_file(path, &data, &n), 0);
        p = needle ? memmem(data, n, needle, strlen(needle)) : data + at;
        assert_non_null(p);
        p[needle ? 1 : 0] = byte;
        f = fopen(path, "we");
        assert_non_null(f);
        assert_int_equal(fwrite(data, 1, n, f), n);
        fclose(f);
}

static void expect_refused_unchanged(const char *ark, const char *says) {
        _cleanup_free_ char *before = store_snapshot(), *after = NULL;

        assert_arkctl(&H, 1, says, "bundle", "import", ark);
        after = store_snapshot();
        assert_string_equal(before, after);
        assert_no_staging();
}

static void test_refused(void **state) {
        _cleanup_free_ char *payload = make_payload("m2", 1 << 20, 2),
                            *good = make_bundle("good.ark", payload, "2.0", "none");
        _cleanup_free_ char *flip = wpath("flip.ark"), *tamper = wpath("tamper.ark"),
                            *other = wpath("other"), *untrusted = wpath("untrusted.ark"), *o = NULL,
                            *e = NULL;

        /* Something installed already, so "unchanged" is not trivially an empty store. */
        assert_arkctl(&H, 0, "Imported", "bundle", "import", good);

        assert_int_equal(harness_sh(&o, &e, "cp '%s' '%s' && cp '%s' '%s'", good, flip, good, tamper), 0);
        patch(flip, NULL, 700 * 1024, 'X'); /* inside weights/model.bin */
        expect_refused_unchanged(flip, "does not match its SHA-256");
        patch(tamper, "\"llama-test\"", 0, 'L');
        expect_refused_unchanged(tamper, "signature does not verify");
        /* A key nobody trusts. */
        {
                _cleanup_free_ char *key = strprintf("%s.key", other);

                assert_arkctl(&H, 0, NULL, "bundle", "keygen", other);
                assert_arkctl(&H, 0, NULL, "bundle", "create", payload, "--kind", "model", "--name",
                              "llama-test", "--version", "3.0", "--key", key, "-o", untrusted,
                              "--architecture", "llama", "--parameters", "8000000000", "--dtype", "bf16",
                              "--runtime", "vllm", "--license", "x");
                expect_refused_unchanged(untrusted, "is not trusted");
                assert_arkctl(&H, 1, "is not trusted", "bundle", "verify", untrusted);
                assert_arkctl(&H, 0, "not trusted here", "bundle", "inspect", untrusted);
        }
        /* Offline verify refuses them too. */
        assert_arkctl(&H, 1, "does not match its SHA-256", "bundle", "verify", flip);
        assert_arkctl(&H, 1, "signature does not verify", "bundle", "verify", tamper);
        assert_arkctl(&H, 0, NULL, "model", "delete", "llama-test");
}

/* Hostile archives through arkd: refused with the entry named, nothing outside staging. */
static void test_hostile(void **state) {
        _cleanup_(ark_key_freep) ArkKey *key = NULL;
        _cleanup_free_ char *err = NULL, *evil = wpath("evil"), *ark = wpath("hostile.ark");
        static const TFile two[] = { { "a.bin", "alpha" }, { "dir/b.bin", "bravo" } };
        const TEntry absolute[] = { { "a.bin" }, { evil, .data = "x" } };
        const TEntry dotdot[] = { { "a.bin" }, { "../../../../evil", .data = "x" } };
        const TEntry symlink[] = { { "a.bin" }, { "dir/b.bin", AE_IFLNK, 0777, .symlink = "/etc/shadow" } };
        const TEntry setuid[] = { { "a.bin", .mode = 04755 }, { "dir/b.bin" } };
        const struct {
                const TEntry *e;
                size_t n;
                const char *says;
        } cases[] = {
                { absolute, 2, "is absolute" },
                { dotdot, 2, "'../../../../evil' has a '..' component" },
                { symlink, 2, "'dir/b.bin' is a symbolic link" },
                { setuid, 2, "'a.bin' has the setuid or setgid bit" },
        };

        ensure_key();
        assert_int_equal(ark_key_load_private(key_file, &key, &err), 0);
        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                _cleanup_free_ char *before = store_snapshot(), *after = NULL;

                (void) unlink(ark);
                build_signed(key, ark, two, 2, cases[k].e, cases[k].n, k % 2 ? "xz" : "none");
                assert_arkctl(&H, 1, cases[k].says, "bundle", "import", ark);
                after = store_snapshot();
                assert_string_equal(before, after);
                assert_no_staging();
                assert_false(file_exists(evil));
        }
        {
                _cleanup_free_ char *o = NULL, *e = NULL;

                /* Nothing landed anywhere in the state directory but where it always is. */
                assert_int_equal(harness_sh(&o, &e, "find '%s' -name evil | wc -l", H.tmp), 0);
                assert_string_equal(strstrip(o), "0");
        }
}

/* arkctl bundle import in the background; its pid. */
static pid_t import_in_background(const char *ark, const char *log) {
        _cleanup_free_ char *out = NULL, *err = NULL;
        pid_t pid;

        if (harness_sh(&out, &err, "'%s/bin/arkctl' bundle import '%s' >'%s' 2>&1 & echo $!",
                       harness_build_dir(), ark, log) != 0 ||
            sscanf(out, "%d", &pid) != 1)
                fail_msg("cannot start the import: %s", strna(err));
        return pid;
}

/* Waits until some staging file holds data (an import is under way). */
static void wait_for_staging_data(void) {
        for (uint64_t end = harness_wait_deadline(); !harness_wait_over(end);) {
                _cleanup_free_ char *out = NULL, *err = NULL;

                if (harness_sh(&out, &err, "find '%s/bundles/staging' -type f -size +1k 2>/dev/null | wc -l",
                               H.state_dir) == 0 &&
                    atoi(out) > 0)
                        return;
                usleep(25000);
        }
        harness_dump_log(&H);
        fail_msg("no import got under way");
}

static void wait_gone(pid_t pid) {
        for (uint64_t end = harness_wait_deadline(); !harness_wait_over(end) && kill(pid, 0) == 0;)
                usleep(25000);
        assert_int_not_equal(kill(pid, 0), 0);
}

/* arkd again, reading bundles at bps bytes per second (slow-import.so), or at full speed (NULL). */
static void restart_throttled(const char *bps) {
        _cleanup_free_ char *setting = bps ? strprintf("ARK_SLOW_IMPORT_BPS=%s", bps) : NULL;

        assert_int_equal(harness_stop_arkd(&H, SIGTERM), 0);
        if (bps)
                assert_int_equal(harness_start_arkd_with(&H, "slow-import.so", setting), 0);
        else
                assert_int_equal(harness_start_arkd(&H, NULL), 0);
}

static void test_kill_during_import(void **state) {
        _cleanup_free_ char *payload = make_payload("m3", 24 << 20, 3),
                            *ark = make_bundle("m3.ark", payload, "3.0", "none");
        _cleanup_free_ char *log = wpath("kill.log"), *ghost = NULL, *out = NULL, *err = NULL;
        pid_t pid;

        restart_throttled("8388608"); /* 8 MiB/s: 3 s for the bundle */
        pid = import_in_background(ark, log);
        wait_for_staging_data();
        assert_int_equal(harness_stop_arkd(&H, SIGKILL), 128 + SIGKILL);
        wait_gone(pid);
        /* As if a crash had also come between the rename and the record. */
        ghost = strprintf("%s/bundles/model/@shared/ghost/1.0", H.state_dir);
        assert_int_equal(mkdir_p(ghost, 0755), 0);
        assert_int_equal(harness_start_arkd(&H, NULL), 0);
        assert_arkctl(&H, 0, "No models.", "model", "list");
        assert_no_staging();
        assert_false(file_exists(ghost));
        assert_int_equal(harness_sh(&out, &err, "grep -c 'Removing 1 staging directory' '%s'", H.arkd_log),
                         0);
        /* And the bundle imports fine afterwards. */
        assert_arkctl(&H, 0, "Imported", "bundle", "import", ark);
        assert_arkctl(&H, 0, NULL, "model", "delete", "llama-test");
}

static void test_cancel(void **state) {
        _cleanup_free_ char *payload = make_payload("m4", 24 << 20, 4),
                            *ark = make_bundle("m4.ark", payload, "4.0", "none");
        _cleanup_free_ char *log = wpath("cancel.log"), *text = NULL, *before = NULL, *after = NULL;
        json_t *rows, *row;
        bool recorded = false;
        size_t n, k;
        pid_t pid;

        restart_throttled("8388608");
        before = store_snapshot();
        pid = import_in_background(ark, log);
        wait_for_staging_data();
        assert_int_equal(kill(pid, SIGINT), 0);
        wait_gone(pid);
        assert_int_equal(read_full_file(log, &text, &n), 0);
        if (!strstr(text, "cancelled"))
                fail_msg("arkctl said: %s", text);
        for (uint64_t end = harness_wait_deadline(); !harness_wait_over(end);) {
                _cleanup_free_ char *o = NULL, *e = NULL;

                if (harness_sh(&o, &e, "ls -A '%s/bundles/staging' | wc -l", H.state_dir) == 0 &&
                    atoi(o) == 0)
                        break;
                usleep(25000);
        }
        assert_no_staging();
        after = store_snapshot();
        assert_string_equal(before, after);
        rows = harness_arkctl_json(&H, "audit", "list", NULL);
        json_array_foreach(rows, k, row)
                recorded = recorded ||
                        strstr(strempty(json_string_value(json_object_get(row, "result"))),
                               "org.ark.Ark1.Error.Cancelled");
        json_decref(rows);
        assert_true(recorded);
        restart_throttled(NULL);
}

/* Three imports at once: two different bundles and a copy of one of them. */
static void test_concurrent(void **state) {
        _cleanup_free_ char *p1 = make_payload("c1", 6 << 20, 5), *p2 = make_payload("c2", 6 << 20, 6);
        _cleanup_free_ char *a1 = make_bundle("c1.ark", p1, "5.0", "none"),
                            *a2 = make_bundle("c2.ark", p2, "6.0", "xz");
        _cleanup_free_ char *l1 = wpath("c1.log"), *l2 = wpath("c2.log"), *l3 = wpath("c3.log");
        _cleanup_free_ char *t1 = NULL, *t2 = NULL, *t3 = NULL;
        json_t *list;
        size_t n;
        pid_t x, y, z;

        x = import_in_background(a1, l1);
        y = import_in_background(a2, l2);
        z = import_in_background(a1, l3);
        wait_gone(x);
        wait_gone(y);
        wait_gone(z);
        assert_int_equal(read_full_file(l1, &t1, &n), 0);
        assert_int_equal(read_full_file(l2, &t2, &n), 0);
        assert_int_equal(read_full_file(l3, &t3, &n), 0);
        assert_non_null(strstr(t2, "Imported model llama-test 6.0"));
        /* Of the two copies, one got in and the other was told. */
        assert_true((strstr(t1, "Imported") && strstr(t3, "already installed")) ||
                    (strstr(t3, "Imported") && strstr(t1, "already installed")));
        list = harness_arkctl_json(&H, "model", "list", NULL);
        assert_int_equal(json_array_size(list), 2);
        json_decref(list);
        assert_no_staging();
        assert_arkctl(&H, 1, "say which with --version", "model", "delete", "llama-test");
        assert_arkctl(&H, 0, NULL, "model", "delete", "llama-test", "--version", "5.0");
        assert_arkctl(&H, 0, NULL, "model", "delete", "llama-test", "--version", "6.0");
}

typedef struct Progress {
        unsigned signals;
        uint64_t last_done, total;
        bool monotonic, answered, rate_ok, eta_ok;
        char *error;
} Progress;

static int on_progress(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        Progress *p = userdata;
        const char *sender, *name;
        uint64_t done, total, rate, left;
        uint32_t id;

        if (sd_bus_message_read(m, "usstttt", &id, &sender, &name, &done, &total, &rate, &left) < 0)
                return 0;
        /* Throttled to 32 MiB/s: the rate stays below, and the time left follows from it. */
        if (done > 8 << 20 && done < total) {
                p->rate_ok = p->rate_ok && rate > 0 && rate < 40 << 20;
                p->eta_ok = p->eta_ok && left == (total - done + rate - 1) / rate;
        }
        p->monotonic = p->monotonic && done >= p->last_done;
        p->last_done = done;
        p->total = total;
        p->signals++;
        return 0;
}

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        Progress *p = userdata;

        p->answered = true;
        if (sd_bus_message_is_method_error(m, NULL))
                p->error = strdup(sd_bus_message_get_error(m)->message);
        return 0;
}

/* Over D-Bus, as the console will: progress signals count up to the total; tenant ownership. */
static void test_progress_and_tenant(void **state) {
        _cleanup_free_ char *payload = make_payload("m5", 20 << 20, 7),
                            *ark = make_bundle("m5.ark", payload, "7.0", "none");
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *match = NULL, *slot = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        _cleanup_close_ int fd = open(ark, O_RDONLY | O_CLOEXEC);
        Progress p = { .monotonic = true, .rate_ok = true, .eta_ok = true };
        sd_bus *bus = harness_bus(&H);
        json_t *list;

        restart_throttled("33554432");
        bus = harness_bus(&H);
        assert_arkctl(&H, 0, NULL, "tenant", "create", "risk");
        assert_true(fd >= 0);
        assert_true(sd_bus_match_signal(bus, &match, ARK_BUS_NAME, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER,
                                        "ImportProgress", on_progress, &p) >= 0);
        assert_true(sd_bus_message_new_method_call(bus, &call, ARK_BUS_NAME, ARK_BUS_PATH,
                                                   ARK_BUS_IFACE_MANAGER, "ImportBundle") >= 0);
        assert_true(sd_bus_message_append(call, "hss", fd, "m5.ark", "risk") >= 0);
        assert_true(sd_bus_call_async(bus, &slot, call, on_reply, &p, 120 * 1000000ULL) >= 0);
        for (int k = 0; k < 6000 && !p.answered; k++) { /* up to 600 s, past the call's own 120 s */
                if (sd_bus_process(bus, NULL) == 0)
                        (void) sd_bus_wait(bus, 100000);
        }
        /* Signals sent before the reply have arrived by now (one connection, in order). */
        while (sd_bus_process(bus, NULL) > 0)
                ;
        if (p.error)
                fail_msg("ImportBundle: %s", p.error);
        assert_true(p.answered);
        assert_true(p.signals >= 4);
        assert_true(p.monotonic);
        assert_true(p.rate_ok);
        assert_true(p.eta_ok);
        assert_int_equal(p.last_done, p.total);
        assert_true(p.total > 20 << 20);
        list = harness_arkctl_json(&H, "model", "list", "--tenant", "risk", NULL);
        assert_int_equal(json_array_size(list), 1);
        json_decref(list);
        assert_arkctl(&H, 1, "still owns 1 model", "tenant", "delete", "risk");
        assert_arkctl(&H, 0, NULL, "model", "delete", "llama-test", "--tenant", "risk");
        assert_arkctl(&H, 0, NULL, "tenant", "delete", "risk");
        restart_throttled(NULL);
}

/* A VM that serves a model: the model's directory is shared with it read-only, and the model cannot
 * be deleted while the VM is there. */
static void test_model_in_use(void **state) {
        _cleanup_free_ char *payload = make_payload("m7", 1 << 16, 9),
                            *ark = make_bundle("m7.ark", payload, "9.0", "none");
        _cleanup_free_ char *xml = NULL, *out = NULL;
        json_t *j;

        assert_arkctl(&H, 0, NULL, "tenant", "create", "serve");
        assert_arkctl(&H, 0, NULL, "tenant", "create", "other");
        assert_arkctl(&H, 0, "Imported", "bundle", "import", ark, "--tenant", "serve");
        /* The model asks for 16 GiB of GPU memory: a VM without GPUs cannot serve it. */
        assert_arkctl(&H, 1, "needs 16 GiB of GPU memory; the VM has no GPUs", "vm", "create", "srv",
                      "--tenant", "serve", "--vcpus", "2", "--memory", "1G", "--model", "llama-test");
        /* Another tenant does not see it. */
        assert_arkctl(&H, 1, "has no model 'llama-test'", "vm", "create", "srv", "--tenant", "other",
                      "--vcpus", "2", "--memory", "1G", "--gpus", "1", "--model", "llama-test");
        assert_arkctl(&H, 1, "has no model 'llama-test' version 1.0", "vm", "create", "srv", "--tenant",
                      "serve", "--vcpus", "2", "--memory", "1G", "--gpus", "1", "--model", "llama-test@1.0");
        assert_arkctl(&H, 1, "not NAME or NAME@VERSION", "vm", "create", "srv", "--tenant", "serve",
                      "--vcpus", "2", "--memory", "1G", "--gpus", "1", "--model", "../etc");
        assert_arkctl(&H, 0, NULL, "vm", "create", "srv", "--tenant", "serve", "--vcpus", "2", "--memory",
                      "1G", "--gpus", "1", "--model", "llama-test@9.0");
        j = harness_arkctl_json(&H, "vm", "show", "srv", NULL);
        assert_string_equal(json_string_value(json_object_get(j, "model")), "llama-test 9.0");
        json_decref(j);
        xml = itest_arkctl_expect(&H, 0, "<target dir='ark-model'/>", "vm", "show", "srv", "--xml", NULL);
        assert_non_null(strstr(xml, "/bundles/model/serve/llama-test/9.0'"));
        assert_non_null(strstr(xml, "<readonly/>"));
        assert_arkctl(&H, 1, "is used by 1 instance ('srv'); delete it first", "model", "delete",
                      "llama-test", "--tenant", "serve");
        /* The link survives a restart (the store keeps it). */
        restart_throttled(NULL);
        assert_arkctl(&H, 1, "is used by 1 instance", "model", "delete", "llama-test", "--tenant", "serve");
        out = itest_arkctl_expect(&H, 0, "ark-model", "vm", "show", "srv", "--xml", NULL);
        assert_arkctl(&H, 0, NULL, "vm", "delete", "srv");
        assert_arkctl(&H, 0, NULL, "model", "delete", "llama-test", "--tenant", "serve");
        assert_arkctl(&H, 0, NULL, "tenant", "delete", "serve");
        assert_arkctl(&H, 0, NULL, "tenant", "delete", "other");
}

/* Review findings, each a test that failed before its fix. */

/* The state directory spelled another way at the next start (here with a trailing '/'): the
 * installed models are still there, files and all. */
static void test_state_dir_spelling(void **state) {
        _cleanup_free_ char *payload = make_payload("m8", 1 << 16, 10),
                            *ark = make_bundle("m8.ark", payload, "10.0", "none");
        _cleanup_free_ char *plain = NULL, *o = NULL, *e = NULL;
        json_t *list;

        assert_arkctl(&H, 0, "Imported", "bundle", "import", ark);
        assert_int_equal(harness_stop_arkd(&H, SIGTERM), 0);
        plain = H.state_dir;
        H.state_dir = strprintf("%s/", plain);
        assert_int_equal(harness_start_arkd(&H, NULL), 0);
        list = harness_arkctl_json(&H, "model", "list", NULL);
        assert_int_equal(json_array_size(list), 1);
        json_decref(list);
        assert_int_equal(harness_sh(&o, &e,
                                    "test -s '%s/bundles/model/@shared/llama-test/10.0/weights/model.bin'",
                                    plain),
                         0);
        assert_arkctl(&H, 0, NULL, "model", "delete", "llama-test");
        assert_int_equal(harness_stop_arkd(&H, SIGTERM), 0);
        free(H.state_dir);
        H.state_dir = TAKE_PTR(plain);
        assert_int_equal(harness_start_arkd(&H, NULL), 0);
}

/* A refusal that quotes bytes that are not UTF-8, or input cut short, still reaches the caller
 * (D-Bus sends no string that is not UTF-8: the caller used to wait for its timeout). */
static void test_messages_reach_the_caller(void **state) {
        _cleanup_(ark_key_freep) ArkKey *key = NULL;
        _cleanup_free_ char *err = NULL, *ark = wpath("binary.ark"), *o = NULL, *e = NULL, *tenant = NULL;
        static const TFile two[] = { { "a.bin", "alpha" }, { "dir/b.bin", "bravo" } };
        const TEntry binary[] = { { "a.bin" },
                                  { "\xff\xfe"
                                    "evil",
                                    .data = "x" } };
        StrBuf b = {};

        ensure_key();
        assert_int_equal(ark_key_load_private(key_file, &key, &err), 0);
        build_signed(key, ark, two, 2, binary, 2, "none");
        assert_int_equal(harness_sh(&o, &e, "timeout 60 '%s/bin/arkctl' bundle import '%s'",
                                    harness_build_dir(), ark),
                         1);
        assert_non_null(strstr(e, "is not valid UTF-8"));
        o = mfree(o);
        e = mfree(e);
        /* A tenant name of 40 three-byte characters, quoted in the refusal cut at 80 bytes. */
        for (int k = 0; k < 40; k++)
                strbuf_append(&b, "\xe9\x87\x91");
        tenant = strbuf_steal(&b);
        assert_int_equal(
                harness_sh(&o, &e,
                           "timeout 60 '%s/bin/arkctl' vm create x --tenant '%s' --vcpus 1 --memory 1G",
                           harness_build_dir(), tenant),
                1);
        assert_non_null(strstr(e, "Invalid tenant name"));
}

/* At most four imports at once (a tenant member: two; test-access). */
static void test_import_limit(void **state) {
        _cleanup_free_ char *p = make_payload("l1", 24 << 20, 11);
        char *arks[4], *logs[4];
        pid_t pids[4];

        restart_throttled("4194304");
        for (int k = 0; k < 4; k++) {
                _cleanup_free_ char *name = strprintf("l%d.ark", k), *log = strprintf("l%d.log", k),
                                    *version = strprintf("%d.0", 20 + k);

                arks[k] = make_bundle(name, p, version, "none");
                logs[k] = wpath(log);
        }
        for (int k = 0; k < 4; k++)
                pids[k] = import_in_background(arks[k], logs[k]);
        for (uint64_t end = harness_wait_deadline(); !harness_wait_over(end);) {
                _cleanup_free_ char *o = NULL, *e = NULL;

                if (harness_sh(&o, &e, "ls '%s/bundles/staging' | grep -c import-", H.state_dir) == 0 &&
                    atoi(o) >= 4)
                        break;
                usleep(25000);
        }
        assert_arkctl(&H, 1, "4 imports are under way; start this one when one has finished", "bundle",
                      "import", arks[0]);
        for (int k = 0; k < 4; k++)
                assert_int_equal(kill(pids[k], SIGINT), 0);
        for (int k = 0; k < 4; k++) {
                _cleanup_free_ char *text = NULL;
                size_t n;

                wait_gone(pids[k]);
                if (read_full_file(logs[k], &text, &n) >= 0 && !strstr(text, "cancelled"))
                        fail_msg("import %d: %s", k, text);
                free(arks[k]);
                free(logs[k]);
        }
        restart_throttled(NULL);
        assert_arkctl(&H, 0, "No models.", "model", "list");
}

static void test_trust_management(void **state) {
        _cleanup_free_ char *payload = make_payload("m6", 1 << 16, 8),
                            *ark = make_bundle("m6.ark", payload, "8.0", "none");
        _cleanup_free_ char *id = NULL, *out = NULL;
        json_t *keys;

        keys = harness_arkctl_json(&H, "bundle", "trust", "list", NULL);
        assert_int_equal(json_array_size(keys), 1);
        id = strdup(json_string_value(json_object_get(json_array_get(keys, 0), "key_id")));
        json_decref(keys);
        assert_arkctl(&H, 1, "already trusted", "bundle", "trust", "add", pub_file);
        assert_arkctl(&H, 1, "not a PEM public key", "bundle", "trust", "add", "/etc/hostname");
        assert_arkctl(&H, 0, "is revoked", "bundle", "trust", "revoke", id);
        assert_arkctl(&H, 1, "is revoked", "bundle", "import", ark);
        assert_arkctl(&H, 1, "is revoked", "bundle", "verify", ark);
        assert_arkctl(&H, 1, "revoked; it cannot be trusted again", "bundle", "trust", "add", pub_file);
        out = itest_arkctl_expect(&H, 0, "revoked", "bundle", "trust", "list", NULL);
        assert_arkctl(&H, 0, "no longer trusted", "bundle", "trust", "remove", id);
        assert_arkctl(&H, 1, "No trusted key", "bundle", "trust", "remove", id);
        /* The revocation list is the admin's to edit; put things back for other tests. */
        {
                _cleanup_free_ char *list = strprintf("%s/%s", H.trust_dir, TRUST_REVOKED_FILE);
                assert_int_equal(unlink(list), 0);
        }
        assert_arkctl(&H, 0, "Trusted key", "bundle", "trust", "add", pub_file);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_import_model),
                cmocka_unit_test(test_refused),
                cmocka_unit_test(test_hostile),
                cmocka_unit_test(test_kill_during_import),
                cmocka_unit_test(test_cancel),
                cmocka_unit_test(test_concurrent),
                cmocka_unit_test(test_progress_and_tenant),
                cmocka_unit_test(test_model_in_use),
                cmocka_unit_test(test_state_dir_spelling),
                cmocka_unit_test(test_messages_reach_the_caller),
                cmocka_unit_test(test_import_limit),
                cmocka_unit_test(test_trust_management),
        };
        return cmocka_run_group_tests_name("bundles", tests, setup, teardown);
}

/* Access control with real Unix users: the test creates users, makes them members of tenants (as
 * users, or through a group), and runs arkctl as each of them (setpriv) against arkd on a private
 * bus that, like the system bus, accepts every local user. A member of one tenant sees and
 * touches nothing of another; a user in no tenant can read the status and nothing else. Needs
 * root (to create users); skipped with a message otherwise. */

#include "itest.h"

#include <grp.h>
#include <sys/wait.h>
#include <signal.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "basic/time-util.h"

static Harness H;

#define GROUP "ark-t-retailers"

static void cleanup_accounts(void) {
        _cleanup_free_ char *out = NULL, *err = NULL;

        (void) harness_sh(
                &out, &err,
                "for u in ark-t-risk ark-t-retail ark-t-none ark-t-viagroup ark-t-flood; do userdel $u 2>/dev/null; done; "
                "groupdel " GROUP " 2>/dev/null; true");
}

static int setup(void **state) {
        _cleanup_free_ char *out = NULL, *err = NULL;

        if (geteuid() != 0)
                return 0;
        cleanup_accounts();
        if (harness_sh(&out, &err,
                       "groupadd --system " GROUP " && "
                       "for u in ark-t-risk ark-t-retail ark-t-none ark-t-flood; do "
                       "  useradd --system --no-create-home --shell /usr/sbin/nologin $u || exit 1; done && "
                       "useradd --system --no-create-home --shell /usr/sbin/nologin -G " GROUP
                       " ark-t-viagroup") != 0) {
                fprintf(stderr, "cannot create test users: %s %s\n", strna(out), strna(err));
                return -1;
        }
        /* The tests below make many refused calls as the same users on purpose: a larger
         * allowance than the default, which test_flood_of_large_refused_calls restores. */
        if (harness_setup(&H, "dgx-h100") < 0)
                return -1;
        H.extra_conf = "[Daemon]\nRefusedCallBurst=500\n";
        if (harness_start_arkd(&H, NULL) < 0)
                return -1;
        return 0;
}

static int teardown(void **state) {
        if (geteuid() != 0)
                return 0;
        harness_teardown(&H);
        cleanup_accounts();
        return 0;
}

/* Runs arkctl as `user` (its own uid, gid and groups); returns the exit status, output in out and err. */
static int arkctl_as(const char *user, char **out, char **err, const char *args) {
        return harness_sh(
                out, err,
                "ARK_BUS_ADDRESS='%s' setpriv --reuid=%s --regid=%s --init-groups '%s/bin/arkctl' %s",
                H.bus_address, user, user, harness_build_dir(), args);
}

static void expect_as(const char *user, int code, const char *needle, const char *args) {
        _cleanup_free_ char *out = NULL, *err = NULL;
        int r = arkctl_as(user, &out, &err, args);

        if (r != code || (needle && !strstr(code == 0 ? strempty(out) : strempty(err), needle)))
                fail_msg("arkctl %s as %s: exit %d (want %d), want '%s'\nstdout: %s\nstderr: %s", args, user,
                         r, code, strna(needle), strna(out), strna(err));
}

static void test_tenants_do_not_see_each_other(void **state) {
        _cleanup_free_ char *out = NULL, *err = NULL;

        if (geteuid() != 0) {
                print_message("not root: cannot create users, skipping\n");
                skip();
        }
        /* As root (an admin): two tenants with a VM each, members by user and by group. */
        assert_arkctl(&H, 0, NULL, "tenant", "create", "risk");
        assert_arkctl(&H, 0, NULL, "tenant", "create", "retail");
        assert_arkctl(&H, 0, NULL, "tenant", "member", "add", "risk", "--user", "ark-t-risk");
        assert_arkctl(&H, 0, NULL, "tenant", "member", "add", "retail", "--user", "ark-t-retail", "--group",
                      GROUP);
        assert_arkctl(&H, 0, NULL, "vm", "create", "risk-vm1", "--tenant", "risk", "--vcpus", "1",
                      "--memory", "1G", "--start");
        assert_arkctl(&H, 0, NULL, "vm", "create", "retail-vm1", "--tenant", "retail", "--vcpus", "1",
                      "--memory", "1G", "--gpus", "1");

        /* Acceptance: a member of retail lists only retail's VMs and cannot stop risk's. */
        assert_int_equal(arkctl_as("ark-t-retail", &out, &err, "vm list"), 0);
        assert_non_null(strstr(out, "retail-vm1"));
        assert_null(strstr(out, "risk"));
        out = mfree(out);
        err = mfree(err);
        assert_int_equal(arkctl_as("ark-t-retail", &out, &err, "-o json tenant list"), 0);
        assert_non_null(strstr(out, "retail"));
        assert_null(strstr(out, "risk"));
        expect_as("ark-t-retail", 1, "may not stop instance 'risk-vm1'", "vm stop risk-vm1");
        expect_as("ark-t-retail", 1, "may not see instance 'risk-vm1'", "vm show risk-vm1");
        expect_as("ark-t-retail", 1, "may not create instances in tenant 'risk'",
                  "vm create sneaky --tenant risk --vcpus 1 --memory 1G");
        expect_as("ark-t-retail", 1, "may not create tenants", "tenant create mine");
        /* Its own quota it may read, not change. */
        expect_as("ark-t-retail", 1, "may not set tenant quotas", "tenant quota set retail gpus=8");
        expect_as("ark-t-retail", 0, "instances", "tenant quota show retail");
        expect_as("ark-t-retail", 1, "may not read the audit log", "audit list");
        expect_as("ark-t-retail", 1, "may not verify the audit log", "audit verify");
        expect_as("ark-t-retail", 1, "may not read the usage of tenant 'risk'",
                  "usage report --tenant risk");
        expect_as("ark-t-retail", 0, NULL, "usage report --tenant retail");
        expect_as("ark-t-retail", 1, "may not reserve or quarantine GPUs",
                  "accelerator reserve 0000:18:00.0");
        /* Counts and GPU owners of other tenants do not leak. */
        out = mfree(out);
        err = mfree(err);
        assert_int_equal(arkctl_as("ark-t-risk", &out, &err, "-o json status"), 0);
        assert_non_null(strstr(out, "\"n_tenants\": 1"));
        assert_non_null(strstr(out, "\"n_instances\": 1"));
        out = mfree(out);
        err = mfree(err);
        assert_int_equal(arkctl_as("ark-t-risk", &out, &err, "-o json host accelerators"), 0);
        assert_null(strstr(out, "retail-vm1"));
        assert_non_null(strstr(out, "\"claim_state\": \"claimed\""));

        /* The owner acts on its own VM; membership through a group counts. */
        expect_as("ark-t-risk", 0, "Stopped VM 'risk-vm1'", "vm stop risk-vm1");
        expect_as("ark-t-viagroup", 0, "retail-vm1", "vm list");
        expect_as("ark-t-viagroup", 0, NULL, "vm show retail-vm1");

        /* Acceptance: a user in no tenant may read the status and nothing else. */
        expect_as("ark-t-none", 0, "Tenants: 0", "status");
        expect_as("ark-t-none", 1, "it is a member of no tenant", "vm list");
        expect_as("ark-t-none", 1, "it is a member of no tenant", "tenant list");
        expect_as("ark-t-none", 1, "it is a member of no tenant", "host accelerators");
        expect_as("ark-t-none", 1, "may not see instance 'risk-vm1'", "vm show risk-vm1");
        expect_as("ark-t-none", 1, "may not check the host", "host check");
        expect_as("ark-t-none", 1, "may not create tenants", "tenant create mine");

        /* Removing a member takes its access away at once. */
        assert_arkctl(&H, 0, NULL, "tenant", "member", "remove", "retail", "--user", "ark-t-retail");
        expect_as("ark-t-retail", 1, "it is a member of no tenant", "vm list");
        assert_int_equal(itest_get_u32(&H, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "NInstances"), 2);
}

/* Membership is stored: after kill -9 the same users see the same. */
static void test_members_survive_restart(void **state) {
        if (geteuid() != 0)
                skip();
        assert_int_equal(harness_stop_arkd(&H, SIGKILL), 128 + SIGKILL);
        assert_int_equal(harness_start_arkd(&H, NULL), 0);
        expect_as("ark-t-risk", 0, "risk-vm1", "vm list");
        expect_as("ark-t-viagroup", 0, "retail-vm1", "vm list");
        assert_arkctl(&H, 1, "not a member of tenant 'risk'", "tenant", "member", "remove", "risk", "--user",
                      "ark-t-none");
        assert_arkctl(&H, 1, "There is no user 'no-such-user-x'", "tenant", "member", "add", "risk",
                      "--user", "no-such-user-x");
}

/* Bundles: a member imports for its own tenant only, never shared ones, trusts no keys, and other
 * tenants do not see its models. */
static void test_bundles(void **state) {
        _cleanup_free_ char *out = NULL, *err = NULL, *dir = NULL;
        char tmpl[] = "/tmp/ark-access-bundle.XXXXXX";

        if (geteuid() != 0)
                skip();
        dir = strdup(mkdtemp(tmpl));
        assert_non_null(dir);
        /* Where the members can read it. */
        assert_int_equal(
                harness_sh(
                        &out, &err,
                        "chmod 755 '%s' && mkdir '%s/m' && echo weights > '%s/m/w.bin' && "
                        "'%s/bin/arkctl' bundle keygen '%s/k' >/dev/null && "
                        "'%s/bin/arkctl' bundle create '%s/m' --kind model --name shared-m --version 1 "
                        "--key '%s/k.key' -o '%s/b.ark' --architecture llama --parameters 1000 --dtype bf16 "
                        "--runtime vllm --license x >/dev/null && chmod 644 '%s/b.ark'",
                        dir, dir, dir, harness_build_dir(), dir, harness_build_dir(), dir, dir, dir, dir),
                0);
        {
                _cleanup_free_ char *pub = strprintf("%s/k.pub", dir), *ark = strprintf("%s/b.ark", dir),
                                    *import_risk = strprintf("bundle import %s --tenant risk", ark),
                                    *import_shared = strprintf("bundle import %s", ark),
                                    *import_retail = strprintf("bundle import %s --tenant retail", ark),
                                    *trust = strprintf("bundle trust add %s", pub);

                expect_as("ark-t-risk", 1, "may not trust bundle signing keys", trust);
                assert_arkctl(&H, 0, NULL, "bundle", "trust", "add", pub);
                expect_as("ark-t-risk", 1, "may not import shared bundles", import_shared);
                expect_as("ark-t-risk", 1, "may not import bundles for tenant 'retail'", import_retail);
                expect_as("ark-t-risk", 0, "Imported model shared-m 1 for tenant risk", import_risk);
                expect_as("ark-t-risk", 0, "shared-m", "model list");
                expect_as("ark-t-risk", 0, "1.0K", "model list"); /* 1,000 parameters, not "0.0M" */
                expect_as("ark-t-viagroup", 0, "No models.", "model list");
                expect_as("ark-t-viagroup", 1, "no model 'shared-m'", "model delete shared-m");
                expect_as("ark-t-none", 0, "No models.", "model list");
                expect_as("ark-t-risk", 0, "Deleted model shared-m", "model delete shared-m");
        }
        out = mfree(out);
        err = mfree(err);
        (void) harness_sh(&out, &err, "rm -rf '%s'", dir);
}


/* Runs fn in a child process as `user` (its uid, gid and groups) with a bus connection of its own,
 * as a local program of that user would; returns fn's result (0..255), or -1 when the child could
 * not become the user or connect. fn must not use cmocka's asserts (it runs in the child). */
static int as_user(const char *user, int (*fn)(sd_bus *bus, void *userdata), void *userdata) {
        int status;
        pid_t pid;

        fflush(stdout);
        fflush(stderr);
        pid = fork();
        if (pid < 0)
                return -1;
        if (pid == 0) {
                struct passwd *pw = getpwnam(user);
                sd_bus *bus = NULL;
                int r;

                if (!pw || initgroups(user, pw->pw_gid) < 0 ||
                    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
                    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
                        _exit(250);
                if (sd_bus_new(&bus) < 0 || sd_bus_set_address(bus, H.bus_address) < 0 ||
                    sd_bus_set_bus_client(bus, 1) < 0 || sd_bus_start(bus) < 0)
                        _exit(251);
                r = fn(bus, userdata);
                sd_bus_flush_close_unref(bus);
                _exit(r < 0 ? 252 : r);
        }
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
                return -1;
        return WEXITSTATUS(status) >= 250 ? -1 : WEXITSTATUS(status);
}

/* Sizes of the files below dir, in bytes. */
static uint64_t tree_bytes(const char *dir) {
        _cleanup_free_ char *out = NULL, *err = NULL;

        assert_int_equal(harness_sh(&out, &err, "du -sb '%s' | cut -f1", dir), 0);
        return strtoull(out, NULL, 10);
}

typedef struct Flood {
        size_t bytes;
        unsigned calls;
        const char *only; /* every answer must be this error; NULL: InvalidArgument, then TooManyRequests */
        unsigned invalid, limited, other;
} Flood;

/* The child: calls TrustKey `calls` times with a string of `bytes` bytes. Exit status 0 when every
 * call was answered InvalidArgument or TooManyRequests with a short sentence that does not echo the
 * argument, 1 otherwise; the counts go to stdout. */
static int flood_child(sd_bus *bus, void *userdata) {
        Flood *f = userdata;
        char *big = malloc(f->bytes + 1);
        int bad = 0;

        if (!big)
                return 2;
        memset(big, 'A', f->bytes);
        big[f->bytes] = 0;
        for (unsigned k = 0; k < f->calls; k++) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                sd_bus_error e = SD_BUS_ERROR_NULL;
                int r;

                r = sd_bus_call_method(bus, ARK_BUS_NAME, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "TrustKey",
                                       &e, &reply, "s", big);
                if (r >= 0)
                        bad = 1, f->other++;
                else if (f->only) {
                        if (!sd_bus_error_has_name(&e, f->only)) {
                                fprintf(stderr, "call %u: %s: %s\n", k, strna(e.name), strna(e.message));
                                bad = 1;
                        }
                } else if (sd_bus_error_has_name(&e, ARK_ERROR_INVALID_ARGUMENT))
                        f->invalid++;
                else if (sd_bus_error_has_name(&e, ARK_ERROR_TOO_MANY_REQUESTS))
                        f->limited++;
                else {
                        fprintf(stderr, "call %u: %s: %s\n", k, strna(e.name), strna(e.message));
                        bad = 1, f->other++;
                }
                if (e.message &&
                    (strlen(e.message) > 512 || strstr(e.message, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))) {
                        fprintf(stderr, "call %u: the answer echoes the argument (%zu bytes)\n", k,
                                strlen(e.message));
                        bad = 1;
                }
                sd_bus_error_free(&e);
        }
        printf("flood: %u invalid, %u limited, %u other\n", f->invalid, f->limited, f->other);
        free(big);
        if (!f->only) {
                /* Connecting again brings no fresh allowance: of 5 quick calls on a new
                 * connection at most one (a second's refill) is run. */
                sd_bus *again = NULL;
                unsigned limited = 0;

                if (sd_bus_new(&again) < 0 || sd_bus_set_address(again, H.bus_address) < 0 ||
                    sd_bus_set_bus_client(again, 1) < 0 || sd_bus_start(again) < 0)
                        return 3;
                for (unsigned k = 0; k < 5; k++) {
                        sd_bus_error e = SD_BUS_ERROR_NULL;

                        (void) sd_bus_call_method(again, ARK_BUS_NAME, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER,
                                                  "TrustKey", &e, NULL, "s", "x");
                        limited += sd_bus_error_has_name(&e, ARK_ERROR_TOO_MANY_REQUESTS);
                        sd_bus_error_free(&e);
                }
                sd_bus_flush_close_unref(again);
                printf("flood: %u of 5 calls on a new connection limited\n", limited);
                if (limited < 4)
                        bad = 1;
        }
        return bad || (!f->only && (f->invalid == 0 || f->limited == 0));
}

/* The child: Properties.Get with an interface name of `bytes` bytes ('A's, or U+202E when
 * f->only is set), which sd-bus would answer quoting it whole. 0 when refused InvalidArgument in
 * a short sentence. */
static int property_child(sd_bus *bus, void *userdata) {
        Flood *f = userdata;
        char *name = malloc(f->bytes + 1);
        sd_bus_error e = SD_BUS_ERROR_NULL;
        int bad;

        if (!name)
                return 2;
        if (f->only)
                for (size_t k = 0; k + 3 <= f->bytes; k += 3)
                        memcpy(name + k, "\xe2\x80\xae", 3);
        else
                memset(name, 'A', f->bytes);
        name[f->only ? f->bytes / 3 * 3 : f->bytes] = 0;
        (void) sd_bus_call_method(bus, ARK_BUS_NAME, ARK_BUS_PATH, "org.freedesktop.DBus.Properties", "Get",
                                  &e, NULL, "ss", name, "Version");
        bad = !sd_bus_error_has_name(&e, ARK_ERROR_INVALID_ARGUMENT) || !e.message ||
                strlen(e.message) > 512 || strstr(e.message, "AAAAAAAAAAAAAAAAAAAAAAAA") ||
                strstr(e.message, "\xe2\x80\xae");
        if (bad)
                fprintf(stderr, "Get: %s: %.300s\n", strna(e.name), strna(e.message));
        sd_bus_error_free(&e);
        free(name);
        return bad;
}

/* What sd-bus answers itself (Properties, Introspectable) is held to the same limits: it would
 * quote a 3 MiB or bidi-laden interface name back whole (found by the API fuzzer). */
static void test_sd_bus_answers_bounded(void **state) {
        Flood f = { .bytes = 3 << 20 };

        if (geteuid() != 0)
                skip();
        assert_int_equal(as_user("ark-t-none", property_child, &f), 0);
        f = (Flood) { .bytes = 300, .only = "bidi" };
        assert_int_equal(as_user("ark-t-none", property_child, &f), 0);
}

/* Acceptance (issue 14): a user in no tenant sending 100 calls of 10 MiB each leaves arkd on the
 * bus, the audit log listed and verified, and the state directory grown by less than 5 MB. */
static void test_flood_of_large_refused_calls(void **state) {
        _cleanup_free_ char *out = NULL, *err = NULL;
        Flood f = { .bytes = 10 << 20, .calls = 100 };
        uint64_t before, after, t0;
        json_t *rows, *row;
        unsigned mine = 0, seconds;
        size_t k;

        if (geteuid() != 0)
                skip();
        /* The default allowance of refused calls (RefusedCallBurst=20). */
        assert_int_equal(harness_stop_arkd(&H, SIGTERM), 0);
        H.extra_conf = NULL;
        assert_int_equal(harness_start_arkd(&H, NULL), 0);
        before = tree_bytes(H.state_dir);
        t0 = now_usec(CLOCK_MONOTONIC);
        assert_int_equal(as_user("ark-t-flood", flood_child, &f), 0);
        seconds = (unsigned) ((now_usec(CLOCK_MONOTONIC) - t0) / 1000000) + 1;
        assert_true(harness_arkd_alive(&H));
        assert_arkctl(&H, 0, "intact", "audit", "verify");
        rows = harness_arkctl_json(&H, "audit", "list", NULL);
        assert_non_null(rows);
        json_array_foreach(rows, k, row) {
                const char *args = json_string_value(json_object_get(row, "arguments"));

                if (!streq(strempty(json_string_value(json_object_get(row, "action"))),
                           "Manager.TrustKey") ||
                    !streq(strempty(json_string_value(json_object_get(row, "caller"))), "none"))
                        continue;
                mine++;
                /* A digest: a bounded prefix, the length and the SHA-256, never the whole. */
                assert_true(strlen(args) < 1024);
                assert_non_null(strstr(args, "\"bytes\":104857")); /* 10 MiB and the JSON around it */
                assert_non_null(strstr(args, "sha256"));
        }
        json_decref(rows);
        /* The first refusals are recorded, then one a second; the rest only counted
         * (RefusedCallBurst=, 20). */
        print_message("%u rows of the flood recorded in %u s\n", mine, seconds);
        assert_true(mine >= 20 && mine <= 20 + seconds);
        after = tree_bytes(H.state_dir);
        print_message("state directory: %" PRIu64 " -> %" PRIu64 " bytes; %u audit rows\n", before, after,
                      mine);
        assert_true(after < before + 5 * 1000 * 1000);

        /* Once its bucket has refilled the user is answered again, and what it was refused in the
         * meantime is summed up in one row. */
        f = (Flood) { .bytes = 64, .calls = 1, .only = ARK_ERROR_ACCESS_DENIED };
        sleep(2);
        assert_int_equal(as_user("ark-t-flood", flood_child, &f), 0);
        assert_arkctl(&H, 0, "RefusalsNotRecorded", "audit", "list");
        (void) out;
        (void) err;
}

/* What a member may name on the host (docs/api.md, "Files a caller may name"). */
static void test_member_host_paths(void **state) {
        _cleanup_free_ char *out = NULL, *err = NULL, *disk = NULL, *db = NULL, *images = NULL;
        const char *refusal = "must be the name of a file in the image store: only admins may give a path";
        json_t *j;

        if (geteuid() != 0)
                skip();
        images = strprintf("%s/images", H.state_dir);
        assert_int_equal(
                harness_sh(&out, &err,
                           "mkdir -p '%s/tenants/retail' && qemu-img create -q -f qcow2 "
                           "'%s/tenants/retail/retail-only.qcow2' 64M && qemu-img create -q -f qcow2 "
                           "'%s/shared.qcow2' 64M && ln -s /etc/shadow '%s/escape.qcow2' && "
                           "echo kernel > '%s/vmlinuz' && mkdir -p '%s/tenants/risk' && "
                           "ln -s ../retail/retail-only.qcow2 '%s/tenants/risk/borrowed.qcow2'",
                           images, images, images, images, images, images, images),
                0);
        /* Another tenant's disk, a bundle's payload, the database, /etc/shadow, a file that does
         * not exist: one answer, whether the path exists or not. */
        assert_arkctl(&H, 0, NULL, "vm", "create", "retail-disk", "--tenant", "retail", "--vcpus", "1",
                      "--memory", "256M", "--disk", "16M");
        j = harness_arkctl_json(&H, "vm", "show", "retail-disk", NULL);
        assert_non_null(j);
        disk = strdup(json_string_value(json_object_get(j, "disk_path")));
        json_decref(j);
        db = strprintf("%s/ark.db", H.state_dir);
        {
                const char *paths[] = { disk, db, "/etc/shadow", "/nonexistent/x.qcow2",
                                        "/var/lib/ark/bundles/x" };

                for (size_t k = 0; k < ELEMENTSOF(paths); k++)
                        for (size_t f = 0; f < 3; f++) {
                                static const char *const opts[] = { "--image", "--kernel", "--initrd" };
                                _cleanup_free_ char *args = strprintf(
                                        "vm create sneaky --tenant risk --vcpus 1 --memory 256M %s %s%s",
                                        opts[f], paths[k], f == 2 ? " --kernel vmlinuz" : "");

                                expect_as("ark-t-risk", 1, refusal, args);
                        }
        }
        expect_as("ark-t-risk", 1, refusal,
                  "vm create sneaky --tenant risk --vcpus 1 --memory 256M --image ../disks/x");
        /* Store names: the tenant's own images and the shared ones; not another tenant's. */
        expect_as("ark-t-viagroup", 0, "Created",
                  "vm create own-img --tenant retail --vcpus 1 --memory 256M "
                  "--image retail-only.qcow2");
        expect_as("ark-t-risk", 1, "not in the image store",
                  "vm create own-img2 --tenant risk --vcpus 1 --memory 256M "
                  "--image retail-only.qcow2");
        expect_as("ark-t-risk", 0, "Created",
                  "vm create shared-img --tenant risk --vcpus 1 --memory 256M "
                  "--image shared.qcow2");
        expect_as("ark-t-risk", 1, "link that leads out",
                  "vm create esc --tenant risk --vcpus 1 --memory 256M "
                  "--kernel escape.qcow2");
        /* A link in a tenant's directory into another tenant's: not that tenant's file. */
        expect_as("ark-t-risk", 1, "link that leads out",
                  "vm create esc2 --tenant risk --vcpus 1 --memory 256M "
                  "--image borrowed.qcow2");
        /* ListImages: what each may name; not another tenant's files, nor the link that leads out. */
        {
                static const char *const call =
                        "setpriv --reuid=%s --regid=%s --init-groups busctl --address='%s' "
                        "call org.ark.Ark1 /org/ark/Ark1 org.ark.Ark1.Manager ListImages s %s";

                out = mfree(out), err = mfree(err);
                assert_int_equal(harness_sh(&out, &err, call, "ark-t-viagroup", "ark-t-viagroup",
                                            H.bus_address, "retail"),
                                 0);
                assert_non_null(strstr(out, "\"retail-only.qcow2\" \"retail\" 196"));
                assert_non_null(strstr(out, "\"shared.qcow2\" \"\""));
                assert_non_null(strstr(out, "\"vmlinuz\" \"\" 7"));
                assert_null(strstr(out, "escape"));
                out = mfree(out), err = mfree(err);
                assert_int_equal(
                        harness_sh(&out, &err, call, "ark-t-risk", "ark-t-risk", H.bus_address, "''"), 0);
                assert_non_null(strstr(out, "shared.qcow2"));
                assert_null(strstr(out, "retail"));
                assert_null(strstr(out, "borrowed")); /* nor its size */
                out = mfree(out), err = mfree(err);
                /* Another tenant's, and one that does not exist: the same refusal. */
                assert_int_not_equal(
                        harness_sh(&out, &err, call, "ark-t-risk", "ark-t-risk", H.bus_address, "retail"),
                        0);
                assert_non_null(
                        strstr(err, "may not list the images of tenant 'retail': it is not a member"));
                assert_null(strstr(strempty(out), "retail-only"));
                out = mfree(out), err = mfree(err);
                assert_int_not_equal(
                        harness_sh(&out, &err, call, "ark-t-risk", "ark-t-risk", H.bus_address, "nosuch"),
                        0);
                assert_non_null(
                        strstr(err, "may not list the images of tenant 'nosuch': it is not a member"));
                out = mfree(out), err = mfree(err);
                assert_int_not_equal(
                        harness_sh(&out, &err, call, "ark-t-none", "ark-t-none", H.bus_address, "''"), 0);
                assert_non_null(strstr(err, "is a member of no tenant"));
                out = mfree(out), err = mfree(err);
                /* The admin sees every tenant's with "". */
                assert_int_equal(harness_sh(&out, &err,
                                            "busctl --address='%s' call org.ark.Ark1 /org/ark/Ark1 "
                                            "org.ark.Ark1.Manager ListImages s ''",
                                            H.bus_address),
                                 0);
                assert_non_null(strstr(out, "\"retail-only.qcow2\" \"retail\""));
                out = mfree(out), err = mfree(err);
        }
        assert_arkctl(&H, 0, NULL, "vm", "delete", "own-img");
        assert_arkctl(&H, 0, NULL, "vm", "delete", "shared-img");
        assert_arkctl(&H, 0, NULL, "vm", "delete", "retail-disk");
}

/* A GPU another tenant's VM holds: the refusal says so without naming the VM. */
static void test_claimer_not_named(void **state) {
        _cleanup_free_ char *args = NULL, *addr = NULL;
        json_t *j;

        if (geteuid() != 0)
                skip();
        j = harness_arkctl_json(&H, "vm", "show", "retail-vm1", NULL);
        assert_non_null(j);
        addr = strdup(json_string_value(json_array_get(json_object_get(j, "gpus"), 0)));
        json_decref(j);
        assert_non_null(addr);
        args = strprintf("vm create grab --tenant risk --vcpus 1 --memory 1G --gpu %s", addr);
        {
                _cleanup_free_ char *out = NULL, *err = NULL;

                assert_int_equal(arkctl_as("ark-t-risk", &out, &err, args), 1);
                assert_non_null(strstr(err, "another tenant"));
                assert_null(strstr(err, "retail"));
                out = mfree(out);
                err = mfree(err);
                free(args);
                args = strprintf("vm gpu add risk-vm1 --gpu %s", addr);
                assert_int_equal(arkctl_as("ark-t-risk", &out, &err, args), 1);
                assert_null(strstr(err, "retail"));
        }
        /* The admin is told who holds it. */
        free(args);
        args = strprintf("%s", addr);
        assert_arkctl(&H, 1, "retail-vm1", "vm", "create", "grab", "--tenant", "risk", "--vcpus", "1",
                      "--memory", "1G", "--gpu", addr);
}

/* Existence oracles: what a member is told about another tenant's names does not depend on
 * whether they exist. */
static void test_no_existence_oracles(void **state) {
        _cleanup_free_ char *o1 = NULL, *e1 = NULL, *o2 = NULL, *e2 = NULL;

        if (geteuid() != 0)
                skip();
        /* Importing for a tenant one is not in: an existing and a missing tenant read the same. */
        assert_int_equal(arkctl_as("ark-t-risk", &o1, &e1, "bundle import /dev/null --tenant retail"), 1);
        assert_int_equal(
                arkctl_as("ark-t-risk", &o2, &e2, "bundle import /dev/null --tenant no-such-tenant"), 1);
        assert_non_null(strstr(e1, "may not import bundles for tenant 'retail': it is not a member"));
        assert_non_null(
                strstr(e2, "may not import bundles for tenant 'no-such-tenant': it is not a member"));
        o1 = mfree(o1), e1 = mfree(e1), o2 = mfree(o2), e2 = mfree(e2);
        /* Another tenant's instance named, or a missing one: the same words. */
        assert_int_equal(arkctl_as("ark-t-risk", &o1, &e1, "vm show retail-vm1"), 1);
        assert_int_equal(arkctl_as("ark-t-risk", &o2, &e2, "vm show no-such-vm"), 1);
        assert_non_null(strstr(e1, "may not see instance"));
        assert_non_null(strstr(e2, "may not see instance"));
}

/* Instance names are unique per tenant: creating one tells a member nothing about another
 * tenant's names (it used to answer "already exists" for a name another tenant had taken). */
static void test_instance_names_per_tenant(void **state) {
        _cleanup_free_ char *o = NULL, *e = NULL;

        if (geteuid() != 0)
                skip();
        /* retail-vm1 is retail's; risk may have one of its own. */
        expect_as("ark-t-risk", 0, "Created", "vm create retail-vm1 --tenant risk --vcpus 1 --memory 256M");
        expect_as("ark-t-risk", 1, "Instance 'retail-vm1' of tenant 'risk' already exists",
                  "vm create retail-vm1 --tenant risk --vcpus 1 --memory 256M");
        /* Each member sees its own under the name. */
        assert_int_equal(arkctl_as("ark-t-risk", &o, &e, "-o json vm show retail-vm1"), 0);
        assert_non_null(strstr(o, "\"tenant\": \"risk\""));
        o = mfree(o), e = mfree(e);
        assert_int_equal(arkctl_as("ark-t-viagroup", &o, &e, "-o json vm show retail-vm1"), 0);
        assert_non_null(strstr(o, "\"tenant\": \"retail\""));
        o = mfree(o), e = mfree(e);
        /* Another tenant's, named in full, reads as one that does not exist. */
        expect_as("ark-t-risk", 1, "may not see instance 'retail/retail-vm1'", "vm show retail/retail-vm1");
        expect_as("ark-t-risk", 1, "may not see instance 'retail/no-such'", "vm show retail/no-such");
        /* The admin, who sees both, names one. */
        assert_arkctl(&H, 1, "More than one tenant you may see has an instance named 'retail-vm1'", "vm",
                      "show", "retail-vm1");
        assert_arkctl(&H, 0, "risk", "vm", "show", "risk/retail-vm1");
        /* Its libvirt domain needs a name of its own on the host (only admins see it). */
        assert_arkctl(&H, 0, "<name>risk.retail-vm1</name>", "vm", "show", "risk/retail-vm1", "--xml");
        assert_arkctl(&H, 0, "<name>retail-vm1</name>", "vm", "show", "retail/retail-vm1", "--xml");
        assert_arkctl(&H, 0, NULL, "vm", "delete", "risk/retail-vm1");
        assert_arkctl(&H, 0, "retail", "vm", "show", "retail-vm1");
}

/* Accelerator objects: not there for a user whom ListAccelerators refuses. */
static void test_accelerator_objects_hidden(void **state) {
        _cleanup_free_ char *o = NULL, *e = NULL;

        if (geteuid() != 0)
                skip();
        assert_int_equal(
                harness_sh(
                        &o, &e,
                        "setpriv --reuid=ark-t-none --regid=ark-t-none --init-groups busctl --address='%s' "
                        "tree --list org.ark.Ark1",
                        H.bus_address),
                0);
        assert_null(strstr(o, "/org/ark/Ark1/accelerator/"));
        o = mfree(o), e = mfree(e);
        assert_int_equal(
                harness_sh(
                        &o, &e,
                        "setpriv --reuid=ark-t-none --regid=ark-t-none --init-groups busctl --address='%s' "
                        "get-property org.ark.Ark1 /org/ark/Ark1/accelerator/0000_3a18_3a00_2e0 "
                        "org.ark.Ark1.Accelerator ClaimState",
                        H.bus_address),
                1);
        o = mfree(o), e = mfree(e);
        /* A member sees them (ListAccelerators answers it). */
        assert_int_equal(
                harness_sh(
                        &o, &e,
                        "setpriv --reuid=ark-t-risk --regid=ark-t-risk --init-groups busctl --address='%s' "
                        "get-property org.ark.Ark1 /org/ark/Ark1/accelerator/0000_3a18_3a00_2e0 "
                        "org.ark.Ark1.Accelerator ClaimState",
                        H.bus_address),
                0);
}

/* A tenant deleted and created again under its name is another tenant: its new members see none
 * of the old one's usage, and the admin's report of the name shows the new one's only. */
static void test_recreated_tenant_usage(void **state) {
        _cleanup_free_ char *out = NULL, *err = NULL;

        if (geteuid() != 0)
                skip();
        assert_arkctl(&H, 0, NULL, "tenant", "create", "phoenix");
        assert_arkctl(&H, 0, NULL, "vm", "create", "phoenix-old", "--tenant", "phoenix", "--vcpus", "1",
                      "--memory", "256M", "--start");
        sleep(2);
        assert_arkctl(&H, 0, NULL, "vm", "stop", "phoenix-old", "--force");
        assert_arkctl(&H, 0, NULL, "vm", "delete", "phoenix-old");
        assert_arkctl(&H, 0, "phoenix-old", "usage", "report", "--tenant", "phoenix");
        assert_arkctl(&H, 0, NULL, "tenant", "delete", "phoenix");

        assert_arkctl(&H, 0, NULL, "tenant", "create", "phoenix");
        assert_arkctl(&H, 0, NULL, "tenant", "member", "add", "phoenix", "--user", "ark-t-none");
        assert_int_equal(arkctl_as("ark-t-none", &out, &err, "-o json usage report"), 0);
        assert_null(strstr(out, "phoenix-old"));
        out = mfree(out), err = mfree(err);
        assert_int_equal(arkctl_as("ark-t-none", &out, &err, "-o json usage report --tenant phoenix"), 0);
        assert_null(strstr(out, "phoenix-old"));
        out = mfree(out), err = mfree(err);
        assert_int_equal(
                harness_arkctl(&H, &out, &err, "-o", "json", "usage", "report", "--tenant", "phoenix", NULL),
                0);
        assert_null(strstr(out, "phoenix-old"));
        assert_arkctl(&H, 0, NULL, "tenant", "member", "remove", "phoenix", "--user", "ark-t-none");
        assert_arkctl(&H, 0, NULL, "tenant", "delete", "phoenix");
}

/* A preempted instance's reason names the tenant its GPUs went back to, for the admin; a member
 * of the preempted instance's tenant is told "another tenant" (the API fuzzer's finding, seed
 * 13109040497013806496). */
static void test_preemption_reason_hidden(void **state) {
        _cleanup_free_ char *out = NULL, *err = NULL;
        unsigned n = 0;

        if (geteuid() != 0)
                skip();
        assert_arkctl(&H, 0, NULL, "tenant", "create", "pr-lab");
        assert_arkctl(&H, 0, NULL, "tenant", "create", "pr-borrow");
        assert_arkctl(&H, 0, NULL, "tenant", "quota", "set", "pr-lab", "gpus=1..8");
        assert_arkctl(&H, 0, NULL, "tenant", "member", "add", "pr-borrow", "--user", "ark-t-none");
        /* pr-borrow takes every free GPU, pr-lab's guaranteed one too, with preemptible VMs. */
        for (;; n++) {
                _cleanup_free_ char *name = strprintf("pb-%u", n), *o = NULL, *e = NULL;

                assert_true(n < 16);
                if (harness_arkctl(&H, &o, &e, "vm", "create", name, "--tenant", "pr-borrow", "--vcpus", "1",
                                   "--memory", "256M", "--gpus", "1", "--preemptible", "--start",
                                   NULL) != 0) {
                        assert_non_null(strstr(strempty(e), "Not enough free GPUs"));
                        break;
                }
        }
        assert_true(n >= 1);
        assert_arkctl(&H, 0, NULL, "vm", "create", "pr-job", "--tenant", "pr-lab", "--vcpus", "1",
                      "--memory", "256M", "--gpus", "1", "--start");
        {
                _cleanup_free_ char *victim = strprintf("pb-%u", n - 1),
                                    *args = strprintf("vm show %s", victim);

                assert_arkctl(&H, 0, "tenant 'pr-lab'", "vm", "show", victim);
                assert_int_equal(arkctl_as("ark-t-none", &out, &err, args), 0);
                assert_non_null(strstr(out, "preempted: its GPUs went back to another tenant"));
                assert_null(strstr(out, "pr-lab"));
                out = mfree(out), err = mfree(err);
                assert_int_equal(arkctl_as("ark-t-none", &out, &err, "-o json vm list"), 0);
                assert_null(strstr(out, "pr-lab"));
        }
        assert_arkctl(&H, 0, NULL, "tenant", "member", "remove", "pr-borrow", "--user", "ark-t-none");
        assert_arkctl(&H, 0, NULL, "vm", "stop", "pr-job", "--force");
        assert_arkctl(&H, 0, NULL, "vm", "delete", "pr-job");
        for (unsigned k = 0; k < n; k++) {
                _cleanup_free_ char *name = strprintf("pb-%u", k);

                (void) harness_arkctl(&H, NULL, NULL, "vm", "stop", name, "--force", NULL);
                assert_arkctl(&H, 0, NULL, "vm", "delete", name);
        }
        assert_arkctl(&H, 0, NULL, "tenant", "delete", "pr-borrow");
        assert_arkctl(&H, 0, NULL, "tenant", "delete", "pr-lab");
}

/* Bidirectional overrides are refused in every string argument, naming the field. */
static void test_bidi_refused(void **state) {
        _cleanup_free_ char *o = NULL, *e = NULL;

        if (geteuid() != 0)
                skip();
        assert_arkctl(&H, 1, "bidirectional formatting character", "tenant", "create", "bidi",
                      "--description", "payroll \u202Etxt.exe");
        assert_int_equal(harness_sh(&o, &e,
                                    "busctl --address='%s' call org.ark.Ark1 /org/ark/Ark1/tenant/risk "
                                    "org.ark.Ark1.Tenant SetDescription s $(printf 'evil\\342\\201\\246')",
                                    H.bus_address),
                         1);
        assert_non_null(strstr(e, "The argument 'description' of SetDescription contains a bidirectional"));
        o = mfree(o), e = mfree(e);
        assert_int_equal(
                harness_sh(&o, &e,
                           "busctl --address='%s' call org.ark.Ark1 /org/ark/Ark1 org.ark.Ark1.Manager "
                           "CreateTenant ss bell \"$(printf 'ring\\007')\"",
                           H.bus_address),
                1);
        assert_non_null(strstr(e, "control character (U+0007)"));
        assert_arkctl(&H, 0, NULL, "tenant", "create", "bidi-ok", "--description", "风险 (risk) — ok");
        assert_arkctl(&H, 0, NULL, "tenant", "delete", "bidi-ok");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_tenants_do_not_see_each_other),
                cmocka_unit_test(test_members_survive_restart),
                cmocka_unit_test(test_bundles),
                cmocka_unit_test(test_member_host_paths),
                cmocka_unit_test(test_claimer_not_named),
                cmocka_unit_test(test_no_existence_oracles),
                cmocka_unit_test(test_instance_names_per_tenant),
                cmocka_unit_test(test_accelerator_objects_hidden),
                cmocka_unit_test(test_bidi_refused),
                cmocka_unit_test(test_sd_bus_answers_bounded),
                cmocka_unit_test(test_recreated_tenant_usage),
                cmocka_unit_test(test_preemption_reason_hidden),
                cmocka_unit_test(test_flood_of_large_refused_calls),
        };
        return cmocka_run_group_tests_name("integration: access", tests, setup, teardown);
}

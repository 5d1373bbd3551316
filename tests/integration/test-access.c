/* Access control with real Unix users: the test creates users, makes them members of tenants (as
 * users, or through a group), and runs arkctl as each of them (setpriv) against arkd on a private
 * bus that, like the system bus, accepts every local user. A member of one tenant sees and
 * touches nothing of another; a user in no tenant can read the status and nothing else. Needs
 * root (to create users); skipped with a message otherwise. */

#include "itest.h"

#include <grp.h>
#include <signal.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"

static Harness H;

#define GROUP "ark-t-retailers"

static void cleanup_accounts(void) {
        _cleanup_free_ char *out = NULL, *err = NULL;

        (void) harness_sh(&out, &err,
                          "for u in ark-t-risk ark-t-retail ark-t-none ark-t-viagroup; do userdel $u 2>/dev/null; done; "
                          "groupdel " GROUP " 2>/dev/null; true");
}

static int setup(void **state) {
        _cleanup_free_ char *out = NULL, *err = NULL;

        if (geteuid() != 0)
                return 0;
        cleanup_accounts();
        if (harness_sh(&out, &err,
                       "groupadd --system " GROUP " && "
                       "for u in ark-t-risk ark-t-retail ark-t-none; do "
                       "  useradd --system --no-create-home --shell /usr/sbin/nologin $u || exit 1; done && "
                       "useradd --system --no-create-home --shell /usr/sbin/nologin -G " GROUP " ark-t-viagroup") != 0) {
                fprintf(stderr, "cannot create test users: %s %s\n", strna(out), strna(err));
                return -1;
        }
        if (harness_setup(&H, "dgx-h100") < 0 || harness_start_arkd(&H, NULL) < 0)
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
        return harness_sh(out, err, "ARK_BUS_ADDRESS='%s' setpriv --reuid=%s --regid=%s --init-groups '%s/bin/arkctl' %s",
                          H.bus_address, user, user, harness_build_dir(), args);
}

static void expect_as(const char *user, int code, const char *needle, const char *args) {
        _cleanup_free_ char *out = NULL, *err = NULL;
        int r = arkctl_as(user, &out, &err, args);

        if (r != code || (needle && !strstr(code == 0 ? strempty(out) : strempty(err), needle)))
                fail_msg("arkctl %s as %s: exit %d (want %d), want '%s'\nstdout: %s\nstderr: %s", args, user, r, code,
                         strna(needle), strna(out), strna(err));
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
        assert_arkctl(&H, 0, NULL, "tenant", "member", "add", "retail", "--user", "ark-t-retail", "--group", GROUP);
        assert_arkctl(&H, 0, NULL, "vm", "create", "risk-vm1", "--tenant", "risk", "--vcpus", "1", "--memory", "1G",
                      "--start");
        assert_arkctl(&H, 0, NULL, "vm", "create", "retail-vm1", "--tenant", "retail", "--vcpus", "1", "--memory", "1G",
                      "--gpus", "1");

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
        expect_as("ark-t-retail", 1, "may not read the usage of tenant 'risk'", "usage report --tenant risk");
        expect_as("ark-t-retail", 0, NULL, "usage report --tenant retail");
        expect_as("ark-t-retail", 1, "may not reserve or quarantine GPUs", "accelerator reserve 0000:18:00.0");
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
        assert_arkctl(&H, 1, "not a member of tenant 'risk'", "tenant", "member", "remove", "risk", "--user", "ark-t-none");
        assert_arkctl(&H, 1, "There is no user 'no-such-user-x'", "tenant", "member", "add", "risk", "--user",
                      "no-such-user-x");
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
        assert_int_equal(harness_sh(&out, &err,
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
                expect_as("ark-t-viagroup", 0, "No models.", "model list");
                expect_as("ark-t-viagroup", 1, "no model 'shared-m'", "model delete shared-m");
                expect_as("ark-t-none", 0, "No models.", "model list");
                expect_as("ark-t-risk", 0, "Deleted model shared-m", "model delete shared-m");
        }
        out = mfree(out);
        err = mfree(err);
        (void) harness_sh(&out, &err, "rm -rf '%s'", dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_tenants_do_not_see_each_other),
                cmocka_unit_test(test_members_survive_restart),
                cmocka_unit_test(test_bundles),
        };
        return cmocka_run_group_tests_name("integration: access", tests, setup, teardown);
}

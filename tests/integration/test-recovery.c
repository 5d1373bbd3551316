/* Recovery: arkd restarted (SIGTERM) and killed (SIGKILL) with tenants and VMs in various states
 * comes back with every record, every VM in its desired state and nothing duplicated; orphan
 * domains are reported and left alone; a store from a newer arkd and a broken config file are
 * refused with a clear message. On the libvirt test driver the hypervisor lives inside arkd, so
 * every restart is like a host reboot: the domains are defined again from the store. */

#include "itest.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"

static Harness H;

/* Per-test setup with the fixture host name as the initial state; teardown always runs, also when
 * an assertion fails half-way, so no arkd or dbus-daemon is left behind. */
static int setup_host(void **state) {
        return harness_setup(&H, *state) < 0 ? -1 : 0;
}

static int teardown_host(void **state) {
        harness_teardown(&H);
        return 0;
}

typedef struct Snapshot {
        char *text; /* "name tenant state desired id\n" per instance, sorted by name */
        char *full; /* every instance's whole record (vm show -o json) and its domain XML */
        unsigned n;
} Snapshot;

/* The record of an instance as `arkctl -o json vm show` prints it, without the state reason
 * (which says why the state is what it is: "started" before, "restored" after a restart). */
static void append_full(Harness *h, StrBuf *b, const char *name) {
        _cleanup_free_ char *xml = NULL, *text = NULL;
        json_t *j = harness_arkctl_json(h, "vm", "show", name, NULL);

        assert_non_null(j);
        assert_int_equal(json_object_del(j, "state_reason"), 0);
        text = json_dumps(j, JSON_SORT_KEYS | JSON_INDENT(1));
        json_decref(j);
        assert_non_null(text);
        xml = itest_arkctl_expect(h, 0, NULL, "vm", "show", name, "--xml", NULL);
        /* A running domain's id is a runtime counter of the hypervisor, not part of its definition. */
        {
                char *id = strstr(xml, " id='"), *end = id ? strchr(id + 5, '\'') : NULL;

                if (id && end && id < strchr(xml, '>'))
                        memmove(id, end + 1, strlen(end + 1) + 1);
        }
        strbuf_printf(b, "== %s\n%s\n%s", name, text, xml);
}

static void snapshot_take(Harness *h, Snapshot *s) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *name, *tenant, *type, *state, *desired, *id, *path;
        StrBuf b = {}, full = {};

        assert_true(sd_bus_call_method(harness_bus(h), ARK_BUS_NAME, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER,
                                       "ListInstances", NULL, &reply, NULL) >= 0);
        assert_true(sd_bus_message_enter_container(reply, 'a', "(sssssso)") >= 0);
        s->n = 0;
        while (sd_bus_message_read(reply, "(sssssso)", &name, &tenant, &type, &state, &desired, &id, &path) >
               0) {
                strbuf_printf(&b, "%s %s %s %s %s\n", name, tenant, state, desired, id);
                append_full(h, &full, name);
                s->n++;
        }
        s->text = strbuf_steal(&b);
        s->full = strbuf_steal(&full);
        assert_non_null(s->text);
        assert_non_null(s->full);
}

static void create_world(Harness *h) {
        assert_arkctl(h, 0, NULL, "tenant", "create", "risk", "--description", "Risk");
        assert_arkctl(h, 0, NULL, "tenant", "create", "ops");
        assert_arkctl(h, 0, NULL, "vm", "create", "risk-a", "--tenant", "risk", "--vcpus", "2", "--memory",
                      "2G", "--disk", "10G", "--start");
        assert_arkctl(h, 0, NULL, "vm", "create", "risk-b", "--tenant", "risk", "--vcpus", "1", "--memory",
                      "1G");
        assert_arkctl(h, 0, NULL, "vm", "create", "ops-a", "--tenant", "ops", "--vcpus", "4", "--memory",
                      "4G", "--start");
        assert_arkctl(h, 0, NULL, "vm", "create", "ops-b", "--tenant", "ops", "--vcpus", "1", "--memory",
                      "512M", "--start");
        assert_arkctl(h, 0, NULL, "vm", "stop", "ops-b");
        /* An overlay on a base image, and a direct kernel boot: the parts of a spec most easily
         * lost in a round trip through the store. */
        {
                _cleanup_free_ char *base = strprintf("%s/base.qcow2", h->tmp),
                                    *kernel = strprintf("%s/vmlinuz", h->tmp), *out = NULL, *err = NULL;

                assert_int_equal(harness_sh(&out, &err,
                                            "qemu-img create -q -f qcow2 '%s' 2G && head -c 4096 "
                                            "/dev/zero > '%s'",
                                            base, kernel),
                                 0);
                assert_arkctl(h, 0, NULL, "vm", "create", "ops-img", "--tenant", "ops", "--vcpus", "2",
                              "--memory", "1G", "--image", base, "--disk", "8G", "--start");
                assert_arkctl(h, 0, NULL, "vm", "create", "risk-kern", "--tenant", "risk", "--vcpus", "1",
                              "--memory", "256M", "--kernel", kernel, "--cmdline", "console=ttyS0 quiet");
        }
}

static void expect_same_world(Harness *h, const Snapshot *before) {
        Snapshot after = {};

        snapshot_take(h, &after);
        if (!streq(before->text, after.text))
                fail_msg("instances differ after restart:\nbefore:\n%safter:\n%s", before->text, after.text);
        /* The whole spec and the domain defined from it, not only names and states. */
        if (!streq(before->full, after.full)) {
                _cleanup_free_ char *a = strprintf("%s/before.txt", h->tmp),
                                    *b = strprintf("%s/after.txt", h->tmp), *out = NULL, *err = NULL;

                assert_int_equal(write_string_file(a, before->full, WRITE_CREATE), 0);
                assert_int_equal(write_string_file(b, after.full, WRITE_CREATE), 0);
                (void) harness_sh(&out, &err, "diff -u '%s' '%s' | head -60", a, b);
                fail_msg("instance records or domain XML differ after restart:\n%s", strna(out));
        }
        assert_int_equal(after.n, 6);
        assert_int_equal(itest_get_u32(h, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "NInstances"), 6);
        assert_int_equal(itest_get_u32(h, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "NTenants"), 2);
        free(after.text);
        free(after.full);
}

static void restart_with(int sig) {
        Harness *hp = &H;
        Snapshot before = {};
        int r;

        assert_int_equal(harness_start_arkd(hp, NULL), 0);
        create_world(hp);
        snapshot_take(hp, &before);
        assert_non_null(strstr(before.text, "risk-a risk running running"));
        assert_non_null(strstr(before.text, "ops-b ops stopped stopped"));
        assert_non_null(strstr(before.text, "ops-img ops running running"));
        assert_non_null(strstr(before.full, "console=ttyS0 quiet"));

        for (int round = 0; round < 2; round++) {
                r = harness_stop_arkd(hp, sig);
                if (sig == SIGTERM)
                        assert_int_equal(r, 0);
                else
                        assert_int_equal(r, 128 + SIGKILL);
                assert_int_equal(harness_start_arkd(hp, NULL), 0);
                expect_same_world(hp, &before);
        }

        /* Everything still works after recovery. */
        assert_arkctl(hp, 0, NULL, "vm", "stop", "risk-a");
        assert_arkctl(hp, 0, NULL, "vm", "delete", "risk-a");
        assert_arkctl(hp, 0, NULL, "vm", "delete", "risk-b");
        free(before.text);
        free(before.full);
}

static void test_restart_sigterm(void **state) {
        restart_with(SIGTERM);
}

static void test_restart_sigkill(void **state) {
        restart_with(SIGKILL);
}

/* A reply means the change is durable: kill -9 right after each create loses nothing. */
static void test_kill9_right_after_mutation(void **state) {
        Harness *hp = &H;

        for (int k = 0; k < 3; k++) {
                char name[32];

                assert_int_equal(harness_start_arkd(hp, NULL), 0);
                snprintf(name, sizeof(name), "t%d", k);
                assert_arkctl(hp, 0, NULL, "tenant", "create", name);
                snprintf(name, sizeof(name), "vm%d", k);
                assert_arkctl(hp, 0, NULL, "vm", "create", name, "--tenant", "t0", "--vcpus", "1",
                              "--memory", "128M", "--start");
                assert_int_equal(harness_stop_arkd(hp, SIGKILL), 128 + SIGKILL);
        }
        assert_int_equal(harness_start_arkd(hp, NULL), 0);
        assert_int_equal(itest_get_u32(hp, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "NTenants"), 3);
        assert_int_equal(itest_get_u32(hp, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "NInstances"), 3);
        {
                _cleanup_free_ char *s = harness_get_string(hp, "/org/ark/Ark1/instance/t0/vm2",
                                                            ARK_BUS_IFACE_INSTANCE, "State");
                assert_string_equal(s, "running");
        }
}

/* A domain with Ark metadata but no record is reported, survives reconciliation, and blocks its name. */
static void test_orphan_reported(void **state) {
        _cleanup_free_ char *hostxml = NULL, *orig = NULL, *patched = NULL, *uri = NULL, *out = NULL;
        const char *domain =
                "<domain type='test'><name>ghost-vm</name><uuid>5e1f1c1a-0000-4000-8000-00000000beef</uuid>"
                "<metadata><ark:instance xmlns:ark='https://ark.dev/xmlns/instance/1'><ark:tenant>ghost</ark:tenant>"
                "<ark:id>5e1f1c1a-0000-4000-8000-00000000beef</ark:id></ark:instance></metadata>"
                "<memory>524288</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>"
                "<domain type='test'><name>foreign-vm</name><memory>524288</memory><vcpu>1</vcpu>"
                "<os><type arch='x86_64'>hvm</type></os></domain>";
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *dname, *duuid, *dtenant;
        Harness *hp = &H;
        char *close_tag;

        hostxml = strprintf("%s/host.xml", hp->fixture);
        assert_int_equal(read_full_file(hostxml, &orig, NULL), 0);
        close_tag = strstr(orig, "</node>");
        assert_non_null(close_tag);
        *close_tag = 0;
        patched = strprintf("%s%s</node>\n", orig, domain);
        free(hp->libvirt_uri);
        uri = strprintf("%s/host-with-orphan.xml", hp->tmp);
        assert_int_equal(write_string_file(uri, patched, WRITE_CREATE), 0);
        hp->libvirt_uri = strprintf("test://%s", uri);
        assert_int_equal(harness_start_arkd(hp, NULL), 0);

        for (int round = 0; round < 2; round++) {
                assert_true(sd_bus_get_property(harness_bus(hp), ARK_BUS_NAME, ARK_BUS_PATH,
                                                ARK_BUS_IFACE_MANAGER, "Orphans", NULL, &reply,
                                                "a(sss)") >= 0);
                assert_true(sd_bus_message_enter_container(reply, 'a', "(sss)") >= 0);
                assert_true(sd_bus_message_read(reply, "(sss)", &dname, &duuid, &dtenant) > 0);
                assert_string_equal(dname, "ghost-vm");
                assert_string_equal(duuid, "5e1f1c1a-0000-4000-8000-00000000beef");
                assert_string_equal(dtenant, "ghost");
                assert_int_equal(sd_bus_message_read(reply, "(sss)", &dname, &duuid, &dtenant),
                                 0); /* one only */
                reply = sd_bus_message_unref(reply);
                /* Reconciling again never deletes it. */
                assert_true(sd_bus_call_method(harness_bus(hp), ARK_BUS_NAME, ARK_BUS_PATH,
                                               ARK_BUS_IFACE_MANAGER, "Reconcile", NULL, NULL, NULL) >= 0);
        }
        out = itest_arkctl_expect(hp, 0, NULL, "status", NULL);
        assert_non_null(strstr(out, "ghost-vm"));
        /* The name stays taken; the message says why. */
        assert_arkctl(hp, 0, NULL, "tenant", "create", "ghost");
        assert_arkctl(hp, 1, "not managed by Ark", "vm", "create", "ghost-vm", "--tenant", "ghost",
                      "--vcpus", "1", "--memory", "256M");
        assert_arkctl(hp, 1, "not managed by Ark", "vm", "create", "foreign-vm", "--tenant", "ghost",
                      "--vcpus", "1", "--memory", "256M");
        assert_int_equal(itest_get_u32(hp, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "NInstances"), 0);
}

static void test_newer_store_refused(void **state) {
        _cleanup_free_ char *out = NULL, *err = NULL, *log = NULL;
        Harness *hp = &H;

        assert_int_equal(harness_start_arkd(hp, NULL), 0);
        assert_arkctl(hp, 0, NULL, "tenant", "create", "keepme");
        assert_int_equal(harness_stop_arkd(hp, SIGTERM), 0);
        assert_int_equal(
                harness_sh(&out, &err, "sqlite3 '%s/ark.db' 'PRAGMA user_version = 99'", hp->state_dir), 0);
        assert_int_not_equal(harness_start_arkd(hp, NULL), 0);
        assert_int_equal(read_full_file(hp->arkd_log, &log, NULL), 0);
        assert_non_null(strstr(log, "newer arkd"));
}

static void test_bad_config_refused(void **state) {
        _cleanup_free_ char *conf = NULL, *log = NULL;
        Harness *hp = &H;

        conf = strprintf("%s/bad.conf", hp->tmp);
        assert_int_equal(write_string_file(conf, "[Hypervisor]\nStopTimeoutSec=soon\n", WRITE_CREATE), 0);
        assert_int_not_equal(harness_start_arkd(hp, "--config", conf, NULL), 0);
        assert_int_equal(read_full_file(hp->arkd_log, &log, NULL), 0);
        assert_non_null(strstr(log, "bad.conf:2"));
        assert_non_null(strstr(log, "StopTimeoutSec"));
}

/* Claims and holds live in the store; after a restart (here kill -9) every accelerator shows who
 * holds it. A claim the host cannot honour (the GPU is gone) is reported, and kept. */
static void test_claims_survive_restart(void **state) {
        _cleanup_free_ char *out = NULL, *err = NULL, *log = NULL;
        json_t *j, *a;
        Harness *hp = &H;

        assert_int_equal(harness_start_arkd(hp, NULL), 0);
        assert_arkctl(hp, 0, NULL, "tenant", "create", "risk");
        assert_arkctl(hp, 0, NULL, "vm", "create", "risk-a", "--tenant", "risk", "--vcpus", "1", "--memory",
                      "1G");
        j = harness_arkctl_json(hp, "host", "accelerators", NULL);
        assert_non_null(j);
        assert_string_equal(
                json_string_value(json_object_get(itest_accelerator(j, "0000:18:00.0"), "claim_state")),
                "free");
        json_decref(j);
        assert_int_equal(harness_stop_arkd(hp, SIGKILL), 128 + SIGKILL);

        /* What the claim path writes (until VMs ask for GPUs through the API). */
        assert_int_equal(
                harness_sh(&out, &err,
                           "sqlite3 '%s/ark.db' \"INSERT INTO claims (address, instance_id, created_usec) "
                           "SELECT '0000:18:00.0', id, 1 FROM instances WHERE name = 'risk-a'; "
                           "INSERT INTO claims (address, instance_id, created_usec) "
                           "SELECT '0000:ee:00.0', id, 1 FROM instances WHERE name = 'risk-a'; "
                           "INSERT INTO accelerator_holds VALUES ('0000:db:00.0', 'reserved', "
                           "'host inference service', 1);\"",
                           hp->state_dir),
                0);
        assert_int_equal(harness_start_arkd(hp, NULL), 0);
        j = harness_arkctl_json(hp, "host", "accelerators", NULL);
        assert_non_null(j);
        a = itest_accelerator(j, "0000:18:00.0");
        assert_string_equal(json_string_value(json_object_get(a, "claim_state")), "claimed");
        assert_string_equal(json_string_value(json_object_get(a, "claimed_by")), "risk-a");
        a = itest_accelerator(j, "0000:db:00.0");
        assert_string_equal(json_string_value(json_object_get(a, "claim_state")), "reserved");
        assert_string_equal(json_string_value(json_object_get(a, "hold_reason")), "host inference service");
        a = itest_accelerator(j, "0000:2a:00.0");
        assert_string_equal(json_string_value(json_object_get(a, "claim_state")), "free");
        json_decref(j);

        assert_int_equal(read_full_file(hp->arkd_log, &log, NULL), 0);
        assert_non_null(strstr(
                log, "Conflict: the store says accelerator 0000:ee:00.0 is claimed by instance risk-a"));
        out = mfree(out);
        err = mfree(err);
        assert_int_equal(
                harness_sh(&out, &err, "sqlite3 '%s/ark.db' 'SELECT count(*) FROM claims'", hp->state_dir),
                0);
        assert_string_equal(strstrip(out), "2");

        /* Deleting the instance releases its claims, in the store and on the accelerators. */
        assert_arkctl(hp, 0, NULL, "vm", "delete", "risk-a");
        j = harness_arkctl_json(hp, "host", "accelerators", NULL);
        assert_non_null(j);
        a = itest_accelerator(j, "0000:18:00.0");
        assert_string_equal(json_string_value(json_object_get(a, "claim_state")), "free");
        assert_string_equal(json_string_value(json_object_get(a, "claimed_by")), "");
        json_decref(j);
        out = mfree(out);
        err = mfree(err);
        assert_int_equal(
                harness_sh(&out, &err, "sqlite3 '%s/ark.db' 'SELECT count(*) FROM claims'", hp->state_dir),
                0);
        assert_string_equal(strstrip(out), "0");
}

/* A create interrupted by a crash (after the disk was made, before the record was committed)
 * leaves a disk no instance has: the next start removes it, and only what is Ark's. */
static void test_stray_files_removed(void **state) {
        _cleanup_free_ char *out = NULL, *err = NULL, *log = NULL, *stray = NULL, *nv = NULL, *notes = NULL,
                            *kept = NULL;
        json_t *j;
        Harness *hp = &H;

        assert_int_equal(harness_start_arkd(hp, NULL), 0);
        assert_arkctl(hp, 0, NULL, "tenant", "create", "risk");
        assert_arkctl(hp, 0, NULL, "vm", "create", "keep", "--tenant", "risk", "--vcpus", "1", "--memory",
                      "1G", "--disk", "1G");
        j = harness_arkctl_json(hp, "vm", "show", "keep", NULL);
        assert_non_null(j);
        kept = strdup(json_string_value(json_object_get(j, "disk_path")));
        json_decref(j);
        assert_int_equal(harness_stop_arkd(hp, SIGKILL), 128 + SIGKILL);

        stray = strprintf("%s/disks/0b9e2c4d-1f3a-4e5b-8c7d-6a5b4c3d2e1f.qcow2", hp->state_dir);
        nv = strprintf("%s/nvram/0b9e2c4d-1f3a-4e5b-8c7d-6a5b4c3d2e1f_VARS.fd", hp->state_dir);
        notes = strprintf("%s/disks/notes.txt", hp->state_dir);
        assert_int_equal(harness_sh(&out, &err,
                                    "qemu-img create -q -f qcow2 '%s' 1G && : > '%s' && : > '%s'", stray, nv,
                                    notes),
                         0);
        assert_int_equal(harness_start_arkd(hp, NULL), 0);
        assert_false(file_exists(stray));
        assert_false(file_exists(nv));
        assert_true(file_exists(notes)); /* not a name Ark gives */
        assert_true(file_exists(kept));
        assert_int_equal(read_full_file(hp->arkd_log, &log, NULL), 0);
        assert_non_null(strstr(log, "left by a VM creation that did not complete"));
}

/* A second arkd on the same state directory (a second sandbox with the same --state, or a
 * hand-started arkd next to the service) is refused before it touches the store, with the PID of
 * the one that holds it; the first goes on undisturbed. */
static void test_second_arkd_refused(void **state) {
        _cleanup_free_ char *out = NULL, *err = NULL, *pid = NULL;
        Harness *hp = &H;
        int r;

        assert_int_equal(harness_start_arkd(hp, NULL), 0);
        assert_arkctl(hp, 0, NULL, "tenant", "create", "first");
        r = harness_sh(&out, &err,
                       "'%s/bin/arkd' --bus-address '%s' --state-dir '%s' --libvirt-uri '%s' "
                       "--sysfs-root '%s/sysfs' </dev/null",
                       harness_build_dir(), hp->bus_address, hp->state_dir, hp->libvirt_uri, hp->fixture);
        assert_int_not_equal(r, 0);
        pid = strprintf("Another arkd (PID %ld) is using the state directory", (long) hp->arkd_pid);
        if (!strstr(strempty(err), pid))
                fail_msg("second arkd exited %d; expected '%s' in: %s", r, pid, strna(err));
        assert_true(harness_arkd_alive(hp));
        assert_arkctl(hp, 0, NULL, "tenant", "create", "second");
        assert_int_equal(itest_get_u32(hp, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "NTenants"), 2);

        /* kill -9 leaves no stale lock: the next arkd starts. */
        assert_int_equal(harness_stop_arkd(hp, SIGKILL), 128 + SIGKILL);
        assert_int_equal(harness_start_arkd(hp, NULL), 0);
        assert_int_equal(itest_get_u32(hp, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "NTenants"), 2);
}

/* The store locked by another process for longer than the busy timeout: arkd answers that it was
 * locked, a Timeout, and changes nothing; not "no such tenant" or "still owns instances" (issue 16:
 * a lock and a foreign key were one errno). Afterwards the same calls work. */
static void test_store_locked(void **state) {
        _cleanup_free_ char *out = NULL, *err = NULL, *pidfile = strprintf("%s/locker.pid", H.tmp),
                            *pid = NULL;
        Harness *hp = &H;
        bool locked = false;

        assert_int_equal(harness_start_arkd(hp, NULL), 0);
        assert_arkctl(hp, 0, NULL, "tenant", "create", "held");
        /* The holder says when it has the lock (it waits for arkd's own writes first). */
        assert_int_equal(
                harness_sh(
                        &out, &err,
                        "setsid sh -c '(printf \".timeout 60000\\nBEGIN EXCLUSIVE;\\nSELECT 42424242;\\n\"; "
                        "sleep 300) | sqlite3 \"%s/ark.db\" > \"%s/locker.out\" 2>&1' >/dev/null 2>&1 & "
                        "echo $! > '%s'",
                        hp->state_dir, H.tmp, pidfile),
                0);
        for (uint64_t end = harness_wait_deadline(); !locked && !harness_wait_over(end);) {
                _cleanup_free_ char *said = NULL, *path = strprintf("%s/locker.out", H.tmp);

                locked = read_full_file(path, &said, NULL) >= 0 && strstr(said, "42424242");
                if (!locked)
                        usleep(50000);
        }
        assert_true(locked);
        assert_arkctl(hp, 1, "the state database stayed locked by another process", "tenant", "member",
                      "add", "held", "--user", "root");
        assert_arkctl(hp, 1, "the state database stayed locked by another process", "tenant", "delete",
                      "held");
        assert_int_equal(read_one_line_file(pidfile, &pid), 0);
        assert_int_equal(kill(-atoi(pid), SIGKILL), 0);

        assert_arkctl(hp, 0, NULL, "tenant", "member", "add", "held", "--user", "root");
        assert_arkctl(hp, 0, "root", "tenant", "member", "list", "held");
        assert_arkctl(hp, 0, NULL, "tenant", "delete", "held");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_prestate_setup_teardown(test_restart_sigterm, setup_host, teardown_host,
                                                         "dgx-h100"),
                cmocka_unit_test_prestate_setup_teardown(test_restart_sigkill, setup_host, teardown_host,
                                                         "dgx-h100"),
                cmocka_unit_test_prestate_setup_teardown(test_kill9_right_after_mutation, setup_host,
                                                         teardown_host, "ws-rtx"),
                cmocka_unit_test_prestate_setup_teardown(test_orphan_reported, setup_host, teardown_host,
                                                         "dgx-h100"),
                cmocka_unit_test_prestate_setup_teardown(test_newer_store_refused, setup_host, teardown_host,
                                                         "no-iommu"),
                cmocka_unit_test_prestate_setup_teardown(test_claims_survive_restart, setup_host,
                                                         teardown_host, "dgx-h100"),
                cmocka_unit_test_prestate_setup_teardown(test_stray_files_removed, setup_host, teardown_host,
                                                         "no-iommu"),
                cmocka_unit_test_prestate_setup_teardown(test_second_arkd_refused, setup_host, teardown_host,
                                                         "no-iommu"),
                cmocka_unit_test_prestate_setup_teardown(test_bad_config_refused, setup_host, teardown_host,
                                                         "no-iommu"),
                cmocka_unit_test_prestate_setup_teardown(test_store_locked, setup_host, teardown_host,
                                                         "no-iommu"),
        };
        return cmocka_run_group_tests_name("integration: recovery", tests, NULL, NULL);
}

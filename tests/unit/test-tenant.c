/* Tests for appliance/tenant: names and descriptions refused with a sentence, duplicates, deletion
 * refused while the tenant owns instances, and all-or-nothing: when the store refuses a write
 * (here a trigger that aborts it, as a full disk would), neither the store nor arkd's list changes.
 * A real SQLite store; no bus (signals to a NULL bus are dropped). */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "instance.h"
#include "manager.h"
#include "shared/bus-util.h"
#include "shared/db.h"
#include "store.h"
#include "tenant.h"

typedef struct Fixture {
        char *dir;
        Manager m;
} Fixture;

static int setup(void **state) {
        char t[] = "/tmp/ark-test-tenant.XXXXXX";
        Fixture *f = calloc(1, sizeof(Fixture));

        if (!f || !mkdtemp(t))
                return -1;
        f->dir = strdup(t);
        if (!f->dir || store_open(f->dir, &f->m.db) < 0)
                return -1;
        *state = f;
        return 0;
}

static void free_tenants(Manager *m) {
        LIST_FOREACH_SAFE(tenants, t, n, m->tenants) {
                LIST_REMOVE(tenants, m->tenants, t);
                tenant_free(t);
        }
}

static int teardown(void **state) {
        Fixture *f = *state;

        free_tenants(&f->m);
        db_close(f->m.db);
        (void) rm_rf(f->dir);
        free(f->dir);
        free(f);
        return 0;
}

static int count_rows(sqlite3 *db, const char *where) {
        _cleanup_free_ char *sql = strprintf("SELECT count(*) FROM tenants WHERE %s", where);
        sqlite3_stmt *st = NULL;
        int n;

        assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        n = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        return n;
}

static unsigned count_list(Manager *m) {
        unsigned n = 0;
        LIST_FOREACH(tenants, t, m->tenants)
                n++;
        return n;
}

/* Expects tenant_create() to fail with the named error and a message containing `needle`. */
static void create_fails(Manager *m, const char *name, const char *description, const char *error_name,
                         const char *needle) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        Tenant *t = (Tenant *) 0x1;

        assert_true(tenant_create(m, name, description, &t, &e) < 0);
        assert_ptr_equal(t, (Tenant *) 0x1);
        if (!sd_bus_error_has_name(&e, error_name))
                fail_msg("creating '%s': got %s (%s), want %s", name, strna(e.name), strna(e.message),
                         error_name);
        if (!strstr(strempty(e.message), needle))
                fail_msg("creating '%s': message '%s' does not contain '%s'", name, strna(e.message),
                         needle);
        sd_bus_error_free(&e);
}

static void test_create(void **state) {
        Fixture *f = *state;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        Tenant *t = NULL;

        assert_int_equal(tenant_create(&f->m, "risk", "Risk analytics", &t, &e), 0);
        assert_non_null(t);
        assert_string_equal(t->name, "risk");
        assert_string_equal(t->description, "Risk analytics");
        assert_string_equal(t->path, "/org/ark/Ark1/tenant/risk");
        assert_true(t->id > 0);
        assert_true(t->created_usec > 0);
        assert_ptr_equal(manager_find_tenant(&f->m, "risk"), t);
        assert_int_equal(count_rows(f->m.db, "name = 'risk' AND description = 'Risk analytics'"), 1);

        /* The list stays sorted by name whatever the order of creation. */
        assert_int_equal(tenant_create(&f->m, "ops", "", NULL, &e), 0);
        assert_int_equal(tenant_create(&f->m, "zeta-9", "", NULL, &e), 0);
        assert_int_equal(tenant_create(&f->m, "alpha", "", NULL, &e), 0);
        {
                const char *order[] = { "alpha", "ops", "risk", "zeta-9" };
                size_t k = 0;

                LIST_FOREACH(tenants, i, f->m.tenants)
                        assert_string_equal(i->name, order[k++]);
                assert_int_equal(k, 4);
        }
}

static void test_bad_names(void **state) {
        Fixture *f = *state;
        char longname[65];

        memset(longname, 'a', 64);
        longname[64] = 0;
        create_fails(&f->m, "", "", ARK_ERROR_INVALID_ARGUMENT, "Invalid tenant name");
        create_fails(&f->m, "Risk", "", ARK_ERROR_INVALID_ARGUMENT, "'Risk'");
        create_fails(&f->m, "1risk", "", ARK_ERROR_INVALID_ARGUMENT, "must start with a lowercase letter");
        create_fails(&f->m, "../x", "", ARK_ERROR_INVALID_ARGUMENT, "'../x'");
        create_fails(&f->m, "a_b", "", ARK_ERROR_INVALID_ARGUMENT, "'a_b'");
        create_fails(&f->m, longname, "", ARK_ERROR_INVALID_ARGUMENT, "at most 63 characters");
        create_fails(&f->m, "ok", "line\nbreak", ARK_ERROR_INVALID_ARGUMENT, "control characters");
        memset(longname, 'd', 64);
        {
                char desc[258];
                memset(desc, 'd', 257);
                desc[257] = 0;
                create_fails(&f->m, "ok", desc, ARK_ERROR_INVALID_ARGUMENT, "at most 256 characters");
        }
        assert_int_equal(count_list(&f->m), 0);
        assert_int_equal(count_rows(f->m.db, "1"), 0);
}

static void test_duplicate(void **state) {
        Fixture *f = *state;
        sd_bus_error e = SD_BUS_ERROR_NULL;

        assert_int_equal(tenant_create(&f->m, "risk", "first", NULL, &e), 0);
        create_fails(&f->m, "risk", "second", ARK_ERROR_ALREADY_EXISTS, "Tenant 'risk' already exists");
        assert_int_equal(count_rows(f->m.db, "name = 'risk' AND description = 'first'"), 1);
        assert_int_equal(count_list(&f->m), 1);
}

/* The store refuses the write: nothing on the list, nothing in the store, an error to send. */
static void test_store_failure_create(void **state) {
        Fixture *f = *state;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        Tenant *t = NULL;

        assert_int_equal(db_exec(f->m.db,
                                 "CREATE TRIGGER full BEFORE INSERT ON tenants "
                                 "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"),
                         0);
        assert_true(tenant_create(&f->m, "risk", "", &t, &e) < 0);
        assert_null(t);
        assert_true(sd_bus_error_is_set(&e));
        if (!strstr(strempty(e.message), "Failed to store tenant 'risk'"))
                fail_msg("message: %s (%s)", strna(e.message), strna(e.name));
        sd_bus_error_free(&e);
        assert_null(manager_find_tenant(&f->m, "risk"));
        assert_int_equal(count_rows(f->m.db, "1"), 0);

        /* The store takes writes again once the cause is gone. */
        assert_int_equal(db_exec(f->m.db, "DROP TRIGGER full"), 0);
        assert_int_equal(tenant_create(&f->m, "risk", "", &t, &e), 0);
        assert_int_equal(count_rows(f->m.db, "name = 'risk'"), 1);
}

static void test_delete(void **state) {
        Fixture *f = *state;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        Instance vm = { .name = (char *) "risk-vm1", .tenant = (char *) "risk" };
        Tenant *t = NULL;

        assert_int_equal(tenant_create(&f->m, "risk", "", &t, &e), 0);
        assert_int_equal(tenant_create(&f->m, "ops", "", NULL, &e), 0);

        /* Refused while it owns an instance, with the count and its name. */
        LIST_PREPEND(instances, f->m.instances, &vm);
        assert_int_equal(tenant_count_instances(t), 1);
        assert_true(tenant_delete(t, &e) < 0);
        assert_true(sd_bus_error_has_name(&e, ARK_ERROR_IN_USE));
        assert_non_null(strstr(e.message, "still owns 1 instance ('risk-vm1'); delete it first"));
        sd_bus_error_free(&e);
        assert_ptr_equal(manager_find_tenant(&f->m, "risk"), t);
        assert_int_equal(count_rows(f->m.db, "name = 'risk'"), 1);
        LIST_REMOVE(instances, f->m.instances, &vm);

        /* A store that refuses the delete leaves the tenant where it was. */
        assert_int_equal(db_exec(f->m.db,
                                 "CREATE TRIGGER nodel BEFORE DELETE ON tenants "
                                 "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"),
                         0);
        assert_true(tenant_delete(t, &e) < 0);
        assert_true(sd_bus_error_is_set(&e));
        sd_bus_error_free(&e);
        assert_ptr_equal(manager_find_tenant(&f->m, "risk"), t);
        assert_int_equal(count_rows(f->m.db, "name = 'risk'"), 1);
        assert_int_equal(db_exec(f->m.db, "DROP TRIGGER nodel"), 0);

        assert_int_equal(tenant_delete(t, &e), 0);
        assert_null(manager_find_tenant(&f->m, "risk"));
        assert_int_equal(count_rows(f->m.db, "name = 'risk'"), 0);
        assert_int_equal(count_rows(f->m.db, "name = 'ops'"), 1);
}

static void test_description(void **state) {
        Fixture *f = *state;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        Tenant *t = NULL;

        assert_int_equal(tenant_create(&f->m, "risk", "old", &t, &e), 0);
        assert_int_equal(tenant_set_description(t, "new words", &e), 0);
        assert_string_equal(t->description, "new words");
        assert_int_equal(count_rows(f->m.db, "name = 'risk' AND description = 'new words'"), 1);

        assert_true(tenant_set_description(t, "tab\there", &e) < 0);
        assert_true(sd_bus_error_has_name(&e, ARK_ERROR_INVALID_ARGUMENT));
        sd_bus_error_free(&e);
        assert_string_equal(t->description, "new words");

        assert_int_equal(db_exec(f->m.db,
                                 "CREATE TRIGGER noupd BEFORE UPDATE ON tenants "
                                 "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"),
                         0);
        assert_true(tenant_set_description(t, "lost", &e) < 0);
        sd_bus_error_free(&e);
        assert_string_equal(t->description, "new words");
        assert_int_equal(count_rows(f->m.db, "description = 'new words'"), 1);
}

/* What tenant_create() wrote is what arkd loads after a restart: the owners build their objects
 * from the store's records (tenant_load_all(), instance_load_all()), sorted as the lists are kept. */
static void test_reload(void **state) {
        Fixture *f = *state;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        Manager again = {};
        Tenant *a, *b;
        Instance *x;

        assert_int_equal(tenant_create(&f->m, "risk", "Risk analytics, 2nd floor", NULL, &e), 0);
        assert_int_equal(tenant_create(&f->m, "ops", "", NULL, &e), 0);
        assert_int_equal(tenant_create(&f->m, "lab-2", "GPU lab", NULL, &e), 0);
        again.db = f->m.db;
        assert_int_equal(tenant_load_all(&again), 0);
        assert_int_equal(count_list(&again), 3);
        LIST_FOREACH(tenants, t, f->m.tenants) {
                a = t;
                b = manager_find_tenant(&again, t->name);
                assert_non_null(b);
                assert_string_equal(a->description, b->description);
                assert_int_equal(a->id, b->id);
                assert_string_equal(a->uuid, b->uuid);
                assert_int_equal(strlen(b->uuid), 36);
                assert_true(a->created_usec == b->created_usec);
                assert_string_equal(a->path, b->path);
                assert_ptr_equal(b->manager, &again);
        }
        /* Sorted by name, linked both ways. */
        b = again.tenants;
        assert_null(b->tenants_prev);
        assert_string_equal(b->name, "lab-2");
        assert_string_equal(b->tenants_next->name, "ops");
        assert_ptr_equal(b->tenants_next->tenants_prev, b);
        assert_string_equal(b->tenants_next->tenants_next->name, "risk");
        assert_null(b->tenants_next->tenants_next->tenants_next);

        /* Instances: the spec from the record, runtime state unknown until the hypervisor says. */
        {
                StoreInstance web_risk = {
                        .uuid = "A1B2C3D4-E5F6-4A7B-8C9D-0E1F2A3B4C5D",
                        .name = "web",
                        .tenant = "risk",
                        .type = "vm",
                        .vcpus = 4,
                        .memory_bytes = UINT64_C(8) << 30,
                        .disk_path = "/var/lib/ark/disks/a.qcow2",
                        .disk_owned = true,
                        .cmdline = "",
                        .desired_running = true,
                        .uefi = true,
                        .preemptible = true,
                        .created_usec = 42,
                };
                StoreInstance web_lab = {
                        .uuid = "0b9e2c4d-1f3a-4e5b-8c7d-6a5b4c3d2e1f",
                        .name = "web",
                        .tenant = "lab-2",
                        .domain_name = "lab-2.web",
                        .type = "vm",
                        .vcpus = 1,
                        .memory_bytes = 1,
                };
                StoreInstance api = {
                        .uuid = "11111111-2222-4333-8444-555555555555",
                        .name = "api",
                        .tenant = "ops",
                        .type = "vm",
                        .vcpus = 1,
                        .memory_bytes = 1,
                };

                assert_int_equal(store_instance_insert(f->m.db, &web_risk), 0);
                assert_int_equal(store_instance_insert(f->m.db, &web_lab), 0);
                assert_int_equal(store_instance_insert(f->m.db, &api), 0);
                assert_int_equal(store_instance_set_preempted(f->m.db, web_risk.id, 1, "NVIDIA L40S"), 0);
                assert_int_equal(instance_load_all(&again), 0);

                x = again.instances;
                assert_null(x->instances_prev);
                assert_string_equal(x->name, "api");
                x = x->instances_next;
                assert_string_equal(x->name, "web");
                assert_string_equal(x->tenant, "lab-2");
                assert_string_equal(x->domain_name, "lab-2.web");
                assert_null(x->disk_path);
                assert_null(x->cmdline);
                x = x->instances_next;
                assert_null(x->instances_next);
                assert_ptr_equal(x->manager, &again);
                assert_int_equal(x->id, web_risk.id);
                assert_string_equal(x->uuid, web_risk.uuid);
                assert_string_equal(x->name, "web");
                assert_string_equal(x->tenant, "risk");
                assert_string_equal(x->domain_name, "web");
                assert_string_equal(x->type, "vm");
                assert_int_equal(x->vcpus, 4);
                assert_int_equal(x->memory_bytes, UINT64_C(8) << 30);
                assert_string_equal(x->disk_path, "/var/lib/ark/disks/a.qcow2");
                assert_true(x->disk_owned);
                assert_string_equal(x->cmdline, "");
                assert_true(x->desired_running);
                assert_true(x->uefi);
                assert_true(x->preemptible);
                assert_int_equal(x->preempted_gpus, 1);
                assert_string_equal(x->preempted_model, "NVIDIA L40S");
                assert_int_equal(x->created_usec, 42);
                assert_int_equal(x->state, INSTANCE_UNKNOWN);
                assert_string_equal(x->path, ARK_BUS_PREFIX_INSTANCE "/risk/web");
                assert_null(x->gpus);
        }
        LIST_FOREACH_SAFE(instances, i, n, again.instances) {
                LIST_REMOVE(instances, again.instances, i);
                instance_free(i);
        }
        free_tenants(&again);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_create, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bad_names, setup, teardown),
                cmocka_unit_test_setup_teardown(test_duplicate, setup, teardown),
                cmocka_unit_test_setup_teardown(test_store_failure_create, setup, teardown),
                cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
                cmocka_unit_test_setup_teardown(test_description, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reload, setup, teardown),
        };
        return cmocka_run_group_tests_name("tenant", tests, NULL, NULL);
}

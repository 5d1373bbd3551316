/* Tests for appliance/store and lib/shared/db: the schema and its migrations, tenants and
 * instances written and read back field by field, transactions that roll back, and what is left
 * after arkd is killed with SIGKILL right after a commit or in the middle of a transaction. The
 * store is the source of truth for intent: what it loses, arkd forgets. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "shared/bus-util.h"
#include "shared/db.h"
#include "store.h"

/* 2024-05-01T12:00:00Z */
#define CREATED_USEC UINT64_C(1714564800000000)

/* ------------------------------------------------------------------------------------------ */
/* helpers */

#include "tmpdir.h"

static void open_store(const char *dir, sqlite3 **ret) {
        int r = store_open(dir, ret);

        if (r < 0)
                fail_msg("store_open(%s): %s", dir, strerror(-r));
}

/* Runs a query returning one value; returns it as a newly allocated string ("" for NULL). */
static char *query_text(sqlite3 *db, const char *sql) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        const unsigned char *s;
        char *ret;

        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
                fail_msg("%s: %s", sql, sqlite3_errmsg(db));
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        s = sqlite3_column_text(st, 0);
        ret = strdup(s ? (const char *) s : "");
        assert_non_null(ret);
        return ret;
}

static int64_t query_int(sqlite3 *db, const char *sql) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;

        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
                fail_msg("%s: %s", sql, sqlite3_errmsg(db));
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        return sqlite3_column_int64(st, 0);
}

static bool table_exists(sqlite3 *db, const char *name) {
        _cleanup_free_ char *sql = strprintf("SELECT count(*) FROM sqlite_master"
                                             " WHERE type = 'table' AND name = '%s'",
                                             name);

        assert_non_null(sql);
        return query_int(db, sql) > 0;
}

static int64_t count_tenants(sqlite3 *db) {
        return query_int(db, "SELECT count(*) FROM tenants");
}

static bool tenant_exists(sqlite3 *db, const char *name) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;

        assert_int_equal(sqlite3_prepare_v2(db, "SELECT 1 FROM tenants WHERE name = ?", -1, &st, NULL),
                         SQLITE_OK);
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        return sqlite3_step(st) == SQLITE_ROW;
}

static void assert_integrity(sqlite3 *db) {
        _cleanup_free_ char *ok = query_text(db, "PRAGMA integrity_check");
        _cleanup_free_ char *fk = query_text(db, "SELECT count(*) FROM pragma_foreign_key_check");

        assert_string_equal(ok, "ok");
        assert_string_equal(fk, "0");
}

/* Inserts a tenant with a new UUID (outside any explicit transaction: autocommit, unless the caller
 * opened one). Returns what store_tenant_insert() returned; the row id in *ret_id. */
static int insert_tenant(sqlite3 *db, const char *name, const char *description, int64_t *ret_id) {
        char uuid[37];
        StoreTenant t = {
                .uuid = uuid, .name = name, .description = description, .created_usec = CREATED_USEC
        };
        int r;

        assert_int_equal(ark_uuid_generate(uuid), 0);
        r = store_tenant_insert(db, &t);
        if (r >= 0 && ret_id)
                *ret_id = t.id;
        return r;
}

/* Inserts a tenant that must go in. Returns its row id. */
static int64_t add_tenant(sqlite3 *db, const char *name, const char *description) {
        int64_t id = 0;
        int r;

        r = insert_tenant(db, name, description, &id);
        if (r < 0)
                fail_msg("store_tenant_insert(%s): %s (%s)", name, strerror(-r), db_errmsg(db));
        assert_true(id > 0);
        return id;
}

/* An instance record with the required fields and nothing optional. */
static StoreInstance instance_record(const char *name, const char *tenant, const char *uuid) {
        assert_int_equal(strlen(uuid), 36);
        return (StoreInstance) {
                .uuid = uuid,
                .name = name,
                .tenant = tenant,
                .type = "vm",
                .vcpus = 2,
                .memory_bytes = UINT64_C(1) << 30,
                .created_usec = CREATED_USEC,
        };
}

/* What a foreach must hand out, in order: each record checked field by field in the callback
 * (its strings live only until the callback returns). */
typedef struct Expected {
        const void *records;
        size_t n, seen;
} Expected;

static void assert_string_or_null(const char *got, const char *want) {
        if (!want)
                assert_null(got);
        else {
                assert_non_null(got);
                assert_string_equal(got, want);
        }
}

static int expect_tenant(const StoreTenant *t, void *userdata) {
        Expected *e = userdata;
        const StoreTenant *want;

        assert_true(e->seen < e->n);
        want = (const StoreTenant *) e->records + e->seen++;
        if (want->id > 0)
                assert_int_equal(t->id, want->id);
        else
                assert_true(t->id > 0);
        assert_string_equal(t->name, want->name);
        assert_string_equal(t->description, want->description);
        if (want->uuid)
                assert_string_equal(t->uuid, want->uuid);
        assert_int_equal(strlen(t->uuid), 36);
        assert_int_equal(t->created_usec, want->created_usec);
        return 0;
}

static int expect_instance(const StoreInstance *i, void *userdata) {
        Expected *e = userdata;
        const StoreInstance *want;

        assert_true(e->seen < e->n);
        want = (const StoreInstance *) e->records + e->seen++;
        assert_int_equal(i->id, want->id);
        assert_string_equal(i->uuid, want->uuid);
        assert_string_equal(i->name, want->name);
        assert_string_equal(i->tenant, want->tenant);
        assert_string_equal(i->domain_name, want->domain_name ?: want->name);
        assert_string_equal(i->type, want->type);
        assert_int_equal(i->vcpus, want->vcpus);
        assert_int_equal(i->memory_bytes, want->memory_bytes);
        assert_string_or_null(i->disk_path, want->disk_path);
        assert_int_equal(i->disk_bytes, want->disk_bytes);
        assert_int_equal(i->disk_owned, want->disk_owned);
        assert_string_or_null(i->image, want->image);
        assert_string_or_null(i->kernel, want->kernel);
        assert_string_or_null(i->initrd, want->initrd);
        assert_string_or_null(i->cmdline, want->cmdline);
        assert_string_or_null(i->console_log, want->console_log);
        assert_int_equal(i->desired_running, want->desired_running);
        assert_int_equal(i->uefi, want->uefi);
        assert_int_equal(i->created_usec, want->created_usec);
        assert_int_equal(i->preemptible, want->preemptible);
        assert_int_equal(i->preempted_gpus, want->preempted_gpus);
        assert_string_or_null(i->preempted_model, want->preempted_model);
        assert_int_equal(i->model_id, want->model_id);
        assert_int_equal(i->container_image_id, want->container_image_id);
        assert_string_or_null(i->args_json, want->args_json);
        assert_string_or_null(i->env_json, want->env_json);
        return 0;
}

static int stop_at_first(const StoreTenant *t, void *userdata) {
        (*(unsigned *) userdata)++;
        return -ECANCELED;
}

static void file_bytes(const char *path, char **ret, size_t *ret_size) {
        assert_int_equal(read_full_file(path, ret, ret_size), 0);
}

/* ------------------------------------------------------------------------------------------ */
/* Opening and migrating */

static void test_open_creates_schema(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_free_ char *file = join(d, STORE_FILE), *mode = NULL;
        _cleanup_(db_closep) sqlite3 *db = NULL;

        open_store(d, &db);
        assert_true(file_exists(file));
        assert_true(store_schema_latest() >= 1);
        assert_int_equal(db_schema_version(db), store_schema_latest());
        assert_int_equal(query_int(db, "PRAGMA user_version"), store_schema_latest());
        mode = query_text(db, "PRAGMA journal_mode");
        assert_string_equal(mode, "wal");
        /* Durable commits (the contract in db.h) and enforced references. */
        assert_int_equal(query_int(db, "PRAGMA synchronous"), 2 /* FULL */);
        assert_int_equal(query_int(db, "PRAGMA foreign_keys"), 1);
        assert_true(table_exists(db, "tenants"));
        assert_true(table_exists(db, "instances"));
        assert_int_equal(count_tenants(db), 0);
        assert_integrity(db);
}

static void test_reopen(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        sqlite3 *db = NULL;

        open_store(d, &db);
        add_tenant(db, "risk", "Risk analytics");
        db = db_close(db);

        /* Opening again runs no migration twice and keeps the data. */
        for (int k = 0; k < 3; k++) {
                open_store(d, &db);
                assert_int_equal(db_schema_version(db), store_schema_latest());
                assert_int_equal(count_tenants(db), 1);
                assert_true(tenant_exists(db, "risk"));
                db = db_close(db);
        }
}

static void test_open_missing_dir(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_free_ char *missing = join(d, "no/such/dir");
        sqlite3 *db = (sqlite3 *) 0x1;

        /* store_open() does not create the state directory (the manager does). */
        assert_true(store_open(missing, &db) < 0);
        assert_ptr_equal(db, (sqlite3 *) 0x1);
        assert_false(file_exists(missing));
}

/* A store written by a newer arkd (after a rollback to the other A/B slot) must be refused and
 * left exactly as it was, so the newer arkd finds it again. */
static void newer_schema(const char *journal_mode) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_free_ char *file = join(d, STORE_FILE), *wal = NULL, *before = NULL, *after = NULL,
                            *sql = NULL;
        size_t n_before, n_after;
        sqlite3 *raw = NULL, *db = (sqlite3 *) 0x1;
        int future = store_schema_latest() + 1;

        assert_int_equal(sqlite3_open(file, &raw), SQLITE_OK);
        sql = strprintf("PRAGMA journal_mode = %s;"
                        "CREATE TABLE tenants (id INTEGER PRIMARY KEY, name TEXT, quota INTEGER);"
                        "INSERT INTO tenants (name, quota) VALUES ('from-the-future', 8);"
                        "PRAGMA user_version = %d;",
                        journal_mode, future);
        assert_non_null(sql);
        assert_int_equal(sqlite3_exec(raw, sql, NULL, NULL, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_close(raw), SQLITE_OK);
        file_bytes(file, &before, &n_before);

        assert_int_equal(store_open(d, &db), -EPROTO);
        assert_ptr_equal(db, (sqlite3 *) 0x1);

        file_bytes(file, &after, &n_after);
        assert_int_equal(n_after, n_before);
        if (memcmp(before, after, n_before) != 0)
                fail_msg("store_open() refused a newer (%s-mode) store but modified ark.db", journal_mode);
        wal = join(d, STORE_FILE "-wal");
        assert_false(file_exists(wal));

        assert_int_equal(sqlite3_open(file, &raw), SQLITE_OK);
        assert_int_equal(query_int(raw, "PRAGMA user_version"), future);
        assert_false(table_exists(raw, "instances"));
        assert_int_equal(query_int(raw, "SELECT quota FROM tenants WHERE name = 'from-the-future'"), 8);
        sqlite3_close(raw);
}

static void test_newer_schema_wal(void **state) {
        newer_schema("wal");
}

static void test_newer_schema_rollback_journal(void **state) {
        newer_schema("delete");
}

static void test_not_a_database(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_free_ char *file = join(d, STORE_FILE), *after = NULL;
        static const char junk[] = "this is not an SQLite database, but somebody's notes\n";
        sqlite3 *db = (sqlite3 *) 0x1;
        int r;

        assert_int_equal(write_string_file(file, junk, WRITE_CREATE), 0);
        r = store_open(d, &db);
        assert_int_equal(r, -EBADMSG);
        assert_ptr_equal(db, (sqlite3 *) 0x1);
        file_bytes(file, &after, NULL);
        assert_string_equal(after, junk);
}

static void test_store_migrates_v0(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_free_ char *file = join(d, STORE_FILE);
        _cleanup_(db_closep) sqlite3 *db = NULL;
        sqlite3 *raw = NULL;

        /* A version-0 file: an SQLite database nobody has migrated (user_version 0), with some
         * unrelated content that must survive. */
        assert_int_equal(sqlite3_open(file, &raw), SQLITE_OK);
        assert_int_equal(sqlite3_exec(raw, "CREATE TABLE notes (t TEXT); INSERT INTO notes VALUES ('keep');",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
        assert_int_equal(query_int(raw, "PRAGMA user_version"), 0);
        sqlite3_close(raw);

        open_store(d, &db);
        assert_int_equal(db_schema_version(db), store_schema_latest());
        assert_true(table_exists(db, "tenants"));
        assert_true(table_exists(db, "instances"));
        assert_int_equal(query_int(db, "SELECT count(*) FROM notes WHERE t = 'keep'"), 1);
}

/* db_open() with migrations of our own: each step runs once, in order, in its own transaction. */
static const DbMigration steps[] = {
        { "one",
          "CREATE TABLE log (step INTEGER);"
          "INSERT INTO log VALUES (1);"
          "CREATE TABLE a (x INTEGER); INSERT INTO a VALUES (41);" },
        { "two",
          "INSERT INTO log VALUES (2);"
          "CREATE TABLE b (y INTEGER); INSERT INTO b SELECT x + 1 FROM a;" },
        { "three",
          "INSERT INTO log VALUES (3);"
          "ALTER TABLE b ADD COLUMN z TEXT NOT NULL DEFAULT 'three';" },
};

#define STEPS_RUN "SELECT group_concat(step, ',') FROM (SELECT step FROM log ORDER BY rowid)"

static void test_migrations_in_order(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_free_ char *f0 = join(d, "v0.db"), *f1 = join(d, "v1.db"), *steps_all = NULL,
                            *steps_later = NULL, *z = NULL;
        sqlite3 *db = NULL;

        /* From nothing to the latest. */
        assert_int_equal(db_open(f0, steps, ELEMENTSOF(steps), &db), 0);
        assert_int_equal(db_schema_version(db), 3);
        steps_all = query_text(db, STEPS_RUN);
        assert_string_equal(steps_all, "1,2,3");
        assert_int_equal(query_int(db, "SELECT y FROM b"), 42);
        z = query_text(db, "SELECT z FROM b");
        assert_string_equal(z, "three");
        db = db_close(db);

        /* A file at version 1 gets steps 2 and 3 only. */
        assert_int_equal(db_open(f1, steps, 1, &db), 0);
        assert_int_equal(db_schema_version(db), 1);
        assert_false(table_exists(db, "b"));
        db = db_close(db);
        assert_int_equal(db_open(f1, steps, ELEMENTSOF(steps), &db), 0);
        assert_int_equal(db_schema_version(db), 3);
        steps_later = query_text(db, STEPS_RUN);
        assert_string_equal(steps_later, "1,2,3");
        assert_int_equal(query_int(db, "SELECT count(*) FROM a"), 1);
        db = db_close(db);

        /* A binary that knows fewer steps than the file has refuses it. */
        db = (sqlite3 *) 0x1;
        assert_int_equal(db_open(f1, steps, 2, &db), -EPROTO);
        assert_ptr_equal(db, (sqlite3 *) 0x1);
}

/* db_set_precommit(): what the function writes commits with the transaction; when it fails, the
 * transaction does not commit and its error is returned; it is per connection and can be removed. */
static int precommit_log(sqlite3 *db, void *userdata) {
        int *calls = userdata;

        (*calls)++;
        if (*calls == 2)
                return -ENOSPC;
        return db_exec(db, "INSERT INTO log VALUES (100)");
}

static void test_precommit(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_free_ char *f = join(d, "pre.db");
        _cleanup_(db_closep) sqlite3 *db = NULL, *other = NULL;
        int calls = 0;

        assert_int_equal(db_open(f, steps, ELEMENTSOF(steps), &db), 0);
        assert_int_equal(db_open(f, steps, ELEMENTSOF(steps), &other), 0);
        assert_int_equal(db_set_precommit(db, precommit_log, &calls), 0);

        {
                _cleanup_transaction_ DbTransaction tx = {};

                assert_int_equal(db_transaction_begin(db, &tx), 0);
                assert_int_equal(db_exec(db, "INSERT INTO log VALUES (10)"), 0);
                assert_int_equal(db_transaction_commit(&tx), 0);
        }
        assert_int_equal(calls, 1);
        assert_int_equal(query_int(other, "SELECT count(*) FROM log WHERE step IN (10, 100)"), 2);

        /* It fails: nothing of the transaction is there. */
        {
                _cleanup_transaction_ DbTransaction tx = {};

                assert_int_equal(db_transaction_begin(db, &tx), 0);
                assert_int_equal(db_exec(db, "INSERT INTO log VALUES (20)"), 0);
                assert_int_equal(db_transaction_commit(&tx), -ENOSPC);
        }
        assert_int_equal(calls, 2);
        assert_int_equal(query_int(other, "SELECT count(*) FROM log WHERE step = 20"), 0);

        /* Another connection's commits do not call it; removed, it is not called either. */
        assert_int_equal(db_begin(other), 0);
        assert_int_equal(db_exec(other, "INSERT INTO log VALUES (30)"), 0);
        assert_int_equal(db_commit(other), 0);
        assert_int_equal(calls, 2);
        /* No transaction open (SQLite rolled one back by itself): the function writes nothing on
         * its own, and the COMMIT fails. */
        assert_int_not_equal(db_commit(db), 0);
        assert_int_equal(calls, 2);
        assert_int_equal(query_int(other, "SELECT count(*) FROM log WHERE step = 100"), 1);

        assert_int_equal(db_set_precommit(db, NULL, NULL), 0);
        assert_int_equal(db_begin(db), 0);
        assert_int_equal(db_exec(db, "INSERT INTO log VALUES (40)"), 0);
        assert_int_equal(db_commit(db), 0);
        assert_int_equal(calls, 2);
        assert_int_equal(query_int(other, "SELECT count(*) FROM log WHERE step = 100"), 1);
}

static void test_migration_failure(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_free_ char *f = join(d, "fail.db");
        static const DbMigration bad[] = {
                { "one", "CREATE TABLE a (x INTEGER); INSERT INTO a VALUES (1);" },
                { "two, broken halfway",
                  "CREATE TABLE c (x INTEGER); INSERT INTO a VALUES (2);"
                  "INSERT INTO no_such_table VALUES (1);" },
        };
        sqlite3 *db = (sqlite3 *) 0x1;

        assert_true(db_open(f, bad, ELEMENTSOF(bad), &db) < 0);
        assert_ptr_equal(db, (sqlite3 *) 0x1);

        /* Step one stayed; nothing of step two did, and the version says so. */
        assert_int_equal(db_open(f, bad, 1, &db), 0);
        assert_int_equal(db_schema_version(db), 1);
        assert_false(table_exists(db, "c"));
        assert_int_equal(query_int(db, "SELECT count(*) FROM a"), 1);
        db = db_close(db);
}

/* ------------------------------------------------------------------------------------------ */
/* Tenants */

static void test_tenants(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_(db_closep) sqlite3 *db = NULL;
        char uuid[37];
        int64_t risk, ops, risk2, id;
        unsigned calls = 0;

        open_store(d, &db);
        risk = add_tenant(db, "risk", "Risk analytics");
        ops = add_tenant(db, "ops", "");
        assert_true(ops != risk);

        /* A taken name or UUID: -EEXIST, nothing written, no id. */
        id = 777;
        assert_int_equal(insert_tenant(db, "risk", "another", &id), -EEXIST);
        assert_int_equal(id, 777);
        assert_int_equal(ark_uuid_generate(uuid), 0);
        {
                StoreTenant t = { .uuid = uuid, .name = "lab-1", .description = "" };

                assert_int_equal(store_tenant_insert(db, &t), 0);
                t.name = "lab-3";
                assert_int_equal(store_tenant_insert(db, &t), -EEXIST);
                assert_int_equal(store_tenant_delete(db, t.id), 0);
                /* The owner gives the UUID; the store refuses a record without one. */
                t.uuid = NULL;
                assert_int_equal(store_tenant_insert(db, &t), -EINVAL);
                t.uuid = "not-a-uuid";
                assert_int_equal(store_tenant_insert(db, &t), -EINVAL);
        }
        assert_int_equal(count_tenants(db), 2);

        /* Description changes, for existing tenants only. */
        assert_int_equal(store_tenant_update_description(db, risk, "Risk & \"compliance\" team"), 0);
        assert_int_equal(store_tenant_update_description(db, risk + ops + 100, "x"), -ENOENT);
        assert_int_equal(store_tenant_delete(db, risk + ops + 100), -ENOENT);

        /* A tenant that owns an instance cannot be deleted. */
        {
                StoreInstance i =
                        instance_record("risk-vm1", "risk", "6f1f5a52-6c5e-4d6a-9a57-3b0e8d3c1a01");

                assert_int_equal(store_instance_insert(db, &i), 0);
                assert_int_equal(store_tenant_delete(db, risk), -EBUSY);
                assert_true(tenant_exists(db, "risk"));
                assert_int_equal(store_instance_delete(db, i.id), 0);
                assert_int_equal(store_tenant_delete(db, risk), 0);
                assert_false(tenant_exists(db, "risk"));
                assert_int_equal(store_tenant_delete(db, risk), -ENOENT);
        }

        /* The name is free again: a new row, not the old one. */
        risk2 = add_tenant(db, "risk", "second life");
        assert_true(risk2 > risk);

        /* Handed out by name, descending (an owner prepending to its list gets it sorted), every field. */
        add_tenant(db, "lab-2", "GPU lab");
        {
                const StoreTenant want[] = {
                        { .id = risk2,
                          .name = "risk",
                          .description = "second life",
                          .created_usec = CREATED_USEC },
                        { .id = ops, .name = "ops", .description = "", .created_usec = CREATED_USEC },
                        { .name = "lab-2", .description = "GPU lab", .created_usec = CREATED_USEC },
                };
                Expected e = { want, ELEMENTSOF(want), 0 };

                assert_int_equal(store_tenant_foreach(db, expect_tenant, &e), 0);
                assert_int_equal(e.seen, ELEMENTSOF(want));
        }
        /* A callback's error stops the walk and is returned. */
        assert_int_equal(store_tenant_foreach(db, stop_at_first, &calls), -ECANCELED);
        assert_int_equal(calls, 1);
        assert_integrity(db);
}

static void test_tenant_description_roundtrip(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_(db_closep) sqlite3 *db = NULL;
        static const char description[] = "O'Brien's \"team\"; DROP TABLE tenants; -- caf\xc3\xa9";
        char uuid[37];
        StoreTenant t = {
                .uuid = uuid, .name = "risk", .description = "first", .created_usec = CREATED_USEC
        };

        open_store(d, &db);
        assert_int_equal(ark_uuid_generate(uuid), 0);
        assert_int_equal(store_tenant_insert(db, &t), 0);
        /* Quotes, markup, SQL and UTF-8 are data. */
        assert_int_equal(store_tenant_update_description(db, t.id, description), 0);
        t.description = description;
        {
                Expected e = { &t, 1, 0 };

                assert_int_equal(store_tenant_foreach(db, expect_tenant, &e), 0);
                assert_int_equal(e.seen, 1);
        }
}

/* ------------------------------------------------------------------------------------------ */
/* Instances */

static void test_instance_unknown_tenant(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_(db_closep) sqlite3 *db = NULL;
        StoreInstance i = instance_record("orphan", "nobody", "0b9e2c4d-1f3a-4e5b-8c7d-6a5b4c3d2e1f");

        open_store(d, &db);
        i.id = 99;
        assert_int_equal(store_instance_insert(db, &i), -ENOENT);
        assert_int_equal(i.id, 99);
        assert_int_equal(query_int(db, "SELECT count(*) FROM instances"), 0);
}

static void test_instance_roundtrip(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_(db_closep) sqlite3 *db = NULL;
        StoreInstance full, bare, same_name, same_uuid;

        open_store(d, &db);
        add_tenant(db, "risk", "");
        add_tenant(db, "lab-2", "");

        /* Every field set, with characters that need care. */
        full = instance_record("web-1", "risk", "A1B2C3D4-E5F6-4A7B-8C9D-0E1F2A3B4C5D");
        full.vcpus = 64;
        full.memory_bytes = UINT64_C(2) << 40;
        full.disk_path = "/var/lib/ark/disks/web-1 'x'.qcow2";
        full.disk_bytes = (UINT64_C(500) << 30) + 1;
        full.disk_owned = true;
        full.image = "/var/lib/ark/images/debian-12.qcow2";
        full.kernel = "/var/lib/ark/boot/vmlinuz";
        full.initrd = "/var/lib/ark/boot/initrd.img";
        full.cmdline = "console=ttyS0 ark.note=\"a&b<c>\" quiet";
        full.console_log = "/var/log/ark/console/web-1.log";
        full.desired_running = true;
        full.uefi = true;
        full.created_usec = CREATED_USEC + 123456;
        full.preemptible = true;
        /* What a reclaim took is set on its own (store_instance_set_preempted), not on insert. */
        full.preempted_gpus = 7;
        full.preempted_model = "ignored";
        full.type = "container";
        full.args_json = "[\"sh\", \"-c\", \"echo 'a\\nb'\"]";
        full.env_json = "[\"A=1\", \"B=\u00e9\"]";
        assert_int_equal(store_instance_insert(db, &full), 0);
        assert_true(full.id > 0);

        /* Nothing optional set. */
        bare = instance_record("api", "lab-2", "0b9e2c4d-1f3a-4e5b-8c7d-6a5b4c3d2e1f");
        assert_int_equal(store_instance_insert(db, &bare), 0);
        assert_true(bare.id > full.id);

        /* Names are unique within a tenant, UUIDs and domain names on the host. */
        {
                StoreInstance dup = instance_record("web-1", "risk", "22222222-2222-4333-8444-555555555555");

                assert_int_equal(store_instance_insert(db, &dup), -EEXIST);
        }
        same_name = instance_record("web-1", "lab-2", "11111111-2222-4333-8444-555555555555");
        assert_int_equal(store_instance_insert(db, &same_name), -EEXIST); /* its domain's name is taken */
        same_name.domain_name = "lab-2.web-1";
        assert_int_equal(store_instance_insert(db, &same_name), 0);
        assert_int_equal(store_instance_delete(db, same_name.id), 0);
        same_uuid = instance_record("web-2", "lab-2", "A1B2C3D4-E5F6-4A7B-8C9D-0E1F2A3B4C5D");
        assert_int_equal(store_instance_insert(db, &same_uuid), -EEXIST);

        /* Desired state is stored... */
        assert_int_equal(store_instance_set_desired(db, bare.id, true), 0);
        assert_int_equal(store_instance_set_desired(db, bare.id, false), 0);
        assert_int_equal(store_instance_set_desired(db, same_name.id /* deleted */, true), -ENOENT);
        /* ...and the firmware... */
        assert_int_equal(store_instance_set_firmware(db, bare.id, true), 0);
        assert_int_equal(store_instance_set_firmware(db, bare.id, false), 0);
        assert_int_equal(store_instance_set_firmware(db, same_name.id, true), -ENOENT);
        /* ...and what a reclaim took. */
        assert_int_equal(store_instance_set_preempted(db, full.id, 2, "NVIDIA H100 SXM5 80GB"), 0);
        assert_int_equal(store_instance_set_preempted(db, bare.id, 1, "NVIDIA L40S"), 0);
        assert_int_equal(store_instance_set_preempted(db, bare.id, 0, "NVIDIA L40S"),
                         0); /* back: no model kept */
        assert_int_equal(store_instance_set_preempted(db, same_name.id, 1, NULL), -ENOENT);

        /* ...and every field comes back as it went in, by name descending: "web-1", then "api". */
        full.preempted_gpus = 2;
        full.preempted_model = "NVIDIA H100 SXM5 80GB";
        {
                const StoreInstance want[] = { full, bare };
                Expected e = { want, ELEMENTSOF(want), 0 };

                assert_int_equal(store_instance_foreach(db, expect_instance, &e), 0);
                assert_int_equal(e.seen, ELEMENTSOF(want));
        }

        assert_int_equal(store_instance_delete(db, full.id), 0);
        assert_int_equal(store_instance_delete(db, full.id), -ENOENT);
        assert_int_equal(query_int(db, "SELECT count(*) FROM instances"), 1);
        assert_integrity(db);
}

/* Same names in two tenants: by name, then tenant, descending. A row the store cannot hand out as
 * a record (here a UUID cut short behind its back) is -EBADMSG, not a half-filled record. */
static void test_instance_order_and_bad_rows(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_(db_closep) sqlite3 *db = NULL;
        StoreInstance a, b;

        open_store(d, &db);
        add_tenant(db, "risk", "");
        add_tenant(db, "lab-2", "");
        a = instance_record("web", "lab-2", "11111111-2222-4333-8444-555555555555");
        a.domain_name = "lab-2.web";
        b = instance_record("web", "risk", "22222222-2222-4333-8444-555555555555");
        assert_int_equal(store_instance_insert(db, &a), 0);
        assert_int_equal(store_instance_insert(db, &b), 0);
        {
                const StoreInstance want[] = { b, a };
                Expected e = { want, ELEMENTSOF(want), 0 };

                assert_int_equal(store_instance_foreach(db, expect_instance, &e), 0);
                assert_int_equal(e.seen, 2);
        }
        assert_int_equal(
                db_exec(db, "UPDATE instances SET uuid = '1234' WHERE name = 'web' AND domain_name = 'web'"),
                0);
        {
                Expected e = { NULL, 0, 0 };

                assert_int_equal(store_instance_foreach(db, expect_instance, &e), -EBADMSG);
        }
}

/* ------------------------------------------------------------------------------------------ */
/* Transactions */

static int insert_in_transaction(sqlite3 *db, const char *name, bool commit) {
        _cleanup_transaction_ DbTransaction tx = {};
        int r;

        r = db_transaction_begin(db, &tx);
        if (r < 0)
                return r;
        r = insert_tenant(db, name, "", NULL);
        if (r < 0)
                return r;
        /* Visible inside the transaction. */
        assert_true(tenant_exists(db, name));
        if (commit)
                return db_transaction_commit(&tx);
        return 0; /* the guard rolls back */
}

static void test_transactions(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        sqlite3 *db = NULL;

        open_store(d, &db);
        assert_int_equal(insert_in_transaction(db, "kept", true), 0);
        assert_int_equal(insert_in_transaction(db, "dropped", false), 0);
        assert_true(tenant_exists(db, "kept"));
        assert_false(tenant_exists(db, "dropped"));
        assert_true(sqlite3_get_autocommit(db)); /* no transaction left open */

        /* A failing statement: the guard rolls back what came before it. */
        {
                _cleanup_transaction_ DbTransaction tx = {};

                assert_int_equal(db_transaction_begin(db, &tx), 0);
                assert_int_equal(insert_tenant(db, "first-half", "", NULL), 0);
                assert_int_equal(insert_tenant(db, "kept", "", NULL), -EEXIST);
        }
        assert_false(tenant_exists(db, "first-half"));
        assert_true(sqlite3_get_autocommit(db));

        /* And a new transaction works after a rollback. */
        assert_int_equal(insert_in_transaction(db, "after", true), 0);
        db = db_close(db);

        open_store(d, &db);
        assert_true(tenant_exists(db, "kept"));
        assert_true(tenant_exists(db, "after"));
        assert_false(tenant_exists(db, "dropped"));
        assert_int_equal(count_tenants(db), 2);
        db = db_close(db);
}

/* ------------------------------------------------------------------------------------------ */
/* kill -9 */

#define N_COMMITS 40

static void write_int(int fd, int v) {
        if (write(fd, &v, sizeof(v)) != (ssize_t) sizeof(v))
                _exit(3);
}

/* Child: commits one tenant per transaction, reports each index after its commit returned, and
 * is killed right after the last one, before it could close anything. */
static _noreturn_ void child_commit_then_die(const char *dir, int fd) {
        sqlite3 *db = NULL;

        if (store_open(dir, &db) < 0)
                _exit(2);
        for (int k = 0; k < N_COMMITS; k++) {
                DbTransaction tx = {};
                char name[32], uuid[37];
                StoreTenant t = {
                        .uuid = uuid, .name = name, .description = "committed", .created_usec = CREATED_USEC
                };

                snprintf(name, sizeof(name), "t-%d", k);
                if (ark_uuid_generate(uuid) < 0 || db_transaction_begin(db, &tx) < 0 ||
                    store_tenant_insert(db, &t) < 0 || db_transaction_commit(&tx) < 0)
                        _exit(4);
                write_int(fd, k);
        }
        raise(SIGKILL);
        _exit(5);
}

static size_t read_reports(int fd, int *reported, size_t max) {
        size_t n = 0;
        int v;

        while (read(fd, &v, sizeof(v)) == (ssize_t) sizeof(v)) {
                assert_true(n < max);
                reported[n++] = v;
        }
        return n;
}

static void assert_killed(pid_t pid) {
        int status;

        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
                fail_msg("child did not die by SIGKILL (status 0x%x): it failed before the kill", status);
}

static void test_kill_after_commit(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_free_ char *wal = join(d, STORE_FILE "-wal");
        int p[2], reported[N_COMMITS + 1];
        size_t n;
        sqlite3 *db = NULL;
        pid_t pid;
        struct stat st;

        assert_int_equal(pipe(p), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                close(p[0]);
                child_commit_then_die(d, p[1]);
        }
        close(p[1]);
        n = read_reports(p[0], reported, ELEMENTSOF(reported));
        close(p[0]);
        assert_killed(pid);
        assert_int_equal(n, N_COMMITS);

        /* The commits sit in the write-ahead log, nobody checkpointed them: reopening must
         * recover them from there. */
        assert_int_equal(stat(wal, &st), 0);
        assert_true(st.st_size > 0);

        open_store(d, &db);
        for (size_t k = 0; k < n; k++) {
                char name[32];

                assert_int_equal(reported[k], (int) k);
                snprintf(name, sizeof(name), "t-%d", reported[k]);
                if (!tenant_exists(db, name))
                        fail_msg("tenant '%s' was committed before kill -9 and is gone", name);
        }
        assert_int_equal(count_tenants(db), N_COMMITS);
        assert_integrity(db);
        /* Writable again: the dead writer's lock is gone. */
        add_tenant(db, "after-crash", "");
        db = db_close(db);
}

/* Child: commits a few tenants, then opens a transaction large enough that SQLite spills its
 * uncommitted pages into the WAL, reports -1 and waits to be killed. */
static _noreturn_ void child_die_in_transaction(const char *dir, int fd) {
        static char description[201];
        DbTransaction tx = {};
        sqlite3 *db = NULL;

        if (store_open(dir, &db) < 0)
                _exit(2);
        for (int k = 0; k < 5; k++) {
                char name[32], uuid[37];
                StoreTenant t = { .uuid = uuid, .name = name, .description = "" };

                snprintf(name, sizeof(name), "c-%d", k);
                if (ark_uuid_generate(uuid) < 0 || db_transaction_begin(db, &tx) < 0 ||
                    store_tenant_insert(db, &t) < 0 || db_transaction_commit(&tx) < 0)
                        _exit(4);
                write_int(fd, k);
        }

        memset(description, 'p', 200);
        if (db_exec(db, "PRAGMA cache_size = 8") < 0 || db_transaction_begin(db, &tx) < 0)
                _exit(6);
        for (int k = 0; k < 5000; k++) {
                char name[32], uuid[37];
                StoreTenant t = { .uuid = uuid, .name = name, .description = description };

                snprintf(name, sizeof(name), "p-%d", k);
                if (ark_uuid_generate(uuid) < 0 || store_tenant_insert(db, &t) < 0)
                        _exit(7);
        }
        write_int(fd, -1);
        for (;;)
                pause();
}

static void test_kill_in_transaction(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_free_ char *wal = join(d, STORE_FILE "-wal");
        int p[2], reported[16];
        size_t n;
        sqlite3 *db = NULL;
        pid_t pid;
        struct stat st;

        assert_int_equal(pipe(p), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                close(p[0]);
                child_die_in_transaction(d, p[1]);
        }
        close(p[1]);
        /* Read until the child says its transaction is open, then kill it. */
        n = 0;
        for (;;) {
                int v;

                if (read(p[0], &v, sizeof(v)) != (ssize_t) sizeof(v))
                        break;
                if (v == -1) {
                        assert_int_equal(kill(pid, SIGKILL), 0);
                        break;
                }
                assert_true(n < ELEMENTSOF(reported));
                reported[n++] = v;
        }
        close(p[0]);
        assert_killed(pid);
        assert_int_equal(n, 5);

        /* The open transaction did reach the WAL (uncommitted frames): more than the five small
         * commits could have written. */
        assert_int_equal(stat(wal, &st), 0);
        assert_true(st.st_size > 256 * 1024);

        open_store(d, &db);
        for (size_t k = 0; k < n; k++) {
                char name[32];

                snprintf(name, sizeof(name), "c-%d", reported[k]);
                assert_true(tenant_exists(db, name));
        }
        assert_int_equal(query_int(db, "SELECT count(*) FROM tenants WHERE name LIKE 'p-%'"), 0);
        assert_int_equal(count_tenants(db), 5);
        assert_integrity(db);
        add_tenant(db, "after-crash", "");
        db = db_close(db);

        /* And once more from a clean open: still consistent. */
        open_store(d, &db);
        assert_int_equal(count_tenants(db), 6);
        assert_integrity(db);
        db = db_close(db);
}

/* ------------------------------------------------------------------------------------------ */
/* Claims and holds */

typedef struct Seen {
        char text[512];
} Seen;

static int collect_claim(const char *address, int64_t instance_id, void *userdata) {
        Seen *s = userdata;
        size_t l = strlen(s->text);

        snprintf(s->text + l, sizeof(s->text) - l, "%s=%" PRIi64 " ", address, instance_id);
        return 0;
}

static int collect_hold(const char *address, const char *st, const char *reason, uint64_t usec,
                        void *userdata) {
        Seen *s = userdata;
        size_t l = strlen(s->text);

        snprintf(s->text + l, sizeof(s->text) - l, "%s=%s(%s) ", address, st, reason);
        return 0;
}

static void test_claims(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_(db_closep) sqlite3 *db = NULL;
        StoreInstance vm_a = instance_record("vm-a", "risk", "6f1f5a52-6c5e-4d6a-9a57-3b0e8d3c1a01");
        StoreInstance vm_b = instance_record("vm-b", "risk", "6f1f5a52-6c5e-4d6a-9a57-3b0e8d3c1a02");
        StoreInstance *a = &vm_a, *b = &vm_b;
        Seen seen = {};

        open_store(d, &db);
        add_tenant(db, "risk", "");
        assert_int_equal(store_instance_insert(db, a), 0);
        assert_int_equal(store_instance_insert(db, b), 0);

        assert_int_equal(store_claim_insert(db, "0000:2a:00.0", a->id, CREATED_USEC), 0);
        assert_int_equal(store_claim_insert(db, "0000:18:00.0", a->id, CREATED_USEC), 0);
        /* A GPU is never claimed twice, not even by the instance that holds it. */
        assert_int_equal(store_claim_insert(db, "0000:18:00.0", b->id, CREATED_USEC), -EEXIST);
        assert_int_equal(store_claim_insert(db, "0000:18:00.0", a->id, CREATED_USEC), -EEXIST);
        /* A claim needs an instance. */
        assert_int_equal(store_claim_insert(db, "0000:3a:00.0", a->id + b->id + 100, CREATED_USEC), -ENOENT);
        assert_int_equal(store_claim_insert(db, "0000:3a:00.0", b->id, CREATED_USEC), 0);

        assert_int_equal(store_claim_foreach(db, collect_claim, &seen), 0);
        {
                _cleanup_free_ char *want = strprintf("0000:18:00.0=%" PRIi64 " 0000:2a:00.0=%" PRIi64
                                                      " 0000:3a:00.0=%" PRIi64 " ",
                                                      a->id, a->id, b->id);
                assert_string_equal(seen.text, want);
        }

        /* A claim taken in a transaction that rolls back was never there. */
        {
                _cleanup_transaction_ DbTransaction tx = {};
                assert_int_equal(db_transaction_begin(db, &tx), 0);
                assert_int_equal(store_claim_insert(db, "0000:5d:00.0", b->id, CREATED_USEC), 0);
        }
        assert_int_equal(query_int(db, "SELECT count(*) FROM claims WHERE address = '0000:5d:00.0'"), 0);

        assert_int_equal(store_claim_delete(db, "0000:2a:00.0"), 0);
        assert_int_equal(store_claim_delete(db, "0000:2a:00.0"), -ENOENT);
        /* Deleting an instance releases what it held, in the same statement. */
        assert_int_equal(store_instance_delete(db, a->id), 0);
        assert_int_equal(query_int(db, "SELECT count(*) FROM claims"), 1);
        seen = (Seen) {};
        assert_int_equal(store_claim_foreach(db, collect_claim, &seen), 0);
        assert_non_null(strstr(seen.text, "0000:3a:00.0="));
        assert_null(strstr(seen.text, "0000:18:00.0"));
}

static void test_holds(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_(db_closep) sqlite3 *db = NULL;
        Seen seen = {};

        open_store(d, &db);
        assert_int_equal(
                store_hold_set(db, "0000:db:00.0", "reserved", "host inference service", CREATED_USEC), 0);
        assert_int_equal(store_hold_set(db, "0000:18:00.0", "quarantined", "", CREATED_USEC), 0);
        /* Setting again replaces the hold. */
        assert_int_equal(
                store_hold_set(db, "0000:18:00.0", "quarantined", "Xid 79 three times", CREATED_USEC), 0);
        assert_int_equal(store_hold_set(db, "0000:2a:00.0", "broken", "", CREATED_USEC), -EINVAL);
        assert_int_equal(store_hold_foreach(db, collect_hold, &seen), 0);
        assert_string_equal(seen.text,
                            "0000:18:00.0=quarantined(Xid 79 three times) "
                            "0000:db:00.0=reserved(host inference service) ");
        assert_int_equal(store_hold_clear(db, "0000:18:00.0"), 0);
        assert_int_equal(store_hold_clear(db, "0000:18:00.0"), -ENOENT);
        assert_int_equal(query_int(db, "SELECT count(*) FROM accelerator_holds"), 1);
}

/* A store of schema 1 (before claims) is migrated forward with everything in it kept. */
static void test_migrate_v1_to_claims(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_(db_closep) sqlite3 *db = NULL;
        StoreInstance a = instance_record("vm-a", "risk", "6f1f5a52-6c5e-4d6a-9a57-3b0e8d3c1a01");

        open_store(d, &db);
        add_tenant(db, "risk", "kept");
        assert_int_equal(store_instance_insert(db, &a), 0);
        /* Back to what schema 1 had. */
        /* The instances table as schema 1 made it (a column with a foreign key cannot be dropped:
         * the table is made again). */
        if (db_exec(db,
                    "PRAGMA foreign_keys = OFF; DROP TRIGGER claims_not_partitioned; DROP TABLE mig_slices; "
                    "DROP TABLE partitions; "
                    "DROP TABLE idmaps; DROP TABLE forwards; DROP TABLE nics; "
                    "DROP TABLE networks; "
                    "DROP INDEX tenants_uuid; ALTER TABLE tenants DROP COLUMN uuid; "
                    "DROP TABLE tenant_quotas; DROP TABLE audit_log; "
                    "DROP TABLE usage_intervals; DROP TABLE tenant_members; DROP TABLE claims; "
                    "DROP TABLE accelerator_holds; "
                    "CREATE TABLE v1 ("
                    "  id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, name TEXT NOT NULL UNIQUE,"
                    "  tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE RESTRICT,"
                    "  type TEXT NOT NULL, vcpus INTEGER NOT NULL, memory_bytes INTEGER NOT NULL,"
                    "  disk_path TEXT, disk_bytes INTEGER NOT NULL DEFAULT 0,"
                    "  disk_owned INTEGER NOT NULL DEFAULT 0, image TEXT, kernel TEXT, initrd TEXT,"
                    "  cmdline TEXT, console_log TEXT, desired_state TEXT NOT NULL CHECK (desired_state"
                    "  IN ('running', 'stopped')), created_usec INTEGER NOT NULL);"
                    "INSERT INTO v1 SELECT id, uuid, name, tenant_id, type, vcpus, memory_bytes, "
                    "disk_path, disk_bytes, disk_owned, image, kernel, initrd, cmdline, console_log, "
                    "desired_state, created_usec FROM instances; DROP TABLE instances; "
                    "DROP TABLE bundles; ALTER TABLE v1 RENAME TO instances; "
                    "CREATE INDEX instances_tenant ON instances(tenant_id); PRAGMA user_version = 1; "
                    "PRAGMA foreign_keys = ON") < 0)
                fail_msg("back to schema 1: %s", sqlite3_errmsg(db));
        db = db_close(db);

        open_store(d, &db);
        assert_int_equal(db_schema_version(db), store_schema_latest());
        assert_true(table_exists(db, "claims"));
        assert_true(table_exists(db, "accelerator_holds"));
        assert_int_equal(query_int(db, "SELECT count(*) FROM instances WHERE name = 'vm-a'"), 1);
        assert_int_equal(query_int(db, "SELECT count(*) FROM tenants WHERE description = 'kept'"), 1);
        assert_int_equal(store_claim_insert(db, "0000:18:00.0", a.id, CREATED_USEC), 0);
}

/* The tenant identity migration: tenants get a UUID each, and usage recorded before it belongs to
 * the tenant of its name that existed when it started, or to none (an earlier tenant of that name,
 * since deleted). */
static void test_migrate_tenant_uuid(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_(db_closep) sqlite3 *db = NULL;
        _cleanup_free_ char *sql = NULL;

        open_store(d, &db);
        add_tenant(db, "risk", "");
        /* Back to the schema before, 10 steps (the one after it runs again harmlessly; the tenant
         * networks, containers, container image bundles and GPU partitions after that are made
         * again): no UUIDs; one interval of an earlier 'risk', one of this one. */
        sql = strprintf(
                "DROP TRIGGER claims_not_partitioned; DROP TABLE mig_slices; DROP TABLE partitions; "
                "ALTER TABLE usage_intervals DROP COLUMN gpu_milli; DROP TABLE idmaps; DROP TABLE forwards; DROP TABLE nics; DROP TABLE networks; "
                "DROP INDEX usage_intervals_tenant_uuid; ALTER TABLE usage_intervals DROP COLUMN tenant_uuid; "
                "DROP INDEX tenants_uuid; ALTER TABLE tenants DROP COLUMN uuid; "
                "INSERT INTO usage_intervals (instance_uuid, instance, tenant, start_usec, end_usec, "
                "last_alive_usec, vcpus, memory_bytes, gpus, gpu_memory_bytes, gpu_models) VALUES "
                "('u1', 'old-vm', 'risk', %" PRIu64 ", %" PRIu64 ", 0, 1, 1, 0, 0, ''), "
                "('u2', 'new-vm', 'risk', %" PRIu64 ", NULL, 0, 1, 1, 0, 0, ''); PRAGMA user_version = %d",
                CREATED_USEC - 1000, CREATED_USEC - 500, CREATED_USEC + 1000, 10);
        assert_non_null(sql);
        if (db_exec(db, sql) < 0)
                fail_msg("back one schema: %s", sqlite3_errmsg(db));
        db = db_close(db);

        open_store(d, &db);
        assert_int_equal(db_schema_version(db), store_schema_latest());
        assert_int_equal(query_int(db, "SELECT count(*) FROM tenants WHERE length(uuid) = 36"), 1);
        assert_int_equal(query_int(db,
                                   "SELECT count(*) FROM usage_intervals WHERE instance = 'old-vm' AND "
                                   "tenant_uuid IS NULL"),
                         1);
        assert_int_equal(
                query_int(db,
                          "SELECT count(*) FROM usage_intervals u JOIN tenants t ON u.tenant_uuid = "
                          "t.uuid WHERE u.instance = 'new-vm' AND t.name = 'risk'"),
                1);
}

static int collect_bundle(const StoreBundle *b, void *userdata) {
        Seen *s = userdata;
        size_t l = strlen(s->text);

        snprintf(s->text + l, sizeof(s->text) - l, "%s:%s:%s:%s:%u ", b->kind, b->tenant ? b->tenant : "-",
                 b->name, b->version, b->files);
        return 0;
}

/* Bundles: shared and per tenant, one row per kind, tenant, name and version; a tenant that owns
 * one cannot be deleted under it. */
static void test_bundles(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_(db_closep) sqlite3 *db = NULL;
        int64_t t;
        StoreBundle b = { .kind = "model",
                          .name = "qwen",
                          .version = "1",
                          .key_id = "0123456789abcdef",
                          .sha256 = "00",
                          .size_bytes = 10,
                          .files = 2,
                          .directory = "/s/model/@shared/qwen/1",
                          .manifest = "{}",
                          .imported_usec = CREATED_USEC };
        Seen seen = {};

        open_store(d, &db);
        t = add_tenant(db, "risk", "");
        assert_int_equal(store_bundle_insert(db, &b), 0);
        assert_true(b.id > 0);
        b.directory = "/s/model/@shared/qwen/1-again";
        assert_int_equal(store_bundle_insert(db, &b), -EEXIST); /* shared qwen 1 again */
        b.tenant = "risk";
        b.directory = "/s/model/risk/qwen/1";
        assert_int_equal(store_bundle_insert(db, &b), 0);
        b.tenant = "nobody";
        b.directory = "/s/model/nobody/qwen/1";
        assert_int_equal(store_bundle_insert(db, &b), -ENOENT);
        assert_int_equal(store_bundle_foreach(db, collect_bundle, &seen), 0);
        assert_string_equal(seen.text, "model:-:qwen:1:2 model:risk:qwen:1:2 ");
        assert_int_not_equal(store_tenant_delete(db, t), 0); /* it owns a bundle */
        assert_int_equal(store_bundle_delete(db, b.id), 0);
        assert_int_equal(store_bundle_delete(db, b.id), -ENOENT);
}

static int collect_network(const StoreNetwork *n, void *userdata) {
        Seen *s = userdata;
        size_t l = strlen(s->text);

        snprintf(s->text + l, sizeof(s->text) - l, "%s/%s:%s:%s:%s:%u:%u:%s ", n->tenant, n->name, n->mode,
                 n->subnet4, n->subnet6 ?: "-", n->vlan_id, n->segment, n->bridge);
        return 0;
}

static int collect_nic(const StoreNic *n, void *userdata) {
        Seen *s = userdata;
        size_t l = strlen(s->text);

        snprintf(s->text + l, sizeof(s->text) - l, "%u:%s:%s:%s ", n->position, n->mac, n->ip4, n->ifname);
        return 0;
}

static int collect_forward(const StoreForward *f, void *userdata) {
        Seen *s = userdata;
        size_t l = strlen(s->text);

        snprintf(s->text + l, sizeof(s->text) - l, "%s:%u->%u ", f->proto, f->port, f->to_port);
        return 0;
}

/* Tenant networks, their NICs and forwards: names per tenant, one segment and bridge each, one
 * address per NIC on a network; a network with NICs stays; an instance takes its NICs and their
 * forwards with it; a tenant its networks. */
static void test_networks(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_(db_closep) sqlite3 *db = NULL;
        StoreNetwork lab = { .uuid = "6a7e1c52-0a43-4f0e-8a53-2d1f6b8d9c01",
                             .name = "lab",
                             .tenant = "risk",
                             .mode = "nat",
                             .subnet4 = "10.20.0.0/24",
                             .subnet6 = "fd12:3456:789a::/64",
                             .segment = 1,
                             .mtu = 1500,
                             .bridge = "arkn000001",
                             .mac = "52:54:00:00:00:01",
                             .created_usec = CREATED_USEC };
        StoreNetwork other = lab;
        StoreInstance vm = instance_record("vm1", "risk", "0e5a3c1d-2b4f-4a6e-9c8d-7f1e2d3c4b5a");
        StoreNic nic = {
                .position = 0, .mac = "52:54:00:aa:bb:01", .ip4 = "10.20.0.2", .ifname = "arkt0001"
        };
        StoreForward fw = { .proto = "tcp", .port = 8443, .to_port = 443, .created_usec = CREATED_USEC };
        int64_t risk;
        Seen seen = {};

        open_store(d, &db);
        risk = add_tenant(db, "risk", "");
        (void) add_tenant(db, "ops", "");
        assert_int_equal(store_network_insert(db, &lab), 0);
        assert_true(lab.id > 0);

        /* The same name in another tenant, with another segment and bridge: fine. Taken ones: not. */
        other.uuid = "6a7e1c52-0a43-4f0e-8a53-2d1f6b8d9c02";
        other.tenant = "ops";
        other.mode = "vlan";
        other.subnet6 = NULL;
        other.vlan_id = 42;
        other.uplink = "eth1";
        assert_int_equal(store_network_insert(db, &other), -EEXIST); /* segment 1 */
        other.segment = 2;
        assert_int_equal(store_network_insert(db, &other), -EEXIST); /* bridge arkn000001 */
        other.bridge = "arkn000002";
        assert_int_equal(store_network_insert(db, &other), 0);
        other.uuid = "6a7e1c52-0a43-4f0e-8a53-2d1f6b8d9c03";
        other.segment = 3;
        other.bridge = "arkn000003";
        assert_int_equal(store_network_insert(db, &other), -EEXIST); /* ops/lab again */
        other.tenant = "nobody";
        other.name = "x";
        assert_int_equal(store_network_insert(db, &other), -ENOENT);
        other.uuid = "short";
        assert_int_equal(store_network_insert(db, &other), -EINVAL);
        assert_int_equal(store_network_foreach(db, collect_network, &seen), 0);
        assert_string_equal(seen.text,
                            "risk/lab:nat:10.20.0.0/24:fd12:3456:789a::/64:0:1:arkn000001 "
                            "ops/lab:vlan:10.20.0.0/24:-:42:2:arkn000002 ");

        /* NICs and forwards. */
        assert_int_equal(store_instance_insert(db, &vm), 0);
        nic.instance_id = vm.id;
        nic.network_id = lab.id;
        assert_int_equal(store_nic_insert(db, &nic), 0);
        assert_int_equal(store_nic_insert(db, &nic), -EEXIST); /* the same MAC, address, name */
        nic.network_id = lab.id + 100;
        nic.mac = "52:54:00:aa:bb:02";
        nic.ifname = "arkt0002";
        assert_int_equal(store_nic_insert(db, &nic), -ENOENT); /* no such network */
        nic.network_id = lab.id;
        assert_int_equal(store_nic_insert(db, &nic), -EEXIST); /* vm1 is on lab already */
        nic.network_id = other.id;
        nic.ip4 = "10.20.0.2"; /* the same address on another network: fine */
        nic.position = 1;
        assert_int_equal(store_nic_insert(db, &nic), 0);
        memset(&seen, 0, sizeof(seen));
        assert_int_equal(store_nic_foreach(db, collect_nic, &seen), 0);
        assert_string_equal(
                seen.text, "0:52:54:00:aa:bb:01:10.20.0.2:arkt0001 1:52:54:00:aa:bb:02:10.20.0.2:arkt0002 ");

        fw.nic_id = nic.id;
        assert_int_equal(store_forward_insert(db, &fw), 0);
        assert_int_equal(store_forward_insert(db, &fw), -EEXIST); /* tcp 8443 is forwarded */
        fw.proto = "udp";
        assert_int_equal(store_forward_insert(db, &fw), 0);
        fw.proto = "sctp";
        fw.port = 1;
        assert_int_not_equal(store_forward_insert(db, &fw), 0);
        fw.proto = "tcp";
        fw.nic_id = nic.id + 100;
        assert_int_equal(store_forward_insert(db, &fw), -ENOENT);
        memset(&seen, 0, sizeof(seen));
        assert_int_equal(store_forward_foreach(db, collect_forward, &seen), 0);
        assert_string_equal(seen.text, "tcp:8443->443 udp:8443->443 ");

        /* Networks with NICs stay; the instance takes its NICs and their forwards. */
        assert_int_equal(store_network_delete(db, lab.id), -EBUSY);
        assert_int_equal(store_instance_delete(db, vm.id), 0);
        assert_int_equal(query_int(db, "SELECT count(*) FROM nics"), 0);
        assert_int_equal(query_int(db, "SELECT count(*) FROM forwards"), 0);
        assert_int_equal(store_network_delete(db, lab.id), 0);
        assert_int_equal(store_network_delete(db, lab.id), -ENOENT);
        /* A tenant takes its networks. */
        assert_int_equal(store_tenant_delete(db, risk), 0);
        assert_int_equal(query_int(db, "SELECT count(*) FROM networks"), 1);
        assert_integrity(db);
}

static int collect_member(const char *tenant, const char *kind, uint32_t id, const char *name,
                          void *userdata) {
        Seen *s = userdata;
        size_t l = strlen(s->text);

        snprintf(s->text + l, sizeof(s->text) - l, "%s:%s:%u:%s ", tenant, kind, id, name);
        return 0;
}

/* Each tenant gets its own range of host IDs for its containers, above every range handed out
 * before, also those of deleted tenants: a range is never handed out twice. */
static void test_idmaps(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_(db_closep) sqlite3 *db = NULL;
        uint32_t base = 0, count = 0, b2 = 0, b3 = 0;

        open_store(d, &db);
        add_tenant(db, "risk", "");
        add_tenant(db, "lab", "");
        add_tenant(db, "ops", "");
        assert_int_equal(store_idmap_get(db, "risk", &base, &count), -ENOENT);
        assert_int_equal(store_idmap_allocate(db, "nobody", 100000, 65536, UINT32_MAX, 1, &base), -ENOENT);
        assert_int_equal(store_idmap_allocate(db, "risk", 100000, 65536, UINT32_MAX, 1, &base), 0);
        assert_int_equal(base, 100000);
        assert_int_equal(store_idmap_allocate(db, "risk", 100000, 65536, UINT32_MAX, 1, &b2), -EEXIST);
        assert_int_equal(store_idmap_allocate(db, "lab", 100000, 65536, UINT32_MAX, 1, &b2), 0);
        assert_int_equal(b2, 100000 + 65536);
        assert_int_equal(store_idmap_get(db, "lab", &b3, &count), 0);
        assert_int_equal(b3, b2);
        assert_int_equal(count, 65536);
        /* lab goes: its range stays spent. */
        assert_int_equal(sqlite3_exec(db, "DELETE FROM tenants WHERE name = 'lab'", NULL, NULL, NULL),
                         SQLITE_OK);
        assert_int_equal(query_int(db, "SELECT count(*) FROM idmaps WHERE tenant_id IS NULL"), 1);
        assert_int_equal(store_idmap_allocate(db, "ops", 100000, 65536, UINT32_MAX, 1, &b3), 0);
        assert_int_equal(b3, 100000 + 2 * 65536);
        add_tenant(db, "lab", "");
        assert_int_equal(store_idmap_allocate(db, "lab", 100000, 65536, 100000 + 4 * 65536 - 1, 1, &b3),
                         -ENOSPC);
        assert_int_equal(store_idmap_allocate(db, "lab", 100000, 65536, 100000 + 4 * 65536, 1, &b3), 0);
        assert_int_equal(b3, 100000 + 3 * 65536);
        assert_integrity(db);
}

static void test_members(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_(db_closep) sqlite3 *db = NULL;
        int64_t risk, ops;
        Seen seen = {};

        open_store(d, &db);
        risk = add_tenant(db, "risk", "");
        ops = add_tenant(db, "ops", "");

        assert_int_equal(store_member_insert(db, risk, "user", 1001, "alice", CREATED_USEC), 0);
        assert_int_equal(store_member_insert(db, risk, "group", 2000, "risk-team", CREATED_USEC), 0);
        assert_int_equal(store_member_insert(db, ops, "user", 1001, "alice", CREATED_USEC), 0);
        assert_int_equal(store_member_insert(db, risk, "user", 1001, "alice", CREATED_USEC), -EEXIST);
        assert_int_equal(store_member_insert(db, risk, "role", 1, "x", CREATED_USEC), -EINVAL);
        assert_int_equal(store_member_insert(db, risk + ops + 10, "user", 1, "x", CREATED_USEC), -ENOENT);
        assert_int_equal(store_member_foreach(db, collect_member, &seen), 0);
        assert_string_equal(seen.text,
                            "ops:user:1001:alice risk:user:1001:alice risk:group:2000:risk-team ");

        assert_int_equal(store_member_delete(db, risk, "user", 1001), 0);
        assert_int_equal(store_member_delete(db, risk, "user", 1001), -ENOENT);
        /* Deleting a tenant deletes its members. */
        assert_int_equal(store_tenant_delete(db, risk), 0);
        assert_int_equal(query_int(db, "SELECT count(*) FROM tenant_members"), 1);
}

/* Another connection holding the write lock past the busy timeout is a lock timeout, -ETIMEDOUT,
 * for every write: not "no such tenant" (a missing parent, the foreign key's -ENOENT) and not
 * "still owns instances" (issue 16: both were -EBUSY, which the store turned into those). */
static void test_lock_timeout(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_(db_closep) sqlite3 *holder = NULL, *db = NULL;
        int64_t risk;
        Quota q = { .resource = QUOTA_GPUS, .limit = 2 };

        open_store(d, &db);
        open_store(d, &holder);
        risk = add_tenant(db, "risk", "");
        assert_int_equal(sqlite3_busy_timeout(db, 50), SQLITE_OK);

        assert_int_equal(db_exec(holder, "BEGIN EXCLUSIVE"), 0);
        assert_int_equal(store_member_insert(db, risk, "user", 1001, "alice", CREATED_USEC), -ETIMEDOUT);
        assert_int_equal(store_quota_set(db, risk, &q), -ETIMEDOUT);
        assert_int_equal(store_tenant_delete(db, risk), -ETIMEDOUT);
        assert_int_equal(db_exec(holder, "COMMIT"), 0);

        /* With the lock gone: the same calls do what they say, and a missing tenant is -ENOENT. */
        assert_int_equal(store_member_insert(db, risk, "user", 1001, "alice", CREATED_USEC), 0);
        assert_int_equal(store_quota_set(db, risk, &q), 0);
        assert_int_equal(store_member_insert(db, risk + 10, "user", 1, "x", CREATED_USEC), -ENOENT);
        assert_int_equal(store_quota_set(db, risk + 10, &q), -ENOENT);
        assert_int_equal(store_tenant_delete(db, risk), 0);
}

static int collect_quota(const char *tenant, const Quota *q, void *userdata) {
        Seen *s = userdata;
        size_t l = strlen(s->text);

        snprintf(s->text + l, sizeof(s->text) - l, "%s:%s:%s:%" PRIu64 ":%s ", tenant,
                 quota_resource_to_string(q->resource), q->model, q->guarantee,
                 q->limit == QUOTA_UNLIMITED ? "none" : (q->limit == 4 ? "4" : "other"));
        return 0;
}

/* Quotas: set, replaced on the same resource and model, removed by no guarantee and no limit,
 * refused for a tenant that does not exist, gone with their tenant. */
static void test_quotas(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_(db_closep) sqlite3 *db = NULL;
        int64_t risk;
        Quota q = { .resource = QUOTA_GPUS, .guarantee = 1, .limit = 2 };
        Seen seen = {};

        open_store(d, &db);
        risk = add_tenant(db, "risk", "");
        assert_int_equal(store_quota_set(db, risk, &q), 0);
        q.limit = 4;
        assert_int_equal(store_quota_set(db, risk, &q), 0);
        snprintf(q.model, sizeof(q.model), "H100");
        q.limit = QUOTA_UNLIMITED;
        assert_int_equal(store_quota_set(db, risk, &q), 0);
        assert_int_equal(store_quota_foreach(db, collect_quota, &seen), 0);
        assert_string_equal(seen.text, "risk:gpus::1:4 risk:gpus:H100:1:none ");
        q.guarantee = 0;
        assert_int_equal(store_quota_set(db, risk, &q), 0);
        assert_int_equal(query_int(db, "SELECT count(*) FROM tenant_quotas"), 1);
        q.limit = (uint64_t) INT64_MAX + 1;
        assert_int_equal(store_quota_set(db, risk, &q), -ERANGE);
        q.limit = 4;
        assert_int_equal(store_quota_set(db, risk + 10, &q), -ENOENT);
        assert_int_equal(store_tenant_delete(db, risk), 0);
        assert_int_equal(query_int(db, "SELECT count(*) FROM tenant_quotas"), 0);
}

/* ------------------------------------------------------------------------------------------ */
/* GPU partitions */

#define GPU_A "0000:18:00.0"
#define GPU_B "0000:2a:00.0"
#define GPU_C "0000:3a:00.0"
#define GPU_D "0000:5d:00.0"
#define GIB (UINT64_C(1) << 30)

/* Inserts a container of the tenant; returns its row id. */
static int64_t add_container(sqlite3 *db, const char *name, const char *tenant) {
        char uuid[37];
        StoreInstance i;
        int r;

        assert_int_equal(ark_uuid_generate(uuid), 0);
        i = instance_record(name, tenant, uuid);
        i.type = "container";
        r = store_instance_insert(db, &i);
        if (r < 0)
                fail_msg("store_instance_insert(%s): %s (%s)", name, strerror(-r), db_errmsg(db));
        return i.id;
}

/* A MIG instance of `slices` memory slices (10 GiB each) and `compute` compute slices. */
static StorePartition mig_record(int64_t instance_id, const char *address, const char *profile, int start,
                                 unsigned slices, unsigned compute) {
        return (StorePartition) {
                .instance_id = instance_id,
                .address = address,
                .kind = "mig",
                .profile = profile,
                .mig_start = start,
                .mig_slices = slices,
                .compute_slices = compute,
                .milli = compute * 1000 / 7,
                .memory_bytes = slices * 10 * GIB,
                .gi_id = -1,
                .ci_id = -1,
                .created_usec = CREATED_USEC,
        };
}

static StorePartition share_record(int64_t instance_id, const char *address, uint32_t milli,
                                   uint64_t memory) {
        return (StorePartition) {
                .instance_id = instance_id,
                .address = address,
                .kind = "share",
                .mig_start = -1,
                .milli = milli,
                .memory_bytes = memory,
                .gi_id = -1,
                .ci_id = -1,
                .created_usec = CREATED_USEC,
        };
}

/* Expects a refusal as -EEXIST whose message contains `why` (the trigger or key that said no, not
 * another one). */
static void assert_refused(sqlite3 *db, int r, const char *why) {
        if (r != -EEXIST)
                fail_msg("expected -EEXIST (%s), got %d (%s)", why, r, db_errmsg(db));
        if (!strstr(db_errmsg(db), why))
                fail_msg("refused for another reason: \"%s\", expected \"%s\"", db_errmsg(db), why);
}

static int collect_partition(const StorePartition *p, void *userdata) {
        Seen *s = userdata;
        size_t l = strlen(s->text);

        assert_int_equal(p->created_usec, CREATED_USEC);
        snprintf(s->text + l, sizeof(s->text) - l,
                 "%" PRIi64 "@%s:%s:%s:%d+%u:c%u:%" PRIu32 "m:%" PRIu64 "G:%d/%d/%s ", p->instance_id,
                 p->address, p->kind, p->profile ?: "-", p->mig_start, p->mig_slices, p->compute_slices,
                 p->milli, p->memory_bytes / GIB, p->gi_id, p->ci_id, p->uuid ?: "-");
        return 0;
}

static char *slices_of(sqlite3 *db, const char *address) {
        _cleanup_free_ char *sql =
                strprintf("SELECT group_concat(instance_id || ':' || slice, ' ') FROM"
                          " (SELECT * FROM mig_slices WHERE address = '%s' ORDER BY slice)",
                          address);

        assert_non_null(sql);
        return query_text(db, sql);
}

/* MIG instances on one GPU: listed in slice order with their memory slices recorded; one that
 * overlaps another's slices is refused and leaves nothing, also inside a transaction that goes on;
 * the compute slices of a GPU are at most 7; records that are not a MIG instance are -EINVAL. */
static void test_partitions_mig(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_(db_closep) sqlite3 *db = NULL;
        _cleanup_free_ char *want = NULL, *slices = NULL;
        int64_t c[10];
        StorePartition p;
        Seen seen = {};

        open_store(d, &db);
        add_tenant(db, "risk", "");
        for (size_t k = 0; k < ELEMENTSOF(c); k++) {
                char name[16];

                snprintf(name, sizeof(name), "c%zu", k);
                c[k] = add_container(db, name, "risk");
        }

        p = mig_record(c[0], GPU_A, "3g.40gb", 4, 4, 3);
        assert_int_equal(store_partition_insert(db, &p), 0);
        p = mig_record(c[1], GPU_A, "2g.20gb", 0, 2, 2);
        assert_int_equal(store_partition_insert(db, &p), 0);
        assert_int_equal(store_partition_foreach(db, collect_partition, &seen), 0);
        want = strprintf("%" PRIi64 "@" GPU_A ":mig:2g.20gb:0+2:c2:285m:20G:-1/-1/- "
                         "%" PRIi64 "@" GPU_A ":mig:3g.40gb:4+4:c3:428m:40G:-1/-1/- ",
                         c[1], c[0]);
        assert_string_equal(seen.text, want);
        slices = slices_of(db, GPU_A);
        free(want);
        want = strprintf("%" PRIi64 ":0 %" PRIi64 ":1 %" PRIi64 ":4 %" PRIi64 ":5 %" PRIi64 ":6 %" PRIi64
                         ":7",
                         c[1], c[1], c[0], c[0], c[0], c[0]);
        assert_string_equal(slices, want);

        /* Overlapping: refused, nothing of it written. */
        p = mig_record(c[2], GPU_A, "1g.10gb", 5, 1, 1);
        assert_refused(db, store_partition_insert(db, &p), "overlaps");
        p = mig_record(c[2], GPU_A, "2g.20gb", 1, 2, 2);
        assert_refused(db, store_partition_insert(db, &p), "overlaps");
        assert_int_equal(query_int(db, "SELECT count(*) FROM partitions"), 2);
        assert_int_equal(query_int(db, "SELECT count(*) FROM mig_slices"), 6);
        /* The same slices on another GPU are another GPU's. */
        p = mig_record(c[2], GPU_B, "1g.10gb", 5, 1, 1);
        assert_int_equal(store_partition_insert(db, &p), 0);
        /* One partition per instance. */
        p = mig_record(c[2], GPU_A, "1g.10gb", 2, 1, 1);
        assert_refused(db, store_partition_insert(db, &p),
                       "UNIQUE constraint failed: partitions.instance_id");

        /* Inside the caller's transaction: the refused one leaves nothing, the one before it stays. */
        {
                _cleanup_transaction_ DbTransaction tx = {};

                assert_int_equal(db_transaction_begin(db, &tx), 0);
                p = mig_record(c[3], GPU_A, "1g.10gb", 2, 1, 1);
                assert_int_equal(store_partition_insert(db, &p), 0);
                p = mig_record(c[4], GPU_A, "2g.20gb", 2, 2, 2);
                assert_refused(db, store_partition_insert(db, &p), "overlaps");
                assert_int_equal(db_transaction_commit(&tx), 0);
        }
        free(slices);
        slices = slices_of(db, GPU_A);
        free(want);
        want = strprintf("%" PRIi64 ":0 %" PRIi64 ":1 %" PRIi64 ":2 %" PRIi64 ":4 %" PRIi64 ":5 %" PRIi64
                         ":6 %" PRIi64 ":7",
                         c[1], c[1], c[3], c[0], c[0], c[0], c[0]);
        assert_string_equal(slices, want);
        assert_int_equal(query_int(db,
                                   "SELECT count(*) FROM partitions WHERE instance_id IN (SELECT id FROM"
                                   " instances WHERE name = 'c4')"),
                         0);

        /* The slices' primary key holds without the trigger that says it in words, and the
         * partition goes with its refused slices (one statement). */
        assert_int_equal(db_exec(db, "DROP TRIGGER partitions_mig_overlap"), 0);
        p = mig_record(c[4], GPU_A, "2g.20gb", 2, 2, 1); /* 1 compute slice: within the 7 */
        assert_refused(db, store_partition_insert(db, &p), "mig_slices");
        assert_int_equal(query_int(db, "SELECT count(*) FROM partitions WHERE address = '" GPU_A "'"), 3);
        assert_int_equal(query_int(db, "SELECT count(*) FROM mig_slices WHERE address = '" GPU_A "'"), 7);

        /* Compute slices: 3 + 2 + 1 taken on GPU A; slice 3 is free, but a 2-compute instance
         * would make 8 of 7. One of 1 fits. */
        p = mig_record(c[4], GPU_A, "1g.10gb", 3, 1, 2);
        assert_refused(db, store_partition_insert(db, &p), "7 compute slices");
        p = mig_record(c[4], GPU_A, "1g.10gb", 3, 1, 1);
        assert_int_equal(store_partition_insert(db, &p), 0);
        assert_int_equal(
                query_int(db, "SELECT sum(compute_slices) FROM partitions WHERE address = '" GPU_A "'"), 7);

        /* Not a MIG instance nor a share: -EINVAL. */
        p = mig_record(c[5], GPU_C, "1g.10gb", -1, 1, 1); /* MIG without a start */
        assert_int_equal(store_partition_insert(db, &p), -EINVAL);
        p = mig_record(c[5], GPU_C, "3g.40gb", 6, 4, 3); /* beyond slice 7 */
        assert_int_equal(store_partition_insert(db, &p), -EINVAL);
        p = mig_record(c[5], GPU_C, NULL, 0, 1, 1); /* no profile */
        assert_int_equal(store_partition_insert(db, &p), -EINVAL);
        p = mig_record(c[5], GPU_C, "1g.10gb", 0, 1, 0); /* no compute */
        assert_int_equal(store_partition_insert(db, &p), -EINVAL);
        p = mig_record(c[5], GPU_C, "1g.10gb", 0, 1, 1);
        p.kind = "vgpu";
        assert_int_equal(store_partition_insert(db, &p), -EINVAL);
        p = share_record(c[5], GPU_C, 250, 10 * GIB);
        p.profile = "1g.10gb"; /* a share with a profile */
        assert_int_equal(store_partition_insert(db, &p), -EINVAL);
        p = share_record(c[5], GPU_C, 250, 10 * GIB);
        p.milli = 0;
        assert_int_equal(store_partition_insert(db, &p), -EINVAL);
        p.milli = 1001;
        assert_int_equal(store_partition_insert(db, &p), -EINVAL);
        p = share_record(c[5], GPU_C, 250, 0);
        assert_int_equal(store_partition_insert(db, &p), -EINVAL);
        /* No such instance. */
        p = mig_record(c[9] + 100, GPU_C, "1g.10gb", 0, 1, 1);
        assert_int_equal(store_partition_insert(db, &p), -ENOENT);
        assert_int_equal(query_int(db, "SELECT count(*) FROM partitions WHERE address = '" GPU_C "'"), 0);
        assert_integrity(db);
}

/* Seven 1g instances take the 7 compute slices of a GPU: the eighth memory slice stays empty. */
static void test_partitions_mig_compute(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_(db_closep) sqlite3 *db = NULL;
        StorePartition p;
        int64_t id;

        open_store(d, &db);
        add_tenant(db, "risk", "");
        for (int k = 0; k < 7; k++) {
                char name[16];

                snprintf(name, sizeof(name), "c%d", k);
                p = mig_record(add_container(db, name, "risk"), GPU_A, "1g.10gb", k, 1, 1);
                assert_int_equal(store_partition_insert(db, &p), 0);
        }
        id = add_container(db, "c7", "risk");
        p = mig_record(id, GPU_A, "1g.10gb", 7, 1, 1);
        assert_refused(db, store_partition_insert(db, &p), "7 compute slices");
        assert_int_equal(query_int(db, "SELECT count(*) FROM mig_slices"), 7);
        p.address = GPU_B;
        assert_int_equal(store_partition_insert(db, &p), 0);
}

/* A GPU is given whole or in partitions, never both, whichever came first. */
static void test_partitions_claims(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_(db_closep) sqlite3 *db = NULL;
        int64_t vm, c1, c2;
        StorePartition p;

        open_store(d, &db);
        add_tenant(db, "risk", "");
        vm = add_container(db, "vm", "risk");
        c1 = add_container(db, "c1", "risk");
        c2 = add_container(db, "c2", "risk");

        assert_int_equal(store_claim_insert(db, GPU_A, vm, CREATED_USEC), 0);
        p = mig_record(c1, GPU_A, "3g.40gb", 4, 4, 3);
        assert_refused(db, store_partition_insert(db, &p), "given whole");
        p = share_record(c1, GPU_A, 500, 20 * GIB);
        assert_refused(db, store_partition_insert(db, &p), "given whole");
        assert_int_equal(query_int(db, "SELECT count(*) FROM partitions"), 0);
        assert_int_equal(query_int(db, "SELECT count(*) FROM mig_slices"), 0);

        p = mig_record(c1, GPU_B, "3g.40gb", 4, 4, 3);
        assert_int_equal(store_partition_insert(db, &p), 0);
        p = share_record(c2, GPU_C, 500, 20 * GIB);
        assert_int_equal(store_partition_insert(db, &p), 0);
        assert_refused(db, store_claim_insert(db, GPU_B, vm, CREATED_USEC), "carries partitions");
        assert_refused(db, store_claim_insert(db, GPU_C, vm, CREATED_USEC), "carries partitions");
        assert_int_equal(query_int(db, "SELECT count(*) FROM claims"), 1);

        /* Another trigger's refusal (a fault, as test-gpu injects) is not "taken". */
        assert_int_equal(db_exec(db,
                                 "CREATE TRIGGER fault BEFORE INSERT ON claims WHEN NEW.address = '" GPU_D
                                 "' BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"),
                         0);
        assert_int_equal(store_claim_insert(db, GPU_D, vm, CREATED_USEC), -EIO);

        /* Its partitions gone, the GPU can be given whole again. */
        assert_int_equal(store_partition_delete(db, c1), 0);
        assert_int_equal(store_claim_insert(db, GPU_B, vm, CREATED_USEC), 0);
        assert_integrity(db);
}

/* Shares: never beside MIG instances, one tenant's and of one size on a GPU, at most the GPU. */
static void test_partitions_shares(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_(db_closep) sqlite3 *db = NULL;
        _cleanup_free_ char *want = NULL;
        int64_t r[6], o;
        StorePartition p;
        Seen seen = {};

        open_store(d, &db);
        add_tenant(db, "risk", "");
        add_tenant(db, "ops", "");
        for (size_t k = 0; k < ELEMENTSOF(r); k++) {
                char name[16];

                snprintf(name, sizeof(name), "r%zu", k);
                r[k] = add_container(db, name, "risk");
        }
        o = add_container(db, "o", "ops");

        /* A share beside a MIG instance, and a MIG instance beside a share. */
        p = mig_record(r[0], GPU_A, "1g.10gb", 0, 1, 1);
        assert_int_equal(store_partition_insert(db, &p), 0);
        p = share_record(r[1], GPU_A, 250, 10 * GIB);
        assert_refused(db, store_partition_insert(db, &p), "never both");
        p = share_record(r[1], GPU_B, 400, 20 * GIB);
        assert_int_equal(store_partition_insert(db, &p), 0);
        p = mig_record(r[2], GPU_B, "1g.10gb", 0, 1, 1);
        assert_refused(db, store_partition_insert(db, &p), "never both");

        /* Another tenant's share on risk's GPU, even of the same size. */
        p = share_record(o, GPU_B, 400, 20 * GIB);
        assert_refused(db, store_partition_insert(db, &p), "one tenant");
        /* Another size: milli, or memory. */
        p = share_record(r[2], GPU_B, 300, 20 * GIB);
        assert_refused(db, store_partition_insert(db, &p), "one size");
        p = share_record(r[2], GPU_B, 400, 10 * GIB);
        assert_refused(db, store_partition_insert(db, &p), "one size");
        /* 400 + 400 fits, a third does not. */
        p = share_record(r[2], GPU_B, 400, 20 * GIB);
        assert_int_equal(store_partition_insert(db, &p), 0);
        p = share_record(r[3], GPU_B, 400, 20 * GIB);
        assert_refused(db, store_partition_insert(db, &p), "more than the GPU");
        /* Exactly the GPU fits. */
        p = share_record(r[3], GPU_C, 500, 40 * GIB);
        assert_int_equal(store_partition_insert(db, &p), 0);
        p = share_record(r[4], GPU_C, 500, 40 * GIB);
        assert_int_equal(store_partition_insert(db, &p), 0);
        p = share_record(r[5], GPU_C, 500, 40 * GIB);
        assert_refused(db, store_partition_insert(db, &p), "more than the GPU");
        /* ops on a GPU of its own. */
        p = share_record(o, GPU_D, 400, 20 * GIB);
        assert_int_equal(store_partition_insert(db, &p), 0);

        assert_int_equal(query_int(db, "SELECT count(*) FROM mig_slices"), 1);
        assert_int_equal(store_partition_foreach(db, collect_partition, &seen), 0);
        want = strprintf("%" PRIi64 "@" GPU_A ":mig:1g.10gb:0+1:c1:142m:10G:-1/-1/- "
                         "%" PRIi64 "@" GPU_B ":share:-:-1+0:c0:400m:20G:-1/-1/- "
                         "%" PRIi64 "@" GPU_B ":share:-:-1+0:c0:400m:20G:-1/-1/- "
                         "%" PRIi64 "@" GPU_C ":share:-:-1+0:c0:500m:40G:-1/-1/- "
                         "%" PRIi64 "@" GPU_C ":share:-:-1+0:c0:500m:40G:-1/-1/- "
                         "%" PRIi64 "@" GPU_D ":share:-:-1+0:c0:400m:20G:-1/-1/- ",
                         r[0], r[1], r[2], r[3], r[4], o);
        assert_string_equal(seen.text, want);

        /* The last share of risk's gone, another tenant's may come. */
        assert_int_equal(store_partition_delete(db, r[1]), 0);
        assert_int_equal(store_instance_delete(db, r[2]), 0);
        p = share_record(o, GPU_B, 100, 5 * GIB);
        assert_refused(db, store_partition_insert(db, &p),
                       "UNIQUE constraint failed: partitions.instance_id");
        assert_int_equal(store_partition_delete(db, o), 0);
        assert_int_equal(store_partition_insert(db, &p), 0);
        assert_integrity(db);
}

static int count_then_stop(const StorePartition *p, void *userdata) {
        (*(unsigned *) userdata)++;
        return -ECANCELED;
}

/* What NVML made is recorded and cleared; a partition does not move; it goes with its instance. */
static void test_partitions_nvml_delete(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_(db_closep) sqlite3 *db = NULL;
        _cleanup_free_ char *want = NULL;
        int64_t c1, c2, c3;
        StorePartition p;
        unsigned calls = 0;
        Seen seen = {};

        open_store(d, &db);
        add_tenant(db, "risk", "");
        c1 = add_container(db, "c1", "risk");
        c2 = add_container(db, "c2", "risk");
        c3 = add_container(db, "c3", "risk");

        p = mig_record(c1, GPU_A, "3g.40gb", 4, 4, 3);
        assert_int_equal(store_partition_insert(db, &p), 0);
        p = mig_record(c2, GPU_A, "3g.40gb", 0, 4, 3);
        p.gi_id = 1;
        p.ci_id = 0;
        p.uuid = "MIG-0b6c1e3a-5d0f-5b8e-9d3c-6a1f2e4d5c7b";
        assert_int_equal(store_partition_insert(db, &p), 0);
        assert_int_equal(store_partition_set_nvml(db, c1, 2, 0, "MIG-7f3e2d1c-0b9a-5f8e-8d7c-6b5a4f3e2d1c"),
                         0);
        assert_int_equal(store_partition_set_nvml(db, c3, 2, 0, "MIG-x"), -ENOENT);
        assert_int_equal(store_partition_foreach(db, collect_partition, &seen), 0);
        want = strprintf("%" PRIi64 "@" GPU_A
                         ":mig:3g.40gb:0+4:c3:428m:40G:1/0/MIG-0b6c1e3a-5d0f-5b8e-9d3c-6a1f2e4d5c7b "
                         "%" PRIi64 "@" GPU_A
                         ":mig:3g.40gb:4+4:c3:428m:40G:2/0/MIG-7f3e2d1c-0b9a-5f8e-8d7c-6b5a4f3e2d1c ",
                         c2, c1);
        assert_string_equal(seen.text, want);

        /* After a reboot: cleared. */
        assert_int_equal(store_partition_set_nvml(db, c1, -1, -1, NULL), 0);
        assert_int_equal(store_partition_set_nvml(db, c2, -1, -1, NULL), 0);
        seen = (Seen) {};
        assert_int_equal(store_partition_foreach(db, collect_partition, &seen), 0);
        free(want);
        want = strprintf("%" PRIi64 "@" GPU_A ":mig:3g.40gb:0+4:c3:428m:40G:-1/-1/- "
                         "%" PRIi64 "@" GPU_A ":mig:3g.40gb:4+4:c3:428m:40G:-1/-1/- ",
                         c2, c1);
        assert_string_equal(seen.text, want);
        assert_int_equal(query_int(db,
                                   "SELECT count(*) FROM partitions WHERE gi_id IS NULL AND ci_id IS NULL"
                                   " AND uuid IS NULL"),
                         2);

        /* A callback's negative result stops the walk and is returned. */
        assert_int_equal(store_partition_foreach(db, count_then_stop, &calls), -ECANCELED);
        assert_int_equal(calls, 1);

        /* Placement does not change under the slices. */
        assert_int_not_equal(db_exec(db, "UPDATE partitions SET address = '" GPU_B "'"), 0);
        assert_non_null(strstr(db_errmsg(db), "does not move"));
        assert_int_not_equal(db_exec(db, "UPDATE mig_slices SET slice = slice"), 0);
        assert_int_equal(query_int(db, "SELECT count(*) FROM partitions WHERE address = '" GPU_A "'"), 2);

        /* Deleting the partition takes its slices, and the instance stays. */
        assert_int_equal(store_partition_delete(db, c1), 0);
        assert_int_equal(store_partition_delete(db, c1), -ENOENT);
        assert_int_equal(query_int(db, "SELECT count(*) FROM mig_slices"), 4);
        assert_int_equal(query_int(db, "SELECT count(*) FROM mig_slices WHERE slice >= 4"), 0);
        assert_int_equal(query_int(db, "SELECT count(*) FROM instances"), 3);
        /* Deleting the instance takes its partition and slices. */
        assert_int_equal(store_instance_delete(db, c2), 0);
        assert_int_equal(query_int(db, "SELECT count(*) FROM partitions"), 0);
        assert_int_equal(query_int(db, "SELECT count(*) FROM mig_slices"), 0);
        /* The slices are free again. */
        p = mig_record(c3, GPU_A, "7g.80gb", 0, 8, 7);
        assert_int_equal(store_partition_insert(db, &p), 0);
        assert_int_equal(store_partition_delete(db, c3), 0);
        assert_int_equal(store_partition_delete(db, c2), -ENOENT);
        assert_integrity(db);
}

/* A store of the schema before GPU partitions, with tenants, instances and claims, is migrated
 * with all of it kept, and the new rules hold on what was there. */
static void test_migrate_partitions(void **state) {
        _cleanup_tmpdir_ char *d = make_tmpdir();
        _cleanup_(db_closep) sqlite3 *db = NULL;
        _cleanup_free_ char *sql = NULL;
        int64_t vm, ctr;
        StorePartition p;

        open_store(d, &db);
        add_tenant(db, "risk", "kept");
        vm = add_container(db, "vm", "risk");
        ctr = add_container(db, "ctr", "risk");
        assert_int_equal(store_claim_insert(db, GPU_A, vm, CREATED_USEC), 0);
        /* Back two steps: the metered partitions' column goes too; an interval of 2 GPUs then. */
        sql = strprintf(
                "DROP TRIGGER claims_not_partitioned; DROP TABLE mig_slices; DROP TABLE partitions;"
                "ALTER TABLE usage_intervals DROP COLUMN gpu_milli;"
                "INSERT INTO usage_intervals (instance_uuid, instance, tenant, start_usec, end_usec, "
                "last_alive_usec, vcpus, memory_bytes, gpus, gpu_memory_bytes, gpu_models) VALUES "
                "('u1', 'vm', 'risk', 1, 2, 2, 1, 1, 2, 0, 'H100,H100');"
                "PRAGMA user_version = %d",
                store_schema_latest() - 2);
        assert_non_null(sql);
        if (db_exec(db, sql) < 0)
                fail_msg("back one schema: %s", sqlite3_errmsg(db));
        assert_false(table_exists(db, "partitions"));
        db = db_close(db);

        open_store(d, &db);
        assert_int_equal(db_schema_version(db), store_schema_latest());
        assert_true(table_exists(db, "partitions"));
        assert_true(table_exists(db, "mig_slices"));
        assert_int_equal(query_int(db, "SELECT count(*) FROM tenants WHERE description = 'kept'"), 1);
        assert_int_equal(query_int(db, "SELECT count(*) FROM instances"), 2);
        assert_int_equal(query_int(db, "SELECT count(*) FROM claims WHERE address = '" GPU_A "'"), 1);
        /* An interval from before counts its GPUs whole. */
        assert_int_equal(query_int(db, "SELECT gpu_milli FROM usage_intervals WHERE instance_uuid = 'u1'"),
                         2000);
        p = mig_record(ctr, GPU_A, "3g.40gb", 4, 4, 3);
        assert_refused(db, store_partition_insert(db, &p), "given whole");
        p.address = GPU_B;
        assert_int_equal(store_partition_insert(db, &p), 0);
        assert_refused(db, store_claim_insert(db, GPU_B, vm, CREATED_USEC), "carries partitions");
        assert_int_equal(store_instance_delete(db, ctr), 0);
        assert_int_equal(query_int(db, "SELECT count(*) FROM mig_slices"), 0);
        assert_integrity(db);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_open_creates_schema),
                cmocka_unit_test(test_reopen),
                cmocka_unit_test(test_open_missing_dir),
                cmocka_unit_test(test_newer_schema_wal),
                cmocka_unit_test(test_newer_schema_rollback_journal),
                cmocka_unit_test(test_not_a_database),
                cmocka_unit_test(test_store_migrates_v0),
                cmocka_unit_test(test_migrations_in_order),
                cmocka_unit_test(test_migration_failure),
                cmocka_unit_test(test_tenants),
                cmocka_unit_test(test_tenant_description_roundtrip),
                cmocka_unit_test(test_instance_unknown_tenant),
                cmocka_unit_test(test_instance_roundtrip),
                cmocka_unit_test(test_instance_order_and_bad_rows),
                cmocka_unit_test(test_transactions),
                cmocka_unit_test(test_kill_after_commit),
                cmocka_unit_test(test_kill_in_transaction),
                cmocka_unit_test(test_claims),
                cmocka_unit_test(test_holds),
                cmocka_unit_test(test_migrate_v1_to_claims),
                cmocka_unit_test(test_migrate_tenant_uuid),
                cmocka_unit_test(test_bundles),
                cmocka_unit_test(test_networks),
                cmocka_unit_test(test_idmaps),
                cmocka_unit_test(test_members),
                cmocka_unit_test(test_lock_timeout),
                cmocka_unit_test(test_precommit),
                cmocka_unit_test(test_quotas),
                cmocka_unit_test(test_partitions_mig),
                cmocka_unit_test(test_partitions_mig_compute),
                cmocka_unit_test(test_partitions_claims),
                cmocka_unit_test(test_partitions_shares),
                cmocka_unit_test(test_partitions_nvml_delete),
                cmocka_unit_test(test_migrate_partitions),
        };

        return cmocka_run_group_tests(tests, tmp_root_setup, tmp_root_teardown);
}

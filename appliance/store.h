#pragma once

/* The state store: SQLite (WAL) under the state directory. It holds intent: tenants and
 * instances with their full spec and desired state. Every function here is one statement; callers
 * group them into one transaction with db_transaction_begin()/commit() (lib/shared/db.h). Nothing
 * here logs; failures return a negative errno and leave the SQLite message in db_errmsg(). */

#include <sqlite3.h>
#include <stdbool.h>

typedef struct Manager Manager;
typedef struct Tenant Tenant;
typedef struct Instance Instance;

#define STORE_FILE "ark.db"

/* Opens <state_dir>/ark.db, creating it and migrating the schema forward. */
int store_open(const char *state_dir, sqlite3 **ret);
/* Number of schema versions this binary knows. */
int store_schema_latest(void);

/* Inserts t and sets t->id. -EEXIST when the name is taken. */
int store_tenant_insert(sqlite3 *db, Tenant *t);
int store_tenant_delete(sqlite3 *db, const Tenant *t);
int store_tenant_update_description(sqlite3 *db, const Tenant *t, const char *description);
/* Loads every tenant onto m's list. */
int store_tenant_load_all(sqlite3 *db, Manager *m);

/* Inserts i (its full spec) and sets i->id. -EEXIST when the name or id is taken; -ENOENT when the
 * tenant does not exist. */
int store_instance_insert(sqlite3 *db, Instance *i);
int store_instance_delete(sqlite3 *db, const Instance *i);
int store_instance_set_desired(sqlite3 *db, const Instance *i, bool running);
int store_instance_load_all(sqlite3 *db, Manager *m);

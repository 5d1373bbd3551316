#pragma once

/* SQLite helpers: open in WAL mode with forward-only schema migrations, transactions, and the
 * conversion of SQLite result codes to negative errno. Nothing here logs; the last SQLite message
 * is available through db_errmsg(). */

#include <sqlite3.h>
#include <stdint.h>
#include "basic/macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(sqlite3_stmt, sqlite3_finalize);
#define _cleanup_stmt_ _cleanup_(sqlite3_finalizep)

/* Maps an SQLite result code to a negative errno (SQLITE_CONSTRAINT -> -EEXIST; see db_errno_of(),
 * SQLITE_BUSY/LOCKED -> -ETIMEDOUT: another connection held the lock past the busy timeout,
 * SQLITE_FULL -> -ENOSPC, SQLITE_READONLY/PERM -> -EROFS/-EPERM, SQLITE_NOMEM -> -ENOMEM,
 * SQLITE_CORRUPT/NOTADB -> -EBADMSG, anything else -> -EIO). Each condition has its own errno, so
 * that a caller that gives one a meaning (a missing parent is "no such tenant") cannot mistake
 * another (a lock) for it. */
int db_errno(int sqlite_rc);
/* How long a statement waits for a lock another connection holds before it fails (-ETIMEDOUT). */
#define DB_BUSY_TIMEOUT_MSEC 5000
/* db_errno() for a failed statement of db, telling constraints apart by their extended code:
 * a duplicate key (UNIQUE, PRIMARY KEY) is -EEXIST, a row still referenced or a missing parent
 * (FOREIGN KEY) -ENOLINK, anything else (a trigger or CHECK that refused the write) -EIO. */
int db_errno_of(sqlite3 *db, int sqlite_rc);

/* One migration step: SQL run to go from version (index) to version (index + 1). */
typedef struct DbMigration {
        const char *description;
        const char *sql;
} DbMigration;

/* Opens (creating if needed) the database at path with WAL journaling, synchronous=FULL (durable
 * commits survive kill -9 and power loss), foreign keys on and a busy timeout, then applies every
 * migration above the file's user_version, each in its own transaction. A database newer than the
 * migrations known to this binary is refused with -EPROTO. Returns 0 and the handle. */
int db_open(const char *path, const DbMigration *migrations, size_t n_migrations, sqlite3 **ret);
sqlite3 *db_close(sqlite3 *db);
DEFINE_TRIVIAL_CLEANUP_FUNC(sqlite3, db_close);

/* Schema version of an open database (PRAGMA user_version). */
int db_schema_version(sqlite3 *db);

int db_exec(sqlite3 *db, const char *sql);
int db_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **ret);

/* A function run inside every transaction of db just before it commits (db_commit(),
 * db_transaction_commit()): what it writes commits with the transaction, in the same fdatasync.
 * When it fails, the transaction is not committed (the caller's guard rolls it back) and its
 * error is returned. One per connection; NULL removes it; db_close() forgets it. Connections
 * may be used from several threads: the function is called on the committing thread. */
typedef int (*DbPrecommitFunc)(sqlite3 *db, void *userdata);
int db_set_precommit(sqlite3 *db, DbPrecommitFunc f, void *userdata);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. db_rollbackp() is a cleanup helper: a transaction that
 * was not committed is rolled back when the guard leaves scope. */
int db_begin(sqlite3 *db);
int db_commit(sqlite3 *db);
void db_rollback(sqlite3 *db);

typedef struct DbTransaction {
        sqlite3 *db;
        int active;
} DbTransaction;
static inline void db_transaction_done(DbTransaction *t) {
        if (t->active)
                db_rollback(t->db);
        t->active = 0;
}
#define _cleanup_transaction_ _cleanup_(db_transaction_done)
/* Begins a transaction and arms the guard. */
int db_transaction_begin(sqlite3 *db, DbTransaction *t);
/* Commits and disarms the guard. */
int db_transaction_commit(DbTransaction *t);

const char *db_errmsg(sqlite3 *db);

/* Transactions committed by the connections db_open() made in this process, explicit or not:
 * with synchronous=FULL each is an fdatasync of the write-ahead log. A commit hook set on such a
 * connection with sqlite3_commit_hook() replaces this count's. */
uint64_t db_commits_total(void);

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "db.h"

int db_errno(int rc) {
        switch (rc & 0xff) {
        case SQLITE_OK:
        case SQLITE_ROW:
        case SQLITE_DONE:
                return 0;
        case SQLITE_CONSTRAINT:
                return -EEXIST;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -ETIMEDOUT; /* the busy timeout passed with the lock still held elsewhere */
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_READONLY:
                return -EROFS;
        case SQLITE_PERM:
        case SQLITE_AUTH:
                return -EPERM;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
                return -EBADMSG;
        case SQLITE_CANTOPEN:
                return -ENOENT;
        case SQLITE_TOOBIG:
                return -E2BIG;
        case SQLITE_MISMATCH:
        case SQLITE_RANGE:
                return -EINVAL;
        default:
                return -EIO;
        }
}

int db_errno_of(sqlite3 *db, int rc) {
        if ((rc & 0xff) != SQLITE_CONSTRAINT)
                return db_errno(rc);
        switch (db ? sqlite3_extended_errcode(db) : rc) {
        case SQLITE_CONSTRAINT_UNIQUE:
        case SQLITE_CONSTRAINT_PRIMARYKEY:
        case SQLITE_CONSTRAINT_ROWID:
                return -EEXIST;
        case SQLITE_CONSTRAINT_FOREIGNKEY:
                return -ENOLINK;
        default:
                return -EIO;
        }
}

int db_exec(sqlite3 *db, const char *sql) {
        return db_errno(sqlite3_exec(db, sql, NULL, NULL, NULL));
}

int db_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **ret) {
        return db_errno(sqlite3_prepare_v2(db, sql, -1, ret, NULL));
}

int db_schema_version(sqlite3 *db) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = db_prepare(db, "PRAGMA user_version", &st);
        if (r < 0)
                return r;
        r = sqlite3_step(st);
        if (r != SQLITE_ROW)
                return r == SQLITE_DONE ? -EIO : (db_errno(r) ?: -EIO);
        return sqlite3_column_int(st, 0);
}

int db_begin(sqlite3 *db) {
        return db_exec(db, "BEGIN IMMEDIATE");
}

/* The precommit functions, by connection (a few connections per process at most). */
typedef struct Precommit {
        sqlite3 *db;
        DbPrecommitFunc f;
        void *userdata;
} Precommit;
#define PRECOMMIT_MAX 8
static Precommit precommits[PRECOMMIT_MAX];
static pthread_mutex_t precommit_lock = PTHREAD_MUTEX_INITIALIZER;

int db_set_precommit(sqlite3 *db, DbPrecommitFunc f, void *userdata) {
        Precommit *free_slot = NULL;
        int r = -E2BIG;

        pthread_mutex_lock(&precommit_lock);
        for (size_t k = 0; k < PRECOMMIT_MAX; k++) {
                if (precommits[k].db == db) {
                        free_slot = &precommits[k];
                        break;
                }
                if (!precommits[k].db && !free_slot)
                        free_slot = &precommits[k];
        }
        if (free_slot) {
                *free_slot = f ? (Precommit) { .db = db, .f = f, .userdata = userdata } : (Precommit) {};
                r = 0;
        } else if (!f)
                r = 0;
        pthread_mutex_unlock(&precommit_lock);
        return r;
}

static Precommit precommit_of(sqlite3 *db) {
        Precommit p = {};

        pthread_mutex_lock(&precommit_lock);
        for (size_t k = 0; k < PRECOMMIT_MAX; k++)
                if (precommits[k].db == db)
                        p = precommits[k];
        pthread_mutex_unlock(&precommit_lock);
        return p;
}

int db_commit(sqlite3 *db) {
        Precommit p = precommit_of(db);

        /* No transaction open (SQLite rolled it back by itself after an error): the COMMIT fails,
         * and the function must not write on its own. */
        if (p.f && !sqlite3_get_autocommit(db)) {
                int r = p.f(db, p.userdata);

                if (r < 0)
                        return r;
        }
        return db_exec(db, "COMMIT");
}

void db_rollback(sqlite3 *db) {
        (void) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

int db_transaction_begin(sqlite3 *db, DbTransaction *t) {
        int r = db_begin(db);

        if (r < 0)
                return r;
        t->db = db;
        t->active = 1;
        return 0;
}

int db_transaction_commit(DbTransaction *t) {
        int r = db_commit(t->db);

        if (r < 0)
                return r; /* the guard rolls back */
        t->active = 0;
        return 0;
}

const char *db_errmsg(sqlite3 *db) {
        return db ? sqlite3_errmsg(db) : "out of memory";
}

static int db_migrate(sqlite3 *db, const DbMigration *migrations, size_t n) {
        int version, r;

        version = db_schema_version(db);
        if (version < 0)
                return version;
        if ((size_t) version > n)
                return -EPROTO; /* written by a newer arkd: never downgrade a schema */

        for (size_t i = (size_t) version; i < n; i++) {
                _cleanup_transaction_ DbTransaction t = {};
                char pragma[64];

                r = db_transaction_begin(db, &t);
                if (r < 0)
                        return r;
                r = db_exec(db, migrations[i].sql);
                if (r < 0)
                        return r;
                snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %zu", i + 1);
                r = db_exec(db, pragma);
                if (r < 0)
                        return r;
                r = db_transaction_commit(&t);
                if (r < 0)
                        return r;
        }
        return 0;
}

static _Atomic uint64_t commits;

/* Every commit of every connection db_open() made, explicit or not (SQLite calls it for each). */
static int count_commit(void *userdata) {
        commits++;
        return 0; /* go on with the commit */
}

uint64_t db_commits_total(void) {
        return commits;
}

int db_open(const char *path, const DbMigration *migrations, size_t n_migrations, sqlite3 **ret) {
        sqlite3 *db = NULL;
        int r;

        r = db_errno(sqlite3_open_v2(
                path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL));
        if (r < 0 || !db) {
                db_close(db);
                return r < 0 ? r : -ENOMEM;
        }

        (void) sqlite3_busy_timeout(db, DB_BUSY_TIMEOUT_MSEC);
        (void) sqlite3_extended_result_codes(db, 0);
        (void) sqlite3_commit_hook(db, count_commit, NULL);

        /* Refuse a newer schema before anything that writes to the file: switching the journal
         * mode of a rollback-journal database rewrites its header, and the newer arkd (after a
         * rollback to the other A/B slot) must find its store exactly as it left it. */
        r = db_schema_version(db);
        if (r >= 0 && (size_t) r > n_migrations)
                r = -EPROTO;
        if (r >= 0)
                r = db_exec(db, "PRAGMA journal_mode = WAL");
        if (r >= 0)
                r = db_exec(db, "PRAGMA synchronous = FULL");
        if (r >= 0)
                r = db_exec(db, "PRAGMA foreign_keys = ON");
        if (r >= 0)
                r = db_migrate(db, migrations, n_migrations);
        if (r < 0) {
                db_close(db);
                return r;
        }
        *ret = db;
        return 0;
}

sqlite3 *db_close(sqlite3 *db) {
        if (db) {
                (void) db_set_precommit(db, NULL, NULL);
                (void) sqlite3_close_v2(db);
        }
        return NULL;
}

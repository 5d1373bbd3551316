/* The state store: schema, migrations and the row <-> record mapping (store.h: plain records;
 * their owners build objects). */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/fileio.h"
#include "basic/string-util.h"
#include "shared/db.h"
#include "store.h"

/* Forward-only migrations: never edit a released step, append a new one. */
static const DbMigration migrations[] = {
        {
                "tenants and instances",
                "CREATE TABLE tenants ("
                "  id INTEGER PRIMARY KEY,"
                "  name TEXT NOT NULL UNIQUE,"
                "  description TEXT NOT NULL DEFAULT '',"
                "  created_usec INTEGER NOT NULL);"
                "CREATE TABLE instances ("
                "  id INTEGER PRIMARY KEY,"
                "  uuid TEXT NOT NULL UNIQUE,"
                "  name TEXT NOT NULL UNIQUE,"
                "  tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE RESTRICT,"
                "  type TEXT NOT NULL,"
                "  vcpus INTEGER NOT NULL,"
                "  memory_bytes INTEGER NOT NULL,"
                "  disk_path TEXT,"
                "  disk_bytes INTEGER NOT NULL DEFAULT 0,"
                "  disk_owned INTEGER NOT NULL DEFAULT 0,"
                "  image TEXT,"
                "  kernel TEXT,"
                "  initrd TEXT,"
                "  cmdline TEXT,"
                "  console_log TEXT,"
                "  desired_state TEXT NOT NULL CHECK (desired_state IN ('running', 'stopped')),"
                "  created_usec INTEGER NOT NULL);"
                "CREATE INDEX instances_tenant ON instances(tenant_id);",
        },
        {
                "accelerator claims and holds",
                /* The primary key is what makes a GPU impossible to hand out twice: a second claim
                 * of an address fails inside the transaction that tried it. Deleting an instance
                 * releases its claims in the same transaction. */
                "CREATE TABLE claims ("
                "  address TEXT PRIMARY KEY,"
                "  instance_id INTEGER NOT NULL REFERENCES instances(id) ON DELETE CASCADE,"
                "  created_usec INTEGER NOT NULL);"
                "CREATE INDEX claims_instance ON claims(instance_id);"
                "CREATE TABLE accelerator_holds ("
                "  address TEXT PRIMARY KEY,"
                "  state TEXT NOT NULL CHECK (state IN ('reserved', 'quarantined')),"
                "  reason TEXT NOT NULL DEFAULT '',"
                "  set_usec INTEGER NOT NULL);",
        },
        {
                "tenant members",
                /* Unix users and groups, by number (what the kernel tells arkd about a caller) and by
                 * name (what the admin typed, shown back). */
                "CREATE TABLE tenant_members ("
                "  tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
                "  kind TEXT NOT NULL CHECK (kind IN ('user', 'group')),"
                "  id INTEGER NOT NULL,"
                "  name TEXT NOT NULL,"
                "  added_usec INTEGER NOT NULL,"
                "  PRIMARY KEY (tenant_id, kind, id));",
        },
        {
                "instance firmware",
                /* Fixed at creation: an installed guest does not boot under another firmware. */
                "ALTER TABLE instances ADD COLUMN firmware TEXT NOT NULL DEFAULT 'bios' "
                "CHECK (firmware IN ('bios', 'uefi'));",
        },
        {
                "tenant quotas",
                /* One row per resource (and GPU model) a tenant has a guarantee or limit on;
                 * limit_amount NULL = no limit. */
                "CREATE TABLE tenant_quotas ("
                "  tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
                "  resource TEXT NOT NULL CHECK (resource IN "
                "    ('gpus', 'gpu-memory', 'vcpus', 'memory', 'disk', 'instances')),"
                "  model TEXT NOT NULL DEFAULT '',"
                "  guarantee INTEGER NOT NULL DEFAULT 0 CHECK (guarantee >= 0),"
                "  limit_amount INTEGER CHECK (limit_amount IS NULL OR limit_amount >= 0),"
                "  PRIMARY KEY (tenant_id, resource, model));",
        },
        {
                "audit log",
                /* Append-only; each row's hash covers the previous row's (see audit.h). */
                "CREATE TABLE audit_log ("
                "  seq INTEGER PRIMARY KEY,"
                "  usec INTEGER NOT NULL,"
                "  uid INTEGER NOT NULL,"
                "  caller TEXT NOT NULL,"
                "  action TEXT NOT NULL,"
                "  object TEXT NOT NULL,"
                "  arguments TEXT NOT NULL,"
                "  result TEXT NOT NULL,"
                "  prev_hash TEXT NOT NULL,"
                "  hash TEXT NOT NULL);",
        },
        {
                "usage intervals",
                /* Kept after the instance is deleted: the bill outlives the VM. */
                "CREATE TABLE usage_intervals ("
                "  id INTEGER PRIMARY KEY,"
                "  instance_uuid TEXT NOT NULL,"
                "  instance TEXT NOT NULL,"
                "  tenant TEXT NOT NULL,"
                "  start_usec INTEGER NOT NULL,"
                "  end_usec INTEGER CHECK (end_usec IS NULL OR end_usec >= start_usec),"
                "  last_alive_usec INTEGER NOT NULL,"
                "  vcpus INTEGER NOT NULL,"
                "  memory_bytes INTEGER NOT NULL,"
                "  gpus INTEGER NOT NULL,"
                "  gpu_memory_bytes INTEGER NOT NULL,"
                "  gpu_models TEXT NOT NULL);"
                "CREATE INDEX usage_intervals_tenant ON usage_intervals (tenant, start_usec);",
        },
        {
                "preemptible instances",
                /* A preemptible instance may run on GPUs another tenant is guaranteed and is stopped
                 * when they are reclaimed; preempted_gpus GPUs (of preempted_model, NULL = mixed)
                 * were taken from it then, and it asks for them again when it starts. */
                "ALTER TABLE instances ADD COLUMN preemptible INTEGER NOT NULL DEFAULT 0 "
                "CHECK (preemptible IN (0, 1));"
                "ALTER TABLE instances ADD COLUMN preempted_gpus INTEGER NOT NULL DEFAULT 0 "
                "CHECK (preempted_gpus >= 0);"
                "ALTER TABLE instances ADD COLUMN preempted_model TEXT;",
        },
        {
                "bundles",
                /* What signed bundles installed: one row per (kind, tenant, name, version); tenant_id
                 * NULL = shared with every tenant. The directory holds the verified payload. */
                "CREATE TABLE bundles ("
                "  id INTEGER PRIMARY KEY,"
                "  kind TEXT NOT NULL CHECK (kind IN ('model', 'image', 'update')),"
                "  tenant_id INTEGER REFERENCES tenants(id) ON DELETE RESTRICT,"
                "  name TEXT NOT NULL,"
                "  version TEXT NOT NULL,"
                "  key_id TEXT NOT NULL,"
                "  sha256 TEXT NOT NULL,"
                "  size_bytes INTEGER NOT NULL CHECK (size_bytes >= 0),"
                "  files INTEGER NOT NULL CHECK (files > 0),"
                "  directory TEXT NOT NULL UNIQUE,"
                "  manifest TEXT NOT NULL,"
                "  imported_usec INTEGER NOT NULL,"
                "  imported_uid INTEGER NOT NULL);"
                "CREATE UNIQUE INDEX bundles_name ON bundles (kind, IFNULL(tenant_id, 0), name, version);",
        },
        {
                "instance models",
                /* The model an instance serves; a bundle in use cannot be deleted under it. */
                "ALTER TABLE instances ADD COLUMN model_bundle_id INTEGER REFERENCES bundles(id) ON DELETE RESTRICT;",
        },
        {
                "tenant identity",
                /* A tenant deleted and created again under its name is another tenant: history
                 * (usage) is keyed by a UUID, never reused (row ids can be: the largest one is given
                 * again after its row is deleted). Usage already recorded belongs to the tenant of
                 * that name that existed when it started, or to none (a deleted one). */
                "ALTER TABLE tenants ADD COLUMN uuid TEXT;"
                "UPDATE tenants SET uuid = lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-' || "
                "  hex(randomblob(2)) || '-' || hex(randomblob(2)) || '-' || hex(randomblob(6)));"
                "CREATE UNIQUE INDEX tenants_uuid ON tenants (uuid);"
                "ALTER TABLE usage_intervals ADD COLUMN tenant_uuid TEXT;"
                "UPDATE usage_intervals SET tenant_uuid = (SELECT t.uuid FROM tenants t WHERE t.name = "
                "  usage_intervals.tenant AND t.created_usec <= usage_intervals.start_usec);"
                "CREATE INDEX usage_intervals_tenant_uuid ON usage_intervals (tenant_uuid, start_usec);",
        },
        {
                "instance names per tenant",
                /* Instance names are unique within their tenant, not on the host: one tenant's
                 * choice of name says nothing about another's instances. The libvirt domain keeps a
                 * host-wide name of its own (the instance's, or "<tenant>.<name>" when another
                 * tenant's domain has it). A column's UNIQUE cannot be dropped: the table is made
                 * again, and the claims its rows had (removed with them, ON DELETE CASCADE) are
                 * put back. */
                "CREATE TEMP TABLE claims_kept AS SELECT * FROM claims;"
                "CREATE TABLE instances_new ("
                "  id INTEGER PRIMARY KEY,"
                "  uuid TEXT NOT NULL UNIQUE,"
                "  name TEXT NOT NULL,"
                "  tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE RESTRICT,"
                "  type TEXT NOT NULL,"
                "  vcpus INTEGER NOT NULL,"
                "  memory_bytes INTEGER NOT NULL,"
                "  disk_path TEXT,"
                "  disk_bytes INTEGER NOT NULL DEFAULT 0,"
                "  disk_owned INTEGER NOT NULL DEFAULT 0,"
                "  image TEXT,"
                "  kernel TEXT,"
                "  initrd TEXT,"
                "  cmdline TEXT,"
                "  console_log TEXT,"
                "  desired_state TEXT NOT NULL CHECK (desired_state IN ('running', 'stopped')),"
                "  created_usec INTEGER NOT NULL,"
                "  firmware TEXT NOT NULL DEFAULT 'bios' CHECK (firmware IN ('bios', 'uefi')),"
                "  preemptible INTEGER NOT NULL DEFAULT 0 CHECK (preemptible IN (0, 1)),"
                "  preempted_gpus INTEGER NOT NULL DEFAULT 0 CHECK (preempted_gpus >= 0),"
                "  preempted_model TEXT,"
                "  model_bundle_id INTEGER REFERENCES bundles(id) ON DELETE RESTRICT,"
                "  domain_name TEXT NOT NULL UNIQUE,"
                "  UNIQUE (tenant_id, name));"
                "INSERT INTO instances_new SELECT id, uuid, name, tenant_id, type, vcpus, memory_bytes, disk_path,"
                "  disk_bytes, disk_owned, image, kernel, initrd, cmdline, console_log, desired_state, created_usec,"
                "  firmware, preemptible, preempted_gpus, preempted_model, model_bundle_id, name FROM instances;"
                "DROP TABLE instances;"
                "ALTER TABLE instances_new RENAME TO instances;"
                "CREATE INDEX instances_tenant ON instances(tenant_id);"
                "INSERT INTO claims SELECT * FROM claims_kept;"
                "DROP TABLE claims_kept;",
        },
        {
                "tenant networks",
                /* A network belongs to one tenant and goes with it (a tenant is deleted only
                 * without instances, so none of its networks has a NIC then). The segment is the
                 * network's number on the host (its bridge's name) and, later, its VXLAN id across
                 * a fleet. A NIC is an instance's port on a network with the MAC and address arkd
                 * chose for it: kept across restarts, gone with the instance; a network with NICs
                 * cannot be deleted. A forward reaches one NIC; ports on the host are unique per
                 * protocol. */
                "CREATE TABLE networks ("
                "  id INTEGER PRIMARY KEY,"
                "  uuid TEXT NOT NULL UNIQUE,"
                "  name TEXT NOT NULL,"
                "  tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
                "  mode TEXT NOT NULL CHECK (mode IN ('nat', 'isolated', 'vlan')),"
                "  subnet4 TEXT NOT NULL,"
                "  subnet6 TEXT,"
                "  vlan_id INTEGER CHECK (vlan_id BETWEEN 1 AND 4094),"
                "  uplink TEXT,"
                "  segment INTEGER NOT NULL UNIQUE CHECK (segment BETWEEN 1 AND 16777215),"
                "  mtu INTEGER NOT NULL CHECK (mtu BETWEEN 576 AND 9000),"
                "  bridge TEXT NOT NULL UNIQUE,"
                "  mac TEXT NOT NULL,"
                "  created_usec INTEGER NOT NULL,"
                "  UNIQUE (tenant_id, name));"
                "CREATE TABLE nics ("
                "  id INTEGER PRIMARY KEY,"
                "  instance_id INTEGER NOT NULL REFERENCES instances(id) ON DELETE CASCADE,"
                "  network_id INTEGER NOT NULL REFERENCES networks(id) ON DELETE RESTRICT,"
                "  position INTEGER NOT NULL,"
                "  mac TEXT NOT NULL UNIQUE,"
                "  ip4 TEXT NOT NULL,"
                "  ifname TEXT NOT NULL UNIQUE,"
                "  UNIQUE (network_id, ip4),"
                "  UNIQUE (instance_id, network_id));"
                "CREATE INDEX nics_network ON nics(network_id);"
                "CREATE TABLE forwards ("
                "  id INTEGER PRIMARY KEY,"
                "  nic_id INTEGER NOT NULL REFERENCES nics(id) ON DELETE CASCADE,"
                "  proto TEXT NOT NULL CHECK (proto IN ('tcp', 'udp')),"
                "  port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),"
                "  to_port INTEGER NOT NULL CHECK (to_port BETWEEN 1 AND 65535),"
                "  created_usec INTEGER NOT NULL,"
                "  UNIQUE (proto, port));"
                /* Quotas on networks and forwards: a CHECK cannot be changed, the table is made
                 * again. */
                "CREATE TABLE tenant_quotas_new ("
                "  tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
                "  resource TEXT NOT NULL CHECK (resource IN "
                "    ('gpus', 'gpu-memory', 'vcpus', 'memory', 'disk', 'instances', 'networks', 'forwards')),"
                "  model TEXT NOT NULL DEFAULT '',"
                "  guarantee INTEGER NOT NULL DEFAULT 0 CHECK (guarantee >= 0),"
                "  limit_amount INTEGER CHECK (limit_amount IS NULL OR limit_amount >= 0),"
                "  PRIMARY KEY (tenant_id, resource, model));"
                "INSERT INTO tenant_quotas_new SELECT * FROM tenant_quotas;"
                "DROP TABLE tenant_quotas;"
                "ALTER TABLE tenant_quotas_new RENAME TO tenant_quotas;",
        },
        {
                "containers",
                /* An instance of type container runs a container image (a bundle, kept while an
                 * instance uses it) with its command and environment (JSON arrays of strings; NULL
                 * = the image's). Each tenant's containers run in a user namespace mapped onto a
                 * range of host UIDs and GIDs of its own: a range is handed out once and never
                 * again, also after its tenant is gone (files a deleted tenant left behind cannot
                 * become another tenant's). */
                "ALTER TABLE instances ADD COLUMN container_image_id INTEGER REFERENCES bundles(id) ON DELETE RESTRICT;"
                "ALTER TABLE instances ADD COLUMN args TEXT;"
                "ALTER TABLE instances ADD COLUMN env TEXT;"
                "CREATE TABLE idmaps ("
                "  base INTEGER PRIMARY KEY CHECK (base > 0),"
                "  count INTEGER NOT NULL CHECK (count > 0),"
                "  tenant_uuid TEXT NOT NULL UNIQUE,"
                "  tenant_id INTEGER UNIQUE REFERENCES tenants(id) ON DELETE SET NULL,"
                "  created_usec INTEGER NOT NULL);",
        },
        {
                "container image bundles",
                /* Bundles of kind container-image (an OCI image layout). The CHECK on bundles.kind
                 * only widens, which needs no new table (a new one could not replace bundles while
                 * instances.model_bundle_id and container_image_id refer to it ON DELETE RESTRICT):
                 * SQLite's documented way for a constraint that does not change what is on disk is
                 * to edit the table's CREATE statement in sqlite_schema; RESET makes this
                 * connection read it again. */
                "PRAGMA writable_schema = ON;"
                "UPDATE sqlite_schema SET sql = replace(sql, "
                "  'kind IN (''model'', ''image'', ''update'')', "
                "  'kind IN (''model'', ''image'', ''update'', ''container-image'')') "
                "  WHERE type = 'table' AND name = 'bundles';"
                "PRAGMA writable_schema = RESET;",
        },
        {
                "gpu partitions",
                /* A container may hold a partition of one GPU instead of whole GPUs: a MIG instance
                 * (a run of the GPU's 8 memory slices and some of its 7 compute slices) or an MPS
                 * share (milli-GPUs and a memory limit). gi_id, ci_id and uuid are what NVML made,
                 * NULL before that and after a reboot (MIG instances do not survive one). What
                 * must never be true on a GPU is refused here, inside the transaction that would
                 * make it so, as claims' primary key does for whole GPUs:
                 * - MIG instances never overlap: one mig_slices row per memory slice, keyed by
                 *   the slice. The rows are the partition's own (an AFTER INSERT trigger makes
                 *   them from it, the foreign key takes them with it), so the partition and its
                 *   slices go in, or fail, in one statement;
                 * - a GPU is given whole (a claim) or in partitions, never both;
                 * - a GPU carries MIG instances or shares, never both;
                 * - the shares of a GPU are one tenant's and of one size: MPS runs one server per
                 *   host UID, and its limits are the server's (docs/gpu-sharing.md); they add up
                 *   to at most the GPU (1000 milli);
                 * - the MIG instances of a GPU take at most its 7 compute slices;
                 * - a partition's place does not change after the fact (only what NVML made).
                 * The triggers name claims, instances and partitions: a later step that makes one
                 * of them again (a new table, then RENAME) drops them first and makes them again,
                 * as SQLite refuses ALTER TABLE while a trigger names a table that is gone. */
                "CREATE TABLE partitions ("
                "  instance_id INTEGER PRIMARY KEY REFERENCES instances(id) ON DELETE CASCADE,"
                "  address TEXT NOT NULL,"
                "  kind TEXT NOT NULL CHECK (kind IN ('mig', 'share')),"
                "  profile TEXT,"
                "  mig_start INTEGER,"
                "  mig_slices INTEGER,"
                "  compute_slices INTEGER NOT NULL DEFAULT 0,"
                "  milli INTEGER NOT NULL CHECK (milli BETWEEN 1 AND 1000),"
                "  memory_bytes INTEGER NOT NULL CHECK (memory_bytes > 0),"
                "  gi_id INTEGER CHECK (gi_id >= 0),"
                "  ci_id INTEGER CHECK (ci_id >= 0),"
                "  uuid TEXT,"
                "  created_usec INTEGER NOT NULL,"
                /* IS NOT NULL first: a CHECK that comes out NULL passes. */
                "  CHECK ((kind = 'mig' AND profile IS NOT NULL AND mig_start IS NOT NULL"
                "          AND mig_slices IS NOT NULL AND mig_start BETWEEN 0 AND 7"
                "          AND mig_slices BETWEEN 1 AND 8 AND mig_start + mig_slices <= 8"
                "          AND compute_slices BETWEEN 1 AND 7)"
                "      OR (kind = 'share' AND profile IS NULL AND mig_start IS NULL AND mig_slices IS NULL"
                "          AND compute_slices = 0)));"
                "CREATE INDEX partitions_address ON partitions(address);"
                "CREATE TABLE mig_slices ("
                "  address TEXT NOT NULL,"
                "  slice INTEGER NOT NULL CHECK (slice BETWEEN 0 AND 7),"
                "  instance_id INTEGER NOT NULL REFERENCES partitions(instance_id) ON DELETE CASCADE,"
                "  PRIMARY KEY (address, slice));"
                "CREATE INDEX mig_slices_instance ON mig_slices(instance_id);"
                "CREATE TRIGGER claims_not_partitioned BEFORE INSERT ON claims"
                " WHEN EXISTS (SELECT 1 FROM partitions WHERE address = NEW.address)"
                " BEGIN SELECT RAISE(ABORT, 'the GPU carries partitions: it cannot be given whole'); END;"
                "CREATE TRIGGER partitions_not_claimed BEFORE INSERT ON partitions"
                " WHEN EXISTS (SELECT 1 FROM claims WHERE address = NEW.address)"
                " BEGIN SELECT RAISE(ABORT, 'the GPU is given whole: it takes no partition'); END;"
                "CREATE TRIGGER partitions_one_kind BEFORE INSERT ON partitions"
                " WHEN EXISTS (SELECT 1 FROM partitions WHERE address = NEW.address AND kind <> NEW.kind)"
                " BEGIN SELECT RAISE(ABORT, 'a GPU carries MIG instances or shares, never both'); END;"
                "CREATE TRIGGER partitions_share_tenant BEFORE INSERT ON partitions"
                " WHEN NEW.kind = 'share' AND EXISTS (SELECT 1 FROM partitions p"
                "   JOIN instances i ON i.id = p.instance_id"
                "   WHERE p.address = NEW.address AND p.kind = 'share'"
                "   AND i.tenant_id <> (SELECT tenant_id FROM instances WHERE id = NEW.instance_id))"
                " BEGIN SELECT RAISE(ABORT, 'the shares of a GPU belong to one tenant'); END;"
                "CREATE TRIGGER partitions_share_size BEFORE INSERT ON partitions"
                " WHEN NEW.kind = 'share' AND EXISTS (SELECT 1 FROM partitions"
                "   WHERE address = NEW.address AND kind = 'share'"
                "   AND (milli <> NEW.milli OR memory_bytes <> NEW.memory_bytes))"
                " BEGIN SELECT RAISE(ABORT,"
                "   'the shares of a GPU are all of one size (milli-GPUs and memory)'); END;"
                "CREATE TRIGGER partitions_share_sum BEFORE INSERT ON partitions"
                " WHEN NEW.kind = 'share' AND NEW.milli + (SELECT IFNULL(SUM(milli), 0) FROM partitions"
                "   WHERE address = NEW.address AND kind = 'share') > 1000"
                " BEGIN SELECT RAISE(ABORT,"
                "   'the shares of a GPU add up to more than the GPU (1000 milli)'); END;"
                "CREATE TRIGGER partitions_mig_compute BEFORE INSERT ON partitions"
                " WHEN NEW.kind = 'mig' AND NEW.compute_slices + (SELECT IFNULL(SUM(compute_slices), 0)"
                "   FROM partitions WHERE address = NEW.address AND kind = 'mig') > 7"
                " BEGIN SELECT RAISE(ABORT,"
                "   'the MIG instances of a GPU take more than its 7 compute slices'); END;"
                /* Said in words before the slices' primary key would refuse it. */
                "CREATE TRIGGER partitions_mig_overlap BEFORE INSERT ON partitions"
                " WHEN NEW.kind = 'mig' AND EXISTS (SELECT 1 FROM mig_slices WHERE address = NEW.address"
                "   AND slice >= NEW.mig_start AND slice < NEW.mig_start + NEW.mig_slices)"
                " BEGIN SELECT RAISE(ABORT, 'the MIG instance overlaps another one''s memory slices'); END;"
                /* A trigger's body cannot use WITH: the slices 0..7 are spelled out. */
                "CREATE TRIGGER partitions_mig_slices AFTER INSERT ON partitions WHEN NEW.kind = 'mig'"
                " BEGIN INSERT INTO mig_slices (address, slice, instance_id)"
                "   SELECT NEW.address, s.n, NEW.instance_id FROM (SELECT 0 AS n UNION ALL SELECT 1"
                "   UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5"
                "   UNION ALL SELECT 6 UNION ALL SELECT 7) s"
                "   WHERE s.n >= NEW.mig_start AND s.n < NEW.mig_start + NEW.mig_slices; END;"
                "CREATE TRIGGER partitions_placed BEFORE UPDATE OF instance_id, address, kind, profile,"
                " mig_start, mig_slices, compute_slices, milli, memory_bytes ON partitions"
                " BEGIN SELECT RAISE(ABORT, 'a partition does not move: delete it and make another'); END;"
                "CREATE TRIGGER mig_slices_placed BEFORE UPDATE ON mig_slices"
                " BEGIN SELECT RAISE(ABORT, 'a partition does not move: delete it and make another'); END;",
        },
        {
                "metered partitions",
                /* What an interval's GPUs are worth in milli-GPUs: 1000 a whole GPU, a partition
                 * its fraction (gpus 0, gpu_models its GPU's model). */
                "ALTER TABLE usage_intervals ADD COLUMN gpu_milli INTEGER NOT NULL DEFAULT 0;"
                "UPDATE usage_intervals SET gpu_milli = gpus * 1000;",
        },
};

int store_schema_latest(void) {
        return (int) ELEMENTSOF(migrations);
}

int store_open(const char *state_dir, sqlite3 **ret) {
        _cleanup_free_ char *p = path_join(state_dir, STORE_FILE);

        if (!p)
                return -ENOMEM;
        return db_open(p, migrations, ELEMENTSOF(migrations), ret);
}

static int bind_text_or_null(sqlite3_stmt *st, int idx, const char *s) {
        return s ? sqlite3_bind_text(st, idx, s, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, idx);
}

static int step_done(sqlite3_stmt *st) {
        int rc = sqlite3_step(st);
        return rc == SQLITE_DONE ? 0 : db_errno_of(sqlite3_db_handle(st), rc);
}

/* Runs a statement with `id` bound; -ENOENT when it changed nothing. */
static int delete_by_id(sqlite3 *db, const char *sql, int64_t id) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = db_prepare(db, sql, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, id);
        r = step_done(st);
        if (r < 0)
                return r;
        return sqlite3_changes(db) > 0 ? 0 : -ENOENT;
}

int store_tenant_insert(sqlite3 *db, StoreTenant *t) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        if (!t->uuid || strlen(t->uuid) != 36)
                return -EINVAL;
        r = db_prepare(db, "INSERT INTO tenants (name, description, created_usec, uuid) VALUES (?, ?, ?, ?)",
                       &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, t->name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, strempty(t->description), -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 3, (sqlite3_int64) t->created_usec);
        sqlite3_bind_text(st, 4, t->uuid, -1, SQLITE_TRANSIENT);
        r = step_done(st);
        if (r < 0)
                return r;
        t->id = sqlite3_last_insert_rowid(db);
        return 0;
}

int store_tenant_delete(sqlite3 *db, int64_t id) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        /* The foreign key (ON DELETE RESTRICT) would refuse it too, but SQLite reports that as a
         * trigger's abort, which cannot be told from other refusals: ask first. */
        r = db_prepare(db, "SELECT 1 FROM instances WHERE tenant_id = ? LIMIT 1", &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, id);
        r = sqlite3_step(st);
        if (r == SQLITE_ROW)
                return -EBUSY;
        if (r != SQLITE_DONE)
                return db_errno_of(db, r);
        sqlite3_finalize(TAKE_PTR(st));

        r = db_prepare(db, "DELETE FROM tenants WHERE id = ?", &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, id);
        r = step_done(st);
        if (r < 0)
                return r;
        return sqlite3_changes(db) > 0 ? 0 : -ENOENT;
}

int store_tenant_update_description(sqlite3 *db, int64_t id, const char *description) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = db_prepare(db, "UPDATE tenants SET description = ? WHERE id = ?", &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, description, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, id);
        r = step_done(st);
        if (r < 0)
                return r;
        return sqlite3_changes(db) > 0 ? 0 : -ENOENT;
}

static const char *column_text(sqlite3_stmt *st, int col) {
        return (const char *) sqlite3_column_text(st, col);
}

int store_tenant_foreach(sqlite3 *db, StoreTenantFunc cb, void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r, rc;

        r = db_prepare(
                db, "SELECT id, name, description, created_usec, uuid FROM tenants ORDER BY name DESC", &st);
        if (r < 0)
                return r;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                StoreTenant t = {
                        .id = sqlite3_column_int64(st, 0),
                        .name = column_text(st, 1),
                        .description = strempty(column_text(st, 2)),
                        .created_usec = (uint64_t) sqlite3_column_int64(st, 3),
                        .uuid = strempty(column_text(st, 4)),
                };

                if (!t.name)
                        return -EBADMSG;
                r = cb(&t, userdata);
                if (r < 0)
                        return r;
        }
        return rc == SQLITE_DONE ? 0 : db_errno(rc);
}

int store_instance_insert(sqlite3 *db, StoreInstance *i) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = db_prepare(
                db,
                "INSERT INTO instances (uuid, name, tenant_id, type, vcpus, memory_bytes, disk_path,"
                " disk_bytes, disk_owned, image, kernel, initrd, cmdline, console_log, desired_state,"
                " created_usec, firmware, preemptible, model_bundle_id, domain_name, container_image_id, args, env)"
                " SELECT ?, ?, id, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM tenants"
                " WHERE name = ?",
                &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, i->uuid, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, i->name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, i->type, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 4, i->vcpus);
        sqlite3_bind_int64(st, 5, (sqlite3_int64) i->memory_bytes);
        bind_text_or_null(st, 6, i->disk_path);
        sqlite3_bind_int64(st, 7, (sqlite3_int64) i->disk_bytes);
        sqlite3_bind_int(st, 8, i->disk_owned);
        bind_text_or_null(st, 9, i->image);
        bind_text_or_null(st, 10, i->kernel);
        bind_text_or_null(st, 11, i->initrd);
        bind_text_or_null(st, 12, i->cmdline);
        bind_text_or_null(st, 13, i->console_log);
        sqlite3_bind_text(st, 14, i->desired_running ? "running" : "stopped", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 15, (sqlite3_int64) i->created_usec);
        sqlite3_bind_text(st, 16, i->uefi ? "uefi" : "bios", -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 17, i->preemptible);
        if (i->model_id > 0)
                sqlite3_bind_int64(st, 18, i->model_id);
        else
                sqlite3_bind_null(st, 18);
        sqlite3_bind_text(st, 19, i->domain_name ?: i->name, -1, SQLITE_TRANSIENT);
        if (i->container_image_id > 0)
                sqlite3_bind_int64(st, 20, i->container_image_id);
        else
                sqlite3_bind_null(st, 20);
        bind_text_or_null(st, 21, i->args_json);
        bind_text_or_null(st, 22, i->env_json);
        sqlite3_bind_text(st, 23, i->tenant, -1, SQLITE_TRANSIENT);
        r = step_done(st);
        if (r < 0)
                return r;
        if (sqlite3_changes(db) == 0)
                return -ENOENT; /* no such tenant */
        i->id = sqlite3_last_insert_rowid(db);
        return 0;
}

int store_instance_delete(sqlite3 *db, int64_t id) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = db_prepare(db, "DELETE FROM instances WHERE id = ?", &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, id);
        r = step_done(st);
        if (r < 0)
                return r;
        return sqlite3_changes(db) > 0 ? 0 : -ENOENT;
}

int store_instance_set_desired(sqlite3 *db, int64_t id, bool running) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = db_prepare(db, "UPDATE instances SET desired_state = ? WHERE id = ?", &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, running ? "running" : "stopped", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, id);
        r = step_done(st);
        if (r < 0)
                return r;
        return sqlite3_changes(db) > 0 ? 0 : -ENOENT;
}

int store_instance_foreach(sqlite3 *db, StoreInstanceFunc cb, void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r, rc;

        r = db_prepare(
                db,
                "SELECT i.id, i.uuid, i.name, t.name, i.type, i.vcpus, i.memory_bytes, i.disk_path,"
                " i.disk_bytes, i.disk_owned, i.image, i.kernel, i.initrd, i.cmdline, i.console_log,"
                " i.desired_state, i.created_usec, i.firmware, i.preemptible, i.preempted_gpus,"
                " i.preempted_model, i.model_bundle_id, i.domain_name, i.container_image_id, i.args, i.env"
                " FROM instances i JOIN tenants t ON t.id = i.tenant_id ORDER BY i.name DESC, t.name DESC",
                &st);
        if (r < 0)
                return r;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                StoreInstance i = {
                        .id = sqlite3_column_int64(st, 0),
                        .uuid = column_text(st, 1),
                        .name = column_text(st, 2),
                        .tenant = column_text(st, 3),
                        .type = column_text(st, 4),
                        .vcpus = (unsigned) sqlite3_column_int64(st, 5),
                        .memory_bytes = (uint64_t) sqlite3_column_int64(st, 6),
                        .disk_path = column_text(st, 7),
                        .disk_bytes = (uint64_t) sqlite3_column_int64(st, 8),
                        .disk_owned = sqlite3_column_int(st, 9) != 0,
                        .image = column_text(st, 10),
                        .kernel = column_text(st, 11),
                        .initrd = column_text(st, 12),
                        .cmdline = column_text(st, 13),
                        .console_log = column_text(st, 14),
                        .desired_running = streq_ptr(column_text(st, 15), "running"),
                        .created_usec = (uint64_t) sqlite3_column_int64(st, 16),
                        .uefi = streq_ptr(column_text(st, 17), "uefi"),
                        .preemptible = sqlite3_column_int(st, 18) != 0,
                        .preempted_gpus = (unsigned) sqlite3_column_int64(st, 19),
                        .preempted_model = column_text(st, 20),
                        .model_id = sqlite3_column_int64(st, 21),
                        .domain_name = column_text(st, 22),
                        .container_image_id = sqlite3_column_int64(st, 23),
                        .args_json = column_text(st, 24),
                        .env_json = column_text(st, 25),
                };

                if (!i.uuid || strlen(i.uuid) != 36 || !i.name || !i.tenant || !i.type)
                        return -EBADMSG;
                r = cb(&i, userdata);
                if (r < 0)
                        return r;
        }
        return rc == SQLITE_DONE ? 0 : db_errno(rc);
}

/* ------------------------------------------------------------------------------------------ */
/* claims and holds */

/* Whether the GPU at address carries partitions: 1, 0, or a negative errno. */
static int address_partitioned(sqlite3 *db, const char *address) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = db_prepare(db, "SELECT 1 FROM partitions WHERE address = ? LIMIT 1", &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, address, -1, SQLITE_TRANSIENT);
        r = sqlite3_step(st);
        if (r == SQLITE_ROW)
                return 1;
        return r == SQLITE_DONE ? 0 : db_errno_of(db, r);
}

int store_claim_insert(sqlite3 *db, const char *address, int64_t instance_id, uint64_t usec) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = db_prepare(db, "INSERT INTO claims (address, instance_id, created_usec) VALUES (?, ?, ?)", &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, address, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, instance_id);
        sqlite3_bind_int64(st, 3, (sqlite3_int64) usec);
        r = step_done(st);
        if (r == -EIO && sqlite3_extended_errcode(db) == SQLITE_CONSTRAINT_TRIGGER) {
                int k;

                /* A trigger does not say which one refused: taken when it was the partitions'
                 * (claims_not_partitioned); any other refusal stays a failure (-EIO). */
                k = address_partitioned(db, address);
                if (k < 0)
                        return k;
                return k > 0 ? -EEXIST : r;
        }
        return r == -ENOLINK ? -ENOENT : r; /* foreign key: no such instance */
}

/* Runs a "DELETE ... WHERE address = ?" statement; -ENOENT when it deleted nothing. */
static int delete_by_address(sqlite3 *db, const char *sql, const char *address) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = db_prepare(db, sql, &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, address, -1, SQLITE_TRANSIENT);
        r = step_done(st);
        if (r < 0)
                return r;
        return sqlite3_changes(db) > 0 ? 0 : -ENOENT;
}

int store_claim_delete(sqlite3 *db, const char *address) {
        return delete_by_address(db, "DELETE FROM claims WHERE address = ?", address);
}

int store_claim_foreach(sqlite3 *db, StoreClaimFunc cb, void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r, rc;

        r = db_prepare(db, "SELECT address, instance_id FROM claims ORDER BY address", &st);
        if (r < 0)
                return r;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                r = cb((const char *) sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1), userdata);
                if (r < 0)
                        return r;
        }
        return rc == SQLITE_DONE ? 0 : db_errno(rc);
}

/* ------------------------------------------------------------------------------------------ */
/* partitions */

static void bind_int_or_null(sqlite3_stmt *st, int idx, int64_t v) {
        if (v >= 0)
                sqlite3_bind_int64(st, idx, v);
        else
                sqlite3_bind_null(st, idx);
}

int store_partition_insert(sqlite3 *db, const StorePartition *p) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        bool mig = p->mig_start >= 0;
        int r;

        /* Said here, before a trigger comparing it with the GPU's other partitions could refuse
         * it as taken; the table's CHECK judges the rest of its shape. */
        if (!p->address || !p->kind || p->milli < 1 || p->milli > 1000 || p->memory_bytes == 0 ||
            p->memory_bytes > INT64_MAX)
                return -EINVAL;
        r = db_prepare(db,
                       "INSERT INTO partitions (instance_id, address, kind, profile, mig_start, mig_slices,"
                       " compute_slices, milli, memory_bytes, gi_id, ci_id, uuid, created_usec)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, p->instance_id);
        bind_text_or_null(st, 2, p->address);
        bind_text_or_null(st, 3, p->kind);
        bind_text_or_null(st, 4, p->profile);
        /* A share has no slices: NULL, not 0 (the table's CHECK ties them to the kind). */
        bind_int_or_null(st, 5, p->mig_start);
        bind_int_or_null(st, 6, mig ? (int64_t) p->mig_slices : -1);
        sqlite3_bind_int64(st, 7, p->compute_slices);
        sqlite3_bind_int64(st, 8, p->milli);
        sqlite3_bind_int64(st, 9, (sqlite3_int64) p->memory_bytes);
        bind_int_or_null(st, 10, p->gi_id);
        bind_int_or_null(st, 11, p->ci_id);
        bind_text_or_null(st, 12, p->uuid);
        sqlite3_bind_int64(st, 13, (sqlite3_int64) p->created_usec);
        r = step_done(st);
        if (r == -ENOLINK)
                return -ENOENT; /* foreign key: no such instance */
        if (r == -EIO)
                switch (sqlite3_extended_errcode(db)) {
                case SQLITE_CONSTRAINT_TRIGGER:
                        return -EEXIST; /* the GPU's other partitions or a claim: taken */
                case SQLITE_CONSTRAINT_CHECK:
                case SQLITE_CONSTRAINT_NOTNULL:
                        return -EINVAL; /* not a MIG instance nor a share */
                }
        return r;
}

int store_partition_set_nvml(sqlite3 *db, int64_t instance_id, int gi_id, int ci_id, const char *uuid) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = db_prepare(db, "UPDATE partitions SET gi_id = ?, ci_id = ?, uuid = ? WHERE instance_id = ?",
                       &st);
        if (r < 0)
                return r;
        bind_int_or_null(st, 1, gi_id);
        bind_int_or_null(st, 2, ci_id);
        bind_text_or_null(st, 3, uuid);
        sqlite3_bind_int64(st, 4, instance_id);
        r = step_done(st);
        if (r < 0)
                return r;
        return sqlite3_changes(db) > 0 ? 0 : -ENOENT;
}

int store_partition_delete(sqlite3 *db, int64_t instance_id) {
        /* Its slices go with it (their foreign key, ON DELETE CASCADE). */
        return delete_by_id(db, "DELETE FROM partitions WHERE instance_id = ?", instance_id);
}

int store_partition_foreach(sqlite3 *db, StorePartitionFunc cb, void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r, rc;

        r = db_prepare(db,
                       "SELECT instance_id, address, kind, profile, mig_start, mig_slices, compute_slices,"
                       " milli, memory_bytes, gi_id, ci_id, uuid, created_usec FROM partitions"
                       " ORDER BY address, mig_start, instance_id",
                       &st);
        if (r < 0)
                return r;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                StorePartition p = {
                        .instance_id = sqlite3_column_int64(st, 0),
                        .address = column_text(st, 1),
                        .kind = column_text(st, 2),
                        .profile = column_text(st, 3),
                        .mig_start =
                                sqlite3_column_type(st, 4) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 4),
                        .mig_slices = (unsigned) sqlite3_column_int64(st, 5),
                        .compute_slices = (unsigned) sqlite3_column_int64(st, 6),
                        .milli = (uint32_t) sqlite3_column_int64(st, 7),
                        .memory_bytes = (uint64_t) sqlite3_column_int64(st, 8),
                        .gi_id = sqlite3_column_type(st, 9) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 9),
                        .ci_id =
                                sqlite3_column_type(st, 10) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 10),
                        .uuid = column_text(st, 11),
                        .created_usec = (uint64_t) sqlite3_column_int64(st, 12),
                };

                if (!p.address || !p.kind)
                        return -EBADMSG;
                r = cb(&p, userdata);
                if (r < 0)
                        return r;
        }
        return rc == SQLITE_DONE ? 0 : db_errno(rc);
}

int store_hold_set(sqlite3 *db, const char *address, const char *state, const char *reason, uint64_t usec) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = db_prepare(
                db,
                "INSERT INTO accelerator_holds (address, state, reason, set_usec) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (address) DO UPDATE SET state = excluded.state, reason = excluded.reason, "
                "set_usec = excluded.set_usec",
                &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, address, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, state, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, strempty(reason), -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 4, (sqlite3_int64) usec);
        r = step_done(st);
        return r == -EIO ? -EINVAL : r; /* CHECK: not a state we know */
}

int store_hold_clear(sqlite3 *db, const char *address) {
        return delete_by_address(db, "DELETE FROM accelerator_holds WHERE address = ?", address);
}

int store_hold_foreach(sqlite3 *db, StoreHoldFunc cb, void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r, rc;

        r = db_prepare(db, "SELECT address, state, reason, set_usec FROM accelerator_holds ORDER BY address",
                       &st);
        if (r < 0)
                return r;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                r = cb((const char *) sqlite3_column_text(st, 0), (const char *) sqlite3_column_text(st, 1),
                       (const char *) sqlite3_column_text(st, 2), (uint64_t) sqlite3_column_int64(st, 3),
                       userdata);
                if (r < 0)
                        return r;
        }
        return rc == SQLITE_DONE ? 0 : db_errno(rc);
}

/* ------------------------------------------------------------------------------------------ */
/* tenant members */

int store_member_insert(sqlite3 *db, int64_t tenant_id, const char *kind, uint32_t id, const char *name,
                        uint64_t usec) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = db_prepare(
                db,
                "INSERT INTO tenant_members (tenant_id, kind, id, name, added_usec) VALUES (?, ?, ?, ?, ?)",
                &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, tenant_id);
        sqlite3_bind_text(st, 2, kind, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 3, id);
        sqlite3_bind_text(st, 4, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 5, (sqlite3_int64) usec);
        r = step_done(st);
        if (r == -ENOLINK)
                return -ENOENT;         /* foreign key: no such tenant */
        return r == -EIO ? -EINVAL : r; /* CHECK: a kind we do not know */
}

int store_member_delete(sqlite3 *db, int64_t tenant_id, const char *kind, uint32_t id) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = db_prepare(db, "DELETE FROM tenant_members WHERE tenant_id = ? AND kind = ? AND id = ?", &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, tenant_id);
        sqlite3_bind_text(st, 2, kind, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 3, id);
        r = step_done(st);
        if (r < 0)
                return r;
        return sqlite3_changes(db) > 0 ? 0 : -ENOENT;
}

int store_member_foreach(sqlite3 *db, StoreMemberFunc cb, void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r, rc;

        r = db_prepare(
                db,
                "SELECT t.name, m.kind, m.id, m.name FROM tenant_members m JOIN tenants t ON t.id = m.tenant_id "
                "ORDER BY t.name, m.kind DESC, m.name",
                &st);
        if (r < 0)
                return r;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                r = cb((const char *) sqlite3_column_text(st, 0), (const char *) sqlite3_column_text(st, 1),
                       (uint32_t) sqlite3_column_int64(st, 2), (const char *) sqlite3_column_text(st, 3),
                       userdata);
                if (r < 0)
                        return r;
        }
        return rc == SQLITE_DONE ? 0 : db_errno(rc);
}

int store_instance_set_firmware(sqlite3 *db, int64_t id, bool uefi) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = db_prepare(db, "UPDATE instances SET firmware = ? WHERE id = ?", &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, uefi ? "uefi" : "bios", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, id);
        r = step_done(st);
        if (r < 0)
                return r;
        return sqlite3_changes(db) > 0 ? 0 : -ENOENT;
}

int store_instance_set_preempted(sqlite3 *db, int64_t id, unsigned gpus, const char *model) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = db_prepare(db, "UPDATE instances SET preempted_gpus = ?, preempted_model = ? WHERE id = ?", &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, gpus);
        bind_text_or_null(st, 2, gpus > 0 ? model : NULL);
        sqlite3_bind_int64(st, 3, id);
        r = step_done(st);
        if (r < 0)
                return r;
        return sqlite3_changes(db) > 0 ? 0 : -ENOENT;
}

/* ------------------------------------------------------------------------------------------ */
/* tenant quotas */

int store_quota_set(sqlite3 *db, int64_t tenant_id, const Quota *q) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        if (q->guarantee == 0 && q->limit == QUOTA_UNLIMITED)
                r = db_prepare(
                        db, "DELETE FROM tenant_quotas WHERE tenant_id = ? AND resource = ? AND model = ?",
                        &st);
        else
                r = db_prepare(
                        db,
                        "INSERT INTO tenant_quotas (tenant_id, resource, model, guarantee, limit_amount) "
                        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant_id, resource, model) DO UPDATE SET "
                        "guarantee = excluded.guarantee, limit_amount = excluded.limit_amount",
                        &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, tenant_id);
        sqlite3_bind_text(st, 2, quota_resource_to_string(q->resource), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, q->model, -1, SQLITE_TRANSIENT);
        if (!(q->guarantee == 0 && q->limit == QUOTA_UNLIMITED)) {
                if (q->guarantee > INT64_MAX || (q->limit != QUOTA_UNLIMITED && q->limit > INT64_MAX))
                        return -ERANGE;
                sqlite3_bind_int64(st, 4, (sqlite3_int64) q->guarantee);
                if (q->limit == QUOTA_UNLIMITED)
                        sqlite3_bind_null(st, 5);
                else
                        sqlite3_bind_int64(st, 5, (sqlite3_int64) q->limit);
        }
        r = step_done(st);
        if (r == -ENOLINK)
                return -ENOENT; /* foreign key: no such tenant */
        return r == -EIO ? -EINVAL : r;
}

int store_quota_foreach(sqlite3 *db, StoreQuotaFunc cb, void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r, rc;

        r = db_prepare(
                db,
                "SELECT t.name, q.resource, q.model, q.guarantee, q.limit_amount FROM tenant_quotas q "
                "JOIN tenants t ON t.id = q.tenant_id ORDER BY t.name, q.resource, q.model",
                &st);
        if (r < 0)
                return r;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                Quota q = {
                        .resource = quota_resource_from_string((const char *) sqlite3_column_text(st, 1)),
                        .guarantee = (uint64_t) sqlite3_column_int64(st, 3),
                        .limit = sqlite3_column_type(st, 4) == SQLITE_NULL
                                ? QUOTA_UNLIMITED
                                : (uint64_t) sqlite3_column_int64(st, 4),
                };
                if (q.resource < 0)
                        return -EBADMSG;
                snprintf(q.model, sizeof(q.model), "%s", (const char *) sqlite3_column_text(st, 2));
                r = cb((const char *) sqlite3_column_text(st, 0), &q, userdata);
                if (r < 0)
                        return r;
        }
        return rc == SQLITE_DONE ? 0 : db_errno(rc);
}

int store_bundle_insert(sqlite3 *db, StoreBundle *b) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = db_prepare(
                db,
                "INSERT INTO bundles (kind, tenant_id, name, version, key_id, sha256, size_bytes, files,"
                " directory, manifest, imported_usec, imported_uid)"
                " SELECT ?1, (SELECT id FROM tenants WHERE name = ?2), ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12"
                " WHERE ?2 IS NULL OR EXISTS (SELECT 1 FROM tenants WHERE name = ?2)",
                &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, b->kind, -1, SQLITE_TRANSIENT);
        bind_text_or_null(st, 2, b->tenant);
        sqlite3_bind_text(st, 3, b->name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 4, b->version, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 5, b->key_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 6, b->sha256, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 7, (sqlite3_int64) b->size_bytes);
        sqlite3_bind_int64(st, 8, b->files);
        sqlite3_bind_text(st, 9, b->directory, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 10, b->manifest, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 11, (sqlite3_int64) b->imported_usec);
        sqlite3_bind_int64(st, 12, b->imported_uid);
        r = step_done(st);
        if (r < 0)
                return r;
        if (sqlite3_changes(db) == 0)
                return -ENOENT; /* no such tenant */
        b->id = sqlite3_last_insert_rowid(db);
        return 0;
}

int store_bundle_delete(sqlite3 *db, int64_t id) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = db_prepare(db, "DELETE FROM bundles WHERE id = ?", &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, id);
        r = step_done(st);
        if (r < 0)
                return r;
        return sqlite3_changes(db) > 0 ? 0 : -ENOENT;
}

int store_bundle_foreach(sqlite3 *db, StoreBundleFunc cb, void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r, rc;

        r = db_prepare(
                db,
                "SELECT b.id, b.kind, t.name, b.name, b.version, b.key_id, b.sha256, b.size_bytes, b.files,"
                " b.directory, b.manifest, b.imported_usec, b.imported_uid"
                " FROM bundles b LEFT JOIN tenants t ON t.id = b.tenant_id ORDER BY b.id",
                &st);
        if (r < 0)
                return r;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                StoreBundle b = {
                        .id = sqlite3_column_int64(st, 0),
                        .kind = (const char *) sqlite3_column_text(st, 1),
                        .tenant = (const char *) sqlite3_column_text(st, 2),
                        .name = (const char *) sqlite3_column_text(st, 3),
                        .version = (const char *) sqlite3_column_text(st, 4),
                        .key_id = (const char *) sqlite3_column_text(st, 5),
                        .sha256 = (const char *) sqlite3_column_text(st, 6),
                        .size_bytes = (uint64_t) sqlite3_column_int64(st, 7),
                        .files = (unsigned) sqlite3_column_int64(st, 8),
                        .directory = (const char *) sqlite3_column_text(st, 9),
                        .manifest = (const char *) sqlite3_column_text(st, 10),
                        .imported_usec = (uint64_t) sqlite3_column_int64(st, 11),
                        .imported_uid = (uint32_t) sqlite3_column_int64(st, 12),
                };

                r = cb(&b, userdata);
                if (r < 0)
                        return r;
        }
        return rc == SQLITE_DONE ? 0 : db_errno(rc);
}

/* ---------------------------------------------------------------------------------- networks */

int store_network_insert(sqlite3 *db, StoreNetwork *n) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        if (!n->uuid || strlen(n->uuid) != 36)
                return -EINVAL;
        r = db_prepare(
                db,
                "INSERT INTO networks (uuid, name, tenant_id, mode, subnet4, subnet6, vlan_id, uplink,"
                " segment, mtu, bridge, mac, created_usec)"
                " SELECT ?1, ?2, t.id, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13"
                " FROM tenants t WHERE t.name = ?3",
                &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, n->uuid, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, n->name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, n->tenant, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 4, n->mode, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 5, n->subnet4, -1, SQLITE_TRANSIENT);
        bind_text_or_null(st, 6, n->subnet6);
        if (n->vlan_id > 0)
                sqlite3_bind_int64(st, 7, n->vlan_id);
        else
                sqlite3_bind_null(st, 7);
        bind_text_or_null(st, 8, n->uplink);
        sqlite3_bind_int64(st, 9, n->segment);
        sqlite3_bind_int64(st, 10, n->mtu);
        sqlite3_bind_text(st, 11, n->bridge, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 12, n->mac, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 13, (sqlite3_int64) n->created_usec);
        r = step_done(st);
        if (r < 0)
                return r;
        if (sqlite3_changes(db) == 0)
                return -ENOENT; /* no such tenant */
        n->id = sqlite3_last_insert_rowid(db);
        return 0;
}

/* Whether a row matches `sql` with `id` bound: 1, 0, or a negative errno. */
static int exists_with_id(sqlite3 *db, const char *sql, int64_t id) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = db_prepare(db, sql, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, id);
        r = sqlite3_step(st);
        if (r == SQLITE_ROW)
                return 1;
        return r == SQLITE_DONE ? 0 : db_errno_of(db, r);
}

int store_network_delete(sqlite3 *db, int64_t id) {
        int r;

        /* Asked first, as for tenants: the foreign key's refusal cannot be told from others. */
        r = exists_with_id(db, "SELECT 1 FROM nics WHERE network_id = ? LIMIT 1", id);
        if (r < 0)
                return r;
        if (r > 0)
                return -EBUSY;
        return delete_by_id(db, "DELETE FROM networks WHERE id = ?", id);
}

int store_network_foreach(sqlite3 *db, StoreNetworkFunc cb, void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r, rc;

        r = db_prepare(
                db,
                "SELECT n.id, n.uuid, n.name, t.name, n.mode, n.subnet4, n.subnet6, n.vlan_id, n.uplink,"
                " n.segment, n.mtu, n.bridge, n.mac, n.created_usec"
                " FROM networks n JOIN tenants t ON t.id = n.tenant_id ORDER BY n.name DESC, t.name DESC",
                &st);
        if (r < 0)
                return r;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                StoreNetwork n = {
                        .id = sqlite3_column_int64(st, 0),
                        .uuid = column_text(st, 1),
                        .name = column_text(st, 2),
                        .tenant = column_text(st, 3),
                        .mode = column_text(st, 4),
                        .subnet4 = column_text(st, 5),
                        .subnet6 = column_text(st, 6),
                        .vlan_id = (unsigned) sqlite3_column_int64(st, 7),
                        .uplink = column_text(st, 8),
                        .segment = (uint32_t) sqlite3_column_int64(st, 9),
                        .mtu = (unsigned) sqlite3_column_int64(st, 10),
                        .bridge = column_text(st, 11),
                        .mac = column_text(st, 12),
                        .created_usec = (uint64_t) sqlite3_column_int64(st, 13),
                };

                if (!n.uuid || !n.name || !n.tenant || !n.mode || !n.subnet4 || !n.bridge || !n.mac)
                        return -EBADMSG;
                r = cb(&n, userdata);
                if (r < 0)
                        return r;
        }
        return rc == SQLITE_DONE ? 0 : db_errno(rc);
}

int store_nic_insert(sqlite3 *db, StoreNic *n) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = db_prepare(db,
                       "INSERT INTO nics (instance_id, network_id, position, mac, ip4, ifname)"
                       " VALUES (?, ?, ?, ?, ?, ?)",
                       &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, n->instance_id);
        sqlite3_bind_int64(st, 2, n->network_id);
        sqlite3_bind_int64(st, 3, n->position);
        sqlite3_bind_text(st, 4, n->mac, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 5, n->ip4, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 6, n->ifname, -1, SQLITE_TRANSIENT);
        r = step_done(st);
        if (r == -ENOLINK)
                return -ENOENT; /* no such instance or network */
        if (r < 0)
                return r;
        n->id = sqlite3_last_insert_rowid(db);
        return 0;
}

int store_nic_delete(sqlite3 *db, int64_t id) {
        return delete_by_id(db, "DELETE FROM nics WHERE id = ?", id);
}

int store_nic_foreach(sqlite3 *db, StoreNicFunc cb, void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r, rc;

        r = db_prepare(db,
                       "SELECT id, instance_id, network_id, position, mac, ip4, ifname FROM nics"
                       " ORDER BY instance_id, position",
                       &st);
        if (r < 0)
                return r;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                StoreNic n = {
                        .id = sqlite3_column_int64(st, 0),
                        .instance_id = sqlite3_column_int64(st, 1),
                        .network_id = sqlite3_column_int64(st, 2),
                        .position = (unsigned) sqlite3_column_int64(st, 3),
                        .mac = column_text(st, 4),
                        .ip4 = column_text(st, 5),
                        .ifname = column_text(st, 6),
                };

                if (!n.mac || !n.ip4 || !n.ifname)
                        return -EBADMSG;
                r = cb(&n, userdata);
                if (r < 0)
                        return r;
        }
        return rc == SQLITE_DONE ? 0 : db_errno(rc);
}

int store_forward_insert(sqlite3 *db, StoreForward *f) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = db_prepare(
                db,
                "INSERT INTO forwards (nic_id, proto, port, to_port, created_usec) VALUES (?, ?, ?, ?, ?)",
                &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, f->nic_id);
        sqlite3_bind_text(st, 2, f->proto, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 3, f->port);
        sqlite3_bind_int64(st, 4, f->to_port);
        sqlite3_bind_int64(st, 5, (sqlite3_int64) f->created_usec);
        r = step_done(st);
        if (r == -ENOLINK)
                return -ENOENT; /* no such NIC */
        if (r < 0)
                return r;
        f->id = sqlite3_last_insert_rowid(db);
        return 0;
}

int store_forward_delete(sqlite3 *db, int64_t id) {
        return delete_by_id(db, "DELETE FROM forwards WHERE id = ?", id);
}

int store_forward_foreach(sqlite3 *db, StoreForwardFunc cb, void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r, rc;

        r = db_prepare(
                db,
                "SELECT id, nic_id, proto, port, to_port, created_usec FROM forwards ORDER BY proto, port",
                &st);
        if (r < 0)
                return r;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                StoreForward f = {
                        .id = sqlite3_column_int64(st, 0),
                        .nic_id = sqlite3_column_int64(st, 1),
                        .proto = column_text(st, 2),
                        .port = (unsigned) sqlite3_column_int64(st, 3),
                        .to_port = (unsigned) sqlite3_column_int64(st, 4),
                        .created_usec = (uint64_t) sqlite3_column_int64(st, 5),
                };

                if (!f.proto)
                        return -EBADMSG;
                r = cb(&f, userdata);
                if (r < 0)
                        return r;
        }
        return rc == SQLITE_DONE ? 0 : db_errno(rc);
}

/* ------------------------------------------------------------------------------------------ */
/* idmaps */

int store_idmap_get(sqlite3 *db, const char *tenant, uint32_t *ret_base, uint32_t *ret_count) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r, rc;

        r = db_prepare(
                db,
                "SELECT m.base, m.count FROM idmaps m JOIN tenants t ON t.id = m.tenant_id WHERE t.name = ?",
                &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, tenant, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return db_errno(rc);
        *ret_base = (uint32_t) sqlite3_column_int64(st, 0);
        *ret_count = (uint32_t) sqlite3_column_int64(st, 1);
        return 0;
}

int store_idmap_allocate(sqlite3 *db, const char *tenant, uint32_t first, uint32_t count, uint64_t limit,
                         uint64_t usec, uint32_t *ret_base) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        uint32_t base, n;
        int64_t next;
        int r, rc;

        if (count == 0)
                return -EINVAL;
        if (store_idmap_get(db, tenant, &base, &n) == 0)
                return -EEXIST;
        r = db_prepare(db, "SELECT MAX(base + count) FROM idmaps", &st);
        if (r < 0)
                return r;
        rc = sqlite3_step(st);
        if (rc != SQLITE_ROW)
                return db_errno(rc);
        next = sqlite3_column_type(st, 0) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 0);
        if (next < (int64_t) first)
                next = first;
        if ((uint64_t) next + count > limit)
                return -ENOSPC;
        sqlite3_finalize(TAKE_PTR(st));
        r = db_prepare(db,
                       "INSERT INTO idmaps (base, count, tenant_uuid, tenant_id, created_usec)"
                       " SELECT ?, ?, uuid, id, ? FROM tenants WHERE name = ?",
                       &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, next);
        sqlite3_bind_int64(st, 2, count);
        sqlite3_bind_int64(st, 3, (sqlite3_int64) usec);
        sqlite3_bind_text(st, 4, tenant, -1, SQLITE_TRANSIENT);
        r = step_done(st);
        if (r < 0)
                return r;
        if (sqlite3_changes(db) == 0)
                return -ENOENT;
        *ret_base = (uint32_t) next;
        return 0;
}

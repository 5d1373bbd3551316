#pragma once

/* The state store: SQLite (WAL) under the state directory. It holds intent: tenants and
 * instances with their full spec and desired state. Every function here is one statement; callers
 * group them into one transaction with db_transaction_begin()/commit() (lib/shared/db.h). Nothing
 * here logs; failures return a negative errno and leave the SQLite message in db_errmsg(). */

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "pool/quota.h"

#define STORE_FILE "ark.db"

/* Opens <state_dir>/ark.db, creating it and migrating the schema forward. */
int store_open(const char *state_dir, sqlite3 **ret);
/* Number of schema versions this binary knows. */
int store_schema_latest(void);

/* The store hands out plain records: strings are borrowed (from the caller on insert, from SQLite
 * for the duration of the callback in foreach); the owners (tenant.c, instance.c) build their
 * objects from them. */

/* A tenant. uuid: 36 characters, never reused. */
typedef struct StoreTenant {
        int64_t id;
        const char *uuid, *name, *description;
        uint64_t created_usec;
} StoreTenant;

/* Inserts t (id ignored) and sets t->id. -EINVAL when t->uuid is not 36 characters; -EEXIST when
 * the name or UUID is taken. */
int store_tenant_insert(sqlite3 *db, StoreTenant *t);
/* -EBUSY when the tenant still owns instances, -ENOENT when there is no such row. */
int store_tenant_delete(sqlite3 *db, int64_t id);
int store_tenant_update_description(sqlite3 *db, int64_t id, const char *description);
/* Calls cb for every tenant, by name in descending order (an owner prepending to a list gets it
 * sorted); stops at and returns the first negative result. */
typedef int (*StoreTenantFunc)(const StoreTenant *t, void *userdata);
int store_tenant_foreach(sqlite3 *db, StoreTenantFunc cb, void *userdata);

/* An instance: its full spec and desired state. Optional strings are NULL when unset;
 * domain_name NULL on insert = the name. */
typedef struct StoreInstance {
        int64_t id;
        const char *uuid, *name, *tenant, *domain_name, *type;
        unsigned vcpus;
        uint64_t memory_bytes;
        const char *disk_path;
        uint64_t disk_bytes;
        bool disk_owned;
        const char *image, *kernel, *initrd, *cmdline, *console_log;
        bool desired_running;
        bool uefi;
        uint64_t created_usec;
        bool preemptible;
        unsigned preempted_gpus;
        const char *preempted_model;
        int64_t model_id; /* 0 = none */
        /* containers: the image's bundle row (0 = none), the command and environment as JSON
         * arrays of strings (NULL = the image's) */
        int64_t container_image_id;
        const char *args_json, *env_json;
} StoreInstance;

/* Inserts i (id, preempted_gpus and preempted_model ignored) and sets i->id. -EEXIST when the name
 * (within the tenant), the UUID or the domain name is taken; -ENOENT when the tenant does not exist. */
int store_instance_insert(sqlite3 *db, StoreInstance *i);
/* These return -ENOENT when there is no such row. */
int store_instance_delete(sqlite3 *db, int64_t id);
int store_instance_set_desired(sqlite3 *db, int64_t id, bool running);
int store_instance_set_firmware(sqlite3 *db, int64_t id, bool uefi);
/* Records the GPUs a reclaim took from the instance (0: none, it has them again). */
int store_instance_set_preempted(sqlite3 *db, int64_t id, unsigned gpus, const char *model);
/* Calls cb for every instance, by name then tenant in descending order; stops at and returns the
 * first negative result. -EBADMSG for a row without a 36-character UUID, a name, a tenant or a type. */
typedef int (*StoreInstanceFunc)(const StoreInstance *i, void *userdata);
int store_instance_foreach(sqlite3 *db, StoreInstanceFunc cb, void *userdata);

/* Claims: which instance holds which accelerator, by PCI address. -EEXIST when the address is
 * claimed already (by anyone: the primary key decides) or carries partitions (a trigger decides),
 * -ENOENT when the instance does not exist. Deleting an instance deletes its claims (ON DELETE
 * CASCADE). */
int store_claim_insert(sqlite3 *db, const char *address, int64_t instance_id, uint64_t usec);
/* -ENOENT when the address is not claimed. */
int store_claim_delete(sqlite3 *db, const char *address);
/* Calls cb for every claim in address order; stops at and returns the first negative result. */
typedef int (*StoreClaimFunc)(const char *address, int64_t instance_id, void *userdata);
int store_claim_foreach(sqlite3 *db, StoreClaimFunc cb, void *userdata);

/* Partitions: the part of one GPU (by PCI address) a container holds instead of whole GPUs, at most
 * one per instance: a MIG instance or an MPS share. The schema refuses, inside the caller's
 * transaction, what must never be on a GPU: MIG instances whose memory slices overlap (one row per
 * slice, keyed by the slice), a partition on a claimed GPU (and a claim on a partitioned one), MIG
 * instances and shares on one GPU, shares of two tenants or of two sizes on one GPU (MPS: one
 * server per host UID, its limits per server; docs/gpu-sharing.md), shares adding up to more than
 * 1000 milli, MIG instances taking more than 7 compute slices. Deleting the instance deletes its
 * partition and slices (ON DELETE CASCADE). */
typedef struct StorePartition {
        int64_t instance_id;
        const char *address;
        const char *kind;        /* "mig" or "share" */
        const char *profile;     /* MIG: the profile's name ("3g.40gb"); NULL for a share */
        int mig_start;           /* MIG: first memory slice, 0..7; -1 for a share */
        unsigned mig_slices;     /* MIG: memory slices covered, from mig_start; 0 for a share */
        unsigned compute_slices; /* MIG: 1..7; 0 for a share */
        uint32_t milli;          /* what it counts as of its GPU, 1..1000 */
        uint64_t memory_bytes;   /* > 0 */
        int gi_id, ci_id;        /* the GPU and compute instance NVML made; -1: none (NULL) */
        const char *uuid;        /* NVML's "MIG-..." UUID; NULL: none */
        uint64_t created_usec;
} StorePartition;
/* Inserts p and, for a MIG instance, its memory slices: one statement (the slices come from a
 * trigger), so all of it or nothing, also inside a transaction. -EEXIST when the schema refuses it
 * (a trigger above, an overlapping slice, the instance has a partition already), -EINVAL for a
 * record that is not a MIG instance nor a share as described above, -ENOENT when the instance does
 * not exist. gi_id, ci_id and uuid are written as given. */
int store_partition_insert(sqlite3 *db, const StorePartition *p);
/* Records what NVML made for the instance's partition; -1, -1, NULL clears it (after a reboot).
 * -ENOENT when the instance has no partition. */
int store_partition_set_nvml(sqlite3 *db, int64_t instance_id, int gi_id, int ci_id, const char *uuid);
/* Deletes the instance's partition and its slices; -ENOENT when it has none. */
int store_partition_delete(sqlite3 *db, int64_t instance_id);
/* Calls cb for every partition by address, then mig_start (shares first), then instance; stops at
 * and returns the first negative result. -EBADMSG for a row without an address or kind. */
typedef int (*StorePartitionFunc)(const StorePartition *p, void *userdata);
int store_partition_foreach(sqlite3 *db, StorePartitionFunc cb, void *userdata);

/* Holds: accelerators kept from VMs by the admin, "reserved" (for the host) or "quarantined"
 * (after failures), with a reason. Set replaces an earlier hold; -EINVAL for another state.
 * Clear: -ENOENT when there was none. */
int store_hold_set(sqlite3 *db, const char *address, const char *state, const char *reason, uint64_t usec);
int store_hold_clear(sqlite3 *db, const char *address);
typedef int (*StoreHoldFunc)(const char *address, const char *state, const char *reason, uint64_t set_usec,
                             void *userdata);
int store_hold_foreach(sqlite3 *db, StoreHoldFunc cb, void *userdata);

/* Tenant members: Unix users and groups ("user"/"group", the numeric id, the name). -EEXIST when
 * already a member, -ENOENT when the tenant does not exist; delete: -ENOENT when not a member.
 * Deleting a tenant deletes its members. */
int store_member_insert(sqlite3 *db, int64_t tenant_id, const char *kind, uint32_t id, const char *name,
                        uint64_t usec);
int store_member_delete(sqlite3 *db, int64_t tenant_id, const char *kind, uint32_t id);
/* Every member, by tenant name, users before groups. */
typedef int (*StoreMemberFunc)(const char *tenant, const char *kind, uint32_t id, const char *name,
                               void *userdata);
int store_member_foreach(sqlite3 *db, StoreMemberFunc cb, void *userdata);

/* Sets a tenant's quota on one resource (and model); no guarantee and no limit deletes the row.
 * -ENOENT: no such tenant. */
int store_quota_set(sqlite3 *db, int64_t tenant_id, const Quota *q);
typedef int (*StoreQuotaFunc)(const char *tenant, const Quota *q, void *userdata);
int store_quota_foreach(sqlite3 *db, StoreQuotaFunc cb, void *userdata);

/* Bundles: what signed bundles installed (bundles.h). tenant NULL = shared. Insert sets b->id;
 * -EEXIST when that kind, tenant, name and version (or the directory) is taken, -ENOENT when the
 * tenant does not exist. Delete: -ENOENT when there is no such row. */
typedef struct StoreBundle {
        int64_t id;
        const char *kind, *tenant, *name, *version, *key_id, *sha256, *directory, *manifest;
        uint64_t size_bytes, imported_usec;
        uint32_t imported_uid;
        unsigned files;
} StoreBundle;
int store_bundle_insert(sqlite3 *db, StoreBundle *b);
int store_bundle_delete(sqlite3 *db, int64_t id);
typedef int (*StoreBundleFunc)(const StoreBundle *b, void *userdata);
int store_bundle_foreach(sqlite3 *db, StoreBundleFunc cb, void *userdata);

/* Tenant networks (network.h). A network belongs to a tenant and is deleted with it; mode is
 * "nat", "isolated" or "vlan"; subnet6 NULL = no IPv6; vlan_id 0 = none; uplink NULL = none (or
 * the default one, for "nat"). Insert sets n->id: -EINVAL when n->uuid is not 36 characters,
 * -EEXIST when the name (within the tenant), the UUID, the segment or the bridge is taken,
 * -ENOENT when the tenant does not exist. Delete: -EBUSY while NICs are on it, -ENOENT. */
typedef struct StoreNetwork {
        int64_t id;
        const char *uuid, *name, *tenant, *mode, *subnet4, *subnet6;
        unsigned vlan_id;
        const char *uplink;
        uint32_t segment;
        unsigned mtu;
        const char *bridge, *mac;
        uint64_t created_usec;
} StoreNetwork;
int store_network_insert(sqlite3 *db, StoreNetwork *n);
int store_network_delete(sqlite3 *db, int64_t id);
/* By name then tenant in descending order (an owner prepending to a list gets it sorted). */
typedef int (*StoreNetworkFunc)(const StoreNetwork *n, void *userdata);
int store_network_foreach(sqlite3 *db, StoreNetworkFunc cb, void *userdata);

/* A NIC: an instance's port on a network, with the MAC, IPv4 address and host-side interface name
 * arkd chose; position orders an instance's NICs. Deleted with its instance. Insert sets n->id:
 * -EEXIST when the MAC, the address on that network, the interface name, or the instance's place
 * on that network is taken; -ENOENT when the instance or the network does not exist. */
typedef struct StoreNic {
        int64_t id, instance_id, network_id;
        unsigned position;
        const char *mac, *ip4, *ifname;
} StoreNic;
int store_nic_insert(sqlite3 *db, StoreNic *n);
int store_nic_delete(sqlite3 *db, int64_t id);
/* By instance, then position. */
typedef int (*StoreNicFunc)(const StoreNic *n, void *userdata);
int store_nic_foreach(sqlite3 *db, StoreNicFunc cb, void *userdata);

/* A forward: host port `port` (proto "tcp" or "udp") to port `to_port` of a NIC's address; deleted
 * with the NIC. Insert sets f->id: -EEXIST when that protocol and port are forwarded already,
 * -ENOENT when the NIC does not exist. */
typedef struct StoreForward {
        int64_t id, nic_id;
        const char *proto;
        unsigned port, to_port;
        uint64_t created_usec;
} StoreForward;
int store_forward_insert(sqlite3 *db, StoreForward *f);
int store_forward_delete(sqlite3 *db, int64_t id);
/* By protocol, then port. */
typedef int (*StoreForwardFunc)(const StoreForward *f, void *userdata);
int store_forward_foreach(sqlite3 *db, StoreForwardFunc cb, void *userdata);

/* ------------------------------------------------------------------------------------------ */
/* The host UIDs and GIDs of a tenant's containers: [base, base + count). */

/* The tenant's range: 0 and *ret_base, *ret_count; -ENOENT when it has none yet. */
int store_idmap_get(sqlite3 *db, const char *tenant, uint32_t *ret_base, uint32_t *ret_count);
/* Gives the tenant a range of `count` IDs above every range ever handed out (those of deleted
 * tenants too), at `first` or higher, ending at or below `limit`. -EEXIST when it has one (*ret_base
 * is not set then), -ENOENT when there is no such tenant, -ENOSPC when the IDs up to limit are
 * spent. */
int store_idmap_allocate(sqlite3 *db, const char *tenant, uint32_t first, uint32_t count, uint64_t limit,
                         uint64_t usec, uint32_t *ret_base);

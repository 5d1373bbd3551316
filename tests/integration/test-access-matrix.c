/* The access matrix: every method and property arkd exports, called and read as each of four roles
 * (an admin, a member of tenant A, a member of tenant B, a user in no tenant) against the host and
 * against objects of tenant A and of tenant B, free accelerators and shared bundles, and compared
 * with one table of what each role may do.
 *
 * What to call comes from arkd itself: the test walks the introspection data of every object it
 * exports, and a method or property with no row in the table fails the test ("... has no entry in
 * the access matrix: decide who may call it"); a row for something arkd no longer exports fails it
 * too. New API therefore cannot ship without a decision about who may call it, and
 * test_matrix_cannot_go_stale shows the check catching both. Every reply and error message a member
 * or the user in no tenant receives is searched for the names of the tenants it is not a member
 * of.
 *
 * Each call runs in a child process that has become the role's Unix user and opened its own bus
 * connection, so arkd sees the caller as it would on the system bus. Needs root (to create users);
 * skipped with a message otherwise. ARK_TEST_MATRIX_VERBOSE=1 prints every call and its answer. */

#include "itest.h"

#include <fcntl.h>
#include <inttypes.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"

static Harness H;

#define IFACE_BUNDLE "org.ark.Ark1.Bundle"
#define PREFIX_BUNDLE "/org/ark/Ark1/bundle"
#define IFACE_PROPERTIES "org.freedesktop.DBus.Properties"
#define IFACE_INTROSPECTABLE "org.freedesktop.DBus.Introspectable"
#define IFACE_OBJECT_MANAGER "org.freedesktop.DBus.ObjectManager"

/* The fixtures. Names are distinctive so that a leak is found by plain substring search, and no
 * name of one tenant is part of a name of the other. */
#define TENANT_A "mxalpha"
#define TENANT_B "mxbravo"
#define DESC_A "Project Aurora"
#define DESC_B "Project Zephyr"
#define VM_A "alfvm"     /* running, holds GPU_A, serves MODEL_A */
#define IDLE_A "alfidle" /* stopped, no GPU and no disk, serves MODEL_SHARED */
#define VM_B "brvvm"     /* running, holds GPU_B, serves MODEL_B */
#define IDLE_B "brvidle" /* stopped, no GPU and no disk */
#define NET_A "alfnet"   /* A's network, VM_A on it */
#define NET_B "brvnet"   /* B's network, VM_B on it */
#define MODEL_A "mxa-model"
#define MODEL_B "mxb-model"
#define MODEL_SHARED "mxs-model"
#define GPU_A "0000:18:00.0"
#define GPU_B "0000:db:00.0"
#define GPU_FREE "0000:5d:00.0"
#define USER_A "ark-m-a"
#define USER_B "ark-m-b"
#define USER_NONE "ark-m-none"
/* arkd answers a non-admin caller who made too many refused calls (AccessDenied, InvalidArgument)
 * with TooManyRequests for a while, per UID (api-guard.h); the matrix makes a few hundred. Each
 * role is played by this many users in turn (USER_A, then USER_A1, USER_A2...), and a call that is
 * still answered TooManyRequests is made again a second later. */
#define USERS_PER_ROLE 6
#define REVOKED_KEY_ID "0123456789abcdef"
#define UNKNOWN_KEY_ID "fedcba9876543210"

/* What a tenant's member must never read in anything arkd tells it about the other tenant. */
static const char *const names_of_a[] = { TENANT_A, "Aurora", VM_A, IDLE_A, MODEL_A, USER_A, NET_A, NULL };
static const char *const names_of_b[] = { TENANT_B, "Zephyr", VM_B, IDLE_B, MODEL_B, USER_B, NET_B, NULL };

/* ---------------------------------------------------------------------------------- roles */

typedef enum Role {
        ROLE_ADMIN,
        ROLE_A,
        ROLE_B,
        ROLE_NONE,
        _ROLE_MAX,
} Role;

static const struct {
        const char *label;
        const char *user; /* NULL: root; else the first of the role's users */
} roles[_ROLE_MAX] = {
        [ROLE_ADMIN] = { "admin", NULL },
        [ROLE_A] = { "member of A", USER_A },
        [ROLE_B] = { "member of B", USER_B },
        [ROLE_NONE] = { "user in no tenant", USER_NONE },
};

typedef struct Account {
        char *name;
        uid_t uid;
        gid_t gid;
} Account;

static Account accounts[_ROLE_MAX][USERS_PER_ROLE];
static unsigned next_account[_ROLE_MAX];

/* The network namespace arkd runs in (its networks' bridges stay out of the machine's). */
static char netns_name[64], netns_path[128];

/* The fixture key's PEM text (TrustKey of a key trusted already). */
static char *trusted_pem;

/* ---------------------------------------------------------------------------------- targets */

typedef enum Kind {
        K_HOST, /* the manager object, or a manager method that names no object */
        K_TENANT,
        K_INSTANCE,
        K_ACCEL,
        K_BUNDLE,
        K_NETWORK,
        _K_MAX,
} Kind;

static const char *const kind_iface[_K_MAX] = {
        [K_HOST] = ARK_BUS_IFACE_MANAGER,
        [K_TENANT] = ARK_BUS_IFACE_TENANT,
        [K_INSTANCE] = ARK_BUS_IFACE_INSTANCE,
        [K_ACCEL] = ARK_BUS_IFACE_ACCELERATOR,
        [K_BUNDLE] = IFACE_BUNDLE,
        [K_NETWORK] = ARK_BUS_IFACE_NETWORK,
};

typedef struct Target {
        const char *label;
        Kind kind;
        int owner;          /* 0: nobody's (the host, a free accelerator, a shared bundle); 1: A's; 2: B's */
        const char *name;   /* tenant or instance name, PCI address; NULL for the host and bundles */
        const char *tenant; /* the tenant it belongs to, NULL for none */
        bool stopped;       /* an instance that is stopped (else it runs) */
        char *path;
} Target;

enum {
        T_HOST,
        T_TENANT_A,
        T_TENANT_B,
        T_INSTANCE_A,
        T_INSTANCE_B,
        T_IDLE_A,
        T_IDLE_B,
        T_ACCEL_FREE,
        T_ACCEL_A,
        T_ACCEL_B,
        T_BUNDLE_SHARED,
        T_BUNDLE_A,
        T_BUNDLE_B,
        T_NETWORK_A,
        T_NETWORK_B,
        _T_MAX,
};

static Target targets[_T_MAX] = {
        [T_HOST] = { "the manager", K_HOST, 0, NULL, NULL },
        [T_TENANT_A] = { "tenant A", K_TENANT, 1, TENANT_A, TENANT_A },
        [T_TENANT_B] = { "tenant B", K_TENANT, 2, TENANT_B, TENANT_B },
        [T_INSTANCE_A] = { "running instance of A", K_INSTANCE, 1, VM_A, TENANT_A },
        [T_INSTANCE_B] = { "running instance of B", K_INSTANCE, 2, VM_B, TENANT_B },
        [T_IDLE_A] = { "stopped instance of A", K_INSTANCE, 1, IDLE_A, TENANT_A, .stopped = true },
        [T_IDLE_B] = { "stopped instance of B", K_INSTANCE, 2, IDLE_B, TENANT_B, .stopped = true },
        [T_ACCEL_FREE] = { "free accelerator", K_ACCEL, 0, GPU_FREE, NULL },
        [T_ACCEL_A] = { "accelerator claimed by A", K_ACCEL, 1, GPU_A, TENANT_A },
        [T_ACCEL_B] = { "accelerator claimed by B", K_ACCEL, 2, GPU_B, TENANT_B },
        [T_BUNDLE_SHARED] = { "shared bundle", K_BUNDLE, 0, NULL, NULL },
        [T_BUNDLE_A] = { "bundle of A", K_BUNDLE, 1, NULL, TENANT_A },
        [T_BUNDLE_B] = { "bundle of B", K_BUNDLE, 2, NULL, TENANT_B },
        [T_NETWORK_A] = { "network of A", K_NETWORK, 1, NET_A, TENANT_A },
        [T_NETWORK_B] = { "network of B", K_NETWORK, 2, NET_B, TENANT_B },
};

/* Objects that do not exist, one per kind: an object the caller may not see must fail exactly as
 * these do. */
static Target phantoms[_K_MAX] = {
        [K_TENANT] = { "a tenant that does not exist", K_TENANT, 0, "mxghost", NULL },
        [K_INSTANCE] = { "an instance that does not exist", K_INSTANCE, 0, "ghostvm", NULL },
        [K_ACCEL] = { "an accelerator that does not exist", K_ACCEL, 0, "0000:ff:1f.7", NULL },
        [K_BUNDLE] = { "a bundle that does not exist", K_BUNDLE, 0, NULL, NULL },
        [K_NETWORK] = { "a network that does not exist", K_NETWORK, 0, "ghostnet", NULL },
};

/* The tenant a role acts in when a call must name one: its own; for the user in no tenant always
 * A (so that a call and its phantom read alike); for an admin the target's, else A. */
static const char *act_tenant(Role role, const Target *t) {
        if (role == ROLE_A || role == ROLE_NONE)
                return TENANT_A;
        if (role == ROLE_B)
                return TENANT_B;
        return t->tenant ?: TENANT_A;
}

/* The path of a fixture instance (docs/api.md: instance/<tenant>/<name>); built here rather than
 * asked for, as the calls run in children that cannot use the harness's connection. */
static char *instance_path(const char *name) {
        const char *tenant = streq(name, VM_A) || streq(name, IDLE_A) ? TENANT_A : TENANT_B;
        char *p = NULL;

        return sd_bus_path_encode_many(&p, ARK_BUS_PREFIX_INSTANCE "/%/%", tenant, name) < 0 ? NULL : p;
}

/* ---------------------------------------------------------------------------------- the table */

typedef struct Row Row;
struct Row {
        const char *interface;
        const char *member;
        bool property;
        Kind kind;
        /* Expected outcome per role, four characters: admin, a member of the tenant that owns the
         * target ("own"), a member of the other tenant ("other"), the user in no tenant. For the
         * host, a free accelerator and a shared bundle "own" and "other" are both just a member of
         * some tenant, and must be the same.
         *   O  allowed and succeeds (a property: readable)
         *   R  allowed, then refused for another reason: the call's arguments are made to fail
         *      after the access check, so fixtures survive; one of the error names in `later`
         *   D  AccessDenied
         *   I  invisible: fails exactly (error name and message) as the same call on an object
         *      that does not exist
         *   X  a property readable but empty ("", 0, no elements) for this role
         *   -  not probed (said why at the row) */
        const char *unowned; /* the host, a free accelerator, a shared bundle */
        const char *owned;   /* a tenant, its instance, an accelerator its instance claims, its bundle */
        const char *later;   /* 'R': the org.ark.Ark1.Error names meaning "allowed, refused later" */
        /* Methods: the object called (NULL: the manager for Manager methods, else the target) and
         * the arguments (NULL: none). */
        char *(*path)(Role role, const Target *t);
        int (*args)(sd_bus_message *m, Role role, const Target *t);
        bool on_stopped; /* K_INSTANCE: made on the stopped instances (else on the running ones) */
        bool names_own;  /* the call also names act_tenant() and its idle instance */
        bool repair;     /* allowed callers change fixtures: restored after each call */
        bool witness;    /* property: where another role gets 'X', an 'O' must be non-empty */
};

#define METHOD(i, n, k, u, o, ...) \
        { .interface = i, .member = n, .kind = k, .unowned = u, .owned = o, __VA_ARGS__ }
#define PROPERTY(i, n, k, u, o, ...) \
        { .interface = i, .member = n, .property = true, .kind = k, .unowned = u, .owned = o, __VA_ARGS__ }

#define MANAGER ARK_BUS_IFACE_MANAGER
#define TENANT ARK_BUS_IFACE_TENANT
#define INSTANCE ARK_BUS_IFACE_INSTANCE
#define ACCEL ARK_BUS_IFACE_ACCELERATOR
#define BUNDLE IFACE_BUNDLE
#define NETWORK ARK_BUS_IFACE_NETWORK

#define GIB (UINT64_C(1) << 30)

static int args_name(sd_bus_message *m, Role role, const Target *t) {
        return sd_bus_message_append(m, "s", t->name);
}

static int args_create_tenant(sd_bus_message *m, Role role, const Target *t) {
        return sd_bus_message_append(m, "ss", t->name, "");
}

static int args_stop_instance(sd_bus_message *m, Role role, const Target *t) {
        return sd_bus_message_append(m, "sbu", t->name, 0, 0);
}

/* A spec refused for its VCPUs (0), checked after who may create in the tenant. */
static int args_create_in_tenant(sd_bus_message *m, Role role, const Target *t) {
        return sd_bus_message_append(m, "a{sv}", 4, "Name", "s", "mxprobe", "Tenant", "s", t->name, "VCPUs",
                                     "u", 0, "MemoryBytes", "t", GIB);
}

/* A VM asking for the target GPU in the caller's tenant, serving a model that does not exist: a
 * claimed GPU is refused (InUse) before the model is looked up (NotFound), so nothing is created
 * either way. The InUse sentence is where the claimer leaked. */
static int args_create_with_gpu(sd_bus_message *m, Role role, const Target *t) {
        return sd_bus_message_append(m, "a{sv}", 6, "Name", "s", "mxprobe", "Tenant", "s",
                                     act_tenant(role, t), "VCPUs", "u", 1, "MemoryBytes", "t", GIB,
                                     "GPUAddresses", "as", 1, t->name, "Model", "s", "mx-no-such-model");
}

static int args_check_host(sd_bus_message *m, Role role, const Target *t) {
        return sd_bus_message_append(m, "as", 0);
}

static int args_audit(sd_bus_message *m, Role role, const Target *t) {
        return sd_bus_message_append(m, "tu", UINT64_C(0), 1);
}

static int args_usage_of_tenant(sd_bus_message *m, Role role, const Target *t) {
        return sd_bus_message_append(m, "stt", t->name, UINT64_C(0), UINT64_MAX / 2);
}

static int args_no_tenant(sd_bus_message *m, Role role, const Target *t) {
        return sd_bus_message_append(m, "s", "");
}

static int args_usage_all(sd_bus_message *m, Role role, const Target *t) {
        return sd_bus_message_append(m, "stt", "", UINT64_C(0), UINT64_MAX / 2);
}

/* Arguments that pass every check of their form and are refused for the state they meet (a key
 * trusted already, one that is not, one revoked already, a bundle installed already, a limit
 * below what is used): an admin-only call then shows AccessDenied to the others whatever arkd
 * checks first. */
static int args_trusted_key(sd_bus_message *m, Role role, const Target *t) {
        return sd_bus_message_append(m, "s", trusted_pem);
}

static int args_unknown_key_id(sd_bus_message *m, Role role, const Target *t) {
        return sd_bus_message_append(m, "s", UNKNOWN_KEY_ID);
}

static int args_revoked_key_id(sd_bus_message *m, Role role, const Target *t) {
        return sd_bus_message_append(m, "s", REVOKED_KEY_ID);
}

static char *bundle_file(const char *model) {
        return strprintf("%s/bundles/%s.ark", H.tmp, model);
}

/* The bundle the target tenant has installed (shared: the shared one) imported again. */
static int import_args(sd_bus_message *m, const char *model, const char *tenant) {
        _cleanup_free_ char *file = bundle_file(model);
        _cleanup_close_ int fd = file ? open(file, O_RDONLY | O_CLOEXEC) : -EBADF;

        if (fd < 0)
                return -errno;
        return sd_bus_message_append(m, "hss", fd, "mx-probe.ark", tenant);
}

static int args_import_for_tenant(sd_bus_message *m, Role role, const Target *t) {
        return import_args(m, t->owner == 2 ? MODEL_B : t->owner == 1 ? MODEL_A : MODEL_SHARED, t->name);
}

static int args_import_shared(sd_bus_message *m, Role role, const Target *t) {
        return import_args(m, MODEL_SHARED, "");
}

static int args_no_such_import(sd_bus_message *m, Role role, const Target *t) {
        return sd_bus_message_append(m, "u", 999999);
}

static int args_description(sd_bus_message *m, Role role, const Target *t) {
        return sd_bus_message_append(m, "s", "changed by the access matrix");
}

/* One instance at most: each tenant has two. */
static int args_quota_below_use(sd_bus_message *m, Role role, const Target *t) {
        return sd_bus_message_append(m, "sstt", "instances", "", UINT64_C(0), UINT64_C(1));
}

static int args_member_already(sd_bus_message *m, Role role, const Target *t) {
        return sd_bus_message_append(m, "ss", "user", t->owner == 2 ? USER_B : USER_A);
}

static int args_not_a_member(sd_bus_message *m, Role role, const Target *t) {
        return sd_bus_message_append(m, "ss", "user", "mx-not-a-member");
}

static int args_timeout(sd_bus_message *m, Role role, const Target *t) {
        return sd_bus_message_append(m, "u", 0);
}

static int args_add_one_gpu(sd_bus_message *m, Role role, const Target *t) {
        return sd_bus_message_append(m, "usas", 1, "", 0);
}

static int args_add_target_gpu(sd_bus_message *m, Role role, const Target *t) {
        return sd_bus_message_append(m, "usas", 0, "", 1, t->name);
}

static int args_no_gpus(sd_bus_message *m, Role role, const Target *t) {
        return sd_bus_message_append(m, "as", 0);
}

static int args_reason(sd_bus_message *m, Role role, const Target *t) {
        return sd_bus_message_append(m, "s", "held by the access matrix");
}

/* A network refused for its subnet, checked after who may create in the tenant. */
static int args_create_network(sd_bus_message *m, Role role, const Target *t) {
        return sd_bus_message_append(m, "ssa{sv}", "mxprobe", t->name, 2, "Mode", "s", "isolated", "Subnet",
                                     "s", "not-a-subnet");
}

/* A forward to an instance that does not exist; a port that is not forwarded. */
static int args_forward_to_ghost(sd_bus_message *m, Role role, const Target *t) {
        return sd_bus_message_append(m, "sqsq", "tcp", 40000, "ghostvm", 80);
}

static int args_no_forward(sd_bus_message *m, Role role, const Target *t) {
        return sd_bus_message_append(m, "sq", "tcp", 40001);
}

static int args_own_network(sd_bus_message *m, Role role, const Target *t) {
        return sd_bus_message_append(m, "s", t->owner == 2 ? NET_B : NET_A);
}

/* `true` with /dev/null as its stdin, stdout and stderr. */
static int args_exec(sd_bus_message *m, Role role, const Target *t) {
        _cleanup_close_ int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        int r;

        if (fd < 0)
                return -errno;
        r = sd_bus_message_append_strv(m, (char *[]) { (char *) "true", NULL });
        if (r >= 0)
                r = sd_bus_message_append(m, "hhh", fd, fd, fd);
        return r;
}

static int args_ghost_network(sd_bus_message *m, Role role, const Target *t) {
        return sd_bus_message_append(m, "s", "ghostnet");
}

static int args_interface(sd_bus_message *m, Role role, const Target *t) {
        return sd_bus_message_append(m, "s", kind_iface[t->kind]);
}

/* The stopped instance of the tenant the role acts in. */
static char *path_idle_instance(Role role, const Target *t) {
        return instance_path(streq(act_tenant(role, t), TENANT_A) ? IDLE_A : IDLE_B);
}

/* Fixtures survive: a call that would stop, delete or change one is made where it changes nothing
 * (stopping a stopped instance), with arguments refused for the state they meet after the access
 * check, or what it did is undone after it (.repair: holds on GPUs, a description). A user
 * in no tenant may read the manager's properties, the shared bundles and the trusted keys
 * (docs/api.md, "Who may do what": "see shared bundles and the trusted keys"), nothing else. */
static const Row matrix[] = {
        /* ---- org.ark.Ark1.Manager: properties (status, readable by anyone) */
        PROPERTY(MANAGER, "Version", K_HOST, "OOOO", NULL),
        PROPERTY(MANAGER, "Hostname", K_HOST, "OOOO", NULL),
        PROPERTY(MANAGER, "StartedAt", K_HOST, "OOOO", NULL),
        PROPERTY(MANAGER, "StateDirectory", K_HOST, "OOOO", NULL),
        PROPERTY(MANAGER, "SysfsRoot", K_HOST, "OOOO", NULL),
        PROPERTY(MANAGER, "HypervisorURI", K_HOST, "OOOO", NULL),
        PROPERTY(MANAGER, "DomainType", K_HOST, "OOOO", NULL),
        PROPERTY(MANAGER, "HypervisorConnected", K_HOST, "OOOO", NULL),
        PROPERTY(MANAGER, "CPUModel", K_HOST, "OOOO", NULL),
        PROPERTY(MANAGER, "CPUs", K_HOST, "OOOO", NULL),
        PROPERTY(MANAGER, "Sockets", K_HOST, "OOOO", NULL),
        PROPERTY(MANAGER, "CoresPerSocket", K_HOST, "OOOO", NULL),
        PROPERTY(MANAGER, "ThreadsPerCore", K_HOST, "OOOO", NULL),
        PROPERTY(MANAGER, "MemoryBytes", K_HOST, "OOOO", NULL),
        PROPERTY(MANAGER, "NUMANodes", K_HOST, "OOOO", NULL),
        PROPERTY(MANAGER, "IOMMUEnabled", K_HOST, "OOOO", NULL),
        /* Counted as the caller sees them (exact counts: test_counts_as_seen). */
        PROPERTY(MANAGER, "NTenants", K_HOST, "OOOX", NULL, .witness = true),
        PROPERTY(MANAGER, "NInstances", K_HOST, "OOOX", NULL, .witness = true),
        /* Hardware, as CPUs and memory are. */
        PROPERTY(MANAGER, "NAccelerators", K_HOST, "OOOO", NULL),
        /* Orphans and conflicts name domains of any tenant: admins only. The fixture has none, so
         * only the empty side is shown here. */
        PROPERTY(MANAGER, "Orphans", K_HOST, "OXXX", NULL),
        PROPERTY(MANAGER, "Conflicts", K_HOST, "OXXX", NULL),
        PROPERTY(MANAGER, "LastReconcile", K_HOST, "OOOO", NULL),

        /* ---- org.ark.Ark1.Manager: methods */
        METHOD(MANAGER, "ListTenants", K_HOST, "OOOD", NULL),
        METHOD(MANAGER, "CreateTenant", K_TENANT, NULL, "RDDD", .later = "AlreadyExists",
               .args = args_create_tenant),
        METHOD(MANAGER, "GetTenant", K_TENANT, NULL, "OOII", .args = args_name),
        METHOD(MANAGER, "DeleteTenant", K_TENANT, NULL, "RDII", .later = "InUse", .args = args_name),
        METHOD(MANAGER, "ListInstances", K_HOST, "OOOD", NULL),
        METHOD(MANAGER, "CreateInstance", K_TENANT, NULL, "RRII", .later = "InvalidArgument",
               .args = args_create_in_tenant),
        /* A free GPU for the caller's own tenant is allowed (refused for the missing model); a
         * claimed one is InUse, and the sentence must not name another tenant's claimer. */
        METHOD(MANAGER, "CreateInstance", K_ACCEL, "RRRI", "RRRI", .later = "InUse NotFound",
               .args = args_create_with_gpu, .names_own = true),
        METHOD(MANAGER, "GetInstance", K_INSTANCE, NULL, "OOII", .args = args_name),
        /* Starting a running instance and stopping a stopped one change nothing; a running one
         * cannot be deleted (InvalidState). */
        METHOD(MANAGER, "StartInstance", K_INSTANCE, NULL, "OOII", .args = args_name),
        METHOD(MANAGER, "StopInstance", K_INSTANCE, NULL, "OOII", .args = args_stop_instance,
               .on_stopped = true),
        METHOD(MANAGER, "DeleteInstance", K_INSTANCE, NULL, "RRII", .later = "InvalidState",
               .args = args_name),
        METHOD(MANAGER, "ListAccelerators", K_HOST, "OOOD", NULL),
        METHOD(MANAGER, "CheckHost", K_HOST, "ODDD", NULL, .args = args_check_host),
        METHOD(MANAGER, "Reconcile", K_HOST, "ODDD", NULL),
        METHOD(MANAGER, "ListAuditLog", K_HOST, "ODDD", NULL, .args = args_audit),
        METHOD(MANAGER, "VerifyAuditLog", K_HOST, "ODDD", NULL),
        METHOD(MANAGER, "GetUsageReport", K_TENANT, NULL, "OOII", .args = args_usage_of_tenant),
        METHOD(MANAGER, "GetUsageReport", K_HOST, "OOOD", NULL, .args = args_usage_all),
        METHOD(MANAGER, "TrustKey", K_HOST, "RDDD", NULL, .later = "AlreadyExists",
               .args = args_trusted_key),
        METHOD(MANAGER, "UntrustKey", K_HOST, "RDDD", NULL, .later = "NotFound",
               .args = args_unknown_key_id),
        METHOD(MANAGER, "RevokeKey", K_HOST, "RDDD", NULL, .later = "AlreadyExists",
               .args = args_revoked_key_id),
        METHOD(MANAGER, "ListTrustedKeys", K_HOST, "OOOO", NULL),
        METHOD(MANAGER, "ImportBundle", K_TENANT, NULL, "RRII", .later = "AlreadyExists",
               .args = args_import_for_tenant),
        METHOD(MANAGER, "ImportBundle", K_HOST, "RDDD", NULL, .later = "AlreadyExists",
               .args = args_import_shared),
        /* No import is in progress: who gets past the first gate. The user in no tenant can start
         * no import, so it has none to cancel. */
        METHOD(MANAGER, "CancelImport", K_HOST, "RRRD", NULL, .later = "NotFound",
               .args = args_no_such_import),
        METHOD(MANAGER, "ListBundles", K_HOST, "OOOO", NULL),
        /* The image store: a tenant's files to its members (another tenant's reads as one that does
         * not exist), the shared ones and one's own tenants' with ""; nothing to a user in no
         * tenant. */
        METHOD(MANAGER, "ListImages", K_TENANT, NULL, "OOII", .args = args_name),
        METHOD(MANAGER, "ListImages", K_HOST, "OOOD", NULL, .args = args_no_tenant),
        /* Tenant networks: made by admins and members in their tenants (uplinks and VLANs by admins
         * only); links no network owns are the admin's to see and remove (none in the fixture). */
        METHOD(MANAGER, "CreateNetwork", K_TENANT, NULL, "RRII", .later = "InvalidArgument",
               .args = args_create_network),
        METHOD(MANAGER, "ListNetworks", K_HOST, "OOOD", NULL),
        METHOD(MANAGER, "GetNetwork", K_NETWORK, NULL, "OOII", .args = args_name),
        METHOD(MANAGER, "DeleteNetwork", K_NETWORK, NULL, "RRII", .later = "InUse", .args = args_name),
        METHOD(MANAGER, "PruneNetworkOrphans", K_HOST, "ODDD", NULL),
        PROPERTY(MANAGER, "NetworkOrphans", K_HOST, "OXXX", NULL),

        /* ---- org.ark.Ark1.Tenant: a member reads its tenant, only an admin changes it */
        PROPERTY(TENANT, "Name", K_TENANT, NULL, "OOII"),
        PROPERTY(TENANT, "Description", K_TENANT, NULL, "OOII"),
        PROPERTY(TENANT, "CreatedAt", K_TENANT, NULL, "OOII"),
        PROPERTY(TENANT, "NInstances", K_TENANT, NULL, "OOII"),
        PROPERTY(TENANT, "Members", K_TENANT, NULL, "OOII"),
        PROPERTY(TENANT, "Quotas", K_TENANT, NULL, "OOII"),
        PROPERTY(TENANT, "Usage", K_TENANT, NULL, "OOII"),
        METHOD(TENANT, "SetDescription", K_TENANT, NULL, "ODII", .args = args_description, .repair = true),
        METHOD(TENANT, "SetQuota", K_TENANT, NULL, "RDII", .later = "InUse", .args = args_quota_below_use),
        METHOD(TENANT, "Delete", K_TENANT, NULL, "RDII", .later = "InUse"),
        METHOD(TENANT, "AddMember", K_TENANT, NULL, "RDII", .later = "AlreadyExists",
               .args = args_member_already),
        METHOD(TENANT, "RemoveMember", K_TENANT, NULL, "RDII", .later = "NotFound",
               .args = args_not_a_member),

        /* ---- org.ark.Ark1.Instance: its tenant's members and admins act on it */
        PROPERTY(INSTANCE, "Name", K_INSTANCE, NULL, "OOII"),
        PROPERTY(INSTANCE, "Id", K_INSTANCE, NULL, "OOII"),
        PROPERTY(INSTANCE, "Tenant", K_INSTANCE, NULL, "OOII"),
        PROPERTY(INSTANCE, "Type", K_INSTANCE, NULL, "OOII"),
        PROPERTY(INSTANCE, "VCPUs", K_INSTANCE, NULL, "OOII"),
        PROPERTY(INSTANCE, "MemoryBytes", K_INSTANCE, NULL, "OOII"),
        PROPERTY(INSTANCE, "DiskPath", K_INSTANCE, NULL, "OOII"),
        PROPERTY(INSTANCE, "DiskBytes", K_INSTANCE, NULL, "OOII"),
        PROPERTY(INSTANCE, "DiskOwned", K_INSTANCE, NULL, "OOII"),
        PROPERTY(INSTANCE, "Image", K_INSTANCE, NULL, "OOII"),
        PROPERTY(INSTANCE, "Args", K_INSTANCE, NULL, "OOII"),
        PROPERTY(INSTANCE, "Env", K_INSTANCE, NULL, "OOII"),
        PROPERTY(INSTANCE, "Partition", K_INSTANCE, NULL, "OOII"),
        PROPERTY(INSTANCE, "Kernel", K_INSTANCE, NULL, "OOII"),
        PROPERTY(INSTANCE, "Initrd", K_INSTANCE, NULL, "OOII"),
        PROPERTY(INSTANCE, "Cmdline", K_INSTANCE, NULL, "OOII"),
        PROPERTY(INSTANCE, "ConsoleLog", K_INSTANCE, NULL, "OOII"),
        PROPERTY(INSTANCE, "State", K_INSTANCE, NULL, "OOII"),
        PROPERTY(INSTANCE, "StateReason", K_INSTANCE, NULL, "OOII"),
        PROPERTY(INSTANCE, "DesiredState", K_INSTANCE, NULL, "OOII"),
        PROPERTY(INSTANCE, "CreatedAt", K_INSTANCE, NULL, "OOII"),
        PROPERTY(INSTANCE, "GPUs", K_INSTANCE, NULL, "OOII"),
        PROPERTY(INSTANCE, "Preemptible", K_INSTANCE, NULL, "OOII"),
        PROPERTY(INSTANCE, "Model", K_INSTANCE, NULL, "OOII"),
        PROPERTY(INSTANCE, "PreemptedGPUs", K_INSTANCE, NULL, "OOII"),
        PROPERTY(INSTANCE, "Networks", K_INSTANCE, NULL, "OOII"),
        METHOD(INSTANCE, "Start", K_INSTANCE, NULL, "OOII"),
        METHOD(INSTANCE, "Stop", K_INSTANCE, NULL, "OOII", .args = args_timeout, .on_stopped = true),
        METHOD(INSTANCE, "ForceOff", K_INSTANCE, NULL, "OOII", .on_stopped = true),
        METHOD(INSTANCE, "Delete", K_INSTANCE, NULL, "RRII", .later = "InvalidState"),
        METHOD(INSTANCE, "GetXML", K_INSTANCE, NULL, "OOII"),
        /* The running instances are on their tenant's network already; no network "ghostnet". */
        METHOD(INSTANCE, "AddNetwork", K_INSTANCE, NULL, "RRII", .later = "AlreadyExists",
               .args = args_own_network),
        METHOD(INSTANCE, "RemoveNetwork", K_INSTANCE, NULL, "RRII", .later = "NotFound",
               .args = args_ghost_network),
        /* libvirt's test driver has no consoles: who gets past the gate hears so. */
        METHOD(INSTANCE, "OpenConsole", K_INSTANCE, NULL, "RRII", .later = "NotSupported"),
        /* The targets are VMs: commands and output logs are containers' (test-container has the
         * containers' own). */
        METHOD(INSTANCE, "Exec", K_INSTANCE, NULL, "RRII", .later = "NotSupported", .args = args_exec),
        METHOD(INSTANCE, "OpenLog", K_INSTANCE, NULL, "RRII", .later = "NotSupported"),
        /* GPUs are added to stopped instances only. */
        METHOD(INSTANCE, "AddGPUs", K_INSTANCE, NULL, "RRII", .later = "InvalidState",
               .args = args_add_one_gpu),
        /* The target GPU added to the caller's stopped instance: a claimed one is InUse, and the
         * sentence must not name another tenant's claimer. A free one would be added: not probed. */
        METHOD(INSTANCE, "AddGPUs", K_ACCEL, "----", "RRRI", .later = "InUse", .path = path_idle_instance,
               .args = args_add_target_gpu, .names_own = true),
        /* All of none: a no-op. */
        METHOD(INSTANCE, "RemoveGPUs", K_INSTANCE, NULL, "OOII", .args = args_no_gpus, .on_stopped = true),

        /* ---- org.ark.Ark1.Accelerator: seen by admins and members of any tenant, held by admins */
        PROPERTY(ACCEL, "Address", K_ACCEL, "OOOI", "OOOI"),
        PROPERTY(ACCEL, "Vendor", K_ACCEL, "OOOI", "OOOI"),
        PROPERTY(ACCEL, "Device", K_ACCEL, "OOOI", "OOOI"),
        PROPERTY(ACCEL, "SubsystemVendor", K_ACCEL, "OOOI", "OOOI"),
        PROPERTY(ACCEL, "SubsystemDevice", K_ACCEL, "OOOI", "OOOI"),
        PROPERTY(ACCEL, "Class", K_ACCEL, "OOOI", "OOOI"),
        PROPERTY(ACCEL, "VendorName", K_ACCEL, "OOOI", "OOOI"),
        PROPERTY(ACCEL, "Model", K_ACCEL, "OOOI", "OOOI"),
        PROPERTY(ACCEL, "MemoryBytes", K_ACCEL, "OOOI", "OOOI"),
        PROPERTY(ACCEL, "IOMMUGroup", K_ACCEL, "OOOI", "OOOI"),
        PROPERTY(ACCEL, "IOMMUGroupMembers", K_ACCEL, "OOOI", "OOOI"),
        PROPERTY(ACCEL, "NUMANode", K_ACCEL, "OOOI", "OOOI"),
        PROPERTY(ACCEL, "LinkSpeed", K_ACCEL, "OOOI", "OOOI"),
        PROPERTY(ACCEL, "LinkWidth", K_ACCEL, "OOOI", "OOOI"),
        PROPERTY(ACCEL, "MaxLinkSpeed", K_ACCEL, "OOOI", "OOOI"),
        PROPERTY(ACCEL, "MaxLinkWidth", K_ACCEL, "OOOI", "OOOI"),
        PROPERTY(ACCEL, "Driver", K_ACCEL, "OOOI", "OOOI"),
        PROPERTY(ACCEL, "ClaimState", K_ACCEL, "OOOI", "OOOI"),
        /* The claimer: for admins and the members of its tenant only. */
        PROPERTY(ACCEL, "ClaimedBy", K_ACCEL, "OOOI", "OOXI", .witness = true),
        /* Its partitions with their holders, named to admins and the holder's members only (the fixture
         * has none: test-container's test_partitions sees them as both). */
        PROPERTY(ACCEL, "Partitions", K_ACCEL, "OOOI", "OOOI"),
        PROPERTY(ACCEL, "HoldReason", K_ACCEL, "OOOI", "OOOI"),
        PROPERTY(ACCEL, "Health", K_ACCEL, "OOOI", "OOOI"),
        PROPERTY(ACCEL, "Conflict", K_ACCEL, "OOOI", "OOOI"),
        /* A claimed GPU cannot be reserved (InUse); the holds that are made are released after. */
        METHOD(ACCEL, "Reserve", K_ACCEL, "ODDI", "RDDI", .later = "InUse", .args = args_reason,
               .repair = true),
        METHOD(ACCEL, "Quarantine", K_ACCEL, "ODDI", "ODDI", .args = args_reason, .repair = true),
        /* Nothing is held: a no-op. */
        METHOD(ACCEL, "Release", K_ACCEL, "ODDI", "ODDI"),

        /* ---- org.ark.Ark1.Bundle: shared ones seen by everyone, a tenant's by its members */
        PROPERTY(BUNDLE, "Kind", K_BUNDLE, "OOOO", "OOII"),
        PROPERTY(BUNDLE, "Name", K_BUNDLE, "OOOO", "OOII"),
        PROPERTY(BUNDLE, "Version", K_BUNDLE, "OOOO", "OOII"),
        PROPERTY(BUNDLE, "Tenant", K_BUNDLE, "OOOO", "OOII"),
        PROPERTY(BUNDLE, "KeyId", K_BUNDLE, "OOOO", "OOII"),
        PROPERTY(BUNDLE, "SHA256", K_BUNDLE, "OOOO", "OOII"),
        PROPERTY(BUNDLE, "SizeBytes", K_BUNDLE, "OOOO", "OOII"),
        PROPERTY(BUNDLE, "Files", K_BUNDLE, "OOOO", "OOII"),
        PROPERTY(BUNDLE, "Directory", K_BUNDLE, "OOOO", "OOII"),
        PROPERTY(BUNDLE, "Created", K_BUNDLE, "OOOO", "OOII"),
        PROPERTY(BUNDLE, "ImportedAt", K_BUNDLE, "OOOO", "OOII"),
        PROPERTY(BUNDLE, "ImportedBy", K_BUNDLE, "OOOO", "OOII"),
        PROPERTY(BUNDLE, "Architecture", K_BUNDLE, "OOOO", "OOII"),
        PROPERTY(BUNDLE, "Parameters", K_BUNDLE, "OOOO", "OOII"),
        PROPERTY(BUNDLE, "Dtype", K_BUNDLE, "OOOO", "OOII"),
        PROPERTY(BUNDLE, "MinGPUMemoryBytes", K_BUNDLE, "OOOO", "OOII"),
        PROPERTY(BUNDLE, "Runtime", K_BUNDLE, "OOOO", "OOII"),
        PROPERTY(BUNDLE, "License", K_BUNDLE, "OOOO", "OOII"),
        PROPERTY(BUNDLE, "Compatible", K_BUNDLE, "OOOO", "OOII"),
        PROPERTY(BUNDLE, "Manifest", K_BUNDLE, "OOOO", "OOII"),
#if IS_ENABLED(CONFIG_CONTAINERS)
        /* A container image's config, seen as its bundle is. */
        PROPERTY(BUNDLE, "ImageEntrypoint", K_BUNDLE, "OOOO", "OOII"),
        PROPERTY(BUNDLE, "ImageCmd", K_BUNDLE, "OOOO", "OOII"),
        PROPERTY(BUNDLE, "ImageEnv", K_BUNDLE, "OOOO", "OOII"),
        PROPERTY(BUNDLE, "ImageWorkingDir", K_BUNDLE, "OOOO", "OOII"),
        PROPERTY(BUNDLE, "ImageUser", K_BUNDLE, "OOOO", "OOII"),
        PROPERTY(BUNDLE, "ImageArchitecture", K_BUNDLE, "OOOO", "OOII"),
        PROPERTY(BUNDLE, "ImageManifestDigest", K_BUNDLE, "OOOO", "OOII"),
        PROPERTY(BUNDLE, "ImageLayers", K_BUNDLE, "OOOO", "OOII"),
#endif
        /* Every bundle is served by an instance: the allowed are refused with InUse. */
        METHOD(BUNDLE, "Delete", K_BUNDLE, "RDDD", "RRII", .later = "InUse"),

        /* ---- org.ark.Ark1.Network: its tenant's members and admins; forwards open only by admins */
        PROPERTY(NETWORK, "Name", K_NETWORK, NULL, "OOII"),
        PROPERTY(NETWORK, "Id", K_NETWORK, NULL, "OOII"),
        PROPERTY(NETWORK, "Tenant", K_NETWORK, NULL, "OOII"),
        PROPERTY(NETWORK, "Mode", K_NETWORK, NULL, "OOII"),
        PROPERTY(NETWORK, "Subnet", K_NETWORK, NULL, "OOII"),
        PROPERTY(NETWORK, "Subnet6", K_NETWORK, NULL, "OOII"),
        PROPERTY(NETWORK, "Gateway", K_NETWORK, NULL, "OOII"),
        PROPERTY(NETWORK, "VLAN", K_NETWORK, NULL, "OOII"),
        PROPERTY(NETWORK, "Uplink", K_NETWORK, NULL, "OOII"),
        PROPERTY(NETWORK, "Segment", K_NETWORK, NULL, "OOII"),
        PROPERTY(NETWORK, "MTU", K_NETWORK, NULL, "OOII"),
        PROPERTY(NETWORK, "Bridge", K_NETWORK, NULL, "OOII"),
        PROPERTY(NETWORK, "CreatedAt", K_NETWORK, NULL, "OOII"),
        PROPERTY(NETWORK, "Problem", K_NETWORK, NULL, "OOII"),
        PROPERTY(NETWORK, "Instances", K_NETWORK, NULL, "OOII"),
        PROPERTY(NETWORK, "Forwards", K_NETWORK, NULL, "OOII"),
        /* Its instance keeps it (InUse). */
        METHOD(NETWORK, "Delete", K_NETWORK, NULL, "RRII", .later = "InUse"),
        METHOD(NETWORK, "AddForward", K_NETWORK, NULL, "RDII", .later = "NotFound",
               .args = args_forward_to_ghost),
        METHOD(NETWORK, "RemoveForward", K_NETWORK, NULL, "RRII", .later = "NotFound",
               .args = args_no_forward),

        /* ---- standard interfaces, as far as they show what an object holds */
        METHOD(IFACE_PROPERTIES, "GetAll", K_HOST, "OOOO", NULL, .args = args_interface),
        METHOD(IFACE_PROPERTIES, "GetAll", K_TENANT, NULL, "OOII", .args = args_interface),
        METHOD(IFACE_PROPERTIES, "GetAll", K_INSTANCE, NULL, "OOII", .args = args_interface),
        METHOD(IFACE_PROPERTIES, "GetAll", K_ACCEL, "OOOI", "OOOI", .args = args_interface),
        METHOD(IFACE_PROPERTIES, "GetAll", K_BUNDLE, "OOOO", "OOII", .args = args_interface),
        METHOD(IFACE_PROPERTIES, "GetAll", K_NETWORK, NULL, "OOII", .args = args_interface),
        METHOD(IFACE_INTROSPECTABLE, "Introspect", K_HOST, "OOOO", NULL),
        METHOD(IFACE_INTROSPECTABLE, "Introspect", K_TENANT, NULL, "OOII"),
        METHOD(IFACE_INTROSPECTABLE, "Introspect", K_INSTANCE, NULL, "OOII"),
        METHOD(IFACE_INTROSPECTABLE, "Introspect", K_ACCEL, "OOOI", "OOOI"),
        METHOD(IFACE_INTROSPECTABLE, "Introspect", K_BUNDLE, "OOOO", "OOII"),
        METHOD(IFACE_INTROSPECTABLE, "Introspect", K_NETWORK, NULL, "OOII"),
        /* What it lists per role: test_tree_as_each_role. */
        METHOD(IFACE_OBJECT_MANAGER, "GetManagedObjects", K_HOST, "OOOO", NULL),
};

/* ---------------------------------------------------------------------------------- coverage */

/* "method IFACE.NAME" or "property IFACE.NAME": how members are named in introspection data and
 * in the table alike. */
static char *member_key(bool property, const char *iface, const char *member) {
        return strprintf("%s %s.%s", property ? "property" : "method", iface, member);
}

static bool row_is_for(const Row *r, const char *key) {
        _cleanup_free_ char *k = member_key(r->property, r->interface, r->member);

        return k && streq(k, key);
}

static bool expectation_valid(const char *e, bool property, bool unowned) {
        if (!e || strlen(e) != 4)
                return false;
        for (size_t k = 0; k < 4; k++)
                if (!strchr(property ? "OIX-" : "ODIR-", e[k]))
                        return false;
        /* The admin sees everything; on an object nobody owns, every member is treated alike. */
        return !strchr("IX", e[0]) && (!unowned || e[1] == e[2]);
}

/* Checks the table against what arkd exports. `members` lists "method IFACE.NAME" and
 * "property IFACE.NAME" as introspection shows them. Every org.ark member needs a row, every row
 * a member, and every row must be well-formed. Returns the number of problems; *ret_report (caller
 * frees) has one line for each. Does not fail the test itself. */
static unsigned matrix_check(const Row *rows, size_t n_rows, char *const *members, char **ret_report) {
        StrBuf b = {};
        unsigned problems = 0;

        for (char *const *m = members; m && *m; m++) {
                const char *name = strchr(*m, ' ') + 1;
                bool found = false;

                if (!startswith(name, "org.ark."))
                        continue; /* standard interfaces: covered as far as rows say */
                for (size_t k = 0; k < n_rows && !found; k++)
                        found = row_is_for(&rows[k], *m);
                if (!found) {
                        strbuf_printf(&b, "%s has no entry in the access matrix: decide who may %s it\n",
                                      name, startswith(*m, "property ") ? "read" : "call");
                        problems++;
                }
        }
        for (size_t k = 0; k < n_rows; k++) {
                const Row *r = &rows[k];
                _cleanup_free_ char *key = member_key(r->property, r->interface, r->member);
                bool has_unowned = r->kind != K_TENANT && r->kind != K_INSTANCE && r->kind != K_NETWORK;
                bool has_owned = r->kind != K_HOST;

                if (!strv_contains(members, key)) {
                        strbuf_printf(
                                &b,
                                "the access matrix has a row for %s.%s, which arkd does not export: remove "
                                "the stale row\n",
                                r->interface, r->member);
                        problems++;
                }
                if ((has_unowned ? !expectation_valid(r->unowned, r->property, true) : r->unowned != NULL) ||
                    (has_owned ? !expectation_valid(r->owned, r->property, false) : r->owned != NULL) ||
                    (startswith(r->interface, "org.ark.") && !streq(r->interface, kind_iface[r->kind]) &&
                     !streq(r->interface, ARK_BUS_IFACE_MANAGER) && !r->path) ||
                    (((r->unowned && strchr(r->unowned, 'R')) || (r->owned && strchr(r->owned, 'R'))) !=
                     !!r->later)) {
                        strbuf_printf(
                                &b,
                                "the access matrix's row for %s.%s is malformed (expectations for its kind "
                                "of object, 'R' with the errors meant)\n",
                                r->interface, r->member);
                        problems++;
                }
        }
        *ret_report = strbuf_steal(&b);
        return problems;
}

/* ---------------------------------------------------------------------------------- introspection */

/* Adds the members ("method IFACE.NAME", "property IFACE.NAME") and the child node names of one
 * introspection document to the lists (no duplicates). Returns 0, or -EBADMSG when it is no such
 * document. */
static int introspect_parse(const char *xml, char ***members, char ***children) {
        xmlDocPtr doc = xmlReadMemory(xml, (int) strlen(xml), "introspect.xml", NULL,
                                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
        int r = 0;

        if (!root || !xmlStrEqual(root->name, BAD_CAST "node")) {
                xmlFreeDoc(doc);
                return -EBADMSG;
        }
        for (xmlNodePtr n = root->children; n && r >= 0; n = n->next) {
                xmlChar *name;

                if (n->type != XML_ELEMENT_NODE || !(name = xmlGetProp(n, BAD_CAST "name")))
                        continue;
                if (xmlStrEqual(n->name, BAD_CAST "node") && children &&
                    !strv_contains(*children, (char *) name))
                        r = strv_extend(children, (char *) name);
                else if (xmlStrEqual(n->name, BAD_CAST "interface"))
                        for (xmlNodePtr c = n->children; c && r >= 0; c = c->next) {
                                bool property = xmlStrEqual(c->name, BAD_CAST "property");
                                _cleanup_free_ char *key = NULL;
                                xmlChar *member;

                                if (c->type != XML_ELEMENT_NODE ||
                                    (!property && !xmlStrEqual(c->name, BAD_CAST "method")) ||
                                    !(member = xmlGetProp(c, BAD_CAST "name")))
                                        continue;
                                key = member_key(property, (char *) name, (char *) member);
                                xmlFree(member);
                                if (!key)
                                        r = -ENOMEM;
                                else if (!strv_contains(*members, key))
                                        r = strv_extend(members, key);
                        }
                xmlFree(name);
        }
        xmlFreeDoc(doc);
        return r;
}

static int introspect(sd_bus *bus, const char *path, char **ret_xml, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *xml;
        int r;

        r = sd_bus_call_method(bus, ARK_BUS_NAME, path, IFACE_INTROSPECTABLE, "Introspect", error, &reply,
                               NULL);
        if (r >= 0)
                r = sd_bus_message_read(reply, "s", &xml);
        if (r < 0)
                return r;
        *ret_xml = strdup(xml);
        return *ret_xml ? 0 : -ENOMEM;
}

/* Walks the object tree from `path` as the bus's user. Adds to *members what the objects offer,
 * to *paths every object with an org.ark interface, to *xml_all (when non-NULL) every document
 * read, and keeps in *ret_instance_xml (when non-NULL) the first instance object's. Returns 0 or
 * a negative errno (the walk stops at a document it cannot parse, not at an error reply). */
static int walk(sd_bus *bus, const char *path, char ***members, char ***paths, StrBuf *xml_all,
                char **ret_instance_xml) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_strv_free_ char **children = NULL, **own = NULL;
        _cleanup_free_ char *xml = NULL;
        int r;

        r = introspect(bus, path, &xml, &e);
        if (r < 0) {
                if (xml_all)
                        strbuf_printf(xml_all, "%s: %s: %s\n", path, strna(e.name), strna(e.message));
                return 0;
        }
        if (xml_all)
                strbuf_append(xml_all, xml);
        r = introspect_parse(xml, &own, &children);
        if (r < 0)
                return r;
        for (char **m = own; m && *m; m++) {
                if (!strv_contains(*members, *m) && strv_extend(members, *m) < 0)
                        return -ENOMEM;
                if (startswith(strchr(*m, ' ') + 1, "org.ark.") && !strv_contains(*paths, path) &&
                    strv_extend(paths, path) < 0)
                        return -ENOMEM;
        }
        if (ret_instance_xml && !*ret_instance_xml && startswith(path, ARK_BUS_PREFIX_INSTANCE "/"))
                *ret_instance_xml = TAKE_PTR(xml);
        for (char **c = children; c && *c; c++) {
                _cleanup_free_ char *sub = strprintf("%s%s%s", path, endswith(path, "/") ? "" : "/", *c);

                if (!sub)
                        return -ENOMEM;
                r = walk(bus, sub, members, paths, xml_all, ret_instance_xml);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* What arkd exports, as root sees it (set up once). */
static char **exported;
static char *instance_xml;

/* ---------------------------------------------------------------------------------- calls as a role */

typedef struct Reply {
        bool ok;
        char *error_name;
        char *error_message;
        char *text;      /* what the caller learned: the reply dumped, or the error message */
        bool empty;      /* a property's value is "", 0 or has no elements */
        uint64_t number; /* a numeric property's value */
        uint32_t waited; /* seconds waited for arkd to take calls of this user again */
} Reply;

static void reply_done(Reply *r) {
        free(r->error_name);
        free(r->error_message);
        free(r->text);
        *r = (Reply) {};
}

static char *message_text(sd_bus_message *m) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return NULL;
        (void) sd_bus_message_dump(m, f, 0);
        fclose(f);
        return buf;
}

/* Whether the variant that `m` is at holds an empty value; its number in *ret_number. */
static int variant_empty(sd_bus_message *m, uint64_t *ret_number) {
        const char *contents;
        char type;
        int r;

        r = sd_bus_message_enter_container(m, 'v', NULL);
        if (r < 0)
                return r;
        r = sd_bus_message_peek_type(m, &type, &contents);
        if (r < 0)
                return r;
        if (type == 'a') {
                r = sd_bus_message_enter_container(m, 'a', contents);
                return r < 0 ? r : sd_bus_message_at_end(m, false);
        }
        if (strchr("sog", type)) {
                const char *s;

                r = sd_bus_message_read_basic(m, type, &s);
                return r < 0 ? r : isempty(s);
        }
        if (strchr("ybnqiuxtd", type)) {
                union {
                        uint8_t y;
                        int b;
                        uint16_t q;
                        uint32_t u;
                        uint64_t t;
                        double d;
                } v = {};

                r = sd_bus_message_read_basic(m, type, &v);
                if (r < 0)
                        return r;
                *ret_number = type == 'y'    ? v.y
                        : type == 'b'        ? (uint64_t) v.b
                        : strchr("nq", type) ? v.q
                        : strchr("iu", type) ? v.u
                        : type == 'd'        ? (uint64_t) v.d
                                             : v.t;
                return *ret_number == 0;
        }
        return 0;
}

static char *call_path(const Row *row, Role role, const Target *t) {
        if (row->path)
                return row->path(role, t);
        return strdup(streq(row->interface, ARK_BUS_IFACE_MANAGER) ? ARK_BUS_PATH : t->path);
}

/* Makes the row's call (a method, or Properties.Get of a property) on target t over `bus`. */
static void probe(sd_bus *bus, const Row *row, Role role, const Target *t, Reply *ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *path = call_path(row, role, t);
        int r;

        *ret = (Reply) {};
again:
        r = path ? 0 : -ENOMEM;
        if (r >= 0 && row->property) {
                r = sd_bus_message_new_method_call(bus, &m, ARK_BUS_NAME, path, IFACE_PROPERTIES, "Get");
                if (r >= 0)
                        r = sd_bus_message_append(m, "ss", row->interface, row->member);
        } else if (r >= 0) {
                r = sd_bus_message_new_method_call(bus, &m, ARK_BUS_NAME, path, row->interface, row->member);
                if (r >= 0 && row->args)
                        r = row->args(m, role, t);
        }
        if (r >= 0)
                r = sd_bus_call(bus, m, 60 * 1000000ULL, &e, &reply);
        if (r < 0 && sd_bus_error_has_name(&e, ARK_ERROR_TOO_MANY_REQUESTS) && ret->waited < 60) {
                ret->waited++;
                m = sd_bus_message_unref(m);
                sd_bus_error_free(&e);
                sleep(1);
                goto again;
        }
        if (r < 0) {
                ret->error_name = strdup(e.name ?: "(no error name)");
                ret->error_message = e.message ? strdup(e.message) : strprintf("%s", strerror(-r));
                ret->text = strdup(strempty(ret->error_message));
                return;
        }
        ret->ok = true;
        ret->text = message_text(reply);
        if (row->property && sd_bus_message_rewind(reply, true) >= 0)
                ret->empty = variant_empty(reply, &ret->number) > 0;
}

/* Object paths in a GetManagedObjects reply, one a line; the reply dumped in *ret_text. */
static void managed_objects(sd_bus *bus, Reply *ret_paths, Reply *ret_text) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        StrBuf b = {};
        const char *path;
        int r;

        r = sd_bus_call_method(bus, ARK_BUS_NAME, ARK_BUS_PATH, IFACE_OBJECT_MANAGER, "GetManagedObjects",
                               &e, &reply, NULL);
        if (r < 0) {
                *ret_paths = (Reply) { .error_name = strdup(strna(e.name)),
                                       .error_message = strdup(strna(e.message)) };
                *ret_text = (Reply) { .text = strdup(strna(e.message)) };
                return;
        }
        *ret_text = (Reply) { .ok = true, .text = message_text(reply) };
        r = sd_bus_message_rewind(reply, true);
        if (r >= 0)
                r = sd_bus_message_enter_container(reply, 'a', "{oa{sa{sv}}}");
        while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'e', "oa{sa{sv}}")) > 0) {
                r = sd_bus_message_read(reply, "o", &path);
                if (r >= 0) {
                        strbuf_printf(&b, "%s\n", path);
                        r = sd_bus_message_skip(reply, "a{sa{sv}}");
                }
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
        }
        *ret_paths = (Reply) { .ok = r >= 0, .text = strbuf_steal(&b) };
}

static int drop_privileges(const Account *a) {
        if (!a)
                return 0;
        if (initgroups(a->name, a->gid) < 0 || setresgid(a->gid, a->gid, a->gid) < 0 ||
            setresuid(a->uid, a->uid, a->uid) < 0)
                return -errno;
        return 0;
}

static int write_all(int fd, const void *p, size_t n) {
        for (const uint8_t *q = p; n > 0;) {
                ssize_t k = write(fd, q, n);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return -EIO;
                q += k;
                n -= (size_t) k;
        }
        return 0;
}

static int write_string(int fd, const char *s) {
        uint32_t n = s ? (uint32_t) strlen(s) + 1 : 0;
        int r = write_all(fd, &n, sizeof(n));

        return r < 0 || n == 0 ? r : write_all(fd, s, n);
}

static int write_reply(int fd, const Reply *r) {
        uint8_t flags = (uint8_t) (r->ok | r->empty << 1);
        int k = write_all(fd, &flags, 1);

        if (k >= 0)
                k = write_all(fd, &r->number, sizeof(r->number));
        if (k >= 0)
                k = write_all(fd, &r->waited, sizeof(r->waited));
        if (k >= 0)
                k = write_string(fd, r->error_name);
        if (k >= 0)
                k = write_string(fd, r->error_message);
        if (k >= 0)
                k = write_string(fd, r->text);
        return k;
}

static const uint8_t *read_string(const uint8_t *p, const uint8_t *end, char **ret) {
        uint32_t n;

        if (!p || end - p < (ptrdiff_t) sizeof(n))
                return NULL;
        memcpy(&n, p, sizeof(n));
        p += sizeof(n);
        if (end - p < (ptrdiff_t) n || (n > 0 && p[n - 1] != 0))
                return NULL;
        *ret = n > 0 ? strdup((const char *) p) : NULL;
        return p + n;
}

static const uint8_t *read_reply(const uint8_t *p, const uint8_t *end, Reply *ret) {
        *ret = (Reply) {};
        if (end - p < 1 + (ptrdiff_t) (sizeof(ret->number) + sizeof(ret->waited)))
                return NULL;
        ret->ok = p[0] & 1;
        ret->empty = p[0] & 2;
        memcpy(&ret->number, p + 1, sizeof(ret->number));
        memcpy(&ret->waited, p + 1 + sizeof(ret->number), sizeof(ret->waited));
        p += 1 + sizeof(ret->number) + sizeof(ret->waited);
        p = read_string(p, end, &ret->error_name);
        p = read_string(p, end, &ret->error_message);
        return read_string(p, end, &ret->text);
}

typedef enum ChildJob {
        JOB_PROBE, /* the row's call on the target, and on the phantom when one is given */
        JOB_WALK,  /* the tree and GetManagedObjects as the role sees them */
} ChildJob;

static _noreturn_ void child(int fd, ChildJob job, Role role, const Account *a, const Row *row,
                             const Target *t, const Target *phantom) {
        sd_bus *bus = NULL;
        Reply r[4] = {};
        size_t n = 0;

        if (drop_privileges(a) < 0)
                _exit(2);
        if (ark_bus_open(H.bus_address, &bus) < 0)
                _exit(3);
        if (job == JOB_PROBE) {
                probe(bus, row, role, t, &r[n++]);
                if (phantom)
                        probe(bus, row, role, phantom, &r[n++]);
        } else {
                _cleanup_strv_free_ char **members = NULL, **paths = NULL;
                _cleanup_free_ char *joined = NULL;
                StrBuf xml = {};

                (void) walk(bus, "/", &members, &paths, &xml, NULL);
                joined = strv_join(paths, "\n");
                r[n++] = (Reply) { .ok = true, .text = TAKE_PTR(joined) };
                r[n++] = (Reply) { .ok = true, .text = strbuf_steal(&xml) };
                managed_objects(bus, &r[n], &r[n + 1]);
                n += 2;
        }
        for (size_t k = 0; k < n; k++)
                if (write_reply(fd, &r[k]) < 0)
                        _exit(4);
        _exit(0);
}

/* Runs a job in a child process that has become the role's user, with its own bus connection, and
 * reads its n replies. Fails the test when the child cannot run. */
static void run_as(Role role, ChildJob job, const Row *row, const Target *t, const Target *phantom,
                   Reply *ret, size_t n) {
        _cleanup_free_ uint8_t *buf = NULL;
        const uint8_t *p;
        size_t len = 0, alloc = 0;
        const Account *a = roles[role].user ? &accounts[role][next_account[role]++ % USERS_PER_ROLE] : NULL;
        int fds[2], status;
        pid_t pid;

        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        fflush(NULL);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                close(fds[0]);
                child(fds[1], job, role, a, row, t, phantom);
        }
        close(fds[1]);
        for (;;) {
                ssize_t k;

                if (alloc - len < 65536) {
                        alloc = alloc * 2 + 65536;
                        buf = realloc(buf, alloc);
                        assert_non_null(buf);
                }
                k = read(fds[0], buf + len, alloc - len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                len += (size_t) k;
        }
        close(fds[0]);
        while (waitpid(pid, &status, 0) < 0)
                assert_int_equal(errno, EINTR);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                fail_msg("the child calling as %s failed (status %d)", roles[role].label, status);
        p = buf;
        for (size_t k = 0; k < n; k++) {
                p = p ? read_reply(p, buf + len, &ret[k]) : NULL;
                if (!p)
                        fail_msg("the child calling as %s sent a short answer", roles[role].label);
        }
}

/* ---------------------------------------------------------------------------------- judging */

static char *replace_all(const char *s, const char *from, const char *to) {
        StrBuf b = {};
        const char *q;

        if (!s)
                return NULL;
        if (isempty(from))
                return strdup(s);
        while ((q = strstr(s, from))) {
                char *part = strndup(s, (size_t) (q - s));

                strbuf_append(&b, strempty(part));
                strbuf_append(&b, to);
                free(part);
                s = q + strlen(from);
        }
        strbuf_append(&b, s);
        return strbuf_steal(&b);
}

/* s with what the caller itself named to reach t (its path, its name or address) replaced by
 * placeholders: what is left is what arkd told it. */
static char *strip_target(const char *s, const Target *t) {
        _cleanup_free_ char *a = replace_all(s, t->path, "<path>");

        return t->name ? replace_all(a, t->name, "<name>") : TAKE_PTR(a);
}

/* The first name of a tenant the role is no member of that `text` holds, beyond what the caller
 * itself named; NULL when there is none. */
static const char *leaked(Role role, const Row *row, const Target *t, const char *text) {
        const char *const *lists[2] = {};
        _cleanup_free_ char *s = strip_target(text, t);

        if (role == ROLE_A)
                lists[0] = names_of_b;
        else if (role == ROLE_B)
                lists[0] = names_of_a;
        else if (role == ROLE_NONE) {
                lists[0] = names_of_a;
                lists[1] = names_of_b;
        }
        if (s && row && row->names_own) {
                /* The call named the tenant it acts in, and maybe that tenant's idle instance. */
                const char *tn = act_tenant(role, t);
                _cleanup_free_ char *a = replace_all(s, tn, "<tenant>");

                free(s);
                s = replace_all(a, streq(tn, TENANT_A) ? IDLE_A : IDLE_B, "<instance>");
        }
        for (size_t l = 0; s && l < ELEMENTSOF(lists); l++)
                for (const char *const *n = lists[l]; n && *n; n++)
                        if (strstr(s, *n))
                                return *n;
        return NULL;
}

static bool later_error(const Row *row, const char *name) {
        const char *p = row->later, *short_name = startswith(strempty(name), "org.ark.Ark1.Error.");
        size_t n;

        if (!p || !short_name)
                return false;
        n = strlen(short_name);
        while ((p = strstr(p, short_name))) {
                if ((p == row->later || p[-1] == ' ') && (p[n] == 0 || p[n] == ' '))
                        return true;
                p += n;
        }
        return false;
}

static bool same_failure(const Reply *r, const Target *t, const Reply *ph, const Target *pt) {
        _cleanup_free_ char *a = NULL, *b = NULL;

        if (r->ok || ph->ok || !streq_ptr(r->error_name, ph->error_name))
                return false;
        a = strip_target(r->error_message, t);
        b = strip_target(ph->error_message, pt);
        return streq_ptr(a, b);
}

static char expected(const Row *row, const Target *t, Role role) {
        const char *e = t->owner == 0 ? row->unowned : row->owned;

        switch (role) {
        case ROLE_ADMIN:
                return e[0];
        case ROLE_NONE:
                return e[3];
        case ROLE_A:
                return e[t->owner == 2 ? 2 : 1];
        case ROLE_B:
                return e[t->owner == 1 ? 2 : 1];
        default:
                return '-';
        }
}

static const char *outcome_word(char c) {
        switch (c) {
        case 'O':
                return "OK";
        case 'R':
                return "REFUSED_LATER";
        case 'D':
                return "DENIED";
        case 'I':
                return "INVISIBLE";
        case 'X':
                return "REDACTED";
        default:
                return "?";
        }
}

/* s with every run of white space made one space (a dumped message on one line). */
static char *flatten(const char *s) {
        char *t = strdup(strempty(s)), *w = t;

        for (const char *p = strempty(s); t && *p; p++)
                if (!strchr(" \t\n", *p))
                        *w++ = *p;
                else if (w > t && w[-1] != ' ')
                        *w++ = ' ';
        if (t)
                *w = 0;
        return t;
}

/* What a reply was, for a failure message. */
static char *describe(const Row *row, const Reply *r) {
        _cleanup_free_ char *text = NULL;

        if (!r->ok)
                return strprintf("%s: %s", strna(r->error_name), strna(r->error_message));
        if (!row || !row->property)
                return strdup("OK");
        if (r->empty)
                return strdup("OK, empty");
        text = flatten(r->text);
        return strprintf("OK: %.120s", strempty(text));
}

typedef struct Tally {
        unsigned probes, wrong, leaks, waited, refused[_ROLE_MAX];
        StrBuf lines;
} Tally;

static void judge(Tally *tl, const Row *row, const Target *t, Role role, char want) {
        const Target *pt = &phantoms[t->kind];
        Reply r[2] = {};
        bool right;
        const char *leak;

        run_as(role, JOB_PROBE, row, t, want == 'I' ? pt : NULL, r, want == 'I' ? 2 : 1);
        tl->probes++;
        for (size_t k = 0; k < (want == 'I' ? 2u : 1u); k++) {
                tl->waited += r[k].waited;
                tl->refused[role] += !r[k].ok &&
                        (streq_ptr(r[k].error_name, ARK_ERROR_ACCESS_DENIED) ||
                         streq_ptr(r[k].error_name, ARK_ERROR_INVALID_ARGUMENT));
        }
        switch (want) {
        case 'O':
                right = r[0].ok &&
                        !(row->witness && strchr(t->owner ? row->owned : row->unowned, 'X') && r[0].empty);
                break;
        case 'X':
                right = r[0].ok && r[0].empty;
                break;
        case 'D':
                right = !r[0].ok && streq_ptr(r[0].error_name, ARK_ERROR_ACCESS_DENIED);
                break;
        case 'R':
                right = !r[0].ok && later_error(row, r[0].error_name);
                break;
        case 'I':
                right = same_failure(&r[0], t, &r[1], pt);
                break;
        default:
                right = false;
        }
        if (!right) {
                _cleanup_free_ char *got = describe(row, &r[0]),
                                    *ph = want == 'I' ? describe(row, &r[1]) : NULL;
                _cleanup_free_ char *on_phantom = ph ? strprintf(" (on %s: %s)", pt->label, ph) : NULL;

                tl->wrong++;
                strbuf_printf(&tl->lines, "  %s.%s on %s as %s: expected %s%s%s, got %s%s\n", row->interface,
                              row->member, t->label, roles[role].label, outcome_word(want),
                              want == 'R' ? " " : "", want == 'R' ? row->later : "", got,
                              strempty(on_phantom));
        }
        if (getenv("ARK_TEST_MATRIX_VERBOSE")) {
                _cleanup_free_ char *got = describe(row, &r[0]),
                                    *ph = want == 'I' ? describe(row, &r[1]) : NULL;

                fprintf(stderr, "%s %s.%s on %s as %s: %s: %s%s%s\n", right ? "ok  " : "FAIL",
                        row->interface, row->member, t->label, roles[role].label, outcome_word(want), got,
                        ph ? " | missing: " : "", strempty(ph));
        }
        for (size_t k = 0; role != ROLE_ADMIN && k < (want == 'I' ? 2u : 1u); k++)
                if ((leak = leaked(role, row, k == 0 ? t : pt, r[k].text))) {
                        _cleanup_free_ char *flat = flatten(r[k].text);

                        tl->leaks++;
                        strbuf_printf(
                                &tl->lines,
                                "  %s.%s on %s as %s: the answer names '%s' of another tenant: %.300s\n",
                                row->interface, row->member, k == 0 ? t->label : pt->label,
                                roles[role].label, leak, strempty(flat));
                }
        reply_done(&r[0]);
        reply_done(&r[1]);
}

/* ---------------------------------------------------------------------------------- fixtures */

static void cleanup_accounts(void) {
        _cleanup_free_ char *out = NULL, *err = NULL;

        (void) harness_sh(
                &out, &err,
                "for u in %s %s %s; do for k in '' 1 2 3 4 5 6 7 8 9; do userdel $u$k 2>/dev/null; done; "
                "done; true",
                USER_A, USER_B, USER_NONE);
}

/* The role's users: USER_A, USER_A1, ... Returns 0 or -1 (printed). */
static int make_accounts(Role role) {
        _cleanup_free_ char *out = NULL, *err = NULL;

        for (unsigned k = 0; k < USERS_PER_ROLE; k++) {
                Account *a = &accounts[role][k];
                struct passwd *pw;

                a->name = k == 0 ? strdup(roles[role].user) : strprintf("%s%u", roles[role].user, k);
                if (!a->name ||
                    harness_sh(&out, &err, "useradd --system --no-create-home --shell /usr/sbin/nologin %s",
                               a->name) != 0 ||
                    !(pw = getpwnam(a->name))) {
                        fprintf(stderr, "cannot create test user %s: %s %s\n", strna(a->name), strna(out),
                                strna(err));
                        return -1;
                }
                a->uid = pw->pw_uid;
                a->gid = pw->pw_gid;
                out = mfree(out);
                err = mfree(err);
        }
        return 0;
}

static void add_members(const char *tenant, Role role) {
        for (unsigned k = 0; k < USERS_PER_ROLE; k++)
                assert_arkctl(&H, 0, NULL, "tenant", "member", "add", tenant, "--user",
                              accounts[role][k].name);
}

static char *bundle_path(const char *name) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *kind, *tenant, *n, *version, *path;
        char *found = NULL;
        int r;

        r = sd_bus_call_method(harness_bus(&H), ARK_BUS_NAME, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER,
                               "ListBundles", NULL, &reply, NULL);
        if (r >= 0)
                r = sd_bus_message_enter_container(reply, 'a', "(sssso)");
        while (r >= 0 && !found &&
               (r = sd_bus_message_read(reply, "(sssso)", &kind, &tenant, &n, &version, &path)) > 0)
                if (streq(n, name))
                        found = strdup(path);
        return found;
}

static void make_bundles(void) {
        _cleanup_free_ char *dir = strprintf("%s/bundles", H.tmp);
        _cleanup_free_ char *pub = strprintf("%s/k.pub", dir);
        static const struct {
                const char *name, *tenant;
        } b[] = { { MODEL_A, TENANT_A }, { MODEL_B, TENANT_B }, { MODEL_SHARED, NULL } };

        assert_int_equal(harness_sh(NULL, NULL,
                                    "mkdir -p '%s/m' && chmod 755 '%s' && echo weights > '%s/m/w.bin' && "
                                    "'%s/bin/arkctl' bundle keygen '%s/k' >/dev/null",
                                    dir, dir, dir, harness_build_dir(), dir),
                         0);
        assert_arkctl(&H, 0, NULL, "bundle", "trust", "add", pub);
        assert_arkctl(&H, 0, NULL, "bundle", "trust", "revoke", REVOKED_KEY_ID);
        assert_int_equal(read_full_file(pub, &trusted_pem, NULL), 0);
        for (size_t k = 0; k < ELEMENTSOF(b); k++) {
                _cleanup_free_ char *ark = strprintf("%s/%s.ark", dir, b[k].name);

                assert_int_equal(
                        harness_sh(NULL, NULL,
                                   "'%s/bin/arkctl' bundle create '%s/m' --kind model --name %s --version 1 "
                                   "--key '%s/k.key' -o '%s' --architecture llama --parameters 1000 "
                                   "--dtype bf16 --runtime vllm --license x >/dev/null && chmod 644 '%s'",
                                   harness_build_dir(), dir, b[k].name, dir, ark, ark),
                        0);
                if (b[k].tenant)
                        assert_arkctl(&H, 0, NULL, "bundle", "import", ark, "--tenant", b[k].tenant);
                else
                        assert_arkctl(&H, 0, NULL, "bundle", "import", ark);
        }
}

static int setup(void **state) {
        _cleanup_strv_free_ char **paths = NULL;

        if (geteuid() != 0)
                return 0;
        cleanup_accounts();
        for (Role r = ROLE_A; r < _ROLE_MAX; r++)
                if (make_accounts(r) < 0)
                        return -1;
        /* Its networks' bridges in a namespace of their own, not on the machine. */
        snprintf(netns_name, sizeof(netns_name), "ark-mx-%d", (int) getpid());
        snprintf(netns_path, sizeof(netns_path), "/run/netns/%s", netns_name);
        if (harness_sh(NULL, NULL, "ip netns add %s && ip -n %s link set lo up", netns_name, netns_name) !=
            0)
                return -1;
        if (harness_setup(&H, "dgx-h100") < 0)
                return -1;
        H.netns = netns_path;
        if (harness_start_arkd(&H, NULL) < 0)
                return -1;

        assert_arkctl(&H, 0, NULL, "tenant", "create", TENANT_A, "--description", DESC_A);
        assert_arkctl(&H, 0, NULL, "tenant", "create", TENANT_B, "--description", DESC_B);
        assert_arkctl(&H, 0, NULL, "network", "create", NET_A, "--tenant", TENANT_A, "--isolated");
        assert_arkctl(&H, 0, NULL, "network", "create", NET_B, "--tenant", TENANT_B, "--isolated");
        add_members(TENANT_A, ROLE_A);
        add_members(TENANT_B, ROLE_B);
        make_bundles();
        assert_arkctl(&H, 0, NULL, "vm", "create", VM_A, "--tenant", TENANT_A, "--vcpus", "1", "--memory",
                      "1G", "--gpu", GPU_A, "--model", MODEL_A, "--network", NET_A, "--start");
        assert_arkctl(&H, 0, NULL, "vm", "create", IDLE_A, "--tenant", TENANT_A, "--vcpus", "1", "--memory",
                      "1G", "--model", MODEL_SHARED);
        assert_arkctl(&H, 0, NULL, "vm", "create", VM_B, "--tenant", TENANT_B, "--vcpus", "1", "--memory",
                      "1G", "--gpu", GPU_B, "--model", MODEL_B, "--network", NET_B, "--start");
        assert_arkctl(&H, 0, NULL, "vm", "create", IDLE_B, "--tenant", TENANT_B, "--vcpus", "1", "--memory",
                      "1G");

        for (size_t k = 0; k < _T_MAX; k++) {
                Target *t = &targets[k];
                const char *prefix = t->kind == K_TENANT ? ARK_BUS_PREFIX_TENANT
                        : t->kind == K_INSTANCE          ? ARK_BUS_PREFIX_INSTANCE
                                                         : ARK_BUS_PREFIX_ACCELERATOR;

                if (t->kind == K_HOST)
                        t->path = strdup(ARK_BUS_PATH);
                else if (t->kind == K_BUNDLE)
                        t->path = bundle_path(k == T_BUNDLE_A           ? MODEL_A
                                                      : k == T_BUNDLE_B ? MODEL_B
                                                                        : MODEL_SHARED);
                else if (t->kind == K_INSTANCE)
                        t->path = instance_path(t->name);
                else if (t->kind == K_NETWORK) {
                        if (sd_bus_path_encode_many(&t->path, ARK_BUS_PREFIX_NETWORK "/%/%", t->tenant,
                                                    t->name) < 0)
                                t->path = NULL;
                } else if (sd_bus_path_encode(prefix, t->name, &t->path) < 0)
                        t->path = NULL;
                if (!t->path)
                        return -1;
        }
        for (Kind k = K_TENANT; k < _K_MAX; k++) {
                Target *t = &phantoms[k];
                const char *prefix = k == K_TENANT ? ARK_BUS_PREFIX_TENANT
                        : k == K_INSTANCE          ? ARK_BUS_PREFIX_INSTANCE
                        : k == K_ACCEL             ? ARK_BUS_PREFIX_ACCELERATOR
                                                   : PREFIX_BUNDLE;

                if (k == K_INSTANCE || k == K_NETWORK
                            ? sd_bus_path_encode_many(&t->path,
                                                      k == K_INSTANCE ? ARK_BUS_PREFIX_INSTANCE "/%/%"
                                                                      : ARK_BUS_PREFIX_NETWORK "/%/%",
                                                      TENANT_A, t->name) < 0
                            : sd_bus_path_encode(prefix, t->name ?: "999999", &t->path) < 0)
                        return -1;
        }

        /* What arkd exports, as root (an admin: every object) sees it. */
        if (walk(harness_bus(&H), "/", &exported, &paths, NULL, &instance_xml) < 0 || !instance_xml)
                return -1;
        return 0;
}

/* Also after a failed setup (cmocka then runs no group teardown): main() calls it again. */
static int teardown(void **state) {
        if (geteuid() != 0)
                return 0;
        if (H.tmp)
                harness_teardown(&H);
        if (netns_name[0])
                (void) harness_sh(NULL, NULL, "ip netns del %s", netns_name);
        netns_name[0] = 0;
        cleanup_accounts();
        for (size_t k = 0; k < _T_MAX; k++)
                targets[k].path = mfree(targets[k].path);
        for (size_t k = 0; k < _K_MAX; k++)
                phantoms[k].path = mfree(phantoms[k].path);
        exported = strv_free(exported);
        instance_xml = mfree(instance_xml);
        trusted_pem = mfree(trusted_pem);
        for (size_t r = 0; r < _ROLE_MAX; r++)
                for (size_t k = 0; k < USERS_PER_ROLE; k++)
                        accounts[r][k].name = mfree(accounts[r][k].name);
        return 0;
}

static void skip_unless_root(void) {
        if (geteuid() != 0) {
                print_message("not root: cannot create users, skipping\n");
                skip();
        }
}

static void call_as_root(const char *path, const char *iface, const char *member, const char *types, ...) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        va_list ap;
        int r;

        r = sd_bus_message_new_method_call(harness_bus(&H), &m, ARK_BUS_NAME, path, iface, member);
        if (r >= 0 && types) {
                va_start(ap, types);
                r = sd_bus_message_appendv(m, types, ap);
                va_end(ap);
        }
        if (r >= 0)
                r = sd_bus_call(harness_bus(&H), m, 0, &e, NULL);
        if (r < 0)
                fail_msg("restoring fixtures: %s.%s on %s: %s", iface, member, path,
                         e.message ?: strerror(-r));
}

/* As root: what the calls of .repair rows may have changed, back as it was. */
static void repair_fixtures(void) {
        call_as_root(ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "StartInstance", "s", VM_A);
        call_as_root(ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "StartInstance", "s", VM_B);
        for (size_t k = T_ACCEL_FREE; k <= T_ACCEL_B; k++)
                call_as_root(targets[k].path, ARK_BUS_IFACE_ACCELERATOR, "Release", NULL);
        call_as_root(targets[T_TENANT_A].path, ARK_BUS_IFACE_TENANT, "SetDescription", "s", DESC_A);
        call_as_root(targets[T_TENANT_B].path, ARK_BUS_IFACE_TENANT, "SetDescription", "s", DESC_B);
}

/* As root: every fixture as it was made; a probe that changed one is named in the failure. */
static void check_fixtures(StrBuf *b, const char *after) {
        static const struct {
                const char *instance, *state, *gpu;
        } instances[] = { { VM_A, "running", GPU_A },
                          { IDLE_A, "stopped", NULL },
                          { VM_B, "running", GPU_B },
                          { IDLE_B, "stopped", NULL } };
        static const struct {
                const char *tenant, *description;
        } tenants[] = { { TENANT_A, DESC_A }, { TENANT_B, DESC_B } };

        for (size_t k = 0; k < ELEMENTSOF(instances); k++) {
                _cleanup_free_ char *path = instance_path(instances[k].instance);
                _cleanup_free_ char *state = NULL;

                state = path ? harness_get_string(&H, path, ARK_BUS_IFACE_INSTANCE, "State") : NULL;
                if (!streq_ptr(state, instances[k].state))
                        strbuf_printf(b, "  fixture instance '%s' is %s after %s, not %s\n",
                                      instances[k].instance, strna(state), after, instances[k].state);
        }
        for (size_t k = 0; k < ELEMENTSOF(tenants); k++) {
                _cleanup_free_ char *path = NULL, *d = NULL;

                if (sd_bus_path_encode(ARK_BUS_PREFIX_TENANT, tenants[k].tenant, &path) >= 0)
                        d = harness_get_string(&H, path, ARK_BUS_IFACE_TENANT, "Description");
                if (!streq_ptr(d, tenants[k].description))
                        strbuf_printf(b, "  fixture tenant '%s' has description '%s' after %s\n",
                                      tenants[k].tenant, strna(d), after);
        }
        for (size_t k = T_ACCEL_FREE; k <= T_ACCEL_B; k++) {
                _cleanup_free_ char *s =
                        harness_get_string(&H, targets[k].path, ARK_BUS_IFACE_ACCELERATOR, "ClaimState");

                if (!streq_ptr(s, k == T_ACCEL_FREE ? "free" : "claimed"))
                        strbuf_printf(b, "  fixture %s %s is %s after %s\n", targets[k].label,
                                      targets[k].name, strna(s), after);
        }
        for (size_t k = T_BUNDLE_SHARED; k <= T_BUNDLE_B; k++) {
                _cleanup_free_ char *s = harness_get_string(&H, targets[k].path, IFACE_BUNDLE, "Name");

                if (!s)
                        strbuf_printf(b, "  fixture %s is gone after %s\n", targets[k].label, after);
        }
}

/* ---------------------------------------------------------------------------------- tests */

/* When `lines` (which it frees) holds anything: prints it under `heading` and fails the test with
 * `summary`. cmocka leaves a failed test by longjmp, past every cleanup attribute, so nothing may
 * be left to one then. */
static void fail_with_lines(char *lines, const char *heading, const char *summary) {
        if (isempty(lines)) {
                free(lines);
                return;
        }
        fprintf(stderr, "%s:\n%s", heading, lines);
        free(lines);
        fail_msg("%s", summary);
}

/* Acceptance: every method and property in the introspection data has a row, every row names one. */
static void test_introspection_is_covered(void **state) {
        char *report = NULL, summary[128];
        unsigned n;

        skip_unless_root();
        /* The walk saw every kind of object. */
        static const char *const seen[] = {
                "property " ARK_BUS_IFACE_MANAGER ".Version",
                "property " ARK_BUS_IFACE_TENANT ".Name",
                "property " ARK_BUS_IFACE_INSTANCE ".Name",
                "property " ARK_BUS_IFACE_ACCELERATOR ".Address",
                "property " IFACE_BUNDLE ".Name",
        };
        for (size_t k = 0; k < ELEMENTSOF(seen); k++)
                if (!strv_contains(exported, seen[k]))
                        fail_msg("the walk of arkd's objects found no %s", seen[k]);
        n = matrix_check(matrix, ELEMENTSOF(matrix), exported, &report);
        snprintf(summary, sizeof(summary), "%u problem(s) with the access matrix (above)", n);
        fail_with_lines(report, "The access matrix and arkd's introspection data", summary);
}

/* The check above cannot go stale: it reports a member that lost its row, a method arkd gained,
 * and a row for a member arkd no longer has. */
static void test_matrix_cannot_go_stale(void **state) {
        _cleanup_free_ Row *fewer = calloc(ELEMENTSOF(matrix), sizeof(Row));
        _cleanup_strv_free_ char **more = NULL, **less = NULL;
        _cleanup_free_ char *report = NULL, *xml = NULL;
        size_t n = 0;
        const char *iface;

        skip_unless_root();
        assert_non_null(fewer);

        /* One row removed. */
        for (size_t k = 0; k < ELEMENTSOF(matrix); k++)
                if (!(streq(matrix[k].interface, ARK_BUS_IFACE_INSTANCE) &&
                      streq(matrix[k].member, "ForceOff")))
                        fewer[n++] = matrix[k];
        assert_int_equal(n, ELEMENTSOF(matrix) - 1);
        assert_int_equal(matrix_check(fewer, n, exported, &report), 1);
        assert_non_null(
                strstr(report,
                       "org.ark.Ark1.Instance.ForceOff has no entry in the access matrix: decide who "
                       "may call it"));
        print_message("row removed: %s", report);
        report = mfree(report);

        /* A method and a property injected into an instance's introspection data. */
        iface = strstr(instance_xml, "<interface name=\"" ARK_BUS_IFACE_INSTANCE "\">");
        assert_non_null(iface);
        iface += strlen("<interface name=\"" ARK_BUS_IFACE_INSTANCE "\">");
        xml = strprintf("%.*s<method name=\"Frobnicate\"><arg type=\"s\" direction=\"in\"/></method>"
                        "<property name=\"Secret\" type=\"s\" access=\"read\"/>%s",
                        (int) (iface - instance_xml), instance_xml, iface);
        assert_non_null(xml);
        assert_int_equal(strv_copy(&more, exported), 0);
        assert_int_equal(introspect_parse(xml, &more, NULL), 0);
        assert_int_equal(strv_length(more), strv_length(exported) + 2);
        assert_int_equal(matrix_check(matrix, ELEMENTSOF(matrix), more, &report), 2);
        assert_non_null(
                strstr(report,
                       "org.ark.Ark1.Instance.Frobnicate has no entry in the access matrix: decide who "
                       "may call it"));
        assert_non_null(strstr(report,
                               "org.ark.Ark1.Instance.Secret has no entry in the access matrix: decide who "
                               "may read it"));
        print_message("method and property injected: %s", report);
        report = mfree(report);

        /* A member gone from arkd, its row left behind. */
        for (char **m = exported; *m; m++)
                if (!streq(*m, "method org.ark.Ark1.Manager.Reconcile"))
                        assert_int_equal(strv_extend(&less, *m), 0);
        assert_int_equal(matrix_check(matrix, ELEMENTSOF(matrix), less, &report), 1);
        assert_non_null(
                strstr(report, "row for org.ark.Ark1.Manager.Reconcile, which arkd does not export"));
        print_message("member removed: %s", report);
}

/* Every row's call and property as every role on every target of its kind. */
static void test_access_matrix(void **state) {
        char summary[160];
        Tally tl = {};

        skip_unless_root();
        for (size_t k = 0; k < ELEMENTSOF(matrix); k++) {
                const Row *row = &matrix[k];
                _cleanup_free_ char *key = member_key(row->property, row->interface, row->member);

                if (!strv_contains(exported, key))
                        continue; /* stale: test_introspection_is_covered says so */
                for (size_t t = 0; t < _T_MAX; t++) {
                        if (targets[t].kind != row->kind || targets[t].stopped != row->on_stopped)
                                continue;
                        for (Role role = 0; role < _ROLE_MAX; role++) {
                                char want = expected(row, &targets[t], role);

                                if (want == '-')
                                        continue;
                                judge(&tl, row, &targets[t], role, want);
                                if (row->repair)
                                        repair_fixtures();
                        }
                }
        }
        check_fixtures(&tl.lines, "the matrix");
        print_message(
                "%u calls, %u disagree with the access matrix, %u answers name another tenant's objects; "
                "refused calls (AccessDenied, InvalidArgument) per role: %u %u %u %u; %u s waited for arkd's "
                "limit on refused calls\n",
                tl.probes, tl.wrong, tl.leaks, tl.refused[0], tl.refused[1], tl.refused[2], tl.refused[3],
                tl.waited);
        snprintf(summary, sizeof(summary),
                 "%u of %u calls disagree with the access matrix, %u answers name another tenant's objects",
                 tl.wrong, tl.probes, tl.leaks);
        fail_with_lines(strbuf_steal(&tl.lines), "The access matrix does not hold", summary);
}

/* Counts as the caller sees them: its own tenant and instances, none for the user in no tenant. */
static void test_counts_as_seen(void **state) {
        static const struct {
                Role role;
                const char *property;
                uint64_t want;
        } c[] = { { ROLE_A, "NTenants", 1 },     { ROLE_A, "NInstances", 2 },
                  { ROLE_B, "NTenants", 1 },     { ROLE_B, "NInstances", 2 },
                  { ROLE_NONE, "NTenants", 0 },  { ROLE_NONE, "NInstances", 0 },
                  { ROLE_ADMIN, "NTenants", 2 }, { ROLE_ADMIN, "NInstances", 4 } };
        StrBuf b = {};

        skip_unless_root();
        for (size_t k = 0; k < ELEMENTSOF(c); k++) {
                const Row row = PROPERTY(MANAGER, c[k].property, K_HOST, "OOOO", NULL);
                Reply r = {};

                run_as(c[k].role, JOB_PROBE, &row, &targets[T_HOST], NULL, &r, 1);
                if (!r.ok || r.number != c[k].want)
                        strbuf_printf(&b, "  %s as %s: %" PRIu64 " (%s), expected %" PRIu64 "\n",
                                      c[k].property, roles[c[k].role].label, r.number,
                                      r.ok ? "read" : strna(r.error_name), c[k].want);
                reply_done(&r);
        }
        fail_with_lines(strbuf_steal(&b), "Counts", "counts are not as the caller sees them");
}

/* Objects another tenant's member (or nobody's) may not see do not show in the introspection tree
 * or in GetManagedObjects; those it may see do. Nothing it reads there names the other tenant. */
static void test_tree_as_each_role(void **state) {
        StrBuf b = {};

        skip_unless_root();
        for (Role role = 0; role < _ROLE_MAX; role++) {
                Reply r[4] = {};
                _cleanup_strv_free_ char **tree = NULL, **managed = NULL;

                run_as(role, JOB_WALK, NULL, &targets[T_HOST], NULL, r, 4);
                if (!r[2].ok)
                        strbuf_printf(&b, "  GetManagedObjects as %s failed: %s: %s\n", roles[role].label,
                                      strna(r[2].error_name), strna(r[2].error_message));
                for (const char *p = strempty(r[0].text), *q; *p; p = *q ? q + 1 : q) {
                        q = strchrnul(p, '\n');
                        (void) strv_push(&tree, strndup(p, (size_t) (q - p)));
                }
                for (const char *p = strempty(r[2].text), *q; *p; p = *q ? q + 1 : q) {
                        q = strchrnul(p, '\n');
                        (void) strv_push(&managed, strndup(p, (size_t) (q - p)));
                }
                for (size_t t = T_TENANT_A; t < _T_MAX; t++) {
                        const Target *tg = &targets[t];
                        bool visible = false, in_tree = strv_contains(tree, tg->path),
                             in_managed = strv_contains(managed, tg->path);

                        /* Visible where Properties.GetAll of its kind is allowed. */
                        for (size_t k = 0; k < ELEMENTSOF(matrix); k++)
                                if (streq(matrix[k].interface, IFACE_PROPERTIES) &&
                                    matrix[k].kind == tg->kind)
                                        visible = expected(&matrix[k], tg, role) == 'O';
                        if (in_tree != visible)
                                strbuf_printf(&b, "  %s (%s) %s in the introspection tree as %s\n",
                                              tg->label, tg->path, in_tree ? "shows" : "does not show",
                                              roles[role].label);
                        if (in_managed != visible && r[2].ok)
                                strbuf_printf(&b, "  %s (%s) %s in GetManagedObjects as %s\n", tg->label,
                                              tg->path, in_managed ? "shows" : "does not show",
                                              roles[role].label);
                }
                for (size_t k = 1; role != ROLE_ADMIN && k < 4; k += 2) {
                        const char *leak = leaked(role, NULL, &targets[T_HOST], r[k].text);

                        if (leak)
                                strbuf_printf(&b, "  %s as %s names '%s' of another tenant\n",
                                              k == 1 ? "the introspection tree" : "GetManagedObjects",
                                              roles[role].label, leak);
                }
                for (size_t k = 0; k < 4; k++)
                        reply_done(&r[k]);
        }
        fail_with_lines(strbuf_steal(&b), "Visibility",
                        "objects show where they must not, or not where they must");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_introspection_is_covered),
                cmocka_unit_test(test_matrix_cannot_go_stale),
                cmocka_unit_test(test_access_matrix),
                cmocka_unit_test(test_counts_as_seen),
                cmocka_unit_test(test_tree_as_each_role),
        };
        int r = cmocka_run_group_tests_name("integration: access matrix", tests, setup, teardown);

        (void) teardown(NULL);
        xmlCleanupParser();
        return r;
}

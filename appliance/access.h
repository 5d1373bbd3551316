#pragma once

/* Who is calling, and what may they do. The daemon identifies every D-Bus caller by its UID and
 * groups (from the bus, sd_bus_query_sender_creds()): root and members of the ark-admin group
 * administer everything; a member of a tenant (as a user, or through a group) sees and acts on
 * that tenant's objects only; anyone else may read the daemon's status and nothing else. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

typedef struct Manager Manager;
typedef struct Tenant Tenant;

#define ARK_ADMIN_GROUP "ark-admin"

typedef struct Caller {
        uid_t uid;
        bool admin;
        gid_t *gids; /* primary and supplementary */
        size_t n_gids;
} Caller;

void caller_done(Caller *c);

/* The caller of `msg`. Fails (negative errno, `error` set) only when the bus cannot say who it is;
 * that caller is then refused. A NULL message (an internal call) is an admin. The bus is asked
 * at most once a second per connection: the answer for the last message asked about is kept in m
 * (with a reference on the message), and the answers for the last connections by their unique
 * bus name, for a second (access.c, "CallerCache"). */
int caller_get(Manager *m, sd_bus_message *msg, Caller *ret, sd_bus_error *error);
/* Drops the remembered caller when it is msg's, with the reference on msg: a call whose
 * descriptors must close once it is answered (Instance.Exec's pipes) is not kept alive by it. */
void caller_release(Manager *m, sd_bus_message *msg);
/* Drops what caller_get() keeps in m. */
void caller_forget(Manager *m);

/* Whether the caller is a member of tenant t (as a user or through one of its groups). Admins are
 * members of every tenant. */
bool caller_in_tenant(const Caller *c, const Tenant *t);
/* ... of the tenant named `tenant`; false for a tenant that does not exist. */
bool caller_in_tenant_named(Manager *m, const Caller *c, const char *tenant);
/* Whether the caller is a member of any tenant at all (or an admin). */
bool caller_in_any_tenant(Manager *m, const Caller *c);

/* Refuse with AccessDenied unless the caller is an admin / a member of `tenant`. `what` names the
 * action for the sentence ("create tenants"). Return 0 when allowed. */
int access_require_admin(Manager *m, sd_bus_message *msg, const char *what, sd_bus_error *error);
int access_require_tenant(Manager *m, sd_bus_message *msg, const char *tenant, const char *what,
                          sd_bus_error *error);
/* Refuse unless the caller is an admin or a member of some tenant (listing calls, which then filter). */
int access_require_member(Manager *m, sd_bus_message *msg, Caller *ret, const char *what,
                          sd_bus_error *error);

/* For property getters and object lookups: the caller of the message sd-bus is processing now on
 * `bus` (NULL when there is none: an internal call, which sees everything). */
int caller_current(Manager *m, sd_bus *bus, Caller *ret);

/* `text` (an error sentence about to go to caller c) with every quoted name of a tenant, instance
 * or network the caller may not see replaced: "instance 'x'" becomes "an instance of another
 * tenant", "network 'x'" "a network of another tenant", "tenant 'x'" "another tenant", any other
 * 'x' "'(hidden)'". Names in `given` (what the caller
 * itself sent) are left as they are: replacing those would tell it that they exist. The one
 * backstop that keeps other tenants' names out of what a member is told, whichever module wrote
 * the sentence. Returns a newly allocated string, or NULL when nothing needs replacing (admins:
 * never) or on OOM. */
char *access_redact(Manager *m, const Caller *c, char *const *given, const char *text);

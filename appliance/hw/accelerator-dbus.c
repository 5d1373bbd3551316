/* org.ark.Ark1.Accelerator objects: one per PCI accelerator found by the inventory scan. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "basic/macro.h"
#include "basic/string-util.h"
#include "access.h"
#include "instance.h"
#include "manager.h"
#include "pool/mig.h"
#include "shared/bus-util.h"

static int property_get_address(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Accelerator *a = userdata;
        return sd_bus_message_append(reply, "s", a->address);
}

static int property_get_vendor_name(sd_bus *bus, const char *path, const char *interface,
                                    const char *property, sd_bus_message *reply, void *userdata,
                                    sd_bus_error *error) {
        Accelerator *a = userdata;
        return sd_bus_message_append(reply, "s", strempty(a->vendor_name));
}

static int property_get_members(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Accelerator *a = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(sqqusbs)");
        if (r < 0)
                return r;
        for (size_t k = 0; k < a->n_group; k++) {
                PciFunction *f = &a->group[k];
                r = sd_bus_message_append(reply, "(sqqusbs)", f->address, f->vendor, f->device, f->class,
                                          strempty(f->driver), (int) f->is_bridge, strempty(f->netdev));
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

/* Whether containers hold partitions of it (MIG instances, shares). */
static bool partitioned(const Accelerator *a) {
        LIST_FOREACH(instances, i, a->manager->instances)
                if (i->partition && streq(i->partition->address, a->address))
                        return true;
        return false;
}

/* "partitioned" for a GPU that is free but for containers' partitions. */
static int property_get_claim_state(sd_bus *bus, const char *path, const char *interface,
                                    const char *property, sd_bus_message *reply, void *userdata,
                                    sd_bus_error *error) {
        const char *st = accelerator_claim_state(userdata);

        return sd_bus_message_append(reply, "s",
                                     streq(st, "free") && partitioned(userdata) ? "partitioned" : st);
}

/* Its partitions: holder (the instance, for callers who may see it; "" for everyone else), kind
 * ("mig", "share"), MIG profile, MIG start slice, milli-GPUs, GPU memory. */
static int property_get_partitions(sd_bus *bus, const char *path, const char *interface,
                                   const char *property, sd_bus_message *reply, void *userdata,
                                   sd_bus_error *error) {
        _cleanup_(caller_done) Caller c = {};
        Accelerator *a = userdata;
        bool known = caller_current(a->manager, bus, &c) >= 0;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(ssssuut)");
        LIST_FOREACH(instances, i, a->manager->instances) {
                const InstancePartition *p = i->partition;
                bool visible;

                if (r < 0)
                        break;
                if (!p || !streq(p->address, a->address))
                        continue;
                visible = known && (c.admin || caller_in_tenant_named(a->manager, &c, i->tenant));
                r = sd_bus_message_append(reply, "(ssssuut)", visible ? i->name : "",
                                          visible ? i->tenant : "", p->mig ? "mig" : "share",
                                          p->mig ? mig_profile_info((MigProfile) p->profile)->name : "",
                                          p->mig ? p->mig_start : 0, p->milli, p->memory_bytes);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        return r;
}

/* The instance holding it, for callers who may see that instance; "" for everyone else (they
 * still see that it is claimed, not by whom). */
static int property_get_claimed_by(sd_bus *bus, const char *path, const char *interface,
                                   const char *property, sd_bus_message *reply, void *userdata,
                                   sd_bus_error *error) {
        _cleanup_(caller_done) Caller c = {};
        Accelerator *a = userdata;
        Instance *i = a->claimed_by
                ? manager_find_instance_in(a->manager, a->claimed_by_tenant, a->claimed_by)
                : NULL;
        bool visible = false;

        if (a->claimed_by && caller_current(a->manager, bus, &c) >= 0)
                visible = c.admin || (i && caller_in_tenant_named(a->manager, &c, i->tenant));
        return sd_bus_message_append(reply, "s", visible ? a->claimed_by : "");
}

/* The domain named in a conflict is for admins; others learn only that there is one. */
static int property_get_conflict(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        _cleanup_(caller_done) Caller c = {};
        Accelerator *a = userdata;

        if (!a->conflict)
                return sd_bus_message_append(reply, "s", "");
        if (caller_current(a->manager, bus, &c) >= 0 && c.admin)
                return sd_bus_message_append(reply, "s", a->conflict);
        return sd_bus_message_append(reply, "s", "a domain outside Ark's claims");
}

static int method_hold(sd_bus_message *msg, void *userdata, sd_bus_error *error, const char *state) {
        const char *reason;
        int r;

        r = sd_bus_message_read(msg, "s", &reason);
        if (r < 0)
                return r;
        r = access_require_admin(((Accelerator *) userdata)->manager, msg, "reserve or quarantine GPUs",
                                 error);
        if (r < 0)
                return r;
        r = accelerator_hold(((Accelerator *) userdata)->manager, userdata, state, reason, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, NULL);
}

static int method_reserve(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return method_hold(msg, userdata, error, "reserved");
}

static int method_quarantine(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return method_hold(msg, userdata, error, "quarantined");
}

static int method_release(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        int r = access_require_admin(((Accelerator *) userdata)->manager, msg, "release GPUs", error);

        if (r < 0)
                return r;
        r = accelerator_release_hold(((Accelerator *) userdata)->manager, userdata, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, NULL);
}

const sd_bus_vtable accelerator_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Address", "s", property_get_address, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Vendor", "q", NULL, offsetof(Accelerator, vendor), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Device", "q", NULL, offsetof(Accelerator, device), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("SubsystemVendor", "q", NULL, offsetof(Accelerator, subsystem_vendor),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("SubsystemDevice", "q", NULL, offsetof(Accelerator, subsystem_device),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Class", "u", NULL, offsetof(Accelerator, class), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("VendorName", "s", property_get_vendor_name, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Model", "s", bus_property_get_string_ptr, offsetof(Accelerator, model),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("MemoryBytes", "t", NULL, offsetof(Accelerator, memory_bytes),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("IOMMUGroup", "i", NULL, offsetof(Accelerator, iommu_group),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("IOMMUGroupMembers", "a(sqqusbs)", property_get_members, 0,
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("NUMANode", "i", NULL, offsetof(Accelerator, numa_node),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("LinkSpeed", "s", bus_property_get_string_ptr, offsetof(Accelerator, link_speed),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("LinkWidth", "u", NULL, offsetof(Accelerator, link_width),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("MaxLinkSpeed", "s", bus_property_get_string_ptr,
                        offsetof(Accelerator, max_link_speed), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("MaxLinkWidth", "u", NULL, offsetof(Accelerator, max_link_width),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Driver", "s", bus_property_get_string_ptr, offsetof(Accelerator, driver),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ClaimState", "s", property_get_claim_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ClaimedBy", "s", property_get_claimed_by, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Partitions", "a(ssssuut)", property_get_partitions, 0, 0),
        SD_BUS_PROPERTY("HoldReason", "s", bus_property_get_string_ptr, offsetof(Accelerator, hold_reason),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Health", "s", bus_property_get_string_ptr, offsetof(Accelerator, health),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Conflict", "s", property_get_conflict, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("Reserve", SD_BUS_ARGS("s", reason), SD_BUS_NO_RESULT, method_reserve,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Quarantine", SD_BUS_ARGS("s", reason), SD_BUS_NO_RESULT, method_quarantine,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Release", NULL, NULL, method_release, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

Accelerator *manager_find_accelerator(Manager *m, const char *address) {
        for (size_t k = 0; k < m->n_accelerators; k++)
                if (streq(m->accelerators[k].address, address))
                        return &m->accelerators[k];
        return NULL;
}

Accelerator *manager_accelerator_of_function(Manager *m, const char *address) {
        Accelerator *a = manager_find_accelerator(m, address);

        for (size_t k = 0; !a && k < m->n_accelerators; k++)
                for (size_t f = 0; f < m->accelerators[k].n_group; f++)
                        if (!m->accelerators[k].group[f].is_bridge &&
                            streq(m->accelerators[k].group[f].address, address))
                                return &m->accelerators[k];
        return a;
}

void accelerator_set_claim(Manager *m, const char *address, const Instance *owner) {
        _cleanup_free_ char *path = NULL;
        Accelerator *a = manager_find_accelerator(m, address);

        if (!a || free_and_strdup(&a->claimed_by, owner ? owner->name : NULL) < 0 ||
            free_and_strdup(&a->claimed_by_tenant, owner ? owner->tenant : NULL) < 0)
                return;
        if (sd_bus_path_encode(ARK_BUS_PREFIX_ACCELERATOR, a->address, &path) >= 0)
                (void) sd_bus_emit_properties_changed(m->bus, path, ARK_BUS_IFACE_ACCELERATOR, "ClaimState",
                                                      "ClaimedBy", NULL);
}

static bool caller_current_may_see_accelerators(Manager *m, sd_bus *bus) {
        _cleanup_(caller_done) Caller c = {};

        return caller_current(m, bus, &c) >= 0 && caller_in_any_tenant(m, &c);
}

int accelerator_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
                            void **found, sd_bus_error *error) {
        _cleanup_free_ char *address = NULL;
        Accelerator *a;
        int r;

        r = sd_bus_path_decode(path, ARK_BUS_PREFIX_ACCELERATOR, &address);
        if (r <= 0)
                return 0;
        a = manager_find_accelerator(userdata, address);
        if (!a)
                return 0;
        /* As ListAccelerators: not there for a caller who is a member of no tenant. */
        if (!caller_current_may_see_accelerators(userdata, bus))
                return 0;
        *found = a;
        return 1;
}

int accelerator_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes,
                                sd_bus_error *error) {
        Manager *m = userdata;
        size_t n = caller_current_may_see_accelerators(m, bus) ? m->n_accelerators : 0;
        char **l;

        l = calloc(n + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (size_t k = 0; k < n; k++) {
                int r = sd_bus_path_encode(ARK_BUS_PREFIX_ACCELERATOR, m->accelerators[k].address, &l[k]);
                if (r < 0) {
                        for (size_t j = 0; j < k; j++)
                                free(l[j]);
                        free(l);
                        return r;
                }
        }
        *nodes = l;
        return 1;
}

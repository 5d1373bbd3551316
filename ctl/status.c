/* arkctl status: the daemon, its hypervisor connection, counts, orphans, last reconciliation. */

#include <inttypes.h>

#include "arkctl.h"
#include "bus-props.h"
#include "output.h"
#include "basic/string-util.h"
#include "shared/bus-util.h"

static const FieldMap orphan_fields[] = {
        { NULL, "name" },
        { NULL, "uuid" },
        { NULL, "tenant" },
        {},
};

static const FieldMap conflict_fields[] = {
        { NULL, "device" },
        { NULL, "message" },
        {},
};

static const FieldMap status_fields[] = {
        { "Version", "version" },
        { "Hostname", "hostname" },
        { "StartedAt", "started_at" },
        { "StateDirectory", "state_directory" },
        { "SysfsRoot", "sysfs_root" },
        { "HypervisorURI", "hypervisor_uri" },
        { "HypervisorConnected", "hypervisor_connected" },
        { "DomainType", "domain_type" },
        { "NTenants", "n_tenants" },
        { "NInstances", "n_instances" },
        { "NAccelerators", "n_accelerators" },
        { "Orphans", "orphans", FIELD_STRUCTS, orphan_fields },
        { "Conflicts", "conflicts", FIELD_STRUCTS, conflict_fields },
        { "LastReconcile", "last_reconcile" },
        { "NetworkOrphans", "network_orphans" },
        {},
};

/* One line per orphan: "web1 (6f1c...), tenant 'risk'". */
static char *format_orphans(json_t *orphans) {
        StrBuf b = {};
        json_t *o;
        size_t i;

        if (json_array_size(orphans) == 0)
                return strdup("none");
        json_array_foreach(orphans, i, o) {
                const char *tenant = json_string_value(json_array_get(o, 2));

                strbuf_printf(&b, "%s%s (%s)", i > 0 ? "\n" : "",
                              strempty(json_string_value(json_array_get(o, 0))),
                              strempty(json_string_value(json_array_get(o, 1))));
                if (isempty(tenant))
                        strbuf_append(&b, ", no tenant");
                else
                        strbuf_printf(&b, ", tenant '%s'", tenant);
        }
        return strbuf_steal(&b);
}

int verb_status(char **args) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(json_decrefp) json_t *props = NULL, *j = NULL;
        _cleanup_(table_freep) Table *t = NULL;
        _cleanup_free_ char *hv = NULL, *orphans = NULL, *conflicts = NULL;
        char started[OUTPUT_FORMAT_MAX], reconciled[OUTPUT_FORMAT_MAX], n[3][32];
        int r;

        r = ctl_bus_open(&bus);
        if (r < 0)
                return r;
        r = ctl_get_all(bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, &props);
        if (r < 0)
                return r;

        if (arg_output == OUTPUT_JSON) {
                j = props_to_json(props, status_fields);
                return ctl_print_json(j);
        }

        hv = strprintf("%s (%s)", props_string(props, "HypervisorURI"),
                       props_bool(props, "HypervisorConnected") ? "connected" : "disconnected");
        orphans = format_orphans(json_object_get(props, "Orphans"));
        if (!hv || !orphans)
                return ctl_oom();
        snprintf(n[0], sizeof(n[0]), "%" PRIu64, props_u64(props, "NTenants"));
        snprintf(n[1], sizeof(n[1]), "%" PRIu64, props_u64(props, "NInstances"));
        snprintf(n[2], sizeof(n[2]), "%" PRIu64, props_u64(props, "NAccelerators"));

        t = table_new_fields();
        if (!t)
                return ctl_oom();
        table_add_row(t, "Version", props_string(props, "Version"));
        table_add_row(t, "Hostname", props_string(props, "Hostname"));
        table_add_row(t, "Started",
                      format_timestamp(started, sizeof(started), props_u64(props, "StartedAt")));
        table_add_row(t, "Hypervisor", hv);
        table_add_row(t, "Domain type", props_string(props, "DomainType"));
        table_add_row(t, "State directory", props_string(props, "StateDirectory"));
        table_add_row(t, "Sysfs root", props_string(props, "SysfsRoot"));
        table_add_row(t, "Tenants", n[0]);
        table_add_row(t, "Instances", n[1]);
        table_add_row(t, "Accelerators", n[2]);
        table_add_row(t, "Last reconcile",
                      format_timestamp(reconciled, sizeof(reconciled), props_u64(props, "LastReconcile")));
        table_add_row(t, "Orphans", orphans);
        {
                /* Links named as Ark's that no network owns (admins see them): 'network prune'. */
                json_t *l = json_object_get(props, "NetworkOrphans"), *e;
                _cleanup_free_ char *links = NULL;
                StrBuf b = {};
                size_t k;

                json_array_foreach(l, k, e)
                        strbuf_printf(&b, "%s%s", k > 0 ? ", " : "", strempty(json_string_value(e)));
                links = strbuf_steal(&b);
                if (!isempty(links)) {
                        _cleanup_free_ char *row =
                                strprintf("%s ('arkctl network prune' removes them)", links);
                        table_add_row(t, "Network orphans", row ?: links);
                }
        }
        {
                json_t *c = json_object_get(props, "Conflicts"), *e;
                StrBuf b = {};
                size_t k;

                json_array_foreach(c, k, e)
                        strbuf_printf(&b, "%s%s", k > 0 ? "\n" : "",
                                      strempty(json_string_value(json_array_get(e, 1))));
                conflicts = strbuf_steal(&b);
                if (!isempty(conflicts)) {
                        char *with_hint =
                                strprintf("%s\n(resolve each by hand: virsh edit the domain, or delete the "
                                          "VM; then 'arkctl reconcile')",
                                          conflicts);
                        if (!with_hint)
                                return ctl_oom();
                        free(conflicts);
                        conflicts = with_hint;
                }
                table_add_row(t, "Conflicts", isempty(conflicts) ? "none" : conflicts);
        }
        return ctl_print_table(t);
}

/* arkctl reconcile: compare store and hypervisor now, then show what is left over. */
int verb_reconcile(char **args) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        r = ctl_bus_open(&bus);
        if (r < 0)
                return r;
        r = ctl_call(bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "Reconcile", CTL_SLOW_CALL_USEC, NULL, NULL);
        if (r < 0)
                return r;
        return verb_status(args);
}

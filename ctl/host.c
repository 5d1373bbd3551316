/* arkctl host show | host accelerators: what the node is made of. */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "arkctl.h"
#include "bus-props.h"
#include "output.h"
#include "basic/parse-util.h"
#include "basic/string-util.h"
#include "shared/bus-util.h"

static const FieldMap partition_fields[] = {
        { NULL, "instance" },  { NULL, "tenant" }, { NULL, "kind" },         { NULL, "mig_profile" },
        { NULL, "mig_start" }, { NULL, "milli" },  { NULL, "memory_bytes" }, {},
};

static const FieldMap numa_fields[] = {
        { NULL, "id" }, { NULL, "cpus" }, { NULL, "memory_bytes" }, { NULL, "cpu_list" }, {},
};

static const FieldMap host_fields[] = {
        { "Hostname", "hostname" },
        { "CPUModel", "cpu_model" },
        { "CPUs", "cpus" },
        { "Sockets", "sockets" },
        { "CoresPerSocket", "cores_per_socket" },
        { "ThreadsPerCore", "threads_per_core" },
        { "MemoryBytes", "memory_bytes" },
        { "NUMANodes", "numa_nodes", FIELD_STRUCTS, numa_fields },
        { "IOMMUEnabled", "iommu_enabled" },
        { "DomainType", "domain_type" },
        { "NAccelerators", "n_accelerators" },
        {},
};

static const FieldMap member_fields[] = {
        { NULL, "address" },
        { NULL, "vendor_id", FIELD_HEX16 },
        { NULL, "device_id", FIELD_HEX16 },
        { NULL, "class", FIELD_HEX24 },
        { NULL, "driver" },
        { NULL, "bridge" },
        { NULL, "interface" },
        {},
};

static const FieldMap accelerator_fields[] = {
        { "Address", "address" },
        { "Vendor", "vendor_id", FIELD_HEX16 },
        { "Device", "device_id", FIELD_HEX16 },
        { "SubsystemVendor", "subsystem_vendor_id", FIELD_HEX16 },
        { "SubsystemDevice", "subsystem_device_id", FIELD_HEX16 },
        { "Class", "class", FIELD_HEX24 },
        { "VendorName", "vendor" },
        { "Model", "model" },
        { "MemoryBytes", "memory_bytes" },
        { "IOMMUGroup", "iommu_group" },
        { "IOMMUGroupMembers", "iommu_group_members", FIELD_STRUCTS, member_fields },
        { "NUMANode", "numa_node" },
        { "LinkSpeed", "link_speed" },
        { "LinkWidth", "link_width" },
        { "MaxLinkSpeed", "max_link_speed" },
        { "MaxLinkWidth", "max_link_width" },
        { "Driver", "driver" },
        { "ClaimState", "claim_state" },
        { "ClaimedBy", "claimed_by" },
        { "Partitions", "partitions", FIELD_STRUCTS, partition_fields },
        { "HoldReason", "hold_reason" },
        { "Health", "health" },
        { "Conflict", "conflict" },
        {},
};

static char *format_numa(json_t *nodes) {
        StrBuf b = {};
        json_t *n;
        size_t i;

        if (json_array_size(nodes) == 0)
                return strdup("none reported");
        json_array_foreach(nodes, i, n) {
                char mem[OUTPUT_FORMAT_MAX];

                strbuf_printf(
                        &b, "%s%" JSON_INTEGER_FORMAT ": %" JSON_INTEGER_FORMAT " CPUs (%s), %s",
                        i > 0 ? "\n" : "", json_integer_value(json_array_get(n, 0)),
                        json_integer_value(json_array_get(n, 1)),
                        strdash(json_string_value(json_array_get(n, 3))),
                        format_bytes(mem, sizeof(mem), (uint64_t) json_integer_value(json_array_get(n, 2))));
        }
        return strbuf_steal(&b);
}

int verb_host_show(char **args) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(json_decrefp) json_t *props = NULL, *j = NULL;
        _cleanup_(table_freep) Table *t = NULL;
        _cleanup_free_ char *cpus = NULL, *numa = NULL;
        char mem[OUTPUT_FORMAT_MAX], naccel[32];
        uint64_t sockets, cores, threads;
        int r;

        r = ctl_bus_open(&bus);
        if (r < 0)
                return r;
        r = ctl_get_all(bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, &props);
        if (r < 0)
                return r;

        if (arg_output == OUTPUT_JSON) {
                j = props_to_json(props, host_fields);
                return ctl_print_json(j);
        }

        sockets = props_u64(props, "Sockets");
        cores = props_u64(props, "CoresPerSocket");
        threads = props_u64(props, "ThreadsPerCore");
        cpus = strprintf("%" PRIu64 " (%" PRIu64 " socket%s x %" PRIu64 " core%s x %" PRIu64 " thread%s)",
                         props_u64(props, "CPUs"), sockets, sockets == 1 ? "" : "s", cores,
                         cores == 1 ? "" : "s", threads, threads == 1 ? "" : "s");
        numa = format_numa(json_object_get(props, "NUMANodes"));
        if (!cpus || !numa)
                return ctl_oom();
        snprintf(naccel, sizeof(naccel), "%" PRIu64, props_u64(props, "NAccelerators"));

        t = table_new_fields();
        if (!t)
                return ctl_oom();
        table_add_row(t, "Hostname", props_string(props, "Hostname"));
        table_add_row(t, "CPU model", strdash(props_string(props, "CPUModel")));
        table_add_row(t, "CPUs", cpus);
        table_add_row(t, "Memory", format_bytes(mem, sizeof(mem), props_u64(props, "MemoryBytes")));
        table_add_row(t, "NUMA nodes", numa);
        table_add_row(t, "IOMMU", props_bool(props, "IOMMUEnabled") ? "enabled" : "disabled");
        table_add_row(t, "Domain type", props_string(props, "DomainType"));
        table_add_row(t, "Accelerators", naccel);
        return ctl_print_table(t);
}

/* A short name for the kind of a PCI function, by its class code, for the lines listing the other
 * members of an accelerator's IOMMU group ("audio" and "USB" on consumer GPUs). */
static const char *pci_class_description(uint32_t vendor, uint32_t class, bool bridge, char *buf, size_t l) {
        unsigned base = (class >> 16) & 0xff, sub = (class >> 8) & 0xff;

        if (bridge)
                return "bridge";
        /* NVIDIA's "other serial bus" function on a GPU is the UCSI controller of its USB-C port. */
        if (vendor == 0x10de && (class & 0xffffff) == 0x0c8000)
                return "USB-C";
        switch (base) {
        case 0x01:
                return "storage";
        case 0x02:
                return "network";
        case 0x03:
                return sub == 0x00 ? "VGA" : sub == 0x02 ? "3D controller" : "display";
        case 0x04:
                return sub == 0x01 || sub == 0x03 ? "audio" : "multimedia";
        case 0x06:
                return "bridge";
        case 0x0c:
                switch (sub) {
                case 0x03:
                        return "USB";
                case 0x05:
                        return "SMBus";
                case 0x06:
                        return "InfiniBand";
                default:
                        return "serial bus";
                }
        case 0x12:
                return "accelerator";
        default:
                snprintf(buf, l, "class 0x%06x", class & 0xffffff);
                return buf;
        }
}

/* "Gen5 x16" from "32.0 GT/s PCIe" and 16; the raw speed when it is not a PCIe rate we know. */
static const char *format_link(char *buf, size_t l, const char *speed, uint64_t width) {
        static const struct {
                double gts;
                int gen;
        } gens[] = { { 2.5, 1 }, { 5, 2 }, { 8, 3 }, { 16, 4 }, { 32, 5 }, { 64, 6 } };
        char w[32] = "";
        double gts;
        int gen = 0;

        if (isempty(speed) && width == 0)
                return "-";
        if (width > 0)
                snprintf(w, sizeof(w), "%sx%" PRIu64, isempty(speed) ? "" : " ", width);
        if (!isempty(speed) && sscanf(speed, "%lf", &gts) == 1)
                for (size_t i = 0; i < ELEMENTSOF(gens); i++)
                        if (gts > gens[i].gts * 0.9 && gts < gens[i].gts * 1.1)
                                gen = gens[i].gen;
        if (gen > 0)
                snprintf(buf, l, "Gen%d%s", gen, w);
        else {
                const char *s = strempty(speed);
                size_t n = strlen(s);

                if (endswith(s, " PCIe"))
                        n -= strlen(" PCIe");
                snprintf(buf, l, "%.*s%s", (int) n, s, w);
        }
        return buf;
}

static int add_accelerator_rows(Table *t, json_t *props) {
        const char *address = props_string(props, "Address"), *model, *vendor;
        char mem[OUTPUT_FORMAT_MAX] = "-", group[32] = "-", numa[32] = "-", link[64];
        int64_t g = props_int(props, "IOMMUGroup", -1), n = props_int(props, "NUMANode", -1);
        uint64_t bytes = props_u64(props, "MemoryBytes");
        json_t *members = json_object_get(props, "IOMMUGroupMembers"), *m;
        size_t i;

        if (bytes > 0)
                format_bytes(mem, sizeof(mem), bytes);
        if (g >= 0)
                snprintf(group, sizeof(group), "%" PRIi64, g);
        if (n >= 0)
                snprintf(numa, sizeof(numa), "%" PRIi64, n);
        /* The vendor's name is dropped from the model in the table (JSON has both): at 80
         * columns "NVIDIA GeForce RTX 2080 SUPER" and "... Ti" would otherwise end alike. */
        model = props_string(props, "Model");
        vendor = props_string(props, "VendorName");
        if (!isempty(vendor) && startswith(model, vendor) && model[strlen(vendor)] == ' ')
                model += strlen(vendor) + 1;
        table_add_row(t, address, model, mem, group, numa,
                      format_link(link, sizeof(link), props_string(props, "LinkSpeed"),
                                  props_u64(props, "LinkWidth")),
                      props_string(props, "Driver"));

        /* Who has it, when anyone does: a line of its own, under MODEL like the group members. */
        {
                const char *st = props_string(props, "ClaimState"),
                           *reason = props_string(props, "HoldReason");
                _cleanup_free_ char *line = NULL;

                /* Short: the table is fitted to 80 columns; -o json has it all. */
                if (streq(st, "claimed"))
                        line = strprintf("claimed by '%s'", props_string(props, "ClaimedBy"));
                else if (streq(st, "reserved") || streq(st, "quarantined"))
                        line = strprintf("%s%s%s",
                                         streq(st, "reserved") ? "reserved for the host" : "quarantined",
                                         isempty(reason) ? "" : ": ", reason);
                else if (streq(st, "unhealthy"))
                        line = strprintf("unhealthy: %s", props_string(props, "Health"));
                else if (streq(st, "conflict"))
                        line = strprintf("conflict: held by %s", props_string(props, "Conflict"));
                if (line && table_add_row(t, NULL, line, NULL, NULL, NULL, NULL, NULL) < 0)
                        return -ENOMEM;
        }
        /* Its partitions, a line each: "mig 3g.40gb: 'm1'", "share 0.250: 'infer'" (holders the
         * caller may not see: "another tenant"). */
        {
                json_t *parts = json_object_get(props, "Partitions"), *p;
                size_t k;

                json_array_foreach(parts, k, p) {
                        const char *who = json_string_value(json_array_get(p, 0));
                        uint64_t milli = json_integer_value(json_array_get(p, 5));
                        _cleanup_free_ char *line = NULL, *holder = NULL;

                        holder = isempty(who) ? strdup("another tenant") : strprintf("'%s'", who);
                        if (streq_ptr(json_string_value(json_array_get(p, 2)), "mig"))
                                line = strprintf("mig %s: %s", json_string_value(json_array_get(p, 3)),
                                                 strna(holder));
                        else
                                line = strprintf("share %" PRIu64 ".%03" PRIu64 ": %s", milli / 1000,
                                                 milli % 1000, strna(holder));
                        if (!line || table_add_row(t, NULL, line, NULL, NULL, NULL, NULL, NULL) < 0)
                                return -ENOMEM;
                }
        }

        /* The other functions in the IOMMU group go to a VM together with the accelerator: one
         * indented line each, "audio (snd_hda_intel)" under MODEL, so the table stays within 80
         * columns. */
        json_array_foreach(members, i, m) {
                const char *a = json_string_value(json_array_get(m, 0)),
                           *driver = json_string_value(json_array_get(m, 4)),
                           *ifname = json_string_value(json_array_get(m, 6));
                _cleanup_free_ char *indented = NULL, *what = NULL;
                char buf[32];

                if (!a || streq(a, address))
                        continue;
                indented = strprintf("  %s", a);
                what = strprintf("%s%s%s (%s)",
                                 pci_class_description((uint32_t) json_integer_value(json_array_get(m, 1)),
                                                       (uint32_t) json_integer_value(json_array_get(m, 3)),
                                                       json_is_true(json_array_get(m, 5)), buf, sizeof(buf)),
                                 isempty(ifname) ? "" : " ", strempty(ifname),
                                 isempty(driver) ? "no driver" : driver);
                if (!indented || !what)
                        return -ENOMEM;
                table_add_row(t, indented, what, NULL, NULL, NULL, NULL, NULL);
        }
        return 0;
}

int verb_host_accelerators(char **args) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(json_decrefp) json_t *list = json_array();
        _cleanup_(table_freep) Table *t = NULL;
        const char *address, *vendor, *model, *driver, *path;
        int r;

        if (!list)
                return ctl_oom();
        r = ctl_bus_open(&bus);
        if (r < 0)
                return r;
        r = ctl_call(bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "ListAccelerators", 0, &reply, NULL);
        if (r < 0)
                return r;

        t = table_new("ADDRESS", "MODEL", "MEMORY", "GROUP", "NUMA", "LINK", "DRIVER", NULL);
        if (!t)
                return ctl_oom();
        table_set_shrinkable(t, 1, 12);
        table_set_shrinkable(t, 6, 8);

        r = sd_bus_message_enter_container(reply, 'a', "(sssso)");
        if (r < 0)
                return ctl_log_call_error(r, NULL, "ListAccelerators");
        while ((r = sd_bus_message_read(reply, "(sssso)", &address, &vendor, &model, &driver, &path)) > 0) {
                _cleanup_(json_decrefp) json_t *props = NULL;

                r = ctl_get_all_listed(bus, path, ARK_BUS_IFACE_ACCELERATOR, &props);
                if (r < 0)
                        return r;
                if (!props)
                        continue;
                if (arg_output == OUTPUT_JSON) {
                        if (json_array_append_new(list, props_to_json(props, accelerator_fields)) < 0)
                                return ctl_oom();
                } else if (add_accelerator_rows(t, props) < 0)
                        return ctl_oom();
        }
        if (r < 0)
                return ctl_log_call_error(r, NULL, "ListAccelerators");

        if (arg_output == OUTPUT_JSON)
                return ctl_print_json(list);
        if (table_rows(t) == 0) {
                if (arg_legend)
                        puts("No accelerators found.");
                return 0;
        }
        return ctl_print_table(t);
}

/* ------------------------------------------------------------------------------------ host check */

/* Prints `text` from column `indent` on, wrapped at the output width, the first line starting at
 * the current column `col`. */
static void print_wrapped(const char *text, size_t col, size_t indent) {
        size_t width = MAX(output_columns(), indent + 20);
        const char *p = text;

        while (*p) {
                size_t room = width > col ? width - col : 1, n = strlen(p), cut;

                if (n <= room) {
                        fputs(p, stdout);
                        break;
                }
                cut = room;
                while (cut > 0 && p[cut] != ' ')
                        cut--;
                if (cut == 0) /* one long word: break it where it must */
                        cut = room;
                fwrite(p, 1, cut, stdout);
                p += cut;
                while (*p == ' ')
                        p++;
                printf("\n%*s", (int) indent, "");
                col = indent;
        }
        fputc('\n', stdout);
}

#define CHECK_STATUS_COL 2
#define CHECK_NAME_COL 13
#define CHECK_DETAIL_COL 34

static void print_check(const char *check, const char *status, const char *detail, const char *remedy) {
        printf("  %-10s %-20s ", streq(status, "not-ready") ? "NOT READY" : status, check);
        print_wrapped(detail, CHECK_DETAIL_COL, CHECK_DETAIL_COL);
        if (!isempty(remedy)) {
                printf("%*s", CHECK_DETAIL_COL, "");
                fputs("Remedy: ", stdout);
                print_wrapped(remedy, CHECK_DETAIL_COL + 8, CHECK_DETAIL_COL);
        }
}

int verb_host_check(char **args) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL, *list = NULL;
        _cleanup_(json_decrefp) json_t *models = json_object(), *host = json_array(), *accs = json_array();
        const char *subject, *check, *status, *detail, *remedy, *address, *vendor, *model, *driver, *path;
        _cleanup_free_ char *last = NULL;
        json_t *cur = NULL;
        bool host_ready = true;
        unsigned n_acc = 0, n_acc_ready = 0;
        StrBuf not_ready = {};
        int r;

        if (!models || !host || !accs)
                return ctl_oom();
        r = ctl_bus_open(&bus);
        if (r < 0)
                return r;

        r = ctl_new_call(bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "CheckHost", &m);
        if (r < 0)
                return r;
        r = sd_bus_message_append_strv(m, args);
        if (r < 0)
                return ctl_log_call_error(r, NULL, "CheckHost");
        r = ctl_send(bus, m, 0, &reply);
        if (r < 0)
                return r;

        /* Model names for the headings. */
        r = ctl_call(bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "ListAccelerators", 0, &list, NULL);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(list, 'a', "(sssso)");
        while (r >= 0 &&
               (r = sd_bus_message_read(list, "(sssso)", &address, &vendor, &model, &driver, &path)) > 0)
                if (json_object_set_new(models, address, json_string(model)) < 0)
                        return ctl_oom();
        if (r < 0)
                return ctl_log_call_error(r, NULL, "ListAccelerators");

        r = sd_bus_message_enter_container(reply, 'a', "(sssss)");
        if (r < 0)
                return ctl_log_call_error(r, NULL, "CheckHost");
        while ((r = sd_bus_message_read(reply, "(sssss)", &subject, &check, &status, &detail, &remedy)) >
               0) {
                bool bad = streq(status, "not-ready");
                json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "check", check, "status", status, "detail",
                                      detail, "remedy", remedy);

                if (!o)
                        return ctl_oom();
                if (isempty(subject)) {
                        if (json_array_append_new(host, o) < 0)
                                return ctl_oom();
                        if (arg_output != OUTPUT_JSON) {
                                if (!last && !(last = strdup("")))
                                        return ctl_oom();
                                if (json_array_size(host) == 1)
                                        puts("Host");
                                print_check(check, status, detail, remedy);
                        }
                        host_ready = host_ready && !bad;
                        continue;
                }
                if (!last || !streq(last, subject)) {
                        const char *mod = json_string_value(json_object_get(models, subject));

                        if (cur && json_is_true(json_object_get(cur, "ready")))
                                n_acc_ready++;
                        cur = json_pack("{s:s, s:s, s:b, s:[]}", "address", subject, "model", strempty(mod),
                                        "ready", 1, "checks");
                        if (!cur || json_array_append_new(accs, cur) < 0)
                                return ctl_oom();
                        n_acc++;
                        free(last);
                        last = strdup(subject);
                        if (!last)
                                return ctl_oom();
                        if (arg_output != OUTPUT_JSON)
                                printf("%s  %s\n", subject, strempty(mod));
                }
                if (bad) {
                        if (json_is_true(json_object_get(cur, "ready")))
                                strbuf_printf(&not_ready, "%s%s", not_ready.len > 0 ? ", " : "", subject);
                        (void) json_object_set_new(cur, "ready", json_false());
                }
                if (json_array_append_new(json_object_get(cur, "checks"), o) < 0)
                        return ctl_oom();
                if (arg_output != OUTPUT_JSON)
                        print_check(check, status, detail, remedy);
        }
        if (r < 0)
                return ctl_log_call_error(r, NULL, "CheckHost");
        if (cur && json_is_true(json_object_get(cur, "ready")))
                n_acc_ready++;

        if (arg_output == OUTPUT_JSON) {
                _cleanup_(json_decrefp) json_t *doc =
                        json_pack("{s:b, s:O, s:O}", "ready", host_ready && n_acc_ready == n_acc, "host",
                                  host, "accelerators", accs);
                _cleanup_free_ char *ignore = strbuf_steal(&not_ready);

                r = ctl_print_json(doc);
                if (r < 0)
                        return r;
        } else {
                _cleanup_free_ char *list_bad = strbuf_steal(&not_ready);

                if (host_ready && n_acc_ready == n_acc)
                        printf("\nReady: the host%s%u accelerator%s can be passed through.\n",
                               n_acc > 0 ? " and " : "", n_acc, n_acc == 1 ? "" : "s");
                else
                        printf("\nNot ready:%s%s%s%u of %u accelerator%s%s%s%s.\n",
                               host_ready ? "" : " the host", host_ready ? " " : "; ", "",
                               n_acc - n_acc_ready, n_acc, n_acc == 1 ? "" : "s",
                               isempty(list_bad) ? "" : " (", strempty(list_bad),
                               isempty(list_bad) ? "" : ")");
        }
        /* 0 when everything asked about is ready, 1 otherwise (not an error of arkctl's). */
        return host_ready && n_acc_ready == n_acc ? 0 : 1;
}

/* arkctl usage report. */

#include <inttypes.h>
#include <stdio.h>

#include "arkctl.h"
#include "output.h"
#include "basic/string-util.h"
#include "basic/time-util.h"
#include "shared/bus-util.h"

/* A CSV field: quoted when it holds a comma, quote or line break. */
static void csv_field(const char *s, bool last) {
        if (strpbrk(s, ",\"\r\n")) {
                putchar('"');
                for (; *s; s++) {
                        if (*s == '"')
                                putchar('"');
                        putchar(*s);
                }
                putchar('"');
        } else
                fputs(s, stdout);
        putchar(last ? '\n' : ',');
}

int verb_usage_report(char **args) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(table_freep) Table *t =
                table_new("TENANT", "INSTANCE", "GPU MODELS", "INTERVALS", "SECONDS", "GPU-S", "CU-S",
                          "GPU-MEM GIB-S", "VCPU-S", "MEM GIB-S", NULL);
        _cleanup_(json_decrefp) json_t *j = json_array();
        uint64_t to = arg_to == UINT64_MAX ? now_usec(CLOCK_REALTIME) : arg_to;
        const char *tenant, *instance, *models;
        double s, gs, gms, vs, ms, cus;
        uint64_t n;
        int r;

        if (!t || !j)
                return ctl_oom();
        if (arg_from > to)
                return usage_error("--from is after --to");
        r = ctl_bus_open(&bus);
        if (r < 0)
                return r;
        r = ctl_call(bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "GetUsageReport", 0, &reply, "stt",
                     strempty(arg_tenant), arg_from, to);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "(ssstdddddd)");
        if (r < 0)
                return ctl_log_call_error(r, NULL, "GetUsageReport");
        if (arg_output == OUTPUT_CSV)
                printf("tenant,instance,gpu_models,intervals,seconds,gpu_seconds,compute_unit_seconds,"
                       "gpu_memory_gib_seconds,vcpu_seconds,memory_gib_seconds\n");
        while ((r = sd_bus_message_read(reply, "(ssstdddddd)", &tenant, &instance, &models, &n, &s, &gs,
                                        &gms, &vs, &ms, &cus)) > 0) {
                char c[6][32], ns[32];

                if (arg_output == OUTPUT_JSON) {
                        if (json_array_append_new(
                                    j,
                                    json_pack("{s:s, s:s, s:s, s:I, s:f, s:f, s:f, s:f, s:f, s:f}", "tenant",
                                              tenant, "instance", instance, "gpu_models", models,
                                              "intervals", (json_int_t) n, "seconds", s, "gpu_seconds", gs,
                                              "compute_unit_seconds", cus, "gpu_memory_gib_seconds", gms,
                                              "vcpu_seconds", vs, "memory_gib_seconds", ms)) < 0)
                                return ctl_oom();
                        continue;
                }
                snprintf(ns, sizeof(ns), "%" PRIu64, n);
                snprintf(c[0], sizeof(c[0]), "%.1f", s);
                snprintf(c[1], sizeof(c[1]), "%.1f", gs);
                snprintf(c[2], sizeof(c[2]), "%.1f", cus);
                snprintf(c[3], sizeof(c[3]), "%.1f", gms);
                snprintf(c[4], sizeof(c[4]), "%.1f", vs);
                snprintf(c[5], sizeof(c[5]), "%.1f", ms);
                if (arg_output == OUTPUT_CSV) {
                        csv_field(tenant, false);
                        csv_field(instance, false);
                        csv_field(models, false);
                        csv_field(ns, false);
                        for (int k = 0; k < 6; k++)
                                csv_field(c[k], k == 5);
                        continue;
                }
                table_add_row(t, tenant, instance, *models ? models : "-", ns, c[0], c[1], c[2], c[3], c[4],
                              c[5]);
        }
        if (r < 0)
                return ctl_log_call_error(r, NULL, "GetUsageReport");
        if (arg_output == OUTPUT_JSON)
                return ctl_print_json(j);
        if (arg_output == OUTPUT_CSV)
                return fflush(stdout) == 0 ? 0 : 1;
        if (table_rows(t) == 0) {
                if (arg_legend)
                        printf("No usage in that time.\n");
                return 0;
        }
        return ctl_print_table(t);
}

/* arkd — the Ark node controller daemon. */

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "basic/log.h"
#include "basic/string-util.h"
#include "config.h"
#include "bundles.h"
#include "manager.h"
#include "reclaim.h"

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;

        log_info("Received %s, shutting down.", strsignal((int) si->ssi_signo));
        (void) sd_notify(0, "STOPPING=1\nSTATUS=Shutting down...");
        reclaim_abort_all(m);
        bundles_abort_all(m);
        return sd_event_exit(m->event, 0);
}

static void help(void) {
        printf("arkd " ARK_VERSION " — the Ark node controller\n\n"
               "Usage: arkd [OPTIONS]\n\n"
               "  -c --config FILE        configuration file (default " CONFIG_DEFAULT_CONFIG_FILE ")\n"
               "     --bus-address ADDR   use this D-Bus address instead of the system bus\n"
               "     --state-dir DIR      state directory (store, disks, console logs)\n"
               "     --libvirt-uri URI    libvirt connection (test:///abs/host.xml for a simulated host)\n"
               "     --domain-type TYPE   auto, kvm, qemu or test\n"
               "     --sysfs-root DIR     prefix of every hardware read (a fixture tree in tests)\n"
               "     --trust-dir DIR      trusted bundle signing keys (default " CONFIG_DEFAULT_TRUST_DIR
               ")\n"
               "     --log-level LEVEL    err, warning, notice, info, debug\n"
               "     --metrics-address A  serve Prometheus metrics on A (IP:PORT, port 0: any; '' = off)\n"
               "     --metrics-token-file FILE\n"
               "                          require the bearer token in FILE for metrics (created when\n"
               "                          missing; '' = none)\n"
               "  -h --help               show this help\n"
               "     --version            show the version\n");
}

enum {
        ARG_BUS_ADDRESS = 0x100,
        ARG_STATE_DIR,
        ARG_LIBVIRT_URI,
        ARG_DOMAIN_TYPE,
        ARG_SYSFS_ROOT,
        ARG_LOG_LEVEL,
        ARG_METRICS_ADDRESS,
        ARG_METRICS_TOKEN_FILE,
        ARG_TRUST_DIR,
        ARG_VERSION,
};

static int parse_argv(int argc, char *argv[], ArkConfig *c) {
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "bus-address", required_argument, NULL, ARG_BUS_ADDRESS },
                { "state-dir", required_argument, NULL, ARG_STATE_DIR },
                { "libvirt-uri", required_argument, NULL, ARG_LIBVIRT_URI },
                { "domain-type", required_argument, NULL, ARG_DOMAIN_TYPE },
                { "sysfs-root", required_argument, NULL, ARG_SYSFS_ROOT },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                { "metrics-address", required_argument, NULL, ARG_METRICS_ADDRESS },
                { "metrics-token-file", required_argument, NULL, ARG_METRICS_TOKEN_FILE },
                { "trust-dir", required_argument, NULL, ARG_TRUST_DIR },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                {},
        };
        const char *config_file = CONFIG_DEFAULT_CONFIG_FILE;
        bool config_given = false;
        /* Overrides are applied after the file, so remember them first. */
        const char *o_bus = NULL, *o_state = NULL, *o_uri = NULL, *o_type = NULL, *o_sysfs = NULL,
                   *o_level = NULL, *o_metrics = NULL, *o_metrics_token = NULL, *o_trust = NULL;
        _cleanup_free_ char *err = NULL, *warnings = NULL;
        int ch, r;

        while ((ch = getopt_long(argc, argv, "c:h", options, NULL)) >= 0)
                switch (ch) {
                case 'c':
                        config_file = optarg;
                        config_given = true;
                        break;
                case ARG_BUS_ADDRESS:
                        o_bus = optarg;
                        break;
                case ARG_STATE_DIR:
                        o_state = optarg;
                        break;
                case ARG_LIBVIRT_URI:
                        o_uri = optarg;
                        break;
                case ARG_DOMAIN_TYPE:
                        o_type = optarg;
                        break;
                case ARG_SYSFS_ROOT:
                        o_sysfs = optarg;
                        break;
                case ARG_LOG_LEVEL:
                        o_level = optarg;
                        break;
                case ARG_METRICS_ADDRESS:
                        o_metrics = optarg;
                        break;
                case ARG_METRICS_TOKEN_FILE:
                        o_metrics_token = optarg;
                        break;
                case ARG_TRUST_DIR:
                        o_trust = optarg;
                        break;
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("arkd %s\n", ARK_VERSION);
                        return 0;
                default:
                        return -EINVAL;
                }
        if (optind < argc) {
                log_error("arkd takes no arguments ('%s' given); see --help.", argv[optind]);
                return -EINVAL;
        }

        r = config_parse_file(c, config_file, &err, &warnings);
        if (r == -ENOENT && !config_given)
                log_debug("No configuration file at %s, using defaults.", config_file);
        else if (r == -ENOENT)
                return log_error_errno(r, "Configuration file '%s' does not exist.", config_file);
        else if (r < 0 && err)
                return log_error_errno(r, "%s", err);
        else if (r < 0)
                return log_error_errno(r, "Failed to read configuration file '%s': %m", config_file);
        if (warnings)
                log_warning("%s", warnings);

        /* Command-line overrides go through the same validation as the file. */
        {
                StrBuf b = {};
                char *text;

                strbuf_append(&b, "[Daemon]\n");
                if (o_bus)
                        strbuf_printf(&b, "BusAddress=%s\n", o_bus);
                if (o_state)
                        strbuf_printf(&b, "StateDirectory=%s\n", o_state);
                if (o_level)
                        strbuf_printf(&b, "LogLevel=%s\n", o_level);
                if (o_metrics)
                        strbuf_printf(&b, "MetricsAddress=%s\n", o_metrics);
                if (o_metrics_token)
                        strbuf_printf(&b, "MetricsTokenFile=%s\n", o_metrics_token);
                strbuf_append(&b, "[Hypervisor]\n");
                if (o_uri)
                        strbuf_printf(&b, "URI=%s\n", o_uri);
                if (o_type)
                        strbuf_printf(&b, "DomainType=%s\n", o_type);
                strbuf_append(&b, "[Hardware]\n");
                if (o_sysfs)
                        strbuf_printf(&b, "SysfsRoot=%s\n", o_sysfs);
                strbuf_append(&b, "[Bundles]\n");
                if (o_trust)
                        strbuf_printf(&b, "TrustDirectory=%s\n", o_trust);
                text = strbuf_steal(&b);
                if (!text)
                        return log_error_errno(-ENOMEM, "Out of memory.");
                err = mfree(err);
                r = config_parse_string(c, "command line", text, &err, NULL);
                free(text);
                if (r < 0)
                        return log_error_errno(r, "%s", err ?: "Invalid command line option.");
        }
        return 1;
}

int main(int argc, char *argv[]) {
        _cleanup_(manager_freep) Manager *m = NULL;
        ArkConfig config;
        sigset_t ss;
        int r;

        /* Before anything is created: what arkd makes (the store, disks, console and bundle
         * directories, the metrics address) is root's alone unless it says otherwise
         * (manager_prepare_state_dir() opens the way to the disks for QEMU's group). The unit
         * sets UMask=0077 too; this holds for an arkd started by hand. */
        umask(0077);
        log_set_ident("arkd");
        r = config_init(&config);
        if (r < 0)
                return EXIT_FAILURE;
        r = parse_argv(argc, argv, &config);
        if (r <= 0) {
                config_done(&config);
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        }
        log_set_max_level(config.log_level);

        r = manager_new(&config, &m);
        config_done(&config);
        if (r < 0) {
                log_error_errno(r, "Failed to allocate the manager: %m");
                return EXIT_FAILURE;
        }

        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        /* Children (dnsmasq of tenant networks) are watched by sd-event, which needs SIGCHLD
         * blocked; blocked here, before any thread starts, it is blocked in all of them. */
        sigaddset(&ss, SIGCHLD);
        sigprocmask(SIG_BLOCK, &ss, NULL);
        (void) signal(SIGPIPE, SIG_IGN);
        if (sd_event_add_signal(m->event, NULL, SIGTERM, on_signal, m) < 0 ||
            sd_event_add_signal(m->event, NULL, SIGINT, on_signal, m) < 0) {
                log_error("Failed to install signal handlers.");
                return EXIT_FAILURE;
        }
        if (IS_ENABLED(CONFIG_WATCHDOG)) {
                /* sd-event pings WATCHDOG=1 at half of WATCHDOG_USEC when the service manager asks. */
                r = sd_event_set_watchdog(m->event, true);
                if (r < 0)
                        log_warning_errno(r, "Failed to enable the watchdog: %m");
        }

        r = manager_startup(m);
        if (r < 0) {
                (void) sd_notifyf(0, "STATUS=Failed to start: %s\nERRNO=%d", strerror(-r), -r);
                return EXIT_FAILURE;
        }

        log_struct(LOG_INFO, 0, LOG_FIELDS("MESSAGE_ID=" ARK_MESSAGE_STARTED),
                   "arkd %s ready: %u tenants, %u instances, %zu accelerators, hypervisor %s (%s).",
                   ARK_VERSION, manager_count_tenants(m), manager_count_instances(m), m->n_accelerators,
                   m->config.libvirt_uri, m->hv && m->bus ? "see HypervisorConnected" : "n/a");
        (void) sd_notifyf(0, "READY=1\nSTATUS=Managing %u tenants and %u instances.",
                          manager_count_tenants(m), manager_count_instances(m));

        r = sd_event_loop(m->event);
        if (r < 0) {
                log_error_errno(r, "Event loop failed: %m");
                return EXIT_FAILURE;
        }
        return r == 0 ? EXIT_SUCCESS : EXIT_FAILURE; /* what sd_event_exit() was told */
}

/* ark-update: A/B system updates (docs/updates.md). `status`, `install FILE.ark [--force]`,
 * `mark-good`, `rollback`. Links lib/ and the bundle verifier only. */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <systemd/sd-bus.h>

#include "device-firmware.h"
#include "update.h"
#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "shared/bus-util.h"

#ifndef CONFIG_DEFAULT_TRUST_DIR
#define CONFIG_DEFAULT_TRUST_DIR "/etc/ark/trust.d"
#endif

static void help(void) {
        printf("ark-update %s: A/B system updates.\n\n"
               "Usage: ark-update [OPTIONS] status | install FILE.ark [--force] | mark-good | rollback | on-trial\n"
               "       ark-update [--root DIR] [-o json] firmware list | firmware install FILE.cab\n\n"
               "  --esp DIR          the EFI system partition (default /boot/efi)\n"
               "  --slot-a PATH      root slot A (default: the partition ark-root-a on the running root's disk,\n"
               "                     else /dev/disk/by-partlabel/ark-root-a)\n"
               "  --slot-b PATH      root slot B (likewise, ark-root-b)\n"
               "  --state FILE       the record (default /var/lib/ark-update/state.json)\n"
               "  --booted a|b       the slot running now (default: ark.slot= on the kernel command line)\n"
               "  --running VERSION  the product version running now (default: IMAGE_VERSION in os-release, else %s)\n"
               "  --trust-dir DIR    trusted bundle keys (default $ARK_TRUST_DIR, else %s)\n"
               "  --tries N          boot attempts a new slot gets (default: Tries= in /etc/ark/update.conf, else 3)\n"
               "  --root DIR         where sysfs and /proc are read (firmware list; a fixture tree in tests)\n"
               "  -o json            status and firmware list as JSON\n",
               ARK_VERSION, ARK_VERSION, CONFIG_DEFAULT_TRUST_DIR);
}

/* ark.slot=a|b from /proc/cmdline, -1 when not there. */
static int booted_from_cmdline(void) {
        _cleanup_free_ char *line = NULL;
        const char *p;

        if (read_one_line_file("/proc/cmdline", &line) < 0)
                return -1;
        p = strstr(line, "ark.slot=");
        if (!p)
                return -1;
        return p[9] == 'a' ? 0 : p[9] == 'b' ? 1 : -1;
}

/* IMAGE_VERSION of the running system's os-release (the appliance image sets it): the product
 * version. NULL elsewhere. */
static char *os_release_version(void) {
        _cleanup_free_ char *text = NULL;
        const char *p;
        size_t n;

        if (read_full_file("/etc/os-release", &text, &n) < 0 &&
            read_full_file("/usr/lib/os-release", &text, &n) < 0)
                return NULL;
        for (p = text; p && !startswith(p, "IMAGE_VERSION="); p = strchr(p, '\n'), p = p ? p + 1 : NULL)
                ;
        if (!p)
                return NULL;
        p += strlen("IMAGE_VERSION=");
        n = strcspn(p, "\n");
        if (n >= 2 && (p[0] == '"' || p[0] == '\'') && p[n - 1] == p[0])
                return strndup(p + 1, n - 2);
        return n > 0 ? strndup(p, n) : NULL;
}

/* Tries=N from /etc/ark/update.conf (the image's boot attempts of an update), else def. */
static unsigned conf_tries(unsigned def) {
        _cleanup_free_ char *text = NULL;
        size_t n;
        const char *p;
        unsigned v;

        if (read_full_file("/etc/ark/update.conf", &text, &n) < 0)
                return def;
        p = strstr(text, "Tries=");
        if (!p || (p != text && p[-1] != '\n') || sscanf(p + 6, "%u", &v) != 1 || v < 1 || v > 9)
                return def;
        return v;
}

static int print_status(const UpdateLayout *l, bool json) {
        _cleanup_free_ char *err = NULL;
        UpdateStatus st;
        int r = update_status(l, &st, &err);

        if (r < 0) {
                fprintf(stderr, "ark-update: %s\n", err ?: strerror(-r));
                return 1;
        }
        if (json) {
                json_t *j = json_object(), *slots = json_array();

                for (int k = 0; k < UPDATE_SLOTS; k++)
                        json_array_append_new(
                                slots,
                                json_pack("{s:s, s:s, s:s, s:i, s:i, s:b, s:b}", "slot", slot_name(k),
                                          "state", slot_state_to_string(st.slot[k].state), "version",
                                          st.slot[k].version, "tries_left", (int) st.slot[k].left,
                                          "tries_done", (int) st.slot[k].done, "booted", st.booted == k,
                                          "default", st.default_slot == k));
                json_object_set_new(j, "slots", slots);
                json_object_set_new(j, "last_install", json_string(st.last_install));
                json_object_set_new(j, "last_error", json_string(st.last_error));
                {
                        char *text = json_dumps(j, JSON_INDENT(2));
                        puts(strempty(text));
                        free(text);
                }
                json_decref(j);
                return 0;
        }
        printf("SLOT  STATE   VERSION   TRIES  BOOTED  NEXT\n");
        for (int k = 0; k < UPDATE_SLOTS; k++) {
                char tries[32] = "-";

                if (st.slot[k].state == SLOT_TRYING || st.slot[k].state == SLOT_BAD)
                        snprintf(tries, sizeof(tries), "%u left", st.slot[k].left);
                printf("%-4s  %-6s  %-8s  %-6s %-6s  %s\n", slot_name(k),
                       slot_state_to_string(st.slot[k].state),
                       isempty(st.slot[k].version) ? "-" : st.slot[k].version, tries,
                       st.booted == k ? "yes" : "", st.default_slot == k ? "yes" : "");
        }
        if (!isempty(st.last_install))
                printf("Last install: %s\n", st.last_install);
        if (!isempty(st.last_error))
                printf("Last error: %s\n", st.last_error);
        return 0;
}

static int print_firmware(const char *root, bool json) {
        FirmwareItem *l = NULL;
        size_t n = 0;
        int r;

        /* A tree to read must look like one (a fixture host's sysfs/, not the host's directory). */
        {
                _cleanup_free_ char *sys = strprintf("%s/sys", root);

                if (!sys || !file_exists(sys)) {
                        fprintf(stderr, "ark-update: --root: '%s' has no sys/ to read\n", root);
                        return 2;
                }
        }
        r = firmware_list(root, &l, &n);

        if (r < 0) {
                fprintf(stderr, "ark-update: cannot list firmware: %s\n", strerror(-r));
                return 1;
        }
        if (json) {
                json_t *a = json_array();
                char *text;

                for (size_t k = 0; k < n; k++)
                        json_array_append_new(a,
                                              json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s}", "device",
                                                        l[k].device, "kind", l[k].kind, "model", l[k].model,
                                                        "component", l[k].component, "version",
                                                        l[k].version[0] ? l[k].version : NULL, "source",
                                                        l[k].source));
                text = json_dumps(a, JSON_INDENT(2));
                puts(strempty(text));
                free(text);
                json_decref(a);
        } else {
                printf("%-13s %-11s %-24s %-9s %-16s %s\n", "DEVICE", "KIND", "MODEL", "PART", "VERSION",
                       "SOURCE");
                for (size_t k = 0; k < n; k++)
                        printf("%-13s %-11s %-24.24s %-9s %-16s %s\n", l[k].device, l[k].kind, l[k].model,
                               l[k].component, l[k].version[0] ? l[k].version : "-", l[k].source);
        }
        free(l);
        return 0;
}

/* Installs are announced on the bus too, so every console shows one started anywhere (over SSH,
 * or from the other console): see docs/api.md, "System updates". The signals come from
 * org.ark.Update1, which only root may own, so consoles believe them; $ARK_UPDATE_ORIGIN (the
 * console that started this one) goes with them. No arkd is needed; without a bus (a recovery
 * shell) nothing is sent and nothing fails. */
typedef struct Announce {
        sd_bus *bus;
        const char *bundle, *origin;
        char phase[16];
        int pct;
} Announce;

static void announce_open(Announce *a, const char *bundle) {
        *a = (Announce) { .bundle = bundle, .origin = strempty(getenv("ARK_UPDATE_ORIGIN")), .pct = -1 };
        if (ark_bus_open(getenv("ARK_BUS_ADDRESS"), &a->bus) < 0)
                a->bus = NULL;
        /* When the name is not ours to have (a bus policy without Ark's), the signals go anyway
         * and consoles do not take them for an update's. */
        if (a->bus)
                (void) sd_bus_request_name(a->bus, ARK_UPDATE_BUS_NAME, 0);
}

static void announce_flush(Announce *a) {
        if (a->bus && sd_bus_flush(a->bus) < 0)
                a->bus = sd_bus_flush_close_unref(a->bus); /* gone: stop trying */
}

static void announce(Announce *a, const char *member, const char *types, ...) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        va_list ap;
        int r;

        if (!a->bus)
                return;
        r = sd_bus_message_new_signal(a->bus, &m, ARK_UPDATE_BUS_PATH, ARK_UPDATE_BUS_IFACE, member);
        if (r >= 0 && types) {
                va_start(ap, types);
                r = sd_bus_message_appendv(m, types, ap);
                va_end(ap);
        }
        if (r >= 0)
                r = sd_bus_send(a->bus, m, NULL);
        if (r < 0)
                a->bus = sd_bus_flush_close_unref(a->bus);
        announce_flush(a);
}

static void announce_done(Announce *a) {
        a->bus = a->bus ? sd_bus_flush_close_unref(a->bus) : NULL;
}

/* Progress on stdout: a line that rewrites itself on a terminal, a line per tenth otherwise (logs,
 * the console's pane, a serial port); on the bus, a signal per percent. */
static void print_progress(const char *phase, uint64_t done, uint64_t total, void *userdata) {
        static char last_phase[16];
        static int last_tenth = -1;
        Announce *a = userdata;
        bool tty = isatty(STDOUT_FILENO);
        int pct = total ? (int) (done * 100 / total) : 100, tenth = pct / 10;
        const char *what = streq(phase, "verify") ? "Verifying" : "Writing the inactive slot";

        if (!streq(last_phase, phase)) {
                if (tty && last_phase[0])
                        putchar('\n');
                snprintf(last_phase, sizeof(last_phase), "%s", phase);
                last_tenth = -1;
        }
        if (tty)
                printf("\r%s: %3d%% (%" PRIu64 " of %" PRIu64 " MiB)", what, pct, done >> 20, total >> 20);
        else if (tenth != last_tenth)
                printf("%s: %d%% (%" PRIu64 " of %" PRIu64 " MiB)\n", what, pct, done >> 20, total >> 20);
        if (tty && done == total && streq(phase, "write"))
                putchar('\n');
        last_tenth = tenth;
        fflush(stdout);
        if (a && (pct != a->pct || !streq(a->phase, phase))) {
                snprintf(a->phase, sizeof(a->phase), "%s", phase);
                a->pct = pct;
                announce(a, "Progress", "ssstt", a->bundle, a->origin, phase, done, total);
        }
}

/* An LVFS cabinet goes to fwupd, which checks its signature and flashes it offline; ark-update
 * only refuses what is not a cabinet and says plainly when fwupd is absent. */
static bool in_path(const char *name) {
        _cleanup_free_ char *path = strdup(getenv("PATH") ?: "/usr/sbin:/usr/bin:/sbin:/bin");

        for (char *save = NULL, *d = path ? strtok_r(path, ":", &save) : NULL; d;
             d = strtok_r(NULL, ":", &save)) {
                _cleanup_free_ char *p = strprintf("%s/%s", d, name);

                if (p && access(p, X_OK) == 0)
                        return true;
        }
        return false;
}

static int install_cabinet(const char *path) {
        char magic[4];
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, magic, sizeof(magic)) : -1;

        if (fd < 0 || n < 0) {
                fprintf(stderr, "ark-update: %s: %s\n", path, strerror(errno));
                if (fd >= 0)
                        close(fd);
                return 1;
        }
        close(fd);
        if (n < 4 || memcmp(magic, "MSCF", 4) != 0) {
                fprintf(stderr, "ark-update: %s: not a cabinet archive (an LVFS .cab starts with MSCF)\n",
                        path);
                return 1;
        }
        if (!in_path("fwupdmgr")) {
                fprintf(stderr,
                        "ark-update: %s: fwupd is not installed on this system (no fwupdmgr in PATH); "
                        "device firmware cannot be flashed here\n",
                        path);
                return 1;
        }
        printf("Handing %s to fwupd...\n", path);
        fflush(stdout);
        execlp("fwupdmgr", "fwupdmgr", "--no-reboot-check", "install", path, (char *) NULL);
        fprintf(stderr, "ark-update: cannot run fwupdmgr: %s\n", strerror(errno));
        return 1;
}

int main(int argc, char *argv[]) {
        enum {
                ARG_ESP = 0x100,
                ARG_SLOT_A,
                ARG_SLOT_B,
                ARG_STATE,
                ARG_BOOTED,
                ARG_RUNNING,
                ARG_TRUST,
                ARG_TRIES,
                ARG_FORCE,
                ARG_VERSION,
                ARG_ROOT
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "esp", required_argument, NULL, ARG_ESP },
                { "slot-a", required_argument, NULL, ARG_SLOT_A },
                { "slot-b", required_argument, NULL, ARG_SLOT_B },
                { "state", required_argument, NULL, ARG_STATE },
                { "booted", required_argument, NULL, ARG_BOOTED },
                { "running", required_argument, NULL, ARG_RUNNING },
                { "trust-dir", required_argument, NULL, ARG_TRUST },
                { "tries", required_argument, NULL, ARG_TRIES },
                { "force", no_argument, NULL, ARG_FORCE },
                { "root", required_argument, NULL, ARG_ROOT },
                {},
        };
        const char *trust = getenv("ARK_TRUST_DIR");
        _cleanup_free_ char *running = os_release_version();
        UpdateLayout l = {
                .esp = "/boot/efi",
                .slot = { "/dev/disk/by-partlabel/ark-root-a", "/dev/disk/by-partlabel/ark-root-b" },
                .state_file = "/var/lib/ark-update/state.json",
                .booted = booted_from_cmdline(),
                .version = running ?: ARK_VERSION,
                .trust_dir = isempty(trust) ? CONFIG_DEFAULT_TRUST_DIR : trust,
                .tries = conf_tries(3),
        };
        bool force = false, json = false, changed = false, slots_given = false;
        _cleanup_free_ char *found_a = NULL, *found_b = NULL;
        Announce a = {};
        const char *root = "/";
        _cleanup_free_ char *err = NULL;
        const char *verb;
        int c, r;

        while ((c = getopt_long(argc, argv, "ho:", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("ark-update %s\n", ARK_VERSION);
                        return 0;
                case 'o':
                        if (!streq(optarg, "json") && !streq(optarg, "table")) {
                                fprintf(stderr, "ark-update: -o: '%s' is not table or json\n", optarg);
                                return 2;
                        }
                        json = streq(optarg, "json");
                        break;
                case ARG_ESP:
                        l.esp = optarg;
                        break;
                case ARG_SLOT_A:
                        l.slot[0] = optarg;
                        slots_given = true;
                        break;
                case ARG_SLOT_B:
                        l.slot[1] = optarg;
                        slots_given = true;
                        break;
                case ARG_STATE:
                        l.state_file = optarg;
                        break;
                case ARG_BOOTED:
                        if (!streq(optarg, "a") && !streq(optarg, "b")) {
                                fprintf(stderr, "ark-update: --booted: '%s' is not a or b\n", optarg);
                                return 2;
                        }
                        l.booted = streq(optarg, "a") ? 0 : 1;
                        break;
                case ARG_RUNNING:
                        l.version = optarg;
                        break;
                case ARG_TRUST:
                        l.trust_dir = optarg;
                        break;
                case ARG_TRIES: {
                        char *end;
                        unsigned long t = strtoul(optarg, &end, 10);

                        if (*end || t < 1 || t > 9) {
                                fprintf(stderr, "ark-update: --tries: '%s' is not 1 to 9\n", optarg);
                                return 2;
                        }
                        l.tries = (unsigned) t;
                        break;
                }
                case ARG_FORCE:
                        force = true;
                        break;
                case ARG_ROOT:
                        root = optarg;
                        break;
                default:
                        fprintf(stderr, "ark-update: unknown option (see --help)\n");
                        return 2;
                }
        if (optind >= argc) {
                fprintf(stderr,
                        "ark-update: needs a command: status, install FILE.ark, mark-good or rollback\n");
                return 2;
        }
        verb = argv[optind];
        /* The slots on the running root's disk, not whichever disk's partitions carry the labels. */
        if (!slots_given) {
                struct stat st;

                if (stat("/", &st) >= 0 && update_find_slots("/sys", st.st_dev, &found_a, &found_b) >= 0) {
                        l.slot[0] = found_a;
                        l.slot[1] = found_b;
                }
        }
        if (streq(verb, "status") && optind + 1 == argc)
                return print_status(&l, json);
        if (streq(verb, "firmware") && optind + 2 == argc && streq(argv[optind + 1], "list"))
                return print_firmware(root, json);
        if (streq(verb, "firmware") && optind + 3 == argc && streq(argv[optind + 1], "install"))
                return install_cabinet(argv[optind + 2]);
        if (streq(verb, "firmware")) {
                fprintf(stderr, "ark-update: firmware takes 'list' or 'install FILE.cab'\n");
                return 2;
        }
        if (streq(verb, "install") && optind + 2 == argc) {
                _cleanup_free_ char *done = NULL;

                printf("Installing %s (signature, compatibility and every hash first)\n", argv[optind + 1]);
                announce_open(&a, argv[optind + 1]);
                l.progress = print_progress;
                l.userdata = &a;
                r = update_install(&l, argv[optind + 1], force, &err);
                if (isatty(STDOUT_FILENO))
                        putchar('\n');
                if (r >= 0) {
                        done = strprintf(
                                "Installed into slot %s; it boots next (%u tries), then 'ark-update mark-good' "
                                "once healthy.",
                                slot_name(1 - l.booted), l.tries);
                        puts(strna(done));
                }
                announce(&a, "Finished", "ssbs", argv[optind + 1], a.origin, r >= 0,
                         r >= 0 ? strempty(done) : err ?: strerror(-r));
                announce(&a, "SlotsChanged", NULL); /* the record's last install or error, at least */
                announce_done(&a);
        } else if (streq(verb, "mark-good") && optind + 1 == argc) {
                r = update_mark_good(&l, &err);
                if (r >= 0)
                        changed = true;
        } else if (streq(verb, "on-trial") && optind + 1 == argc) {
                /* For the boot check: exit 0 when the booted slot is still counting its tries. */
                UpdateStatus st;

                r = update_status(&l, &st, &err);
                if (r >= 0)
                        return update_on_trial(&st, l.booted) ? 0 : 1;
        } else if (streq(verb, "rollback") && optind + 1 == argc) {
                r = update_rollback(&l, &err);
                if (r >= 0) {
                        printf("Slot %s boots next.\n", slot_name(1 - l.booted));
                        changed = true;
                }
        } else {
                fprintf(stderr,
                        "ark-update: '%s' is not status, install FILE.ark, mark-good or rollback (see --help)\n",
                        verb);
                return 2;
        }
        if (changed) {
                announce_open(&a, "");
                announce(&a, "SlotsChanged", NULL);
                announce_done(&a);
        }
        if (r < 0) {
                fprintf(stderr, "ark-update: %s\n", err ?: strerror(-r));
                return 1;
        }
        return 0;
}

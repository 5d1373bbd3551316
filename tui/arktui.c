/* arktui: the on-site console of the Ark appliance (docs/console.md). It talks to arkd only over
 * D-Bus and redraws when arkd signals a change (no polling, but a retry every few seconds while arkd
 * is unavailable). `arktui --dump SCREEN` draws one screen once as text, for tests, docs and
 * support bundles. */

#include <errno.h>
#include <inttypes.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <fcntl.h>
#include <stdarg.h>
#include <wchar.h>
#include <wctype.h>
#include <getopt.h>
#include <langinfo.h>
#include <libgen.h>
#include <limits.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NCURSES_WIDECHAR 1
#include <ncursesw/ncurses.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "canvas.h"
#include "logs.h"
#include "media.h"
#include "basic/netconf.h"
#include "support.h"
#include "shared/bundle.h"
#include "model.h"
#include "screens.h"
#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/parse-util.h"
#include "basic/string-util.h"
#include "shared/bus-util.h"

#define RETRY_USEC (3ULL * 1000000ULL)
#define COALESCE_USEC (100ULL * 1000ULL)

static const char *arg_bus_address = NULL;
static const char *arg_dump = NULL;
static const char *arg_lang = NULL;
static int arg_cols = 80, arg_rows = 24;
static bool arg_ascii = false;
static const char *arg_log_file = NULL;
static char **arg_media = NULL;
static const char *arg_network_iface = NULL;
static unsigned arg_revert_sec = 60;
/* The host the console acts on. NULL until parse_argv() has read the options: then what an option
 * did not name is the appliance's own (host_defaults[]), or the simulated host's. A command that
 * is NULL after that is one a simulated host does not do: the console says so and runs nothing. */
static const char *arg_network_dir = NULL;
static const char *arg_network_reload = NULL;
static const char *arg_cmd_arkd = NULL;
static const char *arg_cmd_libvirtd = NULL;
static const char *arg_cmd_reboot = NULL;
static const char *arg_cmd_poweroff = NULL;
/* ark-update, with options (words separated by spaces): status and install FILE are added. */
static const char *arg_cmd_update = NULL;
static const char *arg_config_file = NULL;
static const char *arg_hostname_file = NULL;
static const char *arg_hostname_cmd = NULL;
/* --simulated-host DIR (or $ARK_SIMULATED_HOST): the sandbox's. Files under DIR, removable media
 * DIR/media/usb, commands DIR/commands/NAME where the simulation has one. */
static const char *arg_simulated_host = NULL;
/* Where removable block devices are recognized (media_scan): the machine's, or none. */
static const char *arg_sysfs_root = "/";

typedef struct HostDefault {
        const char **arg;
        const char *appliance; /* the appliance's own */
        const char *simulated; /* under DIR: a path below it, or a command in DIR/commands; NULL: none */
        bool command;
} HostDefault;

static const HostDefault host_defaults[] = {
        { &arg_network_dir, "/etc/systemd/network", "etc/systemd/network", false },
        { &arg_network_reload, "networkctl reload", NULL, true },
        { &arg_config_file, "/etc/ark/ark.conf", "etc/ark/ark.conf", false },
        { &arg_hostname_file, "/etc/hostname", "etc/hostname", false },
        { &arg_hostname_cmd, "hostnamectl set-hostname", NULL, true },
        { &arg_cmd_arkd, "systemctl restart arkd", "restart-arkd", true },
        { &arg_cmd_libvirtd, "systemctl restart libvirtd", "restart-libvirtd", true },
        { &arg_cmd_reboot, "systemctl reboot", "reboot", true },
        { &arg_cmd_poweroff, "systemctl poweroff", "poweroff", true },
        { &arg_cmd_update, "ark-update", NULL, true }, /* simulated: ark-update on DIR's slot files */
};

static bool is_directory(const char *path) {
        struct stat st;

        return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Whether path is this user's and no one else may change it: what the console runs or writes on a
 * simulated host must not be another user's (a root console told ARK_SIMULATED_HOST=/tmp/x). */
static bool owned_and_closed(const char *path) {
        struct stat st;

        return lstat(path, &st) == 0 && st.st_uid == geteuid() && !(st.st_mode & 022);
}

/* What the simulation runs for `name`: DIR/commands/NAME when it is there, executable, and (with
 * its directory) this user's alone (the sandbox's restart-arkd restarts its own arkd), else NULL
 * (not done, and said so). */
static char *simulated_command(const char *dir, const char *name) {
        _cleanup_free_ char *cmds = strprintf("%s/commands", dir),
                            *path = strprintf("%s/commands/%s", dir, name);

        if (!cmds || !path || access(path, X_OK) < 0 || !owned_and_closed(cmds) || !owned_and_closed(path))
                return NULL;
        return strprintf("'%s'", path); /* dir has no quote: checked */
}

/* Every setting no option named: the appliance's, or under the simulated host. The strings live
 * as long as the program. */
static int resolve_host(void) {
        const char *given = arg_simulated_host ?: getenv("ARK_SIMULATED_HOST");
        char *dir = NULL;

        if (!isempty(given)) {
                dir = realpath(given, NULL);
                if (!dir || strpbrk(dir, "'\" \t\n\\") || !is_directory(dir)) {
                        fprintf(stderr,
                                "arktui: simulated host '%s': not an existing directory whose path has no "
                                "spaces or quotes\n",
                                given);
                        free(dir);
                        return -EINVAL;
                }
                if (!owned_and_closed(dir)) {
                        fprintf(stderr,
                                "arktui: simulated host '%s': not owned by this user alone (another user could "
                                "change what the console runs and writes there)\n",
                                dir);
                        free(dir);
                        return -EPERM;
                }
                arg_simulated_host = dir; /* lives as long as the program */
                arg_sysfs_root = dir;     /* no removable device of this machine counts */
                {
                        char *usb = strprintf("%s/media/usb", dir);

                        if (!usb || (is_directory(usb) && strv_extend(&arg_media, usb) < 0)) {
                                free(usb);
                                return -ENOMEM;
                        }
                        free(usb);
                }
                /* Its arkd's log, not this machine's journal. */
                if (!arg_log_file && !(arg_log_file = strprintf("%s/var/log/arkd.log", dir)))
                        return -ENOMEM;
        }
        for (size_t k = 0; k < ELEMENTSOF(host_defaults); k++) {
                const HostDefault *d = &host_defaults[k];

                if (*d->arg)
                        continue;
                if (!dir)
                        *d->arg = d->appliance;
                else if (d->arg == &arg_cmd_update)
                        *d->arg = strprintf(
                                "ark-update --esp %1$s/boot/efi --slot-a %1$s/slots/ark-root-a.img "
                                "--slot-b %1$s/slots/ark-root-b.img --state %1$s/var/lib/ark-update/state.json "
                                "--booted a --running %2$s",
                                dir, ARK_VERSION);
                else if (d->simulated && d->command)
                        *d->arg = simulated_command(dir, d->simulated);
                else if (d->simulated)
                        *d->arg = path_join(dir, d->simulated);
                if (!*d->arg && (!d->command || d->arg == &arg_cmd_update))
                        return -ENOMEM;
        }
        return 0;
}

static void help(void) {
        printf("arktui %s: the Ark console.\n\n"
               "Usage: arktui [--bus-address ADDRESS] [--lang en|zh] [--ascii] [--log-file FILE] [--media DIR]...\n"
               "              [--network-dir DIR] [--network-interface IF] [--network-reload CMD]\n"
               "              [--revert-seconds N] [--config FILE] [--restart-arkd-command CMD]\n"
               "              [--restart-libvirtd-command CMD] [--reboot-command CMD] [--poweroff-command CMD]\n"
               "              [--hostname-file FILE] [--hostname-command CMD] [--update-command CMD]\n"
               "              [--simulated-host DIR]\n"
               "       arktui --dump SCREEN [--size COLSxROWS] [--lang en|zh] [--ascii]\n\n"
               "Screens: dashboard, accelerators, tenants, instances, network, bundles, logs, system.\n"
               "Keys: 1-8 screens, Tab/arrows move, Enter acts, ? help, q quits.\n\n"
               "--simulated-host DIR (default $ARK_SIMULATED_HOST; the sandbox of `make run` sets it) acts on a\n"
               "simulated host instead of this machine: the network, host name and ark.conf files under DIR/etc,\n"
               "removable media DIR/media/usb, ark-update on DIR/slots, and DIR/commands/NAME for restart-arkd,\n"
               "restart-libvirtd, reboot and poweroff, arkd's log DIR/var/log/arkd.log; what DIR/commands lacks\n"
               "(or what is not this user's alone) is not done, and the console says so. DIR must be this\n"
               "user's and closed to others. An option given explicitly still wins.\n",
               ARK_VERSION);
}

/* Where the message catalogs are: next to the binary in a build tree (build/bin/../locale), else
 * the system's. $ARKTUI_LOCALEDIR wins. */
static const char *locale_dir(char *buf, size_t l) {
        const char *e = getenv("ARKTUI_LOCALEDIR");
        char exe[PATH_MAX];
        ssize_t n;

        if (!isempty(e))
                return e;
        n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n > 0) {
                exe[n] = 0;
                snprintf(buf, l, "%s/../locale", dirname(exe));
                if (file_exists(buf))
                        return buf;
        }
        return "/usr/share/locale";
}

/* The language: --lang, else the locale. gettext needs a locale that is not plain C for
 * translations, and the console needs UTF-8 to draw CJK and lines; without a UTF-8 locale it
 * draws ASCII (unless --dump, whose text is UTF-8). */
static void setup_language(void) {
        char dir[PATH_MAX];
        bool utf8;

        setlocale(LC_ALL, "");
        utf8 = streq(nl_langinfo(CODESET), "UTF-8");
        if (!utf8) {
                if (!arg_dump)
                        arg_ascii = true;
                setlocale(LC_CTYPE, "C.UTF-8");
                setlocale(LC_MESSAGES, "C.UTF-8");
        }
        if (arg_lang) {
                setenv("LANGUAGE", streq(arg_lang, "zh") ? "zh_CN" : "en", 1);
                if (streq(strempty(setlocale(LC_MESSAGES, NULL)), "C") ||
                    streq(strempty(setlocale(LC_MESSAGES, NULL)), "POSIX"))
                        setlocale(LC_MESSAGES, "C.UTF-8");
        }
        bindtextdomain("arktui", locale_dir(dir, sizeof(dir)));
        bind_textdomain_codeset("arktui", "UTF-8");
        textdomain("arktui");
}

static int parse_argv(int argc, char *argv[]) {
        enum {
                ARG_BUS = 0x100,
                ARG_DUMP,
                ARG_SIZE,
                ARG_LANG,
                ARG_ASCII,
                ARG_VERSION,
                ARG_LOG_FILE,
                ARG_MEDIA,
                ARG_NETWORK_DIR,
                ARG_NETWORK_IFACE,
                ARG_NETWORK_RELOAD,
                ARG_REVERT,
                ARG_CMD_ARKD,
                ARG_CMD_LIBVIRTD,
                ARG_CMD_REBOOT,
                ARG_CMD_POWEROFF,
                ARG_CONFIG,
                ARG_HOSTNAME_FILE,
                ARG_HOSTNAME_CMD,
                ARG_CMD_UPDATE,
                ARG_SIMULATED_HOST
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "bus-address", required_argument, NULL, ARG_BUS },
                { "dump", required_argument, NULL, ARG_DUMP },
                { "size", required_argument, NULL, ARG_SIZE },
                { "lang", required_argument, NULL, ARG_LANG },
                { "ascii", no_argument, NULL, ARG_ASCII },
                { "log-file", required_argument, NULL, ARG_LOG_FILE },
                { "media", required_argument, NULL, ARG_MEDIA },
                { "network-dir", required_argument, NULL, ARG_NETWORK_DIR },
                { "network-interface", required_argument, NULL, ARG_NETWORK_IFACE },
                { "network-reload", required_argument, NULL, ARG_NETWORK_RELOAD },
                { "revert-seconds", required_argument, NULL, ARG_REVERT },
                { "restart-arkd-command", required_argument, NULL, ARG_CMD_ARKD },
                { "restart-libvirtd-command", required_argument, NULL, ARG_CMD_LIBVIRTD },
                { "reboot-command", required_argument, NULL, ARG_CMD_REBOOT },
                { "poweroff-command", required_argument, NULL, ARG_CMD_POWEROFF },
                { "config", required_argument, NULL, ARG_CONFIG },
                { "hostname-file", required_argument, NULL, ARG_HOSTNAME_FILE },
                { "hostname-command", required_argument, NULL, ARG_HOSTNAME_CMD },
                { "update-command", required_argument, NULL, ARG_CMD_UPDATE },
                { "simulated-host", required_argument, NULL, ARG_SIMULATED_HOST },
                {},
        };
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("arktui %s\n", ARK_VERSION);
                        return 0;
                case ARG_BUS:
                        arg_bus_address = optarg;
                        break;
                case ARG_DUMP:
                        if (screen_from_string(optarg) < 0) {
                                fprintf(stderr,
                                        "arktui: --dump: '%s' is not a screen (dashboard, accelerators, tenants, "
                                        "instances, network, bundles, logs, system)\n",
                                        optarg);
                                return -EINVAL;
                        }
                        arg_dump = optarg;
                        break;
                case ARG_SIZE: {
                        char x;
                        int end = 0;

                        if (sscanf(optarg, "%d%c%d%n", &arg_cols, &x, &arg_rows, &end) != 3 || x != 'x' ||
                            optarg[end] != 0 || arg_cols < 80 || arg_rows < 24 || arg_cols > 1000 ||
                            arg_rows > 1000) {
                                fprintf(stderr, "arktui: --size: '%s' is not COLSxROWS of at least 80x24\n",
                                        optarg);
                                return -EINVAL;
                        }
                        break;
                }
                case ARG_LANG:
                        if (!streq(optarg, "en") && !streq(optarg, "zh")) {
                                fprintf(stderr, "arktui: --lang: '%s' is not en or zh\n", optarg);
                                return -EINVAL;
                        }
                        arg_lang = optarg;
                        break;
                case ARG_ASCII:
                        arg_ascii = true;
                        break;
                case ARG_LOG_FILE:
                        arg_log_file = optarg;
                        break;
                case ARG_MEDIA:
                        if (strv_extend(&arg_media, optarg) < 0)
                                return -ENOMEM;
                        break;
                case ARG_NETWORK_DIR:
                        arg_network_dir = optarg;
                        break;
                case ARG_CMD_ARKD:
                        arg_cmd_arkd = optarg;
                        break;
                case ARG_CMD_LIBVIRTD:
                        arg_cmd_libvirtd = optarg;
                        break;
                case ARG_CMD_REBOOT:
                        arg_cmd_reboot = optarg;
                        break;
                case ARG_CMD_POWEROFF:
                        arg_cmd_poweroff = optarg;
                        break;
                case ARG_CMD_UPDATE:
                        arg_cmd_update = optarg;
                        break;
                case ARG_SIMULATED_HOST:
                        arg_simulated_host = optarg;
                        break;
                case ARG_CONFIG:
                        arg_config_file = optarg;
                        break;
                case ARG_HOSTNAME_FILE:
                        arg_hostname_file = optarg;
                        break;
                case ARG_HOSTNAME_CMD:
                        arg_hostname_cmd = optarg;
                        break;
                case ARG_NETWORK_IFACE:
                        arg_network_iface = optarg;
                        break;
                case ARG_NETWORK_RELOAD:
                        arg_network_reload = optarg;
                        break;
                case ARG_REVERT: {
                        char *end;
                        unsigned long v = strtoul(optarg, &end, 10);

                        if (*end || v < 1 || v > 3600) {
                                fprintf(stderr, "arktui: --revert-seconds: '%s' is not 1 to 3600\n", optarg);
                                return -EINVAL;
                        }
                        arg_revert_sec = (unsigned) v;
                        break;
                }
                default:
                        fprintf(stderr, "arktui: unknown option (see --help)\n");
                        return -EINVAL;
                }
        if (optind < argc) {
                fprintf(stderr, "arktui: unexpected argument '%s' (see --help)\n", argv[optind]);
                return -EINVAL;
        }
        r = resolve_host();
        return r < 0 ? r : 1;
}

static const char *default_iface(void);
static char *read_hostname(void);
static bool vlan_supported(void);

static int dump(void) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        TuiModel m = {};
        ScreenState st = { .screen = screen_from_string(arg_dump) };
        LogView logs = { .file = arg_log_file, .max_priority = 6 };
        Canvas c;
        int r;

        MediaList media = {};

        if (st.screen == SCREEN_LOGS) {
                (void) logs_load(&logs, (size_t) arg_rows);
                st.logs = &logs;
        }
        if (st.screen == SCREEN_BUNDLES) {
                (void) media_scan(&media, arg_sysfs_root, arg_media);
                st.media = &media;
        }
        _cleanup_free_ char *net_file = path_join(arg_network_dir, NETCONF_FILE), *net_text = NULL;
        NetConf net;
        size_t net_n;

        _cleanup_free_ char *hostname = read_hostname();

        st.revert_left = -1;
        st.simulated_host = arg_simulated_host;
        st.net_hostname = hostname;
        st.vlan_supported = vlan_supported();
        st.net_iface = default_iface();
        st.net_file = net_file;
        if (net_file && read_full_file(net_file, &net_text, &net_n) >= 0 &&
            netconf_parse(net_text, &net) >= 0)
                st.net = &net;
        r = ark_bus_open(arg_bus_address ?: getenv("ARK_BUS_ADDRESS"), &bus);
        if (r >= 0)
                (void) model_refresh(&m, bus);
        else
                m.error = strprintf("cannot connect to the bus: %s", strerror(-r));
        r = canvas_init(&c, arg_cols, arg_rows, arg_ascii);
        if (r < 0)
                return r;
        screen_draw(&c, &m, &st);
        r = canvas_dump(&c, stdout);
        canvas_done(&c);
        model_done(&m);
        logs_done(&logs);
        media_done(&media);
        return r;
}

/* ------------------------------------------------------------------------------ interactive */

/* glibc's catalog generation: bumping it makes gettext look up the language again. */
extern int _nl_msg_cat_cntr;

/* Switches between English and Chinese at once (L). */
static void toggle_language(void) {
        const char *now = getenv("LANGUAGE");
        bool zh = now ? startswith(now, "zh") : startswith(strempty(setlocale(LC_MESSAGES, NULL)), "zh");

        setenv("LANGUAGE", zh ? "en" : "zh_CN", 1);
        if (streq(strempty(setlocale(LC_MESSAGES, NULL)), "C"))
                setlocale(LC_MESSAGES, "C.UTF-8");
        ++_nl_msg_cat_cntr;
}

typedef struct Console Console;
/* What a dialog does when the admin says yes: input is what was typed (NULL for a question). */
typedef int (*ActionFn)(Console *con, const char *input);

#define DIALOG_CHOICES_MAX 32

typedef struct Dialog {
        bool open, typing;
        int confirms; /* yes-answers still needed (2: double confirmation) */
        char title[128], text[512], question[512], again[512];
        char buf[256];
        size_t len;
        bool fresh;       /* buf holds a choice, not typing: a key typed replaces it */
        char target[256]; /* the tenant, instance or GPU acted on */
        ActionFn act;
        /* What Up and Down put in the line to type (dialog_offer). */
        char choices[DIALOG_CHOICES_MAX][128];
        size_t n_choices;
        size_t choice;
} Dialog;

/* A VM being made from the console, one answer after the other (vm_answer). */
typedef enum VmStep {
        VM_STEP_TENANT,
        VM_STEP_NAME,
        VM_STEP_VCPUS,
        VM_STEP_MEMORY,
        VM_STEP_DISK,
        VM_STEP_IMAGE,
        VM_STEP_GPUS,
        _VM_STEP_MAX,
} VmStep;

typedef struct VmDraft {
        VmStep step;
        char tenant[64], name[64], image[256], gpu_model[64];
        uint32_t vcpus, gpus;
        uint64_t memory, disk;                /* disk 0: none of its own size */
        char images[DIALOG_CHOICES_MAX][128]; /* the store's, ListImages; n_images < 0: not known */
        int n_images;
} VmDraft;

struct Console {
        sd_event *event;
        sd_bus *bus;
        sd_event_source *input, *refresh_timer;
        TuiModel model;
        ScreenState st;
        Canvas canvas;
        bool colour;
        Dialog dlg;
        VmDraft vm;
        char status[2048];
        char pending[256]; /* the action waiting for arkd's answer */
        LogView logs;
        MediaList media;
        char progress[1024]; /* the import under way */
        int import_fd;
        uint64_t import_start;
        /* The management network: what the file says, and a change waiting to be kept. */
        NetConf net, edit;
        bool have_net;
        char *net_file, *net_previous; /* the file's text before the change, NULL = there was none */
        char *hostname;
        bool net_pending, net_had_file;
        mode_t net_mode;
        int revert_left;
        sd_event_source *revert_timer;
        sd_journal *journal_watch; /* tells when the journal grew */
        sd_event_source *log_source;
        int inotify_fd;
        /* A system update: ark-update's status lines, and an install under way. */
        char update_status[2048];
        bool have_update_status;
        char update_line[512], update_version[64];
        sd_event_source *update_io;
        int update_fd;
        char origin[32];               /* ARK_UPDATE_ORIGIN of the console's own installs */
        sd_bus_track *remote_update;   /* an install started elsewhere, while its sender is there */
        sd_event_source *remote_timer; /* ... and while it keeps talking */
};

static attr_t curses_attr(const Console *con, uint8_t a) {
        switch (a) {
        case ATTR_BOLD:
                return A_BOLD;
        case ATTR_DIM:
                return con->colour ? COLOR_PAIR(1) : A_DIM;
        case ATTR_TITLE:
                return A_BOLD | (con->colour ? COLOR_PAIR(2) : A_REVERSE);
        case ATTR_SELECTED:
                return A_REVERSE;
        case ATTR_OK:
                return con->colour ? COLOR_PAIR(3) : A_NORMAL;
        case ATTR_WARN:
                return con->colour ? COLOR_PAIR(4) : A_BOLD;
        case ATTR_BAD:
                return con->colour ? COLOR_PAIR(5) | A_BOLD : A_BOLD | A_UNDERLINE;
        case ATTR_BAR:
                return con->colour ? COLOR_PAIR(3) : A_NORMAL;
        default:
                return A_NORMAL;
        }
}

static void reload_logs(Console *con) {
        int rows, cols;

        getmaxyx(stdscr, rows, cols);
        (void) cols;
        (void) logs_load(&con->logs, (size_t) MAX(rows, 24));
        con->st.logs = &con->logs;
}

static void sync_dialog(Console *con) {
        Dialog *d = &con->dlg;

        con->st.progress = con->progress[0] ? con->progress : NULL;
        con->st.update_status = con->have_update_status ? con->update_status : NULL;
        con->st.dialog_title = d->open ? d->title : NULL;
        con->st.dialog_text = d->open ? d->text : NULL;
        con->st.dialog_input = d->open && d->typing ? d->buf : NULL;
        con->st.dialog_info = d->open && !d->act;
        con->st.status = con->status[0] ? con->status : NULL;
}

static void redraw(Console *con) {
        int rows, cols;

        sync_dialog(con);
        getmaxyx(stdscr, rows, cols);
        if (rows < 24 || cols < 80) {
                erase();
                mvaddstr(0, 0, _("The console needs a terminal of at least 80x24."));
                refresh();
                return;
        }
        if (con->canvas.cols != cols || con->canvas.rows != rows) {
                canvas_done(&con->canvas);
                if (canvas_init(&con->canvas, cols, rows, arg_ascii) < 0) {
                        con->canvas = (Canvas) {};
                        erase();
                        mvaddstr(0, 0, _("The terminal is too large for the console (at most 1000x1000)."));
                        refresh();
                        return;
                }
        }
        screen_draw(&con->canvas, &con->model, &con->st);
        for (int y = 0; y < rows; y++)
                for (int x = 0; x < cols; x++) {
                        const Cell *cell = &con->canvas.cells[y * cols + x];
                        wchar_t w[2] = { cell->ch, 0 };
                        cchar_t cc;

                        if (cell->ch == 0)
                                continue;
                        setcchar(&cc, w, curses_attr(con, cell->attr), 0, NULL);
                        mvadd_wch(y, x, &cc);
                }
        refresh();
}

static int on_signal(sd_bus_message *m, void *userdata, sd_bus_error *e);
static int on_import_progress(sd_bus_message *m, void *userdata, sd_bus_error *e);
static int on_update_signal(sd_bus_message *m, void *userdata, sd_bus_error *e);
static void remote_update_end(Console *con, const char *status);

/* The bus, with what the console listens to: arkd's changes, arkd coming and going, and the
 * progress of its own imports. A call arkd does not answer within 2 s leaves the console usable
 * (a hung arkd shows as unavailable). */
static void bus_connect(Console *con) {
        if (con->bus)
                return;
        if (ark_bus_open(arg_bus_address ?: getenv("ARK_BUS_ADDRESS"), &con->bus) < 0)
                return;
        (void) sd_bus_set_method_call_timeout(con->bus, 2ULL * 1000000ULL);
        (void) sd_bus_attach_event(con->bus, con->event, 0);
        (void) sd_bus_match_signal(con->bus, NULL, ARK_BUS_NAME, NULL, NULL, NULL, on_signal, con);
        (void) sd_bus_add_match(
                con->bus, NULL,
                "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',"
                "member='NameOwnerChanged',arg0='" ARK_BUS_NAME "'",
                on_signal, con);
        (void) sd_bus_match_signal(con->bus, NULL, ARK_BUS_NAME, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER,
                                   "ImportProgress", on_import_progress, con);
        (void) sd_bus_match_signal(con->bus, NULL, ARK_UPDATE_BUS_NAME, ARK_UPDATE_BUS_PATH,
                                   ARK_UPDATE_BUS_IFACE, NULL, on_update_signal, con);
}

static int refresh_now(Console *con) {
        bus_connect(con);
        if (con->bus)
                (void) model_refresh(&con->model, con->bus);
        else {
                model_done(&con->model);
                con->model.error = strdup(_("The bus is not reachable."));
        }
        if (con->bus && !con->model.connected && !sd_bus_is_open(con->bus)) {
                if (con->remote_update)
                        remote_update_end(con, NULL);
                con->bus = sd_bus_flush_close_unref(con->bus); /* reconnect next time */
        }
        {
                int n = con->st.screen == SCREEN_BUNDLES ? (int) con->media.n
                                                         : screen_rows(&con->model, con->st.screen);
                if (con->st.selected >= n)
                        con->st.selected = MAX(n - 1, 0);
        }
        redraw(con);
        /* While arkd is unavailable, try again; when it answers, wait for its signals. */
        return sd_event_source_set_time_relative(con->refresh_timer,
                                                 con->model.connected ? 60ULL * 1000000ULL : RETRY_USEC);
}

static int on_refresh_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Console *con = userdata;

        (void) refresh_now(con);
        return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

/* A change from arkd: refresh soon (several signals in a row make one refresh). */
static int on_signal(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        Console *con = userdata;

        /* Progress is drawn where it arrives; it changes nothing to fetch. */
        if (sd_bus_message_is_signal(m, ARK_BUS_IFACE_MANAGER, "ImportProgress"))
                return 0;
        (void) sd_event_source_set_time_relative(con->refresh_timer, COALESCE_USEC);
        (void) sd_event_source_set_enabled(con->refresh_timer, SD_EVENT_ONESHOT);
        return 0;
}

/* ------------------------------------------------------------------------------ actions */

static int refresh_now(Console *con);

static int on_action_reply(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        Console *con = userdata;
        const sd_bus_error *err = sd_bus_message_get_error(m);

        if (err)
                snprintf(con->status, sizeof(con->status), "%s: %s", con->pending, strempty(err->message));
        else
                snprintf(con->status, sizeof(con->status), "%s: %s", con->pending, _("done."));
        con->pending[0] = 0;
        (void) refresh_now(con);
        return 0;
}

/* Sends method call m (r: how building it went) without waiting: its answer lands in the status
 * line, under `what`. */
static int call_message(Console *con, const char *what, sd_bus_message *m, int r) {
        if (r >= 0)
                r = sd_bus_call_async(con->bus, NULL, m, on_action_reply, con, 120ULL * 1000000ULL);
        if (r < 0) {
                snprintf(con->status, sizeof(con->status), "%s: %s", what, strerror(-r));
                return r;
        }
        snprintf(con->pending, sizeof(con->pending), "%s", what);
        snprintf(con->status, sizeof(con->status), "%s…", what);
        return 0;
}

/* Calls a method on arkd without waiting: its answer lands in the status line. */
static int call(Console *con, const char *what, const char *path, const char *iface, const char *member,
                const char *types, ...) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        va_list ap;
        int r;

        if (!con->bus)
                return -ENOTCONN;
        r = sd_bus_message_new_method_call(con->bus, &m, ARK_BUS_NAME, path, iface, member);
        if (r >= 0 && types) {
                va_start(ap, types);
                r = sd_bus_message_appendv(m, types, ap);
                va_end(ap);
        }
        return call_message(con, what, m, r);
}

static int act_create_tenant(Console *con, const char *input) {
        return call(con, _("Create tenant"), ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "CreateTenant", "ss",
                    input, "");
}

/* "4" or "2..4": a limit, or a guarantee and a limit, of whole GPUs; "-" for none. */
static int act_gpu_quota(Console *con, const char *input) {
        _cleanup_free_ char *path = NULL;
        unsigned long long g = 0, l = 0;
        char tail;

        if (streq(input, "-"))
                g = 0, l = UINT64_MAX;
        else if (sscanf(input, "%llu..%llu%c", &g, &l, &tail) == 2)
                ;
        else if (sscanf(input, "%llu%c", &l, &tail) == 1)
                g = 0;
        else {
                snprintf(con->status, sizeof(con->status),
                         _("'%s' is not a number of GPUs (4, 2..4, or - for no limit)"), input);
                return -EINVAL;
        }
        if (sd_bus_path_encode(ARK_BUS_PREFIX_TENANT, con->dlg.target, &path) < 0)
                return -ENOMEM;
        return call(con, _("Set GPU quota"), path, ARK_BUS_IFACE_TENANT, "SetQuota", "sstt", "gpus", "",
                    (uint64_t) g, (uint64_t) l);
}

/* "user NAME" or "group NAME" (a bare name is a user). */
static int act_add_member(Console *con, const char *input) {
        _cleanup_free_ char *path = NULL;
        char kind[16] = "user", name[256];

        if (sscanf(input, "%15s %255s", kind, name) != 2) {
                snprintf(kind, sizeof(kind), "user");
                snprintf(name, sizeof(name), "%s", input);
        }
        if (!streq(kind, "user") && !streq(kind, "group")) {
                snprintf(con->status, sizeof(con->status), _("'%s': give 'user NAME' or 'group NAME'."),
                         input);
                return -EINVAL;
        }
        if (sd_bus_path_encode(ARK_BUS_PREFIX_TENANT, con->dlg.target, &path) < 0)
                return -ENOMEM;
        return call(con, _("Add member"), path, ARK_BUS_IFACE_TENANT, "AddMember", "ss", kind, name);
}

static int act_delete_tenant(Console *con, const char *input) {
        return call(con, _("Delete tenant"), ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "DeleteTenant", "s",
                    con->dlg.target);
}

static int act_start(Console *con, const char *input) {
        return call(con, _("Start"), ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "StartInstance", "s",
                    con->dlg.target);
}

static int act_stop(Console *con, const char *input) {
        return call(con, _("Stop"), ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "StopInstance", "sbu",
                    con->dlg.target, 0, 0);
}

static int act_force_off(Console *con, const char *input) {
        return call(con, _("Force off"), ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "StopInstance", "sbu",
                    con->dlg.target, 1, 0);
}

static int accelerator_call(Console *con, const char *what, const char *member, const char *reason) {
        _cleanup_free_ char *path = NULL;

        if (sd_bus_path_encode(ARK_BUS_PREFIX_ACCELERATOR, con->dlg.target, &path) < 0)
                return -ENOMEM;
        if (reason)
                return call(con, what, path, ARK_BUS_IFACE_ACCELERATOR, member, "s", reason);
        return call(con, what, path, ARK_BUS_IFACE_ACCELERATOR, member, NULL);
}

static int act_reserve(Console *con, const char *input) {
        return accelerator_call(con, _("Reserve"), "Reserve", input);
}

static int act_quarantine(Console *con, const char *input) {
        return accelerator_call(con, _("Quarantine"), "Quarantine", input);
}

static int act_release(Console *con, const char *input) {
        return accelerator_call(con, _("Release"), "Release", NULL);
}

static void dialog_open(Console *con, const char *title, const char *prompt, const char *question,
                        const char *again, int confirms, const char *target, ActionFn act);

/* ------------------------------------------------------------------------------ VM create */

/* Adds a choice that Up and Down put in the open dialog's line; the first one offered is there
 * already when `preselect`. */
static void dialog_offer(Console *con, const char *choice, bool preselect) {
        Dialog *d = &con->dlg;

        if (d->n_choices >= DIALOG_CHOICES_MAX || isempty(choice))
                return;
        snprintf(d->choices[d->n_choices], sizeof(d->choices[0]), "%s", choice);
        if (preselect && d->n_choices == 0) {
                snprintf(d->buf, sizeof(d->buf), "%s", choice);
                d->len = strlen(d->buf);
                d->fresh = true;
        }
        d->n_choices++;
}

/* The image store's files tenant t may name (ListImages), kept in the draft; n_images -1 when
 * arkd cannot say (then a name typed goes to arkd unchecked). */
static void vm_load_images(Console *con) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        VmDraft *v = &con->vm;
        const char *name, *scope;
        uint64_t size;
        int r;

        v->n_images = -1;
        if (!con->bus ||
            sd_bus_call_method(con->bus, ARK_BUS_NAME, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "ListImages",
                               NULL, &reply, "s", v->tenant) < 0)
                return;
        r = sd_bus_message_enter_container(reply, 'a', "(sst)");
        if (r < 0)
                return;
        v->n_images = 0;
        while (sd_bus_message_read(reply, "(sst)", &name, &scope, &size) > 0) {
                bool seen = false;

                /* More than the picker holds, or a name longer than it keeps: the list is not
                 * the whole truth, so a name typed goes to arkd unchecked. */
                if (v->n_images >= DIALOG_CHOICES_MAX - 1 || strlen(name) >= sizeof(v->images[0])) {
                        v->n_images = -1;
                        return;
                }
                /* A tenant's own file hides a shared one of its name. */
                for (int k = 0; k < v->n_images; k++)
                        seen = seen || streq(v->images[k], name);
                if (!seen)
                        snprintf(v->images[v->n_images++], sizeof(v->images[0]), "%s", name);
        }
}

static bool vm_image_known(const VmDraft *v, const char *name) {
        for (int k = 0; k < v->n_images; k++)
                if (streq(v->images[k], name))
                        return true;
        return v->n_images < 0;
}

static int vm_answer(Console *con, const char *input);

/* The questions that do not depend on what arkd has. */
static const char *const vm_prompts[_VM_STEP_MAX] = {
        [VM_STEP_NAME] = N_("Name of the VM (lowercase letters, digits, '-'):"),
        [VM_STEP_VCPUS] = N_("vCPUs (a number: 1, 2, 8...):"),
        [VM_STEP_MEMORY] = N_("Memory (512M, 8G...):"),
        [VM_STEP_DISK] = N_("Disk size (20G...; - for none):"),
        [VM_STEP_GPUS] = N_("GPUs: a number, and a model if it matters (2, 2 H100; - for none):"),
};

/* Asks the draft's current step, after `reason` (why the last answer was not taken; NULL: none). */
static void vm_ask(Console *con, const char *reason) {
        VmDraft *v = &con->vm;
        char prompt[512], list[256] = "";
        const char *q = NULL;
        size_t k;
        json_t *t;

        switch (v->step) {
        case VM_STEP_TENANT:
                json_array_foreach(con->model.tenants, k, t)
                        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", k ? ", " : "",
                                 jstr(t, "Name"));
                snprintf(prompt, sizeof(prompt), _("Tenant (Up/Down: %s):"), list);
                q = prompt;
                break;
        case VM_STEP_IMAGE:
                if (v->n_images < 0)
                        q = _("Image: the name of a file in the image store (- for none):");
                else if (v->n_images == 0)
                        q = _("Image: the image store has none for this tenant (- for none):");
                else {
                        for (int n = 0; n < v->n_images; n++)
                                snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
                                         n ? ", " : "", v->images[n]);
                        snprintf(prompt, sizeof(prompt),
                                 _("Image from the store (Up/Down: %s; - for none):"), list);
                        q = prompt;
                }
                break;
        default:
                if (v->step < 0 || v->step >= _VM_STEP_MAX)
                        return;
                q = _(vm_prompts[v->step]);
                break;
        }
        if (reason) {
                char text[1100];

                snprintf(text, sizeof(text), "%s %s", reason, q);
                dialog_open(con, _("New VM"), text, "", NULL, 0, NULL, vm_answer);
        } else
                dialog_open(con, _("New VM"), q, "", NULL, 0, NULL, vm_answer);
        /* The choices Up and Down go through; the tenant of the selected VM, or the first, ready. */
        if (v->step == VM_STEP_TENANT) {
                json_t *sel = screen_selected(&con->model, &con->st);

                if (sel)
                        dialog_offer(con, jstr(sel, "Tenant"), true);
                json_array_foreach(con->model.tenants, k, t)
                        if (!sel || !streq(jstr(sel, "Tenant"), jstr(t, "Name")))
                                dialog_offer(con, jstr(t, "Name"), true);
        } else if (v->step == VM_STEP_IMAGE) {
                dialog_offer(con, "-", false);
                for (int n = 0; n < v->n_images; n++)
                        dialog_offer(con, v->images[n], false);
        }
}

static int act_create_vm(Console *con, const char *input) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        const VmDraft *v = &con->vm;
        int r;

        if (!con->bus) /* said in the status line, as any call that cannot go */
                return call_message(con, _("Create VM"), NULL, -ENOTCONN);
        r = sd_bus_message_new_method_call(con->bus, &m, ARK_BUS_NAME, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER,
                                           "CreateInstance");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0)
                r = sd_bus_message_append(m, "{sv}{sv}{sv}{sv}{sv}", "Name", "s", v->name, "Tenant", "s",
                                          v->tenant, "Type", "s", "vm", "VCPUs", "u", v->vcpus,
                                          "MemoryBytes", "t", v->memory);
        if (r >= 0 && v->disk > 0)
                r = sd_bus_message_append(m, "{sv}", "DiskBytes", "t", v->disk);
        if (r >= 0 && !isempty(v->image))
                r = sd_bus_message_append(m, "{sv}", "Image", "s", v->image);
        if (r >= 0 && v->gpus > 0)
                r = sd_bus_message_append(m, "{sv}", "GPUs", "u", v->gpus);
        if (r >= 0 && !isempty(v->gpu_model))
                r = sd_bus_message_append(m, "{sv}", "GPUModel", "s", v->gpu_model);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return call_message(con, _("Create VM"), m, r);
}

/* "2", "2 H100", "H100" (one of that model), "-" or "0" (none). */
static int vm_parse_gpus(VmDraft *v, const char *input) {
        char first[64] = "", model[64] = "", extra;
        int n = sscanf(input, "%63s %63s %c", first, model, &extra);

        v->gpus = 0;
        v->gpu_model[0] = 0;
        if (n < 1 || n > 2)
                return -EINVAL;
        if (streq(first, "-") || streq(first, "0"))
                return n == 1 ? 0 : -EINVAL;
        if (parse_u32(first, &v->gpus) < 0) {
                if (n != 1)
                        return -EINVAL;
                snprintf(v->gpu_model, sizeof(v->gpu_model), "%s", first);
                return 0;
        }
        snprintf(v->gpu_model, sizeof(v->gpu_model), "%s", model);
        return v->gpus > 0 ? 0 : -EINVAL;
}

/* Takes the answer to the current step: the next question, or the same again with the reason it
 * was not taken (naming the field), or at the end the whole spec to confirm. */
static int vm_answer(Console *con, const char *input) {
        VmDraft *v = &con->vm;
        char why[512] = "", mem[32], disk[32], gpus[96], q[512];
        bool dash = streq(strempty(input), "-");

        input = strempty(input);
        switch (v->step) {
        case VM_STEP_TENANT: {
                json_t *t;
                size_t k;
                bool known = false;

                json_array_foreach(con->model.tenants, k, t)
                        known = known || streq(jstr(t, "Name"), input);
                if (!known)
                        snprintf(why, sizeof(why), _("Tenant: '%s' is not a tenant you may use."), input);
                else
                        snprintf(v->tenant, sizeof(v->tenant), "%s", input);
                break;
        }
        case VM_STEP_NAME:
                if (!ark_name_is_valid(input))
                        snprintf(
                                why, sizeof(why),
                                _("Name: '%s' is not valid (1-63 lowercase letters, digits and '-', starting with a letter)."),
                                input);
                else
                        snprintf(v->name, sizeof(v->name), "%s", input);
                break;
        case VM_STEP_VCPUS:
                if (parse_u32(input, &v->vcpus) < 0 || v->vcpus == 0)
                        snprintf(why, sizeof(why), _("vCPUs: '%s' is not a number of vCPUs."), input);
                break;
        case VM_STEP_MEMORY:
                if (parse_size(input, &v->memory) < 0 || v->memory == 0)
                        snprintf(why, sizeof(why), _("Memory: '%s' is not a size (use e.g. 512M, 8G)."),
                                 input);
                break;
        case VM_STEP_DISK:
                v->disk = 0;
                if (!dash && (parse_size(input, &v->disk) < 0 || v->disk == 0))
                        snprintf(why, sizeof(why),
                                 _("Disk size: '%s' is not a size (use e.g. 20G, or - for none)."), input);
                break;
        case VM_STEP_IMAGE:
                v->image[0] = 0;
                if (!dash && !vm_image_known(v, input))
                        snprintf(why, sizeof(why),
                                 _("Image: '%s' is not in the image store of tenant '%s'."), input,
                                 v->tenant);
                else if (!dash)
                        snprintf(v->image, sizeof(v->image), "%s", input);
                break;
        case VM_STEP_GPUS:
                if (vm_parse_gpus(v, input) < 0)
                        snprintf(why, sizeof(why),
                                 _("GPUs: '%s' is not a number of GPUs (2, 2 H100, or - for none)."), input);
                break;
        default:
                return -EINVAL;
        }
        if (why[0]) {
                vm_ask(con, why);
                return -EINVAL;
        }
        if (++v->step == VM_STEP_IMAGE)
                vm_load_images(con);
        if (v->step < _VM_STEP_MAX) {
                vm_ask(con, NULL);
                return 0;
        }
        /* Everything asked: the whole spec, and the question. */
        if (v->gpus == 0 && isempty(v->gpu_model))
                snprintf(gpus, sizeof(gpus), "%s", _("no GPUs"));
        else if (isempty(v->gpu_model))
                snprintf(gpus, sizeof(gpus), _("%u GPUs"), v->gpus);
        else
                snprintf(gpus, sizeof(gpus), _("%u GPUs of model %s"), v->gpus ?: 1, v->gpu_model);
        snprintf(q, sizeof(q),
                 _("Create VM '%s' for tenant '%s': %u vCPUs, %s memory, disk %s, image %s, %s?"), v->name,
                 v->tenant, v->vcpus, format_bytes(mem, sizeof(mem), v->memory),
                 v->disk > 0 ? format_bytes(disk, sizeof(disk), v->disk) : "-",
                 isempty(v->image) ? "-" : v->image, gpus);
        dialog_open(con, _("New VM"), NULL, q, NULL, 1, v->name, act_create_vm);
        return 0;
}

/* n on the VMs screen: the first question. */
static void vm_new(Console *con) {
        if (json_array_size(con->model.tenants) == 0) {
                snprintf(con->status, sizeof(con->status), "%s",
                         _("No tenant to create a VM in: create one on the Tenants screen (3, then n)."));
                return;
        }
        con->vm = (VmDraft) { .n_images = -1 };
        vm_ask(con, NULL);
}

static int on_import_reply(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        Console *con = userdata;
        const sd_bus_error *err = sd_bus_message_get_error(m);

        con->progress[0] = 0;
        con->import_fd = safe_close(con->import_fd);
        if (err)
                snprintf(con->status, sizeof(con->status), "%s %s", _("Import refused:"),
                         strempty(err->message));
        else
                snprintf(con->status, sizeof(con->status), "%s %s", _("Imported:"), con->pending);
        con->pending[0] = 0;
        (void) refresh_now(con);
        return 0;
}

/* ImportProgress, sent to us alone: the progress line. */
static int on_import_progress(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        Console *con = userdata;
        const char *sender, *name;
        uint64_t done, total, rate, left;
        uint32_t id;
        char a[32], b[32], c[32];
        int bar = 20, fill;
        char bars[64];

        if (sd_bus_message_read(m, "usstttt", &id, &sender, &name, &done, &total, &rate, &left) < 0 ||
            total == 0)
                return 0;
        fill = (int) ((double) done / (double) total * bar);
        for (int k = 0; k < bar; k++)
                bars[k] = k < fill ? '#' : '.';
        bars[bar] = 0;
        snprintf(con->progress, sizeof(con->progress), _("Importing %s [%s] %u%% %s of %s, %s/s, %us left"),
                 name, bars, (unsigned) (done * 100 / total), format_bytes(a, sizeof(a), done),
                 format_bytes(b, sizeof(b), total), format_bytes(c, sizeof(c), rate), (unsigned) left);
        redraw(con);
        return 0;
}

static int act_import(Console *con, const char *input) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        const char *base =
                strrchr(con->dlg.target, '/') ? strrchr(con->dlg.target, '/') + 1 : con->dlg.target;
        int r;

        if (!con->bus)
                return -ENOTCONN;
        con->import_fd = safe_close(con->import_fd);
        con->import_fd = open(con->dlg.target, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (con->import_fd < 0) {
                snprintf(con->status, sizeof(con->status), "%s: %s", con->dlg.target, strerror(errno));
                return -errno;
        }
        r = sd_bus_message_new_method_call(con->bus, &m, ARK_BUS_NAME, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER,
                                           "ImportBundle");
        if (r >= 0)
                r = sd_bus_message_append(m, "hss", con->import_fd, base, "");
        if (r >= 0)
                r = sd_bus_call_async(con->bus, NULL, m, on_import_reply, con, 24ULL * 3600 * 1000000ULL);
        if (r < 0) {
                snprintf(con->status, sizeof(con->status), "%s: %s", _("Import"), strerror(-r));
                return r;
        }
        snprintf(con->pending, sizeof(con->pending), "%s", base);
        snprintf(con->progress, sizeof(con->progress), _("Importing %s: checking its signature..."), base);
        return 0;
}

/* Reads the bundle's manifest and says who signed it: the question before importing. */
static void inspect_media_file(Console *con, const char *path) {
        const char *trust = getenv("ARK_TRUST_DIR");
        BundleReadOptions o = { .trust_dir = isempty(trust) ? CONFIG_DEFAULT_TRUST_DIR : trust,
                                .dest_fd = -1,
                                .manifest_only = true,
                                .allow_untrusted = true };
        _cleanup_free_ char *err = NULL;
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        BundleResult res = {};
        char q[512], size[32];

        if (fd < 0 || bundle_read(fd, path, &o, &res, &err) < 0) {
                snprintf(con->status, sizeof(con->status), "%s", err ? err : strerror(errno));
                return;
        }
        snprintf(q, sizeof(q), _("%s %s %s, %zu files, %s, key %s (%s). Import it, shared?"),
                 bundle_kind_to_string(res.manifest->kind), res.manifest->name, res.manifest->version,
                 res.manifest->n_files, format_bytes(size, sizeof(size), res.manifest->total_bytes),
                 res.manifest->key_id,
                 res.signature == BUNDLE_SIGNATURE_VALID ? _("trusted")
                         : res.signature == BUNDLE_SIGNATURE_REVOKED_KEY
                         ? _("REVOKED: arkd will refuse it")
                         : _("NOT TRUSTED: arkd will refuse it"));
        dialog_open(con, _("Import bundle"), NULL, q, NULL, 1, path, act_import);
        bundle_result_done(&res);
}

/* ------------------------------------------------------------------------------ system update */

/* argv of arg_cmd_update's words plus more (NULL-terminated); free the array only. */
static char **update_argv(char *words, const char *a, const char *b) {
        char **argv = calloc(32, sizeof(char *));
        size_t n = 0;

        if (!argv)
                return NULL;
        for (char *save = NULL, *w = strtok_r(words, " ", &save); w && n < 28;
             w = strtok_r(NULL, " ", &save))
                argv[n++] = w;
        argv[n++] = (char *) a;
        if (b)
                argv[n++] = (char *) b;
        return argv;
}

/* Starts argv with stdout (and stderr too, or /dev/null) on out and the console's blocked
 * signals unblocked: its pid or -errno. */
static pid_t spawn_argv(char **argv, int out, bool with_stderr) {
        pid_t pid = fork();

        if (pid < 0)
                return -errno;
        if (pid == 0) {
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                sigset_t none;

                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                dup2(null, STDIN_FILENO);
                dup2(out, STDOUT_FILENO);
                dup2(with_stderr ? out : null, STDERR_FILENO);
                execvp(argv[0], argv);
                dprintf(out, "cannot run %s: %s\n", argv[0], strerror(errno));
                _exit(127);
        }
        return pid;
}

/* `ark-update status`, kept for the System screen. */
static void load_update_status(Console *con) {
        _cleanup_free_ char *words = strdup(arg_cmd_update);
        _cleanup_free_ char **argv = words ? update_argv(words, "status", NULL) : NULL;
        int p[2];
        pid_t pid;
        size_t n = 0;
        ssize_t k;
        int status;

        con->have_update_status = false;
        if (!argv || pipe2(p, O_CLOEXEC) < 0)
                return;
        pid = spawn_argv(argv, p[1], false);
        close(p[1]);
        while (pid > 0 && n < sizeof(con->update_status) - 1 &&
               (k = read(p[0], con->update_status + n, sizeof(con->update_status) - 1 - n)) != 0) {
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        break;
                n += (size_t) k;
        }
        close(p[0]);
        con->update_status[n] = 0;
        if (pid > 0) {
                while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                        ;
                con->have_update_status = WIFEXITED(status) && WEXITSTATUS(status) == 0 && n > 0;
        }
}

static int on_update_output(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Console *con = userdata;
        char buf[1024];
        ssize_t k = read(fd, buf, sizeof(buf) - 1);

        if (k <= 0) {
                con->update_io = sd_event_source_disable_unref(con->update_io);
                return 0;
        }
        buf[k] = 0;
        /* The last whole line is the progress ("Writing the inactive slot: 40% ..."). */
        for (char *line = buf, *end; line && *line; line = end) {
                end = strpbrk(line, "\r\n");
                if (end)
                        *end++ = 0;
                if (*line)
                        snprintf(con->update_line, sizeof(con->update_line), "%.511s", line);
        }
        snprintf(con->progress, sizeof(con->progress), _("System update %s: %s"), con->update_version,
                 con->update_line);
        redraw(con);
        return 0;
}

static int on_update_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        Console *con = userdata;
        int code = si->si_code == CLD_EXITED ? si->si_status : 128 + si->si_status;

        /* What is left in the pipe is the last word. */
        if (con->update_io)
                while (on_update_output(NULL, con->update_fd, EPOLLIN, con) == 0 && con->update_io)
                        ;
        con->update_io = sd_event_source_disable_unref(con->update_io);
        con->update_fd = safe_close(con->update_fd);
        con->progress[0] = 0;
        if (code == 0)
                snprintf(con->status, sizeof(con->status),
                         _("System update %s installed: b reboots into it."), con->update_version);
        else
                snprintf(con->status, sizeof(con->status), _("System update %s failed: %s"),
                         con->update_version, con->update_line[0] ? con->update_line : strerror(EIO));
        sd_event_source_unref(s);
        load_update_status(con);
        redraw(con);
        return 0;
}

/* An install started elsewhere (ark-update over SSH, the other console) announces itself on the
 * bus: its progress in the progress line, its outcome in the status line. Only signals from
 * org.ark.Update1 are matched (only root may own it), and those of the console's own install
 * (its origin) are left to its stdout. */
#define REMOTE_SILENCE_USEC (30ULL * 1000000ULL)

/* The install started elsewhere is over: its line goes, status (NULL: keep the line) in its place. */
static void remote_update_end(Console *con, const char *status) {
        con->remote_update = sd_bus_track_unref(con->remote_update);
        con->remote_timer = sd_event_source_disable_unref(con->remote_timer);
        con->progress[0] = 0;
        if (status)
                snprintf(con->status, sizeof(con->status), "%s", status);
}

/* Its ark-update left the bus (killed, the SSH session gone) or fell silent without a word. */
static int on_remote_update_gone(sd_bus_track *t, void *userdata) {
        Console *con = userdata;

        remote_update_end(con, _("The system update started elsewhere stopped without finishing."));
        load_update_status(con);
        redraw(con);
        return 0;
}

static int on_remote_update_silent(sd_event_source *s, uint64_t usec, void *userdata) {
        return on_remote_update_gone(NULL, userdata);
}

static int on_update_signal(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        Console *con = userdata;
        const char *bundle = NULL, *origin = NULL, *phase = NULL, *message = NULL;
        uint64_t done = 0, total = 0;
        int ok = 0;

        if (sd_bus_message_is_signal(m, ARK_UPDATE_BUS_IFACE, "SlotsChanged")) {
                if (con->st.screen == SCREEN_SYSTEM)
                        load_update_status(con);
                redraw(con);
                return 0;
        }
        if (sd_bus_message_is_signal(m, ARK_UPDATE_BUS_IFACE, "Progress")) {
                if (sd_bus_message_read(m, "ssstt", &bundle, &origin, &phase, &done, &total) < 0 ||
                    streq(origin, con->origin) || (con->progress[0] && !con->remote_timer))
                        return 0; /* the console's own install or an import has the line */
                if (!con->remote_update &&
                    sd_bus_track_new(con->bus, &con->remote_update, on_remote_update_gone, con) >= 0)
                        (void) sd_bus_track_add_sender(con->remote_update, m);
                /* A sender gone before the track's match was in place is caught by its silence. */
                if (con->remote_timer)
                        (void) sd_event_source_set_time_relative(con->remote_timer, REMOTE_SILENCE_USEC);
                else
                        (void) sd_event_add_time_relative(con->event, &con->remote_timer, CLOCK_MONOTONIC,
                                                          REMOTE_SILENCE_USEC, 0, on_remote_update_silent,
                                                          con);
                (void) sd_event_source_set_enabled(con->remote_timer, SD_EVENT_ONESHOT);
                snprintf(con->progress, sizeof(con->progress),
                         _("System update from %s (started elsewhere): %s: %d%%"),
                         printable(path_last(bundle)),
                         streq(phase, "verify") ? _("verifying") : _("writing the inactive slot"),
                         total ? (int) (MIN(done, total) * 100 / total) : 100);
        } else if (sd_bus_message_is_signal(m, ARK_UPDATE_BUS_IFACE, "Finished")) {
                if (sd_bus_message_read(m, "ssbs", &bundle, &origin, &ok, &message) < 0 ||
                    streq(origin, con->origin))
                        return 0;
                if (con->remote_update || con->remote_timer)
                        remote_update_end(con, NULL);
                if (ok)
                        snprintf(
                                con->status, sizeof(con->status),
                                _("System update from %s (started elsewhere) installed: b reboots into it."),
                                printable(path_last(bundle)));
                else
                        snprintf(con->status, sizeof(con->status),
                                 _("System update from %s (started elsewhere) failed: %s"),
                                 printable(path_last(bundle)), printable(message));
        } else
                return 0;
        redraw(con);
        return 0;
}

/* Runs `ark-update install FILE`, its output read for the progress line. */
static int act_install_update(Console *con, const char *input) {
        _cleanup_free_ char *words = strdup(arg_cmd_update);
        _cleanup_free_ char **argv = words ? update_argv(words, "install", con->dlg.target) : NULL;
        int p[2], r;
        pid_t pid;

        if (!argv)
                return -ENOMEM;
        if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
                return -errno;
        pid = spawn_argv(argv, p[1], true);
        close(p[1]);
        if (pid < 0) {
                close(p[0]);
                return pid;
        }
        con->update_fd = p[0];
        con->update_line[0] = 0;
        r = sd_event_add_io(con->event, &con->update_io, p[0], EPOLLIN, on_update_output, con);
        if (r >= 0)
                r = sd_event_add_child(con->event, NULL, pid, WEXITED, on_update_exit, con);
        if (r < 0) {
                (void) waitpid(pid, NULL, 0);
                con->update_io = sd_event_source_disable_unref(con->update_io);
                con->update_fd = safe_close(con->update_fd);
                return r;
        }
        snprintf(con->progress, sizeof(con->progress), _("System update %s: starting..."),
                 con->update_version);
        return 0;
}

/* The release notes: RELEASE-NOTES, the first file of an update bundle, read into memory and the
 * read stopped at the next file (the slot image is not hashed for this). */
typedef struct Notes {
        int fd;
} Notes;

static int notes_open(const ManifestFile *f, void *userdata, char **ret_error) {
        Notes *n = userdata;

        if (!streq(f->path, "RELEASE-NOTES") || f->size > 64 * 1024 || n->fd >= 0) {
                if (ret_error)
                        *ret_error = strdup("Stopped after the release notes.");
                return -ECANCELED;
        }
        n->fd = memfd_create("release-notes", MFD_CLOEXEC);
        return n->fd < 0 ? -errno : fcntl(n->fd, F_DUPFD_CLOEXEC, 3);
}

static void read_notes(const char *path, char *buf, size_t size) {
        const char *trust = getenv("ARK_TRUST_DIR");
        Notes n = { .fd = -1 };
        BundleReadOptions o = { .trust_dir = isempty(trust) ? CONFIG_DEFAULT_TRUST_DIR : trust,
                                .dest_fd = -1,
                                .open_file = notes_open,
                                .userdata = &n };
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        _cleanup_free_ char *err = NULL;
        BundleResult res = {};
        ssize_t k = 0;

        buf[0] = 0;
        if (fd < 0)
                return;
        (void) bundle_read(fd, path, &o, &res, &err);
        bundle_result_done(&res);
        if (n.fd >= 0) {
                k = pread(n.fd, buf, size - 1, 0);
                close(n.fd);
        }
        buf[k > 0 ? k : 0] = 0;
        /* One line for the dialog. */
        for (char *p = buf; *p; p++)
                if (*p == '\n' || *p == '\r' || *p == '\t')
                        *p = ' ';
        strstrip(buf);
}

/* u on the System screen: the newest update bundle on removable media, its version, signer and
 * release notes, and the question. */
static void pick_update(Console *con) {
        const char *trust = getenv("ARK_TRUST_DIR");
        char best_version[64] = "", best[PATH_MAX] = "", q[512], notes[300];
        BundleSignature sig = BUNDLE_SIGNATURE_UNKNOWN_KEY;
        char key[KEY_ID_HEX + 1] = "";

        if (con->progress[0]) {
                snprintf(con->status, sizeof(con->status), "%s", _("An import or an update is under way."));
                return;
        }
        (void) media_scan(&con->media, arg_sysfs_root, arg_media);
        for (size_t k = 0; k < con->media.n; k++) {
                BundleReadOptions o = { .trust_dir = isempty(trust) ? CONFIG_DEFAULT_TRUST_DIR : trust,
                                        .dest_fd = -1,
                                        .manifest_only = true,
                                        .allow_untrusted = true };
                _cleanup_close_ int fd = open(con->media.files[k], O_RDONLY | O_CLOEXEC | O_NOCTTY);
                _cleanup_free_ char *err = NULL;
                BundleResult res = {};

                if (fd < 0 || bundle_read(fd, con->media.files[k], &o, &res, &err) < 0)
                        continue;
                if (res.manifest->kind == BUNDLE_UPDATE &&
                    (!best[0] || strverscmp(res.manifest->version, best_version) > 0)) {
                        snprintf(best, sizeof(best), "%s", con->media.files[k]);
                        snprintf(best_version, sizeof(best_version), "%s", res.manifest->version);
                        snprintf(key, sizeof(key), "%s", res.manifest->key_id);
                        sig = res.signature;
                }
                bundle_result_done(&res);
        }
        if (!best[0]) {
                snprintf(con->status, sizeof(con->status), "%s",
                         _("No system update (an .ark bundle of kind update) on removable media."));
                return;
        }
        if (sig != BUNDLE_SIGNATURE_VALID) {
                snprintf(con->status, sizeof(con->status),
                         _("%s (%s) is signed by key %s, which is %s: it cannot be installed."),
                         basename(best), best_version, key,
                         sig == BUNDLE_SIGNATURE_REVOKED_KEY ? _("revoked") : _("not trusted"));
                return;
        }
        read_notes(best, notes, sizeof(notes));
        snprintf(con->update_version, sizeof(con->update_version), "%s", best_version);
        snprintf(
                q, sizeof(q),
                _("System update %s from %s, signed by trusted key %s. %s%s Install it into the inactive slot? "
                  "Nothing changes until you reboot."),
                best_version, basename(best), key, notes[0] ? _("Notes:") : _("No release notes."), notes);
        dialog_open(con, _("System update"), NULL, q, NULL, 1, best, act_install_update);
}

/* ------------------------------------------------------------------------------ network */

/* The management interface: --network-interface, else arkd's ManagementInterface= from the
 * configuration, else the first physical interface (one with a device in sysfs, so not a bridge
 * like virbr0), with an IPv4 address if one has. */
static const char *default_iface(void) {
        static char name[IF_NAMESIZE];
        _cleanup_free_ char *conf = NULL;
        struct ifaddrs *ifa = NULL;
        size_t n;

        if (arg_network_iface)
                return arg_network_iface;
        if (!name[0] && read_full_file(arg_config_file, &conf, &n) >= 0) {
                bool network = false;
                char *save = NULL;

                for (char *line = strtok_r(conf, "\n", &save); line && !name[0];
                     line = strtok_r(NULL, "\n", &save)) {
                        line = strstrip(line);
                        if (*line == '[')
                                network = streq(line, "[Network]");
                        else if (network && startswith(line, "ManagementInterface="))
                                snprintf(name, sizeof(name), "%s",
                                         strstrip(line + strlen("ManagementInterface=")));
                }
        }
        for (int pass = 0; !name[0] && pass < 2; pass++) {
                if (getifaddrs(&ifa) < 0)
                        break;
                for (struct ifaddrs *i = ifa; i && !name[0]; i = i->ifa_next) {
                        _cleanup_free_ char *dev = strprintf("/sys/class/net/%s/device", i->ifa_name);

                        if ((i->ifa_flags & IFF_LOOPBACK) || !dev || !file_exists(dev))
                                continue;
                        if (pass == 0 && !(i->ifa_addr && i->ifa_addr->sa_family == AF_INET))
                                continue;
                        snprintf(name, sizeof(name), "%s", i->ifa_name);
                }
                freeifaddrs(ifa);
        }
        return name[0] ? name : "eth0";
}

static char *read_hostname(void) {
        char *s = NULL;

        if (read_one_line_file(arg_hostname_file, &s) < 0)
                return NULL;
        return s;
}

static bool vlan_supported(void) {
        return file_exists("/proc/net/vlan") || file_exists("/sys/module/8021q");
}

static void load_network(Console *con) {
        _cleanup_free_ char *text = NULL;
        size_t n;

        free(con->hostname);
        con->hostname = read_hostname();
        con->st.net_hostname = con->hostname;
        con->st.vlan_supported = vlan_supported();
        if (!con->net_file)
                con->net_file = path_join(arg_network_dir, NETCONF_FILE);
        con->have_net = con->net_file && read_full_file(con->net_file, &text, &n) >= 0 &&
                netconf_parse(text, &con->net) >= 0;
        con->st.net = con->have_net ? &con->net : NULL;
        con->st.net_iface = default_iface();
        con->st.net_file = con->net_file;
        con->st.revert_left = con->net_pending ? con->revert_left : -1;
        con->st.simulated_host = arg_simulated_host;
}

/* Starts `sh -c cmd` with its output away from the screen and the console's blocked signals
 * unblocked. Returns its pid or -errno. */
static pid_t spawn_command(const char *cmd) {
        pid_t pid = fork();

        if (pid < 0)
                return -errno;
        if (pid == 0) {
                sigset_t none;
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);

                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                if (null >= 0) {
                        dup2(null, STDIN_FILENO);
                        dup2(null, STDOUT_FILENO);
                        dup2(null, STDERR_FILENO);
                }
                execl("/bin/sh", "sh", "-c", cmd, (char *) NULL);
                _exit(127);
        }
        return pid;
}

/* Runs it and waits: the exit code, or -errno. */
static int run_wait(const char *cmd) {
        pid_t pid = spawn_command(cmd);
        int status;

        if (pid < 0)
                return pid;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int run_reload(Console *con) {
        int r;

        if (!arg_network_reload) /* a simulated host: the file is all there is */
                return 0;
        r = run_wait(arg_network_reload);

        if (r != 0)
                snprintf(con->status, sizeof(con->status), _("'%s' failed (%d)."), arg_network_reload, r);
        return r == 0 ? 0 : -EIO;
}

static void revert_network(Console *con) {
        int r;

        if (con->net_had_file) {
                r = write_string_file(con->net_file, con->net_previous, WRITE_CREATE | WRITE_ATOMIC);
                if (r >= 0 && chmod(con->net_file, con->net_mode) < 0)
                        r = -errno;
        } else
                r = unlink(con->net_file) < 0 && errno != ENOENT ? -errno : 0;
        con->net_pending = false;
        con->revert_timer = sd_event_source_disable_unref(con->revert_timer);
        con->net_previous = mfree(con->net_previous);
        if (r < 0)
                snprintf(con->status, sizeof(con->status), _("Cannot restore %s: %s."), con->net_file,
                         strerror(-r));
        else if (run_reload(con) >= 0)
                snprintf(con->status, sizeof(con->status), "%s",
                         _("Not kept: the previous network settings are back."));
        load_network(con);
}

static int on_revert_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        Console *con = userdata;

        if (--con->revert_left <= 0) {
                revert_network(con);
                redraw(con);
                return 0;
        }
        load_network(con);
        redraw(con);
        (void) sd_event_source_set_time_relative(s, 1000000);
        return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

static int apply_network(Console *con, const char *input) {
        _cleanup_free_ char *text = NULL, *old = NULL;
        char why[256];
        const char *bad;
        size_t n;
        int r;

        snprintf(con->edit.iface, sizeof(con->edit.iface), "%s", default_iface());
        bad = netconf_validate(&con->edit, why, sizeof(why));
        if (bad) {
                snprintf(con->status, sizeof(con->status), "%s: %s.", _("Not applied"), bad);
                return -EINVAL;
        }
        if (con->net_pending) {
                snprintf(con->status, sizeof(con->status), "%s", _("Keep or let revert the change first."));
                return -EBUSY;
        }
        text = netconf_format(&con->edit);
        if (!text || !con->net_file)
                return -ENOMEM;
        con->net_had_file = read_full_file(con->net_file, &old, &n) >= 0;
        {
                struct stat st;

                con->net_mode =
                        con->net_had_file && stat(con->net_file, &st) >= 0 ? st.st_mode & 07777 : 0644;
        }
        (void) mkdir_p(arg_network_dir, 0755);
        r = write_string_file(con->net_file, text, WRITE_CREATE | WRITE_ATOMIC);
        if (r < 0) {
                snprintf(con->status, sizeof(con->status), _("Cannot write %s: %s."), con->net_file,
                         strerror(-r));
                return r;
        }
        free(con->net_previous);
        con->net_previous = TAKE_PTR(old);
        con->net_pending = true;
        con->revert_left = (int) arg_revert_sec;
        if (run_reload(con) < 0) {
                /* Not loaded: nothing to keep. The old file back, and said why. */
                char failed[sizeof(con->status)];

                memcpy(failed, con->status, sizeof(failed));
                revert_network(con);
                snprintf(con->status, sizeof(con->status), "%.1500s %s", failed,
                         _("The previous settings are back."));
                return -EIO;
        }
        con->revert_timer = sd_event_source_disable_unref(con->revert_timer);
        (void) sd_event_add_time_relative(con->event, &con->revert_timer, CLOCK_MONOTONIC, 1000000, 0,
                                          on_revert_tick, con);
        if (arg_network_reload)
                snprintf(con->status, sizeof(con->status),
                         _("Applied. Press c to keep it; it reverts in %d s."), con->revert_left);
        else
                snprintf(con->status, sizeof(con->status),
                         _("Written to the simulated host's file only. c keeps it; it reverts in %d s."),
                         con->revert_left);
        load_network(con);
        return 0;
}

static void keep_network(Console *con) {
        if (!con->net_pending)
                return;
        con->net_pending = false;
        con->revert_timer = sd_event_source_disable_unref(con->revert_timer);
        con->net_previous = mfree(con->net_previous);
        snprintf(con->status, sizeof(con->status), "%s", _("Kept: the new network settings stay."));
        load_network(con);
}

/* The static settings, one question after the other. */
static int net_ask_ntp(Console *con, const char *input);
static int net_ask_dns(Console *con, const char *input);
static int net_ask_gateway(Console *con, const char *input);


static void dialog_open(Console *con, const char *title, const char *prompt, const char *question,
                        const char *again, int confirms, const char *target, ActionFn act);

/* The last answer given: the whole setting shown, then asked once. */
static int net_confirm(Console *con, const char *input) {
        char q[512];

        snprintf(con->edit.ntp, sizeof(con->edit.ntp), "%s",
                 streq(strempty(input), "-") ? "" : strempty(input));
        snprintf(q, sizeof(q),
                 _("Apply on %s: %s, gateway %s, DNS %s, NTP %s? It reverts in %u s unless kept."),
                 default_iface(), con->edit.address, isempty(con->edit.gateway) ? "-" : con->edit.gateway,
                 isempty(con->edit.dns) ? "-" : con->edit.dns, isempty(con->edit.ntp) ? "-" : con->edit.ntp,
                 arg_revert_sec);
        dialog_open(con, _("Static address"), NULL, q, NULL, 1, NULL, apply_network);
        return 0;
}

static void dialog_open(Console *con, const char *title, const char *prompt, const char *question,
                        const char *again, int confirms, const char *target, ActionFn act);

static int net_ask_ntp(Console *con, const char *input) {
        snprintf(con->edit.dns, sizeof(con->edit.dns), "%s",
                 streq(strempty(input), "-") ? "" : strempty(input));
        dialog_open(con, _("Static address"), _("NTP servers (spaces between; - for none):"), "", NULL, 0,
                    NULL, net_confirm); /* then the whole setting, asked */
        return 0;
}

static int net_ask_dns(Console *con, const char *input) {
        snprintf(con->edit.gateway, sizeof(con->edit.gateway), "%s",
                 streq(strempty(input), "-") ? "" : strempty(input));
        dialog_open(con, _("Static address"), _("DNS servers (spaces between; - for none):"), "", NULL, 0,
                    NULL, net_ask_ntp);
        return 0;
}

static int net_ask_gateway(Console *con, const char *input) {
        char why[256];
        const char *bad;

        con->edit = (NetConf) {};
        snprintf(con->edit.iface, sizeof(con->edit.iface), "%s", default_iface());
        snprintf(con->edit.address, sizeof(con->edit.address), "%s", strempty(input));
        bad = netconf_validate(&con->edit, why, sizeof(why));
        if (bad) {
                snprintf(con->status, sizeof(con->status), "%s: %s.", _("Not applied"), bad);
                return -EINVAL;
        }
        dialog_open(con, _("Static address"), _("Gateway (- for none):"), "", NULL, 0, NULL, net_ask_dns);
        return 0;
}

static int run_command(Console *con, const char *what, const char *cmd);

/* The host name: its file, then the command that tells the running system. */
static int act_hostname(Console *con, const char *input) {
        _cleanup_free_ char *cmd = NULL;
        const char *bad = hostname_invalid_reason(input);
        int r;

        if (bad) {
                snprintf(con->status, sizeof(con->status), _("'%s' is not a host name: %s."), input, _(bad));
                return -EINVAL;
        }
        r = write_string_file(arg_hostname_file, input, WRITE_CREATE | WRITE_ATOMIC | WRITE_NEWLINE);
        if (r < 0) {
                snprintf(con->status, sizeof(con->status), _("Cannot write %s: %s."), arg_hostname_file,
                         strerror(-r));
                return r;
        }
        if (!arg_hostname_cmd) {
                snprintf(con->status, sizeof(con->status), "%s",
                         _("Host name set in the simulated host's file only."));
                load_network(con);
                return 0;
        }
        cmd = strprintf("%s '%s'", arg_hostname_cmd, input); /* checked above: no quotes in it */
        if (!cmd)
                return -ENOMEM;
        r = run_command(con, _("Host name"), cmd);
        load_network(con);
        return r;
}

static int net_dhcp(Console *con, const char *input) {
        con->edit = (NetConf) { .dhcp = true };
        if (con->have_net) {
                snprintf(con->edit.dns, sizeof(con->edit.dns), "%s", con->net.dns);
                snprintf(con->edit.ntp, sizeof(con->edit.ntp), "%s", con->net.ntp);
        }
        return apply_network(con, NULL);
}

/* ------------------------------------------------------------------------------ system */

typedef struct Job {
        Console *con;
        char what[128], cmd[512];
} Job;

static int on_job_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        Job *j = userdata;
        Console *con = j->con;
        int code = si->si_code == CLD_EXITED ? si->si_status : 128 + si->si_status;

        if (code == 0)
                snprintf(con->status, sizeof(con->status), "%s: %s", j->what, _("done."));
        else
                snprintf(con->status, sizeof(con->status), _("%s: '%s' failed (%d)."), j->what, j->cmd,
                         code);
        free(j);
        sd_event_source_unref(s);
        redraw(con);
        return 0;
}

/* Runs the command without holding the console up: its result lands in the key line. */
static int run_command(Console *con, const char *what, const char *cmd) {
        Job *j = calloc(1, sizeof(Job));
        pid_t pid;
        int r;

        if (!cmd) {
                free(j);
                snprintf(con->status, sizeof(con->status),
                         _("%s: not done; this is a simulated host (the sandbox)."), what);
                return 0;
        }
        if (!j)
                return -ENOMEM;
        *j = (Job) { .con = con };
        snprintf(j->what, sizeof(j->what), "%s", what);
        snprintf(j->cmd, sizeof(j->cmd), "%s", cmd);
        pid = spawn_command(cmd);
        if (pid < 0) {
                free(j);
                snprintf(con->status, sizeof(con->status), "%s: %s", what, strerror(-pid));
                return pid;
        }
        r = sd_event_add_child(con->event, NULL, pid, WEXITED, on_job_exit, j);
        if (r < 0) {
                (void) waitpid(pid, NULL, 0);
                free(j);
                return r;
        }
        snprintf(con->status, sizeof(con->status), "%s…", what);
        return 0;
}

static int act_restart_arkd(Console *con, const char *input) {
        return run_command(con, _("Restart arkd"), arg_cmd_arkd);
}

static int act_restart_libvirtd(Console *con, const char *input) {
        return run_command(con, _("Restart libvirtd"), arg_cmd_libvirtd);
}

static int act_reboot(Console *con, const char *input) {
        return run_command(con, _("Reboot"), arg_cmd_reboot);
}

static int act_poweroff(Console *con, const char *input) {
        return run_command(con, _("Power off"), arg_cmd_poweroff);
}

static int act_support_bundle(Console *con, const char *input) {
        _cleanup_free_ char *err = NULL, *path = NULL, *net = path_join(arg_network_dir, NETCONF_FILE);
        char *files[] = { (char *) arg_config_file, net, NULL };
        LogView logs = { .file = arg_log_file, .max_priority = 7 };
        char when[32];
        time_t t = time(NULL);
        struct tm tm;
        int r;

        gmtime_r(&t, &tm);
        strftime(when, sizeof(when), "%Y%m%d-%H%M%S", &tm);
        {
                char host[64];

                snprintf(host, sizeof(host), "%s",
                         isempty(jstr(con->model.manager, "Hostname"))
                                 ? "host"
                                 : jstr(con->model.manager, "Hostname"));
                for (char *p = host; *p; p++)
                        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                              (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
                                *p = '_';
                if (host[0] == '.')
                        host[0] = '_';
                path = strprintf("%s/ark-support-%s-%s.tar.gz", con->dlg.target, host, when);
        }
        if (!path)
                return -ENOMEM;
        (void) logs_load(&logs, 5000);
        load_network(con);
        r = support_bundle_write(path, &con->model, &con->st, &logs, files, &err);
        logs_done(&logs);
        if (r < 0)
                snprintf(con->status, sizeof(con->status), "%s", strna(err));
        else
                snprintf(con->status, sizeof(con->status), _("Support bundle written: %s"), path);
        return r;
}

/* Opens a dialog: typing first when prompt is set, then the question (twice when confirms is 2). */
static void dialog_open(Console *con, const char *title, const char *prompt, const char *question,
                        const char *again, int confirms, const char *target, ActionFn act) {
        Dialog *d = &con->dlg;

        *d = (Dialog) { .open = true, .typing = prompt != NULL, .confirms = confirms, .act = act };
        snprintf(d->title, sizeof(d->title), "%s", title);
        snprintf(d->question, sizeof(d->question), "%s", question);
        snprintf(d->again, sizeof(d->again), "%s", again ?: question);
        snprintf(d->text, sizeof(d->text), "%s", prompt ?: question);
        snprintf(d->target, sizeof(d->target), "%s", strempty(target));
}

/* The screen's action for a key, or false when the key is not one. */
static bool screen_key(Console *con, wint_t key) {
        json_t *sel = screen_selected(&con->model, &con->st);
        const char *name =
                sel ? jstr(sel, con->st.screen == SCREEN_ACCELERATORS ? "Address" : "Name") : NULL;
        char ref[256];
        char q[512];
        bool container;

        switch (con->st.screen) {
        case SCREEN_TENANTS:
                if (key == L'n') {
                        dialog_open(con, _("New tenant"), _("Name (lowercase letters, digits, '-'):"), "",
                                    NULL, 1, NULL, act_create_tenant);
                        return true;
                }
                if (!name)
                        return false;
                if (key == L'g') {
                        snprintf(q, sizeof(q), _("Tenant '%s': GPUs (4, 2..4 guaranteed..limit, - none):"),
                                 name);
                        dialog_open(con, _("GPU quota"), q, "", NULL, 1, name, act_gpu_quota);
                        return true;
                }
                if (key == L'm') {
                        snprintf(q, sizeof(q), _("Add a member to '%s': user NAME or group NAME:"), name);
                        dialog_open(con, _("Add member"), q, "", NULL, 1, name, act_add_member);
                        return true;
                }
                if (key == L'd') {
                        snprintf(q, sizeof(q), _("Delete tenant '%s'?"), name);
                        dialog_open(con, _("Delete tenant"), NULL, q, NULL, 1, name, act_delete_tenant);
                        return true;
                }
                return false;
        case SCREEN_INSTANCES:
                if (key == L'n') {
                        vm_new(con);
                        return true;
                }
                if (!name)
                        return false;
                /* Instance names are unique per tenant: act on TENANT/NAME. Start, stop and force off
                 * act on VMs and containers alike (StopInstance's force kills a container). */
                snprintf(ref, sizeof(ref), "%s/%s", jstr(sel, "Tenant"), name);
                container = streq(jstr(sel, "Type"), "container");
                if (key == L'\n' || key == L'\r') {
                        char mem[32], gpus[512];

                        instance_gpus_label(gpus, sizeof(gpus), sel);
                        format_bytes(mem, sizeof(mem), ju64(sel, "MemoryBytes"));
                        /* A container's image where a VM's disk is (its command is in arkctl ct show). */
                        if (container)
                                snprintf(q, sizeof(q),
                                         _("Container %s of %s: %s, %" PRIu64
                                           " vCPUs, %s, GPUs %s, image %s"),
                                         name, jstr(sel, "Tenant"), jstr(sel, "State"), ju64(sel, "VCPUs"),
                                         mem, gpus, isempty(jstr(sel, "Image")) ? "-" : jstr(sel, "Image"));
                        else
                                snprintf(
                                        q, sizeof(q),
                                        _("%s of %s: %s, %" PRIu64 " vCPUs, %s, GPUs %s, model %s, disk %s"),
                                        name, jstr(sel, "Tenant"), jstr(sel, "State"), ju64(sel, "VCPUs"),
                                        mem, gpus, isempty(jstr(sel, "Model")) ? "-" : jstr(sel, "Model"),
                                        isempty(jstr(sel, "DiskPath")) ? "-" : jstr(sel, "DiskPath"));
                        dialog_open(con, _("Details"), NULL, q, NULL, 1, name, NULL);
                        return true;
                }
                if (key == L's') {
                        snprintf(q, sizeof(q), container ? _("Start container '%s'?") : _("Start VM '%s'?"),
                                 name);
                        dialog_open(con, _("Start"), NULL, q, NULL, 1, ref, act_start);
                        return true;
                }
                if (key == L't') {
                        snprintf(q, sizeof(q),
                                 container ? _("Stop container '%s' (SIGTERM to its processes)?")
                                           : _("Stop VM '%s' (shut it down)?"),
                                 name);
                        dialog_open(con, _("Stop"), NULL, q, NULL, 1, ref, act_stop);
                        return true;
                }
                if (key == L'f') {
                        char again[512];

                        snprintf(q, sizeof(q),
                                 container ? _("Kill container '%s' (SIGKILL)?") : _("Force VM '%s' off?"),
                                 name);
                        snprintf(again, sizeof(again),
                                 _("Really? '%s' loses what it has not written, like a pulled plug."), name);
                        dialog_open(con, _("Force off"), NULL, q, again, 2, ref, act_force_off);
                        return true;
                }
                return false;
        case SCREEN_SYSTEM:
                if (key == L'u') {
                        pick_update(con);
                        return true;
                }
                if (key == L'a') {
                        dialog_open(con, _("Restart arkd"), NULL, _("Restart arkd? VMs keep running."), NULL,
                                    1, NULL, act_restart_arkd);
                        return true;
                }
                if (key == L'l') {
                        dialog_open(con, _("Restart libvirtd"), NULL,
                                    _("Restart libvirtd? VMs keep running."), NULL, 1, NULL,
                                    act_restart_libvirtd);
                        return true;
                }
                if (key == L'b') {
                        dialog_open(con, _("Reboot"), NULL, _("Reboot the appliance?"),
                                    _("Really reboot? Every VM stops."), 2, NULL, act_reboot);
                        return true;
                }
                if (key == L'o') {
                        dialog_open(
                                con, _("Power off"), NULL, _("Power the appliance off?"),
                                _("Really power off? Every VM stops, and someone must press the power button."),
                                2, NULL, act_poweroff);
                        return true;
                }
                if (key == L'e') {
                        (void) media_scan(&con->media, arg_sysfs_root, arg_media);
                        if (!con->media.roots || !con->media.roots[0]) {
                                snprintf(con->status, sizeof(con->status), "%s",
                                         _("No removable medium to write to: plug in a USB stick."));
                                return true;
                        }
                        snprintf(
                                q, sizeof(q),
                                _("Write a support bundle (logs, inventory, configuration; no secrets) to %s?"),
                                con->media.roots[0]);
                        dialog_open(con, _("Support bundle"), NULL, q, NULL, 1, con->media.roots[0],
                                    act_support_bundle);
                        return true;
                }
                return false;
        case SCREEN_NETWORK: {
                char q2[256];

                if (key == L'c' && con->net_pending) {
                        keep_network(con);
                        return true;
                }
                if (key == L's') {
                        snprintf(q2, sizeof(q2), _("Address of %s with its prefix (192.0.2.10/24):"),
                                 default_iface());
                        dialog_open(con, _("Static address"), q2, "", NULL, 0, NULL, net_ask_gateway);
                        return true;
                }
                if (key == L'h') {
                        dialog_open(con, _("Host name"), _("The appliance's host name:"), "", NULL, 1, NULL,
                                    act_hostname);
                        return true;
                }
                if (key == L'd') {
                        snprintf(q2, sizeof(q2), _("Use DHCP on %s?"), default_iface());
                        dialog_open(con, _("DHCP"), NULL, q2, NULL, 1, NULL, net_dhcp);
                        return true;
                }
                return false;
        }
        case SCREEN_BUNDLES:
                if ((key == L'\n' || key == L'\r') && con->st.selected < (int) con->media.n) {
                        if (con->progress[0]) {
                                snprintf(con->status, sizeof(con->status), "%s",
                                         _("An import is under way."));
                                return true;
                        }
                        inspect_media_file(con, con->media.files[con->st.selected]);
                        return true;
                }
                if (key == L'r') {
                        (void) media_scan(&con->media, arg_sysfs_root, arg_media);
                        con->st.media = &con->media;
                        return false; /* refresh too */
                }
                return false;
        case SCREEN_ACCELERATORS:
                if (!name)
                        return false;
                if (key == L'v' || key == L'x') {
                        snprintf(q, sizeof(q),
                                 key == L'v' ? _("Reserve %s for the host; why?")
                                             : _("Quarantine %s (no new VMs); why?"),
                                 name);
                        dialog_open(con, key == L'v' ? _("Reserve") : _("Quarantine"), q, "", NULL, 1, name,
                                    key == L'v' ? act_reserve : act_quarantine);
                        return true;
                }
                if (key == L'u') {
                        snprintf(q, sizeof(q), _("Release %s (end its reservation or quarantine)?"), name);
                        dialog_open(con, _("Release"), NULL, q, NULL, 1, name, act_release);
                        return true;
                }
                return false;
        default:
                return false;
        }
}

/* u, p and f on the Logs screen: the filter changed, said in the status line too. */
static void logs_key(Console *con, wint_t key) {
        static const char *const prios[8] = { "emerg",   "alert",  "crit", "err",
                                              "warning", "notice", "info", "debug" };
        LogView *v = &con->logs;

        if (key == L'f') {
                v->follow = !v->follow;
                snprintf(con->status, sizeof(con->status), "%s",
                         v->follow ? _("f: following: the newest lines show as they come.")
                                   : _("f: not following: the lines stay as they are."));
        } else if (v->file)
                /* A log file's lines have no unit or priority to filter by. */
                snprintf(con->status, sizeof(con->status),
                         _("%lc: %s is a log file: every line shows (unit and priority "
                           "filter the journal)."),
                         (wint_t) key, v->file);
        else if (key == L'u') {
                v->unit = (LogUnit) ((v->unit + 1) % _LOG_UNIT_MAX);
                snprintf(con->status, sizeof(con->status), _("u: showing %s."), log_unit_label(v->unit));
        } else {
                v->max_priority = v->max_priority >= 7 ? 3 : v->max_priority + 1;
                if (v->max_priority >= 7)
                        snprintf(con->status, sizeof(con->status), "%s", _("p: showing every priority."));
                else
                        snprintf(con->status, sizeof(con->status),
                                 _("p: showing priority %s and more severe."), prios[v->max_priority]);
        }
}

/* A key that does nothing here says so, rather than nothing at all. */
static void unbound_key(Console *con, int r, wint_t key) {
        if (r == OK && !con->model.connected && con->st.screen != SCREEN_SYSTEM &&
            con->st.screen != SCREEN_NETWORK && con->st.screen != SCREEN_LOGS &&
            screen_actions(con->st.screen) && iswprint((wint_t) key))
                snprintf(con->status, sizeof(con->status),
                         _("%lc: not now, arkd does not answer; 7 shows its log, 8 restarts it."),
                         (wint_t) key);
        else if (r == OK && key == 27)
                snprintf(con->status, sizeof(con->status), "%s", _("Esc: nothing to close here."));
        else if (r == OK && iswprint((wint_t) key))
                snprintf(con->status, sizeof(con->status), _("%lc: no action here; ? shows the keys."),
                         (wint_t) key);
        else
                snprintf(con->status, sizeof(con->status), "%s",
                         _("That key has no action here; ? shows the keys."));
}

/* A key while a dialog is open. */
static void dialog_key(Console *con, int r, wint_t key) {
        Dialog *d = &con->dlg;

        if (!d->act) { /* information only: any key closes it */
                d->open = false;
                return;
        }
        if (r == OK && key == 27) { /* Esc */
                d->open = false;
                snprintf(con->status, sizeof(con->status), "%s", _("Cancelled."));
                return;
        }
        if (d->typing) {
                if (r == OK && (key == L'\n' || key == L'\r')) {
                        if (d->len == 0) {
                                snprintf(con->status, sizeof(con->status), "%s",
                                         _("Type an answer first; Esc cancels."));
                                return;
                        }
                        d->typing = false;
                        /* One step of several: the question comes at the end. */
                        if (d->confirms == 0) {
                                char typed[sizeof(d->buf)];

                                memcpy(typed, d->buf, sizeof(typed));
                                d->open = false;
                                (void) d->act(con, typed);
                                return;
                        }
                        /* Typed, then asked: "Create tenant 'x'?" */
                        snprintf(d->text, sizeof(d->text), "%s: %s  %s", d->title, d->buf, _("- go ahead?"));
                } else if (r == KEY_CODE_YES && (key == KEY_UP || key == KEY_DOWN) && d->n_choices > 0) {
                        /* The next or previous choice; from a line typed, the first or the last. */
                        if (!d->fresh)
                                d->choice = key == KEY_DOWN ? d->n_choices - 1 : 0;
                        d->choice = (d->choice + (key == KEY_DOWN ? 1 : d->n_choices - 1)) % d->n_choices;
                        snprintf(d->buf, sizeof(d->buf), "%s", d->choices[d->choice]);
                        d->len = strlen(d->buf);
                        d->fresh = true;
                } else if ((r == KEY_CODE_YES && key == KEY_BACKSPACE) ||
                           (r == OK && (key == 127 || key == 8))) {
                        d->fresh = false;
                        while (d->len > 0 && ((unsigned char) d->buf[d->len - 1] & 0xc0) == 0x80)
                                d->len--;
                        if (d->len > 0)
                                d->len--;
                        d->buf[d->len] = 0;
                } else if (r == OK && key >= 0x20) {
                        char mb[MB_LEN_MAX];
                        mbstate_t st = {};
                        size_t n = wcrtomb(mb, (wchar_t) key, &st);

                        if (d->fresh) /* typing replaces a choice shown */
                                d->len = 0, d->buf[0] = 0, d->fresh = false;
                        if (n != (size_t) -1 && d->len + n < sizeof(d->buf) - 1) {
                                memcpy(d->buf + d->len, mb, n);
                                d->len += n;
                                d->buf[d->len] = 0;
                        }
                }
                return;
        }
        if (r == OK && (key == L'y' || key == L'Y')) {
                if (--d->confirms > 0) {
                        snprintf(d->text, sizeof(d->text), "%s", d->again);
                        return;
                }
                d->open = false;
                (void) d->act(con, d->len > 0 ? d->buf : NULL);
                return;
        }
        if (r == OK && (key == L'n' || key == L'N')) {
                d->open = false;
                snprintf(con->status, sizeof(con->status), "%s", _("Cancelled."));
                return;
        }
        snprintf(con->status, sizeof(con->status), "%s", _("Answer y or n; Esc cancels."));
}

static int on_input(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Console *con = userdata;
        wint_t key;
        int r;

        while ((r = get_wch(&key)) != ERR) {
                int n = con->st.screen == SCREEN_BUNDLES ? (int) con->media.n
                                                         : screen_rows(&con->model, con->st.screen);

                if (con->dlg.open) {
                        dialog_key(con, r, key);
                        redraw(con);
                        continue;
                }
                if (!con->pending[0])
                        con->status[0] = 0;
                /* The help box: Esc or ? closes it; any other key closes it and does its work. */
                if (con->st.help) {
                        con->st.help = false;
                        if (r == OK && (key == 27 || key == L'?')) {
                                redraw(con);
                                continue;
                        }
                }
                if (r == OK &&
                    (con->model.connected || con->st.screen == SCREEN_SYSTEM ||
                     con->st.screen == SCREEN_NETWORK) &&
                    screen_key(con, key)) {
                        redraw(con);
                        continue;
                }
                if (r == OK && con->st.screen == SCREEN_LOGS &&
                    (key == L'u' || key == L'p' || key == L'f')) {
                        logs_key(con, key);
                        reload_logs(con);
                        redraw(con);
                        continue;
                }
                if (r == OK && key == L'L') {
                        toggle_language();
                        redraw(con);
                        continue;
                }
                if (r == OK && (key == L'q' || key == L'Q'))
                        return sd_event_exit(con->event, 0);
                if (r == OK && key >= L'1' && key <= L'8') {
                        con->st.screen = (ScreenId) (key - L'1');
                        con->st.selected = 0;
                        if (con->st.screen == SCREEN_LOGS)
                                reload_logs(con);
                        if (con->st.screen == SCREEN_BUNDLES) {
                                (void) media_scan(&con->media, arg_sysfs_root, arg_media);
                                con->st.media = &con->media;
                        }
                        if (con->st.screen == SCREEN_NETWORK)
                                load_network(con);
                        if (con->st.screen == SCREEN_SYSTEM)
                                load_update_status(con);
                } else if ((r == OK && key == L'\t') || (r == KEY_CODE_YES && key == KEY_RIGHT)) {
                        con->st.screen = (ScreenId) ((con->st.screen + 1) % _SCREEN_MAX);
                        con->st.selected = 0;
                } else if (r == KEY_CODE_YES && (key == KEY_BTAB || key == KEY_LEFT)) {
                        con->st.screen = (ScreenId) ((con->st.screen + _SCREEN_MAX - 1) % _SCREEN_MAX);
                        con->st.selected = 0;
                } else if (r == KEY_CODE_YES && key == KEY_DOWN && con->st.selected + 1 < n)
                        con->st.selected++;
                else if (r == KEY_CODE_YES && key == KEY_UP && con->st.selected > 0)
                        con->st.selected--;
                else if (r == OK && key == L'?')
                        con->st.help = !con->st.help;
                else if (r == OK && (key == L'r' || key == L'R')) {
                        if (con->st.screen == SCREEN_LOGS)
                                reload_logs(con);
                        (void) refresh_now(con);
                        continue;
                } else if (r == OK && (key == L'\n' || key == L'\r'))
                        snprintf(con->status, sizeof(con->status), "%s", screen_actions(con->st.screen));
                else if (!(r == KEY_CODE_YES && (key == KEY_RESIZE || key == KEY_UP || key == KEY_DOWN)))
                        unbound_key(con, r, key);
                /* KEY_RESIZE and anything else: redrawn at the size the terminal has now. */
                redraw(con);
        }
        return 0;
}

static int on_quit_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Console *con = userdata;

        return sd_event_exit(con->event, 0);
}

static int on_winch(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Console *con = userdata;
        struct winsize ws;

        if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) >= 0 && ws.ws_col > 0 && ws.ws_row > 0)
                resize_term(ws.ws_row, ws.ws_col);
        clear();
        redraw(con);
        return 0;
}

/* The log grew: show it when following. */
static int on_log_change(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Console *con = userdata;
        char buf[4096];

        if (con->journal_watch)
                (void) sd_journal_process(con->journal_watch);
        else
                while (read(fd, buf, sizeof(buf)) > 0)
                        ;
        if (con->st.screen == SCREEN_LOGS && con->logs.follow) {
                reload_logs(con);
                redraw(con);
        }
        return 0;
}

static void watch_logs(Console *con) {
        int fd = -1;

        if (arg_log_file) {
                con->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
                if (con->inotify_fd >= 0 && inotify_add_watch(con->inotify_fd, arg_log_file, IN_MODIFY) >= 0)
                        fd = con->inotify_fd;
        } else if (sd_journal_open(&con->journal_watch, SD_JOURNAL_LOCAL_ONLY) >= 0)
                fd = sd_journal_get_fd(con->journal_watch);
        if (fd >= 0)
                (void) sd_event_add_io(con->event, &con->log_source, fd, EPOLLIN, on_log_change, con);
}

static int interactive(void) {
        Console con = { .inotify_fd = -1,
                        .import_fd = -1,
                        .update_fd = -1,
                        .logs = { .file = arg_log_file, .max_priority = 6, .follow = true } };
        int r;

        /* The ark-update this console starts says so in its signals (on_update_signal). */
        snprintf(con.origin, sizeof(con.origin), "arktui-%d", (int) getpid());
        (void) setenv("ARK_UPDATE_ORIGIN", con.origin, 1);

        if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
                fprintf(stderr, "arktui: needs a terminal (or use --dump SCREEN)\n");
                return -ENOTTY;
        }
        r = sd_event_default(&con.event);
        if (r < 0)
                return r;
        initscr();
        cbreak();
        noecho();
        nonl();
        keypad(stdscr, TRUE);
        set_escdelay(25); /* Esc closes a dialog at once, not after a second */
        nodelay(stdscr, TRUE);
        curs_set(0);
        if (has_colors()) {
                start_color();
                use_default_colors();
                init_pair(1, COLOR_BLUE, -1);
                init_pair(2, COLOR_WHITE, COLOR_BLUE);
                init_pair(3, COLOR_GREEN, -1);
                init_pair(4, COLOR_YELLOW, -1);
                init_pair(5, COLOR_RED, -1);
                con.colour = true;
        }
        r = sd_event_add_io(con.event, &con.input, STDIN_FILENO, EPOLLIN, on_input, &con);
        if (r >= 0)
                r = sd_event_add_time_relative(con.event, &con.refresh_timer, CLOCK_MONOTONIC, 0, 0,
                                               on_refresh_timer, &con);
        if (r >= 0)
                bus_connect(&con);
        /* Ctrl-C, a hangup or a stop end the console as q does (a network change not kept is
         * reverted); a resize redraws at once. */
        if (r >= 0) {
                sigset_t mask;

                sigemptyset(&mask);
                sigaddset(&mask, SIGINT);
                sigaddset(&mask, SIGTERM);
                sigaddset(&mask, SIGHUP);
                sigaddset(&mask, SIGWINCH);
                sigaddset(&mask, SIGCHLD); /* for the commands the System screen runs */
                sigprocmask(SIG_BLOCK, &mask, NULL);
                (void) sd_event_add_signal(con.event, NULL, SIGINT, on_quit_signal, &con);
                (void) sd_event_add_signal(con.event, NULL, SIGTERM, on_quit_signal, &con);
                (void) sd_event_add_signal(con.event, NULL, SIGHUP, on_quit_signal, &con);
                (void) sd_event_add_signal(con.event, NULL, SIGWINCH, on_winch, &con);
        }
        if (r >= 0) {
                watch_logs(&con);
                load_network(&con);
                r = sd_event_loop(con.event);
        }
        /* Leaving with a change not kept: it is not kept. */
        if (con.net_pending)
                revert_network(&con);
        endwin();
        logs_done(&con.logs);
        media_done(&con.media);
        safe_close(con.import_fd);
        free(con.net_file);
        free(con.net_previous);
        free(con.hostname);
        sd_event_source_unref(con.revert_timer);
        sd_event_source_unref(con.log_source);
        if (con.journal_watch)
                sd_journal_close(con.journal_watch);
        if (con.inotify_fd >= 0)
                close(con.inotify_fd);
        canvas_done(&con.canvas);
        model_done(&con.model);
        sd_event_source_unref(con.input);
        sd_event_source_unref(con.refresh_timer);
        remote_update_end(&con, NULL);
        sd_bus_flush_close_unref(con.bus);
        sd_event_unref(con.event);
        return r;
}

int main(int argc, char *argv[]) {
        int r = parse_argv(argc, argv);

        if (r <= 0)
                return r < 0 ? 2 : 0;
        setup_language();
        r = arg_dump ? dump() : interactive();
        return r < 0 ? 1 : 0;
}

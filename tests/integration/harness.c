/* Integration harness: see harness.h. */

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "harness.h"
#include "basic/time-util.h"
#include "shared/bus-util.h"

extern char **environ;

const char *harness_src_dir(void) {
        const char *e = getenv("ARK_SRCDIR");
        return e ? e : ARK_SRCDIR;
}

const char *harness_build_dir(void) {
        static char buf[4096];
        const char *e = getenv("ARK_BUILD_DIR");

        if (e)
                return e;
        snprintf(buf, sizeof(buf), "%s/build", harness_src_dir());
        return buf;
}

/* The bound on a wait for a condition (a socket, a bus name): only there so that a broken
 * component fails the test instead of hanging it, and long enough for a machine whose every core
 * is busy with something else (issue 15: the suite must pass under stress-ng). */
#define HARNESS_WAIT_USEC (90ULL * USEC_PER_SEC)

uint64_t harness_wait_deadline(void) {
        return now_usec(CLOCK_MONOTONIC) + HARNESS_WAIT_USEC;
}

bool harness_wait_over(uint64_t deadline) {
        return now_usec(CLOCK_MONOTONIC) > deadline;
}

static void sleep_ms(unsigned ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
}

/* fork + exec with PR_SET_PDEATHSIG: if the test program dies (crash, abort), arkd and the bus die
 * with it instead of lingering on the machine. With netns, in that network namespace (a file such
 * as /run/netns/NAME). */
static pid_t spawn_in(char *const argv[], const char *out_path, const char *err_path, const char *netns) {
        pid_t parent = getpid(), pid;

        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                int fd;

                (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
                if (getppid() != parent)
                        _exit(127);
                fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (fd >= 0)
                        dup2(fd, STDIN_FILENO);
                if (out_path && (fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) >= 0)
                        dup2(fd, STDOUT_FILENO);
                if (err_path && (fd = open(err_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) >= 0)
                        dup2(fd, STDERR_FILENO);
                if (netns) {
                        fd = open(netns, O_RDONLY | O_CLOEXEC);
                        if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
                                fprintf(stderr, "harness: cannot enter network namespace %s: %m\n", netns);
                                _exit(127);
                        }
                }
                execvp(argv[0], argv);
                fprintf(stderr, "harness: cannot run %s: %m\n", argv[0]);
                _exit(127);
        }
        return pid;
}

static pid_t spawn(char *const argv[], const char *out_path, const char *err_path) {
        return spawn_in(argv, out_path, err_path, NULL);
}

static int wait_status(pid_t pid) {
        int status;

        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        if (WIFSIGNALED(status))
                return 128 + WTERMSIG(status);
        return -ECHILD;
}

int harness_setup(Harness *h, const char *host) {
        char tmpl[] = "/tmp/ark-itest.XXXXXX";
        _cleanup_free_ char *conf = NULL, *conf_text = NULL, *sock = NULL;
        char *argv[5];

        *h = (Harness) {};
        if (!mkdtemp(tmpl))
                return -errno;
        chmod(tmpl, 0755);
        h->tmp = strdup(tmpl);
        h->fixture = strprintf("%s/tests/fixtures/hosts/%s", harness_src_dir(), host);
        h->state_dir = strprintf("%s/state", h->tmp);
        h->libvirt_uri = strprintf("test://%s/host.xml", h->fixture);
        h->sysfs_root = strprintf("%s/sysfs", h->fixture);
        h->arkd_log = strprintf("%s/arkd.log", h->tmp);
        sock = strprintf("%s/bus", h->tmp);
        h->bus_address = strprintf("unix:path=%s", sock);
        conf = strprintf("%s/bus.conf", h->tmp);
        if (!h->tmp || !h->fixture || !h->state_dir || !h->libvirt_uri || !h->sysfs_root || !h->arkd_log ||
            !sock || !h->bus_address || !conf)
                return -ENOMEM;

        /* arkd in a network namespace of its own (as root): the tenant networks a test makes,
         * knowingly or through a tenant's default network, stay out of the machine's, and go with
         * the namespace. */
        if (geteuid() == 0) {
                static unsigned n;

                snprintf(h->own_netns, sizeof(h->own_netns), "ark-h%d-%u", (int) getpid(), n++);
                if (harness_sh(NULL, NULL, "ip netns add %s && ip -n %s link set lo up", h->own_netns,
                               h->own_netns) == 0) {
                        snprintf(h->own_netns_path, sizeof(h->own_netns_path), "/run/netns/%s",
                                 h->own_netns);
                        h->netns = h->own_netns_path;
                } else
                        h->own_netns[0] = 0;
        }

        conf_text = strprintf(
                "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
                " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
                "<busconfig><type>session</type><listen>unix:path=%s</listen><auth>EXTERNAL</auth>"
                "<policy context=\"default\"><allow send_destination=\"*\" eavesdrop=\"true\"/>"
                "<allow eavesdrop=\"true\"/><allow own=\"*\"/><allow user=\"*\"/></policy></busconfig>\n",
                sock);
        if (!conf_text || write_string_file(conf, conf_text, WRITE_CREATE) < 0)
                return -EIO;

        argv[0] = (char *) "dbus-daemon";
        argv[1] = strprintf("--config-file=%s", conf);
        argv[2] = (char *) "--nofork";
        argv[3] = (char *) "--nopidfile";
        argv[4] = NULL;
        {
                _cleanup_free_ char *buslog = strprintf("%s/dbus.log", h->tmp);
                h->bus_pid = spawn(argv, NULL, buslog);
        }
        free(argv[1]);
        if (h->bus_pid < 0)
                return h->bus_pid;
        for (usec_t end = harness_wait_deadline(); !file_exists(sock) && !harness_wait_over(end);)
                sleep_ms(25);
        if (!file_exists(sock))
                return -ETIMEDOUT;
        setenv("ARK_BUS_ADDRESS", h->bus_address, 1);
        /* arkd's trusted keys; arkctl's offline verify reads the same directory. */
        h->trust_dir = strprintf("%s/trust.d", h->tmp);
        if (!h->trust_dir)
                return -ENOMEM;
        setenv("ARK_TRUST_DIR", h->trust_dir, 1);
        return 0;
}

sd_bus *harness_bus(Harness *h) {
        int r = 0;

        /* The socket file appears at bind(), a moment before dbus-daemon listens: a connection in
         * between is refused, so try again for a while. */
        for (usec_t end = harness_wait_deadline(); !h->bus && !harness_wait_over(end);) {
                r = ark_bus_open(h->bus_address, &h->bus);
                if (r >= 0)
                        break;
                h->bus = NULL;
                sleep_ms(50);
        }
        if (!h->bus)
                fprintf(stderr, "harness: cannot connect to the test bus %s: %s\n", h->bus_address,
                        strerror(-r));
        return h->bus;
}

bool harness_arkd_alive(Harness *h) {
        int status;

        if (h->arkd_pid <= 0)
                return false;
        if (waitpid(h->arkd_pid, &status, WNOHANG) == h->arkd_pid) {
                h->arkd_pid = 0;
                return false;
        }
        return true;
}

void harness_dump_log(Harness *h) {
        _cleanup_free_ char *out = NULL;

        if (harness_sh(&out, NULL, "tail -n 40 '%s'", h->arkd_log) >= 0 && out)
                fprintf(stderr, "---- arkd log (%s) ----\n%s---- end of log ----\n", h->arkd_log, out);
}

int harness_writable_sysfs(Harness *h) {
        _cleanup_free_ char *copy = strprintf("%s/sysfs", h->tmp);

        if (!copy)
                return -ENOMEM;
        if (harness_sh(NULL, NULL, "rm -rf '%s' && cp -a '%s/sysfs' '%s'", copy, h->fixture, copy) != 0)
                return -EIO;
        free(h->sysfs_root);
        h->sysfs_root = TAKE_PTR(copy);
        return 0;
}

int harness_start_arkd(Harness *h, ...) {
        _cleanup_free_ char *sysfs = strdup(h->sysfs_root);
        _cleanup_free_ char *conf = strprintf("%s/ark.conf", h->tmp);
        _cleanup_free_ char *arkd = strprintf("%s/bin/arkd", harness_build_dir());
        /* Admins may name files by path below the test's own directory (the state directory
         * inside it excepted, as arkd always does). */
        _cleanup_free_ char *conf_text = strprintf(
                "[Images]\nAdminDirectories=%s\n[Network]\nDefaultTenantNetwork=%s\n"
                "RuntimeDirectory=%s/run/networks\n[Containers]\nRuntimeDirectory=%s/run/containers\n"
                "Directory=%s/containers\nDeviceRoot=%s/dev\nCDIDirectory=%s/run/cdi\n%s",
                h->tmp, h->default_networks ? "yes" : "no", h->tmp, h->tmp, h->tmp, h->tmp, h->tmp,
                strempty(h->extra_conf));
        char *argv[32];
        size_t n = 0;
        const char *extra;
        va_list ap;
        sd_bus *bus;

        if (!sysfs || !conf || !arkd || !conf_text || write_string_file(conf, conf_text, WRITE_CREATE) < 0)
                return -ENOMEM;
        for (char *const *w = h->wrap; w && *w && n < 8; w++)
                argv[n++] = *w;
        argv[n++] = arkd;
        argv[n++] = (char *) "--config";
        argv[n++] = conf;
        argv[n++] = (char *) "--bus-address";
        argv[n++] = h->bus_address;
        argv[n++] = (char *) "--state-dir";
        argv[n++] = h->state_dir;
        argv[n++] = (char *) "--libvirt-uri";
        argv[n++] = h->libvirt_uri;
        argv[n++] = (char *) "--sysfs-root";
        argv[n++] = sysfs;
        argv[n++] = (char *) "--log-level";
        argv[n++] = (char *) "debug";
        /* Any free port: test programs run side by side. */
        argv[n++] = (char *) "--metrics-address";
        argv[n++] = (char *) "127.0.0.1:0";
        argv[n++] = (char *) "--trust-dir";
        argv[n++] = h->trust_dir;
        if (h->domain_type) {
                argv[n++] = (char *) "--domain-type";
                argv[n++] = h->domain_type;
        }
        va_start(ap, h);
        while ((extra = va_arg(ap, const char *)) && n < ELEMENTSOF(argv) - 1)
                argv[n++] = (char *) extra;
        va_end(ap);
        argv[n] = NULL;

        {
                FILE *f = fopen(h->arkd_log, "a");
                if (f) {
                        fprintf(f, "==== harness: starting arkd (start #%u)\n", h->arkd_starts + 1);
                        fclose(f);
                }
        }
        h->arkd_pid = spawn_in(argv, h->arkd_log, h->arkd_log, h->netns);
        if (h->arkd_pid < 0)
                return h->arkd_pid;
        h->arkd_starts++;

        bus = harness_bus(h);
        if (!bus)
                return -ENOTCONN;
        for (usec_t end = harness_wait_deadline(); !harness_wait_over(end);) {
                sd_bus_message *reply = NULL;
                uint32_t owner_pid = 0;
                int has = 0, r;

                if (!harness_arkd_alive(h)) {
                        fprintf(stderr, "harness: arkd exited during start-up\n");
                        harness_dump_log(h);
                        return -1;
                }
                /* The name's owner must be this arkd: after a kill -9 the bus may still show the
                 * dead one's for a moment. */
                r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "GetConnectionUnixProcessID", NULL, &reply,
                                       "s", ARK_BUS_NAME);
                if (r >= 0 && sd_bus_message_read(reply, "u", &owner_pid) >= 0 &&
                    (pid_t) owner_pid == h->arkd_pid)
                        has = 1;
                sd_bus_message_unref(reply);
                if (has)
                        return 0;
                sleep_ms(50);
        }
        fprintf(stderr, "harness: arkd did not take %s within %llu s\n", ARK_BUS_NAME,
                HARNESS_WAIT_USEC / USEC_PER_SEC);
        harness_dump_log(h);
        return -1;
}

/* Puts `value` before the variable's value (joined by ':') and returns the old value, newly
 * allocated (NULL when unset), in *ret_old for env_restore(). */
static int env_prepend(const char *name, const char *value, char **ret_old) {
        const char *old = getenv(name);
        _cleanup_free_ char *v = isempty(old) ? strdup(value) : strprintf("%s:%s", value, old);
        _cleanup_free_ char *saved = old ? strdup(old) : NULL;

        if (!v || (old && !saved))
                return -ENOMEM;
        if (setenv(name, v, 1) < 0)
                return -errno;
        *ret_old = TAKE_PTR(saved);
        return 0;
}

static void env_restore(const char *name, char *old) {
        if (old)
                (void) setenv(name, old, 1);
        else
                (void) unsetenv(name);
        free(old);
}

int harness_start_arkd_with(Harness *h, const char *lib, const char *setting) {
        _cleanup_free_ char *path = strprintf("%s/tests/%s", harness_build_dir(), lib), *name = NULL;
        char *old_preload = NULL, *old_asan = NULL, *old_setting = NULL;
        const char *eq = strchr(setting, '=');
        int r;

        if (!path || !eq)
                return -EINVAL;
        if (access(path, R_OK) < 0) {
                fprintf(stderr, "harness: %s is missing (make %s)\n", path, path);
                return -ENOENT;
        }
        name = strndup(setting, (size_t) (eq - setting));
        if (!name || (getenv(name) && !(old_setting = strdup(getenv(name)))))
                return -ENOMEM;
        r = env_prepend("LD_PRELOAD", path, &old_preload);
        if (r < 0) {
                free(old_setting);
                return r;
        }
        /* In an ASan build, the runtime would refuse a library loaded ahead of it. */
        r = env_prepend("ASAN_OPTIONS", "verify_asan_link_order=0", &old_asan);
        if (r >= 0) {
                r = setenv(name, eq + 1, 1) < 0 ? -errno : harness_start_arkd(h, NULL);
                env_restore("ASAN_OPTIONS", old_asan);
        }
        env_restore("LD_PRELOAD", old_preload);
        env_restore(name, old_setting);
        return r;
}

int harness_stop_arkd(Harness *h, int sig) {
        int r;

        if (h->arkd_pid <= 0)
                return -ESRCH;
        kill(h->arkd_pid, sig);
        r = wait_status(h->arkd_pid);
        h->arkd_pid = 0;
        return r;
}

void harness_teardown(Harness *h) {
        if (h->arkd_pid > 0) {
                kill(h->arkd_pid, SIGTERM);
                (void) wait_status(h->arkd_pid);
        }
        h->bus = sd_bus_flush_close_unref(h->bus);
        if (h->bus_pid > 0) {
                kill(h->bus_pid, SIGTERM);
                (void) wait_status(h->bus_pid);
        }
        if (h->own_netns[0])
                (void) harness_sh(NULL, NULL, "ip netns del %s", h->own_netns);
        if (h->tmp && !getenv("ARK_TEST_KEEP"))
                (void) rm_rf(h->tmp);
        else if (h->tmp)
                fprintf(stderr, "harness: kept %s\n", h->tmp);
        free(h->tmp);
        free(h->bus_address);
        free(h->state_dir);
        free(h->fixture);
        free(h->libvirt_uri);
        free(h->sysfs_root);
        free(h->domain_type);
        free(h->arkd_log);
        free(h->trust_dir);
        *h = (Harness) {};
}

static int run_captured(Harness *h, char *const argv[], char **ret_out, char **ret_err) {
        static unsigned counter;
        _cleanup_free_ char *o = NULL, *e = NULL;
        const char *dir = h && h->tmp ? h->tmp : "/tmp";
        pid_t pid;
        int r;

        counter++;
        o = strprintf("%s/out.%d.%u", dir, (int) getpid(), counter);
        e = strprintf("%s/err.%d.%u", dir, (int) getpid(), counter);
        if (!o || !e)
                return -ENOMEM;
        pid = spawn(argv, o, e);
        if (pid < 0)
                return pid;
        r = wait_status(pid);
        if (ret_out && read_full_file(o, ret_out, NULL) < 0)
                *ret_out = strdup("");
        if (ret_err && read_full_file(e, ret_err, NULL) < 0)
                *ret_err = strdup("");
        unlink(o);
        unlink(e);
        return r;
}

int harness_arkctl_argv(Harness *h, char **ret_out, char **ret_err, char *const *args) {
        _cleanup_free_ char *arkctl = strprintf("%s/bin/arkctl", harness_build_dir());
        char *argv[64];
        size_t n = 0;

        if (!arkctl)
                return -ENOMEM;
        argv[n++] = arkctl;
        for (; *args && n < ELEMENTSOF(argv) - 1; args++)
                argv[n++] = *args;
        argv[n] = NULL;
        return run_captured(h, argv, ret_out, ret_err);
}

int harness_arkctl(Harness *h, char **ret_out, char **ret_err, ...) {
        char *args[64];
        size_t n = 0;
        const char *a;
        va_list ap;

        va_start(ap, ret_err);
        while ((a = va_arg(ap, const char *)) && n < ELEMENTSOF(args) - 1)
                args[n++] = (char *) a;
        va_end(ap);
        args[n] = NULL;
        return harness_arkctl_argv(h, ret_out, ret_err, args);
}

json_t *harness_arkctl_json(Harness *h, ...) {
        _cleanup_free_ char *out = NULL, *err = NULL;
        char *args[64];
        size_t n = 0;
        const char *a;
        json_error_t jerr;
        json_t *j;
        va_list ap;
        int r;

        args[n++] = (char *) "-o";
        args[n++] = (char *) "json";
        va_start(ap, h);
        while ((a = va_arg(ap, const char *)) && n < ELEMENTSOF(args) - 1)
                args[n++] = (char *) a;
        va_end(ap);
        args[n] = NULL;
        r = harness_arkctl_argv(h, &out, &err, args);
        if (r != 0) {
                fprintf(stderr, "harness: arkctl %s exited %d: %s\n", args[2], r, strna(err));
                return NULL;
        }
        j = json_loads(out, 0, &jerr);
        if (!j)
                fprintf(stderr, "harness: arkctl output is not JSON (%s): %s\n", jerr.text, strna(out));
        return j;
}

int harness_sh(char **ret_out, char **ret_err, const char *fmt, ...) {
        _cleanup_free_ char *cmd = NULL;
        char *argv[4];
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&cmd, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        argv[0] = (char *) "sh";
        argv[1] = (char *) "-c";
        argv[2] = cmd;
        argv[3] = NULL;
        return run_captured(NULL, argv, ret_out, ret_err);
}

char *harness_get_string(Harness *h, const char *path, const char *iface, const char *prop) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        char *s = NULL;
        int r;

        r = sd_bus_get_property_string(harness_bus(h), ARK_BUS_NAME, path, iface, prop, &e, &s);
        if (r < 0) {
                fprintf(stderr, "harness: cannot read %s.%s on %s: %s\n", iface, prop, path,
                        e.message ?: strerror(-r));
                sd_bus_error_free(&e);
                return NULL;
        }
        return s;
}

char *harness_instance_path(Harness *h, const char *name) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        const char *path;
        int r;

        r = sd_bus_call_method(harness_bus(h), ARK_BUS_NAME, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER,
                               "GetInstance", &e, &reply, "s", name);
        if (r >= 0)
                r = sd_bus_message_read(reply, "o", &path);
        if (r < 0) {
                fprintf(stderr, "harness: no instance '%s': %s\n", name, e.message ?: strerror(-r));
                sd_bus_error_free(&e);
                return NULL;
        }
        return strdup(path);
}

const char *harness_in_netns(Harness *h) {
        if (!h->netns)
                return "";
        snprintf(h->netns_exec, sizeof(h->netns_exec), "nsenter --net=%s ", h->netns);
        return h->netns_exec;
}

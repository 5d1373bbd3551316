#pragma once

/* Integration test harness: a private dbus-daemon, arkd on a fixture host (libvirt test driver by
 * default), arkctl runs with captured output, and a client bus connection. Used by every
 * tests/integration/test-*.c program. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>
#include <systemd/sd-bus.h>

typedef struct Harness {
        char *tmp; /* private temp dir, removed on teardown */
        char *bus_address;
        pid_t bus_pid;
        pid_t arkd_pid;
        char *state_dir;   /* kept across arkd restarts */
        char *fixture;     /* tests/fixtures/hosts/<name> */
        char *libvirt_uri; /* default test://<fixture>/host.xml; tests may replace it */
        char *sysfs_root;  /* default <fixture>/sysfs (read only); see harness_writable_sysfs() */
        char *domain_type; /* NULL = auto */
        char *arkd_log;
        char *trust_dir; /* <tmp>/trust.d: arkd's --trust-dir, and $ARK_TRUST_DIR for arkctl */
        unsigned arkd_starts;
        const char *extra_conf; /* appended to arkd's ark.conf at each start ("[Daemon]\nX=y\n"); borrowed */
        /* Tenant networks: arkd runs in this network namespace (a file such as /run/netns/NAME).
         * harness_setup() makes one of its own when it runs as root (removed by teardown); a test
         * may name another, or NULL for the machine's own (a real libvirtd's taps). arkd makes
         * each new tenant a default network only when default_networks is set
         * (DefaultTenantNetwork=; off by default in tests, unless a test's own --config says so).
         * Borrowed. */
        const char *netns;
        char own_netns[48], own_netns_path[80], netns_exec[128];
        bool default_networks;
        /* A command arkd is started through ("setpriv", "--bounding-set", "-net_admin", NULL): at
         * most 8 words; NULL = none. Borrowed. */
        char *const *wrap;
        sd_bus *bus;
} Harness;

const char *harness_src_dir(void);
const char *harness_build_dir(void);

/* Creates the temp dir and starts the bus. No arkd yet. Returns 0 or negative errno. */
int harness_setup(Harness *h, const char *host);
/* Makes the sysfs root a private copy of the fixture's, for tests where arkd writes to sysfs (the
 * repository's fixtures stay as they are). Takes effect at the next harness_start_arkd(). */
int harness_writable_sysfs(Harness *h);
/* Starts arkd and waits (up to 30 s) until it owns org.ark.Ark1. Extra arkd arguments may follow,
 * NULL-terminated. Returns 0, or -1 when arkd died or did not become ready (its log is printed). */
int harness_start_arkd(Harness *h, ...);
/* Starts arkd as harness_start_arkd() does, with tests/<lib> (a fake at an edge, built beside the
 * tests: slow-import.so) preloaded and `setting` ("NAME=value", which that library reads) in arkd's
 * environment. The test's own environment is as before when this returns. */
int harness_start_arkd_with(Harness *h, const char *lib, const char *setting);
/* Sends sig to arkd and reaps it. Returns its exit status (0..255), 128+signal when killed. */
int harness_stop_arkd(Harness *h, int sig);
bool harness_arkd_alive(Harness *h);

/* A wait for a condition ends at harness_wait_deadline(): a bound long enough for a machine busy
 * on every core, so that only a broken component reaches it. Loop while !harness_wait_over(d). */
uint64_t harness_wait_deadline(void);
bool harness_wait_over(uint64_t deadline);
void harness_teardown(Harness *h);

/* Runs build/bin/arkctl with ARK_BUS_ADDRESS set to the harness bus; args NULL-terminated. Returns
 * the exit status and (when non-NULL) newly allocated stdout and stderr. */
int harness_arkctl(Harness *h, char **ret_out, char **ret_err, ...);
/* Same with a NULL-terminated argv array. */
int harness_arkctl_argv(Harness *h, char **ret_out, char **ret_err, char *const *args);
/* Runs `arkctl -o json ARGS...`, expects exit 0 and parses stdout. NULL on failure (printed). */
json_t *harness_arkctl_json(Harness *h, ...);

/* Runs a shell command line (sh -c) and returns its exit status, with output captured like
 * harness_arkctl(). */
int harness_sh(char **ret_out, char **ret_err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A client connection to the harness bus (owned by h). */
sd_bus *harness_bus(Harness *h);

/* Property helpers on org.ark.Ark1 objects. Return newly allocated strings / values; abort the test
 * on failure. */
char *harness_get_string(Harness *h, const char *path, const char *iface, const char *prop);

/* "nsenter --net=PATH " when arkd runs in a network namespace of its own, else "": the prefix of
 * a shell command that must reach arkd over the network (its metrics on 127.0.0.1). */
const char *harness_in_netns(Harness *h);

/* The object path of instance `name` (NAME or TENANT/NAME), as arkd answers GetInstance to root;
 * NULL (printed) when there is none. Paths are arkd's to make (instance/<tenant>/<name>). */
char *harness_instance_path(Harness *h, const char *name);

/* Prints the last lines of arkd's log (for failing tests). */
void harness_dump_log(Harness *h);

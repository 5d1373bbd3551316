/* ark-seed: applies an integrator's seed.conf once, on first boot (ark-seed.service,
 * docs/flashing.md). The seed is read from a partition labelled ARK-SEED (mounted read-only for
 * the purpose) or from --seed-dir; everything is checked before anything is written, and the
 * marker /var/lib/ark/seed.applied is written last, so a seed with a mistake changes nothing and
 * is tried again on the next boot once fixed. A first boot without a seed partition writes the
 * marker too: a seed plugged in later is not applied. */

#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "seed.h"
#include "basic/dirent-util.h"
#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "shared/crypto.h"
#include "shared/trust.h"

static const char *arg_device = "/dev/disk/by-label/ARK-SEED";
static const char *arg_seed_dir = NULL;
static const char *arg_root = "";
static const char *arg_user = "admin";
static const char *arg_marker = "/var/lib/ark/seed.applied";
static const char *arg_trust_dir = CONFIG_DEFAULT_TRUST_DIR;
static unsigned arg_wait = 10;

static char *rooted(const char *path) {
        return strprintf("%s%s", arg_root, path);
}

/* The first physical NIC (one with a device behind it, not wireless), by name. */
static int first_nic(char buf[static IF_NAMESIZE]) {
        _cleanup_free_ char *dir = rooted("/sys/class/net");
        char **names = NULL;
        int r = dir ? dir_list_names(dir, &names) : -ENOMEM;

        if (r < 0)
                return r;
        r = -ENODEV;
        for (char **n = names; *n; n++) {
                _cleanup_free_ char *dev = strprintf("%s/%s/device", dir, *n),
                                    *wl = strprintf("%s/%s/wireless", dir, *n);

                if (r < 0 && dev && wl && file_exists(dev) && !file_exists(wl) && strlen(*n) < IF_NAMESIZE) {
                        snprintf(buf, IF_NAMESIZE, "%s", *n);
                        r = 0;
                }
        }
        for (char **n = names; *n; n++)
                free(*n);
        free(names);
        return r;
}

static int write_file(const char *path, const char *text, mode_t mode) {
        _cleanup_free_ char *p = rooted(path), *dir = NULL;
        char *slash;
        int r;

        if (!p || !(dir = strdup(p)))
                return -ENOMEM;
        slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = 0;
                (void) mkdir_p(dir, 0755);
        }
        r = write_string_file(p, text, WRITE_CREATE | WRITE_ATOMIC);
        if (r >= 0 && chmod(p, mode) < 0)
                r = -errno;
        if (r < 0)
                fprintf(stderr, "ark-seed: cannot write %s: %s\n", p, strerror(-r));
        return r;
}

int main(int argc, char *argv[]) {
        enum {
                ARG_DEVICE = 0x100,
                ARG_SEED_DIR,
                ARG_ROOT,
                ARG_USER,
                ARG_MARKER,
                ARG_TRUST,
                ARG_WAIT
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "device", required_argument, NULL, ARG_DEVICE },
                { "seed-dir", required_argument, NULL, ARG_SEED_DIR },
                { "root", required_argument, NULL, ARG_ROOT },
                { "user", required_argument, NULL, ARG_USER },
                { "marker", required_argument, NULL, ARG_MARKER },
                { "trust-dir", required_argument, NULL, ARG_TRUST },
                { "wait", required_argument, NULL, ARG_WAIT },
                {},
        };
        _cleanup_free_ char *conf = NULL, *text = NULL, *err = NULL, *marker = NULL, *keys = NULL;
        char *pems[SEED_MAX_KEYS] = {};
        size_t pem_sizes[SEED_MAX_KEYS] = {};
        const char *dir;
        bool mounted = false;
        Seed s = {};
        size_t n;
        int c, r, ret = 1;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        printf("ark-seed: applies seed.conf from a partition labelled ARK-SEED once (docs/flashing.md).\n\n"
                               "  --device PATH    the seed partition (default %s)\n"
                               "  --seed-dir DIR   read DIR/seed.conf instead of mounting a partition\n"
                               "  --root DIR       apply to the system under DIR (tests)\n"
                               "  --user NAME      the admin account that gets AdminKey= (default admin)\n"
                               "  --marker PATH    written once applied (default %s)\n"
                               "  --trust-dir DIR  trusted bundle keys (default %s)\n"
                               "  --wait SECONDS   how long the first boot waits for the partition (default %u)\n",
                               arg_device, arg_marker, arg_trust_dir, arg_wait);
                        return 0;
                case ARG_DEVICE:
                        arg_device = optarg;
                        break;
                case ARG_SEED_DIR:
                        arg_seed_dir = optarg;
                        break;
                case ARG_ROOT:
                        arg_root = optarg;
                        break;
                case ARG_USER:
                        arg_user = optarg;
                        break;
                case ARG_MARKER:
                        arg_marker = optarg;
                        break;
                case ARG_TRUST:
                        arg_trust_dir = optarg;
                        break;
                case ARG_WAIT: {
                        char *end;
                        unsigned long w = strtoul(optarg, &end, 10);

                        if (*end || end == optarg || w > 300) {
                                fprintf(stderr, "ark-seed: --wait: '%s' is not 0 to 300 seconds\n", optarg);
                                return 2;
                        }
                        arg_wait = (unsigned) w;
                        break;
                }
                default:
                        return 2;
                }
        marker = rooted(arg_marker);
        if (!marker)
                return 1;
        if (file_exists(marker)) {
                printf("ark-seed: the seed was applied already (%s).\n", marker);
                return 0;
        }
        dir = arg_seed_dir;
        if (!dir) {
                static const char *const types[] = { "vfat", "ext4", "iso9660", "exfat" };

                /* A USB stick may show up a moment after udev settled: this is its one chance. */
                for (unsigned k = 0; k < arg_wait * 4 && access(arg_device, F_OK) < 0; k++)
                        usleep(250 * 1000);
                if (access(arg_device, F_OK) < 0) {
                        /* A seed is for the first boot only: a stick plugged in later must not add
                         * trusted keys or admin keys to a running appliance. */
                        printf("ark-seed: no seed partition (%s); none will be taken from now on.\n",
                               arg_device);
                        r = write_file(arg_marker, "none: no seed partition on the first boot\n", 0644);
                        if (r < 0) {
                                fprintf(stderr, "ark-seed: cannot write %s: %s\n", marker, strerror(-r));
                                return 1;
                        }
                        return 0;
                }
                dir = "/run/ark-seed";
                (void) mkdir_p(dir, 0700);
                r = -ENODEV;
                for (size_t k = 0; k < ELEMENTSOF(types) && r < 0; k++)
                        r = mount(arg_device, dir, types[k], MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                                  NULL) < 0
                                ? -errno
                                : 0;
                if (r < 0) {
                        fprintf(stderr,
                                "ark-seed: cannot mount %s read-only (vfat, ext4, iso9660, exfat): %s\n",
                                arg_device, strerror(-r));
                        return 1;
                }
                mounted = true;
        }
        conf = path_join(dir, "seed.conf");
        r = conf ? read_full_file(conf, &text, &n) : -ENOMEM;
        if (r < 0) {
                fprintf(stderr, "ark-seed: cannot read %s: %s\n", strna(conf), strerror(-r));
                goto out;
        }
        r = seed_parse(text, n, &s, &err);
        if (r < 0) {
                fprintf(stderr, "ark-seed: %s; nothing was applied.\n", err ?: strerror(-r));
                goto out;
        }
        /* Everything read and checked before the first write. */
        for (size_t k = 0; k < s.n_trust_keys; k++) {
                _cleanup_free_ char *p = path_join(dir, s.trust_keys[k]);
                ArkKey *key = NULL;

                r = p ? read_full_file(p, &pems[k], &pem_sizes[k]) : -ENOMEM;
                if (r < 0) {
                        fprintf(stderr, "ark-seed: TrustKey %s: %s; nothing was applied.\n", s.trust_keys[k],
                                strerror(-r));
                        goto out;
                }
                r = ark_key_parse_public(s.trust_keys[k], pems[k], pem_sizes[k], &key, &err);
                if (r < 0) {
                        fprintf(stderr, "ark-seed: TrustKey %s: %s; nothing was applied.\n", s.trust_keys[k],
                                err ?: "not an Ed25519 public key (PEM)");
                        goto out;
                }
                ark_key_free(key);
        }
        if (s.has_net && isempty(s.net.iface) && first_nic(s.net.iface) < 0) {
                fprintf(stderr,
                        "ark-seed: the seed sets a network but names no Interface=, and this machine has no "
                        "wired NIC; nothing was applied.\n");
                r = -ENODEV;
                goto out;
        }
        if (s.n_admin_keys > 0 && !getpwnam(arg_user)) {
                fprintf(stderr, "ark-seed: AdminKey: there is no user %s; nothing was applied.\n", arg_user);
                r = -ENOENT;
                goto out;
        }

        if (s.hostname[0]) {
                _cleanup_free_ char *line = strprintf("%s\n", s.hostname);

                if ((r = write_file("/etc/hostname", line, 0644)) < 0)
                        goto out;
                if (!*arg_root && sethostname(s.hostname, strlen(s.hostname)) < 0)
                        fprintf(stderr, "ark-seed: the host name applies from the next boot: %s\n",
                                strerror(errno));
                printf("Hostname: %s\n", s.hostname);
        }
        if (s.has_net) {
                _cleanup_free_ char *path = strprintf("/etc/systemd/network/%s", NETCONF_FILE),
                                    *net = netconf_format(&s.net);

                if (!path || !net || (r = write_file(path, net, 0644)) < 0)
                        goto out;
                printf("Management network: %s, %s\n", s.net.iface, s.net.dhcp ? "DHCP" : s.net.address);
        }
        if (s.n_admin_keys > 0) {
                struct passwd *pw = getpwnam(arg_user);
                _cleanup_free_ char *path = strprintf("%s/.ssh/authorized_keys", pw->pw_dir), *old = NULL,
                                    *sshdir = NULL, *full = NULL;
                size_t on = 0;

                keys = strdup("");
                if (path && (full = rooted(path)))
                        (void) read_full_file(full, &old, &on);
                for (size_t k = 0; keys && k < s.n_admin_keys; k++)
                        if (!old || !strstr(old, s.admin_keys[k])) {
                                char *more = strprintf("%s%s\n", keys, s.admin_keys[k]);
                                free(keys);
                                keys = more;
                        }
                if (!keys || !path) {
                        r = -ENOMEM;
                        goto out;
                }
                {
                        _cleanup_free_ char *all = strprintf(
                                "%s%s%s", strempty(old), old && on && old[on - 1] != '\n' ? "\n" : "", keys);
                        if (!all || (r = write_file(path, all, 0600)) < 0)
                                goto out;
                }
                sshdir = strprintf("%s%s/.ssh", arg_root, pw->pw_dir);
                if (sshdir &&
                    (chown(sshdir, pw->pw_uid, pw->pw_gid) < 0 || chown(full, pw->pw_uid, pw->pw_gid) < 0))
                        fprintf(stderr, "ark-seed: cannot give %s to %s: %s\n", full, arg_user,
                                strerror(errno));
                printf("Admin SSH keys: %zu for %s\n", s.n_admin_keys, arg_user);
        }
        for (size_t k = 0; k < s.n_trust_keys; k++) {
                _cleanup_free_ char *tdir = rooted(arg_trust_dir), *e = NULL;
                char id[KEY_ID_HEX];

                r = tdir ? trust_add(tdir, s.trust_keys[k], pems[k], pem_sizes[k], id, &e) : -ENOMEM;
                if (r == -EEXIST)
                        r = 0;
                if (r < 0) {
                        fprintf(stderr, "ark-seed: TrustKey %s: %s\n", s.trust_keys[k], e ?: strerror(-r));
                        goto out;
                }
                printf("Trusted bundle key: %s\n", s.trust_keys[k]);
        }
        if (s.locale[0]) {
                _cleanup_free_ char *line = strprintf("LANG=%s\n", s.locale);

                if (!line || (r = write_file("/etc/default/locale", line, 0644)) < 0)
                        goto out;
                printf("Locale: %s\n", s.locale);
        }
        {
                _cleanup_free_ char *sum = strprintf("applied from %s\n", arg_seed_dir ? conf : arg_device);

                r = sum ? write_file(arg_marker, sum, 0644) : -ENOMEM;
        }
        if (r >= 0)
                ret = 0;
out:
        for (size_t k = 0; k < SEED_MAX_KEYS; k++)
                free(pems[k]);
        seed_done(&s);
        if (mounted)
                (void) umount(dir);
        return ret;
}

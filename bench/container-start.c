/* bench/container-start: Ark's create-to-running time of a container against a plain `crun run -d`
 * of the same bundle, in the same run (issue 18, acceptance 9; goal: at most 1.5x and under
 * 300 ms). See bench/README.md.
 *
 *   container-start [--runs N]      (default 10)
 *
 * As root, with crun, conmon and busybox-static. A one-layer busybox image is made in a
 * temporary directory (removed at the end). Each run, taking turns:
 *   - Ark: runtime_prepare() (the idmapped overlay mounted, config.json written) and
 *     runtime_start() (conmon, crun create, crun start) of a new container, timed until
 *     runtime_start() returns with the container running; then deleted (not timed);
 *   - crun: `crun run -d` of a bundle Ark prepared once (its root filesystem already mounted and
 *     its config written: crun's own work only), timed until it returns; then deleted.
 * On a hybrid-cgroup host both run crun in a private mount namespace with the cgroup v2 mount
 * hidden, made the same way (fork, unshare, umount), so the trick costs both sides alike.
 * The medians and their ratio are printed; the exit status is 0 whatever the ratio (benchmarks
 * report, they do not judge), 1 when it could not run. */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "runtime.h"

#define UID_BASE 400000
#define ID_COUNT 65536

static double now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
        qsort(v, (size_t) n, sizeof(double), cmp_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* crun with args, as the runtime runs it (runtime.c's child_setup): on a hybrid host in a private
 * mount namespace without the v2 mount. Its exit status. */
static int crun(CgroupMode mode, const char *root, char *const args[]) {
        char *argv[16] = { "/usr/bin/crun", NULL, "--cgroup-manager=cgroupfs" };
        _cleanup_free_ char *root_opt = strprintf("--root=%s", root);
        size_t n = 3;
        int status;

        argv[1] = root_opt;
        for (; *args && n < ELEMENTSOF(argv) - 1; args++)
                argv[n++] = *args;
        argv[n] = NULL;
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                if (mode == CGROUP_MODE_HYBRID &&
                    (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
                     umount2("/sys/fs/cgroup/unified", MNT_DETACH) < 0))
                        _exit(125);
                int null = open("/dev/null", O_RDWR);
                dup2(null, 0);
                dup2(null, 1);
                execv(argv[0], argv);
                _exit(127);
        }
        if (waitpid(pid, &status, 0) < 0)
                return -errno;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -ECHILD;
}

static int make_layer(const char *layer) {
        _cleanup_free_ char *bin = path_join(layer, "bin"), *bb = path_join(bin, "busybox"), *data = NULL;
        static const char *const dirs[] = { "proc", "sys", "dev", "tmp", "etc" };
        size_t size;

        if (!bin || !bb || mkdir_p(bin, 0755) < 0 || read_full_file("/bin/busybox", &data, &size) < 0)
                return -1;
        _cleanup_close_ int fd = open(bb, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
        if (fd < 0 || loop_write(fd, data, size) < 0)
                return -1;
        for (const char *const *a = (const char *const[]) { "sh", "sleep", NULL }; *a; a++) {
                _cleanup_free_ char *p = path_join(bin, *a);
                if (!p || symlink("busybox", p) < 0)
                        return -1;
        }
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                _cleanup_free_ char *p = path_join(layer, dirs[i]);
                if (!p || mkdir(p, 0755) < 0)
                        return -1;
        }
        return 0;
}

int main(int argc, char *argv[]) {
        static const struct option options[] = { { "runs", required_argument, NULL, 'r' },
                                                 { "help", no_argument, NULL, 'h' },
                                                 {} };
        char tmp[] = "/tmp/bench-ct-XXXXXX";
        int runs = 10, c, rc = 1;
        Runtime *rt = NULL;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'r':
                        runs = atoi(optarg);
                        if (runs < 1 || runs > 1000) {
                                fprintf(stderr, "container-start: --runs takes 1 to 1000\n");
                                return 1;
                        }
                        break;
                case 'h':
                        printf("container-start [--runs N]: Ark's create-to-running time against crun run -d\n");
                        return 0;
                default:
                        return 1;
                }
        if (geteuid() != 0) {
                fprintf(stderr, "container-start: needs root (user namespaces, mounts, cgroups)\n");
                return 1;
        }
        if (access("/usr/bin/crun", X_OK) < 0 || access("/usr/bin/conmon", X_OK) < 0 ||
            access("/bin/busybox", R_OK) < 0) {
                fprintf(stderr,
                        "container-start: needs crun, conmon and busybox-static (Debian packages)\n");
                return 1;
        }
        if (!mkdtemp(tmp) || chmod(tmp, 0711) < 0) {
                fprintf(stderr, "container-start: cannot make a temporary directory: %m\n");
                return 1;
        }
        _cleanup_free_ char *layer = path_join(tmp, "layer"), *base = path_join(tmp, "ct"), *err = NULL;
        _cleanup_free_ char *plain_root = path_join(tmp, "crun-root"), *plain_bundle = NULL;
        double *ark = calloc((size_t) runs, sizeof(double)), *plain = calloc((size_t) runs, sizeof(double));
        char *const layers[] = { layer, NULL };
        ContainerSpec spec = {
                .oci = { .args = (char *const[]) { "sleep", "1000", NULL },
                         .host_uid_base = UID_BASE,
                         .host_gid_base = UID_BASE,
                         .id_count = ID_COUNT,
                         .memory_bytes = 256 << 20,
                         .pids_max = 64,
                         .cpu_milli = 1000 },
                .layers = layers,
        };
        RuntimeConfig config = { .base_dir = base };

        if (!layer || !base || !plain_root || !ark || !plain || make_layer(layer) < 0 ||
            mkdir_p(plain_root, 0700) < 0) {
                fprintf(stderr, "container-start: cannot make the image\n");
                goto out;
        }
        int r = runtime_new(&config, &rt);
        if (r < 0) {
                fprintf(stderr, "container-start: runtime: %s\n", strerror(-r));
                goto out;
        }
        /* The plain crun's bundle: prepared by Ark once, so both start the same config and tree. */
        r = runtime_prepare(rt, "plain", &spec, &err);
        if (r < 0) {
                fprintf(stderr, "container-start: %s\n", strna(err));
                goto out;
        }
        plain_bundle = path_join(base, "plain");

        for (int i = 0; i < runs; i++) {
                char id[32];
                snprintf(id, sizeof(id), "ark%d", i);

                double t0 = now_ms();
                r = runtime_prepare(rt, id, &spec, &err);
                if (r >= 0)
                        r = runtime_start(rt, id, &err);
                ark[i] = now_ms() - t0;
                if (r < 0) {
                        fprintf(stderr, "container-start: Ark's start failed: %s\n", strna(err));
                        goto out;
                }
                (void) runtime_delete(rt, id, false, NULL);

                t0 = now_ms();
                r = crun(runtime_cgroup_mode(rt), plain_root,
                         (char *const[]) { "run", "-d", "--bundle", plain_bundle, "plain", NULL });
                plain[i] = now_ms() - t0;
                if (r != 0) {
                        fprintf(stderr, "container-start: crun run -d failed (%d)\n", r);
                        goto out;
                }
                (void) crun(runtime_cgroup_mode(rt), plain_root,
                            (char *const[]) { "delete", "--force", "plain", NULL });
        }

        double a = median(ark, runs), p = median(plain, runs);
        printf("container-start: %d runs, cgroup %s (%s)\n", runs,
               runtime_cgroup_mode(rt) == CGROUP_MODE_UNIFIED ? "v2"
                       : runtime_cgroup_mode(rt) == CGROUP_MODE_HYBRID
                       ? "hybrid (v1 in a private mount namespace)"
                       : "v1",
               runtime_cgroup_manager(rt));
        printf("  ark  create-to-running (prepare + start, conmon): median %.1f ms (min %.1f, max %.1f)\n",
               a, ark[0], ark[runs - 1]);
        printf("  crun run -d (same bundle, rootfs mounted):         median %.1f ms (min %.1f, max %.1f)\n",
               p, plain[0], plain[runs - 1]);
        printf("  ratio %.2fx (goal <= 1.5x: %s); Ark under 300 ms: %s\n", a / p,
               a / p <= 1.5 ? "met" : "not met", a < 300 ? "yes" : "no");
        rc = 0;
out:
        if (rt) {
                (void) runtime_delete(rt, "plain", false, NULL);
                for (int i = 0; i < runs; i++) {
                        char id[32];
                        snprintf(id, sizeof(id), "ark%d", i);
                        (void) runtime_delete(rt, id, false, NULL);
                }
        }
        if (plain_bundle)
                (void) crun(runtime_cgroup_mode(rt), plain_root,
                            (char *const[]) { "delete", "--force", "plain", NULL });
        rt = runtime_free(rt);
        (void) rm_rf(tmp);
        free(ark);
        free(plain);
        return rc;
}

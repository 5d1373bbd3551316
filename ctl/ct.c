/* arkctl ct create | list | show | start | stop | delete | exec | logs: containers. Most verbs are
 * the VM verbs (vm.c) with the instance type set to "container"; create, exec and logs are their
 * own. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arkctl.h"
#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "basic/time-util.h"
#include "shared/bus-util.h"

extern const char *ctl_instance_type; /* vm.c */

static int append_strv_entry(sd_bus_message *m, const char *key, char **l) {
        int r;

        r = sd_bus_message_open_container(m, 'e', "sv");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", key);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'v', "as");
        if (r >= 0)
                r = sd_bus_message_append_strv(m, l);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return r;
}

/* ct create NAME [-- CMD...] */
int verb_ct_create(char **args) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        const char *name = args[0];
        char **cmd = args + 1;
        int r;

        if (isempty(arg_tenant))
                return usage_error("--tenant: the tenant name may not be empty");
        if (isempty(arg_image))
                return usage_error("--image: give the container image as NAME or NAME@VERSION");
        for (char **e = arg_env; e && *e; e++)
                if (!strchr(*e, '=') || **e == '=')
                        return usage_error("--env: '%s' is not KEY=VALUE", *e);
        if ((arg_gpu_share > 0) != (arg_gpu_memory > 0))
                return usage_error(
                        "--gpu-share and --gpu-memory go together: a share is a fraction of a GPU's "
                        "compute and an amount of its memory");

        r = ctl_bus_open(&bus);
        if (r < 0)
                return r;
        r = ctl_new_call(bus, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "CreateInstance", &m);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0)
                r = sd_bus_message_append(m, "{sv}{sv}{sv}{sv}", "Name", "s", name, "Tenant", "s",
                                          arg_tenant, "Type", "s", "container", "Image", "s", arg_image);
        if (r >= 0 && arg_cpus_given)
                r = sd_bus_message_append(m, "{sv}", "VCPUs", "u", arg_vcpus);
        if (r >= 0 && (arg_given & OPT_MEMORY))
                r = sd_bus_message_append(m, "{sv}", "MemoryBytes", "t", arg_memory);
        if (r >= 0 && (arg_given & OPT_DISK))
                r = sd_bus_message_append(m, "{sv}", "DiskBytes", "t", arg_disk);
        if (r >= 0 && (arg_given & OPT_GPUS))
                r = sd_bus_message_append(m, "{sv}", "GPUs", "u", arg_gpus);
        if (r >= 0 && arg_gpu_model)
                r = sd_bus_message_append(m, "{sv}", "GPUModel", "s", arg_gpu_model);
        if (r >= 0 && arg_mig)
                r = sd_bus_message_append(m, "{sv}", "MIGProfile", "s", arg_mig);
        if (r >= 0 && arg_gpu_share > 0)
                r = sd_bus_message_append(m, "{sv}", "GPUShareMilli", "u", arg_gpu_share);
        if (r >= 0 && arg_gpu_memory > 0)
                r = sd_bus_message_append(m, "{sv}", "GPUMemoryBytes", "t", arg_gpu_memory);
        if (r >= 0 && arg_networks)
                r = append_strv_entry(m, "Networks", arg_networks);
        if (r >= 0 && arg_env)
                r = append_strv_entry(m, "Env", arg_env);
        if (r >= 0 && *cmd)
                r = append_strv_entry(m, "Args", cmd);
        if (r >= 0 && arg_model)
                r = sd_bus_message_append(m, "{sv}", "Model", "s", arg_model);
        if (r >= 0 && arg_preemptible)
                r = sd_bus_message_append(m, "{sv}", "Preemptible", "b", 1);
        if (r >= 0 && arg_start)
                r = sd_bus_message_append(m, "{sv}", "Start", "b", 1);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                return ctl_log_call_error(r, NULL, "CreateInstance");
        r = ctl_send(bus, m, CTL_SLOW_CALL_USEC, NULL);
        if (r < 0)
                return r;
        ctl_instance_type = "container";
        if (arg_output == OUTPUT_JSON)
                return verb_vm_show(args);
        printf("Created %scontainer '%s' for tenant '%s'.\n", arg_start ? "and started " : "", name,
               arg_tenant);
        return 0;
}

int verb_ct_list(char **args) {
        ctl_instance_type = "container";
        return verb_vm_list(args);
}

int verb_ct_show(char **args) {
        ctl_instance_type = "container";
        return verb_vm_show(args);
}

int verb_ct_start(char **args) {
        ctl_instance_type = "container";
        return verb_vm_start(args);
}

int verb_ct_stop(char **args) {
        ctl_instance_type = "container";
        return verb_vm_stop(args);
}

int verb_ct_delete(char **args) {
        ctl_instance_type = "container";
        return verb_vm_delete(args);
}

typedef struct ExecCall {
        bool done;
        int status;
        int r;
        sd_bus_error error;
} ExecCall;

static int exec_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        ExecCall *c = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        int32_t status;

        c->done = true;
        if (e) {
                (void) sd_bus_error_copy(&c->error, e);
                c->r = -sd_bus_message_get_errno(reply) ?: -EIO;
                return 0;
        }
        c->r = sd_bus_message_read(reply, "i", &status);
        if (c->r >= 0)
                c->status = status;
        return 0;
}

/* What a container prints reaches a terminal of ours with its control characters shown, not
 * obeyed (terminal_escape()): an escape sequence could rewrite the screen, set the title, or
 * worse. Pipes and files get it as it is. */
static int write_out(int to, const char *buf, size_t n) {
        char safe[2 * 4096];

        if (!isatty(to))
                return loop_write(to, buf, n);
        for (size_t k = 0, l; k < n; k += l) {
                int r;

                /* Cut on a character boundary (not before a UTF-8 continuation byte). */
                l = MIN(n - k, sizeof(safe) / 2);
                while (k + l < n && l > 1 && ((unsigned char) buf[k + l] & 0xc0) == 0x80)
                        l--;
                r = loop_write(to, safe, terminal_escape(buf + k, l, safe));
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Copies what is available on `from` to `to`; returns 0 at the end of `from` (or when `to` is
 * gone), 1 when there may be more. */
static int copy_some(int from, int to) {
        char buf[16384];
        ssize_t n = read(from, buf, sizeof(buf));

        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return 1;
        if (n <= 0)
                return 0;
        return (to == STDOUT_FILENO || to == STDERR_FILENO ? write_out(to, buf, (size_t) n)
                                                           : loop_write(to, buf, (size_t) n)) < 0
                ? 0
                : 1;
}

/* Copies what `from` holds now to `to`, without waiting for more. */
static void drain(int from, int to) {
        char buf[16384];
        ssize_t n;

        (void) fcntl(from, F_SETFL, O_NONBLOCK);
        while ((n = read(from, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
                if (n > 0 && write_out(to, buf, (size_t) n) < 0)
                        return;
}

/* ct exec NAME -- CMD...: the command runs in the container with pipes for its stdin, stdout and
 * stderr, which arkctl copies from and to its own (no terminal of ours reaches the container).
 * Exits with the command's exit status. */
int verb_ct_exec(char **args) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        _cleanup_free_ char *path = NULL;
        _cleanup_close_pair_ int in[2] = EBADF_PAIR, out[2] = EBADF_PAIR, err[2] = EBADF_PAIR;
        ExecCall c = { .error = SD_BUS_ERROR_NULL };
        bool out_open = true, err_open = true, in_open = true;
        int r;

        if (!args[1])
                return usage_error("'ct exec' needs a command: arkctl ct exec NAME -- CMD...");
        if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
                fprintf(stderr, "arkctl: cannot make pipes: %m\n");
                return -errno;
        }
        (void) signal(SIGPIPE, SIG_IGN);
        r = ctl_bus_open(&bus);
        if (r < 0)
                return r;
        r = ctl_get_object(bus, "GetInstance", args[0], ARK_BUS_IFACE_INSTANCE, &path, NULL);
        if (r < 0)
                return r;
        r = ctl_new_call(bus, path, ARK_BUS_IFACE_INSTANCE, "Exec", &m);
        if (r < 0)
                return r;
        r = sd_bus_message_append_strv(m, args + 1);
        if (r >= 0)
                r = sd_bus_message_append(m, "hhh", in[0], out[1], err[1]);
        if (r >= 0)
                r = sd_bus_call_async(bus, &slot, m, exec_reply, &c, UINT64_MAX);
        if (r < 0)
                return ctl_log_call_error(r, NULL, "Exec");
        /* Our copies of the command's ends go, the message's too once it is out: its output ends
         * when it (and its children) do. */
        r = sd_bus_flush(bus);
        if (r < 0)
                return ctl_log_call_error(r, NULL, "Exec");
        m = sd_bus_message_unref(m);
        in[0] = safe_close(in[0]);
        out[1] = safe_close(out[1]);
        err[1] = safe_close(err[1]);

        while (!c.done || out_open || err_open) {
                struct pollfd p[4] = {
                        { .fd = sd_bus_get_fd(bus), .events = (short) sd_bus_get_events(bus) },
                        { .fd = out_open ? out[0] : -1, .events = POLLIN },
                        { .fd = err_open ? err[0] : -1, .events = POLLIN },
                        { .fd = in_open && !c.done ? STDIN_FILENO : -1, .events = POLLIN },
                };

                while ((r = sd_bus_process(bus, NULL)) > 0)
                        ;
                if (r < 0)
                        return ctl_log_call_error(r, NULL, "Exec");
                if (c.done && c.r < 0)
                        break;
                if (c.done) {
                        /* The command has ended (crun exec waits for it): what it wrote is in the
                         * pipes. Its write ends may live on elsewhere (a process it left behind,
                         * the call's message in arkd), so read what is there, not up to the end. */
                        if (out_open)
                                drain(out[0], STDOUT_FILENO);
                        if (err_open)
                                drain(err[0], STDERR_FILENO);
                        break;
                }
                if (poll(p, ELEMENTSOF(p), -1) < 0 && errno != EINTR) {
                        fprintf(stderr, "arkctl: poll failed: %m\n");
                        return -errno;
                }
                if (p[1].revents)
                        out_open = copy_some(out[0], STDOUT_FILENO) > 0;
                if (p[2].revents)
                        err_open = copy_some(err[0], STDERR_FILENO) > 0;
                if (p[3].revents && copy_some(STDIN_FILENO, in[1]) == 0) {
                        in_open = false;
                        in[1] = safe_close(in[1]);
                }
        }
        if (c.r < 0) {
                r = ctl_log_call_error(c.r, &c.error, "Exec");
                sd_bus_error_free(&c.error);
                return r;
        }
        /* Killed by a signal: 128 + the signal, as shells say it. */
        return c.status;
}

/* One line of conmon's log ("2026-12-07T10:00:00.1+00:00 stdout F text"): the text, and whether
 * the line ends there (F) or goes on in the next (P). */
static void print_log_line(const char *line, size_t n) {
        const char *p = line, *end = line + n;
        bool full = true;

        for (unsigned field = 0; field < 3 && p < end; field++) {
                const char *sp = memchr(p, ' ', (size_t) (end - p));

                if (!sp) {
                        p = end;
                        break;
                }
                if (field == 2)
                        full = *p != 'P';
                p = sp + 1;
        }
        fflush(stdout);
        (void) write_out(STDOUT_FILENO, p, (size_t) (end - p));
        if (full)
                fputc('\n', stdout);
}

/* Prints the whole lines of the log from *offset on; leaves *offset at the first unfinished one. */
static int print_log_from(int fd, uint64_t *offset) {
        char buf[65536];
        size_t have = 0;

        for (;;) {
                ssize_t n = pread(fd, buf + have, sizeof(buf) - have, (off_t) (*offset + have));
                size_t start = 0;

                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                have += (size_t) n;
                for (size_t k = 0; k < have; k++)
                        if (buf[k] == '\n') {
                                print_log_line(buf + start, k - start);
                                start = k + 1;
                        }
                if (start == 0 && have == sizeof(buf)) { /* an overlong line: print it as it is */
                        print_log_line(buf, have);
                        start = have;
                }
                *offset += start;
                memmove(buf, buf + start, have - start);
                have -= start;
        }
        fflush(stdout);
        return 0;
}

/* ct logs NAME [--follow]: what the container wrote to stdout and stderr, kept after it stopped. */
int verb_ct_logs(char **args) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;
        uint64_t offset = 0;
        int r, bus_fd;

        r = ctl_bus_open(&bus);
        if (r < 0)
                return r;
        r = ctl_get_object(bus, "GetInstance", args[0], ARK_BUS_IFACE_INSTANCE, &path, NULL);
        if (r < 0)
                return r;
        r = ctl_call(bus, path, ARK_BUS_IFACE_INSTANCE, "OpenLog", 0, &reply, NULL);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "h", &bus_fd);
        if (r < 0)
                return ctl_log_call_error(r, NULL, "OpenLog");
        fd = fcntl(bus_fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0) {
                fprintf(stderr, "arkctl: cannot take the log's descriptor: %m\n");
                return -errno;
        }
        for (;;) {
                _cleanup_free_ char *state = NULL;

                r = print_log_from(fd, &offset);
                if (r < 0) {
                        fprintf(stderr, "arkctl: cannot read the log: %s\n", strerror(-r));
                        return r;
                }
                if (!(arg_given & OPT_FOLLOW))
                        return 0;
                /* Until it stops; what it wrote last is read once more after that. */
                r = sd_bus_get_property_string(bus, ARK_BUS_NAME, path, ARK_BUS_IFACE_INSTANCE, "State",
                                               NULL, &state);
                if (r < 0 || !streq(state, "running"))
                        return print_log_from(fd, &offset);
                (void) nanosleep(&(struct timespec) { .tv_nsec = 200 * 1000 * 1000 }, NULL);
        }
}

/* Interactive consoles of VMs (console.h): a libvirt stream on one side, a socket on the other, and
 * a bounded buffer each way. A side is read only while the buffer towards the other side has room,
 * so a caller that stops reading holds the guest's output back instead of growing arkd's memory. */

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "basic/list.h"
#include "basic/log.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "console.h"
#include "hypervisor.h"
#include "shared/bus-util.h"
#include "virt-util.h"

#define CONSOLE_BUFFER (64 * 1024)

typedef struct Pipe {
        char data[CONSOLE_BUFFER];
        size_t len;
} Pipe;

struct VmConsole {
        VmConsole **list;
        char uuid[VIR_UUID_STRING_BUFLEN]; /* the domain's: one session per domain */
        char *name;
        virStreamPtr stream;
        bool stream_watched; /* a stream callback is registered: its free callback frees us */
        int fd;              /* arkd's end of the socket pair */
        sd_event_source *io;
        Pipe to_caller; /* what the guest printed, not yet written to the socket */
        Pipe to_guest;  /* what the caller typed, not yet sent to the stream */
        bool closed;
        LIST_FIELDS(VmConsole, consoles);
};

static void console_free(void *opaque) {
        VmConsole *c = opaque;

        free(c->name);
        free(c);
}

/* Ends the session. The record itself is freed by the stream callback's free function, which
 * libvirt's event bridge runs after the callback has returned (virt-util.h), or here when no
 * callback was registered. */
static void console_close(VmConsole *c, const char *why) {
        if (c->closed)
                return;
        c->closed = true;
        log_info("Console session of instance '%s' ended: %s.", c->name, why);
        LIST_REMOVE(consoles, *c->list, c);
        c->io = sd_event_source_disable_unref(c->io);
        c->fd = safe_close(c->fd);
        if (c->stream) {
                if (c->stream_watched)
                        (void) virStreamEventRemoveCallback(c->stream);
                (void) virStreamAbort(c->stream);
                virStreamFree(c->stream);
                c->stream = NULL;
                virResetLastError();
        }
        if (!c->stream_watched)
                console_free(c);
}

/* Which events each side waits for, from how full the buffers are. */
static void console_update(VmConsole *c) {
        int stream_events = 0;
        uint32_t fd_events = 0;

        if (c->closed)
                return;
        if (c->to_caller.len < CONSOLE_BUFFER)
                stream_events |= VIR_STREAM_EVENT_READABLE;
        if (c->to_guest.len > 0)
                stream_events |= VIR_STREAM_EVENT_WRITABLE;
        if (c->to_guest.len < CONSOLE_BUFFER)
                fd_events |= EPOLLIN;
        if (c->to_caller.len > 0)
                fd_events |= EPOLLOUT;
        (void) virStreamEventUpdateCallback(c->stream, stream_events);
        (void) sd_event_source_set_io_events(c->io, fd_events);
}

static void pipe_consume(Pipe *p, size_t n) {
        memmove(p->data, p->data + n, p->len - n);
        p->len -= n;
}

/* Writes what is buffered for the caller. false when the session ended. */
static bool flush_to_caller(VmConsole *c) {
        while (c->to_caller.len > 0) {
                ssize_t n = send(c->fd, c->to_caller.data, c->to_caller.len, MSG_NOSIGNAL | MSG_DONTWAIT);

                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return true;
                        console_close(c, "the caller's end is gone");
                        return false;
                }
                pipe_consume(&c->to_caller, (size_t) n);
        }
        return true;
}

/* Sends what the caller typed to the guest. false when the session ended. */
static bool flush_to_guest(VmConsole *c) {
        while (c->to_guest.len > 0) {
                int n = virStreamSend(c->stream, c->to_guest.data, c->to_guest.len);

                if (n == -2)
                        return true; /* would block */
                if (n < 0) {
                        console_close(c, "the hypervisor closed the console");
                        return false;
                }
                pipe_consume(&c->to_guest, (size_t) n);
        }
        return true;
}

static void on_stream(virStreamPtr st, int events, void *opaque) {
        VmConsole *c = opaque;

        if (c->closed)
                return;
        if ((events & VIR_STREAM_EVENT_READABLE) && c->to_caller.len < CONSOLE_BUFFER) {
                int n = virStreamRecv(st, c->to_caller.data + c->to_caller.len,
                                      CONSOLE_BUFFER - c->to_caller.len);

                if (n == 0) {
                        /* Send what is left before going. */
                        (void) flush_to_caller(c);
                        console_close(c, "the instance stopped");
                        return;
                }
                if (n == -1) {
                        console_close(c, "reading the console failed");
                        return;
                }
                if (n > 0)
                        c->to_caller.len += (size_t) n;
        }
        if ((events & VIR_STREAM_EVENT_WRITABLE) && !flush_to_guest(c))
                return;
        if (events & (VIR_STREAM_EVENT_HANGUP | VIR_STREAM_EVENT_ERROR)) {
                (void) flush_to_caller(c);
                console_close(c, "the instance stopped");
                return;
        }
        if (!flush_to_caller(c))
                return;
        console_update(c);
}

static int on_socket(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        VmConsole *c = userdata;

        if ((revents & EPOLLIN) && c->to_guest.len < CONSOLE_BUFFER) {
                ssize_t n = recv(fd, c->to_guest.data + c->to_guest.len, CONSOLE_BUFFER - c->to_guest.len,
                                 MSG_DONTWAIT);

                if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                        /* The caller is done: what it typed last still goes to the guest. */
                        (void) flush_to_guest(c);
                        console_close(c, "the caller closed it");
                        return 0;
                }
                if (n > 0)
                        c->to_guest.len += (size_t) n;
        } else if (revents & (EPOLLHUP | EPOLLERR)) {
                console_close(c, "the caller closed it");
                return 0;
        }
        if ((revents & EPOLLOUT) && !flush_to_caller(c))
                return 0;
        if (!flush_to_guest(c))
                return 0;
        console_update(c);
        return 0;
}

static VmConsole *console_find(VmConsole *list, const char *uuid) {
        LIST_FOREACH(consoles, c, list)
                if (streq(c->uuid, uuid))
                        return c;
        return NULL;
}

int vm_console_open(VmConsole **list, sd_event *event, virConnectPtr conn, virDomainPtr dom,
                    const char *name, int *ret_fd, sd_bus_error *error) {
        _cleanup_free_ char *what = NULL;
        VmConsole *c;
        int pair[2], r;

        c = calloc(1, sizeof(VmConsole));
        if (!c)
                return -ENOMEM;
        c->fd = -EBADF;
        c->list = list;
        c->name = strdup(name);
        if (!c->name || virDomainGetUUIDString(dom, c->uuid) < 0) {
                virResetLastError();
                console_free(c);
                return -ENOMEM;
        }
        if (console_find(*list, c->uuid)) {
                console_free(c);
                return sd_bus_error_setf(
                        error, ARK_ERROR_INVALID_STATE,
                        "A console session of instance '%s' is open already; close it first.", name);
        }
        if (virDomainIsActive(dom) != 1) {
                virResetLastError();
                console_free(c);
                return sd_bus_error_setf(error, ARK_ERROR_INVALID_STATE,
                                         "Instance '%s' is not running; start it to open its console.",
                                         name);
        }
        c->stream = virStreamNew(conn, VIR_STREAM_NONBLOCK);
        if (!c->stream || virDomainOpenConsole(dom, NULL, c->stream, VIR_DOMAIN_CONSOLE_SAFE) < 0) {
                r = virt_last_error(NULL);
                if (c->stream)
                        virStreamFree(c->stream);
                console_free(c);
                if (r == -EOPNOTSUPP) {
                        virResetLastError();
                        return sd_bus_error_setf(
                                error, ARK_ERROR_NOT_SUPPORTED,
                                "The hypervisor of instance '%s' has no interactive consoles "
                                "(its serial output is in ConsoleLog).",
                                name);
                }
                what = strprintf("Failed to open the console of instance '%s'", name);
                return hypervisor_error(error, what ?: "Failed to open the console");
        }
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair) < 0) {
                r = -errno;
                (void) virStreamAbort(c->stream);
                virStreamFree(c->stream);
                virResetLastError();
                console_free(c);
                return r;
        }
        c->fd = pair[0];
        LIST_PREPEND(consoles, *list, c);
        r = sd_event_add_io(event, &c->io, c->fd, EPOLLIN, on_socket, c);
        if (r >= 0 &&
            virStreamEventAddCallback(c->stream, VIR_STREAM_EVENT_READABLE, on_stream, c, console_free) < 0)
                r = virt_last_error(NULL);
        else if (r >= 0)
                c->stream_watched = true;
        if (r < 0) {
                console_close(c, "setting it up failed");
                safe_close(pair[1]);
                return r;
        }
        log_info("Console session of instance '%s' opened.", name);
        *ret_fd = pair[1];
        return 0;
}

void vm_console_close_all(VmConsole **list) {
        while (*list)
                console_close(*list, "the connection to the hypervisor is closing");
}

/* libvirt helpers: error conversion and the libvirt event loop bridged into sd-event. */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#include "basic/macro.h"
#include "virt-util.h"

static void silent_error_func(void *userdata, virErrorPtr error) {
        /* libvirt prints every error to stderr unless a handler is set. Callers fetch the error
         * with virt_last_error() and decide themselves whether and how to report it. */
}

int virt_init(void) {
        if (virInitialize() < 0)
                return -EIO;
        virSetErrorFunc(NULL, silent_error_func);
        return 0;
}

int virt_error_to_errno(const virError *error) {
        if (!error)
                return -EIO;

        switch (error->code) {
        case VIR_ERR_NO_DOMAIN:
        case VIR_ERR_NO_NETWORK:
        case VIR_ERR_NO_STORAGE_POOL:
        case VIR_ERR_NO_STORAGE_VOL:
        case VIR_ERR_NO_NODE_DEVICE:
        case VIR_ERR_NO_INTERFACE:
        case VIR_ERR_NO_NWFILTER:
        case VIR_ERR_NO_NWFILTER_BINDING:
        case VIR_ERR_NO_SECRET:
        case VIR_ERR_NO_DOMAIN_SNAPSHOT:
        case VIR_ERR_NO_DOMAIN_CHECKPOINT:
        case VIR_ERR_NO_DOMAIN_BACKUP:
        case VIR_ERR_NO_DOMAIN_METADATA:
        case VIR_ERR_NO_NETWORK_PORT:
        case VIR_ERR_NO_SERVER:
        case VIR_ERR_NO_CLIENT:
        case VIR_ERR_DEVICE_MISSING:
                return -ENOENT;

        case VIR_ERR_DOM_EXIST:
        case VIR_ERR_NETWORK_EXIST:
        case VIR_ERR_STORAGE_VOL_EXIST:
        case VIR_ERR_NETWORK_PORT_EXIST:
        case VIR_ERR_MULTIPLE_DOMAINS:
                return -EEXIST;

        case VIR_ERR_OPERATION_INVALID: /* "domain is not running", "domain is already active" */
        case VIR_ERR_RESOURCE_BUSY:
        case VIR_ERR_BLOCK_COPY_ACTIVE:
                return -EBUSY;

        case VIR_ERR_INVALID_ARG:
        case VIR_ERR_XML_ERROR:
        case VIR_ERR_XML_DETAIL:
        case VIR_ERR_XML_INVALID_SCHEMA:
        case VIR_ERR_CONFIG_UNSUPPORTED:
        case VIR_ERR_INVALID_MAC:
        case VIR_ERR_OS_TYPE:
        case VIR_ERR_CPU_INCOMPATIBLE:
        case VIR_ERR_INVALID_DOMAIN:
        case VIR_ERR_INVALID_NETWORK:
        case VIR_ERR_INVALID_STORAGE_POOL:
        case VIR_ERR_INVALID_STORAGE_VOL:
        case VIR_ERR_INVALID_NODE_DEVICE:
        case VIR_ERR_INVALID_INTERFACE:
        case VIR_ERR_INVALID_NWFILTER:
        case VIR_ERR_INVALID_SECRET:
        case VIR_ERR_INVALID_STREAM:
        case VIR_ERR_INVALID_DOMAIN_SNAPSHOT:
        case VIR_ERR_INVALID_DOMAIN_CHECKPOINT:
        case VIR_ERR_INVALID_NETWORK_PORT:
        case VIR_ERR_INVALID_NWFILTER_BINDING:
                return -EINVAL;

        case VIR_ERR_NO_SUPPORT:
        case VIR_ERR_OPERATION_UNSUPPORTED:
        case VIR_ERR_ARGUMENT_UNSUPPORTED:
                return -EOPNOTSUPP;

        case VIR_ERR_OPERATION_DENIED:
        case VIR_ERR_ACCESS_DENIED:
        case VIR_ERR_AUTH_FAILED:
        case VIR_ERR_AUTH_CANCELLED:
        case VIR_ERR_AUTH_UNAVAILABLE:
                return -EACCES;

        case VIR_ERR_OPERATION_TIMEOUT:
        case VIR_ERR_AGENT_UNRESPONSIVE:
                return -ETIMEDOUT;

        case VIR_ERR_OPERATION_ABORTED:
                return -ECANCELED;

        case VIR_ERR_NO_MEMORY:
                return -ENOMEM;

        case VIR_ERR_OVERFLOW:
                return -EOVERFLOW;

        case VIR_ERR_NO_CONNECT:
        case VIR_ERR_INVALID_CONN:
                return -ENOTCONN;

        case VIR_ERR_INTERNAL_ERROR:
                /* The RPC client reports a connection whose daemon went away as an internal
                 * error ("client socket is closed"). */
                if (error->domain == VIR_FROM_RPC)
                        return -ECONNRESET;
                return -EIO;

        case VIR_ERR_SYSTEM_ERROR: {
                /* int1 carries the errno of a system error. */
                int e = error->int1 > 0 && error->int1 < 4096 ? error->int1 : EIO;

                /* On the RPC transport, failing to connect keeps its reason (the socket is
                 * missing, refused, not ours); any other failure (EOF, EPIPE, ECONNRESET, ...)
                 * means an established connection to the daemon is gone. */
                if (error->domain == VIR_FROM_RPC && e != ENOENT && e != ECONNREFUSED && e != EACCES &&
                    e != EPERM)
                        return -ECONNRESET;
                return -e;
        }

        default:
                return -EIO;
        }
}

int virt_last_error(char **ret_message) {
        virErrorPtr error = virGetLastError();
        int r;

        r = virt_error_to_errno(error);
        if (ret_message) {
                if (error && error->code != VIR_ERR_OK && !isempty(error->message))
                        *ret_message = strdup(error->message);
                else
                        *ret_message = strdup("Unknown libvirt error");
        }
        return r;
}

/* ----------------------------------------------------------------------------------------------
 * The event loop bridge.
 *
 * libvirt's event callbacks carry no user data, so the bridge state is necessarily global. Every
 * handle and timeout libvirt adds becomes a VirtWatch owning one sd-event source. When libvirt
 * removes one, its source goes away at once but the record, and with it the call of libvirt's
 * free callback, lives until a defer source runs in a later dispatch: libvirt forbids calling
 * the free callback from inside its remove call (it may hold locks there). */

typedef enum VirtWatchKind {
        VIRT_WATCH_HANDLE,
        VIRT_WATCH_TIMEOUT,
} VirtWatchKind;

typedef struct VirtWatch VirtWatch;
struct VirtWatch {
        VirtWatchKind kind;
        int id;
        int fd;        /* handle: libvirt's fd, passed back to its callback */
        int events;    /* handle: VIR_EVENT_HANDLE_* mask */
        int frequency; /* timeout: -1 off, 0 every iteration, N ms */
        sd_event_source *source;
        virEventHandleCallback handle_cb;
        virEventTimeoutCallback timeout_cb;
        void *opaque;
        virFreeCallback ff;
        bool removed;
        VirtWatch *prev, *next;
};

static struct {
        sd_event *event;     /* the loop we are attached to, NULL when detached */
        sd_event_source *gc; /* defer source running removed watches' free callbacks */
        VirtWatch *watches;
        int last_handle_id, last_timeout_id;
        bool impl_registered; /* virEventRegisterImpl() done: it is once per process */
} bridge;

/* Timer slack: libvirt's timeouts are in milliseconds. */
#define VIRT_TIMER_ACCURACY_USEC 1000ULL

static void watch_link(VirtWatch *w) {
        w->prev = NULL;
        w->next = bridge.watches;
        if (bridge.watches)
                bridge.watches->prev = w;
        bridge.watches = w;
}

static void watch_unlink(VirtWatch *w) {
        if (w->prev)
                w->prev->next = w->next;
        else
                bridge.watches = w->next;
        if (w->next)
                w->next->prev = w->prev;
        w->prev = w->next = NULL;
}

static VirtWatch *watch_find(VirtWatchKind kind, int id) {
        for (VirtWatch *w = bridge.watches; w; w = w->next)
                if (w->kind == kind && w->id == id && !w->removed)
                        return w;
        return NULL;
}

static int next_id(int *last) {
        /* Ids are positive and never reused; 2^31 watches outlast any daemon. */
        if (*last == INT_MAX)
                return -1;
        return ++*last;
}

static uint32_t events_to_epoll(int events) {
        uint32_t e = 0;

        if (events & VIR_EVENT_HANDLE_READABLE)
                e |= EPOLLIN;
        if (events & VIR_EVENT_HANDLE_WRITABLE)
                e |= EPOLLOUT;
        /* epoll reports these whether asked or not; asking does no harm. */
        if (events & VIR_EVENT_HANDLE_ERROR)
                e |= EPOLLERR;
        if (events & VIR_EVENT_HANDLE_HANGUP)
                e |= EPOLLHUP;
        return e;
}

static int epoll_to_events(uint32_t revents) {
        int e = 0;

        if (revents & (EPOLLIN | EPOLLPRI | EPOLLRDHUP))
                e |= VIR_EVENT_HANDLE_READABLE;
        if (revents & EPOLLOUT)
                e |= VIR_EVENT_HANDLE_WRITABLE;
        if (revents & EPOLLERR)
                e |= VIR_EVENT_HANDLE_ERROR;
        if (revents & EPOLLHUP)
                e |= VIR_EVENT_HANDLE_HANGUP;
        return e;
}

static void gc_schedule(void) {
        if (bridge.gc)
                (void) sd_event_source_set_enabled(bridge.gc, SD_EVENT_ONESHOT);
}

/* Takes a watch out of service: its source is gone when this returns, its free callback runs
 * later from the gc source (or from virt_event_unregister()). */
static void watch_remove(VirtWatch *w) {
        w->removed = true;
        w->source = sd_event_source_disable_unref(w->source);
        gc_schedule();
}

static int gc_handler(sd_event_source *s, void *userdata) {
        VirtWatch *dead = NULL, *w, *n;

        /* Collect first, then call: a free callback may call back into libvirt, which may add or
         * remove watches and so change the list. */
        for (w = bridge.watches; w; w = n) {
                n = w->next;
                if (!w->removed)
                        continue;
                watch_unlink(w);
                w->next = dead;
                dead = w;
        }

        while ((w = dead)) {
                dead = w->next;
                if (w->ff)
                        w->ff(w->opaque);
                free(w);
        }
        return 0;
}

static int io_handler(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        VirtWatch *w = userdata;

        /* The record stays valid during the call even if libvirt removes the watch from inside
         * its callback: it is freed only by the gc source. */
        w->handle_cb(w->id, w->fd, epoll_to_events(revents), w->opaque);
        return 0;
}

static int bridge_add_handle(int fd, int events, virEventHandleCallback cb, void *opaque,
                             virFreeCallback ff) {
        _cleanup_free_ VirtWatch *w = NULL;
        int r, id;

        if (!bridge.event || fd < 0 || !cb)
                return -1;

        w = calloc(1, sizeof(*w));
        if (!w)
                return -1;

        r = sd_event_add_io(bridge.event, &w->source, fd, events_to_epoll(events), io_handler, w);
        if (r == -EEXIST) {
                /* libvirt allows several watches on one fd with disjoint event sets, epoll does
                 * not: watch a duplicate of the fd, which the source then owns. */
                int copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
                if (copy < 0)
                        return -1;
                r = sd_event_add_io(bridge.event, &w->source, copy, events_to_epoll(events), io_handler, w);
                if (r < 0) {
                        safe_close(copy);
                        return -1;
                }
                (void) sd_event_source_set_io_fd_own(w->source, true);
        }
        if (r < 0)
                return -1;

        id = next_id(&bridge.last_handle_id);
        if (id < 0 || sd_event_source_set_enabled(w->source, events ? SD_EVENT_ON : SD_EVENT_OFF) < 0) {
                w->source = sd_event_source_disable_unref(w->source);
                return -1;
        }
        (void) sd_event_source_set_description(w->source, "libvirt-handle");

        w->kind = VIRT_WATCH_HANDLE;
        w->id = id;
        w->fd = fd;
        w->events = events;
        w->handle_cb = cb;
        w->opaque = opaque;
        w->ff = ff;
        watch_link(TAKE_PTR(w));
        return id;
}

static void bridge_update_handle(int watch, int events) {
        VirtWatch *w = watch_find(VIRT_WATCH_HANDLE, watch);

        if (!w)
                return;

        w->events = events;
        if (events == 0) {
                /* Disabled, not merely an empty mask: epoll would still report ERR and HUP. */
                (void) sd_event_source_set_enabled(w->source, SD_EVENT_OFF);
                return;
        }
        (void) sd_event_source_set_io_events(w->source, events_to_epoll(events));
        (void) sd_event_source_set_enabled(w->source, SD_EVENT_ON);
}

static int bridge_remove_handle(int watch) {
        VirtWatch *w = watch_find(VIRT_WATCH_HANDLE, watch);

        if (!w)
                return -1;
        watch_remove(w);
        return 0;
}

/* Arms a timeout source for its frequency, counted from the loop's current time like libvirt's
 * own implementation does after every firing and update. */
static int timeout_arm(VirtWatch *w) {
        uint64_t now;
        int r;

        if (w->frequency < 0)
                return sd_event_source_set_enabled(w->source, SD_EVENT_OFF);

        r = sd_event_now(bridge.event, CLOCK_MONOTONIC, &now);
        if (r < 0)
                return r;
        /* Frequency 0 is due at once, i.e. it fires in every loop iteration as it is re-armed
         * after each firing; it must not wait for timer coalescing either. */
        r = sd_event_source_set_time_accuracy(w->source, w->frequency == 0 ? 1 : VIRT_TIMER_ACCURACY_USEC);
        if (r < 0)
                return r;
        r = sd_event_source_set_time(w->source, now + (uint64_t) w->frequency * 1000ULL);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(w->source, SD_EVENT_ONESHOT);
}

static int time_handler(sd_event_source *s, uint64_t usec, void *userdata) {
        VirtWatch *w = userdata;

        /* Re-arm before calling: the callback may update or remove the timeout, and what it
         * decides must win. */
        (void) timeout_arm(w);
        w->timeout_cb(w->id, w->opaque);
        return 0;
}

static int bridge_add_timeout(int frequency, virEventTimeoutCallback cb, void *opaque, virFreeCallback ff) {
        _cleanup_free_ VirtWatch *w = NULL;
        int id;

        if (!bridge.event || !cb)
                return -1;

        w = calloc(1, sizeof(*w));
        if (!w)
                return -1;

        if (sd_event_add_time(bridge.event, &w->source, CLOCK_MONOTONIC, 0, VIRT_TIMER_ACCURACY_USEC,
                              time_handler, w) < 0)
                return -1;

        w->kind = VIRT_WATCH_TIMEOUT;
        w->frequency = frequency < 0 ? -1 : frequency;
        id = next_id(&bridge.last_timeout_id);
        if (id < 0 || timeout_arm(w) < 0) {
                w->source = sd_event_source_disable_unref(w->source);
                return -1;
        }
        (void) sd_event_source_set_description(w->source, "libvirt-timeout");

        w->id = id;
        w->timeout_cb = cb;
        w->opaque = opaque;
        w->ff = ff;
        watch_link(TAKE_PTR(w));
        return id;
}

static void bridge_update_timeout(int timer, int frequency) {
        VirtWatch *w = watch_find(VIRT_WATCH_TIMEOUT, timer);

        if (!w)
                return;
        w->frequency = frequency < 0 ? -1 : frequency;
        (void) timeout_arm(w);
}

static int bridge_remove_timeout(int timer) {
        VirtWatch *w = watch_find(VIRT_WATCH_TIMEOUT, timer);

        if (!w)
                return -1;
        watch_remove(w);
        return 0;
}

static void probe_timeout(int timer, void *opaque) {
}

int virt_event_register_sd_event(sd_event *e) {
        int r;

        if (!e)
                return -EINVAL;
        if (bridge.event)
                return -EBUSY;

        r = sd_event_add_defer(e, &bridge.gc, gc_handler, NULL);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(bridge.gc, SD_EVENT_OFF);
        (void) sd_event_source_set_description(bridge.gc, "libvirt-free-callbacks");
        bridge.event = sd_event_ref(e);

        if (!bridge.impl_registered) {
                int before, id;

                virEventRegisterImpl(bridge_add_handle, bridge_update_handle, bridge_remove_handle,
                                     bridge_add_timeout, bridge_update_timeout, bridge_remove_timeout);

                /* libvirt silently ignores a second implementation. Find out whether ours is the
                 * one in force by adding a disabled timeout and seeing who got it. */
                before = bridge.last_timeout_id;
                id = virEventAddTimeout(-1, probe_timeout, NULL, NULL);
                if (id >= 0)
                        (void) virEventRemoveTimeout(id);
                if (bridge.last_timeout_id == before) {
                        virt_event_unregister();
                        return -EBUSY;
                }
                bridge.impl_registered = true;
        }
        return 0;
}

void virt_event_unregister(void) {
        VirtWatch *w;

        if (!bridge.event)
                return;

        /* From here on adds fail and removes only mark, so free callbacks that call back into
         * libvirt cannot grow the list under us. */
        bridge.gc = sd_event_source_disable_unref(bridge.gc);
        bridge.event = sd_event_unref(bridge.event);

        while ((w = bridge.watches)) {
                watch_unlink(w);
                w->source = sd_event_source_disable_unref(w->source);
                if (w->ff)
                        w->ff(w->opaque);
                free(w);
        }
}

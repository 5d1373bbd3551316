/* Tests for the VM driver's virt-util (appliance/instance/vm/): libvirt error conversion and the
 * libvirt event loop running on sd-event, against libvirt's embedded test driver
 * (test:///default, which starts with one running domain named "test"). */

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "basic/macro.h"
#include "virt-util.h"

static void sd_event_unrefp_local(sd_event **e) {
        if (*e)
                sd_event_unref(*e);
}

/* Runs the loop until *done is set or timeout_usec passed; returns whether *done got set. With
 * done == NULL simply runs for timeout_usec. Never calls sd_event_exit(), so the loop can be run
 * again afterwards. */
static uint64_t now_usec(void) {
        struct timespec ts;

        assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
}

static bool run_until(sd_event *e, const bool *done, uint64_t timeout_usec) {
        uint64_t start = now_usec(), now;

        for (;;) {
                if (done && *done)
                        return true;
                now = now_usec();
                if (now - start >= timeout_usec)
                        return false;
                assert_true(sd_event_run(e, timeout_usec - (now - start)) >= 0);
        }
}

/* ------------------------------------------------------------------------------ errors */

static void test_last_error_missing_domain(void **state) {
        _cleanup_(virConnectClosep) virConnectPtr conn = NULL;
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        _cleanup_free_ char *msg = NULL;

        conn = virConnectOpen("test:///default");
        assert_non_null(conn);

        dom = virDomainLookupByName(conn, "no-such-vm");
        assert_null(dom);
        assert_int_equal(virt_last_error(&msg), -ENOENT);
        /* The test driver's sentence is just "Domain not found" (the QEMU driver adds "no
         * domain with matching name '...'"): callers must name the object themselves. */
        assert_non_null(msg);
        assert_non_null(strstr(msg, "not found"));

        /* The NULL message pointer is allowed. */
        assert_int_equal(virt_last_error(NULL), -ENOENT);
}

static void test_last_error_mapping_live(void **state) {
        _cleanup_(virConnectClosep) virConnectPtr conn = NULL;
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL, bad = NULL;
        _cleanup_free_ char *msg = NULL, *msg2 = NULL, *msg3 = NULL;

        conn = virConnectOpen("test:///default");
        assert_non_null(conn);
        dom = virDomainLookupByName(conn, "test");
        assert_non_null(dom);

        /* Destroying a domain that is not running: a state conflict. */
        assert_int_equal(virDomainDestroy(dom), 0);
        assert_int_equal(virDomainDestroy(dom), -1);
        assert_int_equal(virt_last_error(&msg), -EBUSY);
        assert_non_null(strstr(msg, "not running"));

        /* Malformed XML. */
        bad = virDomainDefineXMLFlags(conn, "<domain type='test'><name>x</nam>", VIR_DOMAIN_DEFINE_VALIDATE);
        assert_null(bad);
        assert_int_equal(virt_last_error(&msg2), -EINVAL);

        /* No error at all still yields an error and a sentence. */
        virResetLastError();
        assert_int_equal(virt_last_error(&msg3), -EIO);
        assert_non_null(msg3);
}

static void test_error_to_errno(void **state) {
        virError e = {};

        assert_int_equal(virt_error_to_errno(NULL), -EIO);

        e.code = VIR_ERR_NO_DOMAIN;
        assert_int_equal(virt_error_to_errno(&e), -ENOENT);
        e.code = VIR_ERR_DOM_EXIST;
        assert_int_equal(virt_error_to_errno(&e), -EEXIST);
        e.code = VIR_ERR_OPERATION_INVALID;
        assert_int_equal(virt_error_to_errno(&e), -EBUSY);
        e.code = VIR_ERR_XML_DETAIL;
        assert_int_equal(virt_error_to_errno(&e), -EINVAL);
        e.code = VIR_ERR_CONFIG_UNSUPPORTED;
        assert_int_equal(virt_error_to_errno(&e), -EINVAL);
        e.code = VIR_ERR_OPERATION_TIMEOUT;
        assert_int_equal(virt_error_to_errno(&e), -ETIMEDOUT);
        e.code = VIR_ERR_NO_CONNECT;
        assert_int_equal(virt_error_to_errno(&e), -ENOTCONN);
        e.code = VIR_ERR_OPERATION_FAILED;
        assert_int_equal(virt_error_to_errno(&e), -EIO);

        /* A daemon that went away, as the RPC client reports it. */
        e.code = VIR_ERR_SYSTEM_ERROR;
        e.domain = VIR_FROM_RPC;
        e.int1 = EPIPE;
        assert_int_equal(virt_error_to_errno(&e), -ECONNRESET);
        e.code = VIR_ERR_INTERNAL_ERROR;
        assert_int_equal(virt_error_to_errno(&e), -ECONNRESET);
        /* ... but a daemon that is not there keeps its reason. */
        e.code = VIR_ERR_SYSTEM_ERROR;
        e.int1 = ECONNREFUSED;
        assert_int_equal(virt_error_to_errno(&e), -ECONNREFUSED);
        /* System errors elsewhere carry their errno. */
        e.domain = VIR_FROM_QEMU;
        e.int1 = ENOSPC;
        assert_int_equal(virt_error_to_errno(&e), -ENOSPC);
        e.int1 = 0;
        assert_int_equal(virt_error_to_errno(&e), -EIO);
        e.code = VIR_ERR_INTERNAL_ERROR;
        assert_int_equal(virt_error_to_errno(&e), -EIO);
}

/* ------------------------------------------------------------------------------ lifecycle events */

typedef struct LifecycleLog {
        int started, stopped;
        bool done;
} LifecycleLog;

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque) {
        LifecycleLog *log = opaque;

        if (!streq(virDomainGetName(dom), "test"))
                return 0;
        if (event == VIR_DOMAIN_EVENT_STARTED)
                log->started++;
        else if (event == VIR_DOMAIN_EVENT_STOPPED)
                log->stopped++;
        log->done = log->started > 0 && log->stopped > 0;
        return 0;
}

static void test_lifecycle_events(void **state) {
        _cleanup_(sd_event_unrefp_local) sd_event *e = NULL;
        virConnectPtr conn;
        virDomainPtr dom;
        LifecycleLog log = {};
        int cb;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(virt_event_register_sd_event(e), 0);

        conn = virConnectOpen("test:///default");
        assert_non_null(conn);
        cb = virConnectDomainEventRegisterAny(conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                              VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), &log, NULL);
        assert_true(cb >= 0);

        dom = virDomainLookupByName(conn, "test");
        assert_non_null(dom);
        assert_int_equal(virDomainDestroy(dom), 0);
        assert_int_equal(virDomainCreate(dom), 0);

        /* libvirt queues the events and flushes them from a timeout it arms with frequency 0:
         * nothing arrives unless the sd-event loop runs the bridge. */
        assert_int_equal(log.started + log.stopped, 0);
        assert_true(run_until(e, &log.done, 10 * 1000000ULL));
        assert_int_equal(log.stopped, 1);
        assert_int_equal(log.started, 1);

        assert_int_equal(virConnectDomainEventDeregisterAny(conn, cb), 0);
        virDomainFree(dom);
        assert_int_equal(virConnectClose(conn), 0);

        /* Frees libvirt's event state through the deferred free callback; LeakSanitizer would
         * see it otherwise. */
        virt_event_unregister();
}

/* ------------------------------------------------------------------------------ timeouts */

typedef struct Counter {
        int fired;
        int freed;
        int remove_self; /* timer id to remove from inside the callback, 0 = none */
} Counter;

static void count_timeout(int timer, void *opaque) {
        Counter *c = opaque;

        c->fired++;
        if (c->remove_self == timer)
                assert_int_equal(virEventRemoveTimeout(timer), 0);
}

static void count_free(void *opaque) {
        Counter *c = opaque;

        c->freed++;
}

static void test_timeouts(void **state) {
        _cleanup_(sd_event_unrefp_local) sd_event *e = NULL;
        Counter every = {}, never = {}, periodic = {}, once = {};
        int t_every, t_never, t_periodic, t_once;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(virt_event_register_sd_event(e), 0);
        /* Attached already. */
        assert_int_equal(virt_event_register_sd_event(e), -EBUSY);

        t_every = virEventAddTimeout(0, count_timeout, &every, count_free);
        t_never = virEventAddTimeout(-1, count_timeout, &never, count_free);
        t_periodic = virEventAddTimeout(20, count_timeout, &periodic, count_free);
        t_once = virEventAddTimeout(0, count_timeout, &once, count_free);
        assert_true(t_every > 0 && t_never > 0 && t_periodic > 0 && t_once > 0);
        /* Unique per kind. */
        assert_true(t_every != t_never && t_never != t_periodic && t_periodic != t_once &&
                    t_every != t_once);
        once.remove_self = t_once;

        run_until(e, NULL, 210 * 1000ULL);

        /* Frequency 0 fires in every iteration: many times. */
        assert_true(every.fired >= 20);
        /* -1 never fires. */
        assert_int_equal(never.fired, 0);
        /* 20 ms for 210 ms: about 10; allow for a slow, loaded machine but not for a busy loop. */
        assert_in_range(periodic.fired, 3, 11);
        /* Removed from its own callback: fired once, freed later, exactly once. */
        assert_int_equal(once.fired, 1);
        assert_int_equal(once.freed, 1);

        /* Removal defers the free callback to a later dispatch. */
        assert_int_equal(virEventRemoveTimeout(t_every), 0);
        assert_int_equal(every.freed, 0);
        assert_int_equal(virEventRemoveTimeout(t_every), -1);
        every.fired = 0;
        assert_true(sd_event_run(e, 0) >= 0);
        assert_int_equal(every.freed, 1);
        run_until(e, NULL, 20 * 1000ULL);
        assert_int_equal(every.fired, 0);

        /* Enabling a disabled timeout; disabling a periodic one. */
        virEventUpdateTimeout(t_never, 0);
        virEventUpdateTimeout(t_periodic, -1);
        periodic.fired = 0;
        run_until(e, NULL, 50 * 1000ULL);
        assert_true(never.fired > 0);
        assert_int_equal(periodic.fired, 0);

        /* Unknown ids. */
        assert_int_equal(virEventRemoveTimeout(4242), -1);
        virEventUpdateTimeout(4242, 0);

        /* Detaching frees what is still registered, exactly once. */
        virt_event_unregister();
        assert_int_equal(never.freed, 1);
        assert_int_equal(periodic.freed, 1);
        assert_int_equal(every.freed, 1);
        assert_int_equal(once.freed, 1);

        /* Without a loop libvirt gets a clean failure. */
        assert_int_equal(virEventAddTimeout(0, count_timeout, &every, NULL), -1);
        assert_int_equal(virEventRemoveTimeout(t_never), -1);
        virt_event_unregister(); /* twice is fine */
}

/* ------------------------------------------------------------------------------ handles */

typedef struct HandleLog {
        int calls;
        int last_events;
        int last_fd;
        int freed;
} HandleLog;

static void on_handle(int watch, int fd, int events, void *opaque) {
        HandleLog *h = opaque;
        char buf[64];

        h->calls++;
        h->last_events = events;
        h->last_fd = fd;
        if (events & VIR_EVENT_HANDLE_READABLE)
                (void) read(fd, buf, sizeof(buf));
}

static void on_handle_free(void *opaque) {
        HandleLog *h = opaque;

        h->freed++;
}

static void test_handles(void **state) {
        _cleanup_(sd_event_unrefp_local) sd_event *e = NULL;
        HandleLog rd = {}, wr = {};
        int sv[2], w_rd, w_wr;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(virt_event_register_sd_event(e), 0);
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);

        w_rd = virEventAddHandle(sv[0], VIR_EVENT_HANDLE_READABLE, on_handle, &rd, on_handle_free);
        assert_true(w_rd > 0);
        /* The same fd again with a disjoint event set, as libvirt permits. */
        w_wr = virEventAddHandle(sv[0], 0, on_handle, &wr, on_handle_free);
        assert_true(w_wr > 0 && w_wr != w_rd);

        /* Nothing to read yet; the events=0 watch stays quiet although the socket is
         * writable. */
        run_until(e, NULL, 20 * 1000ULL);
        assert_int_equal(rd.calls, 0);
        assert_int_equal(wr.calls, 0);

        assert_int_equal(write(sv[1], "x", 1), 1);
        run_until(e, NULL, 20 * 1000ULL);
        assert_int_equal(rd.calls, 1);
        assert_int_equal(rd.last_events, VIR_EVENT_HANDLE_READABLE);
        assert_int_equal(rd.last_fd, sv[0]); /* libvirt's fd, not our duplicate */

        /* Enable the writable watch: it fires, reporting libvirt's fd. */
        virEventUpdateHandle(w_wr, VIR_EVENT_HANDLE_WRITABLE);
        assert_true(sd_event_run(e, 100 * 1000ULL) > 0);
        assert_true(wr.calls > 0);
        assert_int_equal(wr.last_events, VIR_EVENT_HANDLE_WRITABLE);
        assert_int_equal(wr.last_fd, sv[0]);
        virEventUpdateHandle(w_wr, 0);
        wr.calls = 0;

        /* Disabled: pending data is not reported. */
        virEventUpdateHandle(w_rd, 0);
        assert_int_equal(write(sv[1], "y", 1), 1);
        run_until(e, NULL, 20 * 1000ULL);
        assert_int_equal(rd.calls, 1);
        virEventUpdateHandle(w_rd, VIR_EVENT_HANDLE_READABLE);
        run_until(e, NULL, 20 * 1000ULL);
        assert_int_equal(rd.calls, 2);

        /* Peer gone: hangup, reported as HANGUP (plus READABLE for the EOF). */
        assert_int_equal(close(sv[1]), 0);
        assert_true(sd_event_run(e, 100 * 1000ULL) > 0);
        assert_true(rd.last_events & VIR_EVENT_HANDLE_HANGUP);

        /* Removal: the free callback runs later, from a clean stack, once. */
        assert_int_equal(virEventRemoveHandle(w_rd), 0);
        assert_int_equal(virEventRemoveHandle(w_rd), -1);
        assert_int_equal(rd.freed, 0);
        rd.calls = 0;
        assert_true(sd_event_run(e, 0) >= 0);
        assert_int_equal(rd.freed, 1);
        run_until(e, NULL, 20 * 1000ULL);
        assert_int_equal(rd.calls, 0);

        assert_int_equal(virEventRemoveHandle(w_wr), 0);
        assert_int_equal(wr.freed, 0);
        virt_event_unregister();
        assert_int_equal(wr.freed, 1);
        assert_int_equal(rd.freed, 1);
        assert_int_equal(close(sv[0]), 0);
}

static int setup(void **state) {
        return virt_init() < 0 ? -1 : 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_last_error_missing_domain),
                cmocka_unit_test(test_last_error_mapping_live),
                cmocka_unit_test(test_error_to_errno),
                cmocka_unit_test(test_lifecycle_events),
                cmocka_unit_test(test_timeouts),
                cmocka_unit_test(test_handles),
        };

        return cmocka_run_group_tests(tests, setup, NULL);
}

/* slow-guest.so: guests that take their time to shut down, for tests on libvirt's test driver.
 *
 * The test driver's guests power off the moment they are asked; a real guest takes its time, or
 * ignores the power button. Preloaded into arkd (LD_PRELOAD), this wraps virDomainShutdown(): the
 * call returns at once, as it does with a real guest, and the guest acts on it
 * ARK_SLOW_GUEST_MSEC ms later, unless it was powered off or started again meanwhile (a fresh
 * boot does not see an old button press). The tests see a graceful stop in progress, and one
 * forced off after the timeout. Nothing of this is in arkd: it sits at the hypervisor's edge, like
 * the test driver itself.
 *
 * The delayed shutdown runs from a libvirt timeout, i.e. in the thread and the event loop arkd
 * gave libvirt (virt-util's sd-event bridge), never from a thread of its own. */

#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

typedef struct PendingShutdown {
        virConnectPtr conn;
        unsigned char uuid[VIR_UUID_BUFLEN];
        unsigned id; /* the domain's id when asked: the running guest that was asked */
        int timer;
} PendingShutdown;

static int (*real_shutdown)(virDomainPtr dom);

static int delay_msec(void) {
        const char *e = getenv("ARK_SLOW_GUEST_MSEC");
        char *end;
        unsigned long v;

        if (!e || !*e)
                return 0;
        errno = 0;
        v = strtoul(e, &end, 10);
        if (errno != 0 || *end || v > INT32_MAX)
                return 0;
        return (int) v;
}

static void pending_free(void *opaque) {
        PendingShutdown *p = opaque;

        virConnectClose(p->conn);
        free(p);
}

static void on_timeout(int timer, void *opaque) {
        PendingShutdown *p = opaque;
        virDomainPtr dom;

        virEventRemoveTimeout(timer);
        dom = virDomainLookupByUUID(p->conn, p->uuid);
        if (!dom) {
                virResetLastError();
                return;
        }
        /* Still the boot that was asked (a domain that is off has no id). */
        if (virDomainGetID(dom) == p->id && real_shutdown(dom) < 0)
                virResetLastError();
        virDomainFree(dom);
}

/* Takes the place of libvirt's (this library is loaded first). */
int virDomainShutdown(virDomainPtr dom) {
        PendingShutdown *p;
        int msec = delay_msec();

        if (!real_shutdown)
                real_shutdown = (int (*)(virDomainPtr)) dlsym(RTLD_NEXT, "virDomainShutdown");
        if (!real_shutdown)
                return -1;
        if (msec == 0 || virDomainIsActive(dom) != 1)
                return real_shutdown(dom); /* as the driver does, errors included */

        p = calloc(1, sizeof(*p));
        if (!p || virDomainGetUUID(dom, p->uuid) < 0) {
                free(p);
                return -1;
        }
        p->id = virDomainGetID(dom);
        p->conn = virDomainGetConnect(dom);
        virConnectRef(p->conn);
        p->timer = virEventAddTimeout(msec, on_timeout, p, pending_free);
        if (p->timer < 0) {
                pending_free(p);
                return -1;
        }
        return 0;
}

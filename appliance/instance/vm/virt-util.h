#pragma once

/* libvirt at the edge: cleanup helpers for libvirt's object types, conversion of libvirt errors to
 * negative errno + message, and libvirt's event loop bridged into an sd-event loop.
 *
 * Everything here is single-threaded: call libvirt only from the thread that runs the sd-event
 * loop the bridge is attached to. Nothing here logs above debug. */

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <systemd/sd-event.h>

#include "basic/macro.h"

/* `_cleanup_(virConnectClosep)`, `_cleanup_(virDomainFreep)`, …: release a libvirt object when the
 * variable goes out of scope; NULL is ignored. */
DEFINE_TRIVIAL_CLEANUP_FUNC(virConnect, virConnectClose)
DEFINE_TRIVIAL_CLEANUP_FUNC(virDomain, virDomainFree)
DEFINE_TRIVIAL_CLEANUP_FUNC(virDomainSnapshot, virDomainSnapshotFree)
DEFINE_TRIVIAL_CLEANUP_FUNC(virStoragePool, virStoragePoolFree)
DEFINE_TRIVIAL_CLEANUP_FUNC(virStorageVol, virStorageVolFree)
DEFINE_TRIVIAL_CLEANUP_FUNC(virNetwork, virNetworkFree)
DEFINE_TRIVIAL_CLEANUP_FUNC(virNodeDevice, virNodeDeviceFree)
DEFINE_TRIVIAL_CLEANUP_FUNC(virSecret, virSecretFree)
DEFINE_TRIVIAL_CLEANUP_FUNC(virStream, virStreamFree)

/* Initializes libvirt (virInitialize) and silences its default error printing to stderr: errors
 * still land in virGetLastError() for virt_last_error(). Idempotent. Returns 0 or -EIO. */
int virt_init(void);

/* Maps a libvirt error to a negative errno (never 0): a missing object -> -ENOENT, an object that
 * already exists -> -EEXIST, a state conflict (VIR_ERR_OPERATION_INVALID, "domain is not
 * running") -> -EBUSY, bad XML or configuration -> -EINVAL, unsupported -> -EOPNOTSUPP, denied ->
 * -EACCES, timeout -> -ETIMEDOUT, no connection -> -ENOTCONN, a lost connection to the daemon ->
 * -ECONNRESET, anything else -> -EIO. NULL -> -EIO. */
int virt_error_to_errno(const virError *error);

/* Converts this thread's last libvirt error (virGetLastError()) with virt_error_to_errno() and
 * returns that negative errno. When ret_message is non-NULL it always receives a newly allocated
 * copy of libvirt's sentence ("Domain not found: no domain with matching name 'x'"), a generic
 * sentence if there is no error, or NULL on OOM. The libvirt error is left as it is. */
int virt_last_error(char **ret_message);

/* Makes libvirt use the sd-event loop `e` for its file-descriptor watches and timers (libvirt's
 * keepalive, remote connections, domain event dispatch), in this thread, with no thread of its
 * own. Call before opening connections. libvirt takes the implementation only once per process
 * (virEventRegisterImpl), so after virt_event_unregister() the bridge may be attached to another
 * loop but no other implementation can take over. Takes a reference on e.
 * Returns 0, -EBUSY when already attached to a loop or when libvirt already uses another event
 * implementation (e.g. virEventRegisterDefaultImpl() ran first), -ENOMEM. */
int virt_event_register_sd_event(sd_event *e);

/* Detaches the bridge from its loop: runs the free callbacks of watches libvirt removed and, for
 * watches still registered, frees their event sources and runs their free callbacks too (libvirt
 * can no longer be called back; its later remove calls fail harmlessly). Drops the loop reference.
 * Close every libvirt connection first. Safe to call when not attached. */
void virt_event_unregister(void);

#pragma once

/* Reclaim of lent GPUs on the live object graph.
 *
 * Admission: instance_pick_gpus() takes a snapshot and asks admission_decide() (admission.h,
 * with borrow.h's arithmetic) whether a request may take the GPUs it finds (a request that is
 * not preemptible must leave every other tenant's unused guarantee keepable) and, when the
 * requester is within its guarantee and too few GPUs are free, which borrowing preemptible
 * instances to stop, youngest first.
 *
 * Reclaim: CreateInstance then does not answer at once. reclaim_start() stops the victims
 * (gracefully, forced off after StopTimeoutSec), records each in the audit log with the reason,
 * and keeps the call; when every victim is down, their GPUs are released (the instance remembers
 * how many it lost and asks for them again when started) and the call is run again, now with
 * the GPUs free, and answered. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "instance.h"

typedef struct Manager Manager;

/* Called once the victims are down and their GPUs released: runs `call` again and answers it
 * (Manager.reclaim_current is the reclaim meanwhile, so its GPUs and name are not held against
 * it). Returns <0 with `error` set to have the call answered with that error. */
typedef int (*ReclaimContinue)(Manager *m, sd_bus_message *call, sd_bus_error *error);

/* Keeps `call` (by `tenant`, for instance `instance`, which will take `gpus`) until the victims
 * are down: from now on the victims and `gpus` are nobody else's to pick, nor `instance` as a
 * name. The victims are asked to stop from the event loop (after the call's own audit row);
 * each gets an audit row and the state reason "preempted: ...". When the reclaim fails, the
 * victims it stopped are started again. */
int reclaim_start(Manager *m, sd_bus_message *call, ReclaimContinue cont, const char *tenant,
                  const char *instance, const InstanceReclaim *req, sd_bus_error *error);
/* The requests of `tenant`'s waiting calls (not the one being answered): tenant_usage() counts
 * them as the tenant's, so quotas and guarantees see them (req->victims is not set). */
typedef void (*ReclaimRequestFunc)(const InstanceReclaim *req, void *userdata);
void reclaim_foreach_pending(Manager *m, const char *tenant, ReclaimRequestFunc cb, void *userdata);
/* Whether a waiting call will take the GPU at `address` / create an instance of that name. */
bool reclaim_reserved(Manager *m, const char *address);
bool reclaim_pending_name(Manager *m, const char *tenant, const char *name);
/* An instance changed state or went away: look at the waiting calls (from an idle event, not
 * now). */
void reclaim_kick(Manager *m);
/* Answers every waiting call with an error and sends the answers (arkd is stopping: call it
 * before leaving the event loop, while the bus is still there). */
void reclaim_abort_all(Manager *m);

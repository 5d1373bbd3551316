#pragma once

/* Borrowing and reclaim on the live object graph (borrow.h has the arithmetic).
 *
 * Admission: instance_pick_gpus() asks lending_* whether a request may take the GPUs it found
 * (a request that is not preemptible must leave every other tenant's unused guarantee keepable)
 * and, when the requester is within its guarantee and too few GPUs are free, which borrowing
 * preemptible instances to stop, youngest first.
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

/* GPUs tenant `tenant` is guaranteed and does not hold now (each guarantee counted up to what
 * its own GPUs use of it). 0 for an unknown tenant or one without guarantees. */
uint64_t lending_unused_guarantee(Manager *m, const char *tenant);

/* Whether the GPUs `picked` (addresses), given to `tenant`, are all within its unused
 * guarantees. */
bool lending_entitled(Manager *m, const char *tenant, char **picked);

/* The next instance to stop so that a request of `tenant` for GPUs of `model` (substring, NULL =
 * any) or at `addresses` (NULL = any) can be met: a preemptible instance of another tenant that
 * holds more GPUs than it is guaranteed, the youngest first, never one already being stopped nor
 * one in `chosen` (n_chosen of them). NULL when there is none; -ENOMEM as *ret_error. */
Instance *lending_next_victim(Manager *m, const char *tenant, const char *model, char *const *addresses,
                              Instance *const *chosen, size_t n_chosen, int *ret_error);

/* Whether, after `picked` go to `tenant` (and the `victims` are stopped), every other tenant's
 * unused GPU guarantee can still be met from the GPUs that are free or lent to preemptible
 * instances. 1 or 0, or a negative errno. */
int lending_guarantees_kept(Manager *m, const char *tenant, char **picked, Instance *const *victims, size_t n_victims);

/* Called once the victims are down and their GPUs released: runs `call` again and answers it
 * (Manager.reclaim_current is the reclaim meanwhile, so its GPUs and name are not held against
 * it). Returns <0 with `error` set to have the call answered with that error. */
typedef int (*ReclaimContinue)(Manager *m, sd_bus_message *call, sd_bus_error *error);

/* Keeps `call` (by `tenant`, for instance `instance`, which will take `gpus`) until the victims
 * are down: from now on the victims and `gpus` are nobody else's to pick, nor `instance` as a
 * name. The victims are asked to stop from the event loop (after the call's own audit row);
 * each gets an audit row and the state reason "preempted: ...". When the reclaim fails, the
 * victims it stopped are started again. */
int reclaim_start(Manager *m, sd_bus_message *call, ReclaimContinue cont, const char *tenant, const char *instance,
                  const InstanceReclaim *req, sd_bus_error *error);
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

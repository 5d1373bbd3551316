#pragma once

/* File modes of a tree that one daemon owns (arkd's state directory): closing it to other users.
 * libc only; nothing here logs. */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The most a path may keep of its mode: `path` is relative to the top of the walk ("." for the top
 * itself, "disks", "disks/x.qcow2"), `max` the permission bits (07777 mask) it may keep. With
 * dirs_below, the rule is for every directory below `path` (at any depth) instead of for `path`. */
typedef struct PermRule {
        const char *path;
        mode_t max;
        bool dirs_below;
} PermRule;

/* Called by perm_tighten_tree() for every entry whose mode it changed (error 0) and for every one
 * it could not look at or change (error a negative errno; old_mode 0 when it could not stat it).
 * relpath is relative to the top ("." for the top itself) and only valid during the call. */
typedef void (*perm_report_t)(const char *relpath, mode_t old_mode, mode_t new_mode, int error,
                              void *userdata);

/* Walks the tree at `top` (the top itself may be a symbolic link to a directory; nothing below it
 * is followed: a symbolic link is left as it is and never leads out of the tree) and clears, on
 * every directory and file, each permission bit that its rule's `max` (the first rule whose path
 * matches) or else `max` does not allow. It only ever removes bits, never adds any, and changes
 * no owner. Each entry is opened without following links (O_PATH | O_NOFOLLOW) and changed
 * through that descriptor, so an entry swapped for a link meanwhile is not followed either.
 * Mount points below the top are crossed. Trees deeper than 256 levels are reported (-ELOOP),
 * not walked. Returns the number of entries changed, or a negative errno when the top cannot be
 * opened (then nothing is reported). Entries it cannot fix are reported and skipped; the walk
 * goes on. */
int perm_tighten_tree(const char *top, mode_t max, const PermRule *rules, size_t n_rules,
                      perm_report_t report, void *userdata);

/* mkdir -p in which every directory it creates gets exactly `mode` (changed after mkdir(), so the
 * umask does not narrow it); existing components are left as they are. -ENOTDIR when the path or
 * a component exists and is not a directory (or a link to one). Does not log. */
int mkdir_p_mode(const char *path, mode_t mode);

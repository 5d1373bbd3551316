#pragma once

/* A/B system updates (docs/updates.md): two root slots, a unified kernel image (UKI) per slot on
 * the EFI system partition named the way systemd-boot counts boot attempts
 * (ark-<slot>-<version>+<tries left>[-<tries done>].efi, no counter once good). loader.conf sets no
 * default, so systemd-boot boots what sorts first: entries with tries left (or none counted)
 * before those without, then the newest version. An install verifies the whole signed bundle
 * first, then streams the root image into the inactive slot (verifying it again on the way), and
 * only then renames that slot's UKI into place with a try counter: power lost at any moment before
 * that leaves the running slot the one that boots. Nothing here knows about libvirt or D-Bus. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define UPDATE_SLOTS 2

/* Install progress: phase "verify" (the first pass, nothing written), then "write" (the slot). */
typedef void (*UpdateProgressFn)(const char *phase, uint64_t done, uint64_t total, void *userdata);

typedef struct UpdateLayout {
        const char *esp;                /* where EFI/Linux/ and loader/ are */
        const char *slot[UPDATE_SLOTS]; /* root partitions A and B (block devices, or image files) */
        const char *state_file;         /* ark-update's record (JSON): the last install and error */
        int booted;                     /* 0 = A, 1 = B, -1 = unknown */
        const char *version;            /* the running product version */
        const char *trust_dir;          /* trusted bundle keys */
        unsigned tries;                 /* boot attempts a new slot gets */
        UpdateProgressFn progress;      /* may be NULL */
        void *userdata;
} UpdateLayout;

typedef enum SlotState {
        SLOT_EMPTY, /* no boot entry */
        SLOT_GOOD,
        SLOT_TRYING, /* tries left */
        SLOT_BAD,    /* no tries left */
} SlotState;

typedef struct SlotInfo {
        SlotState state;
        char version[64];
        unsigned left, done; /* the counter, when trying or bad */
        char entry[256];     /* its UKI's file name */
} SlotInfo;

typedef struct UpdateStatus {
        SlotInfo slot[UPDATE_SLOTS];
        int default_slot; /* what systemd-boot boots next, -1 = none */
        int booted;
        char last_error[512];
        char last_install[128]; /* "b 1.2.0" */
} UpdateStatus;

const char *slot_name(int slot); /* "a", "b" */
const char *slot_state_to_string(SlotState s);

/* Reads the ESP and the record. */
int update_status(const UpdateLayout *l, UpdateStatus *ret, char **ret_error);
/* Installs the bundle into the slot that did not boot. -EKEYREJECTED / -EBADMSG / -EINVAL for a
 * bundle that is not a trusted update of this product (nothing written), -ESTALE for a downgrade
 * or the running version (unless force), -EIO and friends when writing fails (the running slot
 * still boots). */
int update_install(const UpdateLayout *l, const char *bundle, bool force, char **ret_error);
/* The booted slot is healthy: its entry loses its counter. */
int update_mark_good(const UpdateLayout *l, char **ret_error);
/* Boot the other slot next (it must be good); the booted one is marked bad (no tries left). */
int update_rollback(const UpdateLayout *l, char **ret_error);

/* Whether the booted slot is on trial, so that a reboot (the boot check's, when arkd does not
 * become healthy) uses one of its tries or brings the other slot back: it has tries left, or it
 * has none and the other slot would boot. False when there is nothing better to reboot into. */
bool update_on_trial(const UpdateStatus *st, int booted);

/* The root slots on the disk the running root is on (root_dev, the st_dev of "/"): its sibling
 * partitions named ark-root-a and ark-root-b, as /dev/NAME (caller frees). Not by label alone:
 * a second Ark disk (a stick flashed with the image) has partitions of the same names. -ENODEV
 * when the root is not a partition of such a disk, -errno when sysfs cannot be read. */
int update_find_slots(const char *sysfs, dev_t root_dev, char **ret_a, char **ret_b);

/* "1.10.0" > "1.9.2": dotted numbers compared as numbers, other parts as strings. */
int version_compare(const char *a, const char *b);
/* A product version an update may carry: dotted numbers ("1.2.0"), each at most 9 digits, under
 * 64 bytes. Only these order the same way here, in systemd-boot and in sort -V. */
bool version_is_valid(const char *v);
/* Parses a UKI file name; -EINVAL when it is not one of Ark's. */
int entry_parse(const char *name, int *ret_slot, SlotInfo *ret);

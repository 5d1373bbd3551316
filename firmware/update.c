/* A/B system updates (update.h). */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/sysmacros.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "update.h"
#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "shared/bundle.h"

#define ROOT_FILE "root.img"
#define UKI_FILE "ark.efi" /* a kernel image for either slot; "ark-a.efi" / "ark-b.efi" for one */

const char *slot_name(int slot) {
        return slot == 0 ? "a" : slot == 1 ? "b" : "?";
}

const char *slot_state_to_string(SlotState s) {
        static const char *const t[] = { "empty", "good", "trying", "bad" };

        return s >= 0 && s <= SLOT_BAD ? t[s] : "?";
}

int version_compare(const char *a, const char *b) {
        while (*a || *b) {
                char *ea, *eb;
                unsigned long x = strtoul(a, &ea, 10), y = strtoul(b, &eb, 10);
                size_t la, lb;
                int c;

                if (ea != a && eb != b) {
                        if (x != y)
                                return x < y ? -1 : 1;
                        a = ea;
                        b = eb;
                } else {
                        la = strcspn(a, ".");
                        lb = strcspn(b, ".");
                        c = strncmp(a, b, MIN(la, lb));
                        if (c != 0 || la != lb)
                                return c != 0 ? (c < 0 ? -1 : 1) : (la < lb ? -1 : 1);
                        a += la;
                        b += lb;
                }
                if (*a == '.')
                        a++;
                if (*b == '.')
                        b++;
        }
        return 0;
}

bool version_is_valid(const char *v) {
        unsigned digits = 0; /* of the current component */

        if (strlen(v) >= 64)
                return false;
        for (const char *p = v; *p; p++) {
                if (*p == '.' && digits > 0)
                        digits = 0;
                else if (*p >= '0' && *p <= '9' && digits < 9)
                        digits++;
                else
                        return false;
        }
        return digits > 0;
}

/* ark-<a|b>-<version>[+<left>[-<done>]].efi */
int entry_parse(const char *name, int *ret_slot, SlotInfo *ret) {
        SlotInfo s = { .state = SLOT_GOOD };
        const char *v, *plus, *end;
        size_t vl;

        if (!startswith(name, "ark-") || strlen(name) < 10 || !endswith(name, ".efi") || name[5] != '-' ||
            (name[4] != 'a' && name[4] != 'b'))
                return -EINVAL;
        v = name + 6;
        end = name + strlen(name) - 4;
        /* systemd-boot takes the counter from the last '+'. */
        plus = memrchr(v, '+', (size_t) (end - v));
        vl = (size_t) ((plus ?: end) - v);
        if (vl == 0 || vl >= sizeof(s.version))
                return -EINVAL;
        memcpy(s.version, v, vl);
        if (!version_is_valid(s.version))
                return -EINVAL;
        if (plus) {
                char tail[32];
                unsigned left = 0, done = 0;
                int n = 0;

                snprintf(tail, sizeof(tail), "%.*s", (int) (end - plus - 1), plus + 1);
                if (sscanf(tail, "%u-%u%n", &left, &done, &n) == 2 && tail[n] == 0)
                        ;
                else if (sscanf(tail, "%u%n", &left, &n) == 1 && tail[n] == 0)
                        done = 0;
                else
                        return -EINVAL;
                s.left = left;
                s.done = done;
                s.state = left > 0 ? SLOT_TRYING : SLOT_BAD;
        }
        snprintf(s.entry, sizeof(s.entry), "%s", name);
        *ret_slot = name[4] == 'a' ? 0 : 1;
        *ret = s;
        return 0;
}

static char *uki_dir(const UpdateLayout *l) {
        return strprintf("%s/EFI/Linux", l->esp);
}

static int read_record(const UpdateLayout *l, json_t **ret) {
        json_t *j = json_load_file(l->state_file, 0, NULL);

        *ret = j && json_is_object(j) ? j : json_object();
        if (j && !json_is_object(j))
                json_decref(j);
        return *ret ? 0 : -ENOMEM;
}

/* The directory of the record (and its lock). */
static int make_state_dir(const UpdateLayout *l) {
        _cleanup_free_ char *dir = strdup(l->state_file);
        char *slash;

        if (!dir)
                return -ENOMEM;
        slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = 0;
                return mkdir_p(dir, 0755);
        }
        return 0;
}

static int write_record(const UpdateLayout *l, json_t *j) {
        _cleanup_free_ char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);

        if (!text)
                return -ENOMEM;
        (void) make_state_dir(l);
        return write_string_file(l->state_file, text, WRITE_CREATE | WRITE_ATOMIC | WRITE_NEWLINE);
}

/* Notes the outcome of an operation in the record (error NULL: it went well). */
static void record(const UpdateLayout *l, const char *key, const char *value, const char *error) {
        json_t *j = NULL;

        if (read_record(l, &j) < 0)
                return;
        if (key)
                json_object_set_new(j, key, json_string(value));
        json_object_set_new(j, "last_error", error ? json_string(error) : json_string(""));
        (void) write_record(l, j);
        json_decref(j);
}

/* One ark-update at a time changes the slots: an install from the console and another over SSH
 * would write the same inactive slot. The lock is the record's own lock file, held until
 * ret_fd is closed; -EBUSY (with the sentence) when another holds it. */
static int lock_slots(const UpdateLayout *l, int *ret_fd, char **ret_error) {
        _cleanup_free_ char *path = strprintf("%s.lock", l->state_file);
        int fd;

        if (!path)
                return -ENOMEM;
        (void) make_state_dir(l);
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
        if (fd < 0)
                return set_error_sentence(ret_error, -errno, "Cannot open the lock %s: %s.", path,
                                          strerror(errno));
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                int r = -errno;

                close(fd);
                if (r == -EWOULDBLOCK)
                        return set_error_sentence(ret_error, -EBUSY,
                                                  "Another ark-update is installing or changing "
                                                  "the slots; try again when it has finished.");
                return set_error_sentence(ret_error, r, "Cannot lock %s: %s.", path, strerror(-r));
        }
        *ret_fd = fd;
        return 0;
}

/* A change of the ESP's directory reaches the disk before anything else happens: on FAT a rename
 * is a new entry and the old one's removal, and the boot order is the names. */
static int sync_dir(const char *dir) {
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0 || fsync(fd) < 0)
                return -errno;
        return 0;
}

/* Sets (value NULL: removes) one key of the record, the rest as it was. */
static void record_set(const UpdateLayout *l, const char *key, const char *value) {
        json_t *j = NULL;

        if (read_record(l, &j) < 0)
                return;
        if (value)
                json_object_set_new(j, key, json_string(value));
        else
                json_object_del(j, key);
        (void) write_record(l, j);
        json_decref(j);
}

static int rename_entry(const UpdateLayout *l, const char *from, const char *to) {
        _cleanup_free_ char *dir = uki_dir(l), *a = NULL, *b = NULL;

        if (!dir)
                return -ENOMEM;
        a = strprintf("%s/%s", dir, from);
        b = strprintf("%s/%s", dir, to);
        if (!a || !b)
                return -ENOMEM;
        if (rename(a, b) < 0)
                return -errno;
        return sync_dir(dir);
}

/* What systemd-boot boots with no default set: entries with tries left or no counter before those
 * with none left, then the newest version (IMAGE_VERSION in the kernel image's .osrel) first, then
 * the greater name (b before a). */
static int boots_first(const UpdateStatus *st) {
        int best = -1;

        for (int k = 0; k < UPDATE_SLOTS; k++) {
                const SlotInfo *s = &st->slot[k], *b;
                int c;

                if (s->state == SLOT_EMPTY)
                        continue;
                if (best < 0) {
                        best = k;
                        continue;
                }
                b = &st->slot[best];
                if ((s->state == SLOT_BAD) != (b->state == SLOT_BAD)) {
                        if (b->state == SLOT_BAD)
                                best = k;
                        continue;
                }
                c = version_compare(s->version, b->version);
                if (c > 0 || (c == 0 && k > best))
                        best = k;
        }
        return best;
}

int update_status(const UpdateLayout *l, UpdateStatus *ret, char **ret_error) {
        _cleanup_free_ char *dir = uki_dir(l);
        UpdateStatus st = { .default_slot = -1, .booted = l->booted };
        json_t *j = NULL;
        DIR *d;
        struct dirent *de;

        if (!dir)
                return -ENOMEM;
        d = opendir(dir);
        while (d && (de = readdir(d))) {
                SlotInfo s;
                int slot;

                if (entry_parse(de->d_name, &slot, &s) < 0)
                        continue;
                /* The newest entry of a slot is what it holds. */
                if (st.slot[slot].state == SLOT_EMPTY ||
                    version_compare(s.version, st.slot[slot].version) > 0)
                        st.slot[slot] = s;
        }
        if (d)
                closedir(d);
        st.default_slot = boots_first(&st);
        if (read_record(l, &j) >= 0) {
                snprintf(st.last_error, sizeof(st.last_error), "%s",
                         strempty(json_string_value(json_object_get(j, "last_error"))));
                snprintf(st.last_install, sizeof(st.last_install), "%s",
                         strempty(json_string_value(json_object_get(j, "last_install"))));
                json_decref(j);
        }
        *ret = st;
        return 0;
}

typedef struct Install {
        const UpdateLayout *l;
        int slot;
        char *uki_tmp;
        const char *uki_file;  /* the bundle's kernel image for this slot */
        const Manifest *first; /* what the first pass verified */
        bool wrote_root, wrote_uki;
} Install;

static int open_target(const ManifestFile *f, void *userdata, char **ret_error) {
        Install *in = userdata;
        const char *target;
        struct stat st;
        int fd;

        if (streq(f->path, ROOT_FILE))
                target = in->l->slot[in->slot];
        else if (streq(f->path, in->uki_file))
                target = in->uki_tmp;
        else
                return -ENOENT; /* release notes and the like: checked, not written */
        /* A partition is written in place, and never while mounted (O_EXCL: the running root would
         * be); an image file (tests) is replaced. */
        fd = open(target,
                  O_WRONLY | O_CLOEXEC | O_NOCTTY |
                          (stat(target, &st) >= 0 && S_ISBLK(st.st_mode) ? O_EXCL : O_CREAT | O_TRUNC),
                  0600);
        if (fd < 0)
                return set_error_sentence(ret_error, -errno, "Cannot write %s: %s.", target,
                                          strerror(errno));
        if (streq(f->path, ROOT_FILE))
                in->wrote_root = true;
        else
                in->wrote_uki = true;
        return fd;
}

/* The bundle's manifest, checked as an update this system may take. */
static int progress_verify(uint64_t done, uint64_t total, void *userdata) {
        const UpdateLayout *l = userdata;

        l->progress("verify", done, total, l->userdata);
        return 0;
}

static int progress_write(uint64_t done, uint64_t total, void *userdata) {
        const Install *in = userdata;

        in->l->progress("write", done, total, in->l->userdata);
        return 0;
}

/* The slot's own kernel image (its command line names its root), else one for either slot. */
static const char *slot_uki(int slot) {
        return slot == 0 ? "ark-a.efi" : "ark-b.efi";
}

static const char *manifest_uki(const Manifest *m, int slot) {
        const char *any = NULL;

        for (size_t k = 0; k < m->n_files; k++) {
                if (streq(m->files[k].path, slot_uki(slot)))
                        return slot_uki(slot);
                if (streq(m->files[k].path, UKI_FILE))
                        any = UKI_FILE;
        }
        return any;
}

static int check_manifest(const UpdateLayout *l, const char *bundle, bool force, Manifest **ret,
                          char **ret_error) {
        _cleanup_close_ int fd = open(bundle, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        BundleReadOptions o = { .trust_dir = l->trust_dir,
                                .dest_fd = -1,
                                .progress = l->progress ? progress_verify : NULL,
                                .userdata = (void *) l };
        BundleResult res = {};
        bool root = false;
        const char *uki;
        int r;

        if (fd < 0)
                return set_error_sentence(ret_error, -errno, "Cannot open %s: %s.", bundle, strerror(errno));
        /* All of it, signature and every hash, before a byte goes anywhere. */
        r = bundle_read(fd, bundle, &o, &res, ret_error);
        if (r < 0)
                return r;
        if (res.manifest->kind != BUNDLE_UPDATE) {
                r = set_error_sentence(ret_error, -EINVAL, "%s is a %s bundle, not a system update.", bundle,
                                       bundle_kind_to_string(res.manifest->kind));
                goto out;
        }
        if (!version_is_valid(res.manifest->version)) {
                r = set_error_sentence(ret_error, -EINVAL,
                                       "Update version '%s' is not dotted numbers such as 1.2.0.",
                                       printable(res.manifest->version));
                goto out;
        }
        if (!strv_contains(res.manifest->compatible, l->version)) {
                _cleanup_free_ char *list = strv_join(res.manifest->compatible, ", ");
                r = set_error_sentence(ret_error, -EINVAL, "Update %s is for %s, not for the running %s.",
                                       res.manifest->version, strna(list), l->version);
                goto out;
        }
        for (size_t k = 0; k < res.manifest->n_files; k++)
                root = root || streq(res.manifest->files[k].path, ROOT_FILE);
        uki = manifest_uki(res.manifest, 1 - l->booted);
        if (!root || !uki) {
                r = set_error_sentence(ret_error, -EINVAL, "Update %s lacks %s.", res.manifest->version,
                                       !root ? ROOT_FILE " (the root image)"
                                               : (1 - l->booted) == 0
                                               ? "ark-a.efi or ark.efi (the kernel image)"
                                               : "ark-b.efi or ark.efi (the kernel image)");
                goto out;
        }
        if (!force && version_compare(res.manifest->version, l->version) <= 0) {
                r = set_error_sentence(
                        ret_error, -ESTALE, "Update %s is %s the running %s; --force installs it anyway.",
                        res.manifest->version,
                        version_compare(res.manifest->version, l->version) == 0 ? "the same as"
                                                                                : "older than",
                        l->version);
                goto out;
        }
        *ret = TAKE_PTR(res.manifest);
        r = 0;
out:
        bundle_result_done(&res);
        return r;
}

/* The second pass must read the bundle the first one checked: a medium that answers differently
 * the second time (or a file swapped in between) is refused before a byte is written. */
static int admit_same(const Manifest *m, void *userdata, char **ret_error) {
        const Install *in = userdata;
        _cleanup_free_ char *a = NULL, *b = NULL;

        if (manifest_format(in->first, &a) < 0 || manifest_format(m, &b) < 0)
                return -ENOMEM;
        if (!streq(a, b))
                return set_error_sentence(ret_error, -EBADMSG,
                                          "The bundle changed between its check and its installation "
                                          "(the medium or the file); nothing was written.");
        return 0;
}

/* Removes every boot entry of the slot, whatever its name says, and syncs the directory: from
 * here on nothing boots the slot about to be written. */
static int forget_slot(const UpdateLayout *l, int slot, char **ret_error) {
        _cleanup_free_ char *dir = uki_dir(l), *prefix = strprintf("ark-%s-", slot_name(slot));
        DIR *d;
        struct dirent *de;
        int r = 0;

        if (!dir || !prefix)
                return -ENOMEM;
        d = opendir(dir);
        if (!d)
                return errno == ENOENT
                        ? 0
                        : set_error_sentence(ret_error, -errno, "Cannot read %s: %s.", dir, strerror(errno));
        while ((de = readdir(d))) {
                _cleanup_free_ char *path = NULL;

                if (!startswith(de->d_name, prefix) || !endswith(de->d_name, ".efi"))
                        continue;
                path = strprintf("%s/%s", dir, de->d_name);
                if (!path || unlink(path) < 0) {
                        r = set_error_sentence(ret_error, path ? -errno : -ENOMEM, "Cannot remove %s: %s.",
                                               strna(path), strerror(path ? errno : ENOMEM));
                        break;
                }
        }
        closedir(d);
        if (r < 0)
                return r;
        r = sync_dir(dir);
        return r < 0 ? set_error_sentence(ret_error, r, "Cannot sync %s: %s.", dir, strerror(-r)) : 0;
}

/* The running slot was demoted by a forced install that is being replaced: good again. */
static int give_back_place(const UpdateLayout *l, char **ret_error) {
        UpdateStatus st;
        const SlotInfo *b;
        char good[300];
        int r;

        r = update_status(l, &st, NULL);
        if (r < 0)
                return r;
        b = &st.slot[l->booted];
        snprintf(good, sizeof(good), "ark-%s-%s.efi", slot_name(l->booted), b->version);
        r = rename_entry(l, b->entry, good);
        if (r < 0)
                return set_error_sentence(ret_error, r, "Cannot give %s its place back: %s.", b->entry,
                                          strerror(-r));
        record_set(l, "demoted", NULL);
        return 0;
}

/* The running slot must be one to come back to: good. A forced older install of ours took its
 * tries away ("demoted" in the record): 1, and an install that replaces that one gives them back
 * (give_back_place), once the new bundle is accepted. 0 when the slot is good (or force). */
static int check_running(const UpdateLayout *l, bool force, char **ret_error) {
        _cleanup_free_ char *err = NULL;
        UpdateStatus st;
        const SlotInfo *b;
        char was[128];
        json_t *j = NULL;
        bool demoted = false;
        int r;

        r = update_status(l, &st, &err);
        if (r < 0)
                return set_error_sentence(ret_error, r, "%s", strna(err));
        b = &st.slot[l->booted];
        snprintf(was, sizeof(was), "%s %s", slot_name(l->booted), b->version);
        if (b->state == SLOT_BAD && read_record(l, &j) >= 0) {
                demoted = streq(strempty(json_string_value(json_object_get(j, "demoted"))), was);
                json_decref(j);
        }
        if (demoted)
                return 1;
        if (b->state == SLOT_GOOD || force)
                return 0;
        return set_error_sentence(
                ret_error, -EBUSY,
                "The running slot %s (%s) is %s, not confirmed good: an update would overwrite the only "
                "slot to go back to. Confirm it first (ark-update mark-good once it is healthy) or "
                "go back (ark-update rollback); --force installs anyway.",
                slot_name(l->booted), b->state == SLOT_EMPTY ? "unknown" : b->version,
                b->state == SLOT_TRYING ? "on trial" : slot_state_to_string(b->state));
}

int update_install(const UpdateLayout *l, const char *bundle, bool force, char **ret_error) {
        _cleanup_(manifest_freep) Manifest *m = NULL;
        _cleanup_free_ char *dir = uki_dir(l), *final = NULL, *tmp = NULL;
        _cleanup_close_ int fd = -EBADF, lock = -EBADF;
        BundleReadOptions o = { .trust_dir = l->trust_dir, .dest_fd = -1, .sync = true };
        BundleResult res = {};
        Install in = { .l = l };
        UpdateStatus st;
        int r, demoted;

        if (!dir)
                return -ENOMEM;
        if (l->booted < 0 || l->booted >= UPDATE_SLOTS)
                return set_error_sentence(ret_error, -ENXIO,
                                          "Which slot booted is unknown (ark.slot= on the kernel command "
                                          "line); not installing.");
        r = lock_slots(l, &lock, ret_error);
        if (r < 0)
                return r;
        r = demoted = check_running(l, force, ret_error);
        if (r >= 0)
                r = check_manifest(l, bundle, force, &m, ret_error);
        /* Accepted: a running slot a forced install had demoted is good again before that install
         * is overwritten (a refused bundle leaves the forced one as it was). */
        if (r >= 0 && demoted)
                r = give_back_place(l, ret_error);
        if (r < 0) {
                record(l, NULL, NULL, ret_error ? *ret_error : "refused");
                return r;
        }
        in.slot = 1 - l->booted;
        in.uki_file = manifest_uki(m, in.slot);
        in.first = m;
        (void) mkdir_p(dir, 0755);
        tmp = strprintf("%s/.ark-update-%s.efi.tmp", dir, slot_name(in.slot));
        final = strprintf("%s/ark-%s-%s+%u.efi", dir, slot_name(in.slot), m->version, l->tries);
        if (!tmp || !final)
                return -ENOMEM;
        in.uki_tmp = tmp;
        /* The inactive slot is not bootable from here on: its old entries go first. */
        r = forget_slot(l, in.slot, ret_error);
        if (r < 0) {
                record(l, NULL, NULL, *ret_error);
                return r;
        }
        /* Stream it again into place, checking every hash on the way (the medium may change). */
        fd = open(bundle, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return set_error_sentence(ret_error, -errno, "Cannot open %s: %s.", bundle, strerror(errno));
        o.open_file = open_target;
        o.admit = admit_same;
        o.userdata = &in;
        if (l->progress)
                o.progress = progress_write;
        r = bundle_read(fd, bundle, &o, &res, ret_error);
        bundle_result_done(&res);
        if (r >= 0 && (!in.wrote_root || !in.wrote_uki))
                r = set_error_sentence(ret_error, -EBADMSG, "Update %s wrote no %s; nothing of it boots.",
                                       m->version, !in.wrote_root ? "root image" : "kernel image");
        if (r < 0) {
                (void) unlink(tmp);
                record(l, NULL, NULL, ret_error ? *ret_error : "install failed");
                return r;
        }
        /* Bootable: the kernel image under its counted name, then the default pointed at it. */
        if (rename(tmp, final) < 0) {
                r = -errno;
                (void) unlink(tmp);
                return set_error_sentence(ret_error, r, "Cannot install %s: %s.", final, strerror(-r));
        }
        (void) sync_dir(dir);
        /* An older (or the same) version installed on purpose sorts after the running one: the running
         * slot goes to the end of the line (no tries left) so the new one boots next. Should the new
         * one never come up, systemd-boot boots the newest of two slots without tries, this one. The
         * record remembers it was good, for an install that replaces this one. */
        if (update_status(l, &st, NULL) >= 0 && st.default_slot != in.slot &&
            st.slot[l->booted].state != SLOT_EMPTY) {
                char last[300], was[128];

                snprintf(was, sizeof(was), "%s %s", slot_name(l->booted), st.slot[l->booted].version);
                record_set(l, "demoted", was);
                snprintf(last, sizeof(last), "ark-%s-%s+0-%u.efi", slot_name(l->booted),
                         st.slot[l->booted].version, st.slot[l->booted].done);
                r = rename_entry(l, st.slot[l->booted].entry, last);
                if (r < 0)
                        return set_error_sentence(ret_error, r, "Cannot put %s after the new slot: %s.",
                                                  st.slot[l->booted].entry, strerror(-r));
        }
        {
                char what[128];

                snprintf(what, sizeof(what), "%s %s", slot_name(in.slot), m->version);
                record(l, "last_install", what, NULL);
        }
        return 0;
}

/* Back on a good slot while the other holds the last install with no tries left: systemd-boot
 * gave up on it. The record says so (once), for `ark-update status` and the console. */
static void note_fallback(const UpdateLayout *l, const UpdateStatus *st) {
        int other = 1 - l->booted;
        const SlotInfo *o = &st->slot[other], *b = &st->slot[l->booted];
        char installed[128], what[512];

        if (o->state != SLOT_BAD || b->state == SLOT_EMPTY)
                return;
        snprintf(installed, sizeof(installed), "%s %s", slot_name(other), o->version);
        if (!streq(st->last_install, installed))
                return;
        snprintf(what, sizeof(what),
                 "Update %s in slot %s did not become healthy in %u %s; slot %s (%s) booted again.",
                 o->version, slot_name(other), o->done, o->done == 1 ? "try" : "tries", slot_name(l->booted),
                 b->version);
        if (!streq(st->last_error, what))
                record(l, NULL, NULL, what);
}

int update_mark_good(const UpdateLayout *l, char **ret_error) {
        UpdateStatus st;
        SlotInfo *s;
        char good[300];
        _cleanup_close_ int lock = -EBADF;
        int r;

        r = lock_slots(l, &lock, ret_error);
        if (r < 0)
                return r;
        r = update_status(l, &st, ret_error);
        if (r < 0)
                return r;
        if (l->booted < 0)
                return set_error_sentence(ret_error, -ENXIO, "Which slot booted is unknown.");
        note_fallback(l, &st);
        s = &st.slot[l->booted];
        if (s->state == SLOT_GOOD)
                return 0;
        if (s->state == SLOT_EMPTY)
                return set_error_sentence(ret_error, -ENOENT, "Slot %s has no boot entry.",
                                          slot_name(l->booted));
        snprintf(good, sizeof(good), "ark-%s-%s.efi", slot_name(l->booted), s->version);
        r = rename_entry(l, s->entry, good);
        if (r < 0)
                return set_error_sentence(ret_error, r, "Cannot mark %s good: %s.", s->entry, strerror(-r));
        record_set(l, "demoted", NULL);
        record(l, NULL, NULL, NULL);
        return 0;
}

int update_rollback(const UpdateLayout *l, char **ret_error) {
        UpdateStatus st;
        _cleanup_close_ int lock = -EBADF;
        int other, r;

        r = lock_slots(l, &lock, ret_error);
        if (r < 0)
                return r;
        r = update_status(l, &st, ret_error);
        if (r < 0)
                return r;
        if (l->booted < 0)
                return set_error_sentence(ret_error, -ENXIO, "Which slot booted is unknown.");
        other = 1 - l->booted;
        if (st.slot[other].state != SLOT_GOOD)
                return set_error_sentence(ret_error, -ENOENT,
                                          "Slot %s holds no good system to go back to (it is %s).",
                                          slot_name(other), slot_state_to_string(st.slot[other].state));
        /* The booted one: no tries left, so nothing boots it by itself again. */
        if (st.slot[l->booted].state != SLOT_EMPTY) {
                char bad[300];

                snprintf(bad, sizeof(bad), "ark-%s-%s+0-%u.efi", slot_name(l->booted),
                         st.slot[l->booted].version, st.slot[l->booted].done + 1);
                r = rename_entry(l, st.slot[l->booted].entry, bad);
                if (r < 0)
                        return set_error_sentence(ret_error, r, "Cannot mark %s bad: %s.",
                                                  st.slot[l->booted].entry, strerror(-r));
        }
        record_set(l, "demoted", NULL);
        record(l, NULL, NULL, NULL);
        return 0;
}

bool update_on_trial(const UpdateStatus *st, int booted) {
        const SlotInfo *b, *o;

        if (booted < 0 || booted >= UPDATE_SLOTS)
                return false;
        b = &st->slot[booted];
        o = &st->slot[1 - booted];
        if (b->state == SLOT_TRYING)
                return true;
        /* Out of tries but booted anyway: only worth a reboot when the other slot would boot. */
        return b->state == SLOT_BAD && (o->state == SLOT_GOOD || o->state == SLOT_TRYING);
}

/* PARTNAME= of a partition's uevent in sysfs, into buf ("" when it has none). */
static void partname(const char *part_dir, char *buf, size_t size) {
        _cleanup_free_ char *path = strprintf("%s/uevent", part_dir), *text = NULL;
        const char *p;
        size_t n;

        buf[0] = 0;
        if (!path || read_full_file(path, &text, &n) < 0)
                return;
        for (p = text; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
                if (startswith(p, "PARTNAME=")) {
                        snprintf(buf, size, "%.*s", (int) strcspn(p + 9, "\n"), p + 9);
                        return;
                }
}

int update_find_slots(const char *sysfs, dev_t root_dev, char **ret_a, char **ret_b) {
        _cleanup_free_ char *link = strprintf("%s/dev/block/%u:%u", sysfs, major(root_dev), minor(root_dev)),
                            *part = NULL, *disk = NULL;
        char *found[UPDATE_SLOTS] = {};
        DIR *d;
        struct dirent *de;
        char *slash;

        if (!link)
                return -ENOMEM;
        part = realpath(link, NULL);
        if (!part)
                return -errno;
        disk = strdup(part);
        if (!disk)
                return -ENOMEM;
        slash = strrchr(disk, '/');
        if (!slash || slash == disk)
                return -ENODEV;
        *slash = 0;
        /* The root is a partition of a disk: its siblings are the other partitions. */
        {
                _cleanup_free_ char *is_part = strprintf("%s/partition", part);

                if (!is_part || !file_exists(is_part))
                        return -ENODEV;
        }
        d = opendir(disk);
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                _cleanup_free_ char *dir = strprintf("%s/%s", disk, de->d_name), *is_part = NULL;
                char name[64];

                if (de->d_name[0] == '.' || !dir)
                        continue;
                is_part = strprintf("%s/partition", dir);
                if (!is_part || !file_exists(is_part))
                        continue;
                partname(dir, name, sizeof(name));
                for (int k = 0; k < UPDATE_SLOTS; k++)
                        if (streq(name, k == 0 ? "ark-root-a" : "ark-root-b") && !found[k])
                                found[k] = strprintf("/dev/%s", de->d_name);
        }
        closedir(d);
        if (!found[0] || !found[1]) {
                free(found[0]);
                free(found[1]);
                return -ENODEV;
        }
        *ret_a = found[0];
        *ret_b = found[1];
        return 0;
}

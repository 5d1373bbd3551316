/* Tests for firmware/update: the A/B slot state machine against image files as slots and an ESP
 * directory, with systemd-boot's boot counting emulated here (it renames the chosen entry
 * +N -> +(N-1)-1 on every attempt and skips entries with no tries left): a good update boots and is
 * marked good; a bad one is tried N times and the old slot boots again by itself; interrupted,
 * tampered, untrusted, wrong-product and downgrade bundles leave the slots as they were. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmocka.h>

#include "tmpdir.h"
#include "../../firmware/device-firmware.h"
#include "../../firmware/update.h"
#include "shared/bundle.h"
#include "shared/crypto.h"
#include "shared/trust.h"

static char *dir, *esp, *slot_a, *slot_b, *state, *trust, *key;

static int setup(void **s) {
        _cleanup_free_ char *prefix = NULL, *pub = NULL, *pem = NULL, *err = NULL;
        char id[KEY_ID_HEX];
        size_t n;

        if (tmp_root_setup(s) < 0)
                return -1;
        dir = make_tmpdir();
        esp = join(dir, "esp");
        slot_a = path_join(dir, "root-a.img");
        slot_b = path_join(dir, "root-b.img");
        state = path_join(dir, "state/state.json");
        trust = path_join(dir, "trust");
        prefix = path_join(dir, "vendor");
        key = strprintf("%s.key", prefix);
        pub = strprintf("%s.pub", prefix);
        if (ark_key_generate(prefix, id, &err) < 0 || read_full_file(pub, &pem, &n) < 0 ||
            trust_add(trust, pub, pem, n, id, &err) < 0)
                return -1;
        return 0;
}

static int teardown(void **s) {
        _cleanup_tmpdir_ char *d = dir;

        free(esp);
        free(slot_a);
        free(slot_b);
        free(state);
        free(trust);
        free(key);
        return tmp_root_teardown(s);
}

static UpdateLayout layout(int booted, const char *running) {
        return (UpdateLayout) { .esp = esp,
                                .slot = { slot_a, slot_b },
                                .state_file = state,
                                .booted = booted,
                                .version = running,
                                .trust_dir = trust,
                                .tries = 3 };
}

static bool per_slot_uki; /* bundles carry ark-a.efi and ark-b.efi instead of ark.efi */

/* A fresh appliance: slot A holds 1.0.0 and is good and boots; slot B holds old bytes. */
static void fresh(void) {
        _cleanup_free_ char *linux_dir = strprintf("%s/EFI/Linux", esp), *good = NULL, *loader = NULL;

        (void) rm_rf(esp);
        (void) unlink(state);
        assert_int_equal(mkdir_p(linux_dir, 0755), 0);
        good = strprintf("%s/ark-a-1.0.0.efi", linux_dir);
        loader = strprintf("%s/loader/loader.conf", esp);
        assert_int_equal(write_string_file(good, "uki-a", WRITE_CREATE), 0);
        {
                _cleanup_free_ char *ldir = strprintf("%s/loader", esp);
                assert_int_equal(mkdir_p(ldir, 0755), 0);
        }
        assert_int_equal(write_string_file(loader, "timeout 0\n", WRITE_CREATE), 0);
        assert_int_equal(write_string_file(slot_a, "root-a-1.0.0", WRITE_CREATE), 0);
        assert_int_equal(write_string_file(slot_b, "old bytes of slot b", WRITE_CREATE), 0);
}

/* An update bundle of `version` for `compatible`, root.img of n pseudo-random bytes. */
static char *make_update(const char *version, const char *compatible, size_t n, const char *with_key) {
        _cleanup_free_ char *payload = strprintf("%s/payload-%s", dir, version), *root = NULL, *uki = NULL,
                            *err = NULL;
        char *out = strprintf("%s/update-%s-%s.ark", dir, version, compatible);
        char *compat[] = { (char *) compatible, NULL };
        BundleCreateOptions o = { .kind = BUNDLE_UPDATE,
                                  .name = "ark",
                                  .version = version,
                                  .key_path = with_key ?: key,
                                  .dir = payload,
                                  .output = out,
                                  .compatible = compat };
        uint8_t *buf = malloc(n);
        FILE *f;

        assert_non_null(buf);
        for (size_t k = 0; k < n; k++)
                buf[k] = (uint8_t) (k * 2654435761u >> 13);
        (void) unlink(out);
        (void) rm_rf(payload);
        assert_int_equal(mkdir_p(payload, 0755), 0);
        root = path_join(payload, "root.img");
        uki = path_join(payload, "ark.efi");
        f = fopen(root, "we");
        assert_int_equal(fwrite(buf, 1, n, f), n);
        fclose(f);
        free(buf);
        if (per_slot_uki)
                for (int k = 0; k < 2; k++) {
                        _cleanup_free_ char *p = strprintf("%s/ark-%s.efi", payload, slot_name(k)),
                                            *text = strprintf("%s for slot %s", version, slot_name(k));
                        assert_int_equal(write_string_file(p, text, WRITE_CREATE), 0);
                }
        else
                assert_int_equal(write_string_file(uki, version, WRITE_CREATE), 0);
        if (bundle_create(&o, NULL, &err) < 0)
                fail_msg("bundle_create: %s", strna(err));
        return out;
}

/* systemd-boot's choice (no default in loader.conf): entries with tries left or no counter before
 * those with none, the newest version first, then the greater name. It takes one try from the
 * entry it boots, as systemd-boot does by renaming it. */
static int boot(void) {
        _cleanup_free_ char *linux_dir = strprintf("%s/EFI/Linux", esp);
        DIR *d = opendir(linux_dir);
        struct dirent *de;
        SlotInfo best = {};
        int slot = -1;

        assert_non_null(d);
        while ((de = readdir(d))) {
                SlotInfo i;
                int k, c;

                if (entry_parse(de->d_name, &k, &i) < 0)
                        continue;
                if (slot >= 0) {
                        bool bad = i.state == SLOT_BAD, best_bad = best.state == SLOT_BAD;

                        if (bad != best_bad) {
                                if (bad)
                                        continue;
                        } else {
                                c = version_compare(i.version, best.version);
                                if (c < 0 || (c == 0 && strcmp(i.entry, best.entry) < 0))
                                        continue;
                        }
                }
                best = i;
                slot = k;
        }
        closedir(d);
        assert_true(slot >= 0);
        if (best.state == SLOT_TRYING) {
                _cleanup_free_ char *from = strprintf("%s/%s", linux_dir, best.entry),
                                    *to = strprintf("%s/ark-%s-%s+%u-%u.efi", linux_dir, slot_name(slot),
                                                    best.version, best.left - 1, best.done + 1);
                assert_int_equal(rename(from, to), 0);
        }
        return slot;
}

static void assert_file(const char *path, const char *want) {
        _cleanup_free_ char *text = NULL;
        size_t n;

        assert_int_equal(read_full_file(path, &text, &n), 0);
        assert_string_equal(text, want);
}

static void test_parse(void **s) {
        SlotInfo i;
        int slot;

        assert_int_equal(entry_parse("ark-b-1.2.0+3.efi", &slot, &i), 0);
        assert_int_equal(slot, 1);
        assert_string_equal(i.version, "1.2.0");
        assert_int_equal(i.state, SLOT_TRYING);
        assert_int_equal(i.left, 3);
        assert_int_equal(entry_parse("ark-a-1.2.0+0-3.efi", &slot, &i), 0);
        assert_int_equal(i.state, SLOT_BAD);
        assert_int_equal(i.done, 3);
        assert_int_equal(entry_parse("ark-a-1.0.0.efi", &slot, &i), 0);
        assert_int_equal(i.state, SLOT_GOOD);
        assert_int_equal(entry_parse("ark-c-1.0.0.efi", &slot, &i), -EINVAL);
        assert_int_equal(entry_parse("ark-a-1.0+x.efi", &slot, &i), -EINVAL);
        assert_int_equal(entry_parse("linux.efi", &slot, &i), -EINVAL);
        assert_true(version_compare("1.10.0", "1.9.2") > 0);
        assert_true(version_compare("1.0.0", "1.0.0") == 0);
        assert_true(version_compare("0.9", "1.0") < 0);
        assert_true(version_compare("1.0.0-rc1", "1.0.0-rc2") < 0);
}

/* Progress seen: the phases in order, each ending with done == total. */
typedef struct Seen {
        int verify_end, write_end, write_before_verify_end;
} Seen;

static void seen_progress(const char *phase, uint64_t done, uint64_t total, void *userdata) {
        Seen *s = userdata;

        assert_true(done <= total);
        if (strcmp(phase, "verify") == 0)
                s->verify_end += done == total;
        else {
                assert_string_equal(phase, "write");
                s->write_before_verify_end += !s->verify_end;
                s->write_end += done == total;
        }
}

static void test_good_update(void **s) {
        _cleanup_free_ char *ark = make_update("1.1.0", "1.0.0", 3 << 20, NULL), *err = NULL, *root = NULL,
                            *slot = NULL;
        UpdateLayout l = layout(0, "1.0.0");
        UpdateStatus st;
        size_t n1, n2;

        Seen seen = {};

        fresh();
        assert_int_equal(boot(), 0);
        l.progress = seen_progress;
        l.userdata = &seen;
        assert_int_equal(update_install(&l, ark, false, &err), 0);
        assert_int_equal(seen.verify_end, 1);
        assert_int_equal(seen.write_end, 1);
        assert_int_equal(seen.write_before_verify_end, 0);
        assert_int_equal(update_status(&l, &st, &err), 0);
        assert_int_equal(st.default_slot, 1);
        assert_int_equal(st.slot[1].state, SLOT_TRYING);
        assert_int_equal(st.slot[1].left, 3);
        assert_string_equal(st.slot[1].version, "1.1.0");
        assert_string_equal(st.last_install, "b 1.1.0");
        /* Slot B holds the root image, byte for byte. */
        {
                _cleanup_free_ char *payload_root = strprintf("%s/payload-1.1.0/root.img", dir);
                assert_int_equal(read_full_file(payload_root, &root, &n1), 0);
                assert_int_equal(read_full_file(slot_b, &slot, &n2), 0);
                assert_int_equal(n1, n2);
                assert_memory_equal(root, slot, n1);
        }
        assert_file(slot_a, "root-a-1.0.0"); /* the running slot untouched */
        /* It boots, is healthy, and is marked good. */
        assert_int_equal(boot(), 1);
        l = layout(1, "1.1.0");
        assert_int_equal(update_mark_good(&l, &err), 0);
        assert_int_equal(update_status(&l, &st, &err), 0);
        assert_int_equal(st.slot[1].state, SLOT_GOOD);
        assert_int_equal(boot(), 1);
}

/* 1.2.0 never becomes healthy: three tries, then slot B (1.1.0, good) boots again by itself. */
static void test_bad_update_rolls_back(void **s) {
        _cleanup_free_ char *good = make_update("1.1.0", "1.0.0", 1 << 20, NULL),
                            *bad = make_update("1.2.0", "1.1.0", 1 << 20, NULL), *err = NULL;
        UpdateLayout l = layout(0, "1.0.0");
        UpdateStatus st;

        fresh();
        assert_int_equal(update_install(&l, good, false, &err), 0);
        assert_int_equal(boot(), 1);
        l = layout(1, "1.1.0");
        assert_int_equal(update_mark_good(&l, &err), 0);
        assert_int_equal(update_install(&l, bad, false, &err), 0);
        for (int k = 0; k < 3; k++)
                assert_int_equal(boot(), 0); /* tried, never marked good */
        assert_int_equal(boot(), 1);         /* no tries left: back on B */
        assert_int_equal(update_status(&l, &st, &err), 0);
        assert_int_equal(st.slot[0].state, SLOT_BAD);
        assert_int_equal(st.slot[1].state, SLOT_GOOD);
        /* The boot check on B says what happened. */
        assert_int_equal(update_mark_good(&l, &err), 0);
        assert_int_equal(update_status(&l, &st, &err), 0);
        assert_string_equal(st.last_error,
                            "Update 1.2.0 in slot a did not become healthy in 3 tries; slot b (1.1.0) "
                            "booted again.");
        assert_string_equal(st.last_install, "a 1.2.0");
        /* An explicit rollback from a slot that boots but is unwell does the same at once. */
        fresh();
        l = layout(0, "1.0.0");
        assert_int_equal(update_install(&l, good, false, &err), 0);
        assert_int_equal(boot(), 1);
        l = layout(1, "1.1.0");
        assert_int_equal(update_rollback(&l, &err), 0);
        assert_int_equal(boot(), 0);
        assert_int_equal(update_status(&l, &st, &err), 0);
        assert_int_equal(st.slot[1].state, SLOT_BAD);
}

/* Refused: nothing reaches slot B, slot A still boots. */
static void expect_refused(const char *ark, int want, const char *says) {
        _cleanup_free_ char *err = NULL;
        UpdateLayout l = layout(0, "1.0.0");
        UpdateStatus st;

        fresh();
        assert_int_equal(update_install(&l, ark, false, &err), want);
        assert_non_null(err);
        if (!strstr(err, says))
                fail_msg("'%s' does not say '%s'", err, says);
        assert_file(slot_b, "old bytes of slot b");
        assert_file(slot_a, "root-a-1.0.0");
        assert_int_equal(update_status(&l, &st, &err), 0);
        assert_int_equal(st.default_slot, 0);
        assert_int_equal(boot(), 0);
        /* And the record says why. */
        assert_non_null(strstr(st.last_error, says));
}

static void test_refused(void **s) {
        _cleanup_free_ char *tampered = make_update("1.1.0", "1.0.0", 1 << 20, NULL),
                            *other = strprintf("%s/stranger", dir),
                            *other_key = strprintf("%s/stranger.key", dir), *err = NULL;
        char id[KEY_ID_HEX];

        /* A payload byte flipped: refused by the first, verify-only pass. */
        {
                int fd = open(tampered, O_RDWR | O_CLOEXEC);
                char c;

                assert_true(fd >= 0);
                assert_int_equal(pread(fd, &c, 1, 600 * 1024), 1);
                c ^= 1;
                assert_int_equal(pwrite(fd, &c, 1, 600 * 1024), 1);
                close(fd);
        }
        expect_refused(tampered, -EBADMSG, "does not match its SHA-256");
        /* Signed by a key nobody trusts. */
        assert_int_equal(ark_key_generate(other, id, &err), 0);
        {
                _cleanup_free_ char *untrusted = make_update("1.1.0", "1.0.0", 1 << 16, other_key);
                expect_refused(untrusted, -ENOKEY, "is not trusted");
        }
        /* For another product version. */
        {
                _cleanup_free_ char *wrong = make_update("2.0.0", "1.9.0", 1 << 16, NULL);
                expect_refused(wrong, -EINVAL, "is for 1.9.0, not for the running 1.0.0");
        }
        /* A downgrade, unless forced. */
        {
                _cleanup_free_ char *older = make_update("0.9.0", "1.0.0", 1 << 16, NULL);
                UpdateLayout l = layout(0, "1.0.0");

                expect_refused(older, -ESTALE, "older than the running 1.0.0");
                err = mfree(err);
                assert_int_equal(update_install(&l, older, true, &err), 0);
        }
}

/* The bundle ends halfway (a USB stick pulled): nothing becomes bootable, A still boots. */
static void test_interrupted(void **s) {
        _cleanup_free_ char *ark = make_update("1.1.0", "1.0.0", 2 << 20, NULL), *err = NULL;
        UpdateLayout l = layout(0, "1.0.0");
        UpdateStatus st;
        struct stat sb;

        fresh();
        /* B had an older good entry once: it is gone at the start of any install. */
        assert_int_equal(stat(ark, &sb), 0);
        assert_int_equal(truncate(ark, sb.st_size / 2), 0);
        assert_true(update_install(&l, ark, false, &err) < 0);
        assert_non_null(strstr(err, "truncated"));
        assert_int_equal(update_status(&l, &st, &err), 0);
        assert_int_equal(st.default_slot, 0);
        assert_int_equal(st.slot[1].state, SLOT_EMPTY);
        assert_int_equal(boot(), 0);
        assert_file(slot_a, "root-a-1.0.0");
        {
                _cleanup_free_ char *tmp = strprintf("%s/EFI/Linux/.ark-update-b.efi.tmp", esp);
                assert_false(file_exists(tmp));
        }
}

/* Two ark-updates at once (the console and SSH): the second is refused while the first holds the
 * slots, and writes nothing; mark-good and rollback wait their turn the same way. */
static void test_one_at_a_time(void **s) {
        _cleanup_free_ char *ark = make_update("1.1.0", "1.0.0", 1 << 16, NULL), *err = NULL,
                            *lock = strprintf("%s.lock", state);
        UpdateLayout l = layout(0, "1.0.0");
        UpdateStatus st;
        int fd;

        fresh();
        {
                _cleanup_free_ char *sdir = path_join(dir, "state");
                assert_int_equal(mkdir_p(sdir, 0755), 0);
        }
        fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        /* Another process holds it (an open file description of its own: flock is per description). */
        assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
        assert_int_equal(update_install(&l, ark, false, &err), -EBUSY);
        assert_non_null(strstr(err, "Another ark-update"));
        err = mfree(err);
        assert_file(slot_b, "old bytes of slot b");
        assert_int_equal(update_status(&l, &st, &err), 0);
        assert_int_equal(st.slot[1].state, SLOT_EMPTY);
        assert_int_equal(update_mark_good(&l, &err), -EBUSY);
        err = mfree(err);
        assert_int_equal(update_rollback(&l, &err), -EBUSY);
        err = mfree(err);
        close(fd);
        /* Released: the install goes through, and leaves the lock free again. */
        assert_int_equal(update_install(&l, ark, false, &err), 0);
        fd = open(lock, O_RDWR | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
        close(fd);
}

/* Installs that would leave nothing to come back to are refused: from a slot on trial, from one
 * rolled back from; --force takes them. A forced older install replaced before its reboot gives
 * the running slot its place back. */
static void test_keeps_a_fallback(void **s) {
        _cleanup_free_ char *v11 = make_update("1.1.0", "1.0.0", 1 << 16, NULL),
                            *v12 = make_update("1.2.0", "1.1.0", 1 << 16, NULL),
                            *v09 = make_update("0.9.0", "1.1.0", 1 << 16, NULL), *err = NULL;
        UpdateLayout l = layout(0, "1.0.0");
        UpdateStatus st;

        fresh();
        assert_int_equal(update_install(&l, v11, false, &err), 0);
        assert_int_equal(boot(), 1);
        l = layout(1, "1.1.0");
        /* B on trial: A (good) is the only way back. */
        assert_int_equal(update_install(&l, v12, false, &err), -EBUSY);
        assert_non_null(strstr(err, "The running slot b (1.1.0) is on trial"));
        err = mfree(err);
        assert_file(slot_a, "root-a-1.0.0");
        assert_int_equal(update_status(&l, &st, &err), 0);
        assert_int_equal(st.slot[0].state, SLOT_GOOD);
        assert_non_null(strstr(st.last_error, "on trial"));
        /* Rolled back from B: booting B is not good either. */
        assert_int_equal(update_rollback(&l, &err), 0);
        assert_int_equal(update_install(&l, v12, false, &err), -EBUSY);
        assert_non_null(strstr(err, "is bad"));
        err = mfree(err);
        /* The boot check would reboot B (A is good), but not once A were gone too. */
        assert_int_equal(update_status(&l, &st, &err), 0);
        assert_true(update_on_trial(&st, 1));
        st.slot[0].state = SLOT_BAD;
        assert_false(update_on_trial(&st, 1));
        st.slot[0].state = SLOT_EMPTY;
        assert_false(update_on_trial(&st, 1));

        /* A forced 0.9.0 takes B's tries; 1.2.0 in its place before the reboot gives them back. */
        fresh();
        l = layout(0, "1.0.0");
        assert_int_equal(update_install(&l, v11, false, &err), 0);
        assert_int_equal(boot(), 1);
        l = layout(1, "1.1.0");
        assert_int_equal(update_mark_good(&l, &err), 0);
        assert_int_equal(update_install(&l, v09, true, &err), 0);
        assert_int_equal(update_status(&l, &st, &err), 0);
        assert_int_equal(st.slot[1].state, SLOT_BAD);
        /* A bundle refused on the way changes none of that: 0.9.0 still boots next. */
        {
                _cleanup_free_ char *wrong = make_update("2.0.0", "1.9.0", 1 << 16, NULL);

                assert_int_equal(update_install(&l, wrong, false, &err), -EINVAL);
                err = mfree(err);
                assert_int_equal(update_status(&l, &st, &err), 0);
                assert_int_equal(st.slot[1].state, SLOT_BAD);
                assert_int_equal(st.default_slot, 0);
        }
        assert_int_equal(update_install(&l, v12, false, &err), 0);
        assert_int_equal(update_status(&l, &st, &err), 0);
        assert_int_equal(st.slot[1].state, SLOT_GOOD);
        assert_int_equal(st.slot[0].state, SLOT_TRYING);
        assert_string_equal(st.slot[0].version, "1.2.0");
        /* 1.2.0 never comes up: B, good, boots again. */
        for (int k = 0; k < 3; k++)
                assert_int_equal(boot(), 0);
        assert_int_equal(boot(), 1);
}

/* Every old entry of the inactive slot goes, even ones ark-update cannot read; versions that
 * would sort differently in systemd-boot are refused. */
static void test_entries_and_versions(void **s) {
        _cleanup_free_ char *v11 = make_update("1.1.0", "1.0.0", 1 << 16, NULL),
                            *rc = make_update("1.1.0-rc1", "1.0.0", 1 << 16, NULL), *err = NULL,
                            *linux_dir = strprintf("%s/EFI/Linux", esp);
        static const char *const stale[] = { "ark-b-0.9.0.efi", "ark-b-1.0+git+2.efi", "ark-b-junk.efi" };
        UpdateLayout l = layout(0, "1.0.0");
        SlotInfo i;
        int slot;

        fresh();
        for (size_t k = 0; k < ELEMENTSOF(stale); k++) {
                _cleanup_free_ char *p = strprintf("%s/%s", linux_dir, stale[k]);
                assert_int_equal(write_string_file(p, "old", WRITE_CREATE), 0);
        }
        assert_int_equal(update_install(&l, v11, false, &err), 0);
        for (size_t k = 0; k < ELEMENTSOF(stale); k++) {
                _cleanup_free_ char *p = strprintf("%s/%s", linux_dir, stale[k]);
                assert_false(file_exists(p));
        }
        {
                _cleanup_free_ char *p = strprintf("%s/ark-b-1.1.0+3.efi", linux_dir);
                assert_true(file_exists(p));
        }
        fresh();
        assert_int_equal(update_install(&l, rc, false, &err), -EINVAL);
        assert_non_null(strstr(err, "'1.1.0-rc1' is not dotted numbers"));
        err = mfree(err);
        assert_file(slot_b, "old bytes of slot b");
        assert_true(version_is_valid("1.2.0"));
        assert_true(version_is_valid("2026.12.999999999"));
        assert_false(version_is_valid("2026.12.1000000000"));
        assert_false(version_is_valid("1..2"));
        assert_false(version_is_valid("1.2."));
        assert_false(version_is_valid(".1"));
        assert_false(version_is_valid(""));
        assert_false(version_is_valid("-1"));
        /* The counter is after the last '+', as systemd-boot reads it. */
        assert_int_equal(entry_parse("ark-a-1.0+git+2.efi", &slot, &i), -EINVAL);
        assert_int_equal(entry_parse("ark-a-1.0+2-1.efi", &slot, &i), 0);
        assert_int_equal(i.left, 2);
        assert_int_equal(i.done, 1);
}

/* The medium answers differently the second time (a file swapped after the check): refused
 * before a byte reaches the slot. */
typedef struct Swap {
        const char *bundle, *other;
        bool done;
} Swap;

static void swap_after_verify(const char *phase, uint64_t done, uint64_t total, void *userdata) {
        Swap *w = userdata;

        if (!w->done && strcmp(phase, "verify") == 0 && done == total) {
                assert_int_equal(rename(w->other, w->bundle), 0);
                w->done = true;
        }
}

static void test_bundle_swapped(void **s) {
        _cleanup_free_ char *v11 = NULL, *err = NULL, *other = strprintf("%s/other.ark", dir);
        UpdateLayout l = layout(0, "1.0.0");
        Swap w = { .other = other };
        UpdateStatus st;

        /* Another signed update of the same version for the same product, a different payload. */
        {
                _cleanup_free_ char *v = make_update("1.1.0", "1.0.0", 1 << 17, NULL);
                assert_int_equal(rename(v, other), 0);
        }
        v11 = make_update("1.1.0", "1.0.0", 1 << 16, NULL);
        w.bundle = v11;
        fresh();
        l.progress = swap_after_verify;
        l.userdata = &w;
        assert_int_equal(update_install(&l, v11, false, &err), -EBADMSG);
        assert_true(w.done);
        assert_non_null(strstr(err, "The bundle changed between its check and its installation"));
        assert_file(slot_b, "old bytes of slot b");
        assert_int_equal(update_status(&l, &st, NULL), 0);
        assert_int_equal(st.slot[1].state, SLOT_EMPTY);
        assert_int_equal(st.default_slot, 0);
}

/* The slots are the running root's sibling partitions, not a second Ark disk's (a stick flashed
 * with the image carries the same partition names). */
static void test_find_slots(void **s) {
        _cleanup_free_ char *sys = path_join(dir, "sys"), *a = NULL, *b = NULL;
        static const struct {
                const char *disk, *part, *name, *dev;
        } parts[] = {
                { "vda", "vda1", "ark-esp", "254:1" },    { "vda", "vda2", "ark-root-a", "254:2" },
                { "vda", "vda3", "ark-root-b", "254:3" }, { "vda", "vda4", "ark-data", "254:4" },
                { "sda", "sda1", "ark-esp", "8:1" },      { "sda", "sda2", "ark-root-a", "8:2" },
                { "sda", "sda3", "ark-root-b", "8:3" },   { "sdb", "sdb1", "", "8:17" },
        };

        (void) rm_rf(sys);
        for (size_t k = 0; k < ELEMENTSOF(parts); k++) {
                _cleanup_free_ char *pdir = strprintf("%s/devices/pci0000:00/block/%s/%s", sys,
                                                      parts[k].disk, parts[k].part),
                                    *uevent = strprintf("%s/uevent", pdir),
                                    *pfile = strprintf("%s/partition", pdir),
                                    *text = strprintf("MAJOR=1\nDEVNAME=%s\nDEVTYPE=partition\n%s%s%s",
                                                      parts[k].part, parts[k].name[0] ? "PARTNAME=" : "",
                                                      parts[k].name, parts[k].name[0] ? "\n" : ""),
                                    *devdir = strprintf("%s/dev/block", sys),
                                    *link = strprintf("%s/%s", devdir, parts[k].dev);

                assert_int_equal(mkdir_p(pdir, 0755), 0);
                assert_int_equal(mkdir_p(devdir, 0755), 0);
                assert_int_equal(write_string_file(uevent, text, WRITE_CREATE), 0);
                assert_int_equal(write_string_file(pfile, "1", WRITE_CREATE), 0);
                assert_int_equal(symlink(pdir, link), 0);
        }
        /* The whole disk vda as 254:0: not a partition. */
        {
                _cleanup_free_ char *link = strprintf("%s/dev/block/254:0", sys),
                                    *ddir = strprintf("%s/devices/pci0000:00/block/vda", sys);
                assert_int_equal(symlink(ddir, link), 0);
        }
        assert_int_equal(update_find_slots(sys, makedev(254, 2), &a, &b), 0);
        assert_string_equal(a, "/dev/vda2");
        assert_string_equal(b, "/dev/vda3");
        a = mfree(a);
        b = mfree(b);
        assert_int_equal(update_find_slots(sys, makedev(254, 3), &a, &b), 0); /* booted from B: the same */
        assert_string_equal(a, "/dev/vda2");
        a = mfree(a);
        b = mfree(b);
        assert_int_equal(update_find_slots(sys, makedev(8, 2), &a, &b), 0);
        assert_string_equal(a, "/dev/sda2");
        assert_string_equal(b, "/dev/sda3");
        assert_int_equal(update_find_slots(sys, makedev(8, 17), &a, &b), -ENODEV);  /* no slots there */
        assert_int_equal(update_find_slots(sys, makedev(254, 0), &a, &b), -ENODEV); /* not a partition */
        assert_int_equal(update_find_slots(sys, makedev(9, 9), &a, &b), -ENOENT);   /* not in sysfs */
}

/* Device firmware on the fixture hosts: the DMI BIOS, each NVIDIA GPU's VBIOS from the driver's
 * /proc file, a NIC that is not live said so, and the passed-through GPUs of another host named. */
static void test_firmware_list(void **s) {
        FirmwareItem *l = NULL;
        size_t n = 0, gpus = 0, nics = 0;

        (void) s;
        assert_int_equal(firmware_list(ARK_SRCDIR "/tests/fixtures/hosts/dgx-h100/sysfs", &l, &n), 0);
        assert_true(n > 0);
        assert_string_equal(l[0].device, "system");
        assert_string_equal(l[0].version, "1.5.4");
        assert_string_equal(l[0].model, "NVIDIA DGXH100");
        for (size_t k = 1; k < n; k++) {
                assert_true(strcmp(l[k - 1].device, l[k].device) < 0 || k == 1);
                if (streq(l[k].kind, "gpu") && strstr(l[k].model, "H100")) {
                        assert_string_equal(l[k].version, "96.00.74.00.1C");
                        assert_string_equal(l[k].component, "VBIOS");
                        gpus++;
                } else if (streq(l[k].kind, "nic")) {
                        assert_string_equal(l[k].version, "");
                        assert_non_null(strstr(l[k].source, "not live"));
                        nics++;
                }
        }
        assert_int_equal(gpus, 8);
        assert_int_equal(nics, 2);
        free(l);

        /* A host without DMI or a driver that reports: every item says why it is not known. */
        assert_int_equal(firmware_list("/nonexistent-root", &l, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(l[0].version, "");
        assert_non_null(strstr(l[0].source, "no DMI"));
        free(l);
}

/* A kernel image per slot (its command line names its root): the target slot's is installed. An
 * older version installed with --force boots next, the running slot going to the end of the line;
 * and when the older one never comes up, the newer one boots again. */
static void test_per_slot_and_downgrade(void **s) {
        _cleanup_free_ char *upd = NULL, *old = NULL, *err = NULL;
        UpdateLayout l = layout(0, "1.0.0");
        UpdateStatus st;

        per_slot_uki = true;
        upd = make_update("1.1.0", "1.0.0", 1 << 16, NULL);
        old = make_update("0.9.0", "1.1.0", 1 << 16, NULL);
        per_slot_uki = false;
        fresh();
        assert_int_equal(update_install(&l, upd, false, &err), 0);
        {
                _cleanup_free_ char *e = strprintf("%s/EFI/Linux/ark-b-1.1.0+3.efi", esp);
                assert_file(e, "1.1.0 for slot b");
        }
        assert_int_equal(boot(), 1);
        l = layout(1, "1.1.0");
        assert_int_equal(update_mark_good(&l, &err), 0);
        /* 0.9.0 into slot A: refused without --force, then taken. */
        assert_int_equal(update_install(&l, old, false, &err), -ESTALE);
        assert_non_null(strstr(err, "older than"));
        free(err);
        err = NULL;
        assert_int_equal(boot(), 1);
        assert_int_equal(update_install(&l, old, true, &err), 0);
        {
                _cleanup_free_ char *e = strprintf("%s/EFI/Linux/ark-a-0.9.0+3.efi", esp);
                assert_file(e, "0.9.0 for slot a");
        }
        assert_int_equal(update_status(&l, &st, &err), 0);
        assert_int_equal(st.default_slot, 0);
        for (int k = 0; k < 3; k++)
                assert_int_equal(boot(), 0);
        assert_int_equal(boot(), 1); /* both without tries: the newer one */
        assert_int_equal(update_mark_good(&l, &err), 0);
        assert_int_equal(update_status(&l, &st, &err), 0);
        assert_int_equal(st.slot[1].state, SLOT_GOOD);
        assert_int_equal(st.default_slot, 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse),
                cmocka_unit_test(test_good_update),
                cmocka_unit_test(test_bad_update_rolls_back),
                cmocka_unit_test(test_refused),
                cmocka_unit_test(test_interrupted),
                cmocka_unit_test(test_one_at_a_time),
                cmocka_unit_test(test_keeps_a_fallback),
                cmocka_unit_test(test_entries_and_versions),
                cmocka_unit_test(test_bundle_swapped),
                cmocka_unit_test(test_find_slots),
                cmocka_unit_test(test_firmware_list),
                cmocka_unit_test(test_per_slot_and_downgrade),
        };
        return cmocka_run_group_tests_name("update", tests, setup, teardown);
}

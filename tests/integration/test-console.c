/* arktui against arkd on the sandbox host (dgx-h100): golden --dump captures of every screen at
 * 80x24 in English and Chinese; the dashboard's GPUs and owners; Chinese columns aligned by display
 * width; the interactive console in a tmux pane (screens by number keys, help, q restores the
 * terminal); and arkd going away and coming back. Regenerate the captures after an intended change
 * with ARK_REGENERATE_GOLDEN=1 build/tests/test-console and review the diff. */

#include "itest.h"

#include <locale.h>
#include <regex.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <wchar.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "basic/time-util.h"

static Harness H;
static char tmux_socket[64];

static int setup(void **state) {
        snprintf(tmux_socket, sizeof(tmux_socket), "ark-test-console-%d", (int) getpid());
        if (harness_setup(&H, "dgx-h100") < 0 || harness_start_arkd(&H, NULL) < 0)
                return -1;
        return 0;
}

static int teardown(void **state) {
        _cleanup_free_ char *o = NULL, *e = NULL;

        (void) harness_sh(&o, &e, "tmux -L %s kill-server 2>/dev/null; true", tmux_socket);
        harness_teardown(&H);
        return 0;
}

/* Tenants, quotas and VMs, so that the screens have something to show. */
static void populate(void) {
        static bool done;

        if (done)
                return;
        done = true;
        assert_arkctl(&H, 0, NULL, "tenant", "create", "risk", "--description", "Risk analytics");
        assert_arkctl(&H, 0, NULL, "tenant", "create", "retail");
        assert_arkctl(&H, 0, NULL, "tenant", "quota", "set", "risk", "gpus=4");
        assert_arkctl(&H, 0, NULL, "vm", "create", "train-1", "--tenant", "risk", "--vcpus", "8", "--memory",
                      "32G", "--gpus", "2", "--start");
        assert_arkctl(&H, 0, NULL, "vm", "create", "db-1", "--tenant", "retail", "--vcpus", "2", "--memory",
                      "4G");
        assert_arkctl(&H, 0, NULL, "accelerator", "reserve", "0000:db:00.0", "--reason", "host display");
}

/* `arktui --dump` with what differs from machine to machine (host name, uptimes, addresses,
 * version) replaced by placeholders. */
static char *dump_size(const char *screen, const char *lang, const char *size) {
        _cleanup_free_ char *e = NULL;
        char *o = NULL;

        /* Only where they stand: a host name like "a" must not replace every "a". */
        _cleanup_free_ char *log = strprintf("%s/console-test.log", H.tmp);

        /* The Logs screen reads a file of known lines (the journal differs from machine to machine). */
        _cleanup_free_ char *hostfile = strprintf("%s/console-hostname", H.tmp);

        assert_int_equal(
                write_string_file(log,
                                  "arkd: Starting arkd.\narkd: Failed to frobnicate: it is a test.\n"
                                  "arkd: Ready.\n",
                                  WRITE_CREATE),
                0);
        assert_int_equal(write_string_file(hostfile, "ark-appliance-01", WRITE_CREATE | WRITE_NEWLINE), 0);
        if (harness_sh(
                    &o, &e,
                    "'%s/bin/arktui' --dump %s --size %s --lang %s --log-file '%s' --network-dir '%s/net' "
                    "--network-interface eth9 --hostname-file '%s' | sed -E "
                    "-e '1s/^ Ark .*$/ Ark VERSION  HOST/' "
                    "-e 's/^( Version +| 版本 +).*$/\\1VERSION/' "
                    "-e 's/^( Host +| 主机 +)[^,，]+([,，] ?(up|已运行))/\\1HOST\\2/' "
                    "-e 's/(up|已运行) [0-9]+[dhms]( [0-9]+[dhms])?/\\1 T/g' "
                    "-e 's/^( Management | 管理地址 )(.*)$/\\1ADDRESSES/' -e 's|%s|TMP|g'",
                    harness_build_dir(), screen, size, lang, log, H.tmp, hostfile, H.tmp) != 0)
                fail_msg("arktui --dump %s: %s", screen, strna(e));
        return o;
}

static char *dump(const char *screen, const char *lang) {
        return dump_size(screen, lang, "80x24");
}

static const char *const screens[] = { "dashboard", "accelerators", "tenants", "instances",
                                       "network",   "bundles",      "logs",    "system" };
static const char *const langs[] = { "en", "zh" };

/* The capture of a screen compared with its golden file (written instead under
 * ARK_REGENERATE_GOLDEN): the golden text, or NULL when it was written. */
static char *golden_check(const char *screen, const char *lang, const char *size, const char *suffix) {
        _cleanup_free_ char *text = dump_size(screen, lang, size),
                            *path = strprintf("%s/tests/integration/golden/console-%s-%s%s.txt",
                                              harness_src_dir(), screen, lang, suffix);
        char *want = NULL;
        size_t n;

        if (getenv("ARK_REGENERATE_GOLDEN")) {
                assert_int_equal(write_string_file(path, text, WRITE_CREATE | WRITE_ATOMIC), 0);
                return NULL;
        }
        if (read_full_file(path, &want, &n) < 0)
                fail_msg("%s is missing (ARK_REGENERATE_GOLDEN=1 makes it)", path);
        if (!streq(text, want))
                fail_msg("%s differs:\n%s", path, text);
        return want;
}

/* The wide captures (120x40): their own golden files, not in the docs. */
static void test_golden_wide(void **state) {
        populate();
        for (size_t s = 0; s < ELEMENTSOF(screens); s++)
                for (size_t l = 0; l < ELEMENTSOF(langs); l++)
                        free(golden_check(screens[s], langs[l], "120x40", "-120x40"));
}

/* Acceptance (issue 15): no name the test made (tenants, VMs, GPU owners, "reserved for the host"
 * in either language) is cut to "…" on any screen, at 80x24 or 120x40, in English or Chinese: no
 * leading part of one followed by the ellipsis. */
static void test_no_cut_names(void **state) {
        static const char *const names[] = { "risk",      "retail",       "train-1",
                                             "db-1",      "risk/train-1", "reserved for the host",
                                             "保留给主机" };
        static const char *const sizes[] = { "80x24", "120x40" };

        populate();
        assert_non_null(setlocale(LC_CTYPE, "C.UTF-8"));
        for (size_t s = 0; s < ELEMENTSOF(screens); s++)
                for (size_t l = 0; l < ELEMENTSOF(langs); l++)
                        for (size_t z = 0; z < ELEMENTSOF(sizes); z++) {
                                _cleanup_free_ char *text = dump_size(screens[s], langs[l], sizes[z]);

                                for (size_t k = 0; k < ELEMENTSOF(names); k++)
                                        /* Every leading part, cut at a character (not a byte). */
                                        for (size_t cut = 1; names[k][cut]; cut++) {
                                                _cleanup_free_ char *cutname = NULL;

                                                if (((unsigned char) names[k][cut] & 0xc0) == 0x80)
                                                        continue;
                                                cutname = strprintf("%.*s…", (int) cut, names[k]);
                                                if (strstr(text, cutname))
                                                        fail_msg("%s (%s, %s) cuts '%s' to '%s':\n%s",
                                                                 screens[s], langs[l], sizes[z], names[k],
                                                                 cutname, text);
                                        }
                        }
}

static void test_golden(void **state) {
        _cleanup_free_ char *doc = NULL, *docpath = strprintf("%s/docs/console.md", harness_src_dir());
        size_t dn;

        populate();
        assert_int_equal(read_full_file(docpath, &doc, &dn), 0);
        for (size_t s = 0; s < ELEMENTSOF(screens); s++)
                for (size_t l = 0; l < ELEMENTSOF(langs); l++) {
                        _cleanup_free_ char *want = golden_check(screens[s], langs[l], "80x24", "");

                        if (!want)
                                continue;
                        /* docs/console.md shows the same (scripts/gen-console-doc). */
                        want[strlen(want) - 1] = 0; /* its trailing newline: the doc closes the block */
                        if (!strstr(doc, want))
                                fail_msg(
                                        "docs/console.md lacks the capture of %s (%s); run scripts/gen-console-doc",
                                        screens[s], langs[l]);
                }
}

static void test_dashboard(void **state) {
        _cleanup_free_ char *en = NULL;
        unsigned gpus = 0;

        populate();
        en = dump("dashboard", "en");
        for (const char *p = en; (p = strstr(p, "NVIDIA H100")); p++)
                gpus++;
        assert_int_equal(gpus, 8);
        assert_non_null(strstr(en, "GPUs       8, 7 ready for passthrough"));
        /* The owners: two GPUs risk's VM holds, one reserved. */
        assert_non_null(strstr(en, "risk/train-1"));
        assert_non_null(strstr(strstr(en, "risk/train-1") + 1, "risk/train-1"));
        assert_non_null(strstr(en, "reserved for the host"));
        assert_non_null(strstr(en, "Ark VERSION"));
        assert_non_null(strstr(en, "2: 1 running, 1 stopped, 0 other"));
}

/* Display columns up to the first character of the value after the label (skipping the label's
 * own text, then spaces). */
static int value_column(const char *line) {
        wchar_t w[256];
        size_t n = mbstowcs(w, line, ELEMENTSOF(w) - 1);
        size_t k = 1;

        assert_int_not_equal(n, (size_t) -1);
        while (k < n && w[k] != L' ')
                k++;
        while (k < n && w[k] == L' ')
                k++;
        return wcswidth(w, k);
}

static void test_chinese_alignment(void **state) {
        _cleanup_free_ char *zh = NULL;
        char *save = NULL, *line;
        int row = 0, col = -1, labelled = 0;

        populate();
        zh = dump("dashboard", "zh");
        assert_non_null(strstr(zh, "版本"));
        assert_non_null(setlocale(LC_CTYPE, "C.UTF-8"));
        /* Rows 3 to 9 are the fields: every value starts in the same display column, although the
         * labels have 2 to 4 characters of width 2. */
        for (line = strtok_r(zh, "\n", &save); line; line = strtok_r(NULL, "\n", &save), row++) {
                if (row < 3 || row > 9)
                        continue;
                if (col < 0)
                        col = value_column(line);
                assert_int_equal(value_column(line), col);
                labelled++;
        }
        assert_int_equal(labelled, 7);
        assert_int_equal(col, 10); /* 1 + the widest label (管理地址, 8 columns) + 1 */
}

/* ------------------------------------------------------------------------------ tmux */

static int tmux(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int tmux(char **out, const char *fmt, ...) {
        _cleanup_free_ char *cmd = NULL, *e = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        if (vasprintf(&cmd, fmt, ap) < 0)
                cmd = NULL;
        va_end(ap);
        assert_non_null(cmd);
        r = harness_sh(out, &e, "tmux -u -L %s %s", tmux_socket, cmd);
        return r;
}

/* A console in a tmux server of its own: `tmux kill-server` returns before the old server has gone,
 * and a client that reaches it meanwhile fails with "server exited unexpectedly" (issue 15: the
 * session that did not start under load). So the old server is killed and left to go, and the new
 * session is made on a socket name not used before. `args` are new-session's size, environment
 * and command. */
static void console_new(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void console_new(const char *fmt, ...) {
        static unsigned generation;
        _cleanup_free_ char *args = NULL, *o = NULL;
        va_list ap;

        (void) tmux(&o, "kill-server 2>/dev/null");
        o = mfree(o);
        snprintf(tmux_socket, sizeof(tmux_socket), "ark-test-console-%d-%u", (int) getpid(), ++generation);
        va_start(ap, fmt);
        if (vasprintf(&args, fmt, ap) < 0)
                args = NULL;
        va_end(ap);
        assert_non_null(args);
        if (tmux(&o, "-f /dev/null new-session -d -s console %s", args) != 0)
                fail_msg("tmux new-session on %s failed: %s", tmux_socket, strna(o));
}

/* Waits until the pane shows `text` and returns the capture. A condition, not a time: the bound
 * (PANE_WAIT_SEC) is only there so that a broken console fails instead of hanging, and is long
 * enough for a machine loaded on every core. */
#define PANE_WAIT_SEC 90
static char *pane_wait(const char *text) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + PANE_WAIT_SEC * USEC_PER_SEC;

        for (;;) {
                char *o = NULL;

                if (tmux(&o, "capture-pane -p -t console") == 0 && o && strstr(o, text))
                        return o;
                if (now_usec(CLOCK_MONOTONIC) > deadline)
                        fail_msg("the pane never showed '%s' in %d s; it shows:\n%s", text, PANE_WAIT_SEC,
                                 strna(o));
                free(o);
                usleep(50000);
        }
}

/* Waits until the pane no longer shows `text` (bounded as pane_wait()). */
static void pane_wait_gone(const char *text) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + PANE_WAIT_SEC * USEC_PER_SEC;

        for (;;) {
                _cleanup_free_ char *o = NULL;

                if (tmux(&o, "capture-pane -p -t console") == 0 && o && !strstr(o, text))
                        return;
                if (now_usec(CLOCK_MONOTONIC) > deadline)
                        fail_msg("the pane still shows '%s' after %d s:\n%s", text, PANE_WAIT_SEC, strna(o));
                usleep(50000);
        }
}

static void keys(const char *k) {
        _cleanup_free_ char *o = NULL;

        assert_int_equal(tmux(&o, "send-keys -t console %s", k), 0);
}

static void test_interactive(void **state) {
        _cleanup_free_ char *o = NULL, *cap = NULL;

        populate();
        console_new("-x 80 -y 24 -e ARK_BUS_ADDRESS='%s' "
                    "-e LANG=C.UTF-8 -e TERM=screen 'PS1=\"$ \" sh'",
                    H.bus_address);
        o = mfree(o);
        {
                _cleanup_free_ char *run = strprintf("\"'%s/bin/arktui' --log-file '%s'\" Enter",
                                                     harness_build_dir(), H.arkd_log);
                keys(run);
        }
        cap = pane_wait("risk/train-1");
        assert_non_null(strstr(cap, "0000:18:00.0"));
        cap = mfree(cap);
        keys("2");
        free(pane_wait("READY"));
        keys("3");
        cap = pane_wait("Risk analytics");
        assert_non_null(strstr(cap, "2/4"));
        cap = mfree(cap);
        keys("4");
        free(pane_wait("train-1"));
        keys("?");
        free(pane_wait("this help"));
        keys("?");
        /* The language, switched from the console. */
        keys("1 L");
        free(pane_wait("管理地址"));
        keys("L");
        free(pane_wait("Management"));
        /* The log (the harness's arkd logs to a file, as in the sandbox). */
        keys("7");
        cap = pane_wait("File:");
        assert_non_null(strstr(cap, "arkd"));
        cap = mfree(cap);
        keys("q");
        /* The shell is back, and the console's screen with it gone. */
        keys("\"echo console-exited-\\$?\" Enter");
        cap = pane_wait("console-exited-0");
        assert_null(strstr(cap, "1-8 screens"));
        o = mfree(o);
        (void) tmux(&o, "kill-session -t console");
}

/* What an admin does from the console alone: a tenant and its quota, a VM stopped, started and
 * forced off (each asking first; forcing off twice). */
static void test_actions(void **state) {
        _cleanup_free_ char *o = NULL, *cap = NULL;
        json_t *j;
        char *dumped;

        populate();
        console_new("-x 80 -y 24 -e ARK_BUS_ADDRESS='%s' "
                    "-e LANG=C.UTF-8 -e TERM=screen '%s/bin/arktui'",
                    H.bus_address, harness_build_dir());
        o = mfree(o);
        free(pane_wait("risk/train-1"));
        /* A tenant: n, its name, Enter, then yes. */
        keys("3");
        free(pane_wait("Risk analytics"));
        keys("n");
        free(pane_wait("New tenant"));
        keys("ops Enter");
        free(pane_wait("go ahead?"));
        keys("y");
        free(pane_wait("Create tenant: done."));
        o = itest_arkctl_expect(&H, 0, "ops", "tenant", "list", NULL);
        o = mfree(o);
        /* Its GPU quota (ops sorts first): 3. */
        free(pane_wait(" ops "));
        keys("g");
        free(pane_wait("GPU quota"));
        keys("3 Enter y");
        free(pane_wait("Set GPU quota: done."));
        j = harness_arkctl_json(&H, "tenant", "quota", "show", "ops", NULL);
        assert_non_null(j);
        dumped = json_dumps(j, 0);
        assert_non_null(strstr(dumped, "\"limit\": 3"));
        free(dumped);
        json_decref(j);
        /* A member, by user name. */
        keys("m");
        free(pane_wait("Add a member to 'ops'"));
        keys("root Enter y");
        free(pane_wait("Add member: done."));
        o = itest_arkctl_expect(&H, 0, "root", "tenant", "member", "list", "ops", NULL);
        o = mfree(o);
        /* The VM: its details, then stop asks first, and "n" leaves it running. */
        keys("4");
        free(pane_wait("train-1"));
        keys("Down Enter");
        cap = pane_wait("train-1 of risk");
        assert_non_null(strstr(cap, "0000:18:00.0"));
        cap = mfree(cap);
        keys("x");
        keys("t");
        free(pane_wait("Stop VM 'train-1'"));
        keys("n");
        free(pane_wait("Cancelled."));
        cap = harness_get_string(&H, "/org/ark/Ark1/instance/risk/train_2d1", ARK_BUS_IFACE_INSTANCE,
                                 "State");
        assert_string_equal(cap, "running");
        cap = mfree(cap);
        keys("t y");
        free(pane_wait("Stop: done."));
        cap = harness_get_string(&H, "/org/ark/Ark1/instance/risk/train_2d1", ARK_BUS_IFACE_INSTANCE,
                                 "State");
        assert_string_equal(cap, "stopped");
        cap = mfree(cap);
        keys("s y");
        free(pane_wait("Start: done."));
        /* Forcing off asks twice. */
        keys("f");
        free(pane_wait("Force VM 'train-1' off?"));
        keys("y");
        free(pane_wait("Really?"));
        cap = harness_get_string(&H, "/org/ark/Ark1/instance/risk/train_2d1", ARK_BUS_IFACE_INSTANCE,
                                 "State");
        assert_string_equal(cap, "running");
        cap = mfree(cap);
        keys("y");
        free(pane_wait("Force off: done."));
        cap = harness_get_string(&H, "/org/ark/Ark1/instance/risk/train_2d1", ARK_BUS_IFACE_INSTANCE,
                                 "State");
        assert_string_equal(cap, "stopped");
        cap = mfree(cap);
        keys("q");
        o = mfree(o);
        (void) tmux(&o, "kill-session -t console 2>/dev/null");
}

/* Acceptance (issue 15): a VM with 2 GPUs made from the console alone, every answer typed, the
 * ones not taken asked again naming the field; Esc closes the help box and a dialog and leaves the
 * console running; a key with no action and Logs p say what they did. */
static void test_create_vm(void **state) {
        _cleanup_free_ char *o = NULL, *e = NULL, *cap = NULL;
        json_t *j;

        populate();
        assert_int_equal(
                harness_sh(&o, &e,
                           "mkdir -p '%s/images' && qemu-img create -q -f qcow2 '%s/images/base.qcow2' 64M",
                           H.state_dir, H.state_dir),
                0);
        o = mfree(o);
        console_new(
                "-x 80 -y 24 -e ARK_BUS_ADDRESS='%s' -e LANG=C.UTF-8 -e TERM=screen \"'%s/bin/arktui' --log-file '%s'\"",
                H.bus_address, harness_build_dir(), H.arkd_log);
        free(pane_wait("risk/train-1"));
        keys("4");
        free(pane_wait("n new VM"));
        /* The help box: Esc closes it, and the console is still there. */
        keys("?");
        free(pane_wait("close a dialog or this help"));
        keys("Escape");
        pane_wait_gone("close a dialog or this help");
        free(pane_wait("train-1"));
        /* A key that does nothing here says so. */
        keys("z");
        free(pane_wait("z: no action here; ? shows the keys."));
        /* A dialog: Esc closes it. */
        keys("n");
        free(pane_wait("Tenant (Up/Down:"));
        keys("Escape");
        free(pane_wait("Cancelled."));
        pane_wait_gone("Tenant (Up/Down:");
        /* The VM. */
        keys("n");
        free(pane_wait("Tenant (Up/Down:"));
        keys("risk Enter");
        free(pane_wait("Name of the VM"));
        keys("gpu-2 Enter");
        free(pane_wait("vCPUs (a number"));
        keys("four Enter");
        free(pane_wait("vCPUs: 'four' is not a number of vCPUs."));
        keys("4 Enter");
        free(pane_wait("Memory (512M"));
        keys("8X Enter");
        free(pane_wait("Memory: '8X' is not a size"));
        keys("8G Enter");
        free(pane_wait("Disk size"));
        keys("20G Enter");
        cap = pane_wait("Image from the store");
        assert_non_null(strstr(cap, "base.qcow2"));
        cap = mfree(cap);
        keys("nosuch.qcow2 Enter");
        free(pane_wait("Image: 'nosuch.qcow2' is not in the image store"));
        /* Up and Down go through the store's: "-", then base.qcow2. */
        keys("Down Down");
        free(pane_wait("> base.qcow2_"));
        keys("Enter");
        free(pane_wait("GPUs: a number"));
        keys("2 Enter");
        cap = pane_wait("Create VM 'gpu-2' for tenant 'risk'");
        assert_non_null(strstr(cap, "4 vCPUs, 8 GiB memory"));
        assert_non_null(strstr(cap, "20 GiB, image base.qcow2, 2 GPUs?"));
        cap = mfree(cap);
        keys("y");
        free(pane_wait("Create VM: done."));
        j = harness_arkctl_json(&H, "vm", "show", "risk/gpu-2", NULL);
        assert_non_null(j);
        assert_int_equal(json_array_size(json_object_get(j, "gpus")), 2);
        assert_int_equal(json_integer_value(json_object_get(j, "vcpus")), 4);
        assert_int_equal(json_integer_value(json_object_get(j, "memory_bytes")), 8LL << 30);
        assert_non_null(strstr(json_string_value(json_object_get(j, "image")), "base.qcow2"));
        json_decref(j);
        free(pane_wait(" gpu-2 "));
        /* arkd's refusal in its own words: the name is taken. */
        keys("n");
        free(pane_wait("Tenant (Up/Down:"));
        keys("risk Enter gpu-2 Enter 1 Enter 1G Enter - Enter - Enter - Enter");
        free(pane_wait("Create VM 'gpu-2'"));
        keys("y");
        free(pane_wait("already exists"));
        /* Logs p: what it changed, or why it changes nothing. */
        keys("7");
        free(pane_wait("File:"));
        keys("p");
        free(pane_wait("is a log file: every line shows"));
        keys("q");
        o = mfree(o);
        (void) tmux(&o, "kill-session -t console 2>/dev/null");
        assert_arkctl(&H, 0, NULL, "vm", "delete", "risk/gpu-2");
}

/* A bundle from a (test) removable medium: listed, inspected (signer shown), imported with a
 * progress line, installed. */
static void test_import_from_media(void **state) {
        _cleanup_free_ char *media = strprintf("%s/usb", H.tmp), *prefix = strprintf("%s/pub", H.tmp),
                            *key = strprintf("%s.key", prefix), *pub = strprintf("%s.pub", prefix),
                            *payload = strprintf("%s/payload", H.tmp),
                            *ark = strprintf("%s/usb/llama-3.ark", H.tmp), *o = NULL, *e = NULL, *cap = NULL;

        populate();
        assert_int_equal(harness_sh(&o, &e,
                                    "mkdir -p '%s' '%s' && head -c 25165824 /dev/urandom > '%s/weights.bin'",
                                    media, payload, payload),
                         0);
        assert_arkctl(&H, 0, NULL, "bundle", "keygen", prefix);
        assert_arkctl(&H, 0, NULL, "bundle", "trust", "add", pub);
        assert_arkctl(&H, 0, NULL, "bundle", "create", payload, "--kind", "model", "--name", "llama-3",
                      "--version", "1", "--key", key, "-o", ark, "--architecture", "llama", "--parameters",
                      "8000000000", "--dtype", "bf16", "--runtime", "vllm", "--license", "test");
        /* Slow, so that the progress can be seen. */
        assert_int_equal(harness_stop_arkd(&H, SIGTERM), 0);
        assert_int_equal(harness_start_arkd_with(&H, "slow-import.so", "ARK_SLOW_IMPORT_BPS=8388608"), 0);
        o = mfree(o);
        console_new("-x 80 -y 24 -e ARK_BUS_ADDRESS='%s' "
                    "-e ARK_TRUST_DIR='%s' -e LANG=C.UTF-8 -e TERM=screen '%s/bin/arktui' --media '%s'",
                    H.bus_address, H.trust_dir, harness_build_dir(), media);
        o = mfree(o);
        free(pane_wait("risk/train-1"));
        keys("6");
        free(pane_wait("llama-3.ark"));
        keys("Enter");
        cap = pane_wait("Import it, shared?");
        assert_non_null(strstr(cap, "trusted"));
        cap = mfree(cap);
        keys("y");
        free(pane_wait("Importing llama-3.ark ["));
        free(pane_wait("Imported: llama-3.ark"));
        /* Installed: kind, name, version and tenant each in its column. */
        cap = pane_wait("(shared)");
        assert_non_null(strstr(cap, " model   llama-3                        1              (shared)"));
        cap = mfree(cap);
        o = mfree(o);
        o = itest_arkctl_expect(&H, 0, "llama-3", "model", "list", NULL);
        keys("q");
        o = mfree(o);
        (void) tmux(&o, "kill-session -t console 2>/dev/null");
}

/* Network: a static address applied and not kept reverts by itself; one kept stays. The revert
 * time leaves a loaded machine room between "applied" and the test's next look. */
#define REVERT_SEC 10
static void test_network_revert(void **state) {
        _cleanup_free_ char *dir = strprintf("%s/netrev", H.tmp),
                            *file = strprintf("%s/netrev/10-ark-management.network", H.tmp),
                            *before = strdup("[Match]\nName=eth9\n\n[Network]\nDHCP=ipv4\n"), *now = NULL,
                            *o = NULL;
        usec_t applied = 0;
        size_t n;

        assert_int_equal(mkdir_p(dir, 0755), 0);
        assert_int_equal(write_string_file(file, before, WRITE_CREATE), 0);
        console_new("-x 80 -y 24 -e ARK_BUS_ADDRESS='%s' "
                    "-e LANG=C.UTF-8 -e TERM=screen '%s/bin/arktui' --network-dir '%s' "
                    "--network-interface eth9 --network-reload true --revert-seconds %d "
                    "--hostname-file '%s/hostname' --hostname-command true",
                    H.bus_address, harness_build_dir(), dir, REVERT_SEC, dir);
        o = mfree(o);
        keys("5");
        free(pane_wait("DHCP"));
        for (int round = 0; round < 2; round++) {
                keys("s");
                free(pane_wait("Address of eth9"));
                keys("192.0.2.10/24 Enter");
                free(pane_wait("Gateway"));
                keys("192.0.2.1 Enter");
                free(pane_wait("DNS servers"));
                keys("192.0.2.53 Enter");
                free(pane_wait("NTP servers"));
                keys("- Enter");
                /* The whole setting, asked once. */
                free(pane_wait("Apply on eth9: 192.0.2.10/24, gateway 192.0.2.1, DNS 192.0.2.53"));
                keys("y");
                free(pane_wait("Reverting in"));
                applied = now_usec(CLOCK_MONOTONIC);
                assert_int_equal(read_full_file(file, &now, &n), 0);
                assert_non_null(strstr(now, "Address=192.0.2.10/24"));
                now = mfree(now);
                if (round == 0) {
                        /* Not confirmed: the old file is back after the countdown. */
                        free(pane_wait("Not kept"));
                        assert_int_equal(read_full_file(file, &now, &n), 0);
                        assert_string_equal(now, before);
                        now = mfree(now);
                } else {
                        keys("c");
                        free(pane_wait("Kept"));
                        /* Past the moment it would have reverted. */
                        usleep(REVERT_SEC * USEC_PER_SEC + 500000 -
                               MIN(now_usec(CLOCK_MONOTONIC) - applied, REVERT_SEC * USEC_PER_SEC));
                        assert_int_equal(read_full_file(file, &now, &n), 0);
                        assert_non_null(strstr(now, "Address=192.0.2.10/24"));
                        assert_non_null(strstr(now, "Gateway=192.0.2.1"));
                        now = mfree(now);
                }
        }
        /* The host name: refused when it is not one, written when it is. */
        keys("h");
        free(pane_wait("host name:"));
        keys("bad_name Enter y");
        free(pane_wait("is not a host name"));
        keys("h");
        free(pane_wait("host name:"));
        keys("ark-plant-7 Enter y");
        free(pane_wait("Host name: done."));
        {
                _cleanup_free_ char *hn = strprintf("%s/hostname", dir), *text = NULL;

                assert_int_equal(read_full_file(hn, &text, &n), 0);
                assert_string_equal(text, "ark-plant-7\n");
        }
        /* A gateway outside the subnet is refused, naming it. */
        keys("s");
        free(pane_wait("Address of eth9"));
        keys("192.0.2.20/24 Enter 10.0.0.1 Enter - Enter - Enter y");
        free(pane_wait("is not in 192.0.2.20/24's subnet"));
        keys("q");
        (void) tmux(&o, "kill-session -t console 2>/dev/null");
}

/* System: restart arkd (the command given), reboot asks twice, a support bundle on the medium
 * without the secrets of the configuration. */
static void test_system(void **state) {
        _cleanup_free_ char *usb = strprintf("%s/usb-sys", H.tmp),
                            *conf = strprintf("%s/sys-ark.conf", H.tmp),
                            *marker = strprintf("%s/restarted", H.tmp),
                            *rebooted = strprintf("%s/rebooted", H.tmp), *o = NULL, *e = NULL, *list = NULL;

        populate();
        assert_int_equal(mkdir_p(usb, 0755), 0);
        assert_int_equal(
                write_string_file(conf, "[Daemon]\nLogLevel=info\nApiToken=hunter2\n", WRITE_CREATE), 0);
        console_new("-x 80 -y 24 -e ARK_BUS_ADDRESS='%s' "
                    "-e LANG=C.UTF-8 -e TERM=screen '%s/bin/arktui' --media '%s' --config '%s' "
                    "--log-file '%s' --restart-arkd-command 'touch %s' --reboot-command 'touch %s'",
                    H.bus_address, harness_build_dir(), usb, conf, H.arkd_log, marker, rebooted);
        o = mfree(o);
        keys("8");
        free(pane_wait("Readiness for GPU passthrough"));
        keys("a");
        free(pane_wait("Restart arkd? VMs keep running."));
        keys("y");
        free(pane_wait("Restart arkd: done."));
        assert_true(file_exists(marker));
        keys("b y");
        free(pane_wait("Really reboot?"));
        keys("n");
        free(pane_wait("Cancelled."));
        assert_false(file_exists(rebooted));
        keys("e");
        free(pane_wait("Write a support bundle"));
        keys("y");
        free(pane_wait("Support bundle written"));
        assert_int_equal(harness_sh(&list, &e, "tar tzf '%s'/ark-support-*.tar.gz | sort", usb), 0);
        assert_non_null(strstr(list, "inventory.json"));
        assert_non_null(strstr(list, "screens/dashboard.txt"));
        assert_non_null(strstr(list, "log.txt"));
        assert_non_null(strstr(list, "config/sys-ark.conf"));
        e = mfree(e);
        o = mfree(o);
        assert_int_equal(harness_sh(&o, &e, "tar xzOf '%s'/ark-support-*.tar.gz config/sys-ark.conf", usb),
                         0);
        assert_non_null(strstr(o, "ApiToken=<removed>"));
        assert_null(strstr(o, "hunter2"));
        o = mfree(o);
        e = mfree(e);
        assert_int_equal(harness_sh(&o, &e, "tar xzOf '%s'/ark-support-*.tar.gz inventory.json", usb), 0);
        assert_non_null(strstr(o, "0000:18:00.0"));
        keys("q");
        o = mfree(o);
        (void) tmux(&o, "kill-session -t console 2>/dev/null");
}

/* System ▸ Update: none on the medium said so; then a signed update bundle found, its version,
 * signer and release notes shown, installed by ark-update into the inactive slot (image files
 * here) with progress, and the slots' state on the screen after. */
static void test_system_update(void **state) {
        _cleanup_free_ char *d = strprintf("%s/upd", H.tmp), *o = NULL, *e = NULL, *cap = NULL, *text = NULL,
                            *cmd = NULL;
        size_t n;

        populate();
        assert_int_equal(
                harness_sh(
                        &o, &e,
                        "set -e; cd '%s/..' && rm -rf upd && mkdir -p upd/esp/EFI/Linux upd/esp/loader upd/usb "
                        "upd/payload && cd upd && echo uki-a > esp/EFI/Linux/ark-a-1.0.0.efi && "
                        "echo old-a > slot-a.img && echo old-b > slot-b.img && "
                        "head -c 3145728 /dev/urandom > payload/root.img && echo uki-b > payload/ark-b.efi && "
                        "echo uki-a-new > payload/ark-a.efi && "
                        "printf 'Fixes the frobnicator.\nSecond line.\n' > payload/RELEASE-NOTES",
                        d),
                0);
        o = mfree(o);
        e = mfree(e);
        {
                _cleanup_free_ char *prefix = strprintf("%s/vendor", d),
                                    *pub = strprintf("%s/vendor.pub", d),
                                    *key = strprintf("%s/vendor.key", d), *trust = strprintf("%s/trust", d),
                                    *payload = strprintf("%s/payload", d),
                                    *ark = strprintf("%s/ark-1.1.0.ark", d);

                assert_arkctl(&H, 0, NULL, "bundle", "keygen", prefix);
                assert_arkctl(&H, 0, NULL, "bundle", "trust", "add", "--trust-dir", trust, pub);
                assert_arkctl(&H, 0, NULL, "bundle", "create", payload, "--kind", "update", "--name", "ark",
                              "--version", "1.1.0", "--key", key, "-o", ark, "--compatible", "1.0.0");
        }
        cmd = strprintf(
                "%s/bin/ark-update --esp %s/esp --slot-a %s/slot-a.img --slot-b %s/slot-b.img --state %s/state.json "
                "--booted a --running 1.0.0 --trust-dir %s/trust",
                harness_build_dir(), d, d, d, d, d);
        console_new(
                "-x 100 -y 30 -e ARK_BUS_ADDRESS='%s' "
                "-e ARK_TRUST_DIR='%s/trust' -e LANG=C.UTF-8 -e TERM=screen '%s/bin/arktui' --media '%s/usb' "
                "--update-command '%s'",
                H.bus_address, d, harness_build_dir(), d, cmd);
        o = mfree(o);
        keys("8");
        cap = pane_wait("System update (A/B slots)");
        assert_non_null(strstr(cap, "a     good    1.0.0"));
        cap = mfree(cap);
        keys("u");
        free(pane_wait("No system update"));
        assert_int_equal(harness_sh(&o, &e, "cp '%s/ark-1.1.0.ark' '%s/usb/'", d, d), 0);
        o = mfree(o);
        e = mfree(e);
        keys("u");
        cap = pane_wait("Install it into the inactive slot?");
        assert_non_null(strstr(cap, "1.1.0"));
        assert_non_null(strstr(cap, "trusted key"));
        assert_non_null(strstr(cap, "Fixes the frobnicator."));
        cap = mfree(cap);
        keys("y");
        cap = pane_wait("System update 1.1.0 installed");
        cap = mfree(cap);
        cap = pane_wait("b     trying  1.1.0");
        cap = mfree(cap);
        /* Slot B holds the root image; its kernel image (the slot's own) is in place with tries. */
        assert_int_equal(
                harness_sh(
                        &o, &e,
                        "cmp '%s/payload/root.img' '%s/slot-b.img' && cat '%s/esp/EFI/Linux/ark-b-1.1.0+3.efi'",
                        d, d, d),
                0);
        assert_string_equal(o, "uki-b\n");
        o = mfree(o);
        e = mfree(e);
        {
                _cleanup_free_ char *a = strprintf("%s/slot-a.img", d);

                assert_int_equal(read_full_file(a, &text, &n), 0);
                assert_string_equal(text, "old-a\n");
        }
        /* An install started elsewhere (over SSH, say) is announced on the bus, and the console
         * shows it: its progress, then its outcome; signals from users other than root are not
         * believed. */
        assert_int_equal(
                harness_sh(
                        &o, &e,
                        "cd '%s' && (dbus-monitor --address '%s' \"type='signal',interface='org.ark.Update1'\" "
                        "> mon.txt 2>&1 & echo $! > mon.pid) && for i in $(seq 900); do "
                        "grep -q NameAcquired mon.txt && exit 0; sleep 0.1; done; exit 1",
                        d, H.bus_address),
                0);
        o = mfree(o);
        e = mfree(e);
        assert_int_equal(harness_sh(&o, &e, "ARK_BUS_ADDRESS='%s' %s install '%s/ark-1.1.0.ark'",
                                    H.bus_address, cmd, d),
                         0);
        o = mfree(o);
        e = mfree(e);
        cap = pane_wait("System update from ark-1.1.0.ark (started elsewhere) installed");
        cap = mfree(cap);
        /* Until the monitor has printed the last signal (SlotsChanged follows Finished). */
        assert_int_equal(
                harness_sh(
                        &o, &e,
                        "for i in $(seq 900); do grep -q member=SlotsChanged '%s/mon.txt' && break; sleep 0.1; "
                        "done; kill $(cat '%s/mon.pid'); cat '%s/mon.txt'",
                        d, d, d),
                0);
        {
                const char *p = strstr(o, "member=Progress"), *fin = strstr(o, "member=Finished");

                assert_non_null(p);
                assert_non_null(strstr(p, "string \"verify\""));
                assert_non_null(strstr(p, "string \"write\""));
                assert_non_null(fin);
                assert_non_null(strstr(fin, "boolean true"));
                assert_non_null(strstr(fin, "member=SlotsChanged"));
        }
        o = mfree(o);
        e = mfree(e);
        /* An install elsewhere in progress (its bundle trickles through a FIFO), with its progress
         * on the console; a signal from a sender without the name is not believed; killed, the
         * install's line goes and the console says it stopped. */
        assert_int_equal(
                harness_sh(
                        &o, &e,
                        "mkfifo '%s/slow.ark' && (cd '%s' && timeout 30 sh -c 'for pass in 1 2; do "
                        "{ head -c 1048576 ark-1.1.0.ark; sleep 4; tail -c +1048577 ark-1.1.0.ark; } > slow.ark; "
                        "done' >/dev/null 2>&1 &) && (ARK_BUS_ADDRESS='%s' %s install '%s/slow.ark' >/dev/null 2>&1 & "
                        "echo $! > '%s/upd.pid')",
                        d, d, H.bus_address, cmd, d, d),
                0);
        o = mfree(o);
        e = mfree(e);
        cap = pane_wait("System update from slow.ark (started elsewhere): verifying: ");
        cap = mfree(cap);
        assert_int_equal(
                harness_sh(
                        &o, &e,
                        "setpriv --reuid=65534 --regid=65534 --clear-groups dbus-send --address='%s' --type=signal "
                        "/org/ark/Update1 org.ark.Update1.Finished string:/x/evil.ark string:ssh boolean:true "
                        "string:fake && dbus-send --address='%s' --type=signal /org/ark/Update1 "
                        "org.ark.Update1.Finished string:/x/evil2.ark string:ssh boolean:true string:fake && "
                        "kill -9 $(cat '%s/upd.pid')",
                        H.bus_address, H.bus_address, d),
                0);
        o = mfree(o);
        e = mfree(e);
        cap = pane_wait("The system update started elsewhere stopped without finishing.");
        assert_null(strstr(cap, "evil"));
        assert_null(strstr(cap, "verifying: "));
        cap = mfree(cap);
        /* Killed while it verified: the running slot is as it was. */
        {
                _cleanup_free_ char *a = strprintf("%s/slot-a.img", d);

                text = mfree(text);
                assert_int_equal(read_full_file(a, &text, &n), 0);
                assert_string_equal(text, "old-a\n");
        }
        keys("q");
        (void) tmux(&o, "kill-session -t console 2>/dev/null");
}

/* Acceptance: `make run` opens the console on the simulated dgx-h100, and q leaves it cleanly: the
 * terminal is the shell's again. */
static void test_make_run(void **state) {
        _cleanup_free_ char *o = NULL, *cap = NULL;

        console_new("-x 80 -y 24 -e LANG=C.UTF-8 -e TERM=screen "
                    "'PS1=\"$ \" sh'");
        o = mfree(o);
        {
                _cleanup_free_ char *run = strprintf("\"make -s -C '%s' O='%s' run\" Enter",
                                                     harness_src_dir(), harness_build_dir());
                keys(run);
        }
        cap = pane_wait("NVIDIA H100 SXM5 80GB");
        assert_non_null(strstr(cap, "8, 8 ready for passthrough"));
        cap = mfree(cap);
        keys("q");
        free(pane_wait("The console closed"));
        keys("\"echo shell-is-back-\\$((20+22))\" Enter");
        cap = pane_wait("shell-is-back-42");
        assert_null(strstr(cap, "1-8 screens"));
        /* Leaving the shell stops the sandbox, all of it, before make returns. */
        keys("exit Enter");
        keys("\"echo make-run-exited-\\$?\" Enter");
        free(pane_wait("make-run-exited-0"));
        o = mfree(o);
        (void) tmux(&o, "kill-session -t console 2>/dev/null");
}

/* The sandbox's console acts on the sandbox (issue 15): every action of the System and Network
 * screens, with systemctl, hostnamectl, networkctl, reboot, poweroff, shutdown and halt on PATH
 * replaced by recorders that note any call. None is called, this machine's host name and network
 * files stay as they were, and restarting arkd restarts the sandbox's own. */
static void test_sandbox_acts_on_itself(void **state) {
        static const char *const recorded[] = { "systemctl", "hostnamectl", "networkctl", "reboot",
                                                "poweroff",  "shutdown",    "halt" };
        static const char *const host_files[] = { "/etc/hostname",
                                                  "/etc/systemd/network/10-ark-management.network",
                                                  "/var/lib/ark-update/state.json" };
        _cleanup_free_ char *rec = strprintf("%s/recorders", H.tmp),
                            *calls = strprintf("%s/recorders/calls", H.tmp),
                            *where = strprintf("%s/sandbox-dir", H.tmp), *sbx = NULL, *o = NULL, *e = NULL,
                            *pidfile = NULL, *pid1 = NULL, *pid2 = NULL, *hostname = NULL, *cmdline = NULL;
        char *before[ELEMENTSOF(host_files)] = {};
        size_t n;

        assert_int_equal(mkdir_p(rec, 0755), 0);
        for (size_t k = 0; k < ELEMENTSOF(recorded); k++) {
                _cleanup_free_ char *path = strprintf("%s/%s", rec, recorded[k]),
                                    *text = strprintf("#!/bin/sh\necho \"%s $*\" >> '%s'\nexit 1\n",
                                                      recorded[k], calls);

                assert_int_equal(write_string_file(path, text, WRITE_CREATE), 0);
                assert_int_equal(chmod(path, 0755), 0);
        }
        for (size_t k = 0; k < ELEMENTSOF(host_files); k++)
                (void) read_full_file(host_files[k], &before[k], &n);
        /* Anything under /boot (the ESP an update writes) or this machine's network and host-name
         * configuration changed after this is a failure. */
        assert_int_equal(harness_sh(&o, &e, "touch '%s/start-marker'", rec), 0);
        o = mfree(o);
        e = mfree(e);

        console_new("-x 100 -y 30 -e LANG=C.UTF-8 -e TERM=screen 'PS1=\"$ \" sh'");
        {
                _cleanup_free_ char *run = strprintf(
                        "\"PATH='%s':\\$PATH ARK_BUILD_DIR='%s' '%s/scripts/sandbox' -- sh -c "
                        "'echo \\$ARK_SANDBOX > %s; arktui --log-file \\$ARK_SANDBOX/arkd.log'\" Enter",
                        rec, harness_build_dir(), harness_src_dir(), where);
                keys(run);
        }
        free(pane_wait("NVIDIA H100 SXM5 80GB"));
        assert_int_equal(read_one_line_file(where, &sbx), 0);
        pidfile = strprintf("%s/arkd.pid", sbx);
        assert_int_equal(read_one_line_file(pidfile, &pid1), 0);

        /* System: restart arkd restarts the sandbox's; the console finds the new one. */
        keys("8");
        free(pane_wait("A simulated host (the sandbox)"));
        keys("a");
        free(pane_wait("Restart arkd? VMs keep running."));
        keys("y");
        free(pane_wait("Restart arkd: done."));
        assert_int_equal(read_one_line_file(pidfile, &pid2), 0);
        assert_string_not_equal(pid1, pid2);
        assert_int_not_equal(kill(atoi(pid1), 0), 0);
        {
                _cleanup_free_ char *proc = strprintf("/proc/%s/cmdline", pid2);

                assert_int_equal(read_full_file(proc, &cmdline, &n), 0);
                assert_non_null(strstr(cmdline, "arkd"));
        }
        keys("1");
        free(pane_wait("NVIDIA H100 SXM5 80GB"));
        keys("8");
        /* The others are not done on a simulated host, and the console says so. */
        keys("l");
        free(pane_wait("Restart libvirtd? VMs keep running."));
        keys("y");
        free(pane_wait("Restart libvirtd: not done; this is a simulated host"));
        keys("b y");
        free(pane_wait("Really reboot?"));
        keys("y");
        free(pane_wait("Reboot: not done; this is a simulated host"));
        keys("o y");
        free(pane_wait("Really power off?"));
        keys("y");
        free(pane_wait("Power off: not done; this is a simulated host"));
        /* The support bundle goes to the simulated removable medium. */
        keys("e");
        free(pane_wait("Write a support bundle"));
        keys("y");
        free(pane_wait("Support bundle written"));
        assert_int_equal(harness_sh(&o, &e, "ls '%s'/host/media/usb/ark-support-*.tar.gz", sbx), 0);
        o = mfree(o);
        e = mfree(e);
        /* A system update from the simulated USB stick goes into the simulated slot b; reboot into
         * it is not done. */
        {
                _cleanup_free_ char *prefix = strprintf("%s/sbx-upd/vendor", H.tmp),
                                    *pub = strprintf("%s/sbx-upd/vendor.pub", H.tmp),
                                    *key = strprintf("%s/sbx-upd/vendor.key", H.tmp),
                                    *payload = strprintf("%s/sbx-upd/payload", H.tmp),
                                    *trust = strprintf("%s/trust.d", sbx),
                                    *ark = strprintf("%s/host/media/usb/ark-99.0.0.ark", sbx);

                assert_int_equal(
                        harness_sh(
                                &o, &e,
                                "set -e; mkdir -p '%s' && head -c 1048576 /dev/urandom > '%s/root.img' && "
                                "echo uki-b > '%s/ark-b.efi' && echo uki-a > '%s/ark-a.efi' && "
                                "echo 'Sandbox update.' > '%s/RELEASE-NOTES'",
                                payload, payload, payload, payload, payload),
                        0);
                o = mfree(o);
                e = mfree(e);
                assert_arkctl(&H, 0, NULL, "bundle", "keygen", prefix);
                assert_arkctl(&H, 0, NULL, "bundle", "trust", "add", "--trust-dir", trust, pub);
                assert_arkctl(&H, 0, NULL, "bundle", "create", payload, "--kind", "update", "--name", "ark",
                              "--version", "99.0.0", "--key", key, "-o", ark, "--compatible", ARK_VERSION);
                keys("u");
                free(pane_wait("signed by trusted key")); /* then "Install it into the inactive slot?" */
                keys("y");
                free(pane_wait("System update 99.0.0 installed"));
                assert_int_equal(harness_sh(&o, &e,
                                            "cmp -n 1048576 '%s/root.img' '%s/host/slots/ark-root-b.img' && "
                                            "cat '%s/host/boot/efi/EFI/Linux/ark-b-99.0.0+3.efi'",
                                            payload, sbx, sbx),
                                 0);
                assert_string_equal(o, "uki-b\n");
                o = mfree(o);
                e = mfree(e);
                keys("b y");
                free(pane_wait("Really reboot?"));
                keys("y");
                free(pane_wait("Reboot: not done; this is a simulated host"));
        }

        /* Network: a static address, kept; DHCP; the host name. All in the sandbox's files. */
        keys("5");
        free(pane_wait("changes go to its files"));
        keys("s");
        free(pane_wait("Address of"));
        keys("192.0.2.10/24 Enter - Enter - Enter - Enter y");
        free(pane_wait("Written to the simulated host's file only."));
        keys("c");
        free(pane_wait("Kept"));
        assert_int_equal(
                harness_sh(
                        &o, &e,
                        "grep -q Address=192.0.2.10/24 '%s'/host/etc/systemd/network/10-ark-management.network",
                        sbx),
                0);
        o = mfree(o);
        e = mfree(e);
        keys("d y");
        free(pane_wait("Written to the simulated host's file only."));
        keys("c");
        keys("h");
        free(pane_wait("host name:"));
        keys("ark-demo-7 Enter y");
        free(pane_wait("Host name set in the simulated host's file only."));
        {
                _cleanup_free_ char *path = strprintf("%s/host/etc/hostname", sbx);

                assert_int_equal(read_one_line_file(path, &hostname), 0);
                assert_string_equal(hostname, "ark-demo-7");
        }
        keys("q");
        keys("\"echo sandbox-exited-\\$?\" Enter");
        free(pane_wait("sandbox-exited-0"));
        /* The sandbox is gone, with the arkd the console restarted. */
        assert_false(file_exists(sbx));
        assert_int_not_equal(kill(atoi(pid2), 0), 0);

        /* Nothing reached this machine. */
        if (read_full_file(calls, &o, &n) >= 0)
                fail_msg("the sandbox's console ran host commands:\n%s", o);
        assert_int_equal(
                harness_sh(&o, &e,
                           "find /boot /etc/systemd/network /etc/hostname /etc/ark -newer '%s/start-marker' "
                           "2>/dev/null; true",
                           rec),
                0);
        if (!isempty(o))
                fail_msg("the sandbox's console changed this machine's files:\n%s", o);
        o = mfree(o);
        e = mfree(e);
        for (size_t k = 0; k < ELEMENTSOF(host_files); k++) {
                _cleanup_free_ char *now = NULL;

                (void) read_full_file(host_files[k], &now, &n);
                if ((now == NULL) != (before[k] == NULL) || (now && !streq(now, before[k])))
                        fail_msg("%s changed", host_files[k]);
                free(before[k]);
        }
        o = mfree(o);
        (void) tmux(&o, "kill-session -t console 2>/dev/null");
}

/* Review findings, each a test that failed before its fix. */
static void test_review_fixes(void **state) {
        _cleanup_free_ char *dir = strprintf("%s/netrev2", H.tmp),
                            *file = strprintf("%s/netrev2/10-ark-management.network", H.tmp),
                            *before = strdup("[Match]\nName=eth9\n\n[Network]\nDHCP=ipv4\n"), *now = NULL,
                            *o = NULL, *cap = NULL, *e = NULL;
        size_t n;

        populate();
        for (int k = 0; k < 30; k++) {
                _cleanup_free_ char *name = strprintf("t%02d", k);
                assert_arkctl(&H, 0, NULL, "tenant", "create", name);
        }
        assert_int_equal(mkdir_p(dir, 0755), 0);
        assert_int_equal(write_string_file(file, before, WRITE_CREATE), 0);
        console_new("-x 80 -y 24 -e ARK_BUS_ADDRESS='%s' "
                    "-e LANG=C.UTF-8 -e TERM=screen '%s/bin/arktui' --network-dir '%s' "
                    "--network-interface eth9 --network-reload true --revert-seconds 60 "
                    "--restart-arkd-command 'echo NOISE-OUT; echo NOISE-ERR >&2'",
                    H.bus_address, harness_build_dir(), dir);
        o = mfree(o);
        free(pane_wait("risk/train-1"));
        /* A resize redraws at once, no key needed; and a terminal over 1000 columns and back is no
         * crash. */
        assert_int_equal(tmux(&o, "resize-window -t console -x 100 -y 30"), 0);
        o = mfree(o);
        free(pane_wait(
                "────────────────────────────────────────────────────────────────────────────────────────────────────"));
        assert_int_equal(tmux(&o, "resize-window -t console -x 1001 -y 30"), 0);
        o = mfree(o);
        free(pane_wait("too large"));
        assert_int_equal(tmux(&o, "resize-window -t console -x 80 -y 24"), 0);
        o = mfree(o);
        keys("1");
        free(pane_wait("risk/train-1"));
        /* Lists scroll: the last of 33 tenants comes into view. */
        keys("3");
        free(pane_wait("Risk analytics"));
        for (int k = 0; k < 32; k++)
                keys("Down");
        free(pane_wait(" t29 "));
        /* A command's output stays off the screen. */
        keys("8 a y");
        cap = pane_wait("Restart arkd: done.");
        assert_null(strstr(cap, "NOISE"));
        cap = mfree(cap);
        /* A hung arkd (stopped) does not freeze the console: it says so and keys still work. */
        assert_int_equal(kill(H.arkd_pid, SIGSTOP), 0);
        keys("1 r");
        free(pane_wait("The control plane is unavailable"));
        keys("7");
        free(pane_wait("u unit"));
        assert_int_equal(kill(H.arkd_pid, SIGCONT), 0);
        keys("1 r");
        free(pane_wait("risk/train-1"));
        /* Ctrl-C with a network change not kept: it reverts. */
        keys("5 s");
        free(pane_wait("Address of eth9"));
        keys("192.0.2.10/24 Enter - Enter - Enter - Enter y");
        free(pane_wait("Reverting in"));
        assert_int_equal(read_full_file(file, &now, &n), 0);
        assert_non_null(strstr(now, "Address=192.0.2.10/24"));
        now = mfree(now);
        keys("C-c");
        for (uint64_t end = harness_wait_deadline(); !harness_wait_over(end);) {
                if (read_full_file(file, &now, &n) >= 0 && streq(now, before))
                        break;
                now = mfree(now);
                usleep(50000);
        }
        assert_non_null(now);
        assert_string_equal(now, before);
        e = mfree(e);
        (void) tmux(&o, "kill-session -t console 2>/dev/null");
        for (int k = 0; k < 30; k++) {
                _cleanup_free_ char *name = strprintf("t%02d", k);
                assert_arkctl(&H, 0, NULL, "tenant", "delete", name);
        }
}

static void test_arkd_away(void **state) {
        _cleanup_free_ char *o = NULL;

        populate();
        console_new("-x 80 -y 24 -e ARK_BUS_ADDRESS='%s' "
                    "-e LANG=C.UTF-8 -e TERM=screen '%s/bin/arktui'",
                    H.bus_address, harness_build_dir());
        o = mfree(o);
        free(pane_wait("risk/train-1"));
        assert_int_equal(harness_stop_arkd(&H, SIGTERM), 0);
        free(pane_wait("The control plane is unavailable"));
        assert_int_equal(harness_start_arkd(&H, NULL), 0);
        free(pane_wait("risk/train-1"));
        keys("q");
        o = mfree(o);
        (void) tmux(&o, "kill-session -t console 2>/dev/null");
}

/* ------------------------------------------------------------------------------ containers */

/* What a dialog in the pane says, its lines joined by a space: the text between "│ " and " │" of
 * each line that has both. */
static char *dialog_words(const char *pane) {
        StrBuf b = {};

        for (const char *l = pane; *l;) {
                size_t n = strcspn(l, "\n");
                _cleanup_free_ char *line = strndup(l, n);
                char *open = line ? strstr(line, "│ ") : NULL, *close = open ? strstr(open + 1, " │") : NULL;

                if (close) {
                        char *end = close;

                        while (end > open && end[-1] == ' ')
                                end--;
                        strbuf_printf(&b, "%s%.*s", b.len ? " " : "", (int) (end - open - strlen("│ ")),
                                      open + strlen("│ "));
                }
                l += n + (l[n] == '\n');
        }
        return strbuf_steal(&b) ?: strdup("");
}

/* Whether the extended regular expression matches somewhere in text. */
static bool matches(const char *text, const char *pattern) {
        regex_t re;
        bool m;

        assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
        m = regexec(&re, text, 0, NULL, 0) == 0;
        regfree(&re);
        return m;
}

/* Containers and GPU partitions (issue 18): arkd restarted with the fake NVML and a fake MPS
 * control daemon (as test-container's test_partitions), an image made with umoci, bundled and
 * imported; a plain container, a MIG 3g.40gb one and a 0.25 share. The Instances screen lists them
 * as containers with their profile or share, the details show the partition and the image, start
 * asks about a container; the GPUs screen shows each partition under its GPU with its holder, and
 * "another tenant" to a member of another tenant. Needs root, crun, conmon and umoci, and the fake
 * NVML: skipped with the reason otherwise. Last: arkd keeps the fake NVML after it. */
static void test_containers(void **state) {
        static char *conf; /* H.extra_conf borrows it for every later start */
        _cleanup_free_ char *work = strprintf("%s/ct-work", H.tmp),
                            *nvml = strprintf("%s/tests/libnvidia-ml.so.1", harness_build_dir()),
                            *nvml_state = strprintf("%s/nvml.state", H.tmp),
                            *fake_mps = strprintf("%s/fake-mps-control", H.tmp), *o = NULL, *e = NULL,
                            *cap = NULL, *text = NULL, *member = NULL;
        char *line;
        int down = -1, row = 0;

        if (geteuid() != 0) {
                printf("# skipped: not root (containers need it)\n");
                skip();
        }
        if (access("/usr/bin/crun", X_OK) < 0 || access("/usr/bin/conmon", X_OK) < 0 ||
            access("/usr/bin/umoci", X_OK) < 0) {
                printf("# skipped: crun, conmon or umoci is missing (scripts/deps.sh installs them)\n");
                skip();
        }
        if (access(nvml, R_OK) < 0) {
                printf("# skipped: %s is not built (make builds it)\n", nvml);
                skip();
        }
        populate();
        /* The image: busybox and a command, one layer. */
        if (harness_sh(&o, &e,
                       "set -e; mkdir -p '%s'; cd '%s'; umoci init --layout oci; umoci new --image oci:bb;"
                       "umoci unpack --image oci:bb b >/dev/null; mkdir -p b/rootfs/bin;"
                       "cp /bin/busybox b/rootfs/bin/;"
                       "ln -s busybox b/rootfs/bin/sh; ln -s busybox b/rootfs/bin/sleep;"
                       "umoci repack --image oci:bb b; rm -rf b;"
                       "umoci config --image oci:bb --config.cmd /bin/sleep --config.cmd 1000;"
                       "umoci gc --layout oci",
                       work, work) != 0)
                fail_msg("umoci: %s", strna(e));
        o = mfree(o);
        e = mfree(e);
        /* The fake NVML's GPUs (dgx-h100's, their UUIDs from the fixture) and the device nodes. */
        assert_int_equal(harness_sh(NULL, NULL,
                                    "for d in '%s'/proc/driver/nvidia/gpus/*; do a=$(basename $d); "
                                    "u=$(sed -n 's/^GPU UUID:[[:space:]]*//p' $d/information); "
                                    "echo \"gpu $a uuid=$u memory_mib=81559 mig=0 compute_mode=0 "
                                    "name=NVIDIA H100 80GB HBM3\"; "
                                    "done > '%s'",
                                    H.sysfs_root, nvml_state),
                         0);
        assert_int_equal(
                harness_sh(NULL, NULL, "cp '%s/tests/fake-mps-control' '%s'", harness_src_dir(), fake_mps),
                0);
        if (harness_sh(NULL, &e,
                       "set -e; mkdir -p '%s/dev'; cd '%s/dev'; rm -f nvidia*; "
                       "for i in 0 1 2 3 4 5 6 7; do mknod nvidia$i c 195 $i; done; "
                       "mknod nvidiactl c 195 255; mknod nvidia-uvm c 511 0; mkdir -p nvidia-caps; "
                       "awk '{print $2}' '%s/proc/driver/nvidia-caps/mig-minors' | "
                       "while read m; do mknod nvidia-caps/nvidia-cap$m c 509 $m; done",
                       H.tmp, H.tmp, H.sysfs_root) != 0)
                fail_msg("mknod: %s", strna(e));
        e = mfree(e);
        conf = strprintf("NVML=%s\nMPSControl=%s\n", nvml, fake_mps);
        assert_int_equal(harness_stop_arkd(&H, SIGTERM), 0);
        H.extra_conf = conf;
        assert_int_equal(setenv("ARK_FAKE_NVML_STATE", nvml_state, 1), 0);
        assert_int_equal(harness_start_arkd(&H, NULL), 0);
        {
                _cleanup_free_ char *key = strprintf("%s/ctkey", H.tmp),
                                    *keyfile = strprintf("%s/ctkey.key", H.tmp),
                                    *pub = strprintf("%s/ctkey.pub", H.tmp),
                                    *oci = strprintf("%s/oci", work), *ark = strprintf("%s/bb.ark", H.tmp);

                assert_arkctl(&H, 0, NULL, "bundle", "keygen", key);
                assert_arkctl(&H, 0, NULL, "bundle", "trust", "add", pub);
                assert_arkctl(&H, 0, "Created", "bundle", "create", oci, "--kind", "container-image",
                              "--name", "bb", "--version", "1", "--key", keyfile, "-o", ark);
                assert_arkctl(&H, 0, "Imported", "bundle", "import", ark);
        }
        assert_arkctl(&H, 0, NULL, "ct", "create", "web", "--tenant", "risk", "--image", "bb", "--cpus", "1",
                      "--memory", "1G");
        assert_arkctl(&H, 0, NULL, "ct", "create", "m1", "--tenant", "retail", "--image", "bb", "--cpus",
                      "1", "--memory", "1G", "--mig", "3g.40gb");
        assert_arkctl(&H, 0, NULL, "ct", "create", "s1", "--tenant", "risk", "--image", "bb", "--cpus", "1",
                      "--memory", "1G", "--gpu-share", "0.25", "--gpu-memory", "10G");

        /* Instances: a type column, the partition where a count of GPUs is. */
        text = dump("instances", "en");
        assert_non_null(strstr(text, " 1 Dashboard 2 GPUs 3 Tenants 4 Instances 5 Network"));
        for (const char *const *want =
                     (const char *const[]) { "\n train-1 +risk +VM +[a-z]+ +8 ",
                                             "\n db-1 +retail +VM +stopped",
                                             "\n web +risk +container +stopped +1 +1 GiB +0 ",
                                             "\n m1 +retail +container +stopped +1 +1 GiB +3g.40gb ",
                                             "\n s1 +risk +container +stopped +1 +1 GiB +0.250 ", NULL };
             *want; want++)
                if (!matches(text, *want))
                        fail_msg("the Instances screen lacks /%s/:\n%s", *want, text);
        /* The row of m1, for the interactive part (the first row is selected). */
        for (line = text; line && (line = strchr(line, '\n')); line++, row++)
                if (startswith(line + 1, " m1 "))
                        down = row - 3; /* line row + 1, below the title, the tabs, the line and the head */
        assert_true(down >= 0);
        text = mfree(text);
        text = dump("instances", "zh");
        assert_non_null(strstr(text, "4 实例"));
        assert_non_null(strstr(text, "容器"));
        text = mfree(text);

        /* GPUs: partitioned, each partition a line under its GPU with its holder. */
        text = dump("accelerators", "en");
        if (!matches(text, "partitioned +partitions: 1[^\n]*\n +└ MIG 3g\\.40gb +retail/m1\n") ||
            !matches(text, "partitioned +partitions: 1[^\n]*\n +└ share 0\\.250, 10 GiB +risk/s1\n"))
                fail_msg("the GPUs screen lacks the partitions:\n%s", text);
        text = mfree(text);
        text = dump("dashboard", "en");
        assert_non_null(strstr(text, "partitions: 1"));
        text = mfree(text);
        /* A member of risk sees its share's holder, and retail's MIG instance as another tenant's. */
        assert_int_equal(harness_sh(NULL, NULL,
                                    "userdel ark-t-conct 2>/dev/null; useradd --system --no-create-home "
                                    "--shell /usr/sbin/nologin ark-t-conct"),
                         0);
        assert_arkctl(&H, 0, NULL, "tenant", "member", "add", "risk", "--user", "ark-t-conct");
        assert_int_equal(
                harness_sh(&member, NULL,
                           "ARK_BUS_ADDRESS='%s' setpriv --reuid=ark-t-conct --regid=ark-t-conct "
                           "--init-groups '%s/bin/arktui' --dump accelerators --size 80x24 --lang en",
                           H.bus_address, harness_build_dir()),
                0);
        assert_arkctl(&H, 0, NULL, "tenant", "member", "remove", "risk", "--user", "ark-t-conct");
        (void) harness_sh(NULL, NULL, "userdel ark-t-conct");
        if (!strstr(member, "└ MIG 3g.40gb") || !strstr(member, "another tenant") ||
            strstr(member, "retail/m1") || !strstr(member, "risk/s1"))
                fail_msg("a member of risk sees:\n%s", member);

        /* The console: m1's details (its partition and image, no disk), and start asks about a
         * container. */
        console_new("-x 80 -y 24 -e ARK_BUS_ADDRESS='%s' "
                    "-e LANG=C.UTF-8 -e TERM=screen '%s/bin/arktui'",
                    H.bus_address, harness_build_dir());
        free(pane_wait("risk/train-1"));
        keys("4");
        free(pane_wait("container"));
        for (int k = 0; k < down; k++)
                keys("Down");
        keys("Enter");
        cap = pane_wait("Container m1 of retail");
        {
                _cleanup_free_ char *said = dialog_words(cap);

                if (!matches(said, "GPUs MIG 3g\\.40gb of 0000:[0-9a-f]{2}:00\\.0, image bb") ||
                    strstr(said, "disk"))
                        fail_msg("m1's details: %s\n%s", said, cap);
        }
        cap = mfree(cap);
        keys("x");
        keys("s");
        free(pane_wait("Start container 'm1'?"));
        keys("n");
        free(pane_wait("Cancelled."));
        keys("q");
        o = mfree(o);
        (void) tmux(&o, "kill-session -t console 2>/dev/null");

        /* Deleting the containers frees the GPUs again. */
        for (const char *const *n = (const char *const[]) { "web", "m1", "s1", NULL }; *n; n++)
                assert_arkctl(&H, 0, NULL, "ct", "delete", *n);
        text = dump("accelerators", "en");
        if (strstr(text, "partitioned") || strstr(text, "└"))
                fail_msg("partitions left after the delete:\n%s", text);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_golden),
                cmocka_unit_test(test_golden_wide),
                cmocka_unit_test(test_no_cut_names),
                cmocka_unit_test(test_dashboard),
                cmocka_unit_test(test_chinese_alignment),
                cmocka_unit_test(test_interactive),
                cmocka_unit_test(test_actions),
                cmocka_unit_test(test_create_vm),
                cmocka_unit_test(test_import_from_media),
                cmocka_unit_test(test_network_revert),
                cmocka_unit_test(test_system),
                cmocka_unit_test(test_system_update),
                cmocka_unit_test(test_make_run),
                cmocka_unit_test(test_sandbox_acts_on_itself),
                cmocka_unit_test(test_review_fixes),
                cmocka_unit_test(test_arkd_away),
                cmocka_unit_test(test_containers),
        };
        return cmocka_run_group_tests_name("console", tests, setup, teardown);
}

/* The console's Network screen lists the tenant networks arkd reports (issue 17). arkd runs in a
 * network namespace of its own (its bridges and rules stay there), with an uplink for NAT: a veth
 * holding the default route. What the tests check:
 *   - `arktui --dump network` shows each network under the management network: name, tenant, mode
 *     with its uplink, subnet, instance count and status, in English and in Chinese, the Chinese
 *     columns aligned by display width;
 *   - the interactive console follows arkd's signals without a key pressed: a network created
 *     (NetworkNew) appears; a VM plugged in while the network's bridge is replaced by a link that
 *     is not one gives the network an instance and a problem (PropertiesChanged Instances,
 *     Problem), shown with its marker and the problem in full; the VM gone and the bridge made
 *     again clear it; the network deleted (NetworkRemoved) leaves the screen.
 * Needs root (network namespaces); skipped with the reason otherwise. */

#include "itest.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <wchar.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "basic/time-util.h"

static Harness H;
static char host_ns[64], netns_path[128], tmux_socket[64];
static char *skip_reason;

static int group_setup(void **state) {
        _cleanup_free_ char *o = NULL, *e = NULL;

        snprintf(tmux_socket, sizeof(tmux_socket), "ark-test-console-network-%d", (int) getpid());
        if (geteuid() != 0) {
                skip_reason = strdup("network namespaces need root");
                return 0;
        }
        snprintf(host_ns, sizeof(host_ns), "arkc-%d", (int) getpid());
        snprintf(netns_path, sizeof(netns_path), "/run/netns/%s", host_ns);
        /* NAT networks leave by the default route's interface: up0 (a veth: this kernel may lack the
         * dummy module). */
        if (harness_sh(&o, &e,
                       "ip netns add %1$s && ip -n %1$s link set lo up && "
                       "ip -n %1$s link add up0 type veth peer name site0 && "
                       "ip -n %1$s addr add 10.255.0.1/30 dev up0 && ip -n %1$s link set up0 up && "
                       "ip -n %1$s link set site0 up && ip -n %1$s route add default via 10.255.0.2",
                       host_ns) != 0) {
                skip_reason = strprintf("cannot make a network namespace: %s", strempty(e));
                return 0;
        }
        if (harness_setup(&H, "dgx-h100") < 0)
                return -1;
        H.netns = netns_path;
        if (harness_start_arkd(&H, NULL) < 0)
                return -1;
        return 0;
}

static int group_teardown(void **state) {
        (void) harness_sh(NULL, NULL, "tmux -L %s kill-server 2>/dev/null; true", tmux_socket);
        if (!skip_reason)
                harness_teardown(&H);
        if (host_ns[0])
                (void) harness_sh(NULL, NULL, "ip netns del %s", host_ns);
        free(skip_reason);
        return 0;
}

static void require_setup(void) {
        if (skip_reason) {
                fprintf(stderr, "[ SKIP     ] %s\n", skip_reason);
                skip();
        }
}

/* A property of `arkctl -o json network show NAME` (newly allocated). */
static char *network_field(const char *name, const char *key) {
        json_t *j = harness_arkctl_json(&H, "network", "show", name, NULL);
        const char *v = json_string_value(json_object_get(j, key));
        char *s;

        if (!v)
                fail_msg("network %s has no '%s'", name, key);
        s = strdup(v);
        json_decref(j);
        return s;
}

/* `arktui --dump network` (the management network from files of the test's own). */
static char *dump_network(const char *lang, const char *size) {
        _cleanup_free_ char *e = NULL;
        char *o = NULL;

        if (harness_sh(&o, &e,
                       "'%s/bin/arktui' --dump network --size %s --lang %s --network-dir '%s/net' "
                       "--network-interface eth9 --hostname-file /dev/null",
                       harness_build_dir(), size, lang, H.tmp) != 0)
                fail_msg("arktui --dump network: %s", strna(e));
        return o;
}

/* The line of `text` that has `word` as a whole cell (newly allocated); fails when none. */
static char *row_of(const char *text, const char *word) {
        _cleanup_free_ char *cell = strprintf(" %s ", word);

        for (const char *l = text; *l;) {
                size_t n = strcspn(l, "\n");
                _cleanup_free_ char *line = strndup(l, n);

                if (line && strstr(line, cell))
                        return TAKE_PTR(line);
                l += n + (l[n] == '\n');
        }
        fail_msg("no row with '%s' in:\n%s", word, text);
        return NULL;
}

/* The display column where `needle` starts in `line` (UTF-8; a CJK character takes two). */
static int display_column(const char *line, const char *needle) {
        const char *at = strstr(line, needle);
        _cleanup_free_ char *head = NULL;
        wchar_t w[512];
        size_t n;

        if (!at)
                fail_msg("'%s' is not in '%s'", needle, line);
        head = strndup(line, (size_t) (at - line));
        n = mbstowcs(w, head, ELEMENTSOF(w));
        assert_true(n != (size_t) -1);
        return wcswidth(w, n);
}

static void test_dump_lists_networks(void **state) {
        _cleanup_free_ char *en = NULL, *zh = NULL, *wide = NULL, *lab_subnet = NULL, *web_subnet = NULL,
                            *row = NULL;

        require_setup();
        /* Before any network: the section says so, and the management network is still there. */
        en = dump_network("en", "80x24");
        assert_non_null(strstr(en, "Interface eth9"));
        assert_non_null(strstr(en, "Tenant networks"));
        assert_non_null(strstr(en, "No tenant networks yet"));
        en = mfree(en);

        assert_arkctl(&H, 0, NULL, "tenant", "create", "risk");
        assert_arkctl(&H, 0, NULL, "network", "create", "lab", "--tenant", "risk", "--isolated");
        assert_arkctl(&H, 0, NULL, "network", "create", "web", "--tenant", "risk", "--nat");
        lab_subnet = network_field("risk/lab", "subnet");
        web_subnet = network_field("risk/web", "subnet");

        en = dump_network("en", "80x24");
        assert_null(strstr(en, "No tenant networks yet"));
        row = row_of(en, "lab");
        assert_non_null(strstr(row, " risk "));
        assert_non_null(strstr(row, " isolated "));
        assert_non_null(strstr(row, lab_subnet));
        assert_non_null(strstr(row, " 0 ok"));
        row = mfree(row);
        row = row_of(en, "web");
        assert_non_null(strstr(row, " NAT via up0 "));
        assert_non_null(strstr(row, web_subnet));
        row = mfree(row);
        /* The first row is selected: its bridge and gateway under the table. */
        assert_non_null(strstr(en, "risk/lab: bridge arkn"));

        /* In Chinese, the cells line up under their heads by display width. */
        assert_non_null(setlocale(LC_CTYPE, "C.UTF-8"));
        zh = dump_network("zh", "80x24");
        assert_non_null(strstr(zh, "租户网络"));
        {
                _cleanup_free_ char *head = row_of(zh, "子网"), *lab = row_of(zh, "lab"),
                                    *web = row_of(zh, "web");

                assert_non_null(strstr(lab, " 隔离 "));
                assert_non_null(strstr(web, "NAT，出口 up0"));
                assert_int_equal(display_column(lab, lab_subnet), display_column(head, "子网"));
                assert_int_equal(display_column(web, web_subnet), display_column(head, "子网"));
                assert_int_equal(display_column(lab, "正常"), display_column(head, "状态"));
        }
        /* Wider: the same rows. */
        wide = dump_network("en", "120x40");
        row = row_of(wide, "web");
        assert_non_null(strstr(row, web_subnet));
}

/* ------------------------------------------------------------------------------ tmux */

static int tmux(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int tmux(char **out, const char *fmt, ...) {
        _cleanup_free_ char *cmd = NULL, *e = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&cmd, fmt, ap) < 0)
                cmd = NULL;
        va_end(ap);
        assert_non_null(cmd);
        return harness_sh(out, &e, "tmux -u -L %s %s", tmux_socket, cmd);
}

/* Waits until the pane shows `text` (or, with gone, no longer does) and returns the capture. The
 * console fetches again 100 ms after a signal from arkd, and otherwise only once a minute: the
 * bound, generous for a loaded machine, stays below that minute, so that a change the console
 * missed fails instead of showing up late. */
#define PANE_WAIT_SEC 40
static char *pane_wait_for(const char *text, bool gone) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + PANE_WAIT_SEC * USEC_PER_SEC;

        for (;;) {
                char *o = NULL;

                if (tmux(&o, "capture-pane -p -t console") == 0 && o && !strstr(o, text) == gone)
                        return o;
                if (now_usec(CLOCK_MONOTONIC) > deadline)
                        fail_msg("the pane %s '%s' after %d s; it shows:\n%s",
                                 gone ? "still shows" : "never showed", text, PANE_WAIT_SEC, strna(o));
                free(o);
                usleep(50000);
        }
}

static void keys(const char *k) {
        _cleanup_free_ char *o = NULL;

        assert_int_equal(tmux(&o, "send-keys -t console %s", k), 0);
}

static void test_console_follows_signals(void **state) {
        _cleanup_free_ char *o = NULL, *cap = NULL, *row = NULL, *bridge = NULL;

        require_setup();
        assert_arkctl(&H, 0, NULL, "tenant", "create", "retail");
        if (tmux(&o,
                 "-f /dev/null new-session -d -s console -x 80 -y 24 -e ARK_BUS_ADDRESS='%s' -e LANG=C.UTF-8 "
                 "-e TERM=screen \"'%s/bin/arktui' --network-dir '%s/net' --network-interface eth9 "
                 "--hostname-file /dev/null\"",
                 H.bus_address, harness_build_dir(), H.tmp) != 0)
                fail_msg("tmux new-session failed: %s", strna(o));
        o = mfree(o);
        keys("5");
        free(pane_wait_for("Tenant networks", false));

        /* NetworkNew: the console fetches again; retail/shop sorts first, so it is selected. */
        assert_arkctl(&H, 0, NULL, "network", "create", "shop", "--tenant", "retail", "--isolated");
        cap = pane_wait_for(" shop ", false);
        row = row_of(cap, "shop");
        assert_non_null(strstr(row, " 0 ok"));
        row = mfree(row);
        cap = mfree(cap);

        /* A link that is not a bridge where the bridge was: the next change to the network (a VM
         * plugged in) cannot bring its data path up. Instances and Problem change together. */
        bridge = network_field("retail/shop", "bridge");
        if (harness_sh(&o, NULL,
                       "ip -n %1$s link del %2$s && ip -n %1$s link add %2$s type veth peer name stand0",
                       host_ns, bridge) != 0)
                fail_msg("cannot replace bridge %s: %s", bridge, strna(o));
        o = mfree(o);
        assert_arkctl(&H, 0, NULL, "vm", "create", "db-1", "--tenant", "retail", "--vcpus", "1", "--memory",
                      "1G", "--network", "shop");
        cap = pane_wait_for("! problem", false);
        row = row_of(cap, "shop");
        assert_non_null(strstr(row, " 1 ! problem"));
        row = mfree(row);
        assert_non_null(strstr(cap, "Problem: "));
        assert_non_null(strstr(cap, "VMs: db-1 "));
        cap = mfree(cap);

        /* The stand-in gone (its peer with it), the VM deleted: the network is made again, and says so. */
        if (harness_sh(&o, NULL, "ip -n %s link del %s", host_ns, bridge) != 0)
                fail_msg("cannot remove link %s: %s", bridge, strna(o));
        o = mfree(o);
        assert_arkctl(&H, 0, NULL, "vm", "delete", "db-1");
        free(pane_wait_for("! problem", true));
        cap = pane_wait_for(" shop ", false);
        row = row_of(cap, "shop");
        assert_non_null(strstr(row, " 0 ok"));
        row = mfree(row);
        cap = mfree(cap);

        /* NetworkRemoved. */
        assert_arkctl(&H, 0, NULL, "network", "delete", "retail/shop");
        free(pane_wait_for(" shop ", true));
        keys("q");
        (void) tmux(&o, "kill-session -t console 2>/dev/null");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_dump_lists_networks),
                cmocka_unit_test(test_console_follows_signals),
        };
        return cmocka_run_group_tests_name("console-network", tests, group_setup, group_teardown);
}

/* scripts/sandbox as users run it: the fixture hosts' accelerators through arkctl JSON, state kept
 * with --state across runs, COMMAND's exit status passed through, and everything torn down on exit
 * and on Ctrl-C. */

#include "itest.h"

#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"

static json_t *sandbox_json(const char *host, const char *args) {
        _cleanup_free_ char *out = NULL, *err = NULL;
        json_error_t jerr;
        json_t *j;
        int r;

        r = harness_sh(&out, &err, "'%s/scripts/sandbox' --host %s -- arkctl -o json %s", harness_src_dir(),
                       host, args);
        if (r != 0)
                fail_msg("sandbox --host %s -- arkctl %s exited %d: %s %s", host, args, r, strna(out),
                         strna(err));
        j = json_loads(out, 0, &jerr);
        if (!j)
                fail_msg("not JSON (%s): %s", jerr.text, out);
        return j;
}

static const char *jstr(json_t *o, const char *key) {
        const char *s = json_string_value(json_object_get(o, key));
        if (!s)
                fail_msg("key '%s' missing or not a string", key);
        return s;
}

static void test_dgx_h100(void **state) {
        json_t *j = sandbox_json("dgx-h100", "host accelerators"), *a;
        unsigned numa[2] = {};
        size_t k;

        assert_true(json_is_array(j));
        assert_int_equal(json_array_size(j), 8);
        json_array_foreach(j, k, a) {
                json_int_t node = json_integer_value(json_object_get(a, "numa_node"));

                assert_string_equal(jstr(a, "vendor_id"), "0x10de");
                assert_string_equal(jstr(a, "device_id"), "0x2330");
                assert_non_null(strstr(jstr(a, "model"), "H100"));
                assert_int_equal(strlen(jstr(a, "address")), 12);
                assert_true(json_integer_value(json_object_get(a, "iommu_group")) >= 0);
                assert_int_equal(json_array_size(json_object_get(a, "iommu_group_members")), 1);
                assert_true(node == 0 || node == 1);
                numa[node]++;
        }
        assert_int_equal(numa[0], 4);
        assert_int_equal(numa[1], 4);
        json_decref(j);

        j = sandbox_json("dgx-h100", "host show");
        assert_int_equal(json_integer_value(json_object_get(j, "cpus")), 224);
        assert_string_equal(jstr(j, "cpu_model"), "Intel(R) Xeon(R) Platinum 8480C");
        assert_int_equal(json_array_size(json_object_get(j, "numa_nodes")), 2);
        assert_true(json_integer_value(json_object_get(j, "memory_bytes")) == (json_int_t) 2 << 40);
        assert_true(json_is_true(json_object_get(j, "iommu_enabled")));
        json_decref(j);
}

/* Each consumer GPU shares its IOMMU group with its own HDMI audio, USB 3.1 and USB-C (UCSI)
 * functions, and the listing shows every one of them. The 2080 Ti's group is the chipset's: it
 * also holds the onboard NIC (eno1) and the chipset's root ports. */
static void test_ws_rtx_groups(void **state) {
        json_t *j = sandbox_json("ws-rtx", "host accelerators"), *a, *m;
        size_t k, l;

        assert_int_equal(json_array_size(j), 2);
        json_array_foreach(j, k, a) {
                json_t *members = json_object_get(a, "iommu_group_members");
                unsigned audio = 0, usb = 0, ucsi = 0, nic = 0, bridges = 0;

                json_array_foreach(members, l, m) {
                        const char *cls = jstr(m, "class");
                        bool own = strneq(jstr(m, "address"), jstr(a, "address"),
                                          10); /* one of its functions */

                        if (json_is_true(json_object_get(m, "bridge")))
                                bridges++;
                        else if (startswith(cls, "0x0403") && own)
                                audio++;
                        else if (startswith(cls, "0x0c03") && own)
                                usb++;
                        else if (startswith(cls, "0x0c80") && own)
                                ucsi++;
                        else if (startswith(cls, "0x0200")) {
                                assert_string_equal(jstr(m, "interface"), "eno1");
                                nic++;
                        }
                }
                assert_int_equal(audio, 1);
                assert_int_equal(usb, 1);
                assert_int_equal(ucsi, 1);
                if (streq(jstr(a, "address"), "0000:06:00.0")) {
                        assert_int_equal(json_array_size(members), 7);
                        assert_int_equal(nic, 1);
                        assert_int_equal(bridges, 2);
                } else {
                        assert_int_equal(json_array_size(members), 4);
                        assert_int_equal(nic + bridges, 0);
                }
        }
        json_decref(j);
}

/* The table at 80 columns: the two GPUs are told apart by their model (not both "NVIDIA GeForce
 * RTX 2080 …"), and each group member is named by its kind. */
static void test_ws_rtx_table(void **state) {
        _cleanup_free_ char *out = NULL, *err = NULL;
        char *line, *save = NULL;
        unsigned lines = 0;
        int r;

        r = harness_sh(&out, &err,
                       "COLUMNS=80 '%s/scripts/sandbox' --host ws-rtx -- arkctl host accelerators",
                       harness_src_dir());
        if (r != 0)
                fail_msg("sandbox --host ws-rtx -- arkctl host accelerators exited %d: %s", r, strna(err));
        assert_non_null(strstr(out, "GeForce RTX 2080 SUPER"));
        assert_non_null(strstr(out, "GeForce RTX 2080 Ti"));
        assert_null(strstr(out, "\u2026")); /* nothing had to be ellipsized */
        assert_non_null(strstr(out, "  0000:17:00.1  audio (snd_hda_intel)"));
        assert_non_null(strstr(out, "  0000:17:00.2  USB (xhci_hcd)"));
        assert_non_null(strstr(out, "  0000:06:00.3  USB-C (nvidia-gpu)"));
        assert_non_null(strstr(out, "  0000:05:00.0  network eno1 (igc)"));
        assert_non_null(strstr(out, "  0000:00:1c.4  bridge (pcieport)"));
        for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                if (strlen(line) > 80)
                        fail_msg("line wider than 80 columns: '%s'", line);
                lines++;
        }
        assert_int_equal(lines, 1 + 4 + 7); /* header, the two GPUs with the rest of their groups */
}

static void test_ascend(void **state) {
        json_t *j = sandbox_json("ascend-910b", "host accelerators"), *a;
        size_t k;

        assert_int_equal(json_array_size(j), 8);
        json_array_foreach(j, k, a) {
                assert_string_equal(jstr(a, "vendor_id"), "0x19e5");
                assert_string_equal(jstr(a, "vendor"), "Huawei");
                assert_non_null(strstr(jstr(a, "model"), "910B"));
        }
        json_decref(j);
}

static void test_no_iommu(void **state) {
        json_t *j = sandbox_json("no-iommu", "host accelerators"), *a;
        size_t k;

        assert_int_equal(json_array_size(j), 2);
        json_array_foreach(j, k, a)
                assert_int_equal(json_integer_value(json_object_get(a, "iommu_group")), -1);
        json_decref(j);
        j = sandbox_json("no-iommu", "host show");
        assert_true(json_is_false(json_object_get(j, "iommu_enabled")));
        json_decref(j);
}

/* arkctl host check: exit 0 when everything asked about is ready, 1 otherwise, with the reason
 * and the remedy; -o json says the same for machines. */
static void test_host_check(void **state) {
        _cleanup_free_ char *out = NULL, *err = NULL;
        json_t *j, *a;
        size_t k;
        int r;

        r = harness_sh(&out, &err, "'%s/scripts/sandbox' -- arkctl host check", harness_src_dir());
        if (r != 0)
                fail_msg("host check on dgx-h100 exited %d:\n%s%s", r, strna(out), strna(err));
        assert_non_null(strstr(out, "Ready: the host and 8 accelerators can be passed through."));
        /* Where the metrics are is said (make run opens the console; issue 15). */
        assert_non_null(strstr(strempty(err), "sandbox: metrics at http://127.0.0.1:"));
        out = mfree(out);
        err = mfree(err);

        /* The workstation: the 2080 Ti's group holds the NIC. */
        r = harness_sh(&out, &err, "'%s/scripts/sandbox' --host ws-rtx -- arkctl host check",
                       harness_src_dir());
        assert_int_equal(r, 1);
        assert_non_null(strstr(out, "NOT READY  iommu-group"));
        assert_non_null(strstr(out, "Remedy: put the GPU in a slot with an IOMMU"));
        assert_non_null(strstr(out, "Not ready: 1 of 2 accelerators (0000:06:00.0)."));
        out = mfree(out);
        err = mfree(err);
        /* Asking about the other GPU only: ready. */
        r = harness_sh(&out, &err, "'%s/scripts/sandbox' --host ws-rtx -- arkctl host check 0000:17:00.0",
                       harness_src_dir());
        assert_int_equal(r, 0);
        assert_null(strstr(out, "0000:06:00.0"));
        out = mfree(out);
        err = mfree(err);
        r = harness_sh(&out, &err, "'%s/scripts/sandbox' --host ws-rtx -- arkctl host check 0000:99:00.0",
                       harness_src_dir());
        assert_int_equal(r, 1);
        assert_non_null(strstr(strempty(err), "no accelerator at '0000:99:00.0'"));
        out = mfree(out);
        err = mfree(err);

        /* Acceptance 3: no IOMMU, exit 1, says it is off and how to turn it on. */
        r = harness_sh(&out, &err, "'%s/scripts/sandbox' --host no-iommu -- arkctl host check",
                       harness_src_dir());
        assert_int_equal(r, 1);
        assert_non_null(strstr(out, "NOT READY  iommu                off"));
        assert_non_null(strstr(out, "intel_iommu=on"));
        out = mfree(out);
        err = mfree(err);

        r = harness_sh(&out, &err, "'%s/scripts/sandbox' --host no-iommu -- arkctl -o json host check",
                       harness_src_dir());
        assert_int_equal(r, 1);
        j = json_loads(out, 0, NULL);
        assert_non_null(j);
        assert_true(json_is_false(json_object_get(j, "ready")));
        assert_string_equal(jstr(json_array_get(json_object_get(j, "host"), 0), "check"), "iommu");
        assert_string_equal(jstr(json_array_get(json_object_get(j, "host"), 0), "status"), "not-ready");
        assert_true(strlen(jstr(json_array_get(json_object_get(j, "host"), 0), "remedy")) > 0);
        assert_int_equal(json_array_size(json_object_get(j, "accelerators")), 2);
        json_array_foreach(json_object_get(j, "accelerators"), k, a) {
                assert_true(json_is_false(json_object_get(a, "ready")));
                assert_non_null(strstr(jstr(a, "model"), "A100"));
                assert_true(json_array_size(json_object_get(a, "checks")) >= 5);
        }
        json_decref(j);
}

static void test_state_kept_and_exit_status(void **state) {
        char tmpl[] = "/tmp/ark-sbx-state.XXXXXX";
        _cleanup_free_ char *out = NULL, *err = NULL, *sbx = NULL;
        const char *src = harness_src_dir();

        assert_non_null(mkdtemp(tmpl));
        assert_int_equal(
                harness_sh(&out, &err,
                           "'%s/scripts/sandbox' --state %s -- sh -c 'arkctl tenant create keep && "
                           "arkctl vm create keep-vm --tenant keep --vcpus 1 --memory 256M --start'",
                           src, tmpl),
                0);
        free(out);
        free(err);
        /* A second run on the same state sees it again, running (as after a host reboot). */
        assert_int_equal(harness_sh(&out, &err, "'%s/scripts/sandbox' --state %s -- arkctl vm show keep-vm",
                                    src, tmpl),
                         0);
        assert_non_null(strstr(out, "running"));
        free(out);
        free(err);

        /* COMMAND's exit status is the sandbox's; its temp dir is gone afterwards. */
        assert_int_equal(
                harness_sh(&out, &err, "'%s/scripts/sandbox' -- sh -c 'echo $ARK_SANDBOX; exit 7'", src), 7);
        sbx = strdup(strstrip(out));
        assert_true(startswith(sbx, "/tmp/ark-sandbox."));
        assert_false(file_exists(sbx));
        free(out);
        free(err);
        assert_int_equal(harness_sh(&out, &err, "'%s/scripts/sandbox' --host nosuchhost -- true", src), 2);
        assert_non_null(strstr(err, "no fixture host 'nosuchhost'"));
        (void) rm_rf(tmpl);
}

/* The sandbox stopped by signals to its process group (`signals`, 50 ms apart: the second one lands
 * in the middle of the teardown): it exits non-zero, its directory is gone, and neither its arkd
 * nor its dbus-daemon survives. Before the teardown ignored further signals, Ctrl-C then a hangup
 * (a terminal closed, tmux killing the pane) left the bus running. */
static void tear_down_by(const int *signals, size_t n) {
        _cleanup_free_ char *out = NULL, *err = NULL, *dirfile = NULL, *script = NULL, *cmd = NULL,
                            *sbx = NULL;
        char tmpl[] = "/tmp/ark-sbx-int.XXXXXX";
        int status;
        pid_t pid;

        assert_non_null(mkdtemp(tmpl));
        dirfile = strprintf("%s/dir", tmpl);
        script = strprintf("%s/scripts/sandbox", harness_src_dir());
        cmd = strprintf("echo $ARK_SANDBOX > %s; exec sleep 60", dirfile);

        /* Ctrl-C sends SIGINT to the terminal's foreground process group: start the sandbox as the
         * leader of its own group and signal the whole group. */
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                signal(SIGINT, SIG_DFL);
                setpgid(0, 0);
                execl(script, script, "--", "sh", "-c", cmd, (char *) NULL);
                _exit(127);
        }
        for (uint64_t end = harness_wait_deadline(); !harness_wait_over(end) && !file_exists(dirfile);)
                usleep(50000);
        usleep(100000);
        assert_true(read_one_line_file(dirfile, &sbx) == 0 && startswith(sbx, "/tmp/ark-sandbox."));
        for (size_t k = 0; k < n; k++) {
                assert_int_equal(kill(-pid, signals[k]), 0);
                usleep(50000);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_not_equal(WEXITSTATUS(status), 0);
        assert_false(file_exists(sbx));
        /* No arkd and no bus of that sandbox survive. */
        assert_int_equal(harness_sh(&out, &err, "pgrep -f '[a]rkd.*%s'", sbx), 1);
        out = mfree(out);
        err = mfree(err);
        assert_int_equal(harness_sh(&out, &err, "pgrep -f '[d]bus-daemon.*%s'", sbx), 1);
        (void) rm_rf(tmpl);
}

static void test_ctrl_c_tears_down(void **state) {
        tear_down_by((const int[]) { SIGINT }, 1);
}

static void test_signal_during_teardown(void **state) {
        tear_down_by((const int[]) { SIGINT, SIGINT }, 2);
        tear_down_by((const int[]) { SIGHUP, SIGTERM }, 2);
}

/* The interactive shell, without COMMAND and as `make run` opens it after the console (a COMMAND
 * that execs `bash --rcfile "$ARK_SANDBOX_RC" -i`): `man arkctl` finds the manual page of the
 * sources, and arkctl's bash completion is loaded and completes from the arkctl on PATH (issue
 * 15). */
static void test_interactive_shell(void **state) {
        static const char *const commands[] = { "",
                                                "-- bash -c 'exec bash --rcfile \"$ARK_SANDBOX_RC\" -i'" };
        _cleanup_free_ char *input = NULL;
        char tmpl[] = "/tmp/ark-sbx-shell.XXXXXX";

        assert_non_null(mkdtemp(tmpl));
        input = strprintf("%s/input", tmpl);
        assert_int_equal(
                write_string_file(input,
                                  "echo \"man: $(man -w arkctl)\"\n"
                                  "man arkctl 2>/dev/null | grep -m1 -o 'ARKCTL(1)'\n"
                                  "complete -p arkctl\n"
                                  "COMP_WORDS=(arkctl vm cr); COMP_CWORD=2; COMP_LINE='arkctl vm cr'; "
                                  "COMP_POINT=${#COMP_LINE}; _arkctl; echo \"completes: ${COMPREPLY[*]}\"\n"
                                  "exit\n",
                                  WRITE_CREATE),
                0);
        for (size_t k = 0; k < ELEMENTSOF(commands); k++) {
                _cleanup_free_ char *out = NULL, *err = NULL;

                assert_int_equal(harness_sh(&out, &err, "'%s/scripts/sandbox' %s < '%s'", harness_src_dir(),
                                            commands[k], input),
                                 0);
                if (!strstr(out, "man: ") || !strstr(out, "docs/man/arkctl.1\n"))
                        fail_msg("sandbox %s: man -w arkctl does not find docs/man/arkctl.1:\n%s\n%s",
                                 commands[k], out, strna(err));
                assert_non_null(strstr(out, "ARKCTL(1)"));
                assert_non_null(strstr(out, "complete -F _arkctl arkctl"));
                if (!strstr(out, "completes: create\n"))
                        fail_msg("sandbox %s: no completion in the shell:\n%s\n%s", commands[k], out,
                                 strna(err));
                /* The prompt says where one is. */
                assert_non_null(strstr(strempty(err), "[ark-sandbox "));
        }
        (void) rm_rf(tmpl);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_dgx_h100),
                cmocka_unit_test(test_ws_rtx_groups),
                cmocka_unit_test(test_ws_rtx_table),
                cmocka_unit_test(test_ascend),
                cmocka_unit_test(test_no_iommu),
                cmocka_unit_test(test_host_check),
                cmocka_unit_test(test_state_kept_and_exit_status),
                cmocka_unit_test(test_ctrl_c_tears_down),
                cmocka_unit_test(test_signal_during_teardown),
                cmocka_unit_test(test_interactive_shell),
        };
        return cmocka_run_group_tests_name("integration: sandbox", tests, NULL, NULL);
}

/* Prometheus metrics from arkd on the fixture host: the exposition passes `promtool check
 * metrics`, and it says what the tenants were given, their quota limits, which tenant holds each
 * GPU, refused admissions by reason and API calls. With MetricsTokenFile=, a request without the
 * bearer token or with a wrong one gets 401 and a challenge, the right one 200; a missing token
 * file is created 0600 with a random token; a token file others may read, another user's, an
 * empty one or one with bad characters keeps arkd from starting, with a message naming it. */

#include "itest.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"

static Harness H;

/* A token as an admin would write one (with its newline), and one that differs in the last
 * character only. */
#define TOKEN "Zm9vYmFyLXRva2VuLWZvci1hcmstbWV0cmljcw"
#define TOKEN_WRONG "Zm9vYmFyLXRva2VuLWZvci1hcmstbWV0cmljcx"

static int setup(void **state) {
        if (harness_setup(&H, *state) < 0)
                return -1;
        return harness_start_arkd(&H, NULL);
}

/* The bus and a state directory; each test starts arkd itself. */
static int setup_bare(void **state) {
        return harness_setup(&H, *state) < 0 ? -1 : 0;
}

static int teardown(void **state) {
        harness_teardown(&H);
        return 0;
}

/* GETs path with curl, with "Authorization: <authorization>" when that is non-NULL. Returns the
 * body; the status code, and the WWW-Authenticate header's value (newly allocated; NULL when there
 * is none) when ret_challenge is non-NULL. */
static char *fetch_as(const char *path, const char *authorization, int *ret_status, char **ret_challenge) {
        _cleanup_free_ char *file = strprintf("%s/metrics.address", H.state_dir), *addr = NULL, *err = NULL,
                            *hfile = strprintf("%s/headers.txt", H.tmp), *headers = NULL, *hdr = NULL;
        char *out = NULL;
        int r;

        assert_int_equal(read_one_line_file(file, &addr), 0);
        if (authorization)
                hdr = strprintf("-H 'Authorization: %s'", authorization);
        r = harness_sh(&out, &err, "%scurl -s -D '%s' %s -o - -w '\\n%%{http_code}' 'http://%s%s'",
                       harness_in_netns(&H), hfile, strempty(hdr), addr, path);
        if (r != 0)
                fail_msg("curl http://%s%s failed: %s", addr, path, strna(err));
        {
                char *nl = strrchr(out, '\n');
                assert_non_null(nl);
                *ret_status = atoi(nl + 1);
                *nl = 0;
        }
        if (ret_challenge) {
                *ret_challenge = NULL;
                assert_int_equal(read_full_file(hfile, &headers, NULL), 0);
                for (char *l = headers, *next; l && *l; l = next) {
                        next = strchr(l, '\n');
                        if (next)
                                *next++ = 0;
                        l[strcspn(l, "\r")] = 0;
                        if (strncasecmp(l, "WWW-Authenticate:", 17) == 0) {
                                assert_null(*ret_challenge); /* one challenge */
                                *ret_challenge = strdup(l + 17 + strspn(l + 17, " "));
                        }
                }
        }
        return out;
}

static char *fetch(const char *path, int *ret_status) {
        return fetch_as(path, NULL, ret_status, NULL);
}

static void assert_line(const char *text, const char *line) {
        _cleanup_free_ char *needle = strprintf("\n%s\n", line);

        if (!strstr(text, needle))
                fail_msg("metrics lack the line '%s':\n%s", line, text);
}

static void assert_promtool(const char *text) {
        _cleanup_free_ char *file = strprintf("%s/metrics.txt", H.tmp), *out = NULL, *err = NULL;

        assert_int_equal(write_string_file(file, text, WRITE_CREATE), 0);
        if (harness_sh(&out, &err, "promtool check metrics < '%s'", file) != 0)
                fail_msg("promtool check metrics: %s %s\n%s", strna(out), strna(err), text);
}

/* Asserts a 401 with the bearer challenge (RFC 6750 §3), and no metrics in the body. */
static void assert_unauthorized(const char *path, const char *authorization, const char *want_challenge) {
        _cleanup_free_ char *body = NULL, *challenge = NULL;
        int status = 0;

        body = fetch_as(path, authorization, &status, &challenge);
        if (status != 401)
                fail_msg("GET %s with Authorization '%s': %d, want 401\n%s", path, strna(authorization),
                         status, body);
        if (!challenge || !streq(challenge, want_challenge))
                fail_msg("GET %s with Authorization '%s': WWW-Authenticate '%s', want '%s'", path,
                         strna(authorization), strna(challenge), want_challenge);
        if (strstr(body, "ark_"))
                fail_msg("a 401 carries metrics:\n%s", body);
}

static char *token_path(const char *name) {
        return strprintf("%s/%s", H.tmp, name);
}

static void write_token_file(const char *path, const char *content, mode_t mode) {
        (void) unlink(path);
        assert_int_equal(write_string_file(path, content, WRITE_CREATE), 0);
        assert_int_equal(chmod(path, mode), 0);
}

/* ------------------------------------------------------------------------------------------ */

static void test_metrics(void **state) {
        _cleanup_free_ char *text = NULL, *nf = NULL, *with = NULL;
        int status = 0;

        assert_arkctl(&H, 0, NULL, "tenant", "create", "risk");
        assert_arkctl(&H, 0, NULL, "tenant", "quota", "set", "risk", "gpus=1", "memory=8G");
        assert_arkctl(&H, 0, NULL, "vm", "create", "a", "--tenant", "risk", "--vcpus", "2", "--memory", "2G",
                      "--gpu", "0000:18:00.0");
        assert_arkctl(&H, 1, "would use 2 of its 1 GPUs", "vm", "create", "b", "--tenant", "risk", "--vcpus",
                      "1", "--memory", "1G", "--gpus", "1");

        text = fetch("/metrics", &status);
        assert_int_equal(status, 200);
        assert_promtool(text);

        assert_line(text, "ark_tenants 1");
        assert_line(text, "ark_tenant_quota_limit{tenant=\"risk\",resource=\"gpus\",model=\"\"} 1");
        assert_line(text,
                    "ark_tenant_quota_limit{tenant=\"risk\",resource=\"memory\",model=\"\"} 8589934592");
        assert_line(text, "ark_tenant_allocated{tenant=\"risk\",resource=\"gpus\"} 1");
        assert_line(text, "ark_tenant_allocated{tenant=\"risk\",resource=\"vcpus\"} 2");
        assert_line(text, "ark_instances{state=\"stopped\"} 1");
        assert_line(
                text,
                "ark_accelerator_info{address=\"0000:18:00.0\",model=\"NVIDIA H100 SXM5 80GB\",state=\"claimed\","
                "instance=\"a\",tenant=\"risk\"} 1");
        assert_line(
                text,
                "ark_admission_refusals_total{call=\"Manager.CreateInstance\",reason=\"QuotaExceeded\"} 1");
        assert_line(text, "ark_preemptions_total 0");
        assert_line(text, "ark_metrics_unauthorized_total 0");
        assert_line(text, "ark_api_calls_total{method=\"Manager.CreateTenant\",result=\"ok\"} 1");
        assert_line(text, "ark_api_calls_total{method=\"Manager.CreateInstance\",result=\"error\"} 1");
        assert_line(text, "ark_api_call_duration_seconds_count{method=\"Manager.CreateInstance\"} 2");

        /* No token configured: whatever Authorization a client sends is not looked at. */
        with = fetch_as("/metrics", "Bearer " TOKEN, &status, NULL);
        assert_int_equal(status, 200);
        assert_line(with, "ark_tenants 1");

        nf = fetch("/other", &status);
        assert_int_equal(status, 404);
}

static uint64_t commits_now(void) {
        _cleanup_free_ char *text = NULL;
        const char *p;
        int status = 0;

        text = fetch("/metrics", &status);
        assert_int_equal(status, 200);
        p = strstr(text, "\nark_store_commits_total ");
        assert_non_null(p);
        return strtoull(p + strlen("\nark_store_commits_total "), NULL, 10);
}

/* What a VM's lifecycle costs the store (issue 16): create, start, stop and delete are one commit
 * each, their audit rows and usage interval in it (10 commits before). The usage heartbeat
 * (meter.h) commits once a second while the VM runs, so one more may fall in. */
static void test_commits_per_lifecycle(void **state) {
        uint64_t before, after;

        assert_arkctl(&H, 0, NULL, "tenant", "create", "risk");
        before = commits_now();
        assert_arkctl(&H, 0, NULL, "vm", "create", "a", "--tenant", "risk", "--vcpus", "1", "--memory",
                      "1G");
        assert_arkctl(&H, 0, NULL, "vm", "start", "a");
        assert_arkctl(&H, 0, NULL, "vm", "stop", "a");
        assert_arkctl(&H, 0, NULL, "vm", "delete", "a");
        after = commits_now();
        if (after - before < 4 || after - before > 5)
                fail_msg("a lifecycle made %" PRIu64 " commits, want 4 (5 with a heartbeat)",
                         after - before);
        /* And all of it is recorded: four audit rows, one closed usage interval. */
        assert_arkctl(&H, 0, "The audit log is intact: 5 rows.", "audit", "verify");
}

static void test_token(void **state) {
        _cleanup_free_ char *path = token_path("metrics.token"), *text = NULL, *nf = NULL, *content = NULL;
        int status = 0;

        write_token_file(path, TOKEN "\n", 0600);
        assert_int_equal(harness_start_arkd(&H, "--metrics-token-file", path, NULL), 0);
        assert_arkctl(&H, 0, NULL, "tenant", "create", "risk");

        /* No credentials, or another scheme: the bare challenge. */
        assert_unauthorized("/metrics", NULL, "Bearer realm=\"ark\"");
        assert_unauthorized("/metrics", "Basic YWRtaW46" TOKEN, "Bearer realm=\"ark\"");
        /* Wrong credentials, one character off, a prefix, the token twice, empty, with quotes. */
        assert_unauthorized("/metrics", "Bearer " TOKEN_WRONG,
                            "Bearer realm=\"ark\", error=\"invalid_token\"");
        assert_unauthorized("/metrics", "Bearer Zm9vYmFyLXRva2Vu",
                            "Bearer realm=\"ark\", error=\"invalid_token\"");
        assert_unauthorized("/metrics", "Bearer " TOKEN TOKEN,
                            "Bearer realm=\"ark\", error=\"invalid_token\"");
        assert_unauthorized("/metrics", "Bearer", "Bearer realm=\"ark\", error=\"invalid_token\"");
        assert_unauthorized("/metrics", "Bearer \"" TOKEN "\"",
                            "Bearer realm=\"ark\", error=\"invalid_token\"");
        /* Every path asks for the token first: nothing is answered to a stranger. */
        assert_unauthorized("/other", NULL, "Bearer realm=\"ark\"");

        /* The right token, as Prometheus sends it (the scheme in any case). */
        text = fetch_as("/metrics", "Bearer " TOKEN, &status, NULL);
        assert_int_equal(status, 200);
        assert_promtool(text);
        assert_line(text, "ark_tenants 1");
        assert_line(text, "ark_tenant_allocated{tenant=\"risk\",resource=\"gpus\"} 0");
        assert_line(text, "ark_metrics_unauthorized_total 8");
        free(text);
        text = fetch_as("/metrics", "bearer " TOKEN, &status, NULL);
        assert_int_equal(status, 200);
        nf = fetch_as("/other", "Bearer " TOKEN, &status, NULL);
        assert_int_equal(status, 404);

        /* arkd read the file and left it as it was. */
        assert_int_equal(read_full_file(path, &content, NULL), 0);
        assert_string_equal(content, TOKEN "\n");
}

static void test_token_created(void **state) {
        _cleanup_free_ char *path = token_path("metrics.token"), *token = NULL, *again = NULL, *auth = NULL,
                            *text = NULL, *log = NULL;
        struct stat st;
        int status = 0;

        assert_int_equal(access(path, F_OK), -1);
        assert_int_equal(harness_start_arkd(&H, "--metrics-token-file", path, NULL), 0);

        /* 0600, arkd's, 32 random bytes as 64 hex digits and a newline. */
        assert_int_equal(stat(path, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        if ((st.st_mode & 07777) != 0600)
                fail_msg("created token file has mode %04o, want 0600", (unsigned) (st.st_mode & 07777));
        assert_int_equal(st.st_uid, geteuid());
        assert_int_equal(read_full_file(path, &token, NULL), 0);
        assert_int_equal(strlen(token), 65);
        assert_int_equal(strspn(token, "0123456789abcdef"), 64);
        assert_int_equal(token[64], '\n');
        token[64] = 0;
        /* No temporary file left beside it. */
        {
                _cleanup_free_ char *out = NULL;
                assert_int_equal(harness_sh(&out, NULL, "ls '%s' | grep -c '^metrics.token' || true", H.tmp),
                                 0);
                assert_string_equal(out, "1\n");
        }
        /* The log says so, naming the file, so an admin knows to copy it to Prometheus. */
        assert_int_equal(read_full_file(H.arkd_log, &log, NULL), 0);
        {
                _cleanup_free_ char *want = strprintf("Created the metrics token file '%s'", path);
                if (!strstr(log, want))
                        fail_msg("the log lacks '%s':\n%s", want, log);
                if (strstr(log, token))
                        fail_msg("the log shows the token:\n%s", log);
        }

        auth = strprintf("Bearer %s", token);
        text = fetch_as("/metrics", auth, &status, NULL);
        assert_int_equal(status, 200);
        assert_promtool(text);
        assert_unauthorized("/metrics", NULL, "Bearer realm=\"ark\"");

        /* A restart reads the same file: the token Prometheus has keeps working. */
        assert_int_equal(harness_stop_arkd(&H, SIGTERM), 0);
        assert_int_equal(harness_start_arkd(&H, "--metrics-token-file", path, NULL), 0);
        assert_int_equal(read_full_file(path, &again, NULL), 0);
        again[strcspn(again, "\n")] = 0;
        assert_string_equal(again, token);
        free(text);
        text = fetch_as("/metrics", auth, &status, NULL);
        assert_int_equal(status, 200);
}

/* Runs arkd on the harness's bus and state with the token file, as the service would, and
 * expects it to refuse to start: exit status 1 within 30 s and a message on stderr naming the
 * file and containing `reason`. */
static void assert_refuses(const char *path, const char *reason) {
        _cleanup_free_ char *conf = strprintf("%s/empty.conf", H.tmp), *out = NULL, *err = NULL,
                            *want = strprintf("'%s'", path);
        int r;

        assert_int_equal(write_string_file(conf, "", WRITE_CREATE), 0);
        r = harness_sh(
                &out, &err,
                "timeout 30 '%s/bin/arkd' --config '%s' --bus-address '%s' --state-dir '%s' --libvirt-uri '%s' "
                "--sysfs-root '%s' --trust-dir '%s' --metrics-address 127.0.0.1:0 --metrics-token-file '%s'",
                harness_build_dir(), conf, H.bus_address, H.state_dir, H.libvirt_uri, H.sysfs_root,
                H.trust_dir, path);
        if (r != 1)
                fail_msg("arkd with token file %s (%s): exit %d, want 1\n%s", path, reason, r, strna(err));
        if (!strstr(err, want) || !strstr(err, reason) || !strstr(err, "refusing to start"))
                fail_msg("arkd's message lacks %s, '%s' or 'refusing to start':\n%s", want, reason, err);
        if (strstr(err, "Serving Prometheus metrics"))
                fail_msg("arkd served metrics with a bad token file:\n%s", err);
}

static void test_token_refused(void **state) {
        _cleanup_free_ char *path = token_path("metrics.token"), *content = NULL;
        static const struct {
                const char *content;
                mode_t mode;
                const char *reason;
        } cases[] = {
                { TOKEN "\n", 0644, "mode 0644" }, /* readable by everyone */
                { TOKEN "\n", 0640, "mode 0640" }, /* readable by the group */
                { TOKEN "\n", 0604, "mode 0604" }, /* readable by others */
                { TOKEN "\n", 0620, "mode 0620" }, /* the group may change it */
                { "", 0600, "is empty" },
                { "\n", 0600, "is empty" },
                { TOKEN "\r\n", 0600, "characters other than" }, /* written on Windows */
                { TOKEN "\n\n", 0600, "characters other than" },
                { "two words 0123456789abcdef\n", 0600, "characters other than" },
                { "tok\"en0123456789abcdef\n", 0600, "characters other than" },
                { "short\n", 0600, "shorter than 16 characters" },
        };

        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                write_token_file(path, cases[k].content, cases[k].mode);
                assert_refuses(path, cases[k].reason);
        }
        /* The refusals left the file alone. */
        assert_int_equal(read_full_file(path, &content, NULL), 0);
        assert_string_equal(content, "short\n");

        /* Another user's file: only root can make one. */
        if (geteuid() == 0) {
                write_token_file(path, TOKEN "\n", 0600);
                assert_int_equal(chown(path, 65534, 65534), 0);
                assert_refuses(path, "belongs to UID 65534");
        } else
                fprintf(stderr, "# not root: the owner check is not tested\n");

        /* Not a file. */
        (void) unlink(path);
        assert_int_equal(mkdir(path, 0700), 0);
        assert_refuses(path, "not a regular file");
}

/* MetricsAddress= off loopback: a warning without a token, none with one. */
static void test_non_loopback(void **state) {
        _cleanup_free_ char *path = token_path("metrics.token"), *log = NULL;
        int status = 0;

        assert_int_equal(harness_start_arkd(&H, "--metrics-address", "0.0.0.0:0", NULL), 0);
        assert_int_equal(read_full_file(H.arkd_log, &log, NULL), 0);
        if (!strstr(log, "is not a loopback address and no MetricsTokenFile= is set"))
                fail_msg("no warning for metrics off loopback without a token:\n%s", log);
        free(fetch("/metrics", &status));
        assert_int_equal(status, 200);
        assert_int_equal(harness_stop_arkd(&H, SIGTERM), 0);

        write_token_file(path, TOKEN "\n", 0600);
        assert_int_equal(truncate(H.arkd_log, 0), 0);
        assert_int_equal(
                harness_start_arkd(&H, "--metrics-address", "0.0.0.0:0", "--metrics-token-file", path, NULL),
                0);
        log = mfree(log);
        assert_int_equal(read_full_file(H.arkd_log, &log, NULL), 0);
        if (strstr(log, "is not a loopback address"))
                fail_msg("a warning for metrics off loopback with a token:\n%s", log);
        assert_unauthorized("/metrics", NULL, "Bearer realm=\"ark\"");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_prestate_setup_teardown(test_metrics, setup, teardown, "dgx-h100"),
                cmocka_unit_test_prestate_setup_teardown(test_commits_per_lifecycle, setup, teardown,
                                                         "dgx-h100"),
                cmocka_unit_test_prestate_setup_teardown(test_token, setup_bare, teardown, "dgx-h100"),
                cmocka_unit_test_prestate_setup_teardown(test_token_created, setup_bare, teardown,
                                                         "dgx-h100"),
                cmocka_unit_test_prestate_setup_teardown(test_token_refused, setup_bare, teardown,
                                                         "dgx-h100"),
                cmocka_unit_test_prestate_setup_teardown(test_non_loopback, setup_bare, teardown,
                                                         "dgx-h100"),
        };
        return cmocka_run_group_tests_name("integration: metrics", tests, NULL, NULL);
}

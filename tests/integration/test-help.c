/* arkctl's help, walked over the whole command table as `arkctl --list-commands` prints it (issue
 * 15): every command and noun answers --help with its own usage and options, 'arkctl help' says
 * the same, a misspelled command or option gets a "did you mean", and the manual page,
 * docs/arkctl.md and the bash completion know every command and option. Needs only arkctl. */

#include "itest.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"

typedef struct Command {
        char *name;     /* "vm create", "status" */
        char **words;   /* "vm", "create" */
        char **options; /* as listed, without "=VALUE": "--tenant", "-o", "--output" */
} Command;

static Command commands[128];
static size_t n_commands;
static char **global_options;
static char *global_help;

/* Runs arkctl with args (NULL-terminated), fails unless it exits `want`; returns stdout, or
 * stderr when want is not 0 (free it). */
static char *arkctl_expect(int want, char *const *args) {
        _cleanup_free_ char *out = NULL, *err = NULL;
        _cleanup_free_ char *line = strv_join(args, " ");
        int r = harness_arkctl_argv(NULL, &out, &err, args);

        if (r != want)
                fail_msg("arkctl %s: exit %d, want %d\nstdout: %s\nstderr: %s", line, r, want, strna(out),
                         strna(err));
        return want == 0 ? TAKE_PTR(out) : TAKE_PTR(err);
}

/* args + one more word at the end (or the start, with at_start); NULL-terminated, free with free(). */
static char **args_with(char *const *args, const char *extra, bool at_start) {
        size_t n = strv_length(args);
        char **l = calloc(n + 2, sizeof(char *));

        assert_non_null(l);
        if (at_start)
                l[0] = (char *) extra;
        for (size_t i = 0; i < n; i++)
                l[i + at_start] = args[i];
        if (!at_start)
                l[n] = (char *) extra;
        return l;
}

static void parse_list_line(char *line) {
        _cleanup_strv_free_ char **words = NULL, **options = NULL;
        char *save = NULL, *kind = strtok_r(line, " ", &save);

        for (char *w = strtok_r(NULL, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
                if (w[0] == '-') {
                        w[strcspn(w, "=")] = 0;
                        assert_int_equal(strv_extend(&options, w), 0);
                } else
                        assert_int_equal(strv_extend(&words, w), 0);
        }
        if (streq(kind, "options")) {
                global_options = TAKE_PTR(options);
                return;
        }
        assert_string_equal(kind, "command");
        assert_true(n_commands < ELEMENTSOF(commands));
        commands[n_commands++] = (Command) {
                .name = strv_join(words, " "),
                .words = TAKE_PTR(words),
                .options = TAKE_PTR(options),
        };
}

static int group_setup(void **state) {
        _cleanup_free_ char *list = arkctl_expect(0, (char *[]) { (char *) "--list-commands", NULL });
        char *save = NULL;

        for (char *line = strtok_r(list, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
                parse_list_line(line);
        assert_non_null(global_options);
        assert_true(n_commands >= 30);
        global_help = arkctl_expect(0, (char *[]) { (char *) "--help", NULL });
        return 0;
}

static int group_teardown(void **state) {
        for (size_t i = 0; i < n_commands; i++) {
                free(commands[i].name);
                strv_free(commands[i].words);
                strv_free(commands[i].options);
        }
        strv_free(global_options);
        free(global_help);
        return 0;
}

/* Whether the help text has a row for option o: "      --name..." or "  -o, --output...". */
static bool help_lists_option(const char *help, const char *o) {
        _cleanup_free_ char *needle = strprintf(o[1] == '-' ? "%s" : "\n  %s, ", o);

        if (o[1] != '-')
                return strstr(help, needle);
        for (const char *p = strstr(help, needle); p; p = strstr(p + 1, needle))
                if (p - help >= 7 && (startswith(p - 7, "\n      ") || startswith(p - 2, ", ")) &&
                    strchr("= \n", p[strlen(o)]))
                        return true;
        return false;
}

/* Help fits a terminal of 80 columns. */
static void assert_fits(const char *text, const char *what) {
        for (const char *p = text; *p;) {
                size_t len = strcspn(p, "\n");

                if (len > 79)
                        fail_msg("a line of '%s' is wider than 79 columns: %.*s", what, (int) len, p);
                p += len + (p[len] == '\n');
        }
}

/* Acceptance: every command answers --help with its own usage (the test walks the table). */
static void test_every_command_has_its_help(void **state) {
        for (size_t i = 0; i < n_commands; i++) {
                const Command *c = &commands[i];
                _cleanup_free_ char **after = args_with(c->words, "--help", false),
                                    **before = args_with(c->words, "--help", true),
                                    **with_help = args_with(c->words, "help", true);
                _cleanup_free_ char *out = arkctl_expect(0, after),
                                    *usage = strprintf("Usage: arkctl %s", c->name);
                _cleanup_free_ char *out_before = arkctl_expect(0, before),
                                    *out_help = arkctl_expect(0, with_help);

                if (!startswith(out, usage))
                        fail_msg("'arkctl %s --help' does not begin with '%s':\n%s", c->name, usage, out);
                assert_fits(out, c->name);
                if (streq(out, global_help))
                        fail_msg("'arkctl %s --help' prints the global help", c->name);
                for (char **o = c->options; o && *o; o++)
                        if (!help_lists_option(out, *o))
                                fail_msg("'arkctl %s --help' does not list %s:\n%s", c->name, *o, out);
                /* -h anywhere, and 'arkctl help NOUN VERB', say the same. */
                assert_string_equal(out_before, out);
                assert_string_equal(out_help, out);
                /* The global help lists the command too. */
                if (!strstr(global_help, c->name))
                        fail_msg("'arkctl --help' does not list '%s'", c->name);
        }
}

/* 'arkctl NOUN --help' and 'arkctl help NOUN' list every verb of the noun. */
static void test_every_noun_lists_its_verbs(void **state) {
        for (size_t i = 0; i < n_commands; i++) {
                const Command *c = &commands[i];
                _cleanup_free_ char *out = NULL, *out_help = NULL, *usage = NULL;

                if (strv_length(c->words) < 2 || (i > 0 && streq(commands[i - 1].words[0], c->words[0])))
                        continue;
                out = arkctl_expect(0, (char *[]) { c->words[0], (char *) "--help", NULL });
                out_help = arkctl_expect(0, (char *[]) { (char *) "help", c->words[0], NULL });
                assert_string_equal(out_help, out);
                usage = strprintf("Usage: arkctl %s VERB", c->words[0]);
                if (!startswith(out, usage))
                        fail_msg("'arkctl %s --help' does not begin with '%s':\n%s", c->words[0], usage,
                                 out);
                for (size_t k = 0; k < n_commands; k++) {
                        _cleanup_free_ char *row = strprintf("\n  %s", commands[k].name);

                        if (streq(commands[k].words[0], c->words[0]) && !strstr(out, row))
                                fail_msg("'arkctl %s --help' does not list '%s':\n%s", c->words[0],
                                         commands[k].name, out);
                }
        }
}

static void test_global_help(void **state) {
        _cleanup_free_ char *out_help = arkctl_expect(0, (char *[]) { (char *) "help", NULL });
        _cleanup_free_ char *out_h = arkctl_expect(0, (char *[]) { (char *) "-h", NULL });

        assert_string_equal(out_help, global_help);
        assert_string_equal(out_h, global_help);
        assert_true(startswith(global_help, "arkctl "));
        for (char **o = global_options; *o; o++)
                if (!help_lists_option(global_help, *o))
                        fail_msg("'arkctl --help' does not list %s", *o);
        /* What it said before it was generated: sizes, exit statuses, the manual page. */
        assert_non_null(strstr(global_help, "-o, --output=table|json|csv"));
        assert_non_null(strstr(global_help, "SIZE takes binary units"));
        assert_non_null(strstr(global_help, "2 usage error"));
        assert_non_null(strstr(global_help, "See arkctl(1)."));
        /* Hidden: for completion and tests only. */
        assert_null(strstr(global_help, "--list-commands"));
        assert_fits(global_help, "arkctl --help");
}

/* A misspelled command or option: exit 2 and the nearest one; nothing close: no guess. */
static void test_did_you_mean(void **state) {
        static const struct {
                const char *args[6];
                const char *says; /* in stderr */
        } cases[] = {
                { { "tenat", "list" }, "arkctl: unknown command 'tenat'; did you mean 'tenant'?" },
                { { "vm", "strat", "x" }, "arkctl: unknown command 'vm strat'; did you mean 'vm start'?" },
                { { "bundel", "verify", "x.ark" }, "did you mean 'bundle'?" },
                { { "help", "vm", "strat" }, "did you mean 'vm start'?" },
                { { "staus" }, "did you mean 'status'?" },
                { { "vm", "list", "--tenat", "risk" },
                  "arkctl: unknown option '--tenat'; did you mean '--tenant'?" },
                { { "vm", "list", "--tenat=risk" }, "unknown option '--tenat'; did you mean '--tenant'?" },
                { { "vm", "create", "x", "--memroy", "1G" }, "did you mean '--memory'?" },
                { { "frobnicate" }, "arkctl: unknown command 'frobnicate' (see 'arkctl --help')" },
                { { "vm", "frobnicate" }, "arkctl: unknown command 'vm frobnicate' (use one of: create," },
                { { "vm", "list", "--frobnicate" },
                  "arkctl: unknown option '--frobnicate' (see 'arkctl --help')" },
                { { "frobnicate", "--help" }, "arkctl: unknown command 'frobnicate'" },
                { { "vm" }, "'vm' needs a verb: create, list" },
                { { "vm", "create", "x", "--tenant", "risk" },
                  "'vm create' needs --vcpus N, --memory SIZE" },
                { { "vm", "list", "--force" },
                  "--force does not apply to 'vm list' (see 'arkctl vm list --help')" },
        };

        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                _cleanup_free_ char *err = arkctl_expect(2, (char **) cases[k].args);

                if (!strstr(err, cases[k].says))
                        fail_msg("arkctl %s %s: want '%s' in: %s", cases[k].args[0],
                                 strempty(cases[k].args[1]), cases[k].says, err);
        }
}

/* "--tenant" as the manual page's source writes it: "\-\-tenant". */
static char *man_escape(const char *s) {
        StrBuf b = {};

        for (; *s; s++)
                strbuf_append(&b, *s == '-' ? "\\-" : (char[]) { *s, 0 });
        return strbuf_steal(&b);
}

static char *read_doc(const char *path) {
        _cleanup_free_ char *full = strprintf("%s/%s", harness_src_dir(), path);
        char *text = NULL;

        assert_int_equal(read_full_file(full, &text, NULL), 0);
        return text;
}

/* The manual page and docs/arkctl.md name every command and every option in the table. */
static void test_docs_match_the_table(void **state) {
        _cleanup_free_ char *man = read_doc("docs/man/arkctl.1"), *md = read_doc("docs/arkctl.md");
        _cleanup_free_ char *synopsis = NULL, *list_commands = man_escape("--list-commands");
        const char *s, *e;

        for (size_t i = 0; i < n_commands; i++) {
                if (!strstr(man, commands[i].name))
                        fail_msg("docs/man/arkctl.1 does not describe '%s'", commands[i].name);
                if (!strstr(md, commands[i].name))
                        fail_msg("docs/arkctl.md does not describe '%s'", commands[i].name);
                for (char **o = commands[i].options; o && *o; o++) {
                        _cleanup_free_ char *escaped = man_escape(*o);

                        if (!strstr(man, escaped))
                                fail_msg("docs/man/arkctl.1 does not describe %s ('%s')", *o,
                                         commands[i].name);
                        if (!strstr(md, *o))
                                fail_msg("docs/arkctl.md does not describe %s ('%s')", *o, commands[i].name);
                }
        }
        for (char **o = global_options; *o; o++) {
                _cleanup_free_ char *escaped = man_escape(*o);

                assert_non_null(strstr(man, escaped));
                assert_non_null(strstr(md, *o));
        }
        assert_non_null(strstr(man, list_commands));
        assert_non_null(strstr(md, "--list-commands"));

        /* The synopsis names the output formats --help names (it once said table|json only). */
        s = strstr(man, ".SH SYNOPSIS");
        assert_non_null(s);
        e = strstr(s + 1, ".SH ");
        assert_non_null(e);
        synopsis = strndup(s, e - s);
        assert_non_null(strstr(synopsis, "table | json | csv"));
        assert_non_null(strstr(md, "-o table|json|csv"));
}

/* The bash completion, driven as bash does: every noun after "arkctl ", every verb after
 * "arkctl NOUN ", every option after "arkctl NOUN VERB --". */
static void test_completion_knows_the_table(void **state) {
        char tmp[] = "/tmp/ark-help.XXXXXX";
        _cleanup_free_ char *driver = NULL, *lines = NULL, *driver_path = NULL, *lines_path = NULL;
        _cleanup_free_ char *out = NULL, *err = NULL;
        char *save = NULL, *row;
        StrBuf b = {};

        assert_non_null(mkdtemp(tmp));
        /* One line of input, a command line up to the cursor; one line of output, the candidates. */
        driver = strprintf("source '%s/ctl/completion/arkctl.bash'\n"
                           "while IFS= read -r COMP_LINE; do\n"
                           "    COMP_POINT=${#COMP_LINE}\n"
                           "    read -r -a COMP_WORDS <<< \"$COMP_LINE\"\n"
                           "    [[ \"$COMP_LINE\" == *' ' ]] && COMP_WORDS+=('')\n"
                           "    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n"
                           "    COMPREPLY=()\n"
                           "    _arkctl\n"
                           "    echo \" ${COMPREPLY[*]} \"\n"
                           "done\n",
                           harness_src_dir());
        strbuf_printf(&b, "%s/bin/arkctl \n", harness_build_dir());
        for (size_t k = 0; k < n_commands; k++) {
                if (strv_length(commands[k].words) > 1)
                        strbuf_printf(&b, "%s/bin/arkctl %s \n", harness_build_dir(), commands[k].words[0]);
                strbuf_printf(&b, "%s/bin/arkctl %s --\n", harness_build_dir(), commands[k].name);
        }
        lines = strbuf_steal(&b);
        driver_path = strprintf("%s/driver.bash", tmp);
        lines_path = strprintf("%s/lines", tmp);
        assert_int_equal(write_string_file(driver_path, driver, WRITE_CREATE), 0);
        assert_int_equal(write_string_file(lines_path, lines, WRITE_CREATE), 0);
        assert_int_equal(harness_sh(&out, &err, "bash --norc '%s' < '%s'", driver_path, lines_path), 0);

        row = strtok_r(out, "\n", &save);
        assert_non_null(row);
        for (size_t k = 0; k < n_commands; k++) {
                _cleanup_free_ char *noun = strprintf(" %s ", commands[k].words[0]);

                if (!strstr(row, noun))
                        fail_msg("'arkctl <Tab>' does not offer '%s': %s", commands[k].words[0], row);
        }
        for (size_t k = 0; k < n_commands; k++) {
                const Command *c = &commands[k];

                if (strv_length(c->words) > 1) {
                        _cleanup_free_ char *verb = strprintf(" %s ", c->words[1]);

                        row = strtok_r(NULL, "\n", &save);
                        assert_non_null(row);
                        if (!strstr(row, verb))
                                fail_msg("'arkctl %s <Tab>' does not offer '%s': %s", c->words[0],
                                         c->words[1], row);
                }
                row = strtok_r(NULL, "\n", &save);
                assert_non_null(row);
                for (char **o = c->options; o && *o; o++) {
                        _cleanup_free_ char *opt = strprintf(" %s ", *o);

                        if (startswith(*o, "--") && !strstr(row, opt))
                                fail_msg("'arkctl %s --<Tab>' does not offer %s: %s", c->name, *o, row);
                }
        }
        (void) rm_rf(tmp);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_every_command_has_its_help),
                cmocka_unit_test(test_every_noun_lists_its_verbs),
                cmocka_unit_test(test_global_help),
                cmocka_unit_test(test_did_you_mean),
                cmocka_unit_test(test_docs_match_the_table),
                cmocka_unit_test(test_completion_knows_the_table),
        };
        return cmocka_run_group_tests_name("integration: help", tests, group_setup, group_teardown);
}

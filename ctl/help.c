/* arkctl's help: the global help, a noun's, a command's, --list-commands and the "did you mean"
 * hints, all made from the command and option tables in arkctl.c (commands.h), so that what
 * arkctl parses and what it says it parses are one list. */

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "arkctl.h"
#include "commands.h"
#include "basic/string-util.h"

#define HELP_WIDTH 79  /* the last column help writes to */
#define HELP_COLUMN 32 /* where the second column of a help table begins */
#define NBSP '\x01'    /* see print_wrapped() */

const char *ctl_verb_name(const Verb *v) {
        static char buf[64];

        snprintf(buf, sizeof(buf), "%s%s%s", v->noun, v->verb ? " " : "", strempty(v->verb));
        return buf;
}

const char *ctl_option_synopsis(const CtlOption *o) {
        static char buf[96];

        if (o->short_name)
                snprintf(buf, sizeof(buf), "-%c%s%s", o->short_name, o->value ? " " : "",
                         strempty(o->value));
        else
                snprintf(buf, sizeof(buf), "--%s%s%s", o->name, o->value ? " " : "", strempty(o->value));
        return buf;
}

bool ctl_option_selected(const CtlOption *o, unsigned context) {
        for (size_t i = 0; i < ctl_n_options; i++) {
                const CtlOption *other = &ctl_options[i];

                if (other == o || !streq(other->name, o->name))
                        continue;
                /* A global entry gives way to the command's; a command's entry applies only on
                 * its command's line. */
                if (o->bit == 0 ? (other->bit & context) != 0 : !(o->bit & context))
                        return false;
        }
        return true;
}

/* Whether the verb's help lists option o. */
static bool verb_lists_option(const Verb *v, const CtlOption *o) {
        return o->help && (o->bit & v->options) && ctl_option_selected(o, v->options);
}

/* Prints text from column col, where the cursor is, breaking lines at blanks before HELP_WIDTH
 * and indenting the following lines by `indent`. A NBSP byte (an option and its value) prints as
 * a blank that is never broken at. Returns the column it ended in. */
static size_t print_wrapped(size_t col, const char *text, size_t indent) {
        const char *p = text;

        while (*p) {
                size_t blanks = strspn(p, " "), len = strcspn(p + blanks, " ");

                if (col > indent && col + blanks + len > HELP_WIDTH) {
                        printf("\n%*s", (int) indent, "");
                        col = indent;
                        p += blanks;
                        blanks = 0;
                }
                for (size_t i = 0; i < blanks + len; i++)
                        putchar(p[i] == NBSP ? ' ' : p[i]);
                col += blanks + len;
                p += blanks + len;
        }
        return col;
}

/* "  LEFT    RIGHT": RIGHT from HELP_COLUMN, on a line of its own when LEFT reaches it. */
static void print_row(const char *left, const char *right) {
        size_t col;

        fputs("  ", stdout);
        col = print_wrapped(2, left, 8);

        if (col + 2 > HELP_COLUMN) {
                putchar('\n');
                col = 0;
        }
        printf("%*s", (int) (HELP_COLUMN - col), "");
        print_wrapped(HELP_COLUMN, right, HELP_COLUMN);
        putchar('\n');
}

/* "noun verb ARGS --needed VALUE [OPTIONS]"; NULL on OOM. */
static char *verb_synopsis(const Verb *v) {
        StrBuf b = {};
        bool optional = false;

        strbuf_append(&b, ctl_verb_name(v));
        if (v->args)
                strbuf_printf(&b, " %s", v->args);
        for (size_t i = 0; i < ctl_n_options; i++) {
                const CtlOption *o = &ctl_options[i];

                if (!verb_lists_option(v, o))
                        continue;
                if (o->bit & v->required)
                        strbuf_printf(&b, " %s%s%c%s", o->short_name ? "-" : "--",
                                      o->short_name ? (char[]) { o->short_name, 0 } : o->name, NBSP,
                                      o->value);
                else
                        optional = true;
        }
        if (optional)
                strbuf_append(&b, " [OPTIONS]");
        return strbuf_steal(&b);
}

static int print_verb_row(const Verb *v) {
        _cleanup_free_ char *synopsis = verb_synopsis(v);

        if (!synopsis)
                return ctl_oom();
        print_row(synopsis, v->summary);
        return 0;
}

static void print_option_row(const CtlOption *o, bool required) {
        _cleanup_free_ char *left = NULL, *right = NULL;

        left = strprintf("%c%c%s--%s%s%s", o->short_name ? '-' : ' ', o->short_name ?: ' ',
                         o->short_name ? ", " : "  ", o->name, o->value ? "=" : "", strempty(o->value));
        right = strprintf("%s%s", o->help, required ? " (required)" : "");
        if (!left || !right) {
                (void) ctl_oom();
                return;
        }
        print_row(left, right);
}

static int help_global(void) {
        int r;

        printf("arkctl %s: the command line client of arkd, the Ark node controller.\n"
               "\n"
               "Usage: arkctl [OPTIONS] COMMAND ...\n"
               "\n"
               "Commands:\n",
               ARK_VERSION);
        for (size_t i = 0; i < ctl_n_verbs; i++) {
                r = print_verb_row(&ctl_verbs[i]);
                if (r < 0)
                        return r;
        }
        printf("\nOptions (anywhere on the command line):\n");
        for (size_t i = 0; i < ctl_n_options; i++)
                if (ctl_options[i].bit == 0 && ctl_options[i].help)
                        print_option_row(&ctl_options[i], false);
        putchar('\n');
        print_wrapped(
                0,
                "'arkctl NOUN --help' lists a noun's commands; 'arkctl NOUN VERB --help' (or 'arkctl help "
                "NOUN VERB') shows a command's arguments and options.",
                0);
        printf("\n"
               "SIZE takes binary units: 512M, 4G, 1.5T (K = 1024). Exit status: 0 success,\n"
               "1 failure (including every error arkd reports), 2 usage error.\n"
               "See arkctl(1).\n");
        return 0;
}

static int help_noun(const char *noun) {
        int r;

        printf("Usage: arkctl %s VERB ...\n\nCommands:\n", noun);
        for (size_t i = 0; i < ctl_n_verbs; i++) {
                if (!streq(ctl_verbs[i].noun, noun))
                        continue;
                r = print_verb_row(&ctl_verbs[i]);
                if (r < 0)
                        return r;
        }
        printf("\n'arkctl %s VERB --help' shows a command's arguments and options, 'arkctl --help'\n"
               "the global options.\n",
               noun);
        return 0;
}

static int help_verb(const Verb *v) {
        _cleanup_free_ char *synopsis = verb_synopsis(v), *summary = strprintf("%s.", v->summary),
                            *line = NULL;
        bool any = false;
        StrBuf b = {};
        char *global;

        if (!synopsis || !summary)
                return ctl_oom();
        summary[0] = (char) toupper((unsigned char) summary[0]);
        fputs("Usage: arkctl ", stdout);
        print_wrapped(strlen("Usage: arkctl "), synopsis, strlen("Usage: arkctl "));
        fputs("\n\n", stdout);
        print_wrapped(0, summary, 0);
        putchar('\n');

        for (size_t i = 0; i < ctl_n_options; i++) {
                const CtlOption *o = &ctl_options[i];

                if (!verb_lists_option(v, o))
                        continue;
                if (!any)
                        fputs("\nOptions:\n", stdout);
                any = true;
                print_option_row(o, o->bit & v->required);
        }

        /* The global options that keep their meaning here ('bundle create' has its own -o). */
        for (size_t i = 0; i < ctl_n_options; i++) {
                const CtlOption *o = &ctl_options[i];

                if (!(o->bit == 0 && o->help && ctl_option_selected(o, v->options)))
                        continue;
                if (b.len > 0)
                        strbuf_append(&b, ", ");
                if (o->short_name)
                        strbuf_printf(&b, "-%c/", o->short_name);
                strbuf_printf(&b, "--%s", o->name);
        }
        global = strbuf_steal(&b);
        if (!global)
                return ctl_oom();
        line = strprintf("Global options: %s (see 'arkctl --help').", global);
        free(global);
        if (!line)
                return ctl_oom();
        putchar('\n');
        print_wrapped(0, line, 0);
        putchar('\n');
        return 0;
}

int ctl_help(char *const *words) {
        size_t n = strv_length(words);
        bool noun_known = false;

        if (n == 0)
                return help_global();
        for (size_t i = 0; i < ctl_n_verbs; i++) {
                const Verb *v = &ctl_verbs[i];

                if (!streq(v->noun, words[0]))
                        continue;
                if (!v->verb || (n > 1 && streq(v->verb, words[1])))
                        return help_verb(v);
                noun_known = true;
        }
        if (noun_known && n == 1)
                return help_noun(words[0]);
        return ctl_unknown_command(words);
}

/* One "-o=VALUE --output=VALUE" or "--start" entry of --list-commands. */
static void list_option(const CtlOption *o) {
        if (o->short_name)
                printf(" -%c%s%s", o->short_name, o->value ? "=" : "", strempty(o->value));
        printf(" --%s%s%s", o->name, o->value ? "=" : "", strempty(o->value));
}

int ctl_list_commands(void) {
        fputs("options", stdout);
        for (size_t i = 0; i < ctl_n_options; i++)
                if (ctl_options[i].bit == 0 && ctl_options[i].help)
                        list_option(&ctl_options[i]);
        putchar('\n');
        for (size_t i = 0; i < ctl_n_verbs; i++) {
                printf("command %s", ctl_verb_name(&ctl_verbs[i]));
                for (size_t k = 0; k < ctl_n_options; k++)
                        if (verb_lists_option(&ctl_verbs[i], &ctl_options[k]))
                                list_option(&ctl_options[k]);
                putchar('\n');
        }
        return 0;
}

/* The candidate nearest to a misspelled word, when one is close: at most a third of it wrong
 * (one edit for short words), and never more than three edits. */
typedef struct Nearest {
        const char *best;
        size_t distance;
} Nearest;

static void nearest_consider(Nearest *n, const char *word, const char *candidate) {
        size_t d = string_distance(word, candidate);

        if (d == 0 || d > MAX((size_t) 1, MIN((size_t) 3, strlen(candidate) / 3)))
                return;
        if (!n->best || d < n->distance)
                *n = (Nearest) { candidate, d };
}

int ctl_unknown_command(char *const *words) {
        _cleanup_free_ char *list = NULL;
        size_t n = strv_length(words);
        bool noun_known = false;
        Nearest near = {};
        StrBuf b = {};

        if (n == 0)
                return usage_error("missing command (see 'arkctl --help')");
        for (size_t i = 0; i < ctl_n_verbs; i++)
                if (streq(ctl_verbs[i].noun, words[0]))
                        noun_known = true;
                else
                        nearest_consider(&near, words[0], ctl_verbs[i].noun);
        if (!noun_known && near.best)
                return usage_error("unknown command '%s'; did you mean '%s'?", words[0], near.best);
        if (!noun_known)
                return usage_error("unknown command '%s' (see 'arkctl --help')", words[0]);

        for (size_t i = 0; i < ctl_n_verbs; i++) {
                if (!streq(ctl_verbs[i].noun, words[0]) || !ctl_verbs[i].verb)
                        continue;
                strbuf_printf(&b, "%s%s", b.len > 0 ? ", " : "", ctl_verbs[i].verb);
                if (n > 1)
                        nearest_consider(&near, words[1], ctl_verbs[i].verb);
        }
        list = strbuf_steal(&b);
        if (!list)
                return ctl_oom();
        if (n == 1)
                return usage_error("'%s' needs a verb: %s (see 'arkctl %s --help')", words[0], list,
                                   words[0]);
        if (near.best)
                return usage_error("unknown command '%s %s'; did you mean '%s %s'?", words[0], words[1],
                                   words[0], near.best);
        return usage_error("unknown command '%s %s' (use one of: %s)", words[0], words[1], list);
}

int ctl_unknown_option(const char *arg, unsigned context) {
        _cleanup_free_ char *name = NULL;
        Nearest near = {};

        if (!startswith(arg, "--"))
                return usage_error("unknown option '%s' (see 'arkctl --help')", arg);
        name = strndup(arg + 2, strcspn(arg + 2, "="));
        if (!name)
                return ctl_oom();
        for (size_t i = 0; i < ctl_n_options; i++)
                if (ctl_options[i].help && ctl_option_selected(&ctl_options[i], context))
                        nearest_consider(&near, name, ctl_options[i].name);
        if (near.best)
                return usage_error("unknown option '--%s'; did you mean '--%s'?", name, near.best);
        return usage_error("unknown option '--%s' (see 'arkctl --help')", name);
}

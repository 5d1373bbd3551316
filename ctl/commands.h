#pragma once

/* arkctl's command table and option table (defined in arkctl.c), shared by the dispatcher and by
 * help.c, which prints every help text, the machine-readable list and the "did you mean" hints
 * from them: what is parsed and what is documented cannot drift apart. */

#include <stdbool.h>
#include <stddef.h>

typedef struct Verb {
        const char *noun;
        const char *verb; /* NULL: the noun is the whole command ("status") */
        const char *args; /* positional arguments as help shows them ("NAME", "[ADDRESS...]") */
        unsigned min_args, max_args;
        unsigned options;    /* VerbOption bits the verb accepts */
        unsigned required;   /* VerbOption bits it needs (a subset of options); the dispatcher checks */
        const char *summary; /* one line for help, lowercase, no final period */
        int (*run)(char **args);
} Verb;

/* getopt_long() values of the options without a short name. */
enum {
        ARG_VERSION = 0x100,
        ARG_LIST_COMMANDS,
        ARG_BUS_ADDRESS,
        ARG_NO_LEGEND,
        ARG_DESCRIPTION,
        ARG_TENANT,
        ARG_VCPUS,
        ARG_MEMORY,
        ARG_DISK,
        ARG_IMAGE,
        ARG_KERNEL,
        ARG_INITRD,
        ARG_CMDLINE,
        ARG_START,
        ARG_XML,
        ARG_FORCE,
        ARG_TIMEOUT,
        ARG_GPUS,
        ARG_GPU_MODEL,
        ARG_GPU,
        ARG_REASON,
        ARG_ALL,
        ARG_USER,
        ARG_GROUP,
        ARG_FROM,
        ARG_TO,
        ARG_PREEMPTIBLE,
        ARG_KIND,
        ARG_NAME,
        ARG_BUNDLE_VERSION,
        ARG_KEY,
        ARG_OUT_FILE,
        ARG_COMPRESS,
        ARG_ARCHITECTURE,
        ARG_PARAMETERS,
        ARG_DTYPE,
        ARG_MIN_GPU_MEMORY,
        ARG_RUNTIME,
        ARG_LICENSE,
        ARG_COMPATIBLE,
        ARG_TRUST_DIR,
        ARG_MODEL_VERSION,
        ARG_MODEL,
        ARG_NETWORK,
        ARG_SUBNET,
        ARG_NAT,
        ARG_ISOLATED,
        ARG_VLAN,
        ARG_UPLINK,
        ARG_MTU,
        ARG_NO_IPV6,
        ARG_PORT,
        ARG_TO_TARGET,
        ARG_UDP,
        ARG_CPUS,
        ARG_ENV,
        ARG_FOLLOW,
        ARG_MIG,
        ARG_GPU_SHARE,
        ARG_GPU_MEMORY,
};

/* One option. A name may have several entries with different bits: the one whose bit the
 * command on the line accepts wins, else the global one (bit 0). So 'bundle create' reads
 * --version and -o as the bundle's version and file, every other command as arkctl's. */
typedef struct CtlOption {
        const char *name; /* long name, without "--" */
        char short_name;  /* 0: none */
        bool takes_value;
        int val;           /* what the dispatcher switches on: ARG_* or the short name */
        unsigned bit;      /* VerbOption bit; 0: a global option */
        const char *value; /* the value's name in help ("SIZE"); NULL with !takes_value */
        const char *help;  /* one line; NULL: left out of help (--list-commands) */
} CtlOption;

extern const Verb ctl_verbs[];
extern const size_t ctl_n_verbs;
extern const CtlOption ctl_options[];
extern const size_t ctl_n_options;

/* help.c: everything prints to stdout and returns 0, or prints "arkctl: ..." to stderr and returns
 * EXIT_USAGE. */

/* Help for the command words given: none, the global help; a noun, its commands; a command, its
 * usage and options. Unknown words are a usage error with a "did you mean" hint. */
int ctl_help(char *const *words);
/* Every command and its options, one command a line (docs/arkctl.md, "--list-commands"). */
int ctl_list_commands(void);
/* The usage error for words that name no command: the nearest noun or verb when one is close. */
int ctl_unknown_command(char *const *words);
/* The usage error for an unknown long option `arg` ("--tenat=x"): the nearest option that the
 * line's command may take, when one is close. */
int ctl_unknown_option(const char *arg, unsigned context);
/* Whether option entry o applies on a line whose commands accept `context` (VerbOption bits):
 * a global entry unless another entry of the same name is for the command. */
bool ctl_option_selected(const CtlOption *o, unsigned context);
/* "--name VALUE" (or "-o VALUE" when it has a short name) for messages; a static buffer. */
const char *ctl_option_synopsis(const CtlOption *o);
/* The command's name, "noun" or "noun verb"; a static buffer. */
const char *ctl_verb_name(const Verb *v);

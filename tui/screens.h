#pragma once

/* The console's screens, drawn from the model into a canvas. Every string a person reads goes
 * through gettext (_()), so the Chinese catalog (po/zh_CN.po) covers them. */

#include <libintl.h>

#include "canvas.h"
#include "logs.h"
#include "media.h"
#include "model.h"
#include "basic/netconf.h"

#define _(s) gettext(s)
#define N_(s) (s)

typedef enum ScreenId {
        SCREEN_DASHBOARD,
        SCREEN_ACCELERATORS,
        SCREEN_TENANTS,
        SCREEN_INSTANCES,
        SCREEN_NETWORK,
        SCREEN_BUNDLES,
        SCREEN_LOGS,
        SCREEN_SYSTEM,
        _SCREEN_MAX,
        _SCREEN_INVALID = -1,
} ScreenId;

/* "dashboard", "accelerators", ...: the names --dump takes. */
const char *screen_to_string(ScreenId s);
ScreenId screen_from_string(const char *s);

typedef struct ScreenState {
        ScreenId screen;
        int selected;       /* the selected row of the screen's list */
        const char *status; /* a message for the status line, NULL = the key help */
        bool help;          /* the help overlay */
        /* A dialog over the screen: a question to confirm, or a line to type. */
        const char *dialog_title;
        const char *dialog_text;
        const char *dialog_input;  /* NULL: a yes/no question */
        bool dialog_info;          /* nothing to answer: any key closes it */
        const LogView *logs;       /* the Logs screen's lines */
        const MediaList *media;    /* the Bundles screen's removable media */
        const char *progress;      /* an import or a system update under way, as a line */
        const char *update_status; /* the System screen: `ark-update status`, lines; NULL = not known */
        /* The Network screen: the management interface's settings as the file has them. */
        const NetConf *net; /* NULL: no file written by the console */
        const char *net_iface, *net_file;
        const char *net_hostname;   /* the host name file's */
        bool vlan_supported;        /* the kernel has 802.1Q (8021q) */
        int revert_left;            /* seconds until a change reverts; < 0: none pending */
        const char *simulated_host; /* the directory the console acts on instead of this machine */
} ScreenState;

/* The selected row's object on the screen (NULL when none). */
json_t *screen_selected(const TuiModel *m, const ScreenState *st);
/* The keys the screen's actions take, for the key line. */
const char *screen_actions(ScreenId s);

/* A GPU partition as the GPUs screen lists it under its GPU: "MIG 3g.40gb", "share 0.250, 10 GiB"
 * (kind "mig" or "share" as arkd names it, the MIG profile, milli-GPUs and GPU memory in bytes;
 * another kind as it is). Returns buf. */
const char *partition_label(char *buf, size_t l, const char *kind, const char *profile, uint64_t milli,
                            uint64_t memory);
/* What an instance's GPUs are, for its details: its GPUs' addresses (space-separated), its
 * container's partition ("MIG 3g.40gb of 0000:3a:00.0", "share 0.250 of 0000:5d:00.0, 10 GiB"),
 * or "-". Returns buf. */
const char *instance_gpus_label(char *buf, size_t l, json_t *i);

/* "VM" or "container" (an instance's Type), in the console's language. */
const char *instance_type_label(json_t *i);

/* Draws the whole screen: title, tabs, the screen's content and the key line. */
void screen_draw(Canvas *c, const TuiModel *m, const ScreenState *st);
/* How many rows the screen's list has (for moving the selection). */
int screen_rows(const TuiModel *m, ScreenId s);

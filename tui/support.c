/* Support bundles (support.h). */

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "canvas.h"
#include "screens.h"
#include "support.h"
#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"

static int add(struct archive *a, const char *name, const char *data, size_t n) {
        struct archive_entry *e = archive_entry_new();
        int r = 0;

        if (!e)
                return -ENOMEM;
        archive_entry_set_pathname(e, name);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, (la_int64_t) n);
        archive_entry_set_mtime(e, time(NULL), 0);
        if (archive_write_header(a, e) != ARCHIVE_OK ||
            (n > 0 && archive_write_data(a, data, n) != (la_ssize_t) n))
                r = -EIO;
        archive_entry_free(e);
        return r;
}

/* A configuration file with the values of secret-looking keys removed. */
static char *scrub(const char *text) {
        static const char *const words[] = {
                "pass", "secret", "token", "key", "credential", "auth", "cert"
        };
        _cleanup_free_ char *copy = strdup(text);
        StrBuf b = {};
        char *save = NULL;

        if (!copy)
                return NULL;
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *eq = strchr(line, '=');
                bool secret = false;

                for (size_t k = 0; eq && k < ELEMENTSOF(words); k++) {
                        char *lk = strndup(line, (size_t) (eq - line));

                        secret = secret || (lk && strcasestr(lk, words[k]));
                        free(lk);
                }
                if (secret)
                        strbuf_printf(&b, "%.*s=<removed>\n", (int) (eq - line), line);
                else
                        strbuf_printf(&b, "%s\n", line);
        }
        return strbuf_steal(&b);
}

/* "qemu+ssh://user:pw@host/system" -> "qemu+ssh://<removed>@host/system" */
static void scrub_uri(json_t *manager) {
        const char *uri = json_string_value(json_object_get(manager, "HypervisorURI"));
        const char *scheme = uri ? strstr(uri, "://") : NULL, *at = scheme ? strchr(scheme + 3, '@') : NULL;
        _cleanup_free_ char *clean = NULL;

        if (!at)
                return;
        clean = strprintf("%.*s<removed>%s", (int) (scheme + 3 - uri), uri, at);
        if (clean)
                (void) json_object_set_new(manager, "HypervisorURI", json_string(clean));
}

int support_bundle_write(const char *path, const TuiModel *m, const ScreenState *base, const LogView *logs,
                         char *const *files, char **ret_error) {
        _cleanup_free_ char *tmp = strprintf("%s.tmp-XXXXXX", path);
        struct archive *a = NULL;
        json_t *inv = NULL;
        char *text = NULL;
        int fd = -1, r = -EIO;

        if (!tmp)
                return -ENOMEM;
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return set_error_sentence(ret_error, -errno, "Cannot write %s: %s.", path, strerror(errno));
        a = archive_write_new();
        if (!a || archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
            archive_write_add_filter_gzip(a) != ARCHIVE_OK || archive_write_open_fd(a, fd) != ARCHIVE_OK)
                goto fail;
        /* arkd's view. */
        inv = json_pack("{s:o?, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:b, s:s?}", "manager",
                        m->manager ? json_deep_copy(m->manager) : NULL, "accelerators", m->accelerators,
                        "tenants", m->tenants, "instances", m->instances, "networks", m->networks, "bundles",
                        m->bundles, "checks", m->checks, "connected", m->connected, "error", m->error);
        if (inv)
                scrub_uri(json_object_get(inv, "manager"));
        text = inv ? json_dumps(inv, JSON_INDENT(2)) : NULL;
        if (!text || add(a, "inventory.json", text, strlen(text)) < 0)
                goto fail;
        text = mfree(text);
        /* Every screen as the admin saw it. */
        for (int s = 0; s < _SCREEN_MAX; s++) {
                ScreenState st = base ? *base : (ScreenState) { .revert_left = -1 };
                _cleanup_free_ char *name = strprintf("screens/%s.txt", screen_to_string((ScreenId) s));
                Canvas c;
                size_t n = 0;
                FILE *f;

                st.screen = (ScreenId) s;
                st.logs = logs;
                st.dialog_title = NULL;
                st.help = false;
                st.status = NULL;
                if (!name || canvas_init(&c, 100, 40, false) < 0)
                        goto fail;
                screen_draw(&c, m, &st);
                f = open_memstream(&text, &n);
                if (f) {
                        (void) canvas_dump(&c, f);
                        fclose(f);
                }
                canvas_done(&c);
                if (!text || add(a, name, text, n) < 0)
                        goto fail;
                text = mfree(text);
        }
        /* The log. */
        {
                StrBuf b = {};

                for (size_t k = 0; logs && k < logs->n; k++)
                        strbuf_printf(&b, "%s\n", logs->lines[k]);
                if (logs && logs->error)
                        strbuf_printf(&b, "%s\n", logs->error);
                text = strbuf_steal(&b);
                if (add(a, "log.txt", strempty(text), strlen(strempty(text))) < 0)
                        goto fail;
                text = mfree(text);
        }
        /* Configuration, scrubbed. */
        for (char *const *f = files; f && *f; f++) {
                _cleanup_free_ char *data = NULL, *name = NULL, *clean = NULL;
                const char *file = strrchr(*f, '/');
                size_t n;

                if (read_full_file(*f, &data, &n) < 0)
                        continue;
                clean = scrub(data);
                name = strprintf("config/%s", file ? file + 1 : *f);
                if (!clean || !name || add(a, name, clean, strlen(clean)) < 0)
                        goto fail;
        }
        if (archive_write_close(a) != ARCHIVE_OK || fsync(fd) < 0 || rename(tmp, path) < 0)
                goto fail;
        archive_write_free(a);
        close(fd);
        json_decref(inv);
        return 0;
fail:
        r = set_error_sentence(ret_error, -EIO, "Cannot write the support bundle %s: %s.", path,
                               a && archive_error_string(a) ? archive_error_string(a)
                                                            : strerror(errno ?: EIO));
        if (a)
                archive_write_free(a);
        if (fd >= 0)
                close(fd);
        (void) unlink(tmp);
        free(text);
        json_decref(inv);
        return r;
}

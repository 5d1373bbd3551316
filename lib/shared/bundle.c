/* .ark bundles (bundle.h): the streaming reader and the writer, over libarchive. */

#include <dirent.h>
#include <errno.h>
#include <locale.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "shared/archive-util.h"
#include "shared/bundle.h"
#include "shared/trust.h"

#define IO_BUFFER (1024 * 1024)
#define PROGRESS_STEP (4 * 1024 * 1024)
#define WRITEBACK_STEP (16 * 1024 * 1024)

void bundle_result_done(BundleResult *r) {
        manifest_free(r->manifest);
        *r = (BundleResult) {};
}

/* ------------------------------------------------------------------------------------ reading */

typedef struct Reader {
        int fd;
        const char *name;
        struct archive *a;
        uint8_t *buf;
        Sha256 file_hash;
        uint64_t raw;   /* bytes read from the file */
        uint64_t limit; /* decompressed bytes the archive may hold, as far as known */
        bool bomb, eof, io_error;
} Reader;

/* Bounded output per input byte, and in all: checked whenever libarchive wants input, after
 * every header and after every block of data. */
static bool expanded_too_far(Reader *rd) {
        int64_t out = archive_filter_bytes(rd->a, 0);

        if (out > 0 &&
            ((uint64_t) out > rd->limit || (uint64_t) out > IO_BUFFER + rd->raw * BUNDLE_MAX_EXPANSION))
                rd->bomb = true;
        return rd->bomb;
}

static la_ssize_t reader_read(struct archive *a, void *userdata, const void **ret) {
        Reader *rd = userdata;
        ssize_t n;

        if (expanded_too_far(rd)) {
                archive_set_error(a, EFBIG, "decompression bomb");
                return -1;
        }
        do
                n = read(rd->fd, rd->buf, IO_BUFFER);
        while (n < 0 && errno == EINTR);
        if (n < 0) {
                rd->io_error = true;
                archive_set_error(a, errno, "read error: %s", strerror(errno));
                return -1;
        }
        if (n == 0)
                rd->eof = true;
        if (n > 0 && sha256_update(&rd->file_hash, rd->buf, (size_t) n) < 0) {
                archive_set_error(a, EIO, "hashing failed");
                return -1;
        }
        rd->raw += (uint64_t) n;
        *ret = rd->buf;
        return n;
}

/* Why an archive error happened, as the end of a sentence. */
static const char *archive_why(Reader *rd) {
        if (rd->bomb)
                return "it expands far more than its size allows (a decompression bomb)";
        if (rd->eof)
                return "the archive is truncated";
        return archive_error_string(rd->a) ?: "the archive is damaged";
}

static int archive_fail(Reader *rd, const char *after, char **ret_error) {
        int r = rd->io_error ? -EIO : -EINVAL;

        if (after)
                return set_error_sentence(ret_error, r, "%s: %s (after the entry '%s').", rd->name,
                                          archive_why(rd), printable(after));
        return set_error_sentence(ret_error, r, "%s: %s.", rd->name, archive_why(rd));
}

/* The archive cannot be opened or its first header read: truncated (the file ended while
 * libarchive still wanted more), or not a bundle at all. */
static int open_fail(Reader *rd, char **ret_error) {
        const char *e = archive_error_string(rd->a);

        if (rd->bomb || rd->io_error || (rd->eof && e && !startswith(e, "Unrecognized")))
                return archive_fail(rd, NULL, ret_error);
        return set_error_sentence(ret_error, -EINVAL,
                                  "%s is not a bundle: %s (a bundle is a tar archive, plain or compressed "
                                  "with zstd or xz).",
                                  rd->name, e ?: "unreadable");
}

/* A whole small member into a buffer of up to max bytes. */
static int read_member(Reader *rd, struct archive_entry *e, const char *what, size_t max, char **ret,
                       size_t *ret_n, char **ret_error) {
        _cleanup_free_ char *b = NULL;
        size_t n = 0;
        la_ssize_t k;

        if (archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e))
                return set_error_sentence(ret_error, -EINVAL, "%s: the entry '%s' is not a regular file.",
                                          rd->name, what);
        if (!archive_entry_size_is_set(e) || archive_entry_size(e) < 0 ||
            (uint64_t) archive_entry_size(e) > max)
                return set_error_sentence(ret_error, -EINVAL, "%s: the entry '%s' is larger than %zu bytes.",
                                          rd->name, what, max);
        b = malloc(max + 1);
        if (!b)
                return -ENOMEM;
        while ((k = archive_read_data(rd->a, b + n, max + 1 - n)) > 0) {
                n += (size_t) k;
                if (n > max)
                        return set_error_sentence(ret_error, -EINVAL,
                                                  "%s: the entry '%s' is larger than %zu bytes.", rd->name,
                                                  what, max);
        }
        if (k < 0)
                return archive_fail(rd, what, ret_error);
        if (n != (size_t) archive_entry_size(e))
                return set_error_sentence(ret_error, -EINVAL, "%s: the entry '%s' is truncated.", rd->name,
                                          what);
        b[n] = 0;
        *ret = TAKE_PTR(b);
        *ret_n = n;
        return 0;
}

/* Why a payload entry may not be unpacked, NULL when it may. */
static const char *entry_kind_refusal(struct archive_entry *e) {
        if (archive_entry_hardlink(e))
                return "is a hard link";
        switch (archive_entry_filetype(e)) {
        case AE_IFREG:
                break;
        case AE_IFDIR:
                break;
        case AE_IFLNK:
                return "is a symbolic link";
        case AE_IFCHR:
        case AE_IFBLK:
                return "is a device node";
        case AE_IFIFO:
                return "is a FIFO";
        case AE_IFSOCK:
                return "is a socket";
        default:
                return "is not a regular file";
        }
        if (archive_entry_mode(e) & (S_ISUID | S_ISGID))
                return "has the setuid or setgid bit";
        if (archive_entry_mode(e) & S_ISVTX)
                return "has the sticky bit";
        if (archive_entry_sparse_count(e) > 0)
                return "is a sparse file";
        return NULL;
}

/* Whether dir (no trailing '/') is a directory of some manifest file. */
static bool is_manifest_directory(const Manifest *m, const char *dir) {
        size_t l = strlen(dir);

        for (size_t k = 0; k < m->n_files; k++)
                if (strneq(m->files[k].path, dir, l) && m->files[k].path[l] == '/')
                        return true;
        return false;
}

/* Opens (creating) the directories of path under dfd; returns the fd of the innermost, or -errno.
 * Directories it makes are recorded in *made (relative paths) for the final fsync. */
static int open_parent(int dfd, const char *path, char ***made) {
        _cleanup_free_ char *p = strdup(path);
        int fd, r;
        char *c, *slash;

        if (!p)
                return -ENOMEM;
        fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return -errno;
        for (c = p; (slash = strchr(c, '/')); c = slash + 1) {
                int nfd;

                *slash = 0;
                if (mkdirat(fd, c, 0755) >= 0) {
                        if (strv_extend(made, p) < 0) {
                                close(fd);
                                return -ENOMEM;
                        }
                } else if (errno != EEXIST) {
                        r = -errno;
                        close(fd);
                        return r;
                }
                nfd = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                r = -errno;
                close(fd);
                if (nfd < 0)
                        return r;
                fd = nfd;
                *slash = '/';
        }
        return fd;
}

typedef struct Progress {
        const BundleReadOptions *o;
        uint64_t done, total, next;
} Progress;

static int progress_step(Progress *p, uint64_t add, bool final) {
        p->done += add;
        if (!p->o->progress || (!final && p->done < p->next))
                return 0;
        p->next = p->done + PROGRESS_STEP;
        return p->o->progress(p->done, p->total, p->o->userdata);
}

/* One payload entry: its data hashed and (dest_fd >= 0) written; checked against f. */
static int read_payload(Reader *rd, const BundleReadOptions *o, const ManifestFile *f, char ***made,
                        Progress *pg, char **ret_error) {
        _cleanup_close_ int pfd = -EBADF, fd = -EBADF;
        const char *base = strrchr(f->path, '/');
        uint64_t got = 0, synced = 0;
        uint8_t digest[SHA256_BYTES];
        char hex[SHA256_HEX];
        Sha256 h;
        int r;

        base = base ? base + 1 : f->path;
        if (o->open_file) {
                /* The caller says where this file goes (an update's root image: a partition). */
                fd = o->open_file(f, o->userdata, ret_error);
                if (fd < 0 && fd != -ENOENT)
                        return fd;
                if (fd == -ENOENT)
                        fd = -EBADF; /* hashed and checked, not written */
        } else if (o->dest_fd >= 0) {
                pfd = open_parent(o->dest_fd, f->path, made);
                if (pfd < 0)
                        return set_error_sentence(ret_error, pfd,
                                                  "%s: cannot create the directories of '%s': %s.", rd->name,
                                                  printable(f->path), strerror(-pfd));
                fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (fd < 0)
                        return set_error_sentence(ret_error, -errno, "%s: cannot create '%s': %s.", rd->name,
                                                  printable(f->path), strerror(errno));
        }
        r = sha256_init(&h);
        if (r < 0)
                return r;
        for (;;) {
                const void *block;
                size_t len;
                la_int64_t off;
                int k = archive_read_data_block(rd->a, &block, &len, &off);

                if (k == ARCHIVE_EOF)
                        break;
                if (k < ARCHIVE_WARN || k == ARCHIVE_WARN) {
                        sha256_done(&h);
                        if (rd->eof || k == ARCHIVE_WARN)
                                return set_error_sentence(ret_error, -EINVAL,
                                                          "%s: the entry '%s' is truncated.", rd->name,
                                                          printable(f->path));
                        return archive_fail(rd, f->path, ret_error);
                }
                if (expanded_too_far(rd)) {
                        sha256_done(&h);
                        return archive_fail(rd, f->path, ret_error);
                }
                if (off < 0 || (uint64_t) off != got) {
                        sha256_done(&h);
                        return set_error_sentence(ret_error, -EINVAL,
                                                  "%s: the entry '%s' has holes (a sparse file).", rd->name,
                                                  printable(f->path));
                }
                if (len > f->size - got) {
                        sha256_done(&h);
                        return set_error_sentence(
                                ret_error, -EBADMSG,
                                "%s: the entry '%s' holds more than the %llu bytes the manifest declares.",
                                rd->name, printable(f->path), (unsigned long long) f->size);
                }
                got += len;
                if (sha256_update(&h, block, len) < 0) {
                        sha256_done(&h);
                        return -EIO;
                }
                if (fd >= 0) {
                        r = loop_write(fd, block, len);
                        if (r < 0) {
                                sha256_done(&h);
                                return set_error_sentence(ret_error, r, "%s: cannot write '%s': %s.",
                                                          rd->name, printable(f->path), strerror(-r));
                        }
                        /* Start writing back early, so that the final fsync has little left. */
                        if (o->sync && got - synced >= WRITEBACK_STEP) {
                                (void) sync_file_range(fd, (off_t) synced, (off_t) (got - synced),
                                                       SYNC_FILE_RANGE_WRITE);
                                synced = got;
                        }
                }
                r = progress_step(pg, len, false);
                if (r < 0) {
                        sha256_done(&h);
                        return set_error_sentence(
                                ret_error, r, r == -ECANCELED ? "%s: cancelled." : "%s: stopped.", rd->name);
                }
        }
        r = sha256_final(&h, digest);
        if (r < 0)
                return r;
        if (got != f->size)
                return set_error_sentence(ret_error, -EBADMSG,
                                          "%s: the entry '%s' holds %llu bytes; the manifest declares %llu.",
                                          rd->name, printable(f->path), (unsigned long long) got,
                                          (unsigned long long) f->size);
        hex_encode(digest, SHA256_BYTES, hex);
        if (!streq(hex, f->sha256))
                return set_error_sentence(
                        ret_error, -EBADMSG,
                        "%s: the entry '%s' does not match its SHA-256 in the manifest (it is %s).",
                        rd->name, printable(f->path), hex);
        if (fd >= 0) {
                if ((!o->open_file && fchmod(fd, f->mode) < 0) || (o->sync && fsync(fd) < 0))
                        return set_error_sentence(ret_error, -errno, "%s: cannot write '%s': %s.", rd->name,
                                                  printable(f->path), strerror(errno));
                if (close(TAKE_FD(fd)) < 0)
                        return set_error_sentence(ret_error, -EIO, "%s: cannot write '%s'.", rd->name,
                                                  printable(f->path));
        }
        return 0;
}

static int sync_directories(int dfd, char **made) {
        for (char **d = made; d && *d; d++) {
                _cleanup_close_ int fd = openat(dfd, *d, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

                if (fd < 0 || fsync(fd) < 0)
                        return -errno;
        }
        return fsync(dfd) < 0 ? -errno : 0;
}

static int read_archive(Reader *rd, const BundleReadOptions *o, BundleResult *res, char **ret_error) {
        _cleanup_free_ char *manifest = NULL, *sig = NULL, *err = NULL;
        _cleanup_free_ bool *seen = NULL;
        _cleanup_(strv_freep) char **made = NULL;
        _cleanup_(ark_key_freep) ArkKey *key = NULL;
        struct archive_entry *e;
        size_t n_manifest = 0, n_sig = 0, n_seen = 0;
        Manifest *m;
        const char *last = NULL;
        Progress pg = { .o = o };
        int r;

        /* manifest.json, then manifest.sig. */
        r = archive_read_next_header(rd->a, &e);
        if (r == ARCHIVE_EOF)
                return set_error_sentence(ret_error, -EINVAL, "%s: the archive is empty.", rd->name);
        if (r != ARCHIVE_OK)
                return open_fail(rd, ret_error);
        if (!archive_entry_pathname(e) || !streq(archive_entry_pathname(e), "manifest.json"))
                return set_error_sentence(ret_error, -EINVAL,
                                          "%s: the first entry is '%s', not manifest.json.", rd->name,
                                          printable(archive_entry_pathname(e)));
        r = read_member(rd, e, "manifest.json", MANIFEST_MAX_BYTES, &manifest, &n_manifest, ret_error);
        if (r < 0)
                return r;
        r = manifest_parse(manifest, n_manifest, &res->manifest, &err);
        if (r < 0)
                return set_error_sentence(ret_error, r, "%s: %s", rd->name, err);
        m = res->manifest;
        r = archive_read_next_header(rd->a, &e);
        if (r == ARCHIVE_EOF)
                return set_error_sentence(ret_error, -EINVAL, "%s: the entry 'manifest.sig' is missing.",
                                          rd->name);
        if (r != ARCHIVE_OK)
                return archive_fail(rd, "manifest.json", ret_error);
        if (!archive_entry_pathname(e) || !streq(archive_entry_pathname(e), "manifest.sig"))
                return set_error_sentence(ret_error, -EINVAL,
                                          "%s: the second entry is '%s', not manifest.sig.", rd->name,
                                          printable(archive_entry_pathname(e)));
        r = read_member(rd, e, "manifest.sig", ED25519_SIG_BYTES, &sig, &n_sig, ret_error);
        if (r < 0)
                return r;
        if (n_sig != ED25519_SIG_BYTES)
                return set_error_sentence(ret_error, -EINVAL,
                                          "%s: manifest.sig holds %zu bytes, not an Ed25519 signature (64).",
                                          rd->name, n_sig);

        /* The signature, before any payload byte. */
        r = trust_lookup(o->trust_dir, m->key_id, &key, &err);
        if (r < 0) {
                res->signature = r == -EKEYREVOKED ? BUNDLE_SIGNATURE_REVOKED_KEY
                        : r == -ENOKEY             ? BUNDLE_SIGNATURE_UNKNOWN_KEY
                                                   : BUNDLE_SIGNATURE_BAD;
                if (o->manifest_only && o->allow_untrusted && (r == -ENOKEY || r == -EKEYREVOKED))
                        return 0;
                return set_error_sentence(ret_error, r, "%s: %s", rd->name, err);
        }
        r = ark_verify(key, manifest, n_manifest, (const uint8_t *) sig);
        if (r < 0) {
                res->signature = BUNDLE_SIGNATURE_BAD;
                if (r == -EBADMSG)
                        return set_error_sentence(
                                ret_error, r,
                                "%s: the manifest's signature does not verify with key %s: the "
                                "manifest was changed or signed with another key.",
                                rd->name, m->key_id);
                return set_error_sentence(ret_error, r, "%s: cannot check the signature.", rd->name);
        }
        res->signature = BUNDLE_SIGNATURE_VALID;
        if (o->manifest_only)
                return 0;

        /* What the rest may decompress to: the payload, and headers (pax records with long paths). */
        rd->limit = archive_filter_bytes(rd->a, 0) + m->total_bytes +
                (m->n_files + 16) * (uint64_t) (4 * 512 + 3 * MANIFEST_PATH_MAX) + 1024 * 1024;
        if (o->admit) {
                r = o->admit(m, o->userdata, ret_error);
                if (r < 0)
                        return r;
        }
        if (o->dest_fd >= 0) {
                struct statvfs sv;

                if (fstatvfs(o->dest_fd, &sv) >= 0 &&
                    (uint64_t) sv.f_bavail * sv.f_frsize < m->total_bytes + 16 * 1024 * 1024)
                        return set_error_sentence(
                                ret_error, -ENOSPC,
                                "%s: the payload needs %llu MiB; the store has %llu MiB free.", rd->name,
                                (unsigned long long) (m->total_bytes >> 20) + 16,
                                (unsigned long long) (((uint64_t) sv.f_bavail * sv.f_frsize) >> 20));
        }
        seen = calloc(m->n_files, sizeof(bool));
        if (!seen)
                return -ENOMEM;
        pg.total = m->total_bytes;
        last = "manifest.sig";
        for (;;) {
                _cleanup_free_ char *path = NULL;
                const ManifestFile *f;
                const char *p, *why;
                size_t idx;

                r = archive_read_next_header(rd->a, &e);
                if (r == ARCHIVE_EOF)
                        break;
                if (r != ARCHIVE_OK || expanded_too_far(rd))
                        return archive_fail(rd, last, ret_error);
                p = archive_entry_pathname(e);
                if (!p)
                        return set_error_sentence(ret_error, -EINVAL, "%s: an entry after '%s' has no name.",
                                                  rd->name, printable(last));
                path = strdup(p);
                if (!path)
                        return -ENOMEM;
                why = entry_kind_refusal(e);
                if (!why && strlen(path) > MANIFEST_PATH_MAX)
                        why = "has a path longer than 4096 bytes";
                /* A directory entry names itself with a trailing '/'. */
                if (!why && archive_entry_filetype(e) == AE_IFDIR && strlen(path) > 1 && endswith(path, "/"))
                        path[strlen(path) - 1] = 0;
                if (!why)
                        why = manifest_check_path(path);
                if (why)
                        return set_error_sentence(
                                ret_error, -EINVAL,
                                "%s: the entry '%s' %s; a bundle holds regular files only, "
                                "under relative paths.",
                                rd->name, printable(p), why);
                if (archive_entry_filetype(e) == AE_IFDIR) {
                        if (!is_manifest_directory(m, path))
                                return set_error_sentence(ret_error, -EINVAL,
                                                          "%s: the directory '%s' is not in the manifest.",
                                                          rd->name, printable(p));
                        continue; /* made as its files need it */
                }
                f = manifest_find(m, path);
                if (!f)
                        return set_error_sentence(ret_error, -EINVAL,
                                                  "%s: the entry '%s' is not in the manifest.", rd->name,
                                                  printable(p));
                idx = (size_t) (f - m->files);
                if (seen[idx])
                        return set_error_sentence(ret_error, -EINVAL, "%s: the entry '%s' comes twice.",
                                                  rd->name, printable(p));
                seen[idx] = true;
                n_seen++;
                if (!archive_entry_size_is_set(e) || archive_entry_size(e) < 0 ||
                    (uint64_t) archive_entry_size(e) != f->size)
                        return set_error_sentence(
                                ret_error, -EBADMSG,
                                "%s: the entry '%s' is %lld bytes; the manifest declares %llu.", rd->name,
                                printable(p), (long long) archive_entry_size(e),
                                (unsigned long long) f->size);
                r = read_payload(rd, o, f, &made, &pg, ret_error);
                if (r < 0)
                        return r;
                last = f->path;
        }
        if (n_seen != m->n_files)
                for (size_t k = 0; k < m->n_files; k++)
                        if (!seen[k])
                                return set_error_sentence(
                                        ret_error, -EINVAL,
                                        "%s: '%s' is in the manifest but not in the archive.", rd->name,
                                        printable(m->files[k].path));
        if (o->dest_fd >= 0 && o->sync) {
                r = sync_directories(o->dest_fd, made);
                if (r < 0)
                        return set_error_sentence(ret_error, r,
                                                  "%s: cannot sync the payload's directories: %s.", rd->name,
                                                  strerror(-r));
        }
        r = progress_step(&pg, 0, true);
        if (r < 0)
                return set_error_sentence(ret_error, r, r == -ECANCELED ? "%s: cancelled." : "%s: stopped.",
                                          rd->name);
        return 0;
}

/* Frees what a Reader holds (for _cleanup_): the archive first, which may still use the buffer. */
static void reader_done(Reader *rd) {
        if (rd->a)
                archive_read_free(rd->a);
        free(rd->buf);
        sha256_done(&rd->file_hash);
}

static int read_in_locale(int fd, const char *name, const BundleReadOptions *o, BundleResult *ret,
                          char **ret_error) {
        _cleanup_(reader_done) Reader rd = { .fd = fd, .name = name, .limit = 4 * 1024 * 1024 };
        _cleanup_(bundle_result_done) BundleResult res = {};
        uint8_t digest[SHA256_BYTES];
        int r;

        rd.buf = malloc(IO_BUFFER);
        rd.a = archive_read_new();
        if (!rd.buf || !rd.a || sha256_init(&rd.file_hash) < 0)
                return -ENOMEM;
        if (archive_read_support_format_tar(rd.a) != ARCHIVE_OK ||
            archive_read_support_filter_zstd(rd.a) != ARCHIVE_OK ||
            archive_read_support_filter_xz(rd.a) != ARCHIVE_OK ||
            archive_read_open(rd.a, &rd, NULL, reader_read, NULL) != ARCHIVE_OK)
                return open_fail(&rd, ret_error);
        r = read_archive(&rd, o, &res, ret_error);
        if (r < 0)
                return r;
        if (!o->manifest_only) {
                /* The rest of the file (the archive's end blocks), so the hash covers all of it. */
                const void *p;
                while (reader_read(rd.a, &rd, &p) > 0)
                        ;
                if (rd.io_error)
                        return set_error_sentence(ret_error, -EIO, "%s: %s.", name, archive_why(&rd));
        }
        if (sha256_final(&rd.file_hash, digest) < 0)
                return -EIO;
        hex_encode(digest, SHA256_BYTES, res.sha256);
        res.archive_bytes = rd.raw;
        *ret = res;
        res = (BundleResult) {}; /* handed on */
        return 0;
}

/* ------------------------------------------------------------------------------------ writing */

typedef struct Walk {
        const char *root;
        ManifestFile *files;
        size_t n, cap;
        uint64_t total;
} Walk;

static int compare_files(const void *a, const void *b) {
        return strcmp(((const ManifestFile *) a)->path, ((const ManifestFile *) b)->path);
}

/* Every regular file under dfd (rel is its path below the root, "" at the top). */
static int walk(Walk *w, int dfd, const char *rel, unsigned depth, char **ret_error) {
        DIR *d;
        struct dirent *de;
        int r = 0;

        if (depth > 64)
                return set_error_sentence(ret_error, -ELOOP, "%s/%s: directories nest too deep.", w->root,
                                          rel);
        d = fdopendir(dfd);
        if (!d) {
                r = -errno;
                close(dfd);
                return set_error_sentence(ret_error, r, "Cannot read %s/%s: %s.", w->root, rel,
                                          strerror(-r));
        }
        while ((de = readdir(d))) {
                _cleanup_free_ char *path = NULL;
                struct stat st;
                const char *why;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                path = *rel ? strprintf("%s/%s", rel, de->d_name) : strdup(de->d_name);
                if (!path) {
                        r = -ENOMEM;
                        break;
                }
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        r = set_error_sentence(ret_error, -errno, "Cannot stat %s/%s: %s.", w->root, path,
                                               strerror(errno));
                        break;
                }
                if (S_ISDIR(st.st_mode)) {
                        int sub = openat(dirfd(d), de->d_name,
                                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

                        if (sub < 0) {
                                r = set_error_sentence(ret_error, -errno, "Cannot open %s/%s: %s.", w->root,
                                                       path, strerror(errno));
                                break;
                        }
                        r = walk(w, sub, path, depth + 1, ret_error);
                        if (r < 0)
                                break;
                        continue;
                }
                if (!S_ISREG(st.st_mode)) {
                        r = set_error_sentence(
                                ret_error, -EINVAL, "%s/%s is %s; a bundle holds regular files only.",
                                w->root, path,
                                S_ISLNK(st.st_mode) ? "a symbolic link" : "not a regular file");
                        break;
                }
                why = manifest_check_path(path);
                if (why) {
                        r = set_error_sentence(ret_error, -EINVAL, "%s/%s: its path %s.", w->root, path,
                                               why);
                        break;
                }
                if (w->n == w->cap) {
                        ManifestFile *nf = realloc(
                                w->files, (w->cap = w->cap ? w->cap * 2 : 64) * sizeof(ManifestFile));

                        if (!nf) {
                                r = -ENOMEM;
                                break;
                        }
                        w->files = nf;
                }
                if (w->n >= MANIFEST_FILES_MAX) {
                        r = set_error_sentence(ret_error, -E2BIG, "%s holds more than %d files.", w->root,
                                               MANIFEST_FILES_MAX);
                        break;
                }
                w->files[w->n++] = (ManifestFile) { .path = TAKE_PTR(path),
                                                    .size = (uint64_t) st.st_size,
                                                    .mode = (st.st_mode & 0111) ? 0755 : 0644 };
                w->total += (uint64_t) st.st_size;
        }
        closedir(d);
        return r;
}

/* Streams the file at root/path through h, and into the archive when a is set; checks its size. */
static int pass_file(const char *root, const ManifestFile *f, struct archive *a, uint8_t *buf, Sha256 *h,
                     const BundleCreateOptions *o, uint64_t *done, uint64_t total, char **ret_error) {
        _cleanup_free_ char *full = strprintf("%s/%s", root, f->path);
        _cleanup_close_ int fd = -EBADF;
        uint64_t got = 0, next = 0;

        if (!full)
                return -ENOMEM;
        fd = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return set_error_sentence(ret_error, -errno, "Cannot read %s: %s.", full, strerror(errno));
        (void) posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        for (;;) {
                ssize_t n = read(fd, buf, IO_BUFFER);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return set_error_sentence(ret_error, -errno, "Cannot read %s: %s.", full,
                                                  strerror(errno));
                if (n == 0)
                        break;
                got += (uint64_t) n;
                if (got > f->size)
                        break;
                if (sha256_update(h, buf, (size_t) n) < 0)
                        return -EIO;
                if (a && archive_write_data(a, buf, (size_t) n) != n)
                        return set_error_sentence(ret_error, -EIO, "Cannot write the bundle: %s.",
                                                  archive_error_string(a) ?: "error");
                *done += (uint64_t) n;
                if (o->progress && *done >= next) {
                        int r = o->progress(*done, total, o->userdata);

                        if (r < 0)
                                return set_error_sentence(ret_error, r, "Cancelled.");
                        next = *done + PROGRESS_STEP;
                }
        }
        if (got != f->size)
                return set_error_sentence(ret_error, -EBUSY, "%s changed while the bundle was made.", full);
        return 0;
}

static int write_member(struct archive *a, const char *path, const void *data, size_t n, time_t t) {
        _cleanup_(archive_entry_freep) struct archive_entry *e = archive_entry_new();

        if (!e)
                return -ENOMEM;
        archive_entry_set_pathname(e, path);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, (la_int64_t) n);
        archive_entry_set_mtime(e, t, 0);
        archive_entry_set_uname(e, "root");
        archive_entry_set_gname(e, "root");
        if (archive_write_header(a, e) != ARCHIVE_OK ||
            (n > 0 && archive_write_data(a, data, n) != (la_ssize_t) n))
                return -EIO;
        return 0;
}

static int create_in_locale(const BundleCreateOptions *o, Manifest **ret_manifest, char **ret_error) {
        _cleanup_(manifest_freep) Manifest *m = NULL;
        _cleanup_(ark_key_freep) ArkKey *key = NULL;
        _cleanup_free_ char *err = NULL, *text = NULL, *template = NULL;
        _cleanup_(unlink_and_freep) char *tmp = NULL;
        _cleanup_free_ uint8_t *buf = NULL;
        _cleanup_close_ int out = -EBADF;
        _cleanup_(archive_write_freep) struct archive *a = NULL; /* freed before out is closed */
        const char *compression = o->compression ?: "none";
        uint8_t sig[ED25519_SIG_BYTES];
        Walk w = { .root = o->dir };
        time_t now = o->created ?: time(NULL);
        struct tm tm;
        char created[32];
        uint64_t done = 0;
        int dfd, r;

        if (!streq(compression, "none") && !streq(compression, "zstd") && !streq(compression, "xz"))
                return set_error_sentence(ret_error, -EINVAL, "Unknown compression '%s' (none, zstd or xz).",
                                          compression);
        r = ark_key_load_private(o->key_path, &key, &err);
        if (r < 0)
                return set_error_sentence(ret_error, r, "%s", err);
        if (access(o->output, F_OK) >= 0)
                return set_error_sentence(ret_error, -EEXIST, "%s already exists; not overwriting it.",
                                          o->output);
        buf = malloc(IO_BUFFER);
        m = calloc(1, sizeof(Manifest));
        if (!buf || !m)
                return -ENOMEM;
        dfd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return set_error_sentence(ret_error, -errno, "Cannot read the payload directory %s: %s.",
                                          o->dir, strerror(errno));
        r = walk(&w, dfd, "", 0, ret_error);
        m->files = w.files;
        m->n_files = w.n;
        if (r < 0)
                return r;
        if (w.n == 0)
                return set_error_sentence(ret_error, -EINVAL,
                                          "%s holds no files; a bundle needs at least one.", o->dir);
        qsort(m->files, m->n_files, sizeof(ManifestFile), compare_files);
        m->total_bytes = w.total;
        m->format = MANIFEST_FORMAT;
        m->kind = o->kind;
        m->name = strdup(strempty(o->name));
        m->version = strdup(strempty(o->version));
        gmtime_r(&now, &tm);
        strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
        m->created = strdup(created);
        if (!m->name || !m->version || !m->created)
                return -ENOMEM;
        ark_key_id(key, m->key_id);
        if (o->kind == BUNDLE_MODEL) {
                const ManifestModel *s = &o->model;

                m->model = (ManifestModel) { .parameters = s->parameters,
                                             .min_gpu_memory_bytes = s->min_gpu_memory_bytes };
                if ((s->architecture && !(m->model.architecture = strdup(s->architecture))) ||
                    (s->dtype && !(m->model.dtype = strdup(s->dtype))) ||
                    (s->runtime && !(m->model.runtime = strdup(s->runtime))) ||
                    (s->license && !(m->model.license = strdup(s->license))))
                        return -ENOMEM;
        }
        if (o->kind == BUNDLE_UPDATE && strv_copy(&m->compatible, o->compatible) < 0)
                return -ENOMEM;

        /* Hash the payload. */
        for (size_t k = 0; k < m->n_files; k++) {
                Sha256 h;
                uint8_t d[SHA256_BYTES];

                r = sha256_init(&h);
                if (r < 0)
                        return r;
                r = pass_file(o->dir, &m->files[k], NULL, buf, &h, o, &done, 2 * m->total_bytes, ret_error);
                if (r < 0) {
                        sha256_done(&h);
                        return r;
                }
                if (sha256_final(&h, d) < 0)
                        return -EIO;
                hex_encode(d, SHA256_BYTES, m->files[k].sha256);
        }
        r = manifest_format(m, &text);
        if (r < 0)
                return r;
        /* What we sign, a reader must accept. */
        {
                _cleanup_(manifest_freep) Manifest *check = NULL;

                r = manifest_parse(text, strlen(text), &check, &err);
                if (r < 0)
                        return set_error_sentence(ret_error, r, "%s", err);
        }
        r = ark_sign(key, text, strlen(text), sig);
        if (r < 0)
                return set_error_sentence(ret_error, r, "Cannot sign the manifest with %s.", o->key_path);

        /* The archive, through a temporary file next to it, removed on every return from here on
         * (linked to o->output on success). */
        template = strprintf("%s.tmp-XXXXXX", o->output);
        if (!template)
                return -ENOMEM;
        out = mkostemp(template, O_CLOEXEC);
        if (out < 0)
                return set_error_sentence(ret_error, -errno, "Cannot create %s: %s.", o->output,
                                          strerror(errno));
        tmp = TAKE_PTR(template);
        (void) fchmod(out, 0644);
        a = archive_write_new();
        if (!a)
                return -ENOMEM;
        if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
            (streq(compression, "zstd") && archive_write_add_filter_zstd(a) != ARCHIVE_OK) ||
            (streq(compression, "xz") && archive_write_add_filter_xz(a) != ARCHIVE_OK) ||
            archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
            archive_write_open_fd(a, out) != ARCHIVE_OK)
                return set_error_sentence(ret_error, -EIO, "Cannot write %s: %s.", o->output,
                                          archive_error_string(a) ?: "error");
        if (write_member(a, "manifest.json", text, strlen(text), now) < 0 ||
            write_member(a, "manifest.sig", sig, sizeof(sig), now) < 0)
                return set_error_sentence(ret_error, -EIO, "Cannot write %s: %s.", o->output,
                                          archive_error_string(a) ?: "error");
        for (size_t k = 0; k < m->n_files; k++) {
                const ManifestFile *f = &m->files[k];
                _cleanup_(archive_entry_freep) struct archive_entry *e = archive_entry_new();
                _cleanup_(sha256_done) Sha256 h = {};
                uint8_t d[SHA256_BYTES];
                char hex[SHA256_HEX];

                if (!e)
                        return -ENOMEM;
                archive_entry_set_pathname(e, f->path);
                archive_entry_set_filetype(e, AE_IFREG);
                archive_entry_set_perm(e, f->mode);
                archive_entry_set_size(e, (la_int64_t) f->size);
                archive_entry_set_mtime(e, now, 0);
                archive_entry_set_uname(e, "root");
                archive_entry_set_gname(e, "root");
                if (archive_write_header(a, e) != ARCHIVE_OK)
                        return set_error_sentence(ret_error, -EIO, "Cannot write %s: %s.", o->output,
                                                  archive_error_string(a) ?: "error");
                r = sha256_init(&h);
                if (r < 0)
                        return r;
                r = pass_file(o->dir, f, a, buf, &h, o, &done, 2 * m->total_bytes, ret_error);
                if (r < 0)
                        return r;
                if (sha256_final(&h, d) < 0)
                        return -EIO;
                hex_encode(d, SHA256_BYTES, hex);
                if (!streq(hex, f->sha256))
                        return set_error_sentence(ret_error, -EBUSY,
                                                  "%s/%s changed while the bundle was made.", o->dir,
                                                  f->path);
        }
        if (archive_write_close(a) != ARCHIVE_OK)
                return set_error_sentence(ret_error, -EIO, "Cannot write %s: %s.", o->output,
                                          archive_error_string(a) ?: "error");
        archive_write_free(TAKE_PTR(a));
        if (fsync(out) < 0 || link(tmp, o->output) < 0)
                return set_error_sentence(ret_error, -errno,
                                          errno == EEXIST ? "%s already exists; not overwriting it."
                                                          : "Cannot write %s.",
                                          o->output);
        if (ret_manifest)
                *ret_manifest = TAKE_PTR(m);
        return 0;
}

/* Paths in a bundle are UTF-8 (pax headers carry them so); libarchive converts them to and from
 * the current locale's charset, which in the C locale cannot hold them. The calling thread works in
 * C.UTF-8 while it reads or writes a bundle, whatever the process's locale. */
static locale_t utf8_begin(locale_t *ret_old) {
        locale_t l = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t) 0);

        *ret_old = uselocale((locale_t) 0);
        if (l)
                (void) uselocale(l);
        return l;
}

static void utf8_end(locale_t l, locale_t old) {
        if (!l)
                return;
        (void) uselocale(old);
        freelocale(l);
}

int bundle_read(int fd, const char *name, const BundleReadOptions *o, BundleResult *ret, char **ret_error) {
        locale_t old, l = utf8_begin(&old);
        int r = read_in_locale(fd, name, o, ret, ret_error);

        utf8_end(l, old);
        return r;
}

int bundle_create(const BundleCreateOptions *o, Manifest **ret_manifest, char **ret_error) {
        locale_t old, l = utf8_begin(&old);
        int r = create_in_locale(o, ret_manifest, ret_error);

        utf8_end(l, old);
        return r;
}

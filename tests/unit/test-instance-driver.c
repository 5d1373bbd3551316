/* Tests for the instance driver seam (appliance/instance/driver.h): no source outside the VM
 * driver (appliance/instance/vm/) reaches libvirt's headers, directly or through a header of
 * ours; and the driver table as instances find it. */

#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "config.h"
#include "driver.h"
#include "instance.h"
#include "manager.h"
#include "shared/bus-util.h"

/* The folders whose sources make programs (tests/ and bench/ may use libvirt: test-daemon and
 * bench/api talk to it directly, to check arkd and as a baseline). */
static const char *const scanned[] = { "appliance", "lib", "ctl", "tui", "firmware" };
/* Where the one user of libvirt lives. */
#define VM_DRIVER_DIR "appliance/instance/vm/"
/* The compiler's -I folders, in the Makefile's order (a quoted include is looked up next to the
 * including file first). */
static const char *const include_dirs[] = {
        "lib",
        "appliance",
        "appliance/hw",
        "appliance/tenant",
        "appliance/instance",
        "appliance/instance/vm",
        "appliance/bundle",
};

static const char *src_dir(void) {
        const char *e = getenv("ARK_SRCDIR");

        return isempty(e) ? ARK_SRCDIR : e;
}

/* The name in an #include line ("x.h" or <x.h>), copied to `name`; *ret_quoted says which form.
 * Returns false for any other line. */
static bool parse_include(const char *line, char *name, size_t size, bool *ret_quoted) {
        const char *p = line, *end;
        char close;

        p += strspn(p, " \t");
        if (*p++ != '#')
                return false;
        p += strspn(p, " \t");
        if (!startswith(p, "include"))
                return false;
        p += strlen("include");
        p += strspn(p, " \t");
        if (*p != '"' && *p != '<')
                return false;
        close = *p == '"' ? '"' : '>';
        *ret_quoted = *p == '"';
        p++;
        end = strchr(p, close);
        if (!end || (size_t) (end - p) >= size)
                return false;
        memcpy(name, p, (size_t) (end - p));
        name[end - p] = 0;
        return true;
}

/* Resolves a quoted include of `from` (relative to the source tree) as the compiler would;
 * returns a newly allocated path relative to the tree, or NULL for a header not ours. */
static char *resolve(const char *from, const char *name) {
        const char *slash = strrchr(from, '/');
        _cleanup_free_ char *dir = slash ? strndup(from, (size_t) (slash - from)) : strdup(".");
        char *rel;

        assert_non_null(dir);
        rel = strprintf("%s/%s", dir, name);
        assert_non_null(rel);
        {
                _cleanup_free_ char *abs = strprintf("%s/%s", src_dir(), rel);
                if (file_exists(abs))
                        return rel;
        }
        free(rel);
        for (size_t k = 0; k < ELEMENTSOF(include_dirs); k++) {
                _cleanup_free_ char *abs = strprintf("%s/%s/%s", src_dir(), include_dirs[k], name);

                if (file_exists(abs))
                        return strprintf("%s/%s", include_dirs[k], name);
        }
        return NULL;
}

/* Follows the quoted includes of `file` (relative to the tree) depth first. Returns a newly
 * allocated chain "a.c -> b.h -> <libvirt/libvirt.h>" for the first way to libvirt, or NULL.
 * `seen` holds the headers already followed (each is followed once). */
static char *libvirt_chain(const char *file, char ***seen) {
        _cleanup_free_ char *abs = strprintf("%s/%s", src_dir(), file), *text = NULL;
        char *line, *save = NULL;

        assert_int_equal(read_full_file(abs, &text, NULL), 0);
        for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char name[256];
                bool quoted;

                if (!parse_include(line, name, sizeof(name), &quoted))
                        continue;
                if (startswith(name, "libvirt/"))
                        return strprintf("%s -> %c%s%c", file, quoted ? '"' : '<', name, quoted ? '"' : '>');
                if (!quoted)
                        continue;
                {
                        _cleanup_free_ char *header = resolve(file, name), *rest = NULL;

                        if (!header || strv_contains(*seen, header))
                                continue;
                        assert_int_equal(strv_extend(seen, header), 0);
                        rest = libvirt_chain(header, seen);
                        if (rest)
                                return strprintf("%s -> %s", file, rest);
                }
        }
        return NULL;
}

/* Every .c and .h below `dir` (relative to the tree), appended to *files. */
static void list_sources(const char *dir, char ***files) {
        _cleanup_free_ char *abs = strprintf("%s/%s", src_dir(), dir);
        DIR *d = opendir(abs);
        struct dirent *de;

        if (!d)
                fail_msg("cannot open %s: %s", abs, strerror(errno));
        while ((de = readdir(d))) {
                _cleanup_free_ char *rel = NULL, *full = NULL;
                struct stat st;

                if (de->d_name[0] == '.')
                        continue;
                rel = strprintf("%s/%s", dir, de->d_name);
                full = strprintf("%s/%s", src_dir(), rel);
                assert_non_null(rel);
                assert_non_null(full);
                if (stat(full, &st) < 0)
                        continue;
                if (S_ISDIR(st.st_mode))
                        list_sources(rel, files);
                else if (S_ISREG(st.st_mode) && (endswith(rel, ".c") || endswith(rel, ".h")))
                        assert_int_equal(strv_extend(files, rel), 0);
        }
        closedir(d);
}

/* Acceptance of issue 16: nothing outside the VM driver includes libvirt/, not even through a
 * header of ours. */
static void test_libvirt_only_in_vm_driver(void **state) {
        _cleanup_strv_free_ char **files = NULL;
        unsigned n_outside = 0, n_inside_libvirt = 0, n_bad = 0;

        for (size_t k = 0; k < ELEMENTSOF(scanned); k++)
                list_sources(scanned[k], &files);
        strv_sort(files);
        for (char **f = files; f && *f; f++) {
                _cleanup_strv_free_ char **seen = NULL;
                _cleanup_free_ char *chain = libvirt_chain(*f, &seen);

                if (startswith(*f, VM_DRIVER_DIR)) {
                        n_inside_libvirt += chain != NULL;
                        continue;
                }
                n_outside++;
                if (chain) {
                        fprintf(stderr, "%s reaches libvirt outside the VM driver (%s): %s\n", *f,
                                VM_DRIVER_DIR, chain);
                        n_bad++;
                }
        }
        /* The scan saw the tree (not an empty or wrong ARK_SRCDIR) and finds libvirt where it is. */
        if (n_outside < 100 || n_inside_libvirt == 0)
                fail_msg(
                        "the scan of %s found %u files outside the VM driver and %u inside it using libvirt; wrong "
                        "ARK_SRCDIR?",
                        src_dir(), n_outside, n_inside_libvirt);
        if (n_bad > 0)
                fail_msg("%u file%s outside %s reach libvirt's headers (listed above)", n_bad,
                         n_bad == 1 ? "" : "s", VM_DRIVER_DIR);
}

/* ------------------------------------------------------------------------------ the table */

static void test_find(void **state) {
        const InstanceDriver *d = instance_driver_find("vm");
        _cleanup_free_ char *types = instance_driver_types();

        assert_ptr_equal(d, &vm_driver);
        assert_string_equal(d->type, "vm");
        assert_ptr_equal(instance_driver_find(INSTANCE_TYPE_DEFAULT), &vm_driver);
#if IS_ENABLED(CONFIG_CONTAINERS)
        assert_ptr_equal(instance_driver_find("container"), &container_driver);
        assert_string_equal(types, "'vm', 'container'");
#else
        assert_null(instance_driver_find("container"));
        assert_string_equal(types, "'vm'");
#endif
        assert_null(instance_driver_find("VM"));
        assert_null(instance_driver_find(""));
        assert_null(instance_driver_find(NULL));
}

/* Every required operation is there in every driver: never a NULL call. exec and open_log are
 * optional (NULL: NotSupported, instance.c); the container driver has them. */
static void check_complete(const InstanceDriver *d, bool optional) {
        const void *const ops[] = {
                d->setup,    d->teardown, d->connected,  d->require,    d->reconcile, d->name_in_use,
                d->define,   d->remove,   d->start,      d->stop,       d->force_off, d->get_state,
                d->describe, d->console,  d->attach_nic, d->detach_nic,
        };

        /* A new member of the table must be added here (and to every driver). */
        assert_int_equal(sizeof(InstanceDriver), sizeof(const char *) + sizeof(ops) + 2 * sizeof(void *));
        for (size_t k = 0; k < ELEMENTSOF(ops); k++)
                assert_non_null(ops[k]);
        if (optional) {
                assert_non_null(d->exec);
                assert_non_null(d->open_log);
        }
}

static void test_complete(void **state) {
        check_complete(&vm_driver, false);
        assert_null(vm_driver.exec);
        assert_null(vm_driver.open_log);
#if IS_ENABLED(CONFIG_CONTAINERS)
        check_complete(&container_driver, true);
#endif
}

typedef struct Fixture {
        Manager m;
        Instance i;
} Fixture;

static void fixture_init(Fixture *f) {
        *f = (Fixture) {};
        assert_int_equal(config_init(&f->m.config), 0);
        f->i = (Instance) {
                .manager = &f->m, .name = (char *) "web", .tenant = (char *) "risk", .type = (char *) "vm"
        };
        memcpy(f->i.uuid, "3f6d2a1c-8b4e-4c7a-9e21-5d0c7b9a4e13", 37);
}

/* Without its backend (never set up, or libvirt away) the VM driver says so and touches nothing. */
static void test_no_backend(void **state) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        InstanceState s = INSTANCE_RUNNING;
        char *xml = NULL;
        Fixture f;
        int fd = -1;

        fixture_init(&f);
        assert_false(vm_driver.connected(&f.m));
        assert_int_equal(vm_driver.require(&f.m, &e), -ENOTCONN);
        assert_string_equal(e.name, ARK_ERROR_HYPERVISOR_UNAVAILABLE);
        assert_non_null(strstr(e.message, f.m.config.libvirt_uri));
        sd_bus_error_free(&e);
        assert_int_equal(vm_driver.get_state(&f.i, &s), -ENOTCONN);
        assert_int_equal(s, INSTANCE_RUNNING);
        assert_int_equal(vm_driver.name_in_use(&f.m, "web"), -ENOTCONN);
        assert_int_equal(vm_driver.reconcile(&f.m), -ENOTCONN);
        assert_int_equal(vm_driver.start(&f.i, &e), -ENOTCONN);
        assert_string_equal(e.name, ARK_ERROR_HYPERVISOR_UNAVAILABLE);
        sd_bus_error_free(&e);
        assert_int_equal(vm_driver.stop(&f.i, &e), -ENOTCONN);
        sd_bus_error_free(&e);
        assert_int_equal(vm_driver.force_off(&f.i, &e), -ENOTCONN);
        sd_bus_error_free(&e);
        assert_int_equal(vm_driver.remove(&f.i, &e), -ENOTCONN);
        sd_bus_error_free(&e);
        assert_int_equal(vm_driver.define(&f.i, &e), -ENOTCONN);
        sd_bus_error_free(&e);
        assert_int_equal(vm_driver.describe(&f.i, &xml, &e), -ENOTCONN);
        assert_null(xml);
        sd_bus_error_free(&e);
        assert_int_equal(vm_driver.console(&f.i, &fd, &e), -ENOTCONN);
        assert_string_equal(e.name, ARK_ERROR_HYPERVISOR_UNAVAILABLE);
        assert_int_equal(fd, -1);
        sd_bus_error_free(&e);
        vm_driver.teardown(&f.m); /* without setup: nothing to do */
        config_done(&f.m.config);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_libvirt_only_in_vm_driver),
                cmocka_unit_test(test_find),
                cmocka_unit_test(test_complete),
                cmocka_unit_test(test_no_backend),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}

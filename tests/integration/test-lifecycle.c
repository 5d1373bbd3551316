/* Tenant and VM lifecycle through arkctl and D-Bus against arkd on the dgx-h100 fixture host
 * (libvirt test driver): create/list/show/delete, start/stop, domain XML validity, named errors,
 * signals, bad input refused with nothing created, and API documentation matching introspection. */

#include "itest.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"

static Harness H;

static int group_setup(void **state) {
        if (harness_setup(&H, "dgx-h100") < 0)
                return -1;
        return harness_start_arkd(&H, NULL) < 0 ? -1 : 0;
}

static int group_teardown(void **state) {
        harness_teardown(&H);
        return 0;
}

static unsigned count_files(const char *dir) {
        DIR *d = opendir(dir);
        struct dirent *de;
        unsigned n = 0;

        if (!d)
                return 0;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        n++;
        closedir(d);
        return n;
}

static char *instance_state(const char *name) {
        _cleanup_free_ char *path = harness_instance_path(&H, name);
        assert_non_null(path);
        return harness_get_string(&H, path, ARK_BUS_IFACE_INSTANCE, "State");
}

/* The state of `name` in `arkctl -o json vm list`, or NULL when not listed. */
static char *listed_state(const char *name) {
        json_t *j = harness_arkctl_json(&H, "vm", "list", NULL), *v;
        char *r = NULL;
        size_t k;

        assert_non_null(j);
        assert_true(json_is_array(j));
        json_array_foreach(j, k, v) {
                const char *n = json_string_value(json_object_get(v, "name"));
                if (n && streq(n, name)) {
                        r = strdup(json_string_value(json_object_get(v, "state")));
                        break;
                }
        }
        json_decref(j);
        return r;
}

static void test_status(void **state) {
        _cleanup_free_ char *version =
                harness_get_string(&H, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "Version");
        int connected = 0;

        assert_string_equal(version, ARK_VERSION);
        assert_true(sd_bus_get_property_trivial(harness_bus(&H), ARK_BUS_NAME, ARK_BUS_PATH,
                                                ARK_BUS_IFACE_MANAGER, "HypervisorConnected", NULL, 'b',
                                                &connected) >= 0);
        assert_true(connected);
        assert_int_equal(itest_get_u32(&H, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "NAccelerators"), 8);
        assert_int_equal(itest_get_u32(&H, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "CPUs"), 224);
        assert_arkctl(&H, 0, NULL, "status");
        assert_arkctl(&H, 0, NULL, "host", "show");

        /* The ObjectManager lists every accelerator object with its properties. */
        {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                unsigned n_acc = 0;
                const char *path;

                assert_true(sd_bus_call_method(harness_bus(&H), ARK_BUS_NAME, ARK_BUS_PATH,
                                               "org.freedesktop.DBus.ObjectManager", "GetManagedObjects",
                                               NULL, &reply, NULL) >= 0);
                assert_true(sd_bus_message_enter_container(reply, 'a', "{oa{sa{sv}}}") >= 0);
                while (sd_bus_message_enter_container(reply, 'e', "oa{sa{sv}}") > 0) {
                        assert_true(sd_bus_message_read(reply, "o", &path) >= 0);
                        if (startswith(path, ARK_BUS_PREFIX_ACCELERATOR "/"))
                                n_acc++;
                        assert_true(sd_bus_message_skip(reply, "a{sa{sv}}") >= 0);
                        assert_true(sd_bus_message_exit_container(reply) >= 0);
                }
                assert_int_equal(n_acc, 8);
        }
}

static void test_tenant_lifecycle(void **state) {
        _cleanup_free_ char *out = NULL, *msg = NULL;
        json_t *j;

        assert_arkctl(&H, 0, NULL, "tenant", "create", "risk", "--description", "Risk analytics");
        assert_arkctl(&H, 0, NULL, "tenant", "create", "quant");
        assert_arkctl(&H, 1, "already exists", "tenant", "create", "risk");

        out = itest_arkctl_expect(&H, 0, NULL, "tenant", "list", NULL);
        assert_non_null(strstr(out, "risk"));
        assert_non_null(strstr(out, "Risk analytics"));

        j = harness_arkctl_json(&H, "tenant", "show", "risk", NULL);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "name")), "risk");
        assert_string_equal(json_string_value(json_object_get(j, "description")), "Risk analytics");
        json_decref(j);

        assert_arkctl(&H, 0, NULL, "tenant", "delete", "quant");
        assert_arkctl(&H, 1, "does not exist", "tenant", "show", "quant");

        msg = itest_call_expect_error(&H, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "GetTenant",
                                      ARK_ERROR_NOT_FOUND, "s", "quant");
        assert_non_null(strstr(msg, "quant"));
}

static void test_vm_lifecycle(void **state) {
        _cleanup_free_ char *xml = NULL, *xmlfile = NULL, *out = NULL, *err = NULL, *st = NULL,
                            *disks = NULL;
        _cleanup_free_ char *s1 = NULL, *s2 = NULL, *s3 = NULL;
        unsigned before;
        int r;

        disks = strprintf("%s/disks", H.state_dir);
        before = count_files(disks);
        assert_arkctl(&H, 0, NULL, "vm", "create", "risk-vm1", "--tenant", "risk", "--vcpus", "4",
                      "--memory", "8G", "--disk", "40G");
        assert_int_equal(count_files(disks), before + 1);
        s1 = listed_state("risk-vm1");
        assert_string_equal(s1, "stopped");

        assert_arkctl(&H, 0, NULL, "vm", "start", "risk-vm1");
        s2 = listed_state("risk-vm1");
        assert_string_equal(s2, "running");
        /* start and stop bring a VM to a state: already there is success, and says so. */
        assert_arkctl(&H, 0, "is already running", "vm", "start", "risk-vm1");

        /* The domain XML passes libvirt's schema. */
        xml = itest_arkctl_expect(&H, 0, NULL, "vm", "show", "risk-vm1", "--xml", NULL);
        assert_non_null(strstr(xml, "<domain"));
        assert_non_null(strstr(xml, "https://ark.dev/xmlns/instance/1"));
        xmlfile = strprintf("%s/risk-vm1.xml", H.tmp);
        assert_int_equal(write_string_file(xmlfile, xml, WRITE_CREATE), 0);
        r = harness_sh(&out, &err, "virt-xml-validate '%s' domain", xmlfile);
        if (r != 0)
                fprintf(stderr, "virt-xml-validate: %s %s\n", strna(out), strna(err));
        assert_int_equal(r, 0);

        /* A running instance cannot be deleted. */
        assert_arkctl(&H, 1, "stop it first", "vm", "delete", "risk-vm1");

        assert_arkctl(&H, 0, "Stopped VM 'risk-vm1'", "vm", "stop", "risk-vm1");
        s3 = listed_state("risk-vm1");
        assert_string_equal(s3, "stopped");
        assert_arkctl(&H, 0, "is already stopped", "vm", "stop", "risk-vm1");
        st = instance_state("risk-vm1");
        assert_string_equal(st, "stopped");

        assert_arkctl(&H, 0, NULL, "vm", "delete", "risk-vm1");
        assert_null(listed_state("risk-vm1"));
        assert_int_equal(count_files(disks), before);
        assert_arkctl(&H, 1, "does not exist", "vm", "show", "risk-vm1");
}

/* --image: a qcow2 overlay on a given base file or on a store image, sized --disk when given. */
static void test_vm_image(void **state) {
        _cleanup_free_ char *base = NULL, *out = NULL, *err = NULL, *disk = NULL, *path = NULL,
                            *images = NULL;
        json_t *j;

        base = strprintf("%s/base.qcow2", H.tmp);
        assert_int_equal(harness_sh(&out, &err, "qemu-img create -q -f qcow2 '%s' 1G", base), 0);
        out = mfree(out);
        err = mfree(err);
        assert_arkctl(&H, 0, NULL, "vm", "create", "img-path", "--tenant", "risk", "--vcpus", "1",
                      "--memory", "512M", "--image", base, "--disk", "4G");
        j = harness_arkctl_json(&H, "vm", "show", "img-path", NULL);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "image")), base);
        disk = strdup(json_string_value(json_object_get(j, "disk_path")));
        assert_true(json_is_true(json_object_get(j, "disk_owned")));
        json_decref(j);
        assert_int_equal(harness_sh(&out, &err, "qemu-img info '%s'", disk), 0);
        assert_non_null(strstr(out, "virtual size: 4 GiB"));
        assert_non_null(strstr(out, base)); /* backing file */
        out = mfree(out);
        err = mfree(err);

        /* A store image by name. */
        images = strprintf("%s/images", H.state_dir);
        assert_int_equal(harness_sh(&out, &err, "cp '%s' '%s/ubuntu.qcow2'", base, images), 0);
        out = mfree(out);
        err = mfree(err);
        assert_arkctl(&H, 0, NULL, "vm", "create", "img-store", "--tenant", "risk", "--vcpus", "1",
                      "--memory", "512M", "--image", "ubuntu.qcow2");
        assert_arkctl(&H, 1, "not in the image store", "vm", "create", "img-missing", "--tenant", "risk",
                      "--vcpus", "1", "--memory", "512M", "--image", "nope.qcow2");
        /* Paths: only below [Images] AdminDirectories= (the harness allows its temp dir), and the
         * refusal does not tell whether the file exists. */
        assert_arkctl(&H, 1, "not a normalized path below a directory of [Images] AdminDirectories=", "vm",
                      "create", "img-missing", "--tenant", "risk", "--vcpus", "1", "--memory", "512M",
                      "--image", "/nonexistent/base.qcow2");
        assert_arkctl(&H, 1, "not a normalized path below a directory of [Images] AdminDirectories=", "vm",
                      "create", "img-missing", "--tenant", "risk", "--vcpus", "1", "--memory", "512M",
                      "--image", "/etc/passwd");
        path = strprintf("%s/missing.qcow2", H.tmp);
        assert_arkctl(&H, 1, "it does not exist", "vm", "create", "img-missing", "--tenant", "risk",
                      "--vcpus", "1", "--memory", "512M", "--image", path);
        path = mfree(path);
        /* A link out of the allowed directory, and arkd's own state inside it, are refused too. */
        path = strprintf("%s/shadow-link", H.tmp);
        assert_int_equal(harness_sh(&out, &err, "ln -s /etc/shadow '%s'", path), 0);
        out = mfree(out);
        err = mfree(err);
        assert_arkctl(&H, 1, "link that leads out of the directory", "vm", "create", "img-link", "--tenant",
                      "risk", "--vcpus", "1", "--memory", "512M", "--kernel", path);
        assert_arkctl(&H, 1, "it is part of arkd's state", "vm", "create", "img-state", "--tenant", "risk",
                      "--vcpus", "1", "--memory", "512M", "--image", disk);
        path = mfree(path);
        path = strprintf("%s/ark.db", H.state_dir);
        assert_arkctl(&H, 1, "it is part of arkd's state", "vm", "create", "img-state", "--tenant", "risk",
                      "--vcpus", "1", "--memory", "512M", "--initrd", path, "--kernel", base);
        path = mfree(path);

        /* Without --disk the overlay is as large as the image, and says so. */
        j = harness_arkctl_json(&H, "vm", "show", "img-store", NULL);
        assert_non_null(j);
        assert_true(json_integer_value(json_object_get(j, "disk_bytes")) == (json_int_t) 1 << 30);
        json_decref(j);

        /* An overlay smaller than its image would cut the guest's disk off. */
        assert_arkctl(&H, 1, "smaller than image", "vm", "create", "img-small", "--tenant", "risk",
                      "--vcpus", "1", "--memory", "512M", "--image", base, "--disk", "512M");
        /* A file that is no disk image (here a copy of a host file an admin might name by mistake)
         * is refused before anything is created, with a named error. */
        path = strprintf("%s/passwd", H.tmp);
        assert_int_equal(harness_sh(&out, &err, "cp /etc/passwd '%s'", path), 0);
        out = mfree(out);
        err = mfree(err);
        assert_arkctl(&H, 1, "cannot be a base image", "vm", "create", "img-passwd", "--tenant", "risk",
                      "--vcpus", "1", "--memory", "512M", "--image", path);
        path = mfree(path);
        path = strprintf("%s/chained.qcow2", H.tmp);
        assert_int_equal(
                harness_sh(&out, &err, "qemu-img create -q -f qcow2 -b '%s' -F qcow2 '%s'", base, path), 0);
        out = mfree(out);
        err = mfree(err);
        assert_arkctl(&H, 1, "backing file of its own", "vm", "create", "img-chain", "--tenant", "risk",
                      "--vcpus", "1", "--memory", "512M", "--image", path);
        assert_int_equal(harness_sh(&out, &err,
                                    "head -c 4096 /dev/zero | tr '\\0' 'Q' | sed 's/^/QFI/' > '%s'", path),
                         0);
        out = mfree(out);
        err = mfree(err);
        assert_arkctl(&H, 1, "cannot be a base image", "vm", "create", "img-junk", "--tenant", "risk",
                      "--vcpus", "1", "--memory", "512M", "--image", path);
        assert_null(listed_state("img-small"));
        assert_null(listed_state("img-passwd"));
        assert_null(listed_state("img-chain"));
        assert_null(listed_state("img-junk"));
        free(path);
        path = strprintf("%s/disks", H.state_dir);
        assert_int_equal(count_files(path), 2); /* img-path's and img-store's */

        assert_arkctl(&H, 0, NULL, "vm", "delete", "img-path");
        assert_arkctl(&H, 0, NULL, "vm", "delete", "img-store");
        assert_false(file_exists(disk));
        assert_true(file_exists(base)); /* the base image is not Ark's to delete */
}

static void test_force_off(void **state) {
        _cleanup_free_ char *s = NULL;

        assert_arkctl(&H, 0, NULL, "vm", "create", "risk-vm2", "--tenant", "risk", "--vcpus", "1",
                      "--memory", "512M", "--start");
        s = instance_state("risk-vm2");
        assert_string_equal(s, "running");
        /* libvirt's test driver has no consoles (the real one: test-real-hypervisor). */
        assert_arkctl(&H, 1, "has no interactive consoles", "vm", "console", "risk-vm2");
        assert_arkctl(&H, 0, NULL, "vm", "stop", "risk-vm2", "--force");
        free(s);
        s = instance_state("risk-vm2");
        assert_string_equal(s, "stopped");
        assert_arkctl(&H, 1, "is stopped; start it to open its console", "vm", "console", "risk-vm2");
        assert_arkctl(&H, 1, "does not exist", "vm", "console", "no-such-vm");
        assert_arkctl(&H, 0, NULL, "vm", "delete", "risk-vm2");
}

/* Every refusal exits 1 with a sentence naming the problem and leaves nothing behind. */
/* One rule for exit statuses (docs/arkctl.md): 2 when the command line is wrong, values arkctl
 * parses itself included; 1 when the operation failed (arkd refused, or cannot be reached). */
static void test_exit_statuses(void **state) {
        static const struct {
                int status;
                const char *args[12];
        } cases[] = {
                /* the command line */
                { 2, { "frobnicate" } },
                { 2, { "vm", "frobnicate" } },
                { 2, { "vm", "list", "--no-such-option" } },
                { 2, { "vm", "create", "x", "--tenant", "risk", "--vcpus", "1" } },
                { 2, { "vm", "create", "x", "--tenant", "risk", "--vcpus", "1", "--memory", "8X" } },
                { 2, { "vm", "create", "x", "--tenant", "risk", "--vcpus", "lots", "--memory", "1G" } },
                { 2,
                  { "vm", "create", "x", "--tenant", "risk", "--vcpus", "99999999999", "--memory", "1G" } },
                { 2,
                  { "vm", "create", "x", "--tenant", "risk", "--vcpus", "1", "--memory", "1G", "--disk",
                    "-1" } },
                { 2, { "usage", "report", "--from", "yesterday" } },
                { 2, { "tenant", "quota", "set", "risk", "gpus=many" } },
                { 2, { "vm", "show" } },
                { 2, { "-o", "yaml", "vm", "list" } },
                /* misspelled: a "did you mean" (test-help), still a wrong command line */
                { 2, { "tenat", "list" } },
                { 2, { "vm", "strat", "x" } },
                { 2, { "vm", "list", "--tenat", "risk" } },
                { 2, { "help", "frobnicate" } },
                { 2, { "help", "vm", "strat" } },
                /* help at every level; --help wins over the rest of the line */
                { 0, { "--help" } },
                { 0, { "help" } },
                { 0, { "vm", "--help" } },
                { 0, { "help", "vm" } },
                { 0, { "vm", "create", "--help" } },
                { 0, { "help", "vm", "create" } },
                { 0, { "vm", "create", "x", "--memory", "8X", "--help" } },
                { 0, { "--list-commands" } },
                /* the operation */
                { 1, { "vm", "show", "no-such-vm" } },
                { 1, { "tenant", "create", "Bad_Name" } },
                { 1,
                  { "vm", "create", "x", "--tenant", "no-such-tenant", "--vcpus", "1", "--memory", "1G" } },
                { 1, { "vm", "create", "x", "--tenant", "risk", "--vcpus", "1", "--memory", "64T" } },
                { 1, { "vm", "create", "x", "--tenant", "risk", "--vcpus", "5000", "--memory", "1G" } },
                /* success */
                { 0, { "vm", "list" } },
        };

        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                _cleanup_free_ char *out = NULL, *err = NULL;
                int r = harness_arkctl_argv(&H, &out, &err, (char *const *) cases[k].args);

                if (r != cases[k].status)
                        fail_msg("arkctl %s %s ...: exit %d, want %d\nstderr: %s", cases[k].args[0],
                                 strempty(cases[k].args[1]), r, cases[k].status, strna(err));
                if (r != 0 && !startswith(strempty(err), "arkctl: "))
                        fail_msg("arkctl %s: the error does not begin with 'arkctl: ': %s", cases[k].args[0],
                                 strna(err));
        }
        /* arkd out of reach: the operation failed. */
        {
                _cleanup_free_ char *out = NULL, *err = NULL;

                assert_int_equal(
                        harness_sh(&out, &err,
                                   "ARK_BUS_ADDRESS=unix:path=/nonexistent/bus '%s/bin/arkctl' vm list",
                                   harness_build_dir()),
                        1);
        }
}

static void test_bad_input(void **state) {
        _cleanup_free_ char *disks = strprintf("%s/disks", H.state_dir);
        char longname[301];
        unsigned tenants, instances, files;

        assert_arkctl(&H, 0, NULL, "vm", "create", "risk-keep", "--tenant", "risk", "--vcpus", "1",
                      "--memory", "256M", "--disk", "1G");
        tenants = itest_get_u32(&H, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "NTenants");
        instances = itest_get_u32(&H, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "NInstances");
        files = count_files(disks);

        assert_arkctl(&H, 1, "'../x'", "vm", "create", "../x", "--tenant", "risk", "--vcpus", "1",
                      "--memory", "1G", "--disk", "1G");
        memset(longname, 'a', 300);
        longname[300] = 0;
        assert_arkctl(&H, 1, "at most 63 characters", "vm", "create", longname, "--tenant", "risk",
                      "--vcpus", "1", "--memory", "1G");
        assert_arkctl(&H, 2, "memory", "vm", "create", "okname", "--tenant", "risk", "--vcpus", "1",
                      "--memory", "-1");
        assert_arkctl(&H, 1, "not a whole number of KiB", "vm", "create", "okname", "--tenant", "risk",
                      "--vcpus", "1", "--memory", "1073741825");
        assert_arkctl(&H, 1, "Memory of 15 MiB is too small", "vm", "create", "okname", "--tenant", "risk",
                      "--vcpus", "1", "--memory", "15M");
        assert_arkctl(&H, 1, "Tenant 'nobody' does not exist", "vm", "create", "okname", "--tenant",
                      "nobody", "--vcpus", "1", "--memory", "1G", "--disk", "1G");
        assert_arkctl(&H, 1, "still owns 1 instance ('risk-keep'); delete it first", "tenant", "delete",
                      "risk");
        assert_arkctl(&H, 1, "VCPUs", "vm", "create", "okname", "--tenant", "risk", "--vcpus", "0",
                      "--memory", "1G");
        assert_arkctl(&H, 1, "more than the host has", "vm", "create", "okname", "--tenant", "risk",
                      "--vcpus", "1", "--memory", "64T");
        assert_arkctl(&H, 1, "Kernel", "vm", "create", "okname", "--tenant", "risk", "--vcpus", "1",
                      "--memory", "1G", "--kernel", "/nonexistent/vmlinuz");
        assert_arkctl(&H, 1, "already exists", "vm", "create", "risk-keep", "--tenant", "risk", "--vcpus",
                      "1", "--memory", "1G");
        assert_arkctl(&H, 1, "Invalid tenant name", "tenant", "create", "Bad_Name");

        assert_int_equal(itest_get_u32(&H, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "NTenants"), tenants);
        assert_int_equal(itest_get_u32(&H, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "NInstances"), instances);
        assert_int_equal(count_files(disks), files);
        assert_arkctl(&H, 0, NULL, "tenant", "show", "risk");
        assert_arkctl(&H, 0, NULL, "vm", "delete", "risk-keep");
}

static int append_spec(sd_bus_message *m, const char *name, const char *extra_key) {
        int r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0)
                r = sd_bus_message_append(m, "{sv}", "Name", "s", name);
        if (r >= 0)
                r = sd_bus_message_append(m, "{sv}", "Tenant", "s", "risk");
        if (r >= 0)
                r = sd_bus_message_append(m, "{sv}", "VCPUs", "u", 2);
        if (r >= 0)
                r = sd_bus_message_append(m, "{sv}", "MemoryBytes", "t", (uint64_t) 1 << 30);
        if (r >= 0 && extra_key)
                r = sd_bus_message_append(m, "{sv}", extra_key, "s", "surprise");
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return r;
}

static void test_named_errors(void **state) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_free_ char *msg = NULL, *path = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus *bus = harness_bus(&H);
        const char *p;

        /* Unknown spec keys are named. */
        assert_true(sd_bus_message_new_method_call(bus, &m, ARK_BUS_NAME, ARK_BUS_PATH,
                                                   ARK_BUS_IFACE_MANAGER, "CreateInstance") >= 0);
        assert_true(append_spec(m, "named-err", "Colour") >= 0);
        assert_true(sd_bus_call(bus, m, 0, &e, NULL) < 0);
        assert_true(sd_bus_error_has_name(&e, ARK_ERROR_INVALID_ARGUMENT));
        assert_non_null(strstr(e.message, "Colour"));
        sd_bus_error_free(&e);
        m = sd_bus_message_unref(m);

        /* A well-formed create over D-Bus works and returns the object path. */
        assert_true(sd_bus_message_new_method_call(bus, &m, ARK_BUS_NAME, ARK_BUS_PATH,
                                                   ARK_BUS_IFACE_MANAGER, "CreateInstance") >= 0);
        assert_true(append_spec(m, "named-err", NULL) >= 0);
        assert_true(sd_bus_call(bus, m, 0, &e, &reply) >= 0);
        assert_true(sd_bus_message_read(reply, "o", &p) >= 0);
        path = strdup(p);
        assert_string_equal(path, "/org/ark/Ark1/instance/risk/named_2derr");

        msg = itest_call_expect_error(&H, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "DeleteTenant",
                                      ARK_ERROR_IN_USE, "s", "risk");
        free(msg);
        msg = itest_call_expect_error(&H, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "GetInstance",
                                      ARK_ERROR_NOT_FOUND, "s", "ghost");
        free(msg);
        assert_true(sd_bus_call_method(bus, ARK_BUS_NAME, path, ARK_BUS_IFACE_INSTANCE, "Start", &e, NULL,
                                       NULL) >= 0);
        msg = itest_call_expect_error(&H, path, ARK_BUS_IFACE_INSTANCE, "Delete", ARK_ERROR_INVALID_STATE,
                                      NULL);
        free(msg);
        /* Starting a running instance succeeds and changes nothing. */
        assert_true(sd_bus_call_method(bus, ARK_BUS_NAME, path, ARK_BUS_IFACE_INSTANCE, "Start", &e, NULL,
                                       NULL) >= 0);
        msg = itest_call_expect_error(&H, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER, "CreateTenant",
                                      ARK_ERROR_INVALID_ARGUMENT, "ss", "ok-name", "bad\ndescription");
        free(msg);
        msg = NULL;
        assert_true(sd_bus_call_method(bus, ARK_BUS_NAME, path, ARK_BUS_IFACE_INSTANCE, "ForceOff", &e, NULL,
                                       NULL) >= 0);
        assert_true(sd_bus_call_method(bus, ARK_BUS_NAME, path, ARK_BUS_IFACE_INSTANCE, "Delete", &e, NULL,
                                       NULL) >= 0);
}

static int on_state_changed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *name, *state, *reason, *path;
        int *seen = userdata;

        if (sd_bus_message_read(m, "soss", &name, &path, &state, &reason) >= 0 && streq(name, "sig-vm") &&
            streq(state, "running"))
                *seen = 1;
        return 0;
}

static int on_props_changed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        int *seen = userdata;
        *seen = 1;
        return 0;
}

static void test_signals(void **state) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *s1 = NULL, *s2 = NULL;
        sd_bus *bus = harness_bus(&H);
        int seen_signal = 0, seen_props = 0;

        assert_arkctl(&H, 0, NULL, "vm", "create", "sig-vm", "--tenant", "risk", "--vcpus", "1", "--memory",
                      "256M");
        assert_true(sd_bus_match_signal(bus, &s1, ARK_BUS_NAME, ARK_BUS_PATH, ARK_BUS_IFACE_MANAGER,
                                        "InstanceStateChanged", on_state_changed, &seen_signal) >= 0);
        assert_true(sd_bus_match_signal(bus, &s2, ARK_BUS_NAME, "/org/ark/Ark1/instance/risk/sig_2dvm",
                                        "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                        on_props_changed, &seen_props) >= 0);
        assert_arkctl(&H, 0, NULL, "vm", "start", "sig-vm");
        for (uint64_t end = harness_wait_deadline();
             !harness_wait_over(end) && !(seen_signal && seen_props);) {
                int r = sd_bus_process(bus, NULL);
                assert_true(r >= 0);
                if (r == 0)
                        (void) sd_bus_wait(bus, 100000);
        }
        assert_true(seen_signal);
        assert_true(seen_props);
        assert_arkctl(&H, 0, NULL, "vm", "stop", "sig-vm", "--force");
        assert_arkctl(&H, 0, NULL, "vm", "delete", "sig-vm");
}

/* Every method, property and signal that docs/api.md lists for an interface is in the
 * introspection data of a live object of that interface, and vice versa for methods. */
static void check_doc_against_introspection(const char *doc, const char *heading, const char *path) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *xml, *sec, *end;
        unsigned checked = 0;

        assert_true(sd_bus_call_method(harness_bus(&H), ARK_BUS_NAME, path,
                                       "org.freedesktop.DBus.Introspectable", "Introspect", NULL, &reply,
                                       NULL) >= 0);
        assert_true(sd_bus_message_read(reply, "s", &xml) >= 0);

        sec = strstr(doc, heading);
        assert_non_null(sec);
        end = strstr(sec + 3, "\n## ");
        if (!end)
                end = sec + strlen(sec);
        bool skip = false;
        for (const char *p = sec; p && p < end; p = strchr(p, '\n')) {
                const char *cell;
                p++;
                /* "#### Instance spec" lists a{sv} keys, not members: skip to the next "###". */
                if (strncmp(p, "#### ", 5) == 0)
                        skip = true;
                else if (strncmp(p, "### ", 4) == 0)
                        skip = false;
                if (skip || strncmp(p, "| `", 3) != 0)
                        continue;
                cell = p + 2;
                /* first column: `Name` or `A`, `B`, `C` */
                while (*cell == '`') {
                        const char *close = strchr(cell + 1, '`');
                        char name[64], needle[96];
                        size_t l;

                        assert_non_null(close);
                        l = (size_t) (close - cell - 1);
                        assert_true(l < sizeof(name));
                        memcpy(name, cell + 1, l);
                        name[l] = 0;
                        snprintf(needle, sizeof(needle), "name=\"%s\"", name);
                        if (!strstr(xml, needle))
                                fail_msg("docs/api.md lists '%s' under '%s' but %s does not have it", name,
                                         heading, path);
                        checked++;
                        cell = close + 1;
                        if (strncmp(cell, ", `", 3) == 0)
                                cell += 2;
                }
        }
        assert_true(checked >= 4);

        /* And the other way round: every member of Ark's interface on the object is documented in
         * the section (introspection lists it as <property name="X" ...>, <method name="X">, ...). */
        {
                const char *iface = strstr(xml, "<interface name=\"org.ark.Ark1.");
                const char *iface_end = iface ? strstr(iface, "</interface>") : NULL;
                _cleanup_free_ char *section = NULL;

                assert_non_null(iface);
                assert_non_null(iface_end);
                section = strndup(sec, (size_t) (end - sec));
                assert_non_null(section);
                for (const char *p = iface; p && p < iface_end; p = strstr(p + 1, " name=\"")) {
                        const char *q, *tag_start = p;
                        char name[64], needle[72];
                        size_t l;

                        while (tag_start > iface && *tag_start != '<')
                                tag_start--;
                        if (!(startswith(tag_start, "<property ") || startswith(tag_start, "<method ") ||
                              startswith(tag_start, "<signal ")))
                                continue;
                        p += strlen(" name=\"");
                        q = strchr(p, '"');
                        assert_non_null(q);
                        l = (size_t) (q - p);
                        assert_true(l < sizeof(name));
                        memcpy(name, p, l);
                        name[l] = 0;
                        snprintf(needle, sizeof(needle), "`%s`", name);
                        if (!strstr(section, needle))
                                fail_msg("%s has '%s', which docs/api.md does not document under '%s'", path,
                                         name, heading);
                }
        }
}

static void test_api_doc_matches_introspection(void **state) {
        _cleanup_free_ char *doc = NULL, *docpath = strprintf("%s/docs/api.md", harness_src_dir());
        _cleanup_free_ char *acc = NULL;
        json_t *j;

        assert_int_equal(read_full_file(docpath, &doc, NULL), 0);
        assert_arkctl(&H, 0, NULL, "vm", "create", "doc-vm", "--tenant", "risk", "--vcpus", "1", "--memory",
                      "256M");
        j = harness_arkctl_json(&H, "host", "accelerators", NULL);
        assert_non_null(j);
        assert_true(sd_bus_path_encode(ARK_BUS_PREFIX_ACCELERATOR,
                                       json_string_value(json_object_get(json_array_get(j, 0), "address")),
                                       &acc) >= 0);
        json_decref(j);

        check_doc_against_introspection(doc, "\n## Manager", ARK_BUS_PATH);
        check_doc_against_introspection(doc, "\n## Tenant —", "/org/ark/Ark1/tenant/risk");
        check_doc_against_introspection(doc, "\n## Instance —", "/org/ark/Ark1/instance/risk/doc_2dvm");
        check_doc_against_introspection(doc, "\n## Accelerator —", acc);
        /* A bundle object: a one-file model, signed and imported. */
        {
                _cleanup_free_ char *dir = strprintf("%s/doc-model", H.tmp),
                                    *prefix = strprintf("%s/doc-key", H.tmp),
                                    *key = strprintf("%s.key", prefix), *pub = strprintf("%s.pub", prefix),
                                    *ark = strprintf("%s/doc.ark", H.tmp), *out = NULL, *err = NULL,
                                    *path = NULL;
                json_t *l;

                assert_int_equal(
                        harness_sh(&out, &err, "mkdir -p '%s' && echo weights > '%s/w.bin'", dir, dir), 0);
                assert_arkctl(&H, 0, NULL, "bundle", "keygen", prefix);
                assert_arkctl(&H, 0, NULL, "bundle", "trust", "add", pub);
                assert_arkctl(&H, 0, NULL, "bundle", "create", dir, "--kind", "model", "--name", "doc",
                              "--version", "1", "--key", key, "-o", ark, "--architecture", "llama",
                              "--parameters", "1000", "--dtype", "bf16", "--runtime", "vllm", "--license",
                              "test");
                assert_arkctl(&H, 0, NULL, "bundle", "import", ark);
                l = harness_arkctl_json(&H, "model", "list", NULL);
                assert_int_equal(json_array_size(l), 1);
                json_decref(l);
                {
                        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                        sd_bus_error e = SD_BUS_ERROR_NULL;
                        const char *kind, *tenant, *name, *version, *p;

                        assert_true(sd_bus_call_method(harness_bus(&H), ARK_BUS_NAME, ARK_BUS_PATH,
                                                       ARK_BUS_IFACE_MANAGER, "ListBundles", &e, &reply,
                                                       NULL) >= 0);
                        assert_true(sd_bus_message_read(reply, "a(sssso)", 1, &kind, &tenant, &name,
                                                        &version, &p) > 0);
                        path = strdup(p);
                }
                check_doc_against_introspection(doc, "\n## Bundle —", path);
                assert_arkctl(&H, 0, NULL, "model", "delete", "doc");
        }
        assert_arkctl(&H, 0, NULL, "vm", "delete", "doc-vm");
}

/* Where arkctl cannot reach arkd, it says which of the two is wrong: the address or the daemon. */
static void test_bad_bus_address(void **state) {
        _cleanup_free_ char *out = NULL, *err = NULL;

        assert_int_equal(harness_sh(&out, &err, "ARK_BUS_ADDRESS=garbage '%s/bin/arkctl' status",
                                    harness_build_dir()),
                         1);
        assert_non_null(strstr(strempty(err), "'garbage' is not a D-Bus address"));
        out = mfree(out);
        err = mfree(err);
        assert_int_equal(harness_sh(&out, &err, "'%s/bin/arkctl' --bus-address unix:path=%s/nobus status",
                                    harness_build_dir(), H.tmp),
                         1);
        assert_non_null(strstr(strempty(err), "cannot connect to arkd at"));
        assert_non_null(strstr(strempty(err), "is arkd running?"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_status),          cmocka_unit_test(test_tenant_lifecycle),
                cmocka_unit_test(test_vm_lifecycle),    cmocka_unit_test(test_vm_image),
                cmocka_unit_test(test_force_off),       cmocka_unit_test(test_bad_input),
                cmocka_unit_test(test_exit_statuses),   cmocka_unit_test(test_named_errors),
                cmocka_unit_test(test_signals),         cmocka_unit_test(test_api_doc_matches_introspection),
                cmocka_unit_test(test_bad_bus_address),
        };
        return cmocka_run_group_tests_name("integration: lifecycle", tests, group_setup, group_teardown);
}

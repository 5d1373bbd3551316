# Ark top-level Makefile: Kconfig-driven, out-of-tree capable (O=), quiet unless V=1.
#
#   make                      build with $(O)/.config (created from configs/$(DEFCONFIG) if missing)
#   make <name>_defconfig     load configs/<name>_defconfig into $(O)/.config
#   make menuconfig           edit $(O)/.config
#   make test                 build and run unit + integration tests
#   make run                  build and open the sandbox (private bus, simulated host)
#   make bench                build the benchmarks (bench/trace-replay, bench/api, bench/arkd-replay, bench/net, ...)
#   make fuzz                 run every libFuzzer target (FUZZ_SECONDS each, default 60)
#   make deb / image          Debian packages / the appliance disk image and update bundle
#   make image-test           boot the image under QEMU: updates, rollback, Secure Boot, seed
#   make O=/tmp/ark SANITIZE=address,undefined WERROR=1 test

SRCDIR := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
O ?= $(SRCDIR)/build
override O := $(abspath $(O))
DEFCONFIG ?= dev_defconfig
PYTHON := /usr/bin/python3
KCONFIG_CONFIG := $(O)/.config
export KCONFIG_CONFIG

ifeq ($(V),1)
Q :=
quiet = @true
else
Q := @
quiet = @printf '  %-8s %s\n'
endif

CONFIG_TARGETS := menuconfig oldconfig savedefconfig %_defconfig
NO_CONFIG_GOALS := $(filter $(CONFIG_TARGETS) clean distclean deps help,$(MAKECMDGOALS))
ifeq ($(filter %_defconfig,$(MAKECMDGOALS)),)
ifeq ($(NO_CONFIG_GOALS),)
ifeq ($(wildcard $(KCONFIG_CONFIG)),)
$(shell mkdir -p $(O) && cd $(SRCDIR) && KCONFIG_CONFIG=$(KCONFIG_CONFIG) $(PYTHON) -m defconfig --kconfig Kconfig configs/$(DEFCONFIG) >/dev/null)
endif
include $(KCONFIG_CONFIG)
endif
endif

# Features that have no code yet (Kconfig, "Features"): refused rather than silently not built.
$(foreach f,FLEET HTTP_API MAAS,$(if $(filter y,$(CONFIG_$(f))),\
	$(error CONFIG_$(f) is set, but that feature is not implemented yet: unset it (make menuconfig))))

# ----------------------------------------------------------------------------- flags
PKGS := libsystemd libvirt sqlite3 jansson libxml-2.0 libcrypto libarchive
ifeq ($(CONFIG_TENANT_NETWORKS),y)
PKGS += libnftables libnl-route-3.0
endif
# A library pkg-config does not know stops a build with its name. Goals that install what is
# missing first (scripts/deps.sh) and then build are not stopped here.
ifeq ($(NO_CONFIG_GOALS)$(filter test run fuzz deb image image-test,$(MAKECMDGOALS)),)
PKGS_MISSING := $(strip $(foreach p,$(PKGS) cmocka ncursesw,$(if $(shell pkg-config --exists $(p) && echo y),,$(p))))
ifneq ($(PKGS_MISSING),)
$(error pkg-config does not find $(PKGS_MISSING): install them with scripts/deps.sh (or make deps))
endif
endif
# GLPK (the benchmark's bound, CONFIG_BENCH_BOUND) has no pkg-config file: its header is looked for.
ifeq ($(CONFIG_BENCH_BOUND),y)
GLPK_LIBS := -lglpk
ifeq ($(NO_CONFIG_GOALS)$(filter test run fuzz deb image image-test,$(MAKECMDGOALS)),)
HASH := \#
ifneq ($(shell echo '$(HASH)include <glpk.h>' | $(CC) -E -x c - >/dev/null 2>&1 && echo y),y)
$(error glpk.h is not found (CONFIG_BENCH_BOUND): install libglpk-dev with scripts/deps.sh (or make deps), \
	or unset CONFIG_BENCH_BOUND (make menuconfig))
endif
endif
endif
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
PKG_LIBS += -lm
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)
NCURSES_LIBS := $(shell pkg-config --libs ncursesw 2>/dev/null)

# arkd's folders (README, "Architecture"): the daemon core, then hardware, tenants, instances
# (with the VM and container drivers), bundles and container images.
ARKD_DIRS := . hw tenant instance instance/vm instance/container network bundle container

WARNINGS := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
	-Wundef -Wpointer-arith -Wno-unused-parameter -Wno-missing-field-initializers -Wvla
ifeq ($(WERROR),1)
WARNINGS += -Werror
endif
ARK_VERSION := $(shell cat $(SRCDIR)/VERSION 2>/dev/null || echo 0.0.0)
CFLAGS ?= -O2 -g
ARK_CFLAGS := -std=gnu11 $(WARNINGS) -D_GNU_SOURCE -fno-strict-aliasing \
	-include $(O)/include/generated/autoconf.h \
	-I$(SRCDIR)/lib -I$(O)/include $(PKG_CFLAGS) \
	-DARK_VERSION='"$(ARK_VERSION)"' -DARK_SRCDIR='"$(SRCDIR)"'
ifneq ($(SANITIZE),)
ARK_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=$(SANITIZE)
endif

# ----------------------------------------------------------------------------- sources
# kbuild style: each folder's Kbuild file adds its sources to a program's list by option
# (`arkd-$(CONFIG_METRICS) += $(src)/metrics.c`). A source file in none of the lists (-y, -n or
# an empty option) stops the build, naming it: nothing is built or left out by accident.
KBUILD_DIRS := lib/basic lib/shared lib/pool lib/net appliance $(addprefix appliance/,$(filter-out .,$(ARKD_DIRS))) \
	ctl tui firmware bench tests/unit tests/integration
KBUILD_LISTS := basic shared pool net arkd arkctl arktui update seed bench tests itests
$(foreach l,$(KBUILD_LISTS),$(eval $(l)-y :=)$(eval $(l)-n :=)$(eval $(l)- :=))
$(foreach d,$(KBUILD_DIRS),$(eval src := $(SRCDIR)/$(d))$(eval include $(SRCDIR)/$(d)/Kbuild))
KBUILD_LISTED := $(arkd-main) $(update-main) $(seed-main) $(itest-harness) $(itest-preload) \
	$(foreach l,$(KBUILD_LISTS),$($(l)-y) $($(l)-n) $($(l)-))
KBUILD_UNLISTED := $(filter-out $(KBUILD_LISTED),$(foreach d,$(KBUILD_DIRS),$(wildcard $(SRCDIR)/$(d)/*.c)))
ifneq ($(KBUILD_UNLISTED),)
$(error $(patsubst $(SRCDIR)/%,%,$(firstword $(KBUILD_UNLISTED))) is in no list of its folder's Kbuild file: \
	add it to one (e.g. arkd-y += $$(src)/$(notdir $(firstword $(KBUILD_UNLISTED)))))
endif
# ark-update links lib/ and the bundle verifier only: no libvirt (libsystemd for its progress
# signals, sent when a bus is there).
UPDATE_LIBS := $(shell pkg-config --libs libsystemd jansson libcrypto libarchive 2>/dev/null)

bin-$(CONFIG_ARKD) += arkd
bin-$(CONFIG_ARKCTL) += arkctl
bin-$(CONFIG_ARKTUI) += arktui
bin-$(CONFIG_ARK_UPDATE) += ark-update ark-seed
# The console's message catalogs (gettext), next to the binaries: $(O)/locale/<lang>/LC_MESSAGES.
locales-$(CONFIG_ARKTUI) += zh_CN

bench-net-$(CONFIG_TENANT_NETWORKS) := $(O)/bench/net
bench-ct-$(CONFIG_CONTAINERS) := $(O)/bench/container-start

# Tests by name (test-x) from their sources.
unit-tests := $(patsubst %.c,%,$(notdir $(tests-y)))
integration-tests := $(patsubst %.c,%,$(notdir $(itests-y)))

obj = $(patsubst $(SRCDIR)/%.c,$(O)/obj/%.o,$(1))
BIN := $(O)/bin
LIBBASIC := $(O)/lib/libbasic.a
LIBSHARED := $(O)/lib/libshared.a
LIBPOOL := $(O)/lib/libpool.a
LIBNET := $(O)/lib/libnet.a
LIBARKD := $(O)/lib/libarkd.a
AUTOCONF := $(O)/include/generated/autoconf.h

.PHONY: all clean install deb image image-test distclean test check-unit check-integration run deps menuconfig help po \
	oldconfig savedefconfig bench fuzz
all: $(addprefix $(BIN)/,$(bin-y)) $(addprefix $(O)/tests/,$(unit-tests) $(integration-tests)) $(O)/bench/trace-replay $(O)/bench/api \
	$(O)/bench/arkd-replay $(bench-net-y) $(bench-ct-y) $(foreach l,$(locales-y),$(O)/locale/$(l)/LC_MESSAGES/arktui.mo)

# A .config made before a Kconfig change gets the new options at their defaults (olddefconfig),
# so the Makefile's lists and the generated header agree on them.
$(KCONFIG_CONFIG): $(SRCDIR)/Kconfig $(wildcard $(SRCDIR)/*/Kconfig)
	$(quiet) OLDDEFCONFIG $@
	$(Q)cd $(SRCDIR) && $(PYTHON) -m olddefconfig Kconfig >/dev/null

$(AUTOCONF): $(KCONFIG_CONFIG) $(SRCDIR)/Kconfig
	$(quiet) GEN $@
	$(Q)mkdir -p $(dir $@)
	$(Q)cd $(SRCDIR) && $(PYTHON) -m genconfig --header-path $@ Kconfig

# Include paths per program: lib/ for all; arkd's folders for arkd and the unit tests of its parts
# only (arkctl, arktui, ark-update and the integration tests see arkd through D-Bus).
$(O)/obj/appliance/%.o: PROG_INCLUDES := $(patsubst %/.,%,$(addprefix -I$(SRCDIR)/appliance/,$(ARKD_DIRS)))
$(O)/obj/tests/unit/%.o: PROG_INCLUDES := $(patsubst %/.,%,$(addprefix -I$(SRCDIR)/appliance/,$(ARKD_DIRS)))

$(O)/obj/%.o: $(SRCDIR)/%.c $(AUTOCONF)
	$(quiet) CC $*.c
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(ARK_CFLAGS) $(PROG_INCLUDES) $(CFLAGS) -MMD -MP -c -o $@ $<

$(LIBBASIC): $(call obj,$(basic-y))
$(LIBSHARED): $(call obj,$(shared-y))
$(LIBPOOL): $(call obj,$(pool-y))
$(LIBNET): $(call obj,$(net-y))
$(LIBARKD): $(call obj,$(arkd-y))
$(O)/lib/%.a:
	$(quiet) AR $@
	$(Q)mkdir -p $(dir $@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

ALL_LIBS := $(LIBPOOL) $(LIBNET) $(LIBSHARED) $(LIBBASIC)
# The container runtime layer, linked on its own by its integration test and bench.
CONTAINER_OBJS := $(call obj,$(addprefix $(SRCDIR)/appliance/instance/container/,oci-config.c rootfs.c runtime.c))

# The pooler benchmark: pure C, the pool library and libc only (make bench; bench/trace-replay).
bench: $(O)/bench/trace-replay $(O)/bench/api $(O)/bench/arkd-replay $(bench-net-y) $(bench-ct-y) $(BIN)/arkd $(BIN)/arkctl
# With CONFIG_BENCH_BOUND, its bound (bench/bound.c) through GLPK.
$(O)/bench/trace-replay: $(O)/obj/bench/trace-replay.o $(O)/obj/bench/bound.o $(LIBPOOL)
	$(quiet) LD $@
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(GLPK_LIBS) -lm

# The API benchmark: arkd started by the integration tests' harness, and libvirt through the VM
# driver's virt-util (bench/api).
$(O)/bench/api: $(O)/obj/bench/api.o $(O)/obj/tests/integration/harness.o \
		$(O)/obj/appliance/instance/vm/virt-util.o $(ALL_LIBS) $(BIN)/arkd
	$(quiet) LD $@
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o %.a,$^) $(PKG_LIBS)

# arkd's placements against trace-replay's on a slice of the trace (bench/arkd-replay).
$(O)/bench/arkd-replay: $(O)/obj/bench/arkd-replay.o $(O)/obj/tests/integration/harness.o $(ALL_LIBS) $(BIN)/arkd \
		$(O)/bench/trace-replay
	$(quiet) LD $@
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o %.a,$^) $(PKG_LIBS)

# The tenant network rule set: its load time and the throughput of a tenant network against a bare
# veth pair (bench/net; lib/net and libnftables).
$(O)/bench/net: $(O)/obj/bench/net.o $(LIBNET) $(LIBBASIC)
	$(quiet) LD $@
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# Ark's container start against a plain crun run (bench/container-start; the runtime layer only).
$(O)/bench/container-start: $(O)/obj/bench/container-start.o $(CONTAINER_OBJS) $(LIBBASIC)
	$(quiet) LD $@
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BIN)/arkd: $(call obj,$(arkd-main)) $(LIBARKD) $(ALL_LIBS)
	$(quiet) LD $@
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BIN)/arkctl: $(call obj,$(arkctl-y)) $(ALL_LIBS)
	$(quiet) LD $@
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BIN)/ark-seed: $(call obj,$(seed-main) $(seed-y)) \
		$(LIBSHARED) $(LIBBASIC)
	$(quiet) LD $@
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(UPDATE_LIBS)

$(BIN)/ark-update: $(call obj,$(update-main) $(update-y)) $(LIBSHARED) $(LIBBASIC)
	$(quiet) LD $@
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(UPDATE_LIBS)

$(BIN)/arktui: $(call obj,$(arktui-y)) $(ALL_LIBS)
	$(quiet) LD $@
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(NCURSES_LIBS)

$(O)/locale/%/LC_MESSAGES/arktui.mo: $(SRCDIR)/po/%.po
	$(quiet) MSGFMT $@
	$(Q)mkdir -p $(dir $@)
	$(Q)msgfmt --check -o $@ $<

$(O)/tests/test-%: $(O)/obj/tests/unit/test-%.o $(LIBARKD) $(ALL_LIBS)
	$(quiet) LD $@
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(filter %.a,$^) $(PKG_LIBS) $(CMOCKA_LIBS)

# The console's pure parts are tested on their own.
$(O)/tests/test-canvas: $(O)/obj/tui/canvas.o
$(O)/tests/test-update: $(O)/obj/firmware/update.o $(O)/obj/firmware/device-firmware.o
$(O)/tests/test-seed: $(O)/obj/firmware/seed.o $(BIN)/ark-seed
# The benchmark's bound (bench/bound.c), with GLPK when CONFIG_BENCH_BOUND is set.
$(O)/obj/tests/unit/test-bound.o: PROG_INCLUDES := -I$(SRCDIR)/bench
$(O)/tests/test-bound: $(O)/obj/bench/bound.o
$(O)/tests/test-bound: PKG_LIBS += $(GLPK_LIBS)

# Integration tests share a harness (private dbus-daemon + arkd + arkctl runner).
$(addprefix $(O)/tests/,$(integration-tests)): $(O)/tests/%: $(O)/obj/tests/integration/%.o \
		$(O)/obj/tests/integration/harness.o $(ALL_LIBS)
	$(quiet) LD $@
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(filter %.a,$^) $(PKG_LIBS) $(CMOCKA_LIBS)
# The container runtime's test and bench drive appliance/instance/container directly, without arkd.
$(O)/obj/tests/integration/test-container-runtime.o $(O)/obj/bench/container-start.o: \
	PROG_INCLUDES := -I$(SRCDIR)/appliance/instance/container
$(O)/tests/test-container-runtime: $(CONTAINER_OBJS)
# test-arkd-replay runs bench/arkd-replay (which runs bench/trace-replay and arkd).
$(O)/tests/test-arkd-replay: | $(O)/bench/arkd-replay
$(O)/tests/test-bench-net: | $(O)/bench/net

# Fakes at an edge, preloaded into arkd by tests (tests/integration/Kbuild): guests that take their
# time to shut down (test-gpu's reclaim tests), bundles read slowly (imports caught in the middle).
# Built without sanitizers: they are preloaded ahead of their runtime.
$(O)/tests/%.so: $(SRCDIR)/tests/integration/%.c $(AUTOCONF)
	$(quiet) CC $@
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(filter-out -fsanitize=% -fno-sanitize-recover=%,$(ARK_CFLAGS)) $(CFLAGS) -fPIC -shared -o $@ $< -ldl
$(O)/tests/test-gpu: | $(O)/tests/slow-guest.so
# The fake NVML (tests/fake-nvml/fake-nvml.c), loaded by appliance/hw/nvml.c in tests where
# NVIDIA's libnvidia-ml.so.1 would be: the MIG geometry it enforces is lib/pool/mig.c's, compiled
# in (position-independent and without sanitizers, like the preloaded fakes above).
$(O)/tests/libnvidia-ml.so.1: $(SRCDIR)/tests/fake-nvml/fake-nvml.c $(SRCDIR)/lib/pool/mig.c $(AUTOCONF)
	$(quiet) CC $@
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(filter-out -fsanitize=% -fno-sanitize-recover=%,$(ARK_CFLAGS)) $(CFLAGS) -fPIC -shared \
		-fvisibility=hidden -Wl,-soname,libnvidia-ml.so.1 -o $@ $(filter %.c,$^)
$(O)/tests/test-nvml: | $(O)/tests/libnvidia-ml.so.1
$(O)/tests/test-bundles $(O)/tests/test-console: | $(O)/tests/slow-import.so

# Objects made on the way to a test stay (they are not intermediate files to delete); a bare
# .SECONDARY would also make a library skip objects that do not exist yet (a new source file).
.PRECIOUS: $(O)/obj/%.o

-include $(shell find $(O)/obj -name '*.d' 2>/dev/null)

# ----------------------------------------------------------------------------- config targets
%_defconfig:
	$(Q)test -f $(SRCDIR)/configs/$@ || { echo "No such defconfig: configs/$@" >&2; exit 2; }
	$(Q)mkdir -p $(O)
	$(Q)cd $(SRCDIR) && $(PYTHON) -m defconfig --kconfig Kconfig configs/$@

menuconfig oldconfig:
	$(Q)mkdir -p $(O)
	$(Q)test -f $(KCONFIG_CONFIG) || (cd $(SRCDIR) && $(PYTHON) -m defconfig --kconfig Kconfig configs/$(DEFCONFIG))
	$(Q)cd $(SRCDIR) && $(PYTHON) -m $@ Kconfig

savedefconfig:
	$(Q)cd $(SRCDIR) && $(PYTHON) -m savedefconfig --kconfig Kconfig --out $(O)/defconfig
	@echo "Wrote $(O)/defconfig"

# ----------------------------------------------------------------------------- install
PREFIX ?= /usr
SYSCONFDIR ?= /etc
DESTDIR ?=
install: $(addprefix $(BIN)/,$(bin-y))
ifeq ($(CONFIG_ARKD),y)
	install -D -m 0755 $(BIN)/arkd $(DESTDIR)$(PREFIX)/sbin/arkd
	install -D -m 0644 $(SRCDIR)/appliance/data/arkd.service $(DESTDIR)/lib/systemd/system/arkd.service
	install -D -m 0644 $(SRCDIR)/appliance/data/org.ark.Ark1.conf \
		$(DESTDIR)$(PREFIX)/share/dbus-1/system.d/org.ark.Ark1.conf
	test -e $(DESTDIR)$(SYSCONFDIR)/ark/ark.conf || \
		install -D -m 0644 $(SRCDIR)/appliance/data/ark.conf $(DESTDIR)$(SYSCONFDIR)/ark/ark.conf
	install -D -m 0644 $(SRCDIR)/docs/api.md $(DESTDIR)$(PREFIX)/share/doc/ark/api.md
endif
ifeq ($(CONFIG_ARKTUI),y)
	install -D -m 0755 $(BIN)/arktui $(DESTDIR)$(PREFIX)/bin/arktui
	$(foreach l,$(locales-y),install -D -m 0644 $(O)/locale/$(l)/LC_MESSAGES/arktui.mo \
		$(DESTDIR)$(PREFIX)/share/locale/$(l)/LC_MESSAGES/arktui.mo;)
endif
ifeq ($(CONFIG_ARKCTL),y)
	install -D -m 0755 $(BIN)/arkctl $(DESTDIR)$(PREFIX)/bin/arkctl
	install -D -m 0644 $(SRCDIR)/docs/man/arkctl.1 $(DESTDIR)$(PREFIX)/share/man/man1/arkctl.1
endif
ifeq ($(CONFIG_ARKCTL_BASH_COMPLETION),y)
	install -D -m 0644 $(SRCDIR)/ctl/completion/arkctl.bash \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/arkctl
endif
ifeq ($(CONFIG_ARK_UPDATE),y)
	install -D -m 0755 $(BIN)/ark-update $(DESTDIR)$(PREFIX)/sbin/ark-update
	install -D -m 0755 $(BIN)/ark-seed $(DESTDIR)$(PREFIX)/sbin/ark-seed
	install -D -m 0644 $(SRCDIR)/appliance/data/org.ark.Update1.conf \
		$(DESTDIR)$(PREFIX)/share/dbus-1/system.d/org.ark.Update1.conf
endif

# ----------------------------------------------------------------------------- appliance image
# Debian packages (ark, ark-appliance) in $(O)/image/, the disk image, the update bundle and the
# block map from them, and the image's boot test under QEMU (image/README.md).
deb:
	$(Q)$(SRCDIR)/scripts/deps.sh --check-or-install
	$(Q)$(MAKE) --no-print-directory -f $(SRCDIR)/Makefile O=$(O) all
	$(Q)$(SRCDIR)/scripts/mkdeb $(O) $(O)/image

image: deb
	$(Q)$(SRCDIR)/image/build-image $(O)

image-test:
	$(Q)$(SRCDIR)/scripts/deps.sh --check-or-install
	$(Q)test -e $(O)/image/ark.raw || $(MAKE) --no-print-directory -f $(SRCDIR)/Makefile O=$(O) image
	$(Q)$(SRCDIR)/image/image-test $(O)

# ----------------------------------------------------------------------------- dev targets
deps:
	$(Q)$(SRCDIR)/scripts/deps.sh

test:
	$(Q)$(SRCDIR)/scripts/deps.sh --check-or-install
	$(Q)$(MAKE) --no-print-directory -f $(SRCDIR)/Makefile O=$(O) all
	$(Q)O=$(O) $(SRCDIR)/scripts/run-tests $(addprefix $(O)/tests/,$(unit-tests)) -- \
		$(addprefix $(O)/tests/,$(integration-tests))

# Every libFuzzer target over its seeds, then FUZZ_SECONDS of fuzzing each (clang, ASan + UBSan).
FUZZ_SECONDS ?= 60
fuzz:
	$(Q)$(SRCDIR)/scripts/deps.sh --check-or-install
	$(Q)$(MAKE) --no-print-directory -f $(SRCDIR)/Makefile O=$(O) all
	$(Q)O=$(O) $(SRCDIR)/scripts/fuzz --seconds $(FUZZ_SECONDS)

check-unit:
	$(Q)$(MAKE) --no-print-directory -f $(SRCDIR)/Makefile O=$(O) all
	$(Q)O=$(O) $(SRCDIR)/scripts/run-tests $(addprefix $(O)/tests/,$(unit-tests))

check-integration:
	$(Q)$(MAKE) --no-print-directory -f $(SRCDIR)/Makefile O=$(O) all
	$(Q)O=$(O) $(SRCDIR)/scripts/run-tests -- $(addprefix $(O)/tests/,$(integration-tests))

run:
	$(Q)$(SRCDIR)/scripts/deps.sh --check-or-install
	$(Q)$(MAKE) --no-print-directory -f $(SRCDIR)/Makefile O=$(O) all
	$(Q)ARK_BUILD_DIR=$(O) $(SRCDIR)/scripts/sandbox -- bash -c 'arktui --log-file "$$ARK_SANDBOX/arkd.log"; \
		echo "The console closed. This shell has arkctl and arktui on PATH; exit stops the sandbox."; \
		exec bash --rcfile "$$ARK_SANDBOX_RC" -i'

# The console's message catalog: po/arktui.pot from the sources, then each translation merged with
# it (new strings appear untranslated in po/LANG.po: translate them, the zh goldens show them).
po:
	$(Q)cd $(SRCDIR) && xgettext --from-code=UTF-8 --language=C --keyword=_ --keyword=N_ --package-name=arktui \
		-o po/arktui.pot tui/*.c lib/basic/netconf.c && sed -i 's/charset=CHARSET/charset=UTF-8/' po/arktui.pot
	$(Q)cd $(SRCDIR) && for f in po/*.po; do msgmerge -q --no-fuzzy-matching -U --backup=none "$$f" po/arktui.pot; done

clean:
	$(Q)rm -rf $(O)/obj $(O)/lib $(O)/bin $(O)/tests $(O)/include

distclean:
	$(Q)rm -rf $(O)

help:
	@sed -n '2,10p' $(SRCDIR)/Makefile | sed 's/^# \{0,1\}//'

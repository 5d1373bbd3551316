#!/usr/bin/env bash
# Installs every Debian 12 package Ark needs to build, run and test. Idempotent.
#   scripts/deps.sh                    install what is missing (apt-get)
#   scripts/deps.sh --check-or-install same, but quiet when nothing is missing (used by make)
#   scripts/deps.sh --list             print the package list
set -euo pipefail

packages=(
    # build
    build-essential pkg-config python3 python3-kconfiglib
    libsystemd-dev libvirt-dev libsqlite3-dev libjansson-dev libxml2-dev libcmocka-dev libssl-dev libarchive-dev
    libncurses-dev gettext
    # run: bus, hypervisor (test driver ships in libvirt0; libvirtd + QEMU for real VMs), disks
    dbus dbus-daemon libvirt-clients libvirt-daemon libvirt-daemon-system qemu-system-x86 qemu-utils
    # UEFI firmware of GPU VMs (FirmwareCode=): x86_64 and arm64 hosts
    ovmf qemu-efi-aarch64
    # tests: schema validation, a guest kernel + busybox initramfs for the real-hypervisor test,
    # fuzzing, the layout check (scripts/check-format), man page checks
    libxml2-utils sqlite3 busybox-static cpio linux-image-amd64 clang clang-format groff-base man-db
    # the sandbox shell: `man arkctl` (man-db, above) and Tab completion
    bash-completion
    # metrics checks (promtool)
    prometheus curl
    # console tests
    tmux
    # the suite under load (scripts/test-under-load)
    stress-ng
    # the appliance image (make image, make image-test)
    mmdebstrap squashfs-tools dosfstools mtools fdisk e2fsprogs bmap-tools sbsigntool systemd-boot-efi
    initramfs-tools-core procps
    # the image's firewall rules, tried in a network namespace (tests)
    nftables iproute2
    # tenant networks: bridges and links (libnl), the rule set (libnftables), DHCP and DNS per
    # network (dnsmasq), bench/net (iperf3)
    libnl-3-dev libnl-route-3-dev libnftables-dev dnsmasq-base iperf3
    # containers: the runtime and its monitor; OCI images made independently of Ark for the tests
    crun conmon umoci skopeo
    # the pooler benchmark's offline bound (bench/trace-replay --bound, CONFIG_BENCH_BOUND): GLPK
    libglpk-dev
)

mode=${1:-install}
case "$mode" in
    --list) printf '%s\n' "${packages[@]}"; exit 0 ;;
    --check-or-install|install|--install) ;;
    -h|--help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "deps.sh: unknown option '$mode'" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    [ "$mode" = --check-or-install ] || echo "deps.sh: all ${#packages[@]} packages are installed."
    exit 0
fi

echo "deps.sh: installing ${#missing[@]} missing package(s): ${missing[*]}" >&2
sudo=
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null; then
        sudo=sudo
    else
        echo "deps.sh: not root and no sudo; run as root: apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
# Another apt-get or dpkg (unattended upgrades, a second terminal) may hold the package lock:
# wait for it, a bounded time, rather than fail at once.
lock_wait=${ARK_DEPS_LOCK_TIMEOUT:-600}
apt=(apt-get -o "DPkg::Lock::Timeout=$lock_wait")
echo "deps.sh: (if another apt-get or dpkg holds the package lock, waiting up to $lock_wait s for it)" >&2
if ! $sudo "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >/tmp/ark-deps.log 2>&1; then
    $sudo "${apt[@]}" update >>/tmp/ark-deps.log 2>&1 || true
    if ! $sudo "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >>/tmp/ark-deps.log 2>&1; then
        echo "deps.sh: apt-get failed; last lines of /tmp/ark-deps.log:" >&2
        tail -n 20 /tmp/ark-deps.log >&2
        exit 1
    fi
fi
echo "deps.sh: done." >&2

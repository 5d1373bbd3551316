#!/usr/bin/env bash
# Builds the real-hypervisor test's guest into OUTDIR: `vmlinuz` (the newest Debian kernel under
# /boot, or $ARK_GUEST_KERNEL) and `initramfs.cpio.gz`, a busybox-static userland whose /init
#   - mounts proc, sys and devtmpfs,
#   - loads the ACPI power button (button.ko, evdev.ko from the kernel's modules when present) and
#     runs busybox acpid, so libvirt's graceful shutdown (ACPI power button) powers the guest off,
#   - prints one line on the serial console (boot with console=ttyS0):
#         ARK-GUEST-READY marker=<ark.marker= from the command line> uuid=<SMBIOS UUID> up=<s>
#     The SMBIOS UUID is the libvirt domain UUID, i.e. the Ark instance Id.
#   - loads the virtio-net driver (from the kernel's modules when present) and, when the guest has a
#     NIC (eth0), asks DHCP for an address in the background (busybox udhcpc); once bound it sets
#     the address and the default route and prints one line on the console:
#         ARK-GUEST-IP <address>
#     A guest without the modules or without a NIC just has no network.
#   - then answers each line typed on the serial console with "ARK-GUEST-ECHO <line>" (for the
#     interactive console test); on the power button it prints ARK-GUEST-POWEROFF and powers off
#     (unless booted with ark.noacpi: then only a forced power-off stops it).
# Everything is written world-readable (files 0644 in a 0755 OUTDIR): libvirt runs QEMU as
# libvirt-qemu, and Debian installs /boot/vmlinuz-* mode 0600 on some systems.
# Needs: busybox-static, cpio, gzip, and a linux-image package. Exit 0 on success, 1 with a
# reason on stderr.
set -euo pipefail

fail() {
    echo "build-initramfs: $*" >&2
    exit 1
}

[ $# -eq 1 ] || { echo "Usage: $0 OUTDIR" >&2; exit 2; }
out=$1

busybox=
for b in /bin/busybox /usr/bin/busybox; do
    # Only a static busybox runs in an initramfs without a libc.
    if [ -x "$b" ] && ! LC_ALL=C ldd "$b" >/dev/null 2>&1; then busybox=$b; break; fi
done
[ -n "$busybox" ] || fail "no static busybox (install busybox-static)"
command -v cpio >/dev/null || fail "cpio is missing (install cpio)"
command -v gzip >/dev/null || fail "gzip is missing"

kernel=${ARK_GUEST_KERNEL:-}
if [ -z "$kernel" ]; then
    kernel=$(printf '%s\n' /boot/vmlinuz-* | sort -V | tail -n 1)
    [ -e "$kernel" ] || fail "no kernel under /boot (install linux-image-amd64)"
fi
[ -f "$kernel" ] || fail "kernel '$kernel' does not exist"
[ -r "$kernel" ] || fail "kernel '$kernel' is not readable (run as root)"
kver=${kernel##*/vmlinuz-}

mkdir -p "$out"
chmod 0755 "$out"
stage=$(mktemp -d "$out/stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT

mkdir -p "$stage"/{bin,dev,proc,sys,tmp,run,etc/acpi/PWRF,lib/modules}
cp "$busybox" "$stage/bin/busybox"

# Modules for the ACPI power button. Optional: without them a stop ends in arkd's forced
# power-off after its timeout, which the test also accepts.
# Copies kernel module $1 (a path under /lib/modules/<version>/, without a compression suffix)
# into the initramfs, uncompressed: busybox insmod takes plain .ko files. Returns 1 when the module
# (or the tool to unpack it) is missing.
copy_module() {
    local src=/lib/modules/$kver/$1 dst=$stage/lib/modules/$(basename "$1")
    if [ -f "$src" ]; then
        cp "$src" "$dst"
    elif [ -f "$src.xz" ] && command -v xz >/dev/null; then
        xz -dc "$src.xz" >"$dst"
    elif [ -f "$src.zst" ] && command -v zstd >/dev/null; then
        zstd -qdc "$src.zst" >"$dst"
    else
        return 1
    fi
}

for m in kernel/drivers/input/evdev.ko kernel/drivers/acpi/button.ko; do
    copy_module "$m" ||
        echo "build-initramfs: note: no $m for $kver; the guest will not react to the power button" >&2
done

# The virtio-net driver and what it needs, in load order (/init loads them in the order of
# etc/net-modules). Optional: without them the guest has no network, which only the network step
# of the test needs. A module built into the kernel needs no file.
: >"$stage/etc/net-modules"
for m in kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko \
    kernel/drivers/virtio/virtio_pci_legacy_dev.ko kernel/drivers/virtio/virtio_pci_modern_dev.ko \
    kernel/drivers/virtio/virtio_pci.ko kernel/net/core/failover.ko kernel/drivers/net/net_failover.ko \
    kernel/drivers/net/virtio_net.ko; do
    if copy_module "$m"; then
        basename "$m" .ko >>"$stage/etc/net-modules"
    elif ! grep -qs "/$(basename "$m")\$" "/lib/modules/$kver/modules.builtin"; then
        echo "build-initramfs: note: no $m for $kver; the guest will have no network" >&2
    fi
done

# udhcpc's script: the lease's address and default route on the interface; "bound" (a new lease)
# prints the address on the console for the test to read.
cat >"$stage/etc/udhcpc.script" <<'SCRIPT'
#!/bin/sh
case "$1" in
    deconfig)
        ip -4 addr flush dev "$interface"
        ip link set "$interface" up
        ;;
    bound | renew)
        ip addr replace "$ip/${mask:-24}" dev "$interface"
        if [ -n "$router" ]; then
            ip route replace default via "${router%% *}" dev "$interface"
        fi
        [ "$1" = bound ] && echo "ARK-GUEST-IP $ip" >/dev/console
        ;;
esac
exit 0
SCRIPT

cat >"$stage/etc/acpi/PWRF/00000080" <<'SCRIPT'
#!/bin/sh
echo "ARK-GUEST-POWEROFF" >/dev/console
sync
poweroff -f
SCRIPT

cat >"$stage/init" <<'SCRIPT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1

marker=
acpi=1
for arg in $(cat /proc/cmdline); do
    case "$arg" in
        ark.marker=*) marker=${arg#ark.marker=} ;;
        ark.noacpi) acpi=0 ;; # ignore the power button: a guest that only stops when forced off
    esac
done
if [ $acpi = 1 ]; then
    for m in evdev button; do
        [ -f /lib/modules/$m.ko ] && insmod /lib/modules/$m.ko
    done
    # acpid opens /dev/input/event* when it starts: give the button driver a moment to register.
    for i in 1 2 3 4 5 6 7 8 9 10; do
        ls /dev/input/event* >/dev/null 2>&1 && break
        sleep 0.1
    done
    acpid -c /etc/acpi -l /tmp/acpid.log
fi

# The network: insmod returns once the driver has probed the devices there are, so eth0 exists by
# now when the guest has a NIC. DHCP runs in the background (it must not hold up the marker, nor
# read the console); the script prints ARK-GUEST-IP when bound.
while read -r m; do
    insmod /lib/modules/$m.ko 2>/dev/null
done </etc/net-modules
ip link set lo up
if [ -e /sys/class/net/eth0 ]; then
    udhcpc -f -i eth0 -s /etc/udhcpc.script -t 10 -T 1 -A 2 </dev/null >/tmp/udhcpc.log 2>&1 &
fi

uuid=$(cat /sys/class/dmi/id/product_uuid 2>/dev/null)
read up _ </proc/uptime
echo "ARK-GUEST-READY marker=$marker uuid=$uuid up=$up"

while :; do
    if read -r line; then
        echo "ARK-GUEST-ECHO $line"
    else
        sleep 1
    fi
done
SCRIPT
chmod 0755 "$stage/init" "$stage/etc/acpi/PWRF/00000080" "$stage/etc/udhcpc.script"

(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) | gzip -1 >"$out/initramfs.cpio.gz.tmp"
mv "$out/initramfs.cpio.gz.tmp" "$out/initramfs.cpio.gz"
cp "$kernel" "$out/vmlinuz.tmp"
mv "$out/vmlinuz.tmp" "$out/vmlinuz"
chmod 0644 "$out/initramfs.cpio.gz" "$out/vmlinuz"
echo "$out/vmlinuz"
echo "$out/initramfs.cpio.gz"

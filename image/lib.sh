# Shared by image/build-image and image/image-test (sourced): the configuration and the steps that
# turn a root directory into a slot image, a unified kernel image and an update bundle.

die() { echo "build-image: $*" >&2; exit 1; }
step() { printf '  %-8s %s\n' "$1" "$2"; }

# The IMAGE_* options of $O/.config (Kconfig writes shell-compatible assignments).
load_config() {
    local O=$1
    [ -f "$O/.config" ] || die "$O/.config: no configuration (make defconfig first)"
    eval "$(grep -E '^CONFIG_(IMAGE_[A-Z_]+|ARK_UPDATE)=' "$O/.config")"
    IMAGE_VERSION=${CONFIG_IMAGE_VERSION:-$(cat "$SRC/VERSION")}
    # Dotted numbers only: ark-update, systemd-boot and sort -V order them alike.
    echo "$IMAGE_VERSION" | grep -Eqx '[0-9]{1,9}(\.[0-9]{1,9})*' ||
        die "CONFIG_IMAGE_VERSION: '$IMAGE_VERSION' is not dotted numbers such as 1.2.0"
}

stub=/usr/lib/systemd/boot/efi/linuxx64.efi.stub
sdboot=/usr/lib/systemd/boot/efi/systemd-bootx64.efi

# Signs an EFI binary in place when a Secure Boot key is configured. A key with a passphrase is
# opened once into the work directory with ARK_SB_KEY_PASSPHRASE (Debian's snakeoil test key
# has the passphrase "snakeoil").
sb_sign() {
    local f=$1 key=${CONFIG_IMAGE_SB_KEY:-} plain=${work:?}/sb-signing.key pass
    [ -n "$key" ] || return 0
    [ -r "$key" ] || die "CONFIG_IMAGE_SB_KEY: cannot read $key"
    [ -r "$CONFIG_IMAGE_SB_CERT" ] || die "CONFIG_IMAGE_SB_CERT: cannot read $CONFIG_IMAGE_SB_CERT"
    if grep -q ENCRYPTED "$key"; then
        if [ ! -f "$plain" ]; then
            pass=${ARK_SB_KEY_PASSPHRASE:-}
            [ -n "$pass" ] || [ "$key" != /usr/share/ovmf/PkKek-1-snakeoil.key ] || pass=snakeoil
            [ -n "$pass" ] || die "CONFIG_IMAGE_SB_KEY: $key has a passphrase; set ARK_SB_KEY_PASSPHRASE"
            (umask 077; ARK_PASS=$pass openssl pkey -in "$key" -passin env:ARK_PASS -out "$plain") ||
                die "CONFIG_IMAGE_SB_KEY: cannot open $key with the passphrase given"
        fi
        key=$plain
    fi
    sbsign --key "$key" --cert "$CONFIG_IMAGE_SB_CERT" --output "$f.signed" "$f" >/dev/null 2>"$f.sbsign.log" ||
        die "sbsign failed on $f: $(tail -n 3 "$f.sbsign.log")"
    rm -f "$f.sbsign.log"
    mv "$f.signed" "$f"
}

# The kernel command line of a slot, signed into its UKI.
slot_cmdline() {
    local slot=$1 console=""
    if [ -n "${CONFIG_IMAGE_SERIAL_CONSOLE:-}" ]; then
        console="console=tty1 console=${CONFIG_IMAGE_SERIAL_CONSOLE}"
    fi
    echo "root=PARTLABEL=ark-root-$slot rootfstype=squashfs ro ark.slot=$slot systemd.gpt_auto=0 $console ${CONFIG_IMAGE_CMDLINE:-}"
}

# make_uki ROOTFS KERNEL INITRD SLOT OUT [unsigned]: systemd's EFI stub with the os-release, the
# slot's command line, the kernel and the initramfs as sections (systemd 252 has no ukify).
make_uki() {
    local rootfs=$1 kernel=$2 initrd=$3 slot=$4 out=$5 tmp
    tmp=$(mktemp -d)
    slot_cmdline "$slot" > "$tmp/cmdline"
    cp "$rootfs/usr/lib/os-release" "$tmp/osrel"
    objcopy \
        --add-section .osrel="$tmp/osrel" --change-section-vma .osrel=0x20000 \
        --add-section .cmdline="$tmp/cmdline" --change-section-vma .cmdline=0x30000 \
        --add-section .linux="$kernel" --change-section-vma .linux=0x2000000 \
        --add-section .initrd="$initrd" --change-section-vma .initrd=0x3000000 \
        "$stub" "$out" || die "objcopy could not make $out"
    rm -rf "$tmp"
    [ "${6:-}" = unsigned ] || sb_sign "$out"
}

# make_root ROOTFS OUT: the read-only root slot image.
make_root() {
    rm -f "$2"
    mksquashfs "$1" "$2" -comp zstd -Xcompression-level 6 -noappend -quiet -no-progress \
        -wildcards -e 'proc/*' 'sys/*' 'dev/*' 'run/*' 'tmp/*' >/dev/null 2>"$2.log" ||
        die "mksquashfs failed: $(tail -n 5 "$2.log")"
    # squashfs-tools 4.5 keeps no POSIX ACLs (none are set in the image) and says so per file.
    grep -v 'Unrecognised xattr prefix system.posix_acl' "$2.log" >&2 || true
    rm -f "$2.log"
    local size max
    size=$(stat -c %s "$2")
    max=$(( CONFIG_IMAGE_ROOT_SIZE * 1024 * 1024 ))
    [ "$size" -le "$max" ] || die "the root image is $((size >> 20)) MiB, more than CONFIG_IMAGE_ROOT_SIZE ($CONFIG_IMAGE_ROOT_SIZE MiB)"
}

# set_version ROOTFS VERSION: the product version in os-release (IMAGE_ID/IMAGE_VERSION: ark-update
# and systemd-boot's ordering read it).
set_version() {
    local f=$1/usr/lib/os-release
    sed -i -e '/^IMAGE_ID=/d' -e '/^IMAGE_VERSION=/d' -e '/^PRETTY_NAME=/d' "$f"
    printf 'PRETTY_NAME="Ark %s (Debian GNU/Linux 12)"\nIMAGE_ID=ark\nIMAGE_VERSION=%s\n' "$2" "$2" >> "$f"
}

# make_bundle DIR VERSION KEY OUT COMPATIBLE...: the signed update bundle of DIR.
make_bundle() {
    local dir=$1 version=$2 key=$3 out=$4 args=()
    shift 4
    for c in "$@"; do args+=(--compatible "$c"); done
    rm -f "$out"
    "$ARKCTL" bundle create "$dir" --kind update --name ark --version "$version" --key "$key" \
        --compress none -o "$out" "${args[@]}" >/dev/null || die "cannot make the bundle $out"
}

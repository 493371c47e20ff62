#!/usr/bin/env bash
# Fetch the second pair of reference binaries -- QEMU 10.0.2 and libvirt 11.3, Debian 13's
# versions rebuilt for Debian 12 in the bookworm-backports suite -- and unpack them into a
# private prefix beside the system's QEMU 7.2 and libvirt 9.0. They share package names with
# Debian 12's packages, so dpkg cannot install them next to those: they are downloaded with
# `apt-get download` and unpacked with `dpkg-deb -x`. Only the plain Debian 12 runtime libraries
# they depend on are installed with apt-get (as root).
#
#   scripts/fetch_reference_binaries.sh [PREFIX]     PREFIX defaults to build/reference
#
# What PREFIX holds afterwards:
#   PREFIX/bin/qemu-system-x86_64   wrapper: runs the 10.0.2 binary with its own modules
#                                   (QEMU_MODULE_DIR) and firmware (-L), argv[0] kept
#   PREFIX/bin/virsh                wrapper: runs virsh 11.3 with its own libraries, its own
#                                   QEMU driver module and (as root) its own CPU map
#   PREFIX/usr/..., PREFIX/etc/...  the unpacked packages
#   PREFIX/.complete                the versions unpacked; present only when all of the above is
#
# Idempotent: when PREFIX/.complete names the versions below, nothing is done. The apt
# configuration is private (a temporary directory): the suite is added from the machine's own
# Debian mirror as its apt sources name it, and the system's apt state is not touched.
set -euo pipefail

QEMU_VERSION="1:10.0.2+ds-2+deb13u1~bpo12+1"
SEABIOS_VERSION="1.16.3-2~bpo12+1"
LIBVIRT_VERSION="11.3.0-2~bpo12+1"
SUITE="bookworm-backports"
QEMU_PACKAGES=(qemu-system-x86 qemu-system-common qemu-system-data qemu-system-gui
               qemu-block-extra qemu-system-modules-opengl qemu-system-modules-spice)
# The client and the embedded QEMU driver with the libraries they load; libvirt-daemon-log
# (virtlogd) is left out: the embedded driver is configured with stdio_handler = "file".
LIBVIRT_PACKAGES=(libvirt0 libvirt-common libvirt-clients libvirt-daemon-driver-qemu)
LIBDIR="usr/lib/x86_64-linux-gnu"

prefix=${1:-"$(cd "$(dirname "$0")/.." && pwd)/build/reference"}
mkdir -p "$(dirname "$prefix")"
prefix="$(cd "$(dirname "$prefix")" && pwd)/$(basename "$prefix")"
stamp_text="qemu $QEMU_VERSION seabios $SEABIOS_VERSION libvirt $LIBVIRT_VERSION"

if [ -f "$prefix/.complete" ] && [ "$(cat "$prefix/.complete")" = "$stamp_text" ]; then
    exit 0
fi
if [ -e "$prefix" ] && [ ! -f "$prefix/.complete" ] && [ -n "$(ls -A "$prefix")" ]; then
    echo "$prefix exists and was not made by this script; give another PREFIX" >&2
    exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/parts" "$work/lists/partial" "$work/cache/archives/partial" "$work/debs"
apt_opts=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$work/parts"
          -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache"
          -o "APT::Sandbox::User=root")

# The machine's own Debian mirror (not its security mirror) and the key it is signed with, read
# from the deb822 sources (Debian 12's default) or else the one-line sources.list.
mirror="" keyring=""
for file in /etc/apt/sources.list.d/*.sources; do
    [ -f "$file" ] || continue
    read -r mirror keyring < <(awk '
        /^[[:space:]]*$/ { if (uri != "" && uri !~ /security/) { print uri, key; found = 1; exit }
                           uri = ""; key = "" }
        /^URIs:/ { uri = $2 }
        /^Signed-By:/ { key = $2 }
        END { if (!found && uri != "" && uri !~ /security/) print uri, key }' "$file") || true
    [ -n "$mirror" ] && break
done
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
    mirror=$(awk '$1 == "deb" && $2 !~ /^\[/ && $2 !~ /security/ { print $2; exit }' \
             /etc/apt/sources.list)
fi
[ -n "$mirror" ] || { echo "no Debian mirror found in the apt sources" >&2; exit 1; }
{
    echo "Types: deb"
    echo "URIs: $mirror"
    echo "Suites: $SUITE"
    echo "Components: main"
    [ -n "$keyring" ] && echo "Signed-By: $keyring"
} >"$work/parts/reference.sources"
apt-get "${apt_opts[@]}" update -qq

# Download (apt checks each file against the signed index) and unpack.
wanted=()
for pkg in "${QEMU_PACKAGES[@]}"; do wanted+=("$pkg=$QEMU_VERSION"); done
wanted+=("seabios=$SEABIOS_VERSION")
for pkg in "${LIBVIRT_PACKAGES[@]}"; do wanted+=("$pkg=$LIBVIRT_VERSION"); done
(cd "$work/debs" && apt-get "${apt_opts[@]}" download -qq "${wanted[@]}")

staging="$prefix.partial"
rm -rf "$staging"
mkdir -p "$staging"
for deb in "$work"/debs/*.deb; do
    dpkg-deb -x "$deb" "$staging"
done

# Runtime libraries: the first alternative of every lib* dependency that is not one of the
# packages unpacked here (nor a tool package); all of them are plain Debian 12 packages.
ours=" ${QEMU_PACKAGES[*]} ${LIBVIRT_PACKAGES[*]} seabios "
need=()
while read -r dep; do
    case "$ours" in *" $dep "*) continue ;; esac
    case "$dep" in libvirt*|*-utils|*-bin) continue ;; esac
    dpkg -s "$dep" >/dev/null 2>&1 || need+=("$dep")
done < <(for deb in "$work"/debs/*.deb; do dpkg-deb -f "$deb" Depends; done \
         | tr ',' '\n' | sed 's/|.*//; s/(.*//; s/[[:space:]]//g' | grep '^lib' | sort -u)
dpkg -s ipxe-qemu >/dev/null 2>&1 || need+=(ipxe-qemu)   # the NIC option ROMs QEMU loads
if [ "${#need[@]}" -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
        || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }
fi

# The wrappers. QEMU is given its own module directory (otherwise it finds 7.2's modules and
# refuses them) and its own firmware ahead of the compiled-in /usr/share paths; `exec -a "$0"`
# keeps argv[0] as the name it was called by, whose basename prefixes QEMU's messages.
mkdir -p "$staging/bin"
cat >"$staging/bin/qemu-system-x86_64" <<EOF
#!/bin/bash
# QEMU $QEMU_VERSION from $prefix (written by scripts/fetch_reference_binaries.sh)
export QEMU_MODULE_DIR='$prefix/$LIBDIR/qemu'
exec -a "\$0" '$prefix/usr/bin/qemu-system-x86_64' \\
    -L '$prefix/usr/share/seabios' -L '$prefix/usr/share/qemu' "\$@"
EOF
# virsh 11.3 loads its QEMU driver module from LIBVIRT_DRIVER_DIR (else it takes 9.0's); its CPU
# map and schemas are read only from the compiled-in /usr/share/libvirt, so as root it runs in
# a private mount namespace with the prefix's copy bound over that directory. Without root
# (no embedded driver either) it runs as it is.
cat >"$staging/bin/virsh" <<EOF
#!/bin/bash
# virsh $LIBVIRT_VERSION from $prefix (written by scripts/fetch_reference_binaries.sh)
prefix='$prefix'
export LD_LIBRARY_PATH="\$prefix/$LIBDIR\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
export LIBVIRT_DRIVER_DIR="\$prefix/$LIBDIR/libvirt/connection-driver"
if [ "\$(id -u)" = 0 ]; then
    mkdir -p /usr/share/libvirt
    exec unshare --mount --propagation private -- /bin/bash -c \\
        'mount --bind "\$1/usr/share/libvirt" /usr/share/libvirt && shift && exec "\$@"' \\
        bash "\$prefix" "\$prefix/usr/bin/virsh" "\$@"
fi
exec "\$prefix/usr/bin/virsh" "\$@"
EOF
chmod +x "$staging/bin/qemu-system-x86_64" "$staging/bin/virsh"

# The wrappers point at the final prefix: move the staging tree there, then check both.
rm -rf "$prefix"
mv "$staging" "$prefix"
qemu_says=$("$prefix/bin/qemu-system-x86_64" -version | head -n1)
case "$qemu_says" in
    "QEMU emulator version 10.0.2 (Debian $QEMU_VERSION)") ;;
    *) echo "unexpected QEMU version: $qemu_says" >&2; exit 1 ;;
esac
virsh_says=$("$prefix/bin/virsh" --version)
[ "$virsh_says" = "${LIBVIRT_VERSION%%-*}" ] \
    || { echo "unexpected virsh version: $virsh_says" >&2; exit 1; }
echo "$stamp_text" >"$prefix/.complete"
echo "reference binaries: $qemu_says, virsh $virsh_says -> $prefix"

#!/usr/bin/env bash
# Fetch QEMU's own Python test harness (python/qemu: machine, qmp, utils) from Debian's QEMU
# source packages, for the launcher tests (tests/test_qemu_machine.py). Nothing of it is kept in
# this repository (it is GPL): it is unpacked at test time into a cache directory.
#
#   scripts/fetch_qemu_python.sh [DEST]      DEST defaults to build/qemu-python
#
# Idempotent: a version already unpacked is left alone. One directory per Debian suite:
#   DEST/7.2/python/qemu/...    from suite bookworm (QEMU 7.2, Debian 12)
#   DEST/10.0/python/qemu/...   from suite bookworm-backports (QEMU 10.0, Debian 13's build)
set -euo pipefail
dest=${1:-"$(cd "$(dirname "$0")/.." && pwd)/build/qemu-python"}
mkdir -p "$dest"

# name  apt-suite
versions=(
    "7.2 bookworm"
    "10.0 bookworm-backports"
)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
          -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache"
          -o "APT::Sandbox::User=root")
prepared=0

prepare_apt() {
    [ "$prepared" = 1 ] && return
    mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
    # The machine's own Debian mirror (from its apt sources), as source lists for both suites.
    mirror=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null \
             | awk '{print $2}' | grep -v security | head -n1 || true)
    [ -n "$mirror" ] || mirror=$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null \
             | awk '{print $2}' | grep -v security | head -n1 || true)
    [ -n "$mirror" ] || { echo "no Debian mirror in the apt sources" >&2; exit 1; }
    printf 'deb-src %s bookworm main\ndeb-src %s bookworm-backports main\n' \
        "$mirror" "$mirror" >"$work/sources.list"
    apt-get "${apt_opts[@]}" update -qq
    prepared=1
}

for entry in "${versions[@]}"; do
    read -r name suite <<<"$entry"
    target="$dest/$name"
    if [ -f "$target/python/qemu/machine/machine.py" ]; then
        continue
    fi
    prepare_apt
    # Only the upstream tarball is needed (python/qemu is not patched by Debian); it is taken
    # from the URI list apt prints, and checked against the SHA256 the suite's index gives.
    line=$(cd "$work" && apt-get "${apt_opts[@]}" source --print-uris -qq "qemu/$suite" \
           | grep "\.orig\.tar\.xz'")
    uri=$(echo "$line" | awk '{print $1}' | tr -d "'")
    file=$(echo "$line" | awk '{print $2}')
    sha=$(echo "$line" | awk '{print $4}' | sed 's/^SHA256://')
    curl -fsSL -o "$work/$file" "$uri"
    echo "$sha  $work/$file" | sha256sum --check --quiet
    tarball="$work/$file"
    rm -rf "$target.tmp" && mkdir -p "$target.tmp"
    tar -xJf "$tarball" -C "$target.tmp" --strip-components=1 --wildcards '*/python/qemu/*'
    rm -rf "$target" && mv "$target.tmp" "$target"
    rm -f "$tarball"
    echo "qemu python harness $name from $(basename "$tarball") -> $target"
done

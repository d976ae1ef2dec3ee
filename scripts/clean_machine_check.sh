#!/usr/bin/env bash
# The clean-machine check: the README's two commands on a fresh Debian 12 with nothing but python3, git and
# ca-certificates, as a new user (or CI on a new machine) would run them.
#
#   sudo bash scripts/clean_machine_check.sh [REF]      (default REF: HEAD of this clone)
#
# What it does:
#   1. debootstrap a minbase bookworm into a temporary folder (python3 3.11, git, ca-certificates only);
#   2. copies in this host's apt sources, apt/pip configuration and CA bundle (so it reaches the same registries);
#   3. bind-mounts /proc, /sys, /dev and, read-only, ../shared beside the clone (as CI has it);
#   4. clones this repository at REF (committed work only: what is not committed is not checked);
#   5. runs `bash scripts/setup.sh run`, then `CI=true bash scripts/setup.sh test`, with no terminal and an
#      empty environment (no COLUMNS, no venv, nothing installed by hand);
#   6. unmounts and removes the folder (KEEP=1 keeps it), and prints a summary: exit codes, durations, the
#      pytest closing line, the venv size.
# Logs: $OUT (default /tmp/sensorfuse-clean-check) holds run.log, test.log and summary.txt.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
    echo "clean_machine_check: needs root (debootstrap, chroot, mount)" >&2
    exit 2
fi
repo="$(cd "$(dirname "$0")/.." && pwd)"
ref="${1:-HEAD}"
commit="$(git -C "$repo" rev-parse --verify "$ref^{commit}")"
out="${OUT:-/tmp/sensorfuse-clean-check}"
mkdir -p "$out"
root="$(mktemp -d /var/tmp/sensorfuse-chroot.XXXXXX)"

if ! command -v debootstrap >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

mounts=()
cleanup() {
    local m
    for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
        m="${mounts[$i]}"
        umount -l "$m" 2>/dev/null || true
    done
    if [ "${KEEP:-0}" != 1 ]; then
        # nothing is mounted any more: remove only what is below our own temporary folder
        if ! grep -q " $root" /proc/mounts; then rm -rf --one-file-system "$root"; fi
    else
        echo "kept $root"
    fi
}
trap cleanup EXIT

# -- 1. the base system ----------------------------------------------------------------------------------------
mirror="$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)"
mirror="${mirror:-http://deb.debian.org/debian}"
echo ">> debootstrap bookworm (minbase + python3, git, ca-certificates) from $mirror into $root"
t0=$SECONDS
debootstrap --variant=minbase --include=python3,git,ca-certificates bookworm "$root" "$mirror" \
    >"$out/debootstrap.log" 2>&1 || {
    tail -20 "$out/debootstrap.log"
    exit 1
}
echo "   $((SECONDS - t0)) s"

# -- 2. this host's registry configuration -------------------------------------------------------------------------
rm -f "$root/etc/apt/sources.list"
cp -a /etc/apt/sources.list.d/. "$root/etc/apt/sources.list.d/" 2>/dev/null || true
[ -f /etc/apt/sources.list ] && cp /etc/apt/sources.list "$root/etc/apt/"
for f in /etc/apt/apt.conf.d/99*; do [ -f "$f" ] && cp "$f" "$root/etc/apt/apt.conf.d/"; done
for f in /etc/pip.conf /etc/xdg/pip /root/.config/pip /root/.pip; do
    if [ -e "$f" ]; then
        mkdir -p "$root$(dirname "$f")"
        cp -a "$f" "$root$f"
    fi
done
cp /etc/resolv.conf "$root/etc/resolv.conf"
# the host's CA bundle: a registry reached through a proxy with its own CA needs it (pip's cert= points at it)
if [ -d /usr/local/share/ca-certificates ]; then
    mkdir -p "$root/usr/local/share/ca-certificates"
    cp -a /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
fi
[ -f /etc/ssl/certs/ca-certificates.crt ] && cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"

# -- 3. mounts ---------------------------------------------------------------------------------------------------
for m in proc sys dev dev/pts; do
    mkdir -p "$root/$m"
    mount --bind "/$m" "$root/$m"
    mounts+=("$root/$m")
done
mkdir -p "$root/work/shared"
if [ -d "$repo/../shared" ]; then
    mount --bind "$repo/../shared" "$root/work/shared"
    mounts+=("$root/work/shared")
    mount -o remount,bind,ro "$root/work/shared"
fi

# -- 4. the clone ------------------------------------------------------------------------------------------------
git clone -q --no-hardlinks "$repo" "$root/work/main"
git -C "$root/work/main" checkout -q "$commit"

# -- 5. the README's two commands, no terminal, empty environment -----------------------------------------------------
in_chroot() {
    # pip's own settings are part of the host's registry configuration: pass PIP_* through, nothing else
    local pipenv=()
    while IFS='=' read -r k v; do pipenv+=("$k=$v"); done < <(env | grep '^PIP_' || true)
    chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        LANG=C.UTF-8 "${pipenv[@]}" "$@" </dev/null
}
step() {  # step NAME COMMAND...: run, log, time; never stop the check
    local name="$1"
    shift
    local t=$SECONDS rc=0
    echo ">> $name: $*"
    in_chroot "$@" >"$out/$name.log" 2>&1 || rc=$?
    local dt=$((SECONDS - t))
    eval "rc_$name=$rc; dt_$name=$dt"
    echo "   exit $rc in $dt s (log: $out/$name.log)"
}
step run bash -c 'cd /work/main && bash scripts/setup.sh run'
venv_run="$(du -sm "$root/work/main/.venv" 2>/dev/null | cut -f1)"
step test bash -c 'cd /work/main && CI=true bash scripts/setup.sh test'
venv_test="$(du -sm "$root/work/main/.venv" 2>/dev/null | cut -f1)"

# -- 6. summary ---------------------------------------------------------------------------------------------------
pytest_line="$(grep -E '^=+ .*(passed|failed|error).* in [0-9.]+s' "$out/test.log" | tail -1 || true)"
{
    echo "clean-machine check of $(git -C "$repo" log -1 --format='%h %s' "$commit" | cut -c1-100)"
    echo "debian: $(cat "$root/etc/debian_version"), $(in_chroot python3 --version 2>&1)"
    echo "setup.sh run:  exit ${rc_run} in ${dt_run} s; venv ${venv_run:-?} MB"
    echo "setup.sh test: exit ${rc_test} in ${dt_test} s; venv ${venv_test:-?} MB (with the dev extras)"
    echo "pytest: ${pytest_line:-no closing line (see test.log)}"
} | tee "$out/summary.txt"
[ "$rc_run" = 0 ] && [ "$rc_test" = 0 ]

#!/usr/bin/env bash
# Times the README's first command (scripts/demo.sh) on a fresh Debian 12:
# a debootstrap --variant=minbase bookworm chroot (bookworm, -updates and
# -security sources), a clean clone of this repository's HEAD in it, the demo
# run there as root. Prints apt-get's, the build's and the whole run's seconds
# (docs/BENCHMARKS.md "First run and build time").
#   sudo bash bench/first_run.sh [WORK_DIR]     (WORK_DIR: /var/tmp/aisle-first-run)
# Needs root (debootstrap, chroot, mounts) and Debian's mirror; the chroot
# shares this machine's network, so the demo's port (PORT, 18080) must be free.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-/var/tmp/aisle-first-run}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
R="$WORK/root"
command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
unmount() { for m in dev proc sys; do umount -R -l "$R/$m" 2>/dev/null || true; done; }
unmount
if grep -q " $R/" /proc/mounts; then echo "first_run: mounts left under $R" >&2; exit 1; fi
mkdir -p "$WORK"
if [ ! -f "$WORK/pristine.tar" ]; then  # the fresh system, made once and kept
  rm -rf "$R"
  debootstrap --variant=minbase bookworm "$R" "$MIRROR" >/dev/null
  tar -C "$R" -cf "$WORK/pristine.tar" .
fi
rm -rf "$R" && mkdir -p "$R" && tar -C "$R" -xf "$WORK/pristine.tar"
cat > "$R/etc/apt/sources.list" <<S
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb ${MIRROR%/debian}/debian-security bookworm-security main
S
cp /etc/resolv.conf "$R/etc/resolv.conf"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n' > "$R/etc/hosts"
trap unmount EXIT
mount -t proc proc "$R/proc"; mount -t sysfs sys "$R/sys"; mount --rbind /dev "$R/dev"
git clone -q . "$R/root/aisle"
start=$(date +%s)
chroot "$R" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin PORT="${PORT:-18080}" \
  bash -c 'cd /root/aisle && bash scripts/demo.sh' > "$WORK/demo.out" 2> "$WORK/demo.err"
end=$(date +%s)
# apt's own log has the install's start and end; the build ends when aisle-server is written.
apt_end=$(date -d "$(grep End-Date "$R/var/log/apt/history.log" | tail -1 | cut -d' ' -f2-)" +%s)
built=$(stat -c %Y "$R/root/aisle/build/bin/aisle-server")
echo "demo: $((end - start)) s in all; apt-get $((apt_end - start)) s ($(du -sh "$R/var/cache/apt/archives" | cut -f1) of packages); build $((built - apt_end)) s; the rest $((end - built)) s"

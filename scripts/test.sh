#!/usr/bin/env bash
# `npm test`: type check, lint, then every test. Installs the Debian packages the tests drive when it can (root), otherwise names them.
set -euo pipefail
cd "$(dirname "$0")/.."

# command → Debian package providing it
declare -A NEEDS=(
  [chromium]=chromium
  [openssl]=openssl
  [sfdisk]=fdisk
  [mcopy]=mtools
  [mkfs.vfat]=dosfstools
  [debugfs]=e2fsprogs
  [mke2fs]=e2fsprogs
  [e2fsck]=e2fsprogs
  [mtype]=mtools
  [mdir]=mtools
  [dd]=coreutils
  [curl]=curl
  [xz]=xz-utils
  [dnsmasq]=dnsmasq-base
  [ip]=iproute2
  [qemu-system-aarch64]=qemu-system-arm
  [systemd-analyze]=systemd
  [bmaptool]=bmap-tools
  [zstd]=zstd
  [busybox]=busybox
  [mmdebstrap]=mmdebstrap
  [qemu-aarch64-static]=qemu-user-static
  [update-binfmts]=binfmt-support
  [fincore]=util-linux-extra
)
missing=()
for cmd in "${!NEEDS[@]}"; do command -v "$cmd" >/dev/null 2>&1 || missing+=("${NEEDS[$cmd]}"); done
if ((${#missing[@]})); then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    echo "Installing test dependencies: ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "Missing system packages for the tests: ${missing[*]}"
    echo "Install them with: sudo apt-get install -y ${missing[*]}"
    exit 1
  fi
fi

# The Debian master for the first-boot test is built by running arm64 maintainer scripts under qemu-user.
if [[ $(id -u) == 0 && ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]]; then
  [[ -e /proc/sys/fs/binfmt_misc/register ]] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  update-binfmts --enable qemu-aarch64
fi

npm run typecheck
npm run lint
npm run build
if (($#)); then
  npx vitest run "$@"
else
  npx vitest run
  # Network boot under emulation: slow, so it runs after everything else has passed.
  if [[ -f vitest.netboot.config.ts ]]; then npx vitest run --config vitest.netboot.config.ts; fi
fi

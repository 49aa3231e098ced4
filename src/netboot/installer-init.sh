#!/bin/sh
# Pitcrew installer /init — PID 1 of the network-booted installer (arm64 initramfs built by `pitcrew netboot build`).
# Brings the network up, finds the Pitcrew server on the kernel command line, fetches Node and the installer agent
# over HTTP from the device listener (not TFTP: too slow for ~40 MB, and older bootloaders cap files near 64 MiB),
# runs the agent, and retries with a clear console message whenever a step fails.
#
# Kernel command line:
#   pitcrew.server=http://10.42.0.1:5001   the device listener (default: the DHCP server's address, port 5001)
#   pitcrew.arg=--flag[=value]             one extra agent argument (repeatable)
#   pitcrew.iface=eth0                     use only this interface (default: every wired interface)
#   pitcrew.done=reboot|poweroff|halt      when the agent returns successfully without rebooting (default reboot)
#   pitcrew.retry=30                       seconds between attempts after a failure
#   pitcrew.shell                          open a shell on the console after a failure (for troubleshooting)
#   pitcrew.token=SECRET                   device token, when the server requires one (PITCREW_DEVICE_TOKEN)
# The agent reads its own pitcrew.* words too (pitcrew.target=, pitcrew.product=, pitcrew.venue=, pitcrew.token=, and on
# the USB installer stick pitcrew.stick= (its MBR disk identifier: never written) and pitcrew.stick-wait=).

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=linux
/bin/busybox mkdir -p /proc /sys /dev /run /tmp /usr/local/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=0755 tmpfs /run
exec </dev/console >/dev/console 2>&1

say() {
  echo "pitcrew: $*"
  echo "<5>pitcrew: $*" >/dev/kmsg 2>/dev/null
}
banner() {
  echo
  echo "================================================================"
  echo " Pitcrew installer — $*"
  echo "================================================================"
}

# The agent and operators expect plain `reboot`/`poweroff` to work; PID 1 here is this script, which ignores the
# signals BusyBox's versions send, so these call the kernel directly after flushing disks.
for action in reboot poweroff halt; do
  printf '#!/bin/sh\nsync\nexec /bin/busybox %s -f\n' "$action" >/usr/local/sbin/$action
  chmod 0755 /usr/local/sbin/$action
done

SERVER= IFACE= DONE=reboot RETRY=30 SHELL_ON_FAILURE= AGENT_ARGS= TOKEN=
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    pitcrew.server=*) SERVER="${arg#pitcrew.server=}" ;;
    pitcrew.arg=*) AGENT_ARGS="$AGENT_ARGS ${arg#pitcrew.arg=}" ;;
    pitcrew.iface=*) IFACE="${arg#pitcrew.iface=}" ;;
    pitcrew.done=*) DONE="${arg#pitcrew.done=}" ;;
    pitcrew.retry=*) RETRY="${arg#pitcrew.retry=}" ;;
    pitcrew.shell) SHELL_ON_FAILURE=1 ;;
    pitcrew.token=*) TOKEN="${arg#pitcrew.token=}" ;;
  esac
done
case "$RETRY" in ''|*[!0-9]*) RETRY=30 ;; esac
SERVER="${SERVER%/}"

banner "starting ($(uname -r), $(uname -m))"

# Kernel modules chosen for this kernel, in dependency order: none by default (Raspberry Pi kernels have their
# Ethernet, SD and NVMe drivers built in); those of `netboot prepare --kernel-modules` (a USB Ethernet adapter), in a
# folder per kernel release since a Pi 4 and a Pi 5 boot different kernels from the same initramfs.
for modules in "/usr/lib/modules/pitcrew/$(uname -r)" /usr/lib/modules/pitcrew; do
  [ -f "$modules/load.order" ] || continue
  while read -r module; do
    [ -n "$module" ] || continue
    insmod "$modules/$module" 2>/dev/null || say "could not load kernel module $module"
  done <"$modules/load.order"
  break
done

failure() {
  say "ERROR: $*"
  if [ -n "$SHELL_ON_FAILURE" ]; then
    say "pitcrew.shell is set: starting a shell; leave it to retry"
    setsid cttyhack sh
  fi
}

wait_retry() {
  say "retrying in $RETRY s"
  sleep "$RETRY"
}

list_interfaces() {
  if [ -n "$IFACE" ]; then echo "$IFACE"; return; fi
  for dev in /sys/class/net/*; do
    name="${dev##*/}"
    # Wired interfaces only: skip loopback, wireless and virtual devices without a backing device.
    [ "$name" = lo ] && continue
    [ -d "$dev/wireless" ] && continue
    [ -e "$dev/device" ] || continue
    echo "$name"
  done
}

bring_up_network() {
  interfaces="$(list_interfaces)"
  if [ -z "$interfaces" ]; then
    failure "no wired network interface found (is the Ethernet driver in the kernel?)"
    return 1
  fi
  for name in $interfaces; do
    ip link set "$name" up 2>/dev/null
  done
  for name in $interfaces; do
    say "asking for an address on $name (MAC $(cat /sys/class/net/$name/address 2>/dev/null))"
    # Returns once bound; udhcpc stays in the background and keeps the lease renewed (see the script).
    if /etc/pitcrew/udhcpc.script start "$name" >/tmp/udhcpc.log 2>&1; then
      read -r NET_IFACE NET_IP NET_MASK NET_ROUTER NET_DHCP_SERVER </run/pitcrew-net
      say "network up: $NET_IFACE $NET_IP/$NET_MASK"
      return 0
    fi
  done
  failure "no DHCP answer on: $interfaces (check the cable, and that Pitcrew's dnsmasq or the venue's DHCP server is running)"
  return 1
}

fetch() {
  # fetch URL FILE: the whole file or nothing. (BusyBox 1.35's own `wget -T` crashes; `timeout` bounds a stall.)
  rm -f "$2.part"
  if [ -n "$TOKEN" ]; then
    timeout 900 wget -q --header "X-Device-Token: $TOKEN" -O "$2.part" "$1"
  else
    timeout 900 wget -q -O "$2.part" "$1"
  fi
  if [ $? -eq 0 ]; then
    mv "$2.part" "$2"
    return 0
  fi
  rm -f "$2.part"
  return 1
}

fetch_installer() {
  mkdir -p /opt/pitcrew && cd /opt/pitcrew || return 1
  say "fetching the installer from $SERVER"
  if ! fetch "$SERVER/installer/SHA256SUMS" SHA256SUMS; then
    failure "cannot reach $SERVER/installer/ (is \`pitcrew serve\` running, and was \`pitcrew netboot build\` run?)"
    return 1
  fi
  for file in $(awk '{print $2}' SHA256SUMS); do
    if [ -f "$file" ] && grep " $file\$" SHA256SUMS | sha256sum -c -s; then continue; fi
    [ "$file" = node.gz ] && rm -f node
    say "downloading $file"
    if ! fetch "$SERVER/installer/$file" "$file"; then
      failure "download of $SERVER/installer/$file failed"
      return 1
    fi
    if ! grep " $file\$" SHA256SUMS | sha256sum -c -s; then
      failure "$file is damaged (SHA-256 mismatch)"
      rm -f "$file"
      return 1
    fi
  done
  if [ ! -x node ]; then
    gunzip -c node.gz >node.tmp && chmod 0755 node.tmp && mv node.tmp node || { failure "cannot unpack Node"; return 1; }
  fi
  NODE_VERSION="$(./node --version 2>&1)" || { failure "Node does not run here: $NODE_VERSION"; return 1; }
  say "installer ready (Node $NODE_VERSION)"
}

run_agent() {
  cd /opt/pitcrew || return 1
  banner "installing from $SERVER"
  # --set-clock: a Pi has no battery-backed clock and starts near 1970; the agent sets it from the server's Date
  # header before it logs or writes anything (files on the card, report timestamps).
  # shellcheck disable=SC2086 # AGENT_ARGS is a list of words from the kernel command line
  ./node pitcrew-agent.mjs --server "$SERVER" --set-clock $AGENT_ARGS
}

attempt=0
while :; do
  attempt=$((attempt + 1))
  [ "$attempt" -gt 1 ] && banner "attempt $attempt"
  if [ -z "$NET_IP" ] && ! bring_up_network; then wait_retry; continue; fi
  if [ -z "$SERVER" ]; then
    if [ "${NET_DHCP_SERVER:--}" = - ]; then
      failure "no pitcrew.server= on the kernel command line, and the DHCP answer named no server"
      wait_retry
      continue
    fi
    SERVER="http://${NET_DHCP_SERVER}:5001"
    say "no pitcrew.server= on the kernel command line; trying the DHCP server: $SERVER"
  fi
  if ! fetch_installer; then NET_IP=; wait_retry; continue; fi
  run_agent
  status=$?
  if [ "$status" -eq 0 ]; then
    banner "finished: $DONE"
    sync
    case "$DONE" in
      poweroff) exec /bin/busybox poweroff -f ;;
      halt) exec /bin/busybox halt -f ;;
      *) exec /bin/busybox reboot -f ;;
    esac
  fi
  failure "the installer stopped with exit code $status (the dashboard shows the reason)"
  wait_retry
done

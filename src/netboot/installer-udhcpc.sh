#!/bin/sh
# udhcpc hook inside the Pitcrew installer: applies the lease and records it for /init.
# No DNS is configured: the installer reaches the server by the address on the kernel command line.
#
# Also how /init starts DHCP: `udhcpc.script start IFACE` takes a lease (exit 1 when nobody answers, so /init can
# say so and retry), and udhcpc then stays in the background renewing it for the installer's whole life: a lease
# that ran out mid-install would let the DHCP server give this board's address to the next one.
RUN="${PITCREW_RUN_DIR:-/run}"
case "$1" in
  start)
    pidfile="$RUN/udhcpc.$2.pid"
    # Another attempt on this interface replaces the udhcpc of the last one.
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null
    # No -q: once bound, udhcpc forks to the background and renews at half the lease time (asking afresh should the
    # lease ever be lost); -n applies to this first lease only.
    exec udhcpc -i "$2" -n -t 5 -T 3 -x hostname:pitcrew-installer -p "$pidfile" -s "$0"
    ;;
  deconfig)
    ip -4 addr flush dev "$interface"
    ip link set "$interface" up
    ;;
  bound|renew)
    # A renewal that keeps the address leaves it (and the installer's connections) alone.
    if [ "$1" = bound ] || ! ip -4 addr show dev "$interface" | grep -q " $ip/"; then
      ip -4 addr flush dev "$interface"
      ip addr add "$ip/${mask:-24}" ${broadcast:+broadcast "$broadcast"} dev "$interface"
      for gateway in $router; do
        ip route add default via "$gateway" dev "$interface" && break
      done
    fi
    # One line of five words for /init; "-" stands for a value the lease did not carry (no gateway here).
    gateway="${router%% *}"
    server="${serverid:-$siaddr}"
    echo "$interface $ip ${mask:-24} ${gateway:--} ${server:--}" >"$RUN/pitcrew-net"
    ;;
esac
exit 0

#!/bin/sh
# udhcpc hook inside the Pitcrew installer: applies the lease and records it for /init.
# No DNS is configured: the installer reaches the server by the address on the kernel command line.
case "$1" in
  deconfig)
    ip -4 addr flush dev "$interface"
    ip link set "$interface" up
    ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" ${broadcast:+broadcast "$broadcast"} dev "$interface"
    for gateway in $router; do
      ip route add default via "$gateway" dev "$interface" && break
    done
    echo "$interface $ip ${mask:-24} ${router%% *} ${serverid:-${siaddr:-}}" >/run/pitcrew-net
    ;;
esac
exit 0

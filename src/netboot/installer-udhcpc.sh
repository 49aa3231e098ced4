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
    # One line of five words for /init; "-" stands for a value the lease did not carry (no gateway here).
    gateway="${router%% *}"
    server="${serverid:-$siaddr}"
    echo "$interface $ip ${mask:-24} ${gateway:--} ${server:--}" >/run/pitcrew-net
    ;;
esac
exit 0

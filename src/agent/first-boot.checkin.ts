// The first-boot check-in the installer adds to the written system: a POSIX shell script and a systemd unit that
// runs it once the network is up. On the unit's first boot the script reports hostname, serial, MAC, IP addresses,
// OS release, image version and uptime to POST /api/checkin (src/contracts/checkin.ts) with the deployment's
// one-time check-in token, retrying with growing pauses for the server's retry window, then removes itself and its
// unit (after success, a refusal, or the window), so it never runs again and its token leaves the card.
//
// It needs no Node, only what a Debian or Raspberry Pi OS system has: sh, sed, tr, sleep, and for HTTP curl, else
// wget (GNU or BusyBox), else bash's /dev/tcp for a plain http:// URL (bash is essential on Debian, so even a
// minimal debootstrap system can check in to an http:// server; https:// needs curl or wget). Addresses come from
// `ip` (iproute2), else `hostname -I`.
import type { ConfigResponse } from '../contracts/device-api.js';
import type { Ext4Change } from '../disk-layout/ext4.volume.js';

export const CHECKIN_SCRIPT_PATH = '/usr/local/lib/pitcrew/checkin.sh';
export const CHECKIN_UNIT_NAME = 'pitcrew-checkin.service';
export const CHECKIN_UNIT_PATH = `/etc/systemd/system/${CHECKIN_UNIT_NAME}`;
export const CHECKIN_WANTS_PATH = `/etc/systemd/system/multi-user.target.wants/${CHECKIN_UNIT_NAME}`;

export interface CheckinSetup {
  /** The full URL to POST to (the config answer's `checkin_url`). */
  url: string;
  deploymentId: number;
  token: string;
  imageVersion: string;
  /** How long the unit keeps trying, from its boot. */
  retryS: number;
  /** First pause between attempts; it doubles up to `maxDelayS`. */
  firstDelayS?: number;
  maxDelayS?: number;
}

/** The check-in a configuration answer asks for, or null from a server that predates it. */
export function checkinSetupOf(config: Pick<ConfigResponse, 'checkin_url' | 'checkin_token' | 'checkin_retry_s' | 'deployment_id' | 'version'>): CheckinSetup | null {
  if (!config.checkin_url || !config.checkin_token) return null;
  return { url: config.checkin_url, deploymentId: config.deployment_id, token: config.checkin_token, imageVersion: config.version, retryS: config.checkin_retry_s ?? 24 * 3600 };
}

/** A value as one single-quoted shell word. */
const shellWord = (value: string): string => `'${value.replace(/'/g, `'\\''`)}'`;

/**
 * The script. Everything it reads or removes sits under $PITCREW_CHECKIN_ROOT (empty on the unit), so it can be run
 * against a prepared tree: /etc/os-release, /proc/{uptime,stat,cpuinfo,sys/kernel/hostname}, /sys/class/net and
 * /sys/firmware/devicetree/base/serial-number.
 */
export function buildCheckinScript(setup: CheckinSetup): string {
  if (!/^https?:\/\/[^\s'"]+$/.test(setup.url)) throw new Error(`the check-in URL is not an http(s) URL: ${JSON.stringify(setup.url)}`);
  if (!Number.isSafeInteger(setup.deploymentId) || setup.deploymentId < 1) throw new Error(`bad deployment id ${setup.deploymentId}`);
  if (!/^[A-Za-z0-9_-]{16,128}$/.test(setup.token)) throw new Error('the check-in token is not a base64url secret');
  const whole = (n: number, what: string) => {
    if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${what} must be a whole number of seconds, at least 1`);
    return n;
  };
  return `#!/bin/sh
# Written by the Pitcrew installer: reports this unit's first boot to the Pitcrew server once, then removes
# itself and ${CHECKIN_UNIT_NAME}. Its journal: journalctl -u ${CHECKIN_UNIT_NAME}
CHECKIN_URL=${shellWord(setup.url)}
DEPLOYMENT_ID=${setup.deploymentId}
CHECKIN_TOKEN=${shellWord(setup.token)}
IMAGE_VERSION=${shellWord(setup.imageVersion)}
RETRY_S=${whole(setup.retryS, 'the retry window')}
FIRST_DELAY_S=${whole(setup.firstDelayS ?? 5, 'the first pause')}
MAX_DELAY_S=${whole(setup.maxDelayS ?? 300, 'the longest pause')}
ROOT="\${PITCREW_CHECKIN_ROOT:-}"
LC_ALL=C
export LC_ALL

log() { printf 'pitcrew-checkin: %s\\n' "$*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }

# A JSON string (or null for an empty value): backslashes and quotes escaped, control characters dropped.
json_str() {
  if [ -z "$1" ]; then printf 'null'; return; fi
  printf '"%s"' "$(printf '%s' "$1" | tr -d '\\000-\\037' | sed -e 's/\\\\/\\\\\\\\/g' -e 's/"/\\\\"/g')"
}

# Seconds since boot, whole: the clock may jump when NTP first syncs, the uptime does not.
uptime_s() { sed -n 's/^\\([0-9]*\\).*/\\1/p' "$ROOT/proc/uptime"; }

serial() {
  s=$(tr -d '\\000' <"$ROOT/sys/firmware/devicetree/base/serial-number" 2>/dev/null | tr -cd 'A-Za-z0-9')
  if [ -z "$s" ] || [ -z "$(printf '%s' "$s" | tr -d '0')" ]; then
    s=$(sed -n 's/^Serial[[:space:]]*:[[:space:]]*//p' "$ROOT/proc/cpuinfo" 2>/dev/null | head -n 1 | tr -cd 'A-Za-z0-9')
  fi
  [ -n "$(printf '%s' "$s" | tr -d '0')" ] && printf '%s' "$s"
}

# The MAC of the interface of the default route, else of the first interface that is not loopback.
mac() {
  dev=$(ip route show default 2>/dev/null | sed -n 's/.* dev \\([^ ]*\\).*/\\1/p' | head -n 1)
  for iface in $dev $(ls "$ROOT/sys/class/net" 2>/dev/null); do
    [ "$iface" = lo ] && continue
    m=$(cat "$ROOT/sys/class/net/$iface/address" 2>/dev/null)
    case $m in ??:??:??:??:??:??) [ "$m" != 00:00:00:00:00:00 ] && { printf '%s' "$m"; return; } ;; esac
  done
}

ip_list() {
  if have ip; then
    ip -o addr show scope global 2>/dev/null | sed -n 's/.* inet6\\{0,1\\} \\([^ /]*\\).*/\\1/p'
  elif have hostname; then
    hostname -I 2>/dev/null | tr ' ' '\\n'
  fi
}

facts() {
  ips=$(ip_list | sed '/^$/d' | head -n 32 | sed 's/.*/"&"/' | tr '\\n' ',' | sed 's/,$//')
  pretty=$(sed -n 's/^PRETTY_NAME=//p' "$ROOT/etc/os-release" 2>/dev/null | head -n 1 | sed -e 's/^"//' -e 's/"$//')
  btime=$(sed -n 's/^btime \\([0-9]*\\).*/\\1/p' "$ROOT/proc/stat" 2>/dev/null)
  printf '{"deployment_id":%s,"checkin_token":%s,"hostname":%s,"serial_number":%s,"mac_address":%s,"ip_addresses":[%s],"os_release":%s,"image_version":%s,"uptime_s":%s,"boot_time_unit_s":%s}' \\
    "$DEPLOYMENT_ID" "$(json_str "$CHECKIN_TOKEN")" "$(json_str "$(cat "$ROOT/proc/sys/kernel/hostname" 2>/dev/null || hostname)")" \\
    "$(json_str "$(serial)")" "$(json_str "$(mac)")" "$ips" "$(json_str "$pretty")" "$(json_str "$IMAGE_VERSION")" \\
    "$(uptime_s)" "\${btime:-null}"
}

# POSTs $1 to the check-in URL; prints the HTTP status, 000 when no answer came.
post() {
  if have curl; then
    # The body on stdin, so the token never shows in the process list.
    printf '%s' "$1" | curl -s -o /dev/null -w '%{http_code}' --connect-timeout 10 --max-time 30 -H 'Content-Type: application/json' --data-binary @- "$CHECKIN_URL"
  elif have wget; then
    # GNU wget would retry by itself; BusyBox's knows no --tries (nor --version), and 1.35's crashes on -T.
    if wget --version >/dev/null 2>&1; then limits='-T 30 --tries=1'; else limits=; fi
    limit=; have timeout && limit='timeout 40'
    $limit wget -S -q -O /dev/null $limits --header='Content-Type: application/json' --post-data="$1" "$CHECKIN_URL" 2>&1 \\
      | sed -n 's/^ *HTTP\\/[0-9.]* \\([0-9][0-9][0-9]\\).*/\\1/p' | tail -n 1
  elif have bash; then
    case $CHECKIN_URL in http://*) ;; *) log "no curl or wget for $CHECKIN_URL"; return ;; esac
    rest=\${CHECKIN_URL#http://}; hostport=\${rest%%/*}; path=/\${rest#*/}
    [ "$rest" = "$hostport" ] && path=/
    host=\${hostport%:*}; port=\${hostport##*:}
    [ "$host" = "$hostport" ] && port=80
    timeout 30 bash -c 'exec 3<>"/dev/tcp/$1/$2" || exit 1
      printf "POST %s HTTP/1.0\\r\\nHost: %s\\r\\nContent-Type: application/json\\r\\nContent-Length: %s\\r\\nConnection: close\\r\\n\\r\\n%s" "$3" "$4" "\${#5}" "$5" >&3
      read -r _ status _ <&3 && printf "%s" "$status"' checkin "$host" "$port" "$path" "$hostport" "$1" 2>/dev/null
  else
    log 'no HTTP client: neither curl, wget nor bash'
  fi
}

remove_self() {
  rm -f "$ROOT${CHECKIN_WANTS_PATH}" "$ROOT${CHECKIN_UNIT_PATH}" "$ROOT${CHECKIN_SCRIPT_PATH}"
}

delay=$FIRST_DELAY_S
started=$(uptime_s)
attempt=1
while :; do
  status=$(post "$(facts)")
  case \${status:-000} in
    2??) log "checked in as deployment $DEPLOYMENT_ID (attempt $attempt)"; break ;;
    409) log "the server already has this unit's check-in (HTTP 409)"; break ;;
    408|429) log "the server is busy (HTTP $status)" ;;
    4??) log "the server refused the check-in (HTTP $status); giving up"; break ;;
    000) log "no answer from $CHECKIN_URL (attempt $attempt)" ;;
    *) log "the server answered HTTP $status (attempt $attempt)" ;;
  esac
  if [ $(( $(uptime_s) - started + delay )) -gt "$RETRY_S" ]; then
    log "no check-in within $RETRY_S s; giving up"
    break
  fi
  sleep "$delay"
  delay=$((delay * 2)); [ "$delay" -gt "$MAX_DELAY_S" ] && delay=$MAX_DELAY_S
  attempt=$((attempt + 1))
done
remove_self
exit 0
`;
}

/** Started once the network is up; not ordered before anything, so a long retry window delays no other unit. */
export function buildCheckinUnit(): string {
  return `[Unit]
Description=Pitcrew first-boot check-in
Wants=network-online.target
After=network-online.target
ConditionPathExists=${CHECKIN_SCRIPT_PATH}

[Service]
Type=simple
ExecStart=/bin/sh ${CHECKIN_SCRIPT_PATH}

[Install]
WantedBy=multi-user.target
`;
}

/** What the customizer writes on the root filesystem: the script (0700: it holds the token), the unit, its enabling link. */
export function checkinChanges(setup: CheckinSetup): Ext4Change[] {
  return [
    { kind: 'file', path: CHECKIN_SCRIPT_PATH, content: buildCheckinScript(setup), mode: 0o700 },
    { kind: 'file', path: CHECKIN_UNIT_PATH, content: buildCheckinUnit(), mode: 0o644 },
    { kind: 'symlink', path: CHECKIN_WANTS_PATH, target: CHECKIN_UNIT_PATH },
  ];
}

// First-boot check-in: the installed system's one report to the server, sent by the script the installer adds to
// the card (src/agent/first-boot.checkin.ts) on its first boot, to POST /api/checkin on the device listener.
import { Type, type Static } from 'typebox';
import { LIMITS, RowId } from './domain.js';
import { MAC_PATTERN } from './device-api.js';

const Text = (maxLength: number) => Type.Union([Type.String({ maxLength }), Type.Null()]);

export const CheckinRequest = Type.Object(
  {
    deployment_id: RowId(),
    /** The `checkin_token` of the configuration answer: good for one check-in of this deployment. */
    checkin_token: Type.String({ minLength: 16, maxLength: 128 }),
    hostname: Type.String({ minLength: 1, maxLength: 64 }),
    serial_number: Text(64),
    mac_address: Type.Union([Type.String({ pattern: MAC_PATTERN }), Type.Null()]),
    /** Every global address of the unit, IPv4 and IPv6, without prefix length. */
    ip_addresses: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 32 }),
    /** PRETTY_NAME of /etc/os-release. */
    os_release: Text(200),
    /** The image version the installer wrote (baked into the script). */
    image_version: Text(200),
    /** Seconds since the unit's kernel started (/proc/uptime): the server dates the boot by its own clock with it. */
    uptime_s: Type.Number({ minimum: 0, maximum: LIMITS.seconds }),
    /** The boot time by the unit's own clock (/proc/stat btime, Unix seconds): a Pi without RTC may be far off. */
    boot_time_unit_s: Type.Union([Type.Integer({ minimum: 0, maximum: 2 ** 40 }), Type.Null()]),
  },
  { additionalProperties: false },
);
export type CheckinRequest = Static<typeof CheckinRequest>;

export const CheckinResponse = Type.Object({
  received: Type.Literal(true),
  deployment_id: Type.Integer(),
  hostname: Type.String(),
  booted_at: Type.String(),
});
export type CheckinResponse = Static<typeof CheckinResponse>;

/** What a deployment's system reported on its first boot, as stored and shown. */
export const DeploymentCheckin = Type.Object({
  deployment_id: Type.Integer(),
  received_at: Type.String(),
  booted_at: Type.String(),
  /** The address the check-in came from, as the server saw it. */
  source_ip: Type.Union([Type.String(), Type.Null()]),
  hostname: Type.String(),
  serial_number: Type.Union([Type.String(), Type.Null()]),
  mac_address: Type.Union([Type.String(), Type.Null()]),
  ip_addresses: Type.Array(Type.String()),
  os_release: Type.Union([Type.String(), Type.Null()]),
  image_version: Type.Union([Type.String(), Type.Null()]),
  boot_time_unit: Type.Union([Type.String(), Type.Null()]),
});
export type DeploymentCheckin = Static<typeof DeploymentCheckin>;
/** GET /api/deployments/:id/checkin: null until the written system checked in. */
export const DeploymentCheckinAnswer = Type.Object({ checkin: Type.Union([DeploymentCheckin, Type.Null()]) });
export type DeploymentCheckinAnswer = Static<typeof DeploymentCheckinAnswer>;

/** Why a card that was written and verified may not have checked in, most likely first. */
export const NOT_BOOTED_CAUSES: readonly string[] = [
  'The board does not start from the card: check its boot order (an NVMe drive or USB disk may be tried first and take over).',
  'The unit booted on a network that cannot reach the check-in address (PITCREW_CHECKIN_URL): check the venue network or the setting.',
  'The unit has not been powered on with the card yet, or lost power while starting.',
  'The master image itself does not boot on this board: try another unit of the batch, then the image.',
];

/**
 * Written vs booted, as the dashboard and history show a deployment: `booted` (it checked in), `not-booted` (past
 * its deadline without a word), `awaiting` (written, its deadline still ahead), `no-checkin` (completed by an
 * installer that added none), null while it is not completed (a check-in may still come from a card whose final
 * report was lost: then `booted`).
 */
export const BOOT_STATES = ['booted', 'awaiting', 'not-booted', 'no-checkin'] as const;
export type BootState = (typeof BOOT_STATES)[number];

export function bootStateOf(d: { status: string; booted_at: string | null; checkin_due_at: string | null }, nowMs: number): BootState | null {
  if (d.booted_at) return 'booted';
  if (d.status !== 'completed') return null;
  if (!d.checkin_due_at) return 'no-checkin';
  return nowMs >= Date.parse(d.checkin_due_at) ? 'not-booted' : 'awaiting';
}

// Card identity and health: what the installer reports about the card it wrote, and the rules that flag a card
// an operator should look at. One rule for the server, the dashboard and the tests.
import { Type, type Static } from 'typebox';
import { CAPACITY_CHECKS, CARD_KINDS, LIMITS, type CapacityCheck, type Deployment } from './domain.js';

export { CAPACITY_CHECKS, CARD_KINDS, type CapacityCheck, type CardKind } from './domain.js';

const text = (maxLength: number) => Type.Union([Type.String({ maxLength }), Type.Null()]);

/** What the card says it is: SD cards through their CID register, NVMe drives through their controller. */
export const CardIdentity = Type.Object(
  {
    kind: Type.Enum(CARD_KINDS),
    /** Decoded where the manufacturer id is well known (SD_MANUFACTURERS), else the id itself ("0x0000ab"). */
    manufacturer: text(64),
    /** SD product name (5 characters), NVMe model. */
    name: text(64),
    serial: text(64),
    /** The SD card's raw CID register, 32 hex digits. */
    cid: Type.Optional(Type.Union([Type.String({ pattern: '^[0-9a-fA-F]{32}$' }), Type.Null()])),
    size_bytes: Type.Integer({ minimum: 0, maximum: LIMITS.bytes }),
    capacity_check: Type.Optional(Type.Union([Type.Enum(CAPACITY_CHECKS), Type.Null()])),
  },
  { additionalProperties: false },
);
export type CardIdentity = Static<typeof CardIdentity>;

/**
 * SD manufacturer ids (the CID's MID byte, `/sys/block/mmcblk0/device/manfid`) of the brands met on a workshop
 * floor, as the SD Association assigned them and as Linux's mmc driver and card readers report them. An id of 0 is
 * never assigned: counterfeit cards often carry it.
 */
export const SD_MANUFACTURERS: Readonly<Record<number, string>> = {
  0x01: 'Panasonic',
  0x02: 'Toshiba (Kioxia)',
  0x03: 'SanDisk',
  0x1b: 'Samsung',
  0x1d: 'ADATA',
  0x27: 'Phison',
  0x28: 'Lexar',
  0x31: 'Silicon Power',
  0x41: 'Kingston',
  0x74: 'Transcend',
  0x76: 'Patriot',
  0x82: 'Sony',
};

/** "SanDisk" for 0x000003; "unknown (0x0000ab)" for an id not in the table; null for no id at all. */
export function describeSdManufacturer(manfid: string | null): string | null {
  if (!manfid || !/^(0x)?[0-9a-f]{1,6}$/i.test(manfid.trim())) return null;
  const id = Number.parseInt(manfid.trim().replace(/^0x/i, ''), 16);
  const hex = `0x${id.toString(16).padStart(6, '0')}`;
  if (id === 0) return `none (${hex}, typical of counterfeit cards)`;
  return SD_MANUFACTURERS[id] ?? `unknown (${hex})`;
}

/** Recent completed deployments the fleet's median write rate is taken over, and the fewest that make it mean anything. */
export const FLEET_RATE_SAMPLE = 50;
export const FLEET_RATE_MIN_SAMPLES = 5;
/** A card writing at less than this share of the fleet's median is flagged slow (a worn or fake card, or a bad reader). */
export const SLOW_CARD_SHARE = 0.5;

/**
 * Nominal capacities cards are sold at (decimal GB), and how far a real card's size lies from its label: a little
 * under it (the controller keeps spare blocks), up to about 12 % for small cards, and a hair over it for some
 * (a Samsung EVO "64 GB" holds 64.02 GB).
 */
const NOMINAL_GB = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000, 1024, 2000, 2048];
const NOMINAL_LOW = 0.88;
const NOMINAL_HIGH = 1.01;

/** True when `sizeBytes` is what some card sold as a standard size would hold. */
export function isStandardCapacity(sizeBytes: number): boolean {
  return NOMINAL_GB.some((gb) => sizeBytes >= gb * 1e9 * NOMINAL_LOW && sizeBytes <= gb * 1e9 * NOMINAL_HIGH);
}

/**
 * The capacity check's findings that prove a card counterfeit: it showed the card holding less than it claims. Not a
 * size no card is sold at (a guess), and not a slow card (worn as often as fake): those stay flags on the device.
 */
export const COUNTERFEIT_CAPACITY_CHECKS = ['wrapped', 'lost'] as const satisfies readonly CapacityCheck[];

export const isProvenCounterfeit = (d: { card_capacity_check?: CapacityCheck | null }): boolean =>
  (COUNTERFEIT_CAPACITY_CHECKS as readonly (CapacityCheck | null | undefined)[]).includes(d.card_capacity_check);

/** What the card flags and the "needs attention" lane say of a card proven counterfeit. */
export const COUNTERFEIT_CARD_SENTENCE = 'The card holds less than it claims (data written near its end did not come back): a counterfeit card. Replace it and re-image.';

export type CardFlagKind = 'slow' | 'capacity';
export interface CardFlag {
  kind: CardFlagKind;
  sentence: string;
}

type CardFields = Pick<Deployment, 'card_kind' | 'card_size_bytes' | 'card_capacity_check' | 'card_write_bps' | 'fleet_median_write_bps'>;

/**
 * The median of the fleet's write rates, or null with fewer than FLEET_RATE_MIN_SAMPLES usable ones (zero,
 * negative and non-finite rates are no measurement).
 */
export function fleetMedian(rates: readonly number[]): number | null {
  const usable = rates.filter((rate) => Number.isFinite(rate) && rate > 0).sort((a, b) => a - b);
  if (usable.length < FLEET_RATE_MIN_SAMPLES) return null;
  const middle = usable.length >> 1;
  return usable.length % 2 ? usable[middle]! : (usable[middle - 1]! + usable[middle]!) / 2;
}

/** The share of the fleet's median this card wrote at, or null where either is unknown. */
export function writeRateShare(d: Pick<CardFields, 'card_write_bps' | 'fleet_median_write_bps'>): number | null {
  if (d.card_write_bps === null || d.fleet_median_write_bps === null || d.fleet_median_write_bps <= 0 || d.card_write_bps < 0) return null;
  return d.card_write_bps / d.fleet_median_write_bps;
}

/**
 * Why a card deserves a second look: it wrote much slower than the fleet, or it holds less than it claims. The
 * capacity check's own finding decides where there is one; a card the check could not run on is flagged only
 * when its size is no size cards are sold at.
 */
export function cardFlagsOf(d: CardFields): CardFlag[] {
  const flags: CardFlag[] = [];
  const share = writeRateShare(d);
  if (share !== null && share < SLOW_CARD_SHARE) {
    flags.push({ kind: 'slow', sentence: `The card wrote at ${Math.round(share * 100)} % of the fleet's usual rate: it is worn, fake or in a poor reader. Replace it before it fails in the field.` });
  }
  if (isProvenCounterfeit(d)) {
    flags.push({ kind: 'capacity', sentence: COUNTERFEIT_CARD_SENTENCE });
  } else if (d.card_capacity_check !== 'ok' && d.card_kind === 'sd' && d.card_size_bytes !== null && d.card_size_bytes > 0 && !isStandardCapacity(d.card_size_bytes)) {
    flags.push({ kind: 'capacity', sentence: 'The card reports a size no card is sold at: it may be counterfeit. Check it, or replace it.' });
  }
  return flags;
}

/** How long the activity LED blinks for one Identify, and the longest an operator may ask for. */
export const IDENTIFY_DEFAULT_S = 30;
export const IDENTIFY_MAX_S = 300;

export const IdentifyRequest = Type.Object(
  { seconds: Type.Optional(Type.Integer({ minimum: 1, maximum: IDENTIFY_MAX_S })) },
  { additionalProperties: false },
);
export type IdentifyRequest = Static<typeof IdentifyRequest>;

/** The instruction a status answer carries. */
export const IdentifyInstruction = Type.Object({ seconds: Type.Integer({ minimum: 1, maximum: IDENTIFY_MAX_S }) });
export type IdentifyInstruction = Static<typeof IdentifyInstruction>;

export type IdentifyState = 'pending' | 'blinking' | null;

/** Whether an Identify waits for the device's next status answer, blinks now, or neither (at `nowMs`). */
export function identifyStateOf(d: Pick<Deployment, 'identify_requested_at' | 'identify_seconds' | 'identify_delivered_at'>, nowMs: number): IdentifyState {
  if (!d.identify_requested_at) return null;
  if (!d.identify_delivered_at || d.identify_delivered_at < d.identify_requested_at) return 'pending';
  return Date.parse(d.identify_delivered_at) + (d.identify_seconds ?? IDENTIFY_DEFAULT_S) * 1000 > nowMs ? 'blinking' : null;
}

/** The installer's log as the server keeps it: the whole log after a failure, the last lines after a success. */
export const LOG_UPLOAD_MAX_BYTES = 256 * 1024;
export const LOG_TAIL_MAX_BYTES = 8 * 1024;

export const LogUpload = Type.Object(
  {
    deployment_token: Type.Optional(Type.Union([Type.String({ maxLength: 128 }), Type.Null()])),
    log: Type.String({ maxLength: LOG_UPLOAD_MAX_BYTES }),
    /** The installer dropped its oldest lines to stay within the bound. */
    truncated: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type LogUpload = Static<typeof LogUpload>;

export const DeploymentLog = Type.Object({
  deployment_id: Type.Integer(),
  kind: Type.Union([Type.Literal('full'), Type.Literal('tail')]),
  text: Type.String(),
  truncated: Type.Boolean(),
  received_at: Type.String(),
});
export type DeploymentLog = Static<typeof DeploymentLog>;

// Which devices need a person on a busy floor, and what to tell that person. One rule for the server (the
// `attention` filter), the dashboard's lane and the tests.
import { FINAL_DEPLOYMENT_STATUSES, type AttentionResolution, type Deployment } from './domain.js';
import { cardFlagsOf, COUNTERFEIT_CARD_SENTENCE, isProvenCounterfeit } from './card-health.js';
import { bootStateOf } from './checkin.js';
import type { InstallerErrorCode } from './installer-errors.js';

/**
 * An open deployment with no report for this long is "stalled". The installer reports once a second while anything
 * changes and repeats its last report every 30 s through a long fsync or customisation step (status.reporter.ts
 * keepAliveMs), so three missed keep-alives are no hiccup; yet it is far shorter than the stale sweep (10 minutes by
 * default), which closes the record as failed for good.
 */
export const STALLED_AFTER_S = 90;

/** What an operator may ask for; `reimaged` only the server records. */
export const OPERATOR_RESOLUTIONS = ['acknowledged', 'reimage'] as const satisfies readonly AttentionResolution[];
export type OperatorResolution = (typeof OPERATOR_RESOLUTIONS)[number];

export type AttentionReason = 'failed' | 'stalled' | 'not-booted' | 'counterfeit-card';

type AttentionFields = Pick<Deployment, 'status' | 'updated_at' | 'attention_resolved_at'> &
  Partial<Pick<Deployment, 'checkin_due_at' | 'booted_at' | 'attention_resolution' | 'completed_at' | 'card_capacity_check'>>;

/**
 * Written and verified, expecting a first-boot check-in (`checkin_due_at` set), past that deadline and still silent.
 * The deadline is PITCREW_BOOT_DEADLINE_S after completion; the server stores the instant, so every reader agrees.
 */
export const isNotBooted = (d: Pick<AttentionFields, 'status' | 'checkin_due_at' | 'booted_at'>, nowMs: number): boolean =>
  bootStateOf({ status: d.status, booted_at: d.booted_at ?? null, checkin_due_at: d.checkin_due_at ?? null }, nowMs) === 'not-booted';

const isOpen = (d: Pick<Deployment, 'status'>) => !FINAL_DEPLOYMENT_STATUSES.includes(d.status);

/**
 * Written and verified on a card the installer's capacity check proved counterfeit (it writes such a card all the
 * same): the board looks finished and would lose data in the field.
 */
export const isWrittenOnCounterfeitCard = (d: Pick<AttentionFields, 'status' | 'card_capacity_check'>): boolean => d.status === 'completed' && isProvenCounterfeit(d);

/**
 * Why a deployment needs a hand at `nowMs`, or null. A failure, a card written but not booted, or one written on a
 * counterfeit card stays until resolved (or the check-in arrives), however old; a stall is over when the device
 * reports again, and an acknowledgement covers the silence it was given for, not a later one.
 *
 * A counterfeit card past its check-in deadline and still silent is `not-booted` first: a board that never started
 * is the bigger problem, and its sentences still name the card. When that silence counts as resolved (by its own rule,
 * unchanged), so does the card: an acknowledgement after the deadline came after the card was written, and a
 * re-image covers both.
 */
export function attentionReasonOf(d: AttentionFields, nowMs: number): AttentionReason | null {
  if (isNotBooted(d, nowMs)) {
    // Only an acknowledgement given for this silence counts (not one for a stall while it installed); a re-image always.
    const resolved = d.attention_resolved_at !== null && (d.attention_resolution === 'reimaged' || d.attention_resolved_at >= d.checkin_due_at!);
    return resolved ? null : 'not-booted';
  }
  if (d.status === 'failed') return d.attention_resolved_at === null ? 'failed' : null;
  if (isWrittenOnCounterfeitCard(d)) {
    // Resolved by a re-image, or an acknowledgement given once the card was written: not one given for a stall while
    // it installed, nor for the stale sweep's failure its final report overruled. Nobody had seen the card then.
    const resolved = d.attention_resolved_at !== null && (d.attention_resolution === 'reimaged' || !d.completed_at || d.attention_resolved_at >= d.completed_at);
    return resolved ? null : 'counterfeit-card';
  }
  if (!isOpen(d)) return null;
  const silentForMs = nowMs - Date.parse(d.updated_at);
  if (silentForMs < STALLED_AFTER_S * 1000) return null;
  return d.attention_resolved_at !== null && d.attention_resolved_at >= d.updated_at ? null : 'stalled';
}

/** The installer's failure kinds (src/agent/installer.errors.ts) and the server's own, as an operator meets them. */
export type FailureKind =
  | 'verify'
  | 'corrupt-download'
  | 'image-changed'
  | 'write-protected'
  | 'card-too-small'
  | 'no-card'
  | 'boot-order'
  | 'target'
  | 'io'
  | 'customize'
  | 'silent'
  | 'network'
  | 'refused'
  | 'incompatible'
  | 'unknown';

/**
 * Recognised by the words of the messages (installers older than `error_code` send only those, and codes such as
 * TARGET cover failures an operator mends differently), most specific first. Each sentence says what happened and
 * what to do, for someone who never read the installer's code.
 */
const FAILURE_PATTERNS: ReadonlyArray<{ kind: FailureKind; pattern: RegExp; sentence: string }> = [
  { kind: 'silent', pattern: /^No report from the device for /, sentence: 'The device went silent: check its power and network cable, then re-image it.' },
  { kind: 'verify', pattern: /read-back verification failed|the card failed verification|the disk ends at byte/i, sentence: 'The card failed verification: what was read back is not what was written. Replace the card and re-image.' },
  { kind: 'write-protected', pattern: /write-protected/i, sentence: 'The card is write-protected: slide its lock switch back (or use another card) and re-image.' },
  { kind: 'card-too-small', pattern: /does not fit the target|but the image needs|too small/i, sentence: 'The card is too small for the image: use a larger card and re-image.' },
  { kind: 'no-card', pattern: /no disk this board can boot from/i, sentence: 'No card or drive was found on the board: insert one and re-image.' },
  { kind: 'boot-order', pattern: /BOOT_ORDER|cannot tell which one the board boots|name one with pitcrew\.target/, sentence: 'The board would not start from where the image would go: fix its boot order or name the target disk, then re-image.' },
  { kind: 'image-changed', pattern: /image changed during the installation|chunks changed or were removed/i, sentence: 'The master image changed while this device was installing: re-image it.' },
  { kind: 'corrupt-download', pattern: /arrived corrupt|checksum|sha-?256 mismatch/i, sentence: 'The image kept arriving corrupt: check the network cable and switch port, then re-image.' },
  { kind: 'io', pattern: /^(writing|reading back) (the target|\S+) at byte|short read of|O_DIRECT/, sentence: 'Writing to or reading from the card failed: reseat or replace the card and re-image.' },
  { kind: 'target', pattern: /^(the target|cannot open the target|cannot tell the (size|logical sector size))|refusing to overwrite|the bootloader cannot start a system/i, sentence: 'The installer could not use the card: check that it is seated and not in use, then re-image.' },
  { kind: 'refused', pattern: /server refused a configuration|has closed this deployment/i, sentence: 'The server turned the device away: see the details (no active image or no names left?), fix that, then re-image.' },
  { kind: 'incompatible', pattern: /malformed|not JSON|not a valid host name|unsupported URL scheme|announce answer/i, sentence: 'The installer did not understand the server: installer and server versions may not match. Update, then re-image.' },
  { kind: 'customize', pattern: /boot partition|root filesystem|cmdline\.txt|firstrun|cloud-config|debugfs|mcopy|root:|boot:\/|hostname/i, sentence: 'The image was written but its hostname could not be set for first boot: check the master image, then re-image.' },
  { kind: 'network', pattern: /could not be fetched|HTTP \d{3}|ECONN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|socket hang up|timed out|stalled|no data for/i, sentence: 'The device lost the server: check its network cable and the server, then re-image.' },
];

const UNKNOWN_FAILURE = 'The installation failed: open the details for the installer\'s own words, then re-image.';

/** Codes that name one kind whatever their message says; the others (TARGET, IO, HTTP …) are told apart by the words. */
const KIND_OF_CODE: Partial<Record<InstallerErrorCode, FailureKind>> = {
  VERIFY_MISMATCH: 'verify',
  CHECKSUM_MISMATCH: 'corrupt-download',
  IMAGE_CHANGED: 'image-changed',
  CUSTOMIZE: 'customize',
  CONFIG_REFUSED: 'refused',
  DEPLOYMENT_CLOSED: 'refused',
  NETWORK: 'network',
};

/** A plain sentence for a failed deployment (its installer's code where that decides, else its message), and the kind it was recognised as. */
export function describeFailure(errorMessage: string | null, errorCode: string | null = null): { kind: FailureKind; sentence: string } {
  const byCode = errorCode === null ? undefined : KIND_OF_CODE[errorCode as InstallerErrorCode];
  const text = errorMessage ?? '';
  const match = byCode ? FAILURE_PATTERNS.find(({ kind }) => kind === byCode) : FAILURE_PATTERNS.find(({ pattern }) => pattern.test(text));
  return match ? { kind: match.kind, sentence: match.sentence } : { kind: 'unknown', sentence: UNKNOWN_FAILURE };
}

/** What an open device has been silent for, as the lane says it. */
export const describeStall = (silentForS: number): string =>
  `No report for ${silentForS >= 120 ? `${Math.floor(silentForS / 60)} minutes` : `${Math.round(silentForS)} seconds`}: check the board's power and network cable. The server gives up on it after its stale timeout.`;

/** What a written card's silence past its check-in deadline means, as the lane says it. */
export const describeNotBooted = (completedAt: string | null, nowMs: number): string => {
  const minutes = completedAt ? Math.max(0, Math.floor((nowMs - Date.parse(completedAt)) / 60_000)) : null;
  return `Written and verified${minutes === null ? '' : ` ${minutes >= 120 ? `${Math.floor(minutes / 60)} hours` : `${minutes} minutes`} ago`}, but the system never checked in from its first boot: check the board's boot order, that it can reach the check-in address, and the master image, then re-image it if it does not start.`;
};

/**
 * Everything the lane says of a device needing a hand: what happened, then what its card's measurements add (a
 * card far slower than the fleet, or holding less than it claims, explains many a failure and outlives a re-image).
 * For a counterfeit card, what happened is the card: its flag's sentence comes first, and only once.
 */
export function attentionSentences(
  d: AttentionFields & Pick<Deployment, 'error_message' | 'error_code' | 'completed_at'> & Parameters<typeof cardFlagsOf>[0],
  reason: AttentionReason,
  nowMs: number,
): string[] {
  const first =
    reason === 'failed' ? describeFailure(d.error_message, d.error_code).sentence
    : reason === 'not-booted' ? describeNotBooted(d.completed_at, nowMs)
    : reason === 'counterfeit-card' ? COUNTERFEIT_CARD_SENTENCE
    : describeStall((nowMs - Date.parse(d.updated_at)) / 1000);
  return [first, ...cardFlagsOf(d).map((flag) => flag.sentence).filter((sentence) => sentence !== first)];
}

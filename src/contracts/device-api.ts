// The device listener's payloads. Compatible with the original Python installer: it sends null for what it
// does not know and a numeric timestamp, and reads `version` from the config answer.
import { Type, type Static } from 'typebox';
import { LIMITS, ProductType, REPORTABLE_STATUSES, RowId } from './domain.js';
import { GeneralizationReport } from './generalization.js';
import { DeviceProvisioning } from './provisioning-profile.js';
import { CardIdentity, IdentifyInstruction, LOG_TAIL_MAX_BYTES } from './card-health.js';
import { ERROR_CODE_PATTERN } from './installer-errors.js';

const Optional = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Optional(Type.Union([schema, Type.Null()]));

export const MAC_PATTERN = '^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$';

export const ConfigRequest = Type.Object(
  {
    product_type: Optional(ProductType),
    venue_code: Optional(Type.String({ maxLength: 16 })),
    serial_number: Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9]+$' })),
    mac_address: Optional(Type.String({ pattern: MAC_PATTERN })),
    model: Optional(Type.String({ maxLength: 200 })),
    timestamp: Optional(Type.Union([Type.Number(), Type.String({ maxLength: 64 })])),
  },
  { additionalProperties: false },
);
export type ConfigRequest = Static<typeof ConfigRequest>;

/**
 * Headers an installer sends with every request for its image on the device listener (raw image, manifest, chunks):
 * the deployment of its configuration answer and that answer's `deployment_token`. A wrong token is refused (403); a
 * missing one only where the operator requires tokens (PITCREW_REQUIRE_DEPLOYMENT_TOKEN, 401). Never sent to peers.
 */
export const DEPLOYMENT_ID_HEADER = 'x-pitcrew-deployment-id';
export const DEPLOYMENT_TOKEN_HEADER = 'x-pitcrew-deployment-token';

export const ConfigResponse = Type.Object({
  hostname: Type.String(),
  product_type: ProductType,
  venue_code: Type.String(),
  image_url: Type.String(),
  image_size: Type.Integer({ minimum: 0, maximum: LIMITS.bytes }),
  image_checksum: Type.String({ description: 'SHA-256 of the image, hex' }),
  version: Type.String(),
  timestamp: Type.String(),
  deployment_id: RowId(),
  batch_id: Type.Union([RowId(), Type.Null()]),
  /** Where to send status reports; the same listener that answered. */
  status_url: Type.String(),
  /**
   * Image delivery v2: the image's chunk manifest (`ImageManifest`), or null where the server has not built its
   * chunks yet. Installers that know it fetch only the mapped, compressed chunks; v1 installers ignore it.
   */
  image_manifest_url: Type.Union([Type.String(), Type.Null()]),
  /**
   * A secret for this deployment alone: later status reports send it back as `deployment_token`, so nobody else on
   * the device network can report for this device. Installers that predate it ignore it (unless the server requires
   * it: PITCREW_REQUIRE_DEPLOYMENT_TOKEN).
   */
  deployment_token: Type.Optional(Type.String({ minLength: 16, maxLength: 128 })),
  /**
   * One-to-many delivery: where to announce the chunks held and learn peers (`PeerAnnounce`); null or absent where
   * it is off (its batch, the server, or an image without chunks). Installers that predate it ignore it.
   */
  peer_announce_url: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  /**
   * Make each card a machine of its own before first boot (new machine-id and SSH host keys, no leases, logs or
   * histories of the master): the image's switch, on by default. Installers that predate it do not generalise;
   * installers that know it treat its absence (an older server) as on.
   */
  generalize: Type.Optional(Type.Boolean()),
  /**
   * The provisioning profile for this device (Wi-Fi, SSH keys, user, time zone, keyboard, locale, files, first-boot
   * commands), its variables already substituted; null or absent when its venue has none. The deployment records the
   * revision. Installers that predate it ignore it.
   */
  provisioning: Type.Optional(Type.Union([DeviceProvisioning, Type.Null()])),
  /**
   * First-boot check-in (src/contracts/checkin.ts): where the installed system reports once it has booted (its own
   * setting, PITCREW_CHECKIN_URL: the unit may boot on the venue network), a one-time secret for that report
   * (distinct from `deployment_token`, which never leaves the installer's memory), and how long the unit keeps
   * trying. Installers that predate it add no check-in.
   */
  checkin_url: Type.Optional(Type.String()),
  checkin_token: Type.Optional(Type.String({ minLength: 16, maxLength: 128 })),
  checkin_retry_s: Type.Optional(Type.Integer({ minimum: 1, maximum: LIMITS.seconds })),
});
export type ConfigResponse = Static<typeof ConfigResponse>;

export const StatusRequest = Type.Object(
  {
    status: Type.Enum(REPORTABLE_STATUSES),
    hostname: Optional(Type.String({ maxLength: 64 })),
    serial: Optional(Type.String({ maxLength: 64 })),
    serial_number: Optional(Type.String({ maxLength: 64 })),
    mac_address: Optional(Type.String({ pattern: MAC_PATTERN })),
    deployment_id: Optional(RowId()),
    /** The `deployment_token` of the configuration answer. */
    deployment_token: Optional(Type.String({ maxLength: 128 })),
    progress: Optional(Type.Number({ minimum: 0, maximum: 100 })),
    bytes_done: Optional(Type.Integer({ minimum: 0, maximum: LIMITS.bytes })),
    bytes_total: Optional(Type.Integer({ minimum: 0, maximum: LIMITS.bytes })),
    rate_bps: Optional(Type.Integer({ minimum: 0, maximum: LIMITS.rateBps })),
    /** Seconds the device expects to need for what is left of its current phase. */
    eta_s: Optional(Type.Integer({ minimum: 0, maximum: LIMITS.seconds })),
    /** One-to-many delivery: compressed chunk bytes received so far from other devices, and from the server. */
    bytes_from_peers: Optional(Type.Integer({ minimum: 0, maximum: LIMITS.bytes })),
    bytes_from_server: Optional(Type.Integer({ minimum: 0, maximum: LIMITS.bytes })),
    message: Optional(Type.String({ maxLength: 2000 })),
    error_message: Optional(Type.String({ maxLength: 2000 })),
    /** With a failure: the installer's code for it (src/contracts/installer-errors.ts). */
    error_code: Optional(Type.String({ pattern: ERROR_CODE_PATTERN })),
    ip_address: Optional(Type.String({ maxLength: 64 })),
    /** The final report of a generalised installation: each step, done or skipped and why. */
    generalization: Optional(GeneralizationReport),
    /** The card written, once known (src/contracts/card-health.ts). */
    card: Optional(CardIdentity),
    /** The card's measured write and read-back rates, bytes per second, in the final report. */
    card_write_bps: Optional(Type.Integer({ minimum: 0, maximum: LIMITS.rateBps })),
    card_read_bps: Optional(Type.Integer({ minimum: 0, maximum: LIMITS.rateBps })),
    /** The last lines of the installer's log, with a completed report (a failure uploads the whole log). */
    log_tail: Optional(Type.String({ maxLength: LOG_TAIL_MAX_BYTES })),
    /** The final report of an installer that added the first-boot check-in: the server then expects one. */
    checkin_installed: Optional(Type.Boolean()),
    timestamp: Optional(Type.Union([Type.Number(), Type.String({ maxLength: 64 })])),
  },
  { additionalProperties: false },
);
export type StatusRequest = Static<typeof StatusRequest>;

export const StatusResponse = Type.Object({
  received: Type.Boolean(),
  hostname: Type.String(),
  deployment_id: Type.Integer(),
  status: Type.String(),
  /** An operator asked to see which board this is: blink the activity LED this long. Older installers ignore it. */
  identify: Type.Optional(IdentifyInstruction),
});
export type StatusResponse = Static<typeof StatusResponse>;

export const HealthResponse = Type.Object({
  status: Type.Literal('ok'),
  version: Type.String(),
  uptime_s: Type.Number(),
});
export type HealthResponse = Static<typeof HealthResponse>;

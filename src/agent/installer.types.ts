// What an installation is given, tells as it goes and returns: shared by the runner (installer.runner.ts), its
// steps (chunked.delivery.ts, installer.progress.ts), the on-device entry and the fleet simulator.
import type { CardIdentity } from '../contracts/card-health.js';
import type { ConfigResponse } from '../contracts/device-api.js';
import type { DeviceReportedStatus, ProductType } from '../contracts/domain.js';
import type { DecompressMethod } from './chunk.decompressor.js';
import type { ReadBackMethod } from './disk.verifier.js';
import type { CustomizeResult } from './first-boot.customizer.js';
import type { DeviceIdentity } from './identity.reader.js';
import type { RetryPolicy } from './retry.policy.js';
import type { ReportSender } from './status.reporter.js';

export type InstallerPhase = 'config' | DeviceReportedStatus;

export type InstallerEvent =
  | { type: 'config'; config: ConfigResponse }
  | { type: 'phase'; phase: InstallerPhase; message: string }
  | { type: 'progress'; phase: InstallerPhase; bytesDone: number; bytesTotal: number; rateBps: number; percent: number; etaS: number | null }
  /** How the image travels: `chunked` (image delivery v2: mapped ranges as zstd chunks) or `raw` (the whole image). */
  | { type: 'delivery'; delivery: ImageDelivery; detail: string }
  | { type: 'retry'; what: string; attempt: number; delayMs: number; reason: string }
  | { type: 'warning'; message: string }
  /** One-to-many delivery: the installed device serves others before it reboots. */
  | { type: 'linger'; message: string }
  /** What the card is and how it measured: its identity, capacity check, write and read-back rates. */
  | { type: 'card'; message: string }
  /** An operator's Identify arrived with a status answer: the activity LED blinks this long. */
  | { type: 'identify'; seconds: number };

export type ImageDelivery = 'raw' | 'chunked';

export interface InstallerFaults {
  /** Cut the download connection once after this many bytes (it must resume); v2: bytes of all chunks together. */
  cutDownloadAfterBytes?: number;
  /** Flip one bit of the byte written at this image offset, every time it is written (read-back verification must catch it). */
  corruptWriteAt?: number;
  /** With corruptWriteAt: corrupt only the first write of that byte (v2 rewrites a chunk that fails read-back, which heals it). */
  corruptWriteOnce?: boolean;
  /**
   * Flip one bit of the byte received at this image offset (the streamed checksum must catch it). v2: in every
   * copy of its chunk, so the chunk's hash fails each time and the installation fails naming it.
   */
  corruptStreamAt?: number;
  /** With corruptStreamAt, v1: corrupt only the first download (the one fetch again after a checksum mismatch heals it). */
  corruptStreamOnce?: boolean;
}

/** Where injected faults can land: the bytes on the wire, and the image offset at a share of the bytes written. */
export interface FaultLayout {
  delivery: ImageDelivery;
  wireBytes: number;
  /** v1: that share of the image; v2: the byte at that share of the mapped bytes (a byte that is written). */
  writtenOffsetAt(fraction: number): number;
}

export interface PeerOptions {
  /** Take part at all: fetch chunks from other devices and serve them (default true). */
  enabled?: boolean;
  /** Compressed bytes kept in memory for serving (default: a quarter of the memory, at most 512 MiB). */
  cacheBytes?: number;
  /** Port of the chunk server (default: any free one). */
  port?: number;
  /** Address the chunk server listens on (default: every interface; tests keep it on loopback). */
  host?: string;
  /** Serve finished, after installing, while the server says others need it (default true). */
  linger?: boolean;
  /** Failure injection (tests, benchmarks): serve every chunk with one bit flipped. */
  corruptServed?: boolean;
}

export interface InstallerOptions {
  serverUrl: string;
  /**
   * A block device or file path; "auto" to choose the disk by the board's boot order (target-disk.chooser.ts); "sink"
   * to hash the stream and keep nothing.
   */
  target: 'auto' | 'sink' | (string & {});
  identity: DeviceIdentity;
  productType?: ProductType | null;
  venueCode?: string | null;
  retryPolicy?: RetryPolicy;
  reportIntervalMs?: number;
  stallTimeoutMs?: number;
  maxBytesPerSecond?: number;
  /**
   * Cap on the bytes written to the target per second: a simulated card of that speed, for benchmarks and the
   * fleet simulator (`--card-write-rate`). Applies to both deliveries and to sinks.
   */
  cardWriteBytesPerSecond?: number;
  /** Image delivery v2: chunks fetched and decompressed at once (default 4). */
  chunksInFlight?: number;
  /** Use the raw image even when the server offers chunks (v1, as installers before v2 did). */
  rawOnly?: boolean;
  /** One-to-many delivery (on by default where the server offers it). */
  peers?: PeerOptions;
  /** Force how chunks are decompressed (tests); default zlib where Node has zstd, else the zstd program. */
  decompressMethod?: DecompressMethod;
  /** Customise for first boot (default: yes, except for the sink). */
  customize?: boolean;
  /** Failure injection; a function is given the image size and where faults can land once the delivery is known. */
  faults?: InstallerFaults | ((imageSize: number, layout: FaultLayout) => InstallerFaults);
  /** Where /sys, /proc and /dev are read (default "/"; tests build a board's tree of real files there). */
  systemRoot?: string;
  /** The MBR disk identifier of the installer stick this runs from: never a target, and to be removed afterwards. */
  installerStick?: string | null;
  signal?: AbortSignal;
  onEvent?: (event: InstallerEvent) => void;
  /** Shared secret of a server that requires one (PITCREW_DEVICE_TOKEN). */
  deviceToken?: string | null;
  /**
   * Blink the board's activity LED when an operator asks (default yes; the simulator shows it instead). Its files
   * are found below `systemRoot`.
   */
  activityLed?: boolean;
  /** The card's identity, where no /sys tells it (the simulator's made-up cards); default: read from /sys/block. */
  card?: CardIdentity | null;
  /** Replaces the HTTP status sender (tests). */
  sendReport?: ReportSender;
  /** The time now, in ms since the epoch: the server's clock where the local one is not set (a Pi boots near 1970). */
  now?: () => number;
}

export interface InstallerResult {
  ok: boolean;
  /** 0 completed; 1 failed after configuration (reported to the server); 3 no configuration. */
  exitCode: 0 | 1 | 3;
  hostname: string | null;
  deploymentId: number | null;
  error: string | null;
  errorCode: string | null;
  failedPhase: InstallerPhase | null;
  /** Bytes received for the image (v2: compressed chunks, including any fetched again). */
  bytes: number;
  /** Connections resumed or retried after a cut, a stall or a server error. */
  resumes: number;
  delivery: ImageDelivery | null;
  /** v2: how chunks were decompressed; chunks fetched again because they arrived corrupt or failed read-back. */
  decompressMethod: DecompressMethod | null;
  chunksRefetched: number;
  /** v1: the whole image was fetched once more because the first download did not match its checksum. */
  imageRefetched: boolean;
  /** One-to-many delivery: compressed bytes received from other devices, and served to them. */
  peerBytes: number;
  servedBytes: number;
  /** How long the device served others after installing, ms. */
  lingeredMs: number;
  /** False when the final report (completed or failed) never reached the server, after every retry. */
  finalReportDelivered: boolean;
  verifyMethod: ReadBackMethod | 'stream' | null;
  customization: CustomizeResult | null;
  /** The path written ("sink" for the sink); null before it was chosen. */
  target: string | null;
  /** The installer stick found plugged in (its kernel name, e.g. sdb): to be removed before the board restarts. */
  installerStick: string | null;
  /** The card written, as it identified itself (null: a file or the sink, unless the simulator made one up). */
  card: CardIdentity | null;
  /** Bytes written to the card and the time the card took for them (writes and syncs); null before any. */
  cardWrites: { bytes: number; ms: number } | null;
  /** Bytes read back for verification and how long it took; null where nothing was read back. */
  readBack: { bytes: number; ms: number } | null;
  /** Said to the operator in the final report as well as on the console: a choice the installer could not check, … */
  warnings: string[];
  timings: { configMs: number; downloadMs: number; verifyMs: number; customizeMs: number; totalMs: number };
}

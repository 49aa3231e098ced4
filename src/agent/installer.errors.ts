// Every way an installation can fail, sorted into "try again" (transient) and "stop and say why" (permanent).
// The message is what the operator reads on the dashboard, so it names the exact cause.
import type { InstallerErrorCode } from '../contracts/installer-errors.js';
import { DiskLayoutError } from '../disk-layout/disk-tool.js';

export class InstallerError extends Error {
  readonly code: InstallerErrorCode;
  readonly transient: boolean;
  /** HTTP status when the error came from an answer. */
  readonly status: number | undefined;

  constructor(code: InstallerErrorCode, message: string, options: { transient?: boolean; status?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'InstallerError';
    this.code = code;
    this.transient = options.transient ?? false;
    this.status = options.status;
  }
}

export const isInstallerError = (error: unknown): error is InstallerError => error instanceof InstallerError;

/** A disk image that could not be read or edited (src/disk-layout) fails the installation as a customisation. */
export const asCustomizeError = (error: unknown): unknown =>
  error instanceof DiskLayoutError ? new InstallerError('CUSTOMIZE', error.message, { cause: error }) : error;

// Socket-level failures worth retrying: the server restarting, a cable re-plugged, a switch port flapping.
const TRANSIENT_SOCKET_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND', // DNS on a fresh boot may not be up yet
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/** True for errors a retry can cure; an InstallerError says so itself. */
export function isTransientError(error: unknown): boolean {
  if (isInstallerError(error)) return error.transient;
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && TRANSIENT_SOCKET_CODES.has(code)) return true;
  const message = (error as { message?: unknown }).message;
  return typeof message === 'string' && /socket hang up|aborted|premature close/i.test(message);
}

/** HTTP statuses where the same request may succeed later. */
export const isTransientStatus = (status: number): boolean => status >= 500 || status === 408 || status === 429;

/** A one-line description of any thrown value, for reports. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    if (isInstallerError(error) || typeof code !== 'string' || error.message.includes(code)) return error.message;
    return `${error.message} (${code})`;
  }
  return String(error);
}

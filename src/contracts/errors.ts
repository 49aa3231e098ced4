// The one error catalogue: every failure a person can cause has a code, an HTTP status and a message
// written for them. The server turns an AppError into {success:false, error, code}; anything else is a bug (5xx).

export const ERROR_STATUS = {
  VALIDATION: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  INVALID_TRANSITION: 409,
  POOL_EXHAUSTED: 409,
  BATCH_CAPACITY: 409,
  NO_ACTIVE_IMAGE: 409,
  NO_ACTIVE_BATCH: 409,
  DEPLOYMENT_FINAL: 409,
  PAYLOAD_TOO_LARGE: 413,
  RANGE_NOT_SATISFIABLE: 416,
  /** An upload that claims a format (an .xz, .gz or .zst archive by its first bytes) but is cut short or corrupt. */
  INVALID_ARCHIVE: 422,
  /** An image whose bytes are no disk a board could boot: no partition table, a partition past its end, a cut size. */
  NOT_A_DISK_IMAGE: 422,
  RATE_LIMITED: 429,
  UNAVAILABLE: 503,
  INSUFFICIENT_STORAGE: 507,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'AppError';
    this.status = ERROR_STATUS[code];
  }
}

export const isAppError = (error: unknown): error is AppError => error instanceof AppError;

/** The body of every error answer. */
export interface ErrorBody {
  success: false;
  error: string;
  code: ErrorCode | 'INTERNAL';
  details?: Record<string, unknown>;
}

// The one place errors become answers: {success:false, error, code}. AppErrors carry their own status and a
// message written for a person; validation errors name the field; a full disk (SQLITE_FULL, ENOSPC, EDQUOT from
// anywhere) is the operator's problem, a 507 logged once per episode; anything else is a bug, logged in full and
// answered with a bare 500.
import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isAppError, type ErrorBody, type ErrorCode } from '../../contracts/errors.js';
import { describeValidationError } from './validation.js';

const FRAMEWORK_CODES: Record<number, ErrorCode> = {
  400: 'VALIDATION',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'VALIDATION',
  416: 'RANGE_NOT_SATISFIABLE',
  429: 'RATE_LIMITED',
};

export function answerError(reply: FastifyReply, status: number, body: ErrorBody): FastifyReply {
  return reply.code(status).type('application/json; charset=utf-8').send(body);
}

const DISK_FULL_CODES = new Set(['SQLITE_FULL', 'ENOSPC', 'EDQUOT']);

/** The code of a full disk in the error or anything it was caused by, if that is what it is. */
export function diskFullCode(error: unknown): string | undefined {
  for (let cause = error, depth = 0; cause && typeof cause === 'object' && depth < 5; cause = (cause as { cause?: unknown }).cause, depth++) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string' && DISK_FULL_CODES.has(code)) return code;
  }
  return undefined;
}

export const DISK_FULL_MESSAGE = "The server's disk is full, so the request was not carried out: free some space on it (old images, backups) and try again.";

/**
 * Says once that the disk is full, as an operator problem without a stack trace, however many requests meet it; then
 * again at most every `quietMs`, with how many were refused in between. Shared by both listeners.
 */
export function createDiskFullAlarm(quietMs = 10 * 60_000, now = () => Date.now()) {
  let lastLoggedAt = -Infinity;
  let refusedSince = 0;
  return (log: FastifyBaseLogger, code: string, where: string): void => {
    refusedSince++;
    if (now() - lastLoggedAt < quietMs) return;
    log.warn({ code, where, refused: refusedSince }, `the server's disk is full (${code}): requests that write are refused with 507 until space is freed`);
    lastLoggedAt = now();
    refusedSince = 0;
  };
}
export type DiskFullAlarm = ReturnType<typeof createDiskFullAlarm>;

export function handleError(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply, diskFull: DiskFullAlarm = createDiskFullAlarm()): FastifyReply {
  if (isAppError(error)) {
    if (error.code === 'INSUFFICIENT_STORAGE') diskFull(request.log, error.code, `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]}`);
    return answerError(reply, error.status, { success: false, error: error.message, code: error.code, ...(error.details ? { details: error.details } : {}) });
  }
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) {
    return answerError(reply, 400, { success: false, error: describeValidationError(fastifyError.validation, fastifyError.validationContext ?? 'body'), code: 'VALIDATION' });
  }
  const fullCode = diskFullCode(error);
  if (fullCode) {
    diskFull(request.log, fullCode, `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]}`);
    return answerError(reply, 507, { success: false, error: DISK_FULL_MESSAGE, code: 'INSUFFICIENT_STORAGE' });
  }
  const status = fastifyError.statusCode;
  // Client mistakes the framework caught (malformed JSON, wrong content type, body too large…) are 4xx, not bugs.
  if (status && status >= 400 && status < 500) {
    const message = fastifyError.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error instanceof SyntaxError
      ? 'The request body is not valid JSON.'
      : fastifyError.code === 'FST_ERR_CTP_EMPTY_JSON_BODY'
        ? 'The request says it carries JSON but the body is empty.'
        : fastifyError.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
          ? `Content type ${request.headers['content-type'] ?? '(none)'} is not accepted here; send application/json.`
          : error.message;
    return answerError(reply, status, { success: false, error: message, code: FRAMEWORK_CODES[status] ?? 'VALIDATION' });
  }
  request.log.error({ err: error }, 'unexpected error');
  return answerError(reply, 500, { success: false, error: 'Internal server error: this is a bug in Pitcrew and has been logged.', code: 'INTERNAL' });
}

export function installErrorHandling(app: FastifyInstance, diskFull: DiskFullAlarm = createDiskFullAlarm()): void {
  app.setErrorHandler((error: FastifyError | Error, request, reply) => handleError(error, request, reply, diskFull));
  app.setNotFoundHandler((request, reply) =>
    answerError(reply, 404, { success: false, error: `There is no ${request.method} ${request.url.split('?')[0]} here.`, code: 'NOT_FOUND' }),
  );
}

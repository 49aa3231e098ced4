// The one place errors become answers: {success:false, error, code}. AppErrors carry their own status and a
// message written for a person; validation errors name the field; anything else is a bug, logged in full and
// answered with a bare 500.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
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

export function handleError(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (isAppError(error)) {
    return answerError(reply, error.status, { success: false, error: error.message, code: error.code, ...(error.details ? { details: error.details } : {}) });
  }
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) {
    return answerError(reply, 400, { success: false, error: describeValidationError(fastifyError.validation, fastifyError.validationContext ?? 'body'), code: 'VALIDATION' });
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

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) =>
    answerError(reply, 404, { success: false, error: `There is no ${request.method} ${request.url.split('?')[0]} here.`, code: 'NOT_FOUND' }),
  );
}

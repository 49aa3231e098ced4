// Fastify's own line per request, moved from info to debug: a fleet of 200 boards reporting once a second buried
// everything else in the info log. Errors stay at their level; what happened to a deployment is logged on its own
// (events/deployment-outcome.logger.ts).
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';

export class DebugRequestLogController extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply, metadata?: Record<string, unknown>): void {
    if (error) return super.requestCompleted(error, request, reply, metadata);
    reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}

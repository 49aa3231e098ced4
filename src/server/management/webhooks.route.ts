// Webhooks (notifications) and their delivery log: administrators only, since a webhook sends fleet details to an
// outside address of its choosing.
import { Type } from 'typebox';
import { RowId } from '../../contracts/domain.js';
import { SuccessResponse } from '../../contracts/api.js';
import {
  WebhookCreate, WebhookDeliveryList, WebhookDeliveryQuery, WebhookDeliveryResponse, WebhookList, WebhookResponse, WebhookUpdate,
} from '../../contracts/webhooks.js';
import type { TypedApp } from '../http/app-types.js';
import type { ServerDeps } from '../server-deps.js';

const IdParams = Type.Object({ id: RowId() });

export function registerWebhookRoutes(app: TypedApp, { core }: ServerDeps): void {
  const webhooks = core.webhooks;

  app.get('/api/webhooks', { schema: { response: { 200: WebhookList } }, config: { access: 'admin' } }, async () => ({ webhooks: webhooks.list() }));

  app.post('/api/webhooks', { schema: { body: WebhookCreate, response: { 201: WebhookResponse } }, config: { access: 'admin' } }, async (request, reply) => {
    return reply.code(201).send({ success: true as const, webhook: webhooks.create(request.body) });
  });

  app.put('/api/webhooks/:id', { schema: { params: IdParams, body: WebhookUpdate, response: { 200: WebhookResponse } }, config: { access: 'admin' } }, async (request) => ({
    success: true as const,
    webhook: webhooks.update(request.params.id, request.body),
  }));

  app.delete('/api/webhooks/:id', { schema: { params: IdParams, response: { 200: SuccessResponse } }, config: { access: 'admin' } }, async (request) => {
    webhooks.remove(request.params.id);
    return { success: true as const };
  });

  app.post('/api/webhooks/:id/test', { schema: { params: IdParams, response: { 202: WebhookDeliveryResponse } }, config: { access: 'admin' } }, async (request, reply) =>
    reply.code(202).send({ success: true as const, delivery: webhooks.sendTest(request.params.id) }));

  app.get('/api/webhooks/deliveries', { schema: { querystring: WebhookDeliveryQuery, response: { 200: WebhookDeliveryList } }, config: { access: 'admin' } }, async (request) => ({
    deliveries: webhooks.deliveries(request.query.limit ?? 100, request.query.webhook),
  }));
}

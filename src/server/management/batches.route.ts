// Deployment batches: the prioritised queue devices are served from.
import { Type } from 'typebox';
import { RowId } from '../../contracts/domain.js';
import {
  ActiveBatchResponse, BatchCapacity, BatchCapacityQuery, BatchCreate, BatchList, BatchPeerDeliveryUpdate, BatchPriorityUpdate, BatchQuery, BatchReorder, BatchResponse,
} from '../../contracts/api.js';
import type { TypedApp } from '../http/app-types.js';
import type { ServerDeps } from '../server-deps.js';

const IdParams = Type.Object({ id: RowId() });

export function registerBatchRoutes(app: TypedApp, { core }: ServerDeps): void {
  app.get('/api/batches', { schema: { querystring: BatchQuery, response: { 200: BatchList } }, config: { access: 'viewer' } }, async (request) => ({
    batches: core.batches.list(request.query),
  }));

  app.post('/api/batches', { schema: { body: BatchCreate, response: { 201: BatchResponse } }, config: { access: 'operator' } }, async (request, reply) => {
    const batch = core.batches.create(request.body);
    return reply.code(201).send({ success: true as const, batch });
  });

  app.get('/api/batches/active', {
    schema: { summary: 'The batch serving devices', description: 'The batch the next device gets its hostname from: active with names left, highest priority, then oldest; null when none. A batch whose names are all handed out images on without serving.', response: { 200: ActiveBatchResponse } },
    config: { access: 'viewer' },
  }, async () => ({ batch: core.batches.active() }));

  app.get('/api/batches/capacity', { schema: { querystring: BatchCapacityQuery, response: { 200: BatchCapacity } }, config: { access: 'viewer' } }, async (request) =>
    core.batches.capacity(request.query.venue, request.query.product),
  );

  app.post('/api/batches/reorder', { schema: { body: BatchReorder, response: { 200: BatchList } }, config: { access: 'operator' } }, async (request) => {
    return { batches: core.batches.reorder(request.body.ids) };
  });

  app.get('/api/batches/:id', { schema: { params: IdParams, response: { 200: BatchResponse } }, config: { access: 'viewer' } }, async (request) => ({
    success: true as const,
    batch: core.batches.get(request.params.id),
  }));

  for (const action of ['start', 'pause', 'cancel'] as const) {
    app.post(`/api/batches/:id/${action}`, { schema: { params: IdParams, response: { 200: BatchResponse } }, config: { access: 'operator' } }, async (request) => ({
      success: true as const,
      batch: core.batches[action](request.params.id),
    }));
  }

  app.put('/api/batches/:id/priority', { schema: { params: IdParams, body: BatchPriorityUpdate, response: { 200: BatchResponse } }, config: { access: 'operator' } }, async (request) => ({
    success: true as const,
    batch: core.batches.setPriority(request.params.id, request.body.priority),
  }));

  app.put('/api/batches/:id/peer-delivery', { schema: { params: IdParams, body: BatchPeerDeliveryUpdate, response: { 200: BatchResponse } }, config: { access: 'operator' } }, async (request) => ({
    success: true as const,
    batch: core.batches.setPeerDelivery(request.params.id, request.body),
  }));
}

// Deployment batches: a prioritised queue of "deploy N devices of this product at this venue".
import type { Batch, ProductType } from '../contracts/domain.js';
import type { BatchCapacity, BatchCreate, BatchPeerDeliveryUpdate, BatchQuery } from '../contracts/api.js';
import { DEFAULT_PEER_LINGER_S } from '../contracts/peer-delivery.js';
import type { ServerEventName } from '../contracts/events.js';
import { AppError } from '../contracts/errors.js';
import { isoOf, type CoreContext } from './context.js';
import { normalizeVenueCode } from './venue.service.js';
import { BATCH_TRANSITIONS, servingBatchOf, type BatchAction } from '../contracts/batch-queue.js';
import { settleBatch } from './batch-progress.js';

const EVENT_OF: Record<BatchAction, ServerEventName> = { start: 'batch_started', pause: 'batch_paused', cancel: 'batch_cancelled' };
const PAST_TENSE: Record<BatchAction, string> = { start: 'started', pause: 'paused', cancel: 'cancelled' };

const optionalText = (value: string | null | undefined): string | null => value?.trim() || null;

export function createBatchService(ctx: CoreContext) {
  const { repos } = ctx;

  const get = (id: number): Batch => {
    const batch = repos.batches.find(id);
    if (!batch) throw new AppError('NOT_FOUND', `There is no batch ${id}.`);
    return batch;
  };

  function capacity(venueCode: string, product: ProductType): BatchCapacity {
    const venue = normalizeVenueCode(venueCode);
    if (!repos.venues.find(venue)) throw new AppError('NOT_FOUND', `There is no venue ${venue}.`);
    const needsPool = product === 'KXP2';
    const available = needsPool ? repos.hostnames.availableKartCount(venue) : 0;
    const reserved = repos.batches.reservedCount(venue, product);
    return { venue_code: venue, product_type: product, available, reserved, unreserved: Math.max(0, available - reserved), needs_pool: needsPool };
  }

  /** One move of the status machine in src/contracts/batch-queue.ts, which the UI offers from the same table. */
  function transition(id: number, action: BatchAction): Batch {
    const rule = BATCH_TRANSITIONS[action];
    return ctx.write((emit) => {
      const batch = get(id);
      if (!rule.from.includes(batch.status)) {
        throw new AppError('INVALID_TRANSITION', `Batch ${id} is ${batch.status}; it can be ${PAST_TENSE[action]} only when ${rule.from.join(' or ')}.`);
      }
      const updated = repos.batches.setStatus(id, rule.to, isoOf(ctx.now()));
      ctx.audit({ action: `batch.${action}`, target: String(id) });
      emit(EVENT_OF[action] as 'batch_started', { batch_id: id, batch: updated });
      // A batch paused after its last name went out, whose devices finished meanwhile, completes once started.
      if (action === 'start' && updated.remaining_count === 0) return settleBatch(ctx, emit, id) ?? updated;
      return updated;
    });
  }

  return {
    get,
    capacity,
    list: (query: BatchQuery = {}): Batch[] => repos.batches.list(query),
    /** The batch the next device is served from: active with names left, highest priority, then oldest. */
    active: (): Batch | null => servingBatchOf(repos.batches.listActive()),

    create(input: BatchCreate): Batch {
      if (!Number.isInteger(input.total_count) || input.total_count < 1) throw new AppError('VALIDATION', 'A batch needs at least one device (total_count ≥ 1).');
      return ctx.write((emit) => {
        // Checked inside the write transaction, so two batches created at once cannot both take the last numbers.
        const room = capacity(input.venue_code, input.product_type);
        if (room.needs_pool && input.total_count > room.unreserved) {
          throw new AppError(
            'BATCH_CAPACITY',
            `${room.venue_code} has ${room.available} available kart numbers, ${room.reserved} already promised to open batches: ` +
              `${room.unreserved} left for this batch of ${input.total_count}. Import more kart numbers first.`,
            { ...room },
          );
        }
        const batch = repos.batches.insert({
          venue_code: room.venue_code,
          product_type: input.product_type,
          name: optionalText(input.name),
          notes: optionalText(input.notes),
          total_count: input.total_count,
          remaining_count: input.total_count,
          priority: input.priority ?? 0,
          status: 'pending',
          created_at: isoOf(ctx.now()),
          peer_delivery: input.peer_delivery ?? true,
          peer_linger_s: input.peer_linger_s ?? DEFAULT_PEER_LINGER_S,
        });
        ctx.audit({ action: 'batch.create', target: String(batch.id), details: input });
        emit('batch_created', { batch_id: batch.id, batch });
        return batch;
      });
    },

    start: (id: number) => transition(id, 'start'),
    pause: (id: number) => transition(id, 'pause'),
    cancel: (id: number) => transition(id, 'cancel'),

    setPriority(id: number, priority: number): Batch {
      if (!Number.isSafeInteger(priority)) throw new AppError('VALIDATION', 'Priority must be a whole number.');
      return ctx.write((emit) => {
        get(id);
        const batch = repos.batches.setPriority(id, priority);
        ctx.audit({ action: 'batch.priority', target: String(id), details: { priority } });
        emit('batch_updated', { batch_id: id, batch });
        return batch;
      });
    },

    /** Turns one-to-many delivery on or off for a batch's devices, and sets how long finished ones keep serving. */
    setPeerDelivery(id: number, change: BatchPeerDeliveryUpdate): Batch {
      return ctx.write((emit) => {
        const current = get(id);
        const batch = repos.batches.setPeerDelivery(id, {
          peer_delivery: change.peer_delivery ?? current.peer_delivery,
          peer_linger_s: change.peer_linger_s ?? current.peer_linger_s,
        });
        ctx.audit({ action: 'batch.peer_delivery', target: String(id), details: change });
        emit('batch_updated', { batch_id: id, batch });
        return batch;
      });
    },

    /**
     * Puts the given batches in this order, highest priority first, by renumbering only their priorities:
     * the first gets the highest of their current priorities, each next one less. Batches not named keep theirs.
     */
    reorder(ids: number[]): Batch[] {
      if (new Set(ids).size !== ids.length) throw new AppError('VALIDATION', 'Each batch may appear only once in the new order.');
      return ctx.write((emit) => {
        const batches = ids.map(get);
        const top = Math.max(...batches.map((b) => b.priority), batches.length - 1);
        ctx.audit({ action: 'batch.reorder', target: ids.join(',') });
        return batches.map((batch, index) => {
          const priority = top - index;
          if (batch.priority === priority) return batch;
          const updated = repos.batches.setPriority(batch.id, priority);
          emit('batch_updated', { batch_id: batch.id, batch: updated });
          return updated;
        });
      });
    },
  };
}
export type BatchService = ReturnType<typeof createBatchService>;

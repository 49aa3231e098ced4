import type { Batch, BatchStatus, ProductType } from '../contracts/domain.js';
import type { BatchQuery } from '../contracts/api.js';
import type { Db } from './database.js';
import { whereOf } from './where.js';

export type NewBatch = Omit<Batch, 'id' | 'started_at' | 'completed_at'>;

/** SQLite has no booleans: the row keeps 0 or 1. */
type BatchRow = Omit<Batch, 'peer_delivery'> & { peer_delivery: 0 | 1 };
const toBatch = (row: BatchRow): Batch => ({ ...row, peer_delivery: row.peer_delivery === 1 });
const mapped = (row: BatchRow | undefined): Batch | undefined => (row ? toBatch(row) : undefined);

export function createBatchRepository(db: Db) {
  const byId = db.prepare<[number], BatchRow>('SELECT * FROM batches WHERE id = ?');
  const insert = db.prepare<Omit<NewBatch, 'peer_delivery'> & { peer_delivery: 0 | 1 }, BatchRow>(`
    INSERT INTO batches (venue_code, product_type, name, notes, total_count, remaining_count, priority, status, created_at, peer_delivery, peer_linger_s)
    VALUES (@venue_code, @product_type, @name, @notes, @total_count, @remaining_count, @priority, @status, @created_at, @peer_delivery, @peer_linger_s)
    RETURNING *`);
  // Highest priority first; ties go to the oldest batch.
  const highestActive = db.prepare<[], BatchRow>("SELECT * FROM batches WHERE status = 'active' ORDER BY priority DESC, created_at, id LIMIT 1");
  const setStatus = db.prepare<{ id: number; status: BatchStatus; started_at: string | null; completed_at: string | null }, BatchRow>(`
    UPDATE batches SET status = @status, started_at = coalesce(started_at, @started_at), completed_at = @completed_at
     WHERE id = @id RETURNING *`);
  const setPriority = db.prepare<{ id: number; priority: number }, BatchRow>('UPDATE batches SET priority = @priority WHERE id = @id RETURNING *');
  const setPeerDelivery = db.prepare<{ id: number; peer_delivery: 0 | 1; peer_linger_s: number }, BatchRow>(
    'UPDATE batches SET peer_delivery = @peer_delivery, peer_linger_s = @peer_linger_s WHERE id = @id RETURNING *',
  );
  // Decrements only while something remains; completes the batch in the same statement when it reaches zero.
  const decrement = db.prepare<{ id: number; now: string }, BatchRow>(`
    UPDATE batches SET remaining_count = remaining_count - 1,
           status = CASE WHEN remaining_count = 1 THEN 'completed' ELSE status END,
           completed_at = CASE WHEN remaining_count = 1 THEN @now ELSE completed_at END
     WHERE id = @id AND status = 'active' AND remaining_count > 0
    RETURNING *`);
  const reserved = db.prepare<[string, ProductType], { n: number }>(
    "SELECT coalesce(sum(remaining_count), 0) AS n FROM batches WHERE venue_code = ? AND product_type = ? AND status IN ('pending', 'active', 'paused')",
  );

  return {
    find: (id: number): Batch | undefined => mapped(byId.get(id)),
    insert: (batch: NewBatch): Batch => toBatch(insert.get({ ...batch, peer_delivery: batch.peer_delivery ? 1 : 0 })!),
    highestActive: (): Batch | undefined => mapped(highestActive.get()),
    setStatus: (id: number, status: BatchStatus, at: string): Batch =>
      toBatch(setStatus.get({ id, status, started_at: status === 'active' ? at : null, completed_at: status === 'completed' || status === 'cancelled' ? at : null })!),
    setPriority: (id: number, priority: number): Batch => toBatch(setPriority.get({ id, priority })!),
    setPeerDelivery: (id: number, settings: { peer_delivery: boolean; peer_linger_s: number }): Batch =>
      toBatch(setPeerDelivery.get({ id, peer_delivery: settings.peer_delivery ? 1 : 0, peer_linger_s: settings.peer_linger_s })!),
    decrement: (id: number, now: string): Batch | undefined => mapped(decrement.get({ id, now })),
    /** Devices still promised to open batches of this venue and product. */
    reservedCount: (venue: string, product: ProductType): number => reserved.get(venue, product)!.n,
    list: (query: BatchQuery = {}): Batch[] => {
      const { clause, params } = whereOf({
        venue: ['venue_code = @venue', query.venue?.toUpperCase()],
        status: ['status = @status', query.status],
      });
      return (db.prepare(`SELECT * FROM batches ${clause} ORDER BY priority DESC, created_at, id`).all(params) as BatchRow[]).map(toBatch);
    },
  };
}
export type BatchRepository = ReturnType<typeof createBatchRepository>;

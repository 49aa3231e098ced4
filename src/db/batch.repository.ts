import type { Batch, BatchStatus, ProductType } from '../contracts/domain.js';
import type { BatchQuery } from '../contracts/api.js';
import type { Db } from './database.js';
import { whereOf } from './where.js';

export type NewBatch = Omit<Batch, 'id' | 'started_at' | 'completed_at'>;

export function createBatchRepository(db: Db) {
  const byId = db.prepare<[number], Batch>('SELECT * FROM batches WHERE id = ?');
  const insert = db.prepare<NewBatch, Batch>(`
    INSERT INTO batches (venue_code, product_type, name, notes, total_count, remaining_count, priority, status, created_at)
    VALUES (@venue_code, @product_type, @name, @notes, @total_count, @remaining_count, @priority, @status, @created_at)
    RETURNING *`);
  // Highest priority first; ties go to the oldest batch.
  const highestActive = db.prepare<[], Batch>("SELECT * FROM batches WHERE status = 'active' ORDER BY priority DESC, created_at, id LIMIT 1");
  const setStatus = db.prepare<{ id: number; status: BatchStatus; started_at: string | null; completed_at: string | null }, Batch>(`
    UPDATE batches SET status = @status, started_at = coalesce(started_at, @started_at), completed_at = @completed_at
     WHERE id = @id RETURNING *`);
  const setPriority = db.prepare<{ id: number; priority: number }, Batch>('UPDATE batches SET priority = @priority WHERE id = @id RETURNING *');
  // Decrements only while something remains; completes the batch in the same statement when it reaches zero.
  const decrement = db.prepare<{ id: number; now: string }, Batch>(`
    UPDATE batches SET remaining_count = remaining_count - 1,
           status = CASE WHEN remaining_count = 1 THEN 'completed' ELSE status END,
           completed_at = CASE WHEN remaining_count = 1 THEN @now ELSE completed_at END
     WHERE id = @id AND status = 'active' AND remaining_count > 0
    RETURNING *`);
  const reserved = db.prepare<[string, ProductType], { n: number }>(
    "SELECT coalesce(sum(remaining_count), 0) AS n FROM batches WHERE venue_code = ? AND product_type = ? AND status IN ('pending', 'active', 'paused')",
  );

  return {
    find: (id: number): Batch | undefined => byId.get(id),
    insert: (batch: NewBatch): Batch => insert.get(batch)!,
    highestActive: (): Batch | undefined => highestActive.get(),
    setStatus: (id: number, status: BatchStatus, at: string): Batch =>
      setStatus.get({ id, status, started_at: status === 'active' ? at : null, completed_at: status === 'completed' || status === 'cancelled' ? at : null })!,
    setPriority: (id: number, priority: number): Batch => setPriority.get({ id, priority })!,
    decrement: (id: number, now: string): Batch | undefined => decrement.get({ id, now }),
    /** Devices still promised to open batches of this venue and product. */
    reservedCount: (venue: string, product: ProductType): number => reserved.get(venue, product)!.n,
    list: (query: BatchQuery = {}): Batch[] => {
      const { clause, params } = whereOf({
        venue: ['venue_code = @venue', query.venue?.toUpperCase()],
        status: ['status = @status', query.status],
      });
      return db.prepare(`SELECT * FROM batches ${clause} ORDER BY priority DESC, created_at, id`).all(params) as Batch[];
    },
  };
}
export type BatchRepository = ReturnType<typeof createBatchRepository>;

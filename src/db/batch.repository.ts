import type { Batch, BatchStatus, ProductType } from '../contracts/domain.js';
import { FINAL_BATCH_STATUSES, FINAL_DEPLOYMENT_STATUSES } from '../contracts/domain.js';
import type { BatchQuery } from '../contracts/api.js';
import type { Db } from './database.js';
import { sqlList, whereOf } from './where.js';

type DeviceCounts = Pick<Batch, 'imaging_count' | 'succeeded_count' | 'failed_count'>;
export type NewBatch = Omit<Batch, 'id' | 'started_at' | 'completed_at' | 'handed_out_count' | keyof DeviceCounts>;

/** SQLite has no booleans: the row keeps 0 or 1. The device counts are not stored: they come from deployments. */
type BatchRow = Omit<Batch, 'peer_delivery' | 'handed_out_count' | keyof DeviceCounts> & { peer_delivery: 0 | 1 };
type CountsRow = DeviceCounts & { batch_id: number };
/** A batch as stored, without its device counts: for the hot path of every configuration request. */
export type StoredBatch = Omit<Batch, 'handed_out_count' | keyof DeviceCounts>;
const NO_DEVICES: DeviceCounts = { imaging_count: 0, succeeded_count: 0, failed_count: 0 };
const toBatch = (row: BatchRow, counts: DeviceCounts = NO_DEVICES): Batch => ({
  ...row,
  peer_delivery: row.peer_delivery === 1,
  handed_out_count: row.total_count - row.remaining_count,
  imaging_count: counts.imaging_count,
  succeeded_count: counts.succeeded_count,
  failed_count: counts.failed_count,
});

// A device is one unit: its latest deployment in the batch (by id) says where it is. A re-imaged device's new
// record follows its earlier (superseded or failed) one; a superseded record is neither imaging nor an outcome.
const FINAL_LIST = sqlList(FINAL_DEPLOYMENT_STATUSES);
const COUNT_COLUMNS = `
  coalesce(sum(status NOT IN (${FINAL_LIST})), 0) AS imaging_count,
  coalesce(sum(status = 'completed'), 0) AS succeeded_count,
  coalesce(sum(status = 'failed'), 0) AS failed_count`;

export function createBatchRepository(db: Db) {
  const byId = db.prepare<[number], BatchRow>('SELECT * FROM batches WHERE id = ?');
  const insert = db.prepare<Omit<NewBatch, 'peer_delivery'> & { peer_delivery: 0 | 1 }, BatchRow>(`
    INSERT INTO batches (venue_code, product_type, name, notes, total_count, remaining_count, priority, status, created_at, peer_delivery, peer_linger_s)
    VALUES (@venue_code, @product_type, @name, @notes, @total_count, @remaining_count, @priority, @status, @created_at, @peer_delivery, @peer_linger_s)
    RETURNING *`);
  // Which of them serves is decided by the queue rule in src/contracts/batch-queue.ts.
  const active = db.prepare<[], BatchRow>("SELECT * FROM batches WHERE status = 'active'");
  const countsOne = db.prepare<[number, number], DeviceCounts>(`
    SELECT ${COUNT_COLUMNS} FROM deployments
     WHERE batch_id = ? AND id IN (SELECT max(id) FROM deployments WHERE batch_id = ? GROUP BY hostname)`);
  const countsAll = db.prepare<[], CountsRow>(`
    SELECT batch_id, ${COUNT_COLUMNS} FROM deployments
     WHERE id IN (SELECT max(id) FROM deployments WHERE batch_id IS NOT NULL GROUP BY batch_id, hostname)
     GROUP BY batch_id`);
  const setStatus = db.prepare<{ id: number; status: BatchStatus; started_at: string | null; completed_at: string | null }, BatchRow>(`
    UPDATE batches SET status = @status, started_at = coalesce(started_at, @started_at), completed_at = @completed_at
     WHERE id = @id RETURNING *`);
  const setPriority = db.prepare<{ id: number; priority: number }, BatchRow>('UPDATE batches SET priority = @priority WHERE id = @id RETURNING *');
  const setPeerDelivery = db.prepare<{ id: number; peer_delivery: 0 | 1; peer_linger_s: number }, BatchRow>(
    'UPDATE batches SET peer_delivery = @peer_delivery, peer_linger_s = @peer_linger_s WHERE id = @id RETURNING *',
  );
  // Decrements only while something remains. The batch stays active: it completes when its devices finish.
  const decrement = db.prepare<{ id: number }, BatchRow>(`
    UPDATE batches SET remaining_count = remaining_count - 1
     WHERE id = @id AND status = 'active' AND remaining_count > 0
    RETURNING *`);
  const reserved = db.prepare<[string, ProductType], { n: number }>(
    "SELECT coalesce(sum(remaining_count), 0) AS n FROM batches WHERE venue_code = ? AND product_type = ? AND status IN ('pending', 'active', 'paused')",
  );

  const counted = (row: BatchRow): Batch => toBatch(row, countsOne.get(row.id, row.id));
  const countedAll = (rows: BatchRow[]): Batch[] => {
    if (rows.length === 0) return [];
    const counts = new Map(countsAll.all().map((c) => [c.batch_id, c]));
    return rows.map((row) => toBatch(row, counts.get(row.id)));
  };

  return {
    find: (id: number): Batch | undefined => {
      const row = byId.get(id);
      return row ? counted(row) : undefined;
    },
    /** Only the delivery settings, without counting devices: read on every peer announce. */
    peerSettings: (id: number): Pick<Batch, 'id' | 'peer_delivery' | 'peer_linger_s'> | undefined => {
      const row = byId.get(id);
      return row ? { id: row.id, peer_delivery: row.peer_delivery === 1, peer_linger_s: row.peer_linger_s } : undefined;
    },
    insert: (batch: NewBatch): Batch => toBatch(insert.get({ ...batch, peer_delivery: batch.peer_delivery ? 1 : 0 })!),
    /** Every batch with status `active`, whether it still has names to hand out or not. */
    listActive: (): Batch[] => countedAll(active.all()),
    /** The same, without counting their devices (which reads the deployments): enough to pick the serving batch. */
    listActiveStored: (): StoredBatch[] => active.all().map((row) => ({ ...row, peer_delivery: row.peer_delivery === 1 })),
    setStatus: (id: number, status: BatchStatus, at: string): Batch =>
      counted(setStatus.get({ id, status, started_at: status === 'active' ? at : null, completed_at: FINAL_BATCH_STATUSES.includes(status) ? at : null })!),
    setPriority: (id: number, priority: number): Batch => counted(setPriority.get({ id, priority })!),
    setPeerDelivery: (id: number, settings: { peer_delivery: boolean; peer_linger_s: number }): Batch =>
      counted(setPeerDelivery.get({ id, peer_delivery: settings.peer_delivery ? 1 : 0, peer_linger_s: settings.peer_linger_s })!),
    decrement: (id: number): Batch | undefined => {
      const row = decrement.get({ id });
      return row ? counted(row) : undefined;
    },
    /** Devices still promised to open batches of this venue and product. */
    reservedCount: (venue: string, product: ProductType): number => reserved.get(venue, product)!.n,
    list: (query: BatchQuery = {}): Batch[] => {
      const { clause, params } = whereOf({
        venue: ['venue_code = @venue', query.venue?.toUpperCase()],
        status: ['status = @status', query.status],
      });
      return countedAll(db.prepare(`SELECT * FROM batches ${clause} ORDER BY priority DESC, created_at, id`).all(params) as BatchRow[]);
    },
  };
}
export type BatchRepository = ReturnType<typeof createBatchRepository>;

import type { HostnameStatus, PoolCounts, PoolEntry, ProductType } from '../contracts/domain.js';
import type { PagedResult, PoolQuery } from '../contracts/api.js';
import type { Db } from './database.js';
import { containsPattern, SEARCH_DEVICE_COLUMNS, whereOf } from './where.js';

export interface DeviceIdentity {
  serial_number: string | null;
  mac_address: string | null;
}

export interface Claim extends DeviceIdentity {
  assigned_at: string;
  batch_id: number | null;
}

export function createHostnameRepository(db: Db) {
  const byId = db.prepare<[number], PoolEntry>('SELECT * FROM hostnames WHERE id = ?');
  const byHostname = db.prepare<[string], PoolEntry>('SELECT * FROM hostnames WHERE hostname = ?');
  const heldBySerial = db.prepare<[string], PoolEntry>("SELECT * FROM hostnames WHERE status = 'assigned' AND serial_number = ?");
  // Every holder of a MAC, those recorded without a serial first (they were recognised by the MAC alone), then oldest.
  const heldByMac = db.prepare<[string], PoolEntry>(
    "SELECT * FROM hostnames WHERE status = 'assigned' AND mac_address = ? ORDER BY serial_number IS NOT NULL, id",
  );
  const fillIdentity = db.prepare<{ id: number; serial_number: string | null; mac_address: string | null }, PoolEntry>(`
    UPDATE hostnames SET serial_number = coalesce(serial_number, @serial_number), mac_address = coalesce(mac_address, @mac_address)
     WHERE id = @id AND status = 'assigned' RETURNING *`);
  const existingNumbers = db.prepare<[string], { kart_number: number }>("SELECT kart_number FROM hostnames WHERE venue_code = ? AND product_type = 'KXP2'");
  const insertKart = db.prepare<{ venue_code: string; kart_number: number; hostname: string; created_at: string }>(
    "INSERT INTO hostnames (venue_code, product_type, kart_number, hostname, status, created_at) VALUES (@venue_code, 'KXP2', @kart_number, @hostname, 'available', @created_at)",
  );
  // One statement: find the lowest free number and take it, so no reader can see it free in between.
  const claimLowest = db.prepare<Claim & { venue_code: string }, PoolEntry>(`
    UPDATE hostnames SET status = 'assigned', serial_number = @serial_number, mac_address = @mac_address,
           assigned_at = @assigned_at, batch_id = @batch_id
     WHERE id = (SELECT id FROM hostnames WHERE venue_code = @venue_code AND status = 'available' AND product_type = 'KXP2'
                  ORDER BY kart_number LIMIT 1)
    RETURNING *`);
  const insertAssigned = db.prepare<Claim & { venue_code: string; product_type: ProductType; hostname: string }, PoolEntry>(`
    INSERT INTO hostnames (venue_code, product_type, kart_number, hostname, status, serial_number, mac_address, batch_id, assigned_at, created_at)
    VALUES (@venue_code, @product_type, NULL, @hostname, 'assigned', @serial_number, @mac_address, @batch_id, @assigned_at, @assigned_at)
    RETURNING *`);
  const setStatus = db.prepare<{ id: number; status: HostnameStatus }, PoolEntry>(`
    UPDATE hostnames SET status = @status, serial_number = NULL, mac_address = NULL, assigned_at = NULL, batch_id = NULL
     WHERE id = @id RETURNING *`);
  const remove = db.prepare<[number]>('DELETE FROM hostnames WHERE id = ?');
  const LABEL_ORDER = 'ORDER BY kart_number IS NULL, kart_number, hostname';
  const heldInBatch = db.prepare<[number], PoolEntry>(`SELECT * FROM hostnames WHERE status = 'assigned' AND batch_id = ? ${LABEL_ORDER}`);
  const heldAtVenue = db.prepare<[string], PoolEntry>(`SELECT * FROM hostnames WHERE status = 'assigned' AND venue_code = ? ${LABEL_ORDER}`);
  // pool_counts is kept by triggers (migration 0003): these read a few rows, never the whole pool.
  const counts = db.prepare<[string], { product_type: ProductType; status: HostnameStatus; n: number }>(
    'SELECT product_type, status, n FROM pool_counts WHERE venue_code = ?',
  );
  const availableKart = db.prepare<[string], { n: number }>(
    "SELECT coalesce(sum(n), 0) AS n FROM pool_counts WHERE venue_code = ? AND product_type = 'KXP2' AND status = 'available'",
  );
  const assignedTotal = db.prepare<[], { n: number }>("SELECT coalesce(sum(n), 0) AS n FROM pool_counts WHERE status = 'assigned'");

  return {
    find: (id: number): PoolEntry | undefined => byId.get(id),
    findByHostname: (hostname: string): PoolEntry | undefined => byHostname.get(hostname),
    /** The assigned hostname recorded with this serial, if any (at most one: a unique index). */
    findHeldBySerial: (serial: string): PoolEntry | undefined => heldBySerial.get(serial),
    /** Every assigned hostname recorded with this MAC: serial-less ones first, then by age. */
    findHeldByMac: (mac: string): PoolEntry[] => heldByMac.all(mac),
    /** Records the identifiers an entry was missing; never overwrites one it has. */
    fillIdentity: (id: number, identity: DeviceIdentity): PoolEntry | undefined => fillIdentity.get({ id, ...identity }),
    kartNumbers: (venue: string): Set<number> => new Set(existingNumbers.all(venue).map((r) => r.kart_number)),
    insertKartNumber: (row: { venue_code: string; kart_number: number; hostname: string; created_at: string }): void => void insertKart.run(row),
    claimLowestKartNumber: (venue_code: string, claim: Claim): PoolEntry | undefined => claimLowest.get({ venue_code, ...claim }),
    insertAssigned: (row: Claim & { venue_code: string; product_type: ProductType; hostname: string }): PoolEntry => insertAssigned.get(row)!,
    setUnassigned: (id: number, status: 'available' | 'retired'): PoolEntry => setStatus.get({ id, status })!,
    delete: (id: number): void => void remove.run(id),
    availableKartCount: (venue: string): number => availableKart.get(venue)!.n,
    /** Hostnames held by devices, of one batch or one venue: kart numbers in numeric order, then the rest by name. */
    listHeld: (scope: { batchId: number } | { venueCode: string }): PoolEntry[] => ('batchId' in scope ? heldInBatch.all(scope.batchId) : heldAtVenue.all(scope.venueCode)),
    assignedCount: (): number => assignedTotal.get()!.n,
    counts: (venue: string): Record<ProductType, PoolCounts> => {
      const empty = (): PoolCounts => ({ available: 0, assigned: 0, retired: 0, total: 0 });
      const result: Record<ProductType, PoolCounts> = { KXP2: empty(), RXP2: empty() };
      for (const row of counts.all(venue)) {
        result[row.product_type][row.status] = row.n;
        result[row.product_type].total += row.n;
      }
      return result;
    },
    list: (query: PoolQuery): PagedResult<PoolEntry> => {
      const { clause, params } = whereOf({
        venue: ['venue_code = @venue', query.venue?.toUpperCase()],
        product: ['product_type = @product', query.product],
        status: ['status = @status', query.status],
        search: [SEARCH_DEVICE_COLUMNS, containsPattern(query.search?.trim())],
      });
      const page = query.page ?? 1;
      const limit = query.limit ?? 50;
      const total = (db.prepare(`SELECT count(*) AS n FROM hostnames ${clause}`).get(params) as { n: number }).n;
      const items = db
        .prepare(`SELECT * FROM hostnames ${clause} ORDER BY venue_code, product_type, kart_number, hostname LIMIT @limit OFFSET @offset`)
        .all({ ...params, limit, offset: (page - 1) * limit }) as PoolEntry[];
      return { items, total, page, limit };
    },
  };
}
export type HostnameRepository = ReturnType<typeof createHostnameRepository>;

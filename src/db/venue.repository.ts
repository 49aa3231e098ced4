import type { Venue } from '../contracts/domain.js';
import type { Db } from './database.js';

export function createVenueRepository(db: Db) {
  const byCode = db.prepare<[string], Venue>('SELECT * FROM venues WHERE code = ?');
  const all = db.prepare<[], Venue>('SELECT * FROM venues ORDER BY code');
  const insert = db.prepare<Venue>('INSERT INTO venues (code, name, location, contact_email, created_at) VALUES (@code, @name, @location, @contact_email, @created_at)');
  const update = db.prepare<Pick<Venue, 'code' | 'name' | 'location' | 'contact_email'>>(
    'UPDATE venues SET name = @name, location = @location, contact_email = @contact_email WHERE code = @code',
  );
  const remove = db.prepare<[string]>('DELETE FROM venues WHERE code = ?');
  const usage = db.prepare<[string, string, string], { assigned: number; open_batches: number; deployments: number }>(`
    SELECT (SELECT count(*) FROM hostnames WHERE venue_code = ? AND status = 'assigned') AS assigned,
           (SELECT count(*) FROM batches WHERE venue_code = ? AND status IN ('pending', 'active', 'paused')) AS open_batches,
           (SELECT count(*) FROM deployments WHERE venue_code = ?) AS deployments`);
  const removePool = db.prepare<[string]>('DELETE FROM hostnames WHERE venue_code = ?');
  const removeBatches = db.prepare<[string]>('DELETE FROM batches WHERE venue_code = ?');

  return {
    find: (code: string): Venue | undefined => byCode.get(code),
    list: (): Venue[] => all.all(),
    insert: (venue: Venue): void => void insert.run(venue),
    update: (venue: Pick<Venue, 'code' | 'name' | 'location' | 'contact_email'>): void => void update.run(venue),
    usage: (code: string) => usage.get(code, code, code)!,
    /** Removes the venue with its unassigned pool entries and closed batches; callers check `usage` first. */
    delete: (code: string): void => {
      removePool.run(code);
      removeBatches.run(code);
      remove.run(code);
    },
  };
}
export type VenueRepository = ReturnType<typeof createVenueRepository>;

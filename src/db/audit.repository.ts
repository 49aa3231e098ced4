import type { AuditEntry } from '../contracts/domain.js';
import type { PagedResult } from '../contracts/api.js';
import type { Db } from './database.js';

export type NewAuditEntry = Omit<AuditEntry, 'id'>;

export function createAuditRepository(db: Db) {
  const insert = db.prepare<NewAuditEntry>('INSERT INTO audit_log (at, actor, action, target, details) VALUES (@at, @actor, @action, @target, @details)');
  const count = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM audit_log');
  const page = db.prepare<[number, number], AuditEntry>('SELECT * FROM audit_log ORDER BY id DESC LIMIT ? OFFSET ?');

  return {
    insert: (entry: NewAuditEntry): void => void insert.run(entry),
    /** Newest first. */
    list: (pageNumber: number, limit: number): PagedResult<AuditEntry> => ({
      items: page.all(limit, (pageNumber - 1) * limit),
      total: count.get()!.n,
      page: pageNumber,
      limit,
    }),
  };
}
export type AuditRepository = ReturnType<typeof createAuditRepository>;

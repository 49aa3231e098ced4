import type { Db } from './database.js';
import type { UserRow } from './user.repository.js';

export function createSessionRepository(db: Db) {
  const insert = db.prepare<{ id_hash: string; user_id: number; created_at: string; expires_at: string }>(
    'INSERT INTO sessions (id_hash, user_id, created_at, expires_at) VALUES (@id_hash, @user_id, @created_at, @expires_at)',
  );
  const userOf = db.prepare<[string, string], UserRow>(
    'SELECT users.* FROM sessions JOIN users ON users.id = sessions.user_id WHERE sessions.id_hash = ? AND sessions.expires_at > ?',
  );
  const remove = db.prepare<[string]>('DELETE FROM sessions WHERE id_hash = ?');
  const removeForUser = db.prepare<[number]>('DELETE FROM sessions WHERE user_id = ?');
  const removeExpired = db.prepare<[string]>('DELETE FROM sessions WHERE expires_at <= ?');

  return {
    insert: (row: { id_hash: string; user_id: number; created_at: string; expires_at: string }): void => void insert.run(row),
    /** The user of a session that has not expired at `now`. */
    findUser: (idHash: string, now: string): UserRow | undefined => userOf.get(idHash, now),
    delete: (idHash: string): void => void remove.run(idHash),
    deleteForUser: (userId: number): void => void removeForUser.run(userId),
    deleteExpired: (now: string): number => removeExpired.run(now).changes,
  };
}
export type SessionRepository = ReturnType<typeof createSessionRepository>;

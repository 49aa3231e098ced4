import type { ApiToken } from '../contracts/domain.js';
import type { Db } from './database.js';
import type { UserRow } from './user.repository.js';

const COLUMNS = 'api_tokens.id, api_tokens.name, api_tokens.user_id, users.username, api_tokens.prefix, api_tokens.created_at, api_tokens.last_used_at';

export function createApiTokenRepository(db: Db) {
  const insert = db.prepare<{ user_id: number; name: string; prefix: string; secret_hash: string; created_at: string }, { id: number }>(
    'INSERT INTO api_tokens (user_id, name, prefix, secret_hash, created_at) VALUES (@user_id, @name, @prefix, @secret_hash, @created_at) RETURNING id',
  );
  const byId = db.prepare<[number], ApiToken>(`SELECT ${COLUMNS} FROM api_tokens JOIN users ON users.id = api_tokens.user_id WHERE api_tokens.id = ?`);
  const all = db.prepare<[], ApiToken>(`SELECT ${COLUMNS} FROM api_tokens JOIN users ON users.id = api_tokens.user_id ORDER BY api_tokens.id`);
  const ofUser = db.prepare<[number], ApiToken>(
    `SELECT ${COLUMNS} FROM api_tokens JOIN users ON users.id = api_tokens.user_id WHERE api_tokens.user_id = ? ORDER BY api_tokens.id`,
  );
  const userOf = db.prepare<[string], UserRow & { token_id: number }>(
    'SELECT users.*, api_tokens.id AS token_id FROM api_tokens JOIN users ON users.id = api_tokens.user_id WHERE api_tokens.secret_hash = ?',
  );
  const touch = db.prepare<[string, number]>('UPDATE api_tokens SET last_used_at = ? WHERE id = ?');
  const remove = db.prepare<[number]>('DELETE FROM api_tokens WHERE id = ?');

  return {
    insert: (row: { user_id: number; name: string; prefix: string; secret_hash: string; created_at: string }): ApiToken => byId.get(insert.get(row)!.id)!,
    find: (id: number): ApiToken | undefined => byId.get(id),
    list: (userId?: number): ApiToken[] => (userId === undefined ? all.all() : ofUser.all(userId)),
    findUser: (secretHash: string): (UserRow & { token_id: number }) | undefined => userOf.get(secretHash),
    touch: (id: number, at: string): void => void touch.run(at, id),
    delete: (id: number): void => void remove.run(id),
  };
}
export type ApiTokenRepository = ReturnType<typeof createApiTokenRepository>;

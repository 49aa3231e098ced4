import type { Role, User } from '../contracts/domain.js';
import type { Db } from './database.js';

export interface UserRow extends User {
  password_hash: string;
}

export function createUserRepository(db: Db) {
  const byId = db.prepare<[number], UserRow>('SELECT * FROM users WHERE id = ?');
  const byName = db.prepare<[string], UserRow>('SELECT * FROM users WHERE username = ?');
  const all = db.prepare<[], User>('SELECT id, username, role, created_at FROM users ORDER BY username');
  const insert = db.prepare<{ username: string; password_hash: string; role: Role; created_at: string }, UserRow>(
    'INSERT INTO users (username, password_hash, role, created_at) VALUES (@username, @password_hash, @role, @created_at) RETURNING *',
  );
  const setPassword = db.prepare<[string, number]>('UPDATE users SET password_hash = ? WHERE id = ?');
  const setRole = db.prepare<[Role, number]>('UPDATE users SET role = ? WHERE id = ?');
  const remove = db.prepare<[number]>('DELETE FROM users WHERE id = ?');
  const count = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM users');
  const adminCount = db.prepare<[], { n: number }>("SELECT count(*) AS n FROM users WHERE role = 'admin'");

  return {
    find: (id: number): UserRow | undefined => byId.get(id),
    /** Usernames compare case-insensitively (the column is COLLATE NOCASE). */
    findByName: (username: string): UserRow | undefined => byName.get(username),
    list: (): User[] => all.all(),
    insert: (row: { username: string; password_hash: string; role: Role; created_at: string }): UserRow => insert.get(row)!,
    setPassword: (id: number, hash: string): void => void setPassword.run(hash, id),
    setRole: (id: number, role: Role): void => void setRole.run(role, id),
    delete: (id: number): void => void remove.run(id),
    count: (): number => count.get()!.n,
    adminCount: (): number => adminCount.get()!.n,
  };
}
export type UserRepository = ReturnType<typeof createUserRepository>;

/** A User as it leaves the server: never the password hash. */
export const publicUser = ({ id, username, role, created_at }: User): User => ({ id, username, role, created_at });

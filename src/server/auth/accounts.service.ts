// People and scripts on the management side: users with roles, browser sessions, API tokens and the audit log.
// Secrets (session ids, token secrets) are random and only their SHA-256 is stored.
import { createHash, randomBytes } from 'node:crypto';
import type { ApiToken, AuditEntry, Role, User } from '../../contracts/domain.js';
import { ROLES } from '../../contracts/domain.js';
import { USERNAME_PATTERN, type PagedResult, type UserCreate, type UserUpdate } from '../../contracts/api.js';
import { AppError } from '../../contracts/errors.js';
import { FIELD_LIMITS } from '../../contracts/limits.js';
import { inWriteTransaction, type Db } from '../../db/database.js';
import { createUserRepository, publicUser } from '../../db/user.repository.js';
import { createSessionRepository } from '../../db/session.repository.js';
import { createApiTokenRepository } from '../../db/api-token.repository.js';
import { createAuditRepository } from '../../db/audit.repository.js';
import { hashPassword, UNUSABLE_HASH, verifyPassword } from './password.js';

export const ROLE_RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };
export const hasRole = (role: Role, needed: Role): boolean => ROLE_RANK[role] >= ROLE_RANK[needed];

export const TOKEN_PREFIX = 'pct_';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const USERNAME = new RegExp(USERNAME_PATTERN);

export interface Principal {
  user: User;
  via: 'session' | 'token';
  tokenId?: number;
}

export interface AuditInput {
  actor: string;
  action: string;
  target?: string | null;
  details?: string | null;
}

export interface AccountsOptions {
  sessionHours: number;
  now?: () => Date;
}

export function createAccountsService(db: Db, { sessionHours, now = () => new Date() }: AccountsOptions) {
  const users = createUserRepository(db);
  const sessions = createSessionRepository(db);
  const tokens = createApiTokenRepository(db);
  const audit = createAuditRepository(db);
  const iso = () => now().toISOString();

  const requireUser = (id: number) => {
    const user = users.find(id);
    if (!user) throw new AppError('NOT_FOUND', `There is no user ${id}.`);
    return user;
  };

  const checkUsername = (username: string) => {
    if (!USERNAME.test(username)) throw new AppError('VALIDATION', 'A username is 1–64 letters, digits, dots, dashes or underscores.');
  };
  const checkPassword = (password: string) => {
    const { min, max } = FIELD_LIMITS.password;
    if (password.length < min) throw new AppError('VALIDATION', `A password needs at least ${min} characters.`);
    if (password.length > max) throw new AppError('VALIDATION', `A password is at most ${max} characters.`);
  };
  const checkRole = (role: string): Role => {
    if (!(ROLES as readonly string[]).includes(role)) throw new AppError('VALIDATION', `Role must be one of ${ROLES.join(', ')}.`);
    return role as Role;
  };

  function record(entry: AuditInput): void {
    audit.insert({ at: iso(), actor: entry.actor, action: entry.action, target: entry.target ?? null, details: entry.details ?? null });
  }

  return {
    record,
    listAudit: (page: number, limit: number): PagedResult<AuditEntry> => audit.list(page, limit),

    listUsers: (): User[] => users.list(),
    findUserByName: (username: string): User | undefined => {
      const user = users.findByName(username);
      return user && publicUser(user);
    },

    async createUser(input: UserCreate): Promise<User> {
      checkUsername(input.username);
      checkPassword(input.password);
      const role = checkRole(input.role);
      const password_hash = await hashPassword(input.password);
      return inWriteTransaction(db, () => {
        if (users.findByName(input.username)) throw new AppError('CONFLICT', `A user named ${input.username} already exists.`);
        return publicUser(users.insert({ username: input.username, password_hash, role, created_at: iso() }));
      });
    },

    /** Changing a password ends that user's sessions; the last admin cannot lose the role. */
    async updateUser(id: number, input: UserUpdate): Promise<User> {
      if (input.password !== undefined) checkPassword(input.password);
      const role = input.role === undefined ? undefined : checkRole(input.role);
      const hash = input.password === undefined ? undefined : await hashPassword(input.password);
      return inWriteTransaction(db, () => {
        const user = requireUser(id);
        if (role && role !== 'admin' && user.role === 'admin' && users.adminCount() <= 1) {
          throw new AppError('CONFLICT', `${user.username} is the last admin; make someone else admin first.`);
        }
        if (role) users.setRole(id, role);
        if (hash) {
          users.setPassword(id, hash);
          sessions.deleteForUser(id);
        }
        return publicUser(requireUser(id));
      });
    },

    deleteUser(id: number): User {
      return inWriteTransaction(db, () => {
        const user = requireUser(id);
        if (user.role === 'admin' && users.adminCount() <= 1) throw new AppError('CONFLICT', `${user.username} is the last admin and cannot be removed.`);
        users.delete(id);
        return publicUser(user);
      });
    },

    /** The user for a username and password, or an error that does not say which of the two was wrong. */
    async verifyLogin(username: string, password: string): Promise<User> {
      const user = users.findByName(username);
      const matches = await verifyPassword(password, user?.password_hash ?? UNUSABLE_HASH);
      if (!user || !matches) throw new AppError('UNAUTHENTICATED', 'Wrong username or password.');
      return publicUser(user);
    },

    /** Returns the cookie value; only its hash is kept. */
    createSession(userId: number): { id: string; expiresAt: Date } {
      const id = randomBytes(32).toString('base64url');
      const expiresAt = new Date(now().getTime() + sessionHours * 3_600_000);
      sessions.deleteExpired(iso());
      sessions.insert({ id_hash: sha256(id), user_id: userId, created_at: iso(), expires_at: expiresAt.toISOString() });
      return { id, expiresAt };
    },
    findSessionUser(id: string): User | undefined {
      const user = sessions.findUser(sha256(id), iso());
      return user && publicUser(user);
    },
    deleteSession: (id: string): void => sessions.delete(sha256(id)),

    /** The secret is returned once, here; afterwards only its prefix identifies the token. */
    createToken(userId: number, name: string): { token: ApiToken; secret: string } {
      const trimmed = name.trim();
      if (!trimmed || trimmed.length > FIELD_LIMITS.tokenName.max) throw new AppError('VALIDATION', `A token needs a name of 1–${FIELD_LIMITS.tokenName.max} characters.`);
      requireUser(userId);
      const secret = `${TOKEN_PREFIX}${randomBytes(24).toString('base64url')}`;
      const token = tokens.insert({ user_id: userId, name: trimmed, prefix: secret.slice(0, TOKEN_PREFIX.length + 6), secret_hash: sha256(secret), created_at: iso() });
      return { token, secret };
    },
    listTokens: (userId?: number): ApiToken[] => tokens.list(userId),
    getToken(id: number): ApiToken {
      const token = tokens.find(id);
      if (!token) throw new AppError('NOT_FOUND', `There is no API token ${id}.`);
      return token;
    },
    revokeToken(id: number): ApiToken {
      const token = tokens.find(id);
      if (!token) throw new AppError('NOT_FOUND', `There is no API token ${id}.`);
      tokens.delete(id);
      return token;
    },
    findTokenUser(secret: string): { user: User; tokenId: number } | undefined {
      if (!secret.startsWith(TOKEN_PREFIX)) return undefined;
      const row = tokens.findUser(sha256(secret));
      if (!row) return undefined;
      tokens.touch(row.token_id, iso());
      return { user: publicUser(row), tokenId: row.token_id };
    },

    /**
     * On a fresh install, creates `admin` with the given password or a random one. Returns the password only
     * when it was generated (so it can be shown once); does nothing when any user exists.
     */
    async ensureFirstAdmin(password: string | null): Promise<{ created: boolean; generatedPassword: string | null }> {
      if (users.count() > 0) return { created: false, generatedPassword: null };
      const generated = password ? null : randomBytes(12).toString('base64url');
      const password_hash = await hashPassword(password ?? generated!);
      const created = inWriteTransaction(db, () => {
        if (users.count() > 0) return false;
        users.insert({ username: 'admin', password_hash, role: 'admin', created_at: iso() });
        record({ actor: 'system', action: 'user.create', target: 'admin', details: 'first start' });
        return true;
      });
      return { created, generatedPassword: created ? generated : null };
    },
  };
}
export type AccountsService = ReturnType<typeof createAccountsService>;

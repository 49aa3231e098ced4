// People and scripts on the management side: users with roles, browser sessions, API tokens and the audit log.
// Secrets (session ids, token secrets) are random and only their SHA-256 is stored.
import { createHash, randomBytes } from 'node:crypto';
import type { ApiToken, AuditEntry, Role, User } from '../contracts/domain.js';
import { ROLES } from '../contracts/domain.js';
import { USERNAME_PATTERN, type PagedResult, type UserCreate, type UserUpdate } from '../contracts/api.js';
import { AppError } from '../contracts/errors.js';
import { createUserRepository, publicUser } from '../db/user.repository.js';
import { createSessionRepository } from '../db/session.repository.js';
import { createApiTokenRepository } from '../db/api-token.repository.js';
import { SYSTEM_ACTOR } from './audit.js';
import { isoOf, type CoreContext } from './context.js';
import { FIELD_LIMITS } from '../contracts/limits.js';
import { hashPassword, UNUSABLE_HASH, verifyPassword } from './password.js';

export type { Principal } from './audit.js';

export const ROLE_RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };
export const hasRole = (role: Role, needed: Role): boolean => ROLE_RANK[role] >= ROLE_RANK[needed];

export const TOKEN_PREFIX = 'pct_';
export const DEFAULT_SESSION_HOURS = 12;
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const USERNAME = new RegExp(USERNAME_PATTERN);
/** How a token appears in the audit log: its public prefix and its owner, never the secret. */
const tokenLabel = (token: { prefix: string }, owner: string) => `${token.prefix}… (${owner})`;

export interface AccountsOptions {
  sessionHours: number;
}

export function createAccountsService(ctx: CoreContext, { sessionHours }: AccountsOptions) {
  const { db, repos } = ctx;
  const users = createUserRepository(db);
  const sessions = createSessionRepository(db);
  const tokens = createApiTokenRepository(db);
  const iso = () => isoOf(ctx.now());

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

  return {
    listAudit: (page: number, limit: number): PagedResult<AuditEntry> => repos.audit.list(page, limit),

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
      return ctx.write(() => {
        if (users.findByName(input.username)) throw new AppError('CONFLICT', `A user named ${input.username} already exists.`);
        const user = publicUser(users.insert({ username: input.username, password_hash, role, created_at: iso() }));
        ctx.audit({ action: 'user.create', target: user.username, details: { role } });
        return user;
      });
    },

    /** Changing a password ends that user's sessions; the last admin cannot lose the role. */
    async updateUser(id: number, input: UserUpdate): Promise<User> {
      if (input.password !== undefined) checkPassword(input.password);
      const role = input.role === undefined ? undefined : checkRole(input.role);
      const hash = input.password === undefined ? undefined : await hashPassword(input.password);
      return ctx.write(() => {
        const user = requireUser(id);
        if (role && role !== 'admin' && user.role === 'admin' && users.adminCount() <= 1) {
          throw new AppError('CONFLICT', `${user.username} is the last admin; make someone else admin first.`);
        }
        if (role) users.setRole(id, role);
        if (hash) {
          users.setPassword(id, hash);
          sessions.deleteForUser(id);
        }
        ctx.audit({ action: hash && !role ? 'user.password' : 'user.update', target: user.username, details: { role, password: hash ? 'changed' : undefined } });
        return publicUser(requireUser(id));
      });
    },

    deleteUser(id: number): User {
      return ctx.write(() => {
        const user = requireUser(id);
        if (user.role === 'admin' && users.adminCount() <= 1) throw new AppError('CONFLICT', `${user.username} is the last admin and cannot be removed.`);
        users.delete(id);
        ctx.audit({ action: 'user.delete', target: user.username });
        return publicUser(user);
      });
    },

    /**
     * The user for a username and password, or an error that does not say which of the two was wrong. A failed
     * attempt is audited with the name it tried and where it came from (`from`, the client address).
     */
    async verifyLogin(username: string, password: string, from: string | null = null): Promise<User> {
      const user = users.findByName(username);
      const matches = await verifyPassword(password, user?.password_hash ?? UNUSABLE_HASH);
      if (!user || !matches) {
        ctx.write(() => ctx.audit({ actor: username.slice(0, 64), action: 'auth.login_failed', target: from }));
        throw new AppError('UNAUTHENTICATED', 'Wrong username or password.');
      }
      return publicUser(user);
    },

    /** Logs `user` in: returns the cookie value, of which only the hash is kept. */
    createSession(user: User): { id: string; expiresAt: Date } {
      const id = randomBytes(32).toString('base64url');
      const expiresAt = new Date(ctx.now().getTime() + sessionHours * 3_600_000);
      ctx.write(() => {
        sessions.deleteExpired(iso());
        sessions.insert({ id_hash: sha256(id), user_id: user.id, created_at: iso(), expires_at: expiresAt.toISOString() });
        ctx.audit({ actor: user.username, action: 'auth.login', target: user.username });
      });
      return { id, expiresAt };
    },
    findSessionUser(id: string): User | undefined {
      const user = sessions.findUser(sha256(id), iso());
      return user && publicUser(user);
    },
    /** Logs out: the session ends (an unknown or expired one is already gone, and nothing is recorded). */
    deleteSession(id: string): void {
      ctx.write(() => {
        const user = sessions.findUser(sha256(id), iso());
        sessions.delete(sha256(id));
        if (user) ctx.audit({ actor: user.username, action: 'auth.logout', target: user.username });
      });
    },

    /** The secret is returned once, here; afterwards only its prefix identifies the token. */
    createToken(userId: number, name: string): { token: ApiToken; secret: string } {
      const trimmed = name.trim();
      if (!trimmed || trimmed.length > FIELD_LIMITS.tokenName.max) throw new AppError('VALIDATION', `A token needs a name of 1–${FIELD_LIMITS.tokenName.max} characters.`);
      const secret = `${TOKEN_PREFIX}${randomBytes(24).toString('base64url')}`;
      const token = ctx.write(() => {
        const owner = requireUser(userId);
        const inserted = tokens.insert({ user_id: userId, name: trimmed, prefix: secret.slice(0, TOKEN_PREFIX.length + 6), secret_hash: sha256(secret), created_at: iso() });
        ctx.audit({ action: 'token.create', target: tokenLabel(inserted, owner.username), details: { name: trimmed } });
        return inserted;
      });
      return { token, secret };
    },
    listTokens: (userId?: number): ApiToken[] => tokens.list(userId),
    getToken(id: number): ApiToken {
      const token = tokens.find(id);
      if (!token) throw new AppError('NOT_FOUND', `There is no API token ${id}.`);
      return token;
    },
    revokeToken(id: number): ApiToken {
      return ctx.write(() => {
        const token = tokens.find(id);
        if (!token) throw new AppError('NOT_FOUND', `There is no API token ${id}.`);
        tokens.delete(id);
        ctx.audit({ action: 'token.revoke', target: tokenLabel(token, token.username) });
        return token;
      });
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
      const created = ctx.write(() => {
        if (users.count() > 0) return false;
        users.insert({ username: 'admin', password_hash, role: 'admin', created_at: iso() });
        ctx.audit({ actor: SYSTEM_ACTOR, action: 'user.create', target: 'admin', details: 'first start' });
        return true;
      });
      return { created, generatedPassword: created ? generated : null };
    },
  };
}
export type AccountsService = ReturnType<typeof createAccountsService>;

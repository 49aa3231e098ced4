import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HttpClient, PASSWORDS, startTestServer, type TestServer } from '../test-support/test-server.js';

let t: TestServer;
let clock = new Date('2026-06-15T10:00:00Z');
beforeEach(async () => {
  clock = new Date('2026-06-15T10:00:00Z');
  t = await startTestServer({ loginAttemptsPerMinute: 5, sessionHours: 2 }, { now: () => clock });
});
afterEach(async () => t.close());

describe('login, logout, me', () => {
  it('logs in with a HttpOnly, SameSite=Strict session cookie, answers me, and logs out', async () => {
    const client = new HttpClient(t.managementUrl);
    const login = await client.post('/api/auth/login', { username: 'Operator', password: PASSWORDS.operator });
    expect(login.status).toBe(200);
    expect(login.body).toMatchObject({ success: true, user: { username: 'operator', role: 'operator' } });
    expect(login.body.user.password_hash).toBeUndefined();
    const cookie = login.headers.getSetCookie()[0]!;
    expect(cookie).toMatch(/^pitcrew_session=[A-Za-z0-9_-]{40,};/);
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    expect(cookie).toMatch(/Path=\//);
    expect((await client.get('/api/auth/me')).body).toEqual({ user: expect.objectContaining({ username: 'operator', role: 'operator' }) });

    const stolen = client.cookie;
    expect((await client.post('/api/auth/logout')).body).toEqual({ success: true });
    const replay = new HttpClient(t.managementUrl);
    replay.cookie = stolen;
    expect((await replay.get('/api/auth/me')).status).toBe(401);
  });

  it('refuses a wrong password and an unknown user with the same message', async () => {
    const wrong = await t.anonymous.post('/api/auth/login', { username: 'admin', password: 'nope-nope' });
    const unknown = await t.anonymous.post('/api/auth/login', { username: 'ghost', password: 'nope-nope' });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body.error).toBe('Wrong username or password.');
    expect(unknown.body.error).toBe(wrong.body.error);
    expect(wrong.headers.getSetCookie()).toEqual([]);
  });

  it.each([
    [{ username: 'admin' }, /Field "password" is required/],
    [{ username: '', password: 'x' }, /Field "username" must not be empty/],
    [{ username: 'admin', password: 'x', remember: true }, /Unknown field "remember"/],
    [{ username: 5, password: 'x' }, /Field "username" must be text/],
  ])('refuses login body %j with a 400', async (body, message) => {
    const answer = await t.anonymous.post('/api/auth/login', body);
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatch(message);
  });

  it('ends a session when it expires', async () => {
    const client = new HttpClient(t.managementUrl);
    await client.login('viewer', PASSWORDS.viewer);
    clock = new Date(clock.getTime() + 119 * 60_000);
    expect((await client.get('/api/auth/me')).status).toBe(200);
    clock = new Date(clock.getTime() + 2 * 60_000);
    const expired = await client.get('/api/auth/me');
    expect(expired.status).toBe(401);
    expect(expired.body.code).toBe('UNAUTHENTICATED');
  });

  it('rate-limits login attempts per address, then refuses even a right password with 429', async () => {
    for (let i = 0; i < 5; i++) expect((await t.anonymous.post('/api/auth/login', { username: 'admin', password: `guess-${i}` })).status).toBe(401);
    const limited = await t.anonymous.post('/api/auth/login', { username: 'admin', password: PASSWORDS.admin });
    expect(limited.status).toBe(429);
    expect(limited.body).toMatchObject({ success: false, code: 'RATE_LIMITED', error: expect.stringMatching(/Too many login attempts/) });
    expect(limited.headers.get('retry-after')).toBeTruthy();
    // Other routes are not limited.
    expect((await t.as.admin.get('/api/auth/me')).status).toBe(200);
  });

  it('ends all sessions of a user whose password changes', async () => {
    const client = new HttpClient(t.managementUrl);
    await client.login('viewer', PASSWORDS.viewer);
    const viewer = t.server.accounts.findUserByName('viewer')!;
    expect((await t.as.admin.put(`/api/users/${viewer.id}`, { password: 'a-brand-new-password' })).status).toBe(200);
    expect((await client.get('/api/auth/me')).status).toBe(401);
    await client.login('viewer', 'a-brand-new-password');
  });

  it('writes logins and failed logins to the audit log', async () => {
    await t.anonymous.post('/api/auth/login', { username: 'operator', password: 'wrong-one' });
    await new HttpClient(t.managementUrl).login('operator', PASSWORDS.operator);
    const audit = (await t.as.admin.get('/api/audit')).body.items;
    expect(audit[0]).toMatchObject({ actor: 'operator', action: 'auth.login', target: 'operator' });
    expect(JSON.stringify(audit)).not.toContain(PASSWORDS.operator);
    expect(audit[1]).toMatchObject({ actor: 'operator', action: 'auth.login_failed', target: '127.0.0.1' });
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpClient, startTestServer, type TestServer } from '../test-support/test-server.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => t.close());

const idOf = (username: string) => t.server.accounts.findUserByName(username)!.id;

describe('users API (admin)', () => {
  it('creates, lists, changes and removes users', async () => {
    const created = await t.as.admin.post('/api/users', { username: 'dana', password: 'dana-password', role: 'viewer' });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ success: true, user: { id: expect.any(Number), username: 'dana', role: 'viewer', created_at: expect.any(String) } });
    const list = await t.as.admin.get('/api/users');
    expect(list.body.users.map((u: { username: string }) => u.username)).toEqual(['admin', 'dana', 'operator', 'viewer']);
    expect(JSON.stringify(list.body)).not.toMatch(/scrypt|password/);

    const promoted = await t.as.admin.put(`/api/users/${created.body.user.id}`, { role: 'operator' });
    expect(promoted.body.user.role).toBe('operator');
    await new HttpClient(t.managementUrl).login('dana', 'dana-password');
    expect((await t.as.admin.delete(`/api/users/${created.body.user.id}`)).body).toEqual({ success: true });
    expect(t.server.accounts.findUserByName('dana')).toBeUndefined();
  });

  it.each([
    [{ username: 'x y', password: 'long-enough', role: 'viewer' }, /Field "username" has the wrong format/],
    [{ username: 'shorty', password: 'short', role: 'viewer' }, /Field "password" must be at least 8 characters/],
    [{ username: 'badrole', password: 'long-enough', role: 'root' }, /Field "role" must be one of admin, operator, viewer/],
    [{ username: 'extra', password: 'long-enough', role: 'viewer', admin: true }, /Unknown field "admin"/],
  ])('refuses user %j', async (body, message) => {
    const answer = await t.as.admin.post('/api/users', body);
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatch(message);
  });

  it('refuses duplicates (case-insensitively), empty changes, unknown ids, removing yourself and demoting the last admin', async () => {
    expect((await t.as.admin.post('/api/users', { username: 'VIEWER', password: 'long-enough', role: 'viewer' })).status).toBe(409);
    expect((await t.as.admin.put(`/api/users/${idOf('viewer')}`, {})).body.error).toMatch(/Nothing to change/);
    expect((await t.as.admin.put('/api/users/9999', { role: 'viewer' })).status).toBe(404);
    expect((await t.as.admin.delete('/api/users/9999')).status).toBe(404);
    const self = await t.as.admin.delete(`/api/users/${idOf('admin')}`);
    expect(self.status).toBe(409);
    expect(self.body.error).toMatch(/cannot remove your own account/);
    const demote = await t.as.admin.put(`/api/users/${idOf('admin')}`, { role: 'operator' });
    expect(demote.status).toBe(409);
    expect(demote.body.error).toMatch(/last admin/);
  });
});

describe('API tokens', () => {
  it('creates a token shown once, authenticates with it as Bearer, lists it without the secret, and revokes it', async () => {
    const created = await t.as.operator.post('/api/tokens', { name: 'ci script' });
    expect(created.status).toBe(201);
    const { secret, token } = created.body;
    expect(secret).toMatch(/^pct_[A-Za-z0-9_-]{32}$/);
    expect(token).toMatchObject({ name: 'ci script', username: 'operator', prefix: secret.slice(0, 10), last_used_at: null });

    const script = new HttpClient(t.managementUrl, { authorization: `Bearer ${secret}` });
    expect((await script.get('/api/auth/me')).body.user.username).toBe('operator');
    expect((await script.post('/api/venues', { code: 'TOKN', name: 'Made by a script' })).status).toBe(201);
    expect((await script.get('/api/users')).status).toBe(403);

    const mine = await t.as.operator.get('/api/tokens');
    expect(mine.body.tokens).toEqual([expect.objectContaining({ id: token.id, last_used_at: expect.any(String) })]);
    expect(JSON.stringify(mine.body)).not.toContain(secret);

    const audit = (await t.as.admin.get('/api/audit?limit=5')).body.items;
    expect(audit.find((e: { action: string }) => e.action === 'venue.create')).toMatchObject({ actor: `operator (token ${token.id})`, target: 'TOKN' });

    expect((await t.as.operator.delete(`/api/tokens/${token.id}`)).body).toEqual({ success: true });
    expect((await script.get('/api/auth/me')).status).toBe(401);
  });

  it("keeps operators to their own tokens; admins see all and can issue tokens for others", async () => {
    const adminToken = (await t.as.admin.post('/api/tokens', { name: 'admin own' })).body.token;
    expect((await t.as.operator.get('/api/tokens')).body.tokens.map((k: { id: number }) => k.id)).not.toContain(adminToken.id);
    expect((await t.as.operator.delete(`/api/tokens/${adminToken.id}`)).status).toBe(404);
    const forViewer = await t.as.operator.post('/api/tokens', { name: 'sneaky', username: 'viewer' });
    expect(forViewer.status).toBe(403);

    const scraper = await t.as.admin.post('/api/tokens', { name: 'prometheus', username: 'viewer' });
    expect(scraper.body.token.username).toBe('viewer');
    expect((await t.as.admin.get('/api/tokens')).body.tokens.map((k: { id: number }) => k.id)).toEqual(expect.arrayContaining([adminToken.id, scraper.body.token.id]));
    expect((await t.as.admin.post('/api/tokens', { name: 'x', username: 'nobody' })).status).toBe(404);
    expect((await t.as.admin.post('/api/tokens', { name: '' })).body.error).toMatch(/Field "name" must not be empty/);
    expect((await t.as.viewer.post('/api/tokens', { name: 'mine' })).status).toBe(403);
  });
});

describe('audit log', () => {
  it('records who changed what, newest first, paged, readable by admins only', async () => {
    await t.as.operator.post('/api/venues', { code: 'AUDT', name: 'Audited' });
    await t.as.operator.put('/api/venues/AUDT', { name: 'Audited again' });
    await t.as.operator.post('/api/venues', { code: 'AUDT', name: 'Duplicate fails' });
    const page = await t.as.admin.get('/api/audit?page=1&limit=2');
    expect(page.status).toBe(200);
    expect(page.body).toMatchObject({ page: 1, limit: 2, total: expect.any(Number) });
    expect(page.body.items).toHaveLength(2);
    expect(page.body.items[0]).toMatchObject({ actor: 'operator', action: 'venue.update', target: 'AUDT', details: '{"name":"Audited again"}', at: expect.any(String) });
    expect(page.body.items[1]).toMatchObject({ actor: 'operator', action: 'venue.create', target: 'AUDT' });
    expect((await t.as.operator.get('/api/audit')).status).toBe(403);
    expect((await t.as.admin.get('/api/audit?limit=0')).status).toBe(400);
  });

  it('names the right actor for each of many concurrent changes by different people, and nothing for refused ones', async () => {
    const before = (await t.as.admin.get('/api/audit?limit=1')).body.total as number;
    const writers = ['admin', 'operator'] as const;
    const answers = await Promise.all(
      Array.from({ length: 24 }, (_, i) => t.as[writers[i % 2]!].post('/api/venues', { code: `CC${String(i).padStart(2, '0')}`, name: `Concurrent ${i}` })),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(24).fill(201));
    const refused = await Promise.all([t.as.operator.post('/api/venues', { code: 'CC00', name: 'Taken' }), t.as.viewer.post('/api/venues', { code: 'VIEW', name: 'No right' })]);
    expect(refused.map((a) => a.status)).toEqual([409, 403]);

    const page = await t.as.admin.get('/api/audit?limit=100');
    expect(page.body.total).toBe(before + 24);
    const created = (page.body.items as Array<{ actor: string; action: string; target: string }>).filter((e) => e.action === 'venue.create' && e.target.startsWith('CC'));
    expect(created).toHaveLength(24);
    for (const entry of created) expect(entry.actor).toBe(writers[Number(entry.target.slice(2)) % 2]);
  });
});

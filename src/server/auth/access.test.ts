import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../../contracts/domain.js';
import { hasRole } from '../../core/accounts.service.js';
import { HttpClient, startTestServer, type TestServer } from '../test-support/test-server.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => t.close());

/** A concrete URL for a route pattern: any id or code will do, access is checked before the handler runs. */
const concrete = (url: string) => url.replace(/:id\b/g, '1').replace(/:code\b/g, 'CORO').replace(/:[A-Za-z]+/g, 'x').replace(/\*$/, 'x');
const routesNeeding = (predicate: (access: string) => boolean) => t.server.managementRoutes.filter((r) => predicate(r.access) && r.method !== 'OPTIONS');

describe('management access', () => {
  it('registers a sensible number of routes, each with a declared or default access rule', () => {
    const protectedRoutes = routesNeeding((a) => a !== 'public');
    expect(protectedRoutes.length).toBeGreaterThan(40);
    // Spot checks that would catch a policy silently falling back to the wrong default.
    const find = (method: string, url: string) => t.server.managementRoutes.find((r) => r.method === method && r.url === url)?.access;
    expect(find('POST', '/api/images/upload')).toBe('operator');
    expect(find('POST', '/api/batches')).toBe('operator');
    expect(find('GET', '/api/users')).toBe('admin');
    expect(find('GET', '/api/audit')).toBe('admin');
    expect(find('GET', '/metrics')).toBe('viewer');
    expect(find('GET', '/api/docs/json')).toBe('viewer');
    expect(find('POST', '/api/auth/login')).toBe('public');
  });

  it('answers 401 to an anonymous request on every protected management route', async () => {
    const failures: string[] = [];
    for (const route of routesNeeding((a) => a !== 'public')) {
      const answer = await t.anonymous.request(route.method, concrete(route.url), route.method === 'GET' || route.method === 'HEAD' ? {} : { body: {} });
      if (answer.status !== 401) failures.push(`${route.method} ${route.url} → ${answer.status}`);
      else if (route.method !== 'HEAD') expect(answer.body).toMatchObject({ success: false, code: 'UNAUTHENTICATED' });
    }
    expect(failures).toEqual([]);
  });

  it('answers 401 to a made-up token and to a forged session cookie', async () => {
    const forged = new HttpClient(t.managementUrl, { authorization: 'Bearer pct_notarealtoken' });
    expect((await forged.get('/api/venues')).status).toBe(401);
    const cookie = new HttpClient(t.managementUrl);
    cookie.cookie = 'pitcrew_session=made-up';
    expect((await cookie.get('/api/venues')).status).toBe(401);
  });

  it.each(['viewer', 'operator'] as const)('answers 403 to a %s on every route that needs a higher role', async (role: Role) => {
    const failures: string[] = [];
    const denied = routesNeeding((a) => a !== 'public' && !hasRole(role, a as Role));
    expect(denied.length).toBeGreaterThan(role === 'viewer' ? 20 : 5);
    for (const route of denied) {
      const answer = await t.as[role].request(route.method, concrete(route.url), route.method === 'GET' || route.method === 'HEAD' ? {} : { body: {} });
      if (answer.status !== 403) failures.push(`${route.method} ${route.url} → ${answer.status}`);
      else if (route.method !== 'HEAD') expect(answer.body.error).toContain(`Your role (${role})`);
    }
    expect(failures).toEqual([]);
  });

  it('lets a viewer read everything a viewer may read', async () => {
    for (const path of ['/api/stats', '/api/venues', '/api/batches', '/api/batches/active', '/api/images', '/api/deployments', '/api/reports', '/api/kart-numbers', '/api/system/status', '/api/auth/me']) {
      const answer = await t.as.viewer.get(path);
      expect(answer.status, path).toBe(200);
    }
  });

  it('refuses a change sent from a foreign Origin, and allows the same origin and no Origin', async () => {
    const foreign = await t.as.admin.post('/api/venues', { code: 'EVIL', name: 'Evil' }, { headers: { origin: 'http://evil.example' } });
    expect(foreign.status).toBe(403);
    expect(foreign.body.error).toMatch(/another site/);
    expect(t.server.core.venues.list()).toHaveLength(0);
    const nullOrigin = await t.as.admin.post('/api/venues', { code: 'EVIL', name: 'Evil' }, { headers: { origin: 'null' } });
    expect(nullOrigin.status).toBe(403);
    const crossSite = await t.as.admin.post('/api/venues', { code: 'EVIL', name: 'Evil' }, { headers: { 'sec-fetch-site': 'cross-site' } });
    expect(crossSite.status).toBe(403);
    const same = await t.as.admin.post('/api/venues', { code: 'SAME', name: 'Same' }, { headers: { origin: t.managementUrl } });
    expect(same.status).toBe(201);
    // Reading from a foreign page is harmless (the browser will not show it the answer) and stays allowed.
    expect((await t.as.admin.get('/api/venues', { headers: { origin: 'http://evil.example' } })).status).toBe(200);
    // A foreign login attempt is refused too: no logging a victim's browser into an attacker's account.
    expect((await t.anonymous.post('/api/auth/login', { username: 'admin', password: 'x' }, { headers: { origin: 'http://evil.example' } })).status).toBe(403);
  });
});

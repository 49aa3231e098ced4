// Provisioning profiles through the real server: write-only secrets, revisions, redacted audit entries, refusals that
// lose nothing, the device's config answer with its own variables, and a profile changed while a batch runs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activateTestImage, startTestServer, type TestServer } from '../test-support/test-server.js';
import { ED25519_KEY, FULL_PROFILE, SHA512_HASH, YESCRYPT_HASH } from '../../contracts/test-support/profile-samples.js';
import { EMPTY_PROFILE } from '../../contracts/provisioning-profile.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
  await activateTestImage(t.server, 'KXP2');
  await activateTestImage(t.server, 'RXP2');
});
afterAll(async () => t.close());

function venueWithKarts(code: string, numbers = '1-20') {
  t.server.core.venues.create({ code, name: `Venue ${code}` });
  t.server.core.pool.importKartNumbers({ venue_code: code, numbers });
}
const askConfig = (venue: string, serial: string, product = 'KXP2') =>
  t.device.post('/api/config', { product_type: product, venue_code: venue, serial_number: serial, mac_address: `dc:a6:32:00:00:${serial.slice(-2)}` });
const SECRETS = [FULL_PROFILE.wifi!.passphrase, SHA512_HASH, 'another passphrase', YESCRYPT_HASH];

describe('provisioning profiles API', () => {
  it('stores revisions and shows secrets only as set, keeping them when a change leaves them out', async () => {
    venueWithKarts('PROF');
    expect((await t.as.viewer.get('/api/venues/PROF/profile')).body).toEqual({ venue_code: 'PROF', product_type: null, revision: null, profile: null });

    const saved = await t.as.operator.put('/api/venues/prof/profile', FULL_PROFILE);
    expect(saved.status).toBe(200);
    expect(saved.body.revision).toMatchObject({ venue_code: 'PROF', product_type: null, revision: 1, created_by: 'operator' });
    const read = await t.as.viewer.get('/api/venues/PROF/profile');
    expect(read.body.profile.wifi).toEqual({ ssid: 'Venue Karts', country: 'DE', hidden: false, passphrase_set: true });
    expect(read.body.profile.user).toEqual({ name: 'crew', password_hash_set: true });
    expect(read.body.profile.files).toEqual(FULL_PROFILE.files);
    for (const secret of SECRETS) expect(read.text).not.toContain(secret);

    // The form sends no secrets back: both are kept, the SSID and the rest change.
    const { passphrase: _p, ...wifi } = FULL_PROFILE.wifi!;
    const changed = await t.as.operator.put('/api/venues/PROF/profile', { ...FULL_PROFILE, wifi: { ...wifi, ssid: 'Pit Lane' }, user: { name: 'crew' }, time_zone: 'UTC' });
    expect(changed.status).toBe(200);
    expect(changed.body.revision.revision).toBe(2);
    const config = await askConfig('PROF', '10000000aaaa0001');
    expect(config.body.provisioning).toMatchObject({ revision: 2, wifi: { ssid: 'Pit Lane', passphrase: FULL_PROFILE.wifi!.passphrase }, user: { name: 'crew', password_hash: SHA512_HASH }, time_zone: 'UTC' });

    // A secret sent is replaced; null removes the user's password.
    await t.as.operator.put('/api/venues/PROF/profile', { ...FULL_PROFILE, wifi: { ...wifi, passphrase: 'another passphrase' }, user: { name: 'crew', password_hash: null } });
    const third = await t.as.viewer.get('/api/venues/PROF/profile');
    expect(third.body.revision.revision).toBe(3);
    expect(third.body.profile.user).toEqual({ name: 'crew', password_hash_set: false });
    const revisions = await t.as.viewer.get('/api/venues/PROF/profile/revisions');
    expect(revisions.body.revisions.map((r: { revision: number; deployments: number }) => [r.revision, r.deployments])).toEqual([[3, 0], [2, 1], [1, 0]]);
    for (const secret of SECRETS) expect(revisions.text).not.toContain(secret);
  });

  it('writes a redacted audit entry: no passphrase or password hash', async () => {
    venueWithKarts('AUDT');
    await t.as.operator.put('/api/venues/AUDT/profile', { ...FULL_PROFILE, user: { name: 'crew', password_hash: YESCRYPT_HASH } });
    const audit = await t.as.admin.get('/api/audit?limit=20');
    const entry = audit.body.items.find((e: { action: string; target: string }) => e.action === 'profile.update' && e.target.startsWith('AUDT'));
    expect(entry).toMatchObject({ actor: 'operator', target: 'AUDT revision 1' });
    expect(entry.details).toContain('Venue Karts');
    expect(entry.details).toContain('***');
    for (const secret of SECRETS) expect(audit.text).not.toContain(secret);
  });

  it('refuses a new Wi-Fi network without a passphrase, then stores nothing', async () => {
    venueWithKarts('NOPW');
    const { passphrase: _p, ...wifi } = FULL_PROFILE.wifi!;
    const answer = await t.as.operator.put('/api/venues/NOPW/profile', { ...FULL_PROFILE, wifi });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ code: 'VALIDATION', error: expect.stringMatching(/passphrase/) });
    expect((await t.as.viewer.get('/api/venues/NOPW/profile')).body.revision).toBeNull();
  });

  it.each([
    ['a short passphrase', { wifi: { ...FULL_PROFILE.wifi, passphrase: 'short' } }, /wifi|passphrase/],
    ['a key that does not parse', { ssh: { authorized_keys: [`ssh-ed25519 ${ED25519_KEY.split(' ')[1]!.slice(0, 30)}`], password_login: false } }, /Key 1: the ssh-ed25519 key data is cut short/],
    ['a path leaving the root filesystem', { files: [{ ...FULL_PROFILE.files[0], path: '/etc/../../x' }] }, /may not leave the root filesystem/],
    ['a plain password instead of a hash', { user: { name: 'crew', password_hash: 'hunter2hunter2' } }, /password_hash/],
    ['an unknown time zone', { time_zone: 'Europe/Atlantis' }, /not a known time zone/],
    ['an unknown variable', { commands: ['echo {kart}'] }, /unknown variable \{kart\}/],
  ])('refuses %s with 400, echoes no secret and keeps the stored revision', async (_what, change, message) => {
    const code = `B${Math.random().toString(36).slice(2, 5).toUpperCase()}`;
    venueWithKarts(code);
    await t.as.operator.put(`/api/venues/${code}/profile`, FULL_PROFILE);
    const answer = await t.as.operator.put(`/api/venues/${code}/profile`, { ...FULL_PROFILE, ...change });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ success: false, code: 'VALIDATION' });
    expect(answer.body.error).toMatch(message);
    for (const secret of [...SECRETS, 'hunter2hunter2']) expect(answer.text).not.toContain(secret);
    expect((await t.as.viewer.get(`/api/venues/${code}/profile`)).body.revision.revision).toBe(1);
  });

  it('answers 404 for an unknown venue and refuses a viewer', async () => {
    expect((await t.as.operator.put('/api/venues/NONE/profile', EMPTY_PROFILE)).status).toBe(404);
    expect((await t.as.viewer.get('/api/venues/NONE/profile')).status).toBe(404);
    expect((await t.as.viewer.put('/api/venues/PROF/profile', EMPTY_PROFILE)).status).toBe(403);
    expect((await t.as.viewer.get('/api/venues/PROF/profile?product=XXXX')).status).toBe(400);
  });

  it('deletes a venue that was never used together with its profile revisions', async () => {
    venueWithKarts('GONE', '1');
    await t.as.operator.put('/api/venues/GONE/profile', FULL_PROFILE);
    await t.as.operator.put('/api/venues/GONE/profile?product=KXP2', EMPTY_PROFILE);
    expect((await t.as.operator.delete('/api/venues/GONE')).status).toBe(200);
    expect(t.server.db.prepare("SELECT count(*) FROM profile_revisions WHERE venue_code = 'GONE'").pluck().get()).toBe(0);
  });

  it('numbers concurrent changes one after the other without losing any', async () => {
    venueWithKarts('CONC');
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => t.as.operator.put('/api/venues/CONC/profile', { ...FULL_PROFILE, commands: [`echo change ${i}`] })));
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
    expect(answers.map((a) => a.body.revision.revision).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });
});

describe('a device\'s configuration and its profile', () => {
  it('carries the profile with the device\'s own variables and records the revision on the deployment', async () => {
    venueWithKarts('VARS', '7-9');
    await t.as.operator.put('/api/venues/VARS/profile', FULL_PROFILE);
    const config = await askConfig('VARS', '10000000beef0007');
    expect(config.status).toBe(200);
    const provisioning = config.body.provisioning;
    expect(provisioning.files[0].content).toBe(`venue=VARS\nkart=7\nhost=${config.body.hostname}\nserial=10000000beef0007\nmac=dc:a6:32:00:00:07\n`);
    expect(provisioning.files[1].path).toBe(`/opt/camera/${config.body.hostname}.json`);
    expect(provisioning.commands).toEqual([`echo provisioned ${config.body.hostname} >/var/log/pitcrew-provisioned`]);
    const recorded = await t.as.viewer.get(`/api/deployments/${config.body.deployment_id}/profile`);
    expect(recorded.body).toMatchObject({ deployment_id: config.body.deployment_id, revision: { id: provisioning.revision_id, revision: 1, venue_code: 'VARS' } });
  });

  it('gives a product its own override when it has one, the venue\'s profile otherwise, and nothing without a profile', async () => {
    venueWithKarts('PROD');
    expect((await askConfig('PROD', '10000000cccc0001')).body.provisioning ?? null).toBeNull();
    await t.as.operator.put('/api/venues/PROD/profile', FULL_PROFILE);
    await t.as.operator.put('/api/venues/PROD/profile?product=RXP2', { ...EMPTY_PROFILE, time_zone: 'America/Los_Angeles' });
    expect((await t.as.viewer.get('/api/venues/PROD/profile?product=RXP2')).body).toMatchObject({ product_type: 'RXP2', revision: { revision: 1 }, profile: { time_zone: 'America/Los_Angeles', wifi: null } });
    expect((await askConfig('PROD', '10000000cccc0002')).body.provisioning).toMatchObject({ time_zone: 'Europe/Berlin' });
    expect((await askConfig('PROD', '10000000cccc0003', 'RXP2')).body.provisioning).toMatchObject({ time_zone: 'America/Los_Angeles', wifi: null });
  });

  it('leaves devices configured during a batch with their revision when the profile changes mid-batch, and the records say which', async () => {
    venueWithKarts('BTCH', '1-6');
    const batch = t.server.core.batches.create({ venue_code: 'BTCH', product_type: 'KXP2', total_count: 6 });
    t.server.core.batches.start(batch.id);
    await t.as.operator.put('/api/venues/BTCH/profile', FULL_PROFILE);
    const early = await Promise.all(['01', '02', '03'].map((n) => askConfig('BTCH', `10000000dddd00${n}`)));
    await t.as.operator.put('/api/venues/BTCH/profile', { ...FULL_PROFILE, time_zone: 'Europe/London' });
    const late = await Promise.all(['04', '05'].map((n) => askConfig('BTCH', `10000000dddd00${n}`)));

    for (const answer of early) expect(answer.body.provisioning).toMatchObject({ revision: 1, time_zone: 'Europe/Berlin' });
    for (const answer of late) expect(answer.body.provisioning).toMatchObject({ revision: 2, time_zone: 'Europe/London' });
    for (const answer of [...early, ...late]) expect(answer.body.batch_id).toBe(batch.id);
    const recorded = await Promise.all([...early, ...late].map((a) => t.as.viewer.get(`/api/deployments/${a.body.deployment_id}/profile`)));
    expect(recorded.map((r) => r.body.revision.revision)).toEqual([1, 1, 1, 2, 2]);
    // A device of the first three asking again (a re-image) gets the profile as it now is.
    const again = await askConfig('BTCH', '10000000dddd0001');
    expect(again.body.provisioning.revision).toBe(2);
    expect((await t.as.viewer.get(`/api/deployments/${early[0]!.body.deployment_id}/profile`)).body.revision.revision).toBe(1);
  });
});

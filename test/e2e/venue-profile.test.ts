// The venue page's provisioning profile: the form checks every field with the contracts' own rules as it is
// filled, refuses to send what the server would refuse, stores revisions, and never shows a secret back (the
// inputs stay empty with "set — type to replace"; leaving them empty keeps the stored value, as the next device's
// configuration shows).
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDashboard, type Dashboard } from './support/dashboard.session.js';
import { FakeDevice } from './support/fake-device.js';
import type { ApiSession } from './support/api.session.js';
import { ED25519_KEY, SHA512_HASH } from '../../src/contracts/test-support/profile-samples.js';
import type { ProfileResponse } from '../../src/contracts/provisioning-profile.js';

const PASSPHRASE = 'grid walk 2026';

describe('provisioning profile on the venue page', () => {
  let dashboard: Dashboard;
  let page: Page;
  let admin: ApiSession;

  beforeAll(async () => {
    dashboard = await openDashboard({
      prepare: async (session) => {
        admin = session;
        await session.post('/api/venues', { code: 'CORO', name: 'Coronado' });
        await session.post('/api/kart-numbers', { venue_code: 'CORO', numbers: '1-10' });
        await session.activateNewImage('KXP2', '1.0.0', 64 * 1024);
      },
    });
    ({ page } = dashboard);
    await page.goto('/venues/CORO');
  });
  afterAll(() => dashboard?.close());

  const byTestId = (id: string) => page.getByTestId(id);
  const stored = () => admin.get<ProfileResponse>('/api/venues/CORO/profile');

  it('shows there is no profile yet and checks each field as it is filled, sending nothing invalid', async () => {
    await byTestId('profile-empty').waitFor();
    await byTestId('profile-edit').click();
    await byTestId('profile-wifi-on').check();
    await byTestId('profile-ssid').fill('Pit Lane');
    await byTestId('profile-country').fill('d');
    await byTestId('profile-country-error').getByText('Two capital letters').waitFor();
    await byTestId('profile-country').fill('de');
    await byTestId('profile-country-error').waitFor({ state: 'detached' });
    expect(await byTestId('profile-country').inputValue()).toBe('DE');

    await byTestId('profile-passphrase').fill('short');
    await byTestId('profile-passphrase-error').getByText('8–63 printable ASCII characters').waitFor();
    await byTestId('profile-keys').fill(`${ED25519_KEY}\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5`);
    await byTestId('profile-keys-error').getByText(/Key 2: the ssh-ed25519 key data is cut short/).waitFor();
    await byTestId('profile-time-zone').fill('Europe/Atlantis');
    await byTestId('profile-time-zone-error').getByText('not a known time zone').waitFor();
    await byTestId('profile-add-file').click();
    await byTestId('profile-file-0-path').fill('etc/kart.conf');
    await byTestId('profile-file-0-path-error').getByText('must be an absolute path').waitFor();
    await byTestId('profile-file-0-content').fill('kart={kart}');
    await byTestId('profile-file-0-content-error').getByText('unknown variable {kart}').waitFor();
    await byTestId('profile-user-on').check();
    await byTestId('profile-user-name').fill('crew');
    await byTestId('profile-password-hash').fill('hunter2');
    await byTestId('profile-password-hash-error').getByText('never the password itself').waitFor();

    await byTestId('profile-save').click();
    expect(await byTestId('profile-save').isDisabled()).toBe(true);
    expect((await stored()).revision).toBeNull();
  });

  it('stores a valid profile as revision 1 and shows its secrets only as set', async () => {
    await byTestId('profile-passphrase').fill(PASSPHRASE);
    await byTestId('profile-keys').fill(ED25519_KEY);
    await byTestId('profile-time-zone').fill('Europe/Berlin');
    await byTestId('profile-file-0-path').fill('/etc/kart/identity.conf');
    await byTestId('profile-file-0-content').fill('kart={kart_number}');
    await byTestId('profile-password-hash').fill(SHA512_HASH);
    await byTestId('profile-commands').fill('echo {hostname} > /etc/motd');
    await byTestId('profile-save').click();
    await byTestId('profile-form').waitFor({ state: 'detached' });

    await byTestId('profile-show-revision').getByText(/^1 · /).waitFor();
    expect(await byTestId('profile-show-wifi').textContent()).toBe('Pit Lane (DE) · passphrase set');
    expect(await byTestId('profile-show-user').textContent()).toBe('crew · password set');
    expect(await byTestId('profile-show-ssh').textContent()).toBe('1 key · password login off');
    expect((await stored()).profile).toMatchObject({ time_zone: 'Europe/Berlin', files: [{ path: '/etc/kart/identity.conf', content: 'kart={kart_number}', mode: '0644', owner: 'root' }] });
  });

  it('opens with the secret inputs empty, keeps the secrets when they are left so, and never puts them in the page', async () => {
    await byTestId('profile-edit').click();
    expect(await byTestId('profile-passphrase').inputValue()).toBe('');
    expect(await byTestId('profile-passphrase').getAttribute('placeholder')).toBe('set — type to replace');
    expect(await byTestId('profile-password-hash').getAttribute('placeholder')).toBe('set — type to replace');
    const html = await page.content();
    for (const secret of [PASSPHRASE, SHA512_HASH]) expect(html).not.toContain(secret);

    await byTestId('profile-time-zone').fill('Europe/London');
    await byTestId('profile-save').click();
    await byTestId('profile-show-revision').getByText(/^2 · /).waitFor();

    const config = await FakeDevice.numbered(dashboard.server.deviceUrl, 1).requestConfig({ product_type: 'KXP2', venue_code: 'CORO' });
    expect(config.provisioning).toMatchObject({ revision: 2, time_zone: 'Europe/London', wifi: { passphrase: PASSPHRASE }, user: { name: 'crew', password_hash: SHA512_HASH } });
    expect(config.provisioning!.files[0]!.content).toBe('kart=1');
    // The card says, live, which revision devices got.
    await byTestId('profile-history-2').getByText(/^Revision 2: 1 deployment · /).waitFor();
    await byTestId('profile-history-1').getByText(/^Revision 1: 0 deployments · /).waitFor();
  });

  it('shows a product without an override as using the venue\'s profile', async () => {
    await byTestId('profile-scope-RXP2').click();
    await byTestId('profile-empty').getByText('No RXP2 override').waitFor();
    await byTestId('profile-scope-all').click();
    await byTestId('profile-show-revision').getByText(/^2 · /).waitFor();
  });
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runCli } from '../program.js';
import { openDatabase } from '../../db/database.js';
import { createProfileRepository } from '../../db/profile.repository.js';
import { FULL_PROFILE, SHA512_HASH } from '../../contracts/test-support/profile-samples.js';

let dir: string;
beforeEach(() => void (dir = mkdtempSync(join(tmpdir(), 'pitcrew-cli-profile-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function pitcrew(...args: string[]) {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((out += String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((err += String(chunk)), true));
  try {
    const code = await runCli(['node', 'pitcrew', '--data-dir', join(dir, 'data'), ...args]);
    return { code, out, err };
  } finally {
    vi.restoreAllMocks();
  }
}

/** What the data folder stores for a venue, secrets included. */
function stored(venue: string) {
  const db = openDatabase(join(dir, 'data', 'pitcrew.db'));
  try {
    return createProfileRepository(db).latest(venue, null);
  } finally {
    db.close();
  }
}
const SECRETS = [FULL_PROFILE.wifi!.passphrase, SHA512_HASH];

describe('pitcrew profile', () => {
  it('sets a profile from a file, shows it without secrets, and round-trips show --json through set --file keeping them', async () => {
    await pitcrew('venue', 'create', 'CORO', 'Coronado');
    const file = join(dir, 'profile.json');
    writeFileSync(file, JSON.stringify(FULL_PROFILE));
    expect(await pitcrew('profile', 'set', '--venue', 'coro', '--file', file)).toMatchObject({ code: 0, out: 'Stored revision 1 of the CORO profile.\n' });

    const shown = await pitcrew('profile', 'show', '--venue', 'CORO');
    expect(shown.out).toMatch(/wifi\s+Venue Karts \(DE\), passphrase set/);
    expect(shown.out).toMatch(/user\s+crew, password set/);
    expect(shown.out).toMatch(/revision\s+1 \(.* by cli/);
    const json = await pitcrew('profile', 'show', '--venue', 'CORO', '--json');
    for (const secret of SECRETS) expect(shown.out + json.out).not.toContain(secret);

    writeFileSync(file, json.out);
    expect((await pitcrew('profile', 'set', '--venue', 'CORO', '--file', file, '--time-zone', 'UTC', '--keyboard', 'gb', '--password-login', 'on')).code).toBe(0);
    const second = stored('CORO')!;
    expect(second.revision).toBe(2);
    expect(second.profile).toEqual({ ...FULL_PROFILE, time_zone: 'UTC', keyboard: { layout: 'gb', variant: '' }, ssh: { ...FULL_PROFILE.ssh, password_login: true } });
    expect((await pitcrew('profile', 'history', '--venue', 'CORO')).out).toMatch(/all\s+2 .*\n.*all\s+1 /);
  });

  it('applies flags to the current profile, and needs the passphrase from a file for a new network', async () => {
    await pitcrew('venue', 'create', 'ARIA', 'Aria');
    expect(await pitcrew('profile', 'set', '--venue', 'ARIA', '--ssid', 'Pits', '--country', 'US')).toMatchObject({ code: 1, err: expect.stringMatching(/passphrase/) });
    expect(await pitcrew('profile', 'set', '--venue', 'ARIA', '--user', 'crew', '--command', 'echo {hostname}', '--command', 'true')).toMatchObject({ code: 0 });
    expect(stored('ARIA')!.profile).toMatchObject({ wifi: null, user: { name: 'crew', password_hash: null }, commands: ['echo {hostname}', 'true'] });
    expect(await pitcrew('profile', 'set', '--venue', 'ARIA', '--product', 'rxp2', '--locale', 'en_US.UTF-8')).toMatchObject({ code: 0, out: 'Stored revision 1 of the ARIA RXP2 profile.\n' });
  });

  it.each([
    [['--time-zone', 'Nowhere/Special'], /not a known time zone/],
    [['--ssh-key', 'ssh-ed25519 AAAA'], /Key 1/],
    [['--password-login', 'maybe'], /--password-login must be one of on, off/],
    [['--command', 'echo {kartnumber}'], /unknown variable \{kartnumber\}/],
    [['--product', 'XXP1'], /Product must be one of KXP2, RXP2/],
    [['--file', '/nonexistent/profile.json'], /Cannot read \/nonexistent\/profile.json: ENOENT/],
  ])('refuses %j with one line and stores nothing', async (flags, message) => {
    await pitcrew('venue', 'create', 'BADV', 'Bad');
    const answer = await pitcrew('profile', 'set', '--venue', 'BADV', ...flags);
    expect(answer.code).toBe(1);
    expect(answer.err).toMatch(message);
    expect(stored('BADV')).toBeNull();
  });

  it('refuses a file that is not JSON or not a profile', async () => {
    await pitcrew('venue', 'create', 'FILE', 'File');
    const file = join(dir, 'bad.json');
    writeFileSync(file, '{ wifi: ');
    expect((await pitcrew('profile', 'set', '--venue', 'FILE', '--file', file)).err).toMatch(/is not JSON/);
    writeFileSync(file, JSON.stringify({ ...FULL_PROFILE, files: [{ path: 'relative', mode: '0644', owner: 'root', content: '' }] }));
    expect((await pitcrew('profile', 'set', '--venue', 'FILE', '--file', file)).err).toMatch(/must be an absolute path/);
    writeFileSync(file, JSON.stringify({ wifi: null }));
    expect((await pitcrew('profile', 'set', '--venue', 'FILE', '--file', file)).err).toMatch(/The profile is not valid: .*ssh/);
    expect(stored('FILE')).toBeNull();
  });
});

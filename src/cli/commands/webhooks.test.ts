// `pitcrew webhook …` against a data directory, and the server sending what the CLI queued.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runCli } from '../program.js';
import { startTestServer, waitFor } from '../../server/test-support/test-server.js';
import { startWebhookReceiver } from '../../server/webhooks/test-support/webhook-receiver.js';

async function run(dataDir: string, ...args: string[]) {
  let out = '';
  let err = '';
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((out += String(chunk)), true));
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((err += String(chunk)), true));
  try {
    return { code: await runCli(['node', 'pitcrew', '--data-dir', dataDir, ...args]), out, err };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
}

describe('pitcrew webhook', () => {
  let dir: string;
  beforeEach(() => void (dir = mkdtempSync(join(tmpdir(), 'pitcrew-cli-webhook-'))));
  afterEach(() => {
    delete process.env.PITCREW_TEST_WEBHOOK_SECRET;
    rmSync(dir, { recursive: true, force: true });
  });

  it('adds, lists, tests and removes a webhook, taking the secret from the environment', async () => {
    process.env.PITCREW_TEST_WEBHOOK_SECRET = 'a-secret-from-the-environment';
    expect(await run(dir, 'webhook', 'add', 'Floor phone', 'https://ntfy.example/floor', '--format', 'NTFY', '--events', 'device_failed, device_not_booted', '--secret-env', 'PITCREW_TEST_WEBHOOK_SECRET'))
      .toMatchObject({ code: 0, out: 'Added webhook 1 (Floor phone): device_failed, device_not_booted as ntfy, signed.\n' });
    const list = await run(dir, 'webhook', 'list');
    expect(list.out).toContain('https://ntfy.example/floor');
    expect(list.out).not.toContain('a-secret-from-the-environment');
    expect((await run(dir, 'webhook', 'test', '1')).out).toBe('Queued test delivery 1 to Floor phone; the running server sends it.\n');
    expect((await run(dir, 'webhook', 'log')).out).toMatch(/1\s+Floor phone\s+test\s+pending\s+0/);
    expect((await run(dir, 'webhook', 'remove', '1')).out).toBe('Deleted webhook 1.\n');
    expect((await run(dir, 'webhook', 'list')).out).toContain('No webhooks yet');
  });

  it.each([
    [['webhook', 'add', 'x', 'ftp://example.com/'], 'must start with http:// or https://'],
    [['webhook', 'add', 'x', 'https://example.com/', '--events', 'device_exploded'], 'an event must be one of batch_finished, device_failed, device_not_booted, not "device_exploded"'],
    [['webhook', 'add', 'x', 'https://example.com/', '--format', 'xml'], '--format must be one of json, ntfy, slack'],
    [['webhook', 'add', 'x', 'https://example.com/', '--secret-env', 'PITCREW_TEST_WEBHOOK_SECRET'], '16 to 256 characters'],
    [['webhook', 'test', '9'], 'There is no webhook 9.'],
    [['webhook', 'remove', 'abc'], 'webhook id must be a positive whole number'],
  ])('refuses %j with one line saying why', async (args, message) => {
    const result = await run(dir, ...args);
    expect(result.code).toBe(1);
    expect(result.err).toContain(message);
    expect((await run(dir, 'webhook', 'list')).out).toContain('No webhooks yet');
  });
});

describe('pitcrew webhook test, with the server running', () => {
  it('is sent by the server as soon as it notices the change', async () => {
    const receiver = await startWebhookReceiver();
    const t = await startTestServer({}, { users: false });
    try {
      expect((await run(t.dataDir, 'webhook', 'add', 'Script', `${receiver.url}/cli`, '--format', 'slack')).code).toBe(0);
      expect((await run(t.dataDir, 'webhook', 'test', '1')).code).toBe(0);
      await waitFor(() => receiver.received.length === 1, 5000, 'the queued test to arrive');
      expect(JSON.parse(receiver.received[0]!.body).text).toContain('Pitcrew test notification');
      await waitFor(() => t.server.core.webhooks.deliveries(1)[0]?.status === 'delivered', 5000, 'the delivery to be logged');
    } finally {
      await t.close();
      await receiver.close();
    }
  });
});

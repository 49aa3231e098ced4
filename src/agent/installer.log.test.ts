import { describe, expect, it } from 'vitest';
import { InstallerLog } from './installer.log.js';

const at = () => Date.parse('2026-05-01T10:00:00Z');

describe('the installer log', () => {
  it('keeps lines with their time and level, and only each tenth of a phase\'s progress', () => {
    const log = new InstallerLog(at);
    log.record({ type: 'phase', phase: 'downloading', message: 'downloading v1' });
    for (let percent = 0; percent <= 25; percent += 0.5) log.record({ type: 'progress', phase: 'downloading', bytesDone: percent * 1024 ** 2, bytesTotal: 100 * 1024 ** 2, rateBps: 2.5 * 1024 ** 2, percent, etaS: null });
    log.record({ type: 'phase', phase: 'failed', message: 'read-back verification failed' });
    expect(log.text().split('\n').filter(Boolean)).toEqual([
      '2026-05-01T10:00:00.000Z info  [downloading] downloading v1',
      '2026-05-01T10:00:00.000Z info  [downloading] 0 %: 0 B of 100 MiB at 2.5 MiB/s',
      '2026-05-01T10:00:00.000Z info  [downloading] 10 %: 10.0 MiB of 100 MiB at 2.5 MiB/s',
      '2026-05-01T10:00:00.000Z info  [downloading] 20 %: 20.0 MiB of 100 MiB at 2.5 MiB/s',
      '2026-05-01T10:00:00.000Z error [failed] read-back verification failed',
    ]);
    expect(log.truncated).toBe(false);
  });

  it('drops its oldest lines to stay within its bound, and says so', () => {
    const log = new InstallerLog(at, 1000);
    for (let i = 0; i < 100; i++) log.add('info', `line ${i} ${'x'.repeat(20)}`);
    expect(Buffer.byteLength(log.text())).toBeLessThanOrEqual(1000);
    expect(log.text()).toContain('line 99 ');
    expect(log.text()).not.toContain('line 0 ');
    expect(log.truncated).toBe(true);
    // A single line longer than the bound is cut, not kept whole.
    log.add('warn', 'y'.repeat(5000));
    expect(Buffer.byteLength(log.text())).toBeLessThanOrEqual(1000);
  });

  it('gives its last whole lines for a success\'s report', () => {
    const log = new InstallerLog(at);
    for (let i = 0; i < 50; i++) log.add('info', `line ${i}`);
    const tail = log.tail(200);
    expect(Buffer.byteLength(tail)).toBeLessThanOrEqual(200);
    expect(tail.endsWith('line 49\n')).toBe(true);
    expect(tail.split('\n')[0]).toMatch(/^2026-05-01T10:00:00.000Z info {2}line \d+$/);
    expect(new InstallerLog(at).tail()).toBe('');
  });
});

import { describe, expect, it } from 'vitest';
import { readWarnings, withWarnings } from './deployment-message.js';

describe('warnings in a deployment message', () => {
  it('puts each warning on its own line after the summary, and reads them back', () => {
    const message = withWarnings('installed 2025.1 as KXP2-CORO-007; verified (o_direct)', ['the hostname is only in /etc/hostname', 'boot order\nnot checked']);
    expect(message).toBe('installed 2025.1 as KXP2-CORO-007; verified (o_direct)\nwarning: the hostname is only in /etc/hostname\nwarning: boot order not checked');
    expect(readWarnings(message)).toEqual(['the hostname is only in /etc/hostname', 'boot order not checked']);
  });

  it('leaves a message without warnings as it was, and finds none in it', () => {
    expect(withWarnings('installed 2025.1 as KXP2-CORO-007', [])).toBe('installed 2025.1 as KXP2-CORO-007');
    expect(readWarnings('installed 2025.1 as KXP2-CORO-007; warning: inside a summary is no warning line')).toEqual([]);
    expect(readWarnings('warning: a first line is the summary')).toEqual([]);
    expect(readWarnings(null)).toEqual([]);
  });

  it('shortens long warnings so that every one of them fits a report', () => {
    const message = withWarnings('summary', Array.from({ length: 4 }, (_, i) => `${i} ${'x'.repeat(3000)}`));
    expect(message.length).toBeLessThanOrEqual(2000);
    const warnings = readWarnings(message);
    expect(warnings.map((w) => w.slice(0, 2))).toEqual(['0 ', '1 ', '2 ', '3 ']);
    expect(warnings.every((w) => w.endsWith('…'))).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import { attentionReasonOf, attentionSentences, describeFailure, describeNotBooted, STALLED_AFTER_S } from './attention.js';
import { COUNTERFEIT_CARD_SENTENCE } from './card-health.js';
import { bootStateOf } from './checkin.js';

const at = (iso: string) => Date.parse(iso);
const base = { updated_at: '2026-05-01T10:00:00.000Z', attention_resolved_at: null };

describe('attentionReasonOf', () => {
  it('keeps a failure until someone resolves it, however old', () => {
    expect(attentionReasonOf({ ...base, status: 'failed' }, at('2026-05-09T10:00:00Z'))).toBe('failed');
    expect(attentionReasonOf({ ...base, status: 'failed', attention_resolved_at: '2026-05-01T10:01:00.000Z' }, at('2026-05-09T10:00:00Z'))).toBeNull();
  });

  it('calls an unfinished device stalled after its silence, and an acknowledgement covers only that silence', () => {
    const silentLongEnough = at(base.updated_at) + STALLED_AFTER_S * 1000;
    expect(attentionReasonOf({ ...base, status: 'downloading' }, silentLongEnough - 1)).toBeNull();
    expect(attentionReasonOf({ ...base, status: 'downloading' }, silentLongEnough)).toBe('stalled');
    expect(attentionReasonOf({ ...base, status: 'verifying', attention_resolved_at: '2026-05-01T10:00:40.000Z' }, silentLongEnough + 60_000)).toBeNull();
    expect(attentionReasonOf({ ...base, status: 'verifying', attention_resolved_at: '2026-05-01T09:59:00.000Z' }, silentLongEnough)).toBe('stalled');
  });

  it('leaves completed and superseded devices alone', () => {
    expect(attentionReasonOf({ ...base, status: 'completed' }, at('2026-05-09T10:00:00Z'))).toBeNull();
    expect(attentionReasonOf({ ...base, status: 'superseded' }, at('2026-05-09T10:00:00Z'))).toBeNull();
  });
});

describe('not booted', () => {
  const written = { ...base, status: 'completed' as const, completed_at: '2026-05-01T10:00:00.000Z', checkin_due_at: '2026-05-01T10:15:00.000Z', booted_at: null, attention_resolution: null };
  const due = at(written.checkin_due_at);

  it('flags a written card from its check-in deadline until it checks in', () => {
    expect(attentionReasonOf(written, due - 1)).toBeNull();
    expect(attentionReasonOf(written, due)).toBe('not-booted');
    expect(attentionReasonOf({ ...written, booted_at: '2026-05-01T11:00:00.000Z' }, due + 3600_000)).toBeNull();
    expect(bootStateOf(written, due - 1)).toBe('awaiting');
    expect(bootStateOf(written, due)).toBe('not-booted');
    expect(bootStateOf({ ...written, booted_at: '2026-05-01T10:05:00.000Z' }, due)).toBe('booted');
  });

  it('never flags a card whose installer added no check-in, nor one still installing', () => {
    expect(attentionReasonOf({ ...written, checkin_due_at: null }, due + 86_400_000)).toBeNull();
    expect(bootStateOf({ ...written, checkin_due_at: null }, due)).toBe('no-checkin');
    expect(bootStateOf({ ...written, status: 'downloading' }, due)).toBeNull();
  });

  it('counts only an acknowledgement given after the deadline, and a re-image always', () => {
    const acknowledgedWhileInstalling = { ...written, attention_resolved_at: '2026-05-01T09:58:00.000Z', attention_resolution: 'acknowledged' as const };
    expect(attentionReasonOf(acknowledgedWhileInstalling, due)).toBe('not-booted');
    expect(attentionReasonOf({ ...written, attention_resolved_at: '2026-05-01T10:20:00.000Z', attention_resolution: 'acknowledged' as const }, due + 600_000)).toBeNull();
    expect(attentionReasonOf({ ...written, attention_resolved_at: '2026-05-01T10:01:00.000Z', attention_resolution: 'reimaged' as const }, due)).toBeNull();
  });

  it('says how long ago the card was written and what to check', () => {
    expect(describeNotBooted(written.completed_at, due)).toMatch(/^Written and verified 15 minutes ago, but .* boot order.*check-in address.*master image/);
    expect(describeNotBooted(written.completed_at, at(written.completed_at) + 5 * 3600_000)).toMatch(/5 hours ago/);
  });
});

describe('counterfeit card', () => {
  const written = { ...base, status: 'completed' as const, completed_at: '2026-05-01T10:00:00.000Z', card_capacity_check: 'wrapped' as const, checkin_due_at: null, booted_at: null, attention_resolution: null };
  const later = at('2026-05-09T10:00:00Z');

  it('holds a finished board whose capacity check proved its card counterfeit, however old, and booted or not', () => {
    expect(attentionReasonOf(written, later)).toBe('counterfeit-card');
    expect(attentionReasonOf({ ...written, card_capacity_check: 'lost' }, later)).toBe('counterfeit-card');
    expect(attentionReasonOf({ ...written, checkin_due_at: '2026-05-01T10:15:00.000Z', booted_at: '2026-05-01T10:05:00.000Z' }, later)).toBe('counterfeit-card');
  });

  it('leaves a card whose check passed, was skipped or never ran alone, and an unfinished or failed one to their own reasons', () => {
    for (const check of ['ok', 'skipped', null] as const) expect(attentionReasonOf({ ...written, card_capacity_check: check }, later)).toBeNull();
    expect(attentionReasonOf({ ...written, card_capacity_check: undefined }, later)).toBeNull();
    expect(attentionReasonOf({ ...written, status: 'downloading', completed_at: null, updated_at: written.completed_at }, at(written.completed_at) + 1000)).toBeNull();
    expect(attentionReasonOf({ ...written, status: 'failed' }, later)).toBe('failed');
    expect(attentionReasonOf({ ...written, status: 'superseded' }, later)).toBeNull();
  });

  it('counts an acknowledgement or a re-image asked since it was written, and a re-image always; not an acknowledgement of a stall while it installed', () => {
    expect(attentionReasonOf({ ...written, attention_resolved_at: '2026-05-01T10:01:00.000Z', attention_resolution: 'acknowledged' as const }, later)).toBeNull();
    expect(attentionReasonOf({ ...written, attention_resolved_at: written.completed_at, attention_resolution: 'reimage' as const }, later)).toBeNull();
    expect(attentionReasonOf({ ...written, attention_resolved_at: '2026-05-01T09:58:00.000Z', attention_resolution: 'reimaged' as const }, later)).toBeNull();
    expect(attentionReasonOf({ ...written, attention_resolved_at: '2026-05-01T09:58:00.000Z', attention_resolution: 'acknowledged' as const }, later)).toBe('counterfeit-card');
  });

  it('gives way to not-booted past its check-in deadline, whose own resolution rule decides', () => {
    const silent = { ...written, checkin_due_at: '2026-05-01T10:15:00.000Z' };
    const due = at(silent.checkin_due_at);
    expect(attentionReasonOf(silent, due - 1)).toBe('counterfeit-card');
    expect(attentionReasonOf(silent, due)).toBe('not-booted');
    // Acknowledged as a counterfeit card before its deadline: the silence after it is news.
    expect(attentionReasonOf({ ...silent, attention_resolved_at: '2026-05-01T10:05:00.000Z', attention_resolution: 'acknowledged' as const }, due - 1)).toBeNull();
    expect(attentionReasonOf({ ...silent, attention_resolved_at: '2026-05-01T10:05:00.000Z', attention_resolution: 'acknowledged' as const }, due)).toBe('not-booted');
    expect(attentionReasonOf({ ...silent, attention_resolved_at: '2026-05-01T10:20:00.000Z', attention_resolution: 'acknowledged' as const }, due + 600_000)).toBeNull();
    expect(attentionReasonOf({ ...silent, attention_resolved_at: '2026-05-01T10:01:00.000Z', attention_resolution: 'reimaged' as const }, due)).toBeNull();
  });
});

describe('describeFailure', () => {
  it.each([
    ['read-back verification failed: the disk holds sha256 aaaa, the image is bbbb (faulty or counterfeit storage?)', 'verify', /failed verification.*Replace the card/],
    ['the card failed verification at offset 4194304 (chunk 1, 4194304 bytes): it read back wrong twice', 'verify', /failed verification/],
    ['/dev/mmcblk0 (SD card, 32 GB) is write-protected (an SD card\'s lock switch?)', 'write-protected', /lock switch/],
    ['the target /dev/mmcblk0 holds 4000000000 bytes but the image needs 8000000000', 'card-too-small', /too small/],
    ['no disk this board can boot from to install to (no SD card, eMMC, NVMe or USB drive found)', 'no-card', /No card or drive/],
    ['writing /dev/mmcblk0 at byte 1048576 made no progress', 'io', /reseat or replace/],
    ['writing the target at byte 1048576 failed: EIO: i/o error, write', 'io', /reseat or replace/],
    ['the image\'s chunks could not be fetched after 5 retries: socket hang up', 'network', /network cable/],
    ['chunk 3 of the image arrived corrupt 3 times in a row: sha256 differs', 'corrupt-download', /arriving corrupt/],
    ['the server refused a configuration (HTTP 409 POOL_EXHAUSTED): no kart numbers left', 'refused', /turned the device away/],
    ['the boot partition has no cmdline.txt; this is not a Raspberry Pi OS image', 'customize', /hostname could not be set/],
    ['writing hostname, firstrun.sh to the boot partition failed: disk full', 'customize', /hostname could not be set/],
    ['the configuration\'s hostname is not a valid host name: "a b"', 'incompatible', /versions may not match/],
    ['No report from the device for 10 minutes (last status: downloading); marked failed.', 'silent', /went silent/],
    ['Target disk too small: 7.8 GB < 8.0 GB image', 'card-too-small', /too small/],
    ['Download stalled: no data for 120 s', 'network', /lost the server/],
    ['something nobody foresaw', 'unknown', /installer's own words/],
  ])('%s → %s', (message, kind, sentence) => {
    const described = describeFailure(message);
    expect(described.kind).toBe(kind);
    expect(described.sentence).toMatch(sentence);
  });

  it('has a sentence for a failure reported without words', () => {
    expect(describeFailure(null).kind).toBe('unknown');
  });

  it('goes by the installer\'s code where the code decides, whatever the words', () => {
    // The words alone would read as a card too small, and as a corrupt download.
    expect(describeFailure('the boot partition is too small for firstrun.sh', 'CUSTOMIZE').kind).toBe('customize');
    expect(describeFailure('the range\'s checksum differs from the chunk\'s', 'VERIFY_MISMATCH').kind).toBe('verify');
    expect(describeFailure('the image\'s chunks could not be fetched after 5 retries: socket hang up', 'NETWORK').sentence).toMatch(/lost the server/);
  });

  it('goes by the words for codes that cover several failures, and for codes it does not know', () => {
    expect(describeFailure('/dev/mmcblk0 (SD card, 32 GB) is write-protected (an SD card\'s lock switch?)', 'TARGET').kind).toBe('write-protected');
    expect(describeFailure('the target /dev/sda is mounted at /media/usb; refusing to overwrite a disk in use', 'TARGET').kind).toBe('target');
    expect(describeFailure('chunk 3 is not on the server (HTTP 404): the image\'s chunks changed or were removed', 'HTTP').kind).toBe('image-changed');
    expect(describeFailure('read-back verification failed: the disk holds sha256 aa', 'A_NEWER_CODE').kind).toBe('verify');
  });
});

describe('attention sentences', () => {
  const base = { status: 'failed' as const, updated_at: '2026-05-01T10:00:00Z', attention_resolved_at: null, error_message: 'read-back verification failed: the disk holds sha256 ab', error_code: null, card_kind: 'sd' as const, card_size_bytes: 31_914_983_424, card_capacity_check: 'ok' as const, card_write_bps: 20e6, fleet_median_write_bps: 20e6, completed_at: null };
  it('add what the card\'s measurements say to the failure', () => {
    expect(attentionSentences(base, 'failed', Date.parse('2026-05-01T10:01:00Z'))).toEqual([describeFailure(base.error_message).sentence]);
    const fake = attentionSentences({ ...base, card_capacity_check: 'wrapped', card_write_bps: 2e6 }, 'failed', Date.parse('2026-05-01T10:01:00Z'));
    expect(fake).toHaveLength(3);
    expect(fake[1]).toMatch(/10 % of the fleet's usual rate/);
    expect(fake[2]).toMatch(/holds less than it claims/);
  });
  it('say how long a stalled device has been silent', () => {
    expect(attentionSentences({ ...base, status: 'downloading' }, 'stalled', Date.parse('2026-05-01T10:05:00Z'))[0]).toMatch(/^No report for 5 minutes/);
  });
  it('say a counterfeit card is the trouble first, once, then what else the card\'s measurements say', () => {
    const written = { ...base, status: 'completed' as const, completed_at: '2026-05-01T10:00:00Z', card_capacity_check: 'lost' as const };
    expect(attentionSentences(written, 'counterfeit-card', Date.parse('2026-05-01T10:20:00Z'))).toEqual([COUNTERFEIT_CARD_SENTENCE]);
    const slowToo = attentionSentences({ ...written, card_write_bps: 2e6 }, 'counterfeit-card', Date.parse('2026-05-01T10:20:00Z'));
    expect(slowToo).toEqual([COUNTERFEIT_CARD_SENTENCE, expect.stringMatching(/^The card wrote at 10 % of the fleet's usual rate/)]);
    // Not booted first, the card after it.
    expect(attentionSentences(written, 'not-booted', Date.parse('2026-05-01T10:20:00Z'))).toEqual([expect.stringMatching(/^Written and verified 20 minutes ago/), COUNTERFEIT_CARD_SENTENCE]);
  });
  it('say how long ago a card that never checked in was written', () => {
    const written = { ...base, status: 'completed' as const, completed_at: '2026-05-01T10:00:00Z' };
    expect(attentionSentences(written, 'not-booted', Date.parse('2026-05-01T10:20:00Z'))[0]).toBe(describeNotBooted(written.completed_at, Date.parse('2026-05-01T10:20:00Z')));
    expect(attentionSentences(written, 'not-booted', Date.parse('2026-05-01T10:20:00Z'))[0]).toMatch(/^Written and verified 20 minutes ago/);
  });
});

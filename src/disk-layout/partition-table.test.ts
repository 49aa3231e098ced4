import { execFile } from 'node:child_process';
import { mkdtemp, open, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePartitionTable, PartitionTableError, readPartitionTable } from './partition-table.js';

const MiB = 1 << 20;

function sfdisk(path: string, script: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', path], (error) => (error ? reject(error) : resolve()));
    child.stdin!.end(script);
  });
}

describe('the shared partition table reader', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pitcrew-disk-layout-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function image(name: string, size: number, script: string): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, '');
    await truncate(path, size);
    await sfdisk(path, script);
    return path;
  }

  it('locates both GPTs: primary header and entries, and the backup at the alternate LBA', async () => {
    const path = await image('gpt.img', 20 * MiB, 'label: gpt\nunit: sectors\n\nstart=2048, size=8192, type=L\nstart=10240, size=8192, type=L\n');
    const layout = await readPartitionTable(path);
    expect(layout.scheme).toBe('gpt');
    expect(layout.partitions.map((p) => [p.number, p.startByte, p.sizeBytes])).toEqual([
      [1, 2048 * 512, 8192 * 512],
      [2, 10240 * 512, 8192 * 512],
    ]);
    expect(layout.gpt).toEqual({
      primaryHeaderByte: 512,
      primaryEntries: { startByte: 1024, sizeBytes: 128 * 128 },
      backupHeaderByte: 20 * MiB - 512,
      backupEntries: { startByte: 20 * MiB - 512 - 128 * 128, sizeBytes: 128 * 128 },
      backupHeaderFound: true,
    });
    // Wipe the backup: still located, now known missing.
    const file = await open(path, 'r+');
    await file.write(Buffer.alloc(512), 0, 512, 20 * MiB - 512);
    await file.close();
    expect((await readPartitionTable(path)).gpt).toMatchObject({ backupHeaderByte: 20 * MiB - 512, backupHeaderFound: false });
  });

  it('reads GPT entries that lie beyond the first MiB', async () => {
    const path = await image('far.img', 20 * MiB, 'label: gpt\nfirst-lba: 6144\ntable-length: 128\nunit: sectors\n\nstart=6144, size=8192, type=L\n');
    const head = (await readFile(path)).subarray(0, 4 * MiB);
    // Move the entries to 2 MiB (LBA 4096) and point the header there (this reader does not check CRCs).
    const entries = Buffer.from(head.subarray(1024, 1024 + 128 * 128));
    head.fill(0, 1024, 1024 + 128 * 128);
    entries.copy(head, 2 * MiB);
    head.writeBigUInt64LE(4096n, 512 + 72);
    const file = await open(path, 'r+');
    await file.write(head, 0, head.length, 0);
    await file.close();
    const error = (() => {
      try {
        parsePartitionTable(head.subarray(0, MiB));
      } catch (thrown) {
        return thrown;
      }
    })();
    expect(error).toBeInstanceOf(PartitionTableError);
    expect(error).toMatchObject({ message: 'the GPT partition entries lie outside the first 1 MiB of the image', bytesNeeded: 2 * MiB + 128 * 128 });
    const layout = await readPartitionTable(path);
    expect(layout.partitions).toEqual([{ number: 1, startByte: 6144 * 512, sizeBytes: 8192 * 512, type: '0fc63daf-8483-4772-8e79-3d69d8477de4' }]);
    expect(layout.gpt!.primaryEntries).toEqual({ startByte: 2 * MiB, sizeBytes: 128 * 128 });
  });

  it('lists MBR extended partitions apart, and refuses a boot sector posing as an MBR', async () => {
    const path = await image('ext.img', 20 * MiB, 'label: dos\nunit: sectors\n\nstart=2048, size=4096, type=c\nstart=6144, size=20000, type=5\nstart=8192, size=4096, type=83\n');
    const layout = await readPartitionTable(path);
    expect(layout.partitions).toEqual([{ number: 1, startByte: 2048 * 512, sizeBytes: 4096 * 512, type: 'c' }]);
    expect(layout.extended).toEqual([{ number: 2, startByte: 6144 * 512, sizeBytes: 20000 * 512, type: '5' }]);
    const bootCode = Buffer.alloc(512, 0x90);
    bootCode.writeUInt16LE(0xaa55, 510);
    expect(() => parsePartitionTable(bootCode)).toThrow(/no partition table \(the first sector ends in 55 AA but its partition entries are not valid\)/);
  });
});

// ext2/3/4: which bytes of the partition are in use, as e2fsprogs' dumpe2fs reports them. libext2fs reads the block
// bitmaps the way the kernel does (BLOCK_UNINIT groups are computed, flex_bg bitmaps and inode tables found wherever
// they were packed), and superblocks and their backups, group descriptors, reserved GDT blocks, bitmaps, inode
// tables and the journal are all marked in those bitmaps. Used = every block of the filesystem not listed as free;
// the metadata dumpe2fs prints per group is added as well, so a bitmap that forgot one would not lose it.
// `dumpe2fs -h` is read first: a filesystem not cleanly unmounted, with a journal to replay or with errors
// recorded is reported as not readable and its partition is sent whole.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Extent } from './byte-ranges.normalizer.js';
import type { FilesystemReading } from './filesystem.reading.js';

export interface ExtHeader {
  label: string | null;
  features: string[];
  state: string;
  blockCount: number;
  blockSize: number;
  firstBlock: number;
  blocksPerGroup: number;
  errorCount: number;
}

/** In blocks, inclusive: as dumpe2fs prints them. */
export interface BlockRun {
  first: number;
  last: number;
}

export interface ExtGroups {
  groups: number;
  free: BlockRun[];
  /** Superblocks, group descriptors, reserved GDT blocks, bitmaps and inode tables, as listed per group. */
  metadata: BlockRun[];
}

const ENV = { ...process.env, LC_ALL: 'C', LANG: 'C', LANGUAGE: '' };

/** The ext flavour from its features: ext4's own ones, else a journal makes ext3. */
export function extVariant(features: readonly string[]): 'ext2' | 'ext3' | 'ext4' {
  const ext4 = ['extent', 'extents', 'flex_bg', '64bit', 'huge_file', 'uninit_bg', 'metadata_csum', 'dir_nlink', 'extra_isize', 'bigalloc', 'inline_data'];
  if (features.some((f) => ext4.includes(f))) return 'ext4';
  return features.includes('has_journal') ? 'ext3' : 'ext2';
}

export function parseExtHeader(text: string): ExtHeader {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (/^Group \d+:/.test(line)) break;
    const match = /^([A-Za-z][^:]*):\s*(.*)$/.exec(line);
    if (match && !fields.has(match[1]!)) fields.set(match[1]!, match[2]!.trim());
  }
  const number = (name: string, fallback?: number): number => {
    const value = fields.get(name);
    if (value === undefined && fallback !== undefined) return fallback;
    if (value === undefined || !/^\d+$/.test(value)) throw new Error(`dumpe2fs printed no ${name.toLowerCase()}`);
    return Number(value);
  };
  const state = fields.get('Filesystem state');
  if (state === undefined) throw new Error('dumpe2fs printed no filesystem state');
  const label = fields.get('Filesystem volume name');
  return {
    label: label && label !== '<none>' ? label : null,
    features: (fields.get('Filesystem features') ?? '').split(/\s+/).filter((f) => f && f !== '(none)'),
    state,
    blockCount: number('Block count'),
    blockSize: number('Block size'),
    firstBlock: number('First block'),
    blocksPerGroup: number('Blocks per group'),
    errorCount: number('FS Error count', 0),
  };
}

/** Why this filesystem's allocation cannot be trusted, or null when it is clean. */
export function dirtyReason(header: ExtHeader): string | null {
  const errors = /error/.test(header.state) || header.errorCount > 0;
  const errorText = header.errorCount > 0 ? `${header.errorCount} errors recorded` : 'errors recorded';
  if (header.features.includes('needs_recovery')) return `not cleanly unmounted (journal needs recovery${errors ? `, ${errorText}` : ''})`;
  if (!/^clean\b/.test(header.state)) return `not cleanly unmounted (state "${header.state}")`;
  if (errors) return `${errorText} (state "${header.state}")`;
  return null;
}

/** Reads the per-group lines of dumpe2fs incrementally. */
export class ExtGroupParser {
  private readonly result: ExtGroups = { groups: 0, free: [], metadata: [] };
  private groupHasFreeList = true;
  private missingFreeLists = 0;

  line(line: string): void {
    if (/^Group \d+:/.test(line)) {
      if (!this.groupHasFreeList) this.missingFreeLists++;
      this.result.groups++;
      this.groupHasFreeList = false;
      return;
    }
    if (this.result.groups === 0) return;
    const trimmed = line.trim();
    if (trimmed.startsWith('Free blocks:')) {
      this.groupHasFreeList = true;
      this.result.free.push(...parseRuns(trimmed.slice('Free blocks:'.length)));
      return;
    }
    // "Primary superblock at 0, Group descriptors at 1-1", "Reserved GDT blocks at 2-128", "Block bitmap at 129 (+129)", …
    for (const part of trimmed.split(', ')) {
      const match = /^(?:Primary superblock|Backup superblock|Group descriptors|Reserved GDT blocks|Block bitmap|Inode bitmap|Inode table) at (\d+)(?:-(\d+))?/.exec(part);
      if (match) this.result.metadata.push({ first: Number(match[1]), last: Number(match[2] ?? match[1]) });
    }
  }

  finish(): ExtGroups & { missingFreeLists: number } {
    if (!this.groupHasFreeList) this.missingFreeLists++;
    return { ...this.result, missingFreeLists: this.missingFreeLists };
  }
}

function parseRuns(text: string): BlockRun[] {
  const runs: BlockRun[] = [];
  for (const item of text.split(',')) {
    const match = /^\s*(\d+)(?:-(\d+))?\s*$/.exec(item);
    if (match) runs.push({ first: Number(match[1]), last: Number(match[2] ?? match[1]) });
    else if (item.trim()) throw new Error(`unexpected free-block list "${item.trim()}"`);
  }
  return runs;
}

/** Used blocks: [0, blockCount) without the free runs, as byte extents; plus the listed metadata. */
export function usedExtents(header: ExtHeader, groups: ExtGroups): Extent[] {
  const bs = header.blockSize;
  const free = [...groups.free].sort((a, b) => a.first - b.first);
  const used: Extent[] = [];
  let next = 0;
  for (const run of free) {
    if (run.first > next) used.push({ start: next * bs, end: run.first * bs });
    next = Math.max(next, run.last + 1);
  }
  if (next < header.blockCount) used.push({ start: next * bs, end: header.blockCount * bs });
  for (const run of groups.metadata) used.push({ start: run.first * bs, end: (run.last + 1) * bs });
  return used;
}

interface RunResult {
  code: number | null;
  stderr: string;
}

/** Runs dumpe2fs, handing each stdout line to `onLine` as it comes (the output of a big filesystem is long). */
function dumpe2fs(args: string[], onLine: (line: string) => void): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('dumpe2fs', args, { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let lineError: unknown = null;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      if (stderr.length < 64 * 1024) stderr += chunk;
    });
    const lines = createInterface({ input: child.stdout, crlfDelay: Infinity });
    lines.on('line', (line) => {
      if (lineError) return;
      try {
        onLine(line);
      } catch (error) {
        lineError = error;
        child.kill();
      }
    });
    child.on('error', reject);
    const closed = new Promise<void>((done) => lines.on('close', done));
    child.on('close', (code) => {
      void closed.then(() => (lineError ? reject(lineError) : resolve({ code, stderr })));
    });
  });
}

/** The line of dumpe2fs' complaints that says what went wrong ("Bad magic number in super-block"). */
function stderrReason(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim().replace(/^dumpe2fs: /, ''))
    .filter((l) => l && !/^dumpe2fs \d/.test(l));
  const line = lines.find((l) => / while /.test(l)) ?? lines.at(-1) ?? '';
  return line.replace(/ while trying to open .*$/, '');
}

/**
 * The ext2/3/4 filesystem at `offset` bytes into the image. Never reads the data blocks: dumpe2fs reads the
 * superblock, the group descriptors and the block bitmaps.
 */
export async function readExt(imagePath: string, offset: number, partitionBytes: number): Promise<FilesystemReading> {
  // unix_io's option syntax: "file?offset=N". A '?' in the path itself would be taken for it.
  if (imagePath.includes('?')) return { ok: false, name: 'ext', label: null, reason: 'the image path contains "?", which dumpe2fs cannot open at an offset' };
  const device = `${imagePath}?offset=${offset}`;
  let headerText = '';
  let run: RunResult;
  try {
    run = await dumpe2fs(['-h', device], (line) => (headerText += `${line}\n`));
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    return { ok: false, name: 'ext', label: null, reason: missing ? 'dumpe2fs is not installed (e2fsprogs)' : `dumpe2fs failed: ${(error as Error).message}` };
  }
  let header: ExtHeader;
  try {
    header = parseExtHeader(headerText);
  } catch (error) {
    return { ok: false, name: 'ext', label: null, reason: `dumpe2fs could not read it: ${stderrReason(run.stderr) || (error as Error).message}` };
  }
  const name = extVariant(header.features);
  const fail = (reason: string): FilesystemReading => ({ ok: false, name, label: header.label, reason });
  const dirty = dirtyReason(header);
  if (dirty) return fail(dirty);
  if (run.code !== 0) return fail(`dumpe2fs -h failed: ${stderrReason(run.stderr)}`);
  const sizeBytes = header.blockCount * header.blockSize;
  if (sizeBytes > partitionBytes) return fail(`the filesystem (${header.blockCount} blocks) is larger than its partition`);

  const parser = new ExtGroupParser();
  let groupsRun: RunResult;
  try {
    groupsRun = await dumpe2fs([device], (line) => parser.line(line));
  } catch (error) {
    return fail(`dumpe2fs failed: ${(error as Error).message}`);
  }
  if (groupsRun.code !== 0) return fail(`dumpe2fs could not read the block bitmaps: ${stderrReason(groupsRun.stderr)}`);
  const groups = parser.finish();
  const expectedGroups = Math.ceil((header.blockCount - header.firstBlock) / header.blocksPerGroup);
  if (groups.groups !== expectedGroups || groups.missingFreeLists > 0) {
    return fail(`dumpe2fs listed ${groups.groups} of ${expectedGroups} block groups${groups.missingFreeLists ? `, ${groups.missingFreeLists} without free blocks` : ''}`);
  }
  return {
    ok: true,
    name,
    label: header.label,
    // Block 0 holds the boot block (1 KiB blocks) or the superblock; either way it is written.
    used: [{ start: 0, end: Math.min(sizeBytes, 4096) }, ...usedExtents(header, groups)],
    sizeBytes,
    remarks: header.features.includes('bigalloc') ? ['bigalloc: free clusters mapped conservatively'] : [],
  };
}

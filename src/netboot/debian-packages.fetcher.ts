// Fetches Debian packages of another architecture (arm64) with the host's own apt, in a private apt state folder:
// the host's dpkg architectures and package lists are left untouched, and each .deb is checked against the
// SHA-256 the signed archive index gives for it. Downloads are cached by file name (which carries the version).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]*(=[A-Za-z0-9.+:~-]+)?$/;

export interface AptContext {
  arch: string;
  root: string;
  options: string[];
}

export interface FetchedPackage {
  name: string;
  version: string;
  file: string;
  sha256: string;
  size: number;
}

export interface AptSetup {
  /** Folder kept between builds: apt's lists and the downloaded .debs. */
  cacheDir: string;
  arch?: string;
  /** An apt sources file to use instead of the host's (e.g. a local mirror on an offline box). */
  sourcesFile?: string;
  log?: (line: string) => void;
}

async function runApt(command: string, args: string[], cwd?: string): Promise<string> {
  try {
    const { stdout } = await run(command, args, { cwd, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, LC_ALL: 'C' } });
    return stdout;
  } catch (error) {
    const err = error as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') throw new Error(`${command} was not found: building the installer needs a Debian or Ubuntu host with apt`, { cause: error });
    const shown = args.filter((a, i) => a !== '-o' && args[i - 1] !== '-o').join(' ');
    throw new Error(`${command} ${shown} failed: ${(err.stderr ?? err.message).trim()}`, { cause: error });
  }
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Creates (or refreshes) the private apt state for `arch` and downloads its package lists. */
export async function prepareAptContext(setup: AptSetup): Promise<AptContext> {
  const arch = setup.arch ?? 'arm64';
  const root = join(setup.cacheDir, `apt-${arch}`);
  for (const dir of ['var/lib/apt/lists/partial', 'var/cache/apt/archives/partial', 'var/lib/dpkg', 'etc/apt/preferences.d', 'etc/apt/apt.conf.d']) {
    await mkdir(join(root, dir), { recursive: true });
  }
  // An empty dpkg status: nothing counts as installed, so apt resolves against the archive alone.
  await writeFile(join(root, 'var/lib/dpkg/status'), '');
  const sources = setup.sourcesFile
    ? ['-o', `Dir::Etc::sourcelist=${setup.sourcesFile}`, '-o', 'Dir::Etc::sourceparts=/nonexistent']
    : ['-o', 'Dir::Etc::sourcelist=/etc/apt/sources.list', '-o', 'Dir::Etc::sourceparts=/etc/apt/sources.list.d'];
  const options = [
    '-o', `Dir=${root}`,
    '-o', `Dir::State::status=${join(root, 'var/lib/dpkg/status')}`,
    '-o', `APT::Architecture=${arch}`,
    '-o', `APT::Architectures::=${arch}`,
    '-o', 'Dir::Etc::trusted=/etc/apt/trusted.gpg',
    '-o', 'Dir::Etc::trustedparts=/etc/apt/trusted.gpg.d',
    '-o', 'Debug::NoLocking=1',
    '-o', 'APT::Sandbox::User=root',
    ...sources,
  ];
  setup.log?.(`Updating the ${arch} package lists`);
  await runApt('apt-get', [...options, '-qq', 'update']);
  return { arch, root, options };
}

interface PackageUri { uri: string; file: string; size: number; sha256: string }

function parsePrintUris(output: string): PackageUri[] {
  return output.split('\n').filter((line) => line.startsWith("'")).map((line) => {
    const match = /^'([^']+)' (\S+) (\d+) SHA256:([0-9a-f]{64})/.exec(line);
    if (!match) throw new Error(`apt-get gave an unexpected download line: ${line}`);
    return { uri: match[1]!, file: match[2]!, size: Number(match[3]), sha256: match[4]! };
  });
}

/** Downloads `names` (optionally pinned as name=version) into `debDir`, reusing identical cached files. */
export async function fetchDebianPackages(ctx: AptContext, names: readonly string[], debDir: string, log?: (line: string) => void): Promise<FetchedPackage[]> {
  const bad = names.filter((name) => !PACKAGE_NAME.test(name));
  if (bad.length) throw new Error(`invalid Debian package name(s): ${bad.join(', ')}`);
  await mkdir(debDir, { recursive: true });
  const printed = parsePrintUris(await runApt('apt-get', [...ctx.options, '--print-uris', 'download', ...names]));
  // apt prints in its own order; a .deb's file name starts with "<package>_<version>_".
  const uris = names.map((name) => {
    const bare = name.split('=')[0]!;
    const uri = printed.find((p) => p.file.startsWith(`${bare}_`));
    if (!uri) throw new Error(`apt has no ${ctx.arch} package "${name}"`);
    return uri;
  });
  const missing: string[] = [];
  for (const [i, uri] of uris.entries()) {
    const target = join(debDir, uri.file);
    if (!existsSync(target) || (await sha256File(target)) !== uri.sha256) missing.push(names[i]!);
  }
  if (missing.length) {
    log?.(`Downloading ${missing.length} ${ctx.arch} package(s): ${missing.join(' ')}`);
    const partial = join(debDir, `.partial-${process.pid}`);
    await rm(partial, { recursive: true, force: true });
    await mkdir(partial);
    try {
      await runApt('apt-get', [...ctx.options, '-qq', 'download', ...missing], partial);
      for (const file of await readdir(partial)) if (file.endsWith('.deb')) await rename(join(partial, file), join(debDir, file));
    } finally {
      await rm(partial, { recursive: true, force: true });
    }
  }
  const fetched: FetchedPackage[] = [];
  for (const [i, uri] of uris.entries()) {
    const target = join(debDir, uri.file);
    if (!existsSync(target)) throw new Error(`apt-get did not download ${uri.file}`);
    const actual = await sha256File(target);
    if (actual !== uri.sha256) throw new Error(`${uri.file}: SHA-256 ${actual} does not match the archive's ${uri.sha256}`);
    const version = decodeURIComponent(uri.file.split('_')[1] ?? 'unknown');
    fetched.push({ name: names[i]!.split('=')[0]!, version, file: target, sha256: uri.sha256, size: uri.size });
  }
  return fetched;
}

/** Lists what `name` depends on (first alternative of each), for resolving a kernel metapackage. */
export async function readPackageDepends(ctx: AptContext, name: string): Promise<string[]> {
  const output = await runApt('apt-cache', [...ctx.options, 'depends', '--no-recommends', '--no-suggests', name]);
  return [...output.matchAll(/^\s+\|?Depends: (\S+)/gm)].map((m) => m[1]!).filter((dep) => !dep.startsWith('<'));
}

/** Unpacks a .deb's files (not its maintainer scripts) into `dir`. */
export async function extractDeb(file: string, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await runApt('dpkg-deb', ['-x', file, dir]);
}

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createCpioArchive, readCpioArchive, type CpioEntry } from './cpio.writer.js';
import { checkLinkage, mapToMergedUsr } from './initramfs.builder.js';
import { isElf, readElfInfo } from './elf.reader.js';

const entries: CpioEntry[] = [
  { kind: 'file', path: 'usr/bin/hello', data: Buffer.from('#!/bin/sh\necho hi\n'), mode: 0o755 },
  { kind: 'symlink', path: 'bin', target: 'usr/bin' },
  { kind: 'file', path: 'etc/odd-length', data: Buffer.from('abcde') },
  { kind: 'chardev', path: 'dev/console', major: 5, minor: 1 },
  { kind: 'dir', path: 'tmp', mode: 0o1777 },
];

describe('cpio archives for the initramfs', () => {
  it('reads back exactly what was written, with missing parent folders added', () => {
    const back = readCpioArchive(createCpioArchive(entries));
    expect(back.map((e) => e.path)).toEqual(['bin', 'dev', 'dev/console', 'etc', 'etc/odd-length', 'tmp', 'usr', 'usr/bin', 'usr/bin/hello']);
    expect(back.find((e) => e.path === 'usr/bin/hello')).toMatchObject({ kind: 'file', mode: 0o755 });
    expect((back.find((e) => e.path === 'etc/odd-length') as { data: Buffer }).data.toString()).toBe('abcde');
    expect(back.find((e) => e.path === 'bin')).toEqual({ kind: 'symlink', path: 'bin', target: 'usr/bin' });
    expect(back.find((e) => e.path === 'dev/console')).toMatchObject({ kind: 'chardev', major: 5, minor: 1 });
    expect(back.find((e) => e.path === 'tmp')).toMatchObject({ kind: 'dir', mode: 0o1777 });
  });

  it('gives the same bytes whatever order the entries come in, and different bytes for another time stamp', () => {
    const a = createCpioArchive(entries, { mtime: 1_700_000_000 });
    const b = createCpioArchive([...entries].reverse(), { mtime: 1_700_000_000 });
    expect(a.equals(b)).toBe(true);
    expect(a.equals(createCpioArchive(entries, { mtime: 1_700_000_001 }))).toBe(false);
    expect(a.length % 4).toBe(0);
  });

  it('refuses paths that escape the archive, duplicates, and files used as folders', () => {
    expect(() => createCpioArchive([{ kind: 'dir', path: '../etc' }])).toThrow(/invalid path/);
    expect(() => createCpioArchive([{ kind: 'dir', path: '/' }])).toThrow(/invalid path/);
    expect(() => createCpioArchive([{ kind: 'dir', path: 'a' }, { kind: 'dir', path: './a/' }])).toThrow(/"a" is listed twice/);
    expect(() => createCpioArchive([{ kind: 'file', path: 'a', data: Buffer.alloc(1) }, { kind: 'file', path: 'a/b', data: Buffer.alloc(1) }])).toThrow(/"a" is not a directory/);
  });
});

describe('initramfs layout checks', () => {
  it('maps /bin, /sbin and /lib into the merged /usr layout', () => {
    expect(mapToMergedUsr('lib/aarch64-linux-gnu/libc.so.6')).toBe('usr/lib/aarch64-linux-gnu/libc.so.6');
    expect(mapToMergedUsr('bin')).toBe('usr/bin');
    expect(mapToMergedUsr('usr/lib/x')).toBe('usr/lib/x');
    expect(mapToMergedUsr('library/x')).toBe('library/x');
  });

  it('reads the libraries a program needs from its ELF header', () => {
    const ls = readFileSync('/bin/ls');
    expect(isElf(ls)).toBe(true);
    expect(readElfInfo(ls).needed).toContain('libc.so.6');
    expect(isElf(Buffer.from('#!/bin/sh\n'))).toBe(false);
  });

  it('refuses programs of another architecture and names missing libraries', () => {
    const tree = new Map<string, CpioEntry>([['usr/bin/ls', { kind: 'file', path: 'usr/bin/ls', data: readFileSync('/bin/ls') }]]);
    expect(() => checkLinkage(tree)).toThrow(/usr\/bin\/ls is not an arm64 program/);
    // Patch the machine field to arm64: now the missing interpreter and libraries are what is reported.
    const arm = Buffer.from(readFileSync('/bin/ls'));
    arm.writeUInt16LE(183, 0x12);
    tree.set('usr/bin/ls', { kind: 'file', path: 'usr/bin/ls', data: arm });
    expect(() => checkLinkage(tree)).toThrow(/usr\/bin\/ls needs \/lib64\/ld-linux-x86-64\.so\.2[\s\S]*usr\/bin\/ls needs libc\.so\.6/);
    tree.set('lib', { kind: 'symlink', path: 'lib', target: 'usr/lib' });
    tree.set('lib64', { kind: 'symlink', path: 'lib64', target: 'usr/lib' });
    tree.set('usr/lib/ld-linux-x86-64.so.2', { kind: 'file', path: 'usr/lib/ld-linux-x86-64.so.2', data: Buffer.from('loader') });
    tree.set('usr/lib/aarch64-linux-gnu/libc.so.6', { kind: 'symlink', path: 'usr/lib/aarch64-linux-gnu/libc.so.6', target: 'libc-2.36.so' });
    tree.set('usr/lib/aarch64-linux-gnu/libc-2.36.so', { kind: 'file', path: 'usr/lib/aarch64-linux-gnu/libc-2.36.so', data: Buffer.from('libc') });
    const needed = readElfInfo(arm).needed.filter((lib) => lib !== 'libc.so.6');
    for (const lib of needed) tree.set(`usr/lib/${lib}`, { kind: 'file', path: `usr/lib/${lib}`, data: Buffer.from(lib) });
    expect(() => checkLinkage(tree)).not.toThrow();
  });
});

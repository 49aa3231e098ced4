// Runs qemu-system-aarch64 to the end (or a time limit), keeping its console, for the QEMU proofs of the installer.
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';

export interface QemuRun { code: number | null; console: string; timedOut: boolean }

/** `onConsole` sees the console so far each time more arrives (e.g. to act on the monitor at a message). */
export function bootQemu(args: string[], timeoutMs: number, consoleLog: string, onConsole?: (text: string) => void): Promise<QemuRun> {
  return new Promise((resolve, reject) => {
    const child = spawn('qemu-system-aarch64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    // Decoded per stream, not per chunk: a chunk may end inside a multi-byte character (the banner's "—").
    const collect = (text: string) => {
      output += text;
      onConsole?.(output);
    };
    child.stdout.setEncoding('utf8').on('data', collect);
    child.stderr.setEncoding('utf8').on('data', collect);
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      void writeFile(consoleLog, output)
        .catch(() => {})
        .then(() => resolve({ code, console: output.replace(/\r/g, ''), timedOut }));
    });
  });
}

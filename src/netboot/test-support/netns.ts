// Two network namespaces joined by a veth pair, made and removed by a test: a "server" side where dnsmasq runs
// and a "client" side playing the Raspberry Pi. Nothing touches the host's own network.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface NetnsPair {
  server: { ns: string; iface: string; address: string };
  client: { ns: string; iface: string; address: string };
  prefixLength: number;
  exec(ns: string, command: string, args: string[], timeoutMs?: number): Promise<{ stdout: string; stderr: string }>;
  remove(): Promise<void>;
}

export function canCreateNetns(): boolean {
  return process.getuid?.() === 0;
}

export async function createNetnsPair(subnet = '10.77.0'): Promise<NetnsPair> {
  const tag = randomBytes(3).toString('hex');
  const server = { ns: `pcnb-s-${tag}`, iface: `pcs${tag}`, address: `${subnet}.1` };
  const client = { ns: `pcnb-c-${tag}`, iface: `pcc${tag}`, address: `${subnet}.250` };
  const ip = (...args: string[]) => run('ip', args);
  const inNs = (ns: string, ...args: string[]) => run('ip', ['netns', 'exec', ns, ...args]);
  const remove = async () => {
    await Promise.allSettled([ip('netns', 'del', server.ns), ip('netns', 'del', client.ns)]);
  };
  try {
    await ip('netns', 'add', server.ns);
    await ip('netns', 'add', client.ns);
    await ip('link', 'add', server.iface, 'netns', server.ns, 'type', 'veth', 'peer', 'name', client.iface, 'netns', client.ns);
    for (const side of [server, client]) {
      await inNs(side.ns, 'ip', 'link', 'set', 'lo', 'up');
      await inNs(side.ns, 'ip', 'addr', 'add', `${side.address}/24`, 'dev', side.iface);
      await inNs(side.ns, 'ip', 'link', 'set', side.iface, 'up');
    }
    // Broadcasts to 255.255.255.255 leave through the veth.
    await inNs(client.ns, 'ip', 'route', 'add', 'default', 'dev', client.iface);
  } catch (error) {
    await remove();
    throw error;
  }
  return {
    server,
    client,
    prefixLength: 24,
    exec: (ns, command, args, timeoutMs = 30_000) => run('ip', ['netns', 'exec', ns, command, ...args], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }),
    remove,
  };
}

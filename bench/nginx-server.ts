// Debian's nginx as a reference server for the image benchmarks: a throw-away config on a free loopback port,
// serving (and, with WebDAV PUT, accepting) files in one folder. Skipped by the callers when nginx is absent.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';

export const NGINX = ['/usr/sbin/nginx', 'nginx'].find((path) => spawnSync(path, ['-v']).status === 0);

export interface NginxServer {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });

/** Starts nginx (its default worker count: one per core) serving `root`; `dav` also accepts PUT into it. */
export async function startNginx(root: string, workDir: string, options: { dav?: boolean } = {}): Promise<NginxServer> {
  if (!NGINX) throw new Error('nginx is not installed');
  mkdirSync(workDir, { recursive: true });
  const port = await freePort();
  const temp = (name: string) => `${name}_temp_path ${join(workDir, name)};`;
  const config = `
worker_processes auto;
daemon off;
pid ${join(workDir, 'nginx.pid')};
error_log ${join(workDir, 'error.log')} warn;
${process.getuid?.() === 0 ? 'user root;' : ''}
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  default_type application/octet-stream;
  ${temp('client_body')} ${temp('proxy')} ${temp('fastcgi')} ${temp('uwsgi')} ${temp('scgi')}
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location / {
      ${options.dav ? 'dav_methods PUT; create_full_put_path on; client_max_body_size 0; client_body_in_file_only off;' : ''}
    }
  }
}
`;
  const configFile = join(workDir, 'nginx.conf');
  writeFileSync(configFile, config);
  const child = spawn(NGINX, ['-e', join(workDir, 'error.log'), '-p', workDir, '-c', configFile], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (let attempt = 0; !(await accepts(port)); attempt++) {
    if (child.exitCode !== null || attempt > 200) throw new Error(`nginx did not start (see ${join(workDir, 'error.log')})`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    async stop() {
      if (child.exitCode === null) child.kill('SIGQUIT');
      await exited;
    },
  };
}

/** Resident memory of nginx's master and workers together, in bytes (VmHWM summed: each process's own peak). */
export function nginxPeakMemory(masterPid: number): number {
  const pids = [masterPid, ...spawnSync('pgrep', ['-P', String(masterPid)], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map(Number)];
  let total = 0;
  for (const pid of pids) {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    total += Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
  }
  return total;
}

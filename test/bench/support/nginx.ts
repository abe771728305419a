/** nginx as a reverse proxy in front of `upstream`, with `workers` worker processes, for the HTTP benchmarks (when nginx is installed). */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopProcess, type Child } from './load.ts';

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Starts nginx as a reverse proxy and waits (50 tries at most) until `probePath` answers through it. */
export function startNginx(upstream: string, probePath: string, workers = 1): Promise<Child> {
  const up = new URL(upstream);
  return runNginx(workers, probePath, `upstream service { server ${up.host}; keepalive 64; }`, 'location / { proxy_pass http://service; proxy_http_version 1.1; proxy_set_header Connection ""; }');
}

/**
 * nginx answering `path` itself with `body` (application/json), one worker: the cheapest upstream
 * this machine has (a tenth of a Node service's CPU a request), so that a gateway bench measures the
 * gateway rather than the service it stands in front of.
 */
export function startNginxStatic(path: string, body: string): Promise<Child> {
  const quoted = body.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
  return runNginx(1, path, '', `location = ${path} { default_type application/json; return 200 '${quoted}'; }`);
}

async function runNginx(workers: number, probePath: string, httpExtra: string, location: string): Promise<Child> {
  const dir = mkdtempSync(join(tmpdir(), 'ficus-nginx-'));
  mkdirSync(join(dir, 'logs'));
  const port = await freePort();
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off; worker_processes ${workers}; pid ${dir}/nginx.pid; error_log stderr error;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  ${httpExtra}
  server {
    listen 127.0.0.1:${port};
    ${location}
  }
}
`,
  );
  const proc = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 50; i++) {
    try {
      if ((await fetch(url + probePath)).ok) break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url,
    proc,
    stop: async () => {
      await stopProcess(proc, 'SIGQUIT');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

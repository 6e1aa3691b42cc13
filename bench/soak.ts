// Soak (issue 7): the real daemon process runs the scenario simulator at a steady rate for a long
// stretch; we sample its resident memory and counters and report whether memory stays bounded.
//
//   SOAK_SECONDS   how long the daemon runs (default 60)
//   SOAK_RATE      simulator events per second (default 1000)
//   SOAK_SAMPLE    seconds between samples (default 5)
//   SOAK_KEEP=1    keep the temp dir (config, database, daemon log) for a look afterwards
//   SOAK_CSV=FILE  also write every sample to FILE as CSV
//
// Run it alone with `npm run build && node -e "import('./dist/bench/soak.js').then(m => m.bench())"`
// or through `npm run bench -- soak`.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface Sample {
  t: number; // seconds since the daemon was started
  rssProc: number; // bytes, /proc/PID/status VmRSS
  rssMetric: number; // bytes, process_resident_memory_bytes
  events: number;
  incidentsCreated: number;
  incidentsUpdated: number;
  alerts: number;
  drops: number;
  dbBytes: number; // database + WAL
}

function envNumber(name: string, dflt: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got '${v}'`);
  return n;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Sum of every sample of one metric family whose labels contain `match` (Prometheus text). */
function metricSum(text: string, name: string, match = ''): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue; // another metric with this prefix
    if (match !== '' && !rest.includes(match)) continue;
    const v = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(v)) sum += v;
  }
  return sum;
}

function vmRss(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? 0 : Number(m[1]) * 1024;
  } catch {
    return 0;
  }
}

function fileSize(p: string): number {
  return existsSync(p) ? statSync(p).size : 0;
}

async function fetchText(url: string, timeoutMs = 5000): Promise<string | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return res.ok ? await res.text() : undefined;
  } catch {
    return undefined;
  }
}

function waitExit(child: ChildProcess, ms: number): Promise<number | null | 'timeout'> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve('timeout'), ms);
    child.once('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}

const mib = (b: number): string => (b / 1024 / 1024).toFixed(1);

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

export async function bench(): Promise<void> {
  const seconds = envNumber('SOAK_SECONDS', 60);
  const rate = envNumber('SOAK_RATE', 1000);
  const every = envNumber('SOAK_SAMPLE', 5);
  const keep = process.env.SOAK_KEEP === '1';
  const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'main.js');
  if (!existsSync(main)) throw new Error(`${main} not found: run npm run build first`);

  const dir = mkdtempSync(join(tmpdir(), 'kestrel-soak-'));
  const db = join(dir, 'kestrel.db');
  const port = await freePort();
  const cfgFile = join(dir, 'kestrel.yaml');
  writeFileSync(
    cfgFile,
    [
      'source: {type: simulate, scenarios: [builtin], rate: ' + String(rate) + '}',
      `db: ${JSON.stringify(db)}`,
      `http: {listen: 127.0.0.1:${port}}`,
      'log: {level: info, pretty: false}',
      '',
    ].join('\n'),
  );
  const logFile = join(dir, 'daemon.log');
  const logFd = openSync(logFile, 'w');
  const t0 = Date.now();
  const child = spawn(process.execPath, [main, 'daemon', '-c', cfgFile], { stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not start the daemon');
  process.stdout.write(`daemon pid ${pid}, ${rate} events/s for ${seconds} s, metrics on 127.0.0.1:${port}, dir ${dir}\n`);

  const samples: Sample[] = [];
  let failure: string | undefined;
  try {
    // Wait for /healthz (rules compile and verify first).
    let up = false;
    for (let i = 0; i < 120 && child.exitCode === null; i++) {
      if ((await fetchText(`http://127.0.0.1:${port}/healthz`, 2000)) !== undefined) {
        up = true;
        break;
      }
      await sleep(500);
    }
    if (!up) throw new Error(`the daemon did not come up (exit ${String(child.exitCode)}); log:\n${readFileSync(logFile, 'utf8').slice(-2000)}`);
    const ready = (Date.now() - t0) / 1000;
    process.stdout.write(`healthy after ${ready.toFixed(1)} s\n\n`);
    const printEvery = Math.max(every, Math.ceil(seconds / 20 / every) * every);
    process.stdout.write(' time s   RSS MiB  events       ev/s    alerts  incidents  (upd)   drops  db MiB\n');
    let lastPrinted = -Infinity;
    // The stretch is measured from the first healthy answer (rules compile and verify first).
    const end = Date.now() + seconds * 1000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the daemon exited early with ${child.exitCode}`);
      const text = await fetchText(`http://127.0.0.1:${port}/metrics`);
      const t = (Date.now() - t0) / 1000;
      if (text !== undefined) {
        const s: Sample = {
          t,
          rssProc: vmRss(pid),
          rssMetric: metricSum(text, 'process_resident_memory_bytes'),
          events: metricSum(text, 'kestrel_events_total'),
          incidentsCreated: metricSum(text, 'kestrel_incidents_total', 'change="created"'),
          incidentsUpdated: metricSum(text, 'kestrel_incidents_total', 'change="updated"'),
          alerts: metricSum(text, 'kestrel_alerts_total'),
          drops: metricSum(text, 'kestrel_ringbuf_drops_total'),
          dbBytes: fileSize(db) + fileSize(db + '-wal'),
        };
        const prev = samples[samples.length - 1];
        samples.push(s);
        const evs = prev === undefined ? 0 : (s.events - prev.events) / (s.t - prev.t);
        if (t - lastPrinted >= printEvery || Date.now() + every * 1000 > end) {
          lastPrinted = t;
          process.stdout.write(
            `${t.toFixed(0).padStart(7)}  ${mib(s.rssProc).padStart(8)}  ${String(s.events).padStart(9)}  ${evs.toFixed(0).padStart(7)}  ${String(s.alerts).padStart(8)}  ${String(s.incidentsCreated).padStart(9)}  ${String(s.incidentsUpdated).padStart(6)}  ${String(s.drops).padStart(6)}  ${mib(s.dbBytes).padStart(6)}\n`,
          );
        }
      }
      if (Date.now() + every * 1000 > end) break;
      await sleep(every * 1000 - ((Date.now() - t0) % (every * 1000)));
    }
  } catch (e) {
    failure = e instanceof Error ? e.message : String(e);
  } finally {
    const tStop = Date.now();
    if (child.exitCode === null) child.kill('SIGTERM');
    let code = await waitExit(child, 15_000);
    if (code === 'timeout') {
      child.kill('SIGKILL');
      code = await waitExit(child, 5000);
      process.stdout.write('\nthe daemon did not stop within 15 s of SIGTERM: killed\n');
    } else {
      process.stdout.write(`\nSIGTERM → exit ${String(code)} in ${((Date.now() - tStop) / 1000).toFixed(1)} s\n`);
    }
  }

  const csv = process.env.SOAK_CSV;
  if (csv !== undefined && csv !== '') {
    const cols = ['t', 'rssProc', 'rssMetric', 'events', 'alerts', 'incidentsCreated', 'incidentsUpdated', 'drops', 'dbBytes'] as const;
    writeFileSync(csv, [cols.join(','), ...samples.map((s) => cols.map((c) => (c === 't' ? s.t.toFixed(1) : String(s[c]))).join(','))].join('\n') + '\n');
    process.stdout.write(`samples written to ${csv}\n`);
  }
  if (samples.length > 0) {
    const first = samples[0];
    const last = samples[samples.length - 1];
    const rss = samples.map((s) => s.rssProc);
    const warm = samples.filter((s) => s.t <= first.t + Math.max(30, (last.t - first.t) * 0.1));
    const tail = samples.filter((s) => s.t >= last.t - (last.t - first.t) * 0.25);
    const secondHalf = samples.filter((s) => s.t >= first.t + (last.t - first.t) / 2);
    // After warm-up: from 180 s or 15 % of the run, whichever is later.
    const settled = samples.filter((s) => s.t >= Math.max(first.t + 180, first.t + (last.t - first.t) * 0.15));
    const perHour = slope(secondHalf.map((s) => s.t), secondHalf.map((s) => s.rssProc)) * 3600;
    const span = last.t - first.t;
    process.stdout.write(
      [
        `samples ${samples.length} over ${span.toFixed(0)} s`,
        `RSS first ${mib(first.rssProc)} MiB, max during warm-up ${mib(Math.max(...warm.map((s) => s.rssProc)))} MiB, ` +
          `max overall ${mib(Math.max(...rss))} MiB, min ${mib(Math.min(...rss))} MiB, last ${mib(last.rssProc)} MiB`,
        ...(settled.length > 0
          ? [`RSS after warm-up (${settled[0].t.toFixed(0)} s on): ${mib(Math.min(...settled.map((s) => s.rssProc)))}..${mib(Math.max(...settled.map((s) => s.rssProc)))} MiB`]
          : []),
        `RSS in the last quarter: ${mib(Math.min(...tail.map((s) => s.rssProc)))}..${mib(Math.max(...tail.map((s) => s.rssProc)))} MiB; ` +
          `trend over the second half ${(perHour / 1024 / 1024).toFixed(1)} MiB/hour`,
        `events ${last.events} (${span > 0 ? ((last.events - first.events) / span).toFixed(0) : '0'}/s steady), alerts ${last.alerts}, ` +
          `incidents created ${last.incidentsCreated}, updated ${last.incidentsUpdated}, ring-buffer drops ${last.drops}`,
        `database + WAL ${mib(last.dbBytes)} MiB; /metrics RSS agrees with /proc within ${mib(Math.abs(last.rssMetric - last.rssProc))} MiB`,
        '',
      ].join('\n'),
    );
  }
  if (keep) process.stdout.write(`kept ${dir}\n`);
  else rmSync(dir, { recursive: true, force: true });
  if (failure !== undefined) throw new Error(`soak failed: ${failure}`);
}

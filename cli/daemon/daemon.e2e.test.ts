// End to end: the real `kestrel daemon` process with a temporary config runs the simulator's
// attacks; incidents reach the store (`kestrel incidents list --json`) and a loopback webhook
// receiver (with a valid signature); SIGHUP with a broken rule file keeps the old rules running;
// SIGTERM drains and exits 0. Runs the built CLI (npm test builds it first).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { copyFileSync, mkdtempSync, readdirSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { builtinRulesDir } from '../../config/paths.js';

const ROOT = resolve(__dirname, '../..');
const CLI = join(ROOT, 'dist/cli/main.js');
const SECRET = 'e2e-secret';
let daemonLog = '';
const logTail = (): string => daemonLog.split('\n').slice(-15).join('\n');

interface Delivery {
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, ms = 120_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; daemon log:\n${logTail()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function incidents(db: string): { rule: string; count: number; priority: string; output: string }[] {
  const r = spawnSync(process.execPath, [CLI, 'incidents', 'list', '--db', db, '--json', '--limit', '1000'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`incidents list failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { rule: string; count: number; priority: string; output: string }[];
}

async function metrics(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  return res.text();
}

// Under a loaded machine the daemon's start (compile + verify) can take tens of seconds.
describe('kestrel daemon end to end', { timeout: 180_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'kestrel-e2e-'));
  const rulesDir = join(dir, 'rules');
  const db = join(dir, 'kestrel.db');
  const deliveries: Delivery[] = [];
  let receiver: Server;
  let daemon: ChildProcess;
  let httpPort = 0;
  let stderr = '';

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        deliveries.push({ headers: req.headers, body });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const hookPort = (receiver.address() as AddressInfo).port;
    // A free port for the daemon's /metrics.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    httpPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));

    // The built-in rules, copied so the test can break them.
    spawnSync('mkdir', ['-p', rulesDir]);
    for (const f of readdirSync(builtinRulesDir())) if (/\.ya?ml$/.test(f) && !f.includes('.test.')) copyFileSync(join(builtinRulesDir(), f), join(rulesDir, f));
    writeFileSync(
      join(dir, 'kestrel.yaml'),
      [
        `rules: [${rulesDir}]`,
        `db: ${db}`,
        'source: {type: simulate, scenarios: [builtin], rate: 1000, seed: 7}',
        'engine: {exec: interp}',
        'aggregation: {window: 1h}',
        `http: {listen: 127.0.0.1:${httpPort}}`,
        'log: {level: info, pretty: false}',
        'webhooks:',
        `  - url: http://127.0.0.1:${hookPort}/hook`,
        `    secret: ${SECRET}`,
        '    min_priority: warning',
        '    timeout: 2s',
      ].join('\n') + '\n',
    );
    daemon = spawn(process.execPath, [CLI, 'daemon', '-c', join(dir, 'kestrel.yaml')], { stdio: ['ignore', 'pipe', 'pipe'] });
    daemon.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString('utf8');
      daemonLog = stderr;
    });
  });

  afterAll(async () => {
    if (daemon.exitCode === null) daemon.kill('SIGKILL');
    await new Promise<void>((r) => receiver.close(() => r()));
  });

  it('stores incidents from the simulated attacks', async () => {
    const list = await until('incidents', () => {
      try {
        const l = incidents(db);
        return l.some((i) => i.rule === 'Shell in container') && l.some((i) => i.rule === 'Connection to mining pool port') ? l : undefined;
      } catch {
        return undefined;
      }
    });
    const shell = list.find((i) => i.rule === 'Shell in container');
    expect(shell?.priority).toBe('Warning');
    expect(shell?.output).toMatch(/Shell spawned in a container/);
    expect(shell?.output).not.toMatch(/%proc/);
    expect(statSync(db).mode & 0o777).toBe(0o600);
  });

  it('delivers webhooks with Falco\'s shape and a valid signature', async () => {
    const d = await until('a webhook delivery', () => deliveries[0]);
    const body = JSON.parse(d.body) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(expect.arrayContaining(['time', 'rule', 'priority', 'output', 'output_fields', 'tags', 'hostname', 'source', 'uuid', 'incident_id']));
    expect(d.headers['x-kestrel-delivery']).toBe(body.uuid);
    const sig = createHmac('sha256', SECRET).update(d.body).digest('hex');
    expect(d.headers['x-kestrel-signature']).toBe(`sha256=${sig}`);
    // min_priority warning: nothing less severe is delivered.
    expect(deliveries.every((x) => ['Emergency', 'Alert', 'Critical', 'Error', 'Warning'].includes((JSON.parse(x.body) as { priority: string }).priority))).toBe(true);
  });

  it('serves /healthz and /metrics', async () => {
    const h = (await (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).json()) as { status: string; rules: number };
    expect(h.status).toBe('ok');
    expect(h.rules).toBeGreaterThan(10);
    const m = await metrics(httpPort);
    expect(m).toMatch(/kestrel_events_total\{type="exec"\} [1-9]/);
    expect(m).toMatch(/kestrel_rule_matches_total\{rule="Shell in container"\} [1-9]/);
    expect(m).toMatch(/kestrel_vm_instructions_total\{program="kestrel_exec_rules",hook="tracepoint\/syscalls\/sys_exit_execve"\} [1-9]/);
  });

  it('keeps the running rules when a reload fails (SIGHUP with a broken rule file)', async () => {
    writeFileSync(join(rulesDir, '99-broken.yaml'), '- rule: Broken\n  desc: x\n  condition: proc.nmae = bash\n  output: x\n  priority: WARNING\n');
    daemon.kill('SIGHUP');
    await until('the failed reload', async () => (/kestrel_reloads_total\{result="failed"\} [1-9]/.test(await metrics(httpPort)) ? true : undefined));
    expect(stderr).toMatch(/reload failed, keeping the running rules/);
    expect(stderr).toMatch(/proc\.nmae/);
    const before = Number(/kestrel_rule_matches_total\{rule="Shell in container"\} (\d+)/.exec(await metrics(httpPort))?.[1]);
    await until('matches after the failed reload', async () => {
      const now = Number(/kestrel_rule_matches_total\{rule="Shell in container"\} (\d+)/.exec(await metrics(httpPort))?.[1]);
      return now > before ? true : undefined;
    });
  });

  it('drains and exits 0 on SIGTERM', async () => {
    const code = await new Promise<number | null>((r) => {
      daemon.once('exit', (c) => r(c));
      daemon.kill('SIGTERM');
    });
    expect(code).toBe(0);
    expect(stderr).toMatch(/stopping: draining/);
    const list = incidents(db);
    expect(list.length).toBeGreaterThan(3);
  });
});

describe('kestrel daemon refuses to start, in one line', () => {
  it('exits 2 when the database cannot be opened or the rules do not compile', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kestrel-e2e-bad-'));
    const badDb = spawnSync(process.execPath, [CLI, 'daemon', '--db', join(dir, 'missing', 'dir', 'k.db')], { encoding: 'utf8', timeout: 60_000 });
    expect(badDb.status).toBe(2);
    expect(badDb.stderr).toMatch(/cannot start: .*ENOENT/);
    expect(badDb.stderr).not.toMatch(/\n\s+at /);
    writeFileSync(join(dir, 'bad.yaml'), '- rule: Bad\n  desc: x\n  condition: proc.nmae = bash\n  output: x\n  priority: WARNING\n');
    const badRules = spawnSync(process.execPath, [CLI, 'daemon', '--db', join(dir, 'k.db'), '-r', join(dir, 'bad.yaml')], { encoding: 'utf8', timeout: 60_000 });
    expect(badRules.status).toBe(2);
    expect(badRules.stderr).toMatch(/cannot start: .*bad\.yaml:3:\d+.*proc\.nmae.*did you mean/);
  });
});

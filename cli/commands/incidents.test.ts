import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { run } from './incidents.js';
import { IncidentStore } from '../../alerts/store/store.js';
import { mkAlert, tempDir } from '../../alerts/test-helpers.js';
import { nowNs } from '../../alerts/time.js';

let tmp: ReturnType<typeof tempDir>;
let db: string;

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    out += String(s);
    return true;
  });
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    err += String(s);
    return true;
  });
  try {
    const code = await run(args);
    return { code, out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

beforeEach(() => {
  tmp = tempDir();
  db = join(tmp.dir, 'k.db');
  const s = new IncidentStore(db, { aggregationWindowMs: 60_000 });
  const now = nowNs();
  const h = 3_600_000_000_000n;
  s.ingest([
    mkAlert({ rule: 'Terminal shell in container', priorityText: 'notice', containerId: 'web1', timeNs: now - 3n * h, message: 'shell bash in web1' }),
    mkAlert({ rule: 'Terminal shell in container', priorityText: 'notice', containerId: 'web1', timeNs: now - 3n * h + 1000n, message: 'shell bash in web1' }),
    mkAlert({ rule: 'Crypto miner', priorityText: 'critical', containerId: 'job7', timeNs: now - 1n * h, message: 'xmrig to pool, "quoted", comma' }),
    mkAlert({ rule: 'Debug rule', priorityText: 'debug', containerId: 'host', timeNs: now - 10n * h, message: 'noise' }),
  ]);
  s.close();
});
afterEach(() => tmp.cleanup());

describe('kestrel incidents', () => {
  it('lists as JSON with the documented fields and filters', async () => {
    const r = await cli('list', '--db', db, '--json');
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.out) as Record<string, unknown>[];
    expect(rows.map((x) => x.rule)).toEqual(['Crypto miner', 'Terminal shell in container', 'Debug rule']);
    for (const k of ['id', 'rule', 'priority', 'output', 'output_fields', 'tags', 'first_seen', 'last_seen', 'count', 'status', 'container_id', 'pid', 'hostname']) {
      expect(rows[0]).toHaveProperty(k);
    }
    expect(rows[1].count).toBe(2);
    const f = async (...a: string[]): Promise<unknown[]> => (await cli('list', '--db', db, '--ndjson', ...a)).out.trim().split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { rule: string }).rule);
    expect(await f('--priority', 'warning')).toEqual(['Crypto miner']);
    expect(await f('--priority', '=notice')).toEqual(['Terminal shell in container']);
    expect(await f('--since', '2h')).toEqual(['Crypto miner']);
    expect(await f('--since', '5h', '--until', '2h')).toEqual(['Terminal shell in container']);
    expect(await f('--container', 'job7')).toEqual(['Crypto miner']);
    expect(await f('--rule', 'Debug rule')).toEqual(['Debug rule']);
    expect(await f('--search', 'xmrig pool')).toEqual(['Crypto miner']);
    expect(await f('--limit', '1')).toEqual(['Crypto miner']);
    expect(await f('--status', 'open', '--priority', 'critical')).toEqual(['Crypto miner']);
  });

  it('prints a table for people', async () => {
    const r = await cli('list', '--db', db);
    expect(r.code).toBe(0);
    expect(r.out.split('\n')[0]).toMatch(/^ID\s+LAST SEEN\s+PRIORITY\s+COUNT\s+STATUS\s+CONTAINER\s+RULE\s+OUTPUT/);
    expect(r.out).toMatch(/Critical\s+1\s+open\s+job7\s+Crypto miner/);
    expect(r.out).not.toContain('\x1b['); // not a TTY: no colour
  });

  it('acks and resolves with notes, visible in show', async () => {
    expect((await cli('ack', '2', '--db', db, '--note', 'looking')).code).toBe(0);
    expect((await cli('resolve', '2', '--db', db, '--note', 'killed pod')).code).toBe(0);
    const r = await cli('show', '2', '--db', db, '--json');
    const inc = JSON.parse(r.out) as { status: string; history: { action: string; note: string }[]; deliveries: unknown[] };
    expect(inc.status).toBe('resolved');
    expect(inc.history.map((h) => [h.action, h.note])).toEqual([
      ['acknowledge', 'looking'],
      ['resolve', 'killed pod'],
    ]);
    expect(inc.deliveries).toEqual([]);
    const text = await cli('show', '2', '--db', db);
    expect(text.out).toMatch(/status\s+resolved/);
    expect(text.out).toMatch(/resolve → resolved: killed pod/);
    expect((await cli('show', '99', '--db', db)).code).toBe(1);
    expect((await cli('ack', 'abc', '--db', db)).code).toBe(2);
  });

  it('shows stats by rule, priority, container and hour', async () => {
    const r = JSON.parse((await cli('stats', '--by', 'container', '--db', db, '--json')).out) as { rows: { key: string; events: number }[] };
    expect(r.rows.find((x) => x.key === 'web1')?.events).toBe(2);
    const p = await cli('stats', '--by', 'priority', '--db', db);
    expect(p.out).toMatch(/^PRIORITY\s+INCIDENTS\s+EVENTS\nCritical\s+1\s+1\nNotice\s+1\s+2\nDebug\s+1\s+1\n$/);
    expect((await cli('stats', '--by', 'hour', '--db', db, '--json')).code).toBe(0);
    expect((await cli('stats', '--by', 'nope', '--db', db)).code).toBe(2);
  });

  it('exports NDJSON and CSV', async () => {
    const nd = await cli('export', '--db', db);
    expect(nd.out.trim().split('\n').map((l) => (JSON.parse(l) as { id: number }).id)).toEqual([3, 1, 2]);
    const csv = await cli('export', '--format', 'csv', '--db', db, '--rule', 'Crypto miner');
    const lines = csv.out.trim().split('\n');
    expect(lines[0]).toBe('id,rule,priority,status,count,first_seen,last_seen,container_id,pid,exe,hostname,source,tags,output,output_fields');
    expect(lines[1]).toContain('"xmrig to pool, ""quoted"", comma"');
    expect(lines.length).toBe(2);
  });

  it('rejects bad input with exit 2 and a clear message', async () => {
    expect((await cli('list', '--db', db, '--since', 'yesterday')).err).toMatch(/--since: 'yesterday'/);
    expect((await cli('list', '--db', db, '--priority', 'loud')).code).toBe(2);
    expect((await cli('list', '--db', db, '--status', 'closed')).code).toBe(2);
    expect((await cli('list', '--db', join(tmp.dir, 'missing.db'))).err).toMatch(/no database/);
    expect((await cli('frobnicate', '--db', db)).code).toBe(2);
    expect((await cli('list', '--bogus')).code).toBe(2);
    expect((await cli('--help')).code).toBe(0);
  });

  it('reads the database path from the config file', async () => {
    const cfg = join(tmp.dir, 'kestrel.yaml');
    writeFileSync(cfg, `db: ${db}\n`);
    const r = await cli('list', '-c', cfg, '--json');
    expect(r.code).toBe(0);
    expect((JSON.parse(r.out) as unknown[]).length).toBe(3);
  });
});

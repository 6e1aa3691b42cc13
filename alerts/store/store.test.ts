import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { IncidentStore, ftsQuery, parsePriorityFilter } from './store.js';
import { MIGRATIONS, SCHEMA_VERSION, currentVersion, migrate } from './migrations.js';
import { openDatabase } from './open.js';
import { mkAlert, tempDir } from '../test-helpers.js';
import { toEndpoint } from '../webhooks/endpoint.js';

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

function schemaOf(db: Database.Database): string[] {
  return (db.prepare("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name").all() as {
    type: string;
    name: string;
    sql: string | null;
  }[]).map((r) => `${r.type} ${r.name} ${(r.sql ?? '').replace(/\s+/g, ' ')}`);
}

describe('migrations', () => {
  it('creates the latest schema from an empty file, with mode 0600 and WAL', () => {
    const path = join(tmp.dir, 'k.db');
    const s = new IncidentStore(path);
    expect(currentVersion(s.db)).toBe(SCHEMA_VERSION);
    expect(s.db.pragma('journal_mode', { simple: true })).toBe('wal');
    s.close();
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('is idempotent when reopened', () => {
    const path = join(tmp.dir, 'k.db');
    new IncidentStore(path).close();
    const db = openDatabase(path);
    expect(migrate(db)).toEqual([]);
    db.close();
  });

  for (const from of MIGRATIONS.slice(0, -1).map((m) => m.version)) {
    it(`migrates from version ${from} keeping data`, () => {
      const path = join(tmp.dir, `v${from}.db`);
      const old = openDatabase(path, { targetVersion: from });
      expect(currentVersion(old)).toBe(from);
      old
        .prepare(
          `INSERT INTO incidents (rule, priority, output, output_fields, tags, source, hostname, container_id, exe, pid, first_seen, last_seen, count, agg_key)
           VALUES ('Old rule', 4, 'old output netcat listener', '{"proc.name":"nc"}', '["net"]', 'syscall', 'h', 'c1', '/bin/nc', 7, ?, ?, 3, 'k')`,
        )
        .run(1_600_000_000_000_000_000n, 1_600_000_000_500_000_000n);
      if (from >= 2) {
        old.prepare("UPDATE incidents SET status = 'acknowledged'").run();
        old.prepare("INSERT INTO incident_history (incident_id, at, action, from_status, to_status, note) VALUES (1, 1, 'acknowledge', 'open', 'acknowledged', 'seen')").run();
      }
      if (from >= 4) {
        old.prepare("INSERT INTO outbox (uuid, incident_id, endpoint, body, created_at, next_attempt_at, expire_at) VALUES ('u-1', 1, 'http://x', '{}', 1, 1, 99)").run();
      }
      old.close();

      const s = new IncidentStore(path);
      expect(currentVersion(s.db)).toBe(SCHEMA_VERSION);
      const inc = s.get(1);
      expect(inc).toMatchObject({ rule: 'Old rule', count: 3, priority: 'Warning', container_id: 'c1', output_fields: { 'proc.name': 'nc' } });
      expect(inc?.status).toBe(from >= 2 ? 'acknowledged' : 'open');
      expect(s.list({ search: 'netcat' }).map((i) => i.id)).toEqual([1]);
      if (from >= 2) expect(s.history(1)[0]).toMatchObject({ action: 'acknowledge', note: 'seen' });
      if (from >= 4) expect(s.deliveries(1)[0]).toMatchObject({ uuid: 'u-1', state: 'pending' });
      // Same schema as a fresh database.
      const fresh = new IncidentStore(join(tmp.dir, 'fresh.db'));
      expect(schemaOf(s.db)).toEqual(schemaOf(fresh.db));
      fresh.close();
      s.close();
    });
  }

  it('refuses a database from a newer Kestrel', () => {
    const path = join(tmp.dir, 'new.db');
    new IncidentStore(path).close();
    const db = new Database(path);
    db.prepare('UPDATE schema_version SET version = 999').run();
    db.close();
    expect(() => new IncidentStore(path)).toThrow(/newer/);
  });
});

describe('aggregation and ingest', () => {
  it('merges the same rule, container and exe within the window', () => {
    const s = new IncidentStore(join(tmp.dir, 'a.db'), { aggregationWindowMs: 1000 });
    const t0 = 1_700_000_000_000_000_000n;
    const ms = 1_000_000n;
    const r = s.ingest([
      mkAlert({ timeNs: t0 }),
      mkAlert({ timeNs: t0 + 200n * ms }),
      mkAlert({ timeNs: t0 + 500n * ms, containerId: 'other' }),
      mkAlert({ timeNs: t0 + 600n * ms, exe: '/bin/sh' }),
      mkAlert({ timeNs: t0 + 900n * ms }),
      mkAlert({ timeNs: t0 + 1500n * ms }), // outside the window: new incident
    ]);
    expect(r.created.length).toBe(4);
    expect(r.updated).toEqual([]);
    expect(r.merged).toBe(2);
    const first = s.get(r.created[0]);
    expect(first?.count).toBe(3);
    expect(first?.first_seen).toBe('2023-11-14T22:13:20.000000000Z');
    expect(first?.last_seen).toBe('2023-11-14T22:13:20.900000000Z');
    s.close();
  });

  it('finds the open incident from the database after a restart, and not a resolved one', () => {
    const path = join(tmp.dir, 'b.db');
    const t0 = 1_700_000_000_000_000_000n;
    let s = new IncidentStore(path, { aggregationWindowMs: 60_000 });
    const [id] = s.ingest([mkAlert({ timeNs: t0 })]).created;
    s.close();
    s = new IncidentStore(path, { aggregationWindowMs: 60_000 });
    expect(s.ingest([mkAlert({ timeNs: t0 + 1000n })]).updated).toEqual([id]);
    s.setStatus(id, 'resolved', 'fixed');
    const r = s.ingest([mkAlert({ timeNs: t0 + 2000n })]);
    expect(r.created.length).toBe(1);
    expect(r.created[0]).not.toBe(id);
    s.close();
  });

  it('counts repeats in a batch with one update, and starts over when another process resolved the incident', () => {
    const path = join(tmp.dir, 'e.db');
    const s = new IncidentStore(path, { aggregationWindowMs: 60_000 });
    const t0 = 1_700_000_000_000_000_000n;
    const [id] = s.ingest([mkAlert({ timeNs: t0 })]).created;
    const r1 = s.ingest([mkAlert({ timeNs: t0 + 5n }), mkAlert({ timeNs: t0 + 3n }), mkAlert({ timeNs: t0 + 9n })]);
    expect(r1).toMatchObject({ created: [], updated: [id], merged: 3 });
    expect(s.get(id)?.count).toBe(4);
    // The CLI (another connection) resolves it; this store's cache still points at it.
    const other = new IncidentStore(path);
    other.setStatus(id, 'resolved');
    other.close();
    const r2 = s.ingest([mkAlert({ timeNs: t0 + 20n }), mkAlert({ timeNs: t0 + 30n })]);
    expect(r2.created.length).toBe(1);
    expect(s.get(r2.created[0])?.count).toBe(2);
    expect(s.get(id)?.count).toBe(4);
    s.close();
  });

  it('never merges internal alerts', () => {
    const s = new IncidentStore(join(tmp.dir, 'c.db'));
    const r = s.ingest([mkAlert({ aggregate: false }), mkAlert({ aggregate: false })]);
    expect(r.created.length).toBe(2);
    s.close();
  });

  it('writes outbox rows for the endpoints that want the alert, in the same transaction', () => {
    const s = new IncidentStore(join(tmp.dir, 'd.db'));
    const eps = [
      toEndpoint({ url: 'http://a/', min_priority: 'warning' }),
      toEndpoint({ url: 'http://b/', min_priority: 'critical' }),
      toEndpoint({ url: 'http://c/', tags: ['network'] }),
      toEndpoint({ url: 'http://d/', rules: ['Terminal shell in container'] }),
    ];
    const r = s.ingest([mkAlert({ priorityText: 'warning', tags: ['shell'] })], eps);
    expect(r.deliveries).toBe(2);
    expect(s.deliveries(r.created[0]).map((d) => d.endpoint)).toEqual(['http://a/', 'http://d/']);
    // A failing batch leaves neither incidents nor outbox rows behind.
    const bad = mkAlert();
    (bad as { rule: unknown }).rule = null;
    expect(() => s.ingest([mkAlert({ rule: 'x' }), bad], eps)).toThrow();
    expect(s.count()).toBe(1);
    expect(s.outboxCounts().pending).toBe(2);
    s.close();
  });
});

describe('queries', () => {
  function seeded(): IncidentStore {
    const s = new IncidentStore(join(tmp.dir, 'q.db'), { aggregationWindowMs: 1 });
    const t0 = 1_700_000_000_000_000_000n;
    const sec = 1_000_000_000n;
    s.ingest([
      mkAlert({ rule: 'A', priorityText: 'critical', containerId: 'c1', timeNs: t0, message: 'reverse shell to 10.0.0.1' }),
      mkAlert({ rule: 'B', priorityText: 'notice', containerId: 'c2', timeNs: t0 + 3600n * sec, message: 'package manager apt ran' }),
      mkAlert({ rule: 'A', priorityText: 'critical', containerId: 'c2', timeNs: t0 + 7200n * sec, message: 'reverse shell to 10.0.0.2' }),
      mkAlert({ rule: 'C', priorityText: 'debug', containerId: 'host', timeNs: t0 + 7300n * sec, message: 'debug thing' }),
    ]);
    return s;
  }

  it('filters by rule, container, priority, status, time and text', () => {
    const s = seeded();
    const t0 = 1_700_000_000_000_000_000n;
    const sec = 1_000_000_000n;
    expect(s.list({ rule: 'A' }).map((i) => i.id)).toEqual([3, 1]);
    expect(s.list({ container: 'c2' }).map((i) => i.id)).toEqual([3, 2]);
    expect(s.list({ minLevel: 5 }).map((i) => i.id)).toEqual([3, 2, 1]);
    expect(s.list({ level: 5 }).map((i) => i.id)).toEqual([2]);
    expect(s.list({ sinceNs: t0 + 3600n * sec }).map((i) => i.id)).toEqual([4, 3, 2]);
    expect(s.list({ untilNs: t0 + 3600n * sec }).map((i) => i.id)).toEqual([2, 1]);
    expect(s.list({ search: 'reverse shell' }).map((i) => i.id)).toEqual([3, 1]);
    expect(s.list({ search: '10.0.0.2' }).map((i) => i.id)).toEqual([3]);
    expect(s.list({ search: 'apt" OR "x' }).length).toBe(0); // quotes cannot inject FTS syntax
    expect(s.list({ limit: 1 }).map((i) => i.id)).toEqual([4]);
    s.setStatus(1, 'acknowledged', 'looking');
    expect(s.list({ status: 'acknowledged' }).map((i) => i.id)).toEqual([1]);
    expect(s.stats('rule')).toEqual([
      { key: 'A', incidents: 2, events: 2 },
      { key: 'B', incidents: 1, events: 1 },
      { key: 'C', incidents: 1, events: 1 },
    ]);
    expect(s.stats('priority').map((r) => r.key)).toEqual(['Critical', 'Notice', 'Debug']);
    expect(s.stats('hour').map((r) => r.key)).toEqual(['2023-11-15T00:00:00Z', '2023-11-14T23:00:00Z', '2023-11-14T22:00:00Z']);
    s.close();
  });

  it('uses an index for every filter (query plan)', () => {
    const s = seeded();
    const plan = (f: Parameters<IncidentStore['listSql']>[0]): string => {
      const q = s.listSql(f);
      return (s.db.prepare(`EXPLAIN QUERY PLAN ${q.sql}`).all(...q.params) as { detail: string }[]).map((r) => r.detail).join(' | ');
    };
    expect(plan({ rule: 'A' })).toMatch(/USING INDEX incidents_rule/);
    expect(plan({ container: 'c1' })).toMatch(/USING INDEX incidents_container/);
    expect(plan({ status: 'open' })).toMatch(/USING INDEX incidents_status/);
    expect(plan({ level: 2 })).toMatch(/USING INDEX incidents_priority/);
    expect(plan({})).toMatch(/SCAN incidents USING INDEX incidents_last_seen/);
    expect(plan({ sinceNs: 1n })).toMatch(/incidents_last_seen/);
    expect(plan({ search: 'shell' })).toMatch(/VIRTUAL TABLE INDEX/);
    // A selective container with a search: driven by the container index, FTS as a filter.
    expect(plan({ search: 'shell', container: 'c1' })).toMatch(/USING INDEX incidents_container/);
    expect(s.list({ search: 'reverse', container: 'c2' }).map((i) => i.id)).toEqual([3]);
    const agg = (s.db.prepare("EXPLAIN QUERY PLAN SELECT id, first_seen FROM incidents WHERE agg_key = ? AND status != 'resolved' ORDER BY first_seen DESC LIMIT 1").all('k') as { detail: string }[])
      .map((r) => r.detail)
      .join(' ');
    expect(agg).toMatch(/USING INDEX incidents_agg/);
    for (const p of [plan({ rule: 'A' }), plan({ container: 'c1' })]) expect(p).not.toMatch(/USE TEMP B-TREE/);
    s.close();
  });

  it('keeps status changes and notes in the history', () => {
    const s = seeded();
    expect(s.setStatus(2, 'acknowledged', 'on it', 'alice')).toBe(true);
    expect(s.setStatus(2, 'acknowledged', 'still on it')).toBe(true);
    expect(s.setStatus(2, 'resolved')).toBe(true);
    expect(s.setStatus(99, 'resolved')).toBe(false);
    expect(s.history(2).map((h) => [h.action, h.from_status, h.to_status, h.note])).toEqual([
      ['acknowledge', 'open', 'acknowledged', 'on it'],
      ['note', 'acknowledged', 'acknowledged', 'still on it'],
      ['resolve', 'acknowledged', 'resolved', null],
    ]);
    s.close();
  });

  it('retains by age and by count, removing FTS and history rows too', () => {
    const s = seeded();
    s.setStatus(1, 'acknowledged', 'x');
    const t0 = 1_700_000_000_000_000_000n;
    const sec = 1_000_000_000n;
    expect(s.retain({ maxAgeMs: 3_600_000, now: t0 + 7300n * sec + 1n, chunk: 1 })).toBe(2);
    expect(s.list().map((i) => i.id)).toEqual([4, 3]);
    expect(s.retain({ maxIncidents: 1, chunk: 1 })).toBe(1);
    expect(s.list().map((i) => i.id)).toEqual([4]);
    expect(s.list({ search: 'reverse' })).toEqual([]);
    expect((s.db.prepare('SELECT count(*) AS n FROM incident_history').get() as { n: number }).n).toBe(0);
    s.close();
  });

  it('prunes finished deliveries with their incidents but keeps pending ones', () => {
    const s = new IncidentStore(join(tmp.dir, 'ob.db'));
    const eps = [toEndpoint({ url: 'http://a/' })];
    const ids = s.ingest([mkAlert({ containerId: 'x1' }), mkAlert({ containerId: 'x2' }), mkAlert({ containerId: 'x3' })], eps).created;
    const rows = s.db.prepare('SELECT id, incident_id FROM outbox ORDER BY id').all() as { id: number; incident_id: number }[];
    s.markDelivered(rows[0].id, 200, Date.now());
    expect(s.retain({ maxIncidents: 1 })).toBe(2);
    // Delivery of incident 1 (delivered) is pruned; incident 2's (pending) stays.
    expect((s.db.prepare('SELECT incident_id FROM outbox ORDER BY id').all() as { incident_id: number }[]).map((r) => r.incident_id)).toEqual([ids[1], ids[2]]);
    const plan = (s.db.prepare("EXPLAIN QUERY PLAN SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at > -1 AND expire_at <= 5").all() as { detail: string }[]).map((r) => r.detail).join(' ');
    expect(plan).toMatch(/outbox_due/);
    s.close();
  });

  it('parses priority filters and quotes FTS input', () => {
    expect(parsePriorityFilter('warning')).toEqual({ minLevel: 4 });
    expect(parsePriorityFilter('=INFO')).toEqual({ level: 6 });
    expect(parsePriorityFilter('bogus')).toBeUndefined();
    expect(ftsQuery('a "b')).toBe('"a" """b"');
  });
});

describe('exact timestamps', () => {
  it('keeps evt.time to the nanosecond through the store and JSON output', async () => {
    const { jsonText } = await import('./store.js');
    const s = new IncidentStore(join(tmp.dir, 'ns.db'));
    const [id] = s.ingest([mkAlert({ outputFields: { 'evt.time': '1795611240041000007', 'proc.name': 'bash' } })]).created;
    const inc = s.get(id);
    expect(inc?.output_fields['evt.time']).toBe(1795611240041000007n);
    expect(jsonText(inc)).toContain('"evt.time":1795611240041000007');
    expect(jsonText({ a: 1 }, 2)).toBe('{\n  "a": 1\n}');
    s.close();
  });
});

// The incident store: aggregation of alerts into incidents, the webhook outbox written in the
// same transaction, statuses with history, queries for the CLI, retention. Parameterised SQL
// only. Times are ns since the epoch (INTEGER, bound and read as BigInt); outbox times are ms.

import type Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import type { Alert } from '../alert.js';
import { openDatabase, type OpenOptions } from './open.js';
import { priorityLevel, priorityName } from '../priority.js';
import { formatTimeNs, nowNs } from '../time.js';
import { wants, type Endpoint } from '../webhooks/endpoint.js';
import { webhookBody } from '../webhooks/payload.js';
import { safeUrl } from '../webhooks/worker.js';

export type Status = 'open' | 'acknowledged' | 'resolved';
export const STATUSES: readonly Status[] = ['open', 'acknowledged', 'resolved'];

export interface IncidentJson {
  id: number;
  rule: string;
  priority: string;
  output: string;
  output_fields: Record<string, unknown>;
  tags: string[];
  first_seen: string;
  last_seen: string;
  count: number;
  status: Status;
  container_id: string;
  pid: number | null;
  hostname: string;
  source: string;
  exe: string;
  process: unknown;
  container: unknown;
}

export interface HistoryJson {
  at: string;
  action: string;
  from_status: string | null;
  to_status: string | null;
  note: string | null;
  actor: string | null;
}

export interface DeliveryJson {
  uuid: string;
  endpoint: string;
  state: 'pending' | 'delivered' | 'failed';
  attempts: number;
  created_at: string;
  next_attempt_at: string | null;
  delivered_at: string | null;
  last_status: number | null;
  last_error: string | null;
}

export interface ListFilter {
  sinceNs?: bigint;
  untilNs?: bigint;
  /** At least this severe (level ≤). */
  minLevel?: number;
  /** Exactly this level. */
  level?: number;
  rule?: string;
  container?: string;
  status?: Status;
  search?: string;
  limit?: number;
  /** Oldest first instead of newest first. */
  ascending?: boolean;
}

export interface IngestResult {
  /** Incidents created, in order. */
  created: number[];
  /** Existing incidents whose count grew (each once per batch). */
  updated: number[];
  /** Alerts merged into an incident instead of creating one. */
  merged: number;
  deliveries: number;
}

export interface OutboxRow {
  id: number;
  uuid: string;
  incidentId: number;
  endpoint: string;
  body: string;
  attempts: number;
  expireAt: number;
}

interface RawIncident {
  id: bigint;
  rule: string;
  priority: bigint;
  output: string;
  output_fields: string;
  tags: string;
  source: string;
  hostname: string;
  container_id: string;
  exe: string;
  pid: bigint | null;
  first_seen: bigint;
  last_seen: bigint;
  count: bigint;
  status: Status;
  process: string | null;
  container: string | null;
}

function parseJson(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

/** output_fields: large integers (evt.time in ns) come back as BigInt instead of a rounded number. */
function parseFields(text: string): unknown {
  return parseJson(text.replace(/"evt\.time":(-?\d{16,})/g, '"evt.time":"\\u0000$1"'));
}

function reviveBig(v: unknown): unknown {
  if (typeof v === 'object' && v !== null) {
    for (const [k, x] of Object.entries(v)) {
      if (typeof x === 'string' && x.startsWith('\u0000')) (v as Record<string, unknown>)[k] = BigInt(x.slice(1));
    }
  }
  return v;
}

/**
 * JSON text of incidents for people and scripts: BigInt values (exact ns timestamps in
 * output_fields) are written as bare integers, as Falco writes evt.time.
 */
export function jsonText(value: unknown, indent?: number): string {
  const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `\u0000big:${v.toString()}` : v), indent);
  return text.replace(/"\\u0000big:(-?\d+)"/g, '$1');
}

function toJson(r: RawIncident): IncidentJson {
  const fields = reviveBig(parseFields(r.output_fields));
  const tags = parseJson(r.tags);
  return {
    id: Number(r.id),
    rule: r.rule,
    priority: priorityName(Number(r.priority)),
    output: r.output,
    output_fields: typeof fields === 'object' && fields !== null ? (fields as Record<string, unknown>) : {},
    tags: Array.isArray(tags) ? tags.map(String) : [],
    first_seen: formatTimeNs(r.first_seen),
    last_seen: formatTimeNs(r.last_seen),
    count: Number(r.count),
    status: r.status,
    container_id: r.container_id,
    pid: r.pid === null ? null : Number(r.pid),
    hostname: r.hostname,
    source: r.source,
    exe: r.exe,
    process: parseJson(r.process),
    container: parseJson(r.container),
  };
}

/** User text → an FTS5 query matching all its words (each quoted, so no operator injection). */
export function ftsQuery(text: string): string {
  const words = text.split(/\s+/).filter((w) => w !== '');
  return words.map((w) => `"${w.replace(/"/g, '""')}"`).join(' ');
}

const INCIDENT_COLUMNS =
  'id, rule, priority, output, output_fields, tags, source, hostname, container_id, exe, pid, first_seen, last_seen, count, status, process, container';

/** output_fields as stored: like JSON.stringify, but evt.time (a digit string) as a bare integer. */
function storedFields(fields: Alert['outputFields']): string {
  const t = fields['evt.time'];
  if (typeof t === 'string' && /^-?\d+$/.test(t)) {
    const s = JSON.stringify({ ...fields, 'evt.time': 0 });
    return s.replace('"evt.time":0', `"evt.time":${t}`);
  }
  return JSON.stringify(fields);
}

export interface StoreOptions extends OpenOptions {
  /** Alerts of the same rule, container and executable within this window join one incident (ms). */
  aggregationWindowMs?: number;
}

export class IncidentStore {
  readonly db: Database.Database;
  private windowNs: bigint;
  private readonly aggCache = new Map<string, { id: number; first: bigint }>();
  private readonly st: ReturnType<IncidentStore['prepare']>;

  constructor(path: string, opts: StoreOptions = {}) {
    this.db = openDatabase(path, opts);
    this.windowNs = BigInt(Math.round(opts.aggregationWindowMs ?? 60_000)) * 1_000_000n;
    this.st = this.prepare();
  }

  private prepare() {
    const db = this.db;
    const ro = db.readonly;
    const w = <T>(f: () => T): T | undefined => (ro ? undefined : f());
    return {
      byId: db.prepare(`SELECT ${INCIDENT_COLUMNS} FROM incidents WHERE id = ?`).safeIntegers(true),
      latestAgg: db
        .prepare("SELECT id, first_seen FROM incidents WHERE agg_key = ? AND status != 'resolved' ORDER BY first_seen DESC LIMIT 1")
        .safeIntegers(true),
      insert: w(() =>
        db.prepare(
          `INSERT INTO incidents (rule, priority, output, output_fields, tags, source, hostname, container_id, exe, pid,
             first_seen, last_seen, count, agg_key, process, container)
           VALUES (@rule, @priority, @output, @output_fields, @tags, @source, @hostname, @container_id, @exe, @pid,
             @first, @last, @count, @agg_key, @process, @container)`,
        ),
      ),
      bump: w(() =>
        db.prepare(
          "UPDATE incidents SET count = count + @n, last_seen = max(last_seen, @max), first_seen = min(first_seen, @min), pid = @pid WHERE id = @id AND status != 'resolved'",
        ),
      ),
      outboxInsert: w(() =>
        db.prepare(
          `INSERT INTO outbox (uuid, incident_id, endpoint, body, created_at, next_attempt_at, expire_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
        ),
      ),
      history: w(() =>
        db.prepare('INSERT INTO incident_history (incident_id, at, action, from_status, to_status, note, actor) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      ),
    };
  }

  setAggregationWindow(ms: number): void {
    this.windowNs = BigInt(Math.round(ms)) * 1_000_000n;
  }

  /**
   * Store a batch in ONE transaction: each alert updates the open incident with the same rule,
   * container and executable whose first_seen is within the window, or creates one; every
   * created incident gets an outbox row per endpoint that wants it, in the same transaction.
   */
  ingest(alerts: readonly Alert[], endpoints: readonly Endpoint[] = [], nowMs: number = Date.now()): IngestResult {
    const st = this.st;
    const insert = st.insert;
    const bump = st.bump;
    const outboxInsert = st.outboxInsert;
    if (insert === undefined || bump === undefined || outboxInsert === undefined) throw new Error('store opened read-only');
    const res: IngestResult = { created: [], updated: [], merged: 0, deliveries: 0 };
    const win = this.windowNs;
    const within = (t: bigint, first: bigint): boolean => t - first < win && first - t < win;
    const create = (a: Alert, key: string, count: number, first: bigint, last: bigint): number => {
      const info = insert.run({
        rule: a.rule,
        priority: a.level,
        output: a.message,
        output_fields: storedFields(a.outputFields),
        tags: JSON.stringify(a.tags),
        source: a.source,
        hostname: a.hostname,
        container_id: a.containerId,
        exe: a.exe,
        pid: a.pid,
        first,
        last,
        count,
        agg_key: key,
        process: a.process === undefined ? null : JSON.stringify(a.process),
        container: a.container === undefined ? null : JSON.stringify(a.container),
      });
      const id = Number(info.lastInsertRowid);
      res.created.push(id);
      for (const e of endpoints) {
        if (!wants(e, a)) continue;
        const uuid = randomUUID();
        outboxInsert.run(uuid, id, e.url, webhookBody(a, uuid, id), nowMs, nowMs, nowMs + e.expireMs);
        res.deliveries++;
      }
      return id;
    };
    // Repeats within a batch are counted in memory and written with one UPDATE per incident.
    interface Pending {
      key: string;
      id: number;
      first: bigint;
      n: number;
      minT: bigint;
      maxT: bigint;
      pid: number;
      sample: Alert;
      /** Created in this batch (so not reported as updated). */
      fresh: boolean;
    }
    const run = this.db.transaction(() => {
      const open = new Map<string, Pending>();
      const all: Pending[] = [];
      for (const a of alerts) {
        const key = `${a.rule}\u0000${a.containerId}\u0000${a.exe}`;
        if (a.aggregate === false) {
          create(a, key, 1, a.timeNs, a.timeNs);
          continue;
        }
        const p = open.get(key);
        if (p !== undefined && within(a.timeNs, p.first)) {
          p.n++;
          if (a.timeNs < p.minT) p.minT = a.timeNs;
          if (a.timeNs > p.maxT) p.maxT = a.timeNs;
          p.pid = a.pid;
          continue;
        }
        if (p === undefined) {
          let hit = this.aggCache.get(key);
          if (hit === undefined) {
            const row = st.latestAgg.get(key) as { id: bigint; first_seen: bigint } | undefined;
            if (row !== undefined) hit = { id: Number(row.id), first: row.first_seen };
          }
          if (hit !== undefined && within(a.timeNs, hit.first)) {
            const q: Pending = { key, id: hit.id, first: hit.first, n: 1, minT: a.timeNs, maxT: a.timeNs, pid: a.pid, sample: a, fresh: false };
            open.set(key, q);
            all.push(q);
            continue;
          }
        }
        const id = create(a, key, 1, a.timeNs, a.timeNs);
        const q: Pending = { key, id, first: a.timeNs, n: 0, minT: a.timeNs, maxT: a.timeNs, pid: a.pid, sample: a, fresh: true };
        open.set(key, q);
        all.push(q);
        if (this.aggCache.size > 50_000) this.aggCache.clear();
        this.aggCache.set(key, { id, first: a.timeNs });
      }
      for (const p of all) {
        if (p.n === 0) continue;
        if (bump.run({ n: p.n, min: p.minT, max: p.maxT, pid: p.pid, id: p.id }).changes === 1) {
          if (!p.fresh) res.updated.push(p.id);
          res.merged += p.n;
          const c = this.aggCache.get(p.key);
          if (c !== undefined && c.id === p.id && p.minT < c.first) c.first = p.minT;
          if (c === undefined) this.aggCache.set(p.key, { id: p.id, first: p.first < p.minT ? p.first : p.minT });
        } else {
          // Resolved (or removed) since we looked: the repeats start a new incident.
          const id = create(p.sample, p.key, p.n, p.minT, p.maxT);
          this.aggCache.set(p.key, { id, first: p.minT });
        }
      }
    });
    try {
      run();
    } catch (err) {
      // The cache may point at rows the rolled-back transaction created.
      this.aggCache.clear();
      throw err;
    }
    return res;
  }

  get(id: number): IncidentJson | undefined {
    const r = this.st.byId.get(id) as RawIncident | undefined;
    return r === undefined ? undefined : toJson(r);
  }

  private where(f: ListFilter, p = '', withSearch = true, searchAsFilter = false): { sql: string; params: unknown[] } {
    const conds: string[] = [];
    const params: unknown[] = [];
    if (f.sinceNs !== undefined) {
      conds.push(`${p}last_seen >= ?`);
      params.push(f.sinceNs);
    }
    if (f.untilNs !== undefined) {
      conds.push(`${p}first_seen <= ?`);
      params.push(f.untilNs);
    }
    if (f.level !== undefined) {
      conds.push(`${p}priority = ?`);
      params.push(f.level);
    } else if (f.minLevel !== undefined) {
      conds.push(`${p}priority <= ?`);
      params.push(f.minLevel);
    }
    if (f.rule !== undefined) {
      conds.push(`${p}rule = ?`);
      params.push(f.rule);
    }
    if (f.container !== undefined) {
      conds.push(`${p}container_id = ?`);
      params.push(f.container);
    }
    if (f.status !== undefined) {
      conds.push(`${p}status = ?`);
      params.push(f.status);
    }
    if (withSearch && f.search !== undefined && f.search.trim() !== '') {
      // `+id`: a membership test only, so the planner drives the query by the other index.
      conds.push(`${searchAsFilter ? '+' : ''}id IN (SELECT rowid FROM incidents_fts WHERE incidents_fts MATCH ?)`);
      params.push(ftsQuery(f.search));
    }
    return { sql: conds.length === 0 ? '' : `WHERE ${conds.join(' AND ')}`, params };
  }

  /** The SQL `list` runs (exposed for EXPLAIN QUERY PLAN checks). */
  listSql(f: ListFilter): { sql: string; params: unknown[] } {
    const order = f.ascending === true ? 'ASC' : 'DESC';
    const limit = f.limit ?? 100;
    const hasSearch = f.search !== undefined && f.search.trim() !== '';
    const selective = hasSearch && this.selectiveFilter(f);
    if (hasSearch && !selective) {
      // Walk the full-text index newest incident first (rowid order), so a common word with a
      // LIMIT stops early instead of sorting every match.
      const w = this.where(f, 'i.', false);
      const cols = INCIDENT_COLUMNS.split(', ').map((c) => `i.${c}`).join(', ');
      const sql = `SELECT ${cols} FROM incidents_fts JOIN incidents i ON i.id = incidents_fts.rowid WHERE incidents_fts MATCH ?${
        w.sql === '' ? '' : ` AND ${w.sql.slice(6)}`
      } ORDER BY incidents_fts.rowid ${order}${limit > 0 ? ' LIMIT ?' : ''}`;
      const params = [ftsQuery(f.search ?? ''), ...w.params];
      return { sql, params: limit > 0 ? [...params, limit] : params };
    }
    const w = this.where(f, '', true, selective);
    const sql = `SELECT ${INCIDENT_COLUMNS} FROM incidents ${w.sql} ORDER BY last_seen ${order}, id ${order}${limit > 0 ? ' LIMIT ?' : ''}`;
    return { sql, params: limit > 0 ? [...w.params, limit] : w.params };
  }

  /**
   * With a search, a rule or container filter matching few incidents is better driven by its
   * index (FTS as a membership test) than by walking every full-text match; a bounded count on
   * the index decides.
   */
  private selectiveFilter(f: ListFilter): boolean {
    const probe = (col: 'rule' | 'container_id', v: string | undefined): boolean =>
      v !== undefined &&
      (this.db.prepare(`SELECT count(*) AS n FROM (SELECT 1 FROM incidents WHERE ${col} = ? LIMIT 20001)`).get(v) as { n: number }).n <= 20_000;
    return probe('container_id', f.container) || probe('rule', f.rule);
  }

  list(f: ListFilter = {}): IncidentJson[] {
    const q = this.listSql(f);
    return (this.db.prepare(q.sql).safeIntegers(true).all(...q.params) as RawIncident[]).map(toJson);
  }

  /** All incidents matching, oldest first, without holding them all in memory. */
  *iterate(f: ListFilter = {}): Generator<IncidentJson> {
    const q = this.listSql({ ...f, ascending: true, limit: f.limit ?? 0 });
    for (const r of this.db.prepare(q.sql).safeIntegers(true).iterate(...q.params)) yield toJson(r as RawIncident);
  }

  count(f: ListFilter = {}): number {
    const w = this.where(f);
    const row = this.db.prepare(`SELECT count(*) AS n FROM incidents ${w.sql}`).get(...w.params) as { n: number };
    return row.n;
  }

  history(id: number): HistoryJson[] {
    const rows = this.db
      .prepare('SELECT at, action, from_status, to_status, note, actor FROM incident_history WHERE incident_id = ? ORDER BY at, id')
      .safeIntegers(true)
      .all(id) as { at: bigint; action: string; from_status: string | null; to_status: string | null; note: string | null; actor: string | null }[];
    return rows.map((r) => ({ ...r, at: formatTimeNs(r.at) }));
  }

  deliveries(id: number): DeliveryJson[] {
    const rows = this.db
      .prepare(
        'SELECT uuid, endpoint, state, attempts, created_at, next_attempt_at, delivered_at, last_status, last_error FROM outbox WHERE incident_id = ? ORDER BY id',
      )
      .all(id) as {
      uuid: string;
      endpoint: string;
      state: DeliveryJson['state'];
      attempts: number;
      created_at: number;
      next_attempt_at: number;
      delivered_at: number | null;
      last_status: number | null;
      last_error: string | null;
    }[];
    const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
    return rows.map((r) => ({
      uuid: r.uuid,
      endpoint: safeUrl(r.endpoint),
      state: r.state,
      attempts: r.attempts,
      created_at: iso(r.created_at) ?? '',
      next_attempt_at: r.state === 'pending' ? iso(r.next_attempt_at) : null,
      delivered_at: iso(r.delivered_at),
      last_status: r.last_status,
      last_error: r.last_error,
    }));
  }

  /**
   * Change an incident's status (acknowledge, resolve, reopen) with an optional note; every
   * change and note goes to the history. Returns false when the incident does not exist.
   */
  setStatus(id: number, to: Status, note?: string, actor?: string): boolean {
    const history = this.st.history;
    if (history === undefined) throw new Error('store opened read-only');
    return this.db.transaction(() => {
      const row = this.db.prepare('SELECT status FROM incidents WHERE id = ?').get(id) as { status: Status } | undefined;
      if (row === undefined) return false;
      const action = to === 'acknowledged' ? 'acknowledge' : to === 'resolved' ? 'resolve' : 'reopen';
      if (row.status !== to) {
        this.db.prepare('UPDATE incidents SET status = ? WHERE id = ?').run(to, id);
        history.run(id, nowNs(), action, row.status, to, note ?? null, actor ?? null);
      } else if (note !== undefined) {
        history.run(id, nowNs(), 'note', row.status, to, note, actor ?? null);
      }
      if (to === 'resolved') {
        for (const [k, v] of this.aggCache) if (v.id === id) this.aggCache.delete(k);
      }
      return true;
    })();
  }

  /** Counts grouped by rule, priority, container or hour (UTC), largest first (hour: newest first). */
  stats(by: 'rule' | 'priority' | 'container' | 'hour', f: ListFilter = {}): { key: string; incidents: number; events: number }[] {
    const w = this.where(f);
    const col =
      by === 'rule'
        ? 'rule'
        : by === 'priority'
          ? 'priority'
          : by === 'container'
            ? 'container_id'
            : "strftime('%Y-%m-%dT%H:00:00Z', last_seen / 1000000000, 'unixepoch')";
    const order = by === 'hour' ? 'k DESC' : by === 'priority' ? 'k ASC' : 'incidents DESC, k';
    const rows = this.db
      .prepare(`SELECT ${col} AS k, count(*) AS incidents, sum(count) AS events FROM incidents ${w.sql} GROUP BY k ORDER BY ${order}`)
      .all(...w.params) as { k: string | number; incidents: number; events: number }[];
    return rows.map((r) => ({ key: by === 'priority' ? priorityName(Number(r.k)) : String(r.k), incidents: r.incidents, events: r.events }));
  }

  /**
   * Retention: delete incidents last seen before now - maxAge, then the oldest beyond maxCount.
   * Deletes in chunks so a large purge does not hold the write lock for long. Returns the count.
   */
  retain(opts: { maxAgeMs?: number; maxIncidents?: number; now?: bigint; chunk?: number }): number {
    const chunk = opts.chunk ?? 10_000;
    let deleted = 0;
    const del = (sql: string, ...p: unknown[]): void => {
      for (;;) {
        const n = this.db.prepare(sql).run(...p, chunk).changes;
        deleted += n;
        if (n < chunk) break;
      }
    };
    if (opts.maxAgeMs !== undefined && opts.maxAgeMs > 0) {
      const cutoff = (opts.now ?? nowNs()) - BigInt(Math.round(opts.maxAgeMs)) * 1_000_000n;
      del('DELETE FROM incidents WHERE id IN (SELECT id FROM incidents WHERE last_seen < ? LIMIT ?)', cutoff);
    }
    if (opts.maxIncidents !== undefined && opts.maxIncidents > 0) {
      const row = this.db.prepare('SELECT id FROM incidents ORDER BY id DESC LIMIT 1 OFFSET ?').get(opts.maxIncidents - 1) as { id: number } | undefined;
      if (row !== undefined) del('DELETE FROM incidents WHERE id IN (SELECT id FROM incidents WHERE id < ? LIMIT ?)', row.id);
    }
    if (deleted > 0) this.aggCache.clear();
    // Finished deliveries go once their incident is gone or they are past the age limit;
    // pending ones always stay until delivered or expired.
    const minId = (this.db.prepare('SELECT min(id) AS m FROM incidents').get() as { m: number | null }).m;
    const ageMs = opts.maxAgeMs !== undefined && opts.maxAgeMs > 0 ? Number((opts.now ?? nowNs()) / 1_000_000n) - opts.maxAgeMs : -1;
    const before = deleted;
    del(
      "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE state != 'pending' AND (incident_id < ? OR created_at < ?) LIMIT ?)",
      minId ?? Number.MAX_SAFE_INTEGER,
      ageMs,
    );
    return before;
  }

  // --- outbox -------------------------------------------------------------------------------

  /** Pending deliveries due at `nowMs` for these endpoints, oldest first. */
  due(nowMs: number, endpoints: readonly string[], limit: number, skip: ReadonlySet<number>): OutboxRow[] {
    if (endpoints.length === 0) return [];
    const marks = endpoints.map(() => '?').join(',');
    const rows = this.db
      .prepare(
        `SELECT id, uuid, incident_id, endpoint, body, attempts, expire_at FROM outbox
         WHERE state = 'pending' AND next_attempt_at <= ? AND endpoint IN (${marks})
         ORDER BY next_attempt_at, id LIMIT ?`,
      )
      .all(nowMs, ...endpoints, limit + skip.size) as {
      id: number;
      uuid: string;
      incident_id: number;
      endpoint: string;
      body: string;
      attempts: number;
      expire_at: number;
    }[];
    const out: OutboxRow[] = [];
    for (const r of rows) {
      if (skip.has(r.id)) continue;
      out.push({ id: r.id, uuid: r.uuid, incidentId: r.incident_id, endpoint: r.endpoint, body: r.body, attempts: r.attempts, expireAt: r.expire_at });
      if (out.length >= limit) break;
    }
    return out;
  }

  /** When the next pending delivery for these endpoints is due (ms), or undefined. */
  nextDue(endpoints: readonly string[]): number | undefined {
    if (endpoints.length === 0) return undefined;
    const marks = endpoints.map(() => '?').join(',');
    const row = this.db
      .prepare(`SELECT min(next_attempt_at) AS t FROM outbox WHERE state = 'pending' AND endpoint IN (${marks})`)
      .get(...endpoints) as { t: number | null };
    return row.t ?? undefined;
  }

  markDelivered(id: number, status: number, nowMs: number): void {
    this.db
      .prepare("UPDATE outbox SET state = 'delivered', attempts = attempts + 1, last_status = ?, last_error = NULL, delivered_at = ? WHERE id = ?")
      .run(status, nowMs, id);
  }

  markRetry(id: number, status: number | null, error: string, nextMs: number): void {
    this.db
      .prepare('UPDATE outbox SET attempts = attempts + 1, last_status = ?, last_error = ?, next_attempt_at = ? WHERE id = ?')
      .run(status, error, nextMs, id);
  }

  markFailed(id: number, status: number | null, error: string): void {
    this.db
      .prepare("UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_status = ?, last_error = ? WHERE id = ?")
      .run(status, error, id);
  }

  /** Mark pending deliveries past their expiry as failed (e.g. for endpoints no longer configured). */
  expireDeliveries(nowMs: number): { id: number; uuid: string; endpoint: string; incidentId: number }[] {
    // `next_attempt_at > -1` lets the planner range-scan the partial index of pending rows
    // instead of the whole outbox (which keeps finished rows until retention).
    const rows = this.db
      .prepare("SELECT id, uuid, endpoint, incident_id FROM outbox WHERE state = 'pending' AND next_attempt_at > -1 AND expire_at <= ?")
      .all(nowMs) as { id: number; uuid: string; endpoint: string; incident_id: number }[];
    if (rows.length > 0) {
      this.db
        .prepare("UPDATE outbox SET state = 'failed', last_error = coalesce(last_error || '; ', '') || 'expired' WHERE state = 'pending' AND expire_at <= ?")
        .run(nowMs);
    }
    return rows.map((r) => ({ id: r.id, uuid: r.uuid, endpoint: r.endpoint, incidentId: r.incident_id }));
  }

  outboxCounts(): Record<'pending' | 'delivered' | 'failed', number> {
    const out = { pending: 0, delivered: 0, failed: 0 };
    for (const r of this.db.prepare('SELECT state, count(*) AS n FROM outbox GROUP BY state').all() as { state: keyof typeof out; n: number }[]) {
      out[r.state] = r.n;
    }
    return out;
  }

  // --- counters -----------------------------------------------------------------------------

  addCounter(name: string, delta: number): void {
    this.db
      .prepare('INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + excluded.value')
      .run(name, delta);
  }

  counters(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.db.prepare('SELECT name, value FROM counters').all() as { name: string; value: number }[]) out[r.name] = r.value;
    return out;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/** Parse a CLI priority: `warning` (at least), `=warning` (exactly). */
export function parsePriorityFilter(text: string): { minLevel?: number; level?: number } | undefined {
  const exact = text.startsWith('=');
  const lvl = priorityLevel(exact ? text.slice(1) : text);
  if (lvl === undefined) return undefined;
  return exact ? { level: lvl } : { minLevel: lvl };
}

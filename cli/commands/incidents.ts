// `kestrel incidents list|show|ack|resolve|reopen|stats|export`: query and manage incidents.

import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../../config/load.js';
import { IncidentStore, STATUSES, jsonText, parsePriorityFilter, type IncidentJson, type ListFilter, type Status } from '../../alerts/store/store.js';
import { parseTimeArg } from '../../alerts/time.js';

const HELP = `usage: kestrel incidents <subcommand> [options]

subcommands:
  list      [--since DURATION|TIME] [--until TIME] [--priority P] [--rule NAME]
            [--container ID] [--status S] [--search TEXT] [--limit N] [--json|--ndjson]
  show ID   [--json]                 details, history and webhook deliveries
  ack ID    [--note TEXT]            mark acknowledged
  resolve ID [--note TEXT]           mark resolved (later matches open a new incident)
  reopen ID [--note TEXT]            back to open
  stats     [--by rule|priority|container|hour] [filters] [--json]
  export    [--format ndjson|csv] [filters]

options:
  -c, --config FILE   kestrel.yaml (for db)
  --db FILE           SQLite database (default ./kestrel.db, or the config's db)
  --since X           incidents last seen at or after X: a duration back from now (15m, 24h, 7d),
                      an RFC 3339 time or date, or ns since the epoch
  --until X           incidents first seen at or before X
  --priority P        at least this severe (emergency … debug); =P for exactly P
  --status S          open | acknowledged | resolved
  --search TEXT       full-text search over outputs and rule names (all words must match)
  --limit N           at most N rows (list default 50; 0 = all)
  --json / --ndjson   machine output

Exit codes: 0 ok, 1 incident not found, 2 usage or input errors.`;

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  db: { type: 'string' },
  rules: { type: 'string', short: 'r', multiple: true },
  since: { type: 'string' },
  until: { type: 'string' },
  priority: { type: 'string' },
  rule: { type: 'string' },
  container: { type: 'string' },
  status: { type: 'string' },
  search: { type: 'string' },
  limit: { type: 'string' },
  json: { type: 'boolean' },
  ndjson: { type: 'boolean' },
  note: { type: 'string' },
  by: { type: 'string' },
  format: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

class UsageError extends Error {}

const out = (s: string): void => {
  process.stdout.write(s);
};

function filterFrom(v: Record<string, unknown>, defaultLimit: number): ListFilter {
  const f: ListFilter = {};
  const str = (k: string): string | undefined => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  const since = str('since');
  if (since !== undefined) {
    f.sinceNs = parseTimeArg(since);
    if (f.sinceNs === undefined) throw new UsageError(`--since: '${since}' is neither a duration (15m, 24h) nor a time (2026-01-02T10:00:00Z)`);
  }
  const until = str('until');
  if (until !== undefined) {
    f.untilNs = parseTimeArg(until);
    if (f.untilNs === undefined) throw new UsageError(`--until: '${until}' is neither a duration nor a time`);
  }
  const p = str('priority');
  if (p !== undefined) {
    const pf = parsePriorityFilter(p);
    if (pf === undefined) throw new UsageError(`--priority: unknown priority '${p}' (emergency, alert, critical, error, warning, notice, informational, debug)`);
    Object.assign(f, pf);
  }
  const status = str('status');
  if (status !== undefined) {
    const s = status.toLowerCase() === 'ack' ? 'acknowledged' : status.toLowerCase();
    if (!STATUSES.includes(s as Status)) throw new UsageError(`--status: '${status}' is not one of ${STATUSES.join(', ')}`);
    f.status = s as Status;
  }
  f.rule = str('rule');
  f.container = str('container');
  f.search = str('search');
  const limit = str('limit');
  if (limit !== undefined) {
    if (!/^\d+$/.test(limit)) throw new UsageError(`--limit: '${limit}' is not a non-negative integer`);
    f.limit = Number(limit);
  } else f.limit = defaultLimit;
  return f;
}

const COLORS: Record<string, string> = {
  Emergency: '\x1b[1;97;41m',
  Alert: '\x1b[1;91m',
  Critical: '\x1b[1;91m',
  Error: '\x1b[91m',
  Warning: '\x1b[93m',
  Notice: '\x1b[96m',
  Informational: '\x1b[92m',
  Debug: '\x1b[90m',
};

function useColor(): boolean {
  return process.stdout.isTTY === true && process.env.NO_COLOR === undefined;
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

function cut(s: string, n: number): string {
  return s.length <= n ? s : s.slice(0, Math.max(0, n - 1)) + '…';
}

function table(rows: IncidentJson[]): string {
  if (rows.length === 0) return 'no incidents\n';
  const color = useColor();
  const width = process.stdout.columns ?? 160;
  const head = ['ID', 'LAST SEEN', 'PRIORITY', 'COUNT', 'STATUS', 'CONTAINER', 'RULE', 'OUTPUT'];
  const cells = rows.map((r) => [
    String(r.id),
    r.last_seen.slice(0, 19).replace('T', ' '),
    r.priority,
    String(r.count),
    r.status,
    cut(r.container_id, 12),
    cut(r.rule, 40),
    r.output,
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const fixed = w.slice(0, -1).reduce((a, b) => a + b + 2, 0);
  const outW = Math.max(20, width - fixed);
  const lines = [head.map((h, i) => (i === head.length - 1 ? h : pad(h, w[i]))).join('  ')];
  for (const c of cells) {
    const parts = c.map((x, i) => (i === c.length - 1 ? cut(x.replace(/\s+/g, ' '), outW) : pad(x, w[i])));
    if (color) parts[2] = `${COLORS[c[2]] ?? ''}${parts[2]}\x1b[0m`;
    lines.push(parts.join('  '));
  }
  return lines.join('\n') + '\n';
}

function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? '' : typeof v === 'string' ? v : jsonText(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const CSV_COLUMNS = ['id', 'rule', 'priority', 'status', 'count', 'first_seen', 'last_seen', 'container_id', 'pid', 'exe', 'hostname', 'source', 'tags', 'output', 'output_fields'] as const;

function parseId(text: string | undefined): number {
  if (text === undefined || !/^\d+$/.test(text)) throw new UsageError(`expected an incident ID (a number), got ${text === undefined ? 'nothing' : `'${text}'`}`);
  return Number(text);
}

function resolveDb(v: { config?: string; db?: string }): string {
  if (v.db !== undefined) return v.db;
  const { config } = loadConfig({ file: v.config });
  return config.db;
}

export async function run(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: OPTIONS });
  } catch (e) {
    process.stderr.write(`kestrel incidents: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
  const { values: v, positionals } = parsed;
  const sub = positionals[0];
  if (v.help === true || sub === undefined || sub === 'help') {
    out(HELP + '\n');
    return sub === undefined && v.help !== true ? 2 : 0;
  }
  let store: IncidentStore | undefined;
  try {
    const dbPath = resolveDb(v);
    if (!['list', 'show', 'ack', 'resolve', 'reopen', 'stats', 'export'].includes(sub)) {
      throw new UsageError(`unknown subcommand '${sub}' (list, show, ack, resolve, reopen, stats, export)`);
    }
    if (dbPath !== ':memory:' && !existsSync(dbPath)) throw new UsageError(`no database at ${dbPath} (use --db FILE or the config's db)`);
    store = new IncidentStore(dbPath);
    switch (sub) {
      case 'list': {
        const f = filterFrom(v, 50);
        const rows = store.list(f);
        if (v.json === true) out(jsonText(rows, 2) + '\n');
        else if (v.ndjson === true) for (const r of rows) out(jsonText(r) + '\n');
        else out(table(rows));
        return 0;
      }
      case 'show': {
        const id = parseId(positionals[1]);
        const inc = store.get(id);
        if (inc === undefined) {
          process.stderr.write(`kestrel incidents: no incident ${id}\n`);
          return 1;
        }
        const full = { ...inc, history: store.history(id), deliveries: store.deliveries(id) };
        if (v.json === true || v.ndjson === true) {
          out(jsonText(full, v.json === true ? 2 : undefined) + '\n');
          return 0;
        }
        const color = useColor();
        const pr = color ? `${COLORS[inc.priority] ?? ''}${inc.priority}\x1b[0m` : inc.priority;
        const lines = [
          `incident ${inc.id}: ${inc.rule}`,
          `  priority    ${pr}`,
          `  status      ${inc.status}`,
          `  count       ${inc.count}`,
          `  first seen  ${inc.first_seen}`,
          `  last seen   ${inc.last_seen}`,
          `  host        ${inc.hostname}`,
          `  container   ${inc.container_id}${inc.container !== null ? ` ${JSON.stringify(inc.container)}` : ''}`,
          `  process     pid ${inc.pid ?? '<NA>'} ${inc.exe}`,
          `  tags        ${inc.tags.join(', ')}`,
          `  output      ${inc.output}`,
          `  fields`,
          ...Object.entries(inc.output_fields).map(([k, val]) => `    ${pad(k, 24)} ${val === null ? '<NA>' : typeof val === 'object' ? jsonText(val) : String(val)}`),
        ];
        if (inc.process !== null) lines.push(`  process detail ${JSON.stringify(inc.process)}`);
        lines.push('  history', ...(full.history.length === 0 ? ['    (none)'] : full.history.map((h) => `    ${h.at} ${h.action}${h.to_status !== null ? ` → ${h.to_status}` : ''}${h.note !== null ? `: ${h.note}` : ''}${h.actor !== null ? ` (${h.actor})` : ''}`)));
        lines.push(
          '  deliveries',
          ...(full.deliveries.length === 0
            ? ['    (none)']
            : full.deliveries.map(
                (d) =>
                  `    ${d.uuid} ${d.endpoint} ${d.state} attempts=${d.attempts}${d.last_status !== null ? ` status=${d.last_status}` : ''}${d.last_error !== null ? ` error="${d.last_error}"` : ''}${d.next_attempt_at !== null ? ` next=${d.next_attempt_at}` : ''}`,
              )),
        );
        out(lines.join('\n') + '\n');
        return 0;
      }
      case 'ack':
      case 'resolve':
      case 'reopen': {
        const id = parseId(positionals[1]);
        const to: Status = sub === 'ack' ? 'acknowledged' : sub === 'resolve' ? 'resolved' : 'open';
        const actor = process.env.USER ?? process.env.LOGNAME;
        if (!store.setStatus(id, to, v.note, actor)) {
          process.stderr.write(`kestrel incidents: no incident ${id}\n`);
          return 1;
        }
        if (v.json === true) out(jsonText(store.get(id)) + '\n');
        else out(`incident ${id} ${to}\n`);
        return 0;
      }
      case 'stats': {
        const by = v.by ?? 'rule';
        if (by !== 'rule' && by !== 'priority' && by !== 'container' && by !== 'hour') throw new UsageError(`--by: '${by}' is not one of rule, priority, container, hour`);
        const f = filterFrom(v, 0);
        const rows = store.stats(by, f);
        if (v.json === true) out(JSON.stringify({ by, rows }, null, 2) + '\n');
        else if (v.ndjson === true) for (const r of rows) out(JSON.stringify(r) + '\n');
        else {
          const kw = Math.max(by.length, ...rows.map((r) => r.key.length));
          out([`${pad(by.toUpperCase(), kw)}  INCIDENTS  EVENTS`, ...rows.map((r) => `${pad(r.key, kw)}  ${pad(String(r.incidents), 9)}  ${r.events}`)].join('\n') + '\n');
        }
        return 0;
      }
      case 'export': {
        const format = v.format ?? (v.json === true ? 'json' : 'ndjson');
        if (format !== 'ndjson' && format !== 'csv' && format !== 'json') throw new UsageError(`--format: '${format}' is not one of ndjson, csv`);
        const f = filterFrom(v, 0);
        if (format === 'csv') out(CSV_COLUMNS.join(',') + '\n');
        if (format === 'json') out('[');
        let first = true;
        for (const r of store.iterate(f)) {
          if (format === 'csv') out(CSV_COLUMNS.map((c) => csvCell(c === 'tags' ? r.tags.join(';') : r[c])).join(',') + '\n');
          else if (format === 'json') {
            out((first ? '\n' : ',\n') + jsonText(r));
            first = false;
          } else out(jsonText(r) + '\n');
        }
        if (format === 'json') out('\n]\n');
        return 0;
      }
    }
    return 2;
  } catch (e) {
    if (e instanceof UsageError || e instanceof ConfigError) {
      process.stderr.write(`kestrel incidents: ${e.message}\n`);
      return 2;
    }
    if (e instanceof Error && /database|SQLITE/i.test(e.message)) {
      process.stderr.write(`kestrel incidents: ${e.message}\n`);
      return 2;
    }
    throw e;
  } finally {
    store?.close();
  }
}

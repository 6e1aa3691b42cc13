// Alert engine benchmarks: records drained → incidents stored per second in a match storm, and
// `incidents list` filters / full-text search over a large store (1,000,000 incidents by default;
// KESTREL_BENCH_INCIDENTS=N to change). The large database is built once in the temp dir and
// reused while its row count matches.

import { existsSync, mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAlertEngine, type RingSource } from '../alerts/engine.js';
import { encodeRecord, KIND_IPV4, KIND_STR, KIND_STRLIST, KIND_U64, type RuleTable } from '../alerts/record-format.js';
import { IncidentStore, type ListFilter } from '../alerts/store/store.js';
import { SCHEMA_VERSION } from '../alerts/store/migrations.js';
import { nowNs } from '../alerts/time.js';

const RULES: RuleTable = {
  rules: [
    { name: 'Terminal shell in container', priority: 'NOTICE', tags: ['container', 'shell', 'mitre_execution'], output: 'A shell was spawned in a container with an attached terminal (process=%proc.name cmdline=%proc.cmdline container_id=%container.id)', source: 'syscall' },
    { name: 'Outbound connection to mining pool', priority: 'CRITICAL', tags: ['network', 'mitre_impact'], output: 'Connection to mining pool (process=%proc.name connection=%fd.sip:%fd.sport container_id=%container.id)', source: 'syscall' },
  ],
  fields: ['proc.name', 'proc.cmdline', 'container.id', 'fd.sip', 'fd.sport', 'proc.exepath'],
};

class ArrayRing implements RingSource {
  i = 0;
  constructor(private readonly recs: Uint8Array[]) {}
  consume(cb: (d: Uint8Array, len: number) => number | void, max = Infinity): number {
    let n = 0;
    while (n < max && this.i < this.recs.length) {
      const r = this.recs[this.i++];
      cb(r, r.length);
      n++;
    }
    return n;
  }
}

function records(n: number, distinctContainers: number): Uint8Array[] {
  const t0 = nowNs();
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const c = `c${(i % distinctContainers).toString(16).padStart(11, '0')}`;
    out.push(
      i % 2 === 0
        ? encodeRecord({
            ruleId: 0, ktimeNs: t0 + BigInt(i), pid: 1000 + (i % 5000), tgid: 1000 + (i % 5000), cgroupId: 5n,
            values: [
              { fieldId: 0, value: { kind: KIND_STR, value: 'bash' } },
              { fieldId: 1, value: { kind: KIND_STRLIST, value: ['bash', '-i'] } },
              { fieldId: 2, value: { kind: KIND_STR, value: c } },
              { fieldId: 5, value: { kind: KIND_STR, value: '/bin/bash' } },
            ],
          })
        : encodeRecord({
            ruleId: 1, ktimeNs: t0 + BigInt(i), pid: 2000, tgid: 2000, cgroupId: 6n,
            values: [
              { fieldId: 0, value: { kind: KIND_STR, value: 'xmrig' } },
              { fieldId: 3, value: { kind: KIND_IPV4, value: '198.51.100.7' } },
              { fieldId: 4, value: { kind: KIND_U64, value: 3333 } },
              { fieldId: 2, value: { kind: KIND_STR, value: c } },
            ],
          }),
    );
  }
  return out;
}

async function storm(label: string, n: number, distinct: number, webhooks: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'kestrel-bench-storm-'));
  try {
    const recs = records(n, distinct);
    const engine = createAlertEngine({
      db: join(dir, 'storm.db'),
      rules: RULES,
      hostname: 'bench',
      deliver: false,
      drainIntervalMs: 3_600_000,
      webhooks: Array.from({ length: webhooks }, (_, i) => ({ url: `http://127.0.0.1:9/hook${i}` })),
    });
    engine.attach(new ArrayRing(recs));
    const t0 = performance.now();
    while (engine.drainNow() > 0) {
      /* batches of 4096 */
    }
    const s = (performance.now() - t0) / 1000;
    const m = engine.metrics();
    await engine.close(0);
    process.stdout.write(
      `storm ${label}: ${n} records in ${s.toFixed(2)} s = ${Math.round(n / s).toLocaleString('en-US')} records/s; ` +
        `${m.incidents_created} incidents created (${Math.round(m.incidents_created / s).toLocaleString('en-US')}/s), ${m.alerts_merged} merged, ` +
        `${m.deliveries_queued} outbox rows, ${m.batches} transactions\n`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const WORDS = ['bash', 'sh', 'curl', 'wget', 'nc', 'xmrig', 'python', 'apt', 'kubectl', 'ssh', 'nmap', 'socat', 'perl', 'ruby', 'node'];
const RULE_NAMES = Array.from({ length: 25 }, (_, i) => `Rule ${String(i).padStart(2, '0')} ${WORDS[i % WORDS.length]} activity`);

function buildLarge(path: string, n: number): void {
  for (const suffix of ['', '-wal', '-shm']) if (existsSync(path + suffix)) unlinkSync(path + suffix);
  const store = new IncidentStore(path);
  const db = store.db;
  const ins = db.prepare(
    `INSERT INTO incidents (rule, priority, output, output_fields, tags, source, hostname, container_id, exe, pid, first_seen, last_seen, count, agg_key, status)
     VALUES (?, ?, ?, ?, ?, 'syscall', 'node-1', ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const now = nowNs();
  const span = 30n * 86_400_000_000_000n;
  // mulberry32: independent draws (an LCG's low bits would correlate rule, word and container).
  let seed = 12345;
  const rnd = (k: number): number => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) % k);
  };
  const t0 = performance.now();
  const chunk = 50_000;
  for (let base = 0; base < n; base += chunk) {
    db.transaction(() => {
      for (let i = base; i < Math.min(n, base + chunk); i++) {
        const r = rnd(25);
        const w = WORDS[rnd(WORDS.length)];
        const c = `c${rnd(2000).toString(16).padStart(11, '0')}`;
        const t = now - span + (span * BigInt(i)) / BigInt(n);
        const ip = `10.${rnd(256)}.${rnd(256)}.${rnd(256)}`;
        // A rare token in 1 of 10,000 outputs for a selective search.
        const rare = i % 10_000 === 7 ? ' beaconzulu' : '';
        const out = `${RULE_NAMES[r]}: process=${w} cmdline=${w} -c payload${rnd(1000)} connection=${ip}:${rnd(65536)} container_id=${c}${rare}`;
        ins.run(RULE_NAMES[r], r % 8, out, JSON.stringify({ 'proc.name': w, 'container.id': c }), '["bench"]', c, `/usr/bin/${w}`, 1000 + rnd(30000), t, t + 1_000_000n * BigInt(rnd(60_000)), 1 + rnd(5), `${RULE_NAMES[r]}\0${c}\0/usr/bin/${w}`, rnd(10) === 0 ? 'acknowledged' : 'open');
      }
    })();
  }
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.exec('ANALYZE');
  store.close();
  process.stdout.write(`built ${n.toLocaleString('en-US')} incidents in ${((performance.now() - t0) / 1000).toFixed(1)} s (${path})\n`);
}

function timeQuery(store: IncidentStore, label: string, f: ListFilter | (() => unknown)): void {
  const runs: number[] = [];
  let rows = 0;
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    if (typeof f === 'function') {
      const r = f();
      rows = Array.isArray(r) ? r.length : 1;
    } else rows = store.list(f).length;
    runs.push(performance.now() - t0);
  }
  runs.sort((a, b) => a - b);
  process.stdout.write(`  ${label.padEnd(52)} median ${runs[3].toFixed(2).padStart(8)} ms  max ${runs[6].toFixed(2).padStart(8)} ms  (${rows} rows)\n`);
}

export async function bench(): Promise<void> {
  await storm('one incident per container (20k containers), no webhooks', 100_000, 20_000, 0);
  await storm('aggregated (50 containers), no webhooks', 200_000, 50, 0);
  await storm('every record a new incident, 2 webhooks (outbox)', 50_000, 50_000, 2);

  const n = Number(process.env.KESTREL_BENCH_INCIDENTS ?? 1_000_000);
  const path = join(tmpdir(), `kestrel-bench-incidents-v2-${n}.db`);
  let ok = false;
  if (existsSync(path)) {
    try {
      const s = new IncidentStore(path);
      ok = s.count() === n && (s.db.prepare('SELECT version FROM schema_version').get() as { version: number }).version === SCHEMA_VERSION;
      s.close();
    } catch {
      ok = false;
    }
  }
  if (!ok) buildLarge(path, n);
  else process.stdout.write(`reusing ${path}\n`);
  const store = new IncidentStore(path);
  const hour = 3_600_000_000_000n;
  const now = nowNs();
  process.stdout.write(`incidents list over ${n.toLocaleString('en-US')} incidents (limit 100 unless noted):\n`);
  timeQuery(store, 'list (newest)', {});
  timeQuery(store, '--rule "Rule 07 ..."', { rule: RULE_NAMES[7] });
  timeQuery(store, '--container c000000003e7', { container: 'c000000003e7' });
  timeQuery(store, '--priority critical', { minLevel: 2 });
  timeQuery(store, '--priority =debug', { level: 7 });
  timeQuery(store, '--status acknowledged', { status: 'acknowledged' });
  timeQuery(store, '--since 1h', { sinceNs: now - hour });
  timeQuery(store, '--since 24h --rule R --priority warning', { sinceNs: now - 24n * hour, rule: RULE_NAMES[3], minLevel: 4 });
  timeQuery(store, '--search beaconzulu (rare word)', { search: 'beaconzulu' });
  timeQuery(store, '--search xmrig (common word)', { search: 'xmrig' });
  timeQuery(store, '--search "xmrig payload7" --since 24h', { search: 'xmrig payload7', sinceNs: now - 24n * hour });
  timeQuery(store, '--search beaconzulu --limit 0 (all)', { search: 'beaconzulu', limit: 0 });
  timeQuery(store, '--search xmrig --rule R (FTS + filter)', { search: 'xmrig', rule: RULE_NAMES[5] });
  timeQuery(store, '--search xmrig --container C (FTS + filter)', { search: 'xmrig', container: 'c000000003e7' });
  timeQuery(store, 'stats --by rule (full scan)', () => store.stats('rule'));
  timeQuery(store, 'stats --by priority --since 24h', () => store.stats('priority', { sinceNs: now - 24n * hour }));
  store.close();
}

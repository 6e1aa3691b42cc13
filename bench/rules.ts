// Rule-language benchmarks: load time of Falco's rule files (YAML, schema, list substitution,
// parsing, macro expansion, typing) and the reference evaluator's throughput on a stream where
// nothing matches (the common case) with Falco's rules and with Kestrel's built-in rules.
// This evaluator is the baseline the compiled eBPF is compared with.

import { readFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadRuleTexts, loadRules, type RuleSet, type SourceFile } from '../rules/loader/index.js';
import { Matcher } from '../rules/eval/match.js';
import { ProcessTable } from '../collectors/process-table.js';
import type { KestrelEvent } from '../collectors/events.js';
import type { EventContext } from '../collectors/snapshot.js';
import { builtinRulesDir, packageRoot } from '../config/paths.js';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

function timeIt(runs: number, f: () => void): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    f();
    times.push(performance.now() - t0);
  }
  return median(times);
}

/** A benign event stream: services in containers and on the host exec ordinary tools and connect to allowed endpoints. */
export function benignStream(n: number): KestrelEvent[] {
  const events: KestrelEvent[] = [];
  let ts = 1_700_000_000_000_000_000n;
  const next = (): bigint => (ts += 1_000_000n);
  const containers = [
    { id: 'a1b2c3d4e5f60718', name: 'api', image: 'registry.example.com/shop/api:2.3.1', pod: 'api-0', namespace: 'shop' },
    { id: 'b1c2d3e4f5a60718', name: 'worker', image: 'registry.example.com/shop/worker:2.3.1', pod: 'worker-0', namespace: 'shop' },
  ];
  // long-lived services: pids 100.. (containers) and 200.. (host)
  events.push({ type: 'exec', ts: next(), pid: 100, ppid: 1, uid: 1000, gid: 1000, exe: '/usr/local/bin/node', argv: ['node', 'server.js'], container: containers[0] });
  events.push({ type: 'exec', ts: next(), pid: 101, ppid: 1, uid: 1000, gid: 1000, exe: '/usr/bin/python3', argv: ['python3', '-m', 'worker'], container: containers[1] });
  events.push({ type: 'exec', ts: next(), pid: 200, ppid: 1, uid: 0, gid: 0, exe: '/usr/bin/containerd', argv: ['containerd'] });
  const tools: [string, string[]][] = [
    ['/usr/bin/date', ['date', '+%s']],
    ['/bin/ls', ['ls', '-l', '/app/data']],
    ['/usr/bin/git', ['git', 'rev-parse', 'HEAD']],
    ['/usr/bin/gzip', ['gzip', '-9', '/app/out/report.json']],
    ['/usr/local/bin/node', ['node', 'job.js', '--batch', '42']],
  ];
  let pid = 1000;
  for (let i = 0; events.length < n; i++) {
    const parent = i % 3 === 0 ? 100 : i % 3 === 1 ? 101 : 200;
    const c = parent === 100 ? containers[0] : parent === 101 ? containers[1] : undefined;
    const [exe, argv] = tools[i % tools.length] as [string, string[]];
    const p = pid++;
    events.push({ type: 'fork', ts: next(), pid: parent, child: p });
    const ev: KestrelEvent = { type: 'exec', ts: next(), pid: p, ppid: parent, uid: parent === 200 ? 0 : 1000, gid: 1000, exe, argv, tty: 0 };
    if (c !== undefined) ev.container = c;
    events.push(ev);
    // services talk to their database and to a partner API over HTTPS
    events.push({ type: 'connect', ts: next(), pid: parent === 200 ? 100 : parent, fd: 7, family: 'inet', saddr: '10.1.0.5', sport: 40000 + (i % 20000), daddr: i % 2 === 0 ? '10.2.0.9' : '93.184.216.34', dport: i % 2 === 0 ? 5432 : 443, ret: i % 2 === 0 ? 0 : -115 });
    events.push({ type: 'exit', ts: next(), pid: p, code: 0 });
  }
  return events.slice(0, n);
}

function evaluatorThroughput(label: string, set: RuleSet, contexts: EventContext[]): void {
  const m = new Matcher(set.rules);
  const evaluable = contexts.filter((c) => c.event.type === 'exec' || c.event.type === 'connect');
  let matches = 0;
  const fired = new Map<string, number>();
  for (const c of evaluable) {
    for (const r of m.match(c)) {
      matches++;
      fired.set(r.name, (fired.get(r.name) ?? 0) + 1);
    }
  }
  // measure: repeat the stream until ~1 s has passed
  m.evaluations = 0;
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 1000) {
    for (const c of evaluable) m.match(c);
    n += evaluable.length;
  }
  const secs = (performance.now() - t0) / 1000;
  const perEvent = m.evaluations / n;
  process.stdout.write(
    `evaluator (${label}): ${Math.round(n / secs).toLocaleString('en-US')} events/s, ` +
    `${(perEvent).toFixed(1)} rule evaluations per event, ${Math.round(m.evaluations / secs).toLocaleString('en-US')} rule evaluations/s; ` +
    `matches in the stream: ${matches}${fired.size > 0 ? ` (${[...fired].map(([k, v]) => `${k}: ${v}`).join(', ')})` : ''}\n`,
  );
}

export async function bench(): Promise<void> {
  const dir = process.env['KESTREL_FALCO_RULES_DIR'] ?? resolve(packageRoot(), '..', 'shared', 'anchors', 'falco-rules');
  const names = ['falco_rules.yaml', 'falco-incubating_rules.yaml', 'falco-sandbox_rules.yaml'];
  const haveFalco = names.every((n) => existsSync(join(dir, n)));
  const files: SourceFile[] = haveFalco ? names.map((name) => ({ name, text: readFileSync(join(dir, name), 'utf8') })) : [];

  if (haveFalco) {
    loadRuleTexts(files); // warm-up, so the first file is not measured cold
    for (const f of files) {
      const ms = timeIt(5, () => loadRuleTexts([f]));
      const s = loadRuleTexts([f]);
      process.stdout.write(`load ${f.name}: ${ms.toFixed(1)} ms (${s.rules.length} rules, ${s.macros.length} macros, ${s.lists.length} lists, ${s.errors.length} errors)\n`);
    }
    const all = timeIt(5, () => loadRuleTexts(files));
    process.stdout.write(`load all three together: ${all.toFixed(1)} ms\n`);
  } else {
    process.stdout.write(`Falco rule files not found under ${dir}; skipping their figures\n`);
  }
  const builtinMs = timeIt(5, () => loadRules([builtinRulesDir()]));
  process.stdout.write(`load built-in rules: ${builtinMs.toFixed(1)} ms\n`);

  const events = benignStream(20_000);
  const table = new ProcessTable();
  const t0 = performance.now();
  const contexts = events.map((e) => table.apply(e));
  const tableMs = performance.now() - t0;
  process.stdout.write(`process table: ${Math.round(events.length / (tableMs / 1000)).toLocaleString('en-US')} events/s (${events.length} events)\n`);
  // ancestry is computed on demand; warm it so the evaluator figures measure evaluation
  for (const c of contexts) c.ancestors();

  if (haveFalco) {
    const falco = loadRuleTexts(files);
    evaluatorThroughput(`Falco stable+incubating+sandbox, ${falco.rules.filter((r) => r.plan.hooks.length > 0).length} rules on Kestrel hooks`, falco, contexts);
    evaluatorThroughput('Falco stable', loadRuleTexts([files[0] as SourceFile]), contexts);
  }
  const builtin = loadRules([builtinRulesDir()]);
  evaluatorThroughput(`built-in, ${builtin.rules.length} rules`, builtin, contexts);
}

const invoked = process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/\\/g, '/'));
if (invoked) void bench();

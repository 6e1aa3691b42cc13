// Rule tests: YAML files of cases, each a short event sequence (Kestrel's event format, SPEC §3,
// `ts` optional) and the rules that must (`expect`) or must not (`not_expect`) fire on it. The
// events go through the process table (collectors/process-table.ts) so ancestry, containers,
// users and DNS answers are what the kernel would know; every exec/connect event is matched
// with the reference evaluator.
//
//   - name: shell spawned in a container
//     events:
//       - {type: exec, pid: 10, ppid: 1, exe: /bin/bash, argv: [bash], container: {id: c1, image: nginx}}
//     expect: [Shell in container]
//     not_expect: [Terminal shell in container]
//     hosts: {kubernetes.default.svc.cluster.local: [10.96.0.1]}   # optional static DNS
//     rule_matching: all                                           # optional: all | first
//     output_fields:                                               # optional: what the alert shows
//       Shell in container: {proc.name: bash, container.id: c1}

import { LineCounter, parseDocument, isSeq, isMap, type Node } from 'yaml';
import { ProcessTable } from '../../collectors/process-table.js';
import { eventFromObject } from '../../collectors/ndjson.js';
import type { KestrelEvent } from '../../collectors/events.js';
import type { SourceLoc } from '../condition/ast.js';
import type { RuleSet } from '../loader/index.js';
import { Matcher, type RuleMatching } from '../eval/match.js';
import { outputFields, type OutputFieldValue } from '../output.js';

export interface TestCase {
  name: string;
  loc: SourceLoc;
  events: KestrelEvent[];
  expect: string[];
  notExpect: string[];
  hosts: Record<string, string[]>;
  ruleMatching: RuleMatching;
  /** rule name → output field → expected rendered value (`<NA>` for none) */
  outputFields: Record<string, Record<string, string>>;
}

export interface CaseResult {
  case: TestCase;
  passed: boolean;
  fired: string[];
  failures: string[];
}

export class TestFileError extends Error {
  constructor(readonly loc: SourceLoc, message: string) {
    super(`${loc.file}:${loc.line}:${loc.col}: ${message}`);
  }
}

const BASE_TS = 1_700_000_000_000_000_000n;

function strList(v: unknown, what: string, loc: SourceLoc): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new TestFileError(loc, `'${what}' must be a list of rule names`);
  return v as string[];
}

/** Parse a rule-test file. Throws TestFileError with file:line:column. */
export function parseTestFile(file: string, text: string): TestCase[] {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc });
  const locOf = (n: Node | null | undefined): SourceLoc => {
    const p = lc.linePos(n?.range?.[0] ?? 0);
    return { file, line: p.line, col: p.col };
  };
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const p = lc.linePos(e?.pos[0] ?? 0);
    throw new TestFileError({ file, line: p.line, col: p.col }, `YAML: ${e?.message.split('\n')[0] ?? 'error'}`);
  }
  const root = doc.contents;
  if (!isSeq(root)) throw new TestFileError(locOf(root as Node | null), 'a rule-test file must be a list of cases');
  const cases: TestCase[] = [];
  root.items.forEach((node, i) => {
    const loc = locOf(node as Node);
    if (!isMap(node)) throw new TestFileError(loc, 'each case must be a map with name, events and expect/not_expect');
    const o = node.toJSON() as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (!['name', 'events', 'expect', 'not_expect', 'hosts', 'rule_matching', 'output_fields'].includes(k)) throw new TestFileError(loc, `unknown key '${k}' in a test case`);
    }
    const name = typeof o['name'] === 'string' ? o['name'] : `case ${i + 1}`;
    const evNode = node.get('events', true) as Node | undefined;
    if (!Array.isArray(o['events']) || o['events'].length === 0) throw new TestFileError(loc, `case '${name}': 'events' must be a non-empty list`);
    const events: KestrelEvent[] = [];
    (o['events'] as unknown[]).forEach((raw, j) => {
      const evLoc = isSeq(evNode) ? locOf(evNode.items[j] as Node) : loc;
      const obj = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? { ...(raw as Record<string, unknown>) } : raw;
      if (typeof obj === 'object' && obj !== null && !Array.isArray(obj) && (obj as Record<string, unknown>)['ts'] === undefined) {
        (obj as Record<string, unknown>)['ts'] = (BASE_TS + BigInt(j) * 1_000_000n).toString();
      }
      try {
        events.push(eventFromObject(obj));
      } catch (e) {
        throw new TestFileError(evLoc, `case '${name}', event ${j + 1}: ${e instanceof Error ? e.message : String(e)}`);
      }
    });
    const expect = strList(o['expect'], 'expect', loc);
    const notExpect = strList(o['not_expect'], 'not_expect', loc);
    if (expect.length === 0 && notExpect.length === 0) throw new TestFileError(loc, `case '${name}' has neither 'expect' nor 'not_expect'`);
    const hosts = (o['hosts'] ?? {}) as Record<string, string[]>;
    const rm = o['rule_matching'] ?? 'all';
    if (rm !== 'all' && rm !== 'first') throw new TestFileError(loc, `case '${name}': rule_matching must be all or first`);
    const of = o['output_fields'] ?? {};
    if (typeof of !== 'object' || of === null || Array.isArray(of)) throw new TestFileError(loc, `case '${name}': output_fields must map rule names to {field: value}`);
    const outputFields: Record<string, Record<string, string>> = {};
    for (const [rule, fields] of Object.entries(of as Record<string, unknown>)) {
      if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) throw new TestFileError(loc, `case '${name}': output_fields.${rule} must be a map of field: value`);
      outputFields[rule] = Object.fromEntries(Object.entries(fields as Record<string, unknown>).map(([k, v]) => [k, v === null ? '<NA>' : String(v)]));
    }
    cases.push({ name, loc, events, expect, notExpect, hosts, ruleMatching: rm, outputFields });
  });
  return cases;
}

/** Run one case against a loaded rule set. */
export function runCase(tc: TestCase, rules: RuleSet, opts: { hosts?: Record<string, readonly string[]> } = {}): CaseResult {
  const known = new Set(rules.rules.map((r) => r.name));
  const failures: string[] = [];
  for (const n of [...tc.expect, ...tc.notExpect]) if (!known.has(n)) failures.push(`no rule named '${n}' is loaded`);
  // the config's static hosts (dns.hosts), then the case's own
  const table = new ProcessTable({ hosts: { ...(opts.hosts ?? {}), ...tc.hosts } });
  const matcher = new Matcher(rules.rules, { ruleMatching: tc.ruleMatching });
  const fired = new Set<string>();
  /** the output fields of each rule's last firing */
  const shown = new Map<string, Record<string, OutputFieldValue>>();
  for (const ev of tc.events) {
    const ctx = table.apply(ev);
    for (const r of matcher.match(ctx)) {
      fired.add(r.name);
      if (tc.outputFields[r.name] !== undefined) shown.set(r.name, outputFields(r.output, ctx));
    }
  }
  for (const n of tc.expect) if (known.has(n) && !fired.has(n)) failures.push(`expected '${n}' to fire`);
  for (const n of tc.notExpect) if (fired.has(n)) failures.push(`'${n}' fired but must not`);
  for (const [rule, want] of Object.entries(tc.outputFields)) {
    const got = shown.get(rule);
    if (got === undefined) {
      if (!failures.includes(`expected '${rule}' to fire`)) failures.push(`output_fields: '${rule}' did not fire`);
      continue;
    }
    for (const [field, value] of Object.entries(want)) {
      if (!(field in got)) {
        failures.push(`output_fields: '${rule}' output has no %${field}`);
        continue;
      }
      const v = got[field];
      const text = v === null || v === undefined ? '<NA>' : String(v);
      if (text !== value) failures.push(`output_fields: '${rule}' shows ${field}=${text}, expected ${value}`);
    }
  }
  return { case: tc, passed: failures.length === 0, fired: [...fired], failures };
}

// Guards: for each rule, a cheap condition that must hold whenever the rule's condition holds.
// The program tests every rule's guard first, in one contiguous stretch of code, and runs the
// full conditions of the few rules whose guard held (program.ts). The guard is picked with a
// rough model of how often a check holds on ordinary events and what it costs: most of
// Falco's rules come down to a process-name check that almost never holds, while the conjunct
// they start with (`container.id != host`, `evt.res = SUCCESS`) almost always does.

import type { TCheck, TExpr } from '../condition/ast.js';

/** Name fields a check can test with word compares or one cached string-set lookup. */
const NAME_FIELDS: ReadonlySet<string> = new Set(['proc.name', 'proc.pname', 'proc.exe', 'proc.exepath']);
const NAME_OPS: ReadonlySet<string> = new Set(['=', '==', 'in', 'intersects', 'startswith']);

/** A conjunct that is cheap and rarely true: equality or membership on a process name. */
export function selective(e: TExpr): boolean {
  if (e.kind === 'or') return e.children.every(selective);
  return e.kind === 'check' && e.lhs.kind === 'field' && e.lhs.arg === undefined && NAME_FIELDS.has(e.lhs.def.name) && NAME_OPS.has(e.op) && e.modifier === undefined && e.rhs.kind === 'values';
}

export interface Guard {
  /** Necessary condition: false ⇒ the rule's condition is false. */
  expr: TExpr;
  /** Estimated share of ordinary events for which it holds. */
  p: number;
  /** Estimated cost, in plain checks. */
  cost: number;
}

/** Fields with a handful of values, most events sharing one: equality says little. */
const SMALL_DOMAIN = new Set(['evt.res', 'evt.dir', 'evt.type', 'syscall.type', 'fd.typechar', 'fd.sockfamily', 'fd.type', 'fd.l4proto', 'fd.is_server', 'evt.is_open_write']);
const WALK_OPS = new Set(['contains', 'icontains', 'bcontains', 'startswith', 'bstartswith', 'endswith', 'glob', 'iglob', 'regex', 'pmatch']);
/** Network lists go through the LPM trie, DNS names through a lookup: dearer than a compare. */
const NET_FIELD = /^fd\.(net|snet|cnet|lnet|rnet)$/;
const NAME_LOOKUP_FIELD = /^fd\.(sip|cip|lip|rip)\.name$/;
const IP_FIELD = /^fd\.(ip|sip|cip|lip|rip)$/;

function checkGuard(c: TCheck): Guard {
  const name = c.lhs.kind === 'field' ? c.lhs.name : '';
  if (selective(c)) return { expr: c, p: 0.02, cost: 1 };
  const cost = WALK_OPS.has(c.op) ? 3 : NET_FIELD.test(name) ? 4 : NAME_LOOKUP_FIELD.test(name) ? 3 : IP_FIELD.test(name) ? 2 : 1;
  const values = c.rhs.kind === 'values' ? c.rhs.values : [];
  const first = values[0];
  const text = first === undefined ? '' : first.kind === 'string' ? first.value : first.kind === 'number' ? first.text : '';
  let p: number;
  if (c.modifier !== undefined || c.rhs.kind === 'field') p = 0.5;
  else if (c.op === 'exists') p = 0.9;
  else if (c.op === '!=') p = 0.95;
  // Most syscalls succeed: `evt.rawres >= 0`, `evt.res = SUCCESS` nearly always hold.
  else if (name === 'evt.rawres' && text === '0') p = c.op === '>=' || c.op === '>' ? 0.9 : c.op === '<' || c.op === '<=' ? 0.1 : 0.5;
  else if (name === 'evt.res' && (c.op === '=' || c.op === '==' || c.op === 'in')) p = values.some((v) => v.kind === 'string' && v.value === 'SUCCESS') ? 0.9 : 0.1;
  else if (c.op === '<' || c.op === '<=' || c.op === '>' || c.op === '>=') p = 0.5;
  else if (values.length === 0) p = 0;
  // A handful of values: each about half the events (fd.typechar in (4, 6): nearly all).
  else if (SMALL_DOMAIN.has(name)) p = Math.min(0.95, 0.5 * values.length);
  else p = 0.05;
  return { expr: c, p, cost };
}

/** Score: how good a guard is (lower is better). A rare check wins; cost breaks near-ties. */
const score = (g: Guard): number => g.p + 0.02 * g.cost;

export function guardOf(x: TExpr): Guard {
  switch (x.kind) {
    case 'const':
      return { expr: x, p: x.value ? 1 : 0, cost: 0 };
    case 'check':
      return checkGuard(x);
    case 'not': {
      // Only the whole negation is necessary for itself.
      const inner = guardOf(x.child);
      const exact = x.child.kind === 'check' || x.child.kind === 'const';
      return { expr: x, p: exact ? 1 - inner.p : 0.9, cost: inner.cost };
    }
    case 'and': {
      let best: Guard | undefined;
      for (const c of x.children) {
        const g = guardOf(c);
        if (best === undefined || score(g) < score(best)) best = g;
      }
      return best ?? { expr: x, p: 1, cost: 0 };
    }
    case 'or': {
      const gs = x.children.map(guardOf);
      const p = Math.min(1, gs.reduce((a, g) => a + g.p, 0));
      const cost = gs.reduce((a, g) => a + g.cost, 0);
      // Every child's guard unchanged: the node itself (keeps walk grouping and memo keys).
      const same = gs.every((g, i) => g.expr === x.children[i]);
      return { expr: same ? x : { kind: 'or', children: gs.map((g) => g.expr) }, p, cost };
    }
  }
}

/** How often a condition holds and what testing it costs (independent checks assumed). */
export function estimate(x: TExpr): { p: number; cost: number } {
  switch (x.kind) {
    case 'const':
      return { p: x.value ? 1 : 0, cost: 0 };
    case 'check': {
      const g = checkGuard(x);
      return { p: g.p, cost: g.cost };
    }
    case 'not': {
      const e = estimate(x.child);
      return { p: 1 - e.p, cost: e.cost };
    }
    case 'and':
    case 'or': {
      let p = x.kind === 'and' ? 1 : 0;
      let cost = 0;
      for (const c of x.children) {
        const e = estimate(c);
        // Short circuit: a later child is tested only when the earlier ones did not decide.
        cost += e.cost * (x.kind === 'and' ? p : 1 - p);
        p = x.kind === 'and' ? p * e.p : 1 - (1 - p) * (1 - e.p);
      }
      return { p, cost };
    }
  }
}

/** Conjuncts in the order that minimises the expected cost: ascending cost / (1 - p), stable. */
export function orderConjuncts(kids: readonly TExpr[]): TExpr[] {
  const rank = (x: TExpr): number => {
    const e = estimate(x);
    return e.p >= 1 ? Infinity : e.cost / (1 - e.p);
  };
  return kids
    .map((x, i) => ({ x, i, r: rank(x) }))
    .sort((a, b) => a.r - b.r || a.i - b.i)
    .map((k) => k.x);
}

/** Guards that hold for at least this share of events filter nothing worth a second test. */
export const USELESS_GUARD = 0.9;

/**
 * The names a guard passes when it is membership of proc.name (the task's comm) in constant
 * strings: `proc.name in (...)`, `proc.name = x`, and `or`s of those; undefined otherwise.
 */
export function nameGuardItems(x: TExpr): string[] | undefined {
  if (x.kind === 'or') {
    const all: string[] = [];
    for (const c of x.children) {
      const items = nameGuardItems(c);
      if (items === undefined) return undefined;
      all.push(...items);
    }
    return all;
  }
  if (x.kind !== 'check' || x.lhs.kind !== 'field' || x.lhs.arg !== undefined || x.lhs.def.name !== 'proc.name') return undefined;
  if (x.modifier !== undefined || x.rhs.kind !== 'values' || !['=', '==', 'in', 'intersects'].includes(x.op)) return undefined;
  const items: string[] = [];
  for (const v of x.rhs.values) {
    if (v.kind !== 'string') return undefined;
    items.push(v.value);
  }
  return items;
}

/**
 * The name-guard map's entries: for each name (as comm holds it: the UTF-8 bytes, NUL-padded to
 * `commSize`), the candidate words (`bitsPerWord` rules a u32 word) of the rules whose
 * name guard (`byName[k]`, undefined for rules with another guard) passes it.
 */
export function nameGuardEntries(byName: readonly (readonly string[] | undefined)[], commSize: number, bitsPerWord: number): { key: Uint8Array; value: Uint8Array }[] {
  const words = Math.max(1, Math.ceil(byName.length / bitsPerWord));
  const entries = new Map<string, Uint32Array>();
  byName.forEach((items, k) => {
    for (const it of items ?? []) {
      const len = Buffer.byteLength(it, 'utf8');
      // The empty name never passes; a name longer than comm keeps is never stored whole.
      if (len === 0 || len > commSize - 1) continue;
      let v = entries.get(it);
      if (v === undefined) entries.set(it, (v = new Uint32Array(words)));
      v[Math.floor(k / bitsPerWord)] |= 1 << k % bitsPerWord;
    }
  });
  return [...entries].map(([it, v]) => {
    const key = new Uint8Array(commSize);
    key.set(Buffer.from(it, 'utf8'));
    return { key, value: new Uint8Array(v.buffer) };
  });
}

// Per-event memoisation of repeated conditions. Falco's rules are built from macros, so the same
// sub-condition (`outbound`, `fd.ip != "0.0.0.0" and fd.net != "127.0.0.0/8"`, ...) appears in
// many rules of one hook. A repeated sub-condition that costs more than a cache test is
// compiled once per event: its first evaluation stores its truth in a scratch slot stamped with
// the event generation, and later rules read the slot. Conditions have no side effects, so this
// never changes a verdict.

import type { TExpr, TFieldExpr, TRhs, TValue } from '../condition/ast.js';

const keys = new WeakMap<TExpr, string>();

function fieldKey(f: TFieldExpr): string {
  if (f.kind === 'transform') return `${f.fn}(${fieldKey(f.arg)})`;
  return f.arg === undefined ? f.name : `${f.name}[${f.arg.kind === 'index' ? f.arg.index : f.arg.key}]`;
}

function valueKey(v: TValue): string {
  switch (v.kind) {
    case 'string':
      return JSON.stringify(v.value);
    case 'number':
      return `#${v.text}`;
    case 'bool':
      return v.value ? '#t' : '#f';
    case 'ip':
    case 'net':
    case 'bytes':
    case 'pattern':
      return `${v.kind}:${JSON.stringify(v.text)}`;
  }
}

function rhsKey(r: TRhs): string {
  if (r.kind === 'none') return '';
  if (r.kind === 'field') return `val(${fieldKey(r.field)})`;
  return `(${r.values.map(valueKey).join(',')})`;
}

/** A structural key: equal keys mean the same condition (source positions ignored). */
export function exprKey(x: TExpr): string {
  const have = keys.get(x);
  if (have !== undefined) return have;
  let k: string;
  switch (x.kind) {
    case 'const':
      k = x.value ? 'true' : 'false';
      break;
    case 'not':
      k = `!${exprKey(x.child)}`;
      break;
    case 'and':
    case 'or':
      k = `${x.kind}(${x.children.map(exprKey).join(' ; ')})`;
      break;
    case 'check':
      k = `[${fieldKey(x.lhs)} ${x.op}${x.modifier !== undefined ? `:${x.modifier}` : ''} ${rhsKey(x.rhs)}]`;
      break;
  }
  keys.set(x, k);
  return k;
}

/** Fields whose checks test both ends of a connection or look something up. */
const HEAVY_FIELD = /^fd\.(ip|net|sip|cip|snet|cnet|port|sport|cport|lip|rip|lnet|rnet|lport|rport|sip\.name|cip\.name|lip\.name|rip\.name|l4proto)$/;

/** Rough cost in checks: a memo test costs about as much as one plain check. */
function weight(x: TExpr): number {
  switch (x.kind) {
    case 'const':
      return 0;
    case 'not':
      return weight(x.child);
    case 'and':
    case 'or':
      return x.children.reduce((a, c) => a + weight(c), 0);
    case 'check': {
      const name = x.lhs.kind === 'field' ? x.lhs.name : '';
      return HEAVY_FIELD.test(name) ? 2 : 1;
    }
  }
}

/** Which sub-conditions of a hook's rules to memoise: repeated ones worth more than a cache test. */
export function planMemo(exprs: readonly TExpr[]): Set<string> {
  const count = new Map<string, number>();
  const visit = (x: TExpr): void => {
    const k = exprKey(x);
    count.set(k, (count.get(k) ?? 0) + 1);
    if (x.kind === 'and' || x.kind === 'or') x.children.forEach(visit);
    else if (x.kind === 'not') visit(x.child);
  };
  exprs.forEach(visit);
  const out = new Set<string>();
  const pick = (x: TExpr): void => {
    if (x.kind === 'not') {
      pick(x.child);
      return;
    }
    if ((count.get(exprKey(x)) ?? 0) >= 2 && weight(x) >= 2) out.add(exprKey(x));
    if (x.kind === 'and' || x.kind === 'or') x.children.forEach(pick);
  };
  exprs.forEach(pick);
  return out;
}

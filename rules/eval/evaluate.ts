// The reference evaluator: a straightforward walk of a typed condition over an EventContext.
// It is the oracle the compiler is tested against and the benchmark baseline. Falco semantics:
// a field without a value makes every comparison false (only `exists` looks at presence), and
// `not` is plain negation; a multi-valued field (proc.aname, fd.ip, fd.sip.name) satisfies a
// check when any of its values does.

import type { EventContext } from '../../collectors/snapshot.js';
import type { Operator, TCheck, TExpr, TFieldExpr, TValue } from '../condition/ast.js';
import { extractorFor, type Extracted, type Scalar } from './extract.js';
import { inNet, ipEquals } from '../util/ip.js';
import { globToRegExp, hasGlobMeta } from '../util/glob.js';

/** Per-event cache of extracted values, so a field read by many checks is read once. */
export class Evaluation {
  private readonly cache = new Map<string, Extracted>();
  constructor(readonly ctx: EventContext) {}

  value(f: TFieldExpr): Extracted {
    const key = fieldKey(f);
    const hit = this.cache.get(key);
    if (hit !== undefined || this.cache.has(key)) return hit;
    const v = compute(f, this.ctx);
    this.cache.set(key, v);
    return v;
  }
}

const keys = new WeakMap<TFieldExpr, string>();

/** A field's cache key, computed once per typed node. */
function fieldKey(f: TFieldExpr): string {
  let k = keys.get(f);
  if (k === undefined) {
    if (f.kind === 'transform') k = `${f.fn}(${fieldKey(f.arg)})`;
    else if (f.arg === undefined) k = f.name;
    else k = `${f.def.name}[${f.arg.kind === 'index' ? f.arg.index : f.arg.key}]`;
    keys.set(f, k);
  }
  return k;
}

function compute(f: TFieldExpr, ctx: EventContext): Extracted {
  if (f.kind === 'field') {
    const ex = extractorFor(f.def.name);
    return ex === undefined ? undefined : ex(ctx, f.arg);
  }
  const inner = compute(f.arg, ctx);
  if (inner === undefined) return undefined;
  const apply = (s: Scalar): Scalar => transform(f.fn, s);
  return Array.isArray(inner) ? inner.map(apply) : apply(inner);
}

const utf8 = new TextEncoder();
const latin1 = new TextDecoder('latin1');

function transform(fn: string, v: Scalar): Scalar {
  const s = typeof v === 'string' ? v : v instanceof Uint8Array ? latin1.decode(v) : String(v);
  switch (fn) {
    case 'tolower':
      return s.toLowerCase();
    case 'toupper':
      return s.toUpperCase();
    case 'b64':
      return Buffer.from(s, 'base64').toString('utf8');
    case 'basename':
      return s.endsWith('/') ? '' : s.slice(s.lastIndexOf('/') + 1);
    case 'len':
      return utf8.encode(s).length;
    default:
      return s;
  }
}

export function evaluate(e: TExpr, ev: Evaluation): boolean {
  switch (e.kind) {
    case 'and':
      for (const c of e.children) if (!evaluate(c, ev)) return false;
      return true;
    case 'or':
      for (const c of e.children) if (evaluate(c, ev)) return true;
      return false;
    case 'not':
      return !evaluate(e.child, ev);
    case 'const':
      return e.value;
    case 'check':
      return check(e, ev);
  }
}

/** Evaluate one condition against one event context. */
export function evaluateCondition(e: TExpr, ctx: EventContext): boolean {
  return evaluate(e, new Evaluation(ctx));
}

function check(c: TCheck, ev: Evaluation): boolean {
  const lhs = ev.value(c.lhs);
  if (c.op === 'exists') return lhs !== undefined && (!Array.isArray(lhs) || lhs.length > 0);
  if (lhs === undefined) return false;
  let rhs: readonly (TValue | Scalar)[];
  if (c.rhs.kind === 'field') {
    const r = ev.value(c.rhs.field);
    if (r === undefined) return false;
    rhs = Array.isArray(r) ? r : [r];
  } else if (c.rhs.kind === 'values') rhs = c.rhs.values;
  else return false;
  if (!Array.isArray(lhs)) return checkOne(c, lhs, rhs);
  // multi-valued fields, any value satisfying the check makes it hold; `!=` holds when no
  // value is equal (libsinsp compare_ip: fd.ip != X means neither end is X)
  if (c.op === '!=' && c.modifier === undefined) {
    const r = rhs[0];
    return r !== undefined && !lhs.some((v) => compare('=', v, r));
  }
  for (const v of lhs) if (checkOne(c, v, rhs)) return true;
  return false;
}

function checkOne(c: TCheck, v: Scalar, rhs: readonly (TValue | Scalar)[]): boolean {
  if (c.modifier !== undefined) {
    let n = 0;
    for (const r of rhs) if (compare(c.op, v, r)) n++;
    if (c.modifier === 'anyof') return n > 0;
    if (c.modifier === 'allof') return n === rhs.length;
    return n === 1;
  }
  switch (c.op) {
    case 'in':
    case 'intersects': {
      // string lists: a set lookup (built once per check) instead of a scan
      const set = typeof v === 'string' && c.rhs.kind === 'values' ? stringSet(c) : undefined;
      if (set !== undefined) return set.has(v as string);
      for (const r of rhs) if (compare('=', v, r)) return true;
      return false;
    }
    case 'pmatch':
      for (const r of rhs) if (pathMatch(v, r)) return true;
      return false;
    default: {
      const r = rhs[0];
      return r !== undefined && compare(c.op, v, r);
    }
  }
}

const stringSets = new WeakMap<TCheck, Set<string> | null>();

function stringSet(c: TCheck): Set<string> | undefined {
  let set = stringSets.get(c);
  if (set === undefined) {
    set = c.rhs.kind === 'values' && c.rhs.values.every((x) => x.kind === 'string') ? new Set(c.rhs.values.map((x) => (x.kind === 'string' ? x.value : ''))) : null;
    stringSets.set(c, set);
  }
  return set ?? undefined;
}

function asString(v: Scalar): string {
  return typeof v === 'string' ? v : v instanceof Uint8Array ? latin1.decode(v) : String(v);
}

function asNumber(v: Scalar): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return Number(v);
  return undefined;
}

function isTValue(r: TValue | Scalar): r is TValue {
  return typeof r === 'object' && !(r instanceof Uint8Array) && r !== null && 'kind' in r;
}

function compare(op: Operator, v: Scalar, r: TValue | Scalar): boolean {
  if (op === '!=') return !compare('=', v, r);
  if (!isTValue(r)) return compareScalars(op, v, r);
  switch (r.kind) {
    case 'string':
      return compareStrings(op, asString(v), r.value);
    case 'pattern':
      return r.re.test(asString(v));
    case 'number': {
      const n = asNumber(v);
      return n !== undefined && compareNumbers(op, n, r.value);
    }
    case 'bool':
      return (op === '=' || op === '==') && v === r.value;
    case 'ip':
      return (op === '=' || op === '==') && v instanceof Uint8Array && ipEquals(v, r.bytes);
    case 'net':
      return (op === '=' || op === '==') && v instanceof Uint8Array && inNet(v, r.bytes, r.prefix);
    case 'bytes': {
      const hay = typeof v === 'string' ? utf8.encode(v) : v instanceof Uint8Array ? v : utf8.encode(String(v));
      return op === 'bstartswith' ? indexOfBytes(hay, r.bytes) === 0 : indexOfBytes(hay, r.bytes) >= 0;
    }
  }
}

/** val(field) comparisons: both sides are extracted values. */
function compareScalars(op: Operator, v: Scalar, r: Scalar): boolean {
  if (v instanceof Uint8Array && r instanceof Uint8Array) return (op === '=' || op === '==' || op === 'in' || op === 'intersects') && ipEquals(v, r);
  const a = asNumber(v);
  const b = asNumber(r);
  if (typeof v !== 'string' && a !== undefined && b !== undefined) return compareNumbers(op, a, b);
  const rs = asString(r);
  if (op === 'glob' || op === 'iglob') return globToRegExp(rs, op === 'iglob').test(asString(v));
  if (op === 'in' || op === 'intersects') return asString(v) === rs;
  return compareStrings(op, asString(v), rs);
}

function compareStrings(op: Operator, a: string, b: string): boolean {
  switch (op) {
    case '=':
    case '==':
    case 'in':
    case 'intersects':
      return a === b;
    case 'contains':
      return a.includes(b);
    case 'icontains':
      return a.toLowerCase().includes(b.toLowerCase());
    case 'startswith':
      return a.startsWith(b);
    case 'endswith':
      return a.endsWith(b);
    case 'bcontains':
      return a.includes(b);
    case 'bstartswith':
      return a.startsWith(b);
    default:
      return false;
  }
}

function compareNumbers(op: Operator, a: number, b: number): boolean {
  switch (op) {
    case '=':
    case '==':
    case 'in':
    case 'intersects':
      return a === b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    default:
      return false;
  }
}

function indexOfBytes(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/**
 * pmatch: the value is the pattern path or lies below it, compared per path component
 * (`/tmp/hello` matches `/tmp/hello/x`, not `/tmp/hello_x`); components may be globs.
 */
export function pathMatch(v: Scalar, r: TValue | Scalar): boolean {
  const path = asString(v);
  const pattern = isTValue(r) ? (r.kind === 'string' ? r.value : r.kind === 'pattern' ? r.text : '') : asString(r);
  const pat = pattern.split('/').filter((s, i) => s !== '' || i === 0);
  if (pat.length > 1 && pat[pat.length - 1] === '') pat.pop();
  const parts = path.split('/');
  if (parts.length < pat.length) return false;
  for (let i = 0; i < pat.length; i++) {
    const p = pat[i] as string;
    const s = parts[i] as string;
    if (hasGlobMeta(p) ? !globToRegExp(p).test(s) : p !== s) return false;
  }
  return true;
}

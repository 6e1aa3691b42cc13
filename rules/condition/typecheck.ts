// Type checking: a parsed condition (lists already substituted) becomes a typed condition.
// Macro references are replaced by the macro's typed tree (AST substitution), fields are looked
// up in the catalog, operators checked against field types (libsinsp flt_is_comparable) and
// RHS strings converted to the field's type. Errors are collected, each with a file position.

import type {
  CheckNode, Expr, FieldExprNode, Operator, Origin, RhsNode, SourceLoc, TCheck, TConst, TExpr,
  TFieldExpr, TRhs, TValue, ValueNode,
} from './ast.js';
import { FIELDS, lookupField } from '../fields/catalog.js';
import type { FieldDef, FieldType } from '../fields/types.js';
import { isEventType, EVENT_TYPE_NAMES } from '../fields/evttypes.js';
import { parseCidr, parseIp } from '../util/ip.js';
import { didYouMean } from '../util/suggest.js';
import { TypingError, type DiagCode } from '../loader/diag.js';
import { globToRegExp } from '../util/glob.js';

export interface MacroRef {
  /** undefined when the macro itself failed to type-check */
  expr: TExpr | undefined;
}

export interface TypeEnv {
  locAt(offset: number): SourceLoc;
  origin: Omit<Origin, 'loc'>;
  /** a macro visible here, or undefined */
  macro(name: string): MacroRef | undefined;
  /** all macro names (for suggestions; including invisible ones, to explain visibility) */
  allMacros(): Iterable<string>;
  /** is `name` a macro defined later (invisible here)? */
  isLaterMacro(name: string): boolean;
  /** is `name` a list? (a list name left after substitution means it was misused) */
  isList(name: string): boolean;
  warn(code: DiagCode, message: string, loc: SourceLoc): void;
}

export interface TypeResult {
  expr: TExpr | undefined;
  errors: TypingError[];
  /** macros referenced directly */
  macros: Set<string>;
}

const NUMERIC: ReadonlySet<FieldType> = new Set(['u64', 'i64', 'port', 'reltime', 'abstime']);
const STRINGY: ReadonlySet<FieldType> = new Set(['string', 'strlist']);

/** Operators each type family accepts (flt_is_comparable). */
function opAllowed(t: FieldType, op: Operator): boolean {
  if (op === 'exists') return true;
  if (STRINGY.has(t)) return !['<', '<=', '>', '>='].includes(op);
  if (NUMERIC.has(t)) return ['=', '==', '!=', '<', '<=', '>', '>=', 'in', 'intersects'].includes(op);
  if (t === 'bool') return ['=', '==', '!=', 'in'].includes(op);
  if (t === 'ipaddr' || t === 'ipnet') return ['=', '==', '!=', 'in', 'intersects'].includes(op);
  if (t === 'bytes') return ['=', '==', '!=', 'bcontains', 'bstartswith', 'contains', 'startswith'].includes(op);
  return false;
}

function typeLabel(t: FieldType): string {
  return t === 'u64' || t === 'i64' ? 'a number' : t === 'strlist' ? 'a list of strings' : t === 'ipaddr' ? 'an IP address' : t === 'ipnet' ? 'an IP address (matched against networks)' : t === 'reltime' ? 'a duration in ns' : t === 'abstime' ? 'a timestamp in ns' : `a ${t}`;
}

export function typeCondition(parsed: Expr, env: TypeEnv): TypeResult {
  const errors: TypingError[] = [];
  const macros = new Set<string>();

  const origin = (offset: number): Origin => ({ ...env.origin, loc: env.locAt(offset) });
  const fail = (code: DiagCode, message: string, offset: number): undefined => {
    errors.push(new TypingError(code, message, env.locAt(offset)));
    return undefined;
  };

  const walk = (e: Expr): TExpr | undefined => {
    switch (e.kind) {
      case 'and':
      case 'or': {
        const children = e.children.map(walk);
        if (children.some((c) => c === undefined)) return undefined;
        return { kind: e.kind, children: children as TExpr[] };
      }
      case 'not': {
        const child = walk(e.child);
        return child === undefined ? undefined : { kind: 'not', child };
      }
      case 'macro': {
        const m = env.macro(e.name);
        if (m === undefined) {
          if (env.isList(e.name)) return fail('list-as-value', `list '${e.name}' used where a condition is needed`, e.span.start);
          if (env.isLaterMacro(e.name)) {
            return fail('undefined-macro', `macro '${e.name}' is used before it is defined (a macro only sees macros defined before it)`, e.span.start);
          }
          return fail('undefined-macro', `undefined macro '${e.name}' used in filter${didYouMean(e.name, env.allMacros())}`, e.span.start);
        }
        macros.add(e.name);
        return m.expr;
      }
      case 'check':
        return typeCheck(e);
    }
  };

  const typeFieldExpr = (f: FieldExprNode): TFieldExpr | undefined => {
    if (f.kind === 'transform') {
      const inner = typeFieldExpr(f.arg);
      if (inner === undefined) return undefined;
      if (f.fn === 'len') {
        if (!STRINGY.has(inner.type) && inner.type !== 'bytes') return fail('type', `len() needs a string, list or bytes field, not ${typeLabel(inner.type)}`, f.span.start);
        return { kind: 'transform', fn: f.fn, arg: inner, type: 'u64', anyOf: inner.anyOf };
      }
      if (!STRINGY.has(inner.type)) return fail('type', `${f.fn}() needs a string field, not ${typeLabel(inner.type)}`, f.span.start);
      return { kind: 'transform', fn: f.fn, arg: inner, type: inner.type, anyOf: inner.anyOf };
    }
    const found = lookupField(f.name);
    if (found === undefined) {
      return fail('unknown-field', `unknown field '${f.name}'${didYouMean(f.name, FIELDS.keys())}`, f.span.start);
    }
    const def = found.def;
    const rawArg = found.impliedArg ?? f.arg;
    if (found.impliedArg !== undefined && f.arg !== undefined) {
      return fail('field-arg', `field '${f.name}' already names its argument; remove '[${f.arg}]'`, f.span.start);
    }
    if (rawArg === undefined) {
      if (def.arg === 'index' || def.arg === 'key') return fail('field-arg', `field '${f.name}' needs an argument, e.g. ${f.name}[${def.arg === 'index' ? '1' : 'name'}]`, f.span.start);
      return { kind: 'field', def, name: f.name, type: def.type, anyOf: def.multiWithoutArg === true };
    }
    if (def.arg === 'none') return fail('field-arg', `field '${f.name}' does not take an argument`, f.span.start);
    if (def.arg === 'index' || def.arg === 'index-optional') {
      if (!/^\d+$/.test(rawArg)) return fail('field-arg', `the argument of '${f.name}' must be a non-negative integer, not '${rawArg}'`, f.span.start);
      return { kind: 'field', def, name: f.name, arg: { kind: 'index', index: Number(rawArg) }, type: def.type, anyOf: false };
    }
    return { kind: 'field', def, name: f.name, arg: { kind: 'key', key: rawArg }, type: def.type, anyOf: false };
  };

  const typeCheck = (c: CheckNode): TExpr | undefined => {
    const lhs = typeFieldExpr(c.lhs);
    if (lhs === undefined) return undefined;
    // evt.dir: only exit events exist since Falco 0.42, so `<` is always true and `>` never.
    if (lhs.kind === 'field' && lhs.def.name === 'evt.dir') return typeEvtDir(c);
    if (!opAllowed(lhs.type, c.op)) {
      return fail('type', `operator '${c.op}' cannot be used on '${printLhs(c.lhs)}' (${typeLabel(lhs.type)})`, c.span.start);
    }
    if (c.op === 'pmatch' && !STRINGY.has(lhs.type)) return fail('type', `pmatch needs a path field`, c.span.start);
    if (c.modifier !== undefined && (c.op === 'exists' || ['in', 'intersects', 'pmatch'].includes(c.op))) {
      return fail('syntax', `'${c.modifier}' can only follow a comparison operator`, c.span.start);
    }
    const base: Omit<TCheck, 'rhs'> = c.modifier === undefined ? { kind: 'check', lhs, op: c.op, origin: origin(c.span.start) } : { kind: 'check', lhs, op: c.op, modifier: c.modifier, origin: origin(c.span.start) };
    if (c.op === 'exists' || c.rhs === undefined) return { ...base, rhs: { kind: 'none' } };
    const rhs = typeRhs(c, lhs, c.rhs);
    if (rhs === undefined) return undefined;
    return { ...base, rhs };
  };

  const typeEvtDir = (c: CheckNode): TConst | undefined => {
    env.warn('deprecated', `'evt.dir' is deprecated since Falco 0.42 (only exit events exist): 'evt.dir = <' is always true, 'evt.dir = >' always false`, env.locAt(c.span.start));
    const values = c.rhs?.kind === 'value' ? [c.rhs] : c.rhs?.kind === 'list' ? c.rhs.items : undefined;
    if (values === undefined || !['=', '==', '!=', 'in'].includes(c.op)) return fail('type', `evt.dir can only be compared with '<' or '>'`, c.span.start);
    for (const v of values) if (v.value !== '<' && v.value !== '>') return fail('type', `evt.dir is '<' or '>', not '${v.value}'`, v.span.start);
    const hasExit = values.some((v) => v.value === '<');
    return { kind: 'const', value: c.op === '!=' ? !hasExit : hasExit, origin: origin(c.span.start) };
  };

  const typeRhs = (c: CheckNode, lhs: TFieldExpr, r: RhsNode): TRhs | undefined => {
    if (r.kind === 'fieldval') {
      const f = typeFieldExpr(r.field);
      if (f === undefined) return undefined;
      if (family(f.type) !== family(lhs.type)) {
        return fail('type', `cannot compare ${typeLabel(lhs.type)} with '${printLhs(r.field)}' (${typeLabel(f.type)})`, r.span.start);
      }
      return { kind: 'field', field: f };
    }
    const isListOp = c.op === 'in' || c.op === 'intersects' || c.op === 'pmatch' || c.modifier !== undefined;
    if (isListOp && r.kind !== 'list') return fail('syntax', `operator '${c.op}${c.modifier !== undefined ? ' ' + c.modifier : ''}' needs a list '(...)'`, r.span.start);
    if (!isListOp && r.kind === 'list') return fail('syntax', `operator '${c.op}' takes one value, not a list`, r.span.start);
    const items = r.kind === 'list' ? r.items : [r];
    const values: TValue[] = [];
    for (const v of items) {
      const tv = convert(c, lhs, v);
      if (tv === undefined) return undefined;
      values.push(tv);
    }
    return { kind: 'values', values, list: r.kind === 'list' };
  };

  const convert = (c: CheckNode, lhs: TFieldExpr, v: ValueNode): TValue | undefined => {
    const t = lhs.type;
    const where = `'${printLhs(c.lhs)}' is ${typeLabel(t)}`;
    if (v.value === '<NA>') env.warn('na-check', `comparing with '<NA>' is unsafe: a missing value never equals it`, env.locAt(v.span.start));
    if (lhs.kind === 'field' && lhs.def.name === 'evt.type' && ['=', '==', '!=', 'in', 'intersects'].includes(c.op)) {
      if (!isEventType(v.value)) return fail('unknown-evttype', `unknown event type '${v.value}'${didYouMean(v.value, EVENT_TYPE_NAMES)}`, v.span.start);
    }
    if (c.op === 'bcontains' || c.op === 'bstartswith') {
      if (!/^([0-9a-fA-F]{2})+$/.test(v.value)) return fail('type', `${c.op} needs hex bytes (e.g. CAFEBABE), not '${v.value}'`, v.span.start);
      const bytes = new Uint8Array(v.value.length / 2);
      for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(v.value.slice(i * 2, i * 2 + 2), 16);
      return { kind: 'bytes', bytes, text: v.value };
    }
    if (STRINGY.has(t) || t === 'bytes') {
      if (c.op === 'glob' || c.op === 'iglob') return { kind: 'pattern', text: v.value, re: globToRegExp(v.value, c.op === 'iglob') };
      if (c.op === 'regex') {
        try {
          return { kind: 'pattern', text: v.value, re: new RegExp(`^(?:${v.value})$`, 's') };
        } catch (e) {
          return fail('type', `invalid regular expression '${v.value}': ${e instanceof Error ? e.message : String(e)}`, v.span.start);
        }
      }
      return { kind: 'string', value: v.value };
    }
    if (c.op === 'glob' || c.op === 'iglob' || c.op === 'regex' || c.op === 'contains' || c.op === 'startswith' || c.op === 'endswith') {
      return fail('type', `operator '${c.op}' cannot be used on ${where}`, c.span.start);
    }
    if (NUMERIC.has(t)) {
      const n = parseNumber(v.value);
      if (n === undefined) return fail('type', `'${v.value}' is not a number (${where})`, v.span.start);
      if (t === 'port' && (n < 0 || n > 65535 || !Number.isInteger(n))) return fail('type', `'${v.value}' is not a port number 0..65535 (${where})`, v.span.start);
      if (t !== 'i64' && n < 0) return fail('type', `'${v.value}' is negative but ${where} without sign`, v.span.start);
      return { kind: 'number', value: n, text: v.value };
    }
    if (t === 'bool') {
      const s = v.value.toLowerCase();
      if (s !== 'true' && s !== 'false') return fail('type', `'${v.value}' is not true or false (${where})`, v.span.start);
      return { kind: 'bool', value: s === 'true' };
    }
    if (t === 'ipaddr') {
      const ip = parseIp(v.value);
      if (ip === undefined) return fail('type', `'${v.value}' is not an IP address (${where})`, v.span.start);
      return { kind: 'ip', bytes: ip, text: v.value };
    }
    if (t === 'ipnet') {
      const net = parseCidr(v.value);
      if (net === undefined) return fail('type', `'${v.value}' is not an IP network like 10.0.0.0/8 (${where})`, v.span.start);
      return { kind: 'net', bytes: net.bytes, prefix: net.prefix, text: v.value };
    }
    return fail('type', `cannot compare ${where} with '${v.value}'`, v.span.start);
  };

  const expr = walk(parsed);
  return { expr: errors.length === 0 ? expr : undefined, errors, macros };
}

function family(t: FieldType): string {
  if (NUMERIC.has(t)) return 'number';
  if (STRINGY.has(t)) return 'string';
  if (t === 'ipaddr' || t === 'ipnet') return 'ip';
  return t;
}

/** Integers (decimal, hex); floats only when integral (Falco's NumValue allows them). */
export function parseNumber(s: string): number | undefined {
  if (/^0[xX][0-9a-fA-F]+$/.test(s)) return parseInt(s.slice(2), 16);
  if (!/^[+-]?[0-9]+\.?[0-9]*(?:[eE][+-]?[0-9]+)?$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isFinite(n) && Number.isInteger(n) ? n : undefined;
}

function printLhs(f: FieldExprNode): string {
  if (f.kind === 'transform') return `${f.fn}(${printLhs(f.arg)})`;
  return f.arg === undefined ? f.name : `${f.name}[${f.arg}]`;
}

/** For docs and tooling: the catalog entry of a field name, if any. */
export function fieldDef(name: string): FieldDef | undefined {
  return lookupField(name)?.def;
}

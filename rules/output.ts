// Output rendering (libsinsp eventformatter): `%field`, `%field[arg]`, `%tolower(field)` (any
// transformer), `%%` for a percent sign; a field without a value prints `<NA>`. Pure apart from
// the host name. The alert engine reuses `renderOutput` and `outputFields`.

import type { EventContext } from '../collectors/snapshot.js';
import { TRANSFORMERS, type FieldArg, type TFieldExpr, type TransformerName } from './condition/ast.js';
import { lookupField } from './fields/catalog.js';
import { Evaluation } from './eval/evaluate.js';
import { formatTime, type Extracted, type Scalar } from './eval/extract.js';
import { ipToString } from './util/ip.js';

export type OutputToken =
  | { kind: 'text'; text: string }
  | { kind: 'field'; /** as written: `proc.aname[2]`, `tolower(proc.name)` */ key: string; field: TFieldExpr };

export interface ParsedOutput {
  tokens: OutputToken[];
  /** fields that are not in the catalog (with their offset in the format) */
  unknown: { name: string; offset: number }[];
}

const NAME = /[a-zA-Z][a-zA-Z0-9_]*(?:\.[a-zA-Z0-9_]+)*/y;
const cache = new Map<string, ParsedOutput>();

export function parseOutput(format: string): ParsedOutput {
  const hit = cache.get(format);
  if (hit !== undefined) return hit;
  const tokens: OutputToken[] = [];
  const unknown: { name: string; offset: number }[] = [];
  let text = '';
  let i = 0;
  const flush = (): void => {
    if (text !== '') tokens.push({ kind: 'text', text });
    text = '';
  };
  while (i < format.length) {
    const c = format[i] as string;
    if (c !== '%') {
      text += c;
      i++;
      continue;
    }
    if (format[i + 1] === '%') {
      text += '%';
      i += 2;
      continue;
    }
    const start = i;
    let j = i + 1;
    // %tolower(field)
    const fn = TRANSFORMERS.find((t) => format.startsWith(t + '(', j));
    if (fn !== undefined) j += fn.length + 1;
    NAME.lastIndex = j;
    const m = NAME.exec(format);
    if (m === null) {
      text += '%';
      i++;
      continue;
    }
    // longest known field name: back off `.segment`s that are sentence punctuation or text
    let name = m[0];
    while (lookupField(name) === undefined && name.includes('.') && lookupField(name.slice(0, name.lastIndexOf('.'))) !== undefined) {
      name = name.slice(0, name.lastIndexOf('.'));
    }
    j += name.length;
    let arg: string | undefined;
    if (format[j] === '[') {
      const close = format.indexOf(']', j);
      if (close > j) {
        arg = format.slice(j + 1, close);
        j = close + 1;
      }
    }
    if (fn !== undefined) {
      if (format[j] === ')') j++;
    }
    const key = format.slice(start + 1, j);
    const field = resolve(name, arg, fn);
    if (field === undefined) {
      unknown.push({ name: name + (arg !== undefined ? `[${arg}]` : ''), offset: start });
      text += format.slice(start, j);
    } else {
      flush();
      tokens.push({ kind: 'field', key, field });
    }
    i = j;
  }
  flush();
  const out = { tokens, unknown };
  cache.set(format, out);
  return out;
}

function resolve(name: string, rawArg: string | undefined, fn: TransformerName | undefined): TFieldExpr | undefined {
  const found = lookupField(name);
  if (found === undefined) return undefined;
  const def = found.def;
  const argText = found.impliedArg ?? rawArg;
  let arg: FieldArg | undefined;
  if (argText !== undefined) arg = /^\d+$/.test(argText) && def.arg.startsWith('index') ? { kind: 'index', index: Number(argText) } : { kind: 'key', key: argText };
  const field: TFieldExpr = arg === undefined
    ? { kind: 'field', def, name, type: def.type, anyOf: def.multiWithoutArg === true }
    : { kind: 'field', def, name, arg, type: def.type, anyOf: false };
  return fn === undefined ? field : { kind: 'transform', fn, arg: field, type: fn === 'len' ? 'u64' : field.type, anyOf: field.anyOf };
}

function baseName(f: TFieldExpr): string {
  return f.kind === 'field' ? f.def.name : baseName(f.arg);
}

/** A value as Falco prints it. */
export function formatValue(f: TFieldExpr, v: Extracted): string {
  if (v === undefined) return '<NA>';
  if (Array.isArray(v)) return v.length === 0 ? '<NA>' : v.map((x) => formatScalar(f, x)).join(',');
  return formatScalar(f, v);
}

function formatScalar(f: TFieldExpr, v: Scalar): string {
  if (v instanceof Uint8Array) return ipToString(v);
  if (typeof v === 'bigint') return baseName(f) === 'evt.time' ? formatTime(v).hms : v.toString();
  return String(v);
}

/** Render an output format for one event. */
export function renderOutput(format: string, ctx: EventContext, evaluation?: Evaluation): string {
  const parsed = parseOutput(format);
  const ev = evaluation ?? new Evaluation(ctx);
  let out = '';
  for (const t of parsed.tokens) out += t.kind === 'text' ? t.text : formatValue(t.field, ev.value(t.field));
  return out.trim();
}

export type OutputFieldValue = string | number | boolean | null;

/** Falco's `output_fields`: every %field of the format, typed (numbers as numbers, missing as null). */
export function outputFields(format: string, ctx: EventContext, evaluation?: Evaluation): Record<string, OutputFieldValue> {
  const parsed = parseOutput(format);
  const ev = evaluation ?? new Evaluation(ctx);
  const out: Record<string, OutputFieldValue> = {};
  for (const t of parsed.tokens) {
    if (t.kind !== 'field') continue;
    const v = ev.value(t.field);
    if (v === undefined || (Array.isArray(v) && v.length === 0)) out[t.key] = null;
    else if (typeof v === 'number' || typeof v === 'boolean') out[t.key] = v;
    else out[t.key] = formatValue(t.field, v);
  }
  return out;
}

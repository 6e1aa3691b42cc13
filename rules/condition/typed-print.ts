// Print a typed condition in Falco syntax (after macro and list expansion), for tooling,
// `kestrel rules compile` and tests.

import type { TExpr, TFieldExpr, TRhs, TValue } from './ast.js';
import { printValue } from './printer.js';

export function printTyped(e: TExpr | undefined): string {
  if (e === undefined) return '<invalid>';
  switch (e.kind) {
    case 'and':
    case 'or':
      return e.children.map((c) => (c.kind === 'and' || c.kind === 'or' ? `(${printTyped(c)})` : printTyped(c))).join(` ${e.kind} `);
    case 'not':
      return e.child.kind === 'and' || e.child.kind === 'or' ? `not (${printTyped(e.child)})` : `not ${printTyped(e.child)}`;
    case 'const':
      return e.value ? 'true' : 'false';
    case 'check': {
      const lhs = printTypedField(e.lhs);
      if (e.op === 'exists') return `${lhs} exists`;
      const mod = e.modifier !== undefined ? ` ${e.modifier}` : '';
      return `${lhs} ${e.op}${mod} ${printRhs(e.rhs)}`;
    }
  }
}

export function printTypedField(f: TFieldExpr): string {
  if (f.kind === 'transform') return `${f.fn}(${printTypedField(f.arg)})`;
  if (f.arg === undefined || f.name !== f.def.name) return f.name;
  return `${f.name}[${f.arg.kind === 'index' ? f.arg.index : f.arg.key}]`;
}

function printRhs(r: TRhs): string {
  if (r.kind === 'none') return '';
  if (r.kind === 'field') return `val(${printTypedField(r.field)})`;
  const vals = r.values.map(printTValue);
  return r.list ? `(${vals.join(', ')})` : (vals[0] ?? '""');
}

export function printTValue(v: TValue): string {
  switch (v.kind) {
    case 'string':
      return printValue(v.value);
    case 'number':
      return v.text;
    case 'bool':
      return v.value ? 'true' : 'false';
    default:
      return printValue(v.text);
  }
}

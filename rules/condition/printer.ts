// Print a parsed condition back to Falco syntax. Nested and/or are always parenthesised so
// that parsing the output gives the same tree (property-tested in printer.test.ts).

import type { Expr, FieldExprNode, RhsNode, ValueNode } from './ast.js';
import { BARE_STR, quote } from './escape.js';

export function printCondition(e: Expr): string {
  switch (e.kind) {
    case 'and':
    case 'or':
      return e.children.map((c) => (c.kind === 'and' || c.kind === 'or' ? `(${printCondition(c)})` : printCondition(c))).join(` ${e.kind} `);
    case 'not':
      return e.child.kind === 'and' || e.child.kind === 'or' ? `not (${printCondition(e.child)})` : `not ${printCondition(e.child)}`;
    case 'macro':
      return e.name;
    case 'check': {
      const lhs = printFieldExpr(e.lhs);
      if (e.op === 'exists' || e.rhs === undefined) return `${lhs} exists`;
      const mod = e.modifier !== undefined ? ` ${e.modifier}` : '';
      return `${lhs} ${e.op}${mod} ${printRhs(e.rhs)}`;
    }
  }
}

export function printFieldExpr(f: FieldExprNode): string {
  if (f.kind === 'transform') return `${f.fn}(${printFieldExpr(f.arg)})`;
  if (f.arg === undefined) return f.name;
  return /^[^\][\"'\s]+$/.test(f.arg) ? `${f.name}[${f.arg}]` : `${f.name}[${quote(f.arg)}]`;
}

function printRhs(r: RhsNode): string {
  switch (r.kind) {
    case 'value':
      return printValue(r);
    case 'list':
      return `(${r.items.map(printValue).join(', ')})`;
    case 'fieldval':
      return r.val ? `val(${printFieldExpr(r.field)})` : printFieldExpr(r.field);
  }
}

// `= anyof ...` would read as a modifier, so these words are always quoted.
const MODIFIER_WORDS = new Set(['oneof', 'anyof', 'allof']);

export function printValue(v: ValueNode | string): string {
  const s = typeof v === 'string' ? v : v.value;
  const quoted = typeof v !== 'string' && v.quoted;
  return !quoted && BARE_STR.test(s) && !MODIFIER_WORDS.has(s) ? s : quote(s);
}

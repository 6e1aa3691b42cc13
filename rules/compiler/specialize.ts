// Specialise a typed condition for one hook before code generation: checks whose outcome the
// hook decides (evt.type on connect, fields that have no value on this hook) become constants,
// and and/or/not fold around them. Dead branches — `evt.type in (sendto, sendmsg) and
// fd.l4proto != tcp` on the connect hook — disappear before the compiler sees their fields.

import type { TExpr, TValue } from '../condition/ast.js';
import type { Hook } from '../fields/types.js';
import { orderConjuncts } from './guard.js';

function strValues(values: readonly TValue[]): string[] {
  return values.map((v) => (v.kind === 'string' ? v.value : v.kind === 'number' ? v.text : v.kind === 'bool' ? String(v.value) : ''));
}

/** The event types a hook's program sees. */
const HOOK_TYPES: Record<Hook, readonly string[]> = { exec: ['execve', 'execveat'], connect: ['connect'] };

function evtTypeHolds(op: string, type: string, values: readonly TValue[]): boolean | undefined {
  const s = strValues(values);
  switch (op) {
    case '=':
    case '==':
    case 'in':
      return s.includes(type);
    case '!=':
      return !s.includes(type);
    default:
      return undefined;
  }
}

const c = (value: boolean): TExpr => ({ kind: 'const', value, origin: { kind: 'rule', name: '' } });

export function specialize(e: TExpr, hook: Hook): TExpr {
  switch (e.kind) {
    case 'const':
      return e;
    case 'not': {
      const inner = specialize(e.child, hook);
      return inner.kind === 'const' ? c(!inner.value) : { kind: 'not', child: inner };
    }
    case 'and': {
      const kids: TExpr[] = [];
      for (const k of e.children) {
        const s = specialize(k, hook);
        if (s.kind === 'const') {
          if (!s.value) return c(false);
          continue;
        }
        kids.push(s);
      }
      if (kids.length === 0) return c(true);
      if (kids.length === 1) return kids[0];
      // The conjunct most likely to fail for its cost first (guard.ts's model: expected cost
      // per rejection, cost / (1 - p)); a condition without side effects may be tested in any
      // order. Most rules then fail on the process name or a port before any lookup.
      return { kind: 'and', children: orderConjuncts(kids) };
    }
    case 'or': {
      const kids: TExpr[] = [];
      for (const k of e.children) {
        const s = specialize(k, hook);
        if (s.kind === 'const') {
          if (s.value) return c(true);
          continue;
        }
        kids.push(s);
      }
      return kids.length === 0 ? c(false) : kids.length === 1 ? kids[0] : { kind: 'or', children: kids };
    }
    case 'check': {
      if (e.lhs.kind !== 'field') return e;
      const name = e.lhs.def.name;
      if ((name === 'evt.type' || name === 'syscall.type') && e.rhs.kind === 'values' && e.modifier === undefined) {
        const results = HOOK_TYPES[hook].map((t) => evtTypeHolds(e.op, t, e.rhs.kind === 'values' ? e.rhs.values : []));
        if (results.every((r) => r === true)) return c(true);
        if (results.every((r) => r === false)) return c(false);
        return e;
      }
      // A field with no value on this hook: every comparison is false, `exists` too.
      const applies = e.lhs.def.applies;
      if (applies === 'none' || (applies !== 'both' && applies !== hook)) return c(false);
      return e;
    }
  }
}

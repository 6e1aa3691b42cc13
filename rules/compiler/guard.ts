// Guards: for each rule, a cheap condition that must hold whenever the rule's condition holds.
// The program tests every rule's guard first, in one contiguous stretch of code, and runs the
// full conditions of the few rules whose guard held (program.ts). The guard is picked with a
// rough model of how often a check holds on ordinary events and what it costs: most of
// Falco's rules come down to a process-name check that almost never holds, while the conjunct
// they start with (`container.id != host`, `evt.res = SUCCESS`) almost always does.

import type { TCheck, TExpr } from '../condition/ast.js';
import { selective } from './specialize.js';

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
const HEAVY_FIELD = /^fd\.(ip|net|sip|cip|snet|cnet|lip|rip|lnet|rnet)(\.name)?$/;

function checkGuard(c: TCheck): Guard {
  const name = c.lhs.kind === 'field' ? c.lhs.name : '';
  if (selective(c)) return { expr: c, p: 0.02, cost: 1 };
  const cost = WALK_OPS.has(c.op) ? 3 : HEAVY_FIELD.test(name) ? 2 : 1;
  let p: number;
  if (c.modifier !== undefined || c.rhs.kind === 'field') p = 0.5;
  else if (c.op === 'exists') p = 0.9;
  else if (c.op === '!=') p = 0.95;
  else if (c.op === '<' || c.op === '<=' || c.op === '>' || c.op === '>=') p = 0.5;
  else if (c.rhs.kind === 'values' && c.rhs.values.length === 0) p = 0;
  else if (SMALL_DOMAIN.has(name)) p = 0.5;
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

/** Guards that hold for at least this share of events filter nothing worth a second test. */
export const USELESS_GUARD = 0.9;

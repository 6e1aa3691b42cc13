import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseCondition } from './parser.js';
import { printCondition } from './printer.js';
import { BARE_STR } from './escape.js';
import { strip } from './strip.js';
import { NUM_OPS, STR_OPS, LIST_OPS, MODIFIERS, TRANSFORMERS } from './ast.js';

// Trees without spans, built so that each one is a tree the parser can produce.
const Z = { start: 0, end: 0 };
type Node = Record<string, unknown>;

const KEYWORDS = new Set(['and', 'or', 'not']);
const ident = fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9_]{0,8}$/).filter((s) => !KEYWORDS.has(s));
const fieldName = fc.constantFrom('proc.name', 'proc.aname', 'fd.sip.name', 'evt.arg.flags', 'k8s.pod.label', 'container.image.repository');
const fieldArg = fc.option(fc.string({ unit: 'binary', minLength: 1, maxLength: 6 }), { nil: undefined });

const field = fc.tuple(fieldName, fieldArg).map(([name, arg]): Node => (arg === undefined ? { kind: 'field', name, span: Z } : { kind: 'field', name, arg, span: Z }));
const fieldExpr: fc.Arbitrary<Node> = fc.letrec<{ fx: Node }>((tie) => ({
  fx: fc.oneof({ depthSize: 'small', withCrossShrink: true }, field, fc.record({ kind: fc.constant('transform'), fn: fc.constantFrom(...TRANSFORMERS), arg: tie('fx'), span: fc.constant(Z) })),
})).fx;

const MOD_WORDS = new Set<string>(MODIFIERS);
const value = fc.tuple(fc.string({ unit: 'binary', maxLength: 8 }), fc.boolean()).map(([v, q]): Node => ({
  kind: 'value',
  value: v,
  quoted: q || !BARE_STR.test(v) || MOD_WORDS.has(v),
  span: Z,
}));
const numValue = fc.integer({ min: -100000, max: 100000 }).map((n): Node => ({ kind: 'value', value: String(n), quoted: false, span: Z }));
const list = fc.array(value, { maxLength: 4 }).map((items): Node => ({ kind: 'list', items, span: Z }));
const fieldVal = fc.oneof(
  fieldExpr.map((f): Node => ({ kind: 'fieldval', field: f, val: true, span: Z })),
  fc.record({ kind: fc.constant('transform'), fn: fc.constantFrom(...TRANSFORMERS), arg: field, span: fc.constant(Z) }).map((f): Node => ({ kind: 'fieldval', field: f, val: false, span: Z })),
);

const check: fc.Arbitrary<Node> = fc.oneof(
  fieldExpr.map((lhs): Node => ({ kind: 'check', lhs, op: 'exists', span: Z })),
  fc.tuple(fieldExpr, fc.constantFrom(...NUM_OPS), fc.oneof(numValue, fieldVal)).map(([lhs, op, rhs]): Node => ({ kind: 'check', lhs, op, rhs, span: Z })),
  fc.tuple(fieldExpr, fc.constantFrom(...STR_OPS), fc.oneof(value, fieldVal)).map(([lhs, op, rhs]): Node => ({ kind: 'check', lhs, op, rhs, span: Z })),
  fc.tuple(fieldExpr, fc.constantFrom(...STR_OPS), fc.constantFrom(...MODIFIERS), list).map(([lhs, op, modifier, rhs]): Node => ({ kind: 'check', lhs, op, modifier, rhs, span: Z })),
  fc.tuple(fieldExpr, fc.constantFrom(...LIST_OPS), fc.oneof(list, fieldVal)).map(([lhs, op, rhs]): Node => ({ kind: 'check', lhs, op, rhs, span: Z })),
);

const expr: fc.Arbitrary<Node> = fc.letrec<{ e: Node }>((tie) => ({
  e: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    check,
    ident.map((name): Node => ({ kind: 'macro', name, span: Z })),
    fc.record({ kind: fc.constant('not'), child: tie('e'), span: fc.constant(Z) }),
    fc.record({ kind: fc.constantFrom('and', 'or'), children: fc.array(tie('e'), { minLength: 2, maxLength: 3 }), span: fc.constant(Z) }),
  ),
})).e;

describe('printCondition', () => {
  it('print → parse gives the same AST (property)', () => {
    fc.assert(
      fc.property(expr, (e) => {
        const text = printCondition(e as never);
        expect(strip(parseCondition(text))).toEqual(strip(e));
      }),
      { numRuns: 400 },
    );
  });

  it('prints Falco syntax', () => {
    expect(printCondition(parseCondition('proc.name in (bash,"a b") and not fd.sip.name = "x y"'))).toBe('proc.name in (bash, "a b") and not fd.sip.name = "x y"');
    expect(printCondition(parseCondition("proc.aname[2]='sh'"))).toBe('proc.aname[2] = "sh"');
    expect(printCondition(parseCondition('proc.args contains anyof (-e,-c)'))).toBe('proc.args contains anyof (-e, -c)');
  });
});

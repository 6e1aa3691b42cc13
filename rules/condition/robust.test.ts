// Bad input never crashes: any string either parses or fails with a positioned syntax error,
// and the loader turns any condition or output text into diagnostics, never an exception.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseCondition, ConditionSyntaxError } from './parser.js';
import { loadRuleTexts } from '../loader/index.js';

const TOKENS = ['(', ')', ' ', 'and', 'or', 'not', 'proc.name', 'fd.sport', '=', '!=', '<', 'in', 'contains ', 'exists', '"', "'", '\\', ',', 'x', '42', 'tolower(', 'val(', '[', ']', 'anyof', 'evt.type', 'execve', 'pmatch', '\n'];
const tokenSoup = fc.array(fc.constantFrom(...TOKENS), { maxLength: 30 }).map((t) => t.join(''));

describe('robustness', () => {
  it('parser: every input parses or throws ConditionSyntaxError with an in-range offset', () => {
    fc.assert(
      fc.property(fc.oneof(tokenSoup, fc.string({ unit: 'binary', maxLength: 40 })), (s) => {
        try {
          parseCondition(s);
        } catch (e) {
          expect(e).toBeInstanceOf(ConditionSyntaxError);
          const off = (e as ConditionSyntaxError).offset;
          expect(off >= 0 && off <= s.length).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('parser: deep nesting is refused cleanly', () => {
    expect(() => parseCondition('('.repeat(5000) + 'a' + ')'.repeat(5000))).toThrow(ConditionSyntaxError);
    expect(() => parseCondition('not '.repeat(5000) + 'a')).toThrow(/nesting exceeds/);
  });

  it('loader: arbitrary conditions and outputs give diagnostics, not exceptions', () => {
    fc.assert(
      fc.property(tokenSoup, fc.string({ maxLength: 20 }), (cond, output) => {
        const text = `- macro: m\n  condition: ${JSON.stringify(cond)}\n- rule: R\n  desc: d\n  condition: ${JSON.stringify(cond + ' and m')}\n  output: ${JSON.stringify('%' + output)}\n  priority: INFO\n`;
        const s = loadRuleTexts([{ name: 'f.yaml', text }]);
        for (const d of s.errors) expect(d.loc.line).toBeGreaterThan(0);
      }),
      { numRuns: 200 },
    );
  });
});

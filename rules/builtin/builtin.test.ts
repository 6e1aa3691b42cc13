// The built-in rule set loads cleanly, and every built-in rule has a case that fires it and a
// near-miss case that must not, all passing.

import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadRules, formatDiag } from '../loader/index.js';
import { parseTestFile, runCase } from '../testing/runner.js';
import { builtinRulesDir } from '../../config/paths.js';

const dir = builtinRulesDir();
const set = loadRules([dir]);
const testFiles = readdirSync(dir).filter((n) => n.endsWith('.test.yaml')).sort();
const cases = testFiles.flatMap((n) => parseTestFile(n, readFileSync(join(dir, n), 'utf8')));

describe('built-in rules', () => {
  it('load without errors or warnings, all on Kestrel hooks', () => {
    expect(set.errors.map(formatDiag)).toEqual([]);
    expect(set.warnings.map(formatDiag)).toEqual([]);
    expect(set.rules.length).toBeGreaterThanOrEqual(28);
    for (const r of set.rules) {
      expect(r.plan.hooks.length, r.name).toBeGreaterThan(0);
      expect(r.enabled, r.name).toBe(true);
    }
  });

  it('every rule has a firing case and a near-miss case', () => {
    for (const r of set.rules) {
      expect(cases.some((c) => c.expect.includes(r.name)), `${r.name}: firing case`).toBe(true);
      expect(cases.some((c) => c.notExpect.includes(r.name)), `${r.name}: near-miss case`).toBe(true);
    }
  });

  it('all rule-test cases pass', () => {
    const failed = cases.map((c) => runCase(c, set)).filter((r) => !r.passed);
    expect(failed.map((f) => `${f.case.name}: ${f.failures.join('; ')} (fired: ${f.fired.join(', ')})`)).toEqual([]);
  });

  it('a wrong expectation fails', () => {
    const [c] = parseTestFile('x.test.yaml', `
- name: wrong
  events:
    - {type: exec, pid: 1, ppid: 0, exe: /bin/ls, argv: [ls]}
  expect: [Shell in container]
  not_expect: [No such rule]
`);
    if (c === undefined) throw new Error('no case');
    const r = runCase(c, set);
    expect(r.passed).toBe(false);
    expect(r.failures).toEqual(["no rule named 'No such rule' is loaded", "expected 'Shell in container' to fire"]);
  });

  it('output_fields expectations are checked', () => {
    const [c] = parseTestFile('x.test.yaml', `
- name: fields
  events:
    - {type: exec, pid: 1, ppid: 0, exe: /tmp/x, argv: [x]}
  expect: [Binary executed from temporary directory]
  output_fields:
    Binary executed from temporary directory: {proc.exepath: /tmp/y, proc.pname: <NA>, fd.name: x}
    Shell in container: {proc.name: sh}
`);
    if (c === undefined) throw new Error('no case');
    expect(runCase(c, set).failures).toEqual([
      "output_fields: 'Binary executed from temporary directory' shows proc.exepath=/tmp/x, expected /tmp/y",
      "output_fields: 'Binary executed from temporary directory' output has no %fd.name",
      "output_fields: 'Shell in container' did not fire",
    ]);
  });

  it('test-file errors name file:line:column', () => {
    expect(() => parseTestFile('x.test.yaml', '- name: a\n  events:\n    - {type: exec, pid: 1}\n  expect: [R]\n')).toThrow(/^x\.test\.yaml:3:7: case 'a', event 1: missing "exe"/);
    expect(() => parseTestFile('x.test.yaml', '- name: a\n  events: []\n')).toThrow(/^x\.test\.yaml:1:3: case 'a': 'events' must be a non-empty list/);
  });
});

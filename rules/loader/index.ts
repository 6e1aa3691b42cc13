// Loading rule files and folders into a checked rule set. Files load in the order given (a
// folder contributes its *.yaml / *.yml files in name order, rule-test files excluded); later
// files modify earlier definitions as in Falco.

import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { readRulesText } from './read.js';
import { Collector } from './collect.js';
import { compileCollected, type LoadedList, type LoadedMacro, type LoadedRule } from './compile.js';
import { formatDiag, type Diagnostic } from './diag.js';

export interface RuleSet {
  files: string[];
  rules: LoadedRule[];
  macros: LoadedMacro[];
  lists: LoadedList[];
  errors: Diagnostic[];
  warnings: Diagnostic[];
  requiredEngineVersion: string | undefined;
}

export interface SourceFile {
  /** the name used in messages */
  name: string;
  text: string;
}

/** Is this a rule-test file rather than a rules file? */
export function isTestFile(name: string): boolean {
  return /\.test\.ya?ml$/.test(name);
}

/** Expand files and folders into the rules files to load, in order. */
export function expandRulePaths(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    const st = statSync(p);
    if (st.isDirectory()) {
      const names = readdirSync(p).filter((n) => /\.ya?ml$/.test(n) && !isTestFile(n)).sort();
      for (const n of names) out.push(join(p, n));
    } else out.push(p);
  }
  return out;
}

/** Load from texts (tests, stdin). */
export function loadRuleTexts(files: readonly SourceFile[]): RuleSet {
  const collector = new Collector();
  const readDiags: Diagnostic[] = [];
  for (const f of files) {
    const r = readRulesText(f.name, f.text);
    readDiags.push(...r.diags);
    for (const item of r.items) collector.add(item);
  }
  const compiled = compileCollected(collector);
  const all = [...readDiags, ...collector.diags, ...compiled.diags];
  return {
    files: files.map((f) => f.name),
    rules: compiled.rules,
    macros: compiled.macros,
    lists: compiled.lists,
    errors: all.filter((d) => d.severity === 'error'),
    warnings: all.filter((d) => d.severity === 'warning'),
    requiredEngineVersion: collector.requiredEngineVersion,
  };
}

/** Load rules files and folders from disk. I/O errors become diagnostics. */
export function loadRules(paths: readonly string[], cwd = process.cwd()): RuleSet {
  const sources: SourceFile[] = [];
  const ioErrors: Diagnostic[] = [];
  let files: string[] = [];
  try {
    files = expandRulePaths(paths);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    ioErrors.push({ severity: 'error', code: 'io', loc: { file: paths.join(','), line: 1, col: 1 }, message: msg });
  }
  for (const f of files) {
    const name = displayName(f, cwd);
    try {
      sources.push({ name, text: readFileSync(f, 'utf8') });
    } catch (e) {
      ioErrors.push({ severity: 'error', code: 'io', loc: { file: name, line: 1, col: 1 }, message: e instanceof Error ? e.message : String(e) });
    }
  }
  const set = loadRuleTexts(sources);
  set.errors.unshift(...ioErrors);
  return set;
}

function displayName(f: string, cwd: string): string {
  const r = relative(cwd, f);
  return r.startsWith('..') ? f : r;
}

export { formatDiag };
export type { Diagnostic, LoadedRule, LoadedMacro, LoadedList };

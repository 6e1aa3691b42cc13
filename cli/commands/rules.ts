// `kestrel rules validate|list|test|compile`: the rule author's workbench.

import { parseArgs } from 'node:util';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadRules, formatDiag, type RuleSet, type LoadedRule } from '../../rules/loader/index.js';
import { parseTestFile, runCase, TestFileError, type CaseResult } from '../../rules/testing/runner.js';
import { builtinRulesDir, packageRoot } from '../../config/paths.js';
import { compileRuleSet } from '../../rules/compiler/index.js';
import { checkCaseCompiled } from '../../rules/compiler/test-cases.js';
import { loadConfig } from '../../config/load.js';

const USAGE = `usage: kestrel rules <subcommand> [options]

subcommands:
  validate   load and check rule files; per rule, the hooks it needs (exit 1 on errors)
  list       the rules with priority, tags, hooks and enabled state
  test       run rule tests (default: the built-in tests rules/builtin/*.test.yaml)
  compile    compile rules to eBPF (when the compiler is available)

common options:
  -r, --rules PATH   rule file or folder (repeatable; default: config's rules, else built-in)
  -c, --config FILE  kestrel.yaml
      --db FILE      accepted for uniformity (unused)
      --json         one JSON document on stdout
  -h, --help         this help

exit codes: 0 ok, 1 errors / failed tests, 2 usage or input errors`;

interface Common {
  rules: string[];
  json: boolean;
  config?: string;
}

const COMMON_OPTIONS = {
  rules: { type: 'string', short: 'r', multiple: true },
  config: { type: 'string', short: 'c' },
  db: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function out(s: string): void {
  process.stdout.write(s + '\n');
}

function errOut(s: string): void {
  process.stderr.write(s + '\n');
}

/** Rule paths: -r, else the config's `rules` (relative paths also tried from the package root), else built-in. */
function rulePaths(c: Common): string[] {
  if (c.rules.length > 0) return c.rules;
  if (c.config !== undefined) {
    const cfg = loadConfig({ file: c.config }).config;
    return cfg.rules.map((p) => resolveShipped(p));
  }
  return [builtinRulesDir()];
}

function resolveShipped(p: string): string {
  if (p === 'builtin') return builtinRulesDir();
  if (isAbsolute(p) || existsSync(p)) return p;
  const fromRoot = join(packageRoot(), p);
  return existsSync(fromRoot) ? fromRoot : p;
}

export async function run(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    out(USAGE);
    return sub === undefined ? 2 : 0;
  }
  try {
    switch (sub) {
      case 'validate':
        return await validate(rest);
      case 'list':
        return list(rest);
      case 'test':
        return test(rest);
      case 'compile':
        return await compile(rest);
      default:
        errOut(`kestrel rules: unknown subcommand '${sub}'\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    if (e instanceof TypeError && 'code' in e && String((e as { code: unknown }).code).startsWith('ERR_PARSE_ARGS')) {
      errOut(`kestrel rules ${sub}: ${e.message}`);
      return 2;
    }
    if (e instanceof Error && e.name === 'ConfigError') {
      errOut(`kestrel rules ${sub}: ${e.message}`);
      return 2;
    }
    throw e;
  }
}

function parseCommon(args: string[], extra: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean; default?: boolean | string }> = {}) {
  const { values, positionals } = parseArgs({ args, options: { ...COMMON_OPTIONS, ...extra }, allowPositionals: true, strict: true });
  const common: Common = { rules: (values['rules'] as string[] | undefined) ?? [], json: values['json'] === true };
  if (typeof values['config'] === 'string') common.config = values['config'];
  return { values: values as Record<string, unknown>, positionals, common };
}

// ------------------------------------------------------------------ validate

function hookSummary(r: LoadedRule): string {
  if (r.skipped !== undefined) return `skipped: ${r.skipped}`;
  if (r.failed === true) return 'has errors';
  const parts: string[] = [];
  if (r.plan.hooks.length > 0) parts.push(`applies to ${r.plan.hooks.map((h) => (h === 'exec' ? 'execve' : 'connect')).join(' and ')} hooks`);
  if (r.plan.empty && r.plan.hooks.length === 0) parts.push('can never match (empty event-type set)');
  if (r.plan.missing.length > 0) parts.push(`needs event types Kestrel does not have yet: ${r.plan.missing.join(', ')}`);
  if (r.unavailable.length > 0) parts.push(`fields without a value: ${r.unavailable.map((u) => `${u.field} (${u.reason})`).join('; ')}`);
  return parts.join('; ');
}

function counts(set: RuleSet) {
  const rules = set.rules;
  return {
    files: set.files.length,
    rules: rules.length,
    macros: set.macros.length,
    lists: set.lists.length,
    enabled: rules.filter((r) => r.enabled).length,
    exec: rules.filter((r) => r.plan.hooks.includes('exec')).length,
    connect: rules.filter((r) => r.plan.hooks.includes('connect')).length,
    applicable: rules.filter((r) => r.plan.hooks.length > 0).length,
    needMissingEventTypes: rules.filter((r) => r.plan.hooks.length === 0 && r.plan.missing.length > 0).length,
    skipped: rules.filter((r) => r.skipped !== undefined).length,
    failed: rules.filter((r) => r.failed === true).length,
    errors: set.errors.length,
    warnings: set.warnings.length,
  };
}

/** Compile with the rule compiler when it is available: rule name → why it was not compiled. */
async function compileReport(set: RuleSet): Promise<{ ok: boolean; notCompiled: Map<string, string[]>; error?: string }> {
  const notCompiled = new Map<string, string[]>();
  try {
    const mod = await import('../../rules/compiler/index.js');
    const res = mod.compileRuleSet(set);
    for (const u of res.unsupported) notCompiled.set(u.rule, [...(notCompiled.get(u.rule) ?? []), `${u.hook ?? ''}${u.hook !== undefined ? ': ' : ''}${u.reason}`]);
    return { ok: true, notCompiled };
  } catch (e) {
    return { ok: false, notCompiled, error: e instanceof Error ? e.message : String(e) };
  }
}

/** "N of M" enabled rules on Kestrel hooks that the compiler expresses. */
function compiledCount(set: RuleSet, notCompiled: Map<string, string[]>): string {
  const candidates = set.rules.filter((r) => r.enabled && r.expr !== undefined && r.plan.hooks.length > 0);
  return `${candidates.filter((r) => !notCompiled.has(r.name)).length} of ${candidates.length} enabled hook rules`;
}

async function validate(args: string[]): Promise<number> {
  const { values, common } = parseCommon(args, { quiet: { type: 'boolean', short: 'q', default: false }, 'no-compile': { type: 'boolean', default: false } });
  if (values['help'] === true) {
    out('usage: kestrel rules validate [-r PATH...] [-c FILE] [--json] [-q] [--no-compile]\n\nLoad and check rules; print errors and warnings as file:line:column, and per rule the\nKestrel hooks it applies to or the event types it needs that Kestrel lacks, and whether the\nrule compiler can express it. Exit 1 on errors.\n  -q, --quiet     only errors, warnings and counts\n  --no-compile    do not run the rule compiler');
    return 0;
  }
  const set = loadRules(rulePaths(common));
  const c = counts(set);
  const comp = values['no-compile'] === true || set.errors.length > 0 ? undefined : await compileReport(set);
  const compileNote = (r: LoadedRule): string => {
    if (comp === undefined || !comp.ok || r.plan.hooks.length === 0 || r.expr === undefined || !r.enabled) return '';
    const why = comp.notCompiled.get(r.name);
    return why === undefined ? '; compiles to eBPF' : `; the compiler cannot express it yet (${why.join('; ')})`;
  };
  if (common.json) {
    out(JSON.stringify({
      ok: set.errors.length === 0,
      counts: c,
      errors: set.errors.map((d) => ({ ...d, text: formatDiag(d) })),
      warnings: set.warnings.map((d) => ({ ...d, text: formatDiag(d) })),
      rules: set.rules.map((r) => ({
        name: r.name, file: r.loc.file, line: r.loc.line, enabled: r.enabled, priority: r.priority,
        hooks: r.plan.hooks, missingEventTypes: r.plan.missing, unrestricted: r.plan.unrestricted,
        unavailableFields: r.unavailable, skipped: r.skipped ?? null, failed: r.failed === true,
        notCompiled: comp?.notCompiled.get(r.name) ?? null,
      })),
      compiler: comp === undefined ? null : comp.ok ? 'ran' : `failed: ${comp.error ?? ''}`,
    }, null, 2));
    return set.errors.length > 0 ? 1 : 0;
  }
  for (const d of set.errors) out(formatDiag(d));
  for (const d of set.warnings) out(formatDiag(d));
  if (values['quiet'] !== true) {
    if (set.errors.length + set.warnings.length > 0) out('');
    for (const r of set.rules) out(`rule ${JSON.stringify(r.name)}${r.enabled ? '' : ' (disabled)'}: ${hookSummary(r)}${compileNote(r)}`);
    out('');
  }
  if (comp !== undefined && !comp.ok) out(`note: the rule compiler failed: ${comp.error ?? ''}`);
  out(`${c.files} file(s): ${c.rules} rules (${c.enabled} enabled), ${c.macros} macros, ${c.lists} lists; ` +
    `${c.applicable} rules apply to Kestrel hooks (execve ${c.exec}, connect ${c.connect}), ` +
    `${c.needMissingEventTypes} need event types Kestrel lacks, ${c.skipped} skipped, ${c.failed} with errors; ` +
    `${c.errors} error(s), ${c.warnings} warning(s)` +
    (comp?.ok === true ? `; compiler: ${compiledCount(set, comp.notCompiled)} compile to eBPF` : ''));
  return set.errors.length > 0 ? 1 : 0;
}

// ------------------------------------------------------------------ list

function list(args: string[]): number {
  const { values, common } = parseCommon(args);
  if (values['help'] === true) {
    out('usage: kestrel rules list [-r PATH...] [-c FILE] [--json]\n\nThe loaded rules with priority, tags, hooks and enabled state.');
    return 0;
  }
  const set = loadRules(rulePaths(common));
  for (const d of set.errors) errOut(formatDiag(d));
  const rows = set.rules.map((r) => ({
    name: r.name, priority: r.priority, enabled: r.enabled, hooks: r.plan.hooks, tags: r.tags,
    missingEventTypes: r.plan.missing, skipped: r.skipped ?? null, failed: r.failed === true, file: `${r.loc.file}:${r.loc.line}`,
  }));
  if (common.json) {
    out(JSON.stringify(rows, null, 2));
    return set.errors.length > 0 ? 1 : 0;
  }
  const nameW = Math.min(60, Math.max(4, ...rows.map((r) => r.name.length)));
  out(`${'RULE'.padEnd(nameW)}  ${'PRIORITY'.padEnd(13)}  ${'ENABLED'.padEnd(7)}  ${'HOOKS'.padEnd(12)}  TAGS`);
  for (const r of rows) {
    const hooks = r.skipped !== null ? 'skipped' : r.failed ? 'error' : r.hooks.length > 0 ? r.hooks.join(',') : '-';
    const name = r.name.length > nameW ? r.name.slice(0, nameW - 1) + '…' : r.name;
    out(`${name.padEnd(nameW)}  ${r.priority.padEnd(13)}  ${(r.enabled ? 'yes' : 'no').padEnd(7)}  ${hooks.padEnd(12)}  ${r.tags.join(',')}`);
  }
  return set.errors.length > 0 ? 1 : 0;
}

// ------------------------------------------------------------------ test

function defaultTestFiles(): string[] {
  const dir = builtinRulesDir();
  return readdirSync(dir).filter((n) => /\.test\.ya?ml$/.test(n)).sort().map((n) => join(dir, n));
}

function expandTests(paths: string[]): string[] {
  const outFiles: string[] = [];
  for (const p of paths) {
    if (existsSync(p) && statSync(p).isDirectory()) {
      outFiles.push(...readdirSync(p).filter((n) => /\.test\.ya?ml$/.test(n)).sort().map((n) => join(p, n)));
    } else outFiles.push(p);
  }
  return outFiles;
}

function test(args: string[]): number {
  const { values, positionals, common } = parseCommon(args, { verbose: { type: 'boolean', short: 'v', default: false }, 'reference-only': { type: 'boolean', default: false } });
  if (values['help'] === true) {
    out('usage: kestrel rules test [TESTFILE|DIR...] [-r PATH...] [-c FILE] [--json] [-v] [--reference-only]\n\nRun rule tests (YAML cases of events with expect / not_expect rule names; see docs/rules.md)\nagainst the rules (default: built-in). The config dns.hosts apply to every case.\nEach case runs in the reference evaluator and through the compiled eBPF programs on the\nsimulated kernel; both must agree with the expectations.\nExit 1 when a case fails.\n  -v, --verbose        list passing cases too\n  --reference-only     skip the compiled programs');
    return 0;
  }
  const set = loadRules(rulePaths(common));
  if (set.errors.length > 0) {
    for (const d of set.errors) errOut(formatDiag(d));
    errOut(`kestrel rules test: the rules have ${set.errors.length} error(s); fix them first`);
    return 1;
  }
  const files = positionals.length > 0 ? expandTests(positionals) : defaultTestFiles();
  const hosts = common.config !== undefined ? loadConfig({ file: common.config }).config.dns.hosts : {};
  // Every case also runs through the compiled eBPF on the simulated kernel (--reference-only skips it).
  const compiled = values['reference-only'] === true ? undefined : compileRuleSet(set);
  const results: { file: string; results: CaseResult[]; error?: string }[] = [];
  let inputError = false;
  for (const f of files) {
    const name = relative(process.cwd(), f).startsWith('..') ? f : relative(process.cwd(), f);
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch (e) {
      results.push({ file: name, results: [], error: e instanceof Error ? e.message : String(e) });
      inputError = true;
      continue;
    }
    try {
      const cases = parseTestFile(name, text);
      results.push({
        file: name,
        results: cases.map((tc) => {
          const r = runCase(tc, set, { hosts });
          return compiled === undefined ? r : checkCaseCompiled(r, tc, set, compiled, { hosts });
        }),
      });
    } catch (e) {
      if (!(e instanceof TestFileError)) throw e;
      results.push({ file: name, results: [], error: e.message });
      inputError = true;
    }
  }
  const all = results.flatMap((r) => r.results);
  const failed = all.filter((r) => !r.passed);
  if (common.json) {
    out(JSON.stringify({
      passed: all.length - failed.length,
      failed: failed.length,
      files: results.map((r) => ({
        file: r.file, error: r.error ?? null,
        cases: r.results.map((c) => ({ name: c.case.name, line: c.case.loc.line, passed: c.passed, fired: c.fired, failures: c.failures })),
      })),
    }, null, 2));
  } else {
    const verbose = values['verbose'] === true;
    for (const r of results) {
      out(r.file);
      if (r.error !== undefined) out(`  ✗ ${r.error}`);
      for (const c of r.results) {
        if (c.passed && !verbose) continue;
        out(`  ${c.passed ? '✓' : '✗'} ${c.case.name}${c.passed ? '' : `  (${c.case.loc.file}:${c.case.loc.line}:${c.case.loc.col})`}`);
        for (const f of c.failures) out(`      ${f}`);
        if (!c.passed) out(`      fired: ${c.fired.length > 0 ? c.fired.join(', ') : '(nothing)'}`);
      }
      const p = r.results.filter((c) => c.passed).length;
      out(`  ${p}/${r.results.length} passed`);
    }
    out(`\n${all.length - failed.length} passed, ${failed.length} failed, ${all.length} cases in ${results.length} file(s)`);
  }
  if (inputError) return failed.length > 0 ? 1 : 2;
  return failed.length > 0 ? 1 : 0;
}

// ------------------------------------------------------------------ compile

async function compile(args: string[]): Promise<number> {
  const here = dirname(fileURLToPath(import.meta.url));
  const file = join(here, 'rules-compile.js');
  const ts = join(here, 'rules-compile.ts');
  if (!existsSync(file) && !existsSync(ts)) {
    errOut('kestrel rules compile: not available in this build (the rule compiler is not installed)');
    return 2;
  }
  const mod = (await import(pathToFileURL(existsSync(file) ? file : ts).href)) as { run(a: string[]): Promise<number> };
  return mod.run(args);
}

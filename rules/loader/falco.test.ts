// Falco's own rule files (shared/anchors/falco-rules) load in full, alone and together in Falco's
// order, and a user file after them can enable, disable, append to and replace their rules.

import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadRuleTexts, formatDiag, type RuleSet, type SourceFile } from './index.js';
import { packageRoot } from '../../config/paths.js';
import { printTyped } from '../condition/typed-print.js';
import { Matcher } from '../eval/match.js';
import { ProcessTable } from '../../collectors/process-table.js';

const DIR = resolve(packageRoot(), '..', 'shared', 'anchors', 'falco-rules');
const file = (name: string): SourceFile => ({ name, text: readFileSync(join(DIR, name), 'utf8') });
const STABLE = file('falco_rules.yaml');
const INCUBATING = file('falco-incubating_rules.yaml');
const SANDBOX = file('falco-sandbox_rules.yaml');

function summary(s: RuleSet) {
  return {
    rules: s.rules.length,
    macros: s.macros.length,
    lists: s.lists.length,
    errors: s.errors.map(formatDiag),
    exec: s.rules.filter((r) => r.plan.hooks.includes('exec')).length,
    connect: s.rules.filter((r) => r.plan.hooks.includes('connect')).length,
    lacking: s.rules.filter((r) => r.plan.hooks.length === 0).length,
    typed: s.rules.filter((r) => r.expr !== undefined).length,
  };
}

describe("Falco's rule files", () => {
  it('stable file: 25 rules, 87 macros, 49 lists; 11 exec and 2 connect rules', () => {
    const s = loadRuleTexts([STABLE]);
    expect(summary(s)).toEqual({ rules: 25, macros: 87, lists: 49, errors: [], exec: 11, connect: 2, lacking: 12, typed: 25 });
    expect(s.requiredEngineVersion).toBe('0.57.0');
    const names = s.rules.filter((r) => r.plan.hooks.length > 0).map((r) => r.name);
    expect(names).toContain('Terminal shell in container');
    expect(names).toContain('Disallowed SSH Connection Non Standard Port');
    expect(s.rules.find((r) => r.name === 'Disallowed SSH Connection Non Standard Port')?.plan.missing).toEqual(['sendmsg', 'sendto']);
    expect(s.rules.find((r) => r.name === 'Clear Log Activities')?.plan).toMatchObject({ hooks: [], missing: ['open', 'openat', 'openat2'] });
  });

  it('incubating and sandbox files load alone', () => {
    expect(summary(loadRuleTexts([INCUBATING]))).toMatchObject({ rules: 31, errors: [], typed: 31 });
    expect(summary(loadRuleTexts([SANDBOX]))).toMatchObject({ rules: 37, errors: [], typed: 37 });
  });

  it('all three load together in Falco order, with no error', () => {
    const s = loadRuleTexts([STABLE, INCUBATING, SANDBOX]);
    const sum = summary(s);
    expect(sum.errors).toEqual([]);
    expect(sum).toMatchObject({ rules: 93, typed: 93 });
    expect(sum.exec + sum.connect).toBeGreaterThan(40);
    // only "unsafe <NA> check" warnings remain
    expect(new Set(s.warnings.map((w) => w.code))).toEqual(new Set(['na-check']));
  });

  it('a user file after them enables, disables, appends to and replaces rules', () => {
    const user: SourceFile = {
      name: 'user_rules.yaml',
      text: `
- rule: Terminal shell in container
  enabled: false

- rule: Launch Package Management Process in Container
  enabled: true
  override:
    enabled: replace

- list: shell_binaries
  items: [fish]
  override:
    items: append

- rule: Run shell untrusted
  condition: and not proc.pname = my_server
  override:
    condition: append

- rule: Contact K8S API Server From Container
  condition: evt.type = connect and container and fd.sport = 6443
  priority: CRITICAL
  override:
    condition: replace
    priority: replace

- macro: user_known_system_user_login
  condition: (user.name = www-data)
  override:
    condition: replace
`,
    };
    const s = loadRuleTexts([STABLE, INCUBATING, SANDBOX, user]);
    expect(s.errors.map(formatDiag)).toEqual([]);
    const get = (n: string) => s.rules.find((r) => r.name === n);
    expect(get('Terminal shell in container')?.enabled).toBe(false);
    expect(get('Launch Package Management Process in Container')?.enabled).toBe(true);
    expect(get('Run shell untrusted')?.condition.endsWith('and not proc.pname = my_server')).toBe(true);
    expect(printTyped(get('Contact K8S API Server From Container')?.expr)).toBe('evt.type = connect and container.id != host and fd.sport = 6443');
    expect(get('Contact K8S API Server From Container')?.priority).toBe('critical');
    expect(printTyped(get('Run shell untrusted')?.expr)).toContain('proc.name in (ash, bash, csh, ksh, sh, tcsh, zsh, dash, fish)');

    // and the changes take effect when matching
    const table = new ProcessTable();
    const m = new Matcher(s.rules);
    const fired = (evs: Parameters<ProcessTable['apply']>[0][]) => evs.map((e) => m.match(table.apply(e)).map((r) => r.name)).flat();
    const ts = 1_700_000_000_000_000_000n;
    expect(fired([
      { type: 'exec', ts, pid: 10, ppid: 1, exe: '/usr/bin/runc', argv: ['runc'] },
      { type: 'exec', ts, pid: 11, ppid: 10, exe: '/bin/bash', argv: ['bash'], tty: 34816, container: { id: 'abcdef0123456789' } },
    ])).not.toContain('Terminal shell in container');
    expect(fired([
      { type: 'exec', ts, pid: 20, ppid: 1, exe: '/usr/sbin/nginx', argv: ['nginx'] },
      { type: 'exec', ts, pid: 21, ppid: 20, exe: '/usr/bin/fish', argv: ['fish'] },
    ])).toContain('Run shell untrusted');
    // the appended exclusion: nginx → my_server → sh no longer fires
    expect(fired([
      { type: 'exec', ts, pid: 30, ppid: 1, exe: '/usr/sbin/nginx', argv: ['nginx'] },
      { type: 'exec', ts, pid: 31, ppid: 30, exe: '/usr/bin/my_server', argv: ['my_server'] },
      { type: 'exec', ts, pid: 32, ppid: 31, exe: '/bin/sh', argv: ['sh'] },
    ])).not.toContain('Run shell untrusted');
  });
});

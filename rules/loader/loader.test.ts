import { describe, expect, it } from 'vitest';
import { loadRuleTexts, formatDiag, type RuleSet } from './index.js';
import { printTyped } from '../condition/typed-print.js';

const load = (...texts: string[]): RuleSet => loadRuleTexts(texts.map((text, i) => ({ name: `f${i + 1}.yaml`, text })));
const errors = (s: RuleSet): string[] => s.errors.map(formatDiag);
const warnings = (s: RuleSet): string[] => s.warnings.map(formatDiag);
const rule = (s: RuleSet, name: string) => {
  const r = s.rules.find((x) => x.name === name);
  if (r === undefined) throw new Error(`no rule ${name}`);
  return r;
};

const BASE = `
- list: shell_binaries
  items: [bash, sh]
- macro: spawned_process
  condition: evt.type in (execve, execveat)
- macro: container
  condition: container.id != host
`;

function ruleText(name: string, condition: string, extra = ''): string {
  return `
- rule: ${name}
  desc: d
  condition: ${condition}
  output: "proc=%proc.name"
  priority: WARNING
${extra}`;
}

describe('loader: errors name file:line:column and the item', () => {
  it('unknown field with a suggestion', () => {
    const s = load(BASE + ruleText('R', 'spawned_process and proc.nmae = bash'));
    expect(errors(s)).toEqual(["f1.yaml:11:34: rule R: unknown field 'proc.nmae' — did you mean 'proc.name'?"]);
  });

  it('position inside a folded multi-line condition', () => {
    const s = load(`
- rule: R
  desc: d
  condition: >
    evt.type = execve and
      proc.name = bash and
      fd.sport contains abc
  output: x
  priority: INFO
`);
    expect(errors(s)).toEqual(["f1.yaml:7:7: rule R: operator 'contains' cannot be used on 'fd.sport' (a port)"]);
  });

  it('type mismatch of a value', () => {
    const s = load(ruleText('R', 'evt.type = connect and fd.sport = abc'));
    expect(errors(s)[0]).toMatch(/^f1\.yaml:4:48: rule R: 'abc' is not a number \('fd\.sport' is a port\)$/);
  });

  it('undefined macro with a suggestion', () => {
    const s = load(BASE + ruleText('R', 'spawned_proces and shell'));
    expect(errors(s)).toEqual([
      "f1.yaml:11:14: rule R: undefined macro 'spawned_proces' used in filter — did you mean 'spawned_process'?",
      "f1.yaml:11:33: rule R: undefined macro 'shell' used in filter",
    ]);
  });

  it('a list used where a value is needed', () => {
    const s = load(BASE + ruleText('R', 'spawned_process and proc.name = shell_binaries'));
    expect(errors(s)).toEqual(["f1.yaml:11:46: rule R: list 'shell_binaries' used where a value is needed (use 'in (shell_binaries)')"]);
  });

  it('a list without parentheses', () => {
    const s = load(BASE + ruleText('R', 'spawned_process and proc.name in shell_binaries'));
    expect(errors(s)).toEqual(["f1.yaml:11:47: rule R: list 'shell_binaries' must be written in parentheses: in (shell_binaries)"]);
  });

  it('syntax errors point into the condition', () => {
    const s = load(ruleText('R', '"proc.name = bash and (evt.type = execve"'));
    expect(errors(s)).toEqual(["f1.yaml:4:54: rule R: expected a ')' token, found the end of the condition"]);
  });

  it('unknown event type', () => {
    const s = load(ruleText('R', 'evt.type = exceve'));
    expect(errors(s)[0]).toBe("f1.yaml:4:25: rule R: unknown event type 'exceve' — did you mean 'execve'?");
  });

  it('schema errors name the key', () => {
    const s = load(`
- rule: R
  desc: d
  condition: evt.type = execve
  output: x
  priority: WARNING
  tags: web
`);
    expect(errors(s)).toEqual(["f1.yaml:7:9: rule R: 'tags' must be array"]);
  });

  it('invalid priority', () => {
    const s = load(ruleText('R', 'evt.type = execve').replace('WARNING', 'LOUD'));
    expect(errors(s)[0]).toMatch(/^f1\.yaml:6:13: rule R: Invalid priority level 'LOUD'/);
  });

  it('missing mandatory key', () => {
    const s = load('- rule: R\n  desc: d\n  condition: evt.type = execve\n  priority: INFO\n');
    expect(errors(s)).toEqual(["f1.yaml:1:3: rule R: Item has no mandatory key 'output'"]);
  });

  it('YAML syntax errors', () => {
    const s = load('- rule: R\n  desc: [unclosed\n');
    expect(errors(s)[0]).toMatch(/^f1\.yaml:\d+:\d+: YAML: /);
  });

  it('a macro only sees macros defined before it', () => {
    const s = load(`
- macro: a
  condition: b and proc.name = x
- macro: b
  condition: evt.type = execve
` + ruleText('R', 'a'));
    expect(errors(s)).toEqual(["f1.yaml:3:14: macro a: macro 'b' is used before it is defined (a macro only sees macros defined before it)"]);
  });

  it('unknown output field', () => {
    const s = load(ruleText('R', 'evt.type = execve').replace('proc=%proc.name', 'proc=%proc.nam'));
    expect(errors(s)[0]).toMatch(/rule R: output uses unknown field '%proc.nam'/);
  });
});

describe('loader: warnings', () => {
  it('unknown keys, unused lists/macros, deprecated evt.dir, unknown items', () => {
    const s = load(`
- list: unused_l
  items: [a]
- macro: unused_m
  condition: proc.name = x
- colour: blue
- rule: R
  desc: d
  condition: evt.type = execve and evt.dir = <
  output: x
  priority: INFO
  severity: high
`);
    expect(s.errors).toEqual([]);
    const w = warnings(s);
    expect(w).toContain("f1.yaml:12:3: warning: rule R: Unknown key 'severity'. The key will be ignored.");
    expect(w).toContain('f1.yaml:2:3: warning: list unused_l: list not referred to by any rule/macro/list');
    expect(w).toContain('f1.yaml:4:3: warning: macro unused_m: macro not referred to by any rule/macro');
    expect(w.some((x) => x.startsWith('f1.yaml:6:3: warning:') && x.includes('Unknown top level item'))).toBe(true);
    expect(w.some((x) => x.startsWith('f1.yaml:9:36: warning: rule R:') && x.includes('evt.dir'))).toBe(true);
    // evt.dir = < is always true: the condition is just evt.type = execve
    expect(printTyped(rule(s, 'R').expr)).toBe('evt.type = execve and true');
  });

  it('skip-if-unknown-filter skips with a warning instead of failing', () => {
    const s = load(ruleText('R', 'evt.type = execve and proc.unknown_thing = 1', '  skip-if-unknown-filter: true'));
    expect(s.errors).toEqual([]);
    expect(rule(s, 'R').skipped).toMatch(/unknown field 'proc.unknown_thing'/);
    expect(warnings(s)[0]).toMatch(/warning: rule R: skipped \(skip-if-unknown-filter\)/);
  });
});

describe('loader: lists, macros, expansion', () => {
  it('lists reference earlier lists and are substituted textually', () => {
    const s = load(`
- list: a
  items: [x, "y z"]
- list: b
  items: [a, w]
- list: empty
  items: []
` + ruleText('R', 'evt.type = execve and proc.name in (b, empty, v)'));
    expect(s.errors).toEqual([]);
    expect(rule(s, 'R').condition).toBe('evt.type = execve and proc.name in ( x, "y z", w   , v)');
    expect(printTyped(rule(s, 'R').expr)).toBe('evt.type = execve and proc.name in (x, "y z", w, v)');
  });

  it('macros expand as subtrees, and the typed tree records origins', () => {
    const s = load(BASE + ruleText('R', 'spawned_process and container and proc.name in (shell_binaries)'));
    const r = rule(s, 'R');
    expect(printTyped(r.expr)).toBe('evt.type in (execve, execveat) and container.id != host and proc.name in (bash, sh)');
    const e = r.expr;
    if (e?.kind !== 'and' || e.children[0]?.kind !== 'check') throw new Error('shape');
    expect(e.children[0].origin).toMatchObject({ kind: 'macro', name: 'spawned_process', loc: { file: 'f1.yaml', line: 5, col: 14 } });
    expect(r.plan.hooks).toEqual(['exec']);
  });

  it('typed values: numbers, IPs, networks, booleans, patterns', () => {
    const s = load(ruleText('R', `evt.type = connect and fd.sport in (80, 443) and fd.snet in ("10.0.0.0/8") and fd.sip != "::1" and proc.is_exe_upper_layer = true and fd.name glob "*:443"`));
    expect(s.errors).toEqual([]);
    const e = rule(s, 'R').expr;
    if (e?.kind !== 'and') throw new Error('shape');
    const [, ports, net, ip, bool, glob] = e.children;
    expect(ports).toMatchObject({ rhs: { values: [{ kind: 'number', value: 80 }, { kind: 'number', value: 443 }] } });
    expect(net).toMatchObject({ rhs: { values: [{ kind: 'net', prefix: 8, bytes: new Uint8Array([10, 0, 0, 0]) }] } });
    expect(ip).toMatchObject({ rhs: { values: [{ kind: 'ip' }] } });
    expect(bool).toMatchObject({ rhs: { values: [{ kind: 'bool', value: true }] } });
    expect(glob).toMatchObject({ rhs: { values: [{ kind: 'pattern', text: '*:443' }] } });
  });
});

describe('loader: exceptions', () => {
  it('tuple form compiles to (COND) and not ((...) or (...)) as Falco does', () => {
    const s = load(`
- rule: R
  desc: d
  condition: proc.cmdline contains curl or proc.cmdline contains wget
  output: x
  priority: INFO
  exceptions:
    - name: local
      fields: [proc.cmdline]
      comps: [contains]
      values: [[curl 127.0.0.1]]
    - name: pairs
      fields: [proc.name, proc.pname]
      values: [[curl, [bash]], [wget, [sh, zsh]]]
      comps: [=, in]
    - name: later
      fields: [proc.name]
`);
    expect(s.errors).toEqual([]);
    expect(rule(s, 'R').condition).toBe('(proc.cmdline contains curl or proc.cmdline contains wget) and not ((proc.cmdline contains "curl 127.0.0.1")) and not ((proc.name = curl and proc.pname in (bash)) or (proc.name = wget and proc.pname in (sh, zsh)))');
  });

  it('scalar form: fields: X, comps: in, values: [...]', () => {
    const s = load(`
- rule: R
  desc: d
  condition: evt.type = execve
  output: x
  priority: INFO
  exceptions:
    - name: known
      fields: proc.name
      values: [a, "b c"]
`);
    expect(s.errors).toEqual([]);
    expect(rule(s, 'R').condition).toBe('(evt.type = execve) and not (proc.name in (a, "b c"))');
  });

  it('values appended to an existing exception; new fields on it are an error', () => {
    const base = `
- rule: R
  desc: d
  condition: evt.type = execve
  output: x
  priority: INFO
  exceptions:
    - name: known
      fields: [proc.name]
      values: [[a]]
`;
    const ok = load(base, `
- rule: R
  exceptions:
    - name: known
      values: [[b]]
  override:
    exceptions: append
`);
    expect(ok.errors).toEqual([]);
    expect(rule(ok, 'R').condition).toBe('(evt.type = execve) and not ((proc.name = a) or (proc.name = b))');
    const bad = load(base, `
- rule: R
  exceptions:
    - name: known
      fields: [proc.pname]
      values: [[b]]
  override:
    exceptions: append
`);
    expect(errors(bad)[0]).toMatch(/^f2\.yaml:4:7: rule R: Can not append exception fields or comps to existing exception 'known'/);
  });

  it('invalid comps and bad fields in exceptions point at the exception', () => {
    const s = load(`
- rule: R
  desc: d
  condition: evt.type = execve
  output: x
  priority: INFO
  exceptions:
    - name: e
      fields: [proc.name]
      comps: [like]
      values: [[a]]
    - name: f
      fields: [proc.nmae]
      values: [[a]]
`);
    expect(errors(s)).toEqual(["f1.yaml:8:7: rule R: exception 'e': 'like' is not an operator"]);
    const t = load(`
- rule: R
  desc: d
  condition: evt.type = execve
  output: x
  priority: INFO
  exceptions:
    - name: f
      fields: [proc.nmae]
      values: [[a]]
`);
    expect(errors(t)).toEqual(["f1.yaml:8:7: rule R: unknown field 'proc.nmae' — did you mean 'proc.name'?"]);
  });

  it('mismatched tuple lengths are an error', () => {
    const s = load(`
- rule: R
  desc: d
  condition: evt.type = execve
  output: x
  priority: INFO
  exceptions:
    - name: e
      fields: [proc.name, proc.pname]
      values: [[a]]
`);
    expect(errors(s)[0]).toMatch(/rule R: exception 'e': Fields and values lists must have equal length/);
  });
});

describe('loader: append, override, enable', () => {
  const base = `
- list: l
  items: [a]
- macro: m
  condition: proc.name in (l)
- rule: R
  desc: first
  condition: evt.type = execve and m
  output: out
  priority: INFO
  tags: [t1]
- rule: S
  desc: s
  condition: evt.type = connect
  output: out
  priority: INFO
`;

  it('override append/replace per key', () => {
    const s = load(base, `
- list: l
  items: [b]
  override: {items: append}
- macro: m
  condition: or proc.name = c
  override: {condition: append}
- rule: R
  condition: and proc.pname = x
  desc: more
  tags: [t2, t1]
  priority: ERROR
  override: {condition: append, desc: append, tags: append, priority: replace}
`);
    expect(s.errors).toEqual([]);
    const r = rule(s, 'R');
    expect(printTyped(r.expr)).toBe('evt.type = execve and (proc.name in (a, b) or proc.name = c) and proc.pname = x');
    expect(r.desc).toBe('first more');
    expect(r.tags).toEqual(['t1', 't2']);
    expect(r.priority).toBe('error');
    // redefined items keep their place
    expect(s.rules.map((x) => x.name)).toEqual(['R', 'S']);
  });

  it('legacy append: true is accepted with a deprecation warning', () => {
    const s = load(base, `
- rule: R
  condition: and proc.pname = x
  append: true
`);
    expect(s.errors).toEqual([]);
    expect(printTyped(rule(s, 'R').expr)).toBe('evt.type = execve and proc.name in (a) and proc.pname = x');
    expect(warnings(s).some((w) => w.includes("The 'append' key is deprecated"))).toBe(true);
  });

  it('override errors use Falco messages', () => {
    const missing = load(base, '- rule: R\n  condition: and x\n');
    expect(errors(missing)[0]).toMatch(/^f2\.yaml:1:3: rule R: Item has no mandatory key 'output' \(to change an existing rule, use 'override:'\)/);
    const unlisted = load(base, '- rule: R\n  condition: and proc.name = x\n  desc: y\n  override: {condition: append}\n');
    expect(errors(unlisted)).toEqual(["f2.yaml:3:3: rule R: Unexpected key 'desc': no corresponding entry under 'override' is defined."]);
    const notAppendable = load(base, '- rule: R\n  priority: ERROR\n  override: {priority: append}\n');
    expect(errors(notAppendable)).toEqual(["f2.yaml:3:24: rule R: Key 'priority' cannot be appended to, use 'replace:' instead"]);
    const both = load(base, '- rule: R\n  condition: and x\n  append: true\n  override: {condition: append}\n');
    expect(errors(both)[0]).toMatch(/Keys 'override' and 'append: true' cannot be used together/);
    const noTarget = load(base, '- rule: Nope\n  condition: and x\n  override: {condition: append}\n');
    expect(errors(noTarget)).toEqual(["f2.yaml:1:3: rule Nope: Rule has 'override' key but no rule by that name already exists"]);
  });

  it('enabled-only items and override enabled toggle rules', () => {
    const s = load(base, '- rule: R\n  enabled: false\n- rule: S\n  enabled: false\n  override: {enabled: replace}\n');
    expect(s.errors).toEqual([]);
    expect(rule(s, 'R').enabled).toBe(false);
    expect(rule(s, 'S').enabled).toBe(false);
    const again = load(base, '- rule: R\n  enabled: false\n', '- rule: R\n  enabled: true\n');
    expect(rule(again, 'R').enabled).toBe(true);
  });

  it('a later definition replaces an earlier one in place', () => {
    const s = load(base, '- rule: R\n  desc: new\n  condition: evt.type = connect\n  output: o\n  priority: DEBUG\n');
    expect(s.errors).toEqual([]);
    expect(s.rules.map((x) => x.name)).toEqual(['R', 'S']);
    expect(rule(s, 'R').plan.hooks).toEqual(['connect']);
  });
});

describe('loader: hooks and event types', () => {
  it('maps event types to hooks and reports the ones Kestrel lacks', () => {
    const s = load(
      ruleText('A', 'evt.type in (open, openat) and fd.name = /etc/shadow') +
      ruleText('B', '(evt.type = connect or evt.type in (sendto, sendmsg)) and fd.sport = 22') +
      ruleText('C', 'not evt.type in (execve, execveat, connect) and proc.name = x') +
      ruleText('D', 'evt.type = execve and not evt.type = execve') +
      ruleText('E', 'proc.name = x and evt.num = 0'),
    );
    expect(s.errors).toEqual([]);
    expect(rule(s, 'A').plan).toMatchObject({ hooks: [], missing: ['open', 'openat'] });
    expect(rule(s, 'B').plan).toMatchObject({ hooks: ['connect'], missing: ['sendmsg', 'sendto'] });
    expect(rule(s, 'C').plan).toMatchObject({ hooks: [], unrestricted: true });
    expect(rule(s, 'D').plan).toMatchObject({ hooks: [], empty: true });
    expect(rule(s, 'E').plan).toMatchObject({ hooks: [], empty: true });
  });

  it('reports fields without a value on the rule\'s hooks', () => {
    const s = load(ruleText('R', 'evt.type = execve and fd.sport = 22 and thread.cap_effective contains CAP_SYS_ADMIN'));
    expect(rule(s, 'R').unavailable.map((u) => u.field)).toEqual(['fd.sport', 'thread.cap_effective']);
  });
});

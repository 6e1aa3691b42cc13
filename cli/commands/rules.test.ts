import { afterAll, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './rules.js';

const tmp = mkdtempSync(join(tmpdir(), 'kestrel-rules-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    out += String(s);
    return true;
  });
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    err += String(s);
    return true;
  });
  try {
    return { code: await run(args), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

describe('kestrel rules', () => {
  it('validate: built-in rules are valid (exit 0) and each rule shows its hooks', async () => {
    const r = await cli('validate');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/rule "Terminal shell in container": applies to execve hooks/);
    expect(r.out).toMatch(/rule "Reverse shell connection": applies to connect hooks/);
    expect(r.out).toMatch(/0 error\(s\), 0 warning\(s\)/);
    // with the rule compiler present, each rule says whether it compiles
    expect(r.out).toMatch(/rule "Crypto miner executed": applies to execve hooks; (compiles to eBPF|the compiler cannot express it yet)/);
  });

  it('validate: errors as file:line:column, exit 1; missing event types are reported', async () => {
    const f = join(tmp, 'bad.yaml');
    writeFileSync(f, '- rule: R\n  desc: d\n  condition: evt.type = execve and proc.nmae = x\n  output: o\n  priority: INFO\n- rule: O\n  desc: d\n  condition: evt.type in (open, openat)\n  output: o\n  priority: INFO\n');
    const r = await cli('validate', '-r', f);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`${f}:3:36: rule R: unknown field 'proc.nmae' — did you mean 'proc.name'?`);
    expect(r.out).toContain('rule "O": needs event types Kestrel does not have yet: open, openat');
  });

  it('validate --json', async () => {
    const r = await cli('validate', '--json');
    const doc = JSON.parse(r.out) as { ok: boolean; counts: { rules: number; errors: number }; rules: { name: string; hooks: string[] }[] };
    expect(doc.ok).toBe(true);
    expect(doc.counts.errors).toBe(0);
    expect(doc.rules.find((x) => x.name === 'Reverse shell connection')?.hooks).toEqual(['connect']);
  });

  it('list: a table and --json', async () => {
    const t = await cli('list');
    expect(t.code).toBe(0);
    expect(t.out.split('\n')[0]).toMatch(/^RULE\s+PRIORITY\s+ENABLED\s+HOOKS\s+TAGS$/);
    expect(t.out).toMatch(/Crypto miner executed\s+critical\s+yes\s+exec\s+kestrel,host,container/);
    const j = await cli('list', '--json');
    const rows = JSON.parse(j.out) as { name: string; priority: string; enabled: boolean; hooks: string[]; tags: string[] }[];
    expect(rows.find((x) => x.name === 'Outbound connection to disallowed port')).toMatchObject({ priority: 'notice', enabled: true, hooks: ['connect'] });
  });

  it('test: built-in tests pass (exit 0); a failing case exits 1', async () => {
    const ok = await cli('test');
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/\d+ passed, 0 failed/);
    const f = join(tmp, 'x.test.yaml');
    writeFileSync(f, '- name: host ls fires nothing\n  events:\n    - {type: exec, pid: 5, ppid: 1, exe: /bin/ls, argv: [ls]}\n  expect: [Shell in container]\n');
    const bad = await cli('test', f);
    expect(bad.code).toBe(1);
    expect(bad.out).toContain('✗ host ls fires nothing');
    expect(bad.out).toContain("expected 'Shell in container' to fire");
    expect(bad.out).toMatch(/0 passed, 1 failed/);
  });

  it('test -c: the config supplies rules and static DNS hosts', async () => {
    const cfg = join(tmp, 'kestrel.yaml');
    writeFileSync(cfg, 'rules: [rules/builtin]\ndns:\n  hosts:\n    kubernetes.default.svc.cluster.local: [10.96.0.1]\n');
    const f = join(tmp, 'k8s.test.yaml');
    writeFileSync(f, `- name: api from a pod
  events:
    - {type: exec, pid: 7, ppid: 1, exe: /usr/bin/python3, argv: [python3], container: {id: c0ffee00000a, image: "python:3.12"}}
    - {type: connect, pid: 7, fd: 3, family: inet, daddr: 10.96.0.1, dport: 443, ret: 0}
  expect: [Kubernetes API contacted by unexpected process]
`);
    expect((await cli('test', '-c', cfg, f)).code).toBe(0);
    // without the config the name is unknown, so the case fails
    expect((await cli('test', f)).code).toBe(1);
  });

  it('test: a malformed test file is an input error (exit 2)', async () => {
    const f = join(tmp, 'y.test.yaml');
    writeFileSync(f, 'name: not a list\n');
    const r = await cli('test', f);
    expect(r.code).toBe(2);
    expect(r.out).toContain(`${f}:1:1: a rule-test file must be a list of cases`);
  });

  it('usage errors exit 2; --help exits 0', async () => {
    expect((await cli('frobnicate')).code).toBe(2);
    expect((await cli('validate', '--bogus')).code).toBe(2);
    expect((await cli('validate', '--help')).code).toBe(0);
    expect((await cli('test', '--help')).code).toBe(0);
    expect((await cli('list', '--help')).code).toBe(0);
  });
});

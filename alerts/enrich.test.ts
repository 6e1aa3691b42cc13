import { describe, expect, it } from 'vitest';
import { ProcessTable, cgroupIdFor } from '../collectors/process-table.js';
import { processTableEnricher, shortContainerId } from './enrich.js';
import { AlertBuilder } from './alert.js';
import { decodeRecord, encodeRecord, type RuleTable } from './record-format.js';

describe('process table enricher', () => {
  it('fills process ancestry, container and missing output fields', () => {
    const t = new ProcessTable();
    const cid = '3ad7b26ded6d0123456789abcdef';
    t.apply({ type: 'exec', ts: 1n, pid: 10, ppid: 1, exe: '/usr/bin/containerd-shim', argv: ['containerd-shim'] });
    t.apply({ type: 'exec', ts: 2n, pid: 20, ppid: 10, exe: '/bin/bash', argv: ['bash', '-i'], container: { id: cid, name: 'web', image: 'nginx:1.27' } });
    const e = processTableEnricher(t);
    const p = e.process(20);
    expect(p).toMatchObject({ pid: 20, exe: '/bin/bash', comm: 'bash', cmdline: 'bash -i' });
    expect(p?.ancestors[0]).toMatchObject({ pid: 10, comm: 'containerd-shim' });
    const c = e.container(cgroupIdFor(cid));
    expect(c).toMatchObject({ id: '3ad7b26ded6d', name: 'web', image: 'nginx:1.27' });
    expect(shortContainerId('host')).toBe('host');

    const rules: RuleTable = { rules: [{ name: 'R', priority: 'notice', tags: [], output: '%proc.name (parent %proc.pname) in %container.name %container.id', source: 'syscall' }], fields: [] };
    const r = decodeRecord(encodeRecord({ ruleId: 0, ktimeNs: 1_700_000_000_000_000_000n, pid: 20, tgid: 20, cgroupId: cgroupIdFor(cid), values: [] }), rules);
    if (!r.ok) throw new Error(r.error);
    const a = new AlertBuilder({ hostname: 'h', enricher: e }).build(r.record);
    expect(a.message).toBe('bash (parent containerd-shim) in web 3ad7b26ded6d');
    expect(a.containerId).toBe('3ad7b26ded6d');
    expect(a.exe).toBe('/bin/bash');
    expect(a.process?.ancestors.length).toBeGreaterThan(0);
  });
});

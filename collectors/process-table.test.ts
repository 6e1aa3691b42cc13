import { describe, expect, it } from 'vitest';
import { ProcessTable, cgroupIdFor, commFromExe, cutBytes, parseImage, HOST_CGROUP_ID } from './process-table.js';
import type { ExecEvent, KestrelEvent } from './events.js';
import type { ProcessRecord } from './snapshot.js';

const exec = (pid: number, exe: string, extra: Partial<ExecEvent> = {}): ExecEvent => ({
  type: 'exec',
  ts: BigInt(pid) * 1000n,
  pid,
  exe,
  argv: [exe.split('/').pop() ?? exe],
  ...extra,
});

describe('ProcessTable', () => {
  it('tracks exec, fork, exec and ancestry with container inheritance', () => {
    const t = new ProcessTable();
    t.apply(exec(100, '/usr/sbin/nginx', {
      ppid: 1, uid: 0, gid: 0, cwd: '/',
      container: { id: 'containerd://abcdef0123456789abcdef', name: 'web', image: 'nginx:1.25', pod: 'web-1', namespace: 'prod' },
    }));
    const f = t.apply({ type: 'fork', ts: 2000n, pid: 100, child: 101 });
    expect(f.process?.pid).toBe(100);
    const c = t.apply(exec(101, '/bin/sh', { argv: ['sh', '-c', 'id'], uid: 33 }));
    expect(c.process?.ppid).toBe(100);
    expect(c.process?.comm).toBe('sh');
    expect(c.process?.uid).toBe(33);
    expect(c.process?.gid).toBe(0); // inherited through fork
    expect(c.process?.cwd).toBe('/');
    expect(c.process?.containerId).toBe('abcdef0123456789abcdef');
    expect(c.container?.name).toBe('web');
    expect(c.container?.imageRepository).toBe('nginx');
    expect(c.container?.imageTag).toBe('1.25');
    expect(c.container?.pod).toBe('web-1');
    expect(c.container?.cgroupId).toBe(cgroupIdFor('abcdef0123456789abcdef'));
    expect(c.ancestors().map((p) => p.pid)).toEqual([100]);
    expect(c.userName(33)).toBe('www-data');
    expect(c.groupName(0)).toBe('root');
  });

  it('host processes get the host container record', () => {
    const t = new ProcessTable();
    const ctx = t.apply(exec(5, '/usr/bin/ls'));
    expect(ctx.container?.id).toBe('host');
    expect(ctx.process?.cgroupId).toBe(HOST_CGROUP_ID);
  });

  it('cgroup ids are deterministic per container id and distinct', () => {
    const a = new ProcessTable();
    const b = new ProcessTable();
    a.apply(exec(1, '/x', { container: { id: 'aaa' } }));
    a.apply(exec(2, '/x', { container: { id: 'bbb' } }));
    b.apply(exec(2, '/x', { container: { id: 'bbb' } }));
    expect(a.container('bbb')?.cgroupId).toBe(b.container('bbb')?.cgroupId);
    expect(a.container('aaa')?.cgroupId).not.toBe(a.container('bbb')?.cgroupId);
    expect(a.containerByCgroup(cgroupIdFor('aaa'))?.id).toBe('aaa');
  });

  it('exec replaces the image but keeps the fork time; old contexts are not mutated', () => {
    const t = new ProcessTable();
    const first = t.apply(exec(10, '/bin/bash', { ppid: 1 }));
    const second = t.apply({ ...exec(10, '/usr/bin/python3', { argv: ['python3', 'x.py'] }), ts: 99_000n });
    expect(first.process?.exe).toBe('/bin/bash');
    expect(second.process?.exe).toBe('/usr/bin/python3');
    expect(second.process?.ppid).toBe(1);
    expect(second.process?.startTs).toBe(99_000n);
  });

  it('a failed exec leaves the process image unchanged', () => {
    const t = new ProcessTable();
    t.apply(exec(10, '/bin/bash'));
    const ctx = t.apply(exec(10, '/nonexistent', { ret: -2 }));
    expect(ctx.process?.exe).toBe('/bin/bash');
  });

  it('a process first seen in connect is partial and never crashes', () => {
    const t = new ProcessTable();
    const ctx = t.apply({ type: 'connect', ts: 1n, pid: 77, family: 'inet', daddr: '1.2.3.4', dport: 80 });
    expect(ctx.process?.partial).toBe(true);
    expect(ctx.process?.exe).toBe('');
    expect(ctx.ancestors()).toEqual([]);
  });

  it('exited parents still resolve for late events; evicted ones stop resolving', () => {
    const evicted: ProcessRecord[] = [];
    const t = new ProcessTable({ maxExited: 2, onEvict: (r) => evicted.push(r) });
    t.apply(exec(1, '/sbin/init'));
    t.apply({ type: 'fork', ts: 2n, pid: 1, child: 20 });
    t.apply(exec(20, '/bin/sh'));
    t.apply({ type: 'fork', ts: 3n, pid: 20, child: 21 });
    t.apply(exec(21, '/usr/bin/curl'));
    t.apply({ type: 'exit', ts: 4n, pid: 20 });
    expect(t.isLive(20)).toBe(false);
    let ctx = t.apply({ type: 'connect', ts: 5n, pid: 21, family: 'inet', daddr: '10.0.0.1', dport: 443 });
    expect(ctx.ancestors().map((p) => p.comm)).toEqual(['sh', 'init']);
    // Two more exits push pid 20 out of the 2-entry exited LRU.
    for (const pid of [30, 31]) {
      t.apply(exec(pid, '/bin/true'));
      t.apply({ type: 'exit', ts: 6n, pid });
    }
    expect(evicted.map((r) => r.pid)).toEqual([20]);
    ctx = t.apply({ type: 'connect', ts: 7n, pid: 21, family: 'inet', daddr: '10.0.0.1', dport: 443 });
    expect(ctx.ancestors()).toEqual([]);
    expect(t.exitedCount).toBe(2);
  });

  it('bounds the live set', () => {
    const evicted: number[] = [];
    const t = new ProcessTable({ maxProcesses: 3, onEvict: (r) => evicted.push(r.pid) });
    for (let pid = 1; pid <= 5; pid++) t.apply(exec(pid, '/bin/x'));
    expect(t.liveCount).toBe(3);
    expect(evicted).toEqual([1, 2]);
  });

  it('a reused pid does not become the parent of an older child', () => {
    const t = new ProcessTable();
    t.apply({ ...exec(50, '/bin/sh'), ts: 10n });
    t.apply({ type: 'fork', ts: 11n, pid: 50, child: 51 });
    t.apply({ type: 'exit', ts: 12n, pid: 50 });
    t.apply({ ...exec(50, '/usr/bin/other', { ppid: 1 }), ts: 13n });
    const ctx = t.apply({ type: 'connect', ts: 14n, pid: 51, family: 'inet', daddr: '1.1.1.1', dport: 53 });
    expect(ctx.ancestors()[0]?.exe).toBe('/bin/sh');
  });

  it('never loops on a parent cycle', () => {
    const t = new ProcessTable();
    t.apply(exec(2, '/a', { ppid: 3 }));
    t.apply(exec(3, '/b', { ppid: 2 }));
    const ctx = t.apply(exec(4, '/c', { ppid: 2 }));
    expect(ctx.ancestors().map((p) => p.pid)).toEqual([2, 3]);
    // A process is never its own parent.
    expect(t.apply(exec(9, '/d', { ppid: 9 })).process?.ppid).toBe(0);
  });

  it('resolves names from dns events and static hosts', () => {
    const t = new ProcessTable({ hosts: { 'kubernetes.default.svc.cluster.local': ['10.96.0.1'] } });
    const events: KestrelEvent[] = [
      { type: 'dns', ts: 1n, pid: 1, name: 'Pool.Example.COM.', addrs: ['203.0.113.5', '203.0.113.6'] },
    ];
    for (const e of events) t.apply(e);
    const ctx = t.apply({ type: 'connect', ts: 2n, pid: 1, family: 'inet', daddr: '203.0.113.5', dport: 3333 });
    expect(ctx.resolve('pool.example.com')).toEqual(['203.0.113.5', '203.0.113.6']);
    expect(ctx.namesOf('203.0.113.6')).toEqual(['pool.example.com']);
    expect(ctx.namesOf('10.96.0.1')).toEqual(['kubernetes.default.svc.cluster.local']);
    expect(ctx.resolve('nowhere')).toEqual([]);
  });

  it('configurable users override and extend the defaults', () => {
    const t = new ProcessTable({ users: { 1000: 'alice', 0: 'toor' }, groups: { 1000: 'alice' } });
    const ctx = t.apply(exec(1, '/x'));
    expect(ctx.userName(1000)).toBe('alice');
    expect(ctx.userName(0)).toBe('toor');
    expect(ctx.userName(4242)).toBeUndefined();
    expect(ctx.groupName(1000)).toBe('alice');
  });
});

describe('helpers', () => {
  it('comm is the basename cut to 15 bytes without splitting characters', () => {
    expect(commFromExe('/usr/lib/jvm/bin/java-very-long-name')).toBe('java-very-long-');
    expect(cutBytes('aé'.repeat(8), 15)).toBe('aéaéaéaéaé'); // 15 bytes exactly
    expect(cutBytes('ééééééééé', 15)).toBe('ééééééé'); // 14 bytes, no half character
  });
  it('parses image references', () => {
    expect(parseImage('registry:5000/team/app')).toEqual({ repository: 'registry:5000/team/app', tag: 'latest' });
    expect(parseImage('docker.io/library/nginx:1.25')).toEqual({ repository: 'docker.io/library/nginx', tag: '1.25' });
    expect(parseImage('alpine@sha256:abcd')).toEqual({ repository: 'alpine', tag: undefined });
  });
});

describe('what the table keeps of long values', () => {
  it('keeps argv and paths as the kernel process cache does', async () => {
    const { fitArgv, cutBytes, PATH_MAX_KEPT } = await import('./process-table.js');
    expect(fitArgv(['ls', '-l'])).toEqual(['ls', '-l']);
    const long = fitArgv(['a'.repeat(300), 'b'.repeat(300), 'c']);
    expect(long).toEqual(['a'.repeat(300), 'b'.repeat(210)]);
    // 300 + 1 + 210 + 1 = 512 bytes: the block is full
    expect(fitArgv(['é'.repeat(300)])[0]).toBe('é'.repeat(255));
    expect(cutBytes('/x'.repeat(200), PATH_MAX_KEPT).length).toBe(255);
  });
});

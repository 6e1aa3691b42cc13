// The C examples end to end: compiled by clang, loaded, verified, attached to the simulated
// kernel's hooks and run on events; the ring-buffer records, trace_pipe lines and map contents
// they produce are asserted. Also the `kestrel prog load|show` command itself.

import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { compileExample, examplesDir } from '../../engine/elf/compile.js';
import { loadElf, setGlobal, type ElfObject } from '../../engine/elf/index.js';
import type { KestrelEvent } from '../../collectors/events.js';
import { formatEvent } from '../../collectors/ndjson.js';
import { ElfSession, run } from './prog-elf.js';

const objs = new Map<string, { obj: ElfObject; path: string }>();
beforeAll(() => {
  for (const n of ['execsnoop', 'connectlog', 'counts', 'pathstat', 'hello', 'exitsnoop', 'denyconnect', 'portdigits']) {
    const { bytes, path } = compileExample(n);
    objs.set(n, { obj: loadElf(bytes, { fileName: `${n}.o` }), path });
  }
});

function session(name: string): ElfSession {
  const o = objs.get(name);
  if (o === undefined) throw new Error(name);
  return new ElfSession(o.obj);
}

const T0 = 1_700_000_000_000_000_000n;
function events(): KestrelEvent[] {
  return [
    // State only (no hooks fire): the shell's parent, so the shell's exec has a known caller.
    { type: 'exec', ts: T0 - 1000n, pid: 1, ppid: 0, uid: 0, gid: 0, exe: '/sbin/init', argv: ['init'], synthetic: true },
    { type: 'exec', ts: T0, pid: 100, ppid: 1, uid: 0, gid: 0, exe: '/usr/bin/bash', argv: ['bash'] },
    { type: 'exec', ts: T0 + 1000n, pid: 101, ppid: 100, uid: 1000, gid: 1000, exe: '/usr/bin/curl', argv: ['curl', 'http://x'] },
    { type: 'connect', ts: T0 + 2000n, pid: 101, fd: 3, family: 'inet', daddr: '93.184.216.34', dport: 443 },
    { type: 'connect', ts: T0 + 3000n, pid: 101, fd: 4, family: 'inet6', daddr: '2001:db8::1', dport: 8080 },
    { type: 'exec', ts: T0 + 4000n, pid: 102, ppid: 100, uid: 0, gid: 0, exe: '/usr/local/sbin/a/b/tool', argv: ['tool'] },
    { type: 'connect', ts: T0 + 5000n, pid: 101, fd: 5, family: 'inet', daddr: '10.0.0.1', dport: 443 },
  ];
}

function capture(): { out: string[]; err: string[]; restore: () => void } {
  const out: string[] = [];
  const err: string[] = [];
  const o = process.stdout.write.bind(process.stdout);
  const e = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string | Uint8Array) => (out.push(String(s)), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string | Uint8Array) => (err.push(String(s)), true)) as typeof process.stderr.write;
  return { out, err, restore: () => ((process.stdout.write = o), (process.stderr.write = e)) };
}

function eventsFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kestrel-prog-'));
  const f = join(dir, 'events.ndjson');
  const lines = events().map(formatEvent);
  writeFileSync(f, lines.join('\n') + '\nnot json\n');
  return f;
}


describe('C programs on the simulated kernel', () => {
  it('execsnoop: ring-buffer records with pid, uid, comm and the filename read from user memory', () => {
    const s = session('execsnoop');
    expect(s.io.programs.map((p) => p.error ?? 'ok')).toEqual(['ok']);
    for (const ev of events()) s.handle(ev);
    const recs = s.output.filter((l) => l.kind === 'record').map((l) => l.data);
    expect(recs).toEqual([
      { pid: 100, tid: 100, uid: 0, ret: 0, comm: 'init', filename: '/usr/bin/bash' },
      { pid: 101, tid: 101, uid: 1000, ret: 0, comm: 'bash', filename: '/usr/bin/curl' },
      { pid: 102, tid: 102, uid: 0, ret: 0, comm: 'bash', filename: '/usr/local/sbin/a/b/tool' },
    ]);
    // The .bss counter is a real map value the program incremented.
    const bss = s.io.maps[2].lookup(new Uint8Array(4));
    expect(new DataView((bss ?? new Uint8Array(8)).buffer).getBigUint64(0, true)).toBe(3n);
    s.close();
  });

  it('connectlog: decodes IPv4 and IPv6 sockaddrs into records', () => {
    const s = session('connectlog');
    for (const ev of events()) s.handle(ev);
    const recs = s.output.filter((l) => l.kind === 'record').map((l) => l.data as Record<string, unknown>);
    expect(recs.map((r) => [r.pid, r.family, r.dport, r.comm])).toEqual([
      [101, 2, 443, 'curl'],
      [101, 10, 8080, 'curl'],
      [101, 2, 443, 'curl'],
    ]);
    // sin_addr is in network order: 93.184.216.34 reads back as those bytes.
    const a = recs[0].daddr4 as number;
    expect([a & 0xff, (a >>> 8) & 0xff, (a >>> 16) & 0xff, a >>> 24]).toEqual([93, 184, 216, 34]);
    expect((recs[1].daddr6 as number[]).slice(0, 4)).toEqual([0x20, 0x01, 0x0d, 0xb8]);
    expect((recs[1].daddr6 as number[])[15]).toBe(1);
    s.close();
  });

  it('counts: hash maps of exec counts per comm and connect counts per port', () => {
    const s = session('counts');
    expect(s.attachedHooks().map((a) => a.hook)).toEqual(['tracepoint/syscalls/sys_enter_execve', 'tracepoint/syscalls/sys_enter_connect']);
    for (const ev of events()) s.handle(ev);
    const execs = new Map<string, bigint>();
    for (const [k, v] of s.io.maps[0].entries()) {
      execs.set(Buffer.from(k).toString('latin1').replace(/\0+$/, ''), new DataView(v.buffer, v.byteOffset).getBigUint64(0, true));
    }
    // comm is the caller's at sys_enter_execve (the image is replaced only after it).
    expect(Object.fromEntries(execs)).toEqual({ init: 1n, bash: 2n });
    const ports = new Map<number, bigint>();
    for (const [k, v] of s.io.maps[1].entries()) ports.set(new DataView(k.buffer, k.byteOffset).getUint32(0, true), new DataView(v.buffer, v.byteOffset).getBigUint64(0, true));
    expect(Object.fromEntries(ports)).toEqual({ 443: 2n, 8080: 1n });
    s.close();
  });

  it('pathstat: bounded loops in local functions fill an array map', () => {
    const s = session('pathstat');
    expect(s.io.programs[0].verdict?.ok).toBe(true);
    for (const ev of events()) s.handle(ev);
    const v = s.io.maps[0].lookup(new Uint8Array(4)) ?? new Uint8Array(32);
    const d = new DataView(v.buffer, v.byteOffset);
    const fnv = (str: string): bigint => {
      let h = 14695981039346656037n;
      for (const c of Buffer.from(str)) h = BigInt.asUintN(64, (h ^ BigInt(c)) * 1099511628211n);
      return h;
    };
    expect(d.getBigUint64(0, true)).toBe(3n); // execs
    expect(d.getBigUint64(8, true)).toBe(3n + 3n + 6n); // slashes in the three paths
    expect(d.getBigUint64(16, true)).toBe(fnv('/usr/local/sbin/a/b/tool'));
    expect(d.getUint32(24, true)).toBe(6);
    expect(d.getUint32(28, true)).toBe(6);
    s.close();
  });

  it('hello: bpf_printk lines as trace_pipe shows them, through trace_printk and trace_vprintk', () => {
    const s = session('hello');
    for (const ev of events().slice(0, 4)) s.handle(ev);
    const lines = s.output.filter((l) => l.kind === 'trace').map((l) => l.text);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/init-100 +\[000\] .* bpf_trace_printk: exec pid=100 comm=init$/);
    expect(lines[2]).toMatch(/curl-101 .*bpf_trace_printk: connect fd=3 uid=1000 gid=1000 len=16$/);
    s.close();
  });
});

describe('more C programs: perf buffers, kprobe enforcement, bpf_loop', () => {
  it('exitsnoop: perf_event_output records on tp/sched/sched_process_exit', () => {
    const s = session('exitsnoop');
    expect(s.attachedHooks()).toEqual([{ program: 'on_exit', hook: 'tracepoint/sched/sched_process_exit' }]);
    for (const ev of events()) s.handle(ev);
    s.handle({ type: 'exit', ts: T0 + 9000n, pid: 101, code: 0 });
    const recs = s.output.filter((l) => l.kind === 'record');
    expect(recs).toHaveLength(1);
    expect(recs[0].map).toBe('exits');
    expect(recs[0].data).toMatchObject({ pid: 101, prio: 120, comm: 'curl' });
    s.close();
  });

  it('denyconnect: a kprobe makes connect() fail with EPERM for the blocked port only', () => {
    const s = session('denyconnect');
    expect(s.io.programs[0].error).toBeUndefined();
    for (const ev of events()) s.handle(ev);
    const blocked = s.handle({ type: 'connect', ts: T0 + 9000n, pid: 101, fd: 6, family: 'inet', daddr: '203.0.113.9', dport: 4444 });
    const ev = blocked[0].event;
    expect(ev).toMatchObject({ type: 'connect', enforced: 'deny', ret: -1 });
    expect(s.enforced).toBe(1);
    expect(s.output.filter((l) => l.kind === 'enforced').map((l) => l.text)).toEqual(['enforced deny: pid 101 connect to 203.0.113.9:4444 (ret -1)']);
    expect(s.output.filter((l) => l.kind === 'trace').map((l) => l.text.replace(/^.*bpf_trace_printk: /, ''))).toEqual(['denied connect to port 4444']);
    const n = s.io.maps[0].lookup(new Uint8Array(4)) ?? new Uint8Array(8);
    expect(new DataView(n.buffer, n.byteOffset).getBigUint64(0, true)).toBe(1n);
    s.close();
  });

  it('--set patches .rodata before load: denyconnect blocks the port it is told to', async () => {
    const f = eventsFile();
    const c = capture();
    let code: number;
    try {
      code = await run(['load', objs.get('denyconnect')?.path ?? '', '--set', 'blocked_port=443', '--from', 'replay', f, '--json']);
    } finally {
      c.restore();
    }
    expect(code).toBe(0);
    const docs = c.out.join('').trim().split('\n').map((l) => JSON.parse(l) as { type: string; text?: string });
    expect(docs.filter((d) => d.type === 'enforced').map((d) => d.text)).toEqual([
      'enforced deny: pid 101 connect to 93.184.216.34:443 (ret -1)',
      'enforced deny: pid 101 connect to 10.0.0.1:443 (ret -1)',
    ]);
    const c2 = capture();
    try {
      code = await run(['load', objs.get('denyconnect')?.path ?? '', '--set', 'nope=1', '--from', 'replay', f]);
    } finally {
      c2.restore();
    }
    expect(code).toBe(2);
    expect(c2.err.join('')).toMatch(/no global variable 'nope' .*have: blocked_port/);
  });

  it('counts: .data sampling setting and a .bss counter', () => {
    const o = objs.get('counts')?.obj;
    if (o === undefined) throw new Error('counts');
    expect(o.globals.map((g) => [g.name, o.maps[g.map].sectionName, g.size])).toEqual([
      ['sample_every', '.data', 4],
      ['connects_seen', '.bss', 4],
    ]);
    const copy = loadElf(new Uint8Array(readFileSync(objs.get('counts')?.path ?? '')), { fileName: 'counts.o' });
    setGlobal(copy, 'sample_every', '2');
    const s = new ElfSession(copy);
    for (const ev of events()) s.handle(ev);
    const ports = [...s.io.maps[1].entries()].map(([k, v]) => [new DataView(k.buffer, k.byteOffset).getUint32(0, true), Number(new DataView(v.buffer, v.byteOffset).getBigUint64(0, true))]);
    // Connects 1 and 3 of 3 are counted (443 twice), the 8080 one in between is sampled out.
    expect(ports).toEqual([[443, 2]]);
    const seen = s.io.maps[3].lookup(new Uint8Array(4)) ?? new Uint8Array(4);
    expect(new DataView(seen.buffer, seen.byteOffset).getUint32(0, true)).toBe(3);
    s.close();
  });

  it('portdigits: bpf_loop callback, two programs in one section, a .rodata.str1.1 literal', () => {
    const o = objs.get('portdigits')?.obj;
    expect(o?.programs.map((p) => [p.name, p.section])).toEqual([
      ['digit_sum', 'tracepoint/syscalls/sys_enter_connect'],
      ['say_port', 'tracepoint/syscalls/sys_enter_connect'],
    ]);
    expect(o?.maps.map((m) => m.def.name)).toEqual(['loop_out', 'p.rodata.str1.1']);
    const s = session('portdigits');
    expect(s.io.programs.map((p) => p.error ?? 'ok')).toEqual(['ok', 'ok']);
    s.handle(events()[0]);
    s.handle(events()[2]);
    s.handle({ type: 'connect', ts: T0 + 9000n, pid: 101, fd: 6, family: 'inet', daddr: '203.0.113.9', dport: 443 });
    const val = (k: number): bigint => {
      const key = new Uint8Array(4);
      key[0] = k;
      const v = s.io.maps[0].lookup(key) ?? new Uint8Array(8);
      return new DataView(v.buffer, v.byteOffset).getBigUint64(0, true);
    };
    expect(val(0)).toBe(11n); // 4 + 4 + 3
    expect(val(1)).toBe(4n); // three digits, then the callback returns 1 on the fourth call
    expect(s.output.filter((l) => l.kind === 'trace').map((l) => l.text.replace(/^.*bpf_trace_printk: /, ''))).toEqual(['connect to port 443']);
    s.close();
  });
});

describe('the JIT runs the C programs like the interpreter', () => {
  it('gives identical records, trace lines, verdicts and map contents', () => {
    for (const name of ['execsnoop', 'connectlog', 'counts', 'pathstat', 'hello', 'denyconnect', 'portdigits']) {
      const o = objs.get(name)?.obj;
      if (o === undefined) throw new Error(name);
      const runs = (['interp', 'jit'] as const).map((exec) => {
        const logs: string[] = [];
        const s = new ElfSession(o, { exec, log: (m) => logs.push(m) });
        const evs = [...events(), { type: 'connect', ts: T0 + 9000n, pid: 101, fd: 6, family: 'inet', daddr: '203.0.113.9', dport: 4444 } as KestrelEvent];
        const verdicts = evs.map((ev) => s.handle(ev).map((h) => `${h.event.enforced ?? ''}`).join(','));
        const maps = s.io.maps.map((m) => (m.def.type === 27 || m.def.type === 4 ? [] : [...m.entries()].map(([k, v]) => `${Buffer.from(k).toString('hex')}=${Buffer.from(v).toString('hex')}`)));
        const modes = [...s.executors.values()].map((x) => x.mode);
        s.close();
        return { out: s.output.map((l) => l.text), verdicts, maps, modes, logs };
      });
      expect(runs[1].logs, name).toEqual([]);
      expect(runs[1].modes.every((m) => m === 'jit'), name).toBe(true);
      expect(runs[1].out, name).toEqual(runs[0].out);
      expect(runs[1].verdicts, name).toEqual(runs[0].verdicts);
      expect(runs[1].maps, name).toEqual(runs[0].maps);
    }
  });
});

describe('hostile code in an object', () => {
  it('mutated program bytes are rejected or run without an exception escaping', () => {
    const src = compileExample('execsnoop').bytes;
    const d = new DataView(src.buffer, src.byteOffset, src.byteLength);
    const shoff = Number(d.getBigUint64(40, true));
    // Section 3 is the program's code (see elf.test.ts); mutate only its instruction bytes.
    const codeOff = Number(d.getBigUint64(shoff + 3 * 64 + 24, true));
    const codeLen = Number(d.getBigUint64(shoff + 3 * 64 + 32, true));
    let seed = 0x2545f491;
    const rnd = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0), seed >>> 8);
    let rejected = 0;
    let ran = 0;
    for (let i = 0; i < 40; i++) {
      const b = src.slice();
      for (let k = 0; k < 1 + (rnd() % 3); k++) b[codeOff + (rnd() % codeLen)] = rnd() & 0xff;
      let obj: ElfObject;
      try {
        obj = loadElf(b, { fileName: `m${i}.o` });
      } catch (e) {
        expect(e).toBeInstanceOf(Error);
        expect((e as Error).name).toBe('ElfError');
        rejected++;
        continue;
      }
      const s = new ElfSession(obj, { maxVerifyInsns: 20_000 });
      if (s.io.programs[0].loaded === undefined) rejected++;
      else ran++;
      for (const ev of events()) s.handle(ev);
      s.close();
    }
    expect(rejected + ran).toBe(40);
    // With this seed: 36 rejected (ELF or verifier), 4 verified and ran on the events.
    expect(rejected).toBeGreaterThan(0);
    expect(ran).toBeGreaterThan(0);
  });
});

describe('kestrel prog load|show', () => {
  it('load --from replay prints records and trace lines', async () => {
    const f = eventsFile();
    const c = capture();
    let code: number;
    try {
      code = await run(['load', objs.get('execsnoop')?.path ?? '', '--from', 'replay', f]);
    } finally {
      c.restore();
    }
    expect(code).toBe(0);
    const text = c.out.join('');
    expect(text).toContain('events: {"pid":100,"tid":100,"uid":0,"ret":0,"comm":"init","filename":"/usr/bin/bash"}');
    expect(c.err.join('')).toMatch(/events\.ndjson:8:1: invalid JSON/);
    const c2 = capture();
    try {
      code = await run(['load', objs.get('hello')?.path ?? '', '--from', 'replay', f, '--json']);
    } finally {
      c2.restore();
    }
    const json = c2.out.join('').trim().split('\n').map((l) => JSON.parse(l) as { type: string; text?: string; programs?: { runs: number }[] });
    expect(json.filter((j) => j.type === 'trace')).toHaveLength(6);
    expect(json.at(-1)?.type).toBe('summary');
    expect(json.at(-1)?.programs?.map((p) => p.runs)).toEqual([3, 3]);
  });

  it('load --from replay --format tetragon reads a Tetragon export', async () => {
    const c = capture();
    let code: number;
    try {
      code = await run(['load', objs.get('execsnoop')?.path ?? '', '--from', 'replay', join(__dirname, '../../collectors/fixtures/tetragon-export.json'), '--format', 'tetragon', '--json']);
    } finally {
      c.restore();
    }
    expect(code).toBe(0);
    const files = c.out.join('').trim().split('\n').map((l) => JSON.parse(l) as { type: string; data?: { filename: string } }).filter((d) => d.type === 'record').map((d) => d.data?.filename);
    expect(files).toEqual(expect.arrayContaining(['/usr/bin/curl', '/usr/bin/nc']));
  });

  it('load --from simulate runs the built-in scenarios through the programs', async () => {
    const c = capture();
    let code: number;
    try {
      code = await run(['load', objs.get('execsnoop')?.path ?? '', '--from', 'simulate', '--count', '200', '--seed', '7', '--json']);
    } finally {
      c.restore();
    }
    expect(code).toBe(0);
    const docs = c.out.join('').trim().split('\n').map((l) => JSON.parse(l) as { type: string; data?: { filename: string; pid: number }; events?: number; programs?: { runs: number }[] });
    const recs = docs.filter((d) => d.type === 'record');
    const summary = docs.at(-1);
    expect(summary?.type).toBe('summary');
    expect(summary?.events).toBe(200);
    expect(recs.length).toBeGreaterThan(5);
    // One record per execve the programs saw, each with the path the simulated process ran.
    expect(summary?.programs?.[0].runs).toBe(recs.length);
    for (const r of recs) expect(r.data?.filename).toMatch(/^\//);
  });

  it('load --from strace runs a real command and sees its execve calls', async () => {
    const c = capture();
    let code: number;
    try {
      code = await run(['load', objs.get('execsnoop')?.path ?? '', '--json', '--from', 'strace', '--', '/bin/sh', '-c', '/bin/true; /bin/echo hi']);
    } finally {
      c.restore();
    }
    expect(code).toBe(0);
    const docs = c.out.join('').trim().split('\n').map((l) => JSON.parse(l) as { type: string; data?: { filename: string } });
    const files = docs.filter((d) => d.type === 'record').map((d) => d.data?.filename);
    expect(files).toEqual(expect.arrayContaining(['/bin/sh', '/bin/true', '/bin/echo']));
    expect(c.err.join('')).toMatch(/exited with 0/);
  });

  it('run executes one program on a given context, including XDP programs', async () => {
    let c = capture();
    let code: number;
    try {
      code = await run(['run', objs.get('hello')?.path ?? '', '--prog', 'hello_connect', '--mem', '00'.repeat(16) + '0300000000000000' + '00'.repeat(8) + '1c00000000000000', '--json']);
    } finally {
      c.restore();
    }
    expect(code).toBe(0);
    const doc = JSON.parse(c.out.join('')) as { r0: string; trace: string[]; instructions: number };
    expect(doc.r0).toBe('0x0');
    expect(doc.trace).toEqual(['connect fd=3 uid=1000 gid=100 len=28']);
    const dir = mkdtempSync(join(tmpdir(), 'kestrel-prog-'));
    const src = join(dir, 'pass.c');
    writeFileSync(src, `#include "${examplesDir()}/kestrel_bpf.h"\nSEC("xdp") int pass(void *ctx) { return 2; }\nchar LICENSE[] SEC("license") = "GPL";\n`);
    c = capture();
    try {
      code = await run(['run', src, '--repeat', '3']);
    } finally {
      c.restore();
    }
    expect(code).toBe(0);
    expect(c.out.join('')).toMatch(/pass: r0 = 0x2 \(2 instructions, 3 runs/);
  });

  it('prints records as hex without a record type, and names a missing --record-type', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kestrel-prog-'));
    const src = join(dir, 'raw.c');
    writeFileSync(
      src,
      `#include "${examplesDir()}/kestrel_bpf.h"
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } rb SEC(".maps");
SEC("tracepoint/syscalls/sys_enter_execve") int raw(void *ctx) { u64 v = 0x1122334455667788ULL; bpf_ringbuf_output(&rb, &v, sizeof(v), 0); return 0; }
char LICENSE[] SEC("license") = "GPL";
`,
    );
    const f = eventsFile();
    let c = capture();
    let code: number;
    try {
      code = await run(['load', src, '--from', 'replay', f, '-q']);
    } finally {
      c.restore();
    }
    expect(code).toBe(0);
    expect(c.out.join('')).toContain('rb: 8 bytes\n  0000: 88 77 66 55 44 33 22 11\n');
    c = capture();
    try {
      code = await run(['load', src, '--from', 'replay', f, '--record-type', 'struct nope']);
    } finally {
      c.restore();
    }
    expect(code).toBe(2);
    expect(c.err.join('')).toMatch(/record type 'struct nope' not found in the object's BTF/);
  });

  it('show --from replay adds run statistics', async () => {
    const c = capture();
    let code: number;
    try {
      code = await run(['show', objs.get('counts')?.path ?? '', '--from', 'replay', eventsFile(), '--json']);
    } finally {
      c.restore();
    }
    expect(code).toBe(0);
    const doc = JSON.parse(c.out.join('')) as { programs: { name: string; run_cnt: number; run_insns: number }[]; maps: { name: string; entries: number }[] };
    expect(doc.programs.map((p) => [p.name, p.run_cnt])).toEqual([
      ['count_exec', 3],
      ['count_connect', 3],
    ]);
    expect(doc.programs[0].run_insns).toBeGreaterThan(0);
    expect(doc.maps.map((m) => [m.name, m.entries])).toEqual([
      ['exec_counts', 2],
      ['port_counts', 2],
      ['counts.data', 1],
      ['counts.bss', 1],
    ]);
  });

  it('show lists programs and maps with sizes; bad objects exit 2', async () => {
    const c = capture();
    let code: number;
    try {
      code = await run(['show', objs.get('counts')?.path ?? '', '--json']);
    } finally {
      c.restore();
    }
    expect(code).toBe(0);
    const doc = JSON.parse(c.out.join('')) as { programs: { name: string; verified: boolean; insns: number }[]; maps: { name: string; key_size: number; key_type: string }[] };
    expect(doc.programs.map((p) => [p.name, p.verified])).toEqual([
      ['count_exec', true],
      ['count_connect', true],
    ]);
    expect(doc.maps[0]).toMatchObject({ name: 'exec_counts', key_size: 16, key_type: 'struct comm_key' });
    const dir = mkdtempSync(join(tmpdir(), 'kestrel-prog-'));
    writeFileSync(join(dir, 'bad.o'), Buffer.from('\x7fELF garbage'));
    const c2 = capture();
    try {
      code = await run(['show', join(dir, 'bad.o')]);
    } finally {
      c2.restore();
    }
    expect(code).toBe(2);
    expect(c2.err.join('')).toMatch(/bad\.o: file too short/);
  });
});

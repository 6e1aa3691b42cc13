// The loader on real clang-built objects: the examples in examples/bpf are compiled here (a
// missing clang fails the test; CI installs it), then parsed, relocated and linked.

import { beforeAll, describe, expect, it } from 'vitest';
import { decode, OP_CALL, OP_LDDW, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE, BPF_PSEUDO_CALL } from '../isa.js';
import { BPF_F_RDONLY_PROG, BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_RINGBUF } from '../maps/types.js';
import { compileExample } from './compile.js';
import { decodeValue } from './decode.js';
import { ElfError, formatLine, lineAt, loadElf, programSpec, type ElfObject } from './index.js';

const NAMES = ['execsnoop', 'connectlog', 'counts', 'pathstat', 'hello'] as const;
const objs = new Map<string, ElfObject>();
const raw = new Map<string, Uint8Array>();

beforeAll(() => {
  for (const n of NAMES) {
    const { bytes } = compileExample(n);
    raw.set(n, bytes);
    objs.set(n, loadElf(bytes, { fileName: `${n}.o` }));
  }
});

function obj(n: string): ElfObject {
  const o = objs.get(n);
  if (o === undefined) throw new Error(`no object ${n}`);
  return o;
}

describe('ELF loader on clang-built objects', () => {
  it('reads BTF-defined maps with sizes from BTF types and __uint values', () => {
    const counts = obj('counts');
    expect(counts.maps.slice(0, 2).map((m) => m.def)).toEqual([
      { name: 'exec_counts', type: BPF_MAP_TYPE_HASH, keySize: 16, valueSize: 8, maxEntries: 1024, flags: 0 },
      { name: 'port_counts', type: BPF_MAP_TYPE_HASH, keySize: 4, valueSize: 8, maxEntries: 256, flags: 0 },
    ]);
    expect(counts.btf?.describe(counts.maps[0].keyType ?? 0)).toBe('struct comm_key');
    expect(counts.license).toBe('Dual BSD/GPL');
    expect(counts.gpl).toBe(true);
  });

  it('turns .rodata and .bss into one-element array maps with their initial bytes', () => {
    const o = obj('execsnoop');
    const [rb, ro, bss] = o.maps;
    expect(rb.def).toMatchObject({ name: 'events', type: BPF_MAP_TYPE_RINGBUF, maxEntries: 256 * 1024 });
    expect(ro.def).toEqual({ name: 'execsnoo.rodata', type: BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: 4, maxEntries: 1, flags: BPF_F_RDONLY_PROG });
    expect(Array.from(ro.initial ?? [])).toEqual([0xff, 0xff, 0xff, 0xff]); // target_uid = (u32)-1
    expect(bss.def).toMatchObject({ name: 'execsnoop.bss', valueSize: 8, flags: 0 });
    expect(Array.from(bss.initial ?? [])).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('relocates map references (src 1) and global data (src 2 + offset)', () => {
    const o = obj('execsnoop');
    const p = o.programs[0];
    expect(p.name).toBe('handle_execve');
    expect(p.attach).toEqual({ progType: 'tracepoint', hook: 'tracepoint/syscalls/sys_enter_execve' });
    const insns = decode(p.insns);
    const kinds = p.mapRefs.map((r) => {
      const i = insns[r.insn];
      expect(i.opcode).toBe(OP_LDDW);
      expect(i.imm).toBe(r.map);
      return [o.maps[r.map].def.name, i.src, insns[r.insn + 1].imm];
    });
    expect(kinds).toEqual([
      ['execsnoo.rodata', BPF_PSEUDO_MAP_VALUE, 0],
      ['execsnoop.bss', BPF_PSEUDO_MAP_VALUE, 0],
      ['events', BPF_PSEUDO_MAP_FD, 0],
    ]);
  });

  it('points string literals of bpf_printk at their offsets in .rodata', () => {
    const o = obj('hello');
    expect(o.programs.map((p) => p.name)).toEqual(['hello_exec', 'hello_connect']);
    const ro = o.maps[0];
    const text = Buffer.from(ro.initial ?? []).toString('latin1');
    for (const p of o.programs) {
      const insns = decode(p.insns);
      expect(p.mapRefs).toHaveLength(1);
      const off = insns[p.mapRefs[0].insn + 1].imm;
      const fmt = text.slice(off, text.indexOf('\0', off));
      expect(fmt).toBe(p.name === 'hello_exec' ? 'exec pid=%d comm=%s' : 'connect fd=%d uid=%u gid=%u len=%d');
    }
  });

  it('appends .text subprograms and rewrites call offsets to their starts', () => {
    const o = obj('pathstat');
    const p = o.programs[0];
    expect(p.subprograms.map((s) => s.name)).toEqual(['depth', 'fnv1a']);
    const insns = decode(p.insns);
    const starts = new Map(p.subprograms.map((s) => [s.insn, s.name]));
    const called: string[] = [];
    insns.forEach((i, pc) => {
      if (i.opcode === OP_CALL && i.src === BPF_PSEUDO_CALL) called.push(starts.get(pc + i.imm + 1) ?? `bad target ${pc + i.imm + 1}`);
    });
    expect(called).toEqual(['depth', 'fnv1a']);
    // depth() begins with `w0 = 0` and fnv1a() with its 64-bit FNV offset basis.
    expect(insns[p.subprograms[0].insn].opcode).toBe(0xb4);
    const f = p.subprograms[1].insn;
    expect((BigInt(insns[f + 1].imm >>> 0) << 32n) | BigInt(insns[f].imm >>> 0)).toBe(14695981039346656037n);
  });

  it('maps linked instructions to C source lines from .BTF.ext', () => {
    const o = obj('pathstat');
    const p = o.programs[0];
    const insns = decode(p.insns);
    const reserve = insns.findIndex((i) => i.opcode === OP_CALL && i.src === 0 && i.imm === 1);
    const l = lineAt(p.lines, reserve);
    expect(l?.file).toMatch(/pathstat\.c$/);
    expect(l?.src).toContain('bpf_map_lookup_elem(&stats, &key)');
    expect(formatLine(l ?? { insn: 0, file: '', line: 0, col: 0, src: '' })).toMatch(/^pathstat\.c:\d+:\d+: struct path_stats \*st = bpf_map_lookup_elem/);
    // Lines of the appended subprograms follow them to their new place.
    const inFnv = lineAt(p.lines, (p.subprograms.find((s) => s.name === 'fnv1a')?.insn ?? 0) + 2);
    expect(inFnv?.src).toMatch(/fnv1a|for|h =|len/);
  });

  it('names the record struct of a ring buffer and decodes records with it', () => {
    const o = obj('connectlog');
    const rb = o.maps[0];
    expect(o.btf?.describe(rb.recordType ?? 0)).toBe('struct conn_event');
    const rec = new Uint8Array(48);
    const d = new DataView(rec.buffer);
    d.setUint32(0, 42, true);
    d.setUint32(4, 1000, true);
    d.setUint16(8, 2, true);
    d.setUint16(10, 443, true);
    rec.set([10, 0, 0, 1], 12);
    rec.set(Buffer.from('curl'), 32);
    const v = decodeValue(o.btf!, rb.recordType ?? 0, rec);
    expect(v).toEqual({ pid: 42, uid: 1000, family: 2, dport: 443, daddr4: 0x0100000a, daddr6: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], comm: 'curl' });
  });

  it('gives a ProgramSpec with the object maps shared by all programs', () => {
    const o = obj('counts');
    const specs = o.programs.map((p) => programSpec(o, p));
    expect(specs.map((s) => [s.name, s.progType, s.maps.length, s.license])).toEqual([
      ['count_exec', 'tracepoint', 4, 'Dual BSD/GPL'],
      ['count_connect', 'tracepoint', 4, 'Dual BSD/GPL'],
    ]);
    // count_connect uses port_counts and the two global-data maps, never exec_counts.
    expect([...new Set(specs[1].mapRefs.map((r) => specs[1].maps[r.map].name))].sort()).toEqual(['counts.bss', 'counts.data', 'port_counts']);
  });

  it('reports unsupported attach points without failing the object', async () => {
    const { compileC } = await import('./compile.js');
    const { writeFileSync, mkdtempSync, readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const { examplesDir } = await import('./compile.js');
    const dir = mkdtempSync(join(tmpdir(), 'kestrel-elf-'));
    const src = join(dir, 'misc.c');
    writeFileSync(
      src,
      `#include "${examplesDir()}/kestrel_bpf.h"
SEC("kprobe/__x64_sys_execve") int kp(void *ctx) { return 0; }
SEC("kprobe/do_sys_open") int kp2(void *ctx) { return 0; }
SEC("tp/sched/sched_process_exec") int tp1(void *ctx) { return 0; }
SEC("tracepoint/net/netif_receive_skb") int tp2(void *ctx) { return 0; }
SEC("socket") int sock(void *ctx) { return 0; }
SEC("xdp") int x(void *ctx) { return 2; }
SEC("fentry/do_exit") int fe(void *ctx) { return 0; }
char LICENSE[] SEC("license") = "MIT";
`,
    );
    const o = loadElf(new Uint8Array(readFileSync(compileC(src, dir))), { fileName: 'misc.o' });
    const byName = Object.fromEntries(o.programs.map((p) => [p.name, p.attach]));
    expect(byName.kp).toEqual({ progType: 'kprobe', hook: 'kprobe/__x64_sys_execve' });
    expect(byName.kp2.unsupported).toMatch(/do_sys_open/);
    expect(byName.tp1).toEqual({ progType: 'tracepoint', hook: 'tracepoint/sched/sched_process_exec' });
    expect(byName.tp2.unsupported).toMatch(/net:netif_receive_skb/);
    expect(byName.sock.progType).toBe('socket_filter');
    expect(byName.x.progType).toBe('xdp');
    expect(byName.fe.unsupported).toMatch(/fentry/);
    expect(o.gpl).toBe(false);
  });
});

describe('ELF loader scale', () => {
  it('loads an object with 300 programs, 100 maps and a shared subprogram quickly', async () => {
    const { compileC, examplesDir } = await import('./compile.js');
    const { writeFileSync, mkdtempSync, readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'kestrel-elf-'));
    const parts = [`#include "${examplesDir()}/kestrel_bpf.h"`, 'static __noinline u64 mix(u64 x) { return x * 31 + 7; }'];
    for (let m = 0; m < 100; m++) parts.push(`struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, u32); __type(value, u64); } m${m} SEC(".maps");`);
    for (let p = 0; p < 300; p++) {
      parts.push(`SEC("tracepoint/syscalls/sys_enter_execve") int p${p}(void *ctx) { u32 k = 0; u64 *v = bpf_map_lookup_elem(&m${p % 100}, &k); if (v) *v = mix(*v); return 0; }`);
    }
    parts.push('char LICENSE[] SEC("license") = "GPL";');
    const src = join(dir, 'many.c');
    writeFileSync(src, parts.join('\n'));
    const bytes = new Uint8Array(readFileSync(compileC(src, dir)));
    const t0 = performance.now();
    const o = loadElf(bytes, { fileName: 'many.o' });
    const ms = performance.now() - t0;
    expect(o.programs).toHaveLength(300);
    expect(o.maps).toHaveLength(100);
    expect(o.programs.every((p) => p.subprograms.length === 1 && p.subprograms[0].name === 'mix')).toBe(true);
    expect(o.programs[123].mapRefs.map((r) => o.maps[r.map].def.name)).toEqual(['m23']);
    expect(ms).toBeLessThan(3000);
  });
});

describe('objects built without -g', () => {
  it('load without BTF (with a warning) unless they declare BTF-defined maps', async () => {
    const { execFileSync } = await import('node:child_process');
    const { mkdtempSync, readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const { examplesDir } = await import('./compile.js');
    const dir = mkdtempSync(join(tmpdir(), 'kestrel-elf-'));
    const build = (name: string): Uint8Array => {
      const out = join(dir, `${name}.o`);
      execFileSync('clang', ['-O2', '-target', 'bpf', '-mcpu=v3', '-I/usr/include/x86_64-linux-gnu', '-c', join(examplesDir(), `${name}.c`), '-o', out]);
      return new Uint8Array(readFileSync(out));
    };
    const hello = loadElf(build('hello'), { fileName: 'hello.o' });
    expect(hello.btf).toBeUndefined();
    expect(hello.warnings.join()).toMatch(/no \.BTF section/);
    expect(hello.programs.map((p) => p.name)).toEqual(['hello_exec', 'hello_connect']);
    expect(() => loadElf(build('counts'), { fileName: 'counts.o' })).toThrow(/counts\.o: section '\.maps' holds BTF-defined maps but the object has no \.BTF section \(compile with -g\)/);
  });
});

describe('ELF loader errors', () => {
  it('rejects non-ELF, wrong class, wrong machine and truncated files with ElfError', () => {
    const good = raw.get('hello') ?? new Uint8Array();
    expect(() => loadElf(new Uint8Array(10))).toThrow(/too short/);
    expect(() => loadElf(new Uint8Array(100))).toThrow(/bad magic/);
    const c32 = good.slice();
    c32[4] = 1;
    expect(() => loadElf(c32)).toThrow(/not ELF64/);
    const be = good.slice();
    be[5] = 2;
    expect(() => loadElf(be)).toThrow(/little-endian/);
    const x86 = good.slice();
    x86[18] = 62;
    expect(() => loadElf(x86)).toThrow(/not a BPF object/);
    expect(() => loadElf(good.slice(0, good.length - 100), { fileName: 'cut.o' })).toThrow(ElfError);
    expect(() => loadElf(good.slice(0, good.length - 100), { fileName: 'cut.o' })).toThrow(/^cut\.o: section header table/);
  });

  it('rejects a section whose data runs past the end of the file', () => {
    const b = (raw.get('hello') ?? new Uint8Array()).slice();
    const d = new DataView(b.buffer);
    const shoff = Number(d.getBigUint64(40, true));
    // Section 3 is the first program section; point its data far past the end.
    d.setBigUint64(shoff + 3 * 64 + 24, BigInt(b.length + 4096), true);
    expect(() => loadElf(b)).toThrow(/section 3: data .* past end of file/);
  });

  it('rejects relocations with bad offsets or symbols', () => {
    const b = (raw.get('hello') ?? new Uint8Array()).slice();
    const d = new DataView(b.buffer);
    const shoff = Number(d.getBigUint64(40, true));
    const shnum = d.getUint16(60, true);
    let relOff = -1;
    for (let i = 0; i < shnum; i++) if (d.getUint32(shoff + i * 64 + 4, true) === 9 && relOff < 0) relOff = Number(d.getBigUint64(shoff + i * 64 + 24, true));
    const badOff = b.slice();
    new DataView(badOff.buffer).setBigUint64(relOff, 0x10000n, true);
    expect(() => loadElf(badOff)).toThrow(/offset outside the section's instructions/);
    const misaligned = b.slice();
    new DataView(misaligned.buffer).setBigUint64(relOff, 3n, true);
    expect(() => loadElf(misaligned)).toThrow(/offset outside/);
    const badSym = b.slice();
    new DataView(badSym.buffer).setUint32(relOff + 12, 9999, true);
    expect(() => loadElf(badSym)).toThrow(/symbol index 9999 out of range/);
    const notLddw = b.slice();
    // Relocate the first instruction of the section instead (a call, not an lddw).
    new DataView(notLddw.buffer).setBigUint64(relOff, 0n, true);
    expect(() => loadElf(notLddw)).toThrow(/call|cannot be relocated/);
  });

  it('refuses maps whose max_entries would exhaust memory, before creating any', async () => {
    const { compileC, examplesDir } = await import('./compile.js');
    const { createObjectMaps } = await import('./instantiate.js');
    const { createVm } = await import('../vm.js');
    const { writeFileSync, mkdtempSync, readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'kestrel-elf-'));
    const src = join(dir, 'huge.c');
    writeFileSync(
      src,
      `#include "${examplesDir()}/kestrel_bpf.h"
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 0x7fffffff); __type(key, u32); __type(value, u64); } huge SEC(".maps");
SEC("tracepoint/syscalls/sys_enter_execve") int p(void *ctx) { u32 k = 0; return bpf_map_lookup_elem(&huge, &k) != 0; }
char LICENSE[] SEC("license") = "GPL";
`,
    );
    const o = loadElf(new Uint8Array(readFileSync(compileC(src, dir))), { fileName: 'huge.o' });
    expect(o.maps[0].def.maxEntries).toBe(0x7fffffff);
    const vm = createVm();
    const t0 = performance.now();
    expect(() => createObjectMaps(o, vm)).toThrow(/map 'huge': max_entries 2147483647 .* needs about \d+ MiB; an object's maps may use at most 64 MiB/);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(vm.maps.size).toBe(0);
  });

  it('rejects the legacy maps section and huge section counts', () => {
    const b = (raw.get('counts') ?? new Uint8Array()).slice();
    const d = new DataView(b.buffer);
    d.setUint16(60, 0xfff0, true);
    expect(() => loadElf(b)).toThrow(/do not fit in the file/);
    // Rename ".maps" to "maps" in the section name table by shifting the name offset by one.
    const c = (raw.get('counts') ?? new Uint8Array()).slice();
    const cd = new DataView(c.buffer);
    const shoff = Number(cd.getBigUint64(40, true));
    const shnum = cd.getUint16(60, true);
    const shstr = cd.getUint16(62, true);
    const strOff = Number(cd.getBigUint64(shoff + shstr * 64 + 24, true));
    for (let i = 0; i < shnum; i++) {
      const nameOff = cd.getUint32(shoff + i * 64, true);
      const name = Buffer.from(c.subarray(strOff + nameOff, strOff + nameOff + 5)).toString('latin1');
      if (name === '.maps') cd.setUint32(shoff + i * 64, nameOff + 1, true);
    }
    expect(() => loadElf(c)).toThrow(/legacy 'maps' section/);
  });
});

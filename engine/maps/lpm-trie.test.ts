import { describe, expect, it } from 'vitest';
import { VmMemory, RegionKind } from '../memory.js';
import { createMap, MapError } from './index.js';
import { BPF_EXIST, BPF_F_NO_PREALLOC, BPF_MAP_TYPE_LPM_TRIE, BPF_NOEXIST } from './types.js';

/** {u32 prefixlen (host order); IPv4 address (network order)} */
function v4(cidr: string): Uint8Array {
  const [ip, len] = cidr.split('/');
  const k = new Uint8Array(8);
  new DataView(k.buffer).setUint32(0, Number(len ?? 32), true);
  k.set(ip.split('.').map(Number), 4);
  return k;
}
const val = (n: number): Uint8Array => new Uint8Array(new Uint32Array([n]).buffer);
const num = (b: Uint8Array | undefined): number | undefined => (b === undefined ? undefined : new DataView(b.buffer).getUint32(0, true));
function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof MapError) return e.code;
    throw e;
  }
  return undefined;
}
const def = { name: 'cidrs', type: BPF_MAP_TYPE_LPM_TRIE, keySize: 8, valueSize: 4, maxEntries: 8, flags: BPF_F_NO_PREALLOC };

describe('lpm_trie', () => {
  it('returns the longest matching prefix', () => {
    const mem = new VmMemory();
    const m = createMap(mem, def);
    m.update(v4('10.0.0.0/8'), val(8));
    m.update(v4('10.1.0.0/16'), val(16));
    m.update(v4('10.1.2.0/24'), val(24));
    m.update(v4('10.1.2.3/32'), val(32));
    m.update(v4('0.0.0.0/0'), val(0));
    expect(num(m.lookup(v4('10.1.2.3')))).toBe(32);
    expect(num(m.lookup(v4('10.1.2.4')))).toBe(24);
    expect(num(m.lookup(v4('10.1.3.4')))).toBe(16);
    expect(num(m.lookup(v4('10.200.3.4')))).toBe(8);
    expect(num(m.lookup(v4('192.168.0.1')))).toBe(0);
    // The lookup key's own prefixlen bounds the match.
    expect(num(m.lookup(v4('10.1.2.3/20')))).toBe(16);
    m.delete(v4('0.0.0.0/0'));
    expect(m.lookup(v4('192.168.0.1'))).toBeUndefined();
    expect(codeOf(() => m.delete(v4('10.1.0.0/15')))).toBe('ENOENT');
    m.delete(v4('10.1.2.0/24'));
    expect(num(m.lookup(v4('10.1.2.4')))).toBe(16);
    expect(m.count).toBe(3);
  });

  it('works program-side from key bytes in memory', () => {
    const mem = new VmMemory();
    const m = createMap(mem, def);
    m.update(v4('172.16.0.0/12'), val(12));
    const a = mem.alloc(8);
    mem.addRegion(a.addr, 8, RegionKind.Stack, true);
    mem.u8.set(v4('172.20.1.1'), a.addr);
    const p = m.lookupAddr(a.addr, 0);
    expect(mem.dv.getUint32(p, true)).toBe(12);
    expect(mem.regionKind(mem.regionAt(p))).toBe(RegionKind.MapValue);
    mem.u8.set(v4('172.32.1.1'), a.addr);
    expect(m.lookupAddr(a.addr, 0)).toBe(0);
  });

  it('checks flags, prefix length, capacity and creation like Linux', () => {
    const mem = new VmMemory();
    const m = createMap(mem, { ...def, maxEntries: 2 });
    expect(codeOf(() => m.update(v4('1.2.3.4/33'), val(1)))).toBe('EINVAL');
    expect(codeOf(() => m.update(v4('1.2.3.4/32'), val(1), 3))).toBe('EINVAL');
    m.update(v4('1.0.0.0/8'), val(1));
    expect(codeOf(() => m.update(v4('1.0.0.0/8'), val(1), BPF_NOEXIST))).toBe('EEXIST');
    expect(codeOf(() => m.update(v4('2.0.0.0/8'), val(1), BPF_EXIST))).toBe('ENOENT');
    m.update(v4('2.0.0.0/8'), val(2));
    expect(codeOf(() => m.update(v4('3.0.0.0/8'), val(3)))).toBe('ENOSPC');
    m.update(v4('2.0.0.0/8'), val(22)); // replacing in a full trie is fine
    expect(num(m.lookup(v4('2.2.2.2')))).toBe(22);
    expect([...m.keys()].length).toBe(2);
    expect(codeOf(() => createMap(mem, { ...def, flags: 0 }))).toBe('EINVAL');
    expect(codeOf(() => createMap(mem, { ...def, keySize: 4 }))).toBe('EINVAL');
    expect(codeOf(() => createMap(mem, { ...def, keySize: 261 }))).toBe('EINVAL');
  });

  it('handles IPv6-sized keys (max prefix 128)', () => {
    const mem = new VmMemory();
    const m = createMap(mem, { ...def, keySize: 20 });
    const k = (bytes: number[], len: number): Uint8Array => {
      const b = new Uint8Array(20);
      new DataView(b.buffer).setUint32(0, len, true);
      b.set(bytes, 4);
      return b;
    };
    m.update(k([0x20, 0x01, 0x0d, 0xb8], 32), val(32));
    m.update(k([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 128), val(128));
    expect(num(m.lookup(k([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 128)))).toBe(128);
    expect(num(m.lookup(k([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], 128)))).toBe(32);
    expect(codeOf(() => m.update(k([], 129), val(1)))).toBe('EINVAL');
  });
});

// The maps a compiled rule set uses: the simulated kernel's (process cache, containers, names,
// DNS), and the compiler's own (scratch, automata tables, string sets, the connect stash, the
// ring buffer and its drop counter), with the contents the compiler fills in at load time.

import { KERNEL_MAP_DEFS } from '../../collectors/kernel/maps.js';
import {
  BPF_F_RDONLY_PROG,
  BPF_MAP_TYPE_ARRAY,
  BPF_MAP_TYPE_HASH,
  BPF_MAP_TYPE_LPM_TRIE,
  BPF_F_NO_PREALLOC,
  BPF_MAP_TYPE_LRU_HASH,
  BPF_MAP_TYPE_RINGBUF,
  type MapDef,
} from '../../engine/maps/types.js';
import { DROP_COUNTER_MAP } from '../../alerts/record-format.js';
import type { Dfa, MultiDfa } from './automata.js';
import { CONN } from './fields.js';

export const RINGBUF_MAP = 'kestrel_events';
export const SCRATCH_MAP = 'kestrel_scratch';
export const AUTOMATA_MAP = 'kestrel_automata';
export const CONNECT_ARGS_MAP = 'kestrel_connect_args';
export const NETS_MAP = 'kestrel_nets';
/** Address → bitmap of the rule set's DNS name lists holding one of its names (kept by the kernel). */
export const DNS_SETS_MAP = 'kestrel_dns_sets';

/**
 * The scratch map's single value: flags, the number of ancestors the preamble found, a string
 * walk's state, the event generation, then per-event cache areas.
 */
export const SCRATCH = { missing: 0, ancestors: 4, state: 8, gen: 16, cache: 24 } as const;
export const SCRATCH_SIZE = SCRATCH.cache;

export interface AutomatonRef {
  /** index of the automata map in the program's map list */
  map: number;
  /** offset of this automaton in the map's single value */
  offset: number;
  /** offsets relative to `offset` */
  classOff: number;
  acceptOff: number;
  nextOff: number;
  /** states are padded to mask + 1 */
  mask: number;
  /** bytes per state in the accept table: 1 (a flag) or 8 (a MultiDfa's u64 pattern mask) */
  acceptStride: 1 | 8;
}

/** Maps shared by every program of one compiled rule set, and their initial contents. */
export class MapRegistry {
  readonly defs = new Map<string, MapDef>();
  /** Initial entries, key → value, filled before the programs run. */
  readonly contents = new Map<string, { key: Uint8Array; value: Uint8Array }[]>();
  private automata: Uint8Array[] = [];
  private automataSize = 0;
  private readonly automatonIndex = new Map<string, number>();
  private readonly stringSets = new Map<number, { sets: Map<string, number>; members: Map<string, Set<number>> }>();

  constructor(ringbufSize: number) {
    for (const d of KERNEL_MAP_DEFS()) this.defs.set(d.name, d);
    this.defs.set(SCRATCH_MAP, { name: SCRATCH_MAP, type: BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: SCRATCH_SIZE, maxEntries: 1, flags: 0 });
    this.defs.set(AUTOMATA_MAP, { name: AUTOMATA_MAP, type: BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: 8, maxEntries: 1, flags: BPF_F_RDONLY_PROG });
    this.defs.set(CONNECT_ARGS_MAP, { name: CONNECT_ARGS_MAP, type: BPF_MAP_TYPE_LRU_HASH, keySize: 8, valueSize: CONN.size, maxEntries: 4096, flags: 0 });
    this.defs.set(RINGBUF_MAP, { name: RINGBUF_MAP, type: BPF_MAP_TYPE_RINGBUF, keySize: 0, valueSize: 0, maxEntries: ringbufSize, flags: 0 });
    this.defs.set(DROP_COUNTER_MAP.name, { ...DROP_COUNTER_MAP });
  }

  private readonly cacheSlots = new Map<string, number>();
  private cacheEnd: number = SCRATCH.cache;

  /**
   * A per-event cache slot in the scratch value ({u64 generation; u64 word}): lookups whose
   * result several rules test (the same field in string sets) are done once per event.
   */
  cacheSlot(key: string): number {
    return this.cacheArea(key, 16);
  }

  /**
   * A per-event cache area of `size` bytes (8-aligned, starting with the u64 generation it was
   * filled at): records copied out of a lookup that several checks read.
   */
  cacheArea(key: string, size: number): number {
    let off = this.cacheSlots.get(key);
    if (off === undefined) {
      off = this.cacheEnd;
      this.cacheEnd += (size + 7) & ~7;
      this.cacheSlots.set(key, off);
      this.def(SCRATCH_MAP).valueSize = this.cacheEnd;
    }
    return off;
  }

  def(name: string): MapDef {
    const d = this.defs.get(name);
    if (d === undefined) throw new Error(`unknown compiler map ${name}`);
    return d;
  }

  /**
   * Store a DFA's tables (deduplicated) and return its offset in the automata value. States are
   * padded to a power of two and the next-state table by 256 entries, so a walker can bound a
   * state with a mask and a class by its byte load instead of branching (fewer verifier paths).
   */
  automaton(dfa: Dfa | MultiDfa, nulIsSpace: boolean, flagged?: Uint8Array): Omit<AutomatonRef, 'map'> {
    const classOf = dfa.classOf.slice();
    if (nulIsSpace) classOf[0] = classOf[0x20];
    let padded = 1;
    while (padded < dfa.states) padded *= 2;
    const acceptStride = 'masks' in dfa ? 8 : 1;
    const acceptLen = (padded * acceptStride + 7) & ~7;
    const nextEntries = padded * dfa.classes + 256;
    const bytes = new Uint8Array(256 + acceptLen + nextEntries * 2);
    bytes.set(classOf, 0);
    const dv = new DataView(bytes.buffer);
    if ('masks' in dfa) {
      for (let st = 0; st < dfa.states; st++) {
        dv.setUint32(256 + 8 * st, dfa.masks[2 * st], true);
        dv.setUint32(256 + 8 * st + 4, dfa.masks[2 * st + 1], true);
      }
    } else bytes.set(dfa.accept, 256);
    // `flagged` states get bit 15 in every entry that leads to them (see codegen's feedInline).
    dfa.next.forEach((v, i) => dv.setUint16(256 + acceptLen + 2 * i, flagged !== undefined && flagged[v] === 1 ? v | 0x8000 : v, true));
    const key = Buffer.from(bytes).toString('base64');
    let offset = this.automatonIndex.get(key);
    if (offset === undefined) {
      offset = this.automataSize;
      this.automata.push(bytes);
      this.automataSize += (bytes.length + 7) & ~7;
      this.automatonIndex.set(key, offset);
      this.def(AUTOMATA_MAP).valueSize = Math.max(8, this.automataSize);
    }
    return { offset, classOff: 0, acceptOff: 256, nextOff: 256 + acceptLen, mask: padded - 1, acceptStride };
  }

  /** A string set of fixed-width keys; returns the map name and the set's bit. */
  stringSet(cap: number, items: readonly string[]): { name: string; bit: number } {
    const name = `kestrel_strset_${cap}`;
    let g = this.stringSets.get(cap);
    if (g === undefined) {
      g = { sets: new Map(), members: new Map() };
      this.stringSets.set(cap, g);
      this.defs.set(name, { name, type: BPF_MAP_TYPE_HASH, keySize: cap, valueSize: 8, maxEntries: 1, flags: 0 });
    }
    const key = [...items].sort().join('\u0000');
    let bit = g.sets.get(key);
    if (bit === undefined) {
      bit = g.sets.size;
      g.sets.set(key, bit);
      for (const it of items) {
        const bytes = Buffer.from(it, 'utf8');
        if (bytes.length > cap - 1) continue; // can never be stored whole: never equal
        let s = g.members.get(it);
        if (s === undefined) {
          s = new Set();
          g.members.set(it, s);
        }
        s.add(bit);
      }
      const d = this.def(name);
      d.valueSize = 8 * Math.ceil(g.sets.size / 64);
      d.maxEntries = Math.max(1, g.members.size);
    }
    return { name, bit };
  }

  /** The DNS name lists (normalised names), by bit; the kernel keeps DNS_SETS_MAP from them. */
  readonly dnsLists: string[][] = [];
  private readonly dnsListBits = new Map<string, number>();

  /** A list of DNS names (fd.sip.name in (...)); returns its bit in DNS_SETS_MAP's value. */
  dnsNameSet(names: readonly string[]): { name: string; bit: number } {
    const norm = [...new Set(names)].sort();
    const key = norm.join('\u0000');
    let bit = this.dnsListBits.get(key);
    if (bit === undefined) {
      bit = this.dnsLists.length;
      this.dnsListBits.set(key, bit);
      this.dnsLists.push(norm);
      this.defs.set(DNS_SETS_MAP, {
        name: DNS_SETS_MAP,
        type: BPF_MAP_TYPE_LRU_HASH,
        keySize: 16,
        valueSize: 8 * Math.ceil(this.dnsLists.length / 64),
        maxEntries: 8192,
        flags: 0,
      });
    }
    return { name: DNS_SETS_MAP, bit };
  }

  private readonly netSets = new Map<string, number>();
  private readonly netEntries = new Map<string, { addr: Uint8Array; prefix: number; sets: Set<number> }>();

  /**
   * A set of networks in the shared LPM trie (`kestrel_nets`, key {u32 prefixlen; u8 addr[16]},
   * IPv4 as ::ffff:a.b.c.d/96+n); returns the set's bit in the value bitmap.
   */
  netSet(nets: readonly { bytes: Uint8Array; prefix: number }[]): { name: string; bit: number } {
    const norm = nets.map((n) =>
      n.bytes.length === 4
        ? { addr: Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...n.bytes]), prefix: n.prefix + 96 }
        : { addr: Uint8Array.from(n.bytes), prefix: n.prefix },
    );
    const key = norm.map((n) => `${Buffer.from(n.addr).toString('hex')}/${n.prefix}`).sort().join(',');
    let bit = this.netSets.get(key);
    if (bit === undefined) {
      bit = this.netSets.size;
      this.netSets.set(key, bit);
      for (const n of norm) {
        const masked = maskAddr(n.addr, n.prefix);
        const k = `${Buffer.from(masked).toString('hex')}/${n.prefix}`;
        let ent = this.netEntries.get(k);
        if (ent === undefined) {
          ent = { addr: masked, prefix: n.prefix, sets: new Set() };
          this.netEntries.set(k, ent);
        }
        ent.sets.add(bit);
      }
      this.defs.set(NETS_MAP, {
        name: NETS_MAP,
        type: BPF_MAP_TYPE_LPM_TRIE,
        keySize: 20,
        valueSize: 8 * Math.ceil(this.netSets.size / 64),
        maxEntries: Math.max(1, this.netEntries.size),
        flags: BPF_F_NO_PREALLOC,
      });
    }
    return { name: NETS_MAP, bit };
  }

  /**
   * A read-only hash map whose contents the compiler decides outright (the name-guard maps of
   * program.ts): defined, or redefined, with exactly these entries.
   */
  fixedHash(name: string, keySize: number, valueSize: number, entries: { key: Uint8Array; value: Uint8Array }[]): string {
    this.defs.set(name, { name, type: BPF_MAP_TYPE_HASH, keySize, valueSize, maxEntries: Math.max(1, entries.length), flags: BPF_F_RDONLY_PROG });
    this.contents.set(name, entries);
    return name;
  }

  /** Final contents of the compiler's maps (call after every program is generated). */
  finish(): void {
    const auto = new Uint8Array(this.def(AUTOMATA_MAP).valueSize);
    let off = 0;
    for (const a of this.automata) {
      auto.set(a, off);
      off += (a.length + 7) & ~7;
    }
    this.contents.set(AUTOMATA_MAP, [{ key: new Uint8Array(4), value: auto }]);
    if (this.netEntries.size > 0) {
      const words = Math.ceil(this.netSets.size / 64);
      const all = [...this.netEntries.values()];
      const entries: { key: Uint8Array; value: Uint8Array }[] = [];
      for (const ent of all) {
        // A longest-prefix lookup returns one entry: it must carry the bits of every shorter
        // network that also covers it.
        const bits = new Set<number>();
        for (const other of all) if (other.prefix <= ent.prefix && covers(other.addr, other.prefix, ent.addr)) for (const b of other.sets) bits.add(b);
        const key = new Uint8Array(20);
        new DataView(key.buffer).setUint32(0, ent.prefix, true);
        key.set(ent.addr, 4);
        const value = new Uint8Array(8 * words);
        const dv = new DataView(value.buffer);
        for (const b of bits) {
          const w = Math.floor(b / 64);
          dv.setBigUint64(8 * w, dv.getBigUint64(8 * w, true) | (1n << BigInt(b % 64)), true);
        }
        entries.push({ key, value });
      }
      this.contents.set(NETS_MAP, entries);
    }
    for (const [cap, g] of this.stringSets) {
      const name = `kestrel_strset_${cap}`;
      const words = Math.ceil(g.sets.size / 64);
      const entries: { key: Uint8Array; value: Uint8Array }[] = [];
      for (const [item, bits] of g.members) {
        const key = new Uint8Array(cap);
        key.set(Buffer.from(item, 'utf8'));
        const value = new Uint8Array(8 * words);
        const dv = new DataView(value.buffer);
        for (const b of bits) {
          const w = Math.floor(b / 64);
          dv.setBigUint64(8 * w, dv.getBigUint64(8 * w, true) | (1n << BigInt(b % 64)), true);
        }
        entries.push({ key, value });
      }
      this.contents.set(name, entries);
    }
  }
}

function maskAddr(addr: Uint8Array, prefix: number): Uint8Array {
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) {
    const bits = Math.max(0, Math.min(8, prefix - 8 * i));
    out[i] = addr[i] & ((0xff << (8 - bits)) & 0xff);
  }
  return out;
}

function covers(net: Uint8Array, prefix: number, addr: Uint8Array): boolean {
  const m = maskAddr(addr, prefix);
  for (let i = 0; i < 16; i++) if (m[i] !== net[i]) return false;
  return true;
}

/** One program's view: its own list of maps (indexes used by lddw), drawn from the registry. */
export class CompilerMaps {
  readonly used: string[] = [];

  constructor(readonly registry: MapRegistry) {}

  index(name: string): number {
    let i = this.used.indexOf(name);
    if (i < 0) {
      this.registry.def(name);
      this.used.push(name);
      i = this.used.length - 1;
    }
    return i;
  }

  automaton(dfa: Dfa | MultiDfa, nulIsSpace: boolean, flagged?: Uint8Array): AutomatonRef {
    const a = this.registry.automaton(dfa, nulIsSpace, flagged);
    return { map: this.index(AUTOMATA_MAP), ...a };
  }

  stringSet(cap: number, items: readonly string[]): { map: number; bit: number } {
    const s = this.registry.stringSet(cap, items);
    return { map: this.index(s.name), bit: s.bit };
  }

  dnsNameSet(names: readonly string[]): { map: number; bit: number } {
    const s = this.registry.dnsNameSet(names);
    return { map: this.index(s.name), bit: s.bit };
  }

  netSet(nets: readonly { bytes: Uint8Array; prefix: number }[]): { map: number; bit: number } {
    const s = this.registry.netSet(nets);
    return { map: this.index(s.name), bit: s.bit };
  }

  /** The program's MapDefs, in lddw index order (live objects: sizes settle at finish()). */
  defs(): MapDef[] {
    return this.used.map((n) => this.registry.def(n));
  }
}

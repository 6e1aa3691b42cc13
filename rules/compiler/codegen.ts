// Typed conditions → eBPF. One program per hook evaluates every rule attached to it; each check
// compiles to loads from the kernel's records (process cache, ancestors, containers, names,
// the connect stash) and compares, with short-circuit jumps for and/or/not.
//
// Register use inside a program:
//   r6  the tracepoint context (kept for the whole program)
//   r7  the record a check reads (process, ancestor, container, ...)
//   r8  an automaton's tables during a string walk
//   r9  the ring-buffer record while a match is written; a walk's phase flag inside checks
//   r0-r5 temporaries. They are dead at every shared label (each check loads what it reads),
//   and verifiers prune on live registers only (Linux's liveness marks, Kestrel's liveness.ts),
//   so states at rule and check boundaries prune without clearing them.
// Stack (fp = r10):
//   fp-8   process record pointer           fp-16  parent record pointer (or the process's)
//   fp-24  container record pointer         fp-32  connect stash pointer (connect hook)
//   fp-40  u32 key scratch                  fp-48  u64 key scratch
//   fp-72..-56  16-byte key scratch (DNS, LPM)
//   fp-232..-280  ancestors 2..8 (or the process's record; scratch.ancestors says how many are real)
//   fp-288 the bytes a string walk reads        fp-296 the run's pid_tgid
// Records without a pointer slot (user and group names, the socket's local end) are copied into
// the scratch value once per event, at their first use (see cachedRecord).

import {
  BPF_ADD,
  BPF_AND,
  BPF_ARSH,
  BPF_JEQ,
  BPF_JGE,
  BPF_JGT,
  BPF_JLE,
  BPF_JLT,
  BPF_JNE,
  BPF_JSET,
  BPF_JSGE,
  BPF_JSGT,
  BPF_JSLE,
  BPF_JSLT,
  BPF_LSH,
  BPF_MUL,
  BPF_OR,
  BPF_RSH,
  BPF_SUB,
} from '../../engine/isa.js';
import { KP, KS, KU } from '../../collectors/kernel/maps.js';
import { normName } from '../../collectors/process-table.js';
import type { TCheck, TExpr, TField, TFieldExpr, TValue } from '../condition/ast.js';
import { forEachCheck } from '../condition/ast.js';
import type { Hook } from '../fields/types.js';
import { Emitter, type Label, type Reg, type Size } from './emit.js';
import { AF_INET, AF_INET6, AF_UNIX, CONN, MAX_ANCESTORS, SA, Unsupported, accessFor, type Access, type Base, type Side, type StrShape } from './fields.js';
import {
  alternatives,
  compileDfa,
  containsRe,
  endswithRe,
  equalsRe,
  globRe,
  pmatchRe,
  regexRe,
  startswithRe,
  type Dfa,
  type Re,
  PatternError,
} from './automata.js';
import { SCRATCH, SCRATCH_MAP, type AutomatonRef as MapAutomatonRef, type CompilerMaps } from './maps.js';
import { START, reKey } from './automata.js';
import type { SharedWalks, WalkGroupPlan } from './shared-walks.js';
import { exprKey } from './memo.js';

type AutomatonRef = MapAutomatonRef & { classes: number };

export const FP_PROC = -8;
export const FP_PARENT = -16;
export const FP_CONTAINER = -24;
export const FP_CONN = -32;
export const FP_KEY32 = -40;
export const FP_KEY64 = -48;
export const FP_KEY128 = -72;
/** LPM trie key {u32 prefixlen; u8 addr[16]} (20 bytes, 8-aligned slot). */
export const FP_LPM = -96;
/** bpf_get_current_pid_tgid() of the run, read once by the preamble. */
export const FP_PID_TGID = -296;
/** Pointer to the bytes a string walk reads (the bpf_loop callback's context). */
const FP_WALK = -288;
/** Bit 15 of an automaton's next-state entry: the state has sticky pattern bits (shared walks). */
export const STATE_FLAG = 0x8000;
/** Ancestors 2..MAX_ANCESTORS, below the DNS key area (fp-224..-80). */
const FP_ANCESTORS = -232;

/** Stack slot of the pointer to the ancestor record at `depth` (1: the parent). */
export function fpAncestor(depth: number): number {
  return depth === 1 ? FP_PARENT : FP_ANCESTORS - 8 * (depth - 2);
}

/** scratch map value: u32 flags at 0. */
export const SCRATCH_MISSING = 0;
export const MISSING_CONTAINER = 2;

const HELPER_MAP_LOOKUP = 1;
const HELPER_LOOP = 181;

const enc = new TextEncoder();


const ERRNO_BY_NAME: Record<string, number> = {
  EPERM: 1, ENOENT: 2, ESRCH: 3, EINTR: 4, EIO: 5, E2BIG: 7, ENOEXEC: 8, EBADF: 9, EAGAIN: 11, ENOMEM: 12,
  EACCES: 13, EFAULT: 14, EEXIST: 17, ENOTDIR: 20, EISDIR: 21, EINVAL: 22, EMFILE: 24, ETXTBSY: 26, ENOSPC: 28,
  ENAMETOOLONG: 36, ELOOP: 40, EAFNOSUPPORT: 97, EADDRINUSE: 98, EADDRNOTAVAIL: 99, ENETUNREACH: 101,
  ECONNRESET: 104, ETIMEDOUT: 110, ECONNREFUSED: 111, EHOSTUNREACH: 113, EALREADY: 114, EINPROGRESS: 115,
};

function bytesOf(s: string): Uint8Array {
  return enc.encode(s);
}

/** Little-endian integer of up to 8 bytes (as BigInt). */
function leWord(b: Uint8Array, off: number, n: number): bigint {
  let v = 0n;
  for (let k = n - 1; k >= 0; k--) v = (v << 8n) | BigInt(b[off + k] ?? 0);
  return v;
}

export class CheckCompiler {
  constructor(
    readonly e: Emitter,
    readonly hook: Hook,
    readonly maps: CompilerMaps,
    /** How many ancestors the preamble looks up into their stack slots. */
    readonly ancestorDepth: number = MAX_ANCESTORS,
    /** Walks to log (first pass) and the shared automata to use (final program). */
    readonly shared: SharedWalks = {},
    /** Keys (exprKey) of the sub-conditions evaluated once per event (see memo.ts). */
    readonly memo: ReadonlySet<string> = new Set(),
  ) {}

  /** Memoised nodes being compiled (their own evaluation must not read the slot). */
  private readonly computing = new Set<TExpr>();

  // ---------------------------------------------------------------- expressions

  /** Jump to `t` when the expression holds, to `f` otherwise. */
  expr(x: TExpr, t: Label, f: Label): void {
    const e = this.e;
    if (this.memo.size > 0 && x.kind !== 'not' && x.kind !== 'const' && !this.computing.has(x) && this.memo.has(exprKey(x))) {
      this.memoized(x, t, f);
      return;
    }
    switch (x.kind) {
      case 'const':
        e.ja(x.value ? t : f);
        return;
      case 'not':
        this.expr(x.child, f, t);
        return;
      case 'and': {
        for (let i = 0; i < x.children.length; i++) {
          if (i === x.children.length - 1) this.expr(x.children[i], t, f);
          else {
            const next = e.label();
            this.expr(x.children[i], next, f);
            e.bind(next);
          }
        }
        if (x.children.length === 0) e.ja(t);
        return;
      }
      case 'or': {
        // String checks on the same field (`proc.cmdline contains A or proc.cmdline contains B
        // ...`) share one automaton walk: one pass over the bytes instead of one per check.
        const { groups, rest } = this.walkGroups(x.children);
        const items: ((tt: Label, ff: Label) => void)[] = [
          ...groups.map((g) => (tt: Label, ff: Label) => this.withExits(tt, ff, (lt, lf) => {
            this.loadBase(g.base, lf);
            if (g.shape.t === 'cstr' && (g.shape.off === KP.comm || g.shape.off === KP.exe) && PROC_BASES.has(g.base.kind)) {
              e.ldx(1, 0, 7, g.shape.off);
              e.jmp(BPF_JEQ, 0, { imm: 0 }, lf);
            }
            this.walkAny(g.shape, g.res, lt, lf, JSON.stringify(g.base));
          })),
          ...rest.map((c) => (tt: Label, ff: Label) => this.expr(c, tt, ff)),
        ];
        for (let i = 0; i < items.length; i++) {
          if (i === items.length - 1) items[i](t, f);
          else {
            const next = e.label();
            items[i](t, next);
            e.bind(next);
          }
        }
        if (items.length === 0) e.ja(f);
        return;
      }
      case 'check':
        this.check(x, t, f);
        return;
    }
  }

  /**
   * Jump to `fresh` when the per-event cache slot at `slot` (its first u64 the generation it was
   * filled at) was filled during this event; otherwise fall through with r1 = the scratch value
   * and r2 = the event generation.
   */
  private ifFresh(slot: number, fresh: Label): void {
    const e = this.e;
    e.ldMapValue(1, this.maps.index(SCRATCH_MAP), 0);
    e.ldx(8, 2, 1, SCRATCH.gen);
    e.ldx(8, 3, 1, slot);
    e.jmp(BPF_JEQ, 2, 3, fresh);
  }

  /** Stamp the slot with this event's generation and store `value` (a register or a constant) after it. */
  private stamp(slot: number, value: Reg | { imm: number }): void {
    const e = this.e;
    e.ldMapValue(1, this.maps.index(SCRATCH_MAP), 0);
    e.ldx(8, 2, 1, SCRATCH.gen);
    e.stx(8, 1, slot, 2);
    if (typeof value === 'number') e.stx(8, 1, slot + 8, value);
    else e.st(8, 1, slot + 8, value.imm);
  }

  /**
   * A repeated sub-condition: the slot {generation, truth} says whether this event already
   * evaluated it; if not, evaluate and store.
   */
  private memoized(x: TExpr, t: Label, f: Label): void {
    const e = this.e;
    const scratch = this.maps.index(SCRATCH_MAP);
    const slot = this.maps.registry.cacheSlot(`memo|${exprKey(x)}`);
    this.withExits(t, f, (lt, lf) => {
      const known = e.label();
      const ct = e.label();
      const cf = e.label();
      this.ifFresh(slot, known);
      this.computing.add(x);
      this.expr(x, ct, cf);
      this.computing.delete(x);
      for (const [l, v, out] of [[ct, 1, lt], [cf, 0, lf]] as const) {
        e.bind(l);
        this.stamp(slot, { imm: v });
        e.ja(out);
      }
      e.bind(known);
      e.ldMapValue(1, scratch, 0);
      e.ldx(8, 2, 1, slot + 8);
      e.jmp(BPF_JNE, 2, { imm: 0 }, lt);
      e.ja(lf);
    });
  }

  /** Local true/false labels for a body (jump threading in the emitter removes the hop). */
  private withExits(t: Label, f: Label, body: (lt: Label, lf: Label) => void): void {
    const e = this.e;
    const lt = e.label();
    const lf = e.label();
    body(lt, lf);
    e.bind(lf);
    e.ja(f);
    e.bind(lt);
    e.ja(t);
  }

  /** Children of an `or` that are automaton string checks, grouped by the field they read. */
  private walkGroups(children: readonly TExpr[]): { groups: { base: Base; shape: StrShape; res: Re[] }[]; rest: TExpr[] } {
    const byField = new Map<string, { base: Base; shape: StrShape; res: Re[]; checks: TExpr[] }>();
    const rest: TExpr[] = [];
    for (const c of children) {
      const g = c.kind === 'check' ? this.walkable(c) : undefined;
      if (g === undefined) {
        rest.push(c);
        continue;
      }
      const cur = byField.get(g.key);
      if (cur === undefined) byField.set(g.key, { base: g.base, shape: g.shape, res: [g.re], checks: [c] });
      else {
        cur.res.push(g.re);
        cur.checks.push(c);
      }
    }
    const groups: { base: Base; shape: StrShape; res: Re[] }[] = [];
    for (const g of byField.values()) {
      if (g.res.length >= 2) groups.push(g);
      else rest.push(...g.checks);
    }
    return { groups, rest };
  }

  /** Split alternatives into groups whose union automaton stays within the state limit. */
  private splitForDfa(res: readonly Re[]): { res: Re[]; dfa?: Dfa }[] {
    if (res.length <= 1) return [{ res: [...res] }];
    try {
      return [{ res: [...res], dfa: compileDfa(alternatives(res)) }];
    } catch (err) {
      if (!(err instanceof PatternError)) throw err;
      const mid = Math.ceil(res.length / 2);
      return [...this.splitForDfa(res.slice(0, mid)), ...this.splitForDfa(res.slice(mid))];
    }
  }

  /** A check that a DFA walk can decide, with the field it reads; undefined otherwise. */
  private walkable(c: TCheck): { key: string; base: Base; shape: StrShape; re: Re } | undefined {
    if (c.lhs.kind !== 'field' || c.rhs.kind !== 'values' || c.modifier !== undefined) return undefined;
    let acc: Access;
    try {
      acc = accessFor(c.lhs, this.hook);
    } catch {
      return undefined;
    }
    if (acc.t !== 'str' || acc.base.kind === 'anyAncestor') return undefined;
    const strs = c.rhs.values.map((v) => (v.kind === 'string' ? v.value : v.kind === 'pattern' ? v.text : v.kind === 'number' ? v.text : undefined));
    if (strs.some((x) => x === undefined)) return undefined;
    const ss = strs as string[];
    let re: Re;
    try {
      switch (c.op) {
        case 'contains':
          re = containsRe(ss[0]);
          break;
        case 'icontains':
          re = containsRe(ss[0], true);
          break;
        case 'endswith':
          re = endswithRe(ss[0]);
          break;
        case 'glob':
        case 'iglob':
          re = globRe(ss[0], c.op === 'iglob');
          break;
        case 'regex':
          re = regexRe(ss[0]);
          break;
        default:
          return undefined;
      }
    } catch {
      return undefined;
    }
    const key = `${JSON.stringify(acc.base)}|${JSON.stringify(acc.shape)}`;
    return { key, base: acc.base, shape: acc.shape, re };
  }

  // ---------------------------------------------------------------- checks

  check(c: TCheck, t: Label, f: Label): void {
    if (c.lhs.kind !== 'field') throw new Unsupported(`transformer ${c.lhs.fn}() is not compiled yet`);
    if (c.rhs.kind === 'field') throw new Unsupported('comparisons with another field (val()) are not compiled yet');
    if (c.modifier !== undefined) throw new Unsupported(`operator modifier ${c.modifier} is not compiled yet`);
    const field = c.lhs;
    const acc = accessFor(field, this.hook);
    const values = c.rhs.kind === 'values' ? c.rhs.values : [];
    if (acc.t === 'missing') {
      // No value: every comparison (and exists) is false.
      this.e.ja(f);
      return;
    }
    if (acc.t === 'const') {
      this.e.ja(constCheck(c.op, acc.value, values) ? t : f);
      return;
    }
    const multi = ((acc.t === 'str' || acc.t === 'int') && acc.base.kind === 'anyAncestor') || ((acc.t === 'ip' || acc.t === 'port') && acc.side === 'either');
    if (multi && c.op === '!=') {
      // A field with several values: `!=` holds when it has values and none is equal (libsinsp:
      // fd.ip != X means neither end is X; proc.aname != X means no ancestor is X).
      const eq: TCheck = { ...c, op: '=' };
      this.withExits(t, f, (lt, lf) => {
        const present = this.e.label();
        if (acc.t === 'ip' || acc.t === 'port') {
          const build = acc.t === 'port' ? (sd: 'server' | 'client', m: Label): void => this.loadPort(sd, m) : (sd: 'server' | 'client', m: Label): void => this.buildAddrKey(sd, m);
          this.sides('either', build, (yes) => this.e.ja(yes), present, lf);
        } else this.loadBase({ kind: 'ancestor', depth: 1 }, lf);
        this.e.bind(present);
        if (acc.t === 'ip' || acc.t === 'port') this.onRecord(acc, eq, values, lf, lt);
        else this.anyAncestor((rt, rf) => this.onRecord(acc, eq, values, rt, rf), lf, lt);
      });
      return;
    }
    this.withExits(t, f, (lt, lf) => {
      if (acc.t === 'str' && acc.base.kind === 'anyAncestor') {
        this.anyAncestor((rt, rf) => this.onRecord(acc, c, values, rt, rf), lt, lf);
        return;
      }
      if (acc.t === 'int' && acc.base.kind === 'anyAncestor') {
        this.anyAncestor((rt, rf) => this.onRecord(acc, c, values, rt, rf), lt, lf);
        return;
      }
      this.onRecord(acc, c, values, lt, lf);
    });
  }

  /** Load the access's record into r7 (jumping to `missing` when there is none), then compare. */
  private onRecord(acc: Access, c: TCheck, values: readonly TValue[], t: Label, f: Label): void {
    const base = baseOf(acc);
    if (base !== undefined) this.loadBase(base, f);
    if (acc.t === 'str' && acc.shape.t === 'cstr' && (acc.shape.off === KP.comm || acc.shape.off === KP.exe) && PROC_BASES.has(acc.base.kind)) {
      // An empty name or executable path is no value (Falco: a process known by pid only).
      this.e.ldx(1, 0, 7, acc.shape.off);
      this.e.jmp(BPF_JEQ, 0, { imm: 0 }, f);
    }
    if (c.op === 'exists') {
      this.existsCheck(acc, t, f);
      return;
    }
    switch (acc.t) {
      case 'str':
        // Records reached through a fixed path (not an ancestor walk) can share per-event caches.
        this.strCheck(acc.shape, c, values, t, f, base === undefined ? undefined : JSON.stringify(base));
        return;
      case 'int':
        this.intCheck(acc, c, values, t, f);
        return;
      case 'flag':
        this.e.ldx(4, 0, 7, acc.off);
        this.boolCheck(c, values, (yes, no) => {
          this.e.jmp(BPF_JSET, 0, { imm: acc.mask }, yes);
          this.e.ja(no);
        }, t, f);
        return;
      case 'tristate':
        this.e.ldx(1, 0, 7, acc.off);
        this.e.jmp(BPF_JGT, 0, { imm: 1 }, f); // unknown
        this.boolCheck(c, values, (yes, no) => {
          this.e.jmp(BPF_JEQ, 0, { imm: 1 }, yes);
          this.e.ja(no);
        }, t, f);
        return;
      case 'pidEq':
        this.e.ldx(4, 0, 7, KP.tgid);
        this.e.ldx(4, 1, 7, acc.off);
        this.boolCheck(c, values, (yes, no) => {
          this.e.jmp(BPF_JEQ, 0, 1, yes);
          this.e.ja(no);
        }, t, f);
        return;
      case 'evttype':
        this.evtTypeCheck(c, values, t, f);
        return;
      case 'ret':
        this.retCheck(acc.view, c, values, t, f);
        return;
      case 'family':
        this.familyCheck(acc.view, c, values, t, f);
        return;
      case 'ip':
        this.sides(acc.side, (side, missing) => this.buildAddrKey(side, missing), (yes, no, sd) => this.ipCompare(c, values, yes, no, sd), t, f);
        return;
      case 'port':
        this.sides(acc.side, (side, missing) => this.loadPort(side, missing), (yes, no) => this.numCompare(0, false, c, values, yes, no), t, f);
        return;
      case 'dnsname':
        this.dnsNameCheck(acc.side, c, values, t, f);
        return;
      case 'l4proto':
        this.l4protoCheck(c, values, t, f);
        return;
      default:
        throw new Unsupported(`${c.lhs.kind === 'field' ? c.lhs.name : ''} cannot be compared with ${c.op} yet`);
    }
  }

  private existsCheck(acc: Access, t: Label, f: Label): void {
    if (acc.t === 'int' && acc.unknown !== undefined) {
      this.load(acc.size, 0, 7, acc.off);
      this.cmpImm(BPF_JEQ, 0, acc.unknown, acc.size, f);
    }
    if (acc.t === 'tristate') {
      this.e.ldx(1, 0, 7, acc.off);
      this.e.jmp(BPF_JGT, 0, { imm: 1 }, f);
    }
    if (acc.t === 'ip' || acc.t === 'port' || acc.t === 'dnsname') {
      const side = acc.side;
      const build = acc.t === 'port' ? (sd: 'server' | 'client', m: Label): void => this.loadPort(sd, m) : (sd: 'server' | 'client', m: Label): void => this.buildAddrKey(sd, m);
      if (acc.t === 'dnsname') {
        this.buildAddrKey(acc.side, f);
        this.lookupKey(this.maps.index('kestrel_dns'), FP_KEY128, f);
      } else this.sides(side, build, (yes) => this.e.ja(yes), t, f);
      this.e.ja(t);
      return;
    }
    if (acc.t === 'l4proto') {
      this.connFamily(0);
      this.e.jmp(BPF_JEQ, 0, { imm: AF_UNIX }, f);
    }
    this.e.ja(t);
  }

  // ---------------------------------------------------------------- records

  private ldxStack(size: Size, dst: Reg, off: number): void {
    this.e.ldx(size, dst, 10, off);
  }

  /** r7 = the record of `base`, or jump to `missing`. */
  loadBase(base: Base, missing: Label): void {
    const e = this.e;
    switch (base.kind) {
      case 'proc':
        this.ldxStack(8, 7, FP_PROC);
        return;
      case 'container':
        this.ldxStack(8, 7, FP_CONTAINER);
        this.missingBit(MISSING_CONTAINER, missing);
        return;
      case 'conn':
        this.ldxStack(8, 7, FP_CONN);
        return;
      case 'ancestor':
        this.ancestorAt(base.depth, missing);
        return;
      case 'procByPid': {
        this.ldxStack(8, 1, FP_PROC);
        e.ldx(4, 1, 1, base.pidOff);
        e.jmp(BPF_JEQ, 1, { imm: 0 }, missing);
        this.lookupU32Key(this.maps.index('kestrel_procs'), 1, missing);
        e.mov(7, 0);
        return;
      }
      case 'name': {
        const map = this.maps.index(base.table === 'users' ? 'kestrel_users' : 'kestrel_groups');
        this.cachedRecord(`name|${base.table}|${base.idOff}`, KU.size, (none) => {
          this.ldxStack(8, 1, FP_PROC);
          e.ldx(4, 1, 1, base.idOff);
          e.jmp32(BPF_JEQ, 1, { imm: -1 }, none);
          this.lookupU32Key(map, 1, none);
        }, missing);
        e.mov(7, 0);
        return;
      }
      case 'sock':
        this.lookupSock(missing);
        e.mov(7, 0);
        return;
      case 'ctx':
        e.mov(7, 6);
        return;
      case 'anyAncestor':
        throw new Error('anyAncestor is walked by anyAncestor()');
    }
  }

  private missingBit(bit: number, missing: Label): void {
    this.e.ldMapValue(1, this.maps.index(SCRATCH_MAP), SCRATCH_MISSING);
    this.e.ldx(4, 1, 1, 0);
    this.e.jmp(BPF_JSET, 1, { imm: bit }, missing);
  }

  /** r0 = lookup(map, &u32 key in `keyReg`) or jump to `missing`. */
  private lookupU32Key(mapIdx: number, keyReg: Reg, missing: Label): void {
    const e = this.e;
    e.stx(4, 10, FP_KEY32, keyReg);
    e.ldMap(1, mapIdx);
    e.mov(2, 10);
    e.alu64(BPF_ADD, 2, { imm: FP_KEY32 });
    e.call(HELPER_MAP_LOOKUP);
    e.jmp(BPF_JEQ, 0, { imm: 0 }, missing);
  }

  /** r7 = the ancestor at `depth` the preamble found, or jump to `missing`. */
  private ancestorAt(depth: number, missing: Label): void {
    if (depth > this.ancestorDepth) throw new Error(`internal: ancestor ${depth} is beyond the ${this.ancestorDepth} the preamble looks up`);
    this.e.ldMapValue(1, this.maps.index(SCRATCH_MAP), 0);
    this.e.ldx(4, 1, 1, SCRATCH.ancestors);
    this.e.jmp(BPF_JLT, 1, { imm: depth }, missing);
    this.ldxStack(8, 7, fpAncestor(depth));
  }

  /** Evaluate `body` on the parent, grandparent, ... (at most MAX_ANCESTORS); any true wins. */
  private anyAncestor(body: (t: Label, f: Label) => void, t: Label, f: Label): void {
    const e = this.e;
    for (let d = 1; d <= MAX_ANCESTORS; d++) {
      const next = d === MAX_ANCESTORS ? f : e.label();
      this.ancestorAt(d, f);
      body(t, next);
      if (next !== f) e.bind(next);
    }
  }

  /**
   * r0 = the scratch copy of a record that `find` looks up (leaving it in r0, or jumping to its
   * `none` label); jumps to `missing` when there is none. The lookup and the copy happen once
   * per event: later uses find the area stamped with the event's generation.
   */
  private cachedRecord(key: string, size: number, find: (none: Label) => void, missing: Label): void {
    const e = this.e;
    const area = this.maps.registry.cacheArea(key, 16 + size);
    const scratch = this.maps.index(SCRATCH_MAP);
    const have = e.label();
    this.ifFresh(area, have);
    e.stx(8, 1, area, 2);
    e.st(8, 1, area + 8, 0);
    find(have);
    e.ldMapValue(1, scratch, 0);
    for (let o = 0; o < size; o += 8) {
      e.ldx(8, 2, 0, o);
      e.stx(8, 1, area + 16 + o, 2);
    }
    e.st(8, 1, area + 8, 1);
    e.bind(have);
    e.ldMapValue(1, scratch, 0);
    e.ldx(8, 2, 1, area + 8);
    e.jmp(BPF_JEQ, 2, { imm: 0 }, missing);
    e.ldMapValue(0, scratch, area + 16);
  }

  // ---------------------------------------------------------------- connect

  /** r{dst} = sockaddr family of the connect stash. */
  private connFamily(dst: Reg): void {
    this.ldxStack(8, 1, FP_CONN);
    this.e.ldx(2, dst, 1, CONN.sockaddr + SA.family);
  }

  /** 16-byte IPv4-mapped or IPv6 server address at fp+FP_KEY128; jumps to `missing` for unix/other. */
  private buildSipKey(missing: Label): void {
    const e = this.e;
    this.ldxStack(8, 1, FP_CONN);
    e.ldx(2, 2, 1, CONN.sockaddr + SA.family);
    const v6 = e.label();
    const done = e.label();
    e.jmp(BPF_JEQ, 2, { imm: AF_INET6 }, v6);
    e.jmp(BPF_JNE, 2, { imm: AF_INET }, missing);
    e.st(8, 10, FP_KEY128, 0);
    e.lddw(3, 0xffff0000n);
    e.stx(4, 10, FP_KEY128 + 8, 3);
    e.ldx(4, 3, 1, CONN.sockaddr + SA.in4);
    e.stx(4, 10, FP_KEY128 + 12, 3);
    e.ja(done);
    e.bind(v6);
    e.ldx(8, 3, 1, CONN.sockaddr + SA.in6);
    e.stx(8, 10, FP_KEY128, 3);
    e.ldx(8, 3, 1, CONN.sockaddr + SA.in6 + 8);
    e.stx(8, 10, FP_KEY128 + 8, 3);
    e.bind(done);
  }

  private familyCheck(view: 'type' | 'typechar' | 'sockfamily', c: TCheck, values: readonly TValue[], t: Label, f: Label): void {
    this.connFamily(0);
    const names: Record<string, Record<number, string>> = {
      type: { [AF_INET]: 'ipv4', [AF_INET6]: 'ipv6', [AF_UNIX]: 'unix' },
      typechar: { [AF_INET]: '4', [AF_INET6]: '6', [AF_UNIX]: 'u' },
      sockfamily: { [AF_INET]: 'ip', [AF_INET6]: 'ip', [AF_UNIX]: 'unix' },
    };
    const table = names[view];
    const families = [AF_INET, AF_INET6, AF_UNIX];
    // Which families make the check hold, decided at compile time per family.
    const holds = families.filter((fam) => stringSetCheck(c.op, table[fam], values));
    const other = stringSetCheck(c.op, '', values) && c.op !== '=' && c.op !== '==' && c.op !== 'in';
    for (const fam of families) {
      if (holds.includes(fam)) this.e.jmp(BPF_JEQ, 0, { imm: fam }, t);
    }
    for (const fam of families) if (!holds.includes(fam)) this.e.jmp(BPF_JEQ, 0, { imm: fam }, f);
    this.e.ja(other ? t : f);
  }

  /** Jump to `mismatch` unless the first `bits` of the u32 in `reg` (network order bytes) equal bytes[off..off+4). */
  private maskedCompare(reg: Reg, bytes: Uint8Array, off: number, bits: number, mismatch: Label): void {
    const e = this.e;
    if (bits <= 0) return;
    const word = Number(leWord(bytes, off, 4));
    // Network order bytes loaded little-endian: the first prefix bits are the low bytes.
    let mask = 0;
    for (let b = 0; b < 4; b++) {
      const inByte = Math.max(0, Math.min(8, bits - 8 * b));
      const m = inByte === 0 ? 0 : (0xff << (8 - inByte)) & 0xff;
      mask |= m << (8 * b);
    }
    if (mask >>> 0 !== 0xffffffff) e.alu32(BPF_AND, reg, { imm: mask | 0 });
    e.jmp32(BPF_JNE, reg, { imm: (word & mask) | 0 }, mismatch);
  }

  /**
   * Evaluate a check on one end of the connection, or on each end in turn (fd.ip, fd.port:
   * the check holds when it holds for either end). An end without a value is skipped.
   */
  private sides(side: Side, build: (side: 'server' | 'client', missing: Label) => void, body: (t: Label, f: Label, side: 'server' | 'client') => void, t: Label, f: Label): void {
    const e = this.e;
    const order: ('server' | 'client')[] = side === 'either' ? ['client', 'server'] : [side];
    order.forEach((sd, i) => {
      const next = i === order.length - 1 ? f : e.label();
      build(sd, next);
      body(t, next, sd);
      if (next !== f) e.bind(next);
    });
  }

  /** lookup(map, fp+keyOff) into r0, or jump to `missing`. */
  private lookupKey(mapIdx: number, keyOff: number, missing: Label): void {
    const e = this.e;
    e.ldMap(1, mapIdx);
    e.mov(2, 10);
    e.alu64(BPF_ADD, 2, { imm: keyOff });
    e.call(HELPER_MAP_LOOKUP);
    e.jmp(BPF_JEQ, 0, { imm: 0 }, missing);
  }

  /** r0 = (a copy of) this task's kestrel_socks entry (the connection's local end), or jump to `missing`. */
  private lookupSock(missing: Label): void {
    const e = this.e;
    const socks = this.maps.index('kestrel_socks');
    this.cachedRecord('sock', KS.size, (none) => {
      e.ldx(8, 0, 10, FP_PID_TGID);
      e.stx(8, 10, FP_KEY64, 0);
      this.lookupKey(socks, FP_KEY64, none);
      e.ldx(2, 1, 0, KS.family);
      e.jmp(BPF_JEQ, 1, { imm: AF_UNIX }, none);
      e.jmp(BPF_JEQ, 1, { imm: 0 }, none);
    }, missing);
  }

  /** The end's address as 16 bytes (IPv4 as ::ffff:a.b.c.d) at fp+FP_KEY128, or jump to `missing`. */
  private buildAddrKey(side: 'server' | 'client', missing: Label): void {
    const e = this.e;
    if (side === 'server') {
      this.buildSipKey(missing);
      return;
    }
    this.lookupSock(missing);
    e.ldx(8, 1, 0, KS.laddr);
    e.stx(8, 10, FP_KEY128, 1);
    e.ldx(8, 1, 0, KS.laddr + 8);
    e.stx(8, 10, FP_KEY128 + 8, 1);
  }

  /** r0 = the end's port in host order, or jump to `missing`. */
  private loadPort(side: 'server' | 'client', missing: Label): void {
    const e = this.e;
    if (side === 'client') {
      this.lookupSock(missing);
      e.ldx(2, 0, 0, KS.lport);
      return;
    }
    this.connFamily(2);
    e.jmp(BPF_JEQ, 2, { imm: AF_UNIX }, missing);
    e.ldx(2, 0, 1, CONN.sockaddr + SA.port);
    // be16 → host order
    e.mov(3, 0);
    e.alu64(BPF_RSH, 3, { imm: 8 });
    e.alu64(BPF_AND, 0, { imm: 0xff });
    e.alu64(BPF_LSH, 0, { imm: 8 });
    e.alu64(0x40 /* OR */, 0, 3);
  }

  /** Compare the 16-byte address at fp+FP_KEY128 with addresses and networks (=, !=, in). */
  private ipCompare(c: TCheck, values: readonly TValue[], t: Label, f: Label, side: 'server' | 'client'): void {
    const e = this.e;
    if (!['=', '==', '!=', 'in', 'intersects'].includes(c.op)) throw new Unsupported(`fd IP fields do not support ${c.op}`);
    const negate = c.op === '!=';
    const hit = negate ? f : t;
    const miss = negate ? t : f;
    for (const v of values) if (v.kind !== 'ip' && v.kind !== 'net') throw new Unsupported(`fd IP fields compare with addresses and networks, not ${v.kind}`);
    if ((c.op === 'in' || c.op === 'intersects') && values.some((v) => v.kind === 'net')) {
      // A list of networks: one longest-prefix lookup in an LPM trie ({u32 prefixlen; u8 addr[16]}).
      const set = this.maps.netSet(values.map((v) => (v.kind === 'ip' || v.kind === 'net' ? { bytes: v.bytes, prefix: v.kind === 'net' ? v.prefix : v.bytes.length * 8 } : { bytes: new Uint8Array(4), prefix: 0 })));
      // The bitmap of every list containing this end's address, looked up once per event.
      this.cachedSetBit(set.map, set.bit, `lpm|${side}`, () => {
        e.st(4, 10, FP_LPM, 128);
        for (let w = 0; w < 4; w++) {
          e.ldx(4, 3, 10, FP_KEY128 + 4 * w);
          e.stx(4, 10, FP_LPM + 4 + 4 * w, 3);
        }
        e.mov(2, 10);
        e.alu64(BPF_ADD, 2, { imm: FP_LPM });
      }, hit, miss);
      return;
    }
    for (const v of values) {
      if (v.kind !== 'ip' && v.kind !== 'net') continue;
      const mapped = v.bytes.length === 4 ? Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...v.bytes]) : v.bytes;
      const prefix = (v.kind === 'net' ? v.prefix : v.bytes.length * 8) + (v.bytes.length === 4 ? 96 : 0);
      const next = e.label();
      for (let w = 0; w < 4; w++) {
        const bits = Math.max(0, Math.min(32, prefix - 32 * w));
        if (bits === 0) break;
        e.ldx(4, 3, 10, FP_KEY128 + 4 * w);
        this.maskedCompare(3, mapped, 4 * w, bits, next);
      }
      e.ja(hit);
      e.bind(next);
    }
    e.ja(miss);
  }

  /**
   * fd.sip.name = X / in (...): is one of the names DNS gave the address in the list? The kernel
   * keeps kestrel_dns_sets (address → bitmap of the rule set's name lists holding one of its
   * names, SimKernel.trackDnsLists): one lookup per event and connection end, then a bit test.
   */
  private dnsNameCheck(side: 'server' | 'client', c: TCheck, values: readonly TValue[], t: Label, f: Label): void {
    const e = this.e;
    if (!['=', '==', 'in', 'intersects'].includes(c.op)) throw new Unsupported(`${c.lhs.kind === 'field' ? c.lhs.name : 'DNS name fields'} supports =, in and exists (a name is one of several)`);
    const names = values.map((v) => normName(v.kind === 'string' ? v.value : '')).filter((n) => n.length > 0);
    if (names.length === 0) {
      e.ja(f);
      return;
    }
    const set = this.maps.dnsNameSet(names);
    this.buildAddrKey(side, f);
    this.cachedSetBit(set.map, set.bit, `dnsset|${side}`, () => {
      e.mov(2, 10);
      e.alu64(BPF_ADD, 2, { imm: FP_KEY128 });
    }, t, f);
  }

  private l4protoCheck(c: TCheck, values: readonly TValue[], t: Label, f: Label): void {
    const e = this.e;
    const done = e.label();
    this.lookupSock(f);
    e.ldx(1, 1, 0, KS.proto);
    const names: Record<number, string> = { 6: 'tcp', 17: 'udp' };
    for (const [num, name] of Object.entries(names)) {
      const ok = stringSetCheck(c.op, name, values);
      e.jmp(BPF_JEQ, 1, { imm: Number(num) }, ok ? t : f);
    }
    e.bind(done);
    e.ja(f);
  }

  // ---------------------------------------------------------------- scalars

  private load(size: 1 | 2 | 4 | 8, dst: Reg, src: Reg, off: number): void {
    this.e.ldx(size, dst, src, off);
  }

  private cmpImm(op: number, reg: Reg, value: number, size: number, target: Label): void {
    if (size === 4) this.e.jmp32(op, reg, { imm: value | 0 }, target);
    else this.e.jmp(op, reg, { imm: value | 0 }, target);
  }

  private intCheck(acc: Extract<Access, { t: 'int' }>, c: TCheck, values: readonly TValue[], t: Label, f: Label): void {
    const e = this.e;
    this.load(acc.size, 0, 7, acc.off);
    if (acc.unknown !== undefined) this.cmpImm(BPF_JEQ, 0, acc.unknown, acc.size, f);
    if (acc.signExtendFrom32 === true) {
      e.alu64(BPF_LSH, 0, { imm: 32 });
      e.alu64(BPF_ARSH, 0, { imm: 32 });
    }
    this.numCompare(0, acc.signed, c, values, t, f);
  }

  /** Compare the 64-bit value in `reg` against numeric constants. */
  private numCompare(reg: Reg, signed: boolean, c: TCheck, values: readonly TValue[], t: Label, f: Label): void {
    const e = this.e;
    const nums = values.map((v) => {
      if (v.kind === 'number') return v.value;
      if (v.kind === 'bool') return v.value ? 1 : 0;
      if (v.kind === 'string' && /^-?\d+$/.test(v.value)) return Number(v.value);
      throw new Unsupported(`cannot compare a number with ${v.kind === 'string' ? `'${v.value}'` : v.kind}`);
    });
    const emitCmp = (op: number, n: number, target: Label): void => {
      if (Number.isSafeInteger(n) && n >= -0x80000000 && n <= 0x7fffffff) e.jmp(op, reg, { imm: n }, target);
      else {
        e.lddw(5, BigInt(n));
        e.jmp(op, reg, 5, target);
      }
    };
    switch (c.op) {
      case '=':
      case '==':
      case 'in':
      case 'intersects':
        for (const n of nums) emitCmp(BPF_JEQ, n, t);
        e.ja(f);
        return;
      case '!=':
        for (const n of nums) emitCmp(BPF_JEQ, n, f);
        e.ja(t);
        return;
      case '<':
        emitCmp(signed ? BPF_JSLT : BPF_JLT, nums[0], t);
        e.ja(f);
        return;
      case '<=':
        emitCmp(signed ? BPF_JSLE : BPF_JLE, nums[0], t);
        e.ja(f);
        return;
      case '>':
        emitCmp(signed ? BPF_JSGT : BPF_JGT, nums[0], t);
        e.ja(f);
        return;
      case '>=':
        emitCmp(signed ? BPF_JSGE : BPF_JGE, nums[0], t);
        e.ja(f);
        return;
      default:
        throw new Unsupported(`numeric fields do not support ${c.op}`);
    }
  }

  /** Boolean fields: `test(yes, no)` branches on the field's truth. */
  private boolCheck(c: TCheck, values: readonly TValue[], test: (yes: Label, no: Label) => void, t: Label, f: Label): void {
    const want = values.map((v) => {
      if (v.kind === 'bool') return v.value;
      if (v.kind === 'string' && (v.value === 'true' || v.value === 'false')) return v.value === 'true';
      if (v.kind === 'number') return v.value !== 0;
      throw new Unsupported(`a boolean field compares with true or false`);
    });
    const hasTrue = want.includes(true);
    const hasFalse = want.includes(false);
    let onTrue: boolean;
    let onFalse: boolean;
    if (c.op === '=' || c.op === '==' || c.op === 'in') {
      onTrue = hasTrue;
      onFalse = hasFalse;
    } else if (c.op === '!=') {
      onTrue = !hasTrue;
      onFalse = !hasFalse;
    } else throw new Unsupported(`boolean fields do not support ${c.op}`);
    test(onTrue ? t : f, onFalse ? t : f);
  }

  private retCheck(view: 'raw' | 'res' | 'failed' | 'connected', c: TCheck, values: readonly TValue[], t: Label, f: Label): void {
    const e = this.e;
    e.ldx(8, 0, 6, 16);
    if (view === 'raw') {
      this.numCompare(0, true, c, values, t, f);
      return;
    }
    if (view === 'failed') {
      this.boolCheck(c, values, (yes, no) => {
        e.jmp(BPF_JSLT, 0, { imm: 0 }, yes);
        e.ja(no);
      }, t, f);
      return;
    }
    if (view === 'connected') {
      this.boolCheck(c, values, (yes, no) => {
        e.jmp(BPF_JEQ, 0, { imm: 0 }, yes);
        e.jmp(BPF_JEQ, 0, { imm: -115 }, yes);
        e.ja(no);
      }, t, f);
      return;
    }
    // evt.res: SUCCESS or an errno name.
    const codes = values.map((v) => {
      const s = v.kind === 'string' ? v.value : v.kind === 'number' ? v.text : '';
      if (s === 'SUCCESS') return 0;
      const n = ERRNO_BY_NAME[s];
      if (n === undefined) throw new Unsupported(`evt.res: unknown result '${s}'`);
      return -n;
    });
    const eqT = c.op === '!=' ? f : t;
    const eqF = c.op === '!=' ? t : f;
    if (!['=', '==', '!=', 'in'].includes(c.op)) throw new Unsupported(`evt.res does not support ${c.op}`);
    for (const code of codes) {
      if (code === 0) e.jmp(BPF_JSGE, 0, { imm: 0 }, eqT);
      else e.jmp(BPF_JEQ, 0, { imm: code }, eqT);
    }
    e.ja(eqF);
  }

  private evtTypeCheck(c: TCheck, values: readonly TValue[], t: Label, f: Label): void {
    const e = this.e;
    e.ldx(4, 0, 6, 8); // __syscall_nr
    const nr: Record<string, number> = { execve: 59, execveat: 322 };
    const names = ['execve', 'execveat'];
    const holds = names.filter((n) => stringSetCheck(c.op, n, values));
    for (const n of names) if (holds.includes(n)) e.jmp32(BPF_JEQ, 0, { imm: nr[n] }, t);
    e.ja(f);
  }

  // ---------------------------------------------------------------- strings

  private strCheck(shape: StrShape, c: TCheck, values: readonly TValue[], t: Label, f: Label, cacheKey?: string): void {
    const op = c.op;
    const strs = (): string[] =>
      values.map((v) => {
        if (v.kind === 'string') return v.value;
        if (v.kind === 'number') return v.text;
        if (v.kind === 'bool') return String(v.value);
        if (v.kind === 'pattern') return v.text;
        if (v.kind === 'ip' || v.kind === 'net' || v.kind === 'bytes') return v.text;
        return '';
      });
    switch (op) {
      case '=':
      case '==':
      case '!=': {
        const s = strs()[0];
        const [yes, no] = op === '!=' ? [f, t] : [t, f];
        if (this.wordCompareable(shape)) this.eqWords(shape, bytesOf(s), false, yes, no);
        else this.walkAny(shape, [equalsRe(s)], yes, no, cacheKey);
        return;
      }
      case 'in':
      case 'intersects': {
        const items = [...new Set(strs())];
        if (items.length === 0) {
          this.e.ja(f);
          return;
        }
        if (this.wordCompareable(shape) && items.length <= 6) {
          for (const s of items) {
            const next = this.e.label();
            this.eqWords(shape, bytesOf(s), false, t, next);
            this.e.bind(next);
          }
          this.e.ja(f);
          return;
        }
        if (shape.t === 'cstr' && items.length > 6) {
          this.setMember(shape, items, t, f, cacheKey);
          return;
        }
        this.walkAny(shape, [alternatives(items.map((s) => equalsRe(s)))], t, f, cacheKey);
        return;
      }
      case 'startswith':
      case 'bstartswith': {
        const s = strs()[0];
        if (this.wordCompareable(shape) && op === 'startswith') this.eqWords(shape, bytesOf(s), true, t, f);
        else this.walkAny(shape, [startswithRe(s)], t, f, cacheKey);
        return;
      }
      case 'endswith':
        this.walkAny(shape, [endswithRe(strs()[0])], t, f, cacheKey);
        return;
      case 'contains':
      case 'bcontains':
        this.walkAny(shape, [containsRe(strs()[0])], t, f, cacheKey);
        return;
      case 'icontains':
        this.walkAny(shape, [containsRe(strs()[0], true)], t, f, cacheKey);
        return;
      case 'glob':
      case 'iglob':
        this.walkAny(shape, [globRe(strs()[0], op === 'iglob')], t, f, cacheKey);
        return;
      case 'regex': {
        let re: Re;
        try {
          re = regexRe(strs()[0]);
          compileDfa(re);
        } catch (err) {
          if (err instanceof PatternError) throw new Unsupported(`regex '${strs()[0]}': ${err.message}`);
          throw err;
        }
        this.walkAny(shape, [re], t, f, cacheKey);
        return;
      }
      case 'pmatch':
        this.walkAny(shape, [pmatchRe(strs())], t, f, cacheKey);
        return;
      default:
        throw new Unsupported(`string fields do not support ${op}`);
    }
  }

  private wordCompareable(shape: StrShape): boolean {
    return shape.t === 'cstr' || shape.t === 'argv0' || shape.t === 'prefix12';
  }

  /**
   * Compare a NUL-terminated field with constant bytes using 8/4/2/1-byte loads. Exact match
   * compares the terminating NUL too; a prefix match does not.
   */
  private eqWords(shape: StrShape, s: Uint8Array, prefix: boolean, t: Label, f: Label): void {
    const e = this.e;
    const off = shape.t === 'cstr' || shape.t === 'prefix12' ? shape.off : KP.args;
    const cap = shape.t === 'cstr' ? shape.cap : shape.t === 'prefix12' ? 12 : 512;
    let want = s;
    if (shape.t === 'prefix12') {
      if (s.length > 12) {
        e.ja(f);
        return;
      }
      if (!prefix && s.length < 12) want = Uint8Array.from([...s, 0]);
    } else if (!prefix) {
      // The stored string keeps at most cap-1 bytes.
      if (s.length > cap - 1) {
        e.ja(f);
        return;
      }
      want = Uint8Array.from([...s, 0]);
    } else if (s.length > cap - 1) {
      e.ja(f);
      return;
    }
    let pos = 0;
    while (pos < want.length) {
      const left = want.length - pos;
      const n: 1 | 2 | 4 | 8 = left >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : 1;
      e.ldx(n, 0, 7, off + pos);
      const v = leWord(want, pos, n);
      if (n === 8) {
        e.lddw(1, v);
        e.jmp(BPF_JNE, 0, 1, f);
      } else if (n === 4) e.jmp32(BPF_JNE, 0, { imm: Number(v) | 0 }, f);
      else e.jmp(BPF_JNE, 0, { imm: Number(v) }, f);
      pos += n;
    }
    e.ja(t);
  }

  /** Membership of a NUL-padded fixed string in a large list: one hash lookup keyed by the field's bytes. */
  private setMember(shape: Extract<StrShape, { t: 'cstr' }>, items: readonly string[], t: Label, f: Label, cacheKey?: string): void {
    const e = this.e;
    const set = this.maps.stringSet(shape.cap, items);
    if (cacheKey === undefined) {
      e.ldMap(1, set.map);
      e.mov(2, 7);
      e.alu64(BPF_ADD, 2, { imm: shape.off });
      e.call(HELPER_MAP_LOOKUP);
      e.jmp(BPF_JEQ, 0, { imm: 0 }, f);
      e.ldx(8, 0, 0, 8 * Math.floor(set.bit / 64));
      this.bitTest(set.bit % 64, t, f);
      return;
    }
    this.cachedSetBit(set.map, set.bit, `${cacheKey}|${shape.cap}`, () => {
      e.mov(2, 7);
      e.alu64(BPF_ADD, 2, { imm: shape.off });
    }, t, f);
  }

  /**
   * Jump to `t` when bit `bit` of the bitmap a set map (string sets, network lists, DNS name
   * lists) holds for a key is set, else to `f`. The lookup happens once per event: the cache
   * slot named `slotKey` keeps {generation, bitmap word}, 0 when the key is in no set. `key`
   * leaves the key's address in r2 (it may use r1 and r3).
   */
  private cachedSetBit(mapIdx: number, bit: number, slotKey: string, key: () => void, t: Label, f: Label): void {
    const e = this.e;
    const word = Math.floor(bit / 64);
    const slot = this.maps.registry.cacheSlot(`${slotKey}|${word}`);
    const scratch = this.maps.index(SCRATCH_MAP);
    const have = e.label();
    const store = e.label();
    this.ifFresh(slot, have);
    key();
    e.ldMap(1, mapIdx);
    e.call(HELPER_MAP_LOOKUP);
    e.movImm(3, 0);
    e.jmp(BPF_JEQ, 0, { imm: 0 }, store);
    e.ldx(8, 3, 0, 8 * word);
    e.bind(store);
    this.stamp(slot, 3);
    e.bind(have);
    e.ldMapValue(1, scratch, 0);
    e.ldx(8, 0, 1, slot + 8);
    this.bitTest(bit % 64, t, f);
  }

  /** Jump to `t` when bit `b` (0..63) of r0 is set, else to `f`. */
  private bitTest(b: number, t: Label, f: Label): void {
    if (b < 31) this.e.jmp(BPF_JSET, 0, { imm: 1 << b }, t);
    else {
      this.e.alu64(BPF_RSH, 0, { imm: b });
      this.e.jmp(BPF_JSET, 0, { imm: 1 }, t);
    }
    this.e.ja(f);
  }

  /** bpf_loop callbacks to emit after the program's main body, by automaton and mode. */
  readonly callbacks = new Map<string, { label: Label; tab: AutomatonRef; mode: 'cstr' | 'block'; cap: number; seen?: number }>();

  private callback(tab: AutomatonRef, mode: 'cstr' | 'block', cap: number, seen?: number): Label {
    const key = `${tab.offset}:${mode}:${cap}:${seen ?? ''}`;
    let cb = this.callbacks.get(key);
    if (cb === undefined) {
      cb = { label: this.e.label(), tab, mode, cap, seen };
      this.callbacks.set(key, cb);
    }
    return cb.label;
  }

  /**
   * The callbacks: one step of an automaton over byte i (r1 = i) of the field the context points
   * to (r2 = &pointer). `cstr` stops at a NUL; `block` feeds every byte (the automaton reads NUL
   * as a space). The loop count is the walk's length; `cap` bounds i for the verifier. Returns 1
   * to stop the loop. Each callback is verified once per call site, whatever the string length.
   */
  emitCallbacks(): void {
    const e = this.e;
    const scratch = this.maps.index(SCRATCH_MAP);
    for (const cb of this.callbacks.values()) {
      const stop = e.label();
      e.bind(cb.label);
      // r1 = i, r2 = &pointer to the field's bytes (in the caller's frame)
      // (the loop count is the walk's length; this bound is for the verifier)
      e.jmp(BPF_JGE, 1, { imm: cb.cap }, stop);
      e.ldx(8, 5, 2, 0);
      e.ldMapValue(2, scratch, 0);
      e.alu64(BPF_ADD, 5, 1);
      e.ldx(1, 4, 5, 0);
      if (cb.mode === 'cstr') e.jmp(BPF_JEQ, 4, { imm: 0 }, stop);
      this.feedInline(cb.tab, 2, 4, cb.seen);
      e.jmp(BPF_JEQ, 3, { imm: 0 }, stop);
      e.movImm(0, 0);
      e.exit();
      e.bind(stop);
      e.movImm(0, 1);
      e.exit();
    }
  }

  /**
   * state = next[state & mask][class(byte)], with r{scratchReg} = scratch value and the byte in
   * r{byteReg}; leaves the new state in r3 and in scratch.state. Clobbers r4, r5. With `seen`
   * (a shared walk's sticky patterns), ORs the new state's pattern mask into scratch[seen];
   * the table flags (bit 15 of the entry) the states whose mask has sticky bits, so most
   * steps only test the flag. State numbers are always used under `& mask`, which drops it.
   */
  private feedInline(tab: AutomatonRef, scratchReg: Reg, byteReg: Reg, seen?: number): void {
    const e = this.e;
    e.ldMapValue(5, tab.map, tab.offset);
    e.alu64(BPF_ADD, 5, byteReg);
    e.ldx(1, 4, 5, tab.classOff);
    e.ldx(4, 3, scratchReg, SCRATCH.state);
    e.alu64(BPF_AND, 3, { imm: tab.mask });
    e.alu64(BPF_MUL, 3, { imm: tab.classes });
    e.alu64(BPF_ADD, 3, 4);
    e.alu64(BPF_LSH, 3, { imm: 1 });
    e.ldMapValue(5, tab.map, tab.offset);
    e.alu64(BPF_ADD, 5, 3);
    e.ldx(2 as Size, 3, 5, tab.nextOff);
    e.stx(4, scratchReg, SCRATCH.state, 3);
    if (seen !== undefined) {
      const rec = e.label();
      const done = e.label();
      e.jmp(BPF_JSET, 3, { imm: STATE_FLAG }, rec);
      e.ja(done);
      e.bind(rec);
      e.mov(5, 3);
      e.alu64(BPF_AND, 5, { imm: tab.mask });
      e.alu64(BPF_LSH, 5, { imm: 3 });
      e.ldMapValue(4, tab.map, tab.offset);
      e.alu64(BPF_ADD, 4, 5);
      e.ldx(8, 4, 4, tab.acceptOff);
      e.ldx(8, 5, scratchReg, seen);
      e.alu64(BPF_OR, 5, 4);
      e.stx(8, scratchReg, seen, 5);
      e.bind(done);
    }
  }

  /**
   * The walk's input: the record (r7) + `off`, kept in a stack slot whose address is the
   * callback's context. The callback reads the bytes in place (no copy, no helper call).
   */
  private pointWalk(off: number): void {
    const e = this.e;
    e.mov(1, 7);
    e.alu64(BPF_ADD, 1, { imm: off });
    e.stx(8, 10, FP_WALK, 1);
  }

  /** bpf_loop(count, callback, &walk pointer, 0); a count of 0 means "the count is in r0". */
  private loop(cb: Label, count: number): void {
    const e = this.e;
    if (count === 0) e.mov(1, 0);
    else e.movImm(1, count);
    e.ldFunc(2, cb);
    e.mov(3, 10);
    e.alu64(BPF_ADD, 3, { imm: FP_WALK });
    e.movImm(4, 0);
    e.call(HELPER_LOOP);
  }

  /**
   * Walk the field's bytes through a DFA stored in the automata map: the bytes are copied into
   * the scratch value and a bpf_loop callback steps the automaton; the state ends in
   * scratch.state. r7 = the record.
   */
  private walk(shape: StrShape, re: Parameters<typeof compileDfa>[0], t: Label, f: Label, compiled?: Dfa): void {
    const e = this.e;
    let dfa: Dfa;
    try {
      dfa = compiled ?? compileDfa(re);
    } catch (err) {
      if (err instanceof PatternError) throw new Unsupported(err.message);
      throw err;
    }
    const tab: AutomatonRef = { ...this.maps.automaton(dfa, nulIsSpace(shape)), classes: dfa.classes };
    const scratch = this.maps.index(SCRATCH_MAP);
    this.runWalk(shape, tab);
    // Accept?
    e.ldMapValue(1, scratch, 0);
    e.ldx(4, 3, 1, SCRATCH.state);
    e.alu64(BPF_AND, 3, { imm: tab.mask });
    e.ldMapValue(4, tab.map, tab.offset);
    e.alu64(BPF_ADD, 4, 3);
    e.ldx(1, 4, 4, tab.acceptOff);
    e.jmp(BPF_JNE, 4, { imm: 0 }, t);
    e.ja(f);
  }

  /**
   * Does the field (record in r7) match any of `res`? With a cache key (a record reached by a
   * fixed path) the walk is logged and, when the plan combined this field's patterns, shared.
   */
  private walkAny(shape: StrShape, res: readonly Re[], t: Label, f: Label, cacheKey: string | undefined): void {
    if (cacheKey !== undefined) {
      const group = `${cacheKey}|${JSON.stringify(shape)}`;
      this.shared.log?.add(group, shape, res);
      const plan = this.shared.plan?.get(group);
      if (plan !== undefined && res.every((r) => plan.where.has(reKey(r)))) {
        this.sharedWalk(group, plan, res, t, f);
        return;
      }
    }
    if (res.length === 1) {
      this.walk(shape, res[0], t, f);
      return;
    }
    const parts = this.splitForDfa(res);
    parts.forEach((part, i) => {
      const next = i === parts.length - 1 ? f : this.e.label();
      this.walk(shape, alternatives(part.res), t, next, part.dfa);
      if (next !== f) this.e.bind(next);
    });
  }

  /**
   * The shared walk: each chunk's automaton runs at most once per event (its pattern mask kept
   * in a cache slot stamped with the event generation); the check tests the patterns' bits.
   */
  private sharedWalk(group: string, plan: WalkGroupPlan, res: readonly Re[], t: Label, f: Label): void {
    const e = this.e;
    const scratch = this.maps.index(SCRATCH_MAP);
    const byChunk = new Map<number, bigint>();
    for (const r of res) {
      const w = plan.where.get(reKey(r)) as { chunk: number; bit: number };
      byChunk.set(w.chunk, (byChunk.get(w.chunk) ?? 0n) | (1n << BigInt(w.bit)));
    }
    for (const [ci, bits] of [...byChunk].sort((a, b) => a[0] - b[0])) {
      const chunk = plan.chunks[ci];
      const slot = this.maps.registry.cacheSlot(`walk|${group}|${ci}`);
      const have = e.label();
      this.ifFresh(slot, have);
      const flagged = chunk.sticky === 0n ? undefined : Uint8Array.from({ length: chunk.dfa.states }, (_, st) => ((BigInt(chunk.dfa.masks[2 * st]) | (BigInt(chunk.dfa.masks[2 * st + 1]) << 32n)) & chunk.sticky ? 1 : 0));
      const tab: AutomatonRef = { ...this.maps.automaton(chunk.dfa, nulIsSpace(plan.shape), flagged), classes: chunk.dfa.classes };
      const all = (1n << BigInt(chunk.res.length)) - 1n;
      const seen = chunk.sticky !== 0n ? this.maps.registry.cacheArea('walk-seen', 8) : undefined;
      if (seen !== undefined) {
        // The empty prefix: the start state's mask.
        e.lddw(2, BigInt(chunk.dfa.masks[2 * START]) | (BigInt(chunk.dfa.masks[2 * START + 1]) << 32n));
        e.stx(8, 1, seen, 2);
      }
      this.runWalk(plan.shape, tab, seen);
      // r0 = the final state's mask for the other patterns | every state's for the sticky ones
      e.ldMapValue(1, scratch, 0);
      if (chunk.sticky !== all) {
        e.ldx(4, 3, 1, SCRATCH.state);
        e.alu64(BPF_AND, 3, { imm: tab.mask });
        e.alu64(BPF_LSH, 3, { imm: 3 });
        e.ldMapValue(4, tab.map, tab.offset);
        e.alu64(BPF_ADD, 4, 3);
        e.ldx(8, 0, 4, tab.acceptOff);
        if (chunk.sticky !== 0n) {
          e.lddw(2, all & ~chunk.sticky);
          e.alu64(BPF_AND, 0, 2);
        }
      } else e.movImm(0, 0);
      if (seen !== undefined) {
        e.ldx(8, 2, 1, seen);
        if (chunk.sticky !== all) {
          e.lddw(3, chunk.sticky);
          e.alu64(BPF_AND, 2, 3);
        }
        e.alu64(BPF_OR, 0, 2);
      }
      this.stamp(slot, 0);
      e.bind(have);
      e.ldMapValue(1, scratch, 0);
      e.ldx(8, 0, 1, slot + 8);
      if (bits < 0x80000000n) e.jmp(BPF_JSET, 0, { imm: Number(bits) }, t);
      else {
        e.lddw(1, bits);
        e.alu64(BPF_AND, 0, 1);
        e.jmp(BPF_JNE, 0, { imm: 0 }, t);
      }
    }
    e.ja(f);
  }

  /** Run the automaton over the field's bytes (record in r7); the final state is in scratch.state. */
  private runWalk(shape: StrShape, tab: AutomatonRef, seen?: number): void {
    const e = this.e;
    const scratch = this.maps.index(SCRATCH_MAP);
    const start = (): void => {
      e.ldMapValue(1, scratch, 0);
      e.st(4, 1, SCRATCH.state, 1);
    };
    const cstr = (off: number, cap: number): void => {
      this.pointWalk(off);
      this.loop(this.callback(tab, 'cstr', cap, seen), cap);
    };
    /** r0 = min(len - 1, size - 1): the block's bytes before its last NUL. */
    const blockEnd = (lenOff: number, size: number): void => {
      const ok = e.label();
      const nonEmpty = e.label();
      e.ldx(2, 0, 7, lenOff);
      e.jmp(BPF_JNE, 0, { imm: 0 }, nonEmpty);
      e.movImm(0, 1);
      e.bind(nonEmpty);
      e.alu64(BPF_ADD, 0, { imm: -1 });
      e.jmp(BPF_JLE, 0, { imm: size - 1 }, ok);
      e.movImm(0, size - 1);
      e.bind(ok);
    };
    /** The whole block, NULs read as spaces (argv, environment). */
    const block = (off: number, lenOff: number, size: number): void => {
      this.pointWalk(off);
      blockEnd(lenOff, size);
      this.loop(this.callback(tab, 'block', size, seen), 0);
    };
    /** argv[1..]: the block from the byte after argv[0]'s NUL (the kernel records arg0_len). */
    const argsAfterArgv0 = (): void => {
      const none = e.label();
      const size = KP.argsSize;
      blockEnd(KP.argsLen, size);
      e.ldx(2, 1, 7, KP.arg0Len);
      e.jmp(BPF_JGT, 1, { imm: size - 1 }, none);
      e.alu64(BPF_ADD, 1, { imm: 1 });
      e.alu64(BPF_SUB, 0, 1);
      e.jmp(BPF_JSLE, 0, { imm: 0 }, none);
      e.alu64(BPF_ADD, 1, 7);
      e.alu64(BPF_ADD, 1, { imm: KP.args });
      e.stx(8, 10, FP_WALK, 1);
      this.loop(this.callback(tab, 'block', size, seen), 0);
      e.bind(none);
    };
    start();
    switch (shape.t) {
      case 'cstr':
        cstr(shape.off, shape.cap);
        break;
      case 'prefix12':
        cstr(shape.off, 12);
        break;
      case 'argv0':
        cstr(KP.args, KP.argsSize);
        break;
      case 'exeline':
        block(KP.args, KP.argsLen, KP.argsSize);
        break;
      case 'envline':
        block(KP.env, KP.envLen, KP.envSize);
        break;
      case 'args':
        argsAfterArgv0();
        break;
      case 'cmdline': {
        cstr(KP.comm, KP.commSize);
        const noArgs = e.label();
        e.ldx(2, 1, 7, KP.argc);
        e.jmp(BPF_JLE, 1, { imm: 1 }, noArgs);
        e.ldMapValue(2, scratch, 0);
        e.movImm(1, 0x20);
        this.feedInline(tab, 2, 1, seen);
        argsAfterArgv0();
        e.bind(noArgs);
        break;
      }
    }
  }
}

/** Shapes whose NUL separators read as spaces (argv and environment blocks). */
function nulIsSpace(shape: StrShape): boolean {
  return shape.t === 'args' || shape.t === 'exeline' || shape.t === 'cmdline' || shape.t === 'envline';
}

/** The deepest ancestor that `exprs` or the record carriers read (MAX_ANCESTORS for any-ancestor fields); 0 for none. */
export function ancestorDepthOf(exprs: readonly TExpr[], carrierBases: readonly Base[], hook: Hook): number {
  let depth = 0;
  const base = (b: Base): void => {
    if (b.kind === 'anyAncestor') depth = MAX_ANCESTORS;
    else if (b.kind === 'ancestor') depth = Math.max(depth, b.depth);
  };
  const field = (x: TFieldExpr): void => {
    if (x.kind === 'transform') {
      field(x.arg);
      return;
    }
    let acc: Access;
    try {
      acc = accessFor(x, hook);
    } catch {
      return; // reported when the check is compiled
    }
    if ('base' in acc) base(acc.base);
  };
  for (const x of exprs) {
    forEachCheck(x, (c) => {
      field(c.lhs);
      if (c.rhs.kind === 'field') field(c.rhs.field);
    });
  }
  carrierBases.forEach(base);
  return depth;
}

/** Bases that are process-cache records. */
const PROC_BASES: ReadonlySet<string> = new Set(['proc', 'ancestor', 'anyAncestor', 'procByPid']);

function baseOf(acc: Access): Base | undefined {
  switch (acc.t) {
    case 'str':
    case 'int':
    case 'flag':
    case 'tristate':
      return acc.base.kind === 'anyAncestor' ? undefined : acc.base;
    case 'pidEq':
      return { kind: 'proc' };
    default:
      return undefined;
  }
}

/** Compile-time truth of a string-set check on a known value (evt.type on connect, fd types). */
function stringSetCheck(op: string, value: string, values: readonly TValue[]): boolean {
  const strs = values.map((v) => (v.kind === 'string' ? v.value : v.kind === 'number' ? v.text : v.kind === 'bool' ? String(v.value) : ''));
  switch (op) {
    case '=':
    case '==':
    case 'in':
    case 'intersects':
      return strs.includes(value);
    case '!=':
      return !strs.includes(value);
    case 'startswith':
      return value.startsWith(strs[0] ?? '');
    case 'endswith':
      return value.endsWith(strs[0] ?? '');
    case 'contains':
      return value.includes(strs[0] ?? '');
    case 'icontains':
      return value.toLowerCase().includes((strs[0] ?? '').toLowerCase());
    case 'exists':
      return true;
    default:
      throw new Unsupported(`${op} on an event-type field is not compiled`);
  }
}

function constCheck(op: string, value: string | number | boolean, values: readonly TValue[]): boolean {
  if (op === 'exists') return true;
  if (typeof value === 'boolean') {
    const want = values.map((v) => (v.kind === 'bool' ? v.value : v.kind === 'string' ? v.value === 'true' : Boolean(v.kind === 'number' && v.value)));
    const eq = want.includes(value);
    if (op === '=' || op === '==' || op === 'in') return eq;
    if (op === '!=') return !eq;
    throw new Unsupported(`boolean fields do not support ${op}`);
  }
  return stringSetCheck(op, String(value), values);
}

export { accessFor, Unsupported };
export type { TField, TFieldExpr };

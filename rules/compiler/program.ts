// Per-hook programs: a preamble that finds the event's records once (process, parent,
// container, connect arguments); a first pass over every rule's guard that notes candidates; a
// second that runs the full condition of each candidate in rule order. A rule that holds writes
// one match record to the ring buffer (rule id, header, the carriers its output needs).

import { BPF_ADD, BPF_AND, BPF_JEQ, BPF_JLE, BPF_JNE, BPF_OR, BPF_RSH } from '../../engine/isa.js';
import { KP } from '../../collectors/kernel/maps.js';
import {
  HDR_CGROUP_ID,
  HDR_EVT_TYPE,
  HDR_FLAGS,
  HDR_KTIME_NS,
  HDR_MAGIC_VERSION,
  HDR_N_VALUES,
  HDR_PID,
  HDR_RULE_ID,
  HDR_USED_LEN,
  KIND_NONE,
  RECORD_MAGIC_VERSION,
  VALUE_F_NA,
  VAL_CAP,
  VAL_FIELD_ID,
  VAL_FLAGS,
  VAL_KIND,
  VAL_LEN,
  EVT_CONNECT,
  EVT_EXECVE,
  EVT_EXECVEAT,
  layoutRecord,
  DROP_COUNTER_MAP,
  KIND_BYTES,
  KIND_STR,
  KIND_I64,
} from '../../alerts/record-format.js';
import type { TExpr } from '../condition/ast.js';
import type { Hook } from '../fields/types.js';
import { Emitter, type Label, type Reg } from './emit.js';
import { CheckCompiler, FP_CONN, FP_CONTAINER, FP_KEY32, FP_KEY64, FP_PID_TGID, FP_PROC, MISSING_CONTAINER, SCRATCH_MISSING, ancestorDepthOf, fpAncestor } from './codegen.js';
import { CompilerMaps, CONNECT_ARGS_MAP, MapRegistry, RINGBUF_MAP, SCRATCH, SCRATCH_MAP } from './maps.js';
import { CONN } from './fields.js';
import type { Carrier } from './outputs.js';
import type { SharedWalks } from './shared-walks.js';
import { planMemo } from './memo.js';
import { guardOf, nameGuardEntries, nameGuardItems, USELESS_GUARD } from './guard.js';

const H_LOOKUP = 1;
const H_UPDATE = 2;
const H_KTIME = 5;
const H_PID_TGID = 14;
const H_CGROUP = 80;
const H_PROBE_READ_USER = 112;
const H_PROBE_READ_KERNEL = 113;
const H_RB_RESERVE = 131;
const H_RB_SUBMIT = 132;

export interface RuleCode {
  id: number;
  name: string;
  expr: TExpr;
  carriers: { carrier: Carrier; fieldId: number }[];
}

export interface GeneratedProgram {
  name: string;
  hook: string;
  insns: Uint8Array;
  mapNames: string[];
  mapRefs: { insn: number; map: number }[];
  rules: number[];
}

function zeroTemps(e: Emitter): void {
  for (const r of [0, 1, 2, 3, 4, 5, 7, 9] as Reg[]) e.movImm(r, 0);
}

/** The sys_enter_connect helper program: stash fd, addrlen and the sockaddr for the exit hook. */
export function connectStashProgram(registry: MapRegistry): GeneratedProgram {
  const e = new Emitter();
  const maps = new CompilerMaps(registry);
  const VAL = -48 - CONN.size; // value on the stack
  e.mov(6, 1);
  e.call(H_PID_TGID);
  e.stx(8, 10, FP_KEY64, 0);
  for (let o = 0; o < CONN.size; o += 8) e.st(8, 10, VAL + o, 0);
  e.ldx(8, 1, 6, 16); // fd
  e.stx(4, 10, VAL + CONN.fd, 1);
  e.ldx(8, 2, 6, 32); // addrlen
  e.stx(4, 10, VAL + CONN.addrlen, 2);
  const ok = e.label();
  e.jmp(BPF_JLE, 2, { imm: CONN.size - CONN.sockaddr }, ok);
  e.movImm(2, CONN.size - CONN.sockaddr);
  e.bind(ok);
  e.mov(1, 10);
  e.alu64(BPF_ADD, 1, { imm: VAL + CONN.sockaddr });
  e.ldx(8, 3, 6, 24); // uservaddr
  e.call(H_PROBE_READ_USER);
  e.ldMap(1, maps.index(CONNECT_ARGS_MAP));
  e.mov(2, 10);
  e.alu64(BPF_ADD, 2, { imm: FP_KEY64 });
  e.mov(3, 10);
  e.alu64(BPF_ADD, 3, { imm: VAL });
  e.movImm(4, 0);
  e.call(H_UPDATE);
  e.movImm(0, 0);
  e.exit();
  const fin = e.finish();
  return {
    name: 'kestrel_connect_stash',
    hook: 'tracepoint/syscalls/sys_enter_connect',
    insns: fin.bytes,
    mapNames: maps.used,
    mapRefs: fin.mapRefs,
    rules: [],
  };
}

/** One hook's rule program. */
export function ruleProgram(
  registry: MapRegistry,
  hook: Hook,
  rules: readonly RuleCode[],
  name: string,
  matching: 'all' | 'first',
  shared: SharedWalks = {},
): GeneratedProgram {
  const e = new Emitter();
  const maps = new CompilerMaps(registry);
  const depth = ancestorDepthOf(
    rules.map((r) => r.expr),
    rules.flatMap((r) => r.carriers.map((c) => c.carrier.base)),
    hook,
  );
  const cc = new CheckCompiler(e, hook, maps, depth, shared, rules.length > 1 ? planMemo(rules.map((r) => r.expr)) : new Set());
  const out = e.label();

  e.mov(6, 1);
  // The process record (pid_tgid kept for the connect stash and socket keys and the header).
  e.call(H_PID_TGID);
  e.stx(8, 10, FP_PID_TGID, 0);
  e.alu64(BPF_RSH, 0, { imm: 32 });
  e.stx(4, 10, FP_KEY32, 0);
  e.ldMap(1, maps.index('kestrel_procs'));
  e.mov(2, 10);
  e.alu64(BPF_ADD, 2, { imm: FP_KEY32 });
  e.call(H_LOOKUP);
  e.jmp(BPF_JEQ, 0, { imm: 0 }, out);
  e.stx(8, 10, FP_PROC, 0);
  e.ldMapValue(1, maps.index(SCRATCH_MAP), 0);
  e.st(4, 1, SCRATCH_MISSING, 0);
  e.st(4, 1, SCRATCH.ancestors, 0);
  // A new event: per-event caches filled before this generation are stale.
  e.ldx(8, 2, 1, SCRATCH.gen);
  e.alu64(BPF_ADD, 2, { imm: 1 });
  e.stx(8, 1, SCRATCH.gen, 2);
  // The ancestors the rules read, looked up once: every slot starts as the process's own record
  // (a pointer of the same type, so every path leaves the same verifier state) and
  // scratch.ancestors counts the real ones.
  for (let d = 1; d <= Math.max(1, depth); d++) e.stx(8, 10, fpAncestor(d), 0);
  e.mov(7, 0);
  const walked = e.label();
  for (let d = 1; d <= depth; d++) {
    e.ldx(4, 1, 7, KP.ppid);
    e.jmp(BPF_JEQ, 1, { imm: 0 }, walked);
    e.stx(4, 10, FP_KEY32, 1);
    e.ldMap(1, maps.index('kestrel_procs'));
    e.mov(2, 10);
    e.alu64(BPF_ADD, 2, { imm: FP_KEY32 });
    e.call(H_LOOKUP);
    e.jmp(BPF_JEQ, 0, { imm: 0 }, walked);
    e.stx(8, 10, fpAncestor(d), 0);
    e.mov(7, 0);
    e.ldMapValue(1, maps.index(SCRATCH_MAP), 0);
    e.st(4, 1, SCRATCH.ancestors, d);
  }
  e.bind(walked);
  // The container (the host's entry, cgroup 1, when the process's is unknown).
  const haveContainer = e.label();
  const lookupContainer = (): void => {
    e.ldMap(1, maps.index('kestrel_containers'));
    e.mov(2, 10);
    e.alu64(BPF_ADD, 2, { imm: FP_KEY64 });
    e.call(H_LOOKUP);
  };
  e.ldx(8, 1, 10, FP_PROC);
  e.ldx(8, 1, 1, KP.cgroupId);
  e.stx(8, 10, FP_KEY64, 1);
  lookupContainer();
  e.jmp(BPF_JNE, 0, { imm: 0 }, haveContainer);
  e.ldMapValue(1, maps.index(SCRATCH_MAP), 0);
  e.ldx(4, 2, 1, SCRATCH_MISSING);
  e.alu64(BPF_OR, 2, { imm: MISSING_CONTAINER });
  e.stx(4, 1, SCRATCH_MISSING, 2);
  e.st(8, 10, FP_KEY64, 1);
  lookupContainer();
  e.jmp(BPF_JEQ, 0, { imm: 0 }, out);
  e.bind(haveContainer);
  e.stx(8, 10, FP_CONTAINER, 0);
  if (hook === 'connect') {
    e.ldx(8, 0, 10, FP_PID_TGID);
    e.stx(8, 10, FP_KEY64, 0);
    e.ldMap(1, maps.index(CONNECT_ARGS_MAP));
    e.mov(2, 10);
    e.alu64(BPF_ADD, 2, { imm: FP_KEY64 });
    e.call(H_LOOKUP);
    e.jmp(BPF_JEQ, 0, { imm: 0 }, out);
    e.stx(8, 10, FP_CONN, 0);
  }
  zeroTemps(e);

  // Two passes, so that the code a quiet event runs is one contiguous stretch: the first tests
  // every rule's guard (guard.ts: a cheap check the condition implies, usually a process name
  // that does not match) and notes the rules whose guard held in candidate words; the second
  // runs the full condition of each candidate and writes its record, in rule order, and is
  // skipped word by word when there is no candidate. The words live in scratch, whose contents
  // the verifier does not track, so the paths of the first pass still merge.
  const scratch = maps.index(SCRATCH_MAP);
  const guards = rules.map((r) => guardOf(r.expr));
  const always = guards.map((g) => g.p >= USELESS_GUARD);
  const words = Math.max(1, Math.ceil(rules.length / CANDIDATE_BITS));
  const area = maps.registry.cacheArea(`candidates|${name}`, 4 * words);
  const word = (k: number): number => area + 4 * Math.floor(k / CANDIDATE_BITS);
  const bit = (k: number): number => 1 << k % CANDIDATE_BITS;
  e.ldMapValue(1, scratch, 0);
  for (let w = 0; w < words; w++) e.st(4, 1, area + 4 * w, 0);
  // Guards that are process-name membership (most of Falco's) are all tested by one lookup of
  // the name in a map the compiler fills: name → the candidate words of the rules it passes.
  const byName = guards.map((g, k) => (always[k] ? undefined : nameGuardItems(g.expr)));
  if (byName.some((x) => x !== undefined)) {
    const guardMap = maps.registry.fixedHash(`kestrel_guards_${hook}`, KP.commSize, 4 * words, nameGuardEntries(byName, KP.commSize, CANDIDATE_BITS));
    const skip = e.label();
    e.ldx(8, 7, 10, FP_PROC);
    e.ldx(1, 0, 7, KP.comm);
    e.jmp(BPF_JEQ, 0, { imm: 0 }, skip);
    e.ldMap(1, maps.index(guardMap));
    e.mov(2, 7);
    e.alu64(BPF_ADD, 2, { imm: KP.comm });
    e.call(H_LOOKUP);
    e.jmp(BPF_JEQ, 0, { imm: 0 }, skip);
    e.ldMapValue(1, scratch, 0);
    for (let w = 0; w < words; w++) {
      e.ldx(4, 2, 0, 4 * w);
      e.stx(4, 1, area + 4 * w, 2);
    }
    e.bind(skip);
  }
  guards.forEach((g, k) => {
    if (always[k] || byName[k] !== undefined) return;
    const pass = e.label();
    const next = e.label();
    cc.expr(g.expr, pass, next);
    e.bind(pass);
    e.ldMapValue(1, scratch, 0);
    e.ldx(4, 2, 1, word(k));
    e.alu64(BPF_OR, 2, { imm: bit(k) });
    e.stx(4, 1, word(k), 2);
    e.bind(next);
  });
  for (let w = 0; w < words; w++) {
    const first = w * CANDIDATE_BITS;
    const inWord = rules.slice(first, first + CANDIDATE_BITS).map((r, i) => ({ r, k: first + i }));
    const wordDone = e.label();
    if (!inWord.some(({ k }) => always[k])) {
      e.ldMapValue(1, scratch, 0);
      e.ldx(4, 2, 1, area + 4 * w);
      e.jmp(BPF_JEQ, 2, { imm: 0 }, wordDone);
    }
    for (const { r, k } of inWord) {
      const hit = e.label();
      const next = e.label();
      if (!always[k]) {
        e.ldMapValue(1, scratch, 0);
        e.ldx(4, 2, 1, word(k));
        e.alu64(BPF_AND, 2, { imm: bit(k) });
        e.jmp(BPF_JEQ, 2, { imm: 0 }, next);
      }
      // A guard that is the whole condition has been tested.
      cc.expr(guards[k].expr === r.expr && !always[k] ? TRUE : r.expr, hit, next);
      e.bind(hit);
      writeRecord(e, cc, maps, hook, r);
      if (matching === 'first') e.ja(out);
      e.bind(next);
    }
    e.bind(wordDone);
  }
  e.bind(out);
  e.movImm(0, 0);
  e.exit();
  cc.emitCallbacks();
  const fin = e.finish();
  return {
    name,
    hook: hook === 'exec' ? 'tracepoint/syscalls/sys_exit_execve' : 'tracepoint/syscalls/sys_exit_connect',
    insns: fin.bytes,
    mapNames: maps.used,
    mapRefs: fin.mapRefs,
    rules: rules.map((r) => r.id),
  };
}

/** Candidate bits per 32-bit word: bit 31 would not fit a sign-extended immediate. */
const CANDIDATE_BITS = 31;

const TRUE: TExpr = { kind: 'const', value: true, origin: { kind: 'rule', name: '' } };

function writeRecord(e: Emitter, cc: CheckCompiler, maps: CompilerMaps, hook: Hook, r: RuleCode): void {
  const layout = layoutRecord(r.carriers.map((c) => ({ fieldId: c.fieldId, kind: c.carrier.kind, cap: c.carrier.size })));
  const done = e.label();
  const dropped = e.label();
  e.ldMap(1, maps.index(RINGBUF_MAP));
  e.movImm(2, layout.size);
  e.movImm(3, 0);
  e.call(H_RB_RESERVE);
  e.jmp(BPF_JEQ, 0, { imm: 0 }, dropped);
  e.mov(9, 0);
  e.st(4, 9, HDR_MAGIC_VERSION, RECORD_MAGIC_VERSION | 0);
  e.st(4, 9, HDR_RULE_ID, r.id);
  e.st(4, 9, HDR_N_VALUES, layout.slots.length);
  e.st(4, 9, HDR_FLAGS, 0);
  e.st(4, 9, HDR_USED_LEN, layout.size);
  if (hook === 'exec') {
    // execve or execveat from the syscall number
    const at = e.label();
    const set = e.label();
    e.ldx(4, 1, 6, 8);
    e.jmp(BPF_JEQ, 1, { imm: 322 }, at);
    e.st(4, 9, HDR_EVT_TYPE, EVT_EXECVE);
    e.ja(set);
    e.bind(at);
    e.st(4, 9, HDR_EVT_TYPE, EVT_EXECVEAT);
    e.bind(set);
    e.movImm(1, 0);
  } else e.st(4, 9, HDR_EVT_TYPE, EVT_CONNECT);
  e.call(H_KTIME);
  e.stx(8, 9, HDR_KTIME_NS, 0);
  e.ldx(8, 0, 10, FP_PID_TGID);
  e.stx(8, 9, HDR_PID, 0);
  e.call(H_CGROUP);
  e.stx(8, 9, HDR_CGROUP_ID, 0);
  r.carriers.forEach((c, i) => {
    const slot = layout.slots[i];
    const missing = e.label();
    const slotDone = e.label();
    const car = c.carrier;
    e.st(2, 9, slot.entryOffset + VAL_FIELD_ID, c.fieldId);
    e.st(1, 9, slot.entryOffset + VAL_KIND, car.kind);
    e.st(1, 9, slot.entryOffset + VAL_FLAGS, 0);
    e.st(2, 9, slot.entryOffset + VAL_LEN, slot.cap);
    e.st(2, 9, slot.entryOffset + VAL_CAP, slot.cap);
    // r7 = the carrier's record
    if (car.base.kind === 'ctx') e.mov(7, 6);
    else cc.loadBase(car.base, missing);
    if (car.kind === KIND_STR || car.kind === KIND_BYTES) {
      e.mov(1, 9);
      e.alu64(BPF_ADD, 1, { imm: slot.payloadOffset });
      e.movImm(2, car.size);
      e.mov(3, 7);
      e.alu64(BPF_ADD, 3, { imm: car.off });
      e.call(H_PROBE_READ_KERNEL);
    } else if (car.kind === KIND_I64) {
      e.ldx(8, 1, 7, car.off);
      e.stx(8, 9, slot.payloadOffset, 1);
    } else {
      e.ldx(car.size === 1 ? 1 : car.size === 2 ? 2 : 4, 1, 7, car.off);
      e.stx(4, 9, slot.payloadOffset, 1);
    }
    e.ja(slotDone);
    e.bind(missing);
    e.st(1, 9, slot.entryOffset + VAL_KIND, KIND_NONE);
    e.st(1, 9, slot.entryOffset + VAL_FLAGS, VALUE_F_NA);
    e.st(2, 9, slot.entryOffset + VAL_LEN, 0);
    e.bind(slotDone);
    for (const reg of [0, 1, 2, 3, 4, 5, 7] as Reg[]) e.movImm(reg, 0);
  });
  e.mov(1, 9);
  e.movImm(2, 0);
  e.call(H_RB_SUBMIT);
  e.ja(done);
  e.bind(dropped);
  // Count the loss in the per-CPU drop counter the drain reports.
  e.st(4, 10, FP_KEY32, 0);
  e.ldMap(1, maps.index(DROP_COUNTER_MAP.name));
  e.mov(2, 10);
  e.alu64(BPF_ADD, 2, { imm: FP_KEY32 });
  e.call(H_LOOKUP);
  const noCounter = e.label();
  e.jmp(BPF_JEQ, 0, { imm: 0 }, noCounter);
  e.ldx(8, 1, 0, 0);
  e.alu64(BPF_ADD, 1, { imm: 1 });
  e.stx(8, 0, 0, 1);
  e.bind(noCounter);
  e.bind(done);
  zeroTemps(e);
}

export type { Label };

// The simulated kernel: turns Kestrel events into hook firings with Linux's context layouts, runs
// every attached program with the event's process as the current task, applies enforcement
// verdicts, and keeps the process table and the kernel maps up to date.
//
// Order of hooks per event (as on Linux):
//   exec:    sys_enter_execve (or _execveat) → kprobe/__x64_sys_execve → [image replaced]
//            → sched_process_exec (on success) → sys_exit_execve
//   connect: sys_enter_connect → kprobe/__x64_sys_connect → sys_exit_connect
//   fork:    sched_process_fork (in the parent)     exit: sched_process_exit (before removal)
// A SIGKILL from a program at an enter hook stops the syscall (the event gets enforced:'kill' and
// does not take effect); from any hook it kills the process: an `exit` (code 137, enforced:
// 'kill') follows. override_return at a kprobe makes the syscall fail with that value
// (enforced:'deny', `ret` = the errno).

import type { VmMemory } from '../../engine/memory.js';
import { RegionKind } from '../../engine/memory.js';
import type { ExecEnv, TaskInfo } from '../../engine/runtime.js';
import type { MapDef } from '../../engine/maps/types.js';
import type { ConnectEvent, ExecEvent, ExitEvent, KestrelEvent } from '../events.js';
import { ProcessTable, normName, type ProcessTableOptions } from '../process-table.js';
import type { EventContext, ProcessRecord } from '../snapshot.js';
import {
  writeKprobeSyscall, writeSchedProcessExec, writeSchedProcessExit, writeSchedProcessFork, writeSysEnterConnect,
  writeSysEnterExecve, writeSysEnterExecveat, writeSysExit,
} from './contexts.js';
import { KernelEnv } from './env.js';
import { HOOKS, HOOK_NAMES, type HookName } from './hooks.js';
import { encodeSockaddrInto, sockaddrSize } from './inet.js';
import { AT_FDCWD, NR_CONNECT, NR_EXECVE, NR_EXECVEAT, PT_REGS, SIGKILL } from './layouts.js';
import {
  KC, KC_NAME, KD, KD_NAME, KS_NAME, encodeSock, KERNEL_MAP_DEFS, KG_NAME, KP, KP_NAME, KU_NAME, dnsKey, encodeContainer, encodeName,
  encodeProc, u32Key, u64Key,
} from './maps.js';
import { UserMemory } from './user-memory.js';

/** Runs one program on one firing; swap the interpreter for a JIT here. */
export type Executor<P> = (prog: P, env: ExecEnv, ctxAddr: number, ctxSize: number, hook: HookName) => void;

/** The userspace side of a map the kernel writes (engine/maps' createMap result has it). */
export interface KernelMap {
  update(key: Uint8Array, value: Uint8Array, flags?: number): void;
  delete(key: Uint8Array): void;
}

export interface KernelOptions<P> {
  mem: VmMemory;
  executor: Executor<P>;
  /** A table to share, or options for the kernel's own. */
  table?: ProcessTable | ProcessTableOptions;
  /** Creates the kernel maps (kestrel_procs, ...); without it the kernel keeps none. */
  createMap?: (def: MapDef) => KernelMap;
  mapSizes?: { procs?: number; containers?: number; users?: number; dns?: number };
  /** Seed for get_prandom_u32 and ephemeral ports. */
  seed?: number;
  /** The host's own addresses, used as the local end of host connections. */
  hostAddr?: string;
  hostAddr6?: string;
  /** Wall-clock boot time (ktime 0); default: an hour before the first event. */
  bootWallNs?: bigint;
  /** trace_printk output, one trace_pipe line at a time. */
  onTrace?: (line: string) => void;
}

export interface Handled {
  event: KestrelEvent;
  context: EventContext;
}

export interface KernelStats {
  events: number;
  firings: number;
  runs: number;
  kills: number;
  denies: number;
}

/** Linux's default ip_local_port_range. */
const EPHEMERAL_LOW = 32768;
const EPHEMERAL_HIGH = 60999;
/** Exit status a shell reports for a SIGKILLed process (128 + 9). */
export const KILLED_EXIT_CODE = 128 + SIGKILL;


interface CtxSlot {
  addr: number;
  /** Region id while a permanent region exists (fixed-size hooks), else 0. */
  region: number;
  cap: number;
}

export class SimKernel<P> {
  readonly table: ProcessTable;
  readonly env: KernelEnv;
  readonly stats: KernelStats = { events: 0, firings: 0, runs: 0, kills: 0, denies: 0 };
  /** Kernel maps by name (for binding compiled programs' map references). */
  readonly maps = new Map<string, KernelMap>();
  private readonly mem: VmMemory;
  private readonly executor: Executor<P>;
  private readonly attachedByHook = new Map<HookName, P[]>();
  private readonly ctx = new Map<HookName, CtxSlot>();
  /** Inner (user) pt_regs for the kprobe hooks, in kernel memory programs reach by probe_read_kernel. */
  private readonly innerRegs: number;
  private readonly users = new Map<number, UserMemory>();
  private readonly task = new CurrentTask();
  private readonly containerIdx = new Map<string, number>([['host', 0]]);
  private readonly procBuf = new Uint8Array(KP.size);
  private readonly procView = new DataView(this.procBuf.buffer);
  /** Reused map keys (maps copy keys on update). */
  private readonly key32 = new Uint8Array(4);
  private readonly key32View = new DataView(this.key32.buffer);
  private readonly contBuf = new Uint8Array(KC.size);
  private readonly hostAddr: string;
  private readonly hostAddr6: string;
  private nextPort: number;
  private bootSet: boolean;

  constructor(opts: KernelOptions<P>) {
    this.mem = opts.mem;
    this.executor = opts.executor;
    this.hostAddr = opts.hostAddr ?? '192.168.1.10';
    this.hostAddr6 = opts.hostAddr6 ?? 'fd00::a';
    const seed = opts.seed ?? 1;
    this.nextPort = EPHEMERAL_LOW + (Math.imul(seed, 2654435761) >>> 0) % (EPHEMERAL_HIGH - EPHEMERAL_LOW);
    this.env = new KernelEnv(seed, opts.onTrace);
    this.bootSet = opts.bootWallNs !== undefined;
    if (opts.bootWallNs !== undefined) this.env.bootWallNs = opts.bootWallNs;
    this.table = opts.table instanceof ProcessTable ? opts.table : new ProcessTable(opts.table ?? {});
    this.table.addEvictListener((rec) => this.evicted(rec));
    for (const name of HOOK_NAMES) {
      const info = HOOKS[name];
      // Variable records get room for a 4 KiB path plus the fixed part.
      const cap = info.variable ? info.ctxSize + 4096 + 64 : info.ctxSize;
      const a = this.mem.alloc(cap);
      const region = info.variable ? 0 : this.mem.addRegion(a.addr, info.ctxSize, RegionKind.Context, false);
      this.ctx.set(name, { addr: a.addr, region, cap });
    }
    this.innerRegs = this.mem.alloc(PT_REGS.size).addr;
    this.mem.addRegion(this.innerRegs, PT_REGS.size, RegionKind.ReadOnlyData, false);
    if (opts.createMap !== undefined) {
      for (const def of KERNEL_MAP_DEFS(opts.mapSizes)) this.maps.set(def.name, opts.createMap(def));
      this.writeNames();
      for (const c of this.table.containers()) this.writeContainer(c.id);
    }
  }

  private readonly dnsTrackers = new Set<{ map: KernelMap; bits: Map<string, number[]>; words: number }>();

  /**
   * Keep `map` (key: an address as in kestrel_dns; value: u64 bitmap words) equal, for every
   * address with names, to the set of `lists` (bit k: lists[k]) that hold one of its names —
   * what Cilium's DNS proxy does for FQDN selectors. A compiled rule set registers its name
   * lists here; each DNS answer then costs a program one lookup per connection end instead of
   * one per name. Returns the function that stops the tracking.
   */
  trackDnsLists(map: KernelMap, lists: readonly (readonly string[])[]): () => void {
    const bits = new Map<string, number[]>();
    lists.forEach((names, k) => {
      for (const n of names) {
        const key = normName(n);
        const have = bits.get(key);
        if (have === undefined) bits.set(key, [k]);
        else if (!have.includes(k)) have.push(k);
      }
    });
    const t = { map, bits, words: Math.max(1, Math.ceil(lists.length / 64)) };
    this.dnsTrackers.add(t);
    const known = new Set<string>();
    for (const [ip] of this.table.staticAnswers()) known.add(ip);
    for (const [ip] of this.table.dnsAnswers()) known.add(ip);
    for (const ip of known) this.writeDnsSet(t, ip);
    return () => {
      this.dnsTrackers.delete(t);
    };
  }

  private writeDnsSet(t: { map: KernelMap; bits: Map<string, number[]>; words: number }, ip: string): void {
    const key = dnsKey(ip);
    if (key === undefined) return;
    const value = new Uint8Array(8 * t.words);
    let any = false;
    for (const n of this.table.namesOf(ip)) {
      for (const k of t.bits.get(normName(n)) ?? []) {
        value[8 * Math.floor(k / 64) + ((k % 64) >>> 3)] |= 1 << (k % 8);
        any = true;
      }
    }
    // Only addresses in some list are kept: the map stays small and a miss means "in none".
    if (any) t.map.update(key, value);
  }

  // ---- attachment ----

  attach(hook: HookName, prog: P): void {
    const list = this.attachedByHook.get(hook) ?? [];
    if (list.includes(prog)) return;
    list.push(prog);
    this.attachedByHook.set(hook, list);
  }

  /** Returns whether the program was attached there. */
  detach(hook: HookName, prog: P): boolean {
    const list = this.attachedByHook.get(hook);
    const i = list?.indexOf(prog) ?? -1;
    if (list === undefined || i < 0) return false;
    list.splice(i, 1);
    if (list.length === 0) this.attachedByHook.delete(hook);
    return true;
  }

  attached(hook: HookName): readonly P[] {
    return this.attachedByHook.get(hook) ?? [];
  }

  /** The context address of a hook (tests and debugging). */
  contextAddr(hook: HookName): number {
    return (this.ctx.get(hook) as CtxSlot).addr;
  }

  get innerRegsAddr(): number {
    return this.innerRegs;
  }

  // ---- events ----

  /** Apply one event: fire its hooks, enforce verdicts, update state. Returns what took effect. */
  handle(ev: KestrelEvent): Handled[] {
    this.stats.events++;
    if (!this.bootSet) {
      this.env.bootWallNs = ev.ts - 3_600_000_000_000n;
      this.bootSet = true;
    }
    this.env.nowNs = ev.ts;
    const out: Handled[] = [];
    switch (ev.type) {
      case 'exec':
        this.exec(ev, out);
        break;
      case 'connect':
        this.connect(ev, out);
        break;
      case 'fork': {
        const context = this.table.apply(ev);
        const parent = context.process as ProcessRecord;
        const child = this.table.get(ev.child);
        this.writeProc(child);
        if (this.has('tracepoint/sched/sched_process_fork')) {
          this.setTask(parent);
          const comm = parent.comm;
          this.fire('tracepoint/sched/sched_process_fork', (b) => writeSchedProcessFork(this.mem, b, ev.pid, comm, ev.child, comm));
        }
        out.push({ event: ev, context });
        this.afterSignal(ev, parent, out, false);
        break;
      }
      case 'exit':
        this.exit(ev, out);
        break;
      case 'dns': {
        const context = this.table.apply(ev);
        const m = this.maps.get(KD_NAME);
        if (m !== undefined) {
          const name = encodeName(ev.name, new Uint8Array(KD.size));
          for (const ip of ev.addrs) {
            const key = dnsKey(ip);
            if (key !== undefined) m.update(key, name);
          }
        }
        for (const ip of ev.addrs) for (const t of this.dnsTrackers) this.writeDnsSet(t, ip);
        out.push({ event: ev, context });
        break;
      }
    }
    return out;
  }

  private has(hook: HookName): boolean {
    return this.attachedByHook.has(hook);
  }

  private exec(ev: ExecEvent, out: Handled[]): void {
    if (ev.synthetic === true) {
      const context = this.table.apply(ev);
      this.writeProc(context.process);
      if (context.process !== undefined && context.process.containerId !== 'host') this.writeContainer(context.process.containerId);
      out.push({ event: ev, context });
      return;
    }
    const at = ev.syscall === 'execveat';
    const enterHook: HookName = at ? 'tracepoint/syscalls/sys_enter_execveat' : 'tracepoint/syscalls/sys_enter_execve';
    const kprobe: HookName = 'kprobe/__x64_sys_execve';
    let ret = ev.ret ?? 0;
    let enforced: 'kill' | 'deny' | undefined;
    if (this.has(enterHook) || (!at && this.has(kprobe))) {
      const caller = this.callerOf(ev);
      this.setTask(caller);
      // The caller's memory holds the path, argv and envp as libc passes them.
      const um = this.userOf(ev.pid);
      um.reset();
      const filename = um.putString(ev.exe);
      const argvPtrs = ev.argv.map((a) => um.putString(a));
      const envPtrs = (ev.env ?? []).map((e) => um.putString(e));
      const argv = um.putPointerArray(argvPtrs);
      const envp = um.putPointerArray(envPtrs);
      this.env.user = um;
      if (this.has(enterHook)) {
        this.fire(enterHook, (b) =>
          at
            ? writeSysEnterExecveat(this.mem, b, ev.pid, AT_FDCWD, filename, argv, envp, 0)
            : writeSysEnterExecve(this.mem, b, ev.pid, filename, argv, envp),
        );
      }
      if (this.env.signal !== SIGKILL && !at && this.has(kprobe)) {
        this.env.overrideAllowed = true;
        this.fire(kprobe, (b) => writeKprobeSyscall(this.mem, b, this.innerRegs, 'execve', NR_EXECVE, [filename, argv, envp]));
        this.env.overrideAllowed = false;
      }
      if (this.env.signal === SIGKILL) {
        // Killed before the syscall ran: the image is not replaced.
        enforced = 'kill';
      } else if (this.env.override !== undefined) {
        ret = Number(this.env.override);
        enforced = 'deny';
        this.stats.denies++;
      }
      this.env.user = undefined;
    }
    const killedEarly = enforced === 'kill';
    const applied: ExecEvent = Object.assign({}, ev);
    if (enforced !== undefined) applied.enforced = enforced;
    if (killedEarly) delete applied.ret;
    else if (ret !== 0 || ev.ret !== undefined) applied.ret = ret;
    // For the table a killed exec is a failed one: the caller stays what it was.
    const context = this.table.apply(killedEarly ? { ...applied, ret: -4 } : applied);
    context.event = applied;
    const rec = context.process as ProcessRecord;
    this.writeProc(rec);
    if (rec.containerId !== 'host') this.writeContainer(rec.containerId);
    if (!killedEarly) {
      this.setTask(rec);
      if (ret === 0 && this.has('tracepoint/sched/sched_process_exec')) {
        this.fire('tracepoint/sched/sched_process_exec', (b) =>
          writeSchedProcessExec(this.mem, b, ev.pid, ev.pid, ev.exe),
        );
      }
      if (this.has('tracepoint/syscalls/sys_exit_execve')) {
        this.fire('tracepoint/syscalls/sys_exit_execve', (b) =>
          writeSysExit(this.mem, b, 'syscalls/sys_exit_execve', at ? NR_EXECVEAT : NR_EXECVE, ev.pid, ret),
        );
      }
    }
    out.push({ event: applied, context });
    this.afterSignal(applied, rec, out, killedEarly);
  }

  private connect(ev: ConnectEvent, out: Handled[]): void {
    const context = this.table.apply(ev);
    const rec = context.process as ProcessRecord;
    // A pid first seen here becomes a partial entry in the process cache.
    if (rec.partial === true) this.writeProc(rec);
    // Object.assign, not a spread: adding keys to a spread copy is very slow in V8 (Node 20).
    const applied: ConnectEvent = Object.assign({}, ev);
    // The local end, as Linux picks it: the container's (or host's) address, an ephemeral port.
    if (ev.family !== 'unix') {
      if (applied.saddr === undefined) applied.saddr = this.localAddr(rec, ev.family, ev.daddr);
      if (applied.sport === undefined) applied.sport = this.ephemeralPort();
    }
    // The socket's local end, as a program would read it from struct sock.
    const socks = this.maps.get(KS_NAME);
    if (socks !== undefined) {
      const family = ev.family === 'inet' ? 2 : ev.family === 'inet6' ? 10 : 1;
      const key = new Uint8Array(8);
      const kdv = new DataView(key.buffer);
      kdv.setUint32(0, rec.pid >>> 0, true);
      kdv.setUint32(4, rec.tgid >>> 0, true);
      socks.update(key, encodeSock(family, applied.sport ?? 0, ev.proto === 'udp' ? 17 : 6, applied.saddr));
    }
    let ret = ev.ret ?? 0;
    let enforced: 'kill' | 'deny' | undefined;
    const enter: HookName = 'tracepoint/syscalls/sys_enter_connect';
    const kprobe: HookName = 'kprobe/__x64_sys_connect';
    const fd = ev.fd ?? 3;
    this.setTask(rec);
    if (this.has(enter) || this.has(kprobe)) {
      const um = this.userOf(ev.pid);
      um.reset();
      const spec = { family: ev.family, addr: ev.daddr, port: ev.dport, path: ev.path };
      const slot = um.reserveBytes(sockaddrSize(ev.family));
      const len = encodeSockaddrInto(spec, slot.bytes, slot.view, slot.off);
      const addr = slot.addr;
      this.env.user = um;
      if (this.has(enter)) this.fire(enter, (b) => writeSysEnterConnect(this.mem, b, ev.pid, fd, addr, len));
      if (this.env.signal !== SIGKILL && this.has(kprobe)) {
        this.env.overrideAllowed = true;
        this.fire(kprobe, (b) => writeKprobeSyscall(this.mem, b, this.innerRegs, 'connect', NR_CONNECT, [fd, addr, len]));
        this.env.overrideAllowed = false;
      }
      if (this.env.signal === SIGKILL) enforced = 'kill';
      else if (this.env.override !== undefined) {
        ret = Number(this.env.override);
        enforced = 'deny';
        this.stats.denies++;
      }
      this.env.user = undefined;
    }
    const killedEarly = enforced === 'kill';
    if (enforced !== undefined) applied.enforced = enforced;
    if (killedEarly) delete applied.ret;
    else if (ret !== 0 || ev.ret !== undefined) applied.ret = ret;
    if (!killedEarly && this.has('tracepoint/syscalls/sys_exit_connect')) {
      this.fire('tracepoint/syscalls/sys_exit_connect', (b) =>
        writeSysExit(this.mem, b, 'syscalls/sys_exit_connect', NR_CONNECT, ev.pid, ret),
      );
    }
    context.event = applied;
    out.push({ event: applied, context });
    this.afterSignal(applied, rec, out, killedEarly);
  }

  private exit(ev: ExitEvent, out: Handled[]): void {
    const before = this.table.isLive(ev.pid) ? this.table.get(ev.pid) : undefined;
    if (before !== undefined && this.has('tracepoint/sched/sched_process_exit')) {
      this.setTask(before);
      this.fire('tracepoint/sched/sched_process_exit', (b) => writeSchedProcessExit(this.mem, b, ev.pid, before.comm));
      // A signal to a task that is already exiting changes nothing.
      this.env.resetVerdicts();
    }
    const context = this.table.apply(ev);
    if (context.process !== undefined) this.writeProc(context.process, true);
    this.users.delete(ev.pid);
    out.push({ event: ev, context });
  }

  /** A kill verdict from any hook of this event: the process dies right after. */
  private afterSignal(ev: KestrelEvent, rec: ProcessRecord, out: Handled[], alreadyMarked: boolean): void {
    const sig = this.env.signal;
    this.env.resetVerdicts();
    if (sig !== SIGKILL) return;
    this.stats.kills++;
    if (!alreadyMarked) ev.enforced = 'kill';
    if (!this.table.isLive(rec.pid)) return;
    const exit: ExitEvent = { type: 'exit', ts: ev.ts, pid: rec.pid, code: KILLED_EXIT_CODE, enforced: 'kill' };
    this.exit(exit, out);
  }

  /** Who calls execve: the known process, or (for a pid seen first here) a fork of its parent. */
  private callerOf(ev: ExecEvent): ProcessRecord {
    const known = this.table.isLive(ev.pid) ? this.table.get(ev.pid) : undefined;
    if (known !== undefined) return known;
    const parent = ev.ppid !== undefined && this.table.isLive(ev.ppid) ? this.table.get(ev.ppid) : undefined;
    return {
      pid: ev.pid,
      tgid: ev.pid,
      ppid: ev.ppid ?? 0,
      uid: ev.uid ?? parent?.uid,
      gid: ev.gid ?? parent?.gid,
      comm: parent?.comm ?? '',
      exe: parent?.exe ?? '',
      argv: [],
      env: [],
      startTs: ev.ts,
      cgroupId: parent?.cgroupId ?? (ev.container !== undefined ? this.table.upsertContainer(ev.container).cgroupId : 1n),
      containerId: parent?.containerId ?? (ev.container !== undefined ? this.table.upsertContainer(ev.container).id : 'host'),
      partial: true,
    };
  }

  private userOf(pid: number): UserMemory {
    let um = this.users.get(pid);
    if (um === undefined) {
      um = new UserMemory();
      this.users.set(pid, um);
    }
    return um;
  }

  private setTask(rec: ProcessRecord): void {
    // One mutable TaskInfo: helpers read it only during the firing.
    this.task.set(rec);
    this.env.task = this.task;
  }

  /**
   * Write the context (fixed-size hooks: into their permanent region; variable ones: a region of
   * the record's exact size for this firing) and run every attached program. The call that runs
   * a program is `executor`, the one place an engine plugs in.
   */
  private fire(hook: HookName, write: (base: number) => number): void {
    const progs = this.attachedByHook.get(hook);
    if (progs === undefined) return;
    const slot = this.ctx.get(hook) as CtxSlot;
    const ctxSize = write(slot.addr);
    let region = slot.region;
    if (region === 0) region = this.mem.addRegion(slot.addr, ctxSize, RegionKind.Context, false);
    this.stats.firings++;
    try {
      for (let i = 0; i < progs.length; i++) {
        this.stats.runs++;
        this.executor(progs[i], this.env, slot.addr, ctxSize, hook);
      }
    } finally {
      if (slot.region === 0) this.mem.removeRegion(region);
    }
  }

  private localAddr(rec: ProcessRecord, family: 'inet' | 'inet6', daddr: string | undefined): string {
    if (daddr !== undefined && (daddr.startsWith('127.') || daddr === '::1')) return daddr === '::1' ? '::1' : '127.0.0.1';
    if (rec.containerId === 'host') return family === 'inet6' ? this.hostAddr6 : this.hostAddr;
    // A bridge address derived from the cgroup id, so it is stable per container.
    const h = Number(rec.cgroupId & 0xffffn);
    return family === 'inet6'
      ? `fd00:17::${(h + 2).toString(16)}`
      : `172.17.${(h >>> 8) & 0xff}.${(h & 0xff) < 2 ? (h & 0xff) + 2 : h & 0xff}`;
  }

  private ephemeralPort(): number {
    const p = this.nextPort;
    this.nextPort = p >= EPHEMERAL_HIGH ? EPHEMERAL_LOW : p + 1;
    return p;
  }

  // ---- kernel maps ----

  private writeProc(rec: ProcessRecord | undefined, exited = false): void {
    const m = this.maps.get(KP_NAME);
    if (m === undefined || rec === undefined) return;
    const idx = this.containerIdx.get(rec.containerId) ?? this.indexOf(rec.containerId);
    this.key32View.setUint32(0, rec.pid, true);
    try {
      m.update(this.key32, encodeProc(rec, idx, exited, this.procBuf, this.procView));
    } catch {
      // A full map (E2BIG) loses this entry, as the kernel's would; programs see a miss.
    }
  }

  private indexOf(containerId: string): number {
    const i = this.containerIdx.size;
    this.containerIdx.set(containerId, i);
    return i;
  }

  private writeContainer(id: string): void {
    const m = this.maps.get(KC_NAME);
    const c = this.table.container(id);
    if (m === undefined || c === undefined) return;
    const idx = this.containerIdx.get(c.id) ?? this.indexOf(c.id);
    try {
      m.update(u64Key(c.cgroupId), encodeContainer(c, idx, this.contBuf));
    } catch {
      // full: see writeProc
    }
  }

  private writeNames(): void {
    const users = this.maps.get(KU_NAME);
    if (users !== undefined) for (const [uid, name] of this.table.userEntries()) users.update(u32Key(uid), encodeName(name));
    const groups = this.maps.get(KG_NAME);
    if (groups !== undefined) for (const [gid, name] of this.table.groupEntries()) groups.update(u32Key(gid), encodeName(name));
  }

  private evicted(rec: ProcessRecord): void {
    this.users.delete(rec.pid);
    const m = this.maps.get(KP_NAME);
    if (m === undefined || this.table.isLive(rec.pid)) return;
    try {
      m.delete(u32Key(rec.pid));
    } catch {
      // already gone
    }
  }
}

/** The helpers' view of the current task, refilled per firing. */
class CurrentTask implements TaskInfo {
  pid = 0;
  tgid = 0;
  uid = 0;
  gid = 0;
  comm = '';
  cgroupId = 1n;
  set(rec: ProcessRecord): void {
    this.pid = rec.pid;
    this.tgid = rec.tgid;
    this.uid = rec.uid ?? 0;
    this.gid = rec.gid ?? 0;
    this.comm = rec.comm;
    this.cgroupId = rec.cgroupId;
  }
  /** A plausible task_struct address in the direct map; a scalar to programs. */
  get taskAddr(): bigint {
    return 0xffff_8880_0000_0000n + BigInt(this.pid) * 0x4000n;
  }
}

// strace records → Kestrel events. Follows clone/fork/vfork to build the process tree (threads
// are folded into their process), pairs `<unfinished ...>` with `resumed>`, and holds back lines
// of a child whose clone has not returned yet in its parent (strace often prints the child's
// first execve before the parent's clone result), so every exec has its parent.

import { isAbsolute, resolve as resolvePath } from 'node:path';
import type { ConnectEvent, ExecEvent, KestrelEvent } from '../events.js';
import { ERRNO, SIGNALS, isRaw, isStruct, parseCall, type SValue, type StraceRecord } from './parse.js';
import { decodeSockaddrText } from './sockaddr.js';

export interface ProcInfo {
  ppid?: number;
  uid?: number;
  gid?: number;
  cwd?: string;
  /** Container id from /proc/PID/cgroup, when the process runs in one. */
  containerId?: string;
}

export interface DecoderOptions {
  /** Reads what strace does not print (uid, gid, cwd, cgroup); default: nothing. */
  procInfo?: (pid: number) => ProcInfo | undefined;
  /** Also report execs that failed with ENOENT (a shell's PATH search). Default false. */
  failedLookups?: boolean;
}

const CLONE_THREAD = 0x10000;
const CLONE_CALLS = new Set(['clone', 'clone3', 'fork', 'vfork']);

function str(v: SValue | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function strArray(v: SValue | undefined): string[] | undefined {
  if (!Array.isArray(v)) return undefined;
  return v.filter((x): x is string => typeof x === 'string');
}

/** Whether a clone's flags (symbolic or hex, in args[0] struct for clone3) create a thread. */
function isThreadClone(name: string, args: SValue[]): boolean {
  if (name === 'fork' || name === 'vfork') return false;
  let flags: SValue | undefined;
  if (name === 'clone3') flags = isStruct(args[0]) ? args[0].fields['flags'] : undefined;
  else for (const a of args) if (isRaw(a) && a.raw.startsWith('flags=')) flags = { raw: a.raw.slice(6) };
  if (flags === undefined) {
    // clone(child_stack=..., flags=...) is parsed as raw `flags=...` pieces.
    return false;
  }
  const text = isRaw(flags) ? flags.raw : typeof flags === 'string' ? flags : '';
  if (text.includes('CLONE_THREAD')) return true;
  const hex = /^0x[0-9a-f]+/i.exec(text);
  return hex !== null && (Number(hex[0]) & CLONE_THREAD) !== 0;
}

export class StraceDecoder {
  private readonly threads = new Map<number, number>();
  private readonly known = new Set<number>();
  private readonly unfinished = new Map<string, { argsText: string; tsNs: bigint }>();
  private pendingClones = 0;
  private readonly held = new Map<number, StraceRecord[]>();
  private readonly info = new Map<number, ProcInfo>();

  constructor(private readonly opts: DecoderOptions = {}) {}

  /** Feed one record; returns the events it completes (possibly none, possibly several). */
  push(rec: StraceRecord): KestrelEvent[] {
    const out: KestrelEvent[] = [];
    this.handle(rec, out);
    return out;
  }

  /** At the end of the stream: release anything still held back. */
  flush(): KestrelEvent[] {
    const out: KestrelEvent[] = [];
    this.pendingClones = 0;
    for (const [pid, recs] of [...this.held.entries()]) {
      this.held.delete(pid);
      this.known.add(pid);
      for (const r of recs) this.handle(r, out);
    }
    return out;
  }

  private tgid(pid: number): number {
    return this.threads.get(pid) ?? pid;
  }

  private handle(rec: StraceRecord, out: KestrelEvent[]): void {
    const pid = rec.pid;
    // A pid we have not seen while some clone is still in flight: probably that clone's child.
    if (!this.known.has(pid) && !this.threads.has(pid)) {
      if (this.pendingClones > 0 || this.held.has(pid)) {
        const q = this.held.get(pid) ?? [];
        q.push(rec);
        this.held.set(pid, q);
        return;
      }
      this.known.add(pid); // the traced root, or a process that predates an attach
    }
    switch (rec.kind) {
      case 'unfinished':
        if (CLONE_CALLS.has(rec.name)) this.pendingClones++;
        this.unfinished.set(`${pid}:${rec.name}`, { argsText: rec.argsText, tsNs: rec.tsNs });
        return;
      case 'resumed': {
        const key = `${pid}:${rec.name}`;
        const u = this.unfinished.get(key);
        this.unfinished.delete(key);
        if (CLONE_CALLS.has(rec.name) && u !== undefined) this.pendingClones = Math.max(0, this.pendingClones - 1);
        const parsed = parseCall(`${u?.argsText ?? ''}${rec.restText}`);
        if (parsed === undefined) return;
        this.call(pid, u?.tsNs ?? rec.tsNs, rec.name, parsed.args, parsed.ret, parsed.errno, out);
        return;
      }
      case 'call':
        this.call(pid, rec.tsNs, rec.name, rec.args, rec.ret, rec.errno, out);
        return;
      case 'exited':
      case 'killed': {
        if (this.threads.has(pid)) {
          this.threads.delete(pid);
          return;
        }
        const code = rec.kind === 'exited' ? rec.code : 128 + (SIGNALS[rec.signal] ?? 0);
        out.push({ type: 'exit', ts: rec.tsNs, pid, code });
        this.known.delete(pid);
        this.info.delete(pid);
        return;
      }
      default:
        return;
    }
  }

  private call(
    tid: number, ts: bigint, name: string, args: SValue[], ret: number | undefined, errno: string | undefined,
    out: KestrelEvent[],
  ): void {
    const pid = this.tgid(tid);
    if (CLONE_CALLS.has(name)) {
      if (ret === undefined || ret <= 0) return;
      if (isThreadClone(name, args)) {
        this.threads.set(ret, pid);
      } else {
        out.push({ type: 'fork', ts, pid, child: ret });
        this.known.add(ret);
        // Inherited cwd/uid/container until the child's own exec says otherwise.
        const pi = this.info.get(pid);
        if (pi !== undefined) this.info.set(ret, { ...pi, ppid: pid });
      }
      const held = this.held.get(ret);
      if (held !== undefined) {
        this.held.delete(ret);
        for (const r of held) this.handle(r, out);
      }
      return;
    }
    if (name === 'execve' || name === 'execveat') {
      const at = name === 'execveat';
      const filename = str(args[at ? 1 : 0]);
      const argv = strArray(args[at ? 2 : 1]);
      if (filename === undefined) return;
      const errnoNum = errno === undefined ? 0 : ERRNO[errno] ?? 1;
      if (ret !== 0 && errno === 'ENOENT' && this.opts.failedLookups !== true) return;
      const fresh = this.opts.procInfo?.(pid);
      const pi: ProcInfo = { ...this.info.get(pid), ...definedOnly(fresh) };
      if (ret === 0) this.info.set(pid, pi);
      const exe = isAbsolute(filename) || pi.cwd === undefined ? filename : resolvePath(pi.cwd, filename);
      const ev: ExecEvent = { type: 'exec', ts, pid, exe, argv: argv ?? [filename] };
      if (pi.ppid !== undefined && pi.ppid !== pid) ev.ppid = pi.ppid;
      if (pi.uid !== undefined) ev.uid = pi.uid;
      if (pi.gid !== undefined) ev.gid = pi.gid;
      if (pi.cwd !== undefined) ev.cwd = pi.cwd;
      const env = strArray(args[at ? 3 : 2]);
      if (env !== undefined) ev.env = env;
      if (pi.containerId !== undefined) ev.container = { id: pi.containerId };
      if (ret !== 0) ev.ret = ret === -1 ? -errnoNum : ret ?? -errnoNum;
      if (at) ev.syscall = 'execveat';
      out.push(ev);
      return;
    }
    if (name === 'connect') {
      const fd = isRaw(args[0]) ? Number(args[0].raw) : undefined;
      const sa = decodeSockaddrText(args[1]);
      if (sa === undefined) return; // AF_NETLINK and friends are not connections
      const ev: ConnectEvent = { type: 'connect', ts, pid, family: sa.family };
      if (fd !== undefined && Number.isInteger(fd)) ev.fd = fd;
      if (sa.family === 'unix') ev.path = sa.path ?? '';
      else {
        ev.daddr = sa.addr;
        ev.dport = sa.port;
      }
      ev.ret = ret === undefined || ret === 0 ? 0 : -(errno === undefined ? 1 : ERRNO[errno] ?? 1);
      out.push(ev);
    }
  }
}

function definedOnly(p: ProcInfo | undefined): ProcInfo {
  const out: ProcInfo = {};
  if (p === undefined) return out;
  for (const [k, v] of Object.entries(p)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

// Tetragon's JSON export (protojson of GetEventsResponse, one object a line) mapped onto Kestrel
// events, as SPEC §3 describes. Stateful: `exec_id` is a process's identity (pids are reused and
// an exec replaces the image of the same pid), so the importer remembers which exec_id each pid
// currently runs and emits a synthetic exec (state only, fires no hook) when an event names a
// process it has not seen, such as the parent of the first exec, or a process that started
// before the export did.

import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { ConnectEvent, ContainerRef, ExecEvent, KestrelEvent } from './events.js';
import { EventFormatError } from './ndjson.js';
import { parseRfc3339Ns } from './timefmt.js';

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function obj(v: unknown): Obj | undefined {
  return isObj(v) ? v : undefined;
}

function s(o: Obj | undefined, key: string): string | undefined {
  const v = o?.[key];
  return typeof v === 'string' ? v : undefined;
}

/** protojson writes 64-bit ints as strings and 32-bit as numbers; accept both. */
function n(o: Obj | undefined, key: string): number | undefined {
  const v = o?.[key];
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return Number(v);
  return undefined;
}

/** 4294967295 ((u32)-1) is the kernel's "no login uid". */
const AUID_UNSET = 4294967295;

/**
 * Split Tetragon's `arguments` string. Arguments are joined by spaces; one that contains a space
 * is wrapped in double quotes, with nothing escaped inside.
 */
export function splitTetragonArgs(args: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < args.length) {
    if (args[i] === ' ') {
      i++;
      continue;
    }
    if (args[i] === '"') {
      // The closing quote is the next one followed by a space or the end.
      let j = args.indexOf('"', i + 1);
      while (j >= 0 && j + 1 < args.length && args[j + 1] !== ' ') j = args.indexOf('"', j + 1);
      if (j > i) {
        out.push(args.slice(i + 1, j));
        i = j + 1;
        continue;
      }
    }
    let j = args.indexOf(' ', i);
    if (j < 0) j = args.length;
    out.push(args.slice(i, j));
    i = j;
  }
  return out;
}

/** `containerd://<hex>`, `docker://<hex>`, `cri-o://<hex>` → hex. */
function stripRuntime(id: string): string {
  const k = id.indexOf('://');
  return k >= 0 ? id.slice(k + 3) : id;
}

export interface TetragonSummary {
  /** Lines read (including blank ones). */
  lines: number;
  /** Kestrel events produced, per type (synthetic execs counted as `exec (synthetic)`). */
  produced: Record<string, number>;
  /** Tetragon events skipped, per type (`process_kprobe:<function>` for other kprobes). */
  skipped: Record<string, number>;
  errors: number;
}

interface Known {
  pid: number;
}

export class TetragonImporter {
  readonly summary: TetragonSummary = { lines: 0, produced: {}, skipped: {}, errors: 0 };
  /** exec_id → what we emitted for it. */
  private readonly byExecId = new Map<string, Known>();
  /** pid → exec_id it currently runs. */
  private readonly currentExecId = new Map<number, string>();
  /** Container ids in use (full ids or `docker` prefixes), see canonical(). */
  private readonly fullIds = new Set<string>();
  private lastTs = 0n;

  constructor(private readonly maxTracked = 65536) {}

  /** Convert one line; bad lines throw EventFormatError (the caller reports and goes on). */
  line(text: string, lineNo: number, file = ''): KestrelEvent[] {
    this.summary.lines = lineNo;
    const t = text.trim();
    if (t === '') return [];
    let o: unknown;
    try {
      o = JSON.parse(t);
    } catch (e) {
      this.summary.errors++;
      const msg = e instanceof Error ? e.message : String(e);
      const pos = /position (\d+)/.exec(msg);
      throw new EventFormatError(`invalid JSON: ${msg}`, lineNo, pos === null ? 1 : Number(pos[1]) + 1, file);
    }
    if (!isObj(o)) {
      this.summary.errors++;
      throw new EventFormatError('a Tetragon event must be a JSON object', lineNo, 1, file);
    }
    const time = s(o, 'time');
    let ts = time === undefined ? undefined : parseRfc3339Ns(time);
    const key = Object.keys(o).find((k) => k.startsWith('process_') || k === 'rate_limit_info');
    if (key === undefined) {
      this.summary.errors++;
      throw new EventFormatError('no event key (process_exec, process_exit, process_kprobe, ...)', lineNo, 1, file);
    }
    const body = obj(o[key]) ?? {};
    const proc = obj(body['process']);
    // Without `time`: an exec happened at its start_time; anything else at the last time seen.
    ts ??= (key === 'process_exec' ? parseRfc3339Ns(s(proc, 'start_time') ?? '') : undefined) ?? this.lastTs;
    if (ts > this.lastTs) this.lastTs = ts;
    const out: KestrelEvent[] = [];
    switch (key) {
      case 'process_exec':
        this.exec(body, ts, out);
        break;
      case 'process_exit':
        this.exit(body, ts, out);
        break;
      case 'process_kprobe': {
        const fn = s(body, 'function_name') ?? '';
        if (fn === 'tcp_connect' || fn === 'tcp_v4_connect' || fn === 'tcp_v6_connect') {
          const sock = this.sockArg(body);
          if (sock !== undefined) {
            this.connect(body, ts, sock, out);
            break;
          }
        }
        this.skip(`process_kprobe:${fn === '' ? '?' : fn}`);
        break;
      }
      case 'process_connect': {
        const src = s(body, 'source_ip');
        const dst = s(body, 'destination_ip');
        if (dst === undefined) {
          this.skip(key);
          break;
        }
        this.connect(body, ts, {
          family: dst.includes(':') ? 'inet6' : 'inet',
          saddr: src,
          sport: n(body, 'source_port'),
          daddr: dst,
          dport: n(body, 'destination_port'),
          proto: /udp/i.test(s(body, 'protocol') ?? '') ? 'udp' : 'tcp',
        }, out);
        break;
      }
      default:
        this.skip(key);
    }
    for (const ev of out) {
      const k = ev.type === 'exec' && ev.synthetic === true ? 'exec (synthetic)' : ev.type;
      this.summary.produced[k] = (this.summary.produced[k] ?? 0) + 1;
    }
    return out;
  }

  private skip(type: string): void {
    this.summary.skipped[type] = (this.summary.skipped[type] ?? 0) + 1;
  }

  private container(p: Obj): ContainerRef | undefined {
    const pod = obj(p['pod']);
    const c = obj(pod?.['container']);
    const rawId = s(c, 'id');
    if (rawId !== undefined && rawId !== '') {
      const id = this.canonical(stripRuntime(rawId));
      const ref: ContainerRef = { id };
      const name = s(c, 'name');
      if (name !== undefined) ref.name = name;
      const image = s(obj(c?.['image']), 'name');
      if (image !== undefined) ref.image = image;
      const sc = obj(c?.['security_context']);
      if (typeof sc?.['privileged'] === 'boolean') ref.privileged = sc['privileged'];
      const podName = s(pod, 'name');
      if (podName !== undefined) ref.pod = podName;
      const ns = s(pod, 'namespace');
      if (ns !== undefined) ref.namespace = ns;
      return ref;
    }
    const docker = s(p, 'docker');
    if (docker !== undefined && docker !== '') {
      // Only the id's leading hex digits: the container already known by a related id, if any.
      return { id: this.canonical(stripRuntime(docker)) };
    }
    return undefined;
  }

  /**
   * One id per container for the whole stream: the first form seen (a full id, or the leading
   * digits the `docker` field carries) stays the id whenever a later form is a prefix of it or
   * extends it, so the process table sees one container.
   */
  private canonical(id: string): string {
    for (const known of this.fullIds) if (known.startsWith(id) || id.startsWith(known)) return known;
    this.fullIds.add(id);
    return id;
  }

  /** The exec event describing a Tetragon Process object. */
  private execFrom(p: Obj, ts: bigint, synthetic: boolean): ExecEvent | undefined {
    const pid = n(p, 'pid');
    const binary = s(p, 'binary');
    if (pid === undefined || binary === undefined) return undefined;
    const args = s(p, 'arguments');
    const ev: ExecEvent = {
      type: 'exec',
      ts,
      pid,
      exe: binary,
      argv: [binary, ...(args === undefined || args === '' ? [] : splitTetragonArgs(args))],
    };
    const parentId = s(p, 'parent_exec_id');
    const parent = parentId === undefined ? undefined : this.byExecId.get(parentId);
    if (parent !== undefined && parent.pid !== pid) ev.ppid = parent.pid;
    const uid = n(p, 'uid');
    if (uid !== undefined) ev.uid = uid;
    const gid = n(obj(p['process_credentials']), 'gid');
    if (gid !== undefined) ev.gid = gid;
    const auid = n(p, 'auid');
    if (auid !== undefined && auid !== AUID_UNSET) ev.loginuid = auid;
    const cwd = s(p, 'cwd');
    if (cwd !== undefined) ev.cwd = cwd;
    const c = this.container(p);
    if (c !== undefined) ev.container = c;
    const vpid = n(obj(obj(p['pod'])?.['container']), 'pid');
    if (vpid !== undefined && c !== undefined) ev.vpid = vpid;
    if (synthetic) ev.synthetic = true;
    return ev;
  }

  private remember(execId: string | undefined, pid: number): void {
    if (execId === undefined) return;
    this.byExecId.set(execId, { pid });
    this.currentExecId.set(pid, execId);
    if (this.byExecId.size > this.maxTracked) {
      const oldest = this.byExecId.keys().next();
      if (!oldest.done) this.byExecId.delete(oldest.value);
    }
  }

  /** Make sure the process table knows `p` as the current image of its pid. */
  private ensure(p: Obj | undefined, ts: bigint, out: KestrelEvent[]): number | undefined {
    if (p === undefined) return undefined;
    const pid = n(p, 'pid');
    if (pid === undefined) return undefined;
    const execId = s(p, 'exec_id');
    if (execId !== undefined && this.currentExecId.get(pid) === execId) return pid;
    if (execId === undefined && this.currentExecId.has(pid)) return pid;
    const ev = this.execFrom(p, ts, true);
    if (ev !== undefined) {
      out.push(ev);
      this.remember(execId, pid);
    }
    return pid;
  }

  private exec(body: Obj, ts: bigint, out: KestrelEvent[]): void {
    const p = obj(body['process']);
    if (p === undefined) {
      this.skip('process_exec (no process)');
      return;
    }
    const parent = obj(body['parent']);
    const pid = n(p, 'pid');
    // The parent record, when it is new to us: state only.
    if (parent !== undefined && n(parent, 'pid') !== pid) this.ensure(parent, ts, out);
    const ev = this.execFrom(p, ts, false);
    if (ev === undefined) {
      this.skip('process_exec (no pid or binary)');
      return;
    }
    if (ev.ppid === undefined && parent !== undefined) {
      const ppid = n(parent, 'pid');
      if (ppid !== undefined && ppid !== ev.pid) ev.ppid = ppid;
    }
    out.push(ev);
    this.remember(s(p, 'exec_id'), ev.pid);
  }

  private exit(body: Obj, ts: bigint, out: KestrelEvent[]): void {
    const p = obj(body['process']);
    const pid = n(p, 'pid');
    if (p === undefined || pid === undefined) {
      this.skip('process_exit (no process)');
      return;
    }
    const execId = s(p, 'exec_id');
    const current = this.currentExecId.get(pid);
    // An exit for an image the pid no longer runs (pid reused since): nothing to end.
    if (execId !== undefined && current !== undefined && current !== execId && this.byExecId.has(execId)) {
      this.skip('process_exit (stale exec_id)');
      return;
    }
    this.ensure(p, ts, out);
    const code = n(body, 'status');
    out.push(code === undefined ? { type: 'exit', ts, pid } : { type: 'exit', ts, pid, code });
    this.currentExecId.delete(pid);
  }

  private sockArg(body: Obj): Omit<ConnectEvent, 'type' | 'ts' | 'pid'> | undefined {
    const args = body['args'];
    if (!Array.isArray(args)) return undefined;
    for (const a of args) {
      const sock = obj(obj(a)?.['sock_arg']);
      if (sock === undefined) continue;
      const fam = s(sock, 'family') ?? '';
      const daddr = s(sock, 'daddr');
      if (daddr === undefined) return undefined;
      return {
        family: fam === 'AF_INET6' || daddr.includes(':') ? 'inet6' : 'inet',
        saddr: s(sock, 'saddr'),
        sport: n(sock, 'sport'),
        daddr,
        dport: n(sock, 'dport'),
        proto: /UDP/.test(s(sock, 'protocol') ?? '') ? 'udp' : 'tcp',
      };
    }
    return undefined;
  }

  private connect(body: Obj, ts: bigint, sock: Omit<ConnectEvent, 'type' | 'ts' | 'pid'>, out: KestrelEvent[]): void {
    const p = obj(body['process']);
    const pid = this.ensure(p, ts, out);
    if (pid === undefined) {
      this.skip('connect (no process)');
      return;
    }
    const ev: ConnectEvent = { type: 'connect', ts, pid, family: sock.family };
    for (const [k, v] of Object.entries(sock)) if (v !== undefined) (ev as unknown as Obj)[k] = v;
    ev.ret = 0;
    out.push(ev);
  }
}

/** Stream Kestrel events out of a Tetragon export. */
export async function* readTetragon(
  input: Readable,
  importer: TetragonImporter,
  onError?: (e: EventFormatError) => void,
  file = '',
): AsyncGenerator<KestrelEvent> {
  const rl = createInterface({ input, crlfDelay: Infinity });
  let lineNo = 0;
  for await (const line of rl) {
    lineNo++;
    let evs: KestrelEvent[];
    try {
      evs = importer.line(line, lineNo, file);
    } catch (e) {
      if (e instanceof EventFormatError) {
        onError?.(e);
        continue;
      }
      throw e;
    }
    yield* evs;
  }
}

// Field extraction for the reference evaluator and the output renderer: what each catalog field
// reads from an EventContext (collectors/snapshot.ts), with Falco's conventions. `undefined`
// means "no value" (rendered <NA>; every comparison but `exists` is false).

import { hostname } from 'node:os';
import type { EventContext, ProcessRecord } from '../../collectors/snapshot.js';
import type { FieldArg } from '../condition/ast.js';
import { parseIp } from '../util/ip.js';

/** One extracted value: IPs as bytes, times as bigint ns, everything else plain. */
export type Scalar = string | number | boolean | bigint | Uint8Array;
/** A multi-valued field (proc.aname without index, fd.ip, fd.sip.name) gives an array. */
export type Extracted = Scalar | Scalar[] | undefined;

type Extractor = (ctx: EventContext, arg: FieldArg | undefined) => Extracted;

const ERRNO: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 3: 'ESRCH', 4: 'EINTR', 5: 'EIO', 7: 'E2BIG', 8: 'ENOEXEC', 9: 'EBADF', 11: 'EAGAIN',
  12: 'ENOMEM', 13: 'EACCES', 14: 'EFAULT', 17: 'EEXIST', 20: 'ENOTDIR', 21: 'EISDIR', 22: 'EINVAL', 24: 'EMFILE',
  26: 'ETXTBSY', 28: 'ENOSPC', 36: 'ENAMETOOLONG', 40: 'ELOOP', 97: 'EAFNOSUPPORT', 98: 'EADDRINUSE',
  99: 'EADDRNOTAVAIL', 101: 'ENETUNREACH', 104: 'ECONNRESET', 110: 'ETIMEDOUT', 111: 'ECONNREFUSED',
  113: 'EHOSTUNREACH', 114: 'EALREADY', 115: 'EINPROGRESS',
};

export function errnoName(ret: number): string {
  if (ret >= 0) return 'SUCCESS';
  return ERRNO[-ret] ?? `E${-ret}`;
}

let cachedHost: string | undefined;
function hostName(): string {
  cachedHost ??= hostname();
  return cachedHost;
}

function evtType(ctx: EventContext): string {
  switch (ctx.event.type) {
    case 'exec':
      return 'execve';
    case 'connect':
      return 'connect';
    case 'fork':
      return 'clone';
    case 'exit':
      return 'procexit';
    case 'dns':
      return 'dns';
  }
}

function ret(ctx: EventContext): number | undefined {
  const e = ctx.event;
  if (e.type === 'exec' || e.type === 'connect') return e.ret ?? 0;
  return undefined;
}

const proc = (f: (p: ProcessRecord, ctx: EventContext) => Extracted): Extractor => (ctx) =>
  ctx.process === undefined ? undefined : f(ctx.process, ctx);
const parent = (f: (p: ProcessRecord, ctx: EventContext) => Extracted): Extractor => (ctx) => {
  const a = ctx.process === undefined ? undefined : ctx.ancestors()[0];
  return a === undefined ? undefined : f(a, ctx);
};
/** proc.aXXX[N]: N = 0 is the process, N = 1 the parent...; without N: every ancestor. */
const ancestor = (f: (p: ProcessRecord) => Scalar | undefined): Extractor => (ctx, arg) => {
  const p = ctx.process;
  if (p === undefined) return undefined;
  const chain = ctx.ancestors();
  if (arg === undefined) {
    const out: Scalar[] = [];
    for (const a of chain) {
      const v = f(a);
      if (v !== undefined) out.push(v);
    }
    return out.length === 0 ? undefined : out;
  }
  if (arg.kind !== 'index') return undefined;
  const rec = arg.index === 0 ? p : chain[arg.index - 1];
  return rec === undefined ? undefined : f(rec);
};
const cont = (f: (c: NonNullable<EventContext['container']>) => Extracted): Extractor => (ctx) =>
  ctx.container === undefined ? undefined : f(ctx.container);
const conn = (f: (e: Extract<EventContext['event'], { type: 'connect' }>, ctx: EventContext) => Extracted): Extractor => (ctx) =>
  ctx.event.type === 'connect' ? f(ctx.event, ctx) : undefined;

const args = (p: ProcessRecord): string => p.argv.slice(1).join(' ');
const cmdline = (p: ProcessRecord): string => (p.argv.length > 1 ? `${p.comm} ${args(p)}` : p.comm);
const exe0 = (p: ProcessRecord): string | undefined => p.argv[0] ?? (p.exe === '' ? undefined : p.exe);
const nonEmpty = (s: string | undefined): string | undefined => (s === undefined || s === '' ? undefined : s);
const loginuid = (p: ProcessRecord): number | undefined =>
  p.loginuid === undefined ? undefined : p.loginuid === 4294967295 ? -1 : p.loginuid;

/** The process in the chain (self first) whose pid is `pid`. */
function leader(ctx: EventContext, pid: number | undefined): ProcessRecord | undefined {
  if (pid === undefined || ctx.process === undefined) return undefined;
  if (ctx.process.pid === pid) return ctx.process;
  return ctx.ancestors().find((a) => a.pid === pid);
}

function ipBytes(s: string | undefined): Uint8Array | undefined {
  return s === undefined ? undefined : parseIp(s);
}

type Endpoints = { cip?: Uint8Array; sip?: Uint8Array; cport?: number; sport?: number };
const endpointCache = new WeakMap<object, Endpoints>();

/** Client/server ends of a connect (client = this process), parsed once per event. */
function endpoints(e: Extract<EventContext['event'], { type: 'connect' }>): Endpoints {
  let out = endpointCache.get(e);
  if (out === undefined) {
    out = parseEndpoints(e);
    endpointCache.set(e, out);
  }
  return out;
}

function parseEndpoints(e: Extract<EventContext['event'], { type: 'connect' }>): Endpoints {
  if (e.family === 'unix') return {};
  const out: { cip?: Uint8Array; sip?: Uint8Array; cport?: number; sport?: number } = {};
  const c = ipBytes(e.saddr);
  const s = ipBytes(e.daddr);
  if (c !== undefined) out.cip = c;
  if (s !== undefined) out.sip = s;
  if (e.sport !== undefined) out.cport = e.sport;
  if (e.dport !== undefined) out.sport = e.dport;
  return out;
}

function names(ctx: EventContext, ip: string | undefined): Extracted {
  if (ip === undefined) return undefined;
  const n = ctx.namesOf(ip);
  return n.length === 0 ? undefined : [...n];
}

function fdName(e: Extract<EventContext['event'], { type: 'connect' }>): string | undefined {
  if (e.family === 'unix') return e.path;
  const fmt = (ip: string, port: number): string => (e.family === 'inet6' ? `[${ip}]:${port}` : `${ip}:${port}`);
  if (e.daddr === undefined) return undefined;
  const local = fmt(e.saddr ?? (e.family === 'inet6' ? '::' : '0.0.0.0'), e.sport ?? 0);
  return `${local}->${fmt(e.daddr, e.dport ?? 0)}`;
}

function execFlags(ctx: EventContext): string | undefined {
  const p = ctx.process;
  if (p === undefined || ctx.event.type !== 'exec') return undefined;
  const flags: string[] = [];
  if (p.exeFromMemfd === true) flags.push('EXE_FROM_MEMFD');
  if (p.containerId !== 'host') flags.push(p.exeUpperLayer === true ? 'EXE_UPPER_LAYER' : 'EXE_LOWER_LAYER');
  return flags.length === 0 ? undefined : flags.join('|');
}

/** evt.arg.NAME / evt.arg[N] on exec and connect events (Falco's exit-event parameters). */
function eventArg(ctx: EventContext, key: string): Scalar | undefined {
  const e = ctx.event;
  const p = ctx.process;
  if (e.type === 'exec') {
    const order = ['res', 'exe', 'args', 'tid', 'pid', 'ptid', 'cwd'];
    const name = /^\d+$/.test(key) ? order[Number(key)] : key;
    switch (name) {
      case 'res':
        return e.ret ?? 0;
      case 'exe':
        return e.argv[0] ?? e.exe;
      case 'args':
        return e.argv.slice(1).join(' ');
      case 'tid':
      case 'pid':
        return e.pid;
      case 'ptid':
        return e.ppid ?? p?.ppid;
      case 'cwd':
        return e.cwd ?? p?.cwd;
      case 'comm':
        return p?.comm;
      case 'env':
        return (e.env ?? []).join(' ');
      case 'tty':
        return e.tty;
      case 'pgid':
        return e.pgid;
      case 'loginuid':
        return p === undefined ? undefined : loginuid(p);
      case 'flags':
        return execFlags(ctx);
      case 'uid':
        return e.uid;
      case 'gid':
        return e.gid;
      case 'filename':
      case 'trusted_exepath':
        return e.exe;
      default:
        return undefined;
    }
  }
  if (e.type === 'connect') {
    const order = ['res', 'tuple', 'fd'];
    const name = /^\d+$/.test(key) ? order[Number(key)] : key;
    switch (name) {
      case 'res':
        return e.ret ?? 0;
      case 'fd':
        return e.fd;
      case 'tuple':
        return fdName(e);
      case 'addr':
        return e.family === 'unix' ? e.path : e.daddr === undefined ? undefined : `${e.daddr}:${e.dport ?? 0}`;
      default:
        return undefined;
    }
  }
  return undefined;
}

function evtArgs(ctx: EventContext): string | undefined {
  const names = ctx.event.type === 'exec' ? ['res', 'exe', 'args', 'tid', 'pid', 'ptid', 'cwd'] : ctx.event.type === 'connect' ? ['res', 'tuple', 'fd'] : [];
  const parts: string[] = [];
  for (const n of names) {
    const v = eventArg(ctx, n);
    if (v !== undefined) parts.push(`${n}=${String(v)}`);
  }
  return parts.length === 0 ? undefined : parts.join(' ');
}

function twoDigits(n: number): string {
  return String(n).padStart(2, '0');
}

export function formatTime(ns: bigint): { hms: string; iso: string; datetime: string } {
  const ms = Number(ns / 1_000_000n);
  const frac = String(ns % 1_000_000_000n).padStart(9, '0');
  const d = new Date(ms);
  const hms = `${twoDigits(d.getUTCHours())}:${twoDigits(d.getUTCMinutes())}:${twoDigits(d.getUTCSeconds())}`;
  const date = `${d.getUTCFullYear()}-${twoDigits(d.getUTCMonth() + 1)}-${twoDigits(d.getUTCDate())}`;
  return { hms: `${hms}.${frac}`, iso: `${date}T${hms}.${frac}Z`, datetime: `${date} ${hms}.${frac}` };
}

const EXTRACTORS: Record<string, Extractor> = {
  'evt.type': evtType,
  'syscall.type': evtType,
  'evt.res': (ctx) => {
    const r = ret(ctx);
    return r === undefined ? undefined : errnoName(r);
  },
  'evt.rawres': ret,
  'evt.failed': (ctx) => {
    const r = ret(ctx);
    return r === undefined ? undefined : r < 0;
  },
  'evt.num': () => undefined,
  // only exit events exist since Falco 0.42 (conditions on it are folded to constants)
  'evt.dir': () => '<',
  'evt.time': (ctx) => ctx.event.ts,
  'evt.rawtime': (ctx) => ctx.event.ts,
  'evt.time.s': (ctx) => formatTime(ctx.event.ts).hms.slice(0, 8),
  'evt.time.iso8601': (ctx) => formatTime(ctx.event.ts).iso,
  'evt.datetime': (ctx) => formatTime(ctx.event.ts).datetime,
  'evt.hostname': () => hostName(),
  'evt.source': () => 'syscall',
  'evt.args': evtArgs,
  'evt.arg': (ctx, arg) => (arg?.kind === 'key' ? eventArg(ctx, arg.key) : undefined),
  'evt.rawarg': (ctx, arg) => (arg?.kind === 'key' ? eventArg(ctx, arg.key) : undefined),

  'proc.pid': proc((p) => p.pid),
  'thread.tid': proc((p) => p.pid),
  'proc.vpid': proc((p) => p.vpid ?? p.pid),
  'thread.vtid': proc((p) => p.vpid ?? p.pid),
  'proc.name': proc((p) => nonEmpty(p.comm)),
  'proc.exe': proc(exe0),
  'proc.exepath': proc((p) => nonEmpty(p.exe)),
  'proc.args': proc((p) => (p.partial === true ? undefined : args(p))),
  'proc.cmdline': proc((p) => (p.partial === true ? undefined : cmdline(p))),
  'proc.exeline': proc((p) => (p.partial === true ? undefined : [exe0(p) ?? '', ...p.argv.slice(1)].join(' '))),
  'proc.env': (ctx, arg) => {
    const p = ctx.process;
    if (p === undefined) return undefined;
    if (arg?.kind === 'key') {
      const hit = p.env.find((e) => e.startsWith(arg.key + '='));
      return hit === undefined ? undefined : hit.slice(arg.key.length + 1);
    }
    return p.env.join(' ');
  },
  'proc.cwd': proc((p) => p.cwd),
  'proc.tty': proc((p) => p.tty),
  'proc.sid': proc((p) => p.sid),
  'proc.vpgid': proc((p) => p.pgid),
  'proc.pgid': proc((p) => p.pgid),
  'proc.is_vpgid_leader': proc((p) => (p.pgid === undefined ? undefined : p.pgid === p.pid)),
  'proc.is_sid_leader': proc((p) => (p.sid === undefined ? undefined : p.sid === p.pid)),
  'proc.duration': proc((p, ctx) => Number(ctx.event.ts - p.startTs)),
  'proc.is_exe_upper_layer': proc((p) => p.exeUpperLayer === true),
  'proc.is_exe_from_memfd': proc((p) => p.exeFromMemfd === true),
  'proc.ppid': proc((p) => p.ppid),
  'proc.pvpid': parent((a) => a.vpid ?? a.pid),
  'proc.pname': parent((a) => nonEmpty(a.comm)),
  'proc.pexe': parent(exe0),
  'proc.pexepath': parent((a) => nonEmpty(a.exe)),
  'proc.pcmdline': parent((a) => (a.partial === true ? undefined : cmdline(a))),
  'proc.ppid.duration': parent((a, ctx) => Number(ctx.event.ts - a.startTs)),
  'proc.aname': ancestor((a) => nonEmpty(a.comm)),
  'proc.apid': ancestor((a) => a.pid),
  'proc.aexe': ancestor(exe0),
  'proc.aexepath': ancestor((a) => nonEmpty(a.exe)),
  'proc.acmdline': ancestor((a) => (a.partial === true ? undefined : cmdline(a))),
  'proc.sname': (ctx) => nonEmpty(leader(ctx, ctx.process?.sid)?.comm),
  'proc.vpgid.name': (ctx) => nonEmpty(leader(ctx, ctx.process?.pgid)?.comm),
  'proc.vpgid.exe': (ctx) => {
    const l = leader(ctx, ctx.process?.pgid);
    return l === undefined ? undefined : exe0(l);
  },
  'proc.vpgid.exepath': (ctx) => nonEmpty(leader(ctx, ctx.process?.pgid)?.exe),

  'user.uid': proc((p) => p.uid),
  'user.name': proc((p, ctx) => (p.uid === undefined ? undefined : ctx.userName(p.uid))),
  'user.loginuid': proc(loginuid),
  'user.loginname': proc((p, ctx) => {
    const l = loginuid(p);
    return l === undefined || l < 0 ? undefined : ctx.userName(l);
  }),
  'group.gid': proc((p) => p.gid),
  'group.name': proc((p, ctx) => (p.gid === undefined ? undefined : ctx.groupName(p.gid))),

  'container.id': cont((c) => (c.id === 'host' ? 'host' : c.id.slice(0, 12))),
  'container.full_id': cont((c) => c.id),
  'container.name': cont((c) => c.name ?? (c.id === 'host' ? 'host' : undefined)),
  'container.image': cont((c) => c.image),
  'container.image.repository': cont((c) => c.imageRepository),
  'container.image.tag': cont((c) => c.imageTag),
  'container.privileged': cont((c) => c.privileged === true),
  'container.type': cont((c) => (c.id === 'host' ? 'host' : 'containerd')),
  'k8s.ns.name': cont((c) => c.namespace),
  'k8s.pod.name': cont((c) => c.pod),

  'fd.num': conn((e) => e.fd),
  'fd.type': conn((e) => (e.family === 'inet' ? 'ipv4' : e.family === 'inet6' ? 'ipv6' : 'unix')),
  'fd.typechar': conn((e) => (e.family === 'inet' ? '4' : e.family === 'inet6' ? '6' : 'u')),
  'fd.name': conn(fdName),
  'fd.nameraw': conn(fdName),
  'fd.sockfamily': conn((e) => (e.family === 'unix' ? 'unix' : 'ip')),
  'fd.l4proto': conn((e) => (e.family === 'unix' ? undefined : e.proto ?? 'tcp')),
  'fd.connected': conn((e) => (e.ret ?? 0) >= 0 || e.ret === -115),
  'fd.name_changed': conn(() => true),
  'fd.is_server': conn(() => false),
  'fd.ip': conn((e) => {
    const ep = endpoints(e);
    const out = [ep.cip, ep.sip].filter((x): x is Uint8Array => x !== undefined);
    return out.length === 0 ? undefined : out;
  }),
  'fd.net': conn((e) => {
    const ep = endpoints(e);
    const out = [ep.cip, ep.sip].filter((x): x is Uint8Array => x !== undefined);
    return out.length === 0 ? undefined : out;
  }),
  'fd.cip': conn((e) => endpoints(e).cip),
  'fd.lip': conn((e) => endpoints(e).cip),
  'fd.cnet': conn((e) => endpoints(e).cip),
  'fd.lnet': conn((e) => endpoints(e).cip),
  'fd.sip': conn((e) => endpoints(e).sip),
  'fd.rip': conn((e) => endpoints(e).sip),
  'fd.snet': conn((e) => endpoints(e).sip),
  'fd.rnet': conn((e) => endpoints(e).sip),
  'fd.port': conn((e) => {
    const ep = endpoints(e);
    const out = [ep.cport, ep.sport].filter((x): x is number => x !== undefined);
    return out.length === 0 ? undefined : out;
  }),
  'fd.cport': conn((e) => endpoints(e).cport),
  'fd.lport': conn((e) => endpoints(e).cport),
  'fd.sport': conn((e) => endpoints(e).sport),
  'fd.rport': conn((e) => endpoints(e).sport),
  'fd.cip.name': conn((e, ctx) => names(ctx, e.family === 'unix' ? undefined : e.saddr)),
  'fd.lip.name': conn((e, ctx) => names(ctx, e.family === 'unix' ? undefined : e.saddr)),
  'fd.sip.name': conn((e, ctx) => names(ctx, e.family === 'unix' ? undefined : e.daddr)),
  'fd.rip.name': conn((e, ctx) => names(ctx, e.family === 'unix' ? undefined : e.daddr)),
};

/** The extractor for a catalog field; fields Kestrel cannot provide have none (no value). */
export function extractorFor(name: string): Extractor | undefined {
  return EXTRACTORS[name];
}

export function hasExtractor(name: string): boolean {
  return EXTRACTORS[name] !== undefined;
}

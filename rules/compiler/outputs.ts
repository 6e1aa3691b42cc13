// What a match record carries for a rule's output, and how the alert side turns it back into
// Falco's field values. The program copies raw kernel data (strings, the argv block, the
// sockaddr, integers) into the record — "carriers" — and `deriveOutputs` formats them in user
// space the way Falco does (proc.cmdline = name + args, fd.sip from the sockaddr, ...).

import { KC, KP, KS } from '../../collectors/kernel/maps.js';
import { formatIPv4, formatIPv6 } from '../../collectors/kernel/inet.js';
import {
  KIND_BYTES,
  KIND_I64,
  KIND_STR,
  KIND_U32,
  type FieldValue,
} from '../../alerts/record-format.js';
import { lookupField } from '../fields/catalog.js';
import type { FieldArg, TField } from '../condition/ast.js';
import type { Hook } from '../fields/types.js';
import { AF_INET, AF_INET6, AF_UNIX, CONN, SA, Unsupported, accessFor, type Access, type Base } from './fields.js';
import { errnoName } from '../eval/extract.js';

/** A raw value the program copies into the record. `key` names it in the rule table. */
export interface Carrier {
  key: string;
  base: Base;
  /** byte offset in the base record (ctx offsets for base ctx) */
  off: number;
  size: number;
  kind: number;
}

type Get = (carrierKey: string) => FieldValue | undefined;
type Deriver = (get: Get) => FieldValue | undefined;

export interface OutputPlan {
  carriers: Carrier[];
  /** output field (as written) → how to compute it from carriers */
  derive: Map<string, Deriver>;
}

function baseKey(b: Base): string {
  switch (b.kind) {
    case 'ancestor':
      return `a${b.depth}`;
    case 'procByPid':
      return `pid@${b.pidOff}`;
    case 'name':
      return `${b.table}@${b.idOff}`;
    default:
      return b.kind;
  }
}

function carrier(base: Base, off: number, size: number, kind: number): Carrier {
  return { key: `@${baseKey(base)}:${off}:${size}:${kind}`, base, off, size, kind };
}

/** Parse `proc.aname[2]` / `k8s.pod.label[app]` into a typed field (no transformers). */
export function outputField(name: string): TField | undefined {
  const m = /^([a-zA-Z][\w.]*?)(?:\[([^\]]*)\])?$/.exec(name);
  if (m === null) return undefined;
  const r = lookupField(m[1]);
  if (r === undefined) return undefined;
  let arg: FieldArg | undefined;
  const raw = m[2] ?? r.impliedArg;
  if (raw !== undefined) arg = /^\d+$/.test(raw) ? { kind: 'index', index: Number(raw) } : { kind: 'key', key: raw };
  return { kind: 'field', def: r.def, name: m[1], arg, type: r.def.type, anyOf: false };
}

function hexBytes(v: FieldValue | undefined): Uint8Array | undefined {
  if (typeof v !== 'string') return undefined;
  return Uint8Array.from(Buffer.from(v, 'hex'));
}

function argvOf(v: FieldValue | undefined): string[] | undefined {
  const b = hexBytes(v);
  if (b === undefined) return undefined;
  let end = b.length;
  while (end > 0 && b[end - 1] === 0) end--;
  if (end === 0) return [];
  return Buffer.from(b.subarray(0, end)).toString('utf8').split('\0');
}

function sockaddr(v: FieldValue | undefined): { family: number; port: number; ip?: string; path?: string } | undefined {
  const b = hexBytes(v);
  if (b === undefined || b.length < CONN.size - CONN.sockaddr) return undefined;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const family = dv.getUint16(SA.family, true);
  const port = dv.getUint16(SA.port, false);
  if (family === AF_INET) return { family, port, ip: formatIPv4(b, SA.in4) };
  if (family === AF_INET6) return { family, port, ip: formatIPv6(b, SA.in6) };
  if (family === AF_UNIX) {
    const p = b.subarray(SA.unixPath);
    const nul = p.indexOf(0);
    return { family, port: 0, path: Buffer.from(nul < 0 ? p : p.subarray(0, nul)).toString('utf8') };
  }
  return { family, port };
}


function add(plan: OutputPlan, c: Carrier): string {
  if (!plan.carriers.some((x) => x.key === c.key)) plan.carriers.push(c);
  return c.key;
}

const STR_OF = (g: Get, k: string): FieldValue | undefined => g(k);

function planAccess(plan: OutputPlan, acc: Access, hook: Hook): Deriver | undefined {
  switch (acc.t) {
    case 'missing':
      return () => null;
    case 'const':
      return () => acc.value;
    case 'str': {
      if (acc.base.kind === 'anyAncestor') return undefined;
      const base = acc.base;
      const sh = acc.shape;
      if (sh.t === 'cstr') {
        const k = add(plan, carrier(base, sh.off, sh.cap, KIND_STR));
        return (g) => STR_OF(g, k);
      }
      if (sh.t === 'prefix12') {
        const k = add(plan, carrier(base, sh.off, sh.cap, KIND_STR));
        return (g) => {
          const v = g(k);
          return typeof v === 'string' ? v.slice(0, 12) : v;
        };
      }
      if (sh.t === 'envline') {
        const envKey = add(plan, carrier(base, KP.env, KP.envSize, KIND_BYTES));
        return (g) => argvOf(g(envKey))?.join(' ') ?? null;
      }
      const argsKey = add(plan, carrier(base, KP.args, KP.argsSize, KIND_BYTES));
      if (sh.t === 'argv0') return (g) => argvOf(g(argsKey))?.[0] ?? null;
      if (sh.t === 'args') return (g) => argvOf(g(argsKey))?.slice(1).join(' ') ?? null;
      if (sh.t === 'exeline') return (g) => argvOf(g(argsKey))?.join(' ') ?? null;
      const commKey = add(plan, carrier(base, KP.comm, KP.commSize, KIND_STR));
      return (g) => {
        const comm = g(commKey);
        const argv = argvOf(g(argsKey));
        if (typeof comm !== 'string' || argv === undefined) return null;
        return argv.length > 1 ? `${comm} ${argv.slice(1).join(' ')}` : comm;
      };
    }
    case 'int': {
      if (acc.base.kind === 'anyAncestor') return undefined;
      const k = add(plan, carrier(acc.base, acc.off, acc.size, acc.size === 8 ? KIND_I64 : KIND_U32));
      return (g) => {
        const v = g(k);
        if (typeof v !== 'number') return v ?? null;
        if (acc.unknown !== undefined && v === acc.unknown) return null;
        if (acc.signExtendFrom32 === true) return v | 0;
        return v;
      };
    }
    case 'flag': {
      const k = add(plan, carrier(acc.base, acc.off, 4, KIND_U32));
      return (g) => {
        const v = g(k);
        return typeof v === 'number' ? (v & acc.mask) !== 0 : null;
      };
    }
    case 'tristate': {
      const k = add(plan, carrier(acc.base, acc.off, 1, KIND_U32));
      return (g) => {
        const v = g(k);
        return typeof v === 'number' && v <= 1 ? v === 1 : null;
      };
    }
    case 'pidEq': {
      const a = add(plan, carrier({ kind: 'proc' }, KP.tgid, 4, KIND_U32));
      const b = add(plan, carrier({ kind: 'proc' }, acc.off, 4, KIND_U32));
      return (g) => g(a) === g(b);
    }
    case 'evttype': {
      const k = add(plan, carrier({ kind: 'ctx' }, 8, 4, KIND_U32));
      return (g) => (g(k) === 322 ? 'execveat' : g(k) === 59 ? 'execve' : null);
    }
    case 'ret': {
      const k = add(plan, carrier({ kind: 'ctx' }, 16, 8, KIND_I64));
      return (g) => {
        const v = g(k);
        if (typeof v !== 'number') return null;
        switch (acc.view) {
          case 'raw':
            return v;
          case 'res':
            return errnoName(v);
          case 'failed':
            return v < 0;
          case 'connected':
            return v === 0 || v === -115;
        }
      };
    }
    case 'family':
    case 'unixpath': {
      if (hook !== 'connect') return () => null;
      const k = add(plan, sockaddrCarrier());
      return (g) => {
        const sa = sockaddr(g(k));
        if (sa === undefined) return null;
        if (acc.t === 'unixpath') return sa.path ?? null;
        const names: Record<string, Record<number, string>> = {
          type: { [AF_INET]: 'ipv4', [AF_INET6]: 'ipv6', [AF_UNIX]: 'unix' },
          typechar: { [AF_INET]: '4', [AF_INET6]: '6', [AF_UNIX]: 'u' },
          sockfamily: { [AF_INET]: 'ip', [AF_INET6]: 'ip', [AF_UNIX]: 'unix' },
        };
        return names[acc.view][sa.family] ?? null;
      };
    }
    case 'ip':
    case 'port': {
      if (hook !== 'connect') return () => null;
      const end = endpoint(plan, acc.side === 'client' ? 'client' : 'server');
      return (g) => {
        const ep = end(g);
        if (ep === undefined) return null;
        return acc.t === 'ip' ? ep.ip ?? null : ep.port ?? null;
      };
    }
    case 'l4proto': {
      if (hook !== 'connect') return () => null;
      const k = add(plan, carrier({ kind: 'sock' }, KS.proto, 1, KIND_U32));
      return (g) => (g(k) === 6 ? 'tcp' : g(k) === 17 ? 'udp' : null);
    }
    case 'dnsname':
      // The names of an address are a set (the kernel keeps only which name lists they meet);
      // the alert side resolves them from its own table when it renders.
      return undefined;
  }
}

function sockaddrCarrier(): Carrier {
  return carrier({ kind: 'conn' }, CONN.sockaddr, CONN.size - CONN.sockaddr, KIND_BYTES);
}

/** How to read one end of the connection from the record: server from the sockaddr, client from kestrel_socks. */
function endpoint(plan: OutputPlan, side: 'server' | 'client'): (g: Get) => { ip?: string; port?: number; family: number } | undefined {
  if (side === 'server') {
    const k = add(plan, sockaddrCarrier());
    return (g) => {
      const sa = sockaddr(g(k));
      return sa === undefined || sa.family === AF_UNIX ? undefined : sa;
    };
  }
  const k = add(plan, carrier({ kind: 'sock' }, 0, KS.size, KIND_BYTES));
  return (g) => {
    const b = hexBytes(g(k));
    if (b === undefined || b.length < KS.size) return undefined;
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const family = dv.getUint16(KS.family, true);
    if (family !== AF_INET && family !== AF_INET6) return undefined;
    const a = b.subarray(KS.laddr, KS.laddr + 16);
    const v4 = a.subarray(0, 10).every((x) => x === 0) && a[10] === 0xff && a[11] === 0xff;
    const ip = v4 ? formatIPv4(a, 12) : formatIPv6(a);
    return { family, ip, port: dv.getUint16(KS.lport, true) };
  };
}

/** The carriers and derivations for a rule's output fields on one hook. */
export function planOutputs(fields: readonly string[], hook: Hook, plan: OutputPlan = { carriers: [], derive: new Map() }): OutputPlan {
  for (const name of fields) {
    if (plan.derive.has(name)) continue;
    if (name === 'container.image') {
      const repo = add(plan, carrier({ kind: 'container' }, KC.repository, KC.repositorySize, KIND_STR));
      const tag = add(plan, carrier({ kind: 'container' }, KC.tag, KC.tagSize, KIND_STR));
      plan.derive.set(name, (g) => {
        const r = g(repo);
        const t = g(tag);
        if (typeof r !== 'string' || r === '') return null;
        return typeof t === 'string' && t !== '' ? `${r}:${t}` : r;
      });
      continue;
    }
    if (name === 'fd.name' || name === 'fd.nameraw' || name === 'evt.arg.tuple') {
      if (hook !== 'connect') continue;
      const k = add(plan, sockaddrCarrier());
      const client = endpoint(plan, 'client');
      plan.derive.set(name, (g) => {
        const sa = sockaddr(g(k));
        if (sa === undefined) return null;
        if (sa.family === AF_UNIX) return sa.path ?? null;
        if (sa.ip === undefined) return null;
        const fmt = (ip: string, port: number): string => (sa.family === AF_INET6 ? `[${ip}]:${port}` : `${ip}:${port}`);
        const c = client(g);
        const local = fmt(c?.ip ?? (sa.family === AF_INET6 ? '::' : '0.0.0.0'), c?.port ?? 0);
        return `${local}->${fmt(sa.ip, sa.port)}`;
      });
      continue;
    }
    const f = outputField(name);
    if (f === undefined) continue;
    let acc: Access;
    try {
      acc = accessFor(f, hook);
    } catch (e) {
      if (e instanceof Unsupported) continue; // the alert side falls back to <NA> or its own tables
      throw e;
    }
    const d = planAccess(plan, acc, hook);
    if (d !== undefined) plan.derive.set(name, d);
  }
  return plan;
}

/** Turn decoded carrier values into the rule's output field values. */
export function deriveOutputs(plan: OutputPlan, values: ReadonlyMap<string, FieldValue>): Map<string, FieldValue> {
  const out = new Map<string, FieldValue>();
  const get: Get = (k) => values.get(k);
  for (const [name, d] of plan.derive) {
    const v = d(get);
    if (v !== undefined) out.set(name, v);
  }
  return out;
}

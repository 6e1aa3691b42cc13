// Kestrel's NDJSON event format (SPEC §3 "Event format"): reader and writer.
// The reader checks each object against the format, ignores unknown keys, and reports a bad line
// with its line and column without stopping the stream.

import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { ConnectEvent, ContainerRef, ExecEvent, KestrelEvent } from './events.js';
import { parseRfc3339Ns } from './timefmt.js';

export class EventFormatError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
    readonly file = '',
  ) {
    super(`${file === '' ? '' : `${file}:`}${line}:${column}: ${message}`);
    this.name = 'EventFormatError';
  }
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A field problem; turned into an EventFormatError with the line by the caller. */
class FieldError extends Error {}

function int(o: Obj, key: string, required: true): number;
function int(o: Obj, key: string, required?: false): number | undefined;
function int(o: Obj, key: string, required = false): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) {
    if (required) throw new FieldError(`missing "${key}"`);
    return undefined;
  }
  // ts-like big integers arrive as strings from the pre-pass; small ints as numbers.
  const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw new FieldError(`"${key}" must be an integer`);
  return n;
}

function str(o: Obj, key: string, required: true): string;
function str(o: Obj, key: string, required?: false): string | undefined;
function str(o: Obj, key: string, required = false): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) {
    if (required) throw new FieldError(`missing "${key}"`);
    return undefined;
  }
  if (typeof v !== 'string') throw new FieldError(`"${key}" must be a string`);
  return v;
}

function bool(o: Obj, key: string): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new FieldError(`"${key}" must be true or false`);
  return v;
}

function strArray(o: Obj, key: string, required = false): string[] | undefined {
  const v = o[key];
  if (v === undefined || v === null) {
    if (required) throw new FieldError(`missing "${key}"`);
    return undefined;
  }
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new FieldError(`"${key}" must be an array of strings`);
  return v as string[];
}

/** `ts` as integer ns (number or digit string) or RFC 3339. */
export function parseTs(v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0) throw new FieldError('"ts" must be integer nanoseconds or an RFC 3339 string');
    return BigInt(v);
  }
  if (typeof v === 'string') {
    if (/^\d+$/.test(v)) return BigInt(v);
    const ns = parseRfc3339Ns(v);
    if (ns !== undefined) return ns;
    throw new FieldError(`"ts" ${JSON.stringify(v)} is neither integer nanoseconds nor RFC 3339`);
  }
  throw new FieldError(v === undefined ? 'missing "ts"' : '"ts" must be integer nanoseconds or an RFC 3339 string');
}

function container(v: unknown): ContainerRef | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) throw new FieldError('"container" must be an object');
  const id = str(v, 'id', true);
  if (id === '') throw new FieldError('"container.id" is empty');
  const out: ContainerRef = { id };
  const name = str(v, 'name');
  if (name !== undefined) out.name = name;
  const image = str(v, 'image');
  if (image !== undefined) out.image = image;
  const privileged = bool(v, 'privileged');
  if (privileged !== undefined) out.privileged = privileged;
  const pod = str(v, 'pod');
  if (pod !== undefined) out.pod = pod;
  const ns = str(v, 'namespace');
  if (ns !== undefined) out.namespace = ns;
  return out;
}

/** Copy defined values only, so events stay small and compare equal after a round trip. */
function put<T extends object>(target: T, src: Partial<T>): T {
  for (const [k, v] of Object.entries(src)) if (v !== undefined) (target as Record<string, unknown>)[k] = v;
  return target;
}

/** Check and convert one decoded object. Throws FieldError-derived messages via Error. */
export function eventFromObject(o: unknown): KestrelEvent {
  if (!isObj(o)) throw new FieldError('an event must be a JSON object');
  const type = o['type'];
  const ts = parseTs(o['ts']);
  const pid = int(o, 'pid', true);
  if (pid < 0) throw new FieldError('"pid" must not be negative');
  const ev = eventBody(o, type, ts, pid);
  const enforced = o['enforced'];
  if (enforced === 'kill' || enforced === 'deny') ev.enforced = enforced;
  return ev;
}

function eventBody(o: Obj, type: unknown, ts: bigint, pid: number): KestrelEvent {
  switch (type) {
    case 'exec': {
      const exe = str(o, 'exe', true);
      const argv = strArray(o, 'argv') ?? [exe];
      const ev: ExecEvent = { type, ts, pid, exe, argv };
      return put(ev, {
        ppid: int(o, 'ppid'),
        uid: int(o, 'uid'),
        gid: int(o, 'gid'),
        cwd: str(o, 'cwd'),
        comm: str(o, 'comm'),
        env: strArray(o, 'env'),
        loginuid: int(o, 'loginuid'),
        tty: int(o, 'tty'),
        pgid: int(o, 'pgid'),
        sid: int(o, 'sid'),
        vpid: int(o, 'vpid'),
        exe_upper_layer: bool(o, 'exe_upper_layer'),
        exe_from_memfd: bool(o, 'exe_from_memfd'),
        ret: int(o, 'ret'),
        container: container(o['container']),
        synthetic: bool(o, 'synthetic') === true ? true : undefined,
        syscall: o['syscall'] === 'execveat' || o['syscall'] === 'execve' ? o['syscall'] : undefined,
      });
    }
    case 'dns':
      return { type, ts, pid, name: str(o, 'name', true), addrs: strArray(o, 'addrs', true) as string[] };
    case 'connect': {
      const family = o['family'] ?? 'inet';
      if (family !== 'inet' && family !== 'inet6' && family !== 'unix') {
        throw new FieldError('"family" must be inet, inet6 or unix');
      }
      const proto = o['proto'];
      if (proto !== undefined && proto !== 'tcp' && proto !== 'udp') throw new FieldError('"proto" must be tcp or udp');
      const ev: ConnectEvent = { type, ts, pid, family };
      put(ev, {
        fd: int(o, 'fd'),
        daddr: str(o, 'daddr'),
        dport: int(o, 'dport'),
        path: str(o, 'path'),
        saddr: str(o, 'saddr'),
        sport: int(o, 'sport'),
        proto,
        ret: int(o, 'ret'),
      });
      if (family === 'unix' && ev.path === undefined) throw new FieldError('a unix connect needs "path"');
      if (family !== 'unix' && ev.daddr === undefined) throw new FieldError(`an ${family} connect needs "daddr"`);
      for (const port of [ev.dport, ev.sport]) {
        if (port !== undefined && (port < 0 || port > 65535)) throw new FieldError('ports must be 0..65535');
      }
      return ev;
    }
    case 'fork':
      return { type, ts, pid, child: int(o, 'child', true) };
    case 'exit':
      return put({ type, ts, pid } as KestrelEvent & { type: 'exit' }, { code: int(o, 'code') });
    default:
      throw new FieldError(
        type === undefined ? 'missing "type"' : `unknown event type ${JSON.stringify(type)} (exec, dns, connect, fork, exit)`,
      );
  }
}

// Integer nanosecond timestamps exceed 2^53; quote them before JSON.parse so no digit is lost.
// A `"ts":` key cannot occur unescaped inside a JSON string, so the rewrite never touches values.
const BIG_TS = /("ts"\s*:\s*)(-?\d{16,})(?=\s*[,}])/g;

export type LineResult = { ok: true; event: KestrelEvent } | { ok: false; error: EventFormatError };

/** Parse one line (1-based number for messages). Blank lines and `#` comments give undefined. */
export function parseEventLine(line: string, lineNo: number, file = ''): LineResult | undefined {
  const text = line.trim();
  if (text === '' || text.startsWith('#')) return undefined;
  let obj: unknown;
  try {
    obj = JSON.parse(text.replace(BIG_TS, '$1"$2"'));
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const pos = /position (\d+)/.exec(msg);
    const col = pos === null ? 1 : Number(pos[1]) + 1 + (line.length - line.trimStart().length);
    return { ok: false, error: new EventFormatError(`invalid JSON: ${msg}`, lineNo, col, file) };
  }
  try {
    return { ok: true, event: eventFromObject(obj) };
  } catch (e) {
    if (e instanceof FieldError) return { ok: false, error: new EventFormatError(e.message, lineNo, 1, file) };
    throw e;
  }
}

export interface ReadStats {
  lines: number;
  events: number;
  errors: number;
}

/** All events of an NDJSON text; bad lines go to onError. */
export function parseEventsText(text: string, onError?: (e: EventFormatError) => void, file = ''): KestrelEvent[] {
  const out: KestrelEvent[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const r = parseEventLine(lines[i], i + 1, file);
    if (r === undefined) continue;
    if (r.ok) out.push(r.event);
    else onError?.(r.error);
  }
  return out;
}

/** Stream events from a readable (a file or stdin), line by line as they arrive. */
export async function* readEvents(
  input: Readable,
  onError?: (e: EventFormatError) => void,
  file = '',
  stats?: ReadStats,
): AsyncGenerator<KestrelEvent> {
  const rl = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  for await (const line of rl) {
    n++;
    if (stats !== undefined) stats.lines = n;
    const r = parseEventLine(line, n, file);
    if (r === undefined) continue;
    if (r.ok) {
      if (stats !== undefined) stats.events++;
      yield r.event;
    } else {
      if (stats !== undefined) stats.errors++;
      onError?.(r.error);
    }
  }
}

// ---- writer ----

const KEY_ORDER: Record<KestrelEvent['type'], readonly string[]> = {
  exec: ['ppid', 'uid', 'gid', 'exe', 'argv', 'cwd', 'comm', 'env', 'loginuid', 'tty', 'pgid', 'sid', 'vpid',
    'exe_upper_layer', 'exe_from_memfd', 'ret', 'container', 'synthetic', 'syscall'],
  dns: ['name', 'addrs'],
  connect: ['fd', 'family', 'daddr', 'dport', 'path', 'saddr', 'sport', 'proto', 'ret'],
  fork: ['child'],
  exit: ['code'],
};
const TAIL_KEYS = ['enforced'];

/** One NDJSON line (without the newline): `type`, `ts` as an integer, `pid`, then the rest. */
export function formatEvent(ev: KestrelEvent): string {
  let s = `{"type":"${ev.type}","ts":${ev.ts.toString()},"pid":${ev.pid}`;
  const rec = ev as unknown as Record<string, unknown>;
  for (const k of KEY_ORDER[ev.type]) {
    const v = rec[k];
    if (v === undefined) continue;
    s += `,"${k}":${JSON.stringify(v)}`;
  }
  for (const k of TAIL_KEYS) {
    const v = rec[k];
    if (v !== undefined) s += `,"${k}":${JSON.stringify(v)}`;
  }
  return s + '}';
}

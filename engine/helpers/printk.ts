// Linux's bpf_bprintf_prepare + bstr_printf for bpf_trace_printk, bpf_trace_vprintk and
// bpf_snprintf: the same accepted conversions (%d %i %u %x %X with l/ll, %c, %s, %p, %pK, %px,
// %pS, %pI4 %pi4 %pI6 %pi6, %pks %pus, %%, flags "0+- " and a width), the same -EINVAL for
// anything else, non-printable format characters or too many arguments, and -ENOSPC when the
// 512-byte copy buffer for strings and addresses runs out. Unreadable %s strings print as empty,
// unreadable %pI addresses as zeros, as in the kernel. %p prints the raw value in 16 hex digits
// (Linux prints a hashed value, which no test could reproduce anyway).

import type { VmMemory } from '../memory.js';
import type { ExecEnv, TaskInfo } from '../runtime.js';
import { kernelReadable, kernelString, userString, isKernelAddr } from './memaccess.js';

const EINVAL = 22;
const ENOSPC = 28;
/** MAX_BPRINTF_BUF: bytes for copied strings and addresses per call. */
const MAX_BPRINTF_BUF = 512;
export const MAX_TRACE_PRINTK_VARARGS = 3;
export const MAX_BPRINTF_VARARGS = 12;
/** BPF_TRACE_PRINTK_SIZE: the trace_printk output buffer. */
export const BPF_TRACE_PRINTK_SIZE = 1024;

export interface PrintfEnv {
  mem: VmMemory;
  env: ExecEnv;
}

interface Spec {
  left: boolean;
  zero: boolean;
  plus: boolean;
  space: boolean;
  width: number;
}

const enc = new TextEncoder();

function isPrintableAscii(c: number): boolean {
  return (c >= 0x20 && c <= 0x7e) || (c >= 0x09 && c <= 0x0d);
}

function pad(body: string, sign: string, s: Spec, numeric: boolean): string {
  const len = sign.length + body.length;
  if (len >= s.width) return sign + body;
  const fill = s.width - len;
  if (s.left) return sign + body + ' '.repeat(fill);
  if (s.zero && numeric) return sign + '0'.repeat(fill) + body;
  return ' '.repeat(fill) + sign + body;
}

function padBytes(body: Uint8Array, s: Spec): Uint8Array {
  if (body.length >= s.width) return body;
  const out = new Uint8Array(s.width).fill(0x20);
  out.set(body, s.left ? 0 : s.width - body.length);
  return out;
}

function ipv4(b: Uint8Array, zeroPadded: boolean): string {
  return Array.from(b, (x) => (zeroPadded ? String(x).padStart(3, '0') : String(x))).join('.');
}

function ipv6(b: Uint8Array, colons: boolean): string {
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0'));
  if (!colons) return hex.join('');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(hex[i] + hex[i + 1]);
  return groups.join(':');
}

/**
 * Format `fmt` (bytes up to but excluding the first NUL) with u64 `args`, allowing at most
 * `maxArgs` conversions. Returns the output bytes (untruncated) or a negative errno.
 */
export function bprintf(pe: PrintfEnv, fmt: Uint8Array, args: readonly bigint[], maxArgs: number): Uint8Array | number {
  const out: number[] = [];
  const push = (s: string): void => {
    for (let k = 0; k < s.length; k++) out.push(s.charCodeAt(k));
  };
  const pushBytes = (b: Uint8Array): void => {
    for (let k = 0; k < b.length; k++) out.push(b[k]);
  };
  let tmpLeft = MAX_BPRINTF_BUF;
  let nargs = 0;
  const n = fmt.length;
  const at = (k: number): number => (k < n ? fmt[k] : 0);
  for (let i = 0; i < n; i++) {
    const c = fmt[i];
    if (!isPrintableAscii(c)) return -EINVAL;
    if (c !== 0x25 /* % */) {
      out.push(c);
      continue;
    }
    if (at(i + 1) === 0x25) {
      out.push(0x25);
      i++;
      continue;
    }
    if (nargs >= maxArgs) return -EINVAL;
    i++;
    const spec: Spec = { left: false, zero: false, plus: false, space: false, width: 0 };
    for (;;) {
      const f = at(i);
      if (f === 0x30) spec.zero = true;
      else if (f === 0x2b) spec.plus = true;
      else if (f === 0x2d) spec.left = true;
      else if (f === 0x20) spec.space = true;
      else break;
      i++;
    }
    if (at(i) >= 0x31 && at(i) <= 0x39) {
      let w = 0;
      while (at(i) >= 0x30 && at(i) <= 0x39) w = w * 10 + (at(i++) - 0x30);
      spec.width = w;
    }
    const arg = args[nargs] ?? 0n;
    const argU = BigInt.asUintN(64, arg);
    const conv = at(i);
    if (conv === 0x70 /* p */) {
      const n1 = at(i + 1);
      const n2 = at(i + 2);
      if ((n1 === 0x6b || n1 === 0x75) && n2 === 0x73 /* %pks %pus */) {
        i += 2;
        const r = copyString(pe, argU, n1 === 0x6b ? 'k' : 'u', tmpLeft);
        if (r === undefined) return -ENOSPC;
        tmpLeft -= r.length + 1;
        pushBytes(padBytes(r, spec));
        nargs++;
        continue;
      }
      const punct = n1 !== 0 && n1 < 0x80 && /[!-/:-@[-`{-~]/.test(String.fromCharCode(n1));
      if (n1 === 0 || n1 === 0x20 || (n1 >= 0x09 && n1 <= 0x0d) || punct || n1 === 0x4b || n1 === 0x78 || n1 === 0x73 || n1 === 0x53) {
        // Plain pointer (%p, %pK, %px, %ps, %pS): the value itself.
        if (n1 === 0x4b || n1 === 0x78 || n1 === 0x73 || n1 === 0x53) i++;
        push(pad(argU.toString(16).padStart(16, '0'), '', spec, false));
        nargs++;
        continue;
      }
      if ((n1 !== 0x69 && n1 !== 0x49) || (n2 !== 0x34 && n2 !== 0x36)) return -EINVAL;
      i += 2;
      const size = n2 === 0x34 ? 4 : 16;
      if (tmpLeft < size) return -ENOSPC;
      tmpLeft -= size;
      const lo = Number(argU & 0xffffffffn);
      const hi = Number(argU >> 32n);
      let b = new Uint8Array(size);
      if (hi === 0 && kernelReadable(pe.mem, lo, size)) b = pe.mem.u8.slice(lo, lo + size);
      const text = size === 4 ? ipv4(b, n1 === 0x69) : ipv6(b, n1 === 0x49);
      push(pad(text, '', spec, false));
      nargs++;
      continue;
    }
    if (conv === 0x73 /* s */) {
      const r = copyString(pe, argU, 's', tmpLeft);
      if (r === undefined) return -ENOSPC;
      tmpLeft -= r.length + 1;
      pushBytes(padBytes(r, spec));
      nargs++;
      continue;
    }
    if (conv === 0x63 /* c */) {
      if (tmpLeft === 0) return -ENOSPC;
      tmpLeft -= 1;
      pushBytes(padBytes(new Uint8Array([Number(argU & 0xffn)]), spec));
      nargs++;
      continue;
    }
    let bits = 32;
    if (at(i) === 0x6c /* l */) {
      bits = 64;
      i++;
      if (at(i) === 0x6c) i++;
    }
    const d = at(i);
    if (d !== 0x69 && d !== 0x64 && d !== 0x75 && d !== 0x78 && d !== 0x58) return -EINVAL;
    if (d === 0x69 || d === 0x64) {
      const v = BigInt.asIntN(bits, arg);
      const sign = v < 0n ? '-' : spec.plus ? '+' : spec.space ? ' ' : '';
      push(pad((v < 0n ? -v : v).toString(), sign, spec, true));
    } else {
      const v = BigInt.asUintN(bits, arg);
      let body = d === 0x75 ? v.toString() : v.toString(16);
      if (d === 0x58) body = body.toUpperCase();
      push(pad(body, '', spec, true));
    }
    nargs++;
  }
  return Uint8Array.from(out);
}

/**
 * bpf_trace_copy_string: a bounded copy of the string at `ptr` (kind 's': kernel if a region
 * holds it, else user; 'k' kernel; 'u' user). Unreadable → empty. undefined when no room is left.
 */
function copyString(pe: PrintfEnv, ptr: bigint, kind: 's' | 'k' | 'u', room: number): Uint8Array | undefined {
  if (room <= 0) return undefined;
  const lo = Number(ptr & 0xffffffffn);
  const hi = Number(ptr >> 32n);
  const kernel = kind === 'k' || (kind === 's' && isKernelAddr(pe.mem, lo, hi));
  const r = kernel ? (hi === 0 ? kernelString(pe.mem, lo, room) : undefined) : userString(pe.env, lo, hi, room);
  if (r === undefined) return new Uint8Array(0);
  // A string that did not end within the room is cut to room-1 bytes plus the NUL.
  return r.terminated ? r.bytes : r.bytes.slice(0, room - 1);
}

/** Encode a JS string (tests, callers building formats) as bytes. */
export function fmtBytes(s: string): Uint8Array {
  return enc.encode(s);
}

/**
 * A trace_pipe line as /sys/kernel/tracing/trace_pipe shows a bpf_trace_printk event:
 * task name right-aligned in 16 columns, "-pid", CPU, irq-flags, seconds.microseconds, then the
 * event name and the text (one trailing newline of the text is dropped; the line has none).
 */
export function formatTracePipeLine(task: string | TaskInfo | undefined, pid: number, cpu: number, tsNs: bigint, text: string): string {
  const comm = typeof task === 'string' ? task : (task?.comm ?? '<idle>');
  const secs = tsNs / 1_000_000_000n;
  const usecs = (tsNs % 1_000_000_000n) / 1000n;
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  return `${comm.slice(0, 16).padStart(16)}-${String(pid).padEnd(7)} [${String(cpu).padStart(3, '0')}] d..31 ${String(secs).padStart(5)}.${String(usecs).padStart(6, '0')}: bpf_trace_printk: ${body}`;
}

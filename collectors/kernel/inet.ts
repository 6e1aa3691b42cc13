// IP address text ↔ bytes (inet_pton/inet_ntop) and struct sockaddr encoding for connect.

import { AF_INET, AF_INET6, AF_UNIX, SOCKADDR_IN, SOCKADDR_IN6, SOCKADDR_UN } from './layouts.js';

export function parseIPv4(s: string): Uint8Array | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (m === null) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const v = Number(m[i + 1]);
    if (v > 255) return undefined;
    out[i] = v;
  }
  return out;
}

export function parseIPv6(text: string): Uint8Array | undefined {
  let s = text;
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct); // zone id: not part of the address bytes
  const out = new Uint8Array(16);
  // An embedded IPv4 tail (::ffff:1.2.3.4) fills the last 4 bytes.
  let tail: Uint8Array | undefined;
  const lastColon = s.lastIndexOf(':');
  if (lastColon >= 0 && s.slice(lastColon + 1).includes('.')) {
    tail = parseIPv4(s.slice(lastColon + 1));
    if (tail === undefined) return undefined;
    s = s.slice(0, lastColon + 1) + '0:0';
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const parse = (part: string): number[] | undefined => {
    if (part === '') return [];
    const groups = part.split(':');
    const vals: number[] = [];
    for (const g of groups) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      vals.push(parseInt(g, 16));
    }
    return vals;
  };
  const head = parse(halves[0]);
  const rest = halves.length === 2 ? parse(halves[1]) : [];
  if (head === undefined || rest === undefined) return undefined;
  if (halves.length === 1 ? head.length !== 8 : head.length + rest.length > 7) return undefined;
  const groups = [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest];
  for (let i = 0; i < 8; i++) {
    out[i * 2] = groups[i] >>> 8;
    out[i * 2 + 1] = groups[i] & 0xff;
  }
  if (tail !== undefined) out.set(tail, 12);
  return out;
}

export function formatIPv4(b: Uint8Array, off = 0): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

/** RFC 5952 text: lowercase, longest zero run (≥ 2 groups) as `::`, IPv4-mapped as ::ffff:a.b.c.d. */
export function formatIPv6(b: Uint8Array, off = 0): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[off + i * 2] << 8) | b[off + i * 2 + 1]);
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return `::ffff:${formatIPv4(b, off + 12)}`;
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

export interface SockaddrSpec {
  family: 'inet' | 'inet6' | 'unix';
  addr?: string;
  port?: number;
  path?: string;
}

/** Parsed addresses, so a busy stream does not parse the same text again (bounded). */
const ipCache = new Map<string, Uint8Array | undefined>();

function cachedIp(text: string, v6: boolean): Uint8Array | undefined {
  const key = v6 ? `6${text}` : text;
  let b = ipCache.get(key);
  if (b === undefined && !ipCache.has(key)) {
    b = v6 ? (parseIPv6(text) ?? mapV4(text)) : parseIPv4(text);
    if (ipCache.size >= 4096) ipCache.clear();
    ipCache.set(key, b);
  }
  return b;
}

/** Size of the sockaddr for a family (what connect's addrlen says). */
export function sockaddrSize(family: SockaddrSpec['family']): number {
  return family === 'unix' ? SOCKADDR_UN.size : family === 'inet6' ? SOCKADDR_IN6.size : SOCKADDR_IN.size;
}

/** Write the sockaddr at `off` in `b` (zeroed first); returns its size. */
export function encodeSockaddrInto(a: SockaddrSpec, b: Uint8Array, dv: DataView, off: number): number {
  const size = sockaddrSize(a.family);
  b.fill(0, off, off + size);
  if (a.family === 'unix') {
    dv.setUint16(off + SOCKADDR_UN.family, AF_UNIX, true);
    const p = ENC.encodeInto(a.path ?? '', b.subarray(off + SOCKADDR_UN.path, off + SOCKADDR_UN.path + SOCKADDR_UN.pathMax - 1));
    void p;
    return size;
  }
  if (a.family === 'inet6') {
    dv.setUint16(off + SOCKADDR_IN6.family, AF_INET6, true);
    dv.setUint16(off + SOCKADDR_IN6.port, a.port ?? 0, false);
    const ip = cachedIp(a.addr ?? '::', true);
    if (ip !== undefined) b.set(ip, off + SOCKADDR_IN6.addr);
    return size;
  }
  dv.setUint16(off + SOCKADDR_IN.family, AF_INET, true);
  dv.setUint16(off + SOCKADDR_IN.port, a.port ?? 0, false);
  const ip = cachedIp(a.addr ?? '0.0.0.0', false);
  if (ip !== undefined) b.set(ip, off + SOCKADDR_IN.addr);
  return size;
}

/** struct sockaddr_in / sockaddr_in6 / sockaddr_un bytes as a caller would pass them to connect. */
export function encodeSockaddr(a: SockaddrSpec): Uint8Array {
  const b = new Uint8Array(sockaddrSize(a.family));
  encodeSockaddrInto(a, b, new DataView(b.buffer), 0);
  return b;
}

const ENC = new TextEncoder();

function mapV4(s: string): Uint8Array | undefined {
  const v4 = parseIPv4(s);
  if (v4 === undefined) return undefined;
  const b = new Uint8Array(16);
  b[10] = 0xff;
  b[11] = 0xff;
  b.set(v4, 12);
  return b;
}

/** Decode a sockaddr (the strace collector and tests use it). */
export function decodeSockaddr(b: Uint8Array): SockaddrSpec | undefined {
  if (b.length < 2) return undefined;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const fam = dv.getUint16(0, true);
  if (fam === AF_INET && b.length >= SOCKADDR_IN.size) {
    return { family: 'inet', addr: formatIPv4(b, SOCKADDR_IN.addr), port: dv.getUint16(SOCKADDR_IN.port, false) };
  }
  if (fam === AF_INET6 && b.length >= SOCKADDR_IN6.size) {
    return { family: 'inet6', addr: formatIPv6(b, SOCKADDR_IN6.addr), port: dv.getUint16(SOCKADDR_IN6.port, false) };
  }
  if (fam === AF_UNIX) {
    const p = b.subarray(SOCKADDR_UN.path);
    const nul = p.indexOf(0);
    return { family: 'unix', path: Buffer.from(nul < 0 ? p : p.subarray(0, nul)).toString('utf8') };
  }
  return undefined;
}

// strace's rendering of a struct sockaddr → family, address and port. Both the decoded form
// (`sin_port=htons(80), sin_addr=inet_addr("1.2.3.4")`, `inet_pton(AF_INET6, "::1", &sin6_addr)`)
// and the raw one (`-X raw`: `sa_family=0x2, sin_port="\x00\x50"`) are understood.

import { formatIPv4, formatIPv6 } from '../kernel/inet.js';
import { isRaw, isStruct, type SValue } from './parse.js';

export interface DecodedSockaddr {
  family: 'inet' | 'inet6' | 'unix';
  addr?: string;
  port?: number;
  path?: string;
}

function rawText(v: SValue | undefined): string | undefined {
  return isRaw(v) ? v.raw : undefined;
}

/** A port: htons(N), a decimal, or two raw bytes in network order. */
function port(v: SValue | undefined): number | undefined {
  if (typeof v === 'string') {
    const b = bytesOf(v, 2);
    return b.length === 2 ? (b[0] << 8) | b[1] : undefined;
  }
  const t = rawText(v);
  if (t === undefined) return undefined;
  const m = /^htons\((\d+)\)$/.exec(t) ?? /^(\d+)$/.exec(t);
  return m === null ? undefined : Number(m[1]);
}

/** The bytes of a raw string field: the parser keeps valid UTF-8 as text, other bytes as latin1. */
function bytesOf(v: string, len: number): Uint8Array {
  const u = Buffer.from(v, 'utf8');
  return u.length === len ? u : Buffer.from(v, 'latin1');
}

export function decodeSockaddrText(v: SValue | undefined): DecodedSockaddr | undefined {
  if (!isStruct(v)) return undefined;
  const f = v.fields;
  const fam = rawText(f['sa_family']) ?? '';
  if (fam === 'AF_INET' || fam === '0x2' || fam === '2') {
    const a = f['sin_addr'];
    let addr: string | undefined;
    const t = rawText(a);
    const m = t === undefined ? null : /^inet_addr\("([^"]+)"\)$/.exec(t);
    if (m !== null) addr = m[1];
    else if (typeof a === 'string') {
      const b = bytesOf(a, 4);
      if (b.length === 4) addr = formatIPv4(b);
    }
    return { family: 'inet', addr, port: port(f['sin_port']) };
  }
  if (fam === 'AF_INET6' || fam === '0xa' || fam === '10') {
    let addr: string | undefined;
    for (const it of v.items) {
      const m = /^inet_pton\(AF_INET6,\s*"([^"]+)"/.exec(rawText(it) ?? '');
      if (m !== null) addr = m[1];
    }
    const a = f['sin6_addr'];
    if (addr === undefined && typeof a === 'string') {
      const b = bytesOf(a, 16);
      if (b.length === 16) addr = formatIPv6(b);
    }
    return { family: 'inet6', addr, port: port(f['sin6_port']) };
  }
  if (fam === 'AF_UNIX' || fam === 'AF_LOCAL' || fam === '0x1' || fam === '1') {
    const p = f['sun_path'];
    // An abstract socket prints as @"name".
    const path = typeof p === 'string' ? p : (rawText(p) ?? '').replace(/^@"(.*)"$/, '@$1');
    return { family: 'unix', path };
  }
  return undefined;
}

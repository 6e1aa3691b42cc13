// IP addresses and networks as bytes (network order), for typed values and the evaluator.

export { parseIPv4, parseIPv6 } from '../../collectors/kernel/inet.js';
import { parseIPv4, parseIPv6 } from '../../collectors/kernel/inet.js';

export function parseIp(s: string): Uint8Array | undefined {
  return parseIPv4(s) ?? parseIPv6(s);
}

/** `a.b.c.d/n`, `x::/n`, or a plain address (full-length prefix). */
export function parseCidr(s: string): { bytes: Uint8Array; prefix: number } | undefined {
  const slash = s.indexOf('/');
  const addr = parseIp(slash >= 0 ? s.slice(0, slash) : s);
  if (addr === undefined) return undefined;
  const max = addr.length * 8;
  if (slash < 0) return { bytes: addr, prefix: max };
  const p = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(p) || Number(p) > max) return undefined;
  return { bytes: addr, prefix: Number(p) };
}

/** v4-mapped v6 (::ffff:a.b.c.d) as 4 bytes, else unchanged. */
export function unmap(b: Uint8Array): Uint8Array {
  if (b.length === 16 && b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) return b.subarray(12);
  return b;
}

export function ipEquals(a: Uint8Array, b: Uint8Array): boolean {
  const x = unmap(a);
  const y = unmap(b);
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

export function inNet(ip: Uint8Array, net: Uint8Array, prefix: number): boolean {
  const a = unmap(ip);
  const n = unmap(net);
  let p = prefix;
  if (n.length !== net.length) p -= 96;
  if (a.length !== n.length || p < 0) return false;
  let bits = p;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if (((a[i] as number) & mask) !== ((n[i] as number) & mask)) return false;
  }
  return true;
}

export function ipToString(b: Uint8Array): string {
  if (b.length === 4) return b.join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((b[i] as number) << 8) | (b[i + 1] as number)).toString(16));
  // compress the longest run of zero groups
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

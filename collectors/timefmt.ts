// Nanosecond timestamps: RFC 3339 parsing without losing sub-millisecond digits (Date.parse
// keeps only milliseconds, Tetragon exports nanoseconds), and formatting back.

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9})\d*)?([Zz]|[+-]\d{2}:?\d{2})$/;

/** ns since the epoch, or undefined when the text is not RFC 3339. */
export function parseRfc3339Ns(text: string): bigint | undefined {
  const m = RFC3339.exec(text.trim());
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return undefined;
  let ms = Date.UTC(Number(y), month - 1, day, hour, minute, Math.min(second, 59));
  if (Number.isNaN(ms)) return undefined;
  if (zone !== 'Z' && zone !== 'z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    ms -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4))) * 60_000;
  }
  const fracNs = frac === undefined ? 0n : BigInt(frac.padEnd(9, '0'));
  return BigInt(ms) * 1_000_000n + fracNs;
}

/** RFC 3339 in UTC with nanoseconds, e.g. 2023-10-06T22:03:57.700327580Z. */
export function formatRfc3339Ns(ns: bigint): string {
  const ms = ns / 1_000_000n;
  const base = new Date(Number(ms)).toISOString(); // ...sss Z
  const frac = ((ns % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n;
  return `${base.slice(0, 19)}.${frac.toString().padStart(9, '0')}Z`;
}

/** Wall clock now in ns (process.hrtime anchored to Date.now once). */
const anchorWall = BigInt(Date.now()) * 1_000_000n;
const anchorHr = process.hrtime.bigint();
export function nowNs(): bigint {
  return anchorWall + (process.hrtime.bigint() - anchorHr);
}

// Nanosecond timestamps: RFC 3339 with nine fraction digits (Falco's JSON `time`), parsing of
// CLI time arguments (durations back from now, or absolute times).

import { parseDuration } from '../config/units.js';

export function formatTimeNs(ns: bigint): string {
  const ms = ns / 1_000_000n;
  const base = new Date(Number(ms)).toISOString();
  const frac = ((ns % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n;
  return `${base.slice(0, 19)}.${frac.toString().padStart(9, '0')}Z`;
}

/** Falco's text-output time prefix: HH:MM:SS.nnnnnnnnn (UTC). */
export function formatClockNs(ns: bigint): string {
  return formatTimeNs(ns).slice(11, 29);
}

const anchorWall = BigInt(Date.now()) * 1_000_000n;
const anchorHr = process.hrtime.bigint();
/** Wall clock in ns (hrtime anchored to Date.now once, so it is monotonic within a process). */
export function nowNs(): bigint {
  return anchorWall + (process.hrtime.bigint() - anchorHr);
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9})\d*)?)?)?([Zz]|[+-]\d{2}:?\d{2})?$/;

/**
 * A CLI time: a duration back from `now` (`15m`, `24h`, `2d`), an RFC 3339 time or date
 * (`2026-01-02`, `2026-01-02T10:00:00Z`), or nanoseconds since the epoch. Undefined if none.
 */
export function parseTimeArg(text: string, now: bigint = nowNs()): bigint | undefined {
  const t = text.trim();
  if (/^\d{16,}$/.test(t)) return BigInt(t);
  if (/^\d/.test(t) && !t.includes('-')) {
    const ms = parseDuration(t);
    if (ms !== undefined) return now - BigInt(Math.round(ms)) * 1_000_000n;
  }
  const m = RFC3339.exec(t);
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  let ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h ?? 0), Number(mi ?? 0), Number(s ?? 0));
  if (Number.isNaN(ms)) return undefined;
  if (zone !== undefined && zone !== 'Z' && zone !== 'z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    ms -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4))) * 60_000;
  }
  return BigInt(ms) * 1_000_000n + (frac === undefined ? 0n : BigInt(frac.padEnd(9, '0')));
}

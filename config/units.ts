// Durations (`500ms`, `30s`, `5m`, `24h`, `30d`) and sizes (bytes or `4MiB`) as kestrel.yaml writes them.

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const SIZE_UNITS: Record<string, number> = {
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
};

/** Milliseconds, or undefined when the text is not a duration. A bare number means seconds. */
export function parseDuration(v: string | number): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? v * 1000 : undefined;
  const s = v.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  let total = 0;
  let rest = s;
  // Compound forms like 1h30m are accepted too.
  const re = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/;
  if (rest.length === 0) return undefined;
  while (rest.length > 0) {
    const m = re.exec(rest);
    if (m === null) return undefined;
    total += Number(m[1]) * DURATION_UNITS[m[2]];
    rest = rest.slice(m[0].length);
  }
  return total;
}

/** Bytes, or undefined when the text is not a size. */
export function parseSize(v: string | number): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 ? v : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(v);
  if (m === null) return undefined;
  const unit = m[2].toLowerCase() || 'b';
  const mult = SIZE_UNITS[unit];
  if (mult === undefined) return undefined;
  const n = Number(m[1]) * mult;
  return Number.isInteger(n) ? n : undefined;
}

export function formatDuration(ms: number): string {
  for (const [u, f] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= f && ms % f === 0) return `${ms / f}${u}`;
  }
  return `${ms}ms`;
}

export function formatSize(bytes: number): string {
  for (const [u, f] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (bytes >= f && bytes % f === 0) return `${bytes / f}${u}`;
  }
  return `${bytes}`;
}

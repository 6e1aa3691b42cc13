// Test helper: drop `span` properties so parsed trees can be compared structurally.
export function strip(e: unknown): unknown {
  if (Array.isArray(e)) return e.map(strip);
  if (e !== null && typeof e === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(e)) if (k !== 'span') out[k] = strip(v);
    return out;
  }
  return e;
}

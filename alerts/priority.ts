// Falco's priorities, most severe first (falco userspace/engine/falco_common.cpp). Levels are
// the syslog numbers: 0 emergency … 7 debug, so "at least warning" is `level <= 4`.

export const PRIORITY_NAMES = ['Emergency', 'Alert', 'Critical', 'Error', 'Warning', 'Notice', 'Informational', 'Debug'] as const;
export type PriorityName = (typeof PRIORITY_NAMES)[number];

/** Level 0..7 for a priority name in any case (`info` accepted), or undefined. */
export function priorityLevel(name: string): number | undefined {
  const n = name.trim().toLowerCase();
  if (n === 'info') return 6;
  const i = PRIORITY_NAMES.findIndex((p) => p.toLowerCase() === n);
  return i < 0 ? undefined : i;
}

/** Falco's display form (`Warning`) of a level; out-of-range levels read as Debug. */
export function priorityName(level: number): PriorityName {
  return PRIORITY_NAMES[level] ?? 'Debug';
}

/** Normalise any accepted spelling to Falco's display form; unknown names become Debug. */
export function normalizePriority(name: string): PriorityName {
  return priorityName(priorityLevel(name) ?? 7);
}

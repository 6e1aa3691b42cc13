// Rule priorities (falco_common.cpp): most to least severe, parsed case-insensitively,
// `info` accepted for informational; printed capitalised in outputs (`Warning`).

export const PRIORITIES = ['emergency', 'alert', 'critical', 'error', 'warning', 'notice', 'informational', 'debug'] as const;
export type Priority = (typeof PRIORITIES)[number];

export function parsePriority(s: string): Priority | undefined {
  const l = s.trim().toLowerCase();
  if (l === 'info') return 'informational';
  return (PRIORITIES as readonly string[]).includes(l) ? (l as Priority) : undefined;
}

/** 0 = emergency (most severe) ... 7 = debug. */
export function severity(p: Priority): number {
  return PRIORITIES.indexOf(p);
}

/** `Warning`, `Informational`, ... as Falco prints them. */
export function priorityLabel(p: Priority): string {
  return p.charAt(0).toUpperCase() + p.slice(1);
}

/** True when `p` is at least as severe as `min`. */
export function atLeast(p: Priority, min: Priority): boolean {
  return severity(p) <= severity(min);
}

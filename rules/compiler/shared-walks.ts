// Shared string walks. Falco's rules test the same fields with many patterns
// (`proc.cmdline contains "stratum+tcp"` in one rule, `proc.cmdline contains "base64 -d"` in
// another, ...); walking the bytes once per pattern costs a pass over the string each. Instead,
// a first pass over the rules (the per-rule probe compile) logs every automaton walk over a
// record reached by a fixed path, grouped by record and field; the groups become MultiDfas (one
// automaton whose states carry a mask of the patterns that accept), and the program walks each
// at most once per event, at its first use, keeping the mask in a per-event cache slot. Every
// later check on that field is a bit test.

import { MAX_TAGS, PatternError, compileMultiDfa, reKey, stickyForm, type MultiDfa, type Re } from './automata.js';
import type { StrShape } from './fields.js';

/** States allowed in one shared automaton; larger unions are split. */
const SHARED_MAX_STATES = 2048;

interface LoggedGroup {
  shape: StrShape;
  res: Map<string, Re>;
  uses: number;
}

/** Walks seen while compiling a hook's rules one by one. */
export class WalkLog {
  readonly groups = new Map<string, LoggedGroup>();

  add(group: string, shape: StrShape, res: readonly Re[]): void {
    let g = this.groups.get(group);
    if (g === undefined) {
      g = { shape, res: new Map(), uses: 0 };
      this.groups.set(group, g);
    }
    g.uses++;
    for (const r of res) g.res.set(reKey(r), r);
  }

  /** Add another log's walks (a rule's probe compile that succeeded). */
  merge(other: WalkLog): void {
    for (const [group, g] of other.groups) {
      const mine = this.groups.get(group);
      if (mine === undefined) this.groups.set(group, { shape: g.shape, res: new Map(g.res), uses: g.uses });
      else {
        mine.uses += g.uses;
        for (const [k, r] of g.res) mine.res.set(k, r);
      }
    }
  }
}

export interface WalkChunk {
  dfa: MultiDfa;
  /** the patterns as written (bit k: res[k]) */
  res: Re[];
  /**
   * Bits of the patterns of the form R'·.* (contains, startswith, ...): the automaton matches
   * R' and the walk ORs the masks of every state it passes, so "matched once" needs no states.
   * The other patterns accept by the final state only.
   */
  sticky: bigint;
}

export interface WalkGroupPlan {
  shape: StrShape;
  chunks: WalkChunk[];
  /** pattern (reKey) → its chunk and bit */
  where: Map<string, { chunk: number; bit: number }>;
}

/** Group key → the automata that group's walks share. */
export type WalkPlan = Map<string, WalkGroupPlan>;

/** What a program's checks do with walks: log them (first pass) and/or use a plan. */
export interface SharedWalks {
  log?: WalkLog;
  plan?: WalkPlan;
}

/** Combine the logged walks of each group that is walked more than once per event. */
export function planWalks(log: WalkLog): WalkPlan {
  const plan: WalkPlan = new Map();
  for (const [group, g] of log.groups) {
    if (g.uses < 2) continue;
    const chunks = split([...g.res.values()]);
    if (chunks.length === 0) continue;
    const where = new Map<string, { chunk: number; bit: number }>();
    chunks.forEach((c, ci) => c.res.forEach((r, bit) => where.set(reKey(r), { chunk: ci, bit })));
    plan.set(group, { shape: g.shape, chunks, where });
  }
  return plan;
}

/** Chunks of at most MAX_TAGS patterns whose union stays within the state limit. */
function split(res: readonly Re[]): WalkChunk[] {
  if (res.length > MAX_TAGS) {
    const mid = Math.ceil(res.length / 2);
    return [...split(res.slice(0, mid)), ...split(res.slice(mid))];
  }
  try {
    let sticky = 0n;
    const forms = res.map((r, k) => {
      const s = stickyForm(r);
      if (s === undefined) return r;
      sticky |= 1n << BigInt(k);
      return s;
    });
    return [{ dfa: compileMultiDfa(forms, SHARED_MAX_STATES), res: [...res], sticky }];
  } catch (err) {
    if (!(err instanceof PatternError)) throw err;
    // A single pattern too large to share keeps its own walk (or its own error) at the check.
    if (res.length === 1) return [];
    const mid = Math.ceil(res.length / 2);
    return [...split(res.slice(0, mid)), ...split(res.slice(mid))];
  }
}

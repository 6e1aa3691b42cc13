// Byte-level automata for string operators that cannot be done with a few word compares:
// contains / icontains / endswith / glob / iglob / regex / pmatch. Each pattern becomes a DFA
// over bytes with byte classes (bytes that behave alike share a column), stored in a map and
// walked by a bounded loop in bytecode. The same tables are walked here in TypeScript so the
// construction can be tested against JavaScript's own matchers.
//
// Pipeline: pattern → small regex AST → Thompson NFA → subset construction → DFA with an
// explicit dead state, then Moore-style minimisation (partition refinement).

export interface Dfa {
  /** Number of states; state 0 is dead (never accepts, loops to itself), 1 is the start. */
  states: number;
  /** Number of byte classes (columns). */
  classes: number;
  /** byte → class. */
  classOf: Uint8Array;
  /** states × classes next-state table. */
  next: Uint16Array;
  /** 1 when the state accepts. */
  accept: Uint8Array;
}

/**
 * Several patterns walked at once (the union's subset construction, each NFA accept state
 * tagged with its pattern): a state's mask says which patterns accept there.
 */
export interface MultiDfa extends Dfa {
  /** Number of patterns (at most MAX_TAGS). */
  tags: number;
  /** Per state, two u32 words: bit k set when pattern k accepts in that state. */
  masks: Uint32Array;
}

export const MAX_TAGS = 64;

export const DEAD = 0;
export const START = 1;

// --- regex AST --------------------------------------------------------------------------------

export type Re =
  | { t: 'set'; bytes: Uint8Array } // 256-entry membership
  | { t: 'cat'; items: Re[] }
  | { t: 'alt'; items: Re[] }
  | { t: 'star'; item: Re }
  | { t: 'empty' };

function setOf(pred: (b: number) => boolean): Re {
  const bytes = new Uint8Array(256);
  for (let b = 0; b < 256; b++) if (pred(b)) bytes[b] = 1;
  return { t: 'set', bytes };
}

const ANY: Re = setOf(() => true);
const anyStar: Re = { t: 'star', item: ANY };

function lit(s: Uint8Array, caseless: boolean): Re {
  return {
    t: 'cat',
    items: Array.from(s, (c) => {
      if (!caseless) return setOf((b) => b === c);
      const lo = foldByte(c);
      return setOf((b) => foldByte(b) === lo);
    }),
  };
}

export function foldByte(b: number): number {
  return b >= 0x41 && b <= 0x5a ? b + 32 : b;
}

function plus(r: Re): Re {
  return { t: 'cat', items: [r, { t: 'star', item: r }] };
}

function opt(r: Re): Re {
  return { t: 'alt', items: [r, { t: 'empty' }] };
}

const enc = new TextEncoder();

// --- pattern front ends -----------------------------------------------------------------------

export function containsRe(needle: string, caseless = false): Re {
  return { t: 'cat', items: [anyStar, lit(enc.encode(needle), caseless), anyStar] };
}

export function endswithRe(suffix: string, caseless = false): Re {
  return { t: 'cat', items: [anyStar, lit(enc.encode(suffix), caseless)] };
}

export function startswithRe(prefix: string, caseless = false): Re {
  return { t: 'cat', items: [lit(enc.encode(prefix), caseless), anyStar] };
}

export function equalsRe(s: string, caseless = false): Re {
  return lit(enc.encode(s), caseless);
}

/**
 * fnmatch-style glob as Falco's `glob` uses it (full match): `*` any run of bytes (including
 * `/`), `?` one byte, `[abc]`, `[a-z]`, `[!a]`/`[^a]` classes, `\x` escapes.
 */
export function globRe(pattern: string, caseless = false): Re {
  const p = enc.encode(pattern);
  const items: Re[] = [];
  let i = 0;
  while (i < p.length) {
    const c = p[i];
    if (c === 0x2a /* * */) {
      items.push(anyStar);
      i++;
    } else if (c === 0x3f /* ? */) {
      items.push(ANY);
      i++;
    } else if (c === 0x5b /* [ */) {
      const parsed = parseBracket(p, i + 1, caseless, false);
      if (parsed === undefined) {
        items.push(lit(p.subarray(i, i + 1), caseless));
        i++;
      } else {
        items.push(parsed.re);
        i = parsed.end;
      }
    } else if (c === 0x5c /* \ */ && i + 1 < p.length) {
      items.push(lit(p.subarray(i + 1, i + 2), caseless));
      i += 2;
    } else {
      items.push(lit(p.subarray(i, i + 1), caseless));
      i++;
    }
  }
  return { t: 'cat', items };
}

/** `[...]` starting after the `[`; returns the set and the index after `]`, or undefined if unclosed. */
function parseBracket(p: Uint8Array, start: number, caseless: boolean, regexStyle: boolean): { re: Re; end: number } | undefined {
  let i = start;
  let negate = false;
  if (i < p.length && (p[i] === 0x21 /* ! */ || p[i] === 0x5e) /* ^ */) {
    if (p[i] === 0x5e || !regexStyle) {
      negate = true;
      i++;
    }
  }
  const bytes = new Uint8Array(256);
  let first = true;
  while (i < p.length && (p[i] !== 0x5d /* ] */ || first)) {
    first = false;
    let lo = p[i];
    if (lo === 0x5c && i + 1 < p.length) {
      i++;
      lo = p[i];
      if (regexStyle) {
        const cls = escapeClass(lo);
        if (cls !== undefined) {
          for (let b = 0; b < 256; b++) if (cls(b)) bytes[b] = 1;
          i++;
          continue;
        }
      }
    }
    let hi = lo;
    if (i + 2 < p.length && p[i + 1] === 0x2d /* - */ && p[i + 2] !== 0x5d) {
      hi = p[i + 2] === 0x5c && i + 3 < p.length ? p[i + 3] : p[i + 2];
      i += p[i + 2] === 0x5c ? 4 : 3;
    } else {
      i++;
    }
    for (let b = lo; b <= hi; b++) bytes[b] = 1;
  }
  if (i >= p.length) return undefined;
  if (caseless) {
    for (let b = 0; b < 256; b++) if (bytes[b] === 1) bytes[foldByte(b)] = 1;
    for (let b = 0x41; b <= 0x5a; b++) if (bytes[b + 32] === 1) bytes[b] = 1;
  }
  if (negate) for (let b = 0; b < 256; b++) bytes[b] ^= 1;
  return { re: { t: 'set', bytes }, end: i + 1 };
}

function escapeClass(c: number): ((b: number) => boolean) | undefined {
  const isDigit = (b: number): boolean => b >= 0x30 && b <= 0x39;
  const isWord = (b: number): boolean => isDigit(b) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x5f;
  const isSpace = (b: number): boolean => b === 0x20 || (b >= 0x09 && b <= 0x0d);
  switch (c) {
    case 0x64: return isDigit; // \d
    case 0x44: return (b) => !isDigit(b); // \D
    case 0x77: return isWord; // \w
    case 0x57: return (b) => !isWord(b); // \W
    case 0x73: return isSpace; // \s
    case 0x53: return (b) => !isSpace(b); // \S
    default: return undefined;
  }
}

export class PatternError extends Error {
  constructor(message: string, readonly offset: number) {
    super(message);
    this.name = 'PatternError';
  }
}

const MAX_REPEAT = 64;

/**
 * The RE2 syntax Falco's `regex` accepts, as a full match: literals, `.`, classes, `\d\w\s`
 * (and negations), `* + ?`, `{m}`, `{m,}`, `{m,n}`, `|`, groups `(...)` and `(?:...)`, and `^`/`$`
 * at the ends (redundant for a full match). Backreferences and lookaround are not regular and
 * are rejected with a PatternError.
 */
export function regexRe(pattern: string, caseless = false): Re {
  const p = enc.encode(pattern);
  let i = 0;
  const parseAlt = (): Re => {
    const items = [parseCat()];
    while (i < p.length && p[i] === 0x7c /* | */) {
      i++;
      items.push(parseCat());
    }
    return items.length === 1 ? items[0] : { t: 'alt', items };
  };
  const parseCat = (): Re => {
    const items: Re[] = [];
    while (i < p.length && p[i] !== 0x7c && p[i] !== 0x29 /* ) */) items.push(parseRepeat());
    return items.length === 1 ? items[0] : { t: 'cat', items };
  };
  const parseRepeat = (): Re => {
    let atom = parseAtom();
    for (;;) {
      if (i >= p.length) return atom;
      const c = p[i];
      if (c === 0x2a) {
        atom = { t: 'star', item: atom };
        i++;
      } else if (c === 0x2b) {
        atom = plus(atom);
        i++;
      } else if (c === 0x3f) {
        atom = opt(atom);
        i++;
      } else if (c === 0x7b /* { */) {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(new TextDecoder().decode(p.subarray(i)));
        if (m === null) return atom;
        const lo = Number(m[1]);
        const hi = m[2] === undefined ? lo : m[3] === '' ? Infinity : Number(m[3]);
        if (lo > MAX_REPEAT || (hi !== Infinity && hi > MAX_REPEAT) || hi < lo) {
          throw new PatternError(`repetition {${m[0].slice(1, -1)}} is out of range (at most ${MAX_REPEAT})`, i);
        }
        const items: Re[] = [];
        for (let k = 0; k < lo; k++) items.push(atom);
        if (hi === Infinity) items.push({ t: 'star', item: atom });
        else for (let k = lo; k < hi; k++) items.push(opt(atom));
        atom = { t: 'cat', items };
        i += m[0].length;
      } else return atom;
      if (i < p.length && p[i] === 0x3f) i++; // lazy quantifiers match the same language
    }
  };
  const parseAtom = (): Re => {
    const c = p[i];
    if (c === 0x28 /* ( */) {
      i++;
      if (p[i] === 0x3f /* ? */) {
        if (p[i + 1] === 0x3a /* : */) i += 2;
        else throw new PatternError('only (?:...) groups are supported', i);
      }
      const inner = parseAlt();
      if (p[i] !== 0x29) throw new PatternError('missing )', i);
      i++;
      return inner;
    }
    if (c === 0x5b /* [ */) {
      const parsed = parseBracket(p, i + 1, caseless, true);
      if (parsed === undefined) throw new PatternError('missing ]', i);
      i = parsed.end;
      return parsed.re;
    }
    if (c === 0x2e /* . */) {
      i++;
      return setOf((b) => b !== 0x0a);
    }
    if (c === 0x5e /* ^ */ || c === 0x24 /* $ */) {
      const atEdge = c === 0x5e ? i === 0 : i === p.length - 1;
      if (!atEdge) throw new PatternError(`${String.fromCharCode(c)} is only supported at the pattern's ${c === 0x5e ? 'start' : 'end'}`, i);
      i++;
      return { t: 'empty' };
    }
    if (c === 0x5c /* \ */) {
      if (i + 1 >= p.length) throw new PatternError('trailing backslash', i);
      const e = p[i + 1];
      i += 2;
      const cls = escapeClass(e);
      if (cls !== undefined) return setOf(cls);
      if (e >= 0x31 && e <= 0x39) throw new PatternError('backreferences are not supported', i - 2);
      const map: Record<number, number> = { 0x6e: 0x0a, 0x74: 0x09, 0x72: 0x0d, 0x66: 0x0c, 0x76: 0x0b };
      return lit(Uint8Array.of(map[e] ?? e), caseless);
    }
    if (c === 0x2a || c === 0x2b || c === 0x3f) throw new PatternError('nothing to repeat', i);
    i++;
    return lit(Uint8Array.of(c), caseless);
  };
  const re = parseAlt();
  if (i !== p.length) throw new PatternError('unbalanced )', i);
  return re;
}

/**
 * Falco's `pmatch`: the value equals the path or lies below it (`/tmp/hello` matches
 * `/tmp/hello` and `/tmp/hello/x`, not `/tmp/hello_x`), with globs allowed per component.
 */
export function pmatchRe(paths: readonly string[]): Re {
  return {
    t: 'alt',
    items: paths.map((path) => {
      const trimmed = path.length > 1 ? path.replace(/\/+$/, '') : path;
      const base = globRe(trimmed.replace(/\*/g, '[!/]*'));
      return { t: 'cat', items: [base, opt({ t: 'cat', items: [setOf((b) => b === 0x2f), anyStar] })] } as Re;
    }),
  };
}

/**
 * R' when `re` is R'·.* ("some prefix matches R'"), else undefined. A shared walk tests such
 * patterns by noting every state it passes through instead of carrying "already matched" in
 * its states, which keeps the union of many `contains` patterns linear instead of exponential.
 */
export function stickyForm(re: Re): Re | undefined {
  if (re.t === 'star' && re.item.t === 'set' && re.item.bytes.every((b) => b === 1)) return { t: 'empty' };
  if (re.t === 'cat' && re.items.length > 0) {
    const last = stickyForm(re.items[re.items.length - 1]);
    return last === undefined ? undefined : { t: 'cat', items: [...re.items.slice(0, -1), last] };
  }
  if (re.t === 'alt' && re.items.length > 0) {
    const items = re.items.map(stickyForm);
    return items.every((x) => x !== undefined) ? { t: 'alt', items: items as Re[] } : undefined;
  }
  return undefined;
}

export function alternatives(res: readonly Re[]): Re {
  return { t: 'alt', items: [...res] };
}

// --- NFA ----------------------------------------------------------------------------------------

interface Nfa {
  /** per state: epsilon targets */
  eps: number[][];
  /** per state: [set index, target] or undefined */
  edge: ({ set: Uint8Array; to: number } | undefined)[];
  start: number;
  /** per state: the pattern whose accept state it is, or -1 */
  acceptOf: Int32Array;
}

const MAX_NFA_STATES = 20_000;

function toNfa(res: readonly Re[]): Nfa {
  const eps: number[][] = [];
  const edge: ({ set: Uint8Array; to: number } | undefined)[] = [];
  const state = (): number => {
    if (eps.length >= MAX_NFA_STATES) throw new PatternError('pattern too large', 0);
    eps.push([]);
    edge.push(undefined);
    return eps.length - 1;
  };
  const build = (r: Re): { s: number; e: number } => {
    switch (r.t) {
      case 'empty': {
        const s = state();
        return { s, e: s };
      }
      case 'set': {
        const s = state();
        const e = state();
        edge[s] = { set: r.bytes, to: e };
        return { s, e };
      }
      case 'cat': {
        if (r.items.length === 0) return build({ t: 'empty' });
        const first = build(r.items[0]);
        let end = first.e;
        for (let k = 1; k < r.items.length; k++) {
          const f = build(r.items[k]);
          eps[end].push(f.s);
          end = f.e;
        }
        return { s: first.s, e: end };
      }
      case 'alt': {
        const s = state();
        const e = state();
        for (const it of r.items) {
          const f = build(it);
          eps[s].push(f.s);
          eps[f.e].push(e);
        }
        return { s, e };
      }
      case 'star': {
        const s = state();
        const e = state();
        const f = build(r.item);
        eps[s].push(f.s, e);
        eps[f.e].push(f.s, e);
        return { s, e };
      }
    }
  };
  if (res.length === 1) {
    const f = build(res[0]);
    const acceptOf = new Int32Array(eps.length).fill(-1);
    acceptOf[f.e] = 0;
    return { eps, edge, start: f.s, acceptOf };
  }
  const start = state();
  const ends = res.map((r) => {
    const f = build(r);
    eps[start].push(f.s);
    return f.e;
  });
  const acceptOf = new Int32Array(eps.length).fill(-1);
  ends.forEach((e, k) => (acceptOf[e] = k));
  return { eps, edge, start, acceptOf };
}

// --- DFA ----------------------------------------------------------------------------------------

const MAX_DFA_STATES = 4096;

/** Bytes that every NFA edge treats alike share a class. */
function byteClasses(nfa: Nfa): { classOf: Uint8Array; classes: number; rep: number[] } {
  const sets = [...new Set(nfa.edge.filter((e) => e !== undefined).map((e) => (e as { set: Uint8Array }).set))];
  const sig = new Map<string, number>();
  const classOf = new Uint8Array(256);
  const rep: number[] = [];
  for (let b = 0; b < 256; b++) {
    let key = '';
    for (const s of sets) key += s[b];
    let c = sig.get(key);
    if (c === undefined) {
      c = sig.size;
      sig.set(key, c);
      rep.push(b);
    }
    classOf[b] = c;
  }
  if (sig.size > 255) throw new PatternError('too many byte classes', 0);
  return { classOf, classes: sig.size, rep };
}

/**
 * Per NFA state, the *important* states its epsilon closure reaches (states with a byte edge,
 * and the accepting state), sorted. DFA states are sets of important states only, which keeps
 * them small and lets every closure be computed once.
 */
function importantClosures(nfa: Nfa): Int32Array[] {
  const n = nfa.eps.length;
  const out: (Int32Array | undefined)[] = new Array(n);
  const mark = new Int32Array(n);
  let stamp = 0;
  for (let s0 = 0; s0 < n; s0++) {
    stamp++;
    const found: number[] = [];
    const stack = [s0];
    while (stack.length > 0) {
      const s = stack.pop() as number;
      if (mark[s] === stamp) continue;
      mark[s] = stamp;
      if (nfa.edge[s] !== undefined || nfa.acceptOf[s] >= 0) found.push(s);
      for (const t of nfa.eps[s]) if (mark[t] !== stamp) stack.push(t);
    }
    found.sort((a, b) => a - b);
    out[s0] = Int32Array.from(found);
  }
  return out as Int32Array[];
}

const dfaCache = new Map<string, Dfa>();
const DFA_CACHE_MAX = 4096;

/** A structural key of a regex AST (byte sets as hex bitmaps). */
export function reKey(r: Re): string {
  switch (r.t) {
    case 'empty':
      return 'e';
    case 'set': {
      let h = '';
      for (let i = 0; i < 256; i += 8) {
        let byte = 0;
        for (let k = 0; k < 8; k++) byte |= r.bytes[i + k] << k;
        h += byte.toString(16).padStart(2, '0');
      }
      return `[${h}]`;
    }
    case 'cat':
      return `(${r.items.map(reKey).join('')})`;
    case 'alt':
      return `(${r.items.map(reKey).join('|')})`;
    case 'star':
      return `${reKey(r.item)}*`;
  }
}

export function compileDfa(re: Re): Dfa {
  // Rule sets repeat patterns (the same list or macro in many rules): build each automaton once.
  const key = reKey(re);
  const hit = dfaCache.get(key);
  if (hit !== undefined) return hit;
  const dfa = buildDfa(re);
  if (dfaCache.size >= DFA_CACHE_MAX) dfaCache.delete(dfaCache.keys().next().value as string);
  dfaCache.set(key, dfa);
  return dfa;
}

const multiCache = new Map<string, MultiDfa>();

/**
 * One automaton for several patterns: walking it once tells which of them match (state masks).
 * Throws PatternError past MAX_TAGS patterns or the state limit (`maxStates`).
 */
export function compileMultiDfa(res: readonly Re[], maxStates = MAX_DFA_STATES): MultiDfa {
  if (res.length === 0 || res.length > MAX_TAGS) throw new PatternError(`${res.length} patterns in one automaton (1..${MAX_TAGS})`, 0);
  const key = `${maxStates}:${res.map(reKey).join('\u0000')}`;
  const hit = multiCache.get(key);
  if (hit !== undefined) return hit;
  const t = subsets(res, maxStates);
  const m = minimise(t, t.masks);
  const d: MultiDfa = { ...m.dfa, tags: res.length, masks: m.labels };
  if (multiCache.size >= DFA_CACHE_MAX) multiCache.delete(multiCache.keys().next().value as string);
  multiCache.set(key, d);
  return d;
}

/** Which patterns of a MultiDfa match `bytes` (bit k of the result: pattern k). */
export function runMultiDfa(d: MultiDfa, bytes: Uint8Array): bigint {
  let s = START;
  for (let i = 0; i < bytes.length && s !== DEAD; i++) s = d.next[s * d.classes + d.classOf[bytes[i]]];
  return BigInt(d.masks[2 * s]) | (BigInt(d.masks[2 * s + 1]) << 32n);
}

function buildDfa(re: Re): Dfa {
  const t = subsets([re], MAX_DFA_STATES);
  return minimise(t, t.masks).dfa;
}

/** Subset construction over the tagged union NFA; masks: two u32 words per DFA state. */
function subsets(res: readonly Re[], maxStates: number): Dfa & { masks: Uint32Array } {
  const nfa = toNfa(res);
  const { classOf, classes, rep } = byteClasses(nfa);
  const clo = importantClosures(nfa);
  const ids = new Map<string, number>();
  const sets: Int32Array[] = [new Int32Array(0)]; // state 0: dead
  ids.set('', 0);
  const start = clo[nfa.start];
  ids.set(start.join(','), 1);
  sets.push(start);
  const mark = new Int32Array(nfa.eps.length);
  let stamp = 0;
  const rows: number[][] = [];
  for (let d = 0; d < sets.length; d++) {
    const row: number[] = [];
    for (let c = 0; c < classes; c++) {
      const b = rep[c];
      stamp++;
      const tgt: number[] = [];
      for (const s of sets[d]) {
        const e = nfa.edge[s];
        if (e === undefined || e.set[b] !== 1) continue;
        for (const t of clo[e.to]) {
          if (mark[t] === stamp) continue;
          mark[t] = stamp;
          tgt.push(t);
        }
      }
      tgt.sort((x, y) => x - y);
      const key = tgt.join(',');
      let id = ids.get(key);
      if (id === undefined) {
        id = sets.length;
        if (id >= maxStates) throw new PatternError(`pattern needs more than ${maxStates} automaton states`, 0);
        ids.set(key, id);
        sets.push(Int32Array.from(tgt));
      }
      row.push(id);
    }
    rows.push(row);
  }
  const accept = new Uint8Array(sets.length);
  const masks = new Uint32Array(2 * sets.length);
  sets.forEach((s, d) => {
    for (const st of s) {
      const k = nfa.acceptOf[st];
      if (k < 0) continue;
      accept[d] = 1;
      masks[2 * d + (k >>> 5)] |= 1 << (k & 31);
    }
  });
  const next = new Uint16Array(sets.length * classes);
  rows.forEach((row, d) => row.forEach((t, c) => (next[d * classes + c] = t)));
  return { states: sets.length, classes, classOf, next, accept, masks };
}

/**
 * Moore partition refinement starting from states with equal labels (two u32 words each: the
 * accept masks); keeps dead = 0 and start = 1 (unless they merge into one). Returns the
 * minimal DFA and each new state's label.
 */
function minimise(d: Dfa, labels: Uint32Array): { dfa: Dfa; labels: Uint32Array } {
  const init = new Map<string, number>();
  let block = Array.from({ length: d.states }, (_, s) => {
    const k = `${labels[2 * s]},${labels[2 * s + 1]}`;
    let id = init.get(k);
    if (id === undefined) {
      id = init.size;
      init.set(k, id);
    }
    return id;
  });
  let count = init.size;
  for (;;) {
    const sig = new Map<string, number>();
    const nb: number[] = [];
    for (let s = 0; s < d.states; s++) {
      let key = `${block[s]}`;
      for (let c = 0; c < d.classes; c++) key += `,${block[d.next[s * d.classes + c]]}`;
      let id = sig.get(key);
      if (id === undefined) {
        id = sig.size;
        sig.set(key, id);
      }
      nb.push(id);
    }
    block = nb;
    if (sig.size === count) break;
    count = sig.size;
  }
  // Renumber so the dead state's block is 0 and the start's block is 1.
  const order = new Map<number, number>();
  order.set(block[DEAD], 0);
  if (!order.has(block[START])) order.set(block[START], 1);
  for (let s = 0; s < d.states; s++) if (!order.has(block[s])) order.set(block[s], order.size);
  const n = order.size;
  const next = new Uint16Array(Math.max(n, 2) * d.classes);
  const accept = new Uint8Array(Math.max(n, 2));
  const outLabels = new Uint32Array(2 * Math.max(n, 2));
  for (let s = 0; s < d.states; s++) {
    const to = order.get(block[s]) as number;
    accept[to] = d.accept[s];
    outLabels[2 * to] = labels[2 * s];
    outLabels[2 * to + 1] = labels[2 * s + 1];
    for (let c = 0; c < d.classes; c++) next[to * d.classes + c] = order.get(block[d.next[s * d.classes + c]]) as number;
  }
  if (n === 1) {
    // Dead and start merged (the pattern matches nothing): keep two identical dead states.
    for (let c = 0; c < d.classes; c++) next[d.classes + c] = 0;
  }
  return { dfa: { states: Math.max(n, 2), classes: d.classes, classOf: d.classOf, next, accept }, labels: outLabels };
}

/** Run the DFA over bytes (the TypeScript twin of the bytecode walker). */
export function runDfa(d: Dfa, bytes: Uint8Array): boolean {
  let s = START;
  for (let i = 0; i < bytes.length && s !== DEAD; i++) s = d.next[s * d.classes + d.classOf[bytes[i]]];
  return d.accept[s] === 1;
}

/** Whether every continuation from state s accepts (lets the walker stop early). */
export function acceptingSinks(d: Dfa): Uint8Array {
  const sink = new Uint8Array(d.states);
  for (let s = 0; s < d.states; s++) {
    if (d.accept[s] !== 1) continue;
    let all = true;
    for (let c = 0; c < d.classes && all; c++) if (d.next[s * d.classes + c] !== s) all = false;
    if (all) sink[s] = 1;
  }
  return sink;
}

// Read one rules file: YAML with node positions (yaml's LineCounter and node ranges), split into
// items, each able to say where its keys and values are, and to map an offset inside a string
// value (a condition) back to file:line:column.

import { LineCounter, parseAllDocuments, isMap, isScalar, isSeq, type Node, type Pair, type YAMLMap } from 'yaml';
import type { SourceLoc } from '../condition/ast.js';
import type { Diagnostic } from './diag.js';

/** A string together with a way to find where each character came from. */
export interface SourcedText {
  text: string;
  locAt(offset: number): SourceLoc;
}

export type ItemKind = 'required_engine_version' | 'required_plugin_versions' | 'list' | 'macro' | 'rule';
const KIND_ORDER: readonly ItemKind[] = ['required_engine_version', 'required_plugin_versions', 'list', 'macro', 'rule'];

export interface RawItem {
  kind: ItemKind;
  file: string;
  loc: SourceLoc;
  data: Record<string, unknown>;
  /** keys in file order */
  keys: string[];
  keyLoc(key: string): SourceLoc;
  /** position of a value, following a path inside it (`exceptions`, 0, `values`) */
  valueLoc(key: string, ...path: (string | number)[]): SourceLoc;
  /** a string value with per-character positions */
  text(key: string, ...path: (string | number)[]): SourcedText | undefined;
}

export interface ReadResult {
  items: RawItem[];
  diags: Diagnostic[];
}

export function readRulesText(file: string, source: string): ReadResult {
  const lc = new LineCounter();
  const diags: Diagnostic[] = [];
  const items: RawItem[] = [];
  const locOf = (offset: number): SourceLoc => {
    const p = lc.linePos(offset);
    return { file, line: p.line, col: p.col };
  };
  const docs = parseAllDocuments(source, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  for (const doc of docs) {
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        diags.push({ severity: 'error', code: 'yaml', loc: locOf(e.pos[0]), message: `YAML: ${e.message.split('\n')[0] ?? e.message}` });
      }
      continue;
    }
    for (const w of doc.warnings) diags.push({ severity: 'warning', code: 'yaml', loc: locOf(w.pos[0]), message: `YAML: ${w.message.split('\n')[0] ?? w.message}` });
    const contents = doc.contents;
    if (contents === null || (isScalar(contents) && contents.value === null)) continue;
    if (!isSeq(contents)) {
      diags.push({ severity: 'error', code: 'schema', loc: locOf(contents.range?.[0] ?? 0), message: 'a rules file must be a list of items (rule, macro, list, ...)' });
      continue;
    }
    for (const node of contents.items) {
      if (node === null || (isScalar(node) && node.value === null)) continue;
      const start = (node as Node).range?.[0] ?? 0;
      if (!isMap(node)) {
        diags.push({ severity: 'error', code: 'schema', loc: locOf(start), message: 'each item must be a map (rule:, macro:, list:, ...)' });
        continue;
      }
      const item = makeItem(file, source, node, locOf);
      if (item === undefined) {
        const keys = node.items.map((p) => String(isScalar(p.key) ? p.key.value : p.key));
        diags.push({ severity: 'warning', code: 'unknown-item', loc: locOf(start), message: `Unknown top level item (keys: ${keys.join(', ')}); it is ignored` });
        continue;
      }
      items.push(item);
    }
  }
  return { items, diags };
}

function makeItem(file: string, source: string, node: YAMLMap, locOf: (o: number) => SourceLoc): RawItem | undefined {
  const pairs = new Map<string, Pair>();
  for (const p of node.items) {
    const k = isScalar(p.key) ? String(p.key.value) : String(p.key);
    pairs.set(k, p);
  }
  const kind = KIND_ORDER.find((k) => pairs.has(k));
  if (kind === undefined) return undefined;
  const start = node.range?.[0] ?? 0;
  const data = node.toJSON() as Record<string, unknown>;
  const nodeAt = (key: string, path: (string | number)[]): Node | undefined => {
    let n: unknown = pairs.get(key)?.value;
    for (const step of path) {
      if (isSeq(n) && typeof step === 'number') n = n.items[step];
      else if (isMap(n)) n = n.items.find((p) => isScalar(p.key) && p.key.value === step)?.value;
      else return undefined;
    }
    return n as Node | undefined;
  };
  return {
    kind,
    file,
    loc: locOf(start),
    data,
    keys: [...pairs.keys()],
    keyLoc(key) {
      const k = pairs.get(key)?.key as Node | undefined;
      return locOf(k?.range?.[0] ?? start);
    },
    valueLoc(key, ...path) {
      const n = nodeAt(key, path) ?? (pairs.get(key)?.key as Node | undefined);
      return locOf(n?.range?.[0] ?? start);
    },
    text(key, ...path) {
      const n = nodeAt(key, path);
      if (!isScalar(n) || typeof n.value !== 'string' || n.range === undefined || n.range === null) return undefined;
      return sourcedScalar(n.value, source, n.range[0], n.range[1], n.type ?? '', locOf);
    },
  };
}

/**
 * Map each character of a scalar's value to its place in the file by greedy alignment: every
 * non-blank value character is the next identical character in the source. Exact for plain and
 * block scalars, and for quoted ones up to escapes.
 */
export function sourcedScalar(value: string, source: string, from: number, to: number, type: string, locOf: (o: number) => SourceLoc): SourcedText {
  let offsets: Int32Array | undefined;
  const build = (): Int32Array => {
    const out = new Int32Array(value.length + 1);
    let j = from;
    if (type === 'BLOCK_FOLDED' || type === 'BLOCK_LITERAL') {
      const nl = source.indexOf('\n', from);
      j = nl < 0 ? from : nl + 1;
    } else if (type === 'QUOTE_DOUBLE' || type === 'QUOTE_SINGLE') j = from + 1;
    for (let i = 0; i < value.length; i++) {
      const c = value[i] as string;
      if (/\s/.test(c)) {
        out[i] = Math.min(j, to);
        continue;
      }
      let k = j;
      while (k < to && source[k] !== c) k++;
      if (k < to) {
        out[i] = k;
        j = k + 1;
      } else out[i] = Math.min(j, to);
    }
    out[value.length] = Math.min(j, to);
    return out;
  };
  return {
    text: value,
    locAt(offset) {
      offsets ??= build();
      const i = Math.max(0, Math.min(offset, value.length));
      return locOf(offsets[i] ?? from);
    },
  };
}

/** A text built by the loader (appends, exceptions) out of pieces from different places. */
export function concatTexts(parts: readonly (SourcedText | string)[], fallback: SourceLoc): SourcedText {
  let text = '';
  const pieces: { start: number; part: SourcedText | string }[] = [];
  for (const p of parts) {
    pieces.push({ start: text.length, part: p });
    text += typeof p === 'string' ? p : p.text;
  }
  return {
    text,
    locAt(offset) {
      for (let i = pieces.length - 1; i >= 0; i--) {
        const piece = pieces[i];
        if (piece === undefined || offset < piece.start) continue;
        if (typeof piece.part === 'string') {
          // generated glue: point at the next real piece, else the previous one
          const next = pieces.slice(i + 1).find((q) => typeof q.part !== 'string');
          if (next !== undefined && typeof next.part !== 'string') return next.part.locAt(0);
          continue;
        }
        return piece.part.locAt(offset - piece.start);
      }
      return fallback;
    },
  };
}

export function plainText(text: string, loc: SourceLoc): SourcedText {
  return { text, locAt: () => loc };
}

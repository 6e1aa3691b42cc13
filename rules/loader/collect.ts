// The collector: applies items in file order, as Falco's rule_loader_collector does. A new name
// defines; a known name is replaced in place (keeping its position); `append: true` (legacy) and
// `override: {key: append|replace}` modify an earlier definition; an item with only `rule` and
// `enabled` toggles an earlier rule. Texts keep their positions across appends.

import type { SourceLoc } from '../condition/ast.js';
import type { Diagnostic, ItemKind as DiagItemKind } from './diag.js';
import { concatTexts, plainText, type RawItem, type SourcedText } from './read.js';
import { LIST_KEYS, MACRO_KEYS, RULE_KEYS, checkItemSchema } from './schema.js';
import { parsePriority, type Priority } from '../priority.js';

export interface ListDefn {
  name: string;
  items: string[];
  loc: SourceLoc;
  /** definition order (kept when redefined) */
  index: number;
}

export interface MacroDefn {
  name: string;
  condition: SourcedText;
  loc: SourceLoc;
  index: number;
  /** macros with a smaller visibility index are visible to this one */
  visibility: number;
}

export interface ExceptionDefn {
  name: string;
  /** a string for the scalar form, an array for the tuple form */
  fields: string | string[] | undefined;
  comps: string | string[] | undefined;
  values: unknown[];
  loc: SourceLoc;
}

export interface RuleDefn {
  name: string;
  desc: string;
  condition: SourcedText;
  output: SourcedText;
  priority: Priority;
  source: string;
  enabled: boolean;
  tags: string[];
  exceptions: ExceptionDefn[];
  warnEvttypes: boolean;
  skipIfUnknownFilter: boolean;
  capture: boolean;
  captureDuration: number;
  loc: SourceLoc;
  index: number;
}

/** Kestrel implements Falco's rule engine semantics of this version. */
export const ENGINE_VERSION = '0.63.0';

const RULE_APPENDABLE = new Set(['condition', 'output', 'desc', 'tags', 'exceptions']);
const RULE_REPLACEABLE = new Set(['condition', 'output', 'desc', 'priority', 'capture', 'capture_duration', 'tags', 'exceptions', 'enabled', 'warn_evttypes', 'skip-if-unknown-filter']);

export class Collector {
  readonly lists = new Map<string, ListDefn>();
  readonly macros = new Map<string, MacroDefn>();
  readonly rules = new Map<string, RuleDefn>();
  readonly diags: Diagnostic[] = [];
  requiredEngineVersion: string | undefined;
  private counter = 0;

  add(item: RawItem): void {
    const issues = checkItemSchema(item.kind, item.data);
    const kind: DiagItemKind = item.kind === 'rule' || item.kind === 'macro' || item.kind === 'list' ? item.kind : 'item';
    const name = typeof item.data[item.kind] === 'string' ? (item.data[item.kind] as string) : '';
    if (issues.length > 0) {
      for (const i of issues) {
        const [key, ...rest] = i.path;
        const loc = typeof key === 'string' ? item.valueLoc(key, ...rest) : item.loc;
        this.diags.push({ severity: 'error', code: 'schema', loc, item: { kind, name }, message: i.message });
      }
      return;
    }
    switch (item.kind) {
      case 'required_engine_version':
        return this.engineVersion(item);
      case 'required_plugin_versions':
        return; // accepted and ignored: Kestrel has no plugins
      case 'list':
        this.warnUnknownKeys(item, LIST_KEYS, 'list', name);
        return this.list(item, name);
      case 'macro':
        this.warnUnknownKeys(item, MACRO_KEYS, 'macro', name);
        return this.macro(item, name);
      case 'rule':
        this.warnUnknownKeys(item, RULE_KEYS, 'rule', name);
        return this.rule(item, name);
    }
  }

  private err(item: RawItem, kind: DiagItemKind, name: string, message: string, loc?: SourceLoc, code: Diagnostic['code'] = 'override'): void {
    this.diags.push({ severity: 'error', code, loc: loc ?? item.loc, item: { kind, name }, message });
  }

  private warn(item: RawItem, kind: DiagItemKind, name: string, message: string, loc: SourceLoc, code: Diagnostic['code']): void {
    this.diags.push({ severity: 'warning', code, loc, item: { kind, name }, message });
  }

  private warnUnknownKeys(item: RawItem, known: readonly string[], kind: DiagItemKind, name: string): void {
    for (const k of item.keys) {
      if (!known.includes(k)) this.warn(item, kind, name, `Unknown key '${k}'. The key will be ignored.`, item.keyLoc(k), 'unknown-key');
    }
  }

  private engineVersion(item: RawItem): void {
    const raw = item.data['required_engine_version'];
    const v = typeof raw === 'number' ? `0.${raw}.0` : String(raw);
    if (!/^\d+\.\d+\.\d+$/.test(v)) {
      this.err(item, 'item', '', `required_engine_version '${String(raw)}' is not a version like 0.57.0`, item.valueLoc('required_engine_version'), 'engine-version');
      return;
    }
    if (compareSemver(v, ENGINE_VERSION) > 0) {
      this.err(item, 'item', '', `rules require engine version ${v}, Kestrel implements ${ENGINE_VERSION}`, item.valueLoc('required_engine_version'), 'engine-version');
      return;
    }
    if (this.requiredEngineVersion === undefined || compareSemver(v, this.requiredEngineVersion) > 0) this.requiredEngineVersion = v;
  }

  /**
   * Check `append`/`override` usage; returns per-key modes, 'define', 'enable-only' or undefined
   * after an error.
   */
  private mode(item: RawItem, kind: 'rule' | 'macro' | 'list', name: string, overridable: string[], appendable: Set<string>, replaceable: Set<string>): Map<string, 'append' | 'replace'> | 'define' | 'legacy-append' | undefined {
    const ov = item.data['override'];
    const append = item.data['append'] === true;
    if (item.data['append'] !== undefined && ov !== undefined && append) {
      this.err(item, kind, name, "Keys 'override' and 'append: true' cannot be used together. Add an 'append' entry (e.g. 'condition: append') under 'override' instead.", item.keyLoc('append'));
      return undefined;
    }
    if (append) {
      this.warn(item, kind, name, "The 'append' key is deprecated. Add an 'append' entry (e.g. 'condition: append') under 'override' instead.", item.keyLoc('append'), 'deprecated');
      return 'legacy-append';
    }
    if (ov === undefined || ov === null) return 'define';
    const modes = new Map<string, 'append' | 'replace'>();
    for (const [k, m] of Object.entries(ov as Record<string, string>)) {
      if (m === 'append' && !appendable.has(k)) {
        this.err(item, kind, name, `Key '${k}' cannot be appended to${replaceable.has(k) ? ", use 'replace:' instead" : ''}`, item.valueLoc('override', k));
        return undefined;
      }
      if (m === 'replace' && !replaceable.has(k)) {
        this.err(item, kind, name, `Key '${k}' cannot be replaced`, item.valueLoc('override', k));
        return undefined;
      }
      if (!(k in item.data)) {
        this.err(item, kind, name, `An 'override' entry for '${k}' was specified but '${k}' is not defined in this item`, item.valueLoc('override', k));
        return undefined;
      }
      modes.set(k, m as 'append' | 'replace');
    }
    for (const k of overridable) {
      if (k in item.data && !modes.has(k)) {
        this.err(item, kind, name, `Unexpected key '${k}': no corresponding entry under 'override' is defined.`, item.keyLoc(k));
        return undefined;
      }
    }
    return modes;
  }

  // ------------------------------------------------------------------ lists

  private list(item: RawItem, name: string): void {
    if (!/^[^()"'\s=,]+$/.test(name)) this.warn(item, 'list', name, `list name '${name}' contains characters that prevent it from being substituted in conditions`, item.valueLoc('list'), 'name');
    const items = ((item.data['items'] as unknown[] | undefined) ?? []).map((x) => String(x));
    const mode = this.mode(item, 'list', name, ['items'], new Set(['items']), new Set(['items']));
    if (mode === undefined) return;
    const prev = this.lists.get(name);
    if (mode === 'define') {
      if (!('items' in item.data)) return this.err(item, 'list', name, "Item has no mandatory key 'items'", item.loc, 'required');
      this.lists.set(name, { name, items, loc: item.loc, index: prev?.index ?? this.counter++ });
      return;
    }
    if (prev === undefined) return this.err(item, 'list', name, `List has '${mode === 'legacy-append' ? 'append' : 'override'}' key but no list by that name already exists`, item.loc, 'append');
    const m = mode === 'legacy-append' ? 'append' : mode.get('items');
    if (m === 'append') prev.items = [...prev.items, ...items];
    else if (m === 'replace') prev.items = items;
  }

  // ------------------------------------------------------------------ macros

  private macro(item: RawItem, name: string): void {
    if (!/^[a-zA-Z]+[a-zA-Z0-9_]*$/.test(name)) this.warn(item, 'macro', name, `macro name '${name}' is not an identifier ([a-zA-Z]+[a-zA-Z0-9_]*), so conditions cannot use it`, item.valueLoc('macro'), 'name');
    const mode = this.mode(item, 'macro', name, ['condition'], new Set(['condition']), new Set(['condition']));
    if (mode === undefined) return;
    const cond = item.text('condition') ?? plainText(String(item.data['condition'] ?? ''), item.valueLoc('condition'));
    const prev = this.macros.get(name);
    if (mode === 'define') {
      if (!('condition' in item.data)) return this.err(item, 'macro', name, "Item has no mandatory key 'condition'", item.loc, 'required');
      const idx = this.counter++;
      this.macros.set(name, { name, condition: cond, loc: item.loc, index: prev?.index ?? idx, visibility: idx });
      return;
    }
    if (prev === undefined) return this.err(item, 'macro', name, `Macro has '${mode === 'legacy-append' ? 'append' : 'override'}' key but no macro by that name already exists`, item.loc, 'append');
    const m = mode === 'legacy-append' ? 'append' : mode.get('condition');
    if (m === 'append') prev.condition = concatTexts([prev.condition, ' ', cond], prev.loc);
    else if (m === 'replace') prev.condition = cond;
    prev.visibility = this.counter++;
  }

  // ------------------------------------------------------------------ rules

  private rule(item: RawItem, name: string): void {
    const d = item.data;
    const overridable = [...RULE_REPLACEABLE];
    const keys = item.keys.filter((k) => k !== 'rule');
    const prev = this.rules.get(name);
    // `- rule: X / enabled: false`: toggle an earlier rule (deprecated form of override: enabled)
    if (keys.length === 1 && keys[0] === 'enabled') {
      if (prev === undefined) return this.err(item, 'rule', name, `Rule has 'enabled' key but no rule by that name already exists`, item.loc, 'append');
      prev.enabled = d['enabled'] === true;
      return;
    }
    const mode = this.mode(item, 'rule', name, overridable, RULE_APPENDABLE, RULE_REPLACEABLE);
    if (mode === undefined) return;
    if (mode === 'define') return this.defineRule(item, name, prev);
    if (prev === undefined) {
      return this.err(item, 'rule', name, `Rule has '${mode === 'legacy-append' ? 'append' : 'override'}' key but no rule by that name already exists`, item.loc, 'append');
    }
    const modes = mode === 'legacy-append' ? legacyModes(item) : mode;
    if (modes === undefined) return this.err(item, 'rule', name, "Appended rules may only have 'condition', 'exceptions' and 'enabled' keys besides 'rule' and 'append'", item.loc, 'append');
    for (const [k, m] of modes) this.applyRuleKey(item, prev, k, m);
  }

  private applyRuleKey(item: RawItem, r: RuleDefn, key: string, m: 'append' | 'replace'): void {
    const d = item.data;
    const text = (k: string): SourcedText => item.text(k) ?? plainText(String(d[k] ?? ''), item.valueLoc(k));
    switch (key) {
      case 'condition':
        r.condition = m === 'append' ? concatTexts([r.condition, ' ', text('condition')], r.loc) : text('condition');
        return;
      case 'output':
        r.output = m === 'append' ? concatTexts([r.output, ' ', text('output')], r.loc) : text('output');
        return;
      case 'desc':
        r.desc = m === 'append' ? `${r.desc} ${String(d['desc'])}` : String(d['desc']);
        return;
      case 'tags': {
        const tags = (d['tags'] as string[] | undefined) ?? [];
        r.tags = m === 'append' ? [...new Set([...r.tags, ...tags])] : [...tags];
        return;
      }
      case 'exceptions':
        if (m === 'replace') r.exceptions = this.exceptions(item, r.name);
        else this.appendExceptions(item, r);
        return;
      case 'priority': {
        const p = this.priority(item, r.name);
        if (p !== undefined) r.priority = p;
        return;
      }
      case 'enabled':
        r.enabled = d['enabled'] === true;
        return;
      case 'warn_evttypes':
        r.warnEvttypes = d['warn_evttypes'] === true;
        return;
      case 'skip-if-unknown-filter':
        r.skipIfUnknownFilter = d['skip-if-unknown-filter'] === true;
        return;
      case 'capture':
        r.capture = d['capture'] === true;
        return;
      case 'capture_duration':
        r.captureDuration = Number(d['capture_duration'] ?? 0);
        return;
    }
  }

  private priority(item: RawItem, name: string): Priority | undefined {
    const raw = String(item.data['priority']);
    const p = parsePriority(raw);
    if (p === undefined) {
      this.err(item, 'rule', name, `Invalid priority level '${raw}' (emergency, alert, critical, error, warning, notice, informational, debug)`, item.valueLoc('priority'), 'priority');
    }
    return p;
  }

  private defineRule(item: RawItem, name: string, prev: RuleDefn | undefined): void {
    const d = item.data;
    const missing = ['condition', 'output', 'desc', 'priority'].filter((k) => !(k in d));
    if (missing.length > 0) {
      return this.err(item, 'rule', name, `Item has no mandatory key '${missing[0] as string}'${prev === undefined ? '' : " (to change an existing rule, use 'override:')"}`, item.loc, 'required');
    }
    const priority = this.priority(item, name);
    if (priority === undefined) return;
    const text = (k: string): SourcedText => item.text(k) ?? plainText(String(d[k] ?? ''), item.valueLoc(k));
    const rule: RuleDefn = {
      name,
      desc: String(d['desc']),
      condition: text('condition'),
      output: text('output'),
      priority,
      source: typeof d['source'] === 'string' ? d['source'] : 'syscall',
      enabled: d['enabled'] !== false,
      tags: [...new Set((d['tags'] as string[] | undefined) ?? [])],
      exceptions: this.exceptions(item, name),
      warnEvttypes: d['warn_evttypes'] !== false,
      skipIfUnknownFilter: d['skip-if-unknown-filter'] === true,
      capture: d['capture'] === true,
      captureDuration: Number(d['capture_duration'] ?? 0),
      loc: item.loc,
      index: prev?.index ?? this.counter++,
    };
    this.rules.set(name, rule);
  }

  private exceptions(item: RawItem, ruleName: string): ExceptionDefn[] {
    const raw = (item.data['exceptions'] as Record<string, unknown>[] | undefined) ?? [];
    const out: ExceptionDefn[] = [];
    raw.forEach((e, i) => {
      const name = String(e['name']);
      if (out.some((x) => x.name === name)) {
        this.warn(item, 'rule', ruleName, `Multiple definitions of exception '${name}' in the same rule`, item.valueLoc('exceptions', i), 'exception');
      }
      out.push({
        name,
        fields: e['fields'] as string | string[] | undefined,
        comps: e['comps'] as string | string[] | undefined,
        values: (e['values'] as unknown[] | undefined) ?? [],
        loc: item.valueLoc('exceptions', i),
      });
    });
    return out;
  }

  private appendExceptions(item: RawItem, r: RuleDefn): void {
    for (const ex of this.exceptions(item, r.name)) {
      const prev = r.exceptions.find((x) => x.name === ex.name);
      if (prev === undefined) {
        if (ex.fields === undefined) {
          this.err(item, 'rule', r.name, `Rule exception new item ${ex.name}: must have fields property with a list of values`, ex.loc, 'exception');
          continue;
        }
        r.exceptions.push(ex);
        continue;
      }
      if (ex.fields !== undefined || ex.comps !== undefined) {
        this.err(item, 'rule', r.name, `Can not append exception fields or comps to existing exception '${ex.name}', only values`, ex.loc, 'exception');
        continue;
      }
      prev.values = [...prev.values, ...ex.values];
    }
  }
}

function legacyModes(item: RawItem): Map<string, 'append' | 'replace'> | undefined {
  const modes = new Map<string, 'append' | 'replace'>();
  for (const k of item.keys) {
    if (k === 'rule' || k === 'append') continue;
    if (k === 'condition' || k === 'exceptions') modes.set(k, 'append');
    else if (k === 'enabled') modes.set(k, 'replace');
    else return undefined;
  }
  return modes;
}

export function compareSemver(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

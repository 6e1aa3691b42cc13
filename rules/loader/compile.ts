// From collected definitions to a checked rule set (falco rule_loader_compiler.cpp): lists are
// flattened, macros parsed and typed in definition order (each sees only earlier macros),
// exceptions appended to rule conditions, list names substituted textually, rule conditions
// parsed and typed with every macro visible, outputs checked, event types derived and mapped to
// Kestrel hooks.

import type { Origin, SourceLoc, TExpr, TFieldExpr } from '../condition/ast.js';
import { parseCondition, ConditionSyntaxError } from '../condition/parser.js';
import { substituteLists, quoteItem, type ListDef } from '../condition/lists.js';
import { typeCondition, type MacroRef } from '../condition/typecheck.js';
import { eventTypesOf, planHooks, type EvtSet, type HookPlan } from '../fields/evttypes.js';
import type { FieldDef, Hook } from '../fields/types.js';
import { EVENT_ARGS } from '../fields/catalog.js';
import { parseOutput } from '../output.js';
import { hasExtractor } from '../eval/extract.js';
import { concatTexts, plainText, type SourcedText } from './read.js';
import type { Collector, ExceptionDefn, RuleDefn } from './collect.js';
import { TypingError, type Diagnostic, type DiagCode } from './diag.js';
import type { Priority } from '../priority.js';
import { LIST_OPS, MODIFIERS, NUM_OPS, STR_OPS, UNARY_OPS, forEachCheck } from '../condition/ast.js';

export interface UnavailableField {
  field: string;
  /** why it has no value on the rule's hooks */
  reason: string;
}

export interface LoadedRule {
  /** position in the rule set (definition order) */
  id: number;
  name: string;
  desc: string;
  /** the condition text as compiled (exceptions appended, lists substituted) */
  condition: string;
  output: string;
  priority: Priority;
  source: string;
  enabled: boolean;
  tags: string[];
  warnEvttypes: boolean;
  skipIfUnknownFilter: boolean;
  capture: boolean;
  captureDuration: number;
  loc: SourceLoc;
  /** typed condition; undefined when the rule failed or was skipped */
  expr: TExpr | undefined;
  /** output fields (%field) as written */
  outputFields: string[];
  evtTypes: EvtSet;
  plan: HookPlan;
  /** fields the condition reads that have no value on the rule's hooks */
  unavailable: UnavailableField[];
  /** set when the rule was skipped (skip-if-unknown-filter, unknown source) */
  skipped?: string;
  /** set when the rule has errors */
  failed?: boolean;
}

export interface LoadedMacro {
  name: string;
  loc: SourceLoc;
  expr: TExpr | undefined;
  used: boolean;
}

export interface LoadedList {
  name: string;
  items: string[];
  loc: SourceLoc;
  used: boolean;
}

const SKIPPABLE: ReadonlySet<DiagCode> = new Set(['unknown-field', 'unknown-evttype']);

export function compileCollected(c: Collector): { rules: LoadedRule[]; macros: LoadedMacro[]; lists: LoadedList[]; diags: Diagnostic[] } {
  const diags: Diagnostic[] = [];
  const listUsed = new Set<string>();

  // 1. lists, in definition order; an item naming an earlier list is replaced by its items
  const listDefs = [...c.lists.values()].sort((a, b) => a.index - b.index);
  const flat = new Map<string, string[]>();
  for (const l of listDefs) {
    const items: string[] = [];
    for (const it of l.items) {
      const earlier = flat.get(it);
      if (earlier !== undefined && it !== l.name) {
        items.push(...earlier);
        listUsed.add(it);
      } else items.push(it);
    }
    flat.set(l.name, items);
  }
  const listsForSubst: ListDef[] = listDefs.map((l) => ({ name: l.name, items: flat.get(l.name) ?? [] }));
  const listNames = new Set(flat.keys());

  // 2. macros, in visibility order
  const macroDefs = [...c.macros.values()].sort((a, b) => a.visibility - b.visibility);
  const macroVis = new Map(macroDefs.map((m) => [m.name, m.visibility]));
  const typed = new Map<string, { ref: MacroRef; errors: TypingError[]; uses: Set<string> }>();
  const macroWarnings: Diagnostic[] = [];

  const compileText = (text: SourcedText, origin: Omit<Origin, 'loc'>, visible: (name: string) => boolean, warnings: Diagnostic[]) => {
    const sub = substituteLists(text.text, listsForSubst);
    for (const u of sub.used) listUsed.add(u);
    const locAt = (offset: number): SourceLoc => text.locAt(sub.map[Math.max(0, Math.min(offset, sub.map.length - 1))] ?? 0);
    let parsed;
    try {
      parsed = parseCondition(sub.text);
    } catch (e) {
      if (!(e instanceof ConditionSyntaxError)) throw e;
      const misuse = listMisuse(text.text, listNames);
      if (misuse !== undefined) return { expr: undefined, errors: [new TypingError('list-as-value', misuse.message, text.locAt(misuse.offset))], uses: new Set<string>(), text: sub.text };
      return { expr: undefined, errors: [new TypingError('syntax', e.message, locAt(e.offset))], uses: new Set<string>(), text: sub.text };
    }
    const item = { kind: origin.kind === 'macro' ? ('macro' as const) : ('rule' as const), name: origin.name };
    const r = typeCondition(parsed, {
      locAt,
      origin,
      macro: (n) => (visible(n) ? typed.get(n)?.ref : undefined),
      allMacros: () => macroVis.keys(),
      isLaterMacro: (n) => macroVis.has(n) && !visible(n),
      isList: (n) => listNames.has(n),
      warn: (code, message, loc) => warnings.push({ severity: 'warning', code, loc, item, message }),
    });
    return { expr: r.expr, errors: r.errors, uses: r.macros, text: sub.text };
  };

  // Visibility: macro M is visible to macro N when M was first defined before N's (latest)
  // definition. A redefinition keeps its place, so earlier macros still see it. Macros are typed
  // on demand (memoised) since a redefined macro may use macros defined after its first place.
  const macroIndex = new Map(macroDefs.map((m) => [m.name, m.index]));
  const inProgress = new Set<string>();
  const typeMacro = (name: string): void => {
    if (typed.has(name) || inProgress.has(name)) return;
    const m = c.macros.get(name);
    if (m === undefined) return;
    inProgress.add(name);
    const visible = (n: string): boolean => {
      const idx = macroIndex.get(n);
      if (idx === undefined || !(idx < m.visibility) || n === name || inProgress.has(n)) return false;
      typeMacro(n);
      return typed.has(n);
    };
    const r = compileText(m.condition, { kind: 'macro', name: m.name }, visible, macroWarnings);
    inProgress.delete(name);
    // a macro using a broken macro is broken too (its own errors are reported at that macro)
    const inherited = [...r.uses].some((u) => typed.get(u)?.ref.expr === undefined);
    typed.set(m.name, { ref: { expr: inherited ? undefined : r.expr }, errors: r.errors, uses: r.uses });
  };
  for (const m of macroDefs) typeMacro(m.name);

  // 3. rules
  const ruleDefs = [...c.rules.values()].sort((a, b) => a.index - b.index);
  const rules: LoadedRule[] = [];
  const macroUsed = new Set<string>();
  const markUsed = (name: string): void => {
    if (macroUsed.has(name)) return;
    macroUsed.add(name);
    for (const u of typed.get(name)?.uses ?? []) markUsed(u);
  };
  const reportedMacroErrors = new Set<string>();
  /** errors of a macro and of the macros it uses, transitively */
  const macroErrors = (name: string, seen = new Set<string>()): { macro: string; error: TypingError }[] => {
    if (seen.has(name)) return [];
    seen.add(name);
    const t = typed.get(name);
    if (t === undefined) return [];
    return [...t.errors.map((error) => ({ macro: name, error })), ...[...t.uses].flatMap((u) => macroErrors(u, seen))];
  };

  for (const def of ruleDefs) {
    const item = { kind: 'rule' as const, name: def.name };
    const warnings: Diagnostic[] = [];
    const condText = withExceptions(def);
    const base: LoadedRule = {
      id: rules.length, name: def.name, desc: def.desc, condition: condText.text, output: def.output.text.trim(),
      priority: def.priority, source: def.source, enabled: def.enabled, tags: def.tags, warnEvttypes: def.warnEvttypes,
      skipIfUnknownFilter: def.skipIfUnknownFilter, capture: def.capture, captureDuration: def.captureDuration, loc: def.loc,
      expr: undefined, outputFields: [], evtTypes: { all: false, names: new Set() },
      plan: { hooks: [], missing: [], unrestricted: false, empty: true }, unavailable: [],
    };
    if (def.source !== 'syscall') {
      diags.push({ severity: 'warning', code: 'source', loc: def.loc, item, message: `Unknown source '${def.source}', skipping (Kestrel has the syscall source only)` });
      rules.push({ ...base, skipped: `unknown source '${def.source}'` });
      continue;
    }
    const exErr = exceptionErrors(def);
    const r = exErr.length > 0 ? { expr: undefined, errors: exErr, uses: new Set<string>(), text: condText.text } : compileText(condText, { kind: 'rule', name: def.name }, (n) => typed.has(n), warnings);
    for (const u of r.uses) markUsed(u);
    base.condition = r.text;
    const errors: { error: TypingError; macro?: string }[] = r.errors.map((error) => ({ error }));
    for (const u of r.uses) for (const me of macroErrors(u)) errors.push({ error: me.error, macro: me.macro });

    // output fields
    const out = parseOutput(base.output);
    base.outputFields = out.tokens.flatMap((t) => (t.kind === 'field' ? [t.key] : []));
    for (const u of out.unknown) {
      const loc = def.output.locAt(u.offset);
      if (u.name === 'container.info') {
        warnings.push({ severity: 'warning', code: 'deprecated', loc, item, message: "'%container.info' is deprecated and prints nothing" });
        continue;
      }
      errors.push({ error: new TypingError('unknown-field', `output uses unknown field '%${u.name}'`, loc) });
    }

    if (errors.length > 0) {
      if (def.skipIfUnknownFilter && errors.every((e) => SKIPPABLE.has(e.error.code))) {
        const first = errors[0]?.error;
        diags.push({ severity: 'warning', code: 'skipped', loc: first?.loc ?? def.loc, item, message: `skipped (skip-if-unknown-filter): ${first?.message ?? ''}` });
        rules.push({ ...base, skipped: first?.message ?? 'unknown filter' });
        continue;
      }
      for (const e of errors) {
        const key = `${e.macro ?? ''}|${e.error.loc.file}:${e.error.loc.line}:${e.error.loc.col}|${e.error.message}`;
        if (e.macro !== undefined) {
          if (reportedMacroErrors.has(key)) continue;
          reportedMacroErrors.add(key);
        }
        diags.push({ severity: 'error', code: e.error.code, loc: e.error.loc, item: e.macro !== undefined ? { kind: 'macro', name: e.macro } : item, message: e.error.message });
      }
      diags.push(...warnings);
      rules.push({ ...base, failed: true });
      continue;
    }
    diags.push(...warnings);
    const expr = r.expr as TExpr;
    base.expr = expr;
    base.evtTypes = eventTypesOf(expr);
    base.plan = planHooks(base.evtTypes);
    base.unavailable = unavailableFields(expr, base.plan.hooks);
    if (base.plan.unrestricted && def.warnEvttypes) {
      diags.push({ severity: 'warning', code: 'evttypes', loc: def.loc, item, message: 'Rule matches too many evt.type values. This has a significant performance penalty.' });
    }
    rules.push(base);
  }

  // macro errors not reported through a rule (unused macros) are still errors
  for (const m of macroDefs) {
    const t = typed.get(m.name);
    if (t === undefined) continue;
    for (const error of t.errors) {
      const key = `${m.name}|${error.loc.file}:${error.loc.line}:${error.loc.col}|${error.message}`;
      if (reportedMacroErrors.has(key)) continue;
      // only used by skipped rules: not an error of the rule set
      if (macroUsed.has(m.name)) continue;
      diags.push({ severity: 'error', code: error.code, loc: error.loc, item: { kind: 'macro', name: m.name }, message: error.message });
    }
  }
  for (const w of macroWarnings) if (w.item !== undefined && macroUsed.has(w.item.name)) diags.push(w);

  const macros: LoadedMacro[] = macroDefs.map((m) => ({ name: m.name, loc: m.loc, expr: typed.get(m.name)?.ref.expr, used: macroUsed.has(m.name) }));
  const lists: LoadedList[] = listDefs.map((l) => ({ name: l.name, items: flat.get(l.name) ?? [], loc: l.loc, used: listUsed.has(l.name) }));
  for (const m of macros) if (!m.used) diags.push({ severity: 'warning', code: 'unused-macro', loc: m.loc, item: { kind: 'macro', name: m.name }, message: 'macro not referred to by any rule/macro' });
  for (const l of lists) if (!l.used) diags.push({ severity: 'warning', code: 'unused-list', loc: l.loc, item: { kind: 'list', name: l.name }, message: 'list not referred to by any rule/macro/list' });
  return { rules, macros, lists, diags };
}

/** Falco's build_rule_exception_infos: `(COND) and not (...)` per exception with values. */
function withExceptions(def: RuleDefn): SourcedText {
  const withValues = def.exceptions.filter((e) => e.values.length > 0);
  if (withValues.length === 0) return def.condition;
  const parts: (SourcedText | string)[] = ['(', def.condition, ')'];
  for (const ex of withValues) {
    const text = exceptionText(ex);
    // generated text: errors inside it point at the exception item
    if (text !== '') parts.push(' and not ', plainText(text, ex.loc));
  }
  return concatTexts(parts, def.loc);
}

function exceptionText(ex: ExceptionDefn): string {
  if (typeof ex.fields === 'string') {
    const comp = typeof ex.comps === 'string' ? ex.comps : 'in';
    const vals = ex.values.map((v) => quoteItem(String(v)));
    return `(${ex.fields} ${comp} (${vals.join(', ')}))`;
  }
  const fields = ex.fields ?? [];
  const comps = Array.isArray(ex.comps) ? ex.comps : fields.map(() => '=');
  const tuples = ex.values.map((tuple) => {
    const vals = Array.isArray(tuple) ? tuple : [tuple];
    return '(' + fields.map((f, k) => {
      const v = vals[k];
      const rhs = Array.isArray(v) ? `(${v.map((x) => quoteItem(String(x))).join(', ')})` : quoteItem(String(v));
      return `${f} ${comps[k] ?? '='} ${rhs}`;
    }).join(' and ') + ')';
  });
  return `(${tuples.join(' or ')})`;
}

const SCALAR_EXCEPTION_OPS = new Set(['in', 'pmatch', 'intersects']);

const OPERATORS: ReadonlySet<string> = new Set([...UNARY_OPS, ...NUM_OPS, ...STR_OPS, ...LIST_OPS]);

function validComp(comp: string): boolean {
  const [op, mod, ...rest] = comp.trim().split(/\s+/);
  if (op === undefined || !OPERATORS.has(op) || rest.length > 0) return false;
  return mod === undefined || (MODIFIERS as readonly string[]).includes(mod);
}

function exceptionErrors(def: RuleDefn): TypingError[] {
  const errs: TypingError[] = [];
  for (const ex of def.exceptions) {
    const comps = ex.comps === undefined ? [] : Array.isArray(ex.comps) ? ex.comps : [ex.comps];
    const bad = comps.find((c) => !validComp(c));
    if (bad !== undefined) {
      errs.push(new TypingError('exception', `exception '${ex.name}': '${bad}' is not an operator`, ex.loc));
      continue;
    }
    if (ex.fields === undefined) {
      if (ex.values.length > 0) errs.push(new TypingError('exception', `exception '${ex.name}' has values but no fields`, ex.loc));
      continue;
    }
    if (typeof ex.fields === 'string') {
      if (ex.comps !== undefined && typeof ex.comps !== 'string') errs.push(new TypingError('exception', `exception '${ex.name}': fields is a single field, so comps must be a single operator`, ex.loc));
      const comp = typeof ex.comps === 'string' ? ex.comps : 'in';
      const isMod = MODIFIERS.some((m) => comp.endsWith(' ' + m));
      if (!SCALAR_EXCEPTION_OPS.has(comp) && !isMod) errs.push(new TypingError('exception', `exception '${ex.name}': the single-field form only allows comps in, pmatch, intersects or an operator with oneof/anyof/allof, not '${comp}'`, ex.loc));
      for (const v of ex.values) if (Array.isArray(v)) errs.push(new TypingError('exception', `exception '${ex.name}': Expected values array to contain a list of strings`, ex.loc));
      continue;
    }
    if (Array.isArray(ex.comps) && ex.comps.length !== ex.fields.length) {
      errs.push(new TypingError('exception', `exception '${ex.name}': fields and comps lists must have equal length`, ex.loc));
    }
    for (const tuple of ex.values) {
      if (!Array.isArray(tuple) || tuple.length !== ex.fields.length) {
        errs.push(new TypingError('exception', `exception '${ex.name}': Fields and values lists must have equal length`, ex.loc));
        break;
      }
      tuple.forEach((v, k) => {
        const comp = Array.isArray(ex.comps) ? ex.comps[k] ?? '=' : '=';
        const isList = (LIST_OPS as readonly string[]).includes(comp) || MODIFIERS.some((m) => comp.endsWith(' ' + m));
        if (Array.isArray(v) && !isList) errs.push(new TypingError('exception', `exception '${ex.name}': a list value needs a list operator (in, pmatch, intersects), not '${comp}'`, ex.loc));
      });
    }
  }
  return errs;
}

/** `proc.name = shell_binaries`: a list name where one value is expected. */
function listMisuse(text: string, lists: ReadonlySet<string>): { offset: number; message: string } | undefined {
  const re = /(?:[=<>]|\b(?:contains|icontains|startswith|endswith|glob|iglob|regex|bcontains|bstartswith|in|intersects|pmatch))\s*([^\s()"',=]+)/g;
  for (const m of text.matchAll(re)) {
    const name = m[1] as string;
    if (!lists.has(name)) continue;
    const offset = (m.index ?? 0) + m[0].length - name.length;
    const op = m[0].slice(0, m[0].length - name.length).trim();
    if (op === 'in' || op === 'intersects' || op === 'pmatch') return { offset, message: `list '${name}' must be written in parentheses: ${op} (${name})` };
    return { offset, message: `list '${name}' used where a value is needed (use 'in (${name})')` };
  }
  return undefined;
}

/** Fields in the condition that have no value on the hooks the rule attaches to. */
function unavailableFields(e: TExpr, hooks: Hook[]): UnavailableField[] {
  const seen = new Map<string, UnavailableField>();
  const visitField = (f: TFieldExpr): void => {
    if (f.kind === 'transform') return visitField(f.arg);
    const d: FieldDef = f.def;
    const name = f.name;
    if (seen.has(name)) return;
    if (d.applies === 'none' || !hasExtractor(d.name)) {
      seen.set(name, { field: name, reason: d.missingReason ?? 'Kestrel cannot provide it yet' });
      return;
    }
    if ((d.name === 'evt.arg' || d.name === 'evt.rawarg') && f.arg?.kind === 'key') {
      const key = f.arg.key;
      const lackingArg = hooks.filter((h) => !/^\d+$/.test(key) && !EVENT_ARGS[h].includes(key));
      if (lackingArg.length > 0 || hooks.length === 0) seen.set(name, { field: name, reason: `no '${key}' argument on ${lackingArg.join('/') || 'execve or connect'} events` });
      return;
    }
    const lacking = hooks.filter((h) => d.applies !== 'both' && d.applies !== h);
    if (lacking.length > 0) seen.set(name, { field: name, reason: `no value on ${lacking.join('/')} events` });
  };
  forEachCheck(e, (c) => {
    visitField(c.lhs);
    if (c.rhs.kind === 'field') visitField(c.rhs.field);
  });
  return [...seen.values()];
}

// Falco-style output rendering: `%field`, `%field[arg]`, `%transformer(field)` references in a
// rule's output, replaced by the field's value; a missing value prints `<NA>` (libsinsp
// eventformatter). Behind an interface so the rules engineer's rules/output.ts can replace it.

import type { FieldValue } from './record-format.js';

export interface CompiledOutput {
  /** The field references in order of first appearance, as written (`proc.aname[2]`, `tolower(proc.name)`). */
  readonly fields: readonly string[];
  /** Render with values looked up by reference text; undefined/null print `<NA>`. */
  render(get: (ref: string) => FieldValue | undefined): string;
}

export interface OutputRenderer {
  compile(format: string): CompiledOutput;
}

type Part = string | { ref: string };

const NAME = /[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)+/y;

/** Text of a value the way Falco prints it. */
export function formatValue(v: FieldValue | undefined): string {
  if (v === undefined || v === null) return '<NA>';
  return typeof v === 'string' ? v : String(v);
}

function parse(format: string): Part[] {
  const parts: Part[] = [];
  let lit = '';
  let i = 0;
  while (i < format.length) {
    const c = format[i];
    if (c !== '%') {
      lit += c;
      i++;
      continue;
    }
    // `%%` is a literal percent sign.
    if (format[i + 1] === '%') {
      lit += '%';
      i += 2;
      continue;
    }
    let j = i + 1;
    // Optional padding width (`%20proc.name`) is accepted and ignored for the text.
    while (j < format.length && format[j] >= '0' && format[j] <= '9') j++;
    let ref: string | undefined;
    const tr = /^([a-z]+)\(/.exec(format.slice(j));
    if (tr !== null) {
      const close = format.indexOf(')', j);
      if (close > 0) {
        ref = format.slice(j, close + 1).replace(/\s+/g, '');
        j = close + 1;
      }
    } else {
      NAME.lastIndex = j;
      const m = NAME.exec(format);
      if (m !== null) {
        ref = m[0];
        j += m[0].length;
        if (format[j] === '[') {
          const close = format.indexOf(']', j);
          if (close > 0) {
            ref += format.slice(j, close + 1);
            j = close + 1;
          }
        }
      }
    }
    if (ref === undefined) {
      lit += c;
      i++;
      continue;
    }
    if (lit !== '') parts.push(lit);
    lit = '';
    parts.push({ ref });
    i = j;
  }
  if (lit !== '') parts.push(lit);
  return parts;
}

export const defaultRenderer: OutputRenderer = {
  compile(format: string): CompiledOutput {
    const parts = parse(format.trim());
    const fields = [...new Set(parts.filter((p): p is { ref: string } => typeof p !== 'string').map((p) => p.ref))];
    return {
      fields,
      render(get) {
        let s = '';
        for (const p of parts) s += typeof p === 'string' ? p : formatValue(get(p.ref));
        return s;
      },
    };
  },
};

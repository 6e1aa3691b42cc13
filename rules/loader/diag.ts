// Load diagnostics: one line a person can act on, `file:line:column: rule NAME: message`.

import type { SourceLoc } from '../condition/ast.js';

export type ItemKind = 'rule' | 'macro' | 'list' | 'item';

export type DiagCode =
  | 'yaml' | 'schema' | 'syntax' | 'unknown-field' | 'unknown-evttype' | 'undefined-macro' | 'undefined-list'
  | 'list-as-value' | 'type' | 'field-arg' | 'override' | 'append' | 'required' | 'engine-version'
  | 'unknown-key' | 'unknown-item' | 'unused-list' | 'unused-macro' | 'deprecated' | 'skipped'
  | 'source' | 'exception' | 'output' | 'priority' | 'evttypes' | 'io' | 'na-check' | 'name';

export interface Diagnostic {
  severity: 'error' | 'warning';
  code: DiagCode;
  loc: SourceLoc;
  item?: { kind: ItemKind; name: string };
  message: string;
}

export function formatDiag(d: Diagnostic): string {
  const where = `${d.loc.file}:${d.loc.line}:${d.loc.col}`;
  const what = d.item !== undefined && d.item.name !== '' ? ` ${d.item.kind} ${d.item.name}:` : '';
  const sev = d.severity === 'warning' ? ' warning:' : '';
  return `${where}:${sev}${what} ${d.message}`;
}

/** An error carrying a position in the condition text, raised while typing. */
export class TypingError extends Error {
  constructor(
    readonly code: DiagCode,
    message: string,
    readonly loc: SourceLoc,
  ) {
    super(message);
  }
}

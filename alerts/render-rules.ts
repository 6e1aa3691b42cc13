// The output renderer backed by the rule language's own parser (rules/output.ts), so field
// boundaries follow the field catalog exactly as the rule loader sees them (`%proc.name.` is
// proc.name followed by a full stop). Values come from the match record, keyed as written.

import { parseOutput } from '../rules/output.js';
import { defaultRenderer, formatValue, type CompiledOutput, type OutputRenderer } from './render.js';

export const rulesRenderer: OutputRenderer = {
  compile(format: string): CompiledOutput {
    let tokens;
    try {
      tokens = parseOutput(format.trim()).tokens;
    } catch {
      return defaultRenderer.compile(format);
    }
    const parts = tokens.map((t) => (t.kind === 'text' ? t.text : { ref: t.key }));
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

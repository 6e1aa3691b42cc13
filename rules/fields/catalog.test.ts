import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIELDS, lookupField } from './catalog.js';
import { hasExtractor } from '../eval/extract.js';
import { ALL, NONE, complement, eventTypesOf, has, intersect, planHooks, union } from './evttypes.js';
import { loadRuleTexts } from '../loader/index.js';
import { packageRoot } from '../../config/paths.js';

describe('field catalog', () => {
  it('every field Kestrel claims to provide has an extractor, and only those', () => {
    for (const f of FIELDS.values()) {
      expect(hasExtractor(f.name), f.name).toBe(f.applies !== 'none');
      if (f.applies === 'none') expect(f.missingReason, f.name).toBeTruthy();
    }
  });

  it('resolves evt.arg.NAME families', () => {
    expect(lookupField('evt.arg.flags')).toMatchObject({ def: { name: 'evt.arg' }, impliedArg: 'flags' });
    expect(lookupField('evt.rawarg.res')).toMatchObject({ def: { name: 'evt.rawarg' }, impliedArg: 'res' });
    expect(lookupField('proc.nope')).toBeUndefined();
  });

  it('docs/rules.md documents every field', () => {
    const doc = readFileSync(join(packageRoot(), 'docs', 'rules.md'), 'utf8');
    for (const name of FIELDS.keys()) expect(doc.includes(`| \`${name}\` |`), name).toBe(true);
  });
});

describe('event-type set algebra', () => {
  const s = (...n: string[]) => ({ all: false, names: new Set(n) });
  it('union, intersection, complement with "all but" sets', () => {
    expect(has(union(s('a'), s('b')), 'b')).toBe(true);
    expect(intersect(s('a', 'b'), s('b', 'c'))).toEqual(s('b'));
    expect(has(complement(s('a')), 'a')).toBe(false);
    expect(has(complement(s('a')), 'z')).toBe(true);
    expect(intersect(complement(s('a')), s('a', 'b'))).toEqual(s('b'));
    expect(union(complement(s('a', 'b')), s('a'))).toEqual({ all: true, names: new Set(['b']) });
    expect(intersect(ALL, NONE)).toEqual(NONE);
  });

  it('derives sets from typed conditions with De Morgan', () => {
    const typed = (c: string) => {
      const r = loadRuleTexts([{ name: 't', text: `- rule: R\n  desc: d\n  condition: ${JSON.stringify(c)}\n  output: o\n  priority: INFO\n` }]).rules[0];
      if (r?.expr === undefined) throw new Error('no expr');
      return eventTypesOf(r.expr);
    };
    expect(typed('evt.type in (execve, open) and proc.name = x')).toEqual(s('execve', 'open'));
    expect(typed('(evt.type = execve or evt.type = connect) and not evt.type = connect')).toEqual(s('execve'));
    expect(typed('not (evt.type != execve)')).toEqual(s('execve'));
    expect(typed('not (evt.type = execve and proc.name = x)').all).toBe(true);
    expect(typed('proc.name = x or evt.num = 0').all).toBe(true);
    expect(typed('evt.type = execve and evt.num = 0')).toEqual(s());
    expect(planHooks(typed('evt.type in (execve, execveat, connect, open)'))).toEqual({ hooks: ['exec', 'connect'], missing: ['open'], unrestricted: false, empty: false });
  });
});

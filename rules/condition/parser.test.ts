import { describe, expect, it } from 'vitest';
import { parseCondition, ConditionSyntaxError } from './parser.js';
import { printCondition } from './printer.js';
import type { Expr } from './ast.js';
import { strip } from './strip.js';

const p = (s: string): Expr => parseCondition(s);

function errorAt(s: string): { offset: number; message: string } {
  try {
    parseCondition(s);
  } catch (e) {
    if (e instanceof ConditionSyntaxError) return { offset: e.offset, message: e.message };
    throw e;
  }
  throw new Error(`expected a syntax error for: ${s}`);
}

describe('condition parser: precedence and structure', () => {
  it('not binds tighter than and, and tighter than or', () => {
    expect(printCondition(p('not a and b or c'))).toBe('(not a and b) or c');
    const e = p('not a and b or c');
    expect(e.kind).toBe('or');
    if (e.kind !== 'or') return;
    expect(e.children[0]?.kind).toBe('and');
    expect(e.children[1]).toMatchObject({ kind: 'macro', name: 'c' });
  });

  it('a or b and c groups the and', () => {
    expect(printCondition(p('a or b and c'))).toBe('a or (b and c)');
  });

  it('parentheses override precedence and not( needs no blank', () => {
    expect(printCondition(p('not(a or b) and c'))).toBe('not (a or b) and c');
    expect(printCondition(p('a and(b or c)'))).toBe('a and (b or c)');
    expect(printCondition(p('not not a'))).toBe('not not a');
  });

  it('n-ary and/or are flat', () => {
    const e = p('a and b and c');
    expect(e.kind === 'and' && e.children.length).toBe(3);
  });

  it('identifiers that start with a keyword are macros', () => {
    expect(strip(p('notebook and order_x'))).toEqual({ kind: 'and', children: [{ kind: 'macro', name: 'notebook' }, { kind: 'macro', name: 'order_x' }] });
  });

  it('keeps spans pointing into the text', () => {
    const text = 'spawned_process and proc.name = bash';
    const e = p(text);
    if (e.kind !== 'and') throw new Error('and expected');
    const chk = e.children[1];
    if (chk?.kind !== 'check') throw new Error('check expected');
    expect(text.slice(chk.span.start, chk.span.end)).toBe('proc.name = bash');
    expect(text.slice(chk.lhs.span.start, chk.lhs.span.end)).toBe('proc.name');
  });
});

describe('condition parser: operators', () => {
  const cases: [string, string][] = [
    ['proc.name exists', 'exists'],
    ['proc.name = bash', '='],
    ['proc.name == bash', '=='],
    ['proc.name != bash', '!='],
    ['proc.pid < 10', '<'],
    ['proc.pid <= 10', '<='],
    ['proc.pid > 10', '>'],
    ['proc.pid >= 10', '>='],
    ['proc.cmdline contains curl', 'contains'],
    ['proc.cmdline icontains CURL', 'icontains'],
    ['evt.buffer bcontains CAFEBABE', 'bcontains'],
    ['evt.buffer bstartswith 7F454C46', 'bstartswith'],
    ['proc.exepath startswith /tmp/', 'startswith'],
    ['proc.exepath endswith /ssh', 'endswith'],
    ["fd.name glob '/home/*/.ssh/*'", 'glob'],
    ['fd.name iglob /HOME/*', 'iglob'],
    ['proc.name regex "ba[sh]+"', 'regex'],
    ['proc.name in (bash, sh)', 'in'],
    ['proc.args intersects ("-V", "-l")', 'intersects'],
    ['fd.name pmatch (/etc, /usr/bin)', 'pmatch'],
  ];
  for (const [text, op] of cases) {
    it(`parses ${op}`, () => {
      const e = p(text);
      expect(e.kind).toBe('check');
      if (e.kind === 'check') expect(e.op).toBe(op);
      // and prints back to something that parses the same
      expect(strip(p(printCondition(e)))).toEqual(strip(e));
    });
  }

  it('symbol operators need no blanks', () => {
    expect(strip(p('fd.typechar=4'))).toEqual({ kind: 'check', lhs: { kind: 'field', name: 'fd.typechar' }, op: '=', rhs: { kind: 'value', value: '4', quoted: false } });
    expect(strip(p('evt.rawres>=0'))).toMatchObject({ op: '>=', rhs: { value: '0' } });
  });

  it('modifiers oneof/anyof/allof take a list', () => {
    for (const m of ['oneof', 'anyof', 'allof']) {
      expect(strip(p(`proc.args contains ${m} (a, "b c")`))).toEqual({
        kind: 'check', lhs: { kind: 'field', name: 'proc.args' }, op: 'contains', modifier: m,
        rhs: { kind: 'list', items: [{ kind: 'value', value: 'a', quoted: false }, { kind: 'value', value: 'b c', quoted: true }] },
      });
    }
  });

  it('empty list, bare values with brackets and colons', () => {
    expect(strip(p('proc.name in ()'))).toMatchObject({ rhs: { kind: 'list', items: [] } });
    expect(strip(p('proc.pname = runc:[0:PARENT]'))).toMatchObject({ rhs: { value: 'runc:[0:PARENT]' } });
  });

  it('field arguments: index, bare key, quoted key', () => {
    expect(strip(p('proc.aname[2] = bash'))).toMatchObject({ lhs: { kind: 'field', name: 'proc.aname', arg: '2' } });
    expect(strip(p('k8s.pod.label[app] = web'))).toMatchObject({ lhs: { name: 'k8s.pod.label', arg: 'app' } });
    expect(strip(p('container.mount.dest[/var/run/docker.sock] exists'))).toMatchObject({ lhs: { arg: '/var/run/docker.sock' } });
    expect(strip(p('k8s.pod.label["a b"] = x'))).toMatchObject({ lhs: { arg: 'a b' } });
  });

  it('transformers nest, on either side, and val(field)', () => {
    expect(strip(p('tolower(basename(proc.exepath)) = bash'))).toMatchObject({
      lhs: { kind: 'transform', fn: 'tolower', arg: { kind: 'transform', fn: 'basename', arg: { kind: 'field', name: 'proc.exepath' } } },
    });
    expect(strip(p('proc.name = val(proc.pname)'))).toMatchObject({ rhs: { kind: 'fieldval', val: true, field: { name: 'proc.pname' } } });
    expect(strip(p('tolower(proc.name) = toupper(proc.pname)'))).toMatchObject({ rhs: { kind: 'fieldval', val: false, field: { kind: 'transform', fn: 'toupper' } } });
    expect(strip(p('len(proc.args) > 100'))).toMatchObject({ lhs: { fn: 'len' }, op: '>' });
  });

  it('quoted strings with Falco escapes', () => {
    expect(strip(p('proc.cmdline = "a\\"b\\\\c\\n\\x41\\/"'))).toMatchObject({ rhs: { value: 'a"b\\c\nA/', quoted: true } });
    expect(strip(p("proc.cmdline = 'it\\'s'"))).toMatchObject({ rhs: { value: "it's" } });
    expect(strip(p("proc.cmdline = 'say \"hi\"'"))).toMatchObject({ rhs: { value: 'say "hi"' } });
  });

  it('numbers in hex and with sign for numeric operators', () => {
    expect(strip(p('proc.pid > 0x10'))).toMatchObject({ rhs: { value: '0x10' } });
    expect(strip(p('evt.rawres >= -1'))).toMatchObject({ rhs: { value: '-1' } });
  });
});

describe('condition parser: errors with positions', () => {
  it('reports the offset of an unknown operator', () => {
    const e = errorAt('proc.name foo bar');
    expect(e.offset).toBe(10);
    expect(e.message).toMatch(/expected a valid operator, found 'foo bar'/);
  });

  it('unbalanced parentheses', () => {
    expect(errorAt('(a and b').message).toMatch(/expected a '\)' token/);
    expect(errorAt('a and b)').offset).toBe(7);
  });

  it('missing operand after and', () => {
    const e = errorAt('a and ');
    expect(e.offset).toBe(6);
  });

  it('numeric operators need numbers', () => {
    const e = errorAt('proc.pid > abc');
    expect(e.offset).toBe(11);
    expect(e.message).toMatch(/expected a number/);
  });

  it('bad escapes point at the backslash', () => {
    const e = errorAt('proc.name = "a\\qb"');
    expect(e.offset).toBe(14);
    expect(e.message).toMatch(/invalid escape sequence '\\q'/);
    expect(errorAt('proc.name = "\\"').message).toMatch(/unterminated/);
  });

  it('word operators need a trailing blank', () => {
    expect(errorAt('proc.name contains').message).toMatch(/valid operator/);
  });

  it('a bare word where a list is required', () => {
    expect(errorAt('proc.name in shells').message).toMatch(/'shells' is not a defined list/);
  });

  it('keywords where a condition is expected', () => {
    expect(errorAt('a and not')).toEqual({ offset: 6, message: "expected a blank or '(' after 'not'" });
    expect(errorAt('and a').message).toMatch(/expected a condition before 'and'/);
    expect(errorAt('a and or b').offset).toBe(6);
  });

  it('garbage after a complete expression', () => {
    const e = errorAt('a b');
    expect(e.offset).toBe(2);
    expect(e.message).toMatch(/expected 'and', 'or' or the end/);
  });
});

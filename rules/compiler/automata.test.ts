import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compileDfa, compileMultiDfa, containsRe, endswithRe, equalsRe, globRe, pmatchRe, regexRe, runDfa, runMultiDfa, startswithRe, stickyForm, PatternError, acceptingSinks, DEAD, START, type Re } from './automata.js';

const enc = new TextEncoder();
const m = (re: ReturnType<typeof containsRe>, s: string): boolean => runDfa(compileDfa(re), enc.encode(s));

describe('automata', () => {
  it('contains / endswith / startswith / equals', () => {
    expect(m(containsRe('abc'), 'xxabcxx')).toBe(true);
    expect(m(containsRe('abc'), 'xxabxcx')).toBe(false);
    expect(m(containsRe('aab'), 'aaab')).toBe(true);
    expect(m(containsRe('ABC', true), 'xxaBcxx')).toBe(true);
    expect(m(endswithRe('ssh'), '/usr/bin/ssh')).toBe(true);
    expect(m(endswithRe('ssh'), '/usr/bin/sshd')).toBe(false);
    expect(m(startswithRe('/tmp/'), '/tmp/x')).toBe(true);
    expect(m(startswithRe('/tmp/'), '/tmpx')).toBe(false);
    expect(m(equalsRe('bash'), 'bash')).toBe(true);
    expect(m(equalsRe('bash'), 'bash2')).toBe(false);
    expect(m(containsRe(''), '')).toBe(true);
  });

  it('glob like fnmatch without FNM_PATHNAME', () => {
    expect(m(globRe('/home/*/.ssh/*'), '/home/bob/.ssh/id_rsa')).toBe(true);
    expect(m(globRe('/home/*/.ssh/*'), '/home/bob/x/.ssh/id_rsa')).toBe(true);
    expect(m(globRe('/home/*/.ssh/*'), '/root/.ssh/id_rsa')).toBe(false);
    expect(m(globRe('file?.[ch]'), 'file1.c')).toBe(true);
    expect(m(globRe('file?.[!ch]'), 'file1.c')).toBe(false);
    expect(m(globRe('[a-c]x', true), 'Bx')).toBe(true);
    expect(m(globRe('a\\*b'), 'a*b')).toBe(true);
    expect(m(globRe('a\\*b'), 'axb')).toBe(false);
  });

  it('regex is a full match with RE2 syntax', () => {
    expect(m(regexRe('[a-z]+[0-9]{2,3}'), 'abc12')).toBe(true);
    expect(m(regexRe('[a-z]+[0-9]{2,3}'), 'abc1234')).toBe(false);
    expect(m(regexRe('^(foo|bar)baz$'), 'barbaz')).toBe(true);
    expect(m(regexRe('a.c'), 'a\nc')).toBe(false);
    expect(m(regexRe('\\d+\\.\\d+'), '10.25')).toBe(true);
    expect(m(regexRe('(?:ab)*'), 'ababab')).toBe(true);
    expect(() => regexRe('(a)\\1')).toThrow(PatternError);
    expect(() => regexRe('a{1,999}')).toThrow(PatternError);
    expect(() => regexRe('(ab')).toThrow(PatternError);
    expect(() => regexRe('*a')).toThrow(PatternError);
  });

  it('pmatch matches the path and what lies below it', () => {
    const re = pmatchRe(['/tmp/hello', '/etc']);
    expect(m(re, '/tmp/hello')).toBe(true);
    expect(m(re, '/tmp/hello/x')).toBe(true);
    expect(m(re, '/tmp/hello_x')).toBe(false);
    expect(m(re, '/etc/passwd')).toBe(true);
    expect(m(re, '/etcx')).toBe(false);
  });

  it('minimises: contains of n bytes needs n+2 states (dead, start..accept)', () => {
    const d = compileDfa(containsRe('abcdef'));
    expect(d.states).toBe(8);
    const sinks = acceptingSinks(d);
    expect([...sinks].filter((x) => x === 1).length).toBe(1);
    expect(d.accept[DEAD]).toBe(0);
  });

  it('agrees with JavaScript RegExp on random inputs (property)', () => {
    const alphabet = fc.constantFrom('a', 'b', 'c', '.', '/');
    const word = fc.array(alphabet, { maxLength: 12 }).map((a) => a.join(''));
    fc.assert(
      fc.property(word, word, (needle, hay) => {
        const esc = needle.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
        expect(m(containsRe(needle), hay)).toBe(hay.includes(needle));
        expect(m(endswithRe(needle), hay)).toBe(hay.endsWith(needle));
        expect(m(startswithRe(needle), hay)).toBe(hay.startsWith(needle));
        expect(m(regexRe(`(${esc}|a+b)c*`), hay)).toBe(new RegExp(`^(?:${esc}|a+b)c*$`).test(hay));
      }),
      { numRuns: 300 },
    );
  });

  it('a shared walk decides every pattern as its own automaton would (property)', () => {
    // The walker's semantics (codegen sharedWalk): sticky patterns (R'·.*) accept if any state
    // passed through, including the start, has their bit; the others by the final state.
    const walk = (res: Re[], bytes: Uint8Array): bigint => {
      let sticky = 0n;
      const forms = res.map((r, k) => {
        const s = stickyForm(r);
        if (s === undefined) return r;
        sticky |= 1n << BigInt(k);
        return s;
      });
      const d = compileMultiDfa(forms);
      const mask = (st: number): bigint => BigInt(d.masks[2 * st]) | (BigInt(d.masks[2 * st + 1]) << 32n);
      let st = START;
      let seen = mask(st);
      for (let i = 0; i < bytes.length && st !== DEAD; i++) {
        st = d.next[st * d.classes + d.classOf[bytes[i]]];
        seen |= mask(st);
      }
      return (seen & sticky) | (mask(st) & ~sticky);
    };
    const alphabet = fc.constantFrom('a', 'b', 'c', '/', '-');
    const word = fc.array(alphabet, { maxLength: 8 }).map((a) => a.join(''));
    const pattern = fc.oneof(
      word.map((w) => containsRe(w)),
      word.map((w) => startswithRe(w)),
      word.map((w) => endswithRe(w)),
      word.map((w) => equalsRe(w)),
      word.map((w) => globRe(`*${w}*b`)),
      fc.constant(regexRe('(ab|c)+-?')),
      fc.constant(pmatchRe(['/a/b', '/c'])),
    );
    fc.assert(
      fc.property(fc.array(pattern, { minLength: 1, maxLength: 12 }), fc.array(word, { minLength: 1, maxLength: 6 }), (res, hays) => {
        for (const hay of hays) {
          const bytes = enc.encode(hay);
          const want = res.reduce((acc, r, k) => (runDfa(compileDfa(r), bytes) ? acc | (1n << BigInt(k)) : acc), 0n);
          expect(walk(res, bytes)).toBe(want);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('unions of contains patterns stay linear in their sticky form', () => {
    const needles = ['stratum+tcp', 'stratum2+tcp', 'stratum+ssl', 'stratum2+ssl', 'base64 -d', 'xmrig', '--donate-level', 'nc -e', '/dev/tcp/'];
    const forms = needles.map((n) => stickyForm(containsRe(n)) as Re);
    const shared = compileMultiDfa(forms);
    expect(shared.states).toBeLessThan(needles.reduce((a, n) => a + n.length, 0) + 2);
    // Without the sticky form the automaton must remember which patterns already matched.
    expect(compileMultiDfa(needles.slice(0, 6).map((n) => containsRe(n))).states).toBeGreaterThan(shared.states);
    expect(runMultiDfa(shared, enc.encode('xmrig'))).toBe(1n << 5n);
  });
});

// Falco's glob (libsinsp glob_match → fnmatch without FNM_PATHNAME): `*` matches any run of
// characters including '/', `?` one character, `[...]` a class (`[!...]`/`[^...]` negated),
// backslash escapes the next character. Whole-string match; iglob ignores case.

export function globToRegExp(glob: string, caseInsensitive = false): RegExp {
  let re = '^';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*') re += '[\\s\\S]*';
    else if (c === '?') re += '[\\s\\S]';
    else if (c === '\\' && i + 1 < glob.length) re += escapeRe(glob[++i] as string);
    else if (c === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close < 0) {
        re += '\\[';
        continue;
      }
      let body = glob.slice(i + 1, close);
      let neg = false;
      if (body.startsWith('!') || body.startsWith('^')) {
        neg = true;
        body = body.slice(1);
      }
      re += `[${neg ? '^' : ''}${body.replace(/[\\\]^]/g, (m) => '\\' + m)}]`;
      i = close;
    } else re += escapeRe(c);
  }
  return new RegExp(re + '$', caseInsensitive ? 'is' : 's');
}

function escapeRe(c: string): string {
  return /[.*+?^${}()|[\]\\/-]/.test(c) ? '\\' + c : c;
}

export function hasGlobMeta(s: string): boolean {
  return /[*?[]/.test(s);
}

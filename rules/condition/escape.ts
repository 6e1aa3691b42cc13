// Quoted strings in conditions, with libsinsp's escapes (filter/escaping.cpp unescape_str):
// \b \f \n \r \t \\ \/ \xHH, \" only inside "...", \' only inside '...', and the legacy "\ ".

export class EscapeError extends Error {
  constructor(
    message: string,
    /** offset of the offending backslash in the body (after the opening quote) */
    readonly offset: number,
  ) {
    super(message);
  }
}

const SIMPLE: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', '\\': '\\', '/': '/', ' ': ' ' };

/** Unescape the body of a quoted string (without the quotes). */
export function unescapeQuoted(body: string, quote: '"' | "'"): string {
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const n = body[i + 1];
    if (n === undefined) throw new EscapeError('a quoted string cannot end with a backslash', i);
    const simple = SIMPLE[n];
    if (simple !== undefined) {
      out += simple;
      i++;
    } else if (n === quote) {
      out += n;
      i++;
    } else if (n === 'x') {
      const hex = body.slice(i + 2, i + 4);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new EscapeError('\\x must be followed by two hex digits', i);
      out += String.fromCharCode(parseInt(hex, 16));
      i += 3;
    } else {
      throw new EscapeError(`invalid escape sequence '\\${n}' in quoted string`, i);
    }
  }
  return out;
}

/** Quote a string so that `unescapeQuoted` gives it back. */
export function quote(s: string): string {
  let out = '"';
  for (const c of s) {
    const code = c.charCodeAt(0);
    if (c === '"') out += '\\"';
    else if (c === '\\') out += '\\\\';
    else if (c === '\n') out += '\\n';
    else if (c === '\t') out += '\\t';
    else if (c === '\r') out += '\\r';
    else if (c === '\b') out += '\\b';
    else if (c === '\f') out += '\\f';
    else if (code < 0x20 || code === 0x7f) out += '\\x' + code.toString(16).padStart(2, '0');
    else out += c;
  }
  return out + '"';
}

/** Falco's BareStr: [^()"'\s=,]+ */
export const BARE_STR = /^[^()"'\s=,]+$/;

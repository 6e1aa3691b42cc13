// Parsing strace's output (`strace -f -ttt -q -v -s 4096 -e signal=none`): one line per event,
// `PID SECONDS.MICROS REST`. REST is a finished call `name(args) = RET [ERRNO (text)]`, an
// unfinished one `name(args <unfinished ...>`, its resumption `<... name resumed>args) = RET`,
// or a process end `+++ exited with N +++` / `+++ killed by SIGX +++`.
// Arguments are parsed into values: strings (C escapes decoded), arrays, structs and raw text.

export type SValue = string | SRaw | SValue[] | SStruct;
export interface SRaw {
  raw: string;
}
export interface SStruct {
  fields: Record<string, SValue>;
  /** Positional members without `key=` (e.g. `inet_pton(AF_INET6, "::1", &sin6_addr)`). */
  items: SValue[];
}

export type StraceRecord =
  | { kind: 'call'; pid: number; tsNs: bigint; name: string; args: SValue[]; ret: number | undefined; errno?: string }
  | { kind: 'unfinished'; pid: number; tsNs: bigint; name: string; argsText: string }
  | { kind: 'resumed'; pid: number; tsNs: bigint; name: string; restText: string }
  | { kind: 'exited'; pid: number; tsNs: bigint; code: number }
  | { kind: 'killed'; pid: number; tsNs: bigint; signal: string }
  | { kind: 'other'; pid: number; tsNs: bigint; text: string };

export function isRaw(v: SValue | undefined): v is SRaw {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && 'raw' in v;
}
export function isStruct(v: SValue | undefined): v is SStruct {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && 'fields' in v;
}

const LINE = /^(\d+)\s+(\d+)\.(\d{1,9})\s+(.*)$/;

/** Parse one line; undefined for lines that are not events (blank, strace's own notes). */
export function parseStraceLine(line: string): StraceRecord | undefined {
  const m = LINE.exec(line.trimEnd());
  if (m === null) return undefined;
  const pid = Number(m[1]);
  const tsNs = BigInt(m[2]) * 1_000_000_000n + BigInt(m[3].padEnd(9, '0'));
  const rest = m[4];
  let x: RegExpExecArray | null;
  if ((x = /^\+\+\+ exited with (\d+) \+\+\+/.exec(rest)) !== null) return { kind: 'exited', pid, tsNs, code: Number(x[1]) };
  if ((x = /^\+\+\+ killed by (SIG\w+)/.exec(rest)) !== null) return { kind: 'killed', pid, tsNs, signal: x[1] };
  if ((x = /^<\.\.\. (\w+) resumed>(.*)$/.exec(rest)) !== null) return { kind: 'resumed', pid, tsNs, name: x[1], restText: x[2] };
  if ((x = /^(\w+)\((.*) <unfinished \.\.\.>$/.exec(rest)) !== null) return { kind: 'unfinished', pid, tsNs, name: x[1], argsText: x[2] };
  if ((x = /^(\w+)\(/.exec(rest)) !== null) {
    const parsed = parseCall(rest.slice(x[0].length));
    if (parsed !== undefined) return { kind: 'call', pid, tsNs, name: x[1], ...parsed };
  }
  return { kind: 'other', pid, tsNs, text: rest };
}

/** `args) = RET [ERRNO (text)]` after the opening parenthesis. */
export function parseCall(text: string): { args: SValue[]; ret: number | undefined; errno?: string } | undefined {
  const p = new ArgParser(text);
  const args = p.list(')');
  if (args === undefined) return undefined;
  const tail = text.slice(p.pos).trim();
  const r = /^=\s+(-?\d+|0x[0-9a-f]+|\?)(?:\s+([A-Z][A-Z0-9_]+))?/.exec(tail);
  if (r === null) return { args, ret: undefined };
  const ret = r[1] === '?' ? undefined : Number(r[1]);
  return r[2] === undefined ? { args, ret } : { args, ret, errno: r[2] };
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Recursive-descent parser over strace's argument syntax. */
class ArgParser {
  pos = 0;
  constructor(private readonly s: string) {}

  private ws(): void {
    while (this.pos < this.s.length) {
      const c = this.s[this.pos];
      if (c === ' ') this.pos++;
      else if (this.s.startsWith('/*', this.pos)) {
        const end = this.s.indexOf('*/', this.pos + 2);
        this.pos = end < 0 ? this.s.length : end + 2;
      } else break;
    }
  }

  /** Values separated by commas up to `close` (consumed). */
  list(close: string): SValue[] | undefined {
    const out: SValue[] = [];
    this.ws();
    if (this.s[this.pos] === close) {
      this.pos++;
      return out;
    }
    for (;;) {
      this.ws();
      const v = this.value(close);
      if (v === undefined) return undefined;
      out.push(v);
      this.ws();
      const c = this.s[this.pos];
      if (c === ',') {
        this.pos++;
        continue;
      }
      if (c === close) {
        this.pos++;
        return out;
      }
      // `...` marks an array cut short by strace; `=> {...}` is an output annotation (clone3).
      if (this.s.startsWith('...', this.pos)) {
        this.pos += 3;
        continue;
      }
      if (this.s.startsWith('=>', this.pos)) {
        this.pos += 2;
        this.ws();
        this.value(close);
        continue;
      }
      return undefined;
    }
  }

  private value(close: string): SValue | undefined {
    const c = this.s[this.pos];
    if (c === '"') {
      const str = this.string();
      if (str === undefined) return undefined;
      if (this.s.startsWith('...', this.pos)) this.pos += 3; // cut at -s
      return str;
    }
    if (c === '[') {
      this.pos++;
      return this.list(']');
    }
    if (c === '{') {
      this.pos++;
      return this.struct();
    }
    // Raw text up to a comma or the closing bracket at depth 0 (handles htons(80), a|b, ...).
    const start = this.pos;
    let depth = 0;
    while (this.pos < this.s.length) {
      const ch = this.s[this.pos];
      if (ch === '"') {
        if (this.string() === undefined) return undefined;
        continue;
      }
      if (ch === '(' || ch === '[' || ch === '{') depth++;
      else if (ch === ')' || ch === ']' || ch === '}') {
        if (depth === 0) break;
        depth--;
      } else if (ch === ',' && depth === 0) break;
      this.pos++;
    }
    void close;
    return { raw: this.s.slice(start, this.pos).trim() };
  }

  private struct(): SStruct | undefined {
    const fields: Record<string, SValue> = {};
    const items: SValue[] = [];
    this.ws();
    if (this.s[this.pos] === '}') {
      this.pos++;
      return { fields, items };
    }
    for (;;) {
      this.ws();
      const key = /^([a-z_][a-z0-9_.]*)=/i.exec(this.s.slice(this.pos, this.pos + 64));
      if (key !== null) {
        this.pos += key[0].length;
        const v = this.value('}');
        if (v === undefined) return undefined;
        fields[key[1]] = v;
      } else {
        const v = this.value('}');
        if (v === undefined) return undefined;
        items.push(v);
      }
      this.ws();
      const c = this.s[this.pos];
      if (c === ',') {
        this.pos++;
        continue;
      }
      if (c === '}') {
        this.pos++;
        return { fields, items };
      }
      if (this.s.startsWith('...', this.pos)) {
        this.pos += 3;
        continue;
      }
      return undefined;
    }
  }

  /** A C string literal; returns the decoded text (bytes as UTF-8). */
  private string(): string | undefined {
    this.pos++; // opening quote
    const bytes: number[] = [];
    while (this.pos < this.s.length) {
      const c = this.s[this.pos];
      if (c === '"') {
        this.pos++;
        // Text is UTF-8; raw bytes that are not (a -X raw sockaddr) keep one char per byte.
        try {
          return UTF8.decode(Uint8Array.from(bytes));
        } catch {
          return Buffer.from(bytes).toString('latin1');
        }
      }
      if (c !== '\\') {
        const cp = this.s.codePointAt(this.pos) as number;
        const ch = String.fromCodePoint(cp);
        for (const b of Buffer.from(ch, 'utf8')) bytes.push(b);
        this.pos += ch.length;
        continue;
      }
      const e = this.s[this.pos + 1];
      this.pos += 2;
      const simple: Record<string, number> = { n: 10, t: 9, r: 13, v: 11, f: 12, a: 7, b: 8, '"': 34, '\\': 92, "'": 39, '?': 63 };
      if (e in simple) bytes.push(simple[e]);
      else if (e === 'x') {
        const h = /^[0-9a-fA-F]{1,2}/.exec(this.s.slice(this.pos, this.pos + 2));
        if (h === null) return undefined;
        bytes.push(parseInt(h[0], 16));
        this.pos += h[0].length;
      } else if (e >= '0' && e <= '7') {
        const o = /^[0-7]{1,3}/.exec(this.s.slice(this.pos - 1, this.pos + 2)) as RegExpExecArray;
        bytes.push(parseInt(o[0], 8) & 0xff);
        this.pos += o[0].length - 1;
      } else return undefined;
    }
    return undefined;
  }
}

/** errno names strace prints → numbers (x86-64 Linux). */
export const ERRNO: Readonly<Record<string, number>> = {
  EPERM: 1, ENOENT: 2, ESRCH: 3, EINTR: 4, EIO: 5, ENXIO: 6, E2BIG: 7, ENOEXEC: 8, EBADF: 9, ECHILD: 10,
  EAGAIN: 11, ENOMEM: 12, EACCES: 13, EFAULT: 14, EBUSY: 16, EEXIST: 17, ENOTDIR: 20, EISDIR: 21, EINVAL: 22,
  ENFILE: 23, EMFILE: 24, ETXTBSY: 26, ENOSPC: 28, ENAMETOOLONG: 36, ELOOP: 40, ENOTSOCK: 88, EPROTOTYPE: 91,
  EAFNOSUPPORT: 97, EADDRINUSE: 98, EADDRNOTAVAIL: 99, ENETDOWN: 100, ENETUNREACH: 101, ECONNABORTED: 103,
  ECONNRESET: 104, ENOBUFS: 105, EISCONN: 106, ETIMEDOUT: 110, ECONNREFUSED: 111, EHOSTUNREACH: 113,
  EALREADY: 114, EINPROGRESS: 115,
};

export const SIGNALS: Readonly<Record<string, number>> = {
  SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGTRAP: 5, SIGABRT: 6, SIGBUS: 7, SIGFPE: 8, SIGKILL: 9,
  SIGUSR1: 10, SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15, SIGSYS: 31,
};

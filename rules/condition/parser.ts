// A recursive-descent parser for Falco's condition grammar (libsinsp filter/parser.h, condensed
// in shared/notes/falco.md §2.1). Precedence: `not` > `and` > `or`. Every node carries its
// offsets in the parsed text so errors can be mapped back to file:line:column.

import {
  LIST_OPS, MODIFIERS, NUM_OPS, TRANSFORMERS,
  type AndNode, type CheckNode, type Expr, type FieldExprNode, type ListNode, type Modifier,
  type Operator, type OrNode, type RhsNode, type Span, type TransformerName, type ValueNode,
} from './ast.js';
import { EscapeError, unescapeQuoted } from './escape.js';

export class ConditionSyntaxError extends Error {
  constructor(
    message: string,
    /** offset in the parsed text */
    readonly offset: number,
  ) {
    super(message);
  }
}

const MAX_DEPTH = 1000;
const FIELD_NAME = /[a-zA-Z]+[a-zA-Z0-9_]*(?:\.[a-zA-Z]+[a-zA-Z0-9_]*)+/y;
const IDENT = /[a-zA-Z]+[a-zA-Z0-9_]*/y;
const BARE = /[^()"'\s=,]+/y;
const NUM = /(?:0[xX][0-9a-fA-F]+|[+-]?[0-9]+\.?[0-9]*(?:[eE][+-][0-9]+)?)/y;
const FIELD_ARG_BARE = /[^\][\"'\s]+/y;
const BLANK = /[ \t\n\r\b\f\v]+/y;

/** String operators in match order (longer symbols first, words need a trailing blank). */
const SYMBOL_STR_OPS = ['==', '=', '!='] as const;
const WORD_STR_OPS = ['contains', 'icontains', 'bcontains', 'startswith', 'bstartswith', 'endswith', 'glob', 'iglob', 'regex'] as const;
const NUM_OPS_ORDERED = ['<=', '<', '>=', '>'] as const;

export function parseCondition(text: string): Expr {
  return new Parser(text).parseAll();
}

class Parser {
  private pos = 0;
  private depth = 0;

  constructor(private readonly text: string) {}

  parseAll(): Expr {
    const e = this.parseOr();
    this.blank();
    if (this.pos < this.text.length) {
      throw this.err(this.unexpected('expected \'and\', \'or\' or the end of the condition'));
    }
    return e;
  }

  // ---------------------------------------------------------------- expressions

  private parseOr(): Expr {
    this.enter();
    this.blank();
    const start = this.pos;
    const children: Expr[] = [this.parseAnd()];
    this.blank();
    while (this.keyword('or')) {
      children.push(this.afterConnective('or', () => this.parseAnd()));
      this.blank();
    }
    this.leave();
    if (children.length === 1) return children[0] as Expr;
    const node: OrNode = { kind: 'or', children, span: this.span(start) };
    return node;
  }

  private parseAnd(): Expr {
    this.enter();
    this.blank();
    const start = this.pos;
    const children: Expr[] = [this.parseNot()];
    this.blank();
    while (this.keyword('and')) {
      children.push(this.afterConnective('and', () => this.parseNot()));
      this.blank();
    }
    this.leave();
    if (children.length === 1) return children[0] as Expr;
    const node: AndNode = { kind: 'and', children, span: this.span(start) };
    return node;
  }

  /** After `and`/`or`: a blank then the operand, or a parenthesised expression. */
  private afterConnective(word: string, operand: () => Expr): Expr {
    if (this.blank()) return operand();
    if (this.peek('(')) return operand();
    throw this.err(`expected a blank or '(' after '${word}'`);
  }

  private parseNot(): Expr {
    this.enter();
    this.blank();
    const start = this.pos;
    if (this.keyword('not')) {
      let child: Expr;
      if (this.blank() || this.peek('(')) child = this.parseNot();
      else throw this.err("expected a blank or '(' after 'not'");
      this.leave();
      return { kind: 'not', child, span: this.span(start) };
    }
    const e = this.parseCheck();
    this.leave();
    return e;
  }

  private parseCheck(): Expr {
    this.blank();
    const start = this.pos;
    if (this.lit('(')) {
      const e = this.parseOr();
      this.blank();
      if (!this.lit(')')) throw this.err(this.unexpected("expected a ')' token"));
      return e;
    }
    const lhs = this.tryFieldExpr();
    if (lhs !== undefined) return this.parseCondition(lhs, start);
    const id = this.match(IDENT);
    if (id === 'and' || id === 'or' || id === 'not') {
      this.pos = start;
      throw this.err(id === 'not' ? "expected a blank or '(' after 'not'" : this.unexpected(`expected a condition before '${id}'`));
    }
    if (id !== undefined) return { kind: 'macro', name: id, span: this.span(start) };
    throw this.err(this.unexpected("expected a '(' token, a field check, or an identifier"));
  }

  // ---------------------------------------------------------------- fields and transformers

  /** A field (with optional [arg]) or transformer(...); undefined if neither starts here. */
  private tryFieldExpr(): FieldExprNode | undefined {
    const start = this.pos;
    const fn = this.transformerName();
    if (fn !== undefined) {
      this.blank();
      const arg = this.tryFieldExpr();
      if (arg === undefined) throw this.err(`expected a field or transformer inside ${fn}(...)`);
      this.blank();
      if (!this.lit(')')) throw this.err(this.unexpected(`expected ')' to close ${fn}(`));
      return { kind: 'transform', fn, arg, span: this.span(start) };
    }
    const name = this.match(FIELD_NAME);
    if (name === undefined) return undefined;
    let arg: string | undefined;
    if (this.lit('[')) {
      arg = this.peekQuote() ? this.quotedString().value : this.match(FIELD_ARG_BARE);
      if (arg === undefined) throw this.err(`expected a field argument after '${name}['`);
      if (!this.lit(']')) throw this.err(this.unexpected(`expected ']' to close the argument of '${name}'`));
    }
    return arg === undefined ? { kind: 'field', name, span: this.span(start) } : { kind: 'field', name, arg, span: this.span(start) };
  }

  /** `tolower(` etc.: the name directly followed by '('. */
  private transformerName(): TransformerName | undefined {
    for (const t of TRANSFORMERS) {
      if (this.text.startsWith(t + '(', this.pos)) {
        this.pos += t.length + 1;
        return t;
      }
    }
    return undefined;
  }

  // ---------------------------------------------------------------- the condition after a field

  private parseCondition(lhs: FieldExprNode, start: number): CheckNode {
    this.blank();
    if (this.word('exists')) return { kind: 'check', lhs, op: 'exists', span: this.span(start) };

    for (const op of NUM_OPS_ORDERED) {
      if (this.lit(op)) {
        this.blank();
        const rhs = this.numValueOrField();
        return { kind: 'check', lhs, op, rhs, span: this.span(start) };
      }
    }
    let strOp: Operator | undefined;
    for (const op of SYMBOL_STR_OPS) if (strOp === undefined && this.lit(op)) strOp = op;
    if (strOp === undefined) {
      for (const op of WORD_STR_OPS) {
        if (this.wordThenBlank(op)) {
          strOp = op;
          break;
        }
      }
    }
    if (strOp !== undefined) {
      this.blank();
      const modifier = this.modifier();
      if (modifier !== undefined) {
        this.blank();
        const rhs = this.listValue();
        return { kind: 'check', lhs, op: strOp, modifier, rhs, span: this.span(start) };
      }
      const rhs = this.strValueOrField();
      return { kind: 'check', lhs, op: strOp, rhs, span: this.span(start) };
    }
    for (const op of LIST_OPS) {
      if (this.text.startsWith(op, this.pos) && this.isBlankOrParen(this.pos + op.length)) {
        this.pos += op.length;
        this.blank();
        const rhs = this.listValueOrField();
        return { kind: 'check', lhs, op, rhs, span: this.span(start) };
      }
    }
    throw this.err(this.unexpected('expected a valid operator'));
  }

  private modifier(): Modifier | undefined {
    for (const m of MODIFIERS) {
      if (this.text.startsWith(m, this.pos) && this.isBlankOrParen(this.pos + m.length)) {
        this.pos += m.length;
        return m;
      }
    }
    return undefined;
  }

  private fieldValue(): RhsNode | undefined {
    const start = this.pos;
    if (this.text.startsWith('val(', this.pos)) {
      this.pos += 4;
      this.blank();
      const f = this.tryFieldExpr();
      if (f === undefined) throw this.err('expected a field inside val(...)');
      this.blank();
      if (!this.lit(')')) throw this.err(this.unexpected("expected ')' to close val("));
      return { kind: 'fieldval', field: f, val: true, span: this.span(start) };
    }
    if (this.transformerAhead()) {
      const f = this.tryFieldExpr();
      if (f !== undefined) return { kind: 'fieldval', field: f, val: false, span: this.span(start) };
    }
    return undefined;
  }

  private transformerAhead(): boolean {
    return TRANSFORMERS.some((t) => this.text.startsWith(t + '(', this.pos));
  }

  private numValueOrField(): RhsNode {
    const f = this.fieldValue();
    if (f !== undefined) return f;
    const start = this.pos;
    const n = this.match(NUM);
    if (n === undefined || this.bareContinues()) {
      this.pos = start;
      throw this.err(this.unexpected('expected a number, a transformer or val(field) after a numeric operator'));
    }
    return { kind: 'value', value: n, quoted: false, span: this.span(start) };
  }

  private strValueOrField(): RhsNode {
    const f = this.fieldValue();
    if (f !== undefined) return f;
    return this.strValue();
  }

  private listValueOrField(): RhsNode {
    const f = this.fieldValue();
    if (f !== undefined) return f;
    return this.listValue();
  }

  private strValue(): ValueNode {
    const start = this.pos;
    if (this.peekQuote()) return this.quotedString();
    const s = this.match(BARE);
    if (s === undefined) throw this.err(this.unexpected('expected a value'));
    return { kind: 'value', value: s, quoted: false, span: this.span(start) };
  }

  /** `(a, b, "c")` or a bare identifier (an undefined list name: reported later). */
  private listValue(): ListNode {
    const start = this.pos;
    if (!this.lit('(')) {
      const id = this.match(IDENT);
      if (id !== undefined && !this.bareContinues()) {
        throw new ConditionSyntaxError(`'${id}' is not a defined list (a list value must be '(...)' or the name of a list)`, start);
      }
      this.pos = start;
      throw this.err(this.unexpected("expected a list: '(' values ')'"));
    }
    const items: ValueNode[] = [];
    this.blank();
    if (!this.lit(')')) {
      for (;;) {
        this.blank();
        items.push(this.strValue());
        this.blank();
        if (this.lit(')')) break;
        if (!this.lit(',')) throw this.err(this.unexpected("expected ',' or ')' in a list"));
      }
    }
    return { kind: 'list', items, span: this.span(start) };
  }

  private quotedString(): ValueNode {
    const start = this.pos;
    const q = this.text[this.pos] as '"' | "'";
    let i = this.pos + 1;
    while (i < this.text.length && this.text[i] !== q) i += this.text[i] === '\\' ? 2 : 1;
    if (i >= this.text.length) throw new ConditionSyntaxError('unterminated quoted string', start);
    const body = this.text.slice(start + 1, i);
    let value: string;
    try {
      value = unescapeQuoted(body, q);
    } catch (e) {
      if (e instanceof EscapeError) throw new ConditionSyntaxError(e.message, start + 1 + e.offset);
      throw e;
    }
    this.pos = i + 1;
    return { kind: 'value', value, quoted: true, span: this.span(start) };
  }

  // ---------------------------------------------------------------- lexing helpers

  private blank(): boolean {
    BLANK.lastIndex = this.pos;
    const m = BLANK.exec(this.text);
    if (m === null) return false;
    this.pos += m[0].length;
    return true;
  }

  private match(re: RegExp): string | undefined {
    re.lastIndex = this.pos;
    const m = re.exec(this.text);
    if (m === null) return undefined;
    this.pos += m[0].length;
    return m[0];
  }

  private lit(s: string): boolean {
    if (!this.text.startsWith(s, this.pos)) return false;
    this.pos += s.length;
    return true;
  }

  private peek(s: string): boolean {
    return this.text.startsWith(s, this.pos);
  }

  private peekQuote(): boolean {
    const c = this.text[this.pos];
    return c === '"' || c === "'";
  }

  /** A keyword (`and`, `or`, `not`) followed by a blank or '(' (otherwise it is an identifier). */
  private keyword(w: string): boolean {
    if (!this.text.startsWith(w, this.pos) || !this.isBlankOrParen(this.pos + w.length)) return false;
    this.pos += w.length;
    return true;
  }

  /** A word operator that must be followed by a blank. */
  private wordThenBlank(w: string): boolean {
    if (!this.text.startsWith(w, this.pos)) return false;
    const c = this.text[this.pos + w.length];
    if (c === undefined || !/\s/.test(c)) return false;
    this.pos += w.length;
    return true;
  }

  /** `exists`: followed by the end, a blank or ')'. */
  private word(w: string): boolean {
    if (!this.text.startsWith(w, this.pos)) return false;
    const c = this.text[this.pos + w.length];
    if (c !== undefined && !/[\s)]/.test(c)) return false;
    this.pos += w.length;
    return true;
  }

  private isBlankOrParen(at: number): boolean {
    const c = this.text[at];
    return c !== undefined && (c === '(' || /\s/.test(c));
  }

  /** True when a bare-string character follows (the token was not a complete number/identifier). */
  private bareContinues(): boolean {
    const c = this.text[this.pos];
    return c !== undefined && /[^()"'\s=,]/.test(c);
  }

  private span(start: number): Span {
    return { start, end: this.pos };
  }

  private enter(): void {
    if (++this.depth > MAX_DEPTH) throw this.err(`condition nesting exceeds ${MAX_DEPTH} levels`);
  }

  private leave(): void {
    this.depth--;
  }

  private unexpected(what: string): string {
    if (this.pos >= this.text.length) return `${what}, found the end of the condition`;
    const near = this.text.slice(this.pos, this.pos + 20).split('\n')[0] ?? '';
    return `${what}, found '${near}'`;
  }

  private err(message: string): ConditionSyntaxError {
    return new ConditionSyntaxError(message, this.pos);
  }
}

export { NUM_OPS };

// Condition ASTs. Two layers:
//  - the *parsed* AST (`Expr`): what the parser produces from one condition string, with
//    offsets into that string; macro references are still names and values are still strings.
//  - the *typed* AST (`TExpr`): after list substitution, macro expansion and type checking.
//    Every field check carries its catalog entry and RHS values converted to the field's type.
//    The reference evaluator (rules/eval) and the compiler (rules/compiler) consume this one.

import type { FieldDef, FieldType } from '../fields/types.js';

/** Half-open character range [start, end) in the text that was parsed. */
export interface Span {
  start: number;
  end: number;
}

/** A position in a rules file (1-based line and column). */
export interface SourceLoc {
  file: string;
  line: number;
  col: number;
}

// ---------------------------------------------------------------- operators

export const UNARY_OPS = ['exists'] as const;
export const NUM_OPS = ['<', '<=', '>', '>='] as const;
/** String-typed binary operators (RHS is one string token converted to the field's type). */
export const STR_OPS = [
  '=', '==', '!=',
  'contains', 'icontains', 'bcontains',
  'startswith', 'bstartswith', 'endswith',
  'glob', 'iglob', 'regex',
] as const;
/** Operators whose RHS is a list. */
export const LIST_OPS = ['in', 'intersects', 'pmatch'] as const;
export const MODIFIERS = ['oneof', 'anyof', 'allof'] as const;
export const TRANSFORMERS = ['tolower', 'toupper', 'b64', 'basename', 'len'] as const;

export type UnaryOp = (typeof UNARY_OPS)[number];
export type NumOp = (typeof NUM_OPS)[number];
export type StrOp = (typeof STR_OPS)[number];
export type ListOp = (typeof LIST_OPS)[number];
export type BinaryOp = NumOp | StrOp | ListOp;
export type Operator = UnaryOp | BinaryOp;
export type Modifier = (typeof MODIFIERS)[number];
export type TransformerName = (typeof TRANSFORMERS)[number];

// ---------------------------------------------------------------- parsed AST

export interface FieldRef {
  kind: 'field';
  /** e.g. `proc.aname`, `evt.arg.flags` (the catalog decides what the name means) */
  name: string;
  /** the text inside `[...]`, unescaped; undefined without brackets */
  arg?: string;
  span: Span;
}

export interface TransformRef {
  kind: 'transform';
  fn: TransformerName;
  arg: FieldExprNode;
  span: Span;
}

/** Something that produces a value from the event: a field or a transformer over one. */
export type FieldExprNode = FieldRef | TransformRef;

export interface ValueNode {
  kind: 'value';
  /** the string after unescaping (quotes removed) */
  value: string;
  quoted: boolean;
  span: Span;
}

export interface ListNode {
  kind: 'list';
  items: ValueNode[];
  span: Span;
}

/** `val(field)` or a transformer on the RHS: compare against another field's value. */
export interface FieldValueNode {
  kind: 'fieldval';
  field: FieldExprNode;
  /** true for the `val(...)` spelling (a bare transformer on the RHS has it false) */
  val: boolean;
  span: Span;
}

export type RhsNode = ValueNode | ListNode | FieldValueNode;

export interface CheckNode {
  kind: 'check';
  lhs: FieldExprNode;
  op: Operator;
  modifier?: Modifier;
  /** absent for `exists` */
  rhs?: RhsNode;
  span: Span;
}

export interface MacroNode {
  kind: 'macro';
  name: string;
  span: Span;
}

export interface AndNode {
  kind: 'and';
  children: Expr[];
  span: Span;
}

export interface OrNode {
  kind: 'or';
  children: Expr[];
  span: Span;
}

export interface NotNode {
  kind: 'not';
  child: Expr;
  span: Span;
}

export type Expr = AndNode | OrNode | NotNode | CheckNode | MacroNode;

// ---------------------------------------------------------------- typed AST

/** Where a typed node came from: the rule itself, a macro, or an exception. */
export interface Origin {
  /** 'rule' | 'macro' | 'exception' */
  kind: 'rule' | 'macro' | 'exception';
  /** rule, macro or exception name */
  name: string;
  /** file position of the node's first character (best effort) */
  loc?: SourceLoc;
}

export interface TField {
  kind: 'field';
  def: FieldDef;
  /** full name as written (`proc.aname`, `evt.arg.flags`) */
  name: string;
  /** the parsed argument: an index (`proc.aname[2]`), a key (`k8s.pod.label[app]`) */
  arg?: FieldArg;
  /** type of the produced value(s) */
  type: FieldType;
  /**
   * true when the field yields several values and a check holds if it holds for any of them
   * (Falco's `proc.aname` without index = any ancestor).
   */
  anyOf: boolean;
}

export type FieldArg = { kind: 'index'; index: number } | { kind: 'key'; key: string };

export interface TTransform {
  kind: 'transform';
  fn: TransformerName;
  arg: TFieldExpr;
  type: FieldType;
  anyOf: boolean;
}

export type TFieldExpr = TField | TTransform;

/** A constant converted to the LHS type. */
export type TValue =
  | { kind: 'string'; value: string }
  /** u64/i64 fit in a JS number for every field Kestrel has; the raw text is kept too */
  | { kind: 'number'; value: number; text: string }
  | { kind: 'bool'; value: boolean }
  /** 4 or 16 bytes, network order */
  | { kind: 'ip'; bytes: Uint8Array; text: string }
  | { kind: 'net'; bytes: Uint8Array; prefix: number; text: string }
  /** for bcontains / bstartswith: the RHS hex decoded */
  | { kind: 'bytes'; bytes: Uint8Array; text: string }
  /** a compiled regular expression (full match) or glob, kept with its source */
  | { kind: 'pattern'; text: string; re: RegExp };

export type TRhs =
  | { kind: 'none' }
  | { kind: 'values'; values: TValue[]; list: boolean }
  | { kind: 'field'; field: TFieldExpr };

export interface TCheck {
  kind: 'check';
  lhs: TFieldExpr;
  op: Operator;
  modifier?: Modifier;
  rhs: TRhs;
  origin: Origin;
}

export interface TConst {
  kind: 'const';
  /** `evt.dir = <` is always true, `evt.dir = >` always false (Falco ≥ 0.42) */
  value: boolean;
  origin: Origin;
}

export interface TAnd {
  kind: 'and';
  children: TExpr[];
}

export interface TOr {
  kind: 'or';
  children: TExpr[];
}

export interface TNot {
  kind: 'not';
  child: TExpr;
}

export type TExpr = TAnd | TOr | TNot | TCheck | TConst;

/** Call `fn` for every check in `x`, left to right. */
export function forEachCheck(x: TExpr, fn: (c: TCheck) => void): void {
  if (x.kind === 'and' || x.kind === 'or') for (const c of x.children) forEachCheck(c, fn);
  else if (x.kind === 'not') forEachCheck(x.child, fn);
  else if (x.kind === 'check') fn(x);
}

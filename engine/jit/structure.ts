// eBPF jumps → structured WebAssembly control flow.
//
// Reducible functions use Ramsey's dominator-tree algorithm ("Beyond Relooper", ICFP 2022): a
// block that is the target of a back edge becomes a `loop`, a block with two or more forward
// predecessors ("merge node") is placed after a `block` that its predecessors `br` out of, and
// every other block is inlined at its single predecessor's branch. Every path ends in an explicit
// br/return, so no code ever falls off the end of a construct. The walk keeps an explicit stack
// (compiled rules can be long chains) and tracks only the nesting depth, so br indices are
// computed in O(1).
//
// Irreducible functions (possible: the verifier accepts any bounded loop) fall back to a
// dispatch loop: `loop { block*n { br_table } ... }` with the next block's number in a local.

import { Op, BLOCK_VOID, type Code } from './wasm.js';
import { Term, type Block, type FuncCfg } from './cfg.js';

export interface BlockEmitter {
  /** The block's straight-line code, without its terminating jump/exit. */
  body(b: Block): void;
  /** Push an i32 that is non-zero when the conditional jump ending `b` is taken. */
  cond(b: Block): void;
  /** Return from the function (the block ends in exit). */
  exit(b: Block): void;
}

const TREE = 0;
const WITHIN = 1;
const END = 2;
const BRANCH = 3;
const ELSE = 4;

export function emitStructured(cfg: FuncCfg, code: Code, em: BlockEmitter): void {
  const blocks = cfg.blocks;
  const loopDepth = new Int32Array(blocks.length);
  const blockDepth = new Int32Array(blocks.length);
  // Work items as flat int tuples: [kind, x, a, d] (a = child index or branch target).
  const work: number[] = [TREE, cfg.order[0], 0, 0];
  const push = (k: number, x: number, a: number, d: number): void => {
    work.push(k, x, a, d);
  };
  const isBr = (x: number, t: number): boolean => blocks[t].rpo <= blocks[x].rpo || blocks[t].merge;
  const brIndex = (x: number, t: number, d: number): number =>
    blocks[t].rpo <= blocks[x].rpo ? d - 1 - loopDepth[t] : d - 1 - blockDepth[t];

  while (work.length > 0) {
    const d = work.pop() as number;
    const a = work.pop() as number;
    const x = work.pop() as number;
    const k = work.pop() as number;
    switch (k) {
      case TREE:
        if (blocks[x].loopHeader) {
          loopDepth[x] = d;
          code.op(Op.loop).u8(BLOCK_VOID);
          push(END, 0, 0, 0);
          push(WITHIN, x, 0, d + 1);
        } else push(WITHIN, x, 0, d);
        break;
      case WITHIN: {
        const ys = blocks[x].mergeChildren;
        if (a < ys.length) {
          const y = ys[a];
          code.op(Op.block).u8(BLOCK_VOID);
          blockDepth[y] = d;
          push(TREE, y, 0, d);
          push(END, 0, 0, 0);
          push(WITHIN, x, a + 1, d + 1);
          break;
        }
        const b = blocks[x];
        em.body(b);
        if (b.term === Term.Exit) em.exit(b);
        else if (b.term === Term.Cond) {
          const [t, f] = b.succ;
          em.cond(b);
          if (isBr(x, t)) {
            code.brIf(brIndex(x, t, d));
            push(BRANCH, x, f, d);
          } else if (isBr(x, f)) {
            code.op(Op.i32_eqz).brIf(brIndex(x, f, d));
            push(BRANCH, x, t, d);
          } else {
            code.op(Op.if).u8(BLOCK_VOID);
            push(END, 0, 0, 0);
            push(BRANCH, x, f, d + 1);
            push(ELSE, 0, 0, 0);
            push(BRANCH, x, t, d + 1);
          }
        } else push(BRANCH, x, b.succ[0], d);
        break;
      }
      case BRANCH:
        if (isBr(x, a)) code.br(brIndex(x, a, d));
        else push(TREE, a, 0, d);
        break;
      case END:
        code.op(Op.end);
        break;
      case ELSE:
        code.op(Op.else);
        break;
    }
  }
  code.op(Op.unreachable);
}

/** The fallback for irreducible graphs. `label` is an i32 local. */
export function emitDispatch(cfg: FuncCfg, code: Code, em: BlockEmitter, label: number): void {
  const order = cfg.order;
  const n = order.length;
  const index = new Int32Array(cfg.blocks.length).fill(-1);
  order.forEach((id, k) => (index[id] = k));
  code.i32c(0).set(label);
  code.op(Op.loop).u8(BLOCK_VOID);
  for (let k = 0; k < n; k++) code.op(Op.block).u8(BLOCK_VOID);
  code.get(label).u8(Op.br_table).u32(n);
  for (let k = 0; k < n; k++) code.u32(k);
  code.u32(n - 1);
  for (let k = 0; k < n; k++) {
    code.op(Op.end);
    // Code for block k sits at nesting depth n - k (the loop plus the blocks still open).
    const depth = n - k;
    const b = cfg.blocks[order[k]];
    const goTo = (t: number): void => {
      const j = index[t];
      if (j === k + 1) return; // falls into the next block's code
      code.i32c(j).set(label).br(depth - 1);
    };
    em.body(b);
    if (b.term === Term.Exit) em.exit(b);
    else if (b.term === Term.Cond) {
      em.cond(b);
      code.op(Op.if).u8(BLOCK_VOID);
      code.i32c(index[b.succ[0]]).set(label).br(depth);
      code.op(Op.end);
      goTo(b.succ[1]);
    } else goTo(b.succ[0]);
  }
  code.op(Op.end);
  code.op(Op.unreachable);
}

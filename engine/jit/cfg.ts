// Control-flow analysis for the JIT: split a program into functions (the main program, local
// call targets and bpf_loop callbacks), each function into basic blocks, then compute reverse
// postorder, dominators, loop headers and merge nodes, which the structurer needs.

import {
  BPF_CALL,
  BPF_EXIT,
  BPF_JA,
  BPF_JMP,
  BPF_JMP32,
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_FUNC,
  OP_EXIT,
  OP_LDDW,
  type Insn,
} from '../isa.js';

export enum Term {
  /** Falls into the next block (the block was cut by a leader or a tail call). */
  Fall,
  Ja,
  Cond,
  Exit,
}

export interface Block {
  id: number;
  /** First and last instruction index (last is the terminator or the last slot before a leader). */
  start: number;
  last: number;
  /** Executed instructions in the block (an lddw counts once). */
  count: number;
  term: Term;
  /** Successors: for Cond, [taken, fallthrough]; for Fall/Ja, [target]; for Exit, []. */
  succ: number[];
  preds: number[];
  rpo: number;
  idom: number;
  loopHeader: boolean;
  merge: boolean;
  /** Dominator-tree children that are merge nodes, highest reverse-postorder first. */
  mergeChildren: number[];
}

export interface FuncCfg {
  start: number;
  end: number;
  blocks: Block[];
  /** Block ids in reverse postorder (reachable blocks only). */
  order: number[];
  reducible: boolean;
  /** Depth of the dominator tree (diagnostics). */
  maxDepth: number;
}

export function isJump(op: number): boolean {
  const cls = op & 7;
  if (cls !== BPF_JMP && cls !== BPF_JMP32) return false;
  const code = op & 0xf0;
  return code !== BPF_CALL && code !== BPF_EXIT;
}

/** Target of the jump at `pc` (ja with 32-bit offset uses imm). */
export function jumpTarget(insns: readonly Insn[], pc: number): number {
  const i = insns[pc];
  if ((i.opcode & 7) === BPF_JMP32 && (i.opcode & 0xf0) === BPF_JA) return pc + i.imm + 1;
  return pc + i.off + 1;
}

/** Entry points of all functions: 0, local call targets and lddw-func targets, sorted. */
export function functionStarts(insns: readonly Insn[]): number[] {
  const starts = new Set<number>([0]);
  for (let pc = 0; pc < insns.length; pc++) {
    const i = insns[pc];
    if (i.opcode === (BPF_JMP | BPF_CALL) && i.src === BPF_PSEUDO_CALL) starts.add(pc + i.imm + 1);
    else if (i.opcode === OP_LDDW) {
      // Linked programs (LoadedProgram) hold the callback's absolute slot index in imm.
      if (i.src === BPF_PSEUDO_FUNC) starts.add(i.imm);
      pc++;
    }
  }
  return [...starts].sort((a, b) => a - b);
}

/** `cutAfter(pc)` says whether a non-jump instruction ends its block (tail calls do). */
export function buildCfg(insns: readonly Insn[], start: number, end: number, cutAfter: (pc: number) => boolean): FuncCfg {
  const leader = new Uint8Array(end - start + 1);
  leader[0] = 1;
  for (let pc = start; pc < end; pc++) {
    const op = insns[pc].opcode;
    if (op === OP_LDDW) {
      pc++;
      continue;
    }
    if (isJump(op)) {
      const t = jumpTarget(insns, pc);
      if (t < start || t >= end) throw new Error(`instruction ${pc}: jump to ${t} leaves the function [${start}, ${end})`);
      leader[t - start] = 1;
      leader[pc + 1 - start] = 1;
    } else if (op === OP_EXIT || cutAfter(pc)) {
      leader[pc + 1 - start] = 1;
    }
  }
  const blockAt = new Int32Array(end - start).fill(-1);
  const blocks: Block[] = [];
  let cur: Block | undefined;
  for (let pc = start; pc < end; pc++) {
    if (leader[pc - start] === 1 || cur === undefined) {
      cur = {
        id: blocks.length,
        start: pc,
        last: pc,
        count: 0,
        term: Term.Fall,
        succ: [],
        preds: [],
        rpo: -1,
        idom: -1,
        loopHeader: false,
        merge: false,
        mergeChildren: [],
      };
      blocks.push(cur);
    }
    blockAt[pc - start] = cur.id;
    cur.last = pc;
    cur.count++;
    if (insns[pc].opcode === OP_LDDW) {
      pc++;
      if (pc < end) blockAt[pc - start] = cur.id;
    }
  }
  const blockOf = (pc: number, from: number): number => {
    const b = pc >= start && pc < end ? blockAt[pc - start] : -1;
    if (b < 0) throw new Error(`instruction ${from}: control reaches ${pc}, outside the function or inside an lddw`);
    if (blocks[b].start !== pc) throw new Error(`instruction ${from}: jump into the middle of lddw at ${pc - 1}`);
    return b;
  };
  for (const b of blocks) {
    const pc = b.last;
    const op = insns[pc].opcode;
    if (isJump(op)) {
      const t = blockOf(jumpTarget(insns, pc), pc);
      if ((op & 0xf0) === BPF_JA) {
        b.term = Term.Ja;
        b.succ = [t];
      } else {
        const f = blockOf(pc + 1, pc);
        // A conditional jump to the next instruction goes there either way.
        if (t === f) {
          b.term = Term.Ja;
          b.succ = [t];
        } else {
          b.term = Term.Cond;
          b.succ = [t, f];
        }
      }
    } else if (op === OP_EXIT) {
      b.term = Term.Exit;
    } else {
      const next = insns[pc].opcode === OP_LDDW ? pc + 2 : pc + 1;
      b.term = Term.Fall;
      b.succ = [blockOf(next, pc)];
    }
  }
  for (const b of blocks) for (const s of b.succ) if (!blocks[s].preds.includes(b.id)) blocks[s].preds.push(b.id);

  // Reverse postorder by an explicit-stack DFS (programs can be long chains).
  const post: number[] = [];
  const state = new Uint8Array(blocks.length);
  const stack: number[] = [0];
  const edgeIdx: number[] = [0];
  state[0] = 1;
  while (stack.length > 0) {
    const top = stack.length - 1;
    const b = blocks[stack[top]];
    // Visit the fallthrough successor last so that straight-line code stays in order.
    const succ = b.succ;
    const k = edgeIdx[top];
    if (k < succ.length) {
      edgeIdx[top] = k + 1;
      const s = succ[succ.length - 1 - k];
      if (state[s] === 0) {
        state[s] = 1;
        stack.push(s);
        edgeIdx.push(0);
      }
    } else {
      post.push(b.id);
      stack.pop();
      edgeIdx.pop();
    }
  }
  const order = post.reverse();
  order.forEach((id, n) => (blocks[id].rpo = n));

  // Dominators (Cooper, Harvey, Kennedy), over rpo numbers.
  const idom = new Int32Array(order.length).fill(-1);
  idom[0] = 0;
  const intersect = (a: number, b: number): number => {
    while (a !== b) {
      while (a > b) a = idom[a];
      while (b > a) b = idom[b];
    }
    return a;
  };
  for (let changed = true; changed; ) {
    changed = false;
    for (let n = 1; n < order.length; n++) {
      let d = -1;
      for (const p of blocks[order[n]].preds) {
        const pr = blocks[p].rpo;
        if (pr < 0 || idom[pr] < 0) continue;
        d = d < 0 ? pr : intersect(pr, d);
      }
      if (d !== idom[n]) {
        idom[n] = d;
        changed = true;
      }
    }
  }
  const dominates = (a: number, b: number): boolean => {
    while (b > a) b = idom[b];
    return a === b;
  };
  let reducible = true;
  for (const id of order) {
    const b = blocks[id];
    b.idom = b.rpo === 0 ? -1 : order[idom[b.rpo]];
    let forward = 0;
    for (const p of b.preds) {
      const pr = blocks[p].rpo;
      if (pr < 0) continue;
      if (pr >= b.rpo) {
        b.loopHeader = true;
        if (!dominates(b.rpo, pr)) reducible = false;
      } else forward++;
    }
    b.merge = forward >= 2;
  }
  const depth = new Int32Array(order.length);
  let maxDepth = 0;
  for (let n = 1; n < order.length; n++) {
    depth[n] = depth[idom[n]] + 1;
    if (depth[n] > maxDepth) maxDepth = depth[n];
  }
  // Children were visited in increasing rpo; highest first is what the structurer wants.
  for (let n = order.length - 1; n >= 1; n--) {
    const b = blocks[order[n]];
    if (b.merge) blocks[b.idom].mergeChildren.push(b.id);
  }
  return { start, end, blocks, order, reducible, maxDepth };
}

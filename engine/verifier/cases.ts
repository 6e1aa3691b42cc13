// The verifier's accept/reject suite: for each rule one program that passes by a hair and one
// that fails by a hair, in the assembler's dialect. `ok` is Kestrel's verdict; `linux` is Linux
// 6.18's when it differs on purpose (documented in docs/verifier.md). The unit tests check `ok`
// (and `msg`, a substring of the reason); the differential test asks the kernel for `linux ?? ok`.

import type { ProgType } from './types.js';

export interface VerifierCase {
  name: string;
  rule: string;
  prog: string;
  ok: boolean;
  /** Linux's verdict when it deliberately differs from Kestrel's. */
  linux?: boolean;
  msg?: string;
  type?: ProgType;
  gpl?: boolean;
  /** Not comparable with the kernel (raw program type). */
  noKernel?: boolean;
}

const HASH16 = '.map m hash key=4 value=16 entries=4\n';
const ARRAY16 = '.map a array key=4 value=16 entries=4\n';
const RB = '.map rb ringbuf key=0 value=0 entries=4096\n';
const LOOKUP = (map = 'm'): string => `stw [r10-4], 0\nmov r2, r10\nadd r2, -4\nlddw r1, map:${map}\ncall 1\n`;
const RET0 = 'mov r0, 0\nexit\n';

function pair(rule: string, pass: string, fail: string, msg: string, extra: Partial<VerifierCase> = {}, failExtra: Partial<VerifierCase> = {}): VerifierCase[] {
  return [
    { name: `${rule}: passes`, rule, prog: pass, ok: true, ...extra },
    { name: `${rule}: fails`, rule, prog: fail, ok: false, msg, ...extra, ...failExtra },
  ];
}

export const CASES: VerifierCase[] = [
  // ---- structure
  ...pair('last insn exit', RET0, 'mov r0, 0\n', 'last insn is not an exit or jmp'),
  ...pair('jump in range', 'mov r0, 0\nja +0\nexit\n', 'mov r0, 0\nja +5\nexit\n', 'jump out of range'),
  ...pair(
    'jump into lddw',
    'ldxdw r2, [r1+16]\njeq r2, 0, +2\nlddw r0, 5\nmov r0, 0\nexit\n',
    'ldxdw r2, [r1+16]\njeq r2, 0, +1\nlddw r0, 5\nmov r0, 0\nexit\n',
    'jump into the middle of ldimm64',
  ),
  ...pair('unreachable insn', RET0, 'mov r0, 0\nexit\nmov r0, 1\nexit\n', 'unreachable insn 2'),
  ...pair('reserved fields', '.raw 0x00000000000000b7\nexit\n', '.raw 0x00000000000010b7\nexit\n', 'BPF_MOV uses reserved fields'),
  ...pair('exit reserved fields', 'mov r0, 0\n.raw 0x0000000000000095\n', 'mov r0, 0\n.raw 0x0000000000000195\n', 'BPF_EXIT uses reserved fields'),
  ...pair('unknown opcode (callx)', 'mov r0, 0\ncall 5\nexit\n', 'mov r0, 0\nmov r2, 5\ncall %r2\nexit\n', 'unknown opcode 8d'),
  ...pair('lddw complete', 'lddw r0, 0x100000001\nexit\n', 'mov r0, 0\n.raw 0x0000000000000018\nexit\n', 'invalid bpf_ld_imm64 insn'),
  ...pair('div by immediate', 'mov r0, 7\ndiv r0, 1\nexit\n', 'mov r0, 7\ndiv r0, 0\nexit\n', 'div by zero'),
  ...pair('div by register zero is defined', 'mov r0, 7\nmov r1, 0\ndiv r0, r1\nmod r0, r1\nexit\n', 'mov r0, 7\nmod32 r0, 0\nexit\n', 'div by zero'),
  ...pair('shift amount', 'mov r0, 7\nlsh r0, 63\nexit\n', 'mov r0, 7\nlsh r0, 64\nexit\n', 'invalid shift 64'),
  ...pair('32-bit shift amount', 'mov r0, 7\nlsh32 r0, 31\nexit\n', 'mov r0, 7\nlsh32 r0, 32\nexit\n', 'invalid shift 32'),
  // ---- registers
  ...pair('uninitialised register', 'mov r2, 1\nmov r0, r2\nexit\n', 'mov r0, r2\nexit\n', 'R2 !read_ok'),
  ...pair('r0 set before exit', RET0, 'exit\n', 'R0 !read_ok'),
  ...pair('frame pointer read only', 'mov r1, r10\nmov r0, 0\nexit\n', 'mov r10, 0\nmov r0, 0\nexit\n', 'frame pointer is read only'),
  ...pair('calls clobber r1-r5', 'mov r6, 5\ncall 5\nmov r0, r6\nexit\n', 'mov r1, 5\ncall 5\nmov r0, r1\nexit\n', 'R1 !read_ok'),
  // ---- context
  ...pair('tracepoint ctx offset >= 8', 'ldxw r0, [r1+8]\nexit\n', 'ldxw r0, [r1+4]\nexit\n', 'invalid bpf_context access off=4 size=4'),
  ...pair('tracepoint ctx read only', 'ldxdw r2, [r1+16]\nmov r0, 0\nexit\n', 'mov r2, 0\nstxdw [r1+16], r2\nmov r0, 0\nexit\n', 'invalid bpf_context access off=16 size=8'),
  ...pair('ctx aligned', 'ldxdw r0, [r1+16]\nexit\n', 'ldxdw r0, [r1+12]\nexit\n', 'invalid bpf_context access off=12 size=8'),
  ...pair('tracepoint ctx limit 8192', 'ldxdw r0, [r1+8184]\nexit\n', 'ldxdw r0, [r1+8192]\nexit\n', 'invalid bpf_context access off=8192 size=8'),
  ...pair('modified ctx pointer', 'ldxdw r0, [r1+16]\nexit\n', 'add r1, 8\nldxdw r0, [r1+8]\nexit\n', 'dereference of modified ctx ptr R1 off=8 disallowed'),
  ...pair('kprobe pt_regs size', 'ldxdw r0, [r1+160]\nexit\n', 'ldxdw r0, [r1+168]\nexit\n', 'invalid bpf_context access off=168 size=8', { type: 'kprobe' }),
  ...pair('socket filter ctx writes only cb', 'mov r2, 1\nstxw [r1+48], r2\nldxw r0, [r1+0]\nexit\n', 'mov r2, 1\nstxw [r1+0], r2\nmov r0, 0\nexit\n', 'invalid bpf_context access off=0 size=4', { type: 'socket_filter' }),
  ...pair('scalar is not a pointer', 'mov r2, r10\nstdw [r2-8], 0\nmov r0, 0\nexit\n', 'mov r2, 0\nldxdw r0, [r2+0]\nexit\n', "R2 invalid mem access 'scalar'"),
  // ---- stack
  ...pair('stack bottom', 'stdw [r10-512], 1\nmov r0, 0\nexit\n', 'stdw [r10-520], 1\nmov r0, 0\nexit\n', 'invalid write to stack R10 off=-520 size=8'),
  ...pair('stack top', 'stw [r10-4], 1\nmov r0, 0\nexit\n', 'stdw [r10-4], 1\nmov r0, 0\nexit\n', 'misaligned stack access'),
  ...pair(
    'stack reads of written bytes only',
    'stw [r10-8], 1\nldxw r0, [r10-8]\nexit\n',
    'stw [r10-8], 1\nldxdw r0, [r10-8]\nexit\n',
    'invalid read from stack off -8+4 size 8',
    {},
    { linux: true },
  ),
  ...pair(
    'spilled pointer fill',
    'stxdw [r10-8], r1\nldxdw r2, [r10-8]\nldxdw r0, [r2+16]\nexit\n',
    'stxdw [r10-8], r1\nldxw r2, [r10-8]\nmov r0, 0\nexit\n',
    'invalid size of register fill',
  ),
  ...pair('pointer spill size', 'stxdw [r10-8], r1\nmov r0, 0\nexit\n', 'stxw [r10-8], r1\nmov r0, 0\nexit\n', 'invalid size of register spill'),
  ...pair(
    'spilled scalar keeps bounds',
    `${HASH16}ldxdw r6, [r1+16]\nand r6, 15\nstxdw [r10-16], r6\n${LOOKUP()}jeq r0, 0, out\nldxdw r6, [r10-16]\nadd r0, r6\nldxb r1, [r0+0]\nout:\n${RET0}`,
    `${HASH16}ldxdw r6, [r1+16]\nand r6, 31\nstxdw [r10-16], r6\n${LOOKUP()}jeq r0, 0, out\nldxdw r6, [r10-16]\nadd r0, r6\nldxb r1, [r0+0]\nout:\n${RET0}`,
    'R0 max value is outside of the allowed memory range',
  ),
  ...pair(
    'variable-offset stack write',
    'ldxdw r2, [r1+16]\nand r2, 7\nmov r3, r10\nadd r3, -16\nadd r3, r2\nstb [r3+0], 1\nmov r0, 0\nexit\n',
    'ldxdw r2, [r1+16]\nand r2, 31\nmov r3, r10\nadd r3, -16\nadd r3, r2\nstb [r3+0], 1\nmov r0, 0\nexit\n',
    'invalid variable-offset write to stack R3',
  ),
  // ---- map values
  ...pair('map value null check', `${HASH16}${LOOKUP()}jeq r0, 0, out\nldxdw r1, [r0+0]\nout:\n${RET0}`, `${HASH16}${LOOKUP()}ldxdw r1, [r0+0]\n${RET0}`, "R0 invalid mem access 'map_value_or_null'"),
  ...pair('map value null check via jne', `${HASH16}${LOOKUP()}jne r0, 0, ok\n${RET0}ok:\nldxdw r1, [r0+8]\n${RET0}`, `${HASH16}${LOOKUP()}jne r0, 0, ok\nldxdw r1, [r0+8]\n${RET0}ok:\n${RET0}`, "R0 invalid mem access 'scalar'"),
  ...pair('null check propagates to copies', `${HASH16}${LOOKUP()}mov r6, r0\njeq r6, 0, out\nldxdw r1, [r0+0]\nout:\n${RET0}`, `${HASH16}${LOOKUP()}mov r6, r0\njne r6, 0, out\nldxdw r1, [r0+0]\nout:\n${RET0}`, "R0 invalid mem access 'scalar'"),
  ...pair('map value constant bounds', `${HASH16}${LOOKUP()}jeq r0, 0, out\nldxdw r1, [r0+8]\nout:\n${RET0}`, `${HASH16}${LOOKUP()}jeq r0, 0, out\nldxdw r1, [r0+9]\nout:\n${RET0}`, 'invalid access to map value, value_size=16 off=9 size=8'),
  ...pair('map value write bounds', `${HASH16}${LOOKUP()}jeq r0, 0, out\nstdw [r0+8], 1\nout:\n${RET0}`, `${HASH16}${LOOKUP()}jeq r0, 0, out\nstdw [r0+16], 1\nout:\n${RET0}`, 'invalid access to map value, value_size=16 off=16 size=8'),
  ...pair(
    'index checked 15 vs 16',
    `${HASH16}ldxdw r6, [r1+16]\n${LOOKUP()}jeq r0, 0, out\njgt r6, 15, out\nadd r0, r6\nldxb r1, [r0+0]\nout:\n${RET0}`,
    `${HASH16}ldxdw r6, [r1+16]\n${LOOKUP()}jeq r0, 0, out\njgt r6, 16, out\nadd r0, r6\nldxb r1, [r0+0]\nout:\n${RET0}`,
    'R0 max value is outside of the allowed memory range',
  ),
  ...pair(
    'index checked with jlt',
    `${HASH16}ldxdw r6, [r1+16]\n${LOOKUP()}jeq r0, 0, out\njlt r6, 16, ok\nja out\nok:\nadd r0, r6\nldxb r1, [r0+0]\nout:\n${RET0}`,
    `${HASH16}ldxdw r6, [r1+16]\n${LOOKUP()}jeq r0, 0, out\njlt r6, 17, ok\nja out\nok:\nadd r0, r6\nldxb r1, [r0+0]\nout:\n${RET0}`,
    'R0 max value is outside of the allowed memory range',
  ),
  ...pair(
    'signed index needs a lower bound',
    `${HASH16}ldxdw r6, [r1+16]\n${LOOKUP()}jeq r0, 0, out\njsgt r6, 15, out\njslt r6, 0, out\nadd r0, r6\nldxb r1, [r0+0]\nout:\n${RET0}`,
    `${HASH16}ldxdw r6, [r1+16]\n${LOOKUP()}jeq r0, 0, out\njsgt r6, 15, out\nadd r0, r6\nldxb r1, [r0+0]\nout:\n${RET0}`,
    'unbounded min value',
  ),
  ...pair(
    'index masked',
    `${HASH16}ldxdw r6, [r1+16]\nand r6, 15\n${LOOKUP()}jeq r0, 0, out\nadd r0, r6\nldxb r1, [r0+0]\nout:\n${RET0}`,
    `${HASH16}ldxdw r6, [r1+16]\nand r6, 16\n${LOOKUP()}jeq r0, 0, out\nadd r0, r6\nldxb r1, [r0+0]\nout:\n${RET0}`,
    'R0 max value is outside of the allowed memory range',
  ),
  ...pair(
    'index masked, wide access',
    `${HASH16}ldxdw r6, [r1+16]\nand r6, 8\n${LOOKUP()}jeq r0, 0, out\nadd r0, r6\nldxdw r1, [r0+0]\nout:\n${RET0}`,
    `${HASH16}ldxdw r6, [r1+16]\nand r6, 9\n${LOOKUP()}jeq r0, 0, out\nadd r0, r6\nldxdw r1, [r0+0]\nout:\n${RET0}`,
    'R0 max value is outside of the allowed memory range',
  ),
  ...pair(
    '32-bit bound on a zero-extended value',
    `${HASH16}ldxw r6, [r1+16]\n${LOOKUP()}jeq r0, 0, out\njgt32 r6, 15, out\nadd r0, r6\nldxb r1, [r0+0]\nout:\n${RET0}`,
    `${HASH16}ldxdw r6, [r1+16]\n${LOOKUP()}jeq r0, 0, out\njgt32 r6, 15, out\nadd r0, r6\nldxb r1, [r0+0]\nout:\n${RET0}`,
    'unbounded min value',
  ),
  ...pair(
    'equality refines',
    `${HASH16}ldxdw r6, [r1+16]\n${LOOKUP()}jeq r0, 0, out\njne r6, 15, out\nadd r0, r6\nldxb r1, [r0+0]\nout:\n${RET0}`,
    `${HASH16}ldxdw r6, [r1+16]\n${LOOKUP()}jeq r0, 0, out\njne r6, 16, out\nadd r0, r6\nldxb r1, [r0+0]\nout:\n${RET0}`,
    'invalid access to map value, value_size=16 off=16 size=1',
  ),
  ...pair(
    'linked copies share bounds',
    `${HASH16}ldxdw r6, [r1+16]\n${LOOKUP()}jeq r0, 0, out\nmov r2, r6\njgt r2, 15, out\nadd r0, r6\nldxb r1, [r0+0]\nout:\n${RET0}`,
    `${HASH16}ldxdw r6, [r1+16]\n${LOOKUP()}jeq r0, 0, out\nmov r2, r6\nadd r6, 1\njgt r2, 15, out\nadd r0, r6\nldxb r1, [r0+0]\nout:\n${RET0}`,
    'unbounded min value',
  ),
  ...pair(
    'null check reaches spilled copies',
    `${HASH16}${LOOKUP()}stxdw [r10-16], r0\njeq r0, 0, out\nldxdw r1, [r10-16]\nldxdw r1, [r1+0]\nout:\n${RET0}`,
    `${HASH16}${LOOKUP()}stxdw [r10-16], r0\njne r0, 0, out\nldxdw r1, [r10-16]\nldxdw r1, [r1+0]\nout:\n${RET0}`,
    "R1 invalid mem access 'scalar'",
  ),
  ...pair(
    'read-only map',
    `.map a array key=4 value=16 entries=4 flags=0x80\n${LOOKUP('a')}jeq r0, 0, out\nldxdw r1, [r0+0]\nout:\n${RET0}`,
    `.map a array key=4 value=16 entries=4 flags=0x80\n${LOOKUP('a')}jeq r0, 0, out\nstdw [r0+0], 1\nout:\n${RET0}`,
    'write into map forbidden',
  ),
  ...pair(
    'array lookup with constant key in range needs no null check',
    `${ARRAY16}${LOOKUP('a')}ldxdw r1, [r0+0]\n${RET0}`,
    `${ARRAY16}stw [r10-4], 4\nmov r2, r10\nadd r2, -4\nlddw r1, map:a\ncall 1\nldxdw r1, [r0+0]\n${RET0}`,
    "R0 invalid mem access 'map_value_or_null'",
  ),
  // ---- pointer arithmetic
  ...pair('pointer multiply', 'mov r2, r10\nadd r2, -8\nmov r0, 0\nexit\n', 'mov r2, r10\nmul r2, 2\nmov r0, 0\nexit\n', 'R2 pointer arithmetic with *= operator prohibited'),
  ...pair('32-bit pointer arithmetic', 'mov r2, r10\nadd r2, 1\nmov r0, 0\nexit\n', 'mov r2, r10\nadd32 r2, 1\nmov r0, 0\nexit\n', 'R2 32-bit pointer arithmetic prohibited'),
  ...pair('pointer shift', 'mov r2, r10\nadd r2, 8\nmov r0, 0\nexit\n', 'mov r2, r10\nlsh r2, 1\nmov r0, 0\nexit\n', 'R2 pointer arithmetic with <<= operator prohibited'),
  ...pair('subtraction from stack pointer', 'mov r2, r10\nadd r2, -8\nmov r0, 0\nexit\n', 'mov r2, r10\nsub r2, 8\nmov r0, 0\nexit\n', 'R2 subtraction from stack pointer prohibited'),
  ...pair('arithmetic on or-null pointer', `${HASH16}${LOOKUP()}jeq r0, 0, out\nadd r0, 8\nout:\n${RET0}`, `${HASH16}${LOOKUP()}add r0, 8\njeq r0, 0, out\nout:\n${RET0}`, 'R0 pointer arithmetic on map_value_or_null prohibited, null-check it first'),
  ...pair('arithmetic on map pointer', `${HASH16}lddw r1, map:m\nadd r1, 0\n${RET0}`, `${HASH16}lddw r1, map:m\nadd r1, 8\n${RET0}`, 'R1 pointer arithmetic on map_ptr prohibited'),
  ...pair('subtracting pointers', 'mov r2, r10\nmov r3, r10\nsub r2, r3\nmov r0, r2\nexit\n', 'mov r2, r10\nmov r3, 8\nsub r3, r2\nmov r0, 0\nexit\n', 'R3 tried to subtract pointer from scalar'),
  ...pair(
    'pointer plus unbounded scalar',
    `${HASH16}ldxdw r6, [r1+16]\nand r6, 15\n${LOOKUP()}jeq r0, 0, out\nadd r0, r6\nout:\n${RET0}`,
    `${HASH16}ldxdw r6, [r1+16]\n${LOOKUP()}jeq r0, 0, out\nadd r0, r6\nout:\n${RET0}`,
    'math between map_value pointer and register with unbounded min value is not allowed',
  ),
  // ---- helpers
  ...pair('unknown helper', 'call 5\nexit\n', 'call 9999\nexit\n', 'invalid func unknown#9999'),
  // This kernel is built without CONFIG_BPF_KPROBE_OVERRIDE, so Linux rejects override_return even on kprobes.
  ...pair('helper per program type', 'mov r2, 0\ncall 58\nmov r0, 0\nexit\n', 'mov r2, 0\ncall 58\nmov r0, 0\nexit\n', 'program of this type cannot use helper bpf_override_return#58', { type: 'kprobe', linux: false }, { type: 'tracepoint' }),
  ...pair('socket filter helpers', 'call 14\nexit\n', 'mov r1, r10\nadd r1, -8\nmov r2, 8\nmov r3, 0\ncall 4\nmov r0, 0\nexit\n', 'program of this type cannot use helper bpf_probe_read#4', { type: 'socket_filter' }),
  ...pair('GPL-only helper', 'mov r1, r10\nadd r1, -8\nmov r2, 8\nmov r3, 0\ncall 112\nmov r0, 0\nexit\n', 'mov r1, r10\nadd r1, -8\nmov r2, 8\nmov r3, 0\ncall 112\nmov r0, 0\nexit\n', 'cannot call GPL-restricted function from non-GPL compatible program', {}, { gpl: false }),
  ...pair('map key must be memory', `${HASH16}${LOOKUP()}${RET0}`, `${HASH16}mov r2, 0\nlddw r1, map:m\ncall 1\n${RET0}`, 'R2 type=scalar expected=fp'),
  ...pair('map argument must be a map', `${HASH16}${LOOKUP()}${RET0}`, `${HASH16}stw [r10-4], 0\nmov r2, r10\nadd r2, -4\nmov r1, 0\ncall 1\n${RET0}`, 'R1 type=scalar expected=map_ptr'),
  ...pair('map key initialised', `${HASH16}${LOOKUP()}${RET0}`, `${HASH16}mov r2, r10\nadd r2, -4\nlddw r1, map:m\ncall 1\n${RET0}`, 'invalid indirect read from stack R2', {}, { linux: true }),
  ...pair('map key inside the stack', `${HASH16}stw [r10-4], 0\nmov r2, r10\nadd r2, -4\nlddw r1, map:m\ncall 1\n${RET0}`, `${HASH16}stw [r10-4], 0\nmov r2, r10\nadd r2, -2\nlddw r1, map:m\ncall 1\n${RET0}`, 'invalid read from stack R2 off=-2 size=4'),
  ...pair('map update value size', `${HASH16}stw [r10-4], 0\nstdw [r10-16], 0\nstdw [r10-24], 0\nmov r2, r10\nadd r2, -4\nmov r3, r10\nadd r3, -24\nmov r4, 0\nlddw r1, map:m\ncall 2\n${RET0}`, `${HASH16}stw [r10-4], 0\nstdw [r10-16], 0\nstdw [r10-24], 0\nmov r2, r10\nadd r2, -4\nmov r3, r10\nadd r3, -8\nmov r4, 0\nlddw r1, map:m\ncall 2\n${RET0}`, 'invalid read from stack R3 off=-8 size=16'),
  ...pair('helper buffer size constant', 'mov r1, r10\nadd r1, -16\nmov r2, 16\nmov r3, 0\ncall 112\nmov r0, 0\nexit\n', 'mov r1, r10\nadd r1, -16\nmov r2, 17\nmov r3, 0\ncall 112\nmov r0, 0\nexit\n', 'invalid write to stack R1 off=-16 size=17'),
  ...pair('helper buffer size bounded', 'ldxdw r2, [r1+16]\nand r2, 15\nmov r1, r10\nadd r1, -16\nmov r3, 0\ncall 112\nmov r0, 0\nexit\n', 'ldxdw r2, [r1+16]\nand r2, 31\nmov r1, r10\nadd r1, -16\nmov r3, 0\ncall 112\nmov r0, 0\nexit\n', 'invalid write to stack R1 off=-16 size=31'),
  ...pair('helper buffer size not negative', 'ldxw r2, [r1+16]\njgt r2, 16, out\nmov r1, r10\nadd r1, -16\nmov r3, 0\ncall 112\nout:\nmov r0, 0\nexit\n', 'ldxdw r2, [r1+16]\njsgt r2, 16, out\nmov r1, r10\nadd r1, -16\nmov r3, 0\ncall 112\nout:\nmov r0, 0\nexit\n', "R2 min value is negative, either use unsigned or 'var &= const'"),
  ...pair('size must not be zero', 'mov r1, r10\nadd r1, -16\nmov r2, 16\ncall 16\nmov r0, 0\nexit\n', 'mov r1, r10\nadd r1, -16\nmov r2, 0\ncall 16\nmov r0, 0\nexit\n', 'R2 invalid zero-sized read'),
  ...pair('tail call needs a prog array', '.map p prog_array key=4 value=4 entries=4\nlddw r2, map:p\nmov r3, 0\ncall 12\nmov r0, 0\nexit\n', `${HASH16}lddw r2, map:m\nmov r3, 0\ncall 12\nmov r0, 0\nexit\n`, 'expected prog array map for tail call'),
  ...pair('ringbuf map only with ringbuf helpers', `${RB}mov r2, r10\nadd r2, -8\nstdw [r10-8], 0\nmov r3, 8\nmov r4, 0\nlddw r1, map:rb\ncall 130\n${RET0}`, `${RB}${LOOKUP('rb')}${RET0}`, 'invalid zero-sized read'),
  // ---- references (ring buffer)
  ...pair('ringbuf reserve then submit', `${RB}lddw r1, map:rb\nmov r2, 16\nmov r3, 0\ncall 131\njeq r0, 0, out\nmov r1, r0\nmov r2, 0\ncall 132\nout:\n${RET0}`, `${RB}lddw r1, map:rb\nmov r2, 16\nmov r3, 0\ncall 131\njeq r0, 0, out\nout:\n${RET0}`, 'BPF_EXIT instruction in main prog would lead to reference leak'),
  ...pair('ringbuf released on every path', `${RB}ldxdw r6, [r1+16]\nlddw r1, map:rb\nmov r2, 16\nmov r3, 0\ncall 131\njeq r0, 0, out\nmov r1, r0\nmov r2, 0\njeq r6, 1, disc\ncall 132\nja out\ndisc:\ncall 133\nout:\n${RET0}`, `${RB}ldxdw r6, [r1+16]\nlddw r1, map:rb\nmov r2, 16\nmov r3, 0\ncall 131\njeq r0, 0, out\nmov r1, r0\nmov r2, 0\njeq r6, 1, out\ncall 132\nout:\n${RET0}`, 'BPF_EXIT instruction in main prog would lead to reference leak'),
  ...pair('ringbuf submit needs a null check', `${RB}lddw r1, map:rb\nmov r2, 16\nmov r3, 0\ncall 131\njeq r0, 0, out\nmov r1, r0\nmov r2, 0\ncall 132\nout:\n${RET0}`, `${RB}lddw r1, map:rb\nmov r2, 16\nmov r3, 0\ncall 131\nmov r1, r0\nmov r2, 0\ncall 132\n${RET0}`, 'R1 type=ringbuf_mem_or_null expected=ringbuf_mem'),
  ...pair('ringbuf record bounds', `${RB}lddw r1, map:rb\nmov r2, 16\nmov r3, 0\ncall 131\njeq r0, 0, out\nstdw [r0+8], 1\nmov r1, r0\nmov r2, 0\ncall 132\nout:\n${RET0}`, `${RB}lddw r1, map:rb\nmov r2, 16\nmov r3, 0\ncall 131\njeq r0, 0, out\nstdw [r0+16], 1\nmov r1, r0\nmov r2, 0\ncall 132\nout:\n${RET0}`, 'invalid access to memory, mem_size=16 off=16 size=8'),
  ...pair('ringbuf reserve size constant', `${RB}lddw r1, map:rb\nmov r2, 16\nmov r3, 0\ncall 131\njeq r0, 0, out\nmov r1, r0\nmov r2, 0\ncall 133\nout:\n${RET0}`, `${RB}ldxdw r2, [r1+16]\nand r2, 15\nlddw r1, map:rb\nmov r3, 0\ncall 131\njeq r0, 0, out\nmov r1, r0\nmov r2, 0\ncall 133\nout:\n${RET0}`, 'R2 is not a known constant'),
  ...pair('release with zero offset', `${RB}lddw r1, map:rb\nmov r2, 16\nmov r3, 0\ncall 131\njeq r0, 0, out\nmov r1, r0\nmov r2, 0\ncall 132\nout:\n${RET0}`, `${RB}lddw r1, map:rb\nmov r2, 16\nmov r3, 0\ncall 131\njeq r0, 0, out\nmov r1, r0\nadd r1, 8\nmov r2, 0\ncall 132\nout:\n${RET0}`, 'R1 must have zero offset when passed to release func'),
  // ---- branches
  ...pair('dead branch pruned', 'mov r1, 5\njgt r1, 5, bad\nmov r0, 0\nexit\nbad:\nmov r0, r2\nexit\n', 'mov r1, 5\njgt r1, 4, bad\nmov r0, 0\nexit\nbad:\nmov r0, r2\nexit\n', 'R2 !read_ok'),
  ...pair('jset on known bits', 'ldxdw r1, [r1+16]\nand r1, 15\njset r1, 16, bad\nmov r0, 0\nexit\nbad:\nmov r0, r2\nexit\n', 'ldxdw r1, [r1+16]\nand r1, 15\njset r1, 8, bad\nmov r0, 0\nexit\nbad:\nmov r0, r2\nexit\n', 'R2 !read_ok'),
  ...pair('range excludes a branch', 'ldxdw r1, [r1+16]\nand r1, 255\njsgt r1, 255, bad\nmov r0, 0\nexit\nbad:\nmov r0, r2\nexit\n', 'ldxdw r1, [r1+16]\nand r1, 255\njsgt r1, 254, bad\nmov r0, 0\nexit\nbad:\nmov r0, r2\nexit\n', 'R2 !read_ok'),
  ...pair('32-bit compare prunes', 'ldxw r1, [r1+16]\nor32 r1, 1\njeq32 r1, 0, bad\nmov r0, 0\nexit\nbad:\nmov r0, r2\nexit\n', 'ldxw r1, [r1+16]\njeq32 r1, 0, bad\nmov r0, 0\nexit\nbad:\nmov r0, r2\nexit\n', 'R2 !read_ok'),
  ...pair('non-null pointer compared with 0', `${HASH16}${LOOKUP()}jeq r0, 0, out\njeq r0, 0, bad\nout:\n${RET0}bad:\nmov r0, r2\nexit\n`, `${HASH16}${LOOKUP()}jeq r0, 0, out\njne r0, 0, bad\nout:\n${RET0}bad:\nmov r0, r2\nexit\n`, 'R2 !read_ok'),
  ...pair('stack pointer may be compared with 0', 'mov r0, 0\njeq r10, 0, bad\nexit\nbad:\nexit\n', 'jeq r10, 0, bad\nmov r0, 0\nexit\nbad:\nexit\n', 'R0 !read_ok'),
  ...pair('pointer comparisons allowed', 'mov r2, r10\njeq r1, r2, out\nout:\nmov r0, 0\nexit\n', 'mov r2, r10\njeq r1, r2, out\nmov r0, r3\nout:\nmov r0, 0\nexit\n', 'R3 !read_ok'),
  // ---- loops
  ...pair('loop bounded by a constant', 'mov r1, 0\nloop:\nadd r1, 1\njlt r1, 100, loop\nmov r0, 0\nexit\n', 'ldxdw r2, [r1+16]\nmov r1, 0\nloop:\nadd r1, 1\njne r1, r2, loop\nmov r0, 0\nexit\n', 'BPF program is too large. Processed 1000001 insn'),
  ...pair('infinite loop', 'mov r0, 0\nmov r1, 3\nloop:\nsub r1, 1\njne r1, 0, loop\nexit\n', 'mov r0, 0\nloop:\nja loop\n', 'infinite loop detected at insn 1'),
  ...pair(
    'loop index checked against the value size',
    `${HASH16}${LOOKUP()}jeq r0, 0, out\nmov r1, 0\nloop:\nmov r2, r0\nadd r2, r1\nldxb r3, [r2+0]\nadd r1, 1\njlt r1, 16, loop\nout:\n${RET0}`,
    `${HASH16}${LOOKUP()}jeq r0, 0, out\nmov r1, 0\nloop:\nmov r2, r0\nadd r2, r1\nldxb r3, [r2+0]\nadd r1, 1\njle r1, 16, loop\nout:\n${RET0}`,
    'invalid access to map value, value_size=16 off=16 size=1',
  ),
  ...pair(
    'bpf_loop callback',
    'mov r1, 10\nlddw r2, func:cb\nmov r3, 0\nmov r4, 0\ncall 181\nmov r0, 0\nexit\ncb:\nmov r0, 1\nexit\n',
    'mov r1, 10\nlddw r2, func:cb\nmov r3, 0\nmov r4, 0\ncall 181\nmov r0, 0\nexit\ncb:\nmov r0, 2\nexit\n',
    'At callback return the register R0 has smin=2 smax=2 should have been in [0, 1]',
  ),
  ...pair(
    'bpf_loop callback context on the stack',
    'stdw [r10-8], 0\nmov r1, 10\nlddw r2, func:cb\nmov r3, r10\nadd r3, -8\nmov r4, 0\ncall 181\nldxdw r0, [r10-8]\nexit\ncb:\nldxdw r3, [r2+0]\nadd r3, 1\nstxdw [r2+0], r3\nmov r0, 0\nexit\n',
    'stdw [r10-8], 0\nmov r1, 10\nlddw r2, func:cb\nmov r3, r10\nadd r3, -8\nmov r4, 0\ncall 181\nldxdw r0, [r10-8]\nexit\ncb:\nldxdw r3, [r2+8]\nmov r0, 0\nexit\n',
    'invalid read from stack R2 off=0 size=8',
  ),
  // ---- local calls
  ...pair('local call result', 'mov r1, 3\ncall local f\nexit\nf:\nmov r0, r1\nexit\n', 'mov r1, 3\ncall local f\nmov r0, r1\nexit\nf:\nmov r0, 0\nexit\n', 'R1 !read_ok'),
  ...pair(
    'call depth 8 frames',
    'call local f1\nexit\nf1:\ncall local f2\nexit\nf2:\ncall local f3\nexit\nf3:\ncall local f4\nexit\nf4:\ncall local f5\nexit\nf5:\ncall local f6\nexit\nf6:\ncall local f7\nexit\nf7:\nmov r0, 0\nexit\n',
    'call local f1\nexit\nf1:\ncall local f2\nexit\nf2:\ncall local f3\nexit\nf3:\ncall local f4\nexit\nf4:\ncall local f5\nexit\nf5:\ncall local f6\nexit\nf6:\ncall local f7\nexit\nf7:\ncall local f8\nexit\nf8:\nmov r0, 0\nexit\n',
    'the call stack of 9 frames is too deep',
  ),
  ...pair('no recursion', 'call local f\nexit\nf:\nmov r0, 0\nexit\n', 'call local f\nexit\nf:\ncall local f\nexit\n', 'the call stack of 9 frames is too deep'),
  ...pair('callee stack 512', 'call local f\nexit\nf:\nstdw [r10-512], 0\nmov r0, 0\nexit\n', 'call local f\nexit\nf:\nstdw [r10-520], 0\nmov r0, 0\nexit\n', 'invalid write to stack R10 off=-520 size=8'),
  ...pair('callee returns its own stack', 'call local f\nmov r0, 0\nexit\nf:\nmov r0, 0\nexit\n', 'call local f\nmov r0, 0\nexit\nf:\nmov r0, r10\nexit\n', 'cannot return stack pointer to the caller'),
  ...pair('callee writes caller stack', 'mov r1, r10\nadd r1, -8\ncall local f\nldxdw r0, [r10-8]\nexit\nf:\nstdw [r1+0], 7\nmov r0, 0\nexit\n', 'mov r1, r10\nadd r1, -8\ncall local f\nldxdw r0, [r10-8]\nexit\nf:\nstdw [r1+8], 7\nmov r0, 0\nexit\n', 'invalid write to stack R1 off=0 size=8'),
  // ---- atomics and v4 instructions
  ...pair(`atomic on map value, not ctx`, `${HASH16}${LOOKUP()}jeq r0, 0, out\nmov r1, 1\nlock add [r0+8], r1\nout:\n${RET0}`, 'mov r2, 1\nlock add [r1+16], r2\nmov r0, 0\nexit\n', 'BPF_ATOMIC stores into R1 ctx is not allowed'),
  ...pair('atomic fetch bounds', `${HASH16}${LOOKUP()}jeq r0, 0, out\nmov r1, 1\nlock fetch add [r0+8], r1\nout:\n${RET0}`, `${HASH16}${LOOKUP()}jeq r0, 0, out\nmov r1, 1\nlock fetch add [r0+12], r1\nout:\n${RET0}`, 'misaligned value access off 0+0+12 size 8'),
  ...pair('cmpxchg reads r0', 'stdw [r10-8], 0\nmov r0, 0\nmov r1, 1\nlock cmpxchg [r10-8], r1\nexit\n', 'stdw [r10-8], 0\nmov r1, 1\nlock cmpxchg [r10-8], r1\nexit\n', 'R0 !read_ok'),
  ...pair(
    'sign-extending load is signed',
    `${HASH16}${LOOKUP()}jeq r0, 0, out\nldxb r1, [r0+0]\nand r1, 15\nadd r0, r1\nldxb r1, [r0+0]\nout:\n${RET0}`,
    `${HASH16}${LOOKUP()}jeq r0, 0, out\nldxsb r1, [r0+0]\njsgt r1, 15, out\nadd r0, r1\nldxb r1, [r0+0]\nout:\n${RET0}`,
    'min value is negative',
  ),
  ...pair('byte swap of a constant', `${HASH16}${LOOKUP()}jeq r0, 0, out\nmov r1, 0x0f00\nbe16 r1\nadd r0, r1\nldxb r1, [r0+0]\nout:\n${RET0}`, `${HASH16}${LOOKUP()}jeq r0, 0, out\nmov r1, 0x1000\nbe16 r1\nadd r0, r1\nldxb r1, [r0+0]\nout:\n${RET0}`, 'invalid access to map value, value_size=16 off=16 size=1'),
  ...pair('gotol', 'mov r0, 0\nja32 +0\nexit\n', 'mov r0, 0\nja32 +3\nexit\n', 'jump out of range'),
  ...pair('signed division by immediate', 'mov r0, -7\nsdiv r0, -1\nexit\n', 'mov r0, -7\nsmod r0, 0\nexit\n', 'div by zero'),
  // ---- raw (conformance-style) programs: r1 = memory of ctxSize bytes, r2 = its length
  ...pair('raw memory bounds', 'ldxdw r0, [r1+8]\nexit\n', 'ldxdw r0, [r1+9]\nexit\n', 'invalid bpf_context access off=9 size=8', { type: 'raw', noKernel: true }),
  ...pair('raw memory writable', 'stdw [r1+0], 1\nmov r0, r2\nexit\n', 'stdw [r1+16], 1\nmov r0, r2\nexit\n', 'invalid bpf_context access off=16 size=8', { type: 'raw', noKernel: true }),
];

/** Context size used for a case of this type. */
export function caseCtxSize(type: ProgType): number {
  switch (type) {
    case 'tracepoint':
      return 40;
    case 'kprobe':
      return 168;
    case 'socket_filter':
      return 192;
    case 'xdp':
      return 24;
    case 'raw':
      return 16;
  }
}

// A deterministic ExecEnv for tests: a settable current task, a sparse simulated user memory, a
// clock that advances by a fixed step per read, a seeded PRNG, and everything the helpers report
// (trace_printk lines, signals, override_return values) recorded in arrays.

import type { ExecEnv, Runtime, TaskInfo } from '../runtime.js';
import { HELPER_ARGS, HELPER_RET, RegionKind, type VmMemory } from '../memory.js';

export const TEST_ENV_TASK: TaskInfo = {
  pid: 1001,
  tgid: 1000,
  uid: 1000,
  gid: 100,
  comm: 'bash',
  cgroupId: 4242n,
  taskAddr: 0xffff888012345000n,
};

/** User memory of the simulated current process: mapped segments at 64-bit addresses. */
export class TestUserMemory {
  private readonly segs: { start: bigint; bytes: Uint8Array }[] = [];

  /** Map `data` (bytes, or a string stored as UTF-8 plus a NUL) at `addr`. Returns addr. */
  map(addr: bigint | number, data: Uint8Array | string): bigint {
    const start = BigInt(addr);
    const bytes = typeof data === 'string' ? new TextEncoder().encode(`${data}\0`) : data.slice();
    this.segs.push({ start, bytes });
    return start;
  }

  unmapAll(): void {
    this.segs.length = 0;
  }

  /** Bytes at [addr, addr+len), or undefined if any is unmapped. */
  read(addr: bigint, len: number): Uint8Array | undefined {
    if (len === 0) return new Uint8Array(0);
    for (const s of this.segs) {
      const off = addr - s.start;
      if (off >= 0n && off + BigInt(len) <= BigInt(s.bytes.length)) {
        const o = Number(off);
        return s.bytes.slice(o, o + len);
      }
    }
    return undefined;
  }

  /** Up to `max` bytes from addr, stopping after the first NUL; undefined if addr is unmapped. */
  readStr(addr: bigint, max: number): Uint8Array | undefined {
    for (const s of this.segs) {
      const off = addr - s.start;
      if (off >= 0n && off < BigInt(s.bytes.length)) {
        const o = Number(off);
        const end = Math.min(s.bytes.length, o + max);
        let i = o;
        while (i < end && s.bytes[i] !== 0) i++;
        if (i < end) return s.bytes.slice(o, i + 1); // includes the NUL
        // Ran off the segment before max bytes and before a NUL: the next byte is unmapped.
        if (end - o < max) return undefined;
        return s.bytes.slice(o, end);
      }
    }
    return undefined;
  }
}

export interface TestEnvOptions {
  /** The current task; `null` for none. Default TEST_ENV_TASK. */
  task?: TaskInfo | null;
  /** First ktime_get_ns value (default 1 s); the clock advances by `clockStep` per read (default 1000). */
  ktimeNs?: bigint;
  clockStep?: bigint;
  /** Boot time offset added to ktime for ktime_get_boot_ns (default 0). */
  bootOffsetNs?: bigint;
  seed?: number;
  /** send_signal result (default 0). */
  signalResult?: number;
  /** override_return result (default 0). */
  overrideResult?: number;
}

export class TestEnv implements ExecEnv {
  task: TaskInfo | undefined;
  readonly userMem = new TestUserMemory();
  readonly printk: string[] = [];
  readonly signals: number[] = [];
  readonly overrides: bigint[] = [];
  now: bigint;
  clockStep: bigint;
  bootOffsetNs: bigint;
  signalResult: number;
  overrideResult: number;
  private seed: number;

  constructor(opts: TestEnvOptions = {}) {
    this.task = opts.task === null ? undefined : (opts.task ?? { ...TEST_ENV_TASK });
    this.now = opts.ktimeNs ?? 1_000_000_000n;
    this.clockStep = opts.clockStep ?? 1000n;
    this.bootOffsetNs = opts.bootOffsetNs ?? 0n;
    this.seed = (opts.seed ?? 0x12345678) >>> 0 || 1;
    this.signalResult = opts.signalResult ?? 0;
    this.overrideResult = opts.overrideResult ?? 0;
  }

  currentTask(): TaskInfo | undefined {
    return this.task;
  }

  readUser(addrLo: number, addrHi: number, len: number): Uint8Array | undefined {
    return this.userMem.read((BigInt(addrHi >>> 0) << 32n) | BigInt(addrLo >>> 0), len);
  }

  readUserStr(addrLo: number, addrHi: number, max: number): Uint8Array | undefined {
    return this.userMem.readStr((BigInt(addrHi >>> 0) << 32n) | BigInt(addrLo >>> 0), max);
  }

  ktimeNs(): bigint {
    const t = this.now;
    this.now += this.clockStep;
    return t;
  }

  bootNs(): bigint {
    return this.ktimeNs() + this.bootOffsetNs;
  }

  tracePrintk(text: string): void {
    this.printk.push(text);
  }

  sendSignal(sig: number): number {
    this.signals.push(sig);
    return this.signalResult;
  }

  overrideReturn(rc: bigint): number {
    this.overrides.push(rc);
    return this.overrideResult;
  }

  prandomU32(): number {
    // xorshift32: deterministic for a given seed.
    let x = this.seed;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.seed = x >>> 0;
    return this.seed;
  }
}

export function testEnv(opts: TestEnvOptions = {}): TestEnv {
  return new TestEnv(opts);
}

/**
 * Call helper `id` the way an engine does: r1..r5 into the exchange area, then the helper, then
 * r0 back (as an unsigned 64-bit BigInt). For tests and benches.
 */
export function invokeHelper(rt: Runtime, id: number, ...args: (number | bigint)[]): bigint {
  const h = rt.helpers[id];
  if (h === undefined) throw new Error(`no helper ${id}`);
  for (let i = 0; i < 5; i++) {
    rt.mem.dv.setBigUint64(HELPER_ARGS + i * 8, BigInt.asUintN(64, BigInt(args[i] ?? 0)), true);
  }
  h(rt);
  return rt.mem.dv.getBigUint64(HELPER_RET, true);
}

/** A scratch region (kind Stack, writable) of `size` bytes for helper tests; returns its address. */
export function scratch(mem: VmMemory, size: number, writable = true, kind: RegionKind = RegionKind.Stack): number {
  const a = mem.alloc(size);
  mem.addRegion(a.addr, size, kind, writable);
  return a.addr;
}

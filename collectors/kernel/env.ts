// The ExecEnv the simulated kernel gives the helpers: one mutable object per kernel, pointed at
// the current task and its user memory before each hook firing, collecting verdicts
// (send_signal, override_return) that the kernel then applies.

import type { ExecEnv, TaskInfo } from '../../engine/runtime.js';
import { EINVAL, ESRCH } from '../../engine/runtime.js';
import type { UserMemory } from './user-memory.js';

export class KernelEnv implements ExecEnv {
  task: TaskInfo | undefined;
  user: UserMemory | undefined;
  /** Event time (ns since the epoch) of the current firing. */
  nowNs = 0n;
  /** Wall-clock ns at which the simulated machine booted (ktime 0). */
  bootWallNs = 0n;
  cpu = 0;
  /** Verdicts of the current firing. */
  signal = 0;
  override: bigint | undefined;
  /** Whether override_return is honoured (kprobe hooks only, as in Linux). */
  overrideAllowed = false;
  private rng: number;

  constructor(
    seed: number,
    private readonly trace: ((line: string) => void) | undefined,
  ) {
    this.rng = seed >>> 0 || 0x9e3779b9;
  }

  resetVerdicts(): void {
    this.signal = 0;
    this.override = undefined;
  }

  currentTask(): TaskInfo | undefined {
    return this.task;
  }

  readUser(addrLo: number, addrHi: number, len: number): Uint8Array | undefined {
    return this.user?.read(addrLo, addrHi, len);
  }

  readUserInto(dst: Uint8Array, dstOff: number, addrLo: number, addrHi: number, len: number): boolean {
    return this.user !== undefined && this.user.readInto(dst, dstOff, addrLo, addrHi, len);
  }

  readUserStr(addrLo: number, addrHi: number, max: number): Uint8Array | undefined {
    return this.user?.readStr(addrLo, addrHi, max);
  }

  ktimeNs(): bigint {
    return this.nowNs - this.bootWallNs;
  }

  bootNs(): bigint {
    return this.nowNs - this.bootWallNs;
  }

  tracePrintk(text: string): void {
    if (this.trace === undefined) return;
    const t = this.task;
    const ns = this.ktimeNs();
    const secs = `${ns / 1_000_000_000n}.${((ns % 1_000_000_000n) / 1000n).toString().padStart(6, '0')}`;
    // trace_pipe's line: task-pid, [cpu], irq/preempt flags, timestamp, function, text.
    const who = `${t?.comm ?? '<idle>'}-${t?.pid ?? 0}`;
    this.trace(`${who.padStart(22)} [${this.cpu.toString().padStart(3, '0')}] d..31 ${secs.padStart(12)}: bpf_trace_printk: ${text}`);
  }

  sendSignal(sig: number): number {
    if (this.task === undefined) return -ESRCH;
    if (!Number.isInteger(sig) || sig < 1 || sig > 64) return -EINVAL;
    // SIGKILL wins over anything sent earlier in the same firing.
    if (this.signal !== 9) this.signal = sig;
    return 0;
  }

  overrideReturn(rc: bigint): number {
    if (!this.overrideAllowed) return -EINVAL;
    this.override = BigInt.asIntN(64, rc);
    return 0;
  }

  prandomU32(): number {
    // xorshift32: deterministic under a seed.
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x >>> 0;
    return this.rng;
  }
}

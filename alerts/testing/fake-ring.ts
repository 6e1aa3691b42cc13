// An in-memory ring source for tests: records pushed by the test, drops and wake-ups under its control.

import type { RingSource } from '../engine.js';

export class FakeRing implements RingSource {
  readonly queue: Uint8Array[] = [];
  ring = 0;
  prog = 0;
  name = 'fake';
  private wake: (() => void) | undefined;

  push(rec: Uint8Array, wakeup = false): void {
    this.queue.push(rec);
    if (wakeup) this.wake?.();
  }

  consume(cb: (data: Uint8Array, len: number) => number | void, max = Number.POSITIVE_INFINITY): number {
    let n = 0;
    while (n < max && this.queue.length > 0) {
      const r = this.queue.shift() as Uint8Array;
      n++;
      const rc = cb(r, r.length);
      if (typeof rc === 'number' && rc < 0) break;
    }
    return n;
  }

  ringDrops(): number {
    return this.ring;
  }

  programDrops(): number {
    return this.prog;
  }

  onWakeup(fn: () => void): () => void {
    this.wake = fn;
    return () => {
      this.wake = undefined;
    };
  }
}

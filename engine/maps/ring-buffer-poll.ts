// libbpf's `struct ring_buffer`: several ring-buffer maps, each with its own sample callback,
// consumed together, plus an asynchronous poll that waits for a wake-up (what epoll on the map fds
// gives libbpf) or a timeout. Wake-ups arrive synchronously from inside a program run; poll only
// resolves a promise, so consuming never re-enters a running program.

import { RingBufConsumer, type RingBufMap, type RingBufSampleCb } from './ringbuf.js';

interface Entry {
  map: RingBufMap;
  consumer: RingBufConsumer;
  cb: RingBufSampleCb;
  previous: (() => void) | undefined;
}

export class RingBuffer {
  private readonly rings: Entry[] = [];
  private pendingWake = false;
  private waiter: (() => void) | undefined;
  private closed = false;

  /** ring_buffer__add: consume `map` with `cb`. */
  add(map: RingBufMap, cb: RingBufSampleCb): this {
    const previous = map.onWakeup;
    const entry: Entry = { map, consumer: new RingBufConsumer(map), cb, previous };
    map.onWakeup = () => {
      previous?.();
      this.wake();
    };
    this.rings.push(entry);
    return this;
  }

  private wake(): void {
    this.pendingWake = true;
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /**
   * ring_buffer__consume: drain every ring in order. Returns the samples consumed, or the first
   * negative callback return (as libbpf does).
   */
  consume(): number {
    this.pendingWake = false;
    let total = 0;
    for (const r of this.rings) {
      const n = r.consumer.consume(r.cb);
      if (n < 0) return n;
      total += n;
    }
    return total;
  }

  /**
   * ring_buffer__poll: wait until a producer wakes us (or data is already waiting) or `timeoutMs`
   * passes, then consume. Resolves to the samples consumed (0 on timeout).
   */
  async poll(timeoutMs: number): Promise<number> {
    if (this.closed) return 0;
    if (!this.pendingWake && !this.rings.some((r) => r.consumer.available > 0)) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          this.waiter = undefined;
          resolve();
        }, Math.max(0, timeoutMs));
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    return this.consume();
  }

  /** Samples waiting across all rings (bytes, as producer_pos - consumer_pos). */
  get available(): number {
    return this.rings.reduce((n, r) => n + r.consumer.available, 0);
  }

  /** ring_buffer__free: stop listening (restores each map's previous wake-up hook). */
  close(): void {
    this.closed = true;
    for (const r of this.rings) r.map.onWakeup = r.previous;
    this.rings.length = 0;
    this.wake();
  }
}

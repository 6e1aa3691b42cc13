// The drain over the engine's real ring buffer and a per-CPU drop counter map, in VM memory.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { VmMemory } from '../engine/memory.js';
import { createMap } from '../engine/maps/index.js';
import { RingBufConsumer, RingBufMap } from '../engine/maps/ringbuf.js';
import { BPF_MAP_TYPE_RINGBUF } from '../engine/maps/types.js';
import { createAlertEngine, dropCounterReader, ringSource, type AlertEngine } from './engine.js';
import { DROP_COUNTER_MAP, encodeRecord, KIND_STR, type RuleTable } from './record-format.js';
import { DROP_RULE } from './alert.js';
import { tempDir } from './test-helpers.js';

const rules: RuleTable = {
  rules: [{ name: 'Shell', priority: 'WARNING', tags: ['shell'], output: 'shell %proc.name. in %container.id', source: 'syscall' }],
  fields: ['proc.name', 'container.id'],
};

let tmp: ReturnType<typeof tempDir>;
let engine: AlertEngine | undefined;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(async () => {
  await engine?.close(0);
  engine = undefined;
  tmp.cleanup();
});

describe('drain over engine/maps ring buffer', () => {
  it('consumes submitted records, skips discarded ones, counts failed reservations and program drops', async () => {
    const mem = new VmMemory({ initialBytes: 1 << 20 });
    const map = createMap(mem, { name: 'events', type: BPF_MAP_TYPE_RINGBUF, keySize: 0, valueSize: 0, maxEntries: 4096, flags: 0 });
    if (!(map instanceof RingBufMap)) throw new Error('expected a RingBufMap');
    const drops = createMap(mem, { ...DROP_COUNTER_MAP }, { cpus: 2 });
    engine = createAlertEngine({ db: join(tmp.dir, 'rb.db'), rules, deliver: false, dropReportIntervalMs: 0, drainIntervalMs: 60_000, hostname: 'h' });
    engine.attach(ringSource(map, new RingBufConsumer(map), dropCounterReader(drops), 'events'));

    const produce = (i: number, discard = false): boolean => {
      const rec = encodeRecord({
        ruleId: 0, ktimeNs: 1_700_000_000_000_000_000n + BigInt(i), pid: 10, tgid: 10, cgroupId: 3n,
        values: [
          { fieldId: 0, value: { kind: KIND_STR, value: 'sh' } },
          { fieldId: 1, value: { kind: KIND_STR, value: `ctr${i}` } },
        ],
      });
      const at = map.reserve(rec.length);
      if (at === 0) return false;
      mem.u8.set(rec, at);
      if (discard) map.discard(at);
      else map.submit(at);
      return true;
    };
    expect(produce(0)).toBe(true);
    expect(produce(1, true)).toBe(true);
    let ok = 0;
    let failed = 0;
    for (let i = 2; i < 100; i++) (produce(i) ? ok++ : failed++);
    expect(failed).toBeGreaterThan(0);
    expect(map.drops).toBe(failed);
    // Programs count the same failures per CPU in kestrel_drops.
    const v = new Uint8Array(16);
    new DataView(v.buffer).setUint32(0, 2, true);
    new DataView(v.buffer).setUint32(8, 3, true);
    drops.update(new Uint8Array(4), v);

    let n = 0;
    while ((n = engine.drainNow()) > 0) expect(n).toBeGreaterThan(0);
    const incidents = engine.store.list({ limit: 0 });
    const shells = incidents.filter((i) => i.rule === 'Shell');
    expect(shells.length).toBe(1 + ok);
    expect(shells.some((s) => s.output === 'shell sh. in ctr1')).toBe(false); // discarded
    expect(shells.find((s) => s.container_id === 'ctr0')?.output).toBe('shell sh. in ctr0');
    const dropInc = incidents.filter((i) => i.rule === DROP_RULE);
    expect(dropInc.length).toBe(1);
    expect(dropInc[0].output_fields).toMatchObject({ n_drops_ringbuf: failed, n_drops_programs: 5 });
    expect(engine.metrics()).toMatchObject({ drops_ringbuf: failed, drops_programs: 5 });
    // The ring is empty again and the producer has room.
    expect(produce(200)).toBe(true);
  });

  it('wake-ups from submit schedule a drain', async () => {
    const mem = new VmMemory({ initialBytes: 1 << 20 });
    const map = createMap(mem, { name: 'events', type: BPF_MAP_TYPE_RINGBUF, keySize: 0, valueSize: 0, maxEntries: 4096, flags: 0 });
    if (!(map instanceof RingBufMap)) throw new Error('expected a RingBufMap');
    engine = createAlertEngine({ db: join(tmp.dir, 'wk.db'), rules, deliver: false, drainIntervalMs: 60_000 });
    engine.attach(ringSource(map, new RingBufConsumer(map)));
    const rec = encodeRecord({ ruleId: 0, ktimeNs: 1n, pid: 1, tgid: 1, cgroupId: 1n, values: [] });
    const at = map.reserve(rec.length);
    mem.u8.set(rec, at);
    map.submit(at);
    const start = Date.now();
    while (engine.store.count() === 0 && Date.now() - start < 2000) await new Promise((r) => setTimeout(r, 5));
    expect(engine.store.list()[0]).toMatchObject({ rule: 'Shell', output: 'shell <NA>. in <NA>', container_id: 'host' });
  });
});

import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { openSource } from './sources.js';
import { loadConfig } from '../config/load.js';
import type { SourceConfig } from '../config/schema.js';
import type { KestrelEvent } from './events.js';

const base: SourceConfig = loadConfig({ env: {}, file: undefined }).config.source;

async function collect(it: AsyncIterable<KestrelEvent>, max = Infinity): Promise<KestrelEvent[]> {
  const out: KestrelEvent[] = [];
  for await (const ev of it) {
    out.push(ev);
    if (out.length >= max) break;
  }
  return out;
}

describe('openSource', () => {
  it('simulate: bounded, deterministic, simulated time', async () => {
    const a = await collect(openSource({ ...base, type: 'simulate', count: 300, seed: 4, rate: 0 }).events);
    const b = await collect(openSource({ ...base, type: 'simulate', count: 300, seed: 4, rate: 0 }).events);
    expect(a).toHaveLength(300);
    expect(a).toEqual(b);
  });

  it('simulate as the daemon runs it: looping, wall-clock stamps, stops on abort', async () => {
    const ac = new AbortController();
    const src = openSource({ ...base, type: 'simulate', loop: true, rate: 0 }, ac.signal);
    const before = BigInt(Date.now()) * 1_000_000n;
    const evs = await collect(src.events, 50);
    ac.abort();
    expect(evs).toHaveLength(50);
    expect(evs[0].ts >= before).toBe(true);
    expect(src.description).toMatch(/looping/);
  });

  it('replay: tetragon format', async () => {
    const path = fileURLToPath(new URL('./fixtures/tetragon-export.json', import.meta.url));
    const bad: string[] = [];
    const evs = await collect(openSource({ ...base, type: 'replay', path, format: 'tetragon' }, undefined, { onBadLine: (e) => bad.push(e.message) }).events);
    expect(evs).toHaveLength(13);
    expect(bad).toHaveLength(1);
  });

  it('procfs: a first scan of existing processes', async () => {
    const ac = new AbortController();
    const evs = await collect(openSource({ ...base, type: 'procfs', interval: 50 }, ac.signal).events, 1);
    ac.abort();
    expect(evs[0]).toMatchObject({ type: 'exec', synthetic: true });
  });
});

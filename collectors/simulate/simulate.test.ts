import { describe, expect, it } from 'vitest';
import { Simulator } from './runner.js';
import { loadScenarios, builtinScenarioNames } from './pack.js';
import { parseScenario, ScenarioError } from './scenario.js';
import { formatEvent } from '../ndjson.js';
import { ProcessTable } from '../process-table.js';
import type { KestrelEvent } from '../events.js';

const take = (sim: Simulator): KestrelEvent[] => [...sim.events()];

describe('scenario pack', () => {
  const pack = loadScenarios(['builtin']);

  it('has services and at least 12 attacks, all valid', () => {
    const names = builtinScenarioNames();
    expect(names.filter((n) => n.startsWith('service-')).length).toBeGreaterThanOrEqual(4);
    expect(names.filter((n) => n.startsWith('attack-')).length).toBeGreaterThanOrEqual(12);
    expect(pack.length).toBe(names.length);
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const a = take(new Simulator(pack, { seed: 42, count: 2000, loop: true })).map(formatEvent);
    const b = take(new Simulator(pack, { seed: 42, count: 2000, loop: true })).map(formatEvent);
    const c = take(new Simulator(pack, { seed: 43, count: 2000, loop: true })).map(formatEvent);
    expect(a).toHaveLength(2000);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('every scenario runs to completion with a consistent process tree', () => {
    for (const sc of pack) {
      const evs = take(new Simulator([sc], { seed: 7 }));
      const t = new ProcessTable();
      const live = new Set<number>();
      for (const ev of evs) {
        const ctx = t.apply(ev);
        if (ev.type === 'fork') live.add(ev.child);
        if (ev.type === 'exec') {
          live.add(ev.pid);
          if (ev.synthetic !== true && ev.ppid !== undefined) expect(live.has(ev.ppid), `${sc.name}: parent of ${ev.exe}`).toBe(true);
        }
        if (ev.type === 'connect' || ev.type === 'exit') expect(ctx.process?.partial, `${sc.name}: ${ev.type} of unknown pid`).not.toBe(true);
        if (ev.type === 'exit') live.delete(ev.pid);
      }
      // Everything started is gone at the end.
      expect(live.size, sc.name).toBe(0);
    }
  });

  it('an attack looks like one: the reverse shell runs in its container with a connect back', () => {
    const [sc] = loadScenarios(['attack-reverse-shell']);
    const evs = take(new Simulator([sc], { seed: 3 }));
    const t = new ProcessTable();
    const ctxs = evs.map((e) => t.apply(e));
    const conn = ctxs.find((c) => c.event.type === 'connect');
    expect(conn?.process?.exe).toBe('/bin/bash');
    expect(conn?.container?.imageRepository).toBe('ghcr.io/acme/shop-api');
    expect(conn?.ancestors()[0]?.exe).toBe('/usr/local/bin/node');
    expect(conn?.event).toMatchObject({ daddr: '203.0.113.66' });
  });

  it('stops at a count or a simulated duration and spaces events by the rate', () => {
    const evs = take(new Simulator(pack, { seed: 1, rate: 100, durationMs: 500, loop: true }));
    expect(evs).toHaveLength(50);
    expect(evs[1].ts - evs[0].ts).toBe(10_000_000n);
  });

  it('paces in real time', async () => {
    const sim = new Simulator(pack, { seed: 1, rate: 200, count: 20, loop: true, realtime: true });
    const t0 = Date.now();
    let n = 0;
    for await (const _ of sim.stream()) n++;
    expect(n).toBe(20);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(80);
  });
});

describe('scenario errors name file:line:column', () => {
  const bad = (text: string): string => {
    try {
      parseScenario(text, 'x.yaml');
    } catch (e) {
      if (e instanceof ScenarioError) return e.message;
      throw e;
    }
    throw new Error('expected an error');
  };
  it('reports bad fields, unknown processes and generators', () => {
    expect(bad('steps:\n  - {type: exec, as: a, exe: /bin/sh, uid: root}\n')).toBe('x.yaml:2:44: "uid" must be an integer');
    expect(bad('steps:\n  - {type: connect, process: ghost, daddr: 1.2.3.4}\n')).toMatch(/^x\.yaml:2:30: unknown process "ghost"/);
    expect(bad('steps:\n  - {type: exec, as: a, exe: /x}\n  - {type: connect, process: a, daddr: 1.1.1.1, dport: {range: [9, 1]}}\n')).toMatch(/^x\.yaml:3:\d+: range needs/);
    expect(bad('steps:\n  - {type: teleport}\n')).toMatch(/^x\.yaml:2:\d+: a step needs "type"/);
    expect(bad('name: [oops\n')).toMatch(/^x\.yaml:\d+:\d+: /);
  });
});

describe('scenario weights', () => {
  it('mixes scenarios in proportion to weight (or rate)', () => {
    const busy = parseScenario('name: busy\nrate: 9\nprocesses: {p: {exe: /bin/p}}\nsteps:\n  - repeat: 1000\n    steps: [{type: connect, process: p, daddr: 10.0.0.1, dport: 80}]\n', 'busy.yaml');
    const calm = parseScenario('name: calm\nweight: 1\nprocesses: {q: {exe: /bin/q}}\nsteps:\n  - repeat: 1000\n    steps: [{type: connect, process: q, daddr: 10.0.0.2, dport: 80}]\n', 'calm.yaml');
    const evs = [...new Simulator([busy, calm], { seed: 11, count: 800 }).events()].filter((e) => e.type === 'connect');
    const share = evs.filter((e) => e.type === 'connect' && e.daddr === '10.0.0.1').length / evs.length;
    expect(share).toBeGreaterThan(0.85);
    expect(share).toBeLessThan(0.95);
  });
});

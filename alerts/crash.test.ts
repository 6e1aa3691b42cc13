// SIGKILL recovery with real processes: a child runs the alert engine over a burst of matches
// and is killed with -9 mid-burst while the webhook receiver is down. Nothing the child reported
// as stored may be missing, and after a restart the receiver gets every queued delivery, each
// delivery id acknowledged once.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { transpileAlerts } from './testing/transpile.js';
import { startReceiver, waitFor } from './testing/receiver.js';
import { tempDir } from './test-helpers.js';

const CHILD = `
import { createAlertEngine } from './alerts/engine.js';
import { encodeRecord } from './alerts/record-format.js';
import { FakeRing } from './alerts/testing/fake-ring.js';
const [db, url, mode] = process.argv.slice(2);
const rules = { rules: [{ name: 'Burst rule', priority: 'WARNING', tags: ['t'], output: 'burst in %container.id', source: 'syscall' }], fields: ['container.id'] };
const engine = createAlertEngine({
  db, rules, hostname: 'crash-host', aggregationWindowMs: 60000,
  webhooks: [{ url, expire: 3600000, timeout: 1000 }],
  delivery: { pollMs: 10, backoffBaseMs: 20, backoffMaxMs: 100 },
  drainIntervalMs: 5,
  onStored: (r) => { if (r.created.length) process.stdout.write('stored ' + r.created.join(',') + '\\n'); },
});
const ring = new FakeRing();
engine.attach(ring);
if (mode === 'burst') {
  let i = 0;
  const tick = () => {
    // Every record a new container: a new incident each, so each needs a delivery.
    for (let k = 0; k < 25; k++, i++) {
      ring.push(encodeRecord({ ruleId: 0, ktimeNs: 1700000000000000000n + BigInt(i), pid: i, tgid: i, cgroupId: 5n,
        values: [{ fieldId: 0, value: { kind: 3, value: 'c' + i } }] }));
    }
    setTimeout(tick, 1);
  };
  tick();
} else {
  setInterval(() => {}, 1000);
}
process.stdout.write('ready\\n');
`;

let tmp: ReturnType<typeof tempDir>;
let dir: string;
beforeAll(() => {
  tmp = tempDir('kestrel-crash-');
  dir = transpileAlerts(join(tmp.dir, 'js'));
  writeFileSync(join(dir, 'child.mjs'), CHILD);
});
afterAll(() => tmp.cleanup());

function run(db: string, url: string, mode: string): { child: ChildProcess; stored: Set<number>; lines: string[] } {
  const child = spawn(process.execPath, ['child.mjs', db, url, mode], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
  const stored = new Set<number>();
  const lines: string[] = [];
  let buf = '';
  child.stdout?.on('data', (c: Buffer) => {
    buf += c.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      lines.push(line);
      if (line.startsWith('stored ')) for (const id of line.slice(7).split(',')) stored.add(Number(id));
    }
  });
  return { child, stored, lines };
}

function exited(c: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) resolve();
    else c.once('exit', () => resolve());
  });
}

describe('SIGKILL in a burst', () => {
  it('loses no stored incident and no queued delivery; the receiver gets everything after restart', async () => {
    const db = join(tmp.dir, 'crash.db');
    // Reserve a port, then leave it closed: the receiver is down during the burst.
    const probe = await startReceiver();
    const port = probe.port;
    await probe.close();
    const url = `http://127.0.0.1:${port}/hook`;

    const a = run(db, url, 'burst');
    expect(await waitFor(() => a.stored.size >= 300, 20_000)).toBe(true);
    a.child.kill('SIGKILL');
    await exited(a.child);
    expect(a.child.signalCode).toBe('SIGKILL');

    const check = new Database(db, { readonly: true });
    const ids = new Set((check.prepare('SELECT id FROM incidents').all() as { id: number }[]).map((r) => r.id));
    for (const id of a.stored) expect(ids.has(id)).toBe(true);
    // Every stored incident has its delivery queued (same transaction), none delivered.
    const outbox = check.prepare("SELECT incident_id, uuid, state FROM outbox").all() as { incident_id: number; uuid: string; state: string }[];
    check.close();
    expect(new Set(outbox.map((o) => o.incident_id))).toEqual(ids);
    expect(outbox.every((o) => o.state === 'pending')).toBe(true);

    // Receiver back on the same port; restart the engine with no new input.
    const rx = await startReceiver(() => 200, port);
    const b = run(db, url, 'resume');
    try {
      const want = new Set(outbox.map((o) => o.uuid));
      const got = (): Set<string> => new Set(rx.requests.map((r) => String(r.headers['x-kestrel-delivery'])));
      expect(await waitFor(() => got().size >= want.size, 20_000)).toBe(true);
      expect(got()).toEqual(want);
      // Bodies carry the matching incident ids.
      const incs = new Set(rx.requests.map((r) => (JSON.parse(r.body) as { incident_id: number }).incident_id));
      expect(incs).toEqual(ids);
      await new Promise((r) => setTimeout(r, 200));
      // Acknowledged once each: no duplicates under the same id.
      expect(rx.requests.length).toBe(want.size);
    } finally {
      b.child.kill('SIGKILL');
      await exited(b.child);
      await rx.close();
    }
    const after = new Database(db, { readonly: true });
    const states = after.prepare('SELECT state, count(*) AS n FROM outbox GROUP BY state').all();
    after.close();
    expect(states).toEqual([{ state: 'delivered', n: outbox.length }]);
  });
});

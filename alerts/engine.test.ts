import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createAlertEngine, ringSource, type AlertEngine } from './engine.js';
import { encodeRecord, KIND_IPV4, KIND_STR, KIND_U64, KIND_STRLIST, type RuleTable } from './record-format.js';
import { DROP_RULE } from './alert.js';
import { FakeRing } from './testing/fake-ring.js';
import { startReceiver, waitFor, type Receiver } from './testing/receiver.js';
import { tempDir } from './test-helpers.js';
import { verifySignature } from './webhooks/sign.js';
import { createLogger } from './log.js';
import { defaultRenderer } from './render.js';

const rules: RuleTable = {
  rules: [
    {
      name: 'Terminal shell in container',
      priority: 'NOTICE',
      tags: ['shell', 'container', 'mitre_execution'],
      output: 'A shell was spawned in a container (user=%user.name process=%proc.name cmdline=%proc.cmdline container_id=%container.id)',
      source: 'syscall',
    },
    {
      name: 'Outbound to miner pool',
      priority: 'CRITICAL',
      tags: ['network'],
      output: 'Connection to %fd.sip:%fd.sport by %proc.name',
      source: 'syscall',
    },
  ],
  fields: ['proc.name', 'proc.cmdline', 'container.id', 'fd.sip', 'fd.sport', 'proc.exepath', 'user.name'],
};

const T0 = 1_700_000_000_000_000_000n;

function shellRecord(i: number, container = 'c0ffee000001'): Uint8Array {
  return encodeRecord({
    ruleId: 0,
    ktimeNs: T0 + BigInt(i) * 1_000_000n,
    pid: 100 + i,
    tgid: 100 + i,
    cgroupId: 77n,
    values: [
      { fieldId: 0, value: { kind: KIND_STR, value: 'bash' } },
      { fieldId: 1, value: { kind: KIND_STRLIST, value: ['bash', '-i'] } },
      { fieldId: 2, value: { kind: KIND_STR, value: container } },
      { fieldId: 5, value: { kind: KIND_STR, value: '/bin/bash' } },
    ],
  });
}

function minerRecord(i: number): Uint8Array {
  return encodeRecord({
    ruleId: 1,
    ktimeNs: T0 + BigInt(i) * 1_000_000n,
    pid: 500,
    tgid: 500,
    cgroupId: 78n,
    values: [
      { fieldId: 0, value: { kind: KIND_STR, value: 'xmrig' } },
      { fieldId: 3, value: { kind: KIND_IPV4, value: '198.51.100.7' } },
      { fieldId: 4, value: { kind: KIND_U64, value: 3333 } },
      { fieldId: 2, value: { kind: KIND_STR, value: `miner${i}` } },
    ],
  });
}

let tmp: ReturnType<typeof tempDir>;
let engine: AlertEngine | undefined;
const receivers: Receiver[] = [];
beforeEach(() => {
  tmp = tempDir();
});
afterEach(async () => {
  await engine?.close(100);
  engine = undefined;
  for (const r of receivers.splice(0)) await r.close();
  tmp.cleanup();
});

describe('drain and incidents', () => {
  it('decodes records into rendered, aggregated incidents', () => {
    const ring = new FakeRing();
    engine = createAlertEngine({ db: join(tmp.dir, 'e.db'), rules, hostname: 'node-1', deliver: false });
    engine.attach(ring);
    for (let i = 0; i < 5; i++) ring.push(shellRecord(i));
    ring.push(minerRecord(0));
    ring.push(new Uint8Array([1, 2, 3])); // malformed
    expect(engine.drainNow()).toBe(7);
    const list = engine.store.list();
    expect(list.length).toBe(2);
    const shell = list.find((i) => i.rule === 'Terminal shell in container');
    expect(shell).toMatchObject({
      priority: 'Notice',
      count: 5,
      container_id: 'c0ffee000001',
      exe: '/bin/bash',
      hostname: 'node-1',
      status: 'open',
      tags: ['container', 'mitre_execution', 'shell'],
      output: 'A shell was spawned in a container (user=<NA> process=bash cmdline=bash -i container_id=c0ffee000001)',
      first_seen: '2023-11-14T22:13:20.000000000Z',
      last_seen: '2023-11-14T22:13:20.004000000Z',
    });
    expect(shell?.output_fields).toEqual({
      'user.name': null,
      'proc.name': 'bash',
      'proc.cmdline': 'bash -i',
      'container.id': 'c0ffee000001',
      'evt.time': 1700000000000000000n,
    });
    const miner = list.find((i) => i.rule === 'Outbound to miner pool');
    expect(miner?.output).toBe('Connection to 198.51.100.7:3333 by xmrig');
    const m = engine.metrics();
    expect(m).toMatchObject({ records: 7, records_malformed: 1, alerts: 6, incidents_created: 2, incidents_updated: 0, alerts_merged: 4 });
  });

  it('keeps a batch that failed to store and stores it with the next drain', () => {
    const ring = new FakeRing();
    engine = createAlertEngine({ db: join(tmp.dir, 'retry.db'), rules, deliver: false });
    engine.attach(ring);
    const real = engine.store.ingest.bind(engine.store);
    engine.store.ingest = () => {
      throw new Error('database is locked');
    };
    ring.push(shellRecord(0));
    engine.drainNow();
    expect(engine.metrics().store_errors).toBe(1);
    engine.store.ingest = real;
    ring.push(minerRecord(1));
    engine.drainNow();
    expect(engine.store.list().map((i) => i.rule).sort()).toEqual(['Outbound to miner pool', 'Terminal shell in container']);
  });

  it('drains on wake-up without being asked', async () => {
    const ring = new FakeRing();
    engine = createAlertEngine({ db: join(tmp.dir, 'w.db'), rules, deliver: false, drainIntervalMs: 60_000 });
    engine.attach(ring);
    ring.push(shellRecord(0), true);
    expect(await waitFor(() => engine?.store.count() === 1, 2000)).toBe(true);
  });

  it('drains on its timer', async () => {
    const ring = new FakeRing();
    engine = createAlertEngine({ db: join(tmp.dir, 't.db'), rules, deliver: false, drainIntervalMs: 10 });
    engine.attach(ring);
    ring.push(shellRecord(0));
    expect(await waitFor(() => engine?.store.count() === 1, 2000)).toBe(true);
  });

  it('reports drops as metrics and as an incident of their own', () => {
    const ring = new FakeRing();
    engine = createAlertEngine({ db: join(tmp.dir, 'd.db'), rules, deliver: false, dropReportIntervalMs: 0 });
    engine.attach(ring);
    ring.ring = 12;
    ring.prog = 12;
    engine.drainNow();
    ring.ring = 15;
    ring.prog = 14;
    engine.drainNow();
    const drops = engine.store.list({ rule: DROP_RULE });
    expect(drops.map((d) => d.output)).toEqual([
      expect.stringMatching(/^Kestrel dropped 3 events/),
      expect.stringMatching(/^Kestrel dropped 12 events/),
    ]);
    expect(drops[0].output_fields).toMatchObject({ n_drops: 3, n_drops_ringbuf: 3, n_drops_programs: 2 });
    expect(drops[0].priority).toBe('Critical');
    expect(engine.metrics()).toMatchObject({ drops_ringbuf: 15, drops_programs: 14, drop_incidents: 2 });
  });

  it('adapts the engine ring buffer map shape and chains its wake-up', () => {
    const map: { drops: number; onWakeup?: () => void } = { drops: 4 };
    let prev = 0;
    map.onWakeup = () => prev++;
    const q: Uint8Array[] = [shellRecord(0)];
    const src = ringSource(map, { consume: (cb) => { let n = 0; for (const r of q.splice(0)) { cb(r, r.length); n++; } return n; } }, () => 9);
    let woke = 0;
    const off = src.onWakeup?.(() => woke++);
    map.onWakeup?.();
    expect([prev, woke]).toEqual([1, 1]);
    off?.();
    map.onWakeup?.();
    expect([prev, woke]).toEqual([2, 1]);
    expect(src.ringDrops?.()).toBe(4);
    expect(src.programDrops?.()).toBe(9);
    expect(src.consume(() => undefined)).toBe(1);
  });

  it('renders Falco output syntax: args, transformers, %%, missing values', () => {
    const c = defaultRenderer.compile('%proc.aname[2] %tolower(proc.name) 100%% %evt.type done %');
    expect(c.fields).toEqual(['proc.aname[2]', 'tolower(proc.name)', 'evt.type']);
    const v: Record<string, string> = { 'proc.aname[2]': 'sshd', 'tolower(proc.name)': 'bash' };
    expect(c.render((r) => v[r])).toBe('sshd bash 100% <NA> done %');
  });
});

describe('webhooks', () => {
  it('delivers Falco-shaped, signed bodies with the documented headers', async () => {
    const rx = await startReceiver();
    receivers.push(rx);
    const ring = new FakeRing();
    engine = createAlertEngine({
      db: join(tmp.dir, 'h.db'),
      rules,
      hostname: 'node-1',
      webhooks: [{ url: rx.url, secret: 's3cret', headers: { Authorization: 'Bearer abc', 'X-Team': 'sec' }, min_priority: 'notice' }],
      delivery: { pollMs: 20 },
    });
    engine.attach(ring);
    ring.push(shellRecord(0));
    engine.drainNow();
    expect(await waitFor(() => rx.requests.length === 1)).toBe(true);
    const req = rx.requests[0];
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['authorization']).toBe('Bearer abc');
    expect(req.headers['x-team']).toBe('sec');
    expect(verifySignature('s3cret', req.body, req.headers['x-kestrel-signature'] as string)).toBe(true);
    expect(verifySignature('other', req.body, req.headers['x-kestrel-signature'] as string)).toBe(false);
    const body = JSON.parse(req.body) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(['hostname', 'incident_id', 'output', 'output_fields', 'priority', 'rule', 'source', 'tags', 'time', 'uuid']);
    expect(body).toMatchObject({
      hostname: 'node-1',
      priority: 'Notice',
      rule: 'Terminal shell in container',
      source: 'syscall',
      tags: ['container', 'mitre_execution', 'shell'],
      time: '2023-11-14T22:13:20.000000000Z',
      incident_id: 1,
      uuid: req.headers['x-kestrel-delivery'],
    });
    expect(body.output).toBe('22:13:20.000000000: Notice A shell was spawned in a container (user=<NA> process=bash cmdline=bash -i container_id=c0ffee000001)');
    // evt.time is the exact integer, not a float.
    expect(req.body).toContain('"evt.time":1700000000000000000');
    await engine.flush();
    expect(engine.store.deliveries(1)[0]).toMatchObject({ state: 'delivered', attempts: 1, last_status: 200 });
  });

  it('routes by minimum priority, rules and tags', async () => {
    const all = await startReceiver();
    const crit = await startReceiver();
    const net = await startReceiver();
    receivers.push(all, crit, net);
    const ring = new FakeRing();
    engine = createAlertEngine({
      db: join(tmp.dir, 'r.db'),
      rules,
      webhooks: [{ url: all.url }, { url: crit.url, min_priority: 'critical' }, { url: net.url, tags: ['network'], rules: ['Outbound to miner pool'] }],
      delivery: { pollMs: 20 },
    });
    engine.attach(ring);
    ring.push(shellRecord(0));
    ring.push(minerRecord(1));
    engine.drainNow();
    await engine.flush();
    const rulesOf = (r: Receiver): string[] => r.requests.map((q) => (JSON.parse(q.body) as { rule: string }).rule).sort();
    expect(rulesOf(all)).toEqual(['Outbound to miner pool', 'Terminal shell in container']);
    expect(rulesOf(crit)).toEqual(['Outbound to miner pool']);
    expect(rulesOf(net)).toEqual(['Outbound to miner pool']);
  });

  it('a receiver answering 500 for a while gets everything once it recovers, each id acknowledged once', async () => {
    let healthy = false;
    const rx = await startReceiver(() => (healthy ? 200 : 500));
    receivers.push(rx);
    const ring = new FakeRing();
    engine = createAlertEngine({
      db: join(tmp.dir, 'f.db'),
      rules,
      webhooks: [{ url: rx.url }],
      delivery: { pollMs: 10, backoffBaseMs: 10, backoffMaxMs: 40 },
    });
    engine.attach(ring);
    for (let i = 0; i < 20; i++) ring.push(minerRecord(i));
    engine.drainNow();
    expect(await waitFor(() => rx.requests.length >= 40)).toBe(true);
    healthy = true;
    await engine.flush();
    const okIds = new Map<string, number>();
    for (const r of rx.requests.filter((q) => q.status === 200)) {
      const id = r.headers['x-kestrel-delivery'] as string;
      okIds.set(id, (okIds.get(id) ?? 0) + 1);
    }
    expect([...okIds.values()].every((n) => n === 1)).toBe(true);
    expect(okIds.size).toBe(20);
    expect(engine.store.outboxCounts()).toEqual({ pending: 0, delivered: 20, failed: 0 });
    // After the acks, nothing more arrives.
    const n = rx.requests.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(rx.requests.length).toBe(n);
    const d = engine.store.deliveries(1)[0];
    expect(d.attempts).toBeGreaterThan(1);
    expect(engine.metrics().deliveries_retried).toBeGreaterThan(0);
  });

  it('retries timeouts and refused connections, then expires and reports without leaking secrets', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    const logger = createLogger({ level: 'debug', destination: sink });
    // A port with nothing listening: open a receiver and close it.
    const gone = await startReceiver();
    await gone.close();
    const slow = await startReceiver(() => 200);
    receivers.push(slow);
    slow.policy = () => 200;
    engine = createAlertEngine({
      db: join(tmp.dir, 'x.db'),
      rules,
      logger,
      webhooks: [{ url: `http://user:pw@127.0.0.1:${gone.port}/hook?token=abc`, secret: 'TOPSECRET', headers: { Authorization: 'Bearer HIDDEN' }, expire: 150 }],
      delivery: { pollMs: 10, backoffBaseMs: 20, backoffMaxMs: 40 },
    });
    // Logging a config object by mistake still hides the secret.
    logger.info({ webhooks: [{ url: 'x', secret: 'TOPSECRET', headers: { Authorization: 'Bearer HIDDEN' } }] }, 'config');
    const ring = new FakeRing();
    engine.attach(ring);
    ring.push(minerRecord(0));
    engine.drainNow();
    expect(await waitFor(() => engine?.store.outboxCounts().failed === 1, 5000)).toBe(true);
    const d = engine.store.deliveries(1)[0];
    expect(d.state).toBe('failed');
    expect(d.last_error).toMatch(/ECONNREFUSED|fetch failed/);
    expect(d.last_error).toMatch(/expired/);
    expect(engine.metrics().deliveries_failed).toBe(1);
    const text = lines.join('');
    expect(text).toMatch(/webhook delivery failed/);
    expect(text).toMatch(/\[redacted\]/);
    for (const s of ['TOPSECRET', 'HIDDEN', 'token=abc', 'user:pw']) expect(text).not.toContain(s);
  });

  it('times out slow receivers and retries them', async () => {
    let slowNow = true;
    const { createServer } = await import('node:http');
    const hits: string[] = [];
    const server = createServer((req, res) => {
      hits.push(String(req.headers['x-kestrel-delivery']));
      req.resume();
      if (slowNow) {
        slowNow = false;
        setTimeout(() => res.end('late'), 400);
      } else res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    engine = createAlertEngine({
      db: join(tmp.dir, 's.db'),
      rules,
      webhooks: [{ url: `http://127.0.0.1:${port}/`, timeout: 100 }],
      delivery: { pollMs: 10, backoffBaseMs: 10 },
    });
    const ring = new FakeRing();
    engine.attach(ring);
    ring.push(minerRecord(0));
    engine.drainNow();
    expect(await waitFor(() => engine?.store.outboxCounts().delivered === 1, 5000)).toBe(true);
    expect(hits.length).toBe(2);
    expect(hits[0]).toBe(hits[1]);
    expect(engine.store.deliveries(1)[0].attempts).toBe(2);
    server.closeAllConnections();
    server.close();
  });
});

describe('config mapping', () => {
  it('maps kestrel.yaml keys to engine options', async () => {
    const { loadConfig } = await import('../config/load.js');
    const { alertOptionsFromConfig } = await import('./config.js');
    const { config } = loadConfig({ env: { KESTREL_DB: '/tmp/x.db', KESTREL_WEBHOOKS_0_URL: 'http://127.0.0.1:1/h' } });
    const o = alertOptionsFromConfig(config);
    expect(o).toMatchObject({ db: '/tmp/x.db', aggregationWindowMs: 60_000, retention: { maxAgeMs: 30 * 86_400_000, maxIncidents: 1_000_000 } });
    expect(o.webhooks?.[0]).toMatchObject({ url: 'http://127.0.0.1:1/h', timeout: 5000, expire: 86_400_000 });
  });
});

describe('prometheus text', () => {
  it('exposes every counter', async () => {
    const { prometheusText } = await import('./metrics.js');
    const ring = new FakeRing();
    const e = createAlertEngine({ db: join(tmp.dir, 'pm.db'), rules, deliver: false });
    e.attach(ring);
    ring.push(shellRecord(0));
    e.drainNow();
    const text = prometheusText(e.metrics());
    await e.close(0);
    expect(text).toContain('# TYPE kestrel_alerts_records_total counter\nkestrel_alerts_records_total 1\n');
    expect(text).toContain('kestrel_alerts_incidents_created_total 1\n');
    expect(text).toMatch(/kestrel_alerts_deliveries_in_flight 0\n/);
  });
});

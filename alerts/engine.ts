// The alert engine: drains ring buffers (on a short timer and on wake-ups), decodes match
// records, stores them as incidents (one transaction per batch, outbox rows included) and runs
// the webhook delivery worker. This is the public API the daemon uses.
//
//   const engine = createAlertEngine({ db: './kestrel.db', rules, webhooks, hostname });
//   engine.attach(ringSource(map, new RingBufConsumer(map), dropCounter));
//   ...
//   await engine.close(); // drain, store, let in-flight deliveries finish

import { hostname as osHostname } from 'node:os';
import { AlertBuilder, dropAlert, type Alert, type Enricher, type ValueDeriver } from './alert.js';
import { decodeRecord, type RuleTable } from './record-format.js';
import type { OutputRenderer } from './render.js';
import { rulesRenderer } from './render-rules.js';
import { IncidentStore, type IngestResult } from './store/store.js';
import { toEndpoint, type Endpoint, type WebhookSpec } from './webhooks/endpoint.js';
import { DeliveryWorker, type DeliveryOptions } from './webhooks/worker.js';
import { silentLogger, type Logger } from './log.js';
import { nowNs } from './time.js';

/** One ring buffer as the drain sees it. `ringSource` adapts the engine's RingBufMap. */
export interface RingSource {
  /** Consume up to `max` samples in order; the callback must not keep `data` (it is VM memory). */
  consume(cb: (data: Uint8Array, len: number) => number | void, max?: number): number;
  /** Cumulative records lost to a full buffer (the map's failed reservations). */
  ringDrops?(): number;
  /** Cumulative drops counted by the programs themselves (DROP_COUNTER_MAP). */
  programDrops?(): number;
  /** Register a wake-up callback; returns an unsubscribe function. */
  onWakeup?(fn: () => void): () => void;
  name?: string;
}

/** What the engine's RingBufMap and RingBufConsumer offer (structural, so no import cycle). */
export interface RingBufLike {
  drops: number;
  onWakeup?: () => void;
}
export interface RingConsumerLike {
  consume(cb: (data: Uint8Array, len: number) => number | void, max?: number): number;
}

/** Adapt engine/maps/ringbuf.ts: the map (drops, onWakeup), its consumer, and optionally a drop-counter reader. */
export function ringSource(map: RingBufLike, consumer: RingConsumerLike, programDrops?: () => number, name?: string): RingSource {
  return {
    name,
    consume: (cb, max) => consumer.consume(cb, max),
    ringDrops: () => map.drops,
    programDrops,
    onWakeup(fn) {
      const prev = map.onWakeup;
      const mine = (): void => {
        prev?.();
        fn();
      };
      map.onWakeup = mine;
      return () => {
        if (map.onWakeup === mine) map.onWakeup = prev;
      };
    },
  };
}

/** Sum of a per-CPU u64 drop counter (DROP_COUNTER_MAP) read through the map's userspace API. */
export function dropCounterReader(map: { lookup(key: Uint8Array, cpu?: number): Uint8Array | undefined }): () => number {
  const key = new Uint8Array(4);
  return () => {
    const v = map.lookup(key);
    if (v === undefined) return 0;
    const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
    let n = 0;
    for (let o = 0; o + 8 <= v.byteLength; o += 8) n += dv.getUint32(o, true) + dv.getUint32(o + 4, true) * 4294967296;
    return n;
  };
}

export interface AlertEngineOptions {
  /** SQLite path, or an open store. */
  db: string | IncidentStore;
  rules: RuleTable;
  /** ms; default 60 s */
  aggregationWindowMs?: number;
  /** Retention, applied at start and then every `intervalMs` (default 60 s). */
  retention?: { maxAgeMs?: number; maxIncidents?: number; intervalMs?: number };
  webhooks?: readonly WebhookSpec[];
  logger?: Logger;
  hostname?: string;
  renderer?: OutputRenderer;
  enricher?: Enricher;
  clock?: (ktimeNs: bigint) => bigint;
  /** Raw record values → output field values (compiled rule sets: `compiledDeriver`). */
  derive?: ValueDeriver;
  /** Drain period (ms); wake-ups also trigger a drain. Default 50. */
  drainIntervalMs?: number;
  /** Most records taken from one ring per drain. Default 4096. */
  batchMax?: number;
  /** At most one drop incident per this period (ms). Default 10 s. */
  dropReportIntervalMs?: number;
  delivery?: DeliveryOptions;
  /** Start the delivery worker (default true). */
  deliver?: boolean;
  /** Called after each committed batch: these incidents are durably stored. */
  onStored?: (r: IngestResult) => void;
}

export interface AlertMetrics {
  records: number;
  records_malformed: number;
  alerts: number;
  incidents_created: number;
  incidents_updated: number;
  /** Alerts counted into an existing incident. */
  alerts_merged: number;
  batches: number;
  store_errors: number;
  drops_ringbuf: number;
  drops_programs: number;
  drop_incidents: number;
  deliveries_queued: number;
  deliveries_attempts: number;
  deliveries_delivered: number;
  deliveries_retried: number;
  deliveries_failed: number;
  deliveries_in_flight: number;
  last_batch_ms: number;
}

export interface AlertEngine {
  readonly store: IncidentStore;
  attach(src: RingSource): () => void;
  /** Drain every attached ring now; returns the records read. */
  drainNow(): number;
  /** Store alerts produced elsewhere (the reference evaluator path, tests). */
  ingest(alerts: readonly Alert[]): IngestResult;
  /** Replace the rule table (hot reload): what is in the rings is drained with the old one first. */
  setRules(rules: RuleTable, derive?: ValueDeriver): void;
  /** Drain, report pending drops, and wait until due deliveries are done (or timeout). */
  flush(timeoutMs?: number): Promise<void>;
  metrics(): AlertMetrics;
  /** Graceful stop: final drain, report drops, let in-flight deliveries finish, close the store. */
  close(graceMs?: number): Promise<void>;
}

interface Attached {
  src: RingSource;
  lastRing: number;
  lastProg: number;
  unsub?: () => void;
}

export function createAlertEngine(opts: AlertEngineOptions): AlertEngine {
  const log = opts.logger ?? silentLogger;
  const hostname = opts.hostname ?? osHostname();
  const ownStore = typeof opts.db === 'string';
  const store = typeof opts.db === 'string' ? new IncidentStore(opts.db, { aggregationWindowMs: opts.aggregationWindowMs }) : opts.db;
  if (opts.aggregationWindowMs !== undefined) store.setAggregationWindow(opts.aggregationWindowMs);
  const endpoints: Endpoint[] = (opts.webhooks ?? []).map(toEndpoint);
  let rules = opts.rules;
  const builder = new AlertBuilder({ hostname, renderer: opts.renderer ?? rulesRenderer, enricher: opts.enricher, clock: opts.clock, derive: opts.derive });
  const worker = new DeliveryWorker(store, endpoints, log, opts.delivery);
  const batchMax = opts.batchMax ?? 4096;
  const dropEveryMs = opts.dropReportIntervalMs ?? 10_000;
  const sources: Attached[] = [];
  const m: AlertMetrics = {
    records: 0,
    records_malformed: 0,
    alerts: 0,
    incidents_created: 0,
    incidents_updated: 0,
    alerts_merged: 0,
    batches: 0,
    store_errors: 0,
    drops_ringbuf: 0,
    drops_programs: 0,
    drop_incidents: 0,
    deliveries_queued: 0,
    deliveries_attempts: 0,
    deliveries_delivered: 0,
    deliveries_retried: 0,
    deliveries_failed: 0,
    deliveries_in_flight: 0,
    last_batch_ms: 0,
  };
  let pendingRing = 0;
  let pendingProg = 0;
  let lastDropReport = 0;
  let closed = false;
  let drainScheduled = false;
  let malformedLogged = 0;
  // Alerts that could not be stored (e.g. database busy): kept and retried with the next batch.
  let carry: Alert[] = [];

  function store_(alerts: Alert[]): void {
    if (alerts.length === 0) return;
    const t0 = performance.now();
    try {
      const r = store.ingest(alerts, endpoints);
      carry = [];
      m.batches++;
      m.incidents_created += r.created.length;
      m.incidents_updated += r.updated.length;
      m.alerts_merged += r.merged;
      m.deliveries_queued += r.deliveries;
      m.last_batch_ms = performance.now() - t0;
      opts.onStored?.(r);
      if (r.deliveries > 0) worker.notify();
    } catch (err) {
      m.store_errors++;
      // Bounded, so a dead disk cannot eat all memory.
      carry = alerts.length > 100_000 ? alerts.slice(alerts.length - 100_000) : alerts;
      log.error({ err: err instanceof Error ? err.message : String(err), alerts: alerts.length }, 'storing incidents failed; will retry');
    }
  }

  function collectDrops(force: boolean, batch: Alert[]): void {
    for (const a of sources) {
      const r = a.src.ringDrops?.() ?? 0;
      const p = a.src.programDrops?.() ?? 0;
      if (r > a.lastRing) {
        pendingRing += r - a.lastRing;
        m.drops_ringbuf += r - a.lastRing;
      }
      if (p > a.lastProg) {
        pendingProg += p - a.lastProg;
        m.drops_programs += p - a.lastProg;
      }
      a.lastRing = r;
      a.lastProg = p;
    }
    const now = Date.now();
    if (pendingRing + pendingProg > 0 && (force || now - lastDropReport >= dropEveryMs)) {
      // The map counts failed reservations, the programs count them too: the larger is the loss.
      const n = Math.max(pendingRing, pendingProg);
      batch.push(
        dropAlert({ hostname, timeNs: nowNs(), nDrops: n, nRingbuf: pendingRing, nPrograms: pendingProg, intervalMs: lastDropReport === 0 ? dropEveryMs : now - lastDropReport }),
      );
      log.warn({ n_drops: n, n_drops_ringbuf: pendingRing, n_drops_programs: pendingProg }, 'ring buffer drops');
      m.drop_incidents++;
      pendingRing = 0;
      pendingProg = 0;
      lastDropReport = now;
    }
  }

  function drain(forceDrops = false): number {
    const batch: Alert[] = carry.length > 0 ? carry : [];
    let n = 0;
    for (const a of sources) {
      n += a.src.consume((data) => {
        m.records++;
        const r = decodeRecord(data, rules);
        if (!r.ok) {
          m.records_malformed++;
          if (malformedLogged < 100) {
            malformedLogged++;
            log.warn({ ring: a.src.name, error: r.error, bytes: data.length }, 'malformed match record skipped');
          }
          return;
        }
        batch.push(builder.build(r.record));
        m.alerts++;
      }, batchMax);
    }
    collectDrops(forceDrops, batch);
    store_(batch);
    return n;
  }

  function scheduleDrain(): void {
    if (drainScheduled || closed) return;
    drainScheduled = true;
    // Never run inside the producer's call stack: the program that submitted keeps going.
    setImmediate(() => {
      drainScheduled = false;
      if (!closed) drain();
    });
  }

  const drainTimer = setInterval(() => {
    if (!closed) drain();
  }, opts.drainIntervalMs ?? 50);
  drainTimer.unref();

  const retention = opts.retention;
  const applyRetention = (): void => {
    if (retention === undefined) return;
    try {
      const n = store.retain({ maxAgeMs: retention.maxAgeMs, maxIncidents: retention.maxIncidents });
      if (n > 0) log.info({ deleted: n }, 'retention removed incidents');
    } catch (err) {
      log.error({ err: err instanceof Error ? err.message : String(err) }, 'retention failed');
    }
  };
  applyRetention();
  const retentionTimer = retention === undefined ? undefined : setInterval(applyRetention, retention.intervalMs ?? 60_000);
  retentionTimer?.unref();

  if (opts.deliver !== false) worker.start();

  const metrics = (): AlertMetrics => {
    const w = worker.metrics;
    m.deliveries_attempts = w.attempts;
    m.deliveries_delivered = w.delivered;
    m.deliveries_retried = w.retried;
    m.deliveries_failed = w.failed;
    m.deliveries_in_flight = w.inFlight;
    return { ...m };
  };

  return {
    store,
    attach(src) {
      const a: Attached = { src, lastRing: src.ringDrops?.() ?? 0, lastProg: src.programDrops?.() ?? 0 };
      a.unsub = src.onWakeup?.(scheduleDrain);
      sources.push(a);
      return () => {
        a.unsub?.();
        const i = sources.indexOf(a);
        if (i >= 0) sources.splice(i, 1);
      };
    },
    drainNow: () => drain(),
    ingest(alerts) {
      const r = store.ingest(alerts, endpoints);
      m.alerts += alerts.length;
      m.incidents_created += r.created.length;
      m.incidents_updated += r.updated.length;
      m.alerts_merged += r.merged;
      m.deliveries_queued += r.deliveries;
      if (r.deliveries > 0) worker.notify();
      opts.onStored?.(r);
      return r;
    },
    setRules(next, derive) {
      drain();
      rules = next;
      builder.setDeriver(derive);
    },
    async flush(timeoutMs = 10_000) {
      while (drain(true) > 0) {
        /* keep draining full batches */
      }
      if (opts.deliver !== false) await worker.idle(timeoutMs);
    },
    metrics,
    async close(graceMs = 5000) {
      if (closed) return;
      while (drain(true) > 0) {
        /* final drain */
      }
      closed = true;
      if (carry.length > 0) log.error({ alerts: carry.length }, 'alerts could not be stored before shutdown');
      clearInterval(drainTimer);
      if (retentionTimer !== undefined) clearInterval(retentionTimer);
      for (const a of sources) a.unsub?.();
      await worker.stop(graceMs);
      if (ownStore) store.close();
    },
  };
}

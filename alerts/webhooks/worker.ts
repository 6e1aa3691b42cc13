// The delivery worker: sends what the outbox holds, at least once per delivery id, and writes
// every outcome back to the outbox. It keeps no state of its own that matters: after a restart
// it simply resumes with the pending rows. 2xx acknowledges; any other answer, a timeout or a
// refused connection is retried with exponential backoff and jitter until the row's expire_at,
// then the row is marked failed and reported.

import type { IncidentStore, OutboxRow } from '../store/store.js';
import type { Endpoint } from './endpoint.js';
import { signBody } from './sign.js';
import type { Logger } from '../log.js';

export interface DeliveryOptions {
  /** How often to look for due deliveries when nothing wakes the worker (ms). */
  pollMs?: number;
  /** Parallel requests per endpoint. */
  concurrency?: number;
  /** First retry delay (ms); doubles per attempt. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** [0, 1) source for jitter (tests pass a fixed one). */
  random?: () => number;
}

export interface DeliveryMetrics {
  attempts: number;
  delivered: number;
  retried: number;
  failed: number;
  inFlight: number;
}

/** A URL fit for logs: no userinfo, no query string (either may carry credentials). */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '<bad url>';
  }
}

export class DeliveryWorker {
  readonly metrics: DeliveryMetrics = { attempts: 0, delivered: 0, retried: 0, failed: 0, inFlight: 0 };
  private endpoints = new Map<string, Endpoint>();
  private readonly inFlight = new Map<number, Promise<void>>();
  private readonly perEndpoint = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private scheduled = false;
  private running = false;
  private lastExpire = 0;
  private readonly pollMs: number;
  private readonly concurrency: number;
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly random: () => number;

  constructor(
    private readonly store: IncidentStore,
    endpoints: readonly Endpoint[],
    private readonly log: Logger,
    opts: DeliveryOptions = {},
  ) {
    this.setEndpoints(endpoints);
    this.pollMs = opts.pollMs ?? 250;
    this.concurrency = opts.concurrency ?? 4;
    this.baseMs = opts.backoffBaseMs ?? 500;
    this.maxMs = opts.backoffMaxMs ?? 60_000;
    this.random = opts.random ?? Math.random;
  }

  setEndpoints(endpoints: readonly Endpoint[]): void {
    this.endpoints = new Map(endpoints.map((e) => [e.url, e]));
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.timer = setInterval(() => this.tick(), this.pollMs);
    this.timer.unref();
    this.notify();
  }

  /** Something was queued: look now rather than at the next poll. */
  notify(): void {
    if (!this.running || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.tick();
    });
  }

  /** Delay before retry number `attempt` (1-based): base·2^(attempt-1), capped, with equal jitter. */
  backoff(attempt: number): number {
    const exp = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(30, attempt - 1));
    return Math.round(exp / 2 + (exp / 2) * this.random());
  }

  private tick(): void {
    if (!this.running || !this.store.db.open) return;
    const now = Date.now();
    try {
      if (now - this.lastExpire >= 1000) {
        this.lastExpire = now;
        for (const r of this.store.expireDeliveries(now)) {
          this.metrics.failed++;
          this.log.error({ delivery: r.uuid, incident_id: r.incidentId, endpoint: safeUrl(r.endpoint) }, 'webhook delivery expired, marked failed');
        }
      }
      for (const e of this.endpoints.values()) {
        const busy = this.perEndpoint.get(e.url) ?? 0;
        const free = this.concurrency - busy;
        if (free <= 0) continue;
        const skip = new Set(this.inFlight.keys());
        for (const row of this.store.due(now, [e.url], free, skip)) this.launch(e, row);
      }
    } catch (err) {
      this.log.error({ err: err instanceof Error ? err.message : String(err) }, 'webhook worker tick failed');
    }
  }

  private launch(e: Endpoint, row: OutboxRow): void {
    this.perEndpoint.set(e.url, (this.perEndpoint.get(e.url) ?? 0) + 1);
    this.metrics.inFlight++;
    const p = this.send(e, row)
      .catch((err: unknown) => {
        this.log.error({ delivery: row.uuid, err: err instanceof Error ? err.message : String(err) }, 'webhook delivery bookkeeping failed');
      })
      .finally(() => {
        this.inFlight.delete(row.id);
        this.perEndpoint.set(e.url, (this.perEndpoint.get(e.url) ?? 1) - 1);
        this.metrics.inFlight--;
        // A free slot: more may be due right now.
        this.notify();
      });
    this.inFlight.set(row.id, p);
  }

  private async send(e: Endpoint, row: OutboxRow): Promise<void> {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(e.headers)) headers[k.toLowerCase()] = v;
    headers['content-type'] = 'application/json';
    headers['x-kestrel-delivery'] = row.uuid;
    headers['user-agent'] = 'kestrel-webhook/1';
    if (e.secret !== undefined) headers['x-kestrel-signature'] = signBody(e.secret, row.body);
    // fetch refuses URLs with credentials: send them as Basic auth instead (unless set).
    let target = e.url;
    try {
      const u = new URL(e.url);
      if (u.username !== '' || u.password !== '') {
        if (headers['authorization'] === undefined) {
          headers['authorization'] = `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`;
        }
        u.username = '';
        u.password = '';
        target = u.toString();
      }
    } catch {
      /* fetch reports the bad URL below */
    }
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), e.timeoutMs);
    this.metrics.attempts++;
    let status: number | null = null;
    let error: string;
    let retryAfterMs = 0;
    try {
      const res = await fetch(target, { method: 'POST', body: row.body, headers, signal: ac.signal, redirect: 'manual' });
      status = res.status;
      // Read the answer so the connection can be reused.
      await res.arrayBuffer().catch(() => undefined);
      if (status >= 200 && status < 300) {
        clearTimeout(timer);
        if (this.store.db.open) this.store.markDelivered(row.id, status, Date.now());
        this.metrics.delivered++;
        this.log.debug({ delivery: row.uuid, incident_id: row.incidentId, endpoint: safeUrl(e.url), status }, 'webhook delivered');
        return;
      }
      error = `HTTP ${status}`;
      const ra = res.headers.get('retry-after');
      if (ra !== null && /^\d+$/.test(ra.trim())) retryAfterMs = Number(ra.trim()) * 1000;
    } catch (err) {
      error = ac.signal.aborted ? `timeout after ${e.timeoutMs}ms` : scrub(describeFetchError(err), e.url, target);
    } finally {
      clearTimeout(timer);
    }
    if (!this.store.db.open) return;
    const attempt = row.attempts + 1;
    const now = Date.now();
    const next = now + Math.max(this.backoff(attempt), retryAfterMs);
    const ctx = { delivery: row.uuid, incident_id: row.incidentId, endpoint: safeUrl(e.url), attempt, status, error };
    if (next >= row.expireAt) {
      this.store.markFailed(row.id, status, `${error}; expired after ${attempt} attempts`);
      this.metrics.failed++;
      this.log.error(ctx, 'webhook delivery failed and expired, marked failed');
    } else {
      this.store.markRetry(row.id, status, error, next);
      this.metrics.retried++;
      this.log.warn({ ...ctx, retry_in_ms: next - now }, 'webhook delivery failed, will retry');
    }
  }

  /** Stop polling; wait (at most graceMs) for requests already in flight to finish. */
  async stop(graceMs = 5000): Promise<void> {
    this.running = false;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (this.inFlight.size === 0) return;
    let t: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.inFlight.values()]),
      new Promise<void>((resolve) => {
        t = setTimeout(resolve, graceMs);
      }),
    ]);
    if (t !== undefined) clearTimeout(t);
  }

  /** Resolves true when nothing is in flight and nothing is pending for configured endpoints (or false at the timeout). */
  async idle(timeoutMs = 10_000): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const next = this.store.db.open ? this.store.nextDue([...this.endpoints.keys()]) : undefined;
      if (this.inFlight.size === 0 && next === undefined) return true;
      this.notify();
      await new Promise((r) => setTimeout(r, 10));
    }
    return false;
  }
}

/** Error texts may quote the URL: keep only its safe form. */
function scrub(text: string, ...urls: string[]): string {
  let t = text;
  for (const u of urls) t = t.split(u).join(safeUrl(u));
  return t;
}

function describeFetchError(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof Error) {
      const code = (cause as { code?: unknown }).code;
      return typeof code === 'string' ? `${code} ${cause.message}` : cause.message;
    }
    return err.message;
  }
  return String(err);
}

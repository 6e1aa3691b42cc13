// The alert engine's counters in Prometheus text format, for the daemon's /metrics.

import type { AlertMetrics } from './engine.js';

const HELP: Record<keyof AlertMetrics, [string, 'counter' | 'gauge']> = {
  records: ['Match records read from ring buffers', 'counter'],
  records_malformed: ['Match records that failed to decode', 'counter'],
  alerts: ['Alerts decoded', 'counter'],
  incidents_created: ['Incidents created', 'counter'],
  incidents_updated: ['Existing incidents whose count grew (once per batch)', 'counter'],
  alerts_merged: ['Alerts counted into an existing incident', 'counter'],
  batches: ['Store transactions', 'counter'],
  store_errors: ['Failed store transactions (retried)', 'counter'],
  drops_ringbuf: ['Records lost to a full ring buffer (failed reservations)', 'counter'],
  drops_programs: ['Drops counted by the programs (kestrel_drops)', 'counter'],
  drop_incidents: ['Drop incidents reported', 'counter'],
  deliveries_queued: ['Webhook deliveries queued in the outbox', 'counter'],
  deliveries_attempts: ['Webhook delivery attempts', 'counter'],
  deliveries_delivered: ['Webhook deliveries acknowledged (2xx)', 'counter'],
  deliveries_retried: ['Webhook delivery attempts that will be retried', 'counter'],
  deliveries_failed: ['Webhook deliveries that expired and were marked failed', 'counter'],
  deliveries_in_flight: ['Webhook requests in flight', 'gauge'],
  last_batch_ms: ['Duration of the last store transaction in milliseconds', 'gauge'],
};

export function prometheusText(m: AlertMetrics, prefix = 'kestrel_alerts_'): string {
  const lines: string[] = [];
  for (const [k, [help, type]] of Object.entries(HELP) as [keyof AlertMetrics, [string, string]][]) {
    const name = `${prefix}${k}${type === 'counter' ? '_total' : ''}`;
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${m[k]}`);
  }
  return lines.join('\n') + '\n';
}

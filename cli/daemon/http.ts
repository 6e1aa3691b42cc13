// /healthz and Prometheus /metrics on the configured loopback address.

import { createServer, type Server } from 'node:http';
import type { Service } from './service.js';

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** The Prometheus text exposition of the service's counters. */
export function metricsText(s: Service): string {
  const out: string[] = [];
  const metric = (name: string, type: 'counter' | 'gauge', help: string, samples: [Record<string, string>, number][]): void => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of samples) {
      const l = Object.entries(labels)
        .map(([k, x]) => `${k}="${esc(x)}"`)
        .join(',');
      out.push(`${name}${l === '' ? '' : `{${l}}`} ${Number.isFinite(v) ? v : 0}`);
    }
  };
  const c = s.counters;
  metric('kestrel_events_total', 'counter', 'Events fed to the simulated kernel, by type.', Object.entries(c.events).map(([t, n]) => [{ type: t }, n]));
  const k = s.kernel.kernel.stats;
  metric('kestrel_hook_firings_total', 'counter', 'Hook firings that ran at least one program.', [[{}, k.firings]]);
  const progs = s.attachedPrograms.programs;
  metric('kestrel_program_runs_total', 'counter', 'Program runs, by program and hook.', progs.map((p) => [{ program: p.prog.spec.name, hook: p.hook }, p.prog.stats.runs]));
  metric('kestrel_vm_instructions_total', 'counter', 'eBPF instructions executed, by program.', progs.map((p) => [{ program: p.prog.spec.name, hook: p.hook }, p.prog.stats.instructions]));
  metric('kestrel_vm_run_seconds_total', 'counter', 'Time spent running programs, by program.', progs.map((p) => [{ program: p.prog.spec.name, hook: p.hook }, p.prog.stats.timeNs / 1e9]));
  metric('kestrel_rule_matches_total', 'counter', 'Match records per rule.', [...c.matches].map(([r, n]) => [{ rule: r }, n]));
  const a = s.alerts.metrics();
  metric('kestrel_ringbuf_drops_total', 'counter', 'Match records lost to a full ring buffer.', [[{}, Math.max(a.drops_ringbuf, a.drops_programs)]]);
  metric('kestrel_alerts_total', 'counter', 'Alerts decoded from match records.', [[{}, a.alerts]]);
  metric('kestrel_records_malformed_total', 'counter', 'Match records that could not be decoded.', [[{}, a.records_malformed]]);
  metric('kestrel_incidents_total', 'counter', 'Incidents created and updated.', [
    [{ change: 'created' }, a.incidents_created],
    [{ change: 'updated' }, a.incidents_updated],
  ]);
  metric('kestrel_webhook_deliveries_total', 'counter', 'Webhook delivery outcomes.', [
    [{ result: 'queued' }, a.deliveries_queued],
    [{ result: 'attempt' }, a.deliveries_attempts],
    [{ result: 'delivered' }, a.deliveries_delivered],
    [{ result: 'retried' }, a.deliveries_retried],
    [{ result: 'failed' }, a.deliveries_failed],
  ]);
  metric('kestrel_webhook_deliveries_in_flight', 'gauge', 'Deliveries being sent.', [[{}, a.deliveries_in_flight]]);
  metric('kestrel_reloads_total', 'counter', 'Rule reloads.', [
    [{ result: 'ok' }, c.reloads.ok],
    [{ result: 'failed' }, c.reloads.failed],
  ]);
  metric('kestrel_rules_loaded', 'gauge', 'Rules compiled and attached.', [[{}, s.rules.compiled.compiled.length]]);
  metric('kestrel_source_bad_lines_total', 'counter', 'Malformed event lines skipped.', [[{}, c.badLines]]);
  metric('process_resident_memory_bytes', 'gauge', 'Resident memory.', [[{}, process.memoryUsage().rss]]);
  metric('process_start_time_seconds', 'gauge', 'Start time of the process.', [[{}, Math.floor(s.startedAt / 1000)]]);
  return out.join('\n') + '\n';
}

export function startHttp(s: Service, listen: string): Promise<Server> {
  const i = listen.lastIndexOf(':');
  const host = listen.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(listen.slice(i + 1));
  const server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (url === '/healthz') {
      const body = JSON.stringify({
        status: 'ok',
        uptime_s: Math.round((Date.now() - s.startedAt) / 1000),
        rules: s.rules.compiled.compiled.length,
        source_finished: s.sourceFinished,
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end(body + '\n');
    } else if (url === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(metricsText(s));
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

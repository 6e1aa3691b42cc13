// `kestrel daemon [-c FILE] [--db FILE] [-r PATH]...`: the background service.

import { parseArgs } from 'node:util';
import { watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import { pino, type Logger } from 'pino';
import { ConfigError, loadConfig, maskSecrets } from '../../config/load.js';
import { REDACT_PATHS } from '../../alerts/log.js';
import { RuleSetError, Service } from '../daemon/service.js';
import { startHttp } from '../daemon/http.js';
import type { KestrelConfig } from '../../config/schema.js';

const HELP = `usage: kestrel daemon [-c FILE] [--db FILE] [-r PATH]...

Runs Kestrel as a service: compiles and verifies the rules, attaches them to the simulated
kernel's hooks, feeds the configured event source (the scenario simulator by default), drains
the ring buffer into the incident store (SQLite) and delivers webhooks.

  -c, --config FILE  kestrel.yaml (default ./kestrel.yaml if present, else built-in defaults)
      --db FILE      SQLite database (default ./kestrel.db)
  -r, --rules PATH   rule file or folder (repeatable; replaces the configured rules)

Signals: SIGHUP reloads the rules (also on rule-file change); a set that fails to compile or
verify leaves the running one in place. SIGTERM/SIGINT stop the source, drain the ring buffer,
flush the store and the webhook outbox, then exit 0.
HTTP (when http.listen is set): /healthz and Prometheus /metrics.
Exit codes: 0 clean stop, 2 bad configuration or rules at start.`;

function makeLogger(cfg: KestrelConfig): Logger {
  const pretty = cfg.log.pretty ?? process.stderr.isTTY === true;
  const opts = { name: 'kestrel', level: cfg.log.level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  if (pretty) return pino({ ...opts, transport: { target: 'pino-pretty', options: { destination: 2, colorize: true } } });
  return pino(opts, pino.destination({ fd: 2, sync: true }));
}

export async function run(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        config: { type: 'string', short: 'c' },
        db: { type: 'string' },
        rules: { type: 'string', short: 'r', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    process.stderr.write(`kestrel daemon: ${e instanceof Error ? e.message : String(e)}\n${HELP}\n`);
    return 2;
  }
  if (values.help === true) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  let cfg: KestrelConfig;
  try {
    const overrides: { db?: string; rules?: string[] } = {};
    if (values.db !== undefined) overrides.db = values.db;
    if (values.rules !== undefined && values.rules.length > 0) overrides.rules = values.rules;
    cfg = loadConfig({ file: values.config, overrides }).config;
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`kestrel daemon: invalid configuration:\n${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const log = makeLogger(cfg);
  log.info({ config: maskSecrets(cfg) }, 'starting');
  const service = new Service(cfg, log);
  try {
    service.start();
  } catch (e) {
    // Rules that do not compile or verify, a database that cannot be opened, an unknown
    // scenario: one line that says why, exit 2.
    const why = e instanceof RuleSetError ? e.message : e instanceof Error ? e.message : String(e);
    log.fatal(`cannot start: ${why}`);
    log.flush?.();
    return 2;
  }
  let server;
  try {
    server = cfg.http === undefined ? undefined : await startHttp(service, cfg.http.listen);
  } catch (e) {
    log.fatal(`cannot start: http.listen ${cfg.http?.listen}: ${e instanceof Error ? e.message : String(e)}`);
    await service.stop().catch(() => undefined);
    log.flush?.();
    return 2;
  }
  if (server !== undefined) log.info({ listen: cfg.http?.listen }, 'http: /healthz and /metrics');

  // Hot reload: SIGHUP, and rule files changing on disk (debounced).
  let timer: NodeJS.Timeout | undefined;
  const scheduleReload = (reason: string): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      service.reload(reason);
      rewatch();
    }, 250);
  };
  let watchers: FSWatcher[] = [];
  const rewatch = (): void => {
    for (const w of watchers) w.close();
    watchers = [];
    const places = new Set<string>([...cfg.rules, ...service.rules.files.map((f) => dirname(f))]);
    for (const p of places) {
      try {
        watchers.push(watch(p, { persistent: false }, (_ev, name) => {
          // Rule files only: rule-test files (*.test.yaml) beside them do not change the running set.
          if (name === null || (/\.ya?ml$/.test(String(name)) && !/\.test\.ya?ml$/.test(String(name)))) scheduleReload(`rule file changed: ${String(name ?? p)}`);
        }));
      } catch {
        // a path that cannot be watched still reloads on SIGHUP
      }
    }
  };
  rewatch();
  process.on('SIGHUP', () => scheduleReload('SIGHUP'));

  const stopped = new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (sig: string): void => {
      if (stopping) return;
      stopping = true;
      log.info({ signal: sig }, 'stopping: draining the ring buffer, flushing the store and the outbox');
      if (timer !== undefined) clearTimeout(timer);
      for (const w of watchers) w.close();
      void service
        .stop()
        .catch((e: unknown) => log.error(`stop: ${e instanceof Error ? e.message : String(e)}`))
        .finally(() => {
          server?.close();
          resolve();
        });
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
  await stopped;
  log.flush?.();
  return 0;
}

// kestrel.yaml → alert engine options (the keys of SPEC §6: db, aggregation, retention,
// webhooks, hostname), so the daemon and replay build the engine the same way.

import { hostname as osHostname } from 'node:os';
import type { KestrelConfig } from '../config/schema.js';
import type { AlertEngineOptions } from './engine.js';

export function alertOptionsFromConfig(
  c: Pick<KestrelConfig, 'db' | 'aggregation' | 'retention' | 'webhooks' | 'hostname'>,
): Pick<AlertEngineOptions, 'db' | 'aggregationWindowMs' | 'retention' | 'webhooks' | 'hostname'> {
  return {
    db: c.db,
    aggregationWindowMs: c.aggregation.window,
    retention: { maxAgeMs: c.retention.max_age, maxIncidents: c.retention.max_incidents },
    webhooks: c.webhooks,
    hostname: c.hostname ?? osHostname(),
  };
}

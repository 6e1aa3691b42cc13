// The effective configuration as a person reads it: units back in text form, secrets masked.
import { stringify } from 'yaml';
import type { KestrelConfig } from './schema.js';
import { maskSecrets } from './load.js';
import { formatDuration, formatSize } from './units.js';

export function displayConfig(c: KestrelConfig): Record<string, unknown> {
  const shown = {
    ...c,
    source: {
      ...c.source,
      duration: c.source.duration === undefined ? undefined : formatDuration(c.source.duration),
      interval: formatDuration(c.source.interval),
    },
    ringbuf_size: formatSize(c.ringbuf_size),
    aggregation: { window: formatDuration(c.aggregation.window) },
    retention: { max_age: formatDuration(c.retention.max_age), max_incidents: c.retention.max_incidents },
    webhooks: c.webhooks.map((w) => ({ ...w, timeout: formatDuration(w.timeout), expire: formatDuration(w.expire) })),
    engine: { ...c.engine, memory: formatSize(c.engine.memory) },
  };
  return JSON.parse(JSON.stringify(maskSecrets(shown))) as Record<string, unknown>;
}

export function configToYaml(c: KestrelConfig): string {
  return stringify(displayConfig(c));
}

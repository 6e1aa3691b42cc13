// A webhook endpoint as the engine uses it: the config entry plus its compiled filters.

import type { Alert } from '../alert.js';
import { priorityLevel } from '../priority.js';

/** The config's webhook entry (config/schema.ts WebhookConfig); optional keys get defaults. */
export interface WebhookSpec {
  url: string;
  secret?: string;
  min_priority?: string;
  rules?: readonly string[];
  tags?: readonly string[];
  headers?: Readonly<Record<string, string>>;
  /** ms */
  timeout?: number;
  /** ms */
  expire?: number;
}

export interface Endpoint {
  url: string;
  secret: string | undefined;
  minLevel: number;
  rules: ReadonlySet<string>;
  tags: ReadonlySet<string>;
  headers: Readonly<Record<string, string>>;
  timeoutMs: number;
  expireMs: number;
}

export function toEndpoint(w: WebhookSpec): Endpoint {
  const minLevel = w.min_priority === undefined ? 7 : priorityLevel(w.min_priority);
  if (minLevel === undefined) throw new Error(`webhook ${w.url}: unknown min_priority '${w.min_priority}'`);
  return {
    url: w.url,
    secret: w.secret === '' ? undefined : w.secret,
    minLevel,
    rules: new Set(w.rules ?? []),
    tags: new Set(w.tags ?? []),
    headers: { ...(w.headers ?? {}) },
    timeoutMs: w.timeout ?? 5000,
    expireMs: w.expire ?? 24 * 3_600_000,
  };
}

/** Per-endpoint routing: minimum priority, then the rule list and tag list when not empty. */
export function wants(e: Endpoint, a: Pick<Alert, 'level' | 'rule' | 'tags'>): boolean {
  if (a.level > e.minLevel) return false;
  if (e.rules.size > 0 && !e.rules.has(a.rule)) return false;
  if (e.tags.size > 0 && !a.tags.some((t) => e.tags.has(t))) return false;
  return true;
}

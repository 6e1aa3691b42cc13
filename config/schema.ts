// The JSON Schema of kestrel.yaml (SPEC §6) and the effective configuration's types.

export const DURATION_PATTERN = '^\\s*(\\d+(\\.\\d+)?(ms|s|m|h|d|w)?)+\\s*$';
export const SIZE_PATTERN = '^\\s*\\d+(\\.\\d+)?\\s*([kKmMgG]i?[bB]?|[bB])?\\s*$';

const duration = {
  anyOf: [
    { type: 'string', pattern: DURATION_PATTERN },
    { type: 'number', minimum: 0 },
  ],
} as const;
const size = {
  anyOf: [
    { type: 'string', pattern: SIZE_PATTERN },
    { type: 'integer', minimum: 0 },
  ],
} as const;

export const PRIORITIES = ['emergency', 'alert', 'critical', 'error', 'warning', 'notice', 'informational', 'info', 'debug'] as const;

export const CONFIG_SCHEMA = {
  $id: 'kestrel-config',
  type: 'object',
  additionalProperties: false,
  properties: {
    rules: { type: 'array', items: { type: 'string', minLength: 1 } },
    rule_matching: { enum: ['all', 'first'] },
    source: {
      type: 'object',
      additionalProperties: false,
      properties: {
        type: { enum: ['simulate', 'replay', 'strace', 'procfs'] },
        scenarios: { type: 'array', items: { type: 'string', minLength: 1 } },
        rate: { type: 'number', minimum: 0 },
        duration,
        count: { type: 'integer', minimum: 0 },
        seed: { type: 'integer' },
        loop: { type: 'boolean' },
        path: { type: 'string', minLength: 1 },
        format: { enum: ['kestrel', 'tetragon'] },
        command: { type: 'array', items: { type: 'string' }, minItems: 1 },
        pid: { type: 'integer', minimum: 1 },
        interval: duration,
      },
    },
    db: { type: 'string', minLength: 1 },
    ringbuf_size: size,
    aggregation: {
      type: 'object',
      additionalProperties: false,
      properties: { window: duration },
    },
    retention: {
      type: 'object',
      additionalProperties: false,
      properties: { max_age: duration, max_incidents: { type: 'integer', minimum: 1 } },
    },
    dns: {
      type: 'object',
      additionalProperties: false,
      properties: {
        hosts: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } },
      },
    },
    webhooks: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['url'],
        properties: {
          url: { type: 'string', pattern: '^https?://' },
          secret: { type: 'string' },
          min_priority: { enum: PRIORITIES },
          rules: { type: 'array', items: { type: 'string' } },
          tags: { type: 'array', items: { type: 'string' } },
          headers: { type: 'object', additionalProperties: { type: 'string' } },
          timeout: duration,
          expire: duration,
        },
      },
    },
    log: {
      type: 'object',
      additionalProperties: false,
      properties: {
        level: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] },
        pretty: { type: 'boolean' },
      },
    },
    http: {
      type: 'object',
      additionalProperties: false,
      required: ['listen'],
      properties: { listen: { type: 'string', pattern: '^[^\\s]+:\\d+$' } },
    },
    engine: {
      type: 'object',
      additionalProperties: false,
      properties: {
        exec: { enum: ['jit', 'interp'] },
        cpus: { type: 'integer', minimum: 1, maximum: 64 },
        memory: size,
      },
    },
    hostname: { type: 'string', minLength: 1 },
    fleet: { type: 'object' },
  },
} as const;

export type Priority = (typeof PRIORITIES)[number];

export interface WebhookConfig {
  url: string;
  secret?: string;
  min_priority: Priority;
  rules: string[];
  tags: string[];
  headers: Record<string, string>;
  /** ms */
  timeout: number;
  /** ms */
  expire: number;
}

export interface SourceConfig {
  type: 'simulate' | 'replay' | 'strace' | 'procfs';
  scenarios: string[];
  /** events per second; 0 = as fast as possible */
  rate: number;
  /** ms; undefined = run until stopped */
  duration?: number;
  count?: number;
  seed?: number;
  /** simulate: start the scenarios again when they end (the daemon's default) */
  loop: boolean;
  path?: string;
  format: 'kestrel' | 'tetragon';
  command?: string[];
  pid?: number;
  /** ms */
  interval: number;
}

export interface KestrelConfig {
  rules: string[];
  rule_matching: 'all' | 'first';
  source: SourceConfig;
  db: string;
  /** bytes, a power of two */
  ringbuf_size: number;
  aggregation: { window: number };
  retention: { max_age: number; max_incidents: number };
  dns: { hosts: Record<string, string[]> };
  webhooks: WebhookConfig[];
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'; pretty?: boolean };
  http?: { listen: string };
  engine: { exec: 'jit' | 'interp'; cpus: number; memory: number };
  hostname?: string;
  fleet?: Record<string, unknown>;
}

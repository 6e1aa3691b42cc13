// Loading kestrel.yaml: YAML with positions, JSON Schema validation (ajv), environment
// overrides (KESTREL_DB=..., KESTREL_WEBHOOKS_0_URL=...), then defaults and unit conversion.
// Every error names the key (and file:line:column when it came from the file).

import { readFileSync, existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { LineCounter, parseDocument, isMap, isSeq, isScalar, type Node as YamlNode } from 'yaml';
import { CONFIG_SCHEMA, type KestrelConfig, type Priority, type WebhookConfig } from './schema.js';
import { parseDuration, parseSize } from './units.js';
import { builtinRulesDir } from './paths.js';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

const ajv = new Ajv({ allErrors: true, strict: false });
const validate = ajv.compile(CONFIG_SCHEMA);

export const DEFAULTS = {
  rules: ['rules/builtin'],
  rule_matching: 'all',
  source: { type: 'simulate', scenarios: ['builtin'], rate: 200, format: 'kestrel', interval: '1s', loop: true },
  db: './kestrel.db',
  ringbuf_size: '4MiB',
  aggregation: { window: '60s' },
  retention: { max_age: '30d', max_incidents: 1_000_000 },
  dns: { hosts: { 'kubernetes.default.svc.cluster.local': ['10.96.0.1'] } },
  webhooks: [],
  log: { level: 'info' },
  engine: { exec: 'jit', cpus: 2, memory: '64MiB' },
} as const;

export interface LoadOptions {
  /** Path of kestrel.yaml; when absent and ./kestrel.yaml does not exist, defaults only. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Single-key overrides from the command line (`--db`), applied last. */
  overrides?: Partial<Pick<KestrelConfig, 'db' | 'rules'>>;
}

export interface LoadedConfig {
  config: KestrelConfig;
  /** The file read, if any. */
  file?: string;
}

function pathString(parts: readonly (string | number)[]): string {
  let s = '';
  for (const p of parts) s += typeof p === 'number' ? `[${p}]` : s === '' ? p : `.${p}`;
  return s === '' ? '(top level)' : s;
}

/** file:line:col of the YAML node at a key path, or the file alone. */
function locate(doc: ReturnType<typeof parseDocument>, lc: LineCounter, file: string, parts: (string | number)[]): string {
  let node: unknown = doc.contents;
  for (const p of parts) {
    if (isMap(node)) {
      const pair = node.items.find((it) => isScalar(it.key) && String(it.key.value) === String(p));
      if (pair === undefined) break;
      node = pair.value ?? pair.key;
    } else if (isSeq(node) && typeof p === 'number') {
      node = node.items[p];
    } else break;
  }
  const range = (node as YamlNode | null | undefined)?.range;
  if (range === undefined || range === null) return file;
  const pos = lc.linePos(range[0]);
  return `${file}:${pos.line}:${pos.col}`;
}

function ajvPath(e: ErrorObject): (string | number)[] {
  const parts = e.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
  if (e.keyword === 'additionalProperties') parts.push(String((e.params as { additionalProperty: string }).additionalProperty));
  if (e.keyword === 'required') parts.push(String((e.params as { missingProperty: string }).missingProperty));
  return parts;
}

function ajvMessage(e: ErrorObject): string {
  switch (e.keyword) {
    case 'additionalProperties':
      return 'unknown key';
    case 'required':
      return 'is required';
    case 'enum':
      return `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
    case 'pattern':
      return `has an invalid format`;
    case 'anyOf':
      return 'must be a duration (500ms, 30s, 5m, 24h, 30d) or a size (bytes or 4MiB), as the key expects';
    default:
      return e.message ?? 'is invalid';
  }
}

function schemaErrors(errors: readonly ErrorObject[], where: (parts: (string | number)[]) => string): string[] {
  // anyOf reports each branch too; keep the anyOf line and drop its children.
  const anyOfPaths = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath));
  const out: string[] = [];
  for (const e of errors) {
    if (e.keyword !== 'anyOf' && anyOfPaths.has(e.instancePath)) continue;
    const parts = ajvPath(e);
    const line = `${where(parts)}: ${pathString(parts)}: ${ajvMessage(e)}`;
    if (!out.includes(line)) out.push(line);
  }
  return out;
}

/** Walk the schema to split an env var suffix (WEBHOOKS_0_MIN_PRIORITY) into a key path. */
function envPath(segments: string[]): (string | number)[] | undefined {
  const path: (string | number)[] = [];
  let schema: Record<string, unknown> = CONFIG_SCHEMA as unknown as Record<string, unknown>;
  let i = 0;
  while (i < segments.length) {
    if (schema.type === 'array') {
      if (!/^\d+$/.test(segments[i])) return undefined;
      path.push(Number(segments[i]));
      schema = schema.items as Record<string, unknown>;
      i++;
      continue;
    }
    const props = schema.properties as Record<string, Record<string, unknown>> | undefined;
    let matched = false;
    if (props !== undefined) {
      for (let j = segments.length; j > i; j--) {
        const key = segments.slice(i, j).join('_').toLowerCase();
        if (key in props) {
          path.push(key);
          schema = props[key];
          i = j;
          matched = true;
          break;
        }
      }
    }
    if (!matched) {
      // Free-form maps (dns.hosts, webhook headers): the rest is the key as written.
      if (schema.type === 'object' && schema.additionalProperties !== false && props === undefined) {
        path.push(segments.slice(i).join('_'));
        return path;
      }
      return undefined;
    }
  }
  return path;
}

function envValue(raw: string, parts: (string | number)[]): Json {
  const t = raw.trim();
  if (t.startsWith('[') || t.startsWith('{')) {
    try {
      return JSON.parse(t) as Json;
    } catch {
      throw new ConfigError(`environment: ${pathString(parts)}: invalid JSON value`);
    }
  }
  if (t === 'true' || t === 'false') return t === 'true';
  if (/^-?\d+(\.\d+)?$/.test(t) && !['db', 'secret', 'url', 'path', 'hostname'].includes(String(parts[parts.length - 1]))) return Number(t);
  // Lists given as comma-separated text.
  const last = String(parts[parts.length - 1]);
  if (['rules', 'scenarios', 'tags', 'command'].includes(last) && typeof parts[parts.length - 1] === 'string') {
    return t.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  }
  return raw;
}

function setPath(obj: JsonObject, parts: (string | number)[], value: Json): void {
  let cur: Json = obj;
  for (let i = 0; i < parts.length - 1; i++) {
    const k = parts[i];
    const nextIsIndex = typeof parts[i + 1] === 'number';
    const container = cur as Record<string | number, Json>;
    if (container[k] === undefined || container[k] === null || typeof container[k] !== 'object') {
      container[k] = nextIsIndex ? [] : {};
    }
    cur = container[k];
  }
  (cur as Record<string | number, Json>)[parts[parts.length - 1]] = value;
}

function applyEnv(raw: JsonObject, env: NodeJS.ProcessEnv): string[] {
  const errors: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('KESTREL_') || value === undefined) continue;
    if (name === 'KESTREL_CONFIG' || name === 'KESTREL_TEST_MODE') continue;
    const parts = envPath(name.slice('KESTREL_'.length).split('_'));
    if (parts === undefined) {
      errors.push(`environment: ${name}: no such configuration key`);
      continue;
    }
    try {
      setPath(raw, parts, envValue(value, parts));
    } catch (e) {
      errors.push(e instanceof Error ? e.message : String(e));
    }
  }
  return errors;
}

function deepMerge(base: Json, over: Json): Json {
  if (over === undefined) return base;
  if (base !== null && over !== null && typeof base === 'object' && typeof over === 'object' && !Array.isArray(base) && !Array.isArray(over)) {
    const out: JsonObject = { ...base };
    for (const [k, v] of Object.entries(over)) out[k] = k in base ? deepMerge(base[k], v) : v;
    return out;
  }
  return over;
}

function ms(v: Json, key: string): number {
  const n = parseDuration(v as string | number);
  if (n === undefined) throw new ConfigError(`${key}: not a duration`);
  return n;
}

function bytes(v: Json, key: string): number {
  const n = parseSize(v as string | number);
  if (n === undefined) throw new ConfigError(`${key}: not a size`);
  return n;
}

function resolveRules(paths: readonly string[], base: string): string[] {
  return paths.map((p) => {
    if (p === 'builtin') return builtinRulesDir();
    const abs = isAbsolute(p) ? p : resolve(base, p);
    if (!existsSync(abs) && p.replace(/\/$/, '') === 'rules/builtin') return builtinRulesDir();
    return abs;
  });
}

/** Load, validate and normalise the configuration. Throws ConfigError listing every problem. */
export function loadConfig(opts: LoadOptions = {}): LoadedConfig {
  const env = opts.env ?? process.env;
  let file = opts.file ?? env.KESTREL_CONFIG;
  if (file === undefined && existsSync('kestrel.yaml')) file = 'kestrel.yaml';
  let fromFile: JsonObject = {};
  const errors: string[] = [];
  let where = (_parts: (string | number)[]): string => 'kestrel.yaml';
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError(`${file}: cannot read: ${e instanceof Error ? e.message : String(e)}`);
    }
    const lc = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
    if (doc.errors.length > 0) {
      throw new ConfigError(
        doc.errors
          .map((e) => {
            const p = lc.linePos(e.pos[0]);
            return `${file}:${p.line}:${p.col}: ${e.message.split('\n')[0]}`;
          })
          .join('\n'),
      );
    }
    const js = doc.toJS() as Json;
    if (js !== null && js !== undefined) {
      if (typeof js !== 'object' || Array.isArray(js)) throw new ConfigError(`${file}:1:1: the configuration must be a mapping of keys`);
      fromFile = js;
    }
    const f = file;
    where = (parts) => locate(doc, lc, f, parts);
    if (!validate(fromFile)) errors.push(...schemaErrors(validate.errors ?? [], where));
  }
  const envErrors = applyEnv(fromFile, env);
  errors.push(...envErrors);
  if (errors.length === 0 && !validate(fromFile)) {
    errors.push(...schemaErrors(validate.errors ?? [], (parts) => `environment (KESTREL_${parts.join('_').toUpperCase()})`));
  }
  if (errors.length > 0) throw new ConfigError(errors.join('\n'));

  const merged = deepMerge(DEFAULTS as unknown as Json, fromFile) as JsonObject;
  const base = file !== undefined ? dirname(resolve(file)) : process.cwd();
  const src = merged.source as JsonObject;
  const ringbuf = bytes(merged.ringbuf_size, 'ringbuf_size');
  if (ringbuf < 4096 || (ringbuf & (ringbuf - 1)) !== 0) {
    throw new ConfigError(`${where(['ringbuf_size'])}: ringbuf_size: must be a power of two of at least 4KiB (got ${ringbuf})`);
  }
  const webhooks: WebhookConfig[] = ((merged.webhooks as JsonObject[]) ?? []).map((w, i) => ({
    url: String(w.url),
    secret: w.secret === undefined ? undefined : String(w.secret),
    min_priority: ((w.min_priority as string | undefined) ?? 'debug') as Priority,
    rules: (w.rules as string[] | undefined) ?? [],
    tags: (w.tags as string[] | undefined) ?? [],
    headers: (w.headers as Record<string, string> | undefined) ?? {},
    timeout: ms(w.timeout ?? '5s', `webhooks[${i}].timeout`),
    expire: ms(w.expire ?? '24h', `webhooks[${i}].expire`),
  }));
  const config: KestrelConfig = {
    rules: resolveRules((opts.overrides?.rules ?? merged.rules) as string[], base),
    rule_matching: merged.rule_matching as 'all' | 'first',
    source: {
      type: src.type as KestrelConfig['source']['type'],
      scenarios: src.scenarios as string[],
      rate: src.rate as number,
      duration: src.duration === undefined ? undefined : ms(src.duration, 'source.duration'),
      count: src.count as number | undefined,
      seed: src.seed as number | undefined,
      loop: src.loop as boolean,
      path: src.path === undefined ? undefined : resolve(base, String(src.path)),
      format: src.format as 'kestrel' | 'tetragon',
      command: src.command as string[] | undefined,
      pid: src.pid as number | undefined,
      interval: ms(src.interval, 'source.interval'),
    },
    db: opts.overrides?.db ?? resolve(base, String(merged.db)),
    ringbuf_size: ringbuf,
    aggregation: { window: ms((merged.aggregation as JsonObject).window, 'aggregation.window') },
    retention: {
      max_age: ms((merged.retention as JsonObject).max_age, 'retention.max_age'),
      max_incidents: (merged.retention as JsonObject).max_incidents as number,
    },
    dns: { hosts: (merged.dns as JsonObject).hosts as Record<string, string[]> },
    webhooks,
    log: merged.log as KestrelConfig['log'],
    http: merged.http as KestrelConfig['http'],
    engine: {
      exec: (merged.engine as JsonObject).exec as 'jit' | 'interp',
      cpus: (merged.engine as JsonObject).cpus as number,
      memory: bytes((merged.engine as JsonObject).memory, 'engine.memory'),
    },
    hostname: merged.hostname as string | undefined,
    fleet: merged.fleet as Record<string, unknown> | undefined,
  };
  if (config.source.type === 'replay' && config.source.path === undefined) {
    throw new ConfigError(`${where(['source'])}: source.path: is required when source.type is replay`);
  }
  if (config.source.type === 'strace' && config.source.command === undefined && config.source.pid === undefined) {
    throw new ConfigError(`${where(['source'])}: source.command: a command or pid is required when source.type is strace`);
  }
  return { config, file };
}

const SECRET_KEYS = /secret|password|token|authorization|api[-_]?key/i;

/** The configuration as YAML-ready data with secrets masked (for `kestrel config print` and logs). */
export function maskSecrets(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => maskSecrets(v, key));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = maskSecrets(v, k);
    return out;
  }
  if (typeof value === 'string' && SECRET_KEYS.test(key) && value.length > 0) return '********';
  return value;
}

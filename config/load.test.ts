import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, maskSecrets } from './load.js';
import { configToYaml } from './print.js';
import { parseDuration, parseSize } from './units.js';
import { builtinRulesDir } from './paths.js';

function tmpFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'kestrel-cfg-'));
  const f = join(dir, 'kestrel.yaml');
  writeFileSync(f, text);
  return f;
}

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('units', () => {
  it('parses durations', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('24h')).toBe(86_400_000);
    expect(parseDuration('30d')).toBe(2_592_000_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('2')).toBe(2000);
    expect(parseDuration('abc')).toBeUndefined();
    expect(parseDuration('')).toBeUndefined();
  });
  it('parses sizes', () => {
    expect(parseSize('4MiB')).toBe(4 * 1024 * 1024);
    expect(parseSize(4096)).toBe(4096);
    expect(parseSize('64k')).toBe(65536);
    expect(parseSize('1.5KB')).toBe(1500);
    expect(parseSize('4 parsecs')).toBeUndefined();
  });
});

describe('loadConfig', () => {
  it('needs no file: built-in defaults', () => {
    const { config, file } = loadConfig({ env: {}, file: undefined });
    expect(file).toBeUndefined();
    expect(config.source.type).toBe('simulate');
    expect(config.source.scenarios).toEqual(['builtin']);
    expect(config.source.rate).toBe(200);
    expect(config.rule_matching).toBe('all');
    expect(config.ringbuf_size).toBe(4 * 1024 * 1024);
    expect(config.aggregation.window).toBe(60_000);
    expect(config.retention).toEqual({ max_age: 30 * 86_400_000, max_incidents: 1_000_000 });
    expect(config.rules).toEqual([builtinRulesDir()]);
    expect(config.engine.exec).toBe('jit');
    expect(config.http).toBeUndefined();
  });

  it('reads a file and converts units', () => {
    const f = tmpFile(`
rules: [my-rules.yaml]
rule_matching: first
source: {type: replay, path: events.ndjson, format: tetragon}
ringbuf_size: 64KiB
aggregation: {window: 5m}
webhooks:
  - url: http://127.0.0.1:8080/hook
    secret: s3cret
    min_priority: warning
    timeout: 500ms
http: {listen: 127.0.0.1:9376}
`);
    const { config } = loadConfig({ file: f, env: {} });
    expect(config.rule_matching).toBe('first');
    expect(config.rules[0]).toMatch(/my-rules\.yaml$/);
    expect(config.source.path).toMatch(/events\.ndjson$/);
    expect(config.source.format).toBe('tetragon');
    expect(config.ringbuf_size).toBe(65536);
    expect(config.aggregation.window).toBe(300_000);
    expect(config.webhooks[0]).toMatchObject({ url: 'http://127.0.0.1:8080/hook', secret: 's3cret', min_priority: 'warning', timeout: 500, expire: 86_400_000 });
    expect(config.http).toEqual({ listen: '127.0.0.1:9376' });
  });

  it('names the key, file, line and column of every error', () => {
    const f = tmpFile(`db: ./x.db
rule_matching: sometimes
webhooks:
  - url: ftp://nope
    min_priority: loud
aggregation: {window: soon}
colour: blue
`);
    const msg = errorOf(() => loadConfig({ file: f, env: {} }));
    expect(msg).toContain(`${f}:2:16: rule_matching: must be one of all, first`);
    expect(msg).toMatch(/kestrel\.yaml:4:\d+: webhooks\[0\]\.url: has an invalid format/);
    expect(msg).toMatch(/kestrel\.yaml:5:\d+: webhooks\[0\]\.min_priority: must be one of/);
    expect(msg).toMatch(/kestrel\.yaml:6:\d+: aggregation\.window: must be a duration/);
    expect(msg).toMatch(/colour: unknown key/);
  });

  it('reports YAML syntax errors with a position', () => {
    const f = tmpFile('db: [unclosed\n');
    expect(errorOf(() => loadConfig({ file: f, env: {} }))).toMatch(/kestrel\.yaml:\d+:\d+: /);
  });

  it('rejects a ring buffer size that is not a power of two', () => {
    const f = tmpFile('ringbuf_size: 5000\n');
    expect(errorOf(() => loadConfig({ file: f, env: {} }))).toMatch(/ringbuf_size: must be a power of two/);
  });

  it('applies environment overrides by key path', () => {
    const { config } = loadConfig({
      env: {
        KESTREL_DB: '/tmp/k.db',
        KESTREL_WEBHOOKS_0_URL: 'http://127.0.0.1:9/x',
        KESTREL_WEBHOOKS_0_MIN_PRIORITY: 'error',
        KESTREL_SOURCE_RATE: '50',
        KESTREL_RULE_MATCHING: 'first',
        KESTREL_RETENTION_MAX_AGE: '7d',
        KESTREL_DNS_HOSTS: '{"api.example": ["10.0.0.1"]}',
      },
    });
    expect(config.db).toBe('/tmp/k.db');
    expect(config.webhooks[0].url).toBe('http://127.0.0.1:9/x');
    expect(config.webhooks[0].min_priority).toBe('error');
    expect(config.source.rate).toBe(50);
    expect(config.rule_matching).toBe('first');
    expect(config.retention.max_age).toBe(7 * 86_400_000);
    // User hosts are added to the built-in Kubernetes API entry (set it to [] to drop it).
    expect(config.dns.hosts).toEqual({ 'kubernetes.default.svc.cluster.local': ['10.96.0.1'], 'api.example': ['10.0.0.1'] });
  });

  it('names a bad environment override', () => {
    expect(errorOf(() => loadConfig({ env: { KESTREL_NOPE: '1' } }))).toContain('KESTREL_NOPE: no such configuration key');
    expect(errorOf(() => loadConfig({ env: { KESTREL_RULE_MATCHING: 'maybe' } }))).toMatch(/KESTREL_RULE_MATCHING.*must be one of all, first/);
  });

  it('masks secrets when printed', () => {
    const { config } = loadConfig({
      env: { KESTREL_WEBHOOKS_0_URL: 'http://127.0.0.1:9/x', KESTREL_WEBHOOKS_0_SECRET: 'hunter2', KESTREL_WEBHOOKS_0_HEADERS: '{"Authorization": "Bearer abc"}' },
    });
    const text = configToYaml(config);
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('Bearer abc');
    expect(text).toContain('********');
    expect(text).toContain('window: 1m');
    expect(maskSecrets({ password: 'x', nested: [{ token: 'y' }], plain: 'z' })).toEqual({ password: '********', nested: [{ token: '********' }], plain: 'z' });
  });
});

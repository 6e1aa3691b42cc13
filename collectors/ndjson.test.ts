import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { EventFormatError, formatEvent, parseEventLine, parseEventsText, readEvents } from './ndjson.js';
import { formatRfc3339Ns, parseRfc3339Ns } from './timefmt.js';
import type { KestrelEvent } from './events.js';

describe('RFC 3339 with nanoseconds', () => {
  it('keeps every digit and applies offsets', () => {
    expect(parseRfc3339Ns('2023-10-06T22:03:57.700327580Z')).toBe(1696629837700327580n);
    expect(parseRfc3339Ns('2023-10-06T23:03:57.7+01:00')).toBe(1696629837700000000n);
    expect(parseRfc3339Ns('2022-05-11T12:54:45Z')).toBe(1652273685000000000n);
    expect(parseRfc3339Ns('yesterday')).toBeUndefined();
    expect(formatRfc3339Ns(1696629837700327580n)).toBe('2023-10-06T22:03:57.700327580Z');
  });
});

describe('NDJSON events', () => {
  it('reads every type, with big integer ts and RFC 3339 ts', () => {
    const text = [
      '{"type":"exec","ts":1700000000123456789,"pid":10,"ppid":1,"uid":0,"gid":0,"exe":"/bin/sh","argv":["sh","-c","id"],"tty":34816,"pgid":10,"sid":10,"exe_upper_layer":true,"container":{"id":"abc","image":"alpine:3.19","privileged":true},"extra":"ignored"}',
      '{"type":"dns","ts":"2023-11-14T22:13:20.5Z","pid":10,"name":"example.com","addrs":["93.184.216.34"]}',
      '{"type":"connect","ts":1700000000200000000,"pid":10,"fd":3,"family":"inet","daddr":"93.184.216.34","dport":443,"ret":-115}',
      '{"type":"connect","ts":1700000000200000001,"pid":10,"family":"unix","path":"/run/docker.sock"}',
      '{"type":"fork","ts":1700000000300000000,"pid":10,"child":11}',
      '{"type":"exit","ts":1700000000400000000,"pid":11,"code":1}',
    ].join('\n');
    const errors: EventFormatError[] = [];
    const evs = parseEventsText(text, (e) => errors.push(e));
    expect(errors).toEqual([]);
    expect(evs.map((e) => e.type)).toEqual(['exec', 'dns', 'connect', 'connect', 'fork', 'exit']);
    const ex = evs[0];
    if (ex.type !== 'exec') throw new Error('exec expected');
    expect(ex.ts).toBe(1700000000123456789n);
    expect(ex.tty).toBe(34816);
    expect(ex.exe_upper_layer).toBe(true);
    expect(ex.container).toEqual({ id: 'abc', image: 'alpine:3.19', privileged: true });
    expect('extra' in ex).toBe(false);
    expect(evs[1].ts).toBe(1700000000500000000n);
  });

  it('reports bad lines with line and column and keeps going', () => {
    const text = '{"type":"exit","ts":1,"pid":1}\n{"type":"exec","ts":2,"pid":2}\nnot json\n{"type":"boom","ts":3,"pid":3}\n{"type":"exit","ts":"noon","pid":4}\n{"type":"exit","ts":5,"pid":5}\n';
    const errors: EventFormatError[] = [];
    const evs = parseEventsText(text, (e) => errors.push(e), 'x.ndjson');
    expect(evs.map((e) => e.pid)).toEqual([1, 5]);
    expect(errors.map((e) => e.line)).toEqual([2, 3, 4, 5]);
    expect(errors[0].message).toBe('x.ndjson:2:1: missing "exe"');
    expect(errors[1].message).toMatch(/^x\.ndjson:3:1: invalid JSON/);
    expect(errors[2].message).toMatch(/unknown event type "boom"/);
  });

  it('round-trips through the writer', () => {
    const evs: KestrelEvent[] = [
      { type: 'exec', ts: 1700000000123456789n, pid: 7, exe: '/usr/bin/curl', argv: ['curl', 'http://x y'], env: ['A=1'],
        container: { id: 'c1', name: 'web' }, enforced: 'kill' },
      { type: 'connect', ts: 5n, pid: 7, family: 'inet6', daddr: '::1', dport: 80, proto: 'udp', ret: -1, enforced: 'deny' },
      { type: 'dns', ts: 6n, pid: 7, name: 'a.b', addrs: ['1.2.3.4'] },
      { type: 'fork', ts: 7n, pid: 7, child: 8 },
      { type: 'exit', ts: 8n, pid: 8, code: 0 },
    ];
    const text = evs.map(formatEvent).join('\n');
    expect(text.split('\n')[0].startsWith('{"type":"exec","ts":1700000000123456789,"pid":7,')).toBe(true);
    expect(parseEventsText(text)).toEqual(evs);
  });

  it('streams from a readable', async () => {
    const input = Readable.from(['{"type":"exit","ts":1,"pid":1}\n{"type":"ex', 'it","ts":2,"pid":2}\n']);
    const got: number[] = [];
    for await (const ev of readEvents(input)) got.push(ev.pid);
    expect(got).toEqual([1, 2]);
    expect(parseEventLine('   ', 1)).toBeUndefined();
  });
});

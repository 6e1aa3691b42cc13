import { describe, expect, it } from 'vitest';
import type { KestrelEvent } from '../../collectors/events.js';
import { loadRuleTexts } from '../loader/index.js';
import { compileRuleSet } from './index.js';
import { compiledRunner, referenceMatches } from './harness.js';
import { attachRuleSet } from './attach.js';
import { RingBufConsumer } from '../../engine/maps/index.js';
import { decodeRecord } from '../../alerts/record-format.js';

const RULES = `
- list: shell_binaries
  items: [bash, sh, zsh, dash, ash]
- macro: spawned_process
  condition: (evt.type in (execve, execveat))
- macro: container
  condition: (container.id != host)
- rule: Shell in container
  desc: a shell in a container
  condition: spawned_process and container and proc.name in (shell_binaries)
  output: Shell spawned (user=%user.name cmd=%proc.cmdline parent=%proc.pname container=%container.id image=%container.image)
  priority: WARNING
  tags: [container, shell]
- rule: Curl metadata
  desc: cloud metadata
  condition: spawned_process and proc.cmdline contains "169.254.169.254"
  output: Metadata access (cmd=%proc.cmdline exe=%proc.exe args=%proc.args)
  priority: CRITICAL
- rule: Bin from tmp
  desc: exec from tmp
  condition: spawned_process and (proc.exepath startswith /tmp/ or proc.exepath startswith /dev/shm/) and not proc.name endswith .sh
  output: Tmp exec %proc.exepath
  priority: NOTICE
- rule: Pool port
  desc: miner pool
  condition: evt.type = connect and fd.sport in (3333, 4444, 14444) and fd.sip != 127.0.0.1
  output: Pool (dest=%fd.sip:%fd.sport proc=%proc.name)
  priority: CRITICAL
- rule: Private net
  desc: private networks
  condition: evt.type = connect and fd.snet in ("10.0.0.0/8", "192.168.0.0/16") and evt.res = SUCCESS
  output: Private %fd.sip
  priority: INFO
`;

const t = (n: number): bigint => 1_700_000_000_000_000_000n + BigInt(n) * 1_000_000n;
const ctr = { id: 'abcdef0123456789abcdef', name: 'web', image: 'nginx:1.25' };

const EVENTS: KestrelEvent[] = [
  { type: 'exec', ts: t(1), pid: 100, ppid: 1, uid: 0, gid: 0, exe: '/usr/sbin/nginx', argv: ['nginx'], container: ctr },
  { type: 'fork', ts: t(2), pid: 100, child: 101 },
  { type: 'exec', ts: t(3), pid: 101, ppid: 100, uid: 0, gid: 0, exe: '/bin/bash', argv: ['/bin/bash', '-c', 'id'], container: ctr },
  { type: 'exec', ts: t(4), pid: 200, ppid: 1, uid: 1000, gid: 1000, exe: '/bin/bash', argv: ['bash'] },
  { type: 'exec', ts: t(5), pid: 201, ppid: 200, uid: 1000, gid: 1000, exe: '/usr/bin/curl', argv: ['curl', '-s', 'http://169.254.169.254/latest/meta-data'] },
  { type: 'exec', ts: t(6), pid: 202, ppid: 200, uid: 1000, gid: 1000, exe: '/tmp/x', argv: ['./x'] },
  { type: 'exec', ts: t(7), pid: 203, ppid: 200, uid: 1000, gid: 1000, exe: '/tmp/run.sh', argv: ['run.sh'], comm: 'run.sh' },
  { type: 'connect', ts: t(8), pid: 202, family: 'inet', daddr: '45.9.148.3', dport: 3333 },
  { type: 'connect', ts: t(9), pid: 202, family: 'inet', daddr: '127.0.0.1', dport: 3333 },
  { type: 'connect', ts: t(10), pid: 202, family: 'inet', daddr: '10.1.2.3', dport: 80 },
  { type: 'connect', ts: t(11), pid: 202, family: 'inet', daddr: '192.168.1.1', dport: 80, ret: -111 },
  { type: 'connect', ts: t(12), pid: 202, family: 'inet6', daddr: '2001:db8::1', dport: 4444 },
];

describe('rule compiler', () => {
  const set = loadRuleTexts([{ name: 'test.yaml', text: RULES }]);
  it('loads the test rules', () => {
    expect(set.errors).toEqual([]);
  });
  const compiled = compileRuleSet(set);

  it('compiles every rule, per hook', () => {
    expect(compiled.unsupported).toEqual([]);
    expect(compiled.compiled.map((c) => c.rule).sort()).toEqual(['Bin from tmp', 'Curl metadata', 'Pool port', 'Private net', 'Shell in container']);
    expect(compiled.programs.map((p) => p.hook).sort()).toEqual([
      'tracepoint/syscalls/sys_enter_connect',
      'tracepoint/syscalls/sys_exit_connect',
      'tracepoint/syscalls/sys_exit_execve',
    ]);
  });

  it('fires exactly the rules the reference evaluator fires, with rendered values', () => {
    const runner = compiledRunner(compiled);
    const fired: string[][] = [];
    for (const ev of EVENTS) {
      const { records, contexts } = runner.step(ev);
      const got = records.map((r) => r.rule.name).sort();
      const want = contexts.flatMap((c) => referenceMatches(set, compiled, c.context)).sort();
      expect({ ev: ev.ts, got }).toEqual({ ev: ev.ts, got: want });
      fired.push(got);
    }
    expect(runner.faults).toEqual([]);
    expect(runner.decodeErrors).toEqual([]);
    expect(fired[2]).toEqual(['Shell in container']);
    expect(fired[4]).toEqual(['Curl metadata']);
    expect(fired[5]).toEqual(['Bin from tmp']);
    expect(fired[6]).toEqual([]);
    expect(fired[7]).toEqual(['Pool port']);
    expect(fired[8]).toEqual([]);
    expect(fired[9]).toEqual(['Private net']);
    expect(fired[10]).toEqual([]);
    expect(fired[11]).toEqual(['Pool port']);
  });
});

describe('network lists through the LPM trie', () => {
  it('a longest-prefix hit carries every covering network of every list', () => {
    const set = loadRuleTexts([
      {
        name: 'nets.yaml',
        text: `
- rule: Wide
  desc: w
  condition: evt.type = connect and fd.snet in ("10.0.0.0/8", "172.16.0.0/12")
  output: wide %fd.sip
  priority: INFO
- rule: Narrow
  desc: n
  condition: evt.type = connect and fd.snet in ("10.1.0.0/16", "2001:db8::/32")
  output: narrow %fd.sip
  priority: INFO
`,
      },
    ]);
    expect(set.errors).toEqual([]);
    const c = compileRuleSet(set);
    expect(c.unsupported).toEqual([]);
    expect(c.maps.get('kestrel_nets')?.type).toBe(11);
    const runner = compiledRunner(c);
    runner.step({ type: 'exec', ts: t(1), pid: 7, ppid: 1, exe: '/bin/x', argv: ['x'] });
    const fired = (daddr: string, family: 'inet' | 'inet6' = 'inet'): string[] =>
      runner.step({ type: 'connect', ts: t(2), pid: 7, family, daddr, dport: 80 }).records.map((r) => r.rule.name).sort();
    expect(fired('10.1.2.3')).toEqual(['Narrow', 'Wide']);
    expect(fired('10.2.0.1')).toEqual(['Wide']);
    expect(fired('172.31.255.255')).toEqual(['Wide']);
    expect(fired('172.32.0.1')).toEqual([]);
    expect(fired('2001:db8:1::5', 'inet6')).toEqual(['Narrow']);
    expect(fired('2001:db9::5', 'inet6')).toEqual([]);
    expect(runner.faults).toEqual([]);
  });
});

describe('DNS name lists (kestrel_dns_sets, kept by the kernel)', () => {
  const DNS_RULES = `
- rule: Pool by name
  desc: a mining pool by DNS name
  condition: evt.type = connect and fd.sip.name in (pool.example, "Mine.Example.")
  output: Pool %fd.sip.name
  priority: CRITICAL
- rule: Api by name
  desc: the API server by name
  condition: evt.type = connect and fd.sip.name = api.internal
  output: Api %fd.sip.name
  priority: INFO
`;
  it('fire for answers seen before and after attaching, and after a re-attach', () => {
    const set = loadRuleTexts([{ name: 'dns.yaml', text: DNS_RULES }]);
    const compiled = compileRuleSet(set);
    expect(compiled.dnsLists).toEqual([['mine.example', 'pool.example'], ['api.internal']]);
    const runner = compiledRunner(compiled, { hosts: { 'api.internal': ['10.1.2.3'] } });
    let n = 0;
    const step = (ev: KestrelEvent): string[] => runner.step(ev).records.map((r) => r.rule.name);
    const connect = (daddr: string): string[] => step({ type: 'connect', ts: t(100 + n++), pid: 300, family: 'inet', daddr, dport: 443 });
    step({ type: 'exec', ts: t(99), pid: 300, ppid: 1, uid: 0, gid: 0, exe: '/usr/bin/x', argv: ['x'] });
    expect(connect('10.1.2.3')).toEqual(['Api by name']); // static host, known at attach
    expect(connect('45.9.148.3')).toEqual([]);
    step({ type: 'dns', ts: t(150), pid: 1, name: 'MINE.example', addrs: ['45.9.148.3'] });
    expect(connect('45.9.148.3')).toEqual(['Pool by name']);
    // A second name for the address keeps the first one's lists.
    step({ type: 'dns', ts: t(151), pid: 1, name: 'api.internal', addrs: ['45.9.148.3'] });
    expect(connect('45.9.148.3').sort()).toEqual(['Api by name', 'Pool by name']);
    // Re-attaching (a reload) rebuilds the map from the names the kernel already knows.
    runner.attached.detach();
    const again = attachRuleSet(runner.ek, compiled);
    const consumer = new RingBufConsumer(again.ringbuf);
    runner.ek.kernel.handle({ type: 'connect', ts: t(200), pid: 300, family: 'inet', daddr: '45.9.148.3', dport: 443 });
    const names: string[] = [];
    consumer.consume((data) => {
      const r = decodeRecord(data, compiled.ruleTable);
      if (r.ok) names.push(r.record.rule.name);
    });
    expect(names.sort()).toEqual(['Api by name', 'Pool by name']);
    expect(runner.faults).toEqual([]);
  });
});

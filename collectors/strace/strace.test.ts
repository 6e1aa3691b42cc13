import { describe, expect, it } from 'vitest';
import { createServer, type AddressInfo } from 'node:net';
import { spawn, spawnSync } from 'node:child_process';
import { parseStraceLine, type StraceRecord } from './parse.js';
import { StraceDecoder } from './decode.js';
import { straceSource } from './source.js';
import { containerIdFromCgroup } from '../procinfo.js';
import type { KestrelEvent } from '../events.js';

function decode(lines: string[]): KestrelEvent[] {
  const d = new StraceDecoder({ procInfo: (pid) => ({ ppid: 1, uid: 0, gid: 0, cwd: pid === 10 ? '/work' : '/' }) });
  const out: KestrelEvent[] = [];
  for (const l of lines) {
    const r = parseStraceLine(l);
    if (r !== undefined) out.push(...d.push(r));
  }
  return [...out, ...d.flush()];
}

describe('strace output parsing', () => {
  it('parses calls, escapes, structs and results', () => {
    const r = parseStraceLine('22378 1795610712.444263 execve("/usr/bin/sh", ["sh", "-c", "echo \\"a b\\33\\"\\n"], ["A=1", "B=\\303\\251"]) = 0') as StraceRecord;
    expect(r).toMatchObject({ kind: 'call', pid: 22378, name: 'execve', ret: 0, tsNs: 1795610712444263000n });
    if (r.kind !== 'call') throw new Error('call');
    expect(r.args[1]).toEqual(['sh', '-c', 'echo "a b\x1b"\n']);
    expect(r.args[2]).toEqual(['A=1', 'B=é']);
    const e = parseStraceLine('5 1.5 connect(3, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("1.2.3.4")}, 16) = -1 EINPROGRESS (Operation now in progress)');
    expect(e).toMatchObject({ kind: 'call', ret: -1, errno: 'EINPROGRESS' });
    expect(parseStraceLine('5 1.5 +++ killed by SIGKILL +++')).toMatchObject({ kind: 'killed', signal: 'SIGKILL' });
    expect(parseStraceLine('strace: Process 5 attached')).toBeUndefined();
  });

  it('decodes the process tree, held-back children, threads and sockaddrs', () => {
    const evs = decode([
      '10 100.000001 execve("/usr/bin/python3", ["python3", "x.py"], ["HOME=/root"]) = 0',
      '10 100.000002 connect(3, {sa_family=AF_INET, sin_port=htons(45611), sin_addr=inet_addr("127.0.0.1")}, 16) = 0',
      '10 100.000003 connect(4, {sa_family=AF_INET6, sin6_port=htons(8080), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, 28) = -1 ECONNREFUSED (Connection refused)',
      '10 100.000004 connect(5, {sa_family=AF_UNIX, sun_path="/run/docker.sock"}, 110) = 0',
      '10 100.000005 connect(6, {sa_family=0x2, sin_port="\\xd2\\xf7", sin_addr="\\x7f\\x00\\x00\\x01"}, 16) = 0',
      '10 100.000006 connect(7, {sa_family=AF_NETLINK, nl_pid=0, nl_groups=00000000}, 12) = 0',
      '10 100.000007 clone3({flags=CLONE_VM|CLONE_FS|CLONE_THREAD, exit_signal=0, stack=0x7f, stack_size=0x7fff80} => {parent_tid=[11]}, 88) = 11',
      '11 100.000008 +++ exited with 0 +++',
      '10 100.000009 clone3({flags=CLONE_VM|CLONE_VFORK, exit_signal=SIGCHLD, stack=0x7f, stack_size=0x9000}, 88 <unfinished ...>',
      '12 100.000010 execve("/bin/sh", ["sh", "-c", "ls"], ["A=1"] <unfinished ...>',
      '10 100.000011 <... clone3 resumed>) = 12',
      '12 100.000012 <... execve resumed>) = 0',
      '12 100.000013 execve("ls", ["ls"], []) = -1 ENOENT (No such file or directory)',
      '12 100.000014 execve("/bin/ls", ["ls"], []) = 0',
      '12 100.000015 +++ exited with 0 +++',
      '10 100.000016 +++ killed by SIGKILL +++',
    ]);
    expect(evs.map((e) => `${e.type}:${e.pid}`)).toEqual([
      'exec:10', 'connect:10', 'connect:10', 'connect:10', 'connect:10',
      'fork:10', 'exec:12', 'exec:12', 'exit:12', 'exit:10',
    ]);
    expect(evs[0]).toMatchObject({ exe: '/usr/bin/python3', argv: ['python3', 'x.py'], env: ['HOME=/root'], cwd: '/work', uid: 0 });
    expect(evs[1]).toMatchObject({ family: 'inet', daddr: '127.0.0.1', dport: 45611, fd: 3, ret: 0 });
    expect(evs[2]).toMatchObject({ family: 'inet6', daddr: '::1', dport: 8080, ret: -111 });
    expect(evs[3]).toMatchObject({ family: 'unix', path: '/run/docker.sock' });
    expect(evs[4]).toMatchObject({ family: 'inet', daddr: '127.0.0.1', dport: 54007 });
    expect(evs[5]).toMatchObject({ type: 'fork', child: 12 });
    expect(evs[6]).toMatchObject({ exe: '/bin/sh', argv: ['sh', '-c', 'ls'], ts: 100000010000n });
    expect(evs[9]).toMatchObject({ type: 'exit', code: 137 });
  });

  it('finds container ids in cgroup paths', () => {
    const id = 'a'.repeat(64);
    expect(containerIdFromCgroup(`0::/system.slice/docker-${id}.scope\n`)).toBe(id);
    expect(containerIdFromCgroup(`0::/kubepods/besteffort/pod1234/cri-containerd-${id}.scope\n`)).toBe(id);
    expect(containerIdFromCgroup(`12:memory:/docker/${id}\n`)).toBe(id);
    expect(containerIdFromCgroup('0::/user.slice/user-1000.slice/session-2.scope\n')).toBeUndefined();
  });
});

// strace is a test dependency (.ci/run installs it).
describe('strace end to end', () => {
  it('strace is installed', () => {
    expect(spawnSync('strace', ['-V']).status).toBe(0);
  });

  it("sees sh, ls and true of `sh -c 'ls /; exec true'` with their argv", async () => {
    const s = straceSource({ command: ['sh', '-c', 'ls / >/dev/null; exec true'], stdio: 'ignore' });
    const evs: KestrelEvent[] = [];
    for await (const ev of s.events) evs.push(ev);
    expect((await s.exited).code).toBe(0);
    const execs = evs.filter((e): e is Extract<KestrelEvent, { type: 'exec' }> => e.type === 'exec' && (e.ret ?? 0) === 0);
    expect(execs.map((e) => e.argv)).toEqual([['sh', '-c', 'ls / >/dev/null; exec true'], ['ls', '/'], ['true']]);
    expect(execs[0].exe).toMatch(/\/sh$/);
    // ls ran in a child of sh; true replaced sh itself.
    const fork = evs.find((e) => e.type === 'fork');
    expect(fork).toMatchObject({ pid: execs[0].pid, child: execs[1].pid });
    expect(execs[2].pid).toBe(execs[0].pid);
    expect(evs.filter((e) => e.type === 'exit').map((e) => e.pid).sort()).toEqual([execs[0].pid, execs[1].pid].sort());
  });

  it('sees a connect to a local listening port with its address, and the exit status', async () => {
    const server = createServer((c) => c.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const s = straceSource({
        command: [process.execPath, '-e', `require('net').connect(${port}, '127.0.0.1').on('connect', function () { this.end(); process.exitCode = 3; })`],
        stdio: 'ignore',
      });
      const evs: KestrelEvent[] = [];
      for await (const ev of s.events) evs.push(ev);
      expect((await s.exited).code).toBe(3);
      const conns = evs.filter((e) => e.type === 'connect' && e.dport === port);
      expect(conns).toHaveLength(1);
      expect(conns[0]).toMatchObject({ family: 'inet', daddr: '127.0.0.1', dport: port });
    } finally {
      server.close();
    }
  });

  it('attaches to a running process and sees what it runs next', async () => {
    const target = spawn('sh', ['-c', 'sleep 0.6; ls / >/dev/null; exit 0'], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 150));
    const s = straceSource({ pid: target.pid as number, stdio: 'ignore' });
    const evs: KestrelEvent[] = [];
    for await (const ev of s.events) evs.push(ev);
    await s.exited;
    const ls = evs.find((e) => e.type === 'exec' && e.argv[0] === 'ls');
    expect(ls).toMatchObject({ argv: ['ls', '/'], ppid: target.pid });
    expect(evs.some((e) => e.type === 'fork' && e.pid === target.pid)).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import { VmMemory } from '../../engine/memory.js';
import type { ExecEnv } from '../../engine/runtime.js';
import { SimKernel, KILLED_EXIT_CODE, type KernelMap } from './kernel.js';
import { hookByName, type HookName } from './hooks.js';
import { KP, KP_F_CONTAINER, KP_F_EXITED, KC, readStr, u32Key, u64Key, KP_NAME, KC_NAME, KU_NAME, KD_NAME, dnsKey } from './maps.js';
import { cgroupIdFor } from '../process-table.js';
import type { KestrelEvent } from '../events.js';

interface Seen {
  hook: HookName;
  ctx: Uint8Array;
  pid: number | undefined;
  comm: string | undefined;
  env: ExecEnv;
}

type Prog = (s: Seen) => void;

function setup(table?: { maxExited?: number }): { k: SimKernel<Prog>; mem: VmMemory; maps: Map<string, Map<string, Uint8Array>> } {
  const mem = new VmMemory({ initialBytes: 1 << 20 });
  const maps = new Map<string, Map<string, Uint8Array>>();
  const k = new SimKernel<Prog>({
    mem,
    seed: 7,
    table,
    createMap: (def): KernelMap => {
      const m = new Map<string, Uint8Array>();
      maps.set(def.name, m);
      return {
        update: (key, v) => void m.set(Buffer.from(key).toString('hex'), v.slice()),
        delete: (key) => void m.delete(Buffer.from(key).toString('hex')),
      };
    },
    executor: (prog, env, addr, size, hook) => {
      // Programs may only read the context region: check it is one, then copy it out.
      expect(mem.canAccess(addr, size, false)).toBe(true);
      expect(mem.canAccess(addr, size, true)).toBe(false);
      expect(mem.canAccess(addr, size + 1, false)).toBe(false);
      const t = env.currentTask();
      prog({ hook, ctx: mem.u8.slice(addr, addr + size), pid: t?.pid, comm: t?.comm, env });
    },
  });
  return { k, mem, maps };
}

const dv = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);
const u64 = (b: Uint8Array, off: number): bigint => dv(b).getBigUint64(off, true);
const split = (a: bigint): [number, number] => [Number(a & 0xffffffffn), Number(a >> 32n)];
const str = (env: ExecEnv, a: bigint, max = 256): string => {
  const [lo, hi] = split(a);
  const b = env.readUserStr(lo, hi, max);
  if (b === undefined) throw new Error('fault');
  return Buffer.from(b.subarray(0, b.indexOf(0))).toString();
};

const execEv: KestrelEvent = {
  type: 'exec', ts: 1_700_000_000_000_000_000n, pid: 4242, ppid: 1, uid: 1000, gid: 1000,
  exe: '/usr/bin/curl', argv: ['curl', '-s', 'http://169.254.169.254/latest'], env: ['HOME=/root', 'TERM=xterm'],
  container: { id: 'c0ffee', name: 'web', image: 'nginx:1.25', privileged: false },
};

describe('SimKernel hooks', () => {
  it('sys_enter_execve: 40-byte record with user pointers to filename/argv/envp', () => {
    const { k } = setup();
    const seen: Seen[] = [];
    let filename = '';
    let argv: string[] = [];
    let envp: string[] = [];
    k.attach('tracepoint/syscalls/sys_enter_execve', (s) => {
      seen.push(s);
      filename = str(s.env, u64(s.ctx, 16));
      const read = (arr: bigint): string[] => {
        const out: string[] = [];
        for (let i = 0; ; i++) {
          const [lo, hi] = split(arr + BigInt(i * 8));
          const p = s.env.readUser(lo, hi, 8);
          if (p === undefined) throw new Error('fault');
          const ptr = u64(p, 0);
          if (ptr === 0n) return out;
          out.push(str(s.env, ptr));
        }
      };
      argv = read(u64(s.ctx, 24));
      envp = read(u64(s.ctx, 32));
    });
    k.handle(execEv);
    expect(seen).toHaveLength(1);
    const c = seen[0].ctx;
    expect(c.length).toBe(40);
    expect(dv(c).getUint16(0, true)).toBe(737); // common_type
    expect(dv(c).getInt32(4, true)).toBe(4242); // common_pid
    expect(dv(c).getInt32(8, true)).toBe(59); // __syscall_nr
    expect(u64(c, 16) > 0xffffffffn).toBe(true); // a real 64-bit user pointer
    expect(filename).toBe('/usr/bin/curl');
    expect(argv).toEqual(['curl', '-s', 'http://169.254.169.254/latest']);
    expect(envp).toEqual(['HOME=/root', 'TERM=xterm']);
    // Bytes outside the user arena fault.
    expect(seen[0].env.readUser(0, 0, 8)).toBeUndefined();
  });

  it('sched_process_exec, sys_exit_execve, fork and exit records', () => {
    const { k } = setup();
    const seen: Seen[] = [];
    for (const h of ['tracepoint/sched/sched_process_exec', 'tracepoint/syscalls/sys_exit_execve',
      'tracepoint/sched/sched_process_fork', 'tracepoint/sched/sched_process_exit'] as const) {
      k.attach(h, (s) => seen.push(s));
    }
    k.handle({ type: 'exec', ts: 1n, pid: 10, exe: '/bin/bash', argv: ['bash'] });
    k.handle({ type: 'fork', ts: 2n, pid: 10, child: 11 });
    k.handle({ type: 'exit', ts: 3n, pid: 11, code: 0 });
    expect(seen.map((s) => s.hook.split('/')[2])).toEqual(['sched_process_exec', 'sys_exit_execve', 'sched_process_fork', 'sched_process_exit']);
    const [exec, exit1, fork, exit2] = seen.map((s) => s.ctx);
    // sched_process_exec: __data_loc filename @8 (len<<16 | 20), pid @12, old_pid @16, string @20.
    expect(exec.length).toBe(20 + 10);
    expect(dv(exec).getUint32(8, true)).toBe((10 << 16) | 20);
    expect(dv(exec).getInt32(12, true)).toBe(10);
    expect(dv(exec).getInt32(16, true)).toBe(10);
    expect(Buffer.from(exec.subarray(20)).toString()).toBe('/bin/bash\0');
    expect(seen[0].comm).toBe('bash'); // new image's comm
    // sys_exit_execve: nr @8, ret @16, 24 bytes.
    expect(exit1.length).toBe(24);
    expect(dv(exit1).getInt32(8, true)).toBe(59);
    expect(dv(exit1).getBigInt64(16, true)).toBe(0n);
    // sched_process_fork: parent_comm loc @8, parent_pid @12, child_comm loc @16, child_pid @20.
    expect(dv(fork).getUint32(8, true)).toBe((5 << 16) | 24);
    expect(dv(fork).getInt32(12, true)).toBe(10);
    expect(dv(fork).getUint32(16, true)).toBe((5 << 16) | 29);
    expect(dv(fork).getInt32(20, true)).toBe(11);
    expect(Buffer.from(fork.subarray(24)).toString()).toBe('bash\0bash\0');
    expect(seen[2].pid).toBe(10);
    // sched_process_exit: comm[16] @8, pid @24, prio @28, group_dead @32, 33 bytes.
    expect(exit2.length).toBe(33);
    expect(Buffer.from(exit2.subarray(8, 24)).toString()).toBe('bash' + '\0'.repeat(12));
    expect(dv(exit2).getInt32(24, true)).toBe(11);
    expect(dv(exit2).getInt32(28, true)).toBe(120);
    expect(exit2[32]).toBe(1);
  });

  it('sys_enter_connect carries sockaddr_in / in6 / un in network byte order', () => {
    const { k } = setup();
    const got: string[] = [];
    k.attach('tracepoint/syscalls/sys_enter_connect', (s) => {
      expect(s.ctx.length).toBe(40);
      expect(dv(s.ctx).getInt32(8, true)).toBe(42);
      const fd = dv(s.ctx).getBigInt64(16, true);
      const len = Number(u64(s.ctx, 32));
      const [lo, hi] = split(u64(s.ctx, 24));
      const sa = s.env.readUser(lo, hi, len);
      if (sa === undefined) throw new Error('fault');
      const fam = dv(sa).getUint16(0, true);
      if (fam === 2) got.push(`fd${fd} in ${sa[4]}.${sa[5]}.${sa[6]}.${sa[7]}:${dv(sa).getUint16(2, false)} len${len}`);
      else if (fam === 10) got.push(`in6 ${Buffer.from(sa.subarray(8, 24)).toString('hex')}:${dv(sa).getUint16(2, false)} len${len}`);
      else got.push(`un ${Buffer.from(sa.subarray(2, sa.indexOf(0, 2))).toString()} len${len}`);
    });
    k.handle({ type: 'connect', ts: 1n, pid: 5, fd: 7, family: 'inet', daddr: '10.96.0.1', dport: 443 });
    k.handle({ type: 'connect', ts: 2n, pid: 5, family: 'inet6', daddr: '2001:db8::1', dport: 8080 });
    k.handle({ type: 'connect', ts: 3n, pid: 5, family: 'unix', path: '/run/docker.sock' });
    expect(got).toEqual([
      'fd7 in 10.96.0.1:443 len16',
      'in6 20010db8000000000000000000000001:8080 len28',
      'un /run/docker.sock len110',
    ]);
  });

  it('kprobe pt_regs: di points at the user regs holding the syscall arguments', () => {
    const { k, mem } = setup();
    let ok = false;
    k.attach('kprobe/__x64_sys_connect', (s) => {
      expect(s.ctx.length).toBe(168);
      const inner = Number(u64(s.ctx, 112)); // outer->di
      expect(inner).toBe(k.innerRegsAddr);
      expect(mem.canAccess(inner, 168, false)).toBe(true);
      const regs = mem.u8.slice(inner, inner + 168);
      expect(u64(regs, 112)).toBe(3n); // di = fd
      const [lo, hi] = split(u64(regs, 104)); // si = uservaddr
      const sa = s.env.readUser(lo, hi, Number(u64(regs, 96))); // dx = addrlen
      expect(sa?.length).toBe(16);
      expect(u64(regs, 120)).toBe(42n); // orig_ax = __NR_connect
      ok = true;
    });
    k.handle({ type: 'connect', ts: 1n, pid: 5, family: 'inet', daddr: '1.2.3.4', dport: 80 });
    expect(ok).toBe(true);
  });
});

describe('hook names', () => {
  it('accepts the tracepoint, tp/ and bare forms and rejects others', () => {
    expect(hookByName('tracepoint/syscalls/sys_enter_execve')).toBe('tracepoint/syscalls/sys_enter_execve');
    expect(hookByName('tp/sched/sched_process_exec')).toBe('tracepoint/sched/sched_process_exec');
    expect(hookByName('syscalls/sys_exit_connect')).toBe('tracepoint/syscalls/sys_exit_connect');
    expect(hookByName('kprobe/__x64_sys_connect')).toBe('kprobe/__x64_sys_connect');
    expect(hookByName('kprobe/do_sys_open')).toBeUndefined();
    expect(hookByName('tracepoint/syscalls/sys_enter_openat')).toBeUndefined();
  });
  it('detaches by hook', () => {
    const { k } = setup();
    let n = 0;
    const p: Prog = () => void n++;
    k.attach('tracepoint/syscalls/sys_enter_connect', p);
    k.attach('tracepoint/syscalls/sys_enter_connect', p); // once only
    k.handle({ type: 'connect', ts: 1n, pid: 1, family: 'inet', daddr: '1.1.1.1', dport: 1 });
    expect(k.detach('tracepoint/syscalls/sys_enter_connect', p)).toBe(true);
    expect(k.detach('tracepoint/syscalls/sys_enter_connect', p)).toBe(false);
    k.handle({ type: 'connect', ts: 2n, pid: 1, family: 'inet', daddr: '1.1.1.1', dport: 1 });
    expect(n).toBe(1);
  });
});

describe('SimKernel enforcement', () => {
  it('SIGKILL at sys_enter_execve: the exec does not happen and the process exits', () => {
    const { k } = setup();
    k.handle({ type: 'exec', ts: 1n, pid: 20, exe: '/bin/bash', argv: ['bash'] });
    const after: string[] = [];
    k.attach('tracepoint/syscalls/sys_enter_execve', (s) => void s.env.sendSignal(9));
    k.attach('tracepoint/sched/sched_process_exec', () => after.push('exec'));
    k.attach('tracepoint/sched/sched_process_exit', (s) => after.push(`exit ${s.comm}`));
    const res = k.handle({ type: 'exec', ts: 2n, pid: 20, exe: '/usr/bin/nc', argv: ['nc', '-e', '/bin/sh'] });
    expect(res.map((h) => [h.event.type, h.event.enforced])).toEqual([['exec', 'kill'], ['exit', 'kill']]);
    expect(res[1].event).toMatchObject({ code: KILLED_EXIT_CODE });
    expect(res[0].context.process?.exe).toBe('/bin/bash'); // image not replaced
    expect(after).toEqual(['exit bash']);
    expect(k.table.isLive(20)).toBe(false);
    expect(k.stats.kills).toBe(1);
  });

  it('override_return at the kprobe makes connect fail with the errno', () => {
    const { k } = setup();
    const exits: bigint[] = [];
    k.attach('kprobe/__x64_sys_connect', (s) => void s.env.overrideReturn(-1n));
    k.attach('tracepoint/syscalls/sys_exit_connect', (s) => exits.push(dv(s.ctx).getBigInt64(16, true)));
    const [h] = k.handle({ type: 'connect', ts: 1n, pid: 9, family: 'inet', daddr: '203.0.113.9', dport: 3333 });
    expect(h.event).toMatchObject({ type: 'connect', ret: -1, enforced: 'deny' });
    expect(exits).toEqual([-1n]);
  });

  it('override_return is refused outside kprobes', () => {
    const { k } = setup();
    let rc = 0;
    k.attach('tracepoint/syscalls/sys_enter_connect', (s) => (rc = s.env.overrideReturn(-13n)));
    const [h] = k.handle({ type: 'connect', ts: 1n, pid: 9, family: 'inet', daddr: '203.0.113.9', dport: 80 });
    expect(rc).toBeLessThan(0);
    expect(h.event.enforced).toBeUndefined();
  });

  it('override_return on execve: the exec fails and the image stays', () => {
    const { k } = setup();
    k.handle({ type: 'exec', ts: 1n, pid: 30, exe: '/bin/sh', argv: ['sh'] });
    k.attach('kprobe/__x64_sys_execve', (s) => void s.env.overrideReturn(-13n));
    const [h] = k.handle({ type: 'exec', ts: 2n, pid: 30, exe: '/tmp/xmrig', argv: ['xmrig'] });
    expect(h.event).toMatchObject({ ret: -13, enforced: 'deny' });
    expect(h.context.process?.exe).toBe('/bin/sh');
  });
});

describe('SimKernel state', () => {
  it('assigns the local end of connections', () => {
    const { k } = setup();
    k.handle(execEv);
    const [h] = k.handle({ type: 'connect', ts: 2n, pid: 4242, family: 'inet', daddr: '1.1.1.1', dport: 53, proto: 'udp' });
    if (h.event.type !== 'connect') throw new Error('connect');
    expect(h.event.saddr).toMatch(/^172\.17\.\d+\.\d+$/);
    expect(h.event.sport).toBeGreaterThanOrEqual(32768);
    const [h2] = k.handle({ type: 'connect', ts: 3n, pid: 1, family: 'inet', daddr: '127.0.0.1', dport: 80 });
    if (h2.event.type !== 'connect') throw new Error('connect');
    expect(h2.event.saddr).toBe('127.0.0.1');
    expect(h2.event.sport).toBe((h.event.sport ?? 0) + 1);
  });

  it('keeps the kernel maps up to date', () => {
    const { k, maps } = setup();
    k.handle(execEv);
    k.handle({ type: 'dns', ts: 2n, pid: 4242, name: 'pool.minexmr.com', addrs: ['203.0.113.5'] });
    const procs = maps.get(KP_NAME) as Map<string, Uint8Array>;
    const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
    const p = procs.get(hex(u32Key(4242)));
    if (p === undefined) throw new Error('missing');
    expect(dv(p).getUint32(KP.ppid, true)).toBe(1);
    expect(dv(p).getUint32(KP.uid, true)).toBe(1000);
    expect(dv(p).getUint32(KP.loginuid, true)).toBe(0xffffffff);
    expect(dv(p).getUint32(KP.flags, true) & KP_F_CONTAINER).toBe(KP_F_CONTAINER);
    expect(dv(p).getBigUint64(KP.cgroupId, true)).toBe(cgroupIdFor('c0ffee'));
    expect(readStr(p, KP.comm, KP.commSize)).toBe('curl');
    expect(readStr(p, KP.exe, KP.exeSize)).toBe('/usr/bin/curl');
    expect(Buffer.from(p.subarray(KP.args, KP.args + dv(p).getUint16(KP.argsLen, true))).toString()).toBe('curl\0-s\0http://169.254.169.254/latest\0');
    expect(dv(p).getUint16(KP.arg0Len, true)).toBe(4); // argv[1] starts at args + 5
    const c = (maps.get(KC_NAME) as Map<string, Uint8Array>).get(hex(u64Key(cgroupIdFor('c0ffee'))));
    if (c === undefined) throw new Error('missing container');
    expect(readStr(c, KC.name, 64)).toBe('web');
    expect(readStr(c, KC.repository, 128)).toBe('nginx');
    expect(readStr(c, KC.tag, 64)).toBe('1.25');
    expect(c[KC.privileged]).toBe(0);
    expect(readStr((maps.get(KU_NAME) as Map<string, Uint8Array>).get(hex(u32Key(0))) as Uint8Array, 0, 32)).toBe('root');
    const d = (maps.get(KD_NAME) as Map<string, Uint8Array>).get(hex(dnsKey('203.0.113.5') as Uint8Array));
    expect(readStr(d as Uint8Array, 0, 128)).toBe('pool.minexmr.com');
    k.handle({ type: 'exit', ts: 3n, pid: 4242 });
    const gone = procs.get(hex(u32Key(4242))) as Uint8Array;
    expect(dv(gone).getUint32(KP.flags, true) & KP_F_EXITED).toBe(KP_F_EXITED);
  });

  it('drops process-cache entries once a process leaves the exited LRU (not a live reuser)', () => {
    const { k, maps } = setup({ maxExited: 1 });
    const procs = maps.get(KP_NAME) as Map<string, Uint8Array>;
    const has = (pid: number): boolean => procs.has(Buffer.from(u32Key(pid)).toString('hex'));
    k.handle({ type: 'exec', ts: 1n, pid: 1, exe: '/a', argv: ['a'] });
    k.handle({ type: 'exec', ts: 2n, pid: 2, exe: '/b', argv: ['b'] });
    k.handle({ type: 'exit', ts: 3n, pid: 1 });
    expect(has(1)).toBe(true); // exited, still resolvable
    k.handle({ type: 'exec', ts: 4n, pid: 1, exe: '/c', argv: ['c'] }); // pid 1 reused
    k.handle({ type: 'exit', ts: 5n, pid: 2 }); // pushes the old pid 1 out of the exited LRU
    expect(has(1)).toBe(true); // the live reuser keeps its entry
    expect(readStr(procs.get(Buffer.from(u32Key(1)).toString('hex')) as Uint8Array, KP.exe, KP.exeSize)).toBe('/c');
    k.handle({ type: 'exit', ts: 6n, pid: 1 }); // pushes pid 2 out
    expect(has(2)).toBe(false);
  });

  it('synthetic execs update state but fire nothing', () => {
    const { k } = setup();
    let fired = 0;
    k.attach('tracepoint/syscalls/sys_enter_execve', () => fired++);
    k.handle({ type: 'exec', ts: 1n, pid: 3, exe: '/sbin/init', argv: ['init'], synthetic: true });
    expect(fired).toBe(0);
    expect(k.table.get(3)?.exe).toBe('/sbin/init');
  });
});

describe('kestrel_proc arg0_len', () => {
  it('is strlen(argv[0]) as stored, the args length when argv[0] fills the block', () => {
    const { k, maps } = setup();
    const at = (pid: number, argv: string[]): [number, number] => {
      k.handle({ ...execEv, pid, argv });
      const p = (maps.get(KP_NAME) as Map<string, Uint8Array>).get(Buffer.from(u32Key(pid)).toString('hex'));
      if (p === undefined) throw new Error('missing');
      return [dv(p).getUint16(KP.arg0Len, true), dv(p).getUint16(KP.argsLen, true)];
    };
    expect(at(5001, ['worker', '--job', '7'])).toEqual([6, 15]);
    expect(at(5002, ['/usr/bin/é'])).toEqual([11, 12]);
    expect(at(5003, ['x'.repeat(600), 'y'])).toEqual([511, 512]); // cut to fit, still NUL-terminated
  });
});

import { describe, expect, it } from 'vitest';
import { RegionKind } from '../memory.js';
import { createVm, type Vm } from '../vm.js';
import type { Runtime } from '../runtime.js';
import { HELPER_IMPLS, HelperFault, formatTracePipeLine } from './impl.js';
import { HELPERS } from './protos.js';
import { invokeHelper, scratch, testEnv, type TestEnv } from './test-env.js';
import {
  BPF_MAP_TYPE_ARRAY,
  BPF_MAP_TYPE_HASH,
  BPF_MAP_TYPE_PERF_EVENT_ARRAY,
  BPF_MAP_TYPE_RINGBUF,
  BPF_F_RDONLY_PROG,
} from '../maps/types.js';
import { PerfEventArrayMap, PerfEventReader, RingBufConsumer, RingBufMap } from '../maps/index.js';

const neg = (e: number): bigint => BigInt.asUintN(64, BigInt(-e));
const EFAULT = 14;
const EINVAL = 22;

function setup(envOpts: Parameters<typeof testEnv>[0] = {}, cpus = 2): { vm: Vm; env: TestEnv; rt: Runtime } {
  const vm = createVm({ memoryBytes: 4 << 20, cpus });
  const env = testEnv(envOpts);
  const rt = vm.runtime(env, { cpu: 1 });
  return { vm, env, rt };
}

function str(vm: Vm, s: string, writable = false): number {
  const b = new TextEncoder().encode(`${s}\0`);
  const a = scratch(vm.mem, b.length, true, RegionKind.Stack);
  vm.mem.u8.set(b, a);
  if (!writable) {
    // Re-add as read-only data (like a constant string in a read-only map value).
    vm.mem.removeRegion(vm.mem.regionAt(a));
    vm.mem.addRegion(a, b.length, RegionKind.ReadOnlyData, false);
  }
  return a;
}

function cstr(vm: Vm, addr: number): string {
  const u8 = vm.mem.u8;
  let e = addr;
  while (u8[e] !== 0) e++;
  return new TextDecoder().decode(u8.subarray(addr, e));
}

function throwsFault(f: () => unknown): boolean {
  try {
    f();
  } catch (e) {
    return e instanceof HelperFault;
  }
  return false;
}

describe('helper table', () => {
  it('implements every prototype except tail_call and loop', () => {
    for (const p of HELPERS) {
      if (p.id === 12 || p.id === 181) expect(HELPER_IMPLS[p.id]).toBeUndefined();
      else expect(HELPER_IMPLS[p.id], p.name).toBeTypeOf('function');
    }
  });
});

describe('map helpers', () => {
  it('look up, update and delete through the map handle', () => {
    const { vm, rt } = setup();
    const m = vm.createMap({ name: 'h', type: BPF_MAP_TYPE_HASH, keySize: 4, valueSize: 8, maxEntries: 4, flags: 0 });
    const k = scratch(vm.mem, 8);
    const v = scratch(vm.mem, 8);
    vm.mem.dv.setUint32(k, 5, true);
    vm.mem.dv.setBigUint64(v, 0x1122334455n, true);
    expect(invokeHelper(rt, 1, m.handle, k)).toBe(0n);
    expect(invokeHelper(rt, 2, m.handle, k, v, 0)).toBe(0n);
    const p = Number(invokeHelper(rt, 1, m.handle, k));
    expect(vm.mem.dv.getBigUint64(p, true)).toBe(0x1122334455n);
    expect(invokeHelper(rt, 2, m.handle, k, v, 1)).toBe(neg(17));
    expect(invokeHelper(rt, 2, m.handle, k, v, 1n << 32n)).toBe(neg(EINVAL));
    expect(invokeHelper(rt, 3, m.handle, k)).toBe(0n);
    expect(invokeHelper(rt, 3, m.handle, k)).toBe(neg(2));
    expect(throwsFault(() => invokeHelper(rt, 1, 12345, k))).toBe(true);
    expect(throwsFault(() => invokeHelper(rt, 1, m.handle, 0))).toBe(true);
    m.close();
    expect(vm.maps.has(m.handle)).toBe(false);
    expect(throwsFault(() => invokeHelper(rt, 1, m.handle, k))).toBe(true);
  });
});

describe('probe_read family', () => {
  it('reads user memory, and on a fault zeroes the destination and returns -EFAULT', () => {
    const { vm, env, rt } = setup();
    const ua = env.userMem.map(0x7ffd_0000_1000n, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
    const dst = scratch(vm.mem, 8);
    expect(invokeHelper(rt, 112, dst, 8, ua)).toBe(0n);
    expect([...vm.mem.u8.subarray(dst, dst + 8)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(invokeHelper(rt, 112, dst, 8, ua + 4n)).toBe(neg(EFAULT));
    expect([...vm.mem.u8.subarray(dst, dst + 8)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(invokeHelper(rt, 112, dst, 0, 0)).toBe(0n);
  });

  it('treats an unwritable destination as a VM fault', () => {
    const { vm, env, rt } = setup();
    const ua = env.userMem.map(0x1000n, new Uint8Array(8));
    const ro = str(vm, 'abcdefg');
    expect(throwsFault(() => invokeHelper(rt, 112, ro, 8, ua))).toBe(true);
    const dst = scratch(vm.mem, 8);
    expect(throwsFault(() => invokeHelper(rt, 112, dst, 9, ua))).toBe(true);
  });

  it('reads user strings with the kernel return convention', () => {
    const { vm, env, rt } = setup();
    const s = env.userMem.map(0x5555_0000n, '/usr/bin/curl');
    const empty = env.userMem.map(0x5556_0000n, '');
    const dst = scratch(vm.mem, 32);
    expect(invokeHelper(rt, 114, dst, 32, s)).toBe(14n); // 13 chars + NUL
    expect(cstr(vm, dst)).toBe('/usr/bin/curl');
    expect(invokeHelper(rt, 114, dst, 5, s)).toBe(5n); // truncated: 4 bytes + NUL
    expect(cstr(vm, dst)).toBe('/usr');
    expect(invokeHelper(rt, 114, dst, 32, empty)).toBe(1n);
    expect(invokeHelper(rt, 114, dst, 32, 0x9999_0000n)).toBe(neg(EFAULT));
    expect(vm.mem.u8.subarray(dst, dst + 32).every((b) => b === 0)).toBe(true);
  });

  it('reads kernel memory only where a region allows it', () => {
    const { vm, rt } = setup();
    const src = str(vm, 'kernel!');
    const dst = scratch(vm.mem, 16);
    expect(invokeHelper(rt, 113, dst, 8, src)).toBe(0n);
    expect(cstr(vm, dst)).toBe('kernel!');
    expect(invokeHelper(rt, 113, dst, 16, src)).toBe(neg(EFAULT)); // runs past the region
    expect(invokeHelper(rt, 113, dst, 8, 0x100)).toBe(neg(EFAULT)); // exchange area: no region
    expect(invokeHelper(rt, 113, dst, 8, 1n << 40n)).toBe(neg(EFAULT));
    expect(invokeHelper(rt, 115, dst, 16, src)).toBe(8n);
    expect(cstr(vm, dst)).toBe('kernel!');
    expect(invokeHelper(rt, 115, dst, 4, src)).toBe(4n);
    expect(cstr(vm, dst)).toBe('ker');
    // probe_read (compat): a region address is kernel memory, anything else user memory.
    vm.mem.u8.fill(0, dst, dst + 16);
    expect(invokeHelper(rt, 4, dst, 4, src)).toBe(0n);
    expect(cstr(vm, dst)).toBe('kern');
  });

  it('probe_read compat falls back to user memory', () => {
    const { vm, env, rt } = setup();
    const ua = env.userMem.map(0x7fff_0000_0000n, 'user');
    const dst = scratch(vm.mem, 8);
    expect(invokeHelper(rt, 4, dst, 5, ua)).toBe(0n);
    expect(cstr(vm, dst)).toBe('user');
  });
});

describe('task, time and misc helpers', () => {
  it('report the current task like Linux', () => {
    const { vm, rt } = setup({ task: { pid: 101, tgid: 100, uid: 1000, gid: 50, comm: 'a-very-long-command-name', cgroupId: 9n, taskAddr: 0xffff0000n } });
    expect(invokeHelper(rt, 14)).toBe((100n << 32n) | 101n);
    expect(invokeHelper(rt, 15)).toBe((50n << 32n) | 1000n);
    expect(invokeHelper(rt, 35)).toBe(0xffff0000n);
    expect(invokeHelper(rt, 80)).toBe(9n);
    const buf = scratch(vm.mem, 24);
    vm.mem.u8.fill(0xaa, buf, buf + 24);
    expect(invokeHelper(rt, 16, buf, 24)).toBe(0n);
    expect(cstr(vm, buf)).toBe('a-very-long-com'); // 15 bytes visible
    expect(vm.mem.u8.subarray(buf + 15, buf + 24).every((b) => b === 0)).toBe(true);
    expect(invokeHelper(rt, 16, buf, 4)).toBe(0n);
    expect(cstr(vm, buf)).toBe('a-v');
  });

  it('return -EINVAL for ids without a current task, 0 for task and cgroup', () => {
    const { vm, rt } = setup({ task: null });
    expect(invokeHelper(rt, 14)).toBe(neg(EINVAL));
    expect(invokeHelper(rt, 15)).toBe(neg(EINVAL));
    const buf = scratch(vm.mem, 16);
    vm.mem.u8.fill(1, buf, buf + 16);
    expect(invokeHelper(rt, 16, buf, 16)).toBe(neg(EINVAL));
    expect(vm.mem.u8.subarray(buf, buf + 16).every((b) => b === 0)).toBe(true);
    expect(invokeHelper(rt, 35)).toBe(0n);
    expect(invokeHelper(rt, 80)).toBe(0n);
    expect(invokeHelper(rt, 109, 9)).toBe(neg(1));
  });

  it('give clocks, CPU and deterministic random numbers', () => {
    const { rt } = setup({ ktimeNs: 5000n, clockStep: 10n, bootOffsetNs: 1_000_000n, seed: 7 });
    expect(invokeHelper(rt, 5)).toBe(5000n);
    expect(invokeHelper(rt, 5)).toBe(5010n);
    expect(invokeHelper(rt, 125)).toBe(1_005_020n);
    expect(invokeHelper(rt, 8)).toBe(1n);
    const a = [invokeHelper(rt, 7), invokeHelper(rt, 7)];
    const { rt: rt2 } = setup({ seed: 7 });
    expect([invokeHelper(rt2, 7), invokeHelper(rt2, 7)]).toEqual(a);
    expect(a[0]).not.toBe(a[1]);
    expect(a[0] < 1n << 32n).toBe(true);
  });

  it('send signals and override returns through the env', () => {
    const { env, rt } = setup({ signalResult: 0 });
    expect(invokeHelper(rt, 109, 9)).toBe(0n);
    expect(invokeHelper(rt, 109, 65)).toBe(neg(EINVAL));
    expect(env.signals).toEqual([9]);
    const init = setup({ task: { pid: 1, tgid: 1, uid: 0, gid: 0, comm: 'init', cgroupId: 1n, taskAddr: 1n } });
    expect(invokeHelper(init.rt, 109, 9)).toBe(neg(1));
    expect(init.env.signals).toEqual([]);
    expect(invokeHelper(rt, 58, 0, -13n)).toBe(0n);
    expect(env.overrides).toEqual([-13n]);
  });

  it('compare strings with strncmp', () => {
    const { vm, rt } = setup();
    const a = str(vm, 'bash', true);
    const b = str(vm, 'bash');
    const c = str(vm, 'bask');
    expect(invokeHelper(rt, 182, a, 5, b)).toBe(0n);
    expect(invokeHelper(rt, 182, a, 4, c)).toBe(neg(1));
    expect(invokeHelper(rt, 182, c, 4, a)).toBe(1n);
    expect(invokeHelper(rt, 182, a, 3, c)).toBe(0n);
  });
});

describe('printing helpers', () => {
  function printk(vm: Vm, rt: Runtime, fmt: string, ...args: (number | bigint)[]): bigint {
    const f = str(vm, fmt);
    return invokeHelper(rt, 6, f, fmt.length + 1, ...args);
  }

  it('format like bpf_trace_printk', () => {
    const { vm, env, rt } = setup();
    expect(printk(vm, rt, 'pid %d uid %u hex %x\n', -5, 0xffffffffn, 255)).toBe(BigInt('pid -5 uid 4294967295 hex ff\n'.length));
    expect(env.printk[0]).toBe('pid -5 uid 4294967295 hex ff\n');
    printk(vm, rt, '%ld %lu %llx', -1n, -1n, 0xdeadbeefcafen);
    expect(env.printk[1]).toBe('-1 18446744073709551615 deadbeefcafe');
    printk(vm, rt, '[%5d] [%-5d] [%05d]', 42, 42, 42);
    expect(env.printk[2]).toBe('[   42] [42   ] [00042]');
    printk(vm, rt, '%c%c 100%% %i', 0x68, 0x69, -3);
    expect(env.printk[3]).toBe('hi 100% -3');
    printk(vm, rt, '%+d % d %X', 7, 7, 0xabc);
    expect(env.printk[4]).toBe('+7  7 ABC');
  });

  it('reads %s from kernel or user memory, printing an unreadable string as empty', () => {
    const { vm, env, rt } = setup();
    const k = str(vm, 'from-kernel');
    const u = env.userMem.map(0x7f00_0000_0000n, 'from-user');
    printk(vm, rt, '%s|%s|%s|', k, u, 0x7e00_0000_0000n);
    expect(env.printk[0]).toBe('from-kernel|from-user||');
  });

  it('formats %p, %pI4 and %pI6', () => {
    const { vm, env, rt } = setup();
    const ip4 = scratch(vm.mem, 4);
    vm.mem.u8.set([192, 168, 1, 20], ip4);
    const ip6 = scratch(vm.mem, 16);
    vm.mem.u8.set([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], ip6);
    printk(vm, rt, '%pI4 %pi4 %pI6', ip4, ip4, ip6);
    expect(env.printk[0]).toBe('192.168.1.20 192.168.001.020 2001:0db8:0000:0000:0000:0000:0000:0001');
    printk(vm, rt, '%p %pK', 0xffff8880_00001000n, 0x10n);
    expect(env.printk[1]).toBe('ffff888000001000 0000000000000010');
  });

  it('rejects what Linux rejects with -EINVAL and prints nothing', () => {
    const { vm, env, rt } = setup();
    expect(printk(vm, rt, '%d %d %d %d', 1, 2, 3)).toBe(neg(EINVAL)); // more than 3 args
    expect(printk(vm, rt, '%q', 1)).toBe(neg(EINVAL));
    expect(printk(vm, rt, '%.2f', 1)).toBe(neg(EINVAL));
    expect(printk(vm, rt, '%pZ', 1)).toBe(neg(EINVAL));
    expect(printk(vm, rt, 'bell\x07', 1)).toBe(neg(EINVAL));
    const f = str(vm, 'abc');
    expect(invokeHelper(rt, 6, f, 3)).toBe(neg(EINVAL)); // no NUL inside fmt_size
    expect(env.printk).toEqual([]);
  });

  it('trace_vprintk takes its arguments from an array of u64', () => {
    const { vm, env, rt } = setup();
    const fmt = '%d %d %d %d %s';
    const f = str(vm, fmt);
    const s = str(vm, 'five');
    const data = scratch(vm.mem, 40);
    [1n, 2n, 3n, 4n, BigInt(s)].forEach((v, i) => vm.mem.dv.setBigUint64(data + i * 8, v, true));
    expect(invokeHelper(rt, 177, f, fmt.length + 1, data, 40)).toBe(BigInt('1 2 3 4 five'.length));
    expect(env.printk[0]).toBe('1 2 3 4 five');
    expect(invokeHelper(rt, 177, f, fmt.length + 1, data, 12)).toBe(neg(EINVAL));
    expect(invokeHelper(rt, 177, f, fmt.length + 1, data, 32)).toBe(neg(EINVAL)); // 5 conversions, 4 args
  });

  it('snprintf writes a NUL-terminated, truncated string and returns the full length + 1', () => {
    const { vm, rt } = setup();
    const m = vm.createMap({ name: '.rodata', type: BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: 16, maxEntries: 1, flags: BPF_F_RDONLY_PROG });
    const key = new Uint8Array(4);
    const v = new Uint8Array(16);
    v.set(new TextEncoder().encode('pid=%d!'));
    m.update(key, v);
    const fmt = m.lookupAddr(scratch(vm.mem, 4), 0);
    const data = scratch(vm.mem, 8);
    vm.mem.dv.setBigInt64(data, 4242n, true);
    const out = scratch(vm.mem, 32);
    expect(invokeHelper(rt, 165, out, 32, fmt, data, 8)).toBe(10n);
    expect(cstr(vm, out)).toBe('pid=4242!');
    expect(invokeHelper(rt, 165, out, 5, fmt, data, 8)).toBe(10n);
    expect(cstr(vm, out)).toBe('pid=');
  });

  it('formats trace_pipe lines', () => {
    expect(formatTracePipeLine('bash', 1234, 1, 5_123_456_789n, 'hello\n')).toBe(
      '            bash-1234    [001] d..31     5.123456: bpf_trace_printk: hello',
    );
  });
});

describe('ring buffer and perf helpers', () => {
  it('reserve, submit, discard, output and query through the ABI', () => {
    const { vm, rt } = setup();
    const rb = vm.createMap({ name: 'events', type: BPF_MAP_TYPE_RINGBUF, keySize: 0, valueSize: 0, maxEntries: 4096, flags: 0 }) as RingBufMap;
    const s = Number(invokeHelper(rt, 131, rb.handle, 16, 0));
    expect(s).toBeGreaterThan(0);
    vm.mem.dv.setUint32(s, 0xabcd, true);
    expect(invokeHelper(rt, 132, s, 0)).toBe(0n);
    const d = Number(invokeHelper(rt, 131, rb.handle, 8, 0));
    expect(invokeHelper(rt, 133, d, 0)).toBe(0n);
    expect(throwsFault(() => invokeHelper(rt, 132, d, 0))).toBe(true); // already released
    expect(invokeHelper(rt, 131, rb.handle, 8, 1)).toBe(0n); // flags must be 0
    const src = scratch(vm.mem, 256);
    vm.mem.u8.set([9, 8, 7], src);
    expect(invokeHelper(rt, 130, rb.handle, src, 3, 0)).toBe(0n);
    expect(invokeHelper(rt, 130, rb.handle, src, 3, 8)).toBe(neg(EINVAL));
    expect(invokeHelper(rt, 134, rb.handle, 0)).toBe(24n + 16n + 16n);
    expect(invokeHelper(rt, 134, rb.handle, 1)).toBe(4096n);
    const got: number[][] = [];
    new RingBufConsumer(rb).consume((data) => {
      got.push([...data]);
    });
    expect(got.length).toBe(2);
    expect(new DataView(Uint8Array.from(got[0]).buffer).getUint32(0, true)).toBe(0xabcd);
    expect(got[1]).toEqual([9, 8, 7]);
    const big = Number(invokeHelper(rt, 131, rb.handle, 4000, 0));
    expect(invokeHelper(rt, 130, rb.handle, src, 200, 0)).toBe(neg(11)); // -EAGAIN
    invokeHelper(rt, 132, big, 0);
    expect(rb.drops).toBe(2);
  });

  it('perf_event_output writes to the current CPU', () => {
    const { vm, rt } = setup({}, 2);
    const pa = vm.createMap({ name: 'pe', type: BPF_MAP_TYPE_PERF_EVENT_ARRAY, keySize: 4, valueSize: 4, maxEntries: 2, flags: 0 }) as PerfEventArrayMap;
    pa.openAll();
    const src = scratch(vm.mem, 8);
    vm.mem.u8.set([1, 2, 3, 4, 5, 6, 7, 8], src);
    expect(invokeHelper(rt, 25, 0, pa.handle, 0xffffffffn, src, 8)).toBe(0n);
    expect(invokeHelper(rt, 25, 0, pa.handle, 0, src, 8)).toBe(neg(95));
    const got: number[] = [];
    new PerfEventReader(pa, (cpu) => got.push(cpu)).consume();
    expect(got).toEqual([1]);
  });
});

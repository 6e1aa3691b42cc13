// createVm, and programs run by the interpreter against the real maps and helpers.
import { describe, expect, it } from 'vitest';
import { createVm } from './vm.js';
import { assemble } from './asm/assembler.js';
import { loadProgram } from './program.js';
import { runProgram } from './interpreter.js';
import { testEnv } from './helpers/test-env.js';
import { RingBufConsumer, RingBufMap, MapError } from './maps/index.js';
import { BPF_MAP_TYPE_HASH } from './maps/types.js';

function load(vm: ReturnType<typeof createVm>, src: string) {
  const a = assemble(src);
  return loadProgram({ name: 't', insns: a.insns, maps: a.maps, mapRefs: a.mapRefs, progType: 'tracepoint' }, (def) => vm.createMap(def));
}

describe('createVm', () => {
  it('registers maps by handle, forgets closed ones, and checks CPUs', () => {
    const vm = createVm({ cpus: 4, memoryBytes: 1 << 20 });
    const m = vm.createMap({ name: 'h', type: BPF_MAP_TYPE_HASH, keySize: 4, valueSize: 4, maxEntries: 4, flags: 0 });
    expect(vm.maps.get(m.handle)).toBe(m);
    expect(vm.mapByName('h')).toBe(m);
    const rt = vm.runtime(testEnv(), { cpu: 3, progType: 'kprobe' });
    expect(rt.cpu).toBe(3);
    expect(rt.progType).toBe('kprobe');
    expect(rt.mapByHandle(m.handle)).toBe(m);
    expect(() => vm.runtime(testEnv(), { cpu: 4 })).toThrow(RangeError);
    m.close();
    expect(vm.maps.size).toBe(0);
    expect(() => vm.createMap({ name: 'bad', type: BPF_MAP_TYPE_HASH, keySize: 0, valueSize: 4, maxEntries: 4, flags: 0 })).toThrow(MapError);
  });

  it('lets a test replace helpers per runtime', () => {
    const vm = createVm();
    const rt = vm.runtime(testEnv(), { helpers: { 5: (r) => r.mem.dv.setBigUint64(0x128, 77n, true) } });
    expect(rt.helpers[5]).not.toBe(vm.runtime(testEnv()).helpers[5]);
  });
});

describe('programs on the real maps and helpers', () => {
  it('counts per pid in a hash map (lookup, update, atomic add through the value pointer)', () => {
    const vm = createVm();
    const prog = load(
      vm,
      `
.map counts hash key=4 value=8 entries=64
  call 14                 ; get_current_pid_tgid
  stxw [r10-4], r0        ; key = pid
  lddw r1, map:counts
  mov r2, r10
  add r2, -4
  call 1
  jne r0, 0, found
  stdw [r10-16], 1
  lddw r1, map:counts
  mov r2, r10
  add r2, -4
  mov r3, r10
  add r3, -16
  mov r4, 0
  call 2
  exit
found:
  mov r1, 1
  lock add [r0+0], r1
  mov r0, 0
  exit
`,
    );
    const env = testEnv({ task: { pid: 321, tgid: 300, uid: 0, gid: 0, comm: 'sh', cgroupId: 1n, taskAddr: 0n } });
    const rt = vm.runtime(env);
    for (let i = 0; i < 5; i++) {
      const r = runProgram(prog, rt, 0, 0, 0, 0);
      expect(r.fault).toBeUndefined();
    }
    const counts = vm.mapByName('counts');
    const v = counts?.lookup(new Uint8Array(new Uint32Array([321]).buffer));
    expect(v && new DataView(v.buffer).getBigUint64(0, true)).toBe(5n);
  });

  it('reserves, fills and submits ring-buffer records that the consumer reads', () => {
    const vm = createVm();
    const prog = load(
      vm,
      `
.map events ringbuf key=0 value=0 entries=4096
  lddw r1, map:events
  mov r2, 24
  mov r3, 0
  call 131
  jeq r0, 0, out
  mov r6, r0
  call 14
  stxdw [r6+0], r0
  mov r1, r6
  add r1, 8
  mov r2, 16
  call 16                 ; get_current_comm into the record
  mov r1, r6
  mov r2, 0
  call 132
out:
  mov r0, 0
  exit
`,
    );
    const rt = vm.runtime(testEnv());
    for (let i = 0; i < 3; i++) expect(runProgram(prog, rt, 0, 0, 0, 0).fault).toBeUndefined();
    const rb = vm.mapByName('events') as RingBufMap;
    const got: string[] = [];
    new RingBufConsumer(rb).consume((d) => {
      const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
      const comm = new TextDecoder().decode(d.subarray(8, 8 + d.subarray(8).indexOf(0)));
      got.push(`${dv.getUint32(4, true)}/${dv.getUint32(0, true)} ${comm}`);
    });
    expect(got).toEqual(['1000/1001 bash', '1000/1001 bash', '1000/1001 bash']);
  });

  it('faults on a write past a reserved record, and abortReservations unblocks the ring', () => {
    const vm = createVm();
    const prog = load(
      vm,
      `
.map events ringbuf key=0 value=0 entries=4096
  lddw r1, map:events
  mov r2, 8
  mov r3, 0
  call 131
  jeq r0, 0, out
  stdw [r0+8], 1          ; one past the 8-byte record
out:
  mov r0, 0
  exit
`,
    );
    const r = runProgram(prog, vm.runtime(testEnv()), 0, 0, 0, 0);
    expect(r.fault?.kind).toBe('memory');
    const rb = vm.mapByName('events') as RingBufMap;
    expect(rb.pending).toBe(1);
    expect(vm.abortReservations()).toBe(1);
    rb.outputBytes(new Uint8Array([5]));
    expect(new RingBufConsumer(rb).consume(() => {})).toBe(1);
  });

  it('a helper fault (bad map pointer) ends the run as a fault, not an exception', () => {
    const vm = createVm();
    const prog = load(vm, 'mov r1, 12345\nmov r2, r10\nadd r2, -8\nstdw [r10-8], 0\ncall 1\nexit');
    const r = runProgram(prog, vm.runtime(testEnv()), 0, 0, 0, 0);
    expect(r.fault).toBeDefined();
    expect(String(r.fault)).toMatch(/not a map/);
  });
});

// Hostile arguments (unverified programs): every helper either returns or throws HelperFault,
// never another exception, and never touches memory outside program regions.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createVm } from '../vm.js';
import { HELPER_IMPLS, HelperFault } from './impl.js';
import { invokeHelper, scratch, testEnv } from './test-env.js';
import { BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_RINGBUF, BPF_MAP_TYPE_PERF_EVENT_ARRAY, BPF_MAP_TYPE_ARRAY } from '../maps/types.js';
import { RegionKind } from '../memory.js';

const ids = HELPER_IMPLS.map((h, i) => (h === undefined ? -1 : i)).filter((i) => i >= 0);

describe('helpers under hostile arguments', () => {
  it('only ever return or throw HelperFault', () => {
    const vm = createVm({ memoryBytes: 2 << 20, cpus: 2 });
    const env = testEnv();
    env.userMem.map(0x7000_0000n, 'user string');
    const rt = vm.runtime(env, { cpu: 1 });
    const maps = [
      vm.createMap({ name: 'h', type: BPF_MAP_TYPE_HASH, keySize: 4, valueSize: 8, maxEntries: 8, flags: 0 }),
      vm.createMap({ name: 'a', type: BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: 8, maxEntries: 2, flags: 0 }),
      vm.createMap({ name: 'r', type: BPF_MAP_TYPE_RINGBUF, keySize: 0, valueSize: 0, maxEntries: 4096, flags: 0 }),
      vm.createMap({ name: 'p', type: BPF_MAP_TYPE_PERF_EVENT_ARRAY, keySize: 4, valueSize: 4, maxEntries: 2, flags: 0 }),
    ];
    const buf = scratch(vm.mem, 64);
    vm.mem.u8.set(new TextEncoder().encode('%d %s %pI4 %c\0'), buf);
    const ro = scratch(vm.mem, 16, false, RegionKind.ReadOnlyData);
    // Bytes outside every region must never change.
    const guard = vm.mem.alloc(64);
    vm.mem.u8.fill(0x5a, guard.addr, guard.addr + 64);
    const interesting = [0n, 1n, 8n, 16n, 64n, 4096n, 0xffffffffn, -1n, 1n << 40n, BigInt(buf), BigInt(buf + 3), BigInt(ro), BigInt(guard.addr), 0x7000_0000n, ...maps.map((m) => BigInt(m.handle))];
    const arg = fc.oneof(fc.constantFrom(...interesting), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.integer({ min: 0, max: 200 }).map(BigInt));
    fc.assert(
      fc.property(fc.constantFrom(...ids), fc.array(arg, { minLength: 5, maxLength: 5 }), (id, args) => {
        try {
          invokeHelper(rt, id, ...args);
        } catch (e) {
          if (!(e instanceof HelperFault)) throw e;
        }
        vm.abortReservations();
        expect(vm.mem.u8.subarray(guard.addr, guard.addr + 64).every((b) => b === 0x5a)).toBe(true);
      }),
      { numRuns: Number(process.env.KESTREL_FUZZ_RUNS ?? 300) },
    );
  });
});

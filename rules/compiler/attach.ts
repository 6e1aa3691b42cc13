// Loading a compiled rule set into a VM next to the simulated kernel: the kernel's maps are
// shared by name, the compiler's maps are created once for the whole set and filled with their
// contents, and every program is loaded and attached to its hook.

import { loadProgram, type LoadedProgram } from '../../engine/program.js';
import type { MapUserApi } from '../../engine/maps/index.js';
import type { BpfMap } from '../../engine/runtime.js';
import type { RingBufMap } from '../../engine/maps/index.js';
import type { EngineKernel } from '../../collectors/kernel/engine.js';
import { HOOKS, type HookName } from '../../collectors/kernel/hooks.js';
import { DROP_COUNTER_MAP } from '../../alerts/record-format.js';
import type { CompiledRuleSet } from './index.js';
import { DNS_SETS_MAP, RINGBUF_MAP } from './maps.js';

export interface AttachedRuleSet {
  programs: { hook: HookName; prog: LoadedProgram }[];
  ringbuf: RingBufMap;
  drops: BpfMap & MapUserApi;
  detach(): void;
}

export function attachRuleSet(ek: EngineKernel, set: CompiledRuleSet): AttachedRuleSet {
  const own = new Map<string, BpfMap & MapUserApi>();
  const bind = (name: string): BpfMap & MapUserApi => {
    const def = set.maps.get(name);
    if (def === undefined) throw new Error(`program uses unknown map ${name}`);
    if (ek.kernel.maps.has(name)) return ek.bindMap(def);
    let m = own.get(name);
    if (m === undefined) {
      m = ek.vm.createMap(def);
      for (const { key, value } of set.contents.get(name) ?? []) m.update(key, value);
      own.set(name, m);
    }
    return m;
  };
  const programs: { hook: HookName; prog: LoadedProgram }[] = [];
  for (const p of set.programs) {
    const hook = p.hook as HookName;
    const prog = loadProgram(
      { name: p.name, insns: p.insns, maps: p.maps, mapRefs: p.mapRefs, progType: HOOKS[hook].progType, license: 'GPL' },
      (def) => bind(def.name),
    );
    ek.kernel.attach(hook, prog);
    programs.push({ hook, prog });
  }
  const ringbuf = bind(RINGBUF_MAP) as unknown as RingBufMap;
  const drops = bind(DROP_COUNTER_MAP.name);
  const dnsSets = own.get(DNS_SETS_MAP);
  const untrack = dnsSets !== undefined ? ek.kernel.trackDnsLists(dnsSets, set.dnsLists) : undefined;
  return {
    programs,
    ringbuf,
    drops,
    detach() {
      untrack?.();
      for (const { hook, prog } of programs) ek.kernel.detach(hook, prog);
      for (const m of own.values()) m.close();
    },
  };
}

// Glue between the simulated kernel and the engine: a VM whose memory holds the hook contexts and
// the kernel maps, an executor that runs a loaded program on a firing (the interpreter by
// default; pass another `run` to use the JIT), and a binder that gives programs the kernel maps
// they name (kestrel_procs, ...) and fresh maps for everything else.

import { createVm, type Vm } from '../../engine/vm.js';
import { loadProgram, type LoadedProgram, type ProgramSpec } from '../../engine/program.js';
import { runProgram, type RunResult, type VmFault } from '../../engine/interpreter.js';
import type { BpfMap, ExecEnv, Runtime } from '../../engine/runtime.js';
import type { MapDef } from '../../engine/maps/types.js';
import type { MapUserApi } from '../../engine/maps/index.js';
import { SimKernel, type Executor, type KernelOptions } from './kernel.js';
import { HOOKS, type HookName } from './hooks.js';

/** Runs one program with r1 = the context address. The single place an engine plugs in. */
export type ProgramRunner = (prog: LoadedProgram, rt: Runtime, ctxAddr: number) => RunResult;

export const interpret: ProgramRunner = (prog, rt, ctxAddr) => runProgram(prog, rt, ctxAddr, 0, 0, 0);

export interface FaultReport {
  hook: HookName;
  program: string;
  fault: VmFault;
}

/** An executor over `vm`: one Runtime per (env, program type), reused across firings. */
export function engineExecutor(
  vm: Vm,
  run: ProgramRunner = interpret,
  onFault?: (f: FaultReport) => void,
): Executor<LoadedProgram> {
  let env: ExecEnv | undefined;
  let tp: Runtime | undefined;
  let kp: Runtime | undefined;
  return (prog, e, ctxAddr, ctxSize, hook) => {
    if (env !== e) {
      env = e;
      tp = vm.runtime(e, { progType: 'tracepoint' });
      kp = vm.runtime(e, { progType: 'kprobe' });
    }
    const rt = (HOOKS[hook].progType === 'kprobe' ? kp : tp) as Runtime;
    rt.ctxAddr = ctxAddr;
    rt.ctxSize = ctxSize;
    const res = run(prog, rt, ctxAddr);
    if (res.fault !== undefined) {
      // A faulted run may leave ring-buffer reservations behind; the kernel drops them.
      vm.abortReservations();
      onFault?.({ hook, program: prog.spec.name, fault: res.fault });
    }
  };
}

export interface EngineKernelOptions extends Omit<KernelOptions<LoadedProgram>, 'mem' | 'executor' | 'createMap'> {
  vm?: Vm;
  run?: ProgramRunner;
  onFault?: (f: FaultReport) => void;
  /** Create the kernel maps (default true). */
  kernelMaps?: boolean;
}

export interface EngineKernel {
  vm: Vm;
  kernel: SimKernel<LoadedProgram>;
  /** Map binder for loadProgram: kernel maps by name (same sizes), fresh VM maps otherwise. */
  bindMap(def: MapDef): BpfMap & MapUserApi;
  /** Load a program spec (from the assembler, the ELF loader or the compiler) and attach it. */
  attachSpec(hook: HookName, spec: ProgramSpec): LoadedProgram;
}

export function createEngineKernel(opts: EngineKernelOptions = {}): EngineKernel {
  const vm = opts.vm ?? createVm();
  const kernel = new SimKernel<LoadedProgram>({
    ...opts,
    mem: vm.mem,
    executor: engineExecutor(vm, opts.run, opts.onFault),
    createMap: opts.kernelMaps === false ? undefined : (def) => vm.createMap(def),
  });
  const bindMap = (def: MapDef): BpfMap & MapUserApi => {
    const existing = kernel.maps.has(def.name) ? vm.mapByName(def.name) : undefined;
    if (existing !== undefined) {
      const d = existing.def;
      if (d.keySize !== def.keySize || d.valueSize !== def.valueSize || d.type !== def.type) {
        throw new Error(
          `map '${def.name}' is a kernel map with key ${d.keySize} B and value ${d.valueSize} B (type ${d.type}); ` +
            `the program declares key ${def.keySize} B, value ${def.valueSize} B (type ${def.type})`,
        );
      }
      return existing;
    }
    return vm.createMap(def);
  };
  return {
    vm,
    kernel,
    bindMap,
    attachSpec(hook, spec) {
      const prog = loadProgram({ ...spec, progType: HOOKS[hook].progType }, bindMap);
      kernel.attach(hook, prog);
      return prog;
    },
  };
}

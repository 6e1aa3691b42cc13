// The scenario simulator: plays scenarios as Kestrel events. Several scenarios are interleaved
// (each event comes from a scenario picked by weight), with pids, vpids and timestamps assigned
// here, deterministically for a seed. Time is simulated (a fixed step per event, 1e9/rate ns) or
// real (paced to the rate, stamped with the wall clock).

import type { ContainerRef, KestrelEvent } from '../events.js';
import { eventFromObject } from '../ndjson.js';
import { nowNs } from '../timefmt.js';
import { Rng } from './rng.js';
import { resolveValue, type ContainerSpec, type Raw, type Scenario, type Step } from './scenario.js';

/** 2026-01-01T00:00:00Z: where simulated time starts unless told otherwise. */
export const DEFAULT_START_NS = 1_767_225_600_000_000_000n;

export interface SimulateOptions {
  seed?: number;
  /** Events per second; 0 = as fast as possible. Default 0. */
  rate?: number;
  /** Stop after this many events. */
  count?: number;
  /** Stop after this much (simulated or real) time, in ms. */
  durationMs?: number;
  /** Start scenarios again when they end (the daemon's mode). Needs count or duration to stop. */
  loop?: boolean;
  /** Stamp events with the wall clock and pace them in real time (default: simulated time). */
  realtime?: boolean;
  /** First timestamp in simulated time. */
  startNs?: bigint;
}

interface Proc {
  pid: number;
  comm: string;
  container?: ContainerSpec;
  /** What a child inherits unless its step says otherwise. */
  uid?: number;
  gid?: number;
  cwd?: string;
}

/** One running copy of a scenario: its process names, step program and host-side shims. */
class Instance {
  readonly names = new Map<string, Proc>();
  /** Every process this instance started and that has not exited, in start order. */
  private readonly alive = new Map<number, Proc>();
  private readonly iter: Iterator<KestrelEvent | undefined>;
  done = false;

  constructor(
    readonly sc: Scenario,
    private readonly sim: Simulator,
  ) {
    this.iter = this.run();
  }

  next(ts: bigint): KestrelEvent | undefined {
    this.sim.now = ts;
    for (;;) {
      const r = this.iter.next();
      if (r.done === true) {
        this.done = true;
        return undefined;
      }
      if (r.value !== undefined) return r.value;
    }
  }

  private ref(c: ContainerSpec): ContainerRef {
    const ref: ContainerRef = { id: c.id, name: c.name };
    if (c.image !== undefined) ref.image = c.image;
    if (c.privileged !== undefined) ref.privileged = c.privileged;
    if (c.pod !== undefined) ref.pod = c.pod;
    if (c.namespace !== undefined) ref.namespace = c.namespace;
    return ref;
  }

  /** The host process a container's first processes hang off (containerd-shim). */
  private *shim(c: ContainerSpec): Generator<KestrelEvent> {
    const key = `shim:${c.name}`;
    if (this.names.has(key)) return;
    const pid = this.sim.allocPid();
    this.names.set(key, { pid, comm: 'containerd-shim' });
    this.alive.set(pid, { pid, comm: 'containerd-shim' });
    yield this.event({
      type: 'exec', pid, ppid: 1, uid: 0, gid: 0, exe: '/usr/bin/containerd-shim-runc-v2',
      argv: ['/usr/bin/containerd-shim-runc-v2', '-namespace', 'k8s.io', '-id', c.id, '-address', '/run/containerd/containerd.sock'],
      cwd: `/run/containerd/io.containerd.runtime.v2.task/k8s.io/${c.id}`, synthetic: true,
    });
  }

  private event(o: Raw): KestrelEvent {
    o['ts'] = this.sim.now;
    return eventFromObject(o);
  }

  private *spawn(
    name: string, parentName: string | undefined, containerName: string | undefined, fields: Raw, synthetic: boolean, i: number,
  ): Generator<KestrelEvent | undefined> {
    const f = resolveValue(fields, this.sim.rng, i) as Raw;
    const parent = parentName === undefined ? undefined : this.names.get(parentName);
    const container = containerName !== undefined ? this.sc.containers.get(containerName) : parent?.container;
    let ppid = parent?.pid ?? 1;
    if (parent === undefined && container !== undefined) {
      yield* this.shim(container);
      ppid = (this.names.get(`shim:${container.name}`) as Proc).pid;
    }
    const pid = this.sim.allocPid();
    // A real process is forked first; state-only records need no fork.
    if (!synthetic) yield this.event({ type: 'fork', pid: ppid, child: pid });
    // Credentials and cwd are inherited from the parent (fork copies them), else root at /.
    const o: Raw = Object.assign({ uid: parent?.uid ?? 0, gid: parent?.gid ?? 0, cwd: parent?.cwd ?? '/' }, f, { type: 'exec', pid, ppid });
    if (o['argv'] === undefined) o['argv'] = [String(o['exe']).split('/').pop() ?? String(o['exe'])];
    if (container !== undefined) {
      o['container'] = this.ref(container);
      o['vpid'] = typeof o['vpid'] === 'number' ? this.sim.useVpid(container.id, o['vpid']) : this.sim.allocVpid(container.id);
    }
    if (synthetic) o['synthetic'] = true;
    const ev = this.event(o);
    if (ev.type === 'exec') {
      const proc: Proc = { pid, comm: ev.comm ?? ev.exe.split('/').pop() ?? '', container, uid: ev.uid, gid: ev.gid, cwd: ev.cwd };
      this.names.set(name, proc);
      this.alive.set(pid, proc);
      // A failed exec leaves a forked child that never ran anything: it exits right away.
      if ((ev.ret ?? 0) !== 0) {
        yield ev;
        this.names.delete(name);
        this.alive.delete(pid);
        yield this.event({ type: 'exit', pid, code: 127 });
        return;
      }
    }
    yield ev;
  }

  private *run(): Generator<KestrelEvent | undefined> {
    for (const p of this.sc.processes) yield* this.spawn(p.name, p.parent, p.container, p.fields, true, 0);
    yield* this.steps(this.sc.steps, 0);
    // Whatever the scenario left running ends with it (children first), so a loop does not
    // pile processes up.
    const left = [...this.alive.values()].reverse();
    this.alive.clear();
    this.names.clear();
    for (const p of left) yield this.event({ type: 'exit', pid: p.pid, code: 0 });
  }

  private *steps(steps: readonly Step[], i: number): Generator<KestrelEvent | undefined> {
    for (const s of steps) yield* this.step(s, i);
  }

  private *step(s: Step, i: number): Generator<KestrelEvent | undefined> {
    const rng = this.sim.rng;
    switch (s.kind) {
      case 'repeat': {
        const n = Number(resolveValue(s.times, rng, i));
        for (let k = 0; k < n; k++) yield* this.steps(s.steps, k);
        return;
      }
      case 'choose': {
        const k = rng.weighted(s.options.map((o) => o.weight));
        yield* this.steps(s.options[k].steps, i);
        return;
      }
      case 'exec': {
        if (s.as !== undefined) {
          yield* this.spawn(s.as, s.parent, s.container, s.fields, false, i);
          return;
        }
        const p = this.names.get(s.process as string);
        if (p === undefined) return; // ended, or created in a branch not taken
        const f = resolveValue(s.fields, rng, i) as Raw;
        const o: Raw = Object.assign({}, f, { type: 'exec', pid: p.pid });
        if (o['argv'] === undefined) o['argv'] = [String(o['exe']).split('/').pop() ?? ''];
        const ev = this.event(o);
        if (ev.type === 'exec' && (ev.ret ?? 0) === 0) {
          p.comm = ev.comm ?? ev.exe.split('/').pop() ?? '';
          p.uid = ev.uid ?? p.uid;
          p.gid = ev.gid ?? p.gid;
          p.cwd = ev.cwd ?? p.cwd;
        }
        yield ev;
        return;
      }
      case 'fork': {
        const p = this.names.get(s.process);
        if (p === undefined) return;
        const child = this.sim.allocPid();
        this.names.set(s.as, { ...p, pid: child });
        this.alive.set(child, { ...p, pid: child });
        yield this.event({ type: 'fork', pid: p.pid, child });
        return;
      }
      case 'exit': {
        const p = this.names.get(s.process);
        if (p === undefined) return;
        this.names.delete(s.process);
        this.alive.delete(p.pid);
        yield this.event(Object.assign({}, resolveValue(s.fields, rng, i) as Raw, { type: 'exit', pid: p.pid }));
        return;
      }
      case 'connect': {
        const p = this.names.get(s.process);
        if (p === undefined) return;
        const f = resolveValue(s.fields, rng, i) as Raw;
        yield this.event(Object.assign({ family: 'inet' }, f, { type: 'connect', pid: p.pid }));
        return;
      }
      case 'dns': {
        const p = s.process === undefined ? undefined : this.names.get(s.process);
        const f = resolveValue(s.fields, rng, i) as Raw;
        yield this.event(Object.assign({}, f, { type: 'dns', pid: p?.pid ?? 1 }));
        return;
      }
    }
  }
}

export class Simulator {
  readonly rng: Rng;
  now = 0n;
  private nextPid: number;
  private readonly vpids = new Map<string, number>();

  constructor(
    readonly scenarios: readonly Scenario[],
    readonly opts: SimulateOptions = {},
  ) {
    if (scenarios.length === 0) throw new Error('no scenarios to simulate');
    this.rng = new Rng(opts.seed ?? 1);
    this.nextPid = 1000 + this.rng.int(0, 999);
  }

  allocPid(): number {
    const p = this.nextPid;
    // Linux's default pid_max; wrap past the low pids as the kernel does (to 300).
    this.nextPid = p >= 4_194_303 ? 300 : p + 1;
    return p;
  }

  allocVpid(containerId: string): number {
    // The shim-launched entrypoint is pid 1 in its namespace.
    const v = (this.vpids.get(containerId) ?? 0) + 1;
    this.vpids.set(containerId, v);
    return v;
  }

  /** A vpid a scenario fixed: later ones are allocated above it. */
  useVpid(containerId: string, vpid: number): number {
    if (vpid > (this.vpids.get(containerId) ?? 0)) this.vpids.set(containerId, vpid);
    return vpid;
  }

  /** Events in order, synchronously (simulated time only). */
  *events(): Generator<KestrelEvent> {
    const o = this.opts;
    const step = o.rate !== undefined && o.rate > 0 ? BigInt(Math.round(1e9 / o.rate)) : 1_000_000n;
    const start = o.startNs ?? DEFAULT_START_NS;
    const end = o.durationMs === undefined ? undefined : start + BigInt(Math.round(o.durationMs * 1e6));
    const live = this.scenarios.map((sc) => new Instance(sc, this));
    let ts = start;
    let n = 0;
    while (live.length > 0) {
      if (o.count !== undefined && n >= o.count) return;
      if (end !== undefined && ts >= end) return;
      const k = this.rng.weighted(live.map((x) => x.sc.weight));
      const ev = live[k].next(ts);
      if (ev === undefined) {
        if (o.loop === true) live[k] = new Instance(live[k].sc, this);
        else live.splice(k, 1);
        continue;
      }
      n++;
      ts += step;
      yield ev;
    }
  }

  /** Events paced in real time at the rate (or as fast as possible), stamped with the wall clock. */
  async *stream(signal?: AbortSignal): AsyncGenerator<KestrelEvent> {
    const o = this.opts;
    if (o.realtime !== true) {
      let k = 0;
      for (const ev of this.events()) {
        if (signal?.aborted === true) return;
        yield ev;
        // Let timers and I/O run now and then when going flat out.
        if (++k % 1024 === 0) await new Promise((r) => setImmediate(r));
      }
      return;
    }
    const base = this.opts.startNs ?? DEFAULT_START_NS;
    const perEvent = o.rate !== undefined && o.rate > 0 ? 1e3 / o.rate : 0;
    const inner = new Simulator(this.scenarios, { ...o, realtime: false, startNs: base, durationMs: undefined });
    const started = Date.now();
    let n = 0;
    for (const ev of inner.events()) {
      if (signal?.aborted === true) return;
      if (o.durationMs !== undefined && Date.now() - started >= o.durationMs) return;
      const due = started + n * perEvent;
      const wait = due - Date.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      else if (n % 1024 === 0) await new Promise((r) => setImmediate(r));
      n++;
      ev.ts = nowNs();
      yield ev;
    }
  }
}

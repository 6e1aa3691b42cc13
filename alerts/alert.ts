// Alerts: a decoded match with everything an incident and a webhook need: rule, priority,
// time, rendered output, output fields, tags, process (with ancestry) and container.

import { EVT_TYPE_NAMES, type DecodedRecord, type FieldValue, type RuleInfo } from './record-format.js';
import { priorityLevel, priorityName, type PriorityName } from './priority.js';
import { defaultRenderer, type CompiledOutput, type OutputRenderer } from './render.js';
import { nowNs } from './time.js';

export interface ProcessDetails {
  pid: number;
  exe: string;
  comm: string;
  cmdline: string;
  ppid?: number;
  uid?: number;
  /** Parent first. */
  ancestors: { pid: number; exe: string; comm: string }[];
}

export interface ContainerDetails {
  id: string;
  name?: string;
  image?: string;
  pod?: string;
  namespace?: string;
  privileged?: boolean;
}

export interface Alert {
  rule: string;
  priority: PriorityName;
  /** 0 emergency .. 7 debug */
  level: number;
  timeNs: bigint;
  /** The rule's output rendered (Falco's `message`, without time and priority). */
  message: string;
  /** Every `%field` of the output (null when missing), plus evt.time. */
  outputFields: Record<string, FieldValue>;
  tags: string[];
  source: string;
  hostname: string;
  containerId: string;
  exe: string;
  pid: number;
  process?: ProcessDetails;
  container?: ContainerDetails;
  /** false: never merged into an earlier incident (Kestrel's internal alerts). */
  aggregate?: boolean;
}

/** Process/container facts the drain may add when the record lacks them (the simulated kernel's table fits). */
export interface Enricher {
  process(tgid: number): ProcessDetails | undefined;
  container(cgroupId: bigint): ContainerDetails | undefined;
}

export interface AlertBuilderOptions {
  hostname: string;
  renderer?: OutputRenderer;
  enricher?: Enricher;
  /** ktime (bpf_ktime_get_ns) to ns since the epoch. Default: see `defaultClock`. */
  clock?: (ktimeNs: bigint) => bigint;
  /**
   * Turn a record's raw values (keyed by RuleTable.fields names) into output field values
   * (keyed by the field as the output writes it). The compiler's records carry raw kernel data
   * ("carriers"); `compiledDeriver` in ./compiled.ts wraps its deriveOutputs.
   */
  derive?: ValueDeriver;
}

export type ValueDeriver = (ruleId: number, raw: ReadonlyMap<string, FieldValue>) => ReadonlyMap<string, FieldValue>;

const DAY_NS = 86_400_000_000_000n;
const monoToWall = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

/**
 * Records carry ktime. A ktime that already looks like epoch time (the simulated kernel may
 * use event timestamps) is kept; a monotonic one is shifted by the process's boot offset; a
 * result far from now (a clock of its own) falls back to the time of decoding.
 */
export function defaultClock(ktimeNs: bigint): bigint {
  const now = nowNs();
  if (ktimeNs > 100_000_000_000_000_000n) return ktimeNs;
  const shifted = ktimeNs + monoToWall;
  return shifted > now - DAY_NS && shifted < now + DAY_NS ? shifted : now;
}

function str(v: FieldValue | undefined): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** Decoded records → alerts, with each rule's output format compiled once. */
export class AlertBuilder {
  private readonly compiled = new Map<RuleInfo, CompiledOutput>();
  private readonly renderer: OutputRenderer;
  private readonly clock: (k: bigint) => bigint;

  private derive: ValueDeriver | undefined;

  constructor(private readonly opts: AlertBuilderOptions) {
    this.renderer = opts.renderer ?? defaultRenderer;
    this.clock = opts.clock ?? defaultClock;
    this.derive = opts.derive;
  }

  /** Hot reload: records decoded with a new rule table need its deriver. */
  setDeriver(d: ValueDeriver | undefined): void {
    this.derive = d;
  }

  private outputOf(rule: RuleInfo): CompiledOutput {
    let c = this.compiled.get(rule);
    if (c === undefined) {
      c = this.renderer.compile(rule.output);
      this.compiled.set(rule, c);
    }
    return c;
  }

  build(rec: DecodedRecord): Alert {
    const raw = new Map<string, FieldValue>();
    for (const v of rec.values) raw.set(v.field, v.value);
    let values: ReadonlyMap<string, FieldValue> = raw;
    if (this.derive !== undefined) {
      const d = this.derive(rec.ruleId, raw);
      // Derived values first; raw ones (already Falco-shaped fields) stay reachable.
      const merged = new Map(raw);
      for (const [k, v] of d) merged.set(k, v);
      values = merged;
    }
    const process = this.opts.enricher?.process(rec.tgid);
    const container = this.opts.enricher?.container(rec.cgroupId);
    const timeNs = this.clock(rec.ktimeNs);
    // What the record does not carry, the kernel's tables may know.
    const fallback = (ref: string): FieldValue | undefined => {
      switch (ref) {
        case 'evt.time':
          return timeNs.toString();
        case 'evt.type':
          return EVT_TYPE_NAMES[rec.evtType];
        case 'proc.pid':
          return rec.tgid;
        case 'thread.tid':
          return rec.pid;
        case 'proc.name':
          return process?.comm;
        case 'proc.exepath':
          return process?.exe;
        case 'proc.cmdline':
          return process?.cmdline;
        case 'proc.ppid':
          return process?.ppid;
        case 'proc.pname':
          return process?.ancestors[0]?.comm;
        case 'container.id':
          return container?.id;
        case 'container.name':
          return container?.name;
        case 'container.image':
          return container?.image;
        case 'k8s.pod.name':
          return container?.pod;
        case 'k8s.ns.name':
          return container?.namespace;
        default:
          return undefined;
      }
    };
    const get = (ref: string): FieldValue | undefined => (values.has(ref) ? values.get(ref) : fallback(ref));
    const out = this.outputOf(rec.rule);
    const message = out.render(get);
    const outputFields: Record<string, FieldValue> = {};
    for (const f of out.fields) outputFields[f] = get(f) ?? null;
    // Falco adds the prefix's time field; keep it exact (a digit string, serialised as a number).
    outputFields['evt.time'] = timeNs.toString();
    const level = priorityLevel(rec.rule.priority) ?? 7;
    const containerId = str(values.get('container.id')) ?? container?.id ?? (rec.cgroupId === 1n || rec.cgroupId === 0n ? 'host' : '');
    const exe = str(values.get('proc.exepath')) ?? str(values.get('proc.exe')) ?? process?.exe ?? str(values.get('proc.name')) ?? '';
    return {
      rule: rec.rule.name,
      priority: priorityName(level),
      level,
      timeNs,
      message,
      outputFields,
      tags: [...rec.rule.tags].sort(),
      source: rec.rule.source || 'syscall',
      hostname: this.opts.hostname,
      containerId,
      exe,
      pid: rec.tgid,
      process,
      container,
    };
  }
}

export const DROP_RULE = 'Kestrel internal: ring buffer drop';

/** Kestrel's own alert for lost records, like Falco's "Falco internal: syscall event drop". */
export function dropAlert(opts: { hostname: string; timeNs: bigint; nDrops: number; nRingbuf: number; nPrograms: number; intervalMs: number }): Alert {
  const secs = Math.max(1, Math.round(opts.intervalMs / 1000));
  return {
    rule: DROP_RULE,
    priority: 'Critical',
    level: 2,
    timeNs: opts.timeNs,
    message: `Kestrel dropped ${opts.nDrops} events in the last ${secs}s (ring buffer full)`,
    outputFields: {
      'evt.time': opts.timeNs.toString(),
      n_drops: opts.nDrops,
      n_drops_ringbuf: opts.nRingbuf,
      n_drops_programs: opts.nPrograms,
    },
    tags: ['kestrel_internal'],
    source: 'internal',
    hostname: opts.hostname,
    containerId: 'host',
    exe: '',
    pid: 0,
    aggregate: false,
  };
}

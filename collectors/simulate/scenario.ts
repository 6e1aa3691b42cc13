// Scenario files (YAML): containers, processes already running, and steps whose events use the
// Kestrel event format with process names instead of pids. Checked when loaded; a problem names
// file:line:column. The format is described in docs/collectors.md.
//
//   name: reverse-shell
//   weight: 0.2                 # how often the mixer picks this scenario (default 1; or `rate`)
//   containers:
//     web: {image: nginx:1.25, pod: web-0, namespace: prod}
//   processes:                  # running before the stream starts (synthetic execs)
//     nginx: {container: web, exe: /usr/sbin/nginx, argv: [nginx]}
//   steps:
//     - {type: exec, as: sh, parent: nginx, exe: /bin/sh, argv: [sh, -i]}
//     - {type: connect, process: sh, daddr: {ip: 203.0.113.0/24}, dport: {pick: [4444, 1337]}}
//     - {repeat: {range: [1, 3]}, steps: [...]}
//     - {choose: [{weight: 2, steps: [...]}, {steps: [...]}]}
//
// Values anywhere in a step may be generators: {pick: [...]}, {range: [lo, hi]}, {ip: CIDR},
// {hex: N}; strings may contain {{i}} (the innermost repeat's iteration, from 0).

import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import { eventFromObject } from '../ndjson.js';
import { Rng } from './rng.js';

export class ScenarioError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
    message: string,
  ) {
    super(`${file}:${line}:${column}: ${message}`);
    this.name = 'ScenarioError';
  }
}

export interface ContainerSpec {
  id: string;
  name: string;
  image?: string;
  privileged?: boolean;
  pod?: string;
  namespace?: string;
}

export type Raw = Record<string, unknown>;

export interface ProcessSpec {
  name: string;
  container?: string;
  parent?: string;
  fields: Raw;
}

export type Step =
  | { kind: 'exec'; as?: string; process?: string; parent?: string; container?: string; fields: Raw }
  | { kind: 'connect'; process: string; fields: Raw }
  | { kind: 'dns'; process?: string; fields: Raw }
  | { kind: 'fork'; process: string; as: string }
  | { kind: 'exit'; process: string; fields: Raw }
  | { kind: 'repeat'; times: unknown; steps: Step[] }
  | { kind: 'choose'; options: { weight: number; steps: Step[] }[] };

export interface Scenario {
  name: string;
  description?: string;
  file: string;
  weight: number;
  tags: string[];
  containers: Map<string, ContainerSpec>;
  processes: ProcessSpec[];
  steps: Step[];
}

type Path = (string | number)[];

class Checker {
  readonly lc = new LineCounter();
  doc!: Document;
  constructor(readonly file: string) {}

  fail(path: Path, msg: string): never {
    let node: unknown = this.doc.getIn(path, true);
    // Walk up until a node with a source range is found.
    const p = [...path];
    while ((!isNode(node) || node.range == null) && p.length > 0) {
      p.pop();
      node = p.length === 0 ? this.doc.contents : this.doc.getIn(p, true);
    }
    const off = isNode(node) && node.range != null ? node.range[0] : 0;
    const pos = this.lc.linePos(off);
    throw new ScenarioError(this.file, pos.line, pos.col, msg);
  }
}

function isObj(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const GENERATORS = ['pick', 'range', 'ip', 'hex'];

/** Resolve generators and {{i}} in a value (recursively). */
export function resolveValue(v: unknown, rng: Rng, i: number): unknown {
  if (typeof v === 'string') return v.includes('{{i}}') ? v.split('{{i}}').join(String(i)) : v;
  if (Array.isArray(v)) return v.map((x) => resolveValue(x, rng, i));
  if (!isObj(v)) return v;
  const keys = Object.keys(v);
  if (keys.length === 1 && GENERATORS.includes(keys[0])) {
    const arg = v[keys[0]];
    switch (keys[0]) {
      case 'pick':
        return resolveValue(rng.pick(arg as unknown[]), rng, i);
      case 'range': {
        const [lo, hi] = arg as [number, number];
        return rng.int(lo, hi);
      }
      case 'ip':
        return randomIp(String(arg), rng);
      case 'hex':
        return rng.hex(Number(arg));
    }
  }
  const out: Raw = {};
  for (const [k, x] of Object.entries(v)) out[k] = resolveValue(x, rng, i);
  return out;
}

function randomIp(cidr: string, rng: Rng): string {
  const [addr, bitsText] = cidr.split('/');
  const parts = addr.split('.').map(Number);
  const bits = bitsText === undefined ? 32 : Number(bitsText);
  const base = ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
  const hostBits = 32 - bits;
  const mask = hostBits === 32 ? 0 : (0xffffffff << hostBits) >>> 0;
  const span = hostBits === 0 ? 1 : 2 ** hostBits;
  // Avoid the network and broadcast addresses when the block has room.
  const host = span > 2 ? rng.int(1, span - 2) : 0;
  const ip = ((base & mask) + host) >>> 0;
  return `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
}

function checkGenerators(c: Checker, v: unknown, path: Path): void {
  if (Array.isArray(v)) {
    v.forEach((x, k) => checkGenerators(c, x, [...path, k]));
    return;
  }
  if (!isObj(v)) return;
  const keys = Object.keys(v);
  if (keys.length === 1 && GENERATORS.includes(keys[0])) {
    const arg = v[keys[0]];
    const at = [...path, keys[0]];
    switch (keys[0]) {
      case 'pick':
        if (!Array.isArray(arg) || arg.length === 0) c.fail(at, 'pick needs a non-empty list');
        arg.forEach((x, k) => checkGenerators(c, x, [...at, k]));
        return;
      case 'range':
        if (!Array.isArray(arg) || arg.length !== 2 || !arg.every((x) => Number.isInteger(x)) || arg[0] > arg[1]) {
          c.fail(at, 'range needs [lo, hi] integers with lo <= hi');
        }
        return;
      case 'ip':
        if (typeof arg !== 'string' || !/^\d{1,3}(\.\d{1,3}){3}(\/\d{1,2})?$/.test(arg)) c.fail(at, 'ip needs an IPv4 CIDR such as 10.0.0.0/24');
        return;
      case 'hex':
        if (!Number.isInteger(arg) || (arg as number) < 1 || (arg as number) > 128) c.fail(at, 'hex needs a length 1..128');
        return;
    }
  }
  for (const [k, x] of Object.entries(v)) checkGenerators(c, x, [...path, k]);
}

const STEP_KEYS: Record<string, readonly string[]> = {
  exec: ['type', 'as', 'process', 'parent', 'container'],
  connect: ['type', 'process'],
  dns: ['type', 'process'],
  fork: ['type', 'process', 'as'],
  exit: ['type', 'process'],
};

function nameField(c: Checker, o: Raw, key: string, path: Path, required: boolean): string | undefined {
  const v = o[key];
  if (v === undefined) {
    if (required) c.fail(path, `missing "${key}"`);
    return undefined;
  }
  if (typeof v !== 'string' || v === '') c.fail([...path, key], `"${key}" must be a process name`);
  return v;
}

/** Event fields without the scenario-only keys, for checking against the event format. */
function eventFields(o: Raw, type: string): Raw {
  const out: Raw = {};
  for (const [k, v] of Object.entries(o)) if (!STEP_KEYS[type].includes(k)) out[k] = v;
  return out;
}

function trialCheck(c: Checker, type: string, fields: Raw, path: Path): void {
  // Resolve generators with a throwaway RNG and check the result against the event format.
  const resolved = resolveValue(fields, new Rng(1), 0) as Raw;
  const probe: Raw = { ...resolved, type, ts: 1, pid: 1 };
  if (type === 'exec' && probe['exe'] === undefined) c.fail(path, 'an exec step needs "exe"');
  if (type === 'fork') probe['child'] = 2;
  if (type === 'connect' && probe['family'] === undefined) probe['family'] = 'inet';
  try {
    eventFromObject(probe);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const key = /"([a-z_]+)/.exec(msg)?.[1];
    c.fail(key !== undefined && key in fields ? [...path, key] : path, msg);
  }
}

function parseSteps(c: Checker, v: unknown, path: Path, names: Set<string>): Step[] {
  if (!Array.isArray(v)) c.fail(path, 'steps must be a list');
  return v.map((s, k) => parseStep(c, s, [...path, k], names));
}

function parseStep(c: Checker, s: unknown, path: Path, names: Set<string>): Step {
  if (!isObj(s)) c.fail(path, 'a step must be a mapping');
  checkGenerators(c, s, path);
  if ('repeat' in s) {
    const times = s['repeat'];
    if (!(Number.isInteger(times) && (times as number) >= 0) && !isObj(times)) c.fail([...path, 'repeat'], 'repeat must be a count or a generator');
    return { kind: 'repeat', times, steps: parseSteps(c, s['steps'], [...path, 'steps'], names) };
  }
  if ('choose' in s) {
    const opts = s['choose'];
    if (!Array.isArray(opts) || opts.length === 0) c.fail([...path, 'choose'], 'choose needs a list of options');
    return {
      kind: 'choose',
      options: opts.map((o, k) => {
        const at = [...path, 'choose', k];
        if (!isObj(o)) c.fail(at, 'an option must be a mapping with steps');
        const w = o['weight'] ?? 1;
        if (typeof w !== 'number' || !(w > 0)) c.fail([...at, 'weight'], 'weight must be a positive number');
        return { weight: w, steps: parseSteps(c, o['steps'], [...at, 'steps'], names) };
      }),
    };
  }
  const type = s['type'];
  if (typeof type !== 'string' || STEP_KEYS[type] === undefined) {
    c.fail(type === undefined ? path : [...path, 'type'], `a step needs "type" (exec, connect, dns, fork, exit), "repeat" or "choose"`);
  }
  const known = (name: string | undefined, key: string): void => {
    if (name !== undefined && !names.has(name)) c.fail([...path, key], `unknown process "${name}" (define it in processes or with "as" in an earlier step)`);
  };
  switch (type) {
    case 'exec': {
      const as = nameField(c, s, 'as', path, false);
      const process = nameField(c, s, 'process', path, false);
      if ((as === undefined) === (process === undefined)) c.fail(path, 'an exec step needs either "as" (a new process) or "process" (replace its image)');
      const parent = nameField(c, s, 'parent', path, false);
      known(process, 'process');
      known(parent, 'parent');
      const container = s['container'];
      if (container !== undefined && typeof container !== 'string') c.fail([...path, 'container'], 'container must be a container name');
      const fields = eventFields(s, type);
      trialCheck(c, type, fields, path);
      if (as !== undefined) names.add(as);
      return { kind: 'exec', as, process, parent, container, fields };
    }
    case 'connect':
    case 'exit': {
      const process = nameField(c, s, 'process', path, true) as string;
      known(process, 'process');
      const fields = eventFields(s, type);
      trialCheck(c, type, fields, path);
      return { kind: type, process, fields };
    }
    case 'dns': {
      const process = nameField(c, s, 'process', path, false);
      known(process, 'process');
      const fields = eventFields(s, type);
      trialCheck(c, type, fields, path);
      return { kind: 'dns', process, fields };
    }
    default: {
      const process = nameField(c, s, 'process', path, true) as string;
      const as = nameField(c, s, 'as', path, true) as string;
      known(process, 'process');
      names.add(as);
      return { kind: 'fork', process, as };
    }
  }
}

/** A stable 64-hex container id from the scenario and container names. */
function containerIdFor(scenario: string, name: string): string {
  // FNV-1a rounds over the name, widened to 64 hex digits; stable across runs and seeds.
  let out = '';
  let h = 0x811c9dc5;
  const text = `${scenario}/${name}`;
  for (let round = 0; out.length < 64; round++) {
    for (let k = 0; k < text.length; k++) h = Math.imul(h ^ text.charCodeAt(k), 0x01000193) >>> 0;
    h = Math.imul(h ^ round, 0x01000193) >>> 0;
    out += h.toString(16).padStart(8, '0');
  }
  return out.slice(0, 64);
}

export function parseScenario(text: string, file: string): Scenario {
  const c: Checker = new Checker(file);
  c.doc = parseDocument(text, { lineCounter: c.lc, prettyErrors: false });
  if (c.doc.errors.length > 0) {
    const e = c.doc.errors[0];
    const pos = c.lc.linePos(e.pos[0]);
    throw new ScenarioError(file, pos.line, pos.col, e.message.split('\n')[0]);
  }
  const root: unknown = c.doc.toJS();
  if (!isObj(root)) c.fail([], 'a scenario must be a mapping with name and steps');
  const name = root['name'] ?? basename(file).replace(/\.ya?ml$/, '');
  if (typeof name !== 'string' || name === '') c.fail(['name'], 'name must be a string');
  // `rate` is the same thing said as events per second relative to the other scenarios.
  if (root['weight'] !== undefined && root['rate'] !== undefined) c.fail(['rate'], 'give weight or rate, not both');
  const weightKey = root['rate'] !== undefined ? 'rate' : 'weight';
  const weight = root[weightKey] ?? 1;
  if (typeof weight !== 'number' || !(weight > 0)) c.fail([weightKey], `${weightKey} must be a positive number`);
  const tags = root['tags'] ?? [];
  if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string')) c.fail(['tags'], 'tags must be a list of strings');
  const description = root['description'];
  if (description !== undefined && typeof description !== 'string') c.fail(['description'], 'description must be a string');

  const containers = new Map<string, ContainerSpec>();
  const cs = root['containers'] ?? {};
  if (!isObj(cs)) c.fail(['containers'], 'containers must be a mapping of name → {image, ...}');
  for (const [cname, spec] of Object.entries(cs)) {
    const at = ['containers', cname];
    const sp = spec ?? {};
    if (!isObj(sp)) c.fail(at, 'a container must be a mapping');
    for (const k of ['id', 'name', 'image', 'pod', 'namespace']) {
      if (sp[k] !== undefined && typeof sp[k] !== 'string') c.fail([...at, k], `${k} must be a string`);
    }
    if (sp['privileged'] !== undefined && typeof sp['privileged'] !== 'boolean') c.fail([...at, 'privileged'], 'privileged must be true or false');
    containers.set(cname, {
      id: (sp['id'] as string | undefined) ?? containerIdFor(name, cname),
      name: (sp['name'] as string | undefined) ?? cname,
      image: sp['image'] as string | undefined,
      privileged: sp['privileged'] as boolean | undefined,
      pod: sp['pod'] as string | undefined,
      namespace: sp['namespace'] as string | undefined,
    });
  }

  const names = new Set<string>();
  const processes: ProcessSpec[] = [];
  const ps = root['processes'] ?? {};
  if (!isObj(ps)) c.fail(['processes'], 'processes must be a mapping of name → {exe, argv, ...}');
  for (const [pname, spec] of Object.entries(ps)) {
    const at = ['processes', pname];
    if (!isObj(spec)) c.fail(at, 'a process must be a mapping with at least exe');
    const container = spec['container'];
    if (container !== undefined && (typeof container !== 'string' || !containers.has(container))) {
      c.fail([...at, 'container'], `unknown container ${JSON.stringify(container)}`);
    }
    const parent = spec['parent'];
    if (parent !== undefined && (typeof parent !== 'string' || !names.has(parent))) {
      c.fail([...at, 'parent'], `unknown parent ${JSON.stringify(parent)} (list parents first)`);
    }
    checkGenerators(c, spec, at);
    const fields: Raw = {};
    for (const [k, v] of Object.entries(spec)) if (k !== 'container' && k !== 'parent') fields[k] = v;
    trialCheck(c, 'exec', fields, at);
    names.add(pname);
    processes.push({ name: pname, container: container as string | undefined, parent: parent as string | undefined, fields });
  }
  const steps = parseSteps(c, root['steps'] ?? [], ['steps'], names);
  // Containers named in exec steps must exist.
  const checkContainers = (ss: Step[], path: Path): void =>
    ss.forEach((s, k) => {
      if (s.kind === 'exec' && s.container !== undefined && !containers.has(s.container)) {
        c.fail([...path, k, 'container'], `unknown container "${s.container}"`);
      }
      if (s.kind === 'repeat') checkContainers(s.steps, [...path, k, 'steps']);
      if (s.kind === 'choose') s.options.forEach((o, j) => checkContainers(o.steps, [...path, k, 'choose', j, 'steps']));
    });
  checkContainers(steps, ['steps']);
  return { name, description, file, weight, tags: tags as string[], containers, processes, steps };
}

export function loadScenarioFile(path: string): Scenario {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ScenarioError(path, 0, 0, `cannot read: ${e instanceof Error ? e.message : String(e)}`);
  }
  return parseScenario(text, path);
}

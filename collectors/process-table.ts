// The process table: consumes KestrelEvents in order and keeps what a kernel (and Falco's thread
// table) would know at each event: processes with their ancestry, containers keyed by cgroup id,
// user and group names, and DNS answers. `apply(ev)` returns the EventContext the reference
// evaluator reads; the simulated kernel mirrors the same records into its maps.
//
// Records are never mutated after creation (an exec makes a new record), so a context handed out
// earlier keeps describing the process as it was at that event.

import type { ContainerRef, ExecEvent, KestrelEvent } from './events.js';
import type { ContainerRecord, EventContext, ProcessRecord } from './snapshot.js';

export const HOST_CONTAINER_ID = 'host';
/** The root cgroup's id on Linux (cgroup v2 root inode). */
export const HOST_CGROUP_ID = 1n;

/** Ancestry walks stop after this many levels (a guard against cycles in bad input). */
const MAX_ANCESTRY = 64;

export interface ProcessTableOptions {
  /** Live processes kept; beyond this the least recently active one is evicted. Default 65536. */
  maxProcesses?: number;
  /** Recently exited processes kept so late events still resolve ancestry. Default 4096. */
  maxExited?: number;
  /** Static name → addresses table (the config's `dns.hosts`). */
  hosts?: Record<string, readonly string[]>;
  /** uid → user name, added to (and overriding) the built-in table. */
  users?: Record<number, string>;
  /** gid → group name, added to (and overriding) the built-in table. */
  groups?: Record<number, string>;
  /** Observed DNS names kept (LRU). Default 65536. */
  maxDnsNames?: number;
  /**
   * Called when a record leaves the table for good (dropped from the exited LRU, pushed out of a
   * full live set, or an exited record replaced by a later exit of the same pid). The pid may be
   * live again by then: a mirror keyed by pid should check `isLive(rec.pid)` before deleting.
   */
  onEvict?: (rec: ProcessRecord) => void;
}

/** Debian's base passwd entries, so common uids have names without any configuration. */
export const DEFAULT_USERS: Readonly<Record<number, string>> = {
  0: 'root', 1: 'daemon', 2: 'bin', 3: 'sys', 4: 'sync', 5: 'games', 6: 'man', 7: 'lp', 8: 'mail',
  9: 'news', 10: 'uucp', 13: 'proxy', 33: 'www-data', 34: 'backup', 38: 'list', 39: 'irc',
  41: 'gnats', 65534: 'nobody',
};

export const DEFAULT_GROUPS: Readonly<Record<number, string>> = {
  0: 'root', 1: 'daemon', 2: 'bin', 3: 'sys', 4: 'adm', 5: 'tty', 6: 'disk', 7: 'lp', 8: 'mail',
  9: 'news', 10: 'uucp', 12: 'man', 13: 'proxy', 15: 'kmem', 20: 'dialout', 24: 'cdrom', 27: 'sudo',
  29: 'audio', 33: 'www-data', 34: 'backup', 42: 'shadow', 43: 'utmp', 44: 'video', 46: 'plugdev',
  50: 'staff', 100: 'users', 65534: 'nogroup',
};

/** Internal entry: the record plus when its pid came into existence (fork or first sight). */
interface Entry {
  rec: ProcessRecord;
  /** Fork time; unlike rec.startTs it does not move on exec. Used to tell reused pids apart. */
  bornTs: bigint;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Falco's proc.name: basename of the path, cut to 15 bytes (TASK_COMM_LEN - 1). */
export function commFromExe(exe: string): string {
  const slash = exe.lastIndexOf('/');
  return cutBytes(slash >= 0 ? exe.slice(slash + 1) : exe, 15);
}

/** Cut a string to at most `max` UTF-8 bytes without splitting a character. */
export function cutBytes(s: string, max: number): string {
  // Fast path: a UTF-16 unit is at most 3 UTF-8 bytes, so short strings always fit.
  if (s.length * 3 <= max) return s;
  if (s.length <= max && isAscii(s)) return s;
  const b = encoder.encode(s);
  if (b.length <= max) return s;
  let end = max;
  // Step back over UTF-8 continuation bytes so the cut lands on a character boundary.
  while (end > 0 && (b[end] & 0xc0) === 0x80) end--;
  return decoder.decode(b.subarray(0, end));
}

/**
 * What the kernel's process cache keeps of an argv (collectors/kernel/maps.ts): each argument
 * NUL-terminated in one 512-byte block, the last one cut to fit. The table keeps the same, so the
 * reference evaluator and compiled programs see one truth, as Falco's userspace sees what its
 * driver captured.
 */
export function fitArgv(argv: readonly string[], block = 512): string[] {
  const out: string[] = [];
  let used = 0;
  for (const a of argv) {
    if (used >= block) break;
    const s = cutBytes(a, block - used - 1);
    out.push(s);
    used += (s.length * 3 <= block && isAscii(s) ? s.length : encoder.encode(s).length) + 1;
  }
  return out;
}

/** Paths the kernel keeps: 255 bytes (a 256-byte field with its NUL). */
export const PATH_MAX_KEPT = 255;

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** Strip runtime prefixes (`docker://`, `containerd://`, `cri-o://`) from a container id. */
export function normalizeContainerId(id: string): string {
  const i = id.indexOf('://');
  return i >= 0 ? id.slice(i + 3) : id;
}

/** Split `repository[:tag][@digest]`; a colon before the last slash is a registry port. */
export function parseImage(image: string): { repository: string; tag: string | undefined } {
  let ref = image;
  const at = ref.indexOf('@');
  const hasDigest = at >= 0;
  if (hasDigest) ref = ref.slice(0, at);
  const colon = ref.lastIndexOf(':');
  const slash = ref.lastIndexOf('/');
  if (colon > slash) return { repository: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  // Docker's default tag; an image pinned by digest alone has none.
  return { repository: ref, tag: hasDigest ? undefined : 'latest' };
}

/** FNV-1a 64 of the id: the same container gets the same cgroup id in every run. */
export function cgroupIdFor(containerId: string): bigint {
  if (containerId === HOST_CONTAINER_ID) return HOST_CGROUP_ID;
  let h = 0xcbf29ce484222325n;
  for (const byte of encoder.encode(containerId)) {
    h ^= BigInt(byte);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  // Keep it a positive s64 and clear of the reserved small ids (0 = none, 1 = root cgroup).
  h &= 0x7fffffffffffffffn;
  return h < 0x100n ? h + 0x100n : h;
}

/** DNS names as the table keeps them (the form kernel maps hold too). */
export function normName(name: string): string {
  const n = name.trim().toLowerCase();
  return n.endsWith('.') ? n.slice(0, -1) : n;
}

/** A small insertion-ordered LRU on a Map: touching re-inserts, overflow drops the oldest. */
class Lru<K, V> {
  readonly map = new Map<K, V>();
  constructor(readonly max: number) {}
  get(k: K): V | undefined {
    return this.map.get(k);
  }
  set(k: K, v: V): V | undefined {
    this.map.delete(k);
    this.map.set(k, v);
    if (this.map.size > this.max) {
      const first = this.map.entries().next();
      if (!first.done) {
        this.map.delete(first.value[0]);
        return first.value[1];
      }
    }
    return undefined;
  }
  delete(k: K): boolean {
    return this.map.delete(k);
  }
  get size(): number {
    return this.map.size;
  }
}

const EMPTY: readonly string[] = Object.freeze([]);

export class ProcessTable {
  private readonly live: Lru<number, Entry>;
  private readonly exited: Lru<number, Entry>;
  private readonly containersById = new Map<string, ContainerRecord>();
  private readonly containersByCgroup = new Map<bigint, ContainerRecord>();
  private readonly users = new Map<number, string>();
  private readonly groups = new Map<number, string>();
  private readonly staticHosts = new Map<string, string[]>();
  private readonly staticNames = new Map<string, string[]>();
  private readonly dnsByName: Lru<string, string[]>;
  private readonly dnsByIp: Lru<string, string[]>;
  private readonly evictListeners: ((rec: ProcessRecord) => void)[] = [];
  private readonly host: ContainerRecord = {
    id: HOST_CONTAINER_ID,
    name: HOST_CONTAINER_ID,
    cgroupId: HOST_CGROUP_ID,
  };

  constructor(opts: ProcessTableOptions = {}) {
    this.live = new Lru(opts.maxProcesses ?? 65536);
    this.exited = new Lru(opts.maxExited ?? 4096);
    this.dnsByName = new Lru(opts.maxDnsNames ?? 65536);
    this.dnsByIp = new Lru(opts.maxDnsNames ?? 65536);
    if (opts.onEvict !== undefined) this.evictListeners.push(opts.onEvict);
    for (const [k, v] of Object.entries(DEFAULT_USERS)) this.users.set(Number(k), v);
    for (const [k, v] of Object.entries(DEFAULT_GROUPS)) this.groups.set(Number(k), v);
    for (const [k, v] of Object.entries(opts.users ?? {})) this.users.set(Number(k), v);
    for (const [k, v] of Object.entries(opts.groups ?? {})) this.groups.set(Number(k), v);
    for (const [name, addrs] of Object.entries(opts.hosts ?? {})) this.addStaticHost(name, addrs);
    this.containersByCgroup.set(HOST_CGROUP_ID, this.host);
    this.containersById.set(HOST_CONTAINER_ID, this.host);
  }

  /** Also tell `fn` when a record leaves the table for good (see ProcessTableOptions.onEvict). */
  addEvictListener(fn: (rec: ProcessRecord) => void): void {
    this.evictListeners.push(fn);
  }

  private evict(rec: ProcessRecord): void {
    for (const fn of this.evictListeners) fn(rec);
  }

  // ---- queries ----

  /** The live process with this pid, else a recently exited one. */
  get(pid: number): ProcessRecord | undefined {
    return (this.live.get(pid) ?? this.exited.get(pid))?.rec;
  }

  isLive(pid: number): boolean {
    return this.live.get(pid) !== undefined;
  }

  /** Live processes, least recently active first. */
  *processes(): IterableIterator<ProcessRecord> {
    for (const e of this.live.map.values()) yield e.rec;
  }

  get liveCount(): number {
    return this.live.size;
  }

  get exitedCount(): number {
    return this.exited.size;
  }

  container(id: string): ContainerRecord | undefined {
    return this.containersById.get(normalizeContainerId(id));
  }

  containerByCgroup(cgroupId: bigint): ContainerRecord | undefined {
    return this.containersByCgroup.get(cgroupId);
  }

  /** Every known container, the host first. */
  containers(): IterableIterator<ContainerRecord> {
    return this.containersById.values();
  }

  /** The parent of `rec` as known now; skips a live process that reused the pid later. */
  parentOf(rec: ProcessRecord): ProcessRecord | undefined {
    if (rec.ppid === 0 || rec.ppid === rec.pid) return undefined;
    const self = this.live.get(rec.pid) ?? this.exited.get(rec.pid);
    const born = self !== undefined && self.rec === rec ? self.bornTs : rec.startTs;
    const live = this.live.get(rec.ppid);
    if (live !== undefined && live.bornTs <= born) return live.rec;
    const gone = this.exited.get(rec.ppid);
    if (gone !== undefined) return gone.rec;
    return live?.rec;
  }

  /** Parent, grandparent, ... nearest first; stops at the first unknown pid or a cycle. */
  ancestorsOf(rec: ProcessRecord): ProcessRecord[] {
    const out: ProcessRecord[] = [];
    const seen = new Set<number>([rec.pid]);
    let cur = this.parentOf(rec);
    while (cur !== undefined && out.length < MAX_ANCESTRY && !seen.has(cur.pid)) {
      out.push(cur);
      seen.add(cur.pid);
      cur = this.parentOf(cur);
    }
    return out;
  }

  userName(uid: number): string | undefined {
    return this.users.get(uid);
  }

  groupName(gid: number): string | undefined {
    return this.groups.get(gid);
  }

  setUser(uid: number, name: string): void {
    this.users.set(uid, name);
  }

  setGroup(gid: number, name: string): void {
    this.groups.set(gid, name);
  }

  /** All uid → name pairs (built-in, configured and added). */
  userEntries(): IterableIterator<[number, string]> {
    return this.users.entries();
  }

  /** All gid → name pairs. */
  groupEntries(): IterableIterator<[number, string]> {
    return this.groups.entries();
  }

  resolve(name: string): readonly string[] {
    const n = normName(name);
    const seen = this.dnsByName.get(n);
    const fixed = this.staticHosts.get(n);
    if (seen === undefined) return fixed ?? EMPTY;
    if (fixed === undefined) return seen;
    return [...new Set([...fixed, ...seen])];
  }

  namesOf(ip: string): readonly string[] {
    const seen = this.dnsByIp.get(ip);
    const fixed = this.staticNames.get(ip);
    if (seen === undefined) return fixed ?? EMPTY;
    if (fixed === undefined) return seen;
    return [...new Set([...fixed, ...seen])];
  }

  /** Static (config `dns.hosts`) ip → names, for mirroring into kernel maps. */
  staticAnswers(): IterableIterator<[string, string[]]> {
    return this.staticNames.entries();
  }

  /** Observed name → ip answers (most recent last), for mirroring into kernel maps. */
  dnsAnswers(): IterableIterator<[string, string[]]> {
    return this.dnsByIp.map.entries();
  }

  // ---- updates ----

  apply(ev: KestrelEvent): EventContext {
    let process: ProcessRecord | undefined;
    switch (ev.type) {
      case 'exec':
        process = this.applyExec(ev);
        break;
      case 'fork':
        process = this.applyFork(ev.pid, ev.child, ev.ts);
        break;
      case 'exit':
        process = this.applyExit(ev.pid, ev.ts);
        break;
      case 'connect':
        process = this.touch(ev.pid, ev.ts);
        break;
      case 'dns':
        this.addDnsAnswer(ev.name, ev.addrs);
        process = this.live.get(ev.pid)?.rec ?? this.exited.get(ev.pid)?.rec;
        break;
    }
    return this.contextFor(ev, process);
  }

  /** An EventContext for an event and a process record already in (or taken from) the table. */
  contextFor(event: KestrelEvent, process: ProcessRecord | undefined): EventContext {
    const container = process === undefined ? undefined : this.containersByCgroup.get(process.cgroupId);
    return new TableContext(this, event, process, container);
  }

  /** Register (or enrich) a container; its cgroup id is derived from the id alone. */
  upsertContainer(ref: ContainerRef): ContainerRecord {
    const id = normalizeContainerId(ref.id);
    if (id === '' || id === HOST_CONTAINER_ID) return this.host;
    const old = this.containersById.get(id);
    const img = ref.image ?? old?.image;
    const parsed = img === undefined ? undefined : parseImage(img);
    const rec: ContainerRecord = {
      id,
      name: ref.name ?? old?.name,
      image: img,
      imageRepository: parsed?.repository,
      imageTag: parsed?.tag,
      privileged: ref.privileged ?? old?.privileged,
      pod: ref.pod ?? old?.pod,
      namespace: ref.namespace ?? old?.namespace,
      cgroupId: old?.cgroupId ?? this.freeCgroupId(id),
    };
    if (old !== undefined && sameContainer(old, rec)) return old;
    this.containersById.set(id, rec);
    this.containersByCgroup.set(rec.cgroupId, rec);
    return rec;
  }

  addDnsAnswer(name: string, addrs: readonly string[]): void {
    const n = normName(name);
    if (n === '') return;
    const prev = this.dnsByName.get(n) ?? [];
    this.dnsByName.set(n, [...new Set([...prev, ...addrs])]);
    for (const ip of addrs) {
      const names = this.dnsByIp.get(ip) ?? [];
      this.dnsByIp.set(ip, names.includes(n) ? names : [...names, n]);
    }
  }

  private addStaticHost(name: string, addrs: readonly string[]): void {
    const n = normName(name);
    this.staticHosts.set(n, [...addrs]);
    for (const ip of addrs) {
      const names = this.staticNames.get(ip) ?? [];
      if (!names.includes(n)) names.push(n);
      this.staticNames.set(ip, names);
    }
  }

  private freeCgroupId(id: string): bigint {
    let cg = cgroupIdFor(id);
    // A hash collision with another container: step to the next free id (order-dependent, rare).
    while (this.containersByCgroup.has(cg)) cg = (cg + 1n) & 0x7fffffffffffffffn;
    return cg;
  }

  private applyExec(ev: ExecEvent): ProcessRecord {
    const entry = this.live.get(ev.pid);
    const old = entry?.rec;
    const ppidGiven = ev.ppid !== undefined && ev.ppid !== ev.pid ? ev.ppid : undefined;
    const ppid = ppidGiven ?? old?.ppid ?? 0;
    // A new pid whose parent we know inherits what fork would have copied.
    const parent = old === undefined && ppid !== 0 ? this.live.get(ppid)?.rec : undefined;
    const base = old ?? parent;
    let cgroupId = base?.cgroupId ?? HOST_CGROUP_ID;
    let containerId = base?.containerId ?? HOST_CONTAINER_ID;
    if (ev.container !== undefined) {
      const c = this.upsertContainer(ev.container);
      cgroupId = c.cgroupId;
      containerId = c.id;
    }
    const failed = ev.ret !== undefined && ev.ret !== 0;
    if (failed && old !== undefined) {
      // A failed execve leaves the image alone (Falco ignores it too); it still counts as activity.
      this.live.set(ev.pid, entry as Entry);
      return old;
    }
    const rec: ProcessRecord = {
      pid: ev.pid,
      tgid: ev.pid,
      ppid,
      uid: ev.uid ?? base?.uid,
      gid: ev.gid ?? base?.gid,
      comm: failed ? '' : ev.comm !== undefined ? cutBytes(ev.comm, 15) : commFromExe(ev.exe),
      exe: failed ? '' : cutBytes(ev.exe, PATH_MAX_KEPT),
      argv: failed ? [] : fitArgv(ev.argv),
      env: failed ? [] : ev.env !== undefined ? fitArgv(ev.env) : (base?.env ?? []),
      cwd: ev.cwd !== undefined ? cutBytes(ev.cwd, PATH_MAX_KEPT) : base?.cwd,
      loginuid: ev.loginuid ?? base?.loginuid,
      tty: ev.tty ?? base?.tty,
      pgid: ev.pgid ?? base?.pgid,
      sid: ev.sid ?? base?.sid,
      vpid: ev.vpid ?? (old !== undefined && old.containerId === containerId ? old.vpid : undefined),
      exeUpperLayer: failed ? undefined : ev.exe_upper_layer,
      exeFromMemfd: failed ? undefined : ev.exe_from_memfd,
      startTs: ev.ts,
      cgroupId,
      containerId,
      // An exec that failed for a pid never seen tells us only about the caller.
      partial: failed ? true : undefined,
    };
    this.putLive(ev.pid, { rec, bornTs: entry?.bornTs ?? ev.ts });
    return rec;
  }

  private applyFork(parentPid: number, child: number, ts: bigint): ProcessRecord {
    const parent = this.touch(parentPid, ts);
    if (child !== parentPid) {
      const rec: ProcessRecord = { ...parent, pid: child, tgid: child, ppid: parentPid, vpid: undefined, startTs: ts };
      const reused = this.live.get(child);
      // The old holder of a reused pid must have exited; keep it findable as an exited process.
      if (reused !== undefined) this.retire(child, reused);
      this.putLive(child, { rec, bornTs: ts });
    }
    return parent;
  }

  private applyExit(pid: number, ts: bigint): ProcessRecord {
    const entry = this.live.get(pid);
    if (entry === undefined) {
      const gone = this.exited.get(pid);
      if (gone !== undefined) return gone.rec;
      const rec = partialRecord(pid, ts);
      this.retire(pid, { rec, bornTs: ts });
      return rec;
    }
    this.retire(pid, entry);
    return entry.rec;
  }

  /** The live record for pid (created as partial when never seen), marked recently active. */
  private touch(pid: number, ts: bigint): ProcessRecord {
    const entry = this.live.get(pid);
    if (entry !== undefined) {
      this.live.set(pid, entry);
      return entry.rec;
    }
    const rec = partialRecord(pid, ts);
    this.putLive(pid, { rec, bornTs: ts });
    return rec;
  }

  private putLive(pid: number, entry: Entry): void {
    // An exited holder of the same pid stays in the exited LRU: its children still name it.
    const dropped = this.live.set(pid, entry);
    if (dropped !== undefined) this.evict(dropped.rec);
  }

  private retire(pid: number, entry: Entry): void {
    this.live.delete(pid);
    const older = this.exited.get(pid);
    if (older !== undefined && older !== entry) this.evict(older.rec);
    const dropped = this.exited.set(pid, entry);
    if (dropped !== undefined) this.evict(dropped.rec);
  }
}

function partialRecord(pid: number, ts: bigint): ProcessRecord {
  return {
    pid,
    tgid: pid,
    ppid: 0,
    comm: '',
    exe: '',
    argv: [],
    env: [],
    startTs: ts,
    cgroupId: HOST_CGROUP_ID,
    containerId: HOST_CONTAINER_ID,
    partial: true,
  };
}

function sameContainer(a: ContainerRecord, b: ContainerRecord): boolean {
  return (
    a.name === b.name &&
    a.image === b.image &&
    a.privileged === b.privileged &&
    a.pod === b.pod &&
    a.namespace === b.namespace
  );
}

/** EventContext over the table: methods on a prototype, so handing one out allocates one object. */
class TableContext implements EventContext {
  private ancestry: ProcessRecord[] | undefined;
  constructor(
    private readonly table: ProcessTable,
    public event: KestrelEvent,
    readonly process: ProcessRecord | undefined,
    readonly container: ContainerRecord | undefined,
  ) {}
  ancestors(): ProcessRecord[] {
    return (this.ancestry ??= this.process === undefined ? [] : this.table.ancestorsOf(this.process));
  }
  userName(uid: number): string | undefined {
    return this.table.userName(uid);
  }
  groupName(gid: number): string | undefined {
    return this.table.groupName(gid);
  }
  resolve(name: string): readonly string[] {
    return this.table.resolve(name);
  }
  namesOf(ip: string): readonly string[] {
    return this.table.namesOf(ip);
  }
}

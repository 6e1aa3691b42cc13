// The procfs collector: polls /proc for processes that appeared, changed image or went away, and
// /proc/net/tcp{,6} for new outbound connections (attributed to a process through its socket
// inode). What it cannot see is in docs/collectors.md: anything that starts and ends between two
// polls, failed execs, connection attempts that never got past SYN_SENT between polls, UDP and
// unix sockets, and the exact time of each event (events carry the poll time).

import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { ConnectEvent, ExecEvent, KestrelEvent } from './events.js';
import { procSnapshot, type ProcSnapshot } from './procinfo.js';
import { formatIPv4, formatIPv6 } from './kernel/inet.js';
import { nowNs } from './timefmt.js';

export interface ProcfsOptions {
  /** Poll interval in ms (config `source.interval`). Default 1000. */
  intervalMs?: number;
  /** Where procfs is mounted (tests use a fake tree). Default /proc. */
  root?: string;
  /** Processes present at the first poll: synthetic execs (default) or nothing. */
  initial?: 'synthetic' | 'skip';
}

interface Known {
  startTicks: number;
  exe: string;
  cmdline: string;
}

export interface TcpEntry {
  local: string;
  localPort: number;
  remote: string;
  remotePort: number;
  state: number;
  inode: number;
  family: 'inet' | 'inet6';
}

const TCP_ESTABLISHED = 0x01;
const TCP_SYN_SENT = 0x02;
const TCP_LISTEN = 0x0a;

/** /proc/net/tcp addresses: each 32-bit word printed as host-order (little-endian) hex. */
function decodeAddr(hex: string): string {
  const words = hex.match(/.{8}/g) ?? [];
  const b = new Uint8Array(words.length * 4);
  words.forEach((w, i) => {
    const v = parseInt(w, 16);
    b[i * 4] = v & 0xff;
    b[i * 4 + 1] = (v >>> 8) & 0xff;
    b[i * 4 + 2] = (v >>> 16) & 0xff;
    b[i * 4 + 3] = (v >>> 24) & 0xff;
  });
  return b.length === 4 ? formatIPv4(b) : formatIPv6(b);
}

export function parseProcNetTcp(text: string, family: 'inet' | 'inet6'): TcpEntry[] {
  const out: TcpEntry[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const [la, lp] = f[1].split(':');
    const [ra, rp] = f[2].split(':');
    let local = decodeAddr(la);
    let remote = decodeAddr(ra);
    let fam = family;
    // A v4 peer on a dual-stack socket (::ffff:a.b.c.d) is an IPv4 connection.
    if (family === 'inet6' && remote.startsWith('::ffff:') && remote.includes('.')) {
      fam = 'inet';
      remote = remote.slice(7);
      if (local.startsWith('::ffff:')) local = local.slice(7);
    }
    out.push({
      local,
      localPort: parseInt(lp, 16),
      remote,
      remotePort: parseInt(rp, 16),
      state: parseInt(f[3], 16),
      inode: Number(f[9]),
      family: fam,
    });
  }
  return out;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

export class ProcfsPoller {
  private readonly root: string;
  private readonly known = new Map<number, Known>();
  private readonly seenConns = new Set<string>();
  private first = true;

  constructor(private readonly opts: ProcfsOptions = {}) {
    this.root = opts.root ?? '/proc';
  }

  private pids(): number[] {
    let names: string[];
    try {
      names = readdirSync(this.root);
    } catch {
      return [];
    }
    return names.filter((n) => /^\d+$/.test(n)).map(Number).sort((a, b) => a - b);
  }

  private execOf(s: ProcSnapshot, ts: bigint, synthetic: boolean): ExecEvent {
    const ev: ExecEvent = { type: 'exec', ts, pid: s.pid, exe: s.exe, argv: s.argv.length > 0 ? s.argv : [s.comm], comm: s.comm };
    if (s.ppid !== undefined && s.ppid !== s.pid) ev.ppid = s.ppid;
    if (s.uid !== undefined) ev.uid = s.uid;
    if (s.gid !== undefined) ev.gid = s.gid;
    if (s.cwd !== undefined) ev.cwd = s.cwd;
    if (s.containerId !== undefined) ev.container = { id: s.containerId };
    if (synthetic) ev.synthetic = true;
    return ev;
  }

  /** One pass over /proc; events are stamped `ts`. */
  poll(ts: bigint = nowNs()): KestrelEvent[] {
    const out: KestrelEvent[] = [];
    const initial = this.first;
    this.first = false;
    const present = new Set<number>();
    const fresh: ProcSnapshot[] = [];
    for (const pid of this.pids()) {
      const s = procSnapshot(pid, this.root);
      if (s === undefined) continue; // gone while we looked
      present.add(pid);
      const cmdline = s.argv.join('\0');
      const k = this.known.get(pid);
      if (k !== undefined && k.startTicks === s.startTicks) {
        // Same process; a changed image means it exec'd since the last poll.
        if (k.exe !== s.exe || k.cmdline !== cmdline) {
          this.known.set(pid, { startTicks: s.startTicks, exe: s.exe, cmdline });
          out.push(this.execOf(s, ts, false));
        }
        continue;
      }
      if (k !== undefined) out.push({ type: 'exit', ts, pid }); // the pid was reused
      this.known.set(pid, { startTicks: s.startTicks, exe: s.exe, cmdline });
      fresh.push(s);
    }
    for (const pid of [...this.known.keys()]) {
      if (present.has(pid)) continue;
      this.known.delete(pid);
      out.push({ type: 'exit', ts, pid });
    }
    // Parents before children: older processes first.
    fresh.sort((a, b) => a.startTicks - b.startTicks || a.pid - b.pid);
    if (!(initial && this.opts.initial === 'skip')) for (const s of fresh) out.push(this.execOf(s, ts, initial));
    out.push(...this.connections(ts, initial));
    return out;
  }

  private connections(ts: bigint, initial: boolean): ConnectEvent[] {
    const entries = [
      ...parseProcNetTcp(read(`${this.root}/net/tcp`) ?? '', 'inet'),
      ...parseProcNetTcp(read(`${this.root}/net/tcp6`) ?? '', 'inet6'),
    ];
    const listening = new Set(entries.filter((e) => e.state === TCP_LISTEN).map((e) => `${e.family}:${e.localPort}`));
    const candidates: TcpEntry[] = [];
    const current = new Set<string>();
    for (const e of entries) {
      if (e.state !== TCP_ESTABLISHED && e.state !== TCP_SYN_SENT) continue;
      // An established socket on a listening port was accepted, not connected.
      if (listening.has(`${e.family}:${e.localPort}`) || listening.has(`inet6:${e.localPort}`)) continue;
      const key = `${e.local}:${e.localPort}>${e.remote}:${e.remotePort}`;
      current.add(key);
      if (this.seenConns.has(key)) continue;
      this.seenConns.add(key);
      if (!initial) candidates.push(e);
    }
    for (const k of [...this.seenConns]) if (!current.has(k)) this.seenConns.delete(k);
    if (candidates.length === 0) return [];
    const owner = this.socketOwners(new Set(candidates.map((c) => c.inode)));
    const out: ConnectEvent[] = [];
    for (const e of candidates) {
      const pid = owner.get(e.inode);
      if (pid === undefined) continue; // the socket closed, or belongs to someone we cannot read
      out.push({
        type: 'connect', ts, pid, family: e.family, daddr: e.remote, dport: e.remotePort, saddr: e.local, sport: e.localPort,
        proto: 'tcp', ret: e.state === TCP_SYN_SENT ? -115 : 0,
      });
    }
    return out;
  }

  /** socket inode → pid, by reading /proc/PID/fd links (only when there is something to find). */
  private socketOwners(inodes: Set<number>): Map<number, number> {
    const found = new Map<number, number>();
    for (const pid of this.known.keys()) {
      let fds: string[];
      try {
        fds = readdirSync(`${this.root}/${pid}/fd`);
      } catch {
        continue;
      }
      for (const fd of fds) {
        let link: string;
        try {
          link = readlinkSync(`${this.root}/${pid}/fd/${fd}`);
        } catch {
          continue;
        }
        const m = /^socket:\[(\d+)\]$/.exec(link);
        if (m !== null && inodes.has(Number(m[1])) && !found.has(Number(m[1]))) found.set(Number(m[1]), pid);
      }
      if (found.size === inodes.size) break;
    }
    return found;
  }
}

/** Poll forever (until the signal aborts), yielding events as they are found. */
export async function* procfsSource(opts: ProcfsOptions = {}, signal?: AbortSignal): AsyncGenerator<KestrelEvent> {
  const poller = new ProcfsPoller(opts);
  const interval = opts.intervalMs ?? 1000;
  while (signal?.aborted !== true) {
    yield* poller.poll();
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, interval);
      signal?.addEventListener('abort', () => {
        clearTimeout(t);
        resolve();
      }, { once: true });
    });
  }
}

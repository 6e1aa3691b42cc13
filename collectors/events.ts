// Kestrel's event model (SPEC §3 "Event format"): what every collector produces, what
// `kestrel record` writes as NDJSON, what replay and rule tests read, and what the simulated
// kernel turns into hook firings. Timestamps are nanoseconds since the epoch.

export interface ContainerRef {
  id: string;
  name?: string;
  /** `repository[:tag]` */
  image?: string;
  privileged?: boolean;
  pod?: string;
  namespace?: string;
}

interface EventBase {
  ts: bigint;
  pid: number;
  /**
   * Set by the simulated kernel when a program's verdict changed the outcome: `kill` (an
   * enter-hook program sent SIGKILL; the syscall did not complete) or `deny` (override_return
   * made the syscall fail; `ret` holds the errno).
   */
  enforced?: 'kill' | 'deny';
}

export interface ExecEvent extends EventBase {
  type: 'exec';
  ppid?: number;
  uid?: number;
  gid?: number;
  /** Full path of the executable (Falco's proc.exepath). */
  exe: string;
  /** argv[0] is Falco's proc.exe. */
  argv: string[];
  cwd?: string;
  /** Defaults to basename(exe) cut to 15 bytes (Falco's proc.name). */
  comm?: string;
  env?: string[];
  loginuid?: number;
  /** Terminal device number; 0 for none. */
  tty?: number;
  pgid?: number;
  sid?: number;
  /** Pid inside the container's pid namespace. */
  vpid?: number;
  exe_upper_layer?: boolean;
  exe_from_memfd?: boolean;
  /** 0 unless the exec failed, then a negative errno. */
  ret?: number;
  container?: ContainerRef;
  /**
   * A process that already existed when the stream began (a /proc scan, a Tetragon parent
   * record), not an execve: consumers update their process table and fire no hook, match no rule.
   */
  synthetic?: boolean;
  /** Which syscall made it: `execve` (default) or `execveat` (fires sys_enter_execveat). */
  syscall?: 'execve' | 'execveat';
}

export interface DnsEvent extends EventBase {
  type: 'dns';
  name: string;
  addrs: string[];
}

export interface ConnectEvent extends EventBase {
  type: 'connect';
  fd?: number;
  family: 'inet' | 'inet6' | 'unix';
  daddr?: string;
  dport?: number;
  /** unix sockets */
  path?: string;
  saddr?: string;
  sport?: number;
  proto?: 'tcp' | 'udp';
  /** 0, or a negative errno such as -115 EINPROGRESS or -111 ECONNREFUSED. */
  ret?: number;
}

export interface ForkEvent extends EventBase {
  type: 'fork';
  /** `pid` is the parent. */
  child: number;
}

export interface ExitEvent extends EventBase {
  type: 'exit';
  code?: number;
}

export type KestrelEvent = ExecEvent | DnsEvent | ConnectEvent | ForkEvent | ExitEvent;
export type EventType = KestrelEvent['type'];

export const EVENT_TYPES: readonly EventType[] = ['exec', 'dns', 'connect', 'fork', 'exit'];

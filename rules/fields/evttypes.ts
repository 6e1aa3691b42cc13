// Event-type extraction (libsinsp filter/ppm_codes.cpp): from a typed condition, the set of
// event types it can match. `and` = intersection, `or` = union, `not` pushed to the leaves
// (De Morgan, i.e. complement); `evt.type =|==|in X` gives explicit sets, `!=` the complement;
// `evt.num = 0` (never_true) the empty set; any other check all types. Sets are kept as
// "these names" or "everything but these names" so the universe need not be enumerated.

import type { TExpr } from '../condition/ast.js';
import type { Hook } from './types.js';

/** Falco event type names (syscalls and the few non-syscall events) the parser accepts. */
export const EVENT_TYPE_NAMES: readonly string[] = [
  'accept', 'accept4', 'access', 'bind', 'bpf', 'brk', 'capset', 'chdir', 'chmod', 'chown', 'chroot',
  'clone', 'clone3', 'close', 'connect', 'copy_file_range', 'creat', 'delete_module', 'dup', 'dup2', 'dup3',
  'epoll_create', 'epoll_create1', 'epoll_wait', 'eventfd', 'eventfd2', 'execve', 'execveat', 'fchdir', 'fchmod',
  'fchmodat', 'fchown', 'fchownat', 'fcntl', 'finit_module', 'flock', 'fork', 'fsconfig', 'fstat', 'fstat64',
  'futex', 'getdents', 'getdents64', 'getegid', 'geteuid', 'getgid', 'getpeername', 'getresgid', 'getresuid',
  'getrlimit', 'getsockname', 'getsockopt', 'getuid', 'init_module', 'inotify_init', 'inotify_init1',
  'io_uring_enter', 'io_uring_register', 'io_uring_setup', 'ioctl', 'kill', 'lchown', 'link', 'linkat',
  'listen', 'llseek', 'lseek', 'lstat', 'lstat64', 'memfd_create', 'mkdir', 'mkdirat', 'mlock', 'mlock2',
  'mlockall', 'mmap', 'mmap2', 'mount', 'mprotect', 'munlock', 'munlockall', 'munmap', 'nanosleep', 'newfstatat',
  'open', 'open_by_handle_at', 'openat', 'openat2', 'pidfd_getfd', 'pidfd_open', 'pipe', 'pipe2', 'poll',
  'ppoll', 'prctl', 'pread', 'preadv', 'prlimit', 'process_vm_readv', 'process_vm_writev', 'ptrace', 'pwrite',
  'pwritev', 'quotactl', 'read', 'readv', 'recvfrom', 'recvmmsg', 'recvmsg', 'rename', 'renameat', 'renameat2',
  'rmdir', 'seccomp', 'select', 'semctl', 'semget', 'semop', 'sendfile', 'sendmmsg', 'sendmsg', 'sendto',
  'setgid', 'setns', 'setpgid', 'setresgid', 'setresuid', 'setrlimit', 'setsid', 'setsockopt', 'setuid',
  'shutdown', 'signalfd', 'signalfd4', 'socket', 'socketpair', 'splice', 'stat', 'stat64', 'symlink',
  'symlinkat', 'tgkill', 'timerfd_create', 'tkill', 'umount', 'umount2', 'unlink', 'unlinkat', 'unshare',
  'userfaultfd', 'utimensat', 'vfork', 'write', 'writev',
  // non-syscall events
  'procexit', 'switch', 'signaldeliver', 'container', 'procinfo', 'asyncevent', 'pluginevent',
];

const KNOWN = new Set(EVENT_TYPE_NAMES);
export function isEventType(name: string): boolean {
  return KNOWN.has(name);
}

/** Event types Kestrel has hooks for. */
export const HOOK_OF_EVENT: Readonly<Record<string, Hook>> = { execve: 'exec', execveat: 'exec', connect: 'connect' };

/** A set of event types: `names` or, when `all` is set, every type except `names`. */
export interface EvtSet {
  all: boolean;
  names: ReadonlySet<string>;
}

export const ALL: EvtSet = { all: true, names: new Set() };
export const NONE: EvtSet = { all: false, names: new Set() };

export function complement(s: EvtSet): EvtSet {
  return { all: !s.all, names: s.names };
}

export function union(a: EvtSet, b: EvtSet): EvtSet {
  if (!a.all && !b.all) return { all: false, names: new Set([...a.names, ...b.names]) };
  if (a.all && b.all) return { all: true, names: new Set([...a.names].filter((n) => b.names.has(n))) };
  const [neg, pos] = a.all ? [a, b] : [b, a];
  return { all: true, names: new Set([...neg.names].filter((n) => !pos.names.has(n))) };
}

export function intersect(a: EvtSet, b: EvtSet): EvtSet {
  return complement(union(complement(a), complement(b)));
}

export function has(s: EvtSet, name: string): boolean {
  return s.all !== s.names.has(name);
}

/** The event types a typed condition can match. */
export function eventTypesOf(e: TExpr): EvtSet {
  return walk(e, false);
}

function walk(e: TExpr, negated: boolean): EvtSet {
  switch (e.kind) {
    case 'and': {
      const parts = e.children.map((c) => walk(c, negated));
      // not (a and b) = not a or not b
      return parts.reduce(negated ? union : intersect, negated ? NONE : ALL);
    }
    case 'or': {
      const parts = e.children.map((c) => walk(c, negated));
      return parts.reduce(negated ? intersect : union, negated ? ALL : NONE);
    }
    case 'not':
      return walk(e.child, !negated);
    case 'const':
      return e.value !== negated ? ALL : NONE;
    case 'check': {
      const leaf = leafSet(e);
      if (leaf === undefined) return ALL;
      return negated ? complement(leaf) : leaf;
    }
  }
}

/** The set for an `evt.type` / `evt.num=0` check, or undefined when the check is not about event types. */
function leafSet(e: Extract<TExpr, { kind: 'check' }>): EvtSet | undefined {
  if (e.lhs.kind !== 'field' || e.rhs.kind !== 'values' || e.modifier !== undefined) return undefined;
  const name = e.lhs.def.name;
  if (name === 'evt.num' && (e.op === '=' || e.op === '==') && e.rhs.values.length === 1) {
    const v = e.rhs.values[0];
    if (v !== undefined && v.kind === 'number' && v.value === 0) return NONE;
    return undefined;
  }
  if (name !== 'evt.type') return undefined;
  const names = new Set<string>();
  for (const v of e.rhs.values) if (v.kind === 'string') names.add(v.value);
  switch (e.op) {
    case '=':
    case '==':
    case 'in':
      return { all: false, names };
    case '!=':
      return { all: true, names };
    default:
      return undefined;
  }
}

export interface HookPlan {
  /** Kestrel hooks the rule attaches to. */
  hooks: Hook[];
  /** Event types the rule needs that Kestrel has no hook for (sorted). */
  missing: string[];
  /** the condition can match every event type except a few (Falco warns for > 100 types) */
  unrestricted: boolean;
  /** the condition can never match any event (empty set) */
  empty: boolean;
}

/** Map a rule's event-type set to Kestrel hooks. */
export function planHooks(set: EvtSet): HookPlan {
  const hooks = new Set<Hook>();
  for (const [evt, hook] of Object.entries(HOOK_OF_EVENT)) if (has(set, evt)) hooks.add(hook);
  const ordered: Hook[] = (['exec', 'connect'] as const).filter((h) => hooks.has(h));
  if (set.all) return { hooks: ordered, missing: [], unrestricted: true, empty: false };
  const missing = [...set.names].filter((n) => HOOK_OF_EVENT[n] === undefined).sort();
  return { hooks: ordered, missing, unrestricted: false, empty: set.names.size === 0 };
}

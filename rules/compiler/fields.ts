// Where each filter field lives for a compiled program: which kernel record (process cache,
// an ancestor, the container table, the connect stash, ...), at which offset, in which shape.
// The layouts are the simulated kernel's (collectors/kernel/maps.ts) and Linux's (tracepoint
// contexts, sockaddr).

import { KC, KP, KP_F_MEMFD, KP_F_UPPER_LAYER, KU } from '../../collectors/kernel/maps.js';
import type { TField } from '../condition/ast.js';
import type { Hook } from '../fields/types.js';

/** A record a field is read from. Ancestor depth 1 is the parent. */
export type Base =
  | { kind: 'proc' }
  | { kind: 'ancestor'; depth: number }
  /** every ancestor from the parent up to MAX_ANCESTORS (Falco's proc.aname without index) */
  | { kind: 'anyAncestor' }
  /** the process whose pid is the given u32 field of the current process (session/group leader) */
  | { kind: 'procByPid'; pidOff: number }
  | { kind: 'container' }
  /** name table looked up by a u32 field of the process (uid, gid, loginuid) */
  | { kind: 'name'; table: 'users' | 'groups'; idOff: number }
  /** the tracepoint context */
  | { kind: 'ctx' }
  /** the connect arguments stashed by the sys_enter_connect program */
  | { kind: 'conn' }
  /** the task's kestrel_socks entry: the local end of its connection */
  | { kind: 'sock' };

export const MAX_ANCESTORS = 8;

/** Which end of a connection: server (remote), client (local), or either (fd.ip, fd.port). */
export type Side = 'server' | 'client' | 'either';

/** How the bytes of a string field are found. */
export type StrShape =
  /** NUL-terminated fixed array */
  | { t: 'cstr'; off: number; cap: number }
  /** argv[0]: the args block up to the first NUL */
  | { t: 'argv0' }
  /** argv[1..] joined by spaces (proc.args) */
  | { t: 'args' }
  /** argv[0..] joined by spaces (proc.exeline) */
  | { t: 'exeline' }
  /** comm, then a space and argv[1..] when there are arguments (proc.cmdline) */
  | { t: 'cmdline' }
  /** the environment strings joined by spaces (proc.env) */
  | { t: 'envline' }
  /** the first 12 bytes of a cstr (container.id) */
  | { t: 'prefix12'; off: number; cap: number };

export type Access =
  | { t: 'str'; base: Base; shape: StrShape }
  /** unsigned or signed integer; `unknown` marks "no value" (e.g. 0xffffffff for uid) */
  | { t: 'int'; base: Base; off: number; size: 1 | 2 | 4 | 8; signed: boolean; unknown?: number; signExtendFrom32?: boolean }
  /** flag bit(s) in a u32: true when (word & mask) != 0 */
  | { t: 'flag'; base: Base; off: number; mask: number }
  /** u8 tri-state (0 no, 1 yes, 2 unknown) */
  | { t: 'tristate'; base: Base; off: number }
  /** syscall number in the context → evt.type */
  | { t: 'evttype' }
  /** syscall return value in the context (ctx+16, i64) */
  | { t: 'ret'; view: 'raw' | 'res' | 'failed' | 'connected' }
  /** connect: address family view */
  | { t: 'family'; view: 'type' | 'typechar' | 'sockfamily' }
  /** connect: an endpoint's address (server = destination; client = local end; either = fd.ip) */
  | { t: 'ip'; side: Side }
  /** connect: an endpoint's port (host order) */
  | { t: 'port'; side: Side }
  /** connect: the names DNS gave an endpoint's address (fd.sip.name) */
  | { t: 'dnsname'; side: 'server' | 'client' }
  /** connect: tcp or udp */
  | { t: 'l4proto' }
  /** connect: unix socket path or formatted name */
  | { t: 'unixpath' }
  /** a constant for this hook (fd.name_changed = true, fd.is_server = false, evt.source) */
  | { t: 'const'; value: string | number | boolean }
  /** the two sides of a comparison live in different places: pid equality (is_sid_leader) */
  | { t: 'pidEq'; off: number }
  /** no value on this hook (every comparison is false, `exists` is false) */
  | { t: 'missing' };

export class Unsupported extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Unsupported';
  }
}

const proc: Base = { kind: 'proc' };
const parent: Base = { kind: 'ancestor', depth: 1 };
const container: Base = { kind: 'container' };

function cstr(base: Base, off: number, cap: number): Access {
  return { t: 'str', base, shape: { t: 'cstr', off, cap } };
}
function u32(base: Base, off: number, unknown?: number): Access {
  return { t: 'int', base, off, size: 4, signed: false, unknown };
}

/** The parts of a process record every ancestor-family field reads. */
function procFieldAt(base: Base, what: 'name' | 'exe' | 'exepath' | 'cmdline' | 'pid' | 'vpid'): Access {
  switch (what) {
    case 'name':
      return cstr(base, KP.comm, KP.commSize);
    case 'exe':
      return { t: 'str', base, shape: { t: 'argv0' } };
    case 'exepath':
      return cstr(base, KP.exe, KP.exeSize);
    case 'cmdline':
      return { t: 'str', base, shape: { t: 'cmdline' } };
    case 'pid':
      return u32(base, KP.tgid);
    case 'vpid':
      return u32(base, KP.vpid, 0);
  }
}

const ANCESTOR_FAMILY: Record<string, 'name' | 'exe' | 'exepath' | 'cmdline' | 'pid'> = {
  'proc.aname': 'name',
  'proc.aexe': 'exe',
  'proc.aexepath': 'exepath',
  'proc.acmdline': 'cmdline',
  'proc.apid': 'pid',
};

/** The access plan of a field on a hook; throws Unsupported with the reason. */
export function accessFor(f: TField, hook: Hook): Access {
  const name = f.def.name;
  const fam = ANCESTOR_FAMILY[name];
  if (fam !== undefined) {
    if (f.arg === undefined) return procFieldAt({ kind: 'anyAncestor' }, fam);
    if (f.arg.kind !== 'index') throw new Unsupported(`${f.name} takes an ancestor index`);
    const n = f.arg.index;
    if (n === 0) return procFieldAt(proc, fam);
    if (n > MAX_ANCESTORS) throw new Unsupported(`${f.name}: compiled rules follow at most ${MAX_ANCESTORS} ancestors`);
    return procFieldAt({ kind: 'ancestor', depth: n }, fam);
  }
  switch (name) {
    case 'evt.type':
    case 'syscall.type':
      return hook === 'exec' ? { t: 'evttype' } : { t: 'const', value: 'connect' };
    case 'evt.res':
      return { t: 'ret', view: 'res' };
    case 'evt.rawres':
      return { t: 'ret', view: 'raw' };
    case 'evt.failed':
      return { t: 'ret', view: 'failed' };
    case 'evt.num':
      return { t: 'missing' };
    case 'evt.source':
      return { t: 'const', value: 'syscall' };
    case 'evt.arg':
    case 'evt.rawarg': {
      const key = f.arg?.kind === 'key' ? f.arg.key : f.arg?.kind === 'index' ? String(f.arg.index) : undefined;
      if (key === 'res' || key === '0') return { t: 'ret', view: 'raw' };
      if (hook === 'exec') {
        if (key === 'exe' || key === '1') return procFieldAt(proc, 'exe');
        if (key === 'args' || key === '2') return { t: 'str', base: proc, shape: { t: 'args' } };
        if (key === 'pid' || key === 'tid' || key === '3' || key === '4') return u32(proc, KP.tgid);
        if (key === 'ptid' || key === '5') return u32(proc, KP.ppid);
        if (key === 'cwd' || key === '6') return cstr(proc, KP.cwd, KP.cwdSize);
        if (key === 'comm') return cstr(proc, KP.comm, KP.commSize);
        if (key === 'filename' || key === 'trusted_exepath') return cstr(proc, KP.exe, KP.exeSize);
        if (key === 'tty') return u32(proc, KP.tty);
        if (key === 'pgid') return u32(proc, KP.pgid);
        if (key === 'uid') return u32(proc, KP.uid, 0xffffffff);
        if (key === 'gid') return u32(proc, KP.gid, 0xffffffff);
      } else {
        if (key === 'fd' || key === '2') return { t: 'int', base: { kind: 'conn' }, off: CONN.fd, size: 4, signed: true };
      }
      throw new Unsupported(`${f.name} is not available to compiled rules on ${hook} events`);
    }

    case 'proc.pid':
    case 'thread.tid':
      return u32(proc, KP.tgid);
    case 'proc.vpid':
    case 'thread.vtid':
      return u32(proc, KP.vpid, 0);
    case 'proc.name':
      return cstr(proc, KP.comm, KP.commSize);
    case 'proc.exe':
      return procFieldAt(proc, 'exe');
    case 'proc.exepath':
      return cstr(proc, KP.exe, KP.exeSize);
    case 'proc.args':
      return { t: 'str', base: proc, shape: { t: 'args' } };
    case 'proc.cmdline':
      return { t: 'str', base: proc, shape: { t: 'cmdline' } };
    case 'proc.exeline':
      return { t: 'str', base: proc, shape: { t: 'exeline' } };
    case 'proc.cwd':
      return cstr(proc, KP.cwd, KP.cwdSize);
    case 'proc.env':
      if (f.arg !== undefined) throw new Unsupported(`${f.name}[...] (one variable by name) is not compiled yet`);
      return { t: 'str', base: proc, shape: { t: 'envline' } };
    case 'proc.tty':
      return u32(proc, KP.tty);
    case 'proc.sid':
      return u32(proc, KP.sid, 0);
    case 'proc.pgid':
    case 'proc.vpgid':
      return u32(proc, KP.pgid, 0);
    case 'proc.is_sid_leader':
      return { t: 'pidEq', off: KP.sid };
    case 'proc.is_vpgid_leader':
      return { t: 'pidEq', off: KP.pgid };
    case 'proc.is_exe_upper_layer':
      return { t: 'flag', base: proc, off: KP.flags, mask: KP_F_UPPER_LAYER };
    case 'proc.is_exe_from_memfd':
      return { t: 'flag', base: proc, off: KP.flags, mask: KP_F_MEMFD };
    case 'proc.ppid':
      return u32(proc, KP.ppid, 0);
    case 'proc.pvpid':
      return u32(parent, KP.vpid, 0);
    case 'proc.pname':
      return cstr(parent, KP.comm, KP.commSize);
    case 'proc.pexe':
      return procFieldAt(parent, 'exe');
    case 'proc.pexepath':
      return cstr(parent, KP.exe, KP.exeSize);
    case 'proc.pcmdline':
      return { t: 'str', base: parent, shape: { t: 'cmdline' } };
    case 'proc.sname':
      return cstr({ kind: 'procByPid', pidOff: KP.sid }, KP.comm, KP.commSize);
    case 'proc.vpgid.name':
      return cstr({ kind: 'procByPid', pidOff: KP.pgid }, KP.comm, KP.commSize);
    case 'proc.vpgid.exe':
      return procFieldAt({ kind: 'procByPid', pidOff: KP.pgid }, 'exe');
    case 'proc.vpgid.exepath':
      return cstr({ kind: 'procByPid', pidOff: KP.pgid }, KP.exe, KP.exeSize);

    case 'user.uid':
      return u32(proc, KP.uid, 0xffffffff);
    case 'user.name':
      return cstr({ kind: 'name', table: 'users', idOff: KP.uid }, KU.name, KU.nameSize);
    case 'user.loginuid':
      // 0xffffffff is "unset" and reads as -1, as Falco shows it.
      return { t: 'int', base: proc, off: KP.loginuid, size: 4, signed: true, signExtendFrom32: true };
    case 'user.loginname':
      return cstr({ kind: 'name', table: 'users', idOff: KP.loginuid }, KU.name, KU.nameSize);
    case 'group.gid':
      return u32(proc, KP.gid, 0xffffffff);
    case 'group.name':
      return cstr({ kind: 'name', table: 'groups', idOff: KP.gid }, KU.name, KU.nameSize);

    case 'container.id':
      return { t: 'str', base: container, shape: { t: 'prefix12', off: KC.id, cap: KC.idSize } };
    case 'container.full_id':
      return cstr(container, KC.id, KC.idSize);
    case 'container.name':
      return cstr(container, KC.name, KC.nameSize);
    case 'container.image.repository':
      return cstr(container, KC.repository, KC.repositorySize);
    case 'container.image.tag':
      return cstr(container, KC.tag, KC.tagSize);
    case 'container.privileged':
      return { t: 'tristate', base: container, off: KC.privileged };
    case 'k8s.ns.name':
      return cstr(container, KC.ns, KC.nsSize);
    case 'k8s.pod.name':
      return cstr(container, KC.pod, KC.podSize);

    default:
      break;
  }
  if (hook === 'connect') {
    switch (name) {
      case 'fd.num':
        return { t: 'int', base: { kind: 'conn' }, off: CONN.fd, size: 4, signed: true };
      case 'fd.type':
        return { t: 'family', view: 'type' };
      case 'fd.typechar':
        return { t: 'family', view: 'typechar' };
      case 'fd.sockfamily':
        return { t: 'family', view: 'sockfamily' };
      case 'fd.connected':
        return { t: 'ret', view: 'connected' };
      case 'fd.name_changed':
        return { t: 'const', value: true };
      case 'fd.is_server':
        return { t: 'const', value: false };
      case 'fd.sip':
      case 'fd.rip':
      case 'fd.snet':
      case 'fd.rnet':
        return { t: 'ip', side: 'server' };
      case 'fd.cip':
      case 'fd.lip':
      case 'fd.cnet':
      case 'fd.lnet':
        return { t: 'ip', side: 'client' };
      case 'fd.ip':
      case 'fd.net':
        return { t: 'ip', side: 'either' };
      case 'fd.sport':
      case 'fd.rport':
        return { t: 'port', side: 'server' };
      case 'fd.cport':
      case 'fd.lport':
        return { t: 'port', side: 'client' };
      case 'fd.port':
        return { t: 'port', side: 'either' };
      case 'fd.sip.name':
      case 'fd.rip.name':
        return { t: 'dnsname', side: 'server' };
      case 'fd.cip.name':
      case 'fd.lip.name':
        return { t: 'dnsname', side: 'client' };
      case 'fd.l4proto':
        return { t: 'l4proto' };
      default:
        break;
    }
  }
  throw new Unsupported(`${f.name} is not available to compiled rules on ${hook} events yet`);
}

/**
 * The connect stash written by the sys_enter_connect program and read at sys_exit_connect
 * (an LRU hash keyed by pid_tgid): the fd, the address length and the raw sockaddr as the
 * process passed it (sockaddr_in, sockaddr_in6 or sockaddr_un, network byte order).
 */
export const CONN = {
  fd: 0,
  addrlen: 4,
  sockaddr: 8,
  sockaddrSize: 112,
  size: 120,
} as const;

/** sockaddr offsets (Linux x86-64). */
export const SA = { family: 0, port: 2, in4: 4, in6: 8, unixPath: 2 } as const;
export const AF_UNIX = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;

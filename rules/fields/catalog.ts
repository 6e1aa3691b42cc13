// The field catalog: every field Falco's stable, incubating and sandbox rules use (conditions
// and outputs), with its type, argument, what it reads and on which Kestrel events it has a
// value. Semantics follow libsinsp (sinsp_filtercheck_{event,thread,user,group,fd}.cpp) and the
// container plugin. `lookupField` also resolves the dynamic families `evt.arg.NAME` and
// `evt.rawarg.NAME`.

import type { ArgKind, Applies, FieldDef, FieldType, ReadsFrom } from './types.js';

type Row = [name: string, type: FieldType, arg: ArgKind, applies: Applies, reads: ReadsFrom, desc: string, extra?: Partial<FieldDef>];

const NO_FILES = 'Kestrel has no file-descriptor events yet (open, dup, ...)';
const NO_CAPS = 'Kestrel does not track capabilities yet';
const NO_INODE = 'Kestrel does not track executable inodes yet';
const NO_MOUNTS = 'Kestrel does not track container mounts yet';

const ROWS: Row[] = [
  // ---- evt
  ['evt.type', 'string', 'none', 'both', 'event', 'event type: execve for exec events, connect for connect events'],
  ['evt.dir', 'string', 'none', 'both', 'event', 'event direction; since Falco 0.42 only exit events exist: `<` is always true, `>` always false', { deprecated: 'evt.dir is deprecated since Falco 0.42 (only exit events exist)' }],
  ['evt.res', 'string', 'none', 'both', 'event', 'result: SUCCESS, or the errno name of a failed call (EINPROGRESS, ECONNREFUSED, ...)'],
  ['evt.rawres', 'i64', 'none', 'both', 'event', 'result as a number (0 or a negative errno)', { numeric: 'i64' }],
  ['evt.failed', 'bool', 'none', 'both', 'event', 'true when the call returned an error'],
  ['evt.num', 'u64', 'none', 'both', 'event', 'event number; Kestrel does not number events, so it has no value and every comparison is false (Falco\'s `evt.num=0` never_true idiom keeps working)', { numeric: 'u64' }],
  ['evt.time', 'abstime', 'none', 'both', 'event', 'event timestamp (ns since the epoch; rendered as HH:MM:SS.nnnnnnnnn)'],
  ['evt.time.s', 'string', 'none', 'both', 'event', 'event time as HH:MM:SS'],
  ['evt.time.iso8601', 'string', 'none', 'both', 'event', 'event time in ISO 8601 with nanoseconds'],
  ['evt.datetime', 'string', 'none', 'both', 'event', 'event date and time (YYYY-MM-DD HH:MM:SS.nnnnnnnnn)'],
  ['evt.rawtime', 'abstime', 'none', 'both', 'event', 'event timestamp in ns since the epoch'],
  ['evt.hostname', 'string', 'none', 'both', 'host', 'host name of the machine'],
  ['evt.source', 'string', 'none', 'both', 'event', 'event source (syscall)'],
  ['evt.args', 'string', 'none', 'both', 'event', 'all event arguments as one string (name=value ...)'],
  ['evt.arg', 'string', 'key', 'both', 'event', 'one event argument by name or position (evt.arg.flags, evt.arg[0]), formatted'],
  ['evt.rawarg', 'string', 'key', 'both', 'event', 'one event argument by name, raw'],
  ['evt.is_open_read', 'bool', 'none', 'none', 'none', 'open with read access', { missingReason: NO_FILES }],
  ['evt.is_open_write', 'bool', 'none', 'none', 'none', 'open with write access', { missingReason: NO_FILES }],
  ['evt.is_open_exec', 'bool', 'none', 'none', 'none', 'open creating an executable file', { missingReason: NO_FILES }],
  ['evt.buffer', 'bytes', 'none', 'none', 'none', 'I/O buffer of read/write events', { missingReason: NO_FILES }],
  ['syscall.type', 'string', 'none', 'both', 'event', 'system call name (execve, connect)'],

  // ---- proc: the process itself
  ['proc.pid', 'i64', 'none', 'both', 'process', 'process id', { numeric: 'i64' }],
  ['proc.vpid', 'i64', 'none', 'both', 'process', 'process id inside the container\'s pid namespace', { numeric: 'i64' }],
  ['proc.name', 'string', 'none', 'both', 'process', 'process name (comm, at most 15 bytes)'],
  ['proc.exe', 'string', 'none', 'both', 'process', 'argv[0] of the process'],
  ['proc.exepath', 'string', 'none', 'both', 'process', 'full path of the executable'],
  ['proc.args', 'string', 'none', 'both', 'process', 'arguments (argv[1..]) joined by spaces'],
  ['proc.cmdline', 'string', 'none', 'both', 'process', 'proc.name followed by the arguments'],
  ['proc.exeline', 'string', 'none', 'both', 'process', 'proc.exe followed by the arguments'],
  ['proc.env', 'string', 'key-optional', 'both', 'process', 'environment joined by spaces; proc.env[NAME] is one variable\'s value'],
  ['proc.cwd', 'string', 'none', 'both', 'process', 'current working directory'],
  ['proc.tty', 'u64', 'none', 'both', 'process', 'controlling terminal device number (0 for none)', { numeric: 'u64' }],
  ['proc.sid', 'i64', 'none', 'both', 'process', 'session id', { numeric: 'i64' }],
  ['proc.vpgid', 'i64', 'none', 'both', 'process', 'process group id', { numeric: 'i64' }],
  ['proc.pgid', 'i64', 'none', 'both', 'process', 'process group id', { numeric: 'i64' }],
  ['proc.is_vpgid_leader', 'bool', 'none', 'both', 'process', 'the process is its process group\'s leader'],
  ['proc.is_sid_leader', 'bool', 'none', 'both', 'process', 'the process is its session\'s leader'],
  ['proc.duration', 'reltime', 'none', 'both', 'process', 'ns since the process (image) started'],
  ['proc.is_exe_upper_layer', 'bool', 'none', 'both', 'process', 'the executable lives in the container\'s writable upper layer'],
  ['proc.is_exe_from_memfd', 'bool', 'none', 'both', 'process', 'the executable is a memfd (fileless execution)'],
  ['proc.is_exe_writable', 'bool', 'none', 'none', 'none', 'the executable is writable by the user', { missingReason: NO_INODE }],
  ['proc.exe_ino', 'u64', 'none', 'none', 'none', 'inode of the executable', { missingReason: NO_INODE }],
  ['proc.exe_ino.ctime', 'abstime', 'none', 'none', 'none', 'ctime of the executable', { missingReason: NO_INODE }],
  ['proc.exe_ino.mtime', 'abstime', 'none', 'none', 'none', 'mtime of the executable', { missingReason: NO_INODE }],
  ['proc.exe_ino.ctime_duration_proc_start', 'reltime', 'none', 'none', 'none', 'ns between the executable\'s ctime and process start', { missingReason: NO_INODE }],
  ['thread.tid', 'i64', 'none', 'both', 'process', 'thread id', { numeric: 'i64' }],
  ['thread.vtid', 'i64', 'none', 'both', 'process', 'thread id inside the container', { numeric: 'i64' }],
  ['thread.cap_permitted', 'string', 'none', 'none', 'none', 'permitted capabilities', { missingReason: NO_CAPS }],
  ['thread.cap_effective', 'string', 'none', 'none', 'none', 'effective capabilities', { missingReason: NO_CAPS }],
  ['thread.cap_inheritable', 'string', 'none', 'none', 'none', 'inheritable capabilities', { missingReason: NO_CAPS }],

  // ---- proc: parent, ancestors, session, process group
  ['proc.ppid', 'i64', 'none', 'both', 'process', 'parent process id', { numeric: 'i64' }],
  ['proc.pvpid', 'i64', 'none', 'both', 'parent', 'parent pid inside the container', { numeric: 'i64' }],
  ['proc.pname', 'string', 'none', 'both', 'parent', 'parent process name'],
  ['proc.pexe', 'string', 'none', 'both', 'parent', 'parent argv[0]'],
  ['proc.pexepath', 'string', 'none', 'both', 'parent', 'parent executable path'],
  ['proc.pcmdline', 'string', 'none', 'both', 'parent', 'parent command line'],
  ['proc.ppid.duration', 'reltime', 'none', 'both', 'parent', 'ns since the parent started'],
  ['proc.aname', 'string', 'index-optional', 'both', 'ancestors', 'name of ancestor N (0 = self, 1 = parent); without index, any ancestor', { multiWithoutArg: true }],
  ['proc.apid', 'i64', 'index-optional', 'both', 'ancestors', 'pid of ancestor N; without index, any ancestor', { multiWithoutArg: true, numeric: 'i64' }],
  ['proc.aexe', 'string', 'index-optional', 'both', 'ancestors', 'argv[0] of ancestor N; without index, any ancestor', { multiWithoutArg: true }],
  ['proc.aexepath', 'string', 'index-optional', 'both', 'ancestors', 'executable path of ancestor N; without index, any ancestor', { multiWithoutArg: true }],
  ['proc.acmdline', 'string', 'index-optional', 'both', 'ancestors', 'command line of ancestor N; without index, any ancestor', { multiWithoutArg: true }],
  ['proc.sname', 'string', 'none', 'both', 'session', 'name of the session leader'],
  ['proc.vpgid.name', 'string', 'none', 'both', 'session', 'name of the process group leader'],
  ['proc.vpgid.exe', 'string', 'none', 'both', 'session', 'argv[0] of the process group leader'],
  ['proc.vpgid.exepath', 'string', 'none', 'both', 'session', 'executable path of the process group leader'],

  // ---- user / group
  ['user.uid', 'u64', 'none', 'both', 'user', 'user id', { numeric: 'u64' }],
  ['user.name', 'string', 'none', 'both', 'user', 'user name (from the uid)'],
  ['user.loginuid', 'i64', 'none', 'both', 'user', 'audit login uid (-1 when unset)', { numeric: 'i64' }],
  ['user.loginname', 'string', 'none', 'both', 'user', 'name of the login uid'],
  ['user.homedir', 'string', 'none', 'none', 'none', 'home directory', { missingReason: 'Kestrel does not read passwd entries beyond names' }],
  ['user.shell', 'string', 'none', 'none', 'none', 'login shell', { missingReason: 'Kestrel does not read passwd entries beyond names' }],
  ['group.gid', 'u64', 'none', 'both', 'group', 'group id', { numeric: 'u64' }],
  ['group.name', 'string', 'none', 'both', 'group', 'group name (from the gid)'],

  // ---- container / k8s (Falco's container plugin)
  ['container.id', 'string', 'none', 'both', 'container', 'container id, 12 hex digits; `host` for processes outside containers'],
  ['container.full_id', 'string', 'none', 'both', 'container', 'full container id; `host` outside containers'],
  ['container.name', 'string', 'none', 'both', 'container', 'container name; `host` outside containers'],
  ['container.image', 'string', 'none', 'both', 'container', 'image as repository:tag'],
  ['container.image.repository', 'string', 'none', 'both', 'container', 'image repository'],
  ['container.image.tag', 'string', 'none', 'both', 'container', 'image tag'],
  ['container.image.id', 'string', 'none', 'none', 'none', 'image id', { missingReason: 'Kestrel does not know image ids' }],
  ['container.image.digest', 'string', 'none', 'none', 'none', 'image digest', { missingReason: 'Kestrel does not know image digests' }],
  ['container.privileged', 'bool', 'none', 'both', 'container', 'the container runs privileged'],
  ['container.type', 'string', 'none', 'both', 'container', 'container runtime type (Kestrel: `containerd` for containers, `host` otherwise)'],
  ['container.start_ts', 'abstime', 'none', 'none', 'none', 'container start time', { missingReason: 'Kestrel does not record container start times' }],
  ['container.mounts', 'string', 'none', 'none', 'none', 'container mounts', { missingReason: NO_MOUNTS }],
  ['container.mount.dest', 'string', 'key', 'none', 'none', 'mount for a destination path', { missingReason: NO_MOUNTS }],
  ['container.mount.source', 'string', 'key', 'none', 'none', 'mount for a source path', { missingReason: NO_MOUNTS }],
  ['k8s.ns.name', 'string', 'none', 'both', 'container', 'Kubernetes namespace of the pod'],
  ['k8s.pod.name', 'string', 'none', 'both', 'container', 'Kubernetes pod name'],
  ['k8s.pod.uid', 'string', 'none', 'none', 'none', 'pod uid', { missingReason: 'Kestrel does not know pod uids' }],
  ['k8s.pod.label', 'string', 'key', 'none', 'none', 'pod label', { missingReason: 'Kestrel does not know pod labels' }],
  ['k8s.pod.labels', 'string', 'none', 'none', 'none', 'pod labels', { missingReason: 'Kestrel does not know pod labels' }],

  // ---- fd: network endpoints of connect (client = local = this process)
  ['fd.num', 'i64', 'none', 'connect', 'event', 'file descriptor number', { numeric: 'i64' }],
  ['fd.type', 'string', 'none', 'connect', 'event', 'fd type: ipv4, ipv6 or unix'],
  ['fd.typechar', 'string', 'none', 'connect', 'event', 'fd type as one character: 4, 6 or u'],
  ['fd.name', 'string', 'none', 'connect', 'event', 'fd name: `cip:cport->sip:sport` for sockets, the path for unix sockets'],
  ['fd.nameraw', 'string', 'none', 'connect', 'event', 'fd name, raw'],
  ['fd.sockfamily', 'string', 'none', 'connect', 'event', 'ip or unix'],
  ['fd.l4proto', 'string', 'none', 'connect', 'event', 'tcp or udp'],
  ['fd.connected', 'bool', 'none', 'connect', 'event', 'the socket is connected (connect succeeded or is in progress)'],
  ['fd.name_changed', 'bool', 'none', 'connect', 'event', 'the fd name changed with this event (true on connect)'],
  ['fd.is_server', 'bool', 'none', 'connect', 'event', 'the process is the server end (false on connect)'],
  ['fd.ip', 'ipaddr', 'none', 'connect', 'event', 'client or server address (a check holds if it holds for either)', { multiWithoutArg: true }],
  ['fd.cip', 'ipaddr', 'none', 'connect', 'event', 'client address'],
  ['fd.sip', 'ipaddr', 'none', 'connect', 'event', 'server address'],
  ['fd.lip', 'ipaddr', 'none', 'connect', 'event', 'local address'],
  ['fd.rip', 'ipaddr', 'none', 'connect', 'event', 'remote address'],
  ['fd.net', 'ipnet', 'none', 'connect', 'event', 'client or server address compared with networks', { multiWithoutArg: true }],
  ['fd.cnet', 'ipnet', 'none', 'connect', 'event', 'client address compared with networks'],
  ['fd.snet', 'ipnet', 'none', 'connect', 'event', 'server address compared with networks'],
  ['fd.lnet', 'ipnet', 'none', 'connect', 'event', 'local address compared with networks'],
  ['fd.rnet', 'ipnet', 'none', 'connect', 'event', 'remote address compared with networks'],
  ['fd.port', 'port', 'none', 'connect', 'event', 'client or server port', { multiWithoutArg: true }],
  ['fd.cport', 'port', 'none', 'connect', 'event', 'client port'],
  ['fd.sport', 'port', 'none', 'connect', 'event', 'server port'],
  ['fd.lport', 'port', 'none', 'connect', 'event', 'local port'],
  ['fd.rport', 'port', 'none', 'connect', 'event', 'remote port'],
  ['fd.cip.name', 'string', 'none', 'connect', 'dns', 'a name the client address resolves from (observed DNS answers, static hosts)', { multiWithoutArg: true }],
  ['fd.sip.name', 'string', 'none', 'connect', 'dns', 'a name the server address resolves from (observed DNS answers, static hosts)', { multiWithoutArg: true }],
  ['fd.lip.name', 'string', 'none', 'connect', 'dns', 'a name of the local address', { multiWithoutArg: true }],
  ['fd.rip.name', 'string', 'none', 'connect', 'dns', 'a name of the remote address', { multiWithoutArg: true }],
  ['fd.directory', 'string', 'none', 'none', 'none', 'directory of a file fd', { missingReason: NO_FILES }],
  ['fd.filename', 'string', 'none', 'none', 'none', 'file name of a file fd', { missingReason: NO_FILES }],
  ['fd.types', 'strlist', 'index-optional', 'none', 'none', 'types of the process\'s open fds', { missingReason: NO_FILES }],
  ['fd.uid', 'string', 'none', 'none', 'none', 'unique fd id', { missingReason: NO_FILES }],
];

export const FIELDS: ReadonlyMap<string, FieldDef> = new Map(
  ROWS.map(([name, type, arg, applies, reads, desc, extra]) => [name, { name, type, arg, applies, reads, desc, ...extra }]),
);

/** Event arguments Kestrel has, per hook (Falco's execve / connect exit-event parameters). */
export const EVENT_ARGS: Readonly<Record<'exec' | 'connect', readonly string[]>> = {
  exec: ['res', 'exe', 'args', 'tid', 'pid', 'ptid', 'cwd', 'comm', 'env', 'tty', 'pgid', 'loginuid', 'flags', 'uid', 'gid', 'filename', 'trusted_exepath'],
  connect: ['res', 'fd', 'tuple', 'addr'],
};

export interface ResolvedField {
  def: FieldDef;
  /** set when the name itself carries the argument (`evt.arg.flags` → key `flags`) */
  impliedArg?: string;
}

/** Find a field by name, including `evt.arg.X` / `evt.rawarg.X`. */
export function lookupField(name: string): ResolvedField | undefined {
  const def = FIELDS.get(name);
  if (def !== undefined) return { def };
  for (const family of ['evt.arg', 'evt.rawarg']) {
    if (name.startsWith(family + '.') && name.length > family.length + 1) {
      const famDef = FIELDS.get(family);
      if (famDef !== undefined) return { def: famDef, impliedArg: name.slice(family.length + 1) };
    }
  }
  return undefined;
}

/** All field names (for suggestions and docs). */
export function fieldNames(): string[] {
  return [...FIELDS.keys()];
}

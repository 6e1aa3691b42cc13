// Field catalog types: what a Falco filter field is, what it reads and on which Kestrel hooks
// it has a value.

/**
 * Value types, after Falco's (libsinsp ppm_param_type):
 * string = PT_CHARBUF/PT_FSPATH, u64/i64 = integers, bool, ipaddr, ipnet (an address that
 * compares against networks, e.g. fd.net), port, strlist (a field yielding several strings),
 * bytes (PT_BYTEBUF), reltime/abstime (nanoseconds).
 */
export type FieldType =
  | 'string'
  | 'u64'
  | 'i64'
  | 'bool'
  | 'ipaddr'
  | 'ipnet'
  | 'port'
  | 'strlist'
  | 'bytes'
  | 'reltime'
  | 'abstime';

/** Kestrel hooks a rule can attach to. */
export type Hook = 'exec' | 'connect';

/** Which Kestrel events give the field a value. 'none' = Kestrel cannot provide it yet. */
export type Applies = 'exec' | 'connect' | 'both' | 'none';

/** Where the value comes from in the EventContext (collectors/snapshot.ts). */
export type ReadsFrom =
  | 'event' // the event's own fields (type, result, connect endpoints)
  | 'process' // ctx.process
  | 'parent' // ctx.ancestors()[0]
  | 'ancestors' // ctx.ancestors()
  | 'session' // the session leader / process group leader among ancestors
  | 'container' // ctx.container
  | 'user' // uid + ctx.userName
  | 'group' // gid + ctx.groupName
  | 'dns' // ctx.namesOf / ctx.resolve
  | 'host' // the machine (hostname)
  | 'none'; // nothing in Kestrel's model yet

/** What a field accepts between brackets. */
export type ArgKind =
  | 'none' // no argument allowed
  | 'index' // required integer: proc.aname[2]
  | 'index-optional' // integer, optional (without it, any ancestor)
  | 'key' // required string key: k8s.pod.label[app], container.mount.dest[/etc]
  | 'key-optional'; // optional key

export interface FieldDef {
  name: string;
  type: FieldType;
  arg: ArgKind;
  desc: string;
  applies: Applies;
  reads: ReadsFrom;
  /** Field yields several values without an argument (any-of semantics). */
  multiWithoutArg?: boolean;
  /** Falco deprecates it (warning at load). */
  deprecated?: string;
  /** Signed or unsigned numeric representation hint for the compiler. */
  numeric?: 'u64' | 'i64';
  /** Why Kestrel cannot provide it (when applies = 'none'). */
  missingReason?: string;
}

// The kernel maps compiled rules read with bpf_map_lookup_elem, modelled on Tetragon's
// execve_map: a process cache keyed by pid, a container table keyed by cgroup id, user and group
// names, and DNS answers. The simulated kernel keeps them up to date on fork/exec/exit; the C
// layouts below are the contract (docs/collectors.md repeats them), every offset is exported.
//
// All integers are little-endian; strings are NUL-padded fixed arrays, always NUL-terminated
// (a value longer than the field is cut, so at most size-1 bytes are kept).

import type { MapDef } from '../../engine/maps/types.js';
import { BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_LRU_HASH } from '../../engine/maps/types.js';
import type { ContainerRecord, ProcessRecord } from '../snapshot.js';
import { parseIPv4, parseIPv6 } from './inet.js';

export const KP_NAME = 'kestrel_procs';
export const KC_NAME = 'kestrel_containers';
export const KU_NAME = 'kestrel_users';
export const KG_NAME = 'kestrel_groups';
export const KD_NAME = 'kestrel_dns';
export const KS_NAME = 'kestrel_socks';

/** 0xffffffff: "unknown" in u32 fields (uid, gid, loginuid), like the kernel's unset loginuid. */
export const U32_UNKNOWN = 0xffffffff;

/*
 * struct kestrel_proc {            // kestrel_procs: BPF_MAP_TYPE_HASH, key u32 pid (tgid)
 *   u32  pid;          //   0
 *   u32  tgid;         //   4
 *   u32  ppid;         //   8  0 = unknown / top of the tree
 *   u32  uid;          //  12  0xffffffff = unknown
 *   u32  gid;          //  16  0xffffffff = unknown
 *   u32  loginuid;     //  20  0xffffffff = unset
 *   u32  tty;          //  24  device number, 0 = none
 *   u32  flags;        //  28  KP_F_*
 *   u64  start_ns;     //  32  exec (or fork) time, ns since the epoch
 *   u64  cgroup_id;    //  40  key of kestrel_containers (1 = host)
 *   u32  container_idx;//  48  small per-container number, 0 = host
 *   u32  vpid;         //  52  pid in the container's pid namespace, 0 = unknown
 *   u32  pgid;         //  56
 *   u32  sid;          //  60
 *   u16  argc;         //  64  number of arguments (argv length, not cut)
 *   u16  args_len;     //  66  bytes used in args[] including every NUL
 *   u16  exe_len;      //  68  strlen(exe) as stored
 *   u16  cwd_len;      //  70  strlen(cwd) as stored
 *   char comm[16];     //  72  proc.name, NUL-terminated
 *   char exe[256];     //  88  proc.exepath
 *   char args[512];    // 344  argv[0], argv[1], ... each NUL-terminated, cut at 512
 *   char cwd[256];     // 856
 *   u16  envc;         // 1112 number of environment strings (not cut)
 *   u16  env_len;      // 1114 bytes used in env[] including every NUL
 *   u16  arg0_len;     // 1116 strlen(argv[0]) as stored: argv[1] starts at args + arg0_len + 1
 *   u16  pad;          // 1118
 *   char env[512];     // 1120 "NAME=value" strings, each NUL-terminated, cut at 512
 * };                   // size 1632
 */
export const KP = {
  pid: 0, tgid: 4, ppid: 8, uid: 12, gid: 16, loginuid: 20, tty: 24, flags: 28,
  startNs: 32, cgroupId: 40, containerIdx: 48, vpid: 52, pgid: 56, sid: 60,
  argc: 64, argsLen: 66, exeLen: 68, cwdLen: 70,
  comm: 72, commSize: 16, exe: 88, exeSize: 256, args: 344, argsSize: 512, cwd: 856, cwdSize: 256,
  envc: 1112, envLen: 1114, arg0Len: 1116, env: 1120, envSize: 512,
  size: 1632,
} as const;

/** kestrel_proc.flags bits. */
export const KP_F_UPPER_LAYER = 1 << 0; // exe on the container's writable upper layer
export const KP_F_MEMFD = 1 << 1; // exe from a memfd (fileless)
export const KP_F_PARTIAL = 1 << 2; // known by pid only (no exec seen)
export const KP_F_EXITED = 1 << 3; // exited; kept a while so late events resolve ancestry
export const KP_F_CONTAINER = 1 << 4; // runs in a container (cgroup_id != 1)
export const KP_F_TTY = 1 << 5; // has a controlling terminal (tty != 0)

/*
 * struct kestrel_container {       // kestrel_containers: HASH, key u64 cgroup_id
 *   char id[72];        //   0  full id (hex), NUL-terminated ("host" for the host)
 *   char name[64];      //  72
 *   char repository[128];// 136 image repository
 *   char tag[64];       // 264  image tag
 *   char pod[64];       // 328
 *   char ns[64];        // 392  pod namespace
 *   u64  cgroup_id;     // 456
 *   u32  index;         // 464  container_idx
 *   u8   privileged;    // 468  0 no, 1 yes, 2 unknown
 *   u8   pad[3];        // 469
 * };                    // size 472
 */
export const KC = {
  id: 0, idSize: 72, name: 72, nameSize: 64, repository: 136, repositorySize: 128, tag: 264, tagSize: 64,
  pod: 328, podSize: 64, ns: 392, nsSize: 64, cgroupId: 456, index: 464, privileged: 468, size: 472,
} as const;
export const KC_PRIV_NO = 0;
export const KC_PRIV_YES = 1;
export const KC_PRIV_UNKNOWN = 2;

/* kestrel_users / kestrel_groups: HASH, key u32 uid (gid) → char name[32]. */
export const KU = { name: 0, nameSize: 32, size: 32 } as const;

/*
 * kestrel_dns: HASH, key u8 addr[16] (IPv6, or IPv4-mapped ::ffff:a.b.c.d — the same form a
 * program builds from sockaddr_in) → struct kestrel_dns_name { char name[128]; } (the most
 * recently observed name for that address).
 */
export const KD = { keySize: 16, name: 0, nameSize: 128, size: 128 } as const;

/*
 * kestrel_socks: LRU_HASH, key u64 pid_tgid → struct kestrel_sock {  // the local end of the
 *   u16 family;  // 0   AF_INET 2 / AF_INET6 10 / AF_UNIX 1        // task's latest connect,
 *   u16 lport;   // 2   host order                                 // as a program reads it
 *   u8  proto;   // 4   IPPROTO_TCP 6 / IPPROTO_UDP 17             // from struct sock
 *   u8  pad[3];  // 5
 *   u8  laddr[16]; // 8 IPv4 as ::ffff:a.b.c.d
 * };             // 24
 */
export const KS = { family: 0, lport: 2, proto: 4, laddr: 8, size: 24 } as const;

export const KERNEL_MAP_DEFS = (sizes: { procs?: number; containers?: number; users?: number; dns?: number } = {}): MapDef[] => [
  { name: KP_NAME, type: BPF_MAP_TYPE_HASH, keySize: 4, valueSize: KP.size, maxEntries: sizes.procs ?? 16384, flags: 0 },
  { name: KC_NAME, type: BPF_MAP_TYPE_HASH, keySize: 8, valueSize: KC.size, maxEntries: sizes.containers ?? 1024, flags: 0 },
  { name: KU_NAME, type: BPF_MAP_TYPE_HASH, keySize: 4, valueSize: KU.size, maxEntries: sizes.users ?? 4096, flags: 0 },
  { name: KG_NAME, type: BPF_MAP_TYPE_HASH, keySize: 4, valueSize: KU.size, maxEntries: sizes.users ?? 4096, flags: 0 },
  { name: KD_NAME, type: BPF_MAP_TYPE_HASH, keySize: KD.keySize, valueSize: KD.size, maxEntries: sizes.dns ?? 8192, flags: 0 },
  { name: KS_NAME, type: BPF_MAP_TYPE_LRU_HASH, keySize: 8, valueSize: KS.size, maxEntries: sizes.procs ?? 16384, flags: 0 },
];

/** kestrel_socks value. */
export function encodeSock(family: number, lport: number, proto: number, laddr: string | undefined): Uint8Array {
  const b = new Uint8Array(KS.size);
  const dv = new DataView(b.buffer);
  dv.setUint16(KS.family, family, true);
  dv.setUint16(KS.lport, lport, true);
  b[KS.proto] = proto;
  const a = laddr === undefined ? undefined : dnsKey(laddr);
  if (a !== undefined) b.set(a, KS.laddr);
  return b;
}

const enc = new TextEncoder();

/** Write a NUL-terminated, NUL-padded string field; returns the bytes kept (without the NUL). */
/** Strings back to back, each NUL-terminated, in a block of `size` bytes; returns the bytes used. */
function putBlock(out: Uint8Array, off: number, size: number, strings: readonly string[]): number {
  let used = 0;
  for (const a of strings) {
    if (used >= size) break;
    const n = enc.encodeInto(a, out.subarray(off + used, off + size - 1)).written;
    out[off + used + n] = 0;
    used += n + 1;
  }
  out.fill(0, off + used, off + size);
  return used;
}

function putStr(b: Uint8Array, off: number, size: number, s: string | undefined): number {
  if (s === undefined || s === '') {
    b.fill(0, off, off + size);
    return 0;
  }
  // encodeInto cuts at a character boundary and allocates nothing.
  const n = enc.encodeInto(s, b.subarray(off, off + size - 1)).written;
  b.fill(0, off + n, off + size);
  return n;
}

function u32(v: number | undefined): number {
  return v === undefined ? U32_UNKNOWN : v >>> 0;
}

export function encodeProc(
  rec: ProcessRecord, containerIdx: number, exited = false, out = new Uint8Array(KP.size),
  dv = new DataView(out.buffer, out.byteOffset, out.byteLength),
): Uint8Array {
  dv.setUint32(KP.pid, rec.pid, true);
  dv.setUint32(KP.tgid, rec.tgid, true);
  dv.setUint32(KP.ppid, rec.ppid, true);
  dv.setUint32(KP.uid, u32(rec.uid), true);
  dv.setUint32(KP.gid, u32(rec.gid), true);
  dv.setUint32(KP.loginuid, u32(rec.loginuid), true);
  dv.setUint32(KP.tty, (rec.tty ?? 0) >>> 0, true);
  let flags = 0;
  if (rec.exeUpperLayer === true) flags |= KP_F_UPPER_LAYER;
  if (rec.exeFromMemfd === true) flags |= KP_F_MEMFD;
  if (rec.partial === true) flags |= KP_F_PARTIAL;
  if (exited) flags |= KP_F_EXITED;
  if (rec.containerId !== 'host') flags |= KP_F_CONTAINER;
  if ((rec.tty ?? 0) !== 0) flags |= KP_F_TTY;
  dv.setUint32(KP.flags, flags, true);
  dv.setBigUint64(KP.startNs, BigInt.asUintN(64, rec.startTs), true);
  dv.setBigUint64(KP.cgroupId, BigInt.asUintN(64, rec.cgroupId), true);
  dv.setUint32(KP.containerIdx, containerIdx >>> 0, true);
  dv.setUint32(KP.vpid, (rec.vpid ?? 0) >>> 0, true);
  dv.setUint32(KP.pgid, (rec.pgid ?? 0) >>> 0, true);
  dv.setUint32(KP.sid, (rec.sid ?? 0) >>> 0, true);
  dv.setUint16(KP.argc, Math.min(rec.argv.length, 0xffff), true);
  // args and env: each string NUL-terminated, back to back, cut so the last byte is a NUL.
  const argsLen = putBlock(out, KP.args, KP.argsSize, rec.argv);
  dv.setUint16(KP.argsLen, argsLen, true);
  const nul = out.subarray(KP.args, KP.args + argsLen).indexOf(0);
  dv.setUint16(KP.arg0Len, nul < 0 ? argsLen : nul, true);
  dv.setUint16(KP.envc, Math.min(rec.env.length, 0xffff), true);
  dv.setUint16(KP.envLen, putBlock(out, KP.env, KP.envSize, rec.env), true);
  putStr(out, KP.comm, KP.commSize, rec.comm);
  dv.setUint16(KP.exeLen, putStr(out, KP.exe, KP.exeSize, rec.exe), true);
  dv.setUint16(KP.cwdLen, putStr(out, KP.cwd, KP.cwdSize, rec.cwd), true);
  return out;
}

export function encodeContainer(c: ContainerRecord, index: number, out = new Uint8Array(KC.size)): Uint8Array {
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  putStr(out, KC.id, KC.idSize, c.id);
  putStr(out, KC.name, KC.nameSize, c.name);
  putStr(out, KC.repository, KC.repositorySize, c.imageRepository);
  putStr(out, KC.tag, KC.tagSize, c.imageTag);
  putStr(out, KC.pod, KC.podSize, c.pod);
  putStr(out, KC.ns, KC.nsSize, c.namespace);
  dv.setBigUint64(KC.cgroupId, BigInt.asUintN(64, c.cgroupId), true);
  dv.setUint32(KC.index, index >>> 0, true);
  out[KC.privileged] = c.privileged === undefined ? KC_PRIV_UNKNOWN : c.privileged ? KC_PRIV_YES : KC_PRIV_NO;
  out.fill(0, KC.privileged + 1, KC.size);
  return out;
}

export function encodeName(name: string, out = new Uint8Array(KU.size)): Uint8Array {
  putStr(out, 0, out.length, name);
  return out;
}

export function u32Key(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return b;
}

export function u64Key(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), true);
  return b;
}

/** kestrel_dns key for an address: 16 bytes, IPv4 as ::ffff:a.b.c.d. */
export function dnsKey(ip: string): Uint8Array | undefined {
  const v4 = parseIPv4(ip);
  if (v4 !== undefined) {
    const b = new Uint8Array(16);
    b[10] = 0xff;
    b[11] = 0xff;
    b.set(v4, 12);
    return b;
  }
  return parseIPv6(ip);
}

/** Read a NUL-terminated field back (tests, `kestrel` debugging output). */
export function readStr(b: Uint8Array, off: number, size: number): string {
  const f = b.subarray(off, off + size);
  const nul = f.indexOf(0);
  return Buffer.from(nul < 0 ? f : f.subarray(0, nul)).toString('utf8');
}

// What /proc says about a live process: parent, ids, cwd, command line and container. Shared by
// the strace and procfs collectors. Every read tolerates the process being gone already.

import { readFileSync, readlinkSync } from 'node:fs';
import type { ProcInfo } from './strace/decode.js';

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * The container id in a /proc/PID/cgroup text: a 64-hex-digit id as runtimes name cgroups
 * (`docker-<id>.scope`, `/docker/<id>`, `cri-containerd-<id>.scope`, `crio-<id>.scope`,
 * `libpod-<id>.scope`, `/kubepods/.../<id>`). undefined on the host.
 */
export function containerIdFromCgroup(text: string): string | undefined {
  for (const line of text.split('\n')) {
    const path = line.split(':').slice(2).join(':');
    const m = /(?:^|[/-])([0-9a-f]{64})(?:\.scope)?(?:\/|$)/.exec(path);
    if (m !== null) return m[1];
  }
  return undefined;
}

export function procInfo(pid: number, root = '/proc'): ProcInfo | undefined {
  const status = read(`${root}/${pid}/status`);
  if (status === undefined) return undefined;
  const field = (name: string): string | undefined => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1];
  const info: ProcInfo = {};
  const ppid = field('PPid');
  if (ppid !== undefined) info.ppid = Number(ppid);
  const uid = field('Uid');
  if (uid !== undefined) info.uid = Number(uid.split(/\s+/)[0]);
  const gid = field('Gid');
  if (gid !== undefined) info.gid = Number(gid.split(/\s+/)[0]);
  try {
    info.cwd = readlinkSync(`${root}/${pid}/cwd`);
  } catch {
    // gone, or not ours to read
  }
  const cg = read(`${root}/${pid}/cgroup`);
  if (cg !== undefined) {
    const id = containerIdFromCgroup(cg);
    if (id !== undefined) info.containerId = id;
  }
  return info;
}

export interface ProcSnapshot extends ProcInfo {
  pid: number;
  exe: string;
  argv: string[];
  comm: string;
  /** Start time in clock ticks after boot (field 22 of /proc/PID/stat). */
  startTicks: number;
}

/** A fuller picture of one process for the procfs collector. */
export function procSnapshot(pid: number, root = '/proc'): ProcSnapshot | undefined {
  const info = procInfo(pid, root);
  const stat = read(`${root}/${pid}/stat`);
  if (info === undefined || stat === undefined) return undefined;
  // comm is in parentheses and may itself contain ") ", so split at the last one.
  const close = stat.lastIndexOf(')');
  const comm = stat.slice(stat.indexOf('(') + 1, close);
  const rest = stat.slice(close + 2).split(' ');
  const startTicks = Number(rest[19]);
  const cmdline = read(`${root}/${pid}/cmdline`) ?? '';
  const argv = cmdline.split('\0');
  if (argv[argv.length - 1] === '') argv.pop();
  let exe = '';
  try {
    exe = readlinkSync(`${root}/${pid}/exe`);
  } catch {
    exe = argv[0] ?? '';
  }
  return { ...info, pid, exe, argv, comm, startTicks };
}

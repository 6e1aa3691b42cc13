// What the simulated kernel knows when an event happens: the process (after the event took
// effect), its ancestry, its container, user names and DNS answers. The reference evaluator
// (rules/) reads fields from this; the kernel's maps hold the same data for compiled programs.

import type { KestrelEvent } from './events.js';

export interface ProcessRecord {
  pid: number;
  /** Thread-group id; equals pid for the main thread. */
  tgid: number;
  /** 0 when unknown (a process first seen in a connect, or the top of the tree). */
  ppid: number;
  uid?: number;
  gid?: number;
  /** Falco's proc.name: at most 15 bytes. */
  comm: string;
  /** Falco's proc.exepath; '' when unknown. */
  exe: string;
  argv: string[];
  env: string[];
  cwd?: string;
  loginuid?: number;
  tty?: number;
  pgid?: number;
  sid?: number;
  vpid?: number;
  exeUpperLayer?: boolean;
  exeFromMemfd?: boolean;
  /** When the process (or its current image) started, ns since the epoch. */
  startTs: bigint;
  cgroupId: bigint;
  /** 'host' for processes outside containers. */
  containerId: string;
  /** Known only by pid (first seen in a connect or exit without an exec). */
  partial?: boolean;
}

export interface ContainerRecord {
  /** Full id as given; Falco shows the first 12 hex digits as container.id. */
  id: string;
  name?: string;
  /** repository[:tag] as given */
  image?: string;
  imageRepository?: string;
  imageTag?: string;
  privileged?: boolean;
  pod?: string;
  namespace?: string;
  cgroupId: bigint;
}

export interface EventContext {
  event: KestrelEvent;
  /** The process the event belongs to (for fork: the parent), undefined when never seen. */
  process: ProcessRecord | undefined;
  /** Parent, grandparent, ... (nearest first); stops at the first unknown pid. */
  ancestors(): ProcessRecord[];
  container: ContainerRecord | undefined;
  userName(uid: number): string | undefined;
  groupName(gid: number): string | undefined;
  /** IPs a name resolves to, from observed DNS answers and the config's static hosts. */
  resolve(name: string): readonly string[];
  /** Names observed (or configured) for an IP address. */
  namesOf(ip: string): readonly string[];
}

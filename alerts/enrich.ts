// Process and container details for alerts from the simulated kernel's process table
// (collectors/process-table.ts ProcessTable fits this shape), so incidents carry the process
// with its ancestry and the container even when the record holds only a few fields.

import type { ContainerRecord, ProcessRecord } from '../collectors/snapshot.js';
import type { ContainerDetails, Enricher, ProcessDetails } from './alert.js';

export interface ProcessTableLike {
  get(pid: number): ProcessRecord | undefined;
  ancestorsOf(rec: ProcessRecord): ProcessRecord[];
  containerByCgroup(cgroupId: bigint): ContainerRecord | undefined;
}

/** Falco's container.id: the first 12 hex digits (`host` stays `host`). */
export function shortContainerId(id: string): string {
  return /^[0-9a-f]{13,}$/i.test(id) ? id.slice(0, 12) : id;
}

export function processTableEnricher(table: ProcessTableLike, maxAncestors = 8): Enricher {
  return {
    process(tgid: number): ProcessDetails | undefined {
      const p = table.get(tgid);
      if (p === undefined) return undefined;
      return {
        pid: p.tgid,
        exe: p.exe,
        comm: p.comm,
        cmdline: [p.comm, ...p.argv.slice(1)].join(' '),
        ppid: p.ppid,
        uid: p.uid,
        ancestors: table
          .ancestorsOf(p)
          .slice(0, maxAncestors)
          .map((a) => ({ pid: a.tgid, exe: a.exe, comm: a.comm })),
      };
    },
    container(cgroupId: bigint): ContainerDetails | undefined {
      const c = table.containerByCgroup(cgroupId);
      if (c === undefined) return undefined;
      return {
        id: shortContainerId(c.id),
        name: c.name,
        image: c.image,
        pod: c.pod,
        namespace: c.namespace,
        privileged: c.privileged,
      };
    },
  };
}

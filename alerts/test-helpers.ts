// Shared test fixtures for alerts/ tests (not used by production code).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Alert } from './alert.js';
import { priorityLevel, priorityName } from './priority.js';

export function tempDir(prefix = 'kestrel-alerts-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

let seq = 0;
export function mkAlert(p: Partial<Alert> & { priorityText?: string } = {}): Alert {
  const level = p.level ?? priorityLevel(p.priorityText ?? 'warning') ?? 4;
  seq++;
  return {
    rule: p.rule ?? 'Terminal shell in container',
    priority: p.priority ?? priorityName(level),
    level,
    timeNs: p.timeNs ?? 1_700_000_000_000_000_000n + BigInt(seq) * 1000n,
    message: p.message ?? `A shell was spawned (proc.name=bash seq=${seq})`,
    outputFields: p.outputFields ?? { 'proc.name': 'bash', 'evt.time': '1700000000000000000' },
    tags: p.tags ?? ['container', 'shell'],
    source: p.source ?? 'syscall',
    hostname: p.hostname ?? 'node-1',
    containerId: p.containerId ?? 'abc123def456',
    exe: p.exe ?? '/bin/bash',
    pid: p.pid ?? 4242,
    process: p.process,
    container: p.container,
    aggregate: p.aggregate,
  };
}

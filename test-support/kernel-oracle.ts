// The running Linux kernel as a verifier oracle: loads a program through bpf(2) (via
// ./kernel-verify.py, python3 + ctypes) and reports the kernel's verdict and log. Used by the
// verifier's differential tests and by the rule compiler's tests. Never throws.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MapDef } from '../engine/maps/types.js';

export type OracleProgType = 'tracepoint' | 'socket_filter' | 'kprobe' | 'xdp';

export interface KernelVerdict {
  available: boolean;
  /** Why the oracle cannot be asked (not root, no bpf(), no python3, ...). */
  reason?: string;
  ok?: boolean;
  /** errno of BPF_PROG_LOAD (0 when accepted). */
  errno?: number;
  log?: string;
}

function scriptPath(): string {
  // Works from the source tree (vitest) and from dist/test-support (compiled).
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'kernel-verify.py'), join(here, '..', '..', 'test-support', 'kernel-verify.py')];
  return candidates.find((p) => existsSync(p)) ?? candidates[0];
}

let cachedUnavailable: string | undefined;

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function kernelVerify(insns: Uint8Array, maps: readonly MapDef[], progType: OracleProgType, gpl = true): KernelVerdict {
  if (cachedUnavailable !== undefined) return { available: false, reason: cachedUnavailable };
  if (process.platform !== 'linux') return remember('not Linux');
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return remember('not root (bpf() needs CAP_BPF + CAP_PERFMON)');
  const script = scriptPath();
  if (!existsSync(script)) return remember(`missing ${script}`);
  const req = JSON.stringify({
    insns: hex(insns),
    maps: maps.map((m) => ({ name: m.name, type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, flags: m.flags })),
  });
  const r = spawnSync('python3', [script, '--prog-type', progType, '--gpl', gpl ? '1' : '0'], {
    input: req,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    timeout: 120_000,
  });
  if (r.error !== undefined) return remember(`cannot run python3: ${r.error.message}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(r.stdout);
  } catch {
    return { available: false, reason: `kernel-verify.py printed no JSON (exit ${r.status}): ${r.stderr.slice(0, 300)}` };
  }
  if (typeof parsed !== 'object' || parsed === null) return { available: false, reason: 'bad oracle output' };
  const o = parsed as Record<string, unknown>;
  if (o.available !== true) {
    const reason = typeof o.reason === 'string' ? o.reason : 'unavailable';
    // A probe failure means bpf() is not usable at all; map-creation errors are per request.
    if (reason.startsWith('bpf() unavailable')) return remember(reason);
    return { available: false, reason };
  }
  return {
    available: true,
    ok: o.ok === true,
    errno: typeof o.errno === 'number' ? o.errno : undefined,
    log: typeof o.log === 'string' ? o.log : '',
  };
}

export interface OracleRequest {
  insns: Uint8Array;
  maps: readonly MapDef[];
  progType: OracleProgType;
  gpl?: boolean;
}

/** Many programs with one python3 process (much faster than one kernelVerify call each). */
export function kernelVerifyBatch(reqs: readonly OracleRequest[]): KernelVerdict[] {
  if (reqs.length === 0) return [];
  const first = kernelVerify(reqs[0].insns, reqs[0].maps, reqs[0].progType, reqs[0].gpl ?? true);
  if (!first.available && cachedUnavailable !== undefined) return reqs.map(() => first);
  const body = JSON.stringify(
    reqs.map((r) => ({
      insns: hex(r.insns),
      progType: r.progType,
      gpl: r.gpl ?? true,
      maps: r.maps.map((m) => ({ name: m.name, type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, flags: m.flags })),
    })),
  );
  const r = spawnSync('python3', [scriptPath()], { input: body, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, timeout: 600_000 });
  let parsed: unknown;
  try {
    parsed = JSON.parse(r.stdout);
  } catch {
    const v: KernelVerdict = { available: false, reason: `kernel-verify.py printed no JSON (exit ${r.status}): ${r.stderr.slice(0, 300)}` };
    return reqs.map(() => v);
  }
  if (!Array.isArray(parsed)) {
    const o = parsed as Record<string, unknown>;
    const v: KernelVerdict = { available: false, reason: typeof o.reason === 'string' ? o.reason : 'bad oracle output' };
    return reqs.map(() => v);
  }
  return parsed.map((x: unknown): KernelVerdict => {
    const o = (typeof x === 'object' && x !== null ? x : {}) as Record<string, unknown>;
    if (o.available !== true) return { available: false, reason: typeof o.reason === 'string' ? o.reason : 'unavailable' };
    return { available: true, ok: o.ok === true, errno: typeof o.errno === 'number' ? o.errno : undefined, log: typeof o.log === 'string' ? o.log : '' };
  });
}

function remember(reason: string): KernelVerdict {
  cachedUnavailable = reason;
  return { available: false, reason };
}

/** The last non-empty line of a kernel log that is not the "processed N insns" summary. */
export function kernelReason(log: string | undefined): string {
  if (log === undefined) return '';
  const lines = log.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('processed ') && !l.startsWith('verification time'));
  return lines[lines.length - 1] ?? '';
}

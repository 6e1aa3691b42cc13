// One entry point for the daemon: the configured event source (SPEC §6 `source:`) as an async
// stream of Kestrel events. Each source stops when `signal` aborts.

import { createReadStream } from 'node:fs';
import type { SourceConfig } from '../config/schema.js';
import type { KestrelEvent } from './events.js';
import { readEvents, type EventFormatError } from './ndjson.js';
import { TetragonImporter, readTetragon } from './tetragon.js';
import { loadScenarios } from './simulate/pack.js';
import { Simulator } from './simulate/runner.js';
import { straceSource, type ExitStatus } from './strace/source.js';
import { procfsSource } from './procfs.js';

export interface OpenedSource {
  events: AsyncIterable<KestrelEvent>;
  /** What the source is, for logs (`simulate: 17 scenarios at 200/s`). */
  description: string;
  /** strace only: the traced command's exit. */
  exited?: Promise<ExitStatus>;
}

export interface SourceHooks {
  /** Malformed replay lines (file:line:column), reported and skipped. */
  onBadLine?: (e: EventFormatError) => void;
  /** The replay importer's summary once the file is read (Tetragon: skipped types). */
  importer?: TetragonImporter;
}

/** Open the source the config names. Throws ScenarioError / StraceError / Error for bad settings. */
export function openSource(src: SourceConfig, signal?: AbortSignal, hooks: SourceHooks = {}): OpenedSource {
  switch (src.type) {
    case 'simulate': {
      const scenarios = loadScenarios(src.scenarios);
      const sim = new Simulator(scenarios, {
        seed: src.seed ?? 1,
        rate: src.rate,
        count: src.count,
        durationMs: src.duration,
        loop: src.loop,
        // An unbounded run (the daemon) is paced on the wall clock; a bounded one uses simulated time.
        realtime: src.count === undefined && src.duration === undefined,
      });
      return {
        events: sim.stream(signal),
        description: `simulate: ${scenarios.length} scenarios at ${src.rate === 0 ? 'full speed' : `${src.rate}/s`}${src.loop ? ', looping' : ''}`,
      };
    }
    case 'replay': {
      if (src.path === undefined) throw new Error('source.path: the file to replay is not set');
      const path = src.path;
      const input = path === '-' ? process.stdin : createReadStream(path);
      if (src.format === 'tetragon') {
        const imp = hooks.importer ?? new TetragonImporter();
        return { events: readTetragon(input, imp, hooks.onBadLine, path), description: `replay: ${path} (tetragon)` };
      }
      return { events: readEvents(input, hooks.onBadLine, path), description: `replay: ${path}` };
    }
    case 'strace': {
      const s = src.pid !== undefined ? straceSource({ pid: src.pid }) : straceSource({ command: src.command ?? [] });
      signal?.addEventListener('abort', () => s.stop(), { once: true });
      return {
        events: s.events,
        exited: s.exited,
        description: src.pid !== undefined ? `strace: attached to ${src.pid}` : `strace: ${(src.command ?? []).join(' ')}`,
      };
    }
    case 'procfs':
      return { events: procfsSource({ intervalMs: src.interval }, signal), description: `procfs: every ${src.interval} ms` };
  }
}

// The daemon's event source, chosen in the config: the scenario simulator (default), a recorded
// file (Kestrel NDJSON or Tetragon JSON), a command traced with strace, or the host's /proc.

import { createReadStream } from 'node:fs';
import type { KestrelEvent } from '../../collectors/events.js';
import type { SourceConfig } from '../../config/schema.js';
import { loadScenarios } from '../../collectors/simulate/pack.js';
import { Simulator } from '../../collectors/simulate/runner.js';
import { readEvents, type EventFormatError } from '../../collectors/ndjson.js';
import { TetragonImporter, readTetragon } from '../../collectors/tetragon.js';
import { straceSource } from '../../collectors/strace/source.js';
import { procfsSource } from '../../collectors/procfs.js';

export interface EventSource {
  name: string;
  events: AsyncIterable<KestrelEvent>;
  /** Stop producing (the iterator then ends). */
  stop(): void;
}

export function openSource(cfg: SourceConfig, signal: AbortSignal, onBadLine: (e: EventFormatError) => void): EventSource {
  switch (cfg.type) {
    case 'simulate': {
      const sim = new Simulator(loadScenarios(cfg.scenarios), {
        seed: cfg.seed ?? 1,
        rate: cfg.rate,
        count: cfg.count,
        durationMs: cfg.duration,
        loop: cfg.loop,
        realtime: true,
      });
      return { name: `simulate (${cfg.scenarios.join(', ')}) at ${cfg.rate === 0 ? 'full speed' : `${cfg.rate} events/s`}`, events: sim.stream(signal), stop() {} };
    }
    case 'replay': {
      const path = cfg.path as string;
      const input = createReadStream(path);
      const events =
        cfg.format === 'tetragon' ? readTetragon(input, new TetragonImporter(), onBadLine, path) : readEvents(input, onBadLine, path);
      return {
        name: `replay ${path} (${cfg.format})`,
        events: stopOn(events, signal),
        stop: () => input.destroy(),
      };
    }
    case 'strace': {
      const session = straceSource({ command: cfg.command, pid: cfg.pid, stdio: 'ignore' });
      return {
        name: cfg.command !== undefined ? `strace -- ${cfg.command.join(' ')}` : `strace -p ${cfg.pid}`,
        events: stopOn(session.events, signal),
        stop: () => session.stop(),
      };
    }
    case 'procfs':
      return { name: `procfs every ${cfg.interval} ms`, events: procfsSource({ intervalMs: cfg.interval }, signal), stop() {} };
  }
}

async function* stopOn(events: AsyncIterable<KestrelEvent>, signal: AbortSignal): AsyncGenerator<KestrelEvent> {
  for await (const ev of events) {
    if (signal.aborted) return;
    yield ev;
  }
}

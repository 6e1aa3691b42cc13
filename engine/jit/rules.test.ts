// Every program the rule compiler produces for the built-in rules (Kestrel's and Falco's stable)
// compiles on the JIT, and a stream of events gives the same match records, faults and
// instruction counts through the simulated kernel on the interpreter and on the JIT.
import { describe, expect, it } from 'vitest';
import type { KestrelEvent } from '../../collectors/events.js';
import { loadRules } from '../../rules/loader/index.js';
import { builtinRulesDir } from '../../config/paths.js';
import { compileRuleSet } from '../../rules/compiler/index.js';
import { compiledRunner } from '../../rules/compiler/harness.js';
import { jitRunner } from './index.js';
import { jitOf } from './run.js';
import { Rng } from './gen.js';


/** A deterministic mix of process, network and DNS activity that trips some rules. */
export function ruleEvents(seed: number, n: number): KestrelEvent[] {
  const r = new Rng(seed);
  const exes = ['/bin/bash', '/usr/bin/nc', '/usr/bin/curl', '/tmp/x', '/dev/shm/miner', '/usr/bin/sudo', '/usr/bin/kubectl', '/usr/sbin/sshd', '/usr/bin/python3', '/bin/sh'];
  const args = ['-e', '-c', '/bin/sh', 'http://evil.example/x.sh', '--donate-level', '-i', 'whoami', 'cat /etc/shadow', ''];
  const containers = [undefined, { id: '1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d', name: 'web', image: 'docker.io/library/nginx:1.25' }];
  const events: KestrelEvent[] = [];
  const live = [1];
  let pid = 100;
  let ts = 1_700_000_000_000_000_000n;
  for (let i = 0; i < n; i++) {
    ts += 1000n;
    const k = r.int(10);
    if (k < 6 || live.length < 3) {
      const parent = r.pick(live);
      const child = pid++;
      events.push({ type: 'fork', ts, pid: parent, child });
      const exe = r.pick(exes);
      const argv = [exe, ...Array.from({ length: r.int(4) }, () => r.pick(args))];
      events.push({
        type: 'exec',
        ts,
        pid: child,
        ppid: parent,
        uid: r.pick([0, 1000, 33]),
        gid: 0,
        exe,
        argv,
        cwd: r.pick(['/', '/tmp', '/root']),
        tty: r.int(3) === 0 ? 34816 : 0,
        ret: 0,
        container: r.pick(containers),
      });
      live.push(child);
    } else if (k < 9) {
      events.push({ type: 'connect', ts, pid: r.pick(live), family: 'inet', daddr: r.pick(['10.96.0.1', '8.8.8.8', '169.254.169.254', '127.0.0.1']), dport: r.pick([22, 80, 443, 4444, 3333]), ret: 0, proto: 'tcp' });
    } else if (live.length > 2) {
      const idx = 1 + r.int(live.length - 1);
      events.push({ type: 'exit', ts, pid: live[idx] });
      live.splice(idx, 1);
    }
  }
  return events;
}

describe('JIT on compiled rule programs', () => {
  // The built-in set includes Falco's stable rules (rules/builtin/00-falco-stable.yaml).
  for (const [name, paths, n] of [['built-in rules', [builtinRulesDir()], 300]] as const) {
    it(`${name}: every program compiles and gives the interpreter's records`, () => {
      const compiled = compileRuleSet(loadRules([...paths]));
      expect(compiled.programs.length).toBeGreaterThan(0);
      const logs: string[] = [];
      const interp = compiledRunner(compiled);
      const jit = compiledRunner(compiled, { run: jitRunner({ log: (m) => logs.push(m) }) });
      let records = 0;
      for (const ev of ruleEvents(7, n)) {
        const a = interp.step(ev).records;
        const b = jit.step(ev).records;
        records += a.length;
        expect(JSON.stringify(b, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))).toBe(
          JSON.stringify(a, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)),
        );
      }
      expect(logs).toEqual([]);
      expect(jit.faults).toEqual(interp.faults);
      expect(jit.faults).toEqual([]);
      // Every attached program that fired ran on the JIT, with the interpreter's counts.
      let fired = 0;
      jit.attached.programs.forEach(({ prog }, k) => {
        const other = interp.attached.programs[k].prog;
        expect(prog.stats.runs, prog.spec.name).toBe(other.stats.runs);
        expect(prog.stats.instructions, prog.spec.name).toBe(other.stats.instructions);
        if (prog.stats.runs > 0) {
          fired++;
          expect(jitOf.get(prog), prog.spec.name).toBeDefined();
        }
      });
      expect(fired).toBeGreaterThan(0);
      expect(records).toBeGreaterThan(0);
    });
  }
});

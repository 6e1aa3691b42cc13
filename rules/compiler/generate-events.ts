// Generated events for the compiler's tests (differential.test.ts, guard.test.ts): random and
// adversarial — rule constants and near-misses, empty strings, unicode, case changes, long
// values, boundary ports, IPv6, unix sockets, missing parents, host vs container.
import type { KestrelEvent, ContainerRef } from '../../collectors/events.js';
import { forEachCheck, type TValue } from '../condition/ast.js';
import type { RuleSet } from '../loader/index.js';

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function constants(set: RuleSet): { strings: string[]; numbers: number[]; ips: string[] } {
  const strings = new Set<string>();
  const numbers = new Set<number>();
  const ips = new Set<string>();
  const visitValue = (v: TValue): void => {
    if (v.kind === 'string') strings.add(v.value);
    else if (v.kind === 'number') numbers.add(v.value);
    else if (v.kind === 'ip') ips.add(v.text);
    else if (v.kind === 'net') ips.add(v.text.replace(/\/\d+$/, ''));
    else if (v.kind === 'pattern') strings.add(v.text.replace(/[*?[\]]/g, ''));
  };
  for (const r of set.rules) {
    if (r.expr !== undefined) forEachCheck(r.expr, (c) => (c.rhs.kind === 'values' ? c.rhs.values.forEach(visitValue) : undefined));
  }
  return { strings: [...strings].filter((s) => Buffer.byteLength(s) < 200), numbers: [...numbers], ips: [...ips] };
}

export function generate(set: RuleSet, seed: number, n: number): KestrelEvent[] {
  const r = rng(seed);
  const { strings, numbers, ips } = constants(set);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)] as T;
  const mutate = (s: string): string => {
    switch (Math.floor(r() * 8)) {
      case 0:
        return s.toUpperCase();
      case 1:
        return s.slice(0, Math.max(0, s.length - 1));
      case 2:
        return `x${s}`;
      case 3:
        return `${s}x`;
      case 4:
        return `/usr/bin/${s}`;
      case 5:
        return `${s} ${pick(strings)}`;
      default:
        return s;
    }
  };
  const word = (): string => {
    const k = r();
    if (k < 0.5) return mutate(pick(strings));
    if (k < 0.6) return '';
    if (k < 0.7) return 'ünïcødé-✓';
    if (k < 0.75) return 'a'.repeat(1 + Math.floor(r() * 40));
    // long values, past what the kernel's records keep (paths 255 bytes, the argv block 511)
    if (k < 0.8) return `${pick(strings)}${'/x'.repeat(100 + Math.floor(r() * 200))}${pick(strings)}`;
    return pick(['bash', 'sh', 'nc', '-e', 'curl', '/tmp/x', '/dev/shm/y', 'python3', 'kubectl', 'sudo', '-c']);
  };
  const comm = (): string => Buffer.from(word() || 'p').subarray(0, 15).toString('utf8').replace(/\uFFFD/g, '') || 'p';
  const containers: (ContainerRef | undefined)[] = [
    undefined,
    { id: '1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d', name: 'web', image: 'docker.io/library/nginx:1.25' },
    { id: 'ffeeddccbbaa99887766554433221100', name: 'miner', image: 'xmrig/xmrig', privileged: true, pod: 'p', namespace: 'kube-system' },
  ];
  const events: KestrelEvent[] = [];
  const live: number[] = [1];
  let nextPid = 100;
  let ts = 1_700_000_000_000_000_000n;
  for (let i = 0; i < n; i++) {
    ts += 1000n;
    const k = r();
    if (k < 0.6 || live.length < 3) {
      // fork + exec, sometimes from an unknown parent
      const parent = r() < 0.1 ? 50_000 + Math.floor(r() * 1000) : pick(live);
      const pid = nextPid++;
      if (r() < 0.8 && parent < 50_000) events.push({ type: 'fork', ts, pid: parent, child: pid });
      const exe = r() < 0.5 ? `/${pick(['usr/bin', 'bin', 'tmp', 'dev/shm', 'opt/app'])}/${word().replace(/\//g, '') || 'x'}` : word();
      const argv = [r() < 0.7 ? exe : word()];
      const nargs = Math.floor(r() * 5);
      for (let a = 0; a < nargs; a++) argv.push(word());
      events.push({
        type: 'exec',
        ts,
        pid,
        ppid: parent,
        uid: pick([0, 0, 1000, 33, 65534]),
        gid: pick([0, 1000]),
        exe: exe || '/x',
        argv,
        comm: r() < 0.5 ? comm() : undefined,
        cwd: pick(['/', '/tmp', '/root', '/var/www']),
        env: r() < 0.3 ? [pick(['HTTP_PROXY=http://proxy:3128', 'http_proxy=x', 'GLIBC_TUNABLES=glibc.malloc=1', 'PATH=/usr/bin', 'HOME=/root']), `X=${word()}`] : undefined,
        tty: r() < 0.3 ? 34816 : 0,
        loginuid: r() < 0.5 ? 1000 : undefined,
        ret: r() < 0.05 ? -2 : 0,
        exe_from_memfd: r() < 0.05,
        exe_upper_layer: r() < 0.2,
        container: pick(containers),
      });
      live.push(pid);
    } else if (k < 0.9) {
      const fam = pick(['inet', 'inet', 'inet6', 'unix'] as const);
      const port = pick([...numbers.filter((x) => x > 0 && x < 65536), 0, 1, 22, 80, 443, 65535]);
      const daddr =
        fam === 'inet'
          ? pick([...ips.filter((x) => x.includes('.')), '127.0.0.1', '0.0.0.0', '10.96.0.1', '169.254.169.254', '8.8.8.8', '192.168.3.4'])
          : pick([...ips.filter((x) => x.includes(':')), '::1', '2001:db8::7', '::ffff:10.0.0.1']);
      events.push(
        fam === 'unix'
          ? { type: 'connect', ts, pid: pick(live), family: 'unix', path: pick(['/var/run/docker.sock', '/tmp/x.sock']) }
          : { type: 'connect', ts, pid: pick(live), family: fam, daddr, dport: port, ret: pick([0, 0, -115, -111]), proto: pick(['tcp', 'udp'] as const) },
      );
    } else if (k < 0.95) {
      const [name, addr] = pick([
        ['kubernetes.default.svc.cluster.local', '10.96.0.1'],
        ['pool.minexmr.com', '45.9.148.3'],
        ['example.org', '8.8.8.8'],
        ['example.org', '2001:db8::7'],
        // one address, several names: fd.sip.name matches any of them
        ['api.internal.example', '10.96.0.1'],
        ['pool.minexmr.com', '8.8.8.8'],
      ] as const);
      events.push({ type: 'dns', ts, pid: 1, name, addrs: [addr] });
    } else {
      const idx = 1 + Math.floor(r() * (live.length - 1));
      events.push({ type: 'exit', ts, pid: live[idx] as number });
      live.splice(idx, 1);
    }
  }
  return events;
}

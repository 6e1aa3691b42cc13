import { describe, expect, it } from 'vitest';
import { loadRuleTexts, formatDiag } from '../loader/index.js';
import { evaluateCondition } from './evaluate.js';
import { Matcher } from './match.js';
import { ProcessTable } from '../../collectors/process-table.js';
import type { KestrelEvent } from '../../collectors/events.js';
import type { EventContext } from '../../collectors/snapshot.js';
import type { TExpr } from '../condition/ast.js';
import { renderOutput, outputFields } from '../output.js';

const TS = 1_718_188_267_123_456_789n;

/** Type a condition through the real loader (so lists/macros/typing are exercised). */
function cond(condition: string, prelude = ''): TExpr {
  const s = loadRuleTexts([{ name: 't.yaml', text: `${prelude}\n- rule: R\n  desc: d\n  condition: ${JSON.stringify(condition)}\n  output: o\n  priority: INFO\n` }]);
  if (s.errors.length > 0) throw new Error(s.errors.map(formatDiag).join('\n'));
  const e = s.rules[0]?.expr;
  if (e === undefined) throw new Error('no expr');
  return e;
}

/** Contexts for a sequence of events; returns the context of the last one. */
type NoTs<T> = T extends KestrelEvent ? Omit<T, 'ts'> : never;

function ctxOf(events: NoTs<KestrelEvent>[], hosts: Record<string, string[]> = {}): EventContext {
  const t = new ProcessTable({ hosts });
  let ctx: EventContext | undefined;
  for (const e of events) ctx = t.apply({ ...e, ts: TS } as KestrelEvent);
  if (ctx === undefined) throw new Error('no events');
  return ctx;
}

const web = { id: 'abcdef0123456789ab', name: 'web', image: 'docker.io/library/nginx:1.27', pod: 'web-0', namespace: 'default' };
const nginx: NoTs<KestrelEvent> = { type: 'exec', pid: 10, ppid: 1, uid: 33, gid: 33, exe: '/usr/sbin/nginx', argv: ['nginx', '-g', 'daemon off;'], container: web };
const sh: NoTs<KestrelEvent> = { type: 'exec', pid: 11, ppid: 10, uid: 33, gid: 33, exe: '/bin/sh', argv: ['sh', '-c', 'cat /etc/shadow'], tty: 0, container: web };
const connect: NoTs<KestrelEvent> = { type: 'connect', pid: 11, fd: 3, family: 'inet', saddr: '172.17.0.2', sport: 40000, daddr: '10.96.0.1', dport: 443, ret: -115 };

describe('reference evaluator', () => {
  const execCtx = ctxOf([nginx, sh]);
  const connCtx = ctxOf([nginx, sh, connect], { 'kubernetes.default.svc.cluster.local': ['10.96.0.1'] });
  const holds = (c: string, ctx: EventContext = execCtx): boolean => evaluateCondition(cond(c), ctx);

  it('string operators', () => {
    expect(holds('proc.name = sh')).toBe(true);
    expect(holds('proc.name != sh')).toBe(false);
    expect(holds('proc.cmdline = "sh -c cat /etc/shadow"')).toBe(true);
    expect(holds('proc.args contains /etc/shadow')).toBe(true);
    expect(holds('proc.args icontains /ETC/SHADOW')).toBe(true);
    expect(holds('proc.exepath startswith /bin/')).toBe(true);
    expect(holds('proc.exepath endswith /sh')).toBe(true);
    expect(holds('proc.exepath glob "/b?n/*"')).toBe(true);
    expect(holds('proc.exepath iglob "/BIN/*"')).toBe(true);
    expect(holds('proc.exepath regex "/bin/(sh|bash)"')).toBe(true);
    expect(holds('proc.exepath regex "bin/sh"')).toBe(false); // regex is a full match
    expect(holds('proc.exepath pmatch (/bin)')).toBe(true);
    expect(holds('proc.exepath pmatch (/bi)')).toBe(false);
    expect(holds('proc.exepath pmatch (/b*)')).toBe(true);
    expect(holds('proc.name in (bash, sh)')).toBe(true);
    expect(holds('proc.name intersects (sh)')).toBe(true);
    expect(holds('proc.args bcontains 2F657463')).toBe(true); // "/etc"
    expect(holds('proc.args bstartswith 2D63')).toBe(true); // "-c"
  });

  it('modifiers oneof / anyof / allof', () => {
    expect(holds('proc.args contains anyof (shadow, passwd)')).toBe(true);
    expect(holds('proc.args contains allof (shadow, passwd)')).toBe(false);
    expect(holds('proc.args contains allof (shadow, cat)')).toBe(true);
    expect(holds('proc.args contains oneof (shadow, cat)')).toBe(false);
    expect(holds('proc.args contains oneof (shadow, passwd)')).toBe(true);
  });

  it('numbers, booleans, transformers, val()', () => {
    expect(holds('user.uid = 33 and user.uid >= 1 and user.uid < 100 and proc.pid > 0x0a')).toBe(true);
    expect(holds('user.name = www-data and group.name = www-data')).toBe(true);
    expect(holds('container.privileged = false')).toBe(true);
    expect(holds('toupper(proc.name) = SH')).toBe(true);
    expect(holds('basename(proc.exepath) = sh')).toBe(true);
    expect(holds('len(proc.name) = 2')).toBe(true);
    expect(holds('proc.name = val(proc.pname)')).toBe(false);
    expect(holds('user.uid = val(group.gid)')).toBe(true);
    expect(holds('tolower(proc.pname) = tolower(proc.aname[1])')).toBe(true);
  });

  it('ancestors: proc.aname[N] and proc.aname (any ancestor)', () => {
    expect(holds('proc.aname[0] = sh and proc.aname[1] = nginx')).toBe(true);
    expect(holds('proc.aname = nginx')).toBe(true);
    expect(holds('proc.aname = sh')).toBe(false); // self is not an ancestor
    expect(holds('proc.aname[5] exists')).toBe(false);
    expect(holds('proc.pname = nginx and proc.pcmdline = "nginx -g daemon off;"')).toBe(true);
  });

  it('missing values: comparisons are false, exists is false, not negates', () => {
    expect(holds('proc.aname[5] = x')).toBe(false);
    expect(holds('proc.aname[5] != x')).toBe(false);
    expect(holds('not proc.aname[5] = x')).toBe(true);
    expect(holds('fd.sport = 443')).toBe(false); // no fd on an exec event
    expect(holds('fd.sport exists')).toBe(false);
    expect(holds('evt.num = 0')).toBe(false);
  });

  it('containers and k8s', () => {
    expect(holds('container.id = abcdef012345 and container.name = web')).toBe(true);
    expect(holds('container.image.repository = docker.io/library/nginx and container.image.tag = "1.27"')).toBe(true);
    expect(holds('k8s.ns.name = default and k8s.pod.name = web-0')).toBe(true);
    const host = ctxOf([{ type: 'exec', pid: 5, ppid: 1, exe: '/bin/ls', argv: ['ls'] }]);
    expect(holds('container.id = host', host)).toBe(true);
  });

  it('connect fields: endpoints, networks, names, results', () => {
    expect(holds('evt.type = connect and fd.typechar = 4 and fd.type = ipv4 and fd.l4proto = tcp', connCtx)).toBe(true);
    expect(holds('fd.sip = 10.96.0.1 and fd.sport = 443 and fd.cip = 172.17.0.2 and fd.cport = 40000', connCtx)).toBe(true);
    expect(holds('fd.rip = 10.96.0.1 and fd.rport = 443 and fd.lport = 40000', connCtx)).toBe(true);
    expect(holds('fd.snet in ("10.0.0.0/8") and not fd.cnet in ("10.0.0.0/8")', connCtx)).toBe(true);
    expect(holds('fd.ip = 172.17.0.2 and fd.ip = 10.96.0.1', connCtx)).toBe(true); // either end
    expect(holds('fd.ip != 172.17.0.2', connCtx)).toBe(false); // neither end may equal it
    expect(holds('fd.net != "127.0.0.0/8"', connCtx)).toBe(true);
    expect(holds('fd.sip.name = kubernetes.default.svc.cluster.local', connCtx)).toBe(true);
    expect(holds('fd.name = "172.17.0.2:40000->10.96.0.1:443"', connCtx)).toBe(true);
    expect(holds('evt.res = EINPROGRESS and evt.rawres = -115 and evt.rawres < 0', connCtx)).toBe(true);
    expect(holds('proc.name = sh and container.id = abcdef012345', connCtx)).toBe(true);
  });

  it('evt.type and evt.arg', () => {
    expect(holds('evt.type = execve and evt.arg.flags = EXE_LOWER_LAYER and evt.arg.res = 0')).toBe(true);
    expect(holds('evt.arg[1] = sh')).toBe(true);
  });
});

describe('matcher', () => {
  const rules = loadRuleTexts([{ name: 't.yaml', text: `
- rule: A
  desc: d
  condition: evt.type = execve and proc.name = sh
  output: a
  priority: INFO
- rule: B
  desc: d
  condition: evt.type = execve and proc.name startswith s
  output: b
  priority: WARNING
- rule: C
  desc: d
  condition: evt.type = connect
  output: c
  priority: INFO
- rule: D
  desc: d
  condition: evt.type = execve
  output: d
  priority: INFO
  enabled: false
` }]).rules;
  const ctx = ctxOf([nginx, sh]);

  it('all: every enabled rule that holds fires, in definition order', () => {
    expect(new Matcher(rules).match(ctx).map((r) => r.name)).toEqual(['A', 'B']);
  });

  it('first: only the first match (Falco default)', () => {
    expect(new Matcher(rules, { ruleMatching: 'first' }).match(ctx).map((r) => r.name)).toEqual(['A']);
  });

  it('minimum priority', () => {
    expect(new Matcher(rules, { minPriority: 'warning' }).match(ctx).map((r) => r.name)).toEqual(['B']);
  });

  it('rules are indexed by event type', () => {
    const m = new Matcher(rules);
    expect(m.rulesFor('connect').map((r) => r.name)).toEqual(['C']);
    expect(m.match(ctxOf([{ type: 'fork', pid: 1, child: 2 }]))).toEqual([]);
  });
});

describe('output rendering', () => {
  const ctx = ctxOf([nginx, sh]);

  it('renders %fields, %field[arg], %transformer(field) and <NA>', () => {
    const out = renderOutput('Shell %proc.name (parent=%proc.aname[1], up=%toupper(proc.name)) uid=%user.uid fd=%fd.name cnt=%container.id 100%% done', ctx);
    expect(out).toBe('Shell sh (parent=nginx, up=SH) uid=33 fd=<NA> cnt=abcdef012345 100% done');
  });

  it('time fields and trailing punctuation after a field', () => {
    expect(renderOutput('at %evt.time.', ctx)).toBe('at 10:31:07.123456789.');
    expect(renderOutput('%evt.time.iso8601', ctx)).toBe('2024-06-12T10:31:07.123456789Z');
  });

  it('output fields are typed, missing values are null', () => {
    expect(outputFields('%proc.name %user.uid %fd.sport %container.privileged %proc.aname[1]', ctx)).toEqual({
      'proc.name': 'sh', 'user.uid': 33, 'fd.sport': null, 'container.privileged': false, 'proc.aname[1]': 'nginx',
    });
  });
});

// The README's commands work as written: the daemon from the set-up section (as `npm start`
// runs it, after the build `npm test` already did), then every ```sh block of the five-minute
// tour, in a scratch folder that looks like a checkout. Long-running commands (the daemon) are
// started, checked and stopped with SIGTERM.
import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, symlinkSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

function shBlocks(text: string): string[] {
  const out: string[] = [];
  const re = /```sh\n([\s\S]*?)```/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) out.push(m[1]);
  return out;
}

function checkout(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kestrel-readme-'));
  for (const name of ['dist', 'node_modules', 'rules', 'collectors', 'engine', 'examples', 'package.json', 'docs']) {
    if (existsSync(join(ROOT, name))) symlinkSync(join(ROOT, name), join(dir, name));
  }
  copyFileSync(join(ROOT, 'kestrel'), join(dir, 'kestrel'));
  return dir;
}

/** Start a daemon command line, wait until it stored incidents (or serves /healthz), stop it. */
async function runDaemon(dir: string, args: string[], ready: () => boolean): Promise<{ code: number | null; stderr: string }> {
  const child = spawn('./kestrel', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const end = Date.now() + 60_000;
  while (!ready()) {
    if (child.exitCode !== null) throw new Error(`daemon exited early (${child.exitCode}): ${stderr}`);
    if (Date.now() > end) throw new Error(`daemon not ready: ${stderr}`);
    await new Promise((r) => setTimeout(r, 300));
  }
  const code = await new Promise<number | null>((r) => {
    child.once('exit', (c) => r(c));
    child.kill('SIGTERM');
  });
  return { code, stderr };
}

function hasIncidents(dir: string): boolean {
  if (!existsSync(join(dir, 'kestrel.db'))) return false;
  const r = spawnSync('./kestrel', ['incidents', 'list', '--json'], { cwd: dir, encoding: 'utf8' });
  return r.status === 0 && (JSON.parse(r.stdout) as unknown[]).length >= 3;
}

describe("README's commands", { timeout: 240_000 }, () => {
  const blocks = shBlocks(README);
  const tour = README.slice(README.indexOf('## A five-minute tour'));
  const tourBlocks = shBlocks(tour);

  it('names the two set-up commands', () => {
    expect(blocks[0].trim()).toBe('npm ci && npm start');
    expect(blocks[1].trim()).toBe('npm test');
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toMatch(/dist\/cli\/main\.js daemon$/);
    expect(readFileSync(join(ROOT, '.ci/run'), 'utf8')).toMatch(/\nnpm test\n/);
  });

  it('runs the tour', async () => {
    const dir = checkout();
    // `npm start` = build + `kestrel daemon` on the defaults: incidents arrive in ./kestrel.db.
    const first = await runDaemon(dir, ['daemon'], () => hasIncidents(dir));
    expect(first.code).toBe(0);
    for (const block of tourBlocks) {
      const daemonLine = block.split('\n').find((l) => l.startsWith('./kestrel daemon'));
      const script = block
        .split('\n')
        .filter((l) => !l.startsWith('./kestrel daemon'))
        .join('\n');
      const r = spawnSync('bash', ['-e', '-c', script], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
      expect({ block: block.slice(0, 60), status: r.status, stderr: r.status === 0 ? '' : r.stderr }).toEqual({ block: block.slice(0, 60), status: 0, stderr: '' });
      if (block.includes('incidents list')) expect(r.stdout).toMatch(/PRIORITY/);
      if (block.includes('rules test')) expect(r.stdout).toMatch(/2 passed, 0 failed/);
      if (block.includes('rules compile')) expect(r.stdout).toMatch(/verifier: accepted/);
      if (daemonLine !== undefined) {
        const args = daemonLine.replace(/^\.\/kestrel /, '').split(/\s+/);
        let healthy = false;
        const res = await runDaemon(dir, args, () => {
          void fetch('http://127.0.0.1:9376/healthz')
            .then((x) => (healthy = x.ok))
            .catch(() => undefined);
          return healthy;
        });
        expect(res.code).toBe(0);
      }
    }
  });
});

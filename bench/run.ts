// `npm run bench`: runs every benchmark module in this folder (each exports `bench()`), in name
// order, or only those named on the command line (`npm run bench -- jit rules`).
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface BenchModule {
  bench(): Promise<void>;
}

async function main(): Promise<void> {
  const here = dirname(fileURLToPath(import.meta.url));
  const only = process.argv.slice(2);
  const files = readdirSync(here)
    .filter((f) => f.endsWith('.js') && f !== 'run.js' && !f.endsWith('.test.js'))
    .filter((f) => only.length === 0 || only.includes(f.replace(/\.js$/, '')))
    .sort();
  for (const f of files) {
    const mod = (await import(pathToFileURL(join(here, f)).href)) as Partial<BenchModule>;
    if (typeof mod.bench !== 'function') continue;
    process.stdout.write(`\n== ${f.replace(/\.js$/, '')} ==\n`);
    const t0 = performance.now();
    await mod.bench();
    process.stdout.write(`(${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});

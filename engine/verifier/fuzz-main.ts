// `npm run fuzz`: a long soundness-fuzzing run. FUZZ_PROGRAMS (default 200,000), FUZZ_RUNS
// (runs per accepted program, default 8), FUZZ_SEED. Exit 1 and print the program on failure.

import { fuzz } from './fuzz.js';

const programs = Number(process.env.FUZZ_PROGRAMS ?? 200_000);
const runs = Number(process.env.FUZZ_RUNS ?? 8);
const seed = Number(process.env.FUZZ_SEED ?? Date.now() & 0x7fffffff);
const chunk = 5000;
let generated = 0;
let accepted = 0;
let totalRuns = 0;
let ms = 0;
for (let done = 0, k = 0; done < programs; done += chunk, k++) {
  const r = fuzz({ programs: Math.min(chunk, programs - done), runsPerProgram: runs, seed: (seed + k * 0x9e3779b9) >>> 0 });
  generated += r.generated;
  accepted += r.accepted;
  totalRuns += r.runs;
  ms += r.ms;
  if (r.failures.length > 0 || r.internalErrors > 0) {
    for (const f of r.failures) process.stdout.write(`SOUNDNESS FAILURE (program seed ${f.seed}): ${f.fault}\n${f.program}\n`);
    process.exitCode = 1;
    break;
  }
  process.stdout.write(`${generated} programs, ${accepted} accepted (${((accepted / generated) * 100).toFixed(1)}%), ${totalRuns} runs, ${(ms / 1000).toFixed(1)} s\n`);
}
process.stdout.write(`fuzz seed ${seed}: generated ${generated}, accepted ${accepted} (${((accepted / Math.max(1, generated)) * 100).toFixed(1)}%), ${totalRuns} interpreter runs, ${process.exitCode === 1 ? 'FAILED' : 'no soundness failure'}\n`);

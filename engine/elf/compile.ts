// Build the C examples with clang, as the tests and `kestrel prog load FILE.c` do. Debian's
// clang 14 needs the multiarch include path for <asm/types.h> and knows at most -mcpu=v3.
// A missing clang is an error (never a silent skip): CI installs it.

import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLANG_FLAGS = ['-O2', '-g', '-target', 'bpf', '-mcpu=v3', '-I/usr/include/x86_64-linux-gnu'];

/** The repository's examples/bpf folder (works from the sources and from dist/). */
export function examplesDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const up of ['../..', '../../..']) {
    const d = resolve(here, up, 'examples/bpf');
    try {
      readFileSync(join(d, 'kestrel_bpf.h'));
      return d;
    } catch {
      // try the next candidate
    }
  }
  throw new Error(`examples/bpf not found above ${here}`);
}

/** Compile a C file to an object in `outDir` and return the object's path. */
export function compileC(src: string, outDir = join(tmpdir(), `kestrel-elf-${process.pid}`)): string {
  mkdirSync(outDir, { recursive: true });
  const out = join(outDir, basename(src).replace(/\.c$/, '') + '.o');
  try {
    execFileSync('clang', [...CLANG_FLAGS, '-c', src, '-o', out], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { code?: string; stderr?: Buffer };
    if (err.code === 'ENOENT') throw new Error('clang is not installed (apt-get install clang llvm); it is needed to build C eBPF programs');
    throw new Error(`clang failed on ${src}:\n${err.stderr?.toString() ?? String(e)}`);
  }
  return out;
}

/** Compile examples/bpf/<name>.c and return the object's bytes and path. */
export function compileExample(name: string, outDir?: string): { path: string; bytes: Uint8Array } {
  const path = compileC(join(examplesDir(), `${name}.c`), outDir);
  return { path, bytes: new Uint8Array(readFileSync(path)) };
}

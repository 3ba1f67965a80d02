// What CLI tests share: a temporary working directory per file, and an io that captures output.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import type { CliIo } from '../../src/cli/io.js';

/** A directory made before the file's tests and removed after them; read `.path` inside a test. */
export function tempDirForTests(prefix: string): { readonly path: string } {
  const holder = { path: '' };
  beforeAll(async () => {
    holder.path = await mkdtemp(join(tmpdir(), prefix));
  });
  afterAll(async () => {
    await rm(holder.path, { recursive: true, force: true });
  });
  return holder;
}

/** A {@link CliIo} that keeps what the command prints, working in `cwd`. */
export function capturedIo(cwd: string, env: Record<string, string> = {}): CliIo & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return {
    out: (text) => void (out += text),
    err: (text) => void (err += text),
    env,
    cwd,
    stdout: () => out,
    stderr: () => err,
  };
}

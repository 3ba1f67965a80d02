#!/usr/bin/env node
// The `ballast` command: the built CLI when there is one (an installed package), else the
// TypeScript sources through tsx (a clone of the repository, no build step needed).
import { existsSync } from 'node:fs';
import process from 'node:process';
import { URL } from 'node:url';

const built = new URL('../dist/cli/main.js', import.meta.url);
let cli;
if (existsSync(built)) {
  cli = await import(built.href);
} else {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    process.stderr.write('ballast: the CLI is not built (dist/cli/main.js is missing) and tsx is not installed to run it from source\n');
    process.exit(1);
  }
  register();
  cli = await import(new URL('../src/cli/main.ts', import.meta.url).href);
}
process.exitCode = await cli.main(process.argv.slice(2));

/**
 * The Portkey gateway for `bench:gateway`: installed by npm into the ignored folder `.bench/portkey`
 * (only when missing), with `@hono/node-server` 1.13.5 and `hono` 4.9.7 pinned for the whole tree
 * through npm `overrides` (the gateway otherwise nests its own newer `@hono/node-server`, and its
 * streaming breaks), and started on 127.0.0.1 only.
 *
 * Portkey's `build/start-server.js` is one bundle that calls `serve({ fetch: app.fetch, port })`
 * — no hostname, so it listens on every interface — and does not export its app. So the bench
 * writes `start-loopback.js` next to it: the same bundle with `hostname: "127.0.0.1"` added to that
 * one `serve` call (exactly one match is required, or Portkey is reported unavailable). The bench
 * then checks in /proc/net/tcp* that the port is bound to loopback only.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

export const PORTKEY_VERSION = '1.15.2';
const PINS = { '@hono/node-server': '1.13.5', hono: '4.9.7' };

const run = promisify(execFile);

function installedVersion(dir: string, name: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(join(dir, 'node_modules', name, 'package.json'), 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

function installed(dir: string): boolean {
  return (
    installedVersion(dir, '@portkey-ai/gateway') === PORTKEY_VERSION &&
    Object.entries(PINS).every(([name, version]) => installedVersion(dir, name) === version) &&
    // No nested copy of the pinned packages inside the gateway (the overrides must have applied).
    !existsSync(join(dir, 'node_modules/@portkey-ai/gateway/node_modules/@hono/node-server')) &&
    !existsSync(join(dir, 'node_modules/@portkey-ai/gateway/node_modules/hono'))
  );
}

/** Installs Portkey into `dir` when missing; returns the path of the loopback start file. Throws with a one-line reason. */
export async function preparePortkey(dir: string, log: (line: string) => void): Promise<string> {
  if (!installed(dir)) {
    log(`installing @portkey-ai/gateway@${PORTKEY_VERSION} into ${dir} (once) …`);
    const manifest = {
      private: true,
      description: 'Installed by npm run bench:gateway; safe to delete.',
      dependencies: { '@portkey-ai/gateway': PORTKEY_VERSION, ...PINS },
      overrides: PINS,
    };
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    try {
      await run('npm', ['install', '--prefix', dir, '--no-audit', '--no-fund', '--loglevel=error'], { timeout: 300_000, maxBuffer: 16 << 20 });
    } catch (error) {
      const e = error as { stderr?: string; message: string };
      throw new Error(`npm install failed: ${(e.stderr || e.message).trim().split('\n').slice(-3).join(' | ')}`);
    }
    if (!installed(dir)) throw new Error(`npm install finished but ${dir} does not hold the pinned versions`);
  }
  const build = join(dir, 'node_modules/@portkey-ai/gateway/build');
  const source = readFileSync(join(build, 'start-server.js'), 'utf8');
  const serveCall = /\(\{fetch:(\w+)\.fetch,port:(\w+)\}\)/g;
  const matches = source.match(serveCall) ?? [];
  if (matches.length !== 1) throw new Error(`cannot force Portkey onto loopback: expected one serve({fetch, port}) call in start-server.js, found ${matches.length}`);
  const patched = source.replace(serveCall, '({fetch:$1.fetch,port:$2,hostname:"127.0.0.1"})');
  const start = join(build, 'start-loopback.js');
  if (!existsSync(start) || readFileSync(start, 'utf8') !== patched) writeFileSync(start, patched);
  return start;
}

/**
 * The local addresses a TCP port listens on, from /proc/net/tcp and tcp6 (Linux); undefined when
 * /proc is not there. '127.0.0.1' / '::1' are loopback; anything else means "reachable from outside".
 */
export function listeningAddresses(port: number): string[] | undefined {
  const found: string[] = [];
  let readAny = false;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
      readAny = true;
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 4 || fields[3] !== '0A') continue; // 0A = LISTEN
      const [hexAddress, hexPort] = fields[1]!.split(':');
      if (parseInt(hexPort!, 16) !== port) continue;
      found.push(decodeAddress(hexAddress!));
    }
  }
  return readAny ? found : undefined;
}

function decodeAddress(hex: string): string {
  if (hex.length === 8) {
    // IPv4, little-endian.
    return [3, 2, 1, 0].map((i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16)).join('.');
  }
  if (hex === '00000000000000000000000000000000') return '::';
  if (hex === '00000000000000000000000001000000') return '::1';
  if (hex.startsWith('0000000000000000FFFF0000')) return `::ffff:${decodeAddress(hex.slice(24))}`;
  return hex;
}

export const isLoopback = (address: string) => address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';

/**
 * The ceiling of `bench:gateway`: the least a proxy process can do — read the body, set `model`,
 * forward it over undici's keep-alive pool (as Ballast does), and copy the answer back, chunks as
 * they come. No validation, no routing, no retries, no metrics. Whatever share of direct
 * throughput this reaches on a machine is the most any gateway process can reach there, since the
 * extra hop alone costs as much CPU as the upstream's whole request.
 *
 * Run as its own process by the bench: `node --import tsx bench/gateway-bare-proxy.ts --port N
 * --upstream URL --model M`; prints `listening <url>` once it accepts connections.
 */
import { createServer } from 'node:http';
import { Pool } from 'undici';

const arg = (flag: string) => {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const upstream = new URL(arg('--upstream') ?? 'http://127.0.0.1:1/v1');
const model = arg('--model') ?? 'gpt-4o-mini';
const pool = new Pool(upstream.origin, { connections: 256 });
const path = `${upstream.pathname.replace(/\/$/, '')}/chat/completions`;

const server = createServer((req, res) => {
  const parts: Buffer[] = [];
  req.on('data', (part: Buffer) => parts.push(part));
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(parts).toString('utf8')) as { model?: string };
    body.model = model;
    pool
      .request({ path, method: 'POST', headers: { 'content-type': 'application/json', authorization: req.headers.authorization ?? '' }, body: JSON.stringify(body) })
      .then(async (answer) => {
        res.writeHead(answer.statusCode, { 'content-type': String(answer.headers['content-type'] ?? 'application/json') });
        for await (const chunk of answer.body) res.write(chunk);
        res.end();
      })
      .catch((error: Error) => {
        res.writeHead(502).end(error.message);
      });
  });
});

server.listen(Number(arg('--port') ?? 0), '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`listening http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}\n`);
});
const stop = () => server.close(() => void pool.close().then(() => process.exit(0)));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

import type { IncomingMessage } from 'node:http';

/** Why a body could not be read. */
export type BodyError = 'too_large' | 'aborted';

/**
 * Reads a request body up to `limit` bytes. A declared `content-length` above the limit is refused
 * before reading anything; a body that grows past it stops being read at the limit (the caller
 * answers 413 and closes the connection). Resolves `'aborted'` when the client goes away.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer | BodyError> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) return Promise.resolve('too_large');
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (result: Buffer | BodyError) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onAbort);
      req.off('aborted', onAbort);
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.pause();
        finish('too_large');
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => finish(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    const onAbort = () => finish('aborted');
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onAbort);
    req.on('aborted', onAbort);
  });
}

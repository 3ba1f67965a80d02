// What provider and parser tests share.
import { isLlmError, type LlmError } from '../../src/llm/llm-error.js';
import type { StreamEvent } from '../../src/llm/stream-events.js';

/** The `LlmError` a promise rejects with; fails the test when it resolves or rejects with something else. */
export async function failure(promise: Promise<unknown>): Promise<LlmError> {
  try {
    await promise;
  } catch (error) {
    if (isLlmError(error)) return error;
    throw new Error(`expected an LlmError, got ${String(error)}`);
  }
  throw new Error('expected a failure');
}

/** Every event of a stream, in order. */
export async function events(iterable: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const out: StreamEvent[] = [];
  for await (const e of iterable) out.push(e);
  return out;
}

/** `whole` cut at the given offsets (taken modulo its length + 1, deduplicated, in order). */
export function splitAt<T extends { slice(a: number, b?: number): T; length: number }>(whole: T, cuts: number[]): T[] {
  const points = [...new Set(cuts.map((c) => c % (whole.length + 1)))].sort((a, b) => a - b);
  const parts: T[] = [];
  let last = 0;
  for (const p of points) {
    parts.push(whole.slice(last, p));
    last = p;
  }
  parts.push(whole.slice(last));
  return parts;
}

/** A transport response's whole body as text (what adapters do, without their size limit). */
export async function bodyText(response: { body: AsyncIterable<Uint8Array> }): Promise<string> {
  const decoder = new TextDecoder();
  let text = '';
  for await (const chunk of response.body) text += decoder.decode(chunk, { stream: true });
  return text + decoder.decode();
}

/** The most a stream parser holds for one frame (an SSE event, an NDJSON line), in characters: 16 Mi. */
export const MAX_FRAME_CHARS = 16 * 1024 * 1024;

/**
 * Thrown by the stream parsers when one frame outgrows their limit (an upstream that never ends a
 * line), so a misbehaving upstream cannot grow the process without bound.
 */
export class FrameTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`a stream frame is over ${limit} characters`);
    this.name = 'FrameTooLargeError';
  }
}

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createUtf8ChunkDecoder } from './utf8-chunks.js';
import { splitAt } from '../../test/support/provider-test.js';

/** What a streaming `TextDecoder` makes of the same chunks: the reference. */
function reference(chunks: Uint8Array[]): string {
  const decoder = new TextDecoder('utf-8');
  return chunks.map((c) => decoder.decode(c, { stream: true })).join('') + decoder.decode();
}

function decodeAll(chunks: Uint8Array[]): string {
  const decoder = createUtf8ChunkDecoder();
  return chunks.map((c) => decoder.decode(c)).join('') + decoder.end();
}

const bytes = (...values: number[]) => new Uint8Array(values);

describe('createUtf8ChunkDecoder', () => {
  it('joins a character split across chunks, at every split point', () => {
    const encoded = new TextEncoder().encode('aé€😀z');
    for (let cut = 0; cut <= encoded.length; cut++) {
      expect(decodeAll([encoded.subarray(0, cut), encoded.subarray(cut)])).toBe('aé€😀z');
    }
    // One byte per chunk.
    expect(decodeAll([...encoded].map((b) => bytes(b)))).toBe('aé€😀z');
  });

  it('drops a leading BOM only, also when it arrives byte by byte', () => {
    expect(decodeAll([bytes(0xef), bytes(0xbb), bytes(0xbf, 0x61)])).toBe('a');
    expect(decodeAll([bytes(0x61, 0xef, 0xbb, 0xbf)])).toBe('a\ufeff');
    expect(decodeAll([bytes(), bytes(0xef, 0xbb, 0xbf), bytes(0xef, 0xbb, 0xbf)])).toBe('\ufeff');
  });

  it('turns malformed and unfinished bytes into U+FFFD, as TextDecoder does', () => {
    expect(decodeAll([bytes(0xe2, 0x82)])).toBe('\ufffd');
    expect(decodeAll([bytes(0xe2), bytes(0x41)])).toBe('\ufffdA');
    expect(decodeAll([bytes(0xff, 0x41)])).toBe('\ufffdA');
  });

  it('matches a streaming TextDecoder on any bytes split anywhere', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 20 }).map((s) => new TextEncoder().encode(s))),
        fc.uniqueArray(fc.nat(40)),
        (input, cuts) => {
          const chunks = splitAt(input, cuts);
          expect(decodeAll(chunks)).toBe(reference(chunks));
        },
      ),
      { numRuns: 500 },
    );
  });
});

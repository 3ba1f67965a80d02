/**
 * Decodes a byte stream split anywhere (inside a multi-byte character too) into text, as a
 * streaming `TextDecoder` does: a leading BOM is dropped, malformed bytes become U+FFFD.
 *
 * It shares one non-streaming `TextDecoder` and carries an unfinished trailing character over to
 * the next chunk by itself, because a `TextDecoder` per stream costs several microseconds to
 * create, more than decoding a whole typical chunk.
 */
export interface Utf8ChunkDecoder {
  /** Decodes a chunk; the bytes of a character it ends inside are kept for the next one. */
  decode(chunk: Uint8Array): string;
  /** Flushes: the kept bytes of an unfinished character, as U+FFFD. */
  end(): string;
}

const shared = new TextDecoder('utf-8', { ignoreBOM: true });

/** Creates a decoder for one stream. */
export function createUtf8ChunkDecoder(): Utf8ChunkDecoder {
  let carry: Uint8Array | undefined;
  let started = false;
  const stripBom = (text: string) => {
    if (started || text === '') return text;
    started = true;
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  };
  return {
    decode(chunk) {
      let bytes = chunk;
      if (carry) {
        bytes = new Uint8Array(carry.length + chunk.length);
        bytes.set(carry);
        bytes.set(chunk, carry.length);
        carry = undefined;
      }
      const cut = completeLength(bytes);
      if (cut < bytes.length) {
        carry = bytes.slice(cut);
        bytes = bytes.subarray(0, cut);
      }
      return stripBom(shared.decode(bytes));
    },
    end() {
      const rest = carry;
      carry = undefined;
      return rest ? stripBom(shared.decode(rest)) : '';
    },
  };
}

/**
 * The length of the longest prefix of `bytes` that does not end inside a character: the bytes
 * after it are the start of a multi-byte sequence still missing its continuation bytes.
 */
function completeLength(bytes: Uint8Array): number {
  const n = bytes.length;
  // A sequence is at most 4 bytes, so an unfinished one starts within the last 3.
  for (let back = 1; back <= 3 && back <= n; back++) {
    const byte = bytes[n - back]!;
    if ((byte & 0xc0) === 0x80) continue; // a continuation byte: its lead is further back
    const need = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    // A lead byte whose sequence runs past the end is held back; anything else decodes now
    // (malformed input included: the decoder turns it into U+FFFD either way).
    return need > back && byte < 0xf8 ? n - back : n;
  }
  return n;
}

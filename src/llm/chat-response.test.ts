import { describe, expect, it } from 'vitest';
import { parseToolArguments } from './chat-response.js';

describe('parseToolArguments', () => {
  it('parses argument JSON', () => {
    expect(parseToolArguments('{"city":"Tokyo"}')).toEqual({ city: 'Tokyo' });
    expect(parseToolArguments('[1,2]')).toEqual([1, 2]);
  });

  it('reads an empty string (a call without arguments) as {}', () => {
    expect(parseToolArguments('')).toEqual({});
    expect(parseToolArguments('  ')).toEqual({});
  });

  it('gives undefined for malformed JSON instead of throwing', () => {
    expect(parseToolArguments('{"city":')).toBeUndefined();
    expect(parseToolArguments('nope')).toBeUndefined();
  });
});

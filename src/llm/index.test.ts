import { describe, expect, it } from 'vitest';
import * as root from '../index.js';
import * as llm from './index.js';

describe('llm public API', () => {
  it('exports the model helpers, the taxonomy and the classifiers', () => {
    for (const name of [
      'LlmError',
      'isLlmError',
      'ERROR_KINDS',
      'DEFAULT_ERROR_ACTIONS',
      'isErrorKind',
      'redactSecrets',
      'parseRateLimitHeaders',
      'parseGoDuration',
      'parseRetryAfter',
      'parseResetValue',
      'cooldownMs',
      'classifyHttpError',
      'classifyStreamError',
      'classifyThrown',
      'connectionError',
      'truncatedStreamError',
      'timeoutError',
      'abortedError',
      'contentFilterError',
      'collectStream',
      'isContentEvent',
      'parseToolArguments',
    ]) {
      expect(llm, name).toHaveProperty(name);
      expect(root, name).toHaveProperty(name);
    }
  });

  it('keeps internal helpers internal', () => {
    expect(llm).not.toHaveProperty('headerGetter');
    expect(llm).not.toHaveProperty('waitFromMessage');
  });
});

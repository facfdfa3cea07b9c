import { describe, expect, it } from 'vitest';
import { classifyHttpFailure, defaultHttpClassification } from '../../src/providers/declarative/classify.js';
import { transportErrorFrom } from '../../src/providers/declarative/http.js';

describe('default classification of HTTP failures', () => {
  it.each([
    [400, 'hard_decline'],
    [401, 'invalid_credentials'],
    [402, 'hard_decline'],
    [403, 'invalid_credentials'],
    [404, 'hard_decline'],
    [408, 'retryable'],
    [409, 'ambiguous'],
    [422, 'hard_decline'],
    [429, 'retryable'],
    [500, 'ambiguous'],
    [501, 'retryable'],
    [502, 'ambiguous'],
    [503, 'retryable'],
    [504, 'ambiguous'],
    [302, 'ambiguous'],
  ])('HTTP %i → %s', (status, expected) => {
    expect(defaultHttpClassification(status)).toBe(expected);
  });
});

describe('error table', () => {
  const rules = [
    { httpStatus: 402, classification: 'hard_decline' as const },
    { code: ['rate_limited', 'slow_down'], classification: 'retryable' as const },
    { httpStatus: [500, 599] as [number, number], code: 'processing', classification: 'ambiguous' as const },
    { httpStatus: 503, classification: 'hard_decline' as const },
  ];

  it.each<[number, string | undefined, string]>([
    [402, undefined, 'hard_decline'],
    [400, 'slow_down', 'retryable'],
    [503, 'processing', 'ambiguous'], // first match wins
    [503, undefined, 'hard_decline'],
    [500, 'other', 'ambiguous'], // no rule: default for 500
    [429, undefined, 'retryable'], // no rule: default
    [418, 'processing', 'hard_decline'], // range does not cover 418: default
  ])('HTTP %i code %s → %s', (status, code, expected) => {
    expect(classifyHttpFailure(rules, status, code)).toBe(expected);
  });
});

describe('network failures', () => {
  const fetchFailed = (cause: unknown) => Object.assign(new TypeError('fetch failed'), { cause });

  it.each<[string, unknown, boolean, false | 'maybe']>([
    [
      'connection refused',
      fetchFailed(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })),
      false,
      false,
    ],
    ['DNS failure', fetchFailed(Object.assign(new Error('x'), { code: 'ENOTFOUND' })), false, false],
    [
      'refused on every address (happy eyeballs)',
      fetchFailed(
        Object.assign(new AggregateError([Object.assign(new Error(), { code: 'ECONNREFUSED' })]), {
          code: 'ECONNREFUSED',
        }),
      ),
      false,
      false,
    ],
    [
      'connect timeout',
      fetchFailed(Object.assign(new Error('x'), { code: 'UND_ERR_CONNECT_TIMEOUT' })),
      false,
      false,
    ],
    [
      'reset after sending',
      fetchFailed(Object.assign(new Error('x'), { code: 'ECONNRESET' })),
      false,
      'maybe',
    ],
    [
      'socket closed by the other side',
      fetchFailed(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' })),
      false,
      'maybe',
    ],
    ['unknown failure', new Error('weird'), false, 'maybe'],
    ['our timeout', new DOMException('aborted', 'AbortError'), true, 'maybe'],
  ])('%s → sent: %s', (_label, err, timedOut, sent) => {
    expect(transportErrorFrom(err, timedOut).sent).toBe(sent);
  });
});

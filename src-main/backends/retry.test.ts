import { describe, expect, it } from 'vitest';

import { defaultRetryPolicy, parseRetryAfterMs, retryDelayMs, sleep, withRetries } from './retry.js';

const headers = (entries: Record<string, string>): Headers => new Headers(entries);

describe('parseRetryAfterMs', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');
  it.each([
    ['seconds', { 'retry-after': '2' }, 2000],
    ['fractional seconds', { 'retry-after': '0.5' }, 500],
    ['retry-after-ms wins', { 'retry-after-ms': '250', 'retry-after': '9' }, 250],
    ['an HTTP date', { 'retry-after': 'Wed, 01 Jan 2025 00:00:03 GMT' }, 3000],
    ['a past HTTP date means now', { 'retry-after': 'Tue, 31 Dec 2024 23:59:00 GMT' }, 0],
    ['garbage', { 'retry-after': 'soon' }, undefined],
    ['negative seconds', { 'retry-after': '-1' }, undefined],
    ['no header', {}, undefined],
  ])('%s', (_name, entries, expected) => {
    expect(parseRetryAfterMs(headers(entries), now)).toBe(expected);
  });

  it('takes undefined headers', () => {
    expect(parseRetryAfterMs(undefined)).toBeUndefined();
  });
});

describe('retryDelayMs', () => {
  const policy = { ...defaultRetryPolicy, baseDelayMs: 100, maxDelayMs: 1000, maxRetryAfterMs: 5000 };

  it('grows exponentially, with equal jitter between half and all of it', () => {
    expect(retryDelayMs(1, policy, undefined, () => 0)).toBe(50);
    expect(retryDelayMs(1, policy, undefined, () => 1)).toBe(100);
    expect(retryDelayMs(2, policy, undefined, () => 1)).toBe(200);
    expect(retryDelayMs(3, policy, undefined, () => 0.5)).toBe(300);
  });

  it('is capped at maxDelayMs', () => {
    expect(retryDelayMs(20, policy, undefined, () => 1)).toBe(1000);
  });

  it("follows the server's Retry-After, capped", () => {
    expect(retryDelayMs(1, policy, 1234)).toBe(1234);
    expect(retryDelayMs(1, policy, 60_000)).toBe(5000);
  });
});

describe('sleep', () => {
  it('resolves true after the time', async () => {
    await expect(sleep(5)).resolves.toBe(true);
  });

  it('resolves false at once when aborted', async () => {
    const controller = new AbortController();
    const sleeping = sleep(10_000, controller.signal);
    controller.abort();
    await expect(sleeping).resolves.toBe(false);
    await expect(sleep(10_000, controller.signal)).resolves.toBe(false);
  });
});

describe('withRetries', () => {
  const policy = { ...defaultRetryPolicy, retries: 2, baseDelayMs: 1 };

  it('retries retryable failures until success', async () => {
    let calls = 0;
    const result = await withRetries(
      async () => {
        calls += 1;
        if (calls < 3) throw new Error('flaky');
        return 'ok';
      },
      () => ({ retryable: true }),
      policy,
    );
    expect(result).toBe('ok');
    expect(calls).toBe(3);
  });

  it('gives up after the retries, rethrowing the last failure', async () => {
    let calls = 0;
    await expect(
      withRetries(
        async () => {
          calls += 1;
          throw new Error(`failure ${calls}`);
        },
        () => ({ retryable: true }),
        policy,
      ),
    ).rejects.toThrow('failure 3');
    expect(calls).toBe(3);
  });

  it('does not retry what is not retryable', async () => {
    let calls = 0;
    await expect(
      withRetries(
        async () => {
          calls += 1;
          throw new Error('fatal');
        },
        () => ({ retryable: false }),
        policy,
      ),
    ).rejects.toThrow('fatal');
    expect(calls).toBe(1);
  });
});

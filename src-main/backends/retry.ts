/** How a remote backend retries a request that failed before anything streamed. */
export interface RetryPolicy {
  /** Attempts after the first one; default 2 (so 3 tries in all). Spec key `retries`. */
  retries: number;
  /** Delay before the first retry, in milliseconds, doubled each retry (before jitter); default 1000. */
  baseDelayMs: number;
  /** Upper bound of the exponential delay, in milliseconds; default 20000. */
  maxDelayMs: number;
  /** Upper bound of a server's `Retry-After`, in milliseconds; default 60000. A longer wish is cut to this. */
  maxRetryAfterMs: number;
}

/** The policy used when neither the spec nor the backend's options say otherwise. */
export const defaultRetryPolicy: RetryPolicy = {
  retries: 2,
  baseDelayMs: 1000,
  maxDelayMs: 20_000,
  maxRetryAfterMs: 60_000,
};

/** The response headers that matter for retrying (a fetch `Headers` object fits). */
export interface HeaderSource {
  get(name: string): string | null;
}

/**
 * The wait a server asks for, in milliseconds, from `retry-after-ms` (OpenAI's, more precise) or `Retry-After`
 * (seconds or an HTTP date); undefined when neither is present and valid.
 */
export function parseRetryAfterMs(headers: HeaderSource | undefined, now: number = Date.now()): number | undefined {
  if (headers === undefined) return undefined;
  const milliseconds = headers.get('retry-after-ms');
  if (milliseconds !== null && milliseconds.trim() !== '') {
    const value = Number(milliseconds);
    if (Number.isFinite(value) && value >= 0) return value;
  }
  const retryAfter = headers.get('retry-after');
  if (retryAfter === null || retryAfter.trim() === '') return undefined;
  const seconds = Number(retryAfter);
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : undefined;
  const date = Date.parse(retryAfter);
  // A date in the past means "now": retry at once rather than ignore the header.
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * The delay before retry number `retry` (1 for the first retry): exponential with "equal jitter" (half fixed, half
 * random) so that many clients hitting one rate limit do not come back in lockstep. A server's `Retry-After` wins
 * when given, capped at `maxRetryAfterMs`.
 */
export function retryDelayMs(
  retry: number,
  policy: RetryPolicy,
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, policy.maxRetryAfterMs);
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry - 1));
  return exponential / 2 + (random() * exponential) / 2;
}

/** Waits `milliseconds`; resolves `false` early when `signal` aborts (never rejects), `true` otherwise. */
export function sleep(milliseconds: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve(false);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, milliseconds);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** What {@link withRetries} needs to know about a failure. */
export interface RetryDecision {
  /** Whether trying again may help (429, 5xx, connection errors). */
  retryable: boolean;
  /** The wait the server asked for, in milliseconds, if it did. */
  retryAfterMs?: number;
}

/**
 * Runs `attempt` until it succeeds, the failure is not retryable, the policy's retries are used up or `signal`
 * aborts; rethrows the last failure. For one-shot requests (listing models); streams retry in their own loop
 * because they must not retry once text has streamed.
 */
export async function withRetries<T>(
  attempt: (tryNumber: number) => Promise<T>,
  classify: (error: unknown) => RetryDecision,
  policy: RetryPolicy,
  signal?: AbortSignal,
): Promise<T> {
  for (let tryNumber = 1; ; tryNumber += 1) {
    try {
      return await attempt(tryNumber);
    } catch (error) {
      const decision = classify(error);
      if (!decision.retryable || tryNumber > policy.retries || signal?.aborted) throw error;
      const waited = await sleep(retryDelayMs(tryNumber, policy, decision.retryAfterMs), signal);
      if (!waited) throw error;
    }
  }
}

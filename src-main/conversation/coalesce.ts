import { StreamPartBatch, type StreamPart } from '../../src-shared/chat.js';

/**
 * Re-streams parts, merging consecutive text (and reasoning) deltas that piled up since the last batch. A fast
 * local model can emit thousands of one-token deltas a second; sending each as its own message over IPC or a
 * WebSocket makes the transport the bottleneck. The first delta goes out at once; later ones wait at most one
 * event-loop turn.
 */
export async function* coalesceDeltas(source: AsyncIterable<StreamPart>): AsyncGenerator<StreamPart> {
  const batch = new StreamPartBatch();
  const state: { finished: boolean; failure: { error: unknown } | null; wake: (() => void) | null } = {
    finished: false,
    failure: null,
    wake: null,
  };
  const iterator = source[Symbol.asyncIterator]();
  const pump = (async () => {
    try {
      for (let count = 1; ; count++) {
        const next = await iterator.next();
        if (next.done) break;
        batch.add(next.value);
        state.wake?.();
        // A source whose data is all buffered resolves every next() in microtasks and would starve the socket that
        // sends our batches; a turn of the event loop now and then lets the first text out early.
        if (count % 256 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
    } catch (error) {
      state.failure = { error };
    } finally {
      state.finished = true;
      state.wake?.();
    }
  })();
  try {
    for (;;) {
      if (batch.empty) {
        if (state.finished) break;
        await new Promise<void>((resolve) => (state.wake = resolve));
        state.wake = null;
        continue;
      }
      for (const part of batch.take()) yield part;
      // One event-loop turn before the next batch lets a fast source (a socket full of chunks, a local model) queue
      // what it has, so one message carries many deltas; a slow source loses only that turn (microseconds).
      if (!state.finished) await new Promise((resolve) => setImmediate(resolve));
    }
    if (state.failure !== null) throw state.failure.error;
  } finally {
    // The consumer stopped early (unsubscribed): let the source end its own way (abort comes through its signal).
    if (!state.finished) await iterator.return?.();
    await pump;
  }
}

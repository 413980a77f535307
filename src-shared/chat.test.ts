import { describe, expect, it } from 'vitest';
import { StreamPartBatch, type StreamPart } from './chat.js';

function batchOf(parts: readonly StreamPart[]): StreamPartBatch {
  const batch = new StreamPartBatch();
  for (const part of parts) batch.add(part);
  return batch;
}

describe('StreamPartBatch', () => {
  it('joins consecutive deltas of one kind and keeps every other part in its place', () => {
    const batch = batchOf([
      { type: 'reasoning-delta', text: 'hm' },
      { type: 'reasoning-delta', text: 'm. ' },
      { type: 'text-delta', text: 'Hel' },
      { type: 'text-delta', text: 'lo' },
      { type: 'warning', warning: { code: 'untrusted-origin', message: 'held back' } },
      { type: 'text-delta', text: '!' },
      { type: 'usage', usage: { input_tokens: 1, output_tokens: 4 } },
      { type: 'end', reason: 'stop' },
    ]);
    batch.delta('text-delta', 'never after the end in practice, but kept in order');
    expect(batch.take()).toEqual([
      { type: 'reasoning-delta', text: 'hmm. ' },
      { type: 'text-delta', text: 'Hello' },
      { type: 'warning', warning: { code: 'untrusted-origin', message: 'held back' } },
      { type: 'text-delta', text: '!' },
      { type: 'usage', usage: { input_tokens: 1, output_tokens: 4 } },
      { type: 'end', reason: 'stop' },
      { type: 'text-delta', text: 'never after the end in practice, but kept in order' },
    ]);
  });

  it('is empty after take, and says whether anything waits', () => {
    const batch = new StreamPartBatch();
    expect(batch.empty).toBe(true);
    batch.delta('text-delta', 'a');
    expect(batch.empty).toBe(false);
    expect(batch.take()).toEqual([{ type: 'text-delta', text: 'a' }]);
    expect(batch.empty).toBe(true);
    expect(batch.take()).toEqual([]);
  });
});

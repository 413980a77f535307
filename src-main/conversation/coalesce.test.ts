import { describe, expect, it } from 'vitest';
import type { StreamPart } from '../../src-shared/chat.js';
import { coalesceDeltas } from './coalesce.js';

async function* burst(parts: StreamPart[]): AsyncGenerator<StreamPart> {
  for (const part of parts) yield part;
}

async function collect(source: AsyncIterable<StreamPart>, slowConsumer = false): Promise<StreamPart[]> {
  const parts: StreamPart[] = [];
  for await (const part of source) {
    parts.push(part);
    if (slowConsumer) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return parts;
}

const deltas = (count: number): StreamPart[] =>
  Array.from({ length: count }, (_, index) => ({ type: 'text-delta', text: `${index} ` }));

describe('coalesceDeltas', () => {
  it('keeps every character and the order of non-text parts', async () => {
    const input: StreamPart[] = [
      { type: 'reasoning-delta', text: 'think ' },
      { type: 'reasoning-delta', text: 'more' },
      ...deltas(50),
      { type: 'usage', usage: { input_tokens: 1, output_tokens: 50 } },
      { type: 'end', reason: 'stop' },
    ];
    const output = await collect(coalesceDeltas(burst(input)), true);
    const text = (parts: StreamPart[], type: string) =>
      parts.map((part) => (part.type === type && 'text' in part ? part.text : '')).join('');
    expect(text(output, 'text-delta')).toBe(text(input, 'text-delta'));
    expect(text(output, 'reasoning-delta')).toBe('think more');
    expect(output.slice(-2)).toEqual(input.slice(-2));
  });

  it('merges deltas that piled up while the consumer was busy', async () => {
    const output = await collect(coalesceDeltas(burst(deltas(200))), true);
    expect(output.length).toBeLessThan(200);
  });

  it('passes the source’s error on', async () => {
    async function* failing(): AsyncGenerator<StreamPart> {
      yield { type: 'text-delta', text: 'x' };
      throw new Error('boom');
    }
    await expect(collect(coalesceDeltas(failing()))).rejects.toThrow('boom');
  });

  it('returns the source when the consumer stops early', async () => {
    let returned = false;
    async function* endless(): AsyncGenerator<StreamPart> {
      try {
        for (;;) {
          yield { type: 'text-delta', text: 'x' };
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
      } finally {
        returned = true;
      }
    }
    for await (const part of coalesceDeltas(endless())) {
      expect(part.type).toBe('text-delta');
      break;
    }
    expect(returned).toBe(true);
  });
});

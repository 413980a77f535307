import { describe, expect, it } from 'vitest';
import type { ChatMessage, GenerationOptions, StreamPart } from '../../src-shared/chat.js';
import type { JsonObject } from '../../src-shared/json.js';
import { backend } from './programmatic.js';

const context = { getApiKey: async () => ({ apiKey: undefined }) };

async function run(
  spec: JsonObject,
  messages: ChatMessage[],
  options: GenerationOptions = {},
  signal = new AbortController().signal,
): Promise<StreamPart[]> {
  const model = await backend.createModel({ model_name: 'p', backend: 'programmatic', ...spec }, context);
  const parts: StreamPart[] = [];
  for await (const part of model.generate({ messages, options }, signal)) parts.push(part);
  return parts;
}

const textOf = (parts: StreamPart[]) => parts.map((part) => (part.type === 'text-delta' ? part.text : '')).join('');
const user = (content: string): ChatMessage => ({ role: 'user', content });
const assistant = (content: string): ChatMessage => ({ role: 'assistant', content });

describe('programmatic backend', () => {
  it.each([
    ['first turn', { responses: ['a b', 'c'] }, [user('x')], 'a b'],
    ['second turn', { responses: ['a b', 'c'] }, [user('x'), assistant('a b'), user('y')], 'c'],
    [
      'runs out: the last repeats',
      { responses: ['a', 'b'] },
      [user('1'), assistant('a'), user('2'), assistant('b'), user('3')],
      'b',
    ],
    ['echo', { echo: true }, [user('hello  there ')], 'hello  there '],
    ['no script: echo', {}, [user('first'), assistant('x'), user('second')], 'second'],
    ['model_config form', { model_config: { responses: ['nested'] } }, [user('x')], 'nested'],
  ])('%s', async (_name, spec, messages, expected) => {
    const parts = await run(spec as JsonObject, messages);
    expect(textOf(parts)).toBe(expected);
    expect(parts.at(-1)).toEqual({ type: 'end', reason: 'stop' });
  });

  it('streams word by word', async () => {
    const parts = await run({ responses: ['one two three'] }, [user('x')]);
    expect(parts.filter((part) => part.type === 'text-delta')).toHaveLength(3);
    expect(parts.find((part) => part.type === 'usage')).toEqual({
      type: 'usage',
      usage: { input_tokens: 1, output_tokens: 3 },
    });
  });

  it('stops at max_tokens with reason length', async () => {
    const parts = await run({ responses: ['one two three four'] }, [user('x')], { max_tokens: 2 });
    expect(textOf(parts)).toBe('one two ');
    expect(parts.at(-1)).toEqual({ type: 'end', reason: 'length' });
  });

  it('honours stop strings, from the call or the spec', async () => {
    expect(textOf(await run({ responses: ['alpha beta STOP gamma'] }, [user('x')], { stop: ['STOP'] }))).toBe(
      'alpha beta ',
    );
    expect(textOf(await run({ responses: ['alpha beta STOP gamma'], stop: ['beta'] }, [user('x')]))).toBe('alpha ');
  });

  it('ends with usage and end: abort when stopped', async () => {
    const controller = new AbortController();
    const model = await backend.createModel(
      { model_name: 'p', backend: 'programmatic', responses: ['a b c d e f g h'], delay_ms: 20 },
      context,
    );
    const parts: StreamPart[] = [];
    for await (const part of model.generate({ messages: [user('x')], options: {} }, controller.signal)) {
      parts.push(part);
      if (part.type === 'text-delta' && parts.length === 2) controller.abort();
    }
    expect(textOf(parts)).toBe('a b ');
    expect(parts.slice(-2)).toEqual([
      { type: 'usage', usage: { input_tokens: 1, output_tokens: 2 } },
      { type: 'end', reason: 'abort' },
    ]);
  });

  it.each([
    [{ responses: 'not a list' }, 'responses'],
    [{ responses: [] }, 'responses'],
    [{ echo: 'yes' }, 'echo'],
    [{ delay_ms: -1 }, 'delay_ms'],
    [{ echo: true, responses: ['a'] }, 'not both'],
  ])('rejects a bad spec %j', async (spec, mention) => {
    await expect(
      backend.createModel({ model_name: 'p', backend: 'programmatic', ...spec }, context),
    ).rejects.toMatchObject({
      code: 'invalid-spec',
      message: expect.stringContaining(mention),
    });
  });

  it('reports bad generation options as an error part', async () => {
    const parts = await run({ responses: ['a'] }, [user('x')], { temperature: -1 });
    expect(parts).toEqual([expect.objectContaining({ type: 'error', partial: false })]);
  });
});

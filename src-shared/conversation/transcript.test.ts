import { describe, expect, it } from 'vitest';
import type { ChatMessage, StreamPart } from '../chat.js';
import {
  applyStreamPart,
  estimateTokens,
  fitHistory,
  historyFor,
  startVersion,
  typedVersion,
  type MessageVersion,
  type TranscriptMessage,
} from './transcript.js';

const start = Date.parse('2026-01-01T00:00:00.000Z');

function fold(parts: Array<[StreamPart, number]>): MessageVersion {
  return parts.reduce((version, [part, at]) => applyStreamPart(version, part, start + at), startVersion(start));
}

function message(id: string, speaker: string, to: string[], text: string): TranscriptMessage {
  return {
    id,
    speaker,
    to,
    created_at: new Date(start).toISOString(),
    versions: [typedVersion(text, start)],
    current: 0,
  };
}

describe('applyStreamPart', () => {
  it('folds text, reasoning, usage and the end into a reply with its timing', () => {
    const version = fold([
      [{ type: 'reasoning-delta', text: 'think ' }, 100],
      [{ type: 'text-delta', text: 'Hello' }, 150],
      [{ type: 'text-delta', text: ' world' }, 200],
      [{ type: 'usage', usage: { input_tokens: 7, output_tokens: 10 } }, 1100],
      [{ type: 'end', reason: 'stop' }, 1100],
    ]);
    expect(version).toMatchObject({
      text: 'Hello world',
      reasoning: 'think ',
      status: 'done',
      finish_reason: 'stop',
      usage: { input_tokens: 7, output_tokens: 10 },
      // First token at 100 ms; 10 tokens over the 1000 ms from there to the end.
      timing: { first_token_ms: 100, duration_ms: 1100, tokens_per_second: 10 },
    });
  });

  it.each([
    [{ type: 'end', reason: 'abort' }, 'stopped', 'abort'],
    [{ type: 'end', reason: 'length' }, 'done', 'length'],
    [{ type: 'error', error: { code: 'network', message: 'gone' }, partial: true }, 'error', 'error'],
  ] satisfies Array<[StreamPart, string, string]>)('ends on %j as %s', (part, status, reason) => {
    const version = fold([
      [{ type: 'text-delta', text: 'so far' }, 10],
      [part, 20],
    ]);
    expect(version.status).toBe(status);
    expect(version.finish_reason).toBe(reason);
    // Text that streamed before the end is kept, stopped or failed.
    expect(version.text).toBe('so far');
  });

  it('keeps the question to a person until the answer streams, and ignores parts after the end', () => {
    const asked = fold([[{ type: 'human-input-needed', request_id: 'r1', prompt: 'your move' }, 5]]);
    expect(asked.human_request).toEqual({ request_id: 'r1', prompt: 'your move' });
    const answered = applyStreamPart(asked, { type: 'text-delta', text: 'e4' }, start + 9);
    expect(answered.human_request).toBeUndefined();
    const ended = applyStreamPart(answered, { type: 'end', reason: 'stop' }, start + 10);
    expect(applyStreamPart(ended, { type: 'text-delta', text: 'late' }, start + 11)).toBe(ended);
  });

  it('has no rate without usage or without text', () => {
    const version = fold([[{ type: 'end', reason: 'stop' }, 50]]);
    expect(version.timing).toEqual({ first_token_ms: null, duration_ms: 50, tokens_per_second: null });
  });
});

describe('historyFor', () => {
  const pair = [
    message('1', 'user', ['a', 'b'], 'hi both'),
    message('2', 'a', ['user'], 'A here'),
    message('3', 'b', ['user'], 'B here'),
    message('4', 'user', ['a', 'b'], 'again'),
  ];

  it('gives each Pair side only its own replies', () => {
    expect(historyFor('a', pair, 'be A')).toEqual([
      { role: 'system', content: 'be A' },
      { role: 'user', content: 'hi both' },
      { role: 'assistant', content: 'A here' },
      { role: 'user', content: 'again' },
    ]);
    expect(historyFor('b', pair)).toEqual([
      { role: 'user', content: 'hi both' },
      { role: 'assistant', content: 'B here' },
      { role: 'user', content: 'again' },
    ]);
  });

  it('turns the other side of a dialogue into user turns', () => {
    const dialogue = [
      message('1', 'user', ['a'], 'opening'),
      message('2', 'a', ['b', 'user'], 'from A'),
      message('3', 'b', ['a', 'user'], 'from B'),
    ];
    expect(historyFor('a', dialogue)).toEqual([
      { role: 'user', content: 'opening' },
      { role: 'assistant', content: 'from A' },
      { role: 'user', content: 'from B' },
    ]);
    expect(historyFor('b', dialogue)).toEqual([
      { role: 'user', content: 'from A' },
      { role: 'assistant', content: 'from B' },
    ]);
  });

  it('leaves out replies that failed before any text', () => {
    const failed: TranscriptMessage = {
      ...message('2', 'a', ['user'], ''),
      versions: [{ ...startVersion(start), status: 'error', error: { code: 'network', message: 'x' } }],
    };
    expect(historyFor('a', [pair[0]!, failed])).toEqual([{ role: 'user', content: 'hi both' }]);
  });
});

describe('fitHistory', () => {
  const turns: ChatMessage[] = [
    { role: 'system', content: 'sys' },
    { role: 'user', content: 'u1' },
    { role: 'assistant', content: 'a1' },
    { role: 'user', content: 'u2' },
    { role: 'assistant', content: 'a2' },
    { role: 'user', content: 'u3' },
  ];

  it('drops the oldest turns after the system prompt, a user turn with its answer', () => {
    const result = fitHistory(turns, (candidate) => candidate.length <= 4);
    expect(result).toEqual({
      history: [turns[0], turns[3], turns[4], turns[5]],
      dropped: 2,
      fits: true,
    });
  });

  it('keeps everything that fits', () => {
    expect(fitHistory(turns, () => true)).toEqual({ history: turns, dropped: 0, fits: true });
  });

  it('says when even the system prompt and the newest message do not fit', () => {
    const result = fitHistory(turns, () => false);
    expect(result.fits).toBe(false);
    expect(result.history).toEqual([turns[0], turns[5]]);
  });
});

describe('estimateTokens', () => {
  it('counts four characters a token plus framing per message', () => {
    expect(estimateTokens([{ role: 'user', content: 'x'.repeat(8) }])).toBe(6);
    expect(estimateTokens([])).toBe(0);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { StreamPart } from '../chat.js';
import { applySessionEvent, mergeSessionEvents, type SessionEvent, type SessionView } from './session.js';
import { startVersion, type TranscriptMessage } from './transcript.js';

const start = Date.parse('2026-01-01T00:00:00.000Z');

function streaming(id: string): TranscriptMessage {
  return {
    id,
    speaker: 'model',
    to: ['user'],
    created_at: new Date(start).toISOString(),
    versions: [startVersion(start)],
    current: 0,
  };
}

const session: SessionView = {
  id: 's',
  kind: 'chat',
  title: '',
  created_at: new Date(start).toISOString(),
  updated_at: new Date(start).toISOString(),
  participants: [],
  messages: [streaming('m1'), streaming('m2')],
};

function fold(events: readonly SessionEvent[]): SessionView | null {
  return events.reduce<SessionView | null>(applySessionEvent, session);
}

/** Merges neighbours as the event log does for a subscriber whose events piled up. */
function mergeRuns(events: readonly SessionEvent[]): SessionEvent[] {
  const merged: SessionEvent[] = [];
  for (const event of events) {
    const last = merged.at(-1);
    const both = last === undefined ? null : mergeSessionEvents(last, event);
    if (both === null) merged.push(event);
    else merged[merged.length - 1] = both;
  }
  return merged;
}

const part = (message_id: string, streamPart: StreamPart, at: number): SessionEvent => ({
  type: 'part',
  message_id,
  part: streamPart,
  at: start + at,
});

describe('mergeSessionEvents', () => {
  it('joins consecutive deltas of one kind of one message, keeping when the first arrived', () => {
    const merged = mergeSessionEvents(
      part('m1', { type: 'text-delta', text: 'Hel' }, 120),
      part('m1', { type: 'text-delta', text: 'lo' }, 180),
    );
    expect(merged).toEqual({
      type: 'part',
      message_id: 'm1',
      part: { type: 'text-delta', text: 'Hello' },
      at: start + 180,
      since: start + 120,
    });
    // The first token's time comes from the first delta, the session's change time from the last.
    const folded = fold([merged!]);
    expect(folded?.messages[0]?.versions[0]?.timing?.first_token_ms).toBe(120);
    expect(folded?.updated_at).toBe(new Date(start + 180).toISOString());
  });

  it.each([
    [
      'other messages',
      part('m1', { type: 'text-delta', text: 'a' }, 1),
      part('m2', { type: 'text-delta', text: 'b' }, 2),
    ],
    [
      'text and reasoning',
      part('m1', { type: 'reasoning-delta', text: 'a' }, 1),
      part('m1', { type: 'text-delta', text: 'b' }, 2),
    ],
    [
      'a delta and the end',
      part('m1', { type: 'text-delta', text: 'a' }, 1),
      part('m1', { type: 'end', reason: 'stop' }, 2),
    ],
    ['a part and another event', part('m1', { type: 'text-delta', text: 'a' }, 1), { type: 'session', title: 'x' }],
  ] satisfies Array<[string, SessionEvent, SessionEvent]>)('leaves %s apart', (_name, earlier, later) => {
    expect(mergeSessionEvents(earlier, later)).toBeNull();
  });

  it('folds to the same session as the events one by one', () => {
    const streamPart = fc.oneof(
      fc.string({ maxLength: 4 }).map((text): StreamPart => ({ type: 'text-delta', text })),
      fc.string({ maxLength: 4 }).map((text): StreamPart => ({ type: 'reasoning-delta', text })),
      fc.constant<StreamPart>({ type: 'usage', usage: { input_tokens: 3, output_tokens: 5 } }),
      fc.constant<StreamPart>({ type: 'end', reason: 'stop' }),
    );
    const events = fc
      .array(fc.tuple(fc.constantFrom('m1', 'm2'), streamPart, fc.nat({ max: 50 })), { maxLength: 40 })
      .map((items) => {
        let at = 0;
        return items.map(([message, streamed, gap]) => part(message, streamed, (at += gap)));
      });
    fc.assert(
      fc.property(events, (list) => {
        expect(fold(mergeRuns(list))).toEqual(fold(list));
      }),
    );
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ServerSentEventDecoder } from './server-sent-events.js';

const encoder = new TextEncoder();

/** Feeds `body` to a decoder in pieces cut at the given byte offsets; returns every event's data. */
function decode(body: string | Uint8Array, cuts: number[] = []): string[] {
  const bytes = typeof body === 'string' ? encoder.encode(body) : body;
  const decoder = new ServerSentEventDecoder();
  const events: string[] = [];
  let start = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    events.push(...decoder.push(bytes.subarray(start, cut)));
    start = cut;
  }
  events.push(...decoder.push(bytes.subarray(start)), ...decoder.end());
  return events;
}

describe('ServerSentEventDecoder', () => {
  it.each([
    ['one event', 'data: {"a":1}\n\n', ['{"a":1}']],
    ['several in one read', 'data: 1\n\ndata: 2\n\ndata: [DONE]\n\n', ['1', '2', '[DONE]']],
    ['no space after the colon', 'data:x\n\n', ['x']],
    ['only the first space is dropped', 'data:  x\n\n', [' x']],
    ['data lines joined with LF', 'data: a\ndata: b\n\n', ['a\nb']],
    ['CRLF line ends', 'data: a\r\n\r\ndata: b\r\n\r\n', ['a', 'b']],
    ['CR line ends', 'data: a\r\rdata: b\r\r', ['a', 'b']],
    ['comments, event, id and retry skipped', ': ping\nevent: message\nid: 7\nretry: 10\ndata: a\n\n', ['a']],
    ['a field that only starts with data', 'database: x\ndata: y\n\n', ['y']],
    ['a bare data line is an empty value', 'data\n\n', ['']],
    ['a blank line without data dispatches nothing', '\n\n: keep-alive\n\n', []],
    ['an event cut off by the end is dropped', 'data: a\n\ndata: b\n', ['a']],
    ['a byte order mark is skipped', '\uFEFFdata: a\n\n', ['a']],
  ])('%s', (_name, body, expected) => {
    expect(decode(body)).toEqual(expected);
  });

  it('returns the events of each read as they complete', () => {
    const decoder = new ServerSentEventDecoder();
    expect(decoder.push(encoder.encode('data: one\n\ndata: t'))).toEqual(['one']);
    expect(decoder.push(encoder.encode('wo\n'))).toEqual([]);
    expect(decoder.push(encoder.encode('\n'))).toEqual(['two']);
  });

  it('keeps a character whose bytes are split between reads', () => {
    const bytes = encoder.encode('data: é€😀\n\n');
    for (let cut = 1; cut < bytes.length; cut++) expect(decode(bytes, [cut])).toEqual(['é€😀']);
  });

  it('treats a CRLF split between reads as one line end', () => {
    expect(decode('data: a\r\n\r\ndata: b\r\n\r\n', [8, 9, 10])).toEqual(['a', 'b']);
    // A CR at the end of a read followed by an empty read, then LF: still one line end.
    const decoder = new ServerSentEventDecoder();
    expect(decoder.push(encoder.encode('data: a\r'))).toEqual([]);
    expect(decoder.push(new Uint8Array())).toEqual([]);
    expect(decoder.push(encoder.encode('\n\r\n'))).toEqual(['a']);
  });

  it('gives the same events however the bytes are split', () => {
    const line = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 12 }).map((text) => `data: ${text.replace(/[\r\n]/g, '')}`),
      fc.constantFrom(': comment', 'event: x', 'id: 1', 'retry: 5', ''),
    );
    const ending = fc.constantFrom('\n', '\r\n', '\r');
    fc.assert(
      fc.property(
        fc.array(fc.tuple(line, ending), { maxLength: 30 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (lines, cutSeeds) => {
          const body = encoder.encode(lines.map(([text, end]) => text + end).join(''));
          const cuts = cutSeeds.map((seed) => (body.length === 0 ? 0 : seed % body.length));
          expect(decode(body, cuts)).toEqual(decode(body));
        },
      ),
    );
  });
});

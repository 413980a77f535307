import { describe, expect, it } from 'vitest';
import { EventLog, type TrackedEvent } from './event-log.js';

/** Reads a subscription until `count` events arrived, then leaves. */
async function read(log: EventLog<string>, lastEventId: string | null, count: number): Promise<TrackedEvent<string>[]> {
  const controller = new AbortController();
  const seen: TrackedEvent<string>[] = [];
  for await (const entry of log.subscribe(lastEventId, () => 'snapshot', controller.signal)) {
    seen.push(entry);
    if (seen.length === count) controller.abort();
  }
  return seen;
}

describe('EventLog', () => {
  it('starts a new subscriber with a snapshot tagged with the latest id', async () => {
    const log = new EventLog<string>();
    log.emit('one');
    log.emit('two');
    const [first] = await read(log, null, 1);
    expect(first).toEqual({ id: `${log.epoch}:2`, event: 'snapshot' });
  });

  it('replays what a reconnecting subscriber missed, then goes on live', async () => {
    const log = new EventLog<string>();
    log.emit('one');
    log.emit('two');
    log.emit('three');
    const reading = read(log, `${log.epoch}:1`, 3);
    log.emit('four');
    expect((await reading).map((entry) => entry.event)).toEqual(['two', 'three', 'four']);
  });

  it.each([
    ['an id of another log', 'other:1'],
    ['an id from the future', 'EPOCH:99'],
    ['a malformed id', 'nonsense'],
    ['an id older than what the log keeps', 'EPOCH:1'],
  ])('sends a snapshot for %s', async (_name, id) => {
    const log = new EventLog<string>(2);
    for (const event of ['one', 'two', 'three', 'four']) log.emit(event);
    const [first] = await read(log, id.replace('EPOCH', log.epoch), 1);
    expect(first?.event).toBe('snapshot');
  });

  it('counts its subscribers and calls onEnd when one leaves', async () => {
    const log = new EventLog<string>();
    const controller = new AbortController();
    let ended = false;
    const iterator = log.subscribe(
      null,
      () => 'snapshot',
      controller.signal,
      () => (ended = true),
    );
    await iterator.next();
    expect(log.subscribers).toBe(1);
    controller.abort();
    expect((await iterator.next()).done).toBe(true);
    expect(log.subscribers).toBe(0);
    expect(ended).toBe(true);
  });
});

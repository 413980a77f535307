import { describe, expect, it } from 'vitest';
import { EventLog, type EventPace, type TrackedEvent } from './event-log.js';

/** Strings starting with `+` merge (a stand-in for text deltas); anything else does not. */
const mergePluses = (earlier: string, later: string): string | null =>
  earlier.startsWith('+') && later.startsWith('+') ? earlier + later.slice(1) : null;

/** A pace the test switches: busy until `release()`. */
function switchablePace(): EventPace & { hold(): void; release(): void } {
  let gate: { promise: Promise<void>; open: () => void } | null = null;
  return {
    busy: () => gate?.promise ?? null,
    hold() {
      let open: () => void = () => undefined;
      const promise = new Promise<void>((resolve) => (open = resolve));
      gate = { promise, open };
    },
    release() {
      const current = gate;
      gate = null;
      current?.open();
    },
  };
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

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
    const log = new EventLog<string>({ limit: 2 });
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

  it('keeps at least its limit of events for reconnecting subscribers', async () => {
    const log = new EventLog<string>({ limit: 8 });
    for (let index = 1; index <= 100; index++) log.emit(`e${index}`);
    const replayed = await read(log, `${log.epoch}:92`, 8);
    expect(replayed.map((entry) => entry.event)).toEqual(['e93', 'e94', 'e95', 'e96', 'e97', 'e98', 'e99', 'e100']);
  });

  it('merges events that piled up before the subscriber took them, tagged with the last id', async () => {
    const log = new EventLog<string>({ merge: mergePluses });
    const controller = new AbortController();
    const iterator = log.subscribe(null, () => 'snapshot', controller.signal);
    await iterator.next();
    for (const event of ['+a', '+b', 'x', '+c', '+d']) log.emit(event);
    const seen = [(await iterator.next()).value, (await iterator.next()).value, (await iterator.next()).value];
    expect(seen).toEqual([
      { id: `${log.epoch}:2`, event: '+ab' },
      { id: `${log.epoch}:3`, event: 'x' },
      { id: `${log.epoch}:5`, event: '+cd' },
    ]);
    controller.abort();
    expect((await iterator.next()).done).toBe(true);
  });

  it('holds events while the reader is busy and sends them merged when it is ready', async () => {
    const log = new EventLog<string>({ merge: mergePluses });
    const pace = switchablePace();
    const controller = new AbortController();
    const iterator = log.subscribe(null, () => 'snapshot', controller.signal, undefined, pace);
    await iterator.next();
    pace.hold();
    const next = iterator.next();
    log.emit('+a');
    // A turn of the event loop: an unpaced subscriber would have sent '+a' alone by now.
    await turn();
    log.emit('+b');
    log.emit('+c');
    pace.release();
    expect((await next).value).toEqual({ id: `${log.epoch}:3`, event: '+abc' });
    controller.abort();
    expect((await iterator.next()).done).toBe(true);
  });

  it('ends a subscriber that leaves while its reader is busy', async () => {
    const log = new EventLog<string>();
    const pace = switchablePace();
    const controller = new AbortController();
    const iterator = log.subscribe(null, () => 'snapshot', controller.signal, undefined, pace);
    await iterator.next();
    pace.hold();
    const next = iterator.next();
    log.emit('one');
    controller.abort();
    expect((await next).done).toBe(true);
    expect(log.subscribers).toBe(0);
  });
});

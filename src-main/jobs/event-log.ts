import { randomBytes } from 'node:crypto';

/** An event with the id a client resumes after (`tracked` in tRPC): `<epoch>:<sequence number>`. */
export interface TrackedEvent<Event> {
  id: string;
  event: Event;
}

/** How many events a log keeps for clients that reconnect; an older resume point gets a snapshot instead. */
const defaultLimit = 5000;

/**
 * The events of one long-lived thing in main (a session, a game run), for any number of subscribers: each gets a
 * snapshot first, then every event; one that reconnects with the last id it saw gets what it missed instead, when the
 * log still has it. Ids carry an epoch that changes with every log, so an id from an earlier process (or an evicted
 * and reloaded session) is never mistaken for one of this log's.
 */
export class EventLog<Event> {
  readonly epoch = randomBytes(4).toString('hex');
  private seq = 0;
  private readonly entries: TrackedEvent<Event>[] = [];
  private readonly listeners = new Set<(entry: TrackedEvent<Event>) => void>();

  constructor(private readonly limit = defaultLimit) {}

  /** How many subscribers are reading now. */
  get subscribers(): number {
    return this.listeners.size;
  }

  /** Records an event and hands it to every subscriber. */
  emit(event: Event): void {
    this.seq += 1;
    const entry = { id: `${this.epoch}:${this.seq}`, event };
    this.entries.push(entry);
    if (this.entries.length > this.limit) this.entries.splice(0, this.entries.length - this.limit);
    for (const listener of this.listeners) listener(entry);
  }

  private sequenceOf(id: string): number {
    return Number(id.slice(id.indexOf(':') + 1));
  }

  /** What a client that saw `lastEventId` missed, or null when the log cannot tell (then it needs a snapshot). */
  private missedSince(lastEventId: string | null | undefined): TrackedEvent<Event>[] | null {
    if (lastEventId === null || lastEventId === undefined) return null;
    const [epoch, text] = lastEventId.split(':');
    const last = Number(text);
    if (epoch !== this.epoch || !Number.isInteger(last) || last > this.seq) return null;
    if (last === this.seq) return [];
    const oldest = this.entries[0];
    if (oldest === undefined || this.sequenceOf(oldest.id) > last + 1) return null;
    return this.entries.filter((entry) => this.sequenceOf(entry.id) > last);
  }

  /**
   * The events for one subscriber until `signal` aborts: a snapshot (made by `snapshot()` at the moment the
   * subscription starts, tagged with the latest id) or, when resuming, the missed events; then every new one.
   * `onEnd` runs when the subscriber leaves.
   */
  async *subscribe(
    lastEventId: string | null | undefined,
    snapshot: () => Event,
    signal: AbortSignal,
    onEnd?: () => void,
  ): AsyncGenerator<TrackedEvent<Event>> {
    const pending: TrackedEvent<Event>[] = [];
    let wake: (() => void) | null = null;
    const listener = (entry: TrackedEvent<Event>): void => {
      pending.push(entry);
      wake?.();
    };
    const onAbort = (): void => wake?.();
    this.listeners.add(listener);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      pending.unshift(...(this.missedSince(lastEventId) ?? [{ id: `${this.epoch}:${this.seq}`, event: snapshot() }]));
      while (!signal.aborted) {
        const next = pending.shift();
        if (next !== undefined) {
          yield next;
          continue;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = null;
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.listeners.delete(listener);
      onEnd?.();
    }
  }
}

import { randomBytes } from 'node:crypto';

/** An event with the id a client resumes after (`tracked` in tRPC): `<epoch>:<sequence number>`. */
export interface TrackedEvent<Event> {
  id: string;
  event: Event;
}

/** How many events a log keeps for clients that reconnect; an older resume point gets a snapshot instead. */
const defaultLimit = 5000;

/**
 * How fast a subscriber's reader takes events: for a client on a WebSocket, whether its socket has more queued than
 * it can pass on (a slow network, a client that stopped reading). While it is busy, events wait and merge.
 */
export interface EventPace {
  /** Null when the reader can take an event now; else a promise that resolves when it can (or will never need to). */
  busy(): Promise<void> | null;
}

/** Options of an {@link EventLog}. */
export interface EventLogOptions<Event> {
  /** Events kept for reconnecting clients; default 5000. */
  limit?: number;
  /**
   * One event that says what `earlier` then `later` say, or null when they cannot be merged. A subscriber whose
   * events pile up gets them merged, tagged with the later id, so a slow reader gets fewer, larger messages.
   */
  merge?(earlier: Event, later: Event): Event | null;
}

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

  private readonly limit: number;
  private readonly merge: EventLogOptions<Event>['merge'];

  constructor(options: EventLogOptions<Event> = {}) {
    this.limit = options.limit ?? defaultLimit;
    this.merge = options.merge;
  }

  /** How many subscribers are reading now. */
  get subscribers(): number {
    return this.listeners.size;
  }

  /** Records an event and hands it to every subscriber. */
  emit(event: Event): void {
    this.seq += 1;
    const entry = { id: `${this.epoch}:${this.seq}`, event };
    this.entries.push(entry);
    // Trimmed a quarter at a time: removing the oldest entry on every event moved the whole array each time (about
    // 100 µs an event at 5000 entries, once a long session had filled its log).
    if (this.entries.length > this.limit + Math.max(1, this.limit >> 2)) {
      this.entries.splice(0, this.entries.length - this.limit);
    }
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
   * Events that pile up before the subscriber takes them (while `pace` says its reader is busy, or while it is
   * handling the last one) are merged where the log's `merge` allows. `onEnd` runs when the subscriber leaves.
   */
  async *subscribe(
    lastEventId: string | null | undefined,
    snapshot: () => Event,
    signal: AbortSignal,
    onEnd?: () => void,
    pace?: EventPace,
  ): AsyncGenerator<TrackedEvent<Event>> {
    let pending: TrackedEvent<Event>[] = [];
    let wake: (() => void) | null = null;
    const listener = (entry: TrackedEvent<Event>): void => {
      pending.push(entry);
      wake?.();
    };
    const onAbort = (): void => wake?.();
    /** Resolves at the next event, the abort, or a call of `wake` from elsewhere. */
    const sleep = (): Promise<void> =>
      new Promise<void>((resolve) => {
        wake = resolve;
      }).then(() => {
        wake = null;
      });
    this.listeners.add(listener);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      pending.unshift(...(this.missedSince(lastEventId) ?? [{ id: `${this.epoch}:${this.seq}`, event: snapshot() }]));
      while (!signal.aborted) {
        if (pending.length === 0) {
          await sleep();
          continue;
        }
        const busy = pace?.busy() ?? null;
        if (busy !== null) {
          // Only the reader being ready (or the subscriber leaving) ends this wait; new events just pile up.
          let ready = false;
          void busy.then(() => {
            ready = true;
            wake?.();
          });
          while (!ready && !signal.aborted) await sleep();
          continue;
        }
        const taken = pending;
        pending = [];
        for (const entry of this.merged(taken)) {
          yield entry;
          if (signal.aborted) break;
        }
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.listeners.delete(listener);
      onEnd?.();
    }
  }

  /** `entries` with each run of mergeable neighbours made one, tagged with its last id. */
  private merged(entries: TrackedEvent<Event>[]): TrackedEvent<Event>[] {
    const merge = this.merge;
    if (merge === undefined || entries.length < 2) return entries;
    const result: TrackedEvent<Event>[] = [entries[0]!];
    for (let index = 1; index < entries.length; index++) {
      const entry = entries[index]!;
      const last = result[result.length - 1]!;
      const both = merge(last.event, entry.event);
      if (both === null) result.push(entry);
      else result[result.length - 1] = { id: entry.id, event: both };
    }
    return result;
  }
}

import { AppError } from '../../src-shared/errors.js';

/** Someone waiting in a lane: told its place as the line moves, let in when a turn is free. */
interface Waiter {
  admit(): void;
  onPosition(position: number): void;
}

interface Lane {
  running: number;
  readonly waiting: Waiter[];
}

/**
 * One line per loaded local model: API requests on it take turns (as many at once as the model has sequences), in
 * the order they came, and each waiting one knows its place. The runtime would queue them too, but silently; the
 * app shows the places, so the line is kept here.
 */
export class ModelLanes {
  private readonly lanes = new Map<string, Lane>();

  /**
   * Waits for a turn on lane `key`, which lets `capacity` requests run at once. While waiting, `onPosition` gets the
   * place in line (1: next) each time it changes. Resolves with the function that ends the turn (call it once);
   * rejects with `aborted` when `signal` aborts first.
   */
  enter(
    key: string,
    capacity: number,
    signal: AbortSignal,
    onPosition: (position: number) => void,
  ): Promise<() => void> {
    if (signal.aborted) return Promise.reject(new AppError('aborted', 'The request was cancelled.'));
    const lane = this.lanes.get(key) ?? { running: 0, waiting: [] };
    this.lanes.set(key, lane);
    const leave = this.turnEnder(key, lane);
    if (lane.running < capacity && lane.waiting.length === 0) {
      lane.running += 1;
      return Promise.resolve(leave);
    }
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        const index = lane.waiting.indexOf(waiter);
        if (index !== -1) lane.waiting.splice(index, 1);
        this.announce(lane);
        this.forgetIfIdle(key, lane);
        reject(new AppError('aborted', 'The request was cancelled while it waited for the model.'));
      };
      const waiter: Waiter = {
        admit: () => {
          signal.removeEventListener('abort', onAbort);
          resolve(leave);
        },
        onPosition,
      };
      signal.addEventListener('abort', onAbort, { once: true });
      lane.waiting.push(waiter);
      onPosition(lane.waiting.length);
    });
  }

  private turnEnder(key: string, lane: Lane): () => void {
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      lane.running -= 1;
      const next = lane.waiting.shift();
      if (next !== undefined) {
        lane.running += 1;
        next.admit();
        this.announce(lane);
      }
      this.forgetIfIdle(key, lane);
    };
  }

  private announce(lane: Lane): void {
    lane.waiting.forEach((waiter, index) => waiter.onPosition(index + 1));
  }

  private forgetIfIdle(key: string, lane: Lane): void {
    if (lane.running === 0 && lane.waiting.length === 0 && this.lanes.get(key) === lane) this.lanes.delete(key);
  }
}

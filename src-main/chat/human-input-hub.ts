import { AppError } from '../../src-shared/errors.js';
import type { HumanInputBroker } from '../backends/types.js';

/** A question waiting for its answer. */
interface PendingQuestion {
  resolve(answer: string): void;
  reject(error: Error): void;
}

/**
 * The API's human broker: `ask` parks the question under its id until `reply` brings the answer (from any client of
 * this process: the question went out as a `human-input-needed` stream part) or the generation is stopped.
 */
export class HumanInputHub implements HumanInputBroker {
  private readonly pending = new Map<string, PendingQuestion>();

  ask(request: { requestId: string }, signal: AbortSignal): Promise<string> {
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        this.pending.delete(request.requestId);
        reject(new AppError('aborted', 'the question to the human player was withdrawn'));
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.pending.set(request.requestId, {
        resolve: (answer) => {
          signal.removeEventListener('abort', onAbort);
          resolve(answer);
        },
        reject,
      });
    });
  }

  /** Answers a waiting question; `not-found` when no question has that id (answered already, or withdrawn). */
  reply(requestId: string, answer: string): void {
    const question = this.pending.get(requestId);
    if (question === undefined) {
      throw new AppError('not-found', `no human player is waiting for an answer to request ${requestId}`);
    }
    this.pending.delete(requestId);
    question.resolve(answer);
  }

  /** How many questions wait for an answer. */
  get waiting(): number {
    return this.pending.size;
  }
}

import { AppError } from '../../src-shared/errors.js';
import type { HumanInputBroker } from '../backends/types.js';

/**
 * The API's human broker: `ask` parks the question under its id until `reply` brings the answer (from any client of
 * this process: the question went out as a `human-input-needed` stream part) or the generation is stopped.
 */
export class HumanInputHub implements HumanInputBroker {
  /** The questions waiting, by request id: each maps to the function that delivers its answer. */
  private readonly pending = new Map<string, (answer: string) => void>();

  ask(request: { requestId: string }, signal: AbortSignal): Promise<string> {
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        this.pending.delete(request.requestId);
        reject(new AppError('aborted', 'the question to the human player was withdrawn'));
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.pending.set(request.requestId, (answer) => {
        signal.removeEventListener('abort', onAbort);
        resolve(answer);
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
    question(answer);
  }

  /** How many questions wait for an answer. */
  get waiting(): number {
    return this.pending.size;
  }
}

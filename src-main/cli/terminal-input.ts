import type { Interface } from 'node:readline';
import { AppError } from '../../src-shared/errors.js';
import type { HumanInputBroker } from '../backends/types.js';

/**
 * The human backend in a terminal: the person types the answer on the next line. A stop (Ctrl+C) withdraws the
 * question rather than waiting for a line that may never come.
 */
export function terminalHuman(lines: () => Promise<string | null>): HumanInputBroker {
  return {
    async ask(request, signal) {
      const last = [...request.messages].reverse().find((message) => message.role === 'user');
      process.stderr.write(`\n[human player] ${last?.content ?? ''}\nyour answer> `);
      const answer = await new Promise<string | null>((resolve, reject) => {
        const onAbort = (): void => reject(new AppError('aborted', 'the question to the human player was withdrawn'));
        if (signal.aborted) return onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
        lines().then((line) => {
          signal.removeEventListener('abort', onAbort);
          resolve(line);
        }, reject);
      });
      if (answer === null) throw new Error('no answer: the input ended');
      return answer;
    },
  };
}

/** Reads lines one at a time from a readline interface; null at the end of input. */
export function lineReader(readline: Interface): () => Promise<string | null> {
  const buffered: string[] = [];
  const waiting: Array<(line: string | null) => void> = [];
  let closed = false;
  readline.on('line', (line) => {
    const next = waiting.shift();
    if (next) next(line);
    else buffered.push(line);
  });
  readline.on('close', () => {
    closed = true;
    for (const next of waiting.splice(0)) next(null);
  });
  return () => {
    const line = buffered.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (closed) return Promise.resolve(null);
    return new Promise((resolve) => waiting.push(resolve));
  };
}

import { randomUUID } from 'node:crypto';
import { endBeforeOutput, type StreamPart } from '../../src-shared/chat.js';
import { AppError } from '../../src-shared/errors.js';
import type { JsonObject } from '../../src-shared/json.js';
import { normalizeMessages } from './options.js';
import type { Backend, BackendContext, GenerateRequest, HumanInputBroker, Model } from './types.js';

class HumanModel implements Model {
  constructor(
    readonly spec: JsonObject,
    private readonly broker: HumanInputBroker,
  ) {}

  async *generate(request: GenerateRequest, signal: AbortSignal): AsyncIterable<StreamPart> {
    const messages = normalizeMessages(request.messages);
    const requestId = randomUUID();
    const lastUser = [...messages].reverse().find((message) => message.role === 'user');
    // Ask first, so the question is waiting under its id before anyone can read the id and answer it.
    const answered = this.broker.ask({ requestId, messages }, signal);
    answered.catch(() => undefined);
    yield { type: 'human-input-needed', request_id: requestId, prompt: lastUser?.content ?? '' };
    let answer: string;
    try {
      answer = await answered;
    } catch (error) {
      yield* endBeforeOutput(error, signal.aborted);
      return;
    }
    if (answer !== '') yield { type: 'text-delta', text: answer };
    yield { type: 'usage', usage: { input_tokens: null, output_tokens: null } };
    yield { type: 'end', reason: 'stop' };
  }

  async dispose(): Promise<void> {}
}

/** A person answers: through the API (an event, then `chat.humanReply`) or a line typed in the terminal. */
export const backend: Backend = {
  name: 'human',
  async createModel(spec: JsonObject, context: BackendContext) {
    if (context.humanInput === undefined) {
      throw new AppError('invalid-input', 'the human backend needs a person to ask, and none is connected here');
    }
    return new HumanModel(spec, context.humanInput);
  },
};

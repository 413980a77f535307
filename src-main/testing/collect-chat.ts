import type { StreamPart } from '../../src-shared/chat.js';
import type { JsonObject } from '../../src-shared/json.js';
import { openModel, streamReply, type ModelDependencies } from '../conversation/open-model.js';
import { endBeforeOutput } from '../../src-shared/chat.js';

/**
 * Runs one reply ("hi") in process to its end and returns its stream parts: the model opened the way every
 * conversation opens it, a failure to open it as the stream's `error` part.
 */
export async function collectChat(dependencies: ModelDependencies, query: string | JsonObject): Promise<StreamPart[]> {
  let opened;
  try {
    opened = await openModel(dependencies, query);
  } catch (error) {
    return endBeforeOutput(error, false);
  }
  const parts: StreamPart[] = [];
  try {
    const request = { messages: [{ role: 'user' as const, content: 'hi' }], options: {} };
    for await (const part of streamReply(opened.model, request, new AbortController().signal)) parts.push(part);
  } finally {
    await opened.model.dispose();
  }
  return parts;
}

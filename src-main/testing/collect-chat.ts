import type { StreamPart } from '../../src-shared/chat.js';
import type { JsonObject } from '../../src-shared/json.js';
import { streamChat, type ChatDependencies } from '../chat/chat-service.js';

/** Runs one chat turn ("hi") in process to its end and returns its stream parts, the `resolved` part left out. */
export async function collectChat(dependencies: ChatDependencies, query: string | JsonObject): Promise<StreamPart[]> {
  const parts: StreamPart[] = [];
  const request = { query, messages: [{ role: 'user' as const, content: 'hi' }] };
  for await (const part of streamChat(dependencies, request, new AbortController().signal)) {
    if (part.type !== 'resolved') parts.push(part);
  }
  return parts;
}

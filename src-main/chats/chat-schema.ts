import { randomBytes } from 'node:crypto';

import { z } from 'zod';

import type { ChatMessage, FinishReason, Usage } from '../../src-shared/chat.js';
import type { JsonObject, JsonValue } from '../../src-shared/json.js';

/** Chat ids: lower-case letters, digits and `-`, so that an id is always one plain file name inside the chats folder. */
export const chatIdPattern = /^[a-z0-9-]{1,100}$/;

/** A chat id; see {@link chatIdPattern}. */
export const chatIdSchema = z.string().regex(chatIdPattern, 'a chat id is 1 to 100 lower-case letters, digits or "-"');

/** An ISO 8601 date and time, such as `2024-05-01T12:00:00.000Z`. */
const timestampSchema = z.iso.datetime({ offset: true });

const jsonValueSchema: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(jsonValueSchema), jsonObjectSchema]),
);
const jsonObjectSchema: z.ZodType<JsonObject> = z.lazy(() => z.record(z.string(), jsonValueSchema));

/** Token counts of one reply, as the backend reported them. */
export const usageSchema = z.object({
  input_tokens: z.number().int().nonnegative().nullable(),
  output_tokens: z.number().int().nonnegative().nullable(),
});

/** One message of a stored chat: a {@link ChatMessage} plus what the app learned while it streamed. */
export const storedChatMessageSchema = z.object({
  role: z.enum(['system', 'user', 'assistant']),
  content: z.string(),
  /** When the message was sent or its reply started, ISO 8601. */
  created_at: timestampSchema,
  /** True when the reply stopped early (stopped by the person, or an error) and holds only what streamed. */
  partial: z.boolean().optional(),
  /** The error that ended the reply; codes are kept as strings so that files from other versions still load. */
  error: z.object({ code: z.string().min(1), message: z.string() }).optional(),
  usage: usageSchema.optional(),
  finish_reason: z.enum(['stop', 'length', 'abort', 'error']).optional(),
});

/** A chat as stored in `<data dir>/chats/<id>.json`. */
export const chatSchema = z.object({
  /** The file format's version, for future migrations. */
  version: z.literal(1),
  id: chatIdSchema,
  title: z.string(),
  created_at: timestampSchema,
  updated_at: timestampSchema,
  /** What the person typed to pick the model: a name, JSON text, or an object. */
  spec_query: z.union([z.string(), jsonObjectSchema]),
  /** The spec the query resolved to when the chat ran, if it resolved. */
  resolved_spec: jsonObjectSchema.optional(),
  /** The system prompt sent before the messages. */
  system: z.string().optional(),
  messages: z.array(storedChatMessageSchema),
});

/** A stored chat; see {@link chatSchema}. */
export type Chat = z.infer<typeof chatSchema>;
/** One message of a stored chat; see {@link storedChatMessageSchema}. */
export type StoredChatMessage = z.infer<typeof storedChatMessageSchema>;

// The schema restates shared types; these fail to compile when the two drift apart.
type Assert<Condition extends true> = Condition;
type _StoredMessageIsChatMessage = Assert<StoredChatMessage extends ChatMessage ? true : false>;
type _UsageMatches = Assert<z.infer<typeof usageSchema> extends Usage ? true : false>;
type _FinishReasonMatches = Assert<NonNullable<StoredChatMessage['finish_reason']> extends FinishReason ? true : false>;

/** A new chat id: the creation time (so ids sort by age) and 6 random hex digits, e.g. `20240501-120000-a1b2c3`. */
export function newChatId(now: Date = new Date()): string {
  const stamp = now.toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

const maximumTitleLength = 60;

/** A title from the first line of a message: whitespace collapsed, at most 60 characters. */
export function titleFromText(text: string): string {
  const line = text
    .split(/\r?\n/)
    .map((part) => part.replace(/\s+/g, ' ').trim())
    .find((part) => part !== '');
  if (line === undefined) return '';
  return line.length <= maximumTitleLength ? line : `${line.slice(0, maximumTitleLength - 1).trimEnd()}…`;
}

/** What a new chat starts from. */
export interface NewChatInput {
  spec_query: Chat['spec_query'];
  resolved_spec?: JsonObject;
  system?: string;
  /** Default: empty, for the app to fill from the first message with {@link titleFromText}. */
  title?: string;
}

/** A new, empty chat with a fresh id and both timestamps set to `now`. */
export function createChat(input: NewChatInput, now: Date = new Date()): Chat {
  const timestamp = now.toISOString();
  const chat: Chat = {
    version: 1,
    id: newChatId(now),
    title: input.title ?? '',
    created_at: timestamp,
    updated_at: timestamp,
    spec_query: input.spec_query,
    messages: [],
  };
  if (input.resolved_spec !== undefined) chat.resolved_spec = input.resolved_spec;
  if (input.system !== undefined) chat.system = input.system;
  return chat;
}

import { z } from 'zod';

import { isErrorCode } from '../../src-shared/errors.js';
import { userSpeaker, type MessageVersion, type TranscriptMessage } from '../../src-shared/conversation/transcript.js';
import {
  jsonObjectSchema,
  sessionIdSchema,
  timestampSchema,
  usageSchema,
  type SessionRecord,
} from './session-schema.js';

/** The participant id of the one model of a chat. */
export const chatParticipantId = 'model';

/**
 * A chat as version 1 wrote it to `<data>/chats/<id>.json` (one model, no speakers): read so that chats saved before
 * sessions existed still open. Nothing writes this format any more.
 */
export const legacyChatSchema = z.object({
  version: z.literal(1),
  id: sessionIdSchema,
  title: z.string(),
  created_at: timestampSchema,
  updated_at: timestampSchema,
  spec_query: z.union([z.string(), jsonObjectSchema]),
  resolved_spec: jsonObjectSchema.optional(),
  system: z.string().optional(),
  messages: z.array(
    z.object({
      role: z.enum(['system', 'user', 'assistant']),
      content: z.string(),
      created_at: timestampSchema,
      partial: z.boolean().optional(),
      error: z.object({ code: z.string().min(1), message: z.string() }).optional(),
      usage: usageSchema.optional(),
      finish_reason: z.enum(['stop', 'length', 'abort', 'error']).optional(),
    }),
  ),
});

/** A version 1 chat. */
export type LegacyChat = z.infer<typeof legacyChatSchema>;

/** Whether parsed JSON says it is a version 1 chat (checked before the schema, to pick the reader). */
export function isLegacyChat(value: unknown): boolean {
  return typeof value === 'object' && value !== null && (value as { version?: unknown }).version === 1;
}

/** The same chat as a session: the model becomes the participant `model`, each reply its message. */
export function migrateLegacyChat(chat: LegacyChat): SessionRecord {
  const messages = chat.messages
    .filter((message) => message.role !== 'system')
    .map((message, index): TranscriptMessage => {
      const fromUser = message.role === 'user';
      const status: MessageVersion['status'] =
        message.error !== undefined || message.finish_reason === 'error'
          ? 'error'
          : message.finish_reason === 'abort'
            ? 'stopped'
            : 'done';
      const version: MessageVersion = {
        text: message.content,
        reasoning: '',
        status: fromUser ? 'done' : status,
        started_at: message.created_at,
        ...(fromUser || message.finish_reason === undefined ? {} : { finish_reason: message.finish_reason }),
        ...(message.error === undefined
          ? {}
          : {
              error: {
                code: isErrorCode(message.error.code) ? message.error.code : ('internal' as const),
                message: message.error.message,
              },
            }),
        ...(message.usage === undefined ? {} : { usage: message.usage }),
        ...(fromUser || chat.resolved_spec === undefined ? {} : { spec: chat.resolved_spec }),
      };
      return {
        id: `m${index}`,
        speaker: fromUser ? userSpeaker : chatParticipantId,
        to: fromUser ? [chatParticipantId] : [userSpeaker],
        created_at: message.created_at,
        versions: [version],
        current: 0,
      };
    });
  return {
    version: 2,
    id: chat.id,
    kind: 'chat',
    title: chat.title,
    created_at: chat.created_at,
    updated_at: chat.updated_at,
    participants: [
      {
        id: chatParticipantId,
        label: 'Model',
        query: chat.spec_query,
        ...(chat.system === undefined ? {} : { system: chat.system }),
        ...(chat.resolved_spec === undefined ? {} : { spec: chat.resolved_spec }),
      },
    ],
    messages,
  };
}

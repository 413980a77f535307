import { randomBytes } from 'node:crypto';

import { z } from 'zod';

import { voteWinners, type SessionKind, type SpecSource } from '../../src-shared/conversation/session.js';
import type { MessageVersion, TranscriptMessage } from '../../src-shared/conversation/transcript.js';
import { isErrorCode } from '../../src-shared/errors.js';
import type { JsonObject, JsonValue } from '../../src-shared/json.js';

/** Session ids: lower-case letters, digits and `-`, so that an id is always one plain file name in its folder. */
export const sessionIdPattern = /^[a-z0-9-]{1,100}$/;

/** A session id; see {@link sessionIdPattern}. */
export const sessionIdSchema = z
  .string()
  .regex(sessionIdPattern, 'a session id is 1 to 100 lower-case letters, digits or "-"');

/** An ISO 8601 date and time, such as `2024-05-01T12:00:00.000Z`. */
export const timestampSchema = z.iso.datetime({ offset: true });

export const jsonValueSchema: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(jsonValueSchema), jsonObjectSchema]),
);
export const jsonObjectSchema: z.ZodType<JsonObject> = z.lazy(() => z.record(z.string(), jsonValueSchema));

/** Token counts of one reply, as the backend reported them. */
export const usageSchema = z.object({
  input_tokens: z.number().int().nonnegative().nullable(),
  output_tokens: z.number().int().nonnegative().nullable(),
});

/** Per-call generation options; each overrides the spec's value of the same name. */
export const generationOptionsSchema = z.strictObject({
  /** 0..2. */
  temperature: z.number().min(0).max(2).optional(),
  /** Upper bound on generated tokens. */
  max_tokens: z.number().int().positive().max(1_000_000).optional(),
  /** 0..1. */
  top_p: z.number().min(0).max(1).optional(),
  seed: z.number().int().optional(),
  /** Up to 16 stop strings. */
  stop: z.array(z.string().min(1).max(1000)).max(16).optional(),
});

/** Error codes are kept as they were written (a file from a newer version may know more); unknown ones read as internal. */
const errorSchema = z.object({
  code: z.string().transform((code) => (isErrorCode(code) ? code : 'internal')),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
});

const specSourceSchema: z.ZodType<SpecSource> = z.object({
  file: z.string(),
  index: z.number().int().nonnegative(),
  lookupSource: z.string(),
  role: z.string(),
});

const versionSchema: z.ZodType<MessageVersion> = z.lazy(() =>
  z.object({
    text: z.string(),
    reasoning: z.string().default(''),
    status: z.enum(['streaming', 'done', 'stopped', 'error']),
    started_at: timestampSchema,
    finish_reason: z.enum(['stop', 'length', 'abort', 'error']).optional(),
    error: errorSchema.optional(),
    usage: usageSchema.optional(),
    timing: z
      .object({
        first_token_ms: z.number().nonnegative().nullable(),
        duration_ms: z.number().nonnegative().nullable(),
        tokens_per_second: z.number().nonnegative().nullable(),
      })
      .optional(),
    spec: jsonObjectSchema.optional(),
    warnings: z.array(errorSchema).optional(),
    human_request: z.object({ request_id: z.string(), prompt: z.string() }).optional(),
    dropped_turns: z.number().int().nonnegative().optional(),
    followers: z.array(messageSchema).optional(),
  }),
);

/** One message of a transcript (see src-shared/conversation/transcript.ts). */
export const messageSchema: z.ZodType<TranscriptMessage> = z.lazy(() =>
  z
    .object({
      id: z.string().min(1).max(100),
      speaker: z.string().min(1).max(100),
      to: z.array(z.string().min(1).max(100)),
      created_at: timestampSchema,
      versions: z.array(versionSchema).min(1),
      current: z.number().int().nonnegative(),
    })
    .refine((message) => message.current < message.versions.length, {
      message: 'current must name one of the versions',
      path: ['current'],
    }),
);

/** A participant as stored: what was asked for and what it resolved to. */
export const participantRecordSchema = z.object({
  id: z.string().min(1).max(32),
  label: z.string().max(200),
  query: z.union([z.string(), jsonObjectSchema]),
  system: z.string().optional(),
  options: generationOptionsSchema.optional(),
  /** The resolved spec the participant holds; absent when the query did not resolve. */
  spec: jsonObjectSchema.optional(),
  source: specSourceSchema.nullable().optional(),
});

/** A participant as stored. */
export type ParticipantRecord = z.infer<typeof participantRecordSchema>;

const sessionKinds = ['chat', 'pair', 'dialogue', 'game'] as const satisfies readonly SessionKind[];

/** A session as stored in `<data>/sessions/<id>.json`. */
export const sessionRecordSchema = z.object({
  /** The file format's version: 2 (version 1 was the single-model chat, migrated on read). */
  version: z.literal(2),
  id: sessionIdSchema,
  kind: z.enum(sessionKinds),
  title: z.string(),
  created_at: timestampSchema,
  updated_at: timestampSchema,
  participants: z.array(participantRecordSchema).min(1).max(8),
  messages: z.array(messageSchema),
  blind: z
    .object({
      revealed: z.boolean(),
      vote: z.enum(voteWinners).optional(),
    })
    .optional(),
  dialogue: z
    .object({ turns: z.number().int().nonnegative(), done: z.number().int().nonnegative(), running: z.boolean() })
    .optional(),
});

/** A stored session; see {@link sessionRecordSchema}. */
export type SessionRecord = z.infer<typeof sessionRecordSchema>;

/** A new session id: the creation time (ids sort by age) and 6 random hex digits, e.g. `20240501-120000-a1b2c3`. */
export function newSessionId(now: Date = new Date()): string {
  const stamp = now.toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

/** A new message id, unique within its session. */
export function newMessageId(): string {
  return randomBytes(6).toString('hex');
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

import { z } from 'zod';
import type { ChatMessage, GenerationOptions, StreamPart, Usage } from '../../src-shared/chat.js';
import { AppError, type AppErrorShape } from '../../src-shared/errors.js';

const textPart = z.looseObject({ type: z.literal('text'), text: z.string() });
const otherPart = z.looseObject({ type: z.string() });
const messageSchema = z.looseObject({
  role: z.string(),
  content: z
    .union([z.string(), z.array(z.union([textPart, otherPart]))])
    .nullable()
    .optional(),
  tool_calls: z.array(z.unknown()).nullable().optional(),
});
const optionalNumber = z.number().nullable().optional();
const optionalInteger = z.number().int().nullable().optional();
/**
 * The request body of `POST /v1/chat/completions`, as far as clemplay reads it. Other keys (presence_penalty, user,
 * …) are accepted and ignored, as most OpenAI-compatible servers do; those whose silent loss would mislead a client
 * (tools, n > 1, JSON mode, logprobs) are refused by {@link readChatCompletionRequest}.
 */
const chatCompletionBodySchema = z.looseObject({
  model: z.string().min(1, 'name a model: a registry name or a JSON spec').max(100_000),
  messages: z.array(messageSchema).min(1, 'send at least one message'),
  stream: z.boolean().nullable().optional(),
  stream_options: z.looseObject({ include_usage: z.boolean().nullable().optional() }).nullable().optional(),
  temperature: optionalNumber,
  top_p: optionalNumber,
  max_tokens: optionalInteger,
  max_completion_tokens: optionalInteger,
  seed: optionalInteger,
  stop: z
    .union([z.string(), z.array(z.string())])
    .nullable()
    .optional(),
  n: optionalInteger,
  tools: z.array(z.unknown()).nullable().optional(),
  functions: z.array(z.unknown()).nullable().optional(),
  response_format: z.looseObject({ type: z.string() }).nullable().optional(),
  logprobs: z.boolean().nullable().optional(),
});

/** What clemplay takes from a chat-completion request. */
export interface ChatCompletionRequest {
  /** The query: a registry name or a JSON spec as text. */
  model: string;
  messages: ChatMessage[];
  options: GenerationOptions;
  stream: boolean;
  /** `stream_options.include_usage`: a last chunk with the usage and no choices. */
  includeUsage: boolean;
}

function invalid(message: string, param: string | null): AppError {
  return new AppError('invalid-input', message, param === null ? undefined : { param });
}

function messageContent(message: z.infer<typeof messageSchema>, index: number): string {
  const param = `messages[${index}].content`;
  if (message.tool_calls !== undefined && message.tool_calls !== null && message.tool_calls.length > 0) {
    throw invalid(`${param}: tool calls are not supported by clemplay's API; send text messages only.`, param);
  }
  const content = message.content;
  if (content === undefined || content === null) return '';
  if (typeof content === 'string') return content;
  return content
    .map((part) => {
      if (part.type !== 'text' || typeof part.text !== 'string') {
        throw invalid(`${param}: only text content parts are supported, not "${part.type}".`, param);
      }
      return part.text;
    })
    .join('');
}

function roleOf(role: string, index: number): ChatMessage['role'] {
  // `developer` is OpenAI's newer name for the system role.
  if (role === 'system' || role === 'developer') return 'system';
  if (role === 'user' || role === 'assistant') return role;
  const param = `messages[${index}].role`;
  if (role === 'tool' || role === 'function') {
    throw invalid(`${param}: "${role}" messages are not supported by clemplay's API (no tool calls).`, param);
  }
  throw invalid(`${param}: unknown role "${role}"; use system, developer, user or assistant.`, param);
}

/** Where a zod issue is, as OpenAI's `param` spells it: `messages[0].role`. */
function paramOf(path: readonly PropertyKey[]): string {
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else text += text === '' ? String(segment) : `.${String(segment)}`;
  }
  return text;
}

/** Reads and checks a request body; throws `invalid-input` (a 400) naming the field at fault. */
export function readChatCompletionRequest(body: unknown): ChatCompletionRequest {
  const parsed = chatCompletionBodySchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const param = issue === undefined ? '' : paramOf(issue.path);
    throw invalid(
      `Invalid request body${param === '' ? '' : ` at ${param}`}: ${issue?.message ?? 'not a chat-completion request'}.`,
      param === '' ? null : param,
    );
  }
  const request = parsed.data;
  if (request.n !== undefined && request.n !== null && request.n !== 1) {
    throw invalid('`n` must be 1: clemplay generates one choice per request.', 'n');
  }
  for (const key of ['tools', 'functions'] as const) {
    const list = request[key];
    if (list !== undefined && list !== null && list.length > 0) {
      throw invalid(`\`${key}\` is not supported by clemplay's API: it serves text chat only.`, key);
    }
  }
  const format = request.response_format?.type;
  if (format !== undefined && format !== 'text') {
    throw invalid(
      `\`response_format\` "${format}" is not supported: clemplay's API answers with plain text.`,
      'response_format',
    );
  }
  if (request.logprobs === true) throw invalid("`logprobs` is not supported by clemplay's API.", 'logprobs');

  const options: GenerationOptions = {};
  if (request.temperature !== undefined && request.temperature !== null) options.temperature = request.temperature;
  if (request.top_p !== undefined && request.top_p !== null) options.top_p = request.top_p;
  const maxTokens = request.max_completion_tokens ?? request.max_tokens;
  if (maxTokens !== undefined && maxTokens !== null) options.max_tokens = maxTokens;
  if (request.seed !== undefined && request.seed !== null) options.seed = request.seed;
  if (request.stop !== undefined && request.stop !== null) {
    options.stop = typeof request.stop === 'string' ? [request.stop] : request.stop;
  }
  return {
    model: request.model,
    messages: request.messages.map((message, index) => ({
      role: roleOf(message.role, index),
      content: messageContent(message, index),
    })),
    options,
    stream: request.stream === true,
    includeUsage: request.stream_options?.include_usage === true,
  };
}

/** OpenAI's usage object. Counts a backend could not make are sent as 0. */
export interface OpenAIUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

function openAIUsage(usage: Usage | undefined): OpenAIUsage {
  const prompt = usage?.input_tokens ?? 0;
  const completion = usage?.output_tokens ?? 0;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/** What identifies one response: its id, creation time (Unix seconds) and the resolved model name. */
export interface CompletionIdentity {
  id: string;
  created: number;
  model: string;
}

/** The delta of one streamed chunk. */
export interface ChunkDelta {
  role?: 'assistant';
  content?: string;
  /** Reasoning text, where the model sends it (DeepSeek's and vLLM's field name). */
  reasoning_content?: string;
}

/** One `chat.completion.chunk`. With `include_usage`, every chunk has `usage: null` but the last, as OpenAI does. */
export function completionChunk(
  identity: CompletionIdentity,
  delta: ChunkDelta,
  finishReason: 'stop' | 'length' | null,
  includeUsage: boolean,
): object {
  return {
    id: identity.id,
    object: 'chat.completion.chunk',
    created: identity.created,
    model: identity.model,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    ...(includeUsage ? { usage: null } : {}),
  };
}

/** The last chunk of a stream with `include_usage`: no choices, the usage. */
export function usageChunk(identity: CompletionIdentity, usage: Usage | undefined): object {
  return {
    id: identity.id,
    object: 'chat.completion.chunk',
    created: identity.created,
    model: identity.model,
    choices: [],
    usage: openAIUsage(usage),
  };
}

/** The result of reading a whole reply, for a response that is not streamed. */
export type CollectedReply =
  | { ok: true; text: string; reasoning: string; usage: Usage | undefined; finishReason: 'stop' | 'length' }
  | { ok: false; error: AppErrorShape; stopped: boolean; usage: Usage | undefined };

/** Reads a reply's parts to the end; an `end: abort` is `stopped` (the client left or the server is stopping). */
export async function collectReply(parts: AsyncIterable<StreamPart>, onText: () => void): Promise<CollectedReply> {
  let text = '';
  let reasoning = '';
  let usage: Usage | undefined;
  for await (const part of parts) {
    switch (part.type) {
      case 'text-delta':
        text += part.text;
        onText();
        break;
      case 'reasoning-delta':
        reasoning += part.text;
        onText();
        break;
      case 'usage':
        usage = part.usage;
        break;
      case 'end':
        if (part.reason === 'abort') {
          return { ok: false, stopped: true, usage, error: { code: 'aborted', message: 'The reply was stopped.' } };
        }
        return { ok: true, text, reasoning, usage, finishReason: part.reason };
      case 'error':
        return { ok: false, stopped: false, usage, error: part.error };
      case 'warning':
      case 'human-input-needed':
        break;
    }
  }
  const error: AppErrorShape = { code: 'internal', message: 'The model ended without saying why.' };
  return { ok: false, stopped: false, usage, error };
}

/** The `chat.completion` body of a finished reply. */
export function completionBody(identity: CompletionIdentity, reply: Extract<CollectedReply, { ok: true }>): object {
  return {
    id: identity.id,
    object: 'chat.completion',
    created: identity.created,
    model: identity.model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: reply.text,
          refusal: null,
          ...(reply.reasoning === '' ? {} : { reasoning_content: reply.reasoning }),
        },
        logprobs: null,
        finish_reason: reply.finishReason,
      },
    ],
    usage: openAIUsage(reply.usage),
  };
}

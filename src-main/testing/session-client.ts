import type { GenerationOptions, StreamPart } from '../../src-shared/chat.js';
import type { JsonObject } from '../../src-shared/json.js';
import type { WebSocketApiClient } from './api-client.js';

/** One chat reply to ask for over the API. */
export interface ReplyRequest {
  query: string | JsonObject;
  text: string;
  system?: string;
  options?: GenerationOptions;
}

/**
 * One reply through the session API the way the renderer gets it: a chat session is made, subscribed to, sent the
 * message, and each stream part of the reply goes to `onPart` (with the session id, to stop it) as it arrives. `beforeSend` runs just before the
 * message goes out (benchmarks start their clock there). Resolves with the session id once the reply has ended.
 */
export async function replyOverApi(
  api: WebSocketApiClient['api'],
  request: ReplyRequest,
  onPart: (part: StreamPart, sessionId: string) => void,
  beforeSend?: () => void,
): Promise<string> {
  const session = await api.sessions.create.mutate({
    kind: 'chat',
    participants: [
      {
        query: request.query,
        ...(request.system === undefined ? {} : { system: request.system }),
        ...(request.options === undefined ? {} : { options: request.options }),
      },
    ],
  });
  let replyId: string | null = null;
  const early: Array<{ message_id: string; part: StreamPart }> = [];
  let finish: () => void = () => undefined;
  let fail: (error: unknown) => void = () => undefined;
  const ended = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  const deliver = (messageId: string, part: StreamPart): void => {
    if (messageId !== replyId) return;
    onPart(part, session.id);
    if (part.type === 'end' || part.type === 'error') finish();
  };
  let subscribed: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (subscribed = resolve));
  const subscription = api.sessions.subscribe.subscribe(
    { id: session.id },
    {
      onData: ({ data: event }) => {
        if (event.type === 'snapshot') subscribed();
        if (event.type !== 'part') return;
        // Parts can arrive before `send` has answered with the reply's id: keep them until it is known.
        if (replyId === null) early.push({ message_id: event.message_id, part: event.part });
        else deliver(event.message_id, event.part);
      },
      onError: fail,
    },
  );
  try {
    await ready;
    beforeSend?.();
    const started = await api.sessions.send.mutate({ id: session.id, text: request.text });
    replyId = started.reply_ids[0] ?? null;
    for (const { message_id, part } of early.splice(0)) deliver(message_id, part);
    await ended;
    return session.id;
  } finally {
    subscription.unsubscribe();
  }
}

import { create } from 'zustand';
import type { ChatMessage } from '../src-shared/chat';
import { api, describeError, type ApiOutputs } from './api/client';

/** A saved chat, as the API returns it. */
type Chat = ApiOutputs['chats']['get'];
type StoredChatMessage = Chat['messages'][number];

interface ChatState {
  query: string;
  system: string;
  chat: Chat | null;
  streaming: boolean;
  /** The human backend waits for a person's answer to this request. */
  humanRequest: { requestId: string; prompt: string } | null;
  error: string | null;
  setQuery(query: string): void;
  setSystem(system: string): void;
  send(text: string): Promise<void>;
  stop(): void;
  answerHuman(text: string): Promise<void>;
  reset(): void;
}

let subscription: { unsubscribe(): void } | null = null;

function now(): string {
  return new Date().toISOString();
}

/** The conversation as the backend gets it. */
function conversation(chat: Chat): ChatMessage[] {
  const history = chat.messages
    .filter((message) => message.error === undefined || message.content !== '')
    .map(({ role, content }) => ({ role, content }));
  return chat.system ? [{ role: 'system', content: chat.system }, ...history] : history;
}

async function persist(chat: Chat): Promise<void> {
  try {
    await api.chats.save.mutate(chat);
  } catch (error) {
    useChatStore.setState({ error: `could not save the chat: ${describeError(error).message}` });
  }
}

export const useChatStore = create<ChatState>((set, get) => {
  /** Replaces the last (assistant) message; every stream part lands here. */
  const updateReply = (change: (reply: StoredChatMessage) => StoredChatMessage): void => {
    const chat = get().chat;
    if (chat === null) return;
    const messages = [...chat.messages];
    const last = messages[messages.length - 1];
    if (last === undefined) return;
    messages[messages.length - 1] = change(last);
    set({ chat: { ...chat, messages, updated_at: now() } });
  };

  const finish = (): void => {
    subscription = null;
    set({ streaming: false, humanRequest: null });
    const chat = get().chat;
    if (chat !== null) void persist(chat);
  };

  return {
    query: 'mock',
    system: '',
    chat: null,
    streaming: false,
    humanRequest: null,
    error: null,
    setQuery: (query) => set({ query }),
    setSystem: (system) => set({ system }),
    reset() {
      get().stop();
      set({ chat: null, error: null });
    },
    async send(text) {
      if (get().streaming || text.trim() === '') return;
      // Busy from here on: a second Enter while the chat is being created must not start a second stream.
      set({ error: null, streaming: true });
      let chat = get().chat;
      if (chat === null) {
        const system = get().system.trim();
        try {
          chat = await api.chats.create.mutate({ spec_query: get().query, ...(system ? { system } : {}) });
        } catch (error) {
          const { code, message } = describeError(error);
          set({ error: `${code}: ${message}`, streaming: false });
          return;
        }
        chat = { ...chat, title: text.slice(0, 60) };
      }
      const user: StoredChatMessage = { role: 'user', content: text, created_at: now() };
      const reply: StoredChatMessage = { role: 'assistant', content: '', created_at: now(), partial: true };
      chat = { ...chat, messages: [...chat.messages, user] };
      const messages = conversation(chat);
      set({ chat: { ...chat, messages: [...chat.messages, reply] }, streaming: true });
      subscription = api.chat.stream.subscribe(
        { query: chat.spec_query, messages },
        {
          onData(part) {
            if (part.type === 'resolved') {
              const current = get().chat;
              // A second "resolved" means the connection dropped and the client re-sent the request: a new
              // generation started over. Stop it rather than glue its text onto the interrupted reply.
              if (current?.resolved_spec !== undefined && current.messages.at(-1)?.content !== '') {
                subscription?.unsubscribe();
                updateReply((message) => ({
                  ...message,
                  finish_reason: 'error',
                  error: { code: 'network', message: 'the connection dropped; the reply was interrupted' },
                }));
                set({ error: 'network: the connection dropped; the reply was interrupted' });
                finish();
                return;
              }
              if (current !== null) set({ chat: { ...current, resolved_spec: part.spec } });
            } else if (part.type === 'text-delta') {
              updateReply((message) => ({ ...message, content: message.content + part.text }));
            } else if (part.type === 'usage') {
              updateReply((message) => ({ ...message, usage: part.usage }));
            } else if (part.type === 'human-input-needed') {
              set({ humanRequest: { requestId: part.request_id, prompt: part.prompt } });
            } else if (part.type === 'end') {
              updateReply(({ partial: _partial, ...message }) => ({ ...message, finish_reason: part.reason }));
              finish();
            } else if (part.type === 'error') {
              updateReply((message) => ({
                ...message,
                partial: part.partial,
                finish_reason: 'error',
                error: { code: part.error.code, message: part.error.message },
              }));
              set({ error: `${part.error.code}: ${part.error.message}` });
              finish();
            }
          },
          onError(error) {
            set({ error: `${describeError(error).code}: ${describeError(error).message}` });
            finish();
          },
        },
      );
    },
    stop() {
      if (subscription === null) return;
      subscription.unsubscribe();
      updateReply((message) => ({ ...message, finish_reason: 'abort' }));
      finish();
    },
    async answerHuman(text) {
      const request = get().humanRequest;
      if (request === null) return;
      set({ humanRequest: null });
      try {
        await api.chat.humanReply.mutate({ request_id: request.requestId, text });
      } catch (error) {
        // The question still waits: give the person the answer box back.
        set({ humanRequest: request, error: describeError(error).message });
      }
    },
  };
});

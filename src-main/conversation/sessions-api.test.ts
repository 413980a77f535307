import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamPart } from '../../src-shared/chat.js';
import { applySessionEvent, type SessionView } from '../../src-shared/conversation/session.js';
import { currentVersion } from '../../src-shared/conversation/transcript.js';
import type { AppServices } from '../services.js';
import { connectApiClient, type WebSocketApiClient } from '../testing/api-client.js';
import { startFakeOpenAIServer, type FakeOpenAIServer } from '../testing/fake-openai-server.js';
import { startHostedServices, type HostedServices } from '../testing/hosted-services.js';
import { replyOverApi } from '../testing/session-client.js';

// The session API end to end over the web host's WebSocket, as the renderer uses it.
let fake: FakeOpenAIServer;
let hosted: HostedServices;
let services: AppServices;
let client: WebSocketApiClient;

beforeAll(async () => {
  fake = await startFakeOpenAIServer({ models: ['tiny-model', 'other-model'] });
  hosted = await startHostedServices('sessions-api', [
    { model_name: 'scripted', backend: 'programmatic', responses: ['first answer', 'second answer'] },
    {
      model_name: 'slow',
      backend: 'programmatic',
      responses: [Array.from({ length: 30 }, (_, index) => `w${index}`).join(' ')],
      delay_ms: 10,
    },
    { model_name: 'local', backend: 'openai_compatible', model_id: 'tiny-model', base_url: fake.baseUrl },
    { model_name: 'person', backend: 'human' },
    { model_name: 'hf', backend: 'huggingface_local' },
  ]);
  ({ services, client } = hosted);
});

afterAll(async () => {
  await hosted.close();
  await fake.close();
});

async function reply(query: string, text: string, onPart?: (part: StreamPart, sessionId: string) => void) {
  const parts: StreamPart[] = [];
  const id = await replyOverApi(client.api, { query, text }, (part, sessionId) => {
    parts.push(part);
    onPart?.(part, sessionId);
  });
  return { id, parts };
}

const textOf = (parts: StreamPart[]): string =>
  parts.map((part) => (part.type === 'text-delta' ? part.text : '')).join('');

/** Follows a session over a client until `done` holds for the folded view. */
function follow(
  api: WebSocketApiClient['api'],
  id: string,
  done: (view: SessionView, lastEventId: string) => boolean,
  resume?: { lastEventId: string; view: SessionView },
): Promise<{ view: SessionView; lastEventId: string; events: string[] }> {
  const lastEventId = resume?.lastEventId;
  return new Promise((resolve, reject) => {
    let view: SessionView | null = resume?.view ?? null;
    const events: string[] = [];
    const subscription = api.sessions.subscribe.subscribe(
      { id, ...(lastEventId === undefined ? {} : { lastEventId }) },
      {
        onData: ({ id: eventId, data }) => {
          events.push(data.type);
          view = applySessionEvent(view, data);
          if (view !== null && done(view, eventId)) {
            subscription.unsubscribe();
            resolve({ view, lastEventId: eventId, events });
          }
        },
        onError: reject,
      },
    );
  });
}

describe('sessions over the web host', () => {
  it('streams a programmatic reply with its usage and end', async () => {
    const { parts } = await reply('scripted', 'hi');
    expect(textOf(parts)).toBe('first answer');
    expect(parts.find((part) => part.type === 'usage')).toMatchObject({ usage: { output_tokens: 2 } });
    expect(parts.at(-1)).toEqual({ type: 'end', reason: 'stop' });
  });

  it('streams from an OpenAI-compatible server, and a stop cancels its HTTP request', async () => {
    fake.enqueue({ type: 'reply', text: 'a b c d e f g h i j k l m n o p', delayMs: 50 });
    const before = fake.requests.length;
    let stopped = false;
    const { parts } = await reply('local', 'go', (part, sessionId) => {
      if (part.type === 'text-delta' && !stopped) {
        stopped = true;
        void client.api.sessions.stop.mutate({ id: sessionId, participant: 'model' });
      }
    });
    expect(parts.at(-1)).toEqual({ type: 'end', reason: 'abort' });
    expect(await fake.outcome(before)).toBe('client-closed');
  });

  it('keeps a reply streaming when the socket drops, and a new connection gets what it missed', async () => {
    const session = await client.api.sessions.create.mutate({ kind: 'chat', participants: [{ query: 'slow' }] });
    const dropping = connectApiClient(hosted.host);
    const watching = follow(
      dropping.api,
      session.id,
      (view) => view.messages.length === 2 && currentVersion(view.messages[1]!).text.length > 0,
    );
    // Subscribed once the snapshot is there: send only then, so nothing races the subscription.
    await follow(dropping.api, session.id, () => true);
    await client.api.sessions.send.mutate({ id: session.id, text: 'go' });
    const seen = await watching;
    dropping.close();
    const partial = currentVersion(seen.view.messages[1]!).text;
    const again = connectApiClient(hosted.host);
    const resumed = await follow(
      again.api,
      session.id,
      (view) => currentVersion(view.messages[1]!).status === 'done',
      seen,
    );
    again.close();
    expect(resumed.events[0]).not.toBe('snapshot');
    const full = currentVersion(resumed.view.messages[1]!).text;
    expect(full).toBe(Array.from({ length: 30 }, (_, index) => `w${index}`).join(' '));
    expect(full.startsWith(partial)).toBe(true);
  });

  it('asks a human participant and takes the answer for that participant of that session', async () => {
    const { parts } = await reply('person', 'your move?', (part, sessionId) => {
      if (part.type === 'human-input-needed') {
        expect(part.prompt).toBe('your move?');
        void client.api.sessions.humanReply.mutate({ id: sessionId, participant: 'model', text: 'e4' });
      }
    });
    expect(textOf(parts)).toBe('e4');
    expect(services.humanInput.waiting).toBe(0);
  });

  it('reports queries that do not resolve when the session is made, and backend problems in the reply', async () => {
    await expect(
      client.api.sessions.create.mutate({
        kind: 'chat',
        participants: [{ query: '{"model_name": "x", "temperature": 2' }],
      }),
    ).rejects.toMatchObject({ data: { app: { code: 'invalid-spec' } } });
    await expect(
      client.api.sessions.create.mutate({ kind: 'chat', participants: [{ query: 'nothing-like-this' }] }),
    ).rejects.toMatchObject({ data: { app: { code: 'no-match' } } });
    const { parts } = await reply('hf', 'a');
    expect(parts.at(-1)).toMatchObject({
      type: 'error',
      error: { code: 'invalid-spec', message: expect.stringContaining('openai_compatible') },
    });
  });

  it('rejects invalid input before anything runs', async () => {
    await expect(client.api.sessions.get.query({ id: '../escape' })).rejects.toMatchObject({
      data: { app: { code: 'invalid-input' } },
    });
    await expect(
      client.api.sessions.create.mutate({ kind: 'pair', participants: [{ query: 'scripted' }] }),
    ).rejects.toMatchObject({ data: { app: { code: 'invalid-input' } } });
    const session = await client.api.sessions.create.mutate({ kind: 'chat', participants: [{ query: 'scripted' }] });
    await expect(
      client.api.sessions.send.mutate({ id: session.id, text: 'x', to: ['Not An Id'] }),
    ).rejects.toMatchObject({ data: { app: { code: 'invalid-input' } } });
    await expect(client.api.sessions.send.mutate({ id: session.id, text: 'x', to: ['b'] })).rejects.toMatchObject({
      data: { app: { code: 'invalid-input' } },
    });
  });

  it('lists, exports, renames and deletes sessions', async () => {
    const { id } = await reply('scripted', 'for the list');
    await services.sessions.flush();
    expect((await client.api.sessions.list.query()).some((entry) => entry.id === id)).toBe(true);
    await client.api.sessions.rename.mutate({ id, title: 'Renamed' });
    const markdown = await client.api.sessions.export.query({ id, format: 'markdown' });
    expect(markdown.content).toContain('# Renamed');
    expect(markdown.content).toContain('first answer');
    const deleted = await client.api.sessions.delete.mutate({ id });
    expect(deleted.trashedTo).toContain('.trash');
    expect((await client.api.sessions.list.query()).some((entry) => entry.id === id)).toBe(false);
  });

  it('lists backends with their availability, and a server’s models', async () => {
    const backends = await client.api.backends.list.query();
    expect(backends.map((backend) => backend.name)).toEqual([
      'openai',
      'openai_compatible',
      'llamacpp',
      'programmatic',
      'human',
    ]);
    expect(backends.find((backend) => backend.name === 'programmatic')?.available).toBe(true);
    expect(await client.api.backends.listModels.query('local')).toEqual(['tiny-model', 'other-model']);
  });
});

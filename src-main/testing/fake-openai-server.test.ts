import { afterEach, describe, expect, it } from 'vitest';

import { startFakeOpenAIServer, type FakeOpenAIServer, type FakeOpenAIServerOptions } from './fake-openai-server.js';

let server: FakeOpenAIServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(options: FakeOpenAIServerOptions = {}): Promise<FakeOpenAIServer> {
  server = await startFakeOpenAIServer(options);
  return server;
}

function post(target: FakeOpenAIServer, body: unknown, signal?: AbortSignal): Promise<Response> {
  return fetch(`${target.baseUrl}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer test-key' },
    body: JSON.stringify(body),
    ...(signal === undefined ? {} : { signal }),
  });
}

/** The `data:` payloads of an SSE body. */
function events(text: string): string[] {
  return text
    .split('\n\n')
    .filter((block) => block !== '')
    .map((block) => block.replace(/^data: /, ''));
}

const chatBody = { model: 'fake-model', messages: [{ role: 'user', content: 'say hi' }], stream: true };

describe('fake OpenAI server', () => {
  it('streams chunks in the chat-completions wire format, usage last, then [DONE]', async () => {
    const target = await start({ script: [{ type: 'reply', text: 'Hello brave world', reasoning: 'think' }] });
    const response = await post(target, { ...chatBody, stream_options: { include_usage: true } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const payloads = events(await response.text());
    expect(payloads.at(-1)).toBe('[DONE]');
    const chunks = payloads.slice(0, -1).map((payload) => JSON.parse(payload) as Record<string, unknown>);
    expect(chunks[0]).toMatchObject({
      object: 'chat.completion.chunk',
      model: 'fake-model',
      choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }],
      usage: null,
    });
    expect(chunks[1]).toMatchObject({ choices: [{ delta: { reasoning_content: 'think' } }] });
    expect(chunks.slice(2, 5).map((chunk) => chunk['choices'])).toEqual(
      ['Hello', ' brave', ' world'].map((content) => [
        { index: 0, delta: { content }, logprobs: null, finish_reason: null },
      ]),
    );
    expect(chunks[5]).toMatchObject({ choices: [{ delta: {}, finish_reason: 'stop' }] });
    expect(chunks[6]).toMatchObject({
      choices: [],
      usage: { prompt_tokens: 2, completion_tokens: 4, total_tokens: 6 },
    });
    expect(chunks).toHaveLength(7);
    expect(await target.outcome(0)).toBe('completed');
    expect(target.requests[0]).toMatchObject({ method: 'POST', path: '/v1/chat/completions', body: chatBody });
    expect(target.requests[0]?.headers.authorization).toBe('Bearer test-key');
  });

  it('sends no usage chunk unless asked, and splits into a given number of deltas', async () => {
    const target = await start({ script: [{ type: 'reply', text: 'abcdef', deltas: 3, finishReason: 'length' }] });
    const payloads = events(await (await post(target, chatBody)).text());
    const chunks = payloads.slice(0, -1).map((payload) => JSON.parse(payload) as Record<string, unknown>);
    expect(chunks.map((chunk) => 'usage' in chunk)).toEqual([false, false, false, false, false]);
    expect(chunks.at(-1)).toMatchObject({ choices: [{ finish_reason: 'length' }] });
    expect(payloads).toHaveLength(6);
  });

  it('answers without streaming as one JSON body', async () => {
    const target = await start({ script: [{ type: 'reply', text: 'Hi there' }] });
    const response = await post(target, { ...chatBody, stream: false });
    expect(await response.json()).toMatchObject({
      object: 'chat.completion',
      choices: [{ message: { role: 'assistant', content: 'Hi there' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 2, completion_tokens: 2 },
    });
  });

  it('lists models', async () => {
    const target = await start({ models: ['a', 'b'] });
    const response = await fetch(`${target.baseUrl}/models`);
    expect(await response.json()).toMatchObject({ object: 'list', data: [{ id: 'a' }, { id: 'b' }] });
  });

  it('sends scripted HTTP errors with an OpenAI-style body and headers, then the next behaviour', async () => {
    const target = await start({
      script: [
        { type: 'http-error', status: 429, message: 'slow down', headers: { 'retry-after': '1' } },
        { type: 'reply', text: 'ok' },
      ],
    });
    const first = await post(target, chatBody);
    expect(first.status).toBe(429);
    expect(first.headers.get('retry-after')).toBe('1');
    expect(await first.json()).toEqual({
      error: { message: 'slow down', type: 'invalid_request_error', param: null, code: null },
    });
    expect((await post(target, chatBody)).status).toBe(200);
  });

  it('answers 500 when the script has run out, and 404 for unknown paths', async () => {
    const target = await start();
    expect((await post(target, chatBody)).status).toBe(500);
    expect((await fetch(`${target.url}/nowhere`)).status).toBe(404);
  });

  it('rejects a wrong API key with a 401 that echoes it', async () => {
    const target = await start({ apiKey: 'right-key', script: [{ type: 'reply', text: 'x' }] });
    const response = await post(target, chatBody);
    expect(response.status).toBe(401);
    expect(await response.text()).toContain('Incorrect API key provided: test-key');
  });

  it('resets the connection mid-stream', async () => {
    const target = await start({
      script: [{ type: 'reply', text: 'one two three', fault: { type: 'reset', afterChunks: 2 } }],
    });
    const response = await post(target, chatBody);
    await expect(response.text()).rejects.toThrow();
    expect(await target.outcome(0)).toBe('server-reset');
  });

  it('sends a malformed chunk', async () => {
    const target = await start({
      script: [{ type: 'reply', text: 'one two', fault: { type: 'malformed', afterChunks: 1 } }],
    });
    expect(events(await (await post(target, chatBody)).text())).toContain('{not json');
  });

  it('stalls, and notices when the client gives up', async () => {
    const target = await start({
      script: [{ type: 'reply', text: 'one two', fault: { type: 'stall', afterChunks: 1 } }],
    });
    const controller = new AbortController();
    const response = await post(target, chatBody, controller.signal);
    const reader = response.body?.getReader();
    await reader?.read();
    controller.abort();
    expect(await target.outcome(0)).toBe('client-closed');
  });

  it('destroys open connections on close, so a stalled stream does not hang', async () => {
    const target = await start({ script: [{ type: 'reply', text: 'one', fault: { type: 'stall', afterChunks: 0 } }] });
    const response = await post(target, chatBody);
    const reading = response.text();
    await target.close();
    await expect(reading).rejects.toThrow();
    expect(target.requests[0]?.outcome).toBe('server-closed');
  });

  it('lets a function decide each behaviour from the request', async () => {
    const target = await start({
      script: (request, index) => ({ type: 'reply', text: `reply ${index} to ${request.path}` }),
    });
    const response = await post(target, { ...chatBody, stream: false });
    expect(await response.json()).toMatchObject({
      choices: [{ message: { content: 'reply 0 to /v1/chat/completions' } }],
    });
  });
});

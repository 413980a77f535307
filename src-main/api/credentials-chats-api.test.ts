import { describe, expect, it } from 'vitest';
import { createChat } from '../chats/chat-schema.js';
import { createTestServices } from '../testing/services.js';
import { apiRouter } from './router.js';
import { createCallerFactory } from './trpc.js';

const createCaller = createCallerFactory(apiRouter);
const secret = 'sk-test-abcdefghijklmnop-WXYZ';

describe('credentials API', () => {
  it('sets, reports and clears a key without ever returning it', async () => {
    const services = await createTestServices();
    const api = createCaller({ services, transport: 'in-process' });
    const before = await api.credentials.status({ backend: 'openai' });
    expect(before[0]).toMatchObject({ backend: 'openai', set: false });
    const set = await api.credentials.set({ backend: 'openai', key: secret });
    expect(set).toMatchObject({ set: true, hint: '…WXYZ', source: 'config-file' });
    const all = await api.credentials.status();
    expect(JSON.stringify(all)).not.toContain(secret);
    expect(JSON.stringify(set)).not.toContain(secret);
    const request = { backend: 'openai', baseUrl: 'https://api.openai.com/v1', originTrusted: true };
    expect(await services.backendContext.getApiKey(request)).toEqual({ apiKey: secret });
    const cleared = await api.credentials.clear({ backend: 'openai' });
    expect(cleared).toMatchObject({ set: false });
    expect(await services.backendContext.getApiKey(request)).toEqual({ apiKey: undefined });
  });

  it('reads keys from the environment first for the CLI and web host', async () => {
    const services = await createTestServices({ environment: { OPENAI_API_KEY: secret } });
    const [status] = await createCaller({ services, transport: 'in-process' }).credentials.status({
      backend: 'openai',
    });
    expect(status).toMatchObject({ set: true, source: 'environment', hint: '…WXYZ' });
  });

  it('validates its input', async () => {
    const api = createCaller({ services: await createTestServices(), transport: 'in-process' });
    await expect(api.credentials.set({ backend: '../../etc', key: 'x' })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });
    await expect(api.credentials.set({ backend: 'openai', key: '' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(
      api.credentials.set({ backend: 'openai', key: 'k', base_url: 'file:///etc/passwd' }),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });
});

describe('chats API', () => {
  it('saves, lists, exports and deletes a chat', async () => {
    const services = await createTestServices();
    const api = createCaller({ services, transport: 'in-process' });
    const chat = createChat({
      spec_query: 'mock',
      resolved_spec: { model_name: 'mock', backend: 'programmatic', api_key: secret },
    });
    chat.messages.push(
      { role: 'user', content: 'hello', created_at: chat.created_at },
      { role: 'assistant', content: 'hello', created_at: chat.created_at, finish_reason: 'stop' },
    );
    await api.chats.save(chat);
    expect((await api.chats.list()).map((entry) => entry.id)).toEqual([chat.id]);
    expect((await api.chats.get({ id: chat.id })).messages).toHaveLength(2);
    const markdown = await api.chats.export({ id: chat.id, format: 'markdown' });
    expect(markdown.content).toContain('### assistant');
    const json = await api.chats.export({ id: chat.id, format: 'json' });
    expect(json.content).not.toContain(secret);
    expect(markdown.content).not.toContain(secret);
    await api.chats.delete({ id: chat.id });
    expect(await api.chats.list()).toEqual([]);
    await expect(api.chats.get({ id: '../escape' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });
});

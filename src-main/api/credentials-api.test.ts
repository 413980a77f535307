import { describe, expect, it } from 'vitest';
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

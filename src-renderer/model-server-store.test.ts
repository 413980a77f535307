import { createServer } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppServices } from '../src-main/services';
import { startHostedServices, untilState, type HostedServices } from '../src-main/testing/hosted-services';
import { createModelServerStore, parsePortText, type ModelServerStore } from './model-server-store';

// The renderer's store for "Serve models to other apps", against the real API over the web host's WebSocket.
let hosted: HostedServices;
let services: AppServices;
let store: ModelServerStore;
let stopWatching: () => void;

beforeAll(async () => {
  hosted = await startHostedServices('renderer-model-server', [
    { model_name: 'echo', backend: 'programmatic', responses: ['served'] },
  ]);
  services = hosted.services;
  store = createModelServerStore(hosted.client.api);
  stopWatching = store.getState().watch();
});

afterAll(async () => {
  stopWatching();
  await hosted.close();
});

/** Resolves when the store's state satisfies `done`. */
const until = (done: () => boolean): Promise<void> => untilState(store, done);

describe('the model server store', () => {
  it('starts the server with the switch, copies the key, lists requests live, and stops', async () => {
    await until(() => store.getState().status !== null);
    expect(store.getState().status?.running).toBe(false);
    store.getState().setPortText('0');
    await store.getState().setRunning(true);
    const status = store.getState().status!;
    expect(status.running).toBe(true);
    expect(status.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    expect(status.key_hint).toMatch(/^….{4}$/);

    const copied: string[] = [];
    await store.getState().copyKey(async (text) => {
      copied.push(text);
    });
    expect(store.getState().copied).toBe(true);
    expect(copied).toEqual([services.modelServer.revealKey()]);

    const sdk = new OpenAI({ apiKey: copied[0]!, baseURL: status.url!, maxRetries: 0 });
    await sdk.chat.completions.create({ model: 'echo', messages: [{ role: 'user', content: 'hi' }] });
    await until(() => store.getState().requests[0]?.status === 'done');
    expect(store.getState().requests[0]).toMatchObject({
      model: 'echo',
      client: expect.stringMatching(/^OpenAI\/JS/),
      output_tokens: 1,
      http_status: 200,
    });

    await store.getState().setRunning(false);
    await until(() => store.getState().status?.running === false);
    expect(store.getState().copied).toBe(false);
    // The list outlives the server.
    expect(store.getState().requests).toHaveLength(1);
  });

  it('shows why a start failed and stays off', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    store.getState().setPortText(String((blocker.address() as { port: number }).port));
    await store.getState().setRunning(true);
    expect(store.getState().error).toMatch(/^network: port \d+ on 127\.0\.0\.1 is already in use/);
    expect(store.getState().status?.running).toBe(false);
    expect(store.getState().busy).toBe(false);
    blocker.close();
  });

  it('refuses a port field that is not a port, and takes an empty one as the default', async () => {
    expect(parsePortText('')).toBe(41707);
    expect(parsePortText(' 8081 ')).toBe(8081);
    expect(parsePortText('80a')).toMatch(/from 0 to 65535/);
    expect(parsePortText('70000')).toMatch(/from 0 to 65535/);
    store.getState().setPortText('nope');
    await store.getState().setRunning(true);
    expect(store.getState().error).toMatch(/^invalid-input: The port must be a number/);
  });
});

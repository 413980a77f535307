import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentVersion } from '../src-shared/conversation/transcript';
import type { AppServices } from '../src-main/services';
import { startHostedServices, untilState, type HostedServices } from '../src-main/testing/hosted-services';
import { createSessionStore, type SessionStore } from './session-store';

// The renderer's session store against the real API over the web host's WebSocket (Node's, not a browser's).
let hosted: HostedServices;
let services: AppServices;
let store: SessionStore;

beforeAll(async () => {
  hosted = await startHostedServices('renderer-sessions', [
    { model_name: 'alpha', backend: 'programmatic', responses: ['alpha 1', 'alpha 2'] },
    { model_name: 'beta', backend: 'programmatic', responses: ['beta 1', 'beta 2'] },
  ]);
  services = hosted.services;
  store = createSessionStore(hosted.client.api);
});

afterAll(async () => {
  await hosted.close();
});

/** Resolves when the store's state satisfies `done`. */
const until = (done: () => boolean): Promise<void> => untilState(store, done);

describe('the renderer session store', () => {
  it('makes a Pair session, sends, and folds both replies in as they stream', async () => {
    const view = await store.getState().create({ kind: 'pair', participants: [{ query: 'alpha' }, { query: 'beta' }] });
    expect(view).not.toBeNull();
    const id = view!.id;
    const unwatch = store.getState().watch(id);
    await until(() => store.getState().sessions[id]?.view !== null);
    expect(await store.getState().send(id, 'hello')).toBe(true);
    const done = () => {
      const messages = store.getState().sessions[id]?.view?.messages ?? [];
      return messages.length === 3 && messages.slice(1).every((message) => currentVersion(message).status === 'done');
    };
    await until(done);
    const messages = store.getState().sessions[id]!.view!.messages;
    expect(messages.map((message) => [message.speaker, currentVersion(message).text])).toEqual([
      ['user', 'hello'],
      ['a', 'alpha 1'],
      ['b', 'beta 1'],
    ]);
    unwatch();
  });

  it('keeps an action’s failure on the session once, and clears it with the next success', async () => {
    const view = await store.getState().create({ kind: 'chat', participants: [{ query: 'alpha' }] });
    const id = view!.id;
    expect(await store.getState().send(id, '   ')).toBe(false);
    expect(store.getState().sessions[id]!.error).toBe('invalid-input: the message is empty');
    expect(await store.getState().send(id, 'hi')).toBe(true);
    expect(store.getState().sessions[id]!.error).toBeNull();
  });

  it('says why a session cannot be made', async () => {
    expect(await store.getState().create({ kind: 'chat', participants: [{ query: 'nothing-like-it' }] })).toBeNull();
    expect(store.getState().error).toMatch(/^no-match: /);
  });

  it('votes on a blind pair, reveals it and loads the leaderboard', async () => {
    const view = await store.getState().create({ kind: 'pair', blind: { models: ['alpha', 'beta'] } });
    const id = view!.id;
    expect(view!.participants.every((participant) => participant.hidden && participant.spec === null)).toBe(true);
    const unwatch = store.getState().watch(id);
    await store.getState().send(id, 'compare');
    await until(() => {
      const messages = store.getState().sessions[id]?.view?.messages ?? [];
      return messages.length === 3 && messages.slice(1).every((message) => currentVersion(message).status === 'done');
    });
    expect(await store.getState().vote(id, 'tie')).toBe(true);
    await until(() => store.getState().sessions[id]?.view?.blind?.revealed === true);
    const names = store.getState().sessions[id]!.view!.participants.map((participant) => participant.spec?.model_name);
    expect(names.sort()).toEqual(['alpha', 'beta']);
    expect(store.getState().leaderboard?.votes).toBe(1);
    expect(store.getState().leaderboard?.rows.map((row) => row.ties)).toEqual([1, 1]);
    unwatch();
  });

  it('lists sessions and removes one', async () => {
    const view = await store.getState().create({ kind: 'chat', participants: [{ query: 'beta' }] });
    const id = view!.id;
    const unwatch = store.getState().watch(id);
    await store.getState().send(id, 'keep me');
    await until(() => store.getState().sessions[id]?.view?.messages.length === 2);
    await until(() => currentVersion(store.getState().sessions[id]!.view!.messages[1]!).status === 'done');
    await services.sessions.flush();
    await store.getState().refreshList();
    expect(store.getState().list.map((entry) => entry.id)).toContain(id);
    unwatch();
    expect(await store.getState().remove(id)).toBe(true);
    expect(store.getState().sessions[id]).toBeUndefined();
    await store.getState().refreshList();
    expect(store.getState().list.map((entry) => entry.id)).not.toContain(id);
  });
});

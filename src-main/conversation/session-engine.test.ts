import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { applySessionEvent, type SessionView } from '../../src-shared/conversation/session.js';
import { currentVersion, type TranscriptMessage } from '../../src-shared/conversation/transcript.js';
import type { AppServices } from '../services.js';
import { startFakeOpenAIServer, type FakeOpenAIServer } from '../testing/fake-openai-server.js';
import { createTestServices } from '../testing/services.js';
import { SessionEngine, type TrackedSessionEvent } from './session-engine.js';
import { Participant } from './participant.js';
import type { SessionRecord } from './session-schema.js';
import { SessionStore } from './session-store.js';

const entries = [
  { model_name: 'scripted', backend: 'programmatic', responses: ['first answer', 'second answer', 'third answer'] },
  { model_name: 'alpha', backend: 'programmatic', responses: ['alpha 1', 'alpha 2', 'alpha 3'] },
  { model_name: 'beta', backend: 'programmatic', responses: ['beta 1', 'beta 2', 'beta 3'] },
  {
    model_name: 'slow',
    backend: 'programmatic',
    responses: [Array.from({ length: 40 }, (_, index) => `w${index}`).join(' ')],
    delay_ms: 5,
  },
  { model_name: 'tiny-context', backend: 'programmatic', responses: ['ok', 'ok again'], context_size: 40 },
  { model_name: 'person', backend: 'human' },
];

let fake: FakeOpenAIServer;
let folder: string;
let registryFile: string;
let services: AppServices;

function writeRegistry(list: object[]): void {
  writeFileSync(registryFile, JSON.stringify(list));
}

beforeAll(async () => {
  fake = await startFakeOpenAIServer({ models: ['remote'] });
});

afterAll(async () => {
  await fake.close();
});

async function freshServices(dataDir?: string): Promise<AppServices> {
  folder = mkdtempSync(join(tmpdir(), 'clemplay-sessions-'));
  registryFile = join(folder, 'model_registry.json');
  writeRegistry([
    ...entries,
    { model_name: 'broken', backend: 'openai_compatible', model_id: 'remote', base_url: fake.baseUrl, retries: 0 },
  ]);
  services = await createTestServices({
    registryFiles: [registryFile],
    ...(dataDir === undefined ? {} : { dataDir }),
  });
  return services;
}

afterEach(async () => {
  await services.dispose();
});

/** Follows a session through its events until `done` holds for the folded view; returns that view. */
async function until(id: string, done: (session: SessionView) => boolean): Promise<SessionView> {
  const controller = new AbortController();
  let view: SessionView | null = null;
  for await (const { event } of services.sessions.subscribe(id, null, controller.signal)) {
    view = applySessionEvent(view, event);
    if (view !== null && done(view)) {
      controller.abort();
      return view;
    }
  }
  throw new Error('the subscription ended first');
}

const idle = (session: SessionView): boolean =>
  session.participants.every((participant) => participant.status === 'idle') && session.dialogue?.running !== true;

function said(session: SessionView): Array<[string, string]> {
  return session.messages.map((message) => [message.speaker, currentVersion(message).text]);
}

function replyOf(session: SessionView, speaker: string): TranscriptMessage {
  const message = [...session.messages].reverse().find((candidate) => candidate.speaker === speaker);
  if (message === undefined) throw new Error(`no message from ${speaker}`);
  return message;
}

describe('chat sessions', () => {
  it('resolves once, answers in order and saves as it goes', async () => {
    await freshServices();
    const session = await services.sessions.create({ kind: 'chat', participants: [{ query: 'scripted' }] });
    expect(session.participants[0]).toMatchObject({ id: 'model', backend: 'programmatic', status: 'idle' });
    await (
      await services.sessions.send(session.id, 'hello')
    ).finished;
    await (
      await services.sessions.send(session.id, 'again')
    ).finished;
    const view = await services.sessions.get(session.id);
    expect(said(view)).toEqual([
      ['user', 'hello'],
      ['model', 'first answer'],
      ['user', 'again'],
      ['model', 'second answer'],
    ]);
    expect(view.title).toBe('hello');
    const reply = currentVersion(view.messages[1]!);
    expect(reply).toMatchObject({ status: 'done', finish_reason: 'stop', usage: { output_tokens: 2 } });
    expect(reply.spec).toMatchObject({ model_name: 'scripted' });
    await services.sessions.flush();
    const saved = JSON.parse(readFileSync(join(services.dataDir, 'sessions', `${session.id}.json`), 'utf8'));
    expect(saved).toMatchObject({ version: 2, kind: 'chat', messages: [{}, {}, {}, {}] });
    expect((await services.sessions.list()).map((entry) => entry.id)).toEqual([session.id]);
  });

  it('refuses a second message while a reply streams, and a query that matches nothing', async () => {
    await freshServices();
    const session = await services.sessions.create({ kind: 'chat', participants: [{ query: 'slow' }] });
    const turn = await services.sessions.send(session.id, 'go');
    await expect(services.sessions.send(session.id, 'again')).rejects.toMatchObject({ code: 'conflict' });
    await turn.finished;
    await expect(
      services.sessions.create({ kind: 'chat', participants: [{ query: 'no-such-model' }] }),
    ).rejects.toMatchObject({ code: 'no-match' });
  });

  it('keeps earlier versions on regenerate and brings back what followed them', async () => {
    await freshServices();
    const session = await services.sessions.create({ kind: 'chat', participants: [{ query: 'mock' }] });
    await (
      await services.sessions.send(session.id, 'one')
    ).finished;
    await (
      await services.sessions.send(session.id, 'two')
    ).finished;
    const first = (await services.sessions.get(session.id)).messages[1]!;
    await (
      await services.sessions.regenerate(session.id, first.id)
    ).finished;
    let view = await services.sessions.get(session.id);
    // The later turn went with the version it followed.
    expect(said(view)).toEqual([
      ['user', 'one'],
      ['model', 'one'],
    ]);
    expect(view.messages[1]).toMatchObject({ current: 1, versions: [{ text: 'one' }, { text: 'one' }] });
    view = await services.sessions.selectVersion(session.id, first.id, 0);
    expect(said(view)).toEqual([
      ['user', 'one'],
      ['model', 'one'],
      ['user', 'two'],
      ['model', 'two'],
    ]);
  });

  it('edits and resends a message, keeping the earlier wording', async () => {
    await freshServices();
    const session = await services.sessions.create({ kind: 'chat', participants: [{ query: 'mock' }] });
    const turn = await services.sessions.send(session.id, 'typo');
    await turn.finished;
    await (
      await services.sessions.edit(session.id, turn.message_id, 'fixed')
    ).finished;
    const view = await services.sessions.get(session.id);
    expect(said(view)).toEqual([
      ['user', 'fixed'],
      ['model', 'fixed'],
    ]);
    expect(view.messages[0]!.versions.map((version) => version.text)).toEqual(['typo', 'fixed']);
    expect(view.messages[0]!.versions[0]!.followers?.map((message) => currentVersion(message).text)).toEqual(['typo']);
  });

  it('reports a history that does not fit the context instead of sending it', async () => {
    await freshServices();
    const session = await services.sessions.create({ kind: 'chat', participants: [{ query: 'tiny-context' }] });
    await (
      await services.sessions.send(session.id, 'x'.repeat(400))
    ).finished;
    const reply = currentVersion(replyOf(await services.sessions.get(session.id), 'model'));
    expect(reply.status).toBe('error');
    expect(reply.error).toMatchObject({ code: 'context-overflow', details: { context_size: 40 } });
    expect(reply.text).toBe('');
  });

  it('asks a human participant of that session and takes the answer', async () => {
    await freshServices();
    const session = await services.sessions.create({ kind: 'chat', participants: [{ query: 'person' }] });
    const turn = await services.sessions.send(session.id, 'your move?');
    const asked = await until(session.id, (view) => view.participants[0]!.status === 'waiting-human');
    expect(currentVersion(replyOf(asked, 'model')).human_request?.prompt).toBe('your move?');
    await expect(services.sessions.humanReply(session.id, 'nobody', 'x')).rejects.toMatchObject({
      code: 'invalid-input',
    });
    await services.sessions.humanReply(session.id, 'model', 'e4');
    await turn.finished;
    expect(said(await services.sessions.get(session.id)).at(-1)).toEqual(['model', 'e4']);
    await expect(services.sessions.humanReply(session.id, 'model', 'again')).rejects.toMatchObject({
      code: 'not-found',
    });
  });
});

describe('Pair', () => {
  it('gives each side its own history', async () => {
    await freshServices();
    const session = await services.sessions.create({
      kind: 'pair',
      participants: [{ query: 'alpha' }, { query: 'beta', system: 'Be B.' }],
    });
    await (
      await services.sessions.send(session.id, 'hi')
    ).finished;
    await (
      await services.sessions.send(session.id, 'again')
    ).finished;
    // A model that saw the other's reply as its own turn would be one answer ahead.
    expect(said(await services.sessions.get(session.id))).toEqual([
      ['user', 'hi'],
      ['a', 'alpha 1'],
      ['b', 'beta 1'],
      ['user', 'again'],
      ['a', 'alpha 2'],
      ['b', 'beta 2'],
    ]);
  });

  it('stops one side while the other finishes', async () => {
    await freshServices();
    const session = await services.sessions.create({
      kind: 'pair',
      participants: [{ query: 'slow' }, { query: 'scripted' }],
    });
    const turn = await services.sessions.send(session.id, 'go');
    await until(session.id, (view) => currentVersion(replyOf(view, 'a')).text !== '');
    await services.sessions.stop(session.id, 'a');
    await turn.finished;
    const view = await services.sessions.get(session.id);
    const a = currentVersion(replyOf(view, 'a'));
    expect(a.status).toBe('stopped');
    expect(a.text.split(' ').length).toBeLessThan(40);
    expect(currentVersion(replyOf(view, 'b'))).toMatchObject({ status: 'done', text: 'first answer' });
  });

  it('keeps one side going when the other fails', async () => {
    await freshServices();
    fake.enqueue({ type: 'http-error', status: 500, message: 'upstream broke' });
    const session = await services.sessions.create({
      kind: 'pair',
      participants: [{ query: 'scripted' }, { query: 'broken' }],
    });
    await (
      await services.sessions.send(session.id, 'hi')
    ).finished;
    const view = await services.sessions.get(session.id);
    expect(currentVersion(replyOf(view, 'a'))).toMatchObject({ status: 'done', text: 'first answer' });
    expect(currentVersion(replyOf(view, 'b'))).toMatchObject({ status: 'error', error: { code: 'network' } });
  });

  it('regenerates one side without touching the other', async () => {
    await freshServices();
    const session = await services.sessions.create({
      kind: 'pair',
      participants: [{ query: 'mock' }, { query: 'scripted' }],
    });
    await (
      await services.sessions.send(session.id, 'hi')
    ).finished;
    const aReply = replyOf(await services.sessions.get(session.id), 'a');
    await (
      await services.sessions.regenerate(session.id, aReply.id)
    ).finished;
    const view = await services.sessions.get(session.id);
    expect(said(view)).toEqual([
      ['user', 'hi'],
      ['a', 'hi'],
      ['b', 'first answer'],
    ]);
    expect(replyOf(view, 'a').versions).toHaveLength(2);
  });

  it('hides the blind pair until the vote, then reveals it and rates from the saved votes', async () => {
    await freshServices();
    const draws = [2, 0];
    const engine = new SessionEngine({
      registry: services.registry,
      backendContext: services.backendContext,
      votes: services.votes,
      random: () => draws.shift() ?? 0,
    });
    const session = await engine.create({
      kind: 'pair',
      blind: { models: ['alpha', 'beta', 'scripted'] },
    });
    expect(session.participants.map((participant) => participant.label)).toEqual(['Model A', 'Model B']);
    for (const participant of session.participants) {
      expect(participant).toMatchObject({ hidden: true, query: null, spec: null, backend: null, source: null });
    }
    await expect(engine.vote(session.id, 'a')).rejects.toMatchObject({ code: 'invalid-input' });
    await (
      await engine.send(session.id, 'which is better?')
    ).finished;
    const hidden = await engine.get(session.id);
    expect(JSON.stringify(hidden)).not.toMatch(/alpha"|beta"|scripted"/);
    await expect(engine.export(session.id, 'json')).rejects.toMatchObject({ code: 'invalid-input' });
    const revealed = await engine.vote(session.id, 'a');
    // Draw 2 of 3 is "scripted" for A, then 0 of the remaining two is "alpha" for B.
    expect(revealed.participants.map((participant) => participant.spec?.model_name)).toEqual(['scripted', 'alpha']);
    expect(revealed.blind).toEqual({ revealed: true, vote: 'a' });
    await expect(engine.vote(session.id, 'b')).rejects.toMatchObject({ code: 'conflict' });
    const votes = await services.votes.list();
    expect(votes).toEqual([
      expect.objectContaining({ session_id: session.id, a: 'scripted', b: 'alpha', winner: 'a' }),
    ]);
    const board = await services.votes.leaderboard();
    expect(board.votes).toBe(1);
    expect(board.rows.map((row) => row.model)).toEqual(['scripted', 'alpha']);
    expect(board.rows[0]).toMatchObject({ votes: 1, wins: 1 });
    await engine.dispose();
  });
});

describe('dialogues', () => {
  it('turns each side’s replies into the other’s user turns, with its own system prompt', async () => {
    await freshServices();
    const session = await services.sessions.create({
      kind: 'dialogue',
      participants: [
        { query: 'alpha', system: 'You are A.' },
        { query: 'mock', system: 'You are B.' },
      ],
    });
    await (
      await services.sessions.startDialogue(session.id, 'Let us talk.', 4)
    ).finished;
    const view = await services.sessions.get(session.id);
    // B echoes what it was sent last: A's reply, never its own.
    expect(said(view)).toEqual([
      ['user', 'Let us talk.'],
      ['a', 'alpha 1'],
      ['b', 'alpha 1'],
      ['a', 'alpha 2'],
      ['b', 'alpha 2'],
    ]);
    expect(view.dialogue).toEqual({ turns: 4, done: 4, running: false });
    expect(view.messages[1]!.to).toEqual(['b', 'user']);
  });

  it('ends at a failure and keeps what was said', async () => {
    await freshServices();
    fake.enqueue({ type: 'http-error', status: 500 });
    const session = await services.sessions.create({
      kind: 'dialogue',
      participants: [{ query: 'alpha' }, { query: 'broken' }],
    });
    await (
      await services.sessions.startDialogue(session.id, 'Go.', 6)
    ).finished;
    const view = await services.sessions.get(session.id);
    expect(said(view).map(([speaker]) => speaker)).toEqual(['user', 'a', 'b']);
    expect(currentVersion(view.messages[2]!).status).toBe('error');
    expect(view.dialogue).toEqual({ turns: 6, done: 2, running: false });
  });

  it('drops the oldest turns when a history outgrows the context', async () => {
    await freshServices();
    const session = await services.sessions.create({
      kind: 'dialogue',
      participants: [{ query: 'tiny-context' }, { query: 'mock' }],
    });
    await (
      await services.sessions.startDialogue(session.id, 'x'.repeat(120), 3)
    ).finished;
    const view = await services.sessions.get(session.id);
    // A's first turn (the opening) fits; its second turn needs the oldest turns dropped.
    const aReplies = view.messages.filter((message) => message.speaker === 'a').map(currentVersion);
    expect(aReplies.map((version) => version.status)).toEqual(['done', 'done']);
    expect(aReplies[1]!.dropped_turns).toBeGreaterThan(0);
  });

  it('stops on request', async () => {
    await freshServices();
    const session = await services.sessions.create({
      kind: 'dialogue',
      participants: [{ query: 'slow' }, { query: 'slow' }],
    });
    const { finished } = await services.sessions.startDialogue(session.id, 'Go.', 10);
    await until(session.id, (view) => view.messages.length >= 2 && currentVersion(view.messages[1]!).text !== '');
    await services.sessions.stop(session.id);
    await finished;
    const view = await services.sessions.get(session.id);
    expect(view.dialogue).toMatchObject({ running: false, done: 1 });
    expect(currentVersion(view.messages[1]!).status).toBe('stopped');
  });
});

describe('subscriptions', () => {
  it('gives a client that reconnects mid-stream what it missed, then the rest', async () => {
    await freshServices();
    const session = await services.sessions.create({ kind: 'chat', participants: [{ query: 'slow' }] });
    const first = new AbortController();
    let view: SessionView | null = null;
    let lastId: string | null = null;
    const subscription = services.sessions.subscribe(session.id, null, first.signal);
    const turn = await services.sessions.send(session.id, 'go');
    for await (const entry of subscription) {
      view = applySessionEvent(view, entry.event);
      lastId = entry.id;
      if (view !== null && view.messages.length === 2 && currentVersion(view.messages[1]!).text !== '') break;
    }
    first.abort();
    const partial = currentVersion(view!.messages[1]!).text;
    // The reply goes on while nobody watches.
    await turn.finished;
    const second = new AbortController();
    const replayed: TrackedSessionEvent[] = [];
    for await (const entry of services.sessions.subscribe(session.id, lastId, second.signal)) {
      replayed.push(entry);
      view = applySessionEvent(view, entry.event);
      if (idle(view!) && currentVersion(view!.messages[1]!).status === 'done') break;
    }
    second.abort();
    expect(replayed[0]!.event.type).not.toBe('snapshot');
    const full = currentVersion((await services.sessions.get(session.id)).messages[1]!).text;
    expect(full.startsWith(partial)).toBe(true);
    expect(full.length).toBeGreaterThan(partial.length);
    // The transcript a reconnected client folded is the engine's own.
    expect(view!.messages).toEqual((await services.sessions.get(session.id)).messages);
  });

  it('sends a snapshot to a client whose resume point is unknown', async () => {
    await freshServices();
    const session = await services.sessions.create({ kind: 'chat', participants: [{ query: 'scripted' }] });
    const controller = new AbortController();
    for await (const entry of services.sessions.subscribe(session.id, 'other-epoch:3', controller.signal)) {
      expect(entry.event.type).toBe('snapshot');
      break;
    }
    controller.abort();
  });
});

describe('the registry and saved sessions', () => {
  it('keeps the held model through a registry edit, says so, and re-resolves on request', async () => {
    await freshServices();
    const session = await services.sessions.create({ kind: 'chat', participants: [{ query: 'scripted' }] });
    await (
      await services.sessions.send(session.id, 'one')
    ).finished;
    writeRegistry([{ model_name: 'scripted', backend: 'programmatic', responses: ['new 1', 'new 2'] }]);
    await services.registry.reload(registryFile);
    const changed = await services.sessions.get(session.id);
    expect(changed.participants[0]!.registry_changed).toBe(true);
    await (
      await services.sessions.send(session.id, 'two')
    ).finished;
    expect(said(await services.sessions.get(session.id)).at(-1)).toEqual(['model', 'second answer']);
    const reResolved = await services.sessions.reResolve(session.id, 'model');
    expect(reResolved.participants[0]).toMatchObject({
      registry_changed: false,
      spec: { responses: ['new 1', 'new 2'] },
    });
    expect(said(reResolved).at(-1)?.[0]).toBe('system');
    await (
      await services.sessions.send(session.id, 'three')
    ).finished;
    expect(said(await services.sessions.get(session.id)).at(-1)).toEqual(['model', 'new 2']);
  });

  it('reopens a saved session in a new process with the spec it held', async () => {
    await freshServices();
    const dataDir = services.dataDir;
    const session = await services.sessions.create({ kind: 'chat', participants: [{ query: 'scripted' }] });
    await (
      await services.sessions.send(session.id, 'one')
    ).finished;
    await services.dispose();
    await freshServices(dataDir);
    writeRegistry([{ model_name: 'scripted', backend: 'programmatic', responses: ['changed'] }]);
    await services.registry.reload(registryFile);
    const reopened = await services.sessions.get(session.id);
    expect(said(reopened)).toEqual([
      ['user', 'one'],
      ['model', 'first answer'],
    ]);
    expect(reopened.participants[0]).toMatchObject({
      registry_changed: true,
      spec: { responses: ['first answer', 'second answer', 'third answer'] },
    });
    await (
      await services.sessions.send(session.id, 'two')
    ).finished;
    expect(said(await services.sessions.get(session.id)).at(-1)).toEqual(['model', 'second answer']);
  });

  it('takes the registry’s spec again on reopening when only what was stripped on saving differs', async () => {
    await freshServices();
    const dataDir = services.dataDir;
    const proxied = {
      model_name: 'proxied',
      backend: 'programmatic',
      responses: ['fine'],
      base_url: 'http://someone:secret-pw@127.0.0.1:9/v1',
    };
    writeRegistry([proxied]);
    await services.registry.reload(registryFile);
    const session = await services.sessions.create({ kind: 'chat', participants: [{ query: 'proxied' }] });
    await (
      await services.sessions.send(session.id, 'one')
    ).finished;
    await services.dispose();
    // A new process on the same registry file and data folder.
    services = await createTestServices({ registryFiles: [registryFile], dataDir });
    const saved = readFileSync(join(dataDir, 'sessions', `${session.id}.json`), 'utf8');
    expect(saved).not.toContain('secret-pw');
    const reopened = await services.sessions.get(session.id);
    // The saved spec lacks the password, the registry's has it: that is no change of the registry.
    expect(reopened.participants[0]).toMatchObject({
      registry_changed: false,
      spec: { base_url: 'http://127.0.0.1:9/v1' },
    });
  });

  it('opens a chat saved by version 1 and moves its file once saved again', async () => {
    await freshServices();
    const chats = join(services.dataDir, 'chats');
    mkdirSync(chats, { recursive: true });
    const old = {
      version: 1,
      id: '20240501-120000-abcdef',
      title: 'Old chat',
      created_at: '2024-05-01T12:00:00.000Z',
      updated_at: '2024-05-01T12:00:01.000Z',
      spec_query: 'scripted',
      resolved_spec: entries[0],
      system: 'Be brief.',
      messages: [
        { role: 'user', content: 'hello', created_at: '2024-05-01T12:00:00.000Z' },
        { role: 'assistant', content: 'first answer', created_at: '2024-05-01T12:00:01.000Z', finish_reason: 'stop' },
      ],
    };
    writeFileSync(join(chats, `${old.id}.json`), JSON.stringify(old));
    expect(await services.sessions.list()).toEqual([
      expect.objectContaining({ id: old.id, kind: 'chat', title: 'Old chat', message_count: 2 }),
    ]);
    const view = await services.sessions.get(old.id);
    expect(view.participants[0]).toMatchObject({ id: 'model', system: 'Be brief.', spec: { model_name: 'scripted' } });
    await (
      await services.sessions.send(old.id, 'more')
    ).finished;
    await services.sessions.flush();
    expect(said(await services.sessions.get(old.id)).at(-1)).toEqual(['model', 'second answer']);
    expect(JSON.parse(readFileSync(join(services.dataDir, 'sessions', `${old.id}.json`), 'utf8')).version).toBe(2);
    expect(JSON.parse(readFileSync(join(chats, '.migrated', `${old.id}.json`), 'utf8')).title).toBe('Old chat');
    expect((await services.sessions.list()).map((entry) => entry.id)).toEqual([old.id]);
  });
});

describe('what review found', () => {
  it('keeps what names a hidden model out of every event before the vote: errors, warnings and context sizes', async () => {
    await freshServices();
    writeRegistry([
      { model_name: 'alpha', backend: 'programmatic', responses: ['alpha 1'], context_size: 131072 },
      {
        model_name: 'secret-llama-70b',
        backend: 'openai_compatible',
        model_id: 'secret-llama-70b',
        base_url: fake.baseUrl,
        retries: 0,
        context_size: 8192,
      },
    ]);
    await services.registry.reload(registryFile);
    fake.enqueue({ type: 'http-error', status: 500 });
    const session = await services.sessions.create({ kind: 'pair', blind: { models: ['alpha', 'secret-llama-70b'] } });
    const controller = new AbortController();
    const events: string[] = [];
    const reading = (async () => {
      for await (const { event } of services.sessions.subscribe(session.id, null, controller.signal)) {
        events.push(JSON.stringify(event));
      }
    })();
    await (
      await services.sessions.send(session.id, 'hi')
    ).finished;
    await until(session.id, idle);
    controller.abort();
    await reading;
    const seen = [...events, JSON.stringify(await services.sessions.get(session.id))].join('\n');
    for (const needle of ['secret-llama-70b', fake.baseUrl, '8192', '131072', 'openai_compatible']) {
      expect(seen).not.toContain(needle);
    }
    // The failure itself shows, by its code.
    expect(seen).toContain('(network)');
  });

  it('keeps a version another process would overwrite as a copy, never losing it at quit', async () => {
    await freshServices();
    const dataDir = services.dataDir;
    const engine = (): SessionEngine =>
      new SessionEngine({
        registry: services.registry,
        backendContext: services.backendContext,
        store: new SessionStore({ dataDir }),
      });
    const window = engine();
    const session = await window.create({ kind: 'chat', participants: [{ query: 'mock' }] });
    await (
      await window.send(session.id, 'first')
    ).finished;
    await window.flush();
    // Another process changes the same conversation on disk.
    const other = engine();
    await (
      await other.send(session.id, 'from the other process')
    ).finished;
    await other.dispose();
    await (
      await window.send(session.id, 'my important second message')
    ).finished;
    await window.flush();
    expect((await window.get(session.id)).save_error).toContain('(your copy)');
    await window.dispose();
    const store = new SessionStore({ dataDir });
    const saved = await store.list();
    const copy = saved.find((entry) => !entry.broken && entry.title.endsWith('(your copy)'));
    expect(copy).toBeDefined();
    const texts = (await store.get(copy!.id)).messages.map((message) => currentVersion(message).text);
    expect(texts).toContain('my important second message');
    // The other process's version stays as it wrote it.
    const original = (await store.get(session.id)).messages.map((message) => currentVersion(message).text);
    expect(original).toContain('from the other process');
    expect(original).not.toContain('my important second message');
  });

  it('sees a rename in another process as a change, not as the same version', async () => {
    await freshServices();
    const dataDir = services.dataDir;
    const engine = (): SessionEngine =>
      new SessionEngine({
        registry: services.registry,
        backendContext: services.backendContext,
        store: new SessionStore({ dataDir }),
      });
    const window = engine();
    const session = await window.create({ kind: 'chat', participants: [{ query: 'mock' }] });
    await (
      await window.send(session.id, 'first')
    ).finished;
    await window.flush();
    const other = engine();
    await other.rename(session.id, 'renamed elsewhere');
    await other.dispose();
    await (
      await window.send(session.id, 'second')
    ).finished;
    await window.dispose();
    expect((await new SessionStore({ dataDir }).get(session.id)).title).toBe('renamed elsewhere');
  });

  it('counts a double-clicked vote once', async () => {
    await freshServices();
    const session = await services.sessions.create({ kind: 'pair', blind: { models: ['alpha', 'beta'] } });
    await (
      await services.sessions.send(session.id, 'hi')
    ).finished;
    const results = await Promise.allSettled([
      services.sessions.vote(session.id, 'a'),
      services.sessions.vote(session.id, 'b'),
    ]);
    expect(results.map((result) => result.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(await services.votes.list()).toHaveLength(1);
  });

  it('draws a blind pair from different models: a name and its JSON spec are one model', async () => {
    await freshServices();
    await expect(
      services.sessions.create({ kind: 'pair', blind: { models: ['alpha', '{"model_name": "alpha"}'] } }),
    ).rejects.toMatchObject({ code: 'invalid-input' });
    await expect(
      services.sessions.create({ kind: 'pair', blind: { models: ['alpha', 'no-such-model'] } }),
    ).rejects.toMatchObject({ code: 'no-match', message: expect.stringContaining('no-such-model: ') });
  });

  it('never marks a participant idle while its next reply streams', async () => {
    await freshServices();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let measured = 0;
    const measure = Participant.prototype.measure;
    // The context meter after the first reply takes its time (a real tokenizer may).
    const spy = vi.spyOn(Participant.prototype, 'measure').mockImplementation(async function (
      this: Participant,
      history,
      signal,
    ) {
      if (signal === undefined && measured++ === 0) await gate;
      return measure.call(this, history, signal);
    });
    try {
      const session = await services.sessions.create({ kind: 'chat', participants: [{ query: 'slow' }] });
      const first = await services.sessions.send(session.id, 'one');
      await until(session.id, (view) => view.messages.length === 2 && idle(view));
      const second = await services.sessions.send(session.id, 'two');
      release();
      await first.finished;
      const view = await services.sessions.get(session.id);
      expect(currentVersion(view.messages.at(-1)!).status).toBe('streaming');
      expect(view.participants[0]!.status).not.toBe('idle');
      await expect(services.sessions.configure(session.id, 'model', { query: 'alpha' })).rejects.toMatchObject({
        code: 'conflict',
      });
      await services.sessions.stop(session.id);
      await second.finished;
    } finally {
      spy.mockRestore();
    }
  });

  it('answers once for a participant named twice', async () => {
    await freshServices();
    const session = await services.sessions.create({ kind: 'chat', participants: [{ query: 'scripted' }] });
    const turn = await services.sessions.send(session.id, 'hi', ['model', 'model']);
    expect(turn.reply_ids).toHaveLength(1);
    await turn.finished;
  });

  it('lets a session that is leaving memory finish saving before anyone opens it again', async () => {
    await freshServices();
    const dataDir = services.dataDir;
    let release: () => void = () => undefined;
    let saving: () => void = () => undefined;
    const held = { on: false };
    const started = new Promise<void>((resolve) => (saving = resolve));
    class HeldStore extends SessionStore {
      override async save(record: SessionRecord, options?: { ifUpdatedAt?: string | null }): Promise<void> {
        if (held.on) {
          saving();
          await new Promise<void>((resolve) => (release = resolve));
        }
        return super.save(record, options);
      }
    }
    const engine = new SessionEngine({
      registry: services.registry,
      backendContext: services.backendContext,
      store: new HeldStore({ dataDir }),
      idleMs: 0,
    });
    const session = await engine.create({ kind: 'chat', participants: [{ query: 'mock' }] });
    await (
      await engine.send(session.id, 'hello')
    ).finished;
    await engine.flush();
    held.on = true;
    // The rename's save is held; the idle timer retires the session meanwhile.
    const renaming = engine.rename(session.id, 'renamed');
    await started;
    // A client subscribes while the session leaves memory: it must follow the session as it goes on.
    const controller = new AbortController();
    const seen: string[] = [];
    let first: () => void = () => undefined;
    const subscribed = new Promise<void>((resolve) => (first = resolve));
    const following = (async () => {
      for await (const { event } of engine.subscribe(session.id, null, controller.signal)) {
        seen.push(event.type === 'snapshot' ? `snapshot:${event.session.title}` : event.type);
        first();
      }
    })();
    held.on = false;
    release();
    await renaming;
    await subscribed;
    await (
      await engine.send(session.id, 'still there?')
    ).finished;
    controller.abort();
    await following;
    // It was given the session as saved (renamed), then the new turn's messages.
    expect(seen[0]).toBe('snapshot:renamed');
    expect(seen.filter((type) => type === 'message').length).toBeGreaterThanOrEqual(2);
    expect(said(await engine.get(session.id)).at(-1)).toEqual(['model', 'still there?']);
    await engine.dispose();
  });
});

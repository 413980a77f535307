import { mkdtemp, readdir, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { newSessionId, titleFromText, type SessionRecord } from './session-schema.js';
import { SessionStore } from './session-store.js';

let dataDir: string;
let directory: string;

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'clemplay-sessions-'));
  directory = join(dataDir, 'sessions');
});

afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

function sampleSession(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    version: 2,
    id: 'chat-1',
    kind: 'chat',
    title: 'Greetings',
    created_at: '2024-05-01T12:00:00.000Z',
    updated_at: '2024-05-01T12:05:00.000Z',
    participants: [
      {
        id: 'model',
        label: 'Model',
        query: 'gpt-4o-mini',
        system: 'Be brief.',
        spec: { model_name: 'gpt-4o-mini', backend: 'openai', model_id: 'gpt-4o-mini-2024-07-18' },
        source: null,
      },
    ],
    messages: [
      {
        id: 'm1',
        speaker: 'user',
        to: ['model'],
        created_at: '2024-05-01T12:00:00.000Z',
        versions: [{ text: 'Hello', reasoning: '', status: 'done', started_at: '2024-05-01T12:00:00.000Z' }],
        current: 0,
      },
      {
        id: 'm2',
        speaker: 'model',
        to: ['user'],
        created_at: '2024-05-01T12:00:01.000Z',
        versions: [
          {
            text: 'Hi there.',
            reasoning: 'They greet me.',
            status: 'done',
            started_at: '2024-05-01T12:00:01.000Z',
            finish_reason: 'stop',
            usage: { input_tokens: 12, output_tokens: 3 },
            timing: { first_token_ms: 120, duration_ms: 300, tokens_per_second: 16.7 },
          },
        ],
        current: 0,
      },
    ],
    ...overrides,
  };
}

describe('session ids and titles', () => {
  it('makes ids that are valid and sort by time', () => {
    const early = newSessionId(new Date('2024-05-01T12:00:00.000Z'));
    const late = newSessionId(new Date('2024-05-01T12:00:01.000Z'));
    expect(early).toMatch(/^20240501-120000-[0-9a-f]{6}$/);
    expect(early < late).toBe(true);
  });

  it('takes a title from the first non-empty line, shortened', () => {
    expect(titleFromText('\n  What   is\tunification?\nMore')).toBe('What is unification?');
    expect(titleFromText('x'.repeat(80))).toBe(`${'x'.repeat(59)}…`);
    expect(titleFromText('   ')).toBe('');
  });
});

describe('SessionStore', () => {
  it('saves and reads a session back unchanged, readable only by its owner', async () => {
    const store = new SessionStore({ dataDir });
    const session = sampleSession();
    await store.save(session);
    expect(await store.get('chat-1')).toEqual(session);
    expect((await stat(join(directory, 'chat-1.json'))).mode & 0o777).toBe(0o600);
  });

  it('keeps the old file when a save dies before the rename, and leaves no temp file', async () => {
    await new SessionStore({ dataDir }).save(sampleSession());
    const before = await readFile(join(directory, 'chat-1.json'), 'utf8');
    const crashing = new SessionStore({
      dataDir,
      beforeRename: async () => {
        throw new Error('simulated crash');
      },
    });
    await expect(crashing.save(sampleSession({ title: 'Changed' }))).rejects.toMatchObject({ code: 'internal' });
    expect(await readFile(join(directory, 'chat-1.json'), 'utf8')).toBe(before);
    expect(await readdir(directory)).toEqual(['chat-1.json']);
  });

  it('lists sessions newest first with their models, ignoring temp files, the trash and other files', async () => {
    const store = new SessionStore({ dataDir });
    await store.save(sampleSession({ id: 'old', title: 'Old', updated_at: '2024-01-01T00:00:00.000Z' }));
    await store.save(sampleSession({ id: 'new', title: 'New', updated_at: '2024-06-01T00:00:00.000Z', messages: [] }));
    await writeFile(join(directory, '.old.json.abc123.tmp'), '{"half": ');
    await writeFile(join(directory, 'notes.txt'), 'not a session');
    expect(await store.list()).toEqual([
      {
        broken: false,
        id: 'new',
        kind: 'chat',
        title: 'New',
        updated_at: '2024-06-01T00:00:00.000Z',
        message_count: 0,
        models: ['gpt-4o-mini (openai)'],
      },
      expect.objectContaining({ id: 'old', message_count: 2 }),
    ]);
  });

  it('names no models for a blind pair before its vote', async () => {
    const store = new SessionStore({ dataDir });
    await store.save(sampleSession({ kind: 'pair', blind: { revealed: false } }));
    expect((await store.list())[0]).toMatchObject({ kind: 'pair', models: [] });
  });

  it('lists nothing when the folder does not exist yet', async () => {
    expect(await new SessionStore({ dataDir: join(dataDir, 'missing') }).list()).toEqual([]);
  });

  it('lists a corrupt file as broken with its error, and neither throws nor removes it', async () => {
    const store = new SessionStore({ dataDir });
    await store.save(sampleSession());
    const corrupt = '{\n  "version": 2,\n  "title": "Half\n';
    await writeFile(join(directory, 'corrupt.json'), corrupt);
    await writeFile(join(directory, 'wrong-shape.json'), JSON.stringify({ ...sampleSession(), messages: 'none' }));
    await writeFile(join(directory, 'Bad Name.json'), JSON.stringify(sampleSession()));
    const listed = await store.list();
    expect(listed).toHaveLength(4);
    const byId = new Map(listed.map((entry) => [entry.id, entry]));
    expect(byId.get('chat-1')).toMatchObject({ broken: false });
    expect(byId.get('corrupt')).toMatchObject({
      broken: true,
      path: join(directory, 'corrupt.json'),
      error: { code: 'invalid-input', message: expect.stringContaining('line 3, column 17') },
    });
    expect(byId.get('wrong-shape')).toMatchObject({ broken: true, error: { details: { key_path: 'messages' } } });
    expect(byId.get('Bad Name')).toMatchObject({ broken: true, error: { code: 'invalid-input' } });
    expect(await readFile(join(directory, 'corrupt.json'), 'utf8')).toBe(corrupt);
    await expect(store.get('corrupt')).rejects.toMatchObject({ code: 'invalid-input' });
  });

  it.each(['../x', '../../etc/passwd', 'a/b', 'Upper', '', '.trash', 'x.json', 'a'.repeat(101)])(
    'rejects the id %j with invalid-input in every method',
    async (id) => {
      const store = new SessionStore({ dataDir });
      await expect(store.get(id)).rejects.toMatchObject({ code: 'invalid-input' });
      await expect(store.save(sampleSession({ id }))).rejects.toMatchObject({ code: 'invalid-input' });
      await expect(store.delete(id)).rejects.toMatchObject({ code: 'invalid-input' });
      expect(await readdir(dataDir)).toEqual([]);
    },
  );

  it('refuses to save a session that does not fit the schema, naming the key', async () => {
    const store = new SessionStore({ dataDir });
    const session = sampleSession();
    const broken = { ...session, messages: [{ ...session.messages[0]!, created_at: 'yesterday' }] };
    await expect(store.save(broken)).rejects.toMatchObject({
      code: 'invalid-input',
      details: { key_path: 'messages.0.created_at' },
    });
  });

  it('says not-found for a session that is not there', async () => {
    const store = new SessionStore({ dataDir });
    await expect(store.get('nothing-here')).rejects.toMatchObject({ code: 'not-found' });
    await expect(store.delete('nothing-here')).rejects.toMatchObject({ code: 'not-found' });
  });

  it('takes the id from the file name, so a copied file opens as its own session', async () => {
    const store = new SessionStore({ dataDir });
    await mkdir(directory, { recursive: true });
    await writeFile(join(directory, 'copy.json'), JSON.stringify(sampleSession()));
    expect((await store.get('copy')).id).toBe('copy');
  });

  it('moves deleted sessions, broken ones too, to .trash instead of removing them', async () => {
    const store = new SessionStore({ dataDir, now: () => new Date('2024-05-02T08:30:00.000Z') });
    await store.save(sampleSession());
    await writeFile(join(directory, 'corrupt.json'), '{');
    const trashed = await store.delete('chat-1');
    expect(trashed).toBe(join(directory, '.trash', 'chat-1.2024-05-02T08-30-00-000Z.json'));
    expect(JSON.parse(await readFile(trashed, 'utf8'))).toEqual(sampleSession());
    await store.delete('corrupt');
    expect(await store.list()).toEqual([]);
    await expect(store.get('chat-1')).rejects.toMatchObject({ code: 'not-found' });
  });

  it('never stores a key typed into a query or left in a spec', async () => {
    const store = new SessionStore({ dataDir });
    const session = sampleSession();
    session.participants[0]!.query = { model_name: 'x', backend: 'openai', api_key: 'typed-key-0000000000' };
    session.participants[0]!.spec = { model_name: 'x', backend: 'openai', api_key: 'sk-secret-1234567890' };
    await store.save(session);
    const text = await readFile(join(directory, 'chat-1.json'), 'utf8');
    expect(text).not.toContain('typed-key-0000000000');
    expect(text).not.toContain('sk-secret-1234567890');
    expect((await store.get('chat-1')).participants[0]!.query).toEqual({ model_name: 'x', backend: 'openai' });
  });

  it('reads a chat of version 1 as a session and retires its file once saved in the new format', async () => {
    const store = new SessionStore({ dataDir });
    const legacy = join(dataDir, 'chats');
    await mkdir(legacy, { recursive: true });
    const old = {
      version: 1,
      id: 'old-chat',
      title: 'Old',
      created_at: '2024-05-01T12:00:00.000Z',
      updated_at: '2024-05-01T12:00:00.000Z',
      spec_query: 'mock',
      messages: [
        { role: 'user', content: 'hi', created_at: '2024-05-01T12:00:00.000Z' },
        {
          role: 'assistant',
          content: 'h',
          created_at: '2024-05-01T12:00:00.000Z',
          partial: true,
          error: { code: 'network', message: 'reset' },
          finish_reason: 'error',
        },
      ],
    };
    await writeFile(join(legacy, 'old-chat.json'), JSON.stringify(old));
    const session = await store.get('old-chat');
    expect(session).toMatchObject({
      version: 2,
      kind: 'chat',
      participants: [{ id: 'model', query: 'mock' }],
      messages: [
        { speaker: 'user', to: ['model'], versions: [{ text: 'hi' }] },
        { speaker: 'model', to: ['user'], versions: [{ text: 'h', status: 'error', error: { code: 'network' } }] },
      ],
    });
    await store.save(session);
    expect(await readdir(legacy)).toEqual(['.migrated']);
    expect((await store.list()).map((entry) => entry.id)).toEqual(['old-chat']);
  });
});

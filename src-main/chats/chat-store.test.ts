import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { ChatStore } from './chat-store.js';
import { chatSchema, createChat, newChatId, titleFromText, type Chat } from './chat-schema.js';

let directory: string;

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'clemplay-chats-'));
});

afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

function sampleChat(overrides: Partial<Chat> = {}): Chat {
  return {
    version: 1,
    id: 'chat-1',
    title: 'Greetings',
    created_at: '2024-05-01T12:00:00.000Z',
    updated_at: '2024-05-01T12:05:00.000Z',
    spec_query: 'gpt-4o-mini',
    resolved_spec: { model_name: 'gpt-4o-mini', backend: 'openai', model_id: 'gpt-4o-mini-2024-07-18' },
    system: 'Be brief.',
    messages: [
      { role: 'user', content: 'Hello', created_at: '2024-05-01T12:00:00.000Z' },
      {
        role: 'assistant',
        content: 'Hi there.',
        created_at: '2024-05-01T12:00:01.000Z',
        usage: { input_tokens: 12, output_tokens: 3 },
        finish_reason: 'stop',
      },
    ],
    ...overrides,
  };
}

describe('chat schema helpers', () => {
  it('makes ids that are valid and sort by time', () => {
    const early = newChatId(new Date('2024-05-01T12:00:00.000Z'));
    const late = newChatId(new Date('2024-05-01T12:00:01.000Z'));
    expect(early).toMatch(/^20240501-120000-[0-9a-f]{6}$/);
    expect(early < late).toBe(true);
  });

  it('creates an empty chat that passes its own schema', () => {
    const chat = createChat({ spec_query: { model_name: 'mock' }, system: 'x' }, new Date('2024-05-01T12:00:00Z'));
    expect(chatSchema.parse(chat)).toEqual(chat);
    expect(chat).toMatchObject({ version: 1, created_at: '2024-05-01T12:00:00.000Z', messages: [], title: '' });
  });

  it('takes a title from the first non-empty line, shortened', () => {
    expect(titleFromText('\n  What   is\tunification?\nMore')).toBe('What is unification?');
    expect(titleFromText('x'.repeat(80))).toBe(`${'x'.repeat(59)}…`);
    expect(titleFromText('   ')).toBe('');
  });
});

describe('ChatStore', () => {
  it('saves and reads a chat back unchanged', async () => {
    const store = new ChatStore({ directory });
    const chat = sampleChat({
      messages: [
        ...sampleChat().messages,
        { role: 'user', content: 'And?', created_at: '2024-05-01T12:01:00.000Z' },
        {
          role: 'assistant',
          content: 'Well',
          created_at: '2024-05-01T12:01:01.000Z',
          partial: true,
          error: { code: 'network', message: 'The connection was reset.' },
          finish_reason: 'error',
          usage: { input_tokens: null, output_tokens: 1 },
        },
      ],
    });
    expect(await store.save(chat)).toEqual(chat);
    expect(await store.get('chat-1')).toEqual(chat);
    expect((await stat(join(directory, 'chat-1.json'))).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(join(directory, 'chat-1.json'), 'utf8'))).toEqual(chat);
  });

  it('keeps the old file when a save dies before the rename, and leaves no temp file', async () => {
    await new ChatStore({ directory }).save(sampleChat());
    const before = await readFile(join(directory, 'chat-1.json'), 'utf8');
    const crashing = new ChatStore({
      directory,
      beforeRename: async () => {
        throw new Error('simulated crash');
      },
    });
    await expect(crashing.save(sampleChat({ title: 'Changed' }))).rejects.toMatchObject({ code: 'internal' });
    expect(await readFile(join(directory, 'chat-1.json'), 'utf8')).toBe(before);
    expect((await new ChatStore({ directory }).get('chat-1')).title).toBe('Greetings');
    expect(await readdir(directory)).toEqual(['chat-1.json']);
  });

  it('lists chats newest first, ignoring temp files, the trash and other files', async () => {
    const store = new ChatStore({ directory });
    await store.save(sampleChat({ id: 'old', title: 'Old', updated_at: '2024-01-01T00:00:00.000Z' }));
    await store.save(sampleChat({ id: 'new', title: 'New', updated_at: '2024-06-01T00:00:00.000Z', messages: [] }));
    await writeFile(join(directory, '.old.json.abc123.tmp'), '{"half": ');
    await writeFile(join(directory, 'notes.txt'), 'not a chat');
    expect(await store.list()).toEqual([
      { broken: false, id: 'new', title: 'New', updated_at: '2024-06-01T00:00:00.000Z', message_count: 0 },
      { broken: false, id: 'old', title: 'Old', updated_at: '2024-01-01T00:00:00.000Z', message_count: 2 },
    ]);
  });

  it('lists nothing when the folder does not exist yet', async () => {
    expect(await new ChatStore({ directory: join(directory, 'missing') }).list()).toEqual([]);
  });

  it('lists a corrupt file as broken with its error, and neither throws nor removes it', async () => {
    const store = new ChatStore({ directory });
    await store.save(sampleChat());
    const corrupt = '{\n  "version": 1,\n  "title": "Half\n';
    await writeFile(join(directory, 'corrupt.json'), corrupt);
    await writeFile(join(directory, 'wrong-shape.json'), JSON.stringify({ ...sampleChat(), messages: 'none' }));
    await writeFile(join(directory, 'Bad Name.json'), JSON.stringify(sampleChat()));
    const listed = await store.list();
    expect(listed).toHaveLength(4);
    const byId = new Map(listed.map((entry) => [entry.id, entry]));
    expect(byId.get('chat-1')).toMatchObject({ broken: false });
    expect(byId.get('corrupt')).toMatchObject({
      broken: true,
      path: join(directory, 'corrupt.json'),
      error: {
        code: 'invalid-input',
        message: `The chat file ${join(directory, 'corrupt.json')} is not valid JSON at line 3, column 17. Fix it there, or remove the file.`,
      },
    });
    expect(byId.get('wrong-shape')).toMatchObject({ broken: true, error: { details: { key_path: 'messages' } } });
    expect(byId.get('Bad Name')).toMatchObject({ broken: true, error: { code: 'invalid-input' } });
    expect(await readFile(join(directory, 'corrupt.json'), 'utf8')).toBe(corrupt);
    await expect(store.get('corrupt')).rejects.toMatchObject({ code: 'invalid-input' });
  });

  it.each(['../x', '../../etc/passwd', 'a/b', 'Upper', '', '.trash', 'x.json', 'a'.repeat(101)])(
    'rejects the id %j with invalid-input in every method',
    async (id) => {
      const store = new ChatStore({ directory });
      await expect(store.get(id)).rejects.toMatchObject({ code: 'invalid-input' });
      await expect(store.save(sampleChat({ id }))).rejects.toMatchObject({ code: 'invalid-input' });
      await expect(store.delete(id)).rejects.toMatchObject({ code: 'invalid-input' });
      await expect(store.exportJson(id)).rejects.toMatchObject({ code: 'invalid-input' });
      expect(await readdir(directory)).toEqual([]);
    },
  );

  it('refuses to save a chat that does not fit the schema, naming the key', async () => {
    const store = new ChatStore({ directory });
    const chat = sampleChat();
    const broken = { ...chat, messages: [{ ...chat.messages[0]!, created_at: 'yesterday' }] };
    await expect(store.save(broken)).rejects.toMatchObject({
      code: 'invalid-input',
      details: { key_path: 'messages.0.created_at' },
    });
  });

  it('says not-found for a chat that is not there', async () => {
    const store = new ChatStore({ directory });
    await expect(store.get('nothing-here')).rejects.toMatchObject({ code: 'not-found' });
    await expect(store.delete('nothing-here')).rejects.toMatchObject({ code: 'not-found' });
  });

  it('takes the id from the file name, so a copied file opens as its own chat', async () => {
    const store = new ChatStore({ directory });
    await writeFile(join(directory, 'copy.json'), JSON.stringify(sampleChat()));
    expect((await store.get('copy')).id).toBe('copy');
  });

  it('moves deleted chats, broken ones too, to .trash instead of removing them', async () => {
    const store = new ChatStore({ directory, now: () => new Date('2024-05-02T08:30:00.000Z') });
    await store.save(sampleChat());
    await writeFile(join(directory, 'corrupt.json'), '{');
    const trashed = await store.delete('chat-1');
    expect(trashed).toBe(join(directory, '.trash', 'chat-1.2024-05-02T08-30-00-000Z.json'));
    expect(JSON.parse(await readFile(trashed, 'utf8'))).toEqual(sampleChat());
    await store.delete('corrupt');
    expect(await store.list()).toEqual([]);
    expect((await readdir(join(directory, '.trash'))).sort()).toEqual([
      'chat-1.2024-05-02T08-30-00-000Z.json',
      'corrupt.2024-05-02T08-30-00-000Z.json',
    ]);
    await expect(store.get('chat-1')).rejects.toMatchObject({ code: 'not-found' });
  });

  it('exports through the store', async () => {
    const store = new ChatStore({ directory });
    await store.save(
      sampleChat({ resolved_spec: { model_name: 'm', backend: 'openai', api_key: 'sk-secret-1234567' } }),
    );
    expect(await store.exportJson('chat-1')).not.toContain('sk-secret-1234567');
    expect(await store.exportMarkdown('chat-1')).toContain('# Greetings');
  });
});

describe('what a saved chat keeps on disk', () => {
  it('never stores a key typed into the query', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'clemplay-chat-redact-'));
    const store = new ChatStore({ directory });
    const chat = createChat({ spec_query: { model_name: 'x', backend: 'openai', api_key: 'typed-key-0000000000' } });
    await store.save(chat);
    expect(await readFile(join(directory, `${chat.id}.json`), 'utf8')).not.toContain('typed-key-0000000000');
    expect((await store.get(chat.id)).spec_query).toMatchObject({ model_name: 'x', backend: 'openai' });
  });
});

import { describe, expect, it } from 'vitest';

import { isSecretFieldName } from '../../src-shared/secrets.js';
import { exportChatJson, exportChatMarkdown, redactChat } from './chat-export.js';
import { createChat, type Chat } from './chat-schema.js';

const smallChat: Chat = {
  version: 1,
  id: 'chat-1',
  title: 'Greetings',
  created_at: '2024-05-01T12:00:00.000Z',
  updated_at: '2024-05-01T12:05:00.000Z',
  spec_query: 'gpt-4o-mini',
  resolved_spec: { model_name: 'gpt-4o-mini', backend: 'openai' },
  system: 'Be brief.',
  messages: [
    { role: 'user', content: 'Hello', created_at: '2024-05-01T12:00:00.000Z' },
    { role: 'assistant', content: 'Hi there.\n', created_at: '2024-05-01T12:00:01.000Z', finish_reason: 'stop' },
    { role: 'user', content: 'Tell me more', created_at: '2024-05-01T12:01:00.000Z' },
    {
      role: 'assistant',
      content: 'Well, the',
      created_at: '2024-05-01T12:01:01.000Z',
      partial: true,
      error: { code: 'network', message: 'The connection to\nthe server was reset.' },
      finish_reason: 'error',
    },
    { role: 'user', content: 'Again', created_at: '2024-05-01T12:02:00.000Z' },
    { role: 'assistant', content: '', created_at: '2024-05-01T12:02:01.000Z', partial: true, finish_reason: 'abort' },
  ],
};

describe('exportChatMarkdown', () => {
  it('writes the title, model, date and one section per message, marking partial and failed replies', () => {
    expect(exportChatMarkdown(smallChat)).toBe(
      [
        '# Greetings',
        '',
        '- Model: gpt-4o-mini (openai)',
        '- Date: 2024-05-01T12:00:00.000Z',
        '',
        '### system',
        '',
        'Be brief.',
        '',
        '### user',
        '',
        'Hello',
        '',
        '### assistant',
        '',
        'Hi there.',
        '',
        '### user',
        '',
        'Tell me more',
        '',
        '### assistant (partial, error)',
        '',
        'Well, the',
        '',
        '> **Error** (network): The connection to the server was reset.',
        '',
        '### user',
        '',
        'Again',
        '',
        '### assistant (partial)',
        '',
        '_(no text)_',
        '',
      ].join('\n'),
    );
  });

  it('names the model from the query when the spec did not resolve, and titles untitled chats', () => {
    const chat: Chat = {
      ...smallChat,
      title: '  ',
      system: undefined,
      resolved_spec: undefined,
      spec_query: { model_name: 'local', api_key: 'sk-proj-abcdef123456' },
      messages: [],
    };
    expect(exportChatMarkdown(chat)).toBe('# Untitled chat\n\n- Model: local\n- Date: 2024-05-01T12:00:00.000Z\n');
    expect(exportChatMarkdown({ ...chat, spec_query: { backend: 'mock' } })).toContain('- Model: {"backend":"mock"}');
  });
});

describe('exports never carry keys', () => {
  const secrets = [
    'sk-proj-abcdef123456',
    'key-value-7777',
    'token-value-8888',
    'bearer-value-9999',
    'hunter2-password',
    'user:pass',
  ];
  const leakyChat: Chat = {
    ...smallChat,
    spec_query: '{"model_name": "gpt-4o-mini", "api_key": "sk-proj-abcdef123456"}',
    resolved_spec: {
      model_name: 'gpt-4o-mini',
      backend: 'openai_compatible',
      base_url: 'http://user:pass@127.0.0.1:8080/v1',
      api_key: 'sk-proj-abcdef123456',
      apiKey: 'sk-proj-abcdef123456',
      key: 'key-value-7777',
      model_config: {
        max_tokens: 100,
        access_token: 'token-value-8888',
        headers: { Authorization: 'Bearer bearer-value-9999', 'x-api-key': 'key-value-7777' },
        tokenizer: 'llama',
      },
      players: [{ password: 'hunter2-password', note: 'uses sk-proj-abcdef123456' }],
    },
  };

  it('strips secret-named fields from resolved_spec and spec_query, keeping the rest', () => {
    const redacted = redactChat(leakyChat);
    expect(redacted.resolved_spec).toEqual({
      model_name: 'gpt-4o-mini',
      backend: 'openai_compatible',
      base_url: 'http://127.0.0.1:8080/v1',
      model_config: { max_tokens: 100, headers: {}, tokenizer: 'llama' },
      players: [{ note: 'uses sk-[redacted]' }],
    });
    expect(redacted.spec_query).toBe('{"model_name":"gpt-4o-mini"}');
    // The stored chat itself is not changed.
    expect(leakyChat.resolved_spec?.api_key).toBe('sk-proj-abcdef123456');
  });

  it.each([
    ['JSON', exportChatJson],
    ['Markdown', exportChatMarkdown],
  ])('%s contains none of them', (_format, exporter) => {
    const exported = exporter(leakyChat);
    for (const secret of secrets) expect(exported).not.toContain(secret);
    expect(exported).toContain('gpt-4o-mini');
  });

  it('strips objects in spec_query too', () => {
    const exported = exportChatJson({ ...leakyChat, spec_query: { model_name: 'x', token: 'token-value-8888' } });
    expect(JSON.parse(exported)).toMatchObject({ spec_query: { model_name: 'x' } });
    expect(exported).not.toContain('token-value-8888');
  });

  it.each([
    ['api_key', true],
    ['apiKey', true],
    ['key', true],
    ['KEY', true],
    ['x-api-key', true],
    ['token', true],
    ['hf_token', true],
    ['accessToken', true],
    ['client_secret', true],
    ['password', true],
    ['Authorization', true],
    ['credentials', true],
    ['max_tokens', false],
    ['tokenizer', false],
    ['monkey', false],
    ['keys', false],
    ['model_name', false],
    ['eos_to_cull', false],
    ['eos_token', false],
    ['pad_token', false],
  ])('treats the field %s as secret: %s', (name, secret) => {
    expect(isSecretFieldName(name)).toBe(secret);
  });
});

describe('redaction of queries typed the clemcore way', () => {
  it('drops an api_key from a single-quoted JSON query', () => {
    const chat = createChat({ spec_query: "{'model_name': 'x', 'api_key': 'abc123-not-sk-shaped'}" });
    const exported = exportChatJson(chat);
    expect(exported).not.toContain('abc123-not-sk-shaped');
    expect(exported).toContain('model_name');
  });
});

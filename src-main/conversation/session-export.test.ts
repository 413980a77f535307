import { describe, expect, it } from 'vitest';

import type { MessageVersion, TranscriptMessage } from '../../src-shared/conversation/transcript.js';
import { isSecretFieldName } from '../../src-shared/secrets.js';
import { exportSessionJson, exportSessionMarkdown, redactSession } from './session-export.js';
import type { SessionRecord } from './session-schema.js';

const at = '2024-05-01T12:00:00.000Z';

function message(id: string, speaker: string, to: string[], version: Partial<MessageVersion>): TranscriptMessage {
  return {
    id,
    speaker,
    to,
    created_at: at,
    versions: [{ text: '', reasoning: '', status: 'done', started_at: at, ...version }],
    current: 0,
  };
}

const pairSession: SessionRecord = {
  version: 2,
  id: 'pair-1',
  kind: 'pair',
  title: 'Greetings',
  created_at: at,
  updated_at: at,
  participants: [
    {
      id: 'a',
      label: 'Model A',
      query: 'gpt-4o-mini',
      system: 'Be brief.',
      spec: { model_name: 'gpt-4o-mini', backend: 'openai' },
    },
    { id: 'b', label: 'Model B', query: { model_name: 'local' } },
  ],
  messages: [
    message('1', 'user', ['a', 'b'], { text: 'Hello' }),
    message('2', 'a', ['user'], { text: 'Hi there.\n', reasoning: 'A greeting.', finish_reason: 'stop' }),
    message('3', 'b', ['user'], {
      text: 'Well, the',
      status: 'error',
      finish_reason: 'error',
      error: { code: 'network', message: 'The connection to\nthe server was reset.' },
    }),
    message('4', 'user', ['a', 'b'], { text: 'Again' }),
    message('5', 'a', ['user'], { text: '', status: 'stopped', finish_reason: 'abort' }),
  ],
};

describe('exportSessionMarkdown', () => {
  it('names each participant, then one section per message under its speaker, marking stopped and failed replies', () => {
    expect(exportSessionMarkdown(pairSession)).toBe(
      [
        '# Greetings',
        '',
        '- Model A: gpt-4o-mini (openai)',
        '  - System prompt: Be brief.',
        '- Model B: local',
        `- Date: ${at}`,
        '',
        '### user',
        '',
        'Hello',
        '',
        '### Model A',
        '',
        '<details><summary>Reasoning</summary>',
        '',
        'A greeting.',
        '',
        '</details>',
        '',
        'Hi there.',
        '',
        '### Model B (error)',
        '',
        'Well, the',
        '',
        '> **Error** (network): The connection to the server was reset.',
        '',
        '### user',
        '',
        'Again',
        '',
        '### Model A (stopped)',
        '',
        '_(no text)_',
        '',
      ].join('\n'),
    );
  });

  it('titles untitled conversations and marks a message with several versions', () => {
    const versions = message('2', 'a', ['user'], { text: 'second' });
    versions.versions.unshift({ text: 'first', reasoning: '', status: 'done', started_at: at });
    versions.current = 1;
    const markdown = exportSessionMarkdown({ ...pairSession, title: ' ', messages: [versions] });
    expect(markdown).toContain('# Untitled conversation');
    expect(markdown).toContain('### Model A (version 2 of 2)\n\nsecond');
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
  const leakySpec = {
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
  };
  const leaky: SessionRecord = {
    ...pairSession,
    participants: [
      {
        id: 'a',
        label: 'Model A',
        query: '{"model_name": "gpt-4o-mini", "api_key": "sk-proj-abcdef123456"}',
        spec: leakySpec,
      },
      { id: 'b', label: 'Model B', query: "{'model_name': 'x', 'api_key': 'abc123-not-sk-shaped'}" },
    ],
    messages: [
      message('1', 'a', ['user'], {
        text: 'ok',
        spec: leakySpec,
        status: 'error',
        error: { code: 'network', message: 'could not reach http://user:pass@127.0.0.1:8080/v1' },
      }),
    ],
  };

  it('strips secret-named fields from specs and queries, keeping the rest', () => {
    const redacted = redactSession(leaky);
    expect(redacted.participants[0]!.spec).toEqual({
      model_name: 'gpt-4o-mini',
      backend: 'openai_compatible',
      base_url: 'http://127.0.0.1:8080/v1',
      model_config: { max_tokens: 100, headers: {}, tokenizer: 'llama' },
      players: [{ note: 'uses sk-[redacted]' }],
    });
    expect(redacted.participants[0]!.query).toBe('{"model_name":"gpt-4o-mini"}');
    expect(redacted.participants[1]!.query).toBe('{"model_name":"x"}');
    expect(redacted.messages[0]!.versions[0]!.spec).toEqual(redacted.participants[0]!.spec);
    // The session itself is not changed.
    expect(leaky.participants[0]!.spec?.api_key).toBe('sk-proj-abcdef123456');
  });

  it.each([
    ['JSON', exportSessionJson],
    ['Markdown', exportSessionMarkdown],
  ])('%s contains none of them', (_format, exporter) => {
    const exported = exporter(leaky);
    for (const secret of [...secrets, 'abc123-not-sk-shaped']) expect(exported).not.toContain(secret);
    expect(exported).toContain('gpt-4o-mini');
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

import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findAppRoot } from '../paths.js';
import { startFakeOpenAIServer, type FakeOpenAIServer } from '../testing/fake-openai-server.js';

// `clemplay chat` as a person runs it, on the build `npm test` makes first, with its own config and data folders.
const root = findAppRoot();
const home = mkdtempSync(join(tmpdir(), 'clemplay-cli-chat-'));
const registry = join(home, 'model_registry.json');
let fake: FakeOpenAIServer;

beforeAll(async () => {
  fake = await startFakeOpenAIServer({ script: () => ({ type: 'reply', text: 'Hi from the server.' }) });
  writeFileSync(
    registry,
    JSON.stringify([
      { model_name: 'scripted', backend: 'programmatic', responses: ['Hello there, friend.', 'Second reply.'] },
      {
        model_name: 'slow',
        backend: 'programmatic',
        responses: ['one two three four five six seven eight'],
        delay_ms: 300,
      },
      { model_name: 'local', backend: 'openai_compatible', model_id: 'm', base_url: fake.baseUrl },
      { model_name: 'paid', backend: 'openai', model_id: 'gpt-4o-mini', base_url: fake.baseUrl },
      { model_name: 'alpha', backend: 'programmatic', responses: ['alpha 1', 'alpha 2', 'alpha 3'] },
      { model_name: 'beta', backend: 'programmatic', responses: ['beta 1', 'beta 2', 'beta 3'] },
      {
        model_name: 'gone',
        backend: 'openai_compatible',
        model_id: 'm',
        base_url: 'http://127.0.0.1:9/v1',
        retries: 0,
      },
    ]),
  );
});
afterAll(() => fake.close());

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI; `onStdout` sees what it printed so far each time it prints (to act mid-reply). */
function clemplay(
  args: string[],
  input = '',
  onStdout?: (text: string, child: ReturnType<typeof spawn>) => void,
  environment: NodeJS.ProcessEnv = {},
) {
  return new Promise<Run>((resolve) => {
    const child = spawn(process.execPath, [join(root, 'bin', 'clemplay.mjs'), ...args], {
      cwd: home,
      env: {
        ...process.env,
        XDG_CONFIG_HOME: join(home, 'config'),
        XDG_DATA_HOME: join(home, 'data'),
        OPENAI_API_KEY: '',
        ...environment,
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      onStdout?.(stdout, child);
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (status) => resolve({ status, stdout, stderr }));
    child.stdin.end(input);
  });
}

describe('clemplay chat', () => {
  it('streams one reply to stdout and statistics to stderr', async () => {
    const run = await clemplay(['chat', 'scripted', 'hi', '--registry', registry]);
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('Hello there, friend.');
    expect(run.stderr).toMatch(/\[stop\] 3 tokens, [\d.–]+ tokens\/s, time to first token \d+ ms/);
  });

  it('--json prints one final object', async () => {
    const run = await clemplay(['chat', 'local', 'hi', '--json', '--registry', registry, '--max-tokens', '5']);
    expect(run.status).toBe(0);
    const result = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(result).toEqual({
      text: 'Hi from the server.',
      usage: { input_tokens: expect.any(Number), output_tokens: 4 },
      finish_reason: 'stop',
    });
    const request = fake.requests.at(-1)?.body as Record<string, unknown>;
    expect(request).toMatchObject({ model: 'm', max_tokens: 5 });
  });

  it('sends --system and --temperature', async () => {
    await clemplay(['chat', 'local', 'hi', '--system', 'be brief', '--temperature', '0.5', '--registry', registry]);
    expect(fake.requests.at(-1)?.body).toMatchObject({
      temperature: 0.5,
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'hi' },
      ],
    });
  });

  it('exits non-zero with error[code] on a failure', async () => {
    const run = await clemplay(['chat', 'paid', 'hi', '--registry', registry]);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('error[auth]: ');
    expect(run.stderr).toContain('OPENAI_API_KEY');
    const json = await clemplay(['chat', 'paid', 'hi', '--json', '--registry', registry]);
    expect(JSON.parse(json.stdout)).toMatchObject({ finish_reason: 'error', error: { code: 'auth' } });
  });

  it('warns on stderr when a key is held back from a server only the working folder’s registry names', async () => {
    const key = 'sk-backend-wide-0000000000-KEEP';
    const run = await clemplay(['chat', 'local', 'hi'], '', undefined, { OPENAI_COMPATIBLE_API_KEY: key });
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('Hi from the server.');
    expect(run.stderr).toContain(`warning[untrusted-origin]: `);
    expect(run.stderr).toContain(`clemplay trust ${new URL(fake.baseUrl).origin}`);
    expect(fake.requests.at(-1)?.headers.authorization).toBeUndefined();
    expect(run.stderr).not.toContain(key);
  });

  it('exits 2 when the model spec does not resolve', async () => {
    const run = await clemplay(['chat', '{"model_name": ', 'hi', '--registry', registry]);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('error[invalid-spec]: invalid JSON at line 1');
  });

  it('runs an interactive session from stdin, one message per line, keeping the history', async () => {
    const run = await clemplay(['chat', 'scripted', '--registry', registry, '--json'], 'hi\nand again\n');
    expect(run.status).toBe(0);
    const replies = run.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { text: string });
    expect(replies.map((reply) => reply.text)).toEqual(['Hello there, friend.', 'Second reply.']);
  });

  it('puts each reply of an interactive session on its own line', async () => {
    const run = await clemplay(['chat', 'scripted', '--registry', registry], 'hi\nand again\n');
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('Hello there, friend.\nSecond reply.\n');
  });

  it('refuses a temperature outside 0..2 before sending anything', async () => {
    const run = await clemplay(['pair', 'alpha', 'beta', 'hi', '--temperature', '5', '--registry', registry]);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('temperature must be at most 2');
    expect(run.stdout).toBe('');
  });

  it('lets a person answer on the terminal for the human backend', async () => {
    const run = await clemplay(['chat', 'human', 'your move?', '--json'], 'e4\n');
    expect(run.status).toBe(0);
    expect(run.stderr).toContain('[human player] your move?');
    expect(JSON.parse(run.stdout)).toMatchObject({ text: 'e4', finish_reason: 'stop' });
  });

  it('Ctrl+C stops the reply in progress', async () => {
    let interrupted = false;
    // Interrupt once the reply has started (words come every 300 ms, so it is far from done).
    const run = await clemplay(['chat', 'slow', 'go', '--registry', registry], '', (_stdout, child) => {
      if (!interrupted) {
        interrupted = true;
        child.kill('SIGINT');
      }
    });
    expect(run.stderr).toContain('[abort]');
    expect(run.stdout.length).toBeGreaterThan(0);
    expect(run.stdout.split(' ').length).toBeLessThan(8);
  });
});

describe('clemplay pair', () => {
  it('sends each message to both models, each with its own history, and prints an A and a B block per turn', async () => {
    const run = await clemplay(['pair', 'alpha', 'beta', 'hello', 'again', '--registry', registry]);
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('A: alpha 1\nB: beta 1\n\nA: alpha 2\nB: beta 2\n');
    expect(run.stderr).toMatch(/^A \[stop\] 2 tokens, .* tokens\/s, time to first token \d+ ms$/m);
    expect(run.stderr).toMatch(/^B \[stop\] 2 tokens/m);
  });

  it('separates the turns of the same message sent twice', async () => {
    const run = await clemplay(['pair', 'alpha', 'beta', 'hello', 'hello', '--registry', registry]);
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('A: alpha 1\nB: beta 1\n\nA: alpha 2\nB: beta 2\n');
  });

  it('--json prints both specs and every turn', async () => {
    const run = await clemplay([
      'pair',
      'alpha',
      'mock',
      'one two three',
      '--json',
      '--max-tokens',
      '2',
      '--registry',
      registry,
    ]);
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      a: {
        spec: expect.objectContaining({ model_name: 'alpha', backend: 'programmatic' }),
        turns: [{ text: 'alpha 1', usage: { input_tokens: 3, output_tokens: 2 }, finish_reason: 'stop' }],
      },
      b: {
        spec: expect.objectContaining({ model_name: 'mock', backend: 'programmatic' }),
        turns: [{ text: 'one two ', usage: { input_tokens: 3, output_tokens: 2 }, finish_reason: 'length' }],
      },
    });
  });

  it('resolves both models before sending anything: a typo exits 2', async () => {
    const run = await clemplay(['pair', 'alpha', 'no-such-model', 'hi', '--registry', registry]);
    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^error\[no-match\]: Model B: /m);
  });

  it('exits 1 when a side fails while running, keeping the other side', async () => {
    const run = await clemplay(['pair', 'alpha', 'gone', 'hi', '--json', '--registry', registry]);
    expect(run.status).toBe(1);
    const result = JSON.parse(run.stdout) as {
      a: { turns: Array<{ text: string }> };
      b: { turns: Array<{ error?: { code: string } }> };
    };
    expect(result.a.turns[0]?.text).toBe('alpha 1');
    expect(result.b.turns[0]?.error?.code).toBe('network');
  });
});

describe('clemplay dialogue', () => {
  it('lets A answer the opening, B answer A, and so on, each hearing the other as the user', async () => {
    const run = await clemplay([
      'dialogue',
      'alpha',
      'mock',
      'Let us talk.',
      '--turns',
      '4',
      '--system-a',
      'You are A.',
      '--json',
      '--registry',
      registry,
    ]);
    expect(run.status).toBe(0);
    const result = JSON.parse(run.stdout) as {
      transcript: Array<{ speaker: string; text: string }>;
      a: { spec: object };
    };
    expect(result.transcript.map(({ speaker, text }) => [speaker, text])).toEqual([
      ['a', 'alpha 1'],
      ['b', 'alpha 1'],
      ['a', 'alpha 2'],
      ['b', 'alpha 2'],
    ]);
    expect(result.a.spec).toMatchObject({ model_name: 'alpha' });
  });

  it('streams the dialogue as A: and B: blocks', async () => {
    const run = await clemplay(['dialogue', 'alpha', 'beta', 'Go.', '--turns', '3', '--registry', registry]);
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('A: alpha 1\n\nB: beta 1\n\nA: alpha 2\n');
  });

  it('ends at a failing side with its error in the transcript and exit code 1', async () => {
    const run = await clemplay(['dialogue', 'alpha', 'gone', 'Go.', '--turns', '6', '--json', '--registry', registry]);
    expect(run.status).toBe(1);
    const result = JSON.parse(run.stdout) as { transcript: Array<{ speaker: string; error?: { code: string } }> };
    expect(result.transcript.map((turn) => turn.speaker)).toEqual(['a', 'b']);
    expect(result.transcript[1]?.error?.code).toBe('network');
    expect(run.stderr).toContain('error[network]: B: ');
  });

  it('needs --turns', async () => {
    const run = await clemplay(['dialogue', 'alpha', 'beta', 'Go.', '--registry', registry]);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('--turns');
  });
});

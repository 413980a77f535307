import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../src-shared/chat.js';
import { findAppRoot } from '../paths.js';
import { startFakeOpenAIServer, type FakeOpenAIServer } from '../testing/fake-openai-server.js';

// These run the real entry point, `node bin/clemplay.mjs`, on the build that `npm test` makes first.
const root = findAppRoot();
const bin = join(root, 'bin', 'clemplay.mjs');

/** Runs the CLI in its own process (asynchronously, so a fake server in this process can answer it). */
function run(args: string[], cwd = root): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd,
      env: { ...process.env, XDG_CONFIG_HOME: join(scratch, 'config'), XDG_DATA_HOME: join(scratch, 'data') },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'clemplay-games-cli-'));
});
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

function readJson<T>(...path: string[]): T {
  return JSON.parse(readFileSync(join(...path), 'utf8')) as T;
}

/** Every episode's scores under a models folder: `<game>/<experiment>/<instance>/scores.json`. */
function episodeScores(models: string, game: string): Record<string, number | null>[] {
  const scores: Record<string, number | null>[] = [];
  for (const experiment of readdirSync(join(models, game))) {
    if (experiment === 'experiment.json') continue;
    for (const instance of readdirSync(join(models, game, experiment))) {
      if (!instance.startsWith('instance_')) continue;
      scores.push(
        readJson<{ 'episode scores': Record<string, number | null> }>(
          models,
          game,
          experiment,
          instance,
          'scores.json',
        )['episode scores'],
      );
    }
  }
  return scores;
}

describe('clemplay games', () => {
  it('lists every game with its roles and experiments', async () => {
    const result = await run(['games']);
    expect(result.status).toBe(0);
    for (const game of ['taboo', 'wordle', 'wordle_withclue', 'wordle_withcritic'])
      expect(result.stdout).toContain(`${game}\n`);
    expect(result.stdout).toContain('roles: WordDescriber, WordGuesser');
    expect(result.stdout).toContain('roles: WordGuesser, WordCritic');
    expect(result.stdout).toContain('experiments: high_frequency (10), medium_frequency (10), low_frequency (10)');
  });
});

describe('clemplay run, eval and transcribe with -m programmatic', () => {
  let results: string;
  let models: string;

  beforeAll(async () => {
    results = join(scratch, 'results');
    models = join(results, 'programmatic-t0.0');
  });

  it('runs taboo, writes results, shows progress on stderr and prints the scores table on stdout', async () => {
    const result = await run(['run', '-g', 'taboo', '-m', 'programmatic', '--results', results]);
    expect(result.status).toBe(0);
    expect(result.stderr).toContain('playing 30 episodes');
    expect(result.stderr).toContain('[30/30] taboo/');
    expect(result.stderr).toContain('30 played, 0 skipped, 0 failed');
    const scores = episodeScores(models, 'taboo');
    expect(scores).toHaveLength(30);
    const quality = scores.reduce((sum, score) => sum + (score['Main Score'] ?? 0), 0) / 30;
    const [header, row] = result.stdout.split('\n');
    expect(header).toMatch(/^game\s+models\s+episodes\s+% played\s+quality score\s+clemscore$/);
    expect(row!.split(/\s+/)).toEqual([
      'taboo',
      'programmatic-t0.0',
      '30',
      '100.00',
      quality.toFixed(2),
      quality.toFixed(2),
    ]);
  });

  it('a second run skips what is complete', async () => {
    const result = await run(['run', '--game', 'taboo', '--model', 'programmatic', '--results', results]);
    expect(result.status).toBe(0);
    expect(result.stderr).toContain('0 played, 30 skipped, 0 failed');
  });

  it('eval --json gives % played, quality score and clemscore per game and overall; results.csv and .html are written', async () => {
    await run(['run', '-g', 'wordle_withcritic', '-m', 'programmatic', '-e', 'low_frequency', '--results', results]);
    const result = await run(['eval', '--results', results, '--json']);
    expect(result.status).toBe(0);
    const output = JSON.parse(result.stdout) as {
      rows: { game: string; models: string; played: number; quality_score: number; clemscore: number }[];
      clemscore: number;
    };
    const round = (value: number): number => Math.round(value * 100) / 100;
    const mean = (values: number[]): number => values.reduce((sum, value) => sum + value, 0) / values.length;
    const taboo = round(mean(episodeScores(models, 'taboo').map((score) => score['Main Score'] ?? 0)));
    const critic = round(mean(episodeScores(models, 'wordle_withcritic').map((score) => score['Main Score'] ?? 0)));
    expect(
      output.rows.map(({ game, models: pair, played, quality_score, clemscore }) => ({
        game,
        pair,
        played,
        quality_score,
        clemscore,
      })),
    ).toEqual([
      {
        game: 'taboo',
        pair: 'programmatic-t0.0',
        played: 100,
        quality_score: taboo,
        clemscore: taboo,
      },
      {
        game: 'wordle_withcritic',
        pair: 'programmatic-t0.0',
        played: 100,
        quality_score: critic,
        clemscore: critic,
      },
    ]);
    expect(output.clemscore).toBe(round((taboo + critic) / 2));
    expect(readFileSync(join(results, 'results.csv'), 'utf8').split('\n')[0]).toContain('"-, clemscore"');
    expect(readFileSync(join(results, 'results.html'), 'utf8')).toContain('<table>');
  });

  it('transcribe writes every transcript again', async () => {
    const transcript = join(models, 'taboo', 'high_frequency', 'instance_00004', 'transcript.html');
    rmSync(transcript);
    const result = await run(['transcribe', '--results', results]);
    expect(result.status).toBe(0);
    expect(result.stdout).toBe(`wrote 40 transcripts under ${results}\n`);
    expect(readFileSync(transcript, 'utf8')).toContain('instance 4');
  });

  it('plays a scripted JSON spec with a chosen temperature, experiment and instances; results default to ./results', async () => {
    const cwd = mkdtempSync(join(scratch, 'cwd-'));
    const spec = JSON.stringify({
      model_name: 'scripted',
      backend: 'programmatic',
      responses: ['explanation: sure\nguess: apple'],
    });
    const result = await run(
      ['run', '-g', 'wordle', '-m', spec, '-e', 'high_frequency', '--instance-ids', '0,3', '-t', '0.7'],
      cwd,
    );
    expect(result.status).toBe(0);
    const scores = episodeScores(join(cwd, 'results', 'scripted-t0.7'), 'wordle');
    // Instance 0 is "apple": won at once; instance 3 ("bread") never: six tries of "apple".
    expect(scores.map((score) => [score.Success, score['Main Score']])).toEqual([
      [1, 100],
      [0, 0],
    ]);
  });

  it('reads a clembench instance file with --instances', async () => {
    const file = join(scratch, 'their-taboo.json');
    writeFileSync(
      file,
      JSON.stringify({
        experiments: [
          {
            name: 'high_en',
            max_turns: 3,
            describer_initial_prompt: 'Describe $TARGET_WORD$; never say:\n$REL_WORD$',
            guesser_initial_prompt: 'Guess the word.',
            game_instances: [
              { game_id: 5, target_word: 'tea', related_word: ['coffee', 'caffeine', 'brew'], target_word_stem: 'tea' },
            ],
          },
        ],
      }),
    );
    const result = await run([
      'run',
      '-g',
      'taboo',
      '-m',
      'programmatic',
      '--instances',
      file,
      '--results',
      join(scratch, 'theirs'),
    ]);
    expect(result.status).toBe(0);
    const episode = join(scratch, 'theirs', 'programmatic-t0.0', 'taboo', 'high_en', 'instance_00005');
    const interactions = readJson<{ turns: { action: { content: string } }[][] }>(episode, 'interactions.json');
    expect(interactions.turns[0]![0]!.action.content).toBe('Describe tea; never say:\n- coffee\n- caffeine\n- brew');
  });
});

describe('clemplay run exit codes', () => {
  it.each([
    [['run', '-g', 'chess', '-m', 'programmatic'], 'error[invalid-input]: unknown game "chess"'],
    [
      ['run', '-g', 'taboo', '-g', 'wordle', '-m', 'programmatic', '--instances', 'x.json'],
      'an instance file belongs to one game',
    ],
    [
      ['run', '-g', 'wordle', '-m', 'programmatic', '-m', 'programmatic'],
      'wordle has one player (WordGuesser): give one model',
    ],
    [['run', '-g', 'taboo', '-m', 'programmatic', '-r', 'missing-registry.json'], 'no such registry file'],
    [['run', '-g', 'taboo'], "required option '-m, --model <query>' not specified"],
    [['run', '-g', 'taboo', '-m', 'programmatic', '--instance-ids', '1,x'], 'instance ids are whole numbers'],
    [['run', '-g', 'taboo', '-m', 'programmatic', '-t', '-1'], 'temperature must be at least 0'],
    [['eval', '--results', '/no/such/results'], 'error[not-found]: there is no results folder /no/such/results'],
  ])('%j exits 2: %s', async (args, message) => {
    const result = await run(args, scratch);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(message);
  });

  it('a query that matches no registry entry exits 2', async () => {
    const registry = join(scratch, 'only-one.json');
    writeFileSync(registry, JSON.stringify([{ model_name: 'one', backend: 'programmatic' }]));
    const result = await run(['run', '-g', 'taboo', '-m', 'two', '-r', registry, '--results', join(scratch, 'none')]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('error[no-match]');
  });
});

describe('clemplay run with a chat model', () => {
  let server: FakeOpenAIServer;
  beforeAll(async () => {
    server = await startFakeOpenAIServer({
      script: (request) => {
        const messages = (request.body as { messages: ChatMessage[] }).messages;
        const secret = /The secret word: (\w+)/.exec(messages[0]?.content ?? '')?.[1];
        return { type: 'reply', text: secret === undefined ? 'GUESS: house' : 'CLUE: a place with a roof' };
      },
    });
  });
  afterAll(async () => {
    await server.close();
  });

  it('sends the temperature and max tokens and names the folder after the model', async () => {
    const spec = JSON.stringify({
      model_name: 'fake',
      backend: 'openai_compatible',
      base_url: server.baseUrl,
      retries: 0,
    });
    const results = join(scratch, 'remote');
    const result = await run([
      'run',
      '-g',
      'taboo',
      '-m',
      spec,
      '-e',
      'high_frequency',
      '--instance-ids',
      '0',
      '-t',
      '0.5',
      '-l',
      '20',
      '--results',
      results,
    ]);
    expect(result.status).toBe(0);
    expect(server.requests.map((request) => request.body)).toEqual([
      expect.objectContaining({ temperature: 0.5, max_tokens: 20 }),
      expect.objectContaining({ temperature: 0.5, max_tokens: 20 }),
    ]);
    const episode = join(results, 'fake-t0.5', 'taboo', 'high_frequency', 'instance_00000');
    expect(
      readJson<{ 'episode scores': Record<string, number> }>(episode, 'scores.json')['episode scores']['Main Score'],
    ).toBe(100);
  });

  it('exits 1 when episodes fail with errors, keeping each error', async () => {
    const closed = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });
    const spec = JSON.stringify({
      model_name: 'down',
      backend: 'openai_compatible',
      base_url: `http://127.0.0.1:${closed}/v1`,
      retries: 0,
    });
    const results = join(scratch, 'down');
    const result = await run([
      'run',
      '-g',
      'taboo',
      '-m',
      spec,
      '-e',
      'high_frequency',
      '--instance-ids',
      '0,1',
      '--results',
      results,
    ]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('error[network]');
    expect(result.stderr).toContain('0 played, 0 skipped, 2 failed');
    const episode = join(results, 'down-t0.0', 'taboo', 'high_frequency', 'instance_00001');
    expect(readJson<{ error: { code: string } }>(episode, 'error.json').error.code).toBe('network');
    expect(existsSync(join(episode, 'scores.json'))).toBe(false);
  });
});

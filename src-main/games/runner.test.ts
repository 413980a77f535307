import { mkdtempSync, readdirSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../src-shared/chat.js';
import { findGame } from '../../src-shared/games/catalog.js';
import type { Interactions } from '../../src-shared/games/episode.js';
import { scoreEpisode } from '../../src-shared/games/scores.js';
import type { JsonObject } from '../../src-shared/json.js';
import type { AppServices } from '../services.js';
import { startFakeOpenAIServer, type FakeOpenAIServer } from '../testing/fake-openai-server.js';
import { createTestServices } from '../testing/services.js';
import type { Contestant } from './contestants.js';
import { createGameResources } from './game-files.js';
import type { RequestRecord } from './results-files.js';
import { executeRun, planRun, type GameRunRequest, type RunEvent } from './runner.js';

const resources = createGameResources();
let services: AppServices;

beforeAll(async () => {
  services = await createTestServices();
});
afterAll(async () => {
  await services.dispose();
});

function resultsDir(): string {
  return mkdtempSync(join(tmpdir(), 'clemplay-results-'));
}

async function run(
  request: Omit<GameRunRequest, 'resultsDir'> & { resultsDir?: string },
  onEvent?: (event: RunEvent) => void,
  signal?: AbortSignal,
) {
  const directory = request.resultsDir ?? resultsDir();
  const plan = await planRun(services, { ...request, resultsDir: directory }, resources);
  const summary = await executeRun(plan, {
    version: 'test',
    ...(onEvent ? { onEvent } : {}),
    ...(signal ? { signal } : {}),
  });
  return { directory, summary, plan };
}

function readJson<T>(...path: string[]): T {
  return JSON.parse(readFileSync(join(...path), 'utf8')) as T;
}

const scripted = (name: string, responses: string[]): JsonObject => ({
  model_name: name,
  backend: 'programmatic',
  responses,
});

describe('game runs with programmatic players', () => {
  it("self-play with the registry's programmatic entry writes clembench's layout", async () => {
    const { directory, summary } = await run({
      games: ['taboo'],
      models: ['programmatic'],
      experiments: ['high_frequency'],
      instanceIds: [0, 1],
    });
    expect(summary).toMatchObject({ total: 2, played: 2, skipped: 0, failed: [], stopped: false });
    expect(summary.modelsFolders).toEqual(['programmatic-t0.0']);
    const models = join(directory, 'programmatic-t0.0');
    const experiment = join(models, 'taboo', 'high_frequency');
    expect(readdirSync(experiment).sort()).toEqual(['experiment.json', 'instance_00000', 'instance_00001']);
    const episode = join(experiment, 'instance_00000');
    expect(readdirSync(episode).sort()).toEqual([
      'instance.json',
      'interactions.json',
      'requests.json',
      'requests_player_1.json',
      'requests_player_2.json',
      'scores.json',
      'transcript.html',
    ]);
    expect(readJson(episode, 'instance.json')).toEqual({
      game_id: 0,
      target_word: 'house',
      related_word: ['home', 'building', 'live'],
    });

    const interactions = readJson<Interactions>(episode, 'interactions.json');
    expect(interactions.meta).toEqual({
      game_name: 'taboo',
      experiment_name: 'high_frequency',
      game_id: 0,
      results_folder: 'programmatic-t0.0',
      clemplay_version: 'test',
    });
    expect(interactions.players).toEqual({
      GM: { game_role: 'Game Master', model_name: 'programmatic' },
      'Player 1': { game_role: 'WordDescriber', model_name: 'programmatic' },
      'Player 2': { game_role: 'WordGuesser', model_name: 'programmatic' },
    });
    for (const round of interactions.turns) {
      for (const event of round) {
        expect(Object.keys(event)).toEqual(['from', 'to', 'timestamp', 'action']);
        expect(Number.isNaN(Date.parse(event.timestamp))).toBe(false);
      }
    }
    // The scores on disk are the record's scores.
    expect(readJson(episode, 'scores.json')).toEqual(scoreEpisode(interactions, findGame('taboo')!.scoring));

    const requests = readJson<RequestRecord[]>(episode, 'requests.json');
    const answers = interactions.turns.flat().filter((event) => event.action.type === 'get message');
    expect(requests.map((request) => request.raw_response_obj.response)).toEqual(
      answers.map((event) => event.action.content),
    );
    const first = readJson<RequestRecord[]>(episode, 'requests_player_1.json');
    expect(first.length).toBeGreaterThan(0);
    expect(first.every((request) => request.raw_response_obj.clem_player.player === 'Player 1')).toBe(true);
    expect(first.length + readJson<RequestRecord[]>(episode, 'requests_player_2.json').length).toBe(requests.length);

    const runFile = readJson<{ games: Record<string, unknown>; player_models: JsonObject; clemplay_version: string }>(
      models,
      'run.json',
    );
    expect(runFile.clemplay_version).toBe('test');
    expect(runFile.games.taboo).toMatchObject({ num_instances: 2, played: 2, skipped: 0, failed: 0 });
    expect(Object.keys(runFile.player_models)).toEqual(['Player 1', 'Player 2']);
    expect(readJson(experiment, 'experiment.json')).toMatchObject({
      name: 'high_frequency',
      max_turns: 3,
      game_name: 'taboo',
    });
    expect(readFileSync(join(episode, 'transcript.html'), 'utf8')).toContain(
      '<title>taboo · high_frequency · instance 0</title>',
    );
  });

  it('binds two models to the roles in order; each player sees only its own history', async () => {
    const describer = scripted('describer', [
      'CLUE: where a family sleeps under one roof',
      'CLUE: people buy one with a mortgage',
    ]);
    const guesser = scripted('guesser', ['GUESS: tent', 'GUESS: House']);
    const { directory, summary } = await run({
      games: ['taboo'],
      models: [describer, guesser],
      experiments: ['high_frequency'],
      instanceIds: [0],
    });
    expect(summary.played).toBe(1);
    const episode = join(directory, 'describer-t0.0--guesser-t0.0', 'taboo', 'high_frequency', 'instance_00000');
    expect(readJson<{ 'episode scores': JsonObject }>(episode, 'scores.json')['episode scores']).toMatchObject({
      Success: 1,
      'Request Count': 4,
      'Main Score': 50,
    });
    const guesserCalls = readJson<RequestRecord[]>(episode, 'requests_player_2.json');
    const lastPrompt: ChatMessage[] = guesserCalls[1]!.manipulated_prompt_obj;
    expect(lastPrompt.map((message) => message.role)).toEqual(['user', 'assistant', 'user']);
    expect(lastPrompt[0]!.content).toMatch(/\n\nCLUE: where a family sleeps under one roof$/);
    expect(lastPrompt[1]!.content).toBe('GUESS: tent');
    expect(lastPrompt[2]!.content).toBe('CLUE: people buy one with a mortgage');
    const describerCalls = readJson<RequestRecord[]>(episode, 'requests_player_1.json');
    expect(
      describerCalls[1]!.manipulated_prompt_obj
        .filter((message) => message.role === 'assistant')
        .map((message) => message.content),
    ).toEqual(['CLUE: where a family sleeps under one roof']);
  });

  it('plays wordle and its variants; a scripted guesser that wins at once scores 100 in each', async () => {
    const guesser = scripted('s', ['explanation: I know it\nguess: apple']);
    const critic = scripted('c', ['explanation: fits\nagreement: yes']);
    for (const [game, models, folder] of [
      ['wordle', [guesser], 's-t0.0'],
      ['wordle_withclue', [guesser], 's-t0.0'],
      ['wordle_withcritic', [guesser, critic], 's-t0.0--c-t0.0'],
    ] as const) {
      const { directory, summary } = await run({
        games: [game],
        models: [...models],
        experiments: ['high_frequency'],
        instanceIds: [0],
      });
      expect(summary.played).toBe(1);
      const scores = readJson<{ 'episode scores': JsonObject }>(
        directory,
        folder,
        game,
        'high_frequency',
        'instance_00000',
        'scores.json',
      );
      expect(scores['episode scores']['Main Score']).toBe(100);
    }
  });

  it('the rule-based players finish every shipped instance of every game within the rules', async () => {
    const { directory, summary } = await run({
      games: ['taboo', 'wordle', 'wordle_withclue', 'wordle_withcritic'],
      models: ['programmatic'],
    });
    expect(summary).toMatchObject({ total: 120, played: 120, failed: [] });
    for (const folder of summary.modelsFolders) {
      for (const game of readdirSync(join(directory, folder)).filter((name) => name !== 'run.json')) {
        for (const experiment of readdirSync(join(directory, folder, game)).filter(
          (name) => name.startsWith('instance') === false && name !== 'experiment.json',
        )) {
          for (const instance of readdirSync(join(directory, folder, game, experiment)).filter((name) =>
            name.startsWith('instance_'),
          )) {
            const scores = readJson<{ 'episode scores': JsonObject }>(
              directory,
              folder,
              game,
              experiment,
              instance,
              'scores.json',
            );
            // Never aborted, and no rule broken: the baseline plays legally.
            expect(scores['episode scores'].Aborted).toBe(0);
            expect(scores['episode scores']['Violated Request Count']).toBe(0);
            const interactions = readJson<Interactions>(
              directory,
              folder,
              game,
              experiment,
              instance,
              'interactions.json',
            );
            expect(interactions.turns.flat().some((event) => event.action.type === 'invalid clue')).toBe(false);
          }
        }
      }
    }
  });
});

describe('instances, resuming, stopping and failures', () => {
  it('a re-run skips complete instances and leaves their files alone', async () => {
    const first = await run({ games: ['wordle'], models: ['programmatic'], experiments: ['low_frequency'] });
    const scoresPath = join(
      first.directory,
      'programmatic-t0.0',
      'wordle',
      'low_frequency',
      'instance_00004',
      'scores.json',
    );
    const before = readFileSync(scoresPath, 'utf8');
    const again = await run({
      games: ['wordle'],
      models: ['programmatic'],
      experiments: ['low_frequency'],
      resultsDir: first.directory,
    });
    expect(again.summary).toMatchObject({ total: 10, played: 0, skipped: 10 });
    expect(readFileSync(scoresPath, 'utf8')).toBe(before);
  });

  it('a stopped run keeps what finished, and the next run plays only the rest', async () => {
    const controller = new AbortController();
    const first = await run(
      { games: ['taboo'], models: ['programmatic'] },
      (event) => {
        if (event.type === 'episode-end') controller.abort();
      },
      controller.signal,
    );
    expect(first.summary.stopped).toBe(true);
    expect(first.summary.played).toBeGreaterThanOrEqual(1);
    expect(first.summary.played).toBeLessThan(30);
    const second = await run({ games: ['taboo'], models: ['programmatic'], resultsDir: first.directory });
    expect(second.summary).toMatchObject({
      skipped: first.summary.played,
      played: 30 - first.summary.played,
      stopped: false,
    });
  });

  it('reads a clembench instance file unchanged, with its own prompts and word list', async () => {
    const directory = resultsDir();
    const file = join(directory, 'clembench-wordle.json');
    writeFileSync(
      file,
      JSON.stringify({
        experiments: [
          {
            name: 'high_frequency_words_no_clue_no_critic',
            game_instances: [
              {
                game_id: 1,
                target_word: 'major',
                target_word_clue: 'an army rank',
                target_word_difficulty: 'high_frequency',
              },
            ],
            common_config: { n_turns: 6, max_retry_per_error: { NOT_VALID_WORD_FOR_GAME: 5 }, max_word_length: 5 },
            use_clue: false,
            use_critic: false,
            guesser_prompt: 'Their own prompt: guess a word.',
            guesser_critic_prompt: '',
            lang_keywords: {
              max_word_length: 5,
              guess_lang: 'guess:',
              explanation_lang: 'explanation:',
              guess_feedback_lang: 'guess_feedback:',
              official_words_list: ['major', 'minor', 'mayor'],
            },
          },
        ],
      }),
    );
    const guesser = scripted('g', [
      'explanation: one\nguess: apple',
      'explanation: two\nguess: mayor',
      'explanation: three\nguess: major',
    ]);
    const { summary } = await run({ games: ['wordle'], models: [guesser], instancesFile: file, resultsDir: directory });
    expect(summary.played).toBe(1);
    const episode = join(directory, 'g-t0.0', 'wordle', 'high_frequency_words_no_clue_no_critic', 'instance_00001');
    const interactions = readJson<Interactions>(episode, 'interactions.json');
    expect(interactions.turns[0]![0]!.action.content).toBe('Their own prompt: guess a word.');
    // "apple" is a word, but not in their list: asked again; "mayor" is in theirs (m, a green).
    expect(interactions.turns[0]!.map((event) => event.action.type)).toContain('unknown word');
    expect(readJson<{ 'episode scores': JsonObject }>(episode, 'scores.json')['episode scores']).toMatchObject({
      Success: 1,
      'Request Count': 3,
      'Main Score': 100,
    });
  });

  it.each([
    [
      { games: ['chess'], models: ['programmatic'] },
      'unknown game "chess"; the games are: taboo, wordle, wordle_withclue, wordle_withcritic',
    ],
    [
      { games: ['wordle'], models: ['programmatic', 'programmatic'] },
      'wordle has one player (WordGuesser): give one model',
    ],
    [{ games: ['taboo'], models: [] }, 'give one model (it plays every role) or two (one per role), not 0'],
    [
      { games: ['taboo', 'wordle'], models: ['programmatic'], instancesFile: '/x.json' },
      'an instance file belongs to one game',
    ],
    [{ games: ['taboo'], models: ['programmatic'], experiments: ['nope'] }, 'taboo has no experiment "nope"'],
    [{ games: ['taboo'], models: ['programmatic'], instanceIds: [99] }, 'taboo has no instance with game_id 99'],
    [
      { games: ['taboo'], models: ['programmatic'], instancesFile: '/no/such/file.json' },
      'The instance file /no/such/file.json cannot be read: no such file.',
    ],
  ])('refuses %j before playing', async (request, message) => {
    await expect(
      planRun(services, { ...request, resultsDir: resultsDir() } as GameRunRequest, resources),
    ).rejects.toMatchObject({
      code: 'invalid-input',
      message: expect.stringContaining(message),
    });
  });
});

describe('game runs with remote models', () => {
  let server: FakeOpenAIServer;
  let failWater = true;

  beforeAll(async () => {
    // A model that plays taboo: it describes when its prompt names the secret word (refusing "water" while
    // `failWater` holds), and otherwise guesses "house".
    server = await startFakeOpenAIServer({
      script: (request) => {
        const body = request.body as { messages: ChatMessage[] };
        const secret = /The secret word: (\w+)/.exec(body.messages[0]?.content ?? '')?.[1];
        if (secret === 'water' && failWater)
          return { type: 'http-error', status: 400, message: 'this model refuses water' };
        return { type: 'reply', text: secret === undefined ? 'GUESS: house' : 'CLUE: a place with a roof' };
      },
    });
  });
  afterAll(async () => {
    await server.close();
  });

  const model = (): JsonObject => ({
    model_name: 'fake',
    backend: 'openai_compatible',
    base_url: server.baseUrl,
    retries: 0,
  });

  it('an episode that fails is recorded as an error and the run goes on; the next run plays it again', async () => {
    const { directory, summary } = await run({
      games: ['taboo'],
      models: [model()],
      experiments: ['high_frequency'],
      instanceIds: [0, 1, 2],
    });
    expect(summary.played).toBe(2);
    expect(summary.failed).toHaveLength(1);
    expect(summary.failed[0]!.episode).toMatchObject({ game: 'taboo', experiment: 'high_frequency', game_id: 1 });
    expect(summary.failed[0]!.error.message).toContain('this model refuses water');
    const failed = join(directory, 'fake-t0.0', 'taboo', 'high_frequency', 'instance_00001');
    expect(existsSync(join(failed, 'scores.json'))).toBe(false);
    expect(readJson<{ error: { message: string } }>(failed, 'error.json').error.message).toContain('refuses water');
    const house = join(directory, 'fake-t0.0', 'taboo', 'high_frequency', 'instance_00000');
    expect(readJson<{ 'episode scores': JsonObject }>(house, 'scores.json')['episode scores']['Main Score']).toBe(100);
    // The temperature went to the model.
    expect((server.requests.at(-1)!.body as { temperature: number }).temperature).toBe(0);

    failWater = false;
    const again = await run({
      games: ['taboo'],
      models: [model()],
      experiments: ['high_frequency'],
      instanceIds: [0, 1, 2],
      resultsDir: directory,
    });
    expect(again.summary).toMatchObject({ played: 1, skipped: 2, failed: [] });
    expect(existsSync(join(failed, 'error.json'))).toBe(false);
    expect(existsSync(join(failed, 'scores.json'))).toBe(true);
  });
});

describe('concurrency', () => {
  /** A contestant whose answers wait at a gate: it counts how many are waiting at once. */
  function gatedContestant(concurrent: boolean, openAt: number) {
    let waiting = 0;
    let most = 0;
    let open = !concurrent;
    const released: (() => void)[] = [];
    const contestant: Contestant = {
      kind: 'rule-based',
      spec: { model_name: 'gated', backend: 'programmatic' },
      modelName: 'gated',
      backend: 'programmatic',
      concurrent,
      async open() {},
      async dispose() {},
      player(role, episode) {
        const rules = episode.ruleBasedPlayer(role);
        return {
          async respond(messages) {
            waiting += 1;
            most = Math.max(most, waiting);
            if (!open) {
              if (waiting >= openAt) {
                open = true;
                for (const release of released.splice(0)) release();
              } else {
                await new Promise<void>((resolve) => released.push(resolve));
              }
            }
            waiting -= 1;
            return { text: rules.respond(messages) };
          },
        };
      },
    };
    return { contestant, most: () => most };
  }

  async function runGated(concurrent: boolean) {
    const plan = await planRun(
      services,
      {
        games: ['taboo'],
        models: ['programmatic'],
        experiments: ['high_frequency'],
        resultsDir: resultsDir(),
        concurrency: 4,
      },
      resources,
    );
    const gated = gatedContestant(concurrent, 4);
    plan.contestants = [gated.contestant];
    plan.games[0]!.players = [gated.contestant, gated.contestant];
    const summary = await executeRun(plan, { version: 'test' });
    return { summary, most: gated.most() };
  }

  it('plays several episodes at once with remote models (4 here)', async () => {
    const { summary, most } = await runGated(true);
    expect(summary.played).toBe(10);
    expect(most).toBe(4);
  });

  it('plays one at a time when a model is local or a person', async () => {
    const { summary, most } = await runGated(false);
    expect(summary.played).toBe(10);
    expect(most).toBe(1);
  });
});

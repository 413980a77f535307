import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentVersion, gameMasterSpeaker } from '../../src-shared/conversation/transcript.js';
import { applyRunEvent, type RunEvent, type RunView } from '../../src-shared/games/run-view.js';
import type { JsonObject } from '../../src-shared/json.js';
import type { TrackedEvent } from '../jobs/event-log.js';
import type { AppServices } from '../services.js';
import { createTestServices } from '../testing/services.js';

let services: AppServices;

beforeAll(async () => {
  services = await createTestServices();
});
afterAll(async () => {
  await services.dispose();
});

/** A scripted taboo player that answers slowly (a word every `delay` ms), so a test can stop it mid-run. */
const slow = (name: string, answer: string, delay = 10): JsonObject => ({
  model_name: name,
  backend: 'programmatic',
  responses: [answer],
  delay_ms: delay,
});

/**
 * Reads a run's events (from a snapshot, or after `lastEventId`) and folds them until `done` holds for the view; the
 * events and the view it saw.
 */
async function follow(
  id: string,
  done: (view: RunView, event: RunEvent) => boolean,
  lastEventId: string | null = null,
  start: RunView | null = null,
): Promise<{ view: RunView; events: TrackedEvent<RunEvent>[] }> {
  const controller = new AbortController();
  const events: TrackedEvent<RunEvent>[] = [];
  let view = start;
  for await (const entry of services.games.subscribe(id, lastEventId, controller.signal)) {
    events.push(entry);
    view = applyRunEvent(view, entry.event);
    if (view !== null && done(view, entry.event)) controller.abort();
  }
  return { view: view!, events };
}

const ended = (view: RunView): boolean => view.status !== 'running';

describe('game runs as jobs', () => {
  it('streams a run from a snapshot to its end; folding the events gives the run as main has it', async () => {
    const run = await services.games.start({
      games: ['taboo'],
      models: ['programmatic'],
      experiments: ['high_frequency'],
      instances: 2,
    });
    expect(run).toMatchObject({ status: 'running', models_folders: ['programmatic-t0.0'] });
    const { view, events } = await follow(run.id, ended);
    expect(events[0]!.event.type).toBe('snapshot');
    expect(view).toEqual(services.games.view(run.id));
    expect(view).toMatchObject({ status: 'done', progress: { total: 2, done: 2, played: 2, failed: 0, skipped: 0 } });
    expect(events.at(-1)!.event).toMatchObject({ type: 'status', status: 'done' });
    // The last episode's transcript stays: the game master's messages go to a player, the answers come back.
    const episode = view.episodes.at(-1)!;
    expect(episode).toMatchObject({ status: 'success', ref: { game: 'taboo', experiment: 'high_frequency' } });
    expect(episode.main_score).toBeGreaterThan(0);
    expect(episode.players.map((player) => [player.id, player.role, player.model])).toEqual([
      ['player-1', 'WordDescriber', 'programmatic'],
      ['player-2', 'WordGuesser', 'programmatic'],
    ]);
    const [first, second] = episode.messages;
    expect(first).toMatchObject({ speaker: gameMasterSpeaker, to: ['player-1'] });
    expect(second).toMatchObject({ speaker: 'player-1', to: [gameMasterSpeaker] });
    expect(currentVersion(second!).text).toMatch(/^CLUE: /);
  });

  it('a client that reconnects gets what it missed, not a snapshot', async () => {
    const run = await services.games.start({
      games: ['taboo'],
      models: [slow('describer', 'CLUE: a thing people know'), slow('guesser', 'GUESS: nothing')],
      experiments: ['high_frequency'],
      instances: 1,
    });
    const before = await follow(run.id, (_view, event) => event.type === 'part');
    const lastId = before.events.at(-1)!.id;
    const after = await follow(run.id, ended, lastId, before.view);
    const sequence = (id: string): number => Number(id.split(':')[1]);
    expect(after.events[0]!.event.type).not.toBe('snapshot');
    expect(sequence(after.events[0]!.id)).toBe(sequence(lastId) + 1);
    expect(after.view).toEqual(services.games.view(run.id));
    // A model's answer streamed in parts, folded into the same text the record keeps.
    expect(after.events.some((entry) => entry.event.type === 'part')).toBe(true);
    const answers = after.view.episodes[0]!.messages.filter((message) => message.speaker === 'player-2');
    expect(answers.map((message) => currentVersion(message).text)).toEqual([
      'GUESS: nothing',
      'GUESS: nothing',
      'GUESS: nothing',
    ]);
  });

  it('a stopped run keeps what finished; resuming it plays only the rest', async () => {
    const run = await services.games.start({
      games: ['taboo'],
      models: [slow('stop-describer', 'CLUE: a thing people know', 20), slow('stop-guesser', 'GUESS: nothing', 20)],
      experiments: ['medium_frequency'],
    });
    await follow(run.id, (view) => view.progress.played >= 1);
    const stopped = await services.games.stop(run.id);
    expect(stopped.status).toBe('stopped');
    const played = stopped.progress.played;
    expect(played).toBeGreaterThanOrEqual(1);
    expect(played).toBeLessThan(10);
    const results = await services.games.results(stopped.models_folders);
    expect(results.episodes.filter((episode) => episode.status === 'lose')).toHaveLength(played);
    expect(results.episodes.every((episode) => ['lose', 'incomplete'].includes(episode.status))).toBe(true);
    // Episodes cut off by the stop are not shown as still playing.
    expect(stopped.episodes.every((episode) => episode.status !== 'playing')).toBe(true);

    const resumed = await services.games.resume(run.id);
    expect(resumed.id).toBe(run.id);
    const { view } = await follow(run.id, ended);
    expect(view).toMatchObject({
      status: 'done',
      progress: { skipped: played, played: 10 - played, total: 10 - played },
    });
    const complete = await services.games.results(view.models_folders);
    expect(complete.episodes.filter((episode) => episode.status === 'lose')).toHaveLength(10);
    expect(complete.eval.rows).toEqual([expect.objectContaining({ game: 'taboo', episodes: 10, played: 100 })]);
  });

  it('refuses what it cannot do, saying why', async () => {
    await expect(services.games.start({ games: ['taboo'], models: ['no-such-model'] })).rejects.toMatchObject({
      code: 'no-match',
    });
    await expect(
      services.games.start({ games: ['taboo'], models: ['programmatic'], instance_ids: [77] }),
    ).rejects.toMatchObject({
      code: 'invalid-input',
      message: expect.stringContaining('no instance with game_id 77'),
    });
    expect(() => services.games.view('run-nothing')).toThrow(/There is no game run run-nothing/);
    const run = await services.games.start({
      games: ['taboo'],
      models: [slow('busy', 'CLUE: a thing people know', 20), slow('busy-guesser', 'GUESS: nothing', 20)],
      experiments: ['low_frequency'],
      instances: 1,
    });
    await expect(services.games.resume(run.id)).rejects.toMatchObject({ code: 'conflict' });
    await services.games.stop(run.id);
    // A double click on Resume plays the run once: the second is refused while the first chooses its instances.
    const twice = await Promise.allSettled([services.games.resume(run.id), services.games.resume(run.id)]);
    expect(twice.map((result) => result.status).sort()).toEqual(['fulfilled', 'rejected']);
    await services.games.stop(run.id);
  });
});

describe('episodes at once', () => {
  /** The most episodes a run had playing at the same time, from its events. */
  async function mostAtOnce(runs: AppServices['games']): Promise<number> {
    const run = await runs.start({
      games: ['taboo'],
      models: [slow('parallel-describer', 'CLUE: a thing people know'), slow('parallel-guesser', 'GUESS: nothing')],
      experiments: ['low_frequency'],
      instances: 4,
    });
    const controller = new AbortController();
    let view: RunView | null = null;
    let most = 0;
    for await (const entry of runs.subscribe(run.id, null, controller.signal)) {
      view = applyRunEvent(view, entry.event);
      most = Math.max(most, view!.episodes.filter((episode) => episode.status === 'playing').length);
      if (view!.status !== 'running') controller.abort();
    }
    return most;
  }

  it('plays four at once with remote models, or as many as CLEMPLAY_PARALLEL_EPISODES says', async () => {
    expect(await mostAtOnce(services.games)).toBe(4);
    const one = await createTestServices({ environment: { CLEMPLAY_PARALLEL_EPISODES: '1' } });
    try {
      expect(await mostAtOnce(one.games)).toBe(1);
    } finally {
      await one.dispose();
    }
  });
});

describe('a person in a game', () => {
  const person: JsonObject = { model_name: 'person', backend: 'human' };

  it('takes the guesser role: the question is a run event for that player, the answer plays on', async () => {
    const run = await services.games.start({
      games: ['taboo'],
      models: ['programmatic', person],
      experiments: ['high_frequency'],
      instance_ids: [0],
    });
    const asked = await follow(
      run.id,
      (_view, event) => event.type === 'part' && event.part.type === 'human-input-needed',
    );
    const question = asked.events.at(-1)!.event;
    expect(question).toMatchObject({ type: 'part', message_id: expect.any(String) });
    const episode = asked.view.episodes[0]!;
    const waiting = episode.messages.at(-1)!;
    expect(waiting.speaker).toBe('player-2');
    expect(currentVersion(waiting).human_request?.prompt).toContain('CLUE: ');
    expect(() => services.games.humanReply(run.id, 'player-1', 'GUESS: house')).toThrow(/not waiting/);
    services.games.humanReply(run.id, 'player-2', 'GUESS: house');
    const { view } = await follow(run.id, ended);
    expect(view.episodes[0]).toMatchObject({ status: 'success', main_score: 100 });
    const results = await services.games.results(view.models_folders);
    expect(results.eval.rows).toEqual([
      expect.objectContaining({ game: 'taboo', models: 'programmatic-t0.0--person-t0.0', quality_score: 100 }),
    ]);
  });

  it('a stop withdraws the question and ends the run', async () => {
    const run = await services.games.start({
      games: ['wordle'],
      models: [person],
      experiments: ['low_frequency'],
      instance_ids: [0],
    });
    await follow(
      run.id,
      (view) =>
        view.episodes[0]?.messages.some((message) => currentVersion(message).human_request !== undefined) === true,
    );
    const stopped = await services.games.stop(run.id);
    expect(stopped).toMatchObject({ status: 'stopped', progress: { played: 0, failed: 0 } });
    expect(stopped.episodes[0]!.status).toBe('stopped');
    expect(services.humanInput.waiting).toBe(0);
    expect(() => services.games.humanReply(run.id, 'player-1', 'too late')).toThrow(/not waiting/);
  });
});

describe('earlier runs of the results folder', () => {
  it('lists them with what was asked, reads their scores and episodes, and plays them again', async () => {
    const run = await services.games.start({
      games: ['wordle'],
      models: ['programmatic'],
      experiments: ['high_frequency'],
      instances: 3,
      temperature: 0.5,
    });
    const { view } = await follow(run.id, ended);
    const listing = await services.games.list();
    expect(listing.live[0]).toMatchObject({ id: run.id, status: 'done', games: ['wordle'] });
    const saved = listing.saved.find((entry) => entry.folder === 'programmatic-t0.5')!;
    expect(saved).toMatchObject({
      games: ['wordle'],
      models: ['programmatic'],
      request: { games: ['wordle'], models: ['programmatic'], experiments: ['high_frequency'], instances: 3 },
    });
    const results = await services.games.results(['programmatic-t0.5']);
    expect(results.episodes.map((episode) => [episode.game, episode.experiment, episode.instance])).toEqual([
      ['wordle', 'high_frequency', 'instance_00000'],
      ['wordle', 'high_frequency', 'instance_00001'],
      ['wordle', 'high_frequency', 'instance_00002'],
    ]);
    expect(results.eval.rows[0]).toMatchObject({ game: 'wordle', models: 'programmatic-t0.5', episodes: 3 });
    const transcript = await services.games.episode(results.episodes[0]!);
    expect(transcript.players).toEqual([
      { id: 'player-1', role: 'WordGuesser', model: 'programmatic', backend: 'programmatic' },
    ]);
    expect(transcript.status).toBe(results.episodes[0]!.status);
    expect(transcript.messages[0]).toMatchObject({ speaker: gameMasterSpeaker, to: ['player-1'] });
    // The live transcript of the last episode and the one read back from its files say the same.
    const last = view.episodes.at(-1)!;
    const lastSaved = await services.games.episode(results.episodes[2]!);
    expect(lastSaved.messages.map((message) => [message.speaker, currentVersion(message).text])).toEqual(
      last.messages.map((message) => [message.speaker, currentVersion(message).text]),
    );

    const again = await services.games.resumeSaved('programmatic-t0.5');
    expect(again.id).not.toBe(run.id);
    const replay = await follow(again.id, ended);
    expect(replay.view.progress).toMatchObject({ total: 0, skipped: 3, played: 0 });
    await expect(services.games.resumeSaved('no-such-folder')).rejects.toMatchObject({ code: 'not-found' });
    // A run.json whose request is not one clemplay takes (edited by hand) is listed, but not played again.
    const runFile = join(services.resultsDir, 'programmatic-t0.5', 'run.json');
    const data = JSON.parse(readFileSync(runFile, 'utf8')) as { request: Record<string, unknown> };
    writeFileSync(runFile, JSON.stringify({ ...data, request: { ...data.request, games: ['../../etc'] } }));
    const edited = (await services.games.list()).saved.find((entry) => entry.folder === 'programmatic-t0.5');
    expect(edited?.request).toBeNull();
    expect(existsSync(join(services.resultsDir, 'programmatic-t0.5', 'run.json'))).toBe(true);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentVersion, gameMasterSpeaker } from '../src-shared/conversation/transcript';
import { currentEpisode } from '../src-shared/games/run-view';
import { startHostedServices, untilState, type HostedServices } from '../src-main/testing/hosted-services';
import { createGamesStore, resultsKey, type GamesStore } from './games-store';

// The renderer's games store against the real API over the web host's WebSocket (Node's, not a browser's).
let hosted: HostedServices;
let store: GamesStore;

beforeAll(async () => {
  hosted = await startHostedServices('renderer-games', [
    { model_name: 'programmatic', backend: 'programmatic' },
    { model_name: 'person', backend: 'human' },
    { model_name: 'slow', backend: 'programmatic', responses: ['CLUE: a thing people know'], delay_ms: 40 },
    { model_name: 'never-right', backend: 'programmatic', responses: ['GUESS: nothing'] },
  ]);
  store = createGamesStore(hosted.client.api);
});

afterAll(async () => {
  await hosted.close();
});

/** Resolves when the store's state satisfies `done`. */
const until = (done: () => boolean): Promise<void> => untilState(store, done);

const view = (id: string) => store.getState().runs[id]?.view ?? null;

describe('the renderer games store', () => {
  it('lists the games with their roles and experiments', async () => {
    await store.getState().loadGames();
    const taboo = store.getState().games?.find((game) => game.name === 'taboo');
    expect(taboo).toMatchObject({ roles: ['WordDescriber', 'WordGuesser'] });
    expect(taboo?.experiments).toEqual([
      { name: 'high_frequency', instances: 10 },
      { name: 'medium_frequency', instances: 10 },
      { name: 'low_frequency', instances: 10 },
    ]);
  });

  it('starts a run, follows it to the end and loads its scores', async () => {
    const run = await store.getState().start({
      games: ['taboo'],
      models: ['programmatic'],
      experiments: ['high_frequency'],
      instances: 3,
    });
    expect(run).not.toBeNull();
    const id = run!.id;
    const unwatch = store.getState().watch(id);
    await until(() => view(id)?.status === 'done');
    unwatch();
    const done = view(id)!;
    expect(done.progress).toMatchObject({ total: 3, done: 3, played: 3 });
    const episode = currentEpisode(done)!;
    expect(episode.messages[0]!.speaker).toBe(gameMasterSpeaker);
    const results = await store.getState().loadResults(done.models_folders, ['taboo']);
    expect(results?.eval.rows).toEqual([
      expect.objectContaining({ game: 'taboo', models: 'programmatic-t0.0', episodes: 3, played: 100 }),
    ]);
    expect(store.getState().results[resultsKey(done.models_folders, ['taboo'])]).toMatchObject({
      loading: false,
      error: null,
    });
    await store.getState().refreshRuns();
    expect(store.getState().listing?.live.map((entry) => entry.id)).toContain(id);
    expect(store.getState().listing?.saved.map((entry) => entry.folder)).toContain('programmatic-t0.0');
    const transcript = await store.getState().loadEpisode({
      models: 'programmatic-t0.0',
      game: 'taboo',
      experiment: 'high_frequency',
      instance: 'instance_00000',
    });
    expect(transcript?.messages[0]).toMatchObject({ speaker: gameMasterSpeaker, to: ['player-1'] });
  });

  it('stops a run, keeping what finished, and resumes it', async () => {
    const run = await store.getState().start({
      games: ['taboo'],
      models: ['slow', 'never-right'],
      experiments: ['medium_frequency'],
    });
    const id = run!.id;
    const unwatch = store.getState().watch(id);
    await until(() => (view(id)?.progress.played ?? 0) >= 1);
    expect(await store.getState().stop(id)).toBe(true);
    await until(() => view(id)?.status === 'stopped');
    const played = view(id)!.progress.played;
    expect(played).toBeLessThan(10);
    expect(await store.getState().resume(id)).toBe(true);
    await until(() => view(id)?.status === 'done');
    expect(view(id)!.progress).toMatchObject({ skipped: played, played: 10 - played });
    unwatch();
  });

  it('lets a person play a role: the question shows on the player’s answer, the reply goes through', async () => {
    const run = await store.getState().start({
      games: ['taboo'],
      models: ['programmatic', 'person'],
      experiments: ['high_frequency'],
      instance_ids: [0],
    });
    const id = run!.id;
    const unwatch = store.getState().watch(id);
    const waiting = () => {
      const current = view(id);
      const episode = current === null ? null : currentEpisode(current);
      return episode?.messages.find((message) => currentVersion(message).human_request !== undefined);
    };
    await until(() => waiting() !== undefined);
    expect(waiting()!.speaker).toBe('player-2');
    expect(await store.getState().humanReply(id, 'player-1', 'GUESS: house')).toBe(false);
    expect(store.getState().runs[id]!.error).toMatch(/^not-found: player-1 of run .* is not waiting/);
    expect(await store.getState().humanReply(id, 'player-2', 'GUESS: house')).toBe(true);
    expect(store.getState().runs[id]!.error).toBeNull();
    await until(() => view(id)?.status === 'done');
    expect(currentEpisode(view(id)!)).toMatchObject({ status: 'success', main_score: 100 });
    unwatch();
  });

  it('says why a run cannot start', async () => {
    expect(await store.getState().start({ games: ['taboo'], models: ['nothing-like-it'] })).toBeNull();
    expect(store.getState().error).toMatch(/^no-match: /);
    expect(await store.getState().start({ games: ['taboo'], models: ['programmatic'], instances: 0 })).toBeNull();
    expect(store.getState().error).toMatch(/^invalid-input: invalid input at instances/);
  });
});

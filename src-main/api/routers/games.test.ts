import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestServices } from '../../testing/services.js';
import { apiRouter } from '../router.js';
import { apiErrorShape, createCallerFactory } from '../trpc.js';

const services = await createTestServices();
const caller = createCallerFactory(apiRouter)({ services, transport: 'in-process' });

afterAll(async () => {
  await services.dispose();
});

/** The error shape a client gets for a call. */
async function failure(call: Promise<unknown>) {
  try {
    await call;
  } catch (error) {
    return apiErrorShape((error as { cause?: unknown }).cause ?? error);
  }
  throw new Error('the call succeeded');
}

describe('the games API checks its input', () => {
  it.each([
    ['a parent folder', { models: '..', game: 'taboo', experiment: 'e', instance: 'instance_00000' }],
    ['a path', { models: 'a/../../etc', game: 'taboo', experiment: 'e', instance: 'instance_00000' }],
    ['a Windows path', { models: 'a\\..', game: 'taboo', experiment: 'e', instance: 'instance_00000' }],
    ['an instance that is no instance folder', { models: 'm', game: 'taboo', experiment: 'e', instance: '../x' }],
  ])('refuses %s as an episode’s place, before reading anything', async (_name, place) => {
    expect(await failure(caller.games.episode(place))).toMatchObject({ code: 'invalid-input' });
  });

  it('reads an episode whose folder names are fine', async () => {
    const folder = join(services.resultsDir, 'm-t0.0', 'taboo', 'high frequency', 'instance_00000');
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'interactions.json'), JSON.stringify({ players: {}, turns: [] }));
    const episode = await caller.games.episode({
      models: 'm-t0.0',
      game: 'taboo',
      experiment: 'high frequency',
      instance: 'instance_00000',
    });
    expect(episode).toEqual({ players: [], messages: [], status: 'incomplete' });
  });

  it.each([
    ['three models', { games: ['taboo'], models: ['a', 'b', 'c'] }, 'models'],
    ['no game', { games: [], models: ['programmatic'] }, 'games'],
    ['a game name with a path in it', { games: ['../taboo'], models: ['programmatic'] }, 'games.0'],
    ['no instances', { games: ['taboo'], models: ['programmatic'], instances: 0 }, 'instances'],
    ['a temperature above 2', { games: ['taboo'], models: ['programmatic'], temperature: 3 }, 'temperature'],
    ['an unknown key', { games: ['taboo'], models: ['programmatic'], results: '/tmp' }, ''],
  ])('refuses a run with %s', async (_name, input, where) => {
    const error = await failure(caller.games.start(input as never));
    expect(error.code).toBe('invalid-input');
    expect(error.message).toContain(where === '' ? 'invalid input' : `invalid input at ${where}`);
  });

  it('refuses a human reply to a player or run that is no such thing', async () => {
    expect(await failure(caller.games.humanReply({ run: 'run-x', player: 'player-1', text: 'hi' }))).toMatchObject({
      code: 'invalid-input',
    });
    expect(
      await failure(caller.games.humanReply({ run: 'run-abc-123456', player: 'player-1', text: 'hi' })),
    ).toMatchObject({ code: 'not-found' });
  });
});

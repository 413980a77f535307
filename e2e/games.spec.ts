import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { serveApp, type ServedApp } from './web-host';

// The Games page as people use it: runs in main watched live, the game master set apart, stop and resume, scores,
// a person taking a role, quick play from Chat.
test.describe('Games in Chromium', () => {
  let app: ServedApp;
  test.beforeAll(async () => {
    const folder = mkdtempSync(join(tmpdir(), 'clemplay-e2e-games-'));
    const registry = join(folder, 'model_registry.json');
    writeFileSync(
      registry,
      JSON.stringify([
        { model_name: 'programmatic', backend: 'programmatic' },
        // A describer slow enough to stop mid-run (a word every 40 ms), and a guesser that never gets it.
        { model_name: 'slow', backend: 'programmatic', responses: ['CLUE: a thing that people know'], delay_ms: 40 },
        { model_name: 'never-right', backend: 'programmatic', responses: ['GUESS: nothing'] },
      ]),
    );
    app = await serveApp(['--registry', registry]);
  });
  test.afterAll(async () => {
    await app.stop();
  });

  async function openGames(page: Page): Promise<void> {
    await page.goto(app.url);
    await page.getByTestId('nav-games').click();
    await expect(page.getByTestId('game-select')).toBeVisible();
  }

  /** The cells of the one row of the scores table. */
  const scoreCells = (page: Page) => page.getByTestId('game-scores').getByTestId('game-score-row').locator('td');

  test('runs taboo with the rule-based players: progress, the live transcript, then the scores', async ({ page }) => {
    await openGames(page);
    await page.getByTestId('game-select').selectOption('taboo');
    await page.getByTestId('game-experiment').selectOption('high_frequency');
    await page.getByTestId('game-instances').fill('3');
    await page.getByTestId('game-player-1').fill('programmatic');
    await expect(page.getByTestId('game-run')).toHaveText(/Run 3 episodes/);
    await page.getByTestId('game-run').click();

    const progress = page.getByTestId('game-progress');
    await expect(progress).toContainText('3 / 3 episodes');
    await expect(progress).toHaveAttribute('data-status', 'done');

    const transcript = page.getByTestId('game-transcript');
    const master = transcript.locator('[data-speaker="game-master"]');
    await expect(master.first()).toContainText('Game master');
    await expect(master.first()).toHaveAttribute('data-testid', 'message-system');
    await expect(transcript.getByTestId('message-assistant').first()).toContainText('CLUE:');
    await expect(transcript.getByTestId('game-episode-status')).toHaveText('won');

    const scores = page.getByTestId('game-scores');
    await expect(scores.getByTestId('game-score-row')).toHaveCount(1);
    await expect(scores.getByTestId('game-score-row')).toContainText('taboo');
    await expect(scores.getByTestId('game-score-row')).toContainText('programmatic-t0.0');
    await expect(scores.getByTestId('game-clemscore')).toContainText('clemscore');
    await expect(scores.getByTestId('game-chart')).toBeVisible();

    // The run lives in main: a reload comes back to it.
    await page.reload();
    await expect(page.getByTestId('game-progress')).toContainText('3 / 3 episodes');
    await expect(page.getByTestId('game-scores').getByTestId('game-score-row')).toHaveCount(1);
    // And the results folder lists it among the earlier runs, whose episodes open as transcripts.
    await page.getByTestId('game-saved-run').filter({ hasText: 'programmatic-t0.0' }).click();
    await page.getByTestId('game-saved-panel').getByText('Episodes (3)').click();
    await page.getByTestId('game-episode-open').first().click();
    await expect(page.getByTestId('game-transcript').locator('[data-speaker="game-master"]').first()).toBeVisible();
  });

  test('stops a run, keeping what finished, and resumes it', async ({ page }) => {
    await openGames(page);
    await page.getByTestId('game-select').selectOption('taboo');
    // Every instance of every experiment: 30 episodes, four at a time, about 0.8 s each, so a stop after the first
    // ones finished comes well before the end.
    await page.getByTestId('game-experiment').selectOption('');
    await page.getByTestId('game-instances').fill('');
    await page.getByTestId('game-player-1').fill('slow');
    await page.getByTestId('game-player-2').fill('never-right');
    await expect(page.getByTestId('game-run')).toHaveText(/Run 30 episodes/);
    await page.getByTestId('game-run').click();

    const progress = page.getByTestId('game-progress');
    // A model's answer streams into the transcript while the episode plays.
    await expect(page.getByTestId('game-episode-status')).toHaveText('playing');
    await expect(progress).toContainText(/[1-9] \/ 30 episodes/);
    await page.getByTestId('game-stop').click();
    await expect(progress).toHaveAttribute('data-status', 'stopped');
    const text = (await progress.textContent()) ?? '';
    const finished = Number(/(\d+) \/ 30 episodes/.exec(text)?.[1]);
    expect(finished).toBeGreaterThan(0);
    expect(finished).toBeLessThan(30);
    await expect(scoreCells(page)).toHaveText([
      'taboo',
      'slow-t0.0--never-right-t0.0',
      String(finished),
      '100.00',
      '0.00',
      '0.00',
    ]);

    await page.getByTestId('game-resume').click();
    await expect(progress).toHaveAttribute('data-status', 'done', { timeout: 30_000 });
    await expect(progress).toContainText(
      `${30 - finished} / ${30 - finished} episodes (${finished} complete from before`,
    );
    await expect(scoreCells(page)).toHaveText(['taboo', 'slow-t0.0--never-right-t0.0', '30', '100.00', '0.00', '0.00']);
  });

  test('a person takes the guesser role and plays against the rule-based describer', async ({ page }) => {
    await openGames(page);
    await page.getByTestId('game-select').selectOption('taboo');
    await page.getByTestId('game-experiment').selectOption('high_frequency');
    await page.getByTestId('game-instances').fill('1');
    await page.getByTestId('game-player-1').fill('programmatic');
    await page.getByTestId('game-human-2').click();
    await expect(page.getByTestId('game-player-2')).toHaveValue('human');
    await page.getByTestId('game-run').click();

    const answer = page.getByTestId('game-human-answer');
    await expect(answer).toBeVisible();
    await expect(page.getByTestId('game-transcript').locator('[data-speaker="game-master"]').last()).toContainText(
      'CLUE:',
    );
    await answer.fill('GUESS: house');
    await page.getByTestId('game-human-send').click();
    await expect(page.getByTestId('game-episode-status')).toHaveText('won');
    await expect(scoreCells(page)).toHaveText([
      'taboo',
      'programmatic-t0.0--human-t0.0',
      '1',
      '100.00',
      '100.00',
      '100.00',
    ]);
  });

  test('quick play from Chat: one episode of the chosen game with the chat’s model', async ({ page }) => {
    await page.goto(app.url);
    await page.getByTestId('nav-chat').click();
    await page.getByTestId('chat-model').fill('programmatic');
    await page.getByTestId('chat-games').click();
    await expect(page.getByTestId('page-games')).toBeVisible();
    await expect(page.getByTestId('game-quick')).toContainText('Quick play with programmatic');
    await page.getByTestId('game-select').selectOption('wordle');
    await page.getByTestId('game-quick-play').click();
    await expect(page.getByTestId('game-progress')).toContainText('1 / 1 episodes');
    await expect(page.getByTestId('game-progress')).toHaveAttribute('data-status', 'done');
    await expect(page.getByTestId('game-scores').getByTestId('game-score-row')).toContainText('wordle');
  });
});

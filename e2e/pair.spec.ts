import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { serveApp, type ServedApp } from './web-host';

// Conversations in main, seen in Chromium through the web host: Pair, blind votes, dialogues, and a reload mid-reply.
const words = Array.from({ length: 20 }, (_, index) => `w${index}`).join(' ');

test.describe('Pair, dialogues and sessions that outlive the page', () => {
  let app: ServedApp;
  test.beforeAll(async () => {
    const folder = mkdtempSync(join(tmpdir(), 'clemplay-e2e-pair-'));
    const registry = join(folder, 'model_registry.json');
    writeFileSync(
      registry,
      JSON.stringify([
        { model_name: 'alpha', backend: 'programmatic', responses: ['alpha 1', 'alpha 2', 'alpha 3'] },
        { model_name: 'beta', backend: 'programmatic', responses: ['beta 1', 'beta 2', 'beta 3'] },
        { model_name: 'slow', backend: 'programmatic', responses: [words], delay_ms: 100 },
        { model_name: 'mock', backend: 'programmatic', echo: true },
      ]),
    );
    app = await serveApp(['--registry', registry]);
  });
  test.afterAll(async () => {
    await app.stop();
  });

  async function openPair(page: Page): Promise<void> {
    await page.goto(app.url);
    await page.getByTestId('nav-pair').click();
  }

  test('pairs two models, each with its own history', async ({ page }) => {
    await openPair(page);
    await page.getByTestId('pair-model-a').fill('alpha');
    await page.getByTestId('pair-model-b').fill('beta');
    await page.getByTestId('pair-input').fill('hello');
    await page.getByTestId('pair-send').click();
    const paneA = page.getByTestId('pair-pane-a');
    const paneB = page.getByTestId('pair-pane-b');
    await expect(paneA.getByTestId('message-assistant')).toHaveCount(1);
    await expect(paneA.getByTestId('message-assistant').locator('.message-text')).toHaveText('alpha 1');
    await expect(paneB.getByTestId('message-assistant').locator('.message-text')).toHaveText('beta 1');
    await expect(paneA.getByTestId('message-user')).toContainText('hello');
    await expect(paneA.getByTestId('message-stats')).toContainText('programmatic');
    await expect(page.getByTestId('pair-send')).toBeVisible();
    await page.getByTestId('pair-input').fill('again');
    await page.getByTestId('pair-send').click();
    // Had A seen B's answer as its own, it would be one answer ahead.
    await expect(paneA.getByTestId('message-assistant').last().locator('.message-text')).toHaveText('alpha 2');
    await expect(paneB.getByTestId('message-assistant').last().locator('.message-text')).toHaveText('beta 2');
  });

  test('stops one side while the other answers', async ({ page }) => {
    await openPair(page);
    await page.getByTestId('pair-model-a').fill('slow');
    await page.getByTestId('pair-model-b').fill('alpha');
    await page.getByTestId('pair-input').fill('go');
    await page.getByTestId('pair-send').click();
    const paneA = page.getByTestId('pair-pane-a');
    await expect(paneA.getByTestId('message-assistant').locator('.message-text')).toContainText('w0');
    await page.getByTestId('pair-stop-a').click();
    await expect(paneA.getByTestId('message-assistant')).toContainText('(stopped)');
    await expect(paneA.getByTestId('message-assistant').locator('.message-text')).not.toContainText('w19');
    await expect(page.getByTestId('pair-pane-b').getByTestId('message-assistant').locator('.message-text')).toHaveText(
      'alpha 1',
    );
  });

  test('hides the models of a blind pair until the vote, then reveals them and rates them', async ({ page }) => {
    await openPair(page);
    await page.getByTestId('pair-model-a').fill('alpha');
    await page.getByTestId('pair-model-b').fill('beta');
    await page.getByTestId('pair-blind').check();
    await page.getByTestId('pair-input').fill('which of you is better?');
    await page.getByTestId('pair-send').click();
    await expect(page.getByTestId('pair-pane-a').getByTestId('message-assistant')).toHaveCount(1);
    await expect(page.getByTestId('pair-vote-a')).toBeEnabled();
    const panes = page.locator('.panes');
    await expect(panes).toContainText('Model A');
    // Names, backends and ids stay out of the page until the vote; the answers themselves are the models' own.
    await expect(page.getByTestId('pair-pane-a').getByTestId('message-stats')).not.toContainText('programmatic');
    await expect(page.getByTestId('pair-model-a')).toHaveValue('hidden');
    const answerA = await page
      .getByTestId('pair-pane-a')
      .getByTestId('message-assistant')
      .locator('.message-text')
      .textContent();
    await page.getByTestId('pair-vote-a').click();
    const winner = answerA?.startsWith('alpha') ? 'alpha' : 'beta';
    await expect(page.getByTestId('pair-revealed')).toContainText(`Model A was ${winner} (programmatic)`);
    const board = page.getByTestId('pair-leaderboard');
    await expect(board.getByTestId('leaderboard-row')).toHaveCount(2);
    await expect(board.getByTestId('leaderboard-row').first()).toContainText(winner);
  });

  test('lets two models talk for four replies', async ({ page }) => {
    await openPair(page);
    await page.getByTestId('pair-mode-dialogue').click();
    await page.getByTestId('pair-model-a').fill('alpha');
    await page.getByTestId('pair-model-b').fill('mock');
    await page.getByTestId('pair-system-a').fill('You are A.');
    await page.getByTestId('dialogue-turns').fill('4');
    await page.getByTestId('pair-input').fill('Let us talk.');
    await page.getByTestId('dialogue-start').click();
    const replies = page.getByTestId('dialogue-transcript').getByTestId('message-assistant');
    await expect(replies).toHaveCount(4);
    // B echoes what A said: it hears A's replies as user turns.
    await expect(replies.locator('.message-text')).toHaveText(['alpha 1', 'alpha 1', 'alpha 2', 'alpha 2']);
    await expect(page.getByTestId('dialogue-progress')).toHaveText('4 of 4 replies');
    const download = page.waitForEvent('download');
    await page.getByTestId('pair-export-markdown').click();
    expect((await download).suggestedFilename()).toMatch(/\.md$/);
  });

  test('a reply goes on through a reload, and the page picks it up again', async ({ page }) => {
    await page.goto(app.url);
    await page.getByTestId('nav-chat').click();
    await page.getByTestId('chat-model').fill('slow');
    await page.getByTestId('chat-input').fill('count');
    await page.getByTestId('chat-send').click();
    const reply = page.getByTestId('message-assistant').locator('.message-text');
    await expect(reply).toContainText('w1');
    await page.reload();
    await expect(page.getByTestId('page-chat')).toBeVisible();
    await expect(reply).toHaveText(words, { timeout: 20_000 });
    await expect(page.getByTestId('message-assistant')).not.toContainText('(stopped)');
    await expect(page.getByTestId('chat-send')).toBeVisible();
  });
});

/**
 * `npm run screenshots`: a picture of each page at 1400×900 for the README's tour, in docs/images/. Not part of
 * `npm test` (it changes tracked files); run it after a change to how pages look, and commit the pictures.
 * It serves the built app (run `npm run build` first) in a fresh home with one small test model, as a new user sees it.
 */
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Page } from '@playwright/test';
import { chromiumArgs, chromiumPath } from '../e2e/chromium.js';
import { serveApp } from '../e2e/web-host.js';
import { ensureTestModel } from './test-models.js';

const root = join(import.meta.dirname, '..');
const out = join(root, 'docs', 'images');
const theme = process.argv.includes('--dark') ? 'dark' : 'light';

/** Each page, and what to do on it so that the picture shows it in use. */
const pages: { id: string; prepare?: (page: Page) => Promise<void> }[] = [
  {
    id: 'registry',
    prepare: async (page) => {
      await page.getByTestId('registry-row').filter({ hasText: 'gpt-4o-mini' }).click();
      await page.getByTestId('registry-entry-editor').locator('.monaco-editor').waitFor();
    },
  },
  {
    id: 'playground',
    prepare: async (page) => {
      await page.getByTestId('playground-query').locator('.monaco-editor').waitFor();
      await page.getByTestId('playground-resolve').click();
      await page.getByTestId('playground-spec').waitFor();
    },
  },
  {
    id: 'chat',
    prepare: async (page) => {
      // `mock` echoes: the answer shows how a reply in Markdown renders.
      await page.getByTestId('chat-model').fill('mock');
      await page
        .getByTestId('chat-input')
        .fill(
          'A **table** and some code:\n\n| model | score |\n| --- | --- |\n| mock | 100 |\n\n```python\nprint("hello")\n```',
        );
      await page.getByTestId('chat-send').click();
      await page.getByTestId('message-assistant').getByTestId('message-stats').filter({ hasText: 'tokens' }).waitFor();
      // The Markdown renderer arrives on its own (a split chunk): the picture waits for the rendered table.
      await page.getByTestId('message-markdown').locator('table').waitFor();
    },
  },
  {
    id: 'pair',
    prepare: async (page) => {
      await page.getByTestId('pair-model-a').fill('mock');
      await page
        .getByTestId('pair-model-b')
        .fill('{"model_name": "scripted", "backend": "programmatic", "responses": ["I answer from my own history."]}');
      await page.getByTestId('pair-input').fill('Who are you?');
      await page.getByTestId('pair-send').click();
      await page.getByTestId('pair-pane-b').getByTestId('message-stats').filter({ hasText: 'tokens' }).waitFor();
    },
  },
  {
    id: 'games',
    prepare: async (page) => {
      await page.getByTestId('game-experiment').selectOption('high_frequency');
      await page.getByTestId('game-instances').fill('3');
      await page.getByTestId('game-run').click();
      await page.getByTestId('game-score-row').waitFor();
      await page.getByTestId('game-chart').evaluate((chart) => chart.scrollIntoView({ block: 'start' }));
    },
  },
  { id: 'local-models', prepare: (page) => page.getByTestId('local-model-row').first().waitFor() },
  { id: 'settings', prepare: (page) => page.getByTestId('app-info').waitFor() },
];

const models = mkdtempSync(join(tmpdir(), 'clemplay-screenshots-models-'));
copyFileSync(await ensureTestModel('tiny'), join(models, 'tinyllama-chat-q8_0.gguf'));
const app = await serveApp([], { CLEMPLAY_MODELS_DIRS: models });
const browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs });
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, colorScheme: theme });
  const page = await context.newPage();
  await page.goto(app.url);
  mkdirSync(out, { recursive: true });
  for (const { id, prepare } of pages) {
    await page.getByTestId(`nav-${id}`).click();
    await page.getByTestId(`page-${id}`).waitFor();
    await prepare?.(page);
    // The picture shows the app connected, as it normally is.
    await page.getByTestId('connection-state').and(page.locator('[data-state="connected"]')).waitFor();
    const path = join(out, `${id}.png`);
    await page.screenshot({ path });
    process.stdout.write(`wrote ${path}\n`);
  }
} finally {
  await browser.close();
  await app.stop();
}

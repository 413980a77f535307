/**
 * `npm run screenshots`: a picture of each page at 1400×900 for the README's tour, in docs/images/. Not part of
 * `npm test` (it changes tracked files); run it after a change to how pages look, and commit the pictures.
 * It serves the built app (run `npm run build` first) in a fresh home with one small test model, as a new user sees it.
 */
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Page } from '@playwright/test';
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
  { id: 'chat' },
  { id: 'pair' },
  { id: 'games' },
  { id: 'local-models', prepare: (page) => page.getByTestId('local-model-row').first().waitFor() },
  { id: 'settings', prepare: (page) => page.getByTestId('app-info').waitFor() },
];

const models = mkdtempSync(join(tmpdir(), 'clemplay-screenshots-models-'));
copyFileSync(await ensureTestModel('tiny'), join(models, 'tinyllama-chat-q8_0.gguf'));
const app = await serveApp([], { CLEMPLAY_MODELS_DIRS: models });
const browser = await chromium.launch({
  executablePath: process.env.CLEMPLAY_CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});
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

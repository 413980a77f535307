import { expect, test } from '@playwright/test';
import { serveApp, type ServedApp } from './web-host';

test.describe('Monaco editors in Chromium', () => {
  let app: ServedApp;
  test.beforeAll(async () => {
    app = await serveApp();
  });
  test.afterAll(async () => {
    await app.stop();
  });

  test('a registry entry, then the Playground: no page errors, completions on Ctrl+Space, hover docs', async ({
    page,
  }) => {
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    const requested: string[] = [];
    page.on('request', (request) => requested.push(new URL(request.url()).pathname));
    await page.goto(app.url);
    await expect(page.getByTestId('registry-row').first()).toBeVisible();
    // The first page does not fetch Monaco: it comes when an editor first opens.
    expect(requested.filter((path) => path.includes('Monaco'))).toEqual([]);
    await page.getByTestId('registry-row').first().click();
    // Monaco is fetched when the first editor opens: allow for a busy machine.
    await expect(page.getByTestId('registry-entry-editor').locator('.monaco-editor')).toBeVisible({ timeout: 20_000 });

    await page.getByTestId('nav-playground').click();
    const editor = page.getByTestId('playground-query');
    await editor.locator('.monaco-editor').click();
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.press('Backspace');
    await page.keyboard.insertText('{"model_name": "gpt-4o", "');
    await page.keyboard.press('Control+Space');
    const suggestions = page.locator('.monaco-editor .suggest-widget');
    await expect(suggestions).toBeVisible();
    await expect(suggestions).toContainText('backend');
    await page.keyboard.press('Escape');

    // Hovering a key shows its description from the registry schema.
    await editor.locator('.view-line span', { hasText: 'model_name' }).first().hover();
    await expect(page.locator('.monaco-hover:not(.hidden)')).toContainText('The name a query selects this entry by');
    expect(problems).toEqual([]);
    expect(requested.filter((path) => /MonacoSpecEditor-[\w-]+\.js$/.test(path))).toHaveLength(1);
  });
});

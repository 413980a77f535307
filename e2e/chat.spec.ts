import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { serveApp, type ServedApp } from './web-host';

// The Chat page as people use it: history, Markdown, the model picker, regenerate and edit, parameters.
const markdownReply = [
  '## Plan',
  '',
  '| step | what |',
  '| --- | --- |',
  '| 1 | parse |',
  '',
  '```js',
  'const answer = 42;',
  '```',
  '',
  'Raw HTML stays text: <script>window.pwned = true</script>',
].join('\n');

test.describe('Chat in Chromium', () => {
  let app: ServedApp;
  test.beforeAll(async () => {
    const folder = mkdtempSync(join(tmpdir(), 'clemplay-e2e-chat-'));
    const registry = join(folder, 'model_registry.json');
    writeFileSync(
      registry,
      JSON.stringify([
        { model_name: 'alpha', backend: 'programmatic', responses: ['alpha 1', 'alpha 2'] },
        { model_name: 'markdown-writer', backend: 'programmatic', responses: [markdownReply] },
        { model_name: 'mock', backend: 'programmatic', echo: true },
      ]),
    );
    app = await serveApp(['--registry', registry]);
  });
  test.afterAll(async () => {
    await app.stop();
  });

  async function startChat(page: Page, model: string, text: string): Promise<void> {
    await page.goto(app.url);
    await page.getByTestId('nav-chat').click();
    await page.getByTestId('chat-model').fill(model);
    await page.getByTestId('chat-input').fill(text);
    await page.getByTestId('chat-send').click();
    await expect(page.getByTestId('chat-send')).toBeVisible();
  }

  test('keeps chats in a sidebar across a reload, newest first', async ({ page }) => {
    await startChat(page, 'alpha', 'first chat');
    await expect(page.getByTestId('message-assistant').locator('.message-text')).toHaveText('alpha 1');
    await page.getByTestId('chat-new').click();
    await page.getByTestId('chat-input').fill('second chat');
    await page.getByTestId('chat-send').click();
    const items = page.getByTestId('chat-history-item');
    await expect(items.first()).toContainText('second chat');
    await page.reload();
    await expect(items.first()).toContainText('second chat');
    await expect(items.filter({ hasText: 'first chat' })).toHaveCount(1);
    await items
      .filter({ hasText: 'first chat' })
      .getByRole('button', { name: /first chat/ })
      .click();
    await expect(page.getByTestId('message-user')).toHaveText(/first chat/);
    await expect(page.getByTestId('message-assistant').locator('.message-text')).toHaveText('alpha 1');
    await page.getByTestId('chat-search').fill('second');
    await expect(items).toHaveCount(1);
  });

  test('renders Markdown tables and highlighted code with a copy button, and never runs HTML from a reply', async ({
    page,
  }) => {
    await startChat(page, 'markdown-writer', 'show me');
    const answer = page.getByTestId('message-assistant').getByTestId('message-markdown');
    await expect(answer.locator('h2')).toHaveText('Plan');
    await expect(answer.locator('table td').first()).toHaveText('1');
    await expect(answer.locator('pre code.hljs')).toContainText('const answer = 42;');
    await expect(answer.getByTestId('code-copy')).toBeVisible();
    await expect(answer).toContainText('<script>window.pwned = true</script>');
    expect(await page.evaluate('typeof window.pwned')).toBe('undefined');
    await expect(answer.locator('script')).toHaveCount(0);
  });

  test('picks a model from the registry with the keyboard', async ({ page }) => {
    await page.goto(app.url);
    await page.getByTestId('nav-chat').click();
    // The page's code arrives on its own (pages are split): the shortcut is there once the page is.
    await expect(page.getByTestId('chat-input')).toBeVisible();
    await page.keyboard.press('Control+K');
    await expect(page.getByTestId('chat-model')).toBeFocused();
    await page.keyboard.type('alp');
    await expect(page.getByTestId('model-option')).toHaveText([/alpha\s*programmatic/]);
    await page.keyboard.press('Enter');
    await expect(page.getByTestId('chat-model')).toHaveValue('alpha');
    await page.getByTestId('chat-input').fill('hi');
    await page.getByTestId('chat-send').click();
    await expect(page.getByTestId('chat-resolved')).toHaveText('alpha (programmatic)');
  });

  test('regenerates an answer and edits a message, keeping earlier versions', async ({ page }) => {
    await startChat(page, 'mock', 'one');
    const reply = page.getByTestId('message-assistant');
    await expect(reply.locator('.message-text')).toHaveText('one');
    await reply.getByTestId('message-regenerate').click();
    await expect(reply.getByTestId('message-version')).toHaveText('2/2');
    await page.getByTestId('message-user').getByTestId('message-edit').click();
    // A refused edit keeps the edit open with what was typed.
    await page.getByTestId('message-edit-input').fill('   ');
    await page.getByTestId('message-edit-send').click();
    await expect(page.getByTestId('chat-error')).toContainText('the message is empty');
    await expect(page.getByTestId('message-edit-input')).toHaveValue('   ');
    await page.getByTestId('message-edit-input').fill('changed');
    await page.getByTestId('message-edit-send').click();
    await expect(reply.locator('.message-text')).toHaveText('changed');
    await expect(page.getByTestId('message-user').getByTestId('message-version')).toHaveText('2/2');
    await page.getByTestId('message-user').getByRole('button', { name: 'Previous version' }).click();
    await expect(page.getByTestId('message-user')).toContainText('one');
    await expect(reply.locator('.message-text')).toHaveText('one');
  });

  test('sends the parameters panel with a new chat and keeps them with it', async ({ page }) => {
    await page.goto(app.url);
    await page.getByTestId('nav-chat').click();
    await page.getByTestId('chat-model').fill('mock');
    await page.getByTestId('chat-parameters-toggle').click();
    await page.getByTestId('chat-max-tokens').fill('2');
    await page.getByTestId('chat-input').fill('one two three four');
    await page.getByTestId('chat-send').click();
    await expect(page.getByTestId('message-assistant').locator('.message-text')).toHaveText('one two');
    await expect(page.getByTestId('message-stats')).toContainText('2 tokens');
    await page.reload();
    await page.getByTestId('chat-parameters-toggle').click();
    await expect(page.getByTestId('chat-max-tokens')).toHaveValue('2');
  });
});

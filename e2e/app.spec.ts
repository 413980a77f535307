import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { _electron, expect, test, type Page, type TestInfo } from '@playwright/test';
import { findElectronBinary } from '../scripts/electron-binary.mjs';
import { ensureTestModel } from '../scripts/test-models';
import { typeInEditor } from './monaco';
import { serveApp, type ServedApp } from './web-host';

const root = join(import.meta.dirname, '..');
const officialEntries = JSON.parse(readFileSync(join(root, 'registry', 'model_registry.json'), 'utf8')) as Array<{
  model_name: string;
  backend: string;
}>;
const pageIds = ['registry', 'playground', 'chat', 'pair', 'games', 'local-models', 'settings'];

async function seesRegistryRows(page: Page): Promise<void> {
  await page.getByTestId('nav-registry').click();
  const rows = page.getByTestId('registry-row');
  await expect(rows).toHaveCount(officialEntries.length);
  await expect(rows.first().getByTestId('registry-model-name')).toHaveText(officialEntries[0]!.model_name);
  await expect(rows.first().getByTestId('registry-backend')).toHaveText(officialEntries[0]!.backend);
  await expect(page.getByTestId('registry-model-name')).toContainText(officialEntries.map((entry) => entry.model_name));
}

async function visitsEveryPage(page: Page, testInfo: TestInfo, prefix: string): Promise<void> {
  for (const id of pageIds) {
    await page.getByTestId(`nav-${id}`).click();
    await expect(page.getByTestId(`page-${id}`)).toBeVisible();
    await expect(page.getByTestId(`nav-${id}`)).toHaveAttribute('aria-current', 'page');
    const path = testInfo.outputPath(`${prefix}-${id}.png`);
    await page.screenshot({ path });
    await testInfo.attach(`${prefix}-${id}`, { path, contentType: 'image/png' });
  }
}

async function ticksArriveAndStop(page: Page): Promise<void> {
  await page.getByTestId('nav-settings').click();
  await page.getByTestId('ticks-start').click();
  await expect(page.getByTestId('ticks-state')).toHaveText('running');
  await expect
    .poll(async () => Number(await page.getByTestId('ticks-count').textContent()), { timeout: 10_000 })
    .toBeGreaterThanOrEqual(3);
  await page.getByTestId('ticks-check').click();
  await expect(page.getByTestId('ticks-server')).toHaveText('checks running in clemplay: 1');
  await page.getByTestId('ticks-stop').click();
  await expect(page.getByTestId('ticks-state')).toHaveText('stopped');
  // Stopping must end the stream in main, not just hide it here.
  await expect(async () => {
    await page.getByTestId('ticks-check').click();
    await expect(page.getByTestId('ticks-server')).toHaveText('checks running in clemplay: 0', { timeout: 500 });
  }).toPass({ timeout: 5000 });
}

test.describe('web host in Chromium', () => {
  let app: ServedApp;
  test.beforeAll(async () => {
    app = await serveApp();
  });
  test.afterAll(async () => {
    await app.stop();
  });

  test('shows the official registry rows', async ({ page }) => {
    await page.goto(app.url);
    await seesRegistryRows(page);
    // The token left the address bar once the page had it.
    expect(page.url()).not.toContain('token=');
  });

  test('navigates every page', async ({ page }, testInfo) => {
    await page.goto(app.url);
    await visitsEveryPage(page, testInfo, 'web');
  });

  test('ticks arrive over the WebSocket and stop when unsubscribed', async ({ page }) => {
    await page.goto(app.url);
    await page.getByTestId('nav-settings').click();
    await expect(page.getByTestId('app-transport')).toHaveText('websocket');
    await ticksArriveAndStop(page);
  });

  test('the playground resolves a spec and shows why', async ({ page }, testInfo) => {
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    await page.goto(app.url);
    await page.getByTestId('nav-playground').click();
    await typeInEditor(page, 'playground-query', '{"model_name": "gpt-4o", "temperature": 0}');
    await page.getByTestId('playground-resolve').click();
    await expect(page.getByTestId('playground-spec')).toContainText('"backend": "openai"');
    await expect(page.getByTestId('playground-from-query')).toHaveText('model_name, temperature');
    await expect(page.getByTestId('playground-from-entry')).toContainText('backend');
    await expect(page.getByTestId('playground-verdict')).toHaveCount(officialEntries.length);
    await expect(page.locator('[data-testid="playground-verdict"].winner')).toContainText('"gpt-4o"');
    await page.screenshot({ path: testInfo.outputPath('playground.png'), fullPage: true });
    await typeInEditor(page, 'playground-query', '{"model_name": ');
    // Ctrl+Enter must resolve what is in the editor now (the editor binds its keys once, when it mounts).
    await page.keyboard.press('ControlOrMeta+Enter');
    await expect(page.getByTestId('playground-error')).toContainText('invalid-spec: invalid JSON at line 1');
    // Monaco and its JSON worker run under the strict CSP, from the app's own files.
    await expect(page.locator('.monaco-editor .squiggly-error')).not.toHaveCount(0);
    expect(problems).toEqual([]);
  });

  test('chats with a programmatic model, stops a reply, and answers as the human player', async ({
    page,
  }, testInfo) => {
    await page.goto(app.url);
    await page.getByTestId('nav-chat').click();
    await page.getByTestId('chat-model').fill('mock');
    await page.getByTestId('chat-input').fill('hello from the browser');
    await page.getByTestId('chat-send').click();
    await expect(page.getByTestId('message-assistant')).toContainText('hello from the browser');

    await page.getByTestId('chat-new').click();
    await page.getByTestId('chat-model').fill('{"model_name": "slow", "backend": "programmatic", "delay_ms": 200}');
    await page.getByTestId('chat-input').fill('one two three four five six seven eight nine ten');
    await page.getByTestId('chat-send').click();
    await expect(page.getByTestId('message-assistant')).toContainText('one');
    await page.getByTestId('chat-stop').click();
    await expect(page.getByTestId('message-assistant')).toContainText('(stopped)');
    // "(stopped)" shows once main ended the reply with `end: abort`: the last word never came.
    await expect(page.getByTestId('message-assistant').locator('.message-text')).not.toContainText('ten');

    await page.getByTestId('chat-new').click();
    await page.getByTestId('chat-model').fill('human');
    await page.getByTestId('chat-input').fill('your move?');
    await page.getByTestId('chat-send').click();
    await page.getByTestId('chat-human-answer').fill('e2e4');
    await page.getByTestId('chat-human-send').click();
    await expect(page.getByTestId('message-assistant').locator('.message-text')).toHaveText('e2e4');
    await page.screenshot({ path: testInfo.outputPath('chat.png'), fullPage: true });
  });

  test('stores an API key in Settings without ever showing it again', async ({ page }) => {
    const secret = 'sk-e2e-secret-0123456789-LAST';
    await page.goto(app.url);
    await page.getByTestId('nav-settings').click();
    await expect(page.getByTestId('key-status-openai')).toHaveText('not set');
    await page.getByTestId('key-input-openai').fill(secret);
    await page.getByTestId('key-save-openai').click();
    await expect(page.getByTestId('key-status-openai')).toHaveText(
      'set (…LAST), stored in a file readable only by you',
    );
    await expect(page.getByTestId('key-input-openai')).toHaveValue('');
    expect(await page.content()).not.toContain(secret);
    await page.reload();
    await page.getByTestId('nav-settings').click();
    await expect(page.getByTestId('key-status-openai')).toHaveText(
      'set (…LAST), stored in a file readable only by you',
    );
    expect(await page.content()).not.toContain(secret);
    // Clearing asks first; Cancel keeps the key.
    await page.getByTestId('key-clear-openai').click();
    await page.getByTestId('key-clear-confirm-cancel').click();
    await expect(page.getByTestId('key-status-openai')).toContainText('set (…LAST)');
    await page.getByTestId('key-clear-openai').click();
    await page.getByTestId('key-clear-confirm-confirm').click();
    await expect(page.getByTestId('key-status-openai')).toHaveText('not set');
  });

  test('trusts a server in Settings, lists it, and removes it again', async ({ page }) => {
    await page.goto(app.url);
    await page.getByTestId('nav-settings').click();
    await expect(page.getByTestId('trusted-origin')).toContainText(['http://127.0.0.1:8080', 'https://api.openai.com']);
    await page.getByTestId('trusted-origin-input').fill('ftp://nowhere');
    await page.getByTestId('trusted-origin-add').click();
    await expect(page.getByTestId('trusted-origin-error')).toContainText('http:// or https://');
    await page.getByTestId('trusted-origin-input').fill('https://GPU-box.lan:8443/v1');
    await page.getByTestId('trusted-origin-add').click();
    const added = page.getByTestId('trusted-origin-row').filter({ hasText: 'https://gpu-box.lan:8443' });
    await expect(added).toContainText('added by you');
    await page.reload();
    await page.getByTestId('nav-settings').click();
    await added.getByTestId('trusted-origin-remove').click();
    await expect(added).toHaveCount(0);
  });

  test('refuses the page without the token', async ({ request }) => {
    const withoutToken = app.url.replace(/\?token=.*$/, '');
    expect((await request.get(withoutToken)).status()).toBe(401);
    expect((await request.get(`${withoutToken}?token=wrong`)).status()).toBe(403);
  });
});

test.describe('registry editing in Chromium', () => {
  // A host of its own: these edits must not change what the other tests see.
  let app: ServedApp;
  test.beforeAll(async () => {
    app = await serveApp();
  });
  test.afterAll(async () => {
    await app.stop();
  });

  test('edits the registry: an override of an official entry, a new entry moved up, then deleted', async ({ page }) => {
    await page.goto(app.url);
    const names = page.getByTestId('registry-model-name');
    await page.getByTestId('registry-row').filter({ hasText: 'gpt-4o-mini' }).click();
    await expect(page.getByTestId('registry-editor')).toContainText('read-only: saving makes an override');
    await typeInEditor(
      page,
      'registry-entry-editor',
      '{"model_name": "gpt-4o-mini", "backend": "openai", "model_id": "gpt-4o-mini", "temperature": 0}',
    );
    await page.getByTestId('registry-save').click();
    await expect(page.getByTestId('registry-notice')).toHaveText('Saved as an override at the top of your registry.');
    await expect(names.first()).toHaveText('gpt-4o-mini');
    await expect(page.getByTestId('registry-row').first()).not.toContainText('official');

    await page.getByTestId('registry-new').click();
    await typeInEditor(page, 'registry-entry-editor', '{"model_name": "my-server", "backend": "openai_compatible"}');
    await page.getByTestId('registry-save').click();
    await expect(names.nth(1)).toHaveText('my-server');
    await page.getByTestId('registry-move-up').click();
    await expect(names.first()).toHaveText('my-server');
    await expect(names.nth(1)).toHaveText('gpt-4o-mini');
    // The first entry of its file cannot move up: the button says so instead of failing.
    await expect(page.getByTestId('registry-move-up')).toBeDisabled();
    await page.getByTestId('registry-delete').click();
    await page.getByTestId('registry-delete-confirm-confirm').click();
    await expect(names.first()).toHaveText('gpt-4o-mini');
    await expect(page.getByTestId('registry-row')).toHaveCount(officialEntries.length + 1);

    await page.getByTestId('registry-new').click();
    await typeInEditor(page, 'registry-entry-editor', '{"model_name": "no-backend"}');
    await page.getByTestId('registry-save').click();
    await expect(page.getByTestId('registry-edit-error')).toContainText('"backend" is missing');
  });
});

test.describe('local models in Chromium', () => {
  let app: ServedApp;
  test.beforeAll(async () => {
    const models = mkdtempSync(join(tmpdir(), 'clemplay-e2e-models-'));
    copyFileSync(await ensureTestModel('tiny'), join(models, 'tiny-chat.gguf'));
    app = await serveApp([], { CLEMPLAY_MODELS_DIRS: models });
  });
  test.afterAll(async () => {
    await app.stop();
  });

  test('lists a GGUF file, loads and unloads it, adds it to the registry and chats with it', async ({
    page,
  }, testInfo) => {
    await page.goto(app.url);
    await page.getByTestId('nav-local-models').click();
    const row = page.getByTestId('local-model-row');
    // The first list loads node-llama-cpp in the host: allow for a busy machine.
    await expect(row).toHaveCount(1, { timeout: 20_000 });
    await expect(row).toContainText('tiny-chat.gguf');
    await expect(row).toContainText('llama');
    await row.getByTestId('local-load').click();
    await page.getByTestId('local-load-start').click();
    await expect(page.getByTestId('local-loaded-state')).toHaveText('ready');
    await page.screenshot({ path: testInfo.outputPath('local-models.png'), fullPage: true });
    await page.getByTestId('local-unload').click();
    await expect(page.getByTestId('local-loaded-row')).toHaveCount(0);

    await row.getByTestId('local-add').click();
    await expect(page.getByTestId('local-message')).toContainText('Added "');
    const name = /Added "([^"]+)"/.exec((await page.getByTestId('local-message').textContent()) ?? '')?.[1];
    expect(name).toBeDefined();
    await page.getByTestId('nav-registry').click();
    await expect(page.getByTestId('registry-model-name').first()).toHaveText(name!);

    await page.getByTestId('nav-chat').click();
    await page.getByTestId('chat-model').fill(`{"model_name": "${name}", "max_tokens": 8}`);
    await page.getByTestId('chat-input').fill('hello');
    await page.getByTestId('chat-send').click();
    await expect(page.getByTestId('chat-send')).toBeVisible({ timeout: 30_000 });
    await expect(page.getByTestId('message-assistant').locator('.message-text')).not.toHaveText('');
    await expect(page.getByTestId('chat-error')).toHaveCount(0);
  });
});

test.describe('Electron app', () => {
  const binary = findElectronBinary();
  // The list reporter does not print skip reasons; say it where the person running the tests will see it.
  if (binary === null) console.log('Electron app: skipped: Electron binary not available');

  // Playwright requires the fixtures argument to be a destructuring pattern, even when no fixture is used.
  // eslint-disable-next-line no-empty-pattern
  test('shows the registry, every page and ticks over IPC', async ({}, testInfo) => {
    test.skip(binary === null, 'skipped: Electron binary not available');
    // A fresh home, as for the web host: the app's folders (and its single-instance lock) are never the user's.
    const home = mkdtempSync(join(tmpdir(), 'clemplay-e2e-electron-'));
    const electronApp = await _electron.launch({
      executablePath: binary!,
      args: [root],
      cwd: home,
      env: {
        ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.endsWith('_API_KEY'))),
        XDG_CONFIG_HOME: join(home, 'config'),
        XDG_DATA_HOME: join(home, 'data'),
        HOME: home,
      },
    });
    try {
      const page = await electronApp.firstWindow();
      await seesRegistryRows(page);
      await visitsEveryPage(page, testInfo, 'electron');
      await expect(page.getByTestId('app-transport')).toHaveText('ipc');
      await ticksArriveAndStop(page);
    } finally {
      await electronApp.close();
    }
  });
});
